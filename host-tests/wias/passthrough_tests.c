/*
 * The page writers with formats other than TIFF: the page buffer is written
 * unchanged (lItemSize bytes, header included) at the stream's position,
 * the context is not touched, and a failed page is undone where the stream
 * allows it. Part of test_wias (wias_add_passthrough_tests).
 */
#include "wias-passthrough-tests.h"
#include "wias-test-util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_LEN 100
#define ITEM    80
#define HEADER  14

static BYTE page_buf[BUF_LEN];

static IStream *mem_stream(void)
{
    IStream *s = NULL;

    ck_assert_int_eq(wiasCreateMemoryStream(&s), S_OK);
    return s;
}

static const BYTE *bytes_of(IStream *s, ULONGLONG *len)
{
    const BYTE *d = NULL;

    ck_assert_int_eq(wiasMemoryStreamGetBuffer(s, &d, len), S_OK);
    return d;
}

static ULONGLONG tell(IStream *s)
{
    LARGE_INTEGER zero;
    ULARGE_INTEGER pos;

    zero.QuadPart = 0;
    ck_assert_int_eq(s->lpVtbl->Seek(s, zero, STREAM_SEEK_CUR, &pos), S_OK);
    return pos.QuadPart;
}

static void seek_to(IStream *s, LONGLONG off)
{
    LARGE_INTEGER li;

    li.QuadPart = off;
    ck_assert_int_eq(s->lpVtbl->Seek(s, li, STREAM_SEEK_SET, NULL), S_OK);
}

static void put(IStream *s, const char *text)
{
    ULONG n = 0;

    ck_assert_int_eq(s->lpVtbl->Write(s, text, (ULONG)strlen(text), &n), S_OK);
    ck_assert_uint_eq(n, strlen(text));
}

/* A BMP-like page: a 14-byte "header", then bits; 80 bytes of a 100-byte
 * buffer are the item. Geometry is deliberately nonsense: a pass-through
 * page does not look at it. */
static void init_page(MINIDRV_TRANSFER_CONTEXT *c, const GUID *fmt)
{
    for (int i = 0; i < BUF_LEN; i++)
        page_buf[i] = (BYTE)(i * 7 + 1);
    memcpy(page_buf, "BMhdr", 5);
    memset(c, 0, sizeof *c);
    c->lSize = (LONG)sizeof *c;
    c->guidFormatID = *fmt;
    c->pTransferBuffer = page_buf;
    c->lBufferSize = BUF_LEN;
    c->lItemSize = ITEM;
    c->lHeaderSize = HEADER;
    c->lWidthInPixels = -3;
    c->lDepth = 7;
    c->lCompression = WIA_COMPRESSION_AUTO;
    c->lPage = 5;
    c->lCurIfdOffset = 1234;
    c->hFile = -1;
}

START_TEST(test_passthrough_at_position)
{
    static const GUID vendor = {0x12345678, 0x9abc, 0xdef0, {1, 2, 3, 4, 5, 6, 7, 8}};
    const GUID *fmts[] = {&WiaImgFmt_BMP,  &WiaImgFmt_MEMORYBMP, &WiaImgFmt_RAW, &WiaImgFmt_PNG,
                          &WiaImgFmt_JPEG, &WiaImgFmt_UNDEFINED, &vendor};

    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        MINIDRV_TRANSFER_CONTEXT c, saved;
        IStream *s = mem_stream();
        const BYTE *d;
        ULONGLONG len;

        init_page(&c, fmts[i]);
        saved = c;
        /* appended after what is there; lPage 0 does not truncate */
        put(s, "prefix");
        c.lPage = 0;
        saved.lPage = 0;
        ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
        ck_assert_mem_eq(&c, &saved, sizeof c);
        d = bytes_of(s, &len);
        ck_assert_uint_eq(len, 6 + ITEM);
        ck_assert_mem_eq(d, "prefix", 6);
        ck_assert_mem_eq(d + 6, page_buf, ITEM);
        ck_assert_uint_eq(tell(s), 6 + ITEM);

        /* a second page follows the first */
        ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
        d = bytes_of(s, &len);
        ck_assert_uint_eq(len, 6 + 2 * ITEM);
        ck_assert_mem_eq(d + 6 + ITEM, page_buf, ITEM);

        /* in the middle: overwrites from the seek pointer on */
        seek_to(s, 1);
        ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, NULL), S_OK);
        d = bytes_of(s, &len);
        ck_assert_uint_eq(len, 6 + 2 * ITEM);
        ck_assert_uint_eq(d[0], 'p');
        ck_assert_mem_eq(d + 1, page_buf, ITEM);
        ck_assert_uint_eq(tell(s), 1 + ITEM);
        s->lpVtbl->Release(s);
    }
}
END_TEST

/* GUID_NULL is TIFF; the strip API and the worst-case size are TIFF only. */
START_TEST(test_passthrough_format_choice)
{
    MINIDRV_TRANSFER_CONTEXT c;
    WIAS_PAGE_WRITER *w = (WIAS_PAGE_WRITER *)1;
    IStream *s = mem_stream();
    BYTE *px = tu_make_page(16, 4, 8, 16, 1);
    const BYTE *d;
    ULONGLONG len, worst;

    tu_init_ctx(&c, 16, 4, 8, WIA_COMPRESSION_NONE, 16, px);
    c.guidFormatID = GUID_NULL;
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    ck_assert_int_eq(c.lPage, 1);
    d = bytes_of(s, &len);
    ck_assert_mem_eq(d, "II*\0", 4);

    c.guidFormatID = WiaImgFmt_BMP;
    c.lPage = 0;
    ck_assert_int_eq(wiasWritePageBegin(&c, s, NULL, &w), E_INVALIDARG);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(wiasWorstCasePageSize(&c, FALSE, &worst), E_INVALIDARG);
    free(px);
    s->lpVtbl->Release(s);
}
END_TEST

static void m_item0(MINIDRV_TRANSFER_CONTEXT *c)
{
    c->lItemSize = 0;
}
static void m_item_neg(MINIDRV_TRANSFER_CONTEXT *c)
{
    c->lItemSize = -1;
}
static void m_header_neg(MINIDRV_TRANSFER_CONTEXT *c)
{
    c->lHeaderSize = -1;
}
static void m_header_big(MINIDRV_TRANSFER_CONTEXT *c)
{
    c->lHeaderSize = ITEM + 1;
}
static void m_buf_small(MINIDRV_TRANSFER_CONTEXT *c)
{
    c->lBufferSize = ITEM - 1;
}
static void m_buf_null(MINIDRV_TRANSFER_CONTEXT *c)
{
    c->pTransferBuffer = NULL;
}

static const struct {
    void (*fn)(MINIDRV_TRANSFER_CONTEXT *c);
    HRESULT hr;
    const char *name;
} bad[] = {
    {m_item0, E_INVALIDARG, "lItemSize 0 (size unknown)"},
    {m_item_neg, E_INVALIDARG, "lItemSize < 0"},
    {m_header_neg, E_INVALIDARG, "lHeaderSize < 0"},
    {m_header_big, E_INVALIDARG, "lHeaderSize > lItemSize"},
    {m_buf_small, E_INVALIDARG, "lBufferSize < lItemSize"},
    {m_buf_null, E_POINTER, "NULL pTransferBuffer"},
};

START_TEST(test_passthrough_bad_context)
{
    MINIDRV_TRANSFER_CONTEXT c, saved;
    WIAS_PAGE_OPTIONS o;
    IStream *s = mem_stream();
    const BYTE *d;
    ULONGLONG len;
    HRESULT hr;

    put(s, "keep");
    init_page(&c, &WiaImgFmt_BMP);
    bad[_i].fn(&c);
    saved = c;
    hr = wiasWritePageBufToStream(&c, s);
    ck_assert_msg(hr == bad[_i].hr, "%s: 0x%08X", bad[_i].name, (unsigned)hr);
    ck_assert_mem_eq(&c, &saved, sizeof c);
    d = bytes_of(s, &len);
    ck_assert_uint_eq(len, 4);
    ck_assert_mem_eq(d, "keep", 4);
    ck_assert_uint_eq(tell(s), 4);

    /* options: checked (cbSize), otherwise the TIFF settings do not apply */
    init_page(&c, &WiaImgFmt_BMP);
    memset(&o, 0, sizeof o);
    o.cbSize = sizeof o - 1;
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), E_INVALIDARG);
    o.cbSize = sizeof o;
    o.ulFlags = WIAS_PAGE_BIGTIFF;
    ck_assert_int_eq(wiasWritePageBufToStreamEx(&c, s, &o), S_OK);
    ck_assert_uint_eq(tell(s), 4 + ITEM);
    ck_assert_int_eq(wiasWritePageBufToStream(NULL, s), E_POINTER);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, NULL), E_POINTER);
    s->lpVtbl->Release(s);
}
END_TEST

/* A write error: an appended page is cut off again and the pointer put back;
 * if SetSize fails too the tail stays; an overwrite in the middle cannot be
 * undone, but the pointer still goes back. Short writes are no error. */
START_TEST(test_passthrough_write_failure)
{
    MINIDRV_TRANSFER_CONTEXT c;
    IStream *inner, *s;
    const BYTE *d;
    ULONGLONG len;

    init_page(&c, &WiaImgFmt_RAW);

    inner = mem_stream();
    put(inner, "prefix");
    ck_assert_int_eq(wiasCreateFailingStream(inner, 30, STG_E_MEDIUMFULL, 0, &s), S_OK);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), STG_E_MEDIUMFULL);
    d = bytes_of(inner, &len);
    ck_assert_uint_eq(len, 6);
    ck_assert_mem_eq(d, "prefix", 6);
    ck_assert_uint_eq(tell(inner), 6);
    s->lpVtbl->Release(s);
    inner->lpVtbl->Release(inner);

    inner = mem_stream();
    put(inner, "prefix");
    ck_assert_int_eq(
        wiasCreateFailingStream(inner, 30, STG_E_WRITEFAULT, WIAS_FAILSTREAM_SETSIZE_FAILS, &s),
        S_OK);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), STG_E_WRITEFAULT);
    (void)bytes_of(inner, &len);
    ck_assert_uint_eq(len, 6 + 30);
    ck_assert_uint_eq(tell(inner), 6);
    s->lpVtbl->Release(s);
    inner->lpVtbl->Release(inner);

    inner = mem_stream();
    for (int i = 0; i < 20; i++)
        put(inner, "0123456789");
    seek_to(inner, 2);
    ck_assert_int_eq(wiasCreateFailingStream(inner, 30, STG_E_WRITEFAULT, 0, &s), S_OK);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), STG_E_WRITEFAULT);
    d = bytes_of(inner, &len);
    ck_assert_uint_eq(len, 200);
    ck_assert_mem_eq(d + 2, page_buf, 30);
    ck_assert_uint_eq(tell(inner), 2);
    s->lpVtbl->Release(s);
    inner->lpVtbl->Release(inner);

    inner = mem_stream();
    ck_assert_int_eq(wiasCreateFailingStream(inner, 1u << 20, STG_E_WRITEFAULT,
                                             WIAS_FAILSTREAM_SHORT_WRITES, &s),
                     S_OK);
    c.lItemSize = BUF_LEN;
    c.lBufferSize = BUF_LEN;
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    d = bytes_of(inner, &len);
    ck_assert_uint_eq(len, BUF_LEN);
    ck_assert_mem_eq(d, page_buf, BUF_LEN);
    s->lpVtbl->Release(s);
    inner->lpVtbl->Release(inner);
}
END_TEST

/* wiasWritePageBufToFile: at hFile's offset, on a file and on a pipe. */
START_TEST(test_passthrough_file_writer)
{
    char *path = tu_temp_path("pass");
    int fd = open(path, O_RDWR | O_TRUNC);
    MINIDRV_TRANSFER_CONTEXT c, saved;
    BYTE got[6 + ITEM + 1];
    int fds[2];

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, "prefix", 6), 6);
    init_page(&c, &WiaImgFmt_BMP);
    c.hFile = fd;
    saved = c;
    ck_assert_int_eq(wiasWritePageBufToFile(&c), S_OK);
    ck_assert_mem_eq(&c, &saved, sizeof c);
    ck_assert_int_eq((int)lseek(fd, 0, SEEK_CUR), 6 + ITEM);
    ck_assert_int_eq((int)pread(fd, got, sizeof got, 0), 6 + ITEM);
    ck_assert_mem_eq(got, "prefix", 6);
    ck_assert_mem_eq(got + 6, page_buf, ITEM);
    c.hFile = -1;
    ck_assert_int_eq(wiasWritePageBufToFile(&c), E_HANDLE);
    close(fd);
    unlink(path);
    free(path);

    ck_assert_int_eq(pipe(fds), 0);
    c.hFile = fds[1];
    ck_assert_int_eq(wiasWritePageBufToFile(&c), S_OK);
    close(fds[1]);
    ck_assert_int_eq((int)read(fds[0], got, sizeof got), ITEM);
    ck_assert_mem_eq(got, page_buf, ITEM);
    close(fds[0]);
}
END_TEST

void wias_add_passthrough_tests(TCase *tc)
{
    tcase_add_test(tc, test_passthrough_at_position);
    tcase_add_test(tc, test_passthrough_format_choice);
    tcase_add_loop_test(tc, test_passthrough_bad_context, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, test_passthrough_write_failure);
    tcase_add_test(tc, test_passthrough_file_writer);
}
