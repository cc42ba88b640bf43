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
    switch (rc) {
    case LIBUSB_SUCCESS:
        return DRV_OK;
    case LIBUSB_ERROR_TIMEOUT:
        return DRV_E_TIMEOUT;
    case LIBUSB_ERROR_PIPE:
        return DRV_E_STALL;
    case LIBUSB_ERROR_OVERFLOW:
        return DRV_E_OVERFLOW;
    case LIBUSB_ERROR_NO_DEVICE:
        return DRV_E_DISCONNECTED;
    case LIBUSB_ERROR_NOT_FOUND:
        return DRV_E_NODEV;
    case LIBUSB_ERROR_BUSY:
        return DRV_E_BUSY;
    case LIBUSB_ERROR_NO_MEM:
        return DRV_E_NOMEM;
    case LIBUSB_ERROR_INVALID_PARAM:
        return DRV_E_INVALID;
    case LIBUSB_ERROR_NOT_SUPPORTED:
        return DRV_E_UNSUPPORTED;
    default:
        return DRV_E_IO;
    }
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

/* Which device "libusb[:SELECTOR]" names: by bus and address, or by
 * VID:PID (the options' default when absent) and optionally serial. */
typedef struct lu_sel {
    int by_addr;
    unsigned bus, addr;
    drv_open_options id; /* match_id, vid, pid, pid_last */
    const char *serial;  /* points into the URI; NULL: any */
} lu_sel;

#define LU_SEL_HELP                                                                                \
    "expected libusb, libusb:VID:PID (hex), libusb:VID:PID,serial=S, libusb:serial=S or "          \
    "libusb:BUS.DEV (decimal, as lsusb prints them)"

static int lu_parse_sel(const char *rest, const drv_open_options *o, lu_sel *sel, char *errbuf,
                        size_t errlen)
{
    unsigned v, p, bus, addr;
    int n = 0;

    memset(sel, 0, sizeof(*sel));
    sel->id = *o;
    if (*rest == '\0')
        return DRV_OK;
    if (strncmp(rest, "serial=", 7) == 0) {
        sel->serial = rest + 7;
    } else if (strspn(rest, "0123456789") > 0 && strchr(rest, '.') != NULL) {
        if (sscanf(rest, "%3u.%3u%n", &bus, &addr, &n) != 2 || rest[n] != '\0' ||
            strspn(rest, "0123456789.") != strlen(rest) || bus < 1 || bus > 255 || addr < 1 ||
            addr > 127)
            goto out_bad;
        sel->by_addr = 1;
        sel->bus = bus;
        sel->addr = addr;
        return DRV_OK;
    } else {
        const char *comma = strchr(rest, ',');
        size_t idlen = comma ? (size_t)(comma - rest) : strlen(rest);
        if (idlen != 9 || rest[4] != ':' || strspn(rest, "0123456789abcdefABCDEF:") < 9 ||
            sscanf(rest, "%4x:%4x%n", &v, &p, &n) != 2 || n != 9)
            goto out_bad;
        sel->id.match_id = 1;
        sel->id.vid = (uint16_t)v;
        sel->id.pid = (uint16_t)p;
        sel->id.pid_last = 0;
        if (comma == NULL)
            return DRV_OK;
        if (strncmp(comma + 1, "serial=", 7) != 0)
            goto out_bad;
        sel->serial = comma + 8;
    }
    if (*sel->serial == '\0')
        goto out_bad;
    return DRV_OK;

out_bad:
    drv_errf(errbuf, errlen, "bad libusb device 'libusb:%s' (" LU_SEL_HELP ")", rest);
    return DRV_E_URI;
}

static uint32_t lu_speed(int s)
{
    switch (s) {
    case LIBUSB_SPEED_LOW:
        return PROTO_USBIP_SPEED_LOW;
    case LIBUSB_SPEED_FULL:
        return PROTO_USBIP_SPEED_FULL;
    case LIBUSB_SPEED_HIGH:
        return PROTO_USBIP_SPEED_HIGH;
    case LIBUSB_SPEED_SUPER:
        return PROTO_USBIP_SPEED_SUPER;
    default:
        return s > LIBUSB_SPEED_SUPER ? PROTO_USBIP_SPEED_SUPER_PLUS : 0;
    }
}

/* The serial string of a device ("" when it has none, "?" when it cannot
 * be opened to read it). */
static void lu_serial(libusb_device *dev, const struct libusb_device_descriptor *dd, char *out,
                      size_t outlen)
{
    libusb_device_handle *h;
    int n;

    snprintf(out, outlen, "%s", dd->iSerialNumber ? "?" : "");
    if (dd->iSerialNumber == 0 || libusb_open(dev, &h) < 0)
        return;
    n = libusb_get_string_descriptor_ascii(h, dd->iSerialNumber, (unsigned char *)out, (int)outlen);
    if (n < 0)
        snprintf(out, outlen, "?");
    libusb_close(h);
}

#define LU_MAX_CANDIDATES 16

/* Find and open the one device sel names. Several matching is an error that
 * lists them, so that one of two identical scanners is never picked by
 * chance. */
static int lu_find(drv_libusb *lu, const lu_sel *sel, char *errbuf, size_t errlen)
{
    libusb_device **list = NULL, *found[LU_MAX_CANDIDATES];
    char serials[LU_MAX_CANDIDATES][128], what[192];
    struct libusb_device_descriptor dd;
    size_t nfound = 0, total = 0;
    ssize_t n, i;
    int rc;

    if (sel->by_addr) {
        snprintf(what, sizeof what, "bus %u device %u", sel->bus, sel->addr);
    } else {
        char id[32] = "of any ID";
        if (sel->id.match_id)
            drv_id_str(&sel->id, id, sizeof id);
        snprintf(what, sizeof what, "%s%s%.128s", id, sel->serial ? " with serial " : "",
                 sel->serial ? sel->serial : "");
    }
    n = libusb_get_device_list(lu->ctx, &list);
    if (n < 0) {
        drv_errf(errbuf, errlen, "libusb cannot list devices: %s", libusb_strerror((int)n));
        return DRV_E_CONNECT;
    }
    for (i = 0; i < n; i++) {
        char serial[128];
        if (libusb_get_device_descriptor(list[i], &dd) != 0)
            continue;
        if (sel->by_addr ? libusb_get_bus_number(list[i]) != sel->bus ||
                               libusb_get_device_address(list[i]) != sel->addr
                         : !drv_id_matches(&sel->id, dd.idVendor, dd.idProduct))
            continue;
        lu_serial(list[i], &dd, serial, sizeof serial);
        if (sel->serial && strcmp(serial, sel->serial) != 0)
            continue;
        if (nfound < LU_MAX_CANDIDATES) {
            found[nfound] = list[i];
            memcpy(serials[nfound], serial, sizeof serial);
            nfound++;
        }
        total++;
    }
    if (total == 0) {
        libusb_free_device_list(list, 1);
        drv_errf(errbuf, errlen,
                 "no USB device %s found (is the scanner plugged in, or the emulator attached "
                 "with usbip attach?)",
                 what);
        return DRV_E_NODEV;
    }
    if (total > 1) {
        size_t off;
        off = (size_t)snprintf(errbuf, errlen, "%zu USB devices are %s:", total, what);
        for (size_t k = 0; k < nfound && off < errlen; k++)
            off += (size_t)snprintf(errbuf + off, errlen - off, "%s libusb:%u.%u (serial %s)",
                                    k ? "," : "", libusb_get_bus_number(found[k]),
                                    libusb_get_device_address(found[k]),
                                    serials[k][0] ? serials[k] : "none");
        if (off < errlen)
            snprintf(errbuf + off, errlen - off,
                     "; name one with libusb:BUS.DEV or libusb:VID:PID,serial=S");
        libusb_free_device_list(list, 1);
        return DRV_E_URI;
    }
    rc = libusb_open(found[0], &lu->h);
    if (rc < 0) {
        drv_errf(errbuf, errlen, "cannot open USB device %s (bus %u device %u): %s", what,
                 libusb_get_bus_number(found[0]), libusb_get_device_address(found[0]),
                 libusb_strerror(rc));
        libusb_free_device_list(list, 1);
        return rc == LIBUSB_ERROR_ACCESS ? DRV_E_CONNECT : lu_err(rc);
    }
    libusb_get_device_descriptor(found[0], &dd);
    lu->base.info.vid = dd.idVendor;
    lu->base.info.pid = dd.idProduct;
    lu->base.info.bcd_device = dd.bcdDevice;
    lu->base.info.speed = lu_speed(libusb_get_device_speed(found[0]));
    snprintf(lu->base.info.where, sizeof(lu->base.info.where), "libusb bus %u device %u",
             libusb_get_bus_number(found[0]), libusb_get_device_address(found[0]));
    libusb_free_device_list(list, 1);
    return DRV_OK;
}

static int lu_open(const char *rest, const drv_open_options *o, drv_transport **out, char *errbuf,
                   size_t errlen)
{
    uint8_t cfg[DRV_USB_MAX_CONFIG_DESC];
    drv_scanner_iface sif;
    drv_libusb *lu;
    lu_sel sel;
    uint16_t vid, pid;
    int rc, cur = -1;

    rc = lu_parse_sel(rest, o, &sel, errbuf, errlen);
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
    rc = lu_find(lu, &sel, errbuf, errlen);
    if (rc < 0)
        goto out_free;
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
