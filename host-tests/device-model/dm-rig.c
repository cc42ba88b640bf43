/* The tests' engine rig (dm-rig.h). */
#include "dm-rig.h"

#include <check.h>
#include <string.h>

static void on_job_end(void *ctx, const struct dm_job_timing *jt)
{
    dm_rig *r = ctx;
    r->last = *jt;
    r->ends++;
}

void dm_rig_open(dm_rig *r, dm_profile *prof, dm_scenario *scen, const dm_engine_config *cfg)
{
    dm_engine_config c;

    memset(r, 0, sizeof(*r));
    dm_clock_virtual_init(&r->clk, 1000000000ull);
    r->prof = prof;
    r->scen = scen;
    if (cfg)
        c = *cfg;
    else
        dm_device_config_init(&c);
    c.profile = prof;
    c.scenario = scen;
    c.clock = &r->clk.base;
    c.job_end = on_job_end;
    c.job_end_ctx = r;
    ck_assert_int_eq(dm_engine_create(&c, &r->eng), DM_OK);
    ck_assert_int_eq(dm_engine_attach(r->eng, &r->token), DM_OK);
}

void dm_rig_close(dm_rig *r)
{
    dm_engine_free(r->eng);
    dm_scenario_free(r->scen);
    dm_profile_free(r->prof);
}
