/* The C side of a driver author's build against an installed wias. */
#define COBJMACROS
#include <wiamindr.h>

#include <stdio.h>

int main(void)
{
    static BYTE page[32 * 4];
    IStream *pStream = NULL;
    MINIDRV_TRANSFER_CONTEXT mdtc;
    HRESULT hr;

    ZeroMemory(&mdtc, sizeof mdtc);
    if (FAILED(wiasCreateMemoryStream(&pStream)))
        return 1;
    mdtc.lSize = sizeof mdtc;
    mdtc.lWidthInPixels = 32;
    mdtc.lLines = 4;
    mdtc.lDepth = 8;
    mdtc.lXRes = mdtc.lYRes = 100;
    mdtc.guidFormatID = WiaImgFmt_TIFF;
    mdtc.cbWidthInBytes = 32;
    mdtc.pTransferBuffer = page;
    mdtc.lBufferSize = sizeof page;
    hr = wiasWritePageBufToStream(&mdtc, pStream);
    IStream_Release(pStream);
    if (hr != S_OK || mdtc.lPage != 1 || !IsEqualGUID(&mdtc.guidFormatID, &WiaImgFmt_TIFF)) {
        fprintf(stderr, "consumer (C): %s\n", wiasHresultName(hr));
        return 1;
    }
    printf("consumer (C): ok\n");
    return 0;
}
