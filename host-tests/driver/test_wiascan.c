/* wiascan as a user runs it: the built binary as a subprocess against the
 * in-process emulator. Exit codes, the one-line failure report, silence on a
 * pipe, and never an output file that pretends to be complete. */
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drvtest.h"

static char tmpdir[256];
static char out_path[512];

static void setup(void)
{
    drvtest_mkdtemp(tmpdir, sizeof(tmpdir));
    snprintf(out_path, sizeof(out_path), "%s/out.tiff", tmpdir);
}

static void teardown(void)
{
    drvtest_rmdir(tmpdir);
}

typedef struct run_result {
    int code;
    char err[4096];
    char out[8192];
} run_result;

static void read_all(int fd, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t r;

    while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    {
        char scratch[512]; /* drain whatever did not fit */

        while (read(fd, scratch, sizeof(scratch)) > 0)
            ;
    }
}

/* Run wiascan with argv (NULL-terminated, without argv[0]); stdout and
 * stderr are pipes, so it is not on a terminal. */
static void run(run_result *res, const char *const *args)
{
    const char *bin = getenv("SCANEMU_BINARY_DIR");
    char path[512];
    const char *argv[64];
    int po[2], pe[2], st = 0;
    size_t n = 0;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/driver/wiascan", bin ? bin : ".");
    argv[n++] = path;
    while (*args && n < 63)
        argv[n++] = *args++;
    argv[n] = NULL;
    ck_assert_int_eq(pipe(po), 0);
    ck_assert_int_eq(pipe(pe), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);

        dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    read_all(po[0], res->out, sizeof(res->out)); /* the help text fits */
    read_all(pe[0], res->err, sizeof(res->err));
    close(po[0]);
    close(pe[0]);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st), "wiascan died from signal %d", WTERMSIG(st));
    res->code = WEXITSTATUS(st);
}

/* Exactly one line on stderr, starting with "wiascan: ". */
static void assert_one_line(const run_result *r)
{
    const char *nl = strchr(r->err, '\n');

    ck_assert_msg(strncmp(r->err, "wiascan: ", 9) == 0, "stderr: '%s'", r->err);
    ck_assert_msg(nl && nl[1] == '\0', "not exactly one line: '%s'", r->err);
}

static void assert_no_output(void)
{
    char part[600];

    snprintf(part, sizeof(part), "%s.part", out_path);
    ck_assert_msg(!drvtest_exists(out_path), "%s exists", out_path);
    ck_assert_msg(!drvtest_exists(part), "%s exists", part);
}

START_TEST(help_and_version)
{
    run_result r;
    const char *help[] = {"--help", NULL};
    const char *ver[] = {"--version", NULL};

    run(&r, help);
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--in-flight"));
    ck_assert_ptr_nonnull(strstr(r.out, "--timeout"));
    ck_assert_ptr_nonnull(strstr(r.out, "Exit status"));
    run(&r, ver);
    ck_assert_int_eq(r.code, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "wiascan"));
}
END_TEST

/* Each row: arguments (out_path is appended as -o OUT unless the row says
 * "NO_O"). */
static const char *const bad_cli[][8] = {
    {"NO_O", NULL},
    {"NO_O", "--pages", "1", NULL},
    {"--bogus", NULL},
    {"-x", NULL},
    {"--dpi", "abc", NULL},
    {"--dpi", "0", NULL},
    {"--dpi", "-5", NULL},
    {"--dpi", "300x", NULL},
    {"--dpi", "99999999999999999999999", NULL},
    {"--pages", "", NULL},
    {"--pages", "+3", NULL},
    {"--in-flight", "0", NULL},
    {"--in-flight", "65", NULL},
    {"--timeout", "0", NULL},
    {"--seed", "1.5", NULL},
    {"--mode", "sepia", NULL},
    {"--source", "tray", NULL},
    {"--compression", "zip", NULL},
    {"--compression", "g4", NULL}, /* colour by default */
    {"--compression", "jpeg", "--mode", "bw", NULL},
    {"--size", "100", NULL},
    {"--size", "0x10", NULL},
    {"--device-id", "12:xyz", NULL},
    {"--source", "flatbed", "--pages", "3", NULL},
    {"--transport", "usbip://127.0.0.1/1-1", NULL},
    {"--transport", "usbip://127.0.0.1:99999/1-1", NULL},
    {"--transport", "libusb:zz:1", NULL},
    {"--transport", "serial:/dev/ttyS0", NULL},
    {"stray-argument", NULL},
    {"NO_O", "-o", NULL},
};

START_TEST(bad_command_lines)
{
    const char *const *row = bad_cli[_i];
    const char *args[16];
    size_t n = 0;
    int with_o = strcmp(row[0], "NO_O") != 0;
    run_result r;

    for (size_t k = with_o ? 0 : 1; row[k]; k++)
        args[n++] = row[k];
    if (with_o) {
        args[n++] = "-o";
        args[n++] = out_path;
    }
    args[n] = NULL;
    run(&r, args);
    ck_assert_msg(r.code == DRV_EXIT_USAGE, "row %d: exit %d, stderr '%s'", _i, r.code, r.err);
    assert_one_line(&r);
    ck_assert_str_eq(r.out, "");
    assert_no_output();
}
END_TEST

START_TEST(unreachable_port)
{
    char uri[96];
    const char *args[] = {"--transport", uri, "-o", out_path, NULL};
    run_result r;

    snprintf(uri, sizeof(uri), "usbip://127.0.0.1:%u/1-1", drvtest_closed_port());
    run(&r, args);
    ck_assert_int_eq(r.code, DRV_EXIT_CONNECT);
    assert_one_line(&r);
    ck_assert_ptr_nonnull(strstr(r.err, "WIA_ERROR_OFFLINE"));
    ck_assert_ptr_nonnull(strstr(r.err, "not written"));
    assert_no_output();
}
END_TEST

START_TEST(port_speaking_something_else)
{
    drvtest_peer fp;
    char uri[96];
    const char *args[] = {"--transport", uri, "--timeout", "500", "-o", out_path, NULL};
    run_result r;

    drvtest_peer_start(&fp, "SSH-2.0-OpenSSH_9.2\r\n");
    snprintf(uri, sizeof(uri), "usbip://127.0.0.1:%u/1-1", fp.port);
    run(&r, args);
    drvtest_peer_stop(&fp);
    ck_assert_int_eq(r.code, DRV_EXIT_CONNECT);
    assert_one_line(&r);
    ck_assert_ptr_nonnull(strstr(r.err, "not a USB/IP server"));
    assert_no_output();
}
END_TEST

START_TEST(unknown_busid_and_wrong_device)
{
    drvtest_emu e;
    char uri[96];
    const char *busid[] = {"--transport", uri, "-o", out_path, NULL};
    const char *devid[] = {"--transport", uri, "--device-id", "1209:0002", "-o", out_path, NULL};
    run_result r;

    drvtest_emu_start(&e, NULL, NULL, 1, 0);
    snprintf(uri, sizeof(uri), "usbip://127.0.0.1:%u/3-7", e.port);
    run(&r, busid);
    ck_assert_int_eq(r.code, DRV_EXIT_CONNECT);
    assert_one_line(&r);
    ck_assert_ptr_nonnull(strstr(r.err, "3-7"));
    assert_no_output();
    snprintf(uri, sizeof(uri), "usbip://127.0.0.1:%u/1-1", e.port);
    run(&r, devid);
    ck_assert_int_eq(r.code, DRV_EXIT_CONNECT);
    assert_one_line(&r);
    ck_assert_ptr_nonnull(strstr(r.err, "1209:0001"));
    assert_no_output();
    drvtest_emu_stop(&e);
}
END_TEST

START_TEST(output_not_writable)
{
    drvtest_emu e;
    char bad[600];
    const char *args[] = {"--transport", e.uri, "--dpi", "75", "--pages", "1", "-o", bad, NULL};
    run_result r;

    snprintf(bad, sizeof(bad), "%s/no-such-dir/out.tiff", tmpdir);
    drvtest_emu_start(&e, NULL, NULL, 1, 0);
    run(&r, args);
    drvtest_emu_stop(&e);
    ck_assert_int_eq(r.code, DRV_EXIT_OUTPUT);
    assert_one_line(&r);
    ck_assert_ptr_nonnull(strstr(r.err, "no-such-dir"));
}
END_TEST

/* ---- scans ------------------------------------------------------------------------ */

typedef struct cli_case {
    const char *scenario;
    int code;
    const char *hr_name; /* NULL: silent success */
    uint32_t pages;
} cli_case;

static const cli_case cli_cases[] = {
    {NULL, 0, NULL, 3},
    {"feeder-empty-after-2.yaml", 0, NULL, 2},
    {"jam-page3-band5.yaml", DRV_EXIT_PAPER, "WIA_ERROR_PAPER_JAM", 2},
    {"feeder-empty.yaml", DRV_EXIT_PAPER, "WIA_ERROR_PAPER_EMPTY", 0},
    {"multi-feed.yaml", DRV_EXIT_PAPER, "WIA_ERROR_MULTI_FEED", 1},
    {"cover-open-at-start.yaml", DRV_EXIT_PAPER, "WIA_ERROR_COVER_OPEN", 0},
    {"stall-no-clear.yaml", DRV_EXIT_COMM, "WIA_ERROR_DEVICE_COMMUNICATION", 1},
    {"disconnect-mid-page.yaml", DRV_EXIT_COMM, "WIA_ERROR_DEVICE_COMMUNICATION", 1},
    {"busy.yaml", DRV_EXIT_BUSY, "WIA_ERROR_BUSY", 0},
};

START_TEST(scan_outcomes)
{
    const cli_case *c = &cli_cases[_i];
    drvtest_emu e;
    const char *args[] = {"--transport", e.uri,    "--mode", "bw", "--dpi",  "150", "--pages",
                          "3",           "--seed", "5",      "-o", out_path, NULL};
    char want[700];
    run_result r;

    drvtest_emu_start(&e, NULL, c->scenario, 1, 0);
    run(&r, args);
    drvtest_emu_stop(&e);
    ck_assert_msg(r.code == c->code, "%s: exit %d, stderr '%s'", c->scenario, r.code, r.err);
    ck_assert_str_eq(r.out, "");
    if (!c->hr_name) {
        ck_assert_msg(r.err[0] == '\0', "success on a pipe must be silent: '%s'", r.err);
    } else {
        assert_one_line(&r);
        snprintf(want, sizeof(want), "wiascan: %s (", c->hr_name);
        ck_assert_msg(strncmp(r.err, want, strlen(want)) == 0, "stderr '%s'", r.err);
        if (c->pages) {
            snprintf(want, sizeof(want), "; %u page%s kept in %s\n", c->pages,
                     c->pages == 1 ? "" : "s", out_path);
            ck_assert_msg(strstr(r.err, want) != NULL, "stderr '%s'", r.err);
        } else {
            ck_assert_ptr_nonnull(strstr(r.err, "no pages kept"));
        }
    }
    if (c->pages) {
        proto_scan_job job;
        proto_scan_params p = {.source = PROTO_SCAN_SOURCE_ADF,
                               .mode = PROTO_SCAN_MODE_BW,
                               .dpi = 150,
                               .pages = 3,
                               .flags = PROTO_SCAN_PARAM_SEED,
                               .seed = 5};
        dm_profile *prof = NULL;
        char err[256];

        ck_assert_int_eq(dm_profile_load_default(&prof, err, sizeof(err)), 0);
        ck_assert_int_eq(dm_job_resolve(prof, &p, 1, &job, err, sizeof(err)), 0);
        dm_profile_free(prof);
        drvtest_check_tiff(out_path, &job, c->pages, 1);
    } else {
        assert_no_output();
    }
}
END_TEST

START_TEST(verbose_and_trace)
{
    drvtest_emu e;
    char trace[600], line[512];
    const char *args[] = {"--transport", e.uri,     "--mode", "gray", "--dpi", "75",     "--pages",
                          "2",           "--trace", trace,    "-v",   "-o",    out_path, NULL};
    run_result r;
    unsigned lines = 0;
    FILE *f;

    snprintf(trace, sizeof(trace), "%s/host.jsonl", tmpdir);
    drvtest_emu_start(&e, NULL, NULL, 1, 0);
    run(&r, args);
    drvtest_emu_stop(&e);
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "wiascan: S_OK: 2 pages"));
    ck_assert_ptr_null(strchr(r.err, '\r')); /* no progress line on a pipe */
    f = fopen(trace, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f)) {
        ck_assert_msg(strncmp(line, "{\"src\":\"host\",\"page\":", 21) == 0, "%s", line);
        ck_assert_ptr_nonnull(strstr(line, "\"arrival_ns\":"));
        lines++;
    }
    fclose(f);
    /* 877 lines at 75 dpi in bands of 64: 14 bands a page, and END_OF_JOB */
    ck_assert_uint_eq(lines, 2 * 14 + 1);
}
END_TEST

static Suite *wiascan_suite(void)
{
    Suite *s = suite_create("wiascan");
    TCase *tc = tcase_create("cli");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, help_and_version);
    tcase_add_loop_test(tc, bad_command_lines, 0, (int)(sizeof(bad_cli) / sizeof(bad_cli[0])));
    tcase_add_test(tc, unreachable_port);
    tcase_add_test(tc, port_speaking_something_else);
    tcase_add_test(tc, unknown_busid_and_wrong_device);
    tcase_add_test(tc, output_not_writable);
    tcase_add_loop_test(tc, scan_outcomes, 0, (int)(sizeof(cli_cases) / sizeof(cli_cases[0])));
    tcase_add_test(tc, verbose_and_trace);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wiascan_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
