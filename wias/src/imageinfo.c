/* wiasGetImageInformation: transfer sizes (and bitmap headers) for a context. */
#include "wias-internal.h"

#define BMP_FILEHEADER_SIZE 14
#define BMP_INFOHEADER_SIZE 40

static void put16(BYTE *p, uint32_t v)
{
    p[0] = (BYTE)v;
    p[1] = (BYTE)(v >> 8);
}

static void put32(BYTE *p, uint32_t v)
{
    put16(p, v & 0xFFFF);
    put16(p + 2, v >> 16);
}

/* Pixels per inch to pixels per metre, rounded. */
static uint32_t ppm(LONG dpi)
{
    return (uint32_t)(((int64_t)dpi * 10000 + 127) / 254);
}

static void fill_bmp_header(BYTE *p, const MINIDRV_TRANSFER_CONTEXT *c, BOOL file_header,
                            uint32_t palette)
{
    uint32_t header = (file_header ? BMP_FILEHEADER_SIZE : 0) + BMP_INFOHEADER_SIZE + 4 * palette;

    if (file_header) {
        p[0] = 'B';
        p[1] = 'M';
        put32(p + 2, (uint32_t)header + (uint32_t)c->lImageSize); /* bfSize */
        put32(p + 6, 0);                                          /* reserved */
        put32(p + 10, header);                                    /* bfOffBits */
        p += BMP_FILEHEADER_SIZE;
    }
    put32(p, BMP_INFOHEADER_SIZE);
    put32(p + 4, (uint32_t)c->lWidthInPixels);
    put32(p + 8, (uint32_t)c->lLines); /* positive: bottom-up rows */
    put16(p + 12, 1);
    put16(p + 14, (uint32_t)c->lDepth);
    put32(p + 16, 0); /* BI_RGB */
    put32(p + 20, (uint32_t)c->lImageSize);
    put32(p + 24, ppm(c->lXRes));
    put32(p + 28, ppm(c->lYRes));
    put32(p + 32, palette);
    put32(p + 36, 0);
    p += BMP_INFOHEADER_SIZE;
    for (size_t i = 0; i < palette; i++) {
        BYTE g = (BYTE)(palette > 1 ? i * 255 / (palette - 1) : 0);
        p[4 * i] = g;
        p[4 * i + 1] = g;
        p[4 * i + 2] = g;
        p[4 * i + 3] = 0;
    }
}

HRESULT wiasGetImageInformation(BYTE *pWiasContext, LONG lFlags, PMINIDRV_TRANSFER_CONTEXT pmdtc)
{
    BOOL bmp;
    BOOL memorybmp;
    uint64_t row_bits;
    uint64_t stride;
    uint64_t image;
    uint32_t palette = 0;
    uint64_t header = 0;

    if (!pmdtc)
        return E_POINTER;
    if (lFlags & ~(LONG)WIAS_INIT_CONTEXT)
        return E_INVALIDARG;
    if (lFlags & WIAS_INIT_CONTEXT) {
        const WIAS_ITEM_PROPERTIES *item = (const WIAS_ITEM_PROPERTIES *)(void *)pWiasContext;

        if (!item)
            return E_POINTER;
        pmdtc->lSize = (LONG)sizeof(MINIDRV_TRANSFER_CONTEXT);
        pmdtc->lWidthInPixels = item->lPixelsPerLine;
        pmdtc->lLines = item->lNumberOfLines;
        pmdtc->lDepth = item->lDepth;
        pmdtc->lXRes = item->lXRes;
        pmdtc->lYRes = item->lYRes;
        pmdtc->lCompression = item->lCompression;
        pmdtc->guidFormatID = item->guidFormat;
        pmdtc->tymed = item->lTymed;
        pmdtc->lPage = 0;
        pmdtc->lCurIfdOffset = 0;
        pmdtc->lPrevIfdOffset = 0;
    }

    if (pmdtc->lWidthInPixels <= 0 || pmdtc->lLines <= 0 || pmdtc->lDepth <= 0 ||
        pmdtc->lDepth > 64)
        return E_INVALIDARG;
    bmp = IsEqualGUID(&pmdtc->guidFormatID, &WiaImgFmt_BMP);
    memorybmp = IsEqualGUID(&pmdtc->guidFormatID, &WiaImgFmt_MEMORYBMP);
    row_bits = (uint64_t)pmdtc->lWidthInPixels * (uint64_t)pmdtc->lDepth;

    if (bmp || memorybmp) {
        switch (pmdtc->lDepth) {
        case 1:
        case 4:
        case 8:
            palette = 1u << pmdtc->lDepth;
            break;
        case 16:
        case 24:
        case 32:
            break;
        default:
            return E_INVALIDARG;
        }
        stride = (row_bits + 31) / 32 * 4; /* DIB rows are DWORD aligned */
        header = (bmp ? BMP_FILEHEADER_SIZE : 0) + BMP_INFOHEADER_SIZE + 4ull * palette;
    } else {
        stride = (row_bits + 7) / 8;
    }
    image = stride * (uint64_t)pmdtc->lLines;
    if (stride > INT32_MAX || image > INT32_MAX || header + image > INT32_MAX)
        return E_INVALIDARG;

    pmdtc->cbWidthInBytes = (LONG)stride;
    pmdtc->lImageSize = (LONG)image;
    pmdtc->lHeaderSize = (LONG)header;
    /* Final size is known up front only for uncompressed bitmaps; TIFF
     * (multipage, IFDs appended per page) and compressed data report 0. */
    if ((bmp || memorybmp) && pmdtc->lCompression == WIA_COMPRESSION_NONE)
        pmdtc->lItemSize = (LONG)(header + image);
    else
        pmdtc->lItemSize = 0;

    if (header && pmdtc->pTransferBuffer) {
        if (pmdtc->lBufferSize < 0 || (uint64_t)pmdtc->lBufferSize < header)
            return E_INVALIDARG;
        fill_bmp_header(pmdtc->pTransferBuffer, pmdtc, bmp, palette);
    }
    return S_OK;
}
