/* The worker thread of each exported device (see server-internal.h): its
 * epoll set waits on the stop eventfd, the hand-off eventfd from the
 * acceptor, the band timerfd (absolute CLOCK_MONOTONIC deadlines) and the
 * attached client's socket, and drives the session. Also the threads'
 * scheduling: --realtime (SCHED_FIFO) and --slice-us (sched_setattr). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "server-internal.h"

/* sched_setattr(2)'s argument, as the kernel's uapi defines it (glibc 2.36
 * has no declaration); the first version of the struct, 48 bytes. */
struct emu_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime; /* SCHED_OTHER: the requested slice (Linux >= 6.12) */
    uint64_t sched_deadline;
    uint64_t sched_period;
};
_Static_assert(sizeof(struct emu_sched_attr) == 48, "SCHED_ATTR_SIZE_VER0");

/* Ask for a short scheduler slice for this (the calling) thread: on EEVDF
 * a task with a shorter slice gets an earlier virtual deadline and preempts
 * a running task with a longer one when it wakes, so a device thread woken
 * by its timer runs at once instead of after whatever host process holds
 * the CPU (measured: docs/performance.md, row 3-8). Only a SCHED_OTHER
 * thread, at its current nice value; kernels before 6.12 accept and ignore
 * the slice. */
int emu_thread_request_slice(unsigned slice_us)
{
    struct emu_sched_attr a;
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (sched_getscheduler(0) != SCHED_OTHER || (nice == -1 && errno != 0))
        return 0;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.sched_policy = SCHED_OTHER;
    a.sched_nice = nice;
    a.sched_runtime = (uint64_t)slice_us * 1000u;
    if (syscall(SYS_sched_setattr, 0, &a, 0u) != 0)
        return errno;
    return 0;
}

static void *worker_main(void *arg)
{
    emu_dev *d = arg;
    emu_session *s = &d->s;
    struct epoll_event evs[8];
    if (d->srv->realtime_prio > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); /* this thread only */
    /* Also with --realtime: if SCHED_FIFO is refused, the thread keeps it. */
    if (d->srv->slice_us > 0) {
        int err = emu_thread_request_slice(d->srv->slice_us);
        if (err) /* best effort */
            emu_logf(&d->srv->log, EMU_LOG_DEBUG, d->busid, "sched_setattr (slice %u us): %s",
                     d->srv->slice_us, strerror(err));
    }
    for (;;) {
        int n = epoll_wait(d->epfd, evs, 8, -1); /* deadlines come from the timerfd */
        if (n < 0) {
            if (errno == EINTR)
                continue;
            emu_logf(&d->srv->log, EMU_LOG_ERROR, d->busid, "epoll_wait: %s", strerror(errno));
            break;
        }
        int stop = 0;
        for (int i = 0; i < n; i++) {
            uint32_t ev = evs[i].events;
            switch (evs[i].data.u32) {
            case EMU_TAG_STOP:
                stop = 1;
                break;
            case EMU_TAG_HANDOFF: {
                uint64_t v;
                ssize_t r = read(d->handoff_efd, &v, sizeof v);
                (void)r;
                pthread_mutex_lock(&d->mtx);
                int fd = d->handoff_fd;
                d->handoff_fd = -1;
                int unplugged = d->unplugged;
                pthread_mutex_unlock(&d->mtx);
                if (unplugged) { /* emu_server_unplug: end the session, exit */
                    if (fd >= 0)
                        close(fd);
                    stop = 1;
                } else if (fd >= 0) {
                    if (s->fd >= 0) { /* cannot happen: import checks busy */
                        close(fd);
                    } else {
                        emu_session_begin(d, fd);
                        emu_session_process(d); /* nothing yet, but keeps the invariant */
                    }
                }
                break;
            }
            case EMU_TAG_TIMER: {
                uint64_t v;
                ssize_t r = read(d->timerfd, &v, sizeof v);
                (void)r;
                s->timer_at = 0;
                break;
            }
            case EMU_TAG_SOCK:
                if (s->fd < 0)
                    break;
                if (ev & EPOLLOUT)
                    emu_session_flush_out(d);
                if (ev & EPOLLIN)
                    emu_session_read(d);
                else if (ev & (EPOLLERR | EPOLLHUP))
                    emu_session_fail(d, EMU_LOG_INFO, "connection reset by the client");
                break;
            }
        }
        if (stop)
            break;
        if (s->fd >= 0) {
            if (!s->dead && emu_session_outq_pending(s) == 0)
                emu_session_process(d); /* messages held back while output was queued */
            emu_session_service(d);
            if (s->dead)
                emu_session_end(d);
            else
                emu_session_update_mask(d);
        }
    }
    if (s->fd >= 0) {
        emu_session_flush_out(d);
        emu_session_end(d);
    }
    return NULL;
}

/* --realtime: the device workers at SCHED_FIFO. All or none: if the system
 * refuses one, those already changed go back to normal scheduling and one
 * warning says why. */
static void set_realtime(emu_server *srv, size_t n)
{
    struct sched_param sp = {.sched_priority = srv->realtime_prio};
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        if (!srv->devs[i].thread_started)
            continue;
        int rc = pthread_setschedparam(srv->devs[i].thread, SCHED_FIFO, &sp);
        if (rc == 0)
            continue;
        struct sched_param normal = {.sched_priority = 0};
        for (size_t j = 0; j < i; j++)
            if (srv->devs[j].thread_started)
                pthread_setschedparam(srv->devs[j].thread, SCHED_OTHER, &normal);
        emu_logf(&srv->log, EMU_LOG_WARN, NULL,
                 "--realtime: cannot put the device threads at SCHED_FIFO priority %d (%s%s); "
                 "running at normal priority",
                 srv->realtime_prio, strerror(rc),
                 rc == EPERM ? ": needs CAP_SYS_NICE or RLIMIT_RTPRIO >= the priority" : "");
        return;
    }
    emu_logf(&srv->log, EMU_LOG_INFO, NULL,
             "--realtime: %zu device thread%s at SCHED_FIFO priority %d, timer slack 1 ns", n,
             n == 1 ? "" : "s", srv->realtime_prio);
}

int emu_worker_fds_open(emu_dev *d, char *errbuf, size_t errlen)
{
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    d->handoff_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->epfd < 0 || d->timerfd < 0 || d->handoff_efd < 0) {
        snprintf(errbuf, errlen, "device %s: %s", d->busid, strerror(errno));
        return EMU_E_SYSTEM;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EMU_TAG_STOP};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->srv->stop_efd, &ev) < 0)
        goto out_epoll;
    ev.data.u32 = EMU_TAG_HANDOFF;
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->handoff_efd, &ev) < 0)
        goto out_epoll;
    ev.data.u32 = EMU_TAG_TIMER;
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->timerfd, &ev) < 0)
        goto out_epoll;
    return EMU_OK;

out_epoll:
    snprintf(errbuf, errlen, "device %s: epoll_ctl: %s", d->busid, strerror(errno));
    return EMU_E_SYSTEM;
}

void emu_worker_fds_close(emu_dev *d)
{
    if (d->handoff_fd >= 0)
        close(d->handoff_fd);
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->timerfd >= 0)
        close(d->timerfd);
    if (d->handoff_efd >= 0)
        close(d->handoff_efd);
    d->handoff_fd = d->epfd = d->timerfd = d->handoff_efd = -1;
}

int emu_worker_start(emu_dev *d)
{
    if (pthread_create(&d->thread, NULL, worker_main, d) != 0)
        return EMU_E_SYSTEM;
    d->thread_started = 1;
    char name[16]; /* "scanemu/1-1": names the thread in top, perf, /proc */
    snprintf(name, sizeof name, "scanemu/%.7s", d->busid);
    pthread_setname_np(d->thread, name);
    if (d->srv->realtime_prio > 0 && atomic_load(&d->srv->running)) {
        struct sched_param sp = {.sched_priority = d->srv->realtime_prio};
        pthread_setschedparam(d->thread, SCHED_FIFO, &sp); /* as the others, or refused */
    }
    return EMU_OK;
}

int emu_workers_start(emu_server *srv)
{
    size_t started = 0;
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        emu_dev *d = &srv->devs[i];
        if (!d->present)
            continue;
        if (emu_worker_start(d) < 0) {
            emu_logf(&srv->log, EMU_LOG_ERROR, d->busid, "cannot start the device thread");
            emu_server_stop(srv);
            return EMU_E_SYSTEM;
        }
        started++;
    }
    if (srv->realtime_prio > 0)
        set_realtime(srv, started);
    atomic_store(&srv->running, 1);
    return EMU_OK;
}

void emu_workers_join(emu_server *srv)
{
    for (size_t i = 0; i < EMU_MAX_DEVICES; i++) {
        if (srv->devs[i].thread_started) {
            pthread_join(srv->devs[i].thread, NULL);
            srv->devs[i].thread_started = 0;
        }
    }
}
