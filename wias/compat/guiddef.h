/* <guiddef.h> for Windows driver sources built on Linux: GUID, REFGUID/REFIID, IsEqualGUID and
 * DEFINE_GUID. See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_GUIDDEF_H
#define WIAS_COMPAT_GUIDDEF_H
#include <wias/wiatypes.h>
#endif
