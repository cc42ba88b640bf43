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

#include "dm/engine.h"
#include "emu-internal.h"

/* One exported device: the model plus what the binding logs about it. */
typedef struct emu_dm_port {
    dm_device *dev;
    pthread_mutex_t lock; /* the device model of this device */
    emu_log log;
    char busid[PROTO_USBIP_BUSID_SIZE];
    uint64_t jobs_seen;
    emu_trace_port *tport; /* NULL without --trace */
} emu_dm_port;

static int be_bulk_out(void *ctx, const uint8_t *buf, size_t len)
{
    emu_dm_port *p = ctx;
    char msg[384];
    int rc, never = 0;
    dm_device_stats st;

    pthread_mutex_lock(&p->lock);
    rc = dm_device_bulk_out(p->dev, buf, len);
    dm_device_get_stats(p->dev, &st);
    if (st.jobs_started != p->jobs_seen) {
        /* A job started: say so if a scripted fault can never fire in it. */
        p->jobs_seen = st.jobs_started;
        never = dm_device_job_check(p->dev, msg, sizeof msg) == DM_E_RANGE;
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
    dm_device_peek(p->dev, ep, now_ns, out);
    pthread_mutex_unlock(&p->lock);
}
static void be_consume(void *ctx, enum dm_endpoint ep, uint64_t release_ns)
{
    emu_dm_port *p = ctx;
    pthread_mutex_lock(&p->lock);
    dm_device_consume(p->dev, ep, release_ns);
    pthread_mutex_unlock(&p->lock);
}
static void be_consume_urb(void *ctx, enum dm_endpoint ep, uint64_t release_ns, uint64_t urb_ns)
{
    emu_dm_port *p = ctx;
    pthread_mutex_lock(&p->lock);
    dm_device_consume_urb(p->dev, ep, release_ns, urb_ns);
    pthread_mutex_unlock(&p->lock);
}
static void be_clear_halt(void *ctx, enum dm_endpoint ep)
{
    emu_dm_port *p = ctx;
    pthread_mutex_lock(&p->lock);
    dm_device_clear_halt(p->dev, ep);
    pthread_mutex_unlock(&p->lock);
}
static void be_reset(void *ctx)
{
    emu_dm_port *p = ctx;
    pthread_mutex_lock(&p->lock);
    dm_device_reset(p->dev);
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

/* Everything the dm side owns; freed after the server. */
typedef struct emu_dm_bundle {
    dm_clock_real clock;
    /* Scenarios, each loaded once per distinct path (NULL: the built-in);
     * [0] is every device's default. */
    dm_scenario *scenarios[EMU_MAX_DEVICES + 1];
    const char *scenario_paths[EMU_MAX_DEVICES + 1];
    size_t nscenarios;
    size_t n;
    dm_profile *profiles[EMU_MAX_DEVICES];
    dm_engine *engines[EMU_MAX_DEVICES];
    dm_device *devices[EMU_MAX_DEVICES];
    dm_escl *escl_fronts[EMU_MAX_DEVICES];
    emu_escl *escl; /* the eSCL listener, NULL without --escl-listen */
    emu_log escl_log;
    emu_dm_port dm_ports[EMU_MAX_DEVICES];
    emu_trace_port ports[EMU_MAX_DEVICES];
    emu_timing_port timing_ports[EMU_MAX_DEVICES];
    emu_trace *trace;
    int timing; /* the profile's schedule is kept (not --no-timing) */
    int strict; /* --strict-timing */
} emu_dm_bundle;

static void bundle_free(void *arg)
{
    emu_dm_bundle *b = arg;
    emu_escl_free(b->escl); /* its connections go before their fronts */
    for (size_t i = 0; i < b->n; i++) {
        dm_escl_free(b->escl_fronts[i]);
        dm_device_free(b->devices[i]);
        dm_engine_free(b->engines[i]);
        dm_profile_free(b->profiles[i]);
        pthread_mutex_destroy(&b->dm_ports[i].lock);
    }
    for (size_t i = 0; i < b->nscenarios; i++)
        dm_scenario_free(b->scenarios[i]);
    if (b->trace) {
        emu_trace_flush(b->trace);
        emu_trace_close(b->trace);
    }
    free(b);
}

/* The server stops (every thread that drives a device has ended): a job
 * still running ends here as at power-off, then each device's timing totals
 * are reported. EMU_E_TIMING when --strict-timing and a job was not
 * faithful. */
static int bundle_finish(void *arg)
{
    emu_dm_bundle *b = arg;
    int rc = EMU_OK;

    for (size_t i = 0; i < b->n; i++) {
        dm_engine *eng = b->engines[i];
        dm_engine_status st;
        dm_lat_summary dev;
        uint64_t jobs, bad;

        pthread_mutex_lock(&b->dm_ports[i].lock);
        dm_engine_status_get(eng, dm_engine_now(eng), &st);
        if (st.state == DM_ENGINE_PROCESSING)
            dm_engine_power_cycle(eng, dm_engine_now(eng));
        dm_engine_timing_get(eng, &dev, &jobs, &bad);
        pthread_mutex_unlock(&b->dm_ports[i].lock);
        emu_timing_device_end(&b->timing_ports[i], &dev, jobs, bad, b->timing);
        if (b->strict && b->timing && bad > 0)
            rc = EMU_E_TIMING;
    }
    return rc;
}

/* The scenario at path (NULL: the built-in clean one), loading it only the
 * first time a path is named. */
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

/* --escl-listen: the listener over every device's eSCL front. */
static int escl_listen(emu_server *srv, emu_dm_bundle *b, const emu_options *opts, char *errbuf,
                       size_t errlen)
{
    emu_escl_dev devs[EMU_MAX_DEVICES];
    emu_escl_opts eo;
    emu_log log = {opts->log ? opts->log : stderr, opts->log_level};
    int rc;

    emu_escl_opts_init(&eo);
    eo.host = opts->escl_host ? opts->escl_host : "127.0.0.1";
    eo.port = opts->escl_port;
    eo.slice_us = opts->slice_us;
    if (opts->escl_slots)
        eo.slots = opts->escl_slots;
    if (opts->escl_deadline_ms)
        eo.deadline_ms = opts->escl_deadline_ms;
    for (size_t i = 0; i < b->n; i++) {
        snprintf(devs[i].busid, sizeof devs[i].busid, "%s", b->dm_ports[i].busid);
        devs[i].front = b->escl_fronts[i];
        devs[i].lock = &b->dm_ports[i].lock;
    }
    b->escl_log = log;
    rc = emu_escl_create(&eo, devs, b->n, &b->escl_log, &b->escl, errbuf, errlen);
    if (rc < 0)
        return rc;
    emu_server_set_escl_port(srv, emu_escl_port(b->escl));
    rc = emu_server_add_companion(srv, &escl_companion, b->escl);
    if (rc < 0)
        snprintf(errbuf, errlen, "internal error: companion table full");
    return rc;
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
    if (!b || !ex) {
        snprintf(errbuf, errlen, "out of memory");
        goto out_free;
    }
    dm_clock_real_init(&b->clock);
    dm_scenario *default_scenario; /* loaded (and checked) even if every device has its own */
    rc = EMU_E_FIXTURE;
    if (bundle_scenario(b, opts->scenario_path, &default_scenario, errbuf, errlen) < 0)
        goto out_free;
    emu_log tlog = {opts->log ? opts->log : stderr, opts->log_level};
    if (opts->trace_path &&
        emu_trace_open(opts->trace_path, &tlog, &b->trace, errbuf, errlen) < 0) {
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
    b->timing = opts->timing;
    b->strict = opts->strict_timing;
    for (size_t i = 0; i < n; i++) {
        const char *path = opts->n_devices && opts->profile_paths ? opts->profile_paths[i] : NULL;
        const emu_device_opts *own =
            opts->n_devices && opts->device_opts ? &opts->device_opts[i] : NULL;
        int drc = path ? dm_profile_load_file(path, &b->profiles[i], errbuf, errlen)
                       : dm_profile_load_default(&b->profiles[i], errbuf, errlen);
        if (drc < 0)
            goto out_free;
        b->n = i + 1;
        pthread_mutex_init(&b->dm_ports[i].lock, NULL);
        dm_scenario *scenario = default_scenario;
        const char *scenario_path = opts->scenario_path;
        if (own && own->scenario_path) {
            scenario_path = own->scenario_path;
            if (bundle_scenario(b, scenario_path, &scenario, errbuf, errlen) < 0)
                goto out_free;
        }
        b->ports[i].trace = b->trace;
        snprintf(b->ports[i].busid, sizeof b->ports[i].busid, "1-%zu", i + 1);
        dm_device_config cfg;
        dm_device_config_init(&cfg);
        cfg.profile = b->profiles[i];
        cfg.scenario = scenario;
        cfg.seed = own && own->seed_set ? own->seed : opts->seed;
        cfg.clock = &b->clock.base;
        cfg.timing = opts->timing;
        if (b->trace) {
            cfg.trace = emu_trace_record;
            cfg.trace_ctx = &b->ports[i];
        }
        emu_timing_port *tp = &b->timing_ports[i];
        tp->log.f = opts->log ? opts->log : stderr;
        tp->log.level = opts->log_level;
        snprintf(tp->busid, sizeof tp->busid, "1-%zu", i + 1);
        tp->trace = b->trace;
        tp->strict = opts->strict_timing;
        cfg.late_tolerance_ns = opts->late_tolerance_us * 1000u;
        cfg.job_end = emu_timing_job_end;
        cfg.job_end_ctx = tp;
        /* dm_device_create refuses a scenario its profile cannot run
         * without saying why; this check says which file, key and fault. */
        drc = dm_scenario_check(scenario, b->profiles[i], errbuf, errlen);
        if (drc < 0)
            goto out_free;
        drc = dm_engine_create(&cfg, &b->engines[i]);
        if (drc >= 0)
            drc = dm_device_create_on(b->engines[i], &b->devices[i]);
        int ippusb = (dm_profile_usb(b->profiles[i])->protocols & DM_PROTOCOL_ESCL) != 0;
        if (drc >= 0 && (opts->escl_listen || ippusb)) {
            dm_escl_config ec;
            char prefix[PROTO_USBIP_BUSID_SIZE + 1];
            dm_escl_config_init(&ec);
            snprintf(prefix, sizeof prefix, "/1-%zu", i + 1);
            ec.engine = b->engines[i];
            ec.prefix = prefix;
            /* Over TCP only the first device is at plain /eSCL (the listener
             * routes /BUSID/eSCL to the others); over IPP-USB every device
             * is. */
            ec.plain_root = i == 0 || ippusb;
            ec.png_level = opts->png_level;
            ec.log = escl_quirk_log;
            ec.log_ctx = &b->dm_ports[i];
            drc = dm_escl_create(&ec, &b->escl_fronts[i]);
        }
        if (drc < 0) {
            snprintf(errbuf, errlen, "cannot create device 1-%zu (%s, %s): %s", i + 1,
                     path ? path : "built-in profile",
                     scenario_path ? scenario_path : "built-in scenario", dm_strerror(drc));
            goto out_free;
        }
        tp->usb_front = b->devices[i];
        ex[i].id = *dm_profile_usb(b->profiles[i]);
        ex[i].ops = &dm_backend;
        if (ippusb) {
            ex[i].escl = b->escl_fronts[i];
            ex[i].escl_lock = &b->dm_ports[i].lock;
        }
        b->dm_ports[i].dev = b->devices[i];
        b->dm_ports[i].tport = b->trace ? &b->ports[i] : NULL;
        b->dm_ports[i].log.f = opts->log ? opts->log : stderr;
        b->dm_ports[i].log.level = opts->log_level;
        snprintf(b->dm_ports[i].busid, sizeof b->dm_ports[i].busid, "1-%zu", i + 1);
        ex[i].ctx = &b->dm_ports[i];
    }
    emu_server *srv;
    rc = emu_server_create_ex(opts, ex, n, b->trace, &srv, errbuf, errlen);
    if (rc < 0)
        goto out_free;
    rc = emu_server_add_cleanup(srv, bundle_free, b);
    if (rc < 0) {
        snprintf(errbuf, errlen, "internal error: cleanup table full");
        goto out_free_server;
    }
    emu_server_set_finish(srv, bundle_finish, b);
    if (opts->escl_listen) {
        /* The bundle is the server's now: freed with it on any failure. */
        rc = escl_listen(srv, b, opts, errbuf, errlen);
        if (rc < 0) {
            emu_server_free(srv);
            free(ex);
            return rc;
        }
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
