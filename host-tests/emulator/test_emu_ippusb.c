/* IPP-USB: the interfaces a profile's `protocols:` makes (descriptors, the
 * class-specific 0x21 descriptor, OP_REP_DEVLIST/IMPORT records) and the
 * carrier of the eSCL front over their bulk pipes, driven by the emulator's
 * own USB/IP client (emu_client.c) against the shipped profiles on the real
 * device model. docs/escl.md, "eSCL over USB". */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu/emu.h"
#include "emu_client.h"
#include "protocol/scan.h"
#include "protocol/usb.h"

static emu_server *srv;
static pthread_t srv_thread;
static uint16_t port, escl_port;
static uint8_t buf[1u << 20];
static char scenario_path[64];

static void *run_server(void *arg)
{
    emu_server_run(arg);
    return NULL;
}

static void profile_path(char *out, size_t len, const char *name)
{
    const char *src = getenv("SCANEMU_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    snprintf(out, len, "%s/fixtures/profiles/%s.yaml", src, name);
}

/* One server over the named shipped profiles, busids 1-1, 1-2, ... in
 * order; --no-timing; scenario_yaml (NULL: the built-in) for every device. */
static void start(const char *const *names, size_t n, const char *scenario_yaml, int escl_listen)
{
    static char paths[4][4096];
    const char *profiles[4];
    emu_options o;
    char err[512];

    ck_assert_uint_le(n, 4);
    for (size_t i = 0; i < n; i++) {
        profile_path(paths[i], sizeof paths[i], names[i]);
        profiles[i] = paths[i];
    }
    emu_options_init(&o);
    o.listen_port = 0;
    o.log_level = EMU_LOG_WARN;
    o.profile_paths = profiles;
    o.n_devices = n;
    o.timing = 0;
    o.seed = 7;
    scenario_path[0] = '\0';
    if (scenario_yaml) {
        snprintf(scenario_path, sizeof scenario_path, "/tmp/test_emu_ippusb_XXXXXX");
        int fd = mkstemp(scenario_path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, scenario_yaml, strlen(scenario_yaml)),
                         (ssize_t)strlen(scenario_yaml));
        close(fd);
        o.scenario_path = scenario_path;
    }
    if (escl_listen) {
        o.escl_listen = 1;
        o.escl_port = 0;
    }
    ck_assert_msg(emu_server_create(&o, &srv, err, sizeof err) == 0, "%s", err);
    port = emu_server_port(srv);
    escl_port = emu_server_escl_port(srv);
    ck_assert_int_eq(pthread_create(&srv_thread, NULL, run_server, srv), 0);
}

static void stop(void)
{
    if (srv == NULL)
        return;
    emu_server_stop(srv);
    pthread_join(srv_thread, NULL);
    emu_server_free(srv);
    srv = NULL;
    if (scenario_path[0])
        unlink(scenario_path);
}

static void import_configured(tc *c, const char *busid)
{
    size_t n;
    ck_assert_int_eq(tc_import(c, port, busid), 0);
    ck_assert_int_eq(tc_control(c, 0x00, 9, 1, 0, 0, 0, buf, &n), 0);
}

/* ---- HTTP over the bulk pipes ------------------------------------------------------------ */

typedef struct resp {
    uint8_t raw[1u << 21];
    size_t raw_len;
    int status;
    size_t head_len;
    int complete;
    int bad;     /* the chunked framing broke (a page cut short) */
    size_t wire; /* bytes of raw the response took */
    uint8_t body[1u << 21];
    size_t body_len;
} resp;

static resp r1, r2;

/* Parses what raw holds; sets complete (and body) once the whole response
 * is there, bad when its chunked framing is broken. */
static void resp_parse(resp *r)
{
    const uint8_t *end = NULL;
    r->complete = r->bad = 0;
    for (size_t i = 0; i + 4 <= r->raw_len; i++)
        if (memcmp(r->raw + i, "\r\n\r\n", 4) == 0) {
            end = r->raw + i + 4;
            break;
        }
    if (end == NULL)
        return;
    r->head_len = (size_t)(end - r->raw);
    char head[8192];
    size_t hl = r->head_len < sizeof head - 1 ? r->head_len : sizeof head - 1;
    memcpy(head, r->raw, hl);
    head[hl] = '\0';
    ck_assert_int_eq(sscanf(head, "HTTP/1.1 %d", &r->status), 1);
    if (r->status == 100) { /* 100 Continue: drop it and parse on */
        memmove(r->raw, r->raw + r->head_len, r->raw_len - r->head_len);
        r->raw_len -= r->head_len;
        resp_parse(r);
        return;
    }
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    if (strcasestr(head, "\r\nTransfer-Encoding: chunked") != NULL) {
        size_t p = r->head_len;
        r->body_len = 0;
        for (;;) {
            const uint8_t *nl = memchr(r->raw + p, '\n', r->raw_len - p);
            unsigned long sz;
            char line[64], *e;
            if (nl == NULL)
                return;
            size_t ll = (size_t)(nl - (r->raw + p));
            if (ll >= sizeof line || ll < 2 || r->raw[p + ll - 1] != '\r') {
                r->bad = 1;
                r->wire = (size_t)(nl + 1 - r->raw);
                return;
            }
            memcpy(line, r->raw + p, ll - 1);
            line[ll - 1] = '\0';
            sz = strtoul(line, &e, 16);
            if (e == line || *e != '\0') {
                r->bad = 1;
                r->wire = (size_t)(nl + 1 - r->raw);
                return;
            }
            p += ll + 1;
            if (r->raw_len - p < sz + 2)
                return;
            memcpy(r->body + r->body_len, r->raw + p, sz);
            r->body_len += sz;
            p += sz + 2;
            if (sz == 0) {
                r->wire = p;
                r->complete = 1;
                return;
            }
        }
    }
    size_t clen = cl ? strtoul(cl + 17, NULL, 10) : 0;
    if (r->raw_len >= r->head_len + clen) {
        memcpy(r->body, r->raw + r->head_len, clen);
        r->body_len = clen;
        r->wire = r->head_len + clen;
        r->complete = 1;
    }
}

/* Request bytes in bulk OUT transfers of at most split bytes each; every
 * transfer completes, whole. */
static void usb_write(tc *c, unsigned ep, const void *data, size_t len, size_t split)
{
    const uint8_t *p = data;
    for (size_t off = 0; off < len; off += split) {
        size_t n = len - off < split ? len - off : split;
        uint32_t seq = tc_submit(c, ep, PROTO_USBIP_DIR_OUT, 0, (int32_t)n, NULL, p + off);
        proto_usbip_urb_hdr h;
        size_t got;
        ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &got), 0);
        ck_assert_uint_eq(h.command, PROTO_USBIP_RET_SUBMIT);
        ck_assert_uint_eq(h.seqnum, seq);
        ck_assert_int_eq(h.u.ret_submit.status, 0);
        ck_assert_int_eq(h.u.ret_submit.actual_length, (int32_t)n);
    }
}

/* One bulk IN transfer of urb bytes; appends to r. Never more than asked. */
static void usb_read_one(tc *c, unsigned ep, int32_t urb, resp *r)
{
    uint32_t seq = tc_submit(c, ep, PROTO_USBIP_DIR_IN, 0, urb, NULL, NULL);
    proto_usbip_urb_hdr h;
    size_t got;
    ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &got), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_SUBMIT);
    ck_assert_uint_eq(h.seqnum, seq);
    ck_assert_int_eq(h.u.ret_submit.status, 0);
    ck_assert_uint_le(got, (size_t)urb);
    ck_assert_uint_gt(got, 0);
    ck_assert_uint_le(r->raw_len + got, sizeof r->raw);
    memcpy(r->raw + r->raw_len, buf, got);
    r->raw_len += got;
}

/* A whole response in bulk IN transfers of urb bytes. */
static void usb_read(tc *c, unsigned ep, int32_t urb, resp *r)
{
    r->raw_len = 0;
    for (;;) {
        usb_read_one(c, ep, urb, r);
        resp_parse(r);
        if (r->complete || r->bad)
            break;
    }
    /* Nothing of a next response rode along. */
    ck_assert_uint_eq(r->wire, r->raw_len);
}

static void usb_exchange(tc *c, unsigned ep, const char *req, size_t split, int32_t urb, resp *r)
{
    usb_write(c, ep, req, strlen(req), split);
    usb_read(c, ep, urb, r);
    ck_assert_int_eq(r->complete, 1);
}

/* The same over TCP (--escl-listen). */
static void tcp_exchange(int fd, const char *req, resp *r)
{
    ck_assert_int_eq(tc_send_raw(fd, req, strlen(req)), 0);
    r->raw_len = 0;
    for (;;) {
        ssize_t n = recv(fd, r->raw + r->raw_len, sizeof r->raw - r->raw_len, 0);
        ck_assert_int_gt(n, 0);
        r->raw_len += (size_t)n;
        resp_parse(r);
        if (r->complete)
            break;
    }
}

#define SETTINGS_FMT                                                                               \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><scan:ScanSettings "                                \
    "xmlns:pwg=\"http://www.pwg.org/schemas/2010/12/sm\" "                                         \
    "xmlns:scan=\"http://schemas.hp.com/imaging/escl/2011/05/03\"><pwg:Version>2.0</pwg:Version>"  \
    "<pwg:ScanRegions><pwg:ScanRegion><pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches</"      \
    "pwg:ContentRegionUnits><pwg:XOffset>0</pwg:XOffset><pwg:YOffset>0</pwg:YOffset>"              \
    "<pwg:Width>2480</pwg:Width><pwg:Height>3507</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>"  \
    "<pwg:InputSource>Feeder</pwg:InputSource><scan:ColorMode>Grayscale8</scan:ColorMode>"         \
    "<pwg:DocumentFormat>image/png</pwg:DocumentFormat><scan:XResolution>75</scan:XResolution>"    \
    "<scan:YResolution>75</scan:YResolution></scan:ScanSettings>"

/* POST ScanJobs (Content-Length), or with chunked=1 as a chunked body. */
static const char *job_request(int chunked)
{
    static char req[8192];
    const char *body = SETTINGS_FMT;
    size_t bl = strlen(body);
    if (!chunked) {
        snprintf(req, sizeof req,
                 "POST /eSCL/ScanJobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 bl, body);
    } else {
        size_t half = bl / 2;
        snprintf(req, sizeof req,
                 "POST /eSCL/ScanJobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                 half, (int)half, body, bl - half, body + half);
    }
    return req;
}

/* The job path of a 201 answer. */
static void job_path(const resp *r, char *out, size_t len)
{
    char head[8192];
    memcpy(head, r->raw, r->head_len);
    head[r->head_len] = '\0';
    ck_assert_int_eq(r->status, 201);
    const char *loc = strstr(head, "\r\nLocation: ");
    ck_assert_ptr_nonnull(loc);
    const char *path = strstr(loc, "/eSCL/ScanJobs/");
    ck_assert_ptr_nonnull(path);
    size_t n = strcspn(path, "\r");
    ck_assert_uint_lt(n, len);
    memcpy(out, path, n);
    out[n] = '\0';
}

static void get_req(char *out, size_t len, const char *path)
{
    snprintf(out, len, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
}

/* ---- descriptors -------------------------------------------------------------------------- */

static void setup_three(void)
{
    const char *names[3] = {"airscan-usb", "mfp", "default"};
    start(names, 3, NULL, 0);
}

START_TEST(devlist_and_import_records)
{
    proto_usbip_interface ifs[8];
    tc c;

    ck_assert_int_eq(tc_devlist_ifs(port, 0, ifs, 8), 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(ifs[i].bInterfaceClass, 7);
        ck_assert_uint_eq(ifs[i].bInterfaceSubClass, 1);
        ck_assert_uint_eq(ifs[i].bInterfaceProtocol, 4);
    }
    ck_assert_int_eq(tc_devlist_ifs(port, 1, ifs, 8), 3);
    ck_assert_uint_eq(ifs[0].bInterfaceClass, 0xff);
    ck_assert_uint_eq(ifs[1].bInterfaceClass, 7);
    ck_assert_uint_eq(ifs[2].bInterfaceProtocol, 4);
    ck_assert_int_eq(tc_devlist_ifs(port, 2, ifs, 8), 1);
    ck_assert_uint_eq(ifs[0].bInterfaceClass, 0xff);

    ck_assert_int_eq(tc_import(&c, port, "1-1"), 0);
    ck_assert_uint_eq(c.rec.bNumInterfaces, 2);
    ck_assert_uint_eq(c.rec.idProduct, 0x0006);
    tc_close(&c);
    ck_assert_int_eq(tc_import(&c, port, "1-2"), 0);
    ck_assert_uint_eq(c.rec.bNumInterfaces, 3);
    ck_assert_uint_eq(c.rec.idProduct, 0x0005);
    tc_close(&c);
}
END_TEST

/* Walks a configuration descriptor: the interfaces (class, alt setting,
 * endpoints), the 0x21 descriptor after each IPP-USB one. */
static void check_config(const uint8_t *d, size_t len, unsigned n_if, unsigned n_ipp,
                         const uint8_t *eps, unsigned n_eps)
{
    unsigned seen_if = 0, seen_ep = 0, info = 0;
    int cls = -1;
    ck_assert_uint_eq(proto_get_le16(d + 2), len);
    ck_assert_uint_eq(d[4], n_if);
    for (size_t p = d[0]; p < len; p += d[p]) {
        ck_assert_uint_ge(d[p], 2);
        switch (d[p + 1]) {
        case 4: /* interface */
            ck_assert_uint_eq(d[p + 2], seen_if);
            ck_assert_uint_eq(d[p + 3], 0); /* one alt setting each */
            cls = d[p + 5];
            if (cls == 7) {
                ck_assert_uint_eq(d[p + 4], 2);
                ck_assert_uint_eq(d[p + 6], 1);
                ck_assert_uint_eq(d[p + 7], 4);
            } else {
                ck_assert_uint_eq(cls, 0xff);
            }
            seen_if++;
            break;
        case 0x21:
            ck_assert_int_eq(cls, 7);
            ck_assert_uint_eq(d[p], 10);
            ck_assert_uint_eq(proto_get_le16(d + p + 6), 0x0002); /* scan */
            info++;
            break;
        case 5: /* endpoint */
            ck_assert_uint_lt(seen_ep, n_eps);
            ck_assert_uint_eq(d[p + 2], eps[seen_ep]);
            if (eps[seen_ep] != 0x82) {
                ck_assert_uint_eq(d[p + 3], 2); /* bulk */
                ck_assert_uint_eq(proto_get_le16(d + p + 4), 512);
            }
            seen_ep++;
            break;
        default:
            ck_abort_msg("unexpected descriptor type %u", d[p + 1]);
        }
    }
    ck_assert_uint_eq(seen_if, n_if);
    ck_assert_uint_eq(seen_ep, n_eps);
    ck_assert_uint_eq(info, n_ipp);
}

static void check_strings(tc *c, const uint8_t *dev)
{
    size_t n;
    for (int i = 14; i <= 16; i++) {
        ck_assert_uint_ne(dev[i], 0);
        ck_assert_int_eq(
            tc_control(c, 0x80, 6, (uint16_t)(0x0300 | dev[i]), 0x0409, 255, 255, buf, &n), 0);
        ck_assert_uint_gt(n, 2); /* non-empty */
    }
}

START_TEST(escl_only_descriptors)
{
    tc c;
    size_t n;
    uint8_t dev[18];
    static const uint8_t eps[] = {0x01, 0x81, 0x02, 0x82};

    ck_assert_int_eq(tc_import(&c, port, "1-1"), 0);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 18, 18, buf, &n), 0);
    memcpy(dev, buf, 18);
    ck_assert_uint_eq(dev[4], 0); /* class per interface */
    check_strings(&c, dev);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, 9, 9, buf, &n), 0);
    uint16_t total = proto_get_le16(buf + 2);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, total, total, buf, &n), 0);
    ck_assert_uint_eq(n, total);
    check_config(buf, n, 2, 2, eps, 4);
    /* The class-specific device info descriptor, as ipp-usb asks for it
     * (libusb_get_descriptor(0x21, 0), 256 bytes): 10 bytes, scan bit. */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x2100, 0, 256, 256, buf, &n), 0);
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(buf[0], 10);
    ck_assert_uint_eq(buf[1], 0x21);
    ck_assert_uint_eq(proto_get_le16(buf + 6), 0x0002);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x2101, 0, 256, 256, buf, &n), -32);
    /* SET_CONFIGURATION, then ipp-usb's claim: SET_INTERFACE on each. */
    ck_assert_int_eq(tc_control(&c, 0x00, 9, 1, 0, 0, 0, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x01, 11, 0, 0, 0, 0, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x01, 11, 0, 1, 0, 0, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x01, 11, 0, 2, 0, 0, buf, &n), -32);
    ck_assert_int_eq(tc_control(&c, 0x01, 11, 1, 1, 0, 0, buf, &n), -32); /* no alt 1 */
    ck_assert_int_eq(tc_control(&c, 0x81, 10, 0, 1, 1, 1, buf, &n), 0);
    ck_assert_uint_eq(buf[0], 0);
    ck_assert_int_eq(tc_control(&c, 0x81, 0, 0, 1, 2, 2, buf, &n), 0); /* GET_STATUS */
    /* GET_STATUS of endpoints: 0x82 is IPP-USB interface 1's IN here. */
    ck_assert_int_eq(tc_control(&c, 0x82, 0, 0, 0x82, 2, 2, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x82, 0, 0, 0x83, 2, 2, buf, &n), -32);
    tc_close(&c);
}
END_TEST

START_TEST(mfp_descriptors)
{
    tc c;
    size_t n;
    uint8_t dev[18];
    static const uint8_t eps[] = {0x01, 0x81, 0x82, 0x03, 0x83, 0x04, 0x84};

    ck_assert_int_eq(tc_import(&c, port, "1-2"), 0);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 18, 18, buf, &n), 0);
    memcpy(dev, buf, 18);
    check_strings(&c, dev);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, 9, 9, buf, &n), 0);
    uint16_t total = proto_get_le16(buf + 2);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, total, total, buf, &n), 0);
    check_config(buf, n, 3, 2, eps, 7);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x2100, 0, 256, 256, buf, &n), 0);
    ck_assert_uint_eq(n, 10);
    ck_assert_int_eq(tc_control(&c, 0x00, 9, 1, 0, 0, 0, buf, &n), 0);
    for (uint16_t i = 0; i < 3; i++)
        ck_assert_int_eq(tc_control(&c, 0x01, 11, 0, i, 0, 0, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x01, 11, 0, 3, 0, 0, buf, &n), -32);
    /* The other-speed configuration has the same interfaces. */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0700, 0, 512, 512, buf, &n), 0);
    ck_assert_uint_eq(buf[4], 3);
    tc_close(&c);
}
END_TEST

START_TEST(native_only_unchanged)
{
    tc c;
    size_t n;
    ck_assert_int_eq(tc_import(&c, port, "1-3"), 0);
    ck_assert_uint_eq(c.rec.bNumInterfaces, 1);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x2100, 0, 256, 256, buf, &n), -32);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, 255, 255, buf, &n), 0);
    ck_assert_uint_eq(n, 9 + 9 + 3 * 7);
    tc_close(&c);
}
END_TEST

/* ---- the carrier ------------------------------------------------------------------------- */

static void setup_airscan(void)
{
    const char *names[1] = {"airscan-usb"};
    start(names, 1, NULL, 1);
}

static void teardown(void)
{
    stop();
}

/* A request in 1-byte bulk OUT transfers; the answer read whole, then in
 * 1-byte bulk IN transfers on the other interface: the same bytes. */
START_TEST(split_out_and_one_byte_in)
{
    tc c;
    char req[256];

    import_configured(&c, "1-1");
    get_req(req, sizeof req, "/eSCL/ScannerCapabilities");
    usb_exchange(&c, 1, req, 1, 16384, &r1);
    ck_assert_int_eq(r1.status, 200);
    ck_assert_ptr_nonnull(memmem(r1.body, r1.body_len, "<pwg:Version>", 13));
    ck_assert_ptr_nonnull(memmem(r1.body, r1.body_len, "scan:ScannerCapabilities", 24));
    usb_exchange(&c, 2, req, sizeof req, 1, &r2);
    ck_assert_uint_eq(r2.body_len, r1.body_len);
    ck_assert_mem_eq(r2.body, r1.body, r1.body_len);
    /* Keep-alive: the same interface again, in 512-byte reads. */
    usb_exchange(&c, 1, req, 7, 512, &r2);
    ck_assert_mem_eq(r2.body, r1.body, r1.body_len);
    /* ipp-usb's start-up probe: answered at once, 404 for a scanner. */
    {
        static const char head[] = "POST /ipp/print HTTP/1.1\r\nHost: localhost\r\n"
                                   "Content-Type: application/ipp\r\nContent-Length: 9\r\n\r\n";
        static const uint8_t ipp[9] = {2, 0, 0, 0x0b, 0, 0, 0, 1, 3};
        uint8_t msg[sizeof head - 1 + sizeof ipp];
        memcpy(msg, head, sizeof head - 1);
        memcpy(msg + sizeof head - 1, ipp, sizeof ipp);
        usb_write(&c, 2, msg, sizeof msg, sizeof msg);
        usb_read(&c, 2, 16384, &r2);
        ck_assert_int_eq(r2.status, 404);
    }
    tc_close(&c);
}
END_TEST

/* A whole page through an interface equals the same page over TCP, and an
 * ADF job ends as over TCP (404 after the last sheet is not reached here:
 * one page, then DELETE). */
START_TEST(page_equals_tcp)
{
    tc c;
    char path[256], req[512];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(escl_port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    tcp_exchange(fd, job_request(0), &r1);
    job_path(&r1, path, sizeof path - 20);
    snprintf(req, sizeof req, "GET %s/NextDocument HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    tcp_exchange(fd, req, &r1);
    ck_assert_int_eq(r1.status, 200);
    ck_assert_mem_eq(r1.body, "\x89PNG", 4);
    snprintf(req, sizeof req, "DELETE %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    tcp_exchange(fd, req, &r2);
    close(fd);

    import_configured(&c, "1-1");
    /* A chunked ScanSettings body, in 5-byte transfers. */
    usb_exchange(&c, 1, job_request(1), 5, 16384, &r2);
    job_path(&r2, path, sizeof path - 20);
    snprintf(req, sizeof req, "GET %s/NextDocument HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    usb_exchange(&c, 1, req, sizeof req, 16384, &r2);
    ck_assert_int_eq(r2.status, 200);
    ck_assert_uint_eq(r2.body_len, r1.body_len);
    ck_assert_mem_eq(r2.body, r1.body, r1.body_len);
    /* Busy on the other interface's front too: the same engine. */
    usb_exchange(&c, 2, job_request(0), 4096, 16384, &r2);
    ck_assert_int_eq(r2.status, 503);
    snprintf(req, sizeof req, "DELETE %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    usb_exchange(&c, 2, req, 4096, 16384, &r2);
    ck_assert_int_eq(r2.status, 200);
    tc_close(&c);
}
END_TEST

/* A request larger than any buffer: refused, its remaining transfers
 * dropped; the next request on that interface is answered. */
START_TEST(oversized_request_then_next)
{
    tc c;
    char req[256];
    size_t big = 200u << 10;
    char *bad = malloc(big + 64);

    ck_assert_ptr_nonnull(bad);
    int n = snprintf(bad, 64, "GET /eSCL/ScannerStatus HTTP/1.1\r\nX-Big: ");
    memset(bad + n, 'a', big);
    memcpy(bad + n + big - 4, "\r\n\r\n", 4);
    import_configured(&c, "1-1");
    usb_write(&c, 1, bad, (size_t)n + big, 16384);
    usb_read(&c, 1, 16384, &r1);
    ck_assert_int_eq(r1.complete, 1);
    ck_assert_int_ge(r1.status, 400);
    ck_assert_int_lt(r1.status, 500);
    get_req(req, sizeof req, "/eSCL/ScannerStatus");
    usb_exchange(&c, 1, req, 3, 16384, &r2);
    ck_assert_int_eq(r2.status, 200);
    ck_assert_ptr_nonnull(memmem(r2.body, r2.body_len, "<pwg:State>Idle</pwg:State>", 27));
    free(bad);
    tc_close(&c);
}
END_TEST

/* Page 1's band 2 is 600 s late: a NextDocument answer stops after its
 * first band, with nothing more to send. */
#define STUCK_SCENARIO                                                                             \
    "name: stuck\nsheets: 3\nfaults:\n  - kind: delay\n    at: {page: 1, band: 2}\n"               \
    "    ms: 600000\n"

static void setup_stuck(void)
{
    const char *names[1] = {"airscan-usb"};
    start(names, 1, STUCK_SCENARIO, 0);
}

/* Starts a job on interface 1 and reads its page until the device has
 * nothing more to send: a bulk IN transfer then stays pending. Returns
 * that transfer's seqnum; the job path in path. */
static uint32_t read_until_stuck(tc *c, char *path, size_t len, resp *r)
{
    char req[512];
    usb_exchange(c, 1, job_request(0), 4096, 16384, r);
    job_path(r, path, len);
    snprintf(req, sizeof req, "GET %s/NextDocument HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    usb_write(c, 1, req, strlen(req), 4096);
    r->raw_len = 0;
    for (;;) {
        uint32_t seq = tc_submit(c, 1, PROTO_USBIP_DIR_IN, 0, 16384, NULL, NULL);
        if (tc_quiet(c->fd, 300) == 1)
            return seq; /* pending: the rest is 600 s away */
        proto_usbip_urb_hdr h;
        size_t got;
        ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &got), 0);
        ck_assert_uint_eq(h.seqnum, seq);
        ck_assert_uint_le(got, 16384);
        memcpy(r->raw + r->raw_len, buf, got);
        r->raw_len += got;
    }
}

/* Unlink of a pending bulk IN in the middle of a response: RET_UNLINK
 * -ECONNRESET and never its RET_SUBMIT; nothing of the response is lost.
 * Then the job is canceled on the other interface: the page stream ends
 * cut short, which the next read shows as broken chunked framing, and the
 * interface answers its next request. */
START_TEST(unlink_mid_response)
{
    tc c;
    char path[256], req[512];
    proto_usbip_urb_hdr h;
    size_t got;

    import_configured(&c, "1-1");
    uint32_t seq = read_until_stuck(&c, path, sizeof path, &r1);
    resp_parse(&r1);
    ck_assert_int_eq(r1.status, 200);
    ck_assert_int_eq(r1.complete, 0);
    uint32_t useq = tc_unlink(&c, seq);
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &got), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_UNLINK);
    ck_assert_uint_eq(h.seqnum, useq);
    ck_assert_int_eq(h.u.ret_unlink.status, -104);
    ck_assert_int_eq(tc_quiet(c.fd, 200), 1); /* no RET_SUBMIT of it */
    /* Cancel on interface 2; interface 1's stream is cut. */
    snprintf(req, sizeof req, "DELETE %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    usb_exchange(&c, 2, req, 4096, 16384, &r2);
    ck_assert_int_eq(r2.status, 200);
    for (int i = 0; i < 100 && !r1.bad; i++) {
        usb_read_one(&c, 1, 16384, &r1);
        resp_parse(&r1);
        ck_assert_int_eq(r1.complete, 0);
    }
    ck_assert_int_eq(r1.bad, 1);
    ck_assert_uint_eq(r1.wire, r1.raw_len);
    get_req(req, sizeof req, "/eSCL/ScannerStatus");
    usb_exchange(&c, 1, req, 4096, 16384, &r2);
    ck_assert_int_eq(r2.status, 200);
    ck_assert_ptr_nonnull(memmem(r2.body, r2.body_len, "Canceled", 8));
    tc_close(&c);
}
END_TEST

/* SET_INTERFACE in the middle of a response drops that connection; the
 * transfer pending across it serves the interface's next request. The same
 * for SET_CONFIGURATION. */
START_TEST(set_interface_mid_response)
{
    tc c;
    char path[256], req[512];
    size_t n;

    import_configured(&c, "1-1");
    uint32_t seq = read_until_stuck(&c, path, sizeof path, &r1);
    ck_assert_int_eq(tc_control(&c, 0x01, 11, 0, 0, 0, 0, buf, &n), 0);
    get_req(req, sizeof req, "/eSCL/ScannerStatus");
    usb_write(&c, 1, req, strlen(req), 4096);
    proto_usbip_urb_hdr h;
    size_t got;
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &got), 0);
    ck_assert_uint_eq(h.seqnum, seq);
    r2.raw_len = 0;
    memcpy(r2.raw, buf, got);
    r2.raw_len = got;
    resp_parse(&r2);
    while (!r2.complete) {
        usb_read_one(&c, 1, 16384, &r2);
        resp_parse(&r2);
    }
    ck_assert_int_eq(r2.status, 200);
    ck_assert_uint_eq(r2.wire, r2.raw_len);
    /* The job goes on without its page (lost with the connection): DELETE
     * it, and do the same with SET_CONFIGURATION. */
    snprintf(req, sizeof req, "DELETE %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    usb_exchange(&c, 2, req, 4096, 16384, &r2);
    ck_assert_int_eq(r2.status, 200);
    seq = read_until_stuck(&c, path, sizeof path, &r1);
    ck_assert_int_eq(tc_control(&c, 0x00, 9, 1, 0, 0, 0, buf, &n), 0);
    get_req(req, sizeof req, "/eSCL/ScannerCapabilities");
    usb_write(&c, 1, req, strlen(req), 4096);
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &got), 0);
    ck_assert_uint_eq(h.seqnum, seq);
    memcpy(r2.raw, buf, got);
    r2.raw_len = got;
    resp_parse(&r2);
    while (!r2.complete) {
        usb_read_one(&c, 1, 16384, &r2);
        resp_parse(&r2);
    }
    ck_assert_int_eq(r2.status, 200);
    /* SET_CONFIGURATION(0): the endpoints are gone, pending transfers end. */
    seq = tc_submit(&c, 2, PROTO_USBIP_DIR_IN, 0, 16384, NULL, NULL);
    ck_assert_int_eq(tc_quiet(c.fd, 100), 1);
    uint8_t raw[8];
    proto_usb_setup s = {0x00, 9, 0, 0, 0};
    proto_usb_setup_encode(&s, raw);
    uint32_t cseq = tc_submit(&c, 0, PROTO_USBIP_DIR_OUT, 0, 0, raw, NULL);
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &got), 0);
    ck_assert_uint_eq(h.seqnum, seq);
    ck_assert_int_eq(h.u.ret_submit.status, -108);
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &got), 0);
    ck_assert_uint_eq(h.seqnum, cseq);
    tc_close(&c);
}
END_TEST

/* A device scanned natively answers eSCL 503, and the other way round. */
static void setup_mfp(void)
{
    const char *names[1] = {"mfp"};
    start(names, 1, NULL, 0);
}

static uint32_t native_command(tc *c, uint16_t op)
{
    proto_scan_cmd cmd = {op, 1, 0};
    uint8_t out[PROTO_SCAN_CMD_HDR_SIZE];
    int n = proto_scan_cmd_encode(&cmd, out, sizeof out);
    ck_assert_int_gt(n, 0);
    usb_write(c, 1, out, (size_t)n, (size_t)n);
    uint32_t seq = tc_submit(c, 1, PROTO_USBIP_DIR_IN, 0, 1 << 20, NULL, NULL);
    proto_usbip_urb_hdr h;
    size_t got;
    proto_scan_rsp rsp;
    ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &got), 0);
    ck_assert_uint_eq(h.seqnum, seq);
    ck_assert_int_ge(proto_scan_rsp_decode(buf, got, &rsp), 0);
    ck_assert_uint_eq(rsp.opcode, op);
    return rsp.status;
}

START_TEST(busy_across_fronts)
{
    tc c;
    char path[256], req[512];

    import_configured(&c, "1-1");
    ck_assert_uint_eq(native_command(&c, PROTO_SCAN_OP_START_JOB), PROTO_SCAN_ST_OK);
    usb_exchange(&c, 3, job_request(0), 4096, 16384, &r1);
    ck_assert_int_eq(r1.status, 503);
    get_req(req, sizeof req, "/eSCL/ScannerStatus");
    usb_exchange(&c, 4, req, 4096, 16384, &r1);
    ck_assert_ptr_nonnull(memmem(r1.body, r1.body_len, "Processing", 10));
    ck_assert_uint_eq(native_command(&c, PROTO_SCAN_OP_ABORT), PROTO_SCAN_ST_OK);
    usb_exchange(&c, 3, job_request(0), 4096, 16384, &r1);
    job_path(&r1, path, sizeof path);
    ck_assert_uint_eq(native_command(&c, PROTO_SCAN_OP_START_JOB), PROTO_SCAN_ST_BUSY);
    snprintf(req, sizeof req, "DELETE %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    usb_exchange(&c, 4, req, 4096, 16384, &r1);
    ck_assert_int_eq(r1.status, 200);
    tc_close(&c);
}
END_TEST

static Suite *ippusb_suite(void)
{
    Suite *s = suite_create("emu_ippusb");
    TCase *desc = tcase_create("descriptors");
    tcase_add_checked_fixture(desc, setup_three, teardown);
    tcase_add_test(desc, devlist_and_import_records);
    tcase_add_test(desc, escl_only_descriptors);
    tcase_add_test(desc, mfp_descriptors);
    tcase_add_test(desc, native_only_unchanged);
    suite_add_tcase(s, desc);

    TCase *carrier = tcase_create("carrier");
    tcase_add_checked_fixture(carrier, setup_airscan, teardown);
    tcase_set_timeout(carrier, 60);
    tcase_add_test(carrier, split_out_and_one_byte_in);
    tcase_add_test(carrier, page_equals_tcp);
    tcase_add_test(carrier, oversized_request_then_next);
    suite_add_tcase(s, carrier);

    TCase *mid = tcase_create("mid-response");
    tcase_add_checked_fixture(mid, setup_stuck, teardown);
    tcase_set_timeout(mid, 60);
    tcase_add_test(mid, unlink_mid_response);
    tcase_add_test(mid, set_interface_mid_response);
    suite_add_tcase(s, mid);

    TCase *busy = tcase_create("busy");
    tcase_add_checked_fixture(busy, setup_mfp, teardown);
    tcase_set_timeout(busy, 60);
    tcase_add_test(busy, busy_across_fronts);
    suite_add_tcase(s, busy);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ippusb_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
