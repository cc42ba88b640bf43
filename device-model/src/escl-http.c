/* eSCL front: requests out of a connection's byte stream, through the
 * protocol module's HTTP/1.1 parser (protocol/http.h). */
#include <string.h>

#include "escl-http.h"
#include "protocol/http.h"

/* ScanSettings is the only body eSCL sends; real ones are under 2 KiB. */
#define ESCL_BODY_MAX (64u << 10)

static void *http_realloc(void *ctx, void *ptr, size_t size)
{
    const dm_alloc *a = ctx;
    return a->realloc(a->ctx, ptr, size);
}

static void http_free(void *ctx, void *ptr)
{
    const dm_alloc *a = ctx;
    if (ptr != NULL)
        a->realloc(a->ctx, ptr, 0);
}

int escl_http_init(escl_http_parser *p, const dm_alloc *a)
{
    proto_http_limits lim;
    proto_http_parser *hp;

    memset(&lim, 0, sizeof(lim));
    lim.max_body = ESCL_BODY_MAX;
    lim.alloc.realloc_fn = http_realloc;
    lim.alloc.free_fn = http_free;
    lim.alloc.ctx = (void *)(a ? a : dm_alloc_default());
    if (proto_http_parser_new(&lim, &hp) < 0)
        return DM_E_NOMEM;
    p->impl = hp;
    return DM_OK;
}

void escl_http_free(escl_http_parser *p)
{
    proto_http_parser_free(p->impl);
    p->impl = NULL;
}

static enum escl_method method_of(enum proto_http_method m)
{
    switch (m) {
    case PROTO_HTTP_GET:
        return ESCL_M_GET;
    case PROTO_HTTP_POST:
        return ESCL_M_POST;
    case PROTO_HTTP_DELETE:
        return ESCL_M_DELETE;
    case PROTO_HTTP_PUT:
        return ESCL_M_PUT;
    case PROTO_HTTP_HEAD:
        return ESCL_M_HEAD;
    default:
        return ESCL_M_OTHER;
    }
}

int escl_http_feed(escl_http_parser *p, const uint8_t *buf, size_t len, escl_http_req *req,
                   int *done, int *status, bool *send_continue)
{
    size_t used = 0;
    int rc = proto_http_parser_feed(p->impl, buf, len, &used);
    const proto_http_request *r;

    *done = 0;
    *send_continue = false;
    if (rc < 0) {
        *status = proto_http_status_for(rc);
        return DM_E_PROTO;
    }
    if (rc != PROTO_HTTP_MORE && rc != PROTO_HTTP_REQUEST) { /* the head, a body follows */
        r = proto_http_parser_request(p->impl);
        *send_continue = r != NULL && r->expect_continue;
        return (int)used;
    }
    if (rc != PROTO_HTTP_REQUEST)
        return (int)used;
    r = proto_http_parser_request(p->impl);
    memset(req, 0, sizeof(*req));
    req->method = method_of(r->method);
    req->path = r->path;
    req->has_host = r->host != NULL;
    req->host = r->host ? r->host : "";
    req->keep_alive = r->keep_alive;
    req->body = r->body;
    req->body_len = r->body_len;
    *done = 1;
    return (int)used;
}

void escl_http_next(escl_http_parser *p)
{
    proto_http_parser_next(p->impl);
}
