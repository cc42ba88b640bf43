/* Fuzz target: scanner protocol payload decoders (protocol/include/protocol/
 * scan.h): caps (GET_CAPS), params (SET_PARAMS), job (SET_PARAMS/START_JOB
 * response) and devstatus (GET_STATUS, WARMING_UP). Each decoder gets the
 * whole input as an exact-size copy; on success the value must pass the
 * invariants the header promises (resolutions ascending and within the
 * count, bytes_per_line = ceil(width * bpp / 8), one band within
 * PROTO_SCAN_MAX_BAND_DATA and within max_in_transfer, ...) and round-trip.
 */
#include "fuzz_scan_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_scan_caps c;
    proto_scan_params p;
    proto_scan_job j;
    proto_scan_devstatus s;

    if (fuzz_scan_caps(data, size, &c) > 0) {
        FUZZ_CHECK(c.n_resolutions >= 1 && c.n_resolutions <= PROTO_SCAN_MAX_RESOLUTIONS);
        for (unsigned i = 1; i < c.n_resolutions; i++)
            FUZZ_CHECK(c.resolutions[i] > c.resolutions[i - 1]);
        FUZZ_CHECK(c.max_in_transfer >= PROTO_SCAN_RSP_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD);
    }
    if (fuzz_scan_params(data, size, &p) > 0) {
        FUZZ_CHECK(p.source <= PROTO_SCAN_SOURCE_DUPLEX);
        FUZZ_CHECK(proto_scan_mode_bpp(p.mode) != 0);
    }
    if (fuzz_scan_job(data, size, &j) > 0) {
        uint64_t bpl = ((uint64_t)j.width_px * j.bits_per_pixel + 7) / 8;
        uint64_t band = bpl * j.band_lines;

        FUZZ_CHECK(j.bits_per_pixel == proto_scan_mode_bpp(j.mode) && j.bits_per_pixel != 0);
        FUZZ_CHECK(bpl == j.bytes_per_line);
        FUZZ_CHECK(band <= PROTO_SCAN_MAX_BAND_DATA);
        FUZZ_CHECK(band + PROTO_SCAN_BAND_HDR_SIZE <= j.max_in_transfer);
        FUZZ_CHECK(j.band_lines >= 1 && j.band_lines <= j.height_px);
        FUZZ_CHECK((uint64_t)j.bands_per_page * j.band_lines >= j.height_px);
        FUZZ_CHECK((uint64_t)(j.bands_per_page - 1) * j.band_lines < j.height_px);
    }
    if (fuzz_scan_devstatus(data, size, &s) > 0)
        FUZZ_CHECK(s.state <= 3 && s.cover_open <= 1);
    if (size >= 4) {
        uint32_t v = proto_get_le32(data);
        FUZZ_CHECK(proto_scan_status_name(v) != NULL && proto_scan_status_str(v) != NULL);
        (void)proto_scan_mode_bpp(v);
        FUZZ_CHECK(proto_strerror((int)v) != NULL && proto_err_name((int)v) != NULL);
    }
    return 0;
}
