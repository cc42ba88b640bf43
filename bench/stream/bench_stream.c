/* bench_stream: the floor under scanemu's scale rows (issue 16): N bare
 * streams doing what N scanemu devices and their hosts do per band, and
 * nothing else, on the same machine in the same run.
 *
 * Each stream is a loopback TCP connection between a "device" thread and a
 * "host" thread. The host keeps --in-flight requests of 48 bytes (a
 * CMD_SUBMIT header) outstanding and sends a new one for every message it
 * receives, like wiascan's bulk IN URBs. The device thread waits in
 * epoll_wait on a CLOCK_MONOTONIC timerfd armed at absolute deadlines
 * start + k * interval and on the socket, and at each deadline for which a
 * request is outstanding sends one message of --bytes in one send() (a
 * RET_SUBMIT header and a band), like scanemu's device worker. Device threads
 * ask for the same scheduler slice as scanemu's (--slice-us, default 100).
 * The streams' start times are spread evenly over one interval, the best
 * case for the machine (scanemu's jobs start wherever their hosts start them).
 *
 * --host-procs runs each host in a process of its own, as the benchmark's
 * wiascan hosts are (one process per device): every switch between hosts
 * then changes address space too.
 *
 * --host-work-us N makes each host burn N us of CPU per message (a driver's
 * own work: page assembly, checks, writing), to find how much host work the
 * machine carries at a band rate before lateness grows.
 *
 * What it leaves out: band synthesis, the trace, the USB/IP and scanner
 * protocols on both sides, the host's page assembly and TIFF writing. So a
 * stream's lateness is a lower bound for a scanemu device's on this machine
 * at the same band rate, and a ratio "N streams / 1 stream" above a target is
 * a target no emulator can meet here.
 *
 * Prints one line:
 *   bench_stream streams=N count=C interval_us=I bytes=B host_work_us=W
 *   p50_us=.. p99_us=..
 *   max_us=.. per_stream_p99_worst_us=.. per_stream_p99_median_us=.. starved=..
 *   cpu_s=..
 * lateness = release - deadline over all messages; p99 per stream, worst and
 * median stream; starved = messages whose deadline passed with no request
 * outstanding (the host's share, not counted out of the lateness); cpu_s =
 * this process's user + system CPU, device_cpu_s and host_cpu_s its
 * device and host threads' shares. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define BS_MAX_STREAMS   256u
#define BS_MAX_COUNT     1000000u
#define BS_MAX_BYTES     (1u << 20)
#define BS_MAX_IN_FLIGHT 64u
#define BS_REQ_BYTES     48u

typedef struct bs_stream {
    int dev_fd, host_fd;
    uint64_t start_ns;
    int64_t *late; /* count entries */
    uint64_t starved;
    double dev_cpu_s, host_cpu_s; /* each thread's own user + system CPU */
    int failed;
    pid_t pid; /* --host-procs: the host's process */
} bs_stream;

static uint64_t bs_interval_ns, bs_count, bs_bytes, bs_in_flight, bs_slice_us = 100,
                                                                  bs_host_work_us;

/* sched_setattr(2) with SCHED_OTHER and a slice, as scanemu does for its
 * device threads (emu_thread_request_slice in emulator/src/worker.c, private
 * to the emulator, so not linked here); best effort. */
static void bs_request_slice(void)
{
    struct {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t prio;
        uint64_t runtime, deadline, period;
    } a;
    if (bs_slice_us == 0)
        return;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.runtime = bs_slice_us * 1000u;
    (void)syscall(SYS_sched_setattr, 0, &a, 0u);
}

static double bs_thread_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *bs_device(void *arg)
{
    bs_stream *st = arg;
    uint8_t *msg = calloc(1, bs_bytes), req[BS_REQ_BYTES * 16];
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    uint64_t k = 0, req_bytes = 0, armed = 0;
    int starving = 0; /* message k's deadline passed with no request outstanding */

    bs_request_slice();
    ev.data.fd = tfd;
    if (!msg || tfd < 0 || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) < 0)
        goto out_fail;
    ev.data.fd = st->dev_fd;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, st->dev_fd, &ev) < 0)
        goto out_fail;
    while (k < bs_count) {
        struct epoll_event evs[2];
        int n = epoll_wait(epfd, evs, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out_fail;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == tfd) {
                uint64_t v;
                if (read(tfd, &v, sizeof v) < 0 && errno != EAGAIN)
                    goto out_fail;
                armed = 0;
                continue;
            }
            for (;;) {
                ssize_t r = recv(st->dev_fd, req, sizeof req, MSG_DONTWAIT);
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    break;
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0)
                    goto out_fail;
                req_bytes += (uint64_t)r;
            }
        }
        uint64_t deadline = st->start_ns + (k + 1) * bs_interval_ns; /* message k's */
        while (k < bs_count && req_bytes >= BS_REQ_BYTES) {
            uint64_t now = bench_now_ns();
            if (now < deadline)
                break;
            if (bench_send_all(st->dev_fd, msg, bs_bytes) < 0)
                goto out_fail;
            st->late[k++] = (int64_t)(now - deadline);
            req_bytes -= BS_REQ_BYTES;
            deadline += bs_interval_ns;
            st->starved += (uint64_t)starving;
            starving = 0;
        }
        if (k < bs_count && req_bytes < BS_REQ_BYTES && bench_now_ns() > deadline) {
            starving = 1; /* the request's arrival wakes us, not the timer */
            continue;
        }
        if (k < bs_count && deadline != armed) {
            struct itimerspec its;
            memset(&its, 0, sizeof its);
            its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
            its.it_value.tv_nsec = (long)(deadline % 1000000000u);
            if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
                goto out_fail;
            armed = deadline;
        }
    }
    goto out;
out_fail:
    st->failed = 1;
    shutdown(st->dev_fd, SHUT_RDWR); /* the host's recv() ends, it does not wait forever */
out:
    st->dev_cpu_s = bs_thread_cpu_s();
    if (tfd >= 0)
        close(tfd);
    if (epfd >= 0)
        close(epfd);
    free(msg);
    return NULL;
}

static void *bs_host(void *arg)
{
    bs_stream *st = arg;
    uint8_t req[BS_REQ_BYTES] = {0};
    uint8_t *buf = malloc(bs_bytes);
    uint64_t got = 0, need = bs_count * bs_bytes, sent = 0;

    if (!buf)
        goto out_fail;
    for (; sent < bs_in_flight && sent < bs_count; sent++)
        if (bench_send_all(st->host_fd, req, sizeof req) < 0)
            goto out_fail;
    while (got < need) {
        ssize_t r = recv(st->host_fd, buf, bs_bytes, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto out_fail;
        uint64_t before = got / bs_bytes;
        got += (uint64_t)r;
        for (uint64_t m = before; m < got / bs_bytes; m++) {
            uint64_t until = bench_now_ns() + bs_host_work_us * 1000u;
            while (bs_host_work_us > 0 && bench_now_ns() < until)
                ; /* a driver's own work per message, on the CPU */
            if (sent < bs_count && bench_send_all(st->host_fd, req, sizeof req) < 0)
                goto out_fail;
            sent += sent < bs_count;
        }
    }
    goto out;
out_fail:
    st->failed = 1;
    shutdown(st->host_fd, SHUT_RDWR); /* the device sees the end and stops too */
out:
    st->host_cpu_s = bs_thread_cpu_s();
    free(buf);
    return NULL;
}

static int bs_connect_pair(int lfd, const struct sockaddr_in *sa, bs_stream *st)
{
    int one = 1;
    st->host_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (st->host_fd < 0 || connect(st->host_fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
        return -1;
    st->dev_fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (st->dev_fd < 0)
        return -1;
    setsockopt(st->host_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(st->dev_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

static int bs_usage(FILE *f, int rc)
{
    fprintf(f,
            "usage: bench_stream [--streams N (1-%u, default 1)] [--count N (default 1100)]\n"
            "         [--interval-us N (default 2000)] [--bytes N (default 5948)]\n"
            "         [--in-flight N (default 4)] [--slice-us N (default 100; 0: none)]\n"
            "         [--host-work-us N (CPU the host burns per message, default 0)]\n"
            "         [--host-procs (each host in a process of its own)]\n",
            BS_MAX_STREAMS);
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t nstreams = 1, interval_us = 2000;
    int host_procs = 0;
    bs_stream *st = NULL;
    pthread_t *th = NULL;
    int64_t *all = NULL, *p99s = NULL;
    int lfd = -1, rc = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;

    bs_count = 1100;
    bs_bytes = 5948;
    bs_in_flight = 4;
    for (int i = 1; i < argc; i++) {
        struct {
            const char *name;
            uint64_t *dst, lo, hi;
        } opts[] = {
            {"--streams", &nstreams, 1, BS_MAX_STREAMS},
            {"--count", &bs_count, 1, BS_MAX_COUNT},
            {"--interval-us", &interval_us, 100, 10000000},
            {"--bytes", &bs_bytes, 1, BS_MAX_BYTES},
            {"--in-flight", &bs_in_flight, 1, BS_MAX_IN_FLIGHT},
            {"--slice-us", &bs_slice_us, 0, 100000},
            {"--host-work-us", &bs_host_work_us, 0, 100000},
        };
        size_t j;
        if (strcmp(argv[i], "--help") == 0)
            return bs_usage(stdout, 0);
        if (strcmp(argv[i], "--host-procs") == 0) {
            host_procs = 1;
            continue;
        }
        for (j = 0; j < sizeof opts / sizeof opts[0]; j++)
            if (strcmp(argv[i], opts[j].name) == 0)
                break;
        if (j == sizeof opts / sizeof opts[0] || i + 1 >= argc) {
            fprintf(stderr, "bench_stream: unknown option or missing value: %s\n", argv[i]);
            return bs_usage(stderr, 2);
        }
        if (bench_parse_u64(argv[++i], opts[j].lo, opts[j].hi, opts[j].dst) < 0) {
            fprintf(stderr, "bench_stream: %s wants a number in %llu..%llu, not '%s'\n",
                    opts[j].name, (unsigned long long)opts[j].lo, (unsigned long long)opts[j].hi,
                    argv[i]);
            return 2;
        }
    }
    bs_interval_ns = interval_us * 1000u;
    st = calloc(nstreams, sizeof *st);
    th = calloc(2 * nstreams, sizeof *th);
    all = calloc(nstreams * bs_count, sizeof *all);
    p99s = calloc(nstreams, sizeof *p99s);
    if (!st || !th || !all || !p99s) {
        fprintf(stderr, "bench_stream: out of memory\n");
        goto out;
    }
    for (uint64_t i = 0; i < nstreams; i++)
        st[i].dev_fd = st[i].host_fd = -1;
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(lfd, (int)nstreams) < 0 || getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
        perror("bench_stream: listen on 127.0.0.1");
        goto out;
    }
    for (uint64_t i = 0; i < nstreams; i++) {
        st[i].late = all + i * bs_count;
        if (bs_connect_pair(lfd, &sa, &st[i]) < 0) {
            perror("bench_stream: loopback connection");
            goto out;
        }
    }
    /* --host-procs: the hosts are forked before any thread exists */
    size_t forked = 0, started = 0, want = host_procs ? nstreams : 2 * nstreams;
    for (uint64_t i = 0; host_procs && i < nstreams; i++, forked++) {
        st[i].pid = fork();
        if (st[i].pid < 0)
            break;
        if (st[i].pid == 0) { /* only its own host end stays open */
            close(lfd);
            for (uint64_t j = 0; j < nstreams; j++) {
                close(st[j].dev_fd);
                if (j != i && st[j].host_fd >= 0)
                    close(st[j].host_fd);
            }
            prctl(PR_SET_NAME, "stream-host");
            bs_host(&st[i]);
            _exit(st[i].failed);
        }
        close(st[i].host_fd);
        st[i].host_fd = -1;
    }
    uint64_t t0 = bench_now_ns() + 20000000u; /* 20 ms for the threads to start */
    for (uint64_t i = 0; i < nstreams; i++)
        st[i].start_ns = t0 + i * bs_interval_ns / nstreams;
    for (uint64_t i = 0; forked == (host_procs ? nstreams : 0) && i < nstreams; i++) {
        if (pthread_create(&th[started], NULL, bs_device, &st[i]) != 0)
            break;
        pthread_setname_np(th[started], "stream-device"); /* in top -H, perf */
        started++;
        if (host_procs)
            continue;
        if (pthread_create(&th[started], NULL, bs_host, &st[i]) != 0)
            break;
        pthread_setname_np(th[started], "stream-host");
        started++;
    }
    if (started < want) { /* unblock what started, then fail */
        for (uint64_t i = 0; i < nstreams; i++)
            if (st[i].dev_fd >= 0)
                shutdown(st[i].dev_fd, SHUT_RDWR);
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    for (size_t i = 0; i < forked; i++) {
        int status;
        struct rusage cru;
        if (wait4(st[i].pid, &status, 0, &cru) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            st[i].failed = 1;
        else
            st[i].host_cpu_s = (double)(cru.ru_utime.tv_sec + cru.ru_stime.tv_sec) +
                               (double)(cru.ru_utime.tv_usec + cru.ru_stime.tv_usec) / 1e6;
    }
    if (started < want) {
        fprintf(stderr, "bench_stream: cannot start %zu %s\n", want,
                host_procs ? "device threads and host processes" : "threads");
        goto out;
    }
    uint64_t starved = 0;
    double dev_cpu = 0, host_cpu = 0;
    for (uint64_t i = 0; i < nstreams; i++) {
        if (st[i].failed) {
            fprintf(stderr, "bench_stream: stream %llu failed (a loopback send or receive)\n",
                    (unsigned long long)i);
            goto out;
        }
        starved += st[i].starved;
        dev_cpu += st[i].dev_cpu_s;
        host_cpu += st[i].host_cpu_s;
        qsort(st[i].late, bs_count, sizeof *all, bench_cmp_i64);
        p99s[i] = bench_pct_i64(st[i].late, bs_count, 99);
    }
    qsort(p99s, nstreams, sizeof *p99s, bench_cmp_i64);
    qsort(all, nstreams * bs_count, sizeof *all, bench_cmp_i64);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (host_procs) { /* this process's own, and its waited-for hosts' */
        struct rusage cru;
        getrusage(RUSAGE_CHILDREN, &cru);
        ru.ru_utime.tv_sec += cru.ru_utime.tv_sec;
        ru.ru_utime.tv_usec += cru.ru_utime.tv_usec;
        ru.ru_stime.tv_sec += cru.ru_stime.tv_sec;
        ru.ru_stime.tv_usec += cru.ru_stime.tv_usec;
    }
    size_t n = nstreams * bs_count;
    printf("bench_stream streams=%llu host_procs=%d count=%llu interval_us=%llu bytes=%llu "
           "host_work_us=%llu p50_us=%.1f "
           "p99_us=%.1f max_us=%.1f per_stream_p99_worst_us=%.1f per_stream_p99_median_us=%.1f "
           "starved=%llu cpu_s=%.3f device_cpu_s=%.3f host_cpu_s=%.3f\n",
           (unsigned long long)nstreams, host_procs, (unsigned long long)bs_count,
           (unsigned long long)interval_us, (unsigned long long)bs_bytes,
           (unsigned long long)bs_host_work_us, (double)bench_pct_i64(all, n, 50) / 1e3,
           (double)bench_pct_i64(all, n, 99) / 1e3, (double)all[n - 1] / 1e3,
           (double)p99s[nstreams - 1] / 1e3, (double)p99s[(nstreams - 1) / 2] / 1e3,
           (unsigned long long)starved,
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
           dev_cpu, host_cpu);
    rc = 0;
out:
    if (st)
        for (uint64_t i = 0; i < nstreams; i++) {
            if (st[i].dev_fd >= 0)
                close(st[i].dev_fd);
            if (st[i].host_fd >= 0)
                close(st[i].host_fd);
        }
    if (lfd >= 0)
        close(lfd);
    free(st);
    free(th);
    free(all);
    free(p99s);
    return rc;
}
