/* Incremental HTTP/1.1 request parser: libhttp-parser does the syntax and
 * the chunked decoding; this file adds the limits, copies the head into
 * the parser's own fixed buffer (so nothing points into the caller's
 * bytes), buffers the body, and stops at each request's end (by pausing
 * libhttp-parser in on_message_complete) so that pipelined requests stay
 * separate.
 *
 * Debian builds libhttp-parser with HTTP_PARSER_STRICT=0, which accepts
 * any letters for "HTTP/", runs of spaces in the request line and spaces
 * in header names. This file checks those itself: the request line must
 * be exactly method SP target SP "HTTP/" DIGIT "." DIGIT, and header names
 * RFC 9110 tokens. (Also lax there: the two bytes after a chunk's data are
 * taken for its CRLF unchecked; the decoded body is still bounded, and an
 * eSCL body must then still parse as XML.)
 *
 * Same answer however the bytes arrive: libhttp-parser hands data to the
 * callbacks in pieces that depend on the feed sizes, so the head's own
 * checks (method, target length, header names and count) only note the
 * first problem, and on_headers_complete raises it; libhttp-parser's own
 * syntax errors, found byte by byte, stay in stream order with them.
 *
 * Limits: the head is counted in raw bytes fed, and libhttp-parser is never
 * given more of the head than the remaining allowance, so an over-long head
 * is refused after at most max_head bytes whatever the piece sizes.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "protocol/http.h"

enum phase {
    PH_IDLE,     /* before the first byte of the request line */
    PH_HEAD,     /* in the request line or headers */
    PH_BODY,     /* headers complete, body (if any) arriving */
    PH_TRAILERS, /* after the last chunk */
    PH_DONE,     /* message complete: next() */
};

enum last_cb { CB_NONE, CB_URL, CB_FIELD, CB_VALUE };

/* Head storage: every stored string is shorter than the raw bytes it came
 * from plus its NUL, so max_head bytes hold them; the split path and query
 * are copied after them. */
#define HEAD_SLACK 64u
#define HEAD_STORE (PROTO_HTTP_MAX_HEAD + PROTO_HTTP_MAX_TARGET + 2u * HEAD_SLACK)

struct proto_http_parser {
    http_parser hp;
    size_t max_head, max_headers, max_body;
    proto_http_alloc alloc;

    enum phase phase;
    int err;          /* sticky rejection */
    int deferred;     /* a rejection found in the head, raised when it ends */
    bool skip_header; /* past max_headers: the current header is not kept */
    bool req_ready;   /* req is filled in (head complete, or partially after an error) */
    size_t head_seen; /* raw head bytes fed */
    size_t body_seen; /* raw bytes fed after the head (chunk framing included) */
    enum last_cb last;
    size_t target_off, target_len;
    size_t field_off, value_off;
    size_t n_headers;

    uint8_t *body;
    size_t body_len, body_cap;

    proto_http_request req;
    proto_http_header headers[PROTO_HTTP_MAX_HEADERS];
    size_t head_len;
    char head[HEAD_STORE];

    /* The raw request line, for the checks libhttp-parser leaves out. */
    bool line_done;
    size_t line_len;
    char line[PROTO_HTTP_MAX_TARGET + 32];
};

/* ---- allocation ------------------------------------------------------------ */

static void *p_realloc(const proto_http_alloc *a, void *ptr, size_t n)
{
    return a->realloc_fn != NULL ? a->realloc_fn(a->ctx, ptr, n) : realloc(ptr, n);
}

static void p_free(const proto_http_alloc *a, void *ptr)
{
    if (a->free_fn != NULL)
        a->free_fn(a->ctx, ptr);
    else
        free(ptr);
}

/* ---- head storage ---------------------------------------------------------- */

static int fail(proto_http_parser *p, int err)
{
    if (p->err == PROTO_OK)
        p->err = err;
    return -1; /* non-zero: libhttp-parser stops with HPE_CB_* */
}

/* Append head bytes. The room left for the head strings is more than the
 * raw head allowance (each NUL added replaces at least one separator byte),
 * so this refuses only what the raw count would; the rest of the buffer
 * stays free for split_target's copies. */
/* Note a rejection of the head, raised at its end (see the top). */
static void defer(proto_http_parser *p, int err)
{
    if (p->deferred == PROTO_OK)
        p->deferred = err;
}

static int store(proto_http_parser *p, const char *at, size_t n)
{
    const size_t strings = PROTO_HTTP_MAX_HEAD + HEAD_SLACK;
    size_t room = p->head_len < strings ? strings - p->head_len : 0;

    if (n > room)
        return fail(p, PROTO_E_HTTP_HEAD_TOO_LARGE);
    memcpy(p->head + p->head_len, at, n);
    p->head_len += n;
    return 0;
}

static void terminate(proto_http_parser *p)
{
    p->head[p->head_len++] = '\0'; /* store() keeps room for these */
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 tchar. */
static int is_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* End the current header line: check its name, trim its value, record it. */
static void finish_header(proto_http_parser *p)
{
    const char *name = p->head + p->field_off;
    char *value;
    size_t n;

    if (p->skip_header) {
        p->skip_header = false;
        return;
    }
    if (p->last == CB_FIELD) { /* a field with an empty value */
        terminate(p);
        p->value_off = p->head_len;
    }
    if (*name == '\0')
        defer(p, PROTO_E_HTTP_SYNTAX);
    for (const char *c = name; *c; c++)
        if (!is_tchar((unsigned char)*c))
            defer(p, PROTO_E_HTTP_SYNTAX);
    value = p->head + p->value_off;
    n = p->head_len - p->value_off;
    while (n > 0 && is_blank(value[n - 1]))
        n--;
    p->head_len = p->value_off + n;
    terminate(p);
    while (is_blank(*value))
        value++;
    p->headers[p->n_headers].name = name;
    p->headers[p->n_headers].value = value;
    p->n_headers++;
}

/* method SP request-target SP "HTTP/" DIGIT "." DIGIT, then CRLF or LF. */
static int valid_request_line(const proto_http_parser *p)
{
    const char *l = p->line, *end = p->line + p->line_len, *sp;

    if (!p->line_done)
        return 1; /* longer than line[]: the target limit has refused it */
    if (end > l && end[-1] == '\n')
        end--;
    if (end > l && end[-1] == '\r')
        end--;
    sp = memchr(l, ' ', (size_t)(end - l));
    if (sp == NULL || sp == l)
        return 0;
    for (const char *c = l; c < sp; c++)
        if (!is_tchar((unsigned char)*c))
            return 0;
    l = sp + 1;
    sp = memchr(l, ' ', (size_t)(end - l));
    if (sp == NULL || sp == l)
        return 0;
    l = sp + 1;
    return end - l == 8 && memcmp(l, "HTTP/", 5) == 0 && l[5] >= '0' && l[5] <= '9' &&
           l[6] == '.' && l[7] >= '0' && l[7] <= '9';
}

/* Copy the request line's raw bytes from what is about to be fed (the head
 * phase consumes all it is given, so nothing is copied twice). */
static void capture_line(proto_http_parser *p, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len && !p->line_done; i++) {
        if (p->line_len == 0 && (buf[i] == '\r' || buf[i] == '\n'))
            continue; /* blank lines before a request are skipped */
        if (p->line_len < sizeof(p->line))
            p->line[p->line_len++] = (char)buf[i];
        else
            return; /* too long to check here */
        if (buf[i] == '\n')
            p->line_done = true;
    }
}

/* ---- libhttp-parser callbacks ---------------------------------------------- */

static proto_http_parser *of(http_parser *hp)
{
    return hp->data;
}

static int on_message_begin(http_parser *hp)
{
    of(hp)->phase = PH_HEAD;
    return 0;
}

static int allowed_method(unsigned m)
{
    return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_POST || m == HTTP_PUT || m == HTTP_DELETE;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
    proto_http_parser *p = of(hp);

    if (p->last == CB_NONE) {
        if (!allowed_method(hp->method))
            defer(p, PROTO_E_HTTP_METHOD);
        p->target_off = p->head_len;
        p->last = CB_URL;
    }
    if (n > PROTO_HTTP_MAX_TARGET - p->target_len) {
        defer(p, PROTO_E_HTTP_URI_TOO_LONG);
        p->target_len = PROTO_HTTP_MAX_TARGET; /* keep what fits, drop the rest */
        return 0;
    }
    p->target_len += n;
    return store(p, at, n);
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
    proto_http_parser *p = of(hp);

    if (p->phase == PH_TRAILERS)
        return 0; /* trailers are dropped; the raw body cap bounds them */
    if (p->last != CB_FIELD) {
        if (p->last == CB_URL)
            terminate(p);
        else if (p->last == CB_VALUE)
            finish_header(p);
        p->last = CB_FIELD;
        if (p->n_headers >= p->max_headers) {
            defer(p, PROTO_E_HTTP_TOO_MANY_HEADERS);
            p->skip_header = true;
        }
        p->field_off = p->head_len;
    }
    return p->skip_header ? 0 : store(p, at, n);
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
    proto_http_parser *p = of(hp);

    if (p->phase == PH_TRAILERS)
        return 0;
    if (p->last != CB_VALUE) {
        if (!p->skip_header)
            terminate(p);
        p->value_off = p->head_len;
        p->last = CB_VALUE;
    }
    return p->skip_header ? 0 : store(p, at, n);
}

static const char *find_header(const proto_http_parser *p, const char *name, size_t *count)
{
    const char *v = NULL;

    *count = 0;
    for (size_t i = 0; i < p->n_headers; i++)
        if (strcasecmp(p->headers[i].name, name) == 0) {
            if (v == NULL)
                v = p->headers[i].value;
            (*count)++;
        }
    return v;
}

/* Transfer-Encoding, all its lines in order: PROTO_OK when the codings are
 * exactly "chunked" (what libhttp-parser then decodes). */
static int check_codings(const proto_http_parser *p)
{
    int present = 0, seen_chunked = 0, other = 0, last_chunked = 0;

    for (size_t i = 0; i < p->n_headers; i++) {
        const char *s;
        if (strcasecmp(p->headers[i].name, "Transfer-Encoding") != 0)
            continue;
        present = 1;
        s = p->headers[i].value;
        for (;;) {
            size_t n;
            while (is_blank(*s) || *s == ',')
                s++;
            if (*s == '\0')
                break;
            n = strcspn(s, ",");
            while (n > 0 && is_blank(s[n - 1]))
                n--;
            last_chunked = n == 7 && strncasecmp(s, "chunked", 7) == 0;
            if (last_chunked) {
                if (seen_chunked)
                    return PROTO_E_HTTP_FRAMING; /* chunked twice */
                seen_chunked = 1;
            } else {
                other = 1;
            }
            s += strcspn(s, ",");
        }
    }
    if (present && !last_chunked)
        return PROTO_E_HTTP_FRAMING; /* length undeterminable (RFC 9112 6.3) */
    if (other)
        return PROTO_E_HTTP_CODING;
    if (seen_chunked && !last_chunked)
        return PROTO_E_HTTP_FRAMING;
    return PROTO_OK;
}

/* Split the target into path and query (copied after the head strings). */
static int split_target(proto_http_parser *p)
{
    struct http_parser_url u;
    const char *t = p->head + p->target_off;
    char *path, *query = NULL;

    http_parser_url_init(&u);
    if (p->target_len == 0 || http_parser_parse_url(t, p->target_len, 0, &u) != 0)
        return PROTO_E_HTTP_BAD_TARGET;
    if (t[0] != '/' && !(u.field_set & (1u << UF_HOST)))
        return PROTO_E_HTTP_BAD_TARGET;
    path = p->head + p->head_len;
    if (u.field_set & (1u << UF_PATH)) {
        memcpy(path, t + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
        p->head_len += u.field_data[UF_PATH].len;
    } else {
        p->head[p->head_len++] = '/';
    }
    terminate(p);
    if (u.field_set & (1u << UF_QUERY)) {
        query = p->head + p->head_len;
        memcpy(query, t + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
        p->head_len += u.field_data[UF_QUERY].len;
        terminate(p);
    } else {
        /* libhttp-parser reports no query for a bare '?': an empty one. */
        const char *q = memchr(t, '?', p->target_len);
        const char *h = memchr(t, '#', p->target_len);
        if (q != NULL && (h == NULL || q < h)) {
            query = p->head + p->head_len;
            terminate(p);
        }
    }
    p->req.path = path;
    p->req.query = query;
    return PROTO_OK;
}

static int on_headers_complete(http_parser *hp)
{
    proto_http_parser *p = of(hp);
    proto_http_request *r = &p->req;
    size_t hosts, n;
    const char *expect;
    bool has_body;
    int rc;

    if (p->last == CB_URL)
        terminate(p);
    else if (p->last == CB_FIELD || p->last == CB_VALUE)
        finish_header(p);
    p->last = CB_NONE;

    r->method = (enum proto_http_method)0;
    switch (hp->method) {
    case HTTP_GET:
        r->method = PROTO_HTTP_GET;
        break;
    case HTTP_HEAD:
        r->method = PROTO_HTTP_HEAD;
        break;
    case HTTP_POST:
        r->method = PROTO_HTTP_POST;
        break;
    case HTTP_PUT:
        r->method = PROTO_HTTP_PUT;
        break;
    case HTTP_DELETE:
        r->method = PROTO_HTTP_DELETE;
        break;
    default:
        return fail(p, PROTO_E_HTTP_METHOD);
    }
    r->method_name = http_method_str((enum http_method)hp->method);
    r->target = p->head + p->target_off;
    r->version_minor = hp->http_minor > 1 ? 1u : hp->http_minor;
    r->headers = p->headers;
    r->n_headers = p->n_headers;
    r->host = find_header(p, "Host", &hosts);
    r->content_type = find_header(p, "Content-Type", &n);
    r->has_length = (hp->flags & F_CONTENTLENGTH) != 0;
    r->content_length = r->has_length ? hp->content_length : 0;
    r->chunked = (hp->flags & F_CHUNKED) != 0;
    r->keep_alive = http_should_keep_alive(hp) != 0;
    p->req_ready = true;

    if (p->deferred != PROTO_OK)
        return fail(p, p->deferred);
    if (hp->http_major != 1)
        return fail(p, PROTO_E_HTTP_VERSION);
    if (!valid_request_line(p))
        return fail(p, PROTO_E_HTTP_SYNTAX);
    rc = split_target(p);
    if (rc != PROTO_OK)
        return fail(p, rc);
    if (hosts > 1)
        return fail(p, PROTO_E_HTTP_BAD_HOST);
    if (hosts == 0 && r->version_minor >= 1)
        return fail(p, PROTO_E_HTTP_NO_HOST);
    rc = check_codings(p);
    if (rc != PROTO_OK)
        return fail(p, rc);
    if (r->has_length && r->content_length > p->max_body)
        return fail(p, PROTO_E_HTTP_BODY_TOO_LARGE);
    has_body = r->chunked || (r->has_length && r->content_length > 0);
    expect = find_header(p, "Expect", &n);
    if (expect != NULL && r->version_minor >= 1) {
        if (n > 1 || strcasecmp(expect, "100-continue") != 0)
            return fail(p, PROTO_E_HTTP_EXPECTATION);
        r->expect_continue = has_body;
    }

    p->phase = PH_BODY;
    if (has_body)
        http_parser_pause(hp, 1); /* PROTO_HTTP_HEADERS: the caller may answer 100 */
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    proto_http_parser *p = of(hp);

    if (n > p->max_body - p->body_len)
        return fail(p, PROTO_E_HTTP_BODY_TOO_LARGE);
    if (n > p->body_cap - p->body_len) {
        size_t want = p->body_len + n, cap;
        uint8_t *nb;
        if (p->req.has_length) {
            cap = (size_t)p->req.content_length; /* <= max_body, checked */
        } else {
            cap = p->body_cap < 4096u ? 4096u : p->body_cap;
            while (cap < want)
                cap *= 2;
            if (cap > p->max_body)
                cap = p->max_body;
        }
        if (cap < want)
            cap = want;
        nb = p_realloc(&p->alloc, p->body, cap);
        if (nb == NULL)
            return fail(p, PROTO_E_HTTP_NOMEM);
        p->body = nb;
        p->body_cap = cap;
    }
    memcpy(p->body + p->body_len, at, n);
    p->body_len += n;
    p->req.body = p->body;
    p->req.body_len = p->body_len;
    return 0;
}

static int on_chunk_header(http_parser *hp)
{
    proto_http_parser *p = of(hp);

    if (hp->content_length > p->max_body - p->body_len)
        return fail(p, PROTO_E_HTTP_BODY_TOO_LARGE);
    if (hp->content_length == 0)
        p->phase = PH_TRAILERS;
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    proto_http_parser *p = of(hp);

    p->phase = PH_DONE;
    http_parser_pause(hp, 1); /* the next request's bytes stay the caller's */
    return 0;
}

static const http_parser_settings callbacks = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

/* ---- public ---------------------------------------------------------------- */

static void reset(proto_http_parser *p)
{
    p_free(&p->alloc, p->body);
    p->body = NULL;
    p->body_len = p->body_cap = 0;
    p->phase = PH_IDLE;
    p->err = PROTO_OK;
    p->req_ready = false;
    p->head_seen = p->body_seen = 0;
    p->deferred = PROTO_OK;
    p->skip_header = false;
    p->last = CB_NONE;
    p->target_off = p->target_len = p->field_off = p->value_off = 0;
    p->n_headers = 0;
    p->head_len = 0;
    p->line_done = false;
    p->line_len = 0;
    memset(&p->req, 0, sizeof(p->req));
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
}

static size_t limit(size_t want, size_t hard)
{
    return want == 0 ? hard : want;
}

int proto_http_parser_new(const proto_http_limits *limits, proto_http_parser **out)
{
    static const proto_http_limits defaults;
    const proto_http_limits *l = limits != NULL ? limits : &defaults;
    proto_http_parser *p;

    *out = NULL;
    if (l->max_head > PROTO_HTTP_MAX_HEAD || l->max_headers > PROTO_HTTP_MAX_HEADERS ||
        l->max_body > PROTO_HTTP_MAX_BODY)
        return PROTO_E_BAD_FIELD;
    p = p_realloc(&l->alloc, NULL, sizeof(*p));
    if (p == NULL)
        return PROTO_E_HTTP_NOMEM;
    memset(p, 0, sizeof(*p));
    p->alloc = l->alloc;
    p->max_head = limit(l->max_head, PROTO_HTTP_MAX_HEAD);
    p->max_headers = limit(l->max_headers, PROTO_HTTP_MAX_HEADERS);
    p->max_body = limit(l->max_body, PROTO_HTTP_MAX_BODY);
    reset(p);
    *out = p;
    return PROTO_OK;
}

void proto_http_parser_free(proto_http_parser *p)
{
    proto_http_alloc a;

    if (p == NULL)
        return;
    a = p->alloc;
    p_free(&a, p->body);
    p_free(&a, p);
}

void proto_http_parser_next(proto_http_parser *p)
{
    reset(p);
}

const proto_http_request *proto_http_parser_request(const proto_http_parser *p)
{
    return p->req_ready ? &p->req : NULL;
}

int proto_http_parser_eof(const proto_http_parser *p)
{
    if (p->err == PROTO_OK && (p->phase == PH_IDLE || p->phase == PH_DONE))
        return PROTO_OK;
    return PROTO_E_TRUNCATED;
}

/* A libhttp-parser error that no callback of ours caused. */
static int map_errno(const proto_http_parser *p, enum http_errno e)
{
    bool in_body = p->phase == PH_BODY || p->phase == PH_TRAILERS;

    switch (e) {
    case HPE_HEADER_OVERFLOW:
        return PROTO_E_HTTP_HEAD_TOO_LARGE;
    case HPE_INVALID_METHOD:
        return PROTO_E_HTTP_METHOD;
    case HPE_INVALID_URL:
    case HPE_INVALID_HOST:
    case HPE_INVALID_PORT:
    case HPE_INVALID_PATH:
    case HPE_INVALID_QUERY_STRING:
    case HPE_INVALID_FRAGMENT:
        return PROTO_E_HTTP_BAD_TARGET;
    case HPE_INVALID_TRANSFER_ENCODING:
        return PROTO_E_HTTP_FRAMING;
    case HPE_INVALID_CONTENT_LENGTH: /* in a chunk size: it overflowed */
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return in_body ? PROTO_E_HTTP_BAD_CHUNK : PROTO_E_HTTP_FRAMING;
    default:
        return in_body && p->req.chunked ? PROTO_E_HTTP_BAD_CHUNK : PROTO_E_HTTP_SYNTAX;
    }
}

/* Chunk framing (sizes, extensions, trailers) is not buffered but is
 * bounded too: the raw bytes after the head may be twice the body cap plus
 * a head's worth. */
static size_t raw_body_cap(const proto_http_parser *p)
{
    return 2 * p->max_body + p->max_head;
}

int proto_http_parser_feed(proto_http_parser *p, const uint8_t *buf, size_t len, size_t *consumed)
{
    size_t window = len, n;
    bool in_head = p->phase == PH_IDLE || p->phase == PH_HEAD;
    enum http_errno e;

    *consumed = 0;
    if (p->err != PROTO_OK)
        return p->err;
    if (p->phase == PH_DONE)
        return PROTO_HTTP_REQUEST;
    if (len == 0)
        return PROTO_HTTP_MORE;
    if (in_head) {
        if (p->head_seen >= p->max_head) {
            p->err = PROTO_E_HTTP_HEAD_TOO_LARGE;
            return p->err;
        }
        if (window > p->max_head - p->head_seen)
            window = p->max_head - p->head_seen;
    }
    if (!in_head) {
        if (p->body_seen >= raw_body_cap(p)) {
            p->err = PROTO_E_HTTP_BODY_TOO_LARGE;
            return p->err;
        }
        if (window > raw_body_cap(p) - p->body_seen)
            window = raw_body_cap(p) - p->body_seen;
    }
    if (in_head)
        capture_line(p, buf, window);
    if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED)
        http_parser_pause(&p->hp, 0);
    n = http_parser_execute(&p->hp, &callbacks, (const char *)buf, window);
    e = HTTP_PARSER_ERRNO(&p->hp);
    *consumed = n;
    if (in_head && (p->phase == PH_IDLE || p->phase == PH_HEAD))
        p->head_seen += n;
    else if (!in_head)
        p->body_seen += n;
    if (p->err != PROTO_OK)
        return p->err;
    if (e == HPE_PAUSED)
        return p->phase == PH_DONE ? PROTO_HTTP_REQUEST : PROTO_HTTP_HEADERS;
    if (e != HPE_OK) {
        p->err = map_errno(p, e);
        /* The byte libhttp-parser stopped at decides between a method
         * token it does not know (501) and bytes that are no method at all
         * (400): the same answer however the bytes were split. */
        if (e == HPE_INVALID_METHOD && n < window && !is_tchar(buf[n]))
            p->err = PROTO_E_HTTP_SYNTAX;
        return p->err;
    }
    if ((p->phase == PH_IDLE || p->phase == PH_HEAD) && p->head_seen >= p->max_head) {
        p->err = PROTO_E_HTTP_HEAD_TOO_LARGE;
        return p->err;
    }
    if (!in_head && p->body_seen >= raw_body_cap(p)) {
        p->err = PROTO_E_HTTP_BODY_TOO_LARGE;
        return p->err;
    }
    return PROTO_HTTP_MORE;
}
