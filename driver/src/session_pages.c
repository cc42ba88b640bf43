/* driver: page assembly — the page buffers of a MINIDRV_TRANSFER_CONTEXT,
 * and each finished page into the TIFF through wiasWritePageBufToStreamEx.
 *
 * A protocol fills s->page (the native one band by band, eSCL row by row as
 * the image decodes) and calls drv_sess_page_done. Memory is one page
 * buffer, however many pages; with write-behind (the default for a job of
 * more than one page) WB_PAGES: the writer thread (session_writer.c) puts
 * page N into the stream while page N+1 is received into the other buffer,
 * so the TIFF write overlaps the transfer instead of stalling it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "drv-internal.h"
#include "drv-session.h"
#include "wias/wias.h"

int drv_page_fits_wia(uint64_t bytes_per_line, uint32_t height)
{
    return bytes_per_line * height <= INT32_MAX;
}

/* Fault in the whole pages of a fresh buffer with one madvise instead of one
 * page fault per 4 KiB on first touch: under a hypervisor each fault is an
 * exit (about 17 us on the benchmark machine, so 0.1 s for an A4 colour page
 * buffer against 6 ms here). Best effort: an older kernel (EINVAL) simply
 * faults them in later. The buffer stays an ordinary malloc block (ASan
 * still guards its ends). */
void drv_prefault(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t start, end;

    if (!p || pg <= 0)
        return;
    start = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    end = ((uintptr_t)p + len) & ~((uintptr_t)pg - 1);
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)len;
#endif
}

/* A page buffer: 2 MiB-aligned and, where the kernel has transparent huge
 * pages in madvise mode, backed by huge pages (MADV_HUGEPAGE), so faulting
 * in an A4 colour page is 13 faults instead of 6,400 and the receive copy
 * and the TIFF write run with 4 KiB TLB misses gone. Both are hints: the
 * buffer is ordinary memory either way (freed with free(), its end guarded
 * by ASan, which a private mmap would lose). Not prefaulted here: see
 * drv_prefault(). The hint stays on the range after free(): if glibc served
 * the buffer from its heap, later small allocations there may get huge
 * pages too (memory use only, for a long-lived library user). */
static uint8_t *page_alloc(size_t len)
{
    const size_t huge = (size_t)2 << 20;
    void *p = NULL;

    if (len >= huge) {
        if (posix_memalign(&p, huge, len) != 0)
            return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(p, len & ~(huge - 1), MADV_HUGEPAGE);
#endif
        return p;
    }
    return malloc(len);
}

int drv_sess_alloc_pages(drv_session *s)
{
    const proto_scan_job *j = &s->job;

    s->page_bytes = (size_t)j->bytes_per_line * j->height_px;
    s->pagebuf[0] = page_alloc(s->page_bytes);
    s->page = s->pagebuf[0];
    if (!s->page)
        return 0;
    drv_prefault(s->page, s->page_bytes);
    s->npagebuf = 1;
    if (s->o->write_behind && j->pages != 1) {
        /* Without memory for more pages, fewer (or one: pages written in
         * line). The writer thread faults them in while the first page
         * arrives. */
        while (s->npagebuf < WB_PAGES && (s->pagebuf[s->npagebuf] = page_alloc(s->page_bytes)))
            s->npagebuf++;
    }
    memset(&s->mdtc, 0, sizeof(s->mdtc));
    s->mdtc.lSize = sizeof(s->mdtc);
    s->mdtc.lWidthInPixels = (LONG)j->width_px;
    s->mdtc.lLines = (LONG)j->height_px;
    s->mdtc.lDepth = (LONG)j->bits_per_pixel;
    s->mdtc.lXRes = j->dpi;
    s->mdtc.lYRes = j->dpi;
    s->mdtc.lCompression = s->o->compression;
    s->mdtc.guidFormatID = WiaImgFmt_TIFF;
    s->mdtc.tymed = TYMED_MULTIPAGE_FILE;
    s->mdtc.hFile = -1; /* pages go to the IStream */
    s->mdtc.lBufferSize = (LONG)s->page_bytes;
    s->mdtc.lNumBuffers = 1;
    s->mdtc.pBaseBuffer = s->page;
    s->mdtc.pTransferBuffer = s->page;
    s->mdtc.bClassDrvAllocBuf = FALSE;
    s->mdtc.lImageSize = (LONG)s->page_bytes;
    s->mdtc.cbWidthInBytes = (LONG)j->bytes_per_line;
    s->mdtc.lPage = 0;
    return 1;
}

int drv_sess_begin_pages(drv_session *s)
{
    if (!drv_sess_alloc_pages(s)) {
        drv_sess_fail(s, DRV_HR_E_OUTOFMEMORY, DRV_E_NOMEM, "out of memory for a %zu-byte page",
                      s->page_bytes);
        return 0;
    }
    drv_writer_start(s);
    return 1;
}

void drv_sess_free_pages(drv_session *s)
{
    for (unsigned i = 0; i < WB_PAGES; i++) {
        free(s->pagebuf[i]);
        s->pagebuf[i] = NULL;
    }
    s->page = NULL;
}

static void swap16_if_big_endian(drv_session *s)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    /* The wire is little-endian, the page writers take host order. */
    size_t i;

    if (s->job.bits_per_pixel % 16 == 0)
        for (i = 0; i + 1 < s->page_bytes; i += 2) {
            uint8_t t = s->page[i];
            s->page[i] = s->page[i + 1];
            s->page[i + 1] = t;
        }
#else
    (void)s;
#endif
}

HRESULT drv_sess_put_page(drv_session *s, uint8_t *page, uint32_t page_no, char *msg, size_t msglen)
{
    WIAS_PAGE_OPTIONS po;
    IStream *stream = s->stream, *scratch = NULL;
    char lt[160] = "";
    HRESULT hr;

    memset(&po, 0, sizeof(po));
    po.cbSize = sizeof(po);
    po.pszError = lt;
    po.cchError = sizeof(lt);
    if (!stream) {
        /* Discarding: the page is encoded alone, as the first page of a
         * TIFF in memory, and dropped with it. */
        hr = wiasCreateMemoryStream(&scratch);
        if (FAILED(hr)) {
            snprintf(msg, msglen, "out of memory for page %u", page_no + 1);
            return hr;
        }
        s->mdtc.lPage = 0;
        s->mdtc.lCurIfdOffset = 0;
        s->mdtc.lPrevIfdOffset = 0;
        stream = scratch;
    }
    s->mdtc.pBaseBuffer = page;
    s->mdtc.pTransferBuffer = page;
    hr = wiasWritePageBufToStreamEx(&s->mdtc, stream, &po);
    if (FAILED(hr))
        snprintf(msg, msglen, "cannot write page %u to the TIFF%s%s", page_no + 1,
                 lt[0] ? ": " : "", lt);
    if (scratch)
        scratch->lpVtbl->Release(scratch);
    return hr;
}

/* The page in s->page is complete: into the stream, now (no writer) or
 * behind (hand it to the writer and assemble the next page in the next
 * buffer of the ring once the writer is done with what it held). */
static int write_page(drv_session *s)
{
    swap16_if_big_endian(s);
    s->pages_in++;
    /* The one place a job blocks on something other than the device (the
     * write in line, or the writer): what the protocol holds back (the
     * native resubmits of bands consumed since the last wait) must not sit
     * meanwhile, or the device has nothing to send into. (drv_sess_fail
     * and drv_writer_stop also wait for the writer, but then no more pages
     * are wanted.) */
    if (s->proto && s->proto->flush)
        s->proto->flush(s);
    if (s->wr.running) {
        uint32_t handed = drv_writer_hand(s);

        drv_writer_wait(s, s->npagebuf - 1); /* the next buffer is free */
        if (s->failed)
            return 0;
        s->page = s->pagebuf[handed % s->npagebuf];
        return 1;
    }
    char msg[256];
    HRESULT hr = drv_sess_put_page(s, s->page, s->page_no, msg, sizeof(msg));
    if (FAILED(hr)) {
        drv_sess_fail(s, hr, DRV_E_OUTPUT, "%s", msg);
        return 0;
    }
    s->pages_done++;
    s->res->pages_kept = s->pages_done;
    drv_sess_log(s, "page %u written", s->pages_done);
    return 1;
}

int drv_sess_page_done(drv_session *s)
{
    if (!write_page(s))
        return 0;
    s->page_no++;
    s->band_no = 0;
    return 1;
}
