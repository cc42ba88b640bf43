#include "protocol/proto.h"

const char *proto_strerror(int err)
{
    switch (err) {
    case PROTO_OK:
        return "success";
#define PROTO_STRERROR_CASE_(name, value, msg)                                                     \
    case PROTO_E_##name:                                                                           \
        return msg;
        PROTO_ERRNO_MAP(PROTO_STRERROR_CASE_)
#undef PROTO_STRERROR_CASE_
    default:
        return "unknown protocol error";
    }
}

const char *proto_err_name(int err)
{
    switch (err) {
    case PROTO_OK:
        return "PROTO_OK";
#define PROTO_ERRNAME_CASE_(name, value, msg)                                                      \
    case PROTO_E_##name:                                                                           \
        return "PROTO_E_" #name;
        PROTO_ERRNO_MAP(PROTO_ERRNAME_CASE_)
#undef PROTO_ERRNAME_CASE_
    default:
        return "PROTO_E_UNKNOWN";
    }
}
