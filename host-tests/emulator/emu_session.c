/* emu_session PORT BUSID MAX_BANDS: one realistic client session against a
 * running scanemu, for the loopback tests (tshark capture, dm binding):
 * import, the Linux enumeration sequence, GET_CAPS, START_JOB, bands (CRC
 * checked) up to END_OF_JOB or MAX_BANDS, an unlink, then close.
 * Exits 0 on success, 1 with a one-line reason otherwise. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_client.h"
#include "protocol/scan.h"

static uint8_t buf[4u << 20];

/* One line on stderr; main's failure status. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;

    fputs("emu_session: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static int command(tc *c, uint16_t op, uint32_t tag)
{
    proto_scan_cmd cmd = {op, tag, 0};
    uint8_t out[PROTO_SCAN_CMD_HDR_SIZE];
    int n = proto_scan_cmd_encode(&cmd, out, sizeof out);
    if (n < 0)
        return -1;
    uint32_t seq = tc_submit(c, 1, PROTO_USBIP_DIR_OUT, 0, n, NULL, out);
    proto_usbip_urb_hdr h;
    size_t len;
    if (tc_recv(c, &h, buf, sizeof buf, &len) < 0 || h.seqnum != seq || h.u.ret_submit.status)
        return -1;
    return 0;
}

/* One bulk IN transfer into buf; returns its length or -1. */
static long bulk_in(tc *c, int32_t size)
{
    uint32_t seq = tc_submit(c, 1, PROTO_USBIP_DIR_IN, 0, size, NULL, NULL);
    proto_usbip_urb_hdr h;
    size_t len;
    if (tc_recv(c, &h, buf, sizeof buf, &len) < 0 || h.seqnum != seq || h.u.ret_submit.status)
        return -1;
    return (long)len;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return fail("usage: emu_session PORT BUSID MAX_BANDS");
    uint16_t port = (uint16_t)strtoul(argv[1], NULL, 10);
    long max_bands = strtol(argv[3], NULL, 10);
    static tc c;
    if (tc_import(&c, port, argv[2]) != 0)
        return fail("import of %s failed", argv[2]);
    size_t n;
    static const struct {
        uint8_t rt, rq;
        uint16_t v, i, l;
        int st;
    } enumr[] = {
        {0x80, 6, 0x0100, 0, 64, 0},
        {0x80, 6, 0x0100, 0, 18, 0},
        {0x80, 6, 0x0200, 0, 9, 0},
        {0x80, 6, 0x0200, 0, 255, 0},
        {0x80, 6, 0x0300, 0, 255, 0},
        {0x80, 6, 0x0302, 0x409, 255, 0},
        {0x80, 6, 0x0301, 0x409, 255, 0},
        {0x00, 9, 1, 0, 0, 0},
        {0x80, 6, 0x0600, 0, 10, 0},
        {0x80, 6, 0x0a00, 0, 4, -32},
        {0x80, 0, 0, 0, 2, 0},
        {0x01, 11, 0, 0, 0, 0},
        {0x02, 1, 0, 0x81, 0, 0},
    };
    for (size_t k = 0; k < sizeof enumr / sizeof enumr[0]; k++) {
        int st = tc_control(&c, enumr[k].rt, enumr[k].rq, enumr[k].v, enumr[k].i, enumr[k].l,
                            enumr[k].l, buf, &n);
        if (st != enumr[k].st)
            return fail("enumeration request %zu: status %d, expected %d", k, st, enumr[k].st);
    }
    if (command(&c, PROTO_SCAN_OP_GET_CAPS, 1) < 0)
        return fail("GET_CAPS not accepted");
    long len = bulk_in(&c, 1 << 16);
    proto_scan_rsp rsp;
    if (len < 0 || proto_scan_rsp_decode(buf, (size_t)len, &rsp) < 0 || rsp.status != 0)
        return fail("GET_CAPS response missing or not OK");
    if (command(&c, PROTO_SCAN_OP_START_JOB, 2) < 0)
        return fail("START_JOB not accepted");
    len = bulk_in(&c, 1 << 16);
    proto_scan_job job;
    if (len < 0 || proto_scan_rsp_decode(buf, (size_t)len, &rsp) < 0 || rsp.status != 0 ||
        proto_scan_job_decode(buf + PROTO_SCAN_RSP_HDR_SIZE, (size_t)len - PROTO_SCAN_RSP_HDR_SIZE,
                              &job) < 0)
        return fail("START_JOB response missing or not OK (status %u)", rsp.status);
    long bands = 0;
    for (;;) {
        len = bulk_in(&c, (int32_t)job.max_in_transfer);
        proto_scan_band b;
        if (len < 0 || proto_scan_band_decode(buf, (size_t)len, &b) < 0)
            return fail("band %ld missing or malformed", bands);
        if (b.byte_count != (size_t)len - PROTO_SCAN_BAND_HDR_SIZE ||
            proto_crc32(0, buf + PROTO_SCAN_BAND_HDR_SIZE, b.byte_count) != b.crc32)
            return fail("band %ld (page %u band %u): size or CRC mismatch", bands, b.page, b.band);
        if (b.flags & PROTO_SCAN_BAND_END_OF_JOB)
            break;
        if (++bands >= max_bands)
            break;
    }
    /* One pending IN URB to unlink; answer -104 (pending) or 0 (completed). */
    uint32_t s = tc_submit(&c, 2, PROTO_USBIP_DIR_IN, 0, 16, NULL, NULL);
    uint32_t u = tc_unlink(&c, s);
    for (;;) {
        proto_usbip_urb_hdr h;
        if (tc_recv(&c, &h, buf, sizeof buf, &n) < 0)
            return fail("no answer to CMD_UNLINK");
        if (h.command == PROTO_USBIP_RET_UNLINK && h.seqnum == u)
            break;
    }
    tc_close(&c);
    printf("emu_session: %ld bands ok\n", bands);
    return 0;
}
