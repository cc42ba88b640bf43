/* <windows.h> for Windows driver sources built on Linux: only the base types, COM basics and
 * IStream of this port; no Win32 API functions. See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_WINDOWS_H
#define WIAS_COMPAT_WINDOWS_H
#include <wias/istream.h>
#endif
