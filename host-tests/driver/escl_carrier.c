/* The test carrier of escl_carrier.h. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drvtest.h"
#include "escl_carrier.h"

#define IN_MAX 65536

static uint64_t now_of(drvtest_escl *e)
{
    return dm_clock_now(&e->clk.base);
}

/* Carry one connection until the front closes or resets it, the peer
 * goes away, or the carrier stops. */
static void carry(drvtest_escl *e, int fd)
{
    dm_escl_conn *c;
    uint8_t *in = malloc(IN_MAX);
    size_t in_len = 0;
    int eof = 0, reset = 0;

    ck_assert_ptr_nonnull(in);
    if (dm_escl_conn_open(e->escl, &c) != DM_OK) {
        close(fd);
        free(in);
        return;
    }
    while (!e->stop) {
        uint64_t now = now_of(e);
        dm_escl_out o;
        int wait_ms = 50;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};

        dm_escl_poll(e->escl, now);
        if (in_len > 0) {
            int took = dm_escl_conn_input(c, in, in_len, now);

            if (took > 0) {
                memmove(in, in + took, in_len - (size_t)took);
                in_len -= (size_t)took;
            } else if (took < 0) {
                in_len = 0;
            }
        }
        dm_escl_conn_peek(c, now, &o);
        if (o.kind == DM_ESCL_OUT_DATA) {
            ssize_t n = send(fd, o.data, o.len, MSG_NOSIGNAL | MSG_DONTWAIT);

            if (n > 0) {
                dm_escl_conn_sent(c, (size_t)n, now_of(e));
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                break; /* the peer went away */
            pfd.events = POLLOUT;
        } else if (o.kind == DM_ESCL_OUT_CLOSE) {
            break;
        } else if (o.kind == DM_ESCL_OUT_RESET) {
            reset = 1;
            break;
        } else if (o.kind == DM_ESCL_OUT_WAIT && o.deadline_ns != UINT64_MAX) {
            uint64_t ms = o.deadline_ns > now ? (o.deadline_ns - now + 999999u) / 1000000u : 0;
            if (ms < (uint64_t)wait_ms)
                wait_ms = (int)ms;
        } else if (o.kind == DM_ESCL_OUT_IDLE && eof) {
            break;
        }
        if (eof && pfd.events == POLLIN) {
            poll(NULL, 0, wait_ms);
            continue;
        }
        if (poll(&pfd, 1, wait_ms) > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) &&
            pfd.events == POLLIN) {
            ssize_t n = in_len < IN_MAX ? recv(fd, in + in_len, IN_MAX - in_len, MSG_DONTWAIT) : 0;

            if (n > 0) {
                in_len += (size_t)n;
            } else if (n == 0 && in_len < IN_MAX) {
                eof = 1;
                dm_escl_conn_input_eof(c, now_of(e));
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                break;
            }
        }
    }
    dm_escl_conn_free(c);
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    } else {
        shutdown(fd, SHUT_WR);
    }
    close(fd);
    free(in);
}

static void *carrier_main(void *arg)
{
    drvtest_escl *e = arg;

    while (!e->stop) {
        struct pollfd pfd = {.fd = e->lfd, .events = POLLIN};
        int fd;

        dm_escl_poll(e->escl, now_of(e));
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        fd = accept(e->lfd, NULL, NULL);
        if (fd >= 0)
            carry(e, fd);
    }
    return NULL;
}

void drvtest_escl_start(drvtest_escl *e, const char *profile, const char *scenario, uint64_t seed,
                        int timing)
{
    char path[1024], err[512] = "";
    dm_engine_config cfg;
    dm_escl_config ec;
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int one = 1;

    memset(e, 0, sizeof(*e));
    dm_clock_real_init(&e->clk);
    if (profile)
        ck_assert_msg(dm_profile_load_file(drvtest_fixture(path, sizeof(path), "profiles", profile),
                                           &e->prof, err, sizeof(err)) == DM_OK,
                      "%s", err);
    else
        ck_assert_int_eq(dm_profile_load_default(&e->prof, err, sizeof(err)), DM_OK);
    if (scenario)
        ck_assert_msg(
            dm_scenario_load_file(drvtest_fixture(path, sizeof(path), "scenarios", scenario),
                                  &e->scen, err, sizeof(err)) == DM_OK,
            "%s", err);
    dm_device_config_init(&cfg);
    cfg.profile = e->prof;
    cfg.scenario = e->scen;
    cfg.seed = seed;
    cfg.timing = timing;
    cfg.clock = &e->clk.base;
    ck_assert_int_eq(dm_engine_create(&cfg, &e->eng), DM_OK);
    dm_escl_config_init(&ec);
    ec.engine = e->eng;
    ck_assert_int_eq(dm_escl_create(&ec, &e->escl), DM_OK);

    e->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(e->lfd, 0);
    setsockopt(e->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(e->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(e->lfd, 16), 0);
    ck_assert_int_eq(getsockname(e->lfd, (struct sockaddr *)&a, &al), 0);
    e->port = ntohs(a.sin_port);
    snprintf(e->uri, sizeof(e->uri), "escl+http://127.0.0.1:%u/eSCL", e->port);
    ck_assert_int_eq(pthread_create(&e->th, NULL, carrier_main, e), 0);
}

void drvtest_escl_stop(drvtest_escl *e)
{
    if (e->escl == NULL)
        return;
    e->stop = 1;
    pthread_join(e->th, NULL);
    close(e->lfd);
    dm_escl_free(e->escl);
    dm_engine_free(e->eng);
    dm_scenario_free(e->scen);
    dm_profile_free(e->prof);
    e->escl = NULL;
}

proto_scan_job drvtest_escl_job(drvtest_escl *e, uint8_t source, uint8_t mode, uint16_t dpi)
{
    proto_scan_params p;
    proto_scan_job j;

    memset(&p, 0, sizeof(p));
    p.source = source;
    p.mode = mode;
    p.dpi = dpi;
    ck_assert_int_eq(dm_engine_resolve(e->eng, &p, &j), DM_OK);
    return j;
}

static void *emu_main(void *arg)
{
    emu_server_run(arg);
    return NULL;
}

void drvtest_emu_start_escl(drvtest_emu *e, const char *profile, const char *scenario,
                            uint64_t seed, int timing, char *escl_uri, size_t len)
{
    emu_options o;
    char err[256] = "";

    memset(e, 0, sizeof(*e));
    emu_options_init(&o);
    o.listen_host = "127.0.0.1";
    o.listen_port = 0;
    o.seed = seed;
    o.timing = timing;
    o.log_level = EMU_LOG_ERROR;
    o.escl_listen = 1;
    o.escl_port = 0;
    if (profile) {
        e->profiles[0] = drvtest_fixture(e->profile, sizeof(e->profile), "profiles", profile);
        o.profile_paths = e->profiles;
        o.n_devices = 1;
    }
    if (scenario)
        o.scenario_path = drvtest_fixture(e->scenario, sizeof(e->scenario), "scenarios", scenario);
    ck_assert_msg(emu_server_create(&o, &e->srv, err, sizeof(err)) == 0, "emulator: %s", err);
    e->port = emu_server_port(e->srv);
    snprintf(e->uri, sizeof(e->uri), "usbip://127.0.0.1:%u/1-1", e->port);
    ck_assert_uint_ne(emu_server_escl_port(e->srv), 0);
    snprintf(escl_uri, len, "escl+http://127.0.0.1:%u/eSCL", emu_server_escl_port(e->srv));
    ck_assert_int_eq(pthread_create(&e->thread, NULL, emu_main, e->srv), 0);
}
