/* driver: error tables, HRESULT names, the fault -> HRESULT mapping and the
 * exit-code classes (DESIGN.md section 4, docs/driver.md). */
#include <stdio.h>

#include "drv-internal.h"

const char *drv_strerror(int err)
{
    switch (err) {
    case DRV_OK:
        return "success";
#define DRV_STRERROR_CASE_(name, value, msg)                                                       \
    case DRV_E_##name:                                                                             \
        return msg;
        DRV_ERRNO_MAP(DRV_STRERROR_CASE_)
#undef DRV_STRERROR_CASE_
    default:
        return "unknown driver error";
    }
}

const char *drv_err_name(int err)
{
    switch (err) {
    case DRV_OK:
        return "DRV_OK";
#define DRV_ERRNAME_CASE_(name, value, msg)                                                        \
    case DRV_E_##name:                                                                             \
        return "DRV_E_" #name;
        DRV_ERRNO_MAP(DRV_ERRNAME_CASE_)
#undef DRV_ERRNAME_CASE_
    default:
        return "DRV_E_UNKNOWN";
    }
}

/* X(name, value, exit class) */
#define DRV_HR_MAP(X)                                                                              \
    X("S_OK", DRV_HR_S_OK, DRV_EXIT_OK)                                                            \
    X("WIA_STATUS_END_OF_MEDIA", DRV_HR_END_OF_MEDIA, DRV_EXIT_OK)                                 \
    X("WIA_ERROR_GENERAL_ERROR", DRV_HR_WIA_ERROR(0x01), DRV_EXIT_INTERNAL)                        \
    X("WIA_ERROR_PAPER_JAM", DRV_HR_WIA_ERROR(0x02), DRV_EXIT_PAPER)                               \
    X("WIA_ERROR_PAPER_EMPTY", DRV_HR_WIA_ERROR(0x03), DRV_EXIT_PAPER)                             \
    X("WIA_ERROR_PAPER_PROBLEM", DRV_HR_WIA_ERROR(0x04), DRV_EXIT_PAPER)                           \
    X("WIA_ERROR_OFFLINE", DRV_HR_WIA_ERROR(0x05), DRV_EXIT_CONNECT)                               \
    X("WIA_ERROR_BUSY", DRV_HR_WIA_ERROR(0x06), DRV_EXIT_BUSY)                                     \
    X("WIA_ERROR_WARMING_UP", DRV_HR_WIA_ERROR(0x07), DRV_EXIT_BUSY)                               \
    X("WIA_ERROR_USER_INTERVENTION", DRV_HR_WIA_ERROR(0x08), DRV_EXIT_PAPER)                       \
    X("WIA_ERROR_ITEM_DELETED", DRV_HR_WIA_ERROR(0x09), DRV_EXIT_INTERNAL)                         \
    X("WIA_ERROR_DEVICE_COMMUNICATION", DRV_HR_WIA_ERROR(0x0A), DRV_EXIT_COMM)                     \
    X("WIA_ERROR_INVALID_COMMAND", DRV_HR_WIA_ERROR(0x0B), DRV_EXIT_COMM)                          \
    X("WIA_ERROR_INCORRECT_HARDWARE_SETTING", DRV_HR_WIA_ERROR(0x0C), DRV_EXIT_PARAM)              \
    X("WIA_ERROR_DEVICE_LOCKED", DRV_HR_WIA_ERROR(0x0D), DRV_EXIT_BUSY)                            \
    X("WIA_ERROR_EXCEPTION_IN_DRIVER", DRV_HR_WIA_ERROR(0x0E), DRV_EXIT_INTERNAL)                  \
    X("WIA_ERROR_INVALID_DRIVER_RESPONSE", DRV_HR_WIA_ERROR(0x0F), DRV_EXIT_COMM)                  \
    X("WIA_ERROR_COVER_OPEN", DRV_HR_WIA_ERROR(0x10), DRV_EXIT_PAPER)                              \
    X("WIA_ERROR_LAMP_OFF", DRV_HR_WIA_ERROR(0x11), DRV_EXIT_COMM)                                 \
    X("WIA_ERROR_DESTINATION", DRV_HR_WIA_ERROR(0x12), DRV_EXIT_OUTPUT)                            \
    X("WIA_ERROR_MULTI_FEED", DRV_HR_WIA_ERROR(0x14), DRV_EXIT_PAPER)                              \
    X("E_INVALIDARG", DRV_HR_E_INVALIDARG, DRV_EXIT_PARAM)                                         \
    X("E_OUTOFMEMORY", DRV_HR_E_OUTOFMEMORY, DRV_EXIT_INTERNAL)                                    \
    X("E_POINTER", (int32_t)0x80004003u, DRV_EXIT_INTERNAL)                                        \
    X("E_ABORT", DRV_HR_E_ABORT, DRV_EXIT_CANCELLED)                                               \
    X("E_FAIL", (int32_t)0x80004005u, DRV_EXIT_INTERNAL)                                           \
    X("STG_E_WRITEFAULT", DRV_HR_STG_E_WRITEFAULT, DRV_EXIT_OUTPUT)                                \
    X("STG_E_MEDIUMFULL", DRV_HR_STG_E_MEDIUMFULL, DRV_EXIT_OUTPUT)                                \
    X("STG_E_ACCESSDENIED", DRV_HR_STG_E_ACCESSDENIED, DRV_EXIT_OUTPUT)                            \
    X("E_ACCESSDENIED", (int32_t)0x80070005u, DRV_EXIT_OUTPUT)                                     \
    X("STG_E_INVALIDFUNCTION", (int32_t)0x80030001u, DRV_EXIT_OUTPUT)                              \
    X("STG_E_FILENOTFOUND", (int32_t)0x80030002u, DRV_EXIT_OUTPUT)                                 \
    X("STG_E_PATHNOTFOUND", (int32_t)0x80030003u, DRV_EXIT_OUTPUT)                                 \
    X("STG_E_TOOMANYOPENFILES", (int32_t)0x80030004u, DRV_EXIT_OUTPUT)                             \
    X("STG_E_CANTSAVE", (int32_t)0x80030103u, DRV_EXIT_OUTPUT)

const char *drv_hr_name(int32_t hr, char *buf, size_t len)
{
    switch (hr) {
#define DRV_HRNAME_CASE_(name, value, cls)                                                         \
    case value:                                                                                    \
        return name;
        DRV_HR_MAP(DRV_HRNAME_CASE_)
#undef DRV_HRNAME_CASE_
    default:
        break;
    }
    if (!buf || len == 0)
        return "HRESULT";
    snprintf(buf, len, "0x%08X", (unsigned)hr);
    return buf;
}

int drv_exit_code(int32_t hr)
{
    switch (hr) {
#define DRV_HREXIT_CASE_(name, value, cls)                                                         \
    case value:                                                                                    \
        return cls;
        DRV_HR_MAP(DRV_HREXIT_CASE_)
#undef DRV_HREXIT_CASE_
    default:
        if (hr >= 0)
            return DRV_EXIT_OK;
        /* any other storage error (FACILITY_STORAGE) is about the output */
        return ((uint32_t)hr >> 16) == 0x8003u ? DRV_EXIT_OUTPUT : DRV_EXIT_INTERNAL;
    }
}

int32_t drv_hr_from_status(uint32_t status, uint32_t pages_done)
{
    switch (status) {
    case PROTO_SCAN_ST_OK:
        return DRV_HR_S_OK;
    case PROTO_SCAN_ST_BUSY:
        return DRV_HR_BUSY;
    case PROTO_SCAN_ST_WARMING_UP:
        return DRV_HR_WARMING_UP;
    case PROTO_SCAN_ST_PAPER_JAM:
        return DRV_HR_PAPER_JAM;
    case PROTO_SCAN_ST_FEEDER_EMPTY:
        return pages_done ? DRV_HR_END_OF_MEDIA : DRV_HR_PAPER_EMPTY;
    case PROTO_SCAN_ST_COVER_OPEN:
        return DRV_HR_COVER_OPEN;
    case PROTO_SCAN_ST_MULTI_FEED:
        return DRV_HR_MULTI_FEED;
    case PROTO_SCAN_ST_INVALID_PARAM:
        return DRV_HR_E_INVALIDARG;
    default:
        /* INVALID_COMMAND, NO_JOB, ABORTED, DEVICE_ERROR, unknown: the device
         * and the driver no longer agree on what is happening. */
        return DRV_HR_DEVICE_COMMUNICATION;
    }
}
