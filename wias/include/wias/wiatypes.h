/*
 * wias/wiatypes.h - Windows base types, HRESULT codes and WIA minidriver
 * definitions, written from Microsoft's public documentation (winerror.h,
 * wiadef.h, wiamdef.h and wiamindr_lh.h reference pages) so that minidriver
 * transfer code written in C compiles unchanged against scanemu.
 *
 * Widths follow the Windows LLP64 model, not the host's: LONG, ULONG, BOOL,
 * DWORD and HRESULT are 32 bits; LONG_PTR is pointer sized.
 */
#ifndef WIAS_WIATYPES_H
#define WIAS_WIATYPES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

/* COM calling-convention and annotation macros are empty on this platform. */
#ifndef STDMETHODCALLTYPE
#define STDMETHODCALLTYPE
#endif
#ifndef WINAPI
#define WINAPI
#endif
#ifndef STDAPI
#define STDAPI HRESULT
#endif

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

typedef struct _GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
} GUID;
typedef GUID IID;
typedef GUID CLSID;
/* In C the REF* types are pointers (as in the Windows headers for C). */
typedef const GUID *REFGUID;
typedef const IID *REFIID;
typedef const CLSID *REFCLSID;

#define IsEqualGUID(rguid1, rguid2) (!memcmp((rguid1), (rguid2), sizeof(GUID)))
#define IsEqualIID(riid1, riid2)    IsEqualGUID(riid1, riid2)
#define IsEqualCLSID(r1, r2)        IsEqualGUID(r1, r2)

extern const GUID GUID_NULL;

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

/* ---- WIA image format GUIDs (WIA_IPA_FORMAT) -------------------------- */

extern const GUID WiaImgFmt_UNDEFINED;
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

/* ---- wiamdef.h flags --------------------------------------------------- */

/* wiasGetImageInformation: initialise the context from the item. */
#define WIAS_INIT_CONTEXT 1

/* ---- MINIDRV_TRANSFER_CONTEXT (wiamindr_lh.h) -------------------------- */

/* The WIA service's callback interface; opaque here. */
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

#ifdef __cplusplus
}
#endif

#endif /* WIAS_WIATYPES_H */
