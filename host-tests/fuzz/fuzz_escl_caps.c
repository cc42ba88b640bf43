/* Fuzz target: the eSCL documents a driver reads (protocol/include/
 * protocol/escl.h): ScannerCapabilities and ScannerStatus, each from an
 * exact-size copy. Oracles: on success the documented invariants hold
 * (at least one source, Min <= Max <= PROTO_ESCL_MAX_EXTENT, discrete
 * resolutions ascending and in range, strings terminated and printable,
 * jobs within the array); on failure the output is zeroed and diag names
 * the error. */
#include "fuzz.h"

#include "protocol/escl.h"

static void check_source(const proto_escl_source_info *s)
{
    const proto_escl_source_caps *c = &s->caps;

    if (!c->present)
        return;
    FUZZ_CHECK(c->min_width <= c->max_width && c->max_width <= PROTO_ESCL_MAX_EXTENT);
    FUZZ_CHECK(c->min_height <= c->max_height && c->max_height <= PROTO_ESCL_MAX_EXTENT);
    FUZZ_CHECK(c->max_width > 0 && c->max_height > 0);
    FUZZ_CHECK(c->n_resolutions <= PROTO_ESCL_MAX_RESOLUTIONS);
    for (size_t i = 0; i < c->n_resolutions; i++) {
        FUZZ_CHECK(c->resolutions[i] >= 1 && c->resolutions[i] <= PROTO_ESCL_MAX_RES);
        FUZZ_CHECK(i == 0 || c->resolutions[i] > c->resolutions[i - 1]);
    }
    FUZZ_CHECK(s->x_range.max == 0 || (s->x_range.min <= s->x_range.max && s->x_range.step > 0));
    (void)proto_escl_source_has_resolution(s, 300);
}

static void check_text(const char *s, size_t size)
{
    size_t n = strnlen(s, size);

    FUZZ_CHECK(n < size);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(s[i] >= 0x20 && s[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    uint8_t *p = fuzz_dup(data, size);
    proto_escl_caps_info c;
    proto_escl_status_info st;
    proto_escl_diag d;
    int rc;

    if (!init) {
        proto_escl_init();
        init = 1;
    }
    rc = proto_escl_caps_parse(p, size, &c, &d);
    if (rc == PROTO_OK) {
        FUZZ_CHECK(c.platen.caps.present || c.adf_simplex.caps.present ||
                   c.adf_duplex.caps.present);
        check_source(&c.platen);
        check_source(&c.adf_simplex);
        check_source(&c.adf_duplex);
        check_text(c.make_and_model, sizeof(c.make_and_model));
        check_text(c.uuid, sizeof(c.uuid));
        FUZZ_CHECK(c.version[0] >= '0' && c.version[0] <= '9');
    } else {
        FUZZ_CHECK(rc < 0 && d.err == rc && !c.platen.caps.present);
    }
    rc = proto_escl_status_parse(p, size, &st, &d);
    if (rc == PROTO_OK) {
        FUZZ_CHECK(st.n_jobs <= PROTO_ESCL_MAX_JOBS);
        for (size_t i = 0; i < st.n_jobs; i++) {
            check_text(st.jobs[i].uri, sizeof(st.jobs[i].uri));
            check_text(st.jobs[i].state_text, sizeof(st.jobs[i].state_text));
            /* a job's own URI finds a job (maybe an earlier one of the same path) */
            if (st.jobs[i].uri[0] == '/')
                FUZZ_CHECK(proto_escl_status_job(&st, st.jobs[i].uri) != NULL);
        }
        check_text(st.adf_state_text, sizeof(st.adf_state_text));
    } else {
        FUZZ_CHECK(rc < 0 && st.n_jobs == 0);
    }
    free(p);
    return 0;
}
