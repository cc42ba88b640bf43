/* eSCL front: one HTTP/1.1 connection — requests in, responses out, and the
 * NextDocument page stream that follows the engine's band schedule.
 *
 * Encoding ahead (dm_escl_config.encode_ahead): the engine offers a band
 * with its pixels before it is due (dm/engine.h), so the stream encodes it
 * then, into img, and at the deadline only releases it (consume, frame the
 * chunk). The encoder takes the same rows in the same order as when it
 * encodes at the deadline, so the bytes are the same; the head is still
 * written at the deadline, and what the band turns out to be (STALL,
 * WITHHOLD, DISCONNECT) cuts or ends the page as before, img unsent. Rows
 * an encoder took cannot be taken back: should the engine offer another
 * item at the deadline than the one encoded (dm_item.id differs: it
 * recomputed its item), a page whose head is out is cut, as on an encoder
 * failure; one not started yet starts afresh. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "escl-http.h"
#include "escl-internal.h"
#include "protocol/http.h"

enum resp_kind {
    RESP_NONE = 0, /* ready for the next request */
    RESP_SIMPLE,   /* a whole response is in out */
    RESP_STREAM,   /* a page stream: out is refilled from the engine */
};

struct dm_escl_conn {
    dm_escl *e;
    escl_http_parser http;
    dm_buf out;
    uint64_t out_not_before; /* first byte of the response not before (slow quirk) */
    enum resp_kind resp;
    bool close_after; /* Connection: close, or an error: close once out is sent */
    bool reset;       /* the device vanished: RST */
    bool eof;         /* the peer sent FIN */
    bool cut;         /* the response in progress was cut short (dm_escl_out.cut) */
    /* page stream */
    escl_job *sjob;
    uint32_t spage;
    uint64_t stream_req_ns; /* the NextDocument request: the stream's carrier */
    bool head_sent;
    dm_img_enc *enc;
    dm_buf img; /* compressed bytes not yet framed as a chunk */
    /* The band whose rows enc took before it was due (encode_ahead): its
     * dm_item.id, 0 none; and what encoding it returned, acted on when it
     * is released, as if it had been encoded then. */
    uint64_t ahead_id;
    int ahead_rc;
};

/* ---- response helpers ------------------------------------------------------------------- */

/* Status line and common headers; the caller adds its own and the blank
 * line. */
static int head_begin(dm_escl_conn *c, int code)
{
    int rc = dm_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nServer: scanemu\r\n", code,
                           proto_http_reason(code));
    if (rc == DM_OK && c->close_after)
        rc = dm_buf_printf(&c->out, "Connection: close\r\n");
    return rc;
}

static int respond(dm_escl_conn *c, int code, const char *ctype, const char *extra,
                   const uint8_t *body, size_t len)
{
    int rc = head_begin(c, code);

    if (rc == DM_OK && ctype != NULL)
        rc = dm_buf_printf(&c->out, "Content-Type: %s\r\n", ctype);
    if (rc == DM_OK && extra != NULL)
        rc = dm_buf_printf(&c->out, "%s", extra);
    if (rc == DM_OK)
        rc = dm_buf_printf(&c->out, "Content-Length: %zu\r\n\r\n", len);
    if (rc == DM_OK)
        rc = dm_buf_append(&c->out, body, len);
    c->resp = RESP_SIMPLE;
    return rc;
}

static int respond_empty(dm_escl_conn *c, int code, const char *extra)
{
    return respond(c, code, NULL, extra, NULL, 0);
}

/* A short plain-text reason for a 4xx, so a person with curl sees why. */
static int respond_text(dm_escl_conn *c, int code, const char *msg)
{
    char body[512];
    int n = snprintf(body, sizeof(body), "%s\n", msg);
    if (n < 0 || (size_t)n >= sizeof(body))
        n = (int)sizeof(body) - 1;
    return respond(c, code, "text/plain; charset=utf-8", NULL, (const uint8_t *)body, (size_t)n);
}

/* ---- the page stream ------------------------------------------------------------------------ */

static int chunk_out(dm_escl_conn *c)
{
    int rc = DM_OK;

    if (c->img.len == 0)
        return DM_OK;
    rc = dm_buf_printf(&c->out, "%zx\r\n", c->img.len);
    if (rc == DM_OK)
        rc = dm_buf_append(&c->out, dm_buf_head(&c->img), c->img.len);
    if (rc == DM_OK)
        rc = dm_buf_append(&c->out, "\r\n", 2);
    dm_buf_clear(&c->img);
    return rc;
}

/* The page's encoder and what it produced, dropped. */
static void enc_drop(dm_escl_conn *c)
{
    dm_img_enc_free(c->enc);
    c->enc = NULL;
    dm_buf_clear(&c->img);
    c->ahead_id = 0;
    c->ahead_rc = DM_OK;
}

static void stream_end(dm_escl_conn *c)
{
    enc_drop(c);
    if (c->e->streamer == c)
        c->e->streamer = NULL;
    c->sjob = NULL;
    c->head_sent = false;
    c->resp = RESP_SIMPLE; /* what is queued drains, then the next request */
}

/* The stream ends without its last chunk: the client sees a body cut short,
 * as when a device aborts a page (docs/escl.md). */
static void stream_cut(dm_escl_conn *c)
{
    stream_end(c);
    c->close_after = true;
    c->cut = true;
    c->resp = RESP_SIMPLE;
}

static int stream_head(dm_escl_conn *c)
{
    const char *ct = c->sjob->fmt == DM_IMG_JPEG ? "image/jpeg" : "image/png";
    int rc = head_begin(c, 200);

    if (rc == DM_OK)
        rc = dm_buf_printf(&c->out, "Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n", ct);
    c->head_sent = true;
    return rc;
}

/* The rows of band `it` into img: its whole lines (a short band's partial
 * line is dropped), the page's encoder started at its first band. */
static int band_encode(dm_escl_conn *c, const dm_item *it)
{
    uint32_t bpl = c->sjob->geo.bytes_per_line;
    uint32_t full = bpl ? (uint32_t)(it->len / bpl) : 0;
    int rc;

    if (full > it->lines)
        full = it->lines;
    if (c->enc == NULL) {
        rc = dm_img_enc_begin(c->e->alloc, c->sjob->fmt, &c->sjob->geo, c->e->cfg.png_level,
                              c->sjob->jpeg_quality, &c->img, &c->enc);
        if (rc < 0)
            return rc;
    }
    return dm_img_enc_rows(c->enc, it->pixels, full);
}

/* Band `it` is not due yet: encode it now if it will be encoded when due
 * (a band of the page being streamed, or the first band of the page this
 * stream starts), once. */
static void band_ahead(dm_escl_conn *c, const dm_item *it)
{
    if (!c->e->cfg.encode_ahead || c->ahead_id != 0 || it->kind != DM_ITEM_BAND || it->id == 0)
        return;
    if (!c->head_sent && it->band != 0)
        return;
    c->ahead_rc = band_encode(c, it);
    c->ahead_id = it->id;
}

/* Pull what the engine has due for the streamed page into out. Returns
 * the deadline of the next item when nothing is due yet. */
static uint64_t stream_pump(dm_escl_conn *c, uint64_t now_ns)
{
    dm_escl *e = c->e;
    escl_job *j = c->sjob;
    dm_item it, done;

    for (;;) {
        if (j == NULL || !j->engine_live) {
            /* Canceled under us (DELETE on another connection). */
            stream_cut(c);
            return UINT64_MAX;
        }
        dm_engine_peek(e->eng, e, now_ns, &it);
        switch (it.kind) {
        case DM_ITEM_NONE:
            escl_job_finish(e, j, DM_ST_CANCELED, now_ns);
            stream_cut(c);
            return UINT64_MAX;
        case DM_ITEM_JOB_END:
            if (it.action == DM_ACT_WAIT)
                return it.deadline_ns;
            dm_engine_consume(e->eng, e, now_ns, &done);
            escl_job_finish(e, j, it.status, now_ns);
            if (c->head_sent) {
                stream_cut(c);
            } else {
                /* Nothing of this page left the device: no next document.
                 * The status says why (AdfState, JobState). */
                stream_end(c);
                respond_empty(c, 404, NULL);
            }
            return UINT64_MAX;
        case DM_ITEM_BAND:
            break;
        }
        switch (it.action) {
        case DM_ACT_WAIT:
            band_ahead(c, &it);
            return it.deadline_ns;
        case DM_ACT_WITHHOLD:
            /* The band never comes: the body stops, the connection stays. */
            return UINT64_MAX;
        case DM_ACT_DISCONNECT:
            dm_engine_consume(e->eng, e, now_ns, &done);
            escl_job_finish(e, j, DM_ST_DISCONNECTED, now_ns);
            stream_end(c);
            c->reset = true;
            c->resp = RESP_SIMPLE;
            return UINT64_MAX;
        case DM_ACT_STALL:
            /* HTTP has no halt to clear: the device aborts the page. */
            dm_engine_consume(e->eng, e, now_ns, &done);
            dm_engine_cancel(e->eng, e, now_ns);
            escl_job_finish(e, j, DM_ST_DEVICE_ERROR, now_ns);
            if (c->head_sent) {
                stream_cut(c);
            } else {
                stream_end(c);
                c->close_after = true;
                respond_empty(c, 500, NULL);
            }
            return UINT64_MAX;
        case DM_ACT_DELIVER:
        case DM_ACT_NONE:
            break;
        }
        if (c->ahead_id != 0 && c->ahead_id != it.id) {
            /* Not the band encoded ahead (the engine computed its item
             * again): rows cannot be taken back from the encoder. */
            if (c->head_sent)
                goto fail;
            enc_drop(c);
        }
        /* The rest of a page whose connection went away mid-stream: the
         * scanner goes on scanning it, nobody receives it. */
        if (!c->head_sent && it.band != 0) {
            dm_engine_consume(e->eng, e, now_ns, &done);
            continue;
        }
        /* A band of the page being streamed is due. */
        if (!c->head_sent && stream_head(c) < 0)
            goto fail;
        {
            bool short_band = it.len < it.byte_count;
            int rc = c->ahead_id == it.id ? c->ahead_rc : band_encode(c, &it);

            c->ahead_id = 0;
            if (rc < 0)
                goto fail;
            /* Released now that its bytes are ready to leave, carried by
             * the NextDocument request that opened the stream. */
            dm_engine_consume_carried(e->eng, e, dm_engine_now(e->eng), c->stream_req_ns, &done);
            j->last_activity_ns = now_ns;
            if (chunk_out(c) < 0)
                goto fail;
            if (short_band) {
                /* Fewer rows than the image header promised: the body ends
                 * there, the page is unreadable, the job goes on. */
                stream_cut(c);
                j->next_page = it.page + 1;
                return UINT64_MAX;
            }
            if (it.end_of_page) {
                if (dm_img_enc_finish(c->enc) < 0 || chunk_out(c) < 0)
                    goto fail;
                if (dm_buf_append(&c->out, "0\r\n\r\n", 5) < 0)
                    goto fail;
                j->images_completed++;
                j->next_page = it.page + 1;
                j->page_done_ns = now_ns;
                j->tries_503 = 0;
                stream_end(c);
                return UINT64_MAX;
            }
            /* One band at a time: its chunk leaves before the next band is
             * encoded. With timing off every band is due at once, and
             * queueing them all would hold a whole encoded page (more than
             * ESCL_OUT_MAX for an A4 colour page at --png-level 0, which
             * then cut the page) and leave the peer idle while it is
             * encoded. The caller sends what is queued, then asks again. */
            if (c->out.len > 0)
                return now_ns;
        }
    }

fail:
    /* Out of memory or an encoder failure: the device aborts the page. */
    stream_cut(c);
    return UINT64_MAX;
}

/* ---- requests ---------------------------------------------------------------------------- */

/* The path below the device's eSCL root ("/ScannerStatus", ...), or NULL
 * when the request is not for this device. */
static const char *under_root(dm_escl *e, const char *path)
{
    size_t n = strlen(e->prefix);

    /* Answers name the root the request used: /eSCL or PREFIX/eSCL. */
    e->req_prefix = "";
    if (n > 0 && strncmp(path, e->prefix, n) == 0 && strncmp(path + n, "/eSCL", 5) == 0) {
        path += n;
        e->req_prefix = e->prefix;
    } else if (!e->cfg.plain_root) {
        return NULL;
    }
    if (strncmp(path, "/eSCL", 5) != 0)
        return NULL;
    path += 5;
    if (*path != '\0' && *path != '/')
        return NULL; /* "/eSCLx" */
    return path;
}

static bool host_is_localhost(const escl_http_req *r)
{
    const char *h = r->host;
    size_t n = strcspn(h, ":");
    if (h[0] == '[') /* [::1] is not the name localhost */
        return false;
    return r->has_host && n == 9 && strncmp(h, "localhost", 9) == 0;
}

static void req_status(dm_escl_conn *c, uint64_t now_ns)
{
    dm_buf doc;
    int rc;

    dm_escl_poll(c->e, now_ns);
    dm_buf_init(&doc, c->e->alloc, ESCL_DOC_MAX);
    rc = escl_doc_status(c->e, now_ns, &doc);
    if (rc == DM_OK)
        rc = respond(c, 200, "text/xml", NULL, dm_buf_head(&doc), doc.len);
    else
        respond_empty(c, 500, NULL);
    dm_buf_free(&doc);
}

static void req_caps(dm_escl_conn *c)
{
    dm_buf doc;

    dm_buf_init(&doc, c->e->alloc, ESCL_DOC_MAX);
    if (escl_doc_caps(c->e, &doc) == DM_OK)
        respond(c, 200, "text/xml", NULL, dm_buf_head(&doc), doc.len);
    else
        respond_empty(c, 500, NULL);
    dm_buf_free(&doc);
}

/* ScanSettings to the engine's parameters. proto_escl_settings_check has
 * held them against the capabilities; what is left is the mapping, and the
 * refusals the capabilities cannot express. */
static int settings_to_params(dm_escl *e, const proto_escl_settings *s, proto_scan_params *p,
                              enum dm_img_format *fmt, int *quality, char *why, size_t whylen)
{
    const proto_escl_source_caps *in = proto_escl_settings_source(s, &e->caps);

    memset(p, 0, sizeof(*p));
    if (in == NULL) {
        snprintf(why, whylen, "pwg:InputSource: no such source on this scanner");
        return DM_E_RANGE;
    }
    /* Source: eSCL's default is the platen; a profile without one scans
     * from its feeder (proto_escl_settings_source chose it). */
    if (in == &e->caps.platen)
        p->source = PROTO_SCAN_SOURCE_FLATBED;
    else
        p->source = s->duplex ? PROTO_SCAN_SOURCE_DUPLEX : PROTO_SCAN_SOURCE_ADF;
    switch (s->color_mode) {
    case PROTO_ESCL_COLOR_NONE:
        p->mode = (in->color_modes & (1u << PROTO_ESCL_COLOR_RGB24)) ? PROTO_SCAN_MODE_COLOR24
                                                                     : PROTO_SCAN_MODE_GRAY8;
        break;
    case PROTO_ESCL_COLOR_RGB24:
        p->mode = PROTO_SCAN_MODE_COLOR24;
        break;
    case PROTO_ESCL_COLOR_GRAY8:
        p->mode = PROTO_SCAN_MODE_GRAY8;
        break;
    case PROTO_ESCL_COLOR_BW1:
        p->mode = PROTO_SCAN_MODE_BW;
        break;
    default:
        snprintf(why, whylen, "scan:ColorMode: only RGB24, Grayscale8 and BlackAndWhite1");
        return DM_E_RANGE;
    }
    if (s->have & PROTO_ESCL_HAVE_RESOLUTION)
        p->dpi = (uint16_t)(s->x_res ? s->x_res : s->y_res);
    else
        p->dpi = 300;
    /* Region, in 1/300 inch. The whole area (or more: clients round) is the
     * native full page, so that both protocols give the same pixels. */
    if (s->have & PROTO_ESCL_HAVE_REGION) {
        if (s->x_offset != 0 || s->y_offset != 0) {
            snprintf(why, whylen,
                     "pwg:ScanRegion: offsets are not supported (XOffset %u, YOffset %u)",
                     s->x_offset, s->y_offset);
            return DM_E_RANGE;
        }
        if (s->width < in->max_width)
            p->width_px = (uint32_t)(((uint64_t)s->width * p->dpi + 149) / 300);
        if (s->height < in->max_height)
            p->height_px = (uint32_t)(((uint64_t)s->height * p->dpi + 149) / 300);
        if ((s->width < in->max_width && p->width_px == 0) ||
            (s->height < in->max_height && p->height_px == 0)) {
            snprintf(why, whylen, "pwg:ScanRegion: less than one pixel at %u dpi", p->dpi);
            return DM_E_RANGE;
        }
    }
    switch (s->format) {
    case PROTO_ESCL_FORMAT_NONE:
    case PROTO_ESCL_FORMAT_PNG:
        *fmt = DM_IMG_PNG;
        break;
    case PROTO_ESCL_FORMAT_JPEG:
        if (p->mode == PROTO_SCAN_MODE_BW) {
            snprintf(why, whylen, "image/jpeg cannot carry BlackAndWhite1: ask for image/png");
            return DM_E_RANGE;
        }
        *fmt = DM_IMG_JPEG;
        break;
    default:
        snprintf(why, whylen, "DocumentFormat: only image/png and image/jpeg");
        return DM_E_RANGE;
    }
    *quality = e->cfg.jpeg_quality;
    if (s->have & PROTO_ESCL_HAVE_COMPRESSION) {
        /* CompressionFactor 0 (best) .. 100 (smallest), as advertised. */
        uint32_t f = s->compression > 99 ? 99 : s->compression;
        *quality = (int)(100 - f);
    }
    p->pages = p->source == PROTO_SCAN_SOURCE_FLATBED ? 1 : 0;
    return DM_OK;
}

static void req_scan_jobs(dm_escl_conn *c, const escl_http_req *r, uint64_t now_ns)
{
    dm_escl *e = c->e;
    const dm_escl_quirks *q = dm_engine_escl_quirks(e->eng);
    proto_escl_settings s;
    proto_escl_diag diag;
    proto_scan_params p;
    proto_scan_job job;
    enum dm_img_format fmt = DM_IMG_PNG;
    int quality = 90;
    char why[256];
    dm_status st;
    escl_job *j;
    char loc[ESCL_PATH_MAX + 320];

    if (q->require_localhost && !host_is_localhost(r)) {
        respond_text(c, 400, "this scanner takes scan jobs only with Host: localhost");
        return;
    }
    if (proto_escl_settings_parse(r->body, r->body_len, &s, &diag) < 0) {
        respond_text(c, 400, diag.msg);
        return;
    }
    /* Settings this scanner cannot do: 400 with the reason. Not 409: the
     * escl backend reads a 409 as "feeder out of documents". */
    if (proto_escl_settings_check(&s, &e->caps, &diag) < 0) {
        respond_text(c, 400, diag.msg);
        return;
    }
    if (settings_to_params(e, &s, &p, &fmt, &quality, why, sizeof(why)) < 0) {
        respond_text(c, 400, why);
        return;
    }
    dm_escl_poll(e, now_ns);
    st = dm_engine_start(e->eng, e, &p, now_ns, &job);
    switch (st) {
    case DM_ST_OK:
        break;
    case DM_ST_BUSY:
    case DM_ST_WARMING_UP:
        respond(c, 503, "text/plain; charset=utf-8", "Retry-After: 1\r\n",
                (const uint8_t *)"busy\n", 5);
        return;
    case DM_ST_INVALID:
        respond_text(c, 400, "the scanner cannot scan these settings");
        return;
    default:
        /* Cover open, feeder empty: the status says which. */
        respond_text(c, 409, dm_status_name(st));
        return;
    }
    {
        char msg[384];
        if (dm_engine_job_check(e->eng, msg, sizeof(msg)) == DM_E_RANGE)
            escl_quirk_note(e, "scenario fault never fires: %s", msg);
    }
    j = escl_job_new(e, now_ns);
    j->engine_live = true;
    j->geo = job;
    j->fmt = fmt;
    j->jpeg_quality = quality;
    e->cur = j;
    e->stale_shown = true; /* a job ran: the pre-scan quirk is over */
    if (r->has_host)
        snprintf(loc, sizeof(loc), "Location: http://%s%s/eSCL/ScanJobs/%s\r\n", r->host,
                 e->req_prefix, j->uuid);
    else
        snprintf(loc, sizeof(loc), "Location: %s/eSCL/ScanJobs/%s\r\n", e->req_prefix, j->uuid);
    respond_empty(c, 201, loc);
}

static void req_next_document(dm_escl_conn *c, escl_job *j, uint64_t now_ns)
{
    dm_escl *e = c->e;
    const dm_escl_quirks *q = dm_engine_escl_quirks(e->eng);

    dm_escl_poll(e, now_ns);
    if (!j->engine_live || e->cur != j) {
        /* After the last page, or after the job ended: no next document. */
        respond_empty(c, 404, NULL);
        return;
    }
    if (e->streamer != NULL) {
        respond(c, 503, NULL, "Retry-After: 1\r\n", NULL, 0);
        return;
    }
    j->last_activity_ns = now_ns;
    /* Quirks of real devices (docs/escl.md): answered before the page. */
    if (q->next_doc_tries > 0 && j->tries_503 < q->next_doc_tries) {
        j->tries_503++;
        escl_quirk_note(e, "quirk: NextDocument answered %d (try %u of %u)", q->next_doc_status,
                        j->tries_503, q->next_doc_tries);
        respond(c, q->next_doc_status, NULL,
                q->next_doc_status == 503 ? "Retry-After: 1\r\n" : NULL, NULL, 0);
        return;
    }
    if (j->images_completed > 0 && q->load_delay_ns > 0 &&
        now_ns - j->page_done_ns < q->load_delay_ns) {
        escl_quirk_note(e,
                        "quirk: NextDocument %llu ms after the last page, load delay %llu ms: 503",
                        (unsigned long long)((now_ns - j->page_done_ns) / 1000000),
                        (unsigned long long)(q->load_delay_ns / 1000000));
        respond(c, 503, NULL, "Retry-After: 1\r\n", NULL, 0);
        return;
    }
    c->sjob = j;
    c->spage = j->next_page;
    c->stream_req_ns = now_ns;
    c->head_sent = false;
    c->resp = RESP_STREAM;
    e->streamer = c;
}

static void req_image_info(dm_escl_conn *c, escl_job *j)
{
    dm_buf doc;

    dm_buf_init(&doc, c->e->alloc, ESCL_DOC_MAX);
    if (escl_doc_image_info(c->e, j, &doc) == DM_OK)
        respond(c, 200, "text/xml", NULL, dm_buf_head(&doc), doc.len);
    else
        respond_empty(c, 500, NULL);
    dm_buf_free(&doc);
}

static void req_delete(dm_escl_conn *c, escl_job *j, uint64_t now_ns)
{
    dm_escl *e = c->e;

    if (j->engine_live && e->cur == j) {
        dm_engine_cancel(e->eng, e, now_ns);
        escl_job_finish(e, j, DM_ST_CANCELED, now_ns);
    }
    respond_empty(c, 200, NULL);
}

static void dispatch(dm_escl_conn *c, const escl_http_req *r, uint64_t now_ns)
{
    dm_escl *e = c->e;
    const char *sub = under_root(e, r->path);
    escl_job *j = NULL;

    c->close_after = c->close_after || !r->keep_alive;
    if (sub == NULL) {
        /* ipp-usb's start-up probe (POST /ipp/print) lands here too: a
         * scanner-only device has no printer. */
        respond_empty(c, 404, NULL);
        return;
    }
    if (strcmp(sub, "/ScannerCapabilities") == 0) {
        if (r->method != ESCL_M_GET)
            goto not_allowed;
        req_caps(c);
        return;
    }
    if (strcmp(sub, "/ScannerStatus") == 0) {
        if (r->method != ESCL_M_GET)
            goto not_allowed;
        req_status(c, now_ns);
        return;
    }
    if (strcmp(sub, "/ScanJobs") == 0 || strcmp(sub, "/ScanJobs/") == 0) {
        if (r->method != ESCL_M_POST)
            goto not_allowed;
        req_scan_jobs(c, r, now_ns);
        return;
    }
    if (strncmp(sub, "/ScanJobs/", 10) == 0) {
        const char *id = sub + 10;
        size_t n = strcspn(id, "/");
        const char *rest = id + n;

        j = escl_job_find(e, id, n);
        if (j == NULL) {
            respond_empty(c, 404, NULL);
            return;
        }
        if (strcmp(rest, "/NextDocument") == 0) {
            if (r->method != ESCL_M_GET)
                goto not_allowed;
            req_next_document(c, j, now_ns);
            return;
        }
        if (strcmp(rest, "/ScanImageInfo") == 0) {
            if (r->method != ESCL_M_GET)
                goto not_allowed;
            req_image_info(c, j);
            return;
        }
        if (*rest == '\0' || strcmp(rest, "/") == 0) {
            if (r->method != ESCL_M_DELETE)
                goto not_allowed;
            req_delete(c, j, now_ns);
            return;
        }
    }
    respond_empty(c, 404, NULL);
    return;

not_allowed:
    respond_empty(c, 405, NULL);
}

/* ---- connection ------------------------------------------------------------------------- */

int dm_escl_conn_open(dm_escl *e, dm_escl_conn **out)
{
    dm_escl_conn *c = dm_malloc(e->alloc, sizeof(*c));
    int rc;

    if (c == NULL)
        return DM_E_NOMEM;
    c->e = e;
    dm_buf_init(&c->out, e->alloc, ESCL_OUT_MAX);
    dm_buf_init(&c->img, e->alloc, ESCL_OUT_MAX);
    rc = escl_http_init(&c->http, e->alloc);
    if (rc < 0) {
        dm_free(e->alloc, c);
        return rc;
    }
    *out = c;
    return DM_OK;
}

void dm_escl_conn_free(dm_escl_conn *c)
{
    if (c == NULL)
        return;
    if (c->e->streamer == c) {
        /* The page in progress is lost with the connection; the job goes
         * on (its next NextDocument delivers the page after it). */
        if (c->sjob != NULL && c->head_sent)
            c->sjob->next_page++;
        c->e->streamer = NULL;
    }
    dm_img_enc_free(c->enc);
    escl_http_free(&c->http);
    dm_buf_free(&c->out);
    dm_buf_free(&c->img);
    dm_free(c->e->alloc, c);
}

int dm_escl_conn_input(dm_escl_conn *c, const uint8_t *buf, size_t len, uint64_t now_ns)
{
    escl_http_req req;
    int done = 0, status = 0;
    bool cont = false;
    int n;

    if (c->resp != RESP_NONE || c->close_after || c->reset)
        return 0; /* one request at a time: offer the rest later */
    n = escl_http_feed(&c->http, buf, len, &req, &done, &status, &cont);
    if (n < 0) {
        c->close_after = true;
        dm_buf_clear(&c->out);
        respond_empty(c, status ? status : 400, NULL);
        return DM_E_PROTO;
    }
    if (cont && dm_buf_printf(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
        return DM_E_PROTO;
    if (done) {
        const dm_escl_quirks *q = dm_engine_escl_quirks(c->e->eng);
        c->out_not_before = now_ns + q->slow_first_byte_ns;
        dispatch(c, &req, now_ns);
        escl_http_next(&c->http);
    }
    return n;
}

void dm_escl_conn_input_eof(dm_escl_conn *c, uint64_t now_ns)
{
    (void)now_ns;
    c->eof = true;
    /* A request cut short gets no answer; one in progress is finished and
     * then the connection closes. */
    c->close_after = true;
}

void dm_escl_conn_peek(dm_escl_conn *c, uint64_t now_ns, dm_escl_out *out)
{
    memset(out, 0, sizeof(*out));
    for (;;) {
        if (c->out.len > 0) {
            if (now_ns < c->out_not_before) {
                out->kind = DM_ESCL_OUT_WAIT;
                out->deadline_ns = c->out_not_before;
                return;
            }
            out->kind = DM_ESCL_OUT_DATA;
            out->data = dm_buf_head(&c->out);
            out->len = c->out.len;
            return;
        }
        if (c->reset) {
            out->kind = DM_ESCL_OUT_RESET;
            return;
        }
        if (c->resp == RESP_STREAM) {
            uint64_t next = stream_pump(c, now_ns);
            if (c->out.len > 0 || c->resp != RESP_STREAM || c->reset)
                continue;
            out->kind = DM_ESCL_OUT_WAIT;
            out->deadline_ns = next;
            return;
        }
        c->resp = RESP_NONE;
        if (c->close_after) {
            out->kind = DM_ESCL_OUT_CLOSE;
            out->cut = c->cut;
            return;
        }
        out->kind = DM_ESCL_OUT_IDLE;
        return;
    }
}

void dm_escl_conn_sent(dm_escl_conn *c, size_t n, uint64_t now_ns)
{
    (void)now_ns;
    dm_buf_take(&c->out, n);
}

bool escl_conn_ahead(const dm_escl_conn *c, uint64_t *id, const uint8_t **bytes, size_t *len)
{
    *id = c->ahead_id;
    *bytes = c->img.len > 0 ? dm_buf_head(&c->img) : NULL;
    *len = c->img.len;
    return c->ahead_id != 0;
}

bool dm_escl_conn_busy(const dm_escl_conn *c)
{
    return c->resp != RESP_NONE || c->out.len > 0;
}
