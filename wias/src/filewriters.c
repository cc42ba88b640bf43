/* wiasWritePageBufToFile and wiasWriteBufToFile: hFile is a POSIX fd. */
#include "wias-internal.h"

#include <limits.h>

static HRESULT stream_on_hfile(const MINIDRV_TRANSFER_CONTEXT *pmdtc, IStream **ppstm)
{
    if (pmdtc->hFile < 0 || pmdtc->hFile > INT_MAX)
        return E_HANDLE;
    return wiasCreateStreamOnFd((int)pmdtc->hFile, FALSE, ppstm);
}

HRESULT wiasWritePageBufToFile(PMINIDRV_TRANSFER_CONTEXT pmdtc)
{
    IStream *stm;
    HRESULT hr;

    if (!pmdtc)
        return E_POINTER;
    hr = stream_on_hfile(pmdtc, &stm);
    if (FAILED(hr))
        return hr;
    hr = wiasWritePageBufToStream(pmdtc, stm);
    stm->lpVtbl->Release(stm);
    return hr;
}

HRESULT wiasWriteBufToFile(LONG lFlags, PMINIDRV_TRANSFER_CONTEXT pmdtc)
{
    IStream *stm;
    HRESULT hr;

    if (!pmdtc)
        return E_POINTER;
    if (lFlags != 0 || pmdtc->lItemSize < 0)
        return E_INVALIDARG;
    if (pmdtc->lItemSize == 0)
        return S_OK;
    if (!pmdtc->pTransferBuffer)
        return E_POINTER;
    if (pmdtc->lBufferSize < pmdtc->lItemSize)
        return E_INVALIDARG;
    hr = stream_on_hfile(pmdtc, &stm);
    if (FAILED(hr))
        return hr;
    hr = wias_stream_write_all(stm, pmdtc->pTransferBuffer, (ULONGLONG)pmdtc->lItemSize);
    stm->lpVtbl->Release(stm);
    return hr;
}
