/* A job engine on a virtual clock for the device-model tests that drive it
 * by hand (test_dm_timing, test_dm_timing_bugs): powered on at t = 1 s,
 * counting its job_end reports. */
#ifndef SCANEMU_TEST_DM_RIG_H
#define SCANEMU_TEST_DM_RIG_H

#include <stdint.h>

#include "dm/engine.h"

typedef struct dm_rig {
    dm_clock_virtual clk;
    dm_profile *prof;
    dm_scenario *scen;
    dm_engine *eng;
    dm_job_timing last; /* the last job_end report */
    unsigned ends;      /* job_end reports so far */
    int token;          /* the test's owner token, as a front's */
} dm_rig;

/* The engine of prof and scen (the rig owns both from here on), with cfg's
 * other settings (timing, late_tolerance_ns, ...; NULL: the defaults).
 * Fails the test if the engine cannot be made. */
void dm_rig_open(dm_rig *r, dm_profile *prof, dm_scenario *scen, const dm_engine_config *cfg);
void dm_rig_close(dm_rig *r);

static inline uint64_t dm_rig_now(dm_rig *r)
{
    return dm_clock_now(&r->clk.base);
}

#endif
