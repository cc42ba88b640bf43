/*
 * Compile test: <wias/wias.h> included BEFORE <fcntl.h> with _GNU_SOURCE.
 * glibc's later "#define LOCK_WRITE 128" must not collide with anything
 * wias declared.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <wias/wias.h>

#include <fcntl.h>
#include <sys/file.h>

#include "wias-locktype-tests.h"

_Static_assert(WIAS_LOCK_WRITE == 1, "objidl.h LOCK_WRITE is 1");
_Static_assert(LOCK_EXCLUSIVE == 2 && LOCK_ONLYONCE == 4, "Windows values");
_Static_assert(LOCK_WRITE == 128, "LOCK_WRITE is glibc's under _GNU_SOURCE");

int wias_locktype_fcntl_last(IStream *pstm)
{
    ULARGE_INTEGER off, cb;

    off.QuadPart = 0;
    cb.QuadPart = 1;
    return pstm->lpVtbl->LockRegion(pstm, off, cb, WIAS_LOCK_ONLYONCE) == STG_E_INVALIDFUNCTION;
}
