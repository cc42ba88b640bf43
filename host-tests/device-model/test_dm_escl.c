/* The eSCL front on a virtual clock: requests in, responses out, page
 * streams checked pixel for pixel against the engine's synthesis, faults
 * and quirks as a client sees them, busy across fronts. No sockets, no
 * sleeping. */
#include <check.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm-internal.h"
#include "escl-internal.h"
#include "dm/engine.h"
#include "dm/escl.h"
#include "protocol/escl.h"

#ifndef SPLIT_POST
#define SPLIT_POST 7
#endif

typedef struct harness harness;
struct harness {
    dm_clock_virtual clk;
    dm_profile *prof;
    dm_scenario *scen;
    dm_engine *eng;
    dm_escl *escl;
    char log[4096];
    /* the engine's trace: records, a hash of them, the latest release */
    uint32_t trace_n;
    uint64_t trace_hash;
    uint64_t max_late_ns;
    /* optional: called by exchange() whenever c answers WAIT, before the
     * clock moves to the deadline */
    void (*on_wait)(harness *h, dm_escl_conn *c, const dm_escl_out *o);
    void *on_wait_ctx;
};

/* FNV-1a, folding in n bytes. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (h == 0)
        h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void trace_cb(void *ctx, const dm_trace_rec *rec)
{
    harness *h = ctx;
    uint64_t v[7] = {rec->page,       rec->side,       rec->band, rec->deadline_ns,
                     rec->release_ns, rec->carrier_ns, rec->bytes};

    h->trace_n++;
    h->trace_hash = fnv(h->trace_hash, v, sizeof(v));
    if (rec->fault != NULL)
        h->trace_hash = fnv(h->trace_hash, rec->fault, strlen(rec->fault));
    if (rec->release_ns > rec->deadline_ns && rec->release_ns - rec->deadline_ns > h->max_late_ns)
        h->max_late_ns = rec->release_ns - rec->deadline_ns;
}

static char *fixture_path(const char *rel)
{
    static char buf[1024];
    const char *src = getenv("SCANEMU_SOURCE_DIR");
    snprintf(buf, sizeof(buf), "%s/fixtures/%s", src ? src : ".", rel);
    return buf;
}

static void log_cb(void *ctx, const char *line)
{
    harness *h = ctx;
    size_t n = strlen(h->log);
    snprintf(h->log + n, sizeof(h->log) - n, "%s\n", line);
}

/* Engine timing, PNG level, encode_ahead and document format of the next
 * h_init (reset by h_free). */
static int g_timing = 1;
static int g_png_level = -1; /* -1: the front's default */
static bool g_encode_ahead = true;
static const char *g_format = "image/png";

static void h_init_mem(harness *h, const char *profile, const char *scen_yaml)
{
    char err[512];
    dm_engine_config cfg;
    dm_escl_config ec;

    memset(h, 0, sizeof(*h));
    dm_clock_virtual_init(&h->clk, 1000000000ull);
    if (profile)
        ck_assert_msg(dm_profile_load_file(fixture_path(profile), &h->prof, err, sizeof(err)) ==
                          DM_OK,
                      "%s", err);
    else
        ck_assert_int_eq(dm_profile_load_default(&h->prof, err, sizeof(err)), DM_OK);
    if (scen_yaml)
        ck_assert_msg(dm_scenario_load_mem("test", scen_yaml, strlen(scen_yaml), &h->scen, err,
                                           sizeof(err)) == DM_OK,
                      "%s", err);
    dm_device_config_init(&cfg);
    cfg.profile = h->prof;
    cfg.scenario = h->scen;
    cfg.seed = 7;
    cfg.clock = &h->clk.base;
    cfg.timing = g_timing;
    cfg.trace = trace_cb;
    cfg.trace_ctx = h;
    ck_assert_int_eq(dm_engine_create(&cfg, &h->eng), DM_OK);
    dm_escl_config_init(&ec);
    ck_assert(ec.encode_ahead); /* the default */
    ec.encode_ahead = g_encode_ahead;
    if (g_png_level >= 0)
        ec.png_level = g_png_level;
    ec.engine = h->eng;
    ec.log = log_cb;
    ec.log_ctx = h;
    ck_assert_int_eq(dm_escl_create(&ec, &h->escl), DM_OK);
}

static void h_init(harness *h, const char *profile, const char *scenario)
{
    char err[512];
    char *yaml = NULL;

    if (scenario) {
        FILE *f = fopen(fixture_path(scenario), "rb");
        size_t n;
        ck_assert_msg(f != NULL, "%s", scenario);
        yaml = calloc(1, 65536);
        n = fread(yaml, 1, 65535, f);
        fclose(f);
        yaml[n] = '\0';
    }
    (void)err;
    h_init_mem(h, profile, yaml);
    free(yaml);
}

static void h_free(harness *h)
{
    dm_escl_free(h->escl);
    dm_engine_free(h->eng);
    dm_scenario_free(h->scen);
    dm_profile_free(h->prof);
    g_timing = 1;
    g_png_level = -1;
    g_encode_ahead = true;
    g_format = "image/png";
}

/* ---- one exchange ---------------------------------------------------------------------- */

typedef struct reply {
    int status;
    uint8_t *raw; /* every byte the front sent, as sent */
    size_t raw_len;
    uint64_t timeline; /* hash of (virtual time, length) of every piece sent */
    char head[4096];
    uint8_t *body; /* de-chunked */
    size_t body_len;
    bool chunked_complete; /* the terminating 0 chunk arrived */
    bool closed, reset, hung;
    uint64_t first_byte_ns;
    size_t max_piece; /* the largest DATA the front offered at once */
} reply;

static void reply_free(reply *r)
{
    free(r->raw);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Feeds `req` to c (in pieces of `piece` bytes), then drains the response,
 * advancing the virtual clock to every deadline. Never sleeps. */
static void exchange(harness *h, dm_escl_conn *c, const char *req, size_t req_len, size_t piece,
                     reply *r)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0, raw_cap = 0, off = 0;

    memset(r, 0, sizeof(*r));
    for (int guard = 0; guard < 1000000; guard++) {
        dm_escl_out o;
        if (off < req_len) {
            size_t n = req_len - off < piece ? req_len - off : piece;
            int took = dm_escl_conn_input(c, (const uint8_t *)req + off, n, h->clk.now);
            if (took < 0)
                off = req_len; /* refused: the error answer is queued */
            else
                off += (size_t)took;
            if (took > 0 && off < req_len)
                continue;
        }
        dm_escl_conn_peek(c, h->clk.now, &o);
        if (o.kind == DM_ESCL_OUT_DATA) {
            if (raw_len == 0)
                r->first_byte_ns = h->clk.now;
            if (o.len > r->max_piece)
                r->max_piece = o.len;
            if (raw_len + o.len > raw_cap) { /* geometric: pages are tens of MB */
                raw_cap = 2 * (raw_len + o.len);
                raw = realloc(raw, raw_cap);
            }
            memcpy(raw + raw_len, o.data, o.len);
            raw_len += o.len;
            {
                uint64_t sent[2] = {h->clk.now, o.len};
                r->timeline = fnv(r->timeline, sent, sizeof(sent));
            }
            dm_escl_conn_sent(c, o.len, h->clk.now);
            continue;
        }
        if (o.kind == DM_ESCL_OUT_WAIT) {
            if (o.deadline_ns == UINT64_MAX) {
                r->hung = true;
                break;
            }
            ck_assert_uint_ge(o.deadline_ns, h->clk.now);
            if (h->on_wait != NULL)
                h->on_wait(h, c, &o);
            dm_clock_virtual_set(&h->clk, o.deadline_ns);
            continue;
        }
        if (o.kind == DM_ESCL_OUT_IDLE && off < req_len)
            continue; /* leftovers of a pipelined request: offer them again */
        r->closed = o.kind == DM_ESCL_OUT_CLOSE;
        r->reset = o.kind == DM_ESCL_OUT_RESET;
        break;
    }
    /* NUL-terminated, so that the string functions below stop in it. */
    raw = realloc(raw, raw_len + 1);
    raw[raw_len] = 0;
    /* Parse status line, headers, body (Content-Length or chunked). */
    if (raw_len >= 12 && memcmp(raw, "HTTP/1.1 ", 9) == 0) {
        const uint8_t *end = NULL;
        size_t hl;
        r->status = atoi((const char *)raw + 9);
        for (size_t i = 0; i + 3 < raw_len; i++)
            if (memcmp(raw + i, "\r\n\r\n", 4) == 0) {
                end = raw + i + 4;
                break;
            }
        ck_assert_ptr_nonnull(end);
        hl = (size_t)(end - raw);
        ck_assert_uint_lt(hl, sizeof(r->head));
        memcpy(r->head, raw, hl);
        r->head[hl] = '\0';
        if (strstr(r->head, "Transfer-Encoding: chunked")) {
            const uint8_t *p = end, *lim = raw + raw_len;
            r->body = malloc(raw_len);
            while (p < lim) {
                char *e;
                unsigned long n = strtoul((const char *)p, &e, 16);
                const uint8_t *data = (const uint8_t *)strstr((const char *)p, "\r\n");
                if (data == NULL || data + 2 > lim)
                    break;
                data += 2;
                if (n == 0) {
                    r->chunked_complete = true;
                    break;
                }
                if (data + n + 2 > lim)
                    break;
                memcpy(r->body + r->body_len, data, n);
                r->body_len += n;
                p = data + n + 2;
            }
        } else {
            const char *cl = strstr(r->head, "Content-Length: ");
            size_t n = cl ? strtoul(cl + 16, NULL, 10) : 0;
            ck_assert_uint_eq(raw_len - hl, n);
            r->body = malloc(n + 1);
            memcpy(r->body, end, n);
            r->body[n] = 0;
            r->body_len = n;
        }
    }
    r->raw = raw;
    r->raw_len = raw_len;
}

static void get(harness *h, dm_escl_conn *c, const char *path, reply *r)
{
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", path);
    exchange(h, c, req, (size_t)n, 1 << 20, r);
}

#define AIRSCAN_SETTINGS_FMT                                                                       \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><scan:ScanSettings "                                \
    "xmlns:pwg=\"http://www.pwg.org/schemas/2010/12/sm\" "                                         \
    "xmlns:scan=\"http://schemas.hp.com/imaging/escl/2011/05/03\"><pwg:Version>2.0</pwg:Version>"  \
    "<pwg:ScanRegions><pwg:ScanRegion><pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches</"      \
    "pwg:ContentRegionUnits><pwg:XOffset>0</pwg:XOffset><pwg:YOffset>0</pwg:YOffset>"              \
    "<pwg:Width>%u</pwg:Width><pwg:Height>%u</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>"      \
    "<pwg:InputSource>%s</pwg:InputSource><scan:ColorMode>%s</scan:ColorMode>"                     \
    "<pwg:DocumentFormat>%s</pwg:DocumentFormat><scan:DocumentFormatExt>%s</"                      \
    "scan:DocumentFormatExt><scan:XResolution>%u</scan:XResolution><scan:YResolution>%u</"         \
    "scan:YResolution><scan:Duplex>%s</scan:Duplex></scan:ScanSettings>"

/* POST ScanJobs; returns the job path ("/eSCL/ScanJobs/<uuid>") in path. */
static int post_job(harness *h, dm_escl_conn *c, const char *src, const char *mode, unsigned dpi,
                    bool duplex, const char *host, char *path, size_t pathlen)
{
    char body[2048], req[4096];
    reply r;
    int bl = snprintf(body, sizeof(body), AIRSCAN_SETTINGS_FMT, 2480u, 3508u, src, mode, g_format,
                      g_format, dpi, dpi, duplex ? "true" : "false");
    int n = snprintf(req, sizeof(req),
                     "POST /eSCL/ScanJobs HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml\r\n"
                     "Content-Length: %d\r\n\r\n%s",
                     host, bl, body);
    int status;

    exchange(h, c, req, (size_t)n, SPLIT_POST, &r);
    status = r.status;
    if (status == 201 && path) {
        const char *loc = strstr(r.head, "Location: ");
        const char *p;
        ck_assert_ptr_nonnull(loc);
        p = strstr(loc, "/eSCL/ScanJobs/");
        ck_assert_ptr_nonnull(p);
        snprintf(path, pathlen, "%.*s", (int)strcspn(p, "\r"), p);
    }
    reply_free(&r);
    return status;
}

/* Decode a PNG body into rows of the job's native layout and compare with
 * the engine's synthesis of (page, side). */
static void check_png_page(const reply *r, const proto_scan_job *job, uint32_t page, uint32_t side)
{
    png_image img;
    uint8_t *pix;
    size_t stride;
    uint8_t *band;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_memory(&img, r->body, r->body_len), "%s", img.message);
    ck_assert_uint_eq(img.width, job->width_px);
    ck_assert_uint_eq(img.height, job->height_px);
    img.format = job->mode == PROTO_SCAN_MODE_COLOR24 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    stride = PNG_IMAGE_ROW_STRIDE(img);
    pix = malloc(PNG_IMAGE_BUFFER_SIZE(img, stride));
    ck_assert(png_image_finish_read(&img, NULL, pix, (png_int_32)stride, NULL));
    band = malloc(dm_band_bytes(job, 0));
    for (uint32_t b = 0; b < job->bands_per_page; b++) {
        uint32_t first = dm_band_first_line(job, b), lines = dm_band_lines(job, b);
        dm_synth_band(job, page, side, b, band);
        for (uint32_t y = 0; y < lines; y++) {
            const uint8_t *want = band + (size_t)y * job->bytes_per_line;
            const uint8_t *got = pix + (size_t)(first + y) * stride;
            if (job->mode == PROTO_SCAN_MODE_BW) {
                uint32_t x = 0; /* the first differing pixel; one assertion a line */
                while (x < job->width_px && (got[x] != 0) == ((want[x / 8] >> (7 - x % 8)) & 1))
                    x++;
                ck_assert_msg(x == job->width_px, "page %u line %u x %u", page, first + y, x);
            } else {
                ck_assert_msg(memcmp(want, got, job->bytes_per_line) == 0, "page %u line %u", page,
                              first + y);
            }
        }
    }
    free(band);
    free(pix);
}

static proto_scan_job job_for(harness *h, uint8_t source, uint8_t mode, uint16_t dpi)
{
    proto_scan_params p;
    proto_scan_job j;
    memset(&p, 0, sizeof(p));
    p.source = source;
    p.mode = mode;
    p.dpi = dpi;
    ck_assert_int_eq(dm_engine_resolve(h->eng, &p, &j), DM_OK);
    return j;
}

/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(caps_from_profile)
{
    harness h;
    dm_escl_conn *c;
    reply r;

    h_init(&h, NULL, NULL);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    get(&h, c, "/eSCL/ScannerCapabilities", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<scan:Platen>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<scan:AdfSimplexInputCaps>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<scan:MaxWidth>2480</scan:MaxWidth>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<scan:MaxHeight>3508</scan:MaxHeight>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<scan:XResolution>600</scan:XResolution>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "image/png"));
    ck_assert_ptr_null(strstr((char *)r.body, "application/pdf"));
    ck_assert(!r.closed);
    reply_free(&r);
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

/* A flatbed page: 201 + Location, one chunked PNG equal to the native
 * synthesis, then 404 with an empty body, and the status says Completed. */
START_TEST(flatbed_page_equals_native)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    char job[256], path[300];
    proto_scan_job nj;

    h_init(&h, NULL, NULL);
    /* Past the lamp warm-up, so the job is admitted. */
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(
        post_job(&h, c, "Platen", "Grayscale8", 75, false, "127.0.0.1:8080", job, sizeof(job)),
        201);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    get(&h, c, path, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.head, "Content-Type: image/png"));
    ck_assert(r.chunked_complete);
    nj = job_for(&h, PROTO_SCAN_SOURCE_FLATBED, PROTO_SCAN_MODE_GRAY8, 75);
    check_png_page(&r, &nj, 0, 0);
    reply_free(&r);
    get(&h, c, path, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_uint_eq(r.body_len, 0);
    reply_free(&r);
    get(&h, c, "/eSCL/ScannerStatus", &r);
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<pwg:State>Idle</pwg:State>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<pwg:JobState>Completed</pwg:JobState>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<pwg:ImagesCompleted>1</pwg:ImagesCompleted>"));
    reply_free(&r);
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

/* Bands never leave before their deadline: the first byte of a page comes
 * at or after band 0's deadline (warm-up + feed + a band's lines). */
START_TEST(page_not_before_its_deadline)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    char job[256], path[300];
    uint64_t posted;

    h_init(&h, NULL, NULL);
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    posted = h.clk.now;
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 150, false, "x", job, sizeof(job)), 201);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    get(&h, c, path, &r);
    ck_assert_int_eq(r.status, 200);
    /* feed 300 ms + 64 lines x 600 us colour = 338.4 ms at least. */
    ck_assert_uint_ge(r.first_byte_ns - posted, 300000000ull + 64ull * 600000ull - 200000ull);
    reply_free(&r);
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

/* A 2-sheet feeder: two pages, then 404 and ScannerAdfEmpty/Completed. */
START_TEST(adf_until_empty)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    char job[256], path[300];
    proto_scan_job nj;

    h_init_mem(&h, NULL, "name: two\nsheets: 2\n");
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 75, false, "x", job, sizeof(job)), 201);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    nj = job_for(&h, PROTO_SCAN_SOURCE_ADF, PROTO_SCAN_MODE_COLOR24, 75);
    for (uint32_t p = 0; p < 2; p++) {
        get(&h, c, path, &r);
        ck_assert_int_eq(r.status, 200);
        check_png_page(&r, &nj, p, 0);
        reply_free(&r);
    }
    get(&h, c, path, &r);
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    get(&h, c, "/eSCL/ScannerStatus", &r);
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<scan:AdfState>ScannerAdfEmpty</scan:AdfState>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<pwg:JobState>Completed</pwg:JobState>"));
    reply_free(&r);
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

/* Timing off, every band due at once, A4 colour 300 dpi at --png-level 0
 * (26 MB of PNG, more than a connection may queue): the page still streams
 * whole, one band's chunk at a time, and equals the native page. The same
 * for the other modes and levels: 1 (igzip inside libpng's chunks) and 6
 * (zlib through libpng, adaptive filters). */
static void untimed_page(int level, const char *mode, uint8_t pmode, unsigned dpi)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    char job[256], path[300];
    proto_scan_job nj;

    g_timing = 0;
    g_png_level = level;
    h_init_mem(&h, NULL, "name: one\nsheets: 1\n");
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", mode, dpi, false, "x", job, sizeof(job)), 201);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    nj = job_for(&h, PROTO_SCAN_SOURCE_ADF, pmode, (uint16_t)dpi);
    get(&h, c, path, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.chunked_complete, "level %d %s %u: body cut after %zu bytes", level, mode, dpi,
                  r.body_len);
    ck_assert(!r.closed);
    /* One band (at most 1 MiB of pixels here) and its framing at a time. */
    ck_assert_uint_le(r.max_piece, dm_band_bytes(&nj, 0) + (64u << 10));
    check_png_page(&r, &nj, 0, 0);
    reply_free(&r);
    get(&h, c, path, &r);
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    dm_escl_conn_free(c);
    h_free(&h);
}

START_TEST(untimed_page_streams_band_by_band)
{
    untimed_page(0, "RGB24", PROTO_SCAN_MODE_COLOR24, 300);
    untimed_page(1, "RGB24", PROTO_SCAN_MODE_COLOR24, 300); /* 2 IDATs a band */
    untimed_page(1, "Grayscale8", PROTO_SCAN_MODE_GRAY8, 150);
    untimed_page(1, "BlackAndWhite1", PROTO_SCAN_MODE_BW, 150);
    untimed_page(6, "RGB24", PROTO_SCAN_MODE_COLOR24, 75);
    untimed_page(6, "BlackAndWhite1", PROTO_SCAN_MODE_BW, 150);
}
END_TEST

/* Jam at page 3 band 5: pages 1-2 whole, page 3's body cut (no final
 * chunk, connection closed), status ScannerAdfJam + Aborted. */
START_TEST(jam_cuts_the_page)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    char job[256], path[300];

    h_init(&h, NULL, "scenarios/jam-page3-band5.yaml");
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "Grayscale8", 75, false, "x", job, sizeof(job)),
                     201);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    for (int p = 0; p < 2; p++) {
        get(&h, c, path, &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert(r.chunked_complete);
        reply_free(&r);
    }
    get(&h, c, path, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(!r.chunked_complete);
    ck_assert(r.closed);
    ck_assert_uint_gt(r.body_len, 0);
    reply_free(&r);
    dm_escl_conn_free(c);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    get(&h, c, "/eSCL/ScannerStatus", &r);
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<scan:AdfState>ScannerAdfJam</scan:AdfState>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<pwg:JobState>Aborted</pwg:JobState>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<pwg:State>Idle</pwg:State>"));
    reply_free(&r);
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

/* A job of the native front makes eSCL answer 503 and report Processing;
 * an eSCL job makes the native front BUSY. */
START_TEST(busy_across_fronts)
{
    harness h;
    dm_escl_conn *c;
    dm_device *nat;
    reply r;
    proto_scan_job j;
    char job[256];
    static const char other[] = "other front";

    h_init(&h, NULL, NULL);
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_device_create_on(h.eng, &nat), DM_OK);
    ck_assert_int_eq(dm_engine_attach(h.eng, other), DM_OK);
    ck_assert_int_eq(dm_engine_start(h.eng, other, NULL, h.clk.now, &j), DM_ST_OK);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 75, false, "x", NULL, 0), 503);
    get(&h, c, "/eSCL/ScannerStatus", &r);
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<pwg:State>Processing</pwg:State>"));
    reply_free(&r);
    ck_assert_int_eq(dm_engine_cancel(h.eng, other, h.clk.now), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 75, false, "x", job, sizeof(job)), 201);
    ck_assert_int_eq(dm_engine_start(h.eng, other, NULL, h.clk.now, &j), DM_ST_BUSY);
    dm_engine_detach(h.eng, other, h.clk.now);
    dm_escl_conn_free(c);
    dm_device_free(nat);
    h_free(&h);
}
END_TEST

/* DELETE cancels: the device is free again, the job reads Canceled. */
START_TEST(delete_cancels)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    char job[256], req[512];
    int n;

    h_init(&h, NULL, NULL);
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 75, false, "x", job, sizeof(job)), 201);
    n = snprintf(req, sizeof(req), "DELETE %s HTTP/1.1\r\nHost: x\r\n\r\n", job);
    exchange(&h, c, req, (size_t)n, 3, &r);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    get(&h, c, "/eSCL/ScannerStatus", &r);
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<pwg:JobState>Canceled</pwg:JobState>"));
    ck_assert_ptr_nonnull(strstr((char *)r.body, "<pwg:State>Idle</pwg:State>"));
    reply_free(&r);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 75, false, "x", job, sizeof(job)), 201);
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

/* Quirk: NextDocument answers 503 for the first 2 tries of each page. */
START_TEST(quirk_next_document_503)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    char job[256], path[300];

    h_init_mem(&h, NULL, "name: q\nsheets: 1\nescl:\n  next_document: {status: 503, tries: 2}\n");
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 75, false, "x", job, sizeof(job)), 201);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    for (int i = 0; i < 2; i++) {
        get(&h, c, path, &r);
        ck_assert_int_eq(r.status, 503);
        reply_free(&r);
    }
    get(&h, c, path, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(r.chunked_complete);
    reply_free(&r);
    ck_assert_ptr_nonnull(strstr(h.log, "503"));
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

/* Malformed and unknown requests get a clean 4xx; garbage closes. */
START_TEST(bad_requests)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    static const char bomb_body[] =
        "<!DOCTYPE a [<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">]>"
        "<scan:ScanSettings>&a;&a;</scan:ScanSettings>";
    char bomb[512];

    h_init(&h, NULL, NULL);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    get(&h, c, "/nope", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_uint_eq(r.body_len, 0);
    reply_free(&r);
    get(&h, c, "/eSCL/ScanJobs/no-such-job/NextDocument", &r);
    ck_assert_int_eq(r.status, 404);
    reply_free(&r);
    snprintf(bomb, sizeof(bomb),
             "POST /eSCL/ScanJobs HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(bomb_body), bomb_body);
    exchange(&h, c, bomb, strlen(bomb), 1, &r);
    ck_assert_int_eq(r.status, 400);
    reply_free(&r);
    exchange(&h, c, "DELETE /eSCL/ScannerStatus HTTP/1.1\r\nHost: x\r\n\r\n", 48, 64, &r);
    ck_assert_int_eq(r.status, 405);
    reply_free(&r);
    dm_escl_conn_free(c);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    exchange(&h, c, "\x01\x02garbage\r\n\r\n", 13, 64, &r);
    ck_assert_msg(r.status == 400 || r.status == 501, "status %d", r.status);
    ck_assert(r.closed);
    reply_free(&r);
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

/* A client that drops its connection mid-page loses that page; the job
 * goes on, and the next NextDocument is the next page, whole. */
START_TEST(abandoned_page_is_skipped)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    char job[256], path[300], req[512];
    proto_scan_job nj;
    int n, bytes = 0;

    h_init_mem(&h, NULL, "name: three\nsheets: 3\n");
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 75, false, "x", job, sizeof(job)), 201);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    ck_assert_int_eq(dm_escl_conn_input(c, (const uint8_t *)req, (size_t)n, h.clk.now), n);
    /* Take the head and the first bands of page 1, then hang up. */
    while (bytes < 3) {
        dm_escl_out o;
        dm_escl_conn_peek(c, h.clk.now, &o);
        if (o.kind == DM_ESCL_OUT_WAIT) {
            dm_clock_virtual_set(&h.clk, o.deadline_ns);
            continue;
        }
        ck_assert_int_eq(o.kind, DM_ESCL_OUT_DATA);
        dm_escl_conn_sent(c, o.len, h.clk.now);
        bytes++;
    }
    dm_escl_conn_free(c);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    get(&h, c, path, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(r.chunked_complete);
    nj = job_for(&h, PROTO_SCAN_SOURCE_ADF, PROTO_SCAN_MODE_COLOR24, 75);
    check_png_page(&r, &nj, 1, 0);
    reply_free(&r);
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

/* The scenario's escl: mapping, and its refusals naming the key. */
START_TEST(quirk_keys)
{
    static const struct {
        const char *yaml;
        const char *want; /* substring of the error; NULL = loads */
    } cases[] = {
        {"name: q\nsheets: 1\nescl:\n  next_document: {status: 500, tries: 1}\n",
         "escl.next_document.status"},
        {"name: q\nsheets: 1\nescl:\n  next_document: {status: 503}\n", "tries"},
        {"name: q\nsheets: 1\nescl:\n  stale_adf_state: open\n", "stale_adf_state"},
        {"name: q\nsheets: 1\nescl:\n  bogus: 1\n", "bogus"},
        {"name: q\nsheets: 1\nescl:\n  load_delay_ms: 0\n", "escl.load_delay_ms"},
        {"name: q\nsheets: 1\nescl:\n  make_and_model: B205\n  require_localhost: true\n", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "";
        dm_scenario *s = NULL;
        int rc = dm_scenario_load_mem("q.yaml", cases[i].yaml, strlen(cases[i].yaml), &s, err,
                                      sizeof(err));
        if (cases[i].want == NULL) {
            ck_assert_msg(rc == DM_OK, "case %zu: %s", i, err);
            ck_assert_str_eq(s->escl.make_and_model, "B205");
            ck_assert(s->escl.require_localhost);
        } else {
            ck_assert_msg(rc < 0, "case %zu loaded", i);
            ck_assert_msg(strstr(err, cases[i].want) && strstr(err, "q.yaml"), "case %zu: %s", i,
                          err);
        }
        dm_scenario_free(s);
    }
}
END_TEST

/* ---- encoding ahead (dm_escl_config.encode_ahead) ------------------------------------------ */

/* A live change made while the stream waits for band `band` of page `page`
 * (the engine's cursor), once. */
typedef struct live_plan {
    uint32_t page, band;
    const char *kind; /* a live fault; NULL: none */
    bool placed;
    uint32_t at_band; /* placed: band of `page` */
    uint32_t ms, bytes;
    double scale; /* dm_engine_live_scale too, when > 0 */
    bool clear;   /* dm_engine_live_clear after the fault */
    /* what happened */
    bool done;
    bool was_ahead; /* the band in flight had been encoded ahead */
} live_plan;

static void plan_on_wait(harness *h, dm_escl_conn *c, const dm_escl_out *o)
{
    live_plan *pl = h->on_wait_ctx;
    dm_engine_status st;
    dm_item it;
    uint64_t id;
    const uint8_t *bytes;
    size_t len;
    char err[256];

    (void)o;
    if (pl->done)
        return;
    dm_engine_status_get(h->eng, h->clk.now, &st);
    if (st.state != DM_ENGINE_PROCESSING || st.page != pl->page || st.band != pl->band)
        return;
    dm_engine_peek(h->eng, h->escl, h->clk.now, &it);
    if (it.kind != DM_ITEM_BAND || it.action != DM_ACT_WAIT)
        return;
    pl->done = true;
    pl->was_ahead = escl_conn_ahead(c, &id, &bytes, &len) && id == it.id && len > 0;
    if (pl->kind != NULL) {
        dm_live_fault f = {.kind = dm_fault_kind_parse(pl->kind),
                           .placed = pl->placed,
                           .page = pl->page,
                           .band = pl->at_band,
                           .ms = pl->ms,
                           .bytes = pl->bytes};
        ck_assert_int_ge(f.kind, 0);
        ck_assert_msg(dm_engine_live_fault(h->eng, &f, h->clk.now, NULL, err, sizeof err) == DM_OK,
                      "%s: %s", pl->kind, err);
    }
    if (pl->scale > 0)
        ck_assert_int_eq(dm_engine_live_scale(h->eng, pl->scale), DM_OK);
    if (pl->clear)
        dm_engine_live_clear(h->eng, h->clk.now);
}

/* Everything a client saw in a session, and the engine's trace of it. */
typedef struct sess {
    uint8_t *raw; /* every response, as sent, with how its connection ended */
    size_t len;
    uint64_t timeline;
    uint64_t trace_hash, max_late_ns;
    uint32_t trace_n, pages;
} sess;

static void sess_add(sess *s, const reply *r)
{
    uint8_t end[3] = {r->closed, r->reset, r->hung};

    s->raw = realloc(s->raw, s->len + r->raw_len + sizeof(end));
    memcpy(s->raw + s->len, r->raw, r->raw_len);
    memcpy(s->raw + s->len + r->raw_len, end, sizeof(end));
    s->len += r->raw_len + sizeof(end);
    s->timeline = fnv(s->timeline, &r->timeline, sizeof(r->timeline));
}

/* A client reads up to max_docs pages of one job (a connection cut or
 * reset is opened again), then the status. */
static void session(const char *scen_file, const char *scen_yaml, const char *src, const char *mode,
                    const char *format, unsigned dpi, uint32_t max_docs, bool ahead,
                    live_plan *plan, sess *out)
{
    harness h;
    dm_escl_conn *c;
    reply r;
    char job[256], path[300];

    memset(out, 0, sizeof(*out));
    g_encode_ahead = ahead;
    g_format = format;
    if (scen_file != NULL)
        h_init(&h, NULL, scen_file);
    else
        h_init_mem(&h, NULL, scen_yaml);
    if (plan != NULL) {
        h.on_wait = plan_on_wait;
        h.on_wait_ctx = plan;
    }
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, src, mode, dpi, false, "x", job, sizeof(job)), 201);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    for (uint32_t d = 0; d < max_docs; d++) {
        bool stop;
        get(&h, c, path, &r);
        sess_add(out, &r);
        if (r.status == 200 && r.chunked_complete)
            out->pages++;
        stop = r.status != 200 || r.hung;
        if (r.closed || r.reset) {
            dm_escl_conn_free(c);
            ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
        }
        reply_free(&r);
        if (stop)
            break;
    }
    {
        dm_escl_conn *c2;
        ck_assert_int_eq(dm_escl_conn_open(h.escl, &c2), DM_OK);
        get(&h, c2, "/eSCL/ScannerStatus", &r);
        sess_add(out, &r);
        reply_free(&r);
        dm_escl_conn_free(c2);
    }
    dm_escl_conn_free(c);
    h_free(&h);
    out->trace_hash = h.trace_hash;
    out->trace_n = h.trace_n;
    out->max_late_ns = h.max_late_ns;
}

static void sess_same(const sess *a, const sess *b, const char *what)
{
    ck_assert_msg(a->len == b->len, "%s: %zu bytes encoding ahead, %zu not", what, a->len, b->len);
    if (memcmp(a->raw, b->raw, a->len) != 0) {
        size_t i = 0; /* the first byte that differs; one assertion */
        while (a->raw[i] == b->raw[i])
            i++;
        ck_abort_msg("%s: byte %zu of %zu differs", what, i, a->len);
    }
    ck_assert_msg(a->timeline == b->timeline, "%s: sent at other times", what);
    ck_assert_msg(a->trace_n == b->trace_n && a->trace_hash == b->trace_hash,
                  "%s: the engine's trace differs (%u / %u records)", what, a->trace_n, b->trace_n);
    ck_assert_uint_eq(a->pages, b->pages);
}

/* Encoding ahead changes nothing a client or the trace sees: the same bytes
 * (heads, chunk framing, PNG/JPEG), at the same virtual times, with the same
 * releases, for every mode and format, with the scenario faults that cut,
 * shorten, corrupt, stall, unplug, withhold, delay and jam, and with
 * timing off (where every band is due at once and nothing is ahead). */
START_TEST(encode_ahead_same_bytes)
{
    static const struct {
        const char *file, *yaml, *src, *mode, *format;
        unsigned dpi;
        uint32_t docs;
        int timing;
    } cases[] = {
        {NULL, "name: two\nsheets: 2\n", "Feeder", "RGB24", "image/png", 150, 3, 1},
        {NULL, "name: two\nsheets: 2\n", "Feeder", "Grayscale8", "image/png", 75, 3, 1},
        {NULL, "name: two\nsheets: 2\n", "Feeder", "BlackAndWhite1", "image/png", 150, 3, 1},
        {NULL, "name: two\nsheets: 2\n", "Feeder", "RGB24", "image/jpeg", 150, 3, 1},
        {NULL, "name: two\nsheets: 2\n", "Feeder", "Grayscale8", "image/jpeg", 75, 3, 1},
        {NULL, "name: one\nsheets: 1\n", "Platen", "RGB24", "image/png", 100, 2, 1},
        {NULL, "name: two\nsheets: 2\n", "Feeder", "RGB24", "image/png", 75, 3, 0},
        {"scenarios/jam-page3-band5.yaml", NULL, "Feeder", "Grayscale8", "image/png", 75, 4, 1},
        {"scenarios/short-band.yaml", NULL, "Feeder", "Grayscale8", "image/png", 75, 4, 1},
        {"scenarios/corrupt-band.yaml", NULL, "Feeder", "RGB24", "image/jpeg", 75, 4, 1},
        {"scenarios/stall-mid-page.yaml", NULL, "Feeder", "Grayscale8", "image/png", 75, 4, 1},
        {"scenarios/disconnect-mid-page.yaml", NULL, "Feeder", "Grayscale8", "image/png", 75, 4, 1},
        {"scenarios/band-never-comes.yaml", NULL, "Feeder", "Grayscale8", "image/png", 75, 4, 1},
        {"scenarios/delay-500ms.yaml", NULL, "Feeder", "Grayscale8", "image/png", 75, 3, 1},
        {"scenarios/random-faults.yaml", NULL, "Feeder", "Grayscale8", "image/png", 75, 10, 1},
        {"scenarios/feeder-empty-after-2.yaml", NULL, "Feeder", "Grayscale8", "image/png", 75, 4,
         1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sess on, off;
        char what[160];
        snprintf(what, sizeof(what), "case %zu (%s %s %s %u dpi)", i,
                 cases[i].file ? cases[i].file : cases[i].yaml, cases[i].mode, cases[i].format,
                 cases[i].dpi);
        g_timing = cases[i].timing;
        session(cases[i].file, cases[i].yaml, cases[i].src, cases[i].mode, cases[i].format,
                cases[i].dpi, cases[i].docs, true, NULL, &on);
        g_timing = cases[i].timing;
        session(cases[i].file, cases[i].yaml, cases[i].src, cases[i].mode, cases[i].format,
                cases[i].dpi, cases[i].docs, false, NULL, &off);
        sess_same(&on, &off, what);
        ck_assert_msg(on.len > 1000, "%s: %zu bytes", what, on.len);
        free(on.raw);
        free(off.raw);
    }
}
END_TEST

/* A live change made after the band in flight was encoded ahead and before
 * its deadline gives what it gives without encoding ahead: the engine keeps
 * the band it offered (the fault lands on the next band, or the next job),
 * and a band that is then cut, shortened, withheld or unplugged was never
 * sent. */
START_TEST(encode_ahead_live_fault_before_deadline)
{
    static const live_plan plans[] = {
        {.page = 1, .band = 3, .kind = "corrupt_band"},
        {.page = 1, .band = 3, .kind = "corrupt_band", .bytes = 300},
        {.page = 1, .band = 3, .kind = "short_band"},
        {.page = 1, .band = 3, .kind = "short_band", .bytes = 100},
        {.page = 1, .band = 3, .kind = "disconnect"},
        {.page = 1, .band = 3, .kind = "band_never_comes"},
        {.page = 1, .band = 3, .kind = "stall"},
        {.page = 1, .band = 3, .kind = "paper_jam"},
        {.page = 1, .band = 3, .kind = "device_error"},
        {.page = 1, .band = 3, .kind = "cover_open"},
        {.page = 1, .band = 3, .kind = "feeder_empty"},
        {.page = 1, .band = 3, .kind = "delay", .ms = 40},
        {.page = 1, .band = 3, .kind = "disconnect", .placed = true, .at_band = 3},
        {.page = 1, .band = 3, .kind = "short_band", .placed = true, .at_band = 4},
        {.page = 1, .band = 3, .kind = "paper_jam", .placed = true, .at_band = 5},
        {.page = 1, .band = 3, .kind = "corrupt_band", .clear = true},
        {.page = 1, .band = 3, .scale = 3.0},
        {.page = 1, .band = 0, .kind = "disconnect"},
        {.page = 1, .band = 0, .kind = "paper_jam"},
        {.page = 0, .band = 0, .kind = "short_band"},
    };
    static const char three[] = "name: three\nsheets: 3\n";

    for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
        live_plan pon = plans[i], poff = plans[i];
        sess on, off;
        char what[160];
        snprintf(what, sizeof(what), "plan %zu (%s at page %u band %u)", i,
                 plans[i].kind ? plans[i].kind : "scale", plans[i].page, plans[i].band);
        session(NULL, three, "Feeder", "Grayscale8", "image/png", 75, 4, true, &pon, &on);
        session(NULL, three, "Feeder", "Grayscale8", "image/png", 75, 4, false, &poff, &off);
        ck_assert_msg(pon.done && poff.done, "%s: never armed", what);
        ck_assert_msg(pon.was_ahead, "%s: the band in flight was not encoded ahead", what);
        ck_assert_msg(!poff.was_ahead, "%s: encoded ahead with encode_ahead off", what);
        sess_same(&on, &off, what);
        free(on.raw);
        free(off.raw);
    }
}
END_TEST

/* On the virtual clock: at every WAIT of a page stream the band it waits
 * for is encoded already (its id is the engine's item, its compressed bytes
 * are held); at the deadline the front sends exactly those bytes as the
 * band's chunk, and the engine records the release at the deadline, not
 * one nanosecond after. */
START_TEST(encode_ahead_release_at_deadline)
{
    harness h;
    dm_escl_conn *c;
    char job[256], path[300], req[512];
    proto_scan_job nj;
    uint8_t *want = NULL;
    size_t want_len = 0;
    uint64_t due = 0;
    uint32_t waits = 0, chunks = 0;
    int n;

    h_init_mem(&h, NULL, "name: one\nsheets: 1\n");
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 150, false, "x", job, sizeof(job)), 201);
    nj = job_for(&h, PROTO_SCAN_SOURCE_ADF, PROTO_SCAN_MODE_COLOR24, 150);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    ck_assert_int_eq(dm_escl_conn_input(c, (const uint8_t *)req, (size_t)n, h.clk.now), n);
    for (;;) {
        dm_escl_out o;
        dm_escl_conn_peek(c, h.clk.now, &o);
        if (o.kind == DM_ESCL_OUT_WAIT) {
            dm_item it;
            uint64_t id;
            const uint8_t *bytes;
            size_t len;
            ck_assert_uint_ne(o.deadline_ns, UINT64_MAX);
            dm_engine_peek(h.eng, h.escl, h.clk.now, &it);
            ck_assert_int_eq(it.kind, DM_ITEM_BAND);
            ck_assert_int_eq(it.action, DM_ACT_WAIT);
            ck_assert_uint_eq(it.deadline_ns, o.deadline_ns);
            ck_assert_msg(escl_conn_ahead(c, &id, &bytes, &len), "band %u not ahead", it.band);
            ck_assert_uint_eq(id, it.id);
            ck_assert_uint_gt(len, 0);
            want_len = len;
            /* Asked again before the deadline: nothing is encoded twice. */
            dm_escl_conn_peek(c, h.clk.now, &o);
            ck_assert_int_eq(o.kind, DM_ESCL_OUT_WAIT);
            ck_assert(escl_conn_ahead(c, &id, &bytes, &len));
            ck_assert_uint_eq(len, want_len);
            want = realloc(want, len);
            memcpy(want, bytes, len);
            want_len = len;
            due = o.deadline_ns;
            waits++;
            dm_clock_virtual_set(&h.clk, due);
            continue;
        }
        if (o.kind != DM_ESCL_OUT_DATA)
            break;
        {
            /* The band's chunk, after the head on the first. */
            const char *p = (const char *)o.data, *body;
            char *e;
            unsigned long size;
            if (chunks == 0) {
                body = strstr(p, "\r\n\r\n");
                ck_assert_ptr_nonnull(body);
                p = body + 4;
            }
            size = strtoul(p, &e, 16);
            ck_assert(e[0] == '\r' && e[1] == '\n');
            ck_assert_uint_eq(size, want_len);
            ck_assert_mem_eq(e + 2, want, want_len);
            ck_assert_uint_eq(h.clk.now, due);
            ck_assert_uint_eq(h.max_late_ns, 0);
            chunks++;
        }
        dm_escl_conn_sent(c, o.len, h.clk.now);
    }
    ck_assert_uint_eq(waits, nj.bands_per_page);
    ck_assert_uint_eq(chunks, nj.bands_per_page);
    ck_assert_uint_eq(h.trace_n, nj.bands_per_page);
    ck_assert_uint_eq(h.max_late_ns, 0);
    free(want);
    dm_escl_conn_free(c);
    h_free(&h);

    /* Off: nothing is held ahead. */
    g_encode_ahead = false;
    h_init_mem(&h, NULL, "name: one\nsheets: 1\n");
    dm_clock_virtual_advance(&h.clk, 2000000000ull);
    ck_assert_int_eq(dm_escl_conn_open(h.escl, &c), DM_OK);
    ck_assert_int_eq(post_job(&h, c, "Feeder", "RGB24", 150, false, "x", job, sizeof(job)), 201);
    snprintf(path, sizeof(path), "%s/NextDocument", job);
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    ck_assert_int_eq(dm_escl_conn_input(c, (const uint8_t *)req, (size_t)n, h.clk.now), n);
    {
        dm_escl_out o;
        uint64_t id;
        const uint8_t *bytes;
        size_t len;
        dm_escl_conn_peek(c, h.clk.now, &o);
        ck_assert_int_eq(o.kind, DM_ESCL_OUT_WAIT);
        ck_assert(!escl_conn_ahead(c, &id, &bytes, &len));
        ck_assert_uint_eq(len, 0);
    }
    dm_escl_conn_free(c);
    h_free(&h);
}
END_TEST

static Suite *escl_suite(void)
{
    Suite *s = suite_create("escl");
    TCase *tc = tcase_create("front");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, caps_from_profile);
    tcase_add_test(tc, flatbed_page_equals_native);
    tcase_add_test(tc, page_not_before_its_deadline);
    tcase_add_test(tc, adf_until_empty);
    tcase_add_test(tc, untimed_page_streams_band_by_band);
    tcase_add_test(tc, jam_cuts_the_page);
    tcase_add_test(tc, busy_across_fronts);
    tcase_add_test(tc, delete_cancels);
    tcase_add_test(tc, quirk_next_document_503);
    tcase_add_test(tc, bad_requests);
    tcase_add_test(tc, quirk_keys);
    tcase_add_test(tc, abandoned_page_is_skipped);
    tcase_add_test(tc, encode_ahead_same_bytes);
    tcase_add_test(tc, encode_ahead_live_fault_before_deadline);
    tcase_add_test(tc, encode_ahead_release_at_deadline);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(escl_suite());
    int failed;
    proto_escl_init();
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
