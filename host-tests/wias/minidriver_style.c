/*
 * Minidriver transfer code written the way it is written for Windows (C,
 * COM vtables, wiamdef.h services), compiled unchanged against wias.
 * Only Windows names are used below; nothing scanemu-specific except the
 * item-properties stand-in handed to wiasGetImageInformation.
 */
#define COBJMACROS
#include <wias/wias.h>

HRESULT SampleDrvTransferPages(IStream *pStream, LONG lPages, LONG lDepth, LONG lCompression,
                               LONG *plPagesWritten);
HRESULT SampleDrvWriteThroughCustomStream(LONG lPages, ULONG *pcbTotal, LONG *plPagesSeen);

static HRESULT SampleDrvReadBand(PMINIDRV_TRANSFER_CONTEXT pmdtc, LONG lPage)
{
    LONG lLine, lByte;

    for (lLine = 0; lLine < pmdtc->lLines; lLine++) {
        BYTE *pRow = pmdtc->pTransferBuffer + lLine * pmdtc->cbWidthInBytes;
        for (lByte = 0; lByte < pmdtc->cbWidthInBytes; lByte++)
            pRow[lByte] = (BYTE)((lLine + lByte / 3 + lPage * 16) & 0xFF);
    }
    return S_OK;
}

HRESULT SampleDrvTransferPages(IStream *pStream, LONG lPages, LONG lDepth, LONG lCompression,
                               LONG *plPagesWritten)
{
    HRESULT hr = S_OK;
    MINIDRV_TRANSFER_CONTEXT mdtc;
    PMINIDRV_TRANSFER_CONTEXT pmdtc = &mdtc;
    WIAS_ITEM_PROPERTIES props;
    LARGE_INTEGER liZero;
    ULARGE_INTEGER uliPos;
    STATSTG statstg;
    LONG lPage;

    if (!pStream || !plPagesWritten)
        return E_POINTER;
    *plPagesWritten = 0;

    ZeroMemory(&mdtc, sizeof(mdtc));
    ZeroMemory(&props, sizeof(props));
    props.lPixelsPerLine = 850;
    props.lNumberOfLines = 1100;
    props.lDepth = lDepth;
    props.lXRes = 100;
    props.lYRes = 100;
    props.lCompression = lCompression;
    props.guidFormat = WiaImgFmt_TIFF;
    props.lTymed = TYMED_MULTIPAGE_CALLBACK;

    hr = wiasGetImageInformation((BYTE *)&props, WIAS_INIT_CONTEXT, pmdtc);
    if (FAILED(hr))
        return hr;
    if (!IsEqualGUID(&pmdtc->guidFormatID, &WiaImgFmt_TIFF))
        return E_INVALIDARG;

    pmdtc->lBufferSize = pmdtc->lImageSize;
    pmdtc->pTransferBuffer = (BYTE *)CoTaskMemAlloc(pmdtc->lBufferSize);
    if (!pmdtc->pTransferBuffer)
        return E_OUTOFMEMORY;
    pmdtc->pBaseBuffer = pmdtc->pTransferBuffer;
    pmdtc->bClassDrvAllocBuf = FALSE;

    for (lPage = 0; lPage < lPages; lPage++) {
        hr = SampleDrvReadBand(pmdtc, lPage);
        if (FAILED(hr))
            break;
        hr = wiasWritePageBufToStream(pmdtc, pStream);
        if (FAILED(hr)) {
            if (hr == WIA_ERROR_PAPER_JAM || hr == STG_E_MEDIUMFULL)
                hr = WIA_ERROR_GENERAL_ERROR;
            break;
        }
        (*plPagesWritten)++;
    }

    if (SUCCEEDED(hr)) {
        liZero.QuadPart = 0;
        hr = IStream_Seek(pStream, liZero, STREAM_SEEK_CUR, &uliPos);
        if (SUCCEEDED(hr))
            hr = IStream_Stat(pStream, &statstg, STATFLAG_NONAME);
        if (SUCCEEDED(hr) && uliPos.QuadPart != statstg.cbSize.QuadPart)
            hr = E_UNEXPECTED;
        if (SUCCEEDED(hr))
            hr = IStream_Commit(pStream, STGC_DEFAULT);
    }
    CoTaskMemFree(pmdtc->pTransferBuffer);
    pmdtc->pTransferBuffer = NULL;
    return hr;
}

/* An application-side IStream, implemented the COM-in-C way. */
typedef struct _CCountingStream {
    IStream iface;
    LONG cRef;
    IStream *pInner;
    ULONG cbWritten;
} CCountingStream;

static HRESULT STDMETHODCALLTYPE CS_QueryInterface(IStream *This, REFIID riid, void **ppv)
{
    if (!ppv)
        return E_POINTER;
    if (IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_IStream) ||
        IsEqualIID(riid, &IID_ISequentialStream)) {
        *ppv = This;
        IStream_AddRef(This);
        return S_OK;
    }
    *ppv = NULL;
    return E_NOINTERFACE;
}

static ULONG STDMETHODCALLTYPE CS_AddRef(IStream *This)
{
    return (ULONG)++((CCountingStream *)This)->cRef;
}

static ULONG STDMETHODCALLTYPE CS_Release(IStream *This)
{
    CCountingStream *pThis = (CCountingStream *)This;
    LONG cRef = --pThis->cRef;
    if (cRef == 0) {
        IStream_Release(pThis->pInner);
        CoTaskMemFree(pThis);
    }
    return (ULONG)cRef;
}

static HRESULT STDMETHODCALLTYPE CS_Read(IStream *This, void *pv, ULONG cb, ULONG *pcbRead)
{
    return IStream_Read(((CCountingStream *)This)->pInner, pv, cb, pcbRead);
}

static HRESULT STDMETHODCALLTYPE CS_Write(IStream *This, const void *pv, ULONG cb,
                                          ULONG *pcbWritten)
{
    CCountingStream *pThis = (CCountingStream *)This;
    ULONG cbDone = 0;
    HRESULT hr = IStream_Write(pThis->pInner, pv, cb, &cbDone);
    pThis->cbWritten += cbDone;
    if (pcbWritten)
        *pcbWritten = cbDone;
    return hr;
}

static HRESULT STDMETHODCALLTYPE CS_Seek(IStream *This, LARGE_INTEGER dlibMove, DWORD dwOrigin,
                                         ULARGE_INTEGER *plibNewPosition)
{
    return IStream_Seek(((CCountingStream *)This)->pInner, dlibMove, dwOrigin, plibNewPosition);
}

static HRESULT STDMETHODCALLTYPE CS_SetSize(IStream *This, ULARGE_INTEGER libNewSize)
{
    return IStream_SetSize(((CCountingStream *)This)->pInner, libNewSize);
}

static HRESULT STDMETHODCALLTYPE CS_CopyTo(IStream *This, IStream *pstm, ULARGE_INTEGER cb,
                                           ULARGE_INTEGER *pcbRead, ULARGE_INTEGER *pcbWritten)
{
    return IStream_CopyTo(((CCountingStream *)This)->pInner, pstm, cb, pcbRead, pcbWritten);
}

static HRESULT STDMETHODCALLTYPE CS_Commit(IStream *This, DWORD grfCommitFlags)
{
    return IStream_Commit(((CCountingStream *)This)->pInner, grfCommitFlags);
}

static HRESULT STDMETHODCALLTYPE CS_Revert(IStream *This)
{
    (void)This;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE CS_LockRegion(IStream *This, ULARGE_INTEGER libOffset,
                                               ULARGE_INTEGER cb, DWORD dwLockType)
{
    (void)This;
    (void)libOffset;
    (void)cb;
    (void)dwLockType;
    return STG_E_INVALIDFUNCTION;
}

static HRESULT STDMETHODCALLTYPE CS_Stat(IStream *This, STATSTG *pstatstg, DWORD grfStatFlag)
{
    return IStream_Stat(((CCountingStream *)This)->pInner, pstatstg, grfStatFlag);
}

static HRESULT STDMETHODCALLTYPE CS_Clone(IStream *This, IStream **ppstm)
{
    (void)This;
    *ppstm = NULL;
    return E_NOTIMPL;
}

static const IStreamVtbl g_CountingStreamVtbl = {
    CS_QueryInterface, CS_AddRef, CS_Release, CS_Read,       CS_Write,      CS_Seek, CS_SetSize,
    CS_CopyTo,         CS_Commit, CS_Revert,  CS_LockRegion, CS_LockRegion, CS_Stat, CS_Clone,
};

HRESULT SampleDrvWriteThroughCustomStream(LONG lPages, ULONG *pcbTotal, LONG *plPagesSeen)
{
    CCountingStream *pStream;
    IStream *pMem = NULL;
    HRESULT hr;

    hr = wiasCreateMemoryStream(&pMem);
    if (FAILED(hr))
        return hr;
    pStream = (CCountingStream *)CoTaskMemAlloc(sizeof(CCountingStream));
    if (!pStream) {
        IStream_Release(pMem);
        return E_OUTOFMEMORY;
    }
    pStream->iface.lpVtbl = &g_CountingStreamVtbl;
    pStream->cRef = 1;
    pStream->pInner = pMem;
    pStream->cbWritten = 0;

    hr = SampleDrvTransferPages(&pStream->iface, lPages, 8, WIA_COMPRESSION_NONE, plPagesSeen);
    *pcbTotal = pStream->cbWritten;
    IStream_Release(&pStream->iface);
    return hr;
}
