/* Fuzz target: the HTTP/1.1 request parser (protocol/include/protocol/http.h)
 * and the response head writer.
 *
 * The input is the byte stream of one connection. It is fed as a carrier
 * would, keeping unconsumed bytes and feeding them again, each feed from an
 * exact-size heap copy: once whole, once in pieces of 1..17 bytes derived
 * from the input, once a byte at a time (inputs up to 4 KiB), and the same
 * three with small limits. Oracles: whatever the piece sizes, the same
 * requests (fingerprinted field by field), the same request boundaries and
 * the same rejection; every result is a listed one, PROTO_HTTP_MORE
 * consumes all, consumption never exceeds what was fed, the head never
 * takes more than max_head bytes, a complete request has every string
 * NUL-terminated, a body within max_body and exactly its Content-Length;
 * each rejection maps to a 4xx/5xx status. Each parsed path then goes into
 * a response head as a Location value: accepted exactly when it has no
 * control characters, and never written past the buffer.
 */
#include "fuzz.h"
#include "protocol/http.h"

#define MAX_REQS 64

typedef struct outcome {
    int err;
    size_t n;
    size_t fed;
    uint64_t print[MAX_REQS];
    size_t ends[MAX_REQS];
} outcome;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    if (s == NULL)
        return fnv(h, "\xff", 1);
    return fnv(h, s, strlen(s) + 1);
}

static int http_err(int rc)
{
    return rc <= PROTO_E_HTTP_SYNTAX && rc >= PROTO_E_HTTP_NOMEM;
}

static void check_response(const char *path)
{
    char buf[256];
    proto_http_out o;
    int n, ctl = 0;

    for (const char *c = path; *c; c++)
        ctl |= ((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f;
    proto_http_out_init(&o, buf, sizeof(buf));
    proto_http_status_line(&o, 201);
    proto_http_header_str(&o, "Location", path);
    n = proto_http_head_end(&o);
    if (ctl)
        FUZZ_CHECK(n == PROTO_E_BAD_FIELD);
    else
        FUZZ_CHECK(n == PROTO_E_NOSPACE || (n > 0 && (size_t)n <= sizeof(buf)));
}

static uint64_t fingerprint(const proto_http_request *r, const proto_http_limits *lim)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t max_body = lim->max_body ? lim->max_body : PROTO_HTTP_MAX_BODY;
    size_t max_headers = lim->max_headers ? lim->max_headers : PROTO_HTTP_MAX_HEADERS;

    FUZZ_CHECK(r->method >= PROTO_HTTP_GET && r->method <= PROTO_HTTP_DELETE);
    FUZZ_CHECK(r->path != NULL && r->path[0] != '\0' && r->target != NULL);
    FUZZ_CHECK(strlen(r->target) <= PROTO_HTTP_MAX_TARGET);
    FUZZ_CHECK(r->version_minor <= 1);
    FUZZ_CHECK(r->n_headers <= max_headers);
    FUZZ_CHECK(r->body_len <= max_body);
    FUZZ_CHECK(!r->has_length || r->body_len == r->content_length);
    FUZZ_CHECK(!(r->has_length && r->chunked));
    FUZZ_CHECK(r->body_len == 0 || r->body != NULL);
    h = fnv(h, &r->method, sizeof(r->method));
    h = fnv_str(h, r->method_name);
    h = fnv_str(h, r->target);
    h = fnv_str(h, r->path);
    h = fnv_str(h, r->query);
    h = fnv_str(h, r->host);
    h = fnv_str(h, r->content_type);
    h = fnv(h, &r->version_minor, sizeof(r->version_minor));
    h = fnv(h, &r->content_length, sizeof(r->content_length));
    h = fnv(h, &r->has_length, 1);
    h = fnv(h, &r->chunked, 1);
    h = fnv(h, &r->keep_alive, 1);
    h = fnv(h, &r->expect_continue, 1);
    for (size_t i = 0; i < r->n_headers; i++) {
        h = fnv_str(h, r->headers[i].name);
        h = fnv_str(h, r->headers[i].value);
    }
    h = fnv(h, &r->body_len, sizeof(r->body_len));
    if (r->body_len > 0)
        h = fnv(h, r->body, r->body_len);
    check_response(r->path);
    return h;
}

/* Feed the stream in pieces: piece k is pieces[k % npieces] bytes (0 means
 * all that is left). */
static void run(const uint8_t *data, size_t size, const size_t *pieces, size_t npieces,
                const proto_http_limits *lim, outcome *out)
{
    proto_http_parser *p;
    uint8_t *pending = malloc(size + 1);
    size_t have = 0, arrived = 0, k = 0;
    size_t max_head = lim->max_head ? lim->max_head : PROTO_HTTP_MAX_HEAD;
    size_t head_start = 0;
    int in_head = 1;

    FUZZ_CHECK(pending != NULL);
    memset(out, 0, sizeof(*out));
    FUZZ_CHECK(proto_http_parser_new(lim, &p) == PROTO_OK);
    for (;;) {
        size_t step = pieces[k++ % npieces];
        if (step == 0 || step > size - arrived)
            step = size - arrived;
        memcpy(pending + have, data + arrived, step);
        have += step;
        arrived += step;
        while (out->err == PROTO_OK) {
            uint8_t *copy = fuzz_dup(pending, have);
            size_t used = (size_t)-1;
            int rc = proto_http_parser_feed(p, copy, have, &used);
            free(copy);
            FUZZ_CHECK(used <= have);
            memmove(pending, pending + used, have - used);
            have -= used;
            out->fed += used;
            if (rc < 0) {
                int st = proto_http_status_for(rc);
                FUZZ_CHECK(http_err(rc));
                FUZZ_CHECK(st >= 400 && st <= 505 && st != 500);
                out->err = rc;
                break;
            }
            if (in_head)
                FUZZ_CHECK(out->fed - head_start <= max_head);
            if (rc == PROTO_HTTP_MORE) {
                FUZZ_CHECK(have == 0);
                break;
            }
            FUZZ_CHECK(proto_http_parser_request(p) != NULL);
            if (rc == PROTO_HTTP_HEADERS) {
                in_head = 0;
                continue;
            }
            FUZZ_CHECK(rc == PROTO_HTTP_REQUEST);
            FUZZ_CHECK(proto_http_parser_eof(p) == PROTO_OK);
            if (out->n < MAX_REQS) {
                out->print[out->n] = fingerprint(proto_http_parser_request(p), lim);
                out->ends[out->n] = out->fed;
            }
            out->n++;
            proto_http_parser_next(p);
            in_head = 1;
            head_start = out->fed;
        }
        if (out->err != PROTO_OK || arrived == size)
            break;
    }
    proto_http_parser_free(p);
    free(pending);
}

static void same(const outcome *a, const outcome *b)
{
    FUZZ_CHECK(a->err == b->err);
    FUZZ_CHECK(a->n == b->n);
    for (size_t i = 0; i < a->n && i < MAX_REQS; i++) {
        FUZZ_CHECK(a->print[i] == b->print[i]);
        FUZZ_CHECK(a->ends[i] == b->ends[i]);
    }
}

static void three_ways(const uint8_t *data, size_t size, const proto_http_limits *lim)
{
    static const size_t all = 0, one = 1;
    size_t pieces[8];
    uint64_t h = fnv(0xcbf29ce484222325ull, data, size);
    outcome a, b;

    for (size_t i = 0; i < 8; i++)
        pieces[i] = 1 + (size_t)((h >> (8 * i)) % 17);
    run(data, size, &all, 1, lim, &a);
    run(data, size, pieces, 8, lim, &b);
    same(&a, &b);
    if (size <= 4096) {
        run(data, size, &one, 1, lim, &b);
        same(&a, &b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const proto_http_limits defaults;
    static const proto_http_limits small = {.max_head = 256, .max_headers = 4, .max_body = 64};

    three_ways(data, size, &defaults);
    three_ways(data, size, &small);
    return 0;
}
