/* Private declarations shared by the wias sources. */
#ifndef WIAS_INTERNAL_H
#define WIAS_INTERNAL_H

#include "wias/wias.h"

/* Map an errno value from a failed read/write/open to a STG_E_ code. */
HRESULT wias_hresult_from_errno(int err, HRESULT fallback);

/* IUnknown/ISequentialStream/IStream match for QueryInterface. */
BOOL wias_is_stream_iid(REFIID riid);

/* IStream::CopyTo implemented with Read and Write; shared by all streams. */
HRESULT wias_stream_copyto(IStream *src, IStream *dst, ULARGE_INTEGER cb, ULARGE_INTEGER *pcbRead,
                           ULARGE_INTEGER *pcbWritten);

/* Write all cb bytes, retrying short counts. A short count with S_OK and
 * no progress becomes STG_E_WRITEFAULT. */
HRESULT wias_stream_write_all(IStream *pstm, const void *pv, ULONGLONG cb);

/* Read exactly cb bytes or fail (short read → STG_E_READFAULT). */
HRESULT wias_stream_read_all(IStream *pstm, void *pv, ULONG cb);

/* Seek to an absolute offset / to the end; *pos receives the new position. */
HRESULT wias_stream_seek_set(IStream *pstm, ULONGLONG off);
HRESULT wias_stream_seek_end(IStream *pstm, ULONGLONG *pos);

/* Unix time (seconds, nanoseconds) to FILETIME (100 ns since 1601). */
FILETIME wias_filetime_from_unix(int64_t sec, long nsec);

#endif
