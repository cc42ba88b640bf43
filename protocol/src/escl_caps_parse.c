/* ScannerCapabilities and ScannerStatus parsers: what a driver reads from a
 * device. The document goes through escl_doc_read (the hardening of
 * escl_parse.c), then the tree is walked.
 *
 * Devices differ in which namespace they put an element in (pwg: or scan:;
 * firmware mixes them up), so elements are matched by local name within
 * either eSCL namespace. Elements in other namespaces (vendor extensions)
 * and unknown elements are ignored.
 */
#include <stdio.h>
#include <string.h>

#include <libxml/tree.h>

#include "escl-internal.h"

/* ---- helpers ----------------------------------------------------------------- */

static int is_named(const xmlNode *n, const char *local)
{
    return n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
           (strcmp((const char *)n->ns->href, PROTO_ESCL_NS_PWG) == 0 ||
            strcmp((const char *)n->ns->href, PROTO_ESCL_NS_SCAN) == 0) &&
           strcmp((const char *)n->name, local) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *local)
{
    for (const xmlNode *c = n->children; c != NULL; c = c->next)
        if (is_named(c, local))
            return c;
    return NULL;
}

static int is_xml_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int line_of(const xmlNode *n)
{
    long l = xmlGetLineNo(n);
    return l > 0 && l < 0x7fffffff ? (int)l : 0;
}

/* The element's text, trimmed, cut to size - 1 bytes, made printable ASCII
 * ('?' for anything else). Returns 0, or -1 if it has an element child
 * (buf is then ""). */
static int text_of(const xmlNode *n, char *buf, size_t size)
{
    size_t len = 0;
    int started = 0;

    buf[0] = '\0';
    for (const xmlNode *c = n->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return -1;
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
            continue;
        for (const xmlChar *t = c->content; t != NULL && *t; t++) {
            if (!started && is_xml_space(*t))
                continue;
            started = 1;
            if (len < size - 1)
                buf[len++] = (*t >= 0x20 && *t < 0x7f) ? (char)*t : (is_xml_space(*t) ? ' ' : '?');
        }
    }
    while (len > 0 && buf[len - 1] == ' ')
        len--;
    buf[len] = '\0';
    return 0;
}

/* An unsigned decimal of at most max; -1 if the text is anything else. */
static int uint_of(const xmlNode *n, uint32_t max, uint32_t *out)
{
    char t[PROTO_ESCL_VALUE_SIZE];
    uint64_t v = 0;

    if (text_of(n, t, sizeof(t)) != 0 || t[0] == '\0')
        return -1;
    for (const char *p = t; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > max)
            return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Lenient number: 0 when absent or unreadable. */
static uint32_t uint_or_0(const xmlNode *parent, const char *local)
{
    const xmlNode *n = child(parent, local);
    uint32_t v = 0;

    if (n != NULL && uint_of(n, UINT32_MAX, &v) != 0)
        v = 0;
    return v;
}

static int valid_version(const char *s)
{
    if (s[0] < '0' || s[0] > '9')
        return 0;
    for (; *s; s++)
        if ((*s < '0' || *s > '9') && *s != '.' && *s != ',')
            return 0;
    return 1;
}

static int fail(proto_escl_diag *diag, int err, const char *element, const xmlNode *n,
                const char *detail)
{
    char shown[64];

    if (detail != NULL)
        escl_sanitize(shown, sizeof(shown), detail, strlen(detail));
    escl_diag_set(diag, err, element, n != NULL ? line_of(n) : 0, detail != NULL ? shown : NULL);
    return err;
}

/* ---- capabilities ------------------------------------------------------------ */

static void add_resolution(proto_escl_source_info *src, uint32_t r)
{
    proto_escl_source_caps *c = &src->caps;
    size_t i;

    for (i = 0; i < c->n_resolutions && c->resolutions[i] < r; i++)
        ;
    if (i < c->n_resolutions && c->resolutions[i] == r)
        return;
    if (c->n_resolutions == PROTO_ESCL_MAX_RESOLUTIONS) {
        src->dropped_resolutions++;
        return;
    }
    memmove(&c->resolutions[i + 1], &c->resolutions[i],
            (c->n_resolutions - i) * sizeof(c->resolutions[0]));
    c->resolutions[i] = r;
    c->n_resolutions++;
}

static int parse_range(const xmlNode *n, const char *qname, proto_escl_res_range *out,
                       proto_escl_diag *diag)
{
    const xmlNode *mn = child(n, "Min"), *mx = child(n, "Max");
    uint32_t min = 0, max = 0;

    if (mn == NULL || mx == NULL || uint_of(mn, PROTO_ESCL_MAX_RES, &min) != 0 ||
        uint_of(mx, PROTO_ESCL_MAX_RES, &max) != 0 || min == 0 || min > max)
        return fail(diag, PROTO_E_ESCL_BAD_RESOLUTION, qname, n, "Min/Max not 1..9600, ascending");
    out->min = min;
    out->max = max;
    out->step = uint_or_0(n, "Step");
    if (out->step == 0)
        out->step = 1;
    out->normal = uint_or_0(n, "Normal");
    return PROTO_OK;
}

static int parse_resolutions(const xmlNode *sr, proto_escl_source_info *src, proto_escl_diag *diag)
{
    for (const xmlNode *c = sr->children; c != NULL; c = c->next) {
        if (is_named(c, "DiscreteResolutions")) {
            for (const xmlNode *d = c->children; d != NULL; d = d->next) {
                const xmlNode *x, *y;
                uint32_t xr = 0, yr = 0;

                if (!is_named(d, "DiscreteResolution"))
                    continue;
                x = child(d, "XResolution");
                y = child(d, "YResolution");
                if ((x != NULL && uint_of(x, PROTO_ESCL_MAX_RES, &xr) != 0) ||
                    (y != NULL && uint_of(y, PROTO_ESCL_MAX_RES, &yr) != 0) ||
                    (x == NULL && y == NULL))
                    return fail(diag, PROTO_E_ESCL_BAD_RESOLUTION, "scan:DiscreteResolution", d,
                                "not 1..9600");
                if (xr == 0)
                    xr = yr;
                if (yr == 0)
                    yr = xr;
                if (xr == 0)
                    return fail(diag, PROTO_E_ESCL_BAD_RESOLUTION, "scan:DiscreteResolution", d,
                                "0 dpi");
                if (xr != yr)
                    src->dropped_resolutions++;
                else
                    add_resolution(src, xr);
            }
        } else if (is_named(c, "ResolutionRange")) {
            const xmlNode *x = child(c, "XResolutionRange"), *y = child(c, "YResolutionRange");
            int rc;

            if (x == NULL && y == NULL)
                continue;
            rc = parse_range(x != NULL ? x : y, "scan:XResolutionRange", &src->x_range, diag);
            if (rc == PROTO_OK)
                rc = parse_range(y != NULL ? y : x, "scan:YResolutionRange", &src->y_range, diag);
            if (rc != PROTO_OK)
                return rc;
        }
    }
    return PROTO_OK;
}

static void parse_profile(const xmlNode *prof, proto_escl_source_info *src)
{
    proto_escl_source_caps *c = &src->caps;

    for (const xmlNode *e = prof->children; e != NULL; e = e->next) {
        char t[PROTO_ESCL_VALUE_SIZE];

        if (is_named(e, "ColorModes")) {
            for (const xmlNode *m = e->children; m != NULL; m = m->next) {
                enum proto_escl_color_mode cm;

                if (!is_named(m, "ColorMode") || text_of(m, t, sizeof(t)) != 0)
                    continue;
                cm = escl_color_mode_from(t);
                if (cm != PROTO_ESCL_COLOR_NONE)
                    c->color_modes |= 1u << cm;
            }
        } else if (is_named(e, "DocumentFormats")) {
            for (const xmlNode *f = e->children; f != NULL; f = f->next) {
                if ((!is_named(f, "DocumentFormat") && !is_named(f, "DocumentFormatExt")) ||
                    text_of(f, t, sizeof(t)) != 0 || t[0] == '\0')
                    continue;
                c->formats |= 1u << escl_format_from(t);
            }
        }
    }
}

static int parse_input_caps(const xmlNode *n, const char *qname, proto_escl_source_info *src,
                            proto_escl_diag *diag)
{
    static const char *const dims[] = {"MinWidth", "MaxWidth", "MinHeight", "MaxHeight"};
    proto_escl_source_caps *c = &src->caps;
    uint32_t v[4] = {0};
    int rc;

    memset(src, 0, sizeof(*src));
    c->present = true;
    for (int i = 0; i < 4; i++) {
        const xmlNode *d = child(n, dims[i]);
        char detail[64];

        if (d == NULL && (i == 0 || i == 2))
            continue; /* a minimum may be omitted: 0 */
        if (d == NULL || uint_of(d, PROTO_ESCL_MAX_EXTENT, &v[i]) != 0 ||
            ((i == 1 || i == 3) && v[i] == 0)) {
            snprintf(detail, sizeof(detail), "scan:%s %s", dims[i],
                     d == NULL ? "missing" : "not 1..100000");
            return fail(diag, PROTO_E_ESCL_BAD_REGION, qname, d != NULL ? d : n, detail);
        }
    }
    if (v[0] > v[1] || v[2] > v[3])
        return fail(diag, PROTO_E_ESCL_BAD_REGION, qname, n, "a minimum above its maximum");
    c->min_width = v[0];
    c->max_width = v[1];
    c->min_height = v[2];
    c->max_height = v[3];
    c->max_scan_regions = uint_or_0(n, "MaxScanRegions");
    c->max_optical_res = uint_or_0(n, "MaxOpticalXResolution");
    if (c->max_optical_res > PROTO_ESCL_MAX_RES)
        c->max_optical_res = 0;
    for (const xmlNode *e = n->children; e != NULL; e = e->next) {
        if (is_named(e, "SupportedIntents")) {
            for (const xmlNode *i = e->children; i != NULL; i = i->next) {
                char t[PROTO_ESCL_VALUE_SIZE];

                if ((is_named(i, "Intent") || is_named(i, "SupportedIntent")) &&
                    text_of(i, t, sizeof(t)) == 0)
                    c->intents |= 1u << escl_intent_from(t);
            }
        } else if (is_named(e, "SettingProfiles")) {
            for (const xmlNode *p = e->children; p != NULL; p = p->next) {
                const xmlNode *sr;

                if (!is_named(p, "SettingProfile"))
                    continue;
                parse_profile(p, src);
                sr = child(p, "SupportedResolutions");
                if (sr != NULL && (rc = parse_resolutions(sr, src, diag)) != PROTO_OK)
                    return rc;
            }
        }
    }
    return PROTO_OK;
}

static void copy_text(const xmlNode *parent, const char *local, char *buf, size_t size)
{
    const xmlNode *n = child(parent, local);

    buf[0] = '\0';
    if (n != NULL)
        text_of(n, buf, size);
}

int proto_escl_caps_parse(const uint8_t *xml, size_t len, proto_escl_caps_info *out,
                          proto_escl_diag *diag)
{
    xmlDocPtr doc;
    const xmlNode *root, *n;
    char ver[PROTO_ESCL_VALUE_SIZE];
    int rc;

    if (diag != NULL)
        memset(diag, 0, sizeof(*diag));
    memset(out, 0, sizeof(*out));
    rc = escl_doc_read(xml, len, PROTO_ESCL_MAX_CAPS_DOC, false, &doc, diag);
    if (rc != PROTO_OK)
        return rc;
    root = xmlDocGetRootElement(doc);
    if (!is_named(root, "ScannerCapabilities")) {
        rc = fail(diag, PROTO_E_ESCL_ROOT, "scan:ScannerCapabilities", root,
                  (const char *)root->name);
        goto out_free_doc;
    }
    n = child(root, "Version");
    if (n == NULL) {
        rc = fail(diag, PROTO_E_ESCL_NO_VERSION, "pwg:Version", root, NULL);
        goto out_free_doc;
    }
    if (text_of(n, ver, sizeof(ver)) != 0 || !valid_version(ver) ||
        strlen(ver) >= sizeof(out->version)) {
        rc = fail(diag, PROTO_E_ESCL_BAD_VERSION, "pwg:Version", n, ver);
        goto out_free_doc;
    }
    strcpy(out->version, ver);
    copy_text(root, "MakeAndModel", out->make_and_model, sizeof(out->make_and_model));
    copy_text(root, "Manufacturer", out->manufacturer, sizeof(out->manufacturer));
    copy_text(root, "SerialNumber", out->serial_number, sizeof(out->serial_number));
    copy_text(root, "UUID", out->uuid, sizeof(out->uuid));

    n = child(root, "Platen");
    if (n != NULL && (n = child(n, "PlatenInputCaps")) != NULL &&
        (rc = parse_input_caps(n, "scan:PlatenInputCaps", &out->platen, diag)) != PROTO_OK)
        goto out_free_doc;
    n = child(root, "Adf");
    if (n != NULL) {
        const xmlNode *s = child(n, "AdfSimplexInputCaps"), *d = child(n, "AdfDuplexInputCaps");
        const xmlNode *o = child(n, "AdfOptions");

        if (s != NULL && (rc = parse_input_caps(s, "scan:AdfSimplexInputCaps", &out->adf_simplex,
                                                diag)) != PROTO_OK)
            goto out_free_doc;
        if (d != NULL && (rc = parse_input_caps(d, "scan:AdfDuplexInputCaps", &out->adf_duplex,
                                                diag)) != PROTO_OK)
            goto out_free_doc;
        out->feeder_capacity = uint_or_0(n, "FeederCapacity");
        for (const xmlNode *c = o != NULL ? o->children : NULL; c != NULL; c = c->next) {
            char t[PROTO_ESCL_VALUE_SIZE];

            if (!is_named(c, "AdfOption") || text_of(c, t, sizeof(t)) != 0)
                continue;
            if (strcmp(t, "DetectPaperLoaded") == 0)
                out->adf_options |= PROTO_ESCL_ADF_DETECT_PAPER_LOADED;
            else if (strcmp(t, "SelectSinglePage") == 0)
                out->adf_options |= PROTO_ESCL_ADF_SELECT_SINGLE_PAGE;
            else if (strcmp(t, "Duplex") == 0)
                out->adf_options |= PROTO_ESCL_ADF_DUPLEX;
        }
    }
    if (!out->platen.caps.present && !out->adf_simplex.caps.present &&
        !out->adf_duplex.caps.present) {
        rc = fail(diag, PROTO_E_ESCL_NO_SUCH_SOURCE, "scan:Platen", root,
                  "no scan:PlatenInputCaps, scan:AdfSimplexInputCaps or scan:AdfDuplexInputCaps");
        goto out_free_doc;
    }
    n = child(root, "CompressionFactorSupport");
    if (n != NULL) {
        out->compression_min = uint_or_0(n, "Min");
        out->compression_max = uint_or_0(n, "Max");
        out->compression_normal = uint_or_0(n, "Normal");
        out->compression_step = uint_or_0(n, "Step");
    }
    rc = PROTO_OK;

out_free_doc:
    xmlFreeDoc(doc);
    if (rc != PROTO_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

static int on_range(const proto_escl_res_range *r, uint32_t dpi)
{
    return r->max != 0 && dpi >= r->min && dpi <= r->max && (dpi - r->min) % r->step == 0;
}

bool proto_escl_source_has_resolution(const proto_escl_source_info *src, uint32_t dpi)
{
    for (size_t i = 0; i < src->caps.n_resolutions && i < PROTO_ESCL_MAX_RESOLUTIONS; i++)
        if (src->caps.resolutions[i] == dpi)
            return true;
    return on_range(&src->x_range, dpi) && on_range(&src->y_range, dpi);
}

/* ---- status -------------------------------------------------------------------- */

static void parse_job(const xmlNode *ji, proto_escl_status_info *st)
{
    proto_escl_job_info *j;
    const xmlNode *n;

    if (st->n_jobs >= PROTO_ESCL_MAX_JOBS) {
        st->dropped_jobs++;
        return;
    }
    j = &st->jobs[st->n_jobs];
    memset(j, 0, sizeof(*j));
    n = child(ji, "JobUri");
    if (n != NULL) {
        /* cut would name another job: such a job is dropped, not kept wrong */
        char uri[PROTO_ESCL_URI_SIZE + 1];

        text_of(n, uri, sizeof(uri));
        if (strlen(uri) >= PROTO_ESCL_URI_SIZE) {
            st->dropped_jobs++;
            return;
        }
        strcpy(j->uri, uri);
    }
    copy_text(ji, "JobUuid", j->uuid, sizeof(j->uuid));
    j->age = uint_or_0(ji, "Age");
    j->images_completed = uint_or_0(ji, "ImagesCompleted");
    j->images_to_transfer = uint_or_0(ji, "ImagesToTransfer");
    n = child(ji, "JobState");
    if (n != NULL) {
        text_of(n, j->state_text, sizeof(j->state_text));
        j->state = escl_job_state_from(j->state_text);
        j->have_state = true;
    }
    n = child(ji, "JobStateReasons");
    if (n != NULL && (n = child(n, "JobStateReason")) != NULL)
        text_of(n, j->reason, sizeof(j->reason));
    st->n_jobs++;
}

int proto_escl_status_parse(const uint8_t *xml, size_t len, proto_escl_status_info *out,
                            proto_escl_diag *diag)
{
    xmlDocPtr doc;
    const xmlNode *root, *n;
    int rc = PROTO_OK;

    if (diag != NULL)
        memset(diag, 0, sizeof(*diag));
    memset(out, 0, sizeof(*out));
    rc = escl_doc_read(xml, len, PROTO_ESCL_MAX_STATUS_DOC, false, &doc, diag);
    if (rc != PROTO_OK)
        return rc;
    root = xmlDocGetRootElement(doc);
    if (!is_named(root, "ScannerStatus")) {
        rc = fail(diag, PROTO_E_ESCL_ROOT, "scan:ScannerStatus", root, (const char *)root->name);
        goto out_free_doc;
    }
    copy_text(root, "Version", out->version, sizeof(out->version));
    out->state = PROTO_ESCL_STATE_OTHER;
    n = child(root, "State");
    if (n != NULL) {
        text_of(n, out->state_text, sizeof(out->state_text));
        out->state = escl_state_from(out->state_text);
    }
    n = child(root, "AdfState");
    if (n != NULL) {
        text_of(n, out->adf_state_text, sizeof(out->adf_state_text));
        out->adf_state = escl_adf_state_from(out->adf_state_text);
    }
    n = child(root, "Jobs");
    for (const xmlNode *c = n != NULL ? n->children : NULL; c != NULL; c = c->next)
        if (is_named(c, "JobInfo"))
            parse_job(c, out);

out_free_doc:
    xmlFreeDoc(doc);
    if (rc != PROTO_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* The path of a URI: after "scheme://authority" when there is one. */
static const char *uri_path(const char *u)
{
    const char *s = strstr(u, "://");

    if (s == NULL)
        return u;
    s = strchr(s + 3, '/');
    return s != NULL ? s : "/";
}

const proto_escl_job_info *proto_escl_status_job(const proto_escl_status_info *st, const char *job)
{
    const char *want = uri_path(job);
    size_t wn = strlen(want);

    while (wn > 1 && want[wn - 1] == '/')
        wn--;
    for (size_t i = 0; i < st->n_jobs && i < PROTO_ESCL_MAX_JOBS; i++) {
        const char *have = uri_path(st->jobs[i].uri);
        size_t hn = strlen(have);

        while (hn > 1 && have[hn - 1] == '/')
            hn--;
        if (hn == wn && strncmp(have, want, wn) == 0)
            return &st->jobs[i];
    }
    return NULL;
}
