/* The codecs of the driver's eSCL client: the HTTP/1.1 response parser
 * (split at every byte, Content-Length, chunked, close-delimited, limits),
 * the ScannerCapabilities and ScannerStatus parsers against documents
 * written here from the eSCL element list, and the ScanSettings writer
 * (read back by the front's parser). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/escl.h"
#include "protocol/http.h"

/* ---- response parser ---------------------------------------------------------------- */

typedef struct outcome {
    int rc;    /* last result: DONE or an error */
    int heads; /* HEAD events */
    int status;
    uint8_t body[65536];
    size_t body_len;
    size_t used; /* bytes consumed in total */
} outcome;

/* Feed msg in pieces: first piece `split` bytes, the rest in pieces of
 * `step` (0: all at once); eof after everything when eof is set. */
static void run(const char *msg, size_t len, size_t split, size_t step, int eof,
                const proto_http_resp_limits *lim, outcome *o)
{
    proto_http_resp_parser *p;
    size_t off = 0;

    memset(o, 0, sizeof(*o));
    ck_assert_int_eq(proto_http_resp_parser_new(lim, &p), PROTO_OK);
    o->rc = PROTO_HTTP_RESP_MORE;
    while (off < len) {
        size_t piece = off == 0 && split ? split : (step ? step : len - off);
        size_t end = off + piece > len ? len : off + piece, pos = off;

        while (pos < end) {
            const uint8_t *d;
            size_t used, dl;
            int rc = proto_http_resp_feed(p, (const uint8_t *)msg + pos, end - pos, &used, &d, &dl);

            ck_assert_uint_le(used, end - pos);
            pos += used;
            o->used += used;
            if (rc < 0 || rc == PROTO_HTTP_RESP_DONE) {
                o->rc = rc;
                goto out;
            }
            if (rc == PROTO_HTTP_RESP_HEAD) {
                o->heads++;
                o->status = proto_http_resp_head(p)->status;
            }
            if (rc == PROTO_HTTP_RESP_BODY) {
                ck_assert_uint_gt(dl, 0);
                ck_assert(d >= (const uint8_t *)msg && d + dl <= (const uint8_t *)msg + len);
                ck_assert_uint_le(o->body_len + dl, sizeof(o->body));
                memcpy(o->body + o->body_len, d, dl);
                o->body_len += dl;
            }
            if (rc == PROTO_HTTP_RESP_MORE)
                ck_assert_uint_eq(pos, end);
        }
        off = end;
    }
    {
        /* events due without more bytes (DONE after the head of a bodyless
         * response or after the last body byte) */
        const uint8_t *d;
        size_t used, dl;
        int rc = proto_http_resp_feed(p, (const uint8_t *)msg + len, 0, &used, &d, &dl);

        if (rc < 0 || rc == PROTO_HTTP_RESP_DONE) {
            o->rc = rc;
            goto out;
        }
    }
    if (eof)
        o->rc = proto_http_resp_eof(p);
out:
    proto_http_resp_parser_free(p);
}

#define S(x) x, sizeof(x) - 1

static const char cl_msg[] = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 11\r\n"
                             "X-Other:  padded value  \r\n\r\nhello world"
                             "HTTP/1.1 404 Not Found\r\n\r\n";

START_TEST(content_length_every_split)
{
    outcome o;
    size_t msg_len = strlen(cl_msg) - strlen("HTTP/1.1 404 Not Found\r\n\r\n");

    for (size_t split = 0; split <= strlen(cl_msg); split++) {
        run(cl_msg, strlen(cl_msg), split, 0, 0, NULL, &o);
        ck_assert_int_eq(o.rc, PROTO_HTTP_RESP_DONE);
        ck_assert_int_eq(o.heads, 1);
        ck_assert_int_eq(o.status, 200);
        ck_assert_uint_eq(o.body_len, 11);
        ck_assert(memcmp(o.body, "hello world", 11) == 0);
        ck_assert_uint_eq(o.used, msg_len); /* the next response is not consumed */
    }
    run(cl_msg, strlen(cl_msg), 0, 1, 0, NULL, &o); /* byte by byte */
    ck_assert_int_eq(o.rc, PROTO_HTTP_RESP_DONE);
    ck_assert_uint_eq(o.body_len, 11);
}
END_TEST

START_TEST(head_fields)
{
    proto_http_resp_parser *p;
    const uint8_t *d;
    size_t used, dl;
    static const char m[] = "HTTP/1.1 201 Created\nLocation: http://h/eSCL/ScanJobs/7\n"
                            "Retry-After: 3\nContent-Length: 0\nConnection: close\n\n";
    const proto_http_response *h;

    ck_assert_int_eq(proto_http_resp_parser_new(NULL, &p), PROTO_OK);
    ck_assert_int_eq(proto_http_resp_feed(p, (const uint8_t *)m, strlen(m), &used, &d, &dl),
                     PROTO_HTTP_RESP_HEAD);
    h = proto_http_resp_head(p);
    ck_assert_int_eq(h->status, 201);
    ck_assert_str_eq(h->reason, "Created");
    ck_assert_str_eq(h->location, "http://h/eSCL/ScanJobs/7");
    ck_assert_str_eq(h->retry_after, "3");
    ck_assert(h->has_length && h->content_length == 0);
    ck_assert(!h->keep_alive);
    ck_assert_str_eq(proto_http_resp_header(p, "location"), "http://h/eSCL/ScanJobs/7");
    ck_assert_int_eq(proto_http_resp_feed(p, (const uint8_t *)m + used, 0, &used, &d, &dl),
                     PROTO_HTTP_RESP_DONE);
    proto_http_resp_parser_reset(p);
    ck_assert_ptr_null(proto_http_resp_head(p));
    proto_http_resp_parser_free(p);
}
END_TEST

static const char chunked_msg[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n"
                                  "1;name=value\r\n \r\n"
                                  "00005 ; x\r\nworld\r\n"
                                  "0\r\nX-Trailer: 1\r\n\r\n";

START_TEST(chunked_every_split)
{
    outcome o;

    for (size_t split = 0; split <= strlen(chunked_msg); split++) {
        for (size_t step = 0; step <= 3; step += 3) {
            run(chunked_msg, strlen(chunked_msg), split, step, 0, NULL, &o);
            ck_assert_int_eq(o.rc, PROTO_HTTP_RESP_DONE);
            ck_assert_uint_eq(o.body_len, 11);
            ck_assert(memcmp(o.body, "hello world", 11) == 0);
            ck_assert_uint_eq(o.used, strlen(chunked_msg));
        }
    }
    /* cut anywhere before the end: truncated at eof */
    for (size_t cut = 1; cut < strlen(chunked_msg); cut++) {
        run(chunked_msg, cut, 0, 0, 1, NULL, &o);
        ck_assert_int_eq(o.rc, PROTO_E_TRUNCATED);
    }
}
END_TEST

START_TEST(close_delimited)
{
    static const char m[] = "HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n<a>body</a>";
    outcome o;

    for (size_t split = 0; split <= strlen(m); split++) {
        run(m, strlen(m), split, 0, 1, NULL, &o);
        ck_assert_int_eq(o.rc, PROTO_HTTP_RESP_DONE);
        ck_assert_uint_eq(o.body_len, 11);
    }
    /* an eof before the head ends is a truncation, and so is one mid-body
     * of known length */
    run(m, 20, 0, 0, 1, NULL, &o);
    ck_assert_int_eq(o.rc, PROTO_E_TRUNCATED);
    run(cl_msg, 70, 0, 0, 1, NULL, &o);
    ck_assert_int_eq(o.rc, PROTO_E_TRUNCATED);
}
END_TEST

START_TEST(interim_and_bodyless)
{
    static const char m1[] =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static const char m2[] = "HTTP/1.1 204 No Content\r\n\r\n";
    static const char m3[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n";
    outcome o;

    run(m1, strlen(m1), 0, 1, 0, NULL, &o);
    ck_assert_int_eq(o.rc, PROTO_HTTP_RESP_DONE);
    ck_assert_int_eq(o.heads, 1);
    ck_assert_int_eq(o.status, 200);
    ck_assert_uint_eq(o.body_len, 2);
    run(m2, strlen(m2), 0, 0, 0, NULL, &o);
    ck_assert_int_eq(o.rc, PROTO_HTTP_RESP_DONE);
    ck_assert_int_eq(o.status, 204);
    run(m3, strlen(m3), 0, 0, 0, NULL, &o);
    ck_assert_int_eq(o.rc, PROTO_E_HTTP_RESPONSE);
}
END_TEST

START_TEST(rejections)
{
    static const struct {
        const char *msg;
        int err;
    } cases[] = {
        {"HTTP/2 200 OK\r\n\r\n", PROTO_E_HTTP_RESPONSE},
        {"HTTP/1.1 20 OK\r\n\r\n", PROTO_E_HTTP_RESPONSE},
        {"ICY 200 OK\r\n\r\n", PROTO_E_HTTP_RESPONSE},
        {"\r\nHTTP/1.1 200 OK\r\n\r\n", PROTO_E_HTTP_RESPONSE},
        {"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", PROTO_E_HTTP_RESPONSE},
        {"HTTP/1.1 200 OK\r\nBad Name: b\r\n\r\n", PROTO_E_HTTP_RESPONSE},
        {"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", PROTO_E_HTTP_RESPONSE},
        {"HTTP/1.1 200 OK\r\nA: \x01\r\n\r\n", PROTO_E_HTTP_RESPONSE},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", PROTO_E_HTTP_FRAMING},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", PROTO_E_HTTP_FRAMING},
        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         PROTO_E_HTTP_FRAMING},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", PROTO_E_HTTP_FRAMING},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", PROTO_E_HTTP_CODING},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", PROTO_E_HTTP_BAD_CHUNK},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX", PROTO_E_HTTP_BAD_CHUNK},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
         PROTO_E_HTTP_BAD_CHUNK},
    };
    outcome o;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(cases[i].msg, strlen(cases[i].msg), 0, 0, 0, NULL, &o);
        ck_assert_msg(o.rc == cases[i].err, "case %zu: %d, expected %d", i, o.rc, cases[i].err);
        run(cases[i].msg, strlen(cases[i].msg), 0, 1, 0, NULL, &o);
        ck_assert_msg(o.rc == cases[i].err, "case %zu bytewise: %d", i, o.rc);
    }
    /* a CR-LF split must still be one line end */
    run(S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 16, 0, 0, NULL, &o);
    ck_assert_int_eq(o.rc, PROTO_HTTP_RESP_DONE);
}
END_TEST

START_TEST(limits)
{
    proto_http_resp_limits lim;
    char *big = malloc(PROTO_HTTP_MAX_RESP_HEAD * 2);
    outcome o;
    size_t n;

    memset(&lim, 0, sizeof(lim));
    lim.max_head = 256;
    n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nX: ");
    memset(big + n, 'a', 300);
    strcpy(big + n + 300, "\r\n\r\n");
    run(big, strlen(big), 0, 7, 0, &lim, &o);
    ck_assert_int_eq(o.rc, PROTO_E_HTTP_HEAD_TOO_LARGE);

    lim.max_head = 0;
    lim.max_headers = 4;
    run(S("HTTP/1.1 200 OK\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n"), 0, 0, 0, &lim, &o);
    ck_assert_int_eq(o.rc, PROTO_E_HTTP_TOO_MANY_HEADERS);

    lim.max_headers = 0;
    lim.max_body = 10;
    run(S("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"), 0, 0, 0, &lim, &o);
    ck_assert_int_eq(o.rc, PROTO_E_HTTP_BODY_TOO_LARGE);
    run(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello "
          "\r\n5\r\nworld\r\n0\r\n\r\n"),
        0, 0, 0, &lim, &o);
    ck_assert_int_eq(o.rc, PROTO_E_HTTP_BODY_TOO_LARGE);
    ck_assert_uint_eq(o.body_len, 6);
    run(S("HTTP/1.1 200 OK\r\n\r\nhello world"), 0, 0, 1, &lim, &o);
    ck_assert_int_eq(o.rc, PROTO_E_HTTP_BODY_TOO_LARGE);

    /* chunk extensions and trailers are bounded */
    lim.max_body = 0;
    lim.max_head = 512;
    n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;");
    memset(big + n, 'e', PROTO_HTTP_MAX_CHUNK_LINE + 10);
    strcpy(big + n + PROTO_HTTP_MAX_CHUNK_LINE + 10, "\r\nx\r\n0\r\n\r\n");
    run(big, strlen(big), 0, 100, 0, &lim, &o);
    ck_assert_int_eq(o.rc, PROTO_E_HTTP_BAD_CHUNK);
    n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ");
    memset(big + n, 't', 600);
    strcpy(big + n + 600, "\r\n\r\n");
    run(big, strlen(big), 0, 0, 0, &lim, &o);
    ck_assert_int_eq(o.rc, PROTO_E_HTTP_HEAD_TOO_LARGE);

    lim.max_head = PROTO_HTTP_MAX_RESP_HEAD + 1;
    {
        proto_http_resp_parser *p = (proto_http_resp_parser *)1;
        ck_assert_int_eq(proto_http_resp_parser_new(&lim, &p), PROTO_E_BAD_FIELD);
        ck_assert_ptr_null(p);
    }
    free(big);
}
END_TEST

START_TEST(errors_are_sticky)
{
    proto_http_resp_parser *p;
    const uint8_t *d;
    size_t used, dl;
    static const char m[] = "HTTP/1.1 2xx\r\n\r\n";

    ck_assert_int_eq(proto_http_resp_parser_new(NULL, &p), PROTO_OK);
    ck_assert_int_eq(proto_http_resp_feed(p, (const uint8_t *)m, strlen(m), &used, &d, &dl),
                     PROTO_E_HTTP_RESPONSE);
    ck_assert_int_eq(proto_http_resp_feed(p, (const uint8_t *)m, strlen(m), &used, &d, &dl),
                     PROTO_E_HTTP_RESPONSE);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(proto_http_resp_eof(p), PROTO_E_HTTP_RESPONSE);
    proto_http_resp_parser_reset(p);
    ck_assert(!proto_http_resp_started(p));
    proto_http_resp_parser_free(p);
}
END_TEST

/* ---- capabilities -------------------------------------------------------------------- */

#define NS                                                                                         \
    " xmlns:pwg=\"http://www.pwg.org/schemas/2010/12/sm\""                                         \
    " xmlns:scan=\"http://schemas.hp.com/imaging/escl/2011/05/03\""

#define PROFILE(modes, formats, res)                                                               \
    "<scan:SettingProfiles><scan:SettingProfile><scan:ColorModes>" modes                           \
    "</scan:ColorModes><scan:DocumentFormats>" formats                                             \
    "</scan:DocumentFormats><scan:SupportedResolutions>" res                                       \
    "</scan:SupportedResolutions></scan:SettingProfile></scan:SettingProfiles>"

#define DISCRETE(x, y)                                                                             \
    "<scan:DiscreteResolution><scan:XResolution>" #x "</scan:XResolution><scan:YResolution>" #y    \
    "</scan:YResolution></scan:DiscreteResolution>"

#define SIZES                                                                                      \
    "<scan:MinWidth>16</scan:MinWidth><scan:MaxWidth>2550</scan:MaxWidth>"                         \
    "<scan:MinHeight>16</scan:MinHeight><scan:MaxHeight>3508</scan:MaxHeight>"

static int caps(const char *doc, proto_escl_caps_info *c, proto_escl_diag *d)
{
    return proto_escl_caps_parse((const uint8_t *)doc, strlen(doc), c, d);
}

START_TEST(caps_adf_only)
{
    static const char doc[] =
        "<?xml version=\"1.0\"?><scan:ScannerCapabilities" NS ">"
        "<pwg:Version>2.63</pwg:Version><pwg:MakeAndModel>Acme ADF 1</pwg:MakeAndModel>"
        "<scan:Adf><scan:AdfSimplexInputCaps>" SIZES
        "<scan:MaxScanRegions>1</scan:MaxScanRegions>" PROFILE(
            "<scan:ColorMode>RGB24</scan:ColorMode><scan:ColorMode>Grayscale8</scan:ColorMode>",
            "<pwg:DocumentFormat>image/jpeg</pwg:DocumentFormat>"
            "<pwg:DocumentFormat>application/pdf</pwg:DocumentFormat>",
            "<scan:DiscreteResolutions>" DISCRETE(300, 300) DISCRETE(150, 150) DISCRETE(150, 150)
                DISCRETE(
                    600,
                    300) "</scan:DiscreteResolutions>") "</"
                                                        "scan:AdfSimplexInputCaps><scan:"
                                                        "FeederCapacity>50</scan:FeederCapacity>"
                                                        "<scan:AdfOptions><scan:AdfOption>"
                                                        "DetectPaperLoaded</scan:AdfOption>"
                                                        "</scan:AdfOptions></scan:Adf></"
                                                        "scan:ScannerCapabilities>";
    proto_escl_caps_info c;
    proto_escl_diag d;

    ck_assert_int_eq(caps(doc, &c, &d), PROTO_OK);
    ck_assert_str_eq(c.version, "2.63");
    ck_assert_str_eq(c.make_and_model, "Acme ADF 1");
    ck_assert(!c.platen.caps.present);
    ck_assert(c.adf_simplex.caps.present);
    ck_assert(!c.adf_duplex.caps.present);
    ck_assert_uint_eq(c.adf_simplex.caps.max_width, 2550);
    ck_assert_uint_eq(c.adf_simplex.caps.min_height, 16);
    ck_assert_uint_eq(c.adf_simplex.caps.color_modes,
                      (1u << PROTO_ESCL_COLOR_RGB24) | (1u << PROTO_ESCL_COLOR_GRAY8));
    ck_assert_uint_eq(c.adf_simplex.caps.formats,
                      (1u << PROTO_ESCL_FORMAT_JPEG) | (1u << PROTO_ESCL_FORMAT_PDF));
    ck_assert_uint_eq(c.adf_simplex.caps.n_resolutions, 2); /* 150 merged, 600x300 dropped */
    ck_assert_uint_eq(c.adf_simplex.caps.resolutions[0], 150);
    ck_assert_uint_eq(c.adf_simplex.caps.resolutions[1], 300);
    ck_assert_uint_eq(c.adf_simplex.dropped_resolutions, 1);
    ck_assert_uint_eq(c.feeder_capacity, 50);
    ck_assert_uint_eq(c.adf_options, PROTO_ESCL_ADF_DETECT_PAPER_LOADED);
    ck_assert(proto_escl_source_has_resolution(&c.adf_simplex, 300));
    ck_assert(!proto_escl_source_has_resolution(&c.adf_simplex, 600));
}
END_TEST

START_TEST(caps_platen_only_minimal)
{
    /* the optional elements all missing, a default namespace for scan:
     * and a pwg element in the scan namespace (firmware mixes them up) */
    static const char doc[] =
        "<ScannerCapabilities xmlns=\"http://schemas.hp.com/imaging/escl/2011/05/03\""
        " xmlns:pwg=\"http://www.pwg.org/schemas/2010/12/sm\"><Version>2.0</Version>"
        "<Platen><PlatenInputCaps><MaxWidth>2480</MaxWidth><MaxHeight>3507</MaxHeight>"
        "<SettingProfiles><SettingProfile><ColorModes><ColorMode>BlackAndWhite1</ColorMode>"
        "<ColorMode>Grayscale16</ColorMode><ColorMode>Sepia99</ColorMode></ColorModes>"
        "<DocumentFormats><pwg:DocumentFormat>image/png</pwg:DocumentFormat>"
        "<DocumentFormatExt>image/x-vendor</DocumentFormatExt></DocumentFormats>"
        "<SupportedResolutions><DiscreteResolutions><DiscreteResolution>"
        "<XResolution>75</XResolution></DiscreteResolution></DiscreteResolutions>"
        "</SupportedResolutions></SettingProfile></SettingProfiles></PlatenInputCaps></Platen>"
        "</ScannerCapabilities>";
    proto_escl_caps_info c;

    ck_assert_int_eq(caps(doc, &c, NULL), PROTO_OK);
    ck_assert(c.platen.caps.present);
    ck_assert(!c.adf_simplex.caps.present);
    ck_assert_str_eq(c.make_and_model, "");
    ck_assert_uint_eq(c.platen.caps.min_width, 0);
    ck_assert_uint_eq(c.platen.caps.color_modes,
                      (1u << PROTO_ESCL_COLOR_BW1) | (1u << PROTO_ESCL_COLOR_GRAY16));
    ck_assert_uint_eq(c.platen.caps.formats,
                      (1u << PROTO_ESCL_FORMAT_PNG) | (1u << PROTO_ESCL_FORMAT_OTHER));
    ck_assert_uint_eq(c.platen.caps.n_resolutions, 1);
    ck_assert_uint_eq(c.platen.caps.resolutions[0], 75);
    ck_assert_uint_eq(c.compression_max, 0);
}
END_TEST

START_TEST(caps_duplex_range_unknown)
{
    static const char doc[] =
        "<scan:ScannerCapabilities" NS " xmlns:v=\"urn:vendor\"><pwg:Version>2.5</pwg:Version>"
        "<v:Secret><scan:Platen>not this one</scan:Platen></v:Secret>"
        "<scan:UnknownThing><scan:Nested>1</scan:Nested></scan:UnknownThing>"
        "<scan:Adf><scan:AdfSimplexInputCaps>" SIZES PROFILE(
            "<scan:ColorMode>RGB24</scan:ColorMode>",
            "<pwg:DocumentFormat>image/png</pwg:DocumentFormat>",
            "<scan:ResolutionRange><scan:XResolutionRange><scan:Min>75</scan:Min>"
            "<scan:Max>600</scan:Max><scan:Normal>300</scan:Normal><scan:Step>25</scan:Step>"
            "</scan:XResolutionRange><scan:YResolutionRange><scan:Min>75</scan:Min>"
            "<scan:Max>1200</scan:Max><scan:Step>25</scan:Step></scan:YResolutionRange>"
            "</scan:ResolutionRange>") "</scan:AdfSimplexInputCaps>"
                                       "<scan:AdfDuplexInputCaps>" SIZES PROFILE(
                                           "<scan:ColorMode>Grayscale8</scan:ColorMode>",
                                           "<scan:DocumentFormatExt>IMAGE/PNG</"
                                           "scan:DocumentFormatExt>",
                                           "<scan:DiscreteResolutions>" DISCRETE(
                                               200,
                                               200) "</scan:DiscreteResolutions>") "</"
                                                                                   "scan:"
                                                                                   "AdfDuplexInputC"
                                                                                   "aps><scan:"
                                                                                   "AdfOptions><"
                                                                                   "scan:AdfOption>"
                                                                                   "Duplex</"
                                                                                   "scan:AdfOption>"
                                                                                   "</"
                                                                                   "scan:"
                                                                                   "AdfOptions></"
                                                                                   "scan:Adf><scan:"
                                                                                   "CompressionFact"
                                                                                   "orSupport><"
                                                                                   "scan:Min>0</"
                                                                                   "scan:Min>"
                                                                                   "<scan:Max>100</"
                                                                                   "scan:Max><scan:"
                                                                                   "Normal>10</"
                                                                                   "scan:Normal><"
                                                                                   "scan:Step>1</"
                                                                                   "scan:Step>"
                                                                                   "</"
                                                                                   "scan:"
                                                                                   "CompressionFact"
                                                                                   "orSupport></"
                                                                                   "scan:"
                                                                                   "ScannerCapabili"
                                                                                   "ties>";
    proto_escl_caps_info c;

    ck_assert_int_eq(caps(doc, &c, NULL), PROTO_OK);
    ck_assert(!c.platen.caps.present); /* only in the vendor's namespace */
    ck_assert(c.adf_simplex.caps.present && c.adf_duplex.caps.present);
    ck_assert_uint_eq(c.adf_simplex.caps.n_resolutions, 0);
    ck_assert_uint_eq(c.adf_simplex.x_range.min, 75);
    ck_assert_uint_eq(c.adf_simplex.x_range.max, 600);
    ck_assert_uint_eq(c.adf_simplex.x_range.step, 25);
    ck_assert_uint_eq(c.adf_simplex.x_range.normal, 300);
    ck_assert_uint_eq(c.adf_simplex.y_range.max, 1200);
    ck_assert(proto_escl_source_has_resolution(&c.adf_simplex, 300));
    ck_assert(!proto_escl_source_has_resolution(&c.adf_simplex, 310));
    ck_assert(!proto_escl_source_has_resolution(&c.adf_simplex, 1200)); /* beyond X */
    ck_assert_uint_eq(c.adf_duplex.caps.color_modes, 1u << PROTO_ESCL_COLOR_GRAY8);
    ck_assert_uint_eq(c.adf_duplex.caps.formats, 1u << PROTO_ESCL_FORMAT_PNG);
    ck_assert(proto_escl_source_has_resolution(&c.adf_duplex, 200));
    ck_assert_uint_eq(c.adf_options, PROTO_ESCL_ADF_DUPLEX);
    ck_assert_uint_eq(c.compression_max, 100);
    ck_assert_uint_eq(c.compression_normal, 10);
}
END_TEST

START_TEST(caps_rejections)
{
    static const struct {
        const char *doc;
        int err;
    } cases[] = {
        {"<scan:ScannerStatus" NS "><pwg:Version>2.0</pwg:Version></scan:ScannerStatus>",
         PROTO_E_ESCL_ROOT},
        {"<scan:ScannerCapabilities" NS "><scan:Platen/></scan:ScannerCapabilities>",
         PROTO_E_ESCL_NO_VERSION},
        {"<scan:ScannerCapabilities" NS
         "><pwg:Version>two</pwg:Version></scan:ScannerCapabilities>",
         PROTO_E_ESCL_BAD_VERSION},
        {"<scan:ScannerCapabilities" NS
         "><pwg:Version>2.0</pwg:Version></scan:ScannerCapabilities>",
         PROTO_E_ESCL_NO_SUCH_SOURCE},
        {"<scan:ScannerCapabilities" NS "><pwg:Version>2.0</pwg:Version><scan:Platen>"
         "<scan:PlatenInputCaps><scan:MaxWidth>10</scan:MaxWidth></scan:PlatenInputCaps>"
         "</scan:Platen></scan:ScannerCapabilities>",
         PROTO_E_ESCL_BAD_REGION},
        {"<scan:ScannerCapabilities" NS "><pwg:Version>2.0</pwg:Version><scan:Platen>"
         "<scan:PlatenInputCaps><scan:MinWidth>20</scan:MinWidth><scan:MaxWidth>10</scan:MaxWidth>"
         "<scan:MaxHeight>10</scan:MaxHeight></scan:PlatenInputCaps>"
         "</scan:Platen></scan:ScannerCapabilities>",
         PROTO_E_ESCL_BAD_REGION},
        {"<scan:ScannerCapabilities" NS "><pwg:Version>2.0</pwg:Version><scan:Platen>"
         "<scan:PlatenInputCaps>" SIZES PROFILE(
             "", "",
             "<scan:DiscreteResolutions>" DISCRETE(
                 0, 0) "</scan:DiscreteResolutions>") "</scan:PlatenInputCaps>"
                                                      "</scan:Platen></scan:ScannerCapabilities>",
         PROTO_E_ESCL_BAD_RESOLUTION},
        {"<!DOCTYPE x [<!ENTITY a \"b\">]><scan:ScannerCapabilities" NS "/>", PROTO_E_ESCL_DOCTYPE},
        {"<scan:ScannerCapabilities" NS "><unclosed></scan:ScannerCapabilities>", PROTO_E_ESCL_XML},
    };
    proto_escl_caps_info c;
    proto_escl_diag d;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = caps(cases[i].doc, &c, &d);
        ck_assert_msg(rc == cases[i].err, "case %zu: %d (%s)", i, rc, d.msg);
        ck_assert_int_eq(d.err, rc);
        ck_assert(!c.platen.caps.present);
    }
    {
        size_t n = PROTO_ESCL_MAX_CAPS_DOC + 1;
        uint8_t *big = calloc(1, n);
        ck_assert_int_eq(proto_escl_caps_parse(big, n, &c, &d), PROTO_E_ESCL_TOO_LARGE);
        free(big);
    }
}
END_TEST

/* What the front's writer produces, the driver's parser reads back. */
START_TEST(caps_round_trip)
{
    static char buf[PROTO_ESCL_OUT_MAX];
    proto_escl_caps w;
    proto_escl_caps_info c;
    int n;

    memset(&w, 0, sizeof(w));
    w.make_and_model = "scanemu <virtual> & co";
    w.uuid = "12345678-1234-1234-1234-123456789abc";
    w.platen = (proto_escl_source_caps){.present = true,
                                        .max_width = 2480,
                                        .max_height = 3507,
                                        .color_modes = 1u << PROTO_ESCL_COLOR_RGB24,
                                        .formats = (1u << PROTO_ESCL_FORMAT_PNG) |
                                                   (1u << PROTO_ESCL_FORMAT_JPEG),
                                        .resolutions = {75, 150, 300, 600},
                                        .n_resolutions = 4};
    w.adf_duplex = w.platen;
    w.adf_duplex.color_modes |= 1u << PROTO_ESCL_COLOR_BW1;
    w.compression_max = 100;
    w.compression_step = 1;
    n = proto_escl_caps_write(&w, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(proto_escl_caps_parse((const uint8_t *)buf, (size_t)n, &c, NULL), PROTO_OK);
    ck_assert_str_eq(c.version, PROTO_ESCL_VERSION);
    ck_assert_str_eq(c.make_and_model, "scanemu <virtual> & co");
    ck_assert_str_eq(c.uuid, "12345678-1234-1234-1234-123456789abc");
    ck_assert(c.platen.caps.present && !c.adf_simplex.caps.present && c.adf_duplex.caps.present);
    ck_assert_uint_eq(c.platen.caps.n_resolutions, 4);
    ck_assert_uint_eq(c.platen.caps.resolutions[3], 600);
    ck_assert_uint_eq(c.platen.caps.formats, w.platen.formats);
    ck_assert_uint_eq(c.adf_duplex.caps.color_modes, w.adf_duplex.color_modes);
    ck_assert_uint_eq(c.adf_duplex.caps.max_height, 3507);
}
END_TEST

/* ---- status ---------------------------------------------------------------------------- */

START_TEST(status_round_trip_and_job)
{
    static char buf[PROTO_ESCL_OUT_MAX];
    proto_escl_job jobs[2] = {
        {.uri = "/eSCL/ScanJobs/b",
         .uuid = "b",
         .images_completed = 2,
         .state = PROTO_ESCL_JOB_ABORTED,
         .reasons = {"AbortedBySystem"},
         .n_reasons = 1},
        {.uri = "/eSCL/ScanJobs/a", .state = PROTO_ESCL_JOB_COMPLETED},
    };
    proto_escl_status w = {
        .state = PROTO_ESCL_STATE_IDLE, .adf_state = PROTO_ESCL_ADF_JAM, .jobs = jobs, .n_jobs = 2};
    proto_escl_status_info st;
    const proto_escl_job_info *j;
    int n = proto_escl_status_write(&w, buf, sizeof(buf));

    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(proto_escl_status_parse((const uint8_t *)buf, (size_t)n, &st, NULL), PROTO_OK);
    ck_assert_int_eq(st.state, PROTO_ESCL_STATE_IDLE);
    ck_assert_int_eq(st.adf_state, PROTO_ESCL_ADF_JAM);
    ck_assert_str_eq(st.adf_state_text, "ScannerAdfJam");
    ck_assert_uint_eq(st.n_jobs, 2);
    j = proto_escl_status_job(&st, "http://127.0.0.1:8080/eSCL/ScanJobs/b/");
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(j->state, PROTO_ESCL_JOB_ABORTED);
    ck_assert_str_eq(j->reason, "AbortedBySystem");
    ck_assert_uint_eq(j->images_completed, 2);
    ck_assert_ptr_eq(proto_escl_status_job(&st, "/eSCL/ScanJobs/a"), &st.jobs[1]);
    ck_assert_ptr_null(proto_escl_status_job(&st, "/eSCL/ScanJobs/c"));
    ck_assert_ptr_null(proto_escl_status_job(&st, "/eSCL/ScanJobs/"));
}
END_TEST

START_TEST(status_lenient)
{
    static const char doc[] =
        "<scan:ScannerStatus" NS "><pwg:State>Down</pwg:State>"
        "<scan:AdfState>ScannerAdfHopperError</scan:AdfState><scan:Jobs><scan:JobInfo>"
        "<pwg:JobUri>http://x/eSCL/ScanJobs/1</pwg:JobUri><pwg:JobState>Weird</pwg:JobState>"
        "<pwg:ImagesCompleted>lots</pwg:ImagesCompleted></scan:JobInfo></scan:Jobs>"
        "</scan:ScannerStatus>";
    proto_escl_status_info st;

    ck_assert_int_eq(proto_escl_status_parse((const uint8_t *)doc, strlen(doc), &st, NULL),
                     PROTO_OK);
    ck_assert_int_eq(st.state, PROTO_ESCL_STATE_DOWN);
    ck_assert_int_eq(st.adf_state, PROTO_ESCL_ADF_OTHER);
    ck_assert_str_eq(st.adf_state_text, "ScannerAdfHopperError");
    ck_assert_uint_eq(st.n_jobs, 1);
    ck_assert_int_eq(st.jobs[0].state, PROTO_ESCL_JOB_OTHER);
    ck_assert_str_eq(st.jobs[0].state_text, "Weird");
    ck_assert_uint_eq(st.jobs[0].images_completed, 0);
    ck_assert_int_eq(proto_escl_status_parse((const uint8_t *)"<a/>", 4, &st, NULL),
                     PROTO_E_ESCL_ROOT);
}
END_TEST

/* ---- ScanSettings writer ------------------------------------------------------------------ */

START_TEST(settings_write_round_trip)
{
    proto_escl_settings s, back;
    char buf[4096];
    int n;

    memset(&s, 0, sizeof(s));
    s.have = PROTO_ESCL_HAVE_SOURCE | PROTO_ESCL_HAVE_DUPLEX | PROTO_ESCL_HAVE_COLOR_MODE |
             PROTO_ESCL_HAVE_RESOLUTION | PROTO_ESCL_HAVE_REGION | PROTO_ESCL_HAVE_FORMAT |
             PROTO_ESCL_HAVE_FORMAT_EXT | PROTO_ESCL_HAVE_INTENT | PROTO_ESCL_HAVE_COMPRESSION;
    s.source = PROTO_ESCL_SOURCE_FEEDER;
    s.duplex = true;
    s.color_mode = PROTO_ESCL_COLOR_GRAY8;
    s.x_res = s.y_res = 300;
    s.width = 2480;
    s.height = 3507;
    s.format = PROTO_ESCL_FORMAT_PNG;
    s.intent = PROTO_ESCL_INTENT_DOCUMENT;
    s.compression = 10;
    n = proto_escl_settings_write(&s, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(proto_escl_settings_parse((const uint8_t *)buf, (size_t)n, &back, NULL),
                     PROTO_OK);
    ck_assert_str_eq(back.version, PROTO_ESCL_VERSION);
    ck_assert_int_eq(back.source, PROTO_ESCL_SOURCE_FEEDER);
    ck_assert(back.duplex);
    ck_assert_int_eq(back.color_mode, PROTO_ESCL_COLOR_GRAY8);
    ck_assert_uint_eq(back.x_res, 300);
    ck_assert_uint_eq(back.width, 2480);
    ck_assert_uint_eq(back.height, 3507);
    ck_assert_int_eq(back.format, PROTO_ESCL_FORMAT_PNG);
    ck_assert_uint_eq(back.have & (PROTO_ESCL_HAVE_FORMAT | PROTO_ESCL_HAVE_FORMAT_EXT),
                      PROTO_ESCL_HAVE_FORMAT | PROTO_ESCL_HAVE_FORMAT_EXT);
    ck_assert_int_eq(back.intent, PROTO_ESCL_INTENT_DOCUMENT);
    ck_assert_uint_eq(back.compression, 10);
    ck_assert_int_eq(proto_escl_settings_write(&s, buf, 100), PROTO_E_NOSPACE);
    s.width = 0;
    ck_assert_int_eq(proto_escl_settings_write(&s, buf, sizeof(buf)), PROTO_E_BAD_FIELD);
    s.width = 10;
    s.format = PROTO_ESCL_FORMAT_OTHER;
    strcpy(s.format_mime, "no mime");
    ck_assert_int_eq(proto_escl_settings_write(&s, buf, sizeof(buf)), PROTO_E_BAD_FIELD);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("proto_escl_client");
    TCase *h = tcase_create("http_response");
    TCase *c = tcase_create("escl_documents");

    tcase_add_test(h, content_length_every_split);
    tcase_add_test(h, head_fields);
    tcase_add_test(h, chunked_every_split);
    tcase_add_test(h, close_delimited);
    tcase_add_test(h, interim_and_bodyless);
    tcase_add_test(h, rejections);
    tcase_add_test(h, limits);
    tcase_add_test(h, errors_are_sticky);
    tcase_add_test(c, caps_adf_only);
    tcase_add_test(c, caps_platen_only_minimal);
    tcase_add_test(c, caps_duplex_range_unknown);
    tcase_add_test(c, caps_rejections);
    tcase_add_test(c, caps_round_trip);
    tcase_add_test(c, status_round_trip_and_job);
    tcase_add_test(c, status_lenient);
    tcase_add_test(c, settings_write_round_trip);
    suite_add_tcase(s, h);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    proto_escl_init();
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
