// Compile test: C++ with CINTERFACE selects the C form of the interfaces
// (lpVtbl and COBJMACROS), as it does with Windows' headers.
#define CINTERFACE
#define COBJMACROS
#include <objidl.h>
#include <wiamindr.h>

#include "com_layout.h"

static_assert(sizeof(IStream) == sizeof(void *), "the C struct: one table pointer");

extern "C" HRESULT compat_cinterface_write(IStream *p, const void *pv, ULONG cb)
{
    ULONG cbWritten = 0;
    HRESULT hr = IStream_Write(p, pv, cb, &cbWritten);

    if (SUCCEEDED(hr) && cbWritten != cb)
        hr = STG_E_WRITEFAULT;
    return SUCCEEDED(hr) ? p->lpVtbl->Commit(p, STGC_DEFAULT) : hr;
}
