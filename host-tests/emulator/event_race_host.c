/* event_race_host PORT BUSID PAGES [DRAIN_MS]: a minimal native-protocol
 * driver for timing bug 3 (docs/timing-bugs.md), standing in for a driver
 * that stops reading the interrupt endpoint once a job has ended.
 *
 * It imports BUSID, configures the device, asks for PAGES pages at 75 dpi
 * gray, keeps one interrupt IN transfer and 4 bulk IN transfers queued, and
 * reads the bands to END_OF_JOB, printing every event it sees. Then, with
 * DRAIN_MS 0 (the buggy driver, the default), it closes at once; with
 * DRAIN_MS > 0 (the fixed one) it first waits up to DRAIN_MS for the
 * interrupt transfer still queued. Prints one summary line,
 * "event_race_host: P pages, END_OF_JOB status S, E event(s) seen", and
 * exits 0, or 1 with a reason. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_client.h"
#include "protocol/scan.h"

#define IN_FLIGHT 4

static uint8_t buf[4u << 20];

/* One line on stderr; main's failure status. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;

    fputs("event_race_host: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* One command with its payload, and its response (status returned, the
 * payload left in buf after the header), or -1. */
static int command(tc *c, uint16_t op, uint32_t tag, const uint8_t *pl, uint32_t plen, size_t *rlen)
{
    uint8_t out[PROTO_SCAN_CMD_HDR_SIZE + 64];
    proto_scan_cmd cmd = {op, tag, plen};
    proto_usbip_urb_hdr h;
    proto_scan_rsp rsp;
    size_t len;

    if (plen > 64 || proto_scan_cmd_encode(&cmd, out, sizeof out) < 0)
        return -1;
    if (plen > 0)
        memcpy(out + PROTO_SCAN_CMD_HDR_SIZE, pl, plen);
    uint32_t seq = tc_submit(c, 1, PROTO_USBIP_DIR_OUT, 0,
                             (int32_t)(PROTO_SCAN_CMD_HDR_SIZE + plen), NULL, out);
    if (tc_recv(c, &h, buf, sizeof buf, &len) < 0 || h.seqnum != seq || h.u.ret_submit.status)
        return -1;
    seq = tc_submit(c, 1, PROTO_USBIP_DIR_IN, 0, 1 << 16, NULL, NULL);
    if (tc_recv(c, &h, buf, sizeof buf, &len) < 0 || h.seqnum != seq || h.u.ret_submit.status ||
        proto_scan_rsp_decode(buf, len, &rsp) < 0)
        return -1;
    *rlen = len;
    return (int)rsp.status;
}

static int print_event(const uint8_t *data, size_t len)
{
    proto_scan_event e;

    if (proto_scan_event_decode(data, len, &e) < 0)
        return -1;
    printf("event_race_host: event %u (page %u, arg %u)\n", e.code, e.page + 1, e.arg);
    return 0;
}

int main(int argc, char **argv)
{
    static tc c;
    uint8_t pl[64];
    proto_scan_params p;
    proto_scan_job job;
    proto_usbip_urb_hdr h;
    size_t n;
    uint32_t evt_seq, pages = 0, eoj_status = 0;
    unsigned events = 0, drain_ms = 0;
    int st, evt_pending = 1;

    if (argc != 4 && argc != 5)
        return fail("usage: event_race_host PORT BUSID PAGES [DRAIN_MS]");
    uint16_t port = (uint16_t)strtoul(argv[1], NULL, 10);
    if (argc == 5)
        drain_ms = (unsigned)strtoul(argv[4], NULL, 10);
    if (tc_import(&c, port, argv[2]) != 0)
        return fail("import of %s failed", argv[2]);
    if (tc_control(&c, 0x00, 9, 1, 0, 0, 0, buf, &n) != 0)
        return fail("SET_CONFIGURATION(1) refused");

    memset(&p, 0, sizeof p);
    p.source = PROTO_SCAN_SOURCE_ADF;
    p.mode = PROTO_SCAN_MODE_GRAY8;
    p.dpi = 75;
    p.pages = (uint32_t)strtoul(argv[3], NULL, 10);
    int plen = proto_scan_params_encode(&p, pl, sizeof pl);
    if (plen < 0 || command(&c, PROTO_SCAN_OP_SET_PARAMS, 1, pl, (uint32_t)plen, &n) != 0)
        return fail("SET_PARAMS refused");
    st = command(&c, PROTO_SCAN_OP_START_JOB, 2, NULL, 0, &n);
    if (st != 0 ||
        proto_scan_job_decode(buf + PROTO_SCAN_RSP_HDR_SIZE, n - PROTO_SCAN_RSP_HDR_SIZE, &job) < 0)
        return fail("START_JOB refused (status %d)", st);

    /* The interrupt endpoint and the band ring, queued for the whole job. */
    evt_seq = tc_submit(&c, 2, PROTO_USBIP_DIR_IN, 0, PROTO_SCAN_EVENT_SIZE, NULL, NULL);
    for (int i = 0; i < IN_FLIGHT; i++)
        tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, (int32_t)job.max_in_transfer, NULL, NULL);
    for (;;) {
        proto_scan_band b;
        if (tc_recv(&c, &h, buf, sizeof buf, &n) < 0)
            return fail("no END_OF_JOB");
        if (h.seqnum == evt_seq) {
            if (print_event(buf, n) < 0)
                return fail("malformed event");
            events++;
            evt_seq = tc_submit(&c, 2, PROTO_USBIP_DIR_IN, 0, PROTO_SCAN_EVENT_SIZE, NULL, NULL);
            continue;
        }
        if (h.u.ret_submit.status != 0 || proto_scan_band_decode(buf, n, &b) < 0)
            return fail("bad band transfer (status %d)", h.u.ret_submit.status);
        if (b.flags & PROTO_SCAN_BAND_END_OF_JOB) {
            eoj_status = b.status;
            break;
        }
        if (b.flags & PROTO_SCAN_BAND_END_OF_PAGE)
            pages++;
        tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, (int32_t)job.max_in_transfer, NULL, NULL);
    }
    /* The job is over. The buggy driver closes now; the fixed one reads the
     * interrupt transfer it still has queued first. */
    while (drain_ms > 0 && evt_pending) {
        int q = tc_quiet(c.fd, (int)drain_ms);
        if (q != 0)
            break; /* nothing more within DRAIN_MS, or closed */
        if (tc_recv(&c, &h, buf, sizeof buf, &n) < 0)
            break;
        if (h.seqnum == evt_seq && h.command == PROTO_USBIP_RET_SUBMIT) {
            if (print_event(buf, n) < 0)
                return fail("malformed event");
            events++;
            evt_pending = 0;
        }
    }
    tc_close(&c);
    printf("event_race_host: %u pages, END_OF_JOB status %u, %u event%s seen\n", pages, eoj_status,
           events, events == 1 ? "" : "s");
    return 0;
}
