/* The device-model side of the server: what bind_dm.c creates for each
 * exported device (profile, scenario, engine, native front, eSCL front) and
 * what the control socket's commands (control_cmd.c) act on. One slot per
 * busid, like the server's device table (slot i is busid 1-(i+1)).
 *
 * Locks: each slot's `lock` is held around every call into its device model
 * (the USB/IP worker, the eSCL thread and the control socket's thread all
 * take it). The engine's notes (dm_engine_set_observer) are produced under
 * it, so the observer only formats a line and hands it to the control
 * socket (emu_ctl_publish), which takes its own lock: lock order slot lock,
 * then the control socket's. Plug and unplug run on the control socket's
 * thread only; `present` changes there and is read there (and at start-up
 * and shut-down, when no other thread runs). */
#ifndef SCANEMU_EMU_BIND_INTERNAL_H
#define SCANEMU_EMU_BIND_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#include "dm/engine.h"
#include "emu-internal.h"

typedef struct emu_ctl emu_ctl;
typedef struct emu_dm_bundle emu_dm_bundle;

typedef struct emu_dm_slot {
    emu_dm_bundle *b;
    size_t index;
    bool present;
    char busid[PROTO_USBIP_BUSID_SIZE];
    pthread_mutex_t lock; /* the device model of this slot */
    dm_profile *profile;
    dm_scenario *own_scenario;   /* loaded by a plug; freed with the slot */
    const dm_scenario *scenario; /* own_scenario, or one of the bundle's */
    char profile_path[PATH_MAX]; /* "" = the built-in profile */
    char scenario_path[PATH_MAX];
    uint64_t seed;
    char serial[128];
    dm_usb_identity id; /* as exported: USB ID and serial overrides applied */
    dm_engine *engine;
    dm_device *device;
    dm_escl *escl; /* NULL without --escl-listen or IPP-USB interfaces */
    emu_log log;
    uint64_t jobs_seen;
    emu_trace_port tport;
    emu_timing_port timing; /* the timing report of its jobs */
    bool traced;
} emu_dm_slot;

struct emu_dm_bundle {
    dm_clock_real clock;
    /* Scenarios loaded at start-up, each once per distinct path (NULL: the
     * built-in); [0] is every device's default. */
    dm_scenario *scenarios[EMU_MAX_DEVICES + 1];
    const char *scenario_paths[EMU_MAX_DEVICES + 1];
    size_t nscenarios;
    emu_dm_slot slots[EMU_MAX_DEVICES];
    emu_escl *escl; /* the eSCL listener, NULL without --escl-listen */
    emu_log log;
    emu_trace *trace;
    emu_server *srv;
    emu_ctl *ctl; /* the control socket, NULL without --control */
    /* what a plug needs of the options */
    int timing;
    int strict;                 /* --strict-timing */
    uint64_t late_tolerance_us; /* --late-tolerance-us */
    int escl_fronts;            /* --escl-listen: every device gets an eSCL front */
    int png_level;
    char escl_host[256];
    uint64_t default_seed;
};

/* What one device is made of (a --device and its options, or a plug). */
typedef struct emu_dm_plug {
    const char *profile_path;  /* NULL: the built-in profile */
    const char *scenario_path; /* NULL: the bundle's default scenario */
    int seed_set;              /* else the default seed */
    uint64_t seed;
    int usb_id_set; /* vid/pid instead of the profile's */
    uint16_t vid, pid;
    const char *serial; /* NULL: the profile's, with -BUSID appended when taken */
} emu_dm_plug_opts;

/* Plugs a new device in free slot `slot` while the server runs: fixtures,
 * engine and fronts, then the USB/IP export and the eSCL route. EMU_OK, or
 * EMU_E_FIXTURE / EMU_E_INVALID / EMU_E_NOMEM / EMU_E_SYSTEM with one line
 * in errbuf (nothing is left plugged). */
int emu_dm_plug(emu_dm_bundle *b, size_t slot, const emu_dm_plug_opts *p, char *errbuf,
                size_t errlen);
/* Unplugs the device of slot: the USB/IP client's connection and the eSCL
 * connections end, the busid disappears, the model is freed. EMU_E_INVALID
 * when the slot is empty. */
int emu_dm_unplug(emu_dm_bundle *b, size_t slot);

/* ---- control socket (control.c) -------------------------------------------------- */

/* Limits (docs/control.md, "Limits"). */
#define EMU_CTL_MAX_CLIENTS 16u
#define EMU_CTL_LINE_MAX    (64u << 10) /* one request line */
#define EMU_CTL_OUT_MAX     (1u << 20)  /* output held for one client; past it: dropped */

/* Answers one request object on the control socket's thread: a new reply
 * object (the caller frees it). *watch set to 1 makes the connection a
 * watcher of events (for busid, "" = every device). */
typedef struct json_t json_t;
typedef json_t *(*emu_ctl_handler)(void *ctx, json_t *req, int *watch, char *busid, size_t blen);

/* Binds the Unix socket at path (mode 0600; a stale socket there is
 * replaced, anything else refused); no thread yet. One line in errbuf. */
int emu_ctl_create(const char *path, const emu_log *log, emu_ctl_handler fn, void *ctx,
                   emu_ctl **out, char *errbuf, size_t errlen);
int emu_ctl_start(emu_ctl *c);
void emu_ctl_signal_stop(emu_ctl *c); /* async-signal-safe */
void emu_ctl_join(emu_ctl *c);
/* Closes every client, removes the socket file (if it is still ours). */
void emu_ctl_free(emu_ctl *c);
/* One event line (a JSON object, no newline) to every watcher of busid.
 * Thread-safe, never blocks: a watcher whose output is full is dropped. */
void emu_ctl_publish(emu_ctl *c, const char *busid, const char *line, size_t len);

/* ---- the commands (control_cmd.c) ---------------------------------------------------- */

json_t *emu_ctl_dm_handle(void *bundle, json_t *req, int *watch, char *busid, size_t blen);
/* The engine observer of a slot and the server's attach/detach hook: both
 * publish watch events. */
void emu_ctl_dm_note(void *slot, const dm_note *n);
void emu_ctl_dm_dev_event(void *bundle, size_t slot, const char *busid, int attached,
                          const char *peer);

#endif
