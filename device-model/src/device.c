/* The device: the scanner's firmware behind the three endpoints.
 *
 * Commands arrive whole (one bulk OUT transfer each). Responses queue ahead of
 * the band stream on bulk IN. The band stream is a cursor (page, band) over
 * the job; the item under the cursor (a band, or the END_OF_JOB header) is
 * computed once when first looked at, with its absolute deadline and the
 * faults that fire there, and released by consume(). */
#include <string.h>

#include "dm-internal.h"

#define RSP_SLOTS  DM_RSP_QUEUE_DEPTH
#define EVT_SLOTS  16u
#define RSP_MAX    (PROTO_SCAN_RSP_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD)
#define MAX_FAULTS 64u

enum item_type { ITEM_BAND, ITEM_END };

typedef struct item {
    bool ready; /* computed for the current cursor */
    enum item_type type;
    uint32_t page, side, band;
    uint32_t status;    /* ITEM_END */
    uint64_t deadline;  /* absolute gate: never released before */
    int outcome;        /* fault index delivering this item, -1 none */
    int stall;          /* stall fault index, -1 none */
    uint32_t n_delays;  /* delay faults that fired here */
    bool stall_pending; /* a STALL is owed before this item */
    bool stall_counted;
    bool event_pending;
    uint8_t event[PROTO_SCAN_EVENT_SIZE];
    size_t len; /* message bytes in dev->buf */
    uint32_t data_bytes;
} item;

struct dm_device {
    const dm_alloc *alloc;
    const dm_profile *profile;
    const dm_scenario *scenario;
    dm_scenario *own_scenario;
    dm_clock *clock;
    uint64_t seed;
    int timing;
    dm_trace_fn trace;
    void *trace_ctx;

    /* power-cycle state */
    uint64_t power_on_ns;
    uint32_t busy_left[MAX_FAULTS];
    uint32_t cover_left[MAX_FAULTS];
    bool unplugged;
    bool halted;
    bool cover_open;
    bool error;
    bool have_params;
    proto_scan_params params;

    /* bulk IN responses and interrupt events, FIFO rings */
    uint8_t rsp[RSP_SLOTS][RSP_MAX];
    size_t rsp_len[RSP_SLOTS];
    uint32_t rsp_head, rsp_count;
    uint8_t evt[EVT_SLOTS][PROTO_SCAN_EVENT_SIZE];
    uint32_t evt_head, evt_count;

    /* job */
    bool active;
    proto_scan_job job;
    uint64_t job_start;
    uint64_t warm_off; /* lamp warm-up left at job start */
    uint64_t feed_ns, line_ns, jitter_ns;
    uint64_t delay_acc;
    uint64_t last_deadline;
    uint32_t sheets_left;
    uint32_t pages_done;
    uint32_t page, band; /* cursor */
    bool fired[MAX_FAULTS];
    item cur;

    dm_device_stats stats;
    uint8_t *buf; /* one band message; profile max_in_transfer bytes */
    size_t buf_size;
};

/* ---- helpers ---------------------------------------------------------------------- */

static bool is_duplex(const dm_device *dev)
{
    return dev->job.source == PROTO_SCAN_SOURCE_DUPLEX;
}

static bool uses_feeder(const dm_device *dev)
{
    return dev->job.source != PROTO_SCAN_SOURCE_FLATBED;
}

static uint32_t side_of(const dm_device *dev, uint32_t page)
{
    return is_duplex(dev) ? (page & 1u) : 0;
}

static uint64_t now(dm_device *dev)
{
    return dm_clock_now(dev->clock);
}

static void evt_push(dm_device *dev, uint16_t code, uint32_t page, uint32_t arg)
{
    proto_scan_event e = {.code = code, .page = page, .arg = arg};
    uint32_t slot;

    if (dev->evt_count == EVT_SLOTS) /* oldest event is lost, as on hardware */
    {
        dev->evt_head = (dev->evt_head + 1) % EVT_SLOTS;
        dev->evt_count--;
    }
    slot = (dev->evt_head + dev->evt_count) % EVT_SLOTS;
    proto_scan_event_encode(&e, dev->evt[slot], PROTO_SCAN_EVENT_SIZE);
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

static uint64_t warmup_fault_until(const dm_device *dev)
{
    uint64_t until = 0;

    for (uint32_t i = 0; i < dev->scenario->n_faults; i++) {
        const dm_fault *f = &dev->scenario->faults[i];
        if (f->kind == DM_FAULT_WARMING_UP && dev->power_on_ns + f->ms_ns > until)
            until = dev->power_on_ns + f->ms_ns;
    }
    return until;
}

static void devstatus(dm_device *dev, proto_scan_devstatus *st)
{
    uint64_t t = now(dev), until = warmup_fault_until(dev);

    memset(st, 0, sizeof(*st));
    if (dev->active)
        st->state = 2;
    else if (t < until)
        st->state = 1;
    else if (dev->error)
        st->state = 3;
    st->sheets_loaded = dev->active ? dev->sheets_left : dev->scenario->sheets;
    st->cover_open = dev->cover_open;
    st->pages_done = dev->pages_done;
    if (t < until)
        st->warmup_remaining_ms = (uint32_t)((until - t + 999999u) / 1000000u);
}

/* ---- the band stream ------------------------------------------------------------------ */

/* Model time of the end of band `band` of output page `page`, from job start,
 * before injected delays: warm-up left, then per sheet a feed and the lines.
 * Duplex scans both sides of a sheet at once. */
static uint64_t model_rel(const dm_device *dev, uint32_t page, uint32_t band, bool fed_only)
{
    const proto_scan_job *j = &dev->job;
    uint64_t sheet = is_duplex(dev) ? page / 2 : page;
    uint64_t period = dev->feed_ns + (uint64_t)j->height_px * dev->line_ns;
    uint64_t t = dev->warm_off + sheet * period + dev->feed_ns;
    uint64_t lines_end;

    if (fed_only)
        return t;
    lines_end = (uint64_t)dm_band_first_line(j, band) + dm_band_lines(j, band);
    t += lines_end * dev->line_ns;
    if (dev->jitter_ns > 0)
        t +=
            dm_hash5(j->seed, page, side_of(dev, page), band, DM_RND_JITTER) % (dev->jitter_ns + 1);
    return t;
}

static bool side_ok(uint32_t filter, uint32_t side)
{
    return filter == DM_SIDE_ANY || (filter == DM_SIDE_FRONT && side == 0) ||
           (filter == DM_SIDE_BACK && side == 1);
}

static uint32_t band_of_fault(const dm_device *dev, const dm_fault *f)
{
    const proto_scan_job *j = &dev->job;

    if (f->has_line)
        return (uint32_t)(f->line / j->band_lines);
    if (f->has_byte)
        return (uint32_t)(f->byte / j->bytes_per_line / j->band_lines);
    return f->band;
}

static bool fault_matches(dm_device *dev, uint32_t idx, uint32_t page, uint32_t band, uint64_t rel)
{
    const dm_fault *f = &dev->scenario->faults[idx];
    uint32_t side = side_of(dev, page);
    uint64_t fseed = dev->scenario->has_seed ? dev->scenario->seed : dev->job.seed;

    switch (f->trig) {
    case DM_TRIG_AT:
        return !dev->fired[idx] && f->page == page && side_ok(f->side_filter, side) &&
               band_of_fault(dev, f) == band;
    case DM_TRIG_AFTER:
        return !dev->fired[idx] && rel >= f->after_ns;
    case DM_TRIG_EVERY:
        return (page + 1) % f->every == 0 && f->band == band && side_ok(f->side_filter, side);
    case DM_TRIG_RANDOM:
        return dm_unit(dm_hash5(fseed, page, side, band, DM_RND_FAULT + 16u * idx)) <
               f->probability;
    case DM_TRIG_START:
    default:
        return false;
    }
}

static bool kind_at_band(dm_fault_kind k)
{
    return k != DM_FAULT_WARMING_UP && k != DM_FAULT_BUSY && k != DM_FAULT_FEEDER_EMPTY;
}

static uint32_t terminal_status(dm_fault_kind k)
{
    switch (k) {
    case DM_FAULT_PAPER_JAM:
        return PROTO_SCAN_ST_PAPER_JAM;
    case DM_FAULT_MULTI_FEED:
        return PROTO_SCAN_ST_MULTI_FEED;
    case DM_FAULT_COVER_OPEN:
        return PROTO_SCAN_ST_COVER_OPEN;
    case DM_FAULT_DEVICE_ERROR:
        return PROTO_SCAN_ST_DEVICE_ERROR;
    default:
        return PROTO_SCAN_ST_OK;
    }
}

static uint16_t event_code(dm_fault_kind k)
{
    switch (k) {
    case DM_FAULT_PAPER_JAM:
        return PROTO_SCAN_EVT_PAPER_JAM;
    case DM_FAULT_MULTI_FEED:
        return PROTO_SCAN_EVT_MULTI_FEED;
    case DM_FAULT_COVER_OPEN:
        return PROTO_SCAN_EVT_COVER_OPEN;
    case DM_FAULT_FEEDER_EMPTY:
        return PROTO_SCAN_EVT_FEEDER_EMPTY;
    case DM_FAULT_BUTTON:
        return PROTO_SCAN_EVT_BUTTON;
    default:
        return 0;
    }
}

static uint64_t gate_of(dm_device *dev, uint64_t rel)
{
    uint64_t d = dev->job_start + dev->delay_acc + (dev->timing ? rel : 0);
    if (d < dev->last_deadline)
        d = dev->last_deadline;
    return d;
}

static void set_event(item *it, uint16_t code, uint32_t page, uint32_t arg)
{
    proto_scan_event e = {.code = code, .page = page, .arg = arg};
    proto_scan_event_encode(&e, it->event, sizeof(it->event));
    it->event_pending = true;
}

static void make_end(dm_device *dev, item *it, uint32_t status)
{
    proto_scan_band h;

    memset(&h, 0, sizeof(h));
    h.flags = PROTO_SCAN_BAND_END_OF_JOB;
    h.page = it->page;
    h.side = (uint16_t)it->side;
    h.band = it->band;
    h.status = status;
    it->type = ITEM_END;
    it->status = status;
    proto_scan_band_encode(&h, dev->buf, dev->buf_size);
    it->len = PROTO_SCAN_BAND_HDR_SIZE;
    it->data_bytes = 0;
}

static void prepare(dm_device *dev)
{
    item *it = &dev->cur;
    const proto_scan_job *j = &dev->job;
    const dm_scenario *sc = dev->scenario;
    uint32_t p = dev->page, b = dev->band;
    uint64_t rel;

    if (it->ready)
        return;
    memset(it, 0, sizeof(*it));
    it->ready = true;
    it->page = p;
    it->side = side_of(dev, p);
    it->band = b;
    it->outcome = -1;
    it->stall = -1;

    if (b == 0) {
        /* Start of a page: done, or a sheet must be fed. */
        if (j->pages != 0 && p >= j->pages) {
            it->deadline = gate_of(dev, model_rel(dev, p, 0, true) - dev->feed_ns);
            make_end(dev, it, PROTO_SCAN_ST_OK);
            return;
        }
        if (uses_feeder(dev) && it->side == 0) {
            bool dry = dev->sheets_left == 0;
            for (uint32_t i = 0; i < sc->n_faults && !dry; i++) {
                const dm_fault *f = &sc->faults[i];
                if (f->kind == DM_FAULT_FEEDER_EMPTY && f->page == p) {
                    dry = true;
                    it->outcome = (int)i;
                }
            }
            if (dry) {
                it->deadline = gate_of(dev, model_rel(dev, p, 0, true));
                make_end(dev, it, PROTO_SCAN_ST_FEEDER_EMPTY);
                set_event(it, PROTO_SCAN_EVT_FEEDER_EMPTY, p, 0);
                return;
            }
        }
    }

    rel = model_rel(dev, p, b, false);
    for (uint32_t i = 0; i < sc->n_faults && i < MAX_FAULTS; i++) {
        const dm_fault *f = &sc->faults[i];
        if (!kind_at_band(f->kind) || !fault_matches(dev, i, p, b, rel + dev->delay_acc))
            continue;
        if (f->trig == DM_TRIG_AT || f->trig == DM_TRIG_AFTER)
            dev->fired[i] = true;
        if (f->kind == DM_FAULT_DELAY) {
            dev->delay_acc += f->ms_ns;
            it->n_delays++;
        } else if (f->kind == DM_FAULT_STALL) {
            if (it->stall < 0) {
                it->stall = (int)i;
                it->stall_pending = true;
            }
        } else if (it->outcome < 0) {
            it->outcome = (int)i;
        }
    }
    it->deadline = gate_of(dev, rel);

    if (it->outcome >= 0) {
        const dm_fault *f = &sc->faults[it->outcome];
        uint32_t st = terminal_status(f->kind);
        uint16_t ev = event_code(f->kind);
        if (ev != 0)
            set_event(it, ev, p, b);
        if (st != PROTO_SCAN_ST_OK) {
            make_end(dev, it, st);
            return;
        }
    }

    /* A data band. */
    {
        proto_scan_band h;
        uint32_t bytes = (uint32_t)dm_band_bytes(j, b);
        uint8_t *data = dev->buf + PROTO_SCAN_BAND_HDR_SIZE;
        uint32_t sent = bytes;

        memset(&h, 0, sizeof(h));
        h.page = p;
        h.side = (uint16_t)it->side;
        h.band = b;
        h.first_line = dm_band_first_line(j, b);
        h.line_count = dm_band_lines(j, b);
        h.byte_count = bytes;
        h.status = PROTO_SCAN_ST_OK;
        if (b + 1 == j->bands_per_page)
            h.flags |= PROTO_SCAN_BAND_END_OF_PAGE;
        dm_synth_band(j, p, it->side, b, data);
        h.crc32 = proto_crc32(0, data, bytes);
        proto_scan_band_encode(&h, dev->buf, dev->buf_size);
        it->type = ITEM_BAND;
        if (it->outcome >= 0) {
            const dm_fault *f = &sc->faults[it->outcome];
            uint64_t off =
                f->has_byte ? (f->byte - (uint64_t)h.first_line * j->bytes_per_line) : bytes / 2;
            if (off >= bytes)
                off = bytes - 1;
            if (f->kind == DM_FAULT_SHORT_BAND) {
                if (f->has_byte)
                    sent = (uint32_t)off;
                else if (f->bytes > 0)
                    sent = f->bytes >= bytes ? 0 : bytes - f->bytes;
                else
                    sent = bytes / 2;
            } else if (f->kind == DM_FAULT_CORRUPT_BAND) {
                uint32_t n = f->bytes ? f->bytes : 1;
                for (uint64_t k = off; k < bytes && k < off + n; k++)
                    data[k] ^= 0xFF;
            }
        }
        it->data_bytes = sent;
        it->len = PROTO_SCAN_BAND_HDR_SIZE + sent;
    }
}

static const char *item_fault_name(const dm_device *dev, const item *it)
{
    if (it->outcome >= 0)
        return dm_fault_name(dev->scenario->faults[it->outcome].kind);
    if (it->type == ITEM_END && it->status == PROTO_SCAN_ST_FEEDER_EMPTY)
        return "feeder_empty";
    if (it->n_delays > 0)
        return "delay";
    return NULL;
}

static void emit_trace(dm_device *dev, const item *it, uint64_t release, uint32_t bytes,
                       const char *fault)
{
    dm_trace_rec rec;

    if (dev->trace == NULL)
        return;
    rec.page = it->page;
    rec.side = it->side;
    rec.band = it->band;
    rec.job_start_ns = dev->job_start;
    rec.deadline_ns = it->deadline;
    rec.release_ns = release;
    rec.bytes = bytes;
    rec.fault = fault;
    dev->trace(dev->trace_ctx, &rec);
}

static bool item_withheld(const dm_device *dev, const item *it)
{
    return it->outcome >= 0 && dev->scenario->faults[it->outcome].kind == DM_FAULT_BAND_NEVER_COMES;
}

static bool item_unplugs(const dm_device *dev, const item *it)
{
    return it->outcome >= 0 && dev->scenario->faults[it->outcome].kind == DM_FAULT_DISCONNECT;
}

/* Stop the job; a band withheld forever is traced as withheld until now. */
static void job_cancel(dm_device *dev)
{
    if (!dev->active)
        return;
    if (dev->cur.ready && item_withheld(dev, &dev->cur)) {
        uint64_t t = now(dev);
        if (t >= dev->cur.deadline) {
            dev->stats.faults_fired++;
            emit_trace(dev, &dev->cur, t, 0, "band_never_comes");
        }
    }
    dev->active = false;
    memset(&dev->cur, 0, sizeof(dev->cur));
}

static void advance(dm_device *dev)
{
    const item *it = &dev->cur;

    if (it->type == ITEM_END) {
        dev->active = false;
        dev->error = it->status != PROTO_SCAN_ST_OK && it->status != PROTO_SCAN_ST_FEEDER_EMPTY;
        if (it->status == PROTO_SCAN_ST_COVER_OPEN)
            dev->cover_open = true;
    } else {
        if (it->band == 0 && it->side == 0 && uses_feeder(dev) && dev->sheets_left > 0)
            dev->sheets_left--;
        if (it->band + 1 < dev->job.bands_per_page) {
            dev->band++;
        } else {
            dev->band = 0;
            dev->page++;
            dev->pages_done++;
        }
    }
    dev->last_deadline = it->deadline;
    memset(&dev->cur, 0, sizeof(dev->cur));
}

/* ---- commands ---------------------------------------------------------------------------- */

static void start_job(dm_device *dev, uint32_t tag)
{
    const dm_scenario *sc = dev->scenario;
    uint8_t pl[64];
    proto_scan_params params;
    proto_scan_job job;
    uint64_t t = now(dev);
    int n;

    if (dev->active) {
        rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, PROTO_SCAN_ST_BUSY, NULL, 0);
        return;
    }
    if (t < warmup_fault_until(dev)) {
        proto_scan_devstatus st;
        devstatus(dev, &st);
        n = proto_scan_devstatus_encode(&st, pl, sizeof(pl));
        rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, PROTO_SCAN_ST_WARMING_UP, pl, (size_t)n);
        return;
    }
    for (uint32_t i = 0; i < sc->n_faults && i < MAX_FAULTS; i++) {
        const dm_fault *f = &sc->faults[i];
        if (f->kind == DM_FAULT_BUSY && dev->busy_left[i] > 0) {
            dev->busy_left[i]--;
            dev->stats.faults_fired++;
            rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, PROTO_SCAN_ST_BUSY, NULL, 0);
            return;
        }
        if (f->kind == DM_FAULT_COVER_OPEN && f->trig == DM_TRIG_START &&
            (f->count == 0 || dev->cover_left[i] > 0)) {
            if (dev->cover_left[i] > 0)
                dev->cover_left[i]--;
            dev->stats.faults_fired++;
            dev->cover_open = true;
            rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, PROTO_SCAN_ST_COVER_OPEN, NULL, 0);
            return;
        }
    }
    if (dev->have_params) {
        params = dev->params;
    } else {
        memset(&params, 0, sizeof(params));
        params.source = (uint8_t)dev->profile->def_source;
        params.mode = (uint8_t)dev->profile->def_mode;
        params.dpi = (uint16_t)dev->profile->def_dpi;
    }
    if (dm_job_resolve(dev->profile, &params, dev->seed, &job, NULL, 0) < 0) {
        rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, PROTO_SCAN_ST_INVALID_PARAM, NULL, 0);
        return;
    }
    if (job.source != PROTO_SCAN_SOURCE_FLATBED) {
        bool empty = sc->sheets == 0;
        for (uint32_t i = 0; i < sc->n_faults; i++)
            if (sc->faults[i].kind == DM_FAULT_FEEDER_EMPTY && sc->faults[i].page == 0)
                empty = true;
        if (empty) {
            rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, PROTO_SCAN_ST_FEEDER_EMPTY, NULL, 0);
            return;
        }
    }

    /* Accepted. */
    dev->stats.jobs_started++;
    dev->active = true;
    dev->error = false;
    dev->cover_open = false;
    dev->job = job;
    dev->job_start = t;
    {
        double scale = sc->time_scale;
        uint64_t warm = (uint64_t)((double)dev->profile->warmup_ns * scale);
        dev->feed_ns = (uint64_t)((double)dev->profile->feed_ns * scale);
        dev->line_ns =
            (uint64_t)((double)dm_profile_line_ns(dev->profile, job.mode, job.dpi) * scale);
        dev->jitter_ns = (uint64_t)((double)dev->profile->jitter_ns * scale);
        dev->warm_off =
            (dev->timing && dev->power_on_ns + warm > t) ? dev->power_on_ns + warm - t : 0;
    }
    dev->delay_acc = 0;
    dev->last_deadline = 0;
    dev->sheets_left = sc->sheets;
    dev->pages_done = 0;
    dev->page = 0;
    dev->band = 0;
    memset(dev->fired, 0, sizeof(dev->fired));
    memset(&dev->cur, 0, sizeof(dev->cur));
    n = proto_scan_job_encode(&job, pl, sizeof(pl));
    rsp_push(dev, PROTO_SCAN_OP_START_JOB, tag, PROTO_SCAN_ST_OK, pl, (size_t)n);
}

static void power_cycle(dm_device *dev)
{
    job_cancel(dev);
    dev->power_on_ns = now(dev);
    dev->unplugged = false;
    dev->halted = false;
    dev->cover_open = false;
    dev->error = false;
    dev->have_params = false;
    dev->rsp_head = dev->rsp_count = 0;
    dev->evt_head = dev->evt_count = 0;
    dev->pages_done = 0;
    for (uint32_t i = 0; i < dev->scenario->n_faults && i < MAX_FAULTS; i++) {
        dev->busy_left[i] =
            dev->scenario->faults[i].kind == DM_FAULT_BUSY ? dev->scenario->faults[i].count : 0;
        dev->cover_left[i] = dev->scenario->faults[i].kind == DM_FAULT_COVER_OPEN
                                 ? dev->scenario->faults[i].count
                                 : 0;
    }
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
        dm_profile_caps(dev->profile, &caps);
        n = proto_scan_caps_encode(&caps, pl, sizeof(pl));
        if (n < 0)
            return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_DEVICE_ERROR, NULL, 0);
        return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_OK, pl, (size_t)n);
    }
    case PROTO_SCAN_OP_SET_PARAMS: {
        proto_scan_params p;
        proto_scan_job job;
        rc = proto_scan_params_decode(buf + PROTO_SCAN_CMD_HDR_SIZE, c.length, &p);
        if (rc == PROTO_E_TRUNCATED || (rc >= 0 && (uint32_t)rc != c.length))
            break;
        if (rc < 0)
            return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_INVALID_PARAM, NULL, 0);
        if (dev->active)
            return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_BUSY, NULL, 0);
        if (dm_job_resolve(dev->profile, &p, dev->seed, &job, NULL, 0) < 0)
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
        devstatus(dev, &st);
        n = proto_scan_devstatus_encode(&st, pl, sizeof(pl));
        return rsp_push(dev, c.opcode, c.tag, PROTO_SCAN_ST_OK, pl, (size_t)n);
    }
    case PROTO_SCAN_OP_ABORT:
        if (c.length != 0)
            break;
        job_cancel(dev);
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

void dm_device_peek(dm_device *dev, enum dm_endpoint ep, uint64_t now_ns, dm_in *out)
{
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
        if (!dev->active)
            return;
        prepare(dev);
        if (!dev->cur.event_pending)
            return;
        out->deadline_ns = dev->cur.deadline;
        if (now_ns < dev->cur.deadline) {
            out->kind = DM_IN_WAIT;
            return;
        }
        out->kind = DM_IN_DATA;
        out->data = dev->cur.event;
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
    if (!dev->active)
        return;
    prepare(dev);
    out->deadline_ns = dev->cur.deadline;
    if (now_ns < dev->cur.deadline) {
        out->kind = DM_IN_WAIT;
        return;
    }
    if (item_withheld(dev, &dev->cur)) {
        out->kind = DM_IN_WAIT;
        out->deadline_ns = UINT64_MAX;
        return;
    }
    if (item_unplugs(dev, &dev->cur)) {
        out->kind = DM_IN_DISCONNECT;
        return;
    }
    if (dev->cur.stall_pending) {
        out->kind = DM_IN_STALL;
        return;
    }
    out->kind = DM_IN_DATA;
    out->data = dev->buf;
    out->len = dev->cur.len;
}

void dm_device_consume(dm_device *dev, enum dm_endpoint ep, uint64_t release_ns)
{
    item *it = &dev->cur;

    if (dev->unplugged)
        return;
    if (ep == DM_EP_EVENT_IN) {
        if (dev->evt_count > 0) {
            dev->evt_head = (dev->evt_head + 1) % EVT_SLOTS;
            dev->evt_count--;
        } else if (dev->active && it->ready && it->event_pending) {
            it->event_pending = false;
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
    if (!dev->active)
        return;
    prepare(dev);
    if (item_withheld(dev, it))
        return;
    if (item_unplugs(dev, it)) {
        dev->stats.faults_fired++;
        emit_trace(dev, it, release_ns, 0, "disconnect");
        dev->unplugged = true;
        dev->active = false;
        memset(it, 0, sizeof(*it));
        return;
    }
    if (it->stall_pending) {
        it->stall_pending = false;
        dev->halted = true;
        if (!it->stall_counted) {
            it->stall_counted = true;
            dev->stats.faults_fired++;
        }
        emit_trace(dev, it, release_ns, 0, "stall");
        return;
    }
    /* The message is on the bus. */
    if (it->event_pending)
        evt_push(dev, proto_get_le16(it->event + 6), proto_get_le32(it->event + 8),
                 proto_get_le32(it->event + 12));
    dev->stats.faults_fired += it->n_delays + (it->outcome >= 0 ? 1u : 0u);
    if (it->type == ITEM_BAND) {
        dev->stats.bands_released++;
        dev->stats.bytes_released += it->data_bytes;
    }
    if (release_ns > it->deadline) {
        dev->stats.late_bands++;
        if (release_ns - it->deadline > dev->stats.max_late_ns)
            dev->stats.max_late_ns = release_ns - it->deadline;
    }
    emit_trace(dev, it, release_ns, it->data_bytes, item_fault_name(dev, it));
    advance(dev);
}

void dm_device_clear_halt(dm_device *dev, enum dm_endpoint ep)
{
    if (ep != DM_EP_DATA_IN || !dev->halted)
        return;
    dev->halted = false;
    if (dev->active && dev->cur.ready && dev->cur.stall >= 0 &&
        !dev->scenario->faults[dev->cur.stall].clears)
        dev->cur.stall_pending = true;
}

void dm_device_get_stats(const dm_device *dev, dm_device_stats *out)
{
    *out = dev->stats;
}

int dm_device_job_check(const dm_device *dev, char *errbuf, size_t errlen)
{
    if (dev == NULL)
        return DM_E_INVALID;
    if (dev->stats.jobs_started == 0) {
        dm_errf(errbuf, errlen, "no job was started yet");
        return DM_E_STATE;
    }
    return dm_scenario_check_profile_job(dev->scenario, dev->profile, &dev->job, errbuf, errlen);
}

/* ---- construction ------------------------------------------------------------------------ */

void dm_device_config_init(dm_device_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->timing = 1;
}

int dm_device_create_a(const dm_alloc *a, const dm_device_config *cfg, dm_device **out)
{
    dm_device *dev;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (cfg == NULL || cfg->profile == NULL || cfg->clock == NULL || out == NULL)
        return DM_E_INVALID;
    dev = dm_malloc(a, sizeof(*dev));
    if (dev == NULL)
        return DM_E_NOMEM;
    dev->alloc = a;
    dev->profile = cfg->profile;
    dev->clock = cfg->clock;
    dev->seed = cfg->seed;
    dev->timing = cfg->timing;
    dev->trace = cfg->trace;
    dev->trace_ctx = cfg->trace_ctx;
    if (cfg->scenario != NULL) {
        dev->scenario = cfg->scenario;
    } else {
        rc = dm_scenario_load_mem_a(a, "<built-in clean.yaml>", dm_builtin_scenario_yaml,
                                    dm_builtin_scenario_len, &dev->own_scenario, NULL, 0);
        if (rc < 0)
            goto out_free_dev;
        dev->scenario = dev->own_scenario;
    }
    if (dev->scenario->n_faults > MAX_FAULTS ||
        dm_scenario_check(dev->scenario, dev->profile, NULL, 0) < 0) {
        rc = DM_E_RANGE;
        goto out_free_scenario;
    }
    dev->buf_size = cfg->profile->max_in_transfer;
    dev->buf = dm_malloc(a, dev->buf_size);
    if (dev->buf == NULL) {
        rc = DM_E_NOMEM;
        goto out_free_scenario;
    }
    power_cycle(dev);
    *out = dev;
    return DM_OK;

out_free_scenario:
    dm_scenario_free(dev->own_scenario);
out_free_dev:
    dm_free(a, dev);
    return rc;
}

int dm_device_create(const dm_device_config *cfg, dm_device **out)
{
    return dm_device_create_a(NULL, cfg, out);
}

void dm_device_free(dm_device *dev)
{
    if (dev == NULL)
        return;
    job_cancel(dev);
    dm_scenario_free(dev->own_scenario);
    dm_free(dev->alloc, dev->buf);
    dm_free(dev->alloc, dev);
}
