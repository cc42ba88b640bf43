/* driver: the TCP byte stream of the eSCL client (escl-client.h): a new
 * connection per exchange. Non-blocking sockets and poll in slices, so
 * every wait is bounded by the timeout and a cancel (a signal handler
 * setting the flag) is seen within a slice even when the signal landed
 * outside poll.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drv-internal.h"
#include "escl-client.h"

#define SLICE_MS 200u

typedef struct tcp_conn {
    int fd;
} tcp_conn;

static int cancelled(const drv_http_client *c)
{
    return c->cancel != NULL && *c->cancel;
}

/* Wait for events on fd until the deadline. DRV_OK (ready), DRV_E_TIMEOUT,
 * DRV_E_CANCELLED or DRV_E_IO. */
static int wait_fd(drv_http_client *c, int fd, short events, uint64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        uint64_t now = drv_now_ns();
        unsigned ms;
        int n;

        if (cancelled(c))
            return DRV_E_CANCELLED;
        if (now >= deadline)
            return DRV_E_TIMEOUT;
        ms = (unsigned)((deadline - now + 999999u) / 1000000u);
        n = poll(&pfd, 1, (int)(ms < SLICE_MS ? ms : SLICE_MS));
        if (n < 0 && errno != EINTR)
            return DRV_E_IO;
        if (n > 0)
            return DRV_OK;
    }
}

static uint64_t deadline_in(unsigned ms)
{
    return drv_now_ns() + (uint64_t)ms * 1000000u;
}

static int connect_to(drv_http_client *c, int *out)
{
    const drv_http_target *t = c->target;
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int rc, last = DRV_E_CONNECT, fd = -1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", t->port);
    rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(c->err, sizeof(c->err), "cannot resolve %.100s: %s", t->host, gai_strerror(rc));
        return DRV_E_CONNECT;
    }
    snprintf(c->err, sizeof(c->err), "cannot connect to %.100s", t->hostport);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1, soerr = 0;
        socklen_t sl = sizeof(soerr);

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            rc = wait_fd(c, fd, POLLOUT, deadline_in(c->timeout_ms));
            if (rc == DRV_OK && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
                soerr == 0)
                break;
            if (rc == DRV_E_CANCELLED || rc == DRV_E_TIMEOUT) {
                last = rc;
                snprintf(c->err, sizeof(c->err), "%s connecting to %.100s",
                         rc == DRV_E_TIMEOUT ? "timed out" : "cancelled", t->hostport);
            } else {
                snprintf(c->err, sizeof(c->err), "cannot connect to %.100s: %s", t->hostport,
                         strerror(soerr ? soerr : errno));
            }
        } else {
            snprintf(c->err, sizeof(c->err), "cannot connect to %.100s: %s", t->hostport,
                     strerror(errno));
        }
        close(fd);
        fd = -1;
        if (last == DRV_E_CANCELLED)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return last == DRV_E_CANCELLED ? DRV_E_CANCELLED : DRV_E_CONNECT;
    *out = fd;
    return DRV_OK;
}

static int tcp_open(drv_http_client *c, void **conn)
{
    tcp_conn *k = malloc(sizeof(*k));
    int rc;

    if (k == NULL)
        return DRV_E_NOMEM;
    rc = connect_to(c, &k->fd);
    if (rc != DRV_OK) {
        free(k);
        return rc;
    }
    *conn = k;
    return DRV_OK;
}

static int tcp_send(drv_http_client *c, void *conn, const uint8_t *p, size_t len)
{
    tcp_conn *k = conn;

    while (len > 0) {
        ssize_t n = send(k->fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            int rc = wait_fd(c, k->fd, POLLOUT, deadline_in(c->timeout_ms));

            if (rc != DRV_OK) {
                snprintf(c->err, sizeof(c->err), "%s sending the request",
                         rc == DRV_E_TIMEOUT ? "timed out" : "cancelled");
                return rc;
            }
            continue;
        }
        snprintf(c->err, sizeof(c->err), "sending the request: %s", strerror(errno));
        return DRV_E_IO;
    }
    return DRV_OK;
}

static int tcp_recv(drv_http_client *c, void *conn, uint8_t *buf, size_t cap, size_t want,
                    size_t *got)
{
    tcp_conn *k = conn;

    (void)want; /* a socket hands out what has arrived */
    *got = 0;
    for (;;) {
        int rc = wait_fd(c, k->fd, POLLIN, deadline_in(c->timeout_ms));
        ssize_t n;

        if (rc != DRV_OK) {
            snprintf(c->err, sizeof(c->err), "%s", rc == DRV_E_IO ? "poll failed" : "");
            return rc;
        }
        n = recv(k->fd, buf, cap, 0);
        if (n >= 0) {
            *got = (size_t)n;
            return DRV_OK;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            continue;
        snprintf(c->err, sizeof(c->err), "%s", strerror(errno));
        return DRV_E_IO;
    }
}

static void tcp_release(drv_http_client *c, void *conn, int clean)
{
    tcp_conn *k = conn;

    (void)c;
    (void)clean; /* Connection: close: never reused */
    close(k->fd);
    free(k);
}

const drv_http_stream_ops drv_http_tcp_stream = {
    .name = "tcp",
    .keep_alive = 0,
    .open = tcp_open,
    .send = tcp_send,
    .recv = tcp_recv,
    .release = tcp_release,
};
