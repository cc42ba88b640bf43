/* driver: the host side of the virtual scanner (docs/driver.md).
 *
 * Three layers, each usable on its own:
 *
 *   transport  an opaque handle for USB operations (control, bulk OUT, async
 *              bulk and interrupt IN, cancel, clear-halt, event pump,
 *              flush; drv_transport_*) over one of two backends:
 *              "usbip://HOST:PORT/BUSID", a userspace USB/IP client (no
 *              root, no kernel module), and "libusb[:VID:PID]" for any
 *              device the kernel sees.
 *   session    one job, whatever the protocol: the native scanner protocol
 *              over a transport (capabilities, parameters, job start with
 *              warm-up waited out, then the band stream with several bulk IN
 *              transfers in flight, every band checked: sequence, size,
 *              CRC-32) or eSCL over HTTP ("escl+http://..."); either fills
 *              the page buffer of a MINIDRV_TRANSFER_CONTEXT.
 *   scan       a whole job into a multipage TIFF through wias'
 *              wiasWritePageBufToStream, faults mapped to the HRESULT a
 *              Windows WIA minidriver returns.
 *
 * The driver never links the device model: it checks what the wire says
 * against the geometry the device announced, as a real driver must.
 */
#ifndef SCANEMU_DRV_DRV_H
#define SCANEMU_DRV_DRV_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/scan.h"
#include "protocol/usbip.h"

/* ---- errors --------------------------------------------------------------- */

/* X(name, value, message): the single source of the error table. */
#define DRV_ERRNO_MAP(X)                                                                           \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(INVALID, -2, "invalid argument")                                                             \
    X(URI, -3, "bad transport URI")                                                                \
    X(CONNECT, -4, "cannot connect")                                                               \
    X(NOT_USBIP, -5, "peer does not speak USB/IP")                                                 \
    X(NODEV, -6, "no such device")                                                                 \
    X(BUSY, -7, "device busy")                                                                     \
    X(WRONG_DEVICE, -8, "not the expected device")                                                 \
    X(IO, -9, "I/O error")                                                                         \
    X(PROTO, -10, "protocol violation by the peer")                                                \
    X(TIMEOUT, -11, "timed out")                                                                   \
    X(STALL, -12, "endpoint stalled")                                                              \
    X(OVERFLOW, -13, "device sent more data than the transfer could hold")                         \
    X(DISCONNECTED, -14, "device disconnected")                                                    \
    X(CANCELLED, -15, "transfer cancelled")                                                        \
    X(UNSUPPORTED, -16, "not supported")                                                           \
    X(OUTPUT, -17, "cannot write the output")                                                      \
    X(DEVICE, -18, "device reported a fault")

typedef enum drv_err {
    DRV_OK = 0,
#define DRV_ERR_ENUM_(name, value, msg) DRV_E_##name = (value),
    DRV_ERRNO_MAP(DRV_ERR_ENUM_)
#undef DRV_ERR_ENUM_
} drv_err;

const char *drv_strerror(int err); /* "endpoint stalled" */
const char *drv_err_name(int err); /* "DRV_E_STALL" */

/* ---- HRESULTs (docs/driver.md, "Fault mapping") ----------------------- */

/* Values are those of the Windows SDK; wias' headers define the same names for
 * source compatibility, this is the driver's own spelling. */
#define DRV_HR_S_OK                 ((int32_t)0)
#define DRV_HR_END_OF_MEDIA         ((int32_t)0x00210001)
#define DRV_HR_WIA_ERROR(n)         ((int32_t)(0x80210000u | (uint32_t)(n)))
#define DRV_HR_GENERAL_ERROR        DRV_HR_WIA_ERROR(0x01)
#define DRV_HR_PAPER_JAM            DRV_HR_WIA_ERROR(0x02)
#define DRV_HR_PAPER_EMPTY          DRV_HR_WIA_ERROR(0x03)
#define DRV_HR_OFFLINE              DRV_HR_WIA_ERROR(0x05)
#define DRV_HR_BUSY                 DRV_HR_WIA_ERROR(0x06)
#define DRV_HR_WARMING_UP           DRV_HR_WIA_ERROR(0x07)
#define DRV_HR_DEVICE_COMMUNICATION DRV_HR_WIA_ERROR(0x0A)
#define DRV_HR_INVALID_COMMAND      DRV_HR_WIA_ERROR(0x0B)
#define DRV_HR_COVER_OPEN           DRV_HR_WIA_ERROR(0x10)
#define DRV_HR_MULTI_FEED           DRV_HR_WIA_ERROR(0x14)
#define DRV_HR_E_INVALIDARG         ((int32_t)0x80070057u)
#define DRV_HR_E_OUTOFMEMORY        ((int32_t)0x8007000Eu)
#define DRV_HR_STG_E_WRITEFAULT     ((int32_t)0x8003001Du)
#define DRV_HR_STG_E_MEDIUMFULL     ((int32_t)0x80030070u)
#define DRV_HR_STG_E_ACCESSDENIED   ((int32_t)0x80030005u)
#define DRV_HR_E_ABORT              ((int32_t)0x80004004u)

/* "WIA_ERROR_PAPER_JAM", "S_OK", "WIA_STATUS_END_OF_MEDIA", or "0x8021ABCD"
 * style text written into buf for values without a name (buf may be NULL
 * only if the value is known; it needs 11 bytes). */
const char *drv_hr_name(int32_t hr, char *buf, size_t len);

/* The HRESULT a WIA minidriver returns for a device status code that ends a
 * job or refuses one (docs/driver.md, "Fault mapping"). pages_done matters for
 * FEEDER_EMPTY only: 0 -> WIA_ERROR_PAPER_EMPTY, else END_OF_MEDIA. */
int32_t drv_hr_from_status(uint32_t status, uint32_t pages_done);

/* wiascan's process exit code for a scan result, by failure class:
 *   0 success (S_OK, WIA_STATUS_END_OF_MEDIA)
 *   1 internal error (out of memory, unexpected failure)
 *   2 usage error (command line; wiascan only)
 *   3 connection/transport: unreachable, not USB/IP, unknown busid, wrong device
 *   4 paper fault: jam, feeder empty, multi-feed, cover open
 *   5 device communication: stall, CRC/sequence/size error, timeout, unplug
 *   6 output: cannot create or write the TIFF or the trace
 *   7 device busy or still warming up
 *   8 parameters the device does not support
 *   9 cancelled (SIGINT/SIGTERM; E_ABORT) */
enum drv_exit {
    DRV_EXIT_OK = 0,
    DRV_EXIT_INTERNAL = 1,
    DRV_EXIT_USAGE = 2,
    DRV_EXIT_CONNECT = 3,
    DRV_EXIT_PAPER = 4,
    DRV_EXIT_COMM = 5,
    DRV_EXIT_OUTPUT = 6,
    DRV_EXIT_BUSY = 7,
    DRV_EXIT_PARAM = 8,
    DRV_EXIT_CANCELLED = 9,
};
int drv_exit_code(int32_t hr);

/* ---- transport -------------------------------------------------------------- */

typedef struct drv_transport drv_transport;
typedef struct drv_xfer drv_xfer;
typedef void (*drv_xfer_cb)(drv_xfer *x);

enum drv_xfer_type {
    DRV_XFER_CONTROL = 0, /* backends' own ep0 transfers */
    DRV_XFER_BULK = 2,
    DRV_XFER_INTERRUPT = 3,
};

enum drv_xfer_state {
    DRV_XFER_IDLE = 0,    /* never submitted, or completion consumed */
    DRV_XFER_PENDING = 1, /* owned by the transport: do not touch buf */
    DRV_XFER_DONE = 2,    /* status/actual valid; the caller owns it again */
};

/* An asynchronous IN transfer. The caller owns the storage and the buffer,
 * fills the first block, and must keep both alive until state is DONE.
 * Completion happens only inside a transport call (handle_events, the
 * synchronous operations, cancel or close): the transport sets status,
 * actual and state = DONE, then calls callback (if any). A callback may not
 * call back into the transport. */
struct drv_xfer {
    uint8_t endpoint; /* address including the direction bit, e.g. 0x81 */
    uint8_t type;     /* enum drv_xfer_type */
    uint8_t *buf;
    size_t length;
    drv_xfer_cb callback; /* optional */
    void *user_data;
    /* Optional scatter of an IN transfer (buf2 NULL: none). A backend that
     * honours it (usbip) stores bytes [split, split + len2) of what arrives
     * at buf2 instead of buf + split and sets scattered; bytes past
     * split + len2 still go to buf + split + len2, so a message longer than
     * expected never writes past buf2 + len2. One that does not (libusb)
     * fills buf as usual. buf must hold length bytes either way, and
     * split + len2 <= length. It puts band data straight into the page
     * buffer. */
    uint8_t *buf2;
    size_t split, len2;
    /* results, valid when state == DRV_XFER_DONE */
    int state;     /* enum drv_xfer_state */
    int status;    /* DRV_OK or a DRV_E_* (STALL, CANCELLED, OVERFLOW, ...) */
    size_t actual; /* bytes received */
    int scattered; /* 1: the buf2 layout above was used */
    /* backend-private */
    uint32_t seq_;
    uint32_t unlink_seq_;
    void *priv_;
    drv_xfer *next_;
};

/* What the backend found while opening (enumeration-equivalent steps). */
typedef struct drv_device_info {
    uint16_t vid, pid, bcd_device;
    uint32_t speed; /* PROTO_USBIP_SPEED_* */
    uint8_t configuration;
    uint8_t interface_number;
    uint16_t bulk_in_max_packet;
    char where[128]; /* "usbip 127.0.0.1:3240 busid 1-1", "libusb bus 1 device 4" */
} drv_device_info;

typedef struct drv_open_options {
    /* Which device is acceptable. usbip checks the imported device against
     * it; libusb looks for it (a VID:PID in the URI wins). match_id = 1: the
     * VID must be vid and the PID within pid..pid_last (pid alone when
     * pid_last <= pid). Default 1209:0001..000f, the pid.codes test PIDs
     * scanemu's profiles use (docs/control.md, "USB identity"), match_id = 1.
     * match_id = 0 accepts any VID:PID (the vendor interface is always
     * required). */
    int match_id;
    uint16_t vid, pid, pid_last;
    unsigned timeout_ms; /* connect, import and each enumeration request; default 5000 */
} drv_open_options;
void drv_open_options_init(drv_open_options *o);

/* Open a transport by URI: "usbip://HOST:PORT/BUSID" (HOST may be [v6]),
 * "libusb", "libusb:VID:PID" (hex), "libusb:VID:PID,serial=S",
 * "libusb:serial=S" (the default VID:PID) or "libusb:BUS.DEV" (decimal, as
 * lsusb prints them). A libusb selector that matches several devices is
 * DRV_E_URI, the message listing each as libusb:BUS.DEV with its serial.
 * On failure writes one line naming what was wrong into errbuf; *out is set
 * only on success. o may be NULL. */
int drv_transport_open(const char *uri, const drv_open_options *o, drv_transport **out,
                       char *errbuf, size_t errlen);
void drv_transport_close(drv_transport *t);

/* The operations of an open transport (each backend's table of them is
 * private to the driver). Completions run only inside these calls, as
 * struct drv_xfer says. */

/* Synchronous control transfer on ep0. data holds wLength bytes; for IN
 * *actual receives the count. Returns DRV_OK or DRV_E_STALL/TIMEOUT/... */
int drv_transport_control(drv_transport *t, const proto_usb_setup *setup, uint8_t *data,
                          size_t *actual, unsigned timeout_ms);
/* Synchronous bulk OUT of exactly len bytes. */
int drv_transport_bulk_out(drv_transport *t, uint8_t ep, const uint8_t *data, size_t len,
                           unsigned timeout_ms);
/* Queue an asynchronous bulk or interrupt IN transfer. Transfers on one
 * endpoint complete in submission order. Never sets a short-not-OK flag:
 * every message of the scanner protocol is a short transfer. */
int drv_transport_submit(drv_transport *t, drv_xfer *x);
/* Ask for a pending transfer to be cancelled (usbip: CMD_UNLINK; libusb:
 * libusb_cancel_transfer). It completes later, as CANCELLED or with what
 * it got if it finished first. */
int drv_transport_cancel(drv_transport *t, drv_xfer *x);
/* CLEAR_FEATURE(ENDPOINT_HALT) on ep, synchronously. */
int drv_transport_clear_halt(drv_transport *t, uint8_t ep);
/* Wait up to timeout_ms for completions and run them. Returns DRV_OK
 * (also when nothing happened) or an error once the device is gone. */
int drv_transport_handle_events(drv_transport *t, unsigned timeout_ms);
/* A backend may hold submissions back until the caller next waits in
 * handle_events or a synchronous call (usbip batches CMD_SUBMITs that
 * way); a caller about to block on something else first calls flush,
 * which sends them and never waits for the device. Returns DRV_OK (at once
 * for a backend that holds nothing back) or the error that killed the
 * connection. */
int drv_transport_flush(drv_transport *t);
/* What the backend found while opening; valid until drv_transport_close. */
const drv_device_info *drv_transport_info(const drv_transport *t);

/* ---- scan ------------------------------------------------------------------- */

/* Per-band progress, from inside drv_scan_*. */
typedef struct drv_progress {
    uint32_t page; /* page being received (0-based) */
    uint32_t band; /* last band received in it */
    uint32_t bands_per_page;
    uint32_t pages_done;  /* pages received complete (with write-behind some may
                           * still be on their way into the stream) */
    uint32_t pages_total; /* 0 = until the feeder is empty */
    uint64_t bytes;       /* pixel bytes received so far */
    uint64_t page_bytes;  /* pixel bytes in one page */
    uint64_t elapsed_ns;  /* since the START_JOB response */
} drv_progress;
typedef void (*drv_progress_fn)(void *ctx, const drv_progress *p);

/* Optional diagnostic lines (no newline), for -v. */
typedef void (*drv_log_fn)(void *ctx, const char *line);

enum drv_compression {
    DRV_COMPRESSION_NONE = 0,         /* WIA_COMPRESSION_NONE */
    DRV_COMPRESSION_G4 = 4,           /* WIA_COMPRESSION_G4, bw only */
    DRV_COMPRESSION_JPEG = 5,         /* WIA_COMPRESSION_JPEG, gray/color */
    DRV_COMPRESSION_LZW = 0x1000,     /* WIAS_COMPRESSION_LZW */
    DRV_COMPRESSION_DEFLATE = 0x1001, /* WIAS_COMPRESSION_DEFLATE */
};

#define DRV_MAX_IN_FLIGHT 64u

struct IStream; /* wias/istream.h */

typedef struct drv_scan_options {
    const char *transport; /* URI; default "usbip://127.0.0.1:3240/1-1" */
    drv_open_options open;
    uint8_t source;     /* enum proto_scan_source, default ADF */
    uint8_t mode;       /* enum proto_scan_mode, default COLOR24 */
    uint16_t dpi;       /* default 300 */
    uint32_t pages;     /* 0 = until the feeder is empty (flatbed: 1) */
    uint32_t width_px;  /* 0 = full width of the source */
    uint32_t height_px; /* 0 = full height */
    int has_seed;
    uint64_t seed;
    int compression;        /* enum drv_compression */
    unsigned in_flight;     /* bulk IN transfers in flight, 1..64, default 4 */
    unsigned timeout_ms;    /* per command response and per band, default 10000 */
    unsigned warmup_max_ms; /* longest total wait for warm-up, default 60000 */
    const char *trace_path; /* host-side JSON Lines, NULL = none */
    drv_progress_fn progress;
    void *progress_ctx;
    drv_log_fn log;
    void *log_ctx;
    /* Optional: when *cancel becomes non-zero (e.g. from a signal handler)
     * the job is aborted like a fault: E_ABORT, completed pages kept. */
    const volatile sig_atomic_t *cancel;
    /* Write-behind (default 1): for a job of more than one page, a second
     * page buffer and a writer thread, so page N goes into the stream while
     * page N+1 arrives. 0: one page buffer, each page written before the
     * next band is read. */
    int write_behind;
} drv_scan_options;
void drv_scan_options_init(drv_scan_options *o);

/* What drv_scan_to_file / drv_scan_to_fd made of the output, decided from
 * the path (or descriptor) before anything is scanned (docs/driver.md,
 * "Output rule"). */
enum drv_output_kind {
    DRV_OUTPUT_FILE = 0,    /* a regular file or a new name: OUT.part, renamed to OUT */
    DRV_OUTPUT_STREAM = 1,  /* a FIFO, a pipe, a socket, standard output: spooled,
                             * copied out at the end */
    DRV_OUTPUT_DISCARD = 2, /* /dev/null: each page encoded, then dropped */
};

typedef struct drv_scan_result {
    int32_t hr;          /* S_OK, WIA_STATUS_END_OF_MEDIA or the failure */
    int err;             /* DRV_OK or the drv_err behind a failure */
    uint32_t pages_kept; /* complete pages written to the output */
    uint64_t bytes;      /* pixel bytes received */
    uint64_t elapsed_ns; /* START_JOB response to the end of the job */
    int have_job;
    proto_scan_job job;     /* the job the device ran, when have_job */
    drv_device_info device; /* valid once the transport was opened */
    char message[256];      /* one line: what happened, where */
    /* Filled by drv_scan_to_file and drv_scan_to_fd only. */
    int output_kind; /* enum drv_output_kind (valid once the output was accepted) */
    int stale_part;  /* OUT.part was there, left by a run that did not finish, and
                      * was replaced */
    /* Where the pages_kept pages are: the output as named, OUT.part when it
     * could not be renamed into place, or a file saved in $TMPDIR when a
     * stream could not take the copy. "" when no page is kept anywhere
     * (also for DRV_OUTPUT_DISCARD). */
    char kept_path[4096];
} drv_scan_result;

/* Scan into a stream as a multipage TIFF (wiasWritePageBufToStream), one
 * page per completed page of the job; the stream holds exactly the pages
 * completed before any fault, as a valid TIFF. stream NULL discards: every
 * page is encoded as usual, alone into scratch memory, and dropped, so the
 * result is that of a real scan and nothing is stored. Returns result->hr
 * (also stored); result is always filled. */
int32_t drv_scan_to_stream(const drv_scan_options *o, struct IStream *stream,
                           drv_scan_result *result);

/* Scan into the file named out_path as a multipage TIFF. What happens
 * depends on what the path names, checked before the device is opened:
 *   - a regular file (a symbolic link to one is followed) or a name not yet
 *     taken: pages go to OUT.part beside it, created and locked (flock)
 *     before scanning. The .part is renamed to OUT when the job ends with at
 *     least one complete page (successfully or by a later fault; the TIFF
 *     holds exactly those pages) and removed when none was completed, so OUT
 *     is then neither created nor touched. If the rename fails the .part is
 *     kept and named in kept_path. An OUT.part left by an earlier run that
 *     did not finish is replaced (stale_part); one still locked by a running
 *     scan is refused (STG_E_SHAREVIOLATION). A read-only OUT, a directory,
 *     a dangling link, and an OUT another user owns in a sticky directory
 *     are refused.
 *   - a FIFO: opened for writing first (waiting for a reader; a cancel ends
 *     the wait), then as a stream, below.
 *   - /dev/null (character device 1:3): discarded, as drv_scan_to_stream
 *     with no stream.
 *   - any other device node, a socket: refused.
 * Refusals are STG_E_* failures with DRV_E_OUTPUT and a message naming the
 * path, before anything is scanned. o->trace_path gets the same checks
 * (regular file, FIFO or /dev/null) and may not name the output.
 *
 * A stream (a FIFO here, a pipe or socket through drv_scan_to_fd) cannot
 * seek, and the TIFF writer links every page's IFD into the one before it:
 * the TIFF is built in an unlinked file in $TMPDIR (default /tmp), created
 * before scanning, and copied out when the job ends with at least one page;
 * with none, nothing is written. If the copy fails (the reader went away)
 * the spool is saved as $TMPDIR/wiascan-XXXXXX.tiff and named in kept_path.
 * Writing to a pipe whose reader is gone raises SIGPIPE: a caller that wants
 * the failure reported ignores SIGPIPE.
 *
 * Returns result->hr (also stored); result is always filled. */
int32_t drv_scan_to_file(const drv_scan_options *o, const char *out_path, drv_scan_result *result);

/* Scan into an open descriptor (standard output for wiascan -o -); name is
 * what messages call it ("standard output"). fd is not closed. A pipe, a
 * socket or a regular file is a stream (spooled, as above); /dev/null
 * discards; a terminal or another device is refused. */
int32_t drv_scan_to_fd(const drv_scan_options *o, int fd, const char *name,
                       drv_scan_result *result);

#endif
