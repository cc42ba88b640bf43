/* The eSCL front: AirScan over a job engine.
 *
 * One dm_escl per device keeps the eSCL jobs (a few recent ones, for
 * ScannerStatus) and owns the engine's job while one of its jobs runs. Each
 * dm_escl_conn is one HTTP/1.1 connection: it parses one request at a time
 * (escl-http.c), answers it, and only then takes the next (no pipelining
 * beyond what the carrier holds). NextDocument streams a page: the response
 * head leaves with the page's first band, then every band leaves as a chunk
 * of the compressed image when the engine releases it. Everything about
 * timing and faults is the engine's; here they are only translated (see
 * docs/escl.md for each choice and its source). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dm/escl.h"
#include "escl-internal.h"

/* ---- small helpers ------------------------------------------------------------------- */

static const char *job_state_name(enum escl_job_state s)
{
    static const char *const n[] = {"Processing", "Completed", "Aborted", "Canceled"};
    return (unsigned)s < 4 ? n[s] : "Aborted";
}

static void make_uuid(uint64_t a, uint64_t b, char out[37])
{
    uint64_t h1 = dm_mix64(a ^ 0xE5C1u), h2 = dm_mix64(h1 ^ b);
    /* RFC 4122 layout, version 4 and variant bits set, content seeded. */
    snprintf(out, 37, "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-%04" PRIx32 "-%012" PRIx64,
             (uint32_t)(h1 >> 32), (uint32_t)(h1 >> 16) & 0xFFFFu, (uint32_t)h1 & 0xFFFu,
             (uint32_t)(0x8000u | ((h2 >> 48) & 0x3FFFu)), (uint64_t)(h2 & 0xFFFFFFFFFFFFull));
}

void dm_escl_config_init(dm_escl_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->png_level = 1;
    cfg->plain_root = true;
    cfg->jpeg_quality = 90;
    cfg->job_idle_timeout_ns = 60ull * 1000000000ull;
    cfg->encode_ahead = true;
}

/* ---- front ------------------------------------------------------------------------------ */

int dm_escl_create(const dm_escl_config *cfg, dm_escl **out)
{
    const dm_alloc *a = dm_alloc_default();
    const dm_usb_identity *id;
    dm_escl *e;
    int rc;

    if (cfg == NULL || cfg->engine == NULL || out == NULL || cfg->png_level < 0 ||
        cfg->png_level > 9 || cfg->jpeg_quality < 1 || cfg->jpeg_quality > 100)
        return DM_E_INVALID;
    if (cfg->prefix != NULL && (strlen(cfg->prefix) >= sizeof(e->prefix) ||
                                (cfg->prefix[0] != '\0' && cfg->prefix[0] != '/')))
        return DM_E_INVALID;
    e = dm_malloc(a, sizeof(*e));
    if (e == NULL)
        return DM_E_NOMEM;
    e->alloc = a;
    e->eng = cfg->engine;
    e->cfg = *cfg;
    if (cfg->prefix != NULL)
        snprintf(e->prefix, sizeof(e->prefix), "%s", cfg->prefix);
    e->cfg.prefix = e->prefix;
    e->req_prefix = "";
    id = dm_profile_usb(dm_engine_profile(e->eng));
    snprintf(e->manufacturer, sizeof(e->manufacturer), "%s",
             id->manufacturer ? id->manufacturer : "");
    if (dm_engine_escl_quirks(e->eng)->make_and_model[0] != '\0')
        snprintf(e->make_model, sizeof(e->make_model), "%s",
                 dm_engine_escl_quirks(e->eng)->make_and_model);
    else if (cfg->make_and_model != NULL)
        snprintf(e->make_model, sizeof(e->make_model), "%s", cfg->make_and_model);
    else
        snprintf(e->make_model, sizeof(e->make_model), "%s %s",
                 id->manufacturer ? id->manufacturer : "", id->product ? id->product : "");
    snprintf(e->serial, sizeof(e->serial), "%s",
             cfg->serial ? cfg->serial : (id->serial ? id->serial : ""));
    e->cfg.make_and_model = e->make_model;
    e->cfg.serial = e->serial;
    {
        uint64_t h = 0;
        for (const char *s = e->serial; *s; s++)
            h = dm_mix64(h ^ (uint8_t)*s);
        make_uuid(h, ((uint64_t)id->vid << 16) | id->pid, e->uuid);
    }
    escl_caps_from_profile(e);
    rc = dm_engine_attach(e->eng, e);
    if (rc < 0) {
        dm_free(a, e);
        return rc;
    }
    *out = e;
    return DM_OK;
}

void dm_escl_free(dm_escl *e)
{
    if (e == NULL)
        return;
    dm_engine_detach(e->eng, e, dm_engine_now(e->eng));
    dm_free(e->alloc, e);
}

void escl_quirk_note(dm_escl *e, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    if (e->cfg.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    e->cfg.log(e->cfg.log_ctx, line);
}

escl_job *escl_job_find(dm_escl *e, const char *uuid, size_t len)
{
    for (uint32_t i = 0; i < ESCL_MAX_JOBS; i++) {
        escl_job *j = &e->jobs[i];
        if (j->used && strlen(j->uuid) == len && memcmp(j->uuid, uuid, len) == 0)
            return j;
    }
    return NULL;
}

escl_job *escl_job_new(dm_escl *e, uint64_t now_ns)
{
    escl_job *j = &e->jobs[e->n_jobs % ESCL_MAX_JOBS];

    memset(j, 0, sizeof(*j));
    j->used = true;
    j->serial = ++e->n_jobs;
    make_uuid(dm_engine_seed(e->eng) ^ 0x10B5u, j->serial, j->uuid);
    j->state = ESCL_JOB_PROCESSING;
    j->created_ns = now_ns;
    j->last_activity_ns = now_ns;
    return j;
}

/* The engine's job of this front ended (or was canceled): record why. */
void escl_job_finish(dm_escl *e, escl_job *j, dm_status st, uint64_t now_ns)
{
    (void)now_ns;
    if (j == NULL)
        return;
    j->engine_live = false;
    j->end = st;
    switch (st) {
    case DM_ST_OK:
    case DM_ST_FEEDER_EMPTY:
        j->state = ESCL_JOB_COMPLETED;
        j->reason = "JobCompletedSuccessfully";
        break;
    case DM_ST_CANCELED:
        j->state = ESCL_JOB_CANCELED;
        j->reason = "JobCanceledByUser";
        break;
    default:
        j->state = ESCL_JOB_ABORTED;
        j->reason = "AbortedBySystem";
        break;
    }
    if (e->cur == j)
        e->cur = NULL;
}

/* Advance the engine past a job end that is due while nobody streams, and
 * abort a job nobody has read for job_idle_timeout_ns. */
uint64_t dm_escl_poll(dm_escl *e, uint64_t now_ns)
{
    dm_item it;
    escl_job *j = e->cur;

    if (j == NULL || e->streamer != NULL)
        return UINT64_MAX;
    dm_engine_peek(e->eng, e, now_ns, &it);
    if (it.kind == DM_ITEM_NONE) {
        escl_job_finish(e, j, DM_ST_CANCELED, now_ns);
        return UINT64_MAX;
    }
    if (it.kind == DM_ITEM_JOB_END && it.action == DM_ACT_DELIVER) {
        dm_item done;
        dm_engine_consume(e->eng, e, now_ns, &done);
        escl_job_finish(e, j, it.status, now_ns);
        return UINT64_MAX;
    }
    if (e->cfg.job_idle_timeout_ns != 0 &&
        now_ns - j->last_activity_ns >= e->cfg.job_idle_timeout_ns) {
        dm_engine_cancel(e->eng, e, now_ns);
        escl_job_finish(e, j, DM_ST_CANCELED, now_ns);
        j->state = ESCL_JOB_ABORTED;
        j->reason = "AbortedBySystem";
        return UINT64_MAX;
    }
    {
        uint64_t idle = e->cfg.job_idle_timeout_ns
                            ? j->last_activity_ns + e->cfg.job_idle_timeout_ns
                            : UINT64_MAX;
        uint64_t end = it.kind == DM_ITEM_JOB_END ? it.deadline_ns : UINT64_MAX;
        return idle < end ? idle : end;
    }
}

const char *escl_job_state_name(enum escl_job_state s)
{
    return job_state_name(s);
}
