/* HTTP/1.1 for eSCL: for the front, an incremental request parser over a
 * byte stream (Debian's libhttp-parser underneath) and response writers into
 * caller buffers; for the driver's client, a response parser (at the end).
 * No sockets: the carrier feeds whatever bytes arrived, in pieces of any
 * size, and sends what the writers produce.
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

/* ---- responses in (the client side) -----------------------------------------
 * An incremental response parser for a client that reads a connection's
 * bytes in pieces of any size and wants the body as it arrives, without
 * buffering it: each body piece is handed back as a pointer into the bytes
 * just fed. One response at a time; reset() before the next one on a
 * kept-alive connection.
 *
 * Written by hand rather than on libhttp-parser (which the request parser
 * uses): the body is pulled one slice per feed call, and libhttp-parser's
 * callback model can only do that by pausing inside on_body, whose resume
 * semantics differ between its body states.
 *
 * Framing (RFC 9112 section 6.3, for a response to a request other than
 * HEAD): 1xx interim responses (other than 101) are skipped; 204 and 304
 * have no body; Transfer-Encoding whose last coding is chunked is decoded
 * (extensions and trailers bounded, then dropped); Content-Length gives the
 * length; otherwise the body runs until the connection closes
 * (close_delimited), which the caller reports with proto_http_resp_eof.
 * Lines may end in CRLF or a bare LF. */

#define PROTO_HTTP_MAX_RESP_HEAD  (64u * 1024u) /* status line + headers + blank line */
#define PROTO_HTTP_MAX_CHUNK_LINE 1024u         /* chunk-size line with extensions */
#define PROTO_HTTP_REASON_SIZE    64u           /* reason phrase kept, with NUL (cut) */

typedef struct proto_http_resp_limits {
    size_t max_head;    /* 0 = 16 KiB; at most PROTO_HTTP_MAX_RESP_HEAD (also bounds trailers) */
    size_t max_headers; /* 0 = PROTO_HTTP_MAX_HEADERS, at most that */
    uint64_t max_body;  /* decoded body bytes; 0 = no limit */
    proto_http_alloc alloc;
} proto_http_resp_limits;

/* A parsed response head. Strings are NUL-terminated and live in the
 * parser: valid until reset() or free(). */
typedef struct proto_http_response {
    int status;             /* 100..999 */
    unsigned version_minor; /* HTTP/1.<minor> */
    const char *reason;     /* as received, cut to PROTO_HTTP_REASON_SIZE - 1 bytes */
    size_t n_headers;
    const proto_http_header *headers;
    const char *content_type; /* first of each, NULL if absent */
    const char *location;
    const char *retry_after;
    bool has_length;
    uint64_t content_length;
    bool chunked;
    bool close_delimited; /* the body ends when the connection does */
    bool keep_alive;      /* the connection may carry another request afterwards */
} proto_http_response;

typedef struct proto_http_resp_parser proto_http_resp_parser;

/* PROTO_OK, PROTO_E_BAD_FIELD (limits above the hard ones) or
 * PROTO_E_HTTP_NOMEM (*out NULL). The parser is the only allocation. */
int proto_http_resp_parser_new(const proto_http_resp_limits *limits, proto_http_resp_parser **out);
void proto_http_resp_parser_free(proto_http_resp_parser *p);
/* Forget the response and expect the next one. */
void proto_http_resp_parser_reset(proto_http_resp_parser *p);

/* feed's non-negative results. */
enum proto_http_resp_result {
    PROTO_HTTP_RESP_MORE = 0, /* all consumed, nothing to report: feed more */
    PROTO_HTTP_RESP_HEAD = 1, /* the head is complete: proto_http_resp_head() */
    PROTO_HTTP_RESP_BODY = 2, /* body bytes in *data (data_len of them), inside buf */
    PROTO_HTTP_RESP_DONE = 3, /* the response is complete; bytes after it are not consumed */
};

/* Feed bytes; *consumed (always set) says how many were used, the rest
 * must be fed again. Reports one event per call: HEAD once, then BODY
 * pieces (never empty), then DONE; after DONE every call returns DONE
 * without consuming. An event may be due with no byte left (DONE right
 * after a bodyless head or the last body byte): after any event, call
 * again (len 0 is fine) until MORE. Rejections (sticky, like the request parser's):
 *   PROTO_E_HTTP_RESPONSE         bad status line, header syntax (obs-fold,
 *                                 a name that is no token, control
 *                                 characters, bare CR), HTTP/0.x or 2+, 101
 *   PROTO_E_HTTP_HEAD_TOO_LARGE   the head or the trailers beyond max_head
 *   PROTO_E_HTTP_TOO_MANY_HEADERS more than max_headers fields
 *   PROTO_E_HTTP_FRAMING          Content-Length not digits, or two
 *                                 different ones, or with Transfer-Encoding;
 *                                 chunked not the last coding, or twice
 *   PROTO_E_HTTP_CODING           a coding other than chunked (gzip...)
 *   PROTO_E_HTTP_BAD_CHUNK        malformed chunk-size line (or longer than
 *                                 PROTO_HTTP_MAX_CHUNK_LINE), chunk size
 *                                 beyond 2^63, no CRLF after chunk data
 *   PROTO_E_HTTP_BODY_TOO_LARGE   Content-Length, or the body so far,
 *                                 beyond max_body */
int proto_http_resp_feed(proto_http_resp_parser *p, const uint8_t *buf, size_t len,
                         size_t *consumed, const uint8_t **data, size_t *data_len);

/* The connection closed: PROTO_HTTP_RESP_DONE when that ends a
 * close-delimited body (or the response was already complete), else
 * PROTO_E_TRUNCATED (a head, a body of known length or a chunked body cut
 * off; also when nothing of the response arrived: see
 * proto_http_resp_started). */
int proto_http_resp_eof(proto_http_resp_parser *p);

/* The head, once feed returned PROTO_HTTP_RESP_HEAD (NULL before). */
const proto_http_response *proto_http_resp_head(const proto_http_resp_parser *p);
/* Whether any byte of the response (or an interim one) was fed. */
bool proto_http_resp_started(const proto_http_resp_parser *p);
/* Body bytes delivered so far. */
uint64_t proto_http_resp_body_bytes(const proto_http_resp_parser *p);
/* Bytes the response certainly still has, as far as the framing tells: the
 * rest of a Content-Length body, or of a chunk's data plus its CRLF; 0 when
 * it does not say (the head, a chunk-size line, trailers, a close-delimited
 * body). A reader of a pipe without message boundaries can ask for exactly
 * that much. */
uint64_t proto_http_resp_known_left(const proto_http_resp_parser *p);
/* The first header named name (case-insensitive), NULL if none or before
 * the head is complete. */
const char *proto_http_resp_header(const proto_http_resp_parser *p, const char *name);

#endif
