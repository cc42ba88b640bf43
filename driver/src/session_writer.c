/* driver: write-behind — the thread that puts finished pages into the
 * TIFF while the session receives the next one (drv-session.h says how the
 * page buffers are shared with it).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "drv-internal.h"
#include "drv-session.h"
#include "wias/wias.h"

static void *writer_main(void *arg)
{
    drv_session *s = arg;
    page_writer *w = &s->wr;

    /* Off the session's path: fault in the other page buffers while the
     * first page arrives (the session takes the second only after handing
     * the first page over, which waits for this). */
    for (unsigned i = 1; i < s->npagebuf; i++)
        drv_prefault(s->pagebuf[i], s->page_bytes);
    pthread_mutex_lock(&w->mtx);
    w->faulting = 0;
    pthread_cond_broadcast(&w->cv);
    for (;;) {
        while (w->done == w->handed && !w->quit)
            pthread_cond_wait(&w->cv, &w->mtx);
        if (w->done == w->handed)
            break; /* quit, nothing left */
        if (w->broken) {
            w->done++; /* dropped */
            pthread_cond_broadcast(&w->cv);
            continue;
        }
        uint8_t *page = s->pagebuf[w->done % s->npagebuf];
        uint32_t no = w->done;
        char msg[sizeof(w->msg)];

        pthread_mutex_unlock(&w->mtx);
        HRESULT hr = drv_sess_put_page(s, page, no, msg, sizeof(msg));
        pthread_mutex_lock(&w->mtx);
        if (FAILED(hr)) {
            w->broken = 1;
            w->hr = hr;
            memcpy(w->msg, msg, sizeof(w->msg));
        } else {
            w->written++;
        }
        w->done++;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mtx);
    return NULL;
}

void drv_writer_start(drv_session *s)
{
    page_writer *w = &s->wr;

    if (s->npagebuf < 2)
        return;
    if (pthread_mutex_init(&w->mtx, NULL) != 0)
        return;
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mtx);
        return;
    }
    w->faulting = 1;
    /* The writer takes no signals: a SIGINT meant to cancel the scan must
     * reach the thread that polls the transport (sigaction-installed
     * handlers then see the cancel flag there). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&w->thread, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mtx);
        w->faulting = 0;
        s->npagebuf = 1;
        drv_sess_log(s, "no writer thread; pages are written between bands");
        return;
    }
    w->running = 1;
}

void drv_writer_wait(drv_session *s, uint32_t max_queued)
{
    page_writer *w = &s->wr;
    int32_t hr = 0;
    char msg[sizeof(w->msg)];

    if (!w->running)
        return;
    pthread_mutex_lock(&w->mtx);
    while (w->faulting || (w->handed - w->done > max_queued && !w->broken))
        pthread_cond_wait(&w->cv, &w->mtx);
    s->pages_done = w->written;
    if (w->broken && !w->reported) {
        hr = w->hr;
        memcpy(msg, w->msg, sizeof(msg));
        w->reported = 1;
    }
    pthread_mutex_unlock(&w->mtx);
    s->res->pages_kept = s->pages_done;
    for (; s->pages_logged < s->pages_done; s->pages_logged++)
        drv_sess_log(s, "page %u written", s->pages_logged + 1);
    if (FAILED(hr) && !s->failed) {
        s->failed = 1;
        s->res->hr = hr;
        s->res->err = DRV_E_OUTPUT;
        snprintf(s->res->message, sizeof(s->res->message), "%s", msg);
    }
}

uint32_t drv_writer_hand(drv_session *s)
{
    page_writer *w = &s->wr;
    uint32_t handed;

    pthread_mutex_lock(&w->mtx);
    handed = ++w->handed;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mtx);
    return handed;
}

void drv_writer_stop(drv_session *s)
{
    page_writer *w = &s->wr;

    if (!w->running)
        return;
    drv_writer_wait(s, 0);
    pthread_mutex_lock(&w->mtx);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mtx);
    pthread_join(w->thread, NULL); /* after a failure it drops what is left */
    w->running = 0;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mtx);
}
