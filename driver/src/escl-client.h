/* driver: the pieces of the eSCL client (private to the driver).
 *
 *   escl_http.c    one HTTP/1.1 exchange over a byte stream: requests
 *                  written here, responses read through protocol/http.h's
 *                  response parser (the HTTP framing alone ends a
 *                  response), body bytes streamed to a sink as they arrive
 *   escl_tcp.c     the TCP stream: a connection per exchange (Connection:
 *                  close, as sane-airscan does)
 *   escl_ippusb.c  the IPP-USB stream: each IPP-USB interface's bulk OUT/IN
 *                  pair is one HTTP/1.1 connection, kept between exchanges,
 *                  over a bulk-pipe op table
 *   escl_usb.c     that pipe table over libusb-1.0: the device found by
 *                  selector (usb-select.h), its 7/1/4 interfaces claimed
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

#include "drv/drv.h"
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

typedef struct drv_http_client drv_http_client;

/* ---- byte streams ------------------------------------------------------------------- */

/* What one exchange runs over. A stream hands out a connection per
 * exchange (open), and takes it back (release) saying whether the exchange
 * left it clean: the response complete and nothing after it. Every
 * operation waits at most c->timeout_ms, checks *c->cancel at least every
 * 200 ms (send on IPP-USB: bounded by the timeout only), and on failure
 * leaves one line in c->err. */
typedef struct drv_http_stream_ops {
    const char *name; /* "tcp", "ippusb" */
    /* 1: a connection outlives its exchange (requests carry no
     * "Connection: close"; there is no end of stream). */
    int keep_alive;
    /* DRV_OK with *conn set, or DRV_E_CONNECT (refused, unreachable, name
     * unknown), DRV_E_TIMEOUT, DRV_E_CANCELLED, DRV_E_NOMEM, or the
     * transport's error (DRV_E_DISCONNECTED, DRV_E_IO). */
    int (*open)(drv_http_client *c, void **conn);
    /* All of len bytes, or an error. */
    int (*send)(drv_http_client *c, void *conn, const uint8_t *buf, size_t len);
    /* At least one byte (DRV_OK, *got > 0), the end of the stream (DRV_OK,
     * *got 0; never on a keep-alive stream), or DRV_E_TIMEOUT (nothing for
     * c->timeout_ms), DRV_E_CANCELLED, DRV_E_IO, DRV_E_DISCONNECTED. want:
     * how many bytes the response framing says are still to come (0: it
     * does not say), a hint for streams without message boundaries. */
    int (*recv)(drv_http_client *c, void *conn, uint8_t *buf, size_t cap, size_t want, size_t *got);
    /* conn is no longer used by the exchange; clean as above. */
    void (*release)(drv_http_client *c, void *conn, int clean);
} drv_http_stream_ops;

/* TCP to c->target->host:port, a connection per exchange. */
extern const drv_http_stream_ops drv_http_tcp_stream;

struct drv_http_client {
    const drv_http_target *target;
    unsigned timeout_ms; /* connect, send, and each wait for response bytes */
    const volatile sig_atomic_t *cancel;
    size_t max_body;                   /* buffered bodies; default 1 MiB */
    const drv_http_stream_ops *stream; /* NULL: drv_http_tcp_stream */
    void *stream_ctx;                  /* the stream's (drv_ippusb for ippusb) */
    char err[200];                     /* what went wrong, after an error */
};

/* One exchange: take a connection from the stream, send "METHOD path",
 * read the whole response. path is absolute ("/eSCL/ScannerStatus").
 * Returns DRV_OK once a complete response arrived (any status), else:
 *   DRV_E_CONNECT    cannot connect (refused, unreachable, name unknown)
 *   DRV_E_TIMEOUT    nothing for timeout_ms (connecting, sending or waiting
 *                    for the response or the next body bytes)
 *   DRV_E_IO         the connection reset or closed before the response was
 *                    complete (a cut body)
 *   DRV_E_DISCONNECTED  the USB device went away (IPP-USB)
 *   DRV_E_PROTO      a response the parser refused, or a buffered body
 *                    beyond max_body
 *   DRV_E_CANCELLED  *cancel became non-zero
 *   DRV_E_NOMEM
 *   the sink's error
 * r is filled as far as the response got (status 0 before a head). */
int drv_http_exchange(drv_http_client *c, const char *method, const char *path,
                      const char *content_type, const void *body, size_t body_len,
                      drv_http_reply *r, drv_http_sink sink, void *ctx);

/* ---- IPP-USB ------------------------------------------------------------------------ */

#define DRV_IPPUSB_MAX 8u /* IPP-USB interfaces used at most */

/* A device's IPP-USB interfaces as bulk pipes, one per interface
 * (escl_usb.c over libusb; tests use fakes). ctx is drv_ippusb.pipe_ctx. */
typedef struct drv_ippusb_pipe_ops {
    /* All of len bytes to interface i's bulk OUT within timeout_ms. DRV_OK,
     * DRV_E_TIMEOUT (some may have gone: the caller resets), or the error. */
    int (*write)(void *ctx, unsigned i, const uint8_t *buf, size_t len, unsigned timeout_ms);
    /* Interface i's bulk IN bytes, at most cap, waiting at most wait_ms:
     * DRV_OK with *got 0 when nothing came (or a zero-length packet), or
     * the error (DRV_E_DISCONNECTED, DRV_E_STALL, DRV_E_IO). Bytes are never
     * lost between calls: a read still pending when wait_ms ends stays
     * pending for the next call. want is what the HTTP framing says is left
     * (0: unknown): a transfer sized to it, rounded up to whole packets (one
     * packet when unknown), completes at the response's end even when the
     * device sends no zero-length packet after a full last packet. */
    int (*read)(void *ctx, unsigned i, uint8_t *buf, size_t cap, size_t want, size_t *got,
                unsigned wait_ms);
    /* Start interface i's connection afresh: drop a pending read and what
     * it held, and make the device drop its side (SET_INTERFACE). */
    int (*reset)(void *ctx, unsigned i);
} drv_ippusb_pipe_ops;

/* The IPP-USB stream's state: caller-owned, filled by drv_ippusb_init. */
typedef struct drv_ippusb {
    const drv_ippusb_pipe_ops *pipe;
    void *pipe_ctx;
    unsigned n; /* interfaces, 1..DRV_IPPUSB_MAX */
    struct drv_ippusb_conn {
        struct drv_ippusb *u;
        unsigned i;
        int busy;  /* an exchange holds it */
        int dirty; /* an exchange broke off on it: reset before reuse */
    } conn[DRV_IPPUSB_MAX];
} drv_ippusb;

void drv_ippusb_init(drv_ippusb *u, const drv_ippusb_pipe_ops *pipe, void *pipe_ctx, unsigned n);

/* HTTP over drv_ippusb (c->stream_ctx): an exchange takes the first idle
 * interface (one request at a time per interface, never interleaved); an
 * interface an exchange left unclean is reset before it carries another.
 * Zero-length and short bulk IN packets are just pieces of the stream: the
 * HTTP framing ends a response. */
extern const drv_http_stream_ops drv_http_ippusb_stream;

/* One IPP-USB interface of a configuration. */
typedef struct drv_ippusb_iface {
    uint8_t number, alt; /* bInterfaceNumber, the alt setting carrying 7/1/4 */
    uint8_t ep_in, ep_out;
    uint16_t in_mps, out_mps;
} drv_ippusb_iface;

struct libusb_config_descriptor;

/* The IPP-USB interfaces of cfg: class 7 / subclass 1 / protocol 4 with a
 * bulk IN and a bulk OUT endpoint, the first such alt setting of each
 * interface, in descriptor order. Returns how many (at most max) went to
 * out. Pure: no device is touched. */
unsigned drv_ippusb_ifaces(const struct libusb_config_descriptor *cfg, drv_ippusb_iface *out,
                           unsigned max);

/* eSCL over IPP-USB through libusb-1.0 (escl_usb.c). */
typedef struct drv_escl_usb drv_escl_usb;

/* Find the device "escl+usb[:SELECTOR]" names (rest: what follows
 * "escl+usb:", "" for none; usb-select.h; with no selector, the one device
 * having IPP-USB interfaces), select the configuration holding them, claim
 * every one and set its alt setting. info gets the device's identity and
 * where ("IPP-USB bus 1 device 3, interfaces 0,1"). DRV_OK, or DRV_E_URI,
 * DRV_E_NODEV, DRV_E_WRONG_DEVICE (no IPP-USB interface), DRV_E_BUSY (an
 * interface claimed elsewhere: ipp-usb), DRV_E_CONNECT, DRV_E_NOMEM, ...,
 * with one line in err. */
int drv_escl_usb_open(const char *rest, drv_escl_usb **out, drv_device_info *info, char *err,
                      size_t errlen);
/* For the eSCL session: open the device "escl+usb[:SELECTOR]" (uri whole)
 * names and point http (target tgt) at its IPP-USB stream, s->res->device
 * filled. 0 on failure, recorded in s with the HRESULT the native
 * transports' open failures map to. */
struct drv_session;
int drv_escl_usb_connect(struct drv_session *s, const char *uri, drv_http_target *tgt,
                         drv_http_client *http, drv_escl_usb **out);
/* The stream state for drv_http_ippusb_stream; valid until close. */
drv_ippusb *drv_escl_usb_stream(drv_escl_usb *u);
/* Cancel what is pending, release the interfaces, close. NULL is fine. */
void drv_escl_usb_close(drv_escl_usb *u);

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
