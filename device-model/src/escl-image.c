/* eSCL front: the byte buffer and the streaming PNG/JPEG encoder.
 *
 * libpng reports errors by longjmp to the setjmp of the call in progress;
 * every function here that calls into libpng sets its own. libjpeg-turbo
 * likewise, through an error manager whose error_exit jumps back. Neither
 * library keeps global state; each image has its own handles. */
#include "escl-image.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <string.h>

#include <isa-l/igzip_lib.h>
#include <jpeglib.h>
#include <png.h>

/* ---- byte buffer ---------------------------------------------------------------- */

void dm_buf_init(dm_buf *b, const dm_alloc *a, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->alloc = a ? a : dm_alloc_default();
    b->max = max;
}

void dm_buf_free(dm_buf *b)
{
    if (b->data != NULL)
        b->alloc->realloc(b->alloc->ctx, b->data, 0);
    b->data = NULL;
    b->len = b->off = b->cap = 0;
}

static int buf_reserve(dm_buf *b, size_t n)
{
    size_t need, cap;
    uint8_t *p;

    if (n > b->max || b->len > b->max - n)
        return DM_E_RANGE;
    /* Compact before growing: what was taken is gone. */
    if (b->off > 0 && b->off + b->len + n > b->cap) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    need = b->off + b->len + n;
    if (need <= b->cap)
        return DM_OK;
    cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > b->max && need <= b->max)
        cap = b->max;
    p = b->alloc->realloc(b->alloc->ctx, b->data, cap);
    if (p == NULL)
        return DM_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return DM_OK;
}

int dm_buf_append(dm_buf *b, const void *p, size_t n)
{
    int rc;

    if (n == 0)
        return DM_OK;
    rc = buf_reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
    return DM_OK;
}

int dm_buf_printf(dm_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return DM_E_RANGE;
    return dm_buf_append(b, tmp, (size_t)n);
}

void dm_buf_take(dm_buf *b, size_t n)
{
    if (n > b->len)
        n = b->len;
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}

void dm_buf_clear(dm_buf *b)
{
    b->off = 0;
    b->len = 0;
}

/* ---- encoder -------------------------------------------------------------------- */

struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
};

struct dm_img_enc {
    const dm_alloc *alloc;
    enum dm_img_format fmt;
    proto_scan_job job;
    dm_buf *sink;
    uint32_t lines;
    int failed; /* the sink refused bytes, or the library failed */
    /* PNG */
    png_structp png;
    png_infop info;
    /* PNG at level 1: libpng writes the signature, the header chunks, each
     * IDAT and IEND; ISA-L's igzip makes the zlib stream inside the IDATs
     * (zlib's own level 1 ran at ~190 MB/s on an A4 colour page, 92% of
     * scanemu's CPU in an eSCL job; igzip at ~1.2 GB/s, same size). */
    bool igzip;
    struct isal_zstream zs;
    uint8_t *zlevel; /* igzip's level-1 work area */
    uint8_t *filt;   /* rows with their filter byte (0: none) */
    size_t filt_cap;
    uint8_t *zout; /* one IDAT's data */
    /* JPEG */
    struct jpeg_compress_struct cinfo;
    struct jpeg_err jerr;
    struct jpeg_destination_mgr dest;
    bool jpeg_live;
    uint8_t jbuf[16384];
};

/* libpng callbacks */
static void png_write_cb(png_structp png, png_bytep data, size_t len)
{
    dm_img_enc *e = png_get_io_ptr(png);

    if (dm_buf_append(e->sink, data, len) < 0) {
        e->failed = 1;
        png_error(png, "eSCL output buffer full");
    }
}

static void png_flush_cb(png_structp png)
{
    (void)png;
}

static void png_error_cb(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void png_warn_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static png_voidp png_malloc_cb(png_structp png, png_alloc_size_t size)
{
    const dm_alloc *a = png_get_mem_ptr(png);
    return a->realloc(a->ctx, NULL, size);
}

static void png_free_cb(png_structp png, png_voidp ptr)
{
    const dm_alloc *a = png_get_mem_ptr(png);
    if (ptr != NULL)
        a->realloc(a->ctx, ptr, 0);
}

/* libjpeg callbacks */
static void jpeg_error_cb(j_common_ptr c)
{
    struct jpeg_err *err = (struct jpeg_err *)c->err;
    longjmp(err->jmp, 1);
}

static void jpeg_output_cb(j_common_ptr c)
{
    (void)c; /* warnings are not errors: nothing to say on stderr */
}

static void jpeg_dest_init(j_compress_ptr c)
{
    dm_img_enc *e = c->client_data;
    e->dest.next_output_byte = e->jbuf;
    e->dest.free_in_buffer = sizeof(e->jbuf);
}

/* Move what the encoder wrote so far into the sink. */
static int jpeg_harvest(dm_img_enc *e)
{
    size_t n = sizeof(e->jbuf) - e->dest.free_in_buffer;
    int rc = dm_buf_append(e->sink, e->jbuf, n);

    e->dest.next_output_byte = e->jbuf;
    e->dest.free_in_buffer = sizeof(e->jbuf);
    return rc;
}

static boolean jpeg_dest_empty(j_compress_ptr c)
{
    dm_img_enc *e = c->client_data;

    /* The buffer is full: free_in_buffer is stale here by contract. */
    e->dest.free_in_buffer = 0;
    if (jpeg_harvest(e) < 0) {
        e->failed = 1;
        longjmp(e->jerr.jmp, 1);
    }
    return TRUE;
}

static void jpeg_dest_term(j_compress_ptr c)
{
    dm_img_enc *e = c->client_data;
    if (jpeg_harvest(e) < 0) {
        e->failed = 1;
        longjmp(e->jerr.jmp, 1);
    }
}

#define IGZIP_OUT        (64u << 10) /* the largest IDAT we write (libpng: 8 KiB) */
#define IGZIP_SMALL_BAND (64u << 10) /* bands below this: igzip level 0 */

static int png_begin(dm_img_enc *e, int level)
{
    int color, depth;

    e->png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, e, png_error_cb, png_warn_cb,
                                       (png_voidp)e->alloc, png_malloc_cb, png_free_cb);
    if (e->png == NULL)
        return DM_E_NOMEM;
    e->info = png_create_info_struct(e->png);
    if (e->info == NULL)
        return DM_E_NOMEM;
    if (setjmp(png_jmpbuf(e->png)))
        return e->failed ? DM_E_RANGE : DM_E_NOMEM;
    switch (e->job.mode) {
    case PROTO_SCAN_MODE_BW:
        color = PNG_COLOR_TYPE_GRAY;
        depth = 1;
        break;
    case PROTO_SCAN_MODE_GRAY8:
        color = PNG_COLOR_TYPE_GRAY;
        depth = 8;
        break;
    default:
        color = PNG_COLOR_TYPE_RGB;
        depth = 8;
        break;
    }
    png_set_write_fn(e->png, e, png_write_cb, png_flush_cb);
    png_set_compression_level(e->png, level);
    /* Scanned rows: no row filter is the cheapest and, on chart content,
     * compresses about as well as the adaptive choice at fast levels. */
    png_set_filter(e->png, PNG_FILTER_TYPE_BASE, level <= 1 ? PNG_FILTER_NONE : PNG_ALL_FILTERS);
    png_set_IHDR(e->png, e->info, e->job.width_px, e->job.height_px, depth, color,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    {
        png_uint_32 ppm = (png_uint_32)((e->job.dpi * 10000u + 127u) / 254u);
        png_set_pHYs(e->png, e->info, ppm, ppm, PNG_RESOLUTION_METER);
    }
    png_write_info(e->png, e->info);
    if (level == 1) {
        /* igzip's level 1 builds a Huffman code for every block, and every
         * band ends one (the sync flush): ~20 us a band, whatever its size.
         * Bands under 64 KiB (gray 75 dpi A4: 40 KB) use its level 0
         * instead, a fixed code: their pages are ~25% larger, their bands
         * leave 20-30 us sooner (bench.sh row E3). Work buffers are not
         * cleared: igzip initialises what it reads. */
        bool small = (size_t)e->job.bytes_per_line * e->job.band_lines < IGZIP_SMALL_BAND;

        e->igzip = true;
        if (!small) {
            e->zlevel = e->alloc->realloc(e->alloc->ctx, NULL, ISAL_DEF_LVL1_DEFAULT);
            if (e->zlevel == NULL)
                return DM_E_NOMEM;
        }
        e->zout = e->alloc->realloc(e->alloc->ctx, NULL, IGZIP_OUT);
        if (e->zout == NULL)
            return DM_E_NOMEM;
        isal_deflate_init(&e->zs);
        e->zs.level = small ? 0 : 1;
        e->zs.level_buf = e->zlevel;
        e->zs.level_buf_size = small ? 0 : ISAL_DEF_LVL1_DEFAULT;
        e->zs.gzip_flag = IGZIP_ZLIB;
    }
    return DM_OK;
}

static int jpeg_begin(dm_img_enc *e, int quality)
{
    e->cinfo.err = jpeg_std_error(&e->jerr.pub);
    e->jerr.pub.error_exit = jpeg_error_cb;
    e->jerr.pub.output_message = jpeg_output_cb;
    if (setjmp(e->jerr.jmp))
        return e->failed ? DM_E_RANGE : DM_E_NOMEM;
    jpeg_create_compress(&e->cinfo);
    e->jpeg_live = true;
    e->cinfo.client_data = e;
    e->dest.init_destination = jpeg_dest_init;
    e->dest.empty_output_buffer = jpeg_dest_empty;
    e->dest.term_destination = jpeg_dest_term;
    e->cinfo.dest = &e->dest;
    e->cinfo.image_width = e->job.width_px;
    e->cinfo.image_height = e->job.height_px;
    if (e->job.mode == PROTO_SCAN_MODE_GRAY8) {
        e->cinfo.input_components = 1;
        e->cinfo.in_color_space = JCS_GRAYSCALE;
    } else {
        e->cinfo.input_components = 3;
        e->cinfo.in_color_space = JCS_RGB;
    }
    jpeg_set_defaults(&e->cinfo);
    jpeg_set_quality(&e->cinfo, quality, TRUE);
    e->cinfo.density_unit = 1; /* dots per inch */
    e->cinfo.X_density = e->job.dpi;
    e->cinfo.Y_density = e->job.dpi;
    jpeg_start_compress(&e->cinfo, TRUE);
    return jpeg_harvest(e);
}

int dm_img_enc_begin(const dm_alloc *a, enum dm_img_format fmt, const proto_scan_job *job,
                     int png_level, int jpeg_quality, dm_buf *sink, dm_img_enc **out)
{
    dm_img_enc *e;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (job == NULL || sink == NULL || out == NULL || job->width_px == 0 || job->height_px == 0)
        return DM_E_INVALID;
    if (job->mode != PROTO_SCAN_MODE_BW && job->mode != PROTO_SCAN_MODE_GRAY8 &&
        job->mode != PROTO_SCAN_MODE_COLOR24)
        return DM_E_INVALID;
    if (fmt == DM_IMG_JPEG && job->mode == PROTO_SCAN_MODE_BW)
        return DM_E_INVALID;
    if (png_level < 0 || png_level > 9 || jpeg_quality < 1 || jpeg_quality > 100)
        return DM_E_INVALID;
    e = dm_malloc(a, sizeof(*e));
    if (e == NULL)
        return DM_E_NOMEM;
    e->alloc = a;
    e->fmt = fmt;
    e->job = *job;
    e->sink = sink;
    rc = fmt == DM_IMG_PNG ? png_begin(e, png_level) : jpeg_begin(e, jpeg_quality);
    if (rc < 0)
        goto out_free;
    *out = e;
    return DM_OK;

out_free:
    dm_img_enc_free(e);
    return rc;
}

/* n rows through igzip, each behind its filter byte; a sync flush at the
 * end (the band's pixels can be decoded as soon as they arrive), the end of
 * the zlib stream after the image's last row. Every IDAT is written at once. */
static int igzip_rows(dm_img_enc *e, const uint8_t *rows, uint32_t n)
{
    size_t bpl = e->job.bytes_per_line, need = (size_t)n * (bpl + 1);
    bool last = e->lines + n == e->job.height_px;

    if (need > e->filt_cap) {
        uint8_t *p = e->alloc->realloc(e->alloc->ctx, e->filt, need);
        if (p == NULL)
            return DM_E_NOMEM;
        e->filt = p;
        e->filt_cap = need;
    }
    for (uint32_t i = 0; i < n; i++) {
        e->filt[(size_t)i * (bpl + 1)] = 0;
        memcpy(e->filt + (size_t)i * (bpl + 1) + 1, rows + (size_t)i * bpl, bpl);
    }
    e->zs.next_in = e->filt;
    e->zs.avail_in = (uint32_t)need;
    e->zs.flush = SYNC_FLUSH;
    e->zs.end_of_stream = last ? 1 : 0;
    if (setjmp(png_jmpbuf(e->png)))
        return e->failed ? DM_E_RANGE : DM_E_NOMEM;
    for (;;) {
        uint32_t in_before = e->zs.avail_in;
        size_t out;

        e->zs.next_out = e->zout;
        e->zs.avail_out = IGZIP_OUT;
        if (isal_deflate(&e->zs) != COMP_OK)
            return DM_E_NOMEM;
        out = IGZIP_OUT - e->zs.avail_out;
        if (out > 0)
            png_write_chunk(e->png, (png_const_bytep) "IDAT", e->zout, out);
        /* Done when the input is in, the flush (or the stream's end) is
         * out and the output was not full. */
        if (e->zs.avail_in == 0 && out < IGZIP_OUT &&
            (!last || e->zs.internal_state.state == ZSTATE_END))
            return DM_OK;
        if (out == 0 && e->zs.avail_in == in_before)
            return DM_E_NOMEM; /* no progress: never loop forever */
    }
}

static int png_rows(dm_img_enc *e, const uint8_t *rows, uint32_t n)
{
    if (e->igzip)
        return igzip_rows(e, rows, n);
    if (setjmp(png_jmpbuf(e->png)))
        return e->failed ? DM_E_RANGE : DM_E_NOMEM;
    for (uint32_t i = 0; i < n; i++)
        png_write_row(e->png, rows + (size_t)i * e->job.bytes_per_line);
    png_write_flush(e->png);
    return DM_OK;
}

static int jpeg_rows(dm_img_enc *e, const uint8_t *rows, uint32_t n)
{
    if (setjmp(e->jerr.jmp))
        return e->failed ? DM_E_RANGE : DM_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        JSAMPROW row = (JSAMPROW)(uintptr_t)(rows + (size_t)i * e->job.bytes_per_line);
        jpeg_write_scanlines(&e->cinfo, &row, 1);
    }
    return jpeg_harvest(e);
}

int dm_img_enc_rows(dm_img_enc *e, const uint8_t *rows, uint32_t n_lines)
{
    int rc;

    if (e->failed)
        return DM_E_STATE;
    if (n_lines > e->job.height_px - e->lines)
        return DM_E_RANGE;
    if (n_lines == 0)
        return DM_OK;
    rc = e->fmt == DM_IMG_PNG ? png_rows(e, rows, n_lines) : jpeg_rows(e, rows, n_lines);
    if (rc < 0) {
        e->failed = 1;
        return rc;
    }
    e->lines += n_lines;
    return DM_OK;
}

int dm_img_enc_finish(dm_img_enc *e)
{
    if (e->failed || e->lines != e->job.height_px)
        return DM_E_STATE;
    if (e->fmt == DM_IMG_PNG) {
        if (setjmp(png_jmpbuf(e->png)))
            return e->failed ? DM_E_RANGE : DM_E_NOMEM;
        if (e->igzip) {
            /* The stream ended with the last row (igzip_rows). libpng's
             * png_write_end wants IDATs of its own making: write IEND. */
            if (e->zs.internal_state.state != ZSTATE_END)
                return DM_E_STATE;
            png_write_chunk(e->png, (png_const_bytep) "IEND", NULL, 0);
            return DM_OK;
        }
        png_write_end(e->png, NULL);
        return DM_OK;
    }
    if (setjmp(e->jerr.jmp))
        return e->failed ? DM_E_RANGE : DM_E_NOMEM;
    jpeg_finish_compress(&e->cinfo);
    return DM_OK;
}

uint32_t dm_img_enc_lines(const dm_img_enc *e)
{
    return e->lines;
}

void dm_img_enc_free(dm_img_enc *e)
{
    if (e == NULL)
        return;
    if (e->png != NULL)
        png_destroy_write_struct(&e->png, e->info ? &e->info : NULL);
    dm_free(e->alloc, e->zlevel);
    dm_free(e->alloc, e->zout);
    dm_free(e->alloc, e->filt);
    if (e->jpeg_live)
        jpeg_destroy_compress(&e->cinfo);
    dm_free(e->alloc, e);
}
