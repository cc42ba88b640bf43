#include "wias-test-util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

size_t tu_row_bytes(LONG width, LONG depth)
{
    return (size_t)(((uint64_t)width * (uint64_t)depth + 7) / 8);
}

static void put_sample(BYTE *row, LONG depth, LONG x, int comp, unsigned v)
{
    switch (depth) {
    case 1:
        if (v & 1)
            row[x / 8] |= (BYTE)(0x80 >> (x % 8));
        break;
    case 8:
        row[x] = (BYTE)v;
        break;
    case 16: {
        uint16_t s = (uint16_t)v;
        memcpy(row + 2 * (size_t)x, &s, 2);
        break;
    }
    case 24:
        row[3 * (size_t)x + (size_t)comp] = (BYTE)v;
        break;
    case 48: {
        uint16_t s = (uint16_t)v;
        memcpy(row + 6 * (size_t)x + 2 * (size_t)comp, &s, 2);
        break;
    }
    default:
        break;
    }
}

BYTE *tu_make_page(LONG width, LONG lines, LONG depth, LONG stride, unsigned seed)
{
    BYTE *buf = calloc((size_t)stride, (size_t)lines);

    if (!buf)
        return NULL;
    for (LONG y = 0; y < lines; y++) {
        BYTE *row = buf + (size_t)y * (size_t)stride;
        for (LONG x = 0; x < width; x++) {
            if (depth == 1) {
                /* text-like blocks and a diagonal */
                unsigned on =
                    ((x / 6 + y / 9 + seed) % 5 == 0) || ((x + (LONG)seed) % 97 == y % 97);
                put_sample(row, depth, x, 0, on);
                continue;
            }
            for (int c = 0; c < (depth >= 24 ? 3 : 1); c++) {
                double fx = (double)x / width, fy = (double)y / lines;
                double v = 0.5 + 0.35 * sin(6.0 * fx + 2.0 * c + seed) * cos(4.0 * fy + c) +
                           0.1 * (fx - fy);
                if (v < 0)
                    v = 0;
                if (v > 1)
                    v = 1;
                unsigned s =
                    (depth == 16 || depth == 48) ? (unsigned)(v * 65535.0) : (unsigned)(v * 255.0);
                put_sample(row, depth, x, c, s);
            }
        }
    }
    return buf;
}

void tu_init_ctx(MINIDRV_TRANSFER_CONTEXT *c, LONG width, LONG lines, LONG depth, LONG compression,
                 LONG stride, BYTE *buf)
{
    memset(c, 0, sizeof *c);
    c->lSize = (LONG)sizeof *c;
    c->lWidthInPixels = width;
    c->lLines = lines;
    c->lDepth = depth;
    c->lXRes = 300;
    c->lYRes = 200;
    c->lCompression = compression;
    c->guidFormatID = WiaImgFmt_TIFF;
    c->tymed = TYMED_MULTIPAGE_FILE;
    c->hFile = -1;
    c->cbWidthInBytes = stride;
    {
        int64_t size = (int64_t)stride * lines;
        c->lBufferSize = size > INT32_MAX ? INT32_MAX : (LONG)size;
    }
    c->pTransferBuffer = buf;
    c->pBaseBuffer = buf;
    c->lImageSize = c->lBufferSize;
}

char *tu_temp_path(const char *tag)
{
    const char *dir = getenv("TMPDIR");
    char *path;
    int fd;

    if (!dir || !*dir)
        dir = "/tmp";
    path = malloc(strlen(dir) + strlen(tag) + 32);
    if (!path)
        return NULL;
    sprintf(path, "%s/wias-%s-XXXXXX", dir, tag);
    fd = mkstemp(path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

BYTE *tu_snapshot(IStream *stm, ULONGLONG *len)
{
    const BYTE *data;
    BYTE *copy;

    if (FAILED(wiasMemoryStreamGetBuffer(stm, &data, len)))
        return NULL;
    copy = malloc(*len ? (size_t)*len : 1);
    if (copy && *len)
        memcpy(copy, data, (size_t)*len);
    return copy;
}

char *tu_stream_to_tempfile(IStream *stm)
{
    const BYTE *data;
    ULONGLONG len;
    char *path;
    FILE *f;

    if (FAILED(wiasMemoryStreamGetBuffer(stm, &data, &len)))
        return NULL;
    path = tu_temp_path("mem");
    if (!path)
        return NULL;
    f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, (size_t)len, f) != len)) {
        if (f)
            fclose(f);
        unlink(path);
        free(path);
        return NULL;
    }
    fclose(f);
    return path;
}

struct tu_handler {
    int errors;
    char last[256];
};

__attribute__((format(printf, 4, 0))) static int
tu_on_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    struct tu_handler *h = ud;
    (void)tif;
    (void)module;
    h->errors++;
    vsnprintf(h->last, sizeof h->last, fmt, ap);
    return 1;
}

__attribute__((format(printf, 4, 0))) static int
tu_on_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)ud;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

static TIFF *tu_open(const char *path, struct tu_handler *h)
{
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    TIFF *t;

    memset(h, 0, sizeof *h);
    TIFFOpenOptionsSetErrorHandlerExtR(o, tu_on_error, h);
    TIFFOpenOptionsSetWarningHandlerExtR(o, tu_on_warning, h);
    t = TIFFOpenExt(path, "r", o);
    TIFFOpenOptionsFree(o);
    return t;
}

int tu_count_pages(const char *path)
{
    struct tu_handler h;
    TIFF *t = tu_open(path, &h);
    int n;

    if (!t)
        return -1;
    n = TIFFNumberOfDirectories(t);
    TIFFClose(t);
    return h.errors ? -1 : n;
}

static uint16_t expect_tiff_compression(LONG c)
{
    switch (c) {
    case WIA_COMPRESSION_NONE:
        return COMPRESSION_NONE;
    case WIA_COMPRESSION_G3:
        return COMPRESSION_CCITTFAX3;
    case WIA_COMPRESSION_G4:
        return COMPRESSION_CCITTFAX4;
    case WIA_COMPRESSION_JPEG:
        return COMPRESSION_JPEG;
    case WIAS_COMPRESSION_LZW:
        return COMPRESSION_LZW;
    case WIAS_COMPRESSION_DEFLATE:
        return COMPRESSION_ADOBE_DEFLATE;
    default:
        return 0xFFFF;
    }
}

const char *tu_check_page(const char *path, int dir, const struct tu_page_expect *e)
{
    static char msg[512];
    struct tu_handler h;
    TIFF *t = tu_open(path, &h);
    uint32_t w = 0, l = 0, subfile = 0;
    uint16_t bps = 0, spp = 0, comp = 0, photo = 0, unit = 0, pg = 0, pgtotal = 0;
    float xr = 0, yr = 0;
    size_t rb = tu_row_bytes(e->width, e->depth);
    BYTE *row = NULL;
    double se = 0;
    uint64_t nsamples = 0;
    int spp_expect = e->depth >= 24 ? 3 : 1;
    int bps_expect = e->depth == 1 ? 1 : (e->depth == 16 || e->depth == 48) ? 16 : 8;

    msg[0] = '\0';
    if (!t) {
        snprintf(msg, sizeof msg, "open failed: %s", h.last);
        return msg;
    }
    if (!TIFFSetDirectory(t, (tdir_t)dir)) {
        snprintf(msg, sizeof msg, "no directory %d", dir);
        goto out;
    }
    if (e->ifd_offset && TIFFCurrentDirOffset(t) != e->ifd_offset) {
        snprintf(msg, sizeof msg, "IFD %d at %llu, context says %llu", dir,
                 (unsigned long long)TIFFCurrentDirOffset(t), (unsigned long long)e->ifd_offset);
        goto out;
    }
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &l);
    TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetField(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetField(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
    TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
    TIFFGetField(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    TIFFGetField(t, TIFFTAG_SUBFILETYPE, &subfile);
    TIFFGetField(t, TIFFTAG_PAGENUMBER, &pg, &pgtotal);
    if ((LONG)w != e->width || (LONG)l != e->lines || bps != bps_expect || spp != spp_expect ||
        comp != expect_tiff_compression(e->compression) || unit != RESUNIT_INCH ||
        fabsf(xr - (float)e->xres) > 0.01f || fabsf(yr - (float)e->yres) > 0.01f ||
        subfile != FILETYPE_PAGE || pg != e->page) {
        snprintf(msg, sizeof msg,
                 "tags: %ux%u bps %u spp %u comp %u unit %u res %.1fx%.1f subfile %u page %u", w, l,
                 bps, spp, comp, unit, (double)xr, (double)yr, subfile, pg);
        goto out;
    }
    if (spp == 1) {
        uint16_t want = e->miniswhite ? PHOTOMETRIC_MINISWHITE : PHOTOMETRIC_MINISBLACK;
        if (photo != want) {
            snprintf(msg, sizeof msg, "photometric %u", photo);
            goto out;
        }
    }
    if (comp == COMPRESSION_JPEG && photo == PHOTOMETRIC_YCBCR)
        TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    if ((size_t)TIFFScanlineSize(t) != rb) {
        snprintf(msg, sizeof msg, "scanline size %lld, expected %zu",
                 (long long)TIFFScanlineSize(t), rb);
        goto out;
    }
    row = malloc(rb);
    for (uint32_t y = 0; y < l; y++) {
        const BYTE *src = e->pixels + (size_t)y * (size_t)e->stride;
        if (TIFFReadScanline(t, row, y, 0) < 0) {
            snprintf(msg, sizeof msg, "read row %u failed: %s", y, h.last);
            goto out;
        }
        if (e->min_psnr == 0) {
            size_t full = e->depth == 1 ? (size_t)e->width / 8 : rb;
            if (memcmp(row, src, full) != 0) {
                snprintf(msg, sizeof msg, "row %u differs", y);
                goto out;
            }
            if (e->depth == 1 && e->width % 8) {
                BYTE mask = (BYTE)(0xFF << (8 - e->width % 8));
                if ((row[full] & mask) != (src[full] & mask)) {
                    snprintf(msg, sizeof msg, "row %u differs in last byte", y);
                    goto out;
                }
            }
        } else {
            for (size_t i = 0; i < rb; i++) {
                double d = (double)row[i] - (double)src[i];
                se += d * d;
                nsamples++;
            }
        }
    }
    if (e->min_psnr > 0) {
        double mse = se / (double)nsamples;
        double psnr = mse == 0 ? 99.0 : 10.0 * log10(255.0 * 255.0 / mse);
        if (psnr < e->min_psnr) {
            snprintf(msg, sizeof msg, "PSNR %.2f dB below %.2f", psnr, e->min_psnr);
            goto out;
        }
    }
    if (h.errors)
        snprintf(msg, sizeof msg, "libtiff error: %s", h.last);
out:
    free(row);
    TIFFClose(t);
    return msg[0] ? msg : NULL;
}

int tu_tiffinfo_ok(const char *path, char *msg, size_t msglen)
{
    char cmd[1024];
    char line[512];
    FILE *p;
    int bad = 0;
    int status;

    msg[0] = '\0';
    /* stdout (the dump) is discarded; stderr is what we read */
    snprintf(cmd, sizeof cmd, "tiffinfo -D '%s' 2>&1 >/dev/null", path);
    p = popen(cmd, "r");
    if (!p) {
        snprintf(msg, msglen, "popen failed");
        return -1;
    }
    while (fgets(line, sizeof line, p)) {
        if (strstr(line, "rror") || strstr(line, "arning")) {
            bad = 1;
            if (!msg[0])
                snprintf(msg, msglen, "%s", line);
        }
    }
    status = pclose(p);
    if (status != 0) {
        if (!msg[0])
            snprintf(msg, msglen, "tiffinfo exit status %d", status);
        return -1;
    }
    return bad ? -1 : 0;
}
