/* <wiamdef.h> for Windows driver sources built on Linux: the WIA driver services
 * (wiasWritePageBufToStream, ...). See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_WIAMDEF_H
#define WIAS_COMPAT_WIAMDEF_H
#include <wias/wias.h>
#endif
