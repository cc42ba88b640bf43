/* USB vocabulary shared by the emulator's device side and the driver: the
 * standard requests, descriptor types, features and bmRequestType fields of
 * USB 2.0 chapter 9 and USB 3.2 chapter 9, and the SETUP packet. Values are
 * those of the specifications (and of Linux's include/uapi/linux/usb/ch9.h,
 * whose names these follow with a PROTO_ prefix). Pure definitions: no I/O,
 * no state. */
#ifndef SCANEMU_PROTOCOL_USB_H
#define SCANEMU_PROTOCOL_USB_H

#include <stdint.h>

/* bmRequestType, and the direction bit of an endpoint address. */
#define PROTO_USB_DIR_IN          0x80u
#define PROTO_USB_DIR_OUT         0x00u
#define PROTO_USB_TYPE_MASK       0x60u
#define PROTO_USB_TYPE_STANDARD   0x00u
#define PROTO_USB_TYPE_CLASS      0x20u
#define PROTO_USB_TYPE_VENDOR     0x40u
#define PROTO_USB_RECIP_MASK      0x1fu
#define PROTO_USB_RECIP_DEVICE    0x00u
#define PROTO_USB_RECIP_INTERFACE 0x01u
#define PROTO_USB_RECIP_ENDPOINT  0x02u

/* Standard requests (bRequest). */
enum proto_usb_request {
    PROTO_USB_REQ_GET_STATUS = 0,
    PROTO_USB_REQ_CLEAR_FEATURE = 1,
    PROTO_USB_REQ_SET_FEATURE = 3,
    PROTO_USB_REQ_SET_ADDRESS = 5,
    PROTO_USB_REQ_GET_DESCRIPTOR = 6,
    PROTO_USB_REQ_SET_DESCRIPTOR = 7,
    PROTO_USB_REQ_GET_CONFIGURATION = 8,
    PROTO_USB_REQ_SET_CONFIGURATION = 9,
    PROTO_USB_REQ_GET_INTERFACE = 10,
    PROTO_USB_REQ_SET_INTERFACE = 11,
    PROTO_USB_REQ_SYNCH_FRAME = 12,
    PROTO_USB_REQ_SET_SEL = 48,
    PROTO_USB_REQ_SET_ISOCH_DELAY = 49,
};

/* Descriptor types (bDescriptorType; GET_DESCRIPTOR's wValue high byte). */
enum proto_usb_descriptor_type {
    PROTO_USB_DT_DEVICE = 1,
    PROTO_USB_DT_CONFIG = 2,
    PROTO_USB_DT_STRING = 3,
    PROTO_USB_DT_INTERFACE = 4,
    PROTO_USB_DT_ENDPOINT = 5,
    PROTO_USB_DT_DEVICE_QUALIFIER = 6,
    PROTO_USB_DT_OTHER_SPEED_CONFIG = 7,
    PROTO_USB_DT_DEBUG = 10,
    PROTO_USB_DT_BOS = 15,
    PROTO_USB_DT_DEVICE_CAPABILITY = 16,
    PROTO_USB_DT_SS_EP_COMP = 48,
};

/* Feature selectors (SET_FEATURE / CLEAR_FEATURE wValue). */
enum proto_usb_feature {
    PROTO_USB_FEAT_ENDPOINT_HALT = 0,
    PROTO_USB_FEAT_U1_ENABLE = 48,
    PROTO_USB_FEAT_U2_ENABLE = 49,
    PROTO_USB_FEAT_LTM_ENABLE = 50,
};

/* Descriptor lengths (bLength). */
#define PROTO_USB_DT_DEVICE_SIZE           18u
#define PROTO_USB_DT_CONFIG_SIZE           9u
#define PROTO_USB_DT_INTERFACE_SIZE        9u
#define PROTO_USB_DT_ENDPOINT_SIZE         7u
#define PROTO_USB_DT_SS_EP_COMP_SIZE       6u
#define PROTO_USB_DT_DEVICE_QUALIFIER_SIZE 10u

/* bInterfaceClass / bDeviceClass, and endpoint transfer types
 * (bmAttributes & 3). */
#define PROTO_USB_CLASS_VENDOR       0xffu
#define PROTO_USB_ENDPOINT_XFER_BULK 2u
#define PROTO_USB_ENDPOINT_XFER_INT  3u

/* A USB SETUP packet, decoded from / encoded to the 8 raw bytes
 * (little-endian wValue, wIndex, wLength). */
typedef struct proto_usb_setup {
    uint8_t bmRequestType;
    uint8_t bRequest;
    uint16_t wValue;
    uint16_t wIndex;
    uint16_t wLength;
} proto_usb_setup;

void proto_usb_setup_decode(const uint8_t raw[8], proto_usb_setup *out);
void proto_usb_setup_encode(const proto_usb_setup *s, uint8_t raw[8]);

#endif
