/* A scripted backend for the URB-layer tests: bulk OUT transfers carry 12-byte
 * script records that queue messages on the IN endpoints, so the test drives
 * the device through the wire only (no cross-thread access). */
#ifndef SCANEMU_TEST_FAKE_BACKEND_H
#define SCANEMU_TEST_FAKE_BACKEND_H

#include <stdint.h>

#include "emu-internal.h"

/* FAKE_LIMIT (len = n, 0 = no limit): while n messages wait on bulk IN the
 * device NAKs bulk OUT (bulk_out returns DM_E_AGAIN, takes nothing), like a
 * device model whose response queue is full. */
enum fake_op { FAKE_DATA = 1, FAKE_STALL = 2, FAKE_NEVER = 3, FAKE_DISCONNECT = 4, FAKE_LIMIT = 5 };

typedef struct fake_msg {
    int kind;
    uint64_t at;
    uint32_t len;
    uint8_t fill;
} fake_msg;

#define FAKE_QLEN 2048
typedef struct fake_dev {
    fake_msg q[2][FAKE_QLEN];
    unsigned head[2], tail[2];
    uint8_t buf[1u << 20];
    uint32_t out_limit; /* FAKE_LIMIT */
    /* Counters the device worker bumps and the test thread reads: atomic,
     * since the only order between them is through the socket, which
     * ThreadSanitizer cannot see. */
    _Atomic int naks; /* bulk_out calls refused */
    _Atomic int resets;
    _Atomic int clears;
    _Atomic int unplugs; /* DISCONNECT messages consumed (traced by a real device) */
} fake_dev;

extern const emu_backend_ops fake_ops;

/* Encodes one script record (12 bytes) into rec. */
void fake_record(uint8_t rec[12], enum fake_op op, int ep, uint8_t fill, uint32_t len,
                 uint32_t delay_us);
/* Byte i of a FAKE_DATA message with fill f. */
static inline uint8_t fake_byte(uint8_t fill, uint32_t i)
{
    return (uint8_t)(fill + i * 7u);
}

#endif
