/* eSCL wire names of the enums in escl.h: one table each, shared by the
 * ScanSettings parser and the writers. */
#include <string.h>
#include <strings.h>

#include "escl-internal.h"

static const char *const color_modes[] = {
    [PROTO_ESCL_COLOR_BW1] = "BlackAndWhite1", [PROTO_ESCL_COLOR_GRAY8] = "Grayscale8",
    [PROTO_ESCL_COLOR_RGB24] = "RGB24",        [PROTO_ESCL_COLOR_GRAY16] = "Grayscale16",
    [PROTO_ESCL_COLOR_RGB48] = "RGB48",
};

static const char *const sources[] = {
    [PROTO_ESCL_SOURCE_PLATEN] = "Platen",
    [PROTO_ESCL_SOURCE_FEEDER] = "Feeder",
    [PROTO_ESCL_SOURCE_CAMERA] = "Camera",
};

static const char *const intents[] = {
    [PROTO_ESCL_INTENT_DOCUMENT] = "Document",
    [PROTO_ESCL_INTENT_TEXT_AND_GRAPHIC] = "TextAndGraphic",
    [PROTO_ESCL_INTENT_PHOTO] = "Photo",
    [PROTO_ESCL_INTENT_PREVIEW] = "Preview",
    [PROTO_ESCL_INTENT_OBJECT] = "Object",
    [PROTO_ESCL_INTENT_BUSINESS_CARD] = "BusinessCard",
};

static const char *const formats[] = {
    [PROTO_ESCL_FORMAT_PNG] = "image/png",
    [PROTO_ESCL_FORMAT_JPEG] = "image/jpeg",
    [PROTO_ESCL_FORMAT_PDF] = "application/pdf",
    [PROTO_ESCL_FORMAT_TIFF] = "image/tiff",
};

static const char *const adf_states[] = {
    [PROTO_ESCL_ADF_LOADED] = "ScannerAdfLoaded",
    [PROTO_ESCL_ADF_EMPTY] = "ScannerAdfEmpty",
    [PROTO_ESCL_ADF_JAM] = "ScannerAdfJam",
    [PROTO_ESCL_ADF_DOOR_OPEN] = "ScannerAdfDoorOpen",
    [PROTO_ESCL_ADF_MULTIPICK] = "ScannerAdfMultipickDetected",
};

static const char *const states[] = {
    [PROTO_ESCL_STATE_IDLE] = "Idle",
    [PROTO_ESCL_STATE_PROCESSING] = "Processing",
    [PROTO_ESCL_STATE_TESTING] = "Testing",
    [PROTO_ESCL_STATE_STOPPED] = "Stopped",
};

static const char *const job_states[] = {
    [PROTO_ESCL_JOB_PENDING] = "Pending",     [PROTO_ESCL_JOB_PROCESSING] = "Processing",
    [PROTO_ESCL_JOB_COMPLETED] = "Completed", [PROTO_ESCL_JOB_CANCELED] = "Canceled",
    [PROTO_ESCL_JOB_ABORTED] = "Aborted",
};

#define NAME_AT(table, i)                                                                          \
    ((unsigned)(i) < sizeof(table) / sizeof((table)[0]) ? (table)[(unsigned)(i)] : NULL)

const char *proto_escl_color_mode_name(enum proto_escl_color_mode m)
{
    return NAME_AT(color_modes, m);
}

const char *proto_escl_source_name(enum proto_escl_source s)
{
    return NAME_AT(sources, s);
}

const char *proto_escl_intent_name(enum proto_escl_intent i)
{
    return NAME_AT(intents, i);
}

const char *proto_escl_format_mime(enum proto_escl_format f)
{
    return NAME_AT(formats, f);
}

const char *proto_escl_adf_state_name(enum proto_escl_adf_state a)
{
    return NAME_AT(adf_states, a);
}

const char *proto_escl_state_name(enum proto_escl_state s)
{
    return NAME_AT(states, s);
}

const char *proto_escl_job_state_name(enum proto_escl_job_state j)
{
    return NAME_AT(job_states, j);
}

/* Exact (case-sensitive, as the clients compare) lookups for the parser;
 * 0 (the NONE value) when s is not a name in the table. */
static int lookup(const char *const *table, size_t n, const char *s)
{
    for (size_t i = 1; i < n; i++)
        if (table[i] != NULL && strcmp(table[i], s) == 0)
            return (int)i;
    return 0;
}

#define LOOKUP(table, s) lookup(table, sizeof(table) / sizeof((table)[0]), s)

enum proto_escl_color_mode escl_color_mode_from(const char *s)
{
    return (enum proto_escl_color_mode)LOOKUP(color_modes, s);
}

enum proto_escl_adf_state escl_adf_state_from(const char *s)
{
    int i = LOOKUP(adf_states, s);
    return i ? (enum proto_escl_adf_state)i : PROTO_ESCL_ADF_OTHER;
}

/* Idle is 0: looked up by hand. */
enum proto_escl_state escl_state_from(const char *s)
{
    if (strcmp(s, "Down") == 0)
        return PROTO_ESCL_STATE_DOWN; /* parsed only: no name, never written */
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (states[i] != NULL && strcmp(states[i], s) == 0)
            return (enum proto_escl_state)i;
    return PROTO_ESCL_STATE_OTHER;
}

enum proto_escl_job_state escl_job_state_from(const char *s)
{
    for (size_t i = 0; i < sizeof(job_states) / sizeof(job_states[0]); i++)
        if (job_states[i] != NULL && strcmp(job_states[i], s) == 0)
            return (enum proto_escl_job_state)i;
    return PROTO_ESCL_JOB_OTHER;
}

enum proto_escl_source escl_source_from(const char *s)
{
    return (enum proto_escl_source)LOOKUP(sources, s);
}

enum proto_escl_intent escl_intent_from(const char *s)
{
    int i = LOOKUP(intents, s);
    return i ? (enum proto_escl_intent)i : PROTO_ESCL_INTENT_OTHER;
}

/* MIME types compare case-insensitively (RFC 2045; sane-airscan uses
 * strcasecmp on DocumentFormat too). */
enum proto_escl_format escl_format_from(const char *s)
{
    for (size_t i = 1; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (formats[i] != NULL && strcasecmp(formats[i], s) == 0)
            return (enum proto_escl_format)i;
    return PROTO_ESCL_FORMAT_OTHER;
}
