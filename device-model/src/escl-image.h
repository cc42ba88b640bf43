/* eSCL front, private: a growable byte buffer with a cap, and a streaming
 * image encoder (PNG through libpng, its zlib stream at level 1 made by
 * ISA-L's igzip; JPEG through libjpeg-turbo) that turns the engine's bands
 * into compressed bytes as they are released, flushing at every band so that
 * a band's pixels leave the device when the band does. */
#ifndef SCANEMU_DM_ESCL_IMAGE_H
#define SCANEMU_DM_ESCL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "dm-internal.h"

/* ---- byte buffer ------------------------------------------------------------ */

typedef struct dm_buf {
    const dm_alloc *alloc;
    uint8_t *data;
    size_t len; /* bytes held, from data[off] */
    size_t off; /* bytes already taken from the front */
    size_t cap; /* allocated */
    size_t max; /* never grows past this; appends beyond fail */
} dm_buf;

void dm_buf_init(dm_buf *b, const dm_alloc *a, size_t max);
void dm_buf_free(dm_buf *b);
/* DM_OK, DM_E_NOMEM, or DM_E_RANGE when len would pass b->max. */
int dm_buf_append(dm_buf *b, const void *p, size_t n);
int dm_buf_printf(dm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline const uint8_t *dm_buf_head(const dm_buf *b)
{
    return b->data + b->off;
}
/* Drop n bytes from the front (n <= b->len). */
void dm_buf_take(dm_buf *b, size_t n);
void dm_buf_clear(dm_buf *b);

/* ---- image encoder ------------------------------------------------------------ */

enum dm_img_format {
    DM_IMG_PNG = 0,
    DM_IMG_JPEG = 1,
};

typedef struct dm_img_enc dm_img_enc;

/* Starts an image of the job's geometry (width_px x height_px, the job's
 * mode: 1-bit, 8-bit gray or 24-bit RGB; 16-bit modes are refused with
 * DM_E_INVALID, as is JPEG of a 1-bit mode). Compressed bytes are appended
 * to *sink (borrowed; it must outlive the encoder). png_level is zlib's
 * 0..9 (1 through igzip: escl-image.c), jpeg_quality 1..100. Writes the
 * image header into *sink at once. */
int dm_img_enc_begin(const dm_alloc *a, enum dm_img_format fmt, const proto_scan_job *job,
                     int png_level, int jpeg_quality, dm_buf *sink, dm_img_enc **out);
/* n_lines rows of job->bytes_per_line bytes each, in order. Everything they
 * compress to is in *sink when this returns (a zlib sync flush for PNG, the
 * encoder's buffer for JPEG). DM_E_RANGE past the image's height. */
int dm_img_enc_rows(dm_img_enc *e, const uint8_t *rows, uint32_t n_lines);
/* All rows given: writes the trailer. DM_E_STATE when rows are missing. */
int dm_img_enc_finish(dm_img_enc *e);
/* Rows given so far. */
uint32_t dm_img_enc_lines(const dm_img_enc *e);
void dm_img_enc_free(dm_img_enc *e);

#endif
