/* Check suite for the eSCL codec (protocol/include/protocol/escl.h):
 * ScanSettings from the real clients (the seed corpus of fuzz_escl_settings,
 * captured from Debian's scanimage through sane-airscan and the escl
 * backend), every rejection, entity bombs and deep nesting, namespace
 * prefixes, both DocumentFormat elements, the check against capabilities,
 * and the writers' documents parsed back with libxml2 and searched for
 * what sane-airscan, the escl backend and ipp-usb read. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "protocol/escl.h"

#define NS_DECL   "xmlns:pwg=\"" PROTO_ESCL_NS_PWG "\" xmlns:scan=\"" PROTO_ESCL_NS_SCAN "\""
#define DOC(body) "<scan:ScanSettings " NS_DECL ">" body "</scan:ScanSettings>"
#define V20       "<pwg:Version>2.0</pwg:Version>"

/* ---- helpers --------------------------------------------------------------- */

/* A seed of host-tests/fuzz/corpus/escl_settings (malloc'd, *len set). */
static uint8_t *corpus(const char *name, size_t *len)
{
    const char *src = getenv("SCANEMU_SOURCE_DIR");
    char path[1024];
    FILE *f;
    uint8_t *buf;
    long n;

    ck_assert_ptr_nonnull(src);
    snprintf(path, sizeof(path), "%s/host-tests/fuzz/corpus/escl_settings/%s", src, name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int parse_str(const char *xml, proto_escl_settings *s, proto_escl_diag *d)
{
    return proto_escl_settings_parse((const uint8_t *)xml, strlen(xml), s, d);
}

static int parse_file(const char *name, proto_escl_settings *s, proto_escl_diag *d)
{
    size_t len;
    uint8_t *buf = corpus(name, &len);
    int rc = proto_escl_settings_parse(buf, len, s, d);
    free(buf);
    return rc;
}

static int one_printable_line(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* The scanner most tests check against: platen, simplex and duplex ADF, the
 * three modes, PNG and JPEG, 75..600 dpi, A4-ish plus legal in the ADF. */
static proto_escl_caps std_caps(void)
{
    proto_escl_source_caps src = {
        .present = true,
        .min_width = 16,
        .max_width = 2550,
        .min_height = 16,
        .max_height = 3508,
        .color_modes = (1u << PROTO_ESCL_COLOR_BW1) | (1u << PROTO_ESCL_COLOR_GRAY8) |
                       (1u << PROTO_ESCL_COLOR_RGB24),
        .formats = (1u << PROTO_ESCL_FORMAT_PNG) | (1u << PROTO_ESCL_FORMAT_JPEG),
        .resolutions = {75, 150, 300, 600},
        .n_resolutions = 4,
    };
    proto_escl_caps c = {
        .make_and_model = "scanemu Virtual Scanner",
        .serial_number = "SE0001",
        .uuid = "4509a320-00a0-008f-00b6-002507510eca",
        .admin_uri = "http://127.0.0.1:8080/",
        .platen = src,
        .adf_simplex = src,
        .adf_duplex = src,
        .feeder_capacity = 50,
        .adf_options = PROTO_ESCL_ADF_DETECT_PAPER_LOADED | PROTO_ESCL_ADF_DUPLEX,
        .compression_min = 0,
        .compression_max = 100,
        .compression_normal = 25,
        .compression_step = 1,
    };
    c.platen.intents = (1u << PROTO_ESCL_INTENT_DOCUMENT) | (1u << PROTO_ESCL_INTENT_PHOTO);
    c.adf_simplex.max_height = c.adf_duplex.max_height = 4200;
    return c;
}

/* ---- the real clients' ScanSettings ----------------------------------------- */

START_TEST(airscan_platen)
{
    proto_escl_settings s;
    proto_escl_diag d;
    proto_escl_caps caps = std_caps();

    ck_assert_int_eq(parse_file("airscan-0.99.27-platen-rgb24.xml", &s, &d), PROTO_OK);
    ck_assert_str_eq(s.version, "2.0");
    ck_assert_int_eq(s.source, PROTO_ESCL_SOURCE_PLATEN);
    ck_assert_int_eq(s.color_mode, PROTO_ESCL_COLOR_RGB24);
    ck_assert_uint_eq(s.x_res, 75);
    ck_assert_uint_eq(s.y_res, 75);
    ck_assert_uint_eq(s.x_offset, 0);
    ck_assert_uint_eq(s.y_offset, 0);
    ck_assert_uint_eq(s.width, 236);
    ck_assert_uint_eq(s.height, 236);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_PNG);
    ck_assert_str_eq(s.format_mime, "image/png");
    ck_assert_uint_eq(s.compression, 25);
    ck_assert_uint_eq(s.have, PROTO_ESCL_HAVE_SOURCE | PROTO_ESCL_HAVE_COLOR_MODE |
                                  PROTO_ESCL_HAVE_RESOLUTION | PROTO_ESCL_HAVE_REGION |
                                  PROTO_ESCL_HAVE_FORMAT | PROTO_ESCL_HAVE_FORMAT_EXT |
                                  PROTO_ESCL_HAVE_COMPRESSION);
    ck_assert(!s.duplex);
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, &d), PROTO_OK);
    ck_assert_ptr_eq(proto_escl_settings_source(&s, &caps), &caps.platen);
}
END_TEST

START_TEST(airscan_adf_duplex)
{
    proto_escl_settings s;
    proto_escl_caps caps = std_caps();

    ck_assert_int_eq(parse_file("airscan-0.99.27-adf-duplex-gray8.xml", &s, NULL), PROTO_OK);
    ck_assert_int_eq(s.source, PROTO_ESCL_SOURCE_FEEDER);
    ck_assert(s.duplex);
    ck_assert(s.have & PROTO_ESCL_HAVE_DUPLEX);
    ck_assert_int_eq(s.color_mode, PROTO_ESCL_COLOR_GRAY8);
    ck_assert_uint_eq(s.x_res, 150);
    ck_assert_uint_eq(s.width, 591);
    ck_assert_uint_eq(s.height, 709);
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, NULL), PROTO_OK);
    ck_assert_ptr_eq(proto_escl_settings_source(&s, &caps), &caps.adf_duplex);
}
END_TEST

/* sane-backends 1.2.1 sends one format element, chosen by the device's
 * pwg:Version, with "%.2f" versions and whitespace between elements. */
START_TEST(escl_backend_both_versions)
{
    proto_escl_settings s;
    proto_escl_caps caps = std_caps();

    ck_assert_int_eq(parse_file("escl-1.2.1-v2.63-platen-rgb24.xml", &s, NULL), PROTO_OK);
    ck_assert_str_eq(s.version, "2.63");
    ck_assert_uint_eq(s.have & (PROTO_ESCL_HAVE_FORMAT | PROTO_ESCL_HAVE_FORMAT_EXT),
                      PROTO_ESCL_HAVE_FORMAT_EXT);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_PNG);
    ck_assert_uint_eq(s.width, 236);
    ck_assert_uint_eq(s.height, 236);
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, NULL), PROTO_OK);

    ck_assert_int_eq(parse_file("escl-1.2.1-v2.0-platen-gray8.xml", &s, NULL), PROTO_OK);
    ck_assert_str_eq(s.version, "2.00");
    ck_assert_uint_eq(s.have & (PROTO_ESCL_HAVE_FORMAT | PROTO_ESCL_HAVE_FORMAT_EXT),
                      PROTO_ESCL_HAVE_FORMAT);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_PNG);
    ck_assert_uint_eq(s.x_res, 300);
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, NULL), PROTO_OK);

    ck_assert_int_eq(parse_file("escl-1.2.1-v2.63-adf-duplex-gray8.xml", &s, NULL), PROTO_OK);
    ck_assert_int_eq(s.source, PROTO_ESCL_SOURCE_FEEDER);
    ck_assert(s.duplex);
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, NULL), PROTO_OK);

    /* The 1.0.3x template: pwg:InputSource and scan:InputSource both. */
    ck_assert_int_eq(parse_file("escl-1.0.32-both-inputsources.xml", &s, NULL), PROTO_OK);
    ck_assert_int_eq(s.source, PROTO_ESCL_SOURCE_FEEDER);
    ck_assert(!s.duplex);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_JPEG);
}
END_TEST

START_TEST(namespace_prefixes)
{
    proto_escl_settings s;

    ck_assert_int_eq(parse_file("prefixes-other.xml", &s, NULL), PROTO_OK);
    ck_assert_int_eq(s.source, PROTO_ESCL_SOURCE_FEEDER);
    ck_assert_int_eq(s.color_mode, PROTO_ESCL_COLOR_RGB24);
    ck_assert_uint_eq(s.x_res, 300);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_PNG);

    ck_assert_int_eq(parse_file("prefixes-default-ns.xml", &s, NULL), PROTO_OK);
    ck_assert_str_eq(s.version, "2.63");
    ck_assert_int_eq(s.color_mode, PROTO_ESCL_COLOR_GRAY8);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_JPEG);
    ck_assert_uint_eq(s.width, 100);
    ck_assert_uint_eq(s.height, 200);

    /* pwg: bound to the scan URI and the other way round: URIs decide. */
    ck_assert_int_eq(parse_file("prefixes-swapped.xml", &s, NULL), PROTO_OK);
    ck_assert_int_eq(s.color_mode, PROTO_ESCL_COLOR_RGB24);
    ck_assert_int_eq(s.source, PROTO_ESCL_SOURCE_PLATEN);

    /* The right local names in the wrong namespaces are other elements. */
    ck_assert_int_eq(parse_str(DOC(V20 "<pwg:ColorMode>RGB24</pwg:ColorMode>"
                                       "<scan:XOffset>3</scan:XOffset>"
                                       "<ColorMode>Grayscale8</ColorMode>"),
                               &s, NULL),
                     PROTO_OK);
    ck_assert_uint_eq(s.have, 0);
    ck_assert_int_eq(parse_str("<scan:ScanSettings xmlns:scan=\"" PROTO_ESCL_NS_SCAN
                               "\"><Version>2.0</Version></scan:ScanSettings>",
                               &s, NULL),
                     PROTO_E_ESCL_NO_VERSION);
}
END_TEST

START_TEST(document_format_variants)
{
    proto_escl_settings s;
    proto_escl_diag d;

    ck_assert_int_eq(
        parse_str(DOC(V20 "<pwg:DocumentFormat>image/jpeg</pwg:DocumentFormat>"), &s, NULL),
        PROTO_OK);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_JPEG);
    ck_assert_uint_eq(s.have, PROTO_ESCL_HAVE_FORMAT);
    ck_assert_int_eq(
        parse_str(DOC(V20 "<scan:DocumentFormatExt>image/png</scan:DocumentFormatExt>"), &s, NULL),
        PROTO_OK);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_PNG);
    ck_assert_uint_eq(s.have, PROTO_ESCL_HAVE_FORMAT_EXT);
    /* Both, in either order, equal up to case: the Ext spelling is kept. */
    ck_assert_int_eq(parse_str(DOC(V20 "<scan:DocumentFormatExt>image/PNG</scan:DocumentFormatExt>"
                                       "<pwg:DocumentFormat>image/png</pwg:DocumentFormat>"),
                               &s, NULL),
                     PROTO_OK);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_PNG);
    ck_assert_str_eq(s.format_mime, "image/PNG");
    ck_assert_int_eq(parse_str(DOC(V20 "<pwg:DocumentFormat>application/pdf</pwg:DocumentFormat>"
                                       "<scan:DocumentFormatExt>application/pdf"
                                       "</scan:DocumentFormatExt>"),
                               &s, NULL),
                     PROTO_OK);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_PDF);
    ck_assert_int_eq(
        parse_str(DOC(V20 "<pwg:DocumentFormat>image/x-foo</pwg:DocumentFormat>"), &s, NULL),
        PROTO_OK);
    ck_assert_int_eq(s.format, PROTO_ESCL_FORMAT_OTHER);
    ck_assert_str_eq(s.format_mime, "image/x-foo");
    ck_assert_int_eq(parse_str(DOC(V20 "<pwg:DocumentFormat>image/png</pwg:DocumentFormat>"
                                       "<scan:DocumentFormatExt>image/jpeg"
                                       "</scan:DocumentFormatExt>"),
                               &s, &d),
                     PROTO_E_ESCL_FORMAT_CONFLICT);
    ck_assert_str_eq(d.element, "scan:DocumentFormatExt");
}
END_TEST

/* Absent optional elements are absent, not errors; odd but valid XML and
 * tolerated spellings parse. */
START_TEST(tolerance)
{
    proto_escl_settings s;

    ck_assert_int_eq(parse_file("minimal.xml", &s, NULL), PROTO_OK);
    ck_assert_uint_eq(s.have, 0);
    ck_assert_int_eq(s.source, PROTO_ESCL_SOURCE_NONE);
    ck_assert_int_eq(s.color_mode, PROTO_ESCL_COLOR_NONE);

    ck_assert_int_eq(parse_file("cdata-comments.xml", &s, NULL), PROTO_OK);
    ck_assert_str_eq(s.version, "2.0");
    ck_assert_int_eq(s.color_mode, PROTO_ESCL_COLOR_RGB24);
    ck_assert(s.duplex);
    ck_assert_int_eq(s.source, PROTO_ESCL_SOURCE_FEEDER);

    /* UTF-8 whatever the declaration says: a Latin-1 label on ASCII bytes
     * passes, UTF-16 does not. */
    ck_assert_int_eq(
        parse_str("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" DOC(V20), &s, NULL), PROTO_OK);
    ck_assert_int_eq(parse_file("utf16.xml", &s, NULL), PROTO_E_ESCL_XML);

    ck_assert_int_eq(parse_file("go-mfp-order-intent.xml", &s, NULL), PROTO_OK);
    ck_assert_int_eq(s.intent, PROTO_ESCL_INTENT_PHOTO);
    ck_assert_uint_eq(s.x_offset, 10);
    ck_assert_uint_eq(s.y_offset, 20);
    ck_assert_uint_eq(s.width, 1000);
    ck_assert_uint_eq(s.height, 1200);
    ck_assert_uint_eq(s.compression, 10);

    /* One resolution stands for both; units without prefix; no units,
     * no offsets; unknown intent; vendor elements and attributes. */
    ck_assert_int_eq(parse_str(DOC(V20 "<scan:YResolution> 300 </scan:YResolution>"
                                       "<scan:Intent>Hologram</scan:Intent>"
                                       "<pwg:ScanRegions><pwg:ScanRegion>"
                                       "<pwg:Width>10</pwg:Width><pwg:Height>20</pwg:Height>"
                                       "<pwg:ContentRegionUnits>ThreeHundredthsOfInches"
                                       "</pwg:ContentRegionUnits></pwg:ScanRegion>"
                                       "</pwg:ScanRegions>"
                                       "<v:Magic xmlns:v=\"urn:vendor\" n=\"1\"><v:x/></v:Magic>"
                                       "<scan:Duplex>0</scan:Duplex>"),
                               &s, NULL),
                     PROTO_OK);
    ck_assert_uint_eq(s.x_res, 300);
    ck_assert_uint_eq(s.y_res, 300);
    ck_assert_int_eq(s.intent, PROTO_ESCL_INTENT_OTHER);
    ck_assert_uint_eq(s.width, 10);
    ck_assert(!s.duplex && (s.have & PROTO_ESCL_HAVE_DUPLEX));

    /* 16-bit modes parse (so check can refuse them by name). */
    ck_assert_int_eq(parse_file("rgb48.xml", &s, NULL), PROTO_OK);
    ck_assert_int_eq(s.color_mode, PROTO_ESCL_COLOR_RGB48);
    ck_assert_int_eq(parse_str(DOC(V20 "<scan:ColorMode>Grayscale16</scan:ColorMode>"), &s, NULL),
                     PROTO_OK);
    ck_assert_int_eq(s.color_mode, PROTO_ESCL_COLOR_GRAY16);
    ck_assert_int_eq(parse_str(DOC("<pwg:Version>2,00</pwg:Version>"), &s, NULL), PROTO_OK);
    ck_assert_str_eq(s.version, "2,00");
}
END_TEST

/* ---- every rejection ---------------------------------------------------------- */

typedef struct reject_case {
    const char *name;
    const char *xml;
    int err;
    const char *element; /* diag.element, NULL for document-level errors */
} reject_case;

static const reject_case rejects[] = {
    {"garbage", "this is not xml", PROTO_E_ESCL_XML, NULL},
    {"empty", "", PROTO_E_ESCL_XML, NULL},
    {"unclosed", "<scan:ScanSettings " NS_DECL "><pwg:Version>2.0</pwg:Version>", PROTO_E_ESCL_XML,
     NULL},
    {"undeclared entity", DOC("<pwg:Version>&v;</pwg:Version>"), PROTO_E_ESCL_XML, NULL},
    {"unbound prefix", "<scan:ScanSettings><pwg:Version>2.0</pwg:Version></scan:ScanSettings>",
     PROTO_E_ESCL_XML, NULL},
    {"two roots", DOC(V20) DOC(V20), PROTO_E_ESCL_XML, NULL},
    {"not UTF-8", DOC("<pwg:Version>2.0</pwg:Version><pwg:MakeAndModel>\xe9</pwg:MakeAndModel>"),
     PROTO_E_ESCL_XML, NULL},
    {"control character",
     "<scan:ScanSettings " NS_DECL "><pwg:Version>2\x01"
     "0</pwg:Version></scan:ScanSettings>",
     PROTO_E_ESCL_XML, NULL},
    {"doctype", "<!DOCTYPE x><scan:ScanSettings " NS_DECL ">" V20 "</scan:ScanSettings>",
     PROTO_E_ESCL_DOCTYPE, NULL},
    {"wrong root name", "<scan:ScanJob " NS_DECL ">" V20 "</scan:ScanJob>", PROTO_E_ESCL_ROOT,
     "scan:ScanSettings"},
    {"root in pwg", "<pwg:ScanSettings " NS_DECL ">" V20 "</pwg:ScanSettings>", PROTO_E_ESCL_ROOT,
     "scan:ScanSettings"},
    {"root without namespace", "<ScanSettings/>", PROTO_E_ESCL_ROOT, "scan:ScanSettings"},
    {"duplicate ColorMode",
     DOC(V20 "<scan:ColorMode>RGB24</scan:ColorMode><scan:ColorMode>RGB24</scan:ColorMode>"),
     PROTO_E_ESCL_DUPLICATE, "scan:ColorMode"},
    {"duplicate Version", DOC(V20 V20), PROTO_E_ESCL_DUPLICATE, "pwg:Version"},
    {"duplicate ScanRegions", DOC(V20 "<pwg:ScanRegions/><pwg:ScanRegions/>"),
     PROTO_E_ESCL_DUPLICATE, "pwg:ScanRegions"},
    {"duplicate Width",
     DOC(V20 "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>1</pwg:Width><pwg:Width>1</pwg:Width>"
             "<pwg:Height>1</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>"),
     PROTO_E_ESCL_DUPLICATE, "pwg:Width"},
    {"no Version", DOC("<scan:ColorMode>RGB24</scan:ColorMode>"), PROTO_E_ESCL_NO_VERSION,
     "pwg:Version"},
    {"Version letters", DOC("<pwg:Version>two</pwg:Version>"), PROTO_E_ESCL_BAD_VERSION,
     "pwg:Version"},
    {"Version empty", DOC("<pwg:Version> </pwg:Version>"), PROTO_E_ESCL_BAD_VERSION, "pwg:Version"},
    {"Version long", DOC("<pwg:Version>2.000000000000000</pwg:Version>"), PROTO_E_ESCL_BAD_VERSION,
     "pwg:Version"},
    {"Version element", DOC("<pwg:Version><x/></pwg:Version>"), PROTO_E_ESCL_BAD_VERSION,
     "pwg:Version"},
    {"InputSource Glass", DOC(V20 "<pwg:InputSource>Glass</pwg:InputSource>"),
     PROTO_E_ESCL_BAD_SOURCE, "pwg:InputSource"},
    {"InputSource case", DOC(V20 "<pwg:InputSource>platen</pwg:InputSource>"),
     PROTO_E_ESCL_BAD_SOURCE, "pwg:InputSource"},
    {"scan:InputSource bad", DOC(V20 "<scan:InputSource>ADF</scan:InputSource>"),
     PROTO_E_ESCL_BAD_SOURCE, "scan:InputSource"},
    {"InputSource conflict",
     DOC(V20 "<pwg:InputSource>Platen</pwg:InputSource><scan:InputSource>Feeder"
             "</scan:InputSource>"),
     PROTO_E_ESCL_SOURCE_CONFLICT, "scan:InputSource"},
    {"Duplex yes", DOC(V20 "<scan:Duplex>yes</scan:Duplex>"), PROTO_E_ESCL_BAD_DUPLEX,
     "scan:Duplex"},
    {"ColorMode Color", DOC(V20 "<scan:ColorMode>Color</scan:ColorMode>"),
     PROTO_E_ESCL_BAD_COLOR_MODE, "scan:ColorMode"},
    {"ColorMode two words", DOC(V20 "<scan:ColorMode>RGB24 RGB24</scan:ColorMode>"),
     PROTO_E_ESCL_BAD_COLOR_MODE, "scan:ColorMode"},
    {"ColorMode too long",
     DOC(V20 "<scan:ColorMode>RGB24RGB24RGB24RGB24RGB24RGB24RGB24RGB24RGB24RGB24RGB24RGB24RGB24"
             "</scan:ColorMode>"),
     PROTO_E_ESCL_BAD_COLOR_MODE, "scan:ColorMode"},
    {"XResolution 0", DOC(V20 "<scan:XResolution>0</scan:XResolution>"),
     PROTO_E_ESCL_BAD_RESOLUTION, "scan:XResolution"},
    {"XResolution negative", DOC(V20 "<scan:XResolution>-300</scan:XResolution>"),
     PROTO_E_ESCL_BAD_RESOLUTION, "scan:XResolution"},
    {"YResolution huge", DOC(V20 "<scan:YResolution>99999999999999999999</scan:YResolution>"),
     PROTO_E_ESCL_BAD_RESOLUTION, "scan:YResolution"},
    {"YResolution 9601", DOC(V20 "<scan:YResolution>9601</scan:YResolution>"),
     PROTO_E_ESCL_BAD_RESOLUTION, "scan:YResolution"},
    {"XResolution units", DOC(V20 "<scan:XResolution>300dpi</scan:XResolution>"),
     PROTO_E_ESCL_BAD_RESOLUTION, "scan:XResolution"},
    {"two regions",
     DOC(V20 "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>1</pwg:Width><pwg:Height>1</pwg:Height>"
             "</pwg:ScanRegion><pwg:ScanRegion/></pwg:ScanRegions>"),
     PROTO_E_ESCL_REGIONS, "pwg:ScanRegion"},
    {"Width 0",
     DOC(V20 "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>0</pwg:Width><pwg:Height>1</pwg:Height>"
             "</pwg:ScanRegion></pwg:ScanRegions>"),
     PROTO_E_ESCL_BAD_REGION, "pwg:Width"},
    {"XOffset negative",
     DOC(V20 "<pwg:ScanRegions><pwg:ScanRegion><pwg:XOffset>-1</pwg:XOffset><pwg:Width>1"
             "</pwg:Width><pwg:Height>1</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>"),
     PROTO_E_ESCL_BAD_REGION, "pwg:XOffset"},
    {"Height too big",
     DOC(V20 "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>1</pwg:Width><pwg:Height>100001"
             "</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>"),
     PROTO_E_ESCL_BAD_REGION, "pwg:Height"},
    {"offset + size too big",
     DOC(V20 "<pwg:ScanRegions><pwg:ScanRegion><pwg:YOffset>60000</pwg:YOffset><pwg:Width>1"
             "</pwg:Width><pwg:Height>60000</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>"),
     PROTO_E_ESCL_BAD_REGION, "pwg:ScanRegion"},
    {"no Width",
     DOC(V20 "<pwg:ScanRegions><pwg:ScanRegion><pwg:Height>1</pwg:Height></pwg:ScanRegion>"
             "</pwg:ScanRegions>"),
     PROTO_E_ESCL_REGION_INCOMPLETE, "pwg:ScanRegion"},
    {"no Height",
     DOC(V20 "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>1</pwg:Width></pwg:ScanRegion>"
             "</pwg:ScanRegions>"),
     PROTO_E_ESCL_REGION_INCOMPLETE, "pwg:ScanRegion"},
    {"units mm",
     DOC(V20 "<pwg:ScanRegions><pwg:ScanRegion><pwg:ContentRegionUnits>escl:Millimeters"
             "</pwg:ContentRegionUnits><pwg:Width>1</pwg:Width><pwg:Height>1</pwg:Height>"
             "</pwg:ScanRegion></pwg:ScanRegions>"),
     PROTO_E_ESCL_BAD_UNITS, "pwg:ContentRegionUnits"},
    {"format png", DOC(V20 "<pwg:DocumentFormat>png</pwg:DocumentFormat>"), PROTO_E_ESCL_BAD_FORMAT,
     "pwg:DocumentFormat"},
    {"format empty", DOC(V20 "<scan:DocumentFormatExt></scan:DocumentFormatExt>"),
     PROTO_E_ESCL_BAD_FORMAT, "scan:DocumentFormatExt"},
    {"format space", DOC(V20 "<pwg:DocumentFormat>image/ png</pwg:DocumentFormat>"),
     PROTO_E_ESCL_BAD_FORMAT, "pwg:DocumentFormat"},
    {"format conflict",
     DOC(V20 "<pwg:DocumentFormat>image/png</pwg:DocumentFormat>"
             "<scan:DocumentFormatExt>image/jpeg</scan:DocumentFormatExt>"),
     PROTO_E_ESCL_FORMAT_CONFLICT, "scan:DocumentFormatExt"},
    {"compression word", DOC(V20 "<scan:CompressionFactor>high</scan:CompressionFactor>"),
     PROTO_E_ESCL_BAD_COMPRESSION, "scan:CompressionFactor"},
};

START_TEST(every_rejection)
{
    const reject_case *c = &rejects[_i];
    proto_escl_settings s;
    proto_escl_diag d;
    int rc = parse_str(c->xml, &s, &d);

    ck_assert_msg(rc == c->err, "%s: got %s (%s), want %s", c->name, proto_err_name(rc), d.msg,
                  proto_err_name(c->err));
    ck_assert_int_eq(d.err, rc);
    if (c->element != NULL) {
        ck_assert_ptr_nonnull(d.element);
        ck_assert_msg(strcmp(d.element, c->element) == 0, "%s: element %s, want %s", c->name,
                      d.element, c->element);
        ck_assert_msg(strstr(d.msg, c->element) != NULL, "%s: msg \"%s\" does not name %s", c->name,
                      d.msg, c->element);
    }
    ck_assert_msg(strncmp(d.msg, proto_strerror(rc), strlen(proto_strerror(rc))) == 0,
                  "%s: msg \"%s\"", c->name, d.msg);
    ck_assert(one_printable_line(d.msg));
    /* out is cleared on failure: no half-parsed settings */
    ck_assert_uint_eq(s.have, 0);
    ck_assert_str_eq(s.version, "");
}
END_TEST

/* Every parse error code (the -1xx eSCL parse range) has a case above. */
START_TEST(rejections_cover_the_table)
{
    static const int parse_errs[] = {
        PROTO_E_ESCL_XML,
        PROTO_E_ESCL_DOCTYPE,
        PROTO_E_ESCL_ROOT,
        PROTO_E_ESCL_DUPLICATE,
        PROTO_E_ESCL_NO_VERSION,
        PROTO_E_ESCL_BAD_VERSION,
        PROTO_E_ESCL_BAD_SOURCE,
        PROTO_E_ESCL_SOURCE_CONFLICT,
        PROTO_E_ESCL_BAD_DUPLEX,
        PROTO_E_ESCL_BAD_COLOR_MODE,
        PROTO_E_ESCL_BAD_RESOLUTION,
        PROTO_E_ESCL_REGIONS,
        PROTO_E_ESCL_BAD_REGION,
        PROTO_E_ESCL_REGION_INCOMPLETE,
        PROTO_E_ESCL_BAD_UNITS,
        PROTO_E_ESCL_BAD_FORMAT,
        PROTO_E_ESCL_FORMAT_CONFLICT,
        PROTO_E_ESCL_BAD_COMPRESSION,
    };
    for (size_t e = 0; e < sizeof(parse_errs) / sizeof(parse_errs[0]); e++) {
        int found = 0;
        for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++)
            found |= rejects[i].err == parse_errs[e];
        ck_assert_msg(found, "no rejection case for %s", proto_err_name(parse_errs[e]));
    }
}
END_TEST

START_TEST(too_large)
{
    size_t n = PROTO_ESCL_MAX_DOC + 1;
    char *big = malloc(n + 1);
    proto_escl_settings s;
    proto_escl_diag d;
    const char *head = "<scan:ScanSettings " NS_DECL "><pwg:Version>2.0</pwg:Version><!--";
    const char *tail = "--></scan:ScanSettings>";

    ck_assert_ptr_nonnull(big);
    memset(big, 'x', n);
    memcpy(big, head, strlen(head));
    memcpy(big + n - strlen(tail), tail, strlen(tail));
    big[n] = '\0';
    ck_assert_int_eq(proto_escl_settings_parse((uint8_t *)big, n, &s, &d), PROTO_E_ESCL_TOO_LARGE);
    ck_assert_int_eq(d.err, PROTO_E_ESCL_TOO_LARGE);
    /* one byte less is a document like any other */
    memcpy(big + n - 1 - strlen(tail), tail, strlen(tail) + 1);
    ck_assert_int_eq(proto_escl_settings_parse((uint8_t *)big, n - 1, &s, &d), PROTO_OK);
    free(big);
}
END_TEST

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Entity bombs and external entities stop at the DOCTYPE: nothing is
 * declared, expanded or fetched (NONET besides), and it takes no time. */
START_TEST(xml_bombs)
{
    static const char *const files[] = {
        "bomb-billion-laughs.xml", "bomb-quadratic.xml", "xxe-file.xml",
        "xxe-parameter.xml",       "external-dtd.xml",
    };
    proto_escl_settings s;
    proto_escl_diag d;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        double t0 = now_s();
        int rc = parse_file(files[i], &s, &d);
        double dt = now_s() - t0;
        ck_assert_msg(rc == PROTO_E_ESCL_DOCTYPE, "%s: %s (%s)", files[i], proto_err_name(rc),
                      d.msg);
        ck_assert_msg(d.line >= 1 && d.line <= 2, "%s: line %d", files[i], d.line);
        ck_assert_msg(dt < 0.5, "%s took %.3f s", files[i], dt);
    }
    ck_assert_int_eq(parse_file("undeclared-entity.xml", &s, &d), PROTO_E_ESCL_XML);
    ck_assert_ptr_nonnull(strstr(d.msg, "nope"));
}
END_TEST

START_TEST(deep_nesting)
{
    proto_escl_settings s;
    proto_escl_diag d;
    char doc[4096];
    size_t n = 0;

    ck_assert_int_eq(parse_file("deep-nesting.xml", &s, &d), PROTO_E_ESCL_TOO_DEEP);
    ck_assert_int_eq(d.err, PROTO_E_ESCL_TOO_DEEP);

    /* exactly PROTO_ESCL_MAX_DEPTH levels pass, one more does not */
    for (unsigned extra = 0; extra < 2; extra++) {
        unsigned inner = PROTO_ESCL_MAX_DEPTH - 1 + extra; /* below the root */
        n = (size_t)snprintf(doc, sizeof(doc), "<scan:ScanSettings " NS_DECL ">" V20);
        for (unsigned i = 0; i < inner; i++)
            n += (size_t)snprintf(doc + n, sizeof(doc) - n, "<v>");
        for (unsigned i = 0; i < inner; i++)
            n += (size_t)snprintf(doc + n, sizeof(doc) - n, "</v>");
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "</scan:ScanSettings>");
        ck_assert_int_eq(proto_escl_settings_parse((uint8_t *)doc, n, &s, &d),
                         extra ? PROTO_E_ESCL_TOO_DEEP : PROTO_OK);
    }
}
END_TEST

/* ---- allocation failure ------------------------------------------------------ */

static long fail_at = -1; /* the allocation that fails, -1 never */
static long alloc_count;

static int fail_now(void)
{
    return fail_at >= 0 && alloc_count++ == fail_at;
}
static void *t_malloc(size_t n)
{
    return fail_now() ? NULL : malloc(n);
}
static void *t_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : realloc(p, n);
}
static char *t_strdup(const char *s)
{
    return fail_now() ? NULL : strdup(s);
}
/* libxml2 reports some of its own allocation failures through its global
 * generic handler (stderr); quiet in this test's process only. */
static void quiet(void *ctx, const char *fmt, ...)
{
    (void)ctx;
    (void)fmt;
}

/* libxml2's allocator is process-global; this test owns its forked process.
 * Every allocation of a real request's parse fails in turn. Each run ends
 * in PROTO_E_ESCL_NOMEM, in PROTO_E_ESCL_XML (libxml2 2.9 reports some
 * allocation failures as bad namespace URIs), or in the settings an
 * unhindered parse gives (a failure libxml2 could live with): never in
 * other settings or another refusal. LSan checks that every run frees
 * everything. */
START_TEST(parse_allocation_failure)
{
    static const char *const files[] = {"airscan-0.99.27-adf-duplex-gray8.xml",
                                        "prefixes-default-ns.xml"};

    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        size_t len;
        uint8_t *buf = corpus(files[f], &len);
        proto_escl_settings want, s;
        proto_escl_diag d;
        int done = 0, nomem_runs = 0;

        ck_assert_int_eq(proto_escl_settings_parse(buf, len, &want, NULL), PROTO_OK);
        xmlSetGenericErrorFunc(NULL, quiet);
        xmlMemSetup(free, t_malloc, t_realloc, t_strdup);
        for (fail_at = 0; fail_at < 100000 && !done; fail_at++) {
            int rc;
            alloc_count = 0;
            rc = proto_escl_settings_parse(buf, len, &s, &d);
            ck_assert_msg(rc == PROTO_OK || rc == PROTO_E_ESCL_NOMEM || rc == PROTO_E_ESCL_XML,
                          "%s, allocation %ld: %s", files[f], fail_at, d.msg);
            if (rc == PROTO_OK)
                ck_assert_msg(memcmp(&s, &want, sizeof(s)) == 0,
                              "%s, allocation %ld: other "
                              "settings",
                              files[f], fail_at);
            nomem_runs += rc == PROTO_E_ESCL_NOMEM;
            done = rc == PROTO_OK && alloc_count <= fail_at; /* past the last allocation */
        }
        ck_assert(done);
        ck_assert_int_gt(nomem_runs, 0);
        fail_at = -1;
        xmlMemSetup(free, malloc, realloc, strdup);
        free(buf);
    }
}
END_TEST

/* ---- check against capabilities ------------------------------------------------ */

typedef struct check_case {
    const char *name;
    const char *body; /* inside ScanSettings, after the version */
    int err;
    const char *element;
} check_case;

static const check_case checks[] = {
    {"nothing asked", "", PROTO_OK, NULL},
    {"platen color 600",
     "<pwg:InputSource>Platen</pwg:InputSource><scan:ColorMode>RGB24"
     "</scan:ColorMode><scan:XResolution>600</scan:XResolution>",
     PROTO_OK, NULL},
    {"feeder full legal",
     "<pwg:InputSource>Feeder</pwg:InputSource><pwg:ScanRegions><pwg:ScanRegion><pwg:Width>2550"
     "</pwg:Width><pwg:Height>4200</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>",
     PROTO_OK, NULL},
    {"camera", "<pwg:InputSource>Camera</pwg:InputSource>", PROTO_E_ESCL_NO_SUCH_SOURCE,
     "pwg:InputSource"},
    {"duplex platen", "<pwg:InputSource>Platen</pwg:InputSource><scan:Duplex>true</scan:Duplex>",
     PROTO_E_ESCL_NO_DUPLEX, "scan:Duplex"},
    {"rgb48", "<scan:ColorMode>RGB48</scan:ColorMode>", PROTO_E_ESCL_NO_SUCH_COLOR_MODE,
     "scan:ColorMode"},
    {"gray16", "<scan:ColorMode>Grayscale16</scan:ColorMode>", PROTO_E_ESCL_NO_SUCH_COLOR_MODE,
     "scan:ColorMode"},
    {"200 dpi", "<scan:XResolution>200</scan:XResolution>", PROTO_E_ESCL_NO_SUCH_RESOLUTION,
     "scan:XResolution"},
    {"x != y", "<scan:XResolution>300</scan:XResolution><scan:YResolution>600</scan:YResolution>",
     PROTO_E_ESCL_NO_SUCH_RESOLUTION, "scan:XResolution"},
    {"pdf", "<pwg:DocumentFormat>application/pdf</pwg:DocumentFormat>", PROTO_E_ESCL_NO_SUCH_FORMAT,
     "pwg:DocumentFormat"},
    {"other ext", "<scan:DocumentFormatExt>image/webp</scan:DocumentFormatExt>",
     PROTO_E_ESCL_NO_SUCH_FORMAT, "scan:DocumentFormatExt"},
    {"too wide",
     "<pwg:ScanRegions><pwg:ScanRegion><pwg:XOffset>1</pwg:XOffset><pwg:Width>2550</pwg:Width>"
     "<pwg:Height>100</pwg:Height></pwg:ScanRegion></pwg:ScanRegions>",
     PROTO_E_ESCL_REGION_OUTSIDE, "pwg:ScanRegion"},
    {"platen not legal",
     "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>100</pwg:Width><pwg:Height>4200</pwg:Height>"
     "</pwg:ScanRegion></pwg:ScanRegions>",
     PROTO_E_ESCL_REGION_OUTSIDE, "pwg:ScanRegion"},
    {"too small",
     "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>15</pwg:Width><pwg:Height>100</pwg:Height>"
     "</pwg:ScanRegion></pwg:ScanRegions>",
     PROTO_E_ESCL_REGION_OUTSIDE, "pwg:ScanRegion"},
};

START_TEST(check_against_caps)
{
    const check_case *c = &checks[_i];
    proto_escl_caps caps = std_caps();
    proto_escl_settings s;
    proto_escl_diag d;
    char doc[2048];
    int rc;

    snprintf(doc, sizeof(doc), DOC(V20 "%s"), c->body);
    ck_assert_int_eq(parse_str(doc, &s, &d), PROTO_OK);
    rc = proto_escl_settings_check(&s, &caps, &d);
    ck_assert_msg(rc == c->err, "%s: got %s (%s)", c->name, proto_err_name(rc), d.msg);
    if (rc != PROTO_OK) {
        ck_assert_str_eq(d.element, c->element);
        ck_assert(one_printable_line(d.msg));
    }
}
END_TEST

START_TEST(check_sources)
{
    proto_escl_caps caps = std_caps();
    proto_escl_settings s;
    proto_escl_diag d;

    /* No duplex feeder: Duplex true is refused, simplex passes. */
    caps.adf_duplex.present = false;
    ck_assert_int_eq(parse_file("airscan-0.99.27-adf-duplex-gray8.xml", &s, NULL), PROTO_OK);
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, &d), PROTO_E_ESCL_NO_DUPLEX);
    s.duplex = false;
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, &d), PROTO_OK);
    ck_assert_ptr_eq(proto_escl_settings_source(&s, &caps), &caps.adf_simplex);
    /* No feeder at all. */
    caps.adf_simplex.present = false;
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, &d), PROTO_E_ESCL_NO_SUCH_SOURCE);
    ck_assert_ptr_nonnull(strstr(d.msg, "Feeder"));
    /* No source given: the platen. */
    ck_assert_int_eq(parse_file("minimal.xml", &s, NULL), PROTO_OK);
    ck_assert_ptr_eq(proto_escl_settings_source(&s, &caps), &caps.platen);
    /* No platen: the feeder; BlackAndWhite1 not offered there. */
    caps = std_caps();
    caps.platen.present = false;
    caps.adf_simplex.color_modes &= ~(1u << PROTO_ESCL_COLOR_BW1);
    ck_assert_ptr_eq(proto_escl_settings_source(&s, &caps), &caps.adf_simplex);
    ck_assert_int_eq(
        parse_str(DOC(V20 "<scan:ColorMode>BlackAndWhite1</scan:ColorMode>"), &s, NULL), PROTO_OK);
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, &d), PROTO_E_ESCL_NO_SUCH_COLOR_MODE);
    ck_assert_ptr_nonnull(strstr(d.msg, "BlackAndWhite1"));
    /* RGB48 names itself as a 16-bit mode. */
    ck_assert_int_eq(parse_file("rgb48.xml", &s, NULL), PROTO_OK);
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, &d), PROTO_E_ESCL_NO_SUCH_COLOR_MODE);
    ck_assert_ptr_nonnull(strstr(d.msg, "16-bit"));
    /* Duplex without a source and without a duplex feeder. */
    caps.adf_duplex.present = false;
    ck_assert_int_eq(parse_str(DOC(V20 "<scan:Duplex>true</scan:Duplex>"), &s, NULL), PROTO_OK);
    ck_assert_int_eq(proto_escl_settings_check(&s, &caps, &d), PROTO_E_ESCL_NO_DUPLEX);
}
END_TEST

/* ---- writers ---------------------------------------------------------------- */

static xmlDocPtr reparse(const char *buf, int len)
{
    xmlDocPtr doc = xmlReadMemory(buf, len, NULL, "UTF-8", XML_PARSE_NONET | XML_PARSE_NOERROR);
    ck_assert_msg(doc != NULL, "not well-formed:\n%s", buf);
    return doc;
}

static xmlXPathObjectPtr xpath(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr r;

    xmlXPathRegisterNs(ctx, BAD_CAST "pwg", BAD_CAST PROTO_ESCL_NS_PWG);
    xmlXPathRegisterNs(ctx, BAD_CAST "scan", BAD_CAST PROTO_ESCL_NS_SCAN);
    r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    xmlXPathFreeContext(ctx);
    ck_assert_msg(r != NULL, "bad xpath %s", expr);
    return r;
}

static int count(xmlDocPtr doc, const char *expr)
{
    xmlXPathObjectPtr r = xpath(doc, expr);
    int n = r->nodesetval != NULL ? r->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(r);
    return n;
}

/* The string value of the first match ("" if none), in buf. */
static const char *value(xmlDocPtr doc, const char *expr, char *buf, size_t cap)
{
    char full[600];
    xmlXPathObjectPtr r;

    snprintf(full, sizeof(full), "string(%s)", expr);
    r = xpath(doc, full);
    snprintf(buf, cap, "%s", r->stringval != NULL ? (const char *)r->stringval : "");
    xmlXPathFreeObject(r);
    return buf;
}

/* Every element uses exactly the prefix pwg or scan for its URI (sane-airscan
 * and ipp-usb match literal prefixed names). */
static void check_prefixes(const xmlNode *n)
{
    for (; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        ck_assert_ptr_nonnull(n->ns);
        ck_assert_ptr_nonnull(n->ns->prefix);
        if (strcmp((const char *)n->ns->href, PROTO_ESCL_NS_PWG) == 0) {
            ck_assert_str_eq((const char *)n->ns->prefix, "pwg");
        } else {
            ck_assert_str_eq((const char *)n->ns->href, PROTO_ESCL_NS_SCAN);
            ck_assert_str_eq((const char *)n->ns->prefix, "scan");
        }
        check_prefixes(n->children);
    }
}

/* sane-airscan 0.99.27's escl_devcaps_parse, in XPath: the first child of
 * scan:Platen must be scan:PlatenInputCaps; a source needs sizes with
 * min <= max, a colour mode other than BlackAndWhite1, a DocumentFormat it
 * knows, and discrete resolutions with X = Y. */
static void check_airscan_source(xmlDocPtr doc, const char *src)
{
    char expr[512], a[64], b[64];

    snprintf(expr, sizeof(expr), "%s/scan:MinWidth", src);
    value(doc, expr, a, sizeof(a));
    snprintf(expr, sizeof(expr), "%s/scan:MaxWidth", src);
    value(doc, expr, b, sizeof(b));
    ck_assert_int_le(atoi(a), atoi(b));
    ck_assert_int_gt(atoi(b), 0);
    snprintf(expr, sizeof(expr),
             "%s/scan:SettingProfiles/scan:SettingProfile/scan:ColorModes/"
             "scan:ColorMode[.='RGB24' or .='Grayscale8']",
             src);
    ck_assert_int_ge(count(doc, expr), 1);
    snprintf(expr, sizeof(expr),
             "%s/scan:SettingProfiles/scan:SettingProfile/scan:DocumentFormats/"
             "pwg:DocumentFormat[.='image/png' or .='image/jpeg']",
             src);
    ck_assert_int_eq(count(doc, expr), 2);
    snprintf(expr, sizeof(expr),
             "%s/scan:SettingProfiles/scan:SettingProfile/scan:DocumentFormats/"
             "scan:DocumentFormatExt",
             src);
    ck_assert_int_eq(count(doc, expr), 2);
    snprintf(expr, sizeof(expr),
             "%s/scan:SettingProfiles/scan:SettingProfile/scan:SupportedResolutions/"
             "scan:DiscreteResolutions/scan:DiscreteResolution",
             src);
    ck_assert_int_eq(count(doc, expr), 4);
    snprintf(expr, sizeof(expr),
             "%s/scan:SettingProfiles/scan:SettingProfile/scan:SupportedResolutions/"
             "scan:DiscreteResolutions/scan:DiscreteResolution[scan:XResolution = "
             "scan:YResolution]",
             src);
    ck_assert_int_eq(count(doc, expr), 4);
}

START_TEST(caps_roundtrip)
{
    proto_escl_caps caps = std_caps();
    static char buf[PROTO_ESCL_OUT_MAX];
    char v[128];
    int n = proto_escl_caps_write(&caps, buf, sizeof(buf));
    xmlDocPtr doc;

    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(strlen(buf), (size_t)n);
    ck_assert(strncmp(buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39) == 0);
    ck_assert_ptr_nonnull(strstr(buf, "<scan:ScannerCapabilities " NS_DECL ">"));
    ck_assert_ptr_nonnull(strstr(buf, "<pwg:Version>2.63</pwg:Version>"));
    doc = reparse(buf, n);
    check_prefixes(xmlDocGetRootElement(doc));

    ck_assert_str_eq(value(doc, "/scan:ScannerCapabilities/pwg:Version", v, sizeof(v)), "2.63");
    ck_assert_str_eq(value(doc, "/scan:ScannerCapabilities/pwg:MakeAndModel", v, sizeof(v)),
                     "scanemu Virtual Scanner");
    ck_assert_str_eq(value(doc, "/scan:ScannerCapabilities/scan:UUID", v, sizeof(v)),
                     "4509a320-00a0-008f-00b6-002507510eca");
    /* sane-airscan reads only the first child of scan:Platen */
    ck_assert_int_eq(count(doc, "/scan:ScannerCapabilities/scan:Platen/*[1][self::scan:"
                                "PlatenInputCaps]"),
                     1);
    check_airscan_source(doc, "/scan:ScannerCapabilities/scan:Platen/scan:PlatenInputCaps");
    check_airscan_source(doc, "/scan:ScannerCapabilities/scan:Adf/scan:AdfSimplexInputCaps");
    check_airscan_source(doc, "/scan:ScannerCapabilities/scan:Adf/scan:AdfDuplexInputCaps");
    ck_assert_str_eq(value(doc, "//scan:AdfSimplexInputCaps/scan:MaxHeight", v, sizeof(v)), "4200");
    ck_assert_str_eq(
        value(doc, "/scan:ScannerCapabilities/scan:Adf/scan:FeederCapacity", v, sizeof(v)), "50");
    ck_assert_int_eq(count(doc, "/scan:ScannerCapabilities/scan:Adf/scan:AdfOptions/"
                                "scan:AdfOption[.='DetectPaperLoaded' or .='Duplex']"),
                     2);
    ck_assert_int_eq(count(doc, "//scan:PlatenInputCaps/scan:SupportedIntents/scan:Intent"), 2);
    ck_assert_int_eq(count(doc, "//scan:AdfSimplexInputCaps/scan:SupportedIntents"), 0);
    ck_assert_str_eq(value(doc, "//scan:PlatenInputCaps/scan:MaxScanRegions", v, sizeof(v)), "1");
    ck_assert_str_eq(value(doc,
                           "/scan:ScannerCapabilities/scan:CompressionFactorSupport/"
                           "scan:Normal",
                           v, sizeof(v)),
                     "25");
    /* ipp-usb's decoder: pwg:Version, ColorMode and DocumentFormat under the
     * literal paths it compares. */
    ck_assert_ptr_nonnull(strstr(buf, "<scan:ColorMode>RGB24</scan:ColorMode>"));
    ck_assert_ptr_nonnull(strstr(buf, "<pwg:DocumentFormat>image/png</pwg:DocumentFormat>"));
    xmlFreeDoc(doc);

    /* deterministic */
    {
        static char again[PROTO_ESCL_OUT_MAX];
        ck_assert_int_eq(proto_escl_caps_write(&caps, again, sizeof(again)), n);
        ck_assert_mem_eq(buf, again, (size_t)n + 1);
    }
    /* every shorter buffer is refused whole */
    for (size_t cap = 0; cap <= (size_t)n; cap++)
        ck_assert_int_eq(proto_escl_caps_write(&caps, buf, cap), PROTO_E_NOSPACE);
    ck_assert_int_eq(proto_escl_caps_write(&caps, buf, (size_t)n + 1), n);
}
END_TEST

/* A capabilities document and every request built from it: the request
 * parses and passes the check. */
START_TEST(caps_to_settings_roundtrip)
{
    proto_escl_caps caps = std_caps();
    static const char *const srcs[] = {"Platen", "Feeder", "Feeder"};
    static const char *const modes[] = {"BlackAndWhite1", "Grayscale8", "RGB24"};
    static const char *const fmts[] = {"image/png", "image/jpeg"};

    for (int si = 0; si < 3; si++)
        for (int mi = 0; mi < 3; mi++)
            for (size_t ri = 0; ri < caps.platen.n_resolutions; ri++)
                for (int fi = 0; fi < 2; fi++) {
                    char doc[2048];
                    proto_escl_settings s;
                    proto_escl_diag d;
                    snprintf(doc, sizeof(doc),
                             DOC(V20 "<pwg:InputSource>%s</pwg:InputSource>"
                                     "<scan:Duplex>%s</scan:Duplex>"
                                     "<scan:ColorMode>%s</scan:ColorMode>"
                                     "<scan:XResolution>%u</scan:XResolution>"
                                     "<scan:YResolution>%u</scan:YResolution>"
                                     "<scan:DocumentFormatExt>%s</scan:DocumentFormatExt>"
                                     "<pwg:ScanRegions><pwg:ScanRegion><pwg:Width>2550"
                                     "</pwg:Width><pwg:Height>3508</pwg:Height>"
                                     "</pwg:ScanRegion></pwg:ScanRegions>"),
                             srcs[si], si == 2 ? "true" : "false", modes[mi],
                             caps.platen.resolutions[ri], caps.platen.resolutions[ri], fmts[fi]);
                    ck_assert_int_eq(parse_str(doc, &s, &d), PROTO_OK);
                    ck_assert_msg(proto_escl_settings_check(&s, &caps, &d) == PROTO_OK, "%s",
                                  d.msg);
                }
}
END_TEST

START_TEST(caps_escaping_and_options)
{
    proto_escl_caps caps = std_caps();
    static char buf[PROTO_ESCL_OUT_MAX];
    char v[128];
    xmlDocPtr doc;
    int n;

    caps.version = "2.0";
    caps.make_and_model = "A & B <Scanner> \xc3\xa9t\xc3\xa9 ]]>";
    caps.manufacturer = "\"Q\" 'R'";
    caps.uuid = NULL;
    caps.admin_uri = NULL;
    caps.platen.present = false;
    caps.adf_duplex.present = false;
    caps.feeder_capacity = 0;
    caps.adf_options = 0;
    caps.compression_max = 0;
    caps.adf_simplex.max_optical_res = 600;
    n = proto_escl_caps_write(&caps, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    doc = reparse(buf, n);
    ck_assert_str_eq(value(doc, "/scan:ScannerCapabilities/pwg:MakeAndModel", v, sizeof(v)),
                     caps.make_and_model);
    ck_assert_str_eq(value(doc, "/scan:ScannerCapabilities/pwg:Manufacturer", v, sizeof(v)),
                     caps.manufacturer);
    ck_assert_str_eq(value(doc, "/scan:ScannerCapabilities/pwg:Version", v, sizeof(v)), "2.0");
    ck_assert_int_eq(count(doc, "/scan:ScannerCapabilities/scan:Platen"), 0);
    ck_assert_int_eq(count(doc, "/scan:ScannerCapabilities/scan:UUID"), 0);
    ck_assert_int_eq(count(doc, "//scan:AdfDuplexInputCaps | //scan:FeederCapacity | "
                                "//scan:AdfOptions | //scan:CompressionFactorSupport"),
                     0);
    ck_assert_str_eq(value(doc, "//scan:MaxOpticalYResolution", v, sizeof(v)), "600");
    xmlFreeDoc(doc);
}
END_TEST

START_TEST(caps_rejections)
{
    static char buf[PROTO_ESCL_OUT_MAX];
    proto_escl_caps c;

#define REJECT(mutation)                                                                           \
    do {                                                                                           \
        c = std_caps();                                                                            \
        mutation;                                                                                  \
        ck_assert_msg(proto_escl_caps_write(&c, buf, sizeof(buf)) == PROTO_E_BAD_FIELD, "%s",      \
                      #mutation);                                                                  \
    } while (0)
    REJECT(c.platen.present = c.adf_simplex.present = c.adf_duplex.present = false);
    REJECT(c.uuid = "4509a320-00a0-008f-00b6-002507510ec");
    REJECT(c.uuid = "4509a320x00a0-008f-00b6-002507510eca");
    REJECT(c.uuid = "4509a320-00a0-008f-00b6-002507510ecaa");
    REJECT(c.version = "two");
    REJECT(c.make_and_model = "bad\xff utf-8");
    REJECT(c.make_and_model = "overlong \xc0\xaf");
    REJECT(c.make_and_model = "surrogate \xed\xa0\x80");
    REJECT(c.make_and_model = "cut \xe2\x82");
    REJECT(c.serial_number = "tab\there");
    REJECT(c.admin_uri = "line\nbreak");
    REJECT({
        static char long_name[PROTO_ESCL_MAX_STRING + 2];
        memset(long_name, 'n', sizeof(long_name) - 1);
        c.icon_uri = long_name;
    });
    REJECT(c.platen.resolutions[1] = 75);
    REJECT(c.platen.resolutions[0] = 0);
    REJECT(c.platen.n_resolutions = 0);
    REJECT(c.platen.n_resolutions = PROTO_ESCL_MAX_RESOLUTIONS + 1);
    REJECT(c.platen.resolutions[3] = PROTO_ESCL_MAX_RES + 1);
    REJECT(c.adf_simplex.color_modes = 0);
    REJECT(c.adf_simplex.color_modes |= 1u << PROTO_ESCL_COLOR_RGB48);
    REJECT(c.adf_simplex.formats = 1u << PROTO_ESCL_FORMAT_OTHER);
    REJECT(c.adf_duplex.intents = 1u << PROTO_ESCL_INTENT_OTHER);
    REJECT(c.adf_duplex.min_width = c.adf_duplex.max_width + 1);
    REJECT(c.adf_duplex.max_height = 0);
    REJECT(c.adf_options = 1u << 7);
    REJECT(c.compression_normal = 101);
    REJECT(c.compression_step = 0);
#undef REJECT
    /* 256 bytes of text pass */
    c = std_caps();
    {
        static char name[PROTO_ESCL_MAX_STRING + 1];
        memset(name, '&', sizeof(name) - 1);
        c.make_and_model = name;
        ck_assert_int_gt(proto_escl_caps_write(&c, buf, sizeof(buf)), 0);
    }
}
END_TEST

static const char *const completed_reasons[] = {"JobCompletedSuccessfully"};

START_TEST(status_roundtrip)
{
    proto_escl_job jobs[2] = {
        {.uri = "/eSCL/ScanJobs/2",
         .uuid = "urn:uuid:2",
         .age = 1,
         .images_completed = 3,
         .images_to_transfer = 1,
         .state = PROTO_ESCL_JOB_PROCESSING,
         .reasons = {"JobScanning"},
         .n_reasons = 1},
        {.uri = "/eSCL/ScanJobs/1",
         .age = 60,
         .images_completed = 5,
         .state = PROTO_ESCL_JOB_COMPLETED,
         .reasons = {completed_reasons[0]},
         .n_reasons = 1},
    };
    proto_escl_status st = {
        .state = PROTO_ESCL_STATE_PROCESSING,
        .adf_state = PROTO_ESCL_ADF_LOADED,
        .jobs = jobs,
        .n_jobs = 2,
    };
    static const char *const order[] = {"JobUri",          "JobUuid",          "Age",
                                        "ImagesCompleted", "ImagesToTransfer", "JobState",
                                        "JobStateReasons"};
    static char buf[PROTO_ESCL_OUT_MAX];
    char v[64];
    int n = proto_escl_status_write(&st, buf, sizeof(buf));
    xmlDocPtr doc;
    xmlNode *info, *c;
    size_t i = 0;

    ck_assert_int_gt(n, 0);
    doc = reparse(buf, n);
    check_prefixes(xmlDocGetRootElement(doc));
    ck_assert_str_eq(value(doc, "/scan:ScannerStatus/pwg:Version", v, sizeof(v)), "2.63");
    ck_assert_str_eq(value(doc, "/scan:ScannerStatus/pwg:State", v, sizeof(v)), "Processing");
    ck_assert_str_eq(value(doc, "/scan:ScannerStatus/scan:AdfState", v, sizeof(v)),
                     "ScannerAdfLoaded");
    ck_assert_int_eq(count(doc, "/scan:ScannerStatus/scan:Jobs/scan:JobInfo"), 2);
    ck_assert_str_eq(
        value(doc, "/scan:ScannerStatus/scan:Jobs/scan:JobInfo[2]/pwg:JobState", v, sizeof(v)),
        "Completed");
    ck_assert_str_eq(value(doc,
                           "/scan:ScannerStatus/scan:Jobs/scan:JobInfo[2]/pwg:JobStateReasons/"
                           "pwg:JobStateReason",
                           v, sizeof(v)),
                     "JobCompletedSuccessfully");
    ck_assert_int_eq(count(doc, "/scan:ScannerStatus/scan:Jobs/scan:JobInfo[2]/pwg:JobUuid"), 0);

    /* The children of the first JobInfo, in order. */
    info = xmlDocGetRootElement(doc)->children;
    while (info != NULL &&
           !(info->type == XML_ELEMENT_NODE && strcmp((const char *)info->name, "Jobs") == 0))
        info = info->next;
    ck_assert_ptr_nonnull(info);
    info = info->children;
    while (info->type != XML_ELEMENT_NODE)
        info = info->next;
    for (c = info->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        ck_assert_uint_lt(i, sizeof(order) / sizeof(order[0]));
        ck_assert_str_eq((const char *)c->name, order[i]);
        i++;
    }
    ck_assert_uint_eq(i, sizeof(order) / sizeof(order[0]));

    /* The escl backend's reading: the JobUri naming job 1, then JobState
     * among the siblings after it. */
    ck_assert_str_eq(value(doc,
                           "//pwg:JobUri[contains(., '/ScanJobs/1')]/following-sibling::"
                           "pwg:JobState",
                           v, sizeof(v)),
                     "Completed");
    xmlFreeDoc(doc);

    /* Idle, no ADF state, no jobs: the elements are left out. */
    st.state = PROTO_ESCL_STATE_IDLE;
    st.adf_state = PROTO_ESCL_ADF_NONE;
    st.n_jobs = 0;
    st.version = "2.0";
    n = proto_escl_status_write(&st, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    doc = reparse(buf, n);
    ck_assert_str_eq(value(doc, "/scan:ScannerStatus/pwg:State", v, sizeof(v)), "Idle");
    ck_assert_int_eq(count(doc, "//scan:AdfState | //scan:Jobs"), 0);
    xmlFreeDoc(doc);
    for (size_t cap = 0; cap <= (size_t)n; cap++)
        ck_assert_int_eq(proto_escl_status_write(&st, buf, cap), PROTO_E_NOSPACE);
}
END_TEST

START_TEST(status_names)
{
    static char buf[4096];
    static const struct {
        enum proto_escl_adf_state a;
        const char *name;
    } adf[] = {
        {PROTO_ESCL_ADF_LOADED, "ScannerAdfLoaded"},
        {PROTO_ESCL_ADF_EMPTY, "ScannerAdfEmpty"},
        {PROTO_ESCL_ADF_JAM, "ScannerAdfJam"},
        {PROTO_ESCL_ADF_DOOR_OPEN, "ScannerAdfDoorOpen"},
        {PROTO_ESCL_ADF_MULTIPICK, "ScannerAdfMultipickDetected"},
    };
    static const char *const states[] = {"Idle", "Processing", "Testing", "Stopped"};
    static const char *const job_states[] = {"Pending", "Processing", "Completed", "Canceled",
                                             "Aborted"};

    for (size_t i = 0; i < sizeof(adf) / sizeof(adf[0]); i++) {
        proto_escl_status st = {.state = PROTO_ESCL_STATE_STOPPED, .adf_state = adf[i].a};
        char want[96];
        ck_assert_int_gt(proto_escl_status_write(&st, buf, sizeof(buf)), 0);
        snprintf(want, sizeof(want), "<scan:AdfState>%s</scan:AdfState>", adf[i].name);
        ck_assert_ptr_nonnull(strstr(buf, want));
    }
    for (int s = 0; s < 4; s++)
        ck_assert_str_eq(proto_escl_state_name((enum proto_escl_state)s), states[s]);
    for (int j = 0; j < 5; j++)
        ck_assert_str_eq(proto_escl_job_state_name((enum proto_escl_job_state)j), job_states[j]);
    ck_assert_ptr_null(proto_escl_state_name((enum proto_escl_state)4));
    ck_assert_ptr_null(proto_escl_adf_state_name(PROTO_ESCL_ADF_NONE));
    ck_assert_ptr_null(proto_escl_color_mode_name(PROTO_ESCL_COLOR_NONE));
    ck_assert_ptr_null(proto_escl_format_mime(PROTO_ESCL_FORMAT_OTHER));
    ck_assert_str_eq(proto_escl_source_name(PROTO_ESCL_SOURCE_FEEDER), "Feeder");
    ck_assert_str_eq(proto_escl_intent_name(PROTO_ESCL_INTENT_TEXT_AND_GRAPHIC), "TextAndGraphic");
}
END_TEST

START_TEST(status_rejections)
{
    static char buf[PROTO_ESCL_OUT_MAX];
    proto_escl_job job = {.uri = "/eSCL/ScanJobs/1", .state = PROTO_ESCL_JOB_COMPLETED};
    proto_escl_status st = {.jobs = &job, .n_jobs = 1};

    ck_assert_int_gt(proto_escl_status_write(&st, buf, sizeof(buf)), 0);
#define REJECT(mutation)                                                                           \
    do {                                                                                           \
        proto_escl_job j = job;                                                                    \
        proto_escl_status s = st;                                                                  \
        s.jobs = &j;                                                                               \
        mutation;                                                                                  \
        ck_assert_msg(proto_escl_status_write(&s, buf, sizeof(buf)) == PROTO_E_BAD_FIELD, "%s",    \
                      #mutation);                                                                  \
    } while (0)
    REJECT(s.state = (enum proto_escl_state)9);
    REJECT(s.adf_state = (enum proto_escl_adf_state)9);
    REJECT(s.version = "x");
    REJECT(s.n_jobs = PROTO_ESCL_MAX_JOBS + 1);
    REJECT(s.jobs = NULL);
    REJECT(j.uri = NULL);
    REJECT(j.uri = "");
    REJECT(j.uuid = "a\x01");
    REJECT(j.state = (enum proto_escl_job_state)5);
    REJECT(j.n_reasons = PROTO_ESCL_MAX_REASONS + 1);
    REJECT((j.n_reasons = 1, j.reasons[0] = NULL));
    REJECT((j.n_reasons = 1, j.reasons[0] = "Job Done"));
    REJECT((j.n_reasons = 1, j.reasons[0] = ""));
#undef REJECT
}
END_TEST

/* The largest documents the limits allow fit in PROTO_ESCL_OUT_MAX. */
START_TEST(worst_case_sizes)
{
    static char buf[PROTO_ESCL_OUT_MAX];
    static char amp[PROTO_ESCL_MAX_STRING + 1];
    static char reason[65];
    proto_escl_caps c = std_caps();
    proto_escl_job jobs[PROTO_ESCL_MAX_JOBS];
    proto_escl_status st = {
        .jobs = jobs, .n_jobs = PROTO_ESCL_MAX_JOBS, .adf_state = PROTO_ESCL_ADF_MULTIPICK};
    proto_escl_image_info ii = {.job_uri = amp, .job_uuid = amp, .blank_page = 1};
    int n;

    memset(amp, '&', PROTO_ESCL_MAX_STRING);
    memset(reason, 'R', 64);
    c.make_and_model = c.manufacturer = c.serial_number = c.admin_uri = c.icon_uri = amp;
    c.adf_options = PROTO_ESCL_ADF_DETECT_PAPER_LOADED | PROTO_ESCL_ADF_SELECT_SINGLE_PAGE |
                    PROTO_ESCL_ADF_DUPLEX;
    for (proto_escl_source_caps *s = &c.platen; s <= &c.adf_duplex; s++) {
        s->n_resolutions = PROTO_ESCL_MAX_RESOLUTIONS;
        for (unsigned i = 0; i < PROTO_ESCL_MAX_RESOLUTIONS; i++)
            s->resolutions[i] = PROTO_ESCL_MAX_RES - PROTO_ESCL_MAX_RESOLUTIONS + 1 + i;
        s->intents = ((1u << (PROTO_ESCL_INTENT_BUSINESS_CARD + 1)) - 1u) & ~1u;
        s->formats = 0x1eu;
        s->max_optical_res = PROTO_ESCL_MAX_RES;
        s->max_width = s->max_height = s->max_scan_regions = 4000000000u / 40000u;
    }
    c.feeder_capacity = 4000000000u;
    n = proto_escl_caps_write(&c, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    for (unsigned i = 0; i < PROTO_ESCL_MAX_JOBS; i++) {
        jobs[i] = (proto_escl_job){.uri = amp,
                                   .uuid = amp,
                                   .age = 4000000000u,
                                   .images_completed = 4000000000u,
                                   .images_to_transfer = 4000000000u,
                                   .state = PROTO_ESCL_JOB_PROCESSING,
                                   .n_reasons = PROTO_ESCL_MAX_REASONS};
        for (unsigned r = 0; r < PROTO_ESCL_MAX_REASONS; r++)
            jobs[i].reasons[r] = reason;
    }
    n = proto_escl_status_write(&st, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, (int)PROTO_ESCL_OUT_MAX);
    ck_assert_int_gt(proto_escl_image_info_write(&ii, buf, sizeof(buf)), 0);
}
END_TEST

START_TEST(image_info)
{
    static char buf[4096];
    char v[64];
    proto_escl_image_info ii = {.job_uri = "/eSCL/ScanJobs/7",
                                .job_uuid = "7",
                                .width = 2550,
                                .height = 3300,
                                .bytes_per_line = 7650,
                                .blank_page = -1};
    int n = proto_escl_image_info_write(&ii, buf, sizeof(buf));
    xmlDocPtr doc;

    ck_assert_int_gt(n, 0);
    doc = reparse(buf, n);
    check_prefixes(xmlDocGetRootElement(doc));
    ck_assert_str_eq(value(doc, "/scan:ScanImageInfo/pwg:JobUri", v, sizeof(v)),
                     "/eSCL/ScanJobs/7");
    ck_assert_str_eq(value(doc, "/scan:ScanImageInfo/scan:ActualWidth", v, sizeof(v)), "2550");
    ck_assert_str_eq(value(doc, "/scan:ScanImageInfo/scan:ActualHeight", v, sizeof(v)), "3300");
    ck_assert_str_eq(value(doc, "/scan:ScanImageInfo/scan:ActualBytesPerLine", v, sizeof(v)),
                     "7650");
    ck_assert_int_eq(count(doc, "//scan:BlankPageDetected"), 0);
    xmlFreeDoc(doc);
    ii.blank_page = 0;
    ck_assert_int_gt(proto_escl_image_info_write(&ii, buf, sizeof(buf)), 0);
    ck_assert_ptr_nonnull(strstr(buf, "<scan:BlankPageDetected>false</scan:BlankPageDetected>"));
    ii.blank_page = 2;
    ck_assert_int_eq(proto_escl_image_info_write(&ii, buf, sizeof(buf)), PROTO_E_BAD_FIELD);
    ii.blank_page = 0;
    ii.job_uri = NULL;
    ck_assert_int_eq(proto_escl_image_info_write(&ii, buf, sizeof(buf)), PROTO_E_BAD_FIELD);
}
END_TEST

/* One X-macro table: distinct values, names and messages. */
START_TEST(error_table)
{
#define ERR_(name, value, msg) PROTO_E_##name,
    static const int all[] = {PROTO_ERRNO_MAP(ERR_)};
#undef ERR_
    size_t n = sizeof(all) / sizeof(all[0]);

    for (size_t i = 0; i < n; i++) {
        ck_assert_int_lt(all[i], 0);
        ck_assert_str_ne(proto_err_name(all[i]), "PROTO_E_UNKNOWN");
        for (size_t j = i + 1; j < n; j++) {
            ck_assert_int_ne(all[i], all[j]);
            ck_assert_str_ne(proto_strerror(all[i]), proto_strerror(all[j]));
        }
    }
    ck_assert_str_eq(proto_err_name(PROTO_E_ESCL_DOCTYPE), "PROTO_E_ESCL_DOCTYPE");
    ck_assert_str_eq(proto_err_name(PROTO_E_HTTP_NOMEM), "PROTO_E_HTTP_NOMEM");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_escl");
    TCase *parse = tcase_create("parse");
    TCase *check = tcase_create("check");
    TCase *write = tcase_create("write");
    SRunner *sr;
    int nf;

    proto_escl_init(); /* once, before the forked tests */
    tcase_add_test(parse, airscan_platen);
    tcase_add_test(parse, airscan_adf_duplex);
    tcase_add_test(parse, escl_backend_both_versions);
    tcase_add_test(parse, namespace_prefixes);
    tcase_add_test(parse, document_format_variants);
    tcase_add_test(parse, tolerance);
    tcase_add_loop_test(parse, every_rejection, 0, (int)(sizeof(rejects) / sizeof(rejects[0])));
    tcase_add_test(parse, rejections_cover_the_table);
    tcase_add_test(parse, too_large);
    tcase_add_test(parse, xml_bombs);
    tcase_add_test(parse, deep_nesting);
    tcase_add_test(parse, parse_allocation_failure);
    tcase_add_test(parse, error_table);
    suite_add_tcase(s, parse);
    tcase_add_loop_test(check, check_against_caps, 0, (int)(sizeof(checks) / sizeof(checks[0])));
    tcase_add_test(check, check_sources);
    suite_add_tcase(s, check);
    tcase_add_test(write, caps_roundtrip);
    tcase_add_test(write, caps_to_settings_roundtrip);
    tcase_add_test(write, caps_escaping_and_options);
    tcase_add_test(write, caps_rejections);
    tcase_add_test(write, status_roundtrip);
    tcase_add_test(write, status_names);
    tcase_add_test(write, status_rejections);
    tcase_add_test(write, worst_case_sizes);
    tcase_add_test(write, image_info);
    suite_add_tcase(s, write);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
