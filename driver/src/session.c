/* driver: the scanner session — one job, whatever the protocol.
 *
 * drv_scan_to_stream picks the protocol by the transport URI (eSCL for
 * "escl+...", the native protocol over a USB transport for the rest) and
 * runs the job through its ops table (drv-session.h): open, start, then a
 * page at a time into the page buffers, each finished page into the TIFF
 * (session_pages.c; with write-behind through the writer thread,
 * session_writer.c), then stop and close. What a protocol reports goes
 * through the helpers here, so every protocol maps faults alike.
 *
 * Fault mapping (docs/driver.md, "Fault mapping"): a device status that
 * ends the job gives the HRESULT drv_hr_from_status gives (an empty feeder:
 * WIA_STATUS_END_OF_MEDIA after a page, WIA_ERROR_PAPER_EMPTY before one);
 * a lost, broken or silent connection is WIA_ERROR_DEVICE_COMMUNICATION; the
 * caller's cancel is E_ABORT; a device that cannot be reached is
 * WIA_ERROR_OFFLINE. A page is written only when all of it arrived intact,
 * and the pages written before a fault stay in the TIFF.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv-internal.h"
#include "drv-session.h"
#include "wias/wias.h"

_Static_assert(DRV_COMPRESSION_LZW == WIAS_COMPRESSION_LZW, "compression values agree");
_Static_assert(DRV_COMPRESSION_DEFLATE == WIAS_COMPRESSION_DEFLATE, "compression values agree");
_Static_assert(DRV_COMPRESSION_G4 == WIA_COMPRESSION_G4, "compression values agree");
_Static_assert(DRV_COMPRESSION_JPEG == WIA_COMPRESSION_JPEG, "compression values agree");
_Static_assert(DRV_HR_PAPER_JAM == WIA_ERROR_PAPER_JAM, "HRESULT values agree");
_Static_assert(DRV_HR_MULTI_FEED == WIA_ERROR_MULTI_FEED, "HRESULT values agree");
_Static_assert(DRV_HR_END_OF_MEDIA == WIA_STATUS_END_OF_MEDIA, "HRESULT values agree");

/* ---- results and logging ------------------------------------------------------- */

static void sess_vlog(drv_session *s, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void sess_vlog(drv_session *s, const char *fmt, va_list ap)
{
    char line[256];

    if (!s->o->log)
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    s->o->log(s->o->log_ctx, line);
}

void drv_sess_log(drv_session *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sess_vlog(s, fmt, ap);
    va_end(ap);
}

/* Record the first failure; later ones (during unwinding) keep it. A page
 * still being written finishes first: if that write failed, it failed
 * before whatever is reported now, and is what the job reports. */
static int32_t sess_vfail(drv_session *s, int32_t hr, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int32_t sess_vfail(drv_session *s, int32_t hr, int err, const char *fmt, va_list ap)
{
    drv_writer_wait(s, 0);
    if (s->failed)
        return s->res->hr;
    s->failed = 1;
    s->res->hr = hr;
    s->res->err = err;
    vsnprintf(s->res->message, sizeof(s->res->message), fmt, ap);
    return hr;
}

int32_t drv_sess_fail(drv_session *s, int32_t hr, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    hr = sess_vfail(s, hr, err, fmt, ap);
    va_end(ap);
    return hr;
}

int drv_sess_cancelled(const drv_session *s)
{
    return !s->ignore_cancel && s->o->cancel && *s->o->cancel;
}

/* ---- the fault mapping ------------------------------------------------------------ */

int32_t drv_sess_comm(drv_session *s, int err, const char *what, const char *detail)
{
    if (err == DRV_E_CANCELLED && drv_sess_cancelled(s)) {
        if (s->proto && s->proto->wire_bands)
            return drv_sess_fail(s, DRV_HR_E_ABORT, err, "cancelled during %s (page %u band %u)",
                                 what, s->page_no + 1, s->band_no + 1);
        return drv_sess_fail(s, DRV_HR_E_ABORT, err, "cancelled during %s (page %u)", what,
                             s->page_no + 1);
    }
    return drv_sess_fail(s, DRV_HR_DEVICE_COMMUNICATION, err, "%s: %s", what,
                         detail && detail[0] ? detail : drv_strerror(err));
}

int32_t drv_sess_open_fail(drv_session *s, int err, const char *msg)
{
    int32_t hr;

    switch (err) {
    case DRV_E_CONNECT:
    case DRV_E_NOT_USBIP:
    case DRV_E_NODEV:
    case DRV_E_WRONG_DEVICE:
        hr = DRV_HR_OFFLINE;
        break;
    case DRV_E_URI:
        hr = DRV_HR_E_INVALIDARG;
        break;
    case DRV_E_BUSY:
        hr = DRV_HR_BUSY;
        break;
    case DRV_E_NOMEM:
        hr = DRV_HR_E_OUTOFMEMORY;
        break;
    default:
        hr = DRV_HR_DEVICE_COMMUNICATION;
        break;
    }
    return drv_sess_fail(s, hr, err, "%s", msg);
}

int32_t drv_sess_device_fault(drv_session *s, uint32_t status, const char *fmt, ...)
{
    va_list ap;
    int32_t hr;

    if (status == PROTO_SCAN_ST_FEEDER_EMPTY) {
        if (s->pages_in == 0)
            return drv_sess_fail(s, DRV_HR_PAPER_EMPTY, DRV_E_DEVICE,
                                 "the feeder is empty (no sheet at the first page)");
        return drv_sess_fail(s, DRV_HR_END_OF_MEDIA, DRV_OK, "the feeder ran empty after page %u",
                             s->pages_in);
    }
    va_start(ap, fmt);
    hr = sess_vfail(s, drv_hr_from_status(status, s->pages_in), DRV_E_DEVICE, fmt, ap);
    va_end(ap);
    return hr;
}

/* ---- progress and the host trace -------------------------------------------------- */

void drv_sess_progress(drv_session *s, uint32_t band, uint64_t bytes, uint64_t at_ns)
{
    if (s->o->progress) {
        drv_progress p = {
            .page = s->page_no,
            .band = band,
            .bands_per_page = s->job.bands_per_page,
            .pages_done = s->pages_in,
            .pages_total = s->job.pages,
            .bytes = bytes,
            .page_bytes = s->page_bytes,
            .elapsed_ns = at_ns - s->t0,
        };
        s->o->progress(s->o->progress_ctx, &p);
    }
}

void drv_sess_trace_band(drv_session *s, uint32_t page, uint32_t side, uint32_t band,
                         uint64_t arrival_ns, uint64_t bytes, const char *status)
{
    const char *tag = s->proto ? s->proto->trace_tag : NULL;

    if (!s->trace)
        return;
    fprintf(s->trace,
            "{\"src\":\"host\",%s%s%s\"page\":%u,\"side\":%u,\"band\":%u,\"arrival_ns\":%llu,"
            "\"bytes\":%llu,\"status\":\"%s\"}\n",
            tag ? "\"proto\":\"" : "", tag ? tag : "", tag ? "\"," : "", page, side, band,
            (unsigned long long)(arrival_ns > s->t0 ? arrival_ns - s->t0 : 0),
            (unsigned long long)bytes, status);
}

/* ---- the job ------------------------------------------------------------------------ */

/* eSCL claims its URIs; the native protocol takes the rest, and its
 * transport layer accepts or refuses them. */
static const drv_protocol *protocol_for(const char *uri)
{
    return drv_escl_is_uri(uri) ? &drv_escl_protocol : &drv_native_protocol;
}

int32_t drv_scan_to_stream(const drv_scan_options *o, IStream *stream, drv_scan_result *res)
{
    const char *uri = o->transport ? o->transport : DRV_DEFAULT_URI;
    drv_session s;
    char errbuf[256];

    memset(res, 0, sizeof(*res));
    memset(&s, 0, sizeof(s));
    s.o = o;
    s.res = res;
    s.stream = stream;
    if (o->in_flight < 1 || o->in_flight > DRV_MAX_IN_FLIGHT || o->timeout_ms == 0)
        return drv_sess_fail(&s, DRV_HR_E_INVALIDARG, DRV_E_INVALID,
                             "in-flight must be 1..%u and the timeout positive", DRV_MAX_IN_FLIGHT);
    if (o->trace_path) {
        int32_t thr;

        s.trace = drv_trace_open(o->trace_path, o->cancel, &thr, errbuf, sizeof(errbuf));
        if (!s.trace) {
            drv_sess_fail(&s, thr, thr == DRV_HR_E_ABORT ? DRV_E_CANCELLED : DRV_E_OUTPUT, "%s",
                          errbuf);
            goto out_result;
        }
    }
    s.proto = protocol_for(uri);
    if (!s.proto->open(&s, uri))
        goto out_close;
    if (!s.proto->start(&s))
        goto out_stop;
    while (s.proto->next_page(&s) == DRV_PAGE_OK && drv_sess_page_done(&s))
        ;
    drv_writer_stop(&s); /* the last page is in the stream */
    res->elapsed_ns = drv_now_ns() - s.t0;
out_stop:
    s.proto->stop(&s);
    drv_writer_stop(&s);
out_close:
    s.proto->close(&s);
    if (s.trace && fclose(s.trace) != 0 && SUCCEEDED(res->hr) && !s.failed)
        drv_sess_fail(&s, DRV_HR_STG_E_WRITEFAULT, DRV_E_OUTPUT, "cannot write trace %s",
                      o->trace_path);
out_result:
    drv_sess_free_pages(&s);
    if (!s.failed) {
        res->hr = DRV_HR_S_OK;
        snprintf(res->message, sizeof(res->message), "%u pages scanned", s.pages_done);
    }
    res->pages_kept = s.pages_done;
    return res->hr;
}
