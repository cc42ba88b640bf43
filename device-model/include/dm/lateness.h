/* device-model: lateness accounting — how late bands left against their
 * deadlines, and whose doing the lateness was.
 *
 * A band's lateness is release − deadline (never negative: a band is never
 * released early). Its carrier is the host's transfer that took it: on the
 * native front the bulk IN URB, on the eSCL front the NextDocument request
 * whose response body carried it; carrier_ns is when that transfer became
 * available to the device. A band can only leave in a transfer the host has
 * made available (USB has no device-initiated transfers, HTTP no unrequested
 * responses), so its lateness splits in two:
 *
 *   emulator share  release − max(deadline, carrier_ns)
 *   host share      max(0, carrier_ns − deadline): the host had no transfer
 *                   available at the deadline (the band was *starved*)
 *
 * Carriers arrive in band order (URBs on one endpoint complete in order; an
 * eSCL request carries a whole page), so a band held back behind a starved
 * one was starved itself: host starvation never shows up as the emulator's
 * share of a later band.
 *
 * A carrier time that is not known (UINT64_MAX) puts all of the band's
 * lateness on the emulator (the conservative side) and counts the band as
 * unattributed.
 *
 * Tolerance T: a band is *beyond tolerance* when its lateness exceeds T. Of
 * those, it counts against the emulator when its emulator share alone
 * exceeds T, else against the host (it would have been within T had the
 * host had a transfer queued). So beyond = beyond_emu + beyond_host exactly.
 * These counts are exact (taken per band); only the percentiles come from
 * the histogram.
 *
 * Histogram: fixed, log-linear, in whole microseconds (lateness / 1000,
 * rounded down): one bucket per microsecond below 32 µs, then 16 buckets per
 * power of two up to 2^40 µs (12.7 days; larger values land in the last
 * bucket). A percentile is nearest-rank, reported as the upper edge of the
 * bucket that holds it, capped at the exact maximum: never below the exact
 * nearest-rank value, and above it by less than 1 µs or 1/16 (6.25 %) of it,
 * whichever is larger. The maximum is exact. No allocation: a histogram is
 * a plain struct of DM_LAT_BUCKETS counters.
 *
 * Threads: none; the caller serialises (the engine's owner does).
 */
#ifndef SCANEMU_DM_LATENESS_H
#define SCANEMU_DM_LATENESS_H

#include <stdbool.h>
#include <stdint.h>

#define DM_LAT_LINEAR_US 32u /* each microsecond below this has its own bucket */
#define DM_LAT_SUB       16u /* buckets per power of two above it */
#define DM_LAT_MAX_EXP   40u /* values up to 2^40 µs are resolved */
#define DM_LAT_BUCKETS   (DM_LAT_LINEAR_US + (DM_LAT_MAX_EXP - 5u) * DM_LAT_SUB)

typedef struct dm_lat_hist {
    uint64_t n;      /* values added */
    uint64_t max_ns; /* exact */
    uint64_t count[DM_LAT_BUCKETS];
} dm_lat_hist;

void dm_lat_hist_clear(dm_lat_hist *h);
void dm_lat_hist_add(dm_lat_hist *h, uint64_t ns);
/* Nearest-rank percentile pct (1..100) in ns as described above; 0 when
 * the histogram is empty. */
uint64_t dm_lat_hist_pct(const dm_lat_hist *h, unsigned pct);
/* The bucket a value falls in, and the bucket's edges in ns ([lo, hi)):
 * for tests and for documenting the resolution. */
unsigned dm_lat_bucket_of(uint64_t ns);
void dm_lat_bucket_edges(unsigned bucket, uint64_t *lo_ns, uint64_t *hi_ns);

/* One job's (or one device's) bands. */
typedef struct dm_lat_acc {
    dm_lat_hist late; /* release − deadline */
    dm_lat_hist emu;  /* emulator share */
    uint64_t beyond, beyond_emu, beyond_host;
    uint64_t starved;      /* carrier after the deadline */
    uint64_t unattributed; /* carrier unknown */
} dm_lat_acc;

void dm_lat_acc_clear(dm_lat_acc *a);
/* A band due at deadline_ns, released at release_ns (a release before the
 * deadline counts as 0), carried by a transfer available from carrier_ns
 * (UINT64_MAX: unknown), against tolerance tol_ns. */
void dm_lat_acc_band(dm_lat_acc *a, uint64_t deadline_ns, uint64_t release_ns, uint64_t carrier_ns,
                     uint64_t tol_ns);

/* What a log line or a trace record reports of an accumulator. */
typedef struct dm_lat_summary {
    uint64_t bands;
    uint64_t late_p50_ns, late_p99_ns, late_max_ns;
    uint64_t emu_p50_ns, emu_p99_ns, emu_max_ns;
    uint64_t tolerance_ns;
    uint64_t beyond, beyond_emu, beyond_host;
    uint64_t starved, unattributed;
} dm_lat_summary;

void dm_lat_acc_summary(const dm_lat_acc *a, uint64_t tol_ns, dm_lat_summary *out);

#endif
