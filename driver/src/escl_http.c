/* driver: one HTTP/1.1 exchange of the eSCL client over a byte stream
 * (escl-client.h): TCP, or an IPP-USB interface. The response parser alone
 * decides where a response ends (Content-Length, chunked, or the end of a
 * TCP stream), never the size of a read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drv-internal.h"
#include "escl-client.h"

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
    const drv_http_stream_ops *st = c->stream ? c->stream : &drv_http_tcp_stream;
    const char *conn_hdr = st->keep_alive ? "" : "Connection: close\r\n";
    char head[REQ_HEAD_SIZE];
    uint8_t *buf = NULL;
    proto_http_resp_parser *rp = NULL;
    proto_http_resp_limits lim;
    void *conn = NULL;
    int n, rc;
    int done = 0, clean = 0;

    memset(r, 0, sizeof(*r));
    c->err[0] = '\0';
    if (body_len > 0)
        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wiascan\r\nAccept: */*\r\n"
                     "%sContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     method, path, c->target->hostport, conn_hdr,
                     content_type ? content_type : "text/xml", body_len);
    else
        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wiascan\r\nAccept: */*\r\n"
                     "%s\r\n",
                     method, path, c->target->hostport, conn_hdr);
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
    rc = st->open(c, &conn);
    if (rc != DRV_OK)
        goto out;
    rc = st->send(c, conn, (const uint8_t *)head, (size_t)n);
    if (rc == DRV_OK && body_len > 0)
        rc = st->send(c, conn, body, body_len);
    if (rc != DRV_OK)
        goto out;

    while (!done) {
        size_t got = 0, off = 0;
        int eof = 0;

        {
            uint64_t left = proto_http_resp_known_left(rp);

            rc = st->recv(c, conn, buf, READ_CHUNK, left < READ_CHUNK ? (size_t)left : READ_CHUNK,
                          &got);
        }
        if (rc == DRV_E_TIMEOUT || rc == DRV_E_CANCELLED || (rc != DRV_OK && !c->err[0])) {
            snprintf(c->err, sizeof(c->err), "%s waiting for the %s of %s %s",
                     rc == DRV_E_TIMEOUT     ? "timed out"
                     : rc == DRV_E_CANCELLED ? "cancelled"
                                             : drv_strerror(rc),
                     r->status ? "rest of the response" : "response", method, path);
            goto out;
        }
        if (rc != DRV_OK) {
            char why[sizeof(c->err)];

            memcpy(why, c->err, sizeof(why));
            snprintf(c->err, sizeof(c->err), "%.10s %.90s: %.50s after %llu body bytes", method,
                     path, why, (unsigned long long)proto_http_resp_body_bytes(rp));
            goto out;
        }
        eof = got == 0;
        /* An event can be due with no byte left (DONE after a bodyless head
         * or the last body byte): feed until the parser wants more. */
        for (int again = 1; !done && (off < got || again || eof);) {
            const uint8_t *data;
            size_t used = 0, dlen;
            int ev;

            if (eof && off >= got && !again) {
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
            ev = proto_http_resp_feed(rp, buf + off, got - off, &used, &data, &dlen);
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
        /* Bytes after the end of the response: nothing was asked for them,
         * so the connection is out of step and is not reused. */
        clean = done && !eof && off == got;
    }
    rc = DRV_OK;

out:
    if (conn != NULL)
        st->release(c, conn, rc == DRV_OK && clean);
    free(buf);
    proto_http_resp_parser_free(rp);
    return rc;
}
