/* The job engine: lifecycle, fronts, admission, the item cursor and the
 * status snapshot. Deadlines come from schedule.c, faults from faults.c,
 * pixels from synth.c; no protocol is spoken here.
 *
 * The job is a cursor (page, band). The item under it (a band, or the job's
 * end) is computed once when first looked at, with its absolute deadline and
 * the faults that fire there, and released by dm_engine_consume. */
#include <string.h>

#include "engine-internal.h"

const char *dm_status_name(dm_status st)
{
    switch (st) {
#define DM_STATUS_NAME_(name, str)                                                                 \
    case DM_ST_##name:                                                                             \
        return str;
        DM_STATUS_MAP(DM_STATUS_NAME_)
#undef DM_STATUS_NAME_
    default:
        return "?";
    }
}

uint64_t dm_engine_now(const dm_engine *eng)
{
    return dm_clock_now(eng->clock);
}

const dm_escl_quirks *dm_engine_escl_quirks(const dm_engine *eng)
{
    return &eng->scenario->escl;
}

uint64_t dm_engine_seed(const dm_engine *eng)
{
    return eng->seed;
}

const dm_profile *dm_engine_profile(const dm_engine *eng)
{
    return eng->profile;
}

static bool attached(const dm_engine *eng, const void *front)
{
    for (uint32_t i = 0; i < eng->n_fronts; i++)
        if (eng->fronts[i] == front)
            return true;
    return false;
}

static bool owns_job(const dm_engine *eng, const void *front)
{
    return eng->active && eng->owner == front;
}

/* ---- trace ---------------------------------------------------------------------- */

static void emit_trace(dm_engine *eng, const eng_item *it, uint64_t release, uint32_t bytes,
                       const char *fault, uint64_t carrier)
{
    dm_trace_rec rec;

    if (eng->trace == NULL)
        return;
    rec.page = it->page;
    rec.side = it->side;
    rec.band = it->band;
    rec.job_start_ns = eng->job_start;
    rec.deadline_ns = it->deadline;
    rec.release_ns = release;
    rec.bytes = bytes;
    rec.fault = fault;
    rec.carrier_ns = carrier;
    eng->trace(eng->trace_ctx, &rec);
}

/* ---- timing accounting ---------------------------------------------------------- */

/* The job ended (result) at end_ns: its report, kept for the job-ended
 * note that follows, to the job_end callback. */
static void job_ended(dm_engine *eng, dm_status result, uint64_t end_ns)
{
    dm_job_timing *jt = &eng->last_end;

    eng->jobs_ended++;
    if (eng->job_lat.beyond_emu > 0)
        eng->jobs_emu_beyond++;
    memset(jt, 0, sizeof(*jt));
    jt->front = eng->owner;
    jt->result = result;
    jt->timing = eng->timing != 0;
    jt->job_start_ns = eng->job_start;
    jt->end_ns = end_ns;
    jt->pages_done = eng->pages_done;
    dm_lat_acc_summary(&eng->job_lat, eng->late_tol, &jt->job);
    dm_lat_acc_summary(&eng->dev_lat, eng->late_tol, &jt->device);
    jt->device_jobs = eng->jobs_ended;
    jt->device_jobs_emu_beyond = eng->jobs_emu_beyond;
    if (eng->job_end != NULL)
        eng->job_end(eng->job_end_ctx, jt);
}

void dm_engine_timing_get(const dm_engine *eng, dm_lat_summary *dev, uint64_t *jobs,
                          uint64_t *jobs_emu_beyond)
{
    if (dev != NULL)
        dm_lat_acc_summary(&eng->dev_lat, eng->late_tol, dev);
    if (jobs != NULL)
        *jobs = eng->jobs_ended;
    if (jobs_emu_beyond != NULL)
        *jobs_emu_beyond = eng->jobs_emu_beyond;
}

uint64_t dm_engine_late_tolerance(const dm_engine *eng)
{
    return eng->late_tol;
}

/* ---- notes ---------------------------------------------------------------------------- */

void dm_engine_set_observer(dm_engine *eng, dm_note_fn fn, void *ctx)
{
    eng->note = fn;
    eng->note_ctx = ctx;
}

static void note_send(dm_engine *eng, dm_note *n)
{
    if (eng->note == NULL)
        return;
    n->job_no = eng->stats.jobs_started;
    n->job_start_ns = eng->job_start;
    eng->note(eng->note_ctx, n);
}

void eng_note_fault(dm_engine *eng, int kind, bool live, const eng_item *it)
{
    dm_note n;

    memset(&n, 0, sizeof(n));
    n.kind = DM_NOTE_FAULT;
    n.fault = dm_fault_name(kind);
    n.live = live;
    if (it != NULL) {
        n.at_band = true;
        n.page = it->page;
        n.side = it->side;
        n.band = it->band;
        n.deadline_ns = it->deadline;
    }
    note_send(eng, &n);
}

static void note_item(dm_engine *eng, dm_note_kind kind, const eng_item *it, uint64_t release,
                      uint32_t bytes)
{
    dm_note n;

    memset(&n, 0, sizeof(n));
    n.kind = kind;
    n.page = it->page;
    n.side = it->side;
    n.band = it->band;
    n.deadline_ns = it->deadline;
    n.release_ns = release;
    n.bytes = bytes;
    n.status = it->status;
    n.pages_done = eng->pages_done;
    note_send(eng, &n);
}

static void note_job_end(dm_engine *eng, dm_status st, uint64_t at)
{
    dm_note n;

    memset(&n, 0, sizeof(n));
    n.kind = DM_NOTE_JOB_ENDED;
    n.status = st;
    n.release_ns = at;
    n.page = eng->page;
    n.band = eng->band;
    n.pages_done = eng->pages_done;
    n.timing = &eng->last_end;
    note_send(eng, &n);
}

/* ---- the item under the cursor ------------------------------------------------------ */

static void set_event(eng_item *it, dm_event_kind kind, uint32_t page, uint32_t arg)
{
    it->event.kind = kind;
    it->event.page = page;
    it->event.arg = arg;
    it->event_pending = true;
}

static void make_end(eng_item *it, dm_status status)
{
    it->kind = DM_ITEM_JOB_END;
    it->status = status;
    it->data_bytes = 0;
}

static void make_band(dm_engine *eng, eng_item *it)
{
    const proto_scan_job *j = &eng->job;
    uint32_t b = it->band;
    uint32_t bytes = (uint32_t)dm_band_bytes(j, b);
    uint8_t *data = eng->buf + DM_ENGINE_HEADROOM;

    it->kind = DM_ITEM_BAND;
    it->first_line = dm_band_first_line(j, b);
    it->lines = dm_band_lines(j, b);
    it->byte_count = bytes;
    dm_synth_band(j, it->page, it->side, b, data);
    it->crc32 = proto_crc32(0, data, bytes);
    it->data_bytes = bytes;
    if (it->outcome >= 0)
        it->data_bytes = eng_fault_mangle(eng, it->outcome, data, bytes, it->first_line);
}

static void prepare(dm_engine *eng)
{
    eng_item *it = &eng->cur;
    const proto_scan_job *j = &eng->job;
    uint32_t p = eng->page, b = eng->band;
    uint64_t rel;

    if (it->ready)
        return;
    if (eng->rescale_pending)
        eng_rescale(eng);
    memset(it, 0, sizeof(*it));
    it->ready = true;
    it->id = ++eng->item_seq;
    it->page = p;
    it->side = eng_side_of(eng, p);
    it->band = b;
    it->outcome = -1;
    it->stall = -1;

    if (b == 0) {
        /* Start of a page: done, or a sheet must be fed. */
        if (j->pages != 0 && p >= j->pages) {
            it->deadline = eng_gate(eng, eng_model_rel(eng, p, 0, true) - eng->feed_ns);
            make_end(it, DM_ST_OK);
            return;
        }
        if (eng_uses_feeder(eng) && it->side == 0) {
            bool dry = eng->sheets_left == 0;
            if (!dry) {
                it->outcome = eng_feeder_empty_fault(eng, p);
                dry = it->outcome >= 0;
                eng_live_fired(eng, it->outcome);
            }
            if (dry) {
                it->deadline = eng_gate(eng, eng_model_rel(eng, p, 0, true));
                if (it->outcome < 0 && eng->scenario->paper_wait_ns > 0) {
                    /* wait_for_paper_ms: a feed before the deadline revokes the end. */
                    it->paper_wait = true;
                    it->deadline += eng->scenario->paper_wait_ns;
                }
                make_end(it, DM_ST_FEEDER_EMPTY);
                set_event(it, DM_EV_FEEDER_EMPTY, p, 0);
                return;
            }
        }
    }

    rel = eng_model_rel(eng, p, b, false);
    eng_faults_at_band(eng, it, p, b, rel);
    it->deadline = eng_gate(eng, rel);

    if (it->outcome >= 0) {
        dm_status st = eng_fault_end_status(eng, it->outcome);
        dm_event_kind ev = eng_fault_event(eng, it->outcome);
        if (ev != DM_EV_NONE)
            set_event(it, ev, p, b);
        if (st != DM_ST_OK) {
            make_end(it, st);
            return;
        }
    }
    make_band(eng, it);
}

static bool item_withheld(const dm_engine *eng, const eng_item *it)
{
    return eng_fault_is(eng, it->outcome, DM_FAULT_BAND_NEVER_COMES);
}

static bool item_unplugs(const dm_engine *eng, const eng_item *it)
{
    return eng_fault_is(eng, it->outcome, DM_FAULT_DISCONNECT);
}

/* What releasing the current item does, time aside. */
static dm_item_action item_action(const dm_engine *eng, const eng_item *it)
{
    if (item_withheld(eng, it))
        return DM_ACT_WITHHOLD;
    if (item_unplugs(eng, it))
        return DM_ACT_DISCONNECT;
    if (it->stall_pending)
        return DM_ACT_STALL;
    return DM_ACT_DELIVER;
}

static void describe(dm_engine *eng, const eng_item *it, dm_item *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = it->kind;
    out->action = item_action(eng, it);
    out->id = it->id;
    out->deadline_ns = it->deadline;
    out->page = it->page;
    out->side = it->side;
    out->band = it->band;
    out->status = it->status;
    out->event_pending = it->event_pending;
    out->event = it->event;
    if (it->kind == DM_ITEM_BAND) {
        out->first_line = it->first_line;
        out->lines = it->lines;
        out->end_of_page = it->band + 1 == eng->job.bands_per_page;
        out->headroom = eng->buf;
        out->pixels = eng->buf + DM_ENGINE_HEADROOM;
        out->len = it->data_bytes;
        out->byte_count = it->byte_count;
        out->crc32 = it->crc32;
    }
}

/* Stop the job; a band withheld forever is traced as withheld until now. */
static void job_cancel(dm_engine *eng, uint64_t now_ns)
{
    if (!eng->active)
        return;
    if (eng->cur.ready && item_withheld(eng, &eng->cur) && now_ns >= eng->cur.deadline) {
        eng->stats.faults_fired++;
        emit_trace(eng, &eng->cur, now_ns, 0, "band_never_comes", UINT64_MAX);
        eng_note_fault(eng, DM_FAULT_BAND_NEVER_COMES, eng->cur.outcome >= (int)ENG_LIVE_BASE,
                       &eng->cur);
    }
    job_ended(eng, DM_ST_CANCELED, now_ns);
    eng->active = false;
    eng->owner = NULL;
    eng->last_result = DM_ST_CANCELED;
    memset(&eng->cur, 0, sizeof(eng->cur));
    note_job_end(eng, DM_ST_CANCELED, now_ns);
}

static void advance(dm_engine *eng, uint64_t release_ns)
{
    const eng_item *it = &eng->cur;

    if (it->kind == DM_ITEM_JOB_END) {
        job_ended(eng, it->status, release_ns);
        eng->active = false;
        eng->owner = NULL;
        eng->last_result = it->status;
        if (it->status == DM_ST_COVER_OPEN)
            eng->cover_open = true;
    } else {
        if (it->band == 0 && it->side == 0 && eng_uses_feeder(eng) && eng->sheets_left > 0)
            eng->sheets_left--;
        if (it->band + 1 < eng->job.bands_per_page) {
            eng->band++;
        } else {
            eng->band = 0;
            eng->page++;
            eng->pages_done++;
        }
    }
    eng->last_deadline = it->deadline;
    memset(&eng->cur, 0, sizeof(eng->cur));
}

void dm_engine_peek(dm_engine *eng, const void *front, uint64_t now_ns, dm_item *out)
{
    if (!owns_job(eng, front)) {
        memset(out, 0, sizeof(*out));
        return;
    }
    prepare(eng);
    describe(eng, &eng->cur, out);
    out->event_due = now_ns >= eng->cur.deadline;
    if (!out->event_due)
        out->action = DM_ACT_WAIT;
}

int dm_engine_consume(dm_engine *eng, const void *front, uint64_t release_ns, dm_item *done)
{
    return dm_engine_consume_carried(eng, front, release_ns, UINT64_MAX, done);
}

int dm_engine_consume_carried(dm_engine *eng, const void *front, uint64_t release_ns,
                              uint64_t carrier_ns, dm_item *done)
{
    eng_item *it = &eng->cur;
    eng_item rel;
    dm_item d;

    if (done == NULL)
        done = &d;
    if (!owns_job(eng, front)) {
        memset(done, 0, sizeof(*done));
        return DM_E_STATE;
    }
    prepare(eng);
    describe(eng, it, done);
    done->event_due = true;
    switch (done->action) {
    case DM_ACT_WITHHOLD:
        return DM_OK;
    case DM_ACT_DISCONNECT:
        eng->stats.faults_fired++;
        emit_trace(eng, it, release_ns, 0, "disconnect", carrier_ns);
        job_ended(eng, DM_ST_DISCONNECTED, release_ns);
        eng_note_fault(eng, DM_FAULT_DISCONNECT, it->outcome >= (int)ENG_LIVE_BASE, it);
        eng->active = false;
        eng->owner = NULL;
        eng->last_result = DM_ST_DISCONNECTED;
        memset(it, 0, sizeof(*it));
        note_job_end(eng, DM_ST_DISCONNECTED, release_ns);
        return DM_OK;
    case DM_ACT_STALL:
        it->stall_pending = false;
        if (!it->stall_counted) {
            it->stall_counted = true;
            eng->stats.faults_fired++;
            eng_note_fault(eng, DM_FAULT_STALL, it->stall >= (int)ENG_LIVE_BASE, it);
        }
        emit_trace(eng, it, release_ns, 0, "stall", carrier_ns);
        return DM_OK;
    default:
        break;
    }
    /* Delivered. */
    eng->stats.faults_fired += it->n_delays + (it->outcome >= 0 ? 1u : 0u);
    if (it->kind == DM_ITEM_BAND) {
        eng->stats.bands_released++;
        eng->stats.bytes_released += it->data_bytes;
        dm_lat_acc_band(&eng->job_lat, it->deadline, release_ns, carrier_ns, eng->late_tol);
        dm_lat_acc_band(&eng->dev_lat, it->deadline, release_ns, carrier_ns, eng->late_tol);
    }
    if (release_ns > it->deadline) {
        eng->stats.late_bands++;
        if (release_ns - it->deadline > eng->stats.max_late_ns)
            eng->stats.max_late_ns = release_ns - it->deadline;
    }
    emit_trace(eng, it, release_ns, it->data_bytes, eng_fault_trace_name(eng, it), carrier_ns);
    rel = *it;
    if (rel.n_delays > 0)
        eng_note_fault(eng, DM_FAULT_DELAY, rel.delay_live, &rel);
    if (rel.outcome >= 0)
        eng_note_fault(eng, (int)eng_fault(eng, rel.outcome)->kind,
                       rel.outcome >= (int)ENG_LIVE_BASE, &rel);
    if (rel.kind == DM_ITEM_BAND && rel.band == 0)
        note_item(eng, DM_NOTE_PAGE_STARTED, &rel, release_ns, 0);
    if (rel.kind == DM_ITEM_BAND)
        note_item(eng, DM_NOTE_BAND, &rel, release_ns, rel.data_bytes);
    advance(eng, release_ns);
    if (rel.kind == DM_ITEM_JOB_END)
        note_job_end(eng, rel.status, release_ns);
    return DM_OK;
}

void dm_engine_event_taken(dm_engine *eng, const void *front)
{
    if (owns_job(eng, front) && eng->cur.ready)
        eng->cur.event_pending = false;
}

void dm_engine_resume(dm_engine *eng, const void *front)
{
    eng_item *it = &eng->cur;

    if (owns_job(eng, front) && it->ready && it->stall >= 0 && !eng_fault(eng, it->stall)->clears)
        it->stall_pending = true;
}

/* ---- jobs ------------------------------------------------------------------------- */

int dm_engine_resolve(const dm_engine *eng, const proto_scan_params *params, proto_scan_job *out)
{
    return dm_job_resolve(eng->profile, params, eng->seed, out, NULL, 0);
}

dm_status dm_engine_start(dm_engine *eng, const void *front, const proto_scan_params *params,
                          uint64_t now_ns, proto_scan_job *job)
{
    proto_scan_params defaults;
    proto_scan_job j;
    dm_status st;

    if (front == NULL || !attached(eng, front))
        return DM_ST_INVALID;
    if (eng->active)
        return DM_ST_BUSY;
    if (now_ns < eng_warmup_until(eng))
        return DM_ST_WARMING_UP;
    st = eng_start_refusal(eng);
    if (st != DM_ST_OK)
        return st;
    if (params == NULL) {
        memset(&defaults, 0, sizeof(defaults));
        defaults.source = (uint8_t)eng->profile->def_source;
        defaults.mode = (uint8_t)eng->profile->def_mode;
        defaults.dpi = (uint16_t)eng->profile->def_dpi;
        params = &defaults;
    }
    if (dm_engine_resolve(eng, params, &j) < 0)
        return DM_ST_INVALID;
    if (j.source != PROTO_SCAN_SOURCE_FLATBED && eng_feeder_empty_at_start(eng)) {
        if (eng_live_spend_empty_start(eng)) /* a live feeder_empty at page 1: spent */
            eng_note_fault(eng, DM_FAULT_FEEDER_EMPTY, true, NULL);
        return DM_ST_FEEDER_EMPTY;
    }

    /* Accepted. */
    eng->stats.jobs_started++;
    eng->active = true;
    eng->owner = front;
    eng->last_result = DM_ST_OK;
    eng->cover_open = false;
    eng->job = j;
    eng->job_valid = true;
    eng->job_start = now_ns;
    eng_schedule_job(eng, now_ns);
    if (!eng->feeder_manual)
        eng->sheets_left = eng->scenario->sheets;
    eng->pages_done = 0;
    eng->page = 0;
    eng->band = 0;
    dm_lat_acc_clear(&eng->job_lat);
    memset(eng->fired, 0, sizeof(eng->fired));
    memset(&eng->cur, 0, sizeof(eng->cur));
    /* Live faults of earlier jobs (fired, or never reached) are spent. */
    for (uint32_t i = 0; i < DM_ENGINE_MAX_LIVE; i++)
        if (eng->live[i].used && (eng->live[i].fired || eng->live[i].job < eng->stats.jobs_started))
            memset(&eng->live[i], 0, sizeof(eng->live[i]));
    if (job != NULL)
        *job = j;
    if (eng->note != NULL) {
        dm_note n;
        memset(&n, 0, sizeof(n));
        n.kind = DM_NOTE_JOB_STARTED;
        n.release_ns = now_ns;
        n.job = &eng->job;
        note_send(eng, &n);
    }
    return DM_ST_OK;
}

int dm_engine_cancel(dm_engine *eng, const void *front, uint64_t now_ns)
{
    if (!owns_job(eng, front))
        return DM_E_STATE;
    job_cancel(eng, now_ns);
    return DM_OK;
}

void dm_engine_power_cycle(dm_engine *eng, uint64_t now_ns)
{
    job_cancel(eng, now_ns);
    eng->power_on_ns = now_ns;
    eng->cover_open = false;
    eng->last_result = DM_ST_OK;
    eng->pages_done = 0;
    eng_faults_power_on(eng);
}

/* ---- status ------------------------------------------------------------------------- */

static dm_adf_state adf_state(const dm_engine *eng)
{
    uint32_t feeders = (1u << PROTO_SCAN_SOURCE_ADF) | (1u << PROTO_SCAN_SOURCE_DUPLEX);

    if ((eng->profile->sources & feeders) == 0)
        return DM_ADF_NONE;
    if (eng->cover_open || (!eng->active && eng_cover_open_at_start(eng)))
        return DM_ADF_DOOR_OPEN;
    if (eng->active)
        return eng->sheets_left > 0 ? DM_ADF_LOADED : DM_ADF_EMPTY;
    switch (eng->last_result) {
    case DM_ST_PAPER_JAM:
        return DM_ADF_JAMMED;
    case DM_ST_MULTI_FEED:
        return DM_ADF_MULTIPICK;
    case DM_ST_FEEDER_EMPTY:
        return DM_ADF_EMPTY;
    default:
        return eng_feeder_empty_at_start(eng) ? DM_ADF_EMPTY : DM_ADF_LOADED;
    }
}

void dm_engine_status_get(const dm_engine *eng, uint64_t now_ns, dm_engine_status *out)
{
    uint64_t until = eng_warmup_until(eng);

    memset(out, 0, sizeof(*out));
    if (eng->active)
        out->state = DM_ENGINE_PROCESSING;
    else if (now_ns < until)
        out->state = DM_ENGINE_WARMING_UP;
    out->owner = eng->active ? eng->owner : NULL;
    out->n_fronts = eng->n_fronts;
    out->warmup_remaining_ns = now_ns < until ? until - now_ns : 0;
    out->sheets = eng->active || eng->feeder_manual ? eng->sheets_left : eng->scenario->sheets;
    out->adf = adf_state(eng);
    out->cover_open = eng->cover_open;
    out->job_valid = eng->job_valid;
    out->job = eng->job;
    out->page = eng->page;
    out->band = eng->band;
    out->pages_done = eng->pages_done;
    out->last_result = eng->last_result;
    out->stats = eng->stats;
    out->time_scale = eng->live_scale;
    out->feeder_manual = eng->feeder_manual;
    out->live_busy = eng->live_busy;
    out->live_cover_open = eng->live_cover;
    out->live_warmup_ns = eng->live_warm_until > now_ns ? eng->live_warm_until - now_ns : 0;
    out->bands_per_page = eng->job_valid ? eng->job.bands_per_page : 0;
    for (uint32_t i = 0; i < DM_ENGINE_MAX_LIVE; i++)
        if (eng_live_pending(eng, &eng->live[i]))
            out->live_armed++;
}

void dm_engine_get_stats(const dm_engine *eng, dm_device_stats *out)
{
    *out = eng->stats;
}

int dm_engine_job_check(const dm_engine *eng, char *errbuf, size_t errlen)
{
    if (eng == NULL)
        return DM_E_INVALID;
    if (eng->stats.jobs_started == 0) {
        dm_errf(errbuf, errlen, "no job was started yet");
        return DM_E_STATE;
    }
    return dm_scenario_check_profile_job(eng->scenario, eng->profile, &eng->job, errbuf, errlen);
}

/* ---- fronts ------------------------------------------------------------------------- */

int dm_engine_attach(dm_engine *eng, const void *front)
{
    if (eng == NULL || front == NULL || attached(eng, front))
        return DM_E_INVALID;
    if (eng->n_fronts == DM_ENGINE_MAX_FRONTS)
        return DM_E_RANGE;
    eng->fronts[eng->n_fronts++] = front;
    return DM_OK;
}

void dm_engine_detach(dm_engine *eng, const void *front, uint64_t now_ns)
{
    if (eng == NULL)
        return;
    if (owns_job(eng, front))
        job_cancel(eng, now_ns);
    for (uint32_t i = 0; i < eng->n_fronts; i++) {
        if (eng->fronts[i] != front)
            continue;
        eng->fronts[i] = eng->fronts[--eng->n_fronts];
        eng->fronts[eng->n_fronts] = NULL;
        break;
    }
}

/* ---- construction ------------------------------------------------------------------- */

int dm_engine_create_a(const dm_alloc *a, const dm_engine_config *cfg, dm_engine **out)
{
    dm_engine *eng;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (cfg == NULL || cfg->profile == NULL || cfg->clock == NULL || out == NULL)
        return DM_E_INVALID;
    eng = dm_malloc(a, sizeof(*eng));
    if (eng == NULL)
        return DM_E_NOMEM;
    eng->alloc = a;
    eng->profile = cfg->profile;
    eng->clock = cfg->clock;
    eng->seed = cfg->seed;
    eng->timing = cfg->timing;
    eng->trace = cfg->trace;
    eng->trace_ctx = cfg->trace_ctx;
    eng->late_tol = cfg->late_tolerance_ns;
    eng->job_end = cfg->job_end;
    eng->job_end_ctx = cfg->job_end_ctx;
    if (cfg->scenario != NULL) {
        eng->scenario = cfg->scenario;
    } else {
        rc = dm_scenario_load_mem_a(a, "<built-in clean.yaml>", dm_builtin_scenario_yaml,
                                    dm_builtin_scenario_len, &eng->own_scenario, NULL, 0);
        if (rc < 0)
            goto out_free_eng;
        eng->scenario = eng->own_scenario;
    }
    if (eng->scenario->n_faults > ENG_MAX_FAULTS ||
        dm_scenario_check(eng->scenario, eng->profile, NULL, 0) < 0) {
        rc = DM_E_RANGE;
        goto out_free_scenario;
    }
    eng->buf_size = DM_ENGINE_HEADROOM + (size_t)cfg->profile->max_in_transfer;
    eng->buf = dm_malloc(a, eng->buf_size);
    if (eng->buf == NULL) {
        rc = DM_E_NOMEM;
        goto out_free_scenario;
    }
    eng->last_result = DM_ST_OK;
    eng->live_scale = 1.0;
    dm_engine_power_cycle(eng, dm_engine_now(eng));
    *out = eng;
    return DM_OK;

out_free_scenario:
    dm_scenario_free(eng->own_scenario);
out_free_eng:
    dm_free(a, eng);
    return rc;
}

int dm_engine_create(const dm_engine_config *cfg, dm_engine **out)
{
    return dm_engine_create_a(NULL, cfg, out);
}

void dm_engine_free(dm_engine *eng)
{
    if (eng == NULL)
        return;
    if (eng->active)
        job_cancel(eng, dm_engine_now(eng));
    dm_scenario_free(eng->own_scenario);
    dm_free(eng->alloc, eng->buf);
    dm_free(eng->alloc, eng);
}
