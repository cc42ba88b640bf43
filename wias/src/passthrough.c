/*
 * The page writers for every format but TIFF: the page buffer goes to the
 * stream unchanged. A BMP, MEMORYBMP, RAW, PNG or JPEG page is already in
 * its file format when the minidriver hands it over (header first, as
 * wiasGetImageInformation lays it out), so there is nothing to encode.
 */
#include "wias-internal.h"

BOOL wias_format_is_tiff(const GUID *fmt)
{
    /* GUID_NULL: a context whose format was never set gets the job the
     * page writers are documented for, a multipage TIFF. */
    return IsEqualGUID(fmt, &WiaImgFmt_TIFF) || IsEqualGUID(fmt, &GUID_NULL);
}

static HRESULT check_passthrough(const MINIDRV_TRANSFER_CONTEXT *c, const WIAS_PAGE_OPTIONS *o)
{
    if (o && (o->cbSize != sizeof(WIAS_PAGE_OPTIONS) || (o->pszError && o->cchError == 0)))
        return E_INVALIDARG;
    if (!c->pTransferBuffer)
        return E_POINTER;
    /* lItemSize counts the header and the image bits; 0 means the size was
     * unknown before acquisition, and a page cannot be written unsized. */
    if (c->lItemSize <= 0 || c->lHeaderSize < 0 || c->lHeaderSize > c->lItemSize)
        return E_INVALIDARG;
    if (c->lBufferSize < c->lItemSize)
        return E_INVALIDARG;
    return S_OK;
}

HRESULT wias_write_passthrough(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream,
                               const WIAS_PAGE_OPTIONS *pOptions)
{
    LARGE_INTEGER zero;
    ULARGE_INTEGER start;
    ULARGE_INTEGER end;
    BOOL seekable = FALSE;
    BOOL appending = FALSE;
    HRESULT hr;

    hr = check_passthrough(pmdtc, pOptions);
    if (FAILED(hr))
        return hr;
    if (pOptions && pOptions->pszError)
        pOptions->pszError[0] = '\0';

    /* Where the page starts, to undo a failed append. A stream that cannot
     * seek (a pipe) is written all the same, without that safety net. */
    zero.QuadPart = 0;
    if (SUCCEEDED(pstream->lpVtbl->Seek(pstream, zero, STREAM_SEEK_CUR, &start)) &&
        SUCCEEDED(pstream->lpVtbl->Seek(pstream, zero, STREAM_SEEK_END, &end))) {
        hr = wias_stream_seek_set(pstream, start.QuadPart);
        if (FAILED(hr))
            return hr;
        seekable = TRUE;
        appending = start.QuadPart >= end.QuadPart;
    }

    hr = wias_stream_write_all(pstream, pmdtc->pTransferBuffer, (ULONGLONG)pmdtc->lItemSize);
    if (FAILED(hr) && seekable) {
        /* Best effort: the caller gets the write error either way. */
        if (appending)
            (void)pstream->lpVtbl->SetSize(pstream, end);
        (void)wias_stream_seek_set(pstream, start.QuadPart);
    }
    return hr;
}
