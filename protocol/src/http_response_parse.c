/* Incremental HTTP/1.1 response parser for the driver's eSCL client
 * (http.h, "responses in"). A state machine over the bytes fed: the head is
 * copied into the parser's own fixed buffer (bounded by max_head) and
 * parsed in place once its blank line arrived; the body is never copied,
 * each feed hands back at most one slice of the caller's bytes. Chunk-size
 * lines and trailers are bounded too, so a peer can make the parser hold
 * at most max_head + PROTO_HTTP_MAX_CHUNK_LINE bytes whatever it sends.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/http.h"

#define DEFAULT_MAX_HEAD (16u * 1024u)
#define MAX_CHUNK_SIZE   ((uint64_t)1 << 62)

enum rstate {
    R_HEAD,       /* status line and headers arriving */
    R_BODY_LEN,   /* Content-Length body: remaining bytes left */
    R_BODY_EOF,   /* close-delimited body */
    R_CHUNK_LINE, /* chunk-size line arriving in line[] */
    R_CHUNK_DATA, /* chunk data: remaining bytes left */
    R_CHUNK_END,  /* the CRLF after chunk data */
    R_TRAILERS,   /* trailer lines after the last chunk */
    R_DONE,
};

struct proto_http_resp_parser {
    size_t max_head, max_headers;
    uint64_t max_body;
    proto_http_alloc alloc;

    enum rstate state;
    int err;         /* sticky rejection */
    bool started;    /* a byte arrived */
    bool head_ready; /* resp is valid */
    size_t head_len; /* bytes in head[] */
    size_t cur_line; /* bytes of the current line so far (head, trailers) */
    uint64_t remaining;
    uint64_t body_bytes;
    size_t trailer_len;
    bool chunk_cr; /* R_CHUNK_END: the CR came */
    size_t line_len;
    char line[PROTO_HTTP_MAX_CHUNK_LINE + 1];

    proto_http_response resp;
    proto_http_header headers[PROTO_HTTP_MAX_HEADERS];
    char reason[PROTO_HTTP_REASON_SIZE];
    char head[PROTO_HTTP_MAX_RESP_HEAD + 1];
};

/* ---- allocation and set-up --------------------------------------------------- */

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

void proto_http_resp_parser_reset(proto_http_resp_parser *p)
{
    p->state = R_HEAD;
    p->err = PROTO_OK;
    p->started = false;
    p->head_ready = false;
    p->head_len = p->cur_line = 0;
    p->remaining = p->body_bytes = 0;
    p->trailer_len = 0;
    p->chunk_cr = false;
    p->line_len = 0;
    memset(&p->resp, 0, sizeof(p->resp));
    p->reason[0] = '\0';
}

int proto_http_resp_parser_new(const proto_http_resp_limits *limits, proto_http_resp_parser **out)
{
    static const proto_http_resp_limits defaults;
    const proto_http_resp_limits *l = limits != NULL ? limits : &defaults;
    proto_http_resp_parser *p;

    *out = NULL;
    if (l->max_head > PROTO_HTTP_MAX_RESP_HEAD || l->max_headers > PROTO_HTTP_MAX_HEADERS)
        return PROTO_E_BAD_FIELD;
    p = p_realloc(&l->alloc, NULL, sizeof(*p));
    if (p == NULL)
        return PROTO_E_HTTP_NOMEM;
    memset(p, 0, sizeof(*p));
    p->alloc = l->alloc;
    p->max_head = l->max_head != 0 ? l->max_head : DEFAULT_MAX_HEAD;
    p->max_headers = l->max_headers != 0 ? l->max_headers : PROTO_HTTP_MAX_HEADERS;
    p->max_body = l->max_body;
    proto_http_resp_parser_reset(p);
    *out = p;
    return PROTO_OK;
}

void proto_http_resp_parser_free(proto_http_resp_parser *p)
{
    proto_http_alloc a;

    if (p == NULL)
        return;
    a = p->alloc;
    p_free(&a, p);
}

/* ---- the head ------------------------------------------------------------------ */

static int fail(proto_http_resp_parser *p, int err)
{
    if (p->err == PROTO_OK)
        p->err = err;
    return p->err;
}

static int is_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t';
}

/* Field-value characters: HTAB, SP, VCHAR, obs-text. */
static int valid_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Split the next line off *s (terminated by LF, an optional CR before it
 * removed) and NUL-terminate it. NULL at the end of the head. -1 in *bad
 * for a CR anywhere else. */
static char *next_line(char **s, int *bad)
{
    char *line = *s, *nl = strchr(line, '\n');
    size_t n;

    if (nl == NULL)
        return NULL;
    *nl = '\0';
    *s = nl + 1;
    n = (size_t)(nl - line);
    if (n > 0 && line[n - 1] == '\r')
        line[--n] = '\0';
    if (memchr(line, '\r', n) != NULL)
        *bad = 1;
    return line;
}

static int parse_status_line(proto_http_resp_parser *p, const char *l)
{
    int code;

    if (strncmp(l, "HTTP/", 5) != 0 || l[5] != '1' || l[6] != '.' || l[7] < '0' || l[7] > '9' ||
        l[8] != ' ')
        return -1;
    p->resp.version_minor = (unsigned)(l[7] - '0');
    l += 9;
    if (l[0] < '1' || l[0] > '9' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9')
        return -1;
    code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    l += 3;
    if (*l != '\0' && *l != ' ')
        return -1;
    if (*l == ' ')
        l++;
    for (const char *c = l; *c; c++)
        if (!valid_value_char((unsigned char)*c))
            return -1;
    strncpy(p->reason, l, sizeof(p->reason) - 1);
    p->reason[sizeof(p->reason) - 1] = '\0';
    p->resp.status = code;
    return 0;
}

static const char *find(const proto_http_resp_parser *p, const char *name)
{
    for (size_t i = 0; i < p->resp.n_headers; i++)
        if (strcasecmp(p->headers[i].name, name) == 0)
            return p->headers[i].value;
    return NULL;
}

/* Calls fn for each comma-separated, trimmed, non-empty element of every
 * header named name; stops at fn's first non-zero result and returns it. */
static int each_element(const proto_http_resp_parser *p, const char *name,
                        int (*fn)(void *ctx, const char *s, size_t n), void *ctx)
{
    for (size_t i = 0; i < p->resp.n_headers; i++) {
        const char *s;

        if (strcasecmp(p->headers[i].name, name) != 0)
            continue;
        for (s = p->headers[i].value;;) {
            size_t n;
            int rc;

            while (is_blank(*s) || *s == ',')
                s++;
            if (*s == '\0')
                break;
            n = strcspn(s, ",");
            while (n > 0 && is_blank(s[n - 1]))
                n--;
            rc = fn(ctx, s, n);
            if (rc != 0)
                return rc;
            s += strcspn(s, ",");
        }
    }
    return 0;
}

typedef struct codings {
    int chunked, other, last_chunked;
} codings;

static int on_coding(void *ctx, const char *s, size_t n)
{
    codings *c = ctx;

    c->last_chunked = n == 7 && strncasecmp(s, "chunked", 7) == 0;
    if (c->last_chunked && c->chunked++)
        return PROTO_E_HTTP_FRAMING; /* chunked twice */
    if (!c->last_chunked)
        c->other = 1;
    return 0;
}

typedef struct length {
    int seen;
    uint64_t value;
} length;

static int on_length(void *ctx, const char *s, size_t n)
{
    length *l = ctx;
    uint64_t v = 0;

    if (n == 0)
        return PROTO_E_HTTP_FRAMING;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX >> 4))
            return PROTO_E_HTTP_FRAMING;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (l->seen && v != l->value)
        return PROTO_E_HTTP_FRAMING;
    l->seen = 1;
    l->value = v;
    return 0;
}

static int on_connection(void *ctx, const char *s, size_t n)
{
    int *flags = ctx;

    if (n == 5 && strncasecmp(s, "close", 5) == 0)
        *flags |= 1;
    else if (n == 10 && strncasecmp(s, "keep-alive", 10) == 0)
        *flags |= 2;
    return 0;
}

/* head[] holds a complete head (its blank line included). Parses it in
 * place. Returns PROTO_OK, or 1 for an interim response to skip. */
static int parse_head(proto_http_resp_parser *p)
{
    proto_http_response *r = &p->resp;
    char *s = p->head, *line;
    int bad = 0, rc, conn = 0;
    codings cod = {0};
    length len = {0};

    p->head[p->head_len] = '\0';
    if (memchr(p->head, '\0', p->head_len) != NULL)
        return PROTO_E_HTTP_RESPONSE;
    memset(r, 0, sizeof(*r));
    line = next_line(&s, &bad);
    if (line == NULL || bad || parse_status_line(p, line) != 0)
        return PROTO_E_HTTP_RESPONSE;
    while ((line = next_line(&s, &bad)) != NULL && *line != '\0') {
        char *colon = strchr(line, ':'), *v, *end;

        if (bad || colon == NULL || colon == line || is_blank(line[0]))
            return PROTO_E_HTTP_RESPONSE; /* obs-fold, no name, no colon */
        *colon = '\0';
        for (const char *c = line; *c; c++)
            if (!is_tchar((unsigned char)*c))
                return PROTO_E_HTTP_RESPONSE;
        for (v = colon + 1; is_blank(*v); v++)
            ;
        end = v + strlen(v);
        while (end > v && is_blank(end[-1]))
            *--end = '\0';
        for (const char *c = v; *c; c++)
            if (!valid_value_char((unsigned char)*c))
                return PROTO_E_HTTP_RESPONSE;
        if (r->n_headers >= p->max_headers)
            return PROTO_E_HTTP_TOO_MANY_HEADERS;
        p->headers[r->n_headers].name = line;
        p->headers[r->n_headers].value = v;
        r->n_headers++;
    }
    if (bad)
        return PROTO_E_HTTP_RESPONSE;
    r->headers = p->headers;
    r->reason = p->reason;
    if (r->status >= 100 && r->status < 200)
        return r->status == 101 ? PROTO_E_HTTP_RESPONSE : 1;

    r->content_type = find(p, "Content-Type");
    r->location = find(p, "Location");
    r->retry_after = find(p, "Retry-After");
    each_element(p, "Connection", on_connection, &conn);
    rc = each_element(p, "Transfer-Encoding", on_coding, &cod);
    if (rc != 0)
        return rc;
    rc = each_element(p, "Content-Length", on_length, &len);
    if (rc != 0)
        return rc;
    if (find(p, "Content-Length") != NULL && !len.seen)
        return PROTO_E_HTTP_FRAMING; /* an empty Content-Length */
    if (cod.chunked || cod.other) {
        if (len.seen)
            return PROTO_E_HTTP_FRAMING;
        if (!cod.last_chunked)
            return cod.other && !cod.chunked ? PROTO_E_HTTP_CODING : PROTO_E_HTTP_FRAMING;
        if (cod.other)
            return PROTO_E_HTTP_CODING;
    }
    if (r->status == 204 || r->status == 304) {
        p->state = R_DONE;
    } else if (cod.chunked) {
        r->chunked = true;
        p->state = R_CHUNK_LINE;
    } else if (len.seen) {
        if (p->max_body != 0 && len.value > p->max_body)
            return PROTO_E_HTTP_BODY_TOO_LARGE;
        r->has_length = true;
        r->content_length = len.value;
        p->remaining = len.value;
        p->state = len.value > 0 ? R_BODY_LEN : R_DONE;
    } else {
        r->close_delimited = true;
        p->state = R_BODY_EOF;
    }
    r->keep_alive =
        !r->close_delimited && (r->version_minor >= 1 ? !(conn & 1) : (conn & 2) && !(conn & 1));
    return PROTO_OK;
}

/* ---- chunk framing ------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* line[] holds a chunk-size line without its LF. */
static int parse_chunk_line(proto_http_resp_parser *p)
{
    char *l = p->line;
    size_t n = p->line_len, i = 0;
    uint64_t v = 0;

    if (n > 0 && l[n - 1] == '\r')
        n--;
    for (; i < n && hexval((unsigned char)l[i]) >= 0; i++) {
        v = v * 16 + (uint64_t)hexval((unsigned char)l[i]);
        if (v > MAX_CHUNK_SIZE)
            return PROTO_E_HTTP_BAD_CHUNK;
    }
    if (i == 0)
        return PROTO_E_HTTP_BAD_CHUNK;
    while (i < n && is_blank(l[i]))
        i++;
    if (i < n && l[i] != ';')
        return PROTO_E_HTTP_BAD_CHUNK;
    for (; i < n; i++) /* extensions: ignored, but printable */
        if (!valid_value_char((unsigned char)l[i]))
            return PROTO_E_HTTP_BAD_CHUNK;
    if (v == 0) {
        p->state = R_TRAILERS;
        p->cur_line = 0;
        return PROTO_OK;
    }
    if (p->max_body != 0 && v > p->max_body - p->body_bytes)
        return PROTO_E_HTTP_BODY_TOO_LARGE;
    p->remaining = v;
    p->state = R_CHUNK_DATA;
    return PROTO_OK;
}

/* ---- feeding ------------------------------------------------------------------- */

int proto_http_resp_feed(proto_http_resp_parser *p, const uint8_t *buf, size_t len,
                         size_t *consumed, const uint8_t **data, size_t *data_len)
{
    size_t off = 0;
    int rc;

    *consumed = 0;
    *data = NULL;
    *data_len = 0;
    if (p->err != PROTO_OK)
        return p->err;
    if (len > 0)
        p->started = true;
    while (off < len || p->state == R_DONE) {
        switch (p->state) {
        case R_DONE:
            *consumed = off;
            return PROTO_HTTP_RESP_DONE;

        case R_HEAD: {
            uint8_t c = buf[off++];

            if (p->head_len >= p->max_head)
                return fail(p, PROTO_E_HTTP_HEAD_TOO_LARGE);
            p->head[p->head_len++] = (char)c;
            if (c != '\n') {
                p->cur_line++;
                continue;
            }
            if (p->cur_line > 1 || (p->cur_line == 1 && p->head[p->head_len - 2] != '\r')) {
                p->cur_line = 0;
                continue;
            }
            if (p->head_len <= 2)
                return fail(p, PROTO_E_HTTP_RESPONSE); /* an empty line first */
            rc = parse_head(p);
            if (rc < 0)
                return fail(p, rc);
            p->head_len = p->cur_line = 0;
            if (rc == 1)
                continue; /* 1xx: the real response follows */
            p->head_ready = true;
            *consumed = off;
            return PROTO_HTTP_RESP_HEAD;
        }

        case R_BODY_LEN:
        case R_CHUNK_DATA: {
            size_t n = len - off;

            if (n > p->remaining)
                n = (size_t)p->remaining;
            p->remaining -= n;
            p->body_bytes += n;
            if (p->remaining == 0)
                p->state = p->state == R_BODY_LEN ? R_DONE : R_CHUNK_END;
            *data = buf + off;
            *data_len = n;
            *consumed = off + n;
            return PROTO_HTTP_RESP_BODY;
        }

        case R_BODY_EOF: {
            size_t n = len - off;

            if (p->max_body != 0 && n > p->max_body - p->body_bytes)
                return fail(p, PROTO_E_HTTP_BODY_TOO_LARGE);
            p->body_bytes += n;
            *data = buf + off;
            *data_len = n;
            *consumed = len;
            return PROTO_HTTP_RESP_BODY;
        }

        case R_CHUNK_END: {
            uint8_t c = buf[off++];

            if (c == '\r' && !p->chunk_cr) {
                p->chunk_cr = true;
            } else if (c == '\n') {
                p->chunk_cr = false;
                p->state = R_CHUNK_LINE;
                p->line_len = 0;
            } else {
                return fail(p, PROTO_E_HTTP_BAD_CHUNK);
            }
            continue;
        }

        case R_CHUNK_LINE: {
            uint8_t c = buf[off++];

            if (c != '\n') {
                if (p->line_len >= PROTO_HTTP_MAX_CHUNK_LINE)
                    return fail(p, PROTO_E_HTTP_BAD_CHUNK);
                p->line[p->line_len++] = (char)c;
                continue;
            }
            p->line[p->line_len] = '\0';
            rc = parse_chunk_line(p);
            if (rc < 0)
                return fail(p, rc);
            p->line_len = 0;
            continue;
        }

        case R_TRAILERS: {
            uint8_t c = buf[off++];

            if (++p->trailer_len > p->max_head)
                return fail(p, PROTO_E_HTTP_HEAD_TOO_LARGE);
            if (c != '\n') {
                if (c == '\r' || valid_value_char(c))
                    p->chunk_cr = c == '\r';
                else
                    return fail(p, PROTO_E_HTTP_BAD_CHUNK);
                p->cur_line++;
                continue;
            }
            if (p->cur_line == 0 || (p->cur_line == 1 && p->chunk_cr)) {
                p->state = R_DONE;
                p->chunk_cr = false;
                continue; /* reported at the top */
            }
            p->cur_line = 0;
            p->chunk_cr = false;
            continue;
        }
        }
    }
    *consumed = off;
    return PROTO_HTTP_RESP_MORE;
}

int proto_http_resp_eof(proto_http_resp_parser *p)
{
    if (p->err != PROTO_OK)
        return p->err;
    if (p->state == R_BODY_EOF)
        p->state = R_DONE;
    return p->state == R_DONE ? PROTO_HTTP_RESP_DONE : PROTO_E_TRUNCATED;
}

const proto_http_response *proto_http_resp_head(const proto_http_resp_parser *p)
{
    return p->head_ready ? &p->resp : NULL;
}

bool proto_http_resp_started(const proto_http_resp_parser *p)
{
    return p->started;
}

uint64_t proto_http_resp_body_bytes(const proto_http_resp_parser *p)
{
    return p->body_bytes;
}

uint64_t proto_http_resp_known_left(const proto_http_resp_parser *p)
{
    if (p->err != 0)
        return 0;
    if (p->state == R_BODY_LEN)
        return p->remaining;
    if (p->state == R_CHUNK_DATA)
        return p->remaining + 2u;
    return 0;
}

const char *proto_http_resp_header(const proto_http_resp_parser *p, const char *name)
{
    return p->head_ready ? find(p, name) : NULL;
}
