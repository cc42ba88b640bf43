/* driver: picking one USB device by selector (usb-select.h), for the libusb
 * transport and eSCL over IPP-USB. */
#include <stdio.h>
#include <string.h>

#include "usb-select.h"

#define MAX_CANDIDATES 16

int drv_usb_err(int rc)
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

int drv_usb_sel_parse(const char *scheme, const char *rest, const drv_open_options *id,
                      drv_usb_sel *sel, char *errbuf, size_t errlen)
{
    unsigned v, p, bus, addr;
    int n = 0;

    memset(sel, 0, sizeof(*sel));
    sel->scheme = scheme;
    sel->id = *id;
    if (*rest == '\0')
        return DRV_OK;
    if (strncmp(rest, "serial=", 7) == 0) {
        sel->serial = rest + 7;
    } else if (strspn(rest, "0123456789.") == strlen(rest) && strchr(rest, '.') != NULL) {
        /* only digits and dots: BUS.DEV (a serial= after a VID:PID may hold dots) */
        if (sscanf(rest, "%3u.%3u%n", &bus, &addr, &n) != 2 || rest[n] != '\0' || bus < 1 ||
            bus > 255 || addr < 1 || addr > 127)
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
    drv_errf(errbuf, errlen,
             "bad %s device '%s:%s' (expected %s, %s:VID:PID (hex), %s:VID:PID,serial=S, "
             "%s:serial=S or %s:BUS.DEV (decimal, as lsusb prints them))",
             scheme, scheme, rest, scheme, scheme, scheme, scheme, scheme);
    return DRV_E_URI;
}

static uint32_t usb_speed(int s)
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
static void usb_serial(libusb_device *dev, const struct libusb_device_descriptor *dd, char *out,
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

int drv_usb_find(libusb_context *ctx, const drv_usb_sel *sel, drv_usb_accept_fn accept, void *actx,
                 const char *what_filter, drv_usb_found *out, char *errbuf, size_t errlen)
{
    libusb_device **list = NULL, *found[MAX_CANDIDATES];
    char serials[MAX_CANDIDATES][128], what[256];
    struct libusb_device_descriptor dd;
    size_t nfound = 0, total = 0;
    ssize_t n, i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (sel->by_addr) {
        snprintf(what, sizeof what, "bus %u device %u", sel->bus, sel->addr);
    } else {
        char id[32] = "of any ID";
        if (sel->id.match_id)
            drv_id_str(&sel->id, id, sizeof id);
        snprintf(what, sizeof what, "%s%s%.128s%s%.60s", id, sel->serial ? " with serial " : "",
                 sel->serial ? sel->serial : "", what_filter ? " " : "",
                 what_filter ? what_filter : "");
    }
    n = libusb_get_device_list(ctx, &list);
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
        if (accept && !accept(actx, list[i]))
            continue;
        usb_serial(list[i], &dd, serial, sizeof serial);
        if (sel->serial && strcmp(serial, sel->serial) != 0)
            continue;
        if (nfound < MAX_CANDIDATES) {
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
            off += (size_t)snprintf(errbuf + off, errlen - off, "%s %s:%u.%u (serial %s)",
                                    k ? "," : "", sel->scheme, libusb_get_bus_number(found[k]),
                                    libusb_get_device_address(found[k]),
                                    serials[k][0] ? serials[k] : "none");
        if (off < errlen)
            snprintf(errbuf + off, errlen - off,
                     "; name one with %s:BUS.DEV or %s:VID:PID,serial=S", sel->scheme, sel->scheme);
        libusb_free_device_list(list, 1);
        return DRV_E_URI;
    }
    out->bus = libusb_get_bus_number(found[0]);
    out->addr = libusb_get_device_address(found[0]);
    rc = libusb_open(found[0], &out->h);
    if (rc < 0) {
        drv_errf(errbuf, errlen, "cannot open USB device %s (bus %u device %u): %s", what, out->bus,
                 out->addr, libusb_strerror(rc));
        libusb_free_device_list(list, 1);
        out->h = NULL;
        return rc == LIBUSB_ERROR_ACCESS ? DRV_E_CONNECT : drv_usb_err(rc);
    }
    libusb_get_device_descriptor(found[0], &dd);
    out->vid = dd.idVendor;
    out->pid = dd.idProduct;
    out->bcd_device = dd.bcdDevice;
    out->speed = usb_speed(libusb_get_device_speed(found[0]));
    libusb_free_device_list(list, 1);
    return DRV_OK;
}
