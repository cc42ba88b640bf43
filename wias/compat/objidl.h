/* <objidl.h> for Windows driver sources built on Linux: IStream, ISequentialStream, STATSTG and
 * their constants. See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_OBJIDL_H
#define WIAS_COMPAT_OBJIDL_H
#include <wias/istream.h>
#endif
