/*
 * The C and C++ views of one COM object (com_layout.c, com_layout.cpp):
 * probes that record which method each vtable slot reached, callers that
 * go through every slot from either language, and C++ code using the wias
 * streams and page writers through the C++ interface. C linkage throughout
 * so the Check suite (C) can drive both sides.
 */
#ifndef COM_LAYOUT_H
#define COM_LAYOUT_H

#include <wias/wias.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LAYOUT_SLOTS 14 /* IUnknown 3 + ISequentialStream 2 + IStream 9 */

/* What a probe saw, call by call: the method (its slot in COM order, as the
 * method knows it), the object pointer it was called on, and a value taken
 * from its arguments (the caller passes 1000 + slot where it can). */
typedef struct layout_record {
    int ncalls;
    int slot[2 * LAYOUT_SLOTS];
    const void *self[2 * LAYOUT_SLOTS];
    LONGLONG witness[2 * LAYOUT_SLOTS];
} layout_record;

/* An IStream implemented as a C++ class / as a C struct with a C table. */
IStream *layout_cxx_probe_new(layout_record *rec);
void layout_cxx_probe_free(IStream *p);
IStream *layout_c_probe_new(layout_record *rec);
void layout_c_probe_free(IStream *p);

/* Call every method once, in slot order, through the C vtable / through the
 * C++ virtual methods. */
void layout_call_all_c(IStream *p);
void layout_call_all_cxx(IStream *p);

/* The table pointer as C reads it (p->lpVtbl) and as C++ stores it (the
 * object's first word). */
const void *layout_c_vtbl_of(IStream *p);
const void *layout_cxx_vptr_of(IStream *p);

/* C++ code exercising a wias memory stream and a wias file stream through
 * the C++ interface. NULL on success, else what went wrong (static). */
const char *layout_cxx_use_memory_stream(void);
const char *layout_cxx_use_file_stream(const char *path);

/* An application's IStream written in C++ (it forwards to inner and counts
 * the bytes written), for the C page writers to write through. */
IStream *layout_cxx_counting_stream_new(IStream *inner);
ULONGLONG layout_cxx_counting_stream_bytes(IStream *p);

/* An IWiaMiniDrvCallBack written in C++ with STDMETHOD/STDMETHODIMP: counts
 * IT_MSG_STATUS calls, keeps the last percentage, and answers S_FALSE
 * (cancel) on call number cancel_at (0: never). Released by Release. */
IWiaMiniDrvCallBack *layout_cxx_progress_new(LONG cancel_at);
LONG layout_cxx_progress_calls(IWiaMiniDrvCallBack *p);
LONG layout_cxx_progress_last_percent(IWiaMiniDrvCallBack *p);

/* GUID comparisons in C++ (==, !=, IsEqualGUID, InlineIsEqualGUID,
 * IsEqualIID, DEFINE_GUID after <initguid.h>). NULL on success. */
const char *layout_cxx_guid_checks(void);
/* DEFINE_GUID'd in com_layout.cpp after <initguid.h>. */
extern const GUID GUID_SampleVendorFormat;

/* Compile tests: the compat headers with the C++ standard library before
 * and after them, and in C++ with CINTERFACE (the C form). Each returns
 * a value computed through what it included. */
int compat_stdlib_first(void);
int compat_stdlib_last(void);
HRESULT compat_cinterface_write(IStream *p, const void *pv, ULONG cb);

#ifdef __cplusplus
}
#endif

#endif
