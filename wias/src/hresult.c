/* HRESULT name table, generated from one list so names cannot drift. */
#include "wias-internal.h"

#define WIAS_HRESULT_MAP(X)                                                                        \
    X(S_OK)                                                                                        \
    X(S_FALSE)                                                                                     \
    X(E_NOTIMPL)                                                                                   \
    X(E_NOINTERFACE)                                                                               \
    X(E_POINTER)                                                                                   \
    X(E_ABORT)                                                                                     \
    X(E_FAIL)                                                                                      \
    X(E_UNEXPECTED)                                                                                \
    X(E_ACCESSDENIED)                                                                              \
    X(E_HANDLE)                                                                                    \
    X(E_OUTOFMEMORY)                                                                               \
    X(E_INVALIDARG)                                                                                \
    X(STG_E_INVALIDFUNCTION)                                                                       \
    X(STG_E_FILENOTFOUND)                                                                          \
    X(STG_E_PATHNOTFOUND)                                                                          \
    X(STG_E_TOOMANYOPENFILES)                                                                      \
    X(STG_E_ACCESSDENIED)                                                                          \
    X(STG_E_INVALIDHANDLE)                                                                         \
    X(STG_E_INSUFFICIENTMEMORY)                                                                    \
    X(STG_E_INVALIDPOINTER)                                                                        \
    X(STG_E_NOMOREFILES)                                                                           \
    X(STG_E_DISKISWRITEPROTECTED)                                                                  \
    X(STG_E_SEEKERROR)                                                                             \
    X(STG_E_WRITEFAULT)                                                                            \
    X(STG_E_READFAULT)                                                                             \
    X(STG_E_SHAREVIOLATION)                                                                        \
    X(STG_E_LOCKVIOLATION)                                                                         \
    X(STG_E_FILEALREADYEXISTS)                                                                     \
    X(STG_E_INVALIDPARAMETER)                                                                      \
    X(STG_E_MEDIUMFULL)                                                                            \
    X(STG_E_INVALIDHEADER)                                                                         \
    X(STG_E_UNIMPLEMENTEDFUNCTION)                                                                 \
    X(STG_E_INVALIDFLAG)                                                                           \
    X(STG_E_REVERTED)                                                                              \
    X(STG_E_CANTSAVE)                                                                              \
    X(WIA_ERROR_GENERAL_ERROR)                                                                     \
    X(WIA_ERROR_PAPER_JAM)                                                                         \
    X(WIA_ERROR_PAPER_EMPTY)                                                                       \
    X(WIA_ERROR_PAPER_PROBLEM)                                                                     \
    X(WIA_ERROR_OFFLINE)                                                                           \
    X(WIA_ERROR_BUSY)                                                                              \
    X(WIA_ERROR_WARMING_UP)                                                                        \
    X(WIA_ERROR_USER_INTERVENTION)                                                                 \
    X(WIA_ERROR_ITEM_DELETED)                                                                      \
    X(WIA_ERROR_DEVICE_COMMUNICATION)                                                              \
    X(WIA_ERROR_INVALID_COMMAND)                                                                   \
    X(WIA_ERROR_INCORRECT_HARDWARE_SETTING)                                                        \
    X(WIA_ERROR_DEVICE_LOCKED)                                                                     \
    X(WIA_ERROR_EXCEPTION_IN_DRIVER)                                                               \
    X(WIA_ERROR_INVALID_DRIVER_RESPONSE)                                                           \
    X(WIA_ERROR_COVER_OPEN)                                                                        \
    X(WIA_ERROR_LAMP_OFF)                                                                          \
    X(WIA_ERROR_DESTINATION)                                                                       \
    X(WIA_ERROR_NETWORK_RESERVATION_FAILED)                                                        \
    X(WIA_ERROR_MULTI_FEED)                                                                        \
    X(WIA_ERROR_MAXIMUM_PRINTER_ENDORSER_COUNTER)                                                  \
    X(WIA_STATUS_END_OF_MEDIA)                                                                     \
    X(WIA_STATUS_WARMING_UP)                                                                       \
    X(WIA_STATUS_CALIBRATING)                                                                      \
    X(WIA_STATUS_RESERVING_NETWORK_DEVICE)                                                         \
    X(WIA_STATUS_NETWORK_DEVICE_RESERVED)                                                          \
    X(WIA_STATUS_CLEAR)                                                                            \
    X(WIA_STATUS_SKIP_ITEM)                                                                        \
    X(WIA_STATUS_NOT_HANDLED)

const char *wiasHresultName(HRESULT hr)
{
#define WIAS_HRESULT_CASE(name)                                                                    \
    if (hr == (name))                                                                              \
        return #name;
    WIAS_HRESULT_MAP(WIAS_HRESULT_CASE)
#undef WIAS_HRESULT_CASE
    return NULL;
}
