/* Fuzz target: the driver's parser of the configuration descriptor a device
 * returns (drv_parse_config, driver/src/drv-internal.h). It is the one pure
 * parser of device responses in the driver; the public header
 * driver/include/drv/drv.h has none (band and response checks live in
 * static functions of native_cmd.c and native_bands.c, reachable only
 * through a transport).
 *
 * Oracles: DRV_OK, DRV_E_PROTO or DRV_E_WRONG_DEVICE only; on DRV_OK the
 * three scanner endpoints were found (a non-zero bulk OUT/IN packet size is
 * not required: the parser reports, the caller judges).
 */
#include "drv-internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *p = fuzz_dup(data, size);
    drv_scanner_iface sif;
    int rc = drv_parse_config(p, size, &sif);

    FUZZ_CHECK(rc == DRV_OK || rc == DRV_E_PROTO || rc == DRV_E_WRONG_DEVICE);
    if (rc == DRV_OK) {
        FUZZ_CHECK(size >= 9);
        FUZZ_CHECK(sif.bulk_out_mps <= 0x7FF && sif.bulk_in_mps <= 0x7FF &&
                   sif.intr_in_mps <= 0x7FF);
    }
    free(p);
    return 0;
}
