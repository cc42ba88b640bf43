/* driver: the scanner session (private to the driver).
 *
 * One job, whatever the protocol. session.c runs it (drv_scan_to_stream)
 * through a protocol's const ops table (struct drv_protocol below) and owns
 * what every protocol shares: results and logging, the fault -> HRESULT
 * mapping (docs/driver.md, "Fault mapping"), progress and the host trace. The rest, a
 * file per concern:
 *
 *   session_pages.c   page assembly: the page buffers and the
 *                     MINIDRV_TRANSFER_CONTEXT, each finished page into the
 *                     TIFF (wiasWritePageBufToStreamEx), in line or through
 *   session_writer.c  the write-behind thread
 *   native_cmd.c      the native protocol (docs/protocol.md) over a
 *                     transport: the command exchange, interrupt events, the
 *                     job's start and abort (drv_native_protocol)
 *   native_bands.c    its band ring: bulk IN transfers in flight, every band
 *                     checked and put into the page
 *   escl_session.c    eSCL over HTTP (drv_escl_protocol; escl_http.c and
 *                     escl_decode.c, escl-client.h)
 *
 * A protocol fills the page the session gives it (s->page) and says when it
 * is complete; the session writes it, so pages, the writer and the fault
 * mapping are the same for every protocol.
 */
#ifndef SCANEMU_DRV_SESSION_H
#define SCANEMU_DRV_SESSION_H

#include <pthread.h>
#include <stdio.h>

#include "drv-internal.h"
#include "wias/wias.h"

typedef struct drv_session drv_session;

/* ---- the protocol interface ------------------------------------------------------------ */

enum drv_page_result {
    DRV_PAGE_OK = 0, /* s->page holds page s->page_no, complete */
    DRV_PAGE_END,    /* the job is over; its outcome (success or a fault) is recorded */
    DRV_PAGE_FAIL,   /* a failure, recorded */
};

/* A protocol's side of the job. drv_scan_to_stream calls open, then (if it
 * succeeded) start, then next_page until it returns anything but
 * DRV_PAGE_OK, handing each page to the TIFF in between; then, if start was
 * called, stop; close always. Every failure is recorded with drv_sess_fail
 * (or the helpers below) before a call returns 0 or DRV_PAGE_FAIL. The
 * protocol keeps its own state in s->priv from open to close. */
typedef struct drv_protocol {
    const char *name;      /* "native", "escl" */
    const char *trace_tag; /* the host trace's "proto" member; NULL: none */
    int wire_bands;        /* the wire has bands: messages name page and band */
    /* Connect to the device behind uri, learn what it offers, check the
     * request against that and agree the job. Then s->job describes the
     * pages and drv_sess_begin_pages (or drv_sess_alloc_pages and
     * drv_writer_start) has run, or the protocol does that at the first
     * page (eSCL: the image says its size). 1, or 0 on failure. */
    int (*open)(drv_session *s, const char *uri);
    /* Start the job on the device; s->t0 is its start. 1, or 0 on failure. */
    int (*start)(drv_session *s);
    /* Receive the next page into s->page. */
    enum drv_page_result (*next_page)(drv_session *s);
    /* Optional: send whatever the protocol holds back, because the session
     * is about to block on something other than the device (the TIFF
     * write, the writer). Never waits for the device. */
    void (*flush)(drv_session *s);
    /* After the last page or a failure: take back what is still
     * outstanding and end the job on the device if it still runs (best
     * effort). */
    void (*stop)(drv_session *s);
    /* Release what open and start took, whether they succeeded or not. */
    void (*close)(drv_session *s);
} drv_protocol;

extern const drv_protocol drv_native_protocol; /* native_cmd.c */
extern const drv_protocol drv_escl_protocol;   /* escl_session.c */

/* ---- write-behind (session_writer.c) --------------------------------------------------- */

/* Write-behind: one thread that writes finished pages, one at a time, in
 * order, through wiasWritePageBufToStream. The page buffers form a ring:
 * the session assembles page k in pagebuf[k % npagebuf] and hands it over
 * by counting it (handed); the writer writes handed pages in order
 * (done = written + dropped). The session takes the next buffer only once
 * the writer is done with what was in it, so at most npagebuf - 1 pages wait
 * for the writer. After a failed write the writer drops what is still
 * handed to it (those pages are not in the stream). The writer is the only
 * user of the stream and the MINIDRV_TRANSFER_CONTEXT while it runs. */
/* Page buffers a write-behind job uses. Measured (20 A4 colour pages, 4
 * alternating sets of 8 runs): 3 is no faster than 2, so 2. */
#define WB_PAGES 2
typedef struct page_writer {
    pthread_t thread;
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    int running;      /* thread started, not yet joined */
    int faulting;     /* the writer is still faulting in pagebuf[1..] */
    int quit;         /* session -> writer: no more pages */
    uint32_t handed;  /* session -> writer: pages handed over */
    uint32_t done;    /* pages written or dropped */
    uint32_t written; /* pages written */
    int broken;       /* a write failed: later pages are dropped */
    int reported;     /* the failure reached the session */
    int32_t hr;       /* the failure */
    char msg[256];
} page_writer;

/* Start the writer when the job has more than one page buffer. If the
 * thread cannot be started the session writes pages itself. */
void drv_writer_start(drv_session *s);
/* Wait until at most max_queued handed pages are still with the writer
 * (or a write failed), then bring pages_done up to date and record a write
 * failure as the job's. Called only from the session thread; nothing if
 * no writer runs. */
void drv_writer_wait(drv_session *s, uint32_t max_queued);
/* Hand the page in s->page to the writer; returns how many pages it has
 * been handed in all. */
uint32_t drv_writer_hand(drv_session *s);
/* Finish the last page and end the thread (nothing if none runs). */
void drv_writer_stop(drv_session *s);

/* ---- the session ------------------------------------------------------------------------ */

struct drv_session {
    const drv_scan_options *o;
    drv_scan_result *res;
    const drv_protocol *proto;
    void *priv; /* the protocol's state, open to close */
    IStream *stream;
    FILE *trace;
    int failed;
    int ignore_cancel; /* the protocol is carrying out a cancel (native ABORT) */

    proto_scan_job job; /* the pages: size, depth, dpi, bands (native) */
    uint64_t t0;        /* start of the job (START_JOB response, POST ScanJobs answer) */
    uint32_t page_no, band_no;
    uint32_t pages_in;   /* pages received complete (written or being written) */
    uint32_t pages_done; /* pages in the stream */

    /* page assembly (session_pages.c) */
    MINIDRV_TRANSFER_CONTEXT mdtc;
    uint8_t *page; /* being assembled: one of pagebuf */
    uint8_t *pagebuf[WB_PAGES];
    unsigned npagebuf; /* 1: pages written in line */
    size_t page_bytes;
    page_writer wr;
    uint32_t pages_logged; /* writer's pages already logged */
};

/* Results, logging and the fault mapping every protocol shares (session.c). */

/* Record the job's failure (the first one wins; a page still being written
 * finishes first) and return its HRESULT. */
int32_t drv_sess_fail(drv_session *s, int32_t hr, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* One diagnostic line through o->log. */
void drv_sess_log(drv_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The caller asked for the job to stop (o->cancel), and no cancel is being
 * carried out already. */
int drv_sess_cancelled(const drv_session *s);
/* A connection-level failure err (DRV_E_*) during what: E_ABORT when it is
 * the caller's cancel ("cancelled during what (page P[ band B])"), else
 * WIA_ERROR_DEVICE_COMMUNICATION ("what: detail", detail NULL or "": the
 * error's text). */
int32_t drv_sess_comm(drv_session *s, int err, const char *what, const char *detail);
/* The device could not be reached or opened (err from opening the
 * transport or the first request): WIA_ERROR_OFFLINE for no device, no
 * scanner or the wrong one, E_INVALIDARG for a bad URI, WIA_ERROR_BUSY,
 * E_OUTOFMEMORY, else DEVICE_COMMUNICATION; msg says what. */
int32_t drv_sess_open_fail(drv_session *s, int err, const char *msg);
/* The device ended or refused the job with status (a PROTO_SCAN_ST_*, not
 * OK): what a WIA minidriver returns (drv_hr_from_status). An empty feeder
 * is WIA_STATUS_END_OF_MEDIA after a page ("the feeder ran empty after page
 * N"), WIA_ERROR_PAPER_EMPTY before one; any other status is a
 * DRV_E_DEVICE failure that fmt describes. */
int32_t drv_sess_device_fault(drv_session *s, uint32_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Per-band progress (o->progress) for band of page s->page_no, bytes
 * received in all, at time at_ns. */
void drv_sess_progress(drv_session *s, uint32_t band, uint64_t bytes, uint64_t at_ns);
/* One host trace line (nothing without --trace). */
void drv_sess_trace_band(drv_session *s, uint32_t page, uint32_t side, uint32_t band,
                         uint64_t arrival_ns, uint64_t bytes, const char *status);
/* The side of page s->page_no: 0 front, 1 back (duplex jobs alternate). */
static inline uint32_t drv_sess_side(const drv_session *s)
{
    return s->job.source == PROTO_SCAN_SOURCE_DUPLEX ? s->page_no % 2u : 0u;
}

/* Page assembly (session_pages.c). */

/* Whether a page of height lines of bytes_per_line fits a WIA transfer
 * buffer (LONG lBufferSize). */
int drv_page_fits_wia(uint64_t bytes_per_line, uint32_t height);
/* s->job describes the pages (width, height, bits per pixel, bytes per
 * line, dpi, pages): allocate the page buffers (one, or WB_PAGES with
 * write-behind for a job of more than one page) and the transfer context.
 * Then s->page is the buffer to fill. 0 when out of memory (not recorded). */
int drv_sess_alloc_pages(drv_session *s);
/* drv_sess_alloc_pages, then the writer started. 0 on failure (recorded). */
int drv_sess_begin_pages(drv_session *s);
/* s->page holds page s->page_no, complete: into the TIFF (or handed to the
 * writer); s->page is the next page's buffer afterwards, page_no counts on
 * and band_no is 0. 0 on failure (recorded). */
int drv_sess_page_done(drv_session *s);
/* Write page (page number page_no) through wiasWritePageBufToStreamEx, or
 * encode and drop it when there is no stream. On failure fills msg. Used
 * by the writer thread while it runs, else by the session thread. */
HRESULT drv_sess_put_page(drv_session *s, uint8_t *page, uint32_t page_no, char *msg,
                          size_t msglen);
/* Fault in a fresh buffer's pages at once (best effort). */
void drv_prefault(void *p, size_t len);
/* Free the page buffers (the writer stopped). */
void drv_sess_free_pages(drv_session *s);

/* ---- the native protocol (native_cmd.c, native_bands.c) ---------------------------------- */

/* Per ring transfer: what its completion measured while the data was still
 * in cache. */
typedef struct ring_slot {
    uint64_t arrival; /* completion time */
    uint32_t crc;     /* proto_crc32 of the data bytes that arrived */
    int crc_ok;       /* crc covers all of them */
} ring_slot;

typedef struct drv_native {
    drv_transport *t;
    uint32_t tag;

    uint8_t *inbuf; /* command responses */
    size_t inbuf_len;
    uint64_t rsp_ns; /* arrival of the last response */
    drv_xfer rspx;   /* the response read; lives as long as the transport */

    drv_xfer evt;
    uint8_t evtbuf[PROTO_SCAN_EVENT_SIZE];
    uint64_t evt_ns;
    int evt_live;
    int closing; /* no more event reads */

    proto_scan_caps caps;
    int job_running; /* START_JOB accepted, END_OF_JOB not seen */

    unsigned n; /* transfers in the ring */
    drv_xfer *ring;
    ring_slot *slot;
    uint8_t *ringbuf;
    unsigned head; /* the transfer that carries the next band */
    unsigned idle; /* transfers before head not queued (again) yet */
    unsigned stall_clears;
} drv_native;

/* Pump the transport's events until x is done (x NULL: until timeout_ms
 * passed), servicing the event endpoint meanwhile. DRV_OK, DRV_E_TIMEOUT,
 * DRV_E_CANCELLED (the caller's cancel) or the transport's error. */
int drv_native_wait(drv_session *s, drv_xfer *x, unsigned timeout_ms);
/* The ring for s->job (o->in_flight transfers of max_in_transfer bytes).
 * 0 when out of memory (not recorded). */
int drv_native_ring_alloc(drv_session *s);
void drv_native_ring_free(drv_native *n);
/* Cancel every ring transfer still pending and wait (bounded) for them. */
void drv_native_ring_cancel(drv_session *s);
/* drv_protocol.next_page: the band stream up to a page's last band. */
enum drv_page_result drv_native_next_page(drv_session *s);

/* ---- eSCL (escl_session.c) ----------------------------------------------------------------- */

/* Whether uri names an eSCL transport ("escl+http://", "escl+usb"). */
int drv_escl_is_uri(const char *uri);

#endif
