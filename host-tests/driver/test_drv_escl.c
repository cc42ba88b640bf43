/* The driver's eSCL client against the device model's eSCL front over
 * loopback TCP (escl_carrier.h): pages decoded into the same TIFF the
 * native path writes (every pixel checked against the synthesis, and the
 * native path's TIFF for the same seed compared), every fault scenario
 * mapped to its WIA result, the quirk scenarios, refusals before a job. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>
#include <signal.h>
#include <tiffio.h>

#include "drvtest.h"
#include "escl-client.h" /* driver/src: the decoder under test */
#include "escl_carrier.h"
#include "protocol/escl.h"

static char dir[256];

static void setup(void)
{
    drvtest_mkdtemp(dir, sizeof(dir));
}

static void teardown(void)
{
    drvtest_rmdir(dir);
}

static void opts(drv_scan_options *o, const char *uri)
{
    drv_scan_options_init(o);
    o->transport = uri;
    o->mode = PROTO_SCAN_MODE_GRAY8;
    o->dpi = 75;
    o->timeout_ms = 5000;
}

static int32_t scan(const drv_scan_options *o, const char *name, drv_scan_result *r)
{
    char out[512];

    snprintf(out, sizeof(out), "%s/%s", dir, name);
    return drv_scan_to_file(o, out, r);
}

static const char *out_path(const char *name)
{
    static char p[512];

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

/* Every pixel of a TIFF equal to the other's (same page count). */
static void same_pixels(const char *a, const char *b)
{
    TIFF *ta = TIFFOpen(a, "r"), *tb = TIFFOpen(b, "r");
    int pages = 0;

    ck_assert_ptr_nonnull(ta);
    ck_assert_ptr_nonnull(tb);
    do {
        uint32_t wa, ha, wb, hb;
        tmsize_t sl;
        uint8_t *la, *lb;

        TIFFGetField(ta, TIFFTAG_IMAGEWIDTH, &wa);
        TIFFGetField(ta, TIFFTAG_IMAGELENGTH, &ha);
        TIFFGetField(tb, TIFFTAG_IMAGEWIDTH, &wb);
        TIFFGetField(tb, TIFFTAG_IMAGELENGTH, &hb);
        ck_assert_uint_eq(wa, wb);
        ck_assert_uint_eq(ha, hb);
        sl = TIFFScanlineSize(ta);
        ck_assert_int_eq(sl, TIFFScanlineSize(tb));
        la = malloc((size_t)sl);
        lb = malloc((size_t)sl);
        for (uint32_t y = 0; y < ha; y++) {
            ck_assert_int_eq(TIFFReadScanline(ta, la, y, 0), 1);
            ck_assert_int_eq(TIFFReadScanline(tb, lb, y, 0), 1);
            ck_assert_msg(memcmp(la, lb, (size_t)sl) == 0, "page %d line %u differs", pages, y);
        }
        free(la);
        free(lb);
        pages++;
        ck_assert_int_eq(TIFFReadDirectory(tb), TIFFReadDirectory(ta));
    } while (TIFFCurrentDirectory(ta) == (tdir_t)pages);
    TIFFClose(ta);
    TIFFClose(tb);
}

/* ---- pages ------------------------------------------------------------------------------ */

START_TEST(adf_gray_pixels_and_native_identity)
{
    drvtest_escl e;
    drvtest_emu n;
    drv_scan_options o;
    drv_scan_result r, rn;
    proto_scan_job job;

    drvtest_escl_start(&e, NULL, "feeder-empty-after-2.yaml", 42, 0);
    job = drvtest_escl_job(&e, PROTO_SCAN_SOURCE_ADF, PROTO_SCAN_MODE_GRAY8, 75);
    opts(&o, e.uri);
    ck_assert_int_eq(scan(&o, "escl.tiff", &r), DRV_HR_END_OF_MEDIA);
    drvtest_escl_stop(&e);
    ck_assert_uint_eq(r.pages_kept, 2);
    ck_assert(r.have_job);
    drvtest_check_tiff(out_path("escl.tiff"), &job, 2, 1);

    drvtest_emu_start(&n, NULL, "feeder-empty-after-2.yaml", 42, 0);
    opts(&o, n.uri);
    ck_assert_int_eq(scan(&o, "native.tiff", &rn), DRV_HR_END_OF_MEDIA);
    drvtest_emu_stop(&n);
    ck_assert_uint_eq(rn.pages_kept, 2);
    same_pixels(out_path("escl.tiff"), out_path("native.tiff"));
}
END_TEST

START_TEST(color_and_bw_pixels)
{
    static const uint8_t modes[] = {PROTO_SCAN_MODE_COLOR24, PROTO_SCAN_MODE_BW};
    drvtest_escl e;
    drv_scan_options o;
    drv_scan_result r;

    for (size_t i = 0; i < 2; i++) {
        proto_scan_job job;

        drvtest_escl_start(&e, NULL, NULL, 7, 0);
        job = drvtest_escl_job(&e, PROTO_SCAN_SOURCE_FLATBED, modes[i], 75);
        opts(&o, e.uri);
        o.source = PROTO_SCAN_SOURCE_FLATBED;
        o.mode = modes[i];
        o.pages = 1;
        o.write_behind = i == 0;
        ck_assert_int_eq(scan(&o, "flat.tiff", &r), DRV_HR_S_OK);
        drvtest_escl_stop(&e);
        ck_assert_uint_eq(r.pages_kept, 1);
        drvtest_check_tiff(out_path("flat.tiff"), &job, 1, 1);
    }
}
END_TEST

START_TEST(pages_limit_deletes_the_job)
{
    drvtest_escl e;
    drv_scan_options o;
    drv_scan_result r;

    drvtest_escl_start(&e, NULL, NULL, 1, 0);
    opts(&o, e.uri);
    o.pages = 3;
    ck_assert_int_eq(scan(&o, "a.tiff", &r), DRV_HR_S_OK);
    ck_assert_uint_eq(r.pages_kept, 3);
    /* the device is free again at once: the job was deleted */
    o.pages = 1;
    ck_assert_int_eq(scan(&o, "b.tiff", &r), DRV_HR_S_OK);
    ck_assert_uint_eq(r.pages_kept, 1);
    drvtest_escl_stop(&e);
}
END_TEST

/* ---- faults ------------------------------------------------------------------------------- */

typedef struct fault_case {
    const char *scenario;
    int32_t hr;
    uint32_t pages;
    unsigned timeout_ms;
    uint16_t dpi; /* 0: 75 */
} fault_case;

static const fault_case faults[] = {
    {"clean.yaml", DRV_HR_END_OF_MEDIA, 10, 0, 0},
    {"feeder-empty.yaml", DRV_HR_PAPER_EMPTY, 0, 0, 0},
    {"feeder-empty-after-2.yaml", DRV_HR_END_OF_MEDIA, 2, 0, 0},
    {"jam-page3-band5.yaml", DRV_HR_PAPER_JAM, 2, 0, 0},
    {"cover-open.yaml", DRV_HR_COVER_OPEN, 1, 0, 0},
    {"cover-open-at-start.yaml", DRV_HR_COVER_OPEN, 0, 0, 0},
    {"multi-feed.yaml", DRV_HR_MULTI_FEED, 1, 0, 0},
    {"busy.yaml", DRV_HR_END_OF_MEDIA, 10, 0, 0},
    {"disconnect-mid-page.yaml", DRV_HR_DEVICE_COMMUNICATION, 1, 0, 150}, /* band 20 */
    {"short-band.yaml", DRV_HR_DEVICE_COMMUNICATION, 1, 0, 0},
    {"stall-mid-page.yaml", DRV_HR_DEVICE_COMMUNICATION, 1, 0, 0},
    {"stall-no-clear.yaml", DRV_HR_DEVICE_COMMUNICATION, 1, 0, 0},
    {"band-never-comes.yaml", DRV_HR_DEVICE_COMMUNICATION, 1, 500, 0},
};

/* A scan of f.tiff from uri with f's resolution and timeout. */
static void fault_scan(const fault_case *f, const char *uri, drv_scan_options *o,
                       drv_scan_result *r)
{
    opts(o, uri);
    if (f->dpi)
        o->dpi = f->dpi;
    if (f->timeout_ms)
        o->timeout_ms = f->timeout_ms;
    scan(o, "f.tiff", r);
}

/* The HRESULT and the pages kept are f's, and f.tiff exists when they are. */
static void fault_check(const fault_case *f, const drv_scan_result *r)
{
    char hb[16], hb2[16];

    ck_assert_msg(r->hr == f->hr, "%s: %s (%s), expected %s", f->scenario,
                  drv_hr_name(r->hr, hb, sizeof(hb)), r->message,
                  drv_hr_name(f->hr, hb2, sizeof(hb2)));
    ck_assert_msg(r->pages_kept == f->pages, "%s: %u pages kept, expected %u (%s)", f->scenario,
                  r->pages_kept, f->pages, r->message);
    ck_assert_int_eq(drvtest_exists(out_path("f.tiff")), f->pages > 0);
}

START_TEST(fault_mapping)
{
    const fault_case *f = &faults[_i];
    drvtest_escl e;
    drv_scan_options o;
    drv_scan_result r;

    drvtest_escl_start(&e, NULL, f->scenario, 3, 0);
    fault_scan(f, e.uri, &o, &r);
    drvtest_escl_stop(&e);
    fault_check(f, &r);
    if (f->pages > 0) {
        proto_scan_job job;

        drvtest_escl_start(&e, NULL, NULL, 3, 0);
        job = drvtest_escl_job(&e, PROTO_SCAN_SOURCE_ADF, PROTO_SCAN_MODE_GRAY8, o.dpi);
        drvtest_escl_stop(&e);
        drvtest_check_tiff(out_path("f.tiff"), &job, f->pages, 1);
    }
}
END_TEST

/* The same against the emulator's own eSCL carrier (scanemu
 * --escl-listen, in-process). */
START_TEST(fault_mapping_emulator)
{
    const fault_case *f = &faults[_i];
    drvtest_emu n;
    drv_scan_options o;
    drv_scan_result r;
    char uri[96];

    drvtest_emu_start_escl(&n, NULL, f->scenario, 3, 0, uri, sizeof(uri));
    fault_scan(f, uri, &o, &r);
    drvtest_emu_stop(&n);
    fault_check(f, &r);
}
END_TEST

/* escl+http and usbip on one emulator, same seed: the same TIFF, in every
 * mode (bw: the same pixels; the native rows carry the device's padding
 * bits after the last pixel, PNG rows have none). */
START_TEST(emulator_escl_equals_native)
{
    static const uint8_t modes[] = {PROTO_SCAN_MODE_GRAY8, PROTO_SCAN_MODE_COLOR24,
                                    PROTO_SCAN_MODE_BW};
    drvtest_emu n;
    drv_scan_options o;
    drv_scan_result r;
    char uri[96];

    drvtest_emu_start_escl(&n, NULL, NULL, 11, 0, uri, sizeof(uri));
    for (size_t i = 0; i < sizeof(modes); i++) {
        opts(&o, uri);
        o.mode = modes[i];
        o.pages = 2;
        ck_assert_int_eq(scan(&o, "e.tiff", &r), DRV_HR_S_OK);
        ck_assert_uint_eq(r.pages_kept, 2);
        opts(&o, n.uri);
        o.mode = modes[i];
        o.pages = 2;
        ck_assert_int_eq(scan(&o, "n.tiff", &r), DRV_HR_S_OK);
        same_pixels(out_path("e.tiff"), out_path("n.tiff"));
        if (modes[i] != PROTO_SCAN_MODE_BW) {
            size_t la, lb;
            uint8_t *a = drvtest_slurp(out_path("e.tiff"), &la);
            uint8_t *b = drvtest_slurp(out_path("n.tiff"), &lb);

            ck_assert(la == lb && memcmp(a, b, la) == 0);
            free(a);
            free(b);
        }
    }
    drvtest_emu_stop(&n);
}
END_TEST

/* ---- quirks ------------------------------------------------------------------------------- */

static const char *const quirks[] = {
    "escl-503-storm.yaml",     "escl-brother-load-delay.yaml", "escl-hp-localhost.yaml",
    "escl-slow-response.yaml", "escl-stale-empty.yaml",        "escl-stale-jam.yaml",
    "escl-xerox-404.yaml",     "escl-xerox-410.yaml",
};

START_TEST(quirk_scenarios)
{
    const char *q = quirks[_i];
    drvtest_escl e;
    drv_scan_options o;
    drv_scan_result r;
    char uri[128], hb[16];
    uint32_t sheets = strstr(q, "localhost") || strstr(q, "slow") ? 2 : 3;

    drvtest_escl_start(&e, NULL, q, 5, 0);
    snprintf(uri, sizeof(uri), "escl+http://localhost:%u/eSCL", e.port);
    opts(&o, strstr(q, "localhost") ? uri : e.uri);
    scan(&o, "q.tiff", &r);
    drvtest_escl_stop(&e);
    ck_assert_msg(r.hr == DRV_HR_END_OF_MEDIA, "%s: %s (%s)", q, drv_hr_name(r.hr, hb, sizeof(hb)),
                  r.message);
    ck_assert_uint_eq(r.pages_kept, sheets);
}
END_TEST

START_TEST(quirk_scenarios_emulator)
{
    const char *q = quirks[_i];
    drvtest_emu n;
    drv_scan_options o;
    drv_scan_result r;
    char uri[96], luri[128], hb[16];
    uint32_t sheets = strstr(q, "localhost") || strstr(q, "slow") ? 2 : 3;

    drvtest_emu_start_escl(&n, NULL, q, 5, 0, uri, sizeof(uri));
    snprintf(luri, sizeof(luri), "escl+http://localhost:%s", strrchr(uri, ':') + 1);
    opts(&o, strstr(q, "localhost") ? luri : uri);
    scan(&o, "q.tiff", &r);
    drvtest_emu_stop(&n);
    ck_assert_msg(r.hr == DRV_HR_END_OF_MEDIA, "%s: %s (%s)", q, drv_hr_name(r.hr, hb, sizeof(hb)),
                  r.message);
    ck_assert_uint_eq(r.pages_kept, sheets);
}
END_TEST

/* ---- refusals before a job ------------------------------------------------------------------ */

START_TEST(refused_before_a_job)
{
    drvtest_escl e;
    drv_scan_options o;
    drv_scan_result r;

    drvtest_escl_start(&e, NULL, NULL, 1, 0);
    opts(&o, e.uri);
    o.dpi = 123;
    ck_assert_int_eq(scan(&o, "r.tiff", &r), DRV_HR_E_INVALIDARG);
    ck_assert_ptr_nonnull(strstr(r.message, "123 dpi"));
    opts(&o, e.uri);
    o.mode = PROTO_SCAN_MODE_GRAY16;
    ck_assert_int_eq(scan(&o, "r.tiff", &r), DRV_HR_E_INVALIDARG);
    opts(&o, e.uri);
    o.width_px = 100000;
    o.height_px = 10;
    ck_assert_int_eq(scan(&o, "r.tiff", &r), DRV_HR_E_INVALIDARG);
    ck_assert(!drvtest_exists(out_path("r.tiff")));
    /* the device never saw a job: one now works */
    opts(&o, e.uri);
    o.pages = 1;
    o.width_px = 300;
    o.height_px = 200;
    ck_assert_int_eq(scan(&o, "ok.tiff", &r), DRV_HR_S_OK);
    ck_assert_uint_eq(r.job.width_px, 300);
    ck_assert_uint_eq(r.job.height_px, 200);
    drvtest_escl_stop(&e);
}
END_TEST

START_TEST(unreachable_and_bad_uri)
{
    drv_scan_options o;
    drv_scan_result r;
    char uri[96];

    snprintf(uri, sizeof(uri), "escl+http://127.0.0.1:%u/eSCL", drvtest_closed_port());
    opts(&o, uri);
    ck_assert_int_eq(scan(&o, "u.tiff", &r), DRV_HR_OFFLINE);
    ck_assert_int_eq(r.err, DRV_E_CONNECT);
    opts(&o, "escl+http://");
    scan(&o, "u.tiff", &r);
    ck_assert_int_eq(r.err, DRV_E_URI);
    opts(&o, "escl+http://h:99999/eSCL");
    scan(&o, "u.tiff", &r);
    ck_assert_int_eq(r.err, DRV_E_URI);
    /* escl+usb: no such device here (this host may have no USB at all:
     * libusb then cannot even list), a bad selector, a bad scheme. */
    opts(&o, "escl+usb:1209:7ffe");
    ck_assert_int_eq(scan(&o, "u.tiff", &r), DRV_HR_OFFLINE);
    ck_assert_msg(r.err == DRV_E_NODEV || r.err == DRV_E_CONNECT, "%s", r.message);
    opts(&o, "escl+usb:1209");
    ck_assert_int_eq(scan(&o, "u.tiff", &r), DRV_HR_E_INVALIDARG);
    ck_assert_int_eq(r.err, DRV_E_URI);
    ck_assert_ptr_nonnull(strstr(r.message, "bad escl+usb device 'escl+usb:1209'"));
    opts(&o, "escl+usbx");
    ck_assert_int_eq(scan(&o, "u.tiff", &r), DRV_HR_E_INVALIDARG);
    ck_assert_int_eq(r.err, DRV_E_URI);
}
END_TEST

/* A peer that is no eSCL scanner: a 404 for the capabilities, and garbage. */
START_TEST(not_escl)
{
    drvtest_peer p;
    drv_scan_options o;
    drv_scan_result r;
    char uri[96];

    drvtest_peer_start(&p, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    snprintf(uri, sizeof(uri), "escl+http://127.0.0.1:%u/eSCL", p.port);
    opts(&o, uri);
    ck_assert_int_eq(scan(&o, "n.tiff", &r), DRV_HR_OFFLINE);
    drvtest_peer_stop(&p);
    drvtest_peer_start(&p, "SSH-2.0-OpenSSH\r\n\r\n");
    snprintf(uri, sizeof(uri), "escl+http://127.0.0.1:%u/eSCL", p.port);
    opts(&o, uri);
    ck_assert_int_eq(scan(&o, "n.tiff", &r), DRV_HR_DEVICE_COMMUNICATION);
    ck_assert_int_eq(r.err, DRV_E_PROTO);
    drvtest_peer_stop(&p);
}
END_TEST

/* ---- the streaming decoders -------------------------------------------------------------- */

typedef struct img_sink {
    uint8_t *rows;
    size_t size;
    uint32_t w, h, last_rows;
} img_sink;

static uint8_t *sink_begin(void *ctx, uint32_t w, uint32_t h, char *err, size_t errlen)
{
    img_sink *k = ctx;

    (void)err;
    (void)errlen;
    k->w = w;
    k->h = h;
    return k->rows;
}

static void sink_rows(void *ctx, uint32_t rows)
{
    img_sink *k = ctx;

    ck_assert_uint_ge(rows, k->last_rows);
    k->last_rows = rows;
}

/* Decode buf in pieces of `piece` bytes into k->rows. */
static int decode(enum drv_img_format f, unsigned bpp, const uint8_t *buf, size_t len, size_t piece,
                  img_sink *k)
{
    drv_img_client cl = {.begin = sink_begin, .rows = sink_rows, .ctx = k};
    drv_img_dec *d;
    int rc = DRV_OK;

    memset(k->rows, 0xA5, k->size);
    k->last_rows = 0;
    ck_assert_int_eq(drv_img_dec_new(f, bpp, &cl, &d), DRV_OK);
    for (size_t off = 0; off < len && rc == DRV_OK; off += piece) {
        uint8_t *copy = malloc(piece);
        size_t n = len - off < piece ? len - off : piece;

        memcpy(copy, buf + off, n);
        rc = drv_img_dec_feed(d, copy, n);
        free(copy);
    }
    if (rc == DRV_OK)
        rc = drv_img_dec_finish(d);
    drv_img_dec_free(d);
    return rc;
}

START_TEST(decoders_in_pieces)
{
    enum { W = 203, H = 97 };
    static const size_t pieces[] = {1, 7, 100, 4096, 1 << 20};
    uint8_t *gray = malloc(W * H), *rgb = malloc(W * H * 3), *want = malloc(W * H * 3);
    img_sink k = {.rows = malloc(W * H * 3), .size = W * H * 3};
    png_image img;
    png_alloc_size_t plen = 0;
    uint8_t *pbuf;
    struct jpeg_compress_struct jc;
    struct jpeg_decompress_struct jd;
    struct jpeg_error_mgr je;
    unsigned char *jbuf = NULL;
    unsigned long jlen = 0;

    for (int i = 0; i < W * H; i++) {
        gray[i] = (uint8_t)(i * 7 + i / W);
        rgb[3 * i] = (uint8_t)i;
        rgb[3 * i + 1] = (uint8_t)(i / W * 3);
        rgb[3 * i + 2] = (uint8_t)(i % W);
    }
    /* PNG, gray and RGB: exact */
    for (int c = 0; c < 2; c++) {
        memset(&img, 0, sizeof(img));
        img.version = PNG_IMAGE_VERSION;
        img.width = W;
        img.height = H;
        img.format = c ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
        ck_assert(png_image_write_get_memory_size(img, plen, 0, c ? rgb : gray, 0, NULL));
        pbuf = malloc(plen);
        ck_assert(png_image_write_to_memory(&img, pbuf, &plen, 0, c ? rgb : gray, 0, NULL));
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
            ck_assert_int_eq(decode(DRV_IMG_PNG, c ? 24 : 8, pbuf, plen, pieces[p], &k), DRV_OK);
            ck_assert_uint_eq(k.w, W);
            ck_assert_uint_eq(k.h, H);
            ck_assert_uint_eq(k.last_rows, H);
            ck_assert(memcmp(k.rows, c ? rgb : gray, (size_t)W * H * (c ? 3 : 1)) == 0);
        }
        /* gray asked as colour: libpng converts */
        if (!c) {
            ck_assert_int_eq(decode(DRV_IMG_PNG, 24, pbuf, plen, 64, &k), DRV_OK);
            ck_assert_uint_eq(k.rows[3 * 5 + 1], gray[5]);
        }
        /* cut: not every row */
        ck_assert_int_eq(decode(DRV_IMG_PNG, 8, pbuf, plen / 2, 64, &k), DRV_E_PROTO);
        /* corrupt */
        pbuf[plen / 2] ^= 0xFF;
        ck_assert_int_eq(decode(DRV_IMG_PNG, c ? 24 : 8, pbuf, plen, 64, &k), DRV_E_PROTO);
        free(pbuf);
    }
    /* JPEG, RGB: the decode in pieces equals libjpeg's in one go */
    jc.err = jpeg_std_error(&je);
    jpeg_create_compress(&jc);
    jpeg_mem_dest(&jc, &jbuf, &jlen);
    jc.image_width = W;
    jc.image_height = H;
    jc.input_components = 3;
    jc.in_color_space = JCS_RGB;
    jpeg_set_defaults(&jc);
    jpeg_set_quality(&jc, 90, TRUE);
    jpeg_start_compress(&jc, TRUE);
    while (jc.next_scanline < H) {
        JSAMPROW row = rgb + (size_t)jc.next_scanline * W * 3;
        jpeg_write_scanlines(&jc, &row, 1);
    }
    jpeg_finish_compress(&jc);
    jpeg_destroy_compress(&jc);
    jd.err = jpeg_std_error(&je);
    jpeg_create_decompress(&jd);
    jpeg_mem_src(&jd, jbuf, jlen);
    jpeg_read_header(&jd, TRUE);
    jd.out_color_space = JCS_RGB;
    jpeg_start_decompress(&jd);
    while (jd.output_scanline < H) {
        JSAMPROW row = want + (size_t)jd.output_scanline * W * 3;
        jpeg_read_scanlines(&jd, &row, 1);
    }
    jpeg_finish_decompress(&jd);
    jpeg_destroy_decompress(&jd);
    for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
        ck_assert_int_eq(decode(DRV_IMG_JPEG, 24, jbuf, jlen, pieces[p], &k), DRV_OK);
        ck_assert_uint_eq(k.last_rows, H);
        ck_assert(memcmp(k.rows, want, (size_t)W * H * 3) == 0);
    }
    ck_assert_int_eq(decode(DRV_IMG_JPEG, 8, jbuf, jlen, 333, &k), DRV_OK); /* to gray */
    ck_assert_int_eq(decode(DRV_IMG_JPEG, 24, jbuf, jlen / 2, 333, &k), DRV_E_PROTO);
    ck_assert_int_eq(decode(DRV_IMG_JPEG, 1, jbuf, jlen, 333, &k), DRV_E_PROTO);
    ck_assert_int_eq(decode(DRV_IMG_JPEG, 24, (const uint8_t *)"garbage!", 8, 1, &k), DRV_E_PROTO);
    free(jbuf);
    free(gray);
    free(rgb);
    free(want);
    free(k.rows);
}
END_TEST

/* ---- cancel ---------------------------------------------------------------------------------- */

static volatile sig_atomic_t cancel_flag;

static void cancel_after_page(void *ctx, const drv_progress *p)
{
    (void)ctx;
    if (p->pages_done >= 1)
        cancel_flag = 1;
}

START_TEST(cancel_deletes_the_job)
{
    drvtest_emu n;
    drv_scan_options o;
    drv_scan_result r;
    char uri[96];

    drvtest_emu_start_escl(&n, NULL, NULL, 2, 1, uri, sizeof(uri));
    opts(&o, uri);
    cancel_flag = 0;
    o.cancel = &cancel_flag;
    o.progress = cancel_after_page;
    ck_assert_int_eq(scan(&o, "c.tiff", &r), DRV_HR_E_ABORT);
    ck_assert_uint_ge(r.pages_kept, 1);
    ck_assert(drvtest_exists(out_path("c.tiff")));
    /* DELETE freed the device: the next job is accepted (its first
     * NextDocument may meet a 503 while the carrier still holds the
     * abandoned page stream: retried) */
    opts(&o, uri);
    o.pages = 1;
    scan(&o, "d.tiff", &r);
    ck_assert_msg(r.hr == DRV_HR_S_OK, "%s", r.message);
    drvtest_emu_stop(&n);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("escl_driver");
    TCase *t = tcase_create("escl");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, adf_gray_pixels_and_native_identity);
    tcase_add_test(t, color_and_bw_pixels);
    tcase_add_test(t, pages_limit_deletes_the_job);
    tcase_add_loop_test(t, fault_mapping, 0, (int)(sizeof(faults) / sizeof(faults[0])));
    tcase_add_loop_test(t, quirk_scenarios, 0, (int)(sizeof(quirks) / sizeof(quirks[0])));
    tcase_add_loop_test(t, fault_mapping_emulator, 0, (int)(sizeof(faults) / sizeof(faults[0])));
    tcase_add_loop_test(t, quirk_scenarios_emulator, 0, (int)(sizeof(quirks) / sizeof(quirks[0])));
    tcase_add_test(t, emulator_escl_equals_native);
    tcase_add_test(t, refused_before_a_job);
    tcase_add_test(t, decoders_in_pieces);
    tcase_add_test(t, cancel_deletes_the_job);
    tcase_add_test(t, unreachable_and_bad_uri);
    tcase_add_test(t, not_escl);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    proto_escl_init();
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
