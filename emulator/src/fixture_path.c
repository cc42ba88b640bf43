/* Fixture arguments by name or by path: see fixture_path.h. */
#include "fixture_path.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scanemu-datadir.h"

#define FIXTURE_DIRS 3

static const char *kind_dir(emu_fixture_kind kind)
{
    return kind == EMU_FIXTURE_PROFILE ? "profiles" : "scenarios";
}

static int is_path(const char *arg)
{
    size_t n = strlen(arg);
    return strchr(arg, '/') != NULL || (n >= 5 && strcmp(arg + n - 5, ".yaml") == 0);
}

static int is_name(const char *arg)
{
    if (arg[0] == '\0' || arg[0] == '.')
        return 0;
    for (const char *p = arg; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* The candidate directories in search order; unset ones are "". */
static void fixture_dirs(emu_fixture_kind kind, char dirs[FIXTURE_DIRS][PATH_MAX])
{
    const char *sub = kind_dir(kind);
    const char *env = getenv("SCANEMU_DATADIR");
    for (int i = 0; i < FIXTURE_DIRS; i++)
        dirs[i][0] = '\0';
    if (env && *env && snprintf(dirs[0], PATH_MAX, "%s/%s", env, sub) >= PATH_MAX)
        dirs[0][0] = '\0';

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (snprintf(dirs[1], PATH_MAX, "%s/%s/scanemu/%s", exe, SCANEMU_DATADIR_FROM_BINDIR,
                         sub) >= PATH_MAX)
                dirs[1][0] = '\0';
        }
    }
    if (snprintf(dirs[2], PATH_MAX, "%s/scanemu/%s", SCANEMU_DATADIR_FULL, sub) >= PATH_MAX)
        dirs[2][0] = '\0';
}

/* "a, b, c" of the *.yaml names in dir, sorted, into buf (may be empty). */
static void list_names(const char *dir, char *buf, size_t len)
{
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, alphasort);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *d = ents[i]->d_name;
        size_t dl = strlen(d);
        if (dl > 5 && strcmp(d + dl - 5, ".yaml") == 0 && d[0] != '.' && used < len) {
            int w = snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)(dl - 5), d);
            used = w < 0 ? len : used + (size_t)w;
        }
        free(ents[i]);
    }
    free(ents);
}

char *emu_fixture_resolve(emu_fixture_kind kind, const char *arg, char *errbuf, size_t errlen)
{
    char dirs[FIXTURE_DIRS][PATH_MAX];
    char cand[PATH_MAX + 64];
    char *out;

    if (is_path(arg))
        goto out_copy_arg;
    if (!is_name(arg)) {
        snprintf(errbuf, errlen,
                 "\"%s\" is neither a path (with a '/' or ending in .yaml) nor a %s name", arg,
                 kind == EMU_FIXTURE_PROFILE ? "profile" : "scenario");
        return NULL;
    }
    fixture_dirs(kind, dirs);
    for (int i = 0; i < FIXTURE_DIRS; i++) {
        struct stat st;
        if (!dirs[i][0])
            continue;
        if (snprintf(cand, sizeof cand, "%s/%s.yaml", dirs[i], arg) >= (int)sizeof cand)
            continue;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            out = strdup(cand);
            if (!out)
                goto out_nomem;
            return out;
        }
    }

    /* Not found: say where we looked and what the first directory that
     * exists offers. */
    char looked[3 * PATH_MAX + 8] = "", names[1024] = "";
    size_t used = 0;
    for (int i = 0; i < FIXTURE_DIRS; i++) {
        if (!dirs[i][0])
            continue;
        int w = snprintf(looked + used, sizeof looked - used, "%s%s", used ? ", " : "", dirs[i]);
        used = w < 0 || (size_t)w >= sizeof looked - used ? sizeof looked - 1 : used + (size_t)w;
        if (!names[0])
            list_names(dirs[i], names, sizeof names);
    }
    snprintf(errbuf, errlen, "no %s named \"%s\" (looked in %s)%s%s",
             kind == EMU_FIXTURE_PROFILE ? "profile" : "scenario", arg, looked,
             names[0] ? "; shipped: " : "", names);
    return NULL;

out_copy_arg:
    out = strdup(arg);
    if (out)
        return out;
out_nomem:
    snprintf(errbuf, errlen, "out of memory");
    return NULL;
}
