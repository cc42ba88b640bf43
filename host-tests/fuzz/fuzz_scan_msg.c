/* Fuzz target: one transfer of the scanner protocol (protocol/include/
 * protocol/scan.h) as a device (bulk OUT command) or a host (bulk IN
 * response or band, interrupt IN event) receives it.
 *
 * Every header decoder (cmd, rsp, band, event) and proto_scan_peek_magic get
 * the whole input as an exact-size copy. Then the transfer is dispatched by
 * its magic the way a receiver must: the header, then the payload the header
 * announces only if that many bytes are really there, decoded by opcode and
 * status (caps / job / devstatus / params) from an exact-size copy of just
 * the payload; for a band, the CRC-32 over exactly byte_count data bytes.
 * Oracles: known errors; sizes; round trips; headers the decoders accept
 * respect the documented bounds (payload <= PROTO_SCAN_MAX_PAYLOAD, band data
 * <= PROTO_SCAN_MAX_BAND_DATA, a non-OK band carries END_OF_JOB and no data).
 */
#include "fuzz_scan_common.h"

static void payload(uint16_t opcode, uint32_t status, const uint8_t *p, size_t len, int is_rsp)
{
    proto_scan_caps c;
    proto_scan_params pa;
    proto_scan_job j;
    proto_scan_devstatus s;

    if (!is_rsp) {
        if (opcode == PROTO_SCAN_OP_SET_PARAMS)
            (void)fuzz_scan_params(p, len, &pa);
        return;
    }
    if (status == PROTO_SCAN_ST_WARMING_UP) {
        (void)fuzz_scan_devstatus(p, len, &s);
        return;
    }
    if (status != PROTO_SCAN_ST_OK)
        return;
    switch (opcode) {
    case PROTO_SCAN_OP_GET_CAPS:
        (void)fuzz_scan_caps(p, len, &c);
        break;
    case PROTO_SCAN_OP_SET_PARAMS:
    case PROTO_SCAN_OP_START_JOB:
        (void)fuzz_scan_job(p, len, &j);
        break;
    case PROTO_SCAN_OP_GET_STATUS:
        (void)fuzz_scan_devstatus(p, len, &s);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = fuzz_dup(data, size);
    proto_scan_cmd c;
    proto_scan_rsp r;
    proto_scan_band b;
    proto_scan_event e;
    uint32_t magic = 0;
    int rc_cmd = fuzz_scan_cmd(data, size, &c);
    int rc_rsp = fuzz_scan_rsp(data, size, &r);
    int rc_band = fuzz_scan_band(data, size, &b);
    int rc_evt = fuzz_scan_event(data, size, &e);
    int rc = proto_scan_peek_magic(p, size, &magic);

    /* At most one header kind can accept the same bytes (distinct magics). */
    FUZZ_CHECK((rc_cmd > 0) + (rc_rsp > 0) + (rc_band > 0) + (rc_evt > 0) <= 1);
    if (rc < 0) {
        FUZZ_CHECK(rc == PROTO_E_TRUNCATED || rc == PROTO_E_BAD_MAGIC);
        FUZZ_CHECK(rc_cmd < 0 && rc_rsp < 0 && rc_band < 0 && rc_evt < 0);
        goto out_free;
    }
    FUZZ_CHECK(rc == PROTO_OK);
    switch (magic) {
    case PROTO_SCAN_MAGIC_CMD:
        if (rc_cmd > 0) {
            FUZZ_CHECK(c.length <= PROTO_SCAN_MAX_PAYLOAD);
            if (c.length <= size - (size_t)rc_cmd)
                payload(c.opcode, 0, data + rc_cmd, c.length, 0);
        }
        break;
    case PROTO_SCAN_MAGIC_RSP:
        if (rc_rsp > 0) {
            FUZZ_CHECK(r.length <= PROTO_SCAN_MAX_PAYLOAD);
            FUZZ_CHECK(proto_scan_status_name(r.status)[0] != '?');
            if (r.length <= size - (size_t)rc_rsp)
                payload(r.opcode, r.status, data + rc_rsp, r.length, 1);
        }
        break;
    case PROTO_SCAN_MAGIC_BND:
        if (rc_band > 0) {
            FUZZ_CHECK(b.byte_count <= PROTO_SCAN_MAX_BAND_DATA && b.side <= 1);
            FUZZ_CHECK(b.status == PROTO_SCAN_ST_OK || (b.flags & PROTO_SCAN_BAND_END_OF_JOB));
            FUZZ_CHECK(b.status == PROTO_SCAN_ST_OK || b.byte_count == 0);
            if (b.byte_count <= size - (size_t)rc_band) {
                uint8_t *d = fuzz_dup(data + rc_band, b.byte_count);
                uint32_t crc = proto_crc32(0, d, b.byte_count);
                /* CRC in one go equals CRC in two pieces (zlib convention). */
                size_t half = b.byte_count / 2;
                FUZZ_CHECK(proto_crc32(proto_crc32(0, d, half), d + half, b.byte_count - half) ==
                           crc);
                free(d);
            }
        }
        break;
    case PROTO_SCAN_MAGIC_EVT:
        if (rc_evt > 0)
            FUZZ_CHECK(e.code >= PROTO_SCAN_EVT_PAPER_JAM && e.code <= PROTO_SCAN_EVT_MULTI_FEED);
        break;
    default:
        FUZZ_CHECK(!"peek_magic returned an unknown magic");
    }
out_free:
    free(p);
    return 0;
}
