/* Live control of a job engine (dm/engine.h, "live control"): faults armed
 * at run time, the feeder filled by hand, the schedule rescaled. The rule
 * that keeps fronts and determinism sound: nothing here changes an item the
 * engine has already offered (eng->cur once prepared). A live fault is a
 * one-shot fault at an exact place of one job, kept apart from the
 * scenario's table; "now" is turned into the first place not yet offered.
 * The one exception is a feed during wait_for_paper_ms: the FEEDER_EMPTY
 * end it revokes is one no front can have released yet (its deadline has
 * not passed, and every caller reads the clock under the device's lock). */
#include <string.h>

#include "engine-internal.h"
#include "fixture-internal.h"

bool eng_live_pending(const dm_engine *eng, const eng_live *l)
{
    uint64_t cur = eng->stats.jobs_started;

    return l->used && !l->fired && (l->job > cur || (l->job == cur && eng->active));
}

bool eng_next_unoffered(const dm_engine *eng, uint32_t *page, uint32_t *band)
{
    uint32_t p = eng->page, b = eng->band;

    if (!eng->active)
        return false;
    if (eng->cur.ready) {
        if (eng->cur.kind != DM_ITEM_BAND)
            return false; /* the job's end is in flight */
        if (++b == eng->job.bands_per_page) {
            b = 0;
            p++;
        }
    }
    if (eng->job.pages != 0 && p >= eng->job.pages)
        return false;
    *page = p;
    *band = b;
    return true;
}

bool eng_live_spend_empty_start(dm_engine *eng)
{
    bool any = false;

    for (uint32_t i = 0; i < DM_ENGINE_MAX_LIVE; i++) {
        eng_live *l = &eng->live[i];
        if (l->used && !l->fired && l->f.kind == DM_FAULT_FEEDER_EMPTY && l->f.page == 0 &&
            l->job == eng->stats.jobs_started + 1) {
            l->fired = true;
            any = true;
        }
    }
    return any;
}

/* Kinds that act when a job starts, with no place. */
static bool kind_at_start(int k)
{
    return k == DM_FAULT_BUSY || k == DM_FAULT_WARMING_UP;
}

static int check_params(const dm_live_fault *f, char *errbuf, size_t errlen)
{
    const char *name = dm_fault_name(f->kind);
    bool timed = f->kind == DM_FAULT_DELAY || f->kind == DM_FAULT_WARMING_UP;

    if (f->kind < 0 || f->kind >= DM_FAULT_COUNT_) {
        dm_errf(errbuf, errlen, "unknown fault kind %d", f->kind);
        return DM_E_INVALID;
    }
    if (timed && f->ms == 0) {
        dm_errf(errbuf, errlen, "a %s fault needs a duration in milliseconds (ms)", name);
        return DM_E_INVALID;
    }
    if (f->ms > DM_LIM_TIME_MS_MAX) {
        dm_errf(errbuf, errlen, "ms %u is more than %u", f->ms, DM_LIM_TIME_MS_MAX);
        return DM_E_RANGE;
    }
    if (!timed && f->ms != 0) {
        dm_errf(errbuf, errlen, "only delay and warming_up faults take ms");
        return DM_E_INVALID;
    }
    if (f->count != 0 && f->kind != DM_FAULT_BUSY) {
        dm_errf(errbuf, errlen, "only busy faults take count");
        return DM_E_INVALID;
    }
    if (f->bytes != 0 && f->kind != DM_FAULT_SHORT_BAND && f->kind != DM_FAULT_CORRUPT_BAND) {
        dm_errf(errbuf, errlen, "only short_band and corrupt_band faults take bytes");
        return DM_E_INVALID;
    }
    if (f->bytes > PROTO_SCAN_MAX_BAND_DATA) {
        dm_errf(errbuf, errlen, "bytes %u is more than a band holds (%u)", f->bytes,
                PROTO_SCAN_MAX_BAND_DATA);
        return DM_E_RANGE;
    }
    if (f->no_clear && f->kind != DM_FAULT_STALL) {
        dm_errf(errbuf, errlen, "only stall faults take no_clear");
        return DM_E_INVALID;
    }
    if (f->placed && kind_at_start(f->kind)) {
        dm_errf(errbuf, errlen, "a %s fault acts at the next START and takes no page or band",
                name);
        return DM_E_INVALID;
    }
    if (f->placed && f->kind == DM_FAULT_FEEDER_EMPTY && f->band != 0) {
        dm_errf(errbuf, errlen,
                "a feeder_empty fault takes only a page (the sheet it fails to feed)");
        return DM_E_INVALID;
    }
    if (f->placed && (f->page >= DM_LIM_PAGES_MAX || f->band >= DM_LIM_BANDS_MAX)) {
        dm_errf(errbuf, errlen, "page or band out of range");
        return DM_E_RANGE;
    }
    return DM_OK;
}

/* (p1, b1) comes at or after (p2, b2). */
static bool at_or_after(uint32_t p1, uint32_t b1, uint32_t p2, uint32_t b2)
{
    return p1 > p2 || (p1 == p2 && b1 >= b2);
}

/* Slot i holds the fault that fired at the item in flight: the item names
 * it (outcome, stall) until it is consumed, so reusing the slot would
 * change what the item does after a front peeked it. */
static bool slot_in_flight(const dm_engine *eng, uint32_t i)
{
    int idx = (int)(ENG_LIVE_BASE + i);

    return eng->active && eng->cur.ready && (eng->cur.outcome == idx || eng->cur.stall == idx);
}

/* Arms a one-shot fault at (page, band) of job number job. */
static int arm(dm_engine *eng, const dm_live_fault *f, uint64_t job, uint32_t page, uint32_t band,
               char *errbuf, size_t errlen)
{
    for (uint32_t i = 0; i < DM_ENGINE_MAX_LIVE; i++) {
        eng_live *l = &eng->live[i];
        if (eng_live_pending(eng, l) || slot_in_flight(eng, i))
            continue;
        memset(l, 0, sizeof(*l));
        l->used = true;
        l->job = job;
        l->f.kind = (dm_fault_kind)f->kind;
        l->f.trig = DM_TRIG_AT;
        l->f.page = page;
        l->f.band = band;
        l->f.side_filter = DM_SIDE_ANY;
        l->f.ms_ns = (uint64_t)f->ms * 1000000u;
        l->f.clears = !f->no_clear;
        l->f.bytes = f->bytes;
        return DM_OK;
    }
    dm_errf(errbuf, errlen, "%u live faults are armed already; clear them first",
            DM_ENGINE_MAX_LIVE);
    return DM_E_RANGE;
}

int dm_engine_live_fault(dm_engine *eng, const dm_live_fault *f, uint64_t now_ns,
                         dm_live_armed *where, char *errbuf, size_t errlen)
{
    dm_live_armed w;
    uint32_t np = 0, nb = 0;
    bool running;
    int rc;

    if (eng == NULL || f == NULL)
        return DM_E_INVALID;
    rc = check_params(f, errbuf, errlen);
    if (rc < 0)
        return rc;
    memset(&w, 0, sizeof(w));
    w.kind = f->kind;
    w.when = DM_LIVE_NOW;
    running = eng_next_unoffered(eng, &np, &nb);

    if (f->kind == DM_FAULT_BUSY) {
        eng->live_busy += f->count ? f->count : 1;
        goto out_ok;
    }
    if (f->kind == DM_FAULT_WARMING_UP) {
        eng->live_warm_until = now_ns + (uint64_t)f->ms * 1000000u;
        goto out_ok;
    }
    if (f->kind == DM_FAULT_FEEDER_EMPTY && !f->placed) {
        eng->feeder_manual = true;
        eng->sheets_left = 0;
        goto out_ok;
    }
    if (f->kind == DM_FAULT_COVER_OPEN && !f->placed) {
        eng->live_cover = true;
        if (running) { /* the job ends at its next band */
            rc = arm(eng, f, eng->stats.jobs_started, np, nb, errbuf, errlen);
            if (rc < 0)
                return rc;
        }
        goto out_ok;
    }
    if (!f->placed) { /* now: the first place not offered, else the next job's first band */
        w.when = running ? DM_LIVE_CURRENT_JOB : DM_LIVE_NEXT_JOB;
        w.page = running ? np : 0;
        w.band = running ? nb : 0;
    } else if (running && at_or_after(f->page, f->band, np, nb)) {
        if (f->band >= eng->job.bands_per_page) {
            dm_errf(errbuf, errlen,
                    "band %u is past the %u bands of a page of the running job (1-based)",
                    f->band + 1, eng->job.bands_per_page);
            return DM_E_RANGE;
        }
        w.when = DM_LIVE_CURRENT_JOB;
        w.page = f->page;
        w.band = f->band;
    } else {
        w.when = DM_LIVE_NEXT_JOB;
        w.page = f->page;
        w.band = f->band;
    }
    rc = arm(eng, f, eng->stats.jobs_started + (w.when == DM_LIVE_CURRENT_JOB ? 0u : 1u), w.page,
             w.band, errbuf, errlen);
    if (rc < 0)
        return rc;
out_ok:
    if (where != NULL)
        *where = w;
    return DM_OK;
}

int dm_engine_live_get(const dm_engine *eng, uint32_t i, dm_live_armed *out)
{
    for (uint32_t k = 0; k < DM_ENGINE_MAX_LIVE; k++) {
        const eng_live *l = &eng->live[k];
        if (!eng_live_pending(eng, l))
            continue;
        if (i-- > 0)
            continue;
        out->kind = (int)l->f.kind;
        out->when = l->job == eng->stats.jobs_started ? DM_LIVE_CURRENT_JOB : DM_LIVE_NEXT_JOB;
        out->page = l->f.page;
        out->band = l->f.band;
        return DM_OK;
    }
    return DM_E_RANGE;
}

uint32_t dm_engine_live_clear(dm_engine *eng, uint64_t now_ns)
{
    uint32_t n = 0;

    (void)now_ns;
    for (uint32_t i = 0; i < DM_ENGINE_MAX_LIVE; i++) {
        if (eng_live_pending(eng, &eng->live[i]))
            n++;
        if (!eng->live[i].fired) /* a fired one may be the item in flight: kept */
            memset(&eng->live[i], 0, sizeof(eng->live[i]));
    }
    eng->live_busy = 0;
    eng->live_cover = false;
    eng->live_warm_until = 0;
    if (!eng->active)
        eng->cover_open = false;
    return n;
}

int dm_engine_live_feed(dm_engine *eng, uint32_t sheets, uint64_t now_ns)
{
    uint32_t feeders = (1u << PROTO_SCAN_SOURCE_ADF) | (1u << PROTO_SCAN_SOURCE_DUPLEX);
    eng_item *it = &eng->cur;

    if ((eng->profile->sources & feeders) == 0)
        return DM_E_STATE;
    if (!eng->feeder_manual) {
        /* What the feeder holds now: what the last job left, or before any
         * job the scenario's stack (an idle feeder shows the next job's). */
        if (!eng->active && !eng->job_valid)
            eng->sheets_left = eng->scenario->sheets;
        eng->feeder_manual = true;
    }
    if ((uint64_t)eng->sheets_left + sheets > eng->profile->feeder_capacity)
        return DM_E_RANGE;
    eng->sheets_left += sheets;
    if (eng->active && it->ready && it->paper_wait && now_ns < it->deadline && sheets > 0) {
        /* The job waited for paper: its sheet is fed from now on. */
        uint32_t page = it->page;
        uint64_t fed = eng_model_rel(eng, page, 0, true) - eng->feed_ns;
        memset(it, 0, sizeof(*it));
        eng->rel_offset = (int64_t)(now_ns - eng->job_start - eng->delay_acc) - (int64_t)fed;
    }
    return DM_OK;
}

int dm_engine_live_scale(dm_engine *eng, double scale)
{
    if (!(scale > 0.0 && scale <= 100.0))
        return DM_E_RANGE;
    eng->live_scale = scale;
    if (eng->active)
        eng->rescale_pending = true;
    return DM_OK;
}
