/* Fuzz target: USB/IP URB traffic (protocol/include/protocol/usbip.h): the
 * 48-byte URB header (CMD_SUBMIT, RET_SUBMIT, CMD_UNLINK, RET_UNLINK) and the
 * 8-byte USB SETUP packet inside CMD_SUBMIT.
 *
 * The whole input goes to the URB header decoder and (its first 8 bytes) to
 * the SETUP decoder, each as an exact-size copy; then the input is walked as
 * the stream on a USB/IP connection: a header, then the transfer data it
 * announces (CMD_SUBMIT OUT: transfer_buffer_length; RET_SUBMIT IN:
 * actual_length; plus 16 bytes per iso packet), bounded by what is left.
 * Oracles: known error or exactly 48 bytes consumed; the decoded lengths are
 * within the documented caps; encode(decode(x)) decodes to the same encoding;
 * SETUP round-trips byte for byte.
 */
#include <string.h>

#include "fuzz.h"
#include "protocol/usbip.h"

static void setup_roundtrip(const uint8_t raw_in[8])
{
    uint8_t *raw = fuzz_dup(raw_in, 8);
    uint8_t back[8];
    proto_usb_setup s;

    proto_usb_setup_decode(raw, &s);
    FUZZ_CHECK(s.wLength == (uint16_t)(raw[6] | raw[7] << 8));
    proto_usb_setup_encode(&s, back);
    FUZZ_CHECK(memcmp(raw, back, 8) == 0);
    free(raw);
}

static int urb(const uint8_t *data, size_t len, proto_usbip_urb_hdr *h)
{
    uint8_t *p = fuzz_dup(data, len);
    uint8_t e1[PROTO_USBIP_URB_HDR_SIZE], e2[PROTO_USBIP_URB_HDR_SIZE];
    proto_usbip_urb_hdr h2;
    int rc = proto_usbip_urb_hdr_decode(p, len, h);

    if (rc < 0) {
        FUZZ_CHECK(rc == PROTO_E_TRUNCATED || rc == PROTO_E_BAD_CODE || rc == PROTO_E_BAD_FIELD ||
                   rc == PROTO_E_BAD_LENGTH);
        FUZZ_CHECK(rc != PROTO_E_TRUNCATED || len < PROTO_USBIP_URB_HDR_SIZE);
        free(p);
        return rc;
    }
    FUZZ_CHECK((size_t)rc == PROTO_USBIP_URB_HDR_SIZE && (size_t)rc <= len);
    FUZZ_CHECK(h->direction <= PROTO_USBIP_DIR_IN && h->ep <= 15);
    FUZZ_CHECK(h->command >= PROTO_USBIP_CMD_SUBMIT && h->command <= PROTO_USBIP_RET_UNLINK);
    if (h->command == PROTO_USBIP_CMD_SUBMIT) {
        FUZZ_CHECK(h->u.submit.transfer_buffer_length >= 0 &&
                   (uint32_t)h->u.submit.transfer_buffer_length <= PROTO_USBIP_MAX_TRANSFER);
        FUZZ_CHECK(h->u.submit.number_of_packets >= -1 &&
                   h->u.submit.number_of_packets <= PROTO_USBIP_MAX_ISO_PACKETS);
        setup_roundtrip(h->u.submit.setup);
    } else if (h->command == PROTO_USBIP_RET_SUBMIT) {
        FUZZ_CHECK(h->u.ret_submit.actual_length >= 0 &&
                   (uint32_t)h->u.ret_submit.actual_length <= PROTO_USBIP_MAX_TRANSFER);
    }
    FUZZ_CHECK(proto_usbip_urb_hdr_encode(h, e1, sizeof(e1)) == rc);
    /* Header words the decoder reads must come back unchanged. */
    FUZZ_CHECK(memcmp(e1, p, 20) == 0);
    FUZZ_CHECK(proto_usbip_urb_hdr_decode(e1, sizeof(e1), &h2) == rc);
    FUZZ_CHECK(proto_usbip_urb_hdr_encode(&h2, e2, sizeof(e2)) == rc);
    FUZZ_CHECK(memcmp(e1, e2, sizeof(e1)) == 0);
    free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_usbip_urb_hdr h;
    size_t off = 0;
    unsigned msgs = 0;

    if (size >= 8)
        setup_roundtrip(data);
    (void)urb(data, size, &h);

    while (off < size && msgs++ < 256) {
        uint64_t skip = 0;
        int32_t iso = 0;
        int rc = urb(data + off, size - off, &h);

        if (rc < 0)
            break;
        off += (size_t)rc;
        if (h.command == PROTO_USBIP_CMD_SUBMIT) {
            if (h.direction == PROTO_USBIP_DIR_OUT)
                skip = (uint32_t)h.u.submit.transfer_buffer_length;
            iso = h.u.submit.number_of_packets;
        } else if (h.command == PROTO_USBIP_RET_SUBMIT) {
            if (h.direction == PROTO_USBIP_DIR_IN)
                skip = (uint32_t)h.u.ret_submit.actual_length;
            iso = h.u.ret_submit.number_of_packets;
        }
        if (iso > 0)
            skip += 16u * (uint64_t)iso;
        if (skip > size - off)
            break; /* a server would wait for more bytes */
        off += (size_t)skip;
    }
    return 0;
}
