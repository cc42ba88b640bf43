/* Parsed ScanSettings against the scanner's capabilities: the refusals a
 * device answers POST ScanJobs with (the front picks the status code). */
#include <stdio.h>
#include <string.h>

#include "escl-internal.h"

const proto_escl_source_caps *proto_escl_settings_source(const proto_escl_settings *s,
                                                         const proto_escl_caps *caps)
{
    switch (s->source) {
    case PROTO_ESCL_SOURCE_NONE:
        if (s->duplex) /* only a feeder turns the sheet */
            return caps->adf_duplex.present ? &caps->adf_duplex : NULL;
        if (caps->platen.present)
            return &caps->platen;
        return caps->adf_simplex.present ? &caps->adf_simplex : NULL;
    case PROTO_ESCL_SOURCE_PLATEN:
        return caps->platen.present ? &caps->platen : NULL;
    case PROTO_ESCL_SOURCE_FEEDER:
        if (s->duplex)
            return caps->adf_duplex.present ? &caps->adf_duplex : NULL;
        return caps->adf_simplex.present ? &caps->adf_simplex : NULL;
    default: /* Camera: no scanemu profile has one */
        return NULL;
    }
}

static int fail(proto_escl_diag *diag, int err, const char *element, const char *detail)
{
    escl_diag_set(diag, err, element, 0, detail);
    return err;
}

int proto_escl_settings_check(const proto_escl_settings *s, const proto_escl_caps *caps,
                              proto_escl_diag *diag)
{
    const proto_escl_source_caps *src;
    char detail[96];

    if (diag != NULL)
        diag->err = PROTO_OK;
    if (s->duplex && s->source == PROTO_ESCL_SOURCE_PLATEN)
        return fail(diag, PROTO_E_ESCL_NO_DUPLEX, "scan:Duplex", "the platen scans one side");
    src = proto_escl_settings_source(s, caps);
    if (src == NULL) {
        if (s->duplex && (s->source == PROTO_ESCL_SOURCE_NONE ||
                          (s->source == PROTO_ESCL_SOURCE_FEEDER && caps->adf_simplex.present)))
            return fail(diag, PROTO_E_ESCL_NO_DUPLEX, "scan:Duplex", "no feeder scans both sides");
        snprintf(detail, sizeof(detail), "%s",
                 s->source != PROTO_ESCL_SOURCE_NONE ? proto_escl_source_name(s->source)
                                                     : "no source at all");
        return fail(diag, PROTO_E_ESCL_NO_SUCH_SOURCE, "pwg:InputSource", detail);
    }

    if (s->color_mode != PROTO_ESCL_COLOR_NONE && !(src->color_modes & (1u << s->color_mode))) {
        snprintf(
            detail, sizeof(detail), "%s%s", proto_escl_color_mode_name(s->color_mode),
            (s->color_mode == PROTO_ESCL_COLOR_GRAY16 || s->color_mode == PROTO_ESCL_COLOR_RGB48)
                ? " (16-bit modes are not offered)"
                : "");
        return fail(diag, PROTO_E_ESCL_NO_SUCH_COLOR_MODE, "scan:ColorMode", detail);
    }

    if (s->have & PROTO_ESCL_HAVE_RESOLUTION) {
        int found = 0;
        for (size_t i = 0; i < src->n_resolutions && i < PROTO_ESCL_MAX_RESOLUTIONS; i++)
            found |= src->resolutions[i] == s->x_res;
        if (s->x_res != s->y_res || !found) {
            snprintf(detail, sizeof(detail), "%ux%u dpi", (unsigned)s->x_res, (unsigned)s->y_res);
            return fail(diag, PROTO_E_ESCL_NO_SUCH_RESOLUTION, "scan:XResolution", detail);
        }
    }

    if (s->format != PROTO_ESCL_FORMAT_NONE &&
        (s->format == PROTO_ESCL_FORMAT_OTHER || !(src->formats & (1u << s->format)))) {
        char shown[40];
        escl_sanitize(shown, sizeof(shown), s->format_mime,
                      strnlen(s->format_mime, sizeof(s->format_mime)));
        return fail(diag, PROTO_E_ESCL_NO_SUCH_FORMAT,
                    (s->have & PROTO_ESCL_HAVE_FORMAT) ? "pwg:DocumentFormat"
                                                       : "scan:DocumentFormatExt",
                    shown);
    }

    if (s->have & PROTO_ESCL_HAVE_REGION) {
        const char *what = NULL;
        if (s->width < src->min_width)
            what = "pwg:Width below scan:MinWidth";
        else if (s->height < src->min_height)
            what = "pwg:Height below scan:MinHeight";
        else if ((uint64_t)s->x_offset + s->width > src->max_width)
            what = "pwg:XOffset + pwg:Width beyond scan:MaxWidth";
        else if ((uint64_t)s->y_offset + s->height > src->max_height)
            what = "pwg:YOffset + pwg:Height beyond scan:MaxHeight";
        if (what != NULL) {
            snprintf(detail, sizeof(detail), "%s (%u,%u %ux%u of %ux%u)", what,
                     (unsigned)s->x_offset, (unsigned)s->y_offset, (unsigned)s->width,
                     (unsigned)s->height, (unsigned)src->max_width, (unsigned)src->max_height);
            return fail(diag, PROTO_E_ESCL_REGION_OUTSIDE, "pwg:ScanRegion", detail);
        }
    }
    return PROTO_OK;
}
