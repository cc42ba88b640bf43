/* <rpcsal.h> for Windows driver sources built on Linux: the RPC annotations, defined away.
 * See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_RPCSAL_H
#define WIAS_COMPAT_RPCSAL_H
#include <wias/sal.h>
#endif
