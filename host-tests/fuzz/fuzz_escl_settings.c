/* Fuzz target: the eSCL ScanSettings parser and the capabilities writer
 * (protocol/include/protocol/escl.h).
 *
 * The input is a POST ScanJobs body, parsed from an exact-size copy.
 * Oracles: the result is PROTO_OK or one of the parser's listed
 * rejections, and the diagnostic says the same in one printable line; an
 * accepted document gives settings within the documented bounds, parses to
 * the same settings a second time, and, written back out as a plain
 * ScanSettings by this file, parses to the same settings again (so no
 * field depends on anything but its own element); the check against fixed
 * capabilities returns one of its listed results. Then the first bytes of
 * the input become the make-and-model string of a capabilities document:
 * the writer accepts it only as UTF-8 without control characters, and then
 * writes a document libxml2 parses, with that exact string inside.
 */
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fuzz.h"
#include "protocol/escl.h"

static int parse_err(int rc)
{
    return rc >= PROTO_E_ESCL_BAD_COMPRESSION && rc <= PROTO_E_ESCL_TOO_LARGE;
}

static int check_err(int rc)
{
    return rc >= PROTO_E_ESCL_REGION_OUTSIDE && rc <= PROTO_E_ESCL_NO_SUCH_SOURCE;
}

static void check_diag(const proto_escl_diag *d, int rc)
{
    FUZZ_CHECK(d->err == rc);
    FUZZ_CHECK(memchr(d->msg, 0, sizeof(d->msg)) != NULL);
    FUZZ_CHECK(fuzz_one_line(d->msg));
    for (const char *c = d->msg; *c; c++)
        FUZZ_CHECK((unsigned char)*c < 0x7f);
    if (rc != PROTO_OK)
        FUZZ_CHECK(strncmp(d->msg, proto_strerror(rc), strlen(proto_strerror(rc))) == 0);
}

static void check_bounds(const proto_escl_settings *s)
{
    FUZZ_CHECK(memchr(s->version, 0, sizeof(s->version)) != NULL && s->version[0] >= '0' &&
               s->version[0] <= '9');
    FUZZ_CHECK(memchr(s->format_mime, 0, sizeof(s->format_mime)) != NULL);
    FUZZ_CHECK(s->source <= PROTO_ESCL_SOURCE_CAMERA);
    FUZZ_CHECK(s->color_mode <= PROTO_ESCL_COLOR_RGB48);
    FUZZ_CHECK(s->intent <= PROTO_ESCL_INTENT_OTHER);
    FUZZ_CHECK(s->format <= PROTO_ESCL_FORMAT_OTHER);
    FUZZ_CHECK((s->source != PROTO_ESCL_SOURCE_NONE) == !!(s->have & PROTO_ESCL_HAVE_SOURCE));
    FUZZ_CHECK((s->color_mode != PROTO_ESCL_COLOR_NONE) ==
               !!(s->have & PROTO_ESCL_HAVE_COLOR_MODE));
    FUZZ_CHECK((s->intent != PROTO_ESCL_INTENT_NONE) == !!(s->have & PROTO_ESCL_HAVE_INTENT));
    FUZZ_CHECK((s->format != PROTO_ESCL_FORMAT_NONE) ==
               !!(s->have & (PROTO_ESCL_HAVE_FORMAT | PROTO_ESCL_HAVE_FORMAT_EXT)));
    FUZZ_CHECK((s->format_mime[0] != '\0') == (s->format != PROTO_ESCL_FORMAT_NONE));
    FUZZ_CHECK(!s->duplex || (s->have & PROTO_ESCL_HAVE_DUPLEX));
    if (s->have & PROTO_ESCL_HAVE_RESOLUTION)
        FUZZ_CHECK(s->x_res >= 1 && s->x_res <= PROTO_ESCL_MAX_RES && s->y_res >= 1 &&
                   s->y_res <= PROTO_ESCL_MAX_RES);
    else
        FUZZ_CHECK(s->x_res == 0 && s->y_res == 0);
    if (s->have & PROTO_ESCL_HAVE_REGION)
        FUZZ_CHECK(s->width >= 1 && s->height >= 1 &&
                   s->x_offset + s->width <= PROTO_ESCL_MAX_EXTENT &&
                   s->y_offset + s->height <= PROTO_ESCL_MAX_EXTENT);
    else
        FUZZ_CHECK(s->width == 0 && s->height == 0 && s->x_offset == 0 && s->y_offset == 0);
    FUZZ_CHECK(s->compression <= PROTO_ESCL_MAX_COMPRESSION);
}

/* The settings as a plain ScanSettings of one client's making. */
static size_t rewrite(const proto_escl_settings *s, char *buf, size_t cap)
{
    size_t n = 0;

#define ADD(...)                                                                                   \
    do {                                                                                           \
        int k_ = snprintf(buf + n, cap - n, __VA_ARGS__);                                          \
        FUZZ_CHECK(k_ >= 0 && (size_t)k_ < cap - n);                                               \
        n += (size_t)k_;                                                                           \
    } while (0)
    ADD("<?xml version=\"1.0\"?>\n<s:ScanSettings xmlns:s=\"%s\" xmlns:p=\"%s\">"
        "<p:Version>%s</p:Version>",
        PROTO_ESCL_NS_SCAN, PROTO_ESCL_NS_PWG, s->version);
    if (s->have & PROTO_ESCL_HAVE_INTENT)
        ADD("<s:Intent>%s</s:Intent>",
            s->intent == PROTO_ESCL_INTENT_OTHER ? "Unheard" : proto_escl_intent_name(s->intent));
    if (s->have & PROTO_ESCL_HAVE_SOURCE)
        ADD("<p:InputSource>%s</p:InputSource>", proto_escl_source_name(s->source));
    if (s->have & PROTO_ESCL_HAVE_DUPLEX)
        ADD("<s:Duplex>%s</s:Duplex>", s->duplex ? "true" : "false");
    if (s->have & PROTO_ESCL_HAVE_COLOR_MODE)
        ADD("<s:ColorMode>%s</s:ColorMode>", proto_escl_color_mode_name(s->color_mode));
    if (s->have & PROTO_ESCL_HAVE_RESOLUTION)
        ADD("<s:XResolution>%u</s:XResolution><s:YResolution>%u</s:YResolution>",
            (unsigned)s->x_res, (unsigned)s->y_res);
    if (s->have & PROTO_ESCL_HAVE_REGION)
        ADD("<p:ScanRegions><p:ScanRegion><p:XOffset>%u</p:XOffset><p:YOffset>%u</p:YOffset>"
            "<p:Width>%u</p:Width><p:Height>%u</p:Height></p:ScanRegion></p:ScanRegions>",
            (unsigned)s->x_offset, (unsigned)s->y_offset, (unsigned)s->width, (unsigned)s->height);
    /* format_mime is a token pair (no markup characters): written as is */
    if (s->have & PROTO_ESCL_HAVE_FORMAT)
        ADD("<p:DocumentFormat>%s</p:DocumentFormat>", s->format_mime);
    if (s->have & PROTO_ESCL_HAVE_FORMAT_EXT)
        ADD("<s:DocumentFormatExt>%s</s:DocumentFormatExt>", s->format_mime);
    if (s->have & PROTO_ESCL_HAVE_COMPRESSION)
        ADD("<s:CompressionFactor>%u</s:CompressionFactor>", (unsigned)s->compression);
    ADD("</s:ScanSettings>\n");
#undef ADD
    return n;
}

static proto_escl_caps fixed_caps(void)
{
    proto_escl_source_caps src = {
        .present = true,
        .min_width = 16,
        .max_width = 2550,
        .min_height = 16,
        .max_height = 3508,
        .color_modes = (1u << PROTO_ESCL_COLOR_GRAY8) | (1u << PROTO_ESCL_COLOR_RGB24),
        .formats = (1u << PROTO_ESCL_FORMAT_PNG) | (1u << PROTO_ESCL_FORMAT_JPEG),
        .resolutions = {75, 150, 300},
        .n_resolutions = 3,
    };
    proto_escl_caps c = {.platen = src, .adf_simplex = src};
    return c;
}

static void settings(const uint8_t *data, size_t size)
{
    uint8_t *p = fuzz_dup(data, size);
    proto_escl_settings s, s2;
    proto_escl_diag d;
    proto_escl_caps caps = fixed_caps();
    static char again[8192];
    int rc = proto_escl_settings_parse(p, size, &s, &d);

    FUZZ_CHECK(rc == PROTO_OK || parse_err(rc));
    check_diag(&d, rc);
    if (rc == PROTO_OK) {
        size_t n;
        uint8_t *q;
        check_bounds(&s);
        FUZZ_CHECK(proto_escl_settings_parse(p, size, &s2, NULL) == PROTO_OK);
        FUZZ_CHECK(memcmp(&s, &s2, sizeof(s)) == 0);
        n = rewrite(&s, again, sizeof(again));
        q = fuzz_dup((const uint8_t *)again, n);
        rc = proto_escl_settings_parse(q, n, &s2, &d);
        if (rc != PROTO_OK)
            fprintf(stderr, "rewritten: %s\n%s\n", d.msg, again);
        FUZZ_CHECK(rc == PROTO_OK);
        FUZZ_CHECK(memcmp(&s, &s2, sizeof(s)) == 0);
        free(q);
        rc = proto_escl_settings_check(&s, &caps, &d);
        FUZZ_CHECK(rc == PROTO_OK || check_err(rc));
        if (rc != PROTO_OK)
            check_diag(&d, rc);
    }
    free(p);
}

static void caps_string(const uint8_t *data, size_t size)
{
    char name[PROTO_ESCL_MAX_STRING + 1];
    size_t n = size < PROTO_ESCL_MAX_STRING ? size : PROTO_ESCL_MAX_STRING;
    proto_escl_caps caps = fixed_caps();
    static char out[PROTO_ESCL_OUT_MAX];
    int len;

    memcpy(name, data, n);
    name[n] = '\0';
    caps.make_and_model = name;
    len = proto_escl_caps_write(&caps, out, sizeof(out));
    FUZZ_CHECK(len > 0 || len == PROTO_E_BAD_FIELD);
    if (len > 0) {
        xmlDocPtr doc = xmlReadMemory(out, len, NULL, "UTF-8",
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlNodePtr c;
        FUZZ_CHECK(doc != NULL);
        for (c = xmlDocGetRootElement(doc)->children; c != NULL; c = c->next)
            if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "MakeAndModel") == 0)
                break;
        FUZZ_CHECK(c != NULL);
        {
            xmlChar *v = xmlNodeGetContent(c);
            FUZZ_CHECK(v != NULL && strcmp((const char *)v, name) == 0);
            xmlFree(v);
        }
        xmlFreeDoc(doc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_escl_init(); /* libxml2's xmlInitParser: once, then a no-op */
    settings(data, size);
    caps_string(data, size);
    return 0;
}
