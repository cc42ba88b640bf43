/* driver: the native protocol's band stream — the ring of bulk IN
 * transfers and every band checked and put into the page.
 *
 * opts.in_flight bulk IN transfers form a ring. Transfers on one endpoint
 * complete in order, so the ring is consumed head first: every completion
 * is checked (magic, sequence, geometry, CRC-32). Consumed transfers are
 * queued again half a ring at a time (ring_refill), so at least half the
 * ring stays queued and the transport sends their submits together. A band
 * of the page being assembled is received straight into the
 * page buffer (usbip; ring_submit says why that is safe), others are copied
 * there. A stall is cleared (CLEAR_FEATURE ENDPOINT_HALT) and the reads
 * queued again once; a stall that comes back, a CRC/sequence/size error, a
 * timeout (transfers cancelled) or an unplug is
 * WIA_ERROR_DEVICE_COMMUNICATION; a device status ends the job
 * (drv_sess_device_fault).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv-internal.h"
#include "drv-session.h"

#define DRAIN_TIMEOUT_MS 2000u

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

int drv_native_ring_alloc(drv_session *s)
{
    drv_native *n = s->priv;
    size_t xfer_len = s->job.max_in_transfer;
    unsigned i;

    n->n = s->o->in_flight;
    n->ring = calloc(n->n, sizeof(*n->ring));
    n->slot = calloc(n->n, sizeof(*n->slot));
    n->ringbuf = malloc(n->n * xfer_len);
    if (!n->ring || !n->slot || !n->ringbuf) {
        n->n = 0; /* nothing was queued */
        return 0;
    }
    n->idle = n->n; /* none queued yet: the first drv_native_next_page queues them */
    drv_prefault(n->ringbuf, n->n * xfer_len);
    for (i = 0; i < n->n; i++) {
        n->ring[i].endpoint = PROTO_SCAN_EP_DATA_IN;
        n->ring[i].type = DRV_XFER_BULK;
        n->ring[i].buf = n->ringbuf + (size_t)i * xfer_len;
        n->ring[i].length = xfer_len;
        n->ring[i].callback = band_done_cb;
        n->ring[i].user_data = &n->slot[i];
    }
    return 1;
}

void drv_native_ring_free(drv_native *n)
{
    free(n->ringbuf);
    free(n->slot);
    free(n->ring);
    n->ringbuf = NULL;
    n->slot = NULL;
    n->ring = NULL;
    n->n = 0;
}

void drv_native_ring_cancel(drv_session *s)
{
    drv_native *n = s->priv;
    uint64_t deadline;
    unsigned i;
    int busy;

    for (i = 0; i < n->n; i++)
        if (n->ring[i].state == DRV_XFER_PENDING)
            drv_transport_cancel(n->t, &n->ring[i]);
    deadline = drv_now_ns() + (uint64_t)DRAIN_TIMEOUT_MS * 1000000u;
    do {
        busy = 0;
        for (i = 0; i < n->n; i++)
            busy |= n->ring[i].state == DRV_XFER_PENDING;
        if (!busy || drv_now_ns() >= deadline)
            break;
        if (drv_transport_handle_events(n->t, 50) < 0)
            break; /* transport dead: everything completed */
    } while (1);
}

/* ---- one band ------------------------------------------------------------------------ */

enum band_outcome { BAND_MORE, BAND_PAGE, BAND_JOB_END, BAND_FAIL };

static enum band_outcome band_process(drv_session *s, unsigned idx)
{
    drv_native *n = s->priv;
    const proto_scan_job *j = &s->job;
    drv_xfer *x = &n->ring[idx];
    const ring_slot *sl = &n->slot[idx];
    /* With a scatter only the header is in x->buf; the data is in buf2. */
    size_t hlen = x->actual < PROTO_SCAN_BAND_HDR_SIZE ? x->actual : PROTO_SCAN_BAND_HDR_SIZE;
    uint8_t *dst;
    proto_scan_band b;
    uint32_t magic, side, lines;
    uint64_t bytes;
    int rc;

    if (proto_scan_peek_magic(x->buf, hlen, &magic) < 0 || magic != PROTO_SCAN_MAGIC_BND) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "expected band %u of page %u, got a %zu-byte transfer that is no band",
                      s->band_no + 1, s->page_no + 1, x->actual);
        return BAND_FAIL;
    }
    rc = proto_scan_band_decode(x->buf, hlen, &b);
    if (rc < 0) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "malformed band header where band %u of page %u was due: %s", s->band_no + 1,
                      s->page_no + 1, proto_strerror(rc));
        return BAND_FAIL;
    }
    drv_sess_trace_band(s, b.page, b.side, b.band, sl->arrival, b.byte_count,
                        proto_scan_status_name(b.status));
    if (b.flags & PROTO_SCAN_BAND_END_OF_JOB) {
        n->job_running = 0;
        if (b.status == PROTO_SCAN_ST_OK) {
            if (s->band_no != 0 || s->pages_in == 0 || (j->pages && s->pages_in != j->pages)) {
                drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                              "the device ended the job after %u of %u pages%s", s->pages_in,
                              j->pages, s->band_no ? ", in the middle of a page" : "");
                return BAND_FAIL;
            }
            return BAND_JOB_END;
        }
        drv_sess_device_fault(s, b.status, "%s at page %u band %u", proto_scan_status_str(b.status),
                              b.page + 1, b.band + 1);
        return BAND_JOB_END;
    }
    side = drv_sess_side(s);
    if (b.page != s->page_no || b.band != s->band_no || b.side != side) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "out-of-sequence band: got page %u side %u band %u, expected page %u side "
                      "%u band %u",
                      b.page + 1, b.side, b.band + 1, s->page_no + 1, side, s->band_no + 1);
        return BAND_FAIL;
    }
    if (b.status != PROTO_SCAN_ST_OK) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
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
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "band %u of page %u has the wrong geometry (lines %u+%u, %u bytes, flags "
                      "0x%x)",
                      b.band + 1, b.page + 1, b.first_line, b.line_count, b.byte_count, b.flags);
        return BAND_FAIL;
    }
    if (x->actual != PROTO_SCAN_BAND_HDR_SIZE + bytes) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "band %u of page %u is %s: %zu of %llu data bytes arrived", b.band + 1,
                      b.page + 1, x->actual < PROTO_SCAN_BAND_HDR_SIZE + bytes ? "short" : "long",
                      x->actual - PROTO_SCAN_BAND_HDR_SIZE, (unsigned long long)bytes);
        return BAND_FAIL;
    }
    if (!sl->crc_ok || sl->crc != b.crc32) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                      "CRC mismatch in band %u of page %u", b.band + 1, b.page + 1);
        return BAND_FAIL;
    }
    dst = s->page + (size_t)b.first_line * j->bytes_per_line;
    if (!x->scattered)
        memcpy(dst, x->buf + PROTO_SCAN_BAND_HDR_SIZE, (size_t)bytes);
    else if (x->buf2 != dst || x->len2 != bytes) {
        /* ring_submit aimed it at the band due then; the sequence check
         * above makes this one that band, so this cannot happen */
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_IO,
                      "internal error: band %u of page %u was received at the wrong place",
                      b.band + 1, b.page + 1);
        return BAND_FAIL;
    }
    s->res->bytes += bytes;
    n->stall_clears = 0;
    drv_sess_progress(s, s->band_no, s->res->bytes, sl->arrival);
    s->band_no++;
    return b.flags & PROTO_SCAN_BAND_END_OF_PAGE ? BAND_PAGE : BAND_MORE;
}

/* ---- the ring ------------------------------------------------------------------------ */

/* Queue ring transfer idx, which will carry the message `ahead` places after
 * the next band expected (transfers on one endpoint complete in order, one
 * message each). When that is a band of the page being assembled, its data
 * is received straight into the page buffer at the band's place (a backend
 * that cannot scatter fills the ring buffer and band_process copies): those
 * bytes are all written before that page's END_OF_PAGE band is processed,
 * and no transfer can complete while the page is written or handed over
 * (completions happen only inside transport calls), so a page is never
 * overwritten before it is in the TIFF. A band of the next page goes to the
 * ring buffer and is copied when its turn comes, after the current page was
 * written. A band that turns out wrong (sequence, size, CRC) fails the job,
 * and the only bytes it can have touched are those of its own place in the
 * page being assembled, which is then dropped: a page is written only when
 * all its bands arrived intact. */
static int ring_submit(drv_session *s, unsigned idx, unsigned ahead)
{
    drv_native *n = s->priv;
    const proto_scan_job *j = &s->job;
    drv_xfer *x = &n->ring[idx];
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
    rc = drv_transport_submit(n->t, x);
    if (rc == DRV_E_DISCONNECTED)
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, rc, "device disconnected at page %u band %u",
                      s->page_no + 1, s->band_no + 1);
    else if (rc < 0)
        drv_sess_comm(s, rc, "queueing a bulk IN transfer", NULL);
    return rc;
}

/* Queue the idle transfers again, in ring order after the queued ones: the
 * first carries the band as many places after the next one expected as
 * transfers are still queued. Submitting them together lets the transport
 * send them in one message (usbip corks them until the driver waits). */
static int ring_refill(drv_session *s)
{
    drv_native *n = s->priv;

    while (n->idle > 0) {
        unsigned queued = n->n - n->idle;

        if (ring_submit(s, (n->head + queued) % n->n, queued) < 0)
            return 0;
        n->idle--;
    }
    return 1;
}

/* Consumed transfers are queued again this many at a time: half the ring
 * (at least 1), so the other half stays queued. */
static unsigned ring_batch(const drv_native *n)
{
    return n->n / 2 ? n->n / 2 : 1;
}

/* The head transfer stalled. Take every queued read back, clear the halt
 * once, queue the whole ring again in order; a second stall without
 * progress fails. */
static int ring_stalled(drv_session *s)
{
    drv_native *n = s->priv;
    unsigned queued = n->n - n->idle; /* head and the reads queued after it */
    unsigned i;
    int rc;

    if (n->stall_clears++ > 0) {
        drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_STALL,
                      "bulk IN stalled again after CLEAR_FEATURE(ENDPOINT_HALT) at page %u band %u",
                      s->page_no + 1, s->band_no + 1);
        return 0;
    }
    drv_sess_log(s, "bulk IN stalled at page %u band %u; clearing the halt", s->page_no + 1,
                 s->band_no + 1);
    drv_native_ring_cancel(s);
    for (i = 0; i < queued; i++) {
        drv_xfer *x = &n->ring[(n->head + i) % n->n];

        if (x->state == DRV_XFER_PENDING || (x->status == DRV_OK && i > 0 && x->actual > 0)) {
            /* data past a halted endpoint, or a read that never came back */
            drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_PROTO,
                          "bulk IN delivered data past a stall at page %u band %u", s->page_no + 1,
                          s->band_no + 1);
            return 0;
        }
    }
    rc = drv_transport_clear_halt(n->t, PROTO_SCAN_EP_DATA_IN);
    if (rc < 0) {
        drv_sess_comm(s, rc, "CLEAR_FEATURE(ENDPOINT_HALT) on bulk IN", NULL);
        return 0;
    }
    n->idle = n->n; /* all of them, from the head on */
    return ring_refill(s);
}

enum drv_page_result drv_native_next_page(drv_session *s)
{
    drv_native *n = s->priv;
    int rc;

    /* The whole ring at the first page; at the others, those held back
     * at the last band of the page before, so that the bands of this page
     * they carry are received into its buffer. */
    if (n->idle >= ring_batch(n) && !ring_refill(s))
        return DRV_PAGE_FAIL;
    for (;;) {
        drv_xfer *x = &n->ring[n->head];

        rc = drv_native_wait(s, x, s->o->timeout_ms);
        if (rc == DRV_E_TIMEOUT) {
            drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, DRV_E_TIMEOUT,
                          "no band within %u ms (page %u band %u); transfers cancelled",
                          s->o->timeout_ms, s->page_no + 1, s->band_no + 1);
            return DRV_PAGE_FAIL;
        }
        if (rc < 0) {
            drv_sess_comm(s, rc, "the band stream", NULL);
            return DRV_PAGE_FAIL;
        }
        if (x->status == DRV_E_STALL) {
            if (!ring_stalled(s))
                return DRV_PAGE_FAIL;
            continue; /* the same head, queued again */
        }
        if (x->status != DRV_OK) {
            drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, x->status, "%s at page %u band %u",
                          x->status == DRV_E_DISCONNECTED ? "device disconnected"
                                                          : drv_strerror(x->status),
                          s->page_no + 1, s->band_no + 1);
            return DRV_PAGE_FAIL;
        }
        switch (band_process(s, n->head)) {
        case BAND_MORE:
            break;
        case BAND_PAGE:
            n->head = (n->head + 1) % n->n;
            n->idle++;
            return DRV_PAGE_OK;
        case BAND_JOB_END:
            return DRV_PAGE_END;
        case BAND_FAIL:
            return DRV_PAGE_FAIL;
        }
        /* band_process moved the expectation on to the band the next
         * transfer (head + 1) carries */
        n->head = (n->head + 1) % n->n;
        if (++n->idle >= ring_batch(n) && !ring_refill(s))
            return DRV_PAGE_FAIL;
    }
}
