/* The native front: the scanemu protocol (docs/protocol.md) over a job
 * engine, behind the three endpoints of the vendor interface.
 *
 * Commands arrive whole (one bulk OUT transfer each). Responses queue ahead of
 * the band stream on bulk IN; events queue on interrupt IN. Everything about
 * the job (deadlines, faults, pixels) comes from the engine (dm/engine.h);
 * this file only parses commands and frames what the engine offers: band
 * headers with their CRC, END_OF_JOB, events, STALL, unplug. */
#include <string.h>

#include "dm-internal.h"
#include "dm/engine.h"

#define RSP_SLOTS DM_RSP_QUEUE_DEPTH
#define EVT_SLOTS 16u
#define RSP_MAX   (PROTO_SCAN_RSP_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD)

struct dm_device {
    const dm_alloc *alloc;
    dm_engine *eng;
    dm_engine *own_eng; /* dm_device_create's; freed with the device */

    /* front state, reset by a power cycle */
    bool unplugged;
    bool halted;
    bool have_params;
    proto_scan_params params;

    /* bulk IN responses and interrupt events, FIFO rings */
    uint8_t rsp[RSP_SLOTS][RSP_MAX];
    size_t rsp_len[RSP_SLOTS];
    uint32_t rsp_head, rsp_count;
    uint8_t evt[EVT_SLOTS][PROTO_SCAN_EVENT_SIZE];
    uint32_t evt_head, evt_count;

    /* framing of the engine's current item */
    uint8_t end_msg[PROTO_SCAN_BAND_HDR_SIZE];
    uint8_t item_evt[PROTO_SCAN_EVENT_SIZE];
};

/* ---- the engine's vocabulary on this wire ---------------------------------------------- */

/* dm_status as a wire status; `error`: a job that ended so leaves the device
 * in devstatus state 3. */
static const struct {
    uint32_t wire;
    bool error;
} wire_status[DM_ST_COUNT_] = {
    [DM_ST_OK] = {PROTO_SCAN_ST_OK, false},
    [DM_ST_BUSY] = {PROTO_SCAN_ST_BUSY, false},
    [DM_ST_WARMING_UP] = {PROTO_SCAN_ST_WARMING_UP, false},
    [DM_ST_COVER_OPEN] = {PROTO_SCAN_ST_COVER_OPEN, true},
    [DM_ST_FEEDER_EMPTY] = {PROTO_SCAN_ST_FEEDER_EMPTY, false},
    [DM_ST_PAPER_JAM] = {PROTO_SCAN_ST_PAPER_JAM, true},
    [DM_ST_MULTI_FEED] = {PROTO_SCAN_ST_MULTI_FEED, true},
    [DM_ST_DEVICE_ERROR] = {PROTO_SCAN_ST_DEVICE_ERROR, true},
    [DM_ST_INVALID] = {PROTO_SCAN_ST_INVALID_PARAM, false},
    [DM_ST_CANCELED] = {PROTO_SCAN_ST_ABORTED, false},
    [DM_ST_DISCONNECTED] = {PROTO_SCAN_ST_DEVICE_ERROR, false},
};

static const uint16_t wire_event[] = {
    [DM_EV_NONE] = 0,
    [DM_EV_PAPER_JAM] = PROTO_SCAN_EVT_PAPER_JAM,
    [DM_EV_FEEDER_EMPTY] = PROTO_SCAN_EVT_FEEDER_EMPTY,
    [DM_EV_COVER_OPEN] = PROTO_SCAN_EVT_COVER_OPEN,
    [DM_EV_MULTI_FEED] = PROTO_SCAN_EVT_MULTI_FEED,
    [DM_EV_BUTTON] = PROTO_SCAN_EVT_BUTTON,
};

static uint32_t to_wire(dm_status st)
{
    return (unsigned)st < DM_ST_COUNT_ ? wire_status[st].wire : PROTO_SCAN_ST_DEVICE_ERROR;
}

static void event_encode(const dm_event *ev, uint8_t *out)
{
    proto_scan_event e = {.code = wire_event[ev->kind], .page = ev->page, .arg = ev->arg};
    proto_scan_event_encode(&e, out, PROTO_SCAN_EVENT_SIZE);
}

/* ---- rings -------------------------------------------------------------------------------- */

static void evt_push(dm_device *dev, const dm_event *ev)
{
    if (dev->evt_count == EVT_SLOTS) /* oldest event is lost, as on hardware */
    {
        dev->evt_head = (dev->evt_head + 1) % EVT_SLOTS;
        dev->evt_count--;
    }
    event_encode(ev, dev->evt[(dev->evt_head + dev->evt_count) % EVT_SLOTS]);
    dev->evt_count++;
}

static int rsp_push(dm_device *dev, uint16_t opcode, uint32_t tag, uint32_t status,
                    const uint8_t *payload, size_t plen)
{
    proto_scan_rsp r = {.opcode = opcode, .tag = tag, .status = status, .length = (uint32_t)plen};
    uint32_t slot;

    if (dev->rsp_count == RSP_SLOTS)
        return DM_E_AGAIN; /* not reached: dm_device_bulk_out checks first */
    slot = (dev->rsp_head + dev->rsp_count) % RSP_SLOTS;
    proto_scan_rsp_encode(&r, dev->rsp[slot], RSP_MAX);
    if (plen > 0)
        memcpy(dev->rsp[slot] + PROTO_SCAN_RSP_HDR_SIZE, payload, plen);
    dev->rsp_len[slot] = PROTO_SCAN_RSP_HDR_SIZE + plen;
    dev->rsp_count++;
    return DM_OK;
}

static void devstatus(dm_device *dev, uint64_t t, proto_scan_devstatus *st)
{
    dm_engine_status s;

    dm_engine_status_get(dev->eng, t, &s);
    memset(st, 0, sizeof(*st));
    if (s.state == DM_ENGINE_PROCESSING)
        st->state = 2;
    else if (s.state == DM_ENGINE_WARMING_UP)
        st->state = 1;
    else if ((unsigned)s.last_result < DM_ST_COUNT_ && wire_status[s.last_result].error)
        st->state = 3;
    st->sheets_loaded = s.sheets;
    st->cover_open = s.cover_open;
    st->pages_done = s.pages_done;
    st->warmup_remaining_ms = (uint32_t)((s.warmup_remaining_ns + 999999u) / 1000000u);
}

/* ---- commands ---------------------------------------------------------------------------- */

static void start_job(dm_device *dev, uint32_t tag)
{
    uint8_t pl[64];
    proto_scan_job job;
    uint64_t t = dm_engine_now(dev->eng);
    dm_status st;
    int n;

    st = dm_engine_start(dev->eng, dev, dev->have_params ? &dev->params : NULL, t, &job);
    if (st == DM_ST_OK) {
        n = proto_scan_job_encode(&job, pl, sizeof(pl));
        rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, PROTO_SCAN_ST_OK, pl, (size_t)n);
    } else if (st == DM_ST_WARMING_UP) {
        proto_scan_devstatus ds;
        devstatus(dev, t, &ds);
        n = proto_scan_devstatus_encode(&ds, pl, sizeof(pl));
        rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, PROTO_SCAN_ST_WARMING_UP, pl, (size_t)n);
    } else {
        rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, to_wire(st), NULL, 0);
    }
}

/* The front's half of a power cycle (the engine's is dm_engine_power_cycle). */
static void front_reset(dm_device *dev)
{
    dev->unplugged = false;
    dev->halted = false;
    dev->have_params = false;
    dev->rsp_head = dev->rsp_count = 0;
    dev->evt_head = dev->evt_count = 0;
}

static void power_cycle(dm_device *dev)
{
    dm_engine_power_cycle(dev->eng, dm_engine_now(dev->eng));
    front_reset(dev);
}

void dm_device_reset(dm_device *dev)
{
    if (dev != NULL)
        power_cycle(dev);
}

int dm_device_bulk_out(dm_device *dev, const uint8_t *buf, size_t len)
{
    proto_scan_cmd c;
    uint8_t pl[64];
    int rc, n;

    if (dev == NULL)
        return DM_E_INVALID;
    if (dev->unplugged)
        return DM_E_STATE;
    /* Every command, even a malformed one, is answered: with no room for the
     * answer the command is refused untouched (the OUT is NAKed). */
    if (dev->rsp_count == RSP_SLOTS)
        return DM_E_AGAIN;
    rc = proto_scan_cmd_decode(buf, len, &c);
    if (rc < 0) {
        uint16_t op = (buf != NULL && len >= 8) ? proto_get_le16(buf + 6) : 0;
        uint32_t tag = (buf != NULL && len >= 12) ? proto_get_le32(buf + 8) : 0;
        rsp_push(dev, op, tag, PROTO_SCAN_ST_INVALID_COMMAND, NULL, 0);
        return DM_E_PROTO;
    }
    if (len != PROTO_SCAN_CMD_HDR_SIZE + (size_t)c.length)
        return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_INVALID_COMMAND, NULL, 0);

    switch (c.opcode) {
    case PROTO_SCAN_OP_GET_CAPS: {
        proto_scan_caps caps;
        if (c.length != 0)
            break;
        dm_profile_caps(dm_engine_profile(dev->eng), &caps);
        n = proto_scan_caps_encode(&caps, pl, sizeof(pl));
        if (n < 0)
            return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_DEVICE_ERROR, NULL, 0);
        return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_OK, pl, (size_t)n);
    }
    case PROTO_SCAN_OP_SET_PARAMS: {
        proto_scan_params p;
        proto_scan_job job;
        dm_engine_status s;
        rc = proto_scan_params_decode(buf + PROTO_SCAN_CMD_HDR_SIZE, c.length, &p);
        if (rc == PROTO_E_TRUNCATED || (rc >= 0 && (uint32_t)rc != c.length))
            break;
        if (rc < 0)
            return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_INVALID_PARAM, NULL, 0);
        dm_engine_status_get(dev->eng, dm_engine_now(dev->eng), &s);
        if (s.state == DM_ENGINE_PROCESSING)
            return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_BUSY, NULL, 0);
        if (dm_engine_resolve(dev->eng, &p, &job) < 0)
            return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_INVALID_PARAM, NULL, 0);
        dev->params = p;
        dev->have_params = true;
        n = proto_scan_job_encode(&job, pl, sizeof(pl));
        return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_OK, pl, (size_t)n);
    }
    case PROTO_SCAN_OP_START_JOB:
        if (c.length != 0)
            break;
        start_job(dev, c.tag);
        return DM_OK;
    case PROTO_SCAN_OP_GET_STATUS: {
        proto_scan_devstatus st;
        if (c.length != 0)
            break;
        devstatus(dev, dm_engine_now(dev->eng), &st);
        n = proto_scan_devstatus_encode(&st, pl, sizeof(pl));
        return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_OK, pl, (size_t)n);
    }
    case PROTO_SCAN_OP_ABORT:
        if (c.length != 0)
            break;
        dm_engine_cancel(dev->eng, dev, dm_engine_now(dev->eng)); /* no job: nothing to do */
        return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_OK, NULL, 0);
    case PROTO_SCAN_OP_RESET:
        if (c.length != 0)
            break;
        power_cycle(dev);
        return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_OK, NULL, 0);
    default:
        break;
    }
    return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_INVALID_COMMAND, NULL, 0);
}

/* ---- IN endpoints ---------------------------------------------------------------------- */

/* Frame a due item: a band header in the engine's headroom right before the
 * pixels, or the END_OF_JOB header. */
static void frame_item(dm_device *dev, const dm_item *it, dm_in *out)
{
    proto_scan_band h;

    memset(&h, 0, sizeof(h));
    h.page = it->page;
    h.side = (uint16_t)it->side;
    h.band = it->band;
    if (it->kind == DM_ITEM_JOB_END) {
        h.flags = PROTO_SCAN_BAND_END_OF_JOB;
        h.status = to_wire(it->status);
        proto_scan_band_encode(&h, dev->end_msg, sizeof(dev->end_msg));
        out->data = dev->end_msg;
        out->len = PROTO_SCAN_BAND_HDR_SIZE;
        return;
    }
    {
        uint8_t *msg = it->headroom + DM_ENGINE_HEADROOM - PROTO_SCAN_BAND_HDR_SIZE;
        h.first_line = it->first_line;
        h.line_count = it->lines;
        h.byte_count = it->byte_count;
        h.status = PROTO_SCAN_ST_OK;
        if (it->end_of_page)
            h.flags |= PROTO_SCAN_BAND_END_OF_PAGE;
        h.crc32 = it->crc32;
        proto_scan_band_encode(&h, msg, PROTO_SCAN_BAND_HDR_SIZE);
        out->data = msg;
        out->len = PROTO_SCAN_BAND_HDR_SIZE + it->len;
    }
}

void dm_device_peek(dm_device *dev, enum dm_endpoint ep, uint64_t now_ns, dm_in *out)
{
    dm_item it;

    memset(out, 0, sizeof(*out));
    out->kind = DM_IN_IDLE;
    if (dev->unplugged) {
        out->kind = DM_IN_DISCONNECT;
        return;
    }
    if (ep == DM_EP_EVENT_IN) {
        if (dev->evt_count > 0) {
            out->kind = DM_IN_DATA;
            out->data = dev->evt[dev->evt_head];
            out->len = PROTO_SCAN_EVENT_SIZE;
            return;
        }
        dm_engine_peek(dev->eng, dev, now_ns, &it);
        if (it.kind == DM_ITEM_NONE || !it.event_pending)
            return;
        out->deadline_ns = it.deadline_ns;
        if (!it.event_due) {
            out->kind = DM_IN_WAIT;
            return;
        }
        event_encode(&it.event, dev->item_evt);
        out->kind = DM_IN_DATA;
        out->data = dev->item_evt;
        out->len = PROTO_SCAN_EVENT_SIZE;
        return;
    }
    if (ep != DM_EP_DATA_IN)
        return;
    if (dev->halted) {
        out->kind = DM_IN_STALL;
        return;
    }
    if (dev->rsp_count > 0) {
        out->kind = DM_IN_DATA;
        out->data = dev->rsp[dev->rsp_head];
        out->len = dev->rsp_len[dev->rsp_head];
        return;
    }
    dm_engine_peek(dev->eng, dev, now_ns, &it);
    if (it.kind == DM_ITEM_NONE)
        return;
    out->deadline_ns = it.deadline_ns;
    switch (it.action) {
    case DM_ACT_WAIT:
        out->kind = DM_IN_WAIT;
        break;
    case DM_ACT_WITHHOLD:
        out->kind = DM_IN_WAIT;
        out->deadline_ns = UINT64_MAX;
        break;
    case DM_ACT_DISCONNECT:
        out->kind = DM_IN_DISCONNECT;
        break;
    case DM_ACT_STALL:
        out->kind = DM_IN_STALL;
        break;
    case DM_ACT_DELIVER:
        out->kind = DM_IN_DATA;
        frame_item(dev, &it, out);
        break;
    default:
        out->kind = DM_IN_IDLE;
        break;
    }
}

void dm_device_consume(dm_device *dev, enum dm_endpoint ep, uint64_t release_ns)
{
    dm_device_consume_urb(dev, ep, release_ns, UINT64_MAX);
}

void dm_device_consume_urb(dm_device *dev, enum dm_endpoint ep, uint64_t release_ns,
                           uint64_t urb_ns)
{
    dm_item done;

    if (dev->unplugged)
        return;
    if (ep == DM_EP_EVENT_IN) {
        if (dev->evt_count > 0) {
            dev->evt_head = (dev->evt_head + 1) % EVT_SLOTS;
            dev->evt_count--;
        } else {
            dm_engine_event_taken(dev->eng, dev);
        }
        return;
    }
    if (ep != DM_EP_DATA_IN || dev->halted)
        return;
    if (dev->rsp_count > 0) {
        dev->rsp_head = (dev->rsp_head + 1) % RSP_SLOTS;
        dev->rsp_count--;
        return;
    }
    if (dm_engine_consume_carried(dev->eng, dev, release_ns, urb_ns, &done) < 0)
        return;
    switch (done.action) {
    case DM_ACT_DISCONNECT:
        dev->unplugged = true;
        break;
    case DM_ACT_STALL:
        dev->halted = true;
        break;
    case DM_ACT_DELIVER:
        /* An event not read on its own endpoint yet is queued now. */
        if (done.event_pending)
            evt_push(dev, &done.event);
        break;
    default:
        break;
    }
}

void dm_device_clear_halt(dm_device *dev, enum dm_endpoint ep)
{
    if (ep != DM_EP_DATA_IN || !dev->halted)
        return;
    dev->halted = false;
    dm_engine_resume(dev->eng, dev);
}

void dm_device_get_stats(const dm_device *dev, dm_device_stats *out)
{
    dm_engine_get_stats(dev->eng, out);
}

int dm_device_job_check(const dm_device *dev, char *errbuf, size_t errlen)
{
    if (dev == NULL)
        return DM_E_INVALID;
    return dm_engine_job_check(dev->eng, errbuf, errlen);
}

dm_engine *dm_device_engine(const dm_device *dev)
{
    return dev->eng;
}

/* ---- construction ------------------------------------------------------------------------ */

void dm_device_config_init(dm_device_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->timing = 1;
    cfg->late_tolerance_ns = DM_LATE_TOLERANCE_NS_DEFAULT;
}

/* A front on `eng`; own_eng (may be NULL) is freed with it. */
static int front_create(const dm_alloc *a, dm_engine *eng, dm_engine *own_eng, dm_device **out)
{
    dm_device *dev;
    int rc;

    dev = dm_malloc(a, sizeof(*dev));
    if (dev == NULL)
        return DM_E_NOMEM;
    dev->alloc = a;
    dev->eng = eng;
    dev->own_eng = own_eng;
    rc = dm_engine_attach(eng, dev);
    if (rc < 0)
        goto out_free_dev;
    front_reset(dev);
    *out = dev;
    return DM_OK;

out_free_dev:
    dm_free(a, dev);
    return rc;
}

int dm_device_create_a(const dm_alloc *a, const dm_device_config *cfg, dm_device **out)
{
    dm_engine *eng;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (cfg == NULL || out == NULL)
        return DM_E_INVALID;
    rc = dm_engine_create_a(a, cfg, &eng);
    if (rc < 0)
        return rc;
    rc = front_create(a, eng, eng, out);
    if (rc < 0)
        goto out_free_engine;
    return DM_OK;

out_free_engine:
    dm_engine_free(eng);
    return rc;
}

int dm_device_create(const dm_device_config *cfg, dm_device **out)
{
    return dm_device_create_a(NULL, cfg, out);
}

int dm_device_create_on_a(const dm_alloc *a, dm_engine *eng, dm_device **out)
{
    if (a == NULL)
        a = dm_alloc_default();
    if (eng == NULL || out == NULL)
        return DM_E_INVALID;
    return front_create(a, eng, NULL, out);
}

int dm_device_create_on(dm_engine *eng, dm_device **out)
{
    return dm_device_create_on_a(NULL, eng, out);
}

void dm_device_free(dm_device *dev)
{
    if (dev == NULL)
        return;
    dm_engine_detach(dev->eng, dev, dm_engine_now(dev->eng));
    dm_engine_free(dev->own_eng);
    dm_free(dev->alloc, dev);
}
