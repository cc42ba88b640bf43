/* device-model: the job engine, the protocol-neutral half of a virtual scanner.
 *
 * One engine is one scanner: power-cycle state, the feeder and its sheets, the
 * running job (geometry and cursor), every item's absolute deadline, the
 * scenario's faults, the seeded page synthesis, the statistics and the trace.
 * Fronts translate it into a protocol: the native scanemu protocol
 * (dm_device, dm.h) and eSCL. A front holds no timing, fault or pixel logic;
 * it asks the engine what comes next and when, and tells it when it was
 * released.
 *
 * Fronts. A front attaches with its own address as the owner token
 * (dm_engine_attach). A job belongs to the front that started it: only that
 * front sees its items (dm_engine_peek) and can consume or cancel them; any
 * front starting a job while one runs is answered DM_ST_BUSY. The status
 * snapshot (dm_engine_status) is the same for every front.
 *
 * Threads: none. An engine and every front on it are driven from one thread
 * (the emulator's worker of that device); nothing here locks.
 *
 * Time: every call that depends on time takes it (now_ns, release_ns) on the
 * engine's clock; dm_engine_now() reads that clock. On a virtual clock
 * nothing ever sleeps.
 *
 * Determinism: for the same profile, scenario and seed, every item's pixels,
 * CRC and deadline (relative to job start) are identical whatever the front.
 * Live control (dm_engine_live_*, below) adds to that at run time but never
 * changes an item the engine has already offered (peeked): what a front
 * peeked is what it consumes, and scripted faults fire where they would.
 *
 * Items are computed when first peeked, not when due: a band peeked before
 * its deadline (DM_ACT_WAIT) already has its pixels, len and crc32, with
 * any short_band/corrupt_band applied, and its hidden action (what peek
 * says once it is due). A front may work on them ahead (the eSCL front
 * encodes them) as long as it checks at the deadline that dm_item.id is
 * still the one it worked on.
 */
#ifndef SCANEMU_DM_ENGINE_H
#define SCANEMU_DM_ENGINE_H

#include <stdbool.h>

#include "dm/dm.h"
#include "dm/lateness.h"

/* The engine is created from the same fields as a native device. */
typedef struct dm_device_config dm_engine_config;

/* Neutral results: of starting a job, and of how a job ended. The native
 * front maps them to PROTO_SCAN_ST_*, the eSCL front to HTTP statuses and
 * JobState/JobStateReasons. */
#define DM_STATUS_MAP(X)                                                                           \
    X(OK, "ok")                                                                                    \
    X(BUSY, "busy")                                                                                \
    X(WARMING_UP, "warming_up")                                                                    \
    X(COVER_OPEN, "cover_open")                                                                    \
    X(FEEDER_EMPTY, "feeder_empty")                                                                \
    X(PAPER_JAM, "paper_jam")                                                                      \
    X(MULTI_FEED, "multi_feed")                                                                    \
    X(DEVICE_ERROR, "device_error")                                                                \
    X(INVALID, "invalid")                                                                          \
    X(CANCELED, "canceled")                                                                        \
    X(DISCONNECTED, "disconnected")

typedef enum dm_status {
#define DM_STATUS_ENUM_(name, str) DM_ST_##name,
    DM_STATUS_MAP(DM_STATUS_ENUM_)
#undef DM_STATUS_ENUM_
        DM_ST_COUNT_
} dm_status;
const char *dm_status_name(dm_status st); /* "paper_jam"; "?" if unknown */

/* Something worth reporting out of band (native: the interrupt endpoint). */
typedef enum dm_event_kind {
    DM_EV_NONE = 0,
    DM_EV_PAPER_JAM,
    DM_EV_FEEDER_EMPTY,
    DM_EV_COVER_OPEN,
    DM_EV_MULTI_FEED,
    DM_EV_BUTTON,
} dm_event_kind;

typedef struct dm_event {
    dm_event_kind kind;
    uint32_t page; /* 0-based output page where it happened */
    uint32_t arg;  /* band index (jam, multi-feed, cover open, button), else 0 */
} dm_event;

/* ---- lifecycle ------------------------------------------------------------- */

typedef struct dm_engine dm_engine;

/* Same rules as dm_device_create (the profile, scenario, clock and trace
 * context are borrowed and must outlive the engine; a scenario that does not
 * fit the profile is DM_E_RANGE). The engine starts powered on at the
 * clock's current time. */
int dm_engine_create(const dm_engine_config *cfg, dm_engine **out);
/* Detach every front first. Cancels a running job (tracing a band withheld
 * until now). NULL is a no-op. */
void dm_engine_free(dm_engine *eng);

#define DM_ENGINE_MAX_FRONTS 8u

/* Register `front` (any unique address, normally the front itself) as an
 * owner token. DM_E_INVALID when already attached or NULL, DM_E_RANGE when
 * DM_ENGINE_MAX_FRONTS are attached. */
int dm_engine_attach(dm_engine *eng, const void *front);
/* The front goes away: its running job, if any, is canceled (as
 * dm_engine_cancel) and its token forgotten. */
void dm_engine_detach(dm_engine *eng, const void *front, uint64_t now_ns);

uint64_t dm_engine_now(const dm_engine *eng); /* the engine's clock */
const dm_profile *dm_engine_profile(const dm_engine *eng);

/* Power cycle: cancels any job (whoever owns it), restarts the lamp warm-up
 * and the scripted busy/cover-open refusals, forgets the last result. */
void dm_engine_power_cycle(dm_engine *eng, uint64_t now_ns);

/* ---- jobs ------------------------------------------------------------------ */

/* dm_job_resolve with the engine's profile and seed. */
int dm_engine_resolve(const dm_engine *eng, const proto_scan_params *params, proto_scan_job *out);

/* Admission, checked in this order: a job runs (any front's) -> BUSY;
 * scripted warm-up -> WARMING_UP; scripted busy -> BUSY; cover open at start
 * -> COVER_OPEN; parameters the profile cannot do -> INVALID; feeder source
 * with no sheet for the first page -> FEEDER_EMPTY; else OK, the feeder is
 * reloaded from the scenario and the job starts at now_ns, owned by `front`.
 * params NULL = the profile's defaults. *job is written on DM_ST_OK only.
 * A front that is not attached gets DM_ST_INVALID. */
dm_status dm_engine_start(dm_engine *eng, const void *front, const proto_scan_params *params,
                          uint64_t now_ns, proto_scan_job *job);

/* Cancel the job if `front` owns it: no further items, no job end. A band
 * already due and withheld forever is traced as withheld until now_ns.
 * DM_OK, or DM_E_STATE when `front` runs no job. */
int dm_engine_cancel(dm_engine *eng, const void *front, uint64_t now_ns);

/* The next item of the job and what happens to it. */
typedef enum dm_item_kind {
    DM_ITEM_NONE = 0, /* `front` runs no job */
    DM_ITEM_BAND,     /* pixels of one band */
    DM_ITEM_JOB_END,  /* the job ends with item.status */
} dm_item_kind;

typedef enum dm_item_action {
    DM_ACT_NONE = 0,   /* DM_ITEM_NONE */
    DM_ACT_WAIT,       /* not due before deadline_ns */
    DM_ACT_DELIVER,    /* due: deliver it, then dm_engine_consume */
    DM_ACT_STALL,      /* due, but first the transport stalls (consume it, then
                        * dm_engine_resume once the host recovers) */
    DM_ACT_WITHHOLD,   /* due, and never comes: deliver nothing, ever */
    DM_ACT_DISCONNECT, /* due: the device vanishes here (consume it) */
} dm_item_action;

/* Room before item.pixels that a front may fill with its own framing, so
 * that framing and pixels leave as one contiguous buffer. */
#define DM_ENGINE_HEADROOM 64u

typedef struct dm_item {
    dm_item_kind kind;
    dm_item_action action;
    /* Which item this is: a new value (never 0; 0 for DM_ITEM_NONE) every
     * time the engine computes an item, the next one or the same place
     * again (a job canceled and another started, a FEEDER_EMPTY end that a
     * feed revoked). Two peeks with the same id offer the same item: kind,
     * deadline, pixels (the same bytes), len, byte_count, crc32, status and
     * event; only action (WAIT until due, STALL again after
     * dm_engine_resume) and event_pending/event_due change. */
    uint64_t id;
    uint64_t deadline_ns; /* absolute; the item is never due before it */
    uint32_t page, side, band;
    /* DM_ITEM_BAND: lines first_line .. first_line + lines - 1 of the page;
     * pixels/len are what the device sends (a short_band fault makes len <
     * byte_count, a corrupt_band fault flips bytes after crc32 was taken);
     * crc32 is of the clean byte_count bytes (zlib crc32, initial 0). */
    uint32_t first_line, lines;
    bool end_of_page;
    const uint8_t *pixels;
    size_t len;
    uint32_t byte_count;
    uint32_t crc32;
    /* headroom: DM_ENGINE_HEADROOM writable bytes ending at pixels */
    uint8_t *headroom;
    /* DM_ITEM_JOB_END: how the job ended (OK, FEEDER_EMPTY, PAPER_JAM,
     * MULTI_FEED, COVER_OPEN, DEVICE_ERROR). */
    dm_status status;
    /* An event not yet reported; reportable once deadline_ns has passed
     * (event_due), whether or not the item itself was consumed. */
    bool event_pending;
    bool event_due;
    dm_event event;
} dm_item;

/* What `front`'s job offers at now_ns. Does not consume; pointers are valid
 * until the next call on the engine. Repeated peeks of one item (one id)
 * give the same pixels and deadline, whatever live control did in between;
 * a band not yet due (DM_ACT_WAIT) comes with its pixels. */
void dm_engine_peek(dm_engine *eng, const void *front, uint64_t now_ns, dm_item *out);
/* The item last peeked as due was released at release_ns (DELIVER: on the
 * wire; STALL: the stall; DISCONNECT: the unplug): counted, traced,
 * advanced. Writes into *done (may be NULL) the item as it was released;
 * done->action says what was consumed (DM_ACT_WITHHOLD: nothing was, the
 * item stays; done->event_pending: its event was not reported separately).
 * DM_OK, or DM_E_STATE when `front` runs no job. */
int dm_engine_consume(dm_engine *eng, const void *front, uint64_t release_ns, dm_item *done);
/* dm_engine_consume, also saying when the host transfer that carries the
 * item became available (carrier_ns, on the engine's clock; UINT64_MAX:
 * unknown, which dm_engine_consume passes): a band's lateness is split by
 * it (dm/lateness.h) and it is the trace record's carrier_ns. */
int dm_engine_consume_carried(dm_engine *eng, const void *front, uint64_t release_ns,
                              uint64_t carrier_ns, dm_item *done);
/* The current item's event was reported on its own. */
void dm_engine_event_taken(dm_engine *eng, const void *front);
/* The host recovered from a stall: a stall fault that does not clear is
 * owed again before the same item. */
void dm_engine_resume(dm_engine *eng, const void *front);

/* ---- timing accounting ----------------------------------------------------- */

/* Every band a job delivers (DM_ACT_DELIVER of a DM_ITEM_BAND; not the job's
 * end, a stall or an unplug) is accounted for with its deadline, release
 * and carrier (dm/lateness.h), per job and per engine (device). When a job
 * ends, however it ends, the config's job_end callback (dm.h) gets this.
 * Percentiles and counts describe delivered bands only. */
typedef struct dm_job_timing {
    const void *front;             /* the owner token of the front that ran the job */
    dm_status result;              /* OK, a fault's status, CANCELED or DISCONNECTED */
    bool timing;                   /* false: the engine runs without the profile's
                                    * schedule (dm_device_config.timing = 0): every band
                                    * is due at job start and lateness means nothing */
    uint64_t job_start_ns, end_ns; /* on the engine's clock */
    uint32_t pages_done;
    dm_lat_summary job;
    /* Every job that ended on this engine so far, this one included. */
    dm_lat_summary device;
    uint64_t device_jobs;
    uint64_t device_jobs_emu_beyond; /* jobs with job.beyond_emu > 0 */
} dm_job_timing;

/* The device's totals so far (as dm_job_timing's device fields, over the
 * jobs that ended; a running job's bands are included in *dev). */
void dm_engine_timing_get(const dm_engine *eng, dm_lat_summary *dev, uint64_t *jobs,
                          uint64_t *jobs_emu_beyond);
uint64_t dm_engine_late_tolerance(const dm_engine *eng);

/* ---- status ---------------------------------------------------------------- */

typedef enum dm_engine_state {
    DM_ENGINE_IDLE = 0,
    DM_ENGINE_WARMING_UP, /* idle, and a start would answer WARMING_UP */
    DM_ENGINE_PROCESSING, /* a job runs */
} dm_engine_state;

typedef enum dm_adf_state {
    DM_ADF_NONE = 0, /* the profile has no feeder */
    DM_ADF_LOADED,
    DM_ADF_EMPTY,
    DM_ADF_JAMMED,
    DM_ADF_DOOR_OPEN,
    DM_ADF_MULTIPICK,
} dm_adf_state;

typedef struct dm_engine_status {
    dm_engine_state state;
    const void *owner;            /* the front whose job runs, else NULL */
    uint32_t n_fronts;            /* attached */
    uint64_t warmup_remaining_ns; /* scripted warm-up left, 0 when none */
    /* Sheets in the feeder: during a job those left; idle, those the next
     * job starts with (every job reloads the feeder from the scenario). */
    uint32_t sheets;
    /* DOOR_OPEN while the cover is open; during a job LOADED/EMPTY by the
     * sheets left; idle, JAMMED / MULTIPICK / EMPTY after a job that ended
     * so, else what the next job would find. */
    dm_adf_state adf;
    bool cover_open; /* at a start (scripted) or by a job's fault */
    /* The current job, or the last one (job_valid false before any). */
    bool job_valid;
    proto_scan_job job;
    uint32_t page, band; /* cursor: the next item */
    uint32_t pages_done; /* pages completed in the current or last job */
    /* How the last job ended: OK, FEEDER_EMPTY, a fault's status,
     * CANCELED or DISCONNECTED. OK while a job runs, before any job and
     * after a power cycle. */
    dm_status last_result;
    dm_device_stats stats;
    /* live control state (dm_engine_live_*) */
    double time_scale;       /* the live scale (1 unless dm_engine_live_scale) */
    bool feeder_manual;      /* dm_engine_live_feed was used: no reload per job */
    uint32_t live_busy;      /* STARTs still refused BUSY */
    bool live_cover_open;    /* opened by a live cover_open: refused until cleared */
    uint64_t live_warmup_ns; /* live warm-up left */
    uint32_t live_armed;     /* live faults armed, not fired (dm_engine_live_get) */
    uint32_t bands_per_page; /* of job */
} dm_engine_status;

void dm_engine_status_get(const dm_engine *eng, uint64_t now_ns, dm_engine_status *out);
/* Counters over every front's jobs since creation. */
void dm_engine_get_stats(const dm_engine *eng, dm_device_stats *out);
/* dm_scenario_check_job against the last job accepted (see
 * dm_device_job_check). */
int dm_engine_job_check(const dm_engine *eng, char *errbuf, size_t errlen);

/* ---- fault kinds ------------------------------------------------------------- */

/* The scenario fault kinds ("paper_jam", "multi_feed", "cover_open",
 * "feeder_empty", "warming_up", "busy", "stall", "short_band",
 * "corrupt_band", "band_never_comes", "disconnect", "delay",
 * "device_error", "button"; docs/protocol.md, "Scenarios") by number. */
const char *dm_fault_name(int kind);       /* "?" when unknown */
int dm_fault_kind_parse(const char *name); /* the kind, or DM_E_INVALID */

/* ---- notes: what happens, as it happens -------------------------------------- */

/* An observer sees every job start, page start, band released, fault fired
 * and job end, in the order they happen, from inside the engine call that
 * did it (so with whatever lock the caller holds: an observer must not call
 * back into the engine, and must not block). Pages, sides and bands are
 * 0-based; times are absolute on the engine's clock. */
typedef enum dm_note_kind {
    DM_NOTE_JOB_STARTED = 1, /* job */
    DM_NOTE_PAGE_STARTED,    /* page, side: its first band was released */
    DM_NOTE_BAND,            /* page, side, band, deadline, release, bytes */
    DM_NOTE_FAULT,           /* fault (kind name), live, page/side/band when at a band */
    DM_NOTE_JOB_ENDED,       /* status, pages_done, timing */
} dm_note_kind;

typedef struct dm_note {
    dm_note_kind kind;
    uint64_t job_no; /* jobs accepted so far, this one included (1 = the first) */
    uint32_t page, side, band;
    bool at_band; /* DM_NOTE_FAULT: page/side/band are meaningful */
    uint64_t job_start_ns, deadline_ns, release_ns;
    uint32_t bytes;
    const char *fault; /* DM_NOTE_FAULT: the kind's name */
    bool live;         /* DM_NOTE_FAULT: armed by dm_engine_live_* */
    dm_status status;  /* DM_NOTE_JOB_ENDED */
    uint32_t pages_done;
    const proto_scan_job *job; /* DM_NOTE_JOB_STARTED; valid during the call */
    /* DM_NOTE_JOB_ENDED: the job's timing report, the one the config's
     * job_end callback got just before this note; valid during the call. */
    const dm_job_timing *timing;
} dm_note;
typedef void (*dm_note_fn)(void *ctx, const dm_note *note);
/* One observer per engine (NULL: none). */
void dm_engine_set_observer(dm_engine *eng, dm_note_fn fn, void *ctx);

/* ---- live control ------------------------------------------------------------- */

/* At most this many live faults are armed at once. */
#define DM_ENGINE_MAX_LIVE 16u

/* A fault to arm now. kind is any scenario kind. With `placed`, it fires at
 * band `band` of output page `page` (0-based; band 0 for feeder_empty,
 * which fires when that page's sheet would be fed) of the current job if
 * the engine has not offered that place yet, else of the next job.
 * Without, "now": at the first band the engine has not offered yet (the
 * one after the band in flight) of the current job, or the first band of
 * the next job when none runs. Band-level kinds are one-shot. The kinds
 * that act at START take no place: busy refuses the next `count` STARTs
 * (0 = 1), warming_up refuses STARTs for `ms` from now. cover_open with no
 * place opens the cover now: a running job ends at its next band, and
 * STARTs are refused until dm_engine_live_clear; feeder_empty with no place
 * empties the feeder now (as dm_engine_live_feed with the feeder made
 * manual and empty). delay needs ms; short_band/corrupt_band take bytes
 * (0: the scenario default); stall takes no_clear. */
typedef struct dm_live_fault {
    int kind;
    bool placed;
    uint32_t page, band;
    uint32_t ms, count, bytes;
    bool no_clear;
} dm_live_fault;

/* Where a live fault was armed, or where one armed still waits. */
typedef enum dm_live_when {
    DM_LIVE_NOW = 0,     /* took effect at once (START kinds, open cover, empty feeder) */
    DM_LIVE_CURRENT_JOB, /* page/band of the running job */
    DM_LIVE_NEXT_JOB,    /* page/band of the next job */
} dm_live_when;

typedef struct dm_live_armed {
    int kind;
    dm_live_when when;
    uint32_t page, band; /* 0-based; DM_LIVE_NOW: 0 */
} dm_live_armed;

/* Arms f at now_ns. DM_OK with *where (may be NULL); DM_E_INVALID (an
 * unknown kind, a parameter the kind does not take or lacks), DM_E_RANGE
 * (a band past the running job's page when it is the target, too many
 * armed), with one line in errbuf. */
int dm_engine_live_fault(dm_engine *eng, const dm_live_fault *f, uint64_t now_ns,
                         dm_live_armed *where, char *errbuf, size_t errlen);
/* The i-th live fault armed and not fired (i < status.live_armed): DM_OK,
 * or DM_E_RANGE. */
int dm_engine_live_get(const dm_engine *eng, uint32_t i, dm_live_armed *out);
/* Disarms every live fault not fired, the BUSY refusals and warm-up still
 * owed, and closes the cover. Scripted faults are untouched. Returns how
 * many live faults were disarmed. */
uint32_t dm_engine_live_clear(dm_engine *eng, uint64_t now_ns);
/* Puts `sheets` sheets in the feeder (DM_E_STATE: the profile has none;
 * DM_E_RANGE: past its capacity). The feeder becomes manual: it holds what
 * is left (the sheets left by the last job, or the scenario's `sheets`
 * before any) plus what is fed, and jobs use it up instead of starting from
 * the scenario's `sheets`. A running job goes on over the new sheets if it
 * has not yet reached the empty feeder (with the scenario's
 * wait_for_paper_ms, while it waits). */
int dm_engine_live_feed(dm_engine *eng, uint32_t sheets, uint64_t now_ns);
/* Multiplies the schedule (feed, line and jitter times, on top of the
 * scenario's time_scale) by scale, > 0 and <= 100, from the next item the
 * engine offers (the one after the band in flight), and for later jobs.
 * DM_E_RANGE outside. */
int dm_engine_live_scale(dm_engine *eng, double scale);

#endif
