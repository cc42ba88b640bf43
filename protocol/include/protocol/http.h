/* HTTP/1.1 for the eSCL front: an incremental request parser over a byte
 * stream (Debian's libhttp-parser underneath) and response writers into
 * caller buffers. No sockets: the carrier feeds whatever bytes arrived, in
 * pieces of any size, and sends what the writers produce.
 *
 * Request framing follows RFC 9112: Content-Length or chunked bodies (the
 * chunk framing is removed), HTTP/1.0 closes by default and keeps alive
 * with "Connection: keep-alive", HTTP/1.1 the reverse. Pipelined requests
 * are supported: the parser stops consuming at the end of each request, and
 * the bytes after it are the caller's to feed again for the next one.
 *
 * Every rejection is a negative proto_err listed at proto_http_parser_feed,
 * and proto_http_status_for() maps it to the status code to answer with.
 * The answer does not depend on how the stream was cut into pieces: checks
 * of the head by this codec are raised when the head ends.
 * After a rejection the connection's byte stream can no longer be trusted:
 * answer (with "Connection: close") and close.
 */
#ifndef SCANEMU_PROTOCOL_HTTP_H
#define SCANEMU_PROTOCOL_HTTP_H

#include <stdbool.h>

#include "protocol/proto.h"

/* Hard limits; proto_http_limits may only lower them. */
#define PROTO_HTTP_MAX_HEAD    8192u    /* 8 KiB: request line + headers + blank line */
#define PROTO_HTTP_MAX_HEADERS 64u      /* header fields */
#define PROTO_HTTP_MAX_TARGET  2048u    /* request-target bytes */
#define PROTO_HTTP_MAX_BODY    1048576u /* 1 MiB: decoded body bytes */

/* Allocator for the body buffer (the only allocation besides the parser
 * itself); NULL members mean realloc/free. Lets tests fail allocations. */
typedef struct proto_http_alloc {
    void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
} proto_http_alloc;

/* Per-parser limits; 0 (or a NULL limits pointer) means the hard limit. */
typedef struct proto_http_limits {
    size_t max_head;
    size_t max_headers;
    size_t max_body;
    proto_http_alloc alloc;
} proto_http_limits;

enum proto_http_method {
    PROTO_HTTP_GET = 1,
    PROTO_HTTP_HEAD,
    PROTO_HTTP_POST,
    PROTO_HTTP_PUT,
    PROTO_HTTP_DELETE,
};

typedef struct proto_http_header {
    const char *name;  /* as received (compare case-insensitively) */
    const char *value; /* leading and trailing blanks removed */
} proto_http_header;

/* A parsed request. All strings are NUL-terminated and live in the parser:
 * valid until proto_http_parser_next() or _free(). */
typedef struct proto_http_request {
    enum proto_http_method method;
    const char *method_name; /* "GET" */
    unsigned version_minor;  /* HTTP/1.<minor>: 0 or 1 (higher minors read as 1) */
    const char *target;      /* request-target as received */
    /* The target split: path (never empty; "/" for an absolute-form target
     * without one) and query (after '?', NULL if none). Not percent-decoded;
     * a fragment is dropped. */
    const char *path;
    const char *query;
    const char *host;         /* the Host header, NULL if none (HTTP/1.0 only) */
    const char *content_type; /* NULL if none */
    bool has_length;          /* Content-Length given */
    uint64_t content_length;
    bool chunked;         /* Transfer-Encoding: chunked */
    bool keep_alive;      /* false: answer with Connection: close, then close */
    bool expect_continue; /* "Expect: 100-continue" on an HTTP/1.1 request with a body */
    size_t n_headers;
    const proto_http_header *headers;
    /* The body, chunk framing removed. Complete only once feed returned
     * PROTO_HTTP_REQUEST; body_len grows while it arrives. */
    const uint8_t *body;
    size_t body_len;
} proto_http_request;

typedef struct proto_http_parser proto_http_parser;

/* Create / destroy a parser for one connection. new: PROTO_OK, or
 * PROTO_E_HTTP_NOMEM (out set to NULL), PROTO_E_BAD_FIELD for limits above
 * the hard ones. The parser allocates itself and, while a body arrives, one
 * body buffer (grown as bytes arrive, never beyond max_body; a
 * Content-Length above max_body is refused before any byte of it is
 * buffered). free(NULL) is a no-op. */
int proto_http_parser_new(const proto_http_limits *limits, proto_http_parser **out);
void proto_http_parser_free(proto_http_parser *p);

/* feed's non-negative results. */
enum proto_http_feed_result {
    PROTO_HTTP_MORE = 0,    /* all consumed, the request is not complete */
    PROTO_HTTP_HEADERS = 1, /* head complete and a body follows: request() has everything
                               but the body; answer "100 Continue" now if expect_continue,
                               then feed the rest */
    PROTO_HTTP_REQUEST = 2, /* request complete: handle it, then next() */
};

/* Feed bytes. *consumed (always set) says how many were used; the others
 * must be fed again: after PROTO_HTTP_HEADERS (the body's), after
 * PROTO_HTTP_REQUEST (the next pipelined request's, once next() was
 * called). A bodyless request goes straight to PROTO_HTTP_REQUEST. Feeding
 * 0 bytes is a no-op (end of stream is proto_http_parser_eof's). Rejections
 * (the status proto_http_status_for gives):
 *   PROTO_E_HTTP_SYNTAX          bad request line, header syntax, bare CR/LF,
 *                                control characters (400)
 *   PROTO_E_HTTP_HEAD_TOO_LARGE  request line + headers beyond max_head (found
 *                                after at most max_head bytes, whatever the
 *                                piece sizes), or chunked trailers beyond
 *                                libhttp-parser's own 80 KiB (431)
 *   PROTO_E_HTTP_TOO_MANY_HEADERS more than max_headers fields (431)
 *   PROTO_E_HTTP_URI_TOO_LONG    request-target beyond PROTO_HTTP_MAX_TARGET
 *                                in a head within max_head (414)
 *   PROTO_E_HTTP_BAD_TARGET      not an origin-form or absolute-form URI (400)
 *   PROTO_E_HTTP_METHOD          any method but GET, HEAD, POST, PUT, DELETE,
 *                                known to HTTP or not (501)
 *   PROTO_E_HTTP_VERSION         HTTP/0.x, HTTP/2 and up (505)
 *   PROTO_E_HTTP_NO_HOST         HTTP/1.1 without Host (400)
 *   PROTO_E_HTTP_BAD_HOST        two Host headers (400)
 *   PROTO_E_HTTP_FRAMING         Content-Length not digits, repeated, or with
 *                                Transfer-Encoding; chunked not the final
 *                                coding (400)
 *   PROTO_E_HTTP_CODING          a coding other than chunked before it (501)
 *   PROTO_E_HTTP_BAD_CHUNK       malformed chunk size line or chunk end (400)
 *   PROTO_E_HTTP_BODY_TOO_LARGE  Content-Length, a chunk size, or the decoded
 *                                body beyond max_body; raw bytes after the head
 *                                (chunk framing, extensions, trailers) beyond
 *                                2 * max_body + max_head (413)
 *   PROTO_E_HTTP_EXPECTATION     an HTTP/1.1 Expect other than 100-continue (417)
 *   PROTO_E_HTTP_NOMEM           the body buffer could not grow (503)
 * After a rejection every further feed returns it again, and request()
 * still shows whatever was parsed (NULL if the request line was not). */
int proto_http_parser_feed(proto_http_parser *p, const uint8_t *buf, size_t len, size_t *consumed);

/* The request being parsed: valid after PROTO_HTTP_HEADERS or _REQUEST (and,
 * partially, after a rejection), NULL before the request line is complete. */
const proto_http_request *proto_http_parser_request(const proto_http_parser *p);

/* After PROTO_HTTP_REQUEST: forget the request (and its strings and body;
 * the body buffer is freed) and parse the next one. Any other time: start
 * over, also after a rejection. */
void proto_http_parser_next(proto_http_parser *p);

/* The peer closed: PROTO_OK if between requests (nothing of the next one
 * received but blank lines), else PROTO_E_TRUNCATED (a request cut off). */
int proto_http_parser_eof(const proto_http_parser *p);

/* The response status for a rejection (400, 413, 414, 417, 431, 501, 503,
 * 505); 500 for anything else. */
int proto_http_status_for(int err);

/* The reason phrase ("Not Found"); "Unknown" for codes HTTP does not name. */
const char *proto_http_reason(int status);

/* ---- responses --------------------------------------------------------------
 * A response head is built in the caller's buffer:
 *
 *     proto_http_out o;
 *     proto_http_out_init(&o, buf, sizeof(buf));
 *     proto_http_status_line(&o, 201);
 *     proto_http_header_str(&o, "Location", "/eSCL/ScanJobs/1");
 *     proto_http_header_u64(&o, "Content-Length", 0);
 *     int n = proto_http_head_end(&o);   // bytes, or a negative proto_err
 *
 * Errors are sticky: each call after the first failure does nothing and
 * head_end returns the first error (PROTO_E_NOSPACE when the buffer is too
 * small, PROTO_E_BAD_FIELD for a status outside 100..599, a header name
 * that is not an RFC 9110 token, or a value with CR, LF, NUL or other
 * control characters besides tab). The head is not NUL-terminated. */
typedef struct proto_http_out {
    char *buf;
    size_t cap;
    size_t len;
    int err;
} proto_http_out;

void proto_http_out_init(proto_http_out *o, char *buf, size_t cap);
void proto_http_status_line(proto_http_out *o, int status); /* "HTTP/1.1 201 Created" */
void proto_http_header_str(proto_http_out *o, const char *name, const char *value);
void proto_http_header_u64(proto_http_out *o, const char *name, uint64_t value);
int proto_http_head_end(proto_http_out *o); /* the blank line; returns o->len or the error */

/* Chunked body framing. A chunk is chunk_begin(n) + the n data bytes +
 * chunk_end; the body ends with chunk_last ("0\r\n\r\n", no trailers).
 * Each returns the bytes written or PROTO_E_NOSPACE; chunk_begin refuses
 * n == 0 (PROTO_E_BAD_FIELD): that is the last chunk. */
#define PROTO_HTTP_CHUNK_BEGIN_MAX 18u /* 16 hex digits + CRLF */
int proto_http_chunk_begin(uint64_t n, char *buf, size_t cap);
int proto_http_chunk_end(char *buf, size_t cap);
int proto_http_chunk_last(char *buf, size_t cap);

#endif
