/* Fuzz target: the device model's command path (device-model/include/dm/
 * dm.h): arbitrary bulk OUT transfers to a device on a virtual clock, with
 * the IN endpoints drained (bounded) between them.
 *
 * Input: one config byte (bit 0: timing on; bit 1: a small profile instead
 * of the built-in default, so whole jobs fit the budget), then chunks of
 *   ctl (1 byte) | length (LE16) | length bytes = one bulk OUT transfer
 * where ctl & 3 says what the host does next: 0 drain up to 64 steps, 1
 * nothing (lets responses pile up to DM_RSP_QUEUE_DEPTH and DM_E_AGAIN), 2
 * one step, 3 advance the clock by (ctl >> 2) + 1 ms, then drain.
 * Each transfer is an exact-size heap copy. The scenario is the built-in
 * clean one, so every message must be exact: responses decode with the
 * payload their opcode and status promise, bands decode, fit the job
 * START_JOB announced, carry byte_count bytes with a matching CRC-32, events
 * are 16 valid bytes, deadlines lie ahead of the clock, and the device's
 * band count matches what was delivered. Bounded: 64 transfers, 1024 steps
 * and 1 MiB of IN data per input.
 */
#include "fuzz.h"
#include "fuzz_dm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dm_run r;
    const dm_profile *p;
    size_t off = 1;
    unsigned chunks = 0;

    if (size < 1)
        return 0;
    p = (data[0] & 2) ? fuzz_dm_small_profile() : fuzz_dm_default_profile();
    FUZZ_CHECK(fuzz_dm_start(&r, p, NULL, data[0] & 1, 1024, 1u << 20) == DM_OK);
    r.strict = 1;
    while (off + 3 <= size && chunks++ < 64 && !r.gone) {
        uint8_t ctl = data[off];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;

        off += 3;
        if (len > size - off)
            len = size - off;
        (void)fuzz_dm_send(&r, data + off, len);
        off += len;
        switch (ctl & 3) {
        case 0:
            fuzz_dm_drain(&r, 64);
            break;
        case 1:
            break;
        case 2:
            fuzz_dm_drain(&r, 1);
            break;
        default:
            dm_clock_virtual_advance(&r.clk, ((uint64_t)(ctl >> 2) + 1) * 1000000u);
            fuzz_dm_drain(&r, 64);
            break;
        }
    }
    fuzz_dm_drain(&r, 64);
    fuzz_dm_stop(&r);
    return 0;
}
