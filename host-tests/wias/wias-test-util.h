/* Helpers shared by the wias Check suites. */
#ifndef WIAS_TEST_UTIL_H
#define WIAS_TEST_UTIL_H

#include <wias/wias.h>

#include <stddef.h>
#include <stdint.h>

/* Deterministic, mostly smooth test image (JPEG-friendly) with packed rows
 * at the given stride; padding bytes and unused low bits are zero. */
BYTE *tu_make_page(LONG width, LONG lines, LONG depth, LONG stride, unsigned seed);

/* A context for one page of the given geometry; buffer not owned. */
void tu_init_ctx(MINIDRV_TRANSFER_CONTEXT *c, LONG width, LONG lines, LONG depth, LONG compression,
                 LONG stride, BYTE *buf);

/* Packed TIFF row size. */
size_t tu_row_bytes(LONG width, LONG depth);

/* Copy a memory stream's contents to a new temporary file; returns a
 * malloc'd path (caller unlinks and frees). */
char *tu_stream_to_tempfile(IStream *stm);
char *tu_temp_path(const char *tag);

/* Snapshot of a memory stream's bytes (malloc'd). */
BYTE *tu_snapshot(IStream *stm, ULONGLONG *len);

/* libtiff-side checks on a file. Messages from libtiff are collected;
 * tu_tiff_errors counts error messages seen by the last call. */
int tu_count_pages(const char *path);

struct tu_page_expect {
    LONG width, lines, depth, compression, xres, yres, page;
    LONG stride;
    const BYTE *pixels;   /* rows stride apart */
    double min_psnr;      /* 0: exact */
    ULONGLONG ifd_offset; /* 0: do not check */
    BOOL miniswhite;
};
/* Returns NULL on success or a static message describing the mismatch. */
const char *tu_check_page(const char *path, int dir, const struct tu_page_expect *e);

/* Run `tiffinfo -D path`; returns 0 when exit status is 0 and stderr has no
 * error line, else -1 and fills msg. */
int tu_tiffinfo_ok(const char *path, char *msg, size_t msglen);

#endif
