/* Fault-injection IStream: forwards to another stream, fails after N bytes. */
#include "wias-internal.h"

#include <stdatomic.h>
#include <stdlib.h>

struct failstream {
    wias_stream_base base; /* first: IStream * converts to the stream */
    IStream *inner;
    ULONGLONG limit;
    ULONGLONG written;
    HRESULT hr_fail;
    DWORD flags;
    BOOL tripped;
};

static struct failstream *impl(IStream *This)
{
    return (struct failstream *)This;
}

static ULONG STDMETHODCALLTYPE xs_Release(IStream *This)
{
    struct failstream *xs = impl(This);
    ULONG left = wias_stream_unref(This);

    if (left == 0) {
        xs->inner->lpVtbl->Release(xs->inner);
        free(xs);
    }
    return left;
}

static HRESULT STDMETHODCALLTYPE xs_Read(IStream *This, void *pv, ULONG cb, ULONG *pcbRead)
{
    IStream *in = impl(This)->inner;
    return in->lpVtbl->Read(in, pv, cb, pcbRead);
}

static HRESULT STDMETHODCALLTYPE xs_Write(IStream *This, const void *pv, ULONG cb,
                                          ULONG *pcbWritten)
{
    struct failstream *xs = impl(This);
    ULONGLONG remaining;
    ULONG allow = cb;
    ULONG done = 0;
    HRESULT hr = S_OK;
    BOOL trip = FALSE;

    if (pcbWritten)
        *pcbWritten = 0;
    if (xs->tripped)
        return xs->hr_fail;
    remaining = xs->limit - xs->written;
    if ((xs->flags & WIAS_FAILSTREAM_SHORT_WRITES) && allow > 1000)
        allow = 1000;
    if (allow > remaining || (allow == remaining && cb > remaining)) {
        allow = (ULONG)remaining;
        trip = TRUE;
    }
    if (allow > 0) {
        hr = xs->inner->lpVtbl->Write(xs->inner, pv, allow, &done);
        xs->written += done;
    }
    if (pcbWritten)
        *pcbWritten = done;
    if (FAILED(hr))
        return hr;
    if (trip) {
        xs->tripped = TRUE;
        return xs->hr_fail;
    }
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE xs_Seek(IStream *This, LARGE_INTEGER move, DWORD origin,
                                         ULARGE_INTEGER *newpos)
{
    IStream *in = impl(This)->inner;
    return in->lpVtbl->Seek(in, move, origin, newpos);
}

static HRESULT STDMETHODCALLTYPE xs_SetSize(IStream *This, ULARGE_INTEGER newsize)
{
    struct failstream *xs = impl(This);

    if (xs->tripped && (xs->flags & WIAS_FAILSTREAM_SETSIZE_FAILS))
        return xs->hr_fail;
    return xs->inner->lpVtbl->SetSize(xs->inner, newsize);
}

static HRESULT STDMETHODCALLTYPE xs_CopyTo(IStream *This, IStream *pstm, ULARGE_INTEGER cb,
                                           ULARGE_INTEGER *pcbRead, ULARGE_INTEGER *pcbWritten)
{
    return wias_stream_copyto(This, pstm, cb, pcbRead, pcbWritten);
}

static HRESULT STDMETHODCALLTYPE xs_Commit(IStream *This, DWORD flags)
{
    struct failstream *xs = impl(This);

    if (xs->tripped)
        return xs->hr_fail;
    return xs->inner->lpVtbl->Commit(xs->inner, flags);
}

static HRESULT STDMETHODCALLTYPE xs_Revert(IStream *This)
{
    IStream *in = impl(This)->inner;
    return in->lpVtbl->Revert(in);
}

static HRESULT STDMETHODCALLTYPE xs_LockRegion(IStream *This, ULARGE_INTEGER off, ULARGE_INTEGER cb,
                                               DWORD type)
{
    IStream *in = impl(This)->inner;
    return in->lpVtbl->LockRegion(in, off, cb, type);
}

static HRESULT STDMETHODCALLTYPE xs_UnlockRegion(IStream *This, ULARGE_INTEGER off,
                                                 ULARGE_INTEGER cb, DWORD type)
{
    IStream *in = impl(This)->inner;
    return in->lpVtbl->UnlockRegion(in, off, cb, type);
}

static HRESULT STDMETHODCALLTYPE xs_Stat(IStream *This, STATSTG *st, DWORD flag)
{
    IStream *in = impl(This)->inner;
    return in->lpVtbl->Stat(in, st, flag);
}

static const IStreamVtbl failstream_vtbl = {
    .QueryInterface = wias_stream_QueryInterface,
    .AddRef = wias_stream_AddRef,
    .Release = xs_Release,
    .Read = xs_Read,
    .Write = xs_Write,
    .Seek = xs_Seek,
    .SetSize = xs_SetSize,
    .CopyTo = xs_CopyTo,
    .Commit = xs_Commit,
    .Revert = xs_Revert,
    .LockRegion = xs_LockRegion,
    .UnlockRegion = xs_UnlockRegion,
    .Stat = xs_Stat,
    .Clone = wias_stream_Clone_notimpl,
};

HRESULT wiasCreateFailingStream(IStream *pInner, ULONGLONG cbFailAfter, HRESULT hrFailure,
                                DWORD dwFlags, IStream **ppstm)
{
    struct failstream *xs;

    if (!pInner || !ppstm)
        return E_POINTER;
    if (!FAILED(hrFailure) ||
        (dwFlags & ~(DWORD)(WIAS_FAILSTREAM_SETSIZE_FAILS | WIAS_FAILSTREAM_SHORT_WRITES)))
        return E_INVALIDARG;
    xs = calloc(1, sizeof *xs);
    if (!xs)
        return E_OUTOFMEMORY;
    wias_stream_base_init(&xs->base, &failstream_vtbl);
    pInner->lpVtbl->AddRef(pInner);
    xs->inner = pInner;
    xs->limit = cbFailAfter;
    xs->hr_fail = hrFailure;
    xs->flags = dwFlags;
    *ppstm = &xs->base.iface;
    return S_OK;
}
