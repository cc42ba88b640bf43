/* The USB/IP server's lifecycle (see server-internal.h for the parts and
 * threads): options, create, run, stop, free. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server-internal.h"

void emu_options_init(emu_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->listen_host = "127.0.0.1";
    opts->listen_port = 3240;
    opts->seed = 1;
    opts->timing = 1;
    opts->log_level = EMU_LOG_INFO;
    opts->log = stderr;
    opts->slice_us = 100;
    opts->escl_host = "127.0.0.1";
    opts->png_level = 1;
    opts->late_tolerance_us = DM_LATE_TOLERANCE_NS_DEFAULT / 1000u;
}

uint16_t emu_server_port(const emu_server *srv)
{
    return srv->port;
}

uint16_t emu_server_escl_port(const emu_server *srv)
{
    return srv->escl_port;
}

void emu_server_set_escl_port(emu_server *srv, uint16_t port)
{
    srv->escl_port = port;
}

void emu_server_set_finish(emu_server *srv, emu_finish_fn fn, void *arg)
{
    srv->finish = fn;
    srv->finish_arg = arg;
}

int emu_server_add_companion(emu_server *srv, const emu_companion_ops *ops, void *arg)
{
    if (srv->ncompanions >= EMU_MAX_CLEANUPS)
        return EMU_E_NOMEM;
    srv->companions[srv->ncompanions].ops = ops;
    srv->companions[srv->ncompanions].arg = arg;
    srv->ncompanions++;
    return EMU_OK;
}

void emu_server_stop(emu_server *srv)
{
    atomic_store(&srv->stopping, 1);
    for (size_t i = 0; i < srv->ncompanions; i++)
        srv->companions[i].ops->signal_stop(srv->companions[i].arg);
    uint64_t one = 1;
    ssize_t r = write(srv->stop_efd, &one, sizeof one);
    (void)r;
}

int emu_server_add_cleanup(emu_server *srv, emu_cleanup_fn fn, void *arg)
{
    if (srv->ncleanups >= EMU_MAX_CLEANUPS)
        return EMU_E_NOMEM; /* the fixed table is full */
    srv->cleanups[srv->ncleanups].fn = fn;
    srv->cleanups[srv->ncleanups].arg = arg;
    srv->ncleanups++;
    return EMU_OK;
}

void emu_server_set_dev_event(emu_server *srv, emu_dev_event_fn fn, void *ctx)
{
    srv->dev_event = fn;
    srv->dev_event_ctx = ctx;
}

int emu_busid_slot(const char *busid)
{
    unsigned n = 0;
    const char *p;

    if (busid == NULL || strncmp(busid, "1-", 2) != 0 || busid[2] < '1' || busid[2] > '9')
        return -1;
    for (p = busid + 2; *p >= '0' && *p <= '9' && n <= EMU_MAX_DEVICES; p++)
        n = n * 10 + (unsigned)(*p - '0');
    if (*p != '\0' || n < 1 || n > EMU_MAX_DEVICES)
        return -1;
    return (int)n - 1;
}

int emu_server_run(emu_server *srv)
{
    int rc = emu_workers_start(srv);
    size_t started = 0, ndev = 0;
    pthread_mutex_lock(&srv->tbl_mtx);
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++)
        ndev += srv->devs[i].present ? 1u : 0u;
    pthread_mutex_unlock(&srv->tbl_mtx);
    emu_logf(&srv->log, EMU_LOG_INFO, NULL, "serving %zu device%s on port %u", ndev,
             ndev == 1 ? "" : "s", srv->port);
    for (; rc == EMU_OK && started < srv->ncompanions; started++)
        rc = srv->companions[started].ops->start(srv->companions[started].arg);
    if (rc == EMU_OK)
        rc = emu_acceptor_serve(srv);
    emu_server_stop(srv);
    for (size_t i = 0; i < srv->ncompanions; i++)
        srv->companions[i].ops->join(srv->companions[i].arg);
    emu_workers_join(srv);
    emu_acceptor_close_all(srv);
    if (srv->finish) {
        int frc = srv->finish(srv->finish_arg);
        if (rc == EMU_OK)
            rc = frc;
    }
    emu_trace_flush(srv->trace);
    uint64_t dropped = 0;
    int terr = emu_trace_status(srv->trace, &dropped);
    if (terr) {
        emu_logf(&srv->log, EMU_LOG_ERROR, NULL,
                 "trace %s is incomplete: %s; %llu record%s dropped after the first failed write",
                 emu_trace_path(srv->trace), strerror(terr), (unsigned long long)dropped,
                 dropped == 1 ? "" : "s");
        if (rc == EMU_OK || rc == EMU_E_TIMING) /* an incomplete trace says more */
            rc = EMU_E_TRACE;
    }
    emu_logf(&srv->log, EMU_LOG_INFO, NULL, "stopped");
    return rc;
}

/* ---- creation ----------------------------------------------------------------------------- */

/* An empty slot: no descriptors, no session (its mutex is kept). */
static void slot_clear(emu_dev *d)
{
    pthread_mutex_t keep = d->mtx;
    uint32_t gen = d->gen;
    emu_server *srv = d->srv;
    size_t index = d->index;
    char busid[sizeof d->busid];
    memcpy(busid, d->busid, sizeof busid);
    memset(d, 0, sizeof(*d));
    d->mtx = keep;
    d->gen = gen;
    d->srv = srv;
    d->index = index;
    memcpy(d->busid, busid, sizeof busid);
    d->epfd = d->timerfd = d->handoff_efd = -1;
    d->handoff_fd = d->s.fd = -1;
}

static void dev_fini(emu_dev *d)
{
    emu_ippusb_free(d->ippusb); /* its connections go before their front */
    d->ippusb = NULL;
    emu_session_free(&d->s);
    emu_worker_fds_close(d);
}

/* A slot's resources (session buffers, worker descriptors); the slot is
 * not present yet. dev_fini undoes it, also after a failure. */
static int dev_init(emu_server *srv, emu_dev *d, size_t index, const emu_export *ex, char *errbuf,
                    size_t errlen)
{
    d->srv = srv;
    d->index = index;
    d->ex = *ex;
    snprintf(d->busid, sizeof d->busid, "1-%zu", index + 1);
    uint32_t devnum = (uint32_t)index + 1;
    d->devid = proto_usbip_devid(1, devnum);
    emu_usbdev_init(&d->usb, &ex->id);

    proto_usbip_device *r = &d->rec;
    memset(r, 0, sizeof(*r));
    snprintf(r->path, sizeof r->path, "/sys/devices/pci0000:00/0000:00:01.2/usb1/%s", d->busid);
    snprintf(r->busid, sizeof r->busid, "%s", d->busid);
    r->busnum = 1;
    r->devnum = devnum;
    r->speed = d->usb.speed;
    r->idVendor = ex->id.vid;
    r->idProduct = ex->id.pid;
    r->bcdDevice = ex->id.bcd_device;
    r->bConfigurationValue = 1;
    r->bNumConfigurations = 1;
    r->bNumInterfaces = (uint8_t)d->usb.n_interfaces;
    for (unsigned i = 0; i < d->usb.n_interfaces; i++) {
        d->intf[i].bInterfaceClass = d->usb.intf_class[i][0];
        d->intf[i].bInterfaceSubClass = d->usb.intf_class[i][1];
        d->intf[i].bInterfaceProtocol = d->usb.intf_class[i][2];
    }

    if (emu_session_alloc(&d->s) < 0 || emu_ippusb_create(d, &d->ippusb) < 0) {
        snprintf(errbuf, errlen, "out of memory creating device %s", d->busid);
        return EMU_E_NOMEM;
    }
    return emu_worker_fds_open(d, errbuf, errlen);
}

int emu_server_create_ex(const emu_options *opts, const emu_export *exports, size_t n,
                         emu_trace *trace, emu_server **out, char *errbuf, size_t errlen)
{
    int rc;
    if (n == 0 || n > EMU_MAX_DEVICES) {
        snprintf(errbuf, errlen, "%zu devices requested; between 1 and %d are supported", n,
                 EMU_MAX_DEVICES);
        return EMU_E_INVALID;
    }
    if (opts->realtime_prio < 0 || opts->realtime_prio > 99) {
        snprintf(errbuf, errlen, "realtime priority %d out of range 1-99 (0 = off)",
                 opts->realtime_prio);
        return EMU_E_INVALID;
    }
    if (opts->slice_us != 0 && (opts->slice_us < 100 || opts->slice_us > 100000)) {
        snprintf(errbuf, errlen, "scheduler slice %u us out of range 100-100000 (0 = default)",
                 opts->slice_us);
        return EMU_E_INVALID;
    }
    emu_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(errbuf, errlen, "out of memory");
        return EMU_E_NOMEM;
    }
    srv->log.f = opts->log ? opts->log : stderr;
    srv->log.level = opts->log_level;
    srv->listen_fd = srv->stop_efd = srv->acceptor_epfd = -1;
    srv->trace = trace;
    srv->realtime_prio = opts->realtime_prio;
    srv->slice_us = opts->slice_us;
    srv->stop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    srv->acceptor_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->stop_efd < 0 || srv->acceptor_epfd < 0) {
        snprintf(errbuf, errlen, "eventfd/epoll: %s", strerror(errno));
        rc = EMU_E_SYSTEM;
        goto out_free;
    }
    srv->devs = calloc(EMU_MAX_DEVICES, sizeof(emu_dev));
    if (!srv->devs) {
        snprintf(errbuf, errlen, "out of memory");
        rc = EMU_E_NOMEM;
        goto out_free;
    }
    pthread_mutex_init(&srv->tbl_mtx, NULL);
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        srv->devs[i].srv = srv;
        srv->devs[i].index = i;
        snprintf(srv->devs[i].busid, sizeof srv->devs[i].busid, "1-%zu", i + 1);
        slot_clear(&srv->devs[i]);
        pthread_mutex_init(&srv->devs[i].mtx, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        rc = dev_init(srv, &srv->devs[i], i, &exports[i], errbuf, errlen);
        srv->devs[i].present = 1; /* also on failure: freed with the server */
        if (rc < 0)
            goto out_free;
    }
    atomic_store(&srv->devlist_gen, 1u);
    rc = emu_acceptor_init(srv, opts, errbuf, errlen);
    if (rc < 0)
        goto out_free;
    *out = srv;
    return EMU_OK;

out_free:
    emu_server_free(srv);
    return rc;
}

/* ---- live plug and unplug ------------------------------------------------------------------ */

int emu_server_plug(emu_server *srv, size_t slot, const emu_export *ex, char *errbuf, size_t errlen)
{
    emu_dev *d;
    int rc;

    if (slot >= EMU_MAX_DEVICES) {
        snprintf(errbuf, errlen, "busid 1-%zu: at most %d devices", slot + 1, EMU_MAX_DEVICES);
        return EMU_E_INVALID;
    }
    d = &srv->devs[slot];
    pthread_mutex_lock(&srv->tbl_mtx);
    rc = d->present;
    pthread_mutex_unlock(&srv->tbl_mtx);
    if (rc) {
        snprintf(errbuf, errlen, "busid 1-%zu is already plugged", slot + 1);
        return EMU_E_INVALID;
    }
    slot_clear(d);
    rc = dev_init(srv, d, slot, ex, errbuf, errlen);
    if (rc < 0)
        goto out_fini;
    if (atomic_load(&srv->running)) {
        rc = emu_worker_start(d);
        if (rc < 0) {
            snprintf(errbuf, errlen, "busid %s: cannot start the device thread", d->busid);
            goto out_fini;
        }
    }
    pthread_mutex_lock(&srv->tbl_mtx);
    pthread_mutex_lock(&d->mtx);
    d->gen++;
    d->unplugged = 0;
    d->busy = 0;
    pthread_mutex_unlock(&d->mtx);
    d->present = 1;
    atomic_fetch_add(&srv->devlist_gen, 1u);
    pthread_mutex_unlock(&srv->tbl_mtx);
    emu_logf(&srv->log, EMU_LOG_INFO, d->busid, "plugged in (%04x:%04x)", ex->id.vid, ex->id.pid);
    return EMU_OK;

out_fini:
    dev_fini(d);
    slot_clear(d);
    return rc;
}

int emu_server_unplug(emu_server *srv, size_t slot)
{
    emu_dev *d;
    uint64_t one = 1;

    if (slot >= EMU_MAX_DEVICES)
        return EMU_E_INVALID;
    d = &srv->devs[slot];
    pthread_mutex_lock(&srv->tbl_mtx);
    if (!d->present) {
        pthread_mutex_unlock(&srv->tbl_mtx);
        return EMU_E_INVALID;
    }
    d->present = 0;
    atomic_fetch_add(&srv->devlist_gen, 1u);
    pthread_mutex_lock(&d->mtx);
    d->unplugged = 1;
    pthread_mutex_unlock(&d->mtx);
    pthread_mutex_unlock(&srv->tbl_mtx);
    /* The worker ends the session (closing the client's socket) and exits. */
    (void)!write(d->handoff_efd, &one, sizeof one);
    if (d->thread_started) {
        pthread_join(d->thread, NULL);
        d->thread_started = 0;
    } else if (d->s.fd >= 0) {
        emu_session_end(d);
    }
    emu_logf(&srv->log, EMU_LOG_INFO, d->busid, "unplugged");
    dev_fini(d);
    slot_clear(d);
    return EMU_OK;
}

int emu_server_slot_info(emu_server *srv, size_t slot, char *peer, size_t peerlen)
{
    emu_dev *d;
    int present;

    if (peerlen)
        peer[0] = '\0';
    if (slot >= EMU_MAX_DEVICES)
        return 0;
    d = &srv->devs[slot];
    pthread_mutex_lock(&srv->tbl_mtx);
    present = d->present;
    if (present) {
        pthread_mutex_lock(&d->mtx);
        if (d->s.fd >= 0 && peerlen)
            snprintf(peer, peerlen, "%s", d->s.peer);
        pthread_mutex_unlock(&d->mtx);
    }
    pthread_mutex_unlock(&srv->tbl_mtx);
    return present;
}

void emu_server_free(emu_server *srv)
{
    if (!srv)
        return;
    for (size_t i = 0; srv->devs && i < EMU_MAX_DEVICES; i++) {
        emu_dev *d = &srv->devs[i];
        if (d->present)
            dev_fini(d);
        pthread_mutex_destroy(&d->mtx);
    }
    emu_acceptor_free(srv);
    if (srv->devs)
        pthread_mutex_destroy(&srv->tbl_mtx);
    free(srv->devs);
    if (srv->stop_efd >= 0)
        close(srv->stop_efd);
    if (srv->acceptor_epfd >= 0)
        close(srv->acceptor_epfd);
    for (size_t i = srv->ncleanups; i-- > 0;)
        srv->cleanups[i].fn(srv->cleanups[i].arg);
    free(srv);
}
