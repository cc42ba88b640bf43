/* eSCL (AirScan) documents: ScanSettings in; ScannerCapabilities,
 * ScannerStatus and ScanImageInfo out, as the real clients (sane-airscan,
 * sane-backends' escl backend, ipp-usb) read and write them: docs/escl.md,
 * "What the clients send"; its "Codecs" has the limits and why.
 *
 * Pure: no I/O, no process-global state changed. The parser uses libxml2,
 * which allocates internally and frees everything before returning; the
 * writers allocate nothing and write into the caller's buffer.
 *
 * libxml2 must be initialised once per process: call proto_escl_init()
 * before the first parse, from one thread, before others use the codec
 * (libxml2's xmlInitParser). The parser never touches libxml2's global
 * error handlers or defaults: each parse has its own context, options and
 * error handler.
 *
 * Namespaces. Input elements are matched by namespace URI and local name,
 * so any prefix (or a default namespace) works. Output always uses exactly
 * the prefixes pwg: and scan: (sane-airscan 0.99.27 and ipp-usb compare
 * the literal prefixed names).
 */
#ifndef SCANEMU_PROTOCOL_ESCL_H
#define SCANEMU_PROTOCOL_ESCL_H

#include <stdbool.h>

#include "protocol/proto.h"

#define PROTO_ESCL_NS_PWG  "http://www.pwg.org/schemas/2010/12/sm"
#define PROTO_ESCL_NS_SCAN "http://schemas.hp.com/imaging/escl/2011/05/03"
/* pwg:Version written when the caller gives none. The escl backend sends
 * scan:DocumentFormatExt alone to a device above 2.0, pwg:DocumentFormat
 * alone otherwise; sane-airscan sends pwg:DocumentFormat always, plus
 * scan:DocumentFormatExt when the capabilities list it. */
#define PROTO_ESCL_VERSION "2.63"

/* Limits of the ScanSettings parser (untrusted input). */
#define PROTO_ESCL_MAX_DOC         65536u  /* 64 KiB: document bytes */
#define PROTO_ESCL_MAX_DEPTH       16u     /* element nesting, root = 1 */
#define PROTO_ESCL_MAX_RES         9600u   /* dpi */
#define PROTO_ESCL_MAX_EXTENT      100000u /* 1/300 inch (8.4 m) */
#define PROTO_ESCL_MAX_COMPRESSION 1000000u
#define PROTO_ESCL_VALUE_SIZE      64u  /* element text after trimming, with NUL */
#define PROTO_ESCL_VERSION_SIZE    16u  /* pwg:Version text, with NUL */
#define PROTO_ESCL_DIAG_SIZE       200u /* diagnostic line, with NUL */

/* Limits of the writers' input, and a buffer size that always suffices for
 * any input within them. */
#define PROTO_ESCL_MAX_STRING      256u /* bytes of a caller string, without NUL */
#define PROTO_ESCL_MAX_RESOLUTIONS 16u
#define PROTO_ESCL_MAX_JOBS        16u
#define PROTO_ESCL_MAX_REASONS     4u
#define PROTO_ESCL_OUT_MAX         65536u /* 64 KiB */

enum proto_escl_source {
    PROTO_ESCL_SOURCE_NONE = 0, /* pwg:InputSource absent */
    PROTO_ESCL_SOURCE_PLATEN,
    PROTO_ESCL_SOURCE_FEEDER,
    PROTO_ESCL_SOURCE_CAMERA, /* parsed, never offered: refused by check */
};

/* Bit (1u << mode) in proto_escl_source_caps.color_modes. */
enum proto_escl_color_mode {
    PROTO_ESCL_COLOR_NONE = 0,
    PROTO_ESCL_COLOR_BW1,    /* BlackAndWhite1 */
    PROTO_ESCL_COLOR_GRAY8,  /* Grayscale8 */
    PROTO_ESCL_COLOR_RGB24,  /* RGB24 */
    PROTO_ESCL_COLOR_GRAY16, /* Grayscale16: parsed so check can refuse it by name */
    PROTO_ESCL_COLOR_RGB48,  /* RGB48: likewise */
};

/* Bit (1u << intent) in proto_escl_source_caps.intents. */
enum proto_escl_intent {
    PROTO_ESCL_INTENT_NONE = 0,
    PROTO_ESCL_INTENT_DOCUMENT,
    PROTO_ESCL_INTENT_TEXT_AND_GRAPHIC,
    PROTO_ESCL_INTENT_PHOTO,
    PROTO_ESCL_INTENT_PREVIEW,
    PROTO_ESCL_INTENT_OBJECT,
    PROTO_ESCL_INTENT_BUSINESS_CARD,
    PROTO_ESCL_INTENT_OTHER, /* parsed only: scan:Intent is advisory, unknown values pass */
};

/* Bit (1u << format) in proto_escl_source_caps.formats. */
enum proto_escl_format {
    PROTO_ESCL_FORMAT_NONE = 0,
    PROTO_ESCL_FORMAT_PNG,   /* image/png */
    PROTO_ESCL_FORMAT_JPEG,  /* image/jpeg */
    PROTO_ESCL_FORMAT_PDF,   /* application/pdf */
    PROTO_ESCL_FORMAT_TIFF,  /* image/tiff */
    PROTO_ESCL_FORMAT_OTHER, /* parsed only: the MIME type is in format_mime */
};

/* proto_escl_settings.have: which optional elements were present. */
#define PROTO_ESCL_HAVE_INTENT      (1u << 0)
#define PROTO_ESCL_HAVE_SOURCE      (1u << 1) /* pwg:InputSource or scan:InputSource */
#define PROTO_ESCL_HAVE_DUPLEX      (1u << 2)
#define PROTO_ESCL_HAVE_COLOR_MODE  (1u << 3)
#define PROTO_ESCL_HAVE_RESOLUTION  (1u << 4) /* scan:XResolution and/or scan:YResolution */
#define PROTO_ESCL_HAVE_REGION      (1u << 5)
#define PROTO_ESCL_HAVE_FORMAT      (1u << 6) /* pwg:DocumentFormat */
#define PROTO_ESCL_HAVE_FORMAT_EXT  (1u << 7) /* scan:DocumentFormatExt */
#define PROTO_ESCL_HAVE_COMPRESSION (1u << 8)

/* A parsed ScanSettings. Fields whose element was absent are zero (and
 * their have bit clear); the caller picks defaults. Valid only when the
 * parse returned PROTO_OK. Elements the codec does not model (Brightness,
 * Contrast, BlackPoint, ContentType, FeedDirection, vendor extensions...)
 * are ignored, as a device would. */
typedef struct proto_escl_settings {
    char version[PROTO_ESCL_VERSION_SIZE]; /* pwg:Version as sent: "2.0", "2.63", the escl backend's
                                              "2.00" */
    uint32_t have;                         /* PROTO_ESCL_HAVE_* */
    enum proto_escl_intent intent;
    enum proto_escl_source source;
    bool duplex;
    enum proto_escl_color_mode color_mode;
    uint32_t x_res, y_res; /* dpi; one of them alone stands for both */
    /* The scan region, 1/300 inch. Offsets default to 0 when absent. */
    uint32_t x_offset, y_offset, width, height;
    /* The document format: pwg:DocumentFormat and/or scan:DocumentFormatExt
     * (equal when both are given). format_mime is as sent, trimmed. */
    enum proto_escl_format format;
    char format_mime[PROTO_ESCL_VALUE_SIZE];
    uint32_t compression; /* scan:CompressionFactor */
} proto_escl_settings;

/* Where and why a document was refused (or a check failed). element is the
 * canonical prefixed name of the offending element ("pwg:InputSource") or
 * NULL; line is its line, 0 if unknown; msg is one printable line naming
 * the element and, for bad values, the value received (sanitised and
 * truncated), fit to send back in a 4xx body. */
typedef struct proto_escl_diag {
    int err;
    int line;
    const char *element;
    char msg[PROTO_ESCL_DIAG_SIZE];
} proto_escl_diag;

/* Once per process, before the first parse: libxml2's xmlInitParser. */
void proto_escl_init(void);

/* Parse a ScanSettings document (the body of POST ScanJobs, whatever its
 * Content-Type). Returns PROTO_OK or one of (diag, if not NULL, says
 * where):
 *   PROTO_E_ESCL_TOO_LARGE      len > PROTO_ESCL_MAX_DOC (nothing parsed)
 *   PROTO_E_ESCL_XML            not well-formed (libxml2's message in diag),
 *                               including an undeclared entity reference,
 *                               and any byte that is not UTF-8 or is NUL
 *                               (checked first; UTF-16/32 documents are
 *                               refused, an encoding declaration is ignored)
 *   PROTO_E_ESCL_DOCTYPE        any <!DOCTYPE>: parsing stops at it, before
 *                               an internal subset is read, so entity bombs
 *                               (billion laughs, quadratic blowup) and
 *                               external entities never expand
 *   PROTO_E_ESCL_TOO_DEEP       nesting > PROTO_ESCL_MAX_DEPTH: parsing stops
 *   PROTO_E_ESCL_NOMEM          libxml2 ran out of memory
 *   PROTO_E_ESCL_ROOT           root is not {scan}ScanSettings
 *   PROTO_E_ESCL_DUPLICATE      a single-valued element repeated (any of those
 *                               below, pwg:ScanRegions, a region's children)
 *   PROTO_E_ESCL_NO_VERSION     no pwg:Version
 *   PROTO_E_ESCL_BAD_VERSION    pwg:Version not digits with '.' or ','
 *   PROTO_E_ESCL_BAD_SOURCE     pwg:InputSource (or scan:InputSource, which the
 *                               escl backend once sent too) not Platen/Feeder/Camera
 *   PROTO_E_ESCL_SOURCE_CONFLICT both InputSource spellings, different values
 *   PROTO_E_ESCL_BAD_DUPLEX     scan:Duplex not an xsd:boolean
 *   PROTO_E_ESCL_BAD_COLOR_MODE scan:ColorMode not BlackAndWhite1, Grayscale8,
 *                               Grayscale16, RGB24 or RGB48
 *   PROTO_E_ESCL_BAD_RESOLUTION X/YResolution not an integer 1..PROTO_ESCL_MAX_RES
 *   PROTO_E_ESCL_REGIONS        more than one pwg:ScanRegion (MaxScanRegions 1)
 *   PROTO_E_ESCL_BAD_REGION     XOffset/YOffset not 0..MAX_EXTENT, Width/Height
 *                               not 1..MAX_EXTENT, or offset + size > MAX_EXTENT
 *   PROTO_E_ESCL_REGION_INCOMPLETE a pwg:ScanRegion without Width or Height
 *   PROTO_E_ESCL_BAD_UNITS      pwg:ContentRegionUnits other than
 *                               (prefix:)ThreeHundredthsOfInches; absent = that
 *   PROTO_E_ESCL_BAD_FORMAT     a format empty, too long or not type/subtype
 *   PROTO_E_ESCL_FORMAT_CONFLICT both format elements, different values
 *                               (compared case-insensitively)
 *   PROTO_E_ESCL_BAD_COMPRESSION scan:CompressionFactor not 0..MAX_COMPRESSION
 * Numbers are unsigned decimal, surrounding XML whitespace allowed. A value
 * element that contains an element, or text longer than
 * PROTO_ESCL_VALUE_SIZE - 1 bytes after trimming, is a bad value of that
 * element. Unknown elements, attributes, comments and processing
 * instructions are ignored. out is valid only on PROTO_OK. */
int proto_escl_settings_parse(const uint8_t *xml, size_t len, proto_escl_settings *out,
                              proto_escl_diag *diag);

/* One input source's capabilities (all sizes 1/300 inch). */
typedef struct proto_escl_source_caps {
    bool present;
    uint32_t min_width, max_width, min_height, max_height;
    uint32_t max_scan_regions; /* 0 writes 1 */
    uint32_t max_optical_res;  /* scan:MaxOptical{X,Y}Resolution; 0 = omit */
    uint32_t color_modes;      /* 1u << proto_escl_color_mode; 16-bit modes refused */
    uint32_t formats;          /* 1u << proto_escl_format, PNG..TIFF */
    uint32_t intents;          /* 1u << proto_escl_intent, DOCUMENT..BUSINESS_CARD;
                                  0 = omit scan:SupportedIntents */
    /* Discrete resolutions, X = Y (sane-airscan mis-parses ResolutionRange),
     * strictly ascending, 1..PROTO_ESCL_MAX_RES. */
    uint32_t resolutions[PROTO_ESCL_MAX_RESOLUTIONS];
    size_t n_resolutions;
} proto_escl_source_caps;

/* scan:AdfOptions bits. */
#define PROTO_ESCL_ADF_DETECT_PAPER_LOADED (1u << 0)
#define PROTO_ESCL_ADF_SELECT_SINGLE_PAGE  (1u << 1)
#define PROTO_ESCL_ADF_DUPLEX              (1u << 2)

/* The scanner's capabilities. Optional strings are NULL to omit them. */
typedef struct proto_escl_caps {
    const char *version; /* NULL = PROTO_ESCL_VERSION */
    const char *make_and_model;
    const char *manufacturer;
    const char *serial_number;
    const char *uuid; /* 8-4-4-4-12 hex digits (go-mfp refuses anything else) */
    const char *admin_uri;
    const char *icon_uri;
    proto_escl_source_caps platen, adf_simplex, adf_duplex; /* at least one present */
    uint32_t feeder_capacity;                               /* scan:FeederCapacity, 0 = omit */
    uint32_t adf_options; /* PROTO_ESCL_ADF_*, 0 = omit scan:AdfOptions */
    /* scan:CompressionFactorSupport (sane-airscan sends scan:CompressionFactor
     * only when this is present); omitted when max is 0. */
    uint32_t compression_min, compression_max, compression_normal, compression_step;
} proto_escl_caps;

/* Check parsed settings against the capabilities. An absent element passes
 * (the caller's default applies); the source checked is the one requested,
 * else the platen if present, else the ADF. Returns PROTO_OK or (diag says
 * which element):
 *   PROTO_E_ESCL_NO_SUCH_SOURCE     the source is missing (Camera always is)
 *   PROTO_E_ESCL_NO_DUPLEX          Duplex true on the platen, or without
 *                                   adf_duplex
 *   PROTO_E_ESCL_NO_SUCH_COLOR_MODE not in color_modes (Grayscale16 and RGB48
 *                                   never are: diag names them)
 *   PROTO_E_ESCL_NO_SUCH_RESOLUTION X != Y, or not in resolutions
 *   PROTO_E_ESCL_NO_SUCH_FORMAT     not in formats (OTHER never is)
 *   PROTO_E_ESCL_REGION_OUTSIDE     Width < MinWidth, Height < MinHeight,
 *                                   XOffset + Width > MaxWidth or
 *                                   YOffset + Height > MaxHeight */
int proto_escl_settings_check(const proto_escl_settings *s, const proto_escl_caps *caps,
                              proto_escl_diag *diag);

/* The source caps a request uses (as check chooses them), or NULL. */
const proto_escl_source_caps *proto_escl_settings_source(const proto_escl_settings *s,
                                                         const proto_escl_caps *caps);

enum proto_escl_state {
    PROTO_ESCL_STATE_IDLE = 0, /* the escl backend starts a scan only when Idle */
    PROTO_ESCL_STATE_PROCESSING,
    PROTO_ESCL_STATE_TESTING, /* warming up (sane-airscan: busy) */
    PROTO_ESCL_STATE_STOPPED,
    PROTO_ESCL_STATE_DOWN,  /* pwg:State Down (parsed; the front never reports it) */
    PROTO_ESCL_STATE_OTHER, /* parsed only: another value */
};

/* scan:AdfState values DESIGN section 8 lists; NONE omits the element. */
enum proto_escl_adf_state {
    PROTO_ESCL_ADF_NONE = 0,
    PROTO_ESCL_ADF_LOADED,    /* ScannerAdfLoaded */
    PROTO_ESCL_ADF_EMPTY,     /* ScannerAdfEmpty: SANE_STATUS_NO_DOCS */
    PROTO_ESCL_ADF_JAM,       /* ScannerAdfJam: SANE_STATUS_JAMMED */
    PROTO_ESCL_ADF_DOOR_OPEN, /* ScannerAdfDoorOpen: SANE_STATUS_COVER_OPEN */
    PROTO_ESCL_ADF_MULTIPICK, /* ScannerAdfMultipickDetected */
    PROTO_ESCL_ADF_OTHER,     /* parsed only: another value (its text is kept) */
};

enum proto_escl_job_state {
    PROTO_ESCL_JOB_PENDING = 0,
    PROTO_ESCL_JOB_PROCESSING,
    PROTO_ESCL_JOB_COMPLETED,
    PROTO_ESCL_JOB_CANCELED,
    PROTO_ESCL_JOB_ABORTED,
    PROTO_ESCL_JOB_OTHER, /* parsed only: another value */
};

/* One scan:JobInfo. Its children are written in the order of the eSCL
 * schema (and go-mfp): pwg:JobUri, pwg:JobUuid, scan:Age,
 * pwg:ImagesCompleted, pwg:ImagesToTransfer, pwg:JobState,
 * pwg:JobStateReasons. JobUri then JobUuid then JobState is what DESIGN
 * section 8 requires: the escl backend finds the JobUri naming its job and
 * reads JobState only from the siblings after it. */
typedef struct proto_escl_job {
    const char *uri;  /* "/eSCL/ScanJobs/<id>", required */
    const char *uuid; /* NULL = omit */
    uint32_t age;     /* seconds since the last change */
    uint32_t images_completed;
    uint32_t images_to_transfer;
    enum proto_escl_job_state state;
    /* pwg:JobStateReason values, e.g. "JobCompletedSuccessfully",
     * "JobScanning", "JobCanceledByUser", "AbortedBySystem": letters and
     * digits only. */
    const char *reasons[PROTO_ESCL_MAX_REASONS];
    size_t n_reasons;
} proto_escl_job;

typedef struct proto_escl_status {
    const char *version; /* NULL = PROTO_ESCL_VERSION */
    enum proto_escl_state state;
    enum proto_escl_adf_state adf_state;
    const proto_escl_job *jobs; /* newest first, as devices list them */
    size_t n_jobs;              /* 0 omits scan:Jobs */
} proto_escl_status;

typedef struct proto_escl_image_info {
    const char *job_uri;  /* required */
    const char *job_uuid; /* NULL = omit */
    uint32_t width, height, bytes_per_line;
    int blank_page; /* scan:BlankPageDetected: -1 omit, 0 false, 1 true */
} proto_escl_image_info;

/* Writers. Each writes a complete UTF-8 document (XML declaration, root with
 * xmlns:pwg and xmlns:scan, two-space indentation) and a terminating NUL
 * into buf, and returns its length without the NUL; PROTO_E_NOSPACE if cap
 * is too small (PROTO_ESCL_OUT_MAX always suffices), PROTO_E_BAD_FIELD if
 * the input breaks a rule above (no source, a string longer than
 * PROTO_ESCL_MAX_STRING, not UTF-8 or with control characters, a bad UUID
 * or reason, resolutions not ascending, an enum out of range, too many
 * jobs...). Text is escaped; buf's content is unspecified on error.
 *
 * ScannerCapabilities: pwg:Version, pwg:MakeAndModel, pwg:Manufacturer,
 * pwg:SerialNumber, scan:UUID, scan:AdminURI, scan:IconURI, scan:Platen
 * (scan:PlatenInputCaps first: sane-airscan reads only the first child),
 * scan:Adf (AdfSimplexInputCaps, AdfDuplexInputCaps, FeederCapacity,
 * AdfOptions), scan:CompressionFactorSupport. Each input caps: Min/Max
 * Width/Height, MaxOptical{X,Y}Resolution, MaxScanRegions,
 * SupportedIntents/Intent, SettingProfiles/SettingProfile with ColorModes,
 * DocumentFormats (every pwg:DocumentFormat, then every
 * scan:DocumentFormatExt) and SupportedResolutions/DiscreteResolutions. */
int proto_escl_caps_write(const proto_escl_caps *caps, char *buf, size_t cap);
/* ScannerStatus: pwg:Version, pwg:State, scan:AdfState, scan:Jobs. */
int proto_escl_status_write(const proto_escl_status *st, char *buf, size_t cap);
/* ScanImageInfo: pwg:JobUri, pwg:JobUuid, scan:ActualWidth,
 * scan:ActualHeight, scan:ActualBytesPerLine, scan:BlankPageDetected. */
int proto_escl_image_info_write(const proto_escl_image_info *info, char *buf, size_t cap);

/* Wire names ("RGB24", "Feeder", "image/png", "ScannerAdfJam", "Idle",
 * "Completed"), NULL for NONE or out of range. */
const char *proto_escl_color_mode_name(enum proto_escl_color_mode m);
const char *proto_escl_source_name(enum proto_escl_source s);
const char *proto_escl_intent_name(enum proto_escl_intent i);
const char *proto_escl_format_mime(enum proto_escl_format f);
const char *proto_escl_adf_state_name(enum proto_escl_adf_state a);
const char *proto_escl_state_name(enum proto_escl_state s);
const char *proto_escl_job_state_name(enum proto_escl_job_state j);

/* ---- the client side: what a driver reads and writes ----------------------- */

/* Limits of the capabilities and status parsers (untrusted input). */
#define PROTO_ESCL_MAX_CAPS_DOC   (1024u * 1024u) /* ScannerCapabilities bytes */
#define PROTO_ESCL_MAX_STATUS_DOC (256u * 1024u)  /* ScannerStatus bytes */
#define PROTO_ESCL_TEXT_SIZE      128u /* a kept string, with NUL (longer ones are cut) */
#define PROTO_ESCL_URI_SIZE       512u /* a kept pwg:JobUri, with NUL (longer: the job is skipped) */

/* scan:ResolutionRange (X or Y): min..max in steps of step from min. */
typedef struct proto_escl_res_range {
    uint32_t min, max, step, normal; /* max 0: no range */
} proto_escl_res_range;

/* One parsed input source. caps holds what the writers' struct can say: the
 * union of every scan:SettingProfile's colour modes (Grayscale16 and RGB48
 * included: a driver refuses them by name), formats (pwg:DocumentFormat and
 * scan:DocumentFormatExt alike; types other than PNG, JPEG, PDF and TIFF
 * set PROTO_ESCL_FORMAT_OTHER), intents and discrete resolutions (those
 * with X = Y, ascending, duplicates merged; at most
 * PROTO_ESCL_MAX_RESOLUTIONS, the rest counted in dropped_resolutions, as
 * are X != Y entries). */
typedef struct proto_escl_source_info {
    proto_escl_source_caps caps; /* caps.present: the element was there */
    proto_escl_res_range x_range, y_range;
    size_t dropped_resolutions;
} proto_escl_source_info;

/* A parsed ScannerCapabilities. Absent optional elements leave their
 * field zero (strings empty). */
typedef struct proto_escl_caps_info {
    char version[PROTO_ESCL_VERSION_SIZE];
    char make_and_model[PROTO_ESCL_TEXT_SIZE];
    char manufacturer[PROTO_ESCL_TEXT_SIZE];
    char serial_number[PROTO_ESCL_TEXT_SIZE];
    char uuid[PROTO_ESCL_TEXT_SIZE];
    proto_escl_source_info platen, adf_simplex, adf_duplex;
    uint32_t feeder_capacity;
    uint32_t adf_options; /* PROTO_ESCL_ADF_* */
    uint32_t compression_min, compression_max, compression_normal, compression_step;
} proto_escl_caps_info;

/* Parse a ScannerCapabilities document, hardened like the ScanSettings
 * parser (size capped at PROTO_ESCL_MAX_CAPS_DOC, no DTD, depth bounded).
 * Lenient where devices differ, strict where a driver would be misled.
 * Returns PROTO_OK or (diag, if not NULL, says where):
 *   PROTO_E_ESCL_TOO_LARGE, _XML, _DOCTYPE, _TOO_DEEP, _NOMEM as the
 *                               ScanSettings parser
 *   PROTO_E_ESCL_ROOT           root is not {scan}ScannerCapabilities
 *   PROTO_E_ESCL_NO_VERSION     no pwg:Version
 *   PROTO_E_ESCL_BAD_VERSION    pwg:Version not a version number
 *   PROTO_E_ESCL_NO_SUCH_SOURCE no scan:PlatenInputCaps,
 *                               scan:AdfSimplexInputCaps or
 *                               scan:AdfDuplexInputCaps
 *   PROTO_E_ESCL_BAD_REGION     a source's Min/Max Width/Height not an
 *                               integer 0..PROTO_ESCL_MAX_EXTENT, a Max
 *                               missing or 0, or Min > Max
 *   PROTO_E_ESCL_BAD_RESOLUTION a resolution not 1..PROTO_ESCL_MAX_RES, a
 *                               range with min > max
 * A duplex-only scanner (scan:AdfDuplexInputCaps alone) is read as it is;
 * unknown elements, values of elements the parser does not model and
 * unknown colour modes are ignored. out is valid only on PROTO_OK. */
int proto_escl_caps_parse(const uint8_t *xml, size_t len, proto_escl_caps_info *out,
                          proto_escl_diag *diag);

/* Whether src scans at dpi (X = Y): a discrete resolution, or on both
 * ranges' grids. */
bool proto_escl_source_has_resolution(const proto_escl_source_info *src, uint32_t dpi);

/* One parsed scan:JobInfo. */
typedef struct proto_escl_job_info {
    char uri[PROTO_ESCL_URI_SIZE]; /* pwg:JobUri as sent ("" if absent) */
    char uuid[PROTO_ESCL_TEXT_SIZE];
    bool have_state;
    enum proto_escl_job_state state;
    char state_text[PROTO_ESCL_VALUE_SIZE];
    char reason[PROTO_ESCL_VALUE_SIZE]; /* the first pwg:JobStateReason, "" if none */
    uint32_t age, images_completed, images_to_transfer;
} proto_escl_job_info;

/* A parsed ScannerStatus. */
typedef struct proto_escl_status_info {
    char version[PROTO_ESCL_VERSION_SIZE];
    enum proto_escl_state state;
    char state_text[PROTO_ESCL_VALUE_SIZE];
    enum proto_escl_adf_state adf_state; /* NONE: no scan:AdfState */
    char adf_state_text[PROTO_ESCL_VALUE_SIZE];
    proto_escl_job_info jobs[PROTO_ESCL_MAX_JOBS]; /* in document order */
    size_t n_jobs;
    size_t dropped_jobs; /* beyond PROTO_ESCL_MAX_JOBS, or with a JobUri too long */
} proto_escl_status_info;

/* Parse a ScannerStatus (size capped at PROTO_ESCL_MAX_STATUS_DOC),
 * hardened as above. PROTO_OK, a document rejection as above, or
 * PROTO_E_ESCL_ROOT (root not {scan}ScannerStatus). Lenient otherwise:
 * pwg:Version and pwg:State may be missing (state OTHER, text ""), unknown
 * State, AdfState and JobState values are OTHER with their text kept,
 * numbers that do not parse read 0. */
int proto_escl_status_parse(const uint8_t *xml, size_t len, proto_escl_status_info *out,
                            proto_escl_diag *diag);

/* The job whose pwg:JobUri names job (compared by path: a scheme and
 * authority on either side are ignored, so "http://h/eSCL/ScanJobs/1" and
 * "/eSCL/ScanJobs/1" match), NULL if none. */
const proto_escl_job_info *proto_escl_status_job(const proto_escl_status_info *st, const char *job);

/* Write a ScanSettings document from s (the parser's struct; the have bits
 * say which optional elements to write): pwg:Version (s->version, or
 * PROTO_ESCL_VERSION when empty), scan:Intent, pwg:ScanRegions (in
 * escl:ThreeHundredthsOfInches), pwg:InputSource, scan:Duplex,
 * scan:ColorMode, pwg:DocumentFormat and scan:DocumentFormatExt (both, as
 * sane-airscan does, from format or else format_mime),
 * scan:XResolution/scan:YResolution, scan:CompressionFactor. Returns the
 * length (a NUL follows) or PROTO_E_NOSPACE / PROTO_E_BAD_FIELD (an enum
 * out of range, a MIME type that is not type/subtype, a zero size). */
int proto_escl_settings_write(const proto_escl_settings *s, char *buf, size_t cap);

#endif
