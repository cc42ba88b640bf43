/* <wiadef.h> for Windows driver sources built on Linux: WIA error codes, format GUIDs, property
 * ids, TYMED and IT_MSG values. See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_WIADEF_H
#define WIAS_COMPAT_WIADEF_H
#include <wias/wiatypes.h>
#endif
