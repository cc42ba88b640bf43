/* <winerror.h> for Windows driver sources built on Linux: HRESULT, SUCCEEDED/FAILED, S_, E_ and
 * STG_E_ codes. See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_WINERROR_H
#define WIAS_COMPAT_WINERROR_H
#include <wias/wiatypes.h>
#endif
