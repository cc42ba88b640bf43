/* device-model private declarations: allocator hook, PRNG, fixture structs. */
#ifndef SCANEMU_DM_INTERNAL_H
#define SCANEMU_DM_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>

#include "dm/dm.h"

/* ---- allocation ------------------------------------------------------------ *
 * Every constructor takes its memory from a dm_alloc, so the tests can make
 * the Nth allocation fail. realloc semantics: (ptr, 0) frees and returns NULL.
 * NULL allocator = the C library. */
typedef struct dm_alloc {
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void *ctx;
} dm_alloc;

const dm_alloc *dm_alloc_default(void);
void *dm_malloc(const dm_alloc *a, size_t size); /* zeroed */
void dm_free(const dm_alloc *a, void *ptr);

/* Constructors with an explicit allocator (NULL = default). The public
 * functions call these with NULL. */
int dm_profile_load_mem_a(const dm_alloc *a, const char *name, const char *yaml, size_t len,
                          dm_profile **out, char *errbuf, size_t errlen);
int dm_profile_load_file_a(const dm_alloc *a, const char *path, dm_profile **out, char *errbuf,
                           size_t errlen);
int dm_scenario_load_mem_a(const dm_alloc *a, const char *name, const char *yaml, size_t len,
                           dm_scenario **out, char *errbuf, size_t errlen);
int dm_scenario_load_file_a(const dm_alloc *a, const char *path, dm_scenario **out, char *errbuf,
                            size_t errlen);
int dm_device_create_a(const dm_alloc *a, const dm_device_config *cfg, dm_device **out);
int dm_engine_create_a(const dm_alloc *a, const dm_device_config *cfg, dm_engine **out);
int dm_device_create_on_a(const dm_alloc *a, dm_engine *eng, dm_device **out);

/* Built-in fixtures, generated at build time from fixtures/ (builtin.c). */
extern const char dm_builtin_profile_yaml[];
extern const size_t dm_builtin_profile_len;
extern const char dm_builtin_scenario_yaml[];
extern const size_t dm_builtin_scenario_len;

/* ---- counter-based PRNG ------------------------------------------------------ *
 * Every random value is a pure function of its coordinates. */
static inline uint64_t dm_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* The seeded-noise words of page synthesis through one implementation:
 * impl 0 the portable one, 1 the AVX-512 one. Returns 0, or -1 when impl 1
 * is not in this build or not on this CPU. For tests: every path must give
 * the same bytes. */
int dm_synth_noise_words(int impl, uint8_t *p, size_t n, uint64_t key);

/* Hash of (seed, a, b, c, purpose). */
static inline uint64_t dm_hash5(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t purpose)
{
    uint64_t h = dm_mix64(seed ^ 0x5CA9E17ull);
    h = dm_mix64(h ^ a);
    h = dm_mix64(h ^ (b << 1));
    h = dm_mix64(h ^ (c << 2));
    return dm_mix64(h ^ (purpose << 3));
}
/* Uniform in [0, 1). */
static inline double dm_unit(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* Random purposes (keep stable: they are part of the determinism contract). */
enum {
    DM_RND_NOISE = 1,
    DM_RND_JITTER = 2,
    DM_RND_FAULT = 3,
};

/* ---- profile --------------------------------------------------------------- */

enum { DM_N_MODES = 5 };

typedef struct dm_line_override {
    uint32_t mode;
    uint32_t dpi;
    uint32_t us;
} dm_line_override;

struct dm_profile {
    const dm_alloc *alloc;
    void *raw; /* libcyaml data, freed with the stored config */
    void *cyaml_cfg;
    char name[64];
    char file[256]; /* path or name it was loaded from, for messages */
    dm_usb_identity usb;
    uint32_t sources; /* bitmask 1 << proto_scan_source */
    uint32_t modes;   /* bitmask 1 << proto_scan_mode */
    uint32_t feeder_capacity;
    uint16_t resolutions[PROTO_SCAN_MAX_RESOLUTIONS];
    uint32_t n_resolutions;
    uint32_t width_mm, height_mm;           /* flatbed / maximum area */
    uint32_t band_lines;                    /* nominal */
    uint32_t band_max_bytes;                /* a band is cut to fit this */
    uint32_t def_source, def_mode, def_dpi; /* used when no SET_PARAMS */
    uint64_t warmup_ns, feed_ns, jitter_ns;
    uint64_t line_ns[DM_N_MODES]; /* per mode, every dpi */
    dm_line_override overrides[64];
    uint32_t n_overrides;
    uint32_t max_in_transfer; /* over every mode/dpi */
};

uint64_t dm_profile_line_ns(const dm_profile *p, uint32_t mode, uint32_t dpi);

/* ---- scenario --------------------------------------------------------------- */

#define DM_FAULT_KIND_MAP(X)                                                                       \
    X(PAPER_JAM, "paper_jam")                                                                      \
    X(MULTI_FEED, "multi_feed")                                                                    \
    X(COVER_OPEN, "cover_open")                                                                    \
    X(FEEDER_EMPTY, "feeder_empty")                                                                \
    X(WARMING_UP, "warming_up")                                                                    \
    X(BUSY, "busy")                                                                                \
    X(STALL, "stall")                                                                              \
    X(SHORT_BAND, "short_band")                                                                    \
    X(CORRUPT_BAND, "corrupt_band")                                                                \
    X(BAND_NEVER_COMES, "band_never_comes")                                                        \
    X(DISCONNECT, "disconnect")                                                                    \
    X(DELAY, "delay")                                                                              \
    X(DEVICE_ERROR, "device_error")                                                                \
    X(BUTTON, "button")

typedef enum dm_fault_kind {
#define DM_FAULT_ENUM_(name, str) DM_FAULT_##name,
    DM_FAULT_KIND_MAP(DM_FAULT_ENUM_)
#undef DM_FAULT_ENUM_
        DM_FAULT_COUNT_
} dm_fault_kind;
/* dm_fault_name, dm_fault_kind_parse: dm/engine.h */

enum dm_trigger_kind {
    DM_TRIG_START = 0, /* at START_JOB / power-on (no position) */
    DM_TRIG_AT,        /* exact place: page + band/line/byte */
    DM_TRIG_AFTER,     /* first band whose deadline is >= after_ns from job start */
    DM_TRIG_EVERY,     /* every Nth page, at one band */
    DM_TRIG_RANDOM,    /* per band with probability */
};

enum dm_side_filter { DM_SIDE_ANY = 0, DM_SIDE_FRONT = 1, DM_SIDE_BACK = 2 };

typedef struct dm_fault {
    dm_fault_kind kind;
    enum dm_trigger_kind trig;
    uint32_t page; /* 0-based output page (DM_TRIG_AT) */
    uint32_t side_filter;
    uint32_t band; /* 0-based; DM_TRIG_AT/EVERY when neither line nor byte */
    uint64_t line; /* 0-based line in page, valid if has_line */
    uint64_t byte; /* 0-based byte in page, valid if has_byte */
    bool has_line, has_byte;
    uint32_t every; /* DM_TRIG_EVERY: pages N, 2N, ... (1-based) */
    uint64_t after_ns;
    double probability;
    /* parameters */
    uint64_t ms_ns; /* delay / warming_up duration */
    uint32_t count; /* busy: refusals; cover_open at start: 0 = forever */
    bool clears;    /* stall */
    uint32_t bytes; /* short_band: bytes missing; corrupt_band: bytes flipped */
} dm_fault;

/* eSCL device quirks (scenario key `escl:`, docs/escl.md): behaviours of
 * real devices that clients carry workarounds for. Zero = none. */
typedef struct dm_escl_quirks {
    char make_and_model[128];    /* reported pwg:MakeAndModel ("" = the profile's) */
    uint32_t next_doc_status;    /* 503, 404 or 410 ... */
    uint32_t next_doc_tries;     /* ... for the first N NextDocument tries of each page */
    uint64_t load_delay_ns;      /* NextDocument sooner than this after a page: 503 */
    uint32_t stale_adf;          /* dm_adf_state shown before the first job (JAMMED/EMPTY) */
    uint64_t slow_first_byte_ns; /* every response's first byte after this */
    bool require_localhost;      /* POST ScanJobs needs Host: localhost */
} dm_escl_quirks;

struct dm_scenario {
    const dm_alloc *alloc;
    char name[64];
    char file[256]; /* path or name it was loaded from, for messages */
    uint32_t sheets;
    bool has_seed;
    uint64_t seed;
    double time_scale;
    uint64_t paper_wait_ns; /* wait_for_paper_ms: a job waits this long for a feed */
    dm_fault *faults;
    uint32_t n_faults;
    dm_escl_quirks escl;
};

/* dm_scenario_check_job for a job a device runs on profile p: the message
 * names the scenario file and key and the profile file. */
int dm_scenario_check_profile_job(const dm_scenario *s, const dm_profile *p,
                                  const proto_scan_job *job, char *errbuf, size_t errlen);

/* The scan area in whole 1/300 inch, eSCL's unit (round(mm * 300 / 25.4)),
 * and a full page's pixels at dpi: u300 * dpi / 300 rounded to nearest,
 * halves down. That is what sane-airscan computes from the capabilities
 * (0.99.27 airscan-escl.c, airscan-devops.c: the size goes to millimetres
 * as SANE_Fixed, which truncates, then back with roundl, so an exact half
 * lands just below it), so both protocols give the same page at every
 * resolution. */
uint32_t dm_u300_of_mm(uint32_t mm);
uint64_t dm_px_of_mm(uint32_t mm, uint32_t dpi);

/* Band geometry helpers. */
uint32_t dm_band_first_line(const proto_scan_job *job, uint32_t band);

/* Format into errbuf safely. */
void dm_errf(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
