/* driver: HTTP/1.1 over TCP for the eSCL client — one exchange per
 * connection. Non-blocking sockets and poll in slices, so every wait is
 * bounded by the timeout and a cancel (a signal handler setting the flag)
 * is seen within a slice even when the signal landed outside poll.
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
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drv-internal.h"
#include "escl-client.h"

#define SLICE_MS         200u
#define READ_CHUNK       (64u * 1024u)
#define DEFAULT_MAX_BODY (1024u * 1024u)
#define REQ_HEAD_SIZE    2048u

/* ---- the URI ------------------------------------------------------------------------ */

int drv_http_target_parse(const char *rest, drv_http_target *t, char *err, size_t errlen)
{
    const char *host, *hend, *p, *path;
    size_t hlen;
    unsigned long port = 80;
    int bracket = 0;

    memset(t, 0, sizeof(*t));
    if (rest == NULL || *rest == '\0') {
        drv_errf(err, errlen, "escl+http needs //HOST[:PORT][/PATH]");
        return DRV_E_URI;
    }
    host = rest;
    if (*host == '[') {
        hend = strchr(host, ']');
        if (hend == NULL) {
            drv_errf(err, errlen, "unterminated [IPv6] host in '%s'", rest);
            return DRV_E_URI;
        }
        host++;
        p = hend + 1;
        bracket = 1;
    } else {
        hend = host + strcspn(host, ":/?#");
        p = hend;
    }
    hlen = (size_t)(hend - host);
    if (hlen == 0 || hlen >= sizeof(t->host) - 8) {
        drv_errf(err, errlen, "no host (or a host too long) in '%s'", rest);
        return DRV_E_URI;
    }
    memcpy(t->host, host, hlen);
    if (strspn(t->host, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:_%") !=
        hlen) {
        drv_errf(err, errlen, "bad host '%s'", t->host);
        return DRV_E_URI;
    }
    if (*p == ':') {
        char *end;

        errno = 0;
        port = strtoul(p + 1, &end, 10);
        if (end == p + 1 || errno || port == 0 || port > 65535 || (*end && *end != '/')) {
            drv_errf(err, errlen, "bad port in '%s'", rest);
            return DRV_E_URI;
        }
        p = end;
    }
    if (*p != '\0' && *p != '/') {
        drv_errf(err, errlen, "unexpected '%s' after the host (queries are not supported)", p);
        return DRV_E_URI;
    }
    t->port = (uint16_t)port;
    snprintf(t->hostport, sizeof(t->hostport), "%s%.200s%s:%u", bracket ? "[" : "", t->host,
             bracket ? "]" : "", t->port);
    path = *p == '/' ? p : "/eSCL";
    if (strcmp(path, "/") == 0)
        path = "";
    if (strlen(path) >= sizeof(t->base) - 64 ||
        strspn(
            path,
            "/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:@") !=
            strlen(path)) {
        drv_errf(err, errlen, "bad path '%s'", path);
        return DRV_E_URI;
    }
    snprintf(t->base, sizeof(t->base), "%s", path);
    for (size_t n = strlen(t->base); n > 0 && t->base[n - 1] == '/'; n--)
        t->base[n - 1] = '\0';
    return DRV_OK;
}

/* ---- waiting -------------------------------------------------------------------------- */

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

static int send_all(drv_http_client *c, int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            int rc = wait_fd(c, fd, POLLOUT, deadline_in(c->timeout_ms));

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

/* ---- the exchange ----------------------------------------------------------------- */

void drv_http_reply_free(drv_http_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

static void take_head(drv_http_reply *r, const proto_http_response *h)
{
    r->status = h->status;
    r->head_ns = drv_now_ns();
    snprintf(r->location, sizeof(r->location), "%s", h->location ? h->location : "");
    snprintf(r->content_type, sizeof(r->content_type), "%s",
             h->content_type ? h->content_type : "");
    r->retry_after_s = 0;
    if (h->retry_after && h->retry_after[0] &&
        strspn(h->retry_after, "0123456789") == strlen(h->retry_after)) {
        unsigned long v = strtoul(h->retry_after, NULL, 10);
        r->retry_after_s = v > 3600 ? 3600u : (unsigned)v;
    }
}

static int keep_body(drv_http_client *c, drv_http_reply *r, const uint8_t *data, size_t len)
{
    size_t max = c->max_body ? c->max_body : DEFAULT_MAX_BODY;
    uint8_t *nb;

    if (len > max - r->body_len) {
        snprintf(c->err, sizeof(c->err), "response body larger than %zu bytes", max);
        return DRV_E_PROTO;
    }
    nb = realloc(r->body, r->body_len + len + 1);
    if (nb == NULL)
        return DRV_E_NOMEM;
    r->body = nb;
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return DRV_OK;
}

int drv_http_exchange(drv_http_client *c, const char *method, const char *path,
                      const char *content_type, const void *body, size_t body_len,
                      drv_http_reply *r, drv_http_sink sink, void *ctx)
{
    char head[REQ_HEAD_SIZE];
    uint8_t *buf = NULL;
    proto_http_resp_parser *rp = NULL;
    proto_http_resp_limits lim;
    int fd = -1, n, rc;
    int done = 0;

    memset(r, 0, sizeof(*r));
    c->err[0] = '\0';
    if (body_len > 0)
        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wiascan\r\nAccept: */*\r\n"
                     "Connection: close\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     method, path, c->target->hostport, content_type ? content_type : "text/xml",
                     body_len);
    else
        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wiascan\r\nAccept: */*\r\n"
                     "Connection: close\r\n\r\n",
                     method, path, c->target->hostport);
    if (n < 0 || (size_t)n >= sizeof(head) || strpbrk(path, "\r\n ") != NULL) {
        snprintf(c->err, sizeof(c->err), "request for %.80s does not fit", path);
        return DRV_E_INVALID;
    }
    memset(&lim, 0, sizeof(lim));
    rc = proto_http_resp_parser_new(&lim, &rp);
    if (rc != PROTO_OK)
        return DRV_E_NOMEM;
    buf = malloc(READ_CHUNK);
    if (buf == NULL) {
        rc = DRV_E_NOMEM;
        goto out;
    }
    rc = connect_to(c, &fd);
    if (rc != DRV_OK)
        goto out;
    rc = send_all(c, fd, head, (size_t)n);
    if (rc == DRV_OK && body_len > 0)
        rc = send_all(c, fd, body, body_len);
    if (rc != DRV_OK)
        goto out;

    while (!done) {
        ssize_t got;
        size_t off = 0;
        int eof = 0;

        rc = wait_fd(c, fd, POLLIN, deadline_in(c->timeout_ms));
        if (rc != DRV_OK) {
            snprintf(c->err, sizeof(c->err), "%s waiting for the %s of %s %s",
                     rc == DRV_E_TIMEOUT ? "timed out"
                     : rc == DRV_E_IO    ? "poll failed"
                                         : "cancelled",
                     r->status ? "rest of the response" : "response", method, path);
            goto out;
        }
        got = recv(fd, buf, READ_CHUNK, 0);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            snprintf(c->err, sizeof(c->err), "%s %s: %s after %llu body bytes", method, path,
                     strerror(errno), (unsigned long long)proto_http_resp_body_bytes(rp));
            rc = DRV_E_IO;
            goto out;
        }
        eof = got == 0;
        /* An event can be due with no byte left (DONE after a bodyless head
         * or the last body byte): feed until the parser wants more. */
        for (int again = 1; !done && (off < (size_t)got || again || eof);) {
            const uint8_t *data;
            size_t used = 0, dlen;
            int ev;

            if (eof && off >= (size_t)got && !again) {
                ev = proto_http_resp_eof(rp);
                if (ev != PROTO_HTTP_RESP_DONE) {
                    snprintf(c->err, sizeof(c->err),
                             "%s %s: the connection closed %s (after %llu body bytes)", method,
                             path,
                             proto_http_resp_head(rp) ? "in the middle of the body"
                                                      : "before a complete response",
                             (unsigned long long)proto_http_resp_body_bytes(rp));
                    rc = DRV_E_IO;
                    goto out;
                }
                done = 1;
                break;
            }
            ev = proto_http_resp_feed(rp, buf + off, (size_t)got - off, &used, &data, &dlen);
            off += used;
            again = ev != PROTO_HTTP_RESP_MORE;
            if (ev < 0) {
                snprintf(c->err, sizeof(c->err), "%s %s: %s", method, path, proto_strerror(ev));
                rc = DRV_E_PROTO;
                goto out;
            }
            switch (ev) {
            case PROTO_HTTP_RESP_HEAD:
                take_head(r, proto_http_resp_head(rp));
                if (sink && (rc = sink(ctx, r, NULL, 0)) < 0)
                    goto out;
                break;
            case PROTO_HTTP_RESP_BODY:
                rc = sink ? sink(ctx, r, data, dlen) : keep_body(c, r, data, dlen);
                if (rc < 0)
                    goto out;
                break;
            case PROTO_HTTP_RESP_DONE:
                done = 1;
                break;
            default: /* MORE: all used */
                break;
            }
        }
    }
    rc = DRV_OK;

out:
    if (fd >= 0)
        close(fd);
    free(buf);
    proto_http_resp_parser_free(rp);
    return rc;
}
