/* eSCL document writers: ScannerCapabilities, ScannerStatus, ScanImageInfo.
 *
 * Written by hand into the caller's buffer rather than with libxml2's
 * xmlTextWriter: the output must use exactly the prefixes pwg: and scan:
 * and a fixed element order (clients match literal names and, in the escl
 * backend's case, sibling order), the caller owns the memory (xmlTextWriter
 * writes to an xmlBuffer it allocates and grows), and every value is either
 * a number or a caller string this file validates (UTF-8, no control
 * characters) and escapes. The tests parse every document back with
 * libxml2 to prove it well-formed.
 */
#include <stdio.h>
#include <string.h>

#include "escl-internal.h"

typedef struct xw {
    char *buf;
    size_t cap;
    size_t len;
    int err;
    unsigned depth;
} xw;

/* Append n bytes, keeping room for the final NUL. */
static void put(xw *w, const char *s, size_t n)
{
    if (w->err != PROTO_OK)
        return;
    if (w->len >= w->cap || n >= w->cap - w->len) {
        w->err = PROTO_E_NOSPACE;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void puts_(xw *w, const char *s)
{
    put(w, s, strlen(s));
}

static void indent(xw *w)
{
    static const char spaces[] = "                                ";
    size_t n = (size_t)w->depth * 2;

    put(w, spaces, n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1);
}

static void escaped(xw *w, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            puts_(w, "&amp;");
            break;
        case '<':
            puts_(w, "&lt;");
            break;
        case '>':
            puts_(w, "&gt;");
            break;
        default:
            put(w, s, 1);
            break;
        }
    }
}

static void open_(xw *w, const char *qname)
{
    indent(w);
    put(w, "<", 1);
    puts_(w, qname);
    put(w, ">\n", 2);
    w->depth++;
}

static void close_(xw *w, const char *qname)
{
    w->depth--;
    indent(w);
    put(w, "</", 2);
    puts_(w, qname);
    put(w, ">\n", 2);
}

static void text(xw *w, const char *qname, const char *value)
{
    indent(w);
    put(w, "<", 1);
    puts_(w, qname);
    put(w, ">", 1);
    escaped(w, value);
    put(w, "</", 2);
    puts_(w, qname);
    put(w, ">\n", 2);
}

static void uint_(xw *w, const char *qname, uint32_t v)
{
    char num[16];

    snprintf(num, sizeof(num), "%u", (unsigned)v);
    text(w, qname, num);
}

static void begin(xw *w, char *buf, size_t cap, const char *root)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = PROTO_OK;
    w->depth = 0;
    puts_(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
    puts_(w, root);
    puts_(w, " xmlns:pwg=\"" PROTO_ESCL_NS_PWG "\" xmlns:scan=\"" PROTO_ESCL_NS_SCAN "\">\n");
    w->depth = 1;
}

static int end(xw *w, const char *root)
{
    close_(w, root);
    if (w->err != PROTO_OK)
        return w->err;
    w->buf[w->len] = '\0';
    return (int)w->len;
}

/* ---- input validation ---------------------------------------------------- */

/* Well-formed UTF-8 of XML 1.0 characters, no control characters at all,
 * at most PROTO_ESCL_MAX_STRING bytes. */
static int valid_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strnlen(s, PROTO_ESCL_MAX_STRING + 1);

    if (n > PROTO_ESCL_MAX_STRING)
        return 0;
    while (*p) {
        uint32_t cp;
        int extra;
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        if (*p < 0x80) {
            p++;
            continue;
        }
        if (*p >= 0xc2 && *p <= 0xdf) {
            cp = *p & 0x1fu;
            extra = 1;
        } else if (*p >= 0xe0 && *p <= 0xef) {
            cp = *p & 0x0fu;
            extra = 2;
        } else if (*p >= 0xf0 && *p <= 0xf4) {
            cp = *p & 0x07u;
            extra = 3;
        } else {
            return 0;
        }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (*p & 0x3fu);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff ||
            (cp >= 0x80 && cp <= 0x9f))
            return 0;
    }
    return 1;
}

static int opt_text_ok(const char *s)
{
    return s == NULL || valid_text(s);
}

static int hexdigit(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int valid_uuid(const char *s)
{
    static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    for (size_t i = 0; i < sizeof(pattern) - 1; i++)
        if (pattern[i] == '-' ? s[i] != '-' : !hexdigit((unsigned char)s[i]))
            return 0;
    return s[sizeof(pattern) - 1] == '\0';
}

static int valid_version(const char *s)
{
    size_t n = strnlen(s, PROTO_ESCL_VERSION_SIZE);

    if (n == 0 || n >= PROTO_ESCL_VERSION_SIZE || s[0] < '0' || s[0] > '9')
        return 0;
    for (; *s; s++)
        if ((*s < '0' || *s > '9') && *s != '.')
            return 0;
    return 1;
}

static int valid_reason(const char *s)
{
    size_t n = strnlen(s, 65);

    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

#define COLOR_MODES_OK                                                                             \
    ((1u << PROTO_ESCL_COLOR_BW1) | (1u << PROTO_ESCL_COLOR_GRAY8) | (1u << PROTO_ESCL_COLOR_RGB24))
#define FORMATS_OK                                                                                 \
    ((1u << PROTO_ESCL_FORMAT_PNG) | (1u << PROTO_ESCL_FORMAT_JPEG) |                              \
     (1u << PROTO_ESCL_FORMAT_PDF) | (1u << PROTO_ESCL_FORMAT_TIFF))
#define INTENTS_OK (((1u << (PROTO_ESCL_INTENT_BUSINESS_CARD + 1)) - 1u) & ~1u)

static int valid_source(const proto_escl_source_caps *s)
{
    if (!s->present)
        return 1;
    if (s->max_width == 0 || s->max_height == 0 || s->min_width > s->max_width ||
        s->min_height > s->max_height || s->max_width > PROTO_ESCL_MAX_EXTENT ||
        s->max_height > PROTO_ESCL_MAX_EXTENT)
        return 0;
    if (s->color_modes == 0 || (s->color_modes & ~COLOR_MODES_OK) != 0)
        return 0;
    if (s->formats == 0 || (s->formats & ~FORMATS_OK) != 0 || (s->intents & ~INTENTS_OK) != 0)
        return 0;
    if (s->n_resolutions == 0 || s->n_resolutions > PROTO_ESCL_MAX_RESOLUTIONS)
        return 0;
    for (size_t i = 0; i < s->n_resolutions; i++)
        if (s->resolutions[i] == 0 || s->resolutions[i] > PROTO_ESCL_MAX_RES ||
            (i > 0 && s->resolutions[i] <= s->resolutions[i - 1]))
            return 0;
    return s->max_optical_res <= PROTO_ESCL_MAX_RES;
}

static int valid_caps(const proto_escl_caps *c)
{
    if (!c->platen.present && !c->adf_simplex.present && !c->adf_duplex.present)
        return 0;
    if (!valid_source(&c->platen) || !valid_source(&c->adf_simplex) ||
        !valid_source(&c->adf_duplex))
        return 0;
    if ((c->version != NULL && !valid_version(c->version)) || !opt_text_ok(c->make_and_model) ||
        !opt_text_ok(c->manufacturer) || !opt_text_ok(c->serial_number) ||
        !opt_text_ok(c->admin_uri) || !opt_text_ok(c->icon_uri) ||
        (c->uuid != NULL && !valid_uuid(c->uuid)))
        return 0;
    if ((c->adf_options & ~(PROTO_ESCL_ADF_DETECT_PAPER_LOADED | PROTO_ESCL_ADF_SELECT_SINGLE_PAGE |
                            PROTO_ESCL_ADF_DUPLEX)) != 0)
        return 0;
    if (c->compression_max != 0 &&
        (c->compression_min > c->compression_normal || c->compression_normal > c->compression_max ||
         c->compression_step == 0))
        return 0;
    return 1;
}

/* ---- ScannerCapabilities -------------------------------------------------- */

static void source_caps(xw *w, const char *qname, const proto_escl_source_caps *s)
{
    open_(w, qname);
    uint_(w, "scan:MinWidth", s->min_width);
    uint_(w, "scan:MaxWidth", s->max_width);
    uint_(w, "scan:MinHeight", s->min_height);
    uint_(w, "scan:MaxHeight", s->max_height);
    if (s->max_optical_res != 0) {
        uint_(w, "scan:MaxOpticalXResolution", s->max_optical_res);
        uint_(w, "scan:MaxOpticalYResolution", s->max_optical_res);
    }
    uint_(w, "scan:MaxScanRegions", s->max_scan_regions != 0 ? s->max_scan_regions : 1);
    if (s->intents != 0) {
        /* scan:Intent, not go-mfp's scan:SupportedIntent: the escl backend
         * reads only the former, go-mfp accepts both. */
        open_(w, "scan:SupportedIntents");
        for (int i = PROTO_ESCL_INTENT_DOCUMENT; i <= PROTO_ESCL_INTENT_BUSINESS_CARD; i++)
            if (s->intents & (1u << i))
                text(w, "scan:Intent", proto_escl_intent_name((enum proto_escl_intent)i));
        close_(w, "scan:SupportedIntents");
    }
    open_(w, "scan:SettingProfiles");
    open_(w, "scan:SettingProfile");
    open_(w, "scan:ColorModes");
    for (int m = PROTO_ESCL_COLOR_BW1; m <= PROTO_ESCL_COLOR_RGB24; m++)
        if (s->color_modes & (1u << m))
            text(w, "scan:ColorMode", proto_escl_color_mode_name((enum proto_escl_color_mode)m));
    close_(w, "scan:ColorModes");
    open_(w, "scan:DocumentFormats");
    for (int f = PROTO_ESCL_FORMAT_PNG; f <= PROTO_ESCL_FORMAT_TIFF; f++)
        if (s->formats & (1u << f))
            text(w, "pwg:DocumentFormat", proto_escl_format_mime((enum proto_escl_format)f));
    for (int f = PROTO_ESCL_FORMAT_PNG; f <= PROTO_ESCL_FORMAT_TIFF; f++)
        if (s->formats & (1u << f))
            text(w, "scan:DocumentFormatExt", proto_escl_format_mime((enum proto_escl_format)f));
    close_(w, "scan:DocumentFormats");
    open_(w, "scan:SupportedResolutions");
    open_(w, "scan:DiscreteResolutions");
    for (size_t i = 0; i < s->n_resolutions; i++) {
        open_(w, "scan:DiscreteResolution");
        uint_(w, "scan:XResolution", s->resolutions[i]);
        uint_(w, "scan:YResolution", s->resolutions[i]);
        close_(w, "scan:DiscreteResolution");
    }
    close_(w, "scan:DiscreteResolutions");
    close_(w, "scan:SupportedResolutions");
    close_(w, "scan:SettingProfile");
    close_(w, "scan:SettingProfiles");
    close_(w, qname);
}

static void opt_text(xw *w, const char *qname, const char *value)
{
    if (value != NULL)
        text(w, qname, value);
}

int proto_escl_caps_write(const proto_escl_caps *caps, char *buf, size_t cap)
{
    static const char root[] = "scan:ScannerCapabilities";
    xw w;

    if (!valid_caps(caps))
        return PROTO_E_BAD_FIELD;
    begin(&w, buf, cap, root);
    text(&w, "pwg:Version", caps->version != NULL ? caps->version : PROTO_ESCL_VERSION);
    opt_text(&w, "pwg:MakeAndModel", caps->make_and_model);
    opt_text(&w, "pwg:Manufacturer", caps->manufacturer);
    opt_text(&w, "pwg:SerialNumber", caps->serial_number);
    opt_text(&w, "scan:UUID", caps->uuid);
    opt_text(&w, "scan:AdminURI", caps->admin_uri);
    opt_text(&w, "scan:IconURI", caps->icon_uri);
    if (caps->platen.present) {
        open_(&w, "scan:Platen");
        source_caps(&w, "scan:PlatenInputCaps", &caps->platen);
        close_(&w, "scan:Platen");
    }
    if (caps->adf_simplex.present || caps->adf_duplex.present) {
        open_(&w, "scan:Adf");
        if (caps->adf_simplex.present)
            source_caps(&w, "scan:AdfSimplexInputCaps", &caps->adf_simplex);
        if (caps->adf_duplex.present)
            source_caps(&w, "scan:AdfDuplexInputCaps", &caps->adf_duplex);
        if (caps->feeder_capacity != 0)
            uint_(&w, "scan:FeederCapacity", caps->feeder_capacity);
        if (caps->adf_options != 0) {
            open_(&w, "scan:AdfOptions");
            if (caps->adf_options & PROTO_ESCL_ADF_DETECT_PAPER_LOADED)
                text(&w, "scan:AdfOption", "DetectPaperLoaded");
            if (caps->adf_options & PROTO_ESCL_ADF_SELECT_SINGLE_PAGE)
                text(&w, "scan:AdfOption", "SelectSinglePage");
            if (caps->adf_options & PROTO_ESCL_ADF_DUPLEX)
                text(&w, "scan:AdfOption", "Duplex");
            close_(&w, "scan:AdfOptions");
        }
        close_(&w, "scan:Adf");
    }
    if (caps->compression_max != 0) {
        open_(&w, "scan:CompressionFactorSupport");
        uint_(&w, "scan:Min", caps->compression_min);
        uint_(&w, "scan:Max", caps->compression_max);
        uint_(&w, "scan:Normal", caps->compression_normal);
        uint_(&w, "scan:Step", caps->compression_step);
        close_(&w, "scan:CompressionFactorSupport");
    }
    return end(&w, root);
}

/* ---- ScannerStatus -------------------------------------------------------- */

static int valid_job(const proto_escl_job *j)
{
    if (j->uri == NULL || j->uri[0] == '\0' || !valid_text(j->uri) || !opt_text_ok(j->uuid))
        return 0;
    if (proto_escl_job_state_name(j->state) == NULL || j->n_reasons > PROTO_ESCL_MAX_REASONS)
        return 0;
    for (size_t i = 0; i < j->n_reasons; i++)
        if (j->reasons[i] == NULL || !valid_reason(j->reasons[i]))
            return 0;
    return 1;
}

int proto_escl_status_write(const proto_escl_status *st, char *buf, size_t cap)
{
    static const char root[] = "scan:ScannerStatus";
    xw w;

    if ((st->version != NULL && !valid_version(st->version)) ||
        proto_escl_state_name(st->state) == NULL ||
        (st->adf_state != PROTO_ESCL_ADF_NONE &&
         proto_escl_adf_state_name(st->adf_state) == NULL) ||
        st->n_jobs > PROTO_ESCL_MAX_JOBS || (st->n_jobs > 0 && st->jobs == NULL))
        return PROTO_E_BAD_FIELD;
    for (size_t i = 0; i < st->n_jobs; i++)
        if (!valid_job(&st->jobs[i]))
            return PROTO_E_BAD_FIELD;

    begin(&w, buf, cap, root);
    text(&w, "pwg:Version", st->version != NULL ? st->version : PROTO_ESCL_VERSION);
    text(&w, "pwg:State", proto_escl_state_name(st->state));
    if (st->adf_state != PROTO_ESCL_ADF_NONE)
        text(&w, "scan:AdfState", proto_escl_adf_state_name(st->adf_state));
    if (st->n_jobs > 0) {
        open_(&w, "scan:Jobs");
        for (size_t i = 0; i < st->n_jobs; i++) {
            const proto_escl_job *j = &st->jobs[i];
            open_(&w, "scan:JobInfo");
            text(&w, "pwg:JobUri", j->uri);
            opt_text(&w, "pwg:JobUuid", j->uuid);
            uint_(&w, "scan:Age", j->age);
            uint_(&w, "pwg:ImagesCompleted", j->images_completed);
            uint_(&w, "pwg:ImagesToTransfer", j->images_to_transfer);
            text(&w, "pwg:JobState", proto_escl_job_state_name(j->state));
            if (j->n_reasons > 0) {
                open_(&w, "pwg:JobStateReasons");
                for (size_t r = 0; r < j->n_reasons; r++)
                    text(&w, "pwg:JobStateReason", j->reasons[r]);
                close_(&w, "pwg:JobStateReasons");
            }
            close_(&w, "scan:JobInfo");
        }
        close_(&w, "scan:Jobs");
    }
    return end(&w, root);
}

/* ---- ScanImageInfo -------------------------------------------------------- */

int proto_escl_image_info_write(const proto_escl_image_info *info, char *buf, size_t cap)
{
    static const char root[] = "scan:ScanImageInfo";
    xw w;

    if (info->job_uri == NULL || info->job_uri[0] == '\0' || !valid_text(info->job_uri) ||
        !opt_text_ok(info->job_uuid) || info->blank_page < -1 || info->blank_page > 1)
        return PROTO_E_BAD_FIELD;
    begin(&w, buf, cap, root);
    text(&w, "pwg:JobUri", info->job_uri);
    opt_text(&w, "pwg:JobUuid", info->job_uuid);
    uint_(&w, "scan:ActualWidth", info->width);
    uint_(&w, "scan:ActualHeight", info->height);
    uint_(&w, "scan:ActualBytesPerLine", info->bytes_per_line);
    if (info->blank_page >= 0)
        text(&w, "scan:BlankPageDetected", info->blank_page ? "true" : "false");
    return end(&w, root);
}
