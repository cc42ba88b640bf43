/* <basetsd.h> for Windows driver sources built on Linux: LONG_PTR, ULONG_PTR, SIZE_T.
 * See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_BASETSD_H
#define WIAS_COMPAT_BASETSD_H
#include <wias/wiatypes.h>
#endif
