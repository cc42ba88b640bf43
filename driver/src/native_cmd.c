/* driver: the native protocol (docs/protocol.md) over a USB transport —
 * the command exchange, the interrupt endpoint's events and the job's
 * lifecycle; the band stream is native_bands.c.
 *
 * GET_CAPS (the request is checked against it), SET_PARAMS (the job the
 * device resolved, checked for consistency without any device model),
 * START_JOB (warm-up waited out, bounded), then the bands; ABORT after a
 * failure mid-job, so the device is idle for the next client. A command's
 * OUT that stalls is cleared (CLEAR_FEATURE ENDPOINT_HALT) and sent once
 * more; so is the read of its response.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv-internal.h"
#include "drv-session.h"

#define CMD_BUF_SIZE      (PROTO_SCAN_CMD_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD)
#define RSP_BUF_MIN       1024u
#define ABORT_TIMEOUT_MS  1000u
#define DRAIN_TIMEOUT_MS  2000u
#define MAX_WARMUP_TRIES  64
#define MAX_SKIPPED_BANDS 256

static void xfer_stamp_cb(drv_xfer *x)
{
    *(uint64_t *)x->user_data = drv_now_ns();
}

/* ---- interrupt events --------------------------------------------------------- */

static void evt_arm(drv_session *s)
{
    drv_native *n = s->priv;

    memset(&n->evt, 0, sizeof(n->evt));
    n->evt.endpoint = PROTO_SCAN_EP_EVENT_IN;
    n->evt.type = DRV_XFER_INTERRUPT;
    n->evt.buf = n->evtbuf;
    n->evt.length = sizeof(n->evtbuf);
    n->evt.callback = xfer_stamp_cb;
    n->evt.user_data = &n->evt_ns;
    n->evt_live = drv_transport_submit(n->t, &n->evt) == DRV_OK;
}

/* Consume a completed event transfer (informational: the band stream
 * carries the authoritative status) and queue the next one. */
static void evt_poll(drv_session *s)
{
    drv_native *n = s->priv;
    proto_scan_event e;

    if (!n->evt_live || n->evt.state != DRV_XFER_DONE)
        return;
    n->evt_live = 0;
    if (n->evt.status != DRV_OK) {
        if (n->evt.status != DRV_E_CANCELLED && n->evt.status != DRV_E_DISCONNECTED)
            drv_sess_log(s, "interrupt endpoint: %s; no more events", drv_strerror(n->evt.status));
        return;
    }
    if (proto_scan_event_decode(n->evtbuf, n->evt.actual, &e) >= 0)
        drv_sess_log(s, "event %u (page %u, arg %u)", e.code, e.page + 1, e.arg);
    else
        drv_sess_log(s, "malformed event (%zu bytes) ignored", n->evt.actual);
    if (!n->closing)
        evt_arm(s);
}

int drv_native_wait(drv_session *s, drv_xfer *x, unsigned timeout_ms)
{
    drv_native *n = s->priv;
    uint64_t deadline = drv_now_ns() + (uint64_t)timeout_ms * 1000000u;

    for (;;) {
        uint64_t now = drv_now_ns();
        int rc;

        evt_poll(s);
        if (drv_sess_cancelled(s))
            return DRV_E_CANCELLED;
        if (x && x->state != DRV_XFER_PENDING)
            return DRV_OK;
        if (now >= deadline)
            return DRV_E_TIMEOUT;
        rc = drv_transport_handle_events(n->t, (unsigned)((deadline - now + 999999u) / 1000000u));
        if (rc < 0 && (!x || x->state == DRV_XFER_PENDING))
            return rc;
    }
}

/* ---- commands -------------------------------------------------------------------- */

/* One command and its response. skip_bands: discard band messages that are
 * still on their way (after ABORT). Returns DRV_OK with *rsp and the payload
 * in n->inbuf + RSP_HDR_SIZE, or a DRV_E_*. */
static int sess_cmd(drv_session *s, uint16_t opcode, const void *payload, size_t plen,
                    proto_scan_rsp *rsp, unsigned timeout_ms, int skip_bands)
{
    drv_native *n = s->priv;
    uint8_t cmd[CMD_BUF_SIZE];
    proto_scan_cmd c = {.opcode = opcode, .tag = ++n->tag, .length = (uint32_t)plen};
    unsigned stalls = 0, skipped = 0;
    uint32_t magic;
    int len, rc;

    if (plen > PROTO_SCAN_MAX_PAYLOAD)
        return DRV_E_INVALID;
    len = proto_scan_cmd_encode(&c, cmd, sizeof(cmd));
    if (len < 0)
        return DRV_E_INVALID;
    if (plen)
        memcpy(cmd + len, payload, plen);
    rc = drv_transport_bulk_out(n->t, PROTO_SCAN_EP_CMD_OUT, cmd, (size_t)len + plen, timeout_ms);
    if (rc == DRV_E_STALL) {
        /* A hardware driver clears the halt and resends once. */
        drv_sess_log(s, "command %u stalled; clearing the halt and retrying once", opcode);
        rc = drv_transport_clear_halt(n->t, PROTO_SCAN_EP_CMD_OUT);
        if (rc == DRV_OK)
            rc = drv_transport_bulk_out(n->t, PROTO_SCAN_EP_CMD_OUT, cmd, (size_t)len + plen,
                                        timeout_ms);
    }
    if (rc < 0)
        return rc;
    for (;;) {
        drv_xfer *x = &n->rspx;

        if (x->state == DRV_XFER_PENDING)
            return DRV_E_IO; /* an earlier read never came back */
        memset(x, 0, sizeof(*x));
        x->endpoint = PROTO_SCAN_EP_DATA_IN;
        x->type = DRV_XFER_BULK;
        x->buf = n->inbuf;
        x->length = n->inbuf_len;
        x->callback = xfer_stamp_cb;
        x->user_data = &n->rsp_ns;
        rc = drv_transport_submit(n->t, x);
        if (rc < 0)
            return rc;
        rc = drv_native_wait(s, x, timeout_ms);
        if (rc < 0) {
            drv_transport_cancel(n->t, x);
            drv_native_wait(s, x, DRAIN_TIMEOUT_MS);
            return rc;
        }
        if (x->status == DRV_E_STALL && stalls++ == 0) {
            drv_sess_log(s, "response to command %u stalled; clearing the halt and retrying once",
                         opcode);
            rc = drv_transport_clear_halt(n->t, PROTO_SCAN_EP_DATA_IN);
            if (rc < 0)
                return rc;
            continue;
        }
        if (x->status != DRV_OK)
            return x->status;
        if (proto_scan_peek_magic(n->inbuf, x->actual, &magic) < 0)
            return DRV_E_PROTO;
        if (magic == PROTO_SCAN_MAGIC_BND && skip_bands && skipped++ < MAX_SKIPPED_BANDS)
            continue;
        if (magic != PROTO_SCAN_MAGIC_RSP || proto_scan_rsp_decode(n->inbuf, x->actual, rsp) < 0 ||
            rsp->opcode != opcode || rsp->tag != c.tag ||
            rsp->length > x->actual - PROTO_SCAN_RSP_HDR_SIZE)
            return DRV_E_PROTO;
        return DRV_OK;
    }
}

static const uint8_t *rsp_payload(drv_session *s)
{
    drv_native *n = s->priv;

    return n->inbuf + PROTO_SCAN_RSP_HDR_SIZE;
}

/* ---- job geometry ------------------------------------------------------------------ */

/* The geometry checks a real driver can make without a device model. */
static int job_check(drv_session *s, const proto_scan_job *j, char *why, size_t whylen)
{
    const drv_scan_options *o = s->o;
    unsigned bpp = proto_scan_mode_bpp(j->mode);
    uint64_t bpl, band_bytes;

    if (j->source != o->source || j->mode != o->mode || j->dpi != o->dpi) {
        snprintf(why, whylen, "source/mode/dpi %u/%u/%u, asked for %u/%u/%u", j->source, j->mode,
                 j->dpi, o->source, o->mode, o->dpi);
        return 0;
    }
    if (bpp == 0 || j->bits_per_pixel != bpp || j->width_px == 0 || j->height_px == 0 ||
        j->band_lines == 0) {
        snprintf(why, whylen, "%ux%u px, %u bpp, %u lines per band", j->width_px, j->height_px,
                 j->bits_per_pixel, j->band_lines);
        return 0;
    }
    if ((o->width_px && j->width_px != o->width_px) ||
        (o->height_px && j->height_px != o->height_px) || (o->pages && j->pages != o->pages) ||
        (o->has_seed && j->seed != o->seed)) {
        snprintf(why, whylen, "%ux%u px, %u pages, seed %llu differ from the request", j->width_px,
                 j->height_px, j->pages, (unsigned long long)j->seed);
        return 0;
    }
    bpl = ((uint64_t)j->width_px * bpp + 7) / 8;
    band_bytes = bpl * j->band_lines;
    if (j->bytes_per_line != bpl ||
        j->bands_per_page != (j->height_px + (uint64_t)j->band_lines - 1) / j->band_lines) {
        snprintf(why, whylen, "bytes_per_line %u / bands_per_page %u do not follow from the size",
                 j->bytes_per_line, j->bands_per_page);
        return 0;
    }
    if (band_bytes > PROTO_SCAN_MAX_BAND_DATA ||
        j->max_in_transfer < PROTO_SCAN_BAND_HDR_SIZE + band_bytes ||
        j->max_in_transfer > PROTO_SCAN_BAND_HDR_SIZE + PROTO_SCAN_MAX_BAND_DATA) {
        snprintf(why, whylen, "max_in_transfer %u does not fit a %llu-byte band",
                 j->max_in_transfer, (unsigned long long)band_bytes);
        return 0;
    }
    if (!drv_page_fits_wia(bpl, j->height_px)) {
        snprintf(why, whylen, "a %ux%u page does not fit a WIA transfer buffer", j->width_px,
                 j->height_px);
        return 0;
    }
    return 1;
}

static int caps_check(drv_session *s)
{
    drv_native *n = s->priv;
    const drv_scan_options *o = s->o;
    const proto_scan_caps *c = &n->caps;
    static const char *const src_names[] = {"flatbed", "adf", "duplex"};
    char list[128];
    size_t off = 0;
    unsigned i;

    if (o->source > PROTO_SCAN_SOURCE_DUPLEX || !(c->sources & (1u << o->source))) {
        drv_sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID, "the device has no %s source",
                      o->source <= PROTO_SCAN_SOURCE_DUPLEX ? src_names[o->source] : "such");
        return 0;
    }
    if (o->mode > 31 || !(c->modes & (1u << o->mode))) {
        drv_sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID, "the device cannot scan in mode %u",
                      o->mode);
        return 0;
    }
    list[0] = '\0';
    for (i = 0; i < c->n_resolutions && i < PROTO_SCAN_MAX_RESOLUTIONS; i++) {
        if (c->resolutions[i] == o->dpi)
            return 1;
        if (off < sizeof(list))
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u", i ? ", " : "",
                                    c->resolutions[i]);
    }
    drv_sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID,
                  "the device does not scan at %u dpi (it offers %s)", o->dpi, list);
    return 0;
}

/* ---- the job ------------------------------------------------------------------------ */

/* GET_CAPS, SET_PARAMS: s->job. */
static int setup_job(drv_session *s)
{
    drv_native *n = s->priv;
    proto_scan_params p;
    proto_scan_rsp rsp;
    uint8_t buf[PROTO_SCAN_MAX_PAYLOAD];
    char why[160];
    int len, rc;

    rc = sess_cmd(s, PROTO_SCAN_OP_GET_CAPS, NULL, 0, &rsp, s->o->timeout_ms, 0);
    if (rc < 0) {
        drv_sess_comm(s, rc, "GET_CAPS", NULL);
        return 0;
    }
    if (rsp.status != PROTO_SCAN_ST_OK ||
        proto_scan_caps_decode(rsp_payload(s), rsp.length, &n->caps) < 0) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "GET_CAPS answered %s without valid capabilities",
                      proto_scan_status_name(rsp.status));
        return 0;
    }
    if (!caps_check(s))
        return 0;
    memset(&p, 0, sizeof(p));
    p.source = s->o->source;
    p.mode = s->o->mode;
    p.dpi = s->o->dpi;
    p.pages = s->o->pages;
    p.width_px = s->o->width_px;
    p.height_px = s->o->height_px;
    if (s->o->has_seed) {
        p.flags |= PROTO_SCAN_PARAM_SEED;
        p.seed = s->o->seed;
    }
    len = proto_scan_params_encode(&p, buf, sizeof(buf));
    if (len < 0) {
        drv_sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID, "cannot encode the parameters");
        return 0;
    }
    rc = sess_cmd(s, PROTO_SCAN_OP_SET_PARAMS, buf, (size_t)len, &rsp, s->o->timeout_ms, 0);
    if (rc < 0) {
        drv_sess_comm(s, rc, "SET_PARAMS", NULL);
        return 0;
    }
    if (rsp.status == PROTO_SCAN_ST_INVALID_PARAM) {
        drv_sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID,
                      "the device rejected the parameters (%ux%u px at %u dpi, mode %u)",
                      p.width_px, p.height_px, p.dpi, p.mode);
        return 0;
    }
    if (rsp.status != PROTO_SCAN_ST_OK) {
        drv_sess_fail(s, drv_hr_from_status(rsp.status, 0), DRV_E_DEVICE,
                      "SET_PARAMS: device says %s", proto_scan_status_str(rsp.status));
        return 0;
    }
    if (proto_scan_job_decode(rsp_payload(s), rsp.length, &s->job) < 0) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "SET_PARAMS answered without a valid job");
        return 0;
    }
    if (!job_check(s, &s->job, why, sizeof(why))) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "the device announced an inconsistent job: %s", why);
        return 0;
    }
    s->res->job = s->job;
    s->res->have_job = 1;
    drv_sess_log(s, "job: %ux%u px, %u bpp, %u dpi, %u bands of %u lines per page, %u pages%s",
                 s->job.width_px, s->job.height_px, s->job.bits_per_pixel, s->job.dpi,
                 s->job.bands_per_page, s->job.band_lines, s->job.pages,
                 s->job.pages ? "" : " (until the feeder is empty)");
    return 1;
}

static int job_equal(const proto_scan_job *a, const proto_scan_job *b)
{
    return a->source == b->source && a->mode == b->mode && a->dpi == b->dpi &&
           a->pages == b->pages && a->width_px == b->width_px && a->height_px == b->height_px &&
           a->bits_per_pixel == b->bits_per_pixel && a->bytes_per_line == b->bytes_per_line &&
           a->band_lines == b->band_lines && a->bands_per_page == b->bands_per_page &&
           a->max_in_transfer == b->max_in_transfer && a->seed == b->seed;
}

/* Wait out a warm-up the device reported; 0 on failure (recorded). */
static int warmup_wait(drv_session *s, const proto_scan_rsp *rsp, int tries, uint64_t *waited_ms)
{
    proto_scan_devstatus ds;
    uint64_t want = 500, t_end;
    int rc;

    if (proto_scan_devstatus_decode(rsp_payload(s), rsp->length, &ds) >= 0 &&
        ds.warmup_remaining_ms > 0)
        want = ds.warmup_remaining_ms + 5; /* land just after it is warm */
    if (tries >= MAX_WARMUP_TRIES || *waited_ms >= s->o->warmup_max_ms) {
        drv_sess_fail(s, DRV_HR_WARMING_UP, DRV_E_DEVICE,
                      "the lamp was still warming up after %llu ms",
                      (unsigned long long)*waited_ms);
        return 0;
    }
    if (want > s->o->warmup_max_ms - *waited_ms)
        want = s->o->warmup_max_ms - *waited_ms;
    drv_sess_log(s, "warming up: waiting %llu ms", (unsigned long long)want);
    t_end = drv_now_ns() + want * 1000000u;
    while (drv_now_ns() < t_end) {
        rc = drv_native_wait(s, NULL, (unsigned)((t_end - drv_now_ns()) / 1000000u + 1));
        if (rc < 0 && rc != DRV_E_TIMEOUT) {
            drv_sess_comm(s, rc, "waiting for warm-up", NULL);
            return 0;
        }
    }
    *waited_ms += want;
    return 1;
}

static int native_start(drv_session *s)
{
    drv_native *n = s->priv;
    proto_scan_rsp rsp;
    proto_scan_job j;
    uint64_t waited_ms = 0;
    char why[160];
    int tries, rc;

    for (tries = 0;; tries++) {
        rc = sess_cmd(s, PROTO_SCAN_OP_START_JOB, NULL, 0, &rsp, s->o->timeout_ms, 0);
        if (rc < 0) {
            drv_sess_comm(s, rc, "START_JOB", NULL);
            return 0;
        }
        if (rsp.status != PROTO_SCAN_ST_WARMING_UP)
            break;
        if (!warmup_wait(s, &rsp, tries, &waited_ms))
            return 0;
    }
    if (rsp.status == PROTO_SCAN_ST_FEEDER_EMPTY) {
        drv_sess_fail(s, DRV_HR_PAPER_EMPTY, DRV_E_DEVICE,
                      "the feeder is empty (no sheet at the first page)");
        return 0;
    }
    if (rsp.status != PROTO_SCAN_ST_OK) {
        drv_sess_fail(s, drv_hr_from_status(rsp.status, 0), DRV_E_DEVICE, "START_JOB refused: %s",
                      proto_scan_status_str(rsp.status));
        return 0;
    }
    s->t0 = n->rsp_ns;
    n->job_running = 1;
    if (proto_scan_job_decode(rsp_payload(s), rsp.length, &j) < 0 || !job_equal(&j, &s->job) ||
        !job_check(s, &j, why, sizeof(why))) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "START_JOB announced a job other than the one SET_PARAMS resolved");
        return 0;
    }
    return 1;
}

/* Best effort after the job: take the queued reads back and, after a
 * failure mid-job, tell the device to drop the job, so it is idle for the
 * next client. */
static void native_stop(drv_session *s)
{
    drv_native *n = s->priv;
    proto_scan_rsp rsp;
    int rc;

    drv_native_ring_cancel(s);
    if (!n->job_running || !n->t)
        return;
    n->job_running = 0;
    if (s->res->err == DRV_E_DISCONNECTED)
        return;
    s->ignore_cancel = 1;
    rc = sess_cmd(s, PROTO_SCAN_OP_ABORT, NULL, 0, &rsp, ABORT_TIMEOUT_MS, 1);
    drv_sess_log(s, "ABORT: %s", rc < 0 ? drv_strerror(rc) : proto_scan_status_name(rsp.status));
}

/* The ring, the page buffers (and the transfer context) for s->job. */
static int alloc_job_buffers(drv_session *s)
{
    drv_native *n = s->priv;
    size_t xfer_len = s->job.max_in_transfer;

    int ring_ok = drv_native_ring_alloc(s);

    if (!drv_sess_alloc_pages(s) || !ring_ok) {
        n->n = 0; /* nothing was queued */
        return 0;
    }
    if (xfer_len > n->inbuf_len) {
        /* A response read may meet a band after ABORT: size it for one. */
        uint8_t *nb = realloc(n->inbuf, xfer_len);

        if (!nb)
            return 0;
        n->inbuf = nb;
        n->inbuf_len = xfer_len;
    }
    return 1;
}

static int native_open(drv_session *s, const char *uri)
{
    const drv_device_info *info;
    drv_native *n;
    char errbuf[256];
    int rc;

    n = calloc(1, sizeof(*n));
    if (!n) {
        drv_sess_fail(s, DRV_HR_E_OUTOFMEMORY, DRV_E_NOMEM, "out of memory");
        return 0;
    }
    s->priv = n;
    n->inbuf_len = RSP_BUF_MIN;
    n->inbuf = malloc(n->inbuf_len);
    if (!n->inbuf) {
        drv_sess_fail(s, DRV_HR_E_OUTOFMEMORY, DRV_E_NOMEM, "out of memory");
        return 0;
    }
    errbuf[0] = '\0';
    rc = drv_transport_open(uri, &s->o->open, &n->t, errbuf, sizeof(errbuf));
    if (rc < 0) {
        drv_sess_open_fail(s, rc, errbuf[0] ? errbuf : drv_strerror(rc));
        return 0;
    }
    info = drv_transport_info(n->t);
    s->res->device = *info;
    drv_sess_log(s, "device %04x:%04x at %s, speed %u, interface %u", info->vid, info->pid,
                 info->where, info->speed, info->interface_number);
    evt_arm(s);
    if (!setup_job(s))
        return 0;
    if (!alloc_job_buffers(s)) {
        drv_sess_fail(s, DRV_HR_E_OUTOFMEMORY, DRV_E_NOMEM,
                      "out of memory for a %zu-byte page and %u transfers", s->page_bytes,
                      s->o->in_flight);
        return 0;
    }
    drv_writer_start(s);
    return 1;
}

static void native_flush(drv_session *s)
{
    drv_native *n = s->priv;

    if (n && n->t)
        drv_transport_flush(n->t);
}

static void native_close(drv_session *s)
{
    drv_native *n = s->priv;

    if (!n)
        return;
    n->closing = 1;
    if (n->t) {
        /* An event that completed outside drv_native_wait (a jam's event
         * that comes after END_OF_JOB, while native_stop takes the band
         * reads back) was not looked at yet: report it now, then take the
         * read back. */
        evt_poll(s);
        if (n->evt_live && n->evt.state == DRV_XFER_PENDING) {
            drv_transport_cancel(n->t, &n->evt);
            drv_native_wait(s, &n->evt, DRAIN_TIMEOUT_MS);
        }
        drv_transport_close(n->t); /* completes anything left as cancelled */
    }
    drv_native_ring_free(n);
    free(n->inbuf);
    free(n);
    s->priv = NULL;
}

const drv_protocol drv_native_protocol = {
    .name = "native",
    .trace_tag = NULL,
    .wire_bands = 1,
    .open = native_open,
    .start = native_start,
    .next_page = drv_native_next_page,
    .flush = native_flush,
    .stop = native_stop,
    .close = native_close,
};
