/* Connection admission: which connection a listener keeps when its slots are
 * full, and when a connection has had its time. Pure bookkeeping on times the
 * caller passes in (no sockets, no clock), so the policy is tested on virtual
 * time. See emu-internal.h and docs/emulator.md, "Connection slots". */
#include <stdlib.h>
#include <string.h>

#include "emu-internal.h"

int emu_admit_init(emu_admit *a, const emu_admit_limits *lim)
{
    memset(a, 0, sizeof(*a));
    if (!lim || lim->slots < 1 || lim->slots > EMU_ADMIT_MAX_SLOTS || lim->deadline_ms < 1 ||
        lim->deadline_ms > EMU_ADMIT_MAX_DEADLINE_MS)
        return EMU_E_INVALID;
    a->slot = calloc(lim->slots, sizeof(*a->slot));
    if (!a->slot)
        return EMU_E_NOMEM;
    a->lim = *lim;
    return EMU_OK;
}

void emu_admit_free(emu_admit *a)
{
    free(a->slot);
    a->slot = NULL;
    a->used = 0;
}

static void start_waiting(emu_admit_slot *s, uint64_t now_ns, unsigned deadline_ms)
{
    s->state = EMU_ADMIT_WAITING;
    s->since_ns = now_ns;
    s->deadline_ns = now_ns + (uint64_t)deadline_ms * 1000000u;
}

/* The oldest slot in state st, or -1. Ties go to the lowest index, so the
 * choice is deterministic. */
static int oldest_in(const emu_admit *a, enum emu_admit_state st)
{
    int best = -1;
    for (unsigned i = 0; i < a->lim.slots; i++)
        if (a->slot[i].state == st && (best < 0 || a->slot[i].since_ns < a->slot[best].since_ns))
            best = (int)i;
    return best;
}

int emu_admit_take(emu_admit *a, uint64_t now_ns, int *victim)
{
    *victim = -1;
    if (a->used < a->lim.slots) {
        for (unsigned i = 0; i < a->lim.slots; i++) {
            if (a->slot[i].state != EMU_ADMIT_FREE)
                continue;
            start_waiting(&a->slot[i], now_ns, a->lim.deadline_ms);
            a->used++;
            return (int)i;
        }
    }
    *victim = oldest_in(a, EMU_ADMIT_WAITING);
    if (*victim < 0)
        *victim = oldest_in(a, EMU_ADMIT_ANSWERING);
    return -1;
}

void emu_admit_set(emu_admit *a, int slot, enum emu_admit_state st, uint64_t now_ns)
{
    emu_admit_slot *s = &a->slot[slot];
    switch (st) {
    case EMU_ADMIT_WAITING:
        start_waiting(s, now_ns, a->lim.deadline_ms);
        break;
    case EMU_ADMIT_ANSWERING:
        s->state = st; /* the deadline set when it started waiting still holds */
        break;
    case EMU_ADMIT_SERVING:
        s->state = st;
        s->deadline_ns = UINT64_MAX;
        break;
    case EMU_ADMIT_FREE:
        emu_admit_release(a, slot);
        break;
    }
}

void emu_admit_release(emu_admit *a, int slot)
{
    if (slot < 0 || (unsigned)slot >= a->lim.slots || a->slot[slot].state == EMU_ADMIT_FREE)
        return;
    memset(&a->slot[slot], 0, sizeof(a->slot[slot]));
    a->used--;
}

uint64_t emu_admit_next_deadline(const emu_admit *a)
{
    uint64_t next = UINT64_MAX;
    for (unsigned i = 0; i < a->lim.slots; i++)
        if (a->slot[i].state != EMU_ADMIT_FREE && a->slot[i].deadline_ns < next)
            next = a->slot[i].deadline_ns;
    return next;
}

int emu_admit_expired(const emu_admit *a, int slot, uint64_t now_ns)
{
    const emu_admit_slot *s = &a->slot[slot];
    return s->state != EMU_ADMIT_FREE && s->deadline_ns != UINT64_MAX && now_ns >= s->deadline_ns;
}

int emu_admit_next_expired(const emu_admit *a, uint64_t now_ns)
{
    int best = -1;
    for (unsigned i = 0; i < a->lim.slots; i++)
        if (emu_admit_expired(a, (int)i, now_ns) &&
            (best < 0 || a->slot[i].deadline_ns < a->slot[best].deadline_ns))
            best = (int)i;
    return best;
}
