/* device-model suite: fixtures, synthesis, timing and faults, all on the
 * virtual clock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm-internal.h"
#include "dm/engine.h"

/* ---- a tiny host driving the device ------------------------------------------- */

typedef struct host {
    dm_clock_virtual clk;
    dm_profile *prof;
    dm_scenario *scen;
    dm_device *dev;
    dm_engine *eng; /* host_open_shared: the engine the device is a front of */
    uint32_t tag;
    /* trace records */
    dm_trace_rec recs[4096];
    unsigned n_recs;
    int crc_only; /* skip regenerating every band (faster; CRC still checked) */
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

static void host_config(host *h, const char *profile, const char *scenario, uint64_t seed,
                        int timing, dm_device_config *cfg)
{
    char err[256] = "";

    memset(h, 0, sizeof(*h));
    dm_clock_virtual_init(&h->clk, 1000000000ull);
    if (profile == NULL)
        ck_assert_msg(dm_profile_load_default(&h->prof, err, sizeof(err)) == DM_OK, "%s", err);
    else
        ck_assert_msg(dm_profile_load_file(fixture_path(profile), &h->prof, err, sizeof(err)) ==
                          DM_OK,
                      "%s", err);
    if (scenario != NULL)
        ck_assert_msg(dm_scenario_load_file(fixture_path(scenario), &h->scen, err, sizeof(err)) ==
                          DM_OK,
                      "%s", err);
    dm_device_config_init(cfg);
    cfg->profile = h->prof;
    cfg->scenario = h->scen;
    cfg->seed = seed;
    cfg->clock = &h->clk.base;
    cfg->timing = timing;
    cfg->trace = trace_cb;
    cfg->trace_ctx = h;
}

static void host_open(host *h, const char *profile, const char *scenario, uint64_t seed, int timing)
{
    dm_device_config cfg;

    host_config(h, profile, scenario, seed, timing, &cfg);
    ck_assert_int_eq(dm_device_create(&cfg, &h->dev), DM_OK);
}

/* The same device as host_open, as a native front on an engine of its own
 * (h->eng), which fronts of other protocols may share. */
static void host_open_shared(host *h, const char *profile, const char *scenario, uint64_t seed,
                             int timing)
{
    dm_device_config cfg;

    host_config(h, profile, scenario, seed, timing, &cfg);
    ck_assert_int_eq(dm_engine_create(&cfg, &h->eng), DM_OK);
    ck_assert_int_eq(dm_device_create_on(h->eng, &h->dev), DM_OK);
    ck_assert_ptr_eq(dm_device_engine(h->dev), h->eng);
}

static void host_close(host *h)
{
    dm_device_free(h->dev);
    dm_engine_free(h->eng);
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
    uint32_t pages_ok; /* pages whose every band verified */
    uint32_t bands;
    uint32_t end_status; /* END_OF_JOB status, or UINT32_MAX */
    uint32_t end_page;
    dm_in_kind stopped; /* DM_IN_DATA when END_OF_JOB was read */
    uint32_t bad_bands; /* CRC or size mismatch */
    uint32_t stalls;
    uint32_t events[8];
    uint64_t crc_all; /* running CRC of all data, for determinism checks */
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
                if (ok && !h->crc_only) {
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

/* ---- a failing, counting allocator -------------------------------------------- */

typedef struct fail_alloc {
    long fail_at; /* allocation number that fails; -1 never */
    long n_allocs;
    long live;
} fail_alloc;

static void *fail_realloc(void *ctx, void *ptr, size_t size)
{
    fail_alloc *fa = ctx;
    void *q;

    if (size == 0) {
        if (ptr != NULL) {
            fa->live--;
            free(ptr);
        }
        return NULL;
    }
    if (fa->n_allocs++ == fa->fail_at)
        return NULL;
    q = realloc(ptr, size);
    if (q != NULL && ptr == NULL)
        fa->live++;
    return q;
}

static char *slurp(const char *rel, size_t *len)
{
    FILE *f = fopen(fixture_path(rel), "rb");
    char *buf;
    long n;

    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- fixtures ------------------------------------------------------------------ */

static const char *const profiles[] = {"profiles/default.yaml", "profiles/fast-duplex.yaml",
                                       "profiles/flatbed-1200.yaml", "profiles/receipt-bw.yaml"};
static const char *const scenarios[] = {
    "scenarios/clean.yaml",
    "scenarios/clean-fast.yaml",
    "scenarios/jam-page3-band5.yaml",
    "scenarios/feeder-empty-after-2.yaml",
    "scenarios/feeder-empty.yaml",
    "scenarios/cover-open.yaml",
    "scenarios/cover-open-at-start.yaml",
    "scenarios/warming-up-2s.yaml",
    "scenarios/busy.yaml",
    "scenarios/stall-mid-page.yaml",
    "scenarios/stall-no-clear.yaml",
    "scenarios/short-band.yaml",
    "scenarios/corrupt-band.yaml",
    "scenarios/band-never-comes.yaml",
    "scenarios/disconnect-mid-page.yaml",
    "scenarios/multi-feed.yaml",
    "scenarios/delay-500ms.yaml",
    "scenarios/random-faults.yaml",
    "scenarios/escl-503-storm.yaml",
    "scenarios/escl-xerox-404.yaml",
    "scenarios/escl-xerox-410.yaml",
    "scenarios/escl-brother-load-delay.yaml",
    "scenarios/escl-stale-jam.yaml",
    "scenarios/escl-stale-empty.yaml",
    "scenarios/escl-slow-response.yaml",
    "scenarios/escl-hp-localhost.yaml",
};

START_TEST(every_fixture_loads)
{
    char err[256];
    dm_profile *p[4];
    for (unsigned i = 0; i < 4; i++) {
        err[0] = '\0';
        ck_assert_msg(dm_profile_load_file(fixture_path(profiles[i]), &p[i], err, sizeof(err)) ==
                          DM_OK,
                      "%s: %s", profiles[i], err);
    }
    for (unsigned i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        dm_scenario *s;
        ck_assert_msg(dm_scenario_load_file(fixture_path(scenarios[i]), &s, err, sizeof(err)) ==
                          DM_OK,
                      "%s: %s", scenarios[i], err);
        /* Every shipped scenario fits every shipped profile. */
        for (unsigned k = 0; k < 4; k++)
            ck_assert_msg(dm_scenario_check(s, p[k], err, sizeof(err)) == DM_OK, "%s + %s: %s",
                          scenarios[i], profiles[k], err);
        dm_scenario_free(s);
    }
    for (unsigned i = 0; i < 4; i++) {
        proto_scan_caps caps;
        uint8_t enc[64];
        dm_profile_caps(p[i], &caps);
        /* caps encode (validates) and every message fits 1 MiB + header */
        ck_assert_int_eq(proto_scan_caps_encode(&caps, enc, sizeof(enc)), 64);
        ck_assert_uint_le(caps.max_in_transfer, (1u << 20) + 40);
        for (int m = 0; m < 5; m++) {
            if (!(caps.modes & (1u << m)))
                continue;
            for (unsigned r = 0; r < caps.n_resolutions; r++) {
                proto_scan_params pa;
                proto_scan_job job;
                memset(&pa, 0, sizeof(pa));
                pa.source = (uint8_t)(__builtin_ctz(caps.sources));
                pa.mode = (uint8_t)m;
                pa.dpi = caps.resolutions[r];
                ck_assert_int_eq(dm_job_resolve(p[i], &pa, 0, &job, err, sizeof(err)), DM_OK);
                ck_assert_int_eq(proto_scan_job_encode(&job, enc, sizeof(enc)), 48);
                ck_assert_uint_le(job.max_in_transfer, caps.max_in_transfer);
            }
        }
        dm_profile_free(p[i]);
    }
}
END_TEST

START_TEST(builtin_default_is_the_fixture)
{
    char err[256];
    dm_profile *a, *b;
    dm_scenario *s;
    proto_scan_caps ca, cb;
    const dm_usb_identity *u;
    size_t len;
    char *txt = slurp("profiles/default.yaml", &len);

    ck_assert_uint_eq(len, dm_builtin_profile_len);
    ck_assert_int_eq(memcmp(txt, dm_builtin_profile_yaml, len), 0);
    free(txt);
    txt = slurp("scenarios/clean.yaml", &len);
    ck_assert_uint_eq(len, dm_builtin_scenario_len);
    ck_assert_int_eq(memcmp(txt, dm_builtin_scenario_yaml, len), 0);
    free(txt);

    ck_assert_int_eq(dm_profile_load_default(&a, err, sizeof(err)), DM_OK);
    ck_assert_int_eq(
        dm_profile_load_file(fixture_path("profiles/default.yaml"), &b, err, sizeof(err)), DM_OK);
    dm_profile_caps(a, &ca);
    dm_profile_caps(b, &cb);
    ck_assert_int_eq(memcmp(&ca, &cb, sizeof(ca)), 0);
    ck_assert_str_eq(dm_profile_name(a), "default");
    u = dm_profile_usb(a);
    ck_assert_uint_eq(u->vid, 0x1209);
    ck_assert_uint_eq(u->pid, 0x0001);
    ck_assert_uint_eq(u->speed, 3);
    ck_assert_str_eq(u->manufacturer, "scanemu");
    ck_assert_str_eq(u->product, "Virtual ADF Scanner");
    ck_assert_uint_eq(ca.sources, 3);
    ck_assert_uint_eq(ca.modes, 7);
    ck_assert_uint_eq(ca.max_width_um, 210000);
    ck_assert_uint_eq(ca.max_height_um, 297000);
    ck_assert_uint_eq(ca.feeder_capacity, 50);
    ck_assert_uint_eq(ca.n_resolutions, 6);
    ck_assert_uint_eq(ca.resolutions[4], 300);
    ck_assert_uint_eq(ca.max_in_transfer, 64 * 4960 * 3 + 40);
    ck_assert_int_eq(dm_scenario_load_default(&s, err, sizeof(err)), DM_OK);
    ck_assert_str_eq(dm_scenario_name(s), "clean");
    ck_assert_uint_eq(s->sheets, 10);
    ck_assert_uint_eq(s->n_faults, 0);
    dm_scenario_free(s);
    dm_profile_free(a);
    dm_profile_free(b);
}
END_TEST

START_TEST(job_resolve_rejects)
{
    char err[256];
    dm_profile *p;
    proto_scan_job job;
    proto_scan_params pa = params_default(0);

    ck_assert_int_eq(dm_profile_load_default(&p, err, sizeof(err)), DM_OK);
    ck_assert_int_eq(dm_job_resolve(p, &pa, 7, &job, err, sizeof(err)), DM_OK);
    ck_assert_uint_eq(job.seed, 7);
    ck_assert_uint_eq(job.pages, 0);
    pa.flags = PROTO_SCAN_PARAM_SEED;
    pa.seed = 99;
    ck_assert_int_eq(dm_job_resolve(p, &pa, 7, &job, err, sizeof(err)), DM_OK);
    ck_assert_uint_eq(job.seed, 99);
    pa.dpi = 301;
    ck_assert_int_eq(dm_job_resolve(p, &pa, 7, &job, err, sizeof(err)), DM_E_RANGE);
    ck_assert_ptr_nonnull(strstr(err, "301 dpi"));
    pa.dpi = 300;
    pa.source = PROTO_SCAN_SOURCE_DUPLEX;
    ck_assert_int_eq(dm_job_resolve(p, &pa, 7, &job, err, sizeof(err)), DM_E_RANGE);
    ck_assert_ptr_nonnull(strstr(err, "duplex"));
    pa.source = PROTO_SCAN_SOURCE_FLATBED;
    ck_assert_int_eq(dm_job_resolve(p, &pa, 7, &job, err, sizeof(err)), DM_OK);
    ck_assert_uint_eq(job.pages, 1);
    pa.mode = PROTO_SCAN_MODE_COLOR48;
    ck_assert_int_eq(dm_job_resolve(p, &pa, 7, &job, err, sizeof(err)), DM_E_RANGE);
    pa.mode = PROTO_SCAN_MODE_GRAY8;
    pa.width_px = 2481;
    ck_assert_int_eq(dm_job_resolve(p, &pa, 7, &job, err, sizeof(err)), DM_E_RANGE);
    pa.width_px = 100;
    pa.height_px = 10;
    ck_assert_int_eq(dm_job_resolve(p, &pa, 7, &job, err, sizeof(err)), DM_OK);
    ck_assert_uint_eq(job.band_lines, 10);
    ck_assert_uint_eq(job.bands_per_page, 1);
    ck_assert_uint_eq(dm_band_lines(&job, 0), 10);
    ck_assert_uint_eq(dm_band_lines(&job, 1), 0);
    pa.pages = 100001;
    ck_assert_int_eq(dm_job_resolve(p, &pa, 7, &job, err, sizeof(err)), DM_E_RANGE);
    dm_profile_free(p);
}
END_TEST

/* A narrower window (SET_PARAMS width_px) can fit more lines into a band
 * capped by band.max_bytes: every job the profile accepts must still fit
 * caps.max_in_transfer (the device's band buffer and the host's URB size).
 * flatbed-1200 at 1200 dpi color48, 5461 px wide: 32 lines of 32766 bytes
 * against 17 full-width lines of 61224 bytes. */
START_TEST(narrow_job_fits_caps)
{
    char err[256];

    for (size_t k = 0; k < sizeof(profiles) / sizeof(profiles[0]); k++) {
        dm_profile *p;
        proto_scan_caps caps;
        ck_assert_msg(dm_profile_load_file(fixture_path(profiles[k]), &p, err, sizeof(err)) ==
                          DM_OK,
                      "%s", err);
        dm_profile_caps(p, &caps);
        for (uint32_t m = 0; m < DM_N_MODES; m++) {
            if (!(p->modes & (1u << m)))
                continue;
            for (uint32_t i = 0; i < p->n_resolutions; i++) {
                proto_scan_params pa;
                proto_scan_job job;
                memset(&pa, 0, sizeof(pa));
                pa.source = (uint8_t)p->def_source;
                pa.mode = (uint8_t)m;
                pa.dpi = p->resolutions[i];
                for (pa.width_px = 1;; pa.width_px++) {
                    if (dm_job_resolve(p, &pa, 1, &job, NULL, 0) != DM_OK)
                        break;
                    ck_assert_msg(job.max_in_transfer <= caps.max_in_transfer,
                                  "%s mode %u %u dpi width %u: band message %u > caps %u",
                                  profiles[k], m, pa.dpi, pa.width_px, job.max_in_transfer,
                                  caps.max_in_transfer);
                }
                ck_assert_uint_gt(pa.width_px, 1);
            }
        }
        dm_profile_free(p);
    }
}
END_TEST

/* The same window on a running device: the band is built in the device's
 * buffer (ASan sees an overflow) and is no larger than the caps promise. */
START_TEST(narrow_job_band_in_bounds)
{
    host h;
    proto_scan_params pa;
    proto_scan_job job;
    proto_scan_caps caps;
    dm_in in;
    uint32_t st;

    host_open(&h, "profiles/flatbed-1200.yaml", NULL, 1, 0);
    dm_profile_caps(h.prof, &caps);
    memset(&pa, 0, sizeof(pa));
    pa.source = PROTO_SCAN_SOURCE_FLATBED;
    pa.mode = PROTO_SCAN_MODE_COLOR48;
    pa.dpi = 1200;
    pa.width_px = 5461;
    st = start_job(&h, &pa, &job);
    ck_assert_uint_eq(st, PROTO_SCAN_ST_OK);
    dm_device_peek(h.dev, DM_EP_DATA_IN, dm_clock_now(&h.clk.base), &in);
    ck_assert_int_eq(in.kind, DM_IN_DATA);
    ck_assert_uint_le(in.len, job.max_in_transfer);
    ck_assert_uint_le(in.len, caps.max_in_transfer);
    host_close(&h);
}
END_TEST

/* ---- synthesis ------------------------------------------------------------------- */

static proto_scan_job small_job(uint32_t mode, uint64_t seed)
{
    proto_scan_job j;
    memset(&j, 0, sizeof(j));
    j.source = PROTO_SCAN_SOURCE_ADF;
    j.mode = (uint8_t)mode;
    j.dpi = 100;
    j.width_px = 827;
    j.height_px = 1169;
    j.bits_per_pixel = proto_scan_mode_bpp(mode);
    j.bytes_per_line = (j.width_px * j.bits_per_pixel + 7) / 8;
    j.band_lines = 50;
    j.bands_per_page = (j.height_px + 49) / 50;
    j.max_in_transfer = j.band_lines * j.bytes_per_line + 40;
    j.seed = seed;
    return j;
}

START_TEST(synth_pure_and_seeded)
{
    for (uint32_t m = 0; m < 5; m++) {
        proto_scan_job a = small_job(m, 1), b = small_job(m, 2);
        size_t n = dm_band_bytes(&a, 0);
        uint8_t *x = malloc(n), *y = malloc(n), *z = malloc(n);
        for (uint32_t band = 0; band < a.bands_per_page; band++) {
            size_t bn = dm_band_bytes(&a, band);
            memset(x, 0xAA, n);
            memset(y, 0x55, n);
            dm_synth_band(&a, 3, 0, band, x);
            dm_synth_band(&a, 3, 0, band, y);
            ck_assert_int_eq(memcmp(x, y, bn), 0); /* every byte written, same bytes */
            dm_synth_band(&b, 3, 0, band, z);
            ck_assert_int_ne(memcmp(x, z, bn), 0); /* another seed: different bytes */
            dm_synth_band(&a, 4, 0, band, z);
            ck_assert_int_ne(memcmp(x, z, bn), 0); /* another page: different bytes */
            dm_synth_band(&a, 3, 1, band, z);
            ck_assert_int_ne(memcmp(x, z, bn), 0); /* another side */
        }
        /* the last band is shorter and written exactly */
        ck_assert_uint_eq(dm_band_lines(&a, a.bands_per_page - 1), 1169 - 23 * 50);
        free(x);
        free(y);
        free(z);
    }
}
END_TEST

START_TEST(synth_chart_is_readable)
{
    /* Gray 8-bit page at 100 dpi: ramp runs dark to light, bars are there,
     * the page number has black pixels, the grid is black. */
    proto_scan_job j = small_job(PROTO_SCAN_MODE_GRAY8, 5);
    uint8_t *page = malloc((size_t)j.bytes_per_line * j.height_px);
    uint32_t bpl = j.bytes_per_line;
    unsigned blacks = 0;

    for (uint32_t b = 0; b < j.bands_per_page; b++)
        dm_synth_band(&j, 0, 0, b, page + (size_t)b * j.band_lines * bpl);
    /* header (text rows 25..25+7*8): "P1 100DPI" starting at x=50 */
    for (uint32_t y = 25; y < 25 + 56; y++)
        for (uint32_t x = 50; x < 600; x++)
            blacks += page[y * bpl + x] == 0;
    ck_assert_uint_gt(blacks, 500);
    {
        /* first ramp row is right after the header (y = 25 + 56 + 12 = 93) */
        uint32_t y = 93 + 5;
        ck_assert_uint_lt(page[y * bpl + 2], 5);
        ck_assert_uint_gt(page[y * bpl + 700], 200);
        ck_assert_uint_lt(page[y * bpl + 100], page[y * bpl + 400]);
    }
    /* body: grid line every inch (x = 100) on a white background */
    ck_assert_uint_eq(page[650 * bpl + 100], 0);
    ck_assert_uint_eq(page[650 * bpl + 150], 255);
    free(page);
}
END_TEST

/* ---- synthesis golden hashes ------------------------------------------------------ *
 * Receivers regenerate bands to verify them, so the bytes of dm_synth_band()
 * are a contract, not an implementation detail: these hashes were recorded
 * from the implementation every receiver so far has checked against. A
 * failure here means the output changed; a speed-up must never cause one.
 * To regenerate after a deliberate format change (which breaks every
 * recorded trace): SCANEMU_SYNTH_GOLDEN_PRINT=1 ./test_dm prints the table. */

#include "synth-golden.h"

/* FNV-1a over 64-bit little-endian words, then the tail bytes. */
static uint64_t golden_hash(uint64_t h, const uint8_t *p, size_t n)
{
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--)
            w = w << 8 | p[k];
        h = (h ^ w) * 0x100000001B3ull;
    }
    for (; n > 0; n--, p++)
        h = (h ^ *p) * 0x100000001B3ull;
    return h;
}

#define GOLDEN_FNV_BASIS 0xCBF29CE484222325ull

/* (seed, page, side) triples; cases take them in turn. */
static const struct {
    uint64_t seed;
    uint32_t page, side;
} golden_combos[] = {
    {0, 0, 0},
    {1, 1, 1},
    {2, 2, 0},
    {UINT64_MAX, 3, 1},
    {0x0123456789ABCDEFull, 123, 0},
    {42, 99999, 1},
    {7, 4294967294u, 0},
    {1ull << 63, 17, 1},
};
#define GOLDEN_N_COMBOS (sizeof(golden_combos) / sizeof(golden_combos[0]))

typedef struct golden_ctx {
    uint8_t *buf;
    size_t cap;
    unsigned n; /* cases so far */
    unsigned combo;
    int print;
} golden_ctx;

/* Hashes every band of one page of job, band by band, into h. The buffer is
 * poisoned first so that a byte left unwritten changes the hash. */
static uint64_t golden_page(golden_ctx *g, proto_scan_job job, uint64_t h)
{
    unsigned k = g->combo++ % GOLDEN_N_COMBOS;
    size_t need = (size_t)job.band_lines * job.bytes_per_line;

    job.seed = golden_combos[k].seed;
    if (need > g->cap) {
        free(g->buf);
        g->buf = malloc(need);
        ck_assert_ptr_nonnull(g->buf);
        g->cap = need;
    }
    for (uint32_t b = 0; b < job.bands_per_page; b++) {
        size_t n = dm_band_bytes(&job, b);
        memset(g->buf, 0xA5, n);
        dm_synth_band(&job, golden_combos[k].page, golden_combos[k].side, b, g->buf);
        h = golden_hash(h, g->buf, n);
    }
    return h;
}

static void golden_check(golden_ctx *g, const char *name, uint64_t h)
{
    unsigned i = g->n++;

    if (g->print) {
        printf("    {\"%s\", 0x%016llXull},\n", name, (unsigned long long)h);
        return;
    }
    ck_assert_msg(i < sizeof(synth_golden) / sizeof(synth_golden[0]), "case %u (%s): not in table",
                  i, name);
    ck_assert_msg(strcmp(synth_golden[i].name, name) == 0, "case %u is %s, table says %s", i, name,
                  synth_golden[i].name);
    ck_assert_msg(synth_golden[i].hash == h, "%s: hash 0x%016llX, recorded 0x%016llX", name,
                  (unsigned long long)h, (unsigned long long)synth_golden[i].hash);
}

static const char *const golden_modes[] = {"bw", "gray", "color", "gray16", "color48"};

/* Jobs as the device resolves them: every profile, mode and resolution up to
 * 600 dpi, full pages (cut to 12 MB so the suite stays quick under ASan),
 * then small windows (width_px/height_px) of each. */
static void golden_profiles(golden_ctx *g)
{
    static const uint32_t sizes[][2] = {{1, 1}, {7, 333}, {333, 7}, {333, 333}, {9, 1}};
    char err[256], name[96];

    for (unsigned i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        dm_profile *p;
        proto_scan_caps caps;

        ck_assert_msg(dm_profile_load_file(fixture_path(profiles[i]), &p, err, sizeof(err)) ==
                          DM_OK,
                      "%s: %s", profiles[i], err);
        dm_profile_caps(p, &caps);
        for (uint32_t m = 0; m < 5; m++) {
            if (!(caps.modes & (1u << m)))
                continue;
            for (unsigned r = 0; r < caps.n_resolutions; r++) {
                proto_scan_params pa;
                proto_scan_job job;
                uint64_t h = GOLDEN_FNV_BASIS;

                if (caps.resolutions[r] > 600)
                    continue;
                memset(&pa, 0, sizeof(pa));
                pa.source = (uint8_t)(31 - __builtin_clz(caps.sources));
                pa.mode = (uint8_t)m;
                pa.dpi = caps.resolutions[r];
                ck_assert_int_eq(dm_job_resolve(p, &pa, 0, &job, err, sizeof(err)), DM_OK);
                if ((uint64_t)job.bytes_per_line * job.height_px > (12u << 20)) {
                    pa.height_px = (12u << 20) / job.bytes_per_line;
                    ck_assert_int_eq(dm_job_resolve(p, &pa, 0, &job, err, sizeof(err)), DM_OK);
                }
                h = golden_page(g, job, h);
                snprintf(name, sizeof(name), "%s %s %u dpi", p->name, golden_modes[m],
                         (unsigned)pa.dpi);
                golden_check(g, name, h);

                h = GOLDEN_FNV_BASIS;
                for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                    pa.width_px = sizes[s][0];
                    pa.height_px = sizes[s][1];
                    ck_assert_int_eq(dm_job_resolve(p, &pa, 0, &job, err, sizeof(err)), DM_OK);
                    h = golden_page(g, job, h);
                }
                snprintf(name, sizeof(name), "%s %s %u dpi windows", p->name, golden_modes[m],
                         (unsigned)pa.dpi);
                golden_check(g, name, h);
            }
        }
        dm_profile_free(p);
    }
}

/* Jobs no profile makes: odd widths, heights and band heights, resolutions
 * from 0 (the chart's 300 dpi default) to 1200, in every mode. */
static void golden_odd_jobs(golden_ctx *g)
{
    static const uint32_t widths[] = {1, 7, 8, 9, 63, 333, 1001};
    static const uint32_t heights[] = {1, 7, 333};
    static const uint32_t band_lines[] = {1, 5, 64, 333};
    static const uint16_t dpis[] = {75, 150, 300, 600, 0, 1, 37, 1200};
    char name[96];
    unsigned bl = 0;

    for (uint32_t m = 0; m < 5; m++)
        for (unsigned w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
            uint64_t h = GOLDEN_FNV_BASIS;
            for (unsigned y = 0; y < sizeof(heights) / sizeof(heights[0]); y++)
                for (unsigned d = 0; d < sizeof(dpis) / sizeof(dpis[0]); d++) {
                    proto_scan_job j;
                    memset(&j, 0, sizeof(j));
                    j.source = (w & 1) ? PROTO_SCAN_SOURCE_DUPLEX : PROTO_SCAN_SOURCE_FLATBED;
                    j.mode = (uint8_t)m;
                    j.dpi = dpis[d];
                    j.width_px = widths[w];
                    j.height_px = heights[y];
                    j.bits_per_pixel = proto_scan_mode_bpp(m);
                    j.bytes_per_line = (j.width_px * j.bits_per_pixel + 7) / 8;
                    j.band_lines = band_lines[bl++ % 4];
                    if (j.band_lines > j.height_px)
                        j.band_lines = j.height_px;
                    j.bands_per_page = (j.height_px + j.band_lines - 1) / j.band_lines;
                    h = golden_page(g, j, h);
                    h = golden_page(g, j, h);
                }
            snprintf(name, sizeof(name), "odd %s %u px", golden_modes[m], (unsigned)widths[w]);
            golden_check(g, name, h);
        }
}

/* Every noise implementation this build and CPU have gives the portable
 * one's bytes: all lengths 0..80 words at every byte offset 0..7 and keys
 * around 0 and 2^64 (the lane adds wrap), a whole A4 colour line's worth,
 * and nothing written past the end. Without AVX-512 on this machine only
 * the portable path exists and runs here (the golden hashes cover it too). */
START_TEST(synth_noise_paths_agree)
{
    enum { MAXW = 1000 };
    static uint8_t a[8 * MAXW + 16], b[8 * MAXW + 16];
    static const uint64_t keys[] = {0, 1, 7, 0x243F6A8885A308D3ull, UINT64_MAX - 3, UINT64_MAX};
    int have_simd = dm_synth_noise_words(1, b, 0, 0) == 0;

    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        for (size_t off = 0; off < 8; off++)
            for (size_t n = 0; n <= 80; n++) {
                memset(a, 0xA5, sizeof(a));
                memset(b, 0xA5, sizeof(b));
                ck_assert_int_eq(dm_synth_noise_words(0, a + off, n, keys[k]), 0);
                for (size_t i = 0; i < n; i++) {
                    uint64_t v = dm_mix64(keys[k] + i);
                    for (int j = 0; j < 8; j++)
                        ck_assert_uint_eq(a[off + 8 * i + (size_t)j], (uint8_t)(v >> (8 * j)));
                }
                ck_assert_uint_eq(a[off + 8 * n], 0xA5);
                if (!have_simd)
                    continue;
                ck_assert_int_eq(dm_synth_noise_words(1, b + off, n, keys[k]), 0);
                ck_assert_msg(memcmp(a, b, sizeof(a)) == 0, "key %zu offset %zu words %zu", k, off,
                              n);
            }
    if (have_simd) {
        /* 2480 px x 3 bytes / 8: one A4 colour 300 dpi line in words */
        ck_assert_int_eq(dm_synth_noise_words(0, a, 930, 42), 0);
        ck_assert_int_eq(dm_synth_noise_words(1, b, 930, 42), 0);
        ck_assert_int_eq(memcmp(a, b, 8 * 930), 0);
    }
    ck_assert_int_eq(dm_synth_noise_words(2, b, 1, 0), -1);
}
END_TEST

START_TEST(synth_golden_bytes)
{
    golden_ctx g;

    memset(&g, 0, sizeof(g));
    g.print = getenv("SCANEMU_SYNTH_GOLDEN_PRINT") != NULL;
    golden_profiles(&g);
    golden_odd_jobs(&g);
    if (!g.print)
        ck_assert_uint_eq(g.n, sizeof(synth_golden) / sizeof(synth_golden[0]));
    free(g.buf);
}
END_TEST

/* ---- device runs -------------------------------------------------------------------- */

START_TEST(clean_three_pages)
{
    host h;
    proto_scan_job job;
    proto_scan_params p = params_default(3);
    run r;
    dm_device_stats st;

    host_open(&h, NULL, NULL, 42, 1);
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(job.width_px, 2480);
    ck_assert_uint_eq(job.height_px, 3508);
    ck_assert_uint_eq(job.band_lines, 64);
    ck_assert_uint_eq(job.bands_per_page, 55);
    ck_assert_uint_eq(job.max_in_transfer, 64 * 2480 * 3 + 40);
    read_stream(&h, &job, &r, 0);
    ck_assert_int_eq(r.stopped, DM_IN_DATA);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(r.end_page, 3);
    ck_assert_uint_eq(r.pages_ok, 3);
    ck_assert_uint_eq(r.bad_bands, 0);
    ck_assert_uint_eq(r.bands, 3 * 55);
    dm_device_get_stats(h.dev, &st);
    ck_assert_uint_eq(st.bands_released, 165);
    ck_assert_uint_eq(st.late_bands, 0);
    ck_assert_uint_eq(st.faults_fired, 0);
    ck_assert_uint_eq(h.n_recs, 166); /* 165 bands + END_OF_JOB */
    host_close(&h);
}
END_TEST

/* Deadlines follow the model exactly: warm-up left + sheet*(feed + H*line) +
 * feed + lines_end*line + jitter, from job start. */
START_TEST(deadlines_match_model)
{
    host h;
    proto_scan_job job;
    proto_scan_params p = params_default(2);
    run r;
    const uint64_t warm = 1500000000ull, feed = 300000000ull, line = 600000ull;
    const uint64_t jit = 200000ull;

    host_open(&h, NULL, NULL, 42, 1);
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_OK);
    read_stream(&h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 2);
    for (unsigned i = 0; i + 1 < h.n_recs; i++) {
        const dm_trace_rec *t = &h.recs[i];
        uint64_t lines_end = (uint64_t)t->band * 64 + dm_band_lines(&job, t->band);
        uint64_t base = warm + t->page * (feed + 3508 * line) + feed + lines_end * line;
        uint64_t j = dm_hash5(42, t->page, 0, t->band, DM_RND_JITTER) % (jit + 1);
        uint64_t want = t->job_start_ns + base + j;
        uint64_t prev = i ? h.recs[i - 1].deadline_ns : 0;
        if (want < prev)
            want = prev; /* deadlines never go backwards */
        ck_assert_uint_eq(t->deadline_ns, want);
        ck_assert_uint_eq(t->release_ns, t->deadline_ns); /* released exactly on time */
        ck_assert_ptr_null(t->fault);
    }
    /* ~2.4 s per page after 1.5 s warm-up */
    ck_assert_uint_gt(h.recs[h.n_recs - 2].deadline_ns - h.recs[0].job_start_ns,
                      warm + 2 * (feed + 3508 * line));
    host_close(&h);
}
END_TEST

START_TEST(same_seed_same_bytes_and_schedule)
{
    host a, b, c;
    proto_scan_job ja, jb, jc;
    proto_scan_params p = params_default(2);
    run ra, rb, rc;

    host_open(&a, NULL, NULL, 7, 1);
    host_open(&b, NULL, NULL, 7, 1);
    host_open(&c, NULL, NULL, 8, 1);
    a.crc_only = b.crc_only = c.crc_only = 1;
    start_job(&a, &p, &ja);
    start_job(&b, &p, &jb);
    start_job(&c, &p, &jc);
    read_stream(&a, &ja, &ra, 0);
    read_stream(&b, &jb, &rb, 0);
    read_stream(&c, &jc, &rc, 0);
    ck_assert_uint_eq(ra.crc_all, rb.crc_all);
    ck_assert_uint_ne(ra.crc_all, rc.crc_all);
    ck_assert_uint_eq(a.n_recs, b.n_recs);
    for (unsigned i = 0; i < a.n_recs; i++) {
        ck_assert_uint_eq(a.recs[i].deadline_ns - a.recs[i].job_start_ns,
                          b.recs[i].deadline_ns - b.recs[i].job_start_ns);
        ck_assert_uint_eq(a.recs[i].bytes, b.recs[i].bytes);
    }
    {
        int differ = 0;
        for (unsigned i = 0; i < a.n_recs; i++)
            differ |= a.recs[i].deadline_ns != c.recs[i].deadline_ns;
        ck_assert_int_eq(differ, 1); /* jitter depends on the seed */
    }
    host_close(&a);
    host_close(&b);
    host_close(&c);
}
END_TEST

START_TEST(timing_off_is_immediate)
{
    host h;
    proto_scan_job job;
    proto_scan_params p = params_default(2);
    dm_in in;
    run r;

    host_open(&h, NULL, NULL, 1, 0);
    start_job(&h, &p, &job);
    dm_device_peek(h.dev, DM_EP_DATA_IN, dm_clock_now(&h.clk.base), &in);
    ck_assert_int_eq(in.kind, DM_IN_DATA);
    read_stream(&h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_uint_eq(h.clk.now, 1000000000ull); /* the clock never had to move */
    host_close(&h);
}
END_TEST

START_TEST(lateness_is_reported)
{
    host h;
    proto_scan_job job;
    proto_scan_params p = params_default(1);
    dm_in in;
    dm_device_stats st;
    uint64_t t;

    host_open(&h, NULL, NULL, 1, 1);
    start_job(&h, &p, &job);
    t = dm_clock_now(&h.clk.base);
    dm_device_peek(h.dev, DM_EP_DATA_IN, t, &in);
    ck_assert_int_eq(in.kind, DM_IN_WAIT);
    /* the host comes back 5 ms after the deadline */
    dm_clock_virtual_set(&h.clk, in.deadline_ns + 5000000u);
    dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
    ck_assert_int_eq(in.kind, DM_IN_DATA);
    dm_device_consume(h.dev, DM_EP_DATA_IN, h.clk.now);
    dm_device_get_stats(h.dev, &st);
    ck_assert_uint_eq(st.late_bands, 1);
    ck_assert_uint_eq(st.max_late_ns, 5000000u);
    ck_assert_uint_eq(h.recs[0].release_ns - h.recs[0].deadline_ns, 5000000u);
    /* the next deadline did not move: error does not accumulate */
    dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
    {
        uint64_t want = h.recs[0].job_start_ns + 1500000000ull + 300000000ull + 128ull * 600000ull +
                        dm_hash5(1, 0, 0, 1, DM_RND_JITTER) % 200001;
        if (want < h.recs[0].deadline_ns)
            want = h.recs[0].deadline_ns;
        ck_assert_uint_eq(in.deadline_ns, want);
    }
    host_close(&h);
}
END_TEST

/* ---- scenarios, each fault exactly once at exactly its place ---------------------- */

/* Fault scenarios run at 150 dpi gray (28 bands of 64 lines per page) to keep
 * the suite fast under sanitizers; every fault place exists there too. */
static proto_scan_params params_fast(uint32_t pages)
{
    proto_scan_params p = params_default(pages);
    p.mode = PROTO_SCAN_MODE_GRAY8;
    p.dpi = 150;
    return p;
}

static void run_scenario(const char *scen, uint32_t pages, uint64_t seed, host *h,
                         proto_scan_job *job, run *r, int max_stalls)
{
    proto_scan_params p = params_fast(pages);
    char path[128];
    uint32_t st;

    snprintf(path, sizeof(path), "scenarios/%s.yaml", scen);
    host_open(h, NULL, path, seed, 0);
    st = start_job(h, &p, job);
    ck_assert_uint_eq(st, PROTO_SCAN_ST_OK);
    read_stream(h, job, r, max_stalls);
}

static unsigned count_fault(const host *h, const char *name)
{
    unsigned n = 0;
    for (unsigned i = 0; i < h->n_recs; i++)
        n += h->recs[i].fault != NULL && strcmp(h->recs[i].fault, name) == 0;
    return n;
}

START_TEST(scenario_jam)
{
    host h;
    proto_scan_job job;
    run r;
    dm_device_stats st;

    run_scenario("jam-page3-band5", 3, 1, &h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_uint_eq(job.bands_per_page, 28);
    ck_assert_uint_eq(r.bands, 2 * 28 + 4);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_PAPER_JAM);
    ck_assert_uint_eq(r.end_page, 2);
    ck_assert_uint_eq(r.events[PROTO_SCAN_EVT_PAPER_JAM], 1);
    ck_assert_uint_eq(count_fault(&h, "paper_jam"), 1);
    ck_assert_uint_eq(h.recs[h.n_recs - 1].page, 2);
    ck_assert_uint_eq(h.recs[h.n_recs - 1].band, 4);
    dm_device_get_stats(h.dev, &st);
    ck_assert_uint_eq(st.faults_fired, 1);
    /* the next job runs the scenario again from the start */
    {
        proto_scan_job j2;
        run r2;
        ck_assert_uint_eq(start_job(&h, NULL, &j2), PROTO_SCAN_ST_OK);
        read_stream(&h, &j2, &r2, 0);
        ck_assert_uint_eq(r2.pages_ok, 2);
        ck_assert_uint_eq(r2.end_status, PROTO_SCAN_ST_PAPER_JAM);
    }
    host_close(&h);
}
END_TEST

START_TEST(scenario_feeder_empty_after_2)
{
    host h;
    proto_scan_job job;
    run r;

    run_scenario("feeder-empty-after-2", 3, 1, &h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_FEEDER_EMPTY);
    ck_assert_uint_eq(r.end_page, 2);
    ck_assert_uint_eq(r.events[PROTO_SCAN_EVT_FEEDER_EMPTY], 1);
    host_close(&h);
    run_scenario("feeder-empty-after-2", 0, 1, &h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_FEEDER_EMPTY);
    host_close(&h);
    /* exactly two pages asked for: a normal end */
    run_scenario("feeder-empty-after-2", 2, 1, &h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_OK);
    host_close(&h);
}
END_TEST

START_TEST(scenario_clean_until_empty)
{
    host h;
    proto_scan_job job;
    run r;

    run_scenario("clean", 0, 1, &h, &job, &r, 0); /* 150 dpi gray */
    ck_assert_uint_eq(r.pages_ok, 10);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_FEEDER_EMPTY);
    ck_assert_uint_eq(r.end_page, 10);
    host_close(&h);
}
END_TEST

START_TEST(scenario_start_refusals)
{
    host h;
    proto_scan_params p = params_default(1);
    proto_scan_job job;
    uint8_t pl[64];
    size_t n;
    proto_scan_devstatus ds;

    host_open(&h, NULL, "scenarios/feeder-empty.yaml", 1, 1);
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_FEEDER_EMPTY);
    p.source = PROTO_SCAN_SOURCE_FLATBED; /* the glass needs no feeder */
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_OK);
    host_close(&h);

    host_open(&h, NULL, "scenarios/cover-open-at-start.yaml", 1, 1);
    p = params_default(1);
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_COVER_OPEN);
    ck_assert_uint_eq(start_job(&h, NULL, &job), PROTO_SCAN_ST_COVER_OPEN);
    send_cmd(&h, PROTO_SCAN_OP_GET_STATUS, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_GET_STATUS, pl, &n), PROTO_SCAN_ST_OK);
    ck_assert_int_eq(proto_scan_devstatus_decode(pl, n, &ds), 20);
    ck_assert_uint_eq(ds.cover_open, 1);
    host_close(&h);

    host_open(&h, NULL, "scenarios/busy.yaml", 1, 1);
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_BUSY);
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_OK);
    host_close(&h);

    /* warming-up-2s: WARMING_UP with the time left, until exactly 2 s */
    host_open(&h, NULL, "scenarios/warming-up-2s.yaml", 1, 1);
    send_cmd(&h, PROTO_SCAN_OP_START_JOB, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_START_JOB, pl, &n), PROTO_SCAN_ST_WARMING_UP);
    ck_assert_int_eq(proto_scan_devstatus_decode(pl, n, &ds), 20);
    ck_assert_uint_eq(ds.state, 1);
    ck_assert_uint_eq(ds.warmup_remaining_ms, 2000);
    dm_clock_virtual_advance(&h.clk, 1500000000ull);
    send_cmd(&h, PROTO_SCAN_OP_START_JOB, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_START_JOB, pl, &n), PROTO_SCAN_ST_WARMING_UP);
    ck_assert_int_eq(proto_scan_devstatus_decode(pl, n, &ds), 20);
    ck_assert_uint_eq(ds.warmup_remaining_ms, 500);
    dm_clock_virtual_advance(&h.clk, 499999999ull);
    ck_assert_uint_eq(start_job(&h, NULL, &job), PROTO_SCAN_ST_WARMING_UP);
    dm_clock_virtual_advance(&h.clk, 1);
    ck_assert_uint_eq(start_job(&h, NULL, &job), PROTO_SCAN_ST_OK);
    host_close(&h);
}
END_TEST

START_TEST(scenario_cover_and_multifeed)
{
    host h;
    proto_scan_job job;
    run r;

    run_scenario("cover-open", 3, 1, &h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 1);
    ck_assert_uint_eq(r.bands, 28 + 2);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_COVER_OPEN);
    ck_assert_uint_eq(r.end_page, 1);
    ck_assert_uint_eq(r.events[PROTO_SCAN_EVT_COVER_OPEN], 1);
    host_close(&h);

    run_scenario("multi-feed", 3, 1, &h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 1);
    ck_assert_uint_eq(r.bands, 28);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_MULTI_FEED);
    ck_assert_uint_eq(r.end_page, 1);
    ck_assert_uint_eq(r.events[PROTO_SCAN_EVT_MULTI_FEED], 1);
    host_close(&h);
}
END_TEST

START_TEST(scenario_stalls)
{
    host h;
    proto_scan_job job;
    run r;
    dm_device_stats st;

    /* clears: the stream resumes with the same band after CLEAR_FEATURE */
    run_scenario("stall-mid-page", 3, 1, &h, &job, &r, 1);
    ck_assert_uint_eq(r.stalls, 1);
    ck_assert_uint_eq(r.pages_ok, 3);
    ck_assert_uint_eq(r.bands, 3 * 28);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(count_fault(&h, "stall"), 1);
    {
        /* the stall record and the band after it are page index 1, band index 9 */
        unsigned i;
        for (i = 0; i < h.n_recs; i++)
            if (h.recs[i].fault && strcmp(h.recs[i].fault, "stall") == 0)
                break;
        ck_assert_uint_eq(h.recs[i].page, 1);
        ck_assert_uint_eq(h.recs[i].band, 9);
        ck_assert_uint_eq(h.recs[i + 1].page, 1);
        ck_assert_uint_eq(h.recs[i + 1].band, 9);
        ck_assert_uint_eq(h.recs[i + 1].bytes, 64 * 1240);
    }
    dm_device_get_stats(h.dev, &st);
    ck_assert_uint_eq(st.faults_fired, 1);
    host_close(&h);

    /* does not clear: stalls again after every clear */
    run_scenario("stall-no-clear", 3, 1, &h, &job, &r, 3);
    ck_assert_int_eq(r.stopped, DM_IN_STALL);
    ck_assert_uint_eq(r.stalls, 4);
    ck_assert_uint_eq(r.pages_ok, 1);
    ck_assert_uint_eq(r.bands, 28 + 9);
    dm_device_get_stats(h.dev, &st);
    ck_assert_uint_eq(st.faults_fired, 1);
    {
        /* halted: a halted endpoint keeps answering STALL until cleared */
        dm_in in;
        dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
        ck_assert_int_eq(in.kind, DM_IN_STALL);
        /* ABORT still gets through once the host clears the halt */
        dm_device_clear_halt(h.dev, DM_EP_DATA_IN);
        send_cmd(&h, PROTO_SCAN_OP_ABORT, NULL, 0);
        ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_ABORT, NULL, NULL), PROTO_SCAN_ST_OK);
        dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
        ck_assert_int_eq(in.kind, DM_IN_IDLE);
    }
    host_close(&h);
}
END_TEST

START_TEST(scenario_short_and_corrupt)
{
    host h;
    proto_scan_job job;
    run r;
    size_t n = 64 * 1240;

    run_scenario("short-band", 3, 1, &h, &job, &r, 0);
    ck_assert_uint_eq(r.bad_bands, 1);
    ck_assert_uint_eq(r.pages_ok, 2); /* pages 1 and 3 */
    ck_assert_uint_eq(count_fault(&h, "short_band"), 1);
    for (unsigned i = 0; i < h.n_recs; i++)
        if (h.recs[i].fault) {
            ck_assert_uint_eq(h.recs[i].page, 1);
            ck_assert_uint_eq(h.recs[i].band, 6);
            ck_assert_uint_eq(h.recs[i].bytes, n / 2);
        }
    host_close(&h);

    run_scenario("corrupt-band", 3, 1, &h, &job, &r, 0);
    ck_assert_uint_eq(r.bad_bands, 1);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_uint_eq(count_fault(&h, "corrupt_band"), 1);
    host_close(&h);

    /* corrupt exactly the stated byte, short exactly at it */
    {
        static const char y[] = "name: c\nsheets: 2\nfaults:\n"
                                "  - {kind: corrupt_band, at: {page: 1, byte: 1000001}}\n";
        char err[256];
        dm_device_config cfg;
        proto_scan_params p = params_default(1);
        dm_in in;
        uint8_t *exp;

        n = 64 * 2480 * 3;
        exp = malloc(n);
        uint32_t band = (uint32_t)(1000000 / (2480 * 3) / 64);
        size_t off = 1000000 - (size_t)band * n;

        memset(&h, 0, sizeof(h));
        dm_clock_virtual_init(&h.clk, 0);
        ck_assert_int_eq(dm_profile_load_default(&h.prof, err, sizeof(err)), DM_OK);
        ck_assert_int_eq(dm_scenario_load_mem("c", y, sizeof(y) - 1, &h.scen, err, sizeof(err)),
                         DM_OK);
        dm_device_config_init(&cfg);
        cfg.profile = h.prof;
        cfg.scenario = h.scen;
        cfg.clock = &h.clk.base;
        cfg.timing = 0;
        ck_assert_int_eq(dm_device_create(&cfg, &h.dev), DM_OK);
        ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_OK);
        for (uint32_t b = 0; b <= band; b++) {
            dm_device_peek(h.dev, DM_EP_DATA_IN, 0, &in);
            ck_assert_int_eq(in.kind, DM_IN_DATA);
            if (b == band) {
                dm_synth_band(&job, 0, 0, b, exp);
                for (size_t k = 0; k < n; k++)
                    ck_assert_msg((in.data[40 + k] != exp[k]) == (k == off), "byte %zu of band %u",
                                  k, b);
            }
            dm_device_consume(h.dev, DM_EP_DATA_IN, 0);
        }
        free(exp);
        host_close(&h);
    }
}
END_TEST

START_TEST(scenario_never_and_disconnect)
{
    host h;
    proto_scan_job job;
    run r;
    dm_in in;

    run_scenario("band-never-comes", 3, 1, &h, &job, &r, 0);
    ck_assert_int_eq(r.stopped, DM_IN_WAIT);
    ck_assert_uint_eq(r.pages_ok, 1);
    ck_assert_uint_eq(r.bands, 28 + 3);
    dm_device_peek(h.dev, DM_EP_DATA_IN, UINT64_MAX - 1, &in);
    ck_assert_int_eq(in.kind, DM_IN_WAIT);
    ck_assert_uint_eq(in.deadline_ns, UINT64_MAX);
    /* GET_STATUS still answers, ahead of the withheld band */
    send_cmd(&h, PROTO_SCAN_OP_GET_STATUS, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_GET_STATUS, NULL, NULL), PROTO_SCAN_ST_OK);
    /* the withheld band is traced when the host gives up */
    send_cmd(&h, PROTO_SCAN_OP_ABORT, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_ABORT, NULL, NULL), PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(count_fault(&h, "band_never_comes"), 1);
    ck_assert_uint_eq(h.recs[h.n_recs - 1].page, 1);
    ck_assert_uint_eq(h.recs[h.n_recs - 1].band, 3);
    host_close(&h);

    run_scenario("disconnect-mid-page", 3, 1, &h, &job, &r, 0);
    ck_assert_int_eq(r.stopped, DM_IN_DISCONNECT);
    ck_assert_uint_eq(r.pages_ok, 1);
    ck_assert_uint_eq(r.bands, 28 + 19);
    dm_device_consume(h.dev, DM_EP_DATA_IN, h.clk.now);
    ck_assert_uint_eq(count_fault(&h, "disconnect"), 1);
    dm_device_peek(h.dev, DM_EP_EVENT_IN, h.clk.now, &in);
    ck_assert_int_eq(in.kind, DM_IN_DISCONNECT);
    /* plugged in again: a fresh device */
    dm_device_reset(h.dev);
    dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
    ck_assert_int_eq(in.kind, DM_IN_IDLE);
    host_close(&h);
}
END_TEST

START_TEST(scenario_delay)
{
    host h;
    proto_scan_job job;
    proto_scan_params p = params_default(1);
    run r;

    host_open(&h, NULL, "scenarios/delay-500ms.yaml", 3, 1);
    start_job(&h, &p, &job);
    read_stream(&h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 1);
    ck_assert_uint_eq(count_fault(&h, "delay"), 1);
    ck_assert_str_eq(h.recs[9].fault, "delay");
    for (unsigned i = 0; i + 1 < h.n_recs; i++) {
        uint64_t lines_end = (uint64_t)h.recs[i].band * 64 + dm_band_lines(&job, h.recs[i].band);
        uint64_t base = 1500000000ull + 300000000ull + lines_end * 600000ull +
                        dm_hash5(3, 0, 0, h.recs[i].band, DM_RND_JITTER) % 200001;
        uint64_t rel = h.recs[i].deadline_ns - h.recs[i].job_start_ns;
        if (i >= 9)
            base += 500000000ull;
        ck_assert_uint_ge(rel, base); /* >=: never backwards */
        ck_assert_uint_le(rel, base + 200000);
    }
    host_close(&h);
}
END_TEST

START_TEST(scenario_random_is_reproducible)
{
    host a, b;
    proto_scan_job ja, jb;
    proto_scan_params p = params_default(0);
    run ra, rb;
    dm_device_stats sa, sb;

    /* default parameters (ADF, colour, 300 dpi), until the feeder is empty */
    host_open(&a, NULL, "scenarios/random-faults.yaml", 1, 0);
    host_open(&b, NULL, "scenarios/random-faults.yaml", 2, 0); /* page seed differs */
    a.crc_only = b.crc_only = 1;
    ck_assert_uint_eq(start_job(&a, &p, &ja), PROTO_SCAN_ST_OK);
    p.pages = 2; /* the second run only needs to show the same faults in the same places */
    ck_assert_uint_eq(start_job(&b, &p, &jb), PROTO_SCAN_ST_OK);
    read_stream(&a, &ja, &ra, 0);
    read_stream(&b, &jb, &rb, 0);
    dm_device_get_stats(a.dev, &sa);
    dm_device_get_stats(b.dev, &sb);
    ck_assert_uint_le(sb.faults_fired, sa.faults_fired);
    ck_assert_uint_gt(sb.faults_fired, 0);
    ck_assert_uint_eq(rb.pages_ok, 2);
    for (unsigned i = 0; i + 1 < b.n_recs; i++) { /* faults follow the scenario seed */
        ck_assert_uint_eq(a.recs[i].page, b.recs[i].page);
        ck_assert_uint_eq(a.recs[i].band, b.recs[i].band);
        ck_assert((a.recs[i].fault == NULL) == (b.recs[i].fault == NULL));
        ck_assert_uint_eq(a.recs[i].deadline_ns - a.recs[i].job_start_ns,
                          b.recs[i].deadline_ns - b.recs[i].job_start_ns);
    }
    /* The outcome docs/protocol.md promises: a jam in the 7th page (index 6,
     * band index 17), six pages intact, delays and button presses before. */
    ck_assert_uint_eq(ra.pages_ok, 6);
    ck_assert_uint_eq(ra.end_status, PROTO_SCAN_ST_PAPER_JAM);
    ck_assert_uint_eq(ra.end_page, 6);
    ck_assert_uint_eq(a.recs[a.n_recs - 1].band, 17);
    ck_assert_uint_eq(ra.events[PROTO_SCAN_EVT_PAPER_JAM], 1);
    ck_assert_uint_gt(ra.events[PROTO_SCAN_EVT_BUTTON], 0);
    ck_assert_uint_gt(count_fault(&a, "delay"), 0);

    host_close(&a);
    host_close(&b);
}
END_TEST

START_TEST(triggers_line_every_after)
{
    static const char y[] = "name: t\nsheets: 6\nfaults:\n"
                            "  - {kind: button, at: {page: 1, line: 1000}}\n"
                            "  - {kind: button, every: {pages: 2, band: 3}}\n"
                            "  - {kind: button, after_ms: 4000}\n";
    host h;
    char err[256];
    dm_device_config cfg;
    proto_scan_params p = params_fast(5);
    proto_scan_job job;
    run r;
    unsigned seen = 0;

    memset(&h, 0, sizeof(h));
    dm_clock_virtual_init(&h.clk, 0);
    ck_assert_int_eq(dm_profile_load_default(&h.prof, err, sizeof(err)), DM_OK);
    ck_assert_int_eq(dm_scenario_load_mem("t", y, sizeof(y) - 1, &h.scen, err, sizeof(err)), DM_OK);
    dm_device_config_init(&cfg);
    cfg.profile = h.prof;
    cfg.scenario = h.scen;
    cfg.clock = &h.clk.base;
    cfg.trace = trace_cb;
    cfg.trace_ctx = &h;
    ck_assert_int_eq(dm_device_create(&cfg, &h.dev), DM_OK);
    start_job(&h, &p, &job);
    read_stream(&h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 5);
    for (unsigned i = 0; i < h.n_recs; i++) {
        const dm_trace_rec *t = &h.recs[i];
        if (t->fault == NULL)
            continue;
        ck_assert_str_eq(t->fault, "button");
        seen++;
        if (t->page == 0)
            ck_assert_uint_eq(t->band, 999 / 64);
        else if (t->band == 2)
            ck_assert(t->page == 1 || t->page == 3);
        else {
            /* after 4 s: the first band whose deadline is >= 4 s from job start */
            ck_assert_uint_ge(t->deadline_ns - t->job_start_ns, 4000000000ull);
            ck_assert_uint_lt(h.recs[i - 1].deadline_ns - t->job_start_ns, 4000000000ull);
        }
    }
    ck_assert_uint_eq(seen, 4);
    ck_assert_uint_eq(r.events[PROTO_SCAN_EVT_BUTTON], 4);
    host_close(&h);
}
END_TEST

START_TEST(duplex_and_other_profiles)
{
    static const char y[] = "name: three\nsheets: 3\n";
    host h;
    char err[256];
    dm_device_config cfg;
    proto_scan_params p;
    proto_scan_job job;
    run r;

    memset(&h, 0, sizeof(h));
    dm_clock_virtual_init(&h.clk, 0);
    ck_assert_int_eq(
        dm_profile_load_file(fixture_path("profiles/fast-duplex.yaml"), &h.prof, err, sizeof(err)),
        DM_OK);
    ck_assert_int_eq(dm_scenario_load_mem("three", y, sizeof(y) - 1, &h.scen, err, sizeof(err)),
                     DM_OK);
    dm_device_config_init(&cfg);
    cfg.profile = h.prof;
    cfg.scenario = h.scen;
    cfg.clock = &h.clk.base;
    cfg.trace = trace_cb;
    cfg.trace_ctx = &h;
    ck_assert_int_eq(dm_device_create(&cfg, &h.dev), DM_OK);
    memset(&p, 0, sizeof(p));
    p.source = PROTO_SCAN_SOURCE_DUPLEX;
    p.mode = PROTO_SCAN_MODE_BW;
    p.dpi = 100;
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_OK);
    read_stream(&h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 6); /* 3 sheets, 2 sides */
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_FEEDER_EMPTY);
    ck_assert_uint_eq(r.end_page, 6);
    for (unsigned i = 0; i + 1 < h.n_recs; i++) {
        ck_assert_uint_eq(h.recs[i].side, h.recs[i].page & 1);
        if (h.recs[i].side == 1 && h.recs[i].band == 0) {
            /* both sides are scanned at once: the back is due with the front */
            ck_assert_uint_le(h.recs[i].deadline_ns - h.recs[i].job_start_ns,
                              (h.recs[i].page / 2 + 1) * (150000000ull + 1402ull * 120000ull) +
                                  100000);
        }
    }
    /* 60 sheets per minute class: 3 sheets in about 3 s */
    ck_assert_uint_lt(h.recs[h.n_recs - 1].deadline_ns - h.recs[0].job_start_ns, 3500000000ull);
    host_close(&h);

    /* the 1200 dpi flatbed in 48-bit colour: one page, band cut to fit 1 MiB */
    host_open(&h, "profiles/flatbed-1200.yaml", NULL, 5, 0);
    memset(&p, 0, sizeof(p));
    p.source = PROTO_SCAN_SOURCE_FLATBED;
    p.mode = PROTO_SCAN_MODE_COLOR48;
    p.dpi = 1200;
    p.height_px = 200; /* a strip keeps the test short */
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(job.bytes_per_line, 10204 * 6);
    ck_assert_uint_eq(job.band_lines, 17);
    read_stream(&h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 1);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_OK);
    host_close(&h);

    /* the receipt scanner: bilevel by default */
    host_open(&h, "profiles/receipt-bw.yaml", NULL, 5, 0);
    ck_assert_uint_eq(start_job(&h, NULL, &job), PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(job.mode, PROTO_SCAN_MODE_BW);
    ck_assert_uint_eq(job.bytes_per_line, (629 + 7) / 8);
    read_stream(&h, &job, &r, 0);
    ck_assert_uint_eq(r.pages_ok, 10);
    ck_assert_uint_eq(r.end_status, PROTO_SCAN_ST_FEEDER_EMPTY);
    host_close(&h);
}
END_TEST

/* ---- commands -------------------------------------------------------------------- */

START_TEST(commands_and_errors)
{
    host h;
    uint8_t pl[PROTO_SCAN_MAX_PAYLOAD];
    size_t n;
    proto_scan_caps caps;
    proto_scan_job job;
    proto_scan_params p = params_default(2);
    dm_in in;

    host_open(&h, NULL, NULL, 1, 1);
    send_cmd(&h, PROTO_SCAN_OP_GET_CAPS, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_GET_CAPS, pl, &n), PROTO_SCAN_ST_OK);
    ck_assert_int_eq(proto_scan_caps_decode(pl, n, &caps), 64);
    ck_assert_uint_eq(caps.band_lines, 64);

    send_cmd(&h, 77, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, 77, NULL, NULL), PROTO_SCAN_ST_INVALID_COMMAND);
    send_cmd(&h, PROTO_SCAN_OP_GET_CAPS, pl, 4); /* GET_CAPS takes no payload */
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_GET_CAPS, NULL, NULL),
                      PROTO_SCAN_ST_INVALID_COMMAND);
    {
        /* not a command at all */
        static const uint8_t junk[5] = {1, 2, 3, 4, 5};
        ck_assert_int_eq(dm_device_bulk_out(h.dev, junk, sizeof(junk)), DM_E_PROTO);
        dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
        ck_assert_int_eq(in.kind, DM_IN_DATA);
        ck_assert_uint_eq(proto_get_le32(in.data + 12), PROTO_SCAN_ST_INVALID_COMMAND);
        dm_device_consume(h.dev, DM_EP_DATA_IN, h.clk.now);
    }
    p.dpi = 123;
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_INVALID_PARAM);
    {
        uint8_t bad[32];
        p.dpi = 300;
        proto_scan_params_encode(&p, bad, sizeof(bad));
        bad[1] = 9; /* unknown mode */
        send_cmd(&h, PROTO_SCAN_OP_SET_PARAMS, bad, sizeof(bad));
        ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_SET_PARAMS, NULL, NULL),
                          PROTO_SCAN_ST_INVALID_PARAM);
        send_cmd(&h, PROTO_SCAN_OP_SET_PARAMS, bad, 31); /* truncated payload */
        ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_SET_PARAMS, NULL, NULL),
                          PROTO_SCAN_ST_INVALID_COMMAND);
    }
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(job.pages, 2);
    /* while a job runs: START_JOB and SET_PARAMS are BUSY, GET_STATUS answers
     * ahead of bands */
    ck_assert_uint_eq(start_job(&h, NULL, &job), PROTO_SCAN_ST_BUSY);
    ck_assert_uint_eq(start_job(&h, &p, &job), PROTO_SCAN_ST_BUSY);
    dm_clock_virtual_advance(&h.clk, 10000000000ull); /* every band of page 1 is due */
    send_cmd(&h, PROTO_SCAN_OP_GET_STATUS, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_GET_STATUS, pl, &n), PROTO_SCAN_ST_OK);
    {
        proto_scan_devstatus ds;
        proto_scan_devstatus_decode(pl, n, &ds);
        ck_assert_uint_eq(ds.state, 2);
        ck_assert_uint_eq(ds.sheets_loaded, 10);
    }
    dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
    ck_assert_int_eq(in.kind, DM_IN_DATA);
    ck_assert_uint_eq(proto_get_le32(in.data), PROTO_SCAN_MAGIC_BND);
    /* peek has no side effects */
    {
        dm_in again;
        dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &again);
        ck_assert_ptr_eq(again.data, in.data);
        ck_assert_uint_eq(again.len, in.len);
    }
    dm_device_consume(h.dev, DM_EP_DATA_IN, h.clk.now);
    /* ABORT discards the rest */
    send_cmd(&h, PROTO_SCAN_OP_ABORT, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_ABORT, NULL, NULL), PROTO_SCAN_ST_OK);
    dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
    ck_assert_int_eq(in.kind, DM_IN_IDLE);
    /* a new job after abort starts from page 0 */
    ck_assert_uint_eq(start_job(&h, NULL, &job), PROTO_SCAN_ST_OK);
    dm_clock_virtual_advance(&h.clk, 10000000000ull);
    dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
    ck_assert_uint_eq(proto_get_le32(in.data + 8), 0);
    /* RESET: job gone, parameters forgotten, RESET answered */
    send_cmd(&h, PROTO_SCAN_OP_RESET, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_RESET, NULL, NULL), PROTO_SCAN_ST_OK);
    dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
    ck_assert_int_eq(in.kind, DM_IN_IDLE);
    ck_assert_uint_eq(start_job(&h, NULL, &job), PROTO_SCAN_ST_OK);
    ck_assert_uint_eq(job.pages, 0); /* profile defaults again */
    host_close(&h);
}
END_TEST

/* A host that does not read bulk IN: after DM_RSP_QUEUE_DEPTH unanswered
 * commands the device refuses the next one untouched (DM_E_AGAIN, a NAK on
 * hardware) instead of running it and dropping its answer; once a response
 * is read the same bytes are taken. */
static int raw_cmd(host *h, uint16_t op, uint32_t tag)
{
    uint8_t buf[PROTO_SCAN_CMD_HDR_SIZE];
    proto_scan_cmd c = {.opcode = op, .tag = tag, .length = 0};
    ck_assert_int_eq(proto_scan_cmd_encode(&c, buf, sizeof(buf)), PROTO_SCAN_CMD_HDR_SIZE);
    return dm_device_bulk_out(h->dev, buf, sizeof(buf));
}

START_TEST(full_response_queue_refuses_commands)
{
    host h;
    dm_in in;
    proto_scan_rsp r;
    static const uint8_t junk[5] = {1, 2, 3, 4, 5};

    host_open(&h, NULL, "scenarios/clean.yaml", 1, 0);
    for (uint32_t i = 0; i < DM_RSP_QUEUE_DEPTH; i++)
        ck_assert_int_eq(raw_cmd(&h, PROTO_SCAN_OP_GET_STATUS, 100 + i), DM_OK);
    /* Full: every command is refused, malformed ones too, and a refused
     * START_JOB starts nothing. */
    ck_assert_int_eq(raw_cmd(&h, PROTO_SCAN_OP_START_JOB, 900), DM_E_AGAIN);
    ck_assert_int_eq(raw_cmd(&h, PROTO_SCAN_OP_GET_STATUS, 901), DM_E_AGAIN);
    ck_assert_int_eq(dm_device_bulk_out(h.dev, junk, sizeof(junk)), DM_E_AGAIN);
    ck_assert_str_eq(dm_strerror(DM_E_AGAIN),
                     "response queue full: command not taken, retry after bulk IN");
    dm_clock_virtual_advance(&h.clk, 1000000000ull);
    /* Read one answer: room for exactly one more. */
    dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
    ck_assert_int_eq(in.kind, DM_IN_DATA);
    ck_assert_int_gt(proto_scan_rsp_decode(in.data, in.len, &r), 0);
    ck_assert_uint_eq(r.tag, 100);
    dm_device_consume(h.dev, DM_EP_DATA_IN, h.clk.now);
    ck_assert_int_eq(raw_cmd(&h, PROTO_SCAN_OP_START_JOB, 900), DM_OK);
    ck_assert_int_eq(raw_cmd(&h, PROTO_SCAN_OP_GET_STATUS, 901), DM_E_AGAIN);
    /* Every accepted command is answered, in order; the START_JOB answer
     * comes last and then the band stream. */
    for (uint32_t i = 1; i <= DM_RSP_QUEUE_DEPTH; i++) {
        dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
        ck_assert_int_eq(in.kind, DM_IN_DATA);
        ck_assert_int_gt(proto_scan_rsp_decode(in.data, in.len, &r), 0);
        if (i < DM_RSP_QUEUE_DEPTH) {
            ck_assert_uint_eq(r.tag, 100 + i);
            ck_assert_uint_eq(r.opcode, PROTO_SCAN_OP_GET_STATUS);
        } else {
            ck_assert_uint_eq(r.tag, 900);
            ck_assert_uint_eq(r.opcode, PROTO_SCAN_OP_START_JOB);
            ck_assert_uint_eq(r.status, PROTO_SCAN_ST_OK);
        }
        dm_device_consume(h.dev, DM_EP_DATA_IN, h.clk.now);
    }
    dm_device_peek(h.dev, DM_EP_DATA_IN, h.clk.now, &in);
    ck_assert_int_eq(in.kind, DM_IN_DATA);
    ck_assert_uint_eq(proto_get_le32(in.data), PROTO_SCAN_MAGIC_BND);
    host_close(&h);
}
END_TEST

/* A fault the actual job cannot reach is reported at START_JOB
 * (dm_device_job_check); the job still runs. */
START_TEST(job_check_reports_unreachable_faults)
{
    static const char y[] = "name: far\nsheets: 5\nfaults:\n"
                            "  - {kind: paper_jam, at: {page: 3, band: 20}}\n";
    char err[256];
    dm_clock_virtual clk;
    dm_device_config cfg;
    dm_device *dev;
    dm_profile *p;
    dm_scenario *s;
    host h;
    proto_scan_job job;
    proto_scan_params pa = params_default(0);

    /* The default ADF job has 55 bands and 5 pages: it fits. */
    dm_clock_virtual_init(&clk, 0);
    ck_assert_int_eq(dm_profile_load_default(&p, err, sizeof(err)), DM_OK);
    ck_assert_int_eq(dm_scenario_load_mem("far.yaml", y, sizeof(y) - 1, &s, err, sizeof(err)),
                     DM_OK);
    ck_assert_int_eq(dm_scenario_check(s, p, err, sizeof(err)), DM_OK);
    dm_device_config_init(&cfg);
    cfg.profile = p;
    cfg.scenario = s;
    cfg.clock = &clk.base;
    cfg.timing = 0;
    ck_assert_int_eq(dm_device_create(&cfg, &dev), DM_OK);
    ck_assert_int_eq(dm_device_job_check(dev, err, sizeof(err)), DM_E_STATE);
    memset(&h, 0, sizeof(h));
    h.dev = dev;
    h.clk = clk;
    cfg.clock = &h.clk.base;
    dm_device_free(dev);
    ck_assert_int_eq(dm_device_create(&cfg, &h.dev), DM_OK);
    ck_assert_uint_eq(start_job(&h, NULL, &job), PROTO_SCAN_ST_OK);
    ck_assert_int_eq(dm_device_job_check(h.dev, err, sizeof(err)), DM_OK);
    send_cmd(&h, PROTO_SCAN_OP_ABORT, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_ABORT, NULL, NULL), PROTO_SCAN_ST_OK);
    /* A window of 640 lines has 10 bands: band 20 never comes. */
    pa.height_px = 640;
    ck_assert_uint_eq(start_job(&h, &pa, &job), PROTO_SCAN_ST_OK);
    ck_assert_int_eq(dm_device_job_check(h.dev, err, sizeof(err)), DM_E_RANGE);
    ck_assert_msg(strstr(err,
                         "far.yaml: key 'faults[0].at.band': band 20 is past the last band "
                         "(10) of page 3 in this job on profile <built-in default.yaml>") != NULL,
                  "%s", err);
    send_cmd(&h, PROTO_SCAN_OP_ABORT, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_ABORT, NULL, NULL), PROTO_SCAN_ST_OK);
    /* Two pages: page 3 never comes. */
    pa = params_default(2);
    ck_assert_uint_eq(start_job(&h, &pa, &job), PROTO_SCAN_ST_OK);
    ck_assert_int_eq(dm_device_job_check(h.dev, err, sizeof(err)), DM_E_RANGE);
    ck_assert_msg(strstr(err, "'faults[0].at.page': page 3 is past the end of this job on profile "
                              "<built-in default.yaml> (ADF, 2 pages)") != NULL,
                  "%s", err);
    send_cmd(&h, PROTO_SCAN_OP_ABORT, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_ABORT, NULL, NULL), PROTO_SCAN_ST_OK);
    /* A flatbed job scans one page. */
    pa = params_default(0);
    pa.source = PROTO_SCAN_SOURCE_FLATBED;
    ck_assert_uint_eq(start_job(&h, &pa, &job), PROTO_SCAN_ST_OK);
    ck_assert_int_eq(dm_device_job_check(h.dev, err, sizeof(err)), DM_E_RANGE);
    ck_assert_msg(strstr(err, "page 3 is past the end of this job on profile <built-in "
                              "default.yaml> (flatbed, 1 page)") != NULL,
                  "%s", err);
    dm_device_free(h.dev);
    dm_scenario_free(s);
    dm_profile_free(p);
}
END_TEST

/* ---- bad fixtures ----------------------------------------------------------------- */

#define GOOD_PROFILE_HEAD                                                                          \
    "name: bad\n"                                                                                  \
    "usb: {vid: 0x1209, pid: 1, speed: high, manufacturer: m, product: p, serial: s}\n"
#define GOOD_PROFILE_TAIL                                                                          \
    "area: {width_mm: 210, height_mm: 297}\n"                                                      \
    "band: {lines: 64, max_bytes: 1048576}\n"                                                      \
    "defaults: {source: adf, mode: color, dpi: 300}\n"                                             \
    "timing: {warmup_ms: 0, feed_ms: 100, line_time_us: {bw: 1, gray: 1, color: 1}}\n"
#define GOOD_PROFILE_MID                                                                           \
    "sources: [adf]\nfeeder_capacity: 10\nmodes: [bw, gray, color]\nresolutions: [100, 300]\n"

static const struct bad {
    const char *yaml;
    const char *expect; /* substring of the message */
} bad_profiles[] = {
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID GOOD_PROFILE_TAIL, NULL}, /* control: loads */
    {"name: bad\n" GOOD_PROFILE_MID GOOD_PROFILE_TAIL, "usb"},
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID "band: {lines: 64, max_bytes: 1048576}\n"
                                        "defaults: {source: adf, mode: color, dpi: 300}\n"
                                        "timing: {warmup_ms: 0, feed_ms: 1, line_time_us: {}}\n",
     "area"},
    {GOOD_PROFILE_HEAD "sources: [adf]\nfeeder_capacity: ten\nmodes: [color]\n"
                       "resolutions: [300]\n" GOOD_PROFILE_TAIL,
     "feeder_capacity"},
    {GOOD_PROFILE_HEAD "sources: [adf]\nfeeder_capacity: -5\nmodes: [color]\n"
                       "resolutions: [300]\n" GOOD_PROFILE_TAIL,
     "feeder_capacity"},
    {GOOD_PROFILE_HEAD "sources: [adf]\nfeeder_capacity: 0\nmodes: [bw, gray, color]\n"
                       "resolutions: [300]\n" GOOD_PROFILE_TAIL,
     "feeder_capacity"},
    {GOOD_PROFILE_HEAD "sources: [adf]\nfeeder_capacity: 1000000000000\nmodes: [color]\n"
                       "resolutions: [300]\n" GOOD_PROFILE_TAIL,
     "feeder_capacity"},
    {GOOD_PROFILE_HEAD "sources: [adf]\nfeeder_capacity: 10\nmodes: [bw, gray, color]\n"
                       "resolutions: [300, 1000000000]\n" GOOD_PROFILE_TAIL,
     "resolutions[1]"},
    {GOOD_PROFILE_HEAD "sources: [adf, scanner]\nfeeder_capacity: 10\nmodes: [color]\n"
                       "resolutions: [300]\n" GOOD_PROFILE_TAIL,
     "sources"},
    {GOOD_PROFILE_HEAD "sources: [adf]\nfeeder_capacity: 10\nmodes: [color, sepia]\n"
                       "resolutions: [300]\n" GOOD_PROFILE_TAIL,
     "modes"},
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID "area: {width_mm: 0, height_mm: 297}\n"
                                        "band: {lines: 64, max_bytes: 1048576}\n"
                                        "defaults: {source: adf, mode: color, dpi: 300}\n"
                                        "timing: {warmup_ms: 0, feed_ms: 100, line_time_us: "
                                        "{bw: 1, gray: 1, color: 1}}\n",
     "area.width_mm"},
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID "area: {width_mm: 210, height_mm: 5000}\n"
                                        "band: {lines: 64, max_bytes: 1048576}\n"
                                        "defaults: {source: adf, mode: color, dpi: 300}\n"
                                        "timing: {warmup_ms: 0, feed_ms: 100, line_time_us: "
                                        "{bw: 1, gray: 1, color: 1}}\n",
     "area.height_mm"},
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID "area: {width_mm: 210, height_mm: 297}\n"
                                        "band: {lines: 0, max_bytes: 1048576}\n"
                                        "defaults: {source: adf, mode: color, dpi: 300}\n"
                                        "timing: {warmup_ms: 0, feed_ms: 100, line_time_us: "
                                        "{bw: 1, gray: 1, color: 1}}\n",
     "band.lines"},
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID "area: {width_mm: 210, height_mm: 297}\n"
                                        "band: {lines: 64, max_bytes: 100000000}\n"
                                        "defaults: {source: adf, mode: color, dpi: 300}\n"
                                        "timing: {warmup_ms: 0, feed_ms: 100, line_time_us: "
                                        "{bw: 1, gray: 1, color: 1}}\n",
     "band.max_bytes"},
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID "area: {width_mm: 210, height_mm: 297}\n"
                                        "band: {lines: 64, max_bytes: 1048576}\n"
                                        "defaults: {source: flatbed, mode: color, dpi: 300}\n"
                                        "timing: {warmup_ms: 0, feed_ms: 100, line_time_us: "
                                        "{bw: 1, gray: 1, color: 1}}\n",
     "defaults.source"},
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID "area: {width_mm: 210, height_mm: 297}\n"
                                        "band: {lines: 64, max_bytes: 1048576}\n"
                                        "defaults: {source: adf, mode: color, dpi: 300}\n"
                                        "timing: {warmup_ms: 0, feed_ms: 100, line_time_us: "
                                        "{bw: 1, gray: 1}}\n",
     "timing.line_time_us.color"},
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID "area: {width_mm: 210, height_mm: 297}\n"
                                        "band: {lines: 64, max_bytes: 1048576}\n"
                                        "defaults: {source: adf, mode: color, dpi: 300}\n"
                                        "timing: {warmup_ms: 0, feed_ms: 100, line_time_us: "
                                        "{bw: 1, gray: 1, color: 1}, jitter_us: 1.5}\n",
     "jitter_us"},
    {GOOD_PROFILE_HEAD GOOD_PROFILE_MID GOOD_PROFILE_TAIL "colour: blue\n", "colour"},
    {"name: [oops\n", "bad"},
    {"", "bad"},
    {"- just\n- a list\n", "bad"},
};

static const struct bad bad_scenarios[] = {
    {"name: s\nsheets: 3\n", NULL}, /* control */
    {"name: s\n", "sheets"},
    {"name: s\nsheets: many\n", "sheets"},
    {"name: s\nsheets: -1\n", "sheets"},
    {"name: s\nsheets: 1000000000000\n", "sheets"},
    {"name: s\nsheets: 20000\n", "sheets"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: gremlins\n    at: {page: 1, band: 1}\n", "kind"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n", "faults[0]"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 7, band: 1}\n",
     "past the end"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 0, band: 1}\n",
     "faults[0].at.page"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 1000000000000}\n", "page"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 1, band: 0}\n",
     "faults[0].at.band"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 1, band: 2, line: 5}\n",
     "faults[0].at"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: delay\n    at: {page: 1, band: 2}\n", "ms"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: delay\n    at: {page: 1, band: 2}\n    ms: -4\n",
     "ms"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    probability: 1.5\n", "probability"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    probability: 0.5\n    after_ms: 3\n",
     "at most one"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: warming_up\n    ms: 10\n    after_ms: 3\n",
     "START_JOB"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: stall\n    at: {page: 1, band: 2}\n    clears: "
     "maybe\n",
     "clears"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 1, band: 2}\n    "
     "clears: true\n",
     "clears"},
    {"name: s\nsheets: 3\ntime_scale: 0\n", "time_scale"},
    /* A back side is an even page in every job. */
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 3, band: 1, side: back}\n",
     "faults[0].at.side"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: feeder_empty\n    at: {page: 3, side: front}\n",
     "faults[0].at.side"},
    /* A flatbed has no feeder: sheets: 0 still has page 1. */
    {"name: s\nsheets: 0\nfaults:\n  - kind: paper_jam\n    at: {page: 1, band: 2}\n", NULL},
    {"name: s\nsheets: 0\nfaults:\n  - kind: paper_jam\n    at: {page: 2, band: 2}\n",
     "past the end"},
};

/* Scenarios that load but fail dm_scenario_check with a shipped profile:
 * faults that no job of the profile (or not its default job) can fire. */
static const struct bad_pair {
    const char *yaml;
    const char *expect; /* NULL: the pair is fine */
    const char *profile;
} bad_pairs[] = {
    {"name: s\nsheets: 0\nfaults:\n  - kind: paper_jam\n    at: {page: 1, band: 2}\n", NULL,
     "profiles/flatbed-1200.yaml"},
    {"name: s\nsheets: 0\nfaults:\n  - kind: paper_jam\n    at: {page: 1, band: 2}\n",
     "faults[0].at.page", "profiles/default.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 5, band: 2}\n",
     "page 5 is past the end", "profiles/default.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 5, band: 2}\n", NULL,
     "profiles/fast-duplex.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: feeder_empty\n    at: {page: 2}\n",
     "faults[0].at.page': page 2 is the back of a sheet", "profiles/fast-duplex.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: feeder_empty\n    at: {page: 3}\n", NULL,
     "profiles/fast-duplex.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: feeder_empty\n    at: {page: 2}\n", NULL,
     "profiles/default.yaml"},
    {"name: s\nsheets: 0\nfaults:\n  - kind: feeder_empty\n    at: {page: 1}\n",
     "flatbed-1200.yaml has no feeder", "profiles/flatbed-1200.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 2, band: 1, side: back}\n",
     "default.yaml has no duplex source", "profiles/default.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: paper_jam\n    at: {page: 2, band: 1, side: back}\n",
     NULL, "profiles/fast-duplex.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: button\n    every: {pages: 1, side: back}\n",
     "faults[0].every.side", "profiles/receipt-bw.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: button\n    every: {pages: 4}\n",
     "faults[0].every.pages", "profiles/default.yaml"},
    {"name: s\nsheets: 3\nfaults:\n  - kind: corrupt_band\n    at: {page: 1, byte: 999999999}\n",
     "faults[0].at.byte", "profiles/default.yaml"},
};

static void check_bad_profile(int is_profile, const struct bad *b, const char *profile,
                              unsigned idx)
{
    char err[512];
    fail_alloc fa = {.fail_at = -1};
    dm_alloc a = {.realloc = fail_realloc, .ctx = &fa};
    int rc;

    memset(err, 0, sizeof(err));
    if (is_profile) {
        dm_profile *p = NULL;
        rc = dm_profile_load_mem_a(&a, "bad.yaml", b->yaml, strlen(b->yaml), &p, err, sizeof(err));
        if (rc == DM_OK)
            dm_profile_free(p);
    } else {
        dm_scenario *s = NULL;
        rc = dm_scenario_load_mem_a(&a, "bad.yaml", b->yaml, strlen(b->yaml), &s, err, sizeof(err));
        if (profile != NULL) {
            dm_profile *p = NULL;
            ck_assert_msg(rc == DM_OK, "case %u does not load: %s", idx, err);
            ck_assert_msg(dm_profile_load_file(fixture_path(profile), &p, err, sizeof(err)) ==
                              DM_OK,
                          "%s", err);
            rc = dm_scenario_check(s, p, err, sizeof(err));
            dm_profile_free(p);
        }
        if (s != NULL)
            dm_scenario_free(s);
    }
    ck_assert_int_eq(fa.live, 0); /* no leak on either path */
    if (b->expect == NULL) {
        ck_assert_msg(rc == DM_OK, "control %u: %s", idx, err);
        return;
    }
    ck_assert_msg(rc == DM_E_PARSE || rc == DM_E_RANGE, "case %u loaded", idx);
    ck_assert_msg(strncmp(err, "bad.yaml: ", 10) == 0, "case %u: no file name: %s", idx, err);
    ck_assert_msg(strstr(err, b->expect) != NULL, "case %u: '%s' not in: %s", idx, b->expect, err);
    ck_assert_msg(strchr(err, '\n') == NULL, "case %u: more than one line: %s", idx, err);
}

static void check_bad(int is_profile, const struct bad *b, unsigned idx)
{
    check_bad_profile(is_profile, b, NULL, idx);
}

START_TEST(bad_pairs_rejected)
{
    const struct bad b = {bad_pairs[_i].yaml, bad_pairs[_i].expect};
    check_bad_profile(0, &b, bad_pairs[_i].profile, (unsigned)_i);
}
END_TEST

START_TEST(bad_profiles_rejected)
{
    check_bad(1, &bad_profiles[_i], (unsigned)_i);
}
END_TEST

START_TEST(bad_scenarios_rejected)
{
    check_bad(0, &bad_scenarios[_i], (unsigned)_i);
}
END_TEST

START_TEST(scenario_past_profile_rejected)
{
    static const char y[] = "name: far\nsheets: 3\nfaults:\n"
                            "  - {kind: paper_jam, at: {page: 1, band: 56}}\n";
    static const char y2[] = "name: far2\nsheets: 3\nfaults:\n"
                             "  - {kind: paper_jam, at: {page: 1, line: 3509}}\n";
    static const char y3[] = "name: big\nsheets: 51\n";
    char err[256];
    dm_profile *p;
    dm_scenario *s;
    dm_clock_virtual clk;
    dm_device_config cfg;
    dm_device *dev;

    dm_clock_virtual_init(&clk, 0);
    ck_assert_int_eq(dm_profile_load_default(&p, err, sizeof(err)), DM_OK);
    ck_assert_int_eq(dm_scenario_load_mem("far.yaml", y, sizeof(y) - 1, &s, err, sizeof(err)),
                     DM_OK);
    ck_assert_int_eq(dm_scenario_check(s, p, err, sizeof(err)), DM_E_RANGE);
    ck_assert_ptr_nonnull(strstr(err, "faults[0].at.band"));
    ck_assert_ptr_nonnull(strstr(err, "band 56 is past the last band (55) of page 1 in the default "
                                      "job of profile <built-in default.yaml>"));
    dm_device_config_init(&cfg);
    cfg.profile = p;
    cfg.scenario = s;
    cfg.clock = &clk.base;
    ck_assert_int_eq(dm_device_create(&cfg, &dev), DM_E_RANGE);
    dm_scenario_free(s);
    ck_assert_int_eq(dm_scenario_load_mem("far2.yaml", y2, sizeof(y2) - 1, &s, err, sizeof(err)),
                     DM_OK);
    ck_assert_int_eq(dm_scenario_check(s, p, err, sizeof(err)), DM_E_RANGE);
    ck_assert_ptr_nonnull(strstr(err, "at.line"));
    dm_scenario_free(s);
    ck_assert_int_eq(dm_scenario_load_mem("big.yaml", y3, sizeof(y3) - 1, &s, err, sizeof(err)),
                     DM_OK);
    ck_assert_int_eq(dm_scenario_check(s, p, err, sizeof(err)), DM_E_RANGE);
    ck_assert_ptr_nonnull(strstr(err, "capacity 50"));
    dm_scenario_free(s);
    ck_assert_int_eq(dm_profile_load_file("/nonexistent/x.yaml", &p, err, sizeof(err)) == DM_OK, 0);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.yaml"));
    dm_profile_free(p);
}
END_TEST

/* ---- the job engine, driven directly ---------------------------------------------- */

/* Owner tokens of two fronts that are not native (as an eSCL front would be). */
static const char front_a = 'a', front_b = 'b';

static void eng_open(host *h, const char *profile, const char *scenario, uint64_t seed, int timing)
{
    dm_device_config cfg;

    host_config(h, profile, scenario, seed, timing, &cfg);
    ck_assert_int_eq(dm_engine_create(&cfg, &h->eng), DM_OK);
    ck_assert_int_eq(dm_engine_attach(h->eng, &front_a), DM_OK);
}

static dm_engine_status eng_status(host *h)
{
    dm_engine_status s;
    dm_engine_status_get(h->eng, dm_clock_now(&h->clk.base), &s);
    return s;
}

/* Result of reading a job through the engine API. */
typedef struct eng_run {
    uint32_t bands, pages_ok, bad_bands, stalls;
    dm_item_kind last_kind;
    dm_item_action stopped; /* DM_ACT_DELIVER once the job end was consumed */
    dm_status end;
    uint32_t end_page, end_band;
    uint32_t n_events;
    uint32_t events[8];   /* by kind */
    dm_event event;       /* the last one */
    dm_engine_status mid; /* taken after the first band of page 1 */
} eng_run;

/* Peek and consume `front`'s job on the virtual clock, advancing it to each
 * deadline exactly; checks that nothing is due a nanosecond early, that each
 * band's CRC is of its clean pixels, and counts bands that differ from
 * dm_synth_band. Stops at the job's end, a withheld band, a disconnect, or
 * after max_stalls stalls (each followed by dm_engine_resume). */
static void eng_read(host *h, const void *front, const proto_scan_job *job, eng_run *r,
                     int max_stalls)
{
    uint8_t *expect = malloc(job->max_in_transfer);
    int page_good = 1;

    memset(r, 0, sizeof(*r));
    for (;;) {
        uint64_t t = dm_clock_now(&h->clk.base);
        dm_item it;

        dm_engine_peek(h->eng, front, t, &it);
        r->last_kind = it.kind;
        if (it.kind == DM_ITEM_NONE)
            break;
        if (it.event_pending && it.event_due) {
            r->n_events++;
            r->events[it.event.kind & 7]++;
            r->event = it.event;
            dm_engine_event_taken(h->eng, front);
            continue;
        }
        if (it.action == DM_ACT_WAIT) {
            dm_item again;
            ck_assert_uint_gt(it.deadline_ns, t);
            dm_engine_peek(h->eng, front, it.deadline_ns - 1, &again);
            ck_assert_int_eq(again.action, DM_ACT_WAIT);
            ck_assert(!again.event_due);
            dm_clock_virtual_set(&h->clk, it.deadline_ns);
            continue;
        }
        ck_assert_uint_le(it.deadline_ns, t);
        if (it.action == DM_ACT_STALL) {
            ck_assert_int_eq(dm_engine_consume(h->eng, front, t, NULL), DM_OK);
            if ((int)++r->stalls > max_stalls) {
                r->stopped = DM_ACT_STALL;
                break;
            }
            dm_engine_resume(h->eng, front);
            continue;
        }
        if (it.action != DM_ACT_DELIVER) {
            r->stopped = it.action;
            break;
        }
        if (it.kind == DM_ITEM_JOB_END) {
            dm_item done;
            r->end = it.status;
            r->end_page = it.page;
            r->end_band = it.band;
            ck_assert_int_eq(dm_engine_consume(h->eng, front, t, &done), DM_OK);
            ck_assert_int_eq(done.action, DM_ACT_DELIVER);
            if (done.event_pending) {
                r->n_events++;
                r->events[done.event.kind & 7]++;
                r->event = done.event;
            }
            r->stopped = DM_ACT_DELIVER;
            break;
        }
        if (it.band == 0)
            page_good = 1;
        ck_assert_uint_eq(it.byte_count, dm_band_bytes(job, it.band));
        ck_assert_uint_eq(it.first_line, it.band * job->band_lines);
        ck_assert_uint_eq(it.lines, dm_band_lines(job, it.band));
        ck_assert_int_eq(it.end_of_page, it.band + 1 == job->bands_per_page);
        ck_assert_ptr_eq(it.headroom + DM_ENGINE_HEADROOM, it.pixels);
        dm_synth_band(job, it.page, it.side, it.band, expect);
        ck_assert_uint_eq(it.crc32, proto_crc32(0, expect, it.byte_count));
        if (it.len != it.byte_count || memcmp(expect, it.pixels, it.len) != 0) {
            r->bad_bands++;
            page_good = 0;
        }
        r->bands++;
        if (it.end_of_page && page_good)
            r->pages_ok++;
        ck_assert_int_eq(dm_engine_consume(h->eng, front, t, NULL), DM_OK);
        if (it.page == 1 && it.band == 0)
            r->mid = eng_status(h);
    }
    free(expect);
}

/* A job started, peeked and consumed on the virtual clock through the engine
 * alone: the same pixels, deadlines and trace as the native device's. */
START_TEST(engine_job_on_virtual_clock)
{
    host h, n;
    proto_scan_params p = params_fast(2);
    proto_scan_job job, njob;
    eng_run r;
    run nr;
    dm_engine_status s;

    eng_open(&h, NULL, NULL, 42, 1);
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_IDLE);
    ck_assert_ptr_null(s.owner);
    ck_assert_uint_eq(s.n_fronts, 1);
    ck_assert(!s.job_valid);
    ck_assert_int_eq(s.adf, DM_ADF_LOADED);
    ck_assert_uint_eq(s.sheets, 10);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, dm_clock_now(&h.clk.base), &job),
                     DM_ST_OK);
    ck_assert_uint_eq(job.bands_per_page, 28);
    eng_read(&h, &front_a, &job, &r, 0);
    ck_assert_int_eq(r.stopped, DM_ACT_DELIVER);
    ck_assert_int_eq(r.end, DM_ST_OK);
    ck_assert_uint_eq(r.end_page, 2);
    ck_assert_uint_eq(r.bands, 56);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_uint_eq(r.bad_bands, 0);
    ck_assert_uint_eq(r.n_events, 0);
    /* in the middle: processing, owned, one sheet fed */
    ck_assert_int_eq(r.mid.state, DM_ENGINE_PROCESSING);
    ck_assert_ptr_eq(r.mid.owner, &front_a);
    ck_assert_uint_eq(r.mid.page, 1);
    ck_assert_uint_eq(r.mid.band, 1);
    ck_assert_uint_eq(r.mid.pages_done, 1);
    ck_assert_uint_eq(r.mid.sheets, 8);
    ck_assert_int_eq(r.mid.adf, DM_ADF_LOADED);
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_IDLE);
    ck_assert_ptr_null(s.owner);
    ck_assert_uint_eq(s.pages_done, 2);
    ck_assert_int_eq(s.last_result, DM_ST_OK);
    ck_assert(s.job_valid);
    ck_assert_uint_eq(s.job.bands_per_page, 28);
    ck_assert_uint_eq(s.stats.bands_released, 56);
    ck_assert_uint_eq(s.stats.jobs_started, 1);
    ck_assert_uint_eq(s.stats.late_bands, 0);
    ck_assert_uint_eq(h.n_recs, 57);
    /* nothing more for the front; consuming is refused */
    ck_assert_int_eq(dm_engine_consume(h.eng, &front_a, 0, NULL), DM_E_STATE);

    /* the native device of the same seed: identical deadlines and sizes */
    host_open(&n, NULL, NULL, 42, 1);
    ck_assert_uint_eq(start_job(&n, &p, &njob), PROTO_SCAN_ST_OK);
    {
        uint8_t x[64], y[64];
        ck_assert_int_eq(proto_scan_job_encode(&job, x, sizeof(x)),
                         proto_scan_job_encode(&njob, y, sizeof(y)));
        ck_assert_mem_eq(x, y, 48);
    }
    read_stream(&n, &njob, &nr, 0);
    ck_assert_uint_eq(n.n_recs, h.n_recs);
    for (unsigned i = 0; i < h.n_recs; i++) {
        ck_assert_uint_eq(h.recs[i].deadline_ns - h.recs[i].job_start_ns,
                          n.recs[i].deadline_ns - n.recs[i].job_start_ns);
        ck_assert_uint_eq(h.recs[i].bytes, n.recs[i].bytes);
    }
    host_close(&n);
    dm_engine_detach(h.eng, &front_a, 0);
    host_close(&h);
}
END_TEST

/* One engine, three fronts (two tokens and a native device): a job belongs to
 * the front that started it, and every other front is answered busy. */
START_TEST(engine_busy_across_fronts)
{
    host h;
    proto_scan_params p = params_fast(1);
    proto_scan_job job;
    dm_item it;
    dm_engine_status s;
    uint8_t pl[PROTO_SCAN_MAX_PAYLOAD];
    size_t n;
    proto_scan_devstatus ds;
    uint64_t t;

    eng_open(&h, NULL, NULL, 42, 0);
    t = dm_clock_now(&h.clk.base);
    ck_assert_int_eq(dm_engine_attach(h.eng, &front_a), DM_E_INVALID);
    ck_assert_int_eq(dm_engine_attach(h.eng, NULL), DM_E_INVALID);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_b, &p, t, &job), DM_ST_INVALID); /* unknown */
    ck_assert_int_eq(dm_engine_attach(h.eng, &front_b), DM_OK);
    ck_assert_int_eq(dm_device_create_on(h.eng, &h.dev), DM_OK);
    ck_assert_uint_eq(eng_status(&h).n_fronts, 3);

    ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, t, &job), DM_ST_OK);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_b, &p, t, &job), DM_ST_BUSY);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, t, &job), DM_ST_BUSY);
    dm_engine_peek(h.eng, &front_b, t, &it);
    ck_assert_int_eq(it.kind, DM_ITEM_NONE);
    ck_assert_int_eq(dm_engine_consume(h.eng, &front_b, t, NULL), DM_E_STATE);
    ck_assert_int_eq(dm_engine_cancel(h.eng, &front_b, t), DM_E_STATE);
    dm_engine_peek(h.eng, &front_a, t, &it);
    ck_assert_int_eq(it.kind, DM_ITEM_BAND);
    /* the native front: START_JOB and SET_PARAMS busy, status scanning, its
     * ABORT does not touch another front's job, its bulk IN has no bands */
    send_cmd(&h, PROTO_SCAN_OP_START_JOB, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_START_JOB, NULL, NULL), PROTO_SCAN_ST_BUSY);
    {
        uint8_t enc[64];
        int len = proto_scan_params_encode(&p, enc, sizeof(enc));
        send_cmd(&h, PROTO_SCAN_OP_SET_PARAMS, enc, (uint32_t)len);
        ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_SET_PARAMS, NULL, NULL), PROTO_SCAN_ST_BUSY);
    }
    send_cmd(&h, PROTO_SCAN_OP_GET_STATUS, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_GET_STATUS, pl, &n), PROTO_SCAN_ST_OK);
    ck_assert_int_gt(proto_scan_devstatus_decode(pl, n, &ds), 0);
    ck_assert_uint_eq(ds.state, 2);
    send_cmd(&h, PROTO_SCAN_OP_ABORT, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_ABORT, NULL, NULL), PROTO_SCAN_ST_OK);
    {
        dm_in in;
        dm_device_peek(h.dev, DM_EP_DATA_IN, t, &in);
        ck_assert_int_eq(in.kind, DM_IN_IDLE);
        dm_device_peek(h.dev, DM_EP_EVENT_IN, t, &in);
        ck_assert_int_eq(in.kind, DM_IN_IDLE);
    }
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_PROCESSING);
    ck_assert_ptr_eq(s.owner, &front_a);

    /* the owner cancels; the native front's job is then the one that runs */
    ck_assert_int_eq(dm_engine_cancel(h.eng, &front_a, t), DM_OK);
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_IDLE);
    ck_assert_int_eq(s.last_result, DM_ST_CANCELED);
    send_cmd(&h, PROTO_SCAN_OP_START_JOB, NULL, 0);
    ck_assert_uint_eq(read_rsp(&h, PROTO_SCAN_OP_START_JOB, NULL, NULL), PROTO_SCAN_ST_OK);
    ck_assert_ptr_eq(eng_status(&h).owner, h.dev);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, t, &job), DM_ST_BUSY);
    dm_engine_peek(h.eng, &front_a, t, &it);
    ck_assert_int_eq(it.kind, DM_ITEM_NONE);
    {
        dm_in in;
        dm_device_peek(h.dev, DM_EP_DATA_IN, t, &in);
        ck_assert_int_eq(in.kind, DM_IN_DATA); /* timing off: band 0 is due */
    }
    /* a front that goes away takes its job with it */
    dm_device_free(h.dev);
    h.dev = NULL;
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_IDLE);
    ck_assert_uint_eq(s.n_fronts, 2);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_b, &p, t, &job), DM_ST_OK);
    dm_engine_detach(h.eng, &front_b, t);
    ck_assert_int_eq(eng_status(&h).state, DM_ENGINE_IDLE);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_b, &p, t, &job), DM_ST_INVALID);
    /* a power cycle cancels whichever front's job runs */
    ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, t, &job), DM_ST_OK);
    dm_engine_power_cycle(h.eng, t);
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_IDLE);
    ck_assert_int_eq(s.last_result, DM_ST_OK);
    ck_assert_uint_eq(s.stats.jobs_started, 4);
    /* at most DM_ENGINE_MAX_FRONTS */
    {
        char more[DM_ENGINE_MAX_FRONTS];
        for (unsigned i = 1; i < DM_ENGINE_MAX_FRONTS; i++)
            ck_assert_int_eq(dm_engine_attach(h.eng, &more[i]), DM_OK);
        ck_assert_int_eq(dm_engine_attach(h.eng, &more[0]), DM_E_RANGE);
        ck_assert_int_eq(dm_device_create_on(h.eng, &h.dev), DM_E_RANGE);
        for (unsigned i = 1; i < DM_ENGINE_MAX_FRONTS; i++)
            dm_engine_detach(h.eng, &more[i], t);
    }
    dm_engine_detach(h.eng, &front_a, t);
    ck_assert_uint_eq(eng_status(&h).n_fronts, 0);
    host_close(&h);
}
END_TEST

static void eng_scenario(host *h, const char *scen, uint32_t pages, proto_scan_job *job, eng_run *r,
                         int max_stalls)
{
    proto_scan_params p = params_fast(pages);
    char path[128];

    snprintf(path, sizeof(path), "scenarios/%s.yaml", scen);
    eng_open(h, NULL, path, 1, 0);
    ck_assert_int_eq(dm_engine_start(h->eng, &front_a, &p, dm_clock_now(&h->clk.base), job),
                     DM_ST_OK);
    eng_read(h, &front_a, job, r, max_stalls);
}

static void eng_close(host *h)
{
    dm_engine_detach(h->eng, &front_a, dm_clock_now(&h->clk.base));
    host_close(h);
}

/* Each way a fault reaches a host, as the engine states it for any front. */
START_TEST(engine_faults_are_neutral)
{
    host h;
    proto_scan_job job;
    eng_run r;
    dm_engine_status s;

    eng_scenario(&h, "jam-page3-band5", 3, &job, &r, 0);
    ck_assert_int_eq(r.stopped, DM_ACT_DELIVER);
    ck_assert_int_eq(r.end, DM_ST_PAPER_JAM);
    ck_assert_uint_eq(r.end_page, 2);
    ck_assert_uint_eq(r.end_band, 4);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_uint_eq(r.n_events, 1);
    ck_assert_int_eq(r.event.kind, DM_EV_PAPER_JAM);
    ck_assert_uint_eq(r.event.page, 2);
    ck_assert_uint_eq(r.event.arg, 4);
    ck_assert_uint_eq(count_fault(&h, "paper_jam"), 1);
    eng_close(&h);

    eng_scenario(&h, "stall-mid-page", 3, &job, &r, 5);
    ck_assert_uint_eq(r.stalls, 1);
    ck_assert_int_eq(r.end, DM_ST_OK);
    ck_assert_uint_eq(r.pages_ok, 3);
    ck_assert_uint_eq(count_fault(&h, "stall"), 1);
    eng_close(&h);

    eng_scenario(&h, "stall-no-clear", 3, &job, &r, 3);
    ck_assert_int_eq(r.stopped, DM_ACT_STALL);
    ck_assert_uint_eq(r.stalls, 4); /* owed again after every resume */
    ck_assert_uint_eq(eng_status(&h).stats.faults_fired, 1);
    eng_close(&h);

    eng_scenario(&h, "short-band", 3, &job, &r, 0);
    ck_assert_uint_eq(r.bad_bands, 1);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_int_eq(r.end, DM_ST_OK);
    eng_close(&h);

    /* the corrupt band: every byte but one as synthesized, the CRC of the
     * clean band (eng_read checks it on every band) */
    {
        proto_scan_params p = params_fast(3);
        uint8_t *clean;
        dm_item it;
        unsigned flipped = 0;

        eng_open(&h, NULL, "scenarios/corrupt-band.yaml", 1, 0);
        ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, 0, &job), DM_ST_OK);
        for (;;) {
            dm_engine_peek(h.eng, &front_a, UINT64_MAX / 2, &it);
            ck_assert_int_eq(it.kind, DM_ITEM_BAND);
            if (it.page == 1 && it.band == 6)
                break;
            dm_engine_consume(h.eng, &front_a, UINT64_MAX / 2, NULL);
        }
        clean = malloc(it.byte_count);
        dm_synth_band(&job, 1, 0, 6, clean);
        ck_assert_uint_eq(it.len, it.byte_count);
        for (size_t i = 0; i < it.len; i++)
            flipped += clean[i] != it.pixels[i];
        ck_assert_uint_eq(flipped, 1);
        ck_assert_uint_eq(it.crc32, proto_crc32(0, clean, it.byte_count));
        free(clean);
        eng_close(&h);
    }

    /* a band that never comes: due, withheld; cancel traces it */
    eng_scenario(&h, "band-never-comes", 3, &job, &r, 0);
    ck_assert_int_eq(r.stopped, DM_ACT_WITHHOLD);
    {
        dm_item done;
        ck_assert_int_eq(dm_engine_consume(h.eng, &front_a, dm_clock_now(&h.clk.base), &done),
                         DM_OK);
        ck_assert_int_eq(done.action, DM_ACT_WITHHOLD); /* nothing consumed */
    }
    ck_assert_int_eq(dm_engine_cancel(h.eng, &front_a, dm_clock_now(&h.clk.base)), DM_OK);
    ck_assert_uint_eq(count_fault(&h, "band_never_comes"), 1);
    ck_assert_int_eq(eng_status(&h).last_result, DM_ST_CANCELED);
    eng_close(&h);

    /* the device vanishes: consumed, the job is over */
    eng_scenario(&h, "disconnect-mid-page", 3, &job, &r, 0);
    ck_assert_int_eq(r.stopped, DM_ACT_DISCONNECT);
    ck_assert_int_eq(dm_engine_consume(h.eng, &front_a, dm_clock_now(&h.clk.base), NULL), DM_OK);
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_IDLE);
    ck_assert_int_eq(s.last_result, DM_ST_DISCONNECTED);
    ck_assert_uint_eq(count_fault(&h, "disconnect"), 1);
    eng_close(&h);

    /* an event that does not end the job (at the documented parameters:
     * docs/protocol.md section 13) */
    {
        proto_scan_params p = params_default(3);
        eng_open(&h, NULL, "scenarios/random-faults.yaml", 1, 0);
        ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, 0, &job), DM_ST_OK);
        eng_read(&h, &front_a, &job, &r, 0);
        ck_assert_int_eq(r.end, DM_ST_OK);
        ck_assert_uint_eq(r.pages_ok, 3);
        ck_assert_uint_gt(r.events[DM_EV_BUTTON], 0);
        ck_assert_uint_eq(r.events[DM_EV_BUTTON], count_fault(&h, "button"));
    }
    eng_close(&h);
}
END_TEST

/* The status snapshot before, during and after jobs that jam, run dry, or
 * are refused. */
START_TEST(engine_status_across_jam_and_empty)
{
    host h;
    proto_scan_job job;
    proto_scan_params p = params_fast(0);
    eng_run r;
    dm_engine_status s;
    uint64_t t;

    eng_scenario(&h, "jam-page3-band5", 0, &job, &r, 0);
    ck_assert_int_eq(r.mid.state, DM_ENGINE_PROCESSING);
    ck_assert_int_eq(r.mid.adf, DM_ADF_LOADED);
    ck_assert_int_eq(r.mid.last_result, DM_ST_OK);
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_IDLE);
    ck_assert_int_eq(s.adf, DM_ADF_JAMMED);
    ck_assert_int_eq(s.last_result, DM_ST_PAPER_JAM);
    ck_assert_uint_eq(s.pages_done, 2);
    ck_assert_uint_eq(s.page, 2);
    ck_assert_uint_eq(s.band, 4);
    ck_assert_uint_eq(s.sheets, 10); /* the next job's feeder */
    ck_assert(!s.cover_open);
    dm_engine_power_cycle(h.eng, dm_clock_now(&h.clk.base));
    s = eng_status(&h);
    ck_assert_int_eq(s.adf, DM_ADF_LOADED);
    ck_assert_int_eq(s.last_result, DM_ST_OK);
    ck_assert_uint_eq(s.pages_done, 0);
    eng_close(&h);

    eng_scenario(&h, "feeder-empty-after-2", 0, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_FEEDER_EMPTY);
    ck_assert_int_eq(r.event.kind, DM_EV_FEEDER_EMPTY);
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_IDLE);
    ck_assert_int_eq(s.adf, DM_ADF_EMPTY);
    ck_assert_int_eq(s.last_result, DM_ST_FEEDER_EMPTY);
    ck_assert_uint_eq(s.pages_done, 2);
    eng_close(&h);

    /* the clean feeder run dry: empty while the last sheet is scanned */
    eng_scenario(&h, "clean", 0, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_FEEDER_EMPTY);
    ck_assert_uint_eq(r.pages_ok, 10);
    ck_assert_int_eq(eng_status(&h).adf, DM_ADF_EMPTY);
    eng_close(&h);

    eng_open(&h, NULL, "scenarios/feeder-empty.yaml", 1, 0);
    ck_assert_int_eq(eng_status(&h).adf, DM_ADF_EMPTY);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, 0, &job), DM_ST_FEEDER_EMPTY);
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_IDLE);
    ck_assert(!s.job_valid);
    eng_close(&h);

    eng_open(&h, NULL, "scenarios/cover-open-at-start.yaml", 1, 0);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, 0, &job), DM_ST_COVER_OPEN);
    s = eng_status(&h);
    ck_assert(s.cover_open);
    ck_assert_int_eq(s.adf, DM_ADF_DOOR_OPEN);
    eng_close(&h);

    eng_scenario(&h, "cover-open", 3, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_COVER_OPEN);
    s = eng_status(&h);
    ck_assert(s.cover_open);
    ck_assert_int_eq(s.adf, DM_ADF_DOOR_OPEN);
    ck_assert_int_eq(s.last_result, DM_ST_COVER_OPEN);
    eng_close(&h);

    eng_scenario(&h, "multi-feed", 3, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_MULTI_FEED);
    ck_assert_int_eq(eng_status(&h).adf, DM_ADF_MULTIPICK);
    eng_close(&h);

    eng_open(&h, NULL, "scenarios/warming-up-2s.yaml", 1, 1);
    t = dm_clock_now(&h.clk.base);
    s = eng_status(&h);
    ck_assert_int_eq(s.state, DM_ENGINE_WARMING_UP);
    ck_assert_uint_eq(s.warmup_remaining_ns, 2000000000ull);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, t, &job), DM_ST_WARMING_UP);
    dm_clock_virtual_set(&h.clk, t + 2000000000ull);
    ck_assert_int_eq(eng_status(&h).state, DM_ENGINE_IDLE);
    ck_assert_int_eq(dm_engine_start(h.eng, &front_a, &p, t + 2000000000ull, &job), DM_ST_OK);
    eng_close(&h);

    eng_open(&h, "profiles/flatbed-1200.yaml", NULL, 1, 0);
    ck_assert_int_eq(eng_status(&h).adf, DM_ADF_NONE);
    eng_close(&h);
}
END_TEST

/* A native front on a shared engine (with another front attached, idle) and
 * dm_device_create's device produce the same bytes, events and trace. */
START_TEST(native_on_shared_engine_same_bytes)
{
    static const char *const scens[] = {NULL,
                                        "scenarios/jam-page3-band5.yaml",
                                        "scenarios/stall-mid-page.yaml",
                                        "scenarios/random-faults.yaml",
                                        "scenarios/delay-500ms.yaml",
                                        "scenarios/short-band.yaml"};

    for (size_t k = 0; k < sizeof(scens) / sizeof(scens[0]); k++) {
        host *a = calloc(1, sizeof(host)), *b = calloc(1, sizeof(host));
        proto_scan_params p = params_fast(3);
        proto_scan_job ja, jb;
        run ra, rb;

        host_open(a, NULL, scens[k], 77, 1);
        host_open_shared(b, NULL, scens[k], 77, 1);
        ck_assert_int_eq(dm_engine_attach(b->eng, &front_b), DM_OK);
        a->crc_only = b->crc_only = 1;
        ck_assert_uint_eq(start_job(a, &p, &ja), PROTO_SCAN_ST_OK);
        ck_assert_uint_eq(start_job(b, &p, &jb), PROTO_SCAN_ST_OK);
        ck_assert_uint_eq(ja.bands_per_page, jb.bands_per_page);
        ck_assert_uint_eq(ja.seed, jb.seed);
        read_stream(a, &ja, &ra, 1);
        read_stream(b, &jb, &rb, 1);
        ck_assert_uint_gt(ra.bands, 0);
        ck_assert_uint_eq(ra.crc_all, rb.crc_all);
        ck_assert_uint_eq(ra.bands, rb.bands);
        ck_assert_uint_eq(ra.pages_ok, rb.pages_ok);
        ck_assert_uint_eq(ra.end_status, rb.end_status);
        ck_assert_uint_eq(ra.end_page, rb.end_page);
        ck_assert_uint_eq(ra.bad_bands, rb.bad_bands);
        ck_assert_uint_eq(ra.stalls, rb.stalls);
        ck_assert_mem_eq(ra.events, rb.events, sizeof(ra.events));
        ck_assert_uint_eq(a->n_recs, b->n_recs);
        for (unsigned i = 0; i < a->n_recs; i++) {
            const dm_trace_rec *x = &a->recs[i], *y = &b->recs[i];
            ck_assert_uint_eq(x->page, y->page);
            ck_assert_uint_eq(x->band, y->band);
            ck_assert_uint_eq(x->deadline_ns, y->deadline_ns);
            ck_assert_uint_eq(x->release_ns, y->release_ns);
            ck_assert_uint_eq(x->bytes, y->bytes);
            ck_assert_str_eq(x->fault ? x->fault : "-", y->fault ? y->fault : "-");
        }
        dm_engine_detach(b->eng, &front_b, 0);
        host_close(a);
        host_close(b);
        free(a);
        free(b);
    }
}
END_TEST

/* ---- allocation failures: every constructor, every allocation ----------------------- */

START_TEST(alloc_failures)
{
    size_t plen, slen;
    char *ptxt = slurp("profiles/fast-duplex.yaml", &plen);
    char *stxt = slurp("scenarios/random-faults.yaml", &slen);
    char err[256];
    long n;

    /* profile loader */
    for (n = 0;; n++) {
        fail_alloc fa = {.fail_at = n};
        dm_alloc a = {.realloc = fail_realloc, .ctx = &fa};
        dm_profile *p = NULL;
        int rc = dm_profile_load_mem_a(&a, "p", ptxt, plen, &p, err, sizeof(err));
        if (rc == DM_OK) {
            dm_profile_free(p);
            ck_assert_int_eq(fa.live, 0);
            break;
        }
        ck_assert_int_eq(rc, DM_E_NOMEM);
        ck_assert_int_eq(fa.live, 0);
        ck_assert(n < 100000);
    }
    ck_assert_int_gt(n, 5);
    /* scenario loader */
    for (n = 0;; n++) {
        fail_alloc fa = {.fail_at = n};
        dm_alloc a = {.realloc = fail_realloc, .ctx = &fa};
        dm_scenario *s = NULL;
        int rc = dm_scenario_load_mem_a(&a, "s", stxt, slen, &s, err, sizeof(err));
        if (rc == DM_OK) {
            dm_scenario_free(s);
            ck_assert_int_eq(fa.live, 0);
            break;
        }
        ck_assert_int_eq(rc, DM_E_NOMEM);
        ck_assert_int_eq(fa.live, 0);
    }
    ck_assert_int_gt(n, 3);
    /* file loaders */
    for (n = 0;; n++) {
        fail_alloc fa = {.fail_at = n};
        dm_alloc a = {.realloc = fail_realloc, .ctx = &fa};
        dm_scenario *s = NULL;
        int rc = dm_scenario_load_file_a(&a, fixture_path("scenarios/jam-page3-band5.yaml"), &s,
                                         err, sizeof(err));
        if (rc == DM_OK) {
            dm_scenario_free(s);
            break;
        }
        ck_assert_int_eq(rc, DM_E_NOMEM);
        ck_assert_int_eq(fa.live, 0);
    }
    for (n = 0;; n++) {
        fail_alloc fa = {.fail_at = n};
        dm_alloc a = {.realloc = fail_realloc, .ctx = &fa};
        dm_profile *p = NULL;
        int rc =
            dm_profile_load_file_a(&a, fixture_path("profiles/default.yaml"), &p, err, sizeof(err));
        if (rc == DM_OK) {
            dm_profile_free(p);
            break;
        }
        ck_assert_int_eq(rc, DM_E_NOMEM);
        ck_assert_int_eq(fa.live, 0);
    }
    /* device (with the built-in clean scenario: the device loads it itself) */
    {
        dm_profile *p;
        dm_clock_virtual clk;
        dm_device_config cfg;

        dm_clock_virtual_init(&clk, 0);
        ck_assert_int_eq(dm_profile_load_default(&p, err, sizeof(err)), DM_OK);
        dm_device_config_init(&cfg);
        cfg.profile = p;
        cfg.clock = &clk.base;
        for (n = 0;; n++) {
            fail_alloc fa = {.fail_at = n};
            dm_alloc a = {.realloc = fail_realloc, .ctx = &fa};
            dm_device *dev = NULL;
            int rc = dm_device_create_a(&a, &cfg, &dev);
            if (rc == DM_OK) {
                /* steady state allocates nothing: a whole job on this allocator */
                long before = fa.n_allocs;
                static const uint8_t start[16] = {'S', 'C', 'M', 'D', 1, 0, 3, 0};
                dm_in in;
                ck_assert_int_eq(dm_device_bulk_out(dev, start, 16), DM_OK);
                cfg.timing = 0;
                for (int k = 0; k < 200; k++) {
                    dm_device_peek(dev, DM_EP_DATA_IN, 0, &in);
                    if (in.kind != DM_IN_DATA)
                        break;
                    dm_device_consume(dev, DM_EP_DATA_IN, UINT64_MAX / 2);
                }
                ck_assert_int_eq(fa.n_allocs, before);
                dm_device_free(dev);
                ck_assert_int_eq(fa.live, 0);
                break;
            }
            ck_assert_int_eq(rc, DM_E_NOMEM);
            ck_assert_int_eq(fa.live, 0);
        }
        ck_assert_int_gt(n, 2);
        /* an engine alone, and a native front on it */
        for (n = 0;; n++) {
            fail_alloc fa = {.fail_at = n};
            dm_alloc a = {.realloc = fail_realloc, .ctx = &fa};
            dm_engine *eng = NULL;
            int rc = dm_engine_create_a(&a, &cfg, &eng);
            if (rc == DM_OK) {
                dm_engine_free(eng);
                ck_assert_int_eq(fa.live, 0);
                break;
            }
            ck_assert_int_eq(rc, DM_E_NOMEM);
            ck_assert_int_eq(fa.live, 0);
        }
        ck_assert_int_gt(n, 1);
        {
            fail_alloc fa = {.fail_at = 0};
            dm_alloc a = {.realloc = fail_realloc, .ctx = &fa};
            dm_engine *eng;
            dm_device *dev = NULL;
            ck_assert_int_eq(dm_engine_create(&cfg, &eng), DM_OK);
            ck_assert_int_eq(dm_device_create_on_a(&a, eng, &dev), DM_E_NOMEM);
            ck_assert_ptr_null(dev);
            ck_assert_uint_eq(dm_engine_attach(eng, &a), DM_OK); /* nothing left attached */
            dm_engine_detach(eng, &a, 0);
            fa.fail_at = -1;
            ck_assert_int_eq(dm_device_create_on_a(&a, eng, &dev), DM_OK);
            dm_device_free(dev);
            ck_assert_int_eq(fa.live, 0);
            dm_engine_free(eng);
        }
        dm_profile_free(p);
    }
    free(ptxt);
    free(stxt);
}
END_TEST

/* ---- live control (dm_engine_live_*, the observer) ----------------------------------- */

typedef struct notes {
    dm_note n[2048];
    unsigned count;
} notes;

static void note_cb(void *ctx, const dm_note *n)
{
    notes *ns = ctx;
    if (ns->count < sizeof(ns->n) / sizeof(ns->n[0]))
        ns->n[ns->count++] = *n;
}

static uint64_t vnow(host *h)
{
    return dm_clock_now(&h->clk.base);
}

static dm_status live_start(host *h, uint32_t pages, proto_scan_job *job)
{
    proto_scan_params p = params_fast(pages);
    return dm_engine_start(h->eng, &front_a, &p, vnow(h), job);
}

/* A jam armed for the next job fires at its place; "now" during a job is the
 * first band not offered yet; a fired live fault is gone. */
START_TEST(live_fault_places)
{
    host h;
    proto_scan_job job;
    eng_run r;
    dm_live_fault f = {.kind = dm_fault_kind_parse("paper_jam"), .placed = true, .page = 2};
    dm_live_armed w;
    dm_item it;
    char err[256];

    eng_open(&h, NULL, "scenarios/clean.yaml", 3, 1);
    ck_assert_int_ge(f.kind, 0);
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), &w, err, sizeof err), DM_OK);
    ck_assert_int_eq(w.when, DM_LIVE_NEXT_JOB);
    ck_assert_uint_eq(w.page, 2);
    ck_assert_uint_eq(eng_status(&h).live_armed, 1);
    ck_assert_int_eq(dm_engine_live_get(h.eng, 0, &w), DM_OK);
    ck_assert_int_eq(dm_engine_live_get(h.eng, 1, &w), DM_E_RANGE);
    ck_assert_int_eq(live_start(&h, 5, &job), DM_ST_OK);
    ck_assert_int_eq(eng_status(&h).live_armed, 1); /* now the current job's */
    eng_read(&h, &front_a, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_PAPER_JAM);
    ck_assert_uint_eq(r.end_page, 2);
    ck_assert_uint_eq(r.end_band, 0);
    ck_assert_uint_eq(r.pages_ok, 2);
    ck_assert_uint_eq(eng_status(&h).live_armed, 0);
    ck_assert_int_eq(live_start(&h, 3, &job), DM_ST_OK); /* spent: a clean job */
    eng_read(&h, &front_a, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_OK);
    ck_assert_uint_eq(r.pages_ok, 3);

    /* now: band 0 of page 0 was offered (peeked), so band 1 */
    ck_assert_int_eq(live_start(&h, 3, &job), DM_ST_OK);
    dm_engine_peek(h.eng, &front_a, vnow(&h), &it);
    f.kind = dm_fault_kind_parse("multi_feed");
    f.placed = false;
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), &w, err, sizeof err), DM_OK);
    ck_assert_int_eq(w.when, DM_LIVE_CURRENT_JOB);
    ck_assert_uint_eq(w.page, 0);
    ck_assert_uint_eq(w.band, 1);
    /* a place already offered belongs to the next job */
    f.placed = true;
    f.page = 0;
    f.band = 0;
    f.kind = dm_fault_kind_parse("device_error");
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), &w, err, sizeof err), DM_OK);
    ck_assert_int_eq(w.when, DM_LIVE_NEXT_JOB);
    /* a band past the running job's page */
    f.page = 1;
    f.band = job.bands_per_page;
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), &w, err, sizeof err), DM_E_RANGE);
    ck_assert_ptr_nonnull(strstr(err, "past the"));
    eng_read(&h, &front_a, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_MULTI_FEED);
    ck_assert_uint_eq(r.end_page, 0);
    ck_assert_uint_eq(r.end_band, 1);
    ck_assert_uint_eq(dm_engine_live_clear(h.eng, vnow(&h)), 1); /* the device_error */
    ck_assert_int_eq(live_start(&h, 2, &job), DM_ST_OK);
    eng_read(&h, &front_a, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_OK);
    eng_close(&h);
}
END_TEST

/* An item offered (peeked, not yet due) keeps its id, pixels and hidden
 * action whatever is armed before its deadline: a live fault armed "now"
 * goes to the band after it, even when the fault that fires at the offered
 * item was live too and its slot could be reused. Every item computed gets
 * a new id. */
START_TEST(live_fault_keeps_the_offered_item)
{
    host h;
    proto_scan_job job;
    dm_live_fault f = {.kind = dm_fault_kind_parse("disconnect"), .placed = true, .band = 1};
    dm_live_armed w;
    dm_item it, again, done;
    uint8_t *pix;
    uint64_t id0;
    char err[256];

    eng_open(&h, NULL, "scenarios/clean.yaml", 3, 1);
    ck_assert_int_eq(live_start(&h, 3, &job), DM_ST_OK);
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), &w, err, sizeof err), DM_OK);
    ck_assert_int_eq(w.when, DM_LIVE_CURRENT_JOB);
    dm_engine_peek(h.eng, &front_a, vnow(&h), &it);
    ck_assert_uint_ne(it.id, 0);
    id0 = it.id;
    dm_clock_virtual_set(&h.clk, it.deadline_ns);
    dm_engine_peek(h.eng, &front_a, vnow(&h), &again);
    ck_assert_uint_eq(again.id, id0);
    ck_assert_int_eq(again.action, DM_ACT_DELIVER);
    ck_assert_int_eq(dm_engine_consume(h.eng, &front_a, vnow(&h), &done), DM_OK);
    ck_assert_uint_eq(done.id, id0);

    /* Band 1, offered before its deadline: the live disconnect fired there. */
    dm_engine_peek(h.eng, &front_a, vnow(&h), &it);
    ck_assert_int_eq(it.kind, DM_ITEM_BAND);
    ck_assert_uint_eq(it.band, 1);
    ck_assert_int_eq(it.action, DM_ACT_WAIT);
    ck_assert_uint_gt(it.id, id0);
    pix = malloc(it.len);
    memcpy(pix, it.pixels, it.len);
    ck_assert_uint_eq(eng_status(&h).live_armed, 0);
    /* Armed now: lands on band 2 and takes the fired fault's slot. */
    f.kind = dm_fault_kind_parse("corrupt_band");
    f.placed = false;
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), &w, err, sizeof err), DM_OK);
    ck_assert_uint_eq(w.band, 2);
    f.kind = dm_fault_kind_parse("band_never_comes");
    f.placed = true;
    f.band = 1; /* offered already: the next job's */
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), &w, err, sizeof err), DM_OK);
    ck_assert_int_eq(w.when, DM_LIVE_NEXT_JOB);
    ck_assert_int_eq(dm_engine_live_scale(h.eng, 2.0), DM_OK);
    dm_clock_virtual_set(&h.clk, it.deadline_ns);
    dm_engine_peek(h.eng, &front_a, vnow(&h), &again);
    ck_assert_uint_eq(again.id, it.id);
    ck_assert_uint_eq(again.deadline_ns, it.deadline_ns);
    ck_assert_int_eq(again.action, DM_ACT_DISCONNECT);
    ck_assert_uint_eq(again.len, it.len);
    ck_assert_uint_eq(again.crc32, it.crc32);
    ck_assert_mem_eq(again.pixels, pix, it.len);
    free(pix);
    ck_assert_int_eq(dm_engine_consume(h.eng, &front_a, vnow(&h), &done), DM_OK);
    ck_assert_int_eq(done.action, DM_ACT_DISCONNECT);
    dm_engine_peek(h.eng, &front_a, vnow(&h), &it);
    ck_assert_int_eq(it.kind, DM_ITEM_NONE);
    ck_assert_uint_eq(it.id, 0);
    eng_close(&h);
}
END_TEST

/* The kinds that act at START, and the parameter checks. */
START_TEST(live_start_kinds_and_checks)
{
    host h;
    proto_scan_job job;
    dm_live_fault f;
    char err[256];

    eng_open(&h, NULL, "scenarios/clean.yaml", 3, 1);
    memset(&f, 0, sizeof f);
    f.kind = dm_fault_kind_parse("busy");
    f.count = 2;
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err), DM_OK);
    ck_assert_int_eq(live_start(&h, 1, &job), DM_ST_BUSY);
    ck_assert_int_eq(live_start(&h, 1, &job), DM_ST_BUSY);
    ck_assert_int_eq(live_start(&h, 1, &job), DM_ST_OK);
    ck_assert_int_eq(dm_engine_cancel(h.eng, &front_a, vnow(&h)), DM_OK);
    memset(&f, 0, sizeof f);
    f.kind = dm_fault_kind_parse("warming_up");
    f.ms = 500;
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err), DM_OK);
    ck_assert_int_eq(live_start(&h, 1, &job), DM_ST_WARMING_UP);
    ck_assert_uint_eq(eng_status(&h).live_warmup_ns, 500000000u);
    dm_clock_virtual_advance(&h.clk, 500000000u);
    memset(&f, 0, sizeof f);
    f.kind = dm_fault_kind_parse("cover_open");
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err), DM_OK);
    ck_assert_int_eq(live_start(&h, 1, &job), DM_ST_COVER_OPEN);
    ck_assert_int_eq(live_start(&h, 1, &job), DM_ST_COVER_OPEN);
    ck_assert_int_eq(eng_status(&h).adf, DM_ADF_DOOR_OPEN);
    dm_engine_live_clear(h.eng, vnow(&h));
    ck_assert_int_eq(live_start(&h, 1, &job), DM_ST_OK);
    ck_assert_int_eq(dm_engine_cancel(h.eng, &front_a, vnow(&h)), DM_OK);

    /* parameters each kind takes, and only those */
    memset(&f, 0, sizeof f);
    f.kind = dm_fault_kind_parse("delay");
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err),
                     DM_E_INVALID);
    f.kind = dm_fault_kind_parse("paper_jam");
    f.ms = 5;
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err),
                     DM_E_INVALID);
    f.ms = 0;
    f.kind = dm_fault_kind_parse("busy");
    f.placed = true;
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err),
                     DM_E_INVALID);
    f.kind = dm_fault_kind_parse("feeder_empty");
    f.band = 2;
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err),
                     DM_E_INVALID);
    ck_assert_int_eq(dm_fault_kind_parse("lightning"), DM_E_INVALID);
    f.kind = 99;
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err),
                     DM_E_INVALID);
    /* the table holds 16 */
    memset(&f, 0, sizeof f);
    f.kind = dm_fault_kind_parse("button");
    f.placed = true;
    for (uint32_t i = 0; i < DM_ENGINE_MAX_LIVE; i++) {
        f.page = i;
        ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err), DM_OK);
    }
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, err, sizeof err), DM_E_RANGE);
    ck_assert_uint_eq(dm_engine_live_clear(h.eng, vnow(&h)), DM_ENGINE_MAX_LIVE);
    eng_close(&h);
}
END_TEST

/* The observer sees the job in order, with the trace's times. */
START_TEST(live_notes_follow_the_trace)
{
    host h;
    proto_scan_job job;
    eng_run r;
    notes *ns = calloc(1, sizeof(*ns));
    unsigned bands = 0;

    eng_open(&h, NULL, "scenarios/clean.yaml", 3, 1);
    dm_engine_set_observer(h.eng, note_cb, ns);
    ck_assert_int_eq(live_start(&h, 2, &job), DM_ST_OK);
    eng_read(&h, &front_a, &job, &r, 0);
    ck_assert_uint_ge(ns->count, 4);
    ck_assert_int_eq(ns->n[0].kind, DM_NOTE_JOB_STARTED);
    ck_assert_uint_eq(ns->n[0].job_no, 1);
    ck_assert_int_eq(ns->n[1].kind, DM_NOTE_PAGE_STARTED);
    ck_assert_int_eq(ns->n[ns->count - 1].kind, DM_NOTE_JOB_ENDED);
    ck_assert_int_eq(ns->n[ns->count - 1].status, DM_ST_OK);
    ck_assert_uint_eq(ns->n[ns->count - 1].pages_done, 2);
    /* the job-ended note carries the job's timing report (the engine keeps
     * it until the next job ends) */
    ck_assert_ptr_nonnull(ns->n[ns->count - 1].timing);
    ck_assert_int_eq(ns->n[ns->count - 1].timing->result, DM_ST_OK);
    ck_assert_uint_eq(ns->n[ns->count - 1].timing->pages_done, 2);
    ck_assert_uint_eq(ns->n[ns->count - 1].timing->job.bands, 2 * job.bands_per_page);
    for (unsigned i = 0; i < ns->count; i++) {
        const dm_note *n = &ns->n[i];
        if (n->kind == DM_NOTE_PAGE_STARTED) {
            ck_assert_int_eq(ns->n[i + 1].kind, DM_NOTE_BAND);
            ck_assert_uint_eq(ns->n[i + 1].band, 0);
            ck_assert_uint_eq(ns->n[i + 1].page, n->page);
        }
        if (n->kind != DM_NOTE_BAND)
            continue;
        ck_assert_uint_lt(bands, h.n_recs);
        ck_assert_uint_eq(n->page, h.recs[bands].page);
        ck_assert_uint_eq(n->band, h.recs[bands].band);
        ck_assert_uint_eq(n->deadline_ns, h.recs[bands].deadline_ns);
        ck_assert_uint_eq(n->release_ns, h.recs[bands].release_ns);
        ck_assert_uint_eq(n->bytes, h.recs[bands].bytes);
        ck_assert_uint_eq(n->job_start_ns, h.recs[bands].job_start_ns);
        bands++;
    }
    ck_assert_uint_eq(bands, 2 * job.bands_per_page);
    /* a live fault's note says so */
    dm_live_fault f = {
        .kind = dm_fault_kind_parse("paper_jam"), .placed = true, .page = 0, .band = 1};
    ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, NULL, 0), DM_OK);
    ns->count = 0;
    ck_assert_int_eq(live_start(&h, 2, &job), DM_ST_OK);
    eng_read(&h, &front_a, &job, &r, 0);
    ck_assert_int_eq(ns->n[ns->count - 2].kind, DM_NOTE_FAULT);
    ck_assert_str_eq(ns->n[ns->count - 2].fault, "paper_jam");
    ck_assert(ns->n[ns->count - 2].live);
    ck_assert_uint_eq(ns->n[ns->count - 2].band, 1);
    ck_assert_int_eq(ns->n[ns->count - 1].status, DM_ST_PAPER_JAM);
    ck_assert_uint_eq(ns->n[ns->count - 1].job_no, 2);
    eng_close(&h);
    free(ns);
}
END_TEST

/* Feeding: after an empty feeder a job runs over the sheets fed; the
 * feeder is then manual; a profile with no feeder refuses. */
START_TEST(live_feed)
{
    host h;
    proto_scan_job job;
    eng_run r;
    dm_engine_status s;

    eng_open(&h, NULL, "scenarios/feeder-empty.yaml", 3, 0);
    ck_assert_int_eq(live_start(&h, 0, &job), DM_ST_FEEDER_EMPTY);
    ck_assert_int_eq(dm_engine_live_feed(h.eng, 3, vnow(&h)), DM_OK);
    s = eng_status(&h);
    ck_assert_uint_eq(s.sheets, 3);
    ck_assert(s.feeder_manual);
    ck_assert_int_eq(live_start(&h, 0, &job), DM_ST_OK);
    eng_read(&h, &front_a, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_FEEDER_EMPTY);
    ck_assert_uint_eq(r.pages_ok, 3);
    ck_assert_uint_eq(eng_status(&h).sheets, 0);
    ck_assert_int_eq(live_start(&h, 0, &job), DM_ST_FEEDER_EMPTY); /* used up */
    /* a live feeder_empty at page 1 refuses one START, and is spent */
    ck_assert_int_eq(dm_engine_live_feed(h.eng, 2, vnow(&h)), DM_OK);
    {
        dm_live_fault f = {.kind = dm_fault_kind_parse("feeder_empty"), .placed = true};
        ck_assert_int_eq(dm_engine_live_fault(h.eng, &f, vnow(&h), NULL, NULL, 0), DM_OK);
    }
    ck_assert_int_eq(live_start(&h, 0, &job), DM_ST_FEEDER_EMPTY);
    ck_assert_uint_eq(eng_status(&h).live_armed, 0);
    ck_assert_int_eq(live_start(&h, 0, &job), DM_ST_OK);
    ck_assert_int_eq(dm_engine_cancel(h.eng, &front_a, vnow(&h)), DM_OK);
    ck_assert_int_eq(dm_engine_live_feed(h.eng, 51, vnow(&h)), DM_E_RANGE); /* capacity 50 */
    eng_close(&h);
    eng_open(&h, "profiles/flatbed-1200.yaml", NULL, 3, 0);
    ck_assert_int_eq(dm_engine_live_feed(h.eng, 1, vnow(&h)), DM_E_STATE);
    eng_close(&h);
}
END_TEST

/* wait_for_paper_ms: a feed while the job waits lets it go on, the sheet
 * fed from the moment of the feed; without one, the job ends when the wait
 * is over. */
START_TEST(live_feed_while_waiting_for_paper)
{
    static const char yaml[] = "name: w\nsheets: 1\nwait_for_paper_ms: 1000\n";
    host h;
    dm_device_config cfg;
    proto_scan_job job;
    eng_run r;
    dm_item it;
    uint64_t t;

    host_config(&h, NULL, NULL, 3, 1, &cfg);
    ck_assert_int_eq(dm_scenario_load_mem("w", yaml, sizeof yaml - 1, &h.scen, NULL, 0), DM_OK);
    cfg.scenario = h.scen;
    ck_assert_int_eq(dm_engine_create(&cfg, &h.eng), DM_OK);
    ck_assert_int_eq(dm_engine_attach(h.eng, &front_a), DM_OK);
    ck_assert_int_eq(live_start(&h, 0, &job), DM_ST_OK);
    /* page 0, then the wait before page 1 */
    for (;;) {
        dm_engine_peek(h.eng, &front_a, vnow(&h), &it);
        if (it.kind == DM_ITEM_JOB_END)
            break;
        if (it.action == DM_ACT_WAIT) {
            dm_clock_virtual_set(&h.clk, it.deadline_ns);
            continue;
        }
        ck_assert_int_eq(dm_engine_consume(h.eng, &front_a, vnow(&h), NULL), DM_OK);
    }
    ck_assert_int_eq(it.status, DM_ST_FEEDER_EMPTY);
    ck_assert_uint_eq(it.page, 1);
    dm_clock_virtual_set(&h.clk, it.deadline_ns - 500000000u); /* half-way through the wait */
    t = vnow(&h);
    ck_assert_int_eq(dm_engine_live_feed(h.eng, 1, t), DM_OK);
    dm_engine_peek(h.eng, &front_a, t, &it);
    ck_assert_int_eq(it.kind, DM_ITEM_BAND);
    ck_assert_uint_eq(it.page, 1);
    ck_assert_uint_gt(it.deadline_ns, t); /* fed from now: not already late */
    eng_read(&h, &front_a, &job, &r, 0);
    ck_assert_int_eq(r.end, DM_ST_FEEDER_EMPTY); /* the second wait ran out */
    ck_assert_uint_eq(r.end_page, 2);
    ck_assert_uint_eq(eng_status(&h).pages_done, 2);
    eng_close(&h);
}
END_TEST

/* timing --scale: the bands after the change run at the new rate, with no
 * jump back in time. */
START_TEST(live_scale)
{
    host h;
    proto_scan_job job;
    dm_item it;
    uint64_t d[4];

    eng_open(&h, NULL, "scenarios/clean.yaml", 3, 1);
    ck_assert_int_eq(dm_engine_live_scale(h.eng, 0.0), DM_E_RANGE);
    ck_assert_int_eq(dm_engine_live_scale(h.eng, 101.0), DM_E_RANGE);
    ck_assert_int_eq(live_start(&h, 1, &job), DM_ST_OK);
    for (int i = 0; i < 4; i++) {
        dm_engine_peek(h.eng, &front_a, vnow(&h), &it);
        if (it.action == DM_ACT_WAIT) {
            dm_clock_virtual_set(&h.clk, it.deadline_ns);
            dm_engine_peek(h.eng, &front_a, vnow(&h), &it);
        }
        d[i] = it.deadline_ns;
        ck_assert_int_eq(dm_engine_consume(h.eng, &front_a, vnow(&h), NULL), DM_OK);
        if (i == 1) /* from band 2 on: half speed */
            ck_assert_int_eq(dm_engine_live_scale(h.eng, 2.0), DM_OK);
    }
    /* band 1 -> 2 and 2 -> 3 take about twice band 0 -> 1 (jitter aside) */
    ck_assert_uint_gt(d[2] - d[1], (d[1] - d[0]) * 18 / 10);
    ck_assert_uint_lt(d[2] - d[1], (d[1] - d[0]) * 22 / 10);
    ck_assert_uint_gt(d[3] - d[2], (d[1] - d[0]) * 18 / 10);
    ck_assert_double_eq(eng_status(&h).time_scale, 2.0);
    eng_close(&h);
}
END_TEST

static Suite *dm_suite(void)
{
    Suite *s = suite_create("device-model");
    TCase *tc = tcase_create("fixtures");
    tcase_add_test(tc, every_fixture_loads);
    tcase_add_test(tc, builtin_default_is_the_fixture);
    tcase_add_test(tc, job_resolve_rejects);
    tcase_add_test(tc, narrow_job_fits_caps);
    tcase_add_test(tc, narrow_job_band_in_bounds);
    suite_add_tcase(s, tc);
    tc = tcase_create("synth");
    tcase_add_test(tc, synth_pure_and_seeded);
    tcase_add_test(tc, synth_chart_is_readable);
    suite_add_tcase(s, tc);
    tc = tcase_create("synth-golden");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, synth_golden_bytes);
    tcase_add_test(tc, synth_noise_paths_agree);
    suite_add_tcase(s, tc);
    tc = tcase_create("timing");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, clean_three_pages);
    tcase_add_test(tc, deadlines_match_model);
    tcase_add_test(tc, same_seed_same_bytes_and_schedule);
    tcase_add_test(tc, timing_off_is_immediate);
    tcase_add_test(tc, lateness_is_reported);
    suite_add_tcase(s, tc);
    tc = tcase_create("faults");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, scenario_jam);
    tcase_add_test(tc, scenario_feeder_empty_after_2);
    tcase_add_test(tc, scenario_clean_until_empty);
    tcase_add_test(tc, scenario_start_refusals);
    tcase_add_test(tc, scenario_cover_and_multifeed);
    tcase_add_test(tc, scenario_stalls);
    tcase_add_test(tc, scenario_short_and_corrupt);
    tcase_add_test(tc, scenario_never_and_disconnect);
    tcase_add_test(tc, scenario_delay);
    tcase_add_test(tc, scenario_random_is_reproducible);
    tcase_add_test(tc, triggers_line_every_after);
    tcase_add_test(tc, duplex_and_other_profiles);
    tcase_add_test(tc, commands_and_errors);
    tcase_add_test(tc, full_response_queue_refuses_commands);
    suite_add_tcase(s, tc);
    tc = tcase_create("engine");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, engine_job_on_virtual_clock);
    tcase_add_test(tc, engine_busy_across_fronts);
    tcase_add_test(tc, engine_faults_are_neutral);
    tcase_add_test(tc, engine_status_across_jam_and_empty);
    tcase_add_test(tc, native_on_shared_engine_same_bytes);
    tcase_add_test(tc, live_fault_places);
    tcase_add_test(tc, live_fault_keeps_the_offered_item);
    tcase_add_test(tc, live_start_kinds_and_checks);
    tcase_add_test(tc, live_notes_follow_the_trace);
    tcase_add_test(tc, live_feed);
    tcase_add_test(tc, live_feed_while_waiting_for_paper);
    tcase_add_test(tc, live_scale);
    suite_add_tcase(s, tc);
    tc = tcase_create("validation");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, bad_profiles_rejected, 0,
                        (int)(sizeof(bad_profiles) / sizeof(bad_profiles[0])));
    tcase_add_loop_test(tc, bad_scenarios_rejected, 0,
                        (int)(sizeof(bad_scenarios) / sizeof(bad_scenarios[0])));
    tcase_add_loop_test(tc, bad_pairs_rejected, 0, (int)(sizeof(bad_pairs) / sizeof(bad_pairs[0])));
    tcase_add_test(tc, scenario_past_profile_rejected);
    tcase_add_test(tc, job_check_reports_unreachable_faults);
    tcase_add_test(tc, alloc_failures);
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
