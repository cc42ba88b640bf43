/* The acceptor (see server-internal.h): the listening socket and every
 * connection still in the operation phase, on the thread that called
 * emu_server_run. Non-blocking; reads exactly the bytes of a request (so it
 * never swallows a URB that follows an import). OP_REQ_DEVLIST gets the
 * prebuilt reply, OP_REQ_IMPORT ST_NODEV, ST_DEV_BUSY or the device record,
 * after which the socket is handed to the device's worker. The connection
 * slots and their deadline are admit.c's policy (docs/emulator.md,
 * "Connection slots"). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server-internal.h"

static int op_slot(const emu_server *srv, const emu_opconn *c)
{
    return (int)(c - srv->ops);
}

static void devlist_put(emu_devlist *l);
static int build_devlist(emu_server *srv);

static void op_close(emu_server *srv, emu_opconn *c)
{
    epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    devlist_put(c->devlist);
    c->devlist = NULL;
    c->stage = OP_FREE;
    emu_admit_release(&srv->admit, op_slot(srv, c));
}

static void devlist_put(emu_devlist *l)
{
    if (l && --l->refs == 0)
        free(l);
}

/* An import answered OK but not delivered: the device is free again
 * (unless it was unplugged, or plugged anew, since). */
static void op_unreserve(emu_opconn *c)
{
    if (c->stage != OP_WRITE || c->after != OP_AFTER_HANDOFF)
        return;
    pthread_mutex_lock(&c->dev->mtx);
    if (c->dev->gen == c->dev_gen && !c->dev->unplugged)
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
    uint32_t gen = 0;
    int slot = emu_busid_slot(busid);
    pthread_mutex_lock(&srv->tbl_mtx);
    if (slot >= 0 && srv->devs[slot].present) {
        d = &srv->devs[slot];
        pthread_mutex_lock(&d->mtx);
        gen = d->gen;
        pthread_mutex_unlock(&d->mtx);
    }
    pthread_mutex_unlock(&srv->tbl_mtx);
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
    int gone = d->unplugged || d->gen != gen; /* unplugged meanwhile */
    if (!busy && !gone)
        d->busy = 1;
    pthread_mutex_unlock(&d->mtx);
    if (gone) {
        emu_logf(&srv->log, EMU_LOG_INFO, NULL, "%s: import of unplugged busid \"%s\": ST_NODEV",
                 c->peer, busid);
        op_reply_status(srv, c, PROTO_USBIP_ST_NODEV);
        return;
    }
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
    c->dev_gen = gen;
    op_start_write(srv, c, c->reply, sizeof c->reply, OP_AFTER_HANDOFF);
}

static void op_handoff(emu_server *srv, emu_opconn *c)
{
    emu_dev *d = c->dev;
    epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    pthread_mutex_lock(&d->mtx);
    int gone = d->unplugged || d->gen != c->dev_gen;
    if (!gone) {
        d->handoff_fd = c->fd;
        /* The eventfd is written under the lock: an unplug (which takes
         * it) cannot close it in between. */
        uint64_t one = 1;
        ssize_t r = write(d->handoff_efd, &one, sizeof one);
        (void)r;
    }
    pthread_mutex_unlock(&d->mtx);
    if (gone) { /* unplugged while its reply went out: the connection ends */
        emu_logf(&srv->log, EMU_LOG_INFO, NULL, "%s: device unplugged during the import; closing",
                 c->peer);
        close(c->fd);
    }
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
                if (build_devlist(srv) < 0) {
                    op_fail(srv, c, "out of memory building the device list");
                    return;
                }
                c->devlist = srv->devlist;
                c->devlist->refs++;
                op_start_write(srv, c, c->devlist->data, c->devlist->len, OP_AFTER_CLOSE);
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
        char peer[64];
        emu_peer_str((struct sockaddr *)&ss, sl, peer, sizeof peer);
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

static int open_listener(emu_server *srv, const emu_options *opts, char *errbuf, size_t errlen)
{
    return emu_listen_tcp(&srv->log, "USB/IP", opts->listen_host ? opts->listen_host : "127.0.0.1",
                          opts->listen_port, &srv->listen_fd, &srv->port, errbuf, errlen);
}

/* srv->devlist up to date with the present slots: rebuilt when a slot came
 * or went since (connections still writing the old one keep it alive). */
static int build_devlist(emu_server *srv)
{
    unsigned gen = atomic_load(&srv->devlist_gen);
    if (srv->devlist && srv->devlist_built == gen)
        return EMU_OK;
    size_t len =
        PROTO_USBIP_OP_HDR_SIZE + PROTO_USBIP_DEVLIST_COUNT_SIZE +
        EMU_MAX_DEVICES * (PROTO_USBIP_DEVICE_SIZE + EMU_INTF_MAX * PROTO_USBIP_INTERFACE_SIZE);
    emu_devlist *l = malloc(sizeof(*l) + len);
    if (!l)
        return EMU_E_NOMEM;
    uint8_t *p = l->data;
    size_t n = PROTO_USBIP_OP_HDR_SIZE + PROTO_USBIP_DEVLIST_COUNT_SIZE;
    uint32_t count = 0;
    pthread_mutex_lock(&srv->tbl_mtx);
    gen = atomic_load(&srv->devlist_gen);
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        if (!srv->devs[i].present)
            continue;
        n += (size_t)proto_usbip_device_encode(&srv->devs[i].rec, p + n, len - n);
        for (unsigned k = 0; k < srv->devs[i].rec.bNumInterfaces; k++)
            n += (size_t)proto_usbip_interface_encode(&srv->devs[i].intf[k], p + n, len - n);
        count++;
    }
    pthread_mutex_unlock(&srv->tbl_mtx);
    proto_usbip_op_hdr h = {PROTO_USBIP_VERSION, PROTO_USBIP_OP_REP_DEVLIST, PROTO_USBIP_ST_OK};
    size_t k = (size_t)proto_usbip_op_hdr_encode(&h, p, len);
    proto_usbip_devcount_encode(count, p + k, len - k);
    l->refs = 1;
    l->len = n;
    devlist_put(srv->devlist);
    srv->devlist = l;
    srv->devlist_built = gen;
    return EMU_OK;
}

int emu_acceptor_init(emu_server *srv, const emu_options *opts, char *errbuf, size_t errlen)
{
    emu_admit_limits lim = {opts->op_slots ? opts->op_slots : EMU_OP_SLOTS,
                            opts->op_deadline_ms ? opts->op_deadline_ms : EMU_OP_DEADLINE_MS};
    int rc = emu_admit_init(&srv->admit, &lim);
    if (rc < 0) {
        snprintf(errbuf, errlen,
                 "operation-phase limits: %u slots (1-%u), %u ms deadline (1-%u), or out of "
                 "memory",
                 lim.slots, EMU_ADMIT_MAX_SLOTS, lim.deadline_ms, EMU_ADMIT_MAX_DEADLINE_MS);
        return rc;
    }
    srv->ops = calloc(lim.slots, sizeof(*srv->ops));
    if (!srv->ops) {
        snprintf(errbuf, errlen, "out of memory");
        return EMU_E_NOMEM;
    }
    for (unsigned i = 0; i < lim.slots; i++)
        srv->ops[i].fd = -1;
    rc = build_devlist(srv);
    if (rc < 0) {
        snprintf(errbuf, errlen, "out of memory");
        return rc;
    }
    rc = open_listener(srv, opts, errbuf, errlen);
    if (rc < 0)
        return rc;
    /* epoll tags: the addresses of the two fds' fields, then each
     * connection's emu_opconn. */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &srv->listen_fd};
    if (epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_ADD, srv->listen_fd, &ev) < 0)
        goto out_epoll;
    ev.data.ptr = &srv->stop_efd;
    if (epoll_ctl(srv->acceptor_epfd, EPOLL_CTL_ADD, srv->stop_efd, &ev) < 0)
        goto out_epoll;
    return EMU_OK;

out_epoll:
    snprintf(errbuf, errlen, "epoll_ctl: %s", strerror(errno));
    return EMU_E_SYSTEM;
}

int emu_acceptor_serve(emu_server *srv)
{
    struct epoll_event evs[32];
    while (!atomic_load(&srv->stopping)) {
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
            return EMU_E_SYSTEM;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &srv->listen_fd)
                op_accept(srv);
            else if (tag != &srv->stop_efd && ((emu_opconn *)tag)->stage != OP_FREE)
                op_event(srv, tag, evs[i].events);
        }
        now = emu_now_ns();
        for (int i; (i = emu_admit_next_expired(&srv->admit, now)) >= 0;)
            op_drop_expired(srv, &srv->ops[i], now);
    }
    return EMU_OK;
}

void emu_acceptor_close_all(emu_server *srv)
{
    for (unsigned i = 0; srv->ops && i < srv->admit.lim.slots; i++)
        if (srv->ops[i].stage != OP_FREE)
            op_close(srv, &srv->ops[i]);
}

void emu_acceptor_free(emu_server *srv)
{
    for (unsigned i = 0; srv->ops && i < srv->admit.lim.slots; i++) {
        if (srv->ops[i].stage != OP_FREE && srv->ops[i].fd >= 0)
            close(srv->ops[i].fd);
        devlist_put(srv->ops[i].devlist);
    }
    free(srv->ops);
    srv->ops = NULL;
    emu_admit_free(&srv->admit);
    devlist_put(srv->devlist);
    srv->devlist = NULL;
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    srv->listen_fd = -1;
}
