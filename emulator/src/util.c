/* Errors, logging, the clock, and the device-side trace writer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio_ext.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emu-internal.h"

const char *emu_strerror(int err)
{
    switch (err) {
    case EMU_OK:
        return "success";
#define EMU_STRERROR_CASE_(name, value, msg)                                                       \
    case EMU_E_##name:                                                                             \
        return msg;
        EMU_ERRNO_MAP(EMU_STRERROR_CASE_)
#undef EMU_STRERROR_CASE_
    default:
        return "unknown emulator error";
    }
}

const char *emu_err_name(int err)
{
    switch (err) {
    case EMU_OK:
        return "EMU_OK";
#define EMU_ERRNAME_CASE_(name, value, msg)                                                        \
    case EMU_E_##name:                                                                             \
        return "EMU_E_" #name;
        EMU_ERRNO_MAP(EMU_ERRNAME_CASE_)
#undef EMU_ERRNAME_CASE_
    default:
        return "EMU_E_UNKNOWN";
    }
}

static const char *level_name(enum emu_log_level lvl)
{
    switch (lvl) {
    case EMU_LOG_ERROR:
        return "error";
    case EMU_LOG_WARN:
        return "warning";
    case EMU_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void emu_logf(const emu_log *log, enum emu_log_level lvl, const char *tag, const char *fmt, ...)
{
    if (!log || !log->f || lvl > log->level)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[640];
    if (tag)
        snprintf(line, sizeof line, "scanemu[%s]: %s: %s\n", tag, level_name(lvl), msg);
    else
        snprintf(line, sizeof line, "scanemu: %s: %s\n", level_name(lvl), msg);
    /* One fputs per line: stdio locks the stream, so lines never interleave. */
    fputs(line, log->f);
    fflush(log->f);
}

uint64_t emu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- trace ------------------------------------------------------------------- */

struct emu_trace {
    FILE *f;
    pthread_mutex_t mtx;
    emu_log log;
    char *path;
    int err;          /* errno of the first failed write; 0: none (under mtx) */
    uint64_t dropped; /* records not written since (under mtx) */
};

/* What a trace path may be: a regular file (created or truncated), a FIFO
 * that already has a reader, or a character device (/dev/null, a terminal,
 * /dev/stdout): written as a stream. A FIFO without a reader is refused at
 * once instead of waiting in open() for one; a directory, a socket and a
 * block device (a disk) are refused. */
static int trace_open_fd(const char *path, char *errbuf, size_t errlen)
{
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && (S_ISDIR(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISBLK(st.st_mode))) {
        snprintf(errbuf, errlen, "trace file %s is a %s; refusing to write a trace there", path,
                 S_ISDIR(st.st_mode)    ? "directory"
                 : S_ISSOCK(st.st_mode) ? "socket"
                                        : "block device");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0666);
    if (fd < 0) {
        if (errno == ENXIO && exists && S_ISFIFO(st.st_mode))
            snprintf(errbuf, errlen,
                     "trace file %s is a FIFO with no reader; start the reader first", path);
        else
            snprintf(errbuf, errlen, "cannot open trace file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen, "trace file %s changed kind while it was opened; refusing it",
                 path);
        goto out_close;
    }
    /* Blocking from here on: a FIFO's reader paces the writer. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        snprintf(errbuf, errlen, "trace file %s: fcntl: %s", path, strerror(errno));
        goto out_close;
    }
    return fd;

out_close:
    close(fd);
    return -1;
}

int emu_trace_open(const char *path, const emu_log *log, emu_trace **out, char *errbuf,
                   size_t errlen)
{
    emu_trace *t = calloc(1, sizeof(*t));
    if (!t || !(t->path = strdup(path))) {
        snprintf(errbuf, errlen, "trace %s: out of memory", path);
        goto out_free;
    }
    if (log)
        t->log = *log;
    int fd = trace_open_fd(path, errbuf, errlen);
    if (fd < 0)
        goto out_free;
    t->f = fdopen(fd, "w");
    if (!t->f) {
        snprintf(errbuf, errlen, "trace file %s: %s", path, strerror(errno));
        close(fd);
        goto out_free;
    }
    setvbuf(t->f, NULL, _IOFBF, 1 << 16);
    pthread_mutex_init(&t->mtx, NULL);
    *out = t;
    return 0;

out_free:
    if (t)
        free(t->path);
    free(t);
    return -1;
}

/* Called with t->mtx held after a failed write: the first failure is logged
 * once, naming the file; from then on records are dropped (and counted). */
static void trace_failed(emu_trace *t, int err)
{
    if (t->err)
        return;
    t->err = err ? err : EIO;
    emu_logf(&t->log, EMU_LOG_ERROR, NULL,
             "trace %s: write failed: %s; dropping the trace's records from now on (scanemu will "
             "exit with status 3)",
             t->path, strerror(t->err));
}

void emu_trace_flush(emu_trace *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mtx);
    if (!t->err && fflush(t->f) != 0)
        trace_failed(t, errno);
    pthread_mutex_unlock(&t->mtx);
}

int emu_trace_status(emu_trace *t, uint64_t *dropped)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&t->mtx);
    int err = t->err;
    if (dropped)
        *dropped = t->dropped;
    pthread_mutex_unlock(&t->mtx);
    return err;
}

const char *emu_trace_path(const emu_trace *t)
{
    return t ? t->path : NULL;
}

void emu_trace_close(emu_trace *t)
{
    if (!t)
        return;
    if (t->err) /* whatever the buffer still holds cannot be written either */
        __fpurge(t->f);
    if (fclose(t->f) != 0 && !t->err)
        trace_failed(t, errno);
    pthread_mutex_destroy(&t->mtx);
    free(t->path);
    free(t);
}

/* Writes `"key":value` for a time relative to origin, or null when the time is
 * not a real instant (never, or not yet). */
static void put_rel(char *buf, size_t len, uint64_t t, uint64_t origin)
{
    if (t == UINT64_MAX || t < origin)
        snprintf(buf, len, "null");
    else
        snprintf(buf, len, "%llu", (unsigned long long)(t - origin));
}

void emu_trace_record(void *ctx, const dm_trace_rec *rec)
{
    emu_trace_port *port = ctx;
    if (!port || !port->trace)
        return;
    char d[24], r[24], late[24];
    put_rel(d, sizeof d, rec->deadline_ns, rec->job_start_ns);
    put_rel(r, sizeof r, rec->release_ns, rec->job_start_ns);
    if (strcmp(d, "null") == 0 || strcmp(r, "null") == 0)
        snprintf(late, sizeof late, "null");
    else
        snprintf(late, sizeof late, "%lld",
                 (long long)(int64_t)(rec->release_ns - rec->deadline_ns));
    /* Attribution: urb_ns is when the host transfer that carried the record
     * arrived (the bulk IN URB; on the eSCL front the NextDocument request;
     * signed: it may predate the job); emu_late_ns is
     * release - max(deadline, urb arrival), the lateness the emulator itself
     * is responsible for (the rest is the host having no transfer queued). */
    char urb[24], emu_late[24];
    if (rec->carrier_ns == UINT64_MAX || strcmp(late, "null") == 0) {
        snprintf(urb, sizeof urb, "null");
        snprintf(emu_late, sizeof emu_late, "null");
    } else {
        snprintf(urb, sizeof urb, "%lld",
                 (long long)(int64_t)(rec->carrier_ns - rec->job_start_ns));
        uint64_t from = rec->carrier_ns > rec->deadline_ns ? rec->carrier_ns : rec->deadline_ns;
        snprintf(emu_late, sizeof emu_late, "%lld", (long long)(int64_t)(rec->release_ns - from));
    }
    char fault[64];
    if (rec->fault)
        snprintf(fault, sizeof fault, "\"%s\"", rec->fault);
    else
        snprintf(fault, sizeof fault, "null");
    /* Formatted before the lock: with many devices on few CPUs, a thread
     * preempted while it holds the lock holds up every other device's
     * worker, so the lock covers only the copy into the stream's buffer. */
    char line[512];
    int n = snprintf(
        line, sizeof line,
        "{\"src\":\"device\",\"busid\":\"%s\",\"page\":%u,\"side\":%u,\"band\":%u,"
        "\"deadline_ns\":%s,\"release_ns\":%s,\"late_ns\":%s,\"bytes\":%u,\"fault\":%s,"
        "\"urb_ns\":%s,\"emu_late_ns\":%s}\n",
        port->busid, rec->page, rec->side, rec->band, d, r, late, rec->bytes, fault, urb, emu_late);
    if (n < 0 || (size_t)n >= sizeof line)
        return; /* cannot happen: every field is bounded */
    emu_trace_write_line(port->trace, line);
}

void emu_trace_write_line(emu_trace *t, const char *line)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mtx);
    if (t->err) {
        t->dropped++;
    } else if (fputs(line, t->f) == EOF) {
        trace_failed(t, errno);
        t->dropped++;
    }
    pthread_mutex_unlock(&t->mtx);
}
