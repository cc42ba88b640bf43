/* device-model: error names, allocator, clocks, message formatting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dm-internal.h"

const char *dm_strerror(int err)
{
    switch (err) {
    case DM_OK:
        return "success";
#define DM_STRERROR_CASE_(name, value, msg)                                                        \
    case DM_E_##name:                                                                              \
        return msg;
        DM_ERRNO_MAP(DM_STRERROR_CASE_)
#undef DM_STRERROR_CASE_
    default:
        return "unknown device-model error";
    }
}

/* ---- allocator ---------------------------------------------------------------- */

static void *libc_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

static const dm_alloc libc_alloc = {.realloc = libc_realloc, .ctx = NULL};

const dm_alloc *dm_alloc_default(void)
{
    return &libc_alloc;
}

void *dm_malloc(const dm_alloc *a, size_t size)
{
    void *p;

    if (size == 0)
        size = 1;
    p = a->realloc(a->ctx, NULL, size);
    if (p != NULL)
        memset(p, 0, size);
    return p;
}

void dm_free(const dm_alloc *a, void *ptr)
{
    if (ptr != NULL)
        a->realloc(a->ctx, ptr, 0);
}

/* ---- clocks -------------------------------------------------------------------- */

static uint64_t real_now(dm_clock *clk)
{
    struct timespec ts;

    (void)clk;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const struct dm_clock_ops real_ops = {.now_ns = real_now};

void dm_clock_real_init(dm_clock_real *clk)
{
    clk->base.ops = &real_ops;
}

static uint64_t virtual_now(dm_clock *clk)
{
    return ((dm_clock_virtual *)(void *)clk)->now;
}

static const struct dm_clock_ops virtual_ops = {.now_ns = virtual_now};

void dm_clock_virtual_init(dm_clock_virtual *clk, uint64_t start_ns)
{
    clk->base.ops = &virtual_ops;
    clk->now = start_ns;
}

void dm_clock_virtual_advance(dm_clock_virtual *clk, uint64_t delta_ns)
{
    clk->now += delta_ns;
}

void dm_clock_virtual_set(dm_clock_virtual *clk, uint64_t now_ns)
{
    if (now_ns > clk->now)
        clk->now = now_ns;
}

/* ---- messages ------------------------------------------------------------------ */

void dm_errf(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}
