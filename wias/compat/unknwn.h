/* <unknwn.h> for Windows driver sources built on Linux: IUnknown.
 * See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_UNKNWN_H
#define WIAS_COMPAT_UNKNWN_H
#include <wias/wiatypes.h>
#endif
