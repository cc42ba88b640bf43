/*
 * Multipage TIFF page writer: wiasWritePageBufToStream and the strip API.
 *
 * Each page is encoded by libtiff, opened with TIFFClientOpenExt in "w" mode
 * over an adapter that maps libtiff's file onto the application's IStream:
 *   - the virtual file's end is the stream's end, so libtiff appends the new
 *     page's strips and IFD after the pages already written (O(1) per page,
 *     no IFD chain walk for classic TIFF);
 *   - libtiff's writes into the file header (its fresh header and the
 *     pointer to "its" first IFD) go to a shadow copy, never to the stream;
 *   - any write into the bytes of earlier pages is refused.
 * After libtiff has written every byte of the page, the new IFD's offset is
 * read from the shadow header and linked in with a single small write: the
 * header (first page) or the previous IFD's next-IFD field. Until then the
 * file on the stream is exactly the previous, valid multipage TIFF.
 */
#include "wias-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <tiffio.h>

#define CLASSIC_MAX_END 0x100000000ull /* a classic TIFF ends at or before 4 GiB */

struct geometry {
    uint32_t width;
    uint32_t lines;
    uint16_t bps;
    uint16_t spp;
    uint16_t photometric;
    uint16_t compression; /* libtiff COMPRESSION_* */
    uint16_t predictor;   /* 0: none */
    size_t row_bytes;     /* packed TIFF row */
    size_t stride;        /* cbWidthInBytes */
    uint32_t rows_per_strip;
    int jpeg_quality;
    int deflate_level;
    ULONG flags;
};

struct WIAS_PAGE_WRITER {
    PMINIDRV_TRANSFER_CONTEXT pmdtc;
    IStream *stm;
    struct geometry g;
    char *err_out;
    ULONG err_out_len;

    BOOL big;               /* BigTIFF */
    BOOL little;            /* file byte order */
    BOOL swab16;            /* 16-bit samples need swapping: copy before encoding */
    ULONGLONG rollback_end; /* stream size to restore on failure */
    ULONGLONG link_pos;     /* where the new IFD's offset is written (page > 0) */

    /* adapter state */
    BYTE hdr[16];
    size_t hdr_len;
    ULONGLONG protect_end; /* [hdr_len, protect_end) belongs to earlier pages */
    ULONGLONG pos;
    ULONGLONG end;
    ULONGLONG stm_pos;
    BOOL stm_pos_known;
    BOOL aborting;
    HRESULT hr_io;

    TIFF *tif;
    uint32_t strip;      /* next strip index */
    uint32_t rows_done;  /* rows accepted from the caller */
    uint32_t strip_rows; /* rows waiting in strip_buf */
    BYTE *strip_buf;
    HRESULT hr_fail; /* sticky failure */
    char msg[256];
};

/* ---- validation -------------------------------------------------------- */

static HRESULT resolve_options(const WIAS_PAGE_OPTIONS *o, struct geometry *g, LONG *rps)
{
    g->jpeg_quality = 85;
    g->deflate_level = 6;
    g->flags = 0;
    *rps = 0;
    if (!o)
        return S_OK;
    if (o->cbSize != sizeof(WIAS_PAGE_OPTIONS))
        return E_INVALIDARG;
    if (o->ulFlags & ~(ULONG)(WIAS_PAGE_BIGTIFF | WIAS_PAGE_MINISWHITE))
        return E_INVALIDARG;
    if (o->lJpegQuality < 0 || o->lJpegQuality > 100 || o->lDeflateLevel < 0 ||
        o->lDeflateLevel > 9 || o->lRowsPerStrip < 0)
        return E_INVALIDARG;
    if (o->pszError && o->cchError == 0)
        return E_INVALIDARG;
    if (o->lJpegQuality)
        g->jpeg_quality = o->lJpegQuality;
    if (o->lDeflateLevel)
        g->deflate_level = o->lDeflateLevel;
    g->flags = o->ulFlags;
    *rps = o->lRowsPerStrip;
    return S_OK;
}

static HRESULT check_context(const MINIDRV_TRANSFER_CONTEXT *c, const WIAS_PAGE_OPTIONS *o,
                             struct geometry *g)
{
    uint64_t row_bits;
    LONG rps_opt;
    uint64_t rps;
    HRESULT hr;

    hr = resolve_options(o, g, &rps_opt);
    if (FAILED(hr))
        return hr;
    if (c->lWidthInPixels <= 0 || c->lLines <= 0 || c->lXRes <= 0 || c->lYRes <= 0 ||
        c->cbWidthInBytes <= 0 || c->lPage < 0)
        return E_INVALIDARG;
    if (!wias_format_is_tiff(&c->guidFormatID))
        return E_INVALIDARG; /* other formats have no strips to encode */
    /* lPage > 0 with lCurIfdOffset == 0 is checked against the file in
     * find_link: refused for classic TIFF (no IFD at 0), valid for BigTIFF
     * (an IFD at a multiple of 4 GiB keeps 0 in the low 32 bits). */

    switch (c->lDepth) {
    case 1:
    case 8:
    case 16:
        g->bps = (uint16_t)c->lDepth;
        g->spp = 1;
        break;
    case 24:
        g->bps = 8;
        g->spp = 3;
        break;
    case 48:
        g->bps = 16;
        g->spp = 3;
        break;
    default:
        return E_INVALIDARG;
    }
    g->width = (uint32_t)c->lWidthInPixels;
    g->lines = (uint32_t)c->lLines;
    row_bits = (uint64_t)g->width * (uint64_t)c->lDepth;
    g->row_bytes = (size_t)((row_bits + 7) / 8);
    g->stride = (size_t)c->cbWidthInBytes;
    if (g->row_bytes > g->stride)
        return E_INVALIDARG;

    g->predictor = 0;
    switch (c->lCompression) {
    case WIA_COMPRESSION_NONE:
        g->compression = COMPRESSION_NONE;
        break;
    case WIA_COMPRESSION_G3:
    case WIA_COMPRESSION_G4:
        if (c->lDepth != 1)
            return E_INVALIDARG;
        g->compression =
            c->lCompression == WIA_COMPRESSION_G3 ? COMPRESSION_CCITTFAX3 : COMPRESSION_CCITTFAX4;
        break;
    case WIA_COMPRESSION_JPEG:
        if (c->lDepth != 8 && c->lDepth != 24)
            return E_INVALIDARG;
        g->compression = COMPRESSION_JPEG;
        break;
    case WIAS_COMPRESSION_LZW:
    case WIAS_COMPRESSION_DEFLATE:
        g->compression =
            c->lCompression == WIAS_COMPRESSION_LZW ? COMPRESSION_LZW : COMPRESSION_ADOBE_DEFLATE;
        if (g->bps >= 8)
            g->predictor = PREDICTOR_HORIZONTAL;
        break;
    default:
        return E_INVALIDARG;
    }

    if (g->spp == 3)
        g->photometric = g->compression == COMPRESSION_JPEG ? PHOTOMETRIC_YCBCR : PHOTOMETRIC_RGB;
    else
        g->photometric =
            (g->flags & WIAS_PAGE_MINISWHITE) ? PHOTOMETRIC_MINISWHITE : PHOTOMETRIC_MINISBLACK;

    if (rps_opt > 0) {
        rps = (uint64_t)rps_opt;
    } else {
        /* Uncompressed strips are large: one Write per 4 MiB keeps the
         * per-call cost of the stream (a syscall for files) out of the
         * profile. Compressed strips stay small enough for codec buffers. */
        size_t target = g->compression == COMPRESSION_NONE ? 4096 * 1024 : 64 * 1024;
        rps = target / g->row_bytes;
        if (rps == 0)
            rps = 1;
    }
    if (g->compression == COMPRESSION_JPEG)
        rps = (rps + 15) / 16 * 16;
    if (rps > g->lines)
        rps = g->lines;
    g->rows_per_strip = (uint32_t)rps;
    return S_OK;
}

/* Saturating arithmetic: a worst case that does not fit 64 bits is
 * "too big", never a small wrapped number the 4 GiB guard would accept. */
static ULONGLONG sat_mul(ULONGLONG a, ULONGLONG b)
{
    ULONGLONG r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static ULONGLONG sat_add(ULONGLONG a, ULONGLONG b)
{
    ULONGLONG r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static ULONGLONG worst_case(const struct geometry *g, BOOL big)
{
    ULONGLONG rps = g->rows_per_strip;
    ULONGLONG nstrips = (g->lines + rps - 1) / rps;
    ULONGLONG raw = sat_mul(g->row_bytes, g->lines);
    ULONGLONG data;
    ULONGLONG ifd;

    switch (g->compression) {
    case COMPRESSION_NONE:
        data = raw;
        break;
    case COMPRESSION_LZW:
        /* at most one 12-bit code per input byte, plus clear/EOI codes */
        data = sat_add(sat_add(raw, raw / 2), sat_mul(16, nstrips));
        break;
    case COMPRESSION_ADOBE_DEFLATE:
        /* zlib's stored-block overhead (deflateBound) plus the wrapper */
        data = sat_add(sat_add(raw, raw / 256), sat_mul(64, nstrips));
        break;
    case COMPRESSION_CCITTFAX3:
    case COMPRESSION_CCITTFAX4:
        /* no CCITT code spends more than 12 bits per pixel; EOLs per row */
        data = sat_add(sat_mul(((ULONGLONG)g->width * 12 + 64 + 7) / 8, g->lines),
                       sat_mul(16, nstrips));
        break;
    default: /* JPEG: padded to 16x16 MCUs, <= 26 bits per coefficient */
        data = sat_mul(sat_mul(((ULONGLONG)g->width + 15) / 16 * 16, (rps + 15) / 16 * 16),
                       sat_mul(nstrips, (ULONGLONG)g->spp * 4));
        data = sat_add(data, sat_mul(4096, nstrips));
        break;
    }
    /* IFD: ~20 entries, StripOffsets + StripByteCounts, out-of-line values
     * (rationals, BitsPerSample, Software, JPEGTables) and alignment. */
    ifd = big ? 8 + 20 * 24 + 8 + nstrips * 16 : 2 + 20 * 12 + 4 + nstrips * 8;
    return sat_add(sat_add(data, ifd), 4096);
}

HRESULT wiasWorstCasePageSize(const MINIDRV_TRANSFER_CONTEXT *pmdtc, BOOL fBigTiff,
                              ULONGLONG *pcbWorst)
{
    struct geometry g;
    HRESULT hr;

    if (!pmdtc || !pcbWorst)
        return E_POINTER;
    hr = check_context(pmdtc, NULL, &g);
    if (FAILED(hr))
        return hr;
    *pcbWorst = worst_case(&g, fBigTiff);
    return S_OK;
}

/* ---- byte order helpers ----------------------------------------------- */

static BOOL host_is_little(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static ULONGLONG get_uint(const BYTE *p, size_t n, BOOL little)
{
    ULONGLONG v = 0;

    for (size_t i = 0; i < n; i++) {
        size_t k = little ? n - 1 - i : i;
        v = (v << 8) | p[k];
    }
    return v;
}

static void put_uint(BYTE *p, size_t n, ULONGLONG v, BOOL little)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = little ? i : n - 1 - i;
        p[k] = (BYTE)(v >> (8 * i));
    }
}

static HRESULT read_at(IStream *stm, ULONGLONG off, void *buf, ULONG n)
{
    HRESULT hr = wias_stream_seek_set(stm, off);
    if (FAILED(hr))
        return hr;
    return wias_stream_read_all(stm, buf, n);
}

static HRESULT write_at(IStream *stm, ULONGLONG off, const void *buf, ULONG n)
{
    HRESULT hr = wias_stream_seek_set(stm, off);
    if (FAILED(hr))
        return hr;
    return wias_stream_write_all(stm, buf, n);
}

/* ---- libtiff I/O adapter ---------------------------------------------- */

__attribute__((format(printf, 4, 0))) static int
on_tiff_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    struct WIAS_PAGE_WRITER *w = ud;
    int n;

    (void)tif;
    if (w->aborting)
        return 1;
    n = snprintf(w->msg, sizeof w->msg, "%s: ", module ? module : "libtiff");
    if (n < 0 || (size_t)n >= sizeof w->msg)
        n = 0;
    vsnprintf(w->msg + n, sizeof w->msg - (size_t)n, fmt, ap);
    return 1; /* handled: nothing reaches libtiff's global handler */
}

__attribute__((format(printf, 4, 0))) static int
on_tiff_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)ud;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

static void io_fail(struct WIAS_PAGE_WRITER *w, HRESULT hr, const char *what)
{
    if (SUCCEEDED(w->hr_io)) {
        w->hr_io = hr;
        snprintf(w->msg, sizeof w->msg, "wias: %s (0x%08X)", what, (unsigned)hr);
    }
}

static tmsize_t io_write(thandle_t h, void *buf, tmsize_t size)
{
    struct WIAS_PAGE_WRITER *w = h;
    const BYTE *p = buf;
    ULONGLONG pos = w->pos;
    ULONGLONG n;
    HRESULT hr;

    if (w->aborting || FAILED(w->hr_io) || size < 0)
        return -1;
    n = (ULONGLONG)size;
    if (!w->big && pos + n > CLASSIC_MAX_END) {
        io_fail(w, STG_E_MEDIUMFULL, "classic TIFF would exceed 4 GiB");
        return -1;
    }
    if (pos < w->hdr_len && n > 0) {
        size_t k = w->hdr_len - (size_t)pos;
        if (k > n)
            k = (size_t)n;
        memcpy(w->hdr + pos, p, k);
        pos += k;
        p += k;
        n -= k;
    }
    if (n > 0) {
        if (pos < w->protect_end) {
            io_fail(w, E_UNEXPECTED, "refused a write into earlier pages");
            return -1;
        }
        if (!w->stm_pos_known || w->stm_pos != pos) {
            hr = wias_stream_seek_set(w->stm, pos);
            if (FAILED(hr)) {
                w->stm_pos_known = FALSE;
                io_fail(w, hr, "stream Seek failed");
                return -1;
            }
        }
        hr = wias_stream_write_all(w->stm, p, n);
        if (FAILED(hr)) {
            w->stm_pos_known = FALSE;
            io_fail(w, hr, "stream Write failed");
            return -1;
        }
        pos += n;
        w->stm_pos = pos;
        w->stm_pos_known = TRUE;
        if (pos > w->end)
            w->end = pos;
    }
    w->pos = pos;
    return size;
}

static tmsize_t io_read(thandle_t h, void *buf, tmsize_t size)
{
    struct WIAS_PAGE_WRITER *w = h;
    BYTE *p = buf;
    ULONGLONG pos = w->pos;
    ULONGLONG n;
    tmsize_t got = 0;

    if (w->aborting || size < 0)
        return -1;
    n = (ULONGLONG)size;
    if (pos < w->hdr_len && n > 0) {
        size_t k = w->hdr_len - (size_t)pos;
        if (k > n)
            k = (size_t)n;
        memcpy(p, w->hdr + pos, k);
        pos += k;
        p += k;
        n -= k;
        got += (tmsize_t)k;
    }
    if (n > 0 && pos < w->end) {
        ULONGLONG avail = w->end - pos;
        ULONGLONG lim = n < avail ? n : avail;
        ULONG want = (ULONG)(lim < 0x40000000u ? lim : 0x40000000u);
        ULONG done = 0;
        HRESULT hr = wias_stream_seek_set(w->stm, pos);

        w->stm_pos_known = FALSE;
        if (SUCCEEDED(hr))
            hr = w->stm->lpVtbl->Read(w->stm, p, want, &done);
        if (FAILED(hr))
            return -1;
        pos += done;
        got += (tmsize_t)done;
    }
    w->pos = pos;
    return got;
}

static toff_t io_seek(thandle_t h, toff_t off, int whence)
{
    struct WIAS_PAGE_WRITER *w = h;
    int64_t base;
    int64_t target;

    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)w->pos;
        break;
    case SEEK_END:
        base = (int64_t)w->end;
        break;
    default:
        return (toff_t)-1;
    }
    if (__builtin_add_overflow(base, (int64_t)off, &target) || target < 0)
        return (toff_t)-1;
    w->pos = (ULONGLONG)target;
    return (toff_t)target;
}

static int io_close(thandle_t h)
{
    (void)h;
    return 0;
}

static toff_t io_size(thandle_t h)
{
    return ((struct WIAS_PAGE_WRITER *)h)->end;
}

static int io_map(thandle_t h, void **base, toff_t *size)
{
    (void)h;
    (void)base;
    (void)size;
    return 0;
}

static void io_unmap(thandle_t h, void *base, toff_t size)
{
    (void)h;
    (void)base;
    (void)size;
}

/* ---- page lifecycle ---------------------------------------------------- */

static void writer_free(struct WIAS_PAGE_WRITER *w)
{
    if (w->tif) {
        /* TIFFClose flushes; make every write fail so nothing reaches the stream. */
        w->aborting = TRUE;
        TIFFClose(w->tif);
        w->tif = NULL;
    }
    if (w->err_out && FAILED(w->hr_fail))
        snprintf(w->err_out, w->err_out_len, "%s", w->msg);
    free(w->strip_buf);
    w->stm->lpVtbl->Release(w->stm);
    free(w);
}

/* Drop the page: truncate the stream back to the previous TIFF. */
static void writer_rollback(struct WIAS_PAGE_WRITER *w)
{
    ULARGE_INTEGER size;

    if (w->tif) {
        w->aborting = TRUE;
        TIFFClose(w->tif);
        w->tif = NULL;
    }
    size.QuadPart = w->rollback_end;
    (void)w->stm->lpVtbl->SetSize(w->stm, size);
    (void)wias_stream_seek_set(w->stm, w->rollback_end);
}

static HRESULT fail(struct WIAS_PAGE_WRITER *w, HRESULT hr)
{
    if (SUCCEEDED(w->hr_fail))
        w->hr_fail = FAILED(w->hr_io) ? w->hr_io : hr;
    return w->hr_fail;
}

/* Inspect the existing file (lPage > 0): byte order, format, link position. */
static HRESULT find_link(struct WIAS_PAGE_WRITER *w, ULONGLONG end)
{
    const MINIDRV_TRANSFER_CONTEXT *c = w->pmdtc;
    BYTE b[16];
    BYTE v[8];
    ULONGLONG off;
    ULONGLONG count;
    ULONGLONG next;
    HRESULT hr;

    if (end < 8)
        return E_INVALIDARG;
    hr = read_at(w->stm, 0, b, end >= 16 ? 16 : 8);
    if (FAILED(hr))
        return hr;
    if (b[0] == 'I' && b[1] == 'I')
        w->little = TRUE;
    else if (b[0] == 'M' && b[1] == 'M')
        w->little = FALSE;
    else
        return E_INVALIDARG;
    switch (get_uint(b + 2, 2, w->little)) {
    case 42:
        w->big = FALSE;
        w->hdr_len = 8;
        break;
    case 43:
        if (end < 16 || get_uint(b + 4, 2, w->little) != 8)
            return E_INVALIDARG;
        w->big = TRUE;
        w->hdr_len = 16;
        break;
    default:
        return E_INVALIDARG;
    }
    memcpy(w->hdr, b, w->hdr_len);

    if (!w->big) {
        /* O(1): lCurIfdOffset names the last IFD; verify it really is. */
        off = (ULONG)c->lCurIfdOffset;
        if (off < 8 || off + 2 > end)
            return E_INVALIDARG;
        hr = read_at(w->stm, off, v, 2);
        if (FAILED(hr))
            return hr;
        count = get_uint(v, 2, w->little);
        if (count == 0 || off + 2 + count * 12 + 4 > end)
            return E_INVALIDARG;
        w->link_pos = off + 2 + count * 12;
        hr = read_at(w->stm, w->link_pos, v, 4);
        if (FAILED(hr))
            return hr;
        if (get_uint(v, 4, w->little) != 0)
            return E_INVALIDARG; /* not the last IFD: stale context */
        return S_OK;
    }

    /* BigTIFF offsets do not fit the LONG fields: walk the chain. */
    off = get_uint(w->hdr + 8, 8, w->little);
    for (unsigned long hops = 0;; hops++) {
        if (hops > (1ul << 20) || off < 16 || off + 8 > end)
            return E_INVALIDARG;
        hr = read_at(w->stm, off, v, 8);
        if (FAILED(hr))
            return hr;
        count = get_uint(v, 8, w->little);
        if (count == 0 || count > 0xFFFF || off + 8 + count * 20 + 8 > end)
            return E_INVALIDARG;
        w->link_pos = off + 8 + count * 20;
        hr = read_at(w->stm, w->link_pos, v, 8);
        if (FAILED(hr))
            return hr;
        next = get_uint(v, 8, w->little);
        if (next == 0)
            break;
        if (next <= off)
            return E_INVALIDARG;
        off = next;
    }
    if ((ULONG)off != (ULONG)c->lCurIfdOffset)
        return E_INVALIDARG;
    return S_OK;
}

static HRESULT set_tags(struct WIAS_PAGE_WRITER *w)
{
    const struct geometry *g = &w->g;
    TIFF *t = w->tif;
    LONG page = w->pmdtc->lPage;
    int ok = 1;

    ok &= TIFFSetField(t, TIFFTAG_SUBFILETYPE, (uint32_t)FILETYPE_PAGE);
    ok &= TIFFSetField(t, TIFFTAG_IMAGEWIDTH, g->width);
    ok &= TIFFSetField(t, TIFFTAG_IMAGELENGTH, g->lines);
    ok &= TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (int)g->bps);
    ok &= TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (int)g->spp);
    ok &= TIFFSetField(t, TIFFTAG_PLANARCONFIG, (int)PLANARCONFIG_CONTIG);
    ok &= TIFFSetField(t, TIFFTAG_COMPRESSION, (int)g->compression);
    ok &= TIFFSetField(t, TIFFTAG_PHOTOMETRIC, (int)g->photometric);
    switch (g->compression) {
    case COMPRESSION_JPEG:
        ok &= TIFFSetField(t, TIFFTAG_JPEGQUALITY, g->jpeg_quality);
        if (g->photometric == PHOTOMETRIC_YCBCR) {
            /* 4:2:0 is TIFF 6.0's default, so libtiff would leave the tag
             * out; write it so readers need not know the default. */
            ok &= TIFFSetField(t, TIFFTAG_YCBCRSUBSAMPLING, 2, 2);
            ok &= TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, (int)JPEGCOLORMODE_RGB);
        }
        break;
    case COMPRESSION_ADOBE_DEFLATE:
        ok &= TIFFSetField(t, TIFFTAG_ZIPQUALITY, g->deflate_level);
        break;
    case COMPRESSION_CCITTFAX3:
        ok &= TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, (uint32_t)GROUP3OPT_2DENCODING);
        break;
    default:
        break;
    }
    if (g->predictor)
        ok &= TIFFSetField(t, TIFFTAG_PREDICTOR, (int)g->predictor);
    ok &= TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, g->rows_per_strip);
    ok &= TIFFSetField(t, TIFFTAG_XRESOLUTION, (double)w->pmdtc->lXRes);
    ok &= TIFFSetField(t, TIFFTAG_YRESOLUTION, (double)w->pmdtc->lYRes);
    ok &= TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, (int)RESUNIT_INCH);
    ok &= TIFFSetField(t, TIFFTAG_PAGENUMBER, (int)(page > 0xFFFF ? 0xFFFF : page), 0);
    ok &= TIFFSetField(t, TIFFTAG_SOFTWARE, "scanemu wias");
    return ok ? S_OK : E_FAIL;
}

static HRESULT page_begin(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream,
                          const WIAS_PAGE_OPTIONS *pOptions, struct WIAS_PAGE_WRITER **out)
{
    struct WIAS_PAGE_WRITER *w;
    struct geometry g;
    ULONGLONG end = 0;
    ULONGLONG worst;
    TIFFOpenOptions *topts;
    char mode[8];
    size_t m = 0;
    HRESULT hr;

    *out = NULL;
    if (!pmdtc || !pstream)
        return E_POINTER;
    hr = check_context(pmdtc, pOptions, &g);
    if (FAILED(hr))
        return hr;

    w = calloc(1, sizeof *w);
    if (!w)
        return E_OUTOFMEMORY;
    w->pmdtc = pmdtc;
    w->g = g;
    w->stm = pstream;
    pstream->lpVtbl->AddRef(pstream);
    if (pOptions && pOptions->pszError) {
        w->err_out = pOptions->pszError;
        w->err_out_len = pOptions->cchError;
        w->err_out[0] = '\0';
    }

    hr = wias_stream_seek_end(pstream, &end);
    if (FAILED(hr))
        goto out_free;

    if (pmdtc->lPage == 0) {
        w->big = (g.flags & WIAS_PAGE_BIGTIFF) != 0;
        w->little = host_is_little();
        w->hdr_len = w->big ? 16 : 8;
        worst = worst_case(&g, w->big);
        if (!w->big && sat_add(w->hdr_len, worst) > CLASSIC_MAX_END) {
            hr = STG_E_MEDIUMFULL;
            goto out_free;
        }
        /* A new file: truncate and write a header with no IFD yet. */
        if (end != 0) {
            ULARGE_INTEGER zero;
            zero.QuadPart = 0;
            hr = pstream->lpVtbl->SetSize(pstream, zero);
            if (FAILED(hr))
                goto out_free;
        }
        w->hdr[0] = w->hdr[1] = w->little ? 'I' : 'M';
        put_uint(w->hdr + 2, 2, w->big ? 43 : 42, w->little);
        if (w->big)
            put_uint(w->hdr + 4, 2, 8, w->little);
        hr = write_at(pstream, 0, w->hdr, (ULONG)w->hdr_len);
        if (FAILED(hr)) {
            w->rollback_end = 0;
            writer_rollback(w);
            goto out_free;
        }
        w->rollback_end = 0;
        end = w->hdr_len;
    } else {
        hr = find_link(w, end);
        if (FAILED(hr))
            goto out_free;
        worst = worst_case(&g, w->big);
        if (!w->big && sat_add(end + 1, worst) > CLASSIC_MAX_END) {
            hr = STG_E_MEDIUMFULL;
            goto out_free;
        }
        w->rollback_end = end;
    }
    w->protect_end = end;
    w->end = end;
    w->pos = 0;
    w->swab16 = w->little != host_is_little() && g.bps == 16;

    topts = TIFFOpenOptionsAlloc();
    if (!topts) {
        hr = E_OUTOFMEMORY;
        goto out_rollback;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(topts, on_tiff_error, w);
    TIFFOpenOptionsSetWarningHandlerExtR(topts, on_tiff_warning, w);
    mode[m++] = 'w';
    mode[m++] = w->little ? 'l' : 'b';
    if (w->big)
        mode[m++] = '8';
    mode[m] = '\0';
    w->tif = TIFFClientOpenExt("wias", mode, (thandle_t)w, io_read, io_write, io_seek, io_close,
                               io_size, io_map, io_unmap, topts);
    TIFFOpenOptionsFree(topts);
    if (!w->tif) {
        hr = FAILED(w->hr_io) ? w->hr_io : E_FAIL;
        goto out_rollback;
    }
    hr = set_tags(w);
    if (FAILED(hr))
        goto out_rollback;
    *out = w;
    return S_OK;

out_rollback:
    w->hr_fail = hr;
    writer_rollback(w);
out_free:
    w->hr_fail = hr;
    writer_free(w);
    return hr;
}

static HRESULT write_strip(struct WIAS_PAGE_WRITER *w, const BYTE *data, uint32_t rows)
{
    tmsize_t size = (tmsize_t)((size_t)rows * w->g.row_bytes);
    tmsize_t r;

    /* libtiff's encoders read the buffer without modifying it (predictors
     * work on a copy); only byte swapping would write to it, and swab16
     * data always comes from strip_buf. */
    if (w->g.compression == COMPRESSION_NONE && !w->swab16)
        r = TIFFWriteRawStrip(w->tif, w->strip, (void *)data, size);
    else
        r = TIFFWriteEncodedStrip(w->tif, w->strip, (void *)data, size);
    if (r < 0)
        return fail(w, E_FAIL);
    w->strip++;
    return S_OK;
}

static uint32_t rows_in_strip(const struct WIAS_PAGE_WRITER *w)
{
    uint32_t first = w->strip * w->g.rows_per_strip;
    uint32_t left = w->g.lines - first;
    return left < w->g.rows_per_strip ? left : w->g.rows_per_strip;
}

HRESULT wiasWritePageBegin(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream,
                           const WIAS_PAGE_OPTIONS *pOptions, WIAS_PAGE_WRITER **ppWriter)
{
    if (!ppWriter)
        return E_POINTER;
    return page_begin(pmdtc, pstream, pOptions, ppWriter);
}

HRESULT wiasWritePageLines(WIAS_PAGE_WRITER *w, const BYTE *pLines, LONG lLines, LONG cbStride)
{
    const BYTE *p = pLines;
    uint32_t n;
    HRESULT hr;

    if (!w)
        return E_POINTER;
    if (FAILED(w->hr_fail))
        return w->hr_fail;
    if (lLines < 0 || cbStride <= 0 || (size_t)cbStride < w->g.row_bytes)
        return E_INVALIDARG;
    if (lLines == 0)
        return S_OK;
    if (!pLines)
        return E_POINTER;
    n = (uint32_t)lLines;
    if (n > w->g.lines - w->rows_done)
        return E_INVALIDARG;

    while (n > 0) {
        uint32_t want = rows_in_strip(w);

        if (w->strip_rows == 0 && n >= want && (size_t)cbStride == w->g.row_bytes && !w->swab16) {
            /* whole strip, packed: hand the caller's rows to libtiff as is */
            hr = write_strip(w, p, want);
            if (FAILED(hr))
                return hr;
            p += (size_t)want * (size_t)cbStride;
            n -= want;
            w->rows_done += want;
            continue;
        }
        if (!w->strip_buf) {
            w->strip_buf = malloc((size_t)w->g.rows_per_strip * w->g.row_bytes);
            if (!w->strip_buf)
                return fail(w, E_OUTOFMEMORY);
        }
        while (n > 0 && w->strip_rows < want) {
            memcpy(w->strip_buf + (size_t)w->strip_rows * w->g.row_bytes, p, w->g.row_bytes);
            p += cbStride;
            n--;
            w->strip_rows++;
            w->rows_done++;
        }
        if (w->strip_rows == want) {
            w->strip_rows = 0;
            hr = write_strip(w, w->strip_buf, want);
            if (FAILED(hr))
                return hr;
        }
    }
    return S_OK;
}

HRESULT wiasWritePageEnd(WIAS_PAGE_WRITER *w)
{
    MINIDRV_TRANSFER_CONTEXT *c;
    ULONGLONG new_ifd;
    BYTE v[8];
    HRESULT hr;
    int ok;

    if (!w)
        return E_POINTER;
    c = w->pmdtc;
    if (FAILED(w->hr_fail)) {
        hr = w->hr_fail;
        goto out_rollback;
    }
    if (w->rows_done != w->g.lines) {
        snprintf(w->msg, sizeof w->msg, "wias: page ended after %u of %u rows",
                 (unsigned)w->rows_done, (unsigned)w->g.lines);
        hr = fail(w, E_INVALIDARG);
        goto out_rollback;
    }
    ok = TIFFWriteDirectory(w->tif);
    TIFFClose(w->tif);
    w->tif = NULL;
    if (!ok || FAILED(w->hr_io)) {
        hr = fail(w, E_FAIL);
        goto out_rollback;
    }

    /* libtiff linked "its" first IFD from the shadow header. */
    new_ifd = w->big ? get_uint(w->hdr + 8, 8, w->little) : get_uint(w->hdr + 4, 4, w->little);
    if (new_ifd < w->protect_end || new_ifd >= w->end) {
        snprintf(w->msg, sizeof w->msg, "wias: libtiff did not write an IFD");
        hr = fail(w, E_FAIL);
        goto out_rollback;
    }

    /* Every byte of the page is on the stream: link it in. */
    if (c->lPage == 0) {
        hr = write_at(w->stm, 0, w->hdr, (ULONG)w->hdr_len);
    } else {
        size_t n = w->big ? 8 : 4;
        put_uint(v, n, new_ifd, w->little);
        hr = write_at(w->stm, w->link_pos, v, (ULONG)n);
    }
    if (FAILED(hr)) {
        snprintf(w->msg, sizeof w->msg, "wias: linking the IFD failed (0x%08X)", (unsigned)hr);
        fail(w, hr);
        goto out_rollback;
    }
    (void)wias_stream_seek_set(w->stm, w->end);

    c->lPrevIfdOffset = c->lPage == 0 ? 0 : c->lCurIfdOffset;
    c->lCurIfdOffset = (LONG)(ULONG)new_ifd; /* BigTIFF: low 32 bits */
    c->lPage++;
    writer_free(w);
    return S_OK;

out_rollback:
    writer_rollback(w);
    writer_free(w);
    return hr;
}

void wiasWritePageAbort(WIAS_PAGE_WRITER *w)
{
    if (!w)
        return;
    writer_rollback(w);
    writer_free(w);
}

HRESULT wiasWritePageBufToStreamEx(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream,
                                   const WIAS_PAGE_OPTIONS *pOptions)
{
    WIAS_PAGE_WRITER *w;
    uint64_t need;
    HRESULT hr;

    if (!pmdtc || !pstream)
        return E_POINTER;
    if (!wias_format_is_tiff(&pmdtc->guidFormatID))
        return wias_write_passthrough(pmdtc, pstream, pOptions);
    if (!pmdtc->pTransferBuffer)
        return E_POINTER;
    if (pmdtc->cbWidthInBytes <= 0 || pmdtc->lLines <= 0 || pmdtc->lBufferSize <= 0)
        return E_INVALIDARG;
    need = (uint64_t)pmdtc->cbWidthInBytes * (uint64_t)pmdtc->lLines;
    if ((uint64_t)pmdtc->lBufferSize < need)
        return E_INVALIDARG;
    hr = page_begin(pmdtc, pstream, pOptions, &w);
    if (FAILED(hr))
        return hr;
    hr = wiasWritePageLines(w, pmdtc->pTransferBuffer, pmdtc->lLines, pmdtc->cbWidthInBytes);
    if (FAILED(hr)) {
        /* End reports the sticky error and rolls back. */
        if (SUCCEEDED(w->hr_fail))
            fail(w, hr);
    }
    return wiasWritePageEnd(w);
}

HRESULT wiasWritePageBufToStream(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream)
{
    return wiasWritePageBufToStreamEx(pmdtc, pstream, NULL);
}
