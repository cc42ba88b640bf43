/* driver: error tables, HRESULT names, the fault -> HRESULT mapping and the
 * exit-code classes (docs/driver.md, "Fault mapping"). */
#include <stdio.h>

#include "drv-internal.h"
#include "wias/wias.h"

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

/* X(value, exit class). Names come from wias' table (wiasHresultName), the
 * one list of HRESULT names, so every code wias or the driver can return
 * prints by name. */
#define DRV_HR_MAP(X)                                                                              \
    X(DRV_HR_S_OK, DRV_EXIT_OK)                                                                    \
    X(DRV_HR_END_OF_MEDIA, DRV_EXIT_OK)                                                            \
    X(DRV_HR_WIA_ERROR(0x01), DRV_EXIT_INTERNAL)                                                   \
    X(DRV_HR_WIA_ERROR(0x02), DRV_EXIT_PAPER)                                                      \
    X(DRV_HR_WIA_ERROR(0x03), DRV_EXIT_PAPER)                                                      \
    X(DRV_HR_WIA_ERROR(0x04), DRV_EXIT_PAPER)                                                      \
    X(DRV_HR_WIA_ERROR(0x05), DRV_EXIT_CONNECT)                                                    \
    X(DRV_HR_WIA_ERROR(0x06), DRV_EXIT_BUSY)                                                       \
    X(DRV_HR_WIA_ERROR(0x07), DRV_EXIT_BUSY)                                                       \
    X(DRV_HR_WIA_ERROR(0x08), DRV_EXIT_PAPER)                                                      \
    X(DRV_HR_WIA_ERROR(0x09), DRV_EXIT_INTERNAL)                                                   \
    X(DRV_HR_WIA_ERROR(0x0A), DRV_EXIT_COMM)                                                       \
    X(DRV_HR_WIA_ERROR(0x0B), DRV_EXIT_COMM)                                                       \
    X(DRV_HR_WIA_ERROR(0x0C), DRV_EXIT_PARAM)                                                      \
    X(DRV_HR_WIA_ERROR(0x0D), DRV_EXIT_BUSY)                                                       \
    X(DRV_HR_WIA_ERROR(0x0E), DRV_EXIT_INTERNAL)                                                   \
    X(DRV_HR_WIA_ERROR(0x0F), DRV_EXIT_COMM)                                                       \
    X(DRV_HR_WIA_ERROR(0x10), DRV_EXIT_PAPER)                                                      \
    X(DRV_HR_WIA_ERROR(0x11), DRV_EXIT_COMM)                                                       \
    X(DRV_HR_WIA_ERROR(0x12), DRV_EXIT_OUTPUT)                                                     \
    X(DRV_HR_WIA_ERROR(0x14), DRV_EXIT_PAPER)                                                      \
    X(DRV_HR_E_INVALIDARG, DRV_EXIT_PARAM)                                                         \
    X(DRV_HR_E_OUTOFMEMORY, DRV_EXIT_INTERNAL)                                                     \
    X(DRV_HR_E_ABORT, DRV_EXIT_CANCELLED)                                                          \
    X(E_ACCESSDENIED, DRV_EXIT_OUTPUT)

const char *drv_hr_name(int32_t hr, char *buf, size_t len)
{
    const char *name = wiasHresultName(hr);

    if (name)
        return name;
    if (!buf || len == 0)
        return "HRESULT";
    snprintf(buf, len, "0x%08X", (unsigned)hr);
    return buf;
}

int drv_exit_code(int32_t hr)
{
    switch (hr) {
#define DRV_HREXIT_CASE_(value, cls)                                                               \
    case value:                                                                                    \
        return cls;
        DRV_HR_MAP(DRV_HREXIT_CASE_)
#undef DRV_HREXIT_CASE_
    default:
        if (hr >= 0)
            return DRV_EXIT_OK;
        /* any storage error (FACILITY_STORAGE) is about the output */
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
