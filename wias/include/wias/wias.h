/*
 * wias/wias.h - WIA driver-services page writers (wiamdef.h functions) for
 * scanemu: the way the driver core hands finished pages to an application.
 *
 * The four Windows functions keep their documented names and signatures.
 * Everything prefixed WIAS_ or named wias...Ex/Begin/Lines/End/Abort and the
 * stream constructors are scanemu extensions; see docs/wias.md.
 *
 * The page writers (wiasWritePageBufToStream/ToFile and ...Ex) choose by
 * pmdtc->guidFormatID:
 *
 * WiaImgFmt_TIFF, or GUID_NULL (a context whose format was never set):
 * a multipage TIFF, one page per call.
 *   - pmdtc->pTransferBuffer holds the page, top row first; row r starts at
 *     pTransferBuffer + r * cbWidthInBytes. Rows are packed pixels:
 *     1-bit (MSB first), 8-bit gray, 16-bit gray (host order), 24-bit RGB,
 *     48-bit RGB (host order). cbWidthInBytes >= (lWidthInPixels*lDepth+7)/8.
 *   - lBufferSize >= cbWidthInBytes * lLines.
 *   - lWidthInPixels, lLines, lXRes, lYRes > 0; lDepth in {1, 8, 16, 24, 48}.
 *   - The buffer is never modified.
 *   Multipage chaining: lPage == 0 starts a new TIFF at offset 0 of the
 *   stream (the stream is truncated first). Each call appends one page (one
 *   IFD) and on success sets lPrevIfdOffset = old lCurIfdOffset (0 for the
 *   first page), lCurIfdOffset = offset of the new IFD, and increments
 *   lPage. Offsets are 32-bit TIFF offsets stored in LONG; read them as
 *   (ULONG). The new IFD is linked into the chain only after all of its
 *   bytes were written, so a failure at any point leaves the pages already
 *   written a valid TIFF; on failure the stream is truncated back to its
 *   previous end when it allows SetSize, and the context is left unchanged.
 *
 * Any other format (BMP, MEMORYBMP, RAW, PNG, JPEG, ..., WiaImgFmt_UNDEFINED
 * or a driver's own GUID): the page is already in its format, so the first
 * lItemSize bytes of pTransferBuffer - lHeaderSize bytes of header, then
 * the image bits - are written unchanged at the stream's current position
 * (for the file writer, hFile's file offset). No truncation, not even at
 * lPage 0, and the context is not modified (lPage and the IFD offsets
 * belong to multipage TIFF). Requires lItemSize > 0 (the page's size is
 * known once it was acquired), 0 <= lHeaderSize <= lItemSize and
 * lBufferSize >= lItemSize; geometry and lCompression are not looked at.
 * On a write error, a page appended at the end of a seekable stream is cut
 * off again (SetSize) and the seek pointer put back where the page began;
 * a stream that cannot seek (a pipe) keeps what was written.
 *
 * docs/wias.md lists each of these decisions with its source.
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

/* Write the page in pTransferBuffer to pstream: a page appended to the
 * multipage TIFF, or the page's bytes unchanged (see above). */
HRESULT wiasWritePageBufToStream(PMINIDRV_TRANSFER_CONTEXT pmdtc, IStream *pstream);

/* Same, to the file whose POSIX descriptor is in pmdtc->hFile (E_HANDLE if
 * it holds none). A TIFF needs a seekable file; other formats do not. */
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
 *   E_INVALIDARG     TIFF: bad geometry, depth or compression (including
 *                    WIA_COMPRESSION_AUTO), buffer too small, or a chain
 *                    state (lPage/lCurIfdOffset) that does not match the
 *                    stream; other formats: lItemSize <= 0, lHeaderSize
 *                    outside 0..lItemSize, lBufferSize < lItemSize;
 *                    either: bad options
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
 *                        page; nothing is linked yet. TIFF only: other
 *                        formats are E_INVALIDARG.
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
