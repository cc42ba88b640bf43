/* USB/IP wire format (the protocol of Linux usbipd and vhci-hcd), both
 * directions, as the Linux kernel's drivers/usb/usbip and tools/usb/usbip
 * speak it (its Documentation/usb/usbip_protocol.rst has known errors).
 *
 * All USB/IP header integers are big-endian; the 8-byte setup field is the raw
 * USB SETUP packet (little-endian inside). Encoders return the number of bytes
 * written or a negative proto_err; decoders return the number of bytes consumed
 * or a negative proto_err and leave *out unspecified on error.
 */
#ifndef SCANEMU_PROTOCOL_USBIP_H
#define SCANEMU_PROTOCOL_USBIP_H

#include "protocol/proto.h"
#include "protocol/usb.h" /* proto_usb_setup: the setup field of CMD_SUBMIT */

#define PROTO_USBIP_VERSION            0x0111u
#define PROTO_USBIP_OP_HDR_SIZE        8u
#define PROTO_USBIP_PATH_SIZE          256u
#define PROTO_USBIP_BUSID_SIZE         32u
#define PROTO_USBIP_DEVICE_SIZE        312u
#define PROTO_USBIP_INTERFACE_SIZE     4u
#define PROTO_USBIP_IMPORT_REQ_SIZE    (PROTO_USBIP_OP_HDR_SIZE + PROTO_USBIP_BUSID_SIZE)
#define PROTO_USBIP_DEVLIST_COUNT_SIZE 4u
#define PROTO_USBIP_URB_HDR_SIZE       48u

/* Upper bounds enforced by the decoders (untrusted input). */
#define PROTO_USBIP_MAX_TRANSFER    (16u * 1024u * 1024u) /* transfer_buffer_length */
#define PROTO_USBIP_MAX_ISO_PACKETS 1024
#define PROTO_USBIP_MAX_DEVICES     256u /* devices in one OP_REP_DEVLIST */
#define PROTO_USBIP_MAX_INTERFACES  32u

enum proto_usbip_op_code {
    PROTO_USBIP_OP_REQ_DEVLIST = 0x8005,
    PROTO_USBIP_OP_REP_DEVLIST = 0x0005,
    PROTO_USBIP_OP_REQ_IMPORT = 0x8003,
    PROTO_USBIP_OP_REP_IMPORT = 0x0003,
};

enum proto_usbip_op_status {
    PROTO_USBIP_ST_OK = 0,
    PROTO_USBIP_ST_NA = 1,
    PROTO_USBIP_ST_DEV_BUSY = 2,
    PROTO_USBIP_ST_DEV_ERR = 3,
    PROTO_USBIP_ST_NODEV = 4,
    PROTO_USBIP_ST_ERROR = 5,
};

enum proto_usbip_command {
    PROTO_USBIP_CMD_SUBMIT = 1,
    PROTO_USBIP_CMD_UNLINK = 2,
    PROTO_USBIP_RET_SUBMIT = 3,
    PROTO_USBIP_RET_UNLINK = 4,
};

enum proto_usbip_direction {
    PROTO_USBIP_DIR_OUT = 0,
    PROTO_USBIP_DIR_IN = 1,
};

/* Linux enum usb_device_speed values as carried in the device record. */
enum proto_usbip_speed {
    PROTO_USBIP_SPEED_LOW = 1,
    PROTO_USBIP_SPEED_FULL = 2,
    PROTO_USBIP_SPEED_HIGH = 3,
    PROTO_USBIP_SPEED_SUPER = 5,
    PROTO_USBIP_SPEED_SUPER_PLUS = 6,
};

/* transfer_flags bits (Linux URB flags as vhci-hcd sends them). */
#define PROTO_URB_SHORT_NOT_OK 0x0001u
#define PROTO_URB_ISO_ASAP     0x0002u
#define PROTO_URB_ZERO_PACKET  0x0040u
#define PROTO_URB_DIR_IN       0x0200u

/* Status values (negative Linux errno) used in RET_SUBMIT / RET_UNLINK. */
#define PROTO_USBIP_EPIPE      (-32)  /* endpoint stalled */
#define PROTO_USBIP_EOVERFLOW  (-75)  /* device sent more than the buffer */
#define PROTO_USBIP_ECONNRESET (-104) /* URB unlinked */
#define PROTO_USBIP_ESHUTDOWN  (-108) /* device gone */
#define PROTO_USBIP_EREMOTEIO  (-121) /* short packet with SHORT_NOT_OK */
#define PROTO_USBIP_ETIMEDOUT  (-110)
#define PROTO_USBIP_ENOENT     (-2) /* endpoint not in the active configuration */

typedef struct proto_usbip_op_hdr {
    uint16_t version;
    uint16_t code;
    int32_t status;
} proto_usbip_op_hdr;

/* The 312-byte exported-device record (OP_REP_DEVLIST, OP_REP_IMPORT). path and
 * busid are NUL-terminated; decode rejects an unterminated field. */
typedef struct proto_usbip_device {
    char path[PROTO_USBIP_PATH_SIZE];
    char busid[PROTO_USBIP_BUSID_SIZE];
    uint32_t busnum;
    uint32_t devnum;
    uint32_t speed;
    uint16_t idVendor;
    uint16_t idProduct;
    uint16_t bcdDevice;
    uint8_t bDeviceClass;
    uint8_t bDeviceSubClass;
    uint8_t bDeviceProtocol;
    uint8_t bConfigurationValue;
    uint8_t bNumConfigurations;
    uint8_t bNumInterfaces;
} proto_usbip_device;

/* The 4-byte per-interface record that follows each device in DEVLIST. */
typedef struct proto_usbip_interface {
    uint8_t bInterfaceClass;
    uint8_t bInterfaceSubClass;
    uint8_t bInterfaceProtocol;
} proto_usbip_interface;

/* 48-byte URB header. Which union member is valid follows from command. */
typedef struct proto_usbip_urb_hdr {
    uint32_t command;
    uint32_t seqnum;
    uint32_t devid;     /* busnum << 16 | devnum */
    uint32_t direction; /* PROTO_USBIP_DIR_* */
    uint32_t ep;        /* endpoint number 0..15, no direction bit */
    union {
        struct {
            uint32_t transfer_flags;
            int32_t transfer_buffer_length;
            int32_t start_frame;
            int32_t number_of_packets;
            int32_t interval;
            uint8_t setup[8];
        } submit;
        struct {
            int32_t status;
            int32_t actual_length;
            int32_t start_frame;
            int32_t number_of_packets;
            int32_t error_count;
        } ret_submit;
        struct {
            uint32_t seqnum; /* the URB to unlink */
        } unlink;
        struct {
            int32_t status;
        } ret_unlink;
    } u;
} proto_usbip_urb_hdr;

/* Operation header. decode checks the version (PROTO_E_BAD_VERSION) and that
 * code is one of the four op codes (PROTO_E_BAD_CODE). */
int proto_usbip_op_hdr_encode(const proto_usbip_op_hdr *h, uint8_t *buf, size_t len);
int proto_usbip_op_hdr_decode(const uint8_t *buf, size_t len, proto_usbip_op_hdr *out);

/* OP_REQ_IMPORT body: the busid (32 bytes, NUL-padded). decode requires a NUL
 * within the 32 bytes and a non-empty busid. */
int proto_usbip_busid_encode(const char *busid, uint8_t *buf, size_t len);
int proto_usbip_busid_decode(const uint8_t *buf, size_t len, char busid[PROTO_USBIP_BUSID_SIZE]);

/* OP_REP_DEVLIST's device count (4 bytes, big-endian). decode rejects counts
 * above PROTO_USBIP_MAX_DEVICES. */
int proto_usbip_devcount_encode(uint32_t n, uint8_t *buf, size_t len);
int proto_usbip_devcount_decode(const uint8_t *buf, size_t len, uint32_t *n);

int proto_usbip_device_encode(const proto_usbip_device *d, uint8_t *buf, size_t len);
int proto_usbip_device_decode(const uint8_t *buf, size_t len, proto_usbip_device *out);

int proto_usbip_interface_encode(const proto_usbip_interface *i, uint8_t *buf, size_t len);
int proto_usbip_interface_decode(const uint8_t *buf, size_t len, proto_usbip_interface *out);

/* URB header. decode rejects unknown commands (PROTO_E_BAD_CODE), direction
 * other than 0/1 or ep > 15 (PROTO_E_BAD_FIELD), and for CMD_SUBMIT a negative
 * or > PROTO_USBIP_MAX_TRANSFER transfer_buffer_length, or number_of_packets
 * outside [-1, PROTO_USBIP_MAX_ISO_PACKETS] (PROTO_E_BAD_LENGTH). */
int proto_usbip_urb_hdr_encode(const proto_usbip_urb_hdr *h, uint8_t *buf, size_t len);
int proto_usbip_urb_hdr_decode(const uint8_t *buf, size_t len, proto_usbip_urb_hdr *out);

static inline uint32_t proto_usbip_devid(uint32_t busnum, uint32_t devnum)
{
    return (busnum << 16) | devnum;
}

#endif
