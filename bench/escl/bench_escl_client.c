/* bench_escl_client: a plain eSCL client for scripts/bench.sh (issue 12,
 * section 4). One scan job over one HTTP/1.1 connection (keep-alive):
 *
 *   POST /eSCL/ScanJobs (ScanSettings), read the Location,
 *   GET  LOCATION/NextDocument until 404 (or --pages pages, then DELETE),
 *
 * each page's chunked body de-chunked and written to DIR/pNNNN.png (or
 * dropped with --discard). Nothing is decoded: this is what any HTTP client
 * pays, so the figure is the emulator's eSCL front (synthesis, PNG encode,
 * chunk framing, TCP) plus one loopback receive and a tmpfs write.
 *
 *   bench_escl_client --port P [--host 127.0.0.1] [--root /eSCL]
 *       [--source Feeder|Platen] [--mode RGB24|Grayscale8|BlackAndWhite1]
 *       [--dpi 300] [--width 2480] [--height 3508] (1/300 inch)
 *       [--format image/png] [--pages N] [--out DIR | --discard] [--close]
 *   bench_escl_client --port P --wait-idle SECONDS
 *
 * --width 0 / --height 0: the source's MaxWidth / MaxHeight from
 * ScannerCapabilities (the whole area, as scanimage asks by default).
 * --wait-idle: GET ScannerStatus until pwg:State is Idle (exit 0) or the
 * time is up (exit 1); nothing else.
 *
 * --close sends Connection: close and opens a connection per request, as
 * sane-airscan does. Prints one line per page and a summary:
 *   bench_escl_client pages=N body_bytes=B raw_bytes=R seconds=S raw_MBps=X
 * raw_bytes = what the pages hold uncompressed (from each PNG's IHDR), the
 * same bytes per page as the native protocol's page; MB = 10^6 bytes.
 * Exit 0 when at least one page arrived and every page ended cleanly. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define RBUF_SIZE (1u << 20)
#define HEAD_MAX  16384u

typedef struct client {
    const char *host;
    uint16_t port;
    bool close_each;
    int fd;
    uint8_t *rbuf;
    size_t roff, rlen;
} client;

typedef struct response {
    int status;
    bool chunked;
    bool close;
    int64_t content_length; /* -1: none */
    char location[1024];
} response;

static int conn_open(client *c)
{
    struct sockaddr_in sa;
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(c->port);
    if (inet_pton(AF_INET, c->host, &sa.sin_addr) != 1) {
        fprintf(stderr, "bench_escl_client: bad IPv4 address %s\n", c->host);
        return -1;
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("bench_escl_client: connect");
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->roff = c->rlen = 0;
    return 0;
}

static void conn_close(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Make at least one more byte available in rbuf; 0 at EOF, -1 on error. */
static int fill(client *c)
{
    ssize_t n;

    if (c->roff > 0 && c->roff == c->rlen)
        c->roff = c->rlen = 0;
    if (c->rlen == RBUF_SIZE) {
        memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
        c->rlen -= c->roff;
        c->roff = 0;
    }
    do
        n = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    c->rlen += (size_t)n;
    return n > 0;
}

/* One CRLF-terminated line (without it) into line; -1 on EOF or overflow. */
static int read_line(client *c, char *line, size_t max)
{
    for (;;) {
        uint8_t *s = c->rbuf + c->roff;
        uint8_t *nl = memchr(s, '\n', c->rlen - c->roff);
        if (nl != NULL) {
            size_t n = (size_t)(nl - s);
            if (n > 0 && s[n - 1] == '\r')
                n--;
            if (n >= max)
                return -1;
            memcpy(line, s, n);
            line[n] = '\0';
            c->roff += (size_t)(nl - s) + 1;
            return 0;
        }
        if (c->rlen - c->roff >= max)
            return -1;
        if (fill(c) <= 0)
            return -1;
    }
}

static int read_head(client *c, response *r)
{
    char line[HEAD_MAX];

    memset(r, 0, sizeof(*r));
    r->content_length = -1;
    if (read_line(c, line, sizeof(line)) < 0)
        return -1;
    if (sscanf(line, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;
    for (;;) {
        char *v;
        if (read_line(c, line, sizeof(line)) < 0)
            return -1;
        if (line[0] == '\0')
            break;
        v = strchr(line, ':');
        if (v == NULL)
            continue;
        *v++ = '\0';
        while (*v == ' ' || *v == '\t')
            v++;
        if (strcasecmp(line, "Content-Length") == 0)
            r->content_length = strtoll(v, NULL, 10);
        else if (strcasecmp(line, "Transfer-Encoding") == 0 && strcasestr(v, "chunked"))
            r->chunked = true;
        else if (strcasecmp(line, "Connection") == 0 && strcasestr(v, "close"))
            r->close = true;
        else if (strcasecmp(line, "Location") == 0)
            snprintf(r->location, sizeof(r->location), "%s", v);
    }
    return 0;
}

/* Body bytes go to fd (-1 = dropped), the first 64 to first, the last 12
 * to last, and the first mem_max to mem when it is set. */
typedef struct sink {
    int fd;
    char *mem;
    size_t mem_max, mem_len;
    uint64_t bytes;
    uint8_t first[64];
    uint8_t last[12];
    size_t nlast;
} sink;

static int sink_put(sink *s, const uint8_t *p, size_t n)
{
    if (s->bytes < sizeof(s->first)) {
        size_t k = sizeof(s->first) - (size_t)s->bytes;
        memcpy(s->first + s->bytes, p, k < n ? k : n);
    }
    if (n >= sizeof(s->last)) {
        memcpy(s->last, p + n - sizeof(s->last), sizeof(s->last));
        s->nlast = sizeof(s->last);
    } else {
        size_t keep = s->nlast + n > sizeof(s->last) ? sizeof(s->last) - n : s->nlast;
        memmove(s->last, s->last + s->nlast - keep, keep);
        memcpy(s->last + keep, p, n);
        s->nlast = keep + n;
    }
    if (s->mem != NULL && s->mem_len < s->mem_max) {
        size_t k = s->mem_max - s->mem_len < n ? s->mem_max - s->mem_len : n;
        memcpy(s->mem + s->mem_len, p, k);
        s->mem_len += k;
    }
    s->bytes += n;
    while (s->fd >= 0 && n > 0) {
        ssize_t k = write(s->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* n body bytes from the connection into the sink. */
static int copy_body(client *c, sink *s, uint64_t n)
{
    while (n > 0) {
        size_t have = c->rlen - c->roff;
        if (have == 0) {
            if (fill(c) <= 0)
                return -1;
            continue;
        }
        if (have > n)
            have = (size_t)n;
        if (sink_put(s, c->rbuf + c->roff, have) < 0)
            return -1;
        c->roff += have;
        n -= have;
    }
    return 0;
}

static int read_body(client *c, const response *r, sink *s)
{
    char line[256];

    if (!r->chunked) {
        if (r->content_length < 0)
            return r->status == 204 || r->status == 304 ? 0 : -1;
        return copy_body(c, s, (uint64_t)r->content_length);
    }
    for (;;) {
        unsigned long long size;
        char *end;
        if (read_line(c, line, sizeof(line)) < 0)
            return -1; /* a body cut short: the page is lost */
        size = strtoull(line, &end, 16);
        if (end == line)
            return -1;
        if (size == 0)
            break;
        if (copy_body(c, s, size) < 0 || read_line(c, line, sizeof(line)) < 0 || line[0])
            return -1;
    }
    for (;;) { /* trailers */
        if (read_line(c, line, sizeof(line)) < 0)
            return -1;
        if (line[0] == '\0')
            return 0;
    }
}

static int request(client *c, const char *method, const char *path, const char *body, response *r,
                   sink *s)
{
    char head[2048];
    size_t blen = body ? strlen(body) : 0;
    int n;

    if (c->fd < 0 && conn_open(c) < 0)
        return -1;
    n = snprintf(head, sizeof(head),
                 "%s %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: bench_escl_client\r\n%s"
                 "%s%s",
                 method, path, c->host, c->port, c->close_each ? "Connection: close\r\n" : "",
                 body ? "Content-Type: text/xml\r\n" : "", body ? "" : "\r\n");
    if (n < 0 || (size_t)n >= sizeof(head))
        return -1;
    if (body) {
        int m = snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n\r\n", blen);
        if (m < 0 || (size_t)m >= sizeof(head) - (size_t)n)
            return -1;
        n += m;
    }
    if (bench_send_all(c->fd, head, (size_t)n) < 0 ||
        (blen && bench_send_all(c->fd, body, blen) < 0))
        return -1;
    if (read_head(c, r) < 0)
        return -1;
    if (read_body(c, r, s) < 0)
        return -1;
    if (r->close || c->close_each)
        conn_close(c);
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Uncompressed bytes of a PNG from its IHDR (0 if it is not one). */
static uint64_t png_raw_bytes(const uint8_t *h, uint64_t len)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint32_t w, ht, ch;

    if (len < 33 || memcmp(h, sig, 8) != 0 || memcmp(h + 12, "IHDR", 4) != 0)
        return 0;
    w = be32(h + 16);
    ht = be32(h + 20);
    switch (h[25]) {
    case 0:
        ch = 1;
        break;
    case 2:
        ch = 3;
        break;
    case 4:
        ch = 2;
        break;
    case 6:
        ch = 4;
        break;
    default:
        ch = 1;
        break;
    }
    return (uint64_t)ht * (((uint64_t)w * ch * h[24] + 7) / 8);
}

/* A GET whose body is kept in buf (NUL-terminated, cut at max - 1 bytes). */
static int get_text(client *c, const char *path, response *r, char *buf, size_t max)
{
    sink s;

    memset(&s, 0, sizeof(s));
    s.fd = -1;
    s.mem = buf;
    s.mem_max = max - 1;
    if (request(c, "GET", path, NULL, r, &s) < 0)
        return -1;
    buf[s.mem_len] = '\0';
    return 0;
}

/* The number in <TAG>N</TAG> after the first `after` in doc (0 if none). */
static unsigned xml_uint_after(const char *doc, const char *after, const char *tag)
{
    const char *p = strstr(doc, after);
    if (p == NULL)
        return 0;
    p = strstr(p, tag);
    return p ? (unsigned)strtoul(p + strlen(tag), NULL, 10) : 0;
}

static int wait_idle(client *c, const char *root, double seconds)
{
    static char doc[65536];
    char path[1200];
    uint64_t end = bench_now_ns() + (uint64_t)(seconds * 1e9);
    response r;

    snprintf(path, sizeof(path), "%s/ScannerStatus", root);
    for (;;) {
        if (get_text(c, path, &r, doc, sizeof(doc)) == 0 && r.status == 200 &&
            strstr(doc, "<pwg:State>Idle</pwg:State>") != NULL)
            return 0;
        if (bench_now_ns() >= end) {
            fprintf(stderr, "bench_escl_client: not Idle within %.1f s\n", seconds);
            return 1;
        }
        conn_close(c);
        usleep(20000);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_escl_client --port P [--host 127.0.0.1] [--root /eSCL]\n"
                    "  [--source Feeder|Platen] [--mode RGB24|Grayscale8|BlackAndWhite1]\n"
                    "  [--dpi 300] [--width 2480] [--height 3508] [--format image/png]\n"
                    "  [--pages N] [--out DIR | --discard] [--close]\n"
                    "       bench_escl_client --port P --wait-idle SECONDS\n");
}

int main(int argc, char **argv)
{
    client c = {.host = "127.0.0.1", .fd = -1};
    const char *root = "/eSCL", *source = "Feeder", *mode = "RGB24", *fmt = "image/png";
    const char *outdir = NULL;
    unsigned dpi = 300, width = 2480, height = 3508, max_pages = 0;
    bool discard = false;
    double idle_wait = -1;
    char settings[2048], path[1200], job[1100];
    response r;
    sink s;
    uint64_t t0, body_total = 0, raw_total = 0;
    unsigned pages = 0;
    int bad = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v != NULL && ++i)
        if (OPT("--port"))
            c.port = (uint16_t)strtoul(v, NULL, 10);
        else if (OPT("--host"))
            c.host = v;
        else if (OPT("--root"))
            root = v;
        else if (OPT("--source"))
            source = v;
        else if (OPT("--mode"))
            mode = v;
        else if (OPT("--dpi"))
            dpi = (unsigned)strtoul(v, NULL, 10);
        else if (OPT("--width"))
            width = (unsigned)strtoul(v, NULL, 10);
        else if (OPT("--height"))
            height = (unsigned)strtoul(v, NULL, 10);
        else if (OPT("--format"))
            fmt = v;
        else if (OPT("--pages"))
            max_pages = (unsigned)strtoul(v, NULL, 10);
        else if (OPT("--out"))
            outdir = v;
        else if (OPT("--wait-idle"))
            idle_wait = strtod(v, NULL);
        else if (strcmp(a, "--discard") == 0)
            discard = true;
        else if (strcmp(a, "--close") == 0)
            c.close_each = true;
        else {
            usage();
            return 2;
        }
#undef OPT
    }
    c.rbuf = malloc(RBUF_SIZE);
    if (c.rbuf == NULL)
        return 1;
    if (c.port != 0 && idle_wait >= 0)
        return wait_idle(&c, root, idle_wait);
    if (c.port == 0 || (outdir == NULL) == !discard) {
        usage();
        return 2;
    }
    if (width == 0 || height == 0) {
        static char doc[1 << 16];
        const char *sect =
            strcmp(source, "Platen") == 0 ? "<scan:PlatenInputCaps>" : "<scan:AdfSimplexInputCaps>";
        snprintf(path, sizeof(path), "%s/ScannerCapabilities", root);
        if (get_text(&c, path, &r, doc, sizeof(doc)) < 0 || r.status != 200) {
            fprintf(stderr, "bench_escl_client: GET %s failed\n", path);
            return 1;
        }
        if (width == 0)
            width = xml_uint_after(doc, sect, "<scan:MaxWidth>");
        if (height == 0)
            height = xml_uint_after(doc, sect, "<scan:MaxHeight>");
        if (width == 0 || height == 0) {
            fprintf(stderr, "bench_escl_client: no %s size in the capabilities\n", sect);
            return 1;
        }
    }
    snprintf(settings, sizeof(settings),
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
             "<scan:ScanSettings xmlns:scan=\"http://schemas.hp.com/imaging/escl/2011/05/03\""
             " xmlns:pwg=\"http://www.pwg.org/schemas/2010/12/sm\">"
             "<pwg:Version>2.0</pwg:Version><scan:Intent>Document</scan:Intent>"
             "<pwg:ScanRegions><pwg:ScanRegion><pwg:ContentRegionUnits>escl:"
             "ThreeHundredthsOfInches</pwg:ContentRegionUnits><pwg:XOffset>0</pwg:XOffset>"
             "<pwg:YOffset>0</pwg:YOffset><pwg:Width>%u</pwg:Width><pwg:Height>%u</pwg:Height>"
             "</pwg:ScanRegion></pwg:ScanRegions><pwg:InputSource>%s</pwg:InputSource>"
             "<scan:ColorMode>%s</scan:ColorMode><scan:XResolution>%u</scan:XResolution>"
             "<scan:YResolution>%u</scan:YResolution><pwg:DocumentFormat>%s</pwg:DocumentFormat>"
             "<scan:DocumentFormatExt>%s</scan:DocumentFormatExt></scan:ScanSettings>",
             width, height, source, mode, dpi, dpi, fmt, fmt);
    snprintf(path, sizeof(path), "%s/ScanJobs", root);

    t0 = bench_now_ns();
    memset(&s, 0, sizeof(s));
    s.fd = -1;
    if (request(&c, "POST", path, settings, &r, &s) < 0) {
        fprintf(stderr, "bench_escl_client: POST %s failed\n", path);
        return 1;
    }
    if (r.status != 201 || r.location[0] == '\0') {
        fprintf(stderr, "bench_escl_client: POST %s: status %d, Location '%s'\n", path, r.status,
                r.location);
        return 1;
    }
    /* The job's path: Location is absolute (http://HOST/...) or a path. */
    {
        const char *p = r.location;
        if (strncmp(p, "http://", 7) == 0) {
            p = strchr(p + 7, '/');
            if (p == NULL)
                p = "/";
        }
        snprintf(job, sizeof(job), "%s", p);
    }
    for (;;) {
        char file[1200];
        uint64_t p0 = bench_now_ns(), raw;

        if (max_pages && pages == max_pages)
            break;
        memset(&s, 0, sizeof(s));
        s.fd = -1;
        if (!discard) {
            snprintf(file, sizeof(file), "%s/p%04u.png", outdir, pages + 1);
            s.fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (s.fd < 0) {
                perror(file);
                return 1;
            }
        }
        snprintf(path, sizeof(path), "%s/NextDocument", job);
        if (request(&c, "GET", path, NULL, &r, &s) < 0) {
            fprintf(stderr, "bench_escl_client: page %u: body cut short after %" PRIu64 " bytes\n",
                    pages + 1, s.bytes);
            bad = 1;
            if (s.fd >= 0)
                close(s.fd);
            break;
        }
        if (s.fd >= 0)
            close(s.fd);
        if (r.status == 404 || r.status == 410) {
            if (!discard)
                unlink(file);
            break;
        }
        if (r.status != 200) {
            fprintf(stderr, "bench_escl_client: NextDocument: status %d\n", r.status);
            if (!discard)
                unlink(file);
            bad = 1;
            break;
        }
        raw = png_raw_bytes(s.first, s.bytes);
        if (strcmp(fmt, "image/png") == 0 &&
            (raw == 0 || s.nlast < 12 || memcmp(s.last + 4, "IEND", 4) != 0)) {
            fprintf(stderr, "bench_escl_client: page %u is not a whole PNG\n", pages + 1);
            bad = 1;
        }
        pages++;
        body_total += s.bytes;
        raw_total += raw;
        printf("page=%u body_bytes=%" PRIu64 " raw_bytes=%" PRIu64 " seconds=%.4f\n", pages,
               s.bytes, raw, (double)(bench_now_ns() - p0) / 1e9);
    }
    if (max_pages && pages == max_pages) {
        /* Stopped before the feeder ran out: cancel the job as clients do. */
        memset(&s, 0, sizeof(s));
        s.fd = -1;
        if (request(&c, "DELETE", job, NULL, &r, &s) < 0)
            fprintf(stderr, "bench_escl_client: DELETE %s failed\n", job);
    }
    {
        double secs = (double)(bench_now_ns() - t0) / 1e9;
        printf("bench_escl_client pages=%u body_bytes=%" PRIu64 " raw_bytes=%" PRIu64
               " seconds=%.4f raw_MBps=%.1f\n",
               pages, body_total, raw_total, secs, secs > 0 ? (double)raw_total / 1e6 / secs : 0.0);
    }
    conn_close(&c);
    free(c.rbuf);
    return pages > 0 && !bad ? 0 : 1;
}
