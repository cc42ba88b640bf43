/*
 * The sample minidriver's transfer routine, written twice in the way a
 * Windows driver author writes it: sample_driver.cpp (C++: pStream->Write,
 * == on GUIDs, references) and sample_driver.c (the same steps in C). Both
 * entry points have C linkage and must produce the same bytes.
 *
 * The routine plays drvAcquireItemData: the "service" (the test) hands it
 * the item (here a WIAS_ITEM_PROPERTIES, scanemu's stand-in for the item
 * context) and a MINIDRV_TRANSFER_CONTEXT with tymed, hFile and the
 * callback set; the destination is pStream for stream transfers, or
 * pmdtc->hFile when pStream is NULL.
 *
 * Page content is a pure function of (page, x, y, channel), so the tests
 * can check every pixel: sample_pixel().
 */
#ifndef SAMPLE_DRIVER_H
#define SAMPLE_DRIVER_H

#include <wiamindr.h>

#ifdef __cplusplus
extern "C" {
#endif

/* lFlags: write a non-TIFF page with pStream->Write band by band (header,
 * then the rows) instead of handing the page buffer to the service. */
#define SAMPLE_DIRECT_WRITE 0x1

HRESULT SampleCxxAcquireItemData(BYTE *pWiasContext, LONG lFlags, PMINIDRV_TRANSFER_CONTEXT pmdtc,
                                 IStream *pStream, LONG lPages, LONG *plDevErrVal);
HRESULT SampleCAcquireItemData(BYTE *pWiasContext, LONG lFlags, PMINIDRV_TRANSFER_CONTEXT pmdtc,
                               IStream *pStream, LONG lPages, LONG *plDevErrVal);

/* The scanner's sample for channel c (0 for gray, 0..2 = R,G,B) at (x, y)
 * of page p, for 8-bit channels. */
static inline BYTE sample_pixel(LONG p, LONG x, LONG y, int c)
{
    return (BYTE)((x * 3 + y * 5 + p * 17 + c * 29) & 0xFF);
}

#ifdef __cplusplus
}
#endif

#endif
