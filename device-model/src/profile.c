/* Profiles: the YAML schema of a scanner profile, its checks for meaning,
 * and the loaded profile's accessors. docs/protocol.md, "Profiles". */
#include <stdio.h>
#include <string.h>

#include "fixture-internal.h"

/* ---- vocabulary ------------------------------------------------------------------ */

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
static const cyaml_strval_t protocol_strings[] = {
    {"native", DM_PROTOCOL_NATIVE},
    {"escl", DM_PROTOCOL_ESCL},
};
static const cyaml_strval_t speed_strings[] = {
    {"full", 2}, /* PROTO_USBIP_SPEED_FULL */
    {"high", 3}, /* PROTO_USBIP_SPEED_HIGH */
    {"super", 5},
};

const char *dm_fixture_source_name(uint32_t source)
{
    return source < CYAML_ARRAY_LEN(source_strings) ? source_strings[source].str : "?";
}

const char *dm_fixture_mode_name(uint32_t mode)
{
    return mode < CYAML_ARRAY_LEN(mode_strings) ? mode_strings[mode].str : "?";
}

/* ---- profile schema ---------------------------------------------------------- */

struct raw_usb {
    char *vid, *pid, *bcd_device;
    int speed;
    char *manufacturer, *product, *serial;
    char *ippusb_interfaces;
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
    int *protocols;
    unsigned protocols_count;
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

#define NUM DM_FIXTURE_NUM

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
    NUM("ippusb_interfaces", CYAML_FLAG_OPTIONAL, struct raw_usb, ippusb_interfaces),
    CYAML_FIELD_END};
static const cyaml_schema_value_t protocol_entry = {
    CYAML_VALUE_ENUM(CYAML_FLAG_STRICT, int, protocol_strings, CYAML_ARRAY_LEN(protocol_strings)),
};
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
    CYAML_FIELD_SEQUENCE("protocols", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct raw_profile,
                         protocols, &protocol_entry, 1, 2),
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

/* ---- checks for meaning ------------------------------------------------------------- */

uint64_t dm_profile_line_ns(const dm_profile *p, uint32_t mode, uint32_t dpi)
{
    for (uint32_t i = 0; i < p->n_overrides; i++)
        if (p->overrides[i].mode == mode && p->overrides[i].dpi == dpi)
            return (uint64_t)p->overrides[i].us * 1000;
    return mode < DM_N_MODES ? p->line_ns[mode] : 0;
}

/* protocols: and the USB interfaces they make (docs/emulator.md, "USB device"). */
static int check_protocols(dm_profile *p, const struct raw_profile *r, const dm_fixture_msg *m)
{
    uint32_t n = 0;
    int rc;

    p->usb.protocols = 0;
    for (unsigned i = 0; i < r->protocols_count; i++) {
        uint32_t bit = (uint32_t)r->protocols[i];
        if (p->usb.protocols & bit)
            return dm_fixture_fail(m, DM_E_RANGE, "protocols", "'%s' is listed twice",
                                   bit == DM_PROTOCOL_ESCL ? "escl" : "native");
        p->usb.protocols |= bit;
    }
    if (p->usb.protocols == 0)
        p->usb.protocols = DM_PROTOCOL_NATIVE;
    if (r->usb.ippusb_interfaces != NULL && !(p->usb.protocols & DM_PROTOCOL_ESCL))
        return dm_fixture_fail(m, DM_E_RANGE, "usb.ippusb_interfaces",
                               "only with 'escl' in 'protocols' (IPP-USB interfaces carry eSCL)");
    n = DM_IPPUSB_MIN_INTERFACES;
    rc = dm_fixture_u32(m, "usb.ippusb_interfaces", r->usb.ippusb_interfaces,
                        DM_IPPUSB_MIN_INTERFACES, DM_IPPUSB_MAX_INTERFACES, &n);
    if (rc < 0)
        return rc;
    p->usb.ippusb_interfaces = (p->usb.protocols & DM_PROTOCOL_ESCL) ? n : 0;
    return DM_OK;
}

static int check_usb(dm_profile *p, const struct raw_usb *u, const dm_fixture_msg *m)
{
    uint32_t v = 0;
    int rc;

    rc = dm_fixture_u32(m, "usb.vid", u->vid, 1, 0xFFFF, &v);
    if (rc < 0)
        return rc;
    p->usb.vid = (uint16_t)v;
    rc = dm_fixture_u32(m, "usb.pid", u->pid, 0, 0xFFFF, &v);
    if (rc < 0)
        return rc;
    p->usb.pid = (uint16_t)v;
    v = 0x0100;
    rc = dm_fixture_u32(m, "usb.bcd_device", u->bcd_device, 0, 0xFFFF, &v);
    if (rc < 0)
        return rc;
    p->usb.bcd_device = (uint16_t)v;
    p->usb.speed = (uint32_t)u->speed;
    p->usb.manufacturer = u->manufacturer;
    p->usb.product = u->product;
    p->usb.serial = u->serial;
    return DM_OK;
}

/* sources, modes, feeder_capacity, resolutions. */
static int check_capabilities(dm_profile *p, const struct raw_profile *r, const dm_fixture_msg *m)
{
    const uint32_t feeders = (1u << PROTO_SCAN_SOURCE_ADF) | (1u << PROTO_SCAN_SOURCE_DUPLEX);
    char key[64];
    uint32_t v;
    int rc;

    if (r->sources == 0)
        return dm_fixture_fail(m, DM_E_RANGE, "sources",
                               "expected at least one of flatbed, adf, duplex");
    if (r->modes == 0)
        return dm_fixture_fail(m, DM_E_RANGE, "modes",
                               "expected at least one of bw, gray, color, gray16, color48");
    p->sources = r->sources;
    p->modes = r->modes;
    if ((r->sources & feeders) && r->feeder_capacity == NULL)
        return dm_fixture_fail(m, DM_E_RANGE, "feeder_capacity",
                               "missing; expected 1..%u sheets for a profile with an ADF",
                               DM_LIM_FEEDER_MAX);
    rc = dm_fixture_u32(m, "feeder_capacity", r->feeder_capacity, (r->sources & feeders) ? 1 : 0,
                        DM_LIM_FEEDER_MAX, &p->feeder_capacity);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < r->resolutions_count; i++) {
        snprintf(key, sizeof(key), "resolutions[%u]", i);
        rc = dm_fixture_u32(m, key, r->resolutions[i], DM_LIM_DPI_MIN, DM_LIM_DPI_MAX, &v);
        if (rc < 0)
            return rc;
        if (i > 0 && v <= p->resolutions[i - 1])
            return dm_fixture_fail(m, DM_E_RANGE, key,
                                   "expected ascending values without repeats, got %u after %u", v,
                                   p->resolutions[i - 1]);
        p->resolutions[i] = (uint16_t)v;
    }
    p->n_resolutions = r->resolutions_count;
    return DM_OK;
}

/* area, band, defaults. */
static int check_geometry(dm_profile *p, const struct raw_profile *r, const dm_fixture_msg *m)
{
    uint32_t dpi = 0;
    bool found = false;
    int rc;

    rc = dm_fixture_u32(m, "area.width_mm", r->area.width_mm, 1, DM_LIM_AREA_MM_MAX, &p->width_mm);
    if (rc < 0)
        return rc;
    rc = dm_fixture_u32(m, "area.height_mm", r->area.height_mm, 1, DM_LIM_AREA_MM_MAX,
                        &p->height_mm);
    if (rc < 0)
        return rc;
    rc = dm_fixture_u32(m, "band.lines", r->band.lines, 1, DM_LIM_BAND_LINES, &p->band_lines);
    if (rc < 0)
        return rc;
    rc = dm_fixture_u32(m, "band.max_bytes", r->band.max_bytes, DM_LIM_BAND_MIN_BYTE,
                        PROTO_SCAN_MAX_BAND_DATA, &p->band_max_bytes);
    if (rc < 0)
        return rc;
    if (!(r->sources & (1u << r->defaults.source)))
        return dm_fixture_fail(m, DM_E_RANGE, "defaults.source",
                               "expected one of the profile's sources, got %s",
                               dm_fixture_source_name((uint32_t)r->defaults.source));
    if (!(r->modes & (1u << r->defaults.mode)))
        return dm_fixture_fail(m, DM_E_RANGE, "defaults.mode",
                               "expected one of the profile's modes, got %s",
                               dm_fixture_mode_name((uint32_t)r->defaults.mode));
    p->def_source = (uint32_t)r->defaults.source;
    p->def_mode = (uint32_t)r->defaults.mode;
    rc = dm_fixture_u32(m, "defaults.dpi", r->defaults.dpi, DM_LIM_DPI_MIN, DM_LIM_DPI_MAX, &dpi);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < p->n_resolutions; i++)
        found |= p->resolutions[i] == dpi;
    if (!found)
        return dm_fixture_fail(m, DM_E_RANGE, "defaults.dpi",
                               "expected one of 'resolutions', got %u", dpi);
    p->def_dpi = dpi;
    return DM_OK;
}

static int check_timing(dm_profile *p, const struct raw_timing *t, const dm_fixture_msg *m)
{
    const char *mt[DM_N_MODES] = {t->line_time_us.bw, t->line_time_us.gray, t->line_time_us.color,
                                  t->line_time_us.gray16, t->line_time_us.color48};
    uint32_t v, warm = 0, feed = 0, jitter = 0;
    char key[64];
    int rc;

    rc = dm_fixture_u32(m, "timing.warmup_ms", t->warmup_ms, 0, DM_LIM_TIME_MS_MAX, &warm);
    if (rc < 0)
        return rc;
    rc = dm_fixture_u32(m, "timing.feed_ms", t->feed_ms, 0, DM_LIM_TIME_MS_MAX, &feed);
    if (rc < 0)
        return rc;
    rc = dm_fixture_u32(m, "timing.jitter_us", t->jitter_us, 0, DM_LIM_TIME_MS_MAX, &jitter);
    if (rc < 0)
        return rc;
    p->warmup_ns = (uint64_t)warm * 1000000u;
    p->feed_ns = (uint64_t)feed * 1000000u;
    p->jitter_ns = (uint64_t)jitter * 1000u;
    for (uint32_t mode = 0; mode < DM_N_MODES; mode++) {
        snprintf(key, sizeof(key), "timing.line_time_us.%s", dm_fixture_mode_name(mode));
        if ((p->modes & (1u << mode)) && mt[mode] == NULL)
            return dm_fixture_fail(m, DM_E_RANGE, key,
                                   "missing; expected a line time for every mode in 'modes'");
        v = 0;
        rc = dm_fixture_u32(m, key, mt[mode], 0, DM_LIM_LINE_US_MAX, &v);
        if (rc < 0)
            return rc;
        p->line_ns[mode] = (uint64_t)v * 1000u;
    }
    for (unsigned i = 0; i < t->line_time_overrides_count; i++) {
        const struct raw_override *o = &t->line_time_overrides[i];
        p->overrides[i].mode = (uint32_t)o->mode;
        snprintf(key, sizeof(key), "timing.line_time_overrides[%u].dpi", i);
        rc = dm_fixture_u32(m, key, o->dpi, DM_LIM_DPI_MIN, DM_LIM_DPI_MAX, &p->overrides[i].dpi);
        if (rc < 0)
            return rc;
        snprintf(key, sizeof(key), "timing.line_time_overrides[%u].us", i);
        rc = dm_fixture_u32(m, key, o->us, 0, DM_LIM_LINE_US_MAX, &p->overrides[i].us);
        if (rc < 0)
            return rc;
    }
    p->n_overrides = t->line_time_overrides_count;
    return DM_OK;
}

/* The largest IN message at any mode and resolution: one band of the full
 * width, or of a narrower window (SET_PARAMS width_px), whose shorter lines
 * may fit more of them into a band capped by max_bytes. */
static int check_band_sizes(dm_profile *p, const dm_fixture_msg *m)
{
    uint32_t max_transfer = PROTO_SCAN_RSP_HDR_SIZE + PROTO_SCAN_MAX_PAYLOAD;

    for (uint32_t mode = 0; mode < DM_N_MODES; mode++) {
        if (!(p->modes & (1u << mode)))
            continue;
        for (uint32_t i = 0; i < p->n_resolutions; i++) {
            uint64_t w = dm_px_of_mm(p->width_mm, p->resolutions[i]);
            uint64_t h = dm_px_of_mm(p->height_mm, p->resolutions[i]);
            uint64_t bpl = (w * proto_scan_mode_bpp(mode) + 7) / 8;
            uint64_t lines, bytes;

            if (w == 0 || h == 0)
                return dm_fixture_fail(m, DM_E_RANGE, "area",
                                       "%ux%u mm is less than one pixel at %u dpi", p->width_mm,
                                       p->height_mm, p->resolutions[i]);
            if (bpl > p->band_max_bytes)
                return dm_fixture_fail(m, DM_E_RANGE, "band.max_bytes",
                                       "one line at %s %u dpi is %llu bytes, more than %u",
                                       dm_fixture_mode_name(mode), p->resolutions[i],
                                       (unsigned long long)bpl, p->band_max_bytes);
            lines = p->band_lines < h ? p->band_lines : h;
            bytes = lines * bpl;
            if (bytes > p->band_max_bytes)
                bytes = p->band_max_bytes;
            bytes += PROTO_SCAN_BAND_HDR_SIZE;
            if (bytes > max_transfer)
                max_transfer = (uint32_t)bytes;
        }
    }
    p->max_in_transfer = max_transfer;
    return DM_OK;
}

static int profile_check(dm_profile *p, const struct raw_profile *r, const dm_fixture_msg *m)
{
    int rc;

    snprintf(p->name, sizeof(p->name), "%s", r->name);
    snprintf(p->file, sizeof(p->file), "%s", m->file);
    rc = check_usb(p, &r->usb, m);
    if (rc < 0)
        return rc;
    rc = check_protocols(p, r, m);
    if (rc < 0)
        return rc;
    rc = check_capabilities(p, r, m);
    if (rc < 0)
        return rc;
    rc = check_geometry(p, r, m);
    if (rc < 0)
        return rc;
    rc = check_timing(p, &r->timing, m);
    if (rc < 0)
        return rc;
    return check_band_sizes(p, m);
}

/* ---- loading ------------------------------------------------------------------------ */

int dm_profile_load_mem_a(const dm_alloc *a, const char *name, const char *yaml, size_t len,
                          dm_profile **out, char *errbuf, size_t errlen)
{
    dm_fixture_msg m = {.file = name, .errbuf = errbuf, .errlen = errlen};
    dm_profile *p;
    void *raw = NULL;
    int rc;

    if (a == NULL)
        a = dm_alloc_default();
    if (name == NULL)
        m.file = name = "<memory>";
    if (yaml == NULL || out == NULL) {
        dm_errf(errbuf, errlen, "%s: no YAML given", name);
        return DM_E_INVALID;
    }
    rc = dm_fixture_parse(a, yaml, len, &profile_schema, &raw, &m);
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
    rc = profile_check(p, raw, &m);
    if (rc < 0)
        goto out_free_p;
    *out = p;
    return DM_OK;

out_free_p:
    dm_free(a, p);
out_free_raw:
    dm_fixture_free_raw(a, &profile_schema, raw);
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
    rc = dm_fixture_read_file(a, path, "profile", &buf, &len, errbuf, errlen);
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
    dm_fixture_free_raw(a, &profile_schema, p->raw);
    dm_free(a, p);
}

/* ---- accessors ------------------------------------------------------------------------ */

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
