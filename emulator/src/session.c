/* One attached client's URB session (see server-internal.h): what a CMD_SUBMIT
 * or CMD_UNLINK does, the URB queues per endpoint, NAKed bulk OUT, ep0, the
 * output queue and the RET_SUBMIT/RET_UNLINK builders. Everything here runs
 * on the device's own worker thread. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "server-internal.h"

/* ---- output ----------------------------------------------------------------------- */

void emu_session_fail(emu_dev *d, enum emu_log_level lvl, const char *fmt, ...)
{
    if (d->s.dead)
        return;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emu_logf(&d->srv->log, lvl, d->busid, "%s: %s; closing the connection", d->s.peer, msg);
    d->s.dead = 1;
}

static int outq_append(emu_dev *d, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    emu_session *s = &d->s;
    if (s->out_off > 0 && s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
    size_t need = s->out_len + alen + blen;
    if (need > s->out_cap && s->out_off > 0) {
        memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
        s->out_len -= s->out_off;
        s->out_off = 0;
        need = s->out_len + alen + blen;
    }
    if (need > s->out_cap) {
        size_t cap = s->out_cap * 2 > need ? s->out_cap * 2 : need;
        uint8_t *p = realloc(s->out, cap);
        if (!p) {
            emu_session_fail(d, EMU_LOG_ERROR, "out of memory queueing %zu bytes", alen + blen);
            return -1;
        }
        s->out = p;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, a, alen);
    if (blen)
        memcpy(s->out + s->out_len + alen, b, blen);
    s->out_len += alen + blen;
    return 0;
}

/* Header and payload in one sendmsg; whatever the socket does not take now is
 * queued. */
static int send_msg(emu_dev *d, const uint8_t *hdr, size_t hlen, const uint8_t *data, size_t dlen)
{
    emu_session *s = &d->s;
    if (s->dead)
        return -1;
    if (emu_session_outq_pending(s) > 0)
        return outq_append(d, hdr, hlen, data, dlen);
    struct iovec iov[2] = {{(void *)hdr, hlen}, {(void *)data, dlen}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = dlen ? 2 : 1};
    ssize_t w;
    do
        w = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            emu_session_fail(d, EMU_LOG_INFO, "send failed: %s", strerror(errno));
            return -1;
        }
        w = 0;
    }
    size_t sent = (size_t)w;
    if (sent >= hlen + dlen)
        return 0;
    if (sent < hlen)
        return outq_append(d, hdr + sent, hlen - sent, data, dlen);
    return outq_append(d, data + (sent - hlen), dlen - (sent - hlen), NULL, 0);
}

void emu_session_flush_out(emu_dev *d)
{
    emu_session *s = &d->s;
    while (!s->dead && emu_session_outq_pending(s) > 0) {
        ssize_t w = send(s->fd, s->out + s->out_off, emu_session_outq_pending(s),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                emu_session_fail(d, EMU_LOG_INFO, "send failed: %s", strerror(errno));
            return;
        }
        s->out_off += (size_t)w;
    }
    if (emu_session_outq_pending(s) == 0)
        s->out_off = s->out_len = 0;
}

static void remember_completed(emu_session *s, uint32_t seqnum)
{
    s->recent[s->recent_pos] = seqnum;
    s->recent_pos = (s->recent_pos + 1) % EMU_RECENT_SEQNUMS;
    if (s->recent_n < EMU_RECENT_SEQNUMS)
        s->recent_n++;
}

static int recently_completed(const emu_session *s, uint32_t seqnum)
{
    for (size_t i = 0; i < s->recent_n; i++)
        if (s->recent[i] == seqnum)
            return 1;
    return 0;
}

static emu_urb_id urb_id(const proto_usbip_urb_hdr *h)
{
    emu_urb_id id = {h->seqnum, h->u.submit.start_frame, h->u.submit.number_of_packets};
    return id;
}

/* The one RET_SUBMIT builder. For an IN transfer, actual bytes of in_data
 * follow the header; for OUT (in_data NULL), actual is how much the device
 * took and nothing follows. start_frame and number_of_packets are echoed
 * from the CMD_SUBMIT (Linux sends 0 and -1 for non-isochronous URBs), as
 * the kernel's stub driver does; devid, direction and ep stay 0 as there.
 * The seqnum is remembered as completed, for a later CMD_UNLINK. */
static void ret_submit(emu_dev *d, emu_urb_id id, int32_t status, int32_t actual,
                       const uint8_t *in_data)
{
    proto_usbip_urb_hdr h;
    memset(&h, 0, sizeof h);
    h.command = PROTO_USBIP_RET_SUBMIT;
    h.seqnum = id.seqnum;
    h.u.ret_submit.status = status;
    h.u.ret_submit.actual_length = actual;
    h.u.ret_submit.start_frame = id.start_frame;
    h.u.ret_submit.number_of_packets = id.number_of_packets;
    uint8_t hdr[PROTO_USBIP_URB_HDR_SIZE];
    proto_usbip_urb_hdr_encode(&h, hdr, sizeof hdr);
    send_msg(d, hdr, sizeof hdr, in_data, in_data ? (size_t)actual : 0);
    remember_completed(&d->s, id.seqnum);
}

static void ret_unlink(emu_dev *d, uint32_t seqnum, int32_t status)
{
    proto_usbip_urb_hdr h;
    memset(&h, 0, sizeof h);
    h.command = PROTO_USBIP_RET_UNLINK;
    h.seqnum = seqnum;
    h.u.ret_unlink.status = status;
    uint8_t hdr[PROTO_USBIP_URB_HDR_SIZE];
    proto_usbip_urb_hdr_encode(&h, hdr, sizeof hdr);
    send_msg(d, hdr, sizeof hdr, NULL, 0);
}

/* ---- IN endpoints ----------------------------------------------------------------- */

static int ep_slot_of(enum dm_endpoint ep)
{
    return ep == DM_EP_DATA_IN ? EMU_EP_DATA_IN : EMU_EP_EVENT_IN;
}

static emu_urb *urbq_take(emu_urbq *q)
{
    emu_urb *u = q->head;
    q->head = u->next;
    if (!q->head)
        q->tail = NULL;
    return u;
}

static emu_urb *urbq_pop(emu_session *s, enum dm_endpoint ep)
{
    return urbq_take(&s->q[ep]);
}

static void urbq_push(emu_urbq *q, emu_urb *u)
{
    u->next = NULL;
    if (q->tail)
        q->tail->next = u;
    else
        q->head = u;
    q->tail = u;
}

static void urb_free(emu_session *s, emu_urb *u)
{
    if (u->data) {
        free(u->data);
        u->data = NULL;
        s->parked_bytes -= (size_t)u->length;
    }
    u->next = s->free_list;
    s->free_list = u;
    s->npending--;
}

static void arm_timer(emu_dev *d, uint64_t at)
{
    emu_session *s = &d->s;
    if (at == UINT64_MAX)
        at = 0;
    else if (at == 0)
        at = 1; /* 0 would disarm */
    if (at == s->timer_at)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(at / 1000000000ull);
    its.it_value.tv_nsec = (long)(at % 1000000000ull);
    if (timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        s->timer_at = at;
}

/* Completes what it can on one IN endpoint; returns the deadline of the next
 * scheduled message (UINT64_MAX: none). */
static uint64_t service_ep(emu_dev *d, enum dm_endpoint ep)
{
    emu_session *s = &d->s;
    int slot = ep_slot_of(ep);
    while (s->q[ep].head && !s->dead) {
        if (d->usb.halted[slot]) {
            emu_urb *u = urbq_pop(s, ep);
            ret_submit(d, u->id, PROTO_USBIP_EPIPE, 0, NULL);
            urb_free(s, u);
            continue;
        }
        if (emu_session_outq_pending(s) > 0)
            return UINT64_MAX; /* resumes when the socket drains */
        dm_in in;
        uint64_t now = emu_now_ns();
        d->ex.ops->peek(d->ex.ctx, ep, now, &in);
        switch (in.kind) {
        case DM_IN_IDLE:
            if (ep == DM_EP_DATA_IN && s->released_since_flush) {
                emu_trace_flush(d->srv->trace); /* the job is over */
                s->released_since_flush = 0;
            }
            return UINT64_MAX;
        case DM_IN_WAIT:
            return in.deadline_ns;
        case DM_IN_DATA: {
            emu_urb *u = urbq_pop(s, ep);
            uint64_t urb_ns = u->arrival_ns;
            uint64_t release = emu_now_ns();
            if (in.len > (size_t)u->length) {
                /* Babble: the message does not fit and is lost. */
                emu_logf(&d->srv->log, EMU_LOG_DEBUG, d->busid,
                         "IN URB seqnum %u of %d bytes too small for a %zu-byte message: "
                         "-EOVERFLOW",
                         u->id.seqnum, u->length, in.len);
                ret_submit(d, u->id, PROTO_USBIP_EOVERFLOW, 0, NULL);
            } else {
                int32_t st = 0;
                if ((u->flags & PROTO_URB_SHORT_NOT_OK) && in.len < (size_t)u->length)
                    st = PROTO_USBIP_EREMOTEIO;
                ret_submit(d, u->id, st, (int32_t)in.len, in.data);
            }
            urb_free(s, u);
            if (d->ex.ops->consume_urb)
                d->ex.ops->consume_urb(d->ex.ctx, ep, release, urb_ns);
            else
                d->ex.ops->consume(d->ex.ctx, ep, release);
            s->released_since_flush++;
            if (ep == DM_EP_DATA_IN)
                s->data_in_consumed++;
            break;
        }
        case DM_IN_STALL: {
            emu_urb *u = urbq_pop(s, ep);
            ret_submit(d, u->id, PROTO_USBIP_EPIPE, 0, NULL);
            urb_free(s, u);
            d->ex.ops->consume(d->ex.ctx, ep, now);
            d->usb.halted[slot] = 1;
            emu_logf(&d->srv->log, EMU_LOG_DEBUG, d->busid, "endpoint 0x%02x stalled",
                     ep == DM_EP_DATA_IN ? 0x81 : 0x82);
            break;
        }
        case DM_IN_DISCONNECT:
            /* Consumed like a message, so the device model traces and
             * counts the unplug before the session's reset. */
            d->ex.ops->consume(d->ex.ctx, ep, now);
            emu_session_fail(d, EMU_LOG_INFO, "device unplugged by the scenario");
            return UINT64_MAX;
        default:
            emu_session_fail(d, EMU_LOG_ERROR, "device model returned unknown IN kind %d",
                             (int)in.kind);
            return UINT64_MAX;
        }
    }
    return UINT64_MAX;
}

/* Offers the NAKed bulk OUT URBs to the device again, oldest first, until it
 * NAKs again. */
static void drain_parked(emu_dev *d)
{
    emu_session *s = &d->s;
    while (s->parked.head && !s->dead) {
        emu_urb *u = s->parked.head;
        if (d->usb.halted[EMU_EP_CMD_OUT]) {
            urbq_take(&s->parked);
            ret_submit(d, u->id, PROTO_USBIP_EPIPE, 0, NULL);
            urb_free(s, u);
            continue;
        }
        if (d->ex.ops->bulk_out(d->ex.ctx, u->data, (size_t)u->length) == DM_E_AGAIN)
            return;
        urbq_take(&s->parked);
        ret_submit(d, u->id, 0, u->length, NULL);
        urb_free(s, u);
    }
}

void emu_session_service(emu_dev *d)
{
    emu_session *s = &d->s;
    if (s->fd < 0 || s->dead)
        return;
    uint64_t a, b, c;
    for (;;) {
        drain_parked(d);
        uint64_t consumed = s->data_in_consumed;
        a = service_ep(d, DM_EP_DATA_IN);
        b = service_ep(d, DM_EP_EVENT_IN);
        /* Bulk IN made room in the device: a NAKed OUT may go in now. */
        if (!s->parked.head || s->data_in_consumed == consumed || s->dead)
            break;
    }
    c = emu_ippusb_service(d);
    if (b < a)
        a = b;
    arm_timer(d, c < a ? c : a);
}

/* ---- input ------------------------------------------------------------------------ */

/* SET_CONFIGURATION(0): the interface's endpoints are gone. Linux disables
 * them and gives back their URBs with -ESHUTDOWN; do the same for the URBs
 * waiting here (NAKed bulk OUT, then IN). */
static void flush_unconfigured(emu_dev *d)
{
    emu_session *s = &d->s;
    while (s->parked.head && !s->dead) {
        emu_urb *u = urbq_take(&s->parked);
        ret_submit(d, u->id, PROTO_USBIP_ESHUTDOWN, 0, NULL);
        urb_free(s, u);
    }
    for (int ep = 0; ep < 2; ep++) {
        while (s->q[ep].head && !s->dead) {
            emu_urb *u = urbq_pop(s, (enum dm_endpoint)ep);
            ret_submit(d, u->id, PROTO_USBIP_ESHUTDOWN, 0, NULL);
            urb_free(s, u);
        }
    }
}

/* A bulk/interrupt URB while the device is not configured: the endpoint is
 * not in the active configuration. A Linux host refuses the submit with
 * -ENOENT; a USB/IP server cannot refuse it, so it completes it with that
 * status, and says so once per connection. */
static void refuse_unconfigured(emu_dev *d, const proto_usbip_urb_hdr *h)
{
    emu_session *s = &d->s;
    if (!s->warned_unconfigured) {
        s->warned_unconfigured = 1;
        emu_logf(&d->srv->log, EMU_LOG_WARN, d->busid,
                 "%s: URB on endpoint 0x%02x (seqnum %u) while the device is unconfigured (no "
                 "SET_CONFIGURATION(1)): completed -ENOENT, as is every such URB on this "
                 "connection",
                 s->peer, h->ep | (h->direction == PROTO_USBIP_DIR_IN ? 0x80u : 0u), h->seqnum);
    }
    /* The endpoint is not in the active configuration, which Linux's
     * usb_submit_urb (and usbfs) reports as -ENOENT. */
    ret_submit(d, urb_id(h), PROTO_USBIP_ENOENT, 0, NULL);
}

static void handle_control(emu_dev *d, const proto_usbip_urb_hdr *h, const uint8_t *payload)
{
    proto_usb_setup setup;
    proto_usb_setup_decode(h->u.submit.setup, &setup);
    int32_t tbl = h->u.submit.transfer_buffer_length;
    int in = h->direction == PROTO_USBIP_DIR_IN;
    uint8_t reply[512];
    size_t rlen = 0;
    emu_ctrl_effect eff;
    uint8_t was_configured = d->usb.configuration;
    int st = emu_usbdev_control(&d->usb, &setup, in ? NULL : payload, in ? 0 : (size_t)tbl, reply,
                                sizeof reply, &rlen, &eff);
    if (was_configured && d->usb.configuration == 0)
        flush_unconfigured(d);
    if (eff.ippusb_reset)
        emu_ippusb_reset(d, eff.ippusb_reset, d->usb.configuration == 0);
    emu_logf(&d->srv->log, EMU_LOG_DEBUG, d->busid,
             "ep0 %02x %02x wValue %04x wIndex %04x wLength %u -> %d (%zu bytes)",
             setup.bmRequestType, setup.bRequest, setup.wValue, setup.wIndex, setup.wLength, st,
             rlen);
    for (int i = 0; i < (int)EMU_EP_NATIVE; i++) {
        if (eff.cleared[i] && i != EMU_EP_CMD_OUT)
            d->ex.ops->clear_halt(d->ex.ctx, i == EMU_EP_DATA_IN ? DM_EP_DATA_IN : DM_EP_EVENT_IN);
    }
    size_t actual = 0;
    if (st == 0) {
        if (in) {
            actual = rlen < (size_t)tbl ? rlen : (size_t)tbl;
            if ((h->u.submit.transfer_flags & PROTO_URB_SHORT_NOT_OK) && actual < (size_t)tbl)
                st = PROTO_USBIP_EREMOTEIO;
        } else {
            actual = (size_t)tbl;
        }
    }
    /* An OUT reply carries no data but reports how much was taken. */
    ret_submit(d, urb_id(h), st, (int32_t)actual, in ? reply : NULL);
}

static emu_urb *urb_alloc(emu_dev *d, const proto_usbip_urb_hdr *h)
{
    emu_session *s = &d->s;
    if (!s->free_list) {
        emu_session_fail(d, EMU_LOG_WARN, "more than %u URBs outstanding", EMU_MAX_PENDING_URBS);
        return NULL;
    }
    emu_urb *u = s->free_list;
    s->free_list = u->next;
    s->npending++;
    u->next = NULL;
    u->id = urb_id(h);
    u->flags = h->u.submit.transfer_flags;
    u->length = h->u.submit.transfer_buffer_length;
    u->data = NULL;
    u->arrival_ns = s->rx_stamp;
    return u;
}

static void handle_submit(emu_dev *d, const proto_usbip_urb_hdr *h, const uint8_t *payload)
{
    emu_session *s = &d->s;
    int32_t tbl = h->u.submit.transfer_buffer_length;
    if (h->ep == 0) {
        handle_control(d, h, payload);
        return;
    }
    if (d->usb.configuration == 0) {
        refuse_unconfigured(d, h);
        return;
    }
    int slot = emu_usbdev_slot(&d->usb, (uint8_t)(h->ep | (h->direction ? 0x80u : 0u)));
    int k = emu_usbdev_ippusb_of(&d->usb, slot);
    if (k >= 0) {
        emu_ippusb_submit(d, (unsigned)k, h, payload);
        return;
    }
    if (slot == EMU_EP_CMD_OUT) {
        /* Behind NAKed OUTs, in order (drain_parked deals with a halt). */
        if (!s->parked.head) {
            if (d->usb.halted[EMU_EP_CMD_OUT]) {
                ret_submit(d, urb_id(h), PROTO_USBIP_EPIPE, 0, NULL);
                return;
            }
            if (d->ex.ops->bulk_out(d->ex.ctx, payload, (size_t)tbl) != DM_E_AGAIN) {
                ret_submit(d, urb_id(h), 0, tbl, NULL);
                return;
            }
        }
        /* The device NAKs it: pending, unanswered, until bulk IN drains. */
        if (s->parked_bytes + (size_t)tbl > EMU_MAX_PARKED_OUT) {
            emu_session_fail(d, EMU_LOG_WARN,
                             "more than %u bytes of bulk OUT waiting while the device's response "
                             "queue is full (the client does not read bulk IN)",
                             EMU_MAX_PARKED_OUT);
            return;
        }
        emu_urb *u = urb_alloc(d, h);
        if (!u)
            return;
        u->data = malloc(tbl > 0 ? (size_t)tbl : 1);
        if (!u->data) {
            urb_free(s, u);
            emu_session_fail(d, EMU_LOG_ERROR, "out of memory holding a %d-byte bulk OUT", tbl);
            return;
        }
        memcpy(u->data, payload, (size_t)tbl);
        s->parked_bytes += (size_t)tbl;
        urbq_push(&s->parked, u);
        return;
    }
    /* 0x81 or 0x82 (validated by the caller). */
    enum dm_endpoint ep = slot == EMU_EP_DATA_IN ? DM_EP_DATA_IN : DM_EP_EVENT_IN;
    emu_urb *u = urb_alloc(d, h);
    if (u)
        urbq_push(&s->q[ep], u);
}

static void handle_unlink(emu_dev *d, const proto_usbip_urb_hdr *h)
{
    emu_session *s = &d->s;
    uint32_t target = h->u.unlink.seqnum;
    emu_urbq *qs[3] = {&s->q[0], &s->q[1], &s->parked};
    for (int k = 0; k < 3; k++) {
        emu_urbq *q = qs[k];
        emu_urb *prev = NULL;
        for (emu_urb *u = q->head; u; prev = u, u = u->next) {
            if (u->id.seqnum != target)
                continue;
            if (prev)
                prev->next = u->next;
            else
                q->head = u->next;
            if (q->tail == u)
                q->tail = prev;
            urb_free(s, u);
            ret_unlink(d, h->seqnum, PROTO_USBIP_ECONNRESET);
            return;
        }
    }
    if (emu_ippusb_unlink(d, target)) {
        ret_unlink(d, h->seqnum, PROTO_USBIP_ECONNRESET);
        return;
    }
    if (recently_completed(s, target)) {
        ret_unlink(d, h->seqnum, 0);
        return;
    }
    emu_session_fail(d, EMU_LOG_WARN, "CMD_UNLINK of unknown seqnum %u", target);
}

/* Checks everything about a header before its payload is awaited. Returns the
 * payload length that follows it, or -1 (session failed). */
static long check_header(emu_dev *d, const proto_usbip_urb_hdr *h)
{
    if (h->command != PROTO_USBIP_CMD_SUBMIT && h->command != PROTO_USBIP_CMD_UNLINK) {
        emu_session_fail(d, EMU_LOG_WARN, "unexpected command %u from the client (seqnum %u)",
                         h->command, h->seqnum);
        return -1;
    }
    if (h->devid != d->devid) {
        emu_session_fail(d, EMU_LOG_WARN, "devid 0x%08x does not match the imported device 0x%08x",
                         h->devid, d->devid);
        return -1;
    }
    if (h->command == PROTO_USBIP_CMD_UNLINK)
        return 0;
    int ok_ep = h->ep == 0 ||
                (h->ep < 16 &&
                 emu_usbdev_slot(&d->usb, (uint8_t)(h->ep | (h->direction ? 0x80u : 0u))) >= 0);
    if (!ok_ep) {
        emu_session_fail(d, EMU_LOG_WARN, "CMD_SUBMIT to unknown endpoint %u %s (seqnum %u)", h->ep,
                         h->direction ? "IN" : "OUT", h->seqnum);
        return -1;
    }
    if (h->u.submit.number_of_packets > 0) {
        emu_session_fail(d, EMU_LOG_WARN,
                         "CMD_SUBMIT with %d isochronous packets on a non-isochronous endpoint",
                         h->u.submit.number_of_packets);
        return -1;
    }
    if (h->direction == PROTO_USBIP_DIR_OUT)
        return h->u.submit.transfer_buffer_length;
    return 0;
}

static int rx_reserve(emu_dev *d, size_t need)
{
    emu_session *s = &d->s;
    if (s->rx_off > 0 && s->rx_cap - s->rx_off < need) {
        memmove(s->rx, s->rx + s->rx_off, s->rx_len - s->rx_off);
        s->rx_len -= s->rx_off;
        s->rx_off = 0;
    }
    if (s->rx_cap - s->rx_off >= need)
        return 0;
    size_t cap = s->rx_off + need;
    uint8_t *p = realloc(s->rx, cap);
    if (!p) {
        emu_session_fail(d, EMU_LOG_ERROR, "out of memory for a %zu-byte message", need);
        return -1;
    }
    s->rx = p;
    s->rx_cap = cap;
    return 0;
}

/* Handles every complete message in the receive buffer. */
void emu_session_process(emu_dev *d)
{
    emu_session *s = &d->s;
    while (!s->dead && emu_session_outq_pending(s) <= EMU_OUTQ_HIGH_WATER) {
        size_t avail = s->rx_len - s->rx_off;
        if (avail < PROTO_USBIP_URB_HDR_SIZE)
            break;
        const uint8_t *p = s->rx + s->rx_off;
        proto_usbip_urb_hdr h;
        int rc = proto_usbip_urb_hdr_decode(p, avail, &h);
        if (rc < 0) {
            emu_session_fail(
                d, EMU_LOG_WARN,
                "malformed URB header (command %u, seqnum %u, ep %u, direction %u): %s",
                proto_get_be32(p), proto_get_be32(p + 4), proto_get_be32(p + 16),
                proto_get_be32(p + 12), proto_strerror(rc));
            return;
        }
        long plen = check_header(d, &h);
        if (plen < 0)
            return;
        size_t need = PROTO_USBIP_URB_HDR_SIZE + (size_t)plen;
        if (avail < need) {
            if (rx_reserve(d, need) < 0)
                return;
            break;
        }
        if (h.command == PROTO_USBIP_CMD_SUBMIT)
            handle_submit(d, &h, p + PROTO_USBIP_URB_HDR_SIZE);
        else
            handle_unlink(d, &h);
        s->rx_off += need;
    }
    if (s->rx_off == s->rx_len)
        s->rx_off = s->rx_len = 0;
}

/* When the bytes just received reached the socket, on CLOCK_MONOTONIC: the
 * kernel's receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME) converted by its
 * age, so a worker that runs late does not make a URB look late; the read
 * time itself when there is none (or it is implausible). For TCP it is the
 * timestamp of the last segment read, so never earlier than the truth. */
static uint64_t rx_arrival(struct msghdr *mh)
{
    uint64_t now = emu_now_ns();
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS ||
            cm->cmsg_len < CMSG_LEN(sizeof(struct timespec)))
            continue;
        struct timespec ts, rt;
        memcpy(&ts, CMSG_DATA(cm), sizeof ts);
        clock_gettime(CLOCK_REALTIME, &rt);
        int64_t age = ((int64_t)rt.tv_sec - (int64_t)ts.tv_sec) * 1000000000ll +
                      ((int64_t)rt.tv_nsec - (int64_t)ts.tv_nsec);
        if (age >= 0 && age < 1000000000ll && (uint64_t)age < now)
            return now - (uint64_t)age;
    }
    return now;
}

void emu_session_read(emu_dev *d)
{
    emu_session *s = &d->s;
    size_t budget = 1u << 20; /* then let timers and output run */
    while (!s->dead && emu_session_outq_pending(s) <= EMU_OUTQ_HIGH_WATER && budget > 0) {
        if (s->rx_cap - s->rx_len < EMU_RX_CHUNK / 4 &&
            rx_reserve(d, s->rx_len - s->rx_off + EMU_RX_CHUNK) < 0)
            return;
        struct iovec iov = {s->rx + s->rx_len, s->rx_cap - s->rx_len};
        union {
            char buf[CMSG_SPACE(sizeof(struct timespec))];
            struct cmsghdr align;
        } ctl;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        mh.msg_control = ctl.buf;
        mh.msg_controllen = sizeof ctl.buf;
        ssize_t r = recvmsg(s->fd, &mh, MSG_DONTWAIT);
        if (r > 0)
            s->rx_stamp = rx_arrival(&mh);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                emu_session_fail(d, EMU_LOG_INFO, "receive failed: %s", strerror(errno));
            return;
        }
        if (r == 0) {
            size_t partial = s->rx_len - s->rx_off;
            if (partial > 0)
                emu_session_fail(d, EMU_LOG_WARN,
                                 "client vanished mid-message (%zu bytes of an unfinished message)",
                                 partial);
            else
                emu_session_fail(d, EMU_LOG_INFO, "client closed the connection");
            return;
        }
        s->rx_len += (size_t)r;
        budget -= (size_t)r < budget ? (size_t)r : budget;
        emu_session_process(d);
    }
}

/* ---- lifecycle -------------------------------------------------------------------- */

void emu_session_update_mask(emu_dev *d)
{
    emu_session *s = &d->s;
    if (s->fd < 0 || s->dead)
        return;
    uint32_t want = 0;
    if (emu_session_outq_pending(s) <= EMU_OUTQ_HIGH_WATER)
        want |= EPOLLIN;
    if (emu_session_outq_pending(s) > 0)
        want |= EPOLLOUT;
    if (want == s->ep_mask)
        return;
    struct epoll_event ev = {.events = want, .data.u32 = EMU_TAG_SOCK};
    if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
        s->ep_mask = want;
}

void emu_session_begin(emu_dev *d, int fd)
{
    emu_session *s = &d->s;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[48] = "?", serv[8] = "?";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(s->peer, sizeof s->peer, "%s:%s", host, serv);
    int one = 1; /* receive timestamps for the URBs' arrival (trace urb_ns) */
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    s->rx_stamp = emu_now_ns();
    pthread_mutex_lock(&d->mtx); /* the acceptor polls s->fd under mtx */
    s->fd = fd;
    pthread_mutex_unlock(&d->mtx);
    s->dead = 0;
    s->warned_unconfigured = 0;
    s->ep_mask = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EMU_TAG_SOCK};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        emu_session_fail(d, EMU_LOG_ERROR, "epoll_ctl: %s", strerror(errno));
        return;
    }
    emu_logf(&d->srv->log, EMU_LOG_INFO, d->busid, "attached by %s", s->peer);
    if (d->srv->dev_event)
        d->srv->dev_event(d->srv->dev_event_ctx, d->index, d->busid, 1, s->peer);
}

void emu_session_end(emu_dev *d)
{
    emu_session *s = &d->s;
    if (s->fd < 0)
        return;
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    pthread_mutex_lock(&d->mtx); /* the acceptor polls s->fd under mtx */
    close(s->fd);
    s->fd = -1;
    pthread_mutex_unlock(&d->mtx);
    s->dead = 0;
    emu_ippusb_end(d);
    for (int ep = 0; ep < 2; ep++) {
        while (s->q[ep].head)
            urb_free(s, urbq_pop(s, (enum dm_endpoint)ep));
    }
    while (s->parked.head)
        urb_free(s, urbq_take(&s->parked));
    s->rx_off = s->rx_len = 0;
    s->out_off = s->out_len = 0;
    /* A client's 16 MiB OUT transfer or a slow reader's backlog is not kept
     * for the device's lifetime: back to the steady-state size. */
    if (s->rx_cap > EMU_RX_CHUNK) {
        uint8_t *p = realloc(s->rx, EMU_RX_CHUNK);
        if (p) {
            s->rx = p;
            s->rx_cap = EMU_RX_CHUNK;
        }
    }
    if (s->out_cap > EMU_RX_CHUNK) {
        uint8_t *p = realloc(s->out, EMU_RX_CHUNK);
        if (p) {
            s->out = p;
            s->out_cap = EMU_RX_CHUNK;
        }
    }
    s->recent_n = s->recent_pos = 0;
    arm_timer(d, UINT64_MAX);
    /* Like unplugging: the next import finds a freshly powered device. */
    d->ex.ops->reset(d->ex.ctx);
    emu_usbdev_reset(&d->usb);
    emu_trace_flush(d->srv->trace);
    s->released_since_flush = 0;
    emu_logf(&d->srv->log, EMU_LOG_INFO, d->busid, "detached (%s)", s->peer);
    if (d->srv->dev_event)
        d->srv->dev_event(d->srv->dev_event_ctx, d->index, d->busid, 0, s->peer);
    pthread_mutex_lock(&d->mtx);
    d->busy = 0;
    pthread_mutex_unlock(&d->mtx);
}

int emu_session_alloc(emu_session *s)
{
    s->fd = -1;
    s->pool = calloc(EMU_MAX_PENDING_URBS, sizeof(emu_urb));
    s->rx = malloc(EMU_RX_CHUNK);
    s->out = malloc(EMU_RX_CHUNK);
    if (!s->pool || !s->rx || !s->out)
        return EMU_E_NOMEM;
    s->rx_cap = s->out_cap = EMU_RX_CHUNK;
    for (size_t i = 0; i < EMU_MAX_PENDING_URBS; i++) {
        s->pool[i].next = s->free_list;
        s->free_list = &s->pool[i];
    }
    s->npending = 0;
    return EMU_OK;
}

void emu_session_free(emu_session *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->pool);
    free(s->rx);
    free(s->out);
    s->pool = s->free_list = NULL;
    s->rx = s->out = NULL;
}

/* ---- for the IPP-USB carrier ------------------------------------------------------ */

void emu_session_ret_submit(emu_dev *d, emu_urb_id id, int32_t status, int32_t actual,
                            const uint8_t *in_data)
{
    ret_submit(d, id, status, actual, in_data);
}

emu_urb *emu_session_urb_alloc(emu_dev *d, const proto_usbip_urb_hdr *h)
{
    return urb_alloc(d, h);
}

void emu_session_urb_free(emu_dev *d, emu_urb *u)
{
    urb_free(&d->s, u);
}
