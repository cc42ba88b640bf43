/* bench_timer: the platform's own timing error, measured the way the
 * emulator waits for a band deadline, as the baseline for scanemu's timing
 * fidelity (issue 8, item 2).
 *
 * One thread arms a CLOCK_MONOTONIC timerfd at absolute deadlines
 * start + k * interval (k = 1..count), waits in epoll_wait, and records
 * (wake-up time - deadline). Deadlines are computed from the start, never from
 * the previous wake-up, exactly like the device model's schedule, so any
 * error shows up as lateness and the last one is the drift.
 *
 * --slack-ns N sets the thread's timer slack with prctl(PR_SET_TIMERSLACK)
 * (Linux's default for normal threads is 50,000 ns; 0 keeps the default).
 *
 * Prints one line:
 *   bench_timer interval_us=I count=N slack_ns=S p50_us=.. p99_us=.. max_us=.. drift_us=..
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define BENCH_TIMER_MAX_COUNT 1000000u

int main(int argc, char **argv)
{
    uint64_t interval_us = 2000, count = 5000, slack_ns = 0;
    struct epoll_event ev = {.events = EPOLLIN};
    int64_t *late;
    uint64_t start;
    int tfd, epfd, rc = 1;

    for (int i = 1; i < argc; i++) {
        uint64_t *dst = NULL;
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: bench_timer [--interval-us N] [--count N] [--slack-ns N]\n");
            return 0;
        } else if (strcmp(argv[i], "--interval-us") == 0) {
            dst = &interval_us;
        } else if (strcmp(argv[i], "--count") == 0) {
            dst = &count;
        } else if (strcmp(argv[i], "--slack-ns") == 0) {
            dst = &slack_ns;
        } else {
            fprintf(stderr, "bench_timer: unknown argument '%s'\n", argv[i]);
            return 2;
        }
        if (i + 1 >= argc || bench_parse_u64(argv[i + 1], 0, UINT64_MAX, dst) != 0) {
            fprintf(stderr, "bench_timer: %s needs a non-negative integer\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (interval_us == 0 || interval_us > 10000000u || count == 0 ||
        count > BENCH_TIMER_MAX_COUNT) {
        fprintf(stderr, "bench_timer: need 0 < interval-us <= 10 s and 0 < count <= %u\n",
                BENCH_TIMER_MAX_COUNT);
        return 2;
    }
    if (slack_ns > 0 && prctl(PR_SET_TIMERSLACK, (unsigned long)slack_ns, 0, 0, 0) != 0) {
        perror("bench_timer: prctl(PR_SET_TIMERSLACK)");
        return 1;
    }
    late = calloc((size_t)count, sizeof(*late));
    if (late == NULL) {
        fprintf(stderr, "bench_timer: out of memory for %" PRIu64 " samples\n", count);
        return 1;
    }
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (tfd < 0 || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) != 0) {
        perror("bench_timer: timerfd/epoll");
        goto out_close;
    }
    start = bench_now_ns();
    for (uint64_t k = 0; k < count; k++) {
        uint64_t deadline = start + (k + 1) * interval_us * 1000u;
        struct itimerspec its = {
            .it_value = {.tv_sec = (time_t)(deadline / 1000000000u),
                         .tv_nsec = (long)(deadline % 1000000000u)},
        };
        struct epoll_event got;
        uint64_t expirations;

        if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0) {
            perror("bench_timer: timerfd_settime");
            goto out_close;
        }
        for (;;) {
            int n = epoll_wait(epfd, &got, 1, -1);
            if (n == 1)
                break;
            if (n < 0 && errno != EINTR) {
                perror("bench_timer: epoll_wait");
                goto out_close;
            }
        }
        late[k] = (int64_t)(bench_now_ns() - deadline);
        if (read(tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN) {
            perror("bench_timer: read timerfd");
            goto out_close;
        }
    }
    {
        int64_t drift = late[count - 1];
        qsort(late, (size_t)count, sizeof(*late), bench_cmp_i64);
        printf("bench_timer interval_us=%" PRIu64 " count=%" PRIu64 " slack_ns=%" PRIu64
               " p50_us=%.1f p99_us=%.1f max_us=%.1f drift_us=%.1f\n",
               interval_us, count, slack_ns, (double)bench_pct_i64(late, (size_t)count, 50) / 1e3,
               (double)bench_pct_i64(late, (size_t)count, 99) / 1e3, (double)late[count - 1] / 1e3,
               (double)drift / 1e3);
    }
    rc = 0;
out_close:
    if (epfd >= 0)
        close(epfd);
    if (tfd >= 0)
        close(tfd);
    free(late);
    return rc;
}
