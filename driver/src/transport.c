/* driver: transport selection by URI and helpers every backend shares. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "drv-internal.h"

void drv_errf(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!errbuf || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

uint64_t drv_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void drv_open_options_init(drv_open_options *o)
{
    memset(o, 0, sizeof(*o));
    o->match_id = 1;
    o->vid = DRV_DEFAULT_VID;
    o->pid = DRV_DEFAULT_PID;
    o->pid_last = DRV_DEFAULT_PID_LAST;
    o->timeout_ms = 5000;
}

static const struct drv_transport_ops *const drv_backends[] = {
    &drv_usbip_transport,
    &drv_libusb_transport,
};

int drv_transport_open(const char *uri, const drv_open_options *o, drv_transport **out,
                       char *errbuf, size_t errlen)
{
    drv_open_options defaults;
    size_t i;

    if (!uri || !out) {
        drv_errf(errbuf, errlen, "no transport given");
        return DRV_E_INVALID;
    }
    if (!o) {
        drv_open_options_init(&defaults);
        o = &defaults;
    }
    for (i = 0; i < sizeof(drv_backends) / sizeof(drv_backends[0]); i++) {
        const struct drv_transport_ops *ops = drv_backends[i];
        size_t n = strlen(ops->scheme);

        if (strncmp(uri, ops->scheme, n) != 0)
            continue;
        if (uri[n] == '\0')
            return ops->open("", o, out, errbuf, errlen);
        if (uri[n] == ':')
            return ops->open(uri + n + 1, o, out, errbuf, errlen);
    }
    drv_errf(errbuf, errlen,
             "unknown transport '%s' (expected usbip://HOST:PORT/BUSID, "
             "libusb[:VID:PID[,serial=S]], libusb:BUS.DEV, escl+http://HOST:PORT/PATH or "
             "escl+usb[:VID:PID | :BUS.DEV][,serial=S])",
             uri);
    return DRV_E_URI;
}

void drv_transport_close(drv_transport *t)
{
    if (t)
        t->ops->close(t);
}

int drv_transport_control(drv_transport *t, const proto_usb_setup *setup, uint8_t *data,
                          size_t *actual, unsigned timeout_ms)
{
    return t->ops->control(t, setup, data, actual, timeout_ms);
}

int drv_transport_bulk_out(drv_transport *t, uint8_t ep, const uint8_t *data, size_t len,
                           unsigned timeout_ms)
{
    return t->ops->bulk_out(t, ep, data, len, timeout_ms);
}

int drv_transport_submit(drv_transport *t, drv_xfer *x)
{
    return t->ops->submit(t, x);
}

int drv_transport_cancel(drv_transport *t, drv_xfer *x)
{
    return t->ops->cancel(t, x);
}

int drv_transport_clear_halt(drv_transport *t, uint8_t ep)
{
    return t->ops->clear_halt(t, ep);
}

int drv_transport_handle_events(drv_transport *t, unsigned timeout_ms)
{
    return t->ops->handle_events(t, timeout_ms);
}

int drv_transport_flush(drv_transport *t)
{
    return t->ops->flush ? t->ops->flush(t) : DRV_OK;
}

const drv_device_info *drv_transport_info(const drv_transport *t)
{
    return &t->info;
}

int drv_wait_xfer(drv_transport *t, drv_xfer *x, unsigned timeout_ms)
{
    uint64_t deadline = drv_now_ns() + (uint64_t)timeout_ms * 1000000u;

    while (x->state == DRV_XFER_PENDING) {
        uint64_t now = drv_now_ns();
        unsigned left;
        int rc;

        if (now >= deadline)
            return DRV_E_TIMEOUT;
        left = (unsigned)((deadline - now + 999999u) / 1000000u);
        rc = drv_transport_handle_events(t, left);
        if (rc < 0 && x->state == DRV_XFER_PENDING)
            return rc;
    }
    return DRV_OK;
}

int drv_parse_config(const uint8_t *desc, size_t len, drv_scanner_iface *out)
{
    size_t off;
    int in_vendor_iface = 0;
    unsigned have = 0; /* bit 0: bulk OUT 0x01, 1: bulk IN 0x81, 2: intr IN 0x82 */

    memset(out, 0, sizeof(*out));
    if (len < PROTO_USB_DT_CONFIG_SIZE || desc[0] < PROTO_USB_DT_CONFIG_SIZE ||
        desc[1] != PROTO_USB_DT_CONFIG)
        return DRV_E_PROTO;
    if (proto_get_le16(desc + 2) > len)
        return DRV_E_PROTO;
    len = proto_get_le16(desc + 2);
    out->configuration = desc[5];
    for (off = desc[0]; off + 2 <= len;) {
        uint8_t bl = desc[off], type = desc[off + 1];

        if (bl < 2 || off + bl > len)
            return DRV_E_PROTO;
        if (type == PROTO_USB_DT_INTERFACE) {
            if (bl < PROTO_USB_DT_INTERFACE_SIZE)
                return DRV_E_PROTO;
            if (have == 7)
                break; /* found it in the previous interface */
            have = 0;
            in_vendor_iface = desc[off + 5] == PROTO_USB_CLASS_VENDOR;
            if (in_vendor_iface) {
                out->interface_number = desc[off + 2];
                out->alt_setting = desc[off + 3];
            }
        } else if (type == PROTO_USB_DT_ENDPOINT && in_vendor_iface) {
            uint8_t addr, attr;
            uint16_t mps;

            if (bl < PROTO_USB_DT_ENDPOINT_SIZE)
                return DRV_E_PROTO;
            addr = desc[off + 2];
            attr = desc[off + 3] & 3u;
            mps = proto_get_le16(desc + off + 4) & 0x7FFu;
            if (addr == PROTO_SCAN_EP_CMD_OUT && attr == DRV_XFER_BULK) {
                have |= 1;
                out->bulk_out_mps = mps;
            } else if (addr == PROTO_SCAN_EP_DATA_IN && attr == DRV_XFER_BULK) {
                have |= 2;
                out->bulk_in_mps = mps;
            } else if (addr == PROTO_SCAN_EP_EVENT_IN && attr == DRV_XFER_INTERRUPT) {
                have |= 4;
                out->intr_in_mps = mps;
                out->intr_interval = desc[off + 6];
            }
        }
        off += bl;
    }
    return have == 7 ? DRV_OK : DRV_E_WRONG_DEVICE;
}
