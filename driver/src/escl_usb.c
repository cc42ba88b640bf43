/* driver: eSCL over IPP-USB through libusb-1.0 (escl-client.h): the device
 * picked by selector as the libusb transport picks it (usb-select.h), its
 * class 7/1/4 interfaces claimed, and each one's bulk OUT/IN pair offered
 * to escl_ippusb.c as a pipe. Bulk IN uses libusb's asynchronous API, one
 * transfer per interface kept pending across waits, so a wait that ends
 * loses no byte and sends the device no unlink. Each device has its own
 * libusb context (no process-global state).
 */
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv-internal.h"
#include "drv-session.h"
#include "escl-client.h"
#include "usb-select.h"

#define EU_IN_SIZE        16384u /* per bulk IN read at most, as ipp-usb reads */
#define EU_CANCEL_WAIT_MS 2000u
#define EU_DRAIN_QUIET_MS 100u  /* a reset interface is clean once quiet this long */
#define EU_DRAIN_MAX_MS   2000u /* and gives up draining after this */

#define USB_CLASS_PRINTER    7u
#define USB_SUBCLASS_PRINTER 1u
#define USB_PROTOCOL_IPP_USB 4u

typedef struct eu_pipe {
    struct drv_escl_usb *u;
    drv_ippusb_iface d;
    int claimed;
    struct libusb_transfer *t;
    int pending;     /* t submitted, its callback not run yet */
    int completed;   /* its callback ran; the result is not taken yet */
    size_t off, len; /* bytes of buf not handed out yet */
    uint8_t buf[EU_IN_SIZE];
} eu_pipe;

struct drv_escl_usb {
    libusb_context *ctx;
    libusb_device_handle *h;
    int gone; /* libusb said the device is gone */
    unsigned n;
    eu_pipe pipe[DRV_IPPUSB_MAX];
    drv_ippusb stream;
};

/* ---- the configuration ---------------------------------------------------------------- */

unsigned drv_ippusb_ifaces(const struct libusb_config_descriptor *cfg, drv_ippusb_iface *out,
                           unsigned max)
{
    unsigned n = 0;

    for (unsigned i = 0; cfg && i < cfg->bNumInterfaces && n < max; i++) {
        const struct libusb_interface *itf = &cfg->interface[i];

        for (int a = 0; a < itf->num_altsetting; a++) {
            const struct libusb_interface_descriptor *id = &itf->altsetting[a];
            drv_ippusb_iface f;
            int have_in = 0, have_out = 0;

            if (id->bInterfaceClass != USB_CLASS_PRINTER ||
                id->bInterfaceSubClass != USB_SUBCLASS_PRINTER ||
                id->bInterfaceProtocol != USB_PROTOCOL_IPP_USB)
                continue;
            memset(&f, 0, sizeof(f));
            f.number = id->bInterfaceNumber;
            f.alt = id->bAlternateSetting;
            for (unsigned e = 0; e < id->bNumEndpoints; e++) {
                const struct libusb_endpoint_descriptor *ep = &id->endpoint[e];

                if ((ep->bmAttributes & 3u) != LIBUSB_TRANSFER_TYPE_BULK)
                    continue;
                if ((ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) && !have_in) {
                    f.ep_in = ep->bEndpointAddress;
                    f.in_mps = ep->wMaxPacketSize & 0x7FFu;
                    have_in = 1;
                } else if (!(ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) && !have_out) {
                    f.ep_out = ep->bEndpointAddress;
                    f.out_mps = ep->wMaxPacketSize & 0x7FFu;
                    have_out = 1;
                }
            }
            if (have_in && have_out) {
                out[n++] = f;
                break; /* the first alt setting that carries it */
            }
        }
    }
    return n;
}

/* The first configuration with IPP-USB interfaces: its value and the
 * interfaces (0 if none). */
static unsigned find_config(libusb_device *dev, uint8_t *value, drv_ippusb_iface *out, unsigned max)
{
    struct libusb_device_descriptor dd;

    if (libusb_get_device_descriptor(dev, &dd) != 0)
        return 0;
    for (uint8_t ci = 0; ci < dd.bNumConfigurations; ci++) {
        struct libusb_config_descriptor *cfg;
        unsigned n;

        if (libusb_get_config_descriptor(dev, ci, &cfg) != 0)
            continue;
        n = drv_ippusb_ifaces(cfg, out, max);
        *value = cfg->bConfigurationValue;
        libusb_free_config_descriptor(cfg);
        if (n > 0)
            return n;
    }
    return 0;
}

static int has_ippusb(void *ctx, libusb_device *dev)
{
    drv_ippusb_iface ifs[DRV_IPPUSB_MAX];
    uint8_t value;

    (void)ctx;
    return find_config(dev, &value, ifs, DRV_IPPUSB_MAX) > 0;
}

/* ---- the pipes ------------------------------------------------------------------------------ */

static void LIBUSB_CALL eu_in_cb(struct libusb_transfer *t)
{
    eu_pipe *p = t->user_data;

    p->pending = 0;
    p->completed = 1;
}

static int eu_status(enum libusb_transfer_status st)
{
    switch (st) {
    case LIBUSB_TRANSFER_COMPLETED:
        return DRV_OK;
    case LIBUSB_TRANSFER_STALL:
        return DRV_E_STALL;
    case LIBUSB_TRANSFER_NO_DEVICE:
        return DRV_E_DISCONNECTED;
    case LIBUSB_TRANSFER_OVERFLOW:
        return DRV_E_OVERFLOW;
    case LIBUSB_TRANSFER_CANCELLED:
        return DRV_E_CANCELLED;
    case LIBUSB_TRANSFER_TIMED_OUT:
        return DRV_E_TIMEOUT;
    default:
        return DRV_E_IO;
    }
}

/* Run libusb's events until *flag is set or ms pass. */
static int eu_events(drv_escl_usb *u, int *flag, unsigned ms)
{
    uint64_t deadline = drv_now_ns() + (uint64_t)ms * 1000000u;

    while (!*flag) {
        uint64_t now = drv_now_ns();
        uint64_t left_us;
        struct timeval tv;
        int rc;

        if (now >= deadline)
            break;
        left_us = (deadline - now + 999u) / 1000u;
        tv.tv_sec = (time_t)(left_us / 1000000u);
        tv.tv_usec = (suseconds_t)(left_us % 1000000u);
        rc = libusb_handle_events_timeout_completed(u->ctx, &tv, flag);
        if (rc < 0 && rc != LIBUSB_ERROR_INTERRUPTED)
            return drv_usb_err(rc);
    }
    return DRV_OK;
}

static int eu_read(void *ctx, unsigned i, uint8_t *out, size_t cap, size_t want, size_t *got,
                   unsigned wait_ms)
{
    drv_escl_usb *u = ctx;
    eu_pipe *p = &u->pipe[i];
    int rc;

    *got = 0;
    if (p->off == p->len && !p->pending && !p->completed) {
        /* Whole packets, no more than the framing says is left: the
         * transfer then ends with the response even without a ZLP. */
        size_t mps = p->d.in_mps ? p->d.in_mps : 512u;
        size_t n = want ? (want + mps - 1) / mps * mps : mps;

        if (n > EU_IN_SIZE)
            n = EU_IN_SIZE / mps * mps; /* whole packets even for an odd wMaxPacketSize */
        libusb_fill_bulk_transfer(p->t, u->h, p->d.ep_in, p->buf, (int)n, eu_in_cb, p, 0);
        rc = libusb_submit_transfer(p->t);
        if (rc < 0)
            return drv_usb_err(rc);
        p->pending = 1;
    }
    if (p->pending) {
        rc = eu_events(u, &p->completed, wait_ms);
        if (rc != DRV_OK && !p->completed)
            return rc;
    }
    if (p->completed) {
        p->completed = 0;
        rc = eu_status(p->t->status);
        u->gone |= rc == DRV_E_DISCONNECTED;
        if (rc != DRV_OK)
            return rc;
        p->off = 0;
        p->len = p->t->actual_length > 0 ? (size_t)p->t->actual_length : 0;
        if (p->len > EU_IN_SIZE)
            p->len = EU_IN_SIZE; /* libusb never does this */
    }
    if (p->off < p->len) {
        size_t n = p->len - p->off < cap ? p->len - p->off : cap;

        memcpy(out, p->buf + p->off, n);
        p->off += n;
        *got = n;
    }
    return DRV_OK; /* *got 0: nothing yet, or a zero-length packet */
}

static int eu_write(void *ctx, unsigned i, const uint8_t *buf, size_t len, unsigned timeout_ms)
{
    drv_escl_usb *u = ctx;
    eu_pipe *p = &u->pipe[i];
    int done = 0, rc;

    if (len > INT32_MAX)
        return DRV_E_INVALID;
    rc = libusb_bulk_transfer(u->h, p->d.ep_out, (unsigned char *)buf, (int)len, &done, timeout_ms);
    u->gone |= rc == LIBUSB_ERROR_NO_DEVICE;
    if (rc < 0)
        return drv_usb_err(rc);
    return (size_t)done == len ? DRV_OK : DRV_E_IO;
}

/* SET_INTERFACE to the pipe's alt setting (a libusb status), unless the
 * device is gone. libusb 1.0.26 (Debian 12) has SET_INTERFACE on a
 * detached device unlock the handle's lock it never took (libusb issue
 * #1199, fixed in 1.0.27), and libusb_close then aborts the process on
 * destroying that lock, losing the TIFF being written. So it is not called
 * once any transfer said the device is gone, nor when claiming the claimed
 * interface again, which checks the same detached flag before it locks
 * anything (a no-op otherwise), says so. */
static int eu_set_interface(drv_escl_usb *u, eu_pipe *p)
{
    int rc = u->gone ? LIBUSB_ERROR_NO_DEVICE : libusb_claim_interface(u->h, p->d.number);

    if (rc == 0)
        rc = libusb_set_interface_alt_setting(u->h, p->d.number, p->d.alt);
    if (rc == LIBUSB_ERROR_NO_DEVICE)
        u->gone = 1;
    return rc;
}

/* Take back a pending read (bounded wait for its callback; a transfer
 * already completing just completes) and drop what it held. */
static void eu_cancel(drv_escl_usb *u, eu_pipe *p)
{
    if (p->pending) {
        libusb_cancel_transfer(p->t);
        eu_events(u, &p->completed, EU_CANCEL_WAIT_MS);
    }
    p->completed = 0;
    p->off = p->len = 0;
}

/* Start an interface afresh: the pending read taken back, SET_INTERFACE,
 * then whatever the device still sends of the broken-off response read and
 * dropped until it is quiet for EU_DRAIN_QUIET_MS (IPP-USB does not promise
 * that SET_INTERFACE discards a response in progress; ipp-usb drains too),
 * EU_DRAIN_MAX_MS at most. */
static int eu_reset(void *ctx, unsigned i)
{
    drv_escl_usb *u = ctx;
    eu_pipe *p = &u->pipe[i];
    uint64_t end;
    int rc, got;

    eu_cancel(u, p);
    if (p->pending)
        return DRV_E_IO; /* the transfer would not come back: the pipe is unusable */
    rc = eu_set_interface(u, p);
    if (rc < 0)
        return drv_usb_err(rc);
    end = drv_now_ns() + (uint64_t)EU_DRAIN_MAX_MS * 1000000u;
    for (;;) {
        got = 0;
        rc = libusb_bulk_transfer(u->h, p->d.ep_in, p->buf, (int)sizeof(p->buf), &got,
                                  EU_DRAIN_QUIET_MS);
        u->gone |= rc == LIBUSB_ERROR_NO_DEVICE;
        if (rc == LIBUSB_ERROR_TIMEOUT && got == 0)
            return DRV_OK; /* quiet */
        if (rc < 0 && rc != LIBUSB_ERROR_TIMEOUT)
            return drv_usb_err(rc);
        if (drv_now_ns() >= end)
            return DRV_E_IO; /* still talking: leave it unclean */
    }
}

static const drv_ippusb_pipe_ops eu_pipe_ops = {
    .write = eu_write,
    .read = eu_read,
    .reset = eu_reset,
};

/* ---- open and close ------------------------------------------------------------------------- */

void drv_escl_usb_close(drv_escl_usb *u)
{
    int held = 0;

    if (u == NULL)
        return;
    for (unsigned i = 0; i < u->n; i++) {
        eu_pipe *p = &u->pipe[i];

        if (p->t != NULL) {
            eu_cancel(u, p);
            if (!p->pending) /* never free a transfer libusb still holds */
                libusb_free_transfer(p->t);
        }
        if (p->claimed)
            libusb_release_interface(u->h, p->d.number);
        held |= p->pending;
    }
    if (u->h)
        libusb_close(u->h);
    if (u->ctx)
        libusb_exit(u->ctx);
    /* A read libusb never gave back may still be written into its buffer
     * on a backend that transfers into the caller's memory: that memory
     * (the pipe's buf) is left allocated rather than freed under it. */
    if (!held)
        free(u);
}

drv_ippusb *drv_escl_usb_stream(drv_escl_usb *u)
{
    return &u->stream;
}

int drv_escl_usb_open(const char *rest, drv_escl_usb **out, drv_device_info *info, char *err,
                      size_t errlen)
{
    drv_ippusb_iface ifs[DRV_IPPUSB_MAX];
    drv_open_options any;
    drv_usb_sel sel;
    drv_usb_found f;
    drv_escl_usb *u;
    char id[48], list[64] = "";
    uint8_t cfgval = 0;
    int rc, cur = -1;
    unsigned n;

    memset(&any, 0, sizeof(any)); /* no default ID: the device with IPP-USB interfaces */
    rc = drv_usb_sel_parse("escl+usb", rest, &any, &sel, err, errlen);
    if (rc < 0)
        return rc;
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        drv_errf(err, errlen, "out of memory");
        return DRV_E_NOMEM;
    }
    rc = libusb_init(&u->ctx);
    if (rc < 0) {
        drv_errf(err, errlen, "libusb_init failed: %s", libusb_strerror(rc));
        u->ctx = NULL;
        rc = DRV_E_CONNECT;
        goto out_close;
    }
    /* With no selector only devices with IPP-USB interfaces are candidates;
     * a device named explicitly is checked below, with its own message. */
    rc = drv_usb_find(u->ctx, &sel, *rest ? NULL : has_ippusb, NULL,
                      *rest ? NULL : "with IPP-USB interfaces (class 7/1/4)", &f, err, errlen);
    if (rc < 0)
        goto out_close;
    u->h = f.h;
    snprintf(id, sizeof(id), "%04x:%04x at bus %u device %u", f.vid, f.pid, f.bus, f.addr);
    n = find_config(libusb_get_device(u->h), &cfgval, ifs, DRV_IPPUSB_MAX);
    if (n == 0) {
        drv_errf(err, errlen,
                 "%s has no IPP-USB interface (class 7, subclass 1, protocol 4 with bulk IN and "
                 "OUT endpoints)",
                 id);
        rc = DRV_E_WRONG_DEVICE;
        goto out_close;
    }
    libusb_set_auto_detach_kernel_driver(u->h, 1); /* NOT_SUPPORTED off Linux: fine */
    if (libusb_get_configuration(u->h, &cur) != 0 || cur != cfgval) {
        rc = libusb_set_configuration(u->h, cfgval);
        if (rc < 0) {
            drv_errf(err, errlen, "%s: SET_CONFIGURATION %u failed: %s", id, cfgval,
                     libusb_strerror(rc));
            rc = drv_usb_err(rc);
            goto out_close;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        eu_pipe *p = &u->pipe[i];
        size_t off = strlen(list);

        p->u = u;
        p->d = ifs[i];
        p->t = libusb_alloc_transfer(0);
        if (p->t == NULL) {
            drv_errf(err, errlen, "out of memory");
            rc = DRV_E_NOMEM;
            goto out_close;
        }
        u->n = i + 1;
        rc = libusb_claim_interface(u->h, p->d.number);
        if (rc < 0) {
            drv_errf(err, errlen, "%s: cannot claim IPP-USB interface %u: %s%s", id, p->d.number,
                     libusb_strerror(rc),
                     rc == LIBUSB_ERROR_BUSY ? " (another program holds it: stop ipp-usb first)"
                                             : "");
            rc = drv_usb_err(rc);
            goto out_close;
        }
        p->claimed = 1;
        /* SET_INTERFACE: the alt setting that carries 7/1/4, and the device
         * starts the interface's connection afresh. */
        rc = eu_set_interface(u, p);
        if (rc < 0) {
            drv_errf(err, errlen, "%s: SET_INTERFACE %u alt %u failed: %s", id, p->d.number,
                     p->d.alt, libusb_strerror(rc));
            rc = drv_usb_err(rc);
            goto out_close;
        }
        snprintf(list + off, sizeof(list) - off, "%s%u", i ? "," : "", p->d.number);
    }
    drv_ippusb_init(&u->stream, &eu_pipe_ops, u, u->n);
    memset(info, 0, sizeof(*info));
    info->vid = f.vid;
    info->pid = f.pid;
    info->bcd_device = f.bcd_device;
    info->speed = f.speed;
    info->configuration = cfgval;
    info->interface_number = ifs[0].number;
    info->bulk_in_max_packet = ifs[0].in_mps;
    snprintf(info->where, sizeof(info->where), "IPP-USB bus %u device %u, interface%s %s", f.bus,
             f.addr, n > 1 ? "s" : "", list);
    *out = u;
    return DRV_OK;

out_close:
    drv_escl_usb_close(u);
    return rc;
}

/* ---- the session's entry -------------------------------------------------------------------- */

int drv_escl_usb_connect(drv_session *s, const char *uri, drv_http_target *tgt,
                         drv_http_client *http, drv_escl_usb **out)
{
    char err[512];
    int rc;

    if (strncmp(uri, "escl+usb", 8) != 0 || (uri[8] != '\0' && uri[8] != ':')) {
        drv_sess_fail(s, DRV_HR_E_INVALIDARG, DRV_E_URI,
                      "unknown eSCL transport '%s' (expected escl+usb[:VID:PID | :BUS.DEV]"
                      "[,serial=S])",
                      uri);
        return 0;
    }
    err[0] = '\0';
    rc = drv_escl_usb_open(uri[8] ? uri + 9 : "", out, &s->res->device, err, sizeof(err));
    if (rc != DRV_OK) {
        drv_sess_open_fail(s, rc, err[0] ? err : drv_strerror(rc));
        return 0;
    }
    /* ipp-usb's clients reach a device as http://localhost/eSCL, and some
     * devices want exactly that Host. */
    snprintf(tgt->host, sizeof(tgt->host), "localhost");
    snprintf(tgt->hostport, sizeof(tgt->hostport), "localhost");
    snprintf(tgt->base, sizeof(tgt->base), "/eSCL");
    http->stream = &drv_http_ippusb_stream;
    http->stream_ctx = drv_escl_usb_stream(*out);
    drv_sess_log(s, "device %04x:%04x at %s", s->res->device.vid, s->res->device.pid,
                 s->res->device.where);
    return 1;
}
