/* bench_synth: how fast dm_synth_band makes pixels, against memset of the
 * same bytes in the same run. Prints MB/s and the ratio; never a test.
 * Usage: bench_synth [pages (20)] [color|gray|bw (color)] [dpi (300)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dm/dm.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint8_t sink;

int main(int argc, char **argv)
{
    dm_profile *p;
    proto_scan_params params;
    proto_scan_job job;
    char err[256];
    uint8_t *buf;
    size_t page_bytes = 0;
    int pages = argc > 1 ? atoi(argv[1]) : 20;
    double t0, t_synth, t_memset;
    const char *mode_arg = argc > 2 ? argv[2] : "color";
    int dpi = argc > 3 ? atoi(argv[3]) : 300;

    if (pages <= 0)
        pages = 20;
    if (dm_profile_load_default(&p, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_synth: %s\n", err);
        return 1;
    }
    memset(&params, 0, sizeof(params));
    params.source = PROTO_SCAN_SOURCE_ADF;
    params.mode = strcmp(mode_arg, "gray") == 0 ? PROTO_SCAN_MODE_GRAY8
                  : strcmp(mode_arg, "bw") == 0 ? PROTO_SCAN_MODE_BW
                                                : PROTO_SCAN_MODE_COLOR24;
    params.dpi = (uint16_t)(dpi > 0 && dpi <= 65535 ? dpi : 300);
    if (dm_job_resolve(p, &params, 1, &job, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_synth: %s\n", err);
        return 1;
    }
    buf = malloc(dm_band_bytes(&job, 0));
    if (buf == NULL)
        return 1;
    for (uint32_t b = 0; b < job.bands_per_page; b++)
        page_bytes += dm_band_bytes(&job, b);

    t0 = now_s();
    for (int pg = 0; pg < pages; pg++)
        for (uint32_t b = 0; b < job.bands_per_page; b++) {
            dm_synth_band(&job, (uint32_t)pg, 0, b, buf);
            sink ^= buf[0];
        }
    t_synth = now_s() - t0;

    t0 = now_s();
    for (int pg = 0; pg < pages; pg++)
        for (uint32_t b = 0; b < job.bands_per_page; b++) {
            memset(buf, pg + (int)b, dm_band_bytes(&job, b));
            sink ^= buf[b % 7];
        }
    t_memset = now_s() - t0;

    {
        double mb = (double)page_bytes * pages / 1e6;
        printf("page: A4 %s %u dpi, %ux%u px, %zu bytes, %u bands of %u lines\n", mode_arg, job.dpi,
               job.width_px, job.height_px, page_bytes, job.bands_per_page, job.band_lines);
        printf("dm_synth_band: %.1f MB/s (%d pages in %.3f s)\n", mb / t_synth, pages, t_synth);
        printf("memset:        %.1f MB/s\n", mb / t_memset);
        printf("ratio synth/memset: %.3f  (USB 2.0 high-speed bulk max: 53.2 MB/s; synth is "
               "%.0fx that)\n",
               t_memset / t_synth, mb / t_synth / 53.2);
    }
    free(buf);
    dm_profile_free(p);
    return 0;
}
