/* driver: picking one USB device the kernel sees, by "SCHEME[:SELECTOR]"
 * (private). Shared by the libusb transport ("libusb:...") and eSCL over
 * IPP-USB ("escl+usb:..."), so both take the same selectors and print the
 * same messages:
 *
 *   (nothing)           the scheme's default: libusb the scanemu IDs
 *                       (1209:0001-000f), escl+usb the one device the
 *                       caller's filter accepts (one with IPP-USB
 *                       interfaces)
 *   VID:PID             hex, optionally ",serial=S"
 *   serial=S
 *   BUS.DEV             decimal, as lsusb prints them
 *
 * Several devices matching is an error listing each as SCHEME:BUS.DEV with
 * its serial, so that one of two identical devices is never picked by
 * chance.
 */
#ifndef SCANEMU_DRV_USB_SELECT_H
#define SCANEMU_DRV_USB_SELECT_H

#include <libusb.h>
#include <stddef.h>

#include "drv-internal.h"

typedef struct drv_usb_sel {
    const char *scheme; /* "libusb", "escl+usb": for messages */
    int by_addr;
    unsigned bus, addr;
    drv_open_options id; /* match_id, vid, pid, pid_last */
    const char *serial;  /* points into the selector; NULL: any */
} drv_usb_sel;

/* Parse what follows "SCHEME:" ("" for none). id gives the default ID match
 * (match_id 0: any ID). DRV_OK, or DRV_E_URI with one line in errbuf. sel
 * points into rest, which must outlive it. */
int drv_usb_sel_parse(const char *scheme, const char *rest, const drv_open_options *id,
                      drv_usb_sel *sel, char *errbuf, size_t errlen);

/* Optional filter on top of the selector: non-zero accepts dev. */
typedef int (*drv_usb_accept_fn)(void *ctx, libusb_device *dev);

/* What drv_usb_find found. */
typedef struct drv_usb_found {
    libusb_device_handle *h; /* open; the caller closes it */
    uint16_t vid, pid, bcd_device;
    uint32_t speed; /* PROTO_USBIP_SPEED_* */
    unsigned bus, addr;
} drv_usb_found;

/* Find and open the one device that sel names and accept (if non-NULL)
 * takes. what_filter names the filter in messages ("with IPP-USB
 * interfaces"; NULL when there is none). DRV_OK with *out filled;
 * DRV_E_NODEV (none), DRV_E_URI (several: the message lists them),
 * DRV_E_CONNECT (cannot list, or no permission to open), or the libusb
 * error translated. */
int drv_usb_find(libusb_context *ctx, const drv_usb_sel *sel, drv_usb_accept_fn accept, void *actx,
                 const char *what_filter, drv_usb_found *out, char *errbuf, size_t errlen);

/* libusb's error codes as DRV_E_* (the one place they are translated). */
int drv_usb_err(int libusb_rc);

#endif
