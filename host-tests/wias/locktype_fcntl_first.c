/*
 * Compile test: <fcntl.h> (with _GNU_SOURCE, which makes glibc define
 * LOCK_WRITE 128 for its obsolete mandatory flock) included BEFORE
 * <wias/wias.h>. Must compile without a redefinition, and the IStream
 * lock types must keep their Windows values.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sys/file.h>

#include <wias/wias.h>

#include "wias-locktype-tests.h"

_Static_assert(WIAS_LOCK_WRITE == 1, "objidl.h LOCK_WRITE is 1");
_Static_assert(WIAS_LOCK_EXCLUSIVE == 2, "objidl.h LOCK_EXCLUSIVE is 2");
_Static_assert(WIAS_LOCK_ONLYONCE == 4, "objidl.h LOCK_ONLYONCE is 4");
_Static_assert(LOCK_EXCLUSIVE == 2, "LOCK_EXCLUSIVE does not collide");
_Static_assert(LOCK_ONLYONCE == 4, "LOCK_ONLYONCE does not collide");
_Static_assert(LOCK_WRITE == 128, "LOCK_WRITE stays glibc's under _GNU_SOURCE");
_Static_assert(LOCK_SH == 1 && LOCK_EX == 2 && LOCK_NB == 4 && LOCK_UN == 8, "flock untouched");

int wias_locktype_fcntl_first(IStream *pstm)
{
    ULARGE_INTEGER off, cb;
    LOCKTYPE type = WIAS_LOCK_WRITE;

    off.QuadPart = 0;
    cb.QuadPart = 1;
    return pstm->lpVtbl->LockRegion(pstm, off, cb, (DWORD)type) == STG_E_INVALIDFUNCTION &&
           pstm->lpVtbl->UnlockRegion(pstm, off, cb, LOCK_EXCLUSIVE) == STG_E_INVALIDFUNCTION;
}
