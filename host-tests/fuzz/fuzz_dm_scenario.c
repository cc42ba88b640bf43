/* Fuzz target: dm_scenario_load_mem (device-model/include/dm/dm.h), a
 * scenario fixture as YAML bytes (exact-size copy, not NUL-terminated).
 *
 * Like fuzz_dm_profile: a counting allocator bounds the loader's memory and
 * checks it is all returned; failures give one non-empty line. An accepted
 * scenario is checked against a small profile (dm_scenario_check); if the
 * pair is accepted, a device runs its default job (duplex, 75 dpi gray, so a
 * page is 8 bands of < 1 KB) with timing on, draining up to 1024 steps:
 * whatever the faults, every band header must decode and fit the job,
 * responses and events must be well-formed, and deadlines lie ahead.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_dm.h"
#include "fuzz_scan_common.h"

static void run_job(const dm_scenario *s)
{
    proto_scan_cmd c = {.opcode = PROTO_SCAN_OP_START_JOB, .tag = 1, .length = 0};
    uint8_t b[PROTO_SCAN_CMD_HDR_SIZE];
    char err[256];
    fuzz_dm_run r;
    int rc = fuzz_dm_start(&r, fuzz_dm_small_profile(), s, 1, 1024, 1u << 20);

    FUZZ_CHECK(rc == DM_OK);
    FUZZ_CHECK(proto_scan_cmd_encode(&c, b, sizeof(b)) == (int)sizeof(b));
    /* START_JOB until it is not refused (warming_up, busy, cover_open count). */
    for (unsigned i = 0; i < 8 && !r.gone; i++) {
        FUZZ_CHECK(fuzz_dm_send(&r, b, sizeof(b)) == DM_OK);
        fuzz_dm_drain(&r, 1024);
        if (r.have_job)
            break;
        dm_clock_virtual_advance(&r.clk, 1000000000ull);
    }
    if (r.have_job) {
        rc = dm_device_job_check(r.dev, err, sizeof(err));
        FUZZ_CHECK(rc == DM_OK || (rc == DM_E_RANGE && err[0] != '\0' && fuzz_one_line(err)));
    }
    fuzz_dm_stop(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *yaml = (char *)fuzz_dup(data, size);
    char err[256];
    fuzz_counting_alloc a;
    dm_scenario *s = NULL;
    int rc;

    fuzz_counting_alloc_init(&a);
    err[0] = '\0';
    rc = dm_scenario_load_mem_a(&a.alloc, "fuzz.yaml", yaml, size, &s, err, sizeof(err));
    FUZZ_CHECK(a.peak <= FUZZ_DM_LOADER_PEAK_MAX);
    if (rc == DM_OK) {
        FUZZ_CHECK(s != NULL && dm_scenario_name(s) != NULL);
        err[0] = '\0';
        rc = dm_scenario_check(s, fuzz_dm_small_profile(), err, sizeof(err));
        FUZZ_CHECK(rc == DM_OK || (rc == DM_E_RANGE && err[0] != '\0' && fuzz_one_line(err)));
        if (rc == DM_OK)
            run_job(s);
        dm_scenario_free(s);
    } else {
        FUZZ_CHECK(rc == DM_E_PARSE || rc == DM_E_RANGE || rc == DM_E_NOMEM || rc == DM_E_INVALID);
        FUZZ_CHECK(s == NULL);
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(fuzz_one_line(err)); /* crashers/README.md, bug 1 (fixed) */
    }
    FUZZ_CHECK(a.live == 0);
    free(yaml);
    return 0;
}
