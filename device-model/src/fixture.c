/* The common layer of the fixture loaders: reading a fixture file without
 * ever blocking, parsing YAML against a libcyaml schema with messages that
 * name the key path, and strict scalar conversion. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "fixture-internal.h"

/* ---- messages ------------------------------------------------------------------ */

int dm_fixture_fail(const dm_fixture_msg *m, int rc, const char *key, const char *fmt, ...)
{
    char problem[512];
    va_list ap;

    if (m->errbuf == NULL || m->errlen == 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof(problem), fmt, ap);
    va_end(ap);
    if (key != NULL)
        dm_errf(m->errbuf, m->errlen, "%s: key '%s': %s", m->file, key, problem);
    else
        dm_errf(m->errbuf, m->errlen, "%s: %s", m->file, problem);
    return rc;
}

/* ---- strict scalars ---------------------------------------------------------------- */

static bool parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;

    if (s == NULL || *s == '\0')
        return false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        if (*s == '\0')
            return false;
    }
    for (; *s != '\0'; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

int dm_fixture_u32(const dm_fixture_msg *m, const char *key, const char *s, uint32_t lo,
                   uint32_t hi, uint32_t *out)
{
    uint64_t v;

    if (s == NULL)
        return DM_OK;
    if (!parse_uint(s, &v))
        return dm_fixture_fail(m, DM_E_PARSE, key, "expected an integer %u..%u, got '%.40s'", lo,
                               hi, s);
    if (v < lo || v > hi)
        return dm_fixture_fail(m, DM_E_RANGE, key, "expected %u..%u, got %llu", lo, hi,
                               (unsigned long long)v);
    *out = (uint32_t)v;
    return DM_OK;
}

int dm_fixture_real(const dm_fixture_msg *m, const char *key, const char *s, double lo, double hi,
                    double *out)
{
    char *end;
    double v;

    if (s == NULL)
        return DM_OK;
    errno = 0;
    v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v))
        return dm_fixture_fail(m, DM_E_PARSE, key, "expected a number, got '%.40s'", s);
    if (!(v > lo && v <= hi))
        return dm_fixture_fail(m, DM_E_RANGE, key, "expected a number in (%g, %g], got %g", lo, hi,
                               v);
    *out = v;
    return DM_OK;
}

/* ---- libcyaml glue: allocator and error capture ------------------------------------- */

enum { FRAMES_MAX = 12 };

/* One line of libcyaml's backtrace. */
typedef struct frame {
    enum { FRAME_FIELD, FRAME_ENTRY, FRAME_MAPPING } kind;
    char name[64];  /* FRAME_FIELD: the key */
    unsigned index; /* FRAME_ENTRY: 0-based list index */
} frame;

typedef struct load_ctx {
    const dm_alloc *alloc;
    char first[160]; /* first error message, without libcyaml's "Load: " */
    unsigned n_msgs;
    frame frames[FRAMES_MAX]; /* the backtrace, innermost first */
    unsigned n_frames;
    bool extra_document;
} load_ctx;

static void *cyaml_mem_adapter(void *ctx, void *ptr, size_t size)
{
    const dm_alloc *a = ctx;
    return a->realloc(a->ctx, ptr, size);
}

static void trim_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == ':'))
        s[--n] = '\0';
}

/* libcyaml quotes keys and values from the fixture verbatim. The message must
 * stay one printable line: a key holding a newline, CR or ESC would otherwise
 * forge log lines or send escape sequences to the terminal that shows it. */
static void sanitize_line(char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            *s = '?';
    }
}

/* The text between the first pair of single quotes after `prefix` in msg. */
static bool quoted_after(const char *msg, const char *prefix, char *out, size_t outlen)
{
    const char *p = strstr(msg, prefix);
    const char *end;
    size_t n;

    if (p == NULL)
        return false;
    p += strlen(prefix);
    end = strchr(p, '\'');
    n = end != NULL ? (size_t)(end - p) : strlen(p);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* libcyaml (1.3) reports an error, then a backtrace innermost first:
 *   "Load: Invalid ENUM value: gremlins"
 *   "Load: Backtrace:"
 *   "  in mapping field 'kind' (line: 5, column: 11)"
 *   "  in sequence entry '3' (line: 5, column: 5)"      (a 1-based count)
 *   "  in mapping field 'faults' (line: 4, column: 3)"
 *   "  in mapping (line: 2, column: 6)"                 (no field yet)
 * and warns "Ignoring documents after first in stream" when a second
 * document follows. We keep the first error and the frames. */
static void cyaml_log_capture(cyaml_log_t level, void *vctx, const char *fmt, va_list args)
{
    load_ctx *ctx = vctx;
    char msg[200];
    frame *fr;

    if (level < CYAML_LOG_WARNING)
        return;
        /* fmt is libcyaml's own format string, not fixture data. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(msg, sizeof(msg), fmt, args);
#pragma GCC diagnostic pop
    trim_line(msg);
    sanitize_line(msg);
    if (level == CYAML_LOG_WARNING) {
        if (strstr(msg, "documents after first") != NULL)
            ctx->extra_document = true;
        return;
    }
    if (strncmp(msg, "  in ", 5) == 0) {
        char num[16];

        if (ctx->n_frames >= FRAMES_MAX)
            return;
        fr = &ctx->frames[ctx->n_frames];
        memset(fr, 0, sizeof(*fr));
        if (quoted_after(msg, "in mapping field '", fr->name, sizeof(fr->name))) {
            fr->kind = FRAME_FIELD;
        } else if (quoted_after(msg, "in sequence entry '", num, sizeof(num))) {
            unsigned long n = strtoul(num, NULL, 10);
            /* 0: no entry read yet, the error is the list's own. */
            if (n == 0 || n > UINT32_MAX)
                return;
            fr->kind = FRAME_ENTRY;
            fr->index = (unsigned)(n - 1);
        } else if (strncmp(msg, "  in mapping", 12) == 0) {
            fr->kind = FRAME_MAPPING;
        } else {
            return;
        }
        ctx->n_frames++;
        return;
    }
    if (strstr(msg, "Backtrace") != NULL)
        return;
    if (ctx->n_msgs++ == 0) {
        const char *m = msg;
        if (strncmp(m, "Load: ", 6) == 0)
            m += 6;
        snprintf(ctx->first, sizeof(ctx->first), "%.150s", m);
    }
}

static void cfg_init(cyaml_config_t *cfg, load_ctx *ctx)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_fn = cyaml_log_capture;
    cfg->log_ctx = ctx;
    cfg->mem_fn = cyaml_mem_adapter;
    cfg->mem_ctx = (void *)ctx->alloc;
    cfg->log_level = CYAML_LOG_WARNING;
    cfg->flags = CYAML_CFG_NO_ALIAS;
}

/* ---- turning libcyaml's error into "key 'a.b[2].c': problem" ----------------------- */

static void path_append(char *path, size_t len, const frame *fr)
{
    size_t n = strlen(path);

    if (fr->kind == FRAME_FIELD)
        snprintf(path + n, len - n, "%s%s", n > 0 ? "." : "", fr->name);
    else if (fr->kind == FRAME_ENTRY)
        snprintf(path + n, len - n, "[%u]", fr->index);
}

/* Follow the frames from the outermost through frames[inner] (inclusive)
 * down the schema; NULL where they leave it. */
static const cyaml_schema_value_t *schema_at(const cyaml_schema_value_t *v, const load_ctx *ctx,
                                             unsigned inner)
{
    for (unsigned k = ctx->n_frames; k-- > inner && v != NULL;) {
        const frame *fr = &ctx->frames[k];
        const cyaml_schema_field_t *f;

        if (fr->kind == FRAME_ENTRY) {
            v = v->type == CYAML_SEQUENCE || v->type == CYAML_SEQUENCE_FIXED ? v->sequence.entry
                                                                             : NULL;
            continue;
        }
        if (fr->kind != FRAME_FIELD)
            continue;
        if (v->type != CYAML_MAPPING)
            return NULL;
        for (f = v->mapping.fields; f->key != NULL && strcmp(f->key, fr->name) != 0; f++)
            ;
        v = f->key != NULL ? &f->value : NULL;
    }
    return v;
}

/* ", "-separated keys of a mapping, or strings of an enum or flags value. */
static void list_expected(const cyaml_schema_value_t *v, char *out, size_t len)
{
    size_t n = 0;

    out[0] = '\0';
    if (v == NULL)
        return;
    if (v->type == CYAML_MAPPING) {
        for (const cyaml_schema_field_t *f = v->mapping.fields; f->key != NULL && n < len; f++)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n > 0 ? ", " : "", f->key);
    } else if (v->type == CYAML_ENUM || v->type == CYAML_FLAGS) {
        for (uint32_t i = 0; i < v->enumeration.count && n < len; i++)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n > 0 ? ", " : "",
                                  v->enumeration.strings[i].str);
    }
}

/* libcyaml's event and type names in "Expecting %s, got event: %s". */
static const char *yaml_thing(const char *name)
{
    static const struct {
        const char *name;
        const char *says;
    } things[] = {
        {"MAPPING", "a mapping (key: value)"},
        {"MAPPING_START", "a mapping (key: value)"},
        {"SEQUENCE", "a list"},
        {"SEQUENCE_FIXED", "a list"},
        {"SEQUENCE_START", "a list"},
        {"FLAGS", "a list"},
        {"SCALAR", "a single value"},
        {"ALIAS", "an alias"},
    };
    for (size_t i = 0; i < sizeof(things) / sizeof(things[0]); i++)
        if (strcmp(name, things[i].name) == 0)
            return things[i].says;
    return "a single value";
}

/* The decimal number right after `prefix` at the start of s; *end after it. */
static bool number_after(const char *s, const char *prefix, unsigned *out, const char **end)
{
    const size_t n = strlen(prefix);
    unsigned long v;
    char *e;

    if (strncmp(s, prefix, n) != 0 || s[n] < '0' || s[n] > '9')
        return false;
    errno = 0;
    v = strtoul(s + n, &e, 10);
    if (errno != 0 || v > UINT32_MAX)
        return false;
    *out = (unsigned)v;
    if (end != NULL)
        *end = e;
    return true;
}

/* "Expecting MAPPING, got event: SCALAR" into its two names. */
static bool expecting(const char *s, char *want, char *got, size_t len)
{
    static const char head[] = "Expecting ";
    static const char mid[] = ", got event: ";
    const char *m;

    if (strncmp(s, head, sizeof(head) - 1) != 0)
        return false;
    s += sizeof(head) - 1;
    m = strstr(s, mid);
    if (m == NULL || (size_t)(m - s) >= len)
        return false;
    memcpy(want, s, (size_t)(m - s));
    want[m - s] = '\0';
    snprintf(got, len, "%s", m + sizeof(mid) - 1);
    return true;
}

/* Rewrite libcyaml's message for one value in the words of the rest of the
 * loader's messages; anything not recognised passes unchanged. */
static void explain(const char *first, char *out, size_t len)
{
    char want[32], got[32];
    const char *rest;
    unsigned x, y;

    if (expecting(first, want, got, sizeof(want)))
        snprintf(out, len, "expected %s, got %s", yaml_thing(want), yaml_thing(got));
    else if (number_after(first, "STRING length < ", &x, NULL))
        snprintf(out, len, "expected at least %u character%s", x, x == 1 ? "" : "s");
    else if (number_after(first, "STRING length > ", &x, NULL))
        snprintf(out, len, "expected at most %u characters", x);
    else if (number_after(first, "Insufficient entries (", &x, &rest) &&
             number_after(rest, " of ", &y, NULL))
        snprintf(out, len, "expected at least %u list entr%s, got %u", y, y == 1 ? "y" : "ies", x);
    else if (number_after(first, "Excessive entries (", &x, NULL))
        snprintf(out, len, "expected at most %u list entries", x);
    else if (strcmp(first, "YAML alias unsupported") == 0)
        snprintf(out, len, "aliases (*name) are not supported in fixtures");
    else
        snprintf(out, len, "%s", first);
}

/* A YAML syntax error, found again with libyaml for its line and column
 * (libcyaml passes on only the problem). */
static int report_syntax_error(const dm_fixture_msg *m, const char *yaml, size_t len,
                               const char *first)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    char problem[160];
    bool done = false;
    int rc = DM_E_PARSE;

    if (!yaml_parser_initialize(&parser))
        return dm_fixture_fail(m, DM_E_NOMEM, NULL, "out of memory while parsing");
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev))
            break;
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    if (parser.error == YAML_MEMORY_ERROR) {
        rc = dm_fixture_fail(m, DM_E_NOMEM, NULL, "out of memory while parsing");
    } else if (parser.error != YAML_NO_ERROR && parser.problem != NULL) {
        snprintf(problem, sizeof(problem), "%s%s%s", parser.problem,
                 parser.context != NULL ? " " : "", parser.context != NULL ? parser.context : "");
        sanitize_line(problem);
        rc = dm_fixture_fail(m, DM_E_PARSE, NULL, "line %zu, column %zu: not valid YAML: %s",
                             parser.problem_mark.line + 1, parser.problem_mark.column + 1, problem);
    } else {
        rc = dm_fixture_fail(m, DM_E_PARSE, NULL, "not valid YAML: %s", first);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static int report_cyaml_error(const load_ctx *ctx, const cyaml_schema_value_t *schema,
                              const dm_fixture_msg *m, const char *yaml, size_t len, cyaml_err_t e)
{
    static const char missing[] = "Missing required mapping field: ";
    static const char unexpected[] = "Unexpected key: ";
    static const char twice[] = "Mapping field already seen: ";
    static const char bad_enum[] = "Invalid ENUM value: ";
    static const char bad_flag[] = "Unknown flag: ";
    const char *first = ctx->first[0] != '\0' ? ctx->first : cyaml_strerror(e);
    const char *key = NULL;
    char path[192] = "";
    char expected[256];
    char problem[200];
    unsigned inner = 0;

    if (strncmp(first, "libyaml: ", 9) == 0)
        return report_syntax_error(m, yaml, len, first + 9);
    if (strncmp(first, missing, sizeof(missing) - 1) == 0)
        key = first + sizeof(missing) - 1;
    else if (strncmp(first, unexpected, sizeof(unexpected) - 1) == 0)
        key = first + sizeof(unexpected) - 1;
    else if (strncmp(first, twice, sizeof(twice) - 1) == 0)
        key = first + sizeof(twice) - 1;
    /* For a key missing, unknown or given twice, libcyaml's innermost frame
     * is the mapping that lacks or holds it (named after the last key it
     * read, if any): the path is that mapping's, plus the key. */
    if (key != NULL && ctx->n_frames > 0 && ctx->frames[0].kind != FRAME_ENTRY)
        inner = 1;
    /* Too few or too many list entries: the list's path, not its last entry. */
    if (strstr(first, " entries (") != NULL && ctx->n_frames > 0 &&
        ctx->frames[0].kind == FRAME_ENTRY)
        inner = 1;
    for (unsigned k = ctx->n_frames; k-- > inner;)
        path_append(path, sizeof(path), &ctx->frames[k]);
    if (key != NULL) {
        frame fr = {.kind = FRAME_FIELD};

        list_expected(schema_at(schema, ctx, inner), expected, sizeof(expected));
        snprintf(fr.name, sizeof(fr.name), "%s", key);
        path_append(path, sizeof(path), &fr);
        if (strncmp(first, missing, sizeof(missing) - 1) == 0)
            return dm_fixture_fail(m, DM_E_PARSE, path, "missing; this key is required");
        if (strncmp(first, twice, sizeof(twice) - 1) == 0)
            return dm_fixture_fail(m, DM_E_PARSE, path, "given twice");
        return dm_fixture_fail(m, DM_E_PARSE, path, "unknown key; expected one of: %s",
                               expected[0] != '\0' ? expected : "(none)");
    }
    if (strncmp(first, bad_enum, sizeof(bad_enum) - 1) == 0 ||
        strncmp(first, bad_flag, sizeof(bad_flag) - 1) == 0) {
        const char *val = strchr(first, ':') + 2;
        list_expected(schema_at(schema, ctx, 0), expected, sizeof(expected));
        if (expected[0] != '\0')
            return dm_fixture_fail(m, DM_E_PARSE, path[0] ? path : NULL,
                                   "unknown value '%.40s'; expected one of: %s", val, expected);
    }
    explain(first, problem, sizeof(problem));
    return dm_fixture_fail(m, DM_E_PARSE, path[0] ? path : NULL, "%s", problem);
}

int dm_fixture_parse(const dm_alloc *a, const char *yaml, size_t len,
                     const cyaml_schema_value_t *schema, void **raw, const dm_fixture_msg *m)
{
    void *data = NULL;
    load_ctx ctx;
    cyaml_config_t cfg;
    cyaml_err_t e;

    memset(&ctx, 0, sizeof(ctx));
    ctx.alloc = a;
    cfg_init(&cfg, &ctx);
    e = cyaml_load_data((const uint8_t *)yaml, len, &cfg, schema, (cyaml_data_t **)&data, NULL);
    if (e == CYAML_ERR_OOM)
        return dm_fixture_fail(m, DM_E_NOMEM, NULL, "out of memory while parsing");
    if (e != CYAML_OK)
        return report_cyaml_error(&ctx, schema, m, yaml, len, e);
    if (data == NULL)
        return dm_fixture_fail(m, DM_E_PARSE, NULL, "empty document, expected a mapping");
    if (ctx.extra_document) {
        dm_fixture_free_raw(a, schema, data);
        return dm_fixture_fail(m, DM_E_PARSE, NULL,
                               "a second YAML document ('---') follows the first; a fixture is "
                               "one document");
    }
    *raw = data;
    return DM_OK;
}

void dm_fixture_free_raw(const dm_alloc *a, const cyaml_schema_value_t *schema, void *raw)
{
    load_ctx ctx;
    cyaml_config_t cfg;

    if (raw == NULL)
        return;
    memset(&ctx, 0, sizeof(ctx));
    ctx.alloc = a;
    cfg_init(&cfg, &ctx);
    cyaml_free(&cfg, schema, raw, 0);
}

/* ---- reading a fixture file ---------------------------------------------------------- */

static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

static int check_regular(const struct stat *st, const char *path, const char *what, char *errbuf,
                         size_t errlen)
{
    if (S_ISREG(st->st_mode)) {
        if (st->st_size >= 0 && (uintmax_t)st->st_size <= DM_FIXTURE_MAX_BYTES)
            return DM_OK;
        dm_errf(errbuf, errlen, "%s: %lld bytes, more than the %u a %s fixture may have", path,
                (long long)st->st_size, DM_FIXTURE_MAX_BYTES, what);
        return DM_E_IO;
    }
    dm_errf(errbuf, errlen, "%s: is %s, not a regular file; a %s is read from a regular file", path,
            file_kind(st->st_mode), what);
    return DM_E_IO;
}

/* stat() first, so that a FIFO or a device node is never opened at all
 * (opening one can block or have side effects); then open without blocking
 * and check again on the descriptor, in case the path changed in between. */
int dm_fixture_read_file(const dm_alloc *a, const char *path, const char *what, char **out,
                         size_t *len, char *errbuf, size_t errlen)
{
    struct stat st;
    size_t size, got = 0;
    char *buf;
    char probe;
    ssize_t n = 0;
    int fd, rc;

    if (stat(path, &st) != 0) {
        dm_errf(errbuf, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
        return DM_E_IO;
    }
    rc = check_regular(&st, path, what, errbuf, errlen);
    if (rc < 0)
        return rc;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        dm_errf(errbuf, errlen, "%s: cannot open %s: %s", path, what, strerror(errno));
        return DM_E_IO;
    }
    if (fstat(fd, &st) != 0) {
        dm_errf(errbuf, errlen, "%s: cannot stat %s: %s", path, what, strerror(errno));
        rc = DM_E_IO;
        goto out_close;
    }
    rc = check_regular(&st, path, what, errbuf, errlen);
    if (rc < 0)
        goto out_close;
    size = (size_t)st.st_size;
    buf = dm_malloc(a, size + 1);
    if (buf == NULL) {
        dm_errf(errbuf, errlen, "%s: out of memory", path);
        rc = DM_E_NOMEM;
        goto out_close;
    }
    while (got < size) {
        n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    /* One more byte: a file that grew while it was read is not read twice. */
    if (got == size) {
        do
            n = read(fd, &probe, 1);
        while (n < 0 && errno == EINTR);
    }
    if (n < 0) {
        dm_errf(errbuf, errlen, "%s: cannot read %s: %s", path, what, strerror(errno));
        rc = DM_E_IO;
        goto out_free_buf;
    }
    if (got != size || n != 0) {
        dm_errf(errbuf, errlen, "%s: the %s changed size while it was read", path, what);
        rc = DM_E_IO;
        goto out_free_buf;
    }
    close(fd);
    *out = buf;
    *len = size;
    return DM_OK;

out_free_buf:
    dm_free(a, buf);
out_close:
    close(fd);
    return rc;
}
