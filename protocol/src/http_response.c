/* HTTP/1.1 response heads and chunk framing, written into caller buffers. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <http_parser.h>

#include "protocol/http.h"

int proto_http_status_for(int err)
{
    switch (err) {
    case PROTO_E_HTTP_SYNTAX:
    case PROTO_E_HTTP_BAD_TARGET:
    case PROTO_E_HTTP_NO_HOST:
    case PROTO_E_HTTP_BAD_HOST:
    case PROTO_E_HTTP_FRAMING:
    case PROTO_E_HTTP_BAD_CHUNK:
        return 400;
    case PROTO_E_HTTP_BODY_TOO_LARGE:
        return 413;
    case PROTO_E_HTTP_URI_TOO_LONG:
        return 414;
    case PROTO_E_HTTP_EXPECTATION:
        return 417;
    case PROTO_E_HTTP_HEAD_TOO_LARGE:
    case PROTO_E_HTTP_TOO_MANY_HEADERS:
        return 431;
    case PROTO_E_HTTP_METHOD:
    case PROTO_E_HTTP_CODING:
        return 501;
    case PROTO_E_HTTP_NOMEM:
        return 503;
    case PROTO_E_HTTP_VERSION:
        return 505;
    default:
        return 500;
    }
}

const char *proto_http_reason(int status)
{
    const char *s = status >= 0 && status <= 999 ? http_status_str((enum http_status)status) : "";

    return s[0] == '<' || s[0] == '\0' ? "Unknown" : s;
}

void proto_http_out_init(proto_http_out *o, char *buf, size_t cap)
{
    o->buf = buf;
    o->cap = cap;
    o->len = 0;
    o->err = PROTO_OK;
}

static void put(proto_http_out *o, const char *s, size_t n)
{
    if (o->err != PROTO_OK)
        return;
    if (n > o->cap - o->len) {
        o->err = PROTO_E_NOSPACE;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(proto_http_out *o, const char *s)
{
    put(o, s, strlen(s));
}

void proto_http_status_line(proto_http_out *o, int status)
{
    char line[64];

    if (o->err != PROTO_OK)
        return;
    if (status < 100 || status > 599) {
        o->err = PROTO_E_BAD_FIELD;
        return;
    }
    snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
    puts_(o, line);
    puts_(o, proto_http_reason(status));
    put(o, "\r\n", 2);
}

static int is_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 9110 field-value: VCHAR, obs-text, SP and HTAB; no CR, LF or NUL. */
static int valid_value(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 0;
    return 1;
}

void proto_http_header_str(proto_http_out *o, const char *name, const char *value)
{
    if (o->err != PROTO_OK)
        return;
    if (name == NULL || name[0] == '\0' || value == NULL || !valid_value(value)) {
        o->err = PROTO_E_BAD_FIELD;
        return;
    }
    for (const char *p = name; *p; p++)
        if (!is_tchar((unsigned char)*p)) {
            o->err = PROTO_E_BAD_FIELD;
            return;
        }
    puts_(o, name);
    put(o, ": ", 2);
    puts_(o, value);
    put(o, "\r\n", 2);
}

void proto_http_header_u64(proto_http_out *o, const char *name, uint64_t value)
{
    char num[24];

    snprintf(num, sizeof(num), "%" PRIu64, value);
    proto_http_header_str(o, name, num);
}

int proto_http_head_end(proto_http_out *o)
{
    put(o, "\r\n", 2);
    if (o->err != PROTO_OK)
        return o->err;
    return o->len > INT32_MAX ? PROTO_E_NOSPACE : (int)o->len;
}

static int write_all(const char *s, size_t n, char *buf, size_t cap)
{
    if (n > cap)
        return PROTO_E_NOSPACE;
    memcpy(buf, s, n);
    return (int)n;
}

int proto_http_chunk_begin(uint64_t n, char *buf, size_t cap)
{
    char line[PROTO_HTTP_CHUNK_BEGIN_MAX + 1];
    int len;

    if (n == 0)
        return PROTO_E_BAD_FIELD;
    len = snprintf(line, sizeof(line), "%" PRIx64 "\r\n", n);
    return write_all(line, (size_t)len, buf, cap);
}

int proto_http_chunk_end(char *buf, size_t cap)
{
    return write_all("\r\n", 2, buf, cap);
}

int proto_http_chunk_last(char *buf, size_t cap)
{
    return write_all("0\r\n\r\n", 5, buf, cap);
}
