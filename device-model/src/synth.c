/* Job geometry and page synthesis.
 *
 * A page is a test chart a person can read (page number and resolution in
 * large type, rulers every 1/10 inch, a gray ramp, colour bars, a one-inch
 * grid) plus seeded noise (a strip at the right of every line and a block at
 * the bottom of the page) that makes every byte depend on the seed. Every
 * byte is a pure function of (job geometry, seed, page, side, line): a
 * receiver verifies a band by regenerating it with dm_synth_band().
 *
 * Speed: rows of the chart repeat, so a row is rendered only when its class
 * (row_key) differs from each of the band's last four rows' and copied
 * otherwise. The chart is black and white except the ramp and the bars, and
 * white is 0xFF bytes and black 0x00 bytes in every mode (bw included: lum
 * 255 beats every dither threshold, lum 0 none), so those rows are painted
 * as runs with memset; only the ramp and the bars go pixel by pixel through
 * chart_pixel(), which stays the definition of every pixel. The noise is one
 * splitmix64 per 8 bytes, stored as one little-endian word. */
#include <string.h>

#include "dm-internal.h"

/* ---- job geometry ------------------------------------------------------------- */

uint32_t dm_u300_of_mm(uint32_t mm)
{
    return (uint32_t)(((uint64_t)mm * 3000 + 127) / 254);
}

uint64_t dm_px_of_mm(uint32_t mm, uint32_t dpi)
{
    return ((uint64_t)dm_u300_of_mm(mm) * dpi + 149) / 300;
}

static const char *src_name(uint32_t s)
{
    static const char *const n[] = {"flatbed", "adf", "duplex"};
    return s < 3 ? n[s] : "?";
}

static const char *mode_name(uint32_t m)
{
    static const char *const n[] = {"bw", "gray", "color", "gray16", "color48"};
    return m < 5 ? n[m] : "?";
}

int dm_job_resolve(const dm_profile *p, const proto_scan_params *params, uint64_t seed,
                   proto_scan_job *out, char *errbuf, size_t errlen)
{
    proto_scan_job j;
    uint32_t dpi;
    uint64_t fw, fh, bpl, lines;
    int dpi_ok = 0;

    if (p == NULL || params == NULL || out == NULL)
        return DM_E_INVALID;
    memset(&j, 0, sizeof(j));
    if (params->source > PROTO_SCAN_SOURCE_DUPLEX || !(p->sources & (1u << params->source))) {
        dm_errf(errbuf, errlen, "%s: source %s (%u) not supported", p->name,
                src_name(params->source), params->source);
        return DM_E_RANGE;
    }
    if (proto_scan_mode_bpp(params->mode) == 0 || !(p->modes & (1u << params->mode))) {
        dm_errf(errbuf, errlen, "%s: mode %s (%u) not supported", p->name, mode_name(params->mode),
                params->mode);
        return DM_E_RANGE;
    }
    dpi = params->dpi == 0 ? p->def_dpi : params->dpi;
    for (uint32_t i = 0; i < p->n_resolutions; i++)
        dpi_ok |= p->resolutions[i] == dpi;
    if (!dpi_ok) {
        dm_errf(errbuf, errlen, "%s: %u dpi not supported", p->name, dpi);
        return DM_E_RANGE;
    }
    fw = dm_px_of_mm(p->width_mm, dpi);
    fh = dm_px_of_mm(p->height_mm, dpi);
    if (params->width_px > fw || params->height_px > fh) {
        dm_errf(errbuf, errlen, "%s: %ux%u px is larger than the %llux%llu px area at %u dpi",
                p->name, params->width_px, params->height_px, (unsigned long long)fw,
                (unsigned long long)fh, dpi);
        return DM_E_RANGE;
    }
    if (params->pages > 100000u) {
        dm_errf(errbuf, errlen, "%s: %u pages is more than 100000", p->name, params->pages);
        return DM_E_RANGE;
    }
    j.source = params->source;
    j.mode = params->mode;
    j.dpi = (uint16_t)dpi;
    j.pages = params->pages;
    if (j.source == PROTO_SCAN_SOURCE_FLATBED && j.pages == 0)
        j.pages = 1;
    j.width_px = params->width_px ? params->width_px : (uint32_t)fw;
    j.height_px = params->height_px ? params->height_px : (uint32_t)fh;
    j.bits_per_pixel = proto_scan_mode_bpp(j.mode);
    bpl = ((uint64_t)j.width_px * j.bits_per_pixel + 7) / 8;
    j.bytes_per_line = (uint32_t)bpl;
    lines = p->band_lines;
    if (bpl * lines > p->band_max_bytes)
        lines = p->band_max_bytes / bpl;
    if (lines == 0)
        lines = 1;
    if (lines > j.height_px)
        lines = j.height_px;
    j.band_lines = (uint32_t)lines;
    j.bands_per_page = (uint32_t)((j.height_px + lines - 1) / lines);
    j.max_in_transfer = (uint32_t)(lines * bpl + PROTO_SCAN_BAND_HDR_SIZE);
    if (j.max_in_transfer < PROTO_SCAN_RSP_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD)
        j.max_in_transfer = PROTO_SCAN_RSP_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD;
    /* The device's band buffer and the host's URBs are sized by the caps. */
    if (j.max_in_transfer > p->max_in_transfer) {
        dm_errf(errbuf, errlen, "%s: a band of %llu bytes is larger than max_in_transfer %u",
                p->name, (unsigned long long)(lines * bpl), p->max_in_transfer);
        return DM_E_RANGE;
    }
    j.seed = (params->flags & PROTO_SCAN_PARAM_SEED) ? params->seed : seed;
    *out = j;
    return DM_OK;
}

uint32_t dm_band_first_line(const proto_scan_job *job, uint32_t band)
{
    uint64_t first = (uint64_t)band * job->band_lines;
    return first >= job->height_px ? job->height_px : (uint32_t)first;
}

uint32_t dm_band_lines(const proto_scan_job *job, uint32_t band)
{
    uint32_t first;

    if (job->band_lines == 0 || band >= job->bands_per_page)
        return 0;
    first = dm_band_first_line(job, band);
    return job->height_px - first < job->band_lines ? job->height_px - first : job->band_lines;
}

size_t dm_band_bytes(const proto_scan_job *job, uint32_t band)
{
    return (size_t)dm_band_lines(job, band) * job->bytes_per_line;
}

/* ---- the chart ------------------------------------------------------------------ */

#define RGB(r, g, b) (((uint32_t)(r) << 16) | ((uint32_t)(g) << 8) | (uint32_t)(b))
#define WHITE        RGB(255, 255, 255)
#define BLACK        RGB(0, 0, 0)

/* 5x7 glyphs, bit 4 = leftmost column. */
static const struct {
    char ch;
    uint8_t rows[7];
} font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
};

static const uint8_t *glyph(char ch)
{
    for (size_t i = 0; i < sizeof(font) / sizeof(font[0]); i++)
        if (font[i].ch == ch)
            return font[i].rows;
    return NULL; /* space */
}

static const uint32_t bars[8] = {
    RGB(255, 255, 255), RGB(255, 255, 0), RGB(0, 255, 255), RGB(0, 255, 0),
    RGB(255, 0, 255),   RGB(255, 0, 0),   RGB(0, 0, 255),   RGB(0, 0, 0),
};

/* 4x4 ordered dither thresholds for the bilevel mode. */
static const uint8_t bayer[4][4] = {
    {8, 136, 40, 168}, {200, 72, 232, 104}, {56, 184, 24, 152}, {248, 120, 216, 88}};

typedef struct chart {
    uint32_t w, h, dpi, mode, bpl;
    uint32_t bytes_pp; /* 0 for bw */
    uint32_t noise_px; /* chart pixels are [0, noise_px) */
    uint32_t noise_off;
    uint32_t ruler_px; /* left ruler width: its ticks are cut to it */
    uint32_t t;        /* line thickness */
    uint32_t tenth, half, inch;
    uint32_t top_end, text_y0, text_x0, scale, hdr_end, ramp_end, bars_end, noise_y0;
    char text[24];
    uint32_t n_text;
    uint64_t seed;
    uint32_t page, side;
} chart;

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}
static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Writes v in decimal at text[n]; returns the new length. */
static uint32_t put_decimal(char *text, uint32_t n, uint32_t v)
{
    char digits[10];
    uint32_t nd = 0;

    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (nd > 0)
        text[n++] = digits[--nd];
    return n;
}

static void chart_init(chart *c, const proto_scan_job *job, uint32_t page, uint32_t side)
{
    uint32_t n;

    memset(c, 0, sizeof(*c));
    c->w = job->width_px;
    c->h = job->height_px;
    c->dpi = job->dpi ? job->dpi : 300;
    c->mode = job->mode;
    c->bpl = job->bytes_per_line;
    c->bytes_pp = job->bits_per_pixel / 8;
    c->seed = job->seed;
    c->page = page;
    c->side = side;
    c->t = max_u32(1, c->dpi / 100);
    c->tenth = max_u32(2, c->dpi / 10);
    c->half = max_u32(2, c->dpi / 2);
    c->inch = max_u32(2, c->dpi);
    if (c->mode == PROTO_SCAN_MODE_BW) {
        c->noise_px = (uint32_t)(((uint64_t)c->w * 7 / 8) & ~7ull);
        c->noise_off = c->noise_px / 8;
    } else {
        c->noise_px = (uint32_t)((uint64_t)c->w * 7 / 8);
        c->noise_off = c->noise_px * c->bytes_pp;
    }
    c->ruler_px = min_u32((max_u32(8, c->dpi / 5) + 7) & ~7u, c->noise_px);
    c->top_end = min_u32(c->h, c->dpi / 5);
    c->scale = max_u32(1, c->dpi / 12);
    c->text_y0 = c->dpi / 4;
    c->text_x0 = c->dpi / 2;
    c->hdr_end = min_u32(c->h, c->text_y0 + 7 * c->scale + c->dpi / 8);
    c->ramp_end = min_u32(c->h, c->hdr_end + max_u32(1, c->h / 16));
    c->bars_end = min_u32(c->h, c->ramp_end + max_u32(1, c->h / 16));
    c->noise_y0 = max_u32(c->bars_end, c->h - c->h / 16);
    n = 0;
    c->text[n++] = 'P';
    n = put_decimal(c->text, n, page + 1);
    if (job->source == PROTO_SCAN_SOURCE_DUPLEX)
        c->text[n++] = side ? 'B' : 'F';
    c->text[n++] = ' ';
    n = put_decimal(c->text, n, c->dpi);
    c->text[n++] = 'D';
    c->text[n++] = 'P';
    c->text[n++] = 'I';
    c->n_text = n;
}

/* Rows with equal keys have equal chart pixels: [0, noise_px) is a function
 * of the key alone. */
static uint64_t row_key(const chart *c, uint32_t y)
{
    uint64_t dith = c->mode == PROTO_SCAN_MODE_BW ? (y & 3u) : 0;

    if (y < c->hdr_end) {
        if (y < c->top_end) {
            uint32_t k = y < c->dpi / 20 ? 0 : y < c->dpi / 10 ? 1 : 2;
            return (1ull << 32) | k;
        }
        if (y >= c->text_y0 && y < c->text_y0 + 7 * c->scale)
            return (2ull << 32) | ((y - c->text_y0) / c->scale);
        return 3ull << 32;
    }
    if (y < c->ramp_end)
        return (4ull << 32) | dith;
    if (y < c->bars_end)
        return (5ull << 32) | dith;
    /* Body: the grid line, or which tick of the left ruler (none, tenth,
     * half); the dither does not matter, every pixel is black or white. */
    if (y % c->inch < c->t)
        return (6ull << 32) | 3;
    if (y % c->half < c->t)
        return (6ull << 32) | 2;
    return (6ull << 32) | (y % c->tenth < c->t);
}

static uint32_t chart_pixel(const chart *c, uint32_t x, uint32_t y)
{
    if (y < c->hdr_end) {
        if (y < c->top_end) {
            /* Top ruler: tenths, halves and inches, longer ticks for coarser marks. */
            if (x % c->inch < c->t)
                return BLACK;
            if (y < c->dpi / 10 && x % c->half < c->t)
                return BLACK;
            if (y < c->dpi / 20 && x % c->tenth < c->t)
                return BLACK;
            return WHITE;
        }
        if (y >= c->text_y0 && y < c->text_y0 + 7 * c->scale && x >= c->text_x0) {
            uint32_t row = (y - c->text_y0) / c->scale;
            uint32_t col = (x - c->text_x0) / c->scale;
            uint32_t ch = col / 6, cx = col % 6;
            if (ch < c->n_text && cx < 5) {
                const uint8_t *g = glyph(c->text[ch]);
                if (g != NULL && ((g[row] >> (4 - cx)) & 1))
                    return BLACK;
            }
        }
        return WHITE;
    }
    if (y < c->ramp_end) {
        uint32_t v = c->noise_px > 1 ? (uint32_t)((uint64_t)x * 255 / (c->noise_px - 1)) : 0;
        return RGB(v, v, v);
    }
    if (y < c->bars_end)
        return bars[(uint64_t)x * 8 / (c->noise_px ? c->noise_px : 1) & 7];
    /* Body: one-inch grid and the left ruler. */
    if (x < c->ruler_px) {
        uint32_t len = 0;
        if (y % c->inch < c->t)
            len = c->dpi / 5;
        else if (y % c->half < c->t)
            len = c->dpi / 10;
        else if (y % c->tenth < c->t)
            len = c->dpi / 20;
        if (x < len)
            return BLACK;
    }
    if (x % c->inch < c->t || y % c->inch < c->t)
        return BLACK;
    return WHITE;
}

static uint32_t lum(uint32_t rgb)
{
    return ((rgb >> 16 & 0xFF) * 77 + (rgb >> 8 & 0xFF) * 150 + (rgb & 0xFF) * 29) >> 8;
}

/* Render chart pixels [x0, x1) of row y into line. For bw, x0 and x1 are
 * multiples of 8 (or x1 == noise_px, which is). */
static void render_span(const chart *c, uint8_t *line, uint32_t x0, uint32_t x1, uint32_t y)
{
    uint32_t x;

    switch (c->mode) {
    case PROTO_SCAN_MODE_BW:
        for (x = x0; x < x1; x += 8) {
            uint8_t byte = 0;
            for (uint32_t k = 0; k < 8; k++) {
                uint32_t v = lum(chart_pixel(c, x + k, y));
                if (v > bayer[y & 3][(x + k) & 3])
                    byte |= (uint8_t)(0x80u >> k);
            }
            line[x / 8] = byte;
        }
        break;
    case PROTO_SCAN_MODE_GRAY8:
        for (x = x0; x < x1; x++)
            line[x] = (uint8_t)lum(chart_pixel(c, x, y));
        break;
    case PROTO_SCAN_MODE_COLOR24:
        for (x = x0; x < x1; x++) {
            uint32_t v = chart_pixel(c, x, y);
            line[3 * x] = (uint8_t)(v >> 16);
            line[3 * x + 1] = (uint8_t)(v >> 8);
            line[3 * x + 2] = (uint8_t)v;
        }
        break;
    case PROTO_SCAN_MODE_GRAY16:
        for (x = x0; x < x1; x++) {
            uint32_t v = lum(chart_pixel(c, x, y)) * 257u;
            line[2 * x] = (uint8_t)v;
            line[2 * x + 1] = (uint8_t)(v >> 8);
        }
        break;
    case PROTO_SCAN_MODE_COLOR48:
        for (x = x0; x < x1; x++) {
            uint32_t v = chart_pixel(c, x, y);
            for (int s = 0; s < 3; s++) {
                uint32_t sv = ((v >> (16 - 8 * s)) & 0xFF) * 257u;
                line[6 * x + 2 * s] = (uint8_t)sv;
                line[6 * x + 2 * s + 1] = (uint8_t)(sv >> 8);
            }
        }
        break;
    default:
        break;
    }
}

/* Paint chart pixels [x0, x1) of a row black, x1 clipped to noise_px. */
static void paint_black(const chart *c, uint8_t *line, uint64_t x0, uint64_t x1)
{
    if (x1 > c->noise_px)
        x1 = c->noise_px;
    if (x0 >= x1)
        return;
    if (c->mode != PROTO_SCAN_MODE_BW) {
        memset(line + x0 * c->bytes_pp, 0x00, (size_t)(x1 - x0) * c->bytes_pp);
        return;
    }
    /* bw: MSB first; a partial byte at each end, whole bytes between. */
    for (; x0 < x1 && (x0 & 7) != 0; x0++)
        line[x0 / 8] &= (uint8_t) ~(0x80u >> (x0 & 7));
    if (x1 - x0 >= 8) {
        memset(line + x0 / 8, 0x00, (size_t)((x1 - x0) / 8));
        x0 += (x1 - x0) & ~7ull;
    }
    for (; x0 < x1; x0++)
        line[x0 / 8] &= (uint8_t) ~(0x80u >> (x0 & 7));
}

/* Paint black every pixel with x % period < t, as chart_pixel's rulers and
 * grid do. */
static void paint_period(const chart *c, uint8_t *line, uint32_t period)
{
    for (uint64_t x = 0; x < c->noise_px; x += period)
        paint_black(c, line, x, x + c->t);
}

/* Render chart pixels [0, noise_px) of row y: equal to render_span(c, line,
 * 0, noise_px, y), but the black-and-white rows are painted as runs. */
static void render_row(const chart *c, uint8_t *line, uint32_t y)
{
    size_t white =
        c->mode == PROTO_SCAN_MODE_BW ? c->noise_px / 8 : (size_t)c->noise_px * c->bytes_pp;

    if (y < c->hdr_end) {
        memset(line, 0xFF, white);
        if (y < c->top_end) {
            paint_period(c, line, c->inch);
            if (y < c->dpi / 10)
                paint_period(c, line, c->half);
            if (y < c->dpi / 20)
                paint_period(c, line, c->tenth);
        } else if (y >= c->text_y0 && y < c->text_y0 + 7 * c->scale) {
            uint32_t row = (y - c->text_y0) / c->scale;
            for (uint32_t ch = 0; ch < c->n_text; ch++) {
                const uint8_t *g = glyph(c->text[ch]);
                for (uint32_t cx = 0; g != NULL && cx < 5; cx++) {
                    uint64_t x0 = c->text_x0 + (uint64_t)(6 * ch + cx) * c->scale;
                    if ((g[row] >> (4 - cx)) & 1)
                        paint_black(c, line, x0, x0 + c->scale);
                }
            }
        }
        return;
    }
    if (y < c->bars_end) {
        /* The ramp and the bars: grays and colours, pixel by pixel. */
        render_span(c, line, 0, c->noise_px, y);
        return;
    }
    if (y % c->inch < c->t) {
        paint_black(c, line, 0, c->noise_px);
        return;
    }
    memset(line, 0xFF, white);
    paint_period(c, line, c->inch);
    /* The left ruler: ticks every tenth, longer every half inch. */
    if (y % c->half < c->t)
        paint_black(c, line, 0, min_u32(c->dpi / 10, c->ruler_px));
    else if (y % c->tenth < c->t)
        paint_black(c, line, 0, min_u32(c->dpi / 20, c->ruler_px));
}

/* Store v at p, least significant byte first. */
static void store_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, sizeof(v));
#else
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (8 * k));
#endif
}

/* n little-endian words of splitmix64(key), splitmix64(key + 1), ... at p. */
static void noise_words_scalar(uint8_t *p, size_t n, uint64_t key)
{
    for (size_t i = 0; i < n; i++)
        store_le64(p + 8 * i, dm_mix64(key + i));
}

#if defined(__x86_64__) && defined(__GNUC__) && defined(__BYTE_ORDER__) &&                         \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <immintrin.h>
#define HAVE_NOISE_AVX512 1
/* The same words, eight at a time in AVX-512 lanes (vpmullq is AVX512DQ):
 * dm_mix64's adds, shifts, xors and multiplies lane by lane, so the bytes
 * are those of noise_words_scalar (test_dm compares the two directly, and
 * its golden hashes check whichever path the machine takes). Intrinsics
 * rather than the vectoriser, so every build type, -O0 and the sanitizers
 * included, runs the code the release build ships. */
__attribute__((target("avx512f,avx512dq"))) static void noise_words_avx512(uint8_t *p, size_t n,
                                                                           uint64_t key)
{
    const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i golden = _mm512_set1_epi64((long long)0x9E3779B97F4A7C15ull);
    const __m512i m1 = _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ull);
    const __m512i m2 = _mm512_set1_epi64((long long)0x94D049BB133111EBull);
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        __m512i z = _mm512_add_epi64(_mm512_set1_epi64((long long)(key + i)), lane);
        z = _mm512_add_epi64(z, golden);
        z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), m1);
        z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), m2);
        z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
        _mm512_storeu_si512((void *)(p + 8 * i), z);
    }
    noise_words_scalar(p + 8 * i, n - i, key + i);
}
#endif

/* 1 when noise_words_avx512 is built in and this CPU runs it. */
static int have_noise_avx512(void)
{
#ifdef HAVE_NOISE_AVX512
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

int dm_synth_noise_words(int impl, uint8_t *p, size_t n, uint64_t key)
{
    if (impl == 0) {
        noise_words_scalar(p, n, key);
        return 0;
    }
#ifdef HAVE_NOISE_AVX512
    if (impl == 1 && have_noise_avx512()) {
        noise_words_avx512(p, n, key);
        return 0;
    }
#endif
    return -1;
}

/* The fastest implementation this CPU has. */
static void noise_words(uint8_t *p, size_t n, uint64_t key)
{
    if (dm_synth_noise_words(1, p, n, key) != 0)
        noise_words_scalar(p, n, key);
}

/* Seeded noise for bytes [from, to) of line y: splitmix64 of a per-line key
 * and the 8-byte block index, stored little-endian (noise_words), the last
 * partial word's low bytes for a tail. */
static void fill_noise(const chart *c, uint8_t *line, uint32_t from, uint32_t to, uint32_t y)
{
    uint64_t key = dm_hash5(c->seed, c->page, c->side, y, DM_RND_NOISE);
    uint8_t *p = line + from;
    size_t words = (size_t)(to - from) / 8;

    noise_words(p, words, key);
    p += 8 * words;
    key += words;
    if (p < line + to) {
        uint64_t v = dm_mix64(key);
        for (int k = 0; p < line + to; p++, k++)
            *p = (uint8_t)(v >> (8 * k));
    }
}

/* How many earlier lines of the band a row looks back at for an equal one:
 * the bw dither repeats every 4 rows. */
enum { LOOKBACK = 4 };

void dm_synth_band(const proto_scan_job *job, uint32_t page, uint32_t side, uint32_t band,
                   uint8_t *out)
{
    chart c;
    uint32_t first, lines;
    uint64_t keys[LOOKBACK]; /* keys[i % LOOKBACK]: line i's, UINT64_MAX = none */

    lines = dm_band_lines(job, band);
    if (lines == 0 || out == NULL)
        return;
    first = dm_band_first_line(job, band);
    chart_init(&c, job, page, side);
    for (uint32_t i = 0; i < lines; i++) {
        uint32_t y = first + i;
        uint8_t *line = out + (size_t)i * c.bpl;
        uint64_t key = UINT64_MAX;
        uint32_t back = 0;

        if (y >= c.noise_y0) {
            fill_noise(&c, line, 0, c.bpl, y);
            keys[i % LOOKBACK] = key;
            continue;
        }
        key = row_key(&c, y);
        for (uint32_t d = 1; d <= LOOKBACK && d <= i && back == 0; d++)
            if (keys[(i - d) % LOOKBACK] == key)
                back = d;
        if (back != 0)
            memcpy(line, line - (size_t)back * c.bpl, c.noise_off);
        else
            render_row(&c, line, y);
        keys[i % LOOKBACK] = key;
        fill_noise(&c, line, c.noise_off, c.bpl, y);
    }
}
