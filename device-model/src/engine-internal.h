/* The job engine's private state, shared by engine.c (lifecycle, admission,
 * the item cursor), schedule.c (deadlines) and faults.c (fault plan). */
#ifndef SCANEMU_DM_ENGINE_INTERNAL_H
#define SCANEMU_DM_ENGINE_INTERNAL_H

#include "dm-internal.h"
#include "dm/engine.h"

#define ENG_MAX_FAULTS 64u
/* Live faults (dm_engine_live_fault) have fault indices from ENG_LIVE_BASE
 * up, so that an item's outcome or stall names either table. */
#define ENG_LIVE_BASE ENG_MAX_FAULTS

/* A fault armed at run time: one-shot, at an exact place of one job. */
typedef struct eng_live {
    bool used;
    bool fired;
    uint64_t job; /* the jobs_started count of the job it belongs to */
    dm_fault f;   /* trig DM_TRIG_AT, page and band; parameters */
} eng_live;

/* The item under the cursor: computed once when first looked at (its
 * deadline, the faults that fire there, its pixels), released by consume. */
typedef struct eng_item {
    bool ready;  /* computed for the current cursor */
    uint64_t id; /* dm_item.id: eng->item_seq when computed */
    dm_item_kind kind;
    uint32_t page, side, band;
    dm_status status;   /* DM_ITEM_JOB_END */
    uint64_t deadline;  /* absolute gate: never released before */
    int outcome;        /* fault index delivering this item, -1 none */
    int stall;          /* stall fault index, -1 none */
    uint32_t n_delays;  /* delay faults that fired here */
    bool delay_live;    /* one of them was live */
    bool stall_pending; /* a stall is owed before this item */
    bool stall_counted;
    bool event_pending;
    bool paper_wait; /* a FEEDER_EMPTY end that a feed before its deadline revokes */
    dm_event event;
    /* DM_ITEM_BAND */
    uint32_t first_line, lines;
    uint32_t byte_count; /* full band */
    uint32_t data_bytes; /* sent: byte_count, or less for a short band */
    uint32_t crc32;      /* of the clean byte_count bytes */
} eng_item;

struct dm_engine {
    const dm_alloc *alloc;
    const dm_profile *profile;
    const dm_scenario *scenario;
    dm_scenario *own_scenario;
    dm_clock *clock;
    uint64_t seed;
    int timing;
    dm_trace_fn trace;
    void *trace_ctx;

    const void *fronts[DM_ENGINE_MAX_FRONTS];
    uint32_t n_fronts;

    /* power-cycle state */
    uint64_t power_on_ns;
    uint32_t busy_left[ENG_MAX_FAULTS];
    uint32_t cover_left[ENG_MAX_FAULTS];
    bool cover_open;
    dm_status last_result;

    /* job */
    bool active;
    const void *owner;
    bool job_valid;
    proto_scan_job job;
    uint64_t job_start;
    uint64_t warm_off; /* lamp warm-up left at job start */
    uint64_t feed_ns, line_ns, jitter_ns;
    uint64_t delay_acc;
    uint64_t last_deadline;
    uint32_t sheets_left;
    uint32_t pages_done;
    uint32_t page, band; /* cursor */
    bool fired[ENG_MAX_FAULTS];
    eng_item cur;
    uint64_t item_seq; /* items computed since creation: the last dm_item.id */

    dm_device_stats stats;

    /* lateness accounting (dm/lateness.h) */
    uint64_t late_tol;
    dm_job_end_fn job_end;
    void *job_end_ctx;
    dm_lat_acc job_lat; /* the running (or last) job */
    dm_lat_acc dev_lat; /* every job since creation */
    uint64_t jobs_ended, jobs_emu_beyond;
    dm_job_timing last_end; /* what the last job_end got; DM_NOTE_JOB_ENDED carries it */

    uint8_t *buf; /* DM_ENGINE_HEADROOM + one band's pixels */
    size_t buf_size;

    /* live control (dm_engine_live_*): none of it changes an item already
     * offered, so what a front peeked is what it consumes */
    eng_live live[DM_ENGINE_MAX_LIVE];
    uint32_t live_busy;       /* STARTs still to refuse BUSY */
    bool live_cover;          /* the cover was opened: STARTs refused until cleared */
    uint64_t live_warm_until; /* STARTs answer WARMING_UP before this */
    double live_scale;        /* times the scenario's time_scale */
    bool rescale_pending;     /* apply live_scale at the next item */
    int64_t rel_offset;       /* model time shift from rescaling and paper waits */
    bool feeder_manual;       /* fed by hand: jobs no longer reload the feeder */
    dm_note_fn note;
    void *note_ctx;
};

/* ---- schedule.c: when each item is due ------------------------------------- */

bool eng_is_duplex(const dm_engine *eng);
bool eng_uses_feeder(const dm_engine *eng);
uint32_t eng_side_of(const dm_engine *eng, uint32_t page);
/* Per-job timing from the profile, the scenario's time_scale and what is
 * left of the lamp warm-up at job start t. */
void eng_schedule_job(dm_engine *eng, uint64_t t);
/* Model time of the end of band `band` of output page `page`, from job
 * start, before injected delays (fed_only: when its sheet is fed). */
uint64_t eng_model_rel(const dm_engine *eng, uint32_t page, uint32_t band, bool fed_only);
/* Absolute deadline of an item at model time rel: delays so far added,
 * never before the previous item's. */
uint64_t eng_gate(const dm_engine *eng, uint64_t rel);
/* Apply eng->live_scale from the item at the cursor on: the model time at
 * which that item begins stays where the old scale put it. */
void eng_rescale(dm_engine *eng);

/* ---- faults.c: the scenario's fault plan ----------------------------------- */

/* Scripted warm-up: the absolute time START stops answering WARMING_UP. */
uint64_t eng_warmup_until(const dm_engine *eng);
/* Scripted START refusals (busy, cover open at start), counters consumed:
 * DM_ST_OK when none applies. */
dm_status eng_start_refusal(dm_engine *eng);
/* Refill the busy/cover-open refusal counters (power-on). */
void eng_faults_power_on(dm_engine *eng);
/* A feeder job has no sheet for its first page. */
bool eng_feeder_empty_at_start(const dm_engine *eng);
/* A scripted cover_open at job start will refuse the next start. */
bool eng_cover_open_at_start(const dm_engine *eng);
/* Index of a feeder_empty fault that dries the feeder before page p, or -1
 * (a live one from ENG_LIVE_BASE up). */
int eng_feeder_empty_fault(const dm_engine *eng, uint32_t page);
/* The fault behind index idx (scenario or live). */
const dm_fault *eng_fault(const dm_engine *eng, int idx);
/* A live fault at idx fired: marked, so it fires once. */
void eng_live_fired(dm_engine *eng, int idx);
/* Match the band-level faults at (page, band, model time rel) into it:
 * delays (accumulated in eng->delay_acc), the first stall, the first other
 * fault as the outcome. One-shot triggers are marked fired. */
void eng_faults_at_band(dm_engine *eng, eng_item *it, uint32_t page, uint32_t band, uint64_t rel);
/* How a job ends and what is reported when fault `idx` is the outcome. */
dm_status eng_fault_end_status(const dm_engine *eng, int idx);
dm_event_kind eng_fault_event(const dm_engine *eng, int idx);
bool eng_fault_is(const dm_engine *eng, int idx, dm_fault_kind kind);
/* short_band / corrupt_band on the synthesized band data (bytes long,
 * first_line of the page): returns the bytes to send. */
uint32_t eng_fault_mangle(const dm_engine *eng, int idx, uint8_t *data, uint32_t bytes,
                          uint32_t first_line);
/* Name for the trace of an item released, or NULL. */
const char *eng_fault_trace_name(const dm_engine *eng, const eng_item *it);

/* live.c: a live fault armed and still to fire (in the running job or the
 * next). */
bool eng_live_pending(const dm_engine *eng, const eng_live *l);
/* Marks fired the live feeder_empty faults at page 0 of the next job (a
 * START they refused); whether there was one. */
bool eng_live_spend_empty_start(dm_engine *eng);
/* The first place (page, band) the engine has not offered yet in the
 * running job; false when none runs or it has nothing left to offer. */
bool eng_next_unoffered(const dm_engine *eng, uint32_t *page, uint32_t *band);

/* engine.c: a DM_NOTE_FAULT to the observer, at the item it (NULL: at START). */
void eng_note_fault(dm_engine *eng, int kind, bool live, const eng_item *it);

/* For fronts in this module. */
const dm_escl_quirks *dm_engine_escl_quirks(const dm_engine *eng);
uint64_t dm_engine_seed(const dm_engine *eng);

#endif
