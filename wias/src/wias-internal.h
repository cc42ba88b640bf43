/* Private declarations shared by the wias sources. */
#ifndef WIAS_INTERNAL_H
#define WIAS_INTERNAL_H

#include <stdatomic.h>
#include "wias/wias.h"

/* Map an errno value from a failed read/write/open to a STG_E_ code. */
HRESULT wias_hresult_from_errno(int err, HRESULT fallback);

/* IUnknown/ISequentialStream/IStream match for QueryInterface. */
BOOL wias_is_stream_iid(REFIID riid);

/* The head every stream implementation starts with: the interface, then the
 * reference count. QueryInterface, AddRef and Clone are the same for all of
 * them; Release differs only in what it frees (wias_stream_unref). */
typedef struct wias_stream_base {
    IStream iface;
    atomic_uint refs;
} wias_stream_base;
void wias_stream_base_init(wias_stream_base *b, const IStreamVtbl *vtbl);
HRESULT STDMETHODCALLTYPE wias_stream_QueryInterface(IStream *This, REFIID riid, void **ppv);
ULONG STDMETHODCALLTYPE wias_stream_AddRef(IStream *This);
/* Drops one reference; the caller frees its stream when this returns 0. */
ULONG wias_stream_unref(IStream *This);
HRESULT STDMETHODCALLTYPE wias_stream_Clone_notimpl(IStream *This, IStream **ppstm);
/* Revert of a stream without transactions: nothing to undo. */
HRESULT STDMETHODCALLTYPE wias_stream_Revert_noop(IStream *This);
/* LockRegion/UnlockRegion of a stream without region locks. */
HRESULT STDMETHODCALLTYPE wias_stream_LockRegion_unsupported(IStream *This, ULARGE_INTEGER off,
                                                             ULARGE_INTEGER cb, DWORD type);

/* IStream::CopyTo implemented with Read and Write; shared by all streams. */
HRESULT STDMETHODCALLTYPE wias_stream_copyto(IStream *src, IStream *dst, ULARGE_INTEGER cb,
                                             ULARGE_INTEGER *pcbRead, ULARGE_INTEGER *pcbWritten);

/* Write all cb bytes, retrying short counts. A short count with S_OK and
 * no progress becomes STG_E_WRITEFAULT. */
HRESULT wias_stream_write_all(IStream *pstm, const void *pv, ULONGLONG cb);

/* Read exactly cb bytes or fail (short read → STG_E_READFAULT). */
HRESULT wias_stream_read_all(IStream *pstm, void *pv, ULONG cb);

/* Seek to an absolute offset / to the end; *pos receives the new position. */
HRESULT wias_stream_seek_set(IStream *pstm, ULONGLONG off);
HRESULT wias_stream_seek_end(IStream *pstm, ULONGLONG *pos);

/* TRUE for the formats the page writers encode as multipage TIFF
 * (WiaImgFmt_TIFF and GUID_NULL). */
BOOL wias_format_is_tiff(const GUID *fmt);

/* The page writers for all other formats: lItemSize bytes of
 * pTransferBuffer written unchanged at the stream's position. The context
 * is not modified. */
HRESULT wias_write_passthrough(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream,
                               const WIAS_PAGE_OPTIONS *pOptions);

/* Unix time (seconds, nanoseconds) to FILETIME (100 ns since 1601). */
FILETIME wias_filetime_from_unix(int64_t sec, long nsec);

#endif
