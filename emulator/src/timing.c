/* The timing report: at every job's end one log line and one trace record
 * with how late its bands were and whose doing it was (the device model's
 * accounting, dm/lateness.h), the same per device when the server stops,
 * and the --strict-timing verdict. The job's fields and verdict also end
 * the control socket's job_ended event (emu_timing_job_fields, used by
 * control_cmd.c). docs/emulator.md, "Timing report". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "emu-internal.h"

/* snprintf into buf at *off, never past len; *off may end past len, which
 * the caller reads as truncation. */
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...) EMU_PRINTF(4, 5);
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(*off < len ? buf + *off : NULL, *off < len ? len - *off : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off += (size_t)n;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static const char *verdict_word(const dm_lat_summary *s, int strict, int timing)
{
    if (!strict || !timing)
        return NULL;
    return s->beyond_emu > 0 ? "NOT FAITHFUL" : "faithful";
}

/* "N bands, p50/p99/max lateness …, K beyond tolerance T (E emulator, H
 * host-starved), S starved" */
static void put_numbers(char *buf, size_t len, size_t *off, const dm_lat_summary *s)
{
    put(buf, len, off,
        "%llu band%s, p50/p99/max lateness %.1f/%.1f/%.1f us (emulator's share %.1f/%.1f/%.1f "
        "us), %llu beyond tolerance %.0f us (%llu emulator, %llu host-starved), %llu starved",
        (unsigned long long)s->bands, s->bands == 1 ? "" : "s", us(s->late_p50_ns),
        us(s->late_p99_ns), us(s->late_max_ns), us(s->emu_p50_ns), us(s->emu_p99_ns),
        us(s->emu_max_ns), (unsigned long long)s->beyond, us(s->tolerance_ns),
        (unsigned long long)s->beyond_emu, (unsigned long long)s->beyond_host,
        (unsigned long long)s->starved);
    if (s->unattributed > 0)
        put(buf, len, off, ", %llu unattributed", (unsigned long long)s->unattributed);
}

size_t emu_timing_job_line(char *buf, size_t len, const dm_job_timing *jt, const char *front,
                           int strict)
{
    size_t off = 0;
    const char *v = verdict_word(&jt->job, strict, jt->timing);

    if (len > 0)
        buf[0] = '\0';
    put(buf, len, &off, "timing: ");
    if (jt->timing)
        put_numbers(buf, len, &off, &jt->job);
    else
        put(buf, len, &off,
            "%llu band%s released without the profile's schedule (--no-timing): no "
            "lateness to account",
            (unsigned long long)jt->job.bands, jt->job.bands == 1 ? "" : "s");
    put(buf, len, &off, "; %s job %s after %u page%s", front, dm_status_name(jt->result),
        jt->pages_done, jt->pages_done == 1 ? "" : "s");
    if (v)
        put(buf, len, &off, "; %s", v);
    return off;
}

size_t emu_timing_device_line(char *buf, size_t len, const dm_lat_summary *dev, uint64_t jobs,
                              uint64_t jobs_emu_beyond, int timing, int strict)
{
    size_t off = 0;

    if (len > 0)
        buf[0] = '\0';
    put(buf, len, &off, "timing: device total over %llu job%s: ", (unsigned long long)jobs,
        jobs == 1 ? "" : "s");
    if (!timing) {
        put(buf, len, &off, "%llu band%s released without the profile's schedule (--no-timing)",
            (unsigned long long)dev->bands, dev->bands == 1 ? "" : "s");
        return off;
    }
    put_numbers(buf, len, &off, dev);
    if (strict)
        put(buf, len, &off, "; %llu of %llu job%s NOT FAITHFUL",
            (unsigned long long)jobs_emu_beyond, (unsigned long long)jobs, jobs == 1 ? "" : "s");
    return off;
}

static void put_json_numbers(char *buf, size_t len, size_t *off, const dm_lat_summary *s)
{
    put(buf, len, off,
        "\"bands\":%llu,\"late_p50_ns\":%llu,\"late_p99_ns\":%llu,\"late_max_ns\":%llu,"
        "\"emu_p50_ns\":%llu,\"emu_p99_ns\":%llu,\"emu_max_ns\":%llu,\"tolerance_ns\":%llu,"
        "\"beyond\":%llu,\"beyond_emu\":%llu,\"beyond_host\":%llu,\"starved\":%llu,"
        "\"unattributed\":%llu",
        (unsigned long long)s->bands, (unsigned long long)s->late_p50_ns,
        (unsigned long long)s->late_p99_ns, (unsigned long long)s->late_max_ns,
        (unsigned long long)s->emu_p50_ns, (unsigned long long)s->emu_p99_ns,
        (unsigned long long)s->emu_max_ns, (unsigned long long)s->tolerance_ns,
        (unsigned long long)s->beyond, (unsigned long long)s->beyond_emu,
        (unsigned long long)s->beyond_host, (unsigned long long)s->starved,
        (unsigned long long)s->unattributed);
}

static void put_json_verdict(char *buf, size_t len, size_t *off, const dm_lat_summary *s,
                             int timing, int strict)
{
    const char *v = verdict_word(s, strict, timing);

    put(buf, len, off, ",\"timing\":%s,\"strict\":%s,\"verdict\":", timing ? "true" : "false",
        strict ? "true" : "false");
    if (v == NULL)
        put(buf, len, off, "null");
    else
        put(buf, len, off, "\"%s\"", s->beyond_emu > 0 ? "not_faithful" : "faithful");
}

size_t emu_timing_job_record(char *buf, size_t len, const char *busid, const dm_job_timing *jt,
                             const char *front, int strict)
{
    size_t off = 0;

    if (len > 0)
        buf[0] = '\0';
    put(buf, len, &off,
        "{\"src\":\"device\",\"busid\":\"%s\",\"kind\":\"job_end\",\"front\":\"%s\","
        "\"result\":\"%s\",\"end_ns\":%llu,\"pages\":%u,",
        busid, front, dm_status_name(jt->result),
        (unsigned long long)(jt->end_ns >= jt->job_start_ns ? jt->end_ns - jt->job_start_ns : 0),
        jt->pages_done);
    off +=
        emu_timing_job_fields(off < len ? buf + off : NULL, off < len ? len - off : 0, jt, strict);
    put(buf, len, &off, "}\n");
    return off;
}

size_t emu_timing_job_fields(char *buf, size_t len, const dm_job_timing *jt, int strict)
{
    size_t off = 0;

    if (len > 0)
        buf[0] = '\0';
    put_json_numbers(buf, len, &off, &jt->job);
    put_json_verdict(buf, len, &off, &jt->job, jt->timing, strict);
    return off;
}

size_t emu_timing_device_record(char *buf, size_t len, const char *busid, const dm_lat_summary *dev,
                                uint64_t jobs, uint64_t jobs_emu_beyond, int timing, int strict)
{
    size_t off = 0;

    if (len > 0)
        buf[0] = '\0';
    put(buf, len, &off,
        "{\"src\":\"device\",\"busid\":\"%s\",\"kind\":\"device_end\",\"jobs\":%llu,"
        "\"jobs_not_faithful\":",
        busid, (unsigned long long)jobs);
    if (strict && timing)
        put(buf, len, &off, "%llu,", (unsigned long long)jobs_emu_beyond);
    else
        put(buf, len, &off, "null,");
    put_json_numbers(buf, len, &off, dev);
    put_json_verdict(buf, len, &off, dev, timing, strict);
    put(buf, len, &off, "}\n");
    return off;
}

static const char *front_name(const emu_timing_port *p, const void *front)
{
    return front != NULL && front == p->usb_front ? "usb" : "escl";
}

void emu_timing_job_end(void *ctx, const struct dm_job_timing *jt)
{
    emu_timing_port *p = ctx;
    char line[768], rec[1024];
    const char *front = front_name(p, jt->front);
    int bad = p->strict && jt->timing && jt->job.beyond_emu > 0;

    emu_timing_job_line(line, sizeof line, jt, front, p->strict);
    emu_logf(&p->log, bad ? EMU_LOG_WARN : EMU_LOG_INFO, p->busid, "%s", line);
    if (p->trace &&
        emu_timing_job_record(rec, sizeof rec, p->busid, jt, front, p->strict) < sizeof rec)
        emu_trace_write_line(p->trace, rec);
}

void emu_timing_device_end(emu_timing_port *p, const dm_lat_summary *dev, uint64_t jobs,
                           uint64_t jobs_emu_beyond, int timing)
{
    char line[768], rec[1024];
    int bad = p->strict && timing && jobs_emu_beyond > 0;

    if (jobs == 0)
        return;
    emu_timing_device_line(line, sizeof line, dev, jobs, jobs_emu_beyond, timing, p->strict);
    emu_logf(&p->log, bad ? EMU_LOG_WARN : EMU_LOG_INFO, p->busid, "%s", line);
    if (p->trace && emu_timing_device_record(rec, sizeof rec, p->busid, dev, jobs, jobs_emu_beyond,
                                             timing, p->strict) < sizeof rec)
        emu_trace_write_line(p->trace, rec);
}
