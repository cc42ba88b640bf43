/* Fuzz target: dm_profile_load_mem (device-model/include/dm/dm.h), a profile
 * fixture as YAML bytes (exact-size copy, not NUL-terminated).
 *
 * The loader runs on a counting allocator (dm_profile_load_mem_a from
 * dm-internal.h), so every input also checks that what it takes is bounded
 * (peak <= FUZZ_DM_LOADER_PEAK_MAX) and that all of it comes back, on
 * failure and after dm_profile_free (LeakSanitizer also watches libyaml's
 * own allocations in the ASan build). On failure the message must be one
 * non-empty line. An accepted profile must be usable: its GET_CAPS encodes,
 * and a device built on it answers GET_CAPS, GET_STATUS and START_JOB with
 * well-formed responses (at most 4 IN messages, 2 MiB, per input).
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_dm.h"
#include "fuzz_scan_common.h"

static const char flatbed_scenario[] = "name: fuzz-flatbed\nsheets: 0\n";

static void cmd(fuzz_dm_run *r, uint16_t opcode)
{
    proto_scan_cmd c = {.opcode = opcode, .tag = opcode, .length = 0};
    uint8_t b[PROTO_SCAN_CMD_HDR_SIZE];

    FUZZ_CHECK(proto_scan_cmd_encode(&c, b, sizeof(b)) == (int)sizeof(b));
    FUZZ_CHECK(fuzz_dm_send(r, b, sizeof(b)) == DM_OK);
    fuzz_dm_drain(r, 4);
}

static void exercise(const dm_profile *p)
{
    proto_scan_caps caps;
    uint8_t enc[64];
    const dm_usb_identity *usb = dm_profile_usb(p);
    dm_scenario *s = NULL;
    fuzz_dm_run r;
    int rc;

    FUZZ_CHECK(dm_profile_name(p) != NULL && usb != NULL);
    FUZZ_CHECK(usb->manufacturer != NULL && usb->product != NULL && usb->serial != NULL);
    memset(&caps, 0, sizeof(caps));
    dm_profile_caps(p, &caps);
    FUZZ_CHECK(proto_scan_caps_encode(&caps, enc, sizeof(enc)) == (int)sizeof(enc));

    rc = fuzz_dm_start(&r, p, NULL, 1, 64, 2u << 20);
    if (rc == DM_E_RANGE) {
        /* The clean scenario's 10 sheets do not fit this feeder. */
        FUZZ_CHECK(dm_scenario_load_mem("flatbed", flatbed_scenario, sizeof(flatbed_scenario) - 1,
                                        &s, NULL, 0) == DM_OK);
        rc = fuzz_dm_start(&r, p, s, 1, 64, 2u << 20);
    }
    FUZZ_CHECK(rc == DM_OK);
    r.strict = 1;
    cmd(&r, PROTO_SCAN_OP_GET_CAPS);
    cmd(&r, PROTO_SCAN_OP_GET_STATUS);
    cmd(&r, PROTO_SCAN_OP_START_JOB);
    fuzz_dm_stop(&r);
    dm_scenario_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *yaml = (char *)fuzz_dup(data, size);
    char err[256];
    fuzz_counting_alloc a;
    dm_profile *p = NULL;
    int rc;

    fuzz_counting_alloc_init(&a);
    err[0] = '\0';
    rc = dm_profile_load_mem_a(&a.alloc, "fuzz.yaml", yaml, size, &p, err, sizeof(err));
    FUZZ_CHECK(a.peak <= FUZZ_DM_LOADER_PEAK_MAX);
    if (rc == DM_OK) {
        FUZZ_CHECK(p != NULL);
        exercise(p);
        dm_profile_free(p);
    } else {
        FUZZ_CHECK(rc == DM_E_PARSE || rc == DM_E_RANGE || rc == DM_E_NOMEM || rc == DM_E_INVALID);
        FUZZ_CHECK(p == NULL);
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(fuzz_one_line(err)); /* crashers/README.md, bug 1 (fixed) */
    }
    FUZZ_CHECK(a.live == 0);
    free(yaml);
    return 0;
}
