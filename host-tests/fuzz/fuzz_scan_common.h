/* Round-trip checkers for the scanner protocol codecs, shared by the scan
 * fuzz targets. Each takes untrusted bytes, decodes an exact-size copy, and
 * on success checks that the value encodes again to the same size and that
 * decoding the encoding gives the same encoding. Returns the decoder's rc. */
#ifndef SCANEMU_FUZZ_SCAN_COMMON_H
#define SCANEMU_FUZZ_SCAN_COMMON_H

#include <string.h>

#include "fuzz.h"
#include "protocol/scan.h"

static inline int fuzz_scan_known_err(int rc)
{
    return rc == PROTO_E_TRUNCATED || rc == PROTO_E_BAD_VERSION || rc == PROTO_E_BAD_CODE ||
           rc == PROTO_E_BAD_LENGTH || rc == PROTO_E_BAD_FIELD || rc == PROTO_E_BAD_MAGIC;
}

/* FUZZ_SCAN_ROUNDTRIP(name, type, size): defines fuzz_scan_<name>(). */
#define FUZZ_SCAN_ROUNDTRIP(name, type, wire_size)                                                 \
    static inline int fuzz_scan_##name(const uint8_t *data, size_t len, type *out)                 \
    {                                                                                              \
        uint8_t *p = fuzz_dup(data, len);                                                          \
        uint8_t e1[wire_size], e2[wire_size];                                                      \
        type v2;                                                                                   \
        int rc = proto_scan_##name##_decode(p, len, out);                                          \
        if (rc < 0) {                                                                              \
            FUZZ_CHECK(fuzz_scan_known_err(rc));                                                   \
            FUZZ_CHECK(rc != PROTO_E_TRUNCATED || len < (wire_size));                              \
        } else {                                                                                   \
            FUZZ_CHECK((size_t)rc == (wire_size) && (size_t)rc <= len);                            \
            FUZZ_CHECK(proto_scan_##name##_encode(out, e1, sizeof(e1)) == rc);                     \
            FUZZ_CHECK(proto_scan_##name##_decode(e1, sizeof(e1), &v2) == rc);                     \
            FUZZ_CHECK(proto_scan_##name##_encode(&v2, e2, sizeof(e2)) == rc);                     \
            FUZZ_CHECK(memcmp(e1, e2, sizeof(e1)) == 0);                                           \
            FUZZ_CHECK(proto_scan_##name##_encode(out, e2, sizeof(e2) - 1) == PROTO_E_NOSPACE);    \
        }                                                                                          \
        free(p);                                                                                   \
        return rc;                                                                                 \
    }

FUZZ_SCAN_ROUNDTRIP(cmd, proto_scan_cmd, PROTO_SCAN_CMD_HDR_SIZE)
FUZZ_SCAN_ROUNDTRIP(rsp, proto_scan_rsp, PROTO_SCAN_RSP_HDR_SIZE)
FUZZ_SCAN_ROUNDTRIP(band, proto_scan_band, PROTO_SCAN_BAND_HDR_SIZE)
FUZZ_SCAN_ROUNDTRIP(event, proto_scan_event, PROTO_SCAN_EVENT_SIZE)
FUZZ_SCAN_ROUNDTRIP(caps, proto_scan_caps, 64)
FUZZ_SCAN_ROUNDTRIP(params, proto_scan_params, 32)
FUZZ_SCAN_ROUNDTRIP(job, proto_scan_job, 48)
FUZZ_SCAN_ROUNDTRIP(devstatus, proto_scan_devstatus, 20)

#endif
