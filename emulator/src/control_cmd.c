/* The control socket's commands on device-model devices (docs/control.md):
 * list/status, fault, clear, feed, timing, watch, plug, unplug; and the
 * watch events, made from the engines' notes and the server's attach and
 * detach hook. Requests are answered on the control socket's thread; every
 * call into a device's model is made with that device's lock held. Pages
 * and bands are 1-based here, as in scenario files (the trace's are
 * 0-based). */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bind-internal.h"

static const char *source_name(unsigned s)
{
    return s == PROTO_SCAN_SOURCE_FLATBED  ? "flatbed"
           : s == PROTO_SCAN_SOURCE_ADF    ? "adf"
           : s == PROTO_SCAN_SOURCE_DUPLEX ? "duplex"
                                           : "?";
}

static const char *mode_name(unsigned m)
{
    switch (m) {
    case PROTO_SCAN_MODE_BW:
        return "bw";
    case PROTO_SCAN_MODE_GRAY8:
        return "gray";
    case PROTO_SCAN_MODE_COLOR24:
        return "color";
    case PROTO_SCAN_MODE_GRAY16:
        return "gray16";
    case PROTO_SCAN_MODE_COLOR48:
        return "color48";
    default:
        return "?";
    }
}

static const char *adf_name(dm_adf_state a)
{
    static const char *const names[] = {"none",   "loaded",    "empty",
                                        "jammed", "door_open", "multipick"};
    return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "?";
}

static const char *when_name(dm_live_when w)
{
    return w == DM_LIVE_CURRENT_JOB ? "current_job" : w == DM_LIVE_NEXT_JOB ? "next_job" : "now";
}

/* ---- events ---------------------------------------------------------------------------------- */

static int64_t rel_ns(uint64_t t, uint64_t origin)
{
    return (int64_t)(t - origin);
}

void emu_ctl_dm_note(void *ctx, const dm_note *n)
{
    emu_dm_slot *s = ctx;
    emu_ctl *ctl = s->b->ctl;
    char line[1024];
    int len = 0;

    if (ctl == NULL)
        return;
    switch (n->kind) {
    case DM_NOTE_JOB_STARTED:
        len = snprintf(line, sizeof line,
                       "{\"event\":\"job_started\",\"busid\":\"%s\",\"job\":%" PRIu64
                       ",\"source\":\"%s\",\"mode\":\"%s\",\"dpi\":%u,\"pages\":%u,"
                       "\"bands_per_page\":%u,\"t_ns\":%" PRIu64 "}",
                       s->busid, n->job_no, source_name(n->job->source), mode_name(n->job->mode),
                       n->job->dpi, n->job->pages, n->job->bands_per_page, n->release_ns);
        break;
    case DM_NOTE_PAGE_STARTED:
        len = snprintf(line, sizeof line,
                       "{\"event\":\"page_started\",\"busid\":\"%s\",\"job\":%" PRIu64
                       ",\"page\":%u,\"side\":\"%s\",\"release_ns\":%" PRId64 "}",
                       s->busid, n->job_no, n->page + 1, n->side ? "back" : "front",
                       rel_ns(n->release_ns, n->job_start_ns));
        break;
    case DM_NOTE_BAND:
        len = snprintf(line, sizeof line,
                       "{\"event\":\"band\",\"busid\":\"%s\",\"job\":%" PRIu64
                       ",\"page\":%u,\"side\":\"%s\",\"band\":%u,\"deadline_ns\":%" PRId64
                       ",\"release_ns\":%" PRId64 ",\"late_ns\":%" PRId64 ",\"bytes\":%u}",
                       s->busid, n->job_no, n->page + 1, n->side ? "back" : "front", n->band + 1,
                       rel_ns(n->deadline_ns, n->job_start_ns),
                       rel_ns(n->release_ns, n->job_start_ns),
                       (int64_t)(n->release_ns - n->deadline_ns), n->bytes);
        break;
    case DM_NOTE_FAULT:
        if (n->at_band)
            len = snprintf(line, sizeof line,
                           "{\"event\":\"fault\",\"busid\":\"%s\",\"job\":%" PRIu64
                           ",\"kind\":\"%s\",\"source\":\"%s\",\"page\":%u,\"side\":\"%s\","
                           "\"band\":%u}",
                           s->busid, n->job_no, n->fault, n->live ? "control" : "scenario",
                           n->page + 1, n->side ? "back" : "front", n->band + 1);
        else
            len = snprintf(line, sizeof line,
                           "{\"event\":\"fault\",\"busid\":\"%s\",\"job\":%" PRIu64
                           ",\"kind\":\"%s\",\"source\":\"%s\",\"at\":\"start\"}",
                           s->busid, n->job_no, n->fault, n->live ? "control" : "scenario");
        break;
    case DM_NOTE_JOB_ENDED:
        /* The job's timing report and --strict-timing verdict ride on the
         * event itself, so no watcher sees one without the other. */
        len = snprintf(line, sizeof line,
                       "{\"event\":\"job_ended\",\"busid\":\"%s\",\"job\":%" PRIu64
                       ",\"status\":\"%s\",\"pages_done\":%u",
                       s->busid, n->job_no, dm_status_name(n->status), n->pages_done);
        if (len > 0 && (size_t)len < sizeof line && n->timing != NULL) {
            line[len++] = ',';
            len += (int)emu_timing_job_fields(line + len, sizeof line - (size_t)len, n->timing,
                                              s->b->strict);
        }
        if (len > 0 && (size_t)len + 1 < sizeof line) {
            line[len++] = '}';
            line[len] = '\0';
        } else {
            len = 0;
        }
        break;
    default:
        return;
    }
    if (len > 0 && (size_t)len < sizeof line)
        emu_ctl_publish(ctl, s->busid, line, (size_t)len);
}

static void publish_simple(emu_dm_bundle *b, const char *event, const char *busid, const char *peer)
{
    char line[256];
    int len;

    if (b->ctl == NULL)
        return;
    if (peer != NULL)
        len = snprintf(line, sizeof line, "{\"event\":\"%s\",\"busid\":\"%s\",\"peer\":\"%s\"}",
                       event, busid, peer);
    else
        len = snprintf(line, sizeof line, "{\"event\":\"%s\",\"busid\":\"%s\"}", event, busid);
    if (len > 0 && (size_t)len < sizeof line)
        emu_ctl_publish(b->ctl, busid, line, (size_t)len);
}

void emu_ctl_dm_dev_event(void *ctx, size_t slot, const char *busid, int attached, const char *peer)
{
    (void)slot;
    publish_simple(ctx, attached ? "attached" : "detached", busid, peer);
}

/* ---- replies ----------------------------------------------------------------------------------
 */

static json_t *fail(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *fail(const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:b,s:s,s:s}", "ok", 0, "code", code, "error", msg);
}

static json_t *ok(void)
{
    return json_pack("{s:b}", "ok", 1);
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* Everything `status` says about one present slot. */
static json_t *device_json(emu_dm_bundle *b, emu_dm_slot *s)
{
    dm_engine_status st;
    dm_live_armed armed[DM_ENGINE_MAX_LIVE];
    uint32_t narmed = 0;
    char peer[64], hex[8], url[512];
    json_t *d, *live, *job = json_null();

    emu_server_slot_info(b->srv, s->index, peer, sizeof peer);
    pthread_mutex_lock(&s->lock);
    dm_engine_status_get(s->engine, dm_engine_now(s->engine), &st);
    for (; narmed < st.live_armed && narmed < DM_ENGINE_MAX_LIVE; narmed++)
        if (dm_engine_live_get(s->engine, narmed, &armed[narmed]) < 0)
            break;
    pthread_mutex_unlock(&s->lock);

    live = json_array();
    for (uint32_t i = 0; i < narmed; i++)
        json_array_append_new(
            live, json_pack("{s:s,s:s,s:i,s:i}", "kind", dm_fault_name(armed[i].kind), "job",
                            when_name(armed[i].when), "page", (json_int_t)armed[i].page + 1, "band",
                            (json_int_t)armed[i].band + 1));
    if (st.job_valid)
        job = json_pack("{s:I,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i}", "no",
                        (json_int_t)st.stats.jobs_started, "source", source_name(st.job.source),
                        "mode", mode_name(st.job.mode), "dpi", (json_int_t)st.job.dpi, "pages",
                        (json_int_t)st.job.pages, "bands_per_page",
                        (json_int_t)st.job.bands_per_page, "page", (json_int_t)st.page + 1, "band",
                        (json_int_t)st.band + 1, "pages_done", (json_int_t)st.pages_done);
    d = json_pack("{s:s,s:{s:s,s:o},s:{s:s,s:o},s:I,s:[s],s:o,s:s,s:o,s:s}", "busid", s->busid,
                  "profile", "name", dm_profile_name(s->profile), "file",
                  str_or_null(s->profile_path), "scenario", "name", dm_scenario_name(s->scenario),
                  "file", str_or_null(s->scenario_path), "seed", (json_int_t)s->seed, "protocols",
                  "native", "client", str_or_null(peer), "state",
                  st.state == DM_ENGINE_PROCESSING   ? "processing"
                  : st.state == DM_ENGINE_WARMING_UP ? "warming_up"
                                                     : "idle",
                  "job", job, "last_result", dm_status_name(st.last_result));
    if (d == NULL)
        return NULL;
    snprintf(hex, sizeof hex, "%04x", s->id.vid);
    json_t *usb = json_pack("{s:s}", "vid", hex);
    snprintf(hex, sizeof hex, "%04x", s->id.pid);
    json_object_set_new(usb, "pid", json_string(hex));
    json_object_set_new(usb, "serial", json_string(s->serial));
    json_object_set_new(d, "usb", usb);
    if (s->escl != NULL) {
        snprintf(url, sizeof url, "http://%s:%u/%s/eSCL", b->escl_host,
                 emu_server_escl_port(b->srv), s->busid);
        json_object_set_new(d, "escl", json_string(url));
    } else {
        json_object_set_new(d, "escl", json_null());
    }
    json_object_set_new(d, "feeder",
                        json_pack("{s:i,s:b,s:s}", "sheets", (json_int_t)st.sheets, "manual",
                                  st.feeder_manual, "state", adf_name(st.adf)));
    json_object_set_new(d, "faults",
                        json_pack("{s:o,s:i,s:b,s:I}", "live", live, "busy_refusals",
                                  (json_int_t)st.live_busy, "cover_open", st.live_cover_open,
                                  "warming_up_ms", (json_int_t)(st.live_warmup_ns / 1000000u)));
    json_object_set_new(d, "time_scale", json_real(st.time_scale));
    json_object_set_new(
        d, "stats",
        json_pack("{s:I,s:I,s:I,s:I,s:I}", "jobs", (json_int_t)st.stats.jobs_started, "bands",
                  (json_int_t)st.stats.bands_released, "late_bands",
                  (json_int_t)st.stats.late_bands, "max_late_ns", (json_int_t)st.stats.max_late_ns,
                  "faults_fired", (json_int_t)st.stats.faults_fired));
    return d;
}

/* The present slot a request's "busid" names, or NULL with *err set. */
static emu_dm_slot *req_slot(emu_dm_bundle *b, json_t *req, json_t **err)
{
    const char *busid = json_string_value(json_object_get(req, "busid"));
    int slot;

    if (busid == NULL) {
        *err = fail("bad_request", "\"busid\" (a string such as \"1-1\") is required");
        return NULL;
    }
    slot = emu_busid_slot(busid);
    if (slot < 0 || !b->slots[slot].present) {
        *err = fail("unknown_busid", "no device with busid \"%.32s\"", busid);
        return NULL;
    }
    return &b->slots[slot];
}

/* An optional non-negative integer member; -1 (with *err) when wrong. */
static int opt_uint(json_t *req, const char *key, uint64_t max, uint64_t *out, bool *present,
                    json_t **err)
{
    json_t *v = json_object_get(req, key);

    if (present)
        *present = v != NULL;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
        *err = fail("bad_request", "\"%s\" must be an integer 0-%" PRIu64, key, max);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static json_t *cmd_status(emu_dm_bundle *b, json_t *req)
{
    json_t *r, *arr, *err = NULL;
    emu_dm_slot *one = NULL;

    if (json_object_get(req, "busid") != NULL && (one = req_slot(b, req, &err)) == NULL)
        return err;
    arr = json_array();
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        emu_dm_slot *s = &b->slots[i];
        if (!s->present || (one && s != one))
            continue;
        json_array_append_new(arr, device_json(b, s));
    }
    r = ok();
    json_object_set_new(r, "devices", arr);
    return r;
}

static json_t *cmd_fault(emu_dm_bundle *b, json_t *req)
{
    json_t *err = NULL, *r;
    emu_dm_slot *s = req_slot(b, req, &err);
    const char *kind = json_string_value(json_object_get(req, "kind"));
    dm_live_fault f;
    dm_live_armed where;
    uint64_t page = 0, band = 0, ms = 0, count = 0, bytes = 0;
    bool has_page, has_band;
    char msg[256];
    int rc;

    if (s == NULL)
        return err;
    memset(&f, 0, sizeof f);
    f.kind = kind ? dm_fault_kind_parse(kind) : DM_E_INVALID;
    if (f.kind < 0)
        return fail("bad_request", "\"kind\" must be a scenario fault kind (paper_jam, "
                                   "multi_feed, cover_open, feeder_empty, warming_up, busy, "
                                   "stall, short_band, corrupt_band, band_never_comes, "
                                   "disconnect, delay, device_error, button)");
    if (opt_uint(req, "page", 100000, &page, &has_page, &err) < 0 ||
        opt_uint(req, "band", 1000000, &band, &has_band, &err) < 0 ||
        opt_uint(req, "ms", 600000, &ms, NULL, &err) < 0 ||
        opt_uint(req, "count", 1000000, &count, NULL, &err) < 0 ||
        opt_uint(req, "bytes", 16u << 20, &bytes, NULL, &err) < 0)
        return err;
    if ((has_page && page < 1) || (has_band && band < 1))
        return fail("bad_request", "pages and bands count from 1");
    if (has_band && !has_page)
        return fail("bad_request", "\"band\" needs \"page\"");
    f.placed = has_page;
    f.page = has_page ? (uint32_t)page - 1 : 0;
    f.band = has_band ? (uint32_t)band - 1 : 0;
    f.ms = (uint32_t)ms;
    f.count = (uint32_t)count;
    f.bytes = (uint32_t)bytes;
    f.no_clear = json_is_true(json_object_get(req, "no_clear"));
    msg[0] = '\0';
    pthread_mutex_lock(&s->lock);
    rc = dm_engine_live_fault(s->engine, &f, dm_engine_now(s->engine), &where, msg, sizeof msg);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0)
        return fail(rc == DM_E_RANGE ? "out_of_range" : "bad_request", "%s",
                    msg[0] ? msg : dm_strerror(rc));
    emu_logf(&s->log, EMU_LOG_INFO, s->busid, "control: %s armed (%s, page %u band %u)", kind,
             when_name(where.when), where.page + 1, where.band + 1);
    r = ok();
    json_object_set_new(r, "armed",
                        where.when == DM_LIVE_NOW
                            ? json_pack("{s:s,s:s}", "kind", kind, "job", "now")
                            : json_pack("{s:s,s:s,s:i,s:i}", "kind", kind, "job",
                                        when_name(where.when), "page", (json_int_t)where.page + 1,
                                        "band", (json_int_t)where.band + 1));
    return r;
}

static json_t *cmd_clear(emu_dm_bundle *b, json_t *req)
{
    json_t *err = NULL, *r;
    emu_dm_slot *s = req_slot(b, req, &err);
    uint32_t n;

    if (s == NULL)
        return err;
    pthread_mutex_lock(&s->lock);
    n = dm_engine_live_clear(s->engine, dm_engine_now(s->engine));
    pthread_mutex_unlock(&s->lock);
    r = ok();
    json_object_set_new(r, "disarmed", json_integer(n));
    return r;
}

static json_t *cmd_feed(emu_dm_bundle *b, json_t *req)
{
    json_t *err = NULL, *r;
    emu_dm_slot *s = req_slot(b, req, &err);
    uint64_t sheets = 0;
    bool has;
    dm_engine_status st;
    int rc;

    if (s == NULL)
        return err;
    if (opt_uint(req, "sheets", 100000, &sheets, &has, &err) < 0)
        return err;
    if (!has)
        return fail("bad_request", "\"sheets\" is required");
    pthread_mutex_lock(&s->lock);
    rc = dm_engine_live_feed(s->engine, (uint32_t)sheets, dm_engine_now(s->engine));
    dm_engine_status_get(s->engine, dm_engine_now(s->engine), &st);
    pthread_mutex_unlock(&s->lock);
    if (rc == DM_E_STATE)
        return fail("no_feeder", "%s's profile has no feeder", s->busid);
    if (rc < 0)
        return fail("out_of_range", "%u more sheets do not fit: %u are in the feeder",
                    (unsigned)sheets, st.sheets);
    emu_logf(&s->log, EMU_LOG_INFO, s->busid, "control: fed %u sheets (%u in the feeder)",
             (unsigned)sheets, st.sheets);
    r = ok();
    json_object_set_new(r, "sheets", json_integer(st.sheets));
    return r;
}

static json_t *cmd_timing(emu_dm_bundle *b, json_t *req)
{
    json_t *err = NULL;
    emu_dm_slot *s = req_slot(b, req, &err);
    json_t *v = json_object_get(req, "scale");
    int rc;

    if (s == NULL)
        return err;
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return fail("bad_request", "\"scale\" (a number, 0 < scale <= 100) is required");
    pthread_mutex_lock(&s->lock);
    rc = dm_engine_live_scale(s->engine, json_number_value(v));
    pthread_mutex_unlock(&s->lock);
    if (rc < 0)
        return fail("out_of_range", "scale %g is not in (0, 100]", json_number_value(v));
    emu_logf(&s->log, EMU_LOG_INFO, s->busid, "control: time scale %g", json_number_value(v));
    return ok();
}

static json_t *cmd_unplug(emu_dm_bundle *b, json_t *req)
{
    json_t *err = NULL;
    emu_dm_slot *s = req_slot(b, req, &err);
    char busid[PROTO_USBIP_BUSID_SIZE];

    if (s == NULL)
        return err;
    snprintf(busid, sizeof busid, "%s", s->busid);
    emu_dm_unplug(b, s->index);
    publish_simple(b, "unplugged", busid, NULL);
    return ok();
}

/* "VID:PID" in hex. */
static int parse_usb_id(const char *s, uint16_t *vid, uint16_t *pid)
{
    unsigned v, p;
    int n = 0;

    if (s == NULL || strlen(s) != 9 || strspn(s, "0123456789abcdefABCDEF:") != 9 || s[4] != ':' ||
        sscanf(s, "%4x:%4x%n", &v, &p, &n) != 2 || n != 9)
        return -1;
    *vid = (uint16_t)v;
    *pid = (uint16_t)p;
    return 0;
}

static json_t *cmd_plug(emu_dm_bundle *b, json_t *req)
{
    emu_dm_plug_opts p;
    const char *busid = json_string_value(json_object_get(req, "busid"));
    json_t *err = NULL, *r, *v;
    char msg[512];
    int slot = -1, rc;

    memset(&p, 0, sizeof p);
    p.profile_path = json_string_value(json_object_get(req, "profile"));
    p.scenario_path = json_string_value(json_object_get(req, "scenario"));
    p.serial = json_string_value(json_object_get(req, "serial"));
    if (json_object_get(req, "profile") != NULL && p.profile_path == NULL)
        return fail("bad_request", "\"profile\" is a path (a string)");
    if (json_object_get(req, "scenario") != NULL && p.scenario_path == NULL)
        return fail("bad_request", "\"scenario\" is a path (a string)");
    if (p.serial != NULL && (strlen(p.serial) == 0 || strlen(p.serial) > 126))
        return fail("bad_request", "\"serial\" must have 1-126 characters");
    v = json_object_get(req, "seed");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return fail("bad_request", "\"seed\" must be a non-negative integer");
        p.seed_set = 1;
        p.seed = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(req, "usb_id");
    if (v != NULL) {
        if (parse_usb_id(json_string_value(v), &p.vid, &p.pid) < 0)
            return fail("bad_request", "\"usb_id\" must be VID:PID in hex, e.g. \"1209:0002\"");
        p.usb_id_set = 1;
    }
    if (busid != NULL) {
        slot = emu_busid_slot(busid);
        if (slot < 0)
            return fail("bad_request", "\"busid\" must be 1-1 .. 1-%d", EMU_MAX_DEVICES);
        if (b->slots[slot].present)
            return fail("busid_taken", "busid %s is plugged already", busid);
    } else {
        for (size_t i = 0; i < EMU_MAX_DEVICES && slot < 0; i++)
            if (!b->slots[i].present)
                slot = (int)i;
        if (slot < 0)
            return fail("full", "all %d busids are plugged", EMU_MAX_DEVICES);
    }
    msg[0] = '\0';
    rc = emu_dm_plug(b, (size_t)slot, &p, msg, sizeof msg);
    if (rc < 0)
        return fail(rc == EMU_E_FIXTURE ? "fixture" : "plug_failed", "%s",
                    msg[0] ? msg : emu_strerror(rc));
    publish_simple(b, "plugged", b->slots[slot].busid, NULL);
    r = ok();
    json_object_set_new(r, "busid", json_string(b->slots[slot].busid));
    json_object_set_new(r, "device", device_json(b, &b->slots[slot]));
    (void)err;
    return r;
}

json_t *emu_ctl_dm_handle(void *ctx, json_t *req, int *watch, char *busid, size_t blen)
{
    emu_dm_bundle *b = ctx;
    const char *cmd = json_string_value(json_object_get(req, "cmd"));

    if (cmd == NULL)
        return fail("bad_request", "\"cmd\" (a string) is required");
    if (strcmp(cmd, "list") == 0 || strcmp(cmd, "status") == 0)
        return cmd_status(b, req);
    if (strcmp(cmd, "fault") == 0)
        return cmd_fault(b, req);
    if (strcmp(cmd, "clear") == 0)
        return cmd_clear(b, req);
    if (strcmp(cmd, "feed") == 0)
        return cmd_feed(b, req);
    if (strcmp(cmd, "timing") == 0)
        return cmd_timing(b, req);
    if (strcmp(cmd, "unplug") == 0)
        return cmd_unplug(b, req);
    if (strcmp(cmd, "plug") == 0)
        return cmd_plug(b, req);
    if (strcmp(cmd, "watch") == 0) {
        json_t *err = NULL;
        if (json_object_get(req, "busid") != NULL) {
            const char *want = json_string_value(json_object_get(req, "busid"));
            if (want == NULL || emu_busid_slot(want) < 0) {
                (void)err;
                return fail("bad_request", "\"busid\" must be 1-1 .. 1-%d", EMU_MAX_DEVICES);
            }
            snprintf(busid, blen, "%s", want);
        }
        *watch = 1;
        return json_pack("{s:b,s:b}", "ok", 1, "watching", 1);
    }
    return fail("unknown_command",
                "unknown command \"%.64s\" (list, status, fault, clear, feed, "
                "timing, watch, plug, unplug)",
                cmd);
}
