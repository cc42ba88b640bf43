/* Scanner protocol codec: round trips, exact layouts, rejections, and a
 * fuzz-style pass (every truncation, random bytes, exact-size heap copies so
 * ASan sees any overread). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/scan.h"

typedef int (*decode_fn)(const uint8_t *, size_t, void *);

/* Feed every prefix of msg (exact-size heap copy) to dec; only the full
 * length may succeed, and it must consume `size` bytes. */
static void all_truncations(decode_fn dec, const uint8_t *msg, size_t len, int size)
{
    uint8_t out[256];
    for (size_t n = 0; n <= len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        int rc;
        memcpy(copy, msg, n);
        rc = dec(n ? copy : NULL, n, out);
        if (n < (size_t)size)
            ck_assert_int_lt(rc, 0);
        else
            ck_assert_int_eq(rc, size);
        free(copy);
    }
}

#define DEC(f) ((decode_fn)(void (*)(void))(f))

START_TEST(cmd_roundtrip_and_layout)
{
    proto_scan_cmd c = {.opcode = PROTO_SCAN_OP_SET_PARAMS, .tag = 0x11223344, .length = 32}, d;
    uint8_t buf[16];
    static const uint8_t want[16] = {'S',  'C',  'M',  'D',  1,  0, 2, 0,
                                     0x44, 0x33, 0x22, 0x11, 32, 0, 0, 0};
    ck_assert_int_eq(proto_scan_cmd_encode(&c, buf, sizeof(buf)), 16);
    ck_assert_int_eq(memcmp(buf, want, 16), 0);
    ck_assert_int_eq(proto_scan_cmd_decode(buf, 16, &d), 16);
    ck_assert_uint_eq(d.opcode, 2);
    ck_assert_uint_eq(d.tag, 0x11223344);
    ck_assert_uint_eq(d.length, 32);
    all_truncations(DEC(proto_scan_cmd_decode), buf, 16, 16);
    ck_assert_int_eq(proto_scan_cmd_encode(&c, buf, 15), PROTO_E_NOSPACE);
    c.length = PROTO_SCAN_MAX_PAYLOAD + 1;
    ck_assert_int_eq(proto_scan_cmd_encode(&c, buf, 16), PROTO_E_BAD_LENGTH);
    buf[12] = 0x01;
    buf[13] = 0x02; /* length 513 */
    ck_assert_int_eq(proto_scan_cmd_decode(buf, 16, &d), PROTO_E_BAD_LENGTH);
    buf[4] = 2;
    ck_assert_int_eq(proto_scan_cmd_decode(buf, 16, &d), PROTO_E_BAD_VERSION);
    buf[0] = 'X';
    ck_assert_int_eq(proto_scan_cmd_decode(buf, 16, &d), PROTO_E_BAD_MAGIC);
}
END_TEST

START_TEST(rsp_band_event_roundtrip)
{
    proto_scan_rsp r = {.opcode = 3, .tag = 9, .status = PROTO_SCAN_ST_WARMING_UP, .length = 20},
                   r2;
    proto_scan_band b = {.flags = PROTO_SCAN_BAND_END_OF_PAGE,
                         .page = 7,
                         .side = 1,
                         .band = 54,
                         .first_line = 3456,
                         .line_count = 51,
                         .byte_count = 51 * 7440,
                         .status = 0,
                         .crc32 = 0xDEADBEEF},
                    b2;
    proto_scan_event e = {.code = PROTO_SCAN_EVT_PAPER_JAM, .page = 2, .arg = 4}, e2;
    uint8_t buf[64];
    uint32_t magic;

    ck_assert_int_eq(proto_scan_rsp_encode(&r, buf, sizeof(buf)), 20);
    ck_assert_int_eq(proto_scan_peek_magic(buf, 20, &magic), 0);
    ck_assert_uint_eq(magic, PROTO_SCAN_MAGIC_RSP);
    ck_assert_int_eq(memcmp(buf, "SRSP", 4), 0);
    ck_assert_int_eq(proto_scan_rsp_decode(buf, 20, &r2), 20);
    ck_assert(r.opcode == r2.opcode && r.tag == r2.tag && r.status == r2.status &&
              r.length == r2.length);
    all_truncations(DEC(proto_scan_rsp_decode), buf, 20, 20);
    r.status = 99;
    ck_assert_int_eq(proto_scan_rsp_encode(&r, buf, sizeof(buf)), PROTO_E_BAD_FIELD);

    ck_assert_int_eq(proto_scan_band_encode(&b, buf, sizeof(buf)), 40);
    ck_assert_int_eq(memcmp(buf, "SBND", 4), 0);
    ck_assert_uint_eq(proto_get_le32(buf + 36), 0xDEADBEEF);
    ck_assert_uint_eq(proto_get_le16(buf + 12), 1);
    ck_assert_int_eq(proto_scan_band_decode(buf, 40, &b2), 40);
    ck_assert(b.flags == b2.flags && b.page == b2.page && b.side == b2.side && b.band == b2.band &&
              b.first_line == b2.first_line && b.line_count == b2.line_count &&
              b.byte_count == b2.byte_count && b.status == b2.status && b.crc32 == b2.crc32);
    all_truncations(DEC(proto_scan_band_decode), buf, 40, 40);
    /* rejections */
    b2 = b;
    b2.byte_count = PROTO_SCAN_MAX_BAND_DATA + 1;
    ck_assert_int_eq(proto_scan_band_encode(&b2, buf, sizeof(buf)), PROTO_E_BAD_LENGTH);
    b2 = b;
    b2.status = PROTO_SCAN_ST_PAPER_JAM; /* an error status must end the job, no data */
    ck_assert_int_lt(proto_scan_band_encode(&b2, buf, sizeof(buf)), 0);
    b2.flags = PROTO_SCAN_BAND_END_OF_JOB;
    b2.line_count = b2.byte_count = 0;
    ck_assert_int_eq(proto_scan_band_encode(&b2, buf, sizeof(buf)), 40);
    ck_assert_int_eq(proto_scan_band_decode(buf, 40, &b), 40);
    ck_assert_uint_eq(b.status, PROTO_SCAN_ST_PAPER_JAM);
    buf[6] = 0x80; /* unknown flag */
    ck_assert_int_eq(proto_scan_band_decode(buf, 40, &b), PROTO_E_BAD_FIELD);

    ck_assert_int_eq(proto_scan_event_encode(&e, buf, sizeof(buf)), 16);
    ck_assert_int_eq(memcmp(buf, "SEVT", 4), 0);
    ck_assert_int_eq(proto_scan_event_decode(buf, 16, &e2), 16);
    ck_assert(e.code == e2.code && e.page == e2.page && e.arg == e2.arg);
    all_truncations(DEC(proto_scan_event_decode), buf, 16, 16);
    buf[6] = 0;
    ck_assert_int_eq(proto_scan_event_decode(buf, 16, &e2), PROTO_E_BAD_CODE);
}
END_TEST

START_TEST(payloads_roundtrip)
{
    proto_scan_caps c = {.sources = 3,
                         .modes = 7,
                         .max_width_um = 210000,
                         .max_height_um = 297000,
                         .feeder_capacity = 50,
                         .band_lines = 64,
                         .max_in_transfer = 952360,
                         .n_resolutions = 3,
                         .resolutions = {150, 300, 600}},
                    c2;
    proto_scan_params p = {.source = 1,
                           .mode = 2,
                           .dpi = 300,
                           .flags = 1,
                           .pages = 3,
                           .width_px = 0,
                           .height_px = 0,
                           .seed = 0x0102030405060708ull},
                      p2;
    proto_scan_job j = {.source = 1,
                        .mode = 2,
                        .dpi = 300,
                        .pages = 3,
                        .width_px = 2480,
                        .height_px = 3507,
                        .bits_per_pixel = 24,
                        .bytes_per_line = 7440,
                        .band_lines = 64,
                        .bands_per_page = 55,
                        .max_in_transfer = 476200,
                        .seed = 42},
                   j2;
    proto_scan_devstatus s = {.state = 1,
                              .sheets_loaded = 10,
                              .cover_open = 0,
                              .pages_done = 0,
                              .warmup_remaining_ms = 1999},
                         s2;
    uint8_t buf[64];

    ck_assert_int_eq(proto_scan_caps_encode(&c, buf, sizeof(buf)), 64);
    ck_assert_int_eq(proto_scan_caps_decode(buf, 64, &c2), 64);
    ck_assert(c.sources == c2.sources && c.modes == c2.modes && c.max_width_um == c2.max_width_um &&
              c.max_height_um == c2.max_height_um && c.feeder_capacity == c2.feeder_capacity &&
              c.band_lines == c2.band_lines && c.max_in_transfer == c2.max_in_transfer &&
              c.n_resolutions == c2.n_resolutions &&
              memcmp(c.resolutions, c2.resolutions, sizeof(c.resolutions)) == 0);
    all_truncations(DEC(proto_scan_caps_decode), buf, 64, 64);
    buf[28] = 17; /* n_resolutions beyond the array */
    ck_assert_int_eq(proto_scan_caps_decode(buf, 64, &c2), PROTO_E_BAD_LENGTH);
    c.resolutions[1] = 100; /* not ascending */
    ck_assert_int_eq(proto_scan_caps_encode(&c, buf, sizeof(buf)), PROTO_E_BAD_FIELD);

    ck_assert_int_eq(proto_scan_params_encode(&p, buf, sizeof(buf)), 32);
    ck_assert_uint_eq(buf[24], 8);
    ck_assert_int_eq(proto_scan_params_decode(buf, 32, &p2), 32);
    ck_assert(p.source == p2.source && p.mode == p2.mode && p.dpi == p2.dpi &&
              p.flags == p2.flags && p.pages == p2.pages && p.width_px == p2.width_px &&
              p.height_px == p2.height_px && p.seed == p2.seed);
    all_truncations(DEC(proto_scan_params_decode), buf, 32, 32);
    buf[1] = 5;
    ck_assert_int_eq(proto_scan_params_decode(buf, 32, &p2), PROTO_E_BAD_FIELD);

    ck_assert_int_eq(proto_scan_job_encode(&j, buf, sizeof(buf)), 48);
    ck_assert_int_eq(proto_scan_job_decode(buf, 48, &j2), 48);
    ck_assert(j.source == j2.source && j.mode == j2.mode && j.dpi == j2.dpi &&
              j.pages == j2.pages && j.width_px == j2.width_px && j.height_px == j2.height_px &&
              j.bits_per_pixel == j2.bits_per_pixel && j.bytes_per_line == j2.bytes_per_line &&
              j.band_lines == j2.band_lines && j.bands_per_page == j2.bands_per_page &&
              j.max_in_transfer == j2.max_in_transfer && j.seed == j2.seed);
    all_truncations(DEC(proto_scan_job_decode), buf, 48, 48);
    j2 = j;
    j2.bytes_per_line = 7441;
    ck_assert_int_eq(proto_scan_job_encode(&j2, buf, sizeof(buf)), PROTO_E_BAD_FIELD);
    j2 = j;
    j2.bands_per_page = 54;
    ck_assert_int_eq(proto_scan_job_encode(&j2, buf, sizeof(buf)), PROTO_E_BAD_FIELD);
    j2 = j;
    j2.max_in_transfer = 1000;
    ck_assert_int_eq(proto_scan_job_encode(&j2, buf, sizeof(buf)), PROTO_E_BAD_LENGTH);

    ck_assert_int_eq(proto_scan_devstatus_encode(&s, buf, sizeof(buf)), 20);
    ck_assert_int_eq(proto_scan_devstatus_decode(buf, 20, &s2), 20);
    ck_assert(s.state == s2.state && s.sheets_loaded == s2.sheets_loaded &&
              s.cover_open == s2.cover_open && s.pages_done == s2.pages_done &&
              s.warmup_remaining_ms == s2.warmup_remaining_ms);
    all_truncations(DEC(proto_scan_devstatus_decode), buf, 20, 20);
}
END_TEST

START_TEST(names_and_crc)
{
    ck_assert_str_eq(proto_scan_status_name(PROTO_SCAN_ST_PAPER_JAM), "PAPER_JAM");
    ck_assert_str_eq(proto_scan_status_name(999), "?");
    ck_assert_str_eq(proto_scan_status_str(PROTO_SCAN_ST_FEEDER_EMPTY), "feeder empty");
    ck_assert_uint_eq(proto_crc32(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(proto_crc32(proto_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    ck_assert_uint_eq(proto_scan_mode_bpp(PROTO_SCAN_MODE_BW), 1);
    ck_assert_uint_eq(proto_scan_mode_bpp(PROTO_SCAN_MODE_COLOR48), 48);
    ck_assert_uint_eq(proto_scan_mode_bpp(5), 0);
}
END_TEST

/* Bit-at-a-time CRC-32 (reflected 0xEDB88320, init and final inversion):
 * the definition, against which the library's SIMD paths are checked. */
static uint32_t crc32_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* proto_crc32 takes different code for short tails, folded blocks and
 * multi-lane loops: every length 0..1100 at every alignment 0..15, a band
 * size and a chain split at every place, against the definition. */
START_TEST(crc_matches_definition)
{
    enum { N = 476160 + 64 };
    uint8_t *buf = malloc(N);
    ck_assert_ptr_nonnull(buf);
    uint64_t x = 0x243F6A8885A308D3ull;
    for (size_t i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(x >> 56);
    }
    for (size_t len = 0; len <= 1100; len++)
        for (size_t off = 0; off < 16; off++)
            ck_assert_uint_eq(proto_crc32(0, buf + off, len), crc32_bitwise(0, buf + off, len));
    uint32_t whole = crc32_bitwise(0, buf + 3, 476160);
    ck_assert_uint_eq(proto_crc32(0, buf + 3, 476160), whole);
    for (size_t cut = 0; cut <= 476160; cut += 4093)
        ck_assert_uint_eq(proto_crc32(proto_crc32(0, buf + 3, cut), buf + 3 + cut, 476160 - cut),
                          whole);
    free(buf);
}
END_TEST

/* Random bytes, with valid magics and versions planted half of the time, into
 * every decoder: no crash, no overread, and success only with a full size. */
START_TEST(fuzz_random)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    static const uint32_t magics[4] = {PROTO_SCAN_MAGIC_CMD, PROTO_SCAN_MAGIC_RSP,
                                       PROTO_SCAN_MAGIC_BND, PROTO_SCAN_MAGIC_EVT};
    for (int iter = 0; iter < 20000; iter++) {
        size_t n;
        uint8_t *buf;
        union {
            proto_scan_cmd c;
            proto_scan_rsp r;
            proto_scan_band b;
            proto_scan_event e;
            proto_scan_caps ca;
            proto_scan_params p;
            proto_scan_job j;
            proto_scan_devstatus s;
        } u;
        int rc;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        n = (size_t)(x % 80);
        buf = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* small values make range checks pass more often */
            buf[i] = (x & 1) ? (uint8_t)(x >> 8) : (uint8_t)((x >> 8) & 3);
        }
        if ((x >> 40) & 1 && n >= 6) {
            proto_put_le32(buf, magics[(x >> 41) & 3]);
            proto_put_le16(buf + 4, 1);
        }
        rc = proto_scan_cmd_decode(buf, n, &u.c);
        ck_assert(rc < 0 || (rc == 16 && n >= 16));
        rc = proto_scan_rsp_decode(buf, n, &u.r);
        ck_assert(rc < 0 || (rc == 20 && n >= 20));
        rc = proto_scan_band_decode(buf, n, &u.b);
        ck_assert(rc < 0 || (rc == 40 && n >= 40));
        rc = proto_scan_event_decode(buf, n, &u.e);
        ck_assert(rc < 0 || (rc == 16 && n >= 16));
        rc = proto_scan_caps_decode(buf, n, &u.ca);
        ck_assert(rc < 0 || (rc == 64 && n >= 64 && u.ca.n_resolutions <= 16));
        rc = proto_scan_params_decode(buf, n, &u.p);
        ck_assert(rc < 0 || (rc == 32 && n >= 32));
        rc = proto_scan_job_decode(buf, n, &u.j);
        ck_assert(rc < 0 || (rc == 48 && n >= 48));
        rc = proto_scan_devstatus_decode(buf, n, &u.s);
        ck_assert(rc < 0 || (rc == 20 && n >= 20));
        rc = proto_scan_peek_magic(buf, n, NULL);
        ck_assert(rc <= 0);
        free(buf);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_scan");
    TCase *tc = tcase_create("codec");
    SRunner *sr;
    int nf;

    tcase_add_test(tc, cmd_roundtrip_and_layout);
    tcase_add_test(tc, rsp_band_event_roundtrip);
    tcase_add_test(tc, payloads_roundtrip);
    tcase_add_test(tc, names_and_crc);
    tcase_add_test(tc, crc_matches_definition);
    tcase_add_test(tc, fuzz_random);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
