/* The USB device layer: descriptors built from the profile's identity plus the
 * fixed interface layout (docs/protocol.md section 1), and ep0's standard requests. */
#include <string.h>

#include "emu-internal.h"

static const uint8_t ep_addr[EMU_EP_COUNT] = {0x01, 0x81, 0x82};

int emu_usbdev_slot(uint8_t addr)
{
    for (int i = 0; i < EMU_EP_COUNT; i++)
        if (ep_addr[i] == addr)
            return i;
    return -1;
}

/* Configuration descriptor for `speed` (type 2 or 7); returns its length. */
static size_t build_config(uint8_t *c, uint32_t speed, uint8_t type)
{
    int ss = speed >= PROTO_USBIP_SPEED_SUPER;
    uint16_t bulk_mps = ss ? 1024 : speed == PROTO_USBIP_SPEED_HIGH ? 512 : 64;
    size_t n = 0;

    c[n++] = PROTO_USB_DT_CONFIG_SIZE;
    c[n++] = type;
    n += 2;                /* wTotalLength, below */
    c[n++] = 1;            /* bNumInterfaces */
    c[n++] = 1;            /* bConfigurationValue */
    c[n++] = 0;            /* iConfiguration */
    c[n++] = 0xc0;         /* self-powered, no remote wakeup */
    c[n++] = ss ? 12 : 50; /* 96 mA (8 mA units) / 100 mA (2 mA units) */

    c[n++] = PROTO_USB_DT_INTERFACE_SIZE;
    c[n++] = PROTO_USB_DT_INTERFACE;
    c[n++] = 0; /* bInterfaceNumber */
    c[n++] = 0; /* bAlternateSetting */
    c[n++] = 3; /* bNumEndpoints */
    c[n++] = PROTO_USB_CLASS_VENDOR;
    c[n++] = 0;
    c[n++] = 0;
    c[n++] = 0;

    for (int i = 0; i < EMU_EP_COUNT; i++) {
        int intr = i == EMU_EP_EVENT_IN;
        uint16_t mps = intr ? 16 : bulk_mps;
        c[n++] = PROTO_USB_DT_ENDPOINT_SIZE;
        c[n++] = PROTO_USB_DT_ENDPOINT;
        c[n++] = ep_addr[i];
        c[n++] = intr ? PROTO_USB_ENDPOINT_XFER_INT : PROTO_USB_ENDPOINT_XFER_BULK;
        proto_put_le16(c + n, mps);
        n += 2;
        /* Interrupt: 4 = 2^(4-1) microframes = 1 ms at high/super speed;
         * at full speed bInterval counts frames (4 ms). */
        c[n++] = intr ? 4 : 0;
        if (ss) {
            c[n++] = PROTO_USB_DT_SS_EP_COMP_SIZE;
            c[n++] = PROTO_USB_DT_SS_EP_COMP;
            c[n++] = 0; /* bMaxBurst */
            c[n++] = 0; /* bmAttributes */
            proto_put_le16(c + n, intr ? 16 : 0);
            n += 2;
        }
    }
    proto_put_le16(c + 2, (uint16_t)n);
    return n;
}

/* USB string descriptor from UTF-8 (BMP only; anything invalid becomes '?'). */
static size_t build_string(uint8_t *d, const char *s)
{
    size_t n = 2;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && n + 2 <= 254) {
        uint32_t cp;
        if (p[0] < 0x80) {
            cp = *p++;
        } else if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
            cp = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
            p += 2;
        } else if ((p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
            cp = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
            p += 3;
        } else {
            cp = '?';
            p++;
            while ((*p & 0xc0) == 0x80)
                p++;
        }
        proto_put_le16(d + n, (uint16_t)cp);
        n += 2;
    }
    d[0] = (uint8_t)n;
    d[1] = PROTO_USB_DT_STRING;
    return n;
}

void emu_usbdev_init(emu_usbdev *u, const dm_usb_identity *id)
{
    memset(u, 0, sizeof(*u));
    uint32_t speed = id->speed ? id->speed : PROTO_USBIP_SPEED_HIGH;
    if (speed != PROTO_USBIP_SPEED_FULL && speed != PROTO_USBIP_SPEED_HIGH &&
        speed != PROTO_USBIP_SPEED_SUPER)
        speed = PROTO_USBIP_SPEED_HIGH;
    u->speed = speed;
    int ss = speed == PROTO_USBIP_SPEED_SUPER;

    const char *str[4] = {NULL, id->manufacturer, id->product, id->serial};
    u->strings[0][0] = 4;
    u->strings[0][1] = PROTO_USB_DT_STRING;
    proto_put_le16(&u->strings[0][2], 0x0409); /* English (US) */
    u->string_len[0] = 4;
    for (int i = 1; i < 4; i++)
        if (str[i] && str[i][0])
            u->string_len[i] = build_string(u->strings[i], str[i]);

    uint8_t *d = u->dev_desc;
    d[0] = PROTO_USB_DT_DEVICE_SIZE;
    d[1] = PROTO_USB_DT_DEVICE;
    proto_put_le16(d + 2, ss ? 0x0320 : 0x0200);
    d[4] = 0; /* class per interface */
    d[5] = 0;
    d[6] = 0;
    d[7] = ss ? 9 : 64; /* bMaxPacketSize0 (SuperSpeed: 2^9) */
    proto_put_le16(d + 8, id->vid);
    proto_put_le16(d + 10, id->pid);
    proto_put_le16(d + 12, id->bcd_device);
    d[14] = u->string_len[1] ? 1 : 0;
    d[15] = u->string_len[2] ? 2 : 0;
    d[16] = u->string_len[3] ? 3 : 0;
    d[17] = 1;

    u->conf_len = build_config(u->conf_desc, speed, PROTO_USB_DT_CONFIG);
    if (speed == PROTO_USBIP_SPEED_HIGH) {
        /* A high-speed device describes how it would run at full speed. */
        u->other_len =
            build_config(u->other_conf, PROTO_USBIP_SPEED_FULL, PROTO_USB_DT_OTHER_SPEED_CONFIG);
        uint8_t *q = u->qualifier;
        q[0] = PROTO_USB_DT_DEVICE_QUALIFIER_SIZE;
        q[1] = PROTO_USB_DT_DEVICE_QUALIFIER;
        proto_put_le16(q + 2, 0x0200);
        q[4] = 0;
        q[5] = 0;
        q[6] = 0;
        q[7] = 64;
        q[8] = 1;
        q[9] = 0;
        u->has_qualifier = 1;
    }
    if (ss) {
        uint8_t *b = u->bos;
        size_t n = 5;
        b[0] = 5;
        b[1] = PROTO_USB_DT_BOS;
        b[4] = 2; /* bNumDeviceCaps */
        /* USB 2.0 extension: no LPM. */
        b[n++] = 7;
        b[n++] = PROTO_USB_DT_DEVICE_CAPABILITY;
        b[n++] = 2;
        proto_put_le32(b + n, 0);
        n += 4;
        /* SuperSpeed USB device capability. */
        b[n++] = 10;
        b[n++] = PROTO_USB_DT_DEVICE_CAPABILITY;
        b[n++] = 3;
        b[n++] = 0;                    /* bmAttributes: no LTM */
        proto_put_le16(b + n, 0x000e); /* full, high and super speed */
        n += 2;
        b[n++] = 1;                    /* lowest fully functional speed: full */
        b[n++] = 0x0a;                 /* bU1DevExitLat (us) */
        proto_put_le16(b + n, 0x07ff); /* wU2DevExitLat (us) */
        n += 2;
        proto_put_le16(b + 2, (uint16_t)n);
        u->bos_len = n;
    }
    emu_usbdev_reset(u);
}

void emu_usbdev_reset(emu_usbdev *u)
{
    u->configuration = 0;
    for (int i = 0; i < EMU_EP_COUNT; i++)
        u->halted[i] = 0;
}

static int reply_bytes(const uint8_t *src, size_t n, uint16_t wlength, uint8_t *reply, size_t cap,
                       size_t *reply_len)
{
    if (n > wlength)
        n = wlength;
    if (n > cap)
        n = cap;
    memcpy(reply, src, n);
    *reply_len = n;
    return 0;
}

static int get_descriptor(emu_usbdev *u, const proto_usb_setup *s, uint8_t *reply, size_t cap,
                          size_t *reply_len)
{
    uint8_t type = (uint8_t)(s->wValue >> 8);
    uint8_t index = (uint8_t)s->wValue;
    switch (type) {
    case PROTO_USB_DT_DEVICE:
        return reply_bytes(u->dev_desc, sizeof u->dev_desc, s->wLength, reply, cap, reply_len);
    case PROTO_USB_DT_CONFIG:
        if (index != 0)
            return PROTO_USBIP_EPIPE;
        return reply_bytes(u->conf_desc, u->conf_len, s->wLength, reply, cap, reply_len);
    case PROTO_USB_DT_STRING:
        if (index >= 4 || u->string_len[index] == 0)
            return PROTO_USBIP_EPIPE;
        return reply_bytes(u->strings[index], u->string_len[index], s->wLength, reply, cap,
                           reply_len);
    case PROTO_USB_DT_DEVICE_QUALIFIER:
        if (!u->has_qualifier)
            return PROTO_USBIP_EPIPE;
        return reply_bytes(u->qualifier, sizeof u->qualifier, s->wLength, reply, cap, reply_len);
    case PROTO_USB_DT_OTHER_SPEED_CONFIG:
        if (!u->other_len || index != 0)
            return PROTO_USBIP_EPIPE;
        return reply_bytes(u->other_conf, u->other_len, s->wLength, reply, cap, reply_len);
    case PROTO_USB_DT_BOS:
        if (!u->bos_len)
            return PROTO_USBIP_EPIPE;
        return reply_bytes(u->bos, u->bos_len, s->wLength, reply, cap, reply_len);
    default: /* DEBUG (0x0a), OTG, HID, ...: not this device */
        return PROTO_USBIP_EPIPE;
    }
}

static int endpoint_feature(emu_usbdev *u, const proto_usb_setup *s, int set, emu_ctrl_effect *eff)
{
    if (s->wValue != PROTO_USB_FEAT_ENDPOINT_HALT)
        return PROTO_USBIP_EPIPE;
    uint8_t addr = (uint8_t)s->wIndex;
    if ((addr & 0x7f) == 0)
        return 0; /* ep0 halt is a protocol stall; nothing to clear */
    int slot = emu_usbdev_slot(addr);
    if (slot < 0 || s->wIndex > 0xff)
        return PROTO_USBIP_EPIPE;
    if (set) {
        u->halted[slot] = 1;
        eff->halted[slot] = 1;
    } else {
        u->halted[slot] = 0;
        eff->cleared[slot] = 1;
    }
    return 0;
}

static void clear_all_halts(emu_usbdev *u, emu_ctrl_effect *eff)
{
    for (int i = 0; i < EMU_EP_COUNT; i++) {
        if (u->halted[i]) {
            u->halted[i] = 0;
            eff->cleared[i] = 1;
        }
    }
}

int emu_usbdev_control(emu_usbdev *u, const proto_usb_setup *s, const uint8_t *out_data,
                       size_t out_len, uint8_t *reply, size_t cap, size_t *reply_len,
                       emu_ctrl_effect *eff)
{
    (void)out_data;
    memset(eff, 0, sizeof(*eff));
    *reply_len = 0;
    if ((s->bmRequestType & PROTO_USB_TYPE_MASK) != PROTO_USB_TYPE_STANDARD)
        return PROTO_USBIP_EPIPE; /* no class or vendor requests on ep0 */
    unsigned recip = s->bmRequestType & PROTO_USB_RECIP_MASK;
    int in = (s->bmRequestType & PROTO_USB_DIR_IN) != 0;
    int ss = u->speed >= PROTO_USBIP_SPEED_SUPER;

    switch (s->bRequest) {
    case PROTO_USB_REQ_GET_STATUS: {
        if (!in)
            return PROTO_USBIP_EPIPE;
        uint8_t st[2] = {0, 0};
        if (recip == PROTO_USB_RECIP_DEVICE) {
            st[0] = 0x01; /* self-powered, remote wakeup off */
        } else if (recip == PROTO_USB_RECIP_INTERFACE) {
            if (s->wIndex != 0)
                return PROTO_USBIP_EPIPE;
        } else if (recip == PROTO_USB_RECIP_ENDPOINT) {
            uint8_t addr = (uint8_t)s->wIndex;
            if ((addr & 0x7f) != 0) {
                int slot = emu_usbdev_slot(addr);
                if (slot < 0 || s->wIndex > 0xff)
                    return PROTO_USBIP_EPIPE;
                st[0] = u->halted[slot] ? 1 : 0;
            }
        } else {
            return PROTO_USBIP_EPIPE;
        }
        return reply_bytes(st, 2, s->wLength, reply, cap, reply_len);
    }
    case PROTO_USB_REQ_CLEAR_FEATURE:
    case PROTO_USB_REQ_SET_FEATURE: {
        int set = s->bRequest == PROTO_USB_REQ_SET_FEATURE;
        if (in)
            return PROTO_USBIP_EPIPE;
        if (recip == PROTO_USB_RECIP_ENDPOINT)
            return endpoint_feature(u, s, set, eff);
        if (recip == PROTO_USB_RECIP_DEVICE && ss &&
            (s->wValue == PROTO_USB_FEAT_U1_ENABLE || s->wValue == PROTO_USB_FEAT_U2_ENABLE ||
             s->wValue == PROTO_USB_FEAT_LTM_ENABLE))
            return 0;             /* link power management: accepted, no effect on the wire */
        return PROTO_USBIP_EPIPE; /* remote wakeup, test mode, function suspend */
    }
    case PROTO_USB_REQ_SET_ADDRESS:
        /* Never reaches a USB/IP server in practice; harmless to accept. */
        return in ? PROTO_USBIP_EPIPE : 0;
    case PROTO_USB_REQ_GET_DESCRIPTOR:
        if (!in || recip != PROTO_USB_RECIP_DEVICE)
            return PROTO_USBIP_EPIPE;
        return get_descriptor(u, s, reply, cap, reply_len);
    case PROTO_USB_REQ_GET_CONFIGURATION:
        if (!in || recip != PROTO_USB_RECIP_DEVICE)
            return PROTO_USBIP_EPIPE;
        return reply_bytes(&u->configuration, 1, s->wLength, reply, cap, reply_len);
    case PROTO_USB_REQ_SET_CONFIGURATION:
        if (in || recip != PROTO_USB_RECIP_DEVICE || s->wValue > 1)
            return PROTO_USBIP_EPIPE;
        u->configuration = (uint8_t)s->wValue;
        clear_all_halts(u, eff);
        return 0;
    case PROTO_USB_REQ_GET_INTERFACE: {
        if (!in || recip != PROTO_USB_RECIP_INTERFACE || s->wIndex != 0 || u->configuration == 0)
            return PROTO_USBIP_EPIPE;
        uint8_t alt = 0;
        return reply_bytes(&alt, 1, s->wLength, reply, cap, reply_len);
    }
    case PROTO_USB_REQ_SET_INTERFACE:
        if (in || recip != PROTO_USB_RECIP_INTERFACE || s->wIndex != 0 || s->wValue != 0)
            return PROTO_USBIP_EPIPE;
        clear_all_halts(u, eff);
        return 0;
    case PROTO_USB_REQ_SET_SEL:
        /* Exit latencies for U1/U2 (6 bytes OUT); SuperSpeed only. */
        if (!ss || in || recip != PROTO_USB_RECIP_DEVICE || out_len != 6)
            return PROTO_USBIP_EPIPE;
        return 0;
    case PROTO_USB_REQ_SET_ISOCH_DELAY:
        if (!ss || in || recip != PROTO_USB_RECIP_DEVICE)
            return PROTO_USBIP_EPIPE;
        return 0;
    default: /* SET_DESCRIPTOR, SYNCH_FRAME, ... */
        return PROTO_USBIP_EPIPE;
    }
}
