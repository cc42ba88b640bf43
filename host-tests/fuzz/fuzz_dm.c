/* Helpers shared by the device-model fuzz targets (see fuzz_dm.h). */
#include "fuzz_dm.h"

#include <string.h>

#include "fuzz.h"
#include "fuzz_scan_common.h"

int fuzz_dm_start(fuzz_dm_run *r, const dm_profile *p, const dm_scenario *s, int timing,
                  unsigned max_steps, uint64_t max_bytes)
{
    dm_device_config cfg;

    memset(r, 0, sizeof(*r));
    dm_clock_virtual_init(&r->clk, 1000000000ull);
    dm_device_config_init(&cfg);
    cfg.profile = p;
    cfg.scenario = s;
    cfg.seed = 7;
    cfg.clock = &r->clk.base;
    cfg.timing = timing;
    r->max_steps = max_steps;
    r->max_bytes = max_bytes;
    return dm_device_create(&cfg, &r->dev);
}

void fuzz_dm_stop(fuzz_dm_run *r)
{
    dm_device_stats st;

    if (r->dev == NULL)
        return;
    dm_device_get_stats(r->dev, &st);
    /* Every band the host saw was counted as released. */
    FUZZ_CHECK(st.bands_released == r->bands);
    dm_device_free(r->dev);
    r->dev = NULL;
}

/* A response: a valid header, exactly length payload bytes, and the payload
 * its opcode and status promise. */
static void check_rsp(fuzz_dm_run *r, const uint8_t *m, size_t len)
{
    proto_scan_rsp h;
    proto_scan_caps c;
    proto_scan_job j;
    proto_scan_devstatus s;
    const uint8_t *pl;
    int rc = fuzz_scan_rsp(m, len, &h);

    FUZZ_CHECK(rc == (int)PROTO_SCAN_RSP_HDR_SIZE);
    FUZZ_CHECK(len == PROTO_SCAN_RSP_HDR_SIZE + h.length);
    pl = m + PROTO_SCAN_RSP_HDR_SIZE;
    if (h.status == PROTO_SCAN_ST_WARMING_UP) {
        FUZZ_CHECK(fuzz_scan_devstatus(pl, h.length, &s) > 0);
        FUZZ_CHECK(s.warmup_remaining_ms > 0);
        return;
    }
    if (h.status != PROTO_SCAN_ST_OK) {
        FUZZ_CHECK(h.length == 0);
        return;
    }
    switch (h.opcode) {
    case PROTO_SCAN_OP_GET_CAPS:
        FUZZ_CHECK(fuzz_scan_caps(pl, h.length, &c) == (int)h.length);
        break;
    case PROTO_SCAN_OP_SET_PARAMS:
    case PROTO_SCAN_OP_START_JOB:
        FUZZ_CHECK(fuzz_scan_job(pl, h.length, &j) == (int)h.length);
        if (h.opcode == PROTO_SCAN_OP_START_JOB) {
            r->job = j;
            r->have_job = 1;
        }
        break;
    case PROTO_SCAN_OP_GET_STATUS:
        FUZZ_CHECK(fuzz_scan_devstatus(pl, h.length, &s) == (int)h.length);
        break;
    default:
        FUZZ_CHECK(h.length == 0);
        break;
    }
}

static void check_band(fuzz_dm_run *r, const uint8_t *m, size_t len)
{
    proto_scan_band b;
    int rc = fuzz_scan_band(m, len, &b);

    FUZZ_CHECK(rc == (int)PROTO_SCAN_BAND_HDR_SIZE);
    FUZZ_CHECK(len <= PROTO_SCAN_BAND_HDR_SIZE + (size_t)b.byte_count);
    if (r->have_job) {
        FUZZ_CHECK(len <= r->job.max_in_transfer);
        FUZZ_CHECK(b.byte_count <= (uint64_t)r->job.bytes_per_line * r->job.band_lines);
        FUZZ_CHECK(b.line_count <= r->job.band_lines);
        FUZZ_CHECK(b.byte_count == (uint64_t)b.line_count * r->job.bytes_per_line);
        if (!(b.flags & PROTO_SCAN_BAND_END_OF_JOB)) {
            FUZZ_CHECK(b.band < r->job.bands_per_page);
            FUZZ_CHECK(b.side == (r->job.source == PROTO_SCAN_SOURCE_DUPLEX ? b.page % 2 : 0));
        }
    }
    if (!(b.flags & PROTO_SCAN_BAND_END_OF_JOB))
        r->bands++;
    if (r->strict) {
        FUZZ_CHECK(len == PROTO_SCAN_BAND_HDR_SIZE + (size_t)b.byte_count);
        FUZZ_CHECK(proto_crc32(0, m + PROTO_SCAN_BAND_HDR_SIZE, b.byte_count) == b.crc32);
    }
}

static void check_data_in(fuzz_dm_run *r, const uint8_t *data, size_t len)
{
    uint8_t *m = fuzz_dup(data, len);
    uint32_t magic = 0;

    FUZZ_CHECK(proto_scan_peek_magic(m, len, &magic) == PROTO_OK);
    if (magic == PROTO_SCAN_MAGIC_RSP) {
        check_rsp(r, m, len);
        r->responses++;
    } else {
        FUZZ_CHECK(magic == PROTO_SCAN_MAGIC_BND);
        check_band(r, m, len);
    }
    r->bytes += len;
    free(m);
}

static void check_event(const uint8_t *data, size_t len)
{
    proto_scan_event e;

    FUZZ_CHECK(len == PROTO_SCAN_EVENT_SIZE);
    FUZZ_CHECK(fuzz_scan_event(data, len, &e) == (int)PROTO_SCAN_EVENT_SIZE);
}

void fuzz_dm_drain(fuzz_dm_run *r, unsigned steps)
{
    for (unsigned i = 0; i < steps && r->dev != NULL && !r->gone; i++) {
        uint64_t now = dm_clock_now(&r->clk.base);
        uint64_t next = UINT64_MAX;
        dm_in d, e;

        if (r->steps >= r->max_steps || r->bytes >= r->max_bytes)
            return;
        r->steps++;
        dm_device_peek(r->dev, DM_EP_EVENT_IN, now, &e);
        if (e.kind == DM_IN_DATA) {
            check_event(e.data, e.len);
            dm_device_consume(r->dev, DM_EP_EVENT_IN, now);
        } else if (e.kind == DM_IN_WAIT) {
            FUZZ_CHECK(e.deadline_ns > now);
            next = e.deadline_ns;
        } else if (e.kind == DM_IN_DISCONNECT) {
            r->gone = 1;
            return;
        } else {
            FUZZ_CHECK(e.kind == DM_IN_IDLE);
        }

        dm_device_peek(r->dev, DM_EP_DATA_IN, now, &d);
        switch (d.kind) {
        case DM_IN_DATA:
            FUZZ_CHECK(d.data != NULL && d.len >= 4);
            check_data_in(r, d.data, d.len);
            dm_device_consume(r->dev, DM_EP_DATA_IN, now);
            continue;
        case DM_IN_STALL:
            dm_device_consume(r->dev, DM_EP_DATA_IN, now);
            dm_device_clear_halt(r->dev, DM_EP_DATA_IN);
            continue;
        case DM_IN_DISCONNECT:
            dm_device_consume(r->dev, DM_EP_DATA_IN, now);
            r->gone = 1;
            return;
        case DM_IN_WAIT:
            FUZZ_CHECK(d.deadline_ns > now);
            if (d.deadline_ns < next)
                next = d.deadline_ns;
            break;
        case DM_IN_IDLE:
            break;
        default:
            FUZZ_CHECK(!"unknown dm_in kind");
        }
        if (e.kind == DM_IN_DATA)
            continue;
        if (next == UINT64_MAX)
            return; /* idle, or withheld forever */
        dm_clock_virtual_set(&r->clk, next);
    }
}

int fuzz_dm_send(fuzz_dm_run *r, const uint8_t *data, size_t len)
{
    uint8_t *p = fuzz_dup(data, len);
    int rc;

    if (r->dev == NULL || r->gone) {
        free(p);
        return DM_E_STATE;
    }
    rc = dm_device_bulk_out(r->dev, p, len);
    if (rc == DM_E_AGAIN) {
        unsigned before = r->responses;
        dm_in d;

        /* Deliver exactly one message; if it was a response, the command
         * must be taken now. */
        dm_device_peek(r->dev, DM_EP_DATA_IN, dm_clock_now(&r->clk.base), &d);
        if (d.kind == DM_IN_DATA) {
            check_data_in(r, d.data, d.len);
            dm_device_consume(r->dev, DM_EP_DATA_IN, dm_clock_now(&r->clk.base));
        }
        if (r->responses > before) {
            rc = dm_device_bulk_out(r->dev, p, len);
            FUZZ_CHECK(rc != DM_E_AGAIN);
        }
    }
    FUZZ_CHECK(rc == DM_OK || rc == DM_E_PROTO || rc == DM_E_AGAIN);
    free(p);
    return rc;
}

const dm_profile *fuzz_dm_default_profile(void)
{
    static dm_profile *p;
    char err[256];

    if (p == NULL) {
        int rc = dm_profile_load_default(&p, err, sizeof(err));
        if (rc != DM_OK) {
            fprintf(stderr, "default profile: %s\n", err);
            abort();
        }
    }
    return p;
}

static const char small_profile_yaml[] =
    "name: fuzz-small\n"
    "usb: {vid: 0x1209, pid: 0x0001, speed: high, manufacturer: f, product: f, serial: f}\n"
    "sources: [flatbed, adf, duplex]\n"
    "feeder_capacity: 10000\n"
    "modes: [bw, gray, color]\n"
    "resolutions: [75, 150]\n"
    "area: {width_mm: 20, height_mm: 30}\n"
    "band: {lines: 8, max_bytes: 4096}\n"
    "defaults: {source: duplex, mode: gray, dpi: 75}\n"
    "timing:\n"
    "  warmup_ms: 50\n"
    "  feed_ms: 3\n"
    "  jitter_us: 20\n"
    "  line_time_us: {bw: 10, gray: 20, color: 30}\n";

const dm_profile *fuzz_dm_small_profile(void)
{
    static dm_profile *p;
    char err[256];

    if (p == NULL) {
        int rc = dm_profile_load_mem("fuzz-small", small_profile_yaml,
                                     sizeof(small_profile_yaml) - 1, &p, err, sizeof(err));
        if (rc != DM_OK) {
            fprintf(stderr, "small profile: %s\n", err);
            abort();
        }
    }
    return p;
}

/* ---- counting allocator ---------------------------------------------------------- */

#define HDR 16u /* keeps max_align_t alignment */

static void *counting_realloc(void *ctx, void *ptr, size_t size)
{
    fuzz_counting_alloc *a = ctx;
    size_t old = 0;
    uint8_t *base = NULL;
    uint8_t *nb;

    if (ptr != NULL) {
        base = (uint8_t *)ptr - HDR;
        memcpy(&old, base, sizeof(old));
    }
    if (size == 0) {
        if (base != NULL) {
            FUZZ_CHECK(a->live >= old);
            a->live -= old;
            free(base);
        }
        return NULL;
    }
    if (size > SIZE_MAX - HDR)
        return NULL;
    a->calls++;
    nb = realloc(base, size + HDR);
    if (nb == NULL)
        return NULL;
    memcpy(nb, &size, sizeof(size));
    a->live = a->live - old + size;
    if (a->live > a->peak)
        a->peak = a->live;
    return nb + HDR;
}

void fuzz_counting_alloc_init(fuzz_counting_alloc *a)
{
    memset(a, 0, sizeof(*a));
    a->alloc.realloc = counting_realloc;
    a->alloc.ctx = a;
}
