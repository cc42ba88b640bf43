/* scanemu protocol codecs: shared error codes.
 *
 * The protocol module is pure: bytes in, structs out. Nothing here does I/O,
 * allocates, or keeps state, so every decoder can be fed untrusted bytes and
 * fuzzed directly.
 */
#ifndef SCANEMU_PROTOCOL_PROTO_H
#define SCANEMU_PROTOCOL_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* X(name, value, message): the single source of the error table. */
#define PROTO_ERRNO_MAP(X)                                                                         \
    X(TRUNCATED, -1, "message truncated")                                                          \
    X(BAD_VERSION, -2, "unsupported protocol version")                                             \
    X(BAD_CODE, -3, "unknown operation or command code")                                           \
    X(BAD_LENGTH, -4, "length out of bounds")                                                      \
    X(BAD_FIELD, -5, "field out of range")                                                         \
    X(NOSPACE, -6, "output buffer too small")                                                      \
    X(BAD_MAGIC, -7, "bad magic number")                                                           \
    X(BAD_CRC, -8, "CRC mismatch")                                                                 \
    PROTO_ESCL_ERRNO_MAP(X)                                                                        \
    PROTO_HTTP_ERRNO_MAP(X)                                                                        \
    PROTO_HTTP_RESP_ERRNO_MAP(X)

/* eSCL documents (escl.h). Parse rejections of ScanSettings, then the
 * checks of parsed settings against the scanner's capabilities. */
#define PROTO_ESCL_ERRNO_MAP(X)                                                                    \
    X(ESCL_TOO_LARGE, -100, "eSCL document larger than PROTO_ESCL_MAX_DOC")                        \
    X(ESCL_XML, -101, "eSCL document is not well-formed XML")                                      \
    X(ESCL_DOCTYPE, -102, "eSCL document has a DOCTYPE (DTDs and entities are refused)")           \
    X(ESCL_TOO_DEEP, -103, "eSCL document nests elements deeper than PROTO_ESCL_MAX_DEPTH")        \
    X(ESCL_NOMEM, -104, "out of memory parsing an eSCL document")                                  \
    X(ESCL_ROOT, -105, "root element is not scan:ScanSettings")                                    \
    X(ESCL_DUPLICATE, -106, "an element that may appear once appears twice")                       \
    X(ESCL_NO_VERSION, -107, "pwg:Version missing")                                                \
    X(ESCL_BAD_VERSION, -108, "pwg:Version is not a version number")                               \
    X(ESCL_BAD_SOURCE, -109, "pwg:InputSource is not Platen, Feeder or Camera")                    \
    X(ESCL_SOURCE_CONFLICT, -110, "pwg:InputSource and scan:InputSource disagree")                 \
    X(ESCL_BAD_DUPLEX, -111, "scan:Duplex is not true, false, 1 or 0")                             \
    X(ESCL_BAD_COLOR_MODE, -112, "scan:ColorMode is not an eSCL colour mode")                      \
    X(ESCL_BAD_RESOLUTION, -113,                                                                   \
      "scan:XResolution or scan:YResolution is not 1..PROTO_ESCL_MAX_RES")                         \
    X(ESCL_REGIONS, -114, "pwg:ScanRegions holds more than one pwg:ScanRegion")                    \
    X(ESCL_BAD_REGION, -115, "pwg:ScanRegion offset or size is not an integer in range")           \
    X(ESCL_REGION_INCOMPLETE, -116, "pwg:ScanRegion lacks pwg:Width or pwg:Height")                \
    X(ESCL_BAD_UNITS, -117, "pwg:ContentRegionUnits is not escl:ThreeHundredthsOfInches")          \
    X(ESCL_BAD_FORMAT, -118, "pwg:DocumentFormat or scan:DocumentFormatExt is not a MIME type")    \
    X(ESCL_FORMAT_CONFLICT, -119, "pwg:DocumentFormat and scan:DocumentFormatExt disagree")        \
    X(ESCL_BAD_COMPRESSION, -120, "scan:CompressionFactor is not 0..PROTO_ESCL_MAX_COMPRESSION")   \
    X(ESCL_NO_SUCH_SOURCE, -130, "pwg:InputSource names a source this scanner lacks")              \
    X(ESCL_NO_DUPLEX, -131, "scan:Duplex is true but the source scans one side only")              \
    X(ESCL_NO_SUCH_COLOR_MODE, -132, "scan:ColorMode is not offered by the source")                \
    X(ESCL_NO_SUCH_RESOLUTION, -133, "scan:XResolution/scan:YResolution is not offered")           \
    X(ESCL_NO_SUCH_FORMAT, -134, "document format is not offered by the source")                   \
    X(ESCL_REGION_OUTSIDE, -135, "pwg:ScanRegion lies outside the source's size limits")

/* HTTP/1.1 requests and responses (http.h). proto_http_status_for() gives
 * the status code a server answers each request rejection with. */
#define PROTO_HTTP_ERRNO_MAP(X)                                                                    \
    X(HTTP_SYNTAX, -200, "malformed HTTP request")                                                 \
    X(HTTP_HEAD_TOO_LARGE, -201, "request line and headers larger than the head cap")              \
    X(HTTP_TOO_MANY_HEADERS, -202, "more header fields than the header cap")                       \
    X(HTTP_URI_TOO_LONG, -203, "request-target longer than PROTO_HTTP_MAX_TARGET")                 \
    X(HTTP_BAD_TARGET, -204, "request-target is neither origin-form nor absolute-form")            \
    X(HTTP_METHOD, -205, "method not implemented (GET, HEAD, POST, PUT and DELETE are)")           \
    X(HTTP_VERSION, -206, "HTTP version other than 1.x")                                           \
    X(HTTP_NO_HOST, -207, "HTTP/1.1 request without a Host header")                                \
    X(HTTP_BAD_HOST, -208, "more than one Host header")                                            \
    X(HTTP_FRAMING, -209, "Content-Length invalid or repeated, or body length undeterminable")     \
    X(HTTP_CODING, -210, "Transfer-Encoding names a coding other than chunked")                    \
    X(HTTP_BAD_CHUNK, -211, "malformed chunked body")                                              \
    X(HTTP_BODY_TOO_LARGE, -212, "request body larger than the body cap")                          \
    X(HTTP_EXPECTATION, -213, "Expect other than 100-continue")                                    \
    X(HTTP_NOMEM, -214, "out of memory buffering a request body")

/* HTTP/1.1 responses (http.h, the client side), besides the request
 * rejections above that apply to responses too (head and header limits,
 * framing, codings, chunks, body size). */
#define PROTO_HTTP_RESP_ERRNO_MAP(X) X(HTTP_RESPONSE, -215, "malformed HTTP response")

typedef enum proto_err {
    PROTO_OK = 0,
#define PROTO_ERR_ENUM_(name, value, msg) PROTO_E_##name = (value),
    PROTO_ERRNO_MAP(PROTO_ERR_ENUM_)
#undef PROTO_ERR_ENUM_
} proto_err;

/* Human-readable message / symbolic name ("PROTO_E_TRUNCATED") for an error
 * code returned by any proto_* function. Unknown codes give a generic text. */
const char *proto_strerror(int err);
const char *proto_err_name(int err);

/* Little-endian and big-endian load/store helpers used by both codecs. */
static inline uint16_t proto_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t proto_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t proto_get_le64(const uint8_t *p)
{
    return (uint64_t)proto_get_le32(p) | ((uint64_t)proto_get_le32(p + 4) << 32);
}
static inline void proto_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void proto_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void proto_put_le64(uint8_t *p, uint64_t v)
{
    proto_put_le32(p, (uint32_t)v);
    proto_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t proto_get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t proto_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline void proto_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void proto_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
