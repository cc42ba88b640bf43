/* Codec of the scanner's own USB protocol (docs/protocol.md). Pure: bytes in,
 * structs out; no allocation, no I/O, every length checked before use. */
#include "protocol/scan.h"

#include <limits.h>
#include <string.h>

#include <isa-l/crc.h>

/* Payload sizes on the wire (docs/protocol.md section 4). */
#define CAPS_SIZE      64u
#define PARAMS_SIZE    32u
#define JOB_SIZE       48u
#define DEVSTATUS_SIZE 20u

#define BAND_KNOWN_FLAGS  (PROTO_SCAN_BAND_END_OF_PAGE | PROTO_SCAN_BAND_END_OF_JOB)
#define PARAM_KNOWN_FLAGS PROTO_SCAN_PARAM_SEED

const char *proto_scan_status_name(uint32_t status)
{
    switch (status) {
#define PROTO_SCAN_STATUS_NAME_(name, value, msg)                                                  \
    case (value):                                                                                  \
        return #name;
        PROTO_SCAN_STATUS_MAP(PROTO_SCAN_STATUS_NAME_)
#undef PROTO_SCAN_STATUS_NAME_
    default:
        return "?";
    }
}

const char *proto_scan_status_str(uint32_t status)
{
    switch (status) {
#define PROTO_SCAN_STATUS_STR_(name, value, msg)                                                   \
    case (value):                                                                                  \
        return msg;
        PROTO_SCAN_STATUS_MAP(PROTO_SCAN_STATUS_STR_)
#undef PROTO_SCAN_STATUS_STR_
    default:
        return "unknown status";
    }
}

static int status_known(uint32_t status)
{
    return status <= PROTO_SCAN_ST_DEVICE_ERROR;
}

unsigned proto_scan_mode_bpp(uint32_t mode)
{
    switch (mode) {
    case PROTO_SCAN_MODE_BW:
        return 1;
    case PROTO_SCAN_MODE_GRAY8:
        return 8;
    case PROTO_SCAN_MODE_COLOR24:
        return 24;
    case PROTO_SCAN_MODE_GRAY16:
        return 16;
    case PROTO_SCAN_MODE_COLOR48:
        return 48;
    default:
        return 0;
    }
}

/* ISA-L's crc32_gzip_refl is zlib's CRC-32 (same polynomial, initial value
 * and final inversion, so chaining works the same). It picks its code at run
 * time: 16 lanes of VPCLMULQDQ on AVX-512 machines (about 4x libdeflate
 * 1.14's PCLMUL loop on a band in cache), PCLMUL elsewhere, a table without
 * either. Band CRCs are computed twice per byte delivered (device and
 * driver), so this is on the throughput path. */
uint32_t proto_crc32(uint32_t crc, const void *buf, size_t len)
{
    return crc32_gzip_refl(crc, (const unsigned char *)buf, (uint64_t)len);
}

/* Every message starts with magic (LE32) and version (LE16). */
static void put_prefix(uint8_t *buf, uint32_t magic)
{
    proto_put_le32(buf, magic);
    proto_put_le16(buf + 4, PROTO_SCAN_VERSION);
}

static int check_prefix(const uint8_t *buf, size_t len, size_t need, uint32_t magic)
{
    if (buf == NULL || len < need)
        return PROTO_E_TRUNCATED;
    if (proto_get_le32(buf) != magic)
        return PROTO_E_BAD_MAGIC;
    if (proto_get_le16(buf + 4) != PROTO_SCAN_VERSION)
        return PROTO_E_BAD_VERSION;
    return PROTO_OK;
}

int proto_scan_peek_magic(const uint8_t *buf, size_t len, uint32_t *magic)
{
    uint32_t m;

    if (buf == NULL || len < 4)
        return PROTO_E_TRUNCATED;
    m = proto_get_le32(buf);
    if (m != PROTO_SCAN_MAGIC_CMD && m != PROTO_SCAN_MAGIC_RSP && m != PROTO_SCAN_MAGIC_BND &&
        m != PROTO_SCAN_MAGIC_EVT)
        return PROTO_E_BAD_MAGIC;
    if (magic != NULL)
        *magic = m;
    return PROTO_OK;
}

/* ---- command header: magic version opcode tag length (16 bytes) ---------- */

int proto_scan_cmd_encode(const proto_scan_cmd *c, uint8_t *buf, size_t len)
{
    if (c == NULL || buf == NULL)
        return PROTO_E_BAD_FIELD;
    if (c->length > PROTO_SCAN_MAX_PAYLOAD)
        return PROTO_E_BAD_LENGTH;
    if (len < PROTO_SCAN_CMD_HDR_SIZE)
        return PROTO_E_NOSPACE;
    put_prefix(buf, PROTO_SCAN_MAGIC_CMD);
    proto_put_le16(buf + 6, c->opcode);
    proto_put_le32(buf + 8, c->tag);
    proto_put_le32(buf + 12, c->length);
    return (int)PROTO_SCAN_CMD_HDR_SIZE;
}

int proto_scan_cmd_decode(const uint8_t *buf, size_t len, proto_scan_cmd *out)
{
    proto_scan_cmd c;
    int rc = check_prefix(buf, len, PROTO_SCAN_CMD_HDR_SIZE, PROTO_SCAN_MAGIC_CMD);

    if (rc < 0)
        return rc;
    c.opcode = proto_get_le16(buf + 6);
    c.tag = proto_get_le32(buf + 8);
    c.length = proto_get_le32(buf + 12);
    if (c.length > PROTO_SCAN_MAX_PAYLOAD)
        return PROTO_E_BAD_LENGTH;
    /* The opcode is not range-checked here: the device answers an unknown
     * opcode with INVALID_COMMAND, echoing the tag. */
    if (out != NULL)
        *out = c;
    return (int)PROTO_SCAN_CMD_HDR_SIZE;
}

/* ---- response header: magic version opcode tag status length (20) -------- */

int proto_scan_rsp_encode(const proto_scan_rsp *r, uint8_t *buf, size_t len)
{
    if (r == NULL || buf == NULL)
        return PROTO_E_BAD_FIELD;
    if (r->length > PROTO_SCAN_MAX_PAYLOAD)
        return PROTO_E_BAD_LENGTH;
    if (!status_known(r->status))
        return PROTO_E_BAD_FIELD;
    if (len < PROTO_SCAN_RSP_HDR_SIZE)
        return PROTO_E_NOSPACE;
    put_prefix(buf, PROTO_SCAN_MAGIC_RSP);
    proto_put_le16(buf + 6, r->opcode);
    proto_put_le32(buf + 8, r->tag);
    proto_put_le32(buf + 12, r->status);
    proto_put_le32(buf + 16, r->length);
    return (int)PROTO_SCAN_RSP_HDR_SIZE;
}

int proto_scan_rsp_decode(const uint8_t *buf, size_t len, proto_scan_rsp *out)
{
    proto_scan_rsp r;
    int rc = check_prefix(buf, len, PROTO_SCAN_RSP_HDR_SIZE, PROTO_SCAN_MAGIC_RSP);

    if (rc < 0)
        return rc;
    r.opcode = proto_get_le16(buf + 6);
    r.tag = proto_get_le32(buf + 8);
    r.status = proto_get_le32(buf + 12);
    r.length = proto_get_le32(buf + 16);
    if (r.length > PROTO_SCAN_MAX_PAYLOAD)
        return PROTO_E_BAD_LENGTH;
    if (!status_known(r.status))
        return PROTO_E_BAD_FIELD;
    if (out != NULL)
        *out = r;
    return (int)PROTO_SCAN_RSP_HDR_SIZE;
}

/* ---- band header (40 bytes) ------------------------------------------------
 *  0 magic  4 version  6 flags  8 page  12 side  14 reserved  16 band
 * 20 first_line  24 line_count  28 byte_count  32 status  36 crc32 */

static int band_check(const proto_scan_band *b)
{
    if (b->flags & ~BAND_KNOWN_FLAGS)
        return PROTO_E_BAD_FIELD;
    if (b->side > 1)
        return PROTO_E_BAD_FIELD;
    if (!status_known(b->status))
        return PROTO_E_BAD_FIELD;
    if (b->byte_count > PROTO_SCAN_MAX_BAND_DATA)
        return PROTO_E_BAD_LENGTH;
    if (b->line_count > PROTO_SCAN_MAX_BAND_DATA || (b->line_count == 0) != (b->byte_count == 0))
        return PROTO_E_BAD_FIELD;
    /* A band that ends the job, or carries a non-OK status, has no data. */
    if ((b->status != PROTO_SCAN_ST_OK || (b->flags & PROTO_SCAN_BAND_END_OF_JOB)) &&
        b->byte_count != 0)
        return PROTO_E_BAD_FIELD;
    if (b->status != PROTO_SCAN_ST_OK && !(b->flags & PROTO_SCAN_BAND_END_OF_JOB))
        return PROTO_E_BAD_FIELD;
    return PROTO_OK;
}

int proto_scan_band_encode(const proto_scan_band *b, uint8_t *buf, size_t len)
{
    int rc;

    if (b == NULL || buf == NULL)
        return PROTO_E_BAD_FIELD;
    rc = band_check(b);
    if (rc < 0)
        return rc;
    if (len < PROTO_SCAN_BAND_HDR_SIZE)
        return PROTO_E_NOSPACE;
    put_prefix(buf, PROTO_SCAN_MAGIC_BND);
    proto_put_le16(buf + 6, b->flags);
    proto_put_le32(buf + 8, b->page);
    proto_put_le16(buf + 12, b->side);
    proto_put_le16(buf + 14, 0);
    proto_put_le32(buf + 16, b->band);
    proto_put_le32(buf + 20, b->first_line);
    proto_put_le32(buf + 24, b->line_count);
    proto_put_le32(buf + 28, b->byte_count);
    proto_put_le32(buf + 32, b->status);
    proto_put_le32(buf + 36, b->crc32);
    return (int)PROTO_SCAN_BAND_HDR_SIZE;
}

int proto_scan_band_decode(const uint8_t *buf, size_t len, proto_scan_band *out)
{
    proto_scan_band b;
    int rc = check_prefix(buf, len, PROTO_SCAN_BAND_HDR_SIZE, PROTO_SCAN_MAGIC_BND);

    if (rc < 0)
        return rc;
    b.flags = proto_get_le16(buf + 6);
    b.page = proto_get_le32(buf + 8);
    b.side = proto_get_le16(buf + 12);
    b.band = proto_get_le32(buf + 16);
    b.first_line = proto_get_le32(buf + 20);
    b.line_count = proto_get_le32(buf + 24);
    b.byte_count = proto_get_le32(buf + 28);
    b.status = proto_get_le32(buf + 32);
    b.crc32 = proto_get_le32(buf + 36);
    rc = band_check(&b);
    if (rc < 0)
        return rc;
    if (out != NULL)
        *out = b;
    return (int)PROTO_SCAN_BAND_HDR_SIZE;
}

/* ---- event (16 bytes): magic version code page arg ------------------------ */

static int event_code_known(uint32_t code)
{
    return code >= PROTO_SCAN_EVT_PAPER_JAM && code <= PROTO_SCAN_EVT_MULTI_FEED;
}

int proto_scan_event_encode(const proto_scan_event *e, uint8_t *buf, size_t len)
{
    if (e == NULL || buf == NULL)
        return PROTO_E_BAD_FIELD;
    if (!event_code_known(e->code))
        return PROTO_E_BAD_CODE;
    if (len < PROTO_SCAN_EVENT_SIZE)
        return PROTO_E_NOSPACE;
    put_prefix(buf, PROTO_SCAN_MAGIC_EVT);
    proto_put_le16(buf + 6, e->code);
    proto_put_le32(buf + 8, e->page);
    proto_put_le32(buf + 12, e->arg);
    return (int)PROTO_SCAN_EVENT_SIZE;
}

int proto_scan_event_decode(const uint8_t *buf, size_t len, proto_scan_event *out)
{
    proto_scan_event e;
    int rc = check_prefix(buf, len, PROTO_SCAN_EVENT_SIZE, PROTO_SCAN_MAGIC_EVT);

    if (rc < 0)
        return rc;
    e.code = proto_get_le16(buf + 6);
    e.page = proto_get_le32(buf + 8);
    e.arg = proto_get_le32(buf + 12);
    if (!event_code_known(e.code))
        return PROTO_E_BAD_CODE;
    if (out != NULL)
        *out = e;
    return (int)PROTO_SCAN_EVENT_SIZE;
}

/* ---- payloads --------------------------------------------------------------- */

#define ALL_SOURCES                                                                                \
    ((1u << PROTO_SCAN_SOURCE_FLATBED) | (1u << PROTO_SCAN_SOURCE_ADF) |                           \
     (1u << PROTO_SCAN_SOURCE_DUPLEX))
#define ALL_MODES                                                                                  \
    ((1u << PROTO_SCAN_MODE_BW) | (1u << PROTO_SCAN_MODE_GRAY8) |                                  \
     (1u << PROTO_SCAN_MODE_COLOR24) | (1u << PROTO_SCAN_MODE_GRAY16) |                            \
     (1u << PROTO_SCAN_MODE_COLOR48))
#define MAX_IN_TRANSFER (PROTO_SCAN_MAX_BAND_DATA + PROTO_SCAN_BAND_HDR_SIZE)
#define MIN_IN_TRANSFER (PROTO_SCAN_RSP_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD)

/* caps (64 bytes): 0 sources 4 modes 8 max_width_um 12 max_height_um
 * 16 feeder_capacity 20 band_lines 24 max_in_transfer 28 n_resolutions
 * 30 reserved 32 resolutions[16] (LE16 each) */
static int caps_check(const proto_scan_caps *c)
{
    if (c->sources == 0 || (c->sources & ~ALL_SOURCES))
        return PROTO_E_BAD_FIELD;
    if (c->modes == 0 || (c->modes & ~ALL_MODES))
        return PROTO_E_BAD_FIELD;
    if (c->max_width_um == 0 || c->max_height_um == 0)
        return PROTO_E_BAD_FIELD;
    if (c->band_lines == 0 || c->band_lines > PROTO_SCAN_MAX_BAND_DATA)
        return PROTO_E_BAD_FIELD;
    if (c->max_in_transfer < MIN_IN_TRANSFER || c->max_in_transfer > MAX_IN_TRANSFER)
        return PROTO_E_BAD_LENGTH;
    if (c->n_resolutions == 0 || c->n_resolutions > PROTO_SCAN_MAX_RESOLUTIONS)
        return PROTO_E_BAD_LENGTH;
    for (unsigned i = 0; i < c->n_resolutions; i++) {
        if (c->resolutions[i] == 0)
            return PROTO_E_BAD_FIELD;
        if (i > 0 && c->resolutions[i] <= c->resolutions[i - 1])
            return PROTO_E_BAD_FIELD;
    }
    return PROTO_OK;
}

int proto_scan_caps_encode(const proto_scan_caps *c, uint8_t *buf, size_t len)
{
    int rc;

    if (c == NULL || buf == NULL)
        return PROTO_E_BAD_FIELD;
    rc = caps_check(c);
    if (rc < 0)
        return rc;
    if (len < CAPS_SIZE)
        return PROTO_E_NOSPACE;
    memset(buf, 0, CAPS_SIZE);
    proto_put_le32(buf + 0, c->sources);
    proto_put_le32(buf + 4, c->modes);
    proto_put_le32(buf + 8, c->max_width_um);
    proto_put_le32(buf + 12, c->max_height_um);
    proto_put_le32(buf + 16, c->feeder_capacity);
    proto_put_le32(buf + 20, c->band_lines);
    proto_put_le32(buf + 24, c->max_in_transfer);
    proto_put_le16(buf + 28, c->n_resolutions);
    for (unsigned i = 0; i < c->n_resolutions; i++)
        proto_put_le16(buf + 32 + 2 * i, c->resolutions[i]);
    return (int)CAPS_SIZE;
}

int proto_scan_caps_decode(const uint8_t *buf, size_t len, proto_scan_caps *out)
{
    proto_scan_caps c;
    int rc;

    if (buf == NULL || len < CAPS_SIZE)
        return PROTO_E_TRUNCATED;
    memset(&c, 0, sizeof(c));
    c.sources = proto_get_le32(buf + 0);
    c.modes = proto_get_le32(buf + 4);
    c.max_width_um = proto_get_le32(buf + 8);
    c.max_height_um = proto_get_le32(buf + 12);
    c.feeder_capacity = proto_get_le32(buf + 16);
    c.band_lines = proto_get_le32(buf + 20);
    c.max_in_transfer = proto_get_le32(buf + 24);
    c.n_resolutions = proto_get_le16(buf + 28);
    if (c.n_resolutions > PROTO_SCAN_MAX_RESOLUTIONS)
        return PROTO_E_BAD_LENGTH;
    for (unsigned i = 0; i < c.n_resolutions; i++)
        c.resolutions[i] = proto_get_le16(buf + 32 + 2 * i);
    rc = caps_check(&c);
    if (rc < 0)
        return rc;
    if (out != NULL)
        *out = c;
    return (int)CAPS_SIZE;
}

/* params (32 bytes): 0 source(u8) 1 mode(u8) 2 dpi 4 flags 8 pages 12 width_px
 * 16 height_px 20 reserved 24 seed(LE64) */
static int params_check(const proto_scan_params *p)
{
    if (p->source > PROTO_SCAN_SOURCE_DUPLEX)
        return PROTO_E_BAD_FIELD;
    if (proto_scan_mode_bpp(p->mode) == 0)
        return PROTO_E_BAD_FIELD;
    if (p->flags & ~PARAM_KNOWN_FLAGS)
        return PROTO_E_BAD_FIELD;
    return PROTO_OK;
}

int proto_scan_params_encode(const proto_scan_params *p, uint8_t *buf, size_t len)
{
    int rc;

    if (p == NULL || buf == NULL)
        return PROTO_E_BAD_FIELD;
    rc = params_check(p);
    if (rc < 0)
        return rc;
    if (len < PARAMS_SIZE)
        return PROTO_E_NOSPACE;
    memset(buf, 0, PARAMS_SIZE);
    buf[0] = p->source;
    buf[1] = p->mode;
    proto_put_le16(buf + 2, p->dpi);
    proto_put_le32(buf + 4, p->flags);
    proto_put_le32(buf + 8, p->pages);
    proto_put_le32(buf + 12, p->width_px);
    proto_put_le32(buf + 16, p->height_px);
    proto_put_le64(buf + 24, p->seed);
    return (int)PARAMS_SIZE;
}

int proto_scan_params_decode(const uint8_t *buf, size_t len, proto_scan_params *out)
{
    proto_scan_params p;
    int rc;

    if (buf == NULL || len < PARAMS_SIZE)
        return PROTO_E_TRUNCATED;
    p.source = buf[0];
    p.mode = buf[1];
    p.dpi = proto_get_le16(buf + 2);
    p.flags = proto_get_le32(buf + 4);
    p.pages = proto_get_le32(buf + 8);
    p.width_px = proto_get_le32(buf + 12);
    p.height_px = proto_get_le32(buf + 16);
    p.seed = proto_get_le64(buf + 24);
    rc = params_check(&p);
    if (rc < 0)
        return rc;
    if (out != NULL)
        *out = p;
    return (int)PARAMS_SIZE;
}

/* job (48 bytes): 0 source(u8) 1 mode(u8) 2 dpi 4 pages 8 width_px
 * 12 height_px 16 bits_per_pixel 20 bytes_per_line 24 band_lines
 * 28 bands_per_page 32 max_in_transfer 36 reserved 40 seed(LE64) */
static int job_check(const proto_scan_job *j)
{
    uint64_t bpl, band_bytes;

    if (j->source > PROTO_SCAN_SOURCE_DUPLEX)
        return PROTO_E_BAD_FIELD;
    if (proto_scan_mode_bpp(j->mode) == 0 || j->bits_per_pixel != proto_scan_mode_bpp(j->mode))
        return PROTO_E_BAD_FIELD;
    if (j->dpi == 0 || j->width_px == 0 || j->height_px == 0 || j->band_lines == 0)
        return PROTO_E_BAD_FIELD;
    bpl = ((uint64_t)j->width_px * j->bits_per_pixel + 7) / 8;
    if (bpl != j->bytes_per_line)
        return PROTO_E_BAD_FIELD;
    band_bytes = bpl * j->band_lines;
    if (band_bytes > PROTO_SCAN_MAX_BAND_DATA)
        return PROTO_E_BAD_LENGTH;
    if (j->band_lines > j->height_px)
        return PROTO_E_BAD_FIELD;
    if (j->bands_per_page != (j->height_px + (uint64_t)j->band_lines - 1) / j->band_lines)
        return PROTO_E_BAD_FIELD;
    if (j->max_in_transfer > MAX_IN_TRANSFER ||
        j->max_in_transfer < band_bytes + PROTO_SCAN_BAND_HDR_SIZE ||
        j->max_in_transfer < MIN_IN_TRANSFER)
        return PROTO_E_BAD_LENGTH;
    return PROTO_OK;
}

int proto_scan_job_encode(const proto_scan_job *j, uint8_t *buf, size_t len)
{
    int rc;

    if (j == NULL || buf == NULL)
        return PROTO_E_BAD_FIELD;
    rc = job_check(j);
    if (rc < 0)
        return rc;
    if (len < JOB_SIZE)
        return PROTO_E_NOSPACE;
    memset(buf, 0, JOB_SIZE);
    buf[0] = j->source;
    buf[1] = j->mode;
    proto_put_le16(buf + 2, j->dpi);
    proto_put_le32(buf + 4, j->pages);
    proto_put_le32(buf + 8, j->width_px);
    proto_put_le32(buf + 12, j->height_px);
    proto_put_le32(buf + 16, j->bits_per_pixel);
    proto_put_le32(buf + 20, j->bytes_per_line);
    proto_put_le32(buf + 24, j->band_lines);
    proto_put_le32(buf + 28, j->bands_per_page);
    proto_put_le32(buf + 32, j->max_in_transfer);
    proto_put_le64(buf + 40, j->seed);
    return (int)JOB_SIZE;
}

int proto_scan_job_decode(const uint8_t *buf, size_t len, proto_scan_job *out)
{
    proto_scan_job j;
    int rc;

    if (buf == NULL || len < JOB_SIZE)
        return PROTO_E_TRUNCATED;
    j.source = buf[0];
    j.mode = buf[1];
    j.dpi = proto_get_le16(buf + 2);
    j.pages = proto_get_le32(buf + 4);
    j.width_px = proto_get_le32(buf + 8);
    j.height_px = proto_get_le32(buf + 12);
    j.bits_per_pixel = proto_get_le32(buf + 16);
    j.bytes_per_line = proto_get_le32(buf + 20);
    j.band_lines = proto_get_le32(buf + 24);
    j.bands_per_page = proto_get_le32(buf + 28);
    j.max_in_transfer = proto_get_le32(buf + 32);
    j.seed = proto_get_le64(buf + 40);
    rc = job_check(&j);
    if (rc < 0)
        return rc;
    if (out != NULL)
        *out = j;
    return (int)JOB_SIZE;
}

/* devstatus (20 bytes): 0 state 4 sheets_loaded 8 cover_open 12 pages_done
 * 16 warmup_remaining_ms */
static int devstatus_check(const proto_scan_devstatus *s)
{
    if (s->state > 3 || s->cover_open > 1)
        return PROTO_E_BAD_FIELD;
    return PROTO_OK;
}

int proto_scan_devstatus_encode(const proto_scan_devstatus *s, uint8_t *buf, size_t len)
{
    int rc;

    if (s == NULL || buf == NULL)
        return PROTO_E_BAD_FIELD;
    rc = devstatus_check(s);
    if (rc < 0)
        return rc;
    if (len < DEVSTATUS_SIZE)
        return PROTO_E_NOSPACE;
    proto_put_le32(buf + 0, s->state);
    proto_put_le32(buf + 4, s->sheets_loaded);
    proto_put_le32(buf + 8, s->cover_open);
    proto_put_le32(buf + 12, s->pages_done);
    proto_put_le32(buf + 16, s->warmup_remaining_ms);
    return (int)DEVSTATUS_SIZE;
}

int proto_scan_devstatus_decode(const uint8_t *buf, size_t len, proto_scan_devstatus *out)
{
    proto_scan_devstatus s;
    int rc;

    if (buf == NULL || len < DEVSTATUS_SIZE)
        return PROTO_E_TRUNCATED;
    s.state = proto_get_le32(buf + 0);
    s.sheets_loaded = proto_get_le32(buf + 4);
    s.cover_open = proto_get_le32(buf + 8);
    s.pages_done = proto_get_le32(buf + 12);
    s.warmup_remaining_ms = proto_get_le32(buf + 16);
    rc = devstatus_check(&s);
    if (rc < 0)
        return rc;
    if (out != NULL)
        *out = s;
    return (int)DEVSTATUS_SIZE;
}
