/* <initguid.h> for Windows driver sources built on Linux: after it,
 * DEFINE_GUID defines the GUID (in this translation unit) instead of
 * declaring it. Include it in exactly one file, before the header whose
 * DEFINE_GUIDs it should define. wias's own GUIDs are not DEFINE_GUIDs and
 * stay in the library. See docs/wias.md, "Windows header names". */
#include <wias/wiatypes.h>
#ifndef INITGUID
#define INITGUID
#endif
#undef DEFINE_GUID
#ifdef __cplusplus
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)                               \
    extern "C" const GUID name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#else
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)                               \
    const GUID name = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#endif
