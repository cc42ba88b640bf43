/* driver: the IPP-USB byte stream of the eSCL client (escl-client.h). Each
 * IPP-USB interface is one HTTP/1.1 connection to the device, kept open
 * between exchanges (IPP-USB: requests and responses are never interleaved
 * on one interface). A USB pipe has no end of stream and no message
 * boundaries: a bulk IN read may return less than asked, or nothing (a
 * zero-length packet), and that is just "no bytes yet". The pipes
 * themselves are an op table, so this file holds no USB code.
 */
#include <stdio.h>
#include <string.h>

#include "drv-internal.h"
#include "escl-client.h"

#define SLICE_MS 200u

void drv_ippusb_init(drv_ippusb *u, const drv_ippusb_pipe_ops *pipe, void *pipe_ctx, unsigned n)
{
    memset(u, 0, sizeof(*u));
    u->pipe = pipe;
    u->pipe_ctx = pipe_ctx;
    u->n = n < DRV_IPPUSB_MAX ? n : DRV_IPPUSB_MAX;
    for (unsigned i = 0; i < u->n; i++) {
        u->conn[i].u = u;
        u->conn[i].i = i;
    }
}

static int cancelled(const drv_http_client *c)
{
    return c->cancel != NULL && *c->cancel;
}

/* The first idle clean interface; else an idle one reset first. */
static int iu_open(drv_http_client *c, void **conn)
{
    drv_ippusb *u = c->stream_ctx;
    struct drv_ippusb_conn *k = NULL;
    int rc;

    for (unsigned i = 0; i < u->n && k == NULL; i++)
        if (!u->conn[i].busy && !u->conn[i].dirty)
            k = &u->conn[i];
    for (unsigned i = 0; i < u->n && k == NULL; i++)
        if (!u->conn[i].busy)
            k = &u->conn[i];
    if (k == NULL) {
        snprintf(c->err, sizeof(c->err), "all %u IPP-USB interfaces are in use", u->n);
        return DRV_E_BUSY;
    }
    if (k->dirty) {
        rc = u->pipe->reset(u->pipe_ctx, k->i);
        if (rc != DRV_OK) {
            snprintf(c->err, sizeof(c->err), "IPP-USB interface %u: cannot start it afresh: %s",
                     k->i, drv_strerror(rc));
            return rc;
        }
        k->dirty = 0;
    }
    k->busy = 1;
    *conn = k;
    return DRV_OK;
}

static int iu_send(drv_http_client *c, void *conn, const uint8_t *buf, size_t len)
{
    struct drv_ippusb_conn *k = conn;
    int rc;

    if (cancelled(c)) {
        snprintf(c->err, sizeof(c->err), "cancelled sending the request");
        return DRV_E_CANCELLED;
    }
    rc = k->u->pipe->write(k->u->pipe_ctx, k->i, buf, len, c->timeout_ms);
    if (rc != DRV_OK)
        snprintf(c->err, sizeof(c->err), "%s sending the request on IPP-USB interface %u",
                 rc == DRV_E_TIMEOUT ? "timed out" : drv_strerror(rc), k->i);
    return rc;
}

static int iu_recv(drv_http_client *c, void *conn, uint8_t *buf, size_t cap, size_t want,
                   size_t *got)
{
    struct drv_ippusb_conn *k = conn;
    uint64_t deadline = drv_now_ns() + (uint64_t)c->timeout_ms * 1000000u;

    *got = 0;
    for (;;) {
        uint64_t now = drv_now_ns();
        unsigned ms;
        int rc;

        if (cancelled(c))
            return DRV_E_CANCELLED;
        if (now >= deadline)
            return DRV_E_TIMEOUT;
        ms = (unsigned)((deadline - now + 999999u) / 1000000u);
        rc = k->u->pipe->read(k->u->pipe_ctx, k->i, buf, cap, want, got,
                              ms < SLICE_MS ? ms : SLICE_MS);
        if (rc != DRV_OK) {
            *got = 0;
            snprintf(c->err, sizeof(c->err), "IPP-USB interface %u: %s", k->i, drv_strerror(rc));
            return rc;
        }
        if (*got > 0)
            return DRV_OK;
        /* nothing yet, or a zero-length packet: keep waiting */
    }
}

static void iu_release(drv_http_client *c, void *conn, int clean)
{
    struct drv_ippusb_conn *k = conn;

    (void)c;
    k->busy = 0;
    if (!clean) {
        /* Whatever is left of the response would be read as the next one's
         * start: the interface starts afresh, now if it can. */
        k->dirty = k->u->pipe->reset(k->u->pipe_ctx, k->i) != DRV_OK;
    }
}

const drv_http_stream_ops drv_http_ippusb_stream = {
    .name = "ippusb",
    .keep_alive = 1,
    .open = iu_open,
    .send = iu_send,
    .recv = iu_recv,
    .release = iu_release,
};
