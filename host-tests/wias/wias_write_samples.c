/*
 * wias_write_samples DIR: writes one multipage TIFF per depth x codec into
 * DIR with wiasWritePageBufToStream(Ex), the exact page data next to each
 * page (DIR/<name>.p<N>.raw, packed rows as handed to wias: 16-bit samples
 * in host order, which the manifest names),
 * and DIR/manifest.json describing them. check_independent.py then reads
 * the files with readers that share no code with libtiff.
 *
 * Pages differ in height, the second one is written from padded rows, and
 * one file uses small strips, so multi-strip pages, stride handling and
 * IFD chaining are all exercised.
 */
#include <wias/wias.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sample {
    const char *name;
    LONG depth;
    LONG compression;
    ULONG flags;         /* WIAS_PAGE_* */
    LONG rows_per_strip; /* 0 = wias default */
};

static const struct sample samples[] = {
    {"bw_none", 1, WIA_COMPRESSION_NONE, 0, 0},
    {"bw_none_miniswhite", 1, WIA_COMPRESSION_NONE, WIAS_PAGE_MINISWHITE, 0},
    {"bw_g4", 1, WIA_COMPRESSION_G4, 0, 0},
    {"bw_g3", 1, WIA_COMPRESSION_G3, 0, 0},
    {"bw_lzw", 1, WIAS_COMPRESSION_LZW, 0, 0},
    {"gray_none", 8, WIA_COMPRESSION_NONE, 0, 0},
    {"gray_none_strips", 8, WIA_COMPRESSION_NONE, 0, 16},
    {"gray_lzw", 8, WIAS_COMPRESSION_LZW, 0, 0},
    {"gray_deflate", 8, WIAS_COMPRESSION_DEFLATE, 0, 0},
    {"gray_jpeg", 8, WIA_COMPRESSION_JPEG, 0, 0},
    {"gray16_none", 16, WIA_COMPRESSION_NONE, 0, 0},
    {"gray16_lzw", 16, WIAS_COMPRESSION_LZW, 0, 0},
    {"rgb_none", 24, WIA_COMPRESSION_NONE, 0, 0},
    {"rgb_lzw", 24, WIAS_COMPRESSION_LZW, 0, 0},
    {"rgb_lzw_strips", 24, WIAS_COMPRESSION_LZW, 0, 7},
    {"rgb_deflate", 24, WIAS_COMPRESSION_DEFLATE, 0, 0},
    {"rgb_jpeg", 24, WIA_COMPRESSION_JPEG, 0, 0},
    {"rgb48_none", 48, WIA_COMPRESSION_NONE, 0, 0},
    {"rgb48_lzw", 48, WIAS_COMPRESSION_LZW, 0, 0},
};

#define WIDTH 203 /* not a multiple of 8: bilevel rows end mid-byte */
#define DPI   150
static const LONG page_lines[] = {150, 97, 131};
#define NPAGES ((LONG)(sizeof page_lines / sizeof page_lines[0]))

/* Smooth colour/gray ramps with a few hard edges (JPEG-friendly, yet
 * every pixel differs between pages), bilevel text-like bars. */
static void fill_page(BYTE *row0, size_t stride, LONG depth, LONG lines, LONG page)
{
    for (LONG y = 0; y < lines; y++) {
        BYTE *row = row0 + (size_t)y * stride;
        for (LONG x = 0; x < WIDTH; x++) {
            unsigned r = (unsigned)(x * 255 / (WIDTH - 1));
            unsigned g = (unsigned)(y * 255 / (lines - 1));
            unsigned b = (x / 40 + y / 30 + (unsigned)page) % 2 ? 200u : 40u;
            switch (depth) {
            case 1:
                if (((x / 5 + y / 3 + page) % 3) == 0 || (x == y))
                    row[x / 8] = (BYTE)(row[x / 8] | (0x80u >> (x % 8)));
                break;
            case 8:
                row[x] = (BYTE)((r + g + (unsigned)page * 20) / 2);
                break;
            case 16: {
                uint16_t v = (uint16_t)(r * 256 + g * 3 + (unsigned)page * 1000 + (unsigned)x);
                memcpy(row + 2 * x, &v, 2); /* host order */
                break;
            }
            case 24:
                row[3 * x] = (BYTE)r;
                row[3 * x + 1] = (BYTE)(g ^ (unsigned)page * 64);
                row[3 * x + 2] = (BYTE)b;
                break;
            default: /* 48 */
                for (int c = 0; c < 3; c++) {
                    uint16_t v = (uint16_t)((c == 0   ? r
                                             : c == 1 ? g
                                                      : b) *
                                                257 +
                                            (unsigned)(x + y + page));
                    memcpy(row + 6 * x + 2 * c, &v, 2);
                }
                break;
            }
        }
    }
}

static int host_is_little(void)
{
    const uint16_t one = 1;
    BYTE b;

    memcpy(&b, &one, 1);
    return b == 1;
}

static int write_raw(const char *dir, const char *name, LONG page, const BYTE *buf, size_t stride,
                     size_t row_bytes, LONG lines)
{
    char path[4096];
    FILE *f;
    int ok = 1;

    snprintf(path, sizeof path, "%s/%s.p%ld.raw", dir, name, (long)page);
    f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "wias_write_samples: %s: %s\n", path, strerror(errno));
        return 0;
    }
    for (LONG y = 0; y < lines && ok; y++)
        ok = fwrite(buf + (size_t)y * stride, 1, row_bytes, f) == row_bytes;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "wias_write_samples: writing %s failed\n", path);
    return ok;
}

static int write_sample(const char *dir, const struct sample *s, FILE *manifest, int first)
{
    char path[4096];
    char err[256] = "";
    WIAS_PAGE_OPTIONS opt;
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *out = NULL;
    size_t row_bytes = ((size_t)WIDTH * (size_t)s->depth + 7) / 8;
    BYTE *buf = NULL;
    HRESULT hr;
    int ok = 0;

    snprintf(path, sizeof path, "%s/%s.tif", dir, s->name);
    hr = wiasCreateStreamOnFile(path, STGM_READWRITE | STGM_CREATE, &out);
    if (FAILED(hr)) {
        fprintf(stderr, "wias_write_samples: cannot create %s (0x%08X)\n", path, (unsigned)hr);
        return 0;
    }
    memset(&opt, 0, sizeof opt);
    opt.cbSize = sizeof opt;
    opt.ulFlags = s->flags;
    opt.lRowsPerStrip = s->rows_per_strip;
    opt.pszError = err;
    opt.cchError = sizeof err;
    memset(&c, 0, sizeof c);
    c.lSize = sizeof c;
    c.lWidthInPixels = WIDTH;
    c.lDepth = s->depth;
    c.lXRes = c.lYRes = DPI;
    c.lCompression = s->compression;
    c.guidFormatID = WiaImgFmt_TIFF;
    c.tymed = TYMED_MULTIPAGE_FILE;

    fprintf(manifest,
            "%s  {\"name\": \"%s\", \"depth\": %ld, \"compression\": %ld, "
            "\"miniswhite\": %s, \"rows_per_strip\": %ld, \"dpi\": %d, "
            "\"host_little\": %s, \"pages\": [",
            first ? "" : ",\n", s->name, (long)s->depth, (long)s->compression,
            (s->flags & WIAS_PAGE_MINISWHITE) ? "true" : "false", (long)s->rows_per_strip, DPI,
            host_is_little() ? "true" : "false");
    for (LONG p = 0; p < NPAGES; p++) {
        size_t stride = row_bytes + (p == 1 ? 5 : 0); /* page 1: padded rows */
        LONG lines = page_lines[p];

        free(buf);
        buf = calloc((size_t)lines, stride);
        if (!buf) {
            fprintf(stderr, "wias_write_samples: out of memory\n");
            goto out_release;
        }
        fill_page(buf, stride, s->depth, lines, p);
        c.lLines = lines;
        c.cbWidthInBytes = (LONG)stride;
        c.lBufferSize = (LONG)(stride * (size_t)lines);
        c.pTransferBuffer = buf;
        hr = wiasWritePageBufToStreamEx(&c, out, &opt);
        if (FAILED(hr)) {
            fprintf(stderr, "wias_write_samples: %s page %ld: %s (0x%08X) %s\n", s->name, (long)p,
                    wiasHresultName(hr) ? wiasHresultName(hr) : "?", (unsigned)hr, err);
            goto out_release;
        }
        if (!write_raw(dir, s->name, p, buf, stride, row_bytes, lines))
            goto out_release;
        fprintf(manifest, "%s{\"width\": %d, \"lines\": %ld, \"ifd\": %lu}", p ? ", " : "", WIDTH,
                (long)lines, (unsigned long)(ULONG)c.lCurIfdOffset);
    }
    fprintf(manifest, "]}");
    ok = 1;
out_release:
    free(buf);
    out->lpVtbl->Release(out);
    return ok;
}

int main(int argc, char **argv)
{
    char path[4096];
    FILE *manifest;
    int ok = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: wias_write_samples DIR\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/manifest.json", argv[1]);
    manifest = fopen(path, "w");
    if (!manifest) {
        fprintf(stderr, "wias_write_samples: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(manifest, "[\n");
    for (size_t i = 0; i < sizeof samples / sizeof samples[0] && ok; i++)
        ok = write_sample(argv[1], &samples[i], manifest, i == 0);
    fprintf(manifest, "\n]\n");
    if (fclose(manifest) != 0)
        ok = 0;
    return ok ? 0 : 1;
}
