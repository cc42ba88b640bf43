/* The USB/IP server's private parts, shared by its four files:
 *
 *   session.c   one attached client's URB session: the URB queues per
 *               endpoint, ep0, NAKed bulk OUT, unlink, the output queue and
 *               the one RET_SUBMIT builder (runs on the device's worker);
 *   ippusb.c    the IPP-USB carrier: each IPP-USB interface's bulk pipes
 *               as one HTTP connection of the device's eSCL front (runs on
 *               the device's worker, inside the session);
 *   worker.c    the worker thread of each device: epoll, the band timerfd,
 *               the hand-off from the acceptor, scheduling (--realtime,
 *               --slice-us);
 *   acceptor.c  the listening socket and the operation phase (OP_REQ_DEVLIST,
 *               OP_REQ_IMPORT), its connection slots (admit.c);
 *   server.c    lifecycle: options, create, run, stop, free.
 *
 * Threads: emu_server_run()'s caller is the acceptor. Each exported device has
 * its own worker thread with its own epoll set and timerfd; a successful
 * import hands the socket to that worker, which owns the session (URB queues,
 * ep0, the backend) until the connection ends. A slow or hostile client
 * therefore only ever delays its own device. Fields shared between the
 * acceptor and a worker (emu_dev.busy, .handoff_fd, .unplugged, .gen, and
 * .s.fd / .s.peer as the acceptor and the control socket read them) are
 * under emu_dev.mtx.
 *
 * The device table is EMU_MAX_DEVICES slots, slot i being busid 1-(i+1);
 * a slot is present or not (emu_server_plug / emu_server_unplug, from the
 * control socket's thread while the server runs). emu_server.tbl_mtx guards
 * the present flags and the devlist generation; lock order tbl_mtx, then a
 * device's mtx. The acceptor looks devices up and rebuilds OP_REP_DEVLIST
 * (lazily, when the generation moved) under tbl_mtx; an import remembers the
 * slot's generation, and a hand-off to a slot unplugged or plugged again
 * since is closed instead (the client sees the connection end). Unplugging
 * marks the slot absent and unplugged, wakes its worker, which ends the
 * session (closing the client's socket) and exits, and joins it.
 *
 * Sockets are non-blocking. Output that the kernel does not take at once is
 * queued per connection; above EMU_OUTQ_HIGH_WATER the worker stops reading
 * input, and no bulk/interrupt IN URB is completed while output is queued,
 * so memory stays bounded whatever the client does.
 */
#ifndef SCANEMU_EMU_SERVER_INTERNAL_H
#define SCANEMU_EMU_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "emu-internal.h"

/* What a RET_SUBMIT echoes of its CMD_SUBMIT. */
typedef struct emu_urb_id {
    uint32_t seqnum;
    int32_t start_frame;
    int32_t number_of_packets;
} emu_urb_id;

typedef struct emu_urb {
    struct emu_urb *next;
    emu_urb_id id;
    uint32_t flags;
    int32_t length;      /* transfer_buffer_length */
    uint8_t *data;       /* a NAKed bulk OUT's payload (length bytes), else NULL */
    uint64_t arrival_ns; /* when its CMD_SUBMIT reached the socket (CLOCK_MONOTONIC) */
} emu_urb;

typedef struct emu_urbq {
    emu_urb *head, *tail;
} emu_urbq;

typedef struct emu_session {
    int fd; /* -1: no client attached */
    int dead;
    char peer[64];
    emu_urbq q[2];   /* by enum dm_endpoint */
    emu_urbq parked; /* bulk OUT 0x01 URBs the device NAKed, FIFO */
    size_t parked_bytes;
    uint64_t data_in_consumed; /* bulk IN messages handed over: room for a parked OUT */
    emu_urb *pool;
    emu_urb *free_list;
    size_t npending;
    uint32_t recent[EMU_RECENT_SEQNUMS];
    size_t recent_pos, recent_n;
    uint8_t *rx;
    size_t rx_cap, rx_off, rx_len;
    uint8_t *out;
    size_t out_cap, out_off, out_len;
    uint32_t ep_mask;
    uint64_t timer_at; /* 0: disarmed */
    uint64_t released_since_flush;
    uint64_t rx_stamp;       /* arrival of the bytes last received (CLOCK_MONOTONIC) */
    int warned_unconfigured; /* one warning per connection */
} emu_session;

typedef struct emu_ippusb emu_ippusb;

typedef struct emu_dev {
    emu_server *srv;
    size_t index;
    char busid[PROTO_USBIP_BUSID_SIZE];
    uint32_t devid;
    proto_usbip_device rec;
    proto_usbip_interface intf[EMU_INTF_MAX];
    emu_export ex;
    emu_ippusb *ippusb; /* NULL: no IPP-USB interfaces */
    emu_usbdev usb;
    int epfd, timerfd, handoff_efd;
    pthread_t thread;
    int thread_started;
    int present;         /* under srv->tbl_mtx */
    pthread_mutex_t mtx; /* busy, handoff_fd, unplugged, gen */
    int busy;
    int handoff_fd;
    int unplugged; /* the worker ends its session and exits */
    uint32_t gen;  /* plugs of this slot so far */
    emu_session s;
} emu_dev;

/* A prebuilt OP_REP_DEVLIST, shared by the connections writing it (the
 * acceptor's thread only). */
typedef struct emu_devlist {
    unsigned refs;
    size_t len;
    uint8_t data[];
} emu_devlist;

enum op_stage { OP_FREE = 0, OP_READ_HDR, OP_READ_BUSID, OP_WRITE };
enum op_after { OP_AFTER_CLOSE = 0, OP_AFTER_HANDOFF };

typedef struct emu_opconn {
    int fd;
    enum op_stage stage;
    uint8_t in[PROTO_USBIP_IMPORT_REQ_SIZE];
    size_t have, need;
    uint8_t reply[PROTO_USBIP_OP_HDR_SIZE + PROTO_USBIP_DEVICE_SIZE];
    const uint8_t *out;
    size_t out_len, out_off;
    enum op_after after;
    emu_dev *dev;
    uint32_t dev_gen;     /* dev->gen when the import was answered */
    emu_devlist *devlist; /* the devlist being written (a reference), or NULL */
    uint64_t start_ns;    /* accepted (CLOCK_MONOTONIC) */
    char peer[64];
} emu_opconn;

#define EMU_MAX_CLEANUPS 8

struct emu_server {
    emu_log log;
    int listen_fd;
    uint16_t port;
    int stop_efd;
    atomic_int stopping;
    int acceptor_epfd;
    emu_dev *devs; /* EMU_MAX_DEVICES slots */
    pthread_mutex_t tbl_mtx;
    atomic_uint devlist_gen; /* bumped under tbl_mtx when a slot comes or goes */
    unsigned devlist_built;  /* the generation srv->devlist shows (acceptor only) */
    emu_trace *trace;
    emu_devlist *devlist;       /* current OP_REP_DEVLIST (acceptor only) */
    atomic_int running;         /* the workers were started: a plug starts its own */
    emu_dev_event_fn dev_event; /* attached / detached, NULL: none */
    void *dev_event_ctx;
    emu_admit admit; /* op-phase slots: which connection stays, and how long */
    emu_opconn *ops; /* admit.lim.slots entries, indexed like the slots (NULL: none yet) */
    struct {
        uint64_t window_ns; /* start of the current one-second window */
        unsigned lines;     /* drop messages logged in it */
        unsigned suppressed;
    } drops;
    struct {
        emu_cleanup_fn fn;
        void *arg;
    } cleanups[EMU_MAX_CLEANUPS];
    size_t ncleanups;
    struct {
        const emu_companion_ops *ops;
        void *arg;
    } companions[EMU_MAX_CLEANUPS];
    size_t ncompanions;
    uint16_t escl_port;
    emu_finish_fn finish; /* NULL: none */
    void *finish_arg;
    int realtime_prio; /* 0: normal scheduling */
    unsigned slice_us; /* 0: the kernel's default slice */
};

/* epoll tags of a worker's fixed descriptors. */
enum { EMU_TAG_STOP = 1, EMU_TAG_HANDOFF, EMU_TAG_TIMER, EMU_TAG_SOCK };

/* ---- session.c -------------------------------------------------------------------- */

/* Buffers of a device's session (URB pool, receive and send buffers), kept
 * for the device's lifetime: EMU_OK or EMU_E_NOMEM. emu_session_free is safe
 * after a failure. */
int emu_session_alloc(emu_session *s);
void emu_session_free(emu_session *s);
/* A client was handed this device's socket / its session is over (the
 * device is reset as if unplugged, and free for the next import). */
void emu_session_begin(emu_dev *d, int fd);
void emu_session_end(emu_dev *d);
/* Marks the session dead with one log line; the worker ends it. */
void emu_session_fail(emu_dev *d, enum emu_log_level lvl, const char *fmt, ...) EMU_PRINTF(3, 4);
void emu_session_flush_out(emu_dev *d); /* send what the socket takes now */
void emu_session_read(emu_dev *d);      /* receive and handle what arrived */
void emu_session_process(emu_dev *d);   /* handle complete messages already received */
void emu_session_service(emu_dev *d);   /* complete what the device has ready; arm the timer */
void emu_session_update_mask(emu_dev *d);

static inline size_t emu_session_outq_pending(const emu_session *s)
{
    return s->out_len - s->out_off;
}

/* For the IPP-USB carrier: the session's one RET_SUBMIT builder, and its URB
 * pool. A URB that holds data (malloc'ed, length bytes) counts against
 * EMU_MAX_PARKED_OUT through s->parked_bytes until emu_session_urb_free. */
void emu_session_ret_submit(emu_dev *d, emu_urb_id id, int32_t status, int32_t actual,
                            const uint8_t *in_data);
emu_urb *emu_session_urb_alloc(emu_dev *d, const proto_usbip_urb_hdr *h);
void emu_session_urb_free(emu_dev *d, emu_urb *u);

/* ---- ippusb.c --------------------------------------------------------------------- */

/* The IPP-USB carrier (docs/escl.md, "eSCL over USB"). Each IPP-USB
 * interface is one HTTP connection of the device's eSCL front
 * (dm_escl_conn): bulk OUT bytes go to the front as they come, in
 * transfers of any size (a transfer the front cannot take whole stays
 * pending, NAKed, until it can); a bulk IN URB gets at most its
 * transfer_buffer_length bytes of what the front has released, and nothing
 * is sent without one. A connection the front closes (Connection: close,
 * an error) starts afresh: a USB pipe has no end of stream; a response cut
 * short (a page aborted mid-body) first gets a line that is no chunk size,
 * so the client's chunked decoder fails as a TCP client's read would.
 * SET_INTERFACE / SET_CONFIGURATION of an interface, and the session's
 * end, drop its connection (a page in progress is lost). Every call on the
 * front holds the front's lock. All on the device's worker thread. */

/* For a device whose layout has IPP-USB interfaces and whose export has a
 * front: EMU_OK (*out NULL otherwise), EMU_E_NOMEM. */
int emu_ippusb_create(emu_dev *d, emu_ippusb **out);
void emu_ippusb_free(emu_ippusb *p);
/* A bulk URB on IPP-USB interface k (the caller checked the endpoint and
 * that the device is configured). */
void emu_ippusb_submit(emu_dev *d, unsigned k, const proto_usbip_urb_hdr *h,
                       const uint8_t *payload);
/* CMD_UNLINK of a URB pending here: removed and freed, returns 1 (the
 * caller answers RET_UNLINK -ECONNRESET); 0 if it is not here. */
int emu_ippusb_unlink(emu_dev *d, uint32_t seqnum);
/* SET_INTERFACE / SET_CONFIGURATION reset the interfaces in mask (bit k):
 * new connections; URBs still holding request bytes complete with
 * -ESHUTDOWN; pending IN URBs stay for the new connection, unless
 * flush_in (SET_CONFIGURATION(0): the endpoints are gone), when they
 * complete with -ESHUTDOWN too. */
void emu_ippusb_reset(emu_dev *d, uint32_t mask, int flush_in);
/* Moves bytes between the pending URBs and the front; returns the next
 * deadline (UINT64_MAX: none). */
uint64_t emu_ippusb_service(emu_dev *d);
/* The session ended: its URBs are freed (unanswered) and every connection
 * is dropped. */
void emu_ippusb_end(emu_dev *d);

/* ---- worker.c --------------------------------------------------------------------- */

/* The worker's epoll set, timerfd and hand-off eventfd; on failure one line
 * in errbuf and EMU_E_SYSTEM. emu_worker_fds_close is safe either way. */
int emu_worker_fds_open(emu_dev *d, char *errbuf, size_t errlen);
void emu_worker_fds_close(emu_dev *d);
/* Starts every present device's worker (named scanemu/BUSID, at SCHED_FIFO
 * with --realtime): EMU_OK, or EMU_E_SYSTEM (logged) with the server
 * stopping. */
int emu_workers_start(emu_server *srv);
/* One device's worker (a plug while running): EMU_OK or EMU_E_SYSTEM. */
int emu_worker_start(emu_dev *d);
void emu_workers_join(emu_server *srv);

/* ---- acceptor.c ------------------------------------------------------------------- */

/* The listening socket, the prebuilt OP_REP_DEVLIST and the op-phase slots;
 * the devices must exist. One line in errbuf on failure (EMU_E_SOCKET,
 * EMU_E_INVALID for limits out of range, EMU_E_NOMEM, EMU_E_SYSTEM).
 * emu_acceptor_free is safe either way. */
int emu_acceptor_init(emu_server *srv, const emu_options *opts, char *errbuf, size_t errlen);
/* Serves the operation phase until emu_server_stop: EMU_OK, or EMU_E_SYSTEM
 * (logged). Then emu_acceptor_close_all ends the connections still in it. */
int emu_acceptor_serve(emu_server *srv);
void emu_acceptor_close_all(emu_server *srv);
void emu_acceptor_free(emu_server *srv);

#endif
