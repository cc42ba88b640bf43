/*
 * Allocation-failure and allocation-size tests for wias. malloc, calloc and
 * realloc are wrapped at link time (-Wl,--wrap): the N-th allocation made
 * while armed fails, and the bytes requested while counting are summed.
 */
#include "wias-test-util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

/* Test-process instrumentation (each Check test runs in its own fork). */
static long fail_countdown = -1; /* -1: never fail */
static int counting;
static size_t counted_bytes;

static int should_fail(size_t n)
{
    if (counting)
        counted_bytes += n;
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown == 0) {
        fail_countdown = -1; /* one failure per arming */
        return 1;
    }
    fail_countdown--;
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return should_fail(n) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return should_fail(n * m) ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail(n) ? NULL : __real_realloc(p, n);
}

static void arm(long k)
{
    fail_countdown = k;
}

static void disarm(void)
{
    fail_countdown = -1;
}

START_TEST(test_oom_constructors)
{
    IStream *s = NULL, *f = NULL;
    char *path = tu_temp_path("oom");
    HRESULT hr;

    arm(0);
    hr = wiasCreateMemoryStream(&s);
    disarm();
    ck_assert_int_eq(hr, E_OUTOFMEMORY);
    ck_assert_ptr_null(s);
    arm(0);
    hr = wiasCreateStreamOnFile(path, STGM_READWRITE | STGM_CREATE, &f);
    disarm();
    ck_assert_int_eq(hr, E_OUTOFMEMORY);
    ck_assert_ptr_null(f);
    arm(0);
    hr = wiasCreateStreamOnFd(0, FALSE, &f);
    disarm();
    ck_assert_int_eq(hr, E_OUTOFMEMORY);

    ck_assert_int_eq(wiasCreateMemoryStream(&s), S_OK);
    arm(0);
    hr = wiasCreateFailingStream(s, 10, STG_E_WRITEFAULT, 0, &f);
    disarm();
    ck_assert_int_eq(hr, E_OUTOFMEMORY);
    ck_assert_ptr_null(f);
    /* the inner stream was not AddRef'd by the failed constructor */
    ck_assert_uint_eq(s->lpVtbl->Release(s), 0);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_oom_memstream_growth)
{
    IStream *s = NULL;
    static BYTE block[10000];
    ULONG n = 1;
    STATSTG st;

    ck_assert_int_eq(wiasCreateMemoryStream(&s), S_OK);
    ck_assert_int_eq(s->lpVtbl->Write(s, block, 100, &n), S_OK);
    HRESULT hr;
    arm(0);
    hr = s->lpVtbl->Write(s, block, sizeof block, &n);
    disarm();
    ck_assert_int_eq(hr, E_OUTOFMEMORY);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(s->lpVtbl->Stat(s, &st, STATFLAG_NONAME), S_OK);
    ck_assert_uint_eq(st.cbSize.QuadPart, 100);
    s->lpVtbl->Release(s);
}
END_TEST

/* Every allocation of a page write fails in turn: each time the result is
 * E_OUTOFMEMORY with the earlier page intact, until the write succeeds. */
START_TEST(test_oom_page_writer)
{
    LONG w = 50, h = 40, stride = 3 * w + 2; /* padded rows need the strip buffer */
    BYTE *px = tu_make_page(w, h, 24, stride, 1);
    MINIDRV_TRANSFER_CONTEXT c, saved;
    IStream *s = NULL;
    HRESULT hr = E_OUTOFMEMORY;
    long k;

    ck_assert_int_eq(wiasCreateMemoryStream(&s), S_OK);
    tu_init_ctx(&c, w, h, 24, WIAS_COMPRESSION_DEFLATE, stride, px);
    ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
    for (k = 0; k < 100 && hr == E_OUTOFMEMORY; k++) {
        char *path;
        saved = c;
        arm(k);
        hr = wiasWritePageBufToStream(&c, s);
        disarm();
        if (hr == E_OUTOFMEMORY) {
            ck_assert_mem_eq(&saved, &c, sizeof c);
            path = tu_stream_to_tempfile(s);
            ck_assert_int_eq(tu_count_pages(path), 1);
            unlink(path);
            free(path);
        }
    }
    ck_assert_int_eq(hr, S_OK);
    ck_assert_int_gt(k, 1);
    ck_assert_int_eq(c.lPage, 2);
    s->lpVtbl->Release(s);
    free(px);
}
END_TEST

/* An A4 300-dpi colour page is written without a second full copy. */
START_TEST(test_no_second_copy)
{
    static const LONG comps[] = {WIA_COMPRESSION_NONE, WIAS_COMPRESSION_LZW};
    LONG w = 2480, h = 3508, stride = 3 * w;
    BYTE *px = calloc((size_t)stride, (size_t)h);
    char *path = tu_temp_path("a4");

    for (int i = 0; i < 2; i++) {
        MINIDRV_TRANSFER_CONTEXT c;
        IStream *s = NULL;

        ck_assert_int_eq(wiasCreateStreamOnFile(path, STGM_READWRITE | STGM_CREATE, &s), S_OK);
        tu_init_ctx(&c, w, h, 24, comps[i], stride, px);
        counted_bytes = 0;
        counting = 1;
        ck_assert_int_eq(wiasWritePageBufToStream(&c, s), S_OK);
        counting = 0;
        ck_assert_msg(counted_bytes < 1024 * 1024, "wias allocated %zu bytes for a %ld-byte page",
                      counted_bytes, (long)stride * h);
        s->lpVtbl->Release(s);
    }
    unlink(path);
    free(path);
    free(px);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wias_oom");
    TCase *tc = tcase_create("oom");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_oom_constructors);
    tcase_add_test(tc, test_oom_memstream_growth);
    tcase_add_test(tc, test_oom_page_writer);
    tcase_add_test(tc, test_no_second_copy);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
