/*
 * bench_wias [PAGES] [DIR]
 *
 * Writes PAGES (default 10) uncompressed A4 300-dpi 24-bit pages with
 * wiasWritePageBufToStream into a memory stream and into a file in DIR
 * (default $TMPDIR or /tmp), and compares with writing the same page bytes
 * with plain memcpy() into one fresh buffer and write() into a fresh file,
 * measured alternately in the same run, REPS times each.
 *
 * Reported per target: throughput from the best wall time of baseline and
 * wias, their ratio (wias / baseline), and the ratio of the best process CPU
 * times (user + system: page faults and the kernel's page-cache copies are
 * included), which is much steadier than wall time on a loaded machine.
 * A ratio of 1.0 means wias costs nothing over copying the raw bytes.
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
#define REPS 7

struct cost {
    double wall;
    double cpu;
};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct cost start(void)
{
    struct cost c = {clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID)};
    return c;
}

static struct cost since(struct cost t0)
{
    struct cost c = {clock_s(CLOCK_MONOTONIC) - t0.wall,
                     clock_s(CLOCK_PROCESS_CPUTIME_ID) - t0.cpu};
    return c;
}

static const struct cost failed_run = {-1, -1};
static volatile BYTE sink;

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

static struct cost base_mem(const BYTE *page, size_t bytes, long pages)
{
    struct cost t0 = start(), t;
    BYTE *out = malloc(bytes * (size_t)pages);

    if (!out)
        return failed_run;
    for (long p = 0; p < pages; p++)
        memcpy(out + (size_t)p * bytes, page, bytes);
    t = since(t0);
    /* keep the copy observable */
    sink = out[(size_t)pages * bytes - 1];
    free(out);
    return t;
}

static struct cost wias_mem(BYTE *page, long pages, ULONGLONG *total)
{
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = NULL;
    STATSTG st;
    struct cost t0 = start(), t;

    if (FAILED(wiasCreateMemoryStream(&s)))
        return failed_run;
    init_ctx(&c, page);
    for (long p = 0; p < pages; p++) {
        if (FAILED(wiasWritePageBufToStream(&c, s))) {
            s->lpVtbl->Release(s);
            return failed_run;
        }
    }
    t = since(t0);
    s->lpVtbl->Stat(s, &st, STATFLAG_NONAME);
    *total = st.cbSize.QuadPart;
    s->lpVtbl->Release(s);
    return t;
}

static struct cost base_file(const char *path, const BYTE *page, size_t bytes, long pages)
{
    struct cost t0 = start();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0)
        return failed_run;
    for (long p = 0; p < pages; p++) {
        size_t done = 0;
        while (done < bytes) {
            ssize_t n = write(fd, page + done, bytes - done);
            if (n <= 0) {
                close(fd);
                return failed_run;
            }
            done += (size_t)n;
        }
    }
    close(fd);
    return since(t0);
}

static struct cost wias_file(const char *path, BYTE *page, long pages)
{
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = NULL;
    struct cost t0 = start();

    if (FAILED(wiasCreateStreamOnFile(path, STGM_READWRITE | STGM_CREATE, &s)))
        return failed_run;
    init_ctx(&c, page);
    for (long p = 0; p < pages; p++) {
        if (FAILED(wiasWritePageBufToStream(&c, s))) {
            s->lpVtbl->Release(s);
            return failed_run;
        }
    }
    s->lpVtbl->Release(s);
    return since(t0);
}

static void keep_best(struct cost *best, struct cost c, int *failed)
{
    if (c.wall < 0) {
        *failed = 1;
        return;
    }
    if (best->wall < 0 || c.wall < best->wall)
        best->wall = c.wall;
    if (best->cpu < 0 || c.cpu < best->cpu)
        best->cpu = c.cpu;
}

static void row(const char *name, ULONGLONG bytes, double mb, struct cost base, struct cost w)
{
    printf("%-8s %12llu %14.0f %11.0f %11.3f %10.3f\n", name, (unsigned long long)bytes,
           mb / base.wall, mb / w.wall, base.wall / w.wall, base.cpu / w.cpu);
}

int main(int argc, char **argv)
{
    long pages = argc > 1 ? strtol(argv[1], NULL, 10) : 10;
    const char *dir = argc > 2 ? argv[2] : getenv("TMPDIR");
    size_t bytes = (size_t)A4_W * 3 * A4_H;
    struct cost bm = failed_run, wm = failed_run, bf = failed_run, wf = failed_run;
    ULONGLONG tiff_bytes = 0;
    int failed = 0;
    char path[4096];
    char bpath[4096];
    BYTE *page;
    double mb;

    if (pages <= 0 || pages > 100000) {
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

    for (int r = 0; r < REPS && !failed; r++) {
        keep_best(&bm, base_mem(page, bytes, pages), &failed);
        keep_best(&wm, wias_mem(page, pages, &tiff_bytes), &failed);
        /* fresh files each time, removed outside the timed region */
        unlink(bpath);
        keep_best(&bf, base_file(bpath, page, bytes, pages), &failed);
        unlink(path);
        keep_best(&wf, wias_file(path, page, pages), &failed);
    }
    unlink(path);
    unlink(bpath);
    free(page);
    if (failed) {
        fprintf(stderr, "bench_wias: a run failed\n");
        return 1;
    }

    mb = (double)bytes * pages / 1e6;
    printf("bench_wias: %ld uncompressed A4 300-dpi 24-bit pages (%zu bytes each), best of %d\n",
           pages, bytes, REPS);
    printf("%-8s %12s %14s %11s %11s %10s\n", "target", "TIFF bytes", "baseline MB/s", "wias MB/s",
           "wall ratio", "CPU ratio");
    row("memory", tiff_bytes, mb, bm, wm);
    row("file", tiff_bytes, mb, bf, wf);
    printf("baseline: memcpy() into one buffer / write() of the raw page bytes; "
           "ratio = wias / baseline, target >= 0.9\n");
    return 0;
}
