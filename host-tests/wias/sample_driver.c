/*
 * The sample minidriver's transfer routine of sample_driver.cpp, the same
 * steps written in C: vtable calls, IsEqualGUID on pointers, CoTaskMemAlloc.
 */
#include <windows.h>
#include <wiamindr.h>
#include <wiamdef.h>
#include <wiadef.h>

#include "sample_driver.h"

#define BAND_LINES 16

static BOOL IsDibFormat(REFGUID pguidFormat)
{
    return IsEqualGUID(pguidFormat, &WiaImgFmt_BMP) ||
           IsEqualGUID(pguidFormat, &WiaImgFmt_MEMORYBMP);
}

static BOOL IsSupportedFormat(REFGUID pguidFormat)
{
    return IsEqualGUID(pguidFormat, &WiaImgFmt_TIFF) || IsDibFormat(pguidFormat) ||
           IsEqualGUID(pguidFormat, &WiaImgFmt_RAW);
}

static void ReadRow(_In_ LONG lPage, _In_ LONG lLine, _In_ LONG lWidth, _In_ LONG lChannels,
                    _Out_writes_bytes_(lWidth *lChannels) BYTE *pRow)
{
    LONG x, c;

    for (x = 0; x < lWidth; x++) {
        for (c = 0; c < lChannels; c++)
            pRow[x * lChannels + c] = sample_pixel(lPage, x, lLine, (int)c);
    }
}

static HRESULT FillPage(_Inout_ PMINIDRV_TRANSFER_CONTEXT pmdtc, _In_ LONG lPage)
{
    LONG lChannels = pmdtc->lDepth / 8;
    BOOL bDib = IsDibFormat(&pmdtc->guidFormatID);
    BYTE *pBits = pmdtc->pTransferBuffer + pmdtc->lHeaderSize;
    LONG lLine, x;

    for (lLine = 0; lLine < pmdtc->lLines; lLine++) {
        LONG lDest = bDib ? pmdtc->lLines - 1 - lLine : lLine;
        BYTE *pRow = pBits + (size_t)lDest * (size_t)pmdtc->cbWidthInBytes;

        ReadRow(lPage, lLine, pmdtc->lWidthInPixels, lChannels, pRow);
        if (bDib && lChannels == 3) {
            for (x = 0; x < pmdtc->lWidthInPixels; x++) {
                BYTE b = pRow[3 * x];
                pRow[3 * x] = pRow[3 * x + 2];
                pRow[3 * x + 2] = b;
            }
        }
    }
    return S_OK;
}

static HRESULT WriteAll(_In_ IStream *pStream, _In_reads_bytes_(cb) const BYTE *pv, _In_ ULONG cb)
{
    while (cb > 0) {
        ULONG cbWritten = 0;
        HRESULT hr = pStream->lpVtbl->Write(pStream, pv, cb, &cbWritten);

        if (FAILED(hr))
            return hr;
        if (cbWritten == 0)
            return STG_E_WRITEFAULT;
        pv += cbWritten;
        cb -= cbWritten;
    }
    return S_OK;
}

static HRESULT WritePageDirect(_In_ IStream *pStream, _In_ const MINIDRV_TRANSFER_CONTEXT *pmdtc)
{
    const BYTE *pBits = pmdtc->pTransferBuffer + pmdtc->lHeaderSize;
    HRESULT hr = WriteAll(pStream, pmdtc->pTransferBuffer, (ULONG)pmdtc->lHeaderSize);
    LONG lLine;

    for (lLine = 0; SUCCEEDED(hr) && lLine < pmdtc->lLines; lLine += BAND_LINES) {
        LONG lBand = pmdtc->lLines - lLine < BAND_LINES ? pmdtc->lLines - lLine : BAND_LINES;
        hr = WriteAll(pStream, pBits + (size_t)lLine * (size_t)pmdtc->cbWidthInBytes,
                      (ULONG)(lBand * pmdtc->cbWidthInBytes));
    }
    return hr;
}

static HRESULT WritePage(_In_ LONG lFlags, _Inout_ PMINIDRV_TRANSFER_CONTEXT pmdtc,
                         _In_opt_ IStream *pStream)
{
    if (!pStream)
        return wiasWritePageBufToFile(pmdtc);
    if ((lFlags & SAMPLE_DIRECT_WRITE) && !IsEqualGUID(&pmdtc->guidFormatID, &WiaImgFmt_TIFF))
        return WritePageDirect(pStream, pmdtc);
    return wiasWritePageBufToStream(pmdtc, pStream);
}

static HRESULT __stdcall SendProgress(_In_ PMINIDRV_TRANSFER_CONTEXT pmdtc, _In_ LONG lPercent)
{
    IWiaMiniDrvCallBack *pCallback = pmdtc->pIWiaMiniDrvCallBack;

    if (!pCallback)
        return S_OK;
    return pCallback->lpVtbl->MiniDrvCallback(
        pCallback, IT_MSG_STATUS, IT_STATUS_TRANSFER_TO_CLIENT, lPercent, 0, 0, pmdtc, 0);
}

HRESULT SampleCAcquireItemData(_In_ BYTE *pWiasContext, _In_ LONG lFlags,
                               _Inout_ PMINIDRV_TRANSFER_CONTEXT pmdtc, _In_opt_ IStream *pStream,
                               _In_ LONG lPages, _Out_ LONG *plDevErrVal)
{
    BYTE *pBuffer;
    LONG lPage;
    HRESULT hr;

    if (!pWiasContext || !pmdtc || !plDevErrVal || lPages <= 0)
        return E_INVALIDARG;
    *plDevErrVal = 0;

    hr = wiasGetImageInformation(pWiasContext, WIAS_INIT_CONTEXT, pmdtc);
    if (FAILED(hr))
        return hr;
    if (!IsSupportedFormat(&pmdtc->guidFormatID) || (pmdtc->lDepth != 8 && pmdtc->lDepth != 24))
        return E_INVALIDARG;

    pmdtc->lBufferSize = pmdtc->lHeaderSize + pmdtc->lImageSize;
    pBuffer = (BYTE *)CoTaskMemAlloc((SIZE_T)pmdtc->lBufferSize);
    if (!pBuffer)
        return E_OUTOFMEMORY;
    ZeroMemory(pBuffer, (size_t)pmdtc->lBufferSize);
    pmdtc->pBaseBuffer = pBuffer;
    pmdtc->pTransferBuffer = pBuffer;
    pmdtc->bClassDrvAllocBuf = FALSE;

    hr = wiasGetImageInformation(pWiasContext, 0, pmdtc);
    if (SUCCEEDED(hr) && !IsEqualGUID(&pmdtc->guidFormatID, &WiaImgFmt_TIFF) &&
        pmdtc->lItemSize == 0)
        pmdtc->lItemSize = pmdtc->lHeaderSize + pmdtc->lImageSize;

    for (lPage = 0; SUCCEEDED(hr) && lPage < lPages; lPage++) {
        hr = FillPage(pmdtc, lPage);
        if (SUCCEEDED(hr))
            hr = WritePage(lFlags, pmdtc, pStream);
        if (SUCCEEDED(hr)) {
            hr = SendProgress(pmdtc, (lPage + 1) * 100 / lPages);
            if (hr == S_FALSE)
                break;
        }
    }

    pmdtc->pTransferBuffer = NULL;
    pmdtc->pBaseBuffer = NULL;
    CoTaskMemFree(pBuffer);
    return hr;
}
