/* Scenarios: the YAML schema of a fault scenario and its checks for meaning
 * on their own (the checks against a profile or a job are in
 * fixture_check.c). docs/protocol.md, "Scenarios". */
#include <stdio.h>
#include <string.h>

#include "dm/engine.h"
#include "fixture-internal.h"

static const cyaml_strval_t bool_strings[] = {
    {"false", 0},
    {"true", 1},
};

/* ---- scenario schema --------------------------------------------------------- */

static const cyaml_strval_t fault_kind_strings[] = {
#define DM_FAULT_STRVAL_(name, str) {str, DM_FAULT_##name},
    DM_FAULT_KIND_MAP(DM_FAULT_STRVAL_)
#undef DM_FAULT_STRVAL_
};
static const cyaml_strval_t side_strings[] = {
    {"any", DM_SIDE_ANY},
    {"front", DM_SIDE_FRONT},
    {"back", DM_SIDE_BACK},
};

struct raw_at {
    char *page;
    int side;
    char *band;
    char *line;
    char *byte;
};
struct raw_every {
    char *pages;
    char *band;
    int side;
};
struct raw_fault {
    int kind;
    struct raw_at *at;
    char *after_ms;
    struct raw_every *every;
    char *probability;
    char *ms;
    char *count;
    int *clears;
    char *bytes;
};
struct raw_next_doc {
    char *status;
    char *tries;
};
struct raw_escl {
    char *make_and_model;
    struct raw_next_doc *next_document;
    char *load_delay_ms;
    int *stale_adf_state;
    char *slow_response_ms;
    int *require_localhost;
};
struct raw_scenario {
    char *name;
    char *description;
    char *sheets;
    char *seed;
    char *time_scale;
    char *wait_for_paper_ms;
    struct raw_fault *faults;
    unsigned faults_count;
    struct raw_escl *escl;
};

static const cyaml_schema_field_t at_fields[] = {
    DM_FIXTURE_NUM("page", CYAML_FLAG_DEFAULT, struct raw_at, page),
    CYAML_FIELD_ENUM("side", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, struct raw_at, side,
                     side_strings, CYAML_ARRAY_LEN(side_strings)),
    DM_FIXTURE_NUM("band", CYAML_FLAG_OPTIONAL, struct raw_at, band),
    DM_FIXTURE_NUM("line", CYAML_FLAG_OPTIONAL, struct raw_at, line),
    DM_FIXTURE_NUM("byte", CYAML_FLAG_OPTIONAL, struct raw_at, byte),
    CYAML_FIELD_END};
static const cyaml_schema_field_t every_fields[] = {
    DM_FIXTURE_NUM("pages", CYAML_FLAG_DEFAULT, struct raw_every, pages),
    DM_FIXTURE_NUM("band", CYAML_FLAG_OPTIONAL, struct raw_every, band),
    CYAML_FIELD_ENUM("side", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, struct raw_every, side,
                     side_strings, CYAML_ARRAY_LEN(side_strings)),
    CYAML_FIELD_END};
static const cyaml_schema_field_t fault_fields[] = {
    CYAML_FIELD_ENUM("kind", CYAML_FLAG_STRICT, struct raw_fault, kind, fault_kind_strings,
                     CYAML_ARRAY_LEN(fault_kind_strings)),
    CYAML_FIELD_MAPPING_PTR("at", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_fault, at,
                            at_fields),
    DM_FIXTURE_NUM("after_ms", CYAML_FLAG_OPTIONAL, struct raw_fault, after_ms),
    CYAML_FIELD_MAPPING_PTR("every", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_fault,
                            every, every_fields),
    DM_FIXTURE_NUM("probability", CYAML_FLAG_OPTIONAL, struct raw_fault, probability),
    DM_FIXTURE_NUM("ms", CYAML_FLAG_OPTIONAL, struct raw_fault, ms),
    DM_FIXTURE_NUM("count", CYAML_FLAG_OPTIONAL, struct raw_fault, count),
    CYAML_FIELD_ENUM_PTR("clears", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, struct raw_fault,
                         clears, bool_strings, CYAML_ARRAY_LEN(bool_strings)),
    DM_FIXTURE_NUM("bytes", CYAML_FLAG_OPTIONAL, struct raw_fault, bytes),
    CYAML_FIELD_END};
static const cyaml_schema_value_t fault_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_fault, fault_fields)};
static const cyaml_strval_t stale_adf_strings[] = {
    {"jam", DM_ADF_JAMMED},
    {"empty", DM_ADF_EMPTY},
};
static const cyaml_schema_field_t next_doc_fields[] = {
    DM_FIXTURE_NUM("status", CYAML_FLAG_DEFAULT, struct raw_next_doc, status),
    DM_FIXTURE_NUM("tries", CYAML_FLAG_DEFAULT, struct raw_next_doc, tries), CYAML_FIELD_END};
static const cyaml_schema_field_t escl_fields[] = {
    CYAML_FIELD_STRING_PTR("make_and_model", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct raw_escl, make_and_model, 1, 127),
    CYAML_FIELD_MAPPING_PTR("next_document", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                            struct raw_escl, next_document, next_doc_fields),
    DM_FIXTURE_NUM("load_delay_ms", CYAML_FLAG_OPTIONAL, struct raw_escl, load_delay_ms),
    CYAML_FIELD_ENUM_PTR("stale_adf_state", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL,
                         struct raw_escl, stale_adf_state, stale_adf_strings,
                         CYAML_ARRAY_LEN(stale_adf_strings)),
    DM_FIXTURE_NUM("slow_response_ms", CYAML_FLAG_OPTIONAL, struct raw_escl, slow_response_ms),
    CYAML_FIELD_ENUM_PTR("require_localhost", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL,
                         struct raw_escl, require_localhost, bool_strings,
                         CYAML_ARRAY_LEN(bool_strings)),
    CYAML_FIELD_END};
static const cyaml_schema_field_t scenario_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct raw_scenario, name, 1, 63),
    CYAML_FIELD_STRING_PTR("description", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct raw_scenario, description, 0, 1000),
    DM_FIXTURE_NUM("sheets", CYAML_FLAG_DEFAULT, struct raw_scenario, sheets),
    DM_FIXTURE_NUM("seed", CYAML_FLAG_OPTIONAL, struct raw_scenario, seed),
    DM_FIXTURE_NUM("time_scale", CYAML_FLAG_OPTIONAL, struct raw_scenario, time_scale),
    DM_FIXTURE_NUM("wait_for_paper_ms", CYAML_FLAG_OPTIONAL, struct raw_scenario,
                   wait_for_paper_ms),
    CYAML_FIELD_SEQUENCE("faults", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_scenario,
                         faults, &fault_entry, 0, 64),
    CYAML_FIELD_MAPPING_PTR("escl", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_scenario,
                            escl, escl_fields),
    CYAML_FIELD_END};
static const cyaml_schema_value_t scenario_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_scenario, scenario_fields)};

/* ---- faults -------------------------------------------------------------------------- */

const char *dm_fault_name(int kind)
{
    switch (kind) {
#define DM_FAULT_NAME_(name, str)                                                                  \
    case DM_FAULT_##name:                                                                          \
        return str;
        DM_FAULT_KIND_MAP(DM_FAULT_NAME_)
#undef DM_FAULT_NAME_
    default:
        return "?";
    }
}

int dm_fault_kind_parse(const char *name)
{
    for (int k = 0; name != NULL && k < DM_FAULT_COUNT_; k++)
        if (strcmp(dm_fault_name(k), name) == 0)
            return k;
    return DM_E_INVALID;
}

static bool fault_needs_place(dm_fault_kind k)
{
    return k != DM_FAULT_WARMING_UP && k != DM_FAULT_BUSY;
}

/* Key "faults[i]" or "faults[i].SUFFIX". */
static const char *fault_key(char *key, size_t len, unsigned i, const char *suffix)
{
    if (suffix == NULL)
        snprintf(key, len, "faults[%u]", i);
    else
        snprintf(key, len, "faults[%u].%s", i, suffix);
    return key;
}

/* An optional 1-based position key under faults[i].at: 0-based into *out. */
static int at_position(const dm_fixture_msg *m, unsigned i, const char *name, const char *s,
                       uint32_t hi, uint64_t *out, bool *present)
{
    char key[64];
    char suffix[16];
    uint32_t v = 0;
    int rc;

    if (s == NULL)
        return DM_OK;
    snprintf(suffix, sizeof(suffix), "at.%s", name);
    rc = dm_fixture_u32(m, fault_key(key, sizeof(key), i, suffix), s, 1, hi, &v);
    if (rc < 0)
        return rc;
    *out = (uint64_t)v - 1;
    if (present != NULL)
        *present = true;
    return DM_OK;
}

/* The `at:` trigger: a page and at most one of band, line, byte. */
static int fault_at(const dm_fixture_msg *m, const struct raw_at *at, unsigned i, uint32_t sheets,
                    dm_fault *f)
{
    const unsigned n_pos = (at->band != NULL) + (at->line != NULL) + (at->byte != NULL);
    char key[64];
    uint64_t band = 0;
    uint32_t page = 0;
    int rc;

    f->trig = DM_TRIG_AT;
    fault_key(key, sizeof(key), i, "at.page");
    rc = dm_fixture_u32(m, key, at->page, 1, DM_LIM_PAGES_MAX, &page);
    if (rc < 0)
        return rc;
    /* Page 1 always exists: a flatbed scans one page per job, with no
     * feeder (sheets: 0). The profile pairing checks the rest. */
    if (page > 1 && page > 2 * (uint64_t)sheets && f->kind != DM_FAULT_FEEDER_EMPTY)
        return dm_fixture_fail(m, DM_E_RANGE, key, "page %u is past the end of the job (%u sheets)",
                               page, sheets);
    f->page = page - 1;
    if (at->side == DM_SIDE_BACK && page % 2 == 1)
        return dm_fixture_fail(m, DM_E_RANGE, fault_key(key, sizeof(key), i, "at.side"),
                               "page %u is the front of a sheet in every job (duplex back sides "
                               "are the even pages); this fault would never fire",
                               page);
    if (f->kind == DM_FAULT_FEEDER_EMPTY && at->side != DM_SIDE_ANY)
        return dm_fixture_fail(m, DM_E_RANGE, fault_key(key, sizeof(key), i, "at.side"),
                               "a feeder_empty fault takes only 'page'");
    if (f->kind == DM_FAULT_FEEDER_EMPTY && n_pos != 0)
        return dm_fixture_fail(m, DM_E_RANGE, fault_key(key, sizeof(key), i, "at"),
                               "a feeder_empty fault takes only 'page'");
    if (n_pos > 1)
        return dm_fixture_fail(m, DM_E_RANGE, fault_key(key, sizeof(key), i, "at"),
                               "expected at most one of band, line, byte");
    f->side_filter = (uint32_t)at->side;
    rc = at_position(m, i, "band", at->band, DM_LIM_BANDS_MAX, &band, NULL);
    if (rc < 0)
        return rc;
    f->band = (uint32_t)band;
    rc = at_position(m, i, "line", at->line, DM_LIM_BANDS_MAX, &f->line, &f->has_line);
    if (rc < 0)
        return rc;
    return at_position(m, i, "byte", at->byte, DM_LIM_BYTES_MAX, &f->byte, &f->has_byte);
}

/* The trigger: at, after_ms, every, probability, or none (START_JOB). */
static int fault_trigger(const dm_fixture_msg *m, const struct raw_fault *rf, unsigned i,
                         uint32_t sheets, dm_fault *f)
{
    const unsigned n_triggers =
        (rf->at != NULL) + (rf->after_ms != NULL) + (rf->every != NULL) + (rf->probability != NULL);
    const char *kn = dm_fault_name(rf->kind);
    char key[64];
    uint32_t v = 0;
    int rc;

    if (n_triggers > 1)
        return dm_fixture_fail(m, DM_E_RANGE, fault_key(key, sizeof(key), i, NULL),
                               "expected at most one of at, after_ms, every, probability");
    if (!fault_needs_place(f->kind) && n_triggers != 0)
        return dm_fixture_fail(m, DM_E_RANGE, fault_key(key, sizeof(key), i, NULL),
                               "a %s fault happens at START_JOB and takes no trigger", kn);
    if (f->kind == DM_FAULT_FEEDER_EMPTY && rf->at == NULL)
        return dm_fixture_fail(m, DM_E_RANGE, fault_key(key, sizeof(key), i, "at"),
                               "expected the page before which the feeder runs dry (or use "
                               "'sheets')");
    if (n_triggers == 0 && fault_needs_place(f->kind) && f->kind != DM_FAULT_COVER_OPEN)
        return dm_fixture_fail(m, DM_E_RANGE, fault_key(key, sizeof(key), i, NULL),
                               "expected a trigger (at, after_ms, every or probability) for a %s "
                               "fault",
                               kn);
    if (rf->at != NULL)
        return fault_at(m, rf->at, i, sheets, f);
    if (rf->after_ms != NULL) {
        rc = dm_fixture_u32(m, fault_key(key, sizeof(key), i, "after_ms"), rf->after_ms, 0,
                            DM_LIM_TIME_MS_MAX, &v);
        if (rc < 0)
            return rc;
        f->trig = DM_TRIG_AFTER;
        f->after_ns = (uint64_t)v * 1000000u;
        return DM_OK;
    }
    if (rf->every != NULL) {
        rc = dm_fixture_u32(m, fault_key(key, sizeof(key), i, "every.pages"), rf->every->pages, 1,
                            DM_LIM_PAGES_MAX, &f->every);
        if (rc < 0)
            return rc;
        v = 1;
        rc = dm_fixture_u32(m, fault_key(key, sizeof(key), i, "every.band"), rf->every->band, 1,
                            DM_LIM_BANDS_MAX, &v);
        if (rc < 0)
            return rc;
        f->trig = DM_TRIG_EVERY;
        f->band = v - 1;
        f->side_filter = (uint32_t)rf->every->side;
        return DM_OK;
    }
    if (rf->probability != NULL) {
        f->trig = DM_TRIG_RANDOM;
        return dm_fixture_real(m, fault_key(key, sizeof(key), i, "probability"), rf->probability,
                               0.0, 1.0, &f->probability);
    }
    f->trig = DM_TRIG_START;
    return DM_OK;
}

/* Parameters, each only where it means something. */
static int fault_params(const dm_fixture_msg *m, const struct raw_fault *rf, unsigned i,
                        dm_fault *f)
{
    const bool timed = f->kind == DM_FAULT_DELAY || f->kind == DM_FAULT_WARMING_UP;
    char key[64];
    uint32_t v = 0;
    int rc;

    fault_key(key, sizeof(key), i, "ms");
    if (rf->ms != NULL && !timed)
        return dm_fixture_fail(m, DM_E_RANGE, key, "only delay and warming_up faults take 'ms'");
    if (timed && rf->ms == NULL)
        return dm_fixture_fail(m, DM_E_RANGE, key,
                               "missing; expected a duration in milliseconds for a %s fault",
                               dm_fault_name(f->kind));
    rc = dm_fixture_u32(m, key, rf->ms, 1, DM_LIM_TIME_MS_MAX, &v);
    if (rc < 0)
        return rc;
    f->ms_ns = (uint64_t)v * 1000000u;

    fault_key(key, sizeof(key), i, "count");
    if (rf->count != NULL && f->kind != DM_FAULT_BUSY && f->kind != DM_FAULT_COVER_OPEN)
        return dm_fixture_fail(m, DM_E_RANGE, key, "only busy and cover_open faults take 'count'");
    if (rf->count != NULL && f->kind == DM_FAULT_COVER_OPEN && f->trig != DM_TRIG_START)
        return dm_fixture_fail(m, DM_E_RANGE, key, "only a cover_open at job start takes 'count'");
    f->count = f->kind == DM_FAULT_BUSY ? 1 : 0;
    rc = dm_fixture_u32(m, key, rf->count, f->kind == DM_FAULT_BUSY ? 1 : 0, DM_LIM_COUNT_MAX,
                        &f->count);
    if (rc < 0)
        return rc;

    if (rf->clears != NULL && f->kind != DM_FAULT_STALL)
        return dm_fixture_fail(m, DM_E_RANGE, fault_key(key, sizeof(key), i, "clears"),
                               "only stall faults take 'clears'");
    f->clears = rf->clears != NULL ? *rf->clears != 0 : true;

    fault_key(key, sizeof(key), i, "bytes");
    if (rf->bytes != NULL && f->kind != DM_FAULT_SHORT_BAND && f->kind != DM_FAULT_CORRUPT_BAND)
        return dm_fixture_fail(m, DM_E_RANGE, key,
                               "only short_band and corrupt_band faults take 'bytes'");
    return dm_fixture_u32(m, key, rf->bytes, 1, PROTO_SCAN_MAX_BAND_DATA, &f->bytes);
}

static int fault_convert(const dm_fixture_msg *m, const struct raw_fault *rf, unsigned i,
                         uint32_t sheets, dm_fault *f)
{
    int rc;

    memset(f, 0, sizeof(*f));
    f->kind = (dm_fault_kind)rf->kind;
    rc = fault_trigger(m, rf, i, sheets, f);
    if (rc < 0)
        return rc;
    return fault_params(m, rf, i, f);
}

/* ---- eSCL quirks ------------------------------------------------------------------------ */

/* The `escl:` mapping: behaviours of real eSCL devices (docs/escl.md,
 * "Quirks"). Protocol-specific, but data only: the eSCL front acts on it. */
static int escl_convert(const dm_fixture_msg *m, const struct raw_escl *r, dm_escl_quirks *q)
{
    uint32_t v = 0;
    int rc;

    memset(q, 0, sizeof(*q));
    if (r == NULL)
        return DM_OK;
    if (r->make_and_model != NULL) {
        for (const char *c = r->make_and_model; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return dm_fixture_fail(m, DM_E_RANGE, "escl.make_and_model",
                                       "control characters are not allowed");
        snprintf(q->make_and_model, sizeof(q->make_and_model), "%s", r->make_and_model);
    }
    if (r->next_document != NULL) {
        rc = dm_fixture_u32(m, "escl.next_document.status", r->next_document->status, 404, 503,
                            &q->next_doc_status);
        if (rc < 0)
            return rc;
        if (q->next_doc_status != 404 && q->next_doc_status != 410 && q->next_doc_status != 503)
            return dm_fixture_fail(m, DM_E_RANGE, "escl.next_document.status",
                                   "%u; expected 503, 404 or 410", q->next_doc_status);
        rc = dm_fixture_u32(m, "escl.next_document.tries", r->next_document->tries, 1, 1000,
                            &q->next_doc_tries);
        if (rc < 0)
            return rc;
    }
    rc = dm_fixture_u32(m, "escl.load_delay_ms", r->load_delay_ms, 1, DM_LIM_TIME_MS_MAX, &v);
    if (rc < 0)
        return rc;
    q->load_delay_ns = r->load_delay_ms ? (uint64_t)v * 1000000u : 0;
    v = 0;
    rc = dm_fixture_u32(m, "escl.slow_response_ms", r->slow_response_ms, 1, DM_LIM_TIME_MS_MAX, &v);
    if (rc < 0)
        return rc;
    q->slow_first_byte_ns = r->slow_response_ms ? (uint64_t)v * 1000000u : 0;
    q->stale_adf = r->stale_adf_state ? (uint32_t)*r->stale_adf_state : DM_ADF_NONE;
    q->require_localhost = r->require_localhost != NULL && *r->require_localhost != 0;
    return DM_OK;
}

/* ---- the scenario ------------------------------------------------------------------- */

static int scenario_check(dm_scenario *s, const struct raw_scenario *r, dm_fixture_msg m)
{
    uint32_t seed = 0, wait_ms = 0;
    int rc;

    snprintf(s->name, sizeof(s->name), "%s", r->name);
    snprintf(s->file, sizeof(s->file), "%s", m.file);
    rc = dm_fixture_u32(&m, "sheets", r->sheets, 0, DM_LIM_FEEDER_MAX, &s->sheets);
    if (rc < 0)
        return rc;
    rc = dm_fixture_u32(&m, "seed", r->seed, 0, UINT32_MAX, &seed);
    if (rc < 0)
        return rc;
    s->has_seed = r->seed != NULL;
    s->seed = seed;
    s->time_scale = 1.0;
    rc = dm_fixture_real(&m, "time_scale", r->time_scale, 0.0, 100.0, &s->time_scale);
    if (rc < 0)
        return rc;
    rc = dm_fixture_u32(&m, "wait_for_paper_ms", r->wait_for_paper_ms, 1, DM_LIM_TIME_MS_MAX,
                        &wait_ms);
    if (rc < 0)
        return rc;
    s->paper_wait_ns = (uint64_t)wait_ms * 1000000u;
    for (unsigned i = 0; i < r->faults_count; i++) {
        rc = fault_convert(&m, &r->faults[i], i, s->sheets, &s->faults[i]);
        if (rc < 0)
            return rc;
    }
    s->n_faults = r->faults_count;
    return escl_convert(&m, r->escl, &s->escl);
}

int dm_scenario_load_mem_a(const dm_alloc *a, const char *name, const char *yaml, size_t len,
                           dm_scenario **out, char *errbuf, size_t errlen)
{
    dm_fixture_msg m = {.file = name, .errbuf = errbuf, .errlen = errlen};
    struct raw_scenario *raw = NULL;
    dm_scenario *s;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (name == NULL)
        m.file = name = "<memory>";
    if (yaml == NULL || out == NULL) {
        dm_errf(errbuf, errlen, "%s: no YAML given", name);
        return DM_E_INVALID;
    }
    rc = dm_fixture_parse(a, yaml, len, &scenario_schema, (void **)&raw, &m);
    if (rc < 0)
        return rc;
    s = dm_malloc(a, sizeof(*s));
    if (s == NULL) {
        dm_errf(errbuf, errlen, "%s: out of memory", name);
        rc = DM_E_NOMEM;
        goto out_free_raw;
    }
    s->alloc = a;
    if (raw->faults_count > 0) {
        s->faults = dm_malloc(a, sizeof(*s->faults) * raw->faults_count);
        if (s->faults == NULL) {
            dm_errf(errbuf, errlen, "%s: out of memory", name);
            rc = DM_E_NOMEM;
            goto out_free_s;
        }
    }
    rc = scenario_check(s, raw, m);
    if (rc < 0)
        goto out_free_faults;
    dm_fixture_free_raw(a, &scenario_schema, raw);
    *out = s;
    return DM_OK;

out_free_faults:
    dm_free(a, s->faults);
out_free_s:
    dm_free(a, s);
out_free_raw:
    dm_fixture_free_raw(a, &scenario_schema, raw);
    return rc;
}

int dm_scenario_load_file_a(const dm_alloc *a, const char *path, dm_scenario **out, char *errbuf,
                            size_t errlen)
{
    char *buf;
    size_t len;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (path == NULL) {
        dm_errf(errbuf, errlen, "no scenario path given");
        return DM_E_INVALID;
    }
    rc = dm_fixture_read_file(a, path, "scenario", &buf, &len, errbuf, errlen);
    if (rc < 0)
        return rc;
    rc = dm_scenario_load_mem_a(a, path, buf, len, out, errbuf, errlen);
    dm_free(a, buf);
    return rc;
}

int dm_scenario_load_mem(const char *name, const char *yaml, size_t len, dm_scenario **out,
                         char *errbuf, size_t errlen)
{
    return dm_scenario_load_mem_a(NULL, name, yaml, len, out, errbuf, errlen);
}

int dm_scenario_load_file(const char *path, dm_scenario **out, char *errbuf, size_t errlen)
{
    return dm_scenario_load_file_a(NULL, path, out, errbuf, errlen);
}

int dm_scenario_load_default(dm_scenario **out, char *errbuf, size_t errlen)
{
    return dm_scenario_load_mem_a(NULL, "<built-in clean.yaml>", dm_builtin_scenario_yaml,
                                  dm_builtin_scenario_len, out, errbuf, errlen);
}

void dm_scenario_free(dm_scenario *s)
{
    if (s == NULL)
        return;
    dm_free(s->alloc, s->faults);
    dm_free(s->alloc, s);
}

const char *dm_scenario_name(const dm_scenario *s)
{
    return s->name;
}
