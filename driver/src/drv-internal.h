/* driver: private declarations shared by the driver's source files. */
#ifndef SCANEMU_DRV_INTERNAL_H
#define SCANEMU_DRV_INTERNAL_H

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "drv-transport.h"
#include "drv/drv.h"
#include "protocol/usb.h"

#define DRV_DEFAULT_VID      0x1209u
#define DRV_DEFAULT_PID      0x0001u
#define DRV_DEFAULT_PID_LAST 0x000Fu /* the pid.codes test PIDs 0001..000f */

/* Whether vid:pid is what o accepts (see drv_open_options.match_id). */
static inline int drv_id_matches(const drv_open_options *o, uint16_t vid, uint16_t pid)
{
    uint16_t last = o->pid_last > o->pid ? o->pid_last : o->pid;
    return !o->match_id || (vid == o->vid && pid >= o->pid && pid <= last);
}

/* "1209:0001" or "1209:0001-000f" for messages. */
static inline void drv_id_str(const drv_open_options *o, char *out, size_t len)
{
    if (o->pid_last > o->pid)
        snprintf(out, len, "%04x:%04x-%04x", o->vid, o->pid, o->pid_last);
    else
        snprintf(out, len, "%04x:%04x", o->vid, o->pid);
}
#define DRV_DEFAULT_URI "usbip://127.0.0.1:3240/1-1"

/* USB requests and descriptor types: protocol/usb.h (PROTO_USB_*), shared
 * with the emulator. The longest configuration descriptor the driver reads: */
#define DRV_USB_MAX_CONFIG_DESC 4096u

/* The scanner interface found in a configuration descriptor. */
typedef struct drv_scanner_iface {
    uint8_t configuration;
    uint8_t interface_number;
    uint8_t alt_setting;
    uint16_t bulk_out_mps, bulk_in_mps, intr_in_mps;
    uint8_t intr_interval;
} drv_scanner_iface;

/* Walk a raw configuration descriptor (bounded by len) for the vendor-class
 * interface with bulk OUT 0x01, bulk IN 0x81 and interrupt IN 0x82.
 * DRV_OK, DRV_E_PROTO (malformed) or DRV_E_WRONG_DEVICE (no such interface). */
int drv_parse_config(const uint8_t *desc, size_t len, drv_scanner_iface *out);

/* snprintf into errbuf if it is non-NULL. */
void drv_errf(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t drv_now_ns(void);

/* Wait until x is DONE, pumping t's events, for at most timeout_ms. DRV_OK
 * (x is DONE), DRV_E_TIMEOUT, or the transport's error. */
int drv_wait_xfer(drv_transport *t, drv_xfer *x, unsigned timeout_ms);

/* Open the --trace file for writing after the checks drv_scan_to_file
 * documents: a regular file (truncated) or a new one, a FIFO (waits for a
 * reader; *cancel ends the wait), or /dev/null; a directory, another device
 * node or a socket is refused. NULL on failure, with *hr (an STG_E_*, or
 * E_ABORT when cancelled) and one line naming the path in err. */
FILE *drv_trace_open(const char *path, const volatile sig_atomic_t *cancel, int32_t *hr, char *err,
                     size_t errlen);

#endif
