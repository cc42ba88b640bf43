/* Fixture arguments by name or by path (scanemu --device, --scenario).
 *
 * An argument with a '/' in it, or ending in ".yaml", is a path and is
 * returned unchanged. Anything else is the name of a shipped fixture,
 * looked up as NAME.yaml in the first of these directories that has it:
 *
 *   $SCANEMU_DATADIR/{profiles,scenarios}        if the variable is set
 *   <executable's dir>/SCANEMU_DATADIR_FROM_BINDIR/scanemu/...
 *                                                the installed tree, moved or not
 *                                                (and the build tree, which has
 *                                                the same layout)
 *   SCANEMU_DATADIR_FULL/scanemu/...             the configured prefix
 *
 * Names are [A-Za-z0-9_-] with inner dots; nothing else is looked up.
 */
#ifndef SCANEMU_EMU_FIXTURE_PATH_H
#define SCANEMU_EMU_FIXTURE_PATH_H

#include <stddef.h>

typedef enum emu_fixture_kind {
    EMU_FIXTURE_PROFILE,
    EMU_FIXTURE_SCENARIO,
} emu_fixture_kind;

/* Resolves arg to a path. Returns a string the caller frees with free(), or
 * NULL with one line in errbuf (a name that no directory has, with the
 * directories searched and the names the first of them offers; or out of
 * memory). */
char *emu_fixture_resolve(emu_fixture_kind kind, const char *arg, char *errbuf, size_t errlen);

#endif
