/* Standalone driver for the fuzz targets: the regression test CTest runs.
 *
 *   fuzz_X_replay [-e] [-n MUTATIONS] [-s SEED] [-m MAXLEN] [-o CRASH_DIR] PATH...
 *
 * Every PATH is a file or a directory of files (sorted by name; names
 * starting with '.' and README* are skipped). Each file is run as it is,
 * then MUTATIONS deterministic pseudo-random mutations of it (stacked bit
 * flips, interesting integers, inserts, deletes, truncation, duplication and
 * splices with the other seeds), all derived from SEED, so a run is
 * repeatable byte for byte. When the process dies in a target (abort, signal
 * or a sanitizer report) the input being run is written to CRASH_DIR
 * (default: the current directory) as crash-<target>-<file>-<n>.bin, ready to
 * replay with -n 0.
 *
 * -e inverts the outcome for reproducers of known bugs: exit 0 when an input
 * crashes, 1 when none does (the bug was fixed: time to make its oracle a
 * plain FUZZ_CHECK and drop the known-bug test).
 *
 * No libFuzzer needed: this is what makes the targets regression tests with
 * gcc in every build, and ASan/UBSan-checked in the sanitizer build.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#define MAX_SEEDS      512u
#define MAX_SEED_BYTES (1u << 20)

typedef struct seed_file {
    char *path;
    const char *base;
    uint8_t *data;
    size_t len;
} seed_file;

typedef struct replay {
    seed_file seeds[MAX_SEEDS];
    unsigned n_seeds;
    unsigned long mutations;
    uint64_t seed;
    size_t max_len;
    const char *crash_dir;
    const char *prog;
} replay;

/* What is running now, for the crash hook (the process is dying then, so
 * this is the one place a global is the only way to reach it). */
static struct {
    const replay *r;
    const seed_file *file;
    unsigned long index; /* 0 = the seed itself, k = mutation k */
    const uint8_t *data;
    size_t len;
    volatile sig_atomic_t dumping;
    int expect_crash; /* -e: a crash is the expected outcome (exit 0) */
} g_current;

/* ---- PRNG: splitmix64 ------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return n == 0 ? 0 : (size_t)(rng_next(s) % n);
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* ---- crash hook --------------------------------------------------------------- */

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w <= 0)
            return;
        b += w;
        n -= (size_t)w;
    }
}

static void dump_current(void)
{
    char path[1024];
    char msg[1200];
    int fd, n;

    if (g_current.r == NULL || g_current.file == NULL || g_current.dumping)
        return;
    g_current.dumping = 1;
    snprintf(path, sizeof(path), "%s/crash-%s-%s-%lu.bin", g_current.r->crash_dir,
             g_current.r->prog, g_current.file->base, g_current.index);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        write_all(fd, g_current.data, g_current.len);
        close(fd);
    }
    n = snprintf(msg, sizeof(msg),
                 "replay: crashed on %s mutation %lu (%zu bytes), input saved as %s\n",
                 g_current.file->path, g_current.index, g_current.len, path);
    if (n > 0)
        write_all(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    if (g_current.expect_crash) {
        static const char ok[] =
            "replay: crashed as expected (-e): the known bug still reproduces\n";
        write_all(2, ok, sizeof(ok) - 1);
        _exit(0);
    }
}

static void on_signal(int sig)
{
    dump_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Present only when a sanitizer runtime is linked. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static void install_crash_hook(void)
{
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};

    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(dump_current);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], on_signal);
}

/* ---- loading seeds ---------------------------------------------------------- */

static int load_file(replay *r, const char *path)
{
    FILE *f;
    seed_file *s;
    uint8_t *buf;
    size_t n;
    const char *slash;

    if (r->n_seeds >= MAX_SEEDS) {
        fprintf(stderr, "%s: more than %u seed files\n", r->prog, MAX_SEEDS);
        return -1;
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot open %s: %s\n", r->prog, path, strerror(errno));
        return -1;
    }
    buf = malloc(MAX_SEED_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, MAX_SEED_BYTES + 1, f);
    fclose(f);
    if (n > MAX_SEED_BYTES) {
        fprintf(stderr, "%s: %s is larger than %u bytes\n", r->prog, path, MAX_SEED_BYTES);
        free(buf);
        return -1;
    }
    s = &r->seeds[r->n_seeds++];
    s->path = strdup(path);
    s->data = buf;
    s->len = n;
    if (s->path == NULL)
        return -1;
    slash = strrchr(s->path, '/');
    s->base = slash != NULL ? slash + 1 : s->path;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_path(replay *r, const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", r->prog, path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(r, path);
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "%s: cannot open directory %s: %s\n", r->prog, path, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char *full;
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap ? cap * 2 : 32) * sizeof(*names));
            if (nn == NULL) {
                rc = -1;
                break;
            }
            names = nn;
            cap = cap ? cap * 2 : 32;
        }
        if (asprintf(&full, "%s/%s", path, e->d_name) < 0) {
            rc = -1;
            break;
        }
        names[n++] = full;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = load_file(r, names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- mutations --------------------------------------------------------------- */

static const uint32_t interesting32[] = {
    0,          1,          2,          0x7F,       0x80,       0xFF,       0x100,
    0x1FF,      0x200,      0x201,      0x7FFF,     0x8000,     0xFFFF,     0x10000,
    0x400000,   0x400001,   0x1000000,  0x1000001,  0x7FFFFFFF, 0x80000000, 0xFFFFFFFE,
    0xFFFFFFFF, 0x00000028, 0x00000014, 0x00000010, 0x00000030, 0x00000138};

/* Apply one random edit to buf[0..*len) (capacity cap). */
static void mutate_once(replay *r, uint64_t *rng, uint8_t *buf, size_t *len, size_t cap)
{
    size_t n = *len;
    size_t pos = rng_below(rng, n ? n : 1);

    switch (rng_below(rng, 11)) {
    case 0: /* flip a bit */
        if (n)
            buf[pos] ^= (uint8_t)(1u << rng_below(rng, 8));
        break;
    case 1: /* random byte */
        if (n)
            buf[pos] = (uint8_t)rng_next(rng);
        break;
    case 2: /* interesting byte */
        if (n) {
            static const uint8_t v[] = {0, 1, 0x7F, 0x80, 0xFF, '\n', ':', '-', ' ', '"', '{', '['};
            buf[pos] = v[rng_below(rng, sizeof(v))];
        }
        break;
    case 3: /* interesting 16/32-bit value, either endianness */
        if (n >= 4) {
            uint32_t v =
                interesting32[rng_below(rng, sizeof(interesting32) / sizeof(interesting32[0]))];
            size_t w = rng_below(rng, 2) ? 4 : 2;
            pos = rng_below(rng, n - w + 1);
            for (size_t i = 0; i < w; i++) {
                unsigned sh = rng_below(rng, 2) ? (unsigned)(8 * i) : (unsigned)(8 * (w - 1 - i));
                buf[pos + i] = (uint8_t)(v >> sh);
            }
        }
        break;
    case 4: /* add/subtract a small amount to a byte */
        if (n)
            buf[pos] = (uint8_t)(buf[pos] + (int)rng_below(rng, 9) - 4);
        break;
    case 5: /* delete a run */
        if (n) {
            size_t k = 1 + rng_below(rng, n - pos < 16 ? n - pos : 16);
            memmove(buf + pos, buf + pos + k, n - pos - k);
            *len = n - k;
        }
        break;
    case 6: /* insert random bytes */
    {
        size_t k = 1 + rng_below(rng, 8);
        if (n + k <= cap) {
            memmove(buf + pos + k, buf + pos, n - pos);
            for (size_t i = 0; i < k; i++)
                buf[pos + i] = (uint8_t)rng_next(rng);
            *len = n + k;
        }
        break;
    }
    case 7: /* truncate */
        *len = rng_below(rng, n + 1);
        break;
    case 8: /* duplicate a chunk in place */
        if (n) {
            size_t k = 1 + rng_below(rng, n - pos < 64 ? n - pos : 64);
            if (n + k <= cap) {
                memmove(buf + pos + k, buf + pos, n - pos);
                *len = n + k;
            }
        }
        break;
    case 9: /* splice: overwrite with a piece of another seed */
    {
        const seed_file *o = &r->seeds[rng_below(rng, r->n_seeds)];
        if (o->len && n) {
            size_t from = rng_below(rng, o->len);
            size_t k = 1 + rng_below(rng, o->len - from);
            if (k > n - pos)
                k = n - pos;
            memcpy(buf + pos, o->data + from, k);
        }
        break;
    }
    default: /* copy a chunk over another place in the same input */
        if (n >= 2) {
            size_t from = rng_below(rng, n);
            size_t k = 1 + rng_below(rng, n - from);
            if (k > n - pos)
                k = n - pos;
            memmove(buf + pos, buf + from, k);
        }
        break;
    }
}

static void run_one(const seed_file *f, unsigned long index, const uint8_t *data, size_t len)
{
    g_current.file = f;
    g_current.index = index;
    g_current.data = data;
    g_current.len = len;
    (void)LLVMFuzzerTestOneInput(data, len);
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [-e] [-n MUTATIONS] [-s SEED] [-m MAXLEN] [-o CRASH_DIR] PATH...\n",
            prog);
    return 2;
}

int main(int argc, char **argv)
{
    static replay r;
    const char *slash = strrchr(argv[0], '/');
    unsigned long execs = 0;
    uint8_t *buf;
    struct timespec t0, t1;
    int opt;

    r.prog = slash != NULL ? slash + 1 : argv[0];
    r.mutations = 200;
    r.seed = 1;
    r.max_len = 4096;
    r.crash_dir = ".";
    while ((opt = getopt(argc, argv, "en:s:m:o:")) != -1) {
        switch (opt) {
        case 'e':
            g_current.expect_crash = 1;
            break;
        case 'n':
            r.mutations = strtoul(optarg, NULL, 0);
            break;
        case 's':
            r.seed = strtoull(optarg, NULL, 0);
            break;
        case 'm':
            r.max_len = strtoul(optarg, NULL, 0);
            break;
        case 'o':
            r.crash_dir = optarg;
            break;
        default:
            return usage(r.prog);
        }
    }
    if (optind >= argc || r.max_len == 0 || r.max_len > MAX_SEED_BYTES)
        return usage(r.prog);
    for (int i = optind; i < argc; i++)
        if (load_path(&r, argv[i]) != 0)
            return 1;
    if (r.n_seeds == 0) {
        fprintf(stderr, "%s: no seed files found\n", r.prog);
        return 1;
    }

    g_current.r = &r;
    install_crash_hook();
    buf = malloc(MAX_SEED_BYTES + r.max_len);
    if (buf == NULL)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0; i < r.n_seeds; i++) {
        const seed_file *f = &r.seeds[i];
        uint64_t rng = r.seed ^ hash_name(f->base);
        size_t cap = f->len > r.max_len ? f->len : r.max_len;

        run_one(f, 0, f->data, f->len);
        execs++;
        for (unsigned long k = 1; k <= r.mutations; k++) {
            size_t len = f->len;
            unsigned edits = 1 + (unsigned)rng_below(&rng, 4);

            memcpy(buf, f->data, len);
            for (unsigned e = 0; e < edits; e++)
                mutate_once(&r, &rng, buf, &len, cap);
            run_one(f, k, buf, len);
            execs++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    g_current.file = NULL;
    if (g_current.expect_crash) {
        fprintf(stderr, "%s: -e: no input crashed; the known bug seems fixed\n", r.prog);
        return 1;
    }
    printf("%s: %u seed files, %lu executions (%lu mutations each, seed %llu), %.2f s, no crash\n",
           r.prog, r.n_seeds, execs, r.mutations, (unsigned long long)r.seed,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(buf);
    for (unsigned i = 0; i < r.n_seeds; i++) {
        free(r.seeds[i].path);
        free(r.seeds[i].data);
    }
    return 0;
}
