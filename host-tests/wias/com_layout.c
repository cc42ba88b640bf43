/* The C side of the layout tests: an IStream implemented with a C vtable,
 * and a caller that goes through every slot of any IStream from C. */
#include "com_layout.h"

#include <stdlib.h>

struct c_probe {
    IStream iface; /* first: the IStream * is the object */
    layout_record *rec;
};

static void record(IStream *This, int slot, LONGLONG witness)
{
    layout_record *rec = ((struct c_probe *)This)->rec;

    if (rec->ncalls < 2 * LAYOUT_SLOTS) {
        rec->slot[rec->ncalls] = slot;
        rec->self[rec->ncalls] = This;
        rec->witness[rec->ncalls] = witness;
        rec->ncalls++;
    }
}

static HRESULT STDMETHODCALLTYPE cp_QueryInterface(IStream *This, REFIID riid, void **ppv)
{
    record(This, 0, riid->Data1);
    *ppv = NULL;
    return E_NOINTERFACE;
}

static ULONG STDMETHODCALLTYPE cp_AddRef(IStream *This)
{
    record(This, 1, 0);
    return 2;
}

static ULONG STDMETHODCALLTYPE cp_Release(IStream *This)
{
    record(This, 2, 0);
    return 1;
}

static HRESULT STDMETHODCALLTYPE cp_Read(IStream *This, void *pv, ULONG cb, ULONG *pcbRead)
{
    (void)pv;
    record(This, 3, cb);
    if (pcbRead)
        *pcbRead = 0;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_Write(IStream *This, const void *pv, ULONG cb,
                                          ULONG *pcbWritten)
{
    (void)pv;
    record(This, 4, cb);
    if (pcbWritten)
        *pcbWritten = cb;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_Seek(IStream *This, LARGE_INTEGER move, DWORD origin,
                                         ULARGE_INTEGER *newpos)
{
    (void)newpos;
    record(This, 5, move.QuadPart + origin);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_SetSize(IStream *This, ULARGE_INTEGER size)
{
    record(This, 6, (LONGLONG)size.QuadPart);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_CopyTo(IStream *This, IStream *dst, ULARGE_INTEGER cb,
                                           ULARGE_INTEGER *pcbRead, ULARGE_INTEGER *pcbWritten)
{
    (void)dst;
    (void)pcbRead;
    (void)pcbWritten;
    record(This, 7, (LONGLONG)cb.QuadPart);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_Commit(IStream *This, DWORD flags)
{
    record(This, 8, flags);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_Revert(IStream *This)
{
    record(This, 9, 0);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_LockRegion(IStream *This, ULARGE_INTEGER off, ULARGE_INTEGER cb,
                                               DWORD type)
{
    (void)cb;
    (void)type;
    record(This, 10, (LONGLONG)off.QuadPart);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_UnlockRegion(IStream *This, ULARGE_INTEGER off,
                                                 ULARGE_INTEGER cb, DWORD type)
{
    (void)cb;
    (void)type;
    record(This, 11, (LONGLONG)off.QuadPart);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_Stat(IStream *This, STATSTG *st, DWORD flags)
{
    (void)st;
    record(This, 12, flags);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE cp_Clone(IStream *This, IStream **ppstm)
{
    record(This, 13, 0);
    *ppstm = NULL;
    return E_NOTIMPL;
}

static const IStreamVtbl c_probe_vtbl = {
    .QueryInterface = cp_QueryInterface,
    .AddRef = cp_AddRef,
    .Release = cp_Release,
    .Read = cp_Read,
    .Write = cp_Write,
    .Seek = cp_Seek,
    .SetSize = cp_SetSize,
    .CopyTo = cp_CopyTo,
    .Commit = cp_Commit,
    .Revert = cp_Revert,
    .LockRegion = cp_LockRegion,
    .UnlockRegion = cp_UnlockRegion,
    .Stat = cp_Stat,
    .Clone = cp_Clone,
};

IStream *layout_c_probe_new(layout_record *rec)
{
    struct c_probe *p = calloc(1, sizeof *p);

    if (!p)
        return NULL;
    p->iface.lpVtbl = &c_probe_vtbl;
    p->rec = rec;
    return &p->iface;
}

void layout_c_probe_free(IStream *p)
{
    free(p);
}

static ULARGE_INTEGER u64(ULONGLONG v)
{
    ULARGE_INTEGER u;

    u.QuadPart = v;
    return u;
}

void layout_call_all_c(IStream *p)
{
    IID iid = IID_IStream;
    LARGE_INTEGER move;
    ULARGE_INTEGER u;
    STATSTG st;
    IStream *clone;
    BYTE b[8];
    ULONG cb;
    void *pv;

    iid.Data1 = 1000;
    p->lpVtbl->QueryInterface(p, &iid, &pv);
    p->lpVtbl->AddRef(p);
    p->lpVtbl->Release(p);
    p->lpVtbl->Read(p, b, 1003, &cb);
    p->lpVtbl->Write(p, b, 1004, &cb);
    move.QuadPart = 1005 - STREAM_SEEK_END;
    p->lpVtbl->Seek(p, move, STREAM_SEEK_END, &u);
    p->lpVtbl->SetSize(p, u64(1006));
    p->lpVtbl->CopyTo(p, p, u64(1007), &u, &u);
    p->lpVtbl->Commit(p, 1008);
    p->lpVtbl->Revert(p);
    p->lpVtbl->LockRegion(p, u64(1010), u64(1), 0);
    p->lpVtbl->UnlockRegion(p, u64(1011), u64(1), 0);
    p->lpVtbl->Stat(p, &st, 1012);
    p->lpVtbl->Clone(p, &clone);
}

const void *layout_c_vtbl_of(IStream *p)
{
    return p->lpVtbl;
}
