/* GUID and IID definitions (values from Microsoft's public headers/docs). */
#include "wias/wias.h"

#define WIAS_FMT_GUID(name, b)                                                                     \
    const GUID name = {                                                                            \
        0xb96b3c00u | (b), 0x0728, 0x11d3, {0x9d, 0x7b, 0x00, 0x00, 0xf8, 0x1e, 0xf3, 0x2e}}

const GUID GUID_NULL = {0, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}};

WIAS_FMT_GUID(WiaImgFmt_UNDEFINED, 0xa9);
WIAS_FMT_GUID(WiaImgFmt_MEMORYBMP, 0xaa);
WIAS_FMT_GUID(WiaImgFmt_BMP, 0xab);
WIAS_FMT_GUID(WiaImgFmt_EMF, 0xac);
WIAS_FMT_GUID(WiaImgFmt_WMF, 0xad);
WIAS_FMT_GUID(WiaImgFmt_JPEG, 0xae);
WIAS_FMT_GUID(WiaImgFmt_PNG, 0xaf);
WIAS_FMT_GUID(WiaImgFmt_GIF, 0xb0);
WIAS_FMT_GUID(WiaImgFmt_TIFF, 0xb1);
WIAS_FMT_GUID(WiaImgFmt_EXIF, 0xb2);
WIAS_FMT_GUID(WiaImgFmt_PHOTOCD, 0xb3);
WIAS_FMT_GUID(WiaImgFmt_FLASHPIX, 0xb4);
WIAS_FMT_GUID(WiaImgFmt_ICO, 0xb5);

const IID IID_IUnknown = {0x00000000, 0x0000, 0x0000, {0xc0, 0, 0, 0, 0, 0, 0, 0x46}};
const IID IID_IStream = {0x0000000c, 0x0000, 0x0000, {0xc0, 0, 0, 0, 0, 0, 0, 0x46}};
const IID IID_ISequentialStream = {
    0x0c733a30, 0x2a1c, 0x11ce, {0xad, 0xe5, 0x00, 0xaa, 0x00, 0x44, 0x77, 0x3d}};
