/* The job engine's schedule: every item's absolute deadline (docs/protocol.md
 * section 11), counted from job start, never from the previous release. */
#include "engine-internal.h"

bool eng_is_duplex(const dm_engine *eng)
{
    return eng->job.source == PROTO_SCAN_SOURCE_DUPLEX;
}

bool eng_uses_feeder(const dm_engine *eng)
{
    return eng->job.source != PROTO_SCAN_SOURCE_FLATBED;
}

uint32_t eng_side_of(const dm_engine *eng, uint32_t page)
{
    return eng_is_duplex(eng) ? (page & 1u) : 0;
}

/* Feed, line and jitter times of the job at the current scales. */
static void set_rates(dm_engine *eng)
{
    const dm_profile *p = eng->profile;
    double scale = eng->scenario->time_scale * eng->live_scale;

    eng->feed_ns = (uint64_t)((double)p->feed_ns * scale);
    eng->line_ns = (uint64_t)((double)dm_profile_line_ns(p, eng->job.mode, eng->job.dpi) * scale);
    eng->jitter_ns = (uint64_t)((double)p->jitter_ns * scale);
}

void eng_schedule_job(dm_engine *eng, uint64_t t)
{
    const dm_profile *p = eng->profile;
    double scale = eng->scenario->time_scale;
    uint64_t warm = (uint64_t)((double)p->warmup_ns * scale);

    set_rates(eng);
    eng->warm_off = (eng->timing && eng->power_on_ns + warm > t) ? eng->power_on_ns + warm - t : 0;
    eng->delay_acc = 0;
    eng->last_deadline = 0;
    eng->rel_offset = 0;
    eng->rescale_pending = false;
}

/* Model time at which the item at (page, band) begins: its sheet's feed for
 * band 0 of a front side, else its first line; no jitter. */
static uint64_t item_begin(const dm_engine *eng, uint32_t page, uint32_t band)
{
    const proto_scan_job *j = &eng->job;
    uint64_t sheet = eng_is_duplex(eng) ? page / 2 : page;
    uint64_t period = eng->feed_ns + (uint64_t)j->height_px * eng->line_ns;
    uint64_t t = eng->warm_off + sheet * period;

    if (band == 0 && eng_side_of(eng, page) == 0)
        return t;
    return t + eng->feed_ns + (uint64_t)dm_band_first_line(j, band) * eng->line_ns;
}

void eng_rescale(dm_engine *eng)
{
    uint64_t before = item_begin(eng, eng->page, eng->band), after;

    set_rates(eng);
    after = item_begin(eng, eng->page, eng->band);
    eng->rel_offset += (int64_t)before - (int64_t)after;
    eng->rescale_pending = false;
}

/* Warm-up left, then per sheet a feed and the lines. Duplex scans both sides
 * of a sheet at once. */
uint64_t eng_model_rel(const dm_engine *eng, uint32_t page, uint32_t band, bool fed_only)
{
    const proto_scan_job *j = &eng->job;
    uint64_t sheet = eng_is_duplex(eng) ? page / 2 : page;
    uint64_t period = eng->feed_ns + (uint64_t)j->height_px * eng->line_ns;
    uint64_t t = eng->warm_off + sheet * period + eng->feed_ns;
    uint64_t lines_end;

    if (fed_only)
        return t;
    lines_end = (uint64_t)dm_band_first_line(j, band) + dm_band_lines(j, band);
    t += lines_end * eng->line_ns;
    if (eng->jitter_ns > 0)
        t += dm_hash5(j->seed, page, eng_side_of(eng, page), band, DM_RND_JITTER) %
             (eng->jitter_ns + 1);
    return t;
}

uint64_t eng_gate(const dm_engine *eng, uint64_t rel)
{
    int64_t shifted = (int64_t)rel + eng->rel_offset;
    uint64_t d =
        eng->job_start + eng->delay_acc + (eng->timing && shifted > 0 ? (uint64_t)shifted : 0);
    if (d < eng->last_deadline)
        d = eng->last_deadline;
    return d;
}
