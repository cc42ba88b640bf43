/* The timing report's texts (emulator/src/timing.c): the job-end line and
 * record, the device totals, the --strict-timing verdict, and that the
 * record is one JSON object carrying the line's numbers, whose tail the
 * control socket's job_ended event shares. No sockets. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu-internal.h"

static dm_job_timing sample(uint64_t beyond_emu)
{
    dm_job_timing jt;

    memset(&jt, 0, sizeof(jt));
    jt.result = DM_ST_OK;
    jt.timing = true;
    jt.job_start_ns = 5000000000ull;
    jt.end_ns = 5000000000ull + 1234567890ull;
    jt.pages_done = 12;
    jt.job.bands = 120;
    jt.job.late_p50_ns = 52000;
    jt.job.late_p99_ns = 118000;
    jt.job.late_max_ns = 2544400;
    jt.job.emu_p50_ns = 51000;
    jt.job.emu_p99_ns = 117000;
    jt.job.emu_max_ns = 1544400;
    jt.job.tolerance_ns = 1000000;
    jt.job.beyond = 2 + beyond_emu;
    jt.job.beyond_emu = beyond_emu;
    jt.job.beyond_host = 2;
    jt.job.starved = 3;
    jt.device = jt.job;
    jt.device_jobs = 1;
    jt.device_jobs_emu_beyond = beyond_emu > 0;
    return jt;
}

/* The value of "key": in a flat JSON object, as text up to , or }. */
static const char *field(const char *rec, const char *key, char *out, size_t cap)
{
    char pat[64];
    const char *p;
    size_t n;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(rec, pat);
    ck_assert_msg(p != NULL, "no %s in %s", key, rec);
    p += strlen(pat);
    n = strcspn(p, ",}");
    ck_assert_uint_lt(n, cap);
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

START_TEST(job_line_has_the_numbers)
{
    char line[768];
    dm_job_timing jt = sample(0);
    size_t n = emu_timing_job_line(line, sizeof(line), &jt, "usb", 0);

    ck_assert_uint_eq(n, strlen(line));
    ck_assert_str_eq(line, "timing: 120 bands, p50/p99/max lateness 52.0/118.0/2544.4 us "
                           "(emulator's share 51.0/117.0/1544.4 us), 2 beyond tolerance 1000 us "
                           "(0 emulator, 2 host-starved), 3 starved; usb job ok after 12 pages");
}
END_TEST

START_TEST(strict_says_faithful_or_not)
{
    char line[768];
    dm_job_timing good = sample(0), bad = sample(4);

    emu_timing_job_line(line, sizeof(line), &good, "escl", 1);
    ck_assert_msg(strstr(line, "; escl job ok after 12 pages; faithful") != NULL, "%s", line);
    emu_timing_job_line(line, sizeof(line), &bad, "escl", 1);
    ck_assert_msg(strstr(line, "6 beyond tolerance 1000 us (4 emulator, 2 host-starved)") != NULL,
                  "%s", line);
    ck_assert_msg(strstr(line, "; NOT FAITHFUL") != NULL, "%s", line);
    /* Without --strict-timing no verdict; without a schedule none either. */
    emu_timing_job_line(line, sizeof(line), &bad, "usb", 0);
    ck_assert_ptr_null(strstr(line, "FAITHFUL"));
    ck_assert_ptr_null(strstr(line, "faithful"));
    bad.timing = false;
    emu_timing_job_line(line, sizeof(line), &bad, "usb", 1);
    ck_assert_msg(strstr(line, "timing: 120 bands released without the profile's schedule") == line,
                  "%s", line);
    ck_assert_ptr_null(strstr(line, "FAITHFUL"));
}
END_TEST

START_TEST(job_record_matches_the_line)
{
    char rec[1024], v[64];
    dm_job_timing jt = sample(4);
    size_t n = emu_timing_job_record(rec, sizeof(rec), "1-3", &jt, "usb", 1);

    ck_assert_uint_eq(n, strlen(rec));
    ck_assert(rec[0] == '{' && rec[n - 2] == '}' && rec[n - 1] == '\n');
    ck_assert_ptr_eq(strchr(rec, '\n'), rec + n - 1); /* one line */
    ck_assert_str_eq(field(rec, "src", v, sizeof(v)), "\"device\"");
    ck_assert_str_eq(field(rec, "busid", v, sizeof(v)), "\"1-3\"");
    ck_assert_str_eq(field(rec, "kind", v, sizeof(v)), "\"job_end\"");
    ck_assert_str_eq(field(rec, "front", v, sizeof(v)), "\"usb\"");
    ck_assert_str_eq(field(rec, "result", v, sizeof(v)), "\"ok\"");
    ck_assert_str_eq(field(rec, "end_ns", v, sizeof(v)), "1234567890");
    ck_assert_str_eq(field(rec, "pages", v, sizeof(v)), "12");
    ck_assert_str_eq(field(rec, "bands", v, sizeof(v)), "120");
    ck_assert_str_eq(field(rec, "late_p50_ns", v, sizeof(v)), "52000");
    ck_assert_str_eq(field(rec, "late_p99_ns", v, sizeof(v)), "118000");
    ck_assert_str_eq(field(rec, "late_max_ns", v, sizeof(v)), "2544400");
    ck_assert_str_eq(field(rec, "emu_max_ns", v, sizeof(v)), "1544400");
    ck_assert_str_eq(field(rec, "tolerance_ns", v, sizeof(v)), "1000000");
    ck_assert_str_eq(field(rec, "beyond", v, sizeof(v)), "6");
    ck_assert_str_eq(field(rec, "beyond_emu", v, sizeof(v)), "4");
    ck_assert_str_eq(field(rec, "beyond_host", v, sizeof(v)), "2");
    ck_assert_str_eq(field(rec, "starved", v, sizeof(v)), "3");
    ck_assert_str_eq(field(rec, "timing", v, sizeof(v)), "true");
    ck_assert_str_eq(field(rec, "strict", v, sizeof(v)), "true");
    ck_assert_str_eq(field(rec, "verdict", v, sizeof(v)), "\"not_faithful\"");
    jt = sample(0);
    emu_timing_job_record(rec, sizeof(rec), "1-3", &jt, "escl", 0);
    ck_assert_str_eq(field(rec, "verdict", v, sizeof(v)), "null");
    ck_assert_str_eq(field(rec, "strict", v, sizeof(v)), "false");
    n = emu_timing_job_record(rec, sizeof(rec), "1-3", &jt, "escl", 1);
    ck_assert_str_eq(field(rec, "verdict", v, sizeof(v)), "\"faithful\"");
    /* Too small a buffer: the length it needed, a terminated prefix. */
    ck_assert_uint_eq(emu_timing_job_record(rec, 20, "1-3", &jt, "escl", 1), n);
    ck_assert_uint_eq(strlen(rec), 19);
}
END_TEST

/* The control socket's job_ended event ends with these fields: exactly
 * the record's tail, with the same verdict. */
START_TEST(job_fields_are_the_record_tail)
{
    char rec[1024], fields[1024], v[64];
    dm_job_timing bad = sample(4), good = sample(0);
    size_t nr, nf;

    nr = emu_timing_job_record(rec, sizeof(rec), "1-1", &bad, "usb", 1);
    nf = emu_timing_job_fields(fields, sizeof(fields), &bad, 1);
    ck_assert_uint_eq(nf, strlen(fields));
    ck_assert_msg(strncmp(fields, "\"bands\":120,", 12) == 0, "%s", fields);
    ck_assert_uint_gt(nr, nf + 2);
    ck_assert_msg(memcmp(rec + nr - 2 - nf, fields, nf) == 0, "%s\n%s", rec, fields);
    ck_assert_str_eq(field(fields, "verdict", v, sizeof(v)), "\"not_faithful\"");
    emu_timing_job_fields(fields, sizeof(fields), &good, 1);
    ck_assert_str_eq(field(fields, "verdict", v, sizeof(v)), "\"faithful\"");
    ck_assert_str_eq(field(fields, "beyond_emu", v, sizeof(v)), "0");
    emu_timing_job_fields(fields, sizeof(fields), &bad, 0);
    ck_assert_str_eq(field(fields, "verdict", v, sizeof(v)), "null");
    good.timing = false;
    emu_timing_job_fields(fields, sizeof(fields), &good, 1);
    ck_assert_str_eq(field(fields, "timing", v, sizeof(v)), "false");
    ck_assert_str_eq(field(fields, "verdict", v, sizeof(v)), "null");
    /* Too small: the length it needed, a terminated prefix. */
    ck_assert_uint_eq(emu_timing_job_fields(fields, 10, &bad, 1), nf);
    ck_assert_uint_eq(strlen(fields), 9);
}
END_TEST

START_TEST(device_totals)
{
    char line[768], rec[1024], v[64];
    dm_job_timing jt = sample(4);

    jt.device_jobs = 7;
    jt.device_jobs_emu_beyond = 2;
    emu_timing_device_line(line, sizeof(line), &jt.device, 7, 2, 1, 1);
    ck_assert_msg(strstr(line, "timing: device total over 7 jobs: 120 bands, ") == line, "%s",
                  line);
    ck_assert_msg(strstr(line, "; 2 of 7 jobs NOT FAITHFUL") != NULL, "%s", line);
    emu_timing_device_record(rec, sizeof(rec), "1-1", &jt.device, 7, 2, 1, 1);
    ck_assert_str_eq(field(rec, "kind", v, sizeof(v)), "\"device_end\"");
    ck_assert_str_eq(field(rec, "jobs", v, sizeof(v)), "7");
    ck_assert_str_eq(field(rec, "jobs_not_faithful", v, sizeof(v)), "2");
    ck_assert_str_eq(field(rec, "verdict", v, sizeof(v)), "\"not_faithful\"");
    emu_timing_device_record(rec, sizeof(rec), "1-1", &jt.device, 7, 2, 1, 0);
    ck_assert_str_eq(field(rec, "jobs_not_faithful", v, sizeof(v)), "null");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("emu_timing");
    TCase *t = tcase_create("report");
    tcase_add_test(t, job_line_has_the_numbers);
    tcase_add_test(t, strict_says_faithful_or_not);
    tcase_add_test(t, job_record_matches_the_line);
    tcase_add_test(t, job_fields_are_the_record_tail);
    tcase_add_test(t, device_totals);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
