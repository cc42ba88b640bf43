/* Check suite for the HTTP/1.1 codec (protocol/include/protocol/http.h):
 * the real clients' requests (the seed corpus of fuzz_http_request), every
 * request split at every byte and fed one byte at a time, chunked bodies,
 * pipelining, keep-alive, Expect: 100-continue, every limit and rejection,
 * allocation failure, and the response writers decoded back by
 * libhttp-parser. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "protocol/http.h"

/* ---- a carrier in miniature ------------------------------------------------- */

#define MAX_REQS 8
#define DIGEST   4096

typedef struct run {
    int n;                 /* complete requests */
    int heads;             /* PROTO_HTTP_HEADERS results */
    int err;               /* the rejection, PROTO_OK if none */
    size_t fed;            /* bytes consumed in total */
    size_t ends[MAX_REQS]; /* stream offset just after each request */
    char digest[MAX_REQS][DIGEST];
} run;

static void digest(const proto_http_request *r, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(
        out, cap,
        "%s %s | %s ? %s | host=%s ct=%s 1.%u cl=%d:%llu ch=%d "
        "ka=%d ec=%d |",
        r->method_name, r->target, r->path, r->query ? r->query : "-", r->host ? r->host : "-",
        r->content_type ? r->content_type : "-", r->version_minor, r->has_length,
        (unsigned long long)r->content_length, r->chunked, r->keep_alive, r->expect_continue);
    for (size_t i = 0; i < r->n_headers && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, " [%s]=[%s]", r->headers[i].name,
                              r->headers[i].value);
    if (n < cap)
        n += (size_t)snprintf(out + n, cap - n, " | %zu:", r->body_len);
    for (size_t i = 0; i < r->body_len && n + 1 < cap; i++)
        out[n++] = (char)r->body[i];
    out[n < cap ? n : cap - 1] = '\0';
}

/* Feed data as it would arrive in pieces of piece[k % npiece] bytes,
 * keeping unconsumed bytes and feeding them again, as a carrier does. */
static void drive_lim(const uint8_t *data, size_t len, const size_t *piece, size_t npiece,
                      const proto_http_limits *lim, run *out)
{
    proto_http_parser *p;
    uint8_t *pending = malloc(len + 1);
    size_t have = 0, arrived = 0, k = 0;

    memset(out, 0, sizeof(*out));
    ck_assert_int_eq(proto_http_parser_new(lim, &p), PROTO_OK);
    while (out->err == PROTO_OK) {
        size_t step = piece[k++ % npiece];
        if (arrived < len) {
            if (step > len - arrived)
                step = len - arrived;
            memcpy(pending + have, data + arrived, step);
            have += step;
            arrived += step;
        }
        for (;;) {
            size_t used = 0;
            int rc = proto_http_parser_feed(p, pending, have, &used);
            ck_assert_uint_le(used, have);
            memmove(pending, pending + used, have - used);
            have -= used;
            out->fed += used;
            if (rc < 0) {
                out->err = rc;
                break;
            }
            if (rc == PROTO_HTTP_MORE) {
                ck_assert_uint_eq(have, 0); /* MORE consumes everything */
                break;
            }
            if (rc == PROTO_HTTP_HEADERS) {
                out->heads++;
                ck_assert_ptr_nonnull(proto_http_parser_request(p));
                continue;
            }
            ck_assert_int_eq(rc, PROTO_HTTP_REQUEST);
            ck_assert_int_lt(out->n, MAX_REQS);
            digest(proto_http_parser_request(p), out->digest[out->n], DIGEST);
            out->ends[out->n] = out->fed;
            out->n++;
            proto_http_parser_next(p);
        }
        if (arrived == len && (have == 0 || out->err != PROTO_OK))
            break;
    }
    if (out->err == PROTO_OK)
        ck_assert_int_eq(proto_http_parser_eof(p), PROTO_OK);
    proto_http_parser_free(p);
    free(pending);
}

static void drive(const uint8_t *data, size_t len, const size_t *piece, size_t npiece, run *out)
{
    drive_lim(data, len, piece, npiece, NULL, out);
}

static void whole(const void *data, size_t len, run *out)
{
    size_t all = len > 0 ? len : 1;
    drive(data, len, &all, 1, out);
}

static void whole_str(const char *s, run *out)
{
    whole(s, strlen(s), out);
}

/* The same requests, digests and error whatever the piece sizes. */
static void same(const run *a, const run *b, const char *what)
{
    ck_assert_msg(a->n == b->n && a->err == b->err, "%s: %d requests/%s vs %d/%s", what, a->n,
                  proto_err_name(a->err), b->n, proto_err_name(b->err));
    for (int i = 0; i < a->n; i++) {
        ck_assert_msg(strcmp(a->digest[i], b->digest[i]) == 0, "%s: request %d\n%s\n%s", what, i,
                      a->digest[i], b->digest[i]);
        ck_assert_uint_eq(a->ends[i], b->ends[i]);
    }
}

static uint8_t *corpus(const char *name, size_t *len)
{
    const char *src = getenv("SCANEMU_SOURCE_DIR");
    char path[1024];
    FILE *f;
    uint8_t *buf;
    long n;

    ck_assert_ptr_nonnull(src);
    snprintf(path, sizeof(path), "%s/host-tests/fuzz/corpus/http_request/%s", src, name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- the real clients ---------------------------------------------------------- */

static proto_http_parser *parse_one(const uint8_t *data, size_t len)
{
    proto_http_parser *p;
    size_t used;
    int rc;

    ck_assert_int_eq(proto_http_parser_new(NULL, &p), PROTO_OK);
    rc = proto_http_parser_feed(p, data, len, &used);
    if (rc == PROTO_HTTP_HEADERS) {
        size_t more;
        rc = proto_http_parser_feed(p, data + used, len - used, &more);
        used += more;
    }
    ck_assert_int_eq(rc, PROTO_HTTP_REQUEST);
    ck_assert_uint_eq(used, len);
    return p;
}

static proto_http_parser *parse_s(const char *s)
{
    return parse_one((const uint8_t *)s, strlen(s));
}

START_TEST(airscan_requests)
{
    size_t len;
    uint8_t *d = corpus("airscan-0.99.27-get-capabilities", &len);
    proto_http_parser *p = parse_one(d, len);
    const proto_http_request *r = proto_http_parser_request(p);

    ck_assert_int_eq(r->method, PROTO_HTTP_GET);
    ck_assert_str_eq(r->method_name, "GET");
    ck_assert_str_eq(r->path, "/eSCL/ScannerCapabilities");
    ck_assert_ptr_null(r->query);
    ck_assert_str_eq(r->host, "127.0.0.1:39343");
    ck_assert_uint_eq(r->version_minor, 1);
    ck_assert(!r->keep_alive); /* sane-airscan: Connection: close on every request */
    ck_assert(!r->has_length && !r->chunked && !r->expect_continue);
    ck_assert_uint_eq(r->body_len, 0);
    ck_assert_uint_eq(r->n_headers, 2);
    ck_assert_str_eq(r->headers[0].name, "Connection");
    ck_assert_str_eq(r->headers[0].value, "close");
    proto_http_parser_free(p);
    free(d);

    d = corpus("airscan-0.99.27-post-scanjobs", &len);
    p = parse_one(d, len);
    r = proto_http_parser_request(p);
    ck_assert_int_eq(r->method, PROTO_HTTP_POST);
    ck_assert_str_eq(r->path, "/eSCL/ScanJobs");
    ck_assert_str_eq(r->content_type, "text/xml");
    ck_assert(r->has_length);
    ck_assert_uint_eq(r->content_length, 787);
    ck_assert_uint_eq(r->body_len, 787);
    ck_assert(memcmp(r->body, "<?xml version=\"1.0\"", 19) == 0);
    ck_assert(!r->keep_alive);
    proto_http_parser_free(p);
    free(d);

    d = corpus("airscan-0.99.27-delete-job", &len);
    p = parse_one(d, len);
    r = proto_http_parser_request(p);
    ck_assert_int_eq(r->method, PROTO_HTTP_DELETE);
    ck_assert_str_eq(r->path, "/eSCL/ScanJobs/1");
    proto_http_parser_free(p);
    free(d);
}
END_TEST

START_TEST(escl_backend_and_ipp_usb_requests)
{
    size_t len;
    uint8_t *d = corpus("escl-1.2.1-post-scanjobs", &len);
    proto_http_parser *p = parse_one(d, len);
    const proto_http_request *r = proto_http_parser_request(p);

    /* libcurl 7.88: keep-alive, the body as a form post */
    ck_assert_str_eq(r->content_type, "application/x-www-form-urlencoded");
    ck_assert(r->keep_alive);
    ck_assert_uint_eq(r->body_len, r->content_length);
    ck_assert(!r->expect_continue);
    proto_http_parser_free(p);
    free(d);

    d = corpus("escl-1.2.1-get-nextdocument", &len);
    p = parse_one(d, len);
    r = proto_http_parser_request(p);
    ck_assert_str_eq(r->path, "/eSCL/ScanJobs/1/NextDocument");
    ck_assert(r->keep_alive);
    proto_http_parser_free(p);
    free(d);

    d = corpus("ipp-usb-0.9.23-get-capabilities", &len);
    p = parse_one(d, len);
    r = proto_http_parser_request(p);
    ck_assert_str_eq(r->host, "localhost:60000");
    proto_http_parser_free(p);
    free(d);

    d = corpus("ipp-usb-0.9.23-post-scanjobs-chunked", &len);
    p = parse_one(d, len);
    r = proto_http_parser_request(p);
    ck_assert(r->chunked);
    ck_assert(!r->has_length);
    ck_assert_uint_eq(r->body_len, 787);
    ck_assert(memcmp(r->body + 787 - 18, "</scan:ScanSettings>" + 2, 18) == 0);
    proto_http_parser_free(p);
    free(d);
}
END_TEST

/* ---- split anywhere -------------------------------------------------------------- */

static const char *const good_streams[] = {
    "airscan-0.99.27-get-capabilities",
    "airscan-0.99.27-post-scanjobs",
    "airscan-0.99.27-delete-job",
    "escl-1.2.1-post-scanjobs",
    "ipp-usb-0.9.23-get-capabilities",
    "ipp-usb-0.9.23-post-scanjobs-chunked",
    "pipelined-three",
    "expect-100-continue",
    "http10-keepalive",
    "absolute-form-query",
    "chunked-extensions-trailers",
};

START_TEST(split_at_every_byte)
{
    size_t len;
    uint8_t *d = corpus(good_streams[_i], &len);
    static const size_t one = 1, odd[] = {3, 1, 7, 2, 64, 5, 11};
    run base, r;

    whole(d, len, &base);
    ck_assert_msg(base.err == PROTO_OK && base.n >= 1, "%s: %s", good_streams[_i],
                  proto_err_name(base.err));
    ck_assert_uint_eq(base.fed, len);
    for (size_t k = 1; k < len; k++) {
        size_t pieces[2] = {k, len};
        drive(d, len, pieces, 2, &r);
        same(&base, &r, good_streams[_i]);
    }
    drive(d, len, &one, 1, &r);
    same(&base, &r, "one byte at a time");
    drive(d, len, odd, sizeof(odd) / sizeof(odd[0]), &r);
    same(&base, &r, "odd pieces");
    free(d);
}
END_TEST

/* A rejection is found in the same place however the bytes arrive. */
static const char *const bad_streams[] = {
    "head-too-large", "too-many-headers", "body-too-large", "content-length-overflow",
    "cl-and-te",      "te-gzip-chunked",  "bad-chunk-size", "http2-preface",
    "trace-method",   "no-host",          "two-hosts",      "expect-other",
    "garbage",
};

START_TEST(rejections_split_anywhere)
{
    size_t len;
    uint8_t *d = corpus(bad_streams[_i], &len);
    static const size_t one = 1;
    run base, r;

    whole(d, len, &base);
    ck_assert_msg(base.err != PROTO_OK, "%s accepted", bad_streams[_i]);
    drive(d, len, &one, 1, &r);
    same(&base, &r, bad_streams[_i]);
    for (size_t k = 1; k < len; k += 1 + len / 64) {
        size_t pieces[2] = {k, len};
        drive(d, len, pieces, 2, &r);
        same(&base, &r, bad_streams[_i]);
    }
    free(d);
}
END_TEST

/* ---- chunked, pipelining, keep-alive, Expect -------------------------------------- */

START_TEST(chunked_bodies)
{
    run r;

    whole_str("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
              "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n3;ext=\"q\"\r\n123\r\n0\r\n\r\n",
              &r);
    ck_assert_int_eq(r.err, PROTO_OK);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_eq(r.heads, 1);
    ck_assert_ptr_nonnull(strstr(r.digest[0], "| 29:abcdefghijklmnopqrstuvwxyz123"));
    ck_assert_ptr_nonnull(strstr(r.digest[0], "ch=1"));

    /* trailers are read and dropped */
    whole_str("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nok\r\n0\r\nX-Checksum: 1\r\nX-More: 2\r\n\r\n",
              &r);
    ck_assert_int_eq(r.err, PROTO_OK);
    ck_assert_ptr_nonnull(strstr(r.digest[0], "| 2:ok"));
    ck_assert_ptr_null(strstr(r.digest[0], "X-Checksum"));

    /* an empty chunked body is a body: HEADERS first */
    whole_str("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &r);
    ck_assert_int_eq(r.err, PROTO_OK);
    ck_assert_int_eq(r.heads, 1);
    ck_assert_ptr_nonnull(strstr(r.digest[0], "| 0:"));

    /* chunked in any case, spread over two header lines */
    whole_str(
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n1\r\nz\r\n0\r\n\r\n", &r);
    ck_assert_int_eq(r.err, PROTO_OK);

    /* many one-byte chunks */
    {
        char req[8192];
        size_t n = (size_t)snprintf(
            req, sizeof(req), "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < 500; i++)
            n += (size_t)snprintf(req + n, sizeof(req) - n, "1\r\n%c\r\n", 'a' + i % 26);
        n += (size_t)snprintf(req + n, sizeof(req) - n, "0\r\n\r\n");
        whole(req, n, &r);
        ck_assert_int_eq(r.err, PROTO_OK);
        ck_assert_ptr_nonnull(strstr(r.digest[0], "| 500:abcdefghijklmnopqrstuvwxyzabc"));
    }
}
END_TEST

START_TEST(pipelining)
{
    size_t len;
    uint8_t *d = corpus("pipelined-three", &len);
    run r;

    whole(d, len, &r);
    ck_assert_int_eq(r.err, PROTO_OK);
    ck_assert_int_eq(r.n, 3);
    ck_assert_ptr_nonnull(strstr(r.digest[0], "GET /eSCL/ScannerStatus"));
    ck_assert_ptr_nonnull(strstr(r.digest[1], "POST /eSCL/ScanJobs"));
    ck_assert_ptr_nonnull(strstr(r.digest[2], "GET /eSCL/ScanJobs/1/NextDocument"));
    ck_assert_ptr_nonnull(strstr(r.digest[0], "ka=1"));
    ck_assert_ptr_nonnull(strstr(r.digest[2], "ka=0"));
    /* each request ends exactly where the next begins */
    ck_assert(memcmp(d + r.ends[0], "POST ", 5) == 0);
    ck_assert(memcmp(d + r.ends[1], "GET /eSCL/ScanJobs/1/", 21) == 0);
    ck_assert_uint_eq(r.ends[2], len);
    free(d);

    /* blank lines between requests are skipped (RFC 9112 2.2) */
    whole_str("GET /a HTTP/1.1\r\nHost: h\r\n\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ck_assert_int_eq(r.err, PROTO_OK);
    ck_assert_int_eq(r.n, 2);
}
END_TEST

START_TEST(keep_alive)
{
    static const struct {
        const char *req;
        int keep;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\n", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run r;
        char want[8];
        whole_str(cases[i].req, &r);
        ck_assert_int_eq(r.err, PROTO_OK);
        snprintf(want, sizeof(want), "ka=%d", cases[i].keep);
        ck_assert_msg(strstr(r.digest[0], want) != NULL, "%s: %s", cases[i].req, r.digest[0]);
    }
}
END_TEST

START_TEST(expect_continue)
{
    static const char req[] = "POST /eSCL/ScanJobs HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                              "Content-Length: 5\r\n\r\nhello";
    proto_http_parser *p;
    const proto_http_request *r;
    size_t used, head_len = strlen(req) - 5;
    run run_;

    ck_assert_int_eq(proto_http_parser_new(NULL, &p), PROTO_OK);
    /* The head alone: HEADERS, the request so far says expect_continue, and
     * no body byte was needed to say so. */
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)req, head_len, &used),
                     PROTO_HTTP_HEADERS);
    ck_assert_uint_eq(used, head_len - 1); /* the head's last LF is fed again */
    r = proto_http_parser_request(p);
    ck_assert(r->expect_continue);
    ck_assert_uint_eq(r->content_length, 5);
    ck_assert_uint_eq(r->body_len, 0);
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)req + used, 1, &used),
                     PROTO_HTTP_MORE);
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)req + head_len, 5, &used),
                     PROTO_HTTP_REQUEST);
    ck_assert_uint_eq(r->body_len, 5);
    /* the request stays until next() */
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)"GET", 3, &used),
                     PROTO_HTTP_REQUEST);
    ck_assert_uint_eq(used, 0);
    proto_http_parser_free(p);

    /* No body, no 100: expect_continue stays false. */
    whole_str("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", &run_);
    ck_assert_int_eq(run_.err, PROTO_OK);
    ck_assert_int_eq(run_.heads, 0);
    ck_assert_ptr_nonnull(strstr(run_.digest[0], "ec=0"));
    /* Other expectations: 417 on HTTP/1.1, ignored on HTTP/1.0. */
    whole_str("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", &run_);
    ck_assert_int_eq(run_.err, PROTO_E_HTTP_EXPECTATION);
    ck_assert_int_eq(proto_http_status_for(run_.err), 417);
    whole_str("POST / HTTP/1.0\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", &run_);
    ck_assert_int_eq(run_.err, PROTO_OK);
}
END_TEST

/* ---- limits ------------------------------------------------------------------- */

/* A GET whose head is exactly len bytes. */
static char *head_of(size_t len)
{
    static const char pre[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    char *s = malloc(len + 1);
    size_t fill = len - (sizeof(pre) - 1) - 4;

    memcpy(s, pre, sizeof(pre) - 1);
    memset(s + sizeof(pre) - 1, 'p', fill);
    memcpy(s + len - 4, "\r\n\r\n", 4);
    s[len] = '\0';
    return s;
}

START_TEST(head_limit)
{
    static const size_t one = 1;
    run r;
    char *ok = head_of(PROTO_HTTP_MAX_HEAD), *big = head_of(PROTO_HTTP_MAX_HEAD + 1);

    whole_str(ok, &r);
    ck_assert_int_eq(r.err, PROTO_OK);
    drive((uint8_t *)ok, strlen(ok), &one, 1, &r);
    ck_assert_int_eq(r.err, PROTO_OK);
    whole_str(big, &r);
    ck_assert_int_eq(r.err, PROTO_E_HTTP_HEAD_TOO_LARGE);
    ck_assert_int_eq(proto_http_status_for(r.err), 431);
    ck_assert_uint_le(r.fed, PROTO_HTTP_MAX_HEAD);
    drive((uint8_t *)big, strlen(big), &one, 1, &r);
    ck_assert_int_eq(r.err, PROTO_E_HTTP_HEAD_TOO_LARGE);
    free(ok);
    free(big);

    /* A 1 MB header in 64 KiB pieces: refused within the cap. */
    {
        size_t n = 1u << 20;
        char *huge = head_of(n);
        size_t piece = 64u * 1024u;
        drive((uint8_t *)huge, n, &piece, 1, &r);
        ck_assert_int_eq(r.err, PROTO_E_HTTP_HEAD_TOO_LARGE);
        ck_assert_uint_le(r.fed, PROTO_HTTP_MAX_HEAD);
        free(huge);
    }
    /* A lower limit of the caller's. */
    {
        proto_http_limits lim = {.max_head = 64};
        char *h64 = head_of(64), *h65 = head_of(65);
        size_t all = 1000;
        drive_lim((uint8_t *)h64, 64, &all, 1, &lim, &r);
        ck_assert_int_eq(r.err, PROTO_OK);
        drive_lim((uint8_t *)h65, 65, &all, 1, &lim, &r);
        ck_assert_int_eq(r.err, PROTO_E_HTTP_HEAD_TOO_LARGE);
        free(h64);
        free(h65);
    }
}
END_TEST

START_TEST(header_count_limit)
{
    char req[8192];
    run r;

    for (unsigned n = PROTO_HTTP_MAX_HEADERS; n <= PROTO_HTTP_MAX_HEADERS + 1; n++) {
        size_t len = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h\r\n");
        for (unsigned i = 1; i < n; i++)
            len += (size_t)snprintf(req + len, sizeof(req) - len, "X-%u: %u\r\n", i, i);
        len += (size_t)snprintf(req + len, sizeof(req) - len, "\r\n");
        whole(req, len, &r);
        ck_assert_int_eq(r.err,
                         n == PROTO_HTTP_MAX_HEADERS ? PROTO_OK : PROTO_E_HTTP_TOO_MANY_HEADERS);
    }
    ck_assert_int_eq(proto_http_status_for(PROTO_E_HTTP_TOO_MANY_HEADERS), 431);
}
END_TEST

START_TEST(body_limit)
{
    size_t max = PROTO_HTTP_MAX_BODY;
    char head[128];
    size_t hl = (size_t)snprintf(head, sizeof(head),
                                 "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", max);
    uint8_t *req = malloc(hl + max);
    run r;

    memcpy(req, head, hl);
    memset(req + hl, 'b', max);
    whole(req, hl + max, &r);
    ck_assert_int_eq(r.err, PROTO_OK);
    ck_assert_ptr_nonnull(strstr(r.digest[0], "| 1048576:bbbb"));

    /* One byte more is refused at the head, before any body byte. */
    hl = (size_t)snprintf(head, sizeof(head),
                          "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", max + 1);
    whole(head, hl, &r);
    ck_assert_int_eq(r.err, PROTO_E_HTTP_BODY_TOO_LARGE);
    ck_assert_int_eq(proto_http_status_for(r.err), 413);
    ck_assert_uint_lt(r.fed, hl);
    free(req);

    /* Chunked: a chunk size beyond the cap, and a sum beyond it. */
    whole_str("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", &r);
    ck_assert_int_eq(r.err, PROTO_E_HTTP_BODY_TOO_LARGE);
    {
        proto_http_limits lim = {.max_body = 4};
        static const char two[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        static const char four[] =
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n";
        size_t all = 4096;
        drive_lim((const uint8_t *)two, strlen(two), &all, 1, &lim, &r);
        ck_assert_int_eq(r.err, PROTO_E_HTTP_BODY_TOO_LARGE);
        drive_lim((const uint8_t *)four, strlen(four), &all, 1, &lim, &r);
        ck_assert_int_eq(r.err, PROTO_OK);
        /* Framing without data is bounded too: endless chunk extensions. */
        {
            size_t n = 64u * 1024u;
            char *ext = malloc(n);
            size_t hl2 = strlen(four) - strlen("3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n");
            memcpy(ext, four, hl2);
            memcpy(ext + hl2, "1;", 2);
            memset(ext + hl2 + 2, 'e', n - hl2 - 2);
            drive_lim((const uint8_t *)ext, n, &all, 1, &lim, &r);
            ck_assert_int_eq(r.err, PROTO_E_HTTP_BODY_TOO_LARGE);
            free(ext);
        }
    }
}
END_TEST

START_TEST(target_limit)
{
    char req[PROTO_HTTP_MAX_TARGET + 64];
    run r;

    for (size_t tl = PROTO_HTTP_MAX_TARGET; tl <= PROTO_HTTP_MAX_TARGET + 1; tl++) {
        size_t n = (size_t)snprintf(req, sizeof(req), "GET /");
        memset(req + n, 't', tl - 1);
        n += tl - 1;
        n += (size_t)snprintf(req + n, sizeof(req) - n, " HTTP/1.1\r\nHost: h\r\n\r\n");
        whole(req, n, &r);
        ck_assert_int_eq(r.err, tl == PROTO_HTTP_MAX_TARGET ? PROTO_OK : PROTO_E_HTTP_URI_TOO_LONG);
    }
    ck_assert_int_eq(proto_http_status_for(PROTO_E_HTTP_URI_TOO_LONG), 414);
}
END_TEST

START_TEST(bad_limits)
{
    proto_http_parser *p = (proto_http_parser *)1;
    proto_http_limits lim = {.max_head = PROTO_HTTP_MAX_HEAD + 1};

    ck_assert_int_eq(proto_http_parser_new(&lim, &p), PROTO_E_BAD_FIELD);
    ck_assert_ptr_null(p);
    lim = (proto_http_limits){.max_headers = PROTO_HTTP_MAX_HEADERS + 1};
    ck_assert_int_eq(proto_http_parser_new(&lim, &p), PROTO_E_BAD_FIELD);
    lim = (proto_http_limits){.max_body = PROTO_HTTP_MAX_BODY + 1};
    ck_assert_int_eq(proto_http_parser_new(&lim, &p), PROTO_E_BAD_FIELD);
    proto_http_parser_free(NULL);
}
END_TEST

/* ---- every rejection ------------------------------------------------------------ */

typedef struct reject_case {
    const char *req;
    int err;
    int status;
} reject_case;

static const reject_case rejects[] = {
    {"garbage\r\n\r\n", PROTO_E_HTTP_METHOD, 501},
    /* Not a method token at all: a bad request, not an unknown method. */
    {"\x01\x02\xfe GET / HTTP/1.1\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET / HTTP/1.1\r\nHost h\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET / HTTP/1.1\r\nHo st: h\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET / HTTX/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET / HTTP/1.1\rHost: h\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET / HTTP/10.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET / HTTP/1.1\r\n: empty name\r\nHost: h\r\n\r\n", PROTO_E_HTTP_SYNTAX, 400},
    {"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_BAD_TARGET, 400},
    {"GET * HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_BAD_TARGET, 400},
    {"GET eSCL/ScannerStatus HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_BAD_TARGET, 400},
    {"PATCH / HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_METHOD, 501},
    {"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_METHOD, 501},
    {"TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_METHOD, 501},
    {"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_METHOD, 501},
    {"FETCH / HTTP/1.1\r\nHost: h\r\n\r\n", PROTO_E_HTTP_METHOD, 501},
    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", PROTO_E_HTTP_METHOD, 501},
    {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", PROTO_E_HTTP_VERSION, 505},
    {"GET / HTTP/0.9\r\n\r\n", PROTO_E_HTTP_VERSION, 505},
    {"GET /\r\n\r\n", PROTO_E_HTTP_VERSION, 505},
    {"GET / HTTP/1.1\r\n\r\n", PROTO_E_HTTP_NO_HOST, 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", PROTO_E_HTTP_BAD_HOST, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", PROTO_E_HTTP_FRAMING, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
     PROTO_E_HTTP_FRAMING, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
     PROTO_E_HTTP_FRAMING, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     PROTO_E_HTTP_FRAMING, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", PROTO_E_HTTP_FRAMING, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", PROTO_E_HTTP_FRAMING, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", PROTO_E_HTTP_FRAMING,
     400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
     "\r\n",
     PROTO_E_HTTP_FRAMING, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", PROTO_E_HTTP_CODING,
     501},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
     PROTO_E_HTTP_CODING, 501},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
     PROTO_E_HTTP_BAD_CHUNK, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
     PROTO_E_HTTP_BAD_CHUNK, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n",
     PROTO_E_HTTP_BAD_CHUNK, 400},
    {"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x\r\nContent-Length: 1\r\n\r\nx",
     PROTO_E_HTTP_EXPECTATION, 417},
};

START_TEST(every_rejection)
{
    const reject_case *c = &rejects[_i];
    run r;

    whole_str(c->req, &r);
    ck_assert_msg(r.err == c->err, "%s: got %s, want %s", c->req, proto_err_name(r.err),
                  proto_err_name(c->err));
    ck_assert_int_eq(proto_http_status_for(r.err), c->status);
}
END_TEST

START_TEST(status_for_every_error)
{
#define HTTP_ERR_(name, value, msg) PROTO_E_##name,
    static const int errs[] = {PROTO_HTTP_ERRNO_MAP(HTTP_ERR_)};
#undef HTTP_ERR_
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        int st = proto_http_status_for(errs[i]);
        ck_assert_msg(st >= 400 && st < 600 && st != 500, "%s -> %d", proto_err_name(errs[i]), st);
    }
    ck_assert_int_eq(proto_http_status_for(PROTO_E_ESCL_XML), 500);
    ck_assert_int_eq(proto_http_status_for(PROTO_OK), 500);
}
END_TEST

/* ---- targets, sticky errors, next, eof ---------------------------------------- */

START_TEST(targets)
{
    size_t len;
    uint8_t *d = corpus("absolute-form-query", &len);
    proto_http_parser *p = parse_one(d, len);
    const proto_http_request *r = proto_http_parser_request(p);

    ck_assert_str_eq(r->target, "http://localhost:60000/eSCL/ScannerStatus?x=1&y=2");
    ck_assert_str_eq(r->path, "/eSCL/ScannerStatus");
    ck_assert_str_eq(r->query, "x=1&y=2");
    proto_http_parser_free(p);
    free(d);

    p = parse_s("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n");
    ck_assert_str_eq(proto_http_parser_request(p)->path, "/");
    proto_http_parser_free(p);
    p = parse_s("GET /a%20b?q#frag HTTP/1.1\r\nHost: h\r\n\r\n");
    r = proto_http_parser_request(p);
    ck_assert_str_eq(r->path, "/a%20b"); /* not decoded */
    ck_assert_str_eq(r->query, "q");
    proto_http_parser_free(p);
    p = parse_s("GET /? HTTP/1.1\r\nHost: h\r\n\r\n");
    ck_assert_str_eq(proto_http_parser_request(p)->query, "");
    proto_http_parser_free(p);
    /* header values lose surrounding blanks, keep inner ones; empty values */
    p = parse_s("GET / HTTP/1.1\r\nHost:   h  \r\nX-E:\r\nX-S: a  b\t\r\n\r\n");
    r = proto_http_parser_request(p);
    ck_assert_str_eq(r->host, "h");
    ck_assert_str_eq(r->headers[1].name, "X-E");
    ck_assert_str_eq(r->headers[1].value, "");
    ck_assert_str_eq(r->headers[2].value, "a  b");
    proto_http_parser_free(p);
}
END_TEST

START_TEST(sticky_next_eof)
{
    proto_http_parser *p;
    size_t used;
    const char *bad = "GET / HTTP/1.1\r\n\r\n";
    const char *get = "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n";

    ck_assert_int_eq(proto_http_parser_new(NULL, &p), PROTO_OK);
    ck_assert_int_eq(proto_http_parser_eof(p), PROTO_OK);
    ck_assert_ptr_null(proto_http_parser_request(p));
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)"\r\n", 2, &used), PROTO_HTTP_MORE);
    ck_assert_int_eq(proto_http_parser_eof(p), PROTO_OK); /* blank lines only */
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)"GE", 2, &used), PROTO_HTTP_MORE);
    ck_assert_int_eq(proto_http_parser_eof(p), PROTO_E_TRUNCATED);
    ck_assert_ptr_null(proto_http_parser_request(p));
    proto_http_parser_next(p);

    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)bad, strlen(bad), &used),
                     PROTO_E_HTTP_NO_HOST);
    /* the partial request is visible after the rejection */
    ck_assert_str_eq(proto_http_parser_request(p)->path, "/");
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)get, strlen(get), &used),
                     PROTO_E_HTTP_NO_HOST);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(proto_http_parser_eof(p), PROTO_E_TRUNCATED);
    proto_http_parser_next(p);
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)get, strlen(get), &used),
                     PROTO_HTTP_REQUEST);
    ck_assert_str_eq(proto_http_parser_request(p)->path, "/ok");
    ck_assert_int_eq(proto_http_parser_eof(p), PROTO_OK);
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)get, 0, &used), PROTO_HTTP_REQUEST);
    proto_http_parser_next(p);
    ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)get, 0, &used), PROTO_HTTP_MORE);

    /* cut in the body */
    {
        static const char cut[] = "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nab";
        ck_assert_int_eq(proto_http_parser_feed(p, (const uint8_t *)cut, strlen(cut), &used),
                         PROTO_HTTP_HEADERS);
    }
    ck_assert_int_eq(proto_http_parser_eof(p), PROTO_E_TRUNCATED);
    proto_http_parser_free(p);
}
END_TEST

/* ---- allocation failure ---------------------------------------------------------- */

typedef struct counting {
    long fail_at; /* -1: never */
    long calls;
    long live;
} counting;

static void *c_realloc(void *ctx, void *ptr, size_t n)
{
    counting *c = ctx;
    void *q;

    if (c->fail_at >= 0 && c->calls++ == c->fail_at)
        return NULL;
    q = realloc(ptr, n);
    if (q != NULL && ptr == NULL)
        c->live++;
    return q;
}

static void c_free(void *ctx, void *ptr)
{
    counting *c = ctx;

    if (ptr != NULL)
        c->live--;
    free(ptr);
}

START_TEST(allocation_failure)
{
    size_t len;
    uint8_t *d = corpus("pipelined-three", &len);
    counting c = {.fail_at = 0};
    proto_http_limits lim = {.alloc = {c_realloc, c_free, &c}};
    proto_http_parser *p;
    run r;
    size_t all;
    int nomem = 0, done = 0;

    ck_assert_int_eq(proto_http_parser_new(&lim, &p), PROTO_E_HTTP_NOMEM);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(c.live, 0);
    for (c.fail_at = 1; !done; c.fail_at++) {
        c.calls = 0;
        all = len;
        drive_lim(d, len, &all, 1, &lim, &r);
        ck_assert_int_eq(c.live, 0);
        ck_assert(r.err == PROTO_OK || r.err == PROTO_E_HTTP_NOMEM);
        nomem += r.err == PROTO_E_HTTP_NOMEM;
        done = r.err == PROTO_OK;
        if (r.err == PROTO_E_HTTP_NOMEM)
            ck_assert_int_eq(proto_http_status_for(r.err), 503);
    }
    ck_assert_int_gt(nomem, 0);
    ck_assert_int_eq(r.n, 3);
    free(d);
}
END_TEST

/* ---- responses ------------------------------------------------------------------ */

typedef struct decoded {
    int status;
    int complete;
    size_t body_len;
    char body[4096];
    char location[128];
    int in_location;
} decoded;

static int d_status(http_parser *hp, const char *at, size_t n)
{
    (void)at;
    (void)n;
    ((decoded *)hp->data)->status = (int)hp->status_code;
    return 0;
}
static int d_field(http_parser *hp, const char *at, size_t n)
{
    ((decoded *)hp->data)->in_location = n == 8 && strncmp(at, "Location", 8) == 0;
    return 0;
}
static int d_value(http_parser *hp, const char *at, size_t n)
{
    decoded *d = hp->data;
    if (d->in_location)
        snprintf(d->location, sizeof(d->location), "%.*s", (int)n, at);
    return 0;
}
static int d_body(http_parser *hp, const char *at, size_t n)
{
    decoded *d = hp->data;
    memcpy(d->body + d->body_len, at, n);
    d->body_len += n;
    return 0;
}
static int d_done(http_parser *hp)
{
    ((decoded *)hp->data)->complete = 1;
    return 0;
}

/* libhttp-parser, as a client, reads our response. */
static void decode(const char *resp, size_t len, decoded *d)
{
    http_parser hp;
    http_parser_settings s = {.on_status = d_status,
                              .on_header_field = d_field,
                              .on_header_value = d_value,
                              .on_body = d_body,
                              .on_message_complete = d_done};

    memset(d, 0, sizeof(*d));
    http_parser_init(&hp, HTTP_RESPONSE);
    hp.data = d;
    ck_assert_uint_eq(http_parser_execute(&hp, &s, resp, len), len);
    ck_assert_int_eq(HTTP_PARSER_ERRNO(&hp), HPE_OK);
}

START_TEST(response_heads)
{
    static const char created[] =
        "HTTP/1.1 201 Created\r\nLocation: /eSCL/ScanJobs/1\r\nContent-Length: 0\r\n\r\n";
    char buf[512];
    proto_http_out o;
    decoded d;
    int n;

    proto_http_out_init(&o, buf, sizeof(buf));
    proto_http_status_line(&o, 201);
    proto_http_header_str(&o, "Location", "/eSCL/ScanJobs/1");
    proto_http_header_u64(&o, "Content-Length", 0);
    n = proto_http_head_end(&o);
    ck_assert_int_eq(n, (int)strlen(created));
    ck_assert(memcmp(buf, created, strlen(created)) == 0);
    decode(buf, (size_t)n, &d);
    ck_assert_int_eq(d.status, 201);
    ck_assert_str_eq(d.location, "/eSCL/ScanJobs/1");
    ck_assert(d.complete);

    /* every shorter buffer: NOSPACE, nothing else */
    for (size_t cap = 0; cap < strlen(created); cap++) {
        proto_http_out_init(&o, buf, cap);
        proto_http_status_line(&o, 201);
        proto_http_header_str(&o, "Location", "/eSCL/ScanJobs/1");
        proto_http_header_u64(&o, "Content-Length", 0);
        ck_assert_int_eq(proto_http_head_end(&o), PROTO_E_NOSPACE);
    }

    /* refusals, sticky */
    proto_http_out_init(&o, buf, sizeof(buf));
    proto_http_status_line(&o, 99);
    proto_http_header_str(&o, "A", "b");
    ck_assert_int_eq(proto_http_head_end(&o), PROTO_E_BAD_FIELD);
    proto_http_out_init(&o, buf, sizeof(buf));
    proto_http_status_line(&o, 600);
    ck_assert_int_eq(proto_http_head_end(&o), PROTO_E_BAD_FIELD);
    {
        static const char *const bad_names[] = {"", "Bad Name", "X:Y", "\xc3\xa9"};
        static const char *const bad_values[] = {"a\r\nSet-Cookie: x", "a\nb", "a\rb", "\x01"};
        for (size_t i = 0; i < 4; i++) {
            proto_http_out_init(&o, buf, sizeof(buf));
            proto_http_status_line(&o, 200);
            proto_http_header_str(&o, bad_names[i], "v");
            ck_assert_int_eq(proto_http_head_end(&o), PROTO_E_BAD_FIELD);
            proto_http_out_init(&o, buf, sizeof(buf));
            proto_http_status_line(&o, 200);
            proto_http_header_str(&o, "X", bad_values[i]);
            ck_assert_int_eq(proto_http_head_end(&o), PROTO_E_BAD_FIELD);
        }
    }
    proto_http_out_init(&o, buf, sizeof(buf));
    proto_http_status_line(&o, 200);
    proto_http_header_str(&o, "X-Tab", "a\tb \xc3\xa9");
    ck_assert_int_gt(proto_http_head_end(&o), 0);

    ck_assert_str_eq(proto_http_reason(100), "Continue");
    ck_assert_str_eq(proto_http_reason(404), "Not Found");
    ck_assert_str_eq(proto_http_reason(413), "Payload Too Large");
    ck_assert_str_eq(proto_http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(proto_http_reason(503), "Service Unavailable");
    ck_assert_str_eq(proto_http_reason(599), "Unknown");
    ck_assert_str_eq(proto_http_reason(-1), "Unknown");
    proto_http_out_init(&o, buf, sizeof(buf));
    proto_http_status_line(&o, 100);
    ck_assert_int_eq(proto_http_head_end(&o), 25);
    ck_assert(memcmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
}
END_TEST

START_TEST(chunked_response)
{
    char buf[4096];
    proto_http_out o;
    decoded d;
    size_t n;
    int k;
    static const char *const pieces[] = {"first band ", "x", "0123456789abcdef0123456789"};

    proto_http_out_init(&o, buf, sizeof(buf));
    proto_http_status_line(&o, 200);
    proto_http_header_str(&o, "Content-Type", "image/png");
    proto_http_header_str(&o, "Transfer-Encoding", "chunked");
    k = proto_http_head_end(&o);
    ck_assert_int_gt(k, 0);
    n = (size_t)k;
    for (size_t i = 0; i < 3; i++) {
        size_t len = strlen(pieces[i]);
        k = proto_http_chunk_begin(len, buf + n, sizeof(buf) - n);
        ck_assert_int_gt(k, 0);
        n += (size_t)k;
        memcpy(buf + n, pieces[i], len);
        n += len;
        k = proto_http_chunk_end(buf + n, sizeof(buf) - n);
        ck_assert_int_eq(k, 2);
        n += 2;
    }
    ck_assert_int_eq(proto_http_chunk_last(buf + n, sizeof(buf) - n), 5);
    n += 5;
    decode(buf, n, &d);
    ck_assert(d.complete);
    ck_assert_uint_eq(d.body_len, 11 + 1 + 26);
    ck_assert(memcmp(d.body, "first band x0123456789abcdef0123456789", d.body_len) == 0);

    ck_assert_int_eq(proto_http_chunk_begin(0x1a, buf, sizeof(buf)), 4);
    ck_assert(memcmp(buf, "1a\r\n", 4) == 0);
    ck_assert_int_eq(proto_http_chunk_begin(UINT64_MAX, buf, sizeof(buf)),
                     (int)PROTO_HTTP_CHUNK_BEGIN_MAX);
    ck_assert(memcmp(buf, "ffffffffffffffff\r\n", 18) == 0);
    ck_assert_int_eq(proto_http_chunk_begin(0, buf, sizeof(buf)), PROTO_E_BAD_FIELD);
    ck_assert_int_eq(proto_http_chunk_begin(0x1a, buf, 3), PROTO_E_NOSPACE);
    ck_assert_int_eq(proto_http_chunk_end(buf, 1), PROTO_E_NOSPACE);
    ck_assert_int_eq(proto_http_chunk_last(buf, 4), PROTO_E_NOSPACE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_http");
    TCase *req = tcase_create("request");
    TCase *lim = tcase_create("limits");
    TCase *resp = tcase_create("response");
    SRunner *sr;
    int nf;

    tcase_add_test(req, airscan_requests);
    tcase_add_test(req, escl_backend_and_ipp_usb_requests);
    tcase_add_loop_test(req, split_at_every_byte, 0,
                        (int)(sizeof(good_streams) / sizeof(good_streams[0])));
    tcase_add_loop_test(req, rejections_split_anywhere, 0,
                        (int)(sizeof(bad_streams) / sizeof(bad_streams[0])));
    tcase_add_test(req, chunked_bodies);
    tcase_add_test(req, pipelining);
    tcase_add_test(req, keep_alive);
    tcase_add_test(req, expect_continue);
    tcase_add_test(req, targets);
    tcase_add_test(req, sticky_next_eof);
    tcase_add_loop_test(req, every_rejection, 0, (int)(sizeof(rejects) / sizeof(rejects[0])));
    tcase_add_test(req, status_for_every_error);
    suite_add_tcase(s, req);
    tcase_add_test(lim, head_limit);
    tcase_add_test(lim, header_count_limit);
    tcase_add_test(lim, body_limit);
    tcase_add_test(lim, target_limit);
    tcase_add_test(lim, bad_limits);
    tcase_add_test(lim, allocation_failure);
    suite_add_tcase(s, lim);
    tcase_add_test(resp, response_heads);
    tcase_add_test(resp, chunked_response);
    suite_add_tcase(s, resp);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
