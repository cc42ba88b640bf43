/* Helpers shared by the benchmarks under bench/: the clock, number parsing,
 * percentiles, sending a whole buffer. */
#ifndef SCANEMU_BENCH_UTIL_H
#define SCANEMU_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* A decimal in lo..hi, the whole string; 0, or -1 with *out untouched. */
int bench_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* qsort comparators. */
int bench_cmp_i64(const void *a, const void *b);
int bench_cmp_double(const void *a, const void *b);

/* Nearest-rank percentile p (0..100) of n >= 1 sorted values. */
int64_t bench_pct_i64(const int64_t *v, size_t n, unsigned p);

/* send() until all n bytes are gone (MSG_NOSIGNAL, EINTR retried); 0 or -1. */
int bench_send_all(int fd, const void *p, size_t n);

#endif
