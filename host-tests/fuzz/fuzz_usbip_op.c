/* Fuzz target: USB/IP operation messages (protocol/include/protocol/usbip.h):
 * op header, busid, device count, device record, interface record.
 *
 * Two passes over the input. First every decoder gets the whole input as an
 * exact-size copy. Then the input is walked as the stream a client or server
 * reads (op header, then by op code: OP_REQ_IMPORT busid; OP_REP_IMPORT
 * device; OP_REP_DEVLIST count, then per device the record and
 * bNumInterfaces interface records), each piece again as an exact-size copy.
 * Oracles: a decoder's return is a known proto_err or exactly the fixed size
 * of its record and never more than it was given; what decoded encodes again
 * to the same size, and decoding that gives the same encoding (round trip).
 */
#include <string.h>

#include "fuzz.h"
#include "protocol/usbip.h"

static int known_err(int rc)
{
    return rc == PROTO_E_TRUNCATED || rc == PROTO_E_BAD_VERSION || rc == PROTO_E_BAD_CODE ||
           rc == PROTO_E_BAD_LENGTH || rc == PROTO_E_BAD_FIELD;
}

static void check_rc(int rc, size_t want, size_t len)
{
    FUZZ_CHECK(rc < 0 ? known_err(rc) : (size_t)rc == want && (size_t)rc <= len);
}

static int op_hdr(const uint8_t *data, size_t len, proto_usbip_op_hdr *h)
{
    uint8_t *p = fuzz_dup(data, len);
    uint8_t e1[PROTO_USBIP_OP_HDR_SIZE], e2[PROTO_USBIP_OP_HDR_SIZE];
    proto_usbip_op_hdr h2;
    int rc = proto_usbip_op_hdr_decode(p, len, h);

    check_rc(rc, PROTO_USBIP_OP_HDR_SIZE, len);
    if (rc > 0) {
        FUZZ_CHECK(proto_usbip_op_hdr_encode(h, e1, sizeof(e1)) == rc);
        FUZZ_CHECK(memcmp(e1, p, sizeof(e1)) == 0); /* no hidden bits */
        FUZZ_CHECK(proto_usbip_op_hdr_decode(e1, sizeof(e1), &h2) == rc);
        FUZZ_CHECK(proto_usbip_op_hdr_encode(&h2, e2, sizeof(e2)) == rc);
        FUZZ_CHECK(memcmp(e1, e2, sizeof(e1)) == 0);
    }
    free(p);
    return rc;
}

static int busid(const uint8_t *data, size_t len)
{
    uint8_t *p = fuzz_dup(data, len);
    char id[PROTO_USBIP_BUSID_SIZE], id2[PROTO_USBIP_BUSID_SIZE];
    uint8_t e[PROTO_USBIP_BUSID_SIZE];
    int rc = proto_usbip_busid_decode(p, len, id);

    check_rc(rc, PROTO_USBIP_BUSID_SIZE, len);
    if (rc > 0) {
        size_t n = strnlen(id, sizeof(id));
        FUZZ_CHECK(n > 0 && n < sizeof(id));
        FUZZ_CHECK(proto_usbip_busid_encode(id, e, sizeof(e)) == rc);
        FUZZ_CHECK(proto_usbip_busid_decode(e, sizeof(e), id2) == rc);
        FUZZ_CHECK(strcmp(id, id2) == 0);
    }
    free(p);
    return rc;
}

static int devcount(const uint8_t *data, size_t len, uint32_t *n)
{
    uint8_t *p = fuzz_dup(data, len);
    uint8_t e[PROTO_USBIP_DEVLIST_COUNT_SIZE];
    int rc = proto_usbip_devcount_decode(p, len, n);

    check_rc(rc, PROTO_USBIP_DEVLIST_COUNT_SIZE, len);
    if (rc > 0) {
        FUZZ_CHECK(*n <= PROTO_USBIP_MAX_DEVICES);
        FUZZ_CHECK(proto_usbip_devcount_encode(*n, e, sizeof(e)) == rc);
        FUZZ_CHECK(memcmp(e, p, sizeof(e)) == 0);
    }
    free(p);
    return rc;
}

static int device(const uint8_t *data, size_t len, proto_usbip_device *d)
{
    uint8_t *p = fuzz_dup(data, len);
    static uint8_t e1[PROTO_USBIP_DEVICE_SIZE], e2[PROTO_USBIP_DEVICE_SIZE];
    proto_usbip_device d2;
    int rc = proto_usbip_device_decode(p, len, d);

    check_rc(rc, PROTO_USBIP_DEVICE_SIZE, len);
    if (rc > 0) {
        FUZZ_CHECK(memchr(d->path, 0, sizeof(d->path)) != NULL);
        FUZZ_CHECK(memchr(d->busid, 0, sizeof(d->busid)) != NULL);
        FUZZ_CHECK(proto_usbip_device_encode(d, e1, sizeof(e1)) == rc);
        FUZZ_CHECK(proto_usbip_device_decode(e1, sizeof(e1), &d2) == rc);
        FUZZ_CHECK(proto_usbip_device_encode(&d2, e2, sizeof(e2)) == rc);
        FUZZ_CHECK(memcmp(e1, e2, sizeof(e1)) == 0);
    }
    free(p);
    return rc;
}

static int interface(const uint8_t *data, size_t len)
{
    uint8_t *p = fuzz_dup(data, len);
    uint8_t e1[PROTO_USBIP_INTERFACE_SIZE], e2[PROTO_USBIP_INTERFACE_SIZE];
    proto_usbip_interface i1, i2;
    int rc = proto_usbip_interface_decode(p, len, &i1);

    check_rc(rc, PROTO_USBIP_INTERFACE_SIZE, len);
    if (rc > 0) {
        FUZZ_CHECK(proto_usbip_interface_encode(&i1, e1, sizeof(e1)) == rc);
        FUZZ_CHECK(proto_usbip_interface_decode(e1, sizeof(e1), &i2) == rc);
        FUZZ_CHECK(proto_usbip_interface_encode(&i2, e2, sizeof(e2)) == rc);
        FUZZ_CHECK(memcmp(e1, e2, sizeof(e1)) == 0);
    }
    free(p);
    return rc;
}

/* The input as a stream of operation messages. */
static void walk(const uint8_t *data, size_t size)
{
    size_t off = 0;
    proto_usbip_op_hdr h;
    proto_usbip_device d;
    uint32_t n;
    int rc;

    while (off < size) {
        rc = op_hdr(data + off, size - off, &h);
        if (rc < 0)
            return;
        off += (size_t)rc;
        switch (h.code) {
        case PROTO_USBIP_OP_REQ_IMPORT:
            rc = busid(data + off, size - off);
            break;
        case PROTO_USBIP_OP_REP_IMPORT:
            rc = h.status == PROTO_USBIP_ST_OK ? device(data + off, size - off, &d) : 0;
            break;
        case PROTO_USBIP_OP_REP_DEVLIST:
            rc = devcount(data + off, size - off, &n);
            if (rc < 0)
                return;
            off += (size_t)rc;
            for (uint32_t i = 0; i < n; i++) {
                rc = device(data + off, size - off, &d);
                if (rc < 0)
                    return;
                off += (size_t)rc;
                if (d.bNumInterfaces > PROTO_USBIP_MAX_INTERFACES)
                    return;
                for (unsigned k = 0; k < d.bNumInterfaces; k++) {
                    rc = interface(data + off, size - off);
                    if (rc < 0)
                        return;
                    off += (size_t)rc;
                }
            }
            rc = 0;
            break;
        default: /* OP_REQ_DEVLIST: header only */
            rc = 0;
            break;
        }
        if (rc < 0)
            return;
        off += (size_t)rc;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_usbip_op_hdr h;
    proto_usbip_device d;
    uint32_t n;

    (void)op_hdr(data, size, &h);
    (void)busid(data, size);
    (void)devcount(data, size, &n);
    (void)device(data, size, &d);
    (void)interface(data, size);
    walk(data, size);
    return 0;
}
