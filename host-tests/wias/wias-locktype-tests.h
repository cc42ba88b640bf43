/* Entry points of the LOCKTYPE / <fcntl.h> compile tests (locktype_*.c). */
#ifndef WIAS_LOCKTYPE_TESTS_H
#define WIAS_LOCKTYPE_TESTS_H

#include <wias/istream.h>

/* Each returns 1 when LockRegion/UnlockRegion on pstm behave as documented. */
int wias_locktype_fcntl_first(IStream *pstm);
int wias_locktype_fcntl_last(IStream *pstm);
int wias_locktype_no_gnu(IStream *pstm);

#endif
