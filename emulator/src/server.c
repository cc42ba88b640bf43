/* The USB/IP server.
 *
 * Threads: emu_server_run()'s caller is the acceptor (listening socket plus
 * connections still in the operation phase: OP_REQ_DEVLIST / OP_REQ_IMPORT).
 * Each exported device has its own worker thread with its own epoll set and
 * timerfd; a successful import hands the socket to that worker, which owns
 * the session (URB queues, ep0, the backend) until the connection ends. A
 * slow or hostile client therefore only ever delays its own device.
 *
 * Sockets are non-blocking. Output that the kernel does not take at once is
 * queued per connection; above EMU_OUTQ_HIGH_WATER the worker stops reading
 * input, and no bulk/interrupt IN URB is completed while output is queued,
 * so memory stays bounded whatever the client does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "emu-internal.h"

/* ---- types ------------------------------------------------------------------- */

typedef struct emu_urb {
    struct emu_urb *next;
    uint32_t seqnum;
    uint32_t flags;
    int32_t length; /* transfer_buffer_length */
    int32_t start_frame;
    int32_t number_of_packets;
    uint8_t *data;       /* a NAKed bulk OUT's payload (length bytes), else NULL */
    uint64_t arrival_ns; /* when its CMD_SUBMIT reached the socket (CLOCK_MONOTONIC) */
} emu_urb;

typedef struct emu_urbq {
    emu_urb *head, *tail;
} emu_urbq;

typedef struct emu_session {
    int fd; /* -1: no client attached */
    int dead;
    char peer[64];
    emu_urbq q[2];   /* by enum dm_endpoint */
    emu_urbq parked; /* bulk OUT 0x01 URBs the device NAKed, FIFO */
    size_t parked_bytes;
    uint64_t data_in_consumed; /* bulk IN messages handed over: room for a parked OUT */
    emu_urb *pool;
    emu_urb *free_list;
    size_t npending;
    uint32_t recent[EMU_RECENT_SEQNUMS];
    size_t recent_pos, recent_n;
    uint8_t *rx;
    size_t rx_cap, rx_off, rx_len;
    uint8_t *out;
    size_t out_cap, out_off, out_len;
    uint32_t ep_mask;
    uint64_t timer_at; /* 0: disarmed */
    uint64_t released_since_flush;
    uint64_t rx_stamp;       /* arrival of the bytes last received (CLOCK_MONOTONIC) */
    int warned_unconfigured; /* one warning per connection */
} emu_session;

typedef struct emu_dev {
    emu_server *srv;
    size_t index;
    char busid[PROTO_USBIP_BUSID_SIZE];
    uint32_t devid;
    proto_usbip_device rec;
    proto_usbip_interface intf;
    emu_export ex;
    emu_usbdev usb;
    int epfd, timerfd, handoff_efd;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mtx; /* busy, handoff_fd */
    int busy;
    int handoff_fd;
    emu_session s;
} emu_dev;

enum op_stage { OP_FREE = 0, OP_READ_HDR, OP_READ_BUSID, OP_WRITE };
enum op_after { OP_AFTER_CLOSE = 0, OP_AFTER_HANDOFF };

typedef struct emu_opconn {
    int fd;
    enum op_stage stage;
    uint8_t in[PROTO_USBIP_IMPORT_REQ_SIZE];
    size_t have, need;
    uint8_t reply[PROTO_USBIP_OP_HDR_SIZE + PROTO_USBIP_DEVICE_SIZE];
    const uint8_t *out;
    size_t out_len, out_off;
    enum op_after after;
    emu_dev *dev;
    uint64_t start_ns; /* accepted (CLOCK_MONOTONIC) */
    char peer[64];
} emu_opconn;

#define EMU_MAX_CLEANUPS 8

struct emu_server {
    emu_log log;
    int listen_fd;
    uint16_t port;
    int stop_efd;
    atomic_int stopping;
    int acceptor_epfd;
    size_t ndev;
    emu_dev *devs;
    emu_trace *trace;
    uint8_t *devlist; /* prebuilt OP_REP_DEVLIST */
    size_t devlist_len;
    emu_admit admit; /* op-phase slots: which connection stays, and how long */
    emu_opconn *ops; /* admit.lim.slots entries, indexed like the slots */
    struct {
        uint64_t window_ns; /* start of the current one-second window */
        unsigned lines;     /* drop messages logged in it */
        unsigned suppressed;
    } drops;
    struct {
        emu_cleanup_fn fn;
        void *arg;
    } cleanups[EMU_MAX_CLEANUPS];
    size_t ncleanups;
    int realtime_prio; /* 0: normal scheduling */
    unsigned slice_us; /* 0: the kernel's default slice */
};

/* epoll tags for the fixed descriptors of a worker. */
enum { TAG_STOP = 1, TAG_HANDOFF, TAG_TIMER, TAG_SOCK };
static char tag_listen, tag_stop; /* addresses used as acceptor epoll tags */

void emu_options_init(emu_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->listen_host = "127.0.0.1";
    opts->listen_port = 3240;
    opts->seed = 1;
    opts->timing = 1;
    opts->log_level = EMU_LOG_INFO;
    opts->log = stderr;
    opts->slice_us = 100;
}

uint16_t emu_server_port(const emu_server *srv)
{
    return srv->port;
}

void emu_server_stop(emu_server *srv)
{
    atomic_store(&srv->stopping, 1);
    uint64_t one = 1;
    ssize_t r = write(srv->stop_efd, &one, sizeof one);
    (void)r;
}

int emu_server_add_cleanup(emu_server *srv, emu_cleanup_fn fn, void *arg)
{
    if (srv->ncleanups >= EMU_MAX_CLEANUPS)
        return -1;
    srv->cleanups[srv->ncleanups].fn = fn;
    srv->cleanups[srv->ncleanups].arg = arg;
    srv->ncleanups++;
    return 0;
}

/* ---- session: output ---------------------------------------------------------- */

static void session_fail(emu_dev *d, enum emu_log_level lvl, const char *fmt, ...) EMU_PRINTF(3, 4);

static void session_fail(emu_dev *d, enum emu_log_level lvl, const char *fmt, ...)
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
            session_fail(d, EMU_LOG_ERROR, "out of memory queueing %zu bytes", alen + blen);
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

static size_t outq_pending(const emu_session *s)
{
    return s->out_len - s->out_off;
}

/* Header and payload in one sendmsg; whatever the socket does not take now is
 * queued. */
static int send_msg(emu_dev *d, const uint8_t *hdr, size_t hlen, const uint8_t *data, size_t dlen)
{
    emu_session *s = &d->s;
    if (s->dead)
        return -1;
    if (outq_pending(s) > 0)
        return outq_append(d, hdr, hlen, data, dlen);
    struct iovec iov[2] = {{(void *)hdr, hlen}, {(void *)data, dlen}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = dlen ? 2 : 1};
    ssize_t w;
    do
        w = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            session_fail(d, EMU_LOG_INFO, "send failed: %s", strerror(errno));
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

static void flush_out(emu_dev *d)
{
    emu_session *s = &d->s;
    while (!s->dead && outq_pending(s) > 0) {
        ssize_t w = send(s->fd, s->out + s->out_off, outq_pending(s), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                session_fail(d, EMU_LOG_INFO, "send failed: %s", strerror(errno));
            return;
        }
        s->out_off += (size_t)w;
    }
    if (outq_pending(s) == 0)
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

static void ret_submit(emu_dev *d, uint32_t seqnum, int32_t status, const uint8_t *data, size_t len,
                       int32_t start_frame, int32_t nop)
{
    proto_usbip_urb_hdr h;
    memset(&h, 0, sizeof h);
    h.command = PROTO_USBIP_RET_SUBMIT;
    h.seqnum = seqnum;
    h.u.ret_submit.status = status;
    h.u.ret_submit.actual_length = (int32_t)len;
    h.u.ret_submit.start_frame = start_frame;
    h.u.ret_submit.number_of_packets = nop; /* echoed, as the kernel's stub does */
    uint8_t hdr[PROTO_USBIP_URB_HDR_SIZE];
    proto_usbip_urb_hdr_encode(&h, hdr, sizeof hdr);
    send_msg(d, hdr, sizeof hdr, data, len);
    remember_completed(&d->s, seqnum);
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

/* ---- session: IN endpoints ------------------------------------------------------ */

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
            ret_submit(d, u->seqnum, PROTO_USBIP_EPIPE, NULL, 0, u->start_frame,
                       u->number_of_packets);
            urb_free(s, u);
            continue;
        }
        if (outq_pending(s) > 0)
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
                         u->seqnum, u->length, in.len);
                ret_submit(d, u->seqnum, PROTO_USBIP_EOVERFLOW, NULL, 0, u->start_frame,
                           u->number_of_packets);
            } else {
                int32_t st = 0;
                if ((u->flags & PROTO_URB_SHORT_NOT_OK) && in.len < (size_t)u->length)
                    st = PROTO_USBIP_EREMOTEIO;
                ret_submit(d, u->seqnum, st, in.data, in.len, u->start_frame, u->number_of_packets);
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
            ret_submit(d, u->seqnum, PROTO_USBIP_EPIPE, NULL, 0, u->start_frame,
                       u->number_of_packets);
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
            session_fail(d, EMU_LOG_INFO, "device unplugged by the scenario");
            return UINT64_MAX;
        default:
            session_fail(d, EMU_LOG_ERROR, "device model returned unknown IN kind %d",
                         (int)in.kind);
            return UINT64_MAX;
        }
    }
    return UINT64_MAX;
}

static void ret_submit_out(emu_dev *d, uint32_t seqnum, int32_t status, int32_t taken,
                           int32_t start_frame, int32_t nop)
{
    proto_usbip_urb_hdr r;
    memset(&r, 0, sizeof r);
    r.command = PROTO_USBIP_RET_SUBMIT;
    r.seqnum = seqnum;
    r.u.ret_submit.status = status;
    r.u.ret_submit.actual_length = taken; /* an OUT reply reports what was taken */
    r.u.ret_submit.start_frame = start_frame;
    r.u.ret_submit.number_of_packets = nop;
    uint8_t hdr[PROTO_USBIP_URB_HDR_SIZE];
    proto_usbip_urb_hdr_encode(&r, hdr, sizeof hdr);
    send_msg(d, hdr, sizeof hdr, NULL, 0);
    remember_completed(&d->s, seqnum);
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
            ret_submit_out(d, u->seqnum, PROTO_USBIP_EPIPE, 0, u->start_frame,
                           u->number_of_packets);
            urb_free(s, u);
            continue;
        }
        if (d->ex.ops->bulk_out(d->ex.ctx, u->data, (size_t)u->length) == DM_E_AGAIN)
            return;
        urbq_take(&s->parked);
        ret_submit_out(d, u->seqnum, 0, u->length, u->start_frame, u->number_of_packets);
        urb_free(s, u);
    }
}

static void service(emu_dev *d)
{
    emu_session *s = &d->s;
    if (s->fd < 0 || s->dead)
        return;
    uint64_t a, b;
    for (;;) {
        drain_parked(d);
        uint64_t consumed = s->data_in_consumed;
        a = service_ep(d, DM_EP_DATA_IN);
        b = service_ep(d, DM_EP_EVENT_IN);
        /* Bulk IN made room in the device: a NAKed OUT may go in now. */
        if (!s->parked.head || s->data_in_consumed == consumed || s->dead)
            break;
    }
    arm_timer(d, a < b ? a : b);
}

/* ---- session: input --------------------------------------------------------------- */

/* SET_CONFIGURATION(0): the interface's endpoints are gone. Linux disables
 * them and gives back their URBs with -ESHUTDOWN; do the same for the URBs
 * waiting here (NAKed bulk OUT, then IN). */
static void flush_unconfigured(emu_dev *d)
{
    emu_session *s = &d->s;
    while (s->parked.head && !s->dead) {
        emu_urb *u = urbq_take(&s->parked);
        ret_submit_out(d, u->seqnum, PROTO_USBIP_ESHUTDOWN, 0, u->start_frame,
                       u->number_of_packets);
        urb_free(s, u);
    }
    for (int ep = 0; ep < 2; ep++) {
        while (s->q[ep].head && !s->dead) {
            emu_urb *u = urbq_pop(s, (enum dm_endpoint)ep);
            ret_submit(d, u->seqnum, PROTO_USBIP_ESHUTDOWN, NULL, 0, u->start_frame,
                       u->number_of_packets);
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
    ret_submit(d, h->seqnum, PROTO_USBIP_ENOENT, NULL, 0, h->u.submit.start_frame,
               h->u.submit.number_of_packets);
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
    emu_logf(&d->srv->log, EMU_LOG_DEBUG, d->busid,
             "ep0 %02x %02x wValue %04x wIndex %04x wLength %u -> %d (%zu bytes)",
             setup.bmRequestType, setup.bRequest, setup.wValue, setup.wIndex, setup.wLength, st,
             rlen);
    for (int i = 0; i < EMU_EP_COUNT; i++) {
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
    proto_usbip_urb_hdr r;
    memset(&r, 0, sizeof r);
    r.command = PROTO_USBIP_RET_SUBMIT;
    r.seqnum = h->seqnum;
    r.u.ret_submit.status = st;
    r.u.ret_submit.actual_length = (int32_t)actual;
    r.u.ret_submit.start_frame = h->u.submit.start_frame;
    r.u.ret_submit.number_of_packets = h->u.submit.number_of_packets;
    uint8_t hdr[PROTO_USBIP_URB_HDR_SIZE];
    proto_usbip_urb_hdr_encode(&r, hdr, sizeof hdr);
    send_msg(d, hdr, sizeof hdr, in ? reply : NULL, in ? actual : 0);
    remember_completed(&d->s, h->seqnum);
}

static emu_urb *urb_alloc(emu_dev *d, const proto_usbip_urb_hdr *h)
{
    emu_session *s = &d->s;
    if (!s->free_list) {
        session_fail(d, EMU_LOG_WARN, "more than %u URBs outstanding", EMU_MAX_PENDING_URBS);
        return NULL;
    }
    emu_urb *u = s->free_list;
    s->free_list = u->next;
    s->npending++;
    u->next = NULL;
    u->seqnum = h->seqnum;
    u->flags = h->u.submit.transfer_flags;
    u->length = h->u.submit.transfer_buffer_length;
    u->start_frame = h->u.submit.start_frame;
    u->number_of_packets = h->u.submit.number_of_packets;
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
    if (h->ep == 1 && h->direction == PROTO_USBIP_DIR_OUT) {
        /* Behind NAKed OUTs, in order (drain_parked deals with a halt). */
        if (!s->parked.head) {
            if (d->usb.halted[EMU_EP_CMD_OUT]) {
                ret_submit_out(d, h->seqnum, PROTO_USBIP_EPIPE, 0, h->u.submit.start_frame,
                               h->u.submit.number_of_packets);
                return;
            }
            if (d->ex.ops->bulk_out(d->ex.ctx, payload, (size_t)tbl) != DM_E_AGAIN) {
                ret_submit_out(d, h->seqnum, 0, tbl, h->u.submit.start_frame,
                               h->u.submit.number_of_packets);
                return;
            }
        }
        /* The device NAKs it: pending, unanswered, until bulk IN drains. */
        if (s->parked_bytes + (size_t)tbl > EMU_MAX_PARKED_OUT) {
            session_fail(d, EMU_LOG_WARN,
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
            session_fail(d, EMU_LOG_ERROR, "out of memory holding a %d-byte bulk OUT", tbl);
            return;
        }
        memcpy(u->data, payload, (size_t)tbl);
        s->parked_bytes += (size_t)tbl;
        urbq_push(&s->parked, u);
        return;
    }
    /* ep 1 IN or ep 2 IN (validated by the caller). */
    enum dm_endpoint ep = h->ep == 1 ? DM_EP_DATA_IN : DM_EP_EVENT_IN;
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
            if (u->seqnum != target)
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
    if (recently_completed(s, target)) {
        ret_unlink(d, h->seqnum, 0);
        return;
    }
    session_fail(d, EMU_LOG_WARN, "CMD_UNLINK of unknown seqnum %u", target);
}

/* Checks everything about a header before its payload is awaited. Returns the
 * payload length that follows it, or -1 (session failed). */
static long check_header(emu_dev *d, const proto_usbip_urb_hdr *h)
{
    if (h->command != PROTO_USBIP_CMD_SUBMIT && h->command != PROTO_USBIP_CMD_UNLINK) {
        session_fail(d, EMU_LOG_WARN, "unexpected command %u from the client (seqnum %u)",
                     h->command, h->seqnum);
        return -1;
    }
    if (h->devid != d->devid) {
        session_fail(d, EMU_LOG_WARN, "devid 0x%08x does not match the imported device 0x%08x",
                     h->devid, d->devid);
        return -1;
    }
    if (h->command == PROTO_USBIP_CMD_UNLINK)
        return 0;
    int ok_ep = h->ep == 0 || (h->ep == 1) || (h->ep == 2 && h->direction == PROTO_USBIP_DIR_IN);
    if (!ok_ep) {
        session_fail(d, EMU_LOG_WARN, "CMD_SUBMIT to unknown endpoint %u %s (seqnum %u)", h->ep,
                     h->direction ? "IN" : "OUT", h->seqnum);
        return -1;
    }
    if (h->u.submit.number_of_packets > 0) {
        session_fail(d, EMU_LOG_WARN,
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
        session_fail(d, EMU_LOG_ERROR, "out of memory for a %zu-byte message", need);
        return -1;
    }
    s->rx = p;
    s->rx_cap = cap;
    return 0;
}

/* Handles every complete message in the receive buffer. */
static void process_input(emu_dev *d)
{
    emu_session *s = &d->s;
    while (!s->dead && outq_pending(s) <= EMU_OUTQ_HIGH_WATER) {
        size_t avail = s->rx_len - s->rx_off;
        if (avail < PROTO_USBIP_URB_HDR_SIZE)
            break;
        const uint8_t *p = s->rx + s->rx_off;
        proto_usbip_urb_hdr h;
        int rc = proto_usbip_urb_hdr_decode(p, avail, &h);
        if (rc < 0) {
            session_fail(d, EMU_LOG_WARN,
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

static void read_input(emu_dev *d)
{
    emu_session *s = &d->s;
    size_t budget = 1u << 20; /* then let timers and output run */
    while (!s->dead && outq_pending(s) <= EMU_OUTQ_HIGH_WATER && budget > 0) {
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
                session_fail(d, EMU_LOG_INFO, "receive failed: %s", strerror(errno));
            return;
        }
        if (r == 0) {
            size_t partial = s->rx_len - s->rx_off;
            if (partial > 0)
                session_fail(d, EMU_LOG_WARN,
                             "client vanished mid-message (%zu bytes of an unfinished message)",
                             partial);
            else
                session_fail(d, EMU_LOG_INFO, "client closed the connection");
            return;
        }
        s->rx_len += (size_t)r;
        budget -= (size_t)r < budget ? (size_t)r : budget;
        process_input(d);
    }
}

/* ---- session lifecycle ------------------------------------------------------------ */

static void update_mask(emu_dev *d)
{
    emu_session *s = &d->s;
    if (s->fd < 0 || s->dead)
        return;
    uint32_t want = 0;
    if (outq_pending(s) <= EMU_OUTQ_HIGH_WATER)
        want |= EPOLLIN;
    if (outq_pending(s) > 0)
        want |= EPOLLOUT;
    if (want == s->ep_mask)
        return;
    struct epoll_event ev = {.events = want, .data.u32 = TAG_SOCK};
    if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
        s->ep_mask = want;
}

static void session_begin(emu_dev *d, int fd)
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
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_SOCK};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        session_fail(d, EMU_LOG_ERROR, "epoll_ctl: %s", strerror(errno));
        return;
    }
    emu_logf(&d->srv->log, EMU_LOG_INFO, d->busid, "attached by %s", s->peer);
}

static void session_end(emu_dev *d)
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
    pthread_mutex_lock(&d->mtx);
    d->busy = 0;
    pthread_mutex_unlock(&d->mtx);
}

/* sched_setattr(2)'s argument, as the kernel's uapi defines it (glibc 2.36
 * has no declaration); the first version of the struct, 48 bytes. */
struct emu_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime; /* SCHED_OTHER: the requested slice (Linux >= 6.12) */
    uint64_t sched_deadline;
    uint64_t sched_period;
};
_Static_assert(sizeof(struct emu_sched_attr) == 48, "SCHED_ATTR_SIZE_VER0");

/* Ask for a short scheduler slice for this (the calling) thread: on EEVDF
 * a task with a shorter slice gets an earlier virtual deadline and preempts
 * a running task with a longer one when it wakes, so a device thread woken
 * by its timer runs at once instead of after whatever host process holds
 * the CPU (measured: docs/performance.md, row 3-8). Only a SCHED_OTHER
 * thread, at its current nice value; kernels before 6.12 accept and ignore
 * the slice. Best effort: a refusal is logged at debug level. */
static void request_slice(emu_dev *d, unsigned slice_us)
{
    struct emu_sched_attr a;
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (sched_getscheduler(0) != SCHED_OTHER || (nice == -1 && errno != 0))
        return;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.sched_policy = SCHED_OTHER;
    a.sched_nice = nice;
    a.sched_runtime = (uint64_t)slice_us * 1000u;
    if (syscall(SYS_sched_setattr, 0, &a, 0u) != 0)
        emu_logf(&d->srv->log, EMU_LOG_DEBUG, d->busid, "sched_setattr (slice %u us): %s", slice_us,
                 strerror(errno));
}

static void *worker_main(void *arg)
{
    emu_dev *d = arg;
    emu_session *s = &d->s;
    struct epoll_event evs[8];
    if (d->srv->realtime_prio > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); /* this thread only */
    /* Also with --realtime: if SCHED_FIFO is refused, the thread keeps it. */
    if (d->srv->slice_us > 0)
        request_slice(d, d->srv->slice_us);
    for (;;) {
        int n = epoll_wait(d->epfd, evs, 8, -1); /* deadlines come from the timerfd */
        if (n < 0) {
            if (errno == EINTR)
                continue;
            emu_logf(&d->srv->log, EMU_LOG_ERROR, d->busid, "epoll_wait: %s", strerror(errno));
            break;
        }
        int stop = 0;
        for (int i = 0; i < n; i++) {
            uint32_t ev = evs[i].events;
            switch (evs[i].data.u32) {
            case TAG_STOP:
                stop = 1;
                break;
            case TAG_HANDOFF: {
                uint64_t v;
                ssize_t r = read(d->handoff_efd, &v, sizeof v);
                (void)r;
                pthread_mutex_lock(&d->mtx);
                int fd = d->handoff_fd;
                d->handoff_fd = -1;
                pthread_mutex_unlock(&d->mtx);
                if (fd >= 0) {
                    if (s->fd >= 0) { /* cannot happen: import checks busy */
                        close(fd);
                    } else {
                        session_begin(d, fd);
                        process_input(d); /* nothing yet, but keeps the invariant */
                    }
                }
                break;
            }
            case TAG_TIMER: {
                uint64_t v;
                ssize_t r = read(d->timerfd, &v, sizeof v);
                (void)r;
                s->timer_at = 0;
                break;
            }
            case TAG_SOCK:
                if (s->fd < 0)
                    break;
                if (ev & EPOLLOUT)
                    flush_out(d);
                if (ev & EPOLLIN)
                    read_input(d);
                else if (ev & (EPOLLERR | EPOLLHUP))
                    session_fail(d, EMU_LOG_INFO, "connection reset by the client");
                break;
            }
        }
        if (stop)
            break;
        if (s->fd >= 0) {
            if (!s->dead && outq_pending(s) == 0)
                process_input(d); /* messages held back while output was queued */
            service(d);
            if (s->dead)
                session_end(d);
            else
                update_mask(d);
        }
    }
    if (s->fd >= 0) {
        flush_out(d);
        session_end(d);
    }
    return NULL;
}

/* ---- acceptor: operation phase ------------------------------------------------------- */

static int op_slot(const emu_server *srv, const emu_opconn *c)
{
    return (int)(c - srv->ops);
}

static void op_close(emu_server *srv, emu_opconn *c)
{
    epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->stage = OP_FREE;
    emu_admit_release(&srv->admit, op_slot(srv, c));
}

/* An import answered OK but not delivered: the device is free again. */
static void op_unreserve(emu_opconn *c)
{
    if (c->stage != OP_WRITE || c->after != OP_AFTER_HANDOFF)
        return;
    pthread_mutex_lock(&c->dev->mtx);
    c->dev->busy = 0;
    pthread_mutex_unlock(&c->dev->mtx);
}

static void op_fail(emu_server *srv, emu_opconn *c, const char *fmt, ...) EMU_PRINTF(3, 4);
static void op_fail(emu_server *srv, emu_opconn *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emu_logf(&srv->log, EMU_LOG_WARN, NULL, "%s: %s; closing the connection", c->peer, msg);
    op_close(srv, c);
}

/* Reads what the client has already sent, without waiting: first into the
 * request (up to its current need), the rest into scratch, bounded, so that
 * close() ends the connection with FIN, not RST (unread data makes Linux
 * reset it, and a client still writing its request then dies of SIGPIPE). */
static void op_read_rest(emu_opconn *c)
{
    uint8_t scratch[4096];
    size_t drained = 0;
    while (drained < (64u << 10)) {
        int to_req = (c->stage == OP_READ_HDR || c->stage == OP_READ_BUSID) && c->have < c->need;
        ssize_t r = to_req ? recv(c->fd, c->in + c->have, c->need - c->have, MSG_DONTWAIT)
                           : recv(c->fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        if (to_req)
            c->have += (size_t)r;
        else
            drained += (size_t)r;
    }
}

/* The operation the client asked for, once its 8-byte header is in; 0 when
 * it is not (yet) known. */
static uint16_t op_code_known(const emu_opconn *c)
{
    proto_usbip_op_hdr h;
    if (c->stage == OP_READ_BUSID)
        return PROTO_USBIP_OP_REQ_IMPORT;
    if (c->stage != OP_READ_HDR || c->have < PROTO_USBIP_OP_HDR_SIZE ||
        proto_usbip_op_hdr_decode(c->in, c->have, &h) < 0)
        return 0;
    if (h.code == PROTO_USBIP_OP_REQ_DEVLIST || h.code == PROTO_USBIP_OP_REQ_IMPORT)
        return h.code;
    return 0;
}

/* Ends a connection the server will not serve (evicted for a newcomer, or
 * past its deadline). A client whose request header is in is told so in its
 * own terms, OP_REP_<its operation> with status ST_NA, which Debian's usbip
 * prints as "Request Failed"; any other is closed (FIN). One warning line,
 * at most 10 a second (the rest are counted and the count is logged with
 * the next line). */
static void op_drop(emu_server *srv, emu_opconn *c, uint64_t now, const char *why)
{
    int told = 0;
    size_t have = c->have, need = c->need;
    if (c->stage == OP_READ_HDR || c->stage == OP_READ_BUSID) {
        op_read_rest(c);
        uint16_t code = op_code_known(c);
        if (code) {
            uint8_t rep[PROTO_USBIP_OP_HDR_SIZE];
            proto_usbip_op_hdr h = {PROTO_USBIP_VERSION,
                                    code == PROTO_USBIP_OP_REQ_IMPORT ? PROTO_USBIP_OP_REP_IMPORT
                                                                      : PROTO_USBIP_OP_REP_DEVLIST,
                                    PROTO_USBIP_ST_NA};
            proto_usbip_op_hdr_encode(&h, rep, sizeof rep);
            told = send(c->fd, rep, sizeof rep, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof rep;
        }
        op_read_rest(c);
    }
    if (now - srv->drops.window_ns >= 1000000000ull) {
        srv->drops.window_ns = now;
        srv->drops.lines = 0;
    }
    if (srv->drops.lines < 10) {
        char sup[64] = "";
        if (srv->drops.suppressed)
            snprintf(sup, sizeof sup, " (%u similar messages suppressed before this one)",
                     srv->drops.suppressed);
        srv->drops.lines++;
        srv->drops.suppressed = 0;
        const char *stage = c->stage == OP_WRITE ? "reply" : "request";
        emu_logf(&srv->log, EMU_LOG_WARN, NULL, "%s: %s (%zu of %zu %s bytes after %llu ms); %s%s",
                 c->peer, why, c->stage == OP_WRITE ? c->out_off : have,
                 c->stage == OP_WRITE ? c->out_len : need, stage,
                 (unsigned long long)((now - c->start_ns) / 1000000u),
                 told ? "answered ST_NA and closed the connection" : "closed the connection", sup);
    } else {
        srv->drops.suppressed++;
    }
    op_unreserve(c);
    op_close(srv, c);
}

static void op_drop_expired(emu_server *srv, emu_opconn *c, uint64_t now)
{
    char why[128];
    snprintf(why, sizeof why, "%s within the %u ms operation-phase deadline",
             c->stage == OP_WRITE ? "did not read its reply" : "sent no complete request",
             srv->admit.lim.deadline_ms);
    op_drop(srv, c, now, why);
}

static void op_start_write(emu_server *srv, emu_opconn *c, const uint8_t *out, size_t len,
                           enum op_after after)
{
    c->out = out;
    c->out_len = len;
    c->out_off = 0;
    c->after = after;
    c->stage = OP_WRITE;
    emu_admit_set(&srv->admit, op_slot(srv, c), EMU_ADMIT_ANSWERING, 0);
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void op_reply_status(emu_server *srv, emu_opconn *c, int32_t status)
{
    proto_usbip_op_hdr h = {PROTO_USBIP_VERSION, PROTO_USBIP_OP_REP_IMPORT, status};
    proto_usbip_op_hdr_encode(&h, c->reply, sizeof c->reply);
    op_start_write(srv, c, c->reply, PROTO_USBIP_OP_HDR_SIZE, OP_AFTER_CLOSE);
}

/* Called with d->mtx held on a busy device: is it worth waiting for it to be
 * free? Yes when its client has hung up, or while the connection is between
 * the acceptor and the worker (neither fd set; lasts microseconds). */
static int attached_client_gone(emu_dev *d)
{
    int fd = d->s.fd >= 0 ? d->s.fd : d->handoff_fd;
    if (fd < 0)
        return 1;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

static void op_import(emu_server *srv, emu_opconn *c)
{
    char busid[PROTO_USBIP_BUSID_SIZE];
    int rc =
        proto_usbip_busid_decode(c->in + PROTO_USBIP_OP_HDR_SIZE, PROTO_USBIP_BUSID_SIZE, busid);
    if (rc < 0) {
        op_fail(srv, c, "OP_REQ_IMPORT with a malformed busid: %s", proto_strerror(rc));
        return;
    }
    emu_dev *d = NULL;
    for (size_t i = 0; i < srv->ndev; i++)
        if (strcmp(srv->devs[i].busid, busid) == 0)
            d = &srv->devs[i];
    if (!d) {
        emu_logf(&srv->log, EMU_LOG_INFO, NULL, "%s: import of unknown busid \"%s\": ST_NODEV",
                 c->peer, busid);
        op_reply_status(srv, c, PROTO_USBIP_ST_NODEV);
        return;
    }
    pthread_mutex_lock(&d->mtx);
    int busy = d->busy;
    /* A client that closed its socket an instant ago (a scan run right after
     * another) still holds the device until its worker reads the EOF. Wait for
     * that detach, bounded, instead of answering ST_DEV_BUSY for a device that
     * is in fact free. Only a verifiably gone client is waited for. */
    for (int i = 0; busy && i < 200 && attached_client_gone(d); i++) {
        pthread_mutex_unlock(&d->mtx);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        pthread_mutex_lock(&d->mtx);
        busy = d->busy;
    }
    if (!busy)
        d->busy = 1;
    pthread_mutex_unlock(&d->mtx);
    if (busy) {
        emu_logf(&srv->log, EMU_LOG_INFO, d->busid,
                 "%s: import refused, already attached: ST_DEV_BUSY", c->peer);
        op_reply_status(srv, c, PROTO_USBIP_ST_DEV_BUSY);
        return;
    }
    proto_usbip_op_hdr h = {PROTO_USBIP_VERSION, PROTO_USBIP_OP_REP_IMPORT, PROTO_USBIP_ST_OK};
    proto_usbip_op_hdr_encode(&h, c->reply, sizeof c->reply);
    proto_usbip_device_encode(&d->rec, c->reply + PROTO_USBIP_OP_HDR_SIZE,
                              sizeof c->reply - PROTO_USBIP_OP_HDR_SIZE);
    c->dev = d;
    op_start_write(srv, c, c->reply, sizeof c->reply, OP_AFTER_HANDOFF);
}

static void op_handoff(emu_server *srv, emu_opconn *c)
{
    emu_dev *d = c->dev;
    epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    pthread_mutex_lock(&d->mtx);
    d->handoff_fd = c->fd;
    pthread_mutex_unlock(&d->mtx);
    uint64_t one = 1;
    ssize_t r = write(d->handoff_efd, &one, sizeof one);
    (void)r;
    c->fd = -1;
    c->stage = OP_FREE;
    emu_admit_release(&srv->admit, op_slot(srv, c));
}

static void op_event(emu_server *srv, emu_opconn *c, uint32_t events)
{
    uint64_t now = emu_now_ns();
    /* A request that completes after its deadline is never answered, however
     * late this thread got to it. */
    if (emu_admit_expired(&srv->admit, op_slot(srv, c), now)) {
        op_drop_expired(srv, c, now);
        return;
    }
    if (c->stage == OP_WRITE) {
        while (c->out_off < c->out_len) {
            ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                op_unreserve(c);
                emu_logf(&srv->log, EMU_LOG_INFO, NULL, "%s: send failed: %s", c->peer,
                         strerror(errno));
                op_close(srv, c);
                return;
            }
            c->out_off += (size_t)w;
        }
        if (c->after == OP_AFTER_HANDOFF)
            op_handoff(srv, c);
        else
            op_close(srv, c);
        return;
    }
    (void)events;
    for (;;) {
        ssize_t r = recv(c->fd, c->in + c->have, c->need - c->have, MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            emu_logf(&srv->log, EMU_LOG_INFO, NULL, "%s: receive failed: %s", c->peer,
                     strerror(errno));
            op_close(srv, c);
            return;
        }
        if (r == 0) {
            if (c->have > 0 || c->stage == OP_READ_BUSID)
                op_fail(srv, c, "client vanished mid-request (%zu of %zu bytes)", c->have, c->need);
            else
                op_close(srv, c);
            return;
        }
        c->have += (size_t)r;
        if (c->have < c->need)
            continue;
        if (c->stage == OP_READ_HDR) {
            proto_usbip_op_hdr h;
            int rc = proto_usbip_op_hdr_decode(c->in, c->have, &h);
            if (rc < 0) {
                op_fail(srv, c, "malformed operation header (version 0x%04x, code 0x%04x): %s",
                        proto_get_be16(c->in), proto_get_be16(c->in + 2), proto_strerror(rc));
                return;
            }
            if (h.code == PROTO_USBIP_OP_REQ_DEVLIST) {
                op_start_write(srv, c, srv->devlist, srv->devlist_len, OP_AFTER_CLOSE);
                return;
            }
            if (h.code != PROTO_USBIP_OP_REQ_IMPORT) {
                op_fail(srv, c, "unexpected operation code 0x%04x from a client", h.code);
                return;
            }
            c->stage = OP_READ_BUSID;
            c->need = PROTO_USBIP_IMPORT_REQ_SIZE;
            continue;
        }
        op_import(srv, c); /* OP_READ_BUSID complete */
        return;
    }
}

/* Accepts at most EMU_OP_ACCEPT_BATCH connections, so that the requests of
 * those already accepted are read between batches (the listening socket is
 * level-triggered: the rest are accepted on the next round). When every slot
 * is taken, the newcomer gets the slot of the oldest connection that has not
 * completed its request (emu_admit_take), which is dropped. */
static void op_accept(emu_server *srv)
{
    for (unsigned k = 0; k < EMU_OP_ACCEPT_BATCH; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                emu_logf(&srv->log, EMU_LOG_WARN, NULL, "accept: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char host[48] = "?", serv[8] = "?";
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV);
        char peer[64];
        snprintf(peer, sizeof peer, "%s:%s", host, serv);
        uint64_t now = emu_now_ns();
        int victim;
        int i = emu_admit_take(&srv->admit, now, &victim);
        if (i < 0 && victim >= 0) {
            char why[224];
            snprintf(why, sizeof why,
                     "evicted for %s: all %u operation-phase slots are taken and this is the "
                     "oldest connection %s",
                     peer, srv->admit.lim.slots,
                     srv->ops[victim].stage == OP_WRITE ? "(none is still sending its request)"
                                                        : "still sending its request");
            op_drop(srv, &srv->ops[victim], now, why);
            i = emu_admit_take(&srv->admit, now, &victim);
        }
        if (i < 0) { /* cannot happen: the acceptor never marks a slot SERVING */
            emu_logf(&srv->log, EMU_LOG_WARN, NULL,
                     "%s: all %u operation-phase slots are serving; refusing the connection", peer,
                     srv->admit.lim.slots);
            close(fd);
            continue;
        }
        emu_opconn *c = &srv->ops[i];
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        c->stage = OP_READ_HDR;
        c->need = PROTO_USBIP_OP_HDR_SIZE;
        c->start_ns = now;
        snprintf(c->peer, sizeof c->peer, "%s", peer);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            c->fd = -1;
            c->stage = OP_FREE;
            emu_admit_release(&srv->admit, i);
            continue;
        }
        emu_logf(&srv->log, EMU_LOG_DEBUG, NULL, "connection from %s", c->peer);
    }
}

/* --realtime: the device workers at SCHED_FIFO. All or none: if the system
 * refuses one, those already changed go back to normal scheduling and one
 * warning says why. */
static void set_realtime(emu_server *srv, size_t n)
{
    struct sched_param sp = {.sched_priority = srv->realtime_prio};
    for (size_t i = 0; i < n; i++) {
        int rc = pthread_setschedparam(srv->devs[i].thread, SCHED_FIFO, &sp);
        if (rc == 0)
            continue;
        struct sched_param normal = {.sched_priority = 0};
        for (size_t j = 0; j < i; j++)
            pthread_setschedparam(srv->devs[j].thread, SCHED_OTHER, &normal);
        emu_logf(&srv->log, EMU_LOG_WARN, NULL,
                 "--realtime: cannot put the device threads at SCHED_FIFO priority %d (%s%s); "
                 "running at normal priority",
                 srv->realtime_prio, strerror(rc),
                 rc == EPERM ? ": needs CAP_SYS_NICE or RLIMIT_RTPRIO >= the priority" : "");
        return;
    }
    emu_logf(&srv->log, EMU_LOG_INFO, NULL,
             "--realtime: %zu device thread%s at SCHED_FIFO priority %d, timer slack 1 ns", n,
             n == 1 ? "" : "s", srv->realtime_prio);
}

int emu_server_run(emu_server *srv)
{
    int rc = 0;
    size_t started = 0;
    for (; started < srv->ndev; started++) {
        emu_dev *d = &srv->devs[started];
        if (pthread_create(&d->thread, NULL, worker_main, d) != 0) {
            emu_logf(&srv->log, EMU_LOG_ERROR, d->busid, "cannot start the device thread");
            rc = -1;
            emu_server_stop(srv);
            break;
        }
        d->thread_started = 1;
        char name[16]; /* "scanemu/1-1": names the thread in top, perf, /proc */
        snprintf(name, sizeof name, "scanemu/%.7s", d->busid);
        pthread_setname_np(d->thread, name);
    }
    if (rc == 0 && srv->realtime_prio > 0)
        set_realtime(srv, started);
    emu_logf(&srv->log, EMU_LOG_INFO, NULL, "serving %zu device%s on port %u", srv->ndev,
             srv->ndev == 1 ? "" : "s", srv->port);
    struct epoll_event evs[32];
    while (rc == 0 && !atomic_load(&srv->stopping)) {
        /* Wakes for the earliest op-phase deadline; no device timing here. */
        uint64_t next = emu_admit_next_deadline(&srv->admit), now = emu_now_ns();
        int timeout = -1;
        if (next != UINT64_MAX)
            timeout = next <= now                      ? 0
                      : next - now >= 3600000000000ull ? 3600000
                                                       : (int)((next - now + 999999u) / 1000000u);
        int n = epoll_wait(srv->acceptor_epfd, evs, 32, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            emu_logf(&srv->log, EMU_LOG_ERROR, NULL, "epoll_wait: %s", strerror(errno));
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &tag_listen)
                op_accept(srv);
            else if (tag != &tag_stop && ((emu_opconn *)tag)->stage != OP_FREE)
                op_event(srv, tag, evs[i].events);
        }
        now = emu_now_ns();
        for (int i; (i = emu_admit_next_expired(&srv->admit, now)) >= 0;)
            op_drop_expired(srv, &srv->ops[i], now);
    }
    emu_server_stop(srv);
    for (size_t i = 0; i < srv->ndev; i++) {
        if (srv->devs[i].thread_started) {
            pthread_join(srv->devs[i].thread, NULL);
            srv->devs[i].thread_started = 0;
        }
    }
    for (unsigned i = 0; srv->ops && i < srv->admit.lim.slots; i++)
        if (srv->ops[i].stage != OP_FREE)
            op_close(srv, &srv->ops[i]);
    emu_trace_flush(srv->trace);
    uint64_t dropped = 0;
    int terr = emu_trace_status(srv->trace, &dropped);
    if (terr) {
        emu_logf(&srv->log, EMU_LOG_ERROR, NULL,
                 "trace %s is incomplete: %s; %llu record%s dropped after the first failed write",
                 emu_trace_path(srv->trace), strerror(terr), (unsigned long long)dropped,
                 dropped == 1 ? "" : "s");
        if (rc == 0)
            rc = EMU_E_TRACE;
    }
    emu_logf(&srv->log, EMU_LOG_INFO, NULL, "stopped");
    return rc;
}

/* ---- creation ----------------------------------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

static int open_listener(emu_server *srv, const emu_options *opts, char *errbuf, size_t errlen)
{
    const char *host = opts->listen_host ? opts->listen_host : "127.0.0.1";
    char port[8];
    snprintf(port, sizeof port, "%u", opts->listen_port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(errbuf, errlen, "cannot resolve listen address %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errbuf, errlen, "socket: %s", strerror(errno));
        goto out_free_res;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        snprintf(errbuf, errlen, "cannot listen on %s:%s: %s", host, port, strerror(errno));
        goto out_close;
    }
    if (listen(fd, 64) < 0) {
        snprintf(errbuf, errlen, "listen on %s:%s: %s", host, port, strerror(errno));
        goto out_close;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    if (!is_loopback(res->ai_addr))
        emu_logf(&srv->log, EMU_LOG_WARN, NULL,
                 "listening on %s:%u, beyond loopback: USB/IP has no authentication, anyone "
                 "who can reach this port can attach the devices",
                 host, srv->port);
    freeaddrinfo(res);
    srv->listen_fd = fd;
    return 0;

out_close:
    close(fd);
out_free_res:
    freeaddrinfo(res);
    return -1;
}

static int dev_init(emu_server *srv, emu_dev *d, size_t index, const emu_export *ex, char *errbuf,
                    size_t errlen)
{
    d->srv = srv;
    d->index = index;
    d->ex = *ex;
    d->epfd = d->timerfd = d->handoff_efd = -1;
    d->handoff_fd = -1;
    d->s.fd = -1;
    pthread_mutex_init(&d->mtx, NULL);
    snprintf(d->busid, sizeof d->busid, "1-%zu", index + 1);
    uint32_t devnum = (uint32_t)index + 1;
    d->devid = proto_usbip_devid(1, devnum);
    emu_usbdev_init(&d->usb, &ex->id);

    proto_usbip_device *r = &d->rec;
    memset(r, 0, sizeof(*r));
    snprintf(r->path, sizeof r->path, "/sys/devices/pci0000:00/0000:00:01.2/usb1/%s", d->busid);
    snprintf(r->busid, sizeof r->busid, "%s", d->busid);
    r->busnum = 1;
    r->devnum = devnum;
    r->speed = d->usb.speed;
    r->idVendor = ex->id.vid;
    r->idProduct = ex->id.pid;
    r->bcdDevice = ex->id.bcd_device;
    r->bConfigurationValue = 1;
    r->bNumConfigurations = 1;
    r->bNumInterfaces = 1;
    d->intf.bInterfaceClass = 0xff;

    d->s.pool = calloc(EMU_MAX_PENDING_URBS, sizeof(emu_urb));
    d->s.rx = malloc(EMU_RX_CHUNK);
    d->s.out = malloc(EMU_RX_CHUNK);
    if (!d->s.pool || !d->s.rx || !d->s.out) {
        snprintf(errbuf, errlen, "out of memory creating device %s", d->busid);
        return -1;
    }
    d->s.rx_cap = d->s.out_cap = EMU_RX_CHUNK;
    for (size_t i = 0; i < EMU_MAX_PENDING_URBS; i++) {
        d->s.pool[i].next = d->s.free_list;
        d->s.free_list = &d->s.pool[i];
    }
    d->s.npending = 0;

    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    d->handoff_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->epfd < 0 || d->timerfd < 0 || d->handoff_efd < 0) {
        snprintf(errbuf, errlen, "device %s: %s", d->busid, strerror(errno));
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_STOP};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, srv->stop_efd, &ev) < 0)
        goto out_epoll;
    ev.data.u32 = TAG_HANDOFF;
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->handoff_efd, &ev) < 0)
        goto out_epoll;
    ev.data.u32 = TAG_TIMER;
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->timerfd, &ev) < 0)
        goto out_epoll;
    return 0;

out_epoll:
    snprintf(errbuf, errlen, "device %s: epoll_ctl: %s", d->busid, strerror(errno));
    return -1;
}

static int build_devlist(emu_server *srv, char *errbuf, size_t errlen)
{
    size_t len = PROTO_USBIP_OP_HDR_SIZE + PROTO_USBIP_DEVLIST_COUNT_SIZE +
                 srv->ndev * (PROTO_USBIP_DEVICE_SIZE + PROTO_USBIP_INTERFACE_SIZE);
    uint8_t *p = malloc(len);
    if (!p) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    proto_usbip_op_hdr h = {PROTO_USBIP_VERSION, PROTO_USBIP_OP_REP_DEVLIST, PROTO_USBIP_ST_OK};
    n += (size_t)proto_usbip_op_hdr_encode(&h, p, len);
    n += (size_t)proto_usbip_devcount_encode((uint32_t)srv->ndev, p + n, len - n);
    for (size_t i = 0; i < srv->ndev; i++) {
        n += (size_t)proto_usbip_device_encode(&srv->devs[i].rec, p + n, len - n);
        n += (size_t)proto_usbip_interface_encode(&srv->devs[i].intf, p + n, len - n);
    }
    srv->devlist = p;
    srv->devlist_len = n;
    return 0;
}

int emu_server_create_ex(const emu_options *opts, const emu_export *exports, size_t n,
                         emu_trace *trace, emu_server **out, char *errbuf, size_t errlen)
{
    if (n == 0 || n > EMU_MAX_DEVICES) {
        snprintf(errbuf, errlen, "%zu devices requested; between 1 and %d are supported", n,
                 EMU_MAX_DEVICES);
        return -1;
    }
    emu_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    srv->log.f = opts->log ? opts->log : stderr;
    srv->log.level = opts->log_level;
    srv->listen_fd = srv->stop_efd = srv->acceptor_epfd = -1;
    srv->trace = trace;
    srv->realtime_prio = opts->realtime_prio;
    if (srv->realtime_prio < 0 || srv->realtime_prio > 99) {
        snprintf(errbuf, errlen, "realtime priority %d out of range 1-99 (0 = off)",
                 opts->realtime_prio);
        free(srv);
        return -1;
    }
    srv->slice_us = opts->slice_us;
    if (srv->slice_us != 0 && (srv->slice_us < 100 || srv->slice_us > 100000)) {
        snprintf(errbuf, errlen, "scheduler slice %u us out of range 100-100000 (0 = default)",
                 opts->slice_us);
        free(srv);
        return -1;
    }
    emu_admit_limits lim = {opts->op_slots ? opts->op_slots : EMU_OP_SLOTS,
                            opts->op_deadline_ms ? opts->op_deadline_ms : EMU_OP_DEADLINE_MS};
    if (emu_admit_init(&srv->admit, &lim) < 0) {
        snprintf(errbuf, errlen,
                 "operation-phase limits: %u slots (1-%u), %u ms deadline (1-%u), or out of "
                 "memory",
                 lim.slots, EMU_ADMIT_MAX_SLOTS, lim.deadline_ms, EMU_ADMIT_MAX_DEADLINE_MS);
        free(srv);
        return -1;
    }
    srv->ops = calloc(lim.slots, sizeof(*srv->ops));
    if (!srv->ops) {
        snprintf(errbuf, errlen, "out of memory");
        goto out_free;
    }
    for (unsigned i = 0; i < lim.slots; i++)
        srv->ops[i].fd = -1;
    srv->stop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    srv->acceptor_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->stop_efd < 0 || srv->acceptor_epfd < 0) {
        snprintf(errbuf, errlen, "eventfd/epoll: %s", strerror(errno));
        goto out_free;
    }
    srv->devs = calloc(n, sizeof(emu_dev));
    if (!srv->devs) {
        snprintf(errbuf, errlen, "out of memory");
        goto out_free;
    }
    srv->ndev = n;
    for (size_t i = 0; i < n; i++) {
        srv->devs[i].epfd = srv->devs[i].timerfd = srv->devs[i].handoff_efd = -1;
        srv->devs[i].handoff_fd = srv->devs[i].s.fd = -1;
    }
    for (size_t i = 0; i < n; i++)
        if (dev_init(srv, &srv->devs[i], i, &exports[i], errbuf, errlen) < 0)
            goto out_free;
    if (build_devlist(srv, errbuf, errlen) < 0)
        goto out_free;
    if (open_listener(srv, opts, errbuf, errlen) < 0)
        goto out_free;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};
    if (epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_ADD, srv->listen_fd, &ev) < 0)
        goto out_epoll;
    ev.data.ptr = &tag_stop;
    if (epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_ADD, srv->stop_efd, &ev) < 0)
        goto out_epoll;
    *out = srv;
    return 0;

out_epoll:
    snprintf(errbuf, errlen, "epoll_ctl: %s", strerror(errno));
out_free:
    emu_server_free(srv);
    return -1;
}

void emu_server_free(emu_server *srv)
{
    if (!srv)
        return;
    for (size_t i = 0; i < srv->ndev; i++) {
        emu_dev *d = &srv->devs[i];
        if (d->s.fd >= 0)
            close(d->s.fd);
        if (d->handoff_fd >= 0)
            close(d->handoff_fd);
        if (d->epfd >= 0)
            close(d->epfd);
        if (d->timerfd >= 0)
            close(d->timerfd);
        if (d->handoff_efd >= 0)
            close(d->handoff_efd);
        free(d->s.pool);
        free(d->s.rx);
        free(d->s.out);
        pthread_mutex_destroy(&d->mtx);
    }
    for (unsigned i = 0; srv->ops && i < srv->admit.lim.slots; i++)
        if (srv->ops[i].stage != OP_FREE && srv->ops[i].fd >= 0)
            close(srv->ops[i].fd);
    free(srv->ops);
    emu_admit_free(&srv->admit);
    free(srv->devs);
    free(srv->devlist);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    if (srv->stop_efd >= 0)
        close(srv->stop_efd);
    if (srv->acceptor_epfd >= 0)
        close(srv->acceptor_epfd);
    for (size_t i = srv->ncleanups; i-- > 0;)
        srv->cleanups[i].fn(srv->cleanups[i].arg);
    free(srv);
}
