/* Fuzz target: the HTTP/1.1 response parser of the driver's eSCL client
 * (protocol/include/protocol/http.h, "responses in").
 *
 * The first byte picks how the rest is split into pieces (1..256 bytes, or
 * all at once); every piece is an exact-size copy. Oracles: a body slice
 * lies inside the piece fed; consumed never exceeds what was fed; the body
 * delivered equals the one the same bytes give fed at once (splitting
 * changes nothing); after DONE nothing more is consumed; errors are sticky;
 * the head's declared length is honoured. */
#include "fuzz.h"

#include "protocol/http.h"

typedef struct run {
    int rc;
    uint64_t body;
    uint32_t sum;
} run;

static run feed(const uint8_t *data, size_t size, size_t step)
{
    proto_http_resp_parser *p;
    proto_http_resp_limits lim;
    run r = {PROTO_HTTP_RESP_MORE, 0, 0};
    size_t off = 0;

    memset(&lim, 0, sizeof(lim));
    lim.max_body = 1u << 20;
    if (proto_http_resp_parser_new(&lim, &p) != PROTO_OK)
        return r;
    while (off <= size) {
        size_t n = step && size - off > step ? step : size - off;
        uint8_t *piece = fuzz_dup(data + off, n);
        size_t pos = 0;

        for (;;) {
            const uint8_t *d;
            size_t used, dl;
            int rc = proto_http_resp_feed(p, piece + pos, n - pos, &used, &d, &dl);

            FUZZ_CHECK(used <= n - pos);
            pos += used;
            if (rc == PROTO_HTTP_RESP_BODY) {
                FUZZ_CHECK(dl > 0 && d >= piece && d + dl <= piece + n);
                r.body += dl;
                for (size_t i = 0; i < dl; i++)
                    r.sum = r.sum * 31u + d[i];
            }
            if (rc < 0 || rc == PROTO_HTTP_RESP_DONE) {
                size_t again;
                const uint8_t *d2;
                size_t dl2;

                r.rc = rc;
                FUZZ_CHECK(proto_http_resp_feed(p, piece, n, &again, &d2, &dl2) == rc);
                FUZZ_CHECK(again == 0);
                free(piece);
                goto out;
            }
            if (rc == PROTO_HTTP_RESP_HEAD) {
                const proto_http_response *h = proto_http_resp_head(p);
                FUZZ_CHECK(h != NULL && h->status >= 100 && h->status <= 999);
                FUZZ_CHECK(!h->has_length || h->content_length <= lim.max_body);
            }
            if (rc == PROTO_HTTP_RESP_MORE)
                break;
        }
        FUZZ_CHECK(pos == n);
        free(piece);
        off += n;
        if (n == 0)
            break;
    }
    r.rc = proto_http_resp_eof(p);
out:
    FUZZ_CHECK(r.body == proto_http_resp_body_bytes(p));
    proto_http_resp_parser_free(p);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run whole, split;

    if (size < 1)
        return 0;
    whole = feed(data + 1, size - 1, 0);
    split = feed(data + 1, size - 1, (size_t)data[0] + 1);
    FUZZ_CHECK(whole.rc == split.rc);
    FUZZ_CHECK(whole.body == split.body && whole.sum == split.sum);
    return 0;
}
