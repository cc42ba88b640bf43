/* Check suite for the wias module: streams, page writers, errors. */
#include "wias-test-util.h"
#include "wias-locktype-tests.h"
#include "wias-passthrough-tests.h"

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

/* Implemented in minidriver_style.c (written like Windows driver code). */
HRESULT SampleDrvTransferPages(IStream *pStream, LONG lPages, LONG lDepth, LONG lCompression,
                               LONG *plPagesWritten);
HRESULT SampleDrvWriteThroughCustomStream(LONG lPages, ULONG *pcbTotal, LONG *plPagesSeen);

static LARGE_INTEGER li(LONGLONG v)
{
    LARGE_INTEGER x;
    x.QuadPart = v;
    return x;
}

static ULARGE_INTEGER uli(ULONGLONG v)
{
    ULARGE_INTEGER x;
    x.QuadPart = v;
    return x;
}

static ULONGLONG tell(IStream *s)
{
    ULARGE_INTEGER p;
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(0), STREAM_SEEK_CUR, &p), S_OK);
    return p.QuadPart;
}

static IStream *mem_stream(void)
{
    IStream *s = NULL;
    ck_assert_int_eq(wiasCreateMemoryStream(&s), S_OK);
    ck_assert_ptr_nonnull(s);
    return s;
}

static ULONGLONG mem_size(IStream *s)
{
    const BYTE *d;
    ULONGLONG n;
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(s, &d, &n), S_OK);
    return n;
}

/* ---- streams ----------------------------------------------------------- */

static void exercise_stream(IStream *s)
{
    BYTE buf[64];
    ULONG n = 0;
    ULARGE_INTEGER pos;
    STATSTG st;
    IStream *q = NULL;
    void *pv = (void *)1;

    ck_assert_int_eq(s->lpVtbl->Write(s, "hello world", 11, &n), S_OK);
    ck_assert_uint_eq(n, 11);
    ck_assert_uint_eq(tell(s), 11);
    /* Seek SET/CUR/END */
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(6), STREAM_SEEK_SET, &pos), S_OK);
    ck_assert_uint_eq(pos.QuadPart, 6);
    ck_assert_int_eq(s->lpVtbl->Read(s, buf, 5, &n), S_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(buf, "world", 5);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(-5), STREAM_SEEK_CUR, &pos), S_OK);
    ck_assert_uint_eq(pos.QuadPart, 6);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(-11), STREAM_SEEK_END, &pos), S_OK);
    ck_assert_uint_eq(pos.QuadPart, 0);
    /* before 0: STG_E_INVALIDFUNCTION, pointer unchanged */
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(-1), STREAM_SEEK_SET, NULL), STG_E_INVALIDFUNCTION);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(-12), STREAM_SEEK_END, NULL), STG_E_INVALIDFUNCTION);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(3), STREAM_SEEK_SET, NULL), S_OK);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(-4), STREAM_SEEK_CUR, NULL), STG_E_INVALIDFUNCTION);
    ck_assert_uint_eq(tell(s), 3);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(0), 7, NULL), STG_E_INVALIDFUNCTION);
    /* short read at the end: S_OK with the count */
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(8), STREAM_SEEK_SET, NULL), S_OK);
    ck_assert_int_eq(s->lpVtbl->Read(s, buf, sizeof buf, &n), S_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(s->lpVtbl->Read(s, buf, sizeof buf, &n), S_OK);
    ck_assert_uint_eq(n, 0);
    /* write past the end leaves a zero gap */
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(20), STREAM_SEEK_SET, NULL), S_OK);
    ck_assert_int_eq(s->lpVtbl->Write(s, "X", 1, &n), S_OK);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(0), STREAM_SEEK_SET, NULL), S_OK);
    ck_assert_int_eq(s->lpVtbl->Read(s, buf, sizeof buf, &n), S_OK);
    ck_assert_uint_eq(n, 21);
    ck_assert_mem_eq(buf, "hello world\0\0\0\0\0\0\0\0\0X", 21);
    /* SetSize does not move the pointer */
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(15), STREAM_SEEK_SET, NULL), S_OK);
    ck_assert_int_eq(s->lpVtbl->SetSize(s, uli(5)), S_OK);
    ck_assert_uint_eq(tell(s), 15);
    ck_assert_int_eq(s->lpVtbl->Stat(s, &st, STATFLAG_NONAME), S_OK);
    ck_assert_uint_eq(st.cbSize.QuadPart, 5);
    ck_assert_uint_eq(st.type, STGTY_STREAM);
    ck_assert_ptr_null(st.pwcsName);
    ck_assert_int_eq(s->lpVtbl->SetSize(s, uli(9)), S_OK);
    ck_assert_uint_eq(tell(s), 15);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(0), STREAM_SEEK_SET, NULL), S_OK);
    ck_assert_int_eq(s->lpVtbl->Read(s, buf, sizeof buf, &n), S_OK);
    ck_assert_uint_eq(n, 9);
    ck_assert_mem_eq(buf, "hello\0\0\0\0", 9);
    ck_assert_int_eq(s->lpVtbl->Stat(s, &st, 99), STG_E_INVALIDFLAG);
    ck_assert_int_eq(s->lpVtbl->Commit(s, STGC_DEFAULT), S_OK);
    /* COM identity and reference counting */
    ck_assert_int_eq(s->lpVtbl->QueryInterface(s, &IID_IStream, (void **)&q), S_OK);
    ck_assert_ptr_eq(q, s);
    ck_assert_uint_eq(q->lpVtbl->Release(q), 1);
    ck_assert_int_eq(s->lpVtbl->QueryInterface(s, &IID_ISequentialStream, &pv), S_OK);
    ck_assert_uint_eq(s->lpVtbl->Release(s), 1);
    ck_assert_int_eq(s->lpVtbl->QueryInterface(s, &IID_IUnknown, &pv), S_OK);
    ck_assert_uint_eq(s->lpVtbl->Release(s), 1);
    ck_assert_int_eq(s->lpVtbl->QueryInterface(s, &WiaImgFmt_TIFF, &pv), E_NOINTERFACE);
    ck_assert_ptr_null(pv);
    ck_assert_uint_eq(s->lpVtbl->AddRef(s), 2);
    ck_assert_uint_eq(s->lpVtbl->AddRef(s), 3);
    ck_assert_uint_eq(s->lpVtbl->Release(s), 2);
    ck_assert_uint_eq(s->lpVtbl->Release(s), 1);
}

START_TEST(test_memstream)
{
    IStream *s = mem_stream();
    IStream *d = mem_stream();
    ULARGE_INTEGER r, w;
    const BYTE *data;
    ULONGLONG n;

    exercise_stream(s);
    /* CopyTo from the current position */
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(1), STREAM_SEEK_SET, NULL), S_OK);
    ck_assert_int_eq(s->lpVtbl->CopyTo(s, d, uli(100), &r, &w), S_OK);
    ck_assert_uint_eq(r.QuadPart, 8);
    ck_assert_uint_eq(w.QuadPart, 8);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(d, &data, &n), S_OK);
    ck_assert_uint_eq(n, 8);
    ck_assert_mem_eq(data, "ello\0\0\0\0", 8);
    ck_assert_uint_eq(d->lpVtbl->Release(d), 0);
    ck_assert_int_eq(s->lpVtbl->Clone(s, &d), E_NOTIMPL);
    ck_assert_ptr_null(d);
    ck_assert_uint_eq(s->lpVtbl->Release(s), 0);
    ck_assert_int_eq(wiasCreateMemoryStream(NULL), E_POINTER);
}
END_TEST

/* Large streams switch to an mremap-grown mapping: contents survive. */
START_TEST(test_memstream_large)
{
    IStream *s = mem_stream();
    BYTE *chunk = malloc(100000);
    const BYTE *d;
    ULONGLONG n;

    for (int i = 0; i < 100000; i++)
        chunk[i] = (BYTE)(i * 31 + i / 256);
    for (int k = 0; k < 30; k++) /* 3 MB through 4 KiB .. 4 MiB capacities */
        ck_assert_int_eq(s->lpVtbl->Write(s, chunk, 100000, NULL), S_OK);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(s, &d, &n), S_OK);
    ck_assert_uint_eq(n, 3000000);
    for (int k = 0; k < 30; k++)
        ck_assert_mem_eq(d + (size_t)k * 100000, chunk, 100000);
    ck_assert_int_eq(s->lpVtbl->SetSize(s, uli(9000000)), S_OK);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(s, &d, &n), S_OK);
    ck_assert_uint_eq(n, 9000000);
    ck_assert_mem_eq(d + 2900000, chunk, 100000);
    ck_assert_uint_eq(d[8999999], 0);
    ck_assert_int_eq(s->lpVtbl->SetSize(s, uli(10)), S_OK);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(0), STREAM_SEEK_END, NULL), S_OK);
    ck_assert_int_eq(s->lpVtbl->Write(s, chunk, 5, NULL), S_OK);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(s, &d, &n), S_OK);
    ck_assert_uint_eq(n, 15);
    ck_assert_mem_eq(d, chunk, 10);
    ck_assert_mem_eq(d + 10, chunk, 5);
    free(chunk);
    ck_assert_uint_eq(s->lpVtbl->Release(s), 0);
}
END_TEST

START_TEST(test_filestream)
{
    char *path = tu_temp_path("fs");
    IStream *s = NULL;
    STATSTG st;
    int fd;

    ck_assert_ptr_nonnull(path);
    ck_assert_int_eq(wiasCreateStreamOnFile(path, STGM_READWRITE | STGM_CREATE, &s), S_OK);
    exercise_stream(s);
    ck_assert_int_eq(s->lpVtbl->Stat(s, &st, STATFLAG_DEFAULT), S_OK);
    ck_assert_uint_eq(st.grfMode, STGM_READWRITE);
    ck_assert_uint_ne(st.mtime.dwHighDateTime, 0);
    ck_assert_uint_eq(s->lpVtbl->Release(s), 0);

    ck_assert_int_eq(wiasCreateStreamOnFile(path, STGM_READ, &s), S_OK);
    ck_assert_int_eq(s->lpVtbl->Stat(s, &st, STATFLAG_NONAME), S_OK);
    ck_assert_uint_eq(st.cbSize.QuadPart, 9);
    ck_assert_uint_eq(st.grfMode, STGM_READ);
    {
        ULONG n = 5;
        ck_assert(FAILED(s->lpVtbl->Write(s, "abc", 3, &n)));
        ck_assert_uint_eq(n, 0);
    }
    s->lpVtbl->Release(s);
    unlink(path);
    ck_assert_int_eq(wiasCreateStreamOnFile(path, STGM_READ, &s), STG_E_FILENOTFOUND);
    ck_assert_int_eq(wiasCreateStreamOnFile(path, STGM_READ | STGM_CREATE, &s), STG_E_INVALIDFLAG);
    ck_assert_int_eq(wiasCreateStreamOnFile(path, 0x80, &s), STG_E_INVALIDFLAG);
    ck_assert_int_eq(wiasCreateStreamOnFile(NULL, STGM_READ, &s), E_POINTER);

    /* fd streams: the fd's offset is the seek pointer; close on release */
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(wiasCreateStreamOnFd(fd, TRUE, &s), S_OK);
    ck_assert_int_eq(s->lpVtbl->Write(s, "abcdef", 6, NULL), S_OK);
    ck_assert_int_eq((int)lseek(fd, 0, SEEK_CUR), 6);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li(2), STREAM_SEEK_SET, NULL), S_OK);
    ck_assert_int_eq((int)lseek(fd, 0, SEEK_CUR), 2);
    ck_assert_int_eq(s->lpVtbl->Commit(s, STGC_DEFAULT), S_OK);
    s->lpVtbl->Release(s);
    errno = 0;
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_int_eq(wiasCreateStreamOnFd(-1, FALSE, &s), E_HANDLE);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_failstream)
{
    IStream *m = mem_stream();
    IStream *f = NULL;
    ULONG n;

    ck_assert_int_eq(wiasCreateFailingStream(m, 10, STG_E_WRITEFAULT, 0, &f), S_OK);
    ck_assert_int_eq(f->lpVtbl->Write(f, "abcd", 4, &n), S_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(f->lpVtbl->Write(f, "efghijklmn", 10, &n), STG_E_WRITEFAULT);
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(f->lpVtbl->Write(f, "z", 1, &n), STG_E_WRITEFAULT);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(mem_size(m), 10);
    ck_assert_int_eq(f->lpVtbl->SetSize(f, uli(4)), S_OK);
    ck_assert_uint_eq(mem_size(m), 4);
    f->lpVtbl->Release(f);

    ck_assert_int_eq(
        wiasCreateFailingStream(m, 5000, STG_E_MEDIUMFULL,
                                WIAS_FAILSTREAM_SHORT_WRITES | WIAS_FAILSTREAM_SETSIZE_FAILS, &f),
        S_OK);
    {
        static BYTE big[3000];
        ck_assert_int_eq(f->lpVtbl->Write(f, big, sizeof big, &n), S_OK);
        ck_assert_uint_eq(n, 1000);
        ck_assert_int_eq(f->lpVtbl->Write(f, big, sizeof big, &n), S_OK);
        ck_assert_int_eq(f->lpVtbl->Write(f, big, sizeof big, &n), S_OK);
        ck_assert_int_eq(f->lpVtbl->Write(f, big, sizeof big, &n), S_OK);
        /* this call reaches the limit while asking for more: it fails */
        ck_assert_int_eq(f->lpVtbl->Write(f, big, sizeof big, &n), STG_E_MEDIUMFULL);
        ck_assert_uint_eq(n, 1000);
        ck_assert_uint_eq(mem_size(m), 5010); /* SetSize did not move the pointer */
        ck_assert_int_eq(f->lpVtbl->Write(f, big, 1, &n), STG_E_MEDIUMFULL);
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(f->lpVtbl->SetSize(f, uli(0)), STG_E_MEDIUMFULL);
    }
    ck_assert_uint_eq(f->lpVtbl->Release(f), 0);
    ck_assert_int_eq(wiasCreateFailingStream(m, 1, S_OK, 0, &f), E_INVALIDARG);
    ck_assert_uint_eq(m->lpVtbl->Release(m), 0);
}
END_TEST

/* ---- mode x compression round trips ------------------------------------ */

struct combo {
    LONG depth, compression;
    double psnr; /* 0: lossless */
};

static const struct combo combos[] = {
    {1, WIA_COMPRESSION_NONE, 0},      {1, WIA_COMPRESSION_G3, 0},
    {1, WIA_COMPRESSION_G4, 0},        {1, WIAS_COMPRESSION_LZW, 0},
    {1, WIAS_COMPRESSION_DEFLATE, 0},  {8, WIA_COMPRESSION_NONE, 0},
    {8, WIAS_COMPRESSION_LZW, 0},      {8, WIAS_COMPRESSION_DEFLATE, 0},
    {8, WIA_COMPRESSION_JPEG, 35.0},   {24, WIA_COMPRESSION_NONE, 0},
    {24, WIAS_COMPRESSION_LZW, 0},     {24, WIAS_COMPRESSION_DEFLATE, 0},
    {24, WIA_COMPRESSION_JPEG, 30.0},  {16, WIA_COMPRESSION_NONE, 0},
    {16, WIAS_COMPRESSION_LZW, 0},     {16, WIAS_COMPRESSION_DEFLATE, 0},
    {48, WIA_COMPRESSION_NONE, 0},     {48, WIAS_COMPRESSION_LZW, 0},
    {48, WIAS_COMPRESSION_DEFLATE, 0},
};
#define NCOMBOS ((int)(sizeof combos / sizeof combos[0]))

static void check_file(const char *path, int dir, const MINIDRV_TRANSFER_CONTEXT *c,
                       const BYTE *pixels, double psnr, ULONGLONG ifd)
{
    struct tu_page_expect e;
    const char *err;

    memset(&e, 0, sizeof e);
    e.width = c->lWidthInPixels;
    e.lines = c->lLines;
    e.depth = c->lDepth;
    e.compression = c->lCompression;
    e.xres = c->lXRes;
    e.yres = c->lYRes;
    e.page = dir;
    e.stride = c->cbWidthInBytes;
    e.pixels = pixels;
    e.min_psnr = psnr;
    e.ifd_offset = ifd;
    err = tu_check_page(path, dir, &e);
    ck_assert_msg(err == NULL, "page %d depth %d comp %d: %s", dir, (int)c->lDepth,
                  (int)c->lCompression, err ? err : "");
}

static void assert_tiffinfo(const char *path)
{
    char msg[512];
    ck_assert_msg(tu_tiffinfo_ok(path, msg, sizeof msg) == 0, "tiffinfo -D: %s", msg);
}

START_TEST(test_roundtrip)
{
    const struct combo *k = &combos[_i];
    /* odd sizes; page 2 has padded rows (stride > packed) */
    LONG w[2] = {203, 120}, h[2] = {157, 64};
    BYTE *px[2];
    LONG stride[2];
    ULONG ifd[2];
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = mem_stream();
    char *path;

    memset(&c, 0, sizeof c);
    for (int p = 0; p < 2; p++) {
        LONG lPage = c.lPage, cur = c.lCurIfdOffset;
        BYTE *before;

        stride[p] = (LONG)tu_row_bytes(w[p], k->depth) + (p ? 5 : 0);
        px[p] = tu_make_page(w[p], h[p], k->depth, stride[p], (unsigned)(p + 1));
        tu_init_ctx(&c, w[p], h[p], k->depth, k->compression, stride[p], px[p]);
        c.lPage = lPage;
        c.lCurIfdOffset = cur;
        before = malloc((size_t)stride[p] * (size_t)h[p]);
        memcpy(before, px[p], (size_t)stride[p] * (size_t)h[p]);
        ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
        /* the page buffer is never modified */
        ck_assert_mem_eq(before, px[p], (size_t)stride[p] * (size_t)h[p]);
        free(before);
        ck_assert_int_eq(c.lPage, p + 1);
        ck_assert_int_eq(c.lPrevIfdOffset, p ? (LONG)ifd[0] : 0);
        ifd[p] = (ULONG)c.lCurIfdOffset;
        ck_assert_uint_eq(tell(s), mem_size(s));
    }
    path = tu_stream_to_tempfile(s);
    ck_assert_ptr_nonnull(path);
    ck_assert_int_eq(tu_count_pages(path), 2);
    for (int p = 0; p < 2; p++) {
        tu_init_ctx(&c, w[p], h[p], k->depth, k->compression, stride[p], px[p]);
        check_file(path, p, &c, px[p], k->psnr, ifd[p]);
        free(px[p]);
    }
    assert_tiffinfo(path);
    unlink(path);
    free(path);
    s->lpVtbl->Release(s);
}
END_TEST

/* Strip-by-strip writing produces the same bytes as one whole-page call. */
START_TEST(test_strips_match_whole_page)
{
    const struct combo *k = &combos[_i];
    LONG w = 190, h = 333;
    LONG stride = (LONG)tu_row_bytes(w, k->depth);
    BYTE *px = tu_make_page(w, h, k->depth, stride, 7);
    LONG padded = stride + 3;
    BYTE *pad = calloc((size_t)padded, (size_t)h);
    MINIDRV_TRANSFER_CONTEXT a, b;
    WIAS_PAGE_WRITER *wr = NULL;
    IStream *sa = mem_stream(), *sb = mem_stream();
    const BYTE *da, *db;
    ULONGLONG na, nb;
    WIAS_PAGE_OPTIONS opt;
    LONG chunks[] = {1, 7, 16, 50, 1000};
    LONG done = 0;

    for (LONG y = 0; y < h; y++)
        memcpy(pad + (size_t)y * (size_t)padded, px + (size_t)y * (size_t)stride, (size_t)stride);
    memset(&opt, 0, sizeof opt);
    opt.cbSize = sizeof opt;
    opt.lRowsPerStrip = 32;

    tu_init_ctx(&a, w, h, k->depth, k->compression, stride, px);
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&a, sa, &opt), S_OK);
    /* stream b: same page written in uneven chunks from a padded buffer */
    tu_init_ctx(&b, w, h, k->depth, k->compression, padded, NULL);
    b.lBufferSize = 0;
    ck_assert_int_eq(wiasWritePageBegin(&b, sb, &opt, &wr), S_OK);
    for (unsigned i = 0; done < h; i = (i + 1) % 5) {
        LONG n = chunks[i] < h - done ? chunks[i] : h - done;
        ck_assert_int_eq(wiasWritePageLines(wr, pad + (size_t)done * (size_t)padded, n, padded),
                         S_OK);
        done += n;
    }
    ck_assert_int_eq(wiasWritePageLines(wr, pad, 1, padded), E_INVALIDARG); /* too many rows */
    ck_assert_int_eq(wiasWritePageEnd(wr), S_OK);
    ck_assert_int_eq(b.lPage, 1);
    ck_assert_int_eq(b.lCurIfdOffset, a.lCurIfdOffset);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(sa, &da, &na), S_OK);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(sb, &db, &nb), S_OK);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(da, db, (size_t)na) == 0, "strip-by-strip output differs");
    free(px);
    free(pad);
    sa->lpVtbl->Release(sa);
    sb->lpVtbl->Release(sb);
}
END_TEST

START_TEST(test_strip_api_errors)
{
    LONG w = 64, h = 40;
    BYTE *px = tu_make_page(w, h, 8, w, 3);
    MINIDRV_TRANSFER_CONTEXT c;
    WIAS_PAGE_WRITER *wr = (WIAS_PAGE_WRITER *)1;
    IStream *s = mem_stream();
    BYTE *snap;
    ULONGLONG n0, n1;
    const BYTE *d;

    tu_init_ctx(&c, w, h, 8, WIA_COMPRESSION_NONE, w, px);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    snap = tu_snapshot(s, &n0);
    /* End with too few rows: E_INVALIDARG, page dropped, file unchanged */
    ck_assert_int_eq(wiasWritePageBegin(&c, s, NULL, &wr), S_OK);
    ck_assert_int_eq(wiasWritePageLines(wr, px, 10, w), S_OK);
    ck_assert_int_eq(wiasWritePageLines(wr, px, 1, w - 1), E_INVALIDARG);
    ck_assert_int_eq(wiasWritePageLines(wr, NULL, 1, w), E_POINTER);
    ck_assert_int_eq(wiasWritePageEnd(wr), E_INVALIDARG);
    ck_assert_int_eq(c.lPage, 1);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(s, &d, &n1), S_OK);
    ck_assert_uint_eq(n0, n1);
    ck_assert_mem_eq(d, snap, (size_t)n0);
    /* Abort mid-page */
    ck_assert_int_eq(wiasWritePageBegin(&c, s, NULL, &wr), S_OK);
    ck_assert_int_eq(wiasWritePageLines(wr, px, 39, w), S_OK);
    wiasWritePageAbort(wr);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(s, &d, &n1), S_OK);
    ck_assert_uint_eq(n0, n1);
    ck_assert_mem_eq(d, snap, (size_t)n0);
    wiasWritePageAbort(NULL);
    ck_assert_int_eq(wiasWritePageEnd(NULL), E_POINTER);
    ck_assert_int_eq(wiasWritePageLines(NULL, px, 1, w), E_POINTER);
    ck_assert_int_eq(wiasWritePageBegin(&c, s, NULL, NULL), E_POINTER);
    /* still a good 1-page file, and a second page can follow */
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    ck_assert_int_eq(c.lPage, 2);
    free(snap);
    free(px);
    s->lpVtbl->Release(s);
}
END_TEST

/* ---- multipage --------------------------------------------------------- */

static void write_n_pages(int npages, const char *tag)
{
    static const struct combo modes[] = {
        {1, WIA_COMPRESSION_G4, 0},       {8, WIAS_COMPRESSION_LZW, 0},
        {24, WIA_COMPRESSION_NONE, 0},    {24, WIA_COMPRESSION_JPEG, 30.0},
        {8, WIAS_COMPRESSION_DEFLATE, 0}, {1, WIA_COMPRESSION_NONE, 0},
        {16, WIA_COMPRESSION_NONE, 0},
    };
    char *path = tu_temp_path(tag);
    IStream *s = NULL;
    MINIDRV_TRANSFER_CONTEXT c;
    BYTE **px = calloc((size_t)npages, sizeof *px);
    ULONG *ifd = calloc((size_t)npages, sizeof *ifd);

    ck_assert_int_eq(wiasCreateStreamOnFile(path, STGM_READWRITE | STGM_CREATE, &s), S_OK);
    memset(&c, 0, sizeof c);
    for (int p = 0; p < npages; p++) {
        const struct combo *m = &modes[p % 7];
        LONG w = 80 + p, h = 60 + 2 * p;
        LONG stride = (LONG)tu_row_bytes(w, m->depth);
        LONG page = c.lPage, cur = c.lCurIfdOffset, prev = c.lCurIfdOffset;

        px[p] = tu_make_page(w, h, m->depth, stride, (unsigned)p);
        tu_init_ctx(&c, w, h, m->depth, m->compression, stride, px[p]);
        c.lXRes = 100 + p;
        c.lYRes = 150 + p;
        c.lPage = page;
        c.lCurIfdOffset = cur;
        ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
        ck_assert_int_eq(c.lPage, p + 1);
        ck_assert_int_eq(c.lPrevIfdOffset, p ? prev : 0);
        ifd[p] = (ULONG)c.lCurIfdOffset;
    }
    s->lpVtbl->Release(s);
    ck_assert_int_eq(tu_count_pages(path), npages);
    for (int p = 0; p < npages; p++) {
        const struct combo *m = &modes[p % 7];
        LONG w = 80 + p, h = 60 + 2 * p;
        tu_init_ctx(&c, w, h, m->depth, m->compression, (LONG)tu_row_bytes(w, m->depth), px[p]);
        c.lXRes = 100 + p;
        c.lYRes = 150 + p;
        check_file(path, p, &c, px[p], m->psnr, ifd[p]);
        free(px[p]);
    }
    assert_tiffinfo(path);
    unlink(path);
    free(path);
    free(px);
    free(ifd);
}

START_TEST(test_one_page)
{
    write_n_pages(1, "p1");
}
END_TEST

START_TEST(test_two_pages)
{
    write_n_pages(2, "p2");
}
END_TEST

START_TEST(test_fifty_pages)
{
    write_n_pages(50, "p50");
}
END_TEST

START_TEST(test_short_writes_same_bytes)
{
    LONG w = 300, h = 200;
    BYTE *px = tu_make_page(w, h, 24, w * 3, 1);
    MINIDRV_TRANSFER_CONTEXT a, b;
    IStream *sa = mem_stream(), *sb = mem_stream(), *fb = NULL;
    const BYTE *da, *db;
    ULONGLONG na, nb;

    ck_assert_int_eq(
        wiasCreateFailingStream(sb, ~0ull, STG_E_WRITEFAULT, WIAS_FAILSTREAM_SHORT_WRITES, &fb),
        S_OK);
    tu_init_ctx(&a, w, h, 24, WIAS_COMPRESSION_LZW, w * 3, px);
    tu_init_ctx(&b, w, h, 24, WIAS_COMPRESSION_LZW, w * 3, px);
    for (int p = 0; p < 3; p++) {
        ck_assert_int_eq(wiasWritePageBufToStream(&a, sa), S_OK);
        ck_assert_int_eq(wiasWritePageBufToStream(&b, fb), S_OK);
    }
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(sa, &da, &na), S_OK);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(sb, &db, &nb), S_OK);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(da, db, (size_t)na) == 0);
    fb->lpVtbl->Release(fb);
    sa->lpVtbl->Release(sa);
    sb->lpVtbl->Release(sb);
    free(px);
}
END_TEST

/* ---- failures ---------------------------------------------------------- */

/* Write pages 1-2, then page 3 through a stream failing after `limit`
 * bytes. Returns the HRESULT of page 3 and checks pages 1-2 survive. */
static HRESULT fail_page3(ULONGLONG limit, DWORD flags, BOOL run_tiffinfo, ULONGLONG *page3_bytes)
{
    LONG w = 64, h = 48;
    BYTE *px[3];
    MINIDRV_TRANSFER_CONTEXT c, saved;
    IStream *s = mem_stream(), *f = NULL;
    ULONGLONG n2, n3;
    HRESULT hr;
    char *path;

    memset(&c, 0, sizeof c);
    for (int p = 0; p < 3; p++) {
        LONG page = c.lPage, cur = c.lCurIfdOffset;
        px[p] = tu_make_page(w, h, 8, w, (unsigned)p);
        tu_init_ctx(&c, w, h, 8, WIAS_COMPRESSION_LZW, w, px[p]);
        c.lPage = page;
        c.lCurIfdOffset = cur;
        if (p < 2) {
            ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
            continue;
        }
        n2 = mem_size(s);
        ck_assert_int_eq(wiasCreateFailingStream(s, limit, STG_E_WRITEFAULT, flags, &f), S_OK);
        saved = c;
        hr = wiasWritePageBufToStream(&c, f);
        f->lpVtbl->Release(f);
        n3 = mem_size(s);
        if (page3_bytes)
            *page3_bytes = n3 - n2;
        if (FAILED(hr)) {
            ck_assert_mem_eq(&saved, &c, sizeof c); /* context untouched */
            if (!(flags & WIAS_FAILSTREAM_SETSIZE_FAILS))
                ck_assert_uint_eq(n3, n2); /* truncated back */
        }
    }
    path = tu_stream_to_tempfile(s);
    ck_assert_int_eq(tu_count_pages(path), FAILED(hr) ? 2 : 3);
    tu_init_ctx(&c, w, h, 8, WIAS_COMPRESSION_LZW, w, px[1]);
    check_file(path, 1, &c, px[1], 0, 0);
    if (run_tiffinfo)
        assert_tiffinfo(path);
    unlink(path);
    free(path);
    for (int p = 0; p < 3; p++)
        free(px[p]);
    s->lpVtbl->Release(s);
    return hr;
}

START_TEST(test_fail_mid_page3)
{
    ULONGLONG total = 0;

    /* a successful run tells how many bytes page 3 needs */
    ck_assert_int_eq(fail_page3(~0ull, 0, FALSE, &total), S_OK);
    ck_assert_uint_gt(total, 1000);
    /* middle of the page data, with and without a working SetSize */
    ck_assert_int_eq(fail_page3(total / 2, 0, TRUE, NULL), STG_E_WRITEFAULT);
    ck_assert_int_eq(fail_page3(total / 2, WIAS_FAILSTREAM_SETSIZE_FAILS, TRUE, NULL),
                     STG_E_WRITEFAULT);
    ck_assert_int_eq(fail_page3(total / 3,
                                WIAS_FAILSTREAM_SHORT_WRITES | WIAS_FAILSTREAM_SETSIZE_FAILS, TRUE,
                                NULL),
                     STG_E_WRITEFAULT);
    /* every failure point up to the last byte before the 4-byte link:
     * sparse in the data, dense in the IFD and its values */
    for (ULONGLONG lim = 0; lim + 4 <= total; lim += (lim + 400 < total ? 97 : 1)) {
        HRESULT hr = fail_page3(lim, WIAS_FAILSTREAM_SETSIZE_FAILS, FALSE, NULL);
        ck_assert_msg(hr == STG_E_WRITEFAULT, "limit %llu: 0x%08X", (unsigned long long)lim,
                      (unsigned)hr);
    }
}
END_TEST

/* ---- bad contexts: error code, nothing written, context untouched ------ */

typedef void (*mutate_fn)(MINIDRV_TRANSFER_CONTEXT *c);
#define MUT(name, body)                                                                            \
    static void name(MINIDRV_TRANSFER_CONTEXT *c)                                                  \
    {                                                                                              \
        body;                                                                                      \
    }
MUT(m_null_buf, c->pTransferBuffer = NULL)
MUT(m_w0, c->lWidthInPixels = 0)
MUT(m_wneg, c->lWidthInPixels = -5)
MUT(m_h0, c->lLines = 0)
MUT(m_hneg, c->lLines = -1)
MUT(m_d0, c->lDepth = 0)
MUT(m_d7, c->lDepth = 7)
MUT(m_d32, c->lDepth = 32)
MUT(m_dneg, c->lDepth = -8)
MUT(m_xres0, c->lXRes = 0)
MUT(m_yresneg, c->lYRes = -300)
MUT(m_stride0, c->cbWidthInBytes = 0)
MUT(m_stride_small, c->cbWidthInBytes = c->lWidthInPixels - 1)
MUT(m_stride_neg, c->cbWidthInBytes = -64)
MUT(m_buf_small, c->lBufferSize = c->cbWidthInBytes * c->lLines - 1)
MUT(m_buf0, c->lBufferSize = 0)
MUT(m_buf_neg, c->lBufferSize = -1)
MUT(m_rle4, c->lCompression = WIA_COMPRESSION_BI_RLE4)
MUT(m_jbig, c->lCompression = WIA_COMPRESSION_JBIG)
MUT(m_png, c->lCompression = WIA_COMPRESSION_PNG)
MUT(m_jpeg2k, c->lCompression = WIA_COMPRESSION_JPEG2K)
MUT(m_comp99, c->lCompression = 99)
MUT(m_g4_gray, c->lCompression = WIA_COMPRESSION_G4)
MUT(m_g3_gray, c->lCompression = WIA_COMPRESSION_G3)
MUT(m_auto, c->lCompression = WIA_COMPRESSION_AUTO)
MUT(m_page_neg, c->lPage = -1)
MUT(m_ifd0, c->lCurIfdOffset = 0)
MUT(m_ifd_stale, c->lCurIfdOffset = 8)
MUT(m_ifd_past_end, c->lCurIfdOffset = 0x7FFFFFF0)
MUT(m_ifd_prev, c->lCurIfdOffset = c->lPrevIfdOffset)
MUT(m_ifd_odd, c->lCurIfdOffset += 1)

static const struct {
    mutate_fn fn;
    HRESULT hr;
    const char *name;
} bad_cases[] = {
    {m_null_buf, E_POINTER, "NULL pTransferBuffer"},
    {m_w0, E_INVALIDARG, "width 0"},
    {m_wneg, E_INVALIDARG, "width < 0"},
    {m_h0, E_INVALIDARG, "lines 0"},
    {m_hneg, E_INVALIDARG, "lines < 0"},
    {m_d0, E_INVALIDARG, "depth 0"},
    {m_d7, E_INVALIDARG, "depth 7"},
    {m_d32, E_INVALIDARG, "depth 32"},
    {m_dneg, E_INVALIDARG, "depth < 0"},
    {m_xres0, E_INVALIDARG, "xres 0"},
    {m_yresneg, E_INVALIDARG, "yres < 0"},
    {m_stride0, E_INVALIDARG, "cbWidthInBytes 0"},
    {m_stride_small, E_INVALIDARG, "cbWidthInBytes < row"},
    {m_stride_neg, E_INVALIDARG, "cbWidthInBytes < 0"},
    {m_buf_small, E_INVALIDARG, "buffer smaller than image"},
    {m_buf0, E_INVALIDARG, "buffer size 0"},
    {m_buf_neg, E_INVALIDARG, "buffer size < 0"},
    {m_rle4, E_INVALIDARG, "RLE4"},
    {m_jbig, E_INVALIDARG, "JBIG"},
    {m_png, E_INVALIDARG, "PNG"},
    {m_jpeg2k, E_INVALIDARG, "JPEG2K"},
    {m_comp99, E_INVALIDARG, "compression 99"},
    {m_g4_gray, E_INVALIDARG, "G4 on 8-bit"},
    {m_g3_gray, E_INVALIDARG, "G3 on 8-bit"},
    {m_auto, E_INVALIDARG, "WIA_COMPRESSION_AUTO"},
    {m_page_neg, E_INVALIDARG, "lPage < 0"},
    {m_ifd0, E_INVALIDARG, "lCurIfdOffset 0 after page 1"},
    {m_ifd_stale, E_INVALIDARG, "lCurIfdOffset not an IFD"},
    {m_ifd_past_end, E_INVALIDARG, "lCurIfdOffset past the end"},
    {m_ifd_prev, E_INVALIDARG, "lCurIfdOffset not the last IFD"},
    {m_ifd_odd, E_INVALIDARG, "lCurIfdOffset off by one"},
};
#define NBAD ((int)(sizeof bad_cases / sizeof bad_cases[0]))

START_TEST(test_bad_context)
{
    LONG w = 64, h = 32;
    BYTE *px = tu_make_page(w, h, 8, w, 1);
    MINIDRV_TRANSFER_CONTEXT c, saved;
    IStream *s = mem_stream();
    BYTE *snap;
    const BYTE *d;
    ULONGLONG n0, n1;
    HRESULT hr;

    tu_init_ctx(&c, w, h, 8, WIA_COMPRESSION_NONE, w, px);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    snap = tu_snapshot(s, &n0);
    bad_cases[_i].fn(&c);
    saved = c;
    hr = wiasWritePageBufToStream(&c, s);
    ck_assert_msg(hr == bad_cases[_i].hr, "%s: got 0x%08X", bad_cases[_i].name, (unsigned)hr);
    ck_assert_mem_eq(&saved, &c, sizeof c);
    ck_assert_int_eq(wiasMemoryStreamGetBuffer(s, &d, &n1), S_OK);
    ck_assert_uint_eq(n0, n1);
    ck_assert_mem_eq(d, snap, (size_t)n0);
    free(snap);
    free(px);
    s->lpVtbl->Release(s);
}
END_TEST

START_TEST(test_bad_pointers_and_options)
{
    LONG w = 16, h = 16;
    BYTE *px = tu_make_page(w, h, 8, w, 1);
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = mem_stream();
    WIAS_PAGE_OPTIONS o;
    ULONGLONG worst;

    tu_init_ctx(&c, w, h, 8, WIA_COMPRESSION_JPEG, w, px);
    ck_assert_int_eq(wiasWritePageBufToStream(NULL, s), E_POINTER);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, NULL), E_POINTER);
    ck_assert_int_eq(wiasWritePageBufToFile(NULL), E_POINTER);
    c.hFile = -1;
    ck_assert_int_eq(wiasWritePageBufToFile(&c), E_HANDLE);
    memset(&o, 0, sizeof o);
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), E_INVALIDARG); /* cbSize */
    o.cbSize = sizeof o;
    o.lJpegQuality = 101;
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), E_INVALIDARG);
    o.lJpegQuality = 0;
    o.ulFlags = 0x80;
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), E_INVALIDARG);
    o.ulFlags = 0;
    o.lDeflateLevel = 10;
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), E_INVALIDARG);
    ck_assert_uint_eq(mem_size(s), 0);
    /* first page on a non-TIFF stream with lPage 1 */
    s->lpVtbl->Write(s, "not a tiff at all", 17, NULL);
    c.lPage = 1;
    c.lCurIfdOffset = 8;
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), E_INVALIDARG);
    ck_assert_uint_eq(mem_size(s), 17);
    ck_assert_int_eq(wiasWorstCasePageSize(NULL, FALSE, &worst), E_POINTER);
    free(px);
    s->lpVtbl->Release(s);
}
END_TEST

/* ---- 4 GiB guard and BigTIFF -------------------------------------------- */

START_TEST(test_4gib_guard_sparse_file)
{
    char *path = tu_temp_path("4g");
    LONG w = 100, h = 200;
    BYTE *px = tu_make_page(w, h, 8, w, 1);
    MINIDRV_TRANSFER_CONTEXT c, saved;
    IStream *s = NULL;
    struct stat st;
    const long long used = 0xFFFFFFFFll - 20000;
    int fd;

    fd = open(path, O_RDWR | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(wiasCreateStreamOnFd(fd, FALSE, &s), S_OK);
    tu_init_ctx(&c, w, 10, 8, WIA_COMPRESSION_NONE, w, px);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    /* pretend 4 GiB - 20000 bytes are already used (sparse: costs nothing) */
    ck_assert_int_eq(ftruncate(fd, used), 0);
    /* a 20000-byte page would end past 4 GiB: clean error, nothing written */
    c.lLines = h;
    c.lBufferSize = h * w;
    saved = c;
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), STG_E_MEDIUMFULL);
    ck_assert_mem_eq(&saved, &c, sizeof c);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq((long long)st.st_size, used);
    /* a page that fits still goes in, its IFD just below 4 GiB */
    c.lLines = 10;
    c.lBufferSize = 10 * w;
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    ck_assert_int_eq(c.lPage, 2);
    ck_assert_uint_gt((ULONG)c.lCurIfdOffset, 0xFFFF0000u); /* read as ULONG */
    s->lpVtbl->Release(s);
    close(fd);
    ck_assert_int_eq(tu_count_pages(path), 2);
    tu_init_ctx(&c, w, 10, 8, WIA_COMPRESSION_NONE, w, px);
    check_file(path, 1, &c, px, 0, 0);
    assert_tiffinfo(path);
    unlink(path);
    free(path);
    free(px);
}
END_TEST

START_TEST(test_4gib_guard_huge_page_strip_api)
{
    /* a 5.4 GB page cannot go through a LONG lBufferSize, but can be
     * streamed: classic refuses up front, BigTIFF accepts */
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = mem_stream();
    WIAS_PAGE_WRITER *wr = NULL;
    WIAS_PAGE_OPTIONS o;
    ULONGLONG worst = 0;

    tu_init_ctx(&c, 60000, 30000, 24, WIA_COMPRESSION_NONE, 180000, NULL);
    c.lBufferSize = 0;
    ck_assert_int_eq(wiasWorstCasePageSize(&c, FALSE, &worst), S_OK);
    ck_assert_uint_gt(worst, 5400000000ull);
    ck_assert_int_eq(wiasWritePageBegin(&c, s, NULL, &wr), STG_E_MEDIUMFULL);
    ck_assert_ptr_null(wr);
    ck_assert_uint_eq(mem_size(s), 0);
    memset(&o, 0, sizeof o);
    o.cbSize = sizeof o;
    o.ulFlags = WIAS_PAGE_BIGTIFF;
    ck_assert_int_eq(wiasWritePageBegin(&c, s, &o, &wr), S_OK);
    wiasWritePageAbort(wr);
    ck_assert_uint_eq(mem_size(s), 0);
    /* LZW's worst case is 1.5x: a 3 GB gray page is refused in classic */
    tu_init_ctx(&c, 60000, 50000, 8, WIAS_COMPRESSION_LZW, 60000, NULL);
    ck_assert_int_eq(wiasWritePageBegin(&c, s, NULL, &wr), STG_E_MEDIUMFULL);
    tu_init_ctx(&c, 60000, 50000, 8, WIA_COMPRESSION_NONE, 60000, NULL);
    ck_assert_int_eq(wiasWritePageBegin(&c, s, NULL, &wr), S_OK);
    wiasWritePageAbort(wr);
    s->lpVtbl->Release(s);
}
END_TEST

START_TEST(test_bigtiff_past_4gib)
{
    char *path = tu_temp_path("big");
    LONG w = 120, h = 90;
    BYTE *px[3];
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = NULL;
    WIAS_PAGE_OPTIONS o;
    int fd = open(path, O_RDWR | O_TRUNC);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(wiasCreateStreamOnFd(fd, TRUE, &s), S_OK);
    memset(&o, 0, sizeof o);
    o.cbSize = sizeof o;
    o.ulFlags = WIAS_PAGE_BIGTIFF;
    memset(&c, 0, sizeof c);
    for (int p = 0; p < 3; p++) {
        LONG page = c.lPage, cur = c.lCurIfdOffset;
        px[p] = tu_make_page(w, h, 24, w * 3, (unsigned)p);
        tu_init_ctx(&c, w, h, 24, WIAS_COMPRESSION_DEFLATE, w * 3, px[p]);
        c.lPage = page;
        c.lCurIfdOffset = cur;
        ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), S_OK);
        if (p == 0) /* skip 5 GiB ahead (sparse) */
            ck_assert_int_eq(ftruncate(fd, 5ll << 30), 0);
    }
    s->lpVtbl->Release(s);
    ck_assert_int_eq(tu_count_pages(path), 3);
    for (int p = 0; p < 3; p++) {
        tu_init_ctx(&c, w, h, 24, WIAS_COMPRESSION_DEFLATE, w * 3, px[p]);
        check_file(path, p, &c, px[p], 0, 0);
        free(px[p]);
    }
    assert_tiffinfo(path);
    unlink(path);
    free(path);
}
END_TEST

/* Appending to a big-endian ("MM") file written by libtiff itself: the
 * writer follows the file's byte order, swapping 16-bit samples on a copy. */
START_TEST(test_append_to_foreign_big_endian)
{
    char *path = tu_temp_path("mm");
    LONG w = 70, h = 33;
    BYTE *px16 = tu_make_page(w, h, 16, 2 * w, 4);
    BYTE *px8 = tu_make_page(w, h, 8, w, 5);
    BYTE *copy16 = malloc((size_t)(2 * w * h));
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = NULL;
    TIFF *t;
    ULONGLONG ifd0;
    char b[2];
    int fd;

    t = TIFFOpen(path, "wb");
    ck_assert_ptr_nonnull(t);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)h);
    TIFFSetField(t, TIFFTAG_XRESOLUTION, 300.0);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, 200.0);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    TIFFSetField(t, TIFFTAG_SUBFILETYPE, (uint32_t)FILETYPE_PAGE);
    TIFFSetField(t, TIFFTAG_PAGENUMBER, 0, 0);
    ck_assert_int_eq((int)TIFFWriteEncodedStrip(t, 0, px8, (tmsize_t)w * h), (int)(w * h));
    ck_assert(TIFFWriteDirectory(t));
    TIFFClose(t);
    t = TIFFOpen(path, "r");
    ifd0 = TIFFCurrentDirOffset(t);
    TIFFClose(t);

    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)pread(fd, b, 2, 0), 2);
    ck_assert_mem_eq(b, "MM", 2);
    ck_assert_int_eq(wiasCreateStreamOnFd(fd, TRUE, &s), S_OK);
    memcpy(copy16, px16, (size_t)(2 * w * h));
    tu_init_ctx(&c, w, h, 16, WIAS_COMPRESSION_LZW, 2 * w, px16);
    c.lPage = 1;
    c.lCurIfdOffset = (LONG)ifd0;
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    ck_assert_mem_eq(copy16, px16, (size_t)(2 * w * h)); /* not swapped in place */
    tu_init_ctx(&c, w, h, 16, WIA_COMPRESSION_NONE, 2 * w, px16);
    c.lPage = 2;
    c.lCurIfdOffset = (LONG)ifd0;
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), E_INVALIDARG); /* stale: not the last IFD */
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), E_INVALIDARG);
    s->lpVtbl->Release(s);

    ck_assert_int_eq(tu_count_pages(path), 2);
    tu_init_ctx(&c, w, h, 16, WIAS_COMPRESSION_LZW, 2 * w, px16);
    check_file(path, 1, &c, px16, 0, 0);
    tu_init_ctx(&c, w, h, 8, WIA_COMPRESSION_NONE, w, px8);
    check_file(path, 0, &c, px8, 0, ifd0);
    assert_tiffinfo(path);
    unlink(path);
    free(path);
    free(px16);
    free(px8);
    free(copy16);
}
END_TEST

/* ---- file functions and image information ------------------------------ */

START_TEST(test_file_writers)
{
    char *path = tu_temp_path("fd");
    LONG w = 77, h = 55;
    BYTE *px = tu_make_page(w, h, 1, (LONG)tu_row_bytes(w, 1), 2);
    MINIDRV_TRANSFER_CONTEXT c;
    int fd = open(path, O_RDWR | O_TRUNC);
    char buf[16];

    ck_assert_int_ge(fd, 0);
    tu_init_ctx(&c, w, h, 1, WIA_COMPRESSION_G4, (LONG)tu_row_bytes(w, 1), px);
    c.hFile = fd;
    for (int p = 0; p < 3; p++)
        ck_assert_int_eq(wiasWritePageBufToFile(&c), S_OK);
    ck_assert_int_eq(c.lPage, 3);
    ck_assert_int_eq(tu_count_pages(path), 3);
    check_file(path, 2, &c, px, 0, (ULONG)c.lCurIfdOffset);
    assert_tiffinfo(path);

    /* wiasWriteBufToFile: raw bytes at the fd's offset */
    ck_assert_int_eq(ftruncate(fd, 0), 0);
    ck_assert_int_eq((int)lseek(fd, 0, SEEK_SET), 0);
    c.pTransferBuffer = (BYTE *)"0123456789";
    c.lBufferSize = 10;
    c.lItemSize = 10;
    ck_assert_int_eq(wiasWriteBufToFile(0, &c), S_OK);
    ck_assert_int_eq(wiasWriteBufToFile(1, &c), E_INVALIDARG);
    ck_assert_int_eq(wiasWriteBufToFile(0, NULL), E_POINTER);
    c.lItemSize = 11;
    ck_assert_int_eq(wiasWriteBufToFile(0, &c), E_INVALIDARG);
    c.lItemSize = 4;
    ck_assert_int_eq(wiasWriteBufToFile(0, &c), S_OK);
    c.hFile = -3;
    ck_assert_int_eq(wiasWriteBufToFile(0, &c), E_HANDLE);
    ck_assert_int_eq((int)pread(fd, buf, sizeof buf, 0), 14);
    ck_assert_mem_eq(buf, "01234567890123", 14);
    close(fd);
    unlink(path);
    free(path);
    free(px);
}
END_TEST

START_TEST(test_image_information)
{
    MINIDRV_TRANSFER_CONTEXT c;
    WIAS_ITEM_PROPERTIES item;
    BYTE hdr[2048];

    memset(&c, 0, sizeof c);
    memset(&item, 0, sizeof item);
    item.lPixelsPerLine = 101;
    item.lNumberOfLines = 50;
    item.lDepth = 24;
    item.lXRes = 300;
    item.lYRes = 300;
    item.guidFormat = WiaImgFmt_TIFF;
    item.lTymed = TYMED_MULTIPAGE_FILE;
    c.lPage = 7;
    c.lCurIfdOffset = 1234;
    ck_assert_int_eq(wiasGetImageInformation((BYTE *)&item, WIAS_INIT_CONTEXT, &c), S_OK);
    ck_assert_int_eq(c.lSize, (LONG)sizeof c);
    ck_assert_int_eq(c.lWidthInPixels, 101);
    ck_assert_int_eq(c.tymed, TYMED_MULTIPAGE_FILE);
    ck_assert_int_eq(c.cbWidthInBytes, 303);
    ck_assert_int_eq(c.lImageSize, 303 * 50);
    ck_assert_int_eq(c.lHeaderSize, 0);
    ck_assert_int_eq(c.lItemSize, 0);
    ck_assert_int_eq(c.lPage, 0);
    ck_assert_int_eq(c.lCurIfdOffset, 0);

    /* BMP: DWORD-aligned rows, file + info header, header written */
    c.guidFormatID = WiaImgFmt_BMP;
    c.pTransferBuffer = hdr;
    c.lBufferSize = sizeof hdr;
    ck_assert_int_eq(wiasGetImageInformation(NULL, 0, &c), S_OK);
    ck_assert_int_eq(c.cbWidthInBytes, 304);
    ck_assert_int_eq(c.lHeaderSize, 54);
    ck_assert_int_eq(c.lItemSize, 54 + 304 * 50);
    ck_assert_mem_eq(hdr, "BM", 2);
    ck_assert_int_eq(hdr[10], 54);
    ck_assert_int_eq(hdr[28], 24);
    /* MEMORYBMP 8-bit: info header + 256-entry palette */
    c.guidFormatID = WiaImgFmt_MEMORYBMP;
    c.lDepth = 8;
    ck_assert_int_eq(wiasGetImageInformation(NULL, 0, &c), S_OK);
    ck_assert_int_eq(c.cbWidthInBytes, 104);
    ck_assert_int_eq(c.lHeaderSize, 40 + 1024);
    ck_assert_int_eq(hdr[0], 40);
    ck_assert_int_eq(hdr[40 + 4 * 255], 255);
    c.lBufferSize = 100;
    ck_assert_int_eq(wiasGetImageInformation(NULL, 0, &c), E_INVALIDARG);
    c.lBufferSize = sizeof hdr;
    c.lDepth = 12;
    ck_assert_int_eq(wiasGetImageInformation(NULL, 0, &c), E_INVALIDARG);
    /* errors */
    ck_assert_int_eq(wiasGetImageInformation(NULL, 0, NULL), E_POINTER);
    ck_assert_int_eq(wiasGetImageInformation(NULL, WIAS_INIT_CONTEXT, &c), E_POINTER);
    ck_assert_int_eq(wiasGetImageInformation(NULL, 2, &c), E_INVALIDARG);
    c.lDepth = 8;
    c.lWidthInPixels = 0;
    ck_assert_int_eq(wiasGetImageInformation(NULL, 0, &c), E_INVALIDARG);
    c.lWidthInPixels = 60000;
    c.lLines = 60000;
    ck_assert_int_eq(wiasGetImageInformation(NULL, 0, &c), E_INVALIDARG);
}
END_TEST

START_TEST(test_codes_and_types)
{
    ck_assert_uint_eq(sizeof(LONG), 4);
    ck_assert_uint_eq(sizeof(ULONG), 4);
    ck_assert_uint_eq(sizeof(BOOL), 4);
    ck_assert_uint_eq(sizeof(HRESULT), 4);
    ck_assert_uint_eq(sizeof(GUID), 16);
    ck_assert_uint_eq(sizeof(LARGE_INTEGER), 8);
    ck_assert_uint_eq((uint32_t)WIA_ERROR_PAPER_JAM, 0x80210002u);
    ck_assert_uint_eq((uint32_t)WIA_ERROR_MULTI_FEED, 0x80210014u);
    ck_assert_uint_eq((uint32_t)WIA_ERROR_MAXIMUM_PRINTER_ENDORSER_COUNTER, 0x80210015u);
    ck_assert_uint_eq((uint32_t)WIA_STATUS_END_OF_MEDIA, 0x00210001u);
    ck_assert_uint_eq((uint32_t)E_INVALIDARG, 0x80070057u);
    ck_assert_uint_eq((uint32_t)STG_E_MEDIUMFULL, 0x80030070u);
    ck_assert(FAILED(E_POINTER) && SUCCEEDED(S_FALSE) && SUCCEEDED(WIA_STATUS_END_OF_MEDIA));
    {
        LARGE_INTEGER x;
        x.QuadPart = -2;
        ck_assert_uint_eq(x.LowPart, 0xFFFFFFFEu);
        ck_assert_int_eq(x.HighPart, -1);
        ck_assert_uint_eq(x.u.LowPart, 0xFFFFFFFEu);
    }
    ck_assert_str_eq(wiasHresultName(WIA_ERROR_PAPER_JAM), "WIA_ERROR_PAPER_JAM");
    ck_assert_str_eq(wiasHresultName(WIA_STATUS_END_OF_MEDIA), "WIA_STATUS_END_OF_MEDIA");
    ck_assert_str_eq(wiasHresultName(STG_E_MEDIUMFULL), "STG_E_MEDIUMFULL");
    ck_assert_str_eq(wiasHresultName(S_OK), "S_OK");
    ck_assert_ptr_null(wiasHresultName((HRESULT)0x80211234u));
    ck_assert_uint_eq(WiaImgFmt_TIFF.Data1, 0xb96b3cb1u);
    ck_assert_uint_eq(WiaImgFmt_MEMORYBMP.Data1, 0xb96b3caau);
    ck_assert_uint_eq(WiaImgFmt_TIFF.Data4[7], 0x2e);
}
END_TEST

/* Every Windows constant and layout against the values in Microsoft's
 * headers (wiadef.h, winerror.h, objidl.h, wiamindr_lh.h; cross-checked
 * with the SDK metadata published as windows-sys). Layouts are for a
 * 64-bit Windows (LLP64) target, which LP64 Linux reproduces when LONG is
 * 32 bits. */
START_TEST(test_windows_values)
{
    const struct {
        const char *name;
        uint32_t got;
        uint32_t want;
    } v[] = {
#define V(name, want) {#name, (uint32_t)(name), (want)}
        V(WIA_ERROR_GENERAL_ERROR, 0x80210001u),
        V(WIA_ERROR_PAPER_JAM, 0x80210002u),
        V(WIA_ERROR_PAPER_EMPTY, 0x80210003u),
        V(WIA_ERROR_PAPER_PROBLEM, 0x80210004u),
        V(WIA_ERROR_OFFLINE, 0x80210005u),
        V(WIA_ERROR_BUSY, 0x80210006u),
        V(WIA_ERROR_WARMING_UP, 0x80210007u),
        V(WIA_ERROR_USER_INTERVENTION, 0x80210008u),
        V(WIA_ERROR_ITEM_DELETED, 0x80210009u),
        V(WIA_ERROR_DEVICE_COMMUNICATION, 0x8021000Au),
        V(WIA_ERROR_INVALID_COMMAND, 0x8021000Bu),
        V(WIA_ERROR_INCORRECT_HARDWARE_SETTING, 0x8021000Cu),
        V(WIA_ERROR_DEVICE_LOCKED, 0x8021000Du),
        V(WIA_ERROR_EXCEPTION_IN_DRIVER, 0x8021000Eu),
        V(WIA_ERROR_INVALID_DRIVER_RESPONSE, 0x8021000Fu),
        V(WIA_ERROR_COVER_OPEN, 0x80210010u),
        V(WIA_ERROR_LAMP_OFF, 0x80210011u),
        V(WIA_ERROR_DESTINATION, 0x80210012u),
        V(WIA_ERROR_NETWORK_RESERVATION_FAILED, 0x80210013u),
        V(WIA_ERROR_MULTI_FEED, 0x80210014u),
        V(WIA_ERROR_MAXIMUM_PRINTER_ENDORSER_COUNTER, 0x80210015u),
        V(WIA_STATUS_END_OF_MEDIA, 0x00210001u),
        V(WIA_STATUS_WARMING_UP, 0x00210002u),
        V(WIA_STATUS_CALIBRATING, 0x00210003u),
        V(WIA_STATUS_RESERVING_NETWORK_DEVICE, 0x00210006u),
        V(WIA_STATUS_NETWORK_DEVICE_RESERVED, 0x00210007u),
        V(WIA_STATUS_CLEAR, 0x00210008u),
        V(WIA_STATUS_SKIP_ITEM, 0x00210009u),
        V(WIA_STATUS_NOT_HANDLED, 0x0021000Au),
        V(S_OK, 0),
        V(S_FALSE, 1),
        V(E_NOTIMPL, 0x80004001u),
        V(E_NOINTERFACE, 0x80004002u),
        V(E_POINTER, 0x80004003u),
        V(E_ABORT, 0x80004004u),
        V(E_FAIL, 0x80004005u),
        V(E_UNEXPECTED, 0x8000FFFFu),
        V(E_ACCESSDENIED, 0x80070005u),
        V(E_HANDLE, 0x80070006u),
        V(E_OUTOFMEMORY, 0x8007000Eu),
        V(E_INVALIDARG, 0x80070057u),
        V(STG_E_INVALIDFUNCTION, 0x80030001u),
        V(STG_E_FILENOTFOUND, 0x80030002u),
        V(STG_E_PATHNOTFOUND, 0x80030003u),
        V(STG_E_TOOMANYOPENFILES, 0x80030004u),
        V(STG_E_ACCESSDENIED, 0x80030005u),
        V(STG_E_INVALIDHANDLE, 0x80030006u),
        V(STG_E_INSUFFICIENTMEMORY, 0x80030008u),
        V(STG_E_INVALIDPOINTER, 0x80030009u),
        V(STG_E_NOMOREFILES, 0x80030012u),
        V(STG_E_DISKISWRITEPROTECTED, 0x80030013u),
        V(STG_E_SEEKERROR, 0x80030019u),
        V(STG_E_WRITEFAULT, 0x8003001Du),
        V(STG_E_READFAULT, 0x8003001Eu),
        V(STG_E_SHAREVIOLATION, 0x80030020u),
        V(STG_E_LOCKVIOLATION, 0x80030021u),
        V(STG_E_FILEALREADYEXISTS, 0x80030050u),
        V(STG_E_INVALIDPARAMETER, 0x80030057u),
        V(STG_E_MEDIUMFULL, 0x80030070u),
        V(STG_E_INVALIDHEADER, 0x800300FBu),
        V(STG_E_UNIMPLEMENTEDFUNCTION, 0x800300FEu),
        V(STG_E_INVALIDFLAG, 0x800300FFu),
        V(STG_E_REVERTED, 0x80030102u),
        V(STG_E_CANTSAVE, 0x80030103u),
        V(WIA_COMPRESSION_NONE, 0),
        V(WIA_COMPRESSION_BI_RLE4, 1),
        V(WIA_COMPRESSION_BI_RLE8, 2),
        V(WIA_COMPRESSION_G3, 3),
        V(WIA_COMPRESSION_G4, 4),
        V(WIA_COMPRESSION_JPEG, 5),
        V(WIA_COMPRESSION_JBIG, 6),
        V(WIA_COMPRESSION_JPEG2K, 7),
        V(WIA_COMPRESSION_PNG, 8),
        V(WIA_COMPRESSION_AUTO, 100),
        V(WIA_DATA_THRESHOLD, 0),
        V(WIA_DATA_GRAYSCALE, 2),
        V(WIA_DATA_COLOR, 3),
        V(WIA_DATA_COLOR_DITHER, 5),
        V(WIA_PACKED_PIXEL, 0),
        V(WIA_PLANAR, 1),
        V(WIA_IPA_FIRST, 4098),
        V(WIA_IPA_DATATYPE, 4103),
        V(WIA_IPA_DEPTH, 4104),
        V(WIA_IPA_PREFERRED_FORMAT, 4105),
        V(WIA_IPA_FORMAT, 4106),
        V(WIA_IPA_COMPRESSION, 4107),
        V(WIA_IPA_TYMED, 4108),
        V(WIA_IPA_CHANNELS_PER_PIXEL, 4109),
        V(WIA_IPA_BITS_PER_CHANNEL, 4110),
        V(WIA_IPA_PLANAR, 4111),
        V(WIA_IPA_PIXELS_PER_LINE, 4112),
        V(WIA_IPA_BYTES_PER_LINE, 4113),
        V(WIA_IPA_NUMBER_OF_LINES, 4114),
        V(WIA_IPA_ITEM_SIZE, 4116),
        V(WIA_IPA_BUFFER_SIZE, 4118),
        V(WIA_IPA_MIN_BUFFER_SIZE, 4118),
        V(WIA_IPA_FILENAME_EXTENSION, 4123),
        V(WIA_IPA_RAW_BITS_PER_CHANNEL, 4128),
        V(WIA_IPS_CUR_INTENT, 6146),
        V(WIA_IPS_XRES, 6147),
        V(WIA_IPS_YRES, 6148),
        V(WIA_IPS_XPOS, 6149),
        V(WIA_IPS_YPOS, 6150),
        V(WIA_IPS_XEXTENT, 6151),
        V(WIA_IPS_YEXTENT, 6152),
        V(WIA_IPS_PHOTOMETRIC_INTERP, 6153),
        V(WIA_IPS_WARM_UP_TIME, 6161),
        V(IT_MSG_DATA_HEADER, 1),
        V(IT_MSG_DATA, 2),
        V(IT_MSG_STATUS, 3),
        V(IT_MSG_TERMINATION, 4),
        V(IT_MSG_NEW_PAGE, 5),
        V(IT_MSG_FILE_PREVIEW_DATA_HEADER, 7),
        V(IT_STATUS_TRANSFER_FROM_DEVICE, 1),
        V(IT_STATUS_PROCESSING_DATA, 2),
        V(IT_STATUS_TRANSFER_TO_CLIENT, 4),
        V(TYMED_NULL, 0),
        V(TYMED_HGLOBAL, 1),
        V(TYMED_FILE, 2),
        V(TYMED_ISTREAM, 4),
        V(TYMED_ISTORAGE, 8),
        V(TYMED_GDI, 16),
        V(TYMED_MFPICT, 32),
        V(TYMED_ENHMF, 64),
        V(TYMED_CALLBACK, 128),
        V(TYMED_MULTIPAGE_FILE, 256),
        V(TYMED_MULTIPAGE_CALLBACK, 512),
        V(STREAM_SEEK_SET, 0),
        V(STREAM_SEEK_CUR, 1),
        V(STREAM_SEEK_END, 2),
        V(STGTY_STREAM, 2),
        V(STATFLAG_NONAME, 1),
        V(STGM_READWRITE, 2),
        V(STGM_CREATE, 0x1000),
        V(WIAS_LOCK_WRITE, 1),
        V(WIAS_LOCK_EXCLUSIVE, 2),
        V(WIAS_LOCK_ONLYONCE, 4),
        V(LOCK_EXCLUSIVE, 2),
        V(LOCK_ONLYONCE, 4),
        V(WiaImgFmt_UNDEFINED.Data1, 0xb96b3ca9u),
        V(WiaImgFmt_MEMORYBMP.Data1, 0xb96b3caau),
        V(WiaImgFmt_BMP.Data1, 0xb96b3cabu),
        V(WiaImgFmt_EMF.Data1, 0xb96b3cacu),
        V(WiaImgFmt_WMF.Data1, 0xb96b3cadu),
        V(WiaImgFmt_JPEG.Data1, 0xb96b3caeu),
        V(WiaImgFmt_PNG.Data1, 0xb96b3cafu),
        V(WiaImgFmt_GIF.Data1, 0xb96b3cb0u),
        V(WiaImgFmt_TIFF.Data1, 0xb96b3cb1u),
        V(WiaImgFmt_EXIF.Data1, 0xb96b3cb2u),
        V(WiaImgFmt_PHOTOCD.Data1, 0xb96b3cb3u),
        V(WiaImgFmt_FLASHPIX.Data1, 0xb96b3cb4u),
        V(WiaImgFmt_ICO.Data1, 0xb96b3cb5u),
        V(WiaImgFmt_RAWRGB.Data1, 0xbca48b55u),
        V(WiaImgFmt_CIFF.Data1, 0x9821a8abu),
        V(WiaImgFmt_PICT.Data1, 0xa6bc85d8u),
        V(WiaImgFmt_JPEG2K.Data1, 0x344ee2b2u),
        V(WiaImgFmt_JPEG2KX.Data1, 0x43e14614u),
        V(WiaImgFmt_RAW.Data1, 0x6f120719u),
        V(WiaImgFmt_RAW.Data2, 0xf1a8u),
        V(WiaImgFmt_RAW.Data3, 0x4e07u),
        V(WiaImgFmt_JBIG.Data1, 0x41e8dd92u),
        V(WiaImgFmt_JBIG2.Data1, 0xbb8e7e67u),
        V(WiaImgFmt_RTF.Data1, 0x573dd6a3u),
        V(WiaImgFmt_XML.Data1, 0xb9171457u),
        V(WiaImgFmt_HTML.Data1, 0xc99a4e62u),
        V(WiaImgFmt_TXT.Data1, 0xfafd4d82u),
        V(WiaImgFmt_PDFA.Data1, 0x9980bd5bu),
        V(WiaImgFmt_XPS.Data1, 0x700b4a0fu),
        V(WiaImgFmt_OXPS.Data1, 0x2c7b1240u),
        V(WiaImgFmt_CSV.Data1, 0x355bda24u),
        V(WiaImgFmt_MPG.Data1, 0xecd757e4u),
        V(WiaImgFmt_AVI.Data1, 0x32f8ca14u),
        V(WiaImgFmt_ASF.Data1, 0x8d948ee9u),
        V(WiaImgFmt_SCRIPT.Data1, 0xfe7d6c53u),
        V(WiaImgFmt_EXEC.Data1, 0x485da097u),
        V(WiaImgFmt_UNICODE16.Data1, 0x1b7639b6u),
        V(WiaImgFmt_DPOF.Data1, 0x369eeeabu),
        V(WiaImgFmt_XMLBAR.Data1, 0x6235701cu),
        V(WiaImgFmt_RAWBAR.Data1, 0xda63f833u),
        V(WiaImgFmt_XMLPAT.Data1, 0xf8986f55u),
        V(WiaImgFmt_RAWPAT.Data1, 0x7760507cu),
        V(WiaImgFmt_XMLMIC.Data1, 0x2d164c61u),
        V(WiaImgFmt_RAWMIC.Data1, 0x22c4f058u),
        V(WiaAudFmt_WAV.Data1, 0xf818e146u),
        V(WiaAudFmt_MP3.Data1, 0x0fbc71fbu),
        V(WiaAudFmt_AIFF.Data1, 0x66e2bf4fu),
        V(WiaAudFmt_WMA.Data1, 0xd61d6413u),
        V(IID_IWiaMiniDrvCallBack.Data1, 0x33a57d5au),
        V(IID_IWiaMiniDrvCallBack.Data2, 0x3de8u),
        V(IID_IWiaMiniDrvCallBack.Data3, 0x11d2u),
        V(IID_IStream.Data1, 0x0000000cu),
        V(IID_ISequentialStream.Data1, 0x0c733a30u),
        V(IID_ISequentialStream.Data2, 0x2a1cu),
        V(IID_ISequentialStream.Data3, 0x11ceu),
        /* MINIDRV_TRANSFER_CONTEXT, documented order, x64 offsets */
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, lSize), 0),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, lCompression), 24),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, guidFormatID), 28),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, tymed), 44),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, hFile), 48),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, cbOffset), 56),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, lNumBuffers), 68),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, pBaseBuffer), 72),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, pTransferBuffer), 80),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, bTransferDataCB), 88),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, bClassDrvAllocBuf), 92),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, lClientAddress), 96),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, pIWiaMiniDrvCallBack), 104),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, lImageSize), 112),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, cbWidthInBytes), 124),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, lPage), 128),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, lCurIfdOffset), 132),
        V(offsetof(MINIDRV_TRANSFER_CONTEXT, lPrevIfdOffset), 136),
        V(sizeof(MINIDRV_TRANSFER_CONTEXT), 144),
        /* STATSTG (objidl.h) */
        V(offsetof(STATSTG, type), 8),
        V(offsetof(STATSTG, cbSize), 16),
        V(offsetof(STATSTG, mtime), 24),
        V(offsetof(STATSTG, atime), 40),
        V(offsetof(STATSTG, grfMode), 48),
        V(offsetof(STATSTG, grfLocksSupported), 52),
        V(offsetof(STATSTG, clsid), 56),
        V(offsetof(STATSTG, grfStateBits), 72),
        V(offsetof(STATSTG, reserved), 76),
        V(sizeof(STATSTG), 80),
        /* IStream vtable order (objidl.h) */
        V(offsetof(IStreamVtbl, QueryInterface) / sizeof(void *), 0),
        V(offsetof(IStreamVtbl, AddRef) / sizeof(void *), 1),
        V(offsetof(IStreamVtbl, Release) / sizeof(void *), 2),
        V(offsetof(IStreamVtbl, Read) / sizeof(void *), 3),
        V(offsetof(IStreamVtbl, Write) / sizeof(void *), 4),
        V(offsetof(IStreamVtbl, Seek) / sizeof(void *), 5),
        V(offsetof(IStreamVtbl, SetSize) / sizeof(void *), 6),
        V(offsetof(IStreamVtbl, CopyTo) / sizeof(void *), 7),
        V(offsetof(IStreamVtbl, Commit) / sizeof(void *), 8),
        V(offsetof(IStreamVtbl, Revert) / sizeof(void *), 9),
        V(offsetof(IStreamVtbl, LockRegion) / sizeof(void *), 10),
        V(offsetof(IStreamVtbl, UnlockRegion) / sizeof(void *), 11),
        V(offsetof(IStreamVtbl, Stat) / sizeof(void *), 12),
        V(offsetof(IStreamVtbl, Clone) / sizeof(void *), 13),
        V(sizeof(IStreamVtbl) / sizeof(void *), 14),
        V(sizeof(IUnknownVtbl) / sizeof(void *), 3),
        V(offsetof(ISequentialStreamVtbl, Read) / sizeof(void *), 3),
        V(offsetof(ISequentialStreamVtbl, Write) / sizeof(void *), 4),
        V(offsetof(IWiaMiniDrvCallBackVtbl, MiniDrvCallback) / sizeof(void *), 3),
        V(sizeof(IWiaMiniDrvCallBackVtbl) / sizeof(void *), 4),
        V(sizeof(HANDLE), sizeof(void *)),
        V((LONG_PTR)INVALID_HANDLE_VALUE, (uint32_t)-1),
        V(sizeof(LOCKTYPE), 4),
#undef V
    };

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        ck_assert_msg(v[i].got == v[i].want, "%s is 0x%08X, Windows has 0x%08X", v[i].name,
                      (unsigned)v[i].got, (unsigned)v[i].want);
    for (size_t i = 0; i < 8; i++) {
        static const uint8_t tail[8] = {0x9d, 0x7b, 0x00, 0x00, 0xf8, 0x1e, 0xf3, 0x2e};
        static const uint8_t seq[8] = {0xad, 0xe5, 0x00, 0xaa, 0x00, 0x44, 0x77, 0x3d};
        ck_assert_uint_eq(WiaImgFmt_TIFF.Data4[i], tail[i]);
        ck_assert_uint_eq(WiaImgFmt_BMP.Data4[i], tail[i]);
        ck_assert_uint_eq(IID_ISequentialStream.Data4[i], seq[i]);
        ck_assert_uint_eq(IID_IStream.Data4[i], i == 0 ? 0xc0 : i == 7 ? 0x46 : 0);
    }
    {
        /* Data4 of a few GUIDs outside the b96b3cXX family, byte for byte */
        static const uint8_t raw[8] = {0x9a, 0xde, 0x9b, 0x64, 0xc6, 0x3a, 0x3d, 0xcc};
        static const uint8_t cb[8] = {0x9a, 0x36, 0x00, 0xc0, 0x4f, 0xa3, 0x61, 0x45};
        static const uint8_t rtf[8] = {0xa9, 0xb5, 0xe1, 0x98, 0xdd, 0x9e, 0x89, 0x0d};
        ck_assert_mem_eq(WiaImgFmt_RAW.Data4, raw, 8);
        ck_assert_mem_eq(IID_IWiaMiniDrvCallBack.Data4, cb, 8);
        ck_assert_mem_eq(WiaImgFmt_RTF.Data4, rtf, 8);
        ck_assert(InlineIsEqualGUID(&WiaImgFmt_RAW, &WiaImgFmt_RAW));
        ck_assert(!InlineIsEqualGUID(&WiaImgFmt_RAW, &WiaImgFmt_RAWRGB));
        ck_assert(IsEqualGUID(&IID_NULL, &GUID_NULL));
    }
    ck_assert_uint_eq(WiaImgFmt_TIFF.Data2, 0x0728);
    ck_assert_uint_eq(WiaImgFmt_TIFF.Data3, 0x11d3);
}
END_TEST

/* LOCKTYPE next to <fcntl.h>: the three compile tests (locktype_*.c) built
 * and their streams calls behave. */
START_TEST(test_locktype_with_fcntl)
{
    IStream *s = mem_stream();

    ck_assert(wias_locktype_fcntl_first(s));
    ck_assert(wias_locktype_fcntl_last(s));
    ck_assert(wias_locktype_no_gnu(s));
    s->lpVtbl->Release(s);
}
END_TEST

START_TEST(test_minidriver_style)
{
    IStream *s = mem_stream();
    LONG n = 0;
    ULONG total = 0;
    char *path;

    ck_assert_int_eq(SampleDrvTransferPages(s, 4, 24, WIA_COMPRESSION_JPEG, &n), S_OK);
    ck_assert_int_eq(n, 4);
    path = tu_stream_to_tempfile(s);
    ck_assert_int_eq(tu_count_pages(path), 4);
    assert_tiffinfo(path);
    unlink(path);
    free(path);
    s->lpVtbl->Release(s);
    ck_assert_int_eq(SampleDrvWriteThroughCustomStream(3, &total, &n), S_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_gt(total, 3000);
}
END_TEST

/* LONG inputs near INT32_MAX: the worst-case size must never wrap (it is
 * what the 4 GiB guard trusts), for every codec. */
START_TEST(test_worst_case_no_overflow)
{
    static const struct {
        LONG depth;
        LONG compression;
    } m[] = {
        {1, WIA_COMPRESSION_NONE},  {1, WIA_COMPRESSION_G4},       {8, WIA_COMPRESSION_JPEG},
        {8, WIAS_COMPRESSION_LZW},  {8, WIAS_COMPRESSION_DEFLATE}, {24, WIA_COMPRESSION_JPEG},
        {48, WIAS_COMPRESSION_LZW},
    };
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = mem_stream();
    WIAS_PAGE_WRITER *wr = NULL;
    WIAS_PAGE_OPTIONS o;
    ULONGLONG worst;

    memset(&o, 0, sizeof o);
    o.cbSize = sizeof o;
    o.ulFlags = WIAS_PAGE_BIGTIFF;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        LONG width = (LONG)(((int64_t)INT32_MAX * 8) / m[i].depth); /* row fits a LONG stride */
        ULONGLONG raw;

        if (width < 0 || (int64_t)width * m[i].depth / 8 > INT32_MAX)
            width = INT32_MAX;
        while (((ULONGLONG)width * (ULONGLONG)m[i].depth + 7) / 8 > INT32_MAX)
            width--;
        tu_init_ctx(&c, width, INT32_MAX, m[i].depth, m[i].compression, INT32_MAX, NULL);
        c.lBufferSize = 0;
        raw = ((ULONGLONG)width * (ULONGLONG)m[i].depth + 7) / 8 * (ULONGLONG)INT32_MAX;
        worst = 0;
        ck_assert_int_eq(wiasWorstCasePageSize(&c, TRUE, &worst), S_OK);
        ck_assert_msg(worst >= raw, "depth %ld codec %ld: worst case %llu < raw %llu (wrapped)",
                      (long)m[i].depth, (long)m[i].compression, (unsigned long long)worst,
                      (unsigned long long)raw);
        ck_assert_int_eq(wiasWritePageBegin(&c, s, NULL, &wr), STG_E_MEDIUMFULL);
        ck_assert_ptr_null(wr);
    }
    /* negative and zero sizes are refused, never wrapped into huge ones */
    tu_init_ctx(&c, 100, 100, 8, WIA_COMPRESSION_NONE, 100, NULL);
    c.lLines = INT32_MIN;
    ck_assert_int_eq(wiasWorstCasePageSize(&c, TRUE, &worst), E_INVALIDARG);
    c.lLines = 100;
    c.cbWidthInBytes = -100;
    ck_assert_int_eq(wiasWorstCasePageSize(&c, TRUE, &worst), E_INVALIDARG);
    ck_assert_uint_eq(mem_size(s), 0);
    s->lpVtbl->Release(s);
}
END_TEST

/* A pipe cannot seek: the page writers and the stream fail cleanly,
 * nothing is written, and the context is untouched. */
START_TEST(test_pipe_is_clean_error)
{
    MINIDRV_TRANSFER_CONTEXT c, before;
    BYTE *page = tu_make_page(64, 16, 8, 64, 0);
    IStream *s;
    LARGE_INTEGER li;
    int fds[2];
    BYTE b;
    HRESULT hr;

    ck_assert_int_eq(pipe(fds), 0);
    tu_init_ctx(&c, 64, 16, 8, WIA_COMPRESSION_NONE, 64, page);
    c.hFile = fds[1];
    before = c;
    hr = wiasWritePageBufToFile(&c);
    ck_assert_msg(hr == STG_E_INVALIDFUNCTION, "pipe: %s", wiasHresultName(hr));
    ck_assert_mem_eq(&c, &before, sizeof c);
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    ck_assert_int_eq(read(fds[0], &b, 1), -1); /* nothing reached the pipe */
    ck_assert_int_eq(errno, EAGAIN);

    ck_assert_int_eq(wiasCreateStreamOnFd(fds[1], FALSE, &s), S_OK);
    li.QuadPart = 0;
    ck_assert_int_eq(s->lpVtbl->Seek(s, li, STREAM_SEEK_SET, NULL), STG_E_INVALIDFUNCTION);
    ck_assert_int_eq(s->lpVtbl->Seek(s, li, STREAM_SEEK_CUR, NULL), STG_E_INVALIDFUNCTION);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), STG_E_INVALIDFUNCTION);
    ck_assert_mem_eq(&c, &before, sizeof c);
    s->lpVtbl->Release(s);
    close(fds[0]);
    close(fds[1]);
    free(page);
}
END_TEST

/* BigTIFF: an IFD exactly at 4 GiB has 0 in the low 32 bits kept in
 * lCurIfdOffset; the next page must still append (not E_INVALIDARG). */
START_TEST(test_bigtiff_ifd_at_4gib)
{
    char *path = tu_temp_path("big4g");
    LONG w = 64, h = 16; /* 1024 raw bytes: the strip, then the IFD */
    BYTE *px = tu_make_page(w, h, 8, w, 7);
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *s = NULL;
    WIAS_PAGE_OPTIONS o;
    int fd = open(path, O_RDWR | O_TRUNC);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(wiasCreateStreamOnFd(fd, TRUE, &s), S_OK);
    memset(&o, 0, sizeof o);
    o.cbSize = sizeof o;
    o.ulFlags = WIAS_PAGE_BIGTIFF;
    tu_init_ctx(&c, w, h, 8, WIA_COMPRESSION_NONE, w, px);
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), S_OK);
    /* unreferenced sparse gap so page 1's strip ends exactly at 4 GiB */
    ck_assert_int_eq(ftruncate(fd, (4ll << 30) - (long long)w * h), 0);
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), S_OK);
    ck_assert_int_eq(c.lCurIfdOffset, 0); /* IFD at 0x100000000 */
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), S_OK);
    ck_assert_int_eq(c.lPage, 3);
    s->lpVtbl->Release(s);
    ck_assert_int_eq(tu_count_pages(path), 3);
    for (int p = 0; p < 3; p++)
        check_file(path, p, &c, px, 0, 0);
    unlink(path);
    free(path);
    free(px);
}
END_TEST

static Suite *wias_suite(void)
{
    Suite *s = suite_create("wias");
    TCase *tc;

    tc = tcase_create("streams");
    tcase_add_test(tc, test_memstream);
    tcase_add_test(tc, test_memstream_large);
    tcase_add_test(tc, test_filestream);
    tcase_add_test(tc, test_failstream);
    tcase_add_test(tc, test_codes_and_types);
    tcase_add_test(tc, test_windows_values);
    tcase_add_test(tc, test_locktype_with_fcntl);
    suite_add_tcase(s, tc);

    tc = tcase_create("pages");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_roundtrip, 0, NCOMBOS);
    tcase_add_loop_test(tc, test_strips_match_whole_page, 0, NCOMBOS);
    tcase_add_test(tc, test_strip_api_errors);
    tcase_add_test(tc, test_one_page);
    tcase_add_test(tc, test_two_pages);
    tcase_add_test(tc, test_fifty_pages);
    tcase_add_test(tc, test_short_writes_same_bytes);
    tcase_add_test(tc, test_file_writers);
    tcase_add_test(tc, test_image_information);
    tcase_add_test(tc, test_minidriver_style);
    wias_add_passthrough_tests(tc);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fail_mid_page3);
    tcase_add_loop_test(tc, test_bad_context, 0, NBAD);
    tcase_add_test(tc, test_bad_pointers_and_options);
    tcase_add_test(tc, test_4gib_guard_sparse_file);
    tcase_add_test(tc, test_4gib_guard_huge_page_strip_api);
    tcase_add_test(tc, test_bigtiff_past_4gib);
    tcase_add_test(tc, test_worst_case_no_overflow);
    tcase_add_test(tc, test_bigtiff_ifd_at_4gib);
    tcase_add_test(tc, test_pipe_is_clean_error);
    tcase_add_test(tc, test_append_to_foreign_big_endian);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wias_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
