/*
 * wias/istream.h - the COM ISequentialStream and IStream interfaces
 * (objidl.h shape), plus scanemu's stream constructors.
 *
 * Call them exactly as Windows code does. In C, through the vtable:
 *     hr = pstm->lpVtbl->Write(pstm, pv, cb, &cbWritten);
 * or, with COBJMACROS defined before inclusion, IStream_Write(pstm, ...).
 * In C++ IStream is an abstract class derived from ISequentialStream and
 * IUnknown, with the methods in vtable order:
 *     hr = pstm->Write(pv, cb, &cbWritten);
 * Both views are the same object (see wias/wiatypes.h): the streams below
 * are implemented in C and work from C++, and a C++ class implementing
 * IStream works with the C page writers.
 *
 * Every stream returned by a constructor starts with a reference count of 1;
 * the caller owns that reference and drops it with Release. Streams are not
 * thread safe except for AddRef/Release.
 */
#ifndef WIAS_ISTREAM_H
#define WIAS_ISTREAM_H

#include "wias/wiatypes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* STREAM_SEEK */
#define STREAM_SEEK_SET 0
#define STREAM_SEEK_CUR 1
#define STREAM_SEEK_END 2

/* STGM access and creation flags (subset meaningful for streams). */
#define STGM_READ        0x00000000
#define STGM_WRITE       0x00000001
#define STGM_READWRITE   0x00000002
#define STGM_CREATE      0x00001000
#define STGM_FAILIFTHERE 0x00000000

/* STGTY */
#define STGTY_STORAGE   1
#define STGTY_STREAM    2
#define STGTY_LOCKBYTES 3
#define STGTY_PROPERTY  4

/* STATFLAG */
#define STATFLAG_DEFAULT 0
#define STATFLAG_NONAME  1
#define STATFLAG_NOOPEN  2

/* STGC */
#define STGC_DEFAULT 0

/*
 * LOCKTYPE (objidl.h). glibc's <fcntl.h> and <sys/file.h> define LOCK_WRITE
 * as 128 under _GNU_SOURCE (and <linux/fcntl.h> always) for Linux's obsolete
 * mandatory flock, so the bare Windows name cannot be relied on here:
 *   - WIAS_LOCK_WRITE/_EXCLUSIVE/_ONLYONCE are always declared, with the
 *     Windows values; portable code uses them.
 *   - LOCK_EXCLUSIVE and LOCK_ONLYONCE collide with nothing and are
 *     declared as in Windows.
 *   - LOCK_WRITE is declared (= 1) only where no C library header will
 *     define it: _GNU_SOURCE not defined and no LOCK_WRITE macro yet.
 *     Under _GNU_SOURCE it is left to <fcntl.h> (128, a flock flag).
 * Enumerators rather than macros, so no include order can produce a
 * macro redefinition. scanemu's streams refuse LockRegion anyway
 * (STG_E_INVALIDFUNCTION), as Windows memory streams do.
 */
typedef enum tagLOCKTYPE {
    WIAS_LOCK_WRITE = 1,
    WIAS_LOCK_EXCLUSIVE = 2,
    WIAS_LOCK_ONLYONCE = 4,
#if !defined(_GNU_SOURCE) && !defined(LOCK_WRITE)
    LOCK_WRITE = WIAS_LOCK_WRITE,
#endif
    LOCK_EXCLUSIVE = WIAS_LOCK_EXCLUSIVE,
    LOCK_ONLYONCE = WIAS_LOCK_ONLYONCE
} LOCKTYPE;

typedef struct tagSTATSTG {
    LPOLESTR pwcsName; /* always NULL here: names are never allocated */
    DWORD type;        /* STGTY_STREAM */
    ULARGE_INTEGER cbSize;
    FILETIME mtime;
    FILETIME ctime;
    FILETIME atime;
    DWORD grfMode;
    DWORD grfLocksSupported;
    CLSID clsid;
    DWORD grfStateBits;
    DWORD reserved;
} STATSTG;

extern const IID IID_ISequentialStream;
extern const IID IID_IStream;

typedef struct ISequentialStream ISequentialStream;
typedef struct IStream IStream;

/* The C tables (declared in C++ too, for code that crosses languages). */
typedef struct ISequentialStreamVtbl {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)
    (ISequentialStream *This, REFIID riid, void **ppvObject);
    ULONG(STDMETHODCALLTYPE *AddRef)(ISequentialStream *This);
    ULONG(STDMETHODCALLTYPE *Release)(ISequentialStream *This);
    HRESULT(STDMETHODCALLTYPE *Read)(ISequentialStream *This, void *pv, ULONG cb, ULONG *pcbRead);
    HRESULT(STDMETHODCALLTYPE *Write)
    (ISequentialStream *This, const void *pv, ULONG cb, ULONG *pcbWritten);
} ISequentialStreamVtbl;

typedef struct IStreamVtbl {
    /* IUnknown */
    HRESULT(STDMETHODCALLTYPE *QueryInterface)(IStream *This, REFIID riid, void **ppvObject);
    ULONG(STDMETHODCALLTYPE *AddRef)(IStream *This);
    ULONG(STDMETHODCALLTYPE *Release)(IStream *This);
    /* ISequentialStream */
    HRESULT(STDMETHODCALLTYPE *Read)(IStream *This, void *pv, ULONG cb, ULONG *pcbRead);
    HRESULT(STDMETHODCALLTYPE *Write)(IStream *This, const void *pv, ULONG cb, ULONG *pcbWritten);
    /* IStream */
    HRESULT(STDMETHODCALLTYPE *Seek)
    (IStream *This, LARGE_INTEGER dlibMove, DWORD dwOrigin, ULARGE_INTEGER *plibNewPosition);
    HRESULT(STDMETHODCALLTYPE *SetSize)(IStream *This, ULARGE_INTEGER libNewSize);
    HRESULT(STDMETHODCALLTYPE *CopyTo)
    (IStream *This, IStream *pstm, ULARGE_INTEGER cb, ULARGE_INTEGER *pcbRead,
     ULARGE_INTEGER *pcbWritten);
    HRESULT(STDMETHODCALLTYPE *Commit)(IStream *This, DWORD grfCommitFlags);
    HRESULT(STDMETHODCALLTYPE *Revert)(IStream *This);
    HRESULT(STDMETHODCALLTYPE *LockRegion)
    (IStream *This, ULARGE_INTEGER libOffset, ULARGE_INTEGER cb, DWORD dwLockType);
    HRESULT(STDMETHODCALLTYPE *UnlockRegion)
    (IStream *This, ULARGE_INTEGER libOffset, ULARGE_INTEGER cb, DWORD dwLockType);
    HRESULT(STDMETHODCALLTYPE *Stat)(IStream *This, STATSTG *pstatstg, DWORD grfStatFlag);
    HRESULT(STDMETHODCALLTYPE *Clone)(IStream *This, IStream **ppstm);
} IStreamVtbl;

#ifdef WIAS_CXX_INTERFACES
struct ISequentialStream : public IUnknown {
    virtual HRESULT STDMETHODCALLTYPE Read(void *pv, ULONG cb, ULONG *pcbRead) = 0;
    virtual HRESULT STDMETHODCALLTYPE Write(const void *pv, ULONG cb, ULONG *pcbWritten) = 0;
};

struct IStream : public ISequentialStream {
    virtual HRESULT STDMETHODCALLTYPE Seek(LARGE_INTEGER dlibMove, DWORD dwOrigin,
                                           ULARGE_INTEGER *plibNewPosition) = 0;
    virtual HRESULT STDMETHODCALLTYPE SetSize(ULARGE_INTEGER libNewSize) = 0;
    virtual HRESULT STDMETHODCALLTYPE CopyTo(IStream *pstm, ULARGE_INTEGER cb,
                                             ULARGE_INTEGER *pcbRead,
                                             ULARGE_INTEGER *pcbWritten) = 0;
    virtual HRESULT STDMETHODCALLTYPE Commit(DWORD grfCommitFlags) = 0;
    virtual HRESULT STDMETHODCALLTYPE Revert(void) = 0;
    virtual HRESULT STDMETHODCALLTYPE LockRegion(ULARGE_INTEGER libOffset, ULARGE_INTEGER cb,
                                                 DWORD dwLockType) = 0;
    virtual HRESULT STDMETHODCALLTYPE UnlockRegion(ULARGE_INTEGER libOffset, ULARGE_INTEGER cb,
                                                   DWORD dwLockType) = 0;
    virtual HRESULT STDMETHODCALLTYPE Stat(STATSTG *pstatstg, DWORD grfStatFlag) = 0;
    virtual HRESULT STDMETHODCALLTYPE Clone(IStream **ppstm) = 0;
};
#else
struct ISequentialStream {
    const ISequentialStreamVtbl *lpVtbl;
};

struct IStream {
    const IStreamVtbl *lpVtbl;
};
#endif

typedef IStream *LPSTREAM;
typedef ISequentialStream *LPSEQUENTIALSTREAM;

#if defined(COBJMACROS) && !defined(WIAS_CXX_INTERFACES)
#define ISequentialStream_Read(This, pv, cb, pcbRead) ((This)->lpVtbl->Read(This, pv, cb, pcbRead))
#define ISequentialStream_Write(This, pv, cb, pcbWritten)                                          \
    ((This)->lpVtbl->Write(This, pv, cb, pcbWritten))
#define IStream_QueryInterface(This, riid, ppv) ((This)->lpVtbl->QueryInterface(This, riid, ppv))
#define IStream_AddRef(This)                    ((This)->lpVtbl->AddRef(This))
#define IStream_Release(This)                   ((This)->lpVtbl->Release(This))
#define IStream_Read(This, pv, cb, pcbRead)     ((This)->lpVtbl->Read(This, pv, cb, pcbRead))
#define IStream_Write(This, pv, cb, pcbWritten) ((This)->lpVtbl->Write(This, pv, cb, pcbWritten))
#define IStream_Seek(This, dlibMove, dwOrigin, plibNewPosition)                                    \
    ((This)->lpVtbl->Seek(This, dlibMove, dwOrigin, plibNewPosition))
#define IStream_SetSize(This, libNewSize) ((This)->lpVtbl->SetSize(This, libNewSize))
#define IStream_CopyTo(This, pstm, cb, pcbRead, pcbWritten)                                        \
    ((This)->lpVtbl->CopyTo(This, pstm, cb, pcbRead, pcbWritten))
#define IStream_Commit(This, grfCommitFlags) ((This)->lpVtbl->Commit(This, grfCommitFlags))
#define IStream_Revert(This)                 ((This)->lpVtbl->Revert(This))
#define IStream_LockRegion(This, libOffset, cb, dwLockType)                                        \
    ((This)->lpVtbl->LockRegion(This, libOffset, cb, dwLockType))
#define IStream_UnlockRegion(This, libOffset, cb, dwLockType)                                      \
    ((This)->lpVtbl->UnlockRegion(This, libOffset, cb, dwLockType))
#define IStream_Stat(This, pstatstg, grfStatFlag)                                                  \
    ((This)->lpVtbl->Stat(This, pstatstg, grfStatFlag))
#define IStream_Clone(This, ppstm) ((This)->lpVtbl->Clone(This, ppstm))
#endif

/* COM task allocator (objbase.h), backed by malloc/realloc/free. */
LPVOID CoTaskMemAlloc(SIZE_T cb);
LPVOID CoTaskMemRealloc(LPVOID pv, SIZE_T cb);
void CoTaskMemFree(LPVOID pv);

/* winnt.h memory macros used throughout driver code. */
#ifndef ZeroMemory
#define ZeroMemory(dst, len)      memset((dst), 0, (len))
#define CopyMemory(dst, src, len) memcpy((dst), (src), (len))
#define MoveMemory(dst, src, len) memmove((dst), (src), (len))
#define FillMemory(dst, len, b)   memset((dst), (b), (len))
#endif

/* ---- scanemu stream constructors (extensions, not Windows API) -------- */

/*
 * A growable, readable memory stream (like CreateStreamOnHGlobal(NULL)).
 * Writing past the end extends the stream; gaps read back as zeros.
 * Returns S_OK, E_POINTER or E_OUTOFMEMORY. *ppstm is set only on success.
 */
HRESULT wiasCreateMemoryStream(IStream **ppstm);

/*
 * Borrow the contents of a stream made by wiasCreateMemoryStream. The
 * pointer stays valid until the next Write, SetSize or the final Release.
 * Returns E_INVALIDARG for any other kind of stream.
 */
HRESULT wiasMemoryStreamGetBuffer(IStream *pstm, const BYTE **ppData, ULONGLONG *pcbData);

/*
 * A stream over a POSIX file descriptor. The stream's seek pointer is the
 * descriptor's file offset (as a Windows stream over a HANDLE shares the
 * handle's file pointer). With fCloseOnRelease the final Release closes fd.
 * Returns S_OK, E_POINTER, E_HANDLE (fd < 0) or E_OUTOFMEMORY.
 */
HRESULT wiasCreateStreamOnFd(int fd, BOOL fCloseOnRelease, IStream **ppstm);

/*
 * Open or create a file as a stream (like SHCreateStreamOnFile).
 * grfMode: STGM_READ, STGM_WRITE or STGM_READWRITE, optionally | STGM_CREATE
 * (create or truncate). Errors: STG_E_FILENOTFOUND, STG_E_ACCESSDENIED,
 * STG_E_TOOMANYOPENFILES, STG_E_INVALIDFLAG, E_OUTOFMEMORY, E_POINTER.
 */
HRESULT wiasCreateStreamOnFile(const char *pszPath, DWORD grfMode, IStream **ppstm);

/*
 * Fault injection: a stream that forwards to pInner (which it AddRefs) and
 * fails writing once cbFailAfter bytes have been written through it. The
 * Write that crosses the limit stores the bytes up to the limit and returns
 * hrFailure with the short count; later Writes store nothing.
 */
#define WIAS_FAILSTREAM_SETSIZE_FAILS 0x1 /* SetSize fails too once tripped */
#define WIAS_FAILSTREAM_SHORT_WRITES  0x2 /* Write accepts at most 1000 bytes per call */
HRESULT wiasCreateFailingStream(IStream *pInner, ULONGLONG cbFailAfter, HRESULT hrFailure,
                                DWORD dwFlags, IStream **ppstm);

#ifdef __cplusplus
}
#endif

#endif /* WIAS_ISTREAM_H */
