/* The device side of the three timing bugs of docs/timing-bugs.md, from
 * the shipped scenarios, on the virtual clock: what the device does at each
 * instant is exact here, and for bug 1 the whole story is (a host model
 * with 1 or 4 transfers in flight against the real engine). Bugs 2 and 3
 * also depend on the real driver and the emulator's session; their
 * real-clock halves are test_timing_bug_warmup.sh and
 * test_timing_bug_event.sh (host-tests/emulator). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm-rig.h"
#include "dm/engine.h"

#define MS 1000000ull
#define US 1000ull

typedef dm_rig rig;

static char *scenario_path(const char *name)
{
    static char buf[1024];
    const char *src = getenv("SCANEMU_SOURCE_DIR");
    snprintf(buf, sizeof(buf), "%s/fixtures/scenarios/%s", src ? src : ".", name);
    return buf;
}

/* The default profile (what scanemu runs without --device) and a shipped
 * scenario. */
static void rig_open(rig *r, const char *scenario)
{
    char err[512];
    dm_profile *prof;
    dm_scenario *scen;

    ck_assert_int_eq(dm_profile_load_default(&prof, err, sizeof(err)), DM_OK);
    ck_assert_msg(dm_scenario_load_file(scenario_path(scenario), &scen, err, sizeof(err)) == DM_OK,
                  "%s", err);
    dm_rig_open(r, prof, scen, NULL);
}

/* ---- bug 1: one bulk IN transfer in flight ----------------------------------------- */

/* The host: `in_flight` bulk IN URBs queued at START_JOB; each one that
 * completes is queued again `rtt` later (the round trip: the completion
 * reaches the host, the host checks the band and submits again). The device
 * sends a band 1 us after it is due and a URB is waiting. Returns the job's
 * report. */
static dm_job_timing run_in_flight(unsigned in_flight, uint64_t rtt)
{
    static rig r;
    proto_scan_params p;
    proto_scan_job job;
    uint64_t urb[64];
    unsigned head = 0, tail = 0;

    rig_open(&r, "timing-in-flight.yaml");
    memset(&p, 0, sizeof(p));
    p.source = PROTO_SCAN_SOURCE_ADF;
    p.mode = PROTO_SCAN_MODE_BW;
    p.dpi = 75;
    p.pages = 20;
    p.width_px = 620; /* wiascan --mode bw --dpi 75 --size 620x256 */
    p.height_px = 256;
    ck_assert_int_eq(dm_engine_start(r.eng, &r.token, &p, dm_rig_now(&r), &job), DM_ST_OK);
    ck_assert_uint_eq(job.bands_per_page, 4);
    for (unsigned i = 0; i < in_flight; i++)
        urb[tail++ % 64] = dm_rig_now(&r);
    for (;;) {
        dm_item it, done;
        dm_engine_peek(r.eng, &r.token, dm_rig_now(&r), &it);
        ck_assert_int_ne(it.kind, DM_ITEM_NONE);
        uint64_t c = urb[head++ % 64];
        uint64_t at = (it.deadline_ns > c ? it.deadline_ns : c) + 1 * US;
        dm_clock_virtual_set(&r.clk, at);
        ck_assert_int_eq(dm_engine_consume_carried(r.eng, &r.token, dm_rig_now(&r), c, &done),
                         DM_OK);
        if (it.kind == DM_ITEM_JOB_END)
            break;
        urb[tail++ % 64] = dm_rig_now(&r) + rtt;
    }
    ck_assert_uint_eq(r.ends, 1);
    dm_rig_close(&r);
    return r.last;
}

START_TEST(bug1_one_transfer_in_flight_starves)
{
    /* Whatever the round trip (5 us .. 5 ms, all far more than the 2 us
     * between bands and far less than the 50 ms between sheets): one
     * transfer in flight starves bands 2-4 of every page; four never do. */
    static const uint64_t rtts[] = {5 * US, 50 * US, 500 * US, 5 * MS};
    for (size_t i = 0; i < sizeof(rtts) / sizeof(rtts[0]); i++) {
        dm_job_timing one = run_in_flight(1, rtts[i]);
        dm_job_timing four = run_in_flight(4, rtts[i]);
        ck_assert_int_eq(one.result, DM_ST_OK);
        ck_assert_uint_eq(one.job.bands, 80);
        ck_assert_uint_eq(one.job.starved, 60);
        ck_assert_uint_eq(one.job.beyond_emu, 0); /* a faithful reproduction */
        /* Each starved band waited a whole round trip, no more. */
        ck_assert_uint_ge(one.job.late_max_ns, rtts[i]);
        ck_assert_uint_le(one.job.emu_max_ns, 1 * US);
        ck_assert_uint_eq(four.job.bands, 80);
        ck_assert_uint_eq(four.job.starved, 0);
        ck_assert_uint_eq(four.job.beyond, 0);
        ck_assert_uint_le(four.job.late_max_ns, 4 * US); /* the burst's own send time */
    }
}
END_TEST

/* ---- bug 2: the lamp warm-up ------------------------------------------------------- */

START_TEST(bug2_warmup_refuses_for_exactly_3_s)
{
    static rig r;
    dm_engine_status st;
    uint64_t on;

    rig_open(&r, "timing-lamp-warmup.yaml");
    on = dm_rig_now(&r); /* power-on */
    /* START_JOB at 1 s: WARMING_UP, 2 s left (what the driver is told). */
    dm_clock_virtual_set(&r.clk, on + 1000 * MS);
    ck_assert_int_eq(dm_engine_start(r.eng, &r.token, NULL, dm_rig_now(&r), NULL),
                     DM_ST_WARMING_UP);
    dm_engine_status_get(r.eng, dm_rig_now(&r), &st);
    ck_assert_int_eq(st.state, DM_ENGINE_WARMING_UP);
    ck_assert_uint_eq(st.warmup_remaining_ns, 2000 * MS);
    /* A driver with a 1 s budget gives up here. One that waits what it was
     * told (+5 ms, as wiascan does) starts at 3.005 s; a nanosecond before
     * 3 s would still be refused. */
    dm_clock_virtual_set(&r.clk, on + 3000 * MS - 1);
    ck_assert_int_eq(dm_engine_start(r.eng, &r.token, NULL, dm_rig_now(&r), NULL),
                     DM_ST_WARMING_UP);
    dm_clock_virtual_set(&r.clk, on + 3005 * MS);
    ck_assert_int_eq(dm_engine_start(r.eng, &r.token, NULL, dm_rig_now(&r), NULL), DM_ST_OK);
    ck_assert_int_eq(dm_engine_cancel(r.eng, &r.token, dm_rig_now(&r)), DM_OK);
    dm_rig_close(&r);
}
END_TEST

/* ---- bug 3: an event with the last band ------------------------------------------------ */

START_TEST(bug3_event_due_with_the_last_band)
{
    static rig r;
    dm_device *dev;
    uint8_t cmd[PROTO_SCAN_CMD_HDR_SIZE + 64];
    proto_scan_params p;
    proto_scan_cmd c = {PROTO_SCAN_OP_SET_PARAMS, 1, 0};
    dm_in in;
    proto_scan_band b;
    proto_scan_event e;
    unsigned bands = 0;
    uint64_t last_deadline = 0;

    rig_open(&r, "timing-event-last-band.yaml");
    ck_assert_int_eq(dm_device_create_on(r.eng, &dev), DM_OK);
    memset(&p, 0, sizeof(p));
    p.source = PROTO_SCAN_SOURCE_ADF;
    p.mode = PROTO_SCAN_MODE_GRAY8; /* wiascan --pages 3 --mode gray --dpi 75 */
    p.dpi = 75;
    p.pages = 3;
    c.length = (uint32_t)proto_scan_params_encode(&p, cmd + PROTO_SCAN_CMD_HDR_SIZE, 64);
    proto_scan_cmd_encode(&c, cmd, sizeof(cmd));
    ck_assert_int_eq(dm_device_bulk_out(dev, cmd, PROTO_SCAN_CMD_HDR_SIZE + c.length), DM_OK);
    dm_device_consume(dev, DM_EP_DATA_IN, dm_rig_now(&r));
    c.opcode = PROTO_SCAN_OP_START_JOB;
    c.tag = 2;
    c.length = 0;
    proto_scan_cmd_encode(&c, cmd, sizeof(cmd));
    /* Past the profile's lamp warm-up (1.5 s x 0.1) from power-on. */
    dm_clock_virtual_advance(&r.clk, 200 * MS);
    ck_assert_int_eq(dm_device_bulk_out(dev, cmd, PROTO_SCAN_CMD_HDR_SIZE), DM_OK);
    dm_device_consume(dev, DM_EP_DATA_IN, dm_rig_now(&r));
    /* Bands as they fall due; the event endpoint is looked at each time. */
    for (;;) {
        dm_device_peek(dev, DM_EP_DATA_IN, dm_rig_now(&r), &in);
        if (in.kind == DM_IN_WAIT) {
            dm_in ev;
            /* Until a band is due, no event is either. */
            dm_device_peek(dev, DM_EP_EVENT_IN, in.deadline_ns - 1, &ev);
            ck_assert_int_ne(ev.kind, DM_IN_DATA);
            dm_clock_virtual_set(&r.clk, in.deadline_ns);
            last_deadline = in.deadline_ns;
            continue;
        }
        ck_assert_int_eq(in.kind, DM_IN_DATA);
        ck_assert_int_ge(proto_scan_band_decode(in.data, in.len, &b), 0);
        if (b.flags & PROTO_SCAN_BAND_END_OF_JOB)
            break;
        bands++;
        if (b.page == 2 && b.band == 13) {
            /* The last band: the BUTTON event is due at the same instant. */
            dm_in ev;
            ck_assert(b.flags & PROTO_SCAN_BAND_END_OF_PAGE);
            dm_device_peek(dev, DM_EP_EVENT_IN, dm_rig_now(&r), &ev);
            ck_assert_int_eq(ev.kind, DM_IN_DATA);
            ck_assert_int_ge(proto_scan_event_decode(ev.data, ev.len, &e), 0);
            ck_assert_uint_eq(e.code, PROTO_SCAN_EVT_BUTTON);
            ck_assert_uint_eq(e.page, 2);
            ck_assert_uint_eq(e.arg, 13);
        }
        dm_device_consume(dev, DM_EP_DATA_IN, dm_rig_now(&r));
    }
    ck_assert_uint_eq(bands, 42);
    /* END_OF_JOB is due with the last band: both leave at one instant. */
    ck_assert_uint_eq(dm_rig_now(&r), last_deadline);
    dm_device_consume(dev, DM_EP_DATA_IN, dm_rig_now(&r));
    /* The job is over on the bulk pipe; the event is still there for an
     * interrupt transfer, which the emulator serves after the bulk one. */
    dm_device_peek(dev, DM_EP_EVENT_IN, dm_rig_now(&r), &in);
    ck_assert_int_eq(in.kind, DM_IN_DATA);
    ck_assert_int_ge(proto_scan_event_decode(in.data, in.len, &e), 0);
    ck_assert_uint_eq(e.code, PROTO_SCAN_EVT_BUTTON);
    dm_device_consume(dev, DM_EP_EVENT_IN, dm_rig_now(&r));
    dm_device_peek(dev, DM_EP_EVENT_IN, dm_rig_now(&r), &in);
    ck_assert_int_ne(in.kind, DM_IN_DATA);
    ck_assert_uint_eq(r.ends, 1);
    ck_assert_int_eq(r.last.result, DM_ST_OK);
    ck_assert_uint_eq(r.last.job.bands, 42);
    dm_device_free(dev);
    dm_rig_close(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("timing_bugs");
    TCase *t = tcase_create("in_flight");
    tcase_add_test(t, bug1_one_transfer_in_flight_starves);
    suite_add_tcase(s, t);
    t = tcase_create("warmup");
    tcase_add_test(t, bug2_warmup_refuses_for_exactly_3_s);
    suite_add_tcase(s, t);
    t = tcase_create("event_last_band");
    tcase_add_test(t, bug3_event_due_with_the_last_band);
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
