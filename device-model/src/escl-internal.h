/* eSCL front, private: the front's jobs, a connection's state, and the
 * split between escl.c (front and jobs), escl-conn.c (requests, responses,
 * the page stream) and escl-doc.c (the XML documents from the profile and
 * the engine's status). */
#ifndef SCANEMU_DM_ESCL_INTERNAL_H
#define SCANEMU_DM_ESCL_INTERNAL_H

#include "dm-internal.h"
#include "engine-internal.h"
#include "protocol/escl.h"
#include "dm/engine.h"
#include "dm/escl.h"
#include "escl-image.h"

#define ESCL_MAX_JOBS 8u          /* recent jobs kept for ScannerStatus */
#define ESCL_OUT_MAX  (16u << 20) /* bytes queued on one connection */
#define ESCL_DOC_MAX  (64u << 10) /* one XML document */
#define ESCL_PATH_MAX 512u

enum escl_job_state {
    ESCL_JOB_PROCESSING = 0,
    ESCL_JOB_COMPLETED,
    ESCL_JOB_ABORTED,
    ESCL_JOB_CANCELED,
};

typedef struct escl_job {
    bool used;
    uint32_t serial;
    char uuid[37];
    enum escl_job_state state;
    const char *reason; /* pwg:JobStateReason */
    dm_status end;
    bool engine_live; /* the engine's running job is this one */
    uint32_t images_completed;
    uint32_t next_page; /* the page NextDocument delivers next */
    uint64_t created_ns;
    uint64_t last_activity_ns;
    enum dm_img_format fmt;
    int jpeg_quality;
    proto_scan_job geo;
    /* quirk bookkeeping */
    uint32_t tries_503; /* NextDocument answered 503 for this page so far */
    uint64_t page_done_ns;
} escl_job;

struct dm_escl {
    const dm_alloc *alloc;
    dm_engine *eng;
    dm_escl_config cfg;
    char prefix[64];
    const char *req_prefix; /* "" or prefix: the root the current request used */
    char make_model[160];
    char serial[80];
    char uuid[37];
    escl_job jobs[ESCL_MAX_JOBS];
    uint32_t n_jobs;
    escl_job *cur;          /* the job the engine runs for this front */
    dm_escl_conn *streamer; /* the connection streaming a page of cur */
    bool stale_shown;       /* quirk: no stale AdfState once a job ran */
    char manufacturer[80];
    proto_escl_caps caps; /* from the profile, at create */
    char docbuf[PROTO_ESCL_OUT_MAX];
};

void escl_caps_from_profile(dm_escl *e);
/* A quirk answered a request: told to the config's log callback. */
void escl_quirk_note(dm_escl *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

escl_job *escl_job_find(dm_escl *e, const char *uuid, size_t len);
escl_job *escl_job_new(dm_escl *e, uint64_t now_ns);
void escl_job_finish(dm_escl *e, escl_job *j, dm_status st, uint64_t now_ns);
const char *escl_job_state_name(enum escl_job_state s);

/* escl-conn.c, for tests: whether c holds a band encoded ahead of its
 * deadline (dm_escl_config.encode_ahead), with its dm_item.id and the bytes
 * it compressed to so far (valid until the next call on c). */
bool escl_conn_ahead(const dm_escl_conn *c, uint64_t *id, const uint8_t **bytes, size_t *len);

/* escl-doc.c: documents into *out (cleared first). DM_OK or DM_E_RANGE. */
int escl_doc_caps(dm_escl *e, dm_buf *out);
int escl_doc_status(dm_escl *e, uint64_t now_ns, dm_buf *out);
int escl_doc_image_info(dm_escl *e, const escl_job *j, dm_buf *out);

#endif
