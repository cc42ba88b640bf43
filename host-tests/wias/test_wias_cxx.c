/*
 * test_wias_cxx: minidriver source written for Windows, in C++ and in C,
 * against the compat headers; the C and C++ views of one COM object.
 *
 * The sample driver (sample_driver.cpp / .c) writes 3-page TIFFs through a
 * stream and through the file writer, a BMP and a MEMORYBMP and a RAW page
 * through the pass-through; C and C++ must produce the same bytes, the
 * pass-through the same bytes as the driver's own band-by-band
 * pStream->Write, and every pixel is checked.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "com_layout.h"
#include "sample_driver.h"
#include "wias-test-util.h"

#define W 97 /* odd: DIB rows get padding, TIFF rows do not */
#define H 40

typedef HRESULT (*acquire_fn)(BYTE *, LONG, PMINIDRV_TRANSFER_CONTEXT, IStream *, LONG, LONG *);

static const struct {
    const char *name;
    acquire_fn fn;
} drivers[] = {
    {"C++", SampleCxxAcquireItemData},
    {"C", SampleCAcquireItemData},
};

static IStream *mem_stream(void)
{
    IStream *s = NULL;

    ck_assert_int_eq(wiasCreateMemoryStream(&s), S_OK);
    return s;
}

static const BYTE *stream_bytes(IStream *s, ULONGLONG *len)
{
    const BYTE *d = NULL;

    ck_assert_int_eq(wiasMemoryStreamGetBuffer(s, &d, len), S_OK);
    return d;
}

/* Run one driver: the "service" sets up the item and the context. */
static HRESULT acquire(acquire_fn fn, const GUID *fmt, LONG depth, LONG flags, IStream *stm, int fd,
                       LONG pages, IWiaMiniDrvCallBack *cb, MINIDRV_TRANSFER_CONTEXT *c)
{
    WIAS_ITEM_PROPERTIES item;
    LONG err = -1;
    HRESULT hr;

    memset(&item, 0, sizeof item);
    item.lPixelsPerLine = W;
    item.lNumberOfLines = H;
    item.lDepth = depth;
    item.lXRes = 150;
    item.lYRes = 150;
    item.lCompression = WIA_COMPRESSION_NONE;
    item.guidFormat = *fmt;
    item.lTymed = stm ? TYMED_MULTIPAGE_CALLBACK : TYMED_MULTIPAGE_FILE;
    memset(c, 0, sizeof *c);
    c->hFile = stm ? -1 : fd;
    c->bTransferDataCB = stm != NULL;
    c->pIWiaMiniDrvCallBack = cb;
    hr = fn((BYTE *)&item, flags, c, stm, pages, &err);
    ck_assert_int_eq(err, 0);
    return hr;
}

static BYTE *file_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    BYTE *buf;
    long n;

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The page as packed TIFF rows: what tu_check_page compares with. */
static BYTE *expected_page(LONG page, LONG depth)
{
    LONG ch = depth / 8;
    BYTE *p = malloc((size_t)W * (size_t)H * (size_t)ch);

    ck_assert_ptr_nonnull(p);
    for (LONG y = 0; y < H; y++)
        for (LONG x = 0; x < W; x++)
            for (LONG c = 0; c < ch; c++)
                p[((size_t)y * W + (size_t)x) * (size_t)ch + (size_t)c] =
                    sample_pixel(page, x, y, (int)c);
    return p;
}

static void check_tiff_file(const char *path, LONG depth, LONG pages,
                            const MINIDRV_TRANSFER_CONTEXT *c)
{
    ck_assert_int_eq(tu_count_pages(path), pages);
    for (LONG p = 0; p < pages; p++) {
        BYTE *px = expected_page(p, depth);
        struct tu_page_expect e = {.width = W,
                                   .lines = H,
                                   .depth = depth,
                                   .compression = WIA_COMPRESSION_NONE,
                                   .xres = 150,
                                   .yres = 150,
                                   .page = p,
                                   .stride = W * (depth / 8),
                                   .pixels = px};
        const char *err;

        if (p == pages - 1)
            e.ifd_offset = (ULONG)c->lCurIfdOffset;
        else if (p == pages - 2)
            e.ifd_offset = (ULONG)c->lPrevIfdOffset;
        err = tu_check_page(path, (int)p, &e);
        ck_assert_msg(err == NULL, "page %d: %s", (int)p, err);
        free(px);
    }
}

/* ---- the C and C++ views of one object ---------------------------------- */

static void check_record(const layout_record *rec, IStream *p)
{
    ck_assert_int_eq(rec->ncalls, LAYOUT_SLOTS);
    for (int i = 0; i < LAYOUT_SLOTS; i++) {
        LONGLONG want = (i == 1 || i == 2 || i == 9 || i == 13) ? 0 : 1000 + i;

        ck_assert_msg(rec->slot[i] == i, "call %d reached slot %d", i, rec->slot[i]);
        ck_assert_ptr_eq(rec->self[i], p);
        ck_assert_msg(rec->witness[i] == want, "slot %d got argument %lld, want %lld", i,
                      (long long)rec->witness[i], (long long)want);
    }
}

START_TEST(test_cxx_object_called_through_c_vtable)
{
    layout_record rec = {0};
    IStream *p = layout_cxx_probe_new(&rec);

    ck_assert_ptr_nonnull(p);
    layout_call_all_c(p);
    check_record(&rec, p);
    layout_cxx_probe_free(p);
}
END_TEST

START_TEST(test_c_object_called_through_cxx_methods)
{
    layout_record rec = {0};
    IStream *p = layout_c_probe_new(&rec);

    ck_assert_ptr_nonnull(p);
    layout_call_all_cxx(p);
    check_record(&rec, p);
    layout_c_probe_free(p);
}
END_TEST

START_TEST(test_one_table_pointer_for_both_views)
{
    layout_record rec = {0};
    IStream *cxx = layout_cxx_probe_new(&rec);
    IStream *c = layout_c_probe_new(&rec);
    IStream *mem = mem_stream();

    ck_assert_ptr_eq(layout_c_vtbl_of(cxx), layout_cxx_vptr_of(cxx));
    ck_assert_ptr_eq(layout_c_vtbl_of(c), layout_cxx_vptr_of(c));
    ck_assert_ptr_eq(layout_c_vtbl_of(mem), layout_cxx_vptr_of(mem));
    ck_assert_int_eq(rec.ncalls, 0);
    layout_cxx_probe_free(cxx);
    layout_c_probe_free(c);
    mem->lpVtbl->Release(mem);
}
END_TEST

START_TEST(test_wias_streams_from_cxx)
{
    char *path = tu_temp_path("cxxfile");
    const char *err;

    err = layout_cxx_use_memory_stream();
    ck_assert_msg(err == NULL, "memory stream: %s", err);
    ck_assert_ptr_nonnull(path);
    err = layout_cxx_use_file_stream(path);
    ck_assert_msg(err == NULL, "file stream: %s", err);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_guids_and_compat_headers)
{
    const char *err = layout_cxx_guid_checks();
    IStream *s = mem_stream();
    ULONGLONG len;
    const BYTE *d;

    ck_assert_msg(err == NULL, "%s", err);
    ck_assert_uint_eq(GUID_SampleVendorFormat.Data2, 0x5f6e);
    ck_assert_int_eq(compat_stdlib_first(), 2);
    ck_assert_int_eq(compat_stdlib_last(), 3);
    ck_assert_int_eq(compat_cinterface_write(s, "CINTERFACE", 10), S_OK);
    d = stream_bytes(s, &len);
    ck_assert_uint_eq(len, 10);
    ck_assert_mem_eq(d, "CINTERFACE", 10);
    s->lpVtbl->Release(s);
}
END_TEST

/* ---- the sample driver -------------------------------------------------- */

/* 3-page TIFF, 8-bit gray and 24-bit RGB, into a stream: C++ == C, every
 * pixel and the IFD offsets the context reports. */
START_TEST(test_tiff_three_pages_stream)
{
    static const LONG depths[] = {8, 24};

    for (size_t k = 0; k < 2; k++) {
        IStream *out[2];
        const BYTE *d[2];
        ULONGLONG len[2];
        MINIDRV_TRANSFER_CONTEXT c;
        char *path;

        for (size_t i = 0; i < 2; i++) {
            out[i] = mem_stream();
            ck_assert_int_eq(
                acquire(drivers[i].fn, &WiaImgFmt_TIFF, depths[k], 0, out[i], -1, 3, NULL, &c),
                S_OK);
            ck_assert_int_eq(c.lPage, 3);
            ck_assert_ptr_null(c.pTransferBuffer);
            d[i] = stream_bytes(out[i], &len[i]);
        }
        ck_assert_uint_eq(len[0], len[1]);
        ck_assert_mem_eq(d[0], d[1], (size_t)len[0]);
        path = tu_stream_to_tempfile(out[0]);
        ck_assert_ptr_nonnull(path);
        check_tiff_file(path, depths[k], 3, &c);
        unlink(path);
        free(path);
        out[0]->lpVtbl->Release(out[0]);
        out[1]->lpVtbl->Release(out[1]);
    }
}
END_TEST

/* The same through wiasWritePageBufToFile (hFile = fd): the same bytes. */
START_TEST(test_tiff_three_pages_file)
{
    IStream *ref = mem_stream();
    MINIDRV_TRANSFER_CONTEXT c;
    const BYTE *want;
    ULONGLONG want_len;

    ck_assert_int_eq(
        acquire(SampleCxxAcquireItemData, &WiaImgFmt_TIFF, 24, 0, ref, -1, 3, NULL, &c), S_OK);
    want = stream_bytes(ref, &want_len);
    for (size_t i = 0; i < 2; i++) {
        char *path = tu_temp_path("cxxtiff");
        int fd = open(path, O_RDWR | O_TRUNC);
        size_t len;
        BYTE *got;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(acquire(drivers[i].fn, &WiaImgFmt_TIFF, 24, 0, NULL, fd, 3, NULL, &c),
                         S_OK);
        ck_assert_int_eq(c.lPage, 3);
        close(fd);
        got = file_bytes(path, &len);
        ck_assert_msg(len == want_len && memcmp(got, want, len) == 0,
                      "%s: file differs from the stream transfer", drivers[i].name);
        check_tiff_file(path, 24, 3, &c);
        free(got);
        unlink(path);
        free(path);
    }
    ref->lpVtbl->Release(ref);
}
END_TEST

static void check_dib(const BYTE *d, size_t len, BOOL file_header, LONG depth)
{
    size_t stride = ((size_t)W * (size_t)depth + 31) / 32 * 4;
    size_t palette = depth == 8 ? 256 * 4 : 0;
    size_t off = (file_header ? 14 : 0) + 40 + palette;
    const BYTE *info = d + (file_header ? 14 : 0);
    uint32_t v;

    ck_assert_uint_eq(len, off + stride * H);
    if (file_header) {
        ck_assert(d[0] == 'B' && d[1] == 'M');
        memcpy(&v, d + 2, 4);
        ck_assert_uint_eq(v, len); /* bfSize */
        memcpy(&v, d + 10, 4);
        ck_assert_uint_eq(v, off); /* bfOffBits */
    }
    memcpy(&v, info + 4, 4);
    ck_assert_uint_eq(v, W);
    memcpy(&v, info + 8, 4);
    ck_assert_uint_eq(v, H); /* bottom-up */
    ck_assert_uint_eq(info[14], depth);
    for (LONG y = 0; y < H; y++) {
        const BYTE *row = d + off + (size_t)(H - 1 - y) * stride;
        for (LONG x = 0; x < W; x++) {
            if (depth == 8) {
                ck_assert_uint_eq(row[x], sample_pixel(0, x, y, 0));
            } else {
                ck_assert_uint_eq(row[3 * x + 0], sample_pixel(0, x, y, 2)); /* B */
                ck_assert_uint_eq(row[3 * x + 1], sample_pixel(0, x, y, 1)); /* G */
                ck_assert_uint_eq(row[3 * x + 2], sample_pixel(0, x, y, 0)); /* R */
            }
        }
    }
}

/* BMP (24-bit) and MEMORYBMP (8-bit, palette): the page writer passes the
 * page through; it must equal the driver's own header + bands written with
 * pStream->Write, from C++ and C alike. */
START_TEST(test_bmp_passthrough)
{
    static const struct {
        const GUID *fmt;
        LONG depth;
        BOOL file_header;
    } cases[] = {{&WiaImgFmt_BMP, 24, TRUE}, {&WiaImgFmt_MEMORYBMP, 8, FALSE}};

    for (size_t k = 0; k < 2; k++) {
        IStream *out[4];
        const BYTE *d[4];
        ULONGLONG len[4];
        MINIDRV_TRANSFER_CONTEXT c;

        for (size_t i = 0; i < 4; i++) {
            out[i] = mem_stream();
            ck_assert_int_eq(acquire(drivers[i % 2].fn, cases[k].fmt, cases[k].depth,
                                     i < 2 ? 0 : SAMPLE_DIRECT_WRITE, out[i], -1, 1, NULL, &c),
                             S_OK);
            ck_assert_int_eq(c.lPage, 0); /* pass-through leaves the context */
            d[i] = stream_bytes(out[i], &len[i]);
        }
        for (size_t i = 1; i < 4; i++) {
            ck_assert_uint_eq(len[i], len[0]);
            ck_assert_mem_eq(d[i], d[0], (size_t)len[0]);
        }
        check_dib(d[0], (size_t)len[0], cases[k].file_header, cases[k].depth);
        for (size_t i = 0; i < 4; i++)
            out[i]->lpVtbl->Release(out[i]);
    }
}
END_TEST

/* The BMP through wiasWritePageBufToFile: to a file and to a pipe (no
 * seeking needed for a pass-through page). */
START_TEST(test_bmp_passthrough_file_and_pipe)
{
    IStream *ref = mem_stream();
    MINIDRV_TRANSFER_CONTEXT c;
    const BYTE *want;
    ULONGLONG want_len;
    char *path = tu_temp_path("cxxbmp");
    int fd = open(path, O_RDWR | O_TRUNC);
    int fds[2];
    size_t len;
    BYTE *got;

    ck_assert_int_eq(acquire(SampleCAcquireItemData, &WiaImgFmt_BMP, 24, 0, ref, -1, 1, NULL, &c),
                     S_OK);
    want = stream_bytes(ref, &want_len);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(
        acquire(SampleCxxAcquireItemData, &WiaImgFmt_BMP, 24, 0, NULL, fd, 1, NULL, &c), S_OK);
    close(fd);
    got = file_bytes(path, &len);
    ck_assert_uint_eq(len, want_len);
    ck_assert_mem_eq(got, want, len);
    free(got);
    unlink(path);
    free(path);

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_uint_lt(want_len, 65536); /* one pipe buffer: the write cannot block */
    ck_assert_int_eq(
        acquire(SampleCAcquireItemData, &WiaImgFmt_BMP, 24, 0, NULL, fds[1], 1, NULL, &c), S_OK);
    close(fds[1]);
    got = malloc((size_t)want_len + 1);
    ck_assert_ptr_nonnull(got);
    len = 0;
    for (;;) {
        ssize_t n = read(fds[0], got + len, (size_t)want_len + 1 - len);
        ck_assert_int_ge(n, 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fds[0]);
    ck_assert_uint_eq(len, want_len);
    ck_assert_mem_eq(got, want, len);
    free(got);
    ref->lpVtbl->Release(ref);
}
END_TEST

/* RAW, two pages, after bytes the application already wrote: each page
 * lands at the stream's position, unchanged, and the context keeps lPage. */
START_TEST(test_raw_passthrough)
{
    static const char prefix[] = "application header";
    IStream *out[2];
    const BYTE *d[2];
    ULONGLONG len[2];
    MINIDRV_TRANSFER_CONTEXT c;
    size_t page = (size_t)W * H;

    for (size_t i = 0; i < 2; i++) {
        ULONG cb = 0;

        out[i] = mem_stream();
        ck_assert_int_eq(out[i]->lpVtbl->Write(out[i], prefix, sizeof prefix, &cb), S_OK);
        ck_assert_int_eq(acquire(drivers[i].fn, &WiaImgFmt_RAW, 8, 0, out[i], -1, 2, NULL, &c),
                         S_OK);
        ck_assert_int_eq(c.lPage, 0);
        ck_assert_int_eq(c.lCurIfdOffset, 0);
        ck_assert_int_eq(c.lItemSize, (LONG)page);
        ck_assert_int_eq(c.lHeaderSize, 0);
        d[i] = stream_bytes(out[i], &len[i]);
    }
    ck_assert_uint_eq(len[0], sizeof prefix + 2 * page);
    ck_assert_uint_eq(len[1], len[0]);
    ck_assert_mem_eq(d[0], d[1], (size_t)len[0]);
    ck_assert_mem_eq(d[0], prefix, sizeof prefix);
    for (LONG p = 0; p < 2; p++)
        for (LONG y = 0; y < H; y++)
            for (LONG x = 0; x < W; x++)
                ck_assert_uint_eq(d[0][sizeof prefix + (size_t)p * page + (size_t)y * W + x],
                                  sample_pixel(p, x, y, 0));
    out[0]->lpVtbl->Release(out[0]);
    out[1]->lpVtbl->Release(out[1]);
}
END_TEST

/* The application's stream written in C++, the page writer in C: the same
 * file as into the memory stream directly. */
START_TEST(test_tiff_through_cxx_stream)
{
    IStream *direct = mem_stream();
    MINIDRV_TRANSFER_CONTEXT c;
    const BYTE *want;
    ULONGLONG want_len;

    ck_assert_int_eq(
        acquire(SampleCAcquireItemData, &WiaImgFmt_TIFF, 8, 0, direct, -1, 3, NULL, &c), S_OK);
    want = stream_bytes(direct, &want_len);
    for (size_t i = 0; i < 2; i++) {
        IStream *inner = mem_stream();
        IStream *app = layout_cxx_counting_stream_new(inner);
        const BYTE *got;
        ULONGLONG len;

        ck_assert_ptr_nonnull(app);
        ck_assert_int_eq(acquire(drivers[i].fn, &WiaImgFmt_TIFF, 8, 0, app, -1, 3, NULL, &c), S_OK);
        got = stream_bytes(inner, &len);
        ck_assert_uint_eq(len, want_len);
        ck_assert_mem_eq(got, want, (size_t)len);
        ck_assert_uint_ge(layout_cxx_counting_stream_bytes(app), len);
        ck_assert_uint_eq(app->lpVtbl->Release(app), 0);
        ck_assert_uint_eq(inner->lpVtbl->Release(inner), 0);
    }
    direct->lpVtbl->Release(direct);
}
END_TEST

/* IWiaMiniDrvCallBack implemented in C++, called from both drivers: one
 * progress message per page, and S_FALSE cancels after that page. */
START_TEST(test_progress_and_cancel)
{
    for (size_t i = 0; i < 2; i++) {
        IWiaMiniDrvCallBack *cb = layout_cxx_progress_new(0);
        IWiaMiniDrvCallBack *cancel = layout_cxx_progress_new(2);
        IStream *s = mem_stream();
        MINIDRV_TRANSFER_CONTEXT c;
        char *path;

        ck_assert_int_eq(acquire(drivers[i].fn, &WiaImgFmt_TIFF, 8, 0, s, -1, 3, cb, &c), S_OK);
        ck_assert_int_eq(layout_cxx_progress_calls(cb), 3);
        ck_assert_int_eq(layout_cxx_progress_last_percent(cb), 100);
        s->lpVtbl->Release(s);

        s = mem_stream();
        ck_assert_int_eq(acquire(drivers[i].fn, &WiaImgFmt_TIFF, 8, 0, s, -1, 3, cancel, &c),
                         S_FALSE);
        ck_assert_int_eq(layout_cxx_progress_calls(cancel), 2);
        ck_assert_int_eq(c.lPage, 2);
        path = tu_stream_to_tempfile(s);
        ck_assert_int_eq(tu_count_pages(path), 2);
        unlink(path);
        free(path);
        s->lpVtbl->Release(s);
        ck_assert_uint_eq(cb->lpVtbl->Release(cb), 0);
        ck_assert_uint_eq(cancel->lpVtbl->Release(cancel), 0);
    }
}
END_TEST

static Suite *cxx_suite(void)
{
    Suite *s = suite_create("wias-cxx");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_cxx_object_called_through_c_vtable);
    tcase_add_test(tc, test_c_object_called_through_cxx_methods);
    tcase_add_test(tc, test_one_table_pointer_for_both_views);
    tcase_add_test(tc, test_wias_streams_from_cxx);
    tcase_add_test(tc, test_guids_and_compat_headers);
    tcase_add_test(tc, test_tiff_three_pages_stream);
    tcase_add_test(tc, test_tiff_three_pages_file);
    tcase_add_test(tc, test_bmp_passthrough);
    tcase_add_test(tc, test_bmp_passthrough_file_and_pipe);
    tcase_add_test(tc, test_raw_passthrough);
    tcase_add_test(tc, test_tiff_through_cxx_stream);
    tcase_add_test(tc, test_progress_and_cancel);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cxx_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
