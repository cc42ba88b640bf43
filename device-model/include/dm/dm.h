/* device-model: the virtual scanner's hardware and firmware, with no sockets.
 *
 * The emulator feeds it the bytes of each bulk OUT transfer and asks it, per IN
 * endpoint, what to deliver next and when. Tests drive it directly, on a
 * virtual clock. See docs/protocol.md (profiles, scenarios, timing). A device is
 * the native protocol's front on a job engine (dm/engine.h), which other
 * fronts may share.
 *
 * Determinism: for the same profile, scenario and seed, every byte a device
 * produces and every deadline (relative to job start) is identical.
 */
#ifndef SCANEMU_DM_DM_H
#define SCANEMU_DM_DM_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/scan.h"

/* ---- errors --------------------------------------------------------------- */

#define DM_ERRNO_MAP(X)                                                                            \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(INVALID, -2, "invalid argument")                                                             \
    X(IO, -3, "cannot read file")                                                                  \
    X(PARSE, -4, "fixture is not valid YAML or has the wrong shape")                               \
    X(RANGE, -5, "value out of range")                                                             \
    X(PROTO, -6, "malformed command")                                                              \
    X(STATE, -7, "not allowed in this state")                                                      \
    X(AGAIN, -8, "response queue full: command not taken, retry after bulk IN")

typedef enum dm_err {
    DM_OK = 0,
#define DM_ERR_ENUM_(name, value, msg) DM_E_##name = (value),
    DM_ERRNO_MAP(DM_ERR_ENUM_)
#undef DM_ERR_ENUM_
} dm_err;
const char *dm_strerror(int err);

/* ---- clock ---------------------------------------------------------------- */

/* A clock is a const ops table plus the state that follows it in memory.
 * Times are nanoseconds on CLOCK_MONOTONIC's scale (real) or any origin
 * (virtual). */
typedef struct dm_clock dm_clock;
struct dm_clock_ops {
    uint64_t (*now_ns)(dm_clock *clk);
};
struct dm_clock {
    const struct dm_clock_ops *ops;
};
static inline uint64_t dm_clock_now(dm_clock *clk)
{
    return clk->ops->now_ns(clk);
}

typedef struct dm_clock_real {
    dm_clock base;
} dm_clock_real;
void dm_clock_real_init(dm_clock_real *clk); /* CLOCK_MONOTONIC */

typedef struct dm_clock_virtual {
    dm_clock base;
    uint64_t now;
} dm_clock_virtual;
void dm_clock_virtual_init(dm_clock_virtual *clk, uint64_t start_ns);
void dm_clock_virtual_advance(dm_clock_virtual *clk, uint64_t delta_ns);
void dm_clock_virtual_set(dm_clock_virtual *clk, uint64_t now_ns); /* never backwards */

/* ---- profiles and scenarios ------------------------------------------------ */

/* Loaded fixtures are immutable and may be shared by many devices. *out is
 * set only on success. On failure a loader writes one printable line into
 * errbuf (if non-NULL):
 *   FILE: key 'KEY.PATH[i].KEY': PROBLEM
 * FILE is the path (or the name given to a _mem loader), the key path has
 * 0-based list indices, and PROBLEM says what was expected; a message about
 * the file as a whole has no key. Returns DM_E_IO (the file cannot be read,
 * or is not a regular file), DM_E_PARSE (not YAML, or not of the schema:
 * missing, unknown or mistyped keys, unknown values, a second document),
 * DM_E_RANGE (a value outside its range or meaning), DM_E_NOMEM or
 * DM_E_INVALID.
 *
 * The _file loaders never block: the path is stat()ed first, and anything
 * but a regular file (a directory, FIFO, device node or socket; a symlink
 * counts as what it points to) is refused by kind without being opened. A
 * regular file is opened non-blocking and read whole if it has at most
 * DM_FIXTURE_MAX_BYTES; a larger one is refused. */
#define DM_FIXTURE_MAX_BYTES (1u << 20)
typedef struct dm_profile dm_profile;
typedef struct dm_scenario dm_scenario;

typedef struct dm_usb_identity {
    uint16_t vid;
    uint16_t pid;
    uint16_t bcd_device;
    uint32_t speed; /* PROTO_USBIP_SPEED_HIGH (default), _FULL or _SUPER */
    const char *manufacturer;
    const char *product;
    const char *serial;
    /* Which fronts the USB device presents (the profile's `protocols:`):
     * DM_PROTOCOL_NATIVE is the vendor interface, DM_PROTOCOL_ESCL the
     * IPP-USB interfaces (class 7/1/4), both in one configuration when both
     * are set; 0 = native only. */
    uint32_t protocols;
    /* IPP-USB interfaces with DM_PROTOCOL_ESCL (usb.ippusb_interfaces):
     * DM_IPPUSB_MIN_INTERFACES..DM_IPPUSB_MAX_INTERFACES; 0 = the minimum. */
    uint32_t ippusb_interfaces;
} dm_usb_identity;

#define DM_PROTOCOL_NATIVE       (1u << 0)
#define DM_PROTOCOL_ESCL         (1u << 1)
#define DM_IPPUSB_MIN_INTERFACES 2u
#define DM_IPPUSB_MAX_INTERFACES 8u

int dm_profile_load_file(const char *path, dm_profile **out, char *errbuf, size_t errlen);
/* Parse a profile from memory; name is used in messages in place of a path. */
int dm_profile_load_mem(const char *name, const char *yaml, size_t len, dm_profile **out,
                        char *errbuf, size_t errlen);
/* The built-in default (fixtures/profiles/default.yaml compiled in). */
int dm_profile_load_default(dm_profile **out, char *errbuf, size_t errlen);
void dm_profile_free(dm_profile *p);
const char *dm_profile_name(const dm_profile *p);
const dm_usb_identity *dm_profile_usb(const dm_profile *p);
/* Capabilities as GET_CAPS reports them. */
void dm_profile_caps(const dm_profile *p, proto_scan_caps *out);

int dm_scenario_load_file(const char *path, dm_scenario **out, char *errbuf, size_t errlen);
int dm_scenario_load_mem(const char *name, const char *yaml, size_t len, dm_scenario **out,
                         char *errbuf, size_t errlen);
/* The built-in clean scenario: a feeder with 10 sheets, no faults. */
int dm_scenario_load_default(dm_scenario **out, char *errbuf, size_t errlen);
void dm_scenario_free(dm_scenario *s);
const char *dm_scenario_name(const dm_scenario *s);
/* Check a scenario against a profile: the sheets fit the feeder and every
 * fault place (band, line, byte) lies inside a page of the job the profile
 * runs with its defaults. Refused besides: a feeder_empty fault on a profile
 * with no feeder, or before a back side of the default (duplex) job; `side:
 * back` on a profile with no duplex source; with a feeder default job, a
 * page past the sheets (2 * sheets duplex). DM_OK, or DM_E_RANGE with a
 * one-line message naming the scenario file and key and the profile file.
 * dm_device_create() refuses (DM_E_RANGE, without a message) a pair that
 * fails this check: call this first to have the message. */
int dm_scenario_check(const dm_scenario *s, const dm_profile *p, char *errbuf, size_t errlen);
/* The faults of s that can never fire in `job` (a page past its end or past
 * the feeder's sheets, a band/line/byte past a page, `side: back` in a
 * simplex job, feeder_empty in a flatbed job or before a back side). DM_OK,
 * or DM_E_RANGE with a one-line message naming the scenario file, the key
 * and `what`, which says which job and profile were checked (e.g. "this job
 * on profile p.yaml"; NULL: "this job"). */
int dm_scenario_check_job(const dm_scenario *s, const proto_scan_job *job, const char *what,
                          char *errbuf, size_t errlen);

/* ---- job geometry and page synthesis -------------------------------------- */

/* Resolve requested parameters against a profile into the job the device will
 * run. Returns DM_OK, or DM_E_RANGE with *status set to
 * PROTO_SCAN_ST_INVALID_PARAM (and a message in errbuf) when the profile
 * cannot do it. seed is used when params->flags lacks PROTO_SCAN_PARAM_SEED. */
int dm_job_resolve(const dm_profile *p, const proto_scan_params *params, uint64_t seed,
                   proto_scan_job *out, char *errbuf, size_t errlen);

/* Lines in band `band` of a page of `job` (the last band may be shorter), and
 * its pixel bytes. */
uint32_t dm_band_lines(const proto_scan_job *job, uint32_t band);
size_t dm_band_bytes(const proto_scan_job *job, uint32_t band);

/* Pure function of (job geometry, job->seed, page, side, band): writes exactly
 * dm_band_bytes(job, band) bytes to out. A readable test chart (page number,
 * gray ramp, colour bars, grid, resolution marks) mixed with seeded content so
 * that every byte can be checked by regenerating it. */
void dm_synth_band(const proto_scan_job *job, uint32_t page, uint32_t side, uint32_t band,
                   uint8_t *out);

/* ---- the device ----------------------------------------------------------- */

typedef struct dm_device dm_device;

/* One record per band released (or withheld/faulted) on bulk IN. Times are on
 * the device clock; deadline_ns is absolute, job_start_ns is the job's
 * origin. fault is NULL or a static name such as "paper_jam". */
typedef struct dm_trace_rec {
    uint32_t page;
    uint32_t side;
    uint32_t band;
    uint64_t job_start_ns;
    uint64_t deadline_ns;
    uint64_t release_ns;
    uint32_t bytes;
    const char *fault;
    /* When the host transfer that carried the record became available
     * (dm/lateness.h: the bulk IN URB, the eSCL NextDocument request), on the
     * engine's clock; UINT64_MAX when unknown or when nothing was carried. */
    uint64_t carrier_ns;
} dm_trace_rec;
typedef void (*dm_trace_fn)(void *ctx, const dm_trace_rec *rec);

/* Called once when a job ends, however it ends (dm/engine.h,
 * dm_job_timing): how late its bands were and whose doing it was. Runs
 * inside the engine call that ended the job (consume, cancel, detach,
 * power cycle, free), on the caller's thread; it must not call into the
 * engine or its fronts. */
struct dm_job_timing;
typedef void (*dm_job_end_fn)(void *ctx, const struct dm_job_timing *jt);

/* Default tolerance of the lateness accounting (dm/lateness.h): a band
 * later than this is counted as beyond tolerance. Chosen from measurements
 * (docs/performance.md, "Choosing the lateness tolerance"). */
#define DM_LATE_TOLERANCE_NS_DEFAULT 5000000ull

typedef struct dm_device_config {
    const dm_profile *profile;   /* borrowed; must outlive the device */
    const dm_scenario *scenario; /* borrowed; NULL = built-in clean */
    uint64_t seed;
    dm_clock *clock;   /* borrowed */
    int timing;        /* 1 = profile schedule (default), 0 = as fast as possible */
    dm_trace_fn trace; /* optional */
    void *trace_ctx;
    /* Lateness accounting: the tolerance (DM_LATE_TOLERANCE_NS_DEFAULT
     * after dm_device_config_init; 0 counts every late band) and the
     * job-end report (optional). */
    uint64_t late_tolerance_ns;
    dm_job_end_fn job_end;
    void *job_end_ctx;
} dm_device_config;
/* zero + timing = 1 + late_tolerance_ns = DM_LATE_TOLERANCE_NS_DEFAULT */
void dm_device_config_init(dm_device_config *cfg);

/* A device is the native front (this protocol) on a job engine (dm/engine.h).
 * dm_device_create makes a new engine from cfg and owns it;
 * dm_device_create_on attaches a native front to an existing engine, which
 * is borrowed (it must outlive the device) and may carry other fronts: a job
 * started through any of them makes START_JOB and SET_PARAMS answer BUSY,
 * and RESET power-cycles the shared engine. dm_device_free detaches (and
 * cancels the device's own job); it frees the engine only if it created it.
 * dm_device_create_on: DM_E_INVALID, DM_E_NOMEM, or DM_E_RANGE when the
 * engine has DM_ENGINE_MAX_FRONTS fronts. */
typedef struct dm_engine dm_engine;
int dm_device_create(const dm_device_config *cfg, dm_device **out);
int dm_device_create_on(dm_engine *eng, dm_device **out);
void dm_device_free(dm_device *dev);
/* The engine the device runs on (to attach another front to it). */
dm_engine *dm_device_engine(const dm_device *dev);

/* Power-cycle state: cancels any job (on a shared engine, whichever front
 * runs it), refills the feeder from the scenario. */
void dm_device_reset(dm_device *dev);

/* Bytes of one bulk OUT transfer (a command). Malformed commands are answered
 * on bulk IN with PROTO_SCAN_ST_INVALID_COMMAND; the return value is DM_OK, or
 * DM_E_PROTO when the bytes were not a command at all (the answer is queued
 * either way). Never blocks.
 * DM_E_AGAIN: the response queue is full (DM_RSP_QUEUE_DEPTH
 * answers the host has not read): the command was NOT taken and nothing
 * changed, as real hardware NAKs the OUT. Offer the same bytes again once
 * bulk IN has delivered a response (dm_device_consume on DM_EP_DATA_IN). */
#define DM_RSP_QUEUE_DEPTH 16u
int dm_device_bulk_out(dm_device *dev, const uint8_t *buf, size_t len);

/* What an IN endpoint delivers next. */
typedef enum dm_in_kind {
    DM_IN_IDLE = 0,   /* nothing queued: keep the URB pending */
    DM_IN_WAIT,       /* a message is scheduled at deadline_ns (UINT64_MAX: never) */
    DM_IN_DATA,       /* data/len ready now */
    DM_IN_STALL,      /* answer the URB with a STALL and halt the endpoint */
    DM_IN_DISCONNECT, /* drop the connection: the device was unplugged */
} dm_in_kind;

typedef struct dm_in {
    dm_in_kind kind;
    uint64_t deadline_ns;
    const uint8_t *data; /* device- or engine-owned; valid until the next call
                          * on dev or on its engine */
    size_t len;
} dm_in;

enum dm_endpoint {
    DM_EP_DATA_IN = 0,  /* bulk IN 0x81 */
    DM_EP_EVENT_IN = 1, /* interrupt IN 0x82 */
};

/* Look at what endpoint `ep` would deliver at time now_ns. Does not change
 * state: call dm_device_consume() once the message was handed to the bus. */
void dm_device_peek(dm_device *dev, enum dm_endpoint ep, uint64_t now_ns, dm_in *out);
/* The message last peeked as DM_IN_DATA (or the STALL, or the DISCONNECT) was delivered at
 * release_ns. Records the trace and advances. */
void dm_device_consume(dm_device *dev, enum dm_endpoint ep, uint64_t release_ns);
/* dm_device_consume, also saying when the IN URB that carries the message
 * arrived (urb_ns, on the device's clock; UINT64_MAX: unknown), which
 * splits a band's lateness between the emulator and host starvation
 * (dm/lateness.h) and becomes the trace's urb_ns. */
void dm_device_consume_urb(dm_device *dev, enum dm_endpoint ep, uint64_t release_ns,
                           uint64_t urb_ns);
/* The host cleared the halt on an endpoint (CLEAR_FEATURE ENDPOINT_HALT). */
void dm_device_clear_halt(dm_device *dev, enum dm_endpoint ep);

/* Lateness bookkeeping: how late bands were released against their deadlines.
 * Kept by the engine: on a shared engine, these count every front's jobs. */
typedef struct dm_device_stats {
    uint64_t bands_released;
    uint64_t bytes_released;
    uint64_t late_bands; /* released more than 0 ns after the deadline */
    uint64_t max_late_ns;
    uint64_t faults_fired;
    uint64_t jobs_started; /* START_JOBs accepted */
} dm_device_stats;
void dm_device_get_stats(const dm_device *dev, dm_device_stats *out);

/* dm_scenario_check_job for the last job START_JOB accepted (the
 * actual window, source and pages): DM_OK, DM_E_RANGE with the message when
 * a scripted fault can never fire in it (the job runs anyway; the emulator
 * logs the message as a warning), DM_E_STATE when no job was started yet. */
int dm_device_job_check(const dm_device *dev, char *errbuf, size_t errlen);

#endif
