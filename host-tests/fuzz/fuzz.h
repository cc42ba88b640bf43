/* Shared declarations of the fuzz targets (host-tests/fuzz).
 *
 * Every target is a libFuzzer entry point: it copies the input into a heap
 * buffer of exactly `size` bytes (so ASan sees any read past the end) and
 * hands it to the parser under test. The same object files link either with
 * libFuzzer (-fsanitize=fuzzer) or with replay_main.c, the standalone driver
 * CTest runs.
 */
#ifndef SCANEMU_FUZZ_H
#define SCANEMU_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An oracle failed: print where and why, then abort() so both libFuzzer and
 * the replay driver record the input as a crash. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* An oracle that a known, reported bug still violates (crashers/README.md):
 * checked only when the environment sets FUZZ_STRICT=1, so the regression
 * runs stay green until the owner fixes it, and the known-bug test (which
 * sets it and expects failure) notices the fix. */
static inline int fuzz_strict(void)
{
    const char *v = getenv("FUZZ_STRICT");
    return v != NULL && v[0] == '1';
}
#define FUZZ_CHECK_KNOWN_BUG(cond)                                                                 \
    do {                                                                                           \
        if (fuzz_strict())                                                                         \
            FUZZ_CHECK(cond);                                                                      \
    } while (0)

/* 1 if s is one line of printable text (no control characters at all). */
static inline int fuzz_one_line(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7F)
            return 0;
    return 1;
}

/* A heap copy of exactly len bytes (malloc(0) for len 0, so even a one-byte
 * read is out of bounds under ASan). Aborts on allocation failure. */
/* noinline: at -O2 gcc sees a fresh malloc(0) reach a const-pointer parameter
 * and warns -Wmaybe-uninitialized, although len 0 means nothing is read. */
__attribute__((noinline, unused)) static uint8_t *fuzz_dup(const uint8_t *data, size_t len)
{
    uint8_t *p = malloc(len);

    FUZZ_CHECK(p != NULL || len == 0);
    if (len > 0)
        memcpy(p, data, len);
    return p;
}

#endif
