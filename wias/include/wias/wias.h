/*
 * wias/wias.h - WIA driver-services page writers (wiamdef.h functions) for
 * scanemu: the way the driver core hands finished pages to an application.
 *
 * The four Windows functions keep their documented names and signatures.
 * Everything prefixed WIAS_ or named wias...Ex/Begin/Lines/End/Abort and the
 * stream constructors are scanemu extensions; see docs/wias.md.
 *
 * Page data contract (all page writers):
 *   - pmdtc->pTransferBuffer holds the page, top row first; row r starts at
 *     pTransferBuffer + r * cbWidthInBytes. Rows are packed pixels:
 *     1-bit (MSB first), 8-bit gray, 16-bit gray (host order), 24-bit RGB,
 *     48-bit RGB (host order). cbWidthInBytes >= (lWidthInPixels*lDepth+7)/8.
 *   - lBufferSize >= cbWidthInBytes * lLines.
 *   - lWidthInPixels, lLines, lXRes, lYRes > 0; lDepth in {1, 8, 16, 24, 48};
 *     guidFormatID is WiaImgFmt_TIFF (or GUID_NULL).
 *   - The buffer is never modified.
 *
 * Multipage chaining: lPage == 0 starts a new TIFF at offset 0 of the stream
 * (the stream is truncated first). Each call appends one page (one IFD) and
 * on success sets lPrevIfdOffset = old lCurIfdOffset (0 for the first page),
 * lCurIfdOffset = offset of the new IFD, and increments lPage. Offsets are
 * 32-bit TIFF offsets stored in LONG; read them as (ULONG). The new IFD is
 * linked into the chain only after all of its bytes were written, so a
 * failure at any point leaves the pages already written a valid TIFF; on
 * failure the stream is truncated back to its previous end when it allows
 * SetSize, and the context is left unchanged.
 */
#ifndef WIAS_WIAS_H
#define WIAS_WIAS_H

#include "wias/wiatypes.h"
#include "wias/istream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Windows driver-services functions -------------------------------- */

/*
 * Compute cbWidthInBytes, lImageSize, lHeaderSize and lItemSize for the
 * context's format. With WIAS_INIT_CONTEXT, first fill the image fields
 * from the item: here pWiasContext points to a WIAS_ITEM_PROPERTIES
 * (scanemu has no WIA item tree). Without it pWiasContext may be NULL.
 * For BMP/MEMORYBMP the bitmap header is also written to pTransferBuffer
 * when that is non-NULL (lBufferSize must hold it).
 */
HRESULT wiasGetImageInformation(BYTE *pWiasContext, LONG lFlags, PMINIDRV_TRANSFER_CONTEXT pmdtc);

/* Append the page in pTransferBuffer to the multipage TIFF in pstream. */
HRESULT wiasWritePageBufToStream(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream);

/* Same, to the file whose POSIX descriptor is in pmdtc->hFile. */
HRESULT wiasWritePageBufToFile(PMINIDRV_TRANSFER_CONTEXT pmdtc);

/*
 * Write lItemSize bytes of pTransferBuffer at the current offset of the
 * file descriptor pmdtc->hFile. lFlags must be 0.
 */
HRESULT wiasWriteBufToFile(LONG lFlags, PMINIDRV_TRANSFER_CONTEXT pmdtc);

/* ---- scanemu extensions ----------------------------------------------- */

/* Item properties consumed by wiasGetImageInformation(WIAS_INIT_CONTEXT). */
typedef struct WIAS_ITEM_PROPERTIES {
    LONG lPixelsPerLine; /* WIA_IPA_PIXELS_PER_LINE */
    LONG lNumberOfLines; /* WIA_IPA_NUMBER_OF_LINES */
    LONG lDepth;         /* WIA_IPA_DEPTH */
    LONG lXRes;          /* WIA_IPS_XRES */
    LONG lYRes;          /* WIA_IPS_YRES */
    LONG lCompression;   /* WIA_IPA_COMPRESSION */
    GUID guidFormat;     /* WIA_IPA_FORMAT */
    LONG lTymed;         /* WIA_IPA_TYMED */
} WIAS_ITEM_PROPERTIES;

/*
 * lCompression values beyond WIA_COMPRESSION_*: WIA has no constant for
 * the lossless TIFF codecs, so scanemu adds two outside the WIA range.
 */
#define WIAS_COMPRESSION_LZW     0x1000
#define WIAS_COMPRESSION_DEFLATE 0x1001

/* WIAS_PAGE_OPTIONS.ulFlags */
#define WIAS_PAGE_BIGTIFF    0x1 /* start the file (lPage == 0) as BigTIFF */
#define WIAS_PAGE_MINISWHITE 0x2 /* bilevel/gray samples: 0 is white (default: 0 is black) */

/*
 * Optional page-writer settings; NULL means all defaults. Set cbSize to
 * sizeof(WIAS_PAGE_OPTIONS). The format (classic or BigTIFF) is chosen on
 * the first page; later pages follow the file's header.
 */
typedef struct WIAS_PAGE_OPTIONS {
    ULONG cbSize;
    ULONG ulFlags;
    LONG lJpegQuality;  /* 1..100, 0 = 85 */
    LONG lDeflateLevel; /* 1..9, 0 = 6 */
    LONG lRowsPerStrip; /* 0 = automatic; rounded up to 16 for JPEG */
    char *pszError;     /* optional: receives libtiff's last message on failure */
    ULONG cchError;     /* size of pszError in bytes */
} WIAS_PAGE_OPTIONS;

/*
 * Errors of the page writers:
 *   E_POINTER        pmdtc, pstream or pTransferBuffer is NULL
 *   E_INVALIDARG     bad geometry, depth, compression, format, buffer too
 *                    small, or a chain state (lPage/lCurIfdOffset) that
 *                    does not match the stream
 *   STG_E_MEDIUMFULL the page could push a classic TIFF past 4 GiB (checked
 *                    on a worst-case size before anything is written);
 *                    write the file as BigTIFF to go further
 *   E_OUTOFMEMORY    allocation failed
 *   stream errors    whatever the IStream returned (e.g. STG_E_WRITEFAULT)
 *   E_FAIL           libtiff refused the page (message in pszError)
 */
HRESULT wiasWritePageBufToStreamEx(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream,
                                   const WIAS_PAGE_OPTIONS *pOptions);

/*
 * Strip-by-strip writing for large pages: no full-page buffer is needed.
 *   wiasWritePageBegin   validates the context like the page writers (but
 *                        ignores pTransferBuffer/lBufferSize) and starts a
 *                        page; nothing is linked yet.
 *   wiasWritePageLines   appends lLines rows from pLines, cbStride bytes
 *                        apart; any number of rows per call.
 *   wiasWritePageEnd     requires exactly pmdtc->lLines rows in total,
 *                        finishes and links the page, updates pmdtc.
 *   wiasWritePageAbort   drops the page; the file keeps its earlier pages.
 * End and Abort always free the writer. After a failed Lines call only
 * End (which returns the same error) or Abort are useful. pmdtc and pstream
 * must stay valid until End/Abort; the writer holds a stream reference.
 */
typedef struct WIAS_PAGE_WRITER WIAS_PAGE_WRITER;

HRESULT wiasWritePageBegin(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream,
                           const WIAS_PAGE_OPTIONS *pOptions, WIAS_PAGE_WRITER **ppWriter);
HRESULT wiasWritePageLines(WIAS_PAGE_WRITER *pWriter, const BYTE *pLines, LONG lLines,
                           LONG cbStride);
HRESULT wiasWritePageEnd(WIAS_PAGE_WRITER *pWriter);
void wiasWritePageAbort(WIAS_PAGE_WRITER *pWriter);

/*
 * Worst-case number of bytes one page of this context can add to the file
 * (data, IFD and alignment), as used by the 4 GiB guard. Returns
 * E_INVALIDARG for a context the writers would refuse.
 */
HRESULT wiasWorstCasePageSize(const MINIDRV_TRANSFER_CONTEXT *pmdtc, BOOL fBigTiff,
                              ULONGLONG *pcbWorst);

/*
 * Symbolic name of an HRESULT defined in wias/wiatypes.h ("S_OK",
 * "WIA_ERROR_PAPER_JAM", "STG_E_MEDIUMFULL", ...), or NULL if unknown.
 * The string is static.
 */
const char *wiasHresultName(HRESULT hr);

#ifdef __cplusplus
}
#endif

#endif /* WIAS_WIAS_H */
