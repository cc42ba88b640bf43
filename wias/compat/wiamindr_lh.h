/* <wiamindr_lh.h> for Windows driver sources built on Linux: MINIDRV_TRANSFER_CONTEXT,
 * IWiaMiniDrvCallBack and the wiamdef.h services. See docs/wias.md, "Windows header names". */
#ifndef WIAS_COMPAT_WIAMINDR_LH_H
#define WIAS_COMPAT_WIAMINDR_LH_H
#include <wias/wias.h>
#endif
