/* <basetyps.h> for Windows driver sources built on Linux: STDMETHOD, STDAPI, DECLARE_INTERFACE and
 * the COM basics. See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_BASETYPS_H
#define WIAS_COMPAT_BASETYPS_H
#include <wias/wiatypes.h>
#endif
