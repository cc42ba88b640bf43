/* A scenario against a profile or a job: the faults that could never fire.
 * Every message names the scenario file and key, and the profile file or
 * the job it was checked against. */
#include <stdio.h>
#include <string.h>

#include "fixture-internal.h"

/* Pages of `job` that can exist with the scenario's feeder: the job's page
 * count, and for a feeder the sheets (both sides of each when duplex). */
static uint64_t job_page_limit(const dm_scenario *s, const proto_scan_job *job)
{
    uint64_t lim = job->pages != 0 ? job->pages : UINT64_MAX;
    if (job->source != PROTO_SCAN_SOURCE_FLATBED) {
        uint64_t fed = (uint64_t)s->sheets * (job->source == PROTO_SCAN_SOURCE_DUPLEX ? 2u : 1u);
        if (fed < lim)
            lim = fed;
    }
    return lim;
}

static const char *source_label(uint32_t source)
{
    return source == PROTO_SCAN_SOURCE_FLATBED  ? "flatbed"
           : source == PROTO_SCAN_SOURCE_DUPLEX ? "duplex"
                                                : "ADF";
}

/* One fault's place against the job's pages and page geometry. */
static int check_fault_place(const dm_fixture_msg *m, const dm_scenario *s, uint32_t i,
                             const proto_scan_job *job, const char *what, bool check_side)
{
    const dm_fault *f = &s->faults[i];
    const char *tk = f->trig == DM_TRIG_AT ? "at" : "every";
    const char *src = source_label(job->source);
    const bool duplex = job->source == PROTO_SCAN_SOURCE_DUPLEX;
    const uint64_t page_bytes = (uint64_t)job->bytes_per_line * job->height_px;
    const uint64_t limit = job_page_limit(s, job);
    char key[64];
    char in_page[32];

    if (f->kind == DM_FAULT_FEEDER_EMPTY) {
        snprintf(key, sizeof(key), "faults[%u].kind", i);
        if (job->source == PROTO_SCAN_SOURCE_FLATBED)
            return dm_fixture_fail(m, DM_E_RANGE, key,
                                   "a feeder_empty fault never fires in %s: a flatbed has no "
                                   "feeder",
                                   what);
        snprintf(key, sizeof(key), "faults[%u].at.page", i);
        if (duplex && (f->page & 1u))
            return dm_fixture_fail(m, DM_E_RANGE, key,
                                   "page %u is the back of a sheet in %s (duplex); the feeder can "
                                   "only run dry before a sheet (odd pages)",
                                   f->page + 1, what);
        return DM_OK;
    }
    snprintf(key, sizeof(key), "faults[%u].%s", i,
             f->trig == DM_TRIG_AT ? "at.page" : "every.pages");
    if (f->trig == DM_TRIG_AT && f->page >= limit)
        return dm_fixture_fail(m, DM_E_RANGE, key,
                               "page %u is past the end of %s (%s, %llu page%s)", f->page + 1, what,
                               src, (unsigned long long)limit, limit == 1 ? "" : "s");
    if (f->trig == DM_TRIG_EVERY && f->every > limit)
        return dm_fixture_fail(m, DM_E_RANGE, key,
                               "page %u is past the end of %s (%s, %llu page%s)", f->every, what,
                               src, (unsigned long long)limit, limit == 1 ? "" : "s");
    snprintf(key, sizeof(key), "faults[%u].%s.side", i, tk);
    if (check_side && f->side_filter == DM_SIDE_BACK && !duplex)
        return dm_fixture_fail(m, DM_E_RANGE, key, "%s is %s, no page has a back side", what, src);
    if (f->trig == DM_TRIG_AT)
        snprintf(in_page, sizeof(in_page), "page %u", f->page + 1);
    else
        snprintf(in_page, sizeof(in_page), "a page");
    snprintf(key, sizeof(key), "faults[%u].at.line", i);
    if (f->has_line && f->line >= job->height_px)
        return dm_fixture_fail(m, DM_E_RANGE, key,
                               "line %llu is past the last line (%u) of %s in %s (%s, %s, %u dpi)",
                               (unsigned long long)f->line + 1, job->height_px, in_page, what, src,
                               dm_fixture_mode_name(job->mode), job->dpi);
    snprintf(key, sizeof(key), "faults[%u].at.byte", i);
    if (f->has_byte && f->byte >= page_bytes)
        return dm_fixture_fail(m, DM_E_RANGE, key,
                               "byte %llu is past the last byte (%llu) of %s in %s (%s, %s, %u "
                               "dpi)",
                               (unsigned long long)f->byte + 1, (unsigned long long)page_bytes,
                               in_page, what, src, dm_fixture_mode_name(job->mode), job->dpi);
    snprintf(key, sizeof(key), "faults[%u].%s.band", i, tk);
    if (!f->has_line && !f->has_byte && f->band >= job->bands_per_page)
        return dm_fixture_fail(m, DM_E_RANGE, key,
                               "band %u is past the last band (%u) of %s in %s (%s, %s, %u dpi)",
                               f->band + 1, job->bands_per_page, in_page, what, src,
                               dm_fixture_mode_name(job->mode), job->dpi);
    return DM_OK;
}

static int check_job(const dm_fixture_msg *m, const dm_scenario *s, const proto_scan_job *job,
                     const char *what, bool check_side)
{
    int rc;

    for (uint32_t i = 0; i < s->n_faults; i++) {
        const dm_fault *f = &s->faults[i];
        if (f->trig != DM_TRIG_AT && f->trig != DM_TRIG_EVERY)
            continue;
        rc = check_fault_place(m, s, i, job, what, check_side);
        if (rc < 0)
            return rc;
    }
    return DM_OK;
}

int dm_scenario_check_job(const dm_scenario *s, const proto_scan_job *job, const char *what,
                          char *errbuf, size_t errlen)
{
    dm_fixture_msg m = {.file = NULL, .errbuf = errbuf, .errlen = errlen};

    if (s == NULL || job == NULL) {
        dm_errf(errbuf, errlen, "no scenario or no job given");
        return DM_E_INVALID;
    }
    m.file = s->file;
    return check_job(&m, s, job, what ? what : "this job", true);
}

int dm_scenario_check_profile_job(const dm_scenario *s, const dm_profile *p,
                                  const proto_scan_job *job, char *errbuf, size_t errlen)
{
    dm_fixture_msg m = {.file = NULL, .errbuf = errbuf, .errlen = errlen};
    char what[320];

    if (s == NULL || p == NULL || job == NULL) {
        dm_errf(errbuf, errlen, "no scenario, profile or job given");
        return DM_E_INVALID;
    }
    m.file = s->file;
    snprintf(what, sizeof(what), "this job on profile %s", p->file);
    return check_job(&m, s, job, what, true);
}

/* What no job of this profile can do. */
static int check_profile_faults(const dm_fixture_msg *m, const dm_scenario *s, const dm_profile *p)
{
    const uint32_t feeders = (1u << PROTO_SCAN_SOURCE_ADF) | (1u << PROTO_SCAN_SOURCE_DUPLEX);
    char key[64];

    if ((p->sources & feeders) && s->sheets > p->feeder_capacity)
        return dm_fixture_fail(m, DM_E_RANGE, "sheets",
                               "%u sheets do not fit the feeder of profile %s (capacity %u)",
                               s->sheets, p->file, p->feeder_capacity);
    for (uint32_t i = 0; i < s->n_faults; i++) {
        const dm_fault *f = &s->faults[i];

        snprintf(key, sizeof(key), "faults[%u].kind", i);
        if (f->kind == DM_FAULT_FEEDER_EMPTY && !(p->sources & feeders))
            return dm_fixture_fail(m, DM_E_RANGE, key,
                                   "a feeder_empty fault never fires: profile %s has no feeder",
                                   p->file);
        snprintf(key, sizeof(key), "faults[%u].%s.side", i, f->trig == DM_TRIG_AT ? "at" : "every");
        if (f->side_filter == DM_SIDE_BACK && !(p->sources & (1u << PROTO_SCAN_SOURCE_DUPLEX)))
            return dm_fixture_fail(m, DM_E_RANGE, key,
                                   "profile %s has no duplex source, no page has a back side",
                                   p->file);
    }
    return DM_OK;
}

int dm_scenario_check(const dm_scenario *s, const dm_profile *p, char *errbuf, size_t errlen)
{
    dm_fixture_msg m = {.file = NULL, .errbuf = errbuf, .errlen = errlen};
    proto_scan_params params;
    proto_scan_job job;
    char what[320];
    int rc;

    if (s == NULL || p == NULL) {
        dm_errf(errbuf, errlen, "no scenario or no profile given");
        return DM_E_INVALID;
    }
    m.file = s->file;
    rc = check_profile_faults(&m, s, p);
    if (rc < 0)
        return rc;
    /* Pages within the feeder, positions inside a page, feeder_empty before
     * a sheet: against the job the profile runs with its defaults. A flatbed
     * default leaves page numbers to START_JOB (dm_device_job_check): the
     * shipped scenarios are written for feeders, a flatbed scans the pages
     * the host asks for (one by default). */
    memset(&params, 0, sizeof(params));
    params.source = (uint8_t)p->def_source;
    params.mode = (uint8_t)p->def_mode;
    params.dpi = (uint16_t)p->def_dpi;
    rc = dm_job_resolve(p, &params, 0, &job, errbuf, errlen);
    if (rc < 0)
        return rc;
    /* A feeder job runs until the feeder is empty; a flatbed's page count
     * is the host's choice. */
    job.pages = job.source == PROTO_SCAN_SOURCE_FLATBED ? UINT32_MAX : 0;
    snprintf(what, sizeof(what), "the default job of profile %s", p->file);
    /* A back side exists when the profile can scan duplex (checked above). */
    return check_job(&m, s, &job, what, false);
}
