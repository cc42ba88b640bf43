/* driver: eSCL page images decoded as they arrive, row by row, straight
 * into the page buffer the client hands out (escl-client.h).
 *
 * PNG: libpng's progressive reader (png_process_data). Rows are combined
 * into the page buffer, which also makes interlaced images work without a
 * buffer of their own.
 *
 * JPEG: libjpeg-turbo with a suspending data source: fill_input_buffer
 * returns FALSE when the bytes so far are used up, the library backs up to
 * a point it can resume from, and the next feed appends. Only the bytes
 * libjpeg has not consumed are kept (for a baseline JPEG, at most about an
 * MCU row; a progressive JPEG is absorbed whole by jpeg_start_decompress,
 * bounded by MAX_JPEG_PENDING).
 *
 * Both libraries report errors by longjmp out of their error handlers; the
 * jumps land in the one function per library that called in, and nothing
 * with automatic storage is modified between setjmp and the jump.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "drv-internal.h"
#include "escl-client.h"

#define MAX_DIMENSION    100000u
#define MAX_JPEG_PENDING (256u * 1024u * 1024u)

struct drv_img_dec {
    enum drv_img_format fmt;
    unsigned bpp;
    drv_img_client cl;
    char err[200];
    int failed;
    uint32_t width, height;
    size_t stride;
    uint8_t *rows; /* the client's buffer, once begin() gave it */
    uint32_t rows_done;
    int complete;

    /* PNG */
    png_structp png;
    png_infop info;

    /* JPEG */
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr jerr;
    struct jpeg_source_mgr src;
    jmp_buf jb;
    int jpeg_live;
    int stage; /* 0 header, 1 start, 2 rows, 3 finish, 4 done */
    uint8_t *pend;
    size_t pend_len, pend_cap;
    size_t skip; /* bytes skip_input_data still owes */
};

static int dec_fail(drv_img_dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int dec_fail(drv_img_dec *d, const char *fmt, ...)
{
    va_list ap;

    if (!d->failed) {
        va_start(ap, fmt);
        vsnprintf(d->err, sizeof(d->err), fmt, ap);
        va_end(ap);
        d->failed = 1;
    }
    return DRV_E_PROTO;
}

/* The client's buffer for a width x height image; 0 if refused. */
static int begin_image(drv_img_dec *d, uint32_t w, uint32_t h)
{
    char why[160] = "";

    d->width = w;
    d->height = h;
    d->stride = ((size_t)w * d->bpp + 7) / 8;
    d->rows = d->cl.begin(d->cl.ctx, w, h, why, sizeof(why));
    if (d->rows == NULL) {
        dec_fail(d, "%s", why[0] ? why : "image refused");
        return 0;
    }
    return 1;
}

static void rows_progress(drv_img_dec *d, uint32_t done)
{
    if (done > d->rows_done) {
        d->rows_done = done;
        if (d->cl.rows)
            d->cl.rows(d->cl.ctx, done);
    }
}

/* ---- PNG ------------------------------------------------------------------------------ */

static void png_err(png_structp png, png_const_charp msg)
{
    drv_img_dec *d = png_get_error_ptr(png);

    dec_fail(d, "PNG: %s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_info_cb(png_structp png, png_infop info)
{
    drv_img_dec *d = png_get_progressive_ptr(png);
    png_uint_32 w, h;
    int depth, ctype, interlace;

    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (d->bpp == 1) {
        if (ctype != PNG_COLOR_TYPE_GRAY || depth != 1) {
            dec_fail(d, "asked for 1-bit black and white, got a PNG of colour type %d, depth %d",
                     ctype, depth);
            png_longjmp(png, 1);
        }
    } else {
        if (ctype == PNG_COLOR_TYPE_PALETTE)
            png_set_palette_to_rgb(png);
        if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
            png_set_expand_gray_1_2_4_to_8(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS))
            png_set_tRNS_to_alpha(png);
        if (depth == 16)
            png_set_strip_16(png);
        png_set_strip_alpha(png);
        if (d->bpp == 24 && !(ctype & PNG_COLOR_MASK_COLOR))
            png_set_gray_to_rgb(png);
        if (d->bpp == 8 && (ctype & PNG_COLOR_MASK_COLOR))
            png_set_rgb_to_gray_fixed(png, 1, -1, -1);
    }
    if (interlace != PNG_INTERLACE_NONE)
        (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (!begin_image(d, w, h))
        png_longjmp(png, 1);
    if (png_get_rowbytes(png, info) != d->stride) {
        dec_fail(d, "PNG rows are %zu bytes, expected %zu", (size_t)png_get_rowbytes(png, info),
                 d->stride);
        png_longjmp(png, 1);
    }
    if (interlace == PNG_INTERLACE_NONE)
        return;
    memset(d->rows, 0, d->stride * d->height); /* combine_row ORs nothing in: clean start */
}

static void png_row_cb(png_structp png, png_bytep row, png_uint_32 row_num, int pass)
{
    drv_img_dec *d = png_get_progressive_ptr(png);

    (void)pass;
    if (row == NULL || row_num >= d->height)
        return;
    png_progressive_combine_row(png, d->rows + (size_t)row_num * d->stride, row);
    if (png_get_interlace_type(png, d->info) == PNG_INTERLACE_NONE)
        rows_progress(d, row_num + 1);
}

static void png_end_cb(png_structp png, png_infop info)
{
    drv_img_dec *d = png_get_progressive_ptr(png);

    (void)info;
    d->complete = 1;
    rows_progress(d, d->height);
}

static int png_setup(drv_img_dec *d)
{
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_err, png_warn);
    if (d->png == NULL)
        return DRV_E_NOMEM;
    d->info = png_create_info_struct(d->png);
    if (d->info == NULL)
        return DRV_E_NOMEM;
    png_set_user_limits(d->png, MAX_DIMENSION, MAX_DIMENSION);
    png_set_chunk_malloc_max(d->png, 8u * 1024u * 1024u);
    png_set_progressive_read_fn(d->png, d, png_info_cb, png_row_cb, png_end_cb);
    return DRV_OK;
}

static int png_feed(drv_img_dec *d, const uint8_t *data, size_t len)
{
    if (setjmp(png_jmpbuf(d->png)))
        return dec_fail(d, "PNG: corrupt image");
    png_process_data(d->png, d->info, (png_bytep)(uintptr_t)data, len);
    return DRV_OK;
}

/* ---- JPEG ----------------------------------------------------------------------------- */

static void jpeg_err_exit(j_common_ptr ci)
{
    drv_img_dec *d = ci->client_data;
    char msg[JMSG_LENGTH_MAX];

    ci->err->format_message(ci, msg);
    dec_fail(d, "JPEG: %s", msg);
    longjmp(d->jb, 1);
}

static void jpeg_emit(j_common_ptr ci, int level)
{
    (void)ci;
    (void)level;
}

static void src_init(j_decompress_ptr ci)
{
    (void)ci;
}

static boolean src_fill(j_decompress_ptr ci)
{
    (void)ci;
    return FALSE; /* suspend: more bytes come with the next feed */
}

static void src_skip(j_decompress_ptr ci, long n)
{
    drv_img_dec *d = ci->client_data;

    if (n <= 0)
        return;
    if ((size_t)n <= d->src.bytes_in_buffer) {
        d->src.next_input_byte += n;
        d->src.bytes_in_buffer -= (size_t)n;
    } else {
        d->skip += (size_t)n - d->src.bytes_in_buffer;
        d->src.next_input_byte += d->src.bytes_in_buffer;
        d->src.bytes_in_buffer = 0;
    }
}

static void src_term(j_decompress_ptr ci)
{
    (void)ci;
}

static int jpeg_setup(drv_img_dec *d)
{
    d->ci.err = jpeg_std_error(&d->jerr);
    d->jerr.error_exit = jpeg_err_exit;
    d->jerr.emit_message = jpeg_emit;
    d->ci.client_data = d;
    if (setjmp(d->jb))
        return DRV_E_NOMEM;
    jpeg_create_decompress(&d->ci);
    d->jpeg_live = 1;
    d->src.init_source = src_init;
    d->src.fill_input_buffer = src_fill;
    d->src.skip_input_data = src_skip;
    d->src.resync_to_restart = jpeg_resync_to_restart;
    d->src.term_source = src_term;
    d->src.next_input_byte = NULL;
    d->src.bytes_in_buffer = 0;
    d->ci.src = &d->src;
    return DRV_OK;
}

/* Run the decompressor as far as the bytes allow. */
static int jpeg_run(drv_img_dec *d)
{
    struct jpeg_decompress_struct *ci = &d->ci;

    if (setjmp(d->jb))
        return DRV_E_PROTO;
    for (;;) {
        switch (d->stage) {
        case 0:
            if (jpeg_read_header(ci, TRUE) == JPEG_SUSPENDED)
                return DRV_OK;
            if (d->bpp == 8) {
                ci->out_color_space = JCS_GRAYSCALE;
            } else if (d->bpp == 24) {
                ci->out_color_space = JCS_RGB;
            } else {
                dec_fail(d, "a JPEG cannot carry 1-bit black and white");
                return DRV_E_PROTO;
            }
            if (ci->image_width > MAX_DIMENSION || ci->image_height > MAX_DIMENSION) {
                dec_fail(d, "JPEG of %ux%u is too large", ci->image_width, ci->image_height);
                return DRV_E_PROTO;
            }
            d->stage = 1;
            break;
        case 1:
            if (!jpeg_start_decompress(ci))
                return DRV_OK;
            if ((unsigned)ci->output_components * 8u != d->bpp) {
                dec_fail(d, "JPEG decodes to %d components", ci->output_components);
                return DRV_E_PROTO;
            }
            if (!begin_image(d, ci->output_width, ci->output_height))
                return DRV_E_PROTO;
            d->stage = 2;
            break;
        case 2:
            while (ci->output_scanline < ci->output_height) {
                JSAMPROW row = d->rows + (size_t)ci->output_scanline * d->stride;

                if (jpeg_read_scanlines(ci, &row, 1) == 0)
                    return DRV_OK;
                rows_progress(d, ci->output_scanline);
            }
            d->stage = 3;
            break;
        case 3:
            if (!jpeg_finish_decompress(ci))
                return DRV_OK;
            d->stage = 4;
            d->complete = 1;
            break;
        default:
            return DRV_OK;
        }
    }
}

static int jpeg_feed(drv_img_dec *d, const uint8_t *data, size_t len)
{
    size_t keep;

    if (d->skip > 0) {
        size_t n = len < d->skip ? len : d->skip;

        d->skip -= n;
        data += n;
        len -= n;
    }
    if (d->stage >= 4 || len == 0)
        return DRV_OK; /* bytes after EOI are ignored */
    /* Keep what libjpeg has not consumed, then the new bytes. */
    keep = d->src.bytes_in_buffer;
    if (keep > 0 && d->src.next_input_byte != d->pend)
        memmove(d->pend, d->src.next_input_byte, keep);
    if (keep + len > d->pend_cap) {
        size_t cap = d->pend_cap ? d->pend_cap : 65536u;
        uint8_t *nb;

        while (cap < keep + len)
            cap *= 2;
        if (cap > MAX_JPEG_PENDING)
            return dec_fail(d, "JPEG needs more than %u bytes held back", MAX_JPEG_PENDING);
        nb = realloc(d->pend, cap);
        if (nb == NULL)
            return DRV_E_NOMEM;
        d->pend = nb;
        d->pend_cap = cap;
    }
    memcpy(d->pend + keep, data, len);
    d->pend_len = keep + len;
    d->src.next_input_byte = d->pend;
    d->src.bytes_in_buffer = d->pend_len;
    return jpeg_run(d);
}

/* ---- public ------------------------------------------------------------------------------ */

int drv_img_dec_new(enum drv_img_format fmt, unsigned bits_per_pixel, const drv_img_client *cl,
                    drv_img_dec **out)
{
    drv_img_dec *d;
    int rc;

    *out = NULL;
    if ((fmt != DRV_IMG_PNG && fmt != DRV_IMG_JPEG) ||
        (bits_per_pixel != 1 && bits_per_pixel != 8 && bits_per_pixel != 24) || !cl->begin)
        return DRV_E_INVALID;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return DRV_E_NOMEM;
    d->fmt = fmt;
    d->bpp = bits_per_pixel;
    d->cl = *cl;
    rc = fmt == DRV_IMG_PNG ? png_setup(d) : jpeg_setup(d);
    if (rc != DRV_OK) {
        drv_img_dec_free(d);
        return rc;
    }
    *out = d;
    return DRV_OK;
}

int drv_img_dec_feed(drv_img_dec *d, const uint8_t *data, size_t len)
{
    int rc;

    if (d->failed)
        return DRV_E_PROTO;
    if (len == 0)
        return DRV_OK;
    rc = d->fmt == DRV_IMG_PNG ? png_feed(d, data, len) : jpeg_feed(d, data, len);
    if (rc == DRV_OK && d->failed)
        rc = DRV_E_PROTO;
    return rc;
}

int drv_img_dec_finish(drv_img_dec *d)
{
    if (d->failed)
        return DRV_E_PROTO;
    if (!d->complete)
        return dec_fail(d, "the image ended after %u of %u rows", d->rows_done,
                        d->rows ? d->height : 0);
    return DRV_OK;
}

const char *drv_img_dec_error(const drv_img_dec *d)
{
    return d->err[0] ? d->err : "no error";
}

uint32_t drv_img_dec_rows(const drv_img_dec *d)
{
    return d->rows_done;
}

void drv_img_dec_free(drv_img_dec *d)
{
    if (d == NULL)
        return;
    if (d->png != NULL)
        png_destroy_read_struct(&d->png, d->info ? &d->info : NULL, NULL);
    if (d->jpeg_live)
        jpeg_destroy_decompress(&d->ci);
    free(d->pend);
    free(d);
}
