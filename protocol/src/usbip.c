/* USB/IP wire format codec (protocol/usbip.h). Pure: no I/O, no allocation. */
#include "protocol/usbip.h"

#include <string.h>

int proto_usbip_op_hdr_encode(const proto_usbip_op_hdr *h, uint8_t *buf, size_t len)
{
    if (len < PROTO_USBIP_OP_HDR_SIZE)
        return PROTO_E_NOSPACE;
    proto_put_be16(buf, h->version);
    proto_put_be16(buf + 2, h->code);
    proto_put_be32(buf + 4, (uint32_t)h->status);
    return (int)PROTO_USBIP_OP_HDR_SIZE;
}

static int op_code_known(uint16_t code)
{
    switch (code) {
    case PROTO_USBIP_OP_REQ_DEVLIST:
    case PROTO_USBIP_OP_REP_DEVLIST:
    case PROTO_USBIP_OP_REQ_IMPORT:
    case PROTO_USBIP_OP_REP_IMPORT:
        return 1;
    default:
        return 0;
    }
}

int proto_usbip_op_hdr_decode(const uint8_t *buf, size_t len, proto_usbip_op_hdr *out)
{
    if (len < PROTO_USBIP_OP_HDR_SIZE)
        return PROTO_E_TRUNCATED;
    out->version = proto_get_be16(buf);
    out->code = proto_get_be16(buf + 2);
    out->status = (int32_t)proto_get_be32(buf + 4);
    if (out->version != PROTO_USBIP_VERSION)
        return PROTO_E_BAD_VERSION;
    if (!op_code_known(out->code))
        return PROTO_E_BAD_CODE;
    return (int)PROTO_USBIP_OP_HDR_SIZE;
}

/* Copies a NUL-terminated string into a fixed, NUL-padded field. */
static int put_fixed_str(const char *s, uint8_t *dst, size_t field)
{
    size_t n = strnlen(s, field);
    if (n >= field)
        return PROTO_E_BAD_FIELD;
    memcpy(dst, s, n);
    memset(dst + n, 0, field - n);
    return 0;
}

/* Reads a fixed field that must contain a NUL terminator. */
static int get_fixed_str(const uint8_t *src, size_t field, char *dst)
{
    const uint8_t *nul = memchr(src, 0, field);
    if (!nul)
        return PROTO_E_BAD_FIELD;
    size_t n = (size_t)(nul - src);
    memcpy(dst, src, n);
    memset(dst + n, 0, field - n);
    return 0;
}

int proto_usbip_busid_encode(const char *busid, uint8_t *buf, size_t len)
{
    if (len < PROTO_USBIP_BUSID_SIZE)
        return PROTO_E_NOSPACE;
    if (busid[0] == '\0')
        return PROTO_E_BAD_FIELD;
    int rc = put_fixed_str(busid, buf, PROTO_USBIP_BUSID_SIZE);
    if (rc < 0)
        return rc;
    return (int)PROTO_USBIP_BUSID_SIZE;
}

int proto_usbip_busid_decode(const uint8_t *buf, size_t len, char busid[PROTO_USBIP_BUSID_SIZE])
{
    if (len < PROTO_USBIP_BUSID_SIZE)
        return PROTO_E_TRUNCATED;
    int rc = get_fixed_str(buf, PROTO_USBIP_BUSID_SIZE, busid);
    if (rc < 0)
        return rc;
    if (busid[0] == '\0')
        return PROTO_E_BAD_FIELD;
    return (int)PROTO_USBIP_BUSID_SIZE;
}

int proto_usbip_devcount_encode(uint32_t n, uint8_t *buf, size_t len)
{
    if (len < PROTO_USBIP_DEVLIST_COUNT_SIZE)
        return PROTO_E_NOSPACE;
    if (n > PROTO_USBIP_MAX_DEVICES)
        return PROTO_E_BAD_LENGTH;
    proto_put_be32(buf, n);
    return (int)PROTO_USBIP_DEVLIST_COUNT_SIZE;
}

int proto_usbip_devcount_decode(const uint8_t *buf, size_t len, uint32_t *n)
{
    if (len < PROTO_USBIP_DEVLIST_COUNT_SIZE)
        return PROTO_E_TRUNCATED;
    uint32_t v = proto_get_be32(buf);
    if (v > PROTO_USBIP_MAX_DEVICES)
        return PROTO_E_BAD_LENGTH;
    *n = v;
    return (int)PROTO_USBIP_DEVLIST_COUNT_SIZE;
}

/* Offsets inside the 312-byte device record. */
enum {
    DEV_OFF_PATH = 0,
    DEV_OFF_BUSID = 256,
    DEV_OFF_BUSNUM = 288,
    DEV_OFF_DEVNUM = 292,
    DEV_OFF_SPEED = 296,
    DEV_OFF_VID = 300,
    DEV_OFF_PID = 302,
    DEV_OFF_BCD = 304,
    DEV_OFF_CLASS = 306,
    DEV_OFF_SUBCLASS = 307,
    DEV_OFF_PROTOCOL = 308,
    DEV_OFF_CONFVAL = 309,
    DEV_OFF_NUMCONF = 310,
    DEV_OFF_NUMIF = 311,
};

int proto_usbip_device_encode(const proto_usbip_device *d, uint8_t *buf, size_t len)
{
    if (len < PROTO_USBIP_DEVICE_SIZE)
        return PROTO_E_NOSPACE;
    int rc = put_fixed_str(d->path, buf + DEV_OFF_PATH, PROTO_USBIP_PATH_SIZE);
    if (rc < 0)
        return rc;
    rc = put_fixed_str(d->busid, buf + DEV_OFF_BUSID, PROTO_USBIP_BUSID_SIZE);
    if (rc < 0)
        return rc;
    proto_put_be32(buf + DEV_OFF_BUSNUM, d->busnum);
    proto_put_be32(buf + DEV_OFF_DEVNUM, d->devnum);
    proto_put_be32(buf + DEV_OFF_SPEED, d->speed);
    proto_put_be16(buf + DEV_OFF_VID, d->idVendor);
    proto_put_be16(buf + DEV_OFF_PID, d->idProduct);
    proto_put_be16(buf + DEV_OFF_BCD, d->bcdDevice);
    buf[DEV_OFF_CLASS] = d->bDeviceClass;
    buf[DEV_OFF_SUBCLASS] = d->bDeviceSubClass;
    buf[DEV_OFF_PROTOCOL] = d->bDeviceProtocol;
    buf[DEV_OFF_CONFVAL] = d->bConfigurationValue;
    buf[DEV_OFF_NUMCONF] = d->bNumConfigurations;
    buf[DEV_OFF_NUMIF] = d->bNumInterfaces;
    return (int)PROTO_USBIP_DEVICE_SIZE;
}

int proto_usbip_device_decode(const uint8_t *buf, size_t len, proto_usbip_device *out)
{
    if (len < PROTO_USBIP_DEVICE_SIZE)
        return PROTO_E_TRUNCATED;
    int rc = get_fixed_str(buf + DEV_OFF_PATH, PROTO_USBIP_PATH_SIZE, out->path);
    if (rc < 0)
        return rc;
    rc = get_fixed_str(buf + DEV_OFF_BUSID, PROTO_USBIP_BUSID_SIZE, out->busid);
    if (rc < 0)
        return rc;
    out->busnum = proto_get_be32(buf + DEV_OFF_BUSNUM);
    out->devnum = proto_get_be32(buf + DEV_OFF_DEVNUM);
    out->speed = proto_get_be32(buf + DEV_OFF_SPEED);
    out->idVendor = proto_get_be16(buf + DEV_OFF_VID);
    out->idProduct = proto_get_be16(buf + DEV_OFF_PID);
    out->bcdDevice = proto_get_be16(buf + DEV_OFF_BCD);
    out->bDeviceClass = buf[DEV_OFF_CLASS];
    out->bDeviceSubClass = buf[DEV_OFF_SUBCLASS];
    out->bDeviceProtocol = buf[DEV_OFF_PROTOCOL];
    out->bConfigurationValue = buf[DEV_OFF_CONFVAL];
    out->bNumConfigurations = buf[DEV_OFF_NUMCONF];
    out->bNumInterfaces = buf[DEV_OFF_NUMIF];
    if (out->bNumInterfaces > PROTO_USBIP_MAX_INTERFACES)
        return PROTO_E_BAD_LENGTH;
    return (int)PROTO_USBIP_DEVICE_SIZE;
}

int proto_usbip_interface_encode(const proto_usbip_interface *i, uint8_t *buf, size_t len)
{
    if (len < PROTO_USBIP_INTERFACE_SIZE)
        return PROTO_E_NOSPACE;
    buf[0] = i->bInterfaceClass;
    buf[1] = i->bInterfaceSubClass;
    buf[2] = i->bInterfaceProtocol;
    buf[3] = 0; /* padding */
    return (int)PROTO_USBIP_INTERFACE_SIZE;
}

int proto_usbip_interface_decode(const uint8_t *buf, size_t len, proto_usbip_interface *out)
{
    if (len < PROTO_USBIP_INTERFACE_SIZE)
        return PROTO_E_TRUNCATED;
    out->bInterfaceClass = buf[0];
    out->bInterfaceSubClass = buf[1];
    out->bInterfaceProtocol = buf[2];
    return (int)PROTO_USBIP_INTERFACE_SIZE;
}

/* Offsets inside the 48-byte URB header. */
enum {
    URB_OFF_COMMAND = 0,
    URB_OFF_SEQNUM = 4,
    URB_OFF_DEVID = 8,
    URB_OFF_DIRECTION = 12,
    URB_OFF_EP = 16,
    URB_OFF_U = 20, /* 28 command-specific bytes */
};

static int iso_count_ok(int32_t n)
{
    return n >= -1 && n <= PROTO_USBIP_MAX_ISO_PACKETS;
}

int proto_usbip_urb_hdr_encode(const proto_usbip_urb_hdr *h, uint8_t *buf, size_t len)
{
    if (len < PROTO_USBIP_URB_HDR_SIZE)
        return PROTO_E_NOSPACE;
    uint8_t *u = buf + URB_OFF_U;
    memset(buf, 0, PROTO_USBIP_URB_HDR_SIZE);
    proto_put_be32(buf + URB_OFF_COMMAND, h->command);
    proto_put_be32(buf + URB_OFF_SEQNUM, h->seqnum);
    proto_put_be32(buf + URB_OFF_DEVID, h->devid);
    proto_put_be32(buf + URB_OFF_DIRECTION, h->direction);
    proto_put_be32(buf + URB_OFF_EP, h->ep);
    switch (h->command) {
    case PROTO_USBIP_CMD_SUBMIT:
        proto_put_be32(u + 0, h->u.submit.transfer_flags);
        proto_put_be32(u + 4, (uint32_t)h->u.submit.transfer_buffer_length);
        proto_put_be32(u + 8, (uint32_t)h->u.submit.start_frame);
        proto_put_be32(u + 12, (uint32_t)h->u.submit.number_of_packets);
        proto_put_be32(u + 16, (uint32_t)h->u.submit.interval);
        memcpy(u + 20, h->u.submit.setup, 8);
        break;
    case PROTO_USBIP_RET_SUBMIT:
        proto_put_be32(u + 0, (uint32_t)h->u.ret_submit.status);
        proto_put_be32(u + 4, (uint32_t)h->u.ret_submit.actual_length);
        proto_put_be32(u + 8, (uint32_t)h->u.ret_submit.start_frame);
        proto_put_be32(u + 12, (uint32_t)h->u.ret_submit.number_of_packets);
        proto_put_be32(u + 16, (uint32_t)h->u.ret_submit.error_count);
        break;
    case PROTO_USBIP_CMD_UNLINK:
        proto_put_be32(u + 0, h->u.unlink.seqnum);
        break;
    case PROTO_USBIP_RET_UNLINK:
        proto_put_be32(u + 0, (uint32_t)h->u.ret_unlink.status);
        break;
    default:
        return PROTO_E_BAD_CODE;
    }
    return (int)PROTO_USBIP_URB_HDR_SIZE;
}

int proto_usbip_urb_hdr_decode(const uint8_t *buf, size_t len, proto_usbip_urb_hdr *out)
{
    if (len < PROTO_USBIP_URB_HDR_SIZE)
        return PROTO_E_TRUNCATED;
    const uint8_t *u = buf + URB_OFF_U;
    memset(out, 0, sizeof(*out));
    out->command = proto_get_be32(buf + URB_OFF_COMMAND);
    out->seqnum = proto_get_be32(buf + URB_OFF_SEQNUM);
    out->devid = proto_get_be32(buf + URB_OFF_DEVID);
    out->direction = proto_get_be32(buf + URB_OFF_DIRECTION);
    out->ep = proto_get_be32(buf + URB_OFF_EP);
    switch (out->command) {
    case PROTO_USBIP_CMD_SUBMIT:
        out->u.submit.transfer_flags = proto_get_be32(u + 0);
        out->u.submit.transfer_buffer_length = (int32_t)proto_get_be32(u + 4);
        out->u.submit.start_frame = (int32_t)proto_get_be32(u + 8);
        out->u.submit.number_of_packets = (int32_t)proto_get_be32(u + 12);
        out->u.submit.interval = (int32_t)proto_get_be32(u + 16);
        memcpy(out->u.submit.setup, u + 20, 8);
        break;
    case PROTO_USBIP_RET_SUBMIT:
        out->u.ret_submit.status = (int32_t)proto_get_be32(u + 0);
        out->u.ret_submit.actual_length = (int32_t)proto_get_be32(u + 4);
        out->u.ret_submit.start_frame = (int32_t)proto_get_be32(u + 8);
        out->u.ret_submit.number_of_packets = (int32_t)proto_get_be32(u + 12);
        out->u.ret_submit.error_count = (int32_t)proto_get_be32(u + 16);
        break;
    case PROTO_USBIP_CMD_UNLINK:
        out->u.unlink.seqnum = proto_get_be32(u + 0);
        break;
    case PROTO_USBIP_RET_UNLINK:
        out->u.ret_unlink.status = (int32_t)proto_get_be32(u + 0);
        break;
    default:
        return PROTO_E_BAD_CODE;
    }
    if (out->direction > PROTO_USBIP_DIR_IN || out->ep > 15)
        return PROTO_E_BAD_FIELD;
    if (out->command == PROTO_USBIP_CMD_SUBMIT) {
        int32_t tbl = out->u.submit.transfer_buffer_length;
        if (tbl < 0 || (uint32_t)tbl > PROTO_USBIP_MAX_TRANSFER)
            return PROTO_E_BAD_LENGTH;
        if (!iso_count_ok(out->u.submit.number_of_packets))
            return PROTO_E_BAD_LENGTH;
    } else if (out->command == PROTO_USBIP_RET_SUBMIT) {
        /* Same bounds on the way back, so a client can trust actual_length. */
        int32_t al = out->u.ret_submit.actual_length;
        if (al < 0 || (uint32_t)al > PROTO_USBIP_MAX_TRANSFER)
            return PROTO_E_BAD_LENGTH;
        if (!iso_count_ok(out->u.ret_submit.number_of_packets))
            return PROTO_E_BAD_LENGTH;
    }
    return (int)PROTO_USBIP_URB_HDR_SIZE;
}

void proto_usb_setup_decode(const uint8_t raw[8], proto_usb_setup *out)
{
    out->bmRequestType = raw[0];
    out->bRequest = raw[1];
    out->wValue = proto_get_le16(raw + 2);
    out->wIndex = proto_get_le16(raw + 4);
    out->wLength = proto_get_le16(raw + 6);
}

void proto_usb_setup_encode(const proto_usb_setup *s, uint8_t raw[8])
{
    raw[0] = s->bmRequestType;
    raw[1] = s->bRequest;
    proto_put_le16(raw + 2, s->wValue);
    proto_put_le16(raw + 4, s->wIndex);
    proto_put_le16(raw + 6, s->wLength);
}
