/* Lateness accounting (dm/lateness.h) on the virtual clock: the histogram's
 * resolution, the split between the emulator's share and host starvation,
 * and the job-end report through the engine, the native front and the eSCL
 * front. No sockets, no sleeping. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm-rig.h"
#include "dm/engine.h"
#include "dm/escl.h"
#include "dm/lateness.h"

/* 2 ms bands (20 lines x 100 us), no feed, jitter or warm-up: band k of the
 * job is due (k + 1) x 2 ms after the start; 10 bands a page. */
static const char PROFILE_2MS[] =
    "name: t2ms\n"
    "usb: {vid: 0x1209, pid: 0x0001, bcd_device: 0x0100, speed: high,\n"
    "      manufacturer: t, product: t, serial: T}\n"
    "sources: [adf]\n"
    "feeder_capacity: 100\n"
    "modes: [gray]\n"
    "resolutions: [75]\n"
    "area: {width_mm: 100, height_mm: 67}\n"
    "band: {lines: 20, max_bytes: 65536}\n"
    "defaults: {source: adf, mode: gray, dpi: 75}\n"
    "timing: {warmup_ms: 0, feed_ms: 0, jitter_us: 0,\n"
    "         line_time_us: {gray: 100}}\n";

#define MS 1000000ull
#define US 1000ull

/* ---- the histogram ------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t exact_pct(uint64_t *v, size_t n, unsigned pct)
{
    size_t rank = (n * pct + 99) / 100;
    qsort(v, n, sizeof(*v), cmp_u64);
    return v[(rank ? rank : 1) - 1];
}

/* The documented bound: never below the exact nearest-rank value, above it
 * by less than 1 us or 1/16 of it, never above the maximum. */
static void check_pct_bound(const dm_lat_hist *h, uint64_t *vals, size_t n, unsigned pct)
{
    uint64_t got = dm_lat_hist_pct(h, pct);
    uint64_t want = exact_pct(vals, n, pct);
    uint64_t slack = want / 16 > US ? want / 16 : US;

    ck_assert_msg(got >= want, "p%u: %llu < exact %llu", pct, (unsigned long long)got,
                  (unsigned long long)want);
    ck_assert_msg(got - want < slack, "p%u: %llu too far above exact %llu", pct,
                  (unsigned long long)got, (unsigned long long)want);
    ck_assert_uint_le(got, h->max_ns);
}

START_TEST(hist_buckets_are_contiguous)
{
    uint64_t lo, hi, prev_hi = 0;

    for (unsigned b = 0; b < DM_LAT_BUCKETS; b++) {
        dm_lat_bucket_edges(b, &lo, &hi);
        ck_assert_uint_eq(lo, prev_hi);
        ck_assert_uint_gt(hi, lo);
        /* width: 1 us below 32 us, then at most 1/16 of the lower edge */
        if (b < DM_LAT_LINEAR_US)
            ck_assert_uint_eq(hi - lo, US);
        else
            ck_assert_uint_le((hi - lo) * 16, lo);
        ck_assert_uint_eq(dm_lat_bucket_of(lo), b);
        ck_assert_uint_eq(dm_lat_bucket_of(hi - 1), b);
        prev_hi = hi;
    }
    /* Beyond the last bucket: the last bucket. */
    ck_assert_uint_eq(dm_lat_bucket_of(UINT64_MAX), DM_LAT_BUCKETS - 1);
}
END_TEST

START_TEST(hist_percentiles_within_resolution)
{
    static dm_lat_hist h;
    static uint64_t vals[20000];
    uint64_t x = 88172645463325252ull;

    /* Sizes 1, 2, 99, 100, 101 and a long skewed sample. */
    static const size_t sizes[] = {1, 2, 99, 100, 101, 20000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        dm_lat_hist_clear(&h);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* mostly tens of us, a tail up to seconds */
            uint64_t v = (x % 100) < 95 ? x % (200 * US) : x % (3000 * MS);
            vals[i] = v;
            dm_lat_hist_add(&h, v);
        }
        ck_assert_uint_eq(h.n, n);
        {
            uint64_t mx = 0;
            for (size_t i = 0; i < n; i++)
                mx = vals[i] > mx ? vals[i] : mx;
            ck_assert_uint_eq(h.max_ns, mx);
        }
        check_pct_bound(&h, vals, n, 50);
        check_pct_bound(&h, vals, n, 99);
        check_pct_bound(&h, vals, n, 100);
        ck_assert_uint_eq(dm_lat_hist_pct(&h, 100), h.max_ns);
    }
    dm_lat_hist_clear(&h);
    ck_assert_uint_eq(dm_lat_hist_pct(&h, 50), 0);
    /* Below 32 us every microsecond is its own bucket. */
    dm_lat_hist_add(&h, 17 * US + 400);
    dm_lat_hist_add(&h, 18 * US + 999);
    ck_assert_uint_eq(dm_lat_hist_pct(&h, 50), 18 * US);
    ck_assert_uint_eq(dm_lat_hist_pct(&h, 99), 18 * US + 999);
}
END_TEST

START_TEST(acc_splits_emulator_and_host)
{
    static dm_lat_acc a;
    dm_lat_summary s;
    const uint64_t tol = 1 * MS, d = 100 * MS;

    dm_lat_acc_clear(&a);
    /* URB queued before the deadline: all lateness is the emulator's. */
    dm_lat_acc_band(&a, d, d + 30 * US, d - 5 * MS, tol);
    /* Starved: the URB came 3 ms after the deadline, the band 40 us later. */
    dm_lat_acc_band(&a, d, d + 3 * MS + 40 * US, d + 3 * MS, tol);
    /* Beyond tolerance by the emulator: URB waiting, released 1.5 ms late. */
    dm_lat_acc_band(&a, d, d + 1500 * US, d - 1, tol);
    /* Starved and still slow: URB at +0.5 ms, band at +2 ms: 1.5 ms the
     * emulator's, so the emulator's. */
    dm_lat_acc_band(&a, d, d + 2 * MS, d + 500 * US, tol);
    /* Carrier unknown: the emulator's, and unattributed. */
    dm_lat_acc_band(&a, d, d + 10 * US, UINT64_MAX, tol);
    /* Exactly the tolerance is within it; released at the deadline is 0. */
    dm_lat_acc_band(&a, d, d + tol, d, tol);
    dm_lat_acc_band(&a, d, d, d, tol);
    dm_lat_acc_summary(&a, tol, &s);
    ck_assert_uint_eq(s.bands, 7);
    ck_assert_uint_eq(s.starved, 2);
    ck_assert_uint_eq(s.unattributed, 1);
    ck_assert_uint_eq(s.beyond, 3);
    ck_assert_uint_eq(s.beyond_emu, 2);
    ck_assert_uint_eq(s.beyond_host, 1);
    ck_assert_uint_eq(s.late_max_ns, 3 * MS + 40 * US);
    ck_assert_uint_eq(s.emu_max_ns, 1500 * US);
    ck_assert_uint_eq(s.tolerance_ns, tol);
}
END_TEST

/* ---- the engine ---------------------------------------------------------------------- */

typedef dm_rig rig;

/* The 2 ms profile and the scenario scen_yaml, timing on or off, lateness
 * tolerance tol. */
static void rig_open(rig *r, const char *scen_yaml, int timing, uint64_t tol)
{
    char err[512];
    dm_engine_config cfg;
    dm_profile *prof;
    dm_scenario *scen;

    ck_assert_msg(dm_profile_load_mem("t2ms", PROFILE_2MS, strlen(PROFILE_2MS), &prof, err,
                                      sizeof(err)) == DM_OK,
                  "%s", err);
    ck_assert_msg(
        dm_scenario_load_mem("s", scen_yaml, strlen(scen_yaml), &scen, err, sizeof(err)) == DM_OK,
        "%s", err);
    dm_device_config_init(&cfg);
    ck_assert_uint_eq(cfg.late_tolerance_ns, DM_LATE_TOLERANCE_NS_DEFAULT);
    cfg.timing = timing;
    cfg.late_tolerance_ns = tol;
    dm_rig_open(r, prof, scen, &cfg);
}

static void start(rig *r, uint32_t pages)
{
    proto_scan_params p;
    proto_scan_job job;

    memset(&p, 0, sizeof(p));
    p.source = PROTO_SCAN_SOURCE_ADF;
    p.mode = PROTO_SCAN_MODE_GRAY8;
    p.dpi = 75;
    p.pages = pages;
    ck_assert_int_eq(dm_engine_start(r->eng, &r->token, &p, dm_rig_now(r), &job), DM_ST_OK);
    ck_assert_uint_eq(job.bands_per_page, 10);
}

/* How band i is taken: its URB arrives carrier_off after the deadline
 * (negative: before), it leaves release_off after max(deadline, URB). */
typedef struct take {
    int64_t carrier_off_ns;
    uint64_t release_off_ns;
} take;

/* Runs the job to its end (or to max_bands), band i taken as plan(i).
 * Returns the bands released; lates[] gets each band's lateness. */
static unsigned run_job(rig *r, take (*plan)(unsigned), uint64_t *lates, unsigned max_bands)
{
    unsigned i = 0;

    for (;;) {
        dm_item it, done;
        dm_engine_peek(r->eng, &r->token, dm_rig_now(r), &it);
        if (it.kind == DM_ITEM_NONE)
            break;
        if (it.kind == DM_ITEM_JOB_END) {
            if (it.action == DM_ACT_WAIT)
                dm_clock_virtual_set(&r->clk, it.deadline_ns);
            ck_assert_int_eq(dm_engine_consume(r->eng, &r->token, dm_rig_now(r), &done), DM_OK);
            break;
        }
        if (i == max_bands)
            break;
        take t = plan(i);
        uint64_t carrier = (uint64_t)((int64_t)it.deadline_ns + t.carrier_off_ns);
        uint64_t from = carrier > it.deadline_ns ? carrier : it.deadline_ns;
        dm_clock_virtual_set(&r->clk, from + t.release_off_ns);
        dm_engine_peek(r->eng, &r->token, dm_rig_now(r), &it);
        ck_assert_int_eq(it.action, DM_ACT_DELIVER);
        if (lates)
            lates[i] = dm_rig_now(r) - it.deadline_ns;
        ck_assert_int_eq(
            dm_engine_consume_carried(r->eng, &r->token, dm_rig_now(r), carrier, &done), DM_OK);
        i++;
    }
    return i;
}

/* 30 bands: band i leaves i x 10 us late with its URB waiting, except
 * bands 5 and 6 (URB 2 ms after the deadline, then 50 us: host-starved
 * beyond a 1 ms tolerance) and band 20 (1.5 ms late, URB waiting: the
 * emulator's, beyond it). */
static take plan_mixed(unsigned i)
{
    take t = {-(int64_t)(1 * MS), i * 10 * US};
    if (i == 5 || i == 6) {
        t.carrier_off_ns = 2 * MS;
        t.release_off_ns = 50 * US;
    }
    if (i == 20)
        t.release_off_ns = 1500 * US;
    return t;
}

static take plan_on_time(unsigned i)
{
    take t = {-(int64_t)(1 * MS), 20 * US + (i % 3) * US};
    return t;
}

START_TEST(engine_reports_job_end)
{
    static rig r;
    uint64_t lates[64];
    static dm_lat_hist h;

    rig_open(&r, "name: s\nsheets: 10\n", 1, 1 * MS);
    start(&r, 3);
    ck_assert_uint_eq(run_job(&r, plan_mixed, lates, 64), 30);
    ck_assert_uint_eq(r.ends, 1);
    ck_assert_ptr_eq(r.last.front, &r.token);
    ck_assert_int_eq(r.last.result, DM_ST_OK);
    ck_assert(r.last.timing);
    ck_assert_uint_eq(r.last.pages_done, 3);
    ck_assert_uint_eq(r.last.job_start_ns, 1000000000ull);
    ck_assert_uint_eq(r.last.end_ns, dm_rig_now(&r));
    ck_assert_uint_eq(r.last.job.bands, 30);
    ck_assert_uint_eq(r.last.job.starved, 2);
    ck_assert_uint_eq(r.last.job.unattributed, 0);
    ck_assert_uint_eq(r.last.job.beyond, 3);
    ck_assert_uint_eq(r.last.job.beyond_emu, 1);
    ck_assert_uint_eq(r.last.job.beyond_host, 2);
    ck_assert_uint_eq(r.last.job.late_max_ns, 2 * MS + 50 * US);
    ck_assert_uint_eq(r.last.job.emu_max_ns, 1500 * US);
    /* The percentiles are the histogram's over the same lateness. */
    dm_lat_hist_clear(&h);
    for (unsigned i = 0; i < 30; i++)
        dm_lat_hist_add(&h, lates[i]);
    ck_assert_uint_eq(r.last.job.late_p50_ns, dm_lat_hist_pct(&h, 50));
    ck_assert_uint_eq(r.last.job.late_p99_ns, dm_lat_hist_pct(&h, 99));
    check_pct_bound(&h, lates, 30, 50);
    /* The device's totals so far are this job's. */
    ck_assert_uint_eq(r.last.device_jobs, 1);
    ck_assert_uint_eq(r.last.device_jobs_emu_beyond, 1);
    ck_assert_uint_eq(r.last.device.bands, 30);
    ck_assert_uint_eq(r.last.device.beyond_emu, 1);

    /* A second job, on time: its own numbers, the device's add up. */
    start(&r, 2);
    ck_assert_uint_eq(run_job(&r, plan_on_time, NULL, 64), 20);
    ck_assert_uint_eq(r.ends, 2);
    ck_assert_uint_eq(r.last.job.bands, 20);
    ck_assert_uint_eq(r.last.job.beyond, 0);
    ck_assert_uint_eq(r.last.job.starved, 0);
    ck_assert_uint_le(r.last.job.late_max_ns, 22 * US);
    ck_assert_uint_eq(r.last.device_jobs, 2);
    ck_assert_uint_eq(r.last.device_jobs_emu_beyond, 1);
    ck_assert_uint_eq(r.last.device.bands, 50);
    ck_assert_uint_eq(r.last.device.beyond, 3);
    ck_assert_uint_eq(r.last.device.late_max_ns, 2 * MS + 50 * US);
    {
        dm_lat_summary dev;
        uint64_t jobs, bad;
        dm_engine_timing_get(r.eng, &dev, &jobs, &bad);
        ck_assert_uint_eq(jobs, 2);
        ck_assert_uint_eq(bad, 1);
        ck_assert_uint_eq(dev.bands, 50);
        ck_assert_uint_eq(dm_engine_late_tolerance(r.eng), 1 * MS);
    }
    dm_rig_close(&r);
}
END_TEST

START_TEST(engine_reports_canceled_and_unplugged_jobs)
{
    static rig r;

    rig_open(&r, "name: s\nsheets: 10\n", 1, 1 * MS);
    start(&r, 3);
    ck_assert_uint_eq(run_job(&r, plan_on_time, NULL, 7), 7);
    ck_assert_uint_eq(r.ends, 0);
    dm_clock_virtual_advance(&r.clk, 5 * MS);
    ck_assert_int_eq(dm_engine_cancel(r.eng, &r.token, dm_rig_now(&r)), DM_OK);
    ck_assert_uint_eq(r.ends, 1);
    ck_assert_int_eq(r.last.result, DM_ST_CANCELED);
    ck_assert_uint_eq(r.last.job.bands, 7);
    ck_assert_uint_eq(r.last.end_ns, dm_rig_now(&r));
    /* A power cycle ends a running job too; detaching with none, nothing. */
    start(&r, 3);
    ck_assert_uint_eq(run_job(&r, plan_on_time, NULL, 2), 2);
    dm_engine_power_cycle(r.eng, dm_rig_now(&r));
    ck_assert_uint_eq(r.ends, 2);
    ck_assert_int_eq(r.last.result, DM_ST_CANCELED);
    ck_assert_uint_eq(r.last.job.bands, 2);
    ck_assert_uint_eq(r.last.device_jobs, 2);
    ck_assert_uint_eq(r.last.device.bands, 9);
    dm_engine_detach(r.eng, &r.token, dm_rig_now(&r));
    ck_assert_uint_eq(r.ends, 2);
    dm_rig_close(&r);

    /* The device vanishes at page 2, band 3 (the 13th band). */
    rig_open(&r, "name: s\nsheets: 10\nfaults:\n  - kind: disconnect\n    at: {page: 2, band: 3}\n",
             1, 1 * MS);
    start(&r, 3);
    {
        unsigned n = 0;
        for (;;) {
            dm_item it, done;
            dm_engine_peek(r.eng, &r.token, dm_rig_now(&r), &it);
            if (it.kind == DM_ITEM_NONE)
                break;
            if (it.action == DM_ACT_WAIT) {
                dm_clock_virtual_set(&r.clk, it.deadline_ns + 10 * US);
                continue;
            }
            if (it.action == DM_ACT_DISCONNECT) {
                ck_assert_int_eq(dm_engine_consume(r.eng, &r.token, dm_rig_now(&r), &done), DM_OK);
                break;
            }
            ck_assert_int_eq(it.action, DM_ACT_DELIVER);
            ck_assert_int_eq(dm_engine_consume_carried(r.eng, &r.token, dm_rig_now(&r), 0, &done),
                             DM_OK);
            n++;
        }
        ck_assert_uint_eq(n, 12);
    }
    ck_assert_uint_eq(r.ends, 1);
    ck_assert_int_eq(r.last.result, DM_ST_DISCONNECTED);
    ck_assert_uint_eq(r.last.job.bands, 12);
    ck_assert_uint_eq(r.last.job.late_max_ns, 10 * US);
    dm_rig_close(&r);
}
END_TEST

START_TEST(engine_without_schedule_says_so)
{
    static rig r;

    rig_open(&r, "name: s\nsheets: 10\n", 0, 1 * MS);
    start(&r, 2);
    ck_assert_uint_eq(run_job(&r, plan_on_time, NULL, 64), 20);
    ck_assert_uint_eq(r.ends, 1);
    ck_assert(!r.last.timing);
    ck_assert_uint_eq(r.last.job.bands, 20);
    dm_rig_close(&r);
}
END_TEST

/* ---- the native front: urb_ns reaches the accounting -------------------------------- */

static void native_cmd(dm_device *dev, uint16_t op, uint16_t tag, const void *pl, uint32_t plen)
{
    uint8_t buf[PROTO_SCAN_CMD_HDR_SIZE + 256];
    proto_scan_cmd c = {.opcode = op, .tag = tag, .length = plen};
    ck_assert_int_eq(proto_scan_cmd_encode(&c, buf, sizeof(buf)), PROTO_SCAN_CMD_HDR_SIZE);
    if (plen)
        memcpy(buf + PROTO_SCAN_CMD_HDR_SIZE, pl, plen);
    ck_assert_int_eq(dm_device_bulk_out(dev, buf, PROTO_SCAN_CMD_HDR_SIZE + plen), DM_OK);
}

START_TEST(native_front_attributes_by_urb)
{
    static rig r;
    dm_device *dev;
    dm_in in;
    unsigned bands = 0;

    rig_open(&r, "name: s\nsheets: 1\n", 1, 1 * MS);
    ck_assert_int_eq(dm_device_create_on(r.eng, &dev), DM_OK);
    native_cmd(dev, PROTO_SCAN_OP_START_JOB, 1, NULL, 0);
    dm_device_peek(dev, DM_EP_DATA_IN, dm_rig_now(&r), &in);
    ck_assert_int_eq(in.kind, DM_IN_DATA); /* START_JOB's response */
    dm_device_consume(dev, DM_EP_DATA_IN, dm_rig_now(&r));
    for (;;) {
        dm_device_peek(dev, DM_EP_DATA_IN, dm_rig_now(&r), &in);
        if (in.kind == DM_IN_IDLE)
            break;
        if (in.kind == DM_IN_WAIT) {
            uint64_t d = in.deadline_ns;
            /* Band 4's URB comes 3 ms after its deadline; the rest wait. */
            dm_clock_virtual_set(&r.clk, d + (bands == 4 ? 3 * MS : 0) + 20 * US);
            dm_device_peek(dev, DM_EP_DATA_IN, dm_rig_now(&r), &in);
            ck_assert_int_eq(in.kind, DM_IN_DATA);
            dm_device_consume_urb(dev, DM_EP_DATA_IN, dm_rig_now(&r),
                                  bands == 4 ? d + 3 * MS : d - MS);
            bands++;
            continue;
        }
        ck_assert_int_eq(in.kind, DM_IN_DATA);
        if (bands < 10) {
            /* Band 5, due before band 4 left: its URB was submitted after
             * band 4's (URBs complete in order), at the same instant. */
            dm_device_consume_urb(dev, DM_EP_DATA_IN, dm_rig_now(&r), dm_rig_now(&r) - 20 * US);
            bands++;
            continue;
        }
        dm_device_consume(dev, DM_EP_DATA_IN, dm_rig_now(&r)); /* END_OF_JOB */
    }
    ck_assert_uint_eq(bands, 10);
    ck_assert_uint_eq(r.ends, 1);
    ck_assert_ptr_eq(r.last.front, dev);
    ck_assert_int_eq(r.last.result, DM_ST_FEEDER_EMPTY); /* one sheet, pages: until empty */
    ck_assert_uint_eq(r.last.job.bands, 10);
    ck_assert_uint_eq(r.last.job.starved, 2);
    ck_assert_uint_eq(r.last.job.beyond, 2);
    ck_assert_uint_eq(r.last.job.beyond_host, 2);
    ck_assert_uint_eq(r.last.job.beyond_emu, 0);
    ck_assert_uint_eq(r.last.job.emu_max_ns, 20 * US);
    ck_assert_uint_eq(r.last.job.late_max_ns, 3 * MS + 20 * US);
    dm_device_free(dev);
    dm_rig_close(&r);
}
END_TEST

/* ---- the eSCL front: the NextDocument request carries the page -------------------- */

/* Feeds a request and pumps the connection on the virtual clock until it
 * waits for the next request; what was sent goes to out. Each wait for a
 * band is met `late` after its deadline. */
static size_t escl_exchange(rig *r, dm_escl *e, dm_escl_conn *c, const char *req, uint64_t late,
                            char *out, size_t cap)
{
    size_t n = 0;
    dm_escl_out o;

    size_t fed = 0, len = strlen(req);

    while (fed < len) {
        int took = dm_escl_conn_input(c, (const uint8_t *)req + fed, len - fed, dm_rig_now(r));
        ck_assert_int_gt(took, 0);
        fed += (size_t)took;
    }
    for (;;) {
        dm_escl_conn_peek(c, dm_rig_now(r), &o);
        if (o.kind == DM_ESCL_OUT_DATA) {
            size_t k = o.len < cap - 1 - n ? o.len : cap - 1 - n;
            memcpy(out + n, o.data, k);
            n += k;
            dm_escl_conn_sent(c, o.len, dm_rig_now(r));
            continue;
        }
        if (o.kind == DM_ESCL_OUT_WAIT && o.deadline_ns != UINT64_MAX) {
            dm_clock_virtual_set(&r->clk, o.deadline_ns + late); /* never backwards */
            continue;
        }
        break;
    }
    (void)dm_escl_poll(e, dm_rig_now(r));
    out[n] = '\0';
    return n;
}

START_TEST(escl_front_attributes_by_request)
{
    static rig r;
    static char out[1 << 20];
    dm_escl *e;
    dm_escl_config ec;
    dm_escl_conn *c;
    char req[2048], job[128];
    const char *settings =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><scan:ScanSettings "
        "xmlns:pwg=\"http://www.pwg.org/schemas/2010/12/sm\" "
        "xmlns:scan=\"http://schemas.hp.com/imaging/escl/2011/05/03\"><pwg:Version>2.0</"
        "pwg:Version><pwg:ScanRegions><pwg:ScanRegion><pwg:ContentRegionUnits>escl:"
        "ThreeHundredthsOfInches</pwg:ContentRegionUnits><pwg:XOffset>0</"
        "pwg:XOffset><pwg:YOffset>0</pwg:YOffset><pwg:Width>1181</pwg:Width><pwg:Height>791</"
        "pwg:Height></pwg:ScanRegion></pwg:ScanRegions><pwg:InputSource>Feeder</"
        "pwg:InputSource><scan:ColorMode>Grayscale8</scan:ColorMode><pwg:DocumentFormat>image/"
        "png</pwg:DocumentFormat><scan:XResolution>75</scan:XResolution><scan:YResolution>75</"
        "scan:YResolution></scan:ScanSettings>";

    rig_open(&r, "name: s\nsheets: 2\n", 1, 1 * MS);
    dm_escl_config_init(&ec);
    ec.engine = r.eng;
    ck_assert_int_eq(dm_escl_create(&ec, &e), DM_OK);
    ck_assert_int_eq(dm_escl_conn_open(e, &c), DM_OK);
    snprintf(req, sizeof(req),
             "POST /eSCL/ScanJobs HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(settings), settings);
    escl_exchange(&r, e, c, req, 0, out, sizeof(out));
    ck_assert_msg(strncmp(out, "HTTP/1.1 201", 12) == 0, "%.80s", out);
    {
        const char *p = strstr(out, "/eSCL/ScanJobs/");
        ck_assert_ptr_nonnull(p);
        snprintf(job, sizeof(job), "%.*s", (int)strcspn(p, "\r"), p);
    }
    /* Page 1 requested at once, each band 30 us after its deadline. */
    snprintf(req, sizeof(req), "GET %s/NextDocument HTTP/1.1\r\nHost: x\r\n\r\n", job);
    escl_exchange(&r, e, c, req, 30 * US, out, sizeof(out));
    ck_assert_msg(strncmp(out, "HTTP/1.1 200", 12) == 0, "%.80s", out);
    /* Page 2 requested 10 ms after page 1 ended: its first bands were due
     * meanwhile (the host starved them); from the request on, 30 us each. */
    dm_clock_virtual_advance(&r.clk, 10 * MS);
    escl_exchange(&r, e, c, req, 30 * US, out, sizeof(out));
    ck_assert_msg(strncmp(out, "HTTP/1.1 200", 12) == 0, "%.80s", out);
    /* No third page: the feeder is empty, the job ends. */
    escl_exchange(&r, e, c, req, 0, out, sizeof(out));
    ck_assert_uint_eq(r.ends, 1);
    ck_assert_ptr_eq(r.last.front, e);
    ck_assert_uint_eq(r.last.pages_done, 2);
    ck_assert_uint_eq(r.last.job.bands, 20);
    /* Page 2's bands due by the request (5 of them, at 2 ms each over 10 ms)
     * were starved; their emulator share is what came after the request. */
    ck_assert_uint_eq(r.last.job.starved, 5);
    ck_assert_uint_eq(r.last.job.beyond_emu, 0);
    ck_assert_uint_ge(r.last.job.beyond_host, 4);
    ck_assert_uint_le(r.last.job.emu_max_ns, 30 * US);
    ck_assert_uint_gt(r.last.job.late_max_ns, 8 * MS);
    dm_escl_conn_free(c);
    dm_escl_free(e);
    dm_rig_close(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dm_timing");
    TCase *t = tcase_create("lateness");
    tcase_add_test(t, hist_buckets_are_contiguous);
    tcase_add_test(t, hist_percentiles_within_resolution);
    tcase_add_test(t, acc_splits_emulator_and_host);
    tcase_add_test(t, engine_reports_job_end);
    tcase_add_test(t, engine_reports_canceled_and_unplugged_jobs);
    tcase_add_test(t, engine_without_schedule_says_so);
    tcase_add_test(t, native_front_attributes_by_urb);
    tcase_add_test(t, escl_front_attributes_by_request);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
