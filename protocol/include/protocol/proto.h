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
    X(BAD_CRC, -8, "CRC mismatch")

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
