/*
 * Compile test: without _GNU_SOURCE glibc never defines LOCK_WRITE, so the
 * Windows name is available with its objidl.h value, in either include
 * order. (The build adds -D_GNU_SOURCE to every target; undo it here,
 * before any header.)
 */
#undef _GNU_SOURCE
#include <fcntl.h>

#include <wias/wias.h>

#include <sys/file.h>

#include "wias-locktype-tests.h"

_Static_assert(LOCK_WRITE == 1, "objidl.h LOCK_WRITE is 1");
_Static_assert(LOCK_EXCLUSIVE == 2 && LOCK_ONLYONCE == 4, "Windows values");
_Static_assert(WIAS_LOCK_WRITE == LOCK_WRITE, "both spellings agree");

int wias_locktype_no_gnu(IStream *pstm)
{
    ULARGE_INTEGER off, cb;
    LOCKTYPE type = LOCK_WRITE;

    off.QuadPart = 0;
    cb.QuadPart = 1;
    return pstm->lpVtbl->LockRegion(pstm, off, cb, (DWORD)type) == STG_E_INVALIDFUNCTION;
}
