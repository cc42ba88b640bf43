/* The job engine's fault plan: which scenario faults fire where, what a job
 * start is refused with, and how a faulted band is mangled. Protocol-neutral:
 * fronts see dm_status, dm_event and dm_item_action only. */
#include "engine-internal.h"

const dm_fault *eng_fault(const dm_engine *eng, int idx)
{
    if (idx >= (int)ENG_LIVE_BASE)
        return &eng->live[idx - (int)ENG_LIVE_BASE].f;
    return &eng->scenario->faults[idx];
}

/* A live fault that belongs to the running job. */
static bool live_in_job(const dm_engine *eng, const eng_live *l)
{
    return l->used && !l->fired && eng->active && l->job == eng->stats.jobs_started;
}

void eng_live_fired(dm_engine *eng, int idx)
{
    if (idx >= (int)ENG_LIVE_BASE)
        eng->live[idx - (int)ENG_LIVE_BASE].fired = true;
}

bool eng_fault_is(const dm_engine *eng, int idx, dm_fault_kind kind)
{
    return idx >= 0 && eng_fault(eng, idx)->kind == kind;
}

/* ---- power-on and job start -------------------------------------------------- */

uint64_t eng_warmup_until(const dm_engine *eng)
{
    uint64_t until = 0;

    for (uint32_t i = 0; i < eng->scenario->n_faults; i++) {
        const dm_fault *f = &eng->scenario->faults[i];
        if (f->kind == DM_FAULT_WARMING_UP && eng->power_on_ns + f->ms_ns > until)
            until = eng->power_on_ns + f->ms_ns;
    }
    return eng->live_warm_until > until ? eng->live_warm_until : until;
}

void eng_faults_power_on(dm_engine *eng)
{
    const dm_scenario *sc = eng->scenario;

    for (uint32_t i = 0; i < sc->n_faults && i < ENG_MAX_FAULTS; i++) {
        eng->busy_left[i] = sc->faults[i].kind == DM_FAULT_BUSY ? sc->faults[i].count : 0;
        eng->cover_left[i] = sc->faults[i].kind == DM_FAULT_COVER_OPEN ? sc->faults[i].count : 0;
    }
}

dm_status eng_start_refusal(dm_engine *eng)
{
    const dm_scenario *sc = eng->scenario;

    if (eng->live_busy > 0) {
        eng->live_busy--;
        eng->stats.faults_fired++;
        eng_note_fault(eng, DM_FAULT_BUSY, true, NULL);
        return DM_ST_BUSY;
    }
    if (eng->live_cover) {
        eng->stats.faults_fired++;
        eng->cover_open = true;
        eng_note_fault(eng, DM_FAULT_COVER_OPEN, true, NULL);
        return DM_ST_COVER_OPEN;
    }
    for (uint32_t i = 0; i < sc->n_faults && i < ENG_MAX_FAULTS; i++) {
        const dm_fault *f = &sc->faults[i];
        if (f->kind == DM_FAULT_BUSY && eng->busy_left[i] > 0) {
            eng->busy_left[i]--;
            eng->stats.faults_fired++;
            eng_note_fault(eng, DM_FAULT_BUSY, false, NULL);
            return DM_ST_BUSY;
        }
        if (f->kind == DM_FAULT_COVER_OPEN && f->trig == DM_TRIG_START &&
            (f->count == 0 || eng->cover_left[i] > 0)) {
            if (eng->cover_left[i] > 0)
                eng->cover_left[i]--;
            eng->stats.faults_fired++;
            eng->cover_open = true;
            eng_note_fault(eng, DM_FAULT_COVER_OPEN, false, NULL);
            return DM_ST_COVER_OPEN;
        }
    }
    return DM_ST_OK;
}

bool eng_cover_open_at_start(const dm_engine *eng)
{
    const dm_scenario *sc = eng->scenario;

    if (eng->live_cover)
        return true;
    for (uint32_t i = 0; i < sc->n_faults && i < ENG_MAX_FAULTS; i++) {
        const dm_fault *f = &sc->faults[i];
        if (f->kind == DM_FAULT_COVER_OPEN && f->trig == DM_TRIG_START &&
            (f->count == 0 || eng->cover_left[i] > 0))
            return true;
    }
    return false;
}

bool eng_feeder_empty_at_start(const dm_engine *eng)
{
    const dm_scenario *sc = eng->scenario;
    bool empty = eng->feeder_manual ? eng->sheets_left == 0 : sc->sheets == 0;

    for (uint32_t i = 0; i < sc->n_faults; i++)
        if (sc->faults[i].kind == DM_FAULT_FEEDER_EMPTY && sc->faults[i].page == 0)
            empty = true;
    /* A live one armed for the next job's first sheet. */
    for (uint32_t i = 0; i < DM_ENGINE_MAX_LIVE; i++) {
        const eng_live *l = &eng->live[i];
        if (l->used && !l->fired && l->f.kind == DM_FAULT_FEEDER_EMPTY && l->f.page == 0 &&
            l->job == eng->stats.jobs_started + (eng->active ? 0u : 1u))
            empty = true;
    }
    return empty;
}

int eng_feeder_empty_fault(const dm_engine *eng, uint32_t page)
{
    const dm_scenario *sc = eng->scenario;

    for (uint32_t i = 0; i < DM_ENGINE_MAX_LIVE; i++) {
        const eng_live *l = &eng->live[i];
        if (live_in_job(eng, l) && l->f.kind == DM_FAULT_FEEDER_EMPTY && l->f.page == page)
            return (int)(ENG_LIVE_BASE + i);
    }
    for (uint32_t i = 0; i < sc->n_faults; i++) {
        const dm_fault *f = &sc->faults[i];
        if (f->kind == DM_FAULT_FEEDER_EMPTY && f->page == page)
            return (int)i;
    }
    return -1;
}

/* ---- band-level faults ------------------------------------------------------- */

static bool side_ok(uint32_t filter, uint32_t side)
{
    return filter == DM_SIDE_ANY || (filter == DM_SIDE_FRONT && side == 0) ||
           (filter == DM_SIDE_BACK && side == 1);
}

static uint32_t band_of_fault(const dm_engine *eng, const dm_fault *f)
{
    const proto_scan_job *j = &eng->job;

    if (f->has_line)
        return (uint32_t)(f->line / j->band_lines);
    if (f->has_byte)
        return (uint32_t)(f->byte / j->bytes_per_line / j->band_lines);
    return f->band;
}

static bool fault_matches(const dm_engine *eng, uint32_t idx, uint32_t page, uint32_t band,
                          uint64_t rel)
{
    const dm_fault *f = &eng->scenario->faults[idx];
    uint32_t side = eng_side_of(eng, page);
    uint64_t fseed = eng->scenario->has_seed ? eng->scenario->seed : eng->job.seed;

    switch (f->trig) {
    case DM_TRIG_AT:
        return !eng->fired[idx] && f->page == page && side_ok(f->side_filter, side) &&
               band_of_fault(eng, f) == band;
    case DM_TRIG_AFTER:
        return !eng->fired[idx] && rel >= f->after_ns;
    case DM_TRIG_EVERY:
        return (page + 1) % f->every == 0 && f->band == band && side_ok(f->side_filter, side);
    case DM_TRIG_RANDOM:
        return dm_unit(dm_hash5(fseed, page, side, band, DM_RND_FAULT + 16u * idx)) <
               f->probability;
    case DM_TRIG_START:
    default:
        return false;
    }
}

/* Faults that act at START or on the feeder, not at a band. */
static bool kind_at_band(dm_fault_kind k)
{
    return k != DM_FAULT_WARMING_UP && k != DM_FAULT_BUSY && k != DM_FAULT_FEEDER_EMPTY;
}

static void take_fault(dm_engine *eng, eng_item *it, const dm_fault *f, int idx)
{
    if (f->kind == DM_FAULT_DELAY) {
        eng->delay_acc += f->ms_ns;
        it->n_delays++;
        it->delay_live = it->delay_live || idx >= (int)ENG_LIVE_BASE;
    } else if (f->kind == DM_FAULT_STALL) {
        if (it->stall < 0) {
            it->stall = idx;
            it->stall_pending = true;
        }
    } else if (it->outcome < 0) {
        it->outcome = idx;
    }
}

/* Live faults first: one armed by hand at the same band as a scripted one
 * takes its place (the scripted one is spent as if it had fired). */
void eng_faults_at_band(dm_engine *eng, eng_item *it, uint32_t page, uint32_t band, uint64_t rel)
{
    const dm_scenario *sc = eng->scenario;

    for (uint32_t i = 0; i < DM_ENGINE_MAX_LIVE; i++) {
        eng_live *l = &eng->live[i];
        if (!live_in_job(eng, l) || !kind_at_band(l->f.kind) || l->f.page != page ||
            l->f.band != band)
            continue;
        l->fired = true;
        take_fault(eng, it, &l->f, (int)(ENG_LIVE_BASE + i));
    }
    for (uint32_t i = 0; i < sc->n_faults && i < ENG_MAX_FAULTS; i++) {
        const dm_fault *f = &sc->faults[i];
        if (!kind_at_band(f->kind) || !fault_matches(eng, i, page, band, rel + eng->delay_acc))
            continue;
        if (f->trig == DM_TRIG_AT || f->trig == DM_TRIG_AFTER)
            eng->fired[i] = true;
        take_fault(eng, it, f, (int)i);
    }
}

dm_status eng_fault_end_status(const dm_engine *eng, int idx)
{
    switch (eng_fault(eng, idx)->kind) {
    case DM_FAULT_PAPER_JAM:
        return DM_ST_PAPER_JAM;
    case DM_FAULT_MULTI_FEED:
        return DM_ST_MULTI_FEED;
    case DM_FAULT_COVER_OPEN:
        return DM_ST_COVER_OPEN;
    case DM_FAULT_DEVICE_ERROR:
        return DM_ST_DEVICE_ERROR;
    default:
        return DM_ST_OK; /* the job goes on */
    }
}

dm_event_kind eng_fault_event(const dm_engine *eng, int idx)
{
    switch (eng_fault(eng, idx)->kind) {
    case DM_FAULT_PAPER_JAM:
        return DM_EV_PAPER_JAM;
    case DM_FAULT_MULTI_FEED:
        return DM_EV_MULTI_FEED;
    case DM_FAULT_COVER_OPEN:
        return DM_EV_COVER_OPEN;
    case DM_FAULT_FEEDER_EMPTY:
        return DM_EV_FEEDER_EMPTY;
    case DM_FAULT_BUTTON:
        return DM_EV_BUTTON;
    default:
        return DM_EV_NONE;
    }
}

uint32_t eng_fault_mangle(const dm_engine *eng, int idx, uint8_t *data, uint32_t bytes,
                          uint32_t first_line)
{
    const dm_fault *f = eng_fault(eng, idx);
    uint64_t off =
        f->has_byte ? (f->byte - (uint64_t)first_line * eng->job.bytes_per_line) : bytes / 2;

    if (off >= bytes)
        off = bytes - 1;
    if (f->kind == DM_FAULT_SHORT_BAND) {
        if (f->has_byte)
            return (uint32_t)off;
        if (f->bytes > 0)
            return f->bytes >= bytes ? 0 : bytes - f->bytes;
        return bytes / 2;
    }
    if (f->kind == DM_FAULT_CORRUPT_BAND) {
        uint32_t n = f->bytes ? f->bytes : 1;
        for (uint64_t k = off; k < bytes && k < off + n; k++)
            data[k] ^= 0xFF;
    }
    return bytes;
}

const char *eng_fault_trace_name(const dm_engine *eng, const eng_item *it)
{
    if (it->outcome >= 0)
        return dm_fault_name(eng_fault(eng, it->outcome)->kind);
    if (it->kind == DM_ITEM_JOB_END && it->status == DM_ST_FEEDER_EMPTY)
        return "feeder_empty";
    if (it->n_delays > 0)
        return "delay";
    return NULL;
}
