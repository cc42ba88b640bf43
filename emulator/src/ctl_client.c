/* scanemu ctl SOCKET COMMAND ...: the control socket's command-line client
 * (docs/control.md). It turns its arguments into one JSON request, prints
 * the reply line, and for `watch` every event line after it. Exit status:
 * 0 the reply said ok (watch: and --until matched or --count was reached),
 * 1 an error reply or the connection ended first, 2 a bad command line, 3
 * no server at SOCKET. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_client.h"

#define CLIENT_LINE_MAX (1u << 20)

static void usage(FILE *f)
{
    fprintf(f, "usage: scanemu ctl SOCKET list\n"
               "       scanemu ctl SOCKET status [BUSID]\n"
               "       scanemu ctl SOCKET fault BUSID KIND [--page P [--band B]] [--ms N]\n"
               "                          [--count N] [--bytes N] [--no-clear]\n"
               "       scanemu ctl SOCKET clear BUSID\n"
               "       scanemu ctl SOCKET feed BUSID SHEETS\n"
               "       scanemu ctl SOCKET timing BUSID --scale F\n"
               "       scanemu ctl SOCKET unplug BUSID\n"
               "       scanemu ctl SOCKET plug PROFILE.yaml [--scenario S.yaml] [--busid B]\n"
               "                          [--seed N] [--usb-id VID:PID] [--serial S]\n"
               "       scanemu ctl SOCKET watch [BUSID] [--count N]\n"
               "                          [--until EVENT [--job N] [--page P] [--band B]\n"
               "                                         [--kind K] [--status S]]\n"
               "       scanemu ctl SOCKET send JSON\n"
               "Pages and bands count from 1. Prints the reply (one JSON line); watch prints\n"
               "each event line after it. docs/control.md has every field.\n"
               "Exit status: 0 ok; 1 error reply or connection ended; 2 bad command line;\n"
               "3 no server at SOCKET.\n");
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "scanemu ctl: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see scanemu ctl --help)\n");
    return 2;
}

static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ---- the connection ---------------------------------------------------------------------- */

typedef struct conn {
    int fd;
    char *buf;
    size_t len, cap;
} conn;

static int conn_open(conn *c, const char *path)
{
    struct sockaddr_un sa;

    memset(c, 0, sizeof *c);
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "scanemu ctl: socket path too long: %s\n", path);
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "scanemu ctl: cannot connect to %s: %s\n", path, strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        return -1;
    }
    c->cap = 4096;
    c->buf = malloc(c->cap);
    return c->buf ? 0 : -1;
}

static int conn_send(conn *c, const char *line)
{
    size_t len = strlen(line), off = 0;

    while (off < len) {
        ssize_t w = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* The next line (without its newline, NUL-terminated, valid until the next
 * call), or NULL at the end of the stream. */
static char *conn_line(conn *c, size_t *consumed)
{
    for (;;) {
        char *nl = c->len > *consumed ? memchr(c->buf + *consumed, '\n', c->len - *consumed) : NULL;
        if (nl != NULL) {
            char *line = c->buf + *consumed;
            *nl = '\0';
            *consumed = (size_t)(nl - c->buf) + 1;
            return line;
        }
        memmove(c->buf, c->buf + *consumed, c->len - *consumed);
        c->len -= *consumed;
        *consumed = 0;
        if (c->len + 1 >= c->cap) {
            if (c->cap >= CLIENT_LINE_MAX)
                return NULL;
            char *p = realloc(c->buf, c->cap * 2);
            if (p == NULL)
                return NULL;
            c->buf = p;
            c->cap *= 2;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - 1 - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        c->len += (size_t)n;
    }
}

static void conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
}

/* ---- watch --------------------------------------------------------------------------------- */

typedef struct until {
    const char *event;
    long long job, page, band;
    const char *kind, *status;
} until;

static int int_field_is(json_t *ev, const char *key, long long want)
{
    json_t *v = json_object_get(ev, key);
    return want < 0 || (json_is_integer(v) && json_integer_value(v) == want);
}

static int str_field_is(json_t *ev, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(ev, key));
    return want == NULL || (v != NULL && strcmp(v, want) == 0);
}

static int matches(const char *line, const until *u)
{
    json_t *ev = json_loads(line, 0, NULL);
    int m;

    if (ev == NULL)
        return 0;
    m = str_field_is(ev, "event", u->event) && int_field_is(ev, "job", u->job) &&
        int_field_is(ev, "page", u->page) && int_field_is(ev, "band", u->band) &&
        str_field_is(ev, "kind", u->kind) && str_field_is(ev, "status", u->status);
    json_decref(ev);
    return m;
}

/* ---- main -------------------------------------------------------------------------------------
 */

int scanemu_ctl_main(int argc, char **argv)
{
    json_t *req;
    const char *sock, *cmd;
    char *line = NULL, path[PATH_MAX];
    until u = {NULL, -1, -1, -1, NULL, NULL};
    long long count = -1, v;
    int watch = 0, raw = 0, rc = 1;
    conn c;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    sock = argv[1];
    cmd = argv[2];
    req = json_object();
    json_object_set_new(req, "cmd", json_string(cmd));
    int i = 3;
    /* Positional arguments by command. */
    if (strcmp(cmd, "list") == 0) {
    } else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "watch") == 0) {
        if (i < argc && argv[i][0] != '-')
            json_object_set_new(req, "busid", json_string(argv[i++]));
        watch = cmd[0] == 'w';
    } else if (strcmp(cmd, "fault") == 0) {
        if (argc < 5) {
            rc = bad("%s needs BUSID KIND", cmd);
            goto out;
        }
        json_object_set_new(req, "busid", json_string(argv[i++]));
        json_object_set_new(req, "kind", json_string(argv[i++]));
    } else if (strcmp(cmd, "clear") == 0 || strcmp(cmd, "unplug") == 0 ||
               strcmp(cmd, "timing") == 0) {
        if (argc < 4) {
            rc = bad("%s needs BUSID", cmd);
            goto out;
        }
        json_object_set_new(req, "busid", json_string(argv[i++]));
    } else if (strcmp(cmd, "feed") == 0) {
        if (argc < 5 || parse_num(argv[4], 0, 100000, &v) < 0) {
            rc = bad("%s needs BUSID SHEETS (0-100000)", cmd);
            goto out;
        }
        json_object_set_new(req, "busid", json_string(argv[3]));
        json_object_set_new(req, "sheets", json_integer(v));
        i = 5;
    } else if (strcmp(cmd, "plug") == 0) {
        if (argc < 4) {
            rc = bad("%s needs PROFILE.yaml", cmd);
            goto out;
        }
        json_object_set_new(req, "profile", json_string(realpath(argv[3], path) ? path : argv[3]));
        i = 4;
    } else if (strcmp(cmd, "send") == 0) {
        if (argc != 4) {
            rc = bad("%s needs one JSON argument", cmd);
            goto out;
        }
        raw = 1;
        i = 4;
    } else {
        rc = bad("unknown command \"%s\"", cmd);
        goto out;
    }
    /* Options. */
    for (; i < argc; i++) {
        const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
        const char *num_keys[] = {"--page",  "--band", "--ms", "--count",
                                  "--bytes", "--seed", "--job"};
        int is_num = 0;
        for (size_t k = 0; k < sizeof num_keys / sizeof num_keys[0]; k++)
            is_num |= strcmp(o, num_keys[k]) == 0;
        if (strcmp(o, "--no-clear") == 0 && strcmp(cmd, "fault") == 0) {
            json_object_set_new(req, "no_clear", json_true());
            continue;
        }
        if (a == NULL) {
            rc = bad("option %s needs a value", o);
            goto out;
        }
        i++;
        if (is_num) {
            if (parse_num(a, 0, LLONG_MAX, &v) < 0) {
                rc = bad("expected a non-negative integer, got \"%s\"", a);
                goto out;
            }
            if (watch && strcmp(o, "--count") == 0)
                count = v;
            else if (watch && strcmp(o, "--page") == 0)
                u.page = v;
            else if (watch && strcmp(o, "--band") == 0)
                u.band = v;
            else if (watch && strcmp(o, "--job") == 0)
                u.job = v;
            else if (!watch && strcmp(o, "--job") != 0)
                json_object_set_new(req, o + 2, json_integer(v));
            else {
                rc = bad("option %s is not for this command", o);
                goto out;
            }
        } else if (strcmp(o, "--scale") == 0 && strcmp(cmd, "timing") == 0) {
            char *end;
            double f = strtod(a, &end);
            if (*a == '\0' || *end) {
                rc = bad("--scale: expected a number, got \"%s\"", a);
                goto out;
            }
            json_object_set_new(req, "scale", json_real(f));
        } else if (strcmp(o, "--scenario") == 0 && strcmp(cmd, "plug") == 0) {
            json_object_set_new(req, "scenario", json_string(realpath(a, path) ? path : a));
        } else if (strcmp(o, "--busid") == 0 && strcmp(cmd, "plug") == 0) {
            json_object_set_new(req, "busid", json_string(a));
        } else if (strcmp(o, "--usb-id") == 0 && strcmp(cmd, "plug") == 0) {
            json_object_set_new(req, "usb_id", json_string(a));
        } else if (strcmp(o, "--serial") == 0 && strcmp(cmd, "plug") == 0) {
            json_object_set_new(req, "serial", json_string(a));
        } else if (watch && strcmp(o, "--until") == 0) {
            u.event = a;
        } else if (watch && strcmp(o, "--kind") == 0) {
            u.kind = a;
        } else if (watch && strcmp(o, "--status") == 0) {
            u.status = a;
        } else {
            {
                rc = bad("unknown option %s for this command", o);
                goto out;
            }
        }
    }
    if (strcmp(cmd, "timing") == 0 && json_object_get(req, "scale") == NULL) {
        rc = bad("%s needs --scale F", cmd);
        goto out;
    }
    if (watch && !u.event && (u.page >= 0 || u.band >= 0 || u.job >= 0 || u.kind || u.status)) {
        rc = bad("%s: --page, --band, --job, --kind and --status go with --until", cmd);
        goto out;
    }

    if (raw) {
        size_t n = strlen(argv[3]);
        line = malloc(n + 2);
        if (line == NULL)
            goto out;
        memcpy(line, argv[3], n);
        line[n] = '\n';
        line[n + 1] = '\0';
    } else {
        char *body = json_dumps(req, JSON_COMPACT);
        if (body == NULL)
            goto out;
        line = malloc(strlen(body) + 2);
        if (line != NULL)
            sprintf(line, "%s\n", body);
        free(body);
    }
    json_decref(req);
    req = NULL;
    if (line == NULL)
        return 1;
    if (conn_open(&c, sock) < 0) {
        free(line);
        return 3;
    }
    size_t consumed = 0;
    char *r = NULL;
    if (conn_send(&c, line) == 0)
        r = conn_line(&c, &consumed);
    free(line);
    if (r == NULL) {
        fprintf(stderr, "scanemu ctl: the server closed the connection without a reply\n");
        conn_close(&c);
        return 1;
    }
    printf("%s\n", r);
    fflush(stdout);
    json_t *rep = json_loads(r, 0, NULL);
    rc = rep != NULL && json_is_true(json_object_get(rep, "ok")) ? 0 : 1;
    json_decref(rep);
    if (rc == 0 && watch) {
        rc = count == 0 ? 0 : 1;
        for (long long seen = 0; count < 0 || seen < count; seen++) {
            char *ev = conn_line(&c, &consumed);
            if (ev == NULL) {
                fprintf(stderr, "scanemu ctl: the event stream ended\n");
                rc = 1;
                break;
            }
            printf("%s\n", ev);
            fflush(stdout);
            if (u.event && matches(ev, &u)) {
                rc = 0;
                break;
            }
            if (count >= 0 && seen + 1 == count)
                rc = 0;
        }
    }
    conn_close(&c);
    return rc;

out:
    json_decref(req);
    free(line);
    return rc;
}
