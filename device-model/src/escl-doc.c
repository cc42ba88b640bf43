/* eSCL front: the documents — ScannerCapabilities from the profile,
 * ScannerStatus from the engine's snapshot and the front's jobs,
 * ScanImageInfo from a job's geometry — through the protocol module's
 * writers (protocol/escl.h). */
#include <stdio.h>
#include <string.h>

#include "escl-internal.h"

/* The profile as eSCL capabilities (kept in the front: strings point into
 * it). */
void escl_caps_from_profile(dm_escl *e)
{
    const dm_profile *prof = dm_engine_profile(e->eng);
    proto_escl_caps *c = &e->caps;
    proto_scan_caps pc;
    proto_escl_source_caps in;

    dm_profile_caps(prof, &pc);
    memset(c, 0, sizeof(*c));
    memset(&in, 0, sizeof(in));
    in.present = true;
    /* 1/300 inch: the same whole units the native page is sized from. */
    in.max_width = dm_u300_of_mm(prof->width_mm);
    in.max_height = dm_u300_of_mm(prof->height_mm);
    in.min_width = in.max_width < 16 ? in.max_width : 16;
    in.min_height = in.max_height < 16 ? in.max_height : 16;
    in.max_scan_regions = 1;
    if (pc.modes & (1u << PROTO_SCAN_MODE_BW))
        in.color_modes |= 1u << PROTO_ESCL_COLOR_BW1;
    if (pc.modes & (1u << PROTO_SCAN_MODE_GRAY8))
        in.color_modes |= 1u << PROTO_ESCL_COLOR_GRAY8;
    if (pc.modes & (1u << PROTO_SCAN_MODE_COLOR24))
        in.color_modes |= 1u << PROTO_ESCL_COLOR_RGB24;
    in.formats = (1u << PROTO_ESCL_FORMAT_PNG) | (1u << PROTO_ESCL_FORMAT_JPEG);
    in.intents = (1u << PROTO_ESCL_INTENT_DOCUMENT) | (1u << PROTO_ESCL_INTENT_TEXT_AND_GRAPHIC) |
                 (1u << PROTO_ESCL_INTENT_PHOTO) | (1u << PROTO_ESCL_INTENT_PREVIEW);
    for (uint32_t i = 0; i < pc.n_resolutions && in.n_resolutions < PROTO_ESCL_MAX_RESOLUTIONS; i++)
        in.resolutions[in.n_resolutions++] = pc.resolutions[i];
    if (in.n_resolutions > 0)
        in.max_optical_res = in.resolutions[in.n_resolutions - 1];

    if (pc.sources & (1u << PROTO_SCAN_SOURCE_FLATBED))
        c->platen = in;
    if (pc.sources & (1u << PROTO_SCAN_SOURCE_ADF))
        c->adf_simplex = in;
    if (pc.sources & (1u << PROTO_SCAN_SOURCE_DUPLEX))
        c->adf_duplex = in;
    if (c->adf_simplex.present || c->adf_duplex.present) {
        c->feeder_capacity = pc.feeder_capacity;
        c->adf_options = PROTO_ESCL_ADF_DETECT_PAPER_LOADED;
        if (c->adf_duplex.present)
            c->adf_options |= PROTO_ESCL_ADF_DUPLEX;
    }
    c->make_and_model = e->make_model;
    c->manufacturer = e->manufacturer[0] ? e->manufacturer : NULL;
    c->serial_number = e->serial[0] ? e->serial : NULL;
    c->uuid = e->uuid;
    c->compression_min = 0;
    c->compression_max = 100;
    c->compression_normal = 10;
    c->compression_step = 1;
}

static int put(dm_buf *out, int n, const char *tmp)
{
    dm_buf_clear(out);
    if (n < 0)
        return DM_E_RANGE;
    return dm_buf_append(out, tmp, (size_t)n);
}

int escl_doc_caps(dm_escl *e, dm_buf *out)
{
    int n = proto_escl_caps_write(&e->caps, e->docbuf, sizeof(e->docbuf));
    return put(out, n, e->docbuf);
}

static enum proto_escl_adf_state adf_of(dm_adf_state a)
{
    switch (a) {
    case DM_ADF_LOADED:
        return PROTO_ESCL_ADF_LOADED;
    case DM_ADF_EMPTY:
        return PROTO_ESCL_ADF_EMPTY;
    case DM_ADF_JAMMED:
        return PROTO_ESCL_ADF_JAM;
    case DM_ADF_DOOR_OPEN:
        return PROTO_ESCL_ADF_DOOR_OPEN;
    case DM_ADF_MULTIPICK:
        return PROTO_ESCL_ADF_MULTIPICK;
    default:
        return PROTO_ESCL_ADF_NONE;
    }
}

static enum proto_escl_job_state job_state_of(enum escl_job_state s)
{
    switch (s) {
    case ESCL_JOB_PROCESSING:
        return PROTO_ESCL_JOB_PROCESSING;
    case ESCL_JOB_COMPLETED:
        return PROTO_ESCL_JOB_COMPLETED;
    case ESCL_JOB_CANCELED:
        return PROTO_ESCL_JOB_CANCELED;
    default:
        return PROTO_ESCL_JOB_ABORTED;
    }
}

int escl_doc_status(dm_escl *e, uint64_t now_ns, dm_buf *out)
{
    const dm_escl_quirks *q = dm_engine_escl_quirks(e->eng);
    dm_engine_status st;
    proto_escl_status ps;
    proto_escl_job jobs[ESCL_MAX_JOBS];
    char uris[ESCL_MAX_JOBS][ESCL_PATH_MAX];
    size_t n = 0;
    int len;

    dm_engine_status_get(e->eng, now_ns, &st);
    memset(&ps, 0, sizeof(ps));
    ps.state = st.state == DM_ENGINE_PROCESSING   ? PROTO_ESCL_STATE_PROCESSING
               : st.state == DM_ENGINE_WARMING_UP ? PROTO_ESCL_STATE_TESTING
                                                  : PROTO_ESCL_STATE_IDLE;
    ps.adf_state = adf_of(st.adf);
    /* Quirk: a stale ADF condition in the status before the first job
     * (Canon MF410, Xerox WorkCentre 3345; docs/escl.md). */
    if (q->stale_adf != DM_ADF_NONE && !e->stale_shown && st.state != DM_ENGINE_PROCESSING)
        ps.adf_state = adf_of(q->stale_adf);
    /* Newest first. */
    for (uint32_t k = 0; k < ESCL_MAX_JOBS && k < e->n_jobs; k++) {
        const escl_job *j = &e->jobs[(e->n_jobs - 1 - k) % ESCL_MAX_JOBS];
        proto_escl_job *pj = &jobs[n];
        if (!j->used)
            continue;
        memset(pj, 0, sizeof(*pj));
        snprintf(uris[n], sizeof(uris[n]), "%s/eSCL/ScanJobs/%s", e->req_prefix, j->uuid);
        pj->uri = uris[n];
        pj->uuid = j->uuid;
        pj->age = (uint32_t)((now_ns - j->created_ns) / 1000000000ull);
        pj->images_completed = j->images_completed;
        pj->images_to_transfer = j->state == ESCL_JOB_PROCESSING ? 1 : 0;
        pj->state = job_state_of(j->state);
        pj->reasons[0] = j->state == ESCL_JOB_PROCESSING ? "JobScanning" : j->reason;
        pj->n_reasons = pj->reasons[0] ? 1 : 0;
        n++;
    }
    ps.jobs = jobs;
    ps.n_jobs = n;
    len = proto_escl_status_write(&ps, e->docbuf, sizeof(e->docbuf));
    return put(out, len, e->docbuf);
}

int escl_doc_image_info(dm_escl *e, const escl_job *j, dm_buf *out)
{
    proto_escl_image_info ii;
    char uri[ESCL_PATH_MAX];
    int len;

    memset(&ii, 0, sizeof(ii));
    snprintf(uri, sizeof(uri), "%s/eSCL/ScanJobs/%s", e->req_prefix, j->uuid);
    ii.job_uri = uri;
    ii.job_uuid = j->uuid;
    ii.width = j->geo.width_px;
    ii.height = j->geo.height_px;
    ii.bytes_per_line = j->geo.bytes_per_line;
    ii.blank_page = -1;
    len = proto_escl_image_info_write(&ii, e->docbuf, sizeof(e->docbuf));
    return put(out, len, e->docbuf);
}
