/*
 * bench_wias [PAGES] [DIR]
 *
 * Writes PAGES (default 10) uncompressed A4 300-dpi 24-bit pages with
 * wiasWritePageBufToStream into a memory stream and into a file in DIR
 * (default $TMPDIR or /tmp), and compares with writing the same page bytes
 * with plain memcpy() into one buffer and write() into a file, measured in
 * the same run. Each case is run 5 times, alternating baseline and wias;
 * the best time of each is reported. Ratio = wias MB/s / baseline MB/s of
 * the best times; "median pair" is the median of the per-repetition ratios
 * (more robust on a loaded machine).
 */
#include <wias/wias.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define A4_W 2480
#define A4_H 3508
#define REPS 5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void init_ctx(MINIDRV_TRANSFER_CONTEXT *c, BYTE *page)
{
    memset(c, 0, sizeof *c);
    c->lSize = (LONG)sizeof *c;
    c->lWidthInPixels = A4_W;
    c->lLines = A4_H;
    c->lDepth = 24;
    c->lXRes = 300;
    c->lYRes = 300;
    c->lCompression = WIA_COMPRESSION_NONE;
    c->guidFormatID = WiaImgFmt_TIFF;
    c->tymed = TYMED_MULTIPAGE_FILE;
    c->cbWidthInBytes = A4_W * 3;
    c->lBufferSize = A4_W * 3 * A4_H;
    c->lImageSize = c->lBufferSize;
    c->pTransferBuffer = page;
}

static double base_mem(const BYTE *page, size_t bytes, int pages)
{
    double t0 = now();
    BYTE *out = malloc(bytes * (size_t)pages);
    if (!out)
        return -1;
    for (int p = 0; p < pages; p++)
        memcpy(out + (size_t)p * bytes, page, bytes);
    double t = now() - t0;
    /* keep the copy observable */
    if (out[(size_t)pages * bytes - 1] == 0x5A && out[0] == 0x5A)
        fputc('\n', stderr);
    free(out);
    return t;
}

static double wias_mem(BYTE *page, int pages, ULONGLONG *total)
{
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = NULL;
    STATSTG st;
    double t0 = now();

    if (FAILED(wiasCreateMemoryStream(&s)))
        return -1;
    init_ctx(&c, page);
    for (int p = 0; p < pages; p++) {
        if (FAILED(wiasWritePageBufToStream(&c, s))) {
            s->lpVtbl->Release(s);
            return -1;
        }
    }
    double t = now() - t0;
    s->lpVtbl->Stat(s, &st, STATFLAG_NONAME);
    *total = st.cbSize.QuadPart;
    s->lpVtbl->Release(s);
    return t;
}

static double base_file(const char *path, const BYTE *page, size_t bytes, int pages)
{
    double t0 = now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    for (int p = 0; p < pages; p++) {
        size_t done = 0;
        while (done < bytes) {
            ssize_t n = write(fd, page + done, bytes - done);
            if (n <= 0) {
                close(fd);
                return -1;
            }
            done += (size_t)n;
        }
    }
    close(fd);
    return now() - t0;
}

static double wias_file(const char *path, BYTE *page, int pages)
{
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = NULL;
    double t0 = now();

    if (FAILED(wiasCreateStreamOnFile(path, STGM_READWRITE | STGM_CREATE, &s)))
        return -1;
    init_ctx(&c, page);
    for (int p = 0; p < pages; p++) {
        if (FAILED(wiasWritePageBufToStream(&c, s))) {
            s->lpVtbl->Release(s);
            return -1;
        }
    }
    s->lpVtbl->Release(s);
    return now() - t0;
}

static double best(double a, double b)
{
    if (a < 0)
        return b;
    return b >= 0 && b < a ? b : a;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int pages = argc > 1 ? atoi(argv[1]) : 10;
    const char *dir = argc > 2 ? argv[2] : getenv("TMPDIR");
    size_t bytes = (size_t)A4_W * 3 * A4_H;
    double tb_mem = -1, tw_mem = -1, tb_file = -1, tw_file = -1;
    ULONGLONG tiff_bytes = 0;
    double pair_mem[REPS], pair_file[REPS];
    char path[4096];
    char bpath[4096];
    BYTE *page;

    if (pages <= 0) {
        fprintf(stderr, "usage: %s [PAGES] [DIR]\n", argv[0]);
        return 2;
    }
    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(path, sizeof path, "%s/bench_wias.%ld.tif", dir, (long)getpid());
    snprintf(bpath, sizeof bpath, "%s/bench_wias.%ld.raw", dir, (long)getpid());
    page = malloc(bytes);
    if (!page)
        return 1;
    for (size_t i = 0; i < bytes; i++)
        page[i] = (BYTE)(i * 7 + i / 7443);

    for (int r = 0; r < REPS; r++) {
        double a, b;
        a = base_mem(page, bytes, pages);
        b = wias_mem(page, pages, &tiff_bytes);
        tb_mem = best(tb_mem, a);
        tw_mem = best(tw_mem, b);
        pair_mem[r] = a / b;
        /* fresh files each time, removed outside the timed region */
        unlink(bpath);
        a = base_file(bpath, page, bytes, pages);
        unlink(path);
        b = wias_file(path, page, pages);
        tb_file = best(tb_file, a);
        tw_file = best(tw_file, b);
        pair_file[r] = a / b;
    }
    unlink(path);
    unlink(bpath);
    free(page);
    if (tb_mem <= 0 || tw_mem <= 0 || tb_file <= 0 || tw_file <= 0) {
        fprintf(stderr, "bench_wias: a run failed\n");
        return 1;
    }

    double mb = (double)bytes * pages / 1e6;
    printf("bench_wias: %d uncompressed A4 300-dpi 24-bit pages (%zu bytes each), best of %d\n",
           pages, bytes, REPS);
    printf("%-8s %14s %14s %12s %7s %13s\n", "target", "bytes", "baseline MB/s", "wias MB/s",
           "ratio", "median pair");
    printf("%-8s %14llu %14.0f %12.0f %7.3f %13.3f\n", "memory", (unsigned long long)tiff_bytes,
           mb / tb_mem, mb / tw_mem, tb_mem / tw_mem, median(pair_mem, REPS));
    printf("%-8s %14llu %14.0f %12.0f %7.3f %13.3f\n", "file", (unsigned long long)tiff_bytes,
           mb / tb_file, mb / tw_file, tb_file / tw_file, median(pair_file, REPS));
    printf("(baseline: memcpy into one buffer / write() of the raw page bytes; "
           "ratio >= 0.9 is the target)\n");
    return 0;
}
