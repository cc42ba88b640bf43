/* Lateness accounting: the fixed histogram and the per-band split between
 * the emulator's share and host starvation (dm/lateness.h). */
#include <string.h>

#include "dm/lateness.h"

#define LAT_TOP_US ((1ull << DM_LAT_MAX_EXP) - 1u)

unsigned dm_lat_bucket_of(uint64_t ns)
{
    uint64_t us = ns / 1000u;
    unsigned e;

    if (us < DM_LAT_LINEAR_US)
        return (unsigned)us;
    if (us > LAT_TOP_US)
        us = LAT_TOP_US;
    e = 63u - (unsigned)__builtin_clzll(us); /* 5 .. DM_LAT_MAX_EXP - 1 */
    return DM_LAT_LINEAR_US + (e - 5u) * DM_LAT_SUB + (unsigned)((us >> (e - 4u)) & 15u);
}

void dm_lat_bucket_edges(unsigned bucket, uint64_t *lo_ns, uint64_t *hi_ns)
{
    uint64_t lo, width;

    if (bucket < DM_LAT_LINEAR_US) {
        lo = bucket;
        width = 1;
    } else {
        unsigned k = bucket - DM_LAT_LINEAR_US;
        unsigned e = 5u + k / DM_LAT_SUB;
        width = 1ull << (e - 4u);
        lo = (uint64_t)(DM_LAT_SUB + k % DM_LAT_SUB) * width;
    }
    *lo_ns = lo * 1000u;
    *hi_ns = (lo + width) * 1000u;
}

void dm_lat_hist_clear(dm_lat_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void dm_lat_hist_add(dm_lat_hist *h, uint64_t ns)
{
    h->count[dm_lat_bucket_of(ns)]++;
    h->n++;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

uint64_t dm_lat_hist_pct(const dm_lat_hist *h, unsigned pct)
{
    uint64_t rank, seen = 0, lo, hi;

    if (h->n == 0)
        return 0;
    if (pct > 100)
        pct = 100;
    rank = (h->n * pct + 99u) / 100u; /* nearest rank: ceil(n * pct / 100) */
    if (rank == 0)
        rank = 1;
    for (unsigned b = 0; b < DM_LAT_BUCKETS; b++) {
        seen += h->count[b];
        if (seen >= rank) {
            dm_lat_bucket_edges(b, &lo, &hi);
            return hi < h->max_ns ? hi : h->max_ns;
        }
    }
    return h->max_ns;
}

void dm_lat_acc_clear(dm_lat_acc *a)
{
    memset(a, 0, sizeof(*a));
}

void dm_lat_acc_band(dm_lat_acc *a, uint64_t deadline_ns, uint64_t release_ns, uint64_t carrier_ns,
                     uint64_t tol_ns)
{
    uint64_t late = release_ns > deadline_ns ? release_ns - deadline_ns : 0;
    uint64_t from = deadline_ns, emu;

    if (carrier_ns == UINT64_MAX) {
        a->unattributed++;
    } else if (carrier_ns > deadline_ns) {
        a->starved++;
        from = carrier_ns;
    }
    emu = release_ns > from ? release_ns - from : 0;
    dm_lat_hist_add(&a->late, late);
    dm_lat_hist_add(&a->emu, emu);
    if (late > tol_ns) {
        a->beyond++;
        if (emu > tol_ns)
            a->beyond_emu++;
        else
            a->beyond_host++;
    }
}

void dm_lat_acc_summary(const dm_lat_acc *a, uint64_t tol_ns, dm_lat_summary *out)
{
    memset(out, 0, sizeof(*out));
    out->bands = a->late.n;
    out->late_p50_ns = dm_lat_hist_pct(&a->late, 50);
    out->late_p99_ns = dm_lat_hist_pct(&a->late, 99);
    out->late_max_ns = a->late.max_ns;
    out->emu_p50_ns = dm_lat_hist_pct(&a->emu, 50);
    out->emu_p99_ns = dm_lat_hist_pct(&a->emu, 99);
    out->emu_max_ns = a->emu.max_ns;
    out->tolerance_ns = tol_ns;
    out->beyond = a->beyond;
    out->beyond_emu = a->beyond_emu;
    out->beyond_host = a->beyond_host;
    out->starved = a->starved;
    out->unattributed = a->unattributed;
}
