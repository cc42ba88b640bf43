/* driver: the pieces of the eSCL client (private to the driver).
 *
 *   escl_http.c    one HTTP/1.1 exchange per TCP connection (Connection:
 *                  close, as sane-airscan does): requests written here,
 *                  responses read through protocol/http.h's response
 *                  parser, body bytes streamed to a sink as they arrive
 *   escl_decode.c  PNG (libpng's progressive reader) and JPEG (libjpeg-turbo
 *                  with a suspending source) decoded row by row straight
 *                  into the page buffer
 *   escl_session.c the eSCL protocol (drv-session.h's drv_escl_protocol)
 *
 * Every wait is bounded by the caller's timeout and ends early on its
 * cancel flag; nothing here keeps process-global state.
 */
#ifndef SCANEMU_DRV_ESCL_CLIENT_H
#define SCANEMU_DRV_ESCL_CLIENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/http.h"

/* ---- HTTP ----------------------------------------------------------------------- */

#define DRV_HTTP_HOST_SIZE 256u
#define DRV_HTTP_PATH_SIZE 512u

/* Where an "escl+http://HOST[:PORT][/PATH]" URI points. */
typedef struct drv_http_target {
    char host[DRV_HTTP_HOST_SIZE];     /* for getaddrinfo: no brackets */
    char hostport[DRV_HTTP_HOST_SIZE]; /* the Host header: "[::1]:8080", "localhost:8080" */
    uint16_t port;                     /* default 80 */
    char base[DRV_HTTP_PATH_SIZE];     /* "/eSCL" (no trailing slash; default "/eSCL") */
} drv_http_target;

/* Parse what follows "escl+http://". DRV_OK or DRV_E_URI with one line in
 * err. */
int drv_http_target_parse(const char *rest, drv_http_target *t, char *err, size_t errlen);

/* What the caller gets of a response. The body is kept (malloc'd,
 * NUL-terminated, freed by drv_http_reply_free) only when no sink was given,
 * and only up to max_body bytes (beyond: DRV_E_PROTO). */
typedef struct drv_http_reply {
    int status;
    char location[DRV_HTTP_PATH_SIZE]; /* "" if none (cut if longer) */
    char content_type[128];
    unsigned retry_after_s; /* Retry-After in seconds, 0 if none or a date */
    uint8_t *body;
    size_t body_len;
    uint64_t head_ns; /* CLOCK_MONOTONIC arrival of the head */
} drv_http_reply;
void drv_http_reply_free(drv_http_reply *r);

/* Body sink: called once with the head (data NULL) before any body byte,
 * then with every piece of the body as it arrives. A negative return (a
 * DRV_E_*) ends the exchange with that error. */
typedef int (*drv_http_sink)(void *ctx, const drv_http_reply *head, const uint8_t *data,
                             size_t len);

typedef struct drv_http_client {
    const drv_http_target *target;
    unsigned timeout_ms; /* connect, send, and each wait for response bytes */
    const volatile sig_atomic_t *cancel;
    size_t max_body; /* buffered bodies; default 1 MiB */
    char err[200];   /* what went wrong, after an error */
} drv_http_client;

/* One exchange: connect, send "METHOD base-relative-or-absolute path", read
 * the whole response. path is absolute ("/eSCL/ScannerStatus"). Returns
 * DRV_OK once a complete response arrived (any status), else:
 *   DRV_E_CONNECT    cannot connect (refused, unreachable, name unknown)
 *   DRV_E_TIMEOUT    nothing for timeout_ms (connecting, sending or waiting
 *                    for the response or the next body bytes)
 *   DRV_E_IO         the connection reset or closed before the response was
 *                    complete (a cut body)
 *   DRV_E_PROTO      a response the parser refused, or a buffered body
 *                    beyond max_body
 *   DRV_E_CANCELLED  *cancel became non-zero
 *   DRV_E_NOMEM
 *   the sink's error
 * r is filled as far as the response got (status 0 before a head). */
int drv_http_exchange(drv_http_client *c, const char *method, const char *path,
                      const char *content_type, const void *body, size_t body_len,
                      drv_http_reply *r, drv_http_sink sink, void *ctx);

/* ---- image decoding ----------------------------------------------------------------- */

enum drv_img_format { DRV_IMG_PNG = 1, DRV_IMG_JPEG = 2 };

/* The decoder's client: begin is called once the image header is read,
 * with the image's size, and returns the buffer the rows go to (stride
 * bytes per row, height rows) or NULL to refuse (the decode then fails
 * with DRV_E_PROTO and the message begin left in err). rows reports how
 * many rows are complete (from the top), for progress. */
typedef struct drv_img_client {
    uint8_t *(*begin)(void *ctx, uint32_t width, uint32_t height, char *err, size_t errlen);
    void (*rows)(void *ctx, uint32_t rows_done);
    void *ctx;
} drv_img_client;

typedef struct drv_img_dec drv_img_dec;

/* A decoder for one image to bits_per_pixel 1 (PNG only: 1-bit gray, 0 =
 * black, MSB first), 8 (gray) or 24 (RGB), width_bytes = (width * bpp +
 * 7) / 8 per row. Other PNG layouts (palette, 16-bit, alpha, gray for
 * colour and colour for gray) are converted by libpng; a 1-bit request
 * takes only a 1-bit gray PNG. DRV_OK, DRV_E_NOMEM, DRV_E_INVALID. */
int drv_img_dec_new(enum drv_img_format fmt, unsigned bits_per_pixel, const drv_img_client *cl,
                    drv_img_dec **out);
/* Body bytes. DRV_OK, or DRV_E_PROTO (a corrupt or refused image; see
 * drv_img_dec_error) or DRV_E_NOMEM. */
int drv_img_dec_feed(drv_img_dec *d, const uint8_t *data, size_t len);
/* The body is complete: DRV_OK if every row was decoded, else DRV_E_PROTO. */
int drv_img_dec_finish(drv_img_dec *d);
const char *drv_img_dec_error(const drv_img_dec *d);
uint32_t drv_img_dec_rows(const drv_img_dec *d);
void drv_img_dec_free(drv_img_dec *d);

#endif
