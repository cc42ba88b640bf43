/* eSCL over IPP-USB without USB: the device selector, the IPP-USB interface
 * walk over a configuration built by hand, and the HTTP client's IPP-USB
 * stream over fake bulk pipes that deliver responses in awkward pieces (1
 * byte, 511, 512 and a zero-length packet, 16 KiB), break off, go quiet or
 * vanish. The libusb half runs in the VM test (docs/vm-e2e.md). */
#include <check.h>
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escl-client.h" /* driver/src */
#include "usb-select.h"  /* driver/src */

/* ---- the selector ---------------------------------------------------------------------- */

START_TEST(selector_forms)
{
    drv_open_options any;
    drv_usb_sel sel;
    char err[256];

    memset(&any, 0, sizeof(any));
    ck_assert_int_eq(drv_usb_sel_parse("escl+usb", "", &any, &sel, err, sizeof(err)), DRV_OK);
    ck_assert_int_eq(sel.id.match_id, 0);
    ck_assert_int_eq(sel.by_addr, 0);
    ck_assert_ptr_null(sel.serial);

    ck_assert_int_eq(drv_usb_sel_parse("escl+usb", "1209:0006", &any, &sel, err, sizeof(err)),
                     DRV_OK);
    ck_assert_int_eq(sel.id.match_id, 1);
    ck_assert_uint_eq(sel.id.vid, 0x1209);
    ck_assert_uint_eq(sel.id.pid, 0x0006);
    ck_assert_ptr_null(sel.serial);

    ck_assert_int_eq(drv_usb_sel_parse("escl+usb", "1209:00aB,serial=SCANEMU-ESCL1", &any, &sel,
                                       err, sizeof(err)),
                     DRV_OK);
    ck_assert_uint_eq(sel.id.pid, 0x00ab);
    ck_assert_str_eq(sel.serial, "SCANEMU-ESCL1");

    /* a serial with dots after a VID that starts with a digit is no BUS.DEV */
    ck_assert_int_eq(
        drv_usb_sel_parse("escl+usb", "04a9:1234,serial=AB.12", &any, &sel, err, sizeof(err)),
        DRV_OK);
    ck_assert_int_eq(sel.by_addr, 0);
    ck_assert_uint_eq(sel.id.vid, 0x04a9);
    ck_assert_str_eq(sel.serial, "AB.12");

    ck_assert_int_eq(drv_usb_sel_parse("escl+usb", "serial=X1", &any, &sel, err, sizeof(err)),
                     DRV_OK);
    ck_assert_int_eq(sel.id.match_id, 0);
    ck_assert_str_eq(sel.serial, "X1");

    ck_assert_int_eq(drv_usb_sel_parse("escl+usb", "3.17", &any, &sel, err, sizeof(err)), DRV_OK);
    ck_assert_int_eq(sel.by_addr, 1);
    ck_assert_uint_eq(sel.bus, 3);
    ck_assert_uint_eq(sel.addr, 17);
}
END_TEST

static const char *const bad_selectors[] = {
    "12:34", "1209:0006,", "1209:0006,foo=1", "serial=",   "0.1", "1.0", "1.128",
    "1.2.3", "256.1",      "1209:00061",      "x209:0006", "1.",  ".1",
};

START_TEST(selector_refused)
{
    drv_open_options any;
    drv_usb_sel sel;
    char err[256], want[64];

    memset(&any, 0, sizeof(any));
    err[0] = '\0';
    ck_assert_int_eq(drv_usb_sel_parse("escl+usb", bad_selectors[_i], &any, &sel, err, sizeof(err)),
                     DRV_E_URI);
    snprintf(want, sizeof(want), "bad escl+usb device 'escl+usb:%s'", bad_selectors[_i]);
    ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
    ck_assert_ptr_nonnull(strstr(err, "escl+usb:BUS.DEV"));
}
END_TEST

/* libusb: keeps its own default ID and message wording. */
START_TEST(selector_libusb_default)
{
    drv_open_options o;
    drv_usb_sel sel;
    char err[256];

    drv_open_options_init(&o);
    ck_assert_int_eq(drv_usb_sel_parse("libusb", "", &o, &sel, err, sizeof(err)), DRV_OK);
    ck_assert_int_eq(sel.id.match_id, 1);
    ck_assert_uint_eq(sel.id.pid, 0x0001);
    ck_assert_uint_eq(sel.id.pid_last, 0x000f);
    ck_assert_int_eq(drv_usb_sel_parse("libusb", "nope", &o, &sel, err, sizeof(err)), DRV_E_URI);
    ck_assert_str_eq(err, "bad libusb device 'libusb:nope' (expected libusb, libusb:VID:PID (hex), "
                          "libusb:VID:PID,serial=S, libusb:serial=S or libusb:BUS.DEV (decimal, "
                          "as lsusb prints them))");
}
END_TEST

/* ---- the IPP-USB interfaces of a configuration ---------------------------------------- */

static struct libusb_endpoint_descriptor ep(uint8_t addr, uint8_t type, uint16_t mps)
{
    struct libusb_endpoint_descriptor e;

    memset(&e, 0, sizeof(e));
    e.bLength = 7;
    e.bDescriptorType = LIBUSB_DT_ENDPOINT;
    e.bEndpointAddress = addr;
    e.bmAttributes = type;
    e.wMaxPacketSize = mps;
    return e;
}

static struct libusb_interface_descriptor alt(uint8_t num, uint8_t as, uint8_t cls, uint8_t sub,
                                              uint8_t proto,
                                              const struct libusb_endpoint_descriptor *eps,
                                              uint8_t neps)
{
    struct libusb_interface_descriptor d;

    memset(&d, 0, sizeof(d));
    d.bLength = 9;
    d.bDescriptorType = LIBUSB_DT_INTERFACE;
    d.bInterfaceNumber = num;
    d.bAlternateSetting = as;
    d.bInterfaceClass = cls;
    d.bInterfaceSubClass = sub;
    d.bInterfaceProtocol = proto;
    d.bNumEndpoints = neps;
    d.endpoint = eps;
    return d;
}

START_TEST(ippusb_interface_walk)
{
    /* 0: vendor (the MFP's scanner interface); 1: 7/1/2 at alt 0, 7/1/4 at
     * alt 1; 2: 7/1/4 without bulk OUT; 3: 7/1/4 with an interrupt IN
     * before its bulk pair; 4: 7/1/4 at alt 0 and again at alt 1. */
    struct libusb_endpoint_descriptor e0[] = {ep(0x01, 2, 512), ep(0x81, 2, 512), ep(0x82, 3, 16)};
    struct libusb_endpoint_descriptor e1a[] = {ep(0x03, 2, 512), ep(0x83, 2, 512)};
    struct libusb_endpoint_descriptor e1b[] = {ep(0x04, 2, 512), ep(0x84, 2, 512)};
    struct libusb_endpoint_descriptor e2[] = {ep(0x85, 2, 512)};
    struct libusb_endpoint_descriptor e3[] = {ep(0x86, 3, 8), ep(0x07, 2, 64), ep(0x87, 2, 64)};
    struct libusb_endpoint_descriptor e4[] = {ep(0x08, 2, 512), ep(0x88, 2, 512)};
    struct libusb_interface_descriptor a0[] = {alt(0, 0, 255, 0, 0, e0, 3)};
    struct libusb_interface_descriptor a1[] = {alt(1, 0, 7, 1, 2, e1a, 2),
                                               alt(1, 1, 7, 1, 4, e1b, 2)};
    struct libusb_interface_descriptor a2[] = {alt(2, 0, 7, 1, 4, e2, 1)};
    struct libusb_interface_descriptor a3[] = {alt(3, 0, 7, 1, 4, e3, 3)};
    struct libusb_interface_descriptor a4[] = {alt(4, 0, 7, 1, 4, e4, 2),
                                               alt(4, 1, 7, 1, 4, e1a, 2)};
    struct libusb_interface itf[] = {{a0, 1}, {a1, 2}, {a2, 1}, {a3, 1}, {a4, 2}};
    struct libusb_config_descriptor cfg;
    drv_ippusb_iface out[DRV_IPPUSB_MAX];

    memset(&cfg, 0, sizeof(cfg));
    cfg.bNumInterfaces = 5;
    cfg.bConfigurationValue = 1;
    cfg.interface = itf;
    ck_assert_uint_eq(drv_ippusb_ifaces(&cfg, out, DRV_IPPUSB_MAX), 3);
    ck_assert_uint_eq(out[0].number, 1);
    ck_assert_uint_eq(out[0].alt, 1);
    ck_assert_uint_eq(out[0].ep_out, 0x04);
    ck_assert_uint_eq(out[0].ep_in, 0x84);
    ck_assert_uint_eq(out[0].in_mps, 512);
    ck_assert_uint_eq(out[1].number, 3);
    ck_assert_uint_eq(out[1].ep_out, 0x07);
    ck_assert_uint_eq(out[1].ep_in, 0x87);
    ck_assert_uint_eq(out[1].in_mps, 64);
    ck_assert_uint_eq(out[2].number, 4);
    ck_assert_uint_eq(out[2].alt, 0);
    ck_assert_uint_eq(drv_ippusb_ifaces(&cfg, out, 1), 1);
    cfg.bNumInterfaces = 1;
    ck_assert_uint_eq(drv_ippusb_ifaces(&cfg, out, DRV_IPPUSB_MAX), 0);
    ck_assert_uint_eq(drv_ippusb_ifaces(NULL, out, DRV_IPPUSB_MAX), 0);
}
END_TEST

/* The parser's hint for pipe readers: what the framing says is left. */
START_TEST(framing_hint)
{
    proto_http_resp_parser *rp;
    proto_http_resp_limits lim;
    const uint8_t *data;
    size_t used, dlen;
    static const char cl[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab";

    memset(&lim, 0, sizeof(lim));
    ck_assert_int_eq(proto_http_resp_parser_new(&lim, &rp), PROTO_OK);
    ck_assert_uint_eq(proto_http_resp_known_left(rp), 0);
    for (size_t off = 0; off < sizeof(cl) - 1; off += used)
        ck_assert_int_ge(proto_http_resp_feed(rp, (const uint8_t *)cl + off, sizeof(cl) - 1 - off,
                                              &used, &data, &dlen),
                         0);
    ck_assert_uint_eq(proto_http_resp_known_left(rp), 7);
    proto_http_resp_parser_reset(rp);
    for (size_t off = 0; off < sizeof(ch) - 1; off += used)
        ck_assert_int_ge(proto_http_resp_feed(rp, (const uint8_t *)ch + off, sizeof(ch) - 1 - off,
                                              &used, &data, &dlen),
                         0);
    ck_assert_uint_eq(proto_http_resp_known_left(rp), 3 + 2); /* "cde" and its CRLF */
    proto_http_resp_parser_free(rp);
}
END_TEST

/* ---- fake bulk pipes ---------------------------------------------------------------------- */

#define FAKE_MAX_RSP 4

/* One interface of a fake device: answers each complete request (head,
 * plus Content-Length body) with the next scripted response, delivered one
 * "transfer" per read in the sizes of pattern (0: a zero-length packet),
 * cycled, each cut to the reader's capacity. */
typedef struct fake_if {
    char req[16384];
    size_t req_len;
    char last_req[16384];
    unsigned requests;
    const uint8_t *rsp[FAKE_MAX_RSP];
    size_t rsp_len[FAKE_MAX_RSP];
    unsigned nrsp, cur; /* scripted; the one being sent (cur - 1) */
    size_t off;         /* of the one being sent */
    int sending;
    const size_t *pattern;
    size_t npattern, pi;
    size_t fail_after; /* DRV_E_DISCONNECTED once this many bytes went (0: never) */
    size_t sent;
    unsigned resets, reads, zlps;
    unsigned hinted; /* reads with a framing hint */
} fake_if;

typedef struct fake_dev {
    fake_if itf[2];
} fake_dev;

static size_t content_length(const char *head)
{
    const char *p = strstr(head, "Content-Length: ");

    return p ? strtoul(p + 16, NULL, 10) : 0;
}

static int fake_write(void *ctx, unsigned i, const uint8_t *buf, size_t len, unsigned timeout_ms)
{
    fake_if *f = &((fake_dev *)ctx)->itf[i];
    char *end;

    (void)timeout_ms;
    ck_assert_uint_le(f->req_len + len, sizeof(f->req) - 1);
    ck_assert_msg(!f->sending, "a request while a response is still being sent");
    memcpy(f->req + f->req_len, buf, len);
    f->req_len += len;
    f->req[f->req_len] = '\0';
    end = strstr(f->req, "\r\n\r\n");
    if (end && f->req_len >= (size_t)(end + 4 - f->req) + content_length(f->req)) {
        memcpy(f->last_req, f->req, f->req_len + 1);
        f->req_len = 0;
        f->requests++;
        if (f->cur < f->nrsp) {
            f->cur++;
            f->off = 0;
            f->sending = 1;
        }
    }
    return DRV_OK;
}

static int fake_read(void *ctx, unsigned i, uint8_t *buf, size_t cap, size_t want, size_t *got,
                     unsigned wait_ms)
{
    fake_if *f = &((fake_dev *)ctx)->itf[i];
    size_t n, left;

    *got = 0;
    f->reads++;
    if (f->fail_after && f->sent >= f->fail_after)
        return DRV_E_DISCONNECTED;
    if (!f->sending) {
        struct timespec ts = {0, (long)(wait_ms < 5 ? wait_ms : 5) * 1000000L};

        nanosleep(&ts, NULL); /* nothing to send: the read waits */
        return DRV_OK;
    }
    n = f->npattern ? f->pattern[f->pi++ % f->npattern] : 512;
    left = f->rsp_len[f->cur - 1] - f->off;
    /* The framing's hint never claims more than the response has left. */
    ck_assert_uint_le(want, left);
    f->hinted += want > 0;
    if (n > left)
        n = left;
    if (n > cap)
        n = cap;
    if (f->fail_after && n > f->fail_after - f->sent)
        n = f->fail_after - f->sent;
    if (n == 0)
        f->zlps++;
    memcpy(buf, f->rsp[f->cur - 1] + f->off, n);
    f->off += n;
    f->sent += n;
    if (f->off == f->rsp_len[f->cur - 1])
        f->sending = 0;
    *got = n;
    return DRV_OK;
}

static int fake_reset(void *ctx, unsigned i)
{
    fake_if *f = &((fake_dev *)ctx)->itf[i];

    f->resets++;
    f->sending = 0;
    f->req_len = 0;
    return f->fail_after && f->sent >= f->fail_after ? DRV_E_DISCONNECTED : DRV_OK;
}

static const drv_ippusb_pipe_ops fake_ops = {
    .write = fake_write,
    .read = fake_read,
    .reset = fake_reset,
};

static void script(fake_if *f, const void *rsp, size_t len)
{
    ck_assert_uint_lt(f->nrsp, FAKE_MAX_RSP);
    f->rsp[f->nrsp] = rsp;
    f->rsp_len[f->nrsp] = len;
    f->nrsp++;
}

static drv_http_target tgt;
static drv_ippusb u;
static fake_dev dev;
static drv_http_client cli;

static void client_setup(void)
{
    memset(&dev, 0, sizeof(dev));
    memset(&tgt, 0, sizeof(tgt));
    snprintf(tgt.host, sizeof(tgt.host), "localhost");
    snprintf(tgt.hostport, sizeof(tgt.hostport), "localhost");
    snprintf(tgt.base, sizeof(tgt.base), "/eSCL");
    drv_ippusb_init(&u, &fake_ops, &dev, 2);
    memset(&cli, 0, sizeof(cli));
    cli.target = &tgt;
    cli.timeout_ms = 2000;
    cli.stream = &drv_http_ippusb_stream;
    cli.stream_ctx = &u;
}

/* A 200 with a body of n bytes (Content-Length) or chunked in pieces of
 * chunk bytes; malloc'd. */
static uint8_t *response(size_t n, size_t chunk, size_t *len)
{
    uint8_t *r = malloc(n * 2 + 4096), *p = r;

    ck_assert_ptr_nonnull(r);
    if (chunk == 0) {
        p += sprintf((char *)p,
                     "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     n);
        for (size_t i = 0; i < n; i++)
            *p++ = (uint8_t)(i * 7u + 3u);
    } else {
        p += sprintf((char *)p, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n");
        for (size_t i = 0; i < n;) {
            size_t c = n - i < chunk ? n - i : chunk;

            p += sprintf((char *)p, "%zx\r\n", c);
            for (size_t k = 0; k < c; k++, i++)
                *p++ = (uint8_t)(i * 7u + 3u);
            p += sprintf((char *)p, "\r\n");
        }
        p += sprintf((char *)p, "0\r\n\r\n");
    }
    *len = (size_t)(p - r);
    return r;
}

static void check_body(const drv_http_reply *r, size_t n)
{
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->body_len, n);
    for (size_t i = 0; i < n; i++)
        if (r->body[i] != (uint8_t)(i * 7u + 3u))
            ck_abort_msg("body byte %zu is %u", i, r->body[i]);
}

/* Packet patterns: sizes per bulk IN transfer, 0 a zero-length packet. */
static const size_t pat_1[] = {1};
static const size_t pat_511[] = {511};
static const size_t pat_512_zlp[] = {512, 0};
static const size_t pat_16k[] = {16384};
static const size_t pat_mixed[] = {0, 1, 511, 512, 0, 0, 1024, 3, 16384, 0, 7};
static const struct {
    const size_t *p;
    size_t n;
} patterns[] = {{pat_1, 1}, {pat_511, 1}, {pat_512_zlp, 2}, {pat_16k, 1}, {pat_mixed, 11}};
static const struct {
    size_t body, chunk;
} bodies[] = {{0, 0},     {1, 0},       {512, 0}, {4096 - 67, 0},
              {70000, 0}, {70000, 511}, {1, 1},   {3000, 1000}};

/* Every response shape in every packet pattern, two exchanges in a row on
 * the same interface: the framing alone ends each, and the second is not
 * disturbed by the first. */
START_TEST(odd_packets)
{
    size_t pi = (size_t)_i % (sizeof(patterns) / sizeof(patterns[0]));
    size_t bi = (size_t)_i / (sizeof(patterns) / sizeof(patterns[0]));
    uint8_t *rsp;
    size_t len;
    drv_http_reply r;

    client_setup();
    rsp = response(bodies[bi].body, bodies[bi].chunk, &len);
    dev.itf[0].pattern = patterns[pi].p;
    dev.itf[0].npattern = patterns[pi].n;
    script(&dev.itf[0], rsp, len);
    script(&dev.itf[0], rsp, len);
    cli.max_body = 1u << 20;
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(drv_http_exchange(&cli, "GET", "/eSCL/ScanJobs/1/NextDocument", NULL, NULL,
                                           0, &r, NULL, NULL),
                         DRV_OK);
        check_body(&r, bodies[bi].body);
        ck_assert_str_eq(r.content_type, "image/png");
        drv_http_reply_free(&r);
    }
    ck_assert_uint_eq(dev.itf[0].requests, 2);
    ck_assert_uint_eq(dev.itf[1].requests, 0);
    if (bodies[bi].body > 1 && patterns[pi].p != pat_16k) /* else: one read */
        ck_assert_uint_gt(dev.itf[0].hinted, 0);
    ck_assert_uint_eq(dev.itf[0].resets, 0);
    /* Persistent: no Connection: close; Host localhost. */
    ck_assert_ptr_null(strstr(dev.itf[0].last_req, "Connection:"));
    ck_assert_ptr_nonnull(strstr(dev.itf[0].last_req, "\r\nHost: localhost\r\n"));
    ck_assert_ptr_nonnull(
        strstr(dev.itf[0].last_req, "GET /eSCL/ScanJobs/1/NextDocument HTTP/1.1"));
    free(rsp);
}
END_TEST

/* A POST body arrives whole, after the head. */
START_TEST(post_body)
{
    static const char ok[] = "HTTP/1.1 201 Created\r\nLocation: /eSCL/ScanJobs/7\r\n"
                             "Content-Length: 0\r\n\r\n";
    static const char doc[] = "<scan:ScanSettings>...</scan:ScanSettings>";
    drv_http_reply r;

    client_setup();
    script(&dev.itf[0], ok, sizeof(ok) - 1);
    dev.itf[0].pattern = pat_1;
    dev.itf[0].npattern = 1;
    ck_assert_int_eq(drv_http_exchange(&cli, "POST", "/eSCL/ScanJobs", "text/xml", doc,
                                       sizeof(doc) - 1, &r, NULL, NULL),
                     DRV_OK);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(r.location, "/eSCL/ScanJobs/7");
    ck_assert_ptr_nonnull(strstr(dev.itf[0].last_req, "Content-Length: 42\r\n\r\n<scan:"));
    drv_http_reply_free(&r);
}
END_TEST

/* Bytes after the end of a response: the exchange succeeds, the interface
 * is started afresh before it carries the next request. */
START_TEST(trailing_bytes_reset)
{
    static const char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE";
    static const char b[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes";
    static const size_t whole[] = {16384};
    drv_http_reply r;

    client_setup();
    dev.itf[0].pattern = whole;
    dev.itf[0].npattern = 1;
    script(&dev.itf[0], a, sizeof(a) - 1);
    script(&dev.itf[0], b, sizeof(b) - 1);
    ck_assert_int_eq(drv_http_exchange(&cli, "GET", "/a", NULL, NULL, 0, &r, NULL, NULL), DRV_OK);
    ck_assert_str_eq((char *)r.body, "ok");
    drv_http_reply_free(&r);
    ck_assert_uint_eq(dev.itf[0].resets, 1);
    ck_assert_int_eq(drv_http_exchange(&cli, "GET", "/b", NULL, NULL, 0, &r, NULL, NULL), DRV_OK);
    ck_assert_str_eq((char *)r.body, "yes");
    drv_http_reply_free(&r);
}
END_TEST

/* A device that never answers: bounded by the timeout; the interface is
 * reset (a late answer must not be read as the next response's). */
START_TEST(silent_device_times_out)
{
    drv_http_reply r;
    uint64_t t0 = drv_now_ns(), ms;

    client_setup();
    cli.timeout_ms = 300;
    ck_assert_int_eq(
        drv_http_exchange(&cli, "GET", "/eSCL/ScannerStatus", NULL, NULL, 0, &r, NULL, NULL),
        DRV_E_TIMEOUT);
    ms = (drv_now_ns() - t0) / 1000000u;
    ck_assert_uint_ge(ms, 290);
    ck_assert_uint_lt(ms, 1500);
    ck_assert_ptr_nonnull(strstr(cli.err, "timed out waiting for the response of GET"));
    ck_assert_uint_eq(dev.itf[0].resets, 1);
    drv_http_reply_free(&r);
}
END_TEST

/* Zero-length packets only: "nothing yet", never an end of stream. */
START_TEST(zlps_are_not_eof)
{
    static const char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static const size_t zlp_then[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
    drv_http_reply r;

    client_setup();
    dev.itf[0].pattern = zlp_then;
    dev.itf[0].npattern = 11;
    script(&dev.itf[0], a, sizeof(a) - 1);
    ck_assert_int_eq(drv_http_exchange(&cli, "GET", "/a", NULL, NULL, 0, &r, NULL, NULL), DRV_OK);
    ck_assert_str_eq((char *)r.body, "ok");
    ck_assert_uint_ge(dev.itf[0].zlps, 10);
    drv_http_reply_free(&r);
}
END_TEST

static size_t sunk;

static int count_sink(void *ctx, const drv_http_reply *head, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)head;
    if (data)
        sunk += len;
    return DRV_OK;
}

/* The device goes away mid-body: DRV_E_DISCONNECTED after the bytes that
 * came; the next exchange fails at once (the reset fails too). */
START_TEST(unplug_mid_body)
{
    uint8_t *rsp;
    size_t len;
    drv_http_reply r;

    client_setup();
    rsp = response(100000, 4096, &len);
    script(&dev.itf[0], rsp, len);
    dev.itf[0].pattern = pat_16k;
    dev.itf[0].npattern = 1;
    dev.itf[0].fail_after = 40000;
    dev.itf[1].fail_after = 1; /* the whole device is gone */
    dev.itf[1].sent = 1;
    sunk = 0;
    ck_assert_int_eq(drv_http_exchange(&cli, "GET", "/eSCL/ScanJobs/1/NextDocument", NULL, NULL, 0,
                                       &r, count_sink, NULL),
                     DRV_E_DISCONNECTED);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_gt(sunk, 30000);
    ck_assert_uint_lt(sunk, 40000);
    ck_assert_ptr_nonnull(strstr(cli.err, "device disconnected"));
    drv_http_reply_free(&r);
    /* interface 0 is dirty and cannot be reset; interface 1 is taken, and
     * its reads fail */
    ck_assert_int_eq(
        drv_http_exchange(&cli, "GET", "/eSCL/ScannerStatus", NULL, NULL, 0, &r, NULL, NULL),
        DRV_E_DISCONNECTED);
    drv_http_reply_free(&r);
    free(rsp);
}
END_TEST

/* A response cut off by a line that is no chunk size (the emulator's mark
 * for an aborted page): DRV_E_PROTO, and the next exchange runs on a clean
 * interface. */
START_TEST(cut_page_then_status)
{
    static const char cut[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "4\r\nabcd\r\nscanemu: page aborted\r\n";
    static const char st[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nIdle";
    static const size_t small[] = {7};
    drv_http_reply r;

    client_setup();
    dev.itf[0].pattern = small;
    dev.itf[0].npattern = 1;
    dev.itf[1].pattern = small;
    dev.itf[1].npattern = 1;
    script(&dev.itf[0], cut, sizeof(cut) - 1);
    script(&dev.itf[0], st, sizeof(st) - 1);
    sunk = 0;
    ck_assert_int_eq(drv_http_exchange(&cli, "GET", "/p", NULL, NULL, 0, &r, count_sink, NULL),
                     DRV_E_PROTO);
    ck_assert_uint_eq(sunk, 4);
    ck_assert_uint_eq(dev.itf[0].resets, 1);
    drv_http_reply_free(&r);
    ck_assert_int_eq(drv_http_exchange(&cli, "GET", "/s", NULL, NULL, 0, &r, NULL, NULL), DRV_OK);
    ck_assert_str_eq((char *)r.body, "Idle");
    ck_assert_uint_eq(dev.itf[0].requests, 2);
    drv_http_reply_free(&r);
}
END_TEST

START_TEST(cancel_is_seen)
{
    static volatile sig_atomic_t stop = 1;
    drv_http_reply r;

    client_setup();
    cli.cancel = &stop;
    ck_assert_int_eq(drv_http_exchange(&cli, "GET", "/a", NULL, NULL, 0, &r, NULL, NULL),
                     DRV_E_CANCELLED);
    drv_http_reply_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("escl_usb");
    TCase *t = tcase_create("escl_usb");

    tcase_set_timeout(t, 60);
    tcase_add_test(t, selector_forms);
    tcase_add_loop_test(t, selector_refused, 0,
                        (int)(sizeof(bad_selectors) / sizeof(bad_selectors[0])));
    tcase_add_test(t, selector_libusb_default);
    tcase_add_test(t, ippusb_interface_walk);
    tcase_add_test(t, framing_hint);
    tcase_add_loop_test(
        t, odd_packets, 0,
        (int)((sizeof(patterns) / sizeof(patterns[0])) * (sizeof(bodies) / sizeof(bodies[0]))));
    tcase_add_test(t, post_body);
    tcase_add_test(t, trailing_bytes_reset);
    tcase_add_test(t, silent_device_times_out);
    tcase_add_test(t, zlps_are_not_eof);
    tcase_add_test(t, unplug_mid_body);
    tcase_add_test(t, cut_page_then_status);
    tcase_add_test(t, cancel_is_seen);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
