/* The control socket (docs/control.md): a Unix stream socket speaking JSON
 * Lines, one thread. Each line a client sends is one request object, parsed
 * with jansson and answered by the handler (control_cmd.c) with one reply
 * line; a client that asked to watch also receives event lines, published
 * from the device threads (emu_ctl_publish).
 *
 * Nothing a client does can stall the emulator: sockets are non-blocking;
 * a request line is at most EMU_CTL_LINE_MAX bytes (a longer one is
 * answered with an error and the connection closed); output waiting for a
 * client is at most EMU_CTL_OUT_MAX bytes, and a client past it (a watcher
 * that does not read) is dropped; device threads only append to a buffer
 * under this module's lock and wake the thread, never write to a socket.
 * At most EMU_CTL_MAX_CLIENTS clients; one more is told so and closed. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bind-internal.h"

#define DRAIN_MAX (64u << 20) /* input discarded after a refused line, then closed */

typedef struct ctl_client {
    int fd; /* -1: free */
    char in[EMU_CTL_LINE_MAX + 1];
    size_t in_len;
    /* output, under emu_ctl.mtx (device threads append events) */
    char *out;
    size_t out_len, out_off, out_cap;
    bool watching;
    char watch_busid[PROTO_USBIP_BUSID_SIZE]; /* "": every device */
    bool dropped;                             /* output overflowed: closed by the thread */
    bool closing;                             /* close once the output is sent (a refused line) */
    size_t drained;                           /* bytes discarded while closing */
    bool epollout;
} ctl_client;

struct emu_ctl {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev;
    ino_t ino;
    const emu_log *log;
    emu_ctl_handler fn;
    void *ctx;
    int listen_fd, ep, stopfd, wakefd;
    pthread_t thread;
    bool started;
    atomic_int stopping;
    atomic_int wake_pending;
    pthread_mutex_t mtx; /* the clients' output and watch state */
    ctl_client clients[EMU_CTL_MAX_CLIENTS];
};

enum { TAG_LISTEN = 1, TAG_STOP, TAG_WAKE, TAG_CLIENT0 = 16 };

/* ---- output ------------------------------------------------------------------------------ */

/* Appends a line (adding the newline), with c->mtx held. false: over the
 * limit, the client is marked dropped. */
static bool out_append(ctl_client *cl, const char *line, size_t len)
{
    size_t pending = cl->out_len - cl->out_off, need;

    if (cl->dropped)
        return false;
    if (pending + len + 1 > EMU_CTL_OUT_MAX) {
        cl->dropped = true;
        return false;
    }
    if (cl->out_off > 0 && cl->out_len + len + 1 > cl->out_cap) {
        memmove(cl->out, cl->out + cl->out_off, pending);
        cl->out_off = 0;
        cl->out_len = pending;
    }
    need = cl->out_len + len + 1;
    if (need > cl->out_cap) {
        size_t cap = cl->out_cap ? cl->out_cap : 4096;
        char *p;
        while (cap < need)
            cap *= 2;
        p = realloc(cl->out, cap);
        if (p == NULL) {
            cl->dropped = true;
            return false;
        }
        cl->out = p;
        cl->out_cap = cap;
    }
    memcpy(cl->out + cl->out_len, line, len);
    cl->out[cl->out_len + len] = '\n';
    cl->out_len += len + 1;
    return true;
}

static void wake(emu_ctl *c)
{
    uint64_t one = 1;
    if (atomic_exchange(&c->wake_pending, 1) == 0)
        (void)!write(c->wakefd, &one, sizeof one);
}

void emu_ctl_publish(emu_ctl *c, const char *busid, const char *line, size_t len)
{
    bool any = false;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mtx);
    for (unsigned i = 0; i < EMU_CTL_MAX_CLIENTS; i++) {
        ctl_client *cl = &c->clients[i];
        if (cl->fd < 0 || !cl->watching || cl->closing)
            continue;
        if (cl->watch_busid[0] && busid && strcmp(cl->watch_busid, busid) != 0)
            continue;
        out_append(cl, line, len);
        any = true;
    }
    pthread_mutex_unlock(&c->mtx);
    if (any)
        wake(c);
}

/* ---- clients ------------------------------------------------------------------------------ */

static void client_close(emu_ctl *c, ctl_client *cl)
{
    epoll_ctl(c->ep, EPOLL_CTL_DEL, cl->fd, NULL);
    pthread_mutex_lock(&c->mtx);
    close(cl->fd);
    cl->fd = -1;
    free(cl->out);
    cl->out = NULL;
    cl->out_len = cl->out_off = cl->out_cap = 0;
    cl->watching = cl->dropped = cl->closing = cl->epollout = false;
    cl->in_len = cl->drained = 0;
    pthread_mutex_unlock(&c->mtx);
}

/* Sends what the socket takes. false when the client was closed. */
static bool client_flush(emu_ctl *c, ctl_client *cl)
{
    bool want_out, dropped, done;

    pthread_mutex_lock(&c->mtx);
    while (!cl->dropped && cl->out_off < cl->out_len) {
        ssize_t w = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w < 0) {
            cl->dropped = true;
            break;
        }
        cl->out_off += (size_t)w;
    }
    if (cl->out_off == cl->out_len)
        cl->out_off = cl->out_len = 0;
    dropped = cl->dropped;
    want_out = cl->out_len > cl->out_off;
    done = cl->closing && !want_out;
    pthread_mutex_unlock(&c->mtx);
    if (dropped) {
        emu_logf(c->log, EMU_LOG_WARN, NULL,
                 "control: a client did not read its %s (more than %u bytes waiting, or the "
                 "socket failed): dropped",
                 cl->watching ? "events" : "replies", EMU_CTL_OUT_MAX);
        client_close(c, cl);
        return false;
    }
    if (done && cl->drained == 0)
        shutdown(cl->fd, SHUT_WR); /* the refusal is out; what follows is discarded */
    if (want_out != cl->epollout) {
        struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0u),
                                 .data.u64 = TAG_CLIENT0 + (uint64_t)(cl - c->clients)};
        epoll_ctl(c->ep, EPOLL_CTL_MOD, cl->fd, &ev);
        cl->epollout = want_out;
    }
    return true;
}

static void reply(emu_ctl *c, ctl_client *cl, json_t *r)
{
    char *line = json_dumps(r, JSON_COMPACT);

    pthread_mutex_lock(&c->mtx);
    if (line == NULL)
        out_append(cl, "{\"ok\":false,\"error\":\"out of memory\"}", 37);
    else
        out_append(cl, line, strlen(line));
    pthread_mutex_unlock(&c->mtx);
    free(line);
}

static void reply_error(emu_ctl *c, ctl_client *cl, const char *code, const char *msg)
{
    json_t *r = json_pack("{s:b,s:s,s:s}", "ok", 0, "code", code, "error", msg);
    if (r != NULL) {
        reply(c, cl, r);
        json_decref(r);
    }
}

static void handle_line(emu_ctl *c, ctl_client *cl, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req, *r;
    int watch = 0;
    char busid[PROTO_USBIP_BUSID_SIZE] = "";
    char msg[256];

    if (len == 0)
        return; /* blank lines are ignored */
    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (req == NULL) {
        snprintf(msg, sizeof msg, "malformed JSON at column %d: %s", jerr.column, jerr.text);
        reply_error(c, cl, "bad_json", msg);
        return;
    }
    if (!json_is_object(req)) {
        reply_error(c, cl, "bad_request", "a request is a JSON object");
        json_decref(req);
        return;
    }
    r = c->fn(c->ctx, req, &watch, busid, sizeof busid);
    json_t *id = json_object_get(req, "id");
    if (r != NULL && id != NULL)
        json_object_set(r, "id", id);
    if (r != NULL) {
        pthread_mutex_lock(&c->mtx);
        if (watch) { /* the reply first, then events */
            cl->watching = true;
            snprintf(cl->watch_busid, sizeof cl->watch_busid, "%s", busid);
        }
        pthread_mutex_unlock(&c->mtx);
        reply(c, cl, r);
        json_decref(r);
    } else {
        reply_error(c, cl, "internal", "out of memory");
    }
    json_decref(req);
}

/* Reads and answers complete lines, at most READ_BUDGET bytes per call so
 * that a client that keeps sending does not hold the thread (epoll is
 * level-triggered: the rest comes next round). false when the client was
 * closed. */
#define READ_BUDGET (1u << 20)
static bool client_read(emu_ctl *c, ctl_client *cl)
{
    size_t budget = READ_BUDGET;

    for (;;) {
        bool dropped;

        pthread_mutex_lock(&c->mtx);
        dropped = cl->dropped;
        pthread_mutex_unlock(&c->mtx);
        if (dropped || budget == 0)
            return true; /* client_flush closes a dropped one */
        char sink[4096];
        ssize_t n;

        if (cl->closing) {
            n = recv(cl->fd, sink, sizeof sink, MSG_DONTWAIT);
            if (n > 0) {
                cl->drained += (size_t)n;
                budget = (size_t)n < budget ? budget - (size_t)n : 0;
                if (cl->drained < DRAIN_MAX)
                    continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return true;
            client_close(c, cl);
            return false;
        }
        n = recv(cl->fd, cl->in + cl->in_len, EMU_CTL_LINE_MAX + 1 - cl->in_len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0) {
            client_close(c, cl);
            return false;
        }
        cl->in_len += (size_t)n;
        budget = (size_t)n < budget ? budget - (size_t)n : 0;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(cl->in + start, '\n', cl->in_len - start);
            if (nl == NULL)
                break;
            size_t len = (size_t)(nl - (cl->in + start));
            if (len > 0 && cl->in[start + len - 1] == '\r')
                len--;
            handle_line(c, cl, cl->in + start, len);
            start = (size_t)(nl - cl->in) + 1;
        }
        memmove(cl->in, cl->in + start, cl->in_len - start);
        cl->in_len -= start;
        if (cl->in_len > EMU_CTL_LINE_MAX) {
            char msg[96];
            snprintf(msg, sizeof msg, "request line longer than %u bytes; closing",
                     EMU_CTL_LINE_MAX);
            reply_error(c, cl, "line_too_long", msg);
            emu_logf(c->log, EMU_LOG_WARN, NULL, "control: %s", msg);
            pthread_mutex_lock(&c->mtx); /* emu_ctl_publish reads it */
            cl->closing = true;
            pthread_mutex_unlock(&c->mtx);
            cl->in_len = 0;
        }
    }
}

static void accept_clients(emu_ctl *c)
{
    for (int k = 0; k < 16; k++) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        unsigned i;

        if (fd < 0)
            return;
        for (i = 0; i < EMU_CTL_MAX_CLIENTS && c->clients[i].fd >= 0; i++)
            ;
        if (i == EMU_CTL_MAX_CLIENTS) {
            static const char full[] =
                "{\"ok\":false,\"code\":\"busy\",\"error\":\"too many control clients\"}\n";
            (void)!send(fd, full, sizeof full - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            emu_logf(c->log, EMU_LOG_WARN, NULL, "control: %u clients already; refused one",
                     EMU_CTL_MAX_CLIENTS);
            continue;
        }
        ctl_client *cl = &c->clients[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_CLIENT0 + i};
        pthread_mutex_lock(&c->mtx);
        cl->fd = fd;
        cl->in_len = 0;
        pthread_mutex_unlock(&c->mtx);
        if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            client_close(c, cl);
    }
}

static void *ctl_main(void *arg)
{
    emu_ctl *c = arg;
    struct epoll_event evs[32];

    pthread_setname_np(pthread_self(), "scanemu/ctl");
    while (!atomic_load(&c->stopping)) {
        int n = epoll_wait(c->ep, evs, 32, -1);
        if (n < 0 && errno != EINTR) {
            emu_logf(c->log, EMU_LOG_ERROR, NULL, "control: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64, v;
            if (tag == TAG_LISTEN) {
                accept_clients(c);
            } else if (tag == TAG_STOP) {
                break;
            } else if (tag == TAG_WAKE) {
                (void)!read(c->wakefd, &v, sizeof v);
                atomic_store(&c->wake_pending, 0);
            } else if (tag >= TAG_CLIENT0 && tag < TAG_CLIENT0 + EMU_CTL_MAX_CLIENTS) {
                ctl_client *cl = &c->clients[tag - TAG_CLIENT0];
                if (cl->fd < 0)
                    continue;
                if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !client_read(c, cl))
                    continue;
                client_flush(c, cl);
            }
        }
        /* Events published since: flush every client with output. */
        for (unsigned i = 0; i < EMU_CTL_MAX_CLIENTS; i++) {
            ctl_client *cl = &c->clients[i];
            bool pending;
            if (cl->fd < 0)
                continue;
            pthread_mutex_lock(&c->mtx);
            pending = cl->out_len > cl->out_off || cl->dropped;
            pthread_mutex_unlock(&c->mtx);
            if (pending)
                client_flush(c, cl);
        }
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

/* A socket file at path: one a live server answers on is refused, a stale
 * one removed; anything that is not a socket is refused. */
static int clear_path(const char *path, char *errbuf, size_t errlen)
{
    struct stat st;
    struct sockaddr_un sa;
    int fd, rc;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return EMU_OK;
        snprintf(errbuf, errlen, "control socket %s: %s", path, strerror(errno));
        return EMU_E_SOCKET;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(errbuf, errlen,
                 "control socket %s: a file that is not a socket is there; "
                 "refusing to replace it",
                 path);
        return EMU_E_SOCKET;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errbuf, errlen, "control socket: %s", strerror(errno));
        return EMU_E_SOCKET;
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    if (rc == 0) {
        snprintf(errbuf, errlen, "control socket %s: another server answers there", path);
        return EMU_E_SOCKET;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(errbuf, errlen, "control socket %s: cannot remove the stale socket: %s", path,
                 strerror(errno));
        return EMU_E_SOCKET;
    }
    return EMU_OK;
}

int emu_ctl_create(const char *path, const emu_log *log, emu_ctl_handler fn, void *ctx,
                   emu_ctl **out, char *errbuf, size_t errlen)
{
    struct sockaddr_un sa;
    struct stat st;
    emu_ctl *c;
    mode_t old;
    int rc;

    if (path == NULL || *path == '\0' || strlen(path) >= sizeof sa.sun_path) {
        snprintf(errbuf, errlen, "control socket path \"%s\": empty, or longer than %zu bytes",
                 path ? path : "", sizeof sa.sun_path - 1);
        return EMU_E_INVALID;
    }
    rc = clear_path(path, errbuf, errlen);
    if (rc < 0)
        return rc;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return EMU_E_NOMEM;
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    c->log = log;
    c->fn = fn;
    c->ctx = ctx;
    c->ep = c->stopfd = c->wakefd = -1;
    pthread_mutex_init(&c->mtx, NULL);
    for (unsigned i = 0; i < EMU_CTL_MAX_CLIENTS; i++)
        c->clients[i].fd = -1;
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->listen_fd < 0)
        goto out_errno;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    /* The socket file is made with mode 0600 from the start: emu_server_create
     * runs before any thread of the server, so the umask is changed only
     * around this bind. */
    old = umask(0177);
    rc = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0)
        goto out_errno;
    if (chmod(path, 0600) < 0 || lstat(path, &st) < 0 || listen(c->listen_fd, 16) < 0)
        goto out_unlink;
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->ep = epoll_create1(EPOLL_CLOEXEC);
    c->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->ep < 0 || c->stopfd < 0 || c->wakefd < 0)
        goto out_unlink;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->listen_fd, &ev) < 0)
        goto out_unlink;
    ev.data.u64 = TAG_STOP;
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->stopfd, &ev) < 0)
        goto out_unlink;
    ev.data.u64 = TAG_WAKE;
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->wakefd, &ev) < 0)
        goto out_unlink;
    *out = c;
    return EMU_OK;

out_unlink:
    snprintf(errbuf, errlen, "control socket %s: %s", path, strerror(errno));
    unlink(path);
    c->ino = 0;
    c->path[0] = '\0';
    emu_ctl_free(c);
    return EMU_E_SOCKET;
out_errno:
    snprintf(errbuf, errlen, "control socket %s: %s", path, strerror(errno));
    c->path[0] = '\0';
    emu_ctl_free(c);
    return EMU_E_SOCKET;
}

int emu_ctl_start(emu_ctl *c)
{
    if (pthread_create(&c->thread, NULL, ctl_main, c) != 0)
        return EMU_E_SYSTEM;
    c->started = true;
    emu_logf(c->log, EMU_LOG_INFO, NULL, "control socket %s", c->path);
    return EMU_OK;
}

void emu_ctl_signal_stop(emu_ctl *c)
{
    uint64_t one = 1;

    atomic_store(&c->stopping, 1);
    if (c->stopfd >= 0)
        (void)!write(c->stopfd, &one, sizeof one);
}

void emu_ctl_join(emu_ctl *c)
{
    if (c->started)
        pthread_join(c->thread, NULL);
    c->started = false;
}

void emu_ctl_free(emu_ctl *c)
{
    struct stat st;

    if (c == NULL)
        return;
    emu_ctl_signal_stop(c);
    emu_ctl_join(c);
    for (unsigned i = 0; i < EMU_CTL_MAX_CLIENTS; i++) {
        if (c->clients[i].fd >= 0)
            close(c->clients[i].fd);
        free(c->clients[i].out);
    }
    /* Removed only if the file there is still the socket bound here. */
    if (c->path[0] && lstat(c->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == c->ino &&
        st.st_dev == c->dev)
        unlink(c->path);
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->ep >= 0)
        close(c->ep);
    if (c->stopfd >= 0)
        close(c->stopfd);
    if (c->wakefd >= 0)
        close(c->wakefd);
    pthread_mutex_destroy(&c->mtx);
    free(c);
}
