/* Helpers of the driver suites (see drvtest.h). */
#include <check.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include "drvtest.h"

const char *drvtest_fixture(char *buf, size_t len, const char *sub, const char *name)
{
    const char *src = getenv("SCANEMU_SOURCE_DIR");

    if (name[0] == '/')
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "%s/fixtures/%s/%s", src ? src : ".", sub, name);
    return buf;
}

static void *emu_thread(void *arg)
{
    emu_server_run(arg);
    return NULL;
}

void drvtest_emu_start(drvtest_emu *e, const char *profile, const char *scenario, uint64_t seed,
                       int timing)
{
    emu_options o;
    char err[256] = "";

    memset(e, 0, sizeof(*e));
    emu_options_init(&o);
    o.listen_host = "127.0.0.1";
    o.listen_port = 0;
    o.seed = seed;
    o.timing = timing;
    o.log_level = EMU_LOG_ERROR;
    if (profile) {
        e->profiles[0] = drvtest_fixture(e->profile, sizeof(e->profile), "profiles", profile);
        o.profile_paths = e->profiles;
        o.n_devices = 1;
    }
    if (scenario)
        o.scenario_path = drvtest_fixture(e->scenario, sizeof(e->scenario), "scenarios", scenario);
    ck_assert_msg(emu_server_create(&o, &e->srv, err, sizeof(err)) == 0, "emulator: %s", err);
    e->port = emu_server_port(e->srv);
    ck_assert_uint_ne(e->port, 0);
    snprintf(e->uri, sizeof(e->uri), "usbip://127.0.0.1:%u/1-1", e->port);
    ck_assert_int_eq(pthread_create(&e->thread, NULL, emu_thread, e->srv), 0);
}

void drvtest_emu_stop(drvtest_emu *e)
{
    if (!e->srv)
        return;
    emu_server_stop(e->srv);
    pthread_join(e->thread, NULL);
    emu_server_free(e->srv);
    e->srv = NULL;
}

void drvtest_mkdtemp(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/drvtest-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

void drvtest_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[1024];

    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (unlink(p) != 0)
            drvtest_rmdir(p); /* a directory: its files, then it */
    }
    closedir(d);
    rmdir(dir);
}

int drvtest_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

uint8_t *drvtest_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void quiet_tiff(const char *module, const char *fmt, va_list ap)
{
    (void)module;
    (void)fmt;
    (void)ap;
}

void drvtest_check_tiff(const char *path, const proto_scan_job *job, uint32_t pages, int pixels)
{
    size_t bpl = job->bytes_per_line, page_bytes = bpl * job->height_px;
    uint8_t *expect = malloc(page_bytes), *got = malloc(page_bytes);
    unsigned spp = job->bits_per_pixel % 3 == 0 ? 3 : 1;
    uint32_t dirs = 0;
    TIFF *tif;

    ck_assert_ptr_nonnull(expect);
    ck_assert_ptr_nonnull(got);
    TIFFSetWarningHandler(quiet_tiff);
    tif = TIFFOpen(path, "r");
    ck_assert_msg(tif != NULL, "libtiff cannot open %s", path);
    ck_assert_uint_eq(TIFFNumberOfDirectories(tif), pages);
    do {
        uint32_t w = 0, h = 0, rps = 0, row = 0, side;
        uint16_t bps = 0, spp_got = 0, unit = 0;
        float xres = 0, yres = 0;
        tstrip_t s, nstrips;

        ck_assert_uint_lt(dirs, pages);
        ck_assert(TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w));
        ck_assert(TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h));
        ck_assert_uint_eq(w, job->width_px);
        ck_assert_uint_eq(h, job->height_px);
        ck_assert(TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps));
        ck_assert(TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp_got));
        ck_assert_uint_eq(spp_got, spp);
        ck_assert_uint_eq((unsigned)bps * spp_got, job->bits_per_pixel);
        ck_assert(TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xres));
        ck_assert(TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yres));
        ck_assert(TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit));
        ck_assert_uint_eq(unit, RESUNIT_INCH);
        ck_assert(xres > job->dpi - 0.01 && xres < job->dpi + 0.01);
        ck_assert(yres > job->dpi - 0.01 && yres < job->dpi + 0.01);
        ck_assert(TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps));
        nstrips = TIFFNumberOfStrips(tif);
        for (s = 0; s < nstrips; s++) {
            uint32_t rows = h - row < rps ? h - row : rps;
            tmsize_t n = TIFFReadEncodedStrip(tif, s, got + (size_t)row * bpl,
                                              (tmsize_t)(page_bytes - (size_t)row * bpl));

            ck_assert_msg(n > 0, "%s page %u: strip %u does not decode", path, dirs + 1, s);
            if (pixels)
                ck_assert_int_eq(n, (tmsize_t)((size_t)rows * bpl));
            row += rows;
        }
        ck_assert_uint_eq(row, h);
        if (pixels) {
            side = job->source == PROTO_SCAN_SOURCE_DUPLEX ? dirs % 2 : 0;
            for (uint32_t b = 0; b < job->bands_per_page; b++)
                dm_synth_band(job, dirs, side, b, expect + (size_t)b * job->band_lines * bpl);
            for (uint32_t r = 0; r < h; r++) {
                uint8_t *e = expect + (size_t)r * bpl, *g = got + (size_t)r * bpl;
                unsigned pad = (unsigned)(bpl * 8 - (size_t)w * job->bits_per_pixel);

                if (pad) { /* bits past the last pixel of a row carry nothing */
                    e[bpl - 1] &= (uint8_t)(0xFFu << pad);
                    g[bpl - 1] &= (uint8_t)(0xFFu << pad);
                }
                if (memcmp(e, g, bpl) != 0) {
                    size_t i = 0;

                    while (e[i] == g[i])
                        i++;
                    ck_abort_msg("%s page %u row %u byte %zu: got 0x%02x, the device model "
                                 "says 0x%02x",
                                 path, dirs + 1, r, i, g[i], e[i]);
                }
            }
        }
        dirs++;
    } while (TIFFReadDirectory(tif));
    ck_assert_uint_eq(dirs, pages);
    TIFFClose(tif);
    free(expect);
    free(got);
}

uint16_t drvtest_closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void *peer_run(void *arg)
{
    drvtest_peer *fp = arg;
    int fd = accept(fp->lfd, NULL, NULL);
    char buf[64];

    if (fd >= 0) {
        if (fp->reply && fp->reply_len) {
            size_t got = 0;
            while (got < 40) {
                ssize_t r = read(fd, buf, 40 - got);
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            ssize_t n = write(fd, fp->reply, fp->reply_len);
            (void)n;
        } else if (fp->reply) {
            ssize_t n = write(fd, fp->reply, strlen(fp->reply));
            (void)n;
        } else {
            while (read(fd, buf, sizeof(buf)) > 0)
                ;
        }
        close(fd);
    }
    return NULL;
}

void drvtest_peer_start(drvtest_peer *fp, const char *reply)
{
    drvtest_peer_start_bytes(fp, reply, 0);
}

void drvtest_peer_start_bytes(drvtest_peer *fp, const void *reply, size_t len)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);

    fp->reply = reply;
    fp->reply_len = len;
    fp->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fp->lfd, 0);
    ck_assert_int_eq(bind(fp->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fp->lfd, 1), 0);
    ck_assert_int_eq(getsockname(fp->lfd, (struct sockaddr *)&a, &al), 0);
    fp->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&fp->th, NULL, peer_run, fp), 0);
}

void drvtest_peer_stop(drvtest_peer *fp)
{
    shutdown(fp->lfd, SHUT_RDWR);
    pthread_join(fp->th, NULL);
    close(fp->lfd);
}
