/* driver: the eSCL protocol (drv_escl_protocol): the job over HTTP, into
 * the session's pages, write-behind and fault mapping as the native
 * protocol's (drv-session.h).
 *
 *   GET  {base}/ScannerCapabilities   parsed; the request is checked against
 *                                     it before anything starts
 *   POST {base}/ScanJobs              ScanSettings; 201 + Location
 *   GET  {job}/NextDocument           one page per call, decoded as it
 *                                     arrives (PNG preferred, then JPEG)
 *   GET  {base}/ScannerStatus         after a 404 or a cut page: why
 *   DELETE {job}                      when the driver stops a job early
 *
 * Fault mapping (docs/driver.md, "eSCL fault mapping"): NextDocument
 * 404/410 ends the job; the status then says why — ScannerAdfEmpty:
 * WIA_STATUS_END_OF_MEDIA after a page, WIA_ERROR_PAPER_EMPTY before one;
 * ScannerAdfJam: PAPER_JAM; ScannerAdfDoorOpen: COVER_OPEN;
 * ScannerAdfMultipickDetected: MULTI_FEED. A 404 while the job still reads
 * Processing is a device not ready yet (Xerox): retried. 503 is retried
 * with back-off (Retry-After honoured, capped) within the warm-up budget,
 * then WIA_ERROR_BUSY. A cut body, a reset, a timeout: the status is asked
 * once (a jam mid-page cuts the page too); otherwise
 * WIA_ERROR_DEVICE_COMMUNICATION. Pages complete before the fault stay in
 * the TIFF. An AdfState is read as the native protocol's device status
 * (adf_status), so both end a job through drv_sess_device_fault.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "drv-session.h"
#include "escl-client.h"
#include "protocol/escl.h"

#define SHORT_TIMEOUT_MS 2000u /* DELETE and the status after a failure */
#define RETRY_FIRST_MS   250u
#define RETRY_MAX_MS     2000u
#define NOT_READY_TRIES  30  /* 404/410 while the job is still Processing */
#define PROGRESS_BAND    64u /* rows per progress step and trace line */
#define SETTINGS_SIZE    4096u

typedef struct escl_job {
    drv_session *s;
    drv_http_target tgt;
    drv_http_client http;
    drv_escl_usb *usb; /* escl+usb: the device; NULL over TCP */
    proto_escl_caps_info caps;
    const proto_escl_source_info *src;
    enum drv_img_format fmt;
    char path[DRV_HTTP_PATH_SIZE]; /* the job: "/eSCL/ScanJobs/<id>" */
    int have_job;                  /* POST succeeded */
    int job_over;                  /* the device says the job ended */
    uint32_t exp_w, exp_h;         /* the size the request implies */
    int size_given;
    proto_escl_settings settings; /* what make_settings made of the request */

    /* the page being received */
    drv_img_dec *dec;
    int page_begun;
    uint64_t page_t; /* head arrival */
    uint32_t traced; /* rows traced so far */
    int dec_rc;
} escl_job;

/* ---- helpers -------------------------------------------------------------------------------- */

int drv_escl_is_uri(const char *uri)
{
    return uri != NULL && strncmp(uri, "escl+", 5) == 0;
}

static void sleep_ms(escl_job *e, unsigned ms)
{
    uint64_t end = drv_now_ns() + (uint64_t)ms * 1000000u;

    while (!drv_sess_cancelled(e->s)) {
        uint64_t now = drv_now_ns();
        struct timespec ts;
        uint64_t left;

        if (now >= end)
            break;
        left = end - now;
        if (left > 100000000u)
            left = 100000000u;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left;
        nanosleep(&ts, NULL);
    }
}

/* The HRESULT of a transport-level failure (the decoder's or the HTTP
 * client's memory too). */
static int32_t comm(escl_job *e, int rc, const char *what)
{
    if (rc == DRV_E_NOMEM)
        return drv_sess_fail(e->s, DRV_HR_E_OUTOFMEMORY, rc, "out of memory during %s", what);
    return drv_sess_comm(e->s, rc, what, e->http.err);
}

static unsigned backoff(unsigned tries, const drv_http_reply *r)
{
    unsigned ms = RETRY_FIRST_MS << (tries < 4 ? tries : 4);

    if (r->retry_after_s > 0)
        ms = r->retry_after_s * 1000u;
    return ms > RETRY_MAX_MS ? RETRY_MAX_MS : ms;
}

/* GET/DELETE/POST with 503 retried until budget_ms of waiting is used up.
 * DRV_OK with *r filled (the last answer), or the transport error. */
static int exchange_retry(escl_job *e, const char *method, const char *path, const char *body,
                          size_t blen, drv_http_reply *r, drv_http_sink sink, void *ctx,
                          unsigned budget_ms, unsigned *waited_ms)
{
    unsigned tries = 0;

    for (;;) {
        int rc = drv_http_exchange(&e->http, method, path, "text/xml", body, blen, r, sink, ctx);
        unsigned ms;

        if (rc != DRV_OK || r->status != 503)
            return rc;
        ms = backoff(tries++, r);
        if (*waited_ms >= budget_ms)
            return DRV_OK; /* the caller reports the 503 */
        if (ms > budget_ms - *waited_ms)
            ms = budget_ms - *waited_ms;
        drv_sess_log(e->s, "%s %s: 503 (busy), retrying in %u ms", method, path, ms);
        drv_http_reply_free(r);
        sleep_ms(e, ms);
        *waited_ms += ms;
        if (drv_sess_cancelled(e->s))
            return DRV_E_CANCELLED;
    }
}

static void base_path(const escl_job *e, const char *leaf, char *out, size_t len)
{
    snprintf(out, len, "%.400s/%s", e->tgt.base, leaf);
}

/* ---- capabilities and the request ------------------------------------------------------------ */

static const char *const mode_names[] = {"bw", "gray", "color", "gray16", "color48"};

static int read_caps(escl_job *e)
{
    drv_session *s = e->s;
    drv_http_reply r;
    proto_escl_diag diag;
    char path[DRV_HTTP_PATH_SIZE];
    unsigned waited = 0;
    int rc;

    base_path(e, "ScannerCapabilities", path, sizeof(path));
    rc = exchange_retry(e, "GET", path, NULL, 0, &r, NULL, NULL, s->o->warmup_max_ms, &waited);
    if (rc == DRV_E_CONNECT) {
        drv_sess_open_fail(s, rc, e->http.err);
        return 0;
    }
    if (rc != DRV_OK) {
        comm(e, rc, "GET ScannerCapabilities");
        return 0;
    }
    if (r.status == 503) {
        drv_sess_fail(s, DRV_HR_BUSY, DRV_E_BUSY,
                      "the device answered 503 (busy) to GET ScannerCapabilities for %u ms",
                      waited);
        goto out_fail;
    }
    if (r.status != 200) {
        drv_sess_fail(s, DRV_HR_OFFLINE, DRV_E_WRONG_DEVICE,
                      "GET %s answered %d %s: no eSCL scanner at %s", path, r.status,
                      proto_http_reason(r.status), e->s->res->device.where);
        goto out_fail;
    }
    rc = proto_escl_caps_parse(r.body, r.body_len, &e->caps, &diag);
    if (rc != PROTO_OK) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "the scanner's capabilities are unreadable: %s", diag.msg);
        goto out_fail;
    }
    drv_http_reply_free(&r);
    drv_sess_log(s, "eSCL %s: %s%s%s%s", e->caps.version,
                 e->caps.make_and_model[0] ? e->caps.make_and_model : "(no model)",
                 e->caps.platen.caps.present ? ", platen" : "",
                 e->caps.adf_simplex.caps.present ? ", ADF" : "",
                 e->caps.adf_duplex.caps.present ? ", duplex ADF" : "");
    return 1;

out_fail:
    drv_http_reply_free(&r);
    return 0;
}

static void list_resolutions(const proto_escl_source_info *src, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < src->caps.n_resolutions && off < len; i++)
        off +=
            (size_t)snprintf(buf + off, len - off, "%s%u", i ? ", " : "", src->caps.resolutions[i]);
    if (src->x_range.max != 0 && off < len)
        snprintf(buf + off, len - off, "%s%u..%u step %u", off ? ", " : "", src->x_range.min,
                 src->x_range.max, src->x_range.step);
}

/* 1/300 inch for px pixels at dpi: the smallest extent the device turns
 * back into px pixels (it computes extent * dpi / 300, rounded down). */
static uint32_t extent_for(uint32_t px, uint32_t dpi)
{
    return (uint32_t)(((uint64_t)px * 300u + dpi - 1) / dpi);
}

static int refuse(escl_job *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(escl_job *e, const char *fmt, ...)
{
    char msg[220];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    drv_sess_fail(e->s, DRV_HR_E_INVALIDARG, DRV_E_INVALID, "%s", msg);
    return 0;
}

/* The request against the capabilities, and the ScanSettings for it. */
static int make_settings(escl_job *e, proto_escl_settings *st)
{
    const drv_scan_options *o = e->s->o;
    const proto_escl_caps_info *c = &e->caps;
    const proto_escl_source_info *src = NULL;
    enum proto_escl_color_mode cm;
    uint32_t w300, h300;
    char list[160];

    memset(st, 0, sizeof(*st));
    switch (o->source) {
    case PROTO_SCAN_SOURCE_FLATBED:
        src = c->platen.caps.present ? &c->platen : NULL;
        st->source = PROTO_ESCL_SOURCE_PLATEN;
        break;
    case PROTO_SCAN_SOURCE_ADF:
        src = c->adf_simplex.caps.present ? &c->adf_simplex : NULL;
        st->source = PROTO_ESCL_SOURCE_FEEDER;
        break;
    case PROTO_SCAN_SOURCE_DUPLEX:
        src = c->adf_duplex.caps.present ? &c->adf_duplex
              : (c->adf_options & PROTO_ESCL_ADF_DUPLEX) && c->adf_simplex.caps.present
                  ? &c->adf_simplex
                  : NULL;
        st->source = PROTO_ESCL_SOURCE_FEEDER;
        st->duplex = true;
        st->have |= PROTO_ESCL_HAVE_DUPLEX;
        break;
    default:
        break;
    }
    if (src == NULL) {
        char have[64] = "";

        snprintf(have, sizeof(have), "%s%s%s%s%s", c->platen.caps.present ? "a platen" : "",
                 c->platen.caps.present && c->adf_simplex.caps.present ? ", " : "",
                 c->adf_simplex.caps.present ? "a feeder" : "",
                 (c->platen.caps.present || c->adf_simplex.caps.present) &&
                         c->adf_duplex.caps.present
                     ? ", "
                     : "",
                 c->adf_duplex.caps.present ? "a duplex feeder" : "");
        return refuse(e, "the scanner has no %s (it offers %s)",
                      o->source == PROTO_SCAN_SOURCE_FLATBED ? "platen"
                      : o->source == PROTO_SCAN_SOURCE_ADF   ? "document feeder"
                                                             : "duplex document feeder",
                      have);
    }
    st->have |= PROTO_ESCL_HAVE_SOURCE;
    e->src = src;

    switch (o->mode) {
    case PROTO_SCAN_MODE_BW:
        cm = PROTO_ESCL_COLOR_BW1;
        break;
    case PROTO_SCAN_MODE_GRAY8:
        cm = PROTO_ESCL_COLOR_GRAY8;
        break;
    case PROTO_SCAN_MODE_COLOR24:
        cm = PROTO_ESCL_COLOR_RGB24;
        break;
    default:
        return refuse(e, "--mode %s: this driver scans eSCL in bw, gray or color only",
                      o->mode < 5 ? mode_names[o->mode] : "?");
    }
    if (!(src->caps.color_modes & (1u << cm)))
        return refuse(e, "the scanner does not offer %s (--mode %s) on this source",
                      proto_escl_color_mode_name(cm), mode_names[o->mode]);
    st->color_mode = cm;
    st->have |= PROTO_ESCL_HAVE_COLOR_MODE;

    if (!proto_escl_source_has_resolution(src, o->dpi)) {
        list_resolutions(src, list, sizeof(list));
        return refuse(e, "the scanner does not scan at %u dpi on this source (it offers %s)",
                      o->dpi, list[0] ? list : "none");
    }
    st->x_res = st->y_res = o->dpi;
    st->have |= PROTO_ESCL_HAVE_RESOLUTION;

    if (src->caps.formats & (1u << PROTO_ESCL_FORMAT_PNG)) {
        e->fmt = DRV_IMG_PNG;
        st->format = PROTO_ESCL_FORMAT_PNG;
    } else if ((src->caps.formats & (1u << PROTO_ESCL_FORMAT_JPEG)) &&
               o->mode != PROTO_SCAN_MODE_BW) {
        e->fmt = DRV_IMG_JPEG;
        st->format = PROTO_ESCL_FORMAT_JPEG;
    } else {
        return refuse(e, "the scanner offers neither image/png nor%s image/jpeg on this source",
                      o->mode == PROTO_SCAN_MODE_BW ? " (for bw)" : "");
    }
    st->have |= PROTO_ESCL_HAVE_FORMAT | PROTO_ESCL_HAVE_FORMAT_EXT;

    w300 = o->width_px ? extent_for(o->width_px, o->dpi) : src->caps.max_width;
    h300 = o->height_px ? extent_for(o->height_px, o->dpi) : src->caps.max_height;
    if (w300 > src->caps.max_width || h300 > src->caps.max_height || w300 < src->caps.min_width ||
        h300 < src->caps.min_height)
        return refuse(e,
                      "--size %ux%u px at %u dpi is %ux%u/300 in, outside the source's "
                      "%u..%u x %u..%u/300 in",
                      o->width_px, o->height_px, o->dpi, w300, h300, src->caps.min_width,
                      src->caps.max_width, src->caps.min_height, src->caps.max_height);
    st->width = w300;
    st->height = h300;
    st->have |= PROTO_ESCL_HAVE_REGION;
    e->exp_w = (uint32_t)((uint64_t)w300 * o->dpi / 300u);
    e->exp_h = (uint32_t)((uint64_t)h300 * o->dpi / 300u);
    e->size_given = o->width_px || o->height_px;
    if (o->width_px)
        e->exp_w = o->width_px;
    if (o->height_px)
        e->exp_h = o->height_px;
    snprintf(st->version, sizeof(st->version), "%s",
             e->caps.version[0] && strlen(e->caps.version) < sizeof(st->version) &&
                     strchr(e->caps.version, ',') == NULL
                 ? e->caps.version
                 : "2.0");
    if (o->has_seed)
        drv_sess_log(e->s, "--seed %llu: eSCL has no seed; the device's own applies",
                     (unsigned long long)o->seed);
    return 1;
}

/* The job's geometry as the session's page code wants it. */
static void job_from_request(escl_job *e, uint32_t w, uint32_t h)
{
    drv_session *s = e->s;
    proto_scan_job *j = &s->job;
    unsigned bpp = proto_scan_mode_bpp(s->o->mode);

    memset(j, 0, sizeof(*j));
    j->source = s->o->source;
    j->mode = s->o->mode;
    j->dpi = s->o->dpi;
    j->pages = s->o->pages;
    j->width_px = w;
    j->height_px = h;
    j->bits_per_pixel = (uint8_t)bpp;
    j->bytes_per_line = (uint32_t)(((uint64_t)w * bpp + 7) / 8);
    j->band_lines = PROGRESS_BAND;
    j->bands_per_page = (h + PROGRESS_BAND - 1) / PROGRESS_BAND;
}

/* ---- the job -----------------------------------------------------------------------------------
 */

/* Location: an absolute URI or an absolute path; a relative one is taken
 * against {base}/ScanJobs/. */
static int job_path_from(escl_job *e, const char *loc)
{
    const char *p = loc;

    if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0) {
        p = strchr(strstr(p, "://") + 3, '/');
        if (p == NULL)
            return 0;
    }
    if (*p == '/')
        snprintf(e->path, sizeof(e->path), "%s", p);
    else if (*p)
        snprintf(e->path, sizeof(e->path), "%.400s/ScanJobs/%.90s", e->tgt.base, p);
    else
        return 0;
    for (size_t n = strlen(e->path); n > 1 && e->path[n - 1] == '/'; n--)
        e->path[n - 1] = '\0';
    return strpbrk(e->path, " \r\n") == NULL;
}

/* GET ScannerStatus, parsed; 0 if it cannot be had. */
static int read_status(escl_job *e, proto_escl_status_info *st, unsigned timeout_ms)
{
    drv_http_reply r;
    char path[DRV_HTTP_PATH_SIZE];
    unsigned saved = e->http.timeout_ms;
    int rc;

    base_path(e, "ScannerStatus", path, sizeof(path));
    e->http.timeout_ms = timeout_ms < saved ? timeout_ms : saved;
    rc = drv_http_exchange(&e->http, "GET", path, NULL, NULL, 0, &r, NULL, NULL);
    e->http.timeout_ms = saved;
    if (rc != DRV_OK || r.status != 200 ||
        proto_escl_status_parse(r.body, r.body_len, st, NULL) != PROTO_OK) {
        drv_sess_log(e->s, "ScannerStatus unavailable (%s)",
                     rc != DRV_OK ? drv_strerror(rc) : "bad answer");
        drv_http_reply_free(&r);
        return 0;
    }
    drv_http_reply_free(&r);
    return 1;
}

static void delete_job(escl_job *e)
{
    drv_http_reply r;
    unsigned saved = e->http.timeout_ms;
    const volatile sig_atomic_t *cancel = e->http.cancel;
    int rc;

    if (!e->have_job || e->job_over)
        return;
    e->job_over = 1;
    e->http.timeout_ms = SHORT_TIMEOUT_MS < saved ? SHORT_TIMEOUT_MS : saved;
    e->http.cancel = NULL; /* the DELETE is how a cancel is carried out */
    rc = drv_http_exchange(&e->http, "DELETE", e->path, NULL, NULL, 0, &r, NULL, NULL);
    e->http.timeout_ms = saved;
    e->http.cancel = cancel;
    drv_sess_log(e->s, "DELETE %s: %s", e->path,
                 rc == DRV_OK ? proto_http_reason(r.status) : drv_strerror(rc));
    drv_http_reply_free(&r);
}

/* A scanner ADF state that stops a job as the device status the native
 * protocol would carry (drv_sess_device_fault maps it), PROTO_SCAN_ST_OK if
 * it does not stop one. */
static uint32_t adf_status(enum proto_escl_adf_state a)
{
    switch (a) {
    case PROTO_ESCL_ADF_JAM:
        return PROTO_SCAN_ST_PAPER_JAM;
    case PROTO_ESCL_ADF_DOOR_OPEN:
        return PROTO_SCAN_ST_COVER_OPEN;
    case PROTO_ESCL_ADF_MULTIPICK:
        return PROTO_SCAN_ST_MULTI_FEED;
    case PROTO_ESCL_ADF_EMPTY:
        return PROTO_SCAN_ST_FEEDER_EMPTY;
    default:
        return PROTO_SCAN_ST_OK;
    }
}

static const char *adf_text(const proto_escl_status_info *st)
{
    return st->adf_state_text[0] ? st->adf_state_text : "no AdfState";
}

/* Record the end of the job the status explains. */
static void job_end_from_status(escl_job *e, const proto_escl_status_info *st,
                                const proto_escl_job_info *ji, const char *how)
{
    drv_session *s = e->s;
    uint32_t pages = s->pages_in;
    uint32_t status = adf_status(st->adf_state);

    if (status != PROTO_SCAN_ST_OK) {
        drv_sess_device_fault(s, status, "%s at page %u (%s; %s)", st->adf_state_text,
                              s->page_no + 1, how,
                              ji && ji->reason[0] ? ji->reason : "no reason given");
    } else if (ji && ji->have_state && ji->state == PROTO_ESCL_JOB_COMPLETED && pages > 0) {
        if (s->o->pages && pages < s->o->pages)
            drv_sess_fail(s, DRV_HR_END_OF_MEDIA, DRV_OK, "the job completed after %u of %u pages",
                          pages, s->o->pages);
        /* else: all pages, S_OK */
    } else if (pages == 0 && (!ji || (ji->have_state && ji->state == PROTO_ESCL_JOB_COMPLETED))) {
        drv_sess_fail(s, DRV_HR_PAPER_EMPTY, DRV_E_DEVICE,
                      "no page: the job ended before the first (%s)", adf_text(st));
    } else {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_DEVICE,
                      "the device ended the job at page %u (%s; JobState %s, %s)", s->page_no + 1,
                      how, ji && ji->have_state ? ji->state_text : "unknown", adf_text(st));
    }
}

static int start_job(escl_job *e, const proto_escl_settings *st)
{
    drv_session *s = e->s;
    char doc[SETTINGS_SIZE], path[DRV_HTTP_PATH_SIZE];
    drv_http_reply r;
    proto_escl_status_info stat;
    unsigned waited = 0;
    int n, rc;

    n = proto_escl_settings_write(st, doc, sizeof(doc));
    if (n < 0)
        return refuse(e, "cannot write the ScanSettings: %s", proto_strerror(n));
    base_path(e, "ScanJobs", path, sizeof(path));
    rc = exchange_retry(e, "POST", path, doc, (size_t)n, &r, NULL, NULL, s->o->warmup_max_ms,
                        &waited);
    if (rc != DRV_OK) {
        comm(e, rc, "POST ScanJobs");
        return 0;
    }
    if (r.status == 201 && job_path_from(e, r.location)) {
        e->have_job = 1;
        s->t0 = r.head_ns;
        drv_sess_log(s, "job %s", e->path);
        drv_http_reply_free(&r);
        return 1;
    }
    if (r.status == 201) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "POST ScanJobs answered 201 without a usable Location ('%.80s')", r.location);
    } else if (r.status == 503) {
        drv_sess_fail(s, DRV_HR_BUSY, DRV_E_BUSY,
                      "the scanner stayed busy (503) for %u ms of retries", waited);
    } else if (r.status == 409 || r.status == 400 || r.status == 406 || r.status == 415) {
        /* A refusal: a feeder fault explains it, or the settings do. */
        char why[120];

        snprintf(why, sizeof(why), "%.*s", (int)strcspn(r.body ? (char *)r.body : "", "\r\n"),
                 r.body ? (char *)r.body : "");
        if (read_status(e, &stat, SHORT_TIMEOUT_MS) &&
            adf_status(stat.adf_state) != PROTO_SCAN_ST_OK &&
            s->o->source != PROTO_SCAN_SOURCE_FLATBED) {
            job_end_from_status(e, &stat, NULL, "POST ScanJobs refused");
        } else {
            drv_sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID,
                          "the scanner refused the scan settings (%d %s)%s%s", r.status,
                          proto_http_reason(r.status), why[0] ? ": " : "", why);
        }
    } else {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_DEVICE, "POST ScanJobs answered %d %s",
                      r.status, proto_http_reason(r.status));
    }
    drv_http_reply_free(&r);
    return 0;
}

/* ---- one page ------------------------------------------------------------------------------- */

/* Host trace: one line per PROGRESS_BAND rows decoded (eSCL has no bands
 * of its own on the wire), the last band of a page shorter. */
static void trace_rows(escl_job *e, uint32_t rows)
{
    drv_session *s = e->s;
    uint64_t now = drv_now_ns();

    while (s->trace && e->traced < rows &&
           (rows - e->traced >= PROGRESS_BAND || rows == s->job.height_px)) {
        uint32_t n = rows - e->traced < PROGRESS_BAND ? rows - e->traced : PROGRESS_BAND;

        drv_sess_trace_band(s, s->page_no, drv_sess_side(s), e->traced / PROGRESS_BAND, now,
                            (uint64_t)n * s->job.bytes_per_line, "OK");
        e->traced += n;
    }
}

static void on_rows(void *ctx, uint32_t rows)
{
    escl_job *e = ctx;
    drv_session *s = e->s;
    uint32_t band = rows ? (rows - 1) / PROGRESS_BAND : 0;

    trace_rows(e, rows);
    if (s->o->progress && (rows % PROGRESS_BAND == 0 || rows == s->job.height_px))
        drv_sess_progress(s, band, s->res->bytes + (uint64_t)rows * s->job.bytes_per_line,
                          drv_now_ns());
}

static uint8_t *on_begin(void *ctx, uint32_t w, uint32_t h, char *err, size_t errlen)
{
    escl_job *e = ctx;
    drv_session *s = e->s;

    if (s->page_bytes == 0) {
        /* The first page sets the geometry (a device may round the area
         * differently); an explicit --size must be met exactly. */
        if (w == 0 || h == 0 || (e->size_given && (w != e->exp_w || h != e->exp_h))) {
            snprintf(err, errlen, "page 1 is %ux%u px, asked for %ux%u", w, h, e->exp_w, e->exp_h);
            return NULL;
        }
        if (w != e->exp_w || h != e->exp_h)
            drv_sess_log(s, "pages are %ux%u px (the area asked for is %ux%u)", w, h, e->exp_w,
                         e->exp_h);
        job_from_request(e, w, h);
        if (!drv_page_fits_wia(s->job.bytes_per_line, h)) {
            snprintf(err, errlen, "a %ux%u page does not fit a WIA transfer buffer", w, h);
            return NULL;
        }
        s->res->job = s->job;
        s->res->have_job = 1;
        if (!drv_sess_begin_pages(s)) {
            snprintf(err, errlen, "out of memory for the page buffer");
            return NULL;
        }
        drv_sess_log(s, "pages: %ux%u px, %u bpp, %u dpi, %s", w, h, s->job.bits_per_pixel,
                     s->job.dpi, e->fmt == DRV_IMG_PNG ? "PNG" : "JPEG");
    } else if (w != s->job.width_px || h != s->job.height_px) {
        snprintf(err, errlen, "page %u is %ux%u px, page 1 was %ux%u", s->page_no + 1, w, h,
                 s->job.width_px, s->job.height_px);
        return NULL;
    }
    e->page_begun = 1;
    return s->page;
}

/* Body bytes of NextDocument into the decoder. */
static int page_sink(void *ctx, const drv_http_reply *head, const uint8_t *data, size_t len)
{
    escl_job *e = ctx;
    int rc;

    if (data == NULL) {
        e->page_t = head->head_ns;
        if (head->status != 200)
            return DRV_OK; /* the body, if any, is dropped */
        {
            drv_img_client cl = {.begin = on_begin, .rows = on_rows, .ctx = e};
            enum drv_img_format f = e->fmt;

            if (strncasecmp(head->content_type, "image/jpeg", 10) == 0)
                f = DRV_IMG_JPEG;
            else if (strncasecmp(head->content_type, "image/png", 9) == 0)
                f = DRV_IMG_PNG;
            rc = drv_img_dec_new(f, proto_scan_mode_bpp(e->s->o->mode), &cl, &e->dec);
            if (rc != DRV_OK)
                return rc;
        }
        return DRV_OK;
    }
    if (head->status != 200 || e->dec == NULL)
        return DRV_OK;
    rc = drv_img_dec_feed(e->dec, data, len);
    if (rc != DRV_OK)
        e->dec_rc = rc;
    return rc;
}

enum page_result { PAGE_OK, PAGE_END, PAGE_FAIL };

/* After a page broke off (cut, reset, timeout): a fault the status names
 * wins, otherwise the communication error. */
static void page_broke(escl_job *e, int rc)
{
    drv_session *s = e->s;
    proto_escl_status_info st;
    const proto_escl_job_info *ji;
    char what[64], why[sizeof(e->http.err)];
    int have_status;

    snprintf(what, sizeof(what), "page %u", s->page_no + 1);
    /* The page's own error is the one to report, not the status read's. */
    memcpy(why, e->http.err, sizeof(why));
    have_status =
        rc != DRV_E_CANCELLED && rc != DRV_E_NOMEM && read_status(e, &st, SHORT_TIMEOUT_MS);
    memcpy(e->http.err, why, sizeof(why));
    if (have_status) {
        uint32_t status = adf_status(st.adf_state);

        ji = proto_escl_status_job(&st, e->path);
        if (status != PROTO_SCAN_ST_OK && status != PROTO_SCAN_ST_FEEDER_EMPTY) {
            e->job_over = ji && ji->have_state && ji->state != PROTO_ESCL_JOB_PROCESSING &&
                          ji->state != PROTO_ESCL_JOB_PENDING;
            drv_sess_device_fault(s, status, "%s at page %u: the page broke off (%s)",
                                  st.adf_state_text, s->page_no + 1, e->http.err);
            return;
        }
    }
    comm(e, rc, what);
}

static enum page_result next_page(escl_job *e)
{
    drv_session *s = e->s;
    char path[DRV_HTTP_PATH_SIZE + 16];
    drv_http_reply r;
    unsigned waited = 0, not_ready = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/NextDocument", e->path);
    for (;;) {
        proto_escl_status_info st;
        const proto_escl_job_info *ji;

        e->dec = NULL;
        e->page_begun = 0;
        e->dec_rc = DRV_OK;
        e->traced = 0;
        rc =
            exchange_retry(e, "GET", path, NULL, 0, &r, page_sink, e, s->o->warmup_max_ms, &waited);
        if (rc == DRV_OK && r.status == 200) {
            rc = drv_img_dec_finish(e->dec);
            if (rc != DRV_OK) {
                drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO, "page %u: %s",
                              s->page_no + 1, drv_img_dec_error(e->dec));
                goto out_fail;
            }
            drv_img_dec_free(e->dec);
            e->dec = NULL;
            drv_http_reply_free(&r);
            return PAGE_OK;
        }
        if (rc != DRV_OK) {
            if (e->dec_rc != DRV_OK)
                drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO, "page %u: %s",
                              s->page_no + 1, drv_img_dec_error(e->dec));
            else
                page_broke(e, rc);
            goto out_fail;
        }
        drv_img_dec_free(e->dec);
        e->dec = NULL;
        if (r.status == 503) {
            drv_sess_fail(s, DRV_HR_BUSY, DRV_E_BUSY,
                          "NextDocument stayed 503 (busy) for %u ms at page %u", waited,
                          s->page_no + 1);
            goto out_fail;
        }
        if (r.status != 404 && r.status != 410) {
            /* 500: the device aborted the page before its first byte (a
             * stall); the status may name a fault */
            snprintf(e->http.err, sizeof(e->http.err), "NextDocument answered %d %s", r.status,
                     proto_http_reason(r.status));
            page_broke(e, DRV_E_DEVICE);
            goto out_fail;
        }
        drv_http_reply_free(&r);
        /* 404/410: the end of the job, or a device not ready yet. */
        if (!read_status(e, &st, s->o->timeout_ms)) {
            if (s->pages_in > 0) {
                e->job_over = 1;
                return PAGE_END; /* no status: the 404 alone says the job is over */
            }
            drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_DEVICE,
                          "NextDocument answered 404 before the first page and the status "
                          "is unreadable");
            return PAGE_FAIL;
        }
        ji = proto_escl_status_job(&st, e->path);
        if (ji && ji->have_state &&
            (ji->state == PROTO_ESCL_JOB_PROCESSING || ji->state == PROTO_ESCL_JOB_PENDING) &&
            adf_status(st.adf_state) == PROTO_SCAN_ST_OK && not_ready++ < NOT_READY_TRIES) {
            unsigned ms = backoff(not_ready, &r);

            drv_sess_log(s, "NextDocument %d while the job is %s: not ready, retrying in %u ms",
                         r.status, ji->state_text, ms);
            sleep_ms(e, ms);
            if (drv_sess_cancelled(s)) {
                comm(e, DRV_E_CANCELLED, "waiting for the next page");
                return PAGE_FAIL;
            }
            continue;
        }
        e->job_over = 1;
        job_end_from_status(e, &st, ji, "NextDocument 404");
        return PAGE_END;
    }

out_fail:
    drv_img_dec_free(e->dec);
    e->dec = NULL;
    drv_http_reply_free(&r);
    return PAGE_FAIL;
}

/* ---- entry ---------------------------------------------------------------------------------- */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* Connect, read the capabilities and check the request against them: the
 * ScanSettings for start. The pages are allocated at the first page. */
static int escl_open(drv_session *s, const char *uri)
{
    escl_job *e;
    char err[200];
    int rc;

    if (strncmp(uri, "escl+http://", 12) != 0 && strncmp(uri, "escl+usb", 8) != 0) {
        drv_sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_URI,
                      "unknown eSCL transport '%s' (expected escl+http://HOST:PORT/PATH or "
                      "escl+usb[:VID:PID | :BUS.DEV][,serial=S])",
                      uri);
        return 0;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        drv_sess_fail(s, DRV_HR_E_OUTOFMEMORY, DRV_E_NOMEM, "out of memory");
        return 0;
    }
    e->s = s;
    s->priv = e;
    pthread_once(&xml_once, proto_escl_init); /* libxml2, once per process */
    e->http.target = &e->tgt;
    e->http.timeout_ms = s->o->timeout_ms;
    e->http.cancel = s->o->cancel;
    if (strncmp(uri, "escl+usb", 8) == 0) {
        if (!drv_escl_usb_connect(s, uri, &e->tgt, &e->http, &e->usb))
            return 0;
    } else {
        rc = drv_http_target_parse(uri + 12, &e->tgt, err, sizeof(err));
        if (rc != DRV_OK) {
            drv_sess_open_fail(s, rc, err);
            return 0;
        }
        snprintf(s->res->device.where, sizeof(s->res->device.where), "eSCL http://%.60s%.50s",
                 e->tgt.hostport, e->tgt.base);
    }

    return read_caps(e) && make_settings(e, &e->settings);
}

static int escl_start(drv_session *s)
{
    escl_job *e = s->priv;

    return start_job(e, &e->settings);
}

static enum drv_page_result escl_next_page(drv_session *s)
{
    escl_job *e = s->priv;

    if (s->o->pages && s->pages_in >= s->o->pages) {
        /* all pages asked for: the job is stopped (escl_stop) */
        if (s->o->source == PROTO_SCAN_SOURCE_FLATBED && !s->failed)
            e->job_over = 1; /* one page is the whole job */
        return DRV_PAGE_END;
    }
    switch (next_page(e)) {
    case PAGE_OK:
        break;
    case PAGE_END:
        return DRV_PAGE_END;
    case PAGE_FAIL:
        return DRV_PAGE_FAIL;
    }
    s->res->bytes += s->page_bytes;
    trace_rows(e, s->job.height_px);
    return DRV_PAGE_OK;
}

static void escl_stop(drv_session *s)
{
    delete_job(s->priv);
}

static void escl_close(drv_session *s)
{
    escl_job *e = s->priv;

    if (e != NULL)
        drv_escl_usb_close(e->usb);
    free(e);
    s->priv = NULL;
}

const drv_protocol drv_escl_protocol = {
    .name = "escl",
    .trace_tag = "escl",
    .wire_bands = 0,
    .open = escl_open,
    .start = escl_start,
    .next_page = escl_next_page,
    .stop = escl_stop,
    .close = escl_close,
};
