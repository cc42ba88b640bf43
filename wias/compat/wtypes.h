/* <wtypes.h> for Windows driver sources built on Linux: the Windows base types.
 * See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_WTYPES_H
#define WIAS_COMPAT_WTYPES_H
#include <wias/wiatypes.h>
#endif
