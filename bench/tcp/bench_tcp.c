/* bench_tcp: raw TCP throughput over loopback, the baseline that the
 * scanemu -> wiascan usbip transport is compared against (issue 8, item 1).
 *
 * A sender thread writes --bytes bytes in --chunk sized write()s to a
 * receiver thread that read()s them into a --chunk sized buffer, over one
 * 127.0.0.1 connection with TCP_NODELAY (as the emulator sets it). Nothing
 * else touches the bytes: this is what the kernel's loopback path costs for
 * the same byte count, with no protocol, CRC, synthesis or file output.
 *
 * Prints one line per run and a final summary line:
 *   bench_tcp bytes=N chunk=C runs=R median_s=S median_MBps=X best_MBps=Y
 * MB is 10^6 bytes (the unit of the USB 2.0 figure of 53.2 MB/s).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define BENCH_TCP_MAX_RUNS 32

typedef struct bench_tcp_sender {
    uint16_t port;
    uint64_t bytes;
    size_t chunk;
    int rc;
} bench_tcp_sender;

static void *bench_tcp_send_main(void *arg)
{
    bench_tcp_sender *s = arg;
    struct sockaddr_in sa;
    uint8_t *buf;
    uint64_t left = s->bytes;
    int one = 1;
    int fd;

    s->rc = -1;
    buf = malloc(s->chunk);
    if (buf == NULL) {
        fprintf(stderr, "bench_tcp: out of memory for a %zu-byte chunk\n", s->chunk);
        return NULL;
    }
    /* Non-constant bytes, written once, so the page cache of zeros plays no part. */
    for (size_t i = 0; i < s->chunk; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 24);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("bench_tcp: socket");
        goto out_free_buf;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(s->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("bench_tcp: connect");
        goto out_close_fd;
    }
    while (left > 0) {
        size_t n = left < s->chunk ? (size_t)left : s->chunk;
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            perror("bench_tcp: write");
            goto out_close_fd;
        }
        left -= (uint64_t)w;
    }
    s->rc = 0;
out_close_fd:
    close(fd);
out_free_buf:
    free(buf);
    return NULL;
}

/* One transfer of `bytes`; returns seconds from accept to the last byte, or
 * a negative value on error. */
static double bench_tcp_run(uint64_t bytes, size_t chunk)
{
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    bench_tcp_sender snd = {.bytes = bytes, .chunk = chunk, .rc = -1};
    pthread_t th;
    uint8_t *buf;
    uint64_t got = 0, t0, t1;
    double secs = -1.0;
    int one = 1;
    int lfd, cfd;

    buf = malloc(chunk);
    if (buf == NULL) {
        fprintf(stderr, "bench_tcp: out of memory for a %zu-byte chunk\n", chunk);
        return -1.0;
    }
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        perror("bench_tcp: socket");
        goto out_free_buf;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0) {
        perror("bench_tcp: bind/listen on 127.0.0.1:0");
        goto out_close_lfd;
    }
    snd.port = ntohs(sa.sin_port);
    if (pthread_create(&th, NULL, bench_tcp_send_main, &snd) != 0) {
        fprintf(stderr, "bench_tcp: cannot start the sender thread\n");
        goto out_close_lfd;
    }
    t0 = bench_now_ns();
    cfd = accept(lfd, NULL, NULL);
    if (cfd < 0) {
        perror("bench_tcp: accept");
        goto out_join;
    }
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    while (got < bytes) {
        ssize_t r = read(cfd, buf, chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "bench_tcp: read failed after %" PRIu64 " of %" PRIu64 " bytes\n", got,
                    bytes);
            goto out_close_cfd;
        }
        got += (uint64_t)r;
    }
    t1 = bench_now_ns();
    secs = (double)(t1 - t0) / 1e9;
out_close_cfd:
    close(cfd);
out_join:
    pthread_join(th, NULL);
    if (snd.rc != 0)
        secs = -1.0;
out_close_lfd:
    close(lfd);
out_free_buf:
    free(buf);
    return secs;
}

static void bench_tcp_usage(FILE *f)
{
    fprintf(f, "usage: bench_tcp [--bytes N] [--chunk BYTES] [--runs R]\n"
               "  raw TCP loopback throughput; defaults: 522000000 bytes, 1048576-byte\n"
               "  chunks, 3 runs (the median is reported)\n");
}

int main(int argc, char **argv)
{
    uint64_t bytes = 522000000u, chunk = 1u << 20, runs = 3;
    double secs[BENCH_TCP_MAX_RUNS];

    for (int i = 1; i < argc; i++) {
        uint64_t *dst = NULL;
        if (strcmp(argv[i], "--help") == 0) {
            bench_tcp_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--bytes") == 0) {
            dst = &bytes;
        } else if (strcmp(argv[i], "--chunk") == 0) {
            dst = &chunk;
        } else if (strcmp(argv[i], "--runs") == 0) {
            dst = &runs;
        } else {
            fprintf(stderr, "bench_tcp: unknown argument '%s'\n", argv[i]);
            bench_tcp_usage(stderr);
            return 2;
        }
        if (i + 1 >= argc || bench_parse_u64(argv[i + 1], 0, UINT64_MAX, dst) != 0) {
            fprintf(stderr, "bench_tcp: %s needs a non-negative integer\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (bytes == 0 || chunk == 0 || chunk > (64u << 20) || runs == 0 || runs > BENCH_TCP_MAX_RUNS) {
        fprintf(stderr, "bench_tcp: need bytes > 0, 0 < chunk <= 64 MiB, 1 <= runs <= %d\n",
                BENCH_TCP_MAX_RUNS);
        return 2;
    }
    for (uint64_t r = 0; r < runs; r++) {
        secs[r] = bench_tcp_run(bytes, (size_t)chunk);
        if (secs[r] <= 0.0)
            return 1;
        printf("bench_tcp run=%" PRIu64 " seconds=%.4f MBps=%.1f\n", r, secs[r],
               (double)bytes / 1e6 / secs[r]);
    }
    qsort(secs, (size_t)runs, sizeof(secs[0]), bench_cmp_double);
    printf("bench_tcp bytes=%" PRIu64 " chunk=%" PRIu64 " runs=%" PRIu64
           " median_s=%.4f median_MBps=%.1f best_MBps=%.1f\n",
           bytes, chunk, runs, secs[runs / 2], (double)bytes / 1e6 / secs[runs / 2],
           (double)bytes / 1e6 / secs[0]);
    return 0;
}
