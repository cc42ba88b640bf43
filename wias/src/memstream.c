/* Growable, readable memory IStream (the CreateStreamOnHGlobal(NULL) role). */
#include "wias-internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * Small streams live in malloc'd memory. From MAP_THRESHOLD on the buffer is
 * an anonymous mapping grown with mremap, which moves page-table entries
 * instead of copying: writing N bytes costs one copy of N bytes however the
 * stream grows (realloc may copy the whole buffer at each doubling when
 * malloc serves it from the heap).
 */
#define MAP_THRESHOLD ((size_t)256 * 1024)

struct memstream {
    wias_stream_base base; /* first: IStream * converts to the stream */
    BYTE *data;
    size_t size;
    size_t cap;
    BOOL mapped;   /* data is an mmap of cap bytes */
    ULONGLONG pos; /* may lie beyond size */
};

static const IStreamVtbl memstream_vtbl;

static struct memstream *impl(IStream *This)
{
    return (struct memstream *)This;
}

static ULONG STDMETHODCALLTYPE ms_Release(IStream *This)
{
    struct memstream *ms = impl(This);
    ULONG left = wias_stream_unref(This);

    if (left == 0) {
        if (ms->mapped)
            munmap(ms->data, ms->cap);
        else
            free(ms->data);
        free(ms);
    }
    return left;
}

/* Make room for at least need bytes; new bytes beyond size are not cleared. */
static HRESULT ms_reserve(struct memstream *ms, ULONGLONG need)
{
    size_t newcap;
    void *p;

    if (need <= ms->cap)
        return S_OK;
    if (need > (ULONGLONG)(SIZE_MAX / 4))
        return STG_E_MEDIUMFULL;
    newcap = ms->cap ? ms->cap : 4096;
    while (newcap < need)
        newcap *= 2;
    if (newcap < MAP_THRESHOLD) {
        p = realloc(ms->data, newcap);
        if (!p)
            return E_OUTOFMEMORY;
    } else if (!ms->mapped) {
        p = mmap(NULL, newcap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return E_OUTOFMEMORY;
        if (ms->size)
            memcpy(p, ms->data, ms->size);
        free(ms->data);
        ms->mapped = TRUE;
    } else {
        p = mremap(ms->data, ms->cap, newcap, MREMAP_MAYMOVE);
        if (p == MAP_FAILED)
            return E_OUTOFMEMORY;
    }
    ms->data = p;
    ms->cap = newcap;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE ms_Read(IStream *This, void *pv, ULONG cb, ULONG *pcbRead)
{
    struct memstream *ms = impl(This);
    ULONG n = 0;

    if (!pv && cb)
        return STG_E_INVALIDPOINTER;
    if (cb > 0 && ms->pos < ms->size) {
        size_t avail = ms->size - (size_t)ms->pos;
        n = cb < avail ? cb : (ULONG)avail;
        memcpy(pv, ms->data + ms->pos, n);
        ms->pos += n;
    }
    if (pcbRead)
        *pcbRead = n;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE ms_Write(IStream *This, const void *pv, ULONG cb,
                                          ULONG *pcbWritten)
{
    struct memstream *ms = impl(This);
    ULONGLONG end = ms->pos + cb;
    HRESULT hr;

    if (pcbWritten)
        *pcbWritten = 0;
    if (!pv && cb)
        return STG_E_INVALIDPOINTER;
    if (cb == 0)
        return S_OK;
    hr = ms_reserve(ms, end);
    if (FAILED(hr))
        return hr;
    if (ms->pos > ms->size)
        memset(ms->data + ms->size, 0, (size_t)ms->pos - ms->size);
    memcpy(ms->data + ms->pos, pv, cb);
    ms->pos = end;
    if (end > ms->size)
        ms->size = (size_t)end;
    if (pcbWritten)
        *pcbWritten = cb;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE ms_Seek(IStream *This, LARGE_INTEGER move, DWORD origin,
                                         ULARGE_INTEGER *newpos)
{
    struct memstream *ms = impl(This);
    LONGLONG base;
    LONGLONG target;

    switch (origin) {
    case STREAM_SEEK_SET:
        base = 0;
        break;
    case STREAM_SEEK_CUR:
        base = (LONGLONG)ms->pos;
        break;
    case STREAM_SEEK_END:
        base = (LONGLONG)ms->size;
        break;
    default:
        return STG_E_INVALIDFUNCTION;
    }
    if (__builtin_add_overflow(base, move.QuadPart, &target) || target < 0)
        return STG_E_INVALIDFUNCTION;
    ms->pos = (ULONGLONG)target;
    if (newpos)
        newpos->QuadPart = ms->pos;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE ms_SetSize(IStream *This, ULARGE_INTEGER newsize)
{
    struct memstream *ms = impl(This);
    HRESULT hr;

    if (newsize.QuadPart > ms->size) {
        hr = ms_reserve(ms, newsize.QuadPart);
        if (FAILED(hr))
            return hr;
        memset(ms->data + ms->size, 0, (size_t)newsize.QuadPart - ms->size);
    }
    ms->size = (size_t)newsize.QuadPart;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE ms_Commit(IStream *This, DWORD flags)
{
    (void)This;
    (void)flags;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE ms_Stat(IStream *This, STATSTG *st, DWORD flag)
{
    struct memstream *ms = impl(This);

    if (!st)
        return STG_E_INVALIDPOINTER;
    if (flag > STATFLAG_NOOPEN)
        return STG_E_INVALIDFLAG;
    memset(st, 0, sizeof *st);
    st->type = STGTY_STREAM;
    st->cbSize.QuadPart = ms->size;
    st->grfMode = STGM_READWRITE;
    return S_OK;
}

static const IStreamVtbl memstream_vtbl = {
    .QueryInterface = wias_stream_QueryInterface,
    .AddRef = wias_stream_AddRef,
    .Release = ms_Release,
    .Read = ms_Read,
    .Write = ms_Write,
    .Seek = ms_Seek,
    .SetSize = ms_SetSize,
    .CopyTo = wias_stream_copyto,
    .Commit = ms_Commit,
    .Revert = wias_stream_Revert_noop,
    .LockRegion = wias_stream_LockRegion_unsupported,
    .UnlockRegion = wias_stream_LockRegion_unsupported,
    .Stat = ms_Stat,
    .Clone = wias_stream_Clone_notimpl,
};

HRESULT wiasCreateMemoryStream(IStream **ppstm)
{
    struct memstream *ms;

    if (!ppstm)
        return E_POINTER;
    ms = calloc(1, sizeof *ms);
    if (!ms)
        return E_OUTOFMEMORY;
    wias_stream_base_init(&ms->base, &memstream_vtbl);
    *ppstm = &ms->base.iface;
    return S_OK;
}

HRESULT wiasMemoryStreamGetBuffer(IStream *pstm, const BYTE **ppData, ULONGLONG *pcbData)
{
    if (!pstm || !ppData || !pcbData)
        return E_POINTER;
    if (pstm->lpVtbl != &memstream_vtbl)
        return E_INVALIDARG;
    *ppData = impl(pstm)->data;
    *pcbData = impl(pstm)->size;
    return S_OK;
}
