/* Helpers shared by the stream implementations and the page writer. */
#include "wias-internal.h"

#include <errno.h>
#include <stdlib.h>

HRESULT wias_hresult_from_errno(int err, HRESULT fallback)
{
    switch (err) {
    case ENOENT:
        return STG_E_FILENOTFOUND;
    case ENOTDIR:
        return STG_E_PATHNOTFOUND;
    case EACCES:
    case EPERM:
        return STG_E_ACCESSDENIED;
    case EROFS:
        return STG_E_DISKISWRITEPROTECTED;
    case EMFILE:
    case ENFILE:
        return STG_E_TOOMANYOPENFILES;
    case EEXIST:
        return STG_E_FILEALREADYEXISTS;
    case ENOSPC:
    case EFBIG:
    case EDQUOT:
        return STG_E_MEDIUMFULL;
    case ENOMEM:
        return E_OUTOFMEMORY;
    case EBADF:
        return STG_E_INVALIDHANDLE;
    case ESPIPE:
    case EINVAL:
        return STG_E_INVALIDFUNCTION;
    default:
        return fallback;
    }
}

BOOL wias_is_stream_iid(REFIID riid)
{
    return IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_ISequentialStream) ||
           IsEqualIID(riid, &IID_IStream);
}

HRESULT STDMETHODCALLTYPE wias_stream_copyto(IStream *src, IStream *dst, ULARGE_INTEGER cb,
                                             ULARGE_INTEGER *pcbRead, ULARGE_INTEGER *pcbWritten)
{
    BYTE buf[16384];
    ULONGLONG left = cb.QuadPart;
    ULONGLONG nread = 0;
    ULONGLONG nwritten = 0;
    HRESULT hr = S_OK;

    if (!dst)
        return STG_E_INVALIDPOINTER;
    while (left > 0) {
        ULONG want = left < sizeof buf ? (ULONG)left : (ULONG)sizeof buf;
        ULONG got = 0;
        ULONG put = 0;

        hr = src->lpVtbl->Read(src, buf, want, &got);
        if (FAILED(hr))
            break;
        nread += got;
        if (got == 0)
            break;
        hr = dst->lpVtbl->Write(dst, buf, got, &put);
        nwritten += put;
        if (FAILED(hr))
            break;
        if (put < got) {
            hr = STG_E_MEDIUMFULL;
            break;
        }
        left -= got;
        if (got < want)
            break;
    }
    if (pcbRead)
        pcbRead->QuadPart = nread;
    if (pcbWritten)
        pcbWritten->QuadPart = nwritten;
    return FAILED(hr) ? hr : S_OK;
}

HRESULT wias_stream_write_all(IStream *pstm, const void *pv, ULONGLONG cb)
{
    const BYTE *p = pv;

    while (cb > 0) {
        ULONG chunk = cb > 0x40000000u ? 0x40000000u : (ULONG)cb;
        ULONG done = 0;
        HRESULT hr = pstm->lpVtbl->Write(pstm, p, chunk, &done);

        if (FAILED(hr))
            return hr;
        if (done == 0 || done > chunk)
            return STG_E_WRITEFAULT;
        p += done;
        cb -= done;
    }
    return S_OK;
}

HRESULT wias_stream_read_all(IStream *pstm, void *pv, ULONG cb)
{
    BYTE *p = pv;

    while (cb > 0) {
        ULONG done = 0;
        HRESULT hr = pstm->lpVtbl->Read(pstm, p, cb, &done);

        if (FAILED(hr))
            return hr;
        if (done == 0 || done > cb)
            return STG_E_READFAULT;
        p += done;
        cb -= done;
    }
    return S_OK;
}

HRESULT wias_stream_seek_set(IStream *pstm, ULONGLONG off)
{
    LARGE_INTEGER li;

    if (off > (ULONGLONG)INT64_MAX)
        return STG_E_INVALIDFUNCTION;
    li.QuadPart = (LONGLONG)off;
    return pstm->lpVtbl->Seek(pstm, li, STREAM_SEEK_SET, NULL);
}

HRESULT wias_stream_seek_end(IStream *pstm, ULONGLONG *pos)
{
    LARGE_INTEGER li;
    ULARGE_INTEGER newpos;
    HRESULT hr;

    li.QuadPart = 0;
    newpos.QuadPart = 0;
    hr = pstm->lpVtbl->Seek(pstm, li, STREAM_SEEK_END, &newpos);
    if (SUCCEEDED(hr) && pos)
        *pos = newpos.QuadPart;
    return hr;
}

FILETIME wias_filetime_from_unix(int64_t sec, long nsec)
{
    /* 11644473600 s between 1601-01-01 and 1970-01-01. */
    uint64_t t = (uint64_t)(sec + INT64_C(11644473600)) * 10000000u + (uint64_t)(nsec / 100);
    FILETIME ft;

    ft.dwLowDateTime = (DWORD)t;
    ft.dwHighDateTime = (DWORD)(t >> 32);
    return ft;
}

LPVOID CoTaskMemAlloc(SIZE_T cb)
{
    return malloc(cb ? cb : 1);
}

LPVOID CoTaskMemRealloc(LPVOID pv, SIZE_T cb)
{
    return realloc(pv, cb ? cb : 1);
}

void CoTaskMemFree(LPVOID pv)
{
    free(pv);
}

void wias_stream_base_init(wias_stream_base *b, const IStreamVtbl *vtbl)
{
    b->iface.lpVtbl = vtbl;
    atomic_init(&b->refs, 1);
}

HRESULT STDMETHODCALLTYPE wias_stream_QueryInterface(IStream *This, REFIID riid, void **ppv)
{
    if (!ppv)
        return E_POINTER;
    if (!riid || !wias_is_stream_iid(riid)) {
        *ppv = NULL;
        return E_NOINTERFACE;
    }
    This->lpVtbl->AddRef(This);
    *ppv = This;
    return S_OK;
}

ULONG STDMETHODCALLTYPE wias_stream_AddRef(IStream *This)
{
    return atomic_fetch_add(&((wias_stream_base *)This)->refs, 1) + 1;
}

ULONG wias_stream_unref(IStream *This)
{
    return atomic_fetch_sub(&((wias_stream_base *)This)->refs, 1) - 1;
}

HRESULT STDMETHODCALLTYPE wias_stream_Clone_notimpl(IStream *This, IStream **ppstm)
{
    (void)This;
    if (ppstm)
        *ppstm = NULL;
    return E_NOTIMPL;
}

HRESULT STDMETHODCALLTYPE wias_stream_Revert_noop(IStream *This)
{
    (void)This;
    return S_OK;
}

HRESULT STDMETHODCALLTYPE wias_stream_LockRegion_unsupported(IStream *This, ULARGE_INTEGER off,
                                                             ULARGE_INTEGER cb, DWORD type)
{
    (void)This;
    (void)off;
    (void)cb;
    (void)type;
    return STG_E_INVALIDFUNCTION;
}
