/* driver: scanning into a file, and the options' defaults.
 *
 * Output rule (docs/driver.md): pages are written to OUT.part in the same
 * directory; when the job ends with at least one complete page (success, or
 * a fault after that page) the .part is renamed to OUT and holds exactly the
 * completed pages as a valid TIFF; with no complete page it is removed and
 * OUT is not created or touched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drv-internal.h"
#include "wias/wias.h"

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

static int32_t file_fail(drv_scan_result *res, int32_t hr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int32_t file_fail(drv_scan_result *res, int32_t hr, const char *fmt, ...)
{
    va_list ap;

    res->hr = hr;
    res->err = DRV_E_OUTPUT;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    return hr;
}

int32_t drv_scan_to_file(const drv_scan_options *o, const char *out_path, drv_scan_result *res)
{
    IStream *stream = NULL;
    char *part;
    size_t n;
    HRESULT hr;
    int flush_failed = 0;

    memset(res, 0, sizeof(*res));
    if (!o || !out_path || !*out_path)
        return file_fail(res, DRV_HR_E_INVALIDARG, "no output file given");
    n = strlen(out_path);
    part = malloc(n + sizeof(".part"));
    if (!part)
        return file_fail(res, DRV_HR_E_OUTOFMEMORY, "out of memory");
    memcpy(part, out_path, n);
    memcpy(part + n, ".part", sizeof(".part"));
    hr = wiasCreateStreamOnFile(part, STGM_READWRITE | STGM_CREATE, &stream);
    if (FAILED(hr)) {
        int e = errno;

        file_fail(res, hr, "cannot create %s: %s", part, strerror(e));
        free(part);
        return hr;
    }
    drv_scan_to_stream(o, stream, res);
    if (res->pages_kept > 0 && FAILED(stream->lpVtbl->Commit(stream, STGC_DEFAULT))) {
        flush_failed = 1;
        file_fail(res, DRV_HR_STG_E_WRITEFAULT, "cannot flush %s", part);
    }
    stream->lpVtbl->Release(stream);
    if (res->pages_kept == 0 || flush_failed) {
        /* A failed flush may have lost pages: keep nothing rather than a
         * file that pretends to be complete. */
        unlink(part);
        res->pages_kept = 0;
    } else if (rename(part, out_path) != 0) {
        int e = errno;

        unlink(part);
        res->pages_kept = 0;
        file_fail(res, DRV_HR_STG_E_ACCESSDENIED, "cannot rename %s to %s: %s", part, out_path,
                  strerror(e));
    }
    free(part);
    return res->hr;
}
