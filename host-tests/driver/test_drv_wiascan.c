/* wiascan as a user runs it: the built binary as a subprocess against the
 * in-process emulator. Exit codes, the one-line failure report, silence on a
 * pipe, and never an output file that pretends to be complete. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
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

/* How the child is set up: stdout_fd >= 0 becomes its stdout (else a pipe
 * read into out); uid != 0 runs it as that user (and group); tmpdir sets
 * TMPDIR; setup runs in the child before exec and exits it with 126 (the
 * test then fails) when it cannot do its part. The child's working
 * directory is the test's temporary directory. */
typedef struct run_opts {
    int stdout_fd;
    uid_t uid;
    const char *tmpdir;
    int (*setup)(void);
} run_opts;

/* Run wiascan with argv (NULL-terminated, without argv[0]); stderr (and
 * stdout unless ro says otherwise) are pipes, so it is not on a terminal. */
static void run_ex(run_result *res, const char *const *args, const run_opts *ro)
{
    const char *bin = getenv("SCANEMU_BINARY_DIR");
    char path[512];
    const char *argv[64];
    int po[2], pe[2], st = 0;
    int own_out = !ro || ro->stdout_fd < 0;
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
        dup2(own_out ? po[1] : ro->stdout_fd, 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        if (chdir(tmpdir) != 0)
            _exit(126);
        if (ro && ro->tmpdir)
            setenv("TMPDIR", ro->tmpdir, 1);
        if (ro && ro->setup && ro->setup() != 0)
            _exit(126);
        if (ro && ro->uid && (setgid((gid_t)ro->uid) != 0 || setuid(ro->uid) != 0))
            _exit(126);
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
    ck_assert_msg(res->code != 126, "the child could not set itself up (stderr '%s')", res->err);
}

static void run(run_result *res, const char *const *args)
{
    run_ex(res, args, NULL);
}

/* Exactly one line on stderr, starting with "wiascan: ". */
static void assert_one_line(const run_result *r)
{
    const char *nl = strchr(r->err, '\n');

    ck_assert_msg(strncmp(r->err, "wiascan: ", 9) == 0, "stderr: '%s'", r->err);
    ck_assert_msg(nl && nl[1] == '\0', "not exactly one line: '%s'", r->err);
}

/* out holds pages pages of the bw job that wiascan asks the built-in
 * default profile for at dpi, job_pages pages, seed 5: every pixel checked. */
static void check_bw_tiff(const char *out, uint32_t dpi, uint32_t job_pages, uint32_t pages)
{
    proto_scan_job job;
    proto_scan_params p = {.source = PROTO_SCAN_SOURCE_ADF,
                           .mode = PROTO_SCAN_MODE_BW,
                           .dpi = dpi,
                           .pages = job_pages,
                           .flags = PROTO_SCAN_PARAM_SEED,
                           .seed = 5};
    dm_profile *prof = NULL;
    char err[256];

    ck_assert_int_eq(dm_profile_load_default(&prof, err, sizeof(err)), 0);
    ck_assert_int_eq(dm_job_resolve(prof, &p, 1, &job, err, sizeof(err)), 0);
    dm_profile_free(prof);
    drvtest_check_tiff(out, &job, pages, 1);
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
    /* single-valued options given twice, and -v with -q */
    {"-o", "other.tiff", NULL},
    {"--output", "other.tiff", NULL},
    {"--pages", "1", "--pages", "2", NULL},
    {"--dpi", "75", "--dpi", "75", NULL},
    {"--trace", "a.jsonl", "--trace", "b.jsonl", NULL},
    {"--transport", "usbip://127.0.0.1:1/1-1", "--transport", "libusb", NULL},
    {"--mode", "bw", "--mode", "gray", NULL},
    {"-v", "-q", NULL},
    {"-q", "--verbose", NULL},
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
        check_bw_tiff(out_path, 150, 3, c->pages);
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

/* ---- the output rule: what -o (and --trace) may name --------------------------------- */

/* The small scan every output test makes: 2 bw pages at 75 dpi, seed 5. */
#define SMALL_SCAN(uri)                                                                            \
    "--transport", (uri), "--mode", "bw", "--dpi", "75", "--pages", "2", "--seed", "5"

static void check_small_scan(const char *path, uint32_t pages)
{
    check_bw_tiff(path, 75, 2, pages);
}

static void closed_uri(char *buf, size_t len)
{
    snprintf(buf, len, "usbip://127.0.0.1:%u/1-1", drvtest_closed_port());
}

/* A device node at path, like /dev/<name> (major 1: null 3, zero 5, full 7),
 * or 0 when this process may not make one (not root). */
static int make_node(const char *path, mode_t type, unsigned maj, unsigned min)
{
    if (mknod(path, type | 0666, makedev(maj, min)) == 0)
        return 1;
    ck_assert_msg(errno == EPERM, "mknod %s: %s", path, strerror(errno));
    fprintf(stderr, "test_drv_wiascan: not root, %s not made; that case is not run\n", path);
    return 0;
}

static void make_socket(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd); /* the socket file stays */
}

/* What out_path is now: its type bits and device number (0 if absent). */
static mode_t kind_of(const char *path, dev_t *rdev)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return 0;
    if (rdev)
        *rdev = st.st_rdev;
    return st.st_mode & S_IFMT;
}

static void assert_no_part(const char *path)
{
    char part[600];

    snprintf(part, sizeof(part), "%s.part", path);
    ck_assert_msg(kind_of(part, NULL) == 0, "%s exists", part);
}

typedef struct refusal {
    const char *what; /* made at out_path */
    const char *says; /* in the one line */
} refusal;

static const refusal refusals[] = {
    {"directory", "is a directory"},
    {"chr", "is a character device"},
    {"blk", "is a block device"},
    {"socket", "is a socket"},
    {"dangling", "symbolic link to nothing"},
    {"link-to-chr", "is a character device"},
};

/* Every output that cannot take a TIFF is refused before the scanner is
 * even contacted (the port is closed: a scan would fail with
 * WIA_ERROR_OFFLINE), and left as it was. */
START_TEST(output_refused_before_scanning)
{
    const refusal *rf = &refusals[_i];
    char uri[96], node[600];
    const char *args[] = {"--transport", uri, "-o", out_path, NULL};
    mode_t before;
    dev_t rdev_before = 0, rdev_after = 0;
    run_result r;

    closed_uri(uri, sizeof(uri));
    snprintf(node, sizeof(node), "%s/node", tmpdir);
    if (strcmp(rf->what, "directory") == 0) {
        ck_assert_int_eq(mkdir(out_path, 0755), 0);
    } else if (strcmp(rf->what, "chr") == 0) {
        if (!make_node(out_path, S_IFCHR, 1, 7)) /* /dev/full */
            return;
    } else if (strcmp(rf->what, "blk") == 0) {
        if (!make_node(out_path, S_IFBLK, 7, 0)) /* loop0; never opened */
            return;
    } else if (strcmp(rf->what, "socket") == 0) {
        make_socket(out_path);
    } else if (strcmp(rf->what, "dangling") == 0) {
        ck_assert_int_eq(symlink("nowhere.tiff", out_path), 0);
    } else {
        if (!make_node(node, S_IFCHR, 1, 7))
            return;
        ck_assert_int_eq(symlink(node, out_path), 0);
    }
    before = kind_of(out_path, &rdev_before);
    run(&r, args);
    ck_assert_msg(r.code == DRV_EXIT_OUTPUT, "%s: exit %d, stderr '%s'", rf->what, r.code, r.err);
    assert_one_line(&r);
    ck_assert_msg(strncmp(r.err, "wiascan: STG_E_", 15) == 0, "%s: '%s'", rf->what, r.err);
    ck_assert_msg(strstr(r.err, rf->says) != NULL, "%s: '%s'", rf->what, r.err);
    ck_assert_msg(strstr(r.err, "not written") != NULL, "%s: '%s'", rf->what, r.err);
    ck_assert_msg(kind_of(out_path, &rdev_after) == before && rdev_after == rdev_before,
                  "%s: the output was changed", rf->what);
    assert_no_part(out_path);
    if (strcmp(rf->what, "link-to-chr") == 0)
        ck_assert_msg(kind_of(node, NULL) == S_IFCHR, "the link's target was replaced");
}
END_TEST

/* The probe of issue 18: a scan into a device node with a live scanner
 * must not rename a TIFF over the node. */
START_TEST(device_node_never_replaced)
{
    drvtest_emu e;
    const char *args[] = {SMALL_SCAN(e.uri), "-o", out_path, NULL};
    dev_t rdev = 0;
    run_result r;

    if (!make_node(out_path, S_IFCHR, 1, 7))
        return;
    drvtest_emu_start(&e, NULL, NULL, 1, 0);
    run(&r, args);
    drvtest_emu_stop(&e);
    ck_assert_msg(r.code == DRV_EXIT_OUTPUT, "exit %d, stderr '%s'", r.code, r.err);
    assert_one_line(&r);
    ck_assert_int_eq(kind_of(out_path, &rdev), S_IFCHR);
    ck_assert_uint_eq(major(rdev), 1);
    ck_assert_uint_eq(minor(rdev), 7);
    assert_no_part(out_path);
}
END_TEST

/* /dev/null (any node 1:3) discards: the scan runs, every page is encoded,
 * nothing is written and the node stays. Also a --trace into it. */
START_TEST(dev_null_discards)
{
    drvtest_emu e;
    char null2[600];
    const char *args[] = {SMALL_SCAN(e.uri), "--trace", null2, "-v", "-o", out_path, NULL};
    const char *jam[] = {"--transport", e.uri, "--mode", "bw",     "--dpi", "75",
                         "--pages",     "3",   "-o",     out_path, NULL};
    dev_t rdev = 0;
    run_result r;

    snprintf(null2, sizeof(null2), "%s/null2", tmpdir);
    if (!make_node(out_path, S_IFCHR, 1, 3) || !make_node(null2, S_IFCHR, 1, 3))
        return;
    drvtest_emu_start(&e, NULL, NULL, 1, 0);
    run(&r, args);
    drvtest_emu_stop(&e);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, r.err);
    ck_assert_msg(strstr(r.err, "S_OK: 2 pages") && strstr(r.err, "discarded"), "%s", r.err);
    ck_assert_int_eq(kind_of(out_path, &rdev), S_IFCHR);
    ck_assert_uint_eq(minor(rdev), 3);
    ck_assert_int_eq(kind_of(null2, &rdev), S_IFCHR);
    assert_no_part(out_path);

    drvtest_emu_start(&e, NULL, "jam-page3-band5.yaml", 1, 0);
    run(&r, jam);
    drvtest_emu_stop(&e);
    ck_assert_msg(r.code == DRV_EXIT_PAPER, "exit %d, stderr '%s'", r.code, r.err);
    assert_one_line(&r);
    ck_assert_msg(strstr(r.err, "; 2 pages scanned and discarded\n"), "%s", r.err);
    ck_assert_int_eq(kind_of(out_path, NULL), S_IFCHR);
}
END_TEST

/* Copy everything from fd into the file at path (a reader on the far side
 * of a pipe or FIFO, closing close_fd first); in a child process, so a bug that never writes can be
 * killed instead of hanging the test. */
static pid_t spawn_reader(const char *from_fifo, int from_fd, int close_fd, const char *to)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int in = from_fifo ? open(from_fifo, O_RDONLY) : from_fd;
        int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char buf[65536];
        ssize_t n;

        if (close_fd >= 0)
            close(close_fd); /* the pipe's write end: EOF when wiascan closes its own */
        if (in < 0 || out < 0)
            _exit(3);
        while ((n = read(in, buf, sizeof(buf))) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(4);
        _exit(n == 0 ? 0 : 5);
    }
    return pid;
}

static void reap_reader(pid_t pid, int kill_it)
{
    int st = 0;

    if (kill_it)
        kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    if (!kill_it)
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the reader failed (%d)", st);
}

/* A FIFO is a stream: wiascan waits for its reader, which gets the whole
 * TIFF; the FIFO stays a FIFO. */
START_TEST(fifo_output)
{
    drvtest_emu e;
    char got[600];
    const char *args[] = {SMALL_SCAN(e.uri), "-o", out_path, NULL};
    run_result r;
    pid_t reader;
    int still_fifo;

    snprintf(got, sizeof(got), "%s/from-fifo.tiff", tmpdir);
    ck_assert_int_eq(mkfifo(out_path, 0644), 0);
    reader = spawn_reader(out_path, -1, -1, got);
    drvtest_emu_start(&e, NULL, NULL, 1, 0);
    run(&r, args);
    drvtest_emu_stop(&e);
    still_fifo = kind_of(out_path, NULL) == S_IFIFO;
    reap_reader(reader, !still_fifo);
    ck_assert_msg(still_fifo, "the FIFO was replaced (exit %d, '%s')", r.code, r.err);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, r.err);
    ck_assert_str_eq(r.err, "");
    assert_no_part(out_path);
    check_small_scan(got, 2);
}
END_TEST

/* -o -: standard output as a pipe (read by another process, which checks
 * the TIFF with libtiff) or a redirected file. Nothing named "-" appears. */
START_TEST(stdout_output)
{
    drvtest_emu e;
    char got[600], redirected[600], dash[600];
    const char *args[] = {SMALL_SCAN(e.uri), "-o", "-", NULL};
    run_opts ro = {.stdout_fd = -1};
    run_result r;
    pid_t reader;
    int p[2];

    snprintf(got, sizeof(got), "%s/from-pipe.tiff", tmpdir);
    snprintf(redirected, sizeof(redirected), "%s/redirected.tiff", tmpdir);
    snprintf(dash, sizeof(dash), "%s/-", tmpdir);
    drvtest_emu_start(&e, NULL, NULL, 1, 0);

    ck_assert_int_eq(pipe(p), 0);
    reader = spawn_reader(NULL, p[0], p[1], got);
    close(p[0]);
    ro.stdout_fd = p[1];
    run_ex(&r, args, &ro);
    close(p[1]);
    reap_reader(reader, 0);
    ck_assert_msg(r.code == 0, "pipe: exit %d, stderr '%s'", r.code, r.err);
    ck_assert_str_eq(r.err, "");
    check_small_scan(got, 2);

    ro.stdout_fd = open(redirected, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(ro.stdout_fd, 0);
    run_ex(&r, args, &ro);
    close(ro.stdout_fd);
    ck_assert_msg(r.code == 0, "file: exit %d, stderr '%s'", r.code, r.err);
    check_small_scan(redirected, 2);

    drvtest_emu_stop(&e);
    ck_assert_msg(kind_of(dash, NULL) == 0, "a file named '-' was written");
}
END_TEST

/* -o - whose reader is gone before the end: the copy fails (EPIPE, not a
 * silent SIGPIPE death) and the scan is saved in $TMPDIR and named. */
START_TEST(stdout_reader_gone)
{
    drvtest_emu e;
    const char *args[] = {SMALL_SCAN(e.uri), "-o", "-", NULL};
    run_opts ro = {.stdout_fd = -1, .tmpdir = tmpdir};
    char want[700], saved[700];
    const char *at, *nl;
    run_result r;
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    close(p[0]);
    ro.stdout_fd = p[1];
    drvtest_emu_start(&e, NULL, NULL, 1, 0);
    run_ex(&r, args, &ro);
    drvtest_emu_stop(&e);
    close(p[1]);
    ck_assert_msg(r.code == DRV_EXIT_OUTPUT, "exit %d, stderr '%s'", r.code, r.err);
    assert_one_line(&r);
    ck_assert_msg(
        strncmp(r.err, "wiascan: STG_E_WRITEFAULT (cannot write to standard output: ", 60) == 0,
        "%s", r.err);
    snprintf(want, sizeof(want), "; 2 pages kept in %s/wiascan-", tmpdir);
    at = strstr(r.err, want);
    ck_assert_msg(at != NULL, "%s", r.err);
    at += strlen("; 2 pages kept in ");
    nl = strchr(at, '\n');
    snprintf(saved, sizeof(saved), "%.*s", (int)(nl - at), at);
    check_small_scan(saved, 2);
}
END_TEST

/* -o - on a terminal is refused before scanning; on /dev/null it discards. */
START_TEST(stdout_terminal_or_dev_null)
{
    drvtest_emu e;
    char uri[96], dash[600];
    const char *closed[] = {"--transport", uri, "-o", "-", NULL};
    const char *scan[] = {SMALL_SCAN(e.uri), "-v", "-o", "-", NULL};
    run_opts ro = {.stdout_fd = -1};
    run_result r;
    int master, slave;

    snprintf(dash, sizeof(dash), "%s/-", tmpdir);
    closed_uri(uri, sizeof(uri));
    master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    ck_assert_int_ge(slave, 0);
    ro.stdout_fd = slave;
    run_ex(&r, closed, &ro);
    close(slave);
    close(master);
    ck_assert_msg(r.code == DRV_EXIT_OUTPUT, "exit %d, stderr '%s'", r.code, r.err);
    assert_one_line(&r);
    ck_assert_msg(strstr(r.err, "standard output is a terminal"), "%s", r.err);

    ro.stdout_fd = open("/dev/null", O_WRONLY);
    ck_assert_int_ge(ro.stdout_fd, 0);
    drvtest_emu_start(&e, NULL, NULL, 1, 0);
    run_ex(&r, scan, &ro);
    drvtest_emu_stop(&e);
    close(ro.stdout_fd);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, r.err);
    ck_assert_msg(strstr(r.err, "S_OK: 2 pages") && strstr(r.err, "discarded"), "%s", r.err);
    ck_assert_msg(kind_of(dash, NULL) == 0, "a file named '-' was written");
}
END_TEST

/* An OUT.part left by a run that did not finish is replaced, and the run
 * says so: a note on success (not with -q), a clause of the one line on
 * failure. */
START_TEST(stale_part_reported)
{
    drvtest_emu e;
    char part[600], want[1400];
    const char *args[] = {SMALL_SCAN(e.uri), "-o", out_path, NULL};
    const char *quiet[] = {SMALL_SCAN(e.uri), "-q", "-o", out_path, NULL};
    const char *jam[] = {"--transport", e.uri,    "--mode", "bw", "--dpi",  "75", "--pages",
                         "3",           "--seed", "5",      "-o", out_path, NULL};
    run_result r;
    FILE *f;

    snprintf(part, sizeof(part), "%s.part", out_path);
    drvtest_emu_start(&e, NULL, NULL, 1, 0);
    f = fopen(part, "w");
    ck_assert_ptr_nonnull(f);
    fputs("what a killed wiascan left", f);
    fclose(f);
    run(&r, args);
    ck_assert_msg(r.code == 0, "exit %d, stderr '%s'", r.code, r.err);
    snprintf(want, sizeof(want),
             "wiascan: note: %s, left by an earlier run that did not finish, was replaced\n", part);
    ck_assert_str_eq(r.err, want);
    check_small_scan(out_path, 2);
    assert_no_part(out_path);

    /* no stale .part: silent again */
    run(&r, args);
    ck_assert_msg(r.code == 0 && r.err[0] == '\0', "exit %d, stderr '%s'", r.code, r.err);

    f = fopen(part, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    run(&r, quiet);
    ck_assert_msg(r.code == 0 && r.err[0] == '\0', "-q: exit %d, stderr '%s'", r.code, r.err);
    drvtest_emu_stop(&e);

    drvtest_emu_start(&e, NULL, "jam-page3-band5.yaml", 1, 0);
    f = fopen(part, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    run(&r, jam);
    drvtest_emu_stop(&e);
    ck_assert_msg(r.code == DRV_EXIT_PAPER, "exit %d, stderr '%s'", r.code, r.err);
    assert_one_line(&r);
    snprintf(want, sizeof(want),
             "; 2 pages kept in %s; %s, left by an earlier run that did not finish, was "
             "replaced\n",
             out_path, part);
    ck_assert_msg(strstr(r.err, want) != NULL, "%s", r.err);
}
END_TEST

/* An OUT.part that a running scan holds (flock) is not touched: the second
 * scan into the same name is refused before it starts. */
START_TEST(part_of_running_scan_refused)
{
    char uri[96], part[600], buf[64] = "";
    const char *args[] = {"--transport", uri, "-o", out_path, NULL};
    run_result r;
    int fd;
    ssize_t n;

    closed_uri(uri, sizeof(uri));
    snprintf(part, sizeof(part), "%s.part", out_path);
    fd = open(part, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "page 1 of the other scan", 24), 24);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    run(&r, args);
    ck_assert_msg(r.code == DRV_EXIT_OUTPUT, "exit %d, stderr '%s'", r.code, r.err);
    assert_one_line(&r);
    ck_assert_msg(strstr(r.err, "STG_E_SHAREVIOLATION") && strstr(r.err, "another scan"), "%s",
                  r.err);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    ck_assert_int_eq(n, 24);
    ck_assert_str_eq(buf, "page 1 of the other scan");
    ck_assert_msg(drvtest_exists(part), "the other scan's .part was removed");
    close(fd);
}
END_TEST

#define NOBODY 65534u

/* Files another user may or may not replace: run wiascan as nobody. A
 * read-only OUT is refused (a redirection or cp would fail on it too), and
 * so is an OUT of another user in a sticky directory (the rename at the end
 * would fail), both before scanning. */
START_TEST(unreplaceable_output_refused_before_scanning)
{
    char uri[96], dir[600], sticky[600], ro_out[700], other_out[700], buf[32] = "";
    const char *ro_args[] = {"--transport", uri, "-o", ro_out, NULL};
    const char *other_args[] = {"--transport", uri, "-o", other_out, NULL};
    run_opts ro = {.stdout_fd = -1, .uid = NOBODY};
    run_result r;
    FILE *f;
    int fd;

    if (geteuid() != 0) {
        fprintf(stderr, "test_drv_wiascan: not root, cannot run wiascan as another user\n");
        return;
    }
    closed_uri(uri, sizeof(uri));
    ck_assert_int_eq(chmod(tmpdir, 0755), 0);
    snprintf(dir, sizeof(dir), "%s/nobody", tmpdir);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(chown(dir, NOBODY, NOBODY), 0);
    snprintf(ro_out, sizeof(ro_out), "%s/read-only.tiff", dir);
    f = fopen(ro_out, "w");
    ck_assert_ptr_nonnull(f);
    fputs("keep me", f);
    fclose(f);
    ck_assert_int_eq(chown(ro_out, NOBODY, NOBODY), 0);
    ck_assert_int_eq(chmod(ro_out, 0444), 0);
    run_ex(&r, ro_args, &ro);
    ck_assert_msg(r.code == DRV_EXIT_OUTPUT, "read-only: exit %d, stderr '%s'", r.code, r.err);
    assert_one_line(&r);
    ck_assert_msg(strstr(r.err, "is read-only"), "%s", r.err);
    assert_no_part(ro_out);

    snprintf(sticky, sizeof(sticky), "%s/sticky", tmpdir);
    ck_assert_int_eq(mkdir(sticky, 0755), 0);
    ck_assert_int_eq(chmod(sticky, 01777), 0);
    snprintf(other_out, sizeof(other_out), "%s/roots.tiff", sticky);
    f = fopen(other_out, "w");
    ck_assert_ptr_nonnull(f);
    fputs("root's", f);
    fclose(f);
    ck_assert_int_eq(chmod(other_out, 0666), 0);
    run_ex(&r, other_args, &ro);
    ck_assert_msg(r.code == DRV_EXIT_OUTPUT, "sticky: exit %d, stderr '%s'", r.code, r.err);
    assert_one_line(&r);
    ck_assert_msg(strstr(r.err, "sticky directory"), "%s", r.err);
    assert_no_part(other_out);
    fd = open(other_out, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, buf, sizeof(buf) - 1), 6);
    close(fd);
}
END_TEST

/* The read-only mount of the probe: in a private mount namespace, a tmpfs
 * mounted read-only over a directory of the test's own. */
static char rofs_dir[600];

static int mount_rofs(void)
{
    if (unshare(CLONE_NEWNS) != 0)
        return -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return -1;
    return mount("scanemu-test", rofs_dir, "tmpfs", MS_RDONLY, NULL);
}

static int can_mount_rofs(void)
{
    pid_t pid = fork();
    int st = 0;

    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(mount_rofs() == 0 ? 0 : 1);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Every HRESULT wiascan prints has its name: a read-only file system is
 * STG_E_DISKISWRITEPROTECTED, not 0x80030013. */
START_TEST(read_only_file_system_named)
{
    char uri[96], out[700];
    const char *args[] = {"--transport", uri, "-o", out, NULL};
    run_opts ro = {.stdout_fd = -1, .setup = mount_rofs};
    run_result r;

    closed_uri(uri, sizeof(uri));
    snprintf(rofs_dir, sizeof(rofs_dir), "%s/rofs", tmpdir);
    ck_assert_int_eq(mkdir(rofs_dir, 0755), 0);
    if (!can_mount_rofs()) {
        fprintf(stderr,
                "test_drv_wiascan: no private mount namespace here; read-only case not run\n");
        return;
    }
    snprintf(out, sizeof(out), "%s/out.tiff", rofs_dir);
    run_ex(&r, args, &ro);
    ck_assert_msg(r.code == DRV_EXIT_OUTPUT, "exit %d, stderr '%s'", r.code, r.err);
    assert_one_line(&r);
    ck_assert_msg(strncmp(r.err, "wiascan: STG_E_DISKISWRITEPROTECTED (", 37) == 0, "%s", r.err);
    ck_assert_msg(strstr(r.err, "Read-only file system"), "%s", r.err);
}
END_TEST

typedef struct trace_refusal {
    const char *what;
    const char *says;
} trace_refusal;

static const trace_refusal trace_refusals[] = {
    {"directory", "is a directory"},
    {"chr", "is a character device"},
    {"socket", "is a socket"},
    {"output", "is the output"},
    {"existing-output", "is the output"},
};

/* --trace gets the output's care: no directory, device node (other than
 * /dev/null) or socket, and not the output itself; refused before scanning
 * and left as it was. */
START_TEST(trace_refused_before_scanning)
{
    const trace_refusal *tr = &trace_refusals[_i];
    char uri[96], trace[600], want[700];
    const char *args[] = {"--transport", uri, "--trace", trace, "-o", out_path, NULL};
    mode_t before;
    run_result r;

    closed_uri(uri, sizeof(uri));
    snprintf(trace, sizeof(trace), "%s/trace", tmpdir);
    if (strcmp(tr->what, "directory") == 0) {
        ck_assert_int_eq(mkdir(trace, 0755), 0);
    } else if (strcmp(tr->what, "chr") == 0) {
        if (!make_node(trace, S_IFCHR, 1, 7))
            return;
    } else if (strcmp(tr->what, "socket") == 0) {
        make_socket(trace);
    } else {
        snprintf(trace, sizeof(trace), "%s", out_path);
        if (strcmp(tr->what, "existing-output") == 0) {
            FILE *f = fopen(out_path, "w");

            ck_assert_ptr_nonnull(f);
            fclose(f);
        }
    }
    before = kind_of(trace, NULL);
    run(&r, args);
    ck_assert_msg(r.code == DRV_EXIT_OUTPUT, "%s: exit %d, stderr '%s'", tr->what, r.code, r.err);
    assert_one_line(&r);
    snprintf(want, sizeof(want), "--trace %s %s", trace, tr->says);
    ck_assert_msg(strstr(r.err, want) != NULL, "%s: '%s'", tr->what, r.err);
    ck_assert_int_eq(kind_of(trace, NULL), before);
    assert_no_part(out_path);
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
    tcase_add_loop_test(tc, output_refused_before_scanning, 0,
                        (int)(sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tc, device_node_never_replaced);
    tcase_add_test(tc, dev_null_discards);
    tcase_add_test(tc, fifo_output);
    tcase_add_test(tc, stdout_output);
    tcase_add_test(tc, stdout_reader_gone);
    tcase_add_test(tc, stdout_terminal_or_dev_null);
    tcase_add_test(tc, stale_part_reported);
    tcase_add_test(tc, part_of_running_scan_refused);
    tcase_add_test(tc, unreplaceable_output_refused_before_scanning);
    tcase_add_test(tc, read_only_file_system_named);
    tcase_add_loop_test(tc, trace_refused_before_scanning, 0,
                        (int)(sizeof(trace_refusals) / sizeof(trace_refusals[0])));
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
