/* wiascan: scan from a scanner (or the emulator) into a multipage TIFF.
 * Thin: parse the command line, call drv_scan_to_file (drv_scan_to_fd for
 * -o -), report. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drv/drv.h"
#include "scanemu/version.h"

static const char usage_text[] =
    "Usage: wiascan [OPTIONS] -o OUT.tiff\n"
    "Scan from a scanner speaking the scanemu protocol or eSCL (AirScan) into a\n"
    "multipage TIFF.\n"
    "\n"
    "  --transport URI     usbip://HOST:PORT/BUSID (userspace USB/IP, default\n"
    "                      usbip://127.0.0.1:3240/1-1), libusb[:VID:PID] (a device\n"
    "                      the kernel sees, default 1209:0001; libusb:VID:PID,serial=S\n"
    "                      or libusb:BUS.DEV pick one of several identical ones),\n"
    "                      escl+http://HOST:PORT/PATH (an eSCL scanner on the network,\n"
    "                      PATH usually /eSCL; pages come as PNG, else JPEG; --seed\n"
    "                      does not apply), or escl+usb[:VID:PID | :BUS.DEV]\n"
    "                      [,serial=S] (eSCL over IPP-USB through libusb: without a\n"
    "                      selector the one device with IPP-USB interfaces; stop\n"
    "                      ipp-usb first, it holds them)\n"
    "  --device-id VID:PID the device usbip must find at BUSID (default 1209:0001 to\n"
    "                      1209:000f, scanemu's profiles;\n"
    "                      'any' accepts any device with the scanner interface)\n"
    "  --source SRC        flatbed, adf (default) or duplex\n"
    "  --pages N           pages to scan; 0 = until the feeder is empty (default for\n"
    "                      adf/duplex; flatbed scans 1)\n"
    "  --mode MODE         bw, gray or color (default); also gray16, color48\n"
    "  --dpi N             resolution (default 300)\n"
    "  --size WxH          scan area in pixels (default: the whole source)\n"
    "  --compression C     none (default), g4 (bw only), lzw, deflate, jpeg (gray/color)\n"
    "  --seed N            page content seed sent to the device\n"
    "  --trace FILE.jsonl  write the host arrival time of every band\n"
    "  --in-flight N       bulk IN transfers in the ring, 1..64 (default 4);\n"
    "                      at least half of them, rounded down, stay queued\n"
    "  --no-write-behind   write each page before reading on (one page of memory\n"
    "                      instead of two; by default a thread writes page N while\n"
    "                      page N+1 arrives)\n"
    "  --timeout MS        longest wait for a response or a band (default 10000)\n"
    "  --warmup-max MS     longest total wait for lamp warm-up (default 60000)\n"
    "  -o, --output OUT    the TIFF to write (required); - for standard output\n"
    "  -v, --verbose       diagnostics and a summary, also on a pipe\n"
    "  -q, --quiet         no progress line or summary (errors are still printed)\n"
    "  -h, --help          this text\n"
    "  -V, --version       version\n"
    "\n"
    "Each option is given at most once (-v and -q exclude each other).\n"
    "\n"
    "Output (-o), checked before the scan starts:\n"
    "  a file      pages go to OUT.part beside it, renamed to OUT when the scan\n"
    "              ends; after a fault OUT holds exactly the pages completed\n"
    "              before it, and with no complete page no OUT is written. A\n"
    "              symbolic link is followed. A directory, a read-only OUT, or an\n"
    "              OUT.part another wiascan is writing is refused. If OUT cannot\n"
    "              be written in the end, the pages stay in OUT.part and the\n"
    "              message says so. A killed wiascan leaves OUT.part (a valid\n"
    "              TIFF of the pages completed by then); the next run into OUT\n"
    "              replaces it and says so.\n"
    "  -, a FIFO   a stream: the TIFF is built in an unlinked file in $TMPDIR\n"
    "              (/tmp) and copied out when the scan ends (nothing with no\n"
    "              page; a FIFO waits for its reader first). If the copy fails,\n"
    "              the TIFF is saved in $TMPDIR and named. A terminal is refused.\n"
    "  /dev/null   discard: every page is received, checked, encoded, dropped.\n"
    "  Other device nodes and sockets are refused, never replaced. --trace\n"
    "  takes a regular file, a FIFO or /dev/null, and not the output.\n"
    "\n"
    "Exit status:\n"
    "  0  success (S_OK, or WIA_STATUS_END_OF_MEDIA: the feeder ran empty after a page)\n"
    "  1  internal error (out of memory)\n"
    "  2  bad command line\n"
    "  3  cannot reach the scanner: unreachable, not USB/IP, unknown busid, wrong device\n"
    "  4  paper: WIA_ERROR_PAPER_JAM, _PAPER_EMPTY, _MULTI_FEED, _COVER_OPEN\n"
    "  5  WIA_ERROR_DEVICE_COMMUNICATION: stall, CRC/sequence/size error, timeout, unplug\n"
    "  6  cannot write the output or the trace\n"
    "  7  WIA_ERROR_BUSY or WIA_ERROR_WARMING_UP (eSCL: 503 beyond --warmup-max)\n"
    "  8  parameters the device does not support (E_INVALIDARG)\n"
    "  9  interrupted (SIGINT/SIGTERM: E_ABORT); completed pages are kept\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct cli {
    int verbose, quiet, tty;
    uint64_t last_progress_ns;
    int progress_shown;
} cli;

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("wiascan: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see wiascan --help)\n", stderr);
    exit(DRV_EXIT_USAGE);
}

/* Strict unsigned decimal: digits only, in [min, max]. */
static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    unsigned long long v;
    char *end;

    if (!s || !*s || strspn(s, "0123456789") != strlen(s))
        usage_error("%s: '%s' is not a number (expected %" PRIu64 "..%" PRIu64 ")", opt, s ? s : "",
                    min, max);
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        usage_error("%s: %s is out of range (expected %" PRIu64 "..%" PRIu64 ")", opt, s, min, max);
    return v;
}

static int parse_word(const char *opt, const char *s, const char *const *words, size_t n)
{
    size_t i;
    char list[160] = "";
    size_t off = 0;

    for (i = 0; i < n; i++) {
        if (strcmp(s, words[i]) == 0)
            return (int)i;
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", words[i]);
    }
    usage_error("%s: unknown value '%s' (expected %s)", opt, s, list);
}

static void parse_size(const char *s, uint32_t *w, uint32_t *h)
{
    const char *x = strchr(s, 'x');
    char buf[24];
    size_t n;

    if (!x || (n = (size_t)(x - s)) == 0 || n >= sizeof(buf))
        usage_error("--size: '%s' is not WIDTHxHEIGHT in pixels", s);
    memcpy(buf, s, n);
    buf[n] = '\0';
    *w = (uint32_t)parse_u64("--size width", buf, 1, 1000000);
    *h = (uint32_t)parse_u64("--size height", x + 1, 1, 1000000);
}

static void parse_id(const char *s, drv_open_options *o)
{
    unsigned v, p;
    int n = 0;

    if (strcmp(s, "any") == 0) {
        o->match_id = 0;
        return;
    }
    if (strspn(s, "0123456789abcdefABCDEF:") != strlen(s) ||
        sscanf(s, "%4x:%4x%n", &v, &p, &n) != 2 || s[n] != '\0')
        usage_error("--device-id: '%s' is not VID:PID in hex (e.g. 1209:0001) or 'any'", s);
    o->match_id = 1;
    o->vid = (uint16_t)v;
    o->pid = (uint16_t)p;
    o->pid_last = 0; /* exactly this one */
}

/* Options seen so far: every option is single-valued, so a second one is
 * refused, not silently last-wins. Repeating -v, -q or --no-write-behind
 * changes nothing and is allowed; -v with -q contradicts itself. */
#define OPT_SLOTS 300
typedef struct seen_opts {
    unsigned char seen[OPT_SLOTS];
    char first[OPT_SLOTS][48];
} seen_opts;

static void check_repeat(seen_opts *so, const struct option *longopts, int opt, const char *arg)
{
    char name[40];

    if (opt < 0 || opt >= OPT_SLOTS || opt == ':' || opt == '?' || opt == 'h' || opt == 'V')
        return;
    if ((opt == 'v' && so->seen['q']) || (opt == 'q' && so->seen['v']))
        usage_error("-v/--verbose and -q/--quiet exclude each other");
    if (so->seen[opt] && arg) {
        const struct option *lo = longopts;

        while (lo->name && lo->val != opt)
            lo++;
        if (opt < 128)
            snprintf(name, sizeof(name), "-%c/--%s", opt, lo->name ? lo->name : "?");
        else
            snprintf(name, sizeof(name), "--%s", lo->name ? lo->name : "?");
        usage_error("%s given twice ('%s', then '%s'); give it once", name, so->first[opt], arg);
    }
    so->seen[opt] = 1;
    if (arg)
        snprintf(so->first[opt], sizeof(so->first[opt]), "%s", arg);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_progress(void *ctx, const drv_progress *p)
{
    cli *c = ctx;
    uint64_t now = now_ns();
    double secs = (double)p->elapsed_ns / 1e9;
    double rate = secs > 0 ? (double)p->bytes / secs : 0;
    char eta[32] = "";

    if (!c->tty || c->quiet)
        return;
    if (c->progress_shown && now - c->last_progress_ns < 100000000u &&
        p->band + 1 != p->bands_per_page)
        return; /* at most ~10 updates a second; always show a page's end */
    c->last_progress_ns = now;
    c->progress_shown = 1;
    if (p->pages_total && rate > 0) {
        double total = (double)p->pages_total * (double)p->page_bytes;
        double left = total > (double)p->bytes ? (total - (double)p->bytes) / rate : 0;

        snprintf(eta, sizeof(eta), "  ETA %.0fs", left);
    }
    if (p->pages_total)
        fprintf(stderr, "\r\033[Kpage %u/%u  band %u/%u  %.1f MB/s%s", p->page + 1, p->pages_total,
                p->band + 1, p->bands_per_page, rate / 1e6, eta);
    else
        fprintf(stderr, "\r\033[Kpage %u  band %u/%u  %.1f MB/s", p->page + 1, p->band + 1,
                p->bands_per_page, rate / 1e6);
    fflush(stderr);
}

static void clear_progress(cli *c)
{
    if (c->progress_shown) {
        fputs("\r\033[K", stderr);
        c->progress_shown = 0;
    }
}

static void on_log(void *ctx, const char *line)
{
    cli *c = ctx;

    if (!c->verbose)
        return;
    clear_progress(c);
    fprintf(stderr, "wiascan: %s\n", line);
}

/* The last word: on failure exactly one line (what failed, and where the
 * completed pages are); on success a summary with -v or on a terminal, and
 * a note about a replaced stale OUT.part unless -q. */
static int report(const cli *c, const drv_scan_result *r, const char *out)
{
    char hrbuf[16], stale[PATH_MAX + 80] = "";
    const char *name = drv_hr_name(r->hr, hrbuf, sizeof(hrbuf));
    int code;

    if (r->err == DRV_E_URI) {
        fprintf(stderr, "wiascan: --transport: %s (see wiascan --help)\n", r->message);
        return DRV_EXIT_USAGE;
    }
    if (r->stale_part)
        snprintf(stale, sizeof(stale),
                 "%s.part, left by an earlier run that did not finish, was replaced", out);
    code = drv_exit_code(r->hr);
    if (code != DRV_EXIT_OK) {
        fprintf(stderr, "wiascan: %s (%s); ", name, r->message);
        if (r->pages_kept && r->output_kind == DRV_OUTPUT_DISCARD)
            fprintf(stderr, "%u page%s scanned and discarded", r->pages_kept,
                    r->pages_kept == 1 ? "" : "s");
        else if (r->pages_kept)
            fprintf(stderr, "%u page%s kept in %s", r->pages_kept, r->pages_kept == 1 ? "" : "s",
                    r->kept_path[0] ? r->kept_path : out);
        else
            fprintf(stderr, "no pages kept, %s not written", out);
        fprintf(stderr, "%s%s\n", stale[0] ? "; " : "", stale);
        return code;
    }
    if (stale[0] && !c->quiet)
        fprintf(stderr, "wiascan: note: %s\n", stale);
    if (c->verbose || (c->tty && !c->quiet)) {
        double secs = (double)r->elapsed_ns / 1e9;

        fprintf(stderr, "wiascan: %s: %u page%s (%ux%u px, %u bpp, %u dpi), %.1f MB in %.2f s",
                name, r->pages_kept, r->pages_kept == 1 ? "" : "s", r->job.width_px,
                r->job.height_px, r->job.bits_per_pixel, r->job.dpi, (double)r->bytes / 1e6, secs);
        if (secs > 0)
            fprintf(stderr, " (%.1f MB/s)", (double)r->bytes / 1e6 / secs);
        if (r->output_kind == DRV_OUTPUT_DISCARD)
            fprintf(stderr, ", discarded (%s)\n", out);
        else
            fprintf(stderr, " -> %s\n", out);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const sources[] = {"flatbed", "adf", "duplex"};
    static const char *const modes[] = {"bw", "gray", "color", "gray16", "color48"};
    static const char *const comps[] = {"none", "g4", "lzw", "deflate", "jpeg"};
    static const int comp_values[] = {DRV_COMPRESSION_NONE, DRV_COMPRESSION_G4, DRV_COMPRESSION_LZW,
                                      DRV_COMPRESSION_DEFLATE, DRV_COMPRESSION_JPEG};
    enum {
        OPT_TRANSPORT = 256,
        OPT_SOURCE,
        OPT_PAGES,
        OPT_MODE,
        OPT_DPI,
        OPT_COMPRESSION,
        OPT_SEED,
        OPT_TRACE,
        OPT_IN_FLIGHT,
        OPT_TIMEOUT,
        OPT_SIZE,
        OPT_DEVICE_ID,
        OPT_WARMUP_MAX,
        OPT_NO_WRITE_BEHIND,
    };
    _Static_assert(OPT_NO_WRITE_BEHIND < OPT_SLOTS, "every option has a slot in seen_opts");
    static const struct option longopts[] = {
        {"transport", required_argument, NULL, OPT_TRANSPORT},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"pages", required_argument, NULL, OPT_PAGES},
        {"mode", required_argument, NULL, OPT_MODE},
        {"dpi", required_argument, NULL, OPT_DPI},
        {"compression", required_argument, NULL, OPT_COMPRESSION},
        {"seed", required_argument, NULL, OPT_SEED},
        {"trace", required_argument, NULL, OPT_TRACE},
        {"in-flight", required_argument, NULL, OPT_IN_FLIGHT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"size", required_argument, NULL, OPT_SIZE},
        {"device-id", required_argument, NULL, OPT_DEVICE_ID},
        {"warmup-max", required_argument, NULL, OPT_WARMUP_MAX},
        {"no-write-behind", no_argument, NULL, OPT_NO_WRITE_BEHIND},
        {"output", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    drv_scan_options o;
    drv_scan_result r;
    cli c = {0};
    seen_opts seen;
    const char *out = NULL;
    int pages_given = 0, opt;

    drv_scan_options_init(&o);
    memset(&seen, 0, sizeof(seen));
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:vqhV", longopts, NULL)) != -1) {
        check_repeat(&seen, longopts, opt, optarg);
        switch (opt) {
        case OPT_TRANSPORT:
            o.transport = optarg;
            break;
        case OPT_SOURCE:
            o.source = (uint8_t)parse_word("--source", optarg, sources, 3);
            break;
        case OPT_PAGES:
            o.pages = (uint32_t)parse_u64("--pages", optarg, 0, 100000);
            pages_given = 1;
            break;
        case OPT_MODE:
            o.mode = (uint8_t)parse_word("--mode", optarg, modes, 5);
            break;
        case OPT_DPI:
            o.dpi = (uint16_t)parse_u64("--dpi", optarg, 1, 65535);
            break;
        case OPT_COMPRESSION:
            o.compression = comp_values[parse_word("--compression", optarg, comps, 5)];
            break;
        case OPT_SEED:
            o.seed = parse_u64("--seed", optarg, 0, UINT64_MAX);
            o.has_seed = 1;
            break;
        case OPT_TRACE:
            o.trace_path = optarg;
            break;
        case OPT_IN_FLIGHT:
            o.in_flight = (unsigned)parse_u64("--in-flight", optarg, 1, DRV_MAX_IN_FLIGHT);
            break;
        case OPT_TIMEOUT:
            o.timeout_ms = (unsigned)parse_u64("--timeout", optarg, 1, 3600000);
            o.open.timeout_ms = o.timeout_ms < 5000 ? o.timeout_ms : 5000;
            break;
        case OPT_WARMUP_MAX:
            o.warmup_max_ms = (unsigned)parse_u64("--warmup-max", optarg, 0, 3600000);
            break;
        case OPT_NO_WRITE_BEHIND:
            o.write_behind = 0;
            break;
        case OPT_SIZE:
            parse_size(optarg, &o.width_px, &o.height_px);
            break;
        case OPT_DEVICE_ID:
            parse_id(optarg, &o.open);
            break;
        case 'o':
            if (!*optarg)
                usage_error("-o: empty file name");
            out = optarg;
            break;
        case 'v':
            c.verbose = 1;
            break;
        case 'q':
            c.quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case 'V':
            printf("wiascan (scanemu) %s\n", SCANEMU_VERSION);
            return 0;
        case ':':
            usage_error("%s needs a value", argv[optind - 1]);
        default:
            if (optopt)
                usage_error("unknown option -%c", optopt);
            usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (!out)
        usage_error("no output file: give -o OUT.tiff");
    if (!pages_given && o.source == PROTO_SCAN_SOURCE_FLATBED)
        o.pages = 1;
    if (o.compression == DRV_COMPRESSION_G4 && o.mode != PROTO_SCAN_MODE_BW)
        usage_error("--compression g4 needs --mode bw");
    if (o.compression == DRV_COMPRESSION_JPEG && o.mode != PROTO_SCAN_MODE_GRAY8 &&
        o.mode != PROTO_SCAN_MODE_COLOR24)
        usage_error("--compression jpeg needs --mode gray or color");
    if (o.source == PROTO_SCAN_SOURCE_FLATBED && o.pages > 1)
        usage_error("--source flatbed scans one page (got --pages %u)", o.pages);

    {
        /* First Ctrl-C: abort the job cleanly and keep the finished pages;
         * a second one kills (SA_RESETHAND). No SA_RESTART: waits wake up. */
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        /* A reader that goes away is a write error to report (and the
         * scan is saved), not a silent death. */
        sa.sa_handler = SIG_IGN;
        sa.sa_flags = 0;
        sigaction(SIGPIPE, &sa, NULL);
        o.cancel = &interrupted;
    }
    c.tty = isatty(STDERR_FILENO);
    o.progress = on_progress;
    o.progress_ctx = &c;
    o.log = on_log;
    o.log_ctx = &c;
    if (strcmp(out, "-") == 0) {
        out = "standard output";
        drv_scan_to_fd(&o, STDOUT_FILENO, out, &r);
    } else {
        drv_scan_to_file(&o, out, &r);
    }
    clear_progress(&c);
    return report(&c, &r, out);
}
