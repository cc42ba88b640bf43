/* device-model fixture loaders: what they refuse and how they say it.
 *
 * Every refusal is one line naming the file, the key path with list indices
 * and the problem; cross-checks name the scenario and the profile file. The
 * file loaders never block: a FIFO, directory, device node or socket is
 * refused by kind (a loader that blocked would fail here through Check's
 * timeout, set generously for a loaded machine; nothing measures time). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dm-internal.h"

/* ---- helpers --------------------------------------------------------------------- */

static char tmpdir[256];

static void tmpdir_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/dm-fixture-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmpdir_teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static const char *tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
    return buf;
}

static const char *write_tmp(char *buf, size_t len, const char *name, const char *text)
{
    FILE *f = fopen(tmp_path(buf, len, name), "wb");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
    return buf;
}

static const char *fixture_path(char *buf, size_t len, const char *rel)
{
    const char *src = getenv("SCANEMU_SOURCE_DIR");
    snprintf(buf, len, "%s/fixtures/%s", src ? src : "..", rel);
    return buf;
}

/* A counting allocator: the refusals must not leak, and the file-kind
 * refusals happen before anything is allocated. */
typedef struct count_alloc {
    long n_allocs;
    long live;
} count_alloc;

static void *count_realloc(void *ctx, void *ptr, size_t size)
{
    count_alloc *ca = ctx;
    void *q;

    if (size == 0) {
        if (ptr != NULL)
            ca->live--;
        free(ptr);
        return NULL;
    }
    ca->n_allocs++;
    q = realloc(ptr, size);
    if (q != NULL && ptr == NULL)
        ca->live++;
    return q;
}

static void assert_one_line(const char *err)
{
    ck_assert_msg(err[0] != '\0', "no message");
    for (const char *p = err; *p != '\0'; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte in: %s", err);
}

static void assert_has(const char *err, const char *want)
{
    ck_assert_msg(strstr(err, want) != NULL, "'%s' not in: %s", want, err);
}

/* ---- file kinds: never block, refuse by kind --------------------------------------- */

/* Loads `path` as a profile and as a scenario; both must refuse it with
 * DM_E_IO, naming the path and `kind`, without allocating. */
static void expect_kind_refused(const char *path, const char *kind)
{
    char err[512];
    char want[400];
    count_alloc ca = {0};
    dm_alloc a = {.realloc = count_realloc, .ctx = &ca};
    dm_profile *p = NULL;
    dm_scenario *s = NULL;

    snprintf(want, sizeof(want), "%s: is %s, not a regular file", path, kind);
    err[0] = '\0';
    ck_assert_int_eq(dm_profile_load_file_a(&a, path, &p, err, sizeof(err)), DM_E_IO);
    ck_assert_ptr_null(p);
    assert_has(err, want);
    assert_has(err, "a profile is read from a regular file");
    assert_one_line(err);
    err[0] = '\0';
    ck_assert_int_eq(dm_scenario_load_file_a(&a, path, &s, err, sizeof(err)), DM_E_IO);
    ck_assert_ptr_null(s);
    assert_has(err, want);
    assert_has(err, "a scenario is read from a regular file");
    ck_assert_int_eq(ca.n_allocs, 0);
    ck_assert_int_eq(ca.live, 0);
}

START_TEST(fifo_refused_without_blocking)
{
    char path[300];

    /* No writer: open(O_RDONLY) without O_NONBLOCK would wait forever. */
    ck_assert_int_eq(mkfifo(tmp_path(path, sizeof(path), "fifo.yaml"), 0600), 0);
    expect_kind_refused(path, "a FIFO (named pipe)");
}
END_TEST

START_TEST(directory_refused_with_reason)
{
    char path[300];

    ck_assert_int_eq(mkdir(tmp_path(path, sizeof(path), "dir.yaml"), 0700), 0);
    expect_kind_refused(path, "a directory");
}
END_TEST

START_TEST(device_node_refused)
{
    expect_kind_refused("/dev/null", "a character device");
}
END_TEST

START_TEST(socket_refused)
{
    char path[300];
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    tmp_path(path, sizeof(path), "sock.yaml");
    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    expect_kind_refused(path, "a socket");
    close(fd);
}
END_TEST

START_TEST(oversized_and_missing_files)
{
    char path[300];
    char err[512];
    dm_profile *p = NULL;
    dm_scenario *s = NULL;
    FILE *f = fopen(tmp_path(path, sizeof(path), "big.yaml"), "wb");

    /* One byte over the cap: refused, not read. */
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, (long)DM_FIXTURE_MAX_BYTES, SEEK_SET), 0);
    ck_assert_int_eq(fputc('\n', f), '\n');
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(dm_scenario_load_file(path, &s, err, sizeof(err)), DM_E_IO);
    assert_has(err, path);
    assert_has(err, "1048577 bytes, more than the 1048576 a scenario fixture may have");
    assert_one_line(err);

    ck_assert_int_eq(
        dm_profile_load_file(tmp_path(path, sizeof(path), "absent.yaml"), &p, err, sizeof(err)),
        DM_E_IO);
    assert_has(err, path);
    assert_has(err, "cannot open profile: No such file or directory");
    ck_assert_ptr_null(p);
    ck_assert_ptr_null(s);
}
END_TEST

/* A symlink to a regular file is that file; to a FIFO, it is a FIFO. */
START_TEST(symlinks_followed)
{
    char target[300], link[300], src[300];
    char err[512];
    dm_profile *p = NULL;

    fixture_path(src, sizeof(src), "profiles/default.yaml");
    ck_assert_int_eq(symlink(src, tmp_path(link, sizeof(link), "link.yaml")), 0);
    ck_assert_msg(dm_profile_load_file(link, &p, err, sizeof(err)) == DM_OK, "%s", err);
    dm_profile_free(p);
    ck_assert_int_eq(mkfifo(tmp_path(target, sizeof(target), "fifo"), 0600), 0);
    ck_assert_int_eq(symlink(target, tmp_path(link, sizeof(link), "fifo-link.yaml")), 0);
    expect_kind_refused(link, "a FIFO (named pipe)");
}
END_TEST

/* ---- messages: file, key path with indices, problem --------------------------------- */

#define PROFILE_USB                                                                                \
    "usb: {vid: 0x1209, pid: 1, speed: high, manufacturer: m, product: p, serial: s}\n"
#define PROFILE_REST                                                                               \
    "sources: [adf]\nfeeder_capacity: 10\nmodes: [bw, gray, color]\nresolutions: [100, 300]\n"     \
    "area: {width_mm: 210, height_mm: 297}\n"                                                      \
    "band: {lines: 64, max_bytes: 1048576}\n"                                                      \
    "defaults: {source: adf, mode: color, dpi: 300}\n"                                             \
    "timing: {warmup_ms: 0, feed_ms: 100, line_time_us: {bw: 1, gray: 1, color: 1}}\n"
#define PROFILE_OK "name: ok\n" PROFILE_USB PROFILE_REST
#define TWO_JAMS                                                                                   \
    "  - {kind: paper_jam, at: {page: 1, band: 1}}\n"                                              \
    "  - {kind: paper_jam, at: {page: 2, band: 1}}\n"

static const struct msg_case {
    int profile;        /* 1 profile loader, 0 scenario loader */
    const char *yaml;   /* loaded as "bad.yaml" */
    const char *expect; /* substring of the message, from its start */
    const char *not_in; /* must not appear (a wrong key once reported), or NULL */
} msg_cases[] = {
    /* A missing key is named, not the key libcyaml read last. */
    {1, PROFILE_USB PROFILE_REST, "bad.yaml: key 'name': missing; this key is required", "timing"},
    {1, "name: n\ndescription: d\n" PROFILE_REST, "bad.yaml: key 'usb': missing", "description"},
    {1,
     "name: n\nusb: {vid: 1, speed: high, manufacturer: m, product: p, serial: s}\n" PROFILE_REST,
     "bad.yaml: key 'usb.pid': missing", NULL},
    {0, "sheets: 3\n", "bad.yaml: key 'name': missing", "sheets"},
    {0, "name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {at: {page: 1, band: 1}}\n",
     "bad.yaml: key 'faults[2].kind': missing", NULL},
    {0, "name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: stall, at: {band: 1}}\n",
     "bad.yaml: key 'faults[2].at.page': missing", NULL},
    /* Unknown values and keys: where, and what would do. */
    {0, "name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: gremlins, at: {page: 1, band: 1}}\n",
     "bad.yaml: key 'faults[2].kind': unknown value 'gremlins'; expected one of: paper_jam, "
     "multi_feed, cover_open, feeder_empty, warming_up, busy, stall, short_band, corrupt_band, "
     "band_never_comes, disconnect, delay, device_error, button",
     NULL},
    {0, "name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: stall, at: {page: 1, bnad: 1}}\n",
     "bad.yaml: key 'faults[2].at.bnad': unknown key; expected one of: page, side, band, line, "
     "byte",
     NULL},
    {1, PROFILE_OK "colour: blue\n",
     "bad.yaml: key 'colour': unknown key; expected one of: name, description, usb, protocols, "
     "sources, feeder_capacity, modes, resolutions, area, band, defaults, timing",
     NULL},
    /* protocols: and the IPP-USB interfaces. */
    {1, PROFILE_OK "protocols: [native, ipp]\n",
     "bad.yaml: key 'protocols[1]': unknown value 'ipp'; expected one of: native, escl", NULL},
    {1, PROFILE_OK "protocols: []\n",
     "bad.yaml: key 'protocols': expected at least 1 list entry, got 0", NULL},
    {1, PROFILE_OK "protocols: [escl, escl]\n", "bad.yaml: key 'protocols': 'escl' is listed twice",
     NULL},
    {1,
     "name: n\nusb: {vid: 1, pid: 1, speed: high, manufacturer: m, product: p, serial: s, "
     "ippusb_interfaces: 3}\n" PROFILE_REST,
     "bad.yaml: key 'usb.ippusb_interfaces': only with 'escl' in 'protocols'", NULL},
    {1,
     "name: n\nusb: {vid: 1, pid: 1, speed: high, manufacturer: m, product: p, serial: s, "
     "ippusb_interfaces: 9}\nprotocols: [escl]\n" PROFILE_REST,
     "bad.yaml: key 'usb.ippusb_interfaces': expected 2..8, got 9", NULL},
    {1, "name: n\n" PROFILE_USB "sources: [adf, scanner]\n",
     "bad.yaml: key 'sources': unknown value 'scanner'; expected one of: flatbed, adf, duplex",
     NULL},
    {1,
     "name: n\nusb: {vid: 1, pid: 1, speed: ludicrous, manufacturer: m, product: p, serial: s}\n",
     "bad.yaml: key 'usb.speed': unknown value 'ludicrous'; expected one of: full, high, super",
     NULL},
    {1,
     "name: n\n" PROFILE_USB "sources: [adf]\nfeeder_capacity: 10\nmodes: [bw]\n"
     "resolutions: [100]\narea: {width_mm: 210, height_mm: 297}\n"
     "band: {lines: 64, max_bytes: 1048576}\ndefaults: {source: adf, mode: bw, dpi: 100}\n"
     "timing: {warmup_ms: 0, feed_ms: 1, line_time_us: {bw: 1},\n"
     "         line_time_overrides: [{mode: bw, dpi: 100, us: 3}, {mode: grey, dpi: 100, us: "
     "3}]}\n",
     "bad.yaml: key 'timing.line_time_overrides[1].mode': unknown value 'grey'", NULL},
    /* Shapes, lengths, repeats. */
    {1, "name: n\nusb: 3\n", "bad.yaml: key 'usb': expected a mapping (key: value), got a single",
     NULL},
    {1, "name: n\n" PROFILE_USB "sources: []\nfeeder_capacity: 1\nmodes: [bw]\nresolutions: []\n",
     "bad.yaml: key 'resolutions': expected at least 1 list entry, got 0", NULL},
    {0, "name: s\nsheets: 1\nsheets: 2\n", "bad.yaml: key 'sheets': given twice", NULL},
    {0, "name: s\nsheets: 1\nfaults:\n  - {kind: busy, count: 2, count: 3}\n",
     "bad.yaml: key 'faults[0].count': given twice", NULL},
    {0, "name: s\nsheets: 1\nfaults: {kind: busy}\n",
     "bad.yaml: key 'faults': expected a list, got a mapping", NULL},
    {0, "name: &n s\ndescription: *n\nsheets: 1\n",
     "bad.yaml: key 'description': aliases (*name) are not supported", NULL},
    /* Syntax errors have a line and column instead of a key. */
    {0, "name: s\n\tsheets: 3\n", "bad.yaml: line 2, column 1: not valid YAML: found a tab", NULL},
    {1, "name: 'unterminated\n", "bad.yaml: line 2, column 1: not valid YAML: found unexpected end",
     NULL},
    /* One document per fixture. */
    {0, "name: a\nsheets: 3\n---\nname: b\nsheets: 1\n",
     "bad.yaml: a second YAML document ('---') follows the first; a fixture is one document", NULL},
    {0, "name: a\nsheets: 3\n...\n---\n", "bad.yaml: a second YAML document", NULL},
    {1, PROFILE_OK "---\n" PROFILE_OK, "bad.yaml: a second YAML document", NULL},
    /* The loader's own checks keep their keys. */
    {0, "name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: delay, at: {page: 1, band: 2}}\n",
     "bad.yaml: key 'faults[2].ms': missing; expected a duration in milliseconds for a delay fault",
     NULL},
    {0, "name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: paper_jam, at: {page: 1, band: 0}}\n",
     "bad.yaml: key 'faults[2].at.band': expected 1..1000000, got 0", NULL},
};

START_TEST(messages_name_file_and_key_path)
{
    const struct msg_case *c = &msg_cases[_i];
    char err[1024];
    count_alloc ca = {0};
    dm_alloc a = {.realloc = count_realloc, .ctx = &ca};
    int rc;

    memset(err, 0, sizeof(err));
    if (c->profile) {
        dm_profile *p = NULL;
        rc = dm_profile_load_mem_a(&a, "bad.yaml", c->yaml, strlen(c->yaml), &p, err, sizeof(err));
        ck_assert_ptr_null(p);
    } else {
        dm_scenario *s = NULL;
        rc = dm_scenario_load_mem_a(&a, "bad.yaml", c->yaml, strlen(c->yaml), &s, err, sizeof(err));
        ck_assert_ptr_null(s);
    }
    ck_assert_msg(rc == DM_E_PARSE || rc == DM_E_RANGE, "case %d: rc %d: %s", _i, rc, err);
    ck_assert_msg(strncmp(err, c->expect, strlen(c->expect)) == 0, "case %d: want '%s', got '%s'",
                  _i, c->expect, err);
    if (c->not_in != NULL)
        ck_assert_msg(strstr(err, c->not_in) == NULL, "case %d: '%s' in: %s", _i, c->not_in, err);
    assert_one_line(err);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

/* protocols: decides the USB interfaces (default [native]). */
START_TEST(protocols_and_ippusb_interfaces)
{
    static const struct {
        const char *extra;
        uint32_t protocols, n_ippusb;
    } cases[] = {
        {"", DM_PROTOCOL_NATIVE, 0},
        {"protocols: [native]\n", DM_PROTOCOL_NATIVE, 0},
        {"protocols: [escl]\n", DM_PROTOCOL_ESCL, 2},
        {"protocols: [escl, native]\n", DM_PROTOCOL_NATIVE | DM_PROTOCOL_ESCL, 2},
    };
    char err[512];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[2048];
        dm_profile *p = NULL;
        snprintf(yaml, sizeof yaml, "%s%s", PROFILE_OK, cases[i].extra);
        ck_assert_msg(dm_profile_load_mem("ok.yaml", yaml, strlen(yaml), &p, err, sizeof err) == 0,
                      "%s", err);
        ck_assert_uint_eq(dm_profile_usb(p)->protocols, cases[i].protocols);
        ck_assert_uint_eq(dm_profile_usb(p)->ippusb_interfaces, cases[i].n_ippusb);
        dm_profile_free(p);
    }
    {
        const char *yaml =
            "name: n\nusb: {vid: 1, pid: 1, speed: high, manufacturer: m, product: "
            "p, serial: s, ippusb_interfaces: 4}\nprotocols: [native, escl]\n" PROFILE_REST;
        dm_profile *p = NULL;
        ck_assert_msg(dm_profile_load_mem("ok.yaml", yaml, strlen(yaml), &p, err, sizeof err) == 0,
                      "%s", err);
        ck_assert_uint_eq(dm_profile_usb(p)->ippusb_interfaces, 4);
        dm_profile_free(p);
    }
}
END_TEST

/* The control: the cases' building blocks load. */
START_TEST(message_cases_control)
{
    static const char scen[] = "name: s\nsheets: 3\nfaults:\n" TWO_JAMS;
    char err[512];
    dm_profile *p = NULL;
    dm_scenario *s = NULL;

    ck_assert_msg(dm_profile_load_mem("ok.yaml", PROFILE_OK, strlen(PROFILE_OK), &p, err,
                                      sizeof(err)) == DM_OK,
                  "%s", err);
    ck_assert_msg(dm_scenario_load_mem("ok.yaml", scen, strlen(scen), &s, err, sizeof(err)) ==
                      DM_OK,
                  "%s", err);
    dm_scenario_free(s);
    dm_profile_free(p);
}
END_TEST

/* 65 faults: the list's own path, not its last entry. */
START_TEST(too_many_faults_names_the_list)
{
    char yaml[4096];
    char err[512];
    dm_scenario *s = NULL;
    size_t n = (size_t)snprintf(yaml, sizeof(yaml), "name: s\nsheets: 1\nfaults:\n");

    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "  - {kind: busy}\n");
    ck_assert_uint_lt(n, sizeof(yaml));
    ck_assert_int_eq(dm_scenario_load_mem("bad.yaml", yaml, strlen(yaml), &s, err, sizeof(err)),
                     DM_E_PARSE);
    assert_has(err, "bad.yaml: key 'faults': expected at most 64 list entries");
}
END_TEST

/* Through the file loader the file is the path given. */
START_TEST(file_loader_names_the_path)
{
    char path[300];
    char want[400];
    char err[512];
    dm_scenario *s = NULL;

    write_tmp(path, sizeof(path), "kind.yaml",
              "name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: gremlins}\n");
    ck_assert_int_eq(dm_scenario_load_file(path, &s, err, sizeof(err)), DM_E_PARSE);
    snprintf(want, sizeof(want), "%s: key 'faults[2].kind': unknown value 'gremlins'", path);
    assert_has(err, want);
    write_tmp(path, sizeof(path), "two.yaml", "name: a\nsheets: 3\n---\nname: b\nsheets: 1\n");
    ck_assert_int_eq(dm_scenario_load_file(path, &s, err, sizeof(err)), DM_E_PARSE);
    snprintf(want, sizeof(want), "%s: a second YAML document", path);
    assert_has(err, want);
    ck_assert_ptr_null(s);
}
END_TEST

/* ---- cross-checks name both files ------------------------------------------------ */

static void load_pair(const char *scenario_yaml, const char *profile_rel, char *spath, size_t slen,
                      char *ppath, size_t plen, dm_scenario **s, dm_profile **p)
{
    char err[512];

    write_tmp(spath, slen, "scenario.yaml", scenario_yaml);
    ck_assert_msg(dm_scenario_load_file(spath, s, err, sizeof(err)) == DM_OK, "%s", err);
    fixture_path(ppath, plen, profile_rel);
    ck_assert_msg(dm_profile_load_file(ppath, p, err, sizeof(err)) == DM_OK, "%s", err);
}

static const struct pair_case {
    const char *yaml;
    const char *profile;
    const char *key_and_problem; /* after "SCENARIO: " */
    const char *then;            /* after "profile PROFILE" */
} pair_cases[] = {
    {"name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: paper_jam, at: {page: 3, band: 56}}\n",
     "profiles/default.yaml",
     "key 'faults[2].at.band': band 56 is past the last band (55) of page 3 in the default job of "
     "profile ",
     " (ADF, color, 300 dpi)"},
    {"name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: stall, every: {pages: 1, band: 99}}\n",
     "profiles/default.yaml",
     "key 'faults[2].every.band': band 99 is past the last band (55) of a page in the default "
     "job of profile ",
     " (ADF, color, 300 dpi)"},
    {"name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: paper_jam, at: {page: 1, line: 3509}}\n",
     "profiles/default.yaml",
     "key 'faults[2].at.line': line 3509 is past the last line (3508) of page 1 in the default "
     "job of profile ",
     " (ADF, color, 300 dpi)"},
    {"name: s\nsheets: 3\nfaults:\n" TWO_JAMS "  - {kind: paper_jam, at: {page: 5, band: 1}}\n",
     "profiles/default.yaml",
     "key 'faults[2].at.page': page 5 is past the end of the default job of profile ",
     " (ADF, 3 pages)"},
    {"name: s\nsheets: 0\nfaults:\n  - {kind: feeder_empty, at: {page: 1}}\n",
     "profiles/flatbed-1200.yaml",
     "key 'faults[0].kind': a feeder_empty fault never fires: profile ", " has no feeder"},
    {"name: s\nsheets: 3\nfaults:\n" TWO_JAMS
     "  - {kind: paper_jam, at: {page: 2, band: 1, side: back}}\n",
     "profiles/default.yaml", "key 'faults[2].at.side': profile ",
     " has no duplex source, no page has a back side"},
    {"name: s\nsheets: 51\n", "profiles/default.yaml",
     "key 'sheets': 51 sheets do not fit the feeder of profile ", " (capacity 50)"},
};

START_TEST(cross_checks_name_both_files)
{
    const struct pair_case *c = &pair_cases[_i];
    char spath[300], ppath[300];
    char want[1024];
    char err[1024];
    dm_scenario *s = NULL;
    dm_profile *p = NULL;

    load_pair(c->yaml, c->profile, spath, sizeof(spath), ppath, sizeof(ppath), &s, &p);
    err[0] = '\0';
    ck_assert_int_eq(dm_scenario_check(s, p, err, sizeof(err)), DM_E_RANGE);
    snprintf(want, sizeof(want), "%s: %s%s%s", spath, c->key_and_problem, ppath, c->then);
    ck_assert_msg(strcmp(err, want) == 0, "case %d:\nwant '%s'\n got '%s'", _i, want, err);
    assert_one_line(err);
    dm_scenario_free(s);
    dm_profile_free(p);
}
END_TEST

/* At START_JOB: the job actually accepted, on which profile. */
START_TEST(job_check_names_both_files)
{
    static const char yaml[] =
        "name: s\nsheets: 5\nfaults:\n" TWO_JAMS "  - {kind: paper_jam, at: {page: 3, band: 20}}\n";
    char spath[300], ppath[300];
    char want[1024];
    char err[1024];
    dm_scenario *s = NULL;
    dm_profile *p = NULL;
    dm_clock_virtual clk;
    dm_device_config cfg;
    dm_device *dev;
    proto_scan_params params;
    proto_scan_job job;
    uint8_t cmd[64];
    int n;

    load_pair(yaml, "profiles/default.yaml", spath, sizeof(spath), ppath, sizeof(ppath), &s, &p);
    ck_assert_int_eq(dm_scenario_check(s, p, err, sizeof(err)), DM_OK);

    /* dm_scenario_check_job: the caller's words for the job. */
    memset(&params, 0, sizeof(params));
    params.source = PROTO_SCAN_SOURCE_ADF;
    params.mode = PROTO_SCAN_MODE_COLOR24;
    params.dpi = 300;
    params.height_px = 640;
    ck_assert_int_eq(dm_job_resolve(p, &params, 0, &job, err, sizeof(err)), DM_OK);
    ck_assert_int_eq(dm_scenario_check_job(s, &job, "the test's job", err, sizeof(err)),
                     DM_E_RANGE);
    snprintf(want, sizeof(want),
             "%s: key 'faults[2].at.band': band 20 is past the last band (10) of page 3 in the "
             "test's job (ADF, color, 300 dpi)",
             spath);
    ck_assert_str_eq(err, want);

    /* dm_device_job_check: the device names its profile. */
    dm_clock_virtual_init(&clk, 0);
    dm_device_config_init(&cfg);
    cfg.profile = p;
    cfg.scenario = s;
    cfg.clock = &clk.base;
    cfg.timing = 0;
    ck_assert_int_eq(dm_device_create(&cfg, &dev), DM_OK);
    {
        proto_scan_cmd c = {.opcode = PROTO_SCAN_OP_SET_PARAMS, .tag = 1};
        uint8_t enc[64];
        int len = proto_scan_params_encode(&params, enc, sizeof(enc));
        ck_assert_int_gt(len, 0);
        c.length = (uint32_t)len;
        n = proto_scan_cmd_encode(&c, cmd, sizeof(cmd));
        ck_assert_int_eq(n, PROTO_SCAN_CMD_HDR_SIZE);
        ck_assert_uint_le((size_t)n + (size_t)len, sizeof(cmd));
        memcpy(cmd + n, enc, (size_t)len);
        ck_assert_int_eq(dm_device_bulk_out(dev, cmd, (size_t)n + (size_t)len), DM_OK);
    }
    {
        proto_scan_cmd c = {.opcode = PROTO_SCAN_OP_START_JOB, .tag = 2};
        n = proto_scan_cmd_encode(&c, cmd, sizeof(cmd));
        ck_assert_int_eq(dm_device_bulk_out(dev, cmd, (size_t)n), DM_OK);
    }
    ck_assert_int_eq(dm_device_job_check(dev, err, sizeof(err)), DM_E_RANGE);
    snprintf(want, sizeof(want),
             "%s: key 'faults[2].at.band': band 20 is past the last band (10) of page 3 in this "
             "job on profile %s (ADF, color, 300 dpi)",
             spath, ppath);
    ck_assert_str_eq(err, want);
    dm_device_free(dev);
    dm_scenario_free(s);
    dm_profile_free(p);
}
END_TEST

static Suite *fixture_suite(void)
{
    Suite *s = suite_create("dm-fixture");
    TCase *tc = tcase_create("file-kinds");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, fifo_refused_without_blocking);
    tcase_add_test(tc, directory_refused_with_reason);
    tcase_add_test(tc, device_node_refused);
    tcase_add_test(tc, socket_refused);
    tcase_add_test(tc, oversized_and_missing_files);
    tcase_add_test(tc, symlinks_followed);
    suite_add_tcase(s, tc);
    tc = tcase_create("messages");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, message_cases_control);
    tcase_add_test(tc, protocols_and_ippusb_interfaces);
    tcase_add_loop_test(tc, messages_name_file_and_key_path, 0,
                        (int)(sizeof(msg_cases) / sizeof(msg_cases[0])));
    tcase_add_test(tc, too_many_faults_names_the_list);
    tcase_add_test(tc, file_loader_names_the_path);
    suite_add_tcase(s, tc);
    tc = tcase_create("cross-checks");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_loop_test(tc, cross_checks_name_both_files, 0,
                        (int)(sizeof(pair_cases) / sizeof(pair_cases[0])));
    tcase_add_test(tc, job_check_names_both_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fixture_suite());
    int nf;

    srunner_run_all(sr, CK_NORMAL);
    nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
