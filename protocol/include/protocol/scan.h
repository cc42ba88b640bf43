/* The scanner's own USB protocol (version 1). docs/protocol.md is the
 * normative description; this header is its C form.
 *
 * Transport: one vendor-specific interface with three endpoints:
 *   bulk OUT  (0x01)  commands, one command per transfer
 *   bulk IN   (0x81)  responses and the band stream, one message per transfer
 *   intr IN   (0x82)  16-byte events
 * All integers are little-endian. Every message starts with a 4-byte magic and
 * a 16-bit version. A message never spans two transfers; the host sizes its
 * bulk IN transfers to at least proto_scan_caps.max_in_transfer bytes.
 *
 * Encoders return bytes written or a negative proto_err; decoders return bytes
 * consumed (the fixed header/payload size) or a negative proto_err.
 */
#ifndef SCANEMU_PROTOCOL_SCAN_H
#define SCANEMU_PROTOCOL_SCAN_H

#include "protocol/proto.h"

#define PROTO_SCAN_VERSION 1u

/* Endpoint addresses of the scanner interface. */
#define PROTO_SCAN_EP_CMD_OUT  0x01u
#define PROTO_SCAN_EP_DATA_IN  0x81u
#define PROTO_SCAN_EP_EVENT_IN 0x82u

/* Magic numbers: the ASCII bytes "SCMD", "SRSP", "SBND", "SEVT" read as LE32. */
#define PROTO_SCAN_MAGIC_CMD 0x444D4353u
#define PROTO_SCAN_MAGIC_RSP 0x50535253u
#define PROTO_SCAN_MAGIC_BND 0x444E4253u
#define PROTO_SCAN_MAGIC_EVT 0x54564553u

#define PROTO_SCAN_CMD_HDR_SIZE    16u
#define PROTO_SCAN_RSP_HDR_SIZE    20u
#define PROTO_SCAN_BAND_HDR_SIZE   40u
#define PROTO_SCAN_EVENT_SIZE      16u
#define PROTO_SCAN_MAX_PAYLOAD     512u       /* command and response payloads */
#define PROTO_SCAN_MAX_BAND_DATA   (4u << 20) /* bytes of pixel data in one band */
#define PROTO_SCAN_MAX_RESOLUTIONS 16u

enum proto_scan_opcode {
    PROTO_SCAN_OP_GET_CAPS = 1,
    PROTO_SCAN_OP_SET_PARAMS = 2,
    PROTO_SCAN_OP_START_JOB = 3,
    PROTO_SCAN_OP_GET_STATUS = 4,
    PROTO_SCAN_OP_ABORT = 5,
    PROTO_SCAN_OP_RESET = 6,
};

/* Device status codes, in responses, band headers and events. */
#define PROTO_SCAN_STATUS_MAP(X)                                                                   \
    X(OK, 0, "ok")                                                                                 \
    X(BUSY, 1, "device busy")                                                                      \
    X(WARMING_UP, 2, "lamp warming up")                                                            \
    X(PAPER_JAM, 3, "paper jam")                                                                   \
    X(FEEDER_EMPTY, 4, "feeder empty")                                                             \
    X(COVER_OPEN, 5, "cover open")                                                                 \
    X(MULTI_FEED, 6, "multiple sheets fed")                                                        \
    X(INVALID_COMMAND, 7, "invalid command")                                                       \
    X(INVALID_PARAM, 8, "invalid parameter")                                                       \
    X(NO_JOB, 9, "no job in progress")                                                             \
    X(ABORTED, 10, "job aborted")                                                                  \
    X(DEVICE_ERROR, 11, "internal device error")

enum proto_scan_status {
#define PROTO_SCAN_STATUS_ENUM_(name, value, msg) PROTO_SCAN_ST_##name = (value),
    PROTO_SCAN_STATUS_MAP(PROTO_SCAN_STATUS_ENUM_)
#undef PROTO_SCAN_STATUS_ENUM_
};
const char *proto_scan_status_name(uint32_t status); /* "PAPER_JAM", "?" if unknown */
const char *proto_scan_status_str(uint32_t status);

enum proto_scan_source {
    PROTO_SCAN_SOURCE_FLATBED = 0,
    PROTO_SCAN_SOURCE_ADF = 1,
    PROTO_SCAN_SOURCE_DUPLEX = 2,
};

enum proto_scan_mode {
    PROTO_SCAN_MODE_BW = 0,      /* 1 bit per pixel, MSB first, 0 = black */
    PROTO_SCAN_MODE_GRAY8 = 1,   /* 8 bits, 0 = black */
    PROTO_SCAN_MODE_COLOR24 = 2, /* RGB, 8 bits per sample, interleaved */
    PROTO_SCAN_MODE_GRAY16 = 3,  /* 16 bits little-endian */
    PROTO_SCAN_MODE_COLOR48 = 4, /* RGB, 16 bits per sample, little-endian */
};

enum proto_scan_event_code {
    PROTO_SCAN_EVT_PAPER_JAM = 1,
    PROTO_SCAN_EVT_FEEDER_EMPTY = 2,
    PROTO_SCAN_EVT_COVER_OPEN = 3,
    PROTO_SCAN_EVT_COVER_CLOSED = 4,
    PROTO_SCAN_EVT_BUTTON = 5,
    PROTO_SCAN_EVT_MULTI_FEED = 6,
};

/* Band header flags. */
#define PROTO_SCAN_BAND_END_OF_PAGE 0x0001u /* last band of this page */
#define PROTO_SCAN_BAND_END_OF_JOB  0x0002u /* no more bands follow */

typedef struct proto_scan_cmd {
    uint16_t opcode;
    uint32_t tag;    /* echoed in the response */
    uint32_t length; /* payload bytes that follow, <= PROTO_SCAN_MAX_PAYLOAD */
} proto_scan_cmd;

typedef struct proto_scan_rsp {
    uint16_t opcode; /* the command answered */
    uint32_t tag;
    uint32_t status; /* enum proto_scan_status */
    uint32_t length; /* payload bytes that follow, <= PROTO_SCAN_MAX_PAYLOAD */
} proto_scan_rsp;

/* GET_CAPS response payload. Sizes in micrometres. */
typedef struct proto_scan_caps {
    uint32_t sources; /* bit (1 << proto_scan_source) */
    uint32_t modes;   /* bit (1 << proto_scan_mode) */
    uint32_t max_width_um;
    uint32_t max_height_um;
    uint32_t feeder_capacity;
    uint32_t band_lines;      /* nominal lines per band */
    uint32_t max_in_transfer; /* largest bulk IN message, header included */
    uint16_t n_resolutions;
    uint16_t resolutions[PROTO_SCAN_MAX_RESOLUTIONS]; /* dpi, ascending */
} proto_scan_caps;

/* SET_PARAMS command payload. width/height 0 mean the full area of the
 * source; pages 0 means "until the feeder is empty" (1 for flatbed). */
#define PROTO_SCAN_PARAM_SEED 0x0001u /* seed field is valid */
typedef struct proto_scan_params {
    uint8_t source; /* enum proto_scan_source */
    uint8_t mode;   /* enum proto_scan_mode */
    uint16_t dpi;   /* same in x and y */
    uint32_t flags; /* PROTO_SCAN_PARAM_* */
    uint32_t pages;
    uint32_t width_px;
    uint32_t height_px;
    uint64_t seed;
} proto_scan_params;

/* SET_PARAMS and START_JOB response payload: the job as the device will run
 * it. Every page of the job has this geometry. */
typedef struct proto_scan_job {
    uint8_t source;
    uint8_t mode;
    uint16_t dpi;
    uint32_t pages; /* 0 = until the feeder is empty */
    uint32_t width_px;
    uint32_t height_px;
    uint32_t bits_per_pixel;
    uint32_t bytes_per_line; /* ceil(width_px * bits_per_pixel / 8) */
    uint32_t band_lines;     /* every band but the last of a page */
    uint32_t bands_per_page;
    uint32_t max_in_transfer;
    uint64_t seed;
} proto_scan_job;

/* GET_STATUS response payload. WARMING_UP answers also carry this. */
typedef struct proto_scan_devstatus {
    uint32_t state; /* 0 idle, 1 warming up, 2 scanning, 3 error */
    uint32_t sheets_loaded;
    uint32_t cover_open;
    uint32_t pages_done;
    uint32_t warmup_remaining_ms;
} proto_scan_devstatus;

/* Header of one band on bulk IN; byte_count bytes of pixel data follow in the
 * same transfer. A non-OK status ends the job: line_count and byte_count are 0
 * and the status says why (PAPER_JAM, MULTI_FEED, FEEDER_EMPTY, ...). */
typedef struct proto_scan_band {
    uint16_t flags;
    uint32_t page; /* 0-based page index in the job (duplex counts sides) */
    uint16_t side; /* 0 front, 1 back */
    uint32_t band; /* 0-based within the page */
    uint32_t first_line;
    uint32_t line_count;
    uint32_t byte_count;
    uint32_t status;
    uint32_t crc32; /* CRC-32 (IEEE 802.3, as zlib) of the pixel data */
} proto_scan_band;

typedef struct proto_scan_event {
    uint16_t code; /* enum proto_scan_event_code */
    uint32_t page;
    uint32_t arg;
} proto_scan_event;

/* What kind of message a bulk IN / interrupt transfer holds, from its magic:
 * PROTO_SCAN_MAGIC_* or a negative proto_err for too-short/unknown. */
int proto_scan_peek_magic(const uint8_t *buf, size_t len, uint32_t *magic);

int proto_scan_cmd_encode(const proto_scan_cmd *c, uint8_t *buf, size_t len);
int proto_scan_cmd_decode(const uint8_t *buf, size_t len, proto_scan_cmd *out);
int proto_scan_rsp_encode(const proto_scan_rsp *r, uint8_t *buf, size_t len);
int proto_scan_rsp_decode(const uint8_t *buf, size_t len, proto_scan_rsp *out);
int proto_scan_band_encode(const proto_scan_band *b, uint8_t *buf, size_t len);
int proto_scan_band_decode(const uint8_t *buf, size_t len, proto_scan_band *out);
int proto_scan_event_encode(const proto_scan_event *e, uint8_t *buf, size_t len);
int proto_scan_event_decode(const uint8_t *buf, size_t len, proto_scan_event *out);

/* Payload codecs. decode validates ranges (known source/mode, n_resolutions
 * <= PROTO_SCAN_MAX_RESOLUTIONS, sizes below PROTO_SCAN_MAX_BAND_DATA, ...). */
int proto_scan_caps_encode(const proto_scan_caps *c, uint8_t *buf, size_t len);
int proto_scan_caps_decode(const uint8_t *buf, size_t len, proto_scan_caps *out);
int proto_scan_params_encode(const proto_scan_params *p, uint8_t *buf, size_t len);
int proto_scan_params_decode(const uint8_t *buf, size_t len, proto_scan_params *out);
int proto_scan_job_encode(const proto_scan_job *j, uint8_t *buf, size_t len);
int proto_scan_job_decode(const uint8_t *buf, size_t len, proto_scan_job *out);
int proto_scan_devstatus_encode(const proto_scan_devstatus *s, uint8_t *buf, size_t len);
int proto_scan_devstatus_decode(const uint8_t *buf, size_t len, proto_scan_devstatus *out);

/* CRC-32 (zlib's polynomial and conventions): crc = proto_crc32(0, p, n). */
uint32_t proto_crc32(uint32_t crc, const void *buf, size_t len);

/* Bits per pixel of a mode, 0 for an unknown mode. */
unsigned proto_scan_mode_bpp(uint32_t mode);

#endif
