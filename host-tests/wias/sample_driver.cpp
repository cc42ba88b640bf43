//
// Sample scanner minidriver: the transfer part of drvAcquireItemData, written
// against the WIA driver-services documentation the way it would be written
// for Windows. Nothing below is scanemu-specific except WIAS_ITEM_PROPERTIES
// behind pWiasContext (scanemu has no WIA item tree).
//
#include <windows.h>
#include <wiamindr.h>
#include <wiamdef.h>
#include <wiadef.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "sample_driver.h"

namespace
{

const LONG BAND_LINES = 16;

bool IsDibFormat(REFGUID guidFormat)
{
    return guidFormat == WiaImgFmt_BMP || guidFormat == WiaImgFmt_MEMORYBMP;
}

bool IsSupportedFormat(REFGUID guidFormat)
{
    return guidFormat == WiaImgFmt_TIFF || IsDibFormat(guidFormat) || guidFormat == WiaImgFmt_RAW;
}

// The device: hands out rows of the current page, top row first, packed gray
// or RGB.
class CSampleScanner
{
  public:
    explicit CSampleScanner(LONG lPage) : m_lPage(lPage)
    {
    }

    void ReadRow(_In_ LONG lLine, _In_ LONG lWidth, _In_ LONG lChannels,
                 _Out_writes_bytes_(lWidth *lChannels) BYTE *pRow) const
    {
        for (LONG x = 0; x < lWidth; x++) {
            for (LONG c = 0; c < lChannels; c++)
                pRow[x * lChannels + c] = sample_pixel(m_lPage, x, lLine, static_cast<int>(c));
        }
    }

  private:
    LONG m_lPage;
};

// Fills the page part of the transfer buffer (after the header): TIFF and RAW
// rows top-down in RGB order, DIB rows bottom-up in BGR order.
HRESULT FillPage(_Inout_ PMINIDRV_TRANSFER_CONTEXT pmdtc, _In_ LONG lPage)
{
    const CSampleScanner scanner(lPage);
    const LONG lChannels = pmdtc->lDepth / 8;
    const bool bDib = IsDibFormat(pmdtc->guidFormatID);
    BYTE *pBits = pmdtc->pTransferBuffer + pmdtc->lHeaderSize;

    for (LONG lLine = 0; lLine < pmdtc->lLines; lLine++) {
        LONG lDest = bDib ? pmdtc->lLines - 1 - lLine : lLine;
        BYTE *pRow = pBits + static_cast<size_t>(lDest) * pmdtc->cbWidthInBytes;

        scanner.ReadRow(lLine, pmdtc->lWidthInPixels, lChannels, pRow);
        if (bDib && lChannels == 3) {
            for (LONG x = 0; x < pmdtc->lWidthInPixels; x++)
                std::swap(pRow[3 * x], pRow[3 * x + 2]);
        }
    }
    return S_OK;
}

HRESULT WriteAll(_In_ IStream *pStream, _In_reads_bytes_(cb) const BYTE *pv, _In_ ULONG cb)
{
    while (cb > 0) {
        ULONG cbWritten = 0;
        HRESULT hr = pStream->Write(pv, cb, &cbWritten);

        if (FAILED(hr))
            return hr;
        if (cbWritten == 0)
            return STG_E_WRITEFAULT;
        pv += cbWritten;
        cb -= cbWritten;
    }
    return S_OK;
}

// Writes the page the way a driver does without the service: the header,
// then band after band.
HRESULT WritePageDirect(_In_ IStream *pStream, _In_ const MINIDRV_TRANSFER_CONTEXT *pmdtc)
{
    const BYTE *pBits = pmdtc->pTransferBuffer + pmdtc->lHeaderSize;
    HRESULT hr = WriteAll(pStream, pmdtc->pTransferBuffer, static_cast<ULONG>(pmdtc->lHeaderSize));

    for (LONG lLine = 0; SUCCEEDED(hr) && lLine < pmdtc->lLines; lLine += BAND_LINES) {
        LONG lBand = std::min(BAND_LINES, pmdtc->lLines - lLine);
        hr = WriteAll(pStream, pBits + static_cast<size_t>(lLine) * pmdtc->cbWidthInBytes,
                      static_cast<ULONG>(lBand * pmdtc->cbWidthInBytes));
    }
    return hr;
}

HRESULT WritePage(_In_ LONG lFlags, _Inout_ PMINIDRV_TRANSFER_CONTEXT pmdtc,
                  _In_opt_ IStream *pStream)
{
    if (!pStream)
        return wiasWritePageBufToFile(pmdtc);
    if ((lFlags & SAMPLE_DIRECT_WRITE) && pmdtc->guidFormatID != WiaImgFmt_TIFF)
        return WritePageDirect(pStream, pmdtc);
    return wiasWritePageBufToStream(pmdtc, pStream);
}

HRESULT __stdcall SendProgress(_In_ PMINIDRV_TRANSFER_CONTEXT pmdtc, _In_ LONG lPercent)
{
    if (!pmdtc->pIWiaMiniDrvCallBack)
        return S_OK;
    return pmdtc->pIWiaMiniDrvCallBack->MiniDrvCallback(IT_MSG_STATUS, IT_STATUS_TRANSFER_TO_CLIENT,
                                                        lPercent, 0, 0, pmdtc, 0);
}

} // namespace

extern "C" HRESULT SampleCxxAcquireItemData(_In_ BYTE *pWiasContext, _In_ LONG lFlags,
                                            _Inout_ PMINIDRV_TRANSFER_CONTEXT pmdtc,
                                            _In_opt_ IStream *pStream, _In_ LONG lPages,
                                            _Out_ LONG *plDevErrVal)
{
    if (!pWiasContext || !pmdtc || !plDevErrVal || lPages <= 0)
        return E_INVALIDARG;
    *plDevErrVal = 0;

    HRESULT hr = wiasGetImageInformation(pWiasContext, WIAS_INIT_CONTEXT, pmdtc);
    if (FAILED(hr))
        return hr;
    if (!IsSupportedFormat(pmdtc->guidFormatID) || (pmdtc->lDepth != 8 && pmdtc->lDepth != 24))
        return E_INVALIDARG;

    // One page at a time, header included; the service did not allocate.
    pmdtc->lBufferSize = pmdtc->lHeaderSize + pmdtc->lImageSize;
    BYTE *pBuffer = new (std::nothrow) BYTE[static_cast<size_t>(pmdtc->lBufferSize)]();
    if (!pBuffer)
        return E_OUTOFMEMORY;
    pmdtc->pBaseBuffer = pBuffer;
    pmdtc->pTransferBuffer = pBuffer;
    pmdtc->bClassDrvAllocBuf = FALSE;

    // With a buffer present the service also writes the image header.
    hr = wiasGetImageInformation(pWiasContext, 0, pmdtc);
    if (SUCCEEDED(hr) && pmdtc->guidFormatID != WiaImgFmt_TIFF && pmdtc->lItemSize == 0)
        pmdtc->lItemSize = pmdtc->lHeaderSize + pmdtc->lImageSize; // uncompressed: known now

    for (LONG lPage = 0; SUCCEEDED(hr) && lPage < lPages; lPage++) {
        hr = FillPage(pmdtc, lPage);
        if (SUCCEEDED(hr))
            hr = WritePage(lFlags, pmdtc, pStream);
        if (SUCCEEDED(hr)) {
            hr = SendProgress(pmdtc, (lPage + 1) * 100 / lPages);
            if (hr == S_FALSE)
                break; // the application cancelled
        }
    }

    pmdtc->pTransferBuffer = nullptr;
    pmdtc->pBaseBuffer = nullptr;
    delete[] pBuffer;
    return hr;
}
