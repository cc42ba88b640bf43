/* Profile and scenario fixtures: YAML parsed by libcyaml against a schema,
 * then checked for meaning. Every failure is one line naming the file, the
 * key and what was expected. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cyaml/cyaml.h>

#include "dm-internal.h"

/* Limits of what a fixture may ask for (docs/protocol.md, "Fixture formats"). */
#define LIM_DPI_MIN       50u
#define LIM_DPI_MAX       4800u
#define LIM_AREA_MM_MAX   1000u
#define LIM_FEEDER_MAX    10000u
#define LIM_PAGES_MAX     100000u
#define LIM_BAND_LINES    65535u
#define LIM_BAND_MIN_BYTE 4096u
#define LIM_TIME_MS_MAX   600000u  /* 10 minutes */
#define LIM_LINE_US_MAX   1000000u /* 1 s per line */
#define LIM_BANDS_MAX     1000000u
#define LIM_BYTES_MAX     4000000000u
#define LIM_COUNT_MAX     1000u

/* ---- libcyaml glue: allocator and one-line error capture -------------------- */

typedef struct load_ctx {
    const dm_alloc *alloc;
    char first[160]; /* first error message */
    char path[160];  /* key path from the backtrace, outermost first */
    unsigned n_msgs;
} load_ctx;

static void *cyaml_mem_adapter(void *ctx, void *ptr, size_t size)
{
    const dm_alloc *a = ctx;
    return a->realloc(a->ctx, ptr, size);
}

static void trim_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == ':'))
        s[--n] = '\0';
}

/* libcyaml quotes keys and values from the fixture verbatim. The message must
 * stay one printable line: a key holding a newline, CR or ESC would otherwise
 * forge log lines or send escape sequences to the terminal that shows it. */
static void sanitize_line(char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            *s = '?';
    }
}

/* libcyaml reports an error, then a backtrace innermost first:
 *   "Load: Invalid UINT value: '-3'"
 *   "Load: Backtrace:"
 *   "  in mapping field 'dpi' (line: 4, column: 8)"
 * We keep the first message and turn the field lines into "a.b.c". */
static void cyaml_log_capture(cyaml_log_t level, void *vctx, const char *fmt, va_list args)
{
    load_ctx *ctx = vctx;
    char msg[200];
    const char *field;

    if (level < CYAML_LOG_ERROR)
        return;
        /* fmt is libcyaml's own format string, not fixture data. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(msg, sizeof(msg), fmt, args);
#pragma GCC diagnostic pop
    trim_line(msg);
    sanitize_line(msg);
    field = strstr(msg, "in mapping field '");
    if (field != NULL) {
        char name[64];
        char tmp[sizeof(ctx->path)];
        const char *end;
        size_t n;

        field += strlen("in mapping field '");
        end = strchr(field, '\'');
        n = end != NULL ? (size_t)(end - field) : strlen(field);
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, field, n);
        name[n] = '\0';
        if (ctx->path[0] == '\0')
            snprintf(tmp, sizeof(tmp), "%.63s", name);
        else
            snprintf(tmp, sizeof(tmp), "%.63s.%.90s", name, ctx->path);
        memcpy(ctx->path, tmp, sizeof(tmp));
        return;
    }
    if (strstr(msg, "Backtrace") != NULL || strstr(msg, "  in ") == msg)
        return;
    if (ctx->n_msgs++ == 0) {
        const char *m = msg;
        if (strncmp(m, "Load: ", 6) == 0)
            m += 6;
        snprintf(ctx->first, sizeof(ctx->first), "%.150s", m);
    }
}

static void cfg_init(cyaml_config_t *cfg, load_ctx *ctx)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_fn = cyaml_log_capture;
    cfg->log_ctx = ctx;
    cfg->mem_fn = cyaml_mem_adapter;
    cfg->mem_ctx = (void *)ctx->alloc;
    cfg->log_level = CYAML_LOG_ERROR;
    cfg->flags = CYAML_CFG_NO_ALIAS;
}

void dm_errf(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* ---- shared enums ------------------------------------------------------------ */

static const cyaml_strval_t source_strings[] = {
    {"flatbed", PROTO_SCAN_SOURCE_FLATBED},
    {"adf", PROTO_SCAN_SOURCE_ADF},
    {"duplex", PROTO_SCAN_SOURCE_DUPLEX},
};
static const cyaml_strval_t source_flag_strings[] = {
    {"flatbed", 1 << PROTO_SCAN_SOURCE_FLATBED},
    {"adf", 1 << PROTO_SCAN_SOURCE_ADF},
    {"duplex", 1 << PROTO_SCAN_SOURCE_DUPLEX},
};
static const cyaml_strval_t mode_strings[] = {
    {"bw", PROTO_SCAN_MODE_BW},           {"gray", PROTO_SCAN_MODE_GRAY8},
    {"color", PROTO_SCAN_MODE_COLOR24},   {"gray16", PROTO_SCAN_MODE_GRAY16},
    {"color48", PROTO_SCAN_MODE_COLOR48},
};
static const cyaml_strval_t mode_flag_strings[] = {
    {"bw", 1 << PROTO_SCAN_MODE_BW},           {"gray", 1 << PROTO_SCAN_MODE_GRAY8},
    {"color", 1 << PROTO_SCAN_MODE_COLOR24},   {"gray16", 1 << PROTO_SCAN_MODE_GRAY16},
    {"color48", 1 << PROTO_SCAN_MODE_COLOR48},
};
static const cyaml_strval_t speed_strings[] = {
    {"full", 2}, /* PROTO_USBIP_SPEED_FULL */
    {"high", 3}, /* PROTO_USBIP_SPEED_HIGH */
    {"super", 5},
};

/* ---- strict scalars ------------------------------------------------------------ *
 * libcyaml 1.3 reads "1.5" or "12abc" as an integer and "maybe" as true, so
 * numbers and booleans are loaded as strings and converted here, strictly. */

typedef struct cv {
    const char *file;
    char *errbuf;
    size_t errlen;
} cv;

static bool parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;

    if (s == NULL || *s == '\0')
        return false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        if (*s == '\0')
            return false;
    }
    for (; *s != '\0'; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

/* Integer in [lo, hi]; s == NULL (optional key absent) leaves *out alone. */
static int get_u32(const cv *c, const char *key, const char *s, uint32_t lo, uint32_t hi,
                   uint32_t *out)
{
    uint64_t v;

    if (s == NULL)
        return DM_OK;
    if (!parse_uint(s, &v)) {
        dm_errf(c->errbuf, c->errlen, "%s: key '%s': expected an integer %u..%u, got '%.40s'",
                c->file, key, lo, hi, s);
        return DM_E_PARSE;
    }
    if (v < lo || v > hi) {
        dm_errf(c->errbuf, c->errlen, "%s: key '%s': expected %u..%u, got %llu", c->file, key, lo,
                hi, (unsigned long long)v);
        return DM_E_RANGE;
    }
    *out = (uint32_t)v;
    return DM_OK;
}

/* Number in (lo, hi]. */
static int get_real(const cv *c, const char *key, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    if (s == NULL)
        return DM_OK;
    errno = 0;
    v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v)) {
        dm_errf(c->errbuf, c->errlen, "%s: key '%s': expected a number, got '%.40s'", c->file, key,
                s);
        return DM_E_PARSE;
    }
    if (!(v > lo && v <= hi)) {
        dm_errf(c->errbuf, c->errlen, "%s: key '%s': expected a number in (%g, %g], got %g",
                c->file, key, lo, hi, v);
        return DM_E_RANGE;
    }
    *out = v;
    return DM_OK;
}

static const cyaml_strval_t bool_strings[] = {
    {"false", 0},
    {"true", 1},
};

/* ---- profile schema ---------------------------------------------------------- */

struct raw_usb {
    char *vid, *pid, *bcd_device;
    int speed;
    char *manufacturer, *product, *serial;
};
struct raw_area {
    char *width_mm, *height_mm;
};
struct raw_band {
    char *lines;
    char *max_bytes;
};
struct raw_defaults {
    int source, mode;
    char *dpi;
};
struct raw_mode_times {
    char *bw, *gray, *color, *gray16, *color48;
};
struct raw_override {
    int mode;
    char *dpi;
    char *us;
};
struct raw_timing {
    char *warmup_ms, *feed_ms, *jitter_us;
    struct raw_mode_times line_time_us;
    struct raw_override *line_time_overrides;
    unsigned line_time_overrides_count;
};
struct raw_profile {
    char *name;
    char *description;
    struct raw_usb usb;
    unsigned sources;
    char *feeder_capacity;
    unsigned modes;
    char **resolutions;
    unsigned resolutions_count;
    struct raw_area area;
    struct raw_band band;
    struct raw_defaults defaults;
    struct raw_timing timing;
};

#define NUM(key, flags, type, member)                                                              \
    CYAML_FIELD_STRING_PTR(key, (flags) | CYAML_FLAG_POINTER, type, member, 1, 40)

static const cyaml_schema_field_t usb_fields[] = {
    NUM("vid", CYAML_FLAG_DEFAULT, struct raw_usb, vid),
    NUM("pid", CYAML_FLAG_DEFAULT, struct raw_usb, pid),
    NUM("bcd_device", CYAML_FLAG_OPTIONAL, struct raw_usb, bcd_device),
    CYAML_FIELD_ENUM("speed", CYAML_FLAG_STRICT, struct raw_usb, speed, speed_strings,
                     CYAML_ARRAY_LEN(speed_strings)),
    CYAML_FIELD_STRING_PTR("manufacturer", CYAML_FLAG_POINTER, struct raw_usb, manufacturer, 1,
                           126),
    CYAML_FIELD_STRING_PTR("product", CYAML_FLAG_POINTER, struct raw_usb, product, 1, 126),
    CYAML_FIELD_STRING_PTR("serial", CYAML_FLAG_POINTER, struct raw_usb, serial, 1, 126),
    CYAML_FIELD_END};
static const cyaml_schema_field_t area_fields[] = {
    NUM("width_mm", CYAML_FLAG_DEFAULT, struct raw_area, width_mm),
    NUM("height_mm", CYAML_FLAG_DEFAULT, struct raw_area, height_mm), CYAML_FIELD_END};
static const cyaml_schema_field_t band_fields[] = {
    NUM("lines", CYAML_FLAG_DEFAULT, struct raw_band, lines),
    NUM("max_bytes", CYAML_FLAG_DEFAULT, struct raw_band, max_bytes), CYAML_FIELD_END};
static const cyaml_schema_field_t defaults_fields[] = {
    CYAML_FIELD_ENUM("source", CYAML_FLAG_STRICT, struct raw_defaults, source, source_strings,
                     CYAML_ARRAY_LEN(source_strings)),
    CYAML_FIELD_ENUM("mode", CYAML_FLAG_STRICT, struct raw_defaults, mode, mode_strings,
                     CYAML_ARRAY_LEN(mode_strings)),
    NUM("dpi", CYAML_FLAG_DEFAULT, struct raw_defaults, dpi), CYAML_FIELD_END};
static const cyaml_schema_field_t mode_time_fields[] = {
    NUM("bw", CYAML_FLAG_OPTIONAL, struct raw_mode_times, bw),
    NUM("gray", CYAML_FLAG_OPTIONAL, struct raw_mode_times, gray),
    NUM("color", CYAML_FLAG_OPTIONAL, struct raw_mode_times, color),
    NUM("gray16", CYAML_FLAG_OPTIONAL, struct raw_mode_times, gray16),
    NUM("color48", CYAML_FLAG_OPTIONAL, struct raw_mode_times, color48),
    CYAML_FIELD_END};
static const cyaml_schema_field_t override_fields[] = {
    CYAML_FIELD_ENUM("mode", CYAML_FLAG_STRICT, struct raw_override, mode, mode_strings,
                     CYAML_ARRAY_LEN(mode_strings)),
    NUM("dpi", CYAML_FLAG_DEFAULT, struct raw_override, dpi),
    NUM("us", CYAML_FLAG_DEFAULT, struct raw_override, us), CYAML_FIELD_END};
static const cyaml_schema_value_t override_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_override, override_fields)};
static const cyaml_schema_field_t timing_fields[] = {
    NUM("warmup_ms", CYAML_FLAG_DEFAULT, struct raw_timing, warmup_ms),
    NUM("feed_ms", CYAML_FLAG_DEFAULT, struct raw_timing, feed_ms),
    NUM("jitter_us", CYAML_FLAG_OPTIONAL, struct raw_timing, jitter_us),
    CYAML_FIELD_MAPPING("line_time_us", CYAML_FLAG_DEFAULT, struct raw_timing, line_time_us,
                        mode_time_fields),
    CYAML_FIELD_SEQUENCE("line_time_overrides", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                         struct raw_timing, line_time_overrides, &override_entry, 0, 64),
    CYAML_FIELD_END};
static const cyaml_schema_value_t dpi_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 40),
};
static const cyaml_schema_field_t profile_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct raw_profile, name, 1, 63),
    CYAML_FIELD_STRING_PTR("description", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct raw_profile, description, 0, 1000),
    CYAML_FIELD_MAPPING("usb", CYAML_FLAG_DEFAULT, struct raw_profile, usb, usb_fields),
    CYAML_FIELD_FLAGS("sources", CYAML_FLAG_STRICT, struct raw_profile, sources,
                      source_flag_strings, CYAML_ARRAY_LEN(source_flag_strings)),
    NUM("feeder_capacity", CYAML_FLAG_OPTIONAL, struct raw_profile, feeder_capacity),
    CYAML_FIELD_FLAGS("modes", CYAML_FLAG_STRICT, struct raw_profile, modes, mode_flag_strings,
                      CYAML_ARRAY_LEN(mode_flag_strings)),
    CYAML_FIELD_SEQUENCE("resolutions", CYAML_FLAG_POINTER, struct raw_profile, resolutions,
                         &dpi_entry, 1, PROTO_SCAN_MAX_RESOLUTIONS),
    CYAML_FIELD_MAPPING("area", CYAML_FLAG_DEFAULT, struct raw_profile, area, area_fields),
    CYAML_FIELD_MAPPING("band", CYAML_FLAG_DEFAULT, struct raw_profile, band, band_fields),
    CYAML_FIELD_MAPPING("defaults", CYAML_FLAG_DEFAULT, struct raw_profile, defaults,
                        defaults_fields),
    CYAML_FIELD_MAPPING("timing", CYAML_FLAG_DEFAULT, struct raw_profile, timing, timing_fields),
    CYAML_FIELD_END};
static const cyaml_schema_value_t profile_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_profile, profile_fields)};

/* ---- scenario schema --------------------------------------------------------- */

static const cyaml_strval_t fault_kind_strings[] = {
#define DM_FAULT_STRVAL_(name, str) {str, DM_FAULT_##name},
    DM_FAULT_KIND_MAP(DM_FAULT_STRVAL_)
#undef DM_FAULT_STRVAL_
};
static const cyaml_strval_t side_strings[] = {
    {"any", DM_SIDE_ANY},
    {"front", DM_SIDE_FRONT},
    {"back", DM_SIDE_BACK},
};

struct raw_at {
    char *page;
    int side;
    char *band;
    char *line;
    char *byte;
};
struct raw_every {
    char *pages;
    char *band;
    int side;
};
struct raw_fault {
    int kind;
    struct raw_at *at;
    char *after_ms;
    struct raw_every *every;
    char *probability;
    char *ms;
    char *count;
    int *clears;
    char *bytes;
};
struct raw_scenario {
    char *name;
    char *description;
    char *sheets;
    char *seed;
    char *time_scale;
    struct raw_fault *faults;
    unsigned faults_count;
};

static const cyaml_schema_field_t at_fields[] = {
    NUM("page", CYAML_FLAG_DEFAULT, struct raw_at, page),
    CYAML_FIELD_ENUM("side", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, struct raw_at, side,
                     side_strings, CYAML_ARRAY_LEN(side_strings)),
    NUM("band", CYAML_FLAG_OPTIONAL, struct raw_at, band),
    NUM("line", CYAML_FLAG_OPTIONAL, struct raw_at, line),
    NUM("byte", CYAML_FLAG_OPTIONAL, struct raw_at, byte),
    CYAML_FIELD_END};
static const cyaml_schema_field_t every_fields[] = {
    NUM("pages", CYAML_FLAG_DEFAULT, struct raw_every, pages),
    NUM("band", CYAML_FLAG_OPTIONAL, struct raw_every, band),
    CYAML_FIELD_ENUM("side", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, struct raw_every, side,
                     side_strings, CYAML_ARRAY_LEN(side_strings)),
    CYAML_FIELD_END};
static const cyaml_schema_field_t fault_fields[] = {
    CYAML_FIELD_ENUM("kind", CYAML_FLAG_STRICT, struct raw_fault, kind, fault_kind_strings,
                     CYAML_ARRAY_LEN(fault_kind_strings)),
    CYAML_FIELD_MAPPING_PTR("at", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_fault, at,
                            at_fields),
    NUM("after_ms", CYAML_FLAG_OPTIONAL, struct raw_fault, after_ms),
    CYAML_FIELD_MAPPING_PTR("every", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_fault,
                            every, every_fields),
    NUM("probability", CYAML_FLAG_OPTIONAL, struct raw_fault, probability),
    NUM("ms", CYAML_FLAG_OPTIONAL, struct raw_fault, ms),
    NUM("count", CYAML_FLAG_OPTIONAL, struct raw_fault, count),
    CYAML_FIELD_ENUM_PTR("clears", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, struct raw_fault,
                         clears, bool_strings, CYAML_ARRAY_LEN(bool_strings)),
    NUM("bytes", CYAML_FLAG_OPTIONAL, struct raw_fault, bytes),
    CYAML_FIELD_END};
static const cyaml_schema_value_t fault_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_fault, fault_fields)};
static const cyaml_schema_field_t scenario_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct raw_scenario, name, 1, 63),
    CYAML_FIELD_STRING_PTR("description", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL,
                           struct raw_scenario, description, 0, 1000),
    NUM("sheets", CYAML_FLAG_DEFAULT, struct raw_scenario, sheets),
    NUM("seed", CYAML_FLAG_OPTIONAL, struct raw_scenario, seed),
    NUM("time_scale", CYAML_FLAG_OPTIONAL, struct raw_scenario, time_scale),
    CYAML_FIELD_SEQUENCE("faults", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_scenario,
                         faults, &fault_entry, 0, 64),
    CYAML_FIELD_END};
static const cyaml_schema_value_t scenario_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_scenario, scenario_fields)};

/* ---- common load step ---------------------------------------------------------- */

static int parse_yaml(const dm_alloc *a, const char *name, const char *yaml, size_t len,
                      const cyaml_schema_value_t *schema, void **raw, char *errbuf, size_t errlen)
{
    load_ctx ctx;
    cyaml_config_t cfg;
    cyaml_err_t e;

    memset(&ctx, 0, sizeof(ctx));
    ctx.alloc = a;
    cfg_init(&cfg, &ctx);
    *raw = NULL;
    e = cyaml_load_data((const uint8_t *)yaml, len, &cfg, schema, (cyaml_data_t **)raw, NULL);
    if (e == CYAML_OK && *raw != NULL)
        return DM_OK;
    if (e == CYAML_OK) {
        dm_errf(errbuf, errlen, "%s: empty document, expected a mapping", name);
        return DM_E_PARSE;
    }
    if (e == CYAML_ERR_OOM) {
        dm_errf(errbuf, errlen, "%s: out of memory while parsing", name);
        return DM_E_NOMEM;
    }
    if (ctx.path[0] != '\0')
        dm_errf(errbuf, errlen, "%s: key '%s': %s", name, ctx.path,
                ctx.first[0] ? ctx.first : cyaml_strerror(e));
    else
        dm_errf(errbuf, errlen, "%s: %s", name, ctx.first[0] ? ctx.first : cyaml_strerror(e));
    return DM_E_PARSE;
}

static void free_raw(const dm_alloc *a, const cyaml_schema_value_t *schema, void *raw)
{
    load_ctx ctx;
    cyaml_config_t cfg;

    if (raw == NULL)
        return;
    memset(&ctx, 0, sizeof(ctx));
    ctx.alloc = a;
    cfg_init(&cfg, &ctx);
    cyaml_free(&cfg, schema, raw, 0);
}

/* Read a whole file into memory taken from `a` (bounded: fixtures are small). */
static int read_file(const dm_alloc *a, const char *path, char **out, size_t *len, char *errbuf,
                     size_t errlen)
{
    FILE *f;
    char *buf;
    size_t n;
    const size_t max = 1u << 20;

    f = fopen(path, "rb");
    if (f == NULL) {
        dm_errf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
        return DM_E_IO;
    }
    buf = dm_malloc(a, max + 1);
    if (buf == NULL) {
        fclose(f);
        dm_errf(errbuf, errlen, "%s: out of memory", path);
        return DM_E_NOMEM;
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        dm_errf(errbuf, errlen, "%s: read error", path);
        goto out_fail;
    }
    if (n > max) {
        dm_errf(errbuf, errlen, "%s: larger than %zu bytes, not a fixture", path, max);
        goto out_fail;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return DM_OK;

out_fail:
    fclose(f);
    dm_free(a, buf);
    return DM_E_IO;
}

/* ---- profile ----------------------------------------------------------------- */

static uint64_t px_of_mm(uint32_t mm, uint32_t dpi)
{
    return (uint64_t)mm * dpi * 10 / 254;
}

uint64_t dm_profile_line_ns(const dm_profile *p, uint32_t mode, uint32_t dpi)
{
    for (uint32_t i = 0; i < p->n_overrides; i++)
        if (p->overrides[i].mode == mode && p->overrides[i].dpi == dpi)
            return (uint64_t)p->overrides[i].us * 1000;
    return mode < DM_N_MODES ? p->line_ns[mode] : 0;
}

static int profile_check(dm_profile *p, const struct raw_profile *r, const char *name, char *errbuf,
                         size_t errlen)
{
    const cv c = {.file = name, .errbuf = errbuf, .errlen = errlen};
    const struct raw_usb *u = &r->usb;
    const char *mt[DM_N_MODES] = {r->timing.line_time_us.bw, r->timing.line_time_us.gray,
                                  r->timing.line_time_us.color, r->timing.line_time_us.gray16,
                                  r->timing.line_time_us.color48};
    uint32_t v, max_transfer = 0, warm = 0, feed = 0, jitter = 0, dpi = 0;
    char key[64];
    int rc;

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        rc = (expr);                                                                               \
        if (rc < 0)                                                                                \
            return rc;                                                                             \
    } while (0)
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        dm_errf(errbuf, errlen, __VA_ARGS__);                                                      \
        return DM_E_RANGE;                                                                         \
    } while (0)

    snprintf(p->name, sizeof(p->name), "%s", r->name);
    TRY(get_u32(&c, "usb.vid", u->vid, 1, 0xFFFF, &v));
    p->usb.vid = (uint16_t)v;
    TRY(get_u32(&c, "usb.pid", u->pid, 0, 0xFFFF, &v));
    p->usb.pid = (uint16_t)v;
    v = 0x0100;
    TRY(get_u32(&c, "usb.bcd_device", u->bcd_device, 0, 0xFFFF, &v));
    p->usb.bcd_device = (uint16_t)v;
    p->usb.speed = (uint32_t)u->speed;
    p->usb.manufacturer = u->manufacturer;
    p->usb.product = u->product;
    p->usb.serial = u->serial;
    if (r->sources == 0)
        FAIL("%s: key 'sources': expected at least one of flatbed, adf, duplex", name);
    if (r->modes == 0)
        FAIL("%s: key 'modes': expected at least one of bw, gray, color, gray16, color48", name);
    p->sources = r->sources;
    p->modes = r->modes;
    if (r->sources & ((1u << PROTO_SCAN_SOURCE_ADF) | (1u << PROTO_SCAN_SOURCE_DUPLEX))) {
        if (r->feeder_capacity == NULL)
            FAIL("%s: key 'feeder_capacity': expected 1..%u sheets for a profile with an ADF", name,
                 LIM_FEEDER_MAX);
        TRY(get_u32(&c, "feeder_capacity", r->feeder_capacity, 1, LIM_FEEDER_MAX,
                    &p->feeder_capacity));
    } else {
        TRY(get_u32(&c, "feeder_capacity", r->feeder_capacity, 0, LIM_FEEDER_MAX,
                    &p->feeder_capacity));
    }
    for (unsigned i = 0; i < r->resolutions_count; i++) {
        snprintf(key, sizeof(key), "resolutions[%u]", i);
        TRY(get_u32(&c, key, r->resolutions[i], LIM_DPI_MIN, LIM_DPI_MAX, &v));
        if (i > 0 && v <= p->resolutions[i - 1])
            FAIL("%s: key '%s': expected ascending values without repeats, got %u after %u", name,
                 key, v, p->resolutions[i - 1]);
        p->resolutions[i] = (uint16_t)v;
    }
    p->n_resolutions = r->resolutions_count;
    TRY(get_u32(&c, "area.width_mm", r->area.width_mm, 1, LIM_AREA_MM_MAX, &p->width_mm));
    TRY(get_u32(&c, "area.height_mm", r->area.height_mm, 1, LIM_AREA_MM_MAX, &p->height_mm));
    TRY(get_u32(&c, "band.lines", r->band.lines, 1, LIM_BAND_LINES, &p->band_lines));
    TRY(get_u32(&c, "band.max_bytes", r->band.max_bytes, LIM_BAND_MIN_BYTE,
                PROTO_SCAN_MAX_BAND_DATA, &p->band_max_bytes));
    if (!(r->sources & (1u << r->defaults.source)))
        FAIL("%s: key 'defaults.source': expected one of the profile's sources", name);
    if (!(r->modes & (1u << r->defaults.mode)))
        FAIL("%s: key 'defaults.mode': expected one of the profile's modes", name);
    p->def_source = (uint32_t)r->defaults.source;
    p->def_mode = (uint32_t)r->defaults.mode;
    TRY(get_u32(&c, "defaults.dpi", r->defaults.dpi, LIM_DPI_MIN, LIM_DPI_MAX, &dpi));
    {
        int found = 0;
        for (uint32_t i = 0; i < p->n_resolutions; i++)
            found |= p->resolutions[i] == dpi;
        if (!found)
            FAIL("%s: key 'defaults.dpi': expected one of 'resolutions', got %u", name, dpi);
    }
    p->def_dpi = dpi;
    TRY(get_u32(&c, "timing.warmup_ms", r->timing.warmup_ms, 0, LIM_TIME_MS_MAX, &warm));
    TRY(get_u32(&c, "timing.feed_ms", r->timing.feed_ms, 0, LIM_TIME_MS_MAX, &feed));
    TRY(get_u32(&c, "timing.jitter_us", r->timing.jitter_us, 0, LIM_TIME_MS_MAX, &jitter));
    p->warmup_ns = (uint64_t)warm * 1000000u;
    p->feed_ns = (uint64_t)feed * 1000000u;
    p->jitter_ns = (uint64_t)jitter * 1000u;
    for (int m = 0; m < DM_N_MODES; m++) {
        snprintf(key, sizeof(key), "timing.line_time_us.%s", mode_strings[m].str);
        if ((r->modes & (1u << m)) && mt[m] == NULL)
            FAIL("%s: key '%s': expected a line time for every mode in 'modes'", name, key);
        v = 0;
        TRY(get_u32(&c, key, mt[m], 0, LIM_LINE_US_MAX, &v));
        p->line_ns[m] = (uint64_t)v * 1000u;
    }
    for (unsigned i = 0; i < r->timing.line_time_overrides_count; i++) {
        const struct raw_override *o = &r->timing.line_time_overrides[i];
        p->overrides[i].mode = (uint32_t)o->mode;
        snprintf(key, sizeof(key), "timing.line_time_overrides[%u].dpi", i);
        TRY(get_u32(&c, key, o->dpi, LIM_DPI_MIN, LIM_DPI_MAX, &p->overrides[i].dpi));
        snprintf(key, sizeof(key), "timing.line_time_overrides[%u].us", i);
        TRY(get_u32(&c, key, o->us, 0, LIM_LINE_US_MAX, &p->overrides[i].us));
    }
    p->n_overrides = r->timing.line_time_overrides_count;

    /* Largest message at any mode and resolution: full width, one band. */
    for (int m = 0; m < DM_N_MODES; m++) {
        if (!(p->modes & (1u << m)))
            continue;
        for (uint32_t i = 0; i < p->n_resolutions; i++) {
            uint64_t w = px_of_mm(p->width_mm, p->resolutions[i]);
            uint64_t h = px_of_mm(p->height_mm, p->resolutions[i]);
            uint64_t bpl = (w * proto_scan_mode_bpp((uint32_t)m) + 7) / 8;
            uint64_t lines, bytes;

            if (w == 0 || h == 0)
                FAIL("%s: key 'area': %ux%u mm is less than one pixel at %u dpi", name, p->width_mm,
                     p->height_mm, p->resolutions[i]);
            if (bpl > p->band_max_bytes)
                FAIL("%s: key 'band.max_bytes': one line at %s %u dpi is %llu bytes, more than "
                     "%u",
                     name, mode_strings[m].str, p->resolutions[i], (unsigned long long)bpl,
                     p->band_max_bytes);
            /* A narrower window (SET_PARAMS width_px) has shorter lines and
             * so may fit more of them into a band capped by max_bytes: bound
             * every width, not just the full one. */
            lines = p->band_lines < h ? p->band_lines : h;
            bytes = lines * bpl;
            if (bytes > p->band_max_bytes)
                bytes = p->band_max_bytes;
            bytes += PROTO_SCAN_BAND_HDR_SIZE;
            if (bytes > max_transfer)
                max_transfer = (uint32_t)bytes;
        }
    }
    if (max_transfer < PROTO_SCAN_RSP_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD)
        max_transfer = PROTO_SCAN_RSP_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD;
    p->max_in_transfer = max_transfer;
    return DM_OK;
#undef FAIL
#undef TRY
}

int dm_profile_load_mem_a(const dm_alloc *a, const char *name, const char *yaml, size_t len,
                          dm_profile **out, char *errbuf, size_t errlen)
{
    dm_profile *p;
    void *raw = NULL;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (name == NULL)
        name = "<memory>";
    if (yaml == NULL || out == NULL) {
        dm_errf(errbuf, errlen, "%s: no YAML given", name);
        return DM_E_INVALID;
    }
    rc = parse_yaml(a, name, yaml, len, &profile_schema, &raw, errbuf, errlen);
    if (rc < 0)
        return rc;
    p = dm_malloc(a, sizeof(*p));
    if (p == NULL) {
        dm_errf(errbuf, errlen, "%s: out of memory", name);
        rc = DM_E_NOMEM;
        goto out_free_raw;
    }
    p->alloc = a;
    p->raw = raw;
    rc = profile_check(p, raw, name, errbuf, errlen);
    if (rc < 0)
        goto out_free_p;
    *out = p;
    return DM_OK;

out_free_p:
    dm_free(a, p);
out_free_raw:
    free_raw(a, &profile_schema, raw);
    return rc;
}

int dm_profile_load_file_a(const dm_alloc *a, const char *path, dm_profile **out, char *errbuf,
                           size_t errlen)
{
    char *buf;
    size_t len;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (path == NULL) {
        dm_errf(errbuf, errlen, "no profile path given");
        return DM_E_INVALID;
    }
    rc = read_file(a, path, &buf, &len, errbuf, errlen);
    if (rc < 0)
        return rc;
    rc = dm_profile_load_mem_a(a, path, buf, len, out, errbuf, errlen);
    dm_free(a, buf);
    return rc;
}

int dm_profile_load_mem(const char *name, const char *yaml, size_t len, dm_profile **out,
                        char *errbuf, size_t errlen)
{
    return dm_profile_load_mem_a(NULL, name, yaml, len, out, errbuf, errlen);
}

int dm_profile_load_file(const char *path, dm_profile **out, char *errbuf, size_t errlen)
{
    return dm_profile_load_file_a(NULL, path, out, errbuf, errlen);
}

int dm_profile_load_default(dm_profile **out, char *errbuf, size_t errlen)
{
    return dm_profile_load_mem_a(NULL, "<built-in default.yaml>", dm_builtin_profile_yaml,
                                 dm_builtin_profile_len, out, errbuf, errlen);
}

void dm_profile_free(dm_profile *p)
{
    const dm_alloc *a;

    if (p == NULL)
        return;
    a = p->alloc;
    free_raw(a, &profile_schema, p->raw);
    dm_free(a, p);
}

const char *dm_profile_name(const dm_profile *p)
{
    return p->name;
}

const dm_usb_identity *dm_profile_usb(const dm_profile *p)
{
    return &p->usb;
}

void dm_profile_caps(const dm_profile *p, proto_scan_caps *out)
{
    memset(out, 0, sizeof(*out));
    out->sources = p->sources;
    out->modes = p->modes;
    out->max_width_um = p->width_mm * 1000u;
    out->max_height_um = p->height_mm * 1000u;
    out->feeder_capacity = p->feeder_capacity;
    out->band_lines = p->band_lines;
    out->max_in_transfer = p->max_in_transfer;
    out->n_resolutions = (uint16_t)p->n_resolutions;
    for (uint32_t i = 0; i < p->n_resolutions; i++)
        out->resolutions[i] = p->resolutions[i];
}

/* ---- scenario ----------------------------------------------------------------- */

const char *dm_fault_name(int kind)
{
    switch (kind) {
#define DM_FAULT_NAME_(name, str)                                                                  \
    case DM_FAULT_##name:                                                                          \
        return str;
        DM_FAULT_KIND_MAP(DM_FAULT_NAME_)
#undef DM_FAULT_NAME_
    default:
        return "?";
    }
}

static int fault_needs_place(dm_fault_kind k)
{
    return k != DM_FAULT_WARMING_UP && k != DM_FAULT_BUSY;
}

static int fault_convert(const struct raw_fault *rf, unsigned i, uint32_t sheets, dm_fault *f,
                         const char *name, char *errbuf, size_t errlen)
{
    const cv c = {.file = name, .errbuf = errbuf, .errlen = errlen};
    unsigned n_triggers =
        (rf->at != NULL) + (rf->after_ms != NULL) + (rf->every != NULL) + (rf->probability != NULL);
    const char *kn = dm_fault_name(rf->kind);
    char key[64];
    uint32_t v;
    int rc;

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        rc = (expr);                                                                               \
        if (rc < 0)                                                                                \
            return rc;                                                                             \
    } while (0)
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        dm_errf(errbuf, errlen, __VA_ARGS__);                                                      \
        return DM_E_RANGE;                                                                         \
    } while (0)
#define KEY(fmt) snprintf(key, sizeof(key), "faults[%u]." fmt, i)

    memset(f, 0, sizeof(*f));
    f->kind = (dm_fault_kind)rf->kind;
    if (n_triggers > 1)
        FAIL("%s: key 'faults[%u]': expected at most one of at, after_ms, every, probability", name,
             i);
    if (!fault_needs_place(f->kind) && n_triggers != 0)
        FAIL("%s: key 'faults[%u]': a %s fault happens at START_JOB and takes no trigger", name, i,
             kn);
    if (f->kind == DM_FAULT_FEEDER_EMPTY && rf->at == NULL)
        FAIL("%s: key 'faults[%u].at': expected the page before which the feeder runs dry "
             "(or use 'sheets')",
             name, i);
    if (n_triggers == 0 && fault_needs_place(f->kind) && f->kind != DM_FAULT_COVER_OPEN)
        FAIL("%s: key 'faults[%u]': expected a trigger (at, after_ms, every or probability) for "
             "a %s fault",
             name, i, kn);

    if (rf->at != NULL) {
        const struct raw_at *at = rf->at;
        unsigned n_pos = (at->band != NULL) + (at->line != NULL) + (at->byte != NULL);
        f->trig = DM_TRIG_AT;
        KEY("at.page");
        TRY(get_u32(&c, key, at->page, 1, LIM_PAGES_MAX, &v));
        /* Page 1 always exists: a flatbed scans one page per job, with no
         * feeder (sheets: 0). The profile pairing checks the rest. */
        if (v > 1 && v > 2 * (uint64_t)sheets && f->kind != DM_FAULT_FEEDER_EMPTY)
            FAIL("%s: key '%s': page %u is past the end of the job (%u sheets)", name, key, v,
                 sheets);
        f->page = v - 1;
        if (at->side == DM_SIDE_BACK && v % 2 == 1)
            FAIL("%s: key 'faults[%u].at.side': page %u is the front of a sheet in every job "
                 "(duplex back sides are the even pages); this fault would never fire",
                 name, i, v);
        if (f->kind == DM_FAULT_FEEDER_EMPTY && at->side != DM_SIDE_ANY)
            FAIL("%s: key 'faults[%u].at.side': a feeder_empty fault takes only 'page'", name, i);
        if (f->kind == DM_FAULT_FEEDER_EMPTY && n_pos != 0)
            FAIL("%s: key 'faults[%u].at': a feeder_empty fault takes only 'page'", name, i);
        if (n_pos > 1)
            FAIL("%s: key 'faults[%u].at': expected at most one of band, line, byte", name, i);
        f->side_filter = (uint32_t)at->side;
        if (at->band != NULL) {
            KEY("at.band");
            TRY(get_u32(&c, key, at->band, 1, LIM_BANDS_MAX, &v));
            f->band = v - 1;
        }
        if (at->line != NULL) {
            KEY("at.line");
            TRY(get_u32(&c, key, at->line, 1, LIM_BANDS_MAX, &v));
            f->line = v - 1;
            f->has_line = true;
        }
        if (at->byte != NULL) {
            KEY("at.byte");
            TRY(get_u32(&c, key, at->byte, 1, LIM_BYTES_MAX, &v));
            f->byte = v - 1;
            f->has_byte = true;
        }
    } else if (rf->after_ms != NULL) {
        KEY("after_ms");
        TRY(get_u32(&c, key, rf->after_ms, 0, LIM_TIME_MS_MAX, &v));
        f->trig = DM_TRIG_AFTER;
        f->after_ns = (uint64_t)v * 1000000u;
    } else if (rf->every != NULL) {
        KEY("every.pages");
        TRY(get_u32(&c, key, rf->every->pages, 1, LIM_PAGES_MAX, &f->every));
        v = 1;
        KEY("every.band");
        TRY(get_u32(&c, key, rf->every->band, 1, LIM_BANDS_MAX, &v));
        f->trig = DM_TRIG_EVERY;
        f->band = v - 1;
        f->side_filter = (uint32_t)rf->every->side;
    } else if (rf->probability != NULL) {
        KEY("probability");
        TRY(get_real(&c, key, rf->probability, 0.0, 1.0, &f->probability));
        f->trig = DM_TRIG_RANDOM;
    } else {
        f->trig = DM_TRIG_START;
    }

    /* Parameters, each only where it means something. */
    if (rf->ms != NULL && f->kind != DM_FAULT_DELAY && f->kind != DM_FAULT_WARMING_UP)
        FAIL("%s: key 'faults[%u].ms': only delay and warming_up faults take 'ms'", name, i);
    if ((f->kind == DM_FAULT_DELAY || f->kind == DM_FAULT_WARMING_UP) && rf->ms == NULL)
        FAIL("%s: key 'faults[%u].ms': expected a duration in milliseconds for a %s fault", name, i,
             kn);
    if (rf->ms != NULL) {
        KEY("ms");
        TRY(get_u32(&c, key, rf->ms, 1, LIM_TIME_MS_MAX, &v));
        f->ms_ns = (uint64_t)v * 1000000u;
    }
    if (rf->count != NULL && f->kind != DM_FAULT_BUSY && f->kind != DM_FAULT_COVER_OPEN)
        FAIL("%s: key 'faults[%u].count': only busy and cover_open faults take 'count'", name, i);
    if (rf->count != NULL && f->kind == DM_FAULT_COVER_OPEN && f->trig != DM_TRIG_START)
        FAIL("%s: key 'faults[%u].count': only a cover_open at job start takes 'count'", name, i);
    f->count = f->kind == DM_FAULT_BUSY ? 1 : 0;
    KEY("count");
    TRY(get_u32(&c, key, rf->count, f->kind == DM_FAULT_BUSY ? 1 : 0, LIM_COUNT_MAX, &f->count));
    if (rf->clears != NULL && f->kind != DM_FAULT_STALL)
        FAIL("%s: key 'faults[%u].clears': only stall faults take 'clears'", name, i);
    f->clears = rf->clears != NULL ? *rf->clears != 0 : true;
    if (rf->bytes != NULL && f->kind != DM_FAULT_SHORT_BAND && f->kind != DM_FAULT_CORRUPT_BAND)
        FAIL("%s: key 'faults[%u].bytes': only short_band and corrupt_band faults take 'bytes'",
             name, i);
    KEY("bytes");
    TRY(get_u32(&c, key, rf->bytes, 1, PROTO_SCAN_MAX_BAND_DATA, &f->bytes));
    return DM_OK;
#undef KEY
#undef FAIL
#undef TRY
}

static int scenario_check(dm_scenario *s, const struct raw_scenario *r, const char *name,
                          char *errbuf, size_t errlen)
{
    const cv c = {.file = name, .errbuf = errbuf, .errlen = errlen};
    uint32_t seed = 0;
    int rc;

    snprintf(s->name, sizeof(s->name), "%s", r->name);
    snprintf(s->file, sizeof(s->file), "%s", name);
    rc = get_u32(&c, "sheets", r->sheets, 0, LIM_FEEDER_MAX, &s->sheets);
    if (rc < 0)
        return rc;
    rc = get_u32(&c, "seed", r->seed, 0, UINT32_MAX, &seed);
    if (rc < 0)
        return rc;
    s->has_seed = r->seed != NULL;
    s->seed = seed;
    s->time_scale = 1.0;
    rc = get_real(&c, "time_scale", r->time_scale, 0.0, 100.0, &s->time_scale);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < r->faults_count; i++) {
        rc = fault_convert(&r->faults[i], i, s->sheets, &s->faults[i], name, errbuf, errlen);
        if (rc < 0)
            return rc;
    }
    s->n_faults = r->faults_count;
    return DM_OK;
}

int dm_scenario_load_mem_a(const dm_alloc *a, const char *name, const char *yaml, size_t len,
                           dm_scenario **out, char *errbuf, size_t errlen)
{
    struct raw_scenario *raw = NULL;
    dm_scenario *s;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (name == NULL)
        name = "<memory>";
    if (yaml == NULL || out == NULL) {
        dm_errf(errbuf, errlen, "%s: no YAML given", name);
        return DM_E_INVALID;
    }
    rc = parse_yaml(a, name, yaml, len, &scenario_schema, (void **)&raw, errbuf, errlen);
    if (rc < 0)
        return rc;
    s = dm_malloc(a, sizeof(*s));
    if (s == NULL) {
        dm_errf(errbuf, errlen, "%s: out of memory", name);
        rc = DM_E_NOMEM;
        goto out_free_raw;
    }
    s->alloc = a;
    if (raw->faults_count > 0) {
        s->faults = dm_malloc(a, sizeof(*s->faults) * raw->faults_count);
        if (s->faults == NULL) {
            dm_errf(errbuf, errlen, "%s: out of memory", name);
            rc = DM_E_NOMEM;
            goto out_free_s;
        }
    }
    rc = scenario_check(s, raw, name, errbuf, errlen);
    if (rc < 0)
        goto out_free_faults;
    free_raw(a, &scenario_schema, raw);
    *out = s;
    return DM_OK;

out_free_faults:
    dm_free(a, s->faults);
out_free_s:
    dm_free(a, s);
out_free_raw:
    free_raw(a, &scenario_schema, raw);
    return rc;
}

int dm_scenario_load_file_a(const dm_alloc *a, const char *path, dm_scenario **out, char *errbuf,
                            size_t errlen)
{
    char *buf;
    size_t len;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (path == NULL) {
        dm_errf(errbuf, errlen, "no scenario path given");
        return DM_E_INVALID;
    }
    rc = read_file(a, path, &buf, &len, errbuf, errlen);
    if (rc < 0)
        return rc;
    rc = dm_scenario_load_mem_a(a, path, buf, len, out, errbuf, errlen);
    dm_free(a, buf);
    return rc;
}

int dm_scenario_load_mem(const char *name, const char *yaml, size_t len, dm_scenario **out,
                         char *errbuf, size_t errlen)
{
    return dm_scenario_load_mem_a(NULL, name, yaml, len, out, errbuf, errlen);
}

int dm_scenario_load_file(const char *path, dm_scenario **out, char *errbuf, size_t errlen)
{
    return dm_scenario_load_file_a(NULL, path, out, errbuf, errlen);
}

int dm_scenario_load_default(dm_scenario **out, char *errbuf, size_t errlen)
{
    return dm_scenario_load_mem_a(NULL, "<built-in clean.yaml>", dm_builtin_scenario_yaml,
                                  dm_builtin_scenario_len, out, errbuf, errlen);
}

void dm_scenario_free(dm_scenario *s)
{
    if (s == NULL)
        return;
    dm_free(s->alloc, s->faults);
    dm_free(s->alloc, s);
}

const char *dm_scenario_name(const dm_scenario *s)
{
    return s->name;
}

/* ---- scenario against profile --------------------------------------------------- */

/* Pages of `job` that can exist with the scenario's feeder: the job's page
 * count, and for a feeder the sheets (both sides of each when duplex). */
static uint64_t job_page_limit(const dm_scenario *s, const proto_scan_job *job)
{
    uint64_t lim = job->pages != 0 ? job->pages : UINT64_MAX;
    if (job->source != PROTO_SCAN_SOURCE_FLATBED) {
        uint64_t fed = (uint64_t)s->sheets * (job->source == PROTO_SCAN_SOURCE_DUPLEX ? 2u : 1u);
        if (fed < lim)
            lim = fed;
    }
    return lim;
}

static int check_job(const dm_scenario *s, const proto_scan_job *job, const char *what,
                     bool check_side, char *errbuf, size_t errlen)
{
    const char *src = job->source == PROTO_SCAN_SOURCE_FLATBED  ? "flatbed"
                      : job->source == PROTO_SCAN_SOURCE_DUPLEX ? "duplex"
                                                                : "ADF";
    bool duplex = job->source == PROTO_SCAN_SOURCE_DUPLEX;
    uint64_t page_bytes = (uint64_t)job->bytes_per_line * job->height_px;
    uint64_t limit = job_page_limit(s, job);

#define BAD(...)                                                                                   \
    do {                                                                                           \
        dm_errf(errbuf, errlen, __VA_ARGS__);                                                      \
        return DM_E_RANGE;                                                                         \
    } while (0)

    for (uint32_t i = 0; i < s->n_faults; i++) {
        const dm_fault *f = &s->faults[i];
        const char *tk = f->trig == DM_TRIG_AT ? "at" : "every";
        if (f->trig != DM_TRIG_AT && f->trig != DM_TRIG_EVERY)
            continue;
        if (f->kind == DM_FAULT_FEEDER_EMPTY) {
            if (job->source == PROTO_SCAN_SOURCE_FLATBED)
                BAD("%s: key 'faults[%u].kind': a feeder_empty fault never fires in %s: a "
                    "flatbed has no feeder",
                    s->file, i, what);
            if (duplex && (f->page & 1u))
                BAD("%s: key 'faults[%u].at.page': page %u is the back of a sheet in %s (duplex); "
                    "the feeder can only run dry before a sheet (odd pages)",
                    s->file, i, f->page + 1, what);
            continue;
        }
        if (f->trig == DM_TRIG_AT && f->page >= limit)
            BAD("%s: key 'faults[%u].at.page': page %u is past the end of %s (%s, %llu page%s)",
                s->file, i, f->page + 1, what, src, (unsigned long long)limit,
                limit == 1 ? "" : "s");
        if (f->trig == DM_TRIG_EVERY && f->every > limit)
            BAD("%s: key 'faults[%u].every.pages': page %u is past the end of %s (%s, %llu "
                "page%s)",
                s->file, i, f->every, what, src, (unsigned long long)limit, limit == 1 ? "" : "s");
        if (check_side && f->side_filter == DM_SIDE_BACK && !duplex)
            BAD("%s: key 'faults[%u].%s.side': %s is %s, no page has a back side", s->file, i, tk,
                what, src);
        if (f->has_line && f->line >= job->height_px)
            BAD("%s: key 'faults[%u].at.line': line %llu is past the end of a page (%u lines in "
                "%s)",
                s->file, i, (unsigned long long)f->line + 1, job->height_px, what);
        if (f->has_byte && f->byte >= page_bytes)
            BAD("%s: key 'faults[%u].at.byte': byte %llu is past the end of a page (%llu bytes in "
                "%s)",
                s->file, i, (unsigned long long)f->byte + 1, (unsigned long long)page_bytes, what);
        if (!f->has_line && !f->has_byte && f->band >= job->bands_per_page)
            BAD("%s: key 'faults[%u].%s.band': band %u is past the end of a page (%u bands in %s)",
                s->file, i, tk, f->band + 1, job->bands_per_page, what);
    }
    return DM_OK;
#undef BAD
}

int dm_scenario_check_job(const dm_scenario *s, const proto_scan_job *job, const char *what,
                          char *errbuf, size_t errlen)
{
    if (s == NULL || job == NULL)
        return DM_E_INVALID;
    return check_job(s, job, what ? what : "this job", true, errbuf, errlen);
}

int dm_scenario_check(const dm_scenario *s, const dm_profile *p, char *errbuf, size_t errlen)
{
    proto_scan_params params;
    proto_scan_job job;
    char what[128];
    int rc;

    if (s == NULL || p == NULL)
        return DM_E_INVALID;
    if ((p->sources & ~(1u << PROTO_SCAN_SOURCE_FLATBED)) && s->sheets > p->feeder_capacity) {
        dm_errf(errbuf, errlen,
                "%s: key 'sheets': %u sheets do not fit the feeder of profile %s (capacity %u)",
                s->file, s->sheets, p->name, p->feeder_capacity);
        return DM_E_RANGE;
    }
    /* What no job of this profile can do. */
    for (uint32_t i = 0; i < s->n_faults; i++) {
        const dm_fault *f = &s->faults[i];
        if (f->kind == DM_FAULT_FEEDER_EMPTY &&
            !(p->sources & ((1u << PROTO_SCAN_SOURCE_ADF) | (1u << PROTO_SCAN_SOURCE_DUPLEX)))) {
            dm_errf(errbuf, errlen,
                    "%s: key 'faults[%u].kind': a feeder_empty fault never fires: profile %s has "
                    "no feeder",
                    s->file, i, p->name);
            return DM_E_RANGE;
        }
        if (f->side_filter == DM_SIDE_BACK && !(p->sources & (1u << PROTO_SCAN_SOURCE_DUPLEX))) {
            dm_errf(errbuf, errlen,
                    "%s: key 'faults[%u].%s.side': profile %s has no duplex source, no page has a "
                    "back side",
                    s->file, i, f->trig == DM_TRIG_AT ? "at" : "every", p->name);
            return DM_E_RANGE;
        }
    }
    /* Pages within the feeder, positions inside a page, feeder_empty before
     * a sheet: against the job the profile runs with its defaults. A flatbed
     * default leaves page numbers to START_JOB (dm_device_job_check): the
     * shipped scenarios are written for feeders, a flatbed scans the pages
     * the host asks for (one by default). */
    memset(&params, 0, sizeof(params));
    params.source = (uint8_t)p->def_source;
    params.mode = (uint8_t)p->def_mode;
    params.dpi = (uint16_t)p->def_dpi;
    rc = dm_job_resolve(p, &params, 0, &job, errbuf, errlen);
    if (rc < 0)
        return rc;
    /* A feeder job runs until the feeder is empty; a flatbed's page count
     * is the host's choice. */
    job.pages = job.source == PROTO_SCAN_SOURCE_FLATBED ? UINT32_MAX : 0;
    snprintf(what, sizeof(what), "profile %s's default job", p->name);
    /* A back side exists when the profile can scan duplex (checked above). */
    return check_job(s, &job, what, false, errbuf, errlen);
}
