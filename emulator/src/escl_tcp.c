/* The eSCL carrier over TCP: a listener thread that accepts HTTP connections
 * and routes each to a device by the path of its first request
 * ("/BUSID/eSCL/..." names a device, anything else is the first device),
 * and one thread per device that carries its connections' bytes to and from
 * the device's eSCL front (dm/escl.h), releasing them at the deadlines the
 * front gives. Every call on a front happens with the device's lock held,
 * the lock its native worker takes too: one engine, two fronts.
 *
 * Limits (docs/escl.md, "Connections"): a connection must send its request
 * line within the routing deadline; each device keeps at most `slots`
 * connections and evicts the oldest one still sending (or idle between
 * requests) for a newcomer, as the USB/IP acceptor does (admit.c); a
 * request must be complete within the request deadline; a peer that stops
 * reading a response for EMU_ESCL_WRITE_STALL_MS loses the connection. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "emu-internal.h"

#define ROUTE_SLOTS    256u
#define ROUTE_LINE_MAX 8192u  /* the request line must fit in this */
#define CONN_IN_MAX    16384u /* request bytes held before the front takes them */
#define LINGER_MS      2000u  /* after our FIN, read and drop until the peer's */

typedef struct escl_route {
    int fd;
    uint8_t buf[ROUTE_LINE_MAX];
    size_t len;
    char peer[64];
} escl_route;

typedef struct escl_handoff {
    struct escl_handoff *next;
    int fd;
    size_t len;
    char peer[64];
    uint8_t buf[ROUTE_LINE_MAX];
} escl_handoff;

typedef struct escl_conn {
    int fd;
    int slot;
    dm_escl_conn *fc;
    uint8_t in[CONN_IN_MAX];
    size_t in_len;
    bool in_eof;
    bool out_blocked;      /* the socket refused bytes: wait for EPOLLOUT */
    uint64_t out_since_ns; /* output pending since (write-stall check) */
    uint64_t wait_until;   /* the front's next deadline */
    bool lingering;
    uint64_t linger_until;
    char peer[64];
} escl_conn;

struct emu_escl_worker {
    emu_escl *owner; /* NULL: the slot was never set up */
    const emu_escl_dev *dev;
    pthread_t thread;
    bool started;
    atomic_bool stop; /* emu_escl_remove: close every connection and exit */
    int ep, evfd, tfd;
    pthread_mutex_t qlock;
    escl_handoff *queue;
    emu_admit admit;
    escl_conn **conns; /* indexed like the admission slots */
};

struct emu_escl {
    emu_escl_opts opts;
    const emu_log *log;
    int listen_fd;
    uint16_t port;
    int ep, stopfd, tfd;
    pthread_t thread;
    bool started;
    emu_admit route_admit;
    escl_route *routes; /* ROUTE_SLOTS, indexed like route_admit's slots */
    /* EMU_MAX_DEVICES slots, slot i being busid 1-(i+1); present[] and the
     * hand-off into a worker's queue are under tbl. */
    pthread_mutex_t tbl;
    bool present[EMU_MAX_DEVICES];
    struct emu_escl_worker *workers;
    emu_escl_dev *devs;
    atomic_int stopping;
};

/* ---- helpers ------------------------------------------------------------------- */

static void arm_timer(int tfd, uint64_t at)
{
    struct itimerspec its;

    memset(&its, 0, sizeof(its));
    if (at != UINT64_MAX) {
        if (at == 0)
            at = 1;
        its.it_value.tv_sec = (time_t)(at / 1000000000u);
        its.it_value.tv_nsec = (long)(at % 1000000000u);
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void drain_fd(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) > 0)
        ;
}

/* A short answer on a socket we are about to close (routing refusals). */
static void say_and_close(int fd, int code, const char *reason)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 %d %s\r\nServer: scanemu\r\nConnection: close\r\n"
                     "Content-Length: 0\r\n\r\n",
                     code, reason);
    if (n > 0)
        (void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    close(fd);
}

/* ---- device worker ------------------------------------------------------------------ */

static void conn_close(struct emu_escl_worker *w, escl_conn *c, bool rst)
{
    if (rst) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    pthread_mutex_lock(w->dev->lock);
    dm_escl_conn_free(c->fc);
    pthread_mutex_unlock(w->dev->lock);
    w->conns[c->slot] = NULL;
    emu_admit_release(&w->admit, c->slot);
    free(c);
}

/* Our side is done: FIN, then read and drop what the peer still sends,
 * until its FIN or LINGER_MS, so that a close does not turn into a RST that
 * destroys the response the peer has not read yet. */
static void conn_linger(struct emu_escl_worker *w, escl_conn *c, uint64_t now)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

    shutdown(c->fd, SHUT_WR);
    c->lingering = true;
    c->linger_until = now + (uint64_t)LINGER_MS * 1000000u;
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_update_mask(struct emu_escl_worker *w, escl_conn *c)
{
    struct epoll_event ev = {.data.ptr = c};

    if (c->lingering)
        return;
    if (c->in_len < sizeof(c->in) && !c->in_eof)
        ev.events |= EPOLLIN;
    if (c->out_blocked)
        ev.events |= EPOLLOUT;
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Move bytes between the socket and the front until neither can progress.
 * Returns false when the connection was closed. */
static bool conn_service(struct emu_escl_worker *w, escl_conn *c, uint64_t now)
{
    const emu_escl_dev *dev = w->dev;
    bool closed = false, rst = false, linger = false;
    bool busy;

    if (c->lingering) {
        uint8_t sink[4096];
        ssize_t n;
        while ((n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
            ;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || now >= c->linger_until) {
            conn_close(w, c, false);
            return false;
        }
        return true;
    }
    /* Read what fits. */
    while (!c->in_eof && c->in_len < sizeof(c->in)) {
        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == 0) {
            c->in_eof = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            rst = true;
        break;
    }
    if (rst) {
        conn_close(w, c, true);
        return false;
    }

    pthread_mutex_lock(dev->lock);
    for (;;) {
        dm_escl_out o;
        if (c->in_len > 0) {
            int took = dm_escl_conn_input(c->fc, c->in, c->in_len, now);
            if (took > 0) {
                memmove(c->in, c->in + took, c->in_len - (size_t)took);
                c->in_len -= (size_t)took;
            } else if (took < 0) {
                c->in_len = 0; /* the error answer is queued; nothing more is read */
                c->in_eof = true;
            }
        }
        if (c->in_eof && c->in_len == 0)
            dm_escl_conn_input_eof(c->fc, now);
        dm_escl_conn_peek(c->fc, now, &o);
        c->wait_until = UINT64_MAX;
        if (o.kind == DM_ESCL_OUT_DATA) {
            ssize_t n = send(c->fd, o.data, o.len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                dm_escl_conn_sent(c->fc, (size_t)n, now);
                c->out_since_ns = now;
                c->out_blocked = false;
                if ((size_t)n == o.len)
                    continue;
                c->out_blocked = true;
                break;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!c->out_blocked)
                    c->out_since_ns = now;
                c->out_blocked = true;
                break;
            }
            if (n < 0 && errno == EINTR)
                continue;
            rst = true; /* EPIPE, ECONNRESET: the peer is gone */
            break;
        }
        c->out_blocked = false;
        if (o.kind == DM_ESCL_OUT_WAIT) {
            c->wait_until = o.deadline_ns;
            break;
        }
        if (o.kind == DM_ESCL_OUT_CLOSE) {
            linger = true;
            break;
        }
        if (o.kind == DM_ESCL_OUT_RESET) {
            rst = true;
            break;
        }
        /* IDLE: wants input. If input is held that it did not take, the
         * loop would spin: the front takes input whenever it is idle. */
        if (c->in_len == 0 || c->in_eof)
            break;
    }
    busy = dm_escl_conn_busy(c->fc);
    pthread_mutex_unlock(dev->lock);

    if (rst) {
        conn_close(w, c, true);
        return false;
    }
    if (linger) {
        conn_linger(w, c, now);
        emu_admit_set(&w->admit, c->slot, EMU_ADMIT_ANSWERING, now);
        return true;
    }
    /* Admission state: a response in progress is served at length; a
     * connection between requests (or inside one) runs the deadline. */
    if (busy) {
        if (w->admit.slot[c->slot].state != EMU_ADMIT_SERVING)
            emu_admit_set(&w->admit, c->slot, EMU_ADMIT_SERVING, now);
    } else if (w->admit.slot[c->slot].state != EMU_ADMIT_WAITING) {
        emu_admit_set(&w->admit, c->slot, EMU_ADMIT_WAITING, now);
    }
    if (c->in_eof && !busy && c->in_len == 0 && !closed) {
        conn_linger(w, c, now);
        return true;
    }
    conn_update_mask(w, c);
    return true;
}

static void worker_accept_handoffs(struct emu_escl_worker *w, uint64_t now)
{
    escl_handoff *h;

    pthread_mutex_lock(&w->qlock);
    h = w->queue;
    w->queue = NULL;
    pthread_mutex_unlock(&w->qlock);
    while (h != NULL) {
        escl_handoff *next = h->next;
        int victim, slot = emu_admit_take(&w->admit, now, &victim);
        escl_conn *c;
        int rc;

        if (slot < 0 && victim >= 0) {
            escl_conn *v = w->conns[victim];
            emu_logf(w->owner->log, EMU_LOG_WARN, w->dev->busid,
                     "escl: %u connections: dropping the oldest idle one (%s) for %s",
                     w->admit.lim.slots, v->peer, h->peer);
            conn_close(w, v, false);
            slot = emu_admit_take(&w->admit, now, &victim);
        }
        if (slot < 0) {
            emu_logf(w->owner->log, EMU_LOG_WARN, w->dev->busid,
                     "escl: all %u connections are streaming: %s refused with 503",
                     w->admit.lim.slots, h->peer);
            say_and_close(h->fd, 503, "Service Unavailable");
            free(h);
            h = next;
            continue;
        }
        c = calloc(1, sizeof(*c));
        pthread_mutex_lock(w->dev->lock);
        rc = c ? dm_escl_conn_open(w->dev->front, &c->fc) : DM_E_NOMEM;
        pthread_mutex_unlock(w->dev->lock);
        if (rc < 0) {
            emu_admit_release(&w->admit, slot);
            say_and_close(h->fd, 503, "Service Unavailable");
            free(c);
            free(h);
            h = next;
            continue;
        }
        c->fd = h->fd;
        c->slot = slot;
        c->wait_until = UINT64_MAX;
        memcpy(c->in, h->buf, h->len);
        c->in_len = h->len;
        snprintf(c->peer, sizeof(c->peer), "%s", h->peer);
        w->conns[slot] = c;
        {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev);
        }
        emu_logf(w->owner->log, EMU_LOG_DEBUG, w->dev->busid, "escl: connection from %s", c->peer);
        conn_service(w, c, now);
        free(h);
        h = next;
    }
}

static void *worker_main(void *arg)
{
    struct emu_escl_worker *w = arg;
    char name[16];
    struct epoll_event evs[32];

    snprintf(name, sizeof(name), "escl/%.10s", w->dev->busid);
    pthread_setname_np(pthread_self(), name);
    /* It releases bands as the USB worker does: the same slice. */
    if (w->owner->opts.slice_us > 0) {
        int err = emu_thread_request_slice(w->owner->opts.slice_us);
        if (err)
            emu_logf(w->owner->log, EMU_LOG_DEBUG, w->dev->busid, "escl: sched_setattr: %s",
                     strerror(err));
    }
    while (!w->owner->stopping && !atomic_load(&w->stop)) {
        uint64_t now, next = UINT64_MAX;
        int n = epoll_wait(w->ep, evs, 32, -1);

        now = emu_now_ns();
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &w->evfd) {
                drain_fd(w->evfd);
                worker_accept_handoffs(w, now);
            } else if (p == &w->tfd) {
                drain_fd(w->tfd);
            } else if (p != NULL) {
                conn_service(w, p, now);
            }
        }
        if (w->owner->stopping || atomic_load(&w->stop))
            break;
        /* Deadlines: the fronts' releases, expired slots, lingering,
         * stalled writers, and the front's own (job end, idle job). */
        now = emu_now_ns();
        for (unsigned s = 0; s < w->admit.lim.slots; s++) {
            escl_conn *c = w->conns[s];
            if (c == NULL)
                continue;
            if (c->lingering) {
                if (now >= c->linger_until) {
                    conn_close(w, c, false);
                    continue;
                }
                if (c->linger_until < next)
                    next = c->linger_until;
                continue;
            }
            if (emu_admit_expired(&w->admit, s, now)) {
                emu_logf(w->owner->log, EMU_LOG_INFO, w->dev->busid,
                         "escl: %s: no complete request within %u ms: closed", c->peer,
                         w->admit.lim.deadline_ms);
                conn_close(w, c, false);
                continue;
            }
            if (c->out_blocked &&
                now - c->out_since_ns >= (uint64_t)EMU_ESCL_WRITE_STALL_MS * 1000000u) {
                emu_logf(w->owner->log, EMU_LOG_WARN, w->dev->busid,
                         "escl: %s stopped reading for %u ms: closed", c->peer,
                         EMU_ESCL_WRITE_STALL_MS);
                conn_close(w, c, true);
                continue;
            }
            if (c->wait_until <= now) {
                if (!conn_service(w, c, now))
                    continue;
                c = w->conns[s];
                if (c == NULL)
                    continue;
            }
            if (c->wait_until < next)
                next = c->wait_until;
            if (c->out_blocked) {
                uint64_t t = c->out_since_ns + (uint64_t)EMU_ESCL_WRITE_STALL_MS * 1000000u;
                if (t < next)
                    next = t;
            }
        }
        {
            uint64_t t = emu_admit_next_deadline(&w->admit);
            if (t < next)
                next = t;
        }
        pthread_mutex_lock(w->dev->lock);
        {
            uint64_t t = dm_escl_poll(w->dev->front, now);
            if (t < next)
                next = t;
        }
        pthread_mutex_unlock(w->dev->lock);
        arm_timer(w->tfd, next);
    }
    for (unsigned s = 0; s < w->admit.lim.slots; s++)
        if (w->conns[s] != NULL)
            conn_close(w, w->conns[s], false);
    return NULL;
}

/* ---- listener: accept and route ------------------------------------------------------ */

/* Which device a request line names: "/BUSID/eSCL..." is that device's,
 * anything else the first device's (whose front answers 404 to what it
 * does not serve). Called with e->tbl held; -1 when that device is not
 * plugged (the listener answers 404 and closes). */
static int route_of(const emu_escl *e, const uint8_t *line, size_t len)
{
    const uint8_t *sp = memchr(line, ' ', len);
    const char *target;
    size_t tlen;

    if (sp == NULL)
        return e->present[0] ? 0 : -1;
    target = (const char *)sp + 1;
    tlen = len - (size_t)(sp + 1 - line);
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        const char *b = e->devs[i].busid;
        size_t bl = strlen(b);
        if (e->present[i] && tlen > bl + 6 && target[0] == '/' && memcmp(target + 1, b, bl) == 0 &&
            memcmp(target + 1 + bl, "/eSCL", 5) == 0)
            return (int)i;
    }
    return e->present[0] ? 0 : -1;
}

static void route_close(emu_escl *e, int slot)
{
    epoll_ctl(e->ep, EPOLL_CTL_DEL, e->routes[slot].fd, NULL);
    close(e->routes[slot].fd);
    e->routes[slot].fd = -1;
    emu_admit_release(&e->route_admit, slot);
}

/* To the device the request line names, if it is still plugged: under
 * e->tbl, so that emu_escl_remove never leaves a connection in the queue
 * of a worker that has exited. */
static void route_handoff(emu_escl *e, int slot, const uint8_t *line, size_t len)
{
    escl_route *r = &e->routes[slot];
    escl_handoff *h = malloc(sizeof(*h));
    uint64_t one = 1;
    int dev;

    epoll_ctl(e->ep, EPOLL_CTL_DEL, r->fd, NULL);
    pthread_mutex_lock(&e->tbl);
    dev = route_of(e, line, len);
    if (h == NULL) {
        say_and_close(r->fd, 503, "Service Unavailable");
    } else if (dev < 0) {
        say_and_close(r->fd, 404, "Not Found"); /* unplugged */
        free(h);
    } else {
        struct emu_escl_worker *w = &e->workers[dev];
        h->fd = r->fd;
        h->len = r->len;
        memcpy(h->buf, r->buf, r->len);
        snprintf(h->peer, sizeof(h->peer), "%s", r->peer);
        pthread_mutex_lock(&w->qlock);
        h->next = w->queue;
        w->queue = h;
        pthread_mutex_unlock(&w->qlock);
        (void)!write(w->evfd, &one, sizeof(one));
    }
    pthread_mutex_unlock(&e->tbl);
    r->fd = -1;
    emu_admit_release(&e->route_admit, slot);
}

static void route_read(emu_escl *e, int slot)
{
    escl_route *r = &e->routes[slot];

    for (;;) {
        ssize_t n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, MSG_DONTWAIT);
        if (n > 0) {
            const uint8_t *nl;
            r->len += (size_t)n;
            nl = memchr(r->buf, '\n', r->len);
            if (nl != NULL) {
                route_handoff(e, slot, r->buf, (size_t)(nl - r->buf));
                return;
            }
            if (r->len == sizeof(r->buf)) {
                emu_logf(e->log, EMU_LOG_INFO, NULL,
                         "escl: %s: request line longer than %u bytes: 414", r->peer,
                         ROUTE_LINE_MAX);
                say_and_close(r->fd, 414, "URI Too Long");
                r->fd = -1;
                emu_admit_release(&e->route_admit, slot);
                return;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        route_close(e, slot); /* EOF or error before a request line */
        return;
    }
}

static void listener_accept(emu_escl *e)
{
    for (int k = 0; k < 16; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int one = 1, victim, slot;
        uint64_t now;
        int fd = accept4(e->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        now = emu_now_ns();
        slot = emu_admit_take(&e->route_admit, now, &victim);
        if (slot < 0 && victim >= 0) {
            emu_logf(e->log, EMU_LOG_WARN, NULL,
                     "escl: %u connections without a request line: dropping the oldest (%s)",
                     e->route_admit.lim.slots, e->routes[victim].peer);
            route_close(e, victim);
            slot = emu_admit_take(&e->route_admit, now, &victim);
        }
        if (slot < 0) {
            say_and_close(fd, 503, "Service Unavailable");
            continue;
        }
        e->routes[slot].fd = fd;
        e->routes[slot].len = 0;
        emu_peer_str((struct sockaddr *)&ss, sl, e->routes[slot].peer,
                     sizeof(e->routes[slot].peer));
        {
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)slot + 16};
            epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev);
        }
        route_read(e, slot);
    }
}

static void *listener_main(void *arg)
{
    emu_escl *e = arg;
    struct epoll_event evs[32];

    pthread_setname_np(pthread_self(), "escl/listen");
    while (!e->stopping) {
        int n = epoll_wait(e->ep, evs, 32, -1);
        uint64_t now;

        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == 1)
                listener_accept(e);
            else if (tag == 2)
                drain_fd(e->stopfd);
            else if (tag == 3)
                drain_fd(e->tfd);
            else if (tag >= 16 && e->routes[tag - 16].fd >= 0)
                route_read(e, (int)(tag - 16));
        }
        now = emu_now_ns();
        for (int s; (s = emu_admit_next_expired(&e->route_admit, now)) >= 0;) {
            emu_logf(e->log, EMU_LOG_INFO, NULL, "escl: %s: no request line within %u ms: closed",
                     e->routes[s].peer, e->route_admit.lim.deadline_ms);
            route_close(e, s);
        }
        arm_timer(e->tfd, emu_admit_next_deadline(&e->route_admit));
    }
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

void emu_escl_opts_init(emu_escl_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->slots = EMU_ESCL_SLOTS;
    o->deadline_ms = EMU_ESCL_DEADLINE_MS;
}

static int ep_add(int ep, int fd, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* A device slot's worker: its connection table and descriptors, no thread
 * yet. One line in errbuf on failure (the slot is then torn down by
 * worker_free). */
static int worker_init(emu_escl *e, size_t slot, const emu_escl_dev *dev, char *errbuf,
                       size_t errlen)
{
    struct emu_escl_worker *w = &e->workers[slot];
    emu_admit_limits lim = {e->opts.slots, e->opts.deadline_ms};

    memset(w, 0, sizeof(*w));
    e->devs[slot] = *dev;
    w->owner = e;
    w->dev = &e->devs[slot];
    w->ep = w->evfd = w->tfd = -1;
    pthread_mutex_init(&w->qlock, NULL);
    if (emu_admit_init(&w->admit, &lim) < 0 ||
        (w->conns = calloc(e->opts.slots, sizeof(*w->conns))) == NULL) {
        snprintf(errbuf, errlen, "escl: out of memory");
        return EMU_E_NOMEM;
    }
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->ep < 0 || w->evfd < 0 || w->tfd < 0) {
        snprintf(errbuf, errlen, "escl: cannot set up device %s: %s", w->dev->busid,
                 strerror(errno));
        return EMU_E_SYSTEM;
    }
    {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->evfd};
        struct epoll_event ev2 = {.events = EPOLLIN, .data.ptr = &w->tfd};
        epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &ev);
        epoll_ctl(w->ep, EPOLL_CTL_ADD, w->tfd, &ev2);
    }
    return EMU_OK;
}

/* Closes what the slot's worker holds (its thread has ended): queued
 * hand-offs, connections, descriptors. */
static void worker_free(struct emu_escl_worker *w)
{
    escl_handoff *h;

    if (w->owner == NULL)
        return;
    h = w->queue;
    while (h != NULL) {
        escl_handoff *next = h->next;
        close(h->fd);
        free(h);
        h = next;
    }
    w->queue = NULL;
    for (unsigned s = 0; w->conns && s < w->admit.lim.slots; s++)
        if (w->conns[s] != NULL)
            conn_close(w, w->conns[s], false);
    free(w->conns);
    emu_admit_free(&w->admit);
    if (w->ep >= 0)
        close(w->ep);
    if (w->evfd >= 0)
        close(w->evfd);
    if (w->tfd >= 0)
        close(w->tfd);
    pthread_mutex_destroy(&w->qlock);
    memset(w, 0, sizeof(*w));
}

static int worker_start(struct emu_escl_worker *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return EMU_E_SYSTEM;
    w->started = true;
    return EMU_OK;
}

int emu_escl_add(emu_escl *e, size_t slot, const emu_escl_dev *dev, char *errbuf, size_t errlen)
{
    int rc;

    if (slot >= EMU_MAX_DEVICES || e->workers[slot].owner != NULL) {
        snprintf(errbuf, errlen, "escl: slot %zu is taken", slot);
        return EMU_E_INVALID;
    }
    rc = worker_init(e, slot, dev, errbuf, errlen);
    if (rc == EMU_OK && e->started && worker_start(&e->workers[slot]) < 0) {
        snprintf(errbuf, errlen, "escl: cannot start the thread of %s", dev->busid);
        rc = EMU_E_SYSTEM;
    }
    if (rc < 0) {
        worker_free(&e->workers[slot]);
        return rc;
    }
    pthread_mutex_lock(&e->tbl);
    e->present[slot] = true;
    pthread_mutex_unlock(&e->tbl);
    return EMU_OK;
}

void emu_escl_remove(emu_escl *e, size_t slot)
{
    struct emu_escl_worker *w;
    uint64_t one = 1;

    if (e == NULL || slot >= EMU_MAX_DEVICES || e->workers[slot].owner == NULL)
        return;
    w = &e->workers[slot];
    pthread_mutex_lock(&e->tbl);
    e->present[slot] = false; /* no new connection is routed to it */
    pthread_mutex_unlock(&e->tbl);
    atomic_store(&w->stop, true);
    (void)!write(w->evfd, &one, sizeof(one));
    if (w->started)
        pthread_join(w->thread, NULL);
    worker_free(w); /* streams in progress end here, cut */
}

int emu_escl_create(const emu_escl_opts *opts, const emu_escl_dev *devs, size_t n,
                    const emu_log *log, emu_escl **out, char *errbuf, size_t errlen)
{
    emu_escl *e;
    emu_admit_limits rl = {ROUTE_SLOTS, opts->deadline_ms};

    if (n == 0 || n > EMU_MAX_DEVICES || opts->slots < 1 || opts->deadline_ms < 1) {
        snprintf(errbuf, errlen, "escl: invalid options");
        return EMU_E_INVALID;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        goto out_nomem;
    e->opts = *opts;
    e->log = log;
    e->listen_fd = e->ep = e->stopfd = e->tfd = -1;
    pthread_mutex_init(&e->tbl, NULL);
    e->devs = calloc(EMU_MAX_DEVICES, sizeof(*e->devs));
    e->workers = calloc(EMU_MAX_DEVICES, sizeof(*e->workers));
    e->routes = calloc(ROUTE_SLOTS, sizeof(*e->routes));
    if (!e->devs || !e->workers || !e->routes)
        goto out_nomem;
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) /* every busid routes, plugged or not */
        snprintf(e->devs[i].busid, sizeof(e->devs[i].busid), "1-%zu", i + 1);
    for (unsigned i = 0; i < ROUTE_SLOTS; i++)
        e->routes[i].fd = -1;
    if (emu_admit_init(&e->route_admit, &rl) < 0)
        goto out_nomem;
    if (emu_listen_tcp(log, "eSCL", opts->host ? opts->host : "127.0.0.1", opts->port,
                       &e->listen_fd, &e->port, errbuf, errlen) < 0) {
        emu_escl_free(e);
        return EMU_E_SOCKET;
    }
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    e->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (e->ep < 0 || e->stopfd < 0 || e->tfd < 0 || ep_add(e->ep, e->listen_fd, 1) < 0 ||
        ep_add(e->ep, e->stopfd, 2) < 0 || ep_add(e->ep, e->tfd, 3) < 0) {
        snprintf(errbuf, errlen, "escl: cannot set up the listener: %s", strerror(errno));
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = worker_init(e, i, &devs[i], errbuf, errlen);
        if (rc < 0) {
            emu_escl_free(e);
            return rc;
        }
        e->present[i] = true;
    }
    *out = e;
    return 0;

out_nomem:
    snprintf(errbuf, errlen, "escl: out of memory");
out_free:
    emu_escl_free(e);
    return EMU_E_NOMEM;
}

uint16_t emu_escl_port(const emu_escl *e)
{
    return e->port;
}

int emu_escl_start(emu_escl *e)
{
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++)
        if (e->workers[i].owner != NULL && worker_start(&e->workers[i]) < 0)
            return EMU_E_SYSTEM;
    if (pthread_create(&e->thread, NULL, listener_main, e) != 0)
        return EMU_E_SYSTEM;
    e->started = true;
    emu_logf(e->log, EMU_LOG_INFO, NULL, "eSCL on port %u: http://HOST:%u/eSCL", e->port, e->port);
    return EMU_OK;
}

void emu_escl_signal_stop(emu_escl *e)
{
    uint64_t one = 1;

    if (e == NULL)
        return;
    e->stopping = 1;
    if (e->stopfd >= 0)
        (void)!write(e->stopfd, &one, sizeof(one));
    for (size_t i = 0; e->workers && i < EMU_MAX_DEVICES; i++)
        if (e->workers[i].owner != NULL && e->workers[i].evfd >= 0)
            (void)!write(e->workers[i].evfd, &one, sizeof(one));
}

void emu_escl_join(emu_escl *e)
{
    if (e == NULL)
        return;
    if (e->started)
        pthread_join(e->thread, NULL);
    e->started = false;
    for (size_t i = 0; e->workers && i < EMU_MAX_DEVICES; i++) {
        if (e->workers[i].owner != NULL && e->workers[i].started)
            pthread_join(e->workers[i].thread, NULL);
        e->workers[i].started = false;
    }
}

void emu_escl_free(emu_escl *e)
{
    if (e == NULL)
        return;
    emu_escl_signal_stop(e);
    emu_escl_join(e);
    for (unsigned i = 0; e->routes && i < ROUTE_SLOTS; i++)
        if (e->routes[i].fd >= 0)
            close(e->routes[i].fd);
    for (size_t i = 0; e->workers && i < EMU_MAX_DEVICES; i++)
        worker_free(&e->workers[i]);
    emu_admit_free(&e->route_admit);
    if (e->listen_fd >= 0)
        close(e->listen_fd);
    if (e->ep >= 0)
        close(e->ep);
    if (e->stopfd >= 0)
        close(e->stopfd);
    if (e->tfd >= 0)
        close(e->tfd);
    free(e->routes);
    free(e->workers);
    free(e->devs);
    pthread_mutex_destroy(&e->tbl);
    free(e);
}
