/* The IPP-USB carrier (see server-internal.h): each IPP-USB interface's
 * bulk OUT and bulk IN endpoints carry one HTTP/1.1 connection of the
 * device's eSCL front, the front the eSCL TCP listener serves too. Runs on
 * the device's worker thread, inside its USB/IP session; every call on the
 * front is made with the front's lock held (the device model's lock, which
 * the native front's calls and the TCP carrier take too). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "server-internal.h"

/* What follows a page cut short mid-body: not a chunk-size line, so the
 * client's chunked decoder fails there instead of waiting for bytes that
 * never come (a USB pipe has no end of stream to signal the cut). */
static const char cut_marker[] = "scanemu: page aborted\r\n";

typedef struct ippusb_intf {
    dm_escl_conn *conn; /* NULL: could not be opened (out of memory): nothing answered */
    emu_urbq in_q;      /* bulk IN URBs waiting for data */
    emu_urbq out_q;     /* bulk OUT URBs whose bytes the front has not all taken */
    size_t out_off;     /* bytes of out_q.head taken */
    bool cut_pending;   /* cut_marker goes to the next IN URB, then a new connection */
    bool resync;        /* after a refused request: drop transfers until one starts a request */
} ippusb_intf;

struct emu_ippusb {
    dm_escl *front;        /* borrowed */
    pthread_mutex_t *lock; /* borrowed: the front's */
    unsigned n;
    ippusb_intf intf[EMU_IPPUSB_MAX];
};

static void q_push(emu_urbq *q, emu_urb *u)
{
    u->next = NULL;
    if (q->tail)
        q->tail->next = u;
    else
        q->head = u;
    q->tail = u;
}

static emu_urb *q_take(emu_urbq *q)
{
    emu_urb *u = q->head;
    if (u) {
        q->head = u->next;
        if (!q->head)
            q->tail = NULL;
    }
    return u;
}

static emu_urb *q_remove(emu_urbq *q, uint32_t seqnum)
{
    emu_urb *prev = NULL;
    for (emu_urb *u = q->head; u; prev = u, u = u->next) {
        if (u->id.seqnum != seqnum)
            continue;
        if (prev)
            prev->next = u->next;
        else
            q->head = u->next;
        if (q->tail == u)
            q->tail = prev;
        return u;
    }
    return NULL;
}

int emu_ippusb_create(emu_dev *d, emu_ippusb **out)
{
    emu_ippusb *p;

    *out = NULL;
    if (d->usb.n_ippusb == 0)
        return EMU_OK;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return EMU_E_NOMEM;
    p->front = d->ex.escl_lock ? d->ex.escl : NULL;
    p->lock = d->ex.escl_lock;
    p->n = d->usb.n_ippusb;
    *out = p;
    return EMU_OK;
}

/* Lock held. */
static void conn_drop(ippusb_intf *f)
{
    dm_escl_conn_free(f->conn);
    f->conn = NULL;
    f->cut_pending = false;
}

/* Lock held. A fresh connection, as a TCP client's next one. */
static void conn_restart(emu_dev *d, emu_ippusb *p, unsigned k)
{
    ippusb_intf *f = &p->intf[k];

    conn_drop(f);
    if (p->front != NULL && dm_escl_conn_open(p->front, &f->conn) < 0)
        emu_logf(&d->srv->log, EMU_LOG_ERROR, d->busid,
                 "IPP-USB interface %u: cannot open an eSCL connection (out of memory)",
                 d->usb.ippusb_first + k);
}

static void lock(emu_ippusb *p)
{
    if (p->lock)
        pthread_mutex_lock(p->lock);
}

static void unlock(emu_ippusb *p)
{
    if (p->lock)
        pthread_mutex_unlock(p->lock);
}

void emu_ippusb_free(emu_ippusb *p)
{
    if (p == NULL)
        return;
    lock(p);
    for (unsigned k = 0; k < p->n; k++)
        conn_drop(&p->intf[k]);
    unlock(p);
    free(p);
}

void emu_ippusb_submit(emu_dev *d, unsigned k, const proto_usbip_urb_hdr *h, const uint8_t *payload)
{
    emu_ippusb *p = d->ippusb;
    emu_session *s = &d->s;
    int32_t tbl = h->u.submit.transfer_buffer_length;
    int in = h->direction == PROTO_USBIP_DIR_IN;
    int slot = in ? EMU_EP_IPPUSB_IN(k) : EMU_EP_IPPUSB_OUT(k);
    emu_urb *u;

    if (d->usb.halted[slot]) {
        emu_urb_id id = {h->seqnum, h->u.submit.start_frame, h->u.submit.number_of_packets};
        emu_session_ret_submit(d, id, PROTO_USBIP_EPIPE, 0, NULL);
        return;
    }
    if (!in && s->parked_bytes + (size_t)tbl > EMU_MAX_PARKED_OUT) {
        emu_session_fail(d, EMU_LOG_WARN,
                         "more than %u bytes of bulk OUT waiting on IPP-USB interface %u while "
                         "the eSCL front answers a request (the client does not read bulk IN)",
                         EMU_MAX_PARKED_OUT, d->usb.ippusb_first + k);
        return;
    }
    u = emu_session_urb_alloc(d, h);
    if (u == NULL)
        return;
    if (in) {
        q_push(&p->intf[k].in_q, u);
        return;
    }
    u->data = malloc(tbl > 0 ? (size_t)tbl : 1);
    if (u->data == NULL) {
        emu_session_urb_free(d, u);
        emu_session_fail(d, EMU_LOG_ERROR, "out of memory holding a %d-byte bulk OUT", tbl);
        return;
    }
    memcpy(u->data, payload, (size_t)tbl);
    s->parked_bytes += (size_t)tbl;
    q_push(&p->intf[k].out_q, u);
}

int emu_ippusb_unlink(emu_dev *d, uint32_t seqnum)
{
    emu_ippusb *p = d->ippusb;

    if (p == NULL)
        return 0;
    for (unsigned k = 0; k < p->n; k++) {
        ippusb_intf *f = &p->intf[k];
        emu_urb *u = q_remove(&f->in_q, seqnum);
        if (u == NULL) {
            bool head = f->out_q.head && f->out_q.head->id.seqnum == seqnum;
            u = q_remove(&f->out_q, seqnum);
            /* The bytes of it the front took stay taken. */
            if (u != NULL && head)
                f->out_off = 0;
        }
        if (u != NULL) {
            emu_session_urb_free(d, u);
            return 1;
        }
    }
    return 0;
}

static void complete_out(emu_dev *d, ippusb_intf *f, int32_t status)
{
    emu_urb *u = q_take(&f->out_q);
    emu_session_ret_submit(d, u->id, status, status == 0 ? u->length : 0, NULL);
    emu_session_urb_free(d, u);
    f->out_off = 0;
}

void emu_ippusb_reset(emu_dev *d, uint32_t mask, int flush_in)
{
    emu_ippusb *p = d->ippusb;

    if (p == NULL)
        return;
    for (unsigned k = 0; k < p->n; k++) {
        ippusb_intf *f = &p->intf[k];
        if (!(mask & (1u << k)))
            continue;
        while (f->out_q.head && !d->s.dead)
            complete_out(d, f, PROTO_USBIP_ESHUTDOWN);
        f->resync = false;
        while (flush_in && f->in_q.head && !d->s.dead) {
            emu_urb *u = q_take(&f->in_q);
            emu_session_ret_submit(d, u->id, PROTO_USBIP_ESHUTDOWN, 0, NULL);
            emu_session_urb_free(d, u);
        }
        lock(p);
        if (f->conn != NULL && dm_escl_conn_busy(f->conn))
            emu_logf(&d->srv->log, EMU_LOG_INFO, d->busid,
                     "IPP-USB interface %u reset in the middle of a response: dropped",
                     d->usb.ippusb_first + k);
        conn_restart(d, p, k);
        unlock(p);
    }
}

/* Whether a transfer may begin a request: its first bytes are (a prefix
 * of) a method token and a space. Clients start each request in a new
 * transfer (ipp-usb writes each request with its own flush). */
static bool starts_request(const uint8_t *b, size_t len)
{
    static const char *const methods[] = {"GET ",  "POST ",    "PUT ",   "DELETE ",
                                          "HEAD ", "OPTIONS ", "PATCH ", "CONNECT "};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        size_t m = strlen(methods[i]);
        if (memcmp(b, methods[i], len < m ? len : m) == 0)
            return true;
    }
    return false;
}

/* Request bytes to the front, oldest URB first, until it takes no more.
 * Without a front they are taken and dropped. Returns whether anything was
 * taken. Lock held. */
static bool feed_out(emu_dev *d, emu_ippusb *p, ippusb_intf *f, uint64_t now)
{
    bool progress = false;

    while (f->out_q.head && !d->s.dead) {
        emu_urb *u = f->out_q.head;
        size_t rem = (size_t)u->length - f->out_off;
        int n;

        if (rem == 0 || p->front == NULL) {
            complete_out(d, f, 0);
            progress = true;
            continue;
        }
        if (f->resync) {
            /* The rest of a refused request (a pipe has no boundary to
             * skip to): dropped until a transfer that starts one. */
            if (f->out_off > 0 || !starts_request(u->data, (size_t)u->length)) {
                complete_out(d, f, 0);
                progress = true;
                continue;
            }
            f->resync = false;
        }
        if (f->conn == NULL || f->cut_pending)
            break;
        n = dm_escl_conn_input(f->conn, u->data + f->out_off, rem, now);
        if (n < 0) {
            /* A request the front refuses: its error answer is queued and
             * the connection ends after it; the rest of this transfer, and
             * the transfers that follow until one starts a request, belong
             * to that request and are dropped. */
            complete_out(d, f, 0);
            f->resync = true;
            progress = true;
            break;
        }
        if (n == 0)
            break; /* busy answering: the transfer waits (NAK) */
        f->out_off += (size_t)n;
        progress = true;
    }
    return progress;
}

/* One interface: feed input, answer IN URBs. Returns its next deadline.
 * Lock held. */
static uint64_t service_intf(emu_dev *d, emu_ippusb *p, unsigned k, uint64_t now)
{
    ippusb_intf *f = &p->intf[k];
    int in_slot = EMU_EP_IPPUSB_IN(k);

    while (!d->s.dead) {
        dm_escl_out o;

        while (d->usb.halted[in_slot] && f->in_q.head) {
            emu_urb *u = q_take(&f->in_q);
            emu_session_ret_submit(d, u->id, PROTO_USBIP_EPIPE, 0, NULL);
            emu_session_urb_free(d, u);
        }
        feed_out(d, p, f, now);
        if (f->conn == NULL || d->s.dead)
            return UINT64_MAX;
        if (f->cut_pending) {
            emu_urb *u = f->in_q.head;
            size_t n = sizeof cut_marker - 1;
            if (u == NULL || emu_session_outq_pending(&d->s) > 0)
                return UINT64_MAX;
            if (n > (size_t)u->length)
                n = (size_t)u->length;
            q_take(&f->in_q);
            emu_session_ret_submit(d, u->id, 0, (int32_t)n, (const uint8_t *)cut_marker);
            emu_session_urb_free(d, u);
            conn_restart(d, p, k);
            continue;
        }
        dm_escl_conn_peek(f->conn, now, &o);
        switch (o.kind) {
        case DM_ESCL_OUT_DATA: {
            emu_urb *u = f->in_q.head;
            size_t n = o.len;
            int32_t st = 0;
            if (u == NULL || emu_session_outq_pending(&d->s) > 0)
                return UINT64_MAX; /* resumes with the next IN URB / when the socket drains */
            if (n > (size_t)u->length)
                n = (size_t)u->length;
            if ((u->flags & PROTO_URB_SHORT_NOT_OK) && n < (size_t)u->length)
                st = PROTO_USBIP_EREMOTEIO;
            q_take(&f->in_q);
            emu_session_ret_submit(d, u->id, st, (int32_t)n, o.data);
            emu_session_urb_free(d, u);
            dm_escl_conn_sent(f->conn, n, now);
            continue;
        }
        case DM_ESCL_OUT_WAIT:
            return o.deadline_ns;
        case DM_ESCL_OUT_IDLE:
            /* The response just ended: the next request may be waiting. */
            if (f->out_q.head && feed_out(d, p, f, now))
                continue;
            return UINT64_MAX;
        case DM_ESCL_OUT_CLOSE:
            if (o.cut) {
                emu_logf(&d->srv->log, EMU_LOG_DEBUG, d->busid,
                         "IPP-USB interface %u: response cut short: the chunked body ends "
                         "with a line that is no chunk size",
                         d->usb.ippusb_first + k);
                f->cut_pending = true;
            } else {
                conn_restart(d, p, k);
            }
            continue;
        case DM_ESCL_OUT_RESET:
            /* The device vanished (a disconnect fault): over USB that is
             * the whole device going away. */
            emu_session_fail(d, EMU_LOG_INFO, "device unplugged by the scenario (eSCL over USB)");
            return UINT64_MAX;
        }
    }
    return UINT64_MAX;
}

uint64_t emu_ippusb_service(emu_dev *d)
{
    emu_ippusb *p = d->ippusb;
    uint64_t next = UINT64_MAX, now;

    if (p == NULL || d->s.fd < 0 || d->s.dead || d->usb.configuration == 0)
        return UINT64_MAX;
    now = emu_now_ns();
    lock(p);
    for (unsigned k = 0; k < p->n; k++) {
        uint64_t t;
        if (p->intf[k].conn == NULL && !p->intf[k].cut_pending)
            conn_restart(d, p, k);
        t = service_intf(d, p, k, now);
        if (t < next)
            next = t;
    }
    if (p->front != NULL) {
        uint64_t t = dm_escl_poll(p->front, now);
        if (t < next)
            next = t;
    }
    unlock(p);
    return next;
}

void emu_ippusb_end(emu_dev *d)
{
    emu_ippusb *p = d->ippusb;

    if (p == NULL)
        return;
    lock(p);
    for (unsigned k = 0; k < p->n; k++) {
        ippusb_intf *f = &p->intf[k];
        emu_urb *u;
        while ((u = q_take(&f->in_q)) != NULL)
            emu_session_urb_free(d, u);
        while ((u = q_take(&f->out_q)) != NULL)
            emu_session_urb_free(d, u);
        f->out_off = 0;
        f->resync = false;
        conn_drop(f);
    }
    unlock(p);
}
