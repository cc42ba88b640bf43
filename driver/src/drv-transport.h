/* driver: the transport backends' table (private to the driver).
 *
 * A backend is a const table of function pointers with designated
 * initializers (libusb keeps its backend table private the same way); its
 * handle starts with struct drv_transport. Users reach the operations
 * through drv.h's drv_transport_* wrappers, whose comments are the contract
 * each operation here keeps; an optional operation (NULL) is checked there.
 * Tests that examine a backend itself include this header.
 */
#ifndef SCANEMU_DRV_TRANSPORT_H
#define SCANEMU_DRV_TRANSPORT_H

#include "drv/drv.h"

struct drv_transport_ops {
    const char *scheme; /* "usbip", "libusb" */
    /* rest is the URI after "scheme:" ("//HOST:PORT/BUSID", "", "VID:PID").
     * Performs the enumeration-equivalent steps (device and configuration
     * descriptors, SET_CONFIGURATION, claim the scanner interface). */
    int (*open)(const char *rest, const drv_open_options *o, drv_transport **out, char *errbuf,
                size_t errlen);
    /* Cancels whatever is still pending (completing it as CANCELLED) and
     * frees the transport. */
    void (*close)(drv_transport *t);
    /* Each as the drv_transport_* wrapper of the same name (drv.h). */
    int (*control)(drv_transport *t, const proto_usb_setup *setup, uint8_t *data, size_t *actual,
                   unsigned timeout_ms);
    int (*bulk_out)(drv_transport *t, uint8_t ep, const uint8_t *data, size_t len,
                    unsigned timeout_ms);
    int (*submit)(drv_transport *t, drv_xfer *x);
    int (*cancel)(drv_transport *t, drv_xfer *x);
    int (*clear_halt)(drv_transport *t, uint8_t ep);
    int (*handle_events)(drv_transport *t, unsigned timeout_ms);
    /* Optional (NULL: nothing is ever held back; drv_transport_flush then
     * returns DRV_OK). */
    int (*flush)(drv_transport *t);
};

/* Every backend's handle starts with this. */
struct drv_transport {
    const struct drv_transport_ops *ops;
    drv_device_info info;
};

extern const struct drv_transport_ops drv_usbip_transport;
extern const struct drv_transport_ops drv_libusb_transport;

#endif
