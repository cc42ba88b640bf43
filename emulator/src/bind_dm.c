/* emu_server_create: loads the fixtures, creates one job engine per export
 * with its fronts (the native one behind the vendor interface; the eSCL one
 * behind the IPP-USB interfaces of a profile with `escl` in its protocols,
 * and behind the eSCL listener with --escl-listen) and binds them to the
 * server. A device's fronts are driven from different threads (the device's
 * USB/IP worker, its eSCL thread), so every call into the device model of
 * one device is made with that device's lock held. The device
 * model's errors (dm_err) are translated here, once, to EMU_E_FIXTURE. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bind-internal.h"
#include "dm/engine.h"

typedef emu_dm_slot emu_dm_port;

static int be_bulk_out(void *ctx, const uint8_t *buf, size_t len)
{
    emu_dm_port *p = ctx;
    char msg[384];
    int rc, never = 0;
    dm_device_stats st;

    pthread_mutex_lock(&p->lock);
    rc = dm_device_bulk_out(p->device, buf, len);
    dm_device_get_stats(p->device, &st);
    if (st.jobs_started != p->jobs_seen) {
        /* A job started: say so if a scripted fault can never fire in it. */
        p->jobs_seen = st.jobs_started;
        never = dm_device_job_check(p->device, msg, sizeof msg) == DM_E_RANGE;
    }
    pthread_mutex_unlock(&p->lock);
    if (never)
        emu_logf(&p->log, EMU_LOG_WARN, p->busid, "scenario fault never fires: %s", msg);
    return rc;
}
static void be_peek(void *ctx, enum dm_endpoint ep, uint64_t now_ns, dm_in *out)
{
    emu_dm_port *p = ctx;
    pthread_mutex_lock(&p->lock);
    dm_device_peek(p->device, ep, now_ns, out);
    pthread_mutex_unlock(&p->lock);
}
static void be_consume(void *ctx, enum dm_endpoint ep, uint64_t release_ns)
{
    emu_dm_port *p = ctx;
    pthread_mutex_lock(&p->lock);
    dm_device_consume(p->device, ep, release_ns);
    pthread_mutex_unlock(&p->lock);
}
static void be_consume_urb(void *ctx, enum dm_endpoint ep, uint64_t release_ns, uint64_t urb_ns)
{
    emu_dm_port *p = ctx;
    pthread_mutex_lock(&p->lock);
    dm_device_consume_urb(p->device, ep, release_ns, urb_ns);
    pthread_mutex_unlock(&p->lock);
}
static void be_clear_halt(void *ctx, enum dm_endpoint ep)
{
    emu_dm_port *p = ctx;
    pthread_mutex_lock(&p->lock);
    dm_device_clear_halt(p->device, ep);
    pthread_mutex_unlock(&p->lock);
}
static void be_reset(void *ctx)
{
    emu_dm_port *p = ctx;
    pthread_mutex_lock(&p->lock);
    dm_device_reset(p->device);
    pthread_mutex_unlock(&p->lock);
}

/* The eSCL front's notes: a quirk that answered, a fault that cannot fire
 * in the job just started (dm_escl_config.log). */
static void escl_quirk_log(void *ctx, const char *line)
{
    emu_dm_port *p = ctx;
    emu_logf(&p->log, EMU_LOG_INFO, p->busid, "escl: %s", line);
}

static const emu_backend_ops dm_backend = {
    .bulk_out = be_bulk_out,
    .peek = be_peek,
    .consume = be_consume,
    .consume_urb = be_consume_urb,
    .clear_halt = be_clear_halt,
    .reset = be_reset,
};

/* ---- slots ----------------------------------------------------------------------------- */

/* The server stops (every thread that drives a device has ended): a job
 * still running ends here as at power-off, then each device's timing totals
 * are reported. EMU_E_TIMING when --strict-timing and a job was not
 * faithful. */
static int bundle_finish(void *arg)
{
    emu_dm_bundle *b = arg;
    int rc = EMU_OK;

    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        emu_dm_slot *s = &b->slots[i];
        dm_engine *eng = s->engine;
        dm_engine_status st;
        dm_lat_summary dev;
        uint64_t jobs, bad;

        if (!s->present || eng == NULL)
            continue;
        pthread_mutex_lock(&s->lock);
        dm_engine_status_get(eng, dm_engine_now(eng), &st);
        if (st.state == DM_ENGINE_PROCESSING)
            dm_engine_power_cycle(eng, dm_engine_now(eng));
        dm_engine_timing_get(eng, &dev, &jobs, &bad);
        pthread_mutex_unlock(&s->lock);
        emu_timing_device_end(&s->timing, &dev, jobs, bad, b->timing);
        if (b->strict && b->timing && bad > 0)
            rc = EMU_E_TIMING;
    }
    return rc;
}

/* The scenario at path (NULL: the built-in clean one), loading it only the
 * first time a path is named at start-up. */
static int bundle_scenario(emu_dm_bundle *b, const char *path, dm_scenario **out, char *errbuf,
                           size_t errlen)
{
    for (size_t i = 0; i < b->nscenarios; i++) {
        const char *have = b->scenario_paths[i];
        if (have == path || (have && path && strcmp(have, path) == 0)) {
            *out = b->scenarios[i];
            return 0;
        }
    }
    if (b->nscenarios >= sizeof b->scenarios / sizeof b->scenarios[0]) {
        snprintf(errbuf, errlen, "internal error: more scenarios than devices");
        return -1;
    }
    dm_scenario *sc;
    int rc = path ? dm_scenario_load_file(path, &sc, errbuf, errlen)
                  : dm_scenario_load_default(&sc, errbuf, errlen);
    if (rc < 0)
        return rc;
    b->scenario_paths[b->nscenarios] = path;
    b->scenarios[b->nscenarios++] = sc;
    *out = sc;
    return 0;
}

/* The serial a new device exports: the override, or the profile's with
 * "-BUSID" appended when a present device exports it already (a profile
 * exported twice: two distinct serials, the first one unchanged). */
static void slot_serial(emu_dm_bundle *b, emu_dm_slot *s, const char *override)
{
    char base[sizeof s->serial];
    snprintf(base, sizeof base, "%s", override ? override : (s->id.serial ? s->id.serial : ""));
    memcpy(s->serial, base, sizeof base);
    if (override)
        return;
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        const emu_dm_slot *o = &b->slots[i];
        if (o != s && o->present && strcmp(o->serial, base) == 0) {
            char busid[sizeof s->busid];
            memcpy(busid, s->busid, sizeof busid);
            snprintf(s->serial, sizeof s->serial, "%.90s-%.31s", base, busid);
            return;
        }
    }
}

/* Frees what slot_create made (safe on a partly made slot). */
static void slot_free(emu_dm_slot *s)
{
    dm_escl_free(s->escl);
    dm_device_free(s->device);
    dm_engine_free(s->engine);
    dm_profile_free(s->profile);
    dm_scenario_free(s->own_scenario);
    s->escl = NULL;
    s->device = NULL;
    s->engine = NULL;
    s->profile = NULL;
    s->own_scenario = NULL;
    s->scenario = NULL;
    s->present = false;
}

/* The device model of one slot: profile, scenario (start-up: shared through
 * bundle_scenario; a plug: its own), engine, native front, eSCL front. */
static int slot_create(emu_dm_bundle *b, size_t slot, const emu_dm_plug_opts *p, int startup,
                       char *errbuf, size_t errlen)
{
    emu_dm_slot *s = &b->slots[slot];
    dm_scenario *scenario = NULL;
    const char *scenario_path = p->scenario_path ? p->scenario_path : b->scenario_paths[0];
    int drc;

    drc = p->profile_path ? dm_profile_load_file(p->profile_path, &s->profile, errbuf, errlen)
                          : dm_profile_load_default(&s->profile, errbuf, errlen);
    if (drc < 0)
        goto out_fixture;
    if (startup || !p->scenario_path) {
        if (bundle_scenario(b, p->scenario_path ? p->scenario_path : b->scenario_paths[0],
                            &scenario, errbuf, errlen) < 0)
            goto out_fixture;
    } else {
        if (dm_scenario_load_file(p->scenario_path, &s->own_scenario, errbuf, errlen) < 0)
            goto out_fixture;
        scenario = s->own_scenario;
    }
    s->scenario = scenario;
    snprintf(s->profile_path, sizeof s->profile_path, "%s", p->profile_path ? p->profile_path : "");
    snprintf(s->scenario_path, sizeof s->scenario_path, "%s", scenario_path ? scenario_path : "");
    s->seed = p->seed_set ? p->seed : b->default_seed;
    s->id = *dm_profile_usb(s->profile);
    if (p->usb_id_set) {
        s->id.vid = p->vid;
        s->id.pid = p->pid;
    }
    slot_serial(b, s, p->serial);
    s->id.serial = s->serial;
    s->jobs_seen = 0;
    s->log = b->log;
    s->tport.trace = b->trace;
    memcpy(s->tport.busid, s->busid, sizeof s->tport.busid);

    /* dm_device_create refuses a scenario its profile cannot run without
     * saying why; this check says which file, key and fault. */
    drc = dm_scenario_check(scenario, s->profile, errbuf, errlen);
    if (drc < 0)
        goto out_fixture;
    dm_device_config cfg;
    dm_device_config_init(&cfg);
    cfg.profile = s->profile;
    cfg.scenario = scenario;
    cfg.seed = s->seed;
    cfg.clock = &b->clock.base;
    cfg.timing = b->timing;
    if (b->trace) {
        cfg.trace = emu_trace_record;
        cfg.trace_ctx = &s->tport;
    }
    emu_timing_port *tp = &s->timing;
    tp->log = b->log;
    memcpy(tp->busid, s->busid, sizeof tp->busid);
    tp->trace = b->trace;
    tp->strict = b->strict;
    tp->usb_front = NULL;
    cfg.late_tolerance_ns = b->late_tolerance_us * 1000u;
    cfg.job_end = emu_timing_job_end;
    cfg.job_end_ctx = tp;
    drc = dm_engine_create(&cfg, &s->engine);
    if (drc >= 0)
        drc = dm_device_create_on(s->engine, &s->device);
    int ippusb = (dm_profile_usb(s->profile)->protocols & DM_PROTOCOL_ESCL) != 0;
    if (drc >= 0 && (b->escl_fronts || ippusb)) {
        dm_escl_config ec;
        char prefix[PROTO_USBIP_BUSID_SIZE + 1];
        dm_escl_config_init(&ec);
        snprintf(prefix, sizeof prefix, "/%s", s->busid);
        ec.engine = s->engine;
        ec.prefix = prefix;
        /* Over TCP only the first device is at plain /eSCL (the listener
         * routes /BUSID/eSCL to the others); over IPP-USB every device is. */
        ec.plain_root = slot == 0 || ippusb;
        ec.png_level = b->png_level;
        ec.serial = s->serial;
        ec.log = escl_quirk_log;
        ec.log_ctx = s;
        drc = dm_escl_create(&ec, &s->escl);
    }
    if (drc < 0) {
        snprintf(errbuf, errlen, "cannot create device %s (%s, %s): %s", s->busid,
                 p->profile_path ? p->profile_path : "built-in profile",
                 scenario_path ? scenario_path : "built-in scenario", dm_strerror(drc));
        goto out_fixture;
    }
    tp->usb_front = s->device;
    dm_engine_set_observer(s->engine, emu_ctl_dm_note, s);
    s->present = true;
    return EMU_OK;

out_fixture:
    slot_free(s);
    return EMU_E_FIXTURE;
}

static void slot_export(const emu_dm_slot *s, emu_export *ex)
{
    ex->id = s->id;
    ex->ops = &dm_backend;
    ex->ctx = (void *)s;
    if (dm_profile_usb(s->profile)->protocols & DM_PROTOCOL_ESCL) {
        ex->escl = s->escl;
        ex->escl_lock = (pthread_mutex_t *)&s->lock;
    }
}

static void slot_escl_dev(emu_dm_slot *s, emu_escl_dev *d)
{
    snprintf(d->busid, sizeof d->busid, "%s", s->busid);
    d->front = s->escl;
    d->lock = &s->lock;
}

int emu_dm_plug(emu_dm_bundle *b, size_t slot, const emu_dm_plug_opts *p, char *errbuf,
                size_t errlen)
{
    emu_export ex;
    emu_escl_dev ed;
    int rc;

    if (slot >= EMU_MAX_DEVICES || b->slots[slot].present) {
        snprintf(errbuf, errlen, "busid 1-%zu is %s", slot + 1,
                 slot >= EMU_MAX_DEVICES ? "out of range" : "already plugged");
        return EMU_E_INVALID;
    }
    rc = slot_create(b, slot, p, 0, errbuf, errlen);
    if (rc < 0)
        return rc;
    slot_export(&b->slots[slot], &ex);
    rc = emu_server_plug(b->srv, slot, &ex, errbuf, errlen);
    if (rc < 0)
        goto out_free;
    if (b->escl) {
        slot_escl_dev(&b->slots[slot], &ed);
        rc = emu_escl_add(b->escl, slot, &ed, errbuf, errlen);
        if (rc < 0) {
            emu_server_unplug(b->srv, slot);
            goto out_free;
        }
    }
    return EMU_OK;

out_free:
    slot_free(&b->slots[slot]);
    return rc;
}

int emu_dm_unplug(emu_dm_bundle *b, size_t slot)
{
    if (slot >= EMU_MAX_DEVICES || !b->slots[slot].present)
        return EMU_E_INVALID;
    emu_escl_remove(b->escl, slot); /* its connections end, mid-stream or not */
    emu_server_unplug(b->srv, slot);
    pthread_mutex_lock(&b->slots[slot].lock);
    slot_free(&b->slots[slot]);
    pthread_mutex_unlock(&b->slots[slot].lock);
    return EMU_OK;
}

/* ---- the bundle ---------------------------------------------------------------------------- */

static void bundle_free(void *arg)
{
    emu_dm_bundle *b = arg;
    emu_escl_free(b->escl); /* its connections go before their fronts */
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        slot_free(&b->slots[i]);
        pthread_mutex_destroy(&b->slots[i].lock);
    }
    for (size_t i = 0; i < b->nscenarios; i++)
        dm_scenario_free(b->scenarios[i]);
    if (b->trace) {
        emu_trace_flush(b->trace);
        emu_trace_close(b->trace);
    }
    free(b);
}

static int escl_start(void *arg)
{
    return emu_escl_start(arg);
}
static void escl_signal_stop(void *arg)
{
    emu_escl_signal_stop(arg);
}
static void escl_join(void *arg)
{
    emu_escl_join(arg);
}
static const emu_companion_ops escl_companion = {
    .start = escl_start,
    .signal_stop = escl_signal_stop,
    .join = escl_join,
};

static int ctl_start(void *arg)
{
    return emu_ctl_start(arg);
}
static void ctl_signal_stop(void *arg)
{
    emu_ctl_signal_stop(arg);
}
static void ctl_join(void *arg)
{
    emu_ctl_join(arg);
}
static void ctl_free(void *arg)
{
    emu_ctl_free(arg);
}
static const emu_companion_ops ctl_companion = {
    .start = ctl_start,
    .signal_stop = ctl_signal_stop,
    .join = ctl_join,
};

/* --escl-listen: the listener over the start-up devices' eSCL fronts. */
static int escl_listen(emu_dm_bundle *b, size_t n, const emu_options *opts, char *errbuf,
                       size_t errlen)
{
    emu_escl_dev devs[EMU_MAX_DEVICES];
    emu_escl_opts eo;

    emu_escl_opts_init(&eo);
    eo.host = opts->escl_host ? opts->escl_host : "127.0.0.1";
    eo.port = opts->escl_port;
    eo.slice_us = opts->slice_us;
    if (opts->escl_slots)
        eo.slots = opts->escl_slots;
    if (opts->escl_deadline_ms)
        eo.deadline_ms = opts->escl_deadline_ms;
    for (size_t i = 0; i < n; i++)
        slot_escl_dev(&b->slots[i], &devs[i]);
    return emu_escl_create(&eo, devs, n, &b->log, &b->escl, errbuf, errlen);
}

int emu_server_create(const emu_options *opts, emu_server **out, char *errbuf, size_t errlen)
{
    size_t n = opts->n_devices ? opts->n_devices : 1;
    if (n > EMU_MAX_DEVICES) {
        snprintf(errbuf, errlen, "%zu devices requested; at most %d are supported", n,
                 EMU_MAX_DEVICES);
        return EMU_E_INVALID;
    }
    int rc = EMU_E_NOMEM;
    emu_dm_bundle *b = calloc(1, sizeof(*b));
    emu_export *ex = calloc(n, sizeof(*ex));
    emu_server *srv = NULL;
    if (!b || !ex) {
        snprintf(errbuf, errlen, "out of memory");
        goto out_free;
    }
    dm_clock_real_init(&b->clock);
    b->log.f = opts->log ? opts->log : stderr;
    b->log.level = opts->log_level;
    b->timing = opts->timing;
    b->png_level = opts->png_level;
    snprintf(b->escl_host, sizeof b->escl_host, "%s",
             opts->escl_host ? opts->escl_host : "127.0.0.1");
    b->default_seed = opts->seed;
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        b->slots[i].b = b;
        b->slots[i].index = i;
        snprintf(b->slots[i].busid, sizeof b->slots[i].busid, "1-%zu", i + 1);
        pthread_mutex_init(&b->slots[i].lock, NULL);
    }
    dm_scenario *default_scenario; /* loaded (and checked) even if every device has its own */
    rc = EMU_E_FIXTURE;
    if (bundle_scenario(b, opts->scenario_path, &default_scenario, errbuf, errlen) < 0)
        goto out_free;
    if (opts->trace_path &&
        emu_trace_open(opts->trace_path, &b->log, &b->trace, errbuf, errlen) < 0) {
        rc = EMU_E_TRACE;
        goto out_free;
    }
    if (opts->late_tolerance_us > EMU_LATE_TOLERANCE_US_MAX) {
        snprintf(errbuf, errlen, "late tolerance %llu us out of range 0-%llu",
                 (unsigned long long)opts->late_tolerance_us,
                 (unsigned long long)EMU_LATE_TOLERANCE_US_MAX);
        rc = EMU_E_INVALID;
        goto out_free;
    }
    b->strict = opts->strict_timing;
    b->late_tolerance_us = opts->late_tolerance_us;
    b->escl_fronts = opts->escl_listen;
    for (size_t i = 0; i < n; i++) {
        const emu_device_opts *own =
            opts->n_devices && opts->device_opts ? &opts->device_opts[i] : NULL;
        emu_dm_plug_opts p = {0};
        p.profile_path = opts->n_devices && opts->profile_paths ? opts->profile_paths[i] : NULL;
        if (own) {
            p.scenario_path = own->scenario_path;
            p.seed_set = own->seed_set;
            p.seed = own->seed;
            p.usb_id_set = own->usb_id_set;
            p.vid = own->vid;
            p.pid = own->pid;
            p.serial = own->serial;
        }
        rc = slot_create(b, i, &p, 1, errbuf, errlen);
        if (rc < 0)
            goto out_free;
        slot_export(&b->slots[i], &ex[i]);
    }
    rc = emu_server_create_ex(opts, ex, n, b->trace, &srv, errbuf, errlen);
    if (rc < 0)
        goto out_free;
    b->srv = srv;
    rc = emu_server_add_cleanup(srv, bundle_free, b);
    if (rc < 0) {
        snprintf(errbuf, errlen, "internal error: cleanup table full");
        goto out_free_server;
    }
    /* The bundle is the server's now: freed with it on any failure. */
    emu_dm_bundle *own = b;
    b = NULL;
    emu_server_set_finish(srv, bundle_finish, own);
    if (opts->escl_listen) {
        rc = escl_listen(own, n, opts, errbuf, errlen);
        if (rc < 0)
            goto out_free_server;
        emu_server_set_escl_port(srv, emu_escl_port(own->escl));
        rc = emu_server_add_companion(srv, &escl_companion, own->escl);
        if (rc < 0) {
            snprintf(errbuf, errlen, "internal error: companion table full");
            goto out_free_server;
        }
    }
    if (opts->control_path) {
        rc = emu_ctl_create(opts->control_path, &own->log, emu_ctl_dm_handle, own, &own->ctl,
                            errbuf, errlen);
        if (rc < 0)
            goto out_free_server;
        rc = emu_server_add_cleanup(srv, ctl_free, own->ctl); /* freed before the bundle */
        if (rc < 0)
            emu_ctl_free(own->ctl);
        else
            rc = emu_server_add_companion(srv, &ctl_companion, own->ctl);
        if (rc < 0) {
            snprintf(errbuf, errlen, "internal error: companion table full");
            goto out_free_server;
        }
        emu_server_set_dev_event(srv, emu_ctl_dm_dev_event, own);
    }
    free(ex);
    *out = srv;
    return EMU_OK;

out_free_server:
    emu_server_free(srv);
out_free:
    if (b)
        bundle_free(b);
    free(ex);
    return rc;
}
