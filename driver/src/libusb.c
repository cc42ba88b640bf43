/* driver: libusb-1.0 transport: "libusb", "libusb:VID:PID",
 * "libusb:VID:PID,serial=S", "libusb:serial=S" or "libusb:BUS.DEV".
 *
 * For any scanner the kernel sees: real hardware speaking the protocol, or
 * the emulator after `usbip attach`. Bulk and interrupt IN use libusb's
 * asynchronous API, one libusb_transfer per drv_xfer submission; events are
 * run by libusb_handle_events_timeout_completed. Each transport has its own
 * libusb context (no process-global state).
 */
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv-internal.h"
#include "usb-select.h"

#define LU_CLOSE_WAIT_MS 2000u

typedef struct drv_libusb drv_libusb;

/* One in-flight submission: ties libusb's transfer to ours and its owner. */
typedef struct lu_pending {
    drv_libusb *lu;
    drv_xfer *x;
    struct libusb_transfer *t;
} lu_pending;

struct drv_libusb {
    drv_transport base;
    libusb_context *ctx;
    libusb_device_handle *h;
    int claimed;
    int iface;
    drv_xfer *head; /* pending transfers, unordered list via next_ */
};

static int lu_err(int rc)
{
    return drv_usb_err(rc);
}

static int lu_status(enum libusb_transfer_status st)
{
    switch (st) {
    case LIBUSB_TRANSFER_COMPLETED:
        return DRV_OK;
    case LIBUSB_TRANSFER_STALL:
        return DRV_E_STALL;
    case LIBUSB_TRANSFER_CANCELLED:
        return DRV_E_CANCELLED;
    case LIBUSB_TRANSFER_NO_DEVICE:
        return DRV_E_DISCONNECTED;
    case LIBUSB_TRANSFER_OVERFLOW:
        return DRV_E_OVERFLOW;
    case LIBUSB_TRANSFER_TIMED_OUT:
        return DRV_E_TIMEOUT;
    case LIBUSB_TRANSFER_ERROR:
    default:
        return DRV_E_IO;
    }
}

static void lu_unlist(drv_libusb *lu, drv_xfer *x)
{
    drv_xfer **pp;

    for (pp = &lu->head; *pp; pp = &(*pp)->next_) {
        if (*pp == x) {
            *pp = x->next_;
            x->next_ = NULL;
            return;
        }
    }
}

static void LIBUSB_CALL lu_transfer_cb(struct libusb_transfer *t)
{
    lu_pending *p = t->user_data;
    drv_xfer *x = p->x;

    lu_unlist(p->lu, x);
    x->status = lu_status(t->status);
    x->actual = t->actual_length > 0 ? (size_t)t->actual_length : 0;
    if (x->actual > x->length) /* libusb never does this; be safe anyway */
        x->status = DRV_E_OVERFLOW, x->actual = x->length;
    x->priv_ = NULL;
    x->state = DRV_XFER_DONE;
    libusb_free_transfer(t);
    free(p);
    if (x->callback)
        x->callback(x);
}

static int lu_submit(drv_transport *tr, drv_xfer *x)
{
    drv_libusb *lu = (drv_libusb *)tr;
    struct libusb_transfer *t;
    lu_pending *p;
    int rc;

    if (!(x->endpoint & PROTO_USB_DIR_IN) || !x->buf || x->length == 0 || x->length > INT32_MAX ||
        x->state == DRV_XFER_PENDING)
        return DRV_E_INVALID;
    p = calloc(1, sizeof(*p));
    t = libusb_alloc_transfer(0);
    if (!p || !t) {
        free(p);
        libusb_free_transfer(t);
        return DRV_E_NOMEM;
    }
    p->lu = lu;
    p->x = x;
    p->t = t;
    if (x->type == DRV_XFER_INTERRUPT)
        libusb_fill_interrupt_transfer(t, lu->h, x->endpoint, x->buf, (int)x->length,
                                       lu_transfer_cb, p, 0);
    else
        libusb_fill_bulk_transfer(t, lu->h, x->endpoint, x->buf, (int)x->length, lu_transfer_cb, p,
                                  0);
    /* No LIBUSB_TRANSFER_SHORT_NOT_OK: every scanner message is a short
     * transfer. No timeout either: the session times bands itself and
     * cancels. */
    x->status = DRV_OK;
    x->actual = 0;
    x->scattered = 0; /* buf2 is not used: libusb fills one buffer */
    x->priv_ = p;
    x->state = DRV_XFER_PENDING;
    x->next_ = lu->head;
    lu->head = x;
    rc = libusb_submit_transfer(t);
    if (rc < 0) {
        lu_unlist(lu, x);
        x->priv_ = NULL;
        x->state = DRV_XFER_IDLE;
        libusb_free_transfer(t);
        free(p);
        return lu_err(rc);
    }
    return DRV_OK;
}

static int lu_cancel(drv_transport *tr, drv_xfer *x)
{
    lu_pending *p = x->priv_;
    int rc;

    (void)tr;
    if (x->state != DRV_XFER_PENDING || !p)
        return DRV_OK;
    rc = libusb_cancel_transfer(p->t);
    /* NOT_FOUND: already completing or cancelled; the callback will run. */
    return rc == LIBUSB_ERROR_NOT_FOUND ? DRV_OK : lu_err(rc);
}

static int lu_handle_events(drv_transport *tr, unsigned timeout_ms)
{
    drv_libusb *lu = (drv_libusb *)tr;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int rc = libusb_handle_events_timeout_completed(lu->ctx, &tv, NULL);

    return rc == LIBUSB_ERROR_INTERRUPTED ? DRV_OK : lu_err(rc);
}

static int lu_control(drv_transport *tr, const proto_usb_setup *s, uint8_t *data, size_t *actual,
                      unsigned timeout_ms)
{
    drv_libusb *lu = (drv_libusb *)tr;
    int rc = libusb_control_transfer(lu->h, s->bmRequestType, s->bRequest, s->wValue, s->wIndex,
                                     data, s->wLength, timeout_ms);

    if (actual)
        *actual = rc > 0 ? (size_t)rc : 0;
    return rc < 0 ? lu_err(rc) : DRV_OK;
}

static int lu_bulk_out(drv_transport *tr, uint8_t ep, const uint8_t *data, size_t len,
                       unsigned timeout_ms)
{
    drv_libusb *lu = (drv_libusb *)tr;
    int done = 0, rc;

    if (len > INT32_MAX)
        return DRV_E_INVALID;
    rc =
        libusb_bulk_transfer(lu->h, ep & 0x7Fu, (unsigned char *)data, (int)len, &done, timeout_ms);
    if (rc < 0)
        return lu_err(rc);
    return (size_t)done == len ? DRV_OK : DRV_E_IO;
}

static int lu_clear_halt(drv_transport *tr, uint8_t ep)
{
    drv_libusb *lu = (drv_libusb *)tr;

    return lu_err(libusb_clear_halt(lu->h, ep));
}

static void lu_close(drv_transport *tr)
{
    drv_libusb *lu = (drv_libusb *)tr;
    drv_xfer *x;
    uint64_t deadline;

    if (!lu)
        return;
    if (lu->h) {
        for (x = lu->head; x; x = x->next_)
            lu_cancel(tr, x);
        deadline = drv_now_ns() + (uint64_t)LU_CLOSE_WAIT_MS * 1000000u;
        while (lu->head && drv_now_ns() < deadline)
            lu_handle_events(tr, 50);
        if (lu->claimed)
            libusb_release_interface(lu->h, lu->iface);
        libusb_close(lu->h);
    }
    if (lu->ctx)
        libusb_exit(lu->ctx);
    free(lu);
}

static int lu_open(const char *rest, const drv_open_options *o, drv_transport **out, char *errbuf,
                   size_t errlen)
{
    uint8_t cfg[DRV_USB_MAX_CONFIG_DESC];
    drv_scanner_iface sif;
    drv_libusb *lu;
    drv_usb_sel sel;
    drv_usb_found f;
    uint16_t vid, pid;
    int rc, cur = -1;

    rc = drv_usb_sel_parse("libusb", rest, o, &sel, errbuf, errlen);
    if (rc < 0)
        return rc;
    lu = calloc(1, sizeof(*lu));
    if (!lu) {
        drv_errf(errbuf, errlen, "out of memory");
        return DRV_E_NOMEM;
    }
    lu->base.ops = &drv_libusb_transport;
    rc = libusb_init(&lu->ctx);
    if (rc < 0) {
        drv_errf(errbuf, errlen, "libusb_init failed: %s", libusb_strerror(rc));
        rc = DRV_E_CONNECT;
        goto out_free;
    }
    rc = drv_usb_find(lu->ctx, &sel, NULL, NULL, NULL, &f, errbuf, errlen);
    if (rc < 0)
        goto out_free;
    lu->h = f.h;
    lu->base.info.vid = f.vid;
    lu->base.info.pid = f.pid;
    lu->base.info.bcd_device = f.bcd_device;
    lu->base.info.speed = f.speed;
    snprintf(lu->base.info.where, sizeof(lu->base.info.where), "libusb bus %u device %u", f.bus,
             f.addr);
    vid = lu->base.info.vid;
    pid = lu->base.info.pid;
    /* The enumeration-equivalent steps, as on the usbip transport: read the
     * configuration descriptor from the device, select the configuration,
     * claim the scanner interface. */
    rc = libusb_get_descriptor(lu->h, PROTO_USB_DT_CONFIG, 0, cfg, 9);
    if (rc == 9)
        rc = libusb_get_descriptor(lu->h, PROTO_USB_DT_CONFIG, 0, cfg,
                                   proto_get_le16(cfg + 2) < sizeof(cfg) ? proto_get_le16(cfg + 2)
                                                                         : (int)sizeof(cfg));
    if (rc < 9 || drv_parse_config(cfg, (size_t)rc, &sif) == DRV_E_PROTO) {
        drv_errf(errbuf, errlen, "%04x:%04x at %s: cannot read its configuration descriptor: %s",
                 vid, pid, lu->base.info.where, rc < 0 ? libusb_strerror(rc) : "malformed");
        rc = DRV_E_PROTO;
        goto out_free;
    }
    if (drv_parse_config(cfg, (size_t)rc, &sif) < 0) {
        drv_errf(errbuf, errlen,
                 "%04x:%04x at %s has no scanner interface (vendor class with endpoints 0x01, "
                 "0x81, 0x82)",
                 vid, pid, lu->base.info.where);
        rc = DRV_E_WRONG_DEVICE;
        goto out_free;
    }
    libusb_set_auto_detach_kernel_driver(lu->h, 1); /* NOT_SUPPORTED off Linux: fine */
    rc = libusb_set_configuration(lu->h, sif.configuration);
    if (rc < 0 && !(libusb_get_configuration(lu->h, &cur) == 0 && cur == sif.configuration)) {
        drv_errf(errbuf, errlen, "%04x:%04x at %s: SET_CONFIGURATION %u failed: %s", vid, pid,
                 lu->base.info.where, sif.configuration, libusb_strerror(rc));
        rc = lu_err(rc);
        goto out_free;
    }
    rc = libusb_claim_interface(lu->h, sif.interface_number);
    if (rc < 0) {
        drv_errf(errbuf, errlen, "%04x:%04x at %s: cannot claim interface %u: %s", vid, pid,
                 lu->base.info.where, sif.interface_number, libusb_strerror(rc));
        rc = rc == LIBUSB_ERROR_BUSY ? DRV_E_BUSY : lu_err(rc);
        goto out_free;
    }
    lu->claimed = 1;
    lu->iface = sif.interface_number;
    lu->base.info.configuration = sif.configuration;
    lu->base.info.interface_number = sif.interface_number;
    lu->base.info.bulk_in_max_packet = sif.bulk_in_mps;
    *out = &lu->base;
    return DRV_OK;
out_free:
    lu_close(&lu->base);
    return rc;
}

const struct drv_transport_ops drv_libusb_transport = {
    .scheme = "libusb",
    .open = lu_open,
    .close = lu_close,
    .control = lu_control,
    .bulk_out = lu_bulk_out,
    .submit = lu_submit,
    .cancel = lu_cancel,
    .clear_halt = lu_clear_halt,
    .handle_events = lu_handle_events,
};
