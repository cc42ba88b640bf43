#include "fake_backend.h"

#include <string.h>

void fake_record(uint8_t rec[12], enum fake_op op, int ep, uint8_t fill, uint32_t len,
                 uint32_t delay_us)
{
    rec[0] = (uint8_t)op;
    rec[1] = (uint8_t)ep;
    rec[2] = fill;
    rec[3] = 0;
    proto_put_le32(rec + 4, len);
    proto_put_le32(rec + 8, delay_us);
}

static int f_bulk_out(void *ctx, const uint8_t *buf, size_t len)
{
    fake_dev *f = ctx;
    uint64_t now = emu_now_ns();
    if (f->out_limit && f->tail[0] - f->head[0] >= f->out_limit) {
        f->naks++;
        return DM_E_AGAIN;
    }
    for (size_t off = 0; off + 12 <= len; off += 12) {
        const uint8_t *r = buf + off;
        int ep = r[1] & 1;
        if (r[0] == FAKE_LIMIT) {
            f->out_limit = proto_get_le32(r + 4);
            continue;
        }
        if (r[0] < FAKE_DATA || r[0] > FAKE_DISCONNECT)
            continue;
        if (f->tail[ep] - f->head[ep] >= FAKE_QLEN)
            continue;
        fake_msg *m = &f->q[ep][f->tail[ep]++ % FAKE_QLEN];
        m->kind = r[0];
        m->fill = r[2];
        m->len = proto_get_le32(r + 4);
        if (m->len > sizeof f->buf)
            m->len = sizeof f->buf;
        m->at = now + (uint64_t)proto_get_le32(r + 8) * 1000u;
    }
    return 0;
}

static void f_peek(void *ctx, enum dm_endpoint ep, uint64_t now, dm_in *out)
{
    fake_dev *f = ctx;
    memset(out, 0, sizeof(*out));
    if (f->head[ep] == f->tail[ep]) {
        out->kind = DM_IN_IDLE;
        return;
    }
    fake_msg *m = &f->q[ep][f->head[ep] % FAKE_QLEN];
    switch (m->kind) {
    case FAKE_DATA:
        if (m->at > now) {
            out->kind = DM_IN_WAIT;
            out->deadline_ns = m->at;
            return;
        }
        for (uint32_t i = 0; i < m->len; i++)
            f->buf[i] = fake_byte(m->fill, i);
        out->kind = DM_IN_DATA;
        out->data = f->buf;
        out->len = m->len;
        return;
    case FAKE_STALL:
        out->kind = DM_IN_STALL;
        return;
    case FAKE_NEVER:
        out->kind = DM_IN_WAIT;
        out->deadline_ns = UINT64_MAX;
        return;
    default:
        out->kind = DM_IN_DISCONNECT;
        return;
    }
}

static void f_consume(void *ctx, enum dm_endpoint ep, uint64_t release_ns)
{
    fake_dev *f = ctx;
    (void)release_ns;
    if (f->head[ep] != f->tail[ep]) {
        if (f->q[ep][f->head[ep] % FAKE_QLEN].kind == FAKE_DISCONNECT)
            f->unplugs++;
        f->head[ep]++;
    }
}

static void f_clear_halt(void *ctx, enum dm_endpoint ep)
{
    fake_dev *f = ctx;
    (void)ep;
    f->clears++;
}

static void f_reset(void *ctx)
{
    fake_dev *f = ctx;
    f->head[0] = f->tail[0] = f->head[1] = f->tail[1] = 0;
    f->out_limit = 0;
    f->resets++;
}

const emu_backend_ops fake_ops = {
    .bulk_out = f_bulk_out,
    .peek = f_peek,
    .consume = f_consume,
    .clear_halt = f_clear_halt,
    .reset = f_reset,
};
