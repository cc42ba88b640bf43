/* <sal.h> for Windows driver sources built on Linux: the SAL 2 annotations, defined away.
 * See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_SAL_H
#define WIAS_COMPAT_SAL_H
#include <wias/sal.h>
#endif
