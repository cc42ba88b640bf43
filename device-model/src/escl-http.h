/* eSCL front, private: one request at a time out of a connection's byte
 * stream, through the protocol module's HTTP/1.1 request parser. */
#ifndef SCANEMU_DM_ESCL_HTTP_H
#define SCANEMU_DM_ESCL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm-internal.h"

enum escl_method {
    ESCL_M_OTHER = 0,
    ESCL_M_GET,
    ESCL_M_POST,
    ESCL_M_DELETE,
    ESCL_M_PUT,
    ESCL_M_HEAD,
};

/* A whole request; valid until escl_http_next. path is without the query. */
typedef struct escl_http_req {
    enum escl_method method;
    const char *path;
    const char *host; /* "" when absent */
    bool has_host;
    bool keep_alive;
    const uint8_t *body;
    size_t body_len;
} escl_http_req;

typedef struct escl_http_parser {
    void *impl;
} escl_http_parser;

int escl_http_init(escl_http_parser *p, const dm_alloc *a);
void escl_http_free(escl_http_parser *p);
/* Feed bytes. Returns the number taken (it stops at the end of a request:
 * the rest belongs to the next one), and sets *done when a whole request is
 * in *req. A negative return is a request that cannot be served: *status
 * is the HTTP status to answer (400, 413, 431, 501, ...) before closing.
 * *send_continue: the head of a request with Expect: 100-continue is in;
 * answer 100 Continue, then offer the body. */
int escl_http_feed(escl_http_parser *p, const uint8_t *buf, size_t len, escl_http_req *req,
                   int *done, int *status, bool *send_continue);
/* The request was answered: make ready for the next one. */
void escl_http_next(escl_http_parser *p);

#endif
