/* device-model suite: fixtures, synthesis, timing and faults, all on the
 * virtual clock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm-internal.h"

/* ---- a tiny host driving the device ------------------------------------------- */

typedef struct host {
    dm_clock_virtual clk;
    dm_profile *prof;
    dm_scenario *scen;
    dm_device *dev;
    uint32_t tag;
    /* trace records */
    dm_trace_rec recs[4096];
    unsigned n_recs;
} host;

static void trace_cb(void *ctx, const dm_trace_rec *rec)
{
    host *h = ctx;
    if (h->n_recs < sizeof(h->recs) / sizeof(h->recs[0]))
        h->recs[h->n_recs++] = *rec;
}

static char *fixture_path(const char *rel)
{
    static char buf[1024];
    const char *src = getenv("SCANEMU_SOURCE_DIR");
    snprintf(buf, sizeof(buf), "%s/fixtures/%s", src ? src : "..", rel);
    return buf;
}

static void host_open(host *h, const char *profile, const char *scenario, uint64_t seed,
                      int timing)
{
    char err[256] = "";
    dm_device_config cfg;

    memset(h, 0, sizeof(*h));
    dm_clock_virtual_init(&h->clk, 1000000000ull);
    if (profile == NULL)
        ck_assert_msg(dm_profile_load_default(&h->prof, err, sizeof(err)) == DM_OK, "%s", err);
    else
        ck_assert_msg(dm_profile_load_file(fixture_path(profile), &h->prof, err, sizeof(err)) ==
                          DM_OK,
                      "%s", err);
    if (scenario != NULL)
        ck_assert_msg(dm_scenario_load_file(fixture_path(scenario), &h->scen, err,
                                            sizeof(err)) == DM_OK,
                      "%s", err);
    dm_device_config_init(&cfg);
    cfg.profile = h->prof;
    cfg.scenario = h->scen;
    cfg.seed = seed;
    cfg.clock = &h->clk.base;
    cfg.timing = timing;
    cfg.trace = trace_cb;
    cfg.trace_ctx = h;
    ck_assert_int_eq(dm_device_create(&cfg, &h->dev), DM_OK);
}

static void host_close(host *h)
{
    dm_device_free(h->dev);
    dm_scenario_free(h->scen);
    dm_profile_free(h->prof);
}

static void send_cmd(host *h, uint16_t op, const uint8_t *payload, uint32_t plen)
{
    uint8_t buf[PROTO_SCAN_CMD_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD];
    proto_scan_cmd c = {.opcode = op, .tag = ++h->tag, .length = plen};
    ck_assert_int_eq(proto_scan_cmd_encode(&c, buf, sizeof(buf)), PROTO_SCAN_CMD_HDR_SIZE);
    if (plen)
        memcpy(buf + PROTO_SCAN_CMD_HDR_SIZE, payload, plen);
    ck_assert_int_eq(dm_device_bulk_out(h->dev, buf, PROTO_SCAN_CMD_HDR_SIZE + plen), DM_OK);
}

/* Read one response now; returns status, payload copied to out. */
static uint32_t read_rsp(host *h, uint16_t op, uint8_t *out, size_t *outlen)
{
    dm_in in;
    proto_scan_rsp r;
    uint64_t t = dm_clock_now(&h->clk.base);

    dm_device_peek(h->dev, DM_EP_DATA_IN, t, &in);
    ck_assert_int_eq(in.kind, DM_IN_DATA);
    ck_assert_int_eq(proto_scan_rsp_decode(in.data, in.len, &r), PROTO_SCAN_RSP_HDR_SIZE);
    ck_assert_uint_eq(r.opcode, op);
    ck_assert_uint_eq(r.tag, h->tag);
    ck_assert_uint_eq(in.len, PROTO_SCAN_RSP_HDR_SIZE + r.length);
    if (out != NULL)
        memcpy(out, in.data + PROTO_SCAN_RSP_HDR_SIZE, r.length);
    if (outlen != NULL)
        *outlen = r.length;
    dm_device_consume(h->dev, DM_EP_DATA_IN, t);
    return r.status;
}

static uint32_t start_job(host *h, const proto_scan_params *p, proto_scan_job *job)
{
    uint8_t pl[PROTO_SCAN_MAX_PAYLOAD];
    size_t n;
    uint32_t st;

    if (p != NULL) {
        uint8_t enc[64];
        int len = proto_scan_params_encode(p, enc, sizeof(enc));
        ck_assert_int_gt(len, 0);
        send_cmd(h, PROTO_SCAN_OP_SET_PARAMS, enc, (uint32_t)len);
        st = read_rsp(h, PROTO_SCAN_OP_SET_PARAMS, pl, &n);
        if (st != PROTO_SCAN_ST_OK)
            return st;
    }
    send_cmd(h, PROTO_SCAN_OP_START_JOB, NULL, 0);
    st = read_rsp(h, PROTO_SCAN_OP_START_JOB, pl, &n);
    if (st == PROTO_SCAN_ST_OK && job != NULL)
        ck_assert_int_gt(proto_scan_job_decode(pl, n, job), 0);
    return st;
}

/* Result of reading the band stream to its end (or a non-data outcome). */
typedef struct run {
    uint32_t pages_ok;   /* pages whose every band verified */
    uint32_t bands;
    uint32_t end_status; /* END_OF_JOB status, or UINT32_MAX */
    uint32_t end_page;
    dm_in_kind stopped;  /* DM_IN_DATA when END_OF_JOB was read */
    uint32_t bad_bands;  /* CRC or size mismatch */
    uint32_t stalls;
    uint32_t events[8];
    uint64_t crc_all;    /* running CRC of all data, for determinism checks */
} run;

/* Read bands, advancing the virtual clock to each deadline exactly. Checks
 * that nothing is available before its deadline. */
static void read_stream(host *h, const proto_scan_job *job, run *r, int max_stalls)
{
    uint8_t *expect = malloc(job->max_in_transfer);
    uint32_t cur_page = UINT32_MAX;
    int page_good = 1;

    memset(r, 0, sizeof(*r));
    r->end_status = UINT32_MAX;
    for (;;) {
        dm_in in, ev;
        uint64_t t = dm_clock_now(&h->clk.base);

        dm_device_peek(h->dev, DM_EP_EVENT_IN, t, &ev);
        if (ev.kind == DM_IN_DATA) {
            proto_scan_event e;
            ck_assert_int_eq(proto_scan_event_decode(ev.data, ev.len, &e), 16);
            r->events[e.code & 7]++;
            dm_device_consume(h->dev, DM_EP_EVENT_IN, t);
            continue;
        }
        dm_device_peek(h->dev, DM_EP_DATA_IN, t, &in);
        if (in.kind == DM_IN_WAIT && in.deadline_ns != UINT64_MAX) {
            dm_in again;
            ck_assert_uint_gt(in.deadline_ns, t);
            /* one ns before: still waiting */
            dm_device_peek(h->dev, DM_EP_DATA_IN, in.deadline_ns - 1, &again);
            ck_assert_int_eq(again.kind, DM_IN_WAIT);
            dm_clock_virtual_set(&h->clk, in.deadline_ns);
            continue;
        }
        if (in.kind == DM_IN_STALL) {
            r->stalls++;
            dm_device_consume(h->dev, DM_EP_DATA_IN, t);
            if ((int)r->stalls > max_stalls) {
                r->stopped = DM_IN_STALL;
                break;
            }
            dm_device_clear_halt(h->dev, DM_EP_DATA_IN);
            continue;
        }
        if (in.kind != DM_IN_DATA) {
            r->stopped = in.kind;
            break;
        }
        {
            proto_scan_band b;
            ck_assert_int_eq(proto_scan_band_decode(in.data, in.len, &b), 40);
            if (b.flags & PROTO_SCAN_BAND_END_OF_JOB) {
                r->end_status = b.status;
                r->end_page = b.page;
                r->stopped = DM_IN_DATA;
                dm_device_consume(h->dev, DM_EP_DATA_IN, t);
                /* events queued by the END item */
                for (;;) {
                    dm_device_peek(h->dev, DM_EP_EVENT_IN, t, &ev);
                    if (ev.kind != DM_IN_DATA)
                        break;
                    proto_scan_event e;
                    ck_assert_int_eq(proto_scan_event_decode(ev.data, ev.len, &e), 16);
                    r->events[e.code & 7]++;
                    dm_device_consume(h->dev, DM_EP_EVENT_IN, t);
                }
                break;
            }
            if (b.page != cur_page) {
                cur_page = b.page;
                page_good = 1;
            }
            r->bands++;
            {
                size_t n = dm_band_bytes(job, b.band);
                int ok = b.byte_count == n && in.len == 40 + n &&
                         proto_crc32(0, in.data + 40, n) == b.crc32;
                if (ok) {
                    dm_synth_band(job, b.page, b.side, b.band, expect);
                    ok = memcmp(expect, in.data + 40, n) == 0;
                }
                if (!ok) {
                    r->bad_bands++;
                    page_good = 0;
                }
                r->crc_all = proto_crc32((uint32_t)r->crc_all, in.data, in.len);
            }
            if ((b.flags & PROTO_SCAN_BAND_END_OF_PAGE) && page_good)
                r->pages_ok++;
            dm_device_consume(h->dev, DM_EP_DATA_IN, t);
        }
    }
    free(expect);
}

static proto_scan_params params_default(uint32_t pages)
{
    proto_scan_params p;
    memset(&p, 0, sizeof(p));
    p.source = PROTO_SCAN_SOURCE_ADF;
    p.mode = PROTO_SCAN_MODE_COLOR24;
    p.dpi = 300;
    p.pages = pages;
    return p;
}

/* ---- tests ------------------------------------------------------------------------ */

START_TEST(clean_three_pages)
{
    host h;
    proto_scan_job job;
    proto_scan_params p = params_default(3);
    run r;

    host_open(&h, NULL, NULL, 42, 1);
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(job.width_px, 2480);
    ck_assert_uint_eq(job.height_px, 3507);
    ck_assert_uint_eq(job.band_lines, 64);
    ck_assert_uint_eq(job.bands_per_page, 55);
    read_stream(&h, &job, &r, 0);
    ck_assert_int_eq(r.stopped, DM_IN_DATA);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(r.end_page, 3);
    ck_assert_uint_eq(r.pages_ok, 3);
    ck_assert_uint_eq(r.bad_bands, 0);
    ck_assert_uint_eq(r.bands, 3 * 55);
    host_close(&h);
}
END_TEST

static Suite *dm_suite(void)
{
    Suite *s = suite_create("device-model");
    TCase *tc = tcase_create("device");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, clean_three_pages);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dm_suite());
    int nf;
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
