/* scanemu: the command line (scanemu(1), docs/emulator.md) around the emulator library. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_client.h"
#include "emu/emu.h"
#include "fixture_path.h"
#include "scanemu/version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: scanemu [--listen HOST:PORT] [--scenario SCENARIO] [--seed N]\n"
            "               [--device PROFILE [--scenario SCENARIO] [--seed N]\n"
            "                                 [--usb-id VID:PID] [--serial S]]...\n"
            "               [--trace FILE.jsonl] [--control SOCKET]\n"
            "               [--no-timing] [--realtime[=PRIO]] [--slice-us N]\n"
            "               [--late-tolerance-us T] [--strict-timing]\n"
            "               [--port-file FILE] [-v|-q]\n"
            "               [--escl-listen HOST:PORT [--escl-port-file FILE] [--png-level N]]\n"
            "               [--help] [--version]\n"
            "\n"
            "Exports virtual USB scanners over USB/IP (the protocol of Linux usbipd).\n"
            "  --listen HOST:PORT  listen address (default 127.0.0.1:3240; port 0 = any free\n"
            "                      port). USB/IP has no authentication: keep it on loopback.\n"
            "  --device PROFILE    one exported device per flag, busids 1-1, 1-2, ... in order;\n"
            "                      without --device, one built-in default scanner\n"
            "  --scenario SCENARIO fault scenario: before any --device, every device's default\n"
            "                      (default: clean, 10 sheets); after a --device, that\n"
            "                      device's own\n"
            "  --seed N            seed for page content, jitter and faults (default 1); before\n"
            "                      any --device every device's, after a --device that device's\n"
            "  --usb-id VID:PID    after a --device: export it with this USB ID (hex) instead\n"
            "                      of its profile's\n"
            "  --serial S          after a --device: its serial string (default: the\n"
            "                      profile's, with -BUSID appended when an earlier device\n"
            "                      has it)\n"
            "  --trace FILE        device-side JSON Lines trace, one record per band\n"
            "  --control SOCKET    live control on a Unix socket (mode 0600): see\n"
            "                      scanemu ctl --help and docs/control.md\n"
            "  --no-timing         release bands as fast as possible (benchmarks)\n"
            "  --realtime[=PRIO]   device threads at SCHED_FIFO priority PRIO (1-99, default\n"
            "                      10) with 1 ns timer slack; needs CAP_SYS_NICE or\n"
            "                      RLIMIT_RTPRIO, else one warning and normal priority\n"
            "  --slice-us N        scheduler slice the device threads ask for, 100-100000 us\n"
            "                      (default 100; 0 = the kernel's): on Linux >= 6.12 a device\n"
            "                      thread woken for a band then preempts host processes\n"
            "  --late-tolerance-us T\n"
            "                      a band more than T us late counts as beyond tolerance in\n"
            "                      the timing line each job ends with (default 5000; 0-60000000)\n"
            "  --strict-timing     a job late beyond T by the emulator's own doing is\n"
            "                      reported NOT FAITHFUL, and scanemu then exits with status 4\n"
            "  --port-file FILE    write the bound port to FILE once listening\n"
            "  --escl-listen HOST:PORT\n"
            "                      every device also serves eSCL (AirScan) over HTTP: the\n"
            "                      first at http://HOST:PORT/eSCL, each at\n"
            "                      http://HOST:PORT/BUSID/eSCL (port 0 = any free port;\n"
            "                      no authentication: keep it on loopback). docs/escl.md\n"
            "  --escl-port-file FILE  write the bound eSCL port to FILE once listening\n"
            "  --png-level N       zlib level of eSCL PNG pages, 0-9 (default 1)\n"
            "  -v, --verbose       more log output (repeat for debug)\n"
            "  -q, --quiet         warnings and errors only\n"
            "PROFILE and SCENARIO are paths (with a '/' or ending in .yaml) or the names of\n"
            "shipped fixtures (--device default, --scenario jam-page3-band5), found in\n"
            "$SCANEMU_DATADIR, then in share/scanemu beside the installed executable.\n"
            "Options that take one value may be given once (--scenario and --seed once\n"
            "before the first --device and once after each --device); -q and -v exclude\n"
            "each other.\n"
            "scanemu ctl SOCKET COMMAND ... talks to a running scanemu (scanemu ctl --help).\n"
            "Exit status: 0 stopped by SIGINT/SIGTERM; 1 could not start, or a fatal error;\n"
            "2 bad command line; 3 stopped, but the trace could not be written completely.\n");
}

/* Single-value options: a second occurrence is an error, not last-wins. */
enum once_opt {
    ONCE_LISTEN,
    ONCE_TRACE,
    ONCE_PORT_FILE,
    ONCE_REALTIME,
    ONCE_SLICE,
    ONCE_X_SLOTS,
    ONCE_X_DEADLINE,
    ONCE_ESCL_LISTEN,
    ONCE_ESCL_PORT_FILE,
    ONCE_PNG_LEVEL,
    ONCE_LATE_TOL,
    ONCE_CONTROL,
    ONCE_COUNT,
};

typedef struct once_tab {
    int seen[ONCE_COUNT];
    const char *val[ONCE_COUNT]; /* NULL: given without a value */
} once_tab;

static void given_twice(const char *name, const char *where, const char *first, const char *second)
{
    if (first && second)
        fprintf(stderr, "scanemu: %s given twice%s (\"%s\", then \"%s\"); give it once\n", name,
                where, first, second);
    else
        fprintf(stderr, "scanemu: %s given twice%s; give it once\n", name, where);
}

static int once(once_tab *t, enum once_opt o, const char *name, const char *val)
{
    if (t->seen[o]) {
        given_twice(name, "", t->val[o], val);
        return -1;
    }
    t->seen[o] = 1;
    t->val[o] = val;
    return 0;
}

/* Strict unsigned parse: digits only, whole string, no overflow, <= max. */
static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* HOST:PORT, HOST may be [v6addr]. host is written into hostbuf. */
static int parse_listen(const char *arg, char *hostbuf, size_t hostlen, uint16_t *port)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return -1;
    size_t hlen = (size_t)(colon - arg);
    const char *h = arg;
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']')
            return -1;
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= hostlen)
        return -1;
    memcpy(hostbuf, h, hlen);
    hostbuf[hlen] = 0;
    unsigned long long p;
    if (parse_u64(colon + 1, 65535, &p) < 0)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

static int write_port_file(const char *path, uint16_t port)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

typedef struct sigctx {
    emu_server *srv;
    sigset_t set;
} sigctx;

/* SIGINT/SIGTERM are blocked in every thread and collected here, so no
 * handler and no global are needed. SIGUSR1 just ends this thread. */
static void *signal_thread(void *arg)
{
    sigctx *sc = arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&sc->set, &sig) != 0)
            continue;
        if (sig == SIGUSR1)
            return NULL;
        emu_server_stop(sc->srv);
    }
}

/* Start-up and the serving loop, once the command line is parsed. Returns
 * scanemu's exit status. */
static int serve(const emu_options *opts, const char *port_file, const char *escl_port_file)
{
    /* Start-up (fixtures, the trace, the listening socket) runs with
     * SIGINT and SIGTERM at their default action, even if the parent left
     * them ignored: a fixture or trace path that blocks (a FIFO, a hung
     * network file system) must not make scanemu unstoppable, and nothing
     * has been served yet that a clean stop would save. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    emu_server *srv;
    if (emu_server_create(opts, &srv, err, sizeof err) < 0) {
        fprintf(stderr, "scanemu: %s\n", err);
        return 1;
    }
    /* From here on SIGINT/SIGTERM stop the server cleanly: blocked in every
     * thread (the device threads inherit the mask) and taken by sigwait. */
    sigctx sc;
    sigemptyset(&sc.set);
    sigaddset(&sc.set, SIGINT);
    sigaddset(&sc.set, SIGTERM);
    sigaddset(&sc.set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
    if (port_file && write_port_file(port_file, emu_server_port(srv)) < 0) {
        fprintf(stderr, "scanemu: cannot write port file %s: %s\n", port_file, strerror(errno));
        emu_server_free(srv);
        return 1;
    }
    if (escl_port_file && write_port_file(escl_port_file, emu_server_escl_port(srv)) < 0) {
        fprintf(stderr, "scanemu: cannot write port file %s: %s\n", escl_port_file,
                strerror(errno));
        emu_server_free(srv);
        return 1;
    }
    sc.srv = srv;
    pthread_t st;
    if (pthread_create(&st, NULL, signal_thread, &sc) != 0) {
        fprintf(stderr, "scanemu: cannot start the signal thread\n");
        emu_server_free(srv);
        return 1;
    }
    int rc = emu_server_run(srv);
    pthread_kill(st, SIGUSR1);
    pthread_join(st, NULL);
    emu_server_free(srv);
    return rc == EMU_E_TRACE ? 3 : rc == EMU_E_TIMING ? 4 : rc < 0 ? 1 : 0;
}

/* "VID:PID", four hex digits each. */
static int parse_usb_id(const char *s, uint16_t *vid, uint16_t *pid)
{
    unsigned v, p;
    int n = 0;

    if (strlen(s) != 9 || s[4] != ':' || strspn(s, "0123456789abcdefABCDEF:") != 9 ||
        sscanf(s, "%4x:%4x%n", &v, &p, &n) != 2 || n != 9)
        return -1;
    *vid = (uint16_t)v;
    *pid = (uint16_t)p;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
        return scanemu_ctl_main(argc - 1, argv + 1);
    enum {
        OPT_NO_TIMING = 256,
        OPT_PORT_FILE,
        OPT_VERSION,
        OPT_REALTIME,
        OPT_SLICE,
        OPT_X_OP_SLOTS,
        OPT_X_OP_DEADLINE,
        OPT_ESCL_LISTEN,
        OPT_ESCL_PORT_FILE,
        OPT_PNG_LEVEL,
        OPT_LATE_TOL,
        OPT_STRICT_TIMING,
        OPT_CONTROL,
        OPT_USB_ID,
        OPT_SERIAL,
    };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"device", required_argument, NULL, 'd'},
        {"scenario", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'},
        {"trace", required_argument, NULL, 't'},
        {"no-timing", no_argument, NULL, OPT_NO_TIMING},
        {"port-file", required_argument, NULL, OPT_PORT_FILE},
        {"realtime", optional_argument, NULL, OPT_REALTIME},
        {"slice-us", required_argument, NULL, OPT_SLICE},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"escl-listen", required_argument, NULL, OPT_ESCL_LISTEN},
        {"escl-port-file", required_argument, NULL, OPT_ESCL_PORT_FILE},
        {"png-level", required_argument, NULL, OPT_PNG_LEVEL},
        {"late-tolerance-us", required_argument, NULL, OPT_LATE_TOL},
        {"strict-timing", no_argument, NULL, OPT_STRICT_TIMING},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"usb-id", required_argument, NULL, OPT_USB_ID},
        {"serial", required_argument, NULL, OPT_SERIAL},
        /* Internal, for tests (docs/emulator.md, "Connection slots"). */
        {"x-op-slots", required_argument, NULL, OPT_X_OP_SLOTS},
        {"x-op-deadline-ms", required_argument, NULL, OPT_X_OP_DEADLINE},
        {NULL, 0, NULL, 0},
    };
    emu_options opts;
    emu_options_init(&opts);
    const char *devices[EMU_MAX_DEVICES];
    emu_device_opts dev_opts[EMU_MAX_DEVICES];
    const char *seed_arg[EMU_MAX_DEVICES + 1] = {NULL}; /* [0]: the default, [i]: device i */
    size_t ndev = 0;
    char host[256], escl_host[256];
    const char *port_file = NULL, *escl_port_file = NULL;
    int verbosity = 0, quiet = 0;
    once_tab once_seen = {{0}, {NULL}};
    memset(dev_opts, 0, sizeof dev_opts);
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":vqh", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_ESCL_LISTEN:
            if (once(&once_seen, ONCE_ESCL_LISTEN, "--escl-listen", optarg) < 0)
                return 2;
            if (parse_listen(optarg, escl_host, sizeof escl_host, &opts.escl_port) < 0) {
                fprintf(stderr,
                        "scanemu: --escl-listen: expected HOST:PORT with PORT 0-65535, got "
                        "\"%s\"\n",
                        optarg);
                return 2;
            }
            opts.escl_listen = 1;
            opts.escl_host = escl_host;
            break;
        case OPT_ESCL_PORT_FILE:
            if (once(&once_seen, ONCE_ESCL_PORT_FILE, "--escl-port-file", optarg) < 0)
                return 2;
            escl_port_file = optarg;
            break;
        case OPT_PNG_LEVEL: {
            char *end;
            long v;
            if (once(&once_seen, ONCE_PNG_LEVEL, "--png-level", optarg) < 0)
                return 2;
            v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 0 || v > 9) {
                fprintf(stderr, "scanemu: --png-level: expected 0-9, got \"%s\"\n", optarg);
                return 2;
            }
            opts.png_level = (int)v;
            break;
        }
        case OPT_CONTROL:
            if (once(&once_seen, ONCE_CONTROL, "--control", optarg) < 0)
                return 2;
            opts.control_path = optarg;
            break;
        case OPT_USB_ID:
        case OPT_SERIAL: {
            const char *name = opt == OPT_USB_ID ? "--usb-id" : "--serial";
            if (ndev == 0) {
                fprintf(stderr, "scanemu: %s belongs after a --device\n", name);
                return 2;
            }
            emu_device_opts *d = &dev_opts[ndev - 1];
            if (opt == OPT_USB_ID ? d->usb_id_set : d->serial != NULL) {
                char where[96];
                snprintf(where, sizeof where, " for --device %zu (busid 1-%zu)", ndev, ndev);
                given_twice(name, where, NULL, NULL);
                return 2;
            }
            if (opt == OPT_USB_ID) {
                if (parse_usb_id(optarg, &d->vid, &d->pid) < 0) {
                    fprintf(stderr,
                            "scanemu: --usb-id: expected VID:PID in hex (e.g. 1209:0002), got "
                            "\"%s\"\n",
                            optarg);
                    return 2;
                }
                d->usb_id_set = 1;
            } else {
                size_t len = strlen(optarg);
                int printable = len > 0 && len <= 126;
                for (const char *c = optarg; printable && *c; c++)
                    printable = (unsigned char)*c >= 0x20 && *c != 0x7f;
                if (!printable) {
                    fprintf(stderr,
                            "scanemu: --serial: expected 1-126 printable characters, got "
                            "\"%s\"\n",
                            optarg);
                    return 2;
                }
                d->serial = optarg;
            }
            break;
        }
        case 'l':
            if (once(&once_seen, ONCE_LISTEN, "--listen", optarg) < 0)
                return 2;
            if (parse_listen(optarg, host, sizeof host, &opts.listen_port) < 0) {
                fprintf(stderr,
                        "scanemu: --listen: expected HOST:PORT with PORT 0-65535, got "
                        "\"%s\"\n",
                        optarg);
                return 2;
            }
            opts.listen_host = host;
            break;
        case 'd':
            if (ndev >= EMU_MAX_DEVICES) {
                fprintf(stderr, "scanemu: --device: at most %d devices\n", EMU_MAX_DEVICES);
                return 2;
            }
            devices[ndev++] = optarg;
            break;
        case 's': {
            /* Before any --device: every device's default; after one: its own. */
            const char **slot = ndev ? &dev_opts[ndev - 1].scenario_path : &opts.scenario_path;
            if (*slot) {
                char where[96];
                if (ndev)
                    snprintf(where, sizeof where, " for --device %zu (busid 1-%zu)", ndev, ndev);
                else
                    snprintf(where, sizeof where, " before the first --device");
                given_twice("--scenario", where, *slot, optarg);
                return 2;
            }
            *slot = optarg;
            break;
        }
        case 'S': {
            unsigned long long v;
            if (parse_u64(optarg, ULLONG_MAX, &v) < 0) {
                fprintf(stderr, "scanemu: --seed: expected an unsigned integer, got \"%s\"\n",
                        optarg);
                return 2;
            }
            if (seed_arg[ndev]) {
                char where[96];
                if (ndev)
                    snprintf(where, sizeof where, " for --device %zu (busid 1-%zu)", ndev, ndev);
                else
                    snprintf(where, sizeof where, " before the first --device");
                given_twice("--seed", where, seed_arg[ndev], optarg);
                return 2;
            }
            seed_arg[ndev] = optarg;
            if (ndev) {
                dev_opts[ndev - 1].seed_set = 1;
                dev_opts[ndev - 1].seed = v;
            } else {
                opts.seed = v;
            }
            break;
        }
        case 't':
            if (once(&once_seen, ONCE_TRACE, "--trace", optarg) < 0)
                return 2;
            opts.trace_path = optarg;
            break;
        case OPT_NO_TIMING:
            opts.timing = 0;
            break;
        case OPT_LATE_TOL: {
            if (once(&once_seen, ONCE_LATE_TOL, "--late-tolerance-us", optarg) < 0)
                return 2;
            unsigned long long v;
            if (parse_u64(optarg, 60000000ull, &v) < 0) {
                fprintf(stderr,
                        "scanemu: --late-tolerance-us: expected 0-60000000 microseconds, got "
                        "\"%s\"\n",
                        optarg);
                return 2;
            }
            opts.late_tolerance_us = v;
            break;
        }
        case OPT_STRICT_TIMING:
            opts.strict_timing = 1;
            break;
        case OPT_PORT_FILE:
            if (once(&once_seen, ONCE_PORT_FILE, "--port-file", optarg) < 0)
                return 2;
            port_file = optarg;
            break;
        case OPT_REALTIME: {
            if (once(&once_seen, ONCE_REALTIME, "--realtime", optarg) < 0)
                return 2;
            unsigned long long v = 10;
            if (optarg && (parse_u64(optarg, 99, &v) < 0 || v < 1)) {
                fprintf(stderr, "scanemu: --realtime: expected a priority 1-99, got \"%s\"\n",
                        optarg);
                return 2;
            }
            opts.realtime_prio = (int)v;
            break;
        }
        case OPT_SLICE: {
            if (once(&once_seen, ONCE_SLICE, "--slice-us", optarg) < 0)
                return 2;
            unsigned long long v;
            if (parse_u64(optarg, 100000, &v) < 0 || (v != 0 && v < 100)) {
                fprintf(stderr,
                        "scanemu: --slice-us: expected 0 or 100-100000 microseconds, got \"%s\"\n",
                        optarg);
                return 2;
            }
            opts.slice_us = (unsigned)v;
            break;
        }
        case OPT_X_OP_SLOTS:
        case OPT_X_OP_DEADLINE: {
            int slots = opt == OPT_X_OP_SLOTS;
            if (once(&once_seen, slots ? ONCE_X_SLOTS : ONCE_X_DEADLINE,
                     slots ? "--x-op-slots" : "--x-op-deadline-ms", optarg) < 0)
                return 2;
            unsigned long long v;
            if (parse_u64(optarg, slots ? 1024 : 3600000, &v) < 0 || v < 1) {
                fprintf(stderr, "scanemu: --%s: expected 1-%u, got \"%s\"\n",
                        slots ? "x-op-slots" : "x-op-deadline-ms", slots ? 1024u : 3600000u,
                        optarg);
                return 2;
            }
            if (slots)
                opts.op_slots = (unsigned)v;
            else
                opts.op_deadline_ms = (unsigned)v;
            break;
        }
        case 'v':
        case 'q':
            if (opt == 'v' ? quiet : verbosity > 0) {
                fprintf(stderr, "scanemu: -q and -v contradict each other; give one of them\n");
                return 2;
            }
            if (opt == 'v')
                verbosity++;
            else
                quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("scanemu " SCANEMU_VERSION "\n");
            return 0;
        case ':':
            fprintf(stderr, "scanemu: option %s needs an argument (see --help)\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "scanemu: unknown option %s (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "scanemu: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 2;
    }
    if ((escl_port_file || once_seen.seen[ONCE_PNG_LEVEL]) && !opts.escl_listen) {
        fprintf(stderr, "scanemu: %s needs --escl-listen\n",
                escl_port_file ? "--escl-port-file" : "--png-level");
        return 2;
    }
    opts.log_level = quiet ? EMU_LOG_WARN : verbosity == 0 ? EMU_LOG_INFO : EMU_LOG_DEBUG;
    opts.profile_paths = devices;
    opts.n_devices = ndev;
    opts.device_opts = ndev ? dev_opts : NULL;

    /* Fixture names become paths (fixture_path.h); each resolved string
     * replaces its argument until main returns. */
    struct fixture_arg {
        const char **slot;
        emu_fixture_kind kind;
    } fx[2 * EMU_MAX_DEVICES + 1];
    char *resolved[2 * EMU_MAX_DEVICES + 1];
    size_t nfx = 0, nres = 0;
    int rc = 1;
    if (opts.scenario_path)
        fx[nfx++] = (struct fixture_arg){&opts.scenario_path, EMU_FIXTURE_SCENARIO};
    for (size_t i = 0; i < ndev; i++) {
        fx[nfx++] = (struct fixture_arg){&devices[i], EMU_FIXTURE_PROFILE};
        if (dev_opts[i].scenario_path)
            fx[nfx++] = (struct fixture_arg){&dev_opts[i].scenario_path, EMU_FIXTURE_SCENARIO};
    }
    for (size_t i = 0; i < nfx; i++) {
        char err[1536];
        char *path = emu_fixture_resolve(fx[i].kind, *fx[i].slot, err, sizeof err);
        if (!path) {
            fprintf(stderr, "scanemu: %s: %s\n",
                    fx[i].kind == EMU_FIXTURE_PROFILE ? "--device" : "--scenario", err);
            goto out_free_resolved;
        }
        resolved[nres++] = path;
        *fx[i].slot = path;
    }
    rc = serve(&opts, port_file, escl_port_file);
out_free_resolved:
    for (size_t i = 0; i < nres; i++)
        free(resolved[i]);
    return rc;
}
