/*
 * wias/wiatypes.h - Windows base types, COM basics, HRESULT codes and WIA
 * minidriver definitions, written from Microsoft's public documentation
 * (winerror.h, guiddef.h, objbase.h, wiadef.h, wiamdef.h and wiamindr_lh.h
 * reference pages) and the declaration facts of the public SDK headers, so
 * that minidriver transfer code written for Windows, in C or C++, compiles
 * unchanged against scanemu.
 *
 * Widths follow the Windows LLP64 model, not the host's: LONG, ULONG, BOOL,
 * DWORD and HRESULT are 32 bits; LONG_PTR is pointer sized.
 *
 * C and C++ see the same types with the language forms Windows gives them:
 *   - REFGUID/REFIID/REFCLSID are const pointers in C and const references
 *     in C++; IsEqualGUID and InlineIsEqualGUID follow suit, and C++ also
 *     gets operator== and operator!= on GUIDs (suppressed, as on Windows,
 *     by defining _NO_SYS_GUID_OPERATOR_EQ_ first).
 *   - COM interfaces (IUnknown here, ISequentialStream/IStream in
 *     wias/istream.h, IWiaMiniDrvCallBack below) are structs holding a
 *     vtable pointer (lpVtbl) in C, and abstract classes with virtual
 *     methods in vtable order in C++ (unless CINTERFACE is defined, which
 *     selects the C form in C++ too, as Windows does). The two are the
 *     same object: an Itanium C++ ABI class without a virtual destructor
 *     keeps one pointer to its table of virtual functions, in declaration
 *     order, at offset 0 - exactly the C layout. So an IStream implemented
 *     in C (every wias stream) is called as pStream->Write(...) from C++,
 *     and a C++ implementation can be handed to the C page writers.
 *     C objects carry no C++ RTTI: dynamic_cast and typeid do not work on
 *     them, and UBSan's -fsanitize=vptr (part of -fsanitize=undefined for
 *     C++) reports every call through them; build C++ that calls C COM
 *     objects with -fno-sanitize=vptr.
 *   - The calling-convention keywords (__stdcall, _stdcall, __cdecl,
 *     WINAPI, STDMETHODCALLTYPE, ...) and the SAL annotations of
 *     wias/sal.h expand to nothing: Linux has one calling convention.
 */
#ifndef WIAS_WIATYPES_H
#define WIAS_WIATYPES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wias/sal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- base types ------------------------------------------------------- */

typedef int32_t HRESULT;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef int32_t BOOL;
typedef int32_t INT;
typedef uint32_t UINT;
typedef uint32_t DWORD;
typedef uint16_t WORD;
typedef uint16_t USHORT;
typedef int16_t SHORT;
typedef uint8_t BYTE;
typedef char CHAR;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR;
typedef size_t SIZE_T;
typedef void *PVOID;
typedef void *LPVOID;
typedef BYTE *PBYTE;
typedef LONG *PLONG;
/* Windows' wchar_t is 16 bits (UTF-16); keep that layout. */
typedef uint16_t WCHAR;
typedef WCHAR OLECHAR;
typedef OLECHAR *LPOLESTR;
typedef const OLECHAR *LPCOLESTR;

/*
 * HANDLE: on this platform a handle to a file holds a POSIX file
 * descriptor, stored as (HANDLE)(LONG_PTR)fd and read back as
 * (int)(LONG_PTR)h. MINIDRV_TRANSFER_CONTEXT.hFile (a LONG_PTR, as in
 * Windows) holds the descriptor itself, so the documented cast
 * (HANDLE)(LONG_PTR)pmdtc->hFile yields such a handle. wias provides no
 * Win32 file functions (CreateFile, WriteFile, SetFilePointer).
 */
typedef void *HANDLE;
typedef HANDLE *PHANDLE;
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

/* ---- calling conventions and declaration keywords ---------------------- */

/* One calling convention on this platform: all of these are empty. */
#ifndef __stdcall
#define __stdcall
#endif
#ifndef _stdcall
#define _stdcall
#endif
#ifndef __cdecl
#define __cdecl
#endif
#ifndef _cdecl
#define _cdecl
#endif
#ifndef WINAPI
#define WINAPI
#endif
#ifndef WINAPIV
#define WINAPIV
#endif
#ifndef APIENTRY
#define APIENTRY
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef STDMETHODCALLTYPE
#define STDMETHODCALLTYPE
#endif
#ifndef STDMETHODVCALLTYPE
#define STDMETHODVCALLTYPE
#endif
#ifndef STDAPICALLTYPE
#define STDAPICALLTYPE
#endif
#ifndef STDAPIVCALLTYPE
#define STDAPIVCALLTYPE
#endif
#ifndef FAR
#define FAR
#endif
#ifndef NEAR
#define NEAR
#endif

/* Microsoft-compiler decorations used by MIDL-generated COM headers. */
#ifndef DECLSPEC_NOVTABLE
#define DECLSPEC_NOVTABLE
#endif
#ifndef DECLSPEC_UUID
#define DECLSPEC_UUID(x)
#endif
#ifndef DECLSPEC_XFGVIRT
#define DECLSPEC_XFGVIRT(base, func)
#endif
#ifndef MIDL_INTERFACE
#define MIDL_INTERFACE(x) struct
#endif
#ifndef BEGIN_INTERFACE
#define BEGIN_INTERFACE
#endif
#ifndef END_INTERFACE
#define END_INTERFACE
#endif

#ifndef EXTERN_C
#ifdef __cplusplus
#define EXTERN_C extern "C"
#else
#define EXTERN_C extern
#endif
#endif

/*
 * COM declaration macros (objbase.h). In C++ STDMETHOD declares a virtual
 * method and PURE makes it pure; in C it declares a vtable slot and THIS /
 * THIS_ name the explicit object parameter of the interface named by the
 * INTERFACE macro, as on Windows.
 */
#if defined(__cplusplus) && !defined(CINTERFACE)
#define WIAS_CXX_INTERFACES 1
#endif

#define STDAPI                EXTERN_C HRESULT STDAPICALLTYPE
#define STDAPI_(type)         EXTERN_C type STDAPICALLTYPE
#define STDMETHODIMP          HRESULT STDMETHODCALLTYPE
#define STDMETHODIMP_(type)   type STDMETHODCALLTYPE
#define IFACEMETHODIMP        STDMETHODIMP
#define IFACEMETHODIMP_(type) STDMETHODIMP_(type)
#ifdef WIAS_CXX_INTERFACES
#define STDMETHOD(method)        virtual HRESULT STDMETHODCALLTYPE method
#define STDMETHOD_(type, method) virtual type STDMETHODCALLTYPE method
#define PURE                     = 0
#define THIS_
#define THIS                            void
#define DECLARE_INTERFACE(iface)        struct DECLSPEC_NOVTABLE iface
#define DECLARE_INTERFACE_(iface, base) struct DECLSPEC_NOVTABLE iface : public base
#else
#define STDMETHOD(method)        HRESULT(STDMETHODCALLTYPE *method)
#define STDMETHOD_(type, method) type(STDMETHODCALLTYPE *method)
#define PURE
#define THIS_ INTERFACE *This,
#define THIS  INTERFACE *This
#endif
#define IFACEMETHOD(method)        STDMETHOD(method)
#define IFACEMETHOD_(type, method) STDMETHOD_(type, method)

typedef union _LARGE_INTEGER {
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    struct {
        DWORD LowPart;
        LONG HighPart;
    };
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        DWORD LowPart;
        DWORD HighPart;
    } u;
    struct {
        DWORD LowPart;
        DWORD HighPart;
    };
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef struct _FILETIME {
    DWORD dwLowDateTime;
    DWORD dwHighDateTime;
} FILETIME, *PFILETIME;

/* ---- GUIDs (guiddef.h) ------------------------------------------------- */

typedef struct _GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
} GUID;
typedef GUID IID;
typedef GUID CLSID;
typedef GUID *LPGUID;
typedef IID *LPIID;
typedef CLSID *LPCLSID;

#ifdef __cplusplus
typedef const GUID &REFGUID;
typedef const IID &REFIID;
typedef const CLSID &REFCLSID;
} /* extern "C" */
extern "C++" {
inline int IsEqualGUID(REFGUID rguid1, REFGUID rguid2)
{
    return !memcmp(&rguid1, &rguid2, sizeof(GUID));
}
/* Field by field: the same answer, without a library call. */
inline int InlineIsEqualGUID(REFGUID rguid1, REFGUID rguid2)
{
    return rguid1.Data1 == rguid2.Data1 && rguid1.Data2 == rguid2.Data2 &&
           rguid1.Data3 == rguid2.Data3 && !memcmp(rguid1.Data4, rguid2.Data4, 8);
}
#if !defined(_SYS_GUID_OPERATOR_EQ_) && !defined(_NO_SYS_GUID_OPERATOR_EQ_)
#define _SYS_GUID_OPERATOR_EQ_
inline bool operator==(REFGUID guidOne, REFGUID guidOther)
{
    return !!IsEqualGUID(guidOne, guidOther);
}
inline bool operator!=(REFGUID guidOne, REFGUID guidOther)
{
    return !(guidOne == guidOther);
}
#endif
}
extern "C" {
#else
typedef const GUID *REFGUID;
typedef const IID *REFIID;
typedef const CLSID *REFCLSID;
#define IsEqualGUID(rguid1, rguid2) (!memcmp((rguid1), (rguid2), sizeof(GUID)))
static inline int InlineIsEqualGUID(REFGUID rguid1, REFGUID rguid2)
{
    return rguid1->Data1 == rguid2->Data1 && rguid1->Data2 == rguid2->Data2 &&
           rguid1->Data3 == rguid2->Data3 && !memcmp(rguid1->Data4, rguid2->Data4, 8);
}
#endif
#define IsEqualIID(riid1, riid2) IsEqualGUID(riid1, riid2)
#define IsEqualCLSID(r1, r2)     IsEqualGUID(r1, r2)

extern const GUID GUID_NULL;
#define IID_NULL   GUID_NULL
#define CLSID_NULL GUID_NULL

/*
 * DEFINE_GUID declares a GUID, or defines it in the one translation unit
 * that defines INITGUID first (or includes <initguid.h> from the compat
 * directory). The GUIDs wias itself provides (GUID_NULL, the IIDs, the
 * WiaImgFmt_ and WiaAudFmt_ formats) are plain declarations, not
 * DEFINE_GUID, so INITGUID never defines them a second time.
 */
#ifndef DEFINE_GUID
#ifdef INITGUID
#ifdef __cplusplus
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)                               \
    extern "C" const GUID name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#else
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)                               \
    const GUID name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#endif
#else
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) EXTERN_C const GUID name
#endif
#endif

/* ---- IUnknown (unknwn.h) ---------------------------------------------- */

extern const IID IID_IUnknown;

typedef struct IUnknown IUnknown;
typedef IUnknown *LPUNKNOWN;

/* The C view of every COM object: its first member points to this table
 * (declared in C++ too, for code that hands objects across languages). */
typedef struct IUnknownVtbl {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)(IUnknown *This, REFIID riid, void **ppvObject);
    ULONG(STDMETHODCALLTYPE *AddRef)(IUnknown *This);
    ULONG(STDMETHODCALLTYPE *Release)(IUnknown *This);
} IUnknownVtbl;

#ifdef WIAS_CXX_INTERFACES
struct IUnknown {
    virtual HRESULT STDMETHODCALLTYPE QueryInterface(REFIID riid, void **ppvObject) = 0;
    virtual ULONG STDMETHODCALLTYPE AddRef(void) = 0;
    virtual ULONG STDMETHODCALLTYPE Release(void) = 0;
};
#else
struct IUnknown {
    const IUnknownVtbl *lpVtbl;
};
#ifdef COBJMACROS
#define IUnknown_QueryInterface(This, riid, ppv) ((This)->lpVtbl->QueryInterface(This, riid, ppv))
#define IUnknown_AddRef(This)                    ((This)->lpVtbl->AddRef(This))
#define IUnknown_Release(This)                   ((This)->lpVtbl->Release(This))
#endif
#endif

/* ---- HRESULT ---------------------------------------------------------- */

#define SEVERITY_SUCCESS 0
#define SEVERITY_ERROR   1

#define FACILITY_NULL    0
#define FACILITY_RPC     1
#define FACILITY_STORAGE 3
#define FACILITY_ITF     4
#define FACILITY_WIN32   7
#define FACILITY_WIA     33

#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr)    (((HRESULT)(hr)) < 0)
#define IS_ERROR(hr)  ((uint32_t)(hr) >> 31 == SEVERITY_ERROR)

#define HRESULT_CODE(hr)     ((hr)&0xFFFF)
#define HRESULT_FACILITY(hr) (((hr) >> 16) & 0x1FFF)
#define HRESULT_SEVERITY(hr) (((uint32_t)(hr) >> 31) & 0x1)

#define MAKE_HRESULT(sev, fac, code)                                                               \
    ((HRESULT)(((uint32_t)(sev) << 31) | ((uint32_t)(fac) << 16) | ((uint32_t)(code))))

/* HRESULT_FROM_WIN32 for Win32 error numbers (not errno values). */
#define HRESULT_FROM_WIN32(x)                                                                      \
    ((HRESULT)(x) <= 0                                                                             \
         ? ((HRESULT)(x))                                                                          \
         : ((HRESULT)(((uint32_t)(x)&0x0000FFFF) | (FACILITY_WIN32 << 16) | 0x80000000u)))

#define S_OK    ((HRESULT)0)
#define S_FALSE ((HRESULT)1)

#define E_NOTIMPL      ((HRESULT)0x80004001u)
#define E_NOINTERFACE  ((HRESULT)0x80004002u)
#define E_POINTER      ((HRESULT)0x80004003u)
#define E_ABORT        ((HRESULT)0x80004004u)
#define E_FAIL         ((HRESULT)0x80004005u)
#define E_UNEXPECTED   ((HRESULT)0x8000FFFFu)
#define E_ACCESSDENIED ((HRESULT)0x80070005u)
#define E_HANDLE       ((HRESULT)0x80070006u)
#define E_OUTOFMEMORY  ((HRESULT)0x8007000Eu)
#define E_INVALIDARG   ((HRESULT)0x80070057u)

#define STG_E_INVALIDFUNCTION       ((HRESULT)0x80030001u)
#define STG_E_FILENOTFOUND          ((HRESULT)0x80030002u)
#define STG_E_PATHNOTFOUND          ((HRESULT)0x80030003u)
#define STG_E_TOOMANYOPENFILES      ((HRESULT)0x80030004u)
#define STG_E_ACCESSDENIED          ((HRESULT)0x80030005u)
#define STG_E_INVALIDHANDLE         ((HRESULT)0x80030006u)
#define STG_E_INSUFFICIENTMEMORY    ((HRESULT)0x80030008u)
#define STG_E_INVALIDPOINTER        ((HRESULT)0x80030009u)
#define STG_E_NOMOREFILES           ((HRESULT)0x80030012u)
#define STG_E_DISKISWRITEPROTECTED  ((HRESULT)0x80030013u)
#define STG_E_SEEKERROR             ((HRESULT)0x80030019u)
#define STG_E_WRITEFAULT            ((HRESULT)0x8003001Du)
#define STG_E_READFAULT             ((HRESULT)0x8003001Eu)
#define STG_E_SHAREVIOLATION        ((HRESULT)0x80030020u)
#define STG_E_LOCKVIOLATION         ((HRESULT)0x80030021u)
#define STG_E_FILEALREADYEXISTS     ((HRESULT)0x80030050u)
#define STG_E_INVALIDPARAMETER      ((HRESULT)0x80030057u)
#define STG_E_MEDIUMFULL            ((HRESULT)0x80030070u)
#define STG_E_INVALIDHEADER         ((HRESULT)0x800300FBu)
#define STG_E_UNIMPLEMENTEDFUNCTION ((HRESULT)0x800300FEu)
#define STG_E_INVALIDFLAG           ((HRESULT)0x800300FFu)
#define STG_E_REVERTED              ((HRESULT)0x80030102u)
#define STG_E_CANTSAVE              ((HRESULT)0x80030103u)

/* ---- WIA error and status codes (wiadef.h) ---------------------------- */

#define WIA_ERROR_GENERAL_ERROR                    MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 1)
#define WIA_ERROR_PAPER_JAM                        MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 2)
#define WIA_ERROR_PAPER_EMPTY                      MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 3)
#define WIA_ERROR_PAPER_PROBLEM                    MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 4)
#define WIA_ERROR_OFFLINE                          MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 5)
#define WIA_ERROR_BUSY                             MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 6)
#define WIA_ERROR_WARMING_UP                       MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 7)
#define WIA_ERROR_USER_INTERVENTION                MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 8)
#define WIA_ERROR_ITEM_DELETED                     MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 9)
#define WIA_ERROR_DEVICE_COMMUNICATION             MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x0A)
#define WIA_ERROR_INVALID_COMMAND                  MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x0B)
#define WIA_ERROR_INCORRECT_HARDWARE_SETTING       MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x0C)
#define WIA_ERROR_DEVICE_LOCKED                    MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x0D)
#define WIA_ERROR_EXCEPTION_IN_DRIVER              MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x0E)
#define WIA_ERROR_INVALID_DRIVER_RESPONSE          MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x0F)
#define WIA_ERROR_COVER_OPEN                       MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x10)
#define WIA_ERROR_LAMP_OFF                         MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x11)
#define WIA_ERROR_DESTINATION                      MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x12)
#define WIA_ERROR_NETWORK_RESERVATION_FAILED       MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x13)
#define WIA_ERROR_MULTI_FEED                       MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x14)
#define WIA_ERROR_MAXIMUM_PRINTER_ENDORSER_COUNTER MAKE_HRESULT(SEVERITY_ERROR, FACILITY_WIA, 0x15)

#define WIA_STATUS_END_OF_MEDIA             MAKE_HRESULT(SEVERITY_SUCCESS, FACILITY_WIA, 1)
#define WIA_STATUS_WARMING_UP               MAKE_HRESULT(SEVERITY_SUCCESS, FACILITY_WIA, 2)
#define WIA_STATUS_CALIBRATING              MAKE_HRESULT(SEVERITY_SUCCESS, FACILITY_WIA, 3)
#define WIA_STATUS_RESERVING_NETWORK_DEVICE MAKE_HRESULT(SEVERITY_SUCCESS, FACILITY_WIA, 6)
#define WIA_STATUS_NETWORK_DEVICE_RESERVED  MAKE_HRESULT(SEVERITY_SUCCESS, FACILITY_WIA, 7)
#define WIA_STATUS_CLEAR                    MAKE_HRESULT(SEVERITY_SUCCESS, FACILITY_WIA, 8)
#define WIA_STATUS_SKIP_ITEM                MAKE_HRESULT(SEVERITY_SUCCESS, FACILITY_WIA, 9)
#define WIA_STATUS_NOT_HANDLED              MAKE_HRESULT(SEVERITY_SUCCESS, FACILITY_WIA, 10)

/* ---- WIA_IPA_COMPRESSION values --------------------------------------- */

#define WIA_COMPRESSION_NONE    0
#define WIA_COMPRESSION_BI_RLE4 1
#define WIA_COMPRESSION_BI_RLE8 2
#define WIA_COMPRESSION_G3      3
#define WIA_COMPRESSION_G4      4
#define WIA_COMPRESSION_JPEG    5
#define WIA_COMPRESSION_JBIG    6
#define WIA_COMPRESSION_JPEG2K  7
#define WIA_COMPRESSION_PNG     8
/* The application asks the device to choose; a transfer context should
 * carry the compression actually chosen (the TIFF writer refuses AUTO). */
#define WIA_COMPRESSION_AUTO 100

/* ---- WIA_IPA_DATATYPE and WIA_IPA_PLANAR values ------------------------ */

#define WIA_DATA_THRESHOLD       0
#define WIA_DATA_DITHER          1
#define WIA_DATA_GRAYSCALE       2
#define WIA_DATA_COLOR           3
#define WIA_DATA_COLOR_THRESHOLD 4
#define WIA_DATA_COLOR_DITHER    5

#define WIA_PACKED_PIXEL 0
#define WIA_PLANAR       1

/* ---- item property ids (wiadef.h): the image-information set ----------- */

#define WIA_IPA_FIRST                  4098
#define WIA_IPA_ITEM_NAME              4098
#define WIA_IPA_FULL_ITEM_NAME         4099
#define WIA_IPA_ITEM_TIME              4100
#define WIA_IPA_ITEM_FLAGS             4101
#define WIA_IPA_ACCESS_RIGHTS          4102
#define WIA_IPA_DATATYPE               4103
#define WIA_IPA_DEPTH                  4104
#define WIA_IPA_PREFERRED_FORMAT       4105
#define WIA_IPA_FORMAT                 4106
#define WIA_IPA_COMPRESSION            4107
#define WIA_IPA_TYMED                  4108
#define WIA_IPA_CHANNELS_PER_PIXEL     4109
#define WIA_IPA_BITS_PER_CHANNEL       4110
#define WIA_IPA_PLANAR                 4111
#define WIA_IPA_PIXELS_PER_LINE        4112
#define WIA_IPA_BYTES_PER_LINE         4113
#define WIA_IPA_NUMBER_OF_LINES        4114
#define WIA_IPA_GAMMA_CURVES           4115
#define WIA_IPA_ITEM_SIZE              4116
#define WIA_IPA_COLOR_PROFILE          4117
#define WIA_IPA_MIN_BUFFER_SIZE        4118
#define WIA_IPA_BUFFER_SIZE            4118
#define WIA_IPA_REGION_TYPE            4119
#define WIA_IPA_ICM_PROFILE_NAME       4120
#define WIA_IPA_APP_COLOR_MAPPING      4121
#define WIA_IPA_PROP_STREAM_COMPAT_ID  4122
#define WIA_IPA_FILENAME_EXTENSION     4123
#define WIA_IPA_SUPPRESS_PROPERTY_PAGE 4124
#define WIA_IPA_RAW_BITS_PER_CHANNEL   4128

#define WIA_IPS_FIRST              6146
#define WIA_IPS_CUR_INTENT         6146
#define WIA_IPS_XRES               6147
#define WIA_IPS_YRES               6148
#define WIA_IPS_XPOS               6149
#define WIA_IPS_YPOS               6150
#define WIA_IPS_XEXTENT            6151
#define WIA_IPS_YEXTENT            6152
#define WIA_IPS_PHOTOMETRIC_INTERP 6153
#define WIA_IPS_BRIGHTNESS         6154
#define WIA_IPS_CONTRAST           6155
#define WIA_IPS_ORIENTATION        6156
#define WIA_IPS_ROTATION           6157
#define WIA_IPS_MIRROR             6158
#define WIA_IPS_THRESHOLD          6159
#define WIA_IPS_INVERT             6160
#define WIA_IPS_WARM_UP_TIME       6161

/* ---- IWiaMiniDrvCallBack::MiniDrvCallback messages (wiadef.h) ---------- */

#define IT_MSG_DATA_HEADER              0x0001
#define IT_MSG_DATA                     0x0002
#define IT_MSG_STATUS                   0x0003
#define IT_MSG_TERMINATION              0x0004
#define IT_MSG_NEW_PAGE                 0x0005
#define IT_MSG_FILE_PREVIEW_DATA        0x0006
#define IT_MSG_FILE_PREVIEW_DATA_HEADER 0x0007

#define IT_STATUS_TRANSFER_FROM_DEVICE 0x0001
#define IT_STATUS_PROCESSING_DATA      0x0002
#define IT_STATUS_TRANSFER_TO_CLIENT   0x0004

/* ---- TYMED (objidl.h values plus the WIA additions from wiadef.h) ----- */

#define TYMED_NULL               0
#define TYMED_HGLOBAL            1
#define TYMED_FILE               2
#define TYMED_ISTREAM            4
#define TYMED_ISTORAGE           8
#define TYMED_GDI                16
#define TYMED_MFPICT             32
#define TYMED_ENHMF              64
#define TYMED_CALLBACK           128
#define TYMED_MULTIPAGE_FILE     256
#define TYMED_MULTIPAGE_CALLBACK 512

/* ---- WIA format GUIDs (WIA_IPA_FORMAT) ------------------------------- */

extern const GUID WiaImgFmt_UNDEFINED;
extern const GUID WiaImgFmt_RAWRGB;
extern const GUID WiaImgFmt_MEMORYBMP;
extern const GUID WiaImgFmt_BMP;
extern const GUID WiaImgFmt_EMF;
extern const GUID WiaImgFmt_WMF;
extern const GUID WiaImgFmt_JPEG;
extern const GUID WiaImgFmt_PNG;
extern const GUID WiaImgFmt_GIF;
extern const GUID WiaImgFmt_TIFF;
extern const GUID WiaImgFmt_EXIF;
extern const GUID WiaImgFmt_PHOTOCD;
extern const GUID WiaImgFmt_FLASHPIX;
extern const GUID WiaImgFmt_ICO;
extern const GUID WiaImgFmt_CIFF;
extern const GUID WiaImgFmt_PICT;
extern const GUID WiaImgFmt_JPEG2K;
extern const GUID WiaImgFmt_JPEG2KX;
extern const GUID WiaImgFmt_RAW;
extern const GUID WiaImgFmt_JBIG;
extern const GUID WiaImgFmt_JBIG2;
extern const GUID WiaImgFmt_RTF;
extern const GUID WiaImgFmt_XML;
extern const GUID WiaImgFmt_HTML;
extern const GUID WiaImgFmt_TXT;
extern const GUID WiaImgFmt_PDFA;
extern const GUID WiaImgFmt_XPS;
extern const GUID WiaImgFmt_OXPS;
extern const GUID WiaImgFmt_CSV;
extern const GUID WiaImgFmt_MPG;
extern const GUID WiaImgFmt_AVI;
extern const GUID WiaImgFmt_ASF;
extern const GUID WiaImgFmt_SCRIPT;
extern const GUID WiaImgFmt_EXEC;
extern const GUID WiaImgFmt_UNICODE16;
extern const GUID WiaImgFmt_DPOF;
extern const GUID WiaImgFmt_XMLBAR;
extern const GUID WiaImgFmt_RAWBAR;
extern const GUID WiaImgFmt_XMLPAT;
extern const GUID WiaImgFmt_RAWPAT;
extern const GUID WiaImgFmt_XMLMIC;
extern const GUID WiaImgFmt_RAWMIC;
extern const GUID WiaAudFmt_WAV;
extern const GUID WiaAudFmt_MP3;
extern const GUID WiaAudFmt_AIFF;
extern const GUID WiaAudFmt_WMA;

/* ---- wiamdef.h flags --------------------------------------------------- */

/* wiasGetImageInformation: initialise the context from the item. */
#define WIAS_INIT_CONTEXT 1

/* ---- MINIDRV_TRANSFER_CONTEXT (wiamindr_lh.h) -------------------------- */

/* The WIA service's callback interface, declared after the context. */
typedef struct IWiaMiniDrvCallBack IWiaMiniDrvCallBack;

typedef struct _MINIDRV_TRANSFER_CONTEXT {
    LONG lSize;          /* sizeof(MINIDRV_TRANSFER_CONTEXT) */
    LONG lWidthInPixels; /* WIA_IPA_PIXELS_PER_LINE */
    LONG lLines;         /* WIA_IPA_NUMBER_OF_LINES */
    LONG lDepth;         /* WIA_IPA_DEPTH, bits per pixel */
    LONG lXRes;          /* WIA_IPS_XRES, pixels per inch */
    LONG lYRes;          /* WIA_IPS_YRES, pixels per inch */
    LONG lCompression;   /* WIA_IPA_COMPRESSION */
    GUID guidFormatID;   /* WIA_IPA_FORMAT */
    LONG tymed;          /* WIA_IPA_TYMED */
    LONG_PTR hFile;      /* TYMED_FILE / TYMED_MULTIPAGE_FILE: here a POSIX fd */
    LONG cbOffset;       /* offset in the callback buffer */
    LONG lBufferSize;    /* size of the transfer buffer in bytes */
    LONG lActiveBuffer;
    LONG lNumBuffers;
    BYTE *pBaseBuffer;
    BYTE *pTransferBuffer; /* image data handed to the writers */
    BOOL bTransferDataCB;
    BOOL bClassDrvAllocBuf;
    LONG_PTR lClientAddress;
    IWiaMiniDrvCallBack *pIWiaMiniDrvCallBack;
    LONG lImageSize;     /* uncompressed image bytes of one page */
    LONG lHeaderSize;    /* bytes of file header preceding the data */
    LONG lItemSize;      /* total item size, 0 when not known in advance */
    LONG cbWidthInBytes; /* bytes from the start of one row to the next */
    LONG lPage;          /* 0-based page counter of a multipage transfer */
    LONG lCurIfdOffset;  /* TIFF offset of the IFD of the last page written */
    LONG lPrevIfdOffset; /* TIFF offset of the IFD before that, 0 if none */
} MINIDRV_TRANSFER_CONTEXT, *PMINIDRV_TRANSFER_CONTEXT;

/*
 * IWiaMiniDrvCallBack (wiamindr_lh.h): how a minidriver reports progress
 * and hands data to the WIA service during a transfer. wias implements
 * no service; tests and emulations implement this interface themselves.
 * MiniDrvCallback returns S_OK to go on, S_FALSE when the application
 * cancelled, or an error.
 */
extern const IID IID_IWiaMiniDrvCallBack;

typedef struct IWiaMiniDrvCallBackVtbl {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)
    (IWiaMiniDrvCallBack *This, REFIID riid, void **ppvObject);
    ULONG(STDMETHODCALLTYPE *AddRef)(IWiaMiniDrvCallBack *This);
    ULONG(STDMETHODCALLTYPE *Release)(IWiaMiniDrvCallBack *This);
    HRESULT(STDMETHODCALLTYPE *MiniDrvCallback)
    (IWiaMiniDrvCallBack *This, LONG lReason, LONG lStatus, LONG lPercentComplete, LONG lOffset,
     LONG lLength, PMINIDRV_TRANSFER_CONTEXT pTranCtx, LONG lReserved);
} IWiaMiniDrvCallBackVtbl;

#ifdef WIAS_CXX_INTERFACES
struct IWiaMiniDrvCallBack : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE MiniDrvCallback(LONG lReason, LONG lStatus,
                                                      LONG lPercentComplete, LONG lOffset,
                                                      LONG lLength,
                                                      PMINIDRV_TRANSFER_CONTEXT pTranCtx,
                                                      LONG lReserved) = 0;
};
#else
struct IWiaMiniDrvCallBack {
    const IWiaMiniDrvCallBackVtbl *lpVtbl;
};
#ifdef COBJMACROS
#define IWiaMiniDrvCallBack_QueryInterface(This, riid, ppv)                                        \
    ((This)->lpVtbl->QueryInterface(This, riid, ppv))
#define IWiaMiniDrvCallBack_AddRef(This)  ((This)->lpVtbl->AddRef(This))
#define IWiaMiniDrvCallBack_Release(This) ((This)->lpVtbl->Release(This))
#define IWiaMiniDrvCallBack_MiniDrvCallback(This, lReason, lStatus, lPercent, lOffset, lLength,    \
                                            pTranCtx, lReserved)                                   \
    ((This)->lpVtbl->MiniDrvCallback(This, lReason, lStatus, lPercent, lOffset, lLength, pTranCtx, \
                                     lReserved))
#endif
#endif

#ifdef __cplusplus
}
#endif

#endif /* WIAS_WIATYPES_H */
