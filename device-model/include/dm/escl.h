/* device-model: the eSCL front — a virtual scanner as an AirScan/eSCL
 * (HTTP/1.1 + XML) device, over a job engine shared with the other fronts.
 *
 * Like the native front, it is a byte-level state machine with no sockets:
 * a carrier (the emulator's TCP listener, or an IPP-USB interface's bulk
 * pipes) feeds it a connection's request bytes and asks it what to send
 * next and from when. Timing, faults and pixels come from the engine
 * (dm/engine.h); a job started here makes the device busy for every front,
 * and a job of another front makes this one answer 503 and report
 * pwg:State Processing. docs/escl.md has the surface, the fault and quirk
 * mapping and their sources.
 *
 * Threads: none. A front, its connections and its engine are driven from
 * one thread.
 *
 * Ownership: dm_escl_create borrows the engine (it must outlive the front);
 * a connection belongs to its front and must be freed before it. Pointers
 * returned by dm_escl_conn_peek are valid until the next call on that
 * connection or on the front.
 */
#ifndef SCANEMU_DM_ESCL_H
#define SCANEMU_DM_ESCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm/engine.h"

typedef struct dm_escl dm_escl;
typedef struct dm_escl_conn dm_escl_conn;

typedef struct dm_escl_config {
    dm_engine *engine; /* borrowed */
    /* Path prefix this device answers besides "/eSCL", e.g. "/1-2" so that
     * "/1-2/eSCL/..." is served too; NULL or "" = only "/eSCL". */
    const char *prefix;
    /* Whether plain "/eSCL" is served too (the first device over TCP, every
     * device over IPP-USB). Default true. */
    bool plain_root;
    int png_level;                /* zlib level for PNG, 0..9; default 1 */
    int jpeg_quality;             /* default when ScanSettings has no CompressionFactor: 90 */
    uint64_t job_idle_timeout_ns; /* a job nobody reads is aborted; default 60 s */
    /* Encode a band as soon as the engine offers it, before its deadline,
     * and only release it at the deadline (default true). The bytes sent
     * are the same either way; off, the encode sits between the deadline
     * and the release. */
    bool encode_ahead;
    const char *make_and_model; /* default: the profile's manufacturer + product */
    const char *serial;         /* default: the profile's serial */
    /* Optional: one line for each request a scenario quirk answered
     * (docs/escl.md), so a test can see that a client's workaround engaged. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
} dm_escl_config;
void dm_escl_config_init(dm_escl_config *cfg);

/* DM_E_INVALID (bad config), DM_E_NOMEM, DM_E_RANGE (the engine has no room
 * for another front). */
int dm_escl_create(const dm_escl_config *cfg, dm_escl **out);
/* Cancels this front's job, if any. Free every connection first. */
void dm_escl_free(dm_escl *e);

/* The front's own deadline: the earliest time dm_escl_poll has work (a job
 * nobody reads that must be aborted, a job end to record); UINT64_MAX none. */
uint64_t dm_escl_poll(dm_escl *e, uint64_t now_ns);

/* ---- connections ------------------------------------------------------------ */

int dm_escl_conn_open(dm_escl *e, dm_escl_conn **out);
/* The peer went away (or the carrier closed it): a page stream in progress
 * is abandoned (the job goes on; the client may ask for the page again is
 * NOT possible: the page is lost, as on a real device). */
void dm_escl_conn_free(dm_escl_conn *c);

/* Request bytes, in pieces of any size. Returns the number of bytes taken
 * (less than len while a response is still being sent: offer the rest
 * later), or DM_E_PROTO when the connection must be closed (the error
 * response, if any, is queued: send it, then close). */
int dm_escl_conn_input(dm_escl_conn *c, const uint8_t *buf, size_t len, uint64_t now_ns);
/* The peer closed its sending side (EOF). */
void dm_escl_conn_input_eof(dm_escl_conn *c, uint64_t now_ns);

typedef enum dm_escl_out_kind {
    DM_ESCL_OUT_IDLE = 0, /* nothing to send: wait for input */
    DM_ESCL_OUT_WAIT,     /* nothing before deadline_ns (UINT64_MAX: never) */
    DM_ESCL_OUT_DATA,     /* send data/len now, then dm_escl_conn_sent */
    DM_ESCL_OUT_CLOSE,    /* everything sent: close the connection (FIN) */
    DM_ESCL_OUT_RESET,    /* drop the connection at once (RST): the device vanished */
} dm_escl_out_kind;

typedef struct dm_escl_out {
    dm_escl_out_kind kind;
    uint64_t deadline_ns;
    const uint8_t *data;
    size_t len;
    /* CLOSE: the response just sent was cut short (a page aborted mid-body:
     * a chunked body without its last chunk). Over TCP the close itself
     * tells the client; a carrier that has no close (an IPP-USB pipe) must
     * make the cut visible before the connection starts afresh. */
    bool cut;
} dm_escl_out;

/* What the connection sends next at now_ns. May advance the engine (bands
 * due are released here, and encoded if they were not before: with
 * encode_ahead the band a WAIT is for is encoded before this returns). */
void dm_escl_conn_peek(dm_escl_conn *c, uint64_t now_ns, dm_escl_out *out);
/* n (<= out->len) bytes of the last DATA were written. */
void dm_escl_conn_sent(dm_escl_conn *c, size_t n, uint64_t now_ns);
/* A response is in progress (being produced or not yet all sent): the
 * carrier keeps the connection however long a page takes. */
bool dm_escl_conn_busy(const dm_escl_conn *c);

#endif
