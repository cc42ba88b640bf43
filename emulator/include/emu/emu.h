/* emulator: a USB/IP server exporting virtual scanners (docs/emulator.md).
 *
 * One server owns one listening socket and N exported devices (busids 1-1,
 * 1-2, ...), each bound to its own dm_device. emu_server_run() runs the
 * acceptor (listen socket + operation requests) in the calling thread and one
 * worker thread per device (epoll + timerfd with absolute deadlines), joined
 * before it returns; emu_server_stop() may be called from another thread or a
 * signal handler. See docs/emulator.md.
 */
#ifndef SCANEMU_EMU_EMU_H
#define SCANEMU_EMU_EMU_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum emu_log_level {
    EMU_LOG_ERROR = 0,
    EMU_LOG_WARN = 1,
    EMU_LOG_INFO = 2,
    EMU_LOG_DEBUG = 3,
};

#define EMU_MAX_DEVICES 64

/* X(name, value, message): the single source of the error table. */
#define EMU_ERRNO_MAP(X)                                                                           \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(INVALID, -2, "invalid argument")                                                             \
    X(TRACE, -3, "the trace could not be written")                                                 \
    X(FIXTURE, -4, "cannot load a fixture or create its device")                                   \
    X(SOCKET, -5, "cannot listen on the address")                                                  \
    X(SYSTEM, -6, "a system resource (thread, epoll, eventfd, timer) failed")                      \
    X(TIMING, -7, "a job's schedule was not kept within the tolerance (--strict-timing)")

typedef enum emu_err {
    EMU_OK = 0,
#define EMU_ERR_ENUM_(name, value, msg) EMU_E_##name = (value),
    EMU_ERRNO_MAP(EMU_ERR_ENUM_)
#undef EMU_ERR_ENUM_
} emu_err;

/* Message ("out of memory") and symbolic name ("EMU_E_NOMEM") of an emu_err;
 * unknown codes give a generic text. */
const char *emu_strerror(int err);
const char *emu_err_name(int err);

/* What one --device may set for itself (docs/emulator.md, "Command line"). */
typedef struct emu_device_opts {
    const char *scenario_path; /* NULL: emu_options.scenario_path */
    int seed_set;              /* 0: emu_options.seed */
    uint64_t seed;
    int usb_id_set; /* vid:pid instead of the profile's (--usb-id) */
    uint16_t vid, pid;
    /* The serial string (--serial); NULL: the profile's, with "-BUSID"
     * appended when an earlier device exports the same one. */
    const char *serial;
} emu_device_opts;

typedef struct emu_options {
    const char *listen_host; /* default "127.0.0.1" */
    uint16_t listen_port;    /* default 3240; 0 = pick a free port */
    /* One exported device per entry; a NULL entry is the built-in default
     * profile. n_devices == 0 means one built-in default device. */
    const char *const *profile_paths;
    size_t n_devices;
    /* NULL, or n_devices entries: each device's own scenario and seed. */
    const emu_device_opts *device_opts;
    const char *scenario_path;    /* every device's default; NULL = built-in clean scenario */
    uint64_t seed;                /* every device's default; default 1 */
    const char *trace_path;       /* JSON Lines, one record per band; NULL = none */
    int timing;                   /* 1 (default) = profile schedule; 0 = as fast as possible */
    enum emu_log_level log_level; /* default EMU_LOG_INFO */
    FILE *log;                    /* default stderr */
    /* SCHED_FIFO priority (1..99) for the device worker threads, plus a
     * 1 ns timer slack; 0 (default) = normal scheduling.
     * If the system refuses (EPERM), one warning is logged and the server
     * runs at normal priority. */
    int realtime_prio;
    /* The scheduler slice, in microseconds, each device
     * worker thread asks for (sched_setattr, SCHED_OTHER's sched_runtime:
     * Linux >= 6.12's EEVDF lets a waking task with a shorter slice than the
     * running one preempt it, so a band due is sent without waiting out a
     * host process's slice). 100..100000; 0 = the kernel's default. Default
     * 100. Needs no privilege; older kernels ignore it. Requested with
     * realtime_prio too (it matters only if SCHED_FIFO is refused). */
    unsigned slice_us;
    /* Connection slots (docs/emulator.md, "Connection slots"): how many
     * connections may be in the USB/IP operation phase at once (1..1024; 0 =
     * EMU_OP_SLOTS) and the total time one may take there, from accept to the
     * last byte of its reply (1..3600000 ms; 0 = EMU_OP_DEADLINE_MS). Meant
     * for tests; scanemu sets them only through its internal --x-op-slots and
     * --x-op-deadline-ms options. */
    unsigned op_slots;
    unsigned op_deadline_ms;
    /* eSCL over HTTP (docs/escl.md): with escl_listen set, every device also
     * serves eSCL on escl_host:escl_port (0 = any free port), the first at
     * /eSCL, each at /BUSID/eSCL. png_level: zlib level of PNG pages, 0..9
     * (default 1). escl_slots / escl_deadline_ms: connections per device
     * and the time a request may take (0 = EMU_ESCL_SLOTS /
     * EMU_ESCL_DEADLINE_MS); for tests. */
    int escl_listen;
    const char *escl_host; /* default "127.0.0.1" */
    uint16_t escl_port;
    int png_level;
    unsigned escl_slots;
    unsigned escl_deadline_ms;
    /* Timing report (docs/emulator.md, "Timing report"): a band more than
     * late_tolerance_us late counts as beyond tolerance (default: the device
     * model's DM_LATE_TOLERANCE_NS_DEFAULT, 5000 us; 0..60000000). With
     * strict_timing, a job whose bands were late beyond it by the
     * emulator's own doing is reported NOT FAITHFUL and emu_server_run
     * returns EMU_E_TIMING. */
    uint64_t late_tolerance_us;
    int strict_timing;
    /* Live control (docs/control.md): a Unix socket at this path (mode
     * 0600; a stale socket is replaced, any other file refused; removed
     * when the server is freed). NULL: none. */
    const char *control_path;
} emu_options;

void emu_options_init(emu_options *opts);

typedef struct emu_server emu_server;

/* Loads every fixture, binds and listens. Returns EMU_OK, or on failure
 * writes one line naming what was wrong into errbuf and returns an emu_err
 * (EMU_E_FIXTURE for a profile or scenario, EMU_E_TRACE for the trace path,
 * EMU_E_SOCKET for the listen address, EMU_E_INVALID, EMU_E_NOMEM,
 * EMU_E_SYSTEM); *out is set only on success. */
int emu_server_create(const emu_options *opts, emu_server **out, char *errbuf, size_t errlen);
/* The port actually bound (useful with listen_port = 0). */
uint16_t emu_server_port(const emu_server *srv);
/* The eSCL port bound, 0 without escl_listen. */
uint16_t emu_server_escl_port(const emu_server *srv);
/* Serve until emu_server_stop(). Returns EMU_OK; EMU_E_TRACE when it served
 * to the end but the trace could not be written completely (the first write
 * error was logged when it happened, a summary at the end); else
 * EMU_E_TIMING when strict_timing is set and a job was NOT FAITHFUL (each
 * such job logged a warning); EMU_E_SYSTEM on a fatal error (which is
 * logged). */
int emu_server_run(emu_server *srv);
/* Async-signal-safe and thread-safe. */
void emu_server_stop(emu_server *srv);
/* Closes every connection and frees everything. Not while run() is active. */
void emu_server_free(emu_server *srv);

#endif
