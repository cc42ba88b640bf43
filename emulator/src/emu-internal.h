/* emulator internals: the USB device layer (descriptors, ep0), the backend
 * interface a session drives, and the server entry point the tests use to
 * export scripted backends instead of device-model devices. */
#ifndef SCANEMU_EMU_INTERNAL_H
#define SCANEMU_EMU_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dm/dm.h"
#include "dm/escl.h"
#include "emu/emu.h"
#include "protocol/usbip.h"

/* ---- limits (see docs/emulator.md) --------------------------------------- */

#define EMU_MAX_PENDING_URBS 1024u        /* IN URBs pending per connection */
#define EMU_RECENT_SEQNUMS   4096u        /* completed seqnums remembered for unlink */
#define EMU_OUTQ_HIGH_WATER  (256u << 10) /* stop reading input above this */
#define EMU_RX_CHUNK         (64u << 10)
#define EMU_OP_SLOTS         64u   /* connections in the op phase (default) */
#define EMU_OP_DEADLINE_MS   5000u /* total time of the op phase (default) */
#define EMU_OP_ACCEPT_BATCH  16u   /* accepts per wake-up, so requests are read between */

/* Bytes of NAKed bulk OUT (device response queue full) held per connection. */
#define EMU_MAX_PARKED_OUT (1u << 20)

/* ---- logging ------------------------------------------------------------- */

typedef struct emu_log {
    FILE *f;
    enum emu_log_level level;
} emu_log;

#if defined(__GNUC__)
#define EMU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EMU_PRINTF(a, b)
#endif

/* One line "scanemu[TAG]: level: message\n"; tag may be NULL. */
void emu_logf(const emu_log *log, enum emu_log_level lvl, const char *tag, const char *fmt, ...)
    EMU_PRINTF(4, 5);

uint64_t emu_now_ns(void); /* CLOCK_MONOTONIC, the scale of dm_clock_real */

/* ---- admission: connection slots of a listener --------------------------- */

/* What a listener (the USB/IP acceptor, the eSCL listener) keeps when more
 * clients connect than it has slots for, and how long each may take before
 * it has said what it wants. A connection is in one of three states:
 *   WAITING   its request is not complete; the deadline runs. Evicted first.
 *   ANSWERING its request is complete, the answer is going out; the deadline
 *             set when it started waiting still runs. Evicted only when no
 *             connection is WAITING.
 *   SERVING   being served at length (a streamed scan); no deadline, never
 *             evicted.
 * When every slot is taken, a new connection gets the slot of the oldest
 * WAITING one (else of the oldest ANSWERING one), which is evicted: a new
 * client is always admitted unless every slot is SERVING. The table holds no sockets and reads
 * no clock: the caller passes the time in and closes what it is told to. */
#define EMU_ADMIT_MAX_SLOTS       1024u
#define EMU_ADMIT_MAX_DEADLINE_MS 3600000u

enum emu_admit_state {
    EMU_ADMIT_FREE = 0,
    EMU_ADMIT_WAITING,
    EMU_ADMIT_ANSWERING,
    EMU_ADMIT_SERVING,
};

typedef struct emu_admit_limits {
    unsigned slots;       /* 1..EMU_ADMIT_MAX_SLOTS */
    unsigned deadline_ms; /* from entering WAITING to leaving ANSWERING */
} emu_admit_limits;

typedef struct emu_admit_slot {
    enum emu_admit_state state;
    uint64_t since_ns;    /* when it last entered WAITING: its age */
    uint64_t deadline_ns; /* UINT64_MAX: none (SERVING) */
} emu_admit_slot;

typedef struct emu_admit {
    emu_admit_limits lim;
    emu_admit_slot *slot; /* lim.slots entries */
    unsigned used;
} emu_admit;

/* Allocates lim->slots slots, all free. EMU_E_INVALID for limits out of
 * range, EMU_E_NOMEM; *a is usable (and emu_admit_free safe) only on success. */
int emu_admit_init(emu_admit *a, const emu_admit_limits *lim);
void emu_admit_free(emu_admit *a);
/* A connection arrived at now_ns. Returns a free slot for it, now WAITING
 * with a deadline of now + deadline_ms. When every slot is held, returns -1
 * and sets *victim to the slot whose connection must make room (the oldest
 * WAITING, else the oldest ANSWERING): end that connection, release its slot
 * and take again. *victim is -1 when every slot is SERVING: refuse the
 * newcomer. */
int emu_admit_take(emu_admit *a, uint64_t now_ns, int *victim);
/* WAITING restarts the deadline (a new request on a kept-alive connection);
 * ANSWERING keeps it; SERVING clears it; FREE is emu_admit_release. */
void emu_admit_set(emu_admit *a, int slot, enum emu_admit_state st, uint64_t now_ns);
/* The slot is free again (its connection closed or handed on). */
void emu_admit_release(emu_admit *a, int slot);
/* Earliest deadline of any held slot; UINT64_MAX: none. */
uint64_t emu_admit_next_deadline(const emu_admit *a);
/* Whether slot's deadline has passed at now_ns. */
int emu_admit_expired(const emu_admit *a, int slot, uint64_t now_ns);
/* A slot whose deadline has passed (the earliest), or -1. */
int emu_admit_next_expired(const emu_admit *a, uint64_t now_ns);

/* A service that runs beside the server's threads (the eSCL listener):
 * start when emu_server_run starts, signal_stop from emu_server_stop
 * (async-signal-safe), join when run ends; its resources are freed by a
 * cleanup. EMU_E_NOMEM when the table is full. */
typedef struct emu_companion_ops {
    int (*start)(void *arg);
    void (*signal_stop)(void *arg);
    void (*join)(void *arg);
} emu_companion_ops;

/* ---- scheduling (worker.c) ------------------------------------------------------ */

/* --slice-us for the calling thread (sched_setattr, SCHED_OTHER's
 * sched_runtime; docs/emulator.md): 0, or the errno of a refusal (best
 * effort: the caller logs it at debug level). A thread that is not
 * SCHED_OTHER is left alone. */
int emu_thread_request_slice(unsigned slice_us);

/* ---- TCP listeners (net.c) ---------------------------------------------------- */

/* Binds and listens (non-blocking, close-on-exec) on host:port (0 = any free
 * port); what ("USB/IP", "eSCL") names it in messages and in the warning
 * logged when the address is not loopback. One line in errbuf on failure:
 * EMU_E_SOCKET. */
int emu_listen_tcp(const emu_log *log, const char *what, const char *host, uint16_t port,
                   int *fd_out, uint16_t *port_out, char *errbuf, size_t errlen);
/* "HOST:PORT" of a peer, numeric. */
void emu_peer_str(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen);

/* ---- eSCL over TCP (escl_tcp.c) ------------------------------------------------- */

/* A listener thread accepts HTTP connections and routes each by its first
 * request line ("/BUSID/eSCL..." names a device, anything else is the first
 * device); one thread per device carries its connections to the device's
 * eSCL front, at the deadlines the front gives, with the device's lock held
 * for every call on the front (the lock its native worker takes too).
 * docs/escl.md, "Connections". */
#define EMU_ESCL_SLOTS          64u    /* connections per device (default) */
#define EMU_ESCL_DEADLINE_MS    10000u /* a request must be complete within this */
#define EMU_ESCL_WRITE_STALL_MS 30000u /* a peer that reads nothing for this is dropped */

typedef struct emu_escl_dev {
    char busid[PROTO_USBIP_BUSID_SIZE];
    dm_escl *front;        /* borrowed */
    pthread_mutex_t *lock; /* borrowed: held around every call on front */
} emu_escl_dev;

typedef struct emu_escl_opts {
    const char *host;     /* default 127.0.0.1 */
    uint16_t port;        /* 0 = any free port */
    unsigned slots;       /* per device */
    unsigned deadline_ms; /* request line (routing) and whole request */
    unsigned slice_us;    /* the device threads' --slice-us; 0: the kernel's */
} emu_escl_opts;
void emu_escl_opts_init(emu_escl_opts *o);

typedef struct emu_escl emu_escl;
/* Binds and listens; no thread yet. One line in errbuf on failure. */
int emu_escl_create(const emu_escl_opts *opts, const emu_escl_dev *devs, size_t n,
                    const emu_log *log, emu_escl **out, char *errbuf, size_t errlen);
uint16_t emu_escl_port(const emu_escl *e);
int emu_escl_start(emu_escl *e); /* EMU_OK or EMU_E_SYSTEM */
/* Async-signal-safe: asks the threads to end. */
void emu_escl_signal_stop(emu_escl *e);
/* Joins the threads (after emu_escl_signal_stop). */
void emu_escl_join(emu_escl *e);
/* Stops, closes every connection (each front's connections first) and frees. */
void emu_escl_free(emu_escl *e);
/* Live plug and unplug (docs/control.md): devs passed to emu_escl_create
 * are slots 0..n-1; emu_escl_add serves dev in free slot `slot` (busid
 * 1-(slot+1); started at once if the listener runs); emu_escl_remove stops
 * routing to it, cuts its connections (a response in progress ends
 * mid-stream) and joins its thread; after it returns the front is no
 * longer used. A request to a removed device's /BUSID/eSCL goes to the
 * first device (which answers 404), or is answered 404 and closed when the
 * first device is removed too. From one thread at a time. */
int emu_escl_add(emu_escl *e, size_t slot, const emu_escl_dev *dev, char *errbuf, size_t errlen);
void emu_escl_remove(emu_escl *e, size_t slot);

/* ---- USB device layer ---------------------------------------------------- */

/* The interfaces a device presents follow its identity's protocols
 * (docs/emulator.md, "USB device"):
 *   native  interface 0, vendor class: bulk OUT 0x01, bulk IN 0x81,
 *           interrupt IN 0x82;
 *   escl    n IPP-USB interfaces (class 7, subclass 1, protocol 4), each one
 *           bulk OUT and one bulk IN on the same endpoint number, numbered
 *           after the native endpoints (0x03/0x83, 0x04/0x84, ... behind a
 *           vendor interface; 0x01/0x81, 0x02/0x82, ... without one).
 * Every endpoint has a slot: the native ones first, then two per IPP-USB
 * interface. */
enum emu_ep_slot {
    EMU_EP_CMD_OUT = 0,  /* bulk OUT 0x01 */
    EMU_EP_DATA_IN = 1,  /* bulk IN 0x81 */
    EMU_EP_EVENT_IN = 2, /* interrupt IN 0x82 */
    EMU_EP_NATIVE = 3,   /* slots of the native interface */
};
#define EMU_IPPUSB_MAX DM_IPPUSB_MAX_INTERFACES
#define EMU_EP_MAX     (EMU_EP_NATIVE + 2 * EMU_IPPUSB_MAX)
/* Slots of IPP-USB interface k (0-based among the IPP-USB interfaces). */
#define EMU_EP_IPPUSB_OUT(k) (EMU_EP_NATIVE + 2 * (k))
#define EMU_EP_IPPUSB_IN(k)  (EMU_EP_NATIVE + 2 * (k) + 1)

/* IPP-USB class codes, and the class-specific device info descriptor
 * (IPP USB specification 4.3) that GET_DESCRIPTOR type 0x21 answers and
 * that follows each IPP-USB interface descriptor. */
#define EMU_USB_CLASS_PRINTER       7u
#define EMU_USB_SUBCLASS_PRINTER    1u
#define EMU_USB_PROTOCOL_IPP_USB    4u
#define EMU_USB_DT_IPPUSB_INFO      0x21u
#define EMU_USB_DT_IPPUSB_INFO_SIZE 10u
#define EMU_IPPUSB_CAP_SCAN         0x0002u /* wBasicCapabilities bit 1 */

#define EMU_CONF_MAX   512u
#define EMU_STRING_MAX 256u
#define EMU_BOS_MAX    32u
#define EMU_INTF_MAX   (1u + EMU_IPPUSB_MAX)

typedef struct emu_usbdev {
    uint32_t speed; /* PROTO_USBIP_SPEED_* */
    uint8_t dev_desc[PROTO_USB_DT_DEVICE_SIZE];
    uint8_t conf_desc[EMU_CONF_MAX];
    size_t conf_len;
    uint8_t other_conf[EMU_CONF_MAX]; /* other-speed config (high speed only) */
    size_t other_len;
    uint8_t qualifier[PROTO_USB_DT_DEVICE_QUALIFIER_SIZE];
    int has_qualifier;
    uint8_t bos[EMU_BOS_MAX];
    size_t bos_len; /* 0: no BOS (bcdUSB < 0x0201) */
    uint8_t strings[4][EMU_STRING_MAX];
    size_t string_len[4]; /* 0: no such string */
    uint8_t ippusb_info[EMU_USB_DT_IPPUSB_INFO_SIZE];
    /* layout */
    int has_native;        /* interface 0 is the vendor interface */
    unsigned n_ippusb;     /* IPP-USB interfaces, 0..EMU_IPPUSB_MAX */
    unsigned ippusb_first; /* interface number of the first IPP-USB one */
    unsigned n_interfaces;
    uint8_t intf_class[EMU_INTF_MAX][3]; /* class, subclass, protocol by number */
    uint8_t ep_addr[EMU_EP_MAX];         /* wire address of each slot; 0: absent */
    /* state */
    uint8_t configuration;
    int halted[EMU_EP_MAX];
} emu_usbdev;

/* Builds every descriptor from the identity (strings are copied). */
void emu_usbdev_init(emu_usbdev *u, const dm_usb_identity *id);
/* Power-on state: unconfigured, no halts. */
void emu_usbdev_reset(emu_usbdev *u);
/* Slot of a wire endpoint address (0x01, 0x81, ...) in this device's
 * layout, or -1. */
int emu_usbdev_slot(const emu_usbdev *u, uint8_t addr);
/* The IPP-USB interface (0-based among them) a slot belongs to, or -1. */
static inline int emu_usbdev_ippusb_of(const emu_usbdev *u, int slot)
{
    if (slot < (int)EMU_EP_NATIVE || slot >= (int)(EMU_EP_NATIVE + 2 * u->n_ippusb))
        return -1;
    return (slot - (int)EMU_EP_NATIVE) / 2;
}

/* What a control request did besides its reply. */
typedef struct emu_ctrl_effect {
    int cleared[EMU_EP_MAX]; /* halt cleared by CLEAR_FEATURE / SET_CONFIGURATION / SET_INTERFACE */
    int halted[EMU_EP_MAX];  /* halt set by SET_FEATURE */
    /* Bit k: IPP-USB interface k was reset by SET_INTERFACE or
     * SET_CONFIGURATION (its HTTP connection starts afresh). */
    uint32_t ippusb_reset;
} emu_ctrl_effect;

/* Serves one standard request on ep0, and GET_DESCRIPTOR type 0x21 of a
 * device with IPP-USB interfaces. IN replies are written to reply (at
 * most cap bytes; the caller clamps to transfer_buffer_length too) and their
 * length to *reply_len. Returns 0 or PROTO_USBIP_EPIPE (STALL). */
int emu_usbdev_control(emu_usbdev *u, const proto_usb_setup *s, const uint8_t *out_data,
                       size_t out_len, uint8_t *reply, size_t cap, size_t *reply_len,
                       emu_ctrl_effect *eff);

/* ---- backend: what sits behind the endpoints ------------------------------ */

/* Same contract as the dm_device_* functions of the same name; ctx is the
 * device. Called only from the device's own worker thread. bulk_out returning
 * DM_E_AGAIN means the device NAKs the transfer (took nothing): the URB stays
 * pending and is offered again after bulk IN delivers something. */
typedef struct emu_backend_ops {
    int (*bulk_out)(void *ctx, const uint8_t *buf, size_t len);
    void (*peek)(void *ctx, enum dm_endpoint ep, uint64_t now_ns, dm_in *out);
    void (*consume)(void *ctx, enum dm_endpoint ep, uint64_t release_ns);
    /* Optional (NULL: consume is used): consume, also telling the backend
     * when the IN URB that carries the message arrived (CLOCK_MONOTONIC ns,
     * the kernel's receive timestamp of its CMD_SUBMIT where available), for
     * the trace's urb_ns / emu_late_ns. */
    void (*consume_urb)(void *ctx, enum dm_endpoint ep, uint64_t release_ns, uint64_t urb_ns);
    void (*clear_halt)(void *ctx, enum dm_endpoint ep);
    void (*reset)(void *ctx);
} emu_backend_ops;

typedef struct emu_export {
    dm_usb_identity id; /* strings borrowed until emu_server_free */
    const emu_backend_ops *ops;
    void *ctx;
    /* The eSCL front behind the IPP-USB interfaces (id.protocols has
     * DM_PROTOCOL_ESCL; NULL: none, the interfaces answer nothing) and the
     * lock held around every call on it (the device model's lock: the one
     * ops take too). Both borrowed until emu_server_free. */
    dm_escl *escl;
    pthread_mutex_t *escl_lock;
} emu_export;

/* ---- device-side trace (JSON Lines, docs/emulator.md "Trace") ------------------- */

typedef struct emu_trace emu_trace;
/* One writer for all devices; records are buffered and flushed by
 * emu_trace_flush (job end, disconnect, shutdown) and emu_trace_close. The
 * first write error (a full disk, /dev/full, a FIFO whose reader left) is
 * logged once to log (copied; NULL: not logged), naming the file; later
 * records are dropped and counted. path kinds: docs/emulator.md, "Trace". */
int emu_trace_open(const char *path, const emu_log *log, emu_trace **out, char *errbuf,
                   size_t errlen);
void emu_trace_flush(emu_trace *t);
void emu_trace_close(emu_trace *t);
/* 0, or the errno of the first failed write; *dropped (may be NULL) gets the
 * number of records dropped since. t may be NULL (no trace: 0). */
int emu_trace_status(emu_trace *t, uint64_t *dropped);
const char *emu_trace_path(const emu_trace *t);

/* Per-device context for emu_trace_record (a dm_trace_fn). The record's
 * carrier_ns (the IN URB's arrival) gives urb_ns / emu_late_ns; UINT64_MAX:
 * both null. */
typedef struct emu_trace_port {
    emu_trace *trace;
    char busid[PROTO_USBIP_BUSID_SIZE];
} emu_trace_port;
void emu_trace_record(void *port, const dm_trace_rec *rec);
/* One preformatted record (a whole line, newline included) into the trace,
 * with the same error handling as emu_trace_record. */
void emu_trace_write_line(emu_trace *t, const char *line);

/* ---- timing report (timing.c; docs/emulator.md, "Timing report") --------- */

#define EMU_LATE_TOLERANCE_US_MAX 60000000ull /* --late-tolerance-us: one minute */

/* Per-device context of emu_timing_job_end (a dm_job_end_fn). */
typedef struct emu_timing_port {
    emu_log log;
    char busid[PROTO_USBIP_BUSID_SIZE];
    emu_trace *trace;      /* NULL: the log line only */
    const void *usb_front; /* the native front's owner token: its jobs are "usb", others "escl" */
    int strict;            /* --strict-timing: say faithful / NOT FAITHFUL */
} emu_timing_port;

/* At a job's end: the log line (a warning when strict and not faithful),
 * and the job_end record when there is a trace. Runs on the thread that
 * ended the job, with the device's lock held. */
void emu_timing_job_end(void *port, const struct dm_job_timing *jt);
/* When the server stops: the device's totals, as a line and a device_end
 * record; nothing for a device that ran no job. */
void emu_timing_device_end(emu_timing_port *p, const dm_lat_summary *dev, uint64_t jobs,
                           uint64_t jobs_emu_beyond, int timing);
/* The texts themselves (for tests): the line without its
 * "scanemu[BUSID]: level: " prefix, and the JSON record with its newline.
 * Each returns the length it needed (>= len: truncated). */
size_t emu_timing_job_line(char *buf, size_t len, const dm_job_timing *jt, const char *front,
                           int strict);
size_t emu_timing_device_line(char *buf, size_t len, const dm_lat_summary *dev, uint64_t jobs,
                              uint64_t jobs_emu_beyond, int timing, int strict);
size_t emu_timing_job_record(char *buf, size_t len, const char *busid, const dm_job_timing *jt,
                             const char *front, int strict);
/* The job's numbers and verdict as JSON object members, no braces and no
 * leading comma ("bands":…,"timing":…,"strict":…,"verdict":…): the tail of
 * the job_end record and of the control socket's job_ended event. */
size_t emu_timing_job_fields(char *buf, size_t len, const dm_job_timing *jt, int strict);
size_t emu_timing_device_record(char *buf, size_t len, const char *busid, const dm_lat_summary *dev,
                                uint64_t jobs, uint64_t jobs_emu_beyond, int timing, int strict);

/* ---- server ----------------------------------------------------------------- */

/* emu_server_create without fixtures: exports the given backends (1..
 * EMU_MAX_DEVICES) as busids 1-1, 1-2, ... opts' profile/scenario/seed/timing/
 * trace_path are ignored. trace (may be NULL) is flushed when a device goes
 * idle and at shutdown; it stays the caller's. Returns EMU_OK or an emu_err
 * with one line in errbuf. */
int emu_server_create_ex(const emu_options *opts, const emu_export *exports, size_t n,
                         emu_trace *trace, emu_server **out, char *errbuf, size_t errlen);

/* Resources that emu_server_free releases after the server itself is gone
 * (device-model devices, profiles, the trace writer), last added first.
 * EMU_OK, or EMU_E_NOMEM when the fixed table is full. */
typedef void (*emu_cleanup_fn)(void *arg);
int emu_server_add_cleanup(emu_server *srv, emu_cleanup_fn fn, void *arg);
int emu_server_add_companion(emu_server *srv, const emu_companion_ops *ops, void *arg);
/* Set by the binding that creates the eSCL listener. */
void emu_server_set_escl_port(emu_server *srv, uint16_t port);
/* Called by emu_server_run once every worker and companion thread has
 * stopped, before the trace's final flush: ends what still runs and
 * reports (the per-device timing totals). Its result becomes run's when
 * run has nothing worse to say (EMU_E_TIMING: --strict-timing and a job's
 * schedule was not kept). */
typedef int (*emu_finish_fn)(void *arg);
void emu_server_set_finish(emu_server *srv, emu_finish_fn fn, void *arg);

/* Slot i is busid 1-(i+1); "1-N" to its slot, or -1. */
int emu_busid_slot(const char *busid);

/* A device was attached (peer "HOST:PORT") or detached, from its worker
 * thread; must not block. */
typedef void (*emu_dev_event_fn)(void *ctx, size_t slot, const char *busid, int attached,
                                 const char *peer);
/* Before emu_server_run. */
void emu_server_set_dev_event(emu_server *srv, emu_dev_event_fn fn, void *ctx);

/* Live plug and unplug (docs/control.md), while emu_server_run runs, from one
 * thread (the control socket's). emu_server_plug exports ex (its strings
 * borrowed until unplugged) in free slot `slot` and starts its worker:
 * EMU_OK, EMU_E_INVALID (slot out of range or present), EMU_E_NOMEM,
 * EMU_E_SYSTEM, with one line in errbuf. emu_server_unplug ends its session
 * (the client's TCP connection is closed), joins its worker and frees the
 * slot; after it returns nothing calls ex's backend again. EMU_E_INVALID
 * when the slot is not present. */
int emu_server_plug(emu_server *srv, size_t slot, const emu_export *ex, char *errbuf,
                    size_t errlen);
int emu_server_unplug(emu_server *srv, size_t slot);
/* Whether slot is present; with a client attached, its "HOST:PORT" in peer
 * (else ""). */
int emu_server_slot_info(emu_server *srv, size_t slot, char *peer, size_t peerlen);

#endif
