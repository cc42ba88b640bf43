/* Helpers shared by the device-model fuzz targets: a device on a virtual
 * clock, a bounded drain of its IN endpoints that checks every message it
 * emits, and a counting allocator for the fixture loaders. */
#ifndef SCANEMU_FUZZ_DM_H
#define SCANEMU_FUZZ_DM_H

#include <stddef.h>
#include <stdint.h>

#include "dm/dm.h"
#include "dm-internal.h"

typedef struct fuzz_dm_run {
    dm_device *dev;
    dm_clock_virtual clk;
    int strict;   /* 1: every band carries exactly byte_count bytes with a matching CRC */
    int have_job; /* job is the last START_JOB OK answer */
    proto_scan_job job;
    unsigned steps;     /* peeks that delivered, stalled or waited */
    unsigned max_steps; /* bound for the whole run */
    uint64_t bytes;     /* bytes delivered on bulk IN */
    uint64_t max_bytes; /* bound for the whole run */
    unsigned responses; /* responses delivered */
    unsigned bands;     /* data bands delivered (not END_OF_JOB) */
    int gone;           /* DM_IN_DISCONNECT seen */
} fuzz_dm_run;

/* Create a device for profile/scenario on a virtual clock at 1 s.
 * Returns the dm_device_create() result. */
int fuzz_dm_start(fuzz_dm_run *r, const dm_profile *p, const dm_scenario *s, int timing,
                  unsigned max_steps, uint64_t max_bytes);
void fuzz_dm_stop(fuzz_dm_run *r);

/* Offer one bulk OUT transfer (an exact-size copy of data). DM_E_AGAIN is
 * handled as the emulator does: deliver one response, offer again. */
int fuzz_dm_send(fuzz_dm_run *r, const uint8_t *data, size_t len);

/* Deliver what the IN endpoints have, advancing the virtual clock to each
 * deadline, for at most `steps` steps (and the run's bounds). */
void fuzz_dm_drain(fuzz_dm_run *r, unsigned steps);

/* Built-in default profile, loaded once (immutable, shared). */
const dm_profile *fuzz_dm_default_profile(void);

/* A Small profile (A6-ish at 75 dpi, 8-line bands) that keeps the data of a
 * whole job small, so scenario faults fire within the fuzzing budget. */
const dm_profile *fuzz_dm_small_profile(void);

/* Counting allocator: every block carries its size, so live and peak bytes
 * are exact. */
typedef struct fuzz_counting_alloc {
    dm_alloc alloc;
    size_t live, peak, calls;
} fuzz_counting_alloc;
void fuzz_counting_alloc_init(fuzz_counting_alloc *a);

/* Memory the loaders may take for one fixture (fixtures are < 1 MiB). */
#define FUZZ_DM_LOADER_PEAK_MAX (32u << 20)

#endif
