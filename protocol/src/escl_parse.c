/* ScanSettings parser: libxml2 hardened for untrusted input, then a walk
 * of the tree by namespace URI and local name.
 *
 * Hardening, all per parse (no libxml2 global is read or written):
 *  - the size is capped before libxml2 sees a byte;
 *  - options: XML_PARSE_NONET, and neither XML_PARSE_NOENT nor
 *    XML_PARSE_DTDLOAD/DTDATTR/DTDVALID, nor XML_PARSE_HUGE (libxml2's own
 *    limits stay on);
 *  - the document must be UTF-8 (eSCL is) without NUL bytes, checked
 *    before libxml2 sees it, and its encoding declaration is ignored
 *    (XML_PARSE_IGNORE_ENC): no character set converter (iconv, whose
 *    errors libxml2 prints through its global handler) runs on untrusted
 *    bytes, and UTF-16 or UTF-32 documents are refused;
 *  - the context's SAX handler is ours to change: internalSubset stops the
 *    parser at "<!DOCTYPE name ...", before "[" (so no entity is ever
 *    declared, let alone expanded or fetched), startElementNs counts depth
 *    and stops the parser past PROTO_ESCL_MAX_DEPTH, serror records the
 *    first error instead of printing it.
 * Without a DTD, any entity reference other than the five predefined ones
 * and character references is a well-formedness error.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "escl-internal.h"

typedef struct parse_ctx {
    unsigned depth;
    int stop;      /* PROTO_E_ESCL_DOCTYPE, _TOO_DEEP, _NOMEM or 0 */
    int stop_line; /* where it stopped */
    int xml_code;  /* the first libxml2 error, 0 if none */
    int xml_line;
    char xml_msg[120];
} parse_ctx;

void proto_escl_init(void)
{
    xmlInitParser();
}

/* ---- libxml2 hooks ------------------------------------------------------- */

#if LIBXML_VERSION >= 21200
static void on_error(void *user, const xmlError *e)
#else
static void on_error(void *user, xmlErrorPtr e)
#endif
{
    xmlParserCtxtPtr ctxt = user;
    parse_ctx *pc = ctxt->_private;
    size_t n;

    if (e == NULL || e->level < XML_ERR_ERROR || pc->xml_code != 0)
        return;
    pc->xml_code = e->code;
    pc->xml_line = e->line;
    n = e->message != NULL ? strlen(e->message) : 0;
    while (n > 0 && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
        n--;
    escl_sanitize(pc->xml_msg, sizeof(pc->xml_msg), e->message != NULL ? e->message : "", n);
}

static void on_internal_subset(void *user, const xmlChar *name, const xmlChar *external_id,
                               const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = user;
    parse_ctx *pc = ctxt->_private;

    (void)name;
    (void)external_id;
    (void)system_id;
    pc->stop = PROTO_E_ESCL_DOCTYPE;
    pc->stop_line = xmlSAX2GetLineNumber(ctxt);
    xmlStopParser(ctxt);
}

static void on_start(void *user, const xmlChar *localname, const xmlChar *prefix,
                     const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                     int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = user;
    parse_ctx *pc = ctxt->_private;

    if (++pc->depth > PROTO_ESCL_MAX_DEPTH) {
        pc->stop = PROTO_E_ESCL_TOO_DEEP;
        pc->stop_line = xmlSAX2GetLineNumber(ctxt);
        xmlStopParser(ctxt);
        return;
    }
    xmlSAX2StartElementNs(user, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
    /* libxml2 2.9 drops a namespace it cannot allocate with only a global
     * (not per-context) error: the element would then silently lose its
     * URI and read as another element. Treat that as what it is. */
    if (uri != NULL && (ctxt->node == NULL || ctxt->node->ns == NULL ||
                        ctxt->node->ns->href == NULL || !xmlStrEqual(ctxt->node->ns->href, uri))) {
        pc->stop = PROTO_E_ESCL_NOMEM;
        xmlStopParser(ctxt);
    }
}

static void on_end(void *user, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = user;
    parse_ctx *pc = ctxt->_private;

    pc->depth--;
    xmlSAX2EndElementNs(user, localname, prefix, uri);
}

/* ---- element values ------------------------------------------------------ */

static int is_xml_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The element's text, trimmed of XML whitespace, into buf (size
 * PROTO_ESCL_VALUE_SIZE). -1 if it has an element child or the trimmed
 * text does not fit. */
static int node_text(const xmlNode *node, char buf[PROTO_ESCL_VALUE_SIZE])
{
    size_t len = 0;
    int started = 0;

    for (const xmlNode *c = node->children; c != NULL; c = c->next) {
        const xmlChar *t;
        if (c->type == XML_ELEMENT_NODE)
            return -1;
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
            continue; /* comments, processing instructions */
        for (t = c->content; t != NULL && *t; t++) {
            if (!started && is_xml_space(*t))
                continue;
            started = 1;
            if (len < PROTO_ESCL_VALUE_SIZE - 1)
                buf[len++] = (char)*t;
            else if (!is_xml_space(*t))
                return -1; /* a non-blank byte past the end: too long */
        }
    }
    while (len > 0 && is_xml_space(buf[len - 1]))
        len--;
    buf[len] = '\0';
    return 0;
}

static int parse_uint(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return -1;
    }
    if (v < min)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* xsd:boolean, plus the capitalised spellings some firmware uses. */
static int parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* "2.0", "2.63", the escl backend's "%.2f" ("2.00", "2,00" in a comma
 * locale). */
static int valid_version(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= PROTO_ESCL_VERSION_SIZE || s[0] < '0' || s[0] > '9')
        return 0;
    for (; *s; s++)
        if ((*s < '0' || *s > '9') && *s != '.' && *s != ',')
            return 0;
    return 1;
}

/* RFC 9110 tchar. */
static int is_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* type "/" subtype, both RFC 9110 tokens, nothing else. */
static int valid_mime(const char *s)
{
    const char *slash = strchr(s, '/');

    if (slash == NULL || slash == s || slash[1] == '\0')
        return 0;
    for (const char *p = s; *p; p++)
        if (p != slash && !is_tchar((unsigned char)*p))
            return 0;
    return 1;
}

/* ---- the walk ------------------------------------------------------------- */

enum field {
    F_VERSION,
    F_INTENT,
    F_REGIONS,
    F_PWG_SOURCE,
    F_SCAN_SOURCE,
    F_DUPLEX,
    F_COLOR_MODE,
    F_XRES,
    F_YRES,
    F_FORMAT,
    F_FORMAT_EXT,
    F_COMPRESSION,
    N_FIELDS,
};

enum region_field {
    R_XOFFSET,
    R_YOFFSET,
    R_WIDTH,
    R_HEIGHT,
    R_UNITS,
    N_REGION_FIELDS,
};

typedef struct elem_name {
    const char *ns;
    const char *local;
    const char *qname; /* canonical, for diagnostics */
} elem_name;

static const elem_name fields[N_FIELDS] = {
    [F_VERSION] = {PROTO_ESCL_NS_PWG, "Version", "pwg:Version"},
    [F_INTENT] = {PROTO_ESCL_NS_SCAN, "Intent", "scan:Intent"},
    [F_REGIONS] = {PROTO_ESCL_NS_PWG, "ScanRegions", "pwg:ScanRegions"},
    [F_PWG_SOURCE] = {PROTO_ESCL_NS_PWG, "InputSource", "pwg:InputSource"},
    [F_SCAN_SOURCE] = {PROTO_ESCL_NS_SCAN, "InputSource", "scan:InputSource"},
    [F_DUPLEX] = {PROTO_ESCL_NS_SCAN, "Duplex", "scan:Duplex"},
    [F_COLOR_MODE] = {PROTO_ESCL_NS_SCAN, "ColorMode", "scan:ColorMode"},
    [F_XRES] = {PROTO_ESCL_NS_SCAN, "XResolution", "scan:XResolution"},
    [F_YRES] = {PROTO_ESCL_NS_SCAN, "YResolution", "scan:YResolution"},
    [F_FORMAT] = {PROTO_ESCL_NS_PWG, "DocumentFormat", "pwg:DocumentFormat"},
    [F_FORMAT_EXT] = {PROTO_ESCL_NS_SCAN, "DocumentFormatExt", "scan:DocumentFormatExt"},
    [F_COMPRESSION] = {PROTO_ESCL_NS_SCAN, "CompressionFactor", "scan:CompressionFactor"},
};

static const elem_name region_fields[N_REGION_FIELDS] = {
    [R_XOFFSET] = {PROTO_ESCL_NS_PWG, "XOffset", "pwg:XOffset"},
    [R_YOFFSET] = {PROTO_ESCL_NS_PWG, "YOffset", "pwg:YOffset"},
    [R_WIDTH] = {PROTO_ESCL_NS_PWG, "Width", "pwg:Width"},
    [R_HEIGHT] = {PROTO_ESCL_NS_PWG, "Height", "pwg:Height"},
    [R_UNITS] = {PROTO_ESCL_NS_PWG, "ContentRegionUnits", "pwg:ContentRegionUnits"},
};

static int is_elem(const xmlNode *n, const char *ns, const char *local)
{
    return n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, local) == 0;
}

/* Index of n in table, or -1. */
static int find(const elem_name *table, int count, const xmlNode *n)
{
    for (int i = 0; i < count; i++)
        if (is_elem(n, table[i].ns, table[i].local))
            return i;
    return -1;
}

static int line_of(const xmlNode *n)
{
    long l = xmlGetLineNo(n);
    return l > 0 && l < 0x7fffffff ? (int)l : 0;
}

/* A refusal of element n's value. */
static int bad_value(proto_escl_diag *diag, int err, const char *qname, const xmlNode *n,
                     const char *value)
{
    char detail[PROTO_ESCL_DIAG_SIZE];
    char shown[40];

    if (value == NULL) {
        snprintf(detail, sizeof(detail), "%s is not a short text value", qname);
    } else {
        escl_sanitize(shown, sizeof(shown), value, strlen(value));
        snprintf(detail, sizeof(detail), "%s \"%s\"", qname, shown);
    }
    escl_diag_set(diag, err, qname, line_of(n), detail);
    return err;
}

static int duplicate(proto_escl_diag *diag, const char *qname, const xmlNode *n)
{
    escl_diag_set(diag, PROTO_E_ESCL_DUPLICATE, qname, line_of(n), qname);
    return PROTO_E_ESCL_DUPLICATE;
}

static int parse_region(const xmlNode *reg, proto_escl_settings *out, proto_escl_diag *diag)
{
    uint32_t v[N_REGION_FIELDS] = {0};
    unsigned seen = 0;
    char text[PROTO_ESCL_VALUE_SIZE];

    for (const xmlNode *c = reg->children; c != NULL; c = c->next) {
        int f = find(region_fields, N_REGION_FIELDS, c);
        const char *qname;
        if (f < 0)
            continue;
        qname = region_fields[f].qname;
        if (seen & (1u << f))
            return duplicate(diag, qname, c);
        seen |= 1u << f;
        if (f == R_UNITS) {
            const char *colon;
            if (node_text(c, text) != 0)
                return bad_value(diag, PROTO_E_ESCL_BAD_UNITS, qname, c, NULL);
            colon = strchr(text, ':');
            if (strcmp(colon != NULL ? colon + 1 : text, "ThreeHundredthsOfInches") != 0)
                return bad_value(diag, PROTO_E_ESCL_BAD_UNITS, qname, c, text);
            continue;
        }
        if (node_text(c, text) != 0)
            return bad_value(diag, PROTO_E_ESCL_BAD_REGION, qname, c, NULL);
        if (parse_uint(text, (f == R_WIDTH || f == R_HEIGHT) ? 1 : 0, PROTO_ESCL_MAX_EXTENT,
                       &v[f]) != 0)
            return bad_value(diag, PROTO_E_ESCL_BAD_REGION, qname, c, text);
    }
    if (!(seen & (1u << R_WIDTH)) || !(seen & (1u << R_HEIGHT))) {
        escl_diag_set(diag, PROTO_E_ESCL_REGION_INCOMPLETE, "pwg:ScanRegion", line_of(reg),
                      (seen & (1u << R_WIDTH)) ? "no pwg:Height" : "no pwg:Width");
        return PROTO_E_ESCL_REGION_INCOMPLETE;
    }
    if (v[R_XOFFSET] + v[R_WIDTH] > PROTO_ESCL_MAX_EXTENT ||
        v[R_YOFFSET] + v[R_HEIGHT] > PROTO_ESCL_MAX_EXTENT) {
        escl_diag_set(diag, PROTO_E_ESCL_BAD_REGION, "pwg:ScanRegion", line_of(reg),
                      "offset + size beyond PROTO_ESCL_MAX_EXTENT");
        return PROTO_E_ESCL_BAD_REGION;
    }
    out->x_offset = v[R_XOFFSET];
    out->y_offset = v[R_YOFFSET];
    out->width = v[R_WIDTH];
    out->height = v[R_HEIGHT];
    out->have |= PROTO_ESCL_HAVE_REGION;
    return PROTO_OK;
}

static int parse_regions(const xmlNode *regs, proto_escl_settings *out, proto_escl_diag *diag)
{
    const xmlNode *found = NULL;

    for (const xmlNode *c = regs->children; c != NULL; c = c->next) {
        if (!is_elem(c, PROTO_ESCL_NS_PWG, "ScanRegion"))
            continue;
        if (found != NULL) {
            escl_diag_set(diag, PROTO_E_ESCL_REGIONS, "pwg:ScanRegion", line_of(c),
                          "MaxScanRegions is 1");
            return PROTO_E_ESCL_REGIONS;
        }
        found = c;
    }
    return found != NULL ? parse_region(found, out, diag) : PROTO_OK;
}

/* One child of ScanSettings with a text value. */
static int parse_field(int f, const xmlNode *c, const char *text, proto_escl_settings *out,
                       enum proto_escl_source *scan_source, char *ext_mime, proto_escl_diag *diag)
{
    const char *qname = fields[f].qname;
    uint32_t v;

    switch (f) {
    case F_VERSION:
        if (!valid_version(text))
            return bad_value(diag, PROTO_E_ESCL_BAD_VERSION, qname, c, text);
        snprintf(out->version, sizeof(out->version), "%s", text); /* fits: checked */
        break;
    case F_INTENT:
        out->intent = escl_intent_from(text);
        out->have |= PROTO_ESCL_HAVE_INTENT;
        break;
    case F_PWG_SOURCE:
    case F_SCAN_SOURCE: {
        enum proto_escl_source s = escl_source_from(text);
        if (s == PROTO_ESCL_SOURCE_NONE)
            return bad_value(diag, PROTO_E_ESCL_BAD_SOURCE, qname, c, text);
        if (f == F_PWG_SOURCE)
            out->source = s;
        else
            *scan_source = s;
        out->have |= PROTO_ESCL_HAVE_SOURCE;
        break;
    }
    case F_DUPLEX:
        if (parse_bool(text, &out->duplex) != 0)
            return bad_value(diag, PROTO_E_ESCL_BAD_DUPLEX, qname, c, text);
        out->have |= PROTO_ESCL_HAVE_DUPLEX;
        break;
    case F_COLOR_MODE:
        out->color_mode = escl_color_mode_from(text);
        if (out->color_mode == PROTO_ESCL_COLOR_NONE)
            return bad_value(diag, PROTO_E_ESCL_BAD_COLOR_MODE, qname, c, text);
        out->have |= PROTO_ESCL_HAVE_COLOR_MODE;
        break;
    case F_XRES:
    case F_YRES:
        if (parse_uint(text, 1, PROTO_ESCL_MAX_RES, &v) != 0)
            return bad_value(diag, PROTO_E_ESCL_BAD_RESOLUTION, qname, c, text);
        *(f == F_XRES ? &out->x_res : &out->y_res) = v;
        out->have |= PROTO_ESCL_HAVE_RESOLUTION;
        break;
    case F_FORMAT:
    case F_FORMAT_EXT:
        if (!valid_mime(text))
            return bad_value(diag, PROTO_E_ESCL_BAD_FORMAT, qname, c, text);
        snprintf(f == F_FORMAT ? out->format_mime : ext_mime, PROTO_ESCL_VALUE_SIZE, "%s", text);
        out->have |= f == F_FORMAT ? PROTO_ESCL_HAVE_FORMAT : PROTO_ESCL_HAVE_FORMAT_EXT;
        break;
    case F_COMPRESSION:
        if (parse_uint(text, 0, PROTO_ESCL_MAX_COMPRESSION, &out->compression) != 0)
            return bad_value(diag, PROTO_E_ESCL_BAD_COMPRESSION, qname, c, text);
        out->have |= PROTO_ESCL_HAVE_COMPRESSION;
        break;
    default:
        break;
    }
    return PROTO_OK;
}

/* Errors a field's unreadable text maps to (element content, too long). */
static const int bad_text_err[N_FIELDS] = {
    [F_VERSION] = PROTO_E_ESCL_BAD_VERSION,         [F_INTENT] = PROTO_OK, /* advisory: OTHER */
    [F_PWG_SOURCE] = PROTO_E_ESCL_BAD_SOURCE,       [F_SCAN_SOURCE] = PROTO_E_ESCL_BAD_SOURCE,
    [F_DUPLEX] = PROTO_E_ESCL_BAD_DUPLEX,           [F_COLOR_MODE] = PROTO_E_ESCL_BAD_COLOR_MODE,
    [F_XRES] = PROTO_E_ESCL_BAD_RESOLUTION,         [F_YRES] = PROTO_E_ESCL_BAD_RESOLUTION,
    [F_FORMAT] = PROTO_E_ESCL_BAD_FORMAT,           [F_FORMAT_EXT] = PROTO_E_ESCL_BAD_FORMAT,
    [F_COMPRESSION] = PROTO_E_ESCL_BAD_COMPRESSION,
};

static int walk(const xmlNode *root, proto_escl_settings *out, proto_escl_diag *diag)
{
    unsigned seen = 0;
    enum proto_escl_source scan_source = PROTO_ESCL_SOURCE_NONE;
    const xmlNode *src_node = NULL, *fmt_node = NULL;
    char ext_mime[PROTO_ESCL_VALUE_SIZE] = "";
    char text[PROTO_ESCL_VALUE_SIZE];
    int rc;

    if (!is_elem(root, PROTO_ESCL_NS_SCAN, "ScanSettings")) {
        char got[64];
        escl_sanitize(got, sizeof(got), (const char *)root->name, strlen((const char *)root->name));
        escl_diag_set(diag, PROTO_E_ESCL_ROOT, "scan:ScanSettings", line_of(root), got);
        return PROTO_E_ESCL_ROOT;
    }
    for (const xmlNode *c = root->children; c != NULL; c = c->next) {
        int f = find(fields, N_FIELDS, c);
        if (f < 0)
            continue;
        if (seen & (1u << f))
            return duplicate(diag, fields[f].qname, c);
        seen |= 1u << f;
        if (f == F_REGIONS) {
            rc = parse_regions(c, out, diag);
            if (rc != PROTO_OK)
                return rc;
            continue;
        }
        if (f == F_PWG_SOURCE || f == F_SCAN_SOURCE)
            src_node = c;
        if (f == F_FORMAT || f == F_FORMAT_EXT)
            fmt_node = c;
        if (node_text(c, text) != 0) {
            if (bad_text_err[f] == PROTO_OK) {
                out->intent = PROTO_ESCL_INTENT_OTHER;
                out->have |= PROTO_ESCL_HAVE_INTENT;
                continue;
            }
            return bad_value(diag, bad_text_err[f], fields[f].qname, c, NULL);
        }
        rc = parse_field(f, c, text, out, &scan_source, ext_mime, diag);
        if (rc != PROTO_OK)
            return rc;
    }

    if (!(seen & (1u << F_VERSION))) {
        escl_diag_set(diag, PROTO_E_ESCL_NO_VERSION, "pwg:Version", line_of(root), NULL);
        return PROTO_E_ESCL_NO_VERSION;
    }
    if (scan_source != PROTO_ESCL_SOURCE_NONE) {
        if (out->source != PROTO_ESCL_SOURCE_NONE && out->source != scan_source) {
            escl_diag_set(diag, PROTO_E_ESCL_SOURCE_CONFLICT, "scan:InputSource", line_of(src_node),
                          proto_escl_source_name(scan_source));
            return PROTO_E_ESCL_SOURCE_CONFLICT;
        }
        out->source = scan_source;
    }
    if (out->have & PROTO_ESCL_HAVE_FORMAT_EXT) {
        if ((out->have & PROTO_ESCL_HAVE_FORMAT) && strcasecmp(out->format_mime, ext_mime) != 0) {
            char shown[40];
            escl_sanitize(shown, sizeof(shown), ext_mime, strlen(ext_mime));
            escl_diag_set(diag, PROTO_E_ESCL_FORMAT_CONFLICT, "scan:DocumentFormatExt",
                          line_of(fmt_node), shown);
            return PROTO_E_ESCL_FORMAT_CONFLICT;
        }
        snprintf(out->format_mime, sizeof(out->format_mime), "%s", ext_mime);
    }
    if (out->have & (PROTO_ESCL_HAVE_FORMAT | PROTO_ESCL_HAVE_FORMAT_EXT))
        out->format = escl_format_from(out->format_mime);
    if (out->x_res == 0)
        out->x_res = out->y_res;
    if (out->y_res == 0)
        out->y_res = out->x_res;
    return PROTO_OK;
}

/* Offset of the first byte that breaks UTF-8 (or is NUL), len if none. */
static size_t utf8_prefix(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t extra;
        uint32_t cp;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07u;
        } else {
            return i;
        }
        if (extra > len - i - 1)
            return i;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return i;
        i += extra + 1;
    }
    return len;
}

int proto_escl_settings_parse(const uint8_t *xml, size_t len, proto_escl_settings *out,
                              proto_escl_diag *diag)
{
    static const char empty[1] = "";
    parse_ctx pc = {0};
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    size_t bad;
    int rc;

    if (diag != NULL)
        memset(diag, 0, sizeof(*diag));
    memset(out, 0, sizeof(*out));
    if (len > PROTO_ESCL_MAX_DOC) {
        escl_diag_set(diag, PROTO_E_ESCL_TOO_LARGE, NULL, 0, NULL);
        return PROTO_E_ESCL_TOO_LARGE;
    }
    bad = utf8_prefix(xml, len);
    if (bad < len) {
        char detail[64];
        snprintf(detail, sizeof(detail), "byte %zu is not UTF-8 (or is NUL)", bad);
        escl_diag_set(diag, PROTO_E_ESCL_XML, NULL, 0, detail);
        return PROTO_E_ESCL_XML;
    }
    ctxt = xmlNewParserCtxt();
    if (ctxt == NULL) {
        escl_diag_set(diag, PROTO_E_ESCL_NOMEM, NULL, 0, NULL);
        return PROTO_E_ESCL_NOMEM;
    }
    ctxt->_private = &pc;
    ctxt->sax->serror = on_error;
    ctxt->sax->internalSubset = on_internal_subset;
    ctxt->sax->startElementNs = on_start;
    ctxt->sax->endElementNs = on_end;

    doc = xmlCtxtReadMemory(ctxt, len > 0 ? (const char *)xml : empty, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                XML_PARSE_IGNORE_ENC);
    if (pc.stop != 0 && pc.stop != PROTO_E_ESCL_NOMEM) {
        rc = pc.stop;
        escl_diag_set(diag, rc, NULL, pc.stop_line, NULL);
        goto out_free_doc;
    }
    if (pc.stop == PROTO_E_ESCL_NOMEM || pc.xml_code == XML_ERR_NO_MEMORY ||
        ctxt->errNo == XML_ERR_NO_MEMORY) {
        rc = PROTO_E_ESCL_NOMEM;
        escl_diag_set(diag, rc, NULL, 0, NULL);
        goto out_free_doc;
    }
    /* nsWellFormed: an unbound prefix is an error of XML namespaces, which
     * libxml2 reports without clearing wellFormed. */
    if (doc == NULL || !ctxt->wellFormed || !ctxt->nsWellFormed ||
        xmlDocGetRootElement(doc) == NULL) {
        rc = PROTO_E_ESCL_XML;
        escl_diag_set(diag, rc, NULL, pc.xml_line, pc.xml_code != 0 ? pc.xml_msg : NULL);
        goto out_free_doc;
    }
    rc = walk(xmlDocGetRootElement(doc), out, diag);

out_free_doc:
    xmlFreeDoc(doc); /* NULL is fine */
    xmlFreeParserCtxt(ctxt);
    if (rc != PROTO_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}
