/* driver: the scanner session as every protocol shares it — results and
 * logging, the page buffers of a MINIDRV_TRANSFER_CONTEXT and the
 * write-behind writer (session.c). The native protocol (session.c) fills
 * pages from bands; eSCL (escl_*.c) from decoded image rows. Private to the
 * driver. */
#ifndef SCANEMU_DRV_SESSION_H
#define SCANEMU_DRV_SESSION_H

#include <pthread.h>
#include <stdio.h>

#include "drv-internal.h"
#include "wias/wias.h"

/* Per ring transfer: what its completion measured while the data was still
 * in cache. */
typedef struct ring_slot {
    uint64_t arrival; /* completion time */
    uint32_t crc;     /* proto_crc32 of the data bytes that arrived */
    int crc_ok;       /* crc covers all of them */
} ring_slot;

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

typedef struct drv_session {
    const drv_scan_options *o;
    drv_scan_result *res;
    drv_transport *t;
    IStream *stream;
    FILE *trace;
    uint32_t tag;
    int failed;

    uint8_t *inbuf; /* command responses */
    size_t inbuf_len;
    uint64_t rsp_ns; /* arrival of the last response */
    drv_xfer rspx;   /* the response read; lives as long as the transport */

    drv_xfer evt;
    uint8_t evtbuf[PROTO_SCAN_EVENT_SIZE];
    uint64_t evt_ns;
    int evt_live;

    proto_scan_caps caps;
    proto_scan_job job;
    int job_running; /* START_JOB accepted, END_OF_JOB not seen */

    unsigned n; /* transfers in the ring */
    drv_xfer *ring;
    ring_slot *slot;
    uint8_t *ringbuf;

    MINIDRV_TRANSFER_CONTEXT mdtc;
    uint8_t *page; /* being assembled: one of pagebuf */
    uint8_t *pagebuf[WB_PAGES];
    unsigned npagebuf; /* 1: pages written in line */
    size_t page_bytes;
    page_writer wr;
    uint32_t pages_logged; /* writer's pages already logged */

    uint64_t t0; /* START_JOB response arrival */
    uint32_t page_no, band_no;
    uint32_t pages_in;   /* pages received complete (written or being written) */
    uint32_t pages_done; /* pages in the stream */
    unsigned stall_clears;
    int ignore_cancel; /* while sending ABORT after a cancel */
    int closing;       /* no more event reads */
} drv_session;

/* Record the job's failure (the first one wins; a page still being written
 * finishes first) and return its HRESULT. */
int32_t drv_sess_fail(drv_session *s, int32_t hr, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* One diagnostic line through o->log. */
void drv_sess_log(drv_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The caller asked for the job to stop (o->cancel). */
int drv_sess_cancelled(const drv_session *s);
/* s->job describes the pages (width, height, bits per pixel, bytes per
 * line, dpi, pages): allocate the page buffers and the transfer context,
 * start the writer. Then s->page is the buffer to fill. 0 on failure
 * (recorded). */
int drv_sess_begin_pages(drv_session *s);
/* s->page holds page s->page_no, complete: into the TIFF (or handed to the
 * writer); s->page is the next page's buffer afterwards. 0 on failure
 * (recorded). */
int drv_sess_page_done(drv_session *s);

/* eSCL (escl_session.c). */
/* Whether uri names an eSCL transport ("escl+http://", "escl+usb"). */
int drv_escl_is_uri(const char *uri);
/* Run the whole job over eSCL into s's pages; the outcome is recorded in
 * s->res (s->failed set on failure). The caller stops the writer. */
void drv_escl_scan(drv_session *s, const char *uri);

#endif
