/* A small blocking USB/IP client on the codec, for the emulator's tests.
 * Every receive has a timeout, so a broken server fails a test instead of
 * hanging it. */
#ifndef SCANEMU_TEST_EMU_CLIENT_H
#define SCANEMU_TEST_EMU_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/usbip.h"

#define TC_TIMEOUT_MS 5000

typedef struct tc {
    int fd;
    uint32_t devid;
    uint32_t next_seq;
    uint8_t dir_of[65536];  /* direction by seqnum & 0xffff, to frame RET_SUBMIT */
    proto_usbip_device rec; /* the OP_REP_IMPORT device record */
} tc;

int tc_connect(uint16_t port); /* fd or -1 */
/* OP_REQ_DEVLIST; returns the device count or -1. */
int tc_devlist(uint16_t port, proto_usbip_device *devs, proto_usbip_interface *ifs, int max);
/* OP_REQ_DEVLIST; the interface records of device index dev (at most max
 * into ifs). Returns that device's interface count, or -1. */
int tc_devlist_ifs(uint16_t port, int dev, proto_usbip_interface *ifs, int max);
/* OP_REQ_IMPORT; returns the reply status (0 = imported, c set up) or -1. */
int tc_import(tc *c, uint16_t port, const char *busid);
void tc_close(tc *c);

/* Sends raw bytes (for malformed input). */
int tc_send_raw(int fd, const void *buf, size_t len);

/* CMD_SUBMIT; returns its seqnum. setup may be NULL. out data for OUT. */
uint32_t tc_submit(tc *c, uint32_t ep, uint32_t dir, uint32_t flags, int32_t len,
                   const uint8_t setup[8], const void *out);
uint32_t tc_unlink(tc *c, uint32_t target);
/* Receives one RET_*; data (IN RET_SUBMIT payload) into buf. Returns 0, or -1
 * on timeout / close / garbage. */
int tc_recv(tc *c, proto_usbip_urb_hdr *h, uint8_t *buf, size_t cap, size_t *len);
/* 1 if nothing arrives within ms, 0 if something did, -1 if the peer closed. */
int tc_quiet(int fd, int ms);
/* 1 when the server closed the connection within TC_TIMEOUT_MS. */
int tc_wait_closed(int fd);

/* Control transfer on ep0; returns RET_SUBMIT status, *len the data length. */
int tc_control(tc *c, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue, uint16_t wIndex,
               uint16_t wLength, int32_t tbl, uint8_t *buf, size_t *len);

#endif
