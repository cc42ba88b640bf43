/* driver: scanning into a file or a descriptor (the output rule), and the
 * options' defaults.
 *
 * Output rule (docs/driver.md, drv.h at drv_scan_to_file): what the output
 * names decides how the TIFF gets there, and everything that can be checked
 * is checked before the device is opened, so that a scan is never lost to
 * an output that could not take it:
 *   regular file or new name  OUT.part (created and flock'ed now), renamed
 *                             to OUT at the end; kept when that fails
 *   FIFO, pipe, socket, stdout spooled in an unlinked file in $TMPDIR (the
 *                             TIFF writer seeks back to link each page),
 *                             copied out at the end
 *   /dev/null                 discarded: pages encoded, then dropped
 *   directory, other device   refused
 *   node, socket path
 * A non-regular file is never replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "drv-internal.h"
#include "wias/wias.h"

#define COPY_CHUNK       ((size_t)256 * 1024)
#define PART_OPEN_TRIES  8
#define DEV_NULL_MAJOR   1u
#define DEV_NULL_MINOR   3u
#define OUTPUT_KINDS_MSG "a regular file, a FIFO, standard output (-o -) or /dev/null"

void drv_scan_options_init(drv_scan_options *o)
{
    memset(o, 0, sizeof(*o));
    o->transport = DRV_DEFAULT_URI;
    drv_open_options_init(&o->open);
    o->source = PROTO_SCAN_SOURCE_ADF;
    o->mode = PROTO_SCAN_MODE_COLOR24;
    o->dpi = 300;
    o->pages = 0;
    o->compression = DRV_COMPRESSION_NONE;
    o->in_flight = 4;
    o->write_behind = 1;
    o->timeout_ms = 10000;
    o->warmup_max_ms = 60000;
}

/* The output being written: what drv_scan_to_file / _to_fd decided. */
typedef struct output {
    int kind;         /* enum drv_output_kind */
    const char *name; /* as the caller gave it */
    char *target;     /* FILE: the name renamed into (a link's target) */
    char *part;       /* FILE: target + ".part" */
    int fd;           /* FILE: the .part, locked; STREAM: the sink; else -1 */
    int own_fd;       /* fd is closed at the end */
    int spool;        /* STREAM: the unlinked spool, else -1 */
    int stale_part;   /* FILE: a .part of an earlier run was replaced */
} output;

static void output_init(output *out, const char *name)
{
    memset(out, 0, sizeof(*out));
    out->name = name;
    out->fd = -1;
    out->spool = -1;
}

static void output_close(output *out)
{
    if (out->spool >= 0)
        close(out->spool);
    if (out->fd >= 0 && out->own_fd)
        close(out->fd); /* releases the .part's lock */
    free(out->target);
    free(out->part);
    out->target = out->part = NULL;
    out->fd = out->spool = -1;
}

static int32_t file_fail(drv_scan_result *res, int32_t hr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int32_t file_fail(drv_scan_result *res, int32_t hr, const char *fmt, ...)
{
    va_list ap;

    res->hr = hr;
    res->err = hr == DRV_HR_E_ABORT ? DRV_E_CANCELLED : DRV_E_OUTPUT;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    return hr;
}

/* errno -> the STG_E_* a Windows storage call reports for it (translated
 * here, once). */
static int32_t hr_from_errno(int e, int32_t fallback)
{
    switch (e) {
    case ENOENT:
        return STG_E_FILENOTFOUND;
    case ENOTDIR:
    case ELOOP:
    case ENAMETOOLONG:
        return STG_E_PATHNOTFOUND;
    case EACCES:
    case EPERM:
    case EISDIR:
    case ETXTBSY:
        return STG_E_ACCESSDENIED;
    case EROFS:
        return STG_E_DISKISWRITEPROTECTED;
    case EMFILE:
    case ENFILE:
        return STG_E_TOOMANYOPENFILES;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return STG_E_MEDIUMFULL;
    case ENOMEM:
        return E_OUTOFMEMORY;
    default:
        return fallback;
    }
}

static int is_dev_null(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && major(st->st_rdev) == DEV_NULL_MAJOR &&
           minor(st->st_rdev) == DEV_NULL_MINOR;
}

static const char *kind_word(const struct stat *st)
{
    if (S_ISREG(st->st_mode))
        return "a regular file";
    if (S_ISDIR(st->st_mode))
        return "a directory";
    if (S_ISCHR(st->st_mode))
        return "a character device";
    if (S_ISBLK(st->st_mode))
        return "a block device";
    if (S_ISFIFO(st->st_mode))
        return "a FIFO";
    if (S_ISSOCK(st->st_mode))
        return "a socket";
    if (S_ISLNK(st->st_mode))
        return "a symbolic link";
    return "not a regular file";
}

static int cancelled(const drv_scan_options *o)
{
    return o->cancel && *o->cancel;
}

/* The directory part of path, malloc'd ("." for a bare name). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* ---- regular files: OUT.part ------------------------------------------------------ */

/* An existing regular OUT must be one we may replace: not read-only (a
 * redirection or cp would fail on it too), and renaming over it must be
 * allowed, which a sticky directory (/tmp) refuses for another user's file
 * (root, which has CAP_FOWNER, aside). */
static int32_t check_replaceable(const char *target, const struct stat *st, drv_scan_result *res)
{
    struct stat ds;
    char *dir;
    int32_t hr = DRV_HR_S_OK;

    if (faccessat(AT_FDCWD, target, W_OK, AT_EACCESS) != 0) {
        int e = errno;

        if (e == EACCES || e == EPERM)
            return file_fail(res, STG_E_ACCESSDENIED, "%s is read-only; not replacing it", target);
        return file_fail(res, hr_from_errno(e, STG_E_ACCESSDENIED), "cannot write %s: %s", target,
                         strerror(e));
    }
    dir = dir_of(target);
    if (!dir)
        return file_fail(res, E_OUTOFMEMORY, "out of memory");
    if (stat(dir, &ds) == 0 && (ds.st_mode & S_ISVTX) && geteuid() != 0 &&
        st->st_uid != geteuid() && ds.st_uid != geteuid())
        hr = file_fail(res, STG_E_ACCESSDENIED,
                       "%s belongs to another user in the sticky directory %s, which lets no one "
                       "else replace it",
                       target, dir);
    free(dir);
    return hr;
}

/* Create (or take over) target.part and lock it, before scanning: this is
 * where a missing or read-only directory, a read-only file system or a
 * concurrent scan into the same name shows. A .part that exists and is not
 * locked was left by a run that did not finish: it is truncated and
 * reported (stale_part). One that is locked belongs to a running scan. */
static int32_t open_part(output *out, drv_scan_result *res)
{
    size_t n = strlen(out->target);
    struct stat pst, now;
    int fd = -1, existed = 0;

    out->part = malloc(n + sizeof(".part"));
    if (!out->part)
        return file_fail(res, E_OUTOFMEMORY, "out of memory");
    memcpy(out->part, out->target, n);
    memcpy(out->part + n, ".part", sizeof(".part"));
    for (int tries = 0;; tries++) {
        int e;

        existed = 0;
        fd = open(out->part, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0 && errno == EEXIST) {
            existed = 1;
            /* O_NONBLOCK: a FIFO under that name must not block us. */
            fd = open(out->part, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
            if (fd < 0 && errno == ENOENT && tries < PART_OPEN_TRIES)
                continue; /* removed meanwhile */
            if (fd < 0 && errno == ELOOP)
                return file_fail(res, STG_E_ACCESSDENIED,
                                 "%s exists and is a symbolic link; remove it", out->part);
        }
        if (fd < 0) {
            e = errno;
            return file_fail(res, hr_from_errno(e, STG_E_ACCESSDENIED), "cannot create %s: %s",
                             out->part, strerror(e));
        }
        if (fstat(fd, &pst) != 0 || !S_ISREG(pst.st_mode)) {
            close(fd);
            return file_fail(res, STG_E_ACCESSDENIED,
                             "%s exists and is %s, not a file wiascan left; remove it", out->part,
                             kind_word(&pst));
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
            close(fd);
            return file_fail(res, STG_E_SHAREVIOLATION,
                             "%s is being written by another scan into the same output", out->part);
        }
        /* (A file system without flock: no lock, and no way to see a
         * concurrent scan; the scan goes on.) */
        /* Still the file of that name? (the scan that held it may have
         * renamed it into place or removed it just before we locked it) */
        if (stat(out->part, &now) == 0 && now.st_dev == pst.st_dev && now.st_ino == pst.st_ino)
            break;
        close(fd);
        if (tries >= PART_OPEN_TRIES)
            return file_fail(res, STG_E_SHAREVIOLATION,
                             "%s keeps changing: another process is using it", out->part);
    }
    out->fd = fd;
    out->own_fd = 1;
    if (existed) {
        int fl = fcntl(fd, F_GETFL);

        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        if (ftruncate(fd, 0) != 0) {
            int e = errno;

            return file_fail(res, hr_from_errno(e, STG_E_WRITEFAULT), "cannot truncate %s: %s",
                             out->part, strerror(e));
        }
        out->stale_part = 1;
    }
    out->kind = DRV_OUTPUT_FILE;
    return DRV_HR_S_OK;
}

/* ---- streams: the spool ----------------------------------------------------------- */

static const char *tmp_dir(void)
{
    const char *d = getenv("TMPDIR");

    return d && *d ? d : "/tmp";
}

static int32_t open_spool(output *out, drv_scan_result *res)
{
    const char *dir = tmp_dir();
    char path[PATH_MAX];
    int fd, e;

    if (snprintf(path, sizeof(path), "%s/wiascan-spool-XXXXXX", dir) >= (int)sizeof(path))
        return file_fail(res, STG_E_PATHNOTFOUND, "TMPDIR is too long: %s", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        return file_fail(res, hr_from_errno(e, STG_E_ACCESSDENIED),
                         "cannot create a spool file in %s (a stream output is built there "
                         "first; set TMPDIR): %s",
                         dir, strerror(e));
    }
    unlink(path); /* gone with the process, however it ends */
    out->spool = fd;
    out->kind = DRV_OUTPUT_STREAM;
    return DRV_HR_S_OK;
}

/* Open a FIFO for writing: this waits for a reader, as any writer does; a
 * signal that sets *o->cancel ends the wait. */
static int32_t open_fifo(output *out, const char *path, const drv_scan_options *o,
                         drv_scan_result *res)
{
    struct stat st;
    int fd, e;

    for (;;) {
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0)
            break;
        e = errno;
        if (e == EINTR && !cancelled(o))
            continue;
        if (e == EINTR)
            return file_fail(res, E_ABORT, "interrupted while waiting for a reader on FIFO %s",
                             path);
        return file_fail(res, hr_from_errno(e, STG_E_ACCESSDENIED), "cannot open FIFO %s: %s", path,
                         strerror(e));
    }
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
        close(fd);
        return file_fail(res, STG_E_ACCESSDENIED, "%s changed while it was opened; not using it",
                         path);
    }
    out->fd = fd;
    out->own_fd = 1;
    return DRV_HR_S_OK;
}

/* Write the whole spool to out->fd. 0, or errno (EINTR: cancelled). */
static int copy_out(const output *out, const drv_scan_options *o)
{
    uint8_t *buf = malloc(COPY_CHUNK);
    off_t off = 0;
    int rc = 0;

    if (!buf)
        return ENOMEM;
    for (;;) {
        ssize_t n = pread(out->spool, buf, COPY_CHUNK, off);
        size_t done = 0;

        if (n < 0 && errno == EINTR && !cancelled(o))
            continue;
        if (n < 0) {
            rc = errno;
            break;
        }
        if (n == 0)
            break;
        while (done < (size_t)n) {
            ssize_t w = write(out->fd, buf + done, (size_t)n - done);

            if (w < 0 && errno == EINTR && !cancelled(o))
                continue;
            if (w < 0) {
                rc = errno;
                goto out_free;
            }
            done += (size_t)w;
        }
        off += n;
    }
out_free:
    free(buf);
    return rc;
}

/* The copy out failed: keep the scan as a named file in $TMPDIR. 0 and the
 * name in res->kept_path, or errno. */
static int save_spool(const output *out, drv_scan_result *res)
{
    char path[PATH_MAX];
    uint8_t *buf;
    off_t off = 0;
    int fd, rc = 0;

    if (snprintf(path, sizeof(path), "%s/wiascan-XXXXXX.tiff", tmp_dir()) >= (int)sizeof(path))
        return ENAMETOOLONG;
    buf = malloc(COPY_CHUNK);
    if (!buf)
        return ENOMEM;
    fd = mkostemps(path, 5, O_CLOEXEC);
    if (fd < 0) {
        rc = errno;
        goto out_free;
    }
    for (;;) {
        ssize_t n = pread(out->spool, buf, COPY_CHUNK, off);
        size_t done = 0;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = errno;
            break;
        }
        if (n == 0)
            break;
        while (done < (size_t)n) {
            ssize_t w = write(fd, buf + done, (size_t)n - done);

            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = errno;
                goto out_close;
            }
            done += (size_t)w;
        }
        off += n;
    }
out_close:
    if (close(fd) != 0 && rc == 0)
        rc = errno;
    if (rc)
        unlink(path);
    else
        snprintf(res->kept_path, sizeof(res->kept_path), "%s", path);
out_free:
    free(buf);
    return rc;
}

/* ---- the trace -------------------------------------------------------------------- */

FILE *drv_trace_open(const char *path, const volatile sig_atomic_t *cancel, int32_t *hr, char *err,
                     size_t errlen)
{
    struct stat st;
    FILE *f;
    int fd, e;

    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !is_dev_null(&st)) {
            *hr = STG_E_ACCESSDENIED;
            drv_errf(err, errlen,
                     "--trace %s is %s; a trace goes to a regular file, a FIFO or /dev/null", path,
                     kind_word(&st));
            return NULL;
        }
    } else if (errno != ENOENT) {
        e = errno;
        *hr = hr_from_errno(e, STG_E_ACCESSDENIED);
        drv_errf(err, errlen, "cannot create trace %s: %s", path, strerror(e));
        return NULL;
    }
    for (;;) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd >= 0)
            break;
        e = errno;
        if (e == EINTR && !(cancel && *cancel))
            continue;
        if (e == EINTR) {
            *hr = E_ABORT;
            drv_errf(err, errlen, "interrupted while waiting for a reader on trace FIFO %s", path);
        } else {
            *hr = hr_from_errno(e, STG_E_ACCESSDENIED);
            drv_errf(err, errlen, "cannot create trace %s: %s", path, strerror(e));
        }
        return NULL;
    }
    if (fstat(fd, &st) != 0 ||
        (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !is_dev_null(&st))) {
        close(fd);
        *hr = STG_E_ACCESSDENIED;
        drv_errf(err, errlen, "--trace %s changed while it was opened; not using it", path);
        return NULL;
    }
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        *hr = E_OUTOFMEMORY;
        drv_errf(err, errlen, "out of memory");
    }
    return f;
}

/* A trace written into the output would be renamed over, or would corrupt
 * it: refuse a --trace that names the output (or its .part). */
static int32_t check_trace(const output *out, const drv_scan_options *o, drv_scan_result *res)
{
    struct stat ts, os;
    int fd = out->kind == DRV_OUTPUT_FILE || out->kind == DRV_OUTPUT_STREAM ? out->fd : -1;

    if (!o->trace_path || out->kind == DRV_OUTPUT_DISCARD)
        return DRV_HR_S_OK;
    if (stat(o->trace_path, &ts) == 0) {
        if ((fd >= 0 && fstat(fd, &os) == 0 && os.st_dev == ts.st_dev && os.st_ino == ts.st_ino) ||
            (out->target && stat(out->target, &os) == 0 && os.st_dev == ts.st_dev &&
             os.st_ino == ts.st_ino))
            goto out_same;
        return DRV_HR_S_OK;
    }
    if (out->target && access(out->target, F_OK) != 0) {
        /* Neither exists yet: compare the names in canonical directories. */
        char *td = dir_of(o->trace_path), *od = dir_of(out->target);
        char *tr = td ? realpath(td, NULL) : NULL, *orr = od ? realpath(od, NULL) : NULL;
        const char *tb = strrchr(o->trace_path, '/'), *ob = strrchr(out->target, '/');
        int same = tr && orr && strcmp(tr, orr) == 0 &&
                   strcmp(tb ? tb + 1 : o->trace_path, ob ? ob + 1 : out->target) == 0;

        free(td);
        free(od);
        free(tr);
        free(orr);
        if (same)
            goto out_same;
    }
    return DRV_HR_S_OK;
out_same:
    return file_fail(res, STG_E_ACCESSDENIED,
                     "--trace %s is the output; give the trace its own file", o->trace_path);
}

/* ---- the scan and its end --------------------------------------------------------- */

/* The file rule's end: rename OUT.part to OUT, or keep it and say so. */
static void finish_file(output *out, drv_scan_result *res)
{
    struct stat st;
    char was[sizeof(res->message)];
    int e;

    if (res->pages_kept == 0) {
        unlink(out->part); /* still ours: we hold its lock */
        return;
    }
    if (fsync(out->fd) != 0 && errno != EINVAL && errno != EROFS) {
        /* The pages may not have reached the disk: the .part stays, and
         * nothing claims to be a complete file. */
        e = errno;
        file_fail(res, hr_from_errno(e, STG_E_WRITEFAULT),
                  "cannot flush %s: %s; it is left there, but the pages may be lost", out->part,
                  strerror(e));
        res->pages_kept = 0;
        return;
    }
    snprintf(was, sizeof(was), "%s", res->message);
    if (lstat(out->target, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* Checked before the scan, changed since: still never replaced. */
        file_fail(res, STG_E_ACCESSDENIED, "%s became %s during the scan; not replacing it",
                  out->target, kind_word(&st));
        snprintf(res->kept_path, sizeof(res->kept_path), "%s", out->part);
        return;
    }
    if (rename(out->part, out->target) != 0) {
        e = errno;
        if (FAILED(res->hr))
            file_fail(res, hr_from_errno(e, STG_E_ACCESSDENIED),
                      "cannot rename %s to %s: %s (after: %s)", out->part, out->target, strerror(e),
                      was);
        else
            file_fail(res, hr_from_errno(e, STG_E_ACCESSDENIED), "cannot rename %s to %s: %s",
                      out->part, out->target, strerror(e));
        snprintf(res->kept_path, sizeof(res->kept_path), "%s", out->part);
        return;
    }
    snprintf(res->kept_path, sizeof(res->kept_path), "%s", out->name);
}

/* The stream rule's end: copy the spool out, or save it and say so. */
static void finish_stream(output *out, const drv_scan_options *o, drv_scan_result *res)
{
    int e, se;

    if (res->pages_kept == 0)
        return; /* nothing is written */
    e = copy_out(out, o);
    if (e == 0) {
        snprintf(res->kept_path, sizeof(res->kept_path), "%s", out->name);
        return;
    }
    if (e == EINTR)
        file_fail(res, E_ABORT, "interrupted while copying the TIFF to %s", out->name);
    else
        file_fail(res, hr_from_errno(e, STG_E_WRITEFAULT), "cannot write to %s: %s", out->name,
                  strerror(e));
    se = save_spool(out, res);
    if (se != 0) {
        size_t n = strlen(res->message);

        snprintf(res->message + n, sizeof(res->message) - n, "; nor save the scan in %s: %s",
                 tmp_dir(), strerror(se));
        res->pages_kept = 0;
    }
}

static int32_t scan_into(output *out, const drv_scan_options *o, drv_scan_result *res)
{
    IStream *stream = NULL;
    int sfd = out->kind == DRV_OUTPUT_FILE ? out->fd : out->spool;
    int32_t hr;

    hr = check_trace(out, o, res);
    if (FAILED(hr))
        goto out_none;
    if (out->kind != DRV_OUTPUT_DISCARD) {
        hr = wiasCreateStreamOnFd(sfd, FALSE, &stream);
        if (FAILED(hr)) {
            file_fail(res, hr, "out of memory");
            goto out_none;
        }
    }
    drv_scan_to_stream(o, stream, res); /* fills res afresh */
    if (stream)
        stream->lpVtbl->Release(stream);
    res->output_kind = out->kind;
    res->stale_part = out->stale_part;
    if (out->kind == DRV_OUTPUT_FILE)
        finish_file(out, res);
    else if (out->kind == DRV_OUTPUT_STREAM)
        finish_stream(out, o, res);
    return res->hr;
out_none:
    if (out->kind == DRV_OUTPUT_FILE)
        unlink(out->part);
    res->output_kind = out->kind;
    res->stale_part = out->stale_part;
    return res->hr;
}

int32_t drv_scan_to_file(const drv_scan_options *o, const char *out_path, drv_scan_result *res)
{
    output out;
    struct stat st;
    int32_t hr;

    memset(res, 0, sizeof(*res));
    if (!o || !out_path || !*out_path)
        return file_fail(res, DRV_HR_E_INVALIDARG, "no output file given");
    output_init(&out, out_path);
    if (lstat(out_path, &st) != 0) {
        int e = errno;

        if (e != ENOENT)
            return file_fail(res, hr_from_errno(e, STG_E_ACCESSDENIED), "cannot use %s: %s",
                             out_path, strerror(e));
        out.target = strdup(out_path); /* a new file */
        if (!out.target)
            return file_fail(res, E_OUTOFMEMORY, "out of memory");
        hr = open_part(&out, res);
        goto out_scan;
    }
    if (S_ISLNK(st.st_mode)) {
        if (stat(out_path, &st) != 0) {
            int e = errno;

            if (e == ENOENT)
                return file_fail(res, STG_E_PATHNOTFOUND,
                                 "%s is a symbolic link to nothing; remove it or name its target",
                                 out_path);
            return file_fail(res, hr_from_errno(e, STG_E_ACCESSDENIED), "cannot use %s: %s",
                             out_path, strerror(e));
        }
        if (S_ISREG(st.st_mode)) {
            /* Write the file the link names, beside it, and keep the link. */
            out.target = realpath(out_path, NULL);
            if (!out.target) {
                int e = errno;

                return file_fail(res, hr_from_errno(e, STG_E_ACCESSDENIED), "cannot resolve %s: %s",
                                 out_path, strerror(e));
            }
        }
    }
    if (S_ISREG(st.st_mode)) {
        if (!out.target)
            out.target = strdup(out_path);
        if (!out.target)
            return file_fail(res, E_OUTOFMEMORY, "out of memory");
        hr = check_replaceable(out.target, &st, res);
        if (SUCCEEDED(hr))
            hr = open_part(&out, res);
    } else if (S_ISDIR(st.st_mode)) {
        hr = file_fail(res, STG_E_ACCESSDENIED, "%s is a directory; give a file name, e.g. %s/%s",
                       out_path, out_path, "scan.tiff");
    } else if (is_dev_null(&st)) {
        out.kind = DRV_OUTPUT_DISCARD;
        hr = DRV_HR_S_OK;
    } else if (S_ISFIFO(st.st_mode)) {
        hr = open_spool(&out, res); /* before the reader is made to wait */
        if (SUCCEEDED(hr))
            hr = open_fifo(&out, out_path, o, res);
    } else {
        hr = file_fail(res, STG_E_ACCESSDENIED,
                       "%s is %s; the output must be " OUTPUT_KINDS_MSG
                       ", and a device node or socket is never replaced",
                       out_path, kind_word(&st));
    }
out_scan:
    if (SUCCEEDED(hr))
        hr = scan_into(&out, o, res);
    else
        res->stale_part = out.stale_part;
    output_close(&out);
    return hr;
}

int32_t drv_scan_to_fd(const drv_scan_options *o, int fd, const char *name, drv_scan_result *res)
{
    output out;
    struct stat st;
    int32_t hr;
    int fl;

    memset(res, 0, sizeof(*res));
    if (!o || !name)
        return file_fail(res, DRV_HR_E_INVALIDARG, "no output given");
    output_init(&out, name);
    if (fd < 0 || fstat(fd, &st) != 0 || (fl = fcntl(fd, F_GETFL)) < 0)
        return file_fail(res, STG_E_INVALIDHANDLE, "%s is not open", name);
    if ((fl & O_ACCMODE) == O_RDONLY)
        return file_fail(res, STG_E_ACCESSDENIED, "%s is not open for writing", name);
    if (is_dev_null(&st)) {
        out.kind = DRV_OUTPUT_DISCARD;
        hr = DRV_HR_S_OK;
    } else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISREG(st.st_mode)) {
        out.fd = fd;
        hr = open_spool(&out, res);
    } else if (isatty(fd)) {
        hr = file_fail(res, STG_E_ACCESSDENIED,
                       "%s is a terminal; not writing a TIFF to it (redirect it to a file or a "
                       "pipe)",
                       name);
    } else {
        hr = file_fail(res, STG_E_ACCESSDENIED, "%s is %s; the output must be " OUTPUT_KINDS_MSG,
                       name, kind_word(&st));
    }
    if (SUCCEEDED(hr))
        hr = scan_into(&out, o, res);
    output_close(&out);
    return hr;
}
