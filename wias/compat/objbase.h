/* <objbase.h> for Windows driver sources built on Linux: COM basics, IStream and the CoTaskMem
 * allocator. See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_OBJBASE_H
#define WIAS_COMPAT_OBJBASE_H
#include <wias/istream.h>
#endif
