/* emu_server_create: loads the fixtures, creates one dm_device per export and
 * binds it to the server through the backend table. */
#include <stdlib.h>
#include <string.h>

#include "emu-internal.h"

/* One exported device: the model plus what the binding logs about it. */
typedef struct emu_dm_port {
    dm_device *dev;
    emu_log log;
    char busid[PROTO_USBIP_BUSID_SIZE];
    uint64_t jobs_seen;
    emu_trace_port *tport; /* NULL without --trace */
} emu_dm_port;

static int be_bulk_out(void *ctx, const uint8_t *buf, size_t len)
{
    emu_dm_port *p = ctx;
    int rc = dm_device_bulk_out(p->dev, buf, len);
    dm_device_stats st;
    dm_device_get_stats(p->dev, &st);
    if (st.jobs_started != p->jobs_seen) {
        /* A job started: say so if a scripted fault can never fire in it. */
        char msg[384];
        p->jobs_seen = st.jobs_started;
        if (dm_device_job_check(p->dev, msg, sizeof msg) == DM_E_RANGE)
            emu_logf(&p->log, EMU_LOG_WARN, p->busid, "scenario fault never fires: %s", msg);
    }
    return rc;
}
static void be_peek(void *ctx, enum dm_endpoint ep, uint64_t now_ns, dm_in *out)
{
    dm_device_peek(((emu_dm_port *)ctx)->dev, ep, now_ns, out);
}
static void be_consume(void *ctx, enum dm_endpoint ep, uint64_t release_ns)
{
    dm_device_consume(((emu_dm_port *)ctx)->dev, ep, release_ns);
}
static void be_consume_urb(void *ctx, enum dm_endpoint ep, uint64_t release_ns, uint64_t urb_ns)
{
    emu_dm_port *p = ctx;
    if (p->tport)
        p->tport->urb_ns = urb_ns;
    dm_device_consume(p->dev, ep, release_ns);
    if (p->tport)
        p->tport->urb_ns = UINT64_MAX;
}
static void be_clear_halt(void *ctx, enum dm_endpoint ep)
{
    dm_device_clear_halt(((emu_dm_port *)ctx)->dev, ep);
}
static void be_reset(void *ctx)
{
    dm_device_reset(((emu_dm_port *)ctx)->dev);
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
    dm_scenario *scenario;
    size_t n;
    dm_profile *profiles[EMU_MAX_DEVICES];
    dm_device *devices[EMU_MAX_DEVICES];
    emu_dm_port dm_ports[EMU_MAX_DEVICES];
    emu_trace_port ports[EMU_MAX_DEVICES];
    emu_trace *trace;
} emu_dm_bundle;

static void bundle_free(void *arg)
{
    emu_dm_bundle *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        dm_device_free(b->devices[i]);
        dm_profile_free(b->profiles[i]);
    }
    dm_scenario_free(b->scenario);
    if (b->trace) {
        emu_trace_flush(b->trace);
        emu_trace_close(b->trace);
    }
    free(b);
}

int emu_server_create(const emu_options *opts, emu_server **out, char *errbuf, size_t errlen)
{
    size_t n = opts->n_devices ? opts->n_devices : 1;
    if (n > EMU_MAX_DEVICES) {
        snprintf(errbuf, errlen, "%zu devices requested; at most %d are supported", n,
                 EMU_MAX_DEVICES);
        return -1;
    }
    emu_dm_bundle *b = calloc(1, sizeof(*b));
    emu_export *ex = calloc(n, sizeof(*ex));
    if (!b || !ex) {
        snprintf(errbuf, errlen, "out of memory");
        goto out_free;
    }
    dm_clock_real_init(&b->clock);
    int rc = opts->scenario_path
                 ? dm_scenario_load_file(opts->scenario_path, &b->scenario, errbuf, errlen)
                 : dm_scenario_load_default(&b->scenario, errbuf, errlen);
    if (rc < 0)
        goto out_free;
    if (opts->trace_path && emu_trace_open(opts->trace_path, &b->trace, errbuf, errlen) < 0)
        goto out_free;
    for (size_t i = 0; i < n; i++) {
        const char *path = opts->n_devices && opts->profile_paths ? opts->profile_paths[i] : NULL;
        rc = path ? dm_profile_load_file(path, &b->profiles[i], errbuf, errlen)
                  : dm_profile_load_default(&b->profiles[i], errbuf, errlen);
        if (rc < 0)
            goto out_free;
        b->n = i + 1;
        b->ports[i].trace = b->trace;
        b->ports[i].urb_ns = UINT64_MAX;
        snprintf(b->ports[i].busid, sizeof b->ports[i].busid, "1-%zu", i + 1);
        dm_device_config cfg;
        dm_device_config_init(&cfg);
        cfg.profile = b->profiles[i];
        cfg.scenario = b->scenario;
        cfg.seed = opts->seed;
        cfg.clock = &b->clock.base;
        cfg.timing = opts->timing;
        if (b->trace) {
            cfg.trace = emu_trace_record;
            cfg.trace_ctx = &b->ports[i];
        }
        /* dm_device_create refuses a scenario its profile cannot run
         * without saying why; this check says which file, key and fault. */
        rc = dm_scenario_check(b->scenario, b->profiles[i], errbuf, errlen);
        if (rc < 0)
            goto out_free;
        rc = dm_device_create(&cfg, &b->devices[i]);
        if (rc < 0) {
            snprintf(errbuf, errlen, "cannot create device 1-%zu (%s): %s", i + 1,
                     path ? path : "built-in profile", dm_strerror(rc));
            goto out_free;
        }
        ex[i].id = *dm_profile_usb(b->profiles[i]);
        ex[i].ops = &dm_backend;
        b->dm_ports[i].dev = b->devices[i];
        b->dm_ports[i].tport = b->trace ? &b->ports[i] : NULL;
        b->dm_ports[i].log.f = opts->log ? opts->log : stderr;
        b->dm_ports[i].log.level = opts->log_level;
        snprintf(b->dm_ports[i].busid, sizeof b->dm_ports[i].busid, "1-%zu", i + 1);
        ex[i].ctx = &b->dm_ports[i];
    }
    emu_server *srv;
    if (emu_server_create_ex(opts, ex, n, b->trace, &srv, errbuf, errlen) < 0)
        goto out_free;
    if (emu_server_add_cleanup(srv, bundle_free, b) < 0) {
        emu_server_free(srv);
        snprintf(errbuf, errlen, "internal error: cleanup table full");
        bundle_free(b);
        free(ex);
        return -1;
    }
    free(ex);
    *out = srv;
    return 0;

out_free:
    if (b)
        bundle_free(b);
    free(ex);
    return -1;
}
