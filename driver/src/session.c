/* driver: the scanner session and band -> page assembly.
 *
 * GET_CAPS, SET_PARAMS, START_JOB (warm-up waited out, bounded), then the
 * band stream with opts.in_flight bulk IN transfers queued. Transfers on one
 * endpoint complete in order, so the ring of transfers is consumed head
 * first: every completion is checked (magic, sequence, geometry, CRC-32)
 * and the transfer is queued again. A band of the page being assembled is
 * received straight into the one page buffer of the MINIDRV_TRANSFER_CONTEXT
 * (usbip; ring_submit says why that is safe), others are copied there. A
 * finished page goes to wiasWritePageBufToStream. Memory is one page plus
 * in_flight transfers, however many pages; with write-behind (the default
 * for a job of more than one page) two pages: a writer thread puts page N
 * into the stream while page N+1 is received into the other buffer, so the
 * TIFF write overlaps the band stream instead of stalling it.
 *
 * Fault mapping (DESIGN.md section 4, docs/driver.md): a device status ends
 * the job with the HRESULT drv_hr_from_status gives; a stall is cleared
 * (CLEAR_FEATURE ENDPOINT_HALT) and the read retried once; a stall that
 * comes back, a CRC/sequence/size error, a timeout (transfers cancelled) or
 * an unplug is WIA_ERROR_DEVICE_COMMUNICATION. A page is written only when
 * all its bands arrived intact.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "drv-internal.h"
#include "wias/wias.h"

#define CMD_BUF_SIZE      (PROTO_SCAN_CMD_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD)
#define RSP_BUF_MIN       1024u
#define ABORT_TIMEOUT_MS  1000u
#define DRAIN_TIMEOUT_MS  2000u
#define MAX_WARMUP_TRIES  64
#define MAX_SKIPPED_BANDS 256

_Static_assert(DRV_COMPRESSION_LZW == WIAS_COMPRESSION_LZW, "compression values agree");
_Static_assert(DRV_COMPRESSION_DEFLATE == WIAS_COMPRESSION_DEFLATE, "compression values agree");
_Static_assert(DRV_COMPRESSION_G4 == WIA_COMPRESSION_G4, "compression values agree");
_Static_assert(DRV_COMPRESSION_JPEG == WIA_COMPRESSION_JPEG, "compression values agree");
_Static_assert(DRV_HR_PAPER_JAM == WIA_ERROR_PAPER_JAM, "HRESULT values agree");
_Static_assert(DRV_HR_MULTI_FEED == WIA_ERROR_MULTI_FEED, "HRESULT values agree");
_Static_assert(DRV_HR_END_OF_MEDIA == WIA_STATUS_END_OF_MEDIA, "HRESULT values agree");

/* Per ring transfer: what its completion measured while the data was still
 * in cache. */
typedef struct ring_slot {
    uint64_t arrival; /* completion time */
    uint32_t crc;     /* proto_crc32 of the data bytes that arrived */
    int crc_ok;       /* crc covers all of them */
} ring_slot;

/* Write-behind: one thread that writes finished pages, one at a time, in
 * order, through wiasWritePageBufToStream. The page buffers form a ring:
 * the session assembles page k in pagebuf[k % npagebuf] and hands it over
 * by counting it (handed); the writer writes handed pages in order
 * (done = written + dropped). The session takes the next buffer only once
 * the writer is done with what was in it, so at most npagebuf - 1 pages wait
 * for the writer. After a failed write the writer drops what is still
 * handed to it (those pages are not in the stream). The writer is the only
 * user of the stream and the MINIDRV_TRANSFER_CONTEXT while it runs. */
/* Page buffers a write-behind job uses. Measured (20 A4 colour pages, 4
 * alternating sets of 8 runs): 3 is no faster than 2, so 2. */
#define WB_PAGES 2
typedef struct page_writer {
    pthread_t thread;
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    int running;      /* thread started, not yet joined */
    int faulting;     /* the writer is still faulting in pagebuf[1..] */
    int quit;         /* session -> writer: no more pages */
    uint32_t handed;  /* session -> writer: pages handed over */
    uint32_t done;    /* pages written or dropped */
    uint32_t written; /* pages written */
    int broken;       /* a write failed: later pages are dropped */
    int reported;     /* the failure reached the session */
    int32_t hr;       /* the failure */
    char msg[256];
} page_writer;

typedef struct drv_session {
    const drv_scan_options *o;
    drv_scan_result *res;
    drv_transport *t;
    IStream *stream;
    FILE *trace;
    uint32_t tag;
    int failed;

    uint8_t *inbuf; /* command responses */
    size_t inbuf_len;
    uint64_t rsp_ns; /* arrival of the last response */
    drv_xfer rspx;   /* the response read; lives as long as the transport */

    drv_xfer evt;
    uint8_t evtbuf[PROTO_SCAN_EVENT_SIZE];
    uint64_t evt_ns;
    int evt_live;

    proto_scan_caps caps;
    proto_scan_job job;
    int job_running; /* START_JOB accepted, END_OF_JOB not seen */

    unsigned n; /* transfers in the ring */
    drv_xfer *ring;
    ring_slot *slot;
    uint8_t *ringbuf;

    MINIDRV_TRANSFER_CONTEXT mdtc;
    uint8_t *page; /* being assembled: one of pagebuf */
    uint8_t *pagebuf[WB_PAGES];
    unsigned npagebuf; /* 1: pages written in line */
    size_t page_bytes;
    page_writer wr;
    uint32_t pages_logged; /* writer's pages already logged */

    uint64_t t0; /* START_JOB response arrival */
    uint32_t page_no, band_no;
    uint32_t pages_in;   /* pages received complete (written or being written) */
    uint32_t pages_done; /* pages in the stream */
    unsigned stall_clears;
    int ignore_cancel; /* while sending ABORT after a cancel */
    int closing;       /* no more event reads */
} drv_session;

/* ---- results and logging ------------------------------------------------------- */

static void sess_log(drv_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sess_log(drv_session *s, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    if (!s->o->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->o->log(s->o->log_ctx, line);
}

static void writer_wait(drv_session *s, uint32_t max_queued);

/* Record the first failure; later ones (during unwinding) keep it. A page
 * still being written finishes first: if that write failed, it failed
 * before whatever is reported now, and is what the job reports. */
static int32_t sess_fail(drv_session *s, int32_t hr, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int32_t sess_fail(drv_session *s, int32_t hr, int err, const char *fmt, ...)
{
    va_list ap;

    writer_wait(s, 0);
    if (s->failed)
        return s->res->hr;
    s->failed = 1;
    s->res->hr = hr;
    s->res->err = err;
    va_start(ap, fmt);
    vsnprintf(s->res->message, sizeof(s->res->message), fmt, ap);
    va_end(ap);
    return hr;
}

static int cancelled(const drv_session *s)
{
    return !s->ignore_cancel && s->o->cancel && *s->o->cancel;
}

static int32_t sess_comm(drv_session *s, int err, const char *what)
{
    if (err == DRV_E_CANCELLED && cancelled(s))
        return sess_fail(s, DRV_HR_E_ABORT, err, "cancelled during %s (page %u band %u)", what,
                         s->page_no + 1, s->band_no + 1);
    return sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, err, "%s: %s", what, drv_strerror(err));
}

static void xfer_stamp_cb(drv_xfer *x)
{
    *(uint64_t *)x->user_data = drv_now_ns();
}

/* Completion of a band transfer: the arrival time first (for the trace),
 * then the CRC-32 of whatever data arrived, while those bytes are still in
 * the cache the receive copy just filled; band_process compares it once the
 * header says how many bytes there should be. */
static void band_done_cb(drv_xfer *x)
{
    ring_slot *sl = x->user_data;
    size_t n = x->actual > PROTO_SCAN_BAND_HDR_SIZE ? x->actual - PROTO_SCAN_BAND_HDR_SIZE : 0;

    sl->arrival = drv_now_ns();
    sl->crc = 0;
    sl->crc_ok = 0;
    if (x->status != DRV_OK)
        return;
    if (!x->scattered) {
        sl->crc = proto_crc32(0, x->buf + PROTO_SCAN_BAND_HDR_SIZE, n);
        sl->crc_ok = 1;
    } else if (x->split == PROTO_SCAN_BAND_HDR_SIZE && n <= x->len2) {
        sl->crc = proto_crc32(0, x->buf2, n);
        sl->crc_ok = 1;
    } /* else longer than the band it was meant for: rejected by length */
}

/* ---- interrupt events --------------------------------------------------------- */

static void evt_arm(drv_session *s)
{
    memset(&s->evt, 0, sizeof(s->evt));
    s->evt.endpoint = PROTO_SCAN_EP_EVENT_IN;
    s->evt.type = DRV_XFER_INTERRUPT;
    s->evt.buf = s->evtbuf;
    s->evt.length = sizeof(s->evtbuf);
    s->evt.callback = xfer_stamp_cb;
    s->evt.user_data = &s->evt_ns;
    s->evt_live = s->t->ops->submit(s->t, &s->evt) == DRV_OK;
}

/* Consume a completed event transfer (informational: the band stream
 * carries the authoritative status) and queue the next one. */
static void evt_poll(drv_session *s)
{
    proto_scan_event e;

    if (!s->evt_live || s->evt.state != DRV_XFER_DONE)
        return;
    s->evt_live = 0;
    if (s->evt.status != DRV_OK) {
        if (s->evt.status != DRV_E_CANCELLED && s->evt.status != DRV_E_DISCONNECTED)
            sess_log(s, "interrupt endpoint: %s; no more events", drv_strerror(s->evt.status));
        return;
    }
    if (proto_scan_event_decode(s->evtbuf, s->evt.actual, &e) >= 0)
        sess_log(s, "event %u (page %u, arg %u)", e.code, e.page + 1, e.arg);
    else
        sess_log(s, "malformed event (%zu bytes) ignored", s->evt.actual);
    if (!s->closing)
        evt_arm(s);
}

/* Pump events until x is done or timeout_ms passed, servicing the event
 * endpoint meanwhile. */
static int sess_wait(drv_session *s, drv_xfer *x, unsigned timeout_ms)
{
    uint64_t deadline = drv_now_ns() + (uint64_t)timeout_ms * 1000000u;

    for (;;) {
        uint64_t now = drv_now_ns();
        int rc;

        evt_poll(s);
        if (cancelled(s))
            return DRV_E_CANCELLED;
        if (x && x->state != DRV_XFER_PENDING)
            return DRV_OK;
        if (now >= deadline)
            return DRV_E_TIMEOUT;
        rc = s->t->ops->handle_events(s->t, (unsigned)((deadline - now + 999999u) / 1000000u));
        if (rc < 0 && (!x || x->state == DRV_XFER_PENDING))
            return rc;
    }
}

/* Cancel every transfer still pending and wait (bounded) for them. */
static void sess_cancel_all(drv_session *s)
{
    uint64_t deadline;
    unsigned i;
    int busy;

    for (i = 0; i < s->n; i++)
        if (s->ring[i].state == DRV_XFER_PENDING)
            s->t->ops->cancel(s->t, &s->ring[i]);
    deadline = drv_now_ns() + (uint64_t)DRAIN_TIMEOUT_MS * 1000000u;
    do {
        busy = 0;
        for (i = 0; i < s->n; i++)
            busy |= s->ring[i].state == DRV_XFER_PENDING;
        if (!busy || drv_now_ns() >= deadline)
            break;
        if (s->t->ops->handle_events(s->t, 50) < 0)
            break; /* transport dead: everything completed */
    } while (1);
}

/* ---- commands -------------------------------------------------------------------- */

/* One command and its response. skip_bands: discard band messages that are
 * still on their way (after ABORT). Returns DRV_OK with *rsp and the payload
 * in s->inbuf + RSP_HDR_SIZE, or a DRV_E_*. */
static int sess_cmd(drv_session *s, uint16_t opcode, const void *payload, size_t plen,
                    proto_scan_rsp *rsp, unsigned timeout_ms, int skip_bands)
{
    uint8_t cmd[CMD_BUF_SIZE];
    proto_scan_cmd c = {.opcode = opcode, .tag = ++s->tag, .length = (uint32_t)plen};
    unsigned stalls = 0, skipped = 0;
    uint32_t magic;
    int n, rc;

    if (plen > PROTO_SCAN_MAX_PAYLOAD)
        return DRV_E_INVALID;
    n = proto_scan_cmd_encode(&c, cmd, sizeof(cmd));
    if (n < 0)
        return DRV_E_INVALID;
    if (plen)
        memcpy(cmd + n, payload, plen);
    rc = s->t->ops->bulk_out(s->t, PROTO_SCAN_EP_CMD_OUT, cmd, (size_t)n + plen, timeout_ms);
    if (rc == DRV_E_STALL) {
        /* A hardware driver clears the halt and resends once. */
        sess_log(s, "command %u stalled; clearing the halt and retrying once", opcode);
        rc = s->t->ops->clear_halt(s->t, PROTO_SCAN_EP_CMD_OUT);
        if (rc == DRV_OK)
            rc =
                s->t->ops->bulk_out(s->t, PROTO_SCAN_EP_CMD_OUT, cmd, (size_t)n + plen, timeout_ms);
    }
    if (rc < 0)
        return rc;
    for (;;) {
        drv_xfer *x = &s->rspx;

        if (x->state == DRV_XFER_PENDING)
            return DRV_E_IO; /* an earlier read never came back */
        memset(x, 0, sizeof(*x));
        x->endpoint = PROTO_SCAN_EP_DATA_IN;
        x->type = DRV_XFER_BULK;
        x->buf = s->inbuf;
        x->length = s->inbuf_len;
        x->callback = xfer_stamp_cb;
        x->user_data = &s->rsp_ns;
        rc = s->t->ops->submit(s->t, x);
        if (rc < 0)
            return rc;
        rc = sess_wait(s, x, timeout_ms);
        if (rc < 0) {
            s->t->ops->cancel(s->t, x);
            sess_wait(s, x, DRAIN_TIMEOUT_MS);
            return rc;
        }
        if (x->status == DRV_E_STALL && stalls++ == 0) {
            sess_log(s, "response to command %u stalled; clearing the halt and retrying once",
                     opcode);
            rc = s->t->ops->clear_halt(s->t, PROTO_SCAN_EP_DATA_IN);
            if (rc < 0)
                return rc;
            continue;
        }
        if (x->status != DRV_OK)
            return x->status;
        if (proto_scan_peek_magic(s->inbuf, x->actual, &magic) < 0)
            return DRV_E_PROTO;
        if (magic == PROTO_SCAN_MAGIC_BND && skip_bands && skipped++ < MAX_SKIPPED_BANDS)
            continue;
        if (magic != PROTO_SCAN_MAGIC_RSP || proto_scan_rsp_decode(s->inbuf, x->actual, rsp) < 0 ||
            rsp->opcode != opcode || rsp->tag != c.tag ||
            rsp->length > x->actual - PROTO_SCAN_RSP_HDR_SIZE)
            return DRV_E_PROTO;
        return DRV_OK;
    }
}

static const uint8_t *rsp_payload(drv_session *s)
{
    return s->inbuf + PROTO_SCAN_RSP_HDR_SIZE;
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
    if (bpl * j->height_px > INT32_MAX) {
        snprintf(why, whylen, "a %ux%u page does not fit a WIA transfer buffer", j->width_px,
                 j->height_px);
        return 0;
    }
    return 1;
}

static int caps_check(drv_session *s)
{
    const drv_scan_options *o = s->o;
    const proto_scan_caps *c = &s->caps;
    static const char *const src_names[] = {"flatbed", "adf", "duplex"};
    char list[128];
    size_t off = 0;
    unsigned i;

    if (o->source > PROTO_SCAN_SOURCE_DUPLEX || !(c->sources & (1u << o->source)))
        return sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID, "the device has no %s source",
                         o->source <= PROTO_SCAN_SOURCE_DUPLEX ? src_names[o->source] : "such"),
               0;
    if (o->mode > 31 || !(c->modes & (1u << o->mode)))
        return sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID, "the device cannot scan in mode %u",
                         o->mode),
               0;
    list[0] = '\0';
    for (i = 0; i < c->n_resolutions && i < PROTO_SCAN_MAX_RESOLUTIONS; i++) {
        if (c->resolutions[i] == o->dpi)
            return 1;
        if (off < sizeof(list))
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u", i ? ", " : "",
                                    c->resolutions[i]);
    }
    sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID,
              "the device does not scan at %u dpi (it offers %s)", o->dpi, list);
    return 0;
}

/* ---- the job ------------------------------------------------------------------------ */

static int setup_job(drv_session *s)
{
    proto_scan_params p;
    proto_scan_rsp rsp;
    uint8_t buf[PROTO_SCAN_MAX_PAYLOAD];
    char why[160];
    int n, rc;

    rc = sess_cmd(s, PROTO_SCAN_OP_GET_CAPS, NULL, 0, &rsp, s->o->timeout_ms, 0);
    if (rc < 0)
        return sess_comm(s, rc, "GET_CAPS"), 0;
    if (rsp.status != PROTO_SCAN_ST_OK ||
        proto_scan_caps_decode(rsp_payload(s), rsp.length, &s->caps) < 0)
        return sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                         "GET_CAPS answered %s without valid capabilities",
                         proto_scan_status_name(rsp.status)),
               0;
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
    n = proto_scan_params_encode(&p, buf, sizeof(buf));
    if (n < 0)
        return sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID, "cannot encode the parameters"), 0;
    rc = sess_cmd(s, PROTO_SCAN_OP_SET_PARAMS, buf, (size_t)n, &rsp, s->o->timeout_ms, 0);
    if (rc < 0)
        return sess_comm(s, rc, "SET_PARAMS"), 0;
    if (rsp.status == PROTO_SCAN_ST_INVALID_PARAM)
        return sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_INVALID,
                         "the device rejected the parameters (%ux%u px at %u dpi, mode %u)",
                         p.width_px, p.height_px, p.dpi, p.mode),
               0;
    if (rsp.status != PROTO_SCAN_ST_OK)
        return sess_fail(s, drv_hr_from_status(rsp.status, 0), DRV_E_DEVICE,
                         "SET_PARAMS: device says %s", proto_scan_status_str(rsp.status)),
               0;
    if (proto_scan_job_decode(rsp_payload(s), rsp.length, &s->job) < 0)
        return sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                         "SET_PARAMS answered without a valid job"),
               0;
    if (!job_check(s, &s->job, why, sizeof(why)))
        return sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                         "the device announced an inconsistent job: %s", why),
               0;
    s->res->job = s->job;
    s->res->have_job = 1;
    sess_log(s, "job: %ux%u px, %u bpp, %u dpi, %u bands of %u lines per page, %u pages%s",
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

static int start_job(drv_session *s)
{
    proto_scan_rsp rsp;
    proto_scan_devstatus ds;
    proto_scan_job j;
    uint64_t waited_ms = 0;
    char why[160];
    int tries, rc;

    for (tries = 0;; tries++) {
        rc = sess_cmd(s, PROTO_SCAN_OP_START_JOB, NULL, 0, &rsp, s->o->timeout_ms, 0);
        if (rc < 0)
            return sess_comm(s, rc, "START_JOB"), 0;
        if (rsp.status != PROTO_SCAN_ST_WARMING_UP)
            break;
        {
            uint64_t want = 500, t_end;

            if (proto_scan_devstatus_decode(rsp_payload(s), rsp.length, &ds) >= 0 &&
                ds.warmup_remaining_ms > 0)
                want = ds.warmup_remaining_ms + 5; /* land just after it is warm */
            if (tries >= MAX_WARMUP_TRIES || waited_ms >= s->o->warmup_max_ms)
                return sess_fail(s, DRV_HR_WARMING_UP, DRV_E_DEVICE,
                                 "the lamp was still warming up after %llu ms",
                                 (unsigned long long)waited_ms),
                       0;
            if (want > s->o->warmup_max_ms - waited_ms)
                want = s->o->warmup_max_ms - waited_ms;
            sess_log(s, "warming up: waiting %llu ms", (unsigned long long)want);
            t_end = drv_now_ns() + want * 1000000u;
            while (drv_now_ns() < t_end) {
                rc = sess_wait(s, NULL, (unsigned)((t_end - drv_now_ns()) / 1000000u + 1));
                if (rc < 0 && rc != DRV_E_TIMEOUT)
                    return sess_comm(s, rc, "waiting for warm-up"), 0;
            }
            waited_ms += want;
        }
    }
    if (rsp.status == PROTO_SCAN_ST_FEEDER_EMPTY)
        return sess_fail(s, DRV_HR_PAPER_EMPTY, DRV_E_DEVICE,
                         "the feeder is empty (no sheet at the first page)"),
               0;
    if (rsp.status != PROTO_SCAN_ST_OK)
        return sess_fail(s, drv_hr_from_status(rsp.status, 0), DRV_E_DEVICE,
                         "START_JOB refused: %s", proto_scan_status_str(rsp.status)),
               0;
    s->t0 = s->rsp_ns;
    s->job_running = 1;
    if (proto_scan_job_decode(rsp_payload(s), rsp.length, &j) < 0 || !job_equal(&j, &s->job) ||
        !job_check(s, &j, why, sizeof(why)))
        return sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                         "START_JOB announced a job other than the one SET_PARAMS resolved"),
               0;
    return 1;
}

/* ---- band stream ------------------------------------------------------------------------ */

static void trace_band(drv_session *s, const proto_scan_band *b, uint64_t arrival)
{
    if (!s->trace)
        return;
    fprintf(s->trace,
            "{\"src\":\"host\",\"page\":%u,\"side\":%u,\"band\":%u,\"arrival_ns\":%llu,"
            "\"bytes\":%u,\"status\":\"%s\"}\n",
            b->page, b->side, b->band, (unsigned long long)(arrival > s->t0 ? arrival - s->t0 : 0),
            b->byte_count, proto_scan_status_name(b->status));
}

static void swap16_if_big_endian(drv_session *s)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    /* The wire is little-endian, the page writers take host order. */
    size_t i;

    if (s->job.bits_per_pixel % 16 == 0)
        for (i = 0; i + 1 < s->page_bytes; i += 2) {
            uint8_t t = s->page[i];
            s->page[i] = s->page[i + 1];
            s->page[i + 1] = t;
        }
#else
    (void)s;
#endif
}

/* Fault in the whole pages of a fresh buffer with one madvise instead of one
 * page fault per 4 KiB on first touch: under a hypervisor each fault is an
 * exit (about 17 us on the benchmark machine, so 0.1 s for an A4 colour page
 * buffer against 6 ms here). Best effort: an older kernel (EINVAL) simply
 * faults them in later. The buffer stays an ordinary malloc block (ASan
 * still guards its ends). */
static void prefault(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t start, end;

    if (!p || pg <= 0)
        return;
    start = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    end = ((uintptr_t)p + len) & ~((uintptr_t)pg - 1);
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)len;
#endif
}

/* A page buffer: 2 MiB-aligned and, where the kernel has transparent huge
 * pages in madvise mode, backed by huge pages (MADV_HUGEPAGE), so faulting
 * in an A4 colour page is 13 faults instead of 6,400 and the receive copy
 * and the TIFF write run with 4 KiB TLB misses gone. Both are hints: the
 * buffer is ordinary memory either way (freed with free(), its end guarded
 * by ASan, which a private mmap would lose). Not prefaulted here: see
 * prefault(). The hint stays on the range after free(): if glibc served the
 * buffer from its heap, later small allocations there may get huge pages
 * too (memory use only, for a long-lived library user). */
static uint8_t *page_alloc(size_t len)
{
    const size_t huge = (size_t)2 << 20;
    void *p = NULL;

    if (len >= huge) {
        if (posix_memalign(&p, huge, len) != 0)
            return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(p, len & ~(huge - 1), MADV_HUGEPAGE);
#endif
        return p;
    }
    return malloc(len);
}

/* Write s->page through wiasWritePageBufToStream (the MINIDRV context
 * points at page). On failure fills hr and msg. */
static HRESULT put_page(drv_session *s, uint8_t *page, uint32_t page_no, char *msg, size_t msglen)
{
    WIAS_PAGE_OPTIONS po;
    IStream *stream = s->stream, *scratch = NULL;
    char lt[160] = "";
    HRESULT hr;

    memset(&po, 0, sizeof(po));
    po.cbSize = sizeof(po);
    po.pszError = lt;
    po.cchError = sizeof(lt);
    if (!stream) {
        /* Discarding: the page is encoded alone, as the first page of a
         * TIFF in memory, and dropped with it. */
        hr = wiasCreateMemoryStream(&scratch);
        if (FAILED(hr)) {
            snprintf(msg, msglen, "out of memory for page %u", page_no + 1);
            return hr;
        }
        s->mdtc.lPage = 0;
        s->mdtc.lCurIfdOffset = 0;
        s->mdtc.lPrevIfdOffset = 0;
        stream = scratch;
    }
    s->mdtc.pBaseBuffer = page;
    s->mdtc.pTransferBuffer = page;
    hr = wiasWritePageBufToStreamEx(&s->mdtc, stream, &po);
    if (FAILED(hr))
        snprintf(msg, msglen, "cannot write page %u to the TIFF%s%s", page_no + 1,
                 lt[0] ? ": " : "", lt);
    if (scratch)
        scratch->lpVtbl->Release(scratch);
    return hr;
}

static void *writer_main(void *arg)
{
    drv_session *s = arg;
    page_writer *w = &s->wr;

    /* Off the session's path: fault in the other page buffers while the
     * first page arrives (the session takes the second only after handing
     * the first page over, which waits for this). */
    for (unsigned i = 1; i < s->npagebuf; i++)
        prefault(s->pagebuf[i], s->page_bytes);
    pthread_mutex_lock(&w->mtx);
    w->faulting = 0;
    pthread_cond_broadcast(&w->cv);
    for (;;) {
        while (w->done == w->handed && !w->quit)
            pthread_cond_wait(&w->cv, &w->mtx);
        if (w->done == w->handed)
            break; /* quit, nothing left */
        if (w->broken) {
            w->done++; /* dropped */
            pthread_cond_broadcast(&w->cv);
            continue;
        }
        uint8_t *page = s->pagebuf[w->done % s->npagebuf];
        uint32_t no = w->done;
        char msg[sizeof(w->msg)];

        pthread_mutex_unlock(&w->mtx);
        HRESULT hr = put_page(s, page, no, msg, sizeof(msg));
        pthread_mutex_lock(&w->mtx);
        if (FAILED(hr)) {
            w->broken = 1;
            w->hr = hr;
            memcpy(w->msg, msg, sizeof(w->msg));
        } else {
            w->written++;
        }
        w->done++;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mtx);
    return NULL;
}

/* Start the writer when the job has more than one page buffer. If the
 * thread cannot be started the session writes pages itself. */
static void writer_start(drv_session *s)
{
    page_writer *w = &s->wr;

    if (s->npagebuf < 2)
        return;
    if (pthread_mutex_init(&w->mtx, NULL) != 0)
        return;
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mtx);
        return;
    }
    w->faulting = 1;
    /* The writer takes no signals: a SIGINT meant to cancel the scan must
     * reach the thread that polls the transport (sigaction-installed
     * handlers then see the cancel flag there). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&w->thread, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mtx);
        w->faulting = 0;
        s->npagebuf = 1;
        sess_log(s, "no writer thread; pages are written between bands");
        return;
    }
    w->running = 1;
}

/* Wait until at most max_queued handed pages are still with the writer
 * (or a write failed), then bring pages_done up to date and record a write
 * failure as the job's. Called only from the session thread. */
static void writer_wait(drv_session *s, uint32_t max_queued)
{
    page_writer *w = &s->wr;
    int32_t hr = 0;
    char msg[sizeof(w->msg)];

    if (!w->running)
        return;
    pthread_mutex_lock(&w->mtx);
    while (w->faulting || (w->handed - w->done > max_queued && !w->broken))
        pthread_cond_wait(&w->cv, &w->mtx);
    s->pages_done = w->written;
    if (w->broken && !w->reported) {
        hr = w->hr;
        memcpy(msg, w->msg, sizeof(msg));
        w->reported = 1;
    }
    pthread_mutex_unlock(&w->mtx);
    s->res->pages_kept = s->pages_done;
    for (; s->pages_logged < s->pages_done; s->pages_logged++)
        sess_log(s, "page %u written", s->pages_logged + 1);
    if (FAILED(hr) && !s->failed) {
        s->failed = 1;
        s->res->hr = hr;
        s->res->err = DRV_E_OUTPUT;
        snprintf(s->res->message, sizeof(s->res->message), "%s", msg);
    }
}

/* Finish the last page and end the thread. */
static void writer_stop(drv_session *s)
{
    page_writer *w = &s->wr;

    if (!w->running)
        return;
    writer_wait(s, 0);
    pthread_mutex_lock(&w->mtx);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mtx);
    pthread_join(w->thread, NULL); /* after a failure it drops what is left */
    w->running = 0;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mtx);
}

/* The page in s->page is complete: into the stream, now (no writer) or
 * behind (hand it to the writer and assemble the next page in the next
 * buffer of the ring once the writer is done with what it held). */
static int write_page(drv_session *s)
{
    swap16_if_big_endian(s);
    s->pages_in++;
    /* The one place a job blocks on something other than the transport
     * (the write in line, or the writer): the resubmits of bands consumed
     * since the last wait must not sit in the transport meanwhile, or the
     * device has nothing to send into. (sess_fail and writer_stop also wait
     * for the writer, but then no more bands are wanted.) */
    if (s->t->ops->flush)
        s->t->ops->flush(s->t);
    if (s->wr.running) {
        page_writer *w = &s->wr;
        uint32_t handed;

        pthread_mutex_lock(&w->mtx);
        handed = ++w->handed;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mtx);
        writer_wait(s, s->npagebuf - 1); /* the next buffer is free */
        if (s->failed)
            return 0;
        s->page = s->pagebuf[handed % s->npagebuf];
        return 1;
    }
    char msg[256];
    HRESULT hr = put_page(s, s->page, s->page_no, msg, sizeof(msg));
    if (FAILED(hr)) {
        sess_fail(s, hr, DRV_E_OUTPUT, "%s", msg);
        return 0;
    }
    s->pages_done++;
    s->res->pages_kept = s->pages_done;
    sess_log(s, "page %u written", s->pages_done);
    return 1;
}

enum band_outcome { BAND_MORE, BAND_JOB_END, BAND_FAIL };

static enum band_outcome band_process(drv_session *s, unsigned idx)
{
    const proto_scan_job *j = &s->job;
    drv_xfer *x = &s->ring[idx];
    const ring_slot *sl = &s->slot[idx];
    /* With a scatter only the header is in x->buf; the data is in buf2. */
    size_t hlen = x->actual < PROTO_SCAN_BAND_HDR_SIZE ? x->actual : PROTO_SCAN_BAND_HDR_SIZE;
    uint8_t *dst;
    proto_scan_band b;
    uint32_t magic, side, lines;
    uint64_t bytes;
    int rc;

    if (proto_scan_peek_magic(x->buf, hlen, &magic) < 0 || magic != PROTO_SCAN_MAGIC_BND) {
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                  "expected band %u of page %u, got a %zu-byte transfer that is no band",
                  s->band_no + 1, s->page_no + 1, x->actual);
        return BAND_FAIL;
    }
    rc = proto_scan_band_decode(x->buf, hlen, &b);
    if (rc < 0) {
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                  "malformed band header where band %u of page %u was due: %s", s->band_no + 1,
                  s->page_no + 1, proto_strerror(rc));
        return BAND_FAIL;
    }
    trace_band(s, &b, sl->arrival);
    if (b.flags & PROTO_SCAN_BAND_END_OF_JOB) {
        s->job_running = 0;
        if (b.status == PROTO_SCAN_ST_OK) {
            if (s->band_no != 0 || s->pages_in == 0 || (j->pages && s->pages_in != j->pages)) {
                sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                          "the device ended the job after %u of %u pages%s", s->pages_in, j->pages,
                          s->band_no ? ", in the middle of a page" : "");
                return BAND_FAIL;
            }
            return BAND_JOB_END;
        }
        if (b.status == PROTO_SCAN_ST_FEEDER_EMPTY) {
            if (s->pages_in == 0)
                sess_fail(s, DRV_HR_PAPER_EMPTY, DRV_E_DEVICE,
                          "the feeder is empty (no sheet at the first page)");
            else
                sess_fail(s, DRV_HR_END_OF_MEDIA, DRV_OK, "the feeder ran empty after page %u",
                          s->pages_in);
            return BAND_JOB_END;
        }
        sess_fail(s, drv_hr_from_status(b.status, s->pages_in), DRV_E_DEVICE,
                  "%s at page %u band %u", proto_scan_status_str(b.status), b.page + 1, b.band + 1);
        return BAND_JOB_END;
    }
    side = j->source == PROTO_SCAN_SOURCE_DUPLEX ? s->page_no % 2u : 0;
    if (b.page != s->page_no || b.band != s->band_no || b.side != side) {
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                  "out-of-sequence band: got page %u side %u band %u, expected page %u side %u "
                  "band %u",
                  b.page + 1, b.side, b.band + 1, s->page_no + 1, side, s->band_no + 1);
        return BAND_FAIL;
    }
    if (b.status != PROTO_SCAN_ST_OK) {
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                  "band %u of page %u carries status %s without ending the job", b.band + 1,
                  b.page + 1, proto_scan_status_name(b.status));
        return BAND_FAIL;
    }
    lines = j->height_px - b.band * j->band_lines;
    if (lines > j->band_lines)
        lines = j->band_lines;
    bytes = (uint64_t)lines * j->bytes_per_line;
    if (b.band >= j->bands_per_page || b.first_line != b.band * j->band_lines ||
        b.line_count != lines || b.byte_count != bytes ||
        !(b.flags & PROTO_SCAN_BAND_END_OF_PAGE) != (b.band + 1 < j->bands_per_page)) {
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                  "band %u of page %u has the wrong geometry (lines %u+%u, %u bytes, flags "
                  "0x%x)",
                  b.band + 1, b.page + 1, b.first_line, b.line_count, b.byte_count, b.flags);
        return BAND_FAIL;
    }
    if (x->actual != PROTO_SCAN_BAND_HDR_SIZE + bytes) {
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                  "band %u of page %u is %s: %zu of %llu data bytes arrived", b.band + 1,
                  b.page + 1, x->actual < PROTO_SCAN_BAND_HDR_SIZE + bytes ? "short" : "long",
                  x->actual - PROTO_SCAN_BAND_HDR_SIZE, (unsigned long long)bytes);
        return BAND_FAIL;
    }
    if (!sl->crc_ok || sl->crc != b.crc32) {
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO, "CRC mismatch in band %u of page %u",
                  b.band + 1, b.page + 1);
        return BAND_FAIL;
    }
    dst = s->page + (size_t)b.first_line * j->bytes_per_line;
    if (!x->scattered)
        memcpy(dst, x->buf + PROTO_SCAN_BAND_HDR_SIZE, (size_t)bytes);
    else if (x->buf2 != dst || x->len2 != bytes) {
        /* ring_submit aimed it at the band due then; the sequence check
         * above makes this one that band, so this cannot happen */
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_IO,
                  "internal error: band %u of page %u was received at the wrong place", b.band + 1,
                  b.page + 1);
        return BAND_FAIL;
    }
    s->res->bytes += bytes;
    s->stall_clears = 0;
    if (s->o->progress) {
        drv_progress p = {
            .page = s->page_no,
            .band = s->band_no,
            .bands_per_page = j->bands_per_page,
            .pages_done = s->pages_in,
            .pages_total = j->pages,
            .bytes = s->res->bytes,
            .page_bytes = s->page_bytes,
            .elapsed_ns = sl->arrival - s->t0,
        };
        s->o->progress(s->o->progress_ctx, &p);
    }
    s->band_no++;
    if (b.flags & PROTO_SCAN_BAND_END_OF_PAGE) {
        if (!write_page(s))
            return BAND_FAIL;
        s->page_no++;
        s->band_no = 0;
    }
    return BAND_MORE;
}

/* Queue ring transfer idx, which will carry the message `ahead` places after
 * the next band expected (transfers on one endpoint complete in order, one
 * message each). When that is a band of the page being assembled, its data
 * is received straight into the page buffer at the band's place (a backend
 * that cannot scatter fills the ring buffer and band_process copies): those
 * bytes are all written before that page's END_OF_PAGE band is processed,
 * and no transfer can complete while write_page runs (completions happen
 * only inside transport calls), so a page is never overwritten before it is
 * in the TIFF. A band of the next page goes to the ring buffer and is
 * copied when its turn comes, after the current page was written. A band
 * that turns out wrong (sequence, size, CRC) fails the job, and the only
 * bytes it can have touched are those of its own place in the page being
 * assembled, which is then dropped: a page is written only when all its
 * bands arrived intact. */
static int ring_submit(drv_session *s, unsigned idx, unsigned ahead)
{
    const proto_scan_job *j = &s->job;
    drv_xfer *x = &s->ring[idx];
    uint64_t band = (uint64_t)s->band_no + ahead;
    int rc;

    x->buf2 = NULL;
    x->split = 0;
    x->len2 = 0;
    if (band < j->bands_per_page) {
        uint64_t first = band * j->band_lines;
        uint64_t lines =
            j->height_px - first < j->band_lines ? j->height_px - first : j->band_lines;
        size_t len2 = (size_t)(lines * j->bytes_per_line);

        if (len2 > 0 && x->length > PROTO_SCAN_BAND_HDR_SIZE &&
            len2 <= x->length - PROTO_SCAN_BAND_HDR_SIZE) {
            x->buf2 = s->page + (size_t)first * j->bytes_per_line;
            x->split = PROTO_SCAN_BAND_HDR_SIZE;
            x->len2 = len2;
        }
    }
    x->state = DRV_XFER_IDLE;
    rc = s->t->ops->submit(s->t, x);
    if (rc == DRV_E_DISCONNECTED)
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, rc, "device disconnected at page %u band %u",
                  s->page_no + 1, s->band_no + 1);
    else if (rc < 0)
        sess_comm(s, rc, "queueing a bulk IN transfer");
    return rc;
}

/* The head transfer stalled. Take every queued read back, clear the halt
 * once, queue them again in order; a second stall without progress fails. */
static int ring_stalled(drv_session *s, unsigned head)
{
    unsigned i;
    int rc;

    if (s->stall_clears++ > 0) {
        sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_STALL,
                  "bulk IN stalled again after CLEAR_FEATURE(ENDPOINT_HALT) at page %u band %u",
                  s->page_no + 1, s->band_no + 1);
        return 0;
    }
    sess_log(s, "bulk IN stalled at page %u band %u; clearing the halt", s->page_no + 1,
             s->band_no + 1);
    sess_cancel_all(s);
    for (i = 0; i < s->n; i++) {
        drv_xfer *x = &s->ring[i];

        if (x->state == DRV_XFER_PENDING || (x->status == DRV_OK && i != head && x->actual > 0)) {
            /* data past a halted endpoint, or a read that never came back */
            sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "bulk IN delivered data past a stall at page %u band %u", s->page_no + 1,
                      s->band_no + 1);
            return 0;
        }
    }
    rc = s->t->ops->clear_halt(s->t, PROTO_SCAN_EP_DATA_IN);
    if (rc < 0) {
        sess_comm(s, rc, "CLEAR_FEATURE(ENDPOINT_HALT) on bulk IN");
        return 0;
    }
    for (i = 0; i < s->n; i++)
        if (ring_submit(s, (head + i) % s->n, i) < 0)
            return 0;
    return 1;
}

static void run_bands(drv_session *s)
{
    unsigned head = 0, i;
    int rc;

    for (i = 0; i < s->n; i++)
        if (ring_submit(s, i, i) < 0)
            return;
    for (;;) {
        drv_xfer *x = &s->ring[head];

        rc = sess_wait(s, x, s->o->timeout_ms);
        if (rc == DRV_E_TIMEOUT) {
            sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_TIMEOUT,
                      "no band within %u ms (page %u band %u); transfers cancelled",
                      s->o->timeout_ms, s->page_no + 1, s->band_no + 1);
            return;
        }
        if (rc < 0) {
            sess_comm(s, rc, "the band stream");
            return;
        }
        if (x->status == DRV_E_STALL) {
            if (!ring_stalled(s, head))
                return;
            continue; /* the same head, queued again */
        }
        if (x->status != DRV_OK) {
            sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, x->status, "%s at page %u band %u",
                      x->status == DRV_E_DISCONNECTED ? "device disconnected"
                                                      : drv_strerror(x->status),
                      s->page_no + 1, s->band_no + 1);
            return;
        }
        switch (band_process(s, head)) {
        case BAND_MORE:
            break;
        case BAND_JOB_END:
        case BAND_FAIL:
            return;
        }
        /* band_process moved the expectation on to the band this ring's
         * next transfer (head + 1) carries; this one comes n - 1 after it */
        if (ring_submit(s, head, s->n - 1) < 0)
            return;
        head = (head + 1) % s->n;
    }
}

/* Best effort after a failure mid-job: take the queued reads back and tell
 * the device to drop the job, so it is idle for the next client. */
static void abort_job(drv_session *s)
{
    proto_scan_rsp rsp;
    int rc;

    sess_cancel_all(s);
    if (!s->job_running || !s->t)
        return;
    s->job_running = 0;
    if (s->res->err == DRV_E_DISCONNECTED)
        return;
    s->ignore_cancel = 1;
    rc = sess_cmd(s, PROTO_SCAN_OP_ABORT, NULL, 0, &rsp, ABORT_TIMEOUT_MS, 1);
    sess_log(s, "ABORT: %s", rc < 0 ? drv_strerror(rc) : proto_scan_status_name(rsp.status));
}

static int alloc_job_buffers(drv_session *s)
{
    const proto_scan_job *j = &s->job;
    size_t xfer_len = j->max_in_transfer;
    unsigned i;

    s->n = s->o->in_flight;
    s->ring = calloc(s->n, sizeof(*s->ring));
    s->slot = calloc(s->n, sizeof(*s->slot));
    s->ringbuf = malloc(s->n * xfer_len);
    s->page_bytes = (size_t)j->bytes_per_line * j->height_px;
    s->pagebuf[0] = page_alloc(s->page_bytes);
    s->page = s->pagebuf[0];
    if (!s->ring || !s->slot || !s->ringbuf || !s->page) {
        s->n = 0; /* nothing was queued */
        return 0;
    }
    prefault(s->ringbuf, s->n * xfer_len);
    prefault(s->page, s->page_bytes);
    s->npagebuf = 1;
    if (s->o->write_behind && j->pages != 1) {
        /* Without memory for more pages, fewer (or one: pages written in
         * line). The writer thread faults them in while the first page
         * arrives. */
        while (s->npagebuf < WB_PAGES && (s->pagebuf[s->npagebuf] = page_alloc(s->page_bytes)))
            s->npagebuf++;
    }
    for (i = 0; i < s->n; i++) {
        s->ring[i].endpoint = PROTO_SCAN_EP_DATA_IN;
        s->ring[i].type = DRV_XFER_BULK;
        s->ring[i].buf = s->ringbuf + (size_t)i * xfer_len;
        s->ring[i].length = xfer_len;
        s->ring[i].callback = band_done_cb;
        s->ring[i].user_data = &s->slot[i];
    }
    if (xfer_len > s->inbuf_len) {
        /* A response read may meet a band after ABORT: size it for one. */
        uint8_t *nb = realloc(s->inbuf, xfer_len);

        if (!nb)
            return 0;
        s->inbuf = nb;
        s->inbuf_len = xfer_len;
    }
    memset(&s->mdtc, 0, sizeof(s->mdtc));
    s->mdtc.lSize = sizeof(s->mdtc);
    s->mdtc.lWidthInPixels = (LONG)j->width_px;
    s->mdtc.lLines = (LONG)j->height_px;
    s->mdtc.lDepth = (LONG)j->bits_per_pixel;
    s->mdtc.lXRes = j->dpi;
    s->mdtc.lYRes = j->dpi;
    s->mdtc.lCompression = s->o->compression;
    s->mdtc.guidFormatID = WiaImgFmt_TIFF;
    s->mdtc.tymed = TYMED_MULTIPAGE_FILE;
    s->mdtc.hFile = -1; /* pages go to the IStream */
    s->mdtc.lBufferSize = (LONG)s->page_bytes;
    s->mdtc.lNumBuffers = 1;
    s->mdtc.pBaseBuffer = s->page;
    s->mdtc.pTransferBuffer = s->page;
    s->mdtc.bClassDrvAllocBuf = FALSE;
    s->mdtc.lImageSize = (LONG)s->page_bytes;
    s->mdtc.cbWidthInBytes = (LONG)j->bytes_per_line;
    s->mdtc.lPage = 0;
    return 1;
}

static int32_t open_fail(drv_session *s, int rc, const char *msg)
{
    int32_t hr;

    switch (rc) {
    case DRV_E_CONNECT:
    case DRV_E_NOT_USBIP:
    case DRV_E_NODEV:
    case DRV_E_WRONG_DEVICE:
        hr = DRV_HR_OFFLINE;
        break;
    case DRV_E_URI:
        hr = DRV_HR_E_INVALIDARG;
        break;
    case DRV_E_BUSY:
        hr = DRV_HR_BUSY;
        break;
    case DRV_E_NOMEM:
        hr = DRV_HR_E_OUTOFMEMORY;
        break;
    default:
        hr = DRV_HR_DEVICE_COMMUNICATION;
        break;
    }
    return sess_fail(s, hr, rc, "%s", msg);
}

int32_t drv_scan_to_stream(const drv_scan_options *o, IStream *stream, drv_scan_result *res)
{
    drv_session s;
    char errbuf[256];
    uint64_t t_end;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&s, 0, sizeof(s));
    s.o = o;
    s.res = res;
    s.stream = stream;
    if (o->in_flight < 1 || o->in_flight > DRV_MAX_IN_FLIGHT || o->timeout_ms == 0)
        return sess_fail(&s, DRV_HR_E_INVALIDARG, DRV_E_INVALID,
                         "in-flight must be 1..%u and the timeout positive", DRV_MAX_IN_FLIGHT);
    s.inbuf_len = RSP_BUF_MIN;
    s.inbuf = malloc(s.inbuf_len);
    if (!s.inbuf)
        return sess_fail(&s, DRV_HR_E_OUTOFMEMORY, DRV_E_NOMEM, "out of memory");
    if (o->trace_path) {
        int32_t thr;

        s.trace = drv_trace_open(o->trace_path, o->cancel, &thr, errbuf, sizeof(errbuf));
        if (!s.trace) {
            sess_fail(&s, thr, thr == DRV_HR_E_ABORT ? DRV_E_CANCELLED : DRV_E_OUTPUT, "%s",
                      errbuf);
            goto out_free;
        }
    }
    errbuf[0] = '\0';
    rc = drv_transport_open(o->transport ? o->transport : DRV_DEFAULT_URI, &o->open, &s.t, errbuf,
                            sizeof(errbuf));
    if (rc < 0) {
        open_fail(&s, rc, errbuf[0] ? errbuf : drv_strerror(rc));
        goto out_trace;
    }
    res->device = s.t->info;
    sess_log(&s, "device %04x:%04x at %s, speed %u, interface %u", s.t->info.vid, s.t->info.pid,
             s.t->info.where, s.t->info.speed, s.t->info.interface_number);
    evt_arm(&s);
    if (!setup_job(&s))
        goto out_close;
    if (!alloc_job_buffers(&s)) {
        sess_fail(&s, DRV_HR_E_OUTOFMEMORY, DRV_E_NOMEM,
                  "out of memory for a %zu-byte page and %u transfers", s.page_bytes, o->in_flight);
        goto out_close;
    }
    writer_start(&s);
    if (!start_job(&s))
        goto out_abort;
    run_bands(&s);
    writer_stop(&s); /* the last page is in the stream */
    t_end = drv_now_ns();
    res->elapsed_ns = t_end - s.t0;
out_abort:
    abort_job(&s);
    writer_stop(&s);
out_close:
    s.closing = 1;
    if (s.t) {
        /* An event that completed outside sess_wait (a jam's event that
         * comes after END_OF_JOB, while abort_job takes the band reads
         * back) was not looked at yet: report it now, then take the read
         * back. */
        evt_poll(&s);
        if (s.evt_live && s.evt.state == DRV_XFER_PENDING) {
            s.t->ops->cancel(s.t, &s.evt);
            sess_wait(&s, &s.evt, DRAIN_TIMEOUT_MS);
        }
        s.t->ops->close(s.t); /* completes anything left as cancelled */
    }
out_trace:
    if (s.trace && fclose(s.trace) != 0 && SUCCEEDED(res->hr) && !s.failed)
        sess_fail(&s, DRV_HR_STG_E_WRITEFAULT, DRV_E_OUTPUT, "cannot write trace %s",
                  o->trace_path);
out_free:
    for (unsigned i = 0; i < WB_PAGES; i++)
        free(s.pagebuf[i]);
    free(s.ringbuf);
    free(s.slot);
    free(s.ring);
    free(s.inbuf);
    if (!s.failed) {
        res->hr = DRV_HR_S_OK;
        snprintf(res->message, sizeof(res->message), "%u pages scanned", s.pages_done);
    }
    res->pages_kept = s.pages_done;
    return res->hr;
}
