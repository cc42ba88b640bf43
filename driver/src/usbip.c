/* driver: userspace USB/IP client transport, "usbip://HOST:PORT/BUSID".
 *
 * OP_REQ_IMPORT for the busid, then URBs as CMD_SUBMIT / CMD_UNLINK over the
 * same TCP connection (docs/emulator.md), encoded and decoded with the
 * protocol module. The server is untrusted input: every length it sends is
 * checked against the URB it answers before anything is read, and any
 * violation closes the connection (every pending transfer then completes
 * with DRV_E_PROTO).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "drv-internal.h"

/* Once the first byte of a message arrived, the rest must follow within this. */
#define USBIP_MSG_TIMEOUT_MS 10000u
/* How long close() and a timed-out synchronous call wait for unlink answers. */
#define USBIP_UNLINK_WAIT_MS 1000u
/* Messages handled per handle_events call before returning to the caller. */
#define USBIP_EVENTS_BATCH 64
/* CMD_SUBMITs of asynchronous IN transfers held back (corked) until the
 * driver next waits or sends anything else, then sent with one sendmsg. */
#define USBIP_CORK_MAX 16
/* Receive buffer: a few band completions' worth; longer data goes straight
 * to its transfer's buffer. */
#define USBIP_RX_SIZE 65536u

typedef struct drv_usbip {
    drv_transport base;
    int fd;
    uint32_t devid;
    uint32_t seq;
    int dead;              /* DRV_OK, or why the connection is unusable */
    drv_xfer *head, *tail; /* pending transfers in submission order */
    /* Corked CMD_SUBMITs, in order: the ring queues consumed transfers
     * again half a ring at a time, and consumes every band that has
     * already arrived before it waits again, so the submits of one wake-up
     * go out together when it does (usbip_flush) instead of one sendmsg
     * and one wake-up of the device each. Nothing is held while the driver sleeps:
     * every wait and every other send flushes first, so the order on the
     * wire is the order of the calls. */
    uint8_t cork[USBIP_CORK_MAX * PROTO_USBIP_URB_HDR_SIZE];
    size_t corked;
    /* Bytes received and not yet consumed: rx[rx_off, rx_len). A wake-up
     * reads whatever has arrived with one recv (usbip_rx_fill), usually a
     * whole RET_SUBMIT and its data, instead of a recvmsg for the header
     * and another for the data; an IN completion's data still missing is
     * received straight to its place (usbip_rx_into). */
    uint8_t rx[USBIP_RX_SIZE];
    size_t rx_off, rx_len;
    char peer[80];
    char busid[PROTO_USBIP_BUSID_SIZE];
} drv_usbip;

/* ---- socket helpers --------------------------------------------------------- */

/* Send the corked submits, then hdr and data (either may be empty), in one
 * sendmsg where the socket takes it all. */
static int usbip_send(drv_usbip *u, const uint8_t *hdr, size_t hlen, const uint8_t *data,
                      size_t dlen)
{
    struct iovec iov[3];
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 0};

    if (u->corked) {
        iov[msg.msg_iovlen].iov_base = u->cork;
        iov[msg.msg_iovlen++].iov_len = u->corked;
        u->corked = 0; /* sent, or the connection is killed below */
    }
    if (hlen) {
        iov[msg.msg_iovlen].iov_base = (void *)hdr;
        iov[msg.msg_iovlen++].iov_len = hlen;
    }
    if (dlen) {
        iov[msg.msg_iovlen].iov_base = (void *)data;
        iov[msg.msg_iovlen++].iov_len = dlen;
    }

    while (msg.msg_iovlen > 0) {
        ssize_t n = sendmsg(u->fd, &msg, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EPIPE || errno == ECONNRESET ? DRV_E_DISCONNECTED : DRV_E_IO;
        }
        while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov[0].iov_len) {
            n -= (ssize_t)msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov[0].iov_base = (uint8_t *)msg.msg_iov[0].iov_base + n;
            msg.msg_iov[0].iov_len -= (size_t)n;
        }
    }
    return DRV_OK;
}

static void usbip_kill(drv_usbip *u, int err);

/* Send what is corked; a failure kills the connection (every pending
 * transfer, the corked ones included, completes with the error). */
static int usbip_flush(drv_usbip *u)
{
    int rc;

    if (!u->corked || u->dead)
        return u->dead;
    rc = usbip_send(u, NULL, 0, NULL, 0);
    if (rc < 0)
        usbip_kill(u, rc);
    return rc;
}

/* Wait until the socket is readable or the deadline passes. */
static int usbip_wait_readable(int fd, uint64_t deadline)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    uint64_t now = drv_now_ns(), ms;
    int rc;

    if (now >= deadline)
        return DRV_E_TIMEOUT;
    ms = (deadline - now + 999999u) / 1000000u;
    rc = poll(&pfd, 1, ms > INT32_MAX ? INT32_MAX : (int)ms);
    if (rc < 0 && errno != EINTR)
        return DRV_E_IO;
    return DRV_OK;
}

/* After a read of the socket returned n <= 0: DRV_OK to read again
 * (interrupted, or it became readable before the deadline), else why not. */
static int usbip_rx_again(drv_usbip *u, ssize_t n, uint64_t deadline)
{
    if (n == 0)
        return DRV_E_DISCONNECTED;
    if (errno == EINTR)
        return DRV_OK;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return errno == ECONNRESET ? DRV_E_DISCONNECTED : DRV_E_IO;
    return usbip_wait_readable(u->fd, deadline);
}

/* Until at least want bytes are buffered (want <= USBIP_RX_SIZE), read
 * what has arrived, waiting up to timeout_ms in all. Before reading, what
 * is left (less than want) moves to the start, so a read is offered the
 * whole buffer but for it. */
static int usbip_rx_fill(drv_usbip *u, size_t want, unsigned timeout_ms)
{
    uint64_t deadline = drv_now_ns() + (uint64_t)timeout_ms * 1000000u;

    if (u->rx_len - u->rx_off >= want)
        return DRV_OK;
    memmove(u->rx, u->rx + u->rx_off, u->rx_len - u->rx_off);
    u->rx_len -= u->rx_off;
    u->rx_off = 0;
    while (u->rx_len - u->rx_off < want) {
        ssize_t n = recv(u->fd, u->rx + u->rx_len, sizeof(u->rx) - u->rx_len, MSG_DONTWAIT);
        int rc;

        if (n > 0)
            u->rx_len += (size_t)n;
        else if ((rc = usbip_rx_again(u, n, deadline)) < 0)
            return rc;
    }
    return DRV_OK;
}

/* Fill the iovecs (at most 3) from the buffer, then from the socket within
 * timeout_ms; bytes that arrive after them in the same read are buffered.
 * DRV_E_DISCONNECTED on EOF. */
static int usbip_rx_into(drv_usbip *u, struct iovec *iov, int iovcnt, unsigned timeout_ms)
{
    uint64_t deadline = drv_now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct iovec v[4];
    struct msghdr msg = {.msg_iov = v};
    int i, k = 0;

    if (iovcnt > 3)
        return DRV_E_INVALID;
    for (i = 0; i < iovcnt; i++) {
        size_t take = u->rx_len - u->rx_off;

        if (take > iov[i].iov_len)
            take = iov[i].iov_len;
        memcpy(iov[i].iov_base, u->rx + u->rx_off, take);
        u->rx_off += take;
        if (take < iov[i].iov_len) {
            v[k].iov_base = (uint8_t *)iov[i].iov_base + take;
            v[k++].iov_len = iov[i].iov_len - take;
        }
    }
    if (k == 0)
        return DRV_OK;
    /* the buffer is empty now: what follows the data lands at its start */
    u->rx_off = 0;
    u->rx_len = 0;
    v[k].iov_base = u->rx;
    v[k].iov_len = sizeof(u->rx);
    msg.msg_iovlen = (size_t)k + 1;
    while (msg.msg_iovlen > 1) {
        ssize_t n = recvmsg(u->fd, &msg, MSG_DONTWAIT);
        int rc;

        if (n > 0) {
            while (msg.msg_iovlen > 1 && (size_t)n >= msg.msg_iov[0].iov_len) {
                n -= (ssize_t)msg.msg_iov[0].iov_len;
                msg.msg_iov++;
                msg.msg_iovlen--;
            }
            if (msg.msg_iovlen > 1) {
                msg.msg_iov[0].iov_base = (uint8_t *)msg.msg_iov[0].iov_base + n;
                msg.msg_iov[0].iov_len -= (size_t)n;
            } else {
                u->rx_len = (size_t)n; /* into rx, which is the last iovec */
            }
        } else if ((rc = usbip_rx_again(u, n, deadline)) < 0) {
            return rc;
        }
    }
    return DRV_OK;
}

/* The n data bytes of an IN completion, into x->buf or, with a scatter
 * (checked at submit: split + len2 <= length, and n <= length), the first
 * split bytes into buf, the next len2 into buf2 and the rest into buf after
 * them: no byte lands outside buf[0, length) or buf2[0, len2). */
static int usbip_recv_in(drv_usbip *u, drv_xfer *x, size_t n)
{
    struct iovec iov[3];
    size_t head, mid;

    if (!x->buf2) {
        iov[0].iov_base = x->buf;
        iov[0].iov_len = n;
        return usbip_rx_into(u, iov, 1, USBIP_MSG_TIMEOUT_MS);
    }
    head = n < x->split ? n : x->split;
    mid = n - head < x->len2 ? n - head : x->len2;
    iov[0].iov_base = x->buf;
    iov[0].iov_len = head;
    iov[1].iov_base = x->buf2;
    iov[1].iov_len = mid;
    iov[2].iov_base = x->buf + x->split + x->len2;
    iov[2].iov_len = n - head - mid;
    x->scattered = 1;
    return usbip_rx_into(u, iov, 3, USBIP_MSG_TIMEOUT_MS);
}

/* Read exactly len bytes within timeout_ms. */
static int usbip_rx_exact(drv_usbip *u, void *buf, size_t len, unsigned timeout_ms)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};

    return usbip_rx_into(u, &iov, 1, timeout_ms);
}

static int usbip_connect(const char *host, const char *port, unsigned timeout_ms, int *fd_out,
                         char *errbuf, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res, *ai;
    int rc, last_errno = 0;

    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        drv_errf(errbuf, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return DRV_E_CONNECT;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        int one = 1, soerr = 0;
        socklen_t sl = sizeof(soerr);
        struct pollfd pfd;

        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            if (errno != EINPROGRESS) {
                last_errno = errno;
                close(fd);
                continue;
            }
            pfd.fd = fd;
            pfd.events = POLLOUT;
            do {
                rc = poll(&pfd, 1, (int)timeout_ms);
            } while (rc < 0 && errno == EINTR);
            if (rc <= 0) {
                last_errno = rc == 0 ? ETIMEDOUT : errno;
                close(fd);
                continue;
            }
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
                last_errno = soerr ? soerr : errno;
                close(fd);
                continue;
            }
        }
        /* Small commands must not wait for Nagle; a wedged peer must not
         * block a send forever. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        {
            struct timeval tv = {.tv_sec = USBIP_MSG_TIMEOUT_MS / 1000};

            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        /* back to blocking sends (bounded by SO_SNDTIMEO); receives use
         * MSG_DONTWAIT + poll */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        freeaddrinfo(res);
        *fd_out = fd;
        return DRV_OK;
    }
    freeaddrinfo(res);
    drv_errf(errbuf, errlen, "cannot connect to %s:%s: %s", host, port, strerror(last_errno));
    return DRV_E_CONNECT;
}

/* ---- URB bookkeeping ------------------------------------------------------------ */

static void usbip_unlist(drv_usbip *u, drv_xfer *x)
{
    drv_xfer **pp, *prev = NULL;

    for (pp = &u->head; *pp; prev = *pp, pp = &(*pp)->next_) {
        if (*pp == x) {
            *pp = x->next_;
            if (u->tail == x)
                u->tail = prev;
            x->next_ = NULL;
            return;
        }
    }
}

static void usbip_complete(drv_usbip *u, drv_xfer *x, int status, size_t actual)
{
    usbip_unlist(u, x);
    x->status = status;
    x->actual = actual;
    x->state = DRV_XFER_DONE;
    if (x->callback)
        x->callback(x);
}

/* The connection is unusable: every pending transfer completes with err. */
static void usbip_kill(drv_usbip *u, int err)
{
    if (!u->dead)
        u->dead = err;
    if (u->fd >= 0)
        shutdown(u->fd, SHUT_RDWR);
    while (u->head)
        usbip_complete(u, u->head, u->dead, 0);
}

static int usbip_status_to_err(int32_t st)
{
    switch (st) {
    case 0:
        return DRV_OK;
    case PROTO_USBIP_EPIPE:
        return DRV_E_STALL;
    case PROTO_USBIP_EOVERFLOW:
        return DRV_E_OVERFLOW;
    case PROTO_USBIP_ECONNRESET:
    case -2: /* ENOENT: killed */
        return DRV_E_CANCELLED;
    case PROTO_USBIP_ESHUTDOWN:
    case -19: /* ENODEV */
        return DRV_E_DISCONNECTED;
    case PROTO_USBIP_ETIMEDOUT:
        return DRV_E_TIMEOUT;
    default:
        return DRV_E_IO;
    }
}

static int usbip_submit_urb(drv_usbip *u, drv_xfer *x, const uint8_t setup[8],
                            const uint8_t *out_data, size_t out_len, uint32_t interval, int cork)
{
    proto_usbip_urb_hdr h;
    uint8_t raw[PROTO_USBIP_URB_HDR_SIZE];
    int in = (x->endpoint & PROTO_USB_DIR_IN) != 0;
    int rc;

    if (u->dead)
        return u->dead;
    if (x->state == DRV_XFER_PENDING)
        return DRV_E_INVALID;
    if (x->length > PROTO_USBIP_MAX_TRANSFER)
        return DRV_E_INVALID;
    if (x->buf2 && (!in || x->split > x->length || x->len2 > x->length - x->split))
        return DRV_E_INVALID;
    memset(&h, 0, sizeof(h));
    h.command = PROTO_USBIP_CMD_SUBMIT;
    h.seqnum = ++u->seq;
    h.devid = u->devid;
    h.direction = in ? PROTO_USBIP_DIR_IN : PROTO_USBIP_DIR_OUT;
    h.ep = x->endpoint & 0x0Fu;
    h.u.submit.transfer_flags = in ? PROTO_URB_DIR_IN : 0; /* never SHORT_NOT_OK */
    h.u.submit.transfer_buffer_length = (int32_t)(in ? x->length : out_len);
    h.u.submit.start_frame = 0;
    h.u.submit.number_of_packets = 0;
    h.u.submit.interval = (int32_t)interval;
    if (setup)
        memcpy(h.u.submit.setup, setup, 8);
    rc = proto_usbip_urb_hdr_encode(&h, raw, sizeof(raw));
    if (rc < 0)
        return DRV_E_INVALID;
    x->seq_ = h.seqnum;
    x->unlink_seq_ = 0;
    x->status = DRV_OK;
    x->actual = 0;
    x->scattered = 0;
    x->next_ = NULL;
    x->state = DRV_XFER_PENDING;
    if (u->tail)
        u->tail->next_ = x;
    else
        u->head = x;
    u->tail = x;
    if (cork) { /* only asynchronous IN submits, which carry no data */
        if (u->corked + sizeof(raw) > sizeof(u->cork) && (rc = usbip_flush(u)) < 0)
            return rc; /* killed: x completed with the error */
        memcpy(u->cork + u->corked, raw, sizeof(raw));
        u->corked += sizeof(raw);
        return DRV_OK;
    }
    rc = usbip_send(u, raw, sizeof(raw), out_data, out_len);
    if (rc < 0) {
        /* x completes (with the error) through kill, like every other one */
        usbip_kill(u, rc);
        return rc;
    }
    return DRV_OK;
}

/* Read and dispatch one message; its first byte is buffered or known to be
 * readable (or the caller accepts waiting up to the message timeout). */
static int usbip_read_one(drv_usbip *u)
{
    uint8_t raw[PROTO_USBIP_URB_HDR_SIZE];
    proto_usbip_urb_hdr h;
    drv_xfer *x;
    int rc;

    rc = usbip_rx_fill(u, sizeof(raw), USBIP_MSG_TIMEOUT_MS);
    if (rc < 0)
        goto out_kill;
    memcpy(raw, u->rx + u->rx_off, sizeof(raw));
    u->rx_off += sizeof(raw);
    if (proto_usbip_urb_hdr_decode(raw, sizeof(raw), &h) < 0) {
        rc = DRV_E_PROTO;
        goto out_kill;
    }
    if (h.command == PROTO_USBIP_RET_SUBMIT) {
        int32_t actual = h.u.ret_submit.actual_length;
        int in;

        for (x = u->head; x && x->seq_ != h.seqnum; x = x->next_)
            ;
        if (!x) {
            rc = DRV_E_PROTO; /* an answer to nothing we sent */
            goto out_kill;
        }
        /* Linux's stub zeroes direction/ep/devid in replies: trust our own
         * record of the URB, not the echo. */
        in = (x->endpoint & PROTO_USB_DIR_IN) != 0;
        if (actual < 0 || (size_t)actual > x->length ||
            (h.u.ret_submit.number_of_packets > 0 && h.u.ret_submit.number_of_packets != -1)) {
            rc = DRV_E_PROTO;
            goto out_kill;
        }
        if (in && actual > 0) {
            rc = usbip_recv_in(u, x, (size_t)actual);
            if (rc < 0)
                goto out_kill;
        }
        usbip_complete(u, x, usbip_status_to_err(h.u.ret_submit.status), (size_t)actual);
        return DRV_OK;
    }
    if (h.command == PROTO_USBIP_RET_UNLINK) {
        for (x = u->head; x && x->unlink_seq_ != h.seqnum; x = x->next_)
            ;
        /* Not pending any more: its RET_SUBMIT won the race (status 0). */
        if (x)
            usbip_complete(u, x, DRV_E_CANCELLED, 0);
        return DRV_OK;
    }
    rc = DRV_E_PROTO; /* a CMD_* from the server */
out_kill:
    usbip_kill(u, rc == DRV_E_TIMEOUT ? DRV_E_PROTO : rc);
    return u->dead;
}

/* ---- ops ------------------------------------------------------------------------- */

static int usbip_handle_events(drv_transport *t, unsigned timeout_ms)
{
    drv_usbip *u = (drv_usbip *)t;
    struct pollfd pfd = {.fd = u->fd, .events = POLLIN};
    int n, rc;

    if (u->dead)
        return u->dead;
    if (usbip_flush(u) < 0)
        return u->dead;
    if (u->rx_len - u->rx_off < PROTO_USBIP_URB_HDR_SIZE) {
        /* no whole header buffered: wait for the socket */
        rc = poll(&pfd, 1, (int)(timeout_ms > INT32_MAX ? INT32_MAX : timeout_ms));
        if (rc < 0)
            return errno == EINTR ? DRV_OK : DRV_E_IO;
        if (rc == 0)
            return DRV_OK;
    }
    /* Every message the reads bring in, without asking the socket again:
     * the caller comes back if what it waits for has not arrived. */
    for (n = 0; n < USBIP_EVENTS_BATCH; n++) {
        if (usbip_read_one(u) < 0)
            return u->dead;
        if (u->rx_len - u->rx_off < PROTO_USBIP_URB_HDR_SIZE)
            break;
    }
    return DRV_OK;
}

static int usbip_flush_op(drv_transport *t)
{
    return usbip_flush((drv_usbip *)t);
}

static int usbip_cancel(drv_transport *t, drv_xfer *x)
{
    drv_usbip *u = (drv_usbip *)t;
    proto_usbip_urb_hdr h;
    uint8_t raw[PROTO_USBIP_URB_HDR_SIZE];
    int rc;

    if (x->state != DRV_XFER_PENDING || x->unlink_seq_ != 0)
        return DRV_OK;
    if (u->dead)
        return u->dead;
    memset(&h, 0, sizeof(h));
    h.command = PROTO_USBIP_CMD_UNLINK;
    h.seqnum = ++u->seq;
    h.devid = u->devid;
    h.direction = (x->endpoint & PROTO_USB_DIR_IN) ? PROTO_USBIP_DIR_IN : PROTO_USBIP_DIR_OUT;
    h.ep = x->endpoint & 0x0Fu;
    h.u.unlink.seqnum = x->seq_;
    if (proto_usbip_urb_hdr_encode(&h, raw, sizeof(raw)) < 0)
        return DRV_E_INVALID;
    x->unlink_seq_ = h.seqnum;
    rc = usbip_send(u, raw, sizeof(raw), NULL, 0);
    if (rc < 0)
        usbip_kill(u, rc);
    return rc;
}

/* Submit x, wait for it; on timeout unlink it and make sure it is no longer
 * pending before returning (x lives on the caller's stack). */
static int usbip_sync(drv_usbip *u, drv_xfer *x, const uint8_t setup[8], const uint8_t *out,
                      size_t out_len, unsigned timeout_ms)
{
    int rc = usbip_submit_urb(u, x, setup, out, out_len, 0, 0);

    if (rc < 0)
        return x->state == DRV_XFER_DONE ? x->status : rc;
    rc = drv_wait_xfer(&u->base, x, timeout_ms);
    if (rc == DRV_E_TIMEOUT) {
        usbip_cancel(&u->base, x);
        if (drv_wait_xfer(&u->base, x, USBIP_UNLINK_WAIT_MS) < 0)
            usbip_kill(u, DRV_E_TIMEOUT); /* completes x */
        return DRV_E_TIMEOUT;
    }
    if (rc < 0)
        return rc;
    return x->status;
}

static int usbip_control(drv_transport *t, const proto_usb_setup *setup, uint8_t *data,
                         size_t *actual, unsigned timeout_ms)
{
    drv_usbip *u = (drv_usbip *)t;
    uint8_t raw[8];
    int in = (setup->bmRequestType & PROTO_USB_DIR_IN) != 0;
    drv_xfer x;
    int rc;

    memset(&x, 0, sizeof(x));
    x.endpoint = in ? PROTO_USB_DIR_IN : PROTO_USB_DIR_OUT;
    x.type = DRV_XFER_CONTROL;
    x.buf = data;
    x.length = setup->wLength;
    proto_usb_setup_encode(setup, raw);
    rc = usbip_sync(u, &x, raw, in ? NULL : data, in ? 0 : setup->wLength, timeout_ms);
    if (actual)
        *actual = x.actual;
    return rc;
}

static int usbip_bulk_out(drv_transport *t, uint8_t ep, const uint8_t *data, size_t len,
                          unsigned timeout_ms)
{
    drv_usbip *u = (drv_usbip *)t;
    drv_xfer x;
    int rc;

    memset(&x, 0, sizeof(x));
    x.endpoint = ep & 0x0Fu;
    x.type = DRV_XFER_BULK;
    x.length = len;
    rc = usbip_sync(u, &x, NULL, data, len, timeout_ms);
    if (rc == DRV_OK && x.actual != len)
        rc = DRV_E_IO;
    return rc;
}

static int usbip_submit(drv_transport *t, drv_xfer *x)
{
    drv_usbip *u = (drv_usbip *)t;

    if (!(x->endpoint & PROTO_USB_DIR_IN) || !x->buf || x->length == 0)
        return DRV_E_INVALID;
    return usbip_submit_urb(u, x, NULL, NULL, 0, x->type == DRV_XFER_INTERRUPT ? 4u : 0u, 1);
}

static int usbip_clear_halt(drv_transport *t, uint8_t ep)
{
    proto_usb_setup s = {
        .bmRequestType = PROTO_USB_DIR_OUT | PROTO_USB_TYPE_STANDARD | PROTO_USB_RECIP_ENDPOINT,
        .bRequest = PROTO_USB_REQ_CLEAR_FEATURE,
        .wValue = PROTO_USB_FEAT_ENDPOINT_HALT,
        .wIndex = ep,
        .wLength = 0,
    };

    return usbip_control(t, &s, NULL, NULL, USBIP_MSG_TIMEOUT_MS);
}

static void usbip_close(drv_transport *t)
{
    drv_usbip *u = (drv_usbip *)t;
    drv_xfer *x;
    uint64_t deadline;

    if (!u)
        return;
    if (!u->dead) {
        for (x = u->head; x; x = x->next_)
            usbip_cancel(t, x);
        deadline = drv_now_ns() + (uint64_t)USBIP_UNLINK_WAIT_MS * 1000000u;
        while (u->head && !u->dead && drv_now_ns() < deadline)
            usbip_handle_events(t, 50);
    }
    usbip_kill(u, DRV_E_CANCELLED);
    if (u->fd >= 0)
        close(u->fd);
    free(u);
}

/* ---- open: URI, import, enumeration ------------------------------------------------ */

static int usbip_parse_uri(const char *rest, char *host, size_t hostlen, char *port, size_t portlen,
                           char *busid, char *errbuf, size_t errlen)
{
    const char *p, *hend, *colon, *slash;
    size_t n;
    unsigned long pv;
    char *end;

    if (strncmp(rest, "//", 2) != 0)
        goto out_bad;
    p = rest + 2;
    slash = strchr(p, '/');
    if (!slash)
        goto out_bad;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend || hend > slash || hend[1] != ':')
            goto out_bad;
        p++;
        colon = hend + 1;
    } else {
        colon = NULL;
        for (hend = p; hend < slash; hend++)
            if (*hend == ':')
                colon = hend;
        if (!colon)
            goto out_bad;
        hend = colon;
    }
    n = (size_t)(hend - p);
    if (n == 0 || n >= hostlen)
        goto out_bad;
    memcpy(host, p, n);
    host[n] = '\0';
    n = (size_t)(slash - colon - 1);
    if (n == 0 || n >= portlen)
        goto out_bad;
    memcpy(port, colon + 1, n);
    port[n] = '\0';
    errno = 0;
    pv = strtoul(port, &end, 10);
    if (*end || errno || pv == 0 || pv > 65535 || port[0] < '0' || port[0] > '9') {
        drv_errf(errbuf, errlen, "bad port '%s' in usbip URI (expected 1..65535)", port);
        return DRV_E_URI;
    }
    n = strlen(slash + 1);
    if (n == 0 || n >= PROTO_USBIP_BUSID_SIZE || strchr(slash + 1, '/')) {
        drv_errf(errbuf, errlen, "bad busid '%s' in usbip URI (expected e.g. 1-1)", slash + 1);
        return DRV_E_URI;
    }
    memcpy(busid, slash + 1, n + 1);
    return DRV_OK;
out_bad:
    drv_errf(errbuf, errlen, "bad usbip URI 'usbip:%s' (expected usbip://HOST:PORT/BUSID)", rest);
    return DRV_E_URI;
}

static int usbip_import(drv_usbip *u, const drv_open_options *o, char *errbuf, size_t errlen)
{
    uint8_t req[PROTO_USBIP_IMPORT_REQ_SIZE], rep[PROTO_USBIP_DEVICE_SIZE];
    proto_usbip_op_hdr h = {.version = PROTO_USBIP_VERSION, .code = PROTO_USBIP_OP_REQ_IMPORT};
    proto_usbip_device d;
    int rc;

    if (proto_usbip_op_hdr_encode(&h, req, sizeof(req)) < 0 ||
        proto_usbip_busid_encode(u->busid, req + PROTO_USBIP_OP_HDR_SIZE,
                                 sizeof(req) - PROTO_USBIP_OP_HDR_SIZE) < 0) {
        drv_errf(errbuf, errlen, "cannot encode OP_REQ_IMPORT for busid '%s'", u->busid);
        return DRV_E_INVALID;
    }
    rc = usbip_send(u, req, sizeof(req), NULL, 0);
    if (rc < 0) {
        drv_errf(errbuf, errlen, "%s: cannot send OP_REQ_IMPORT: %s", u->peer, drv_strerror(rc));
        return DRV_E_CONNECT;
    }
    rc = usbip_rx_exact(u, rep, PROTO_USBIP_OP_HDR_SIZE, o->timeout_ms);
    if (rc == DRV_E_DISCONNECTED) {
        drv_errf(errbuf, errlen,
                 "%s closed the connection without answering OP_REQ_IMPORT: not a USB/IP server, "
                 "or one that dropped the request (scanemu does when all its operation-phase "
                 "slots are taken and this connection is the oldest)",
                 u->peer);
        return DRV_E_NOT_USBIP;
    }
    if (rc == DRV_E_TIMEOUT) {
        drv_errf(errbuf, errlen,
                 "%s did not answer OP_REQ_IMPORT within %u ms: not a USB/IP server", u->peer,
                 o->timeout_ms);
        return DRV_E_NOT_USBIP;
    }
    if (rc < 0) {
        drv_errf(errbuf, errlen, "%s: reading the OP_REQ_IMPORT reply: %s", u->peer,
                 drv_strerror(rc));
        return DRV_E_CONNECT;
    }
    if (proto_usbip_op_hdr_decode(rep, PROTO_USBIP_OP_HDR_SIZE, &h) < 0 ||
        h.code != PROTO_USBIP_OP_REP_IMPORT) {
        drv_errf(errbuf, errlen,
                 "%s answered OP_REQ_IMPORT with something else: not a USB/IP server", u->peer);
        return DRV_E_NOT_USBIP;
    }
    if (h.status == PROTO_USBIP_ST_NODEV) {
        drv_errf(errbuf, errlen, "%s has no device with busid '%s'", u->peer, u->busid);
        return DRV_E_NODEV;
    }
    if (h.status == PROTO_USBIP_ST_DEV_BUSY) {
        drv_errf(errbuf, errlen, "busid '%s' on %s is busy (imported by another client)", u->busid,
                 u->peer);
        return DRV_E_BUSY;
    }
    if (h.status == PROTO_USBIP_ST_NA) {
        drv_errf(errbuf, errlen,
                 "%s refused to import busid '%s' with ST_NA (request not available): the "
                 "server is overloaded (scanemu: too many connections at once, or a request "
                 "slower than its deadline); try again",
                 u->peer, u->busid);
        return DRV_E_BUSY;
    }
    if (h.status != PROTO_USBIP_ST_OK) {
        drv_errf(errbuf, errlen, "%s refused to import busid '%s' (status %d)", u->peer, u->busid,
                 (int)h.status);
        return DRV_E_NODEV;
    }
    rc = usbip_rx_exact(u, rep, PROTO_USBIP_DEVICE_SIZE, o->timeout_ms);
    if (rc < 0 || proto_usbip_device_decode(rep, sizeof(rep), &d) < 0 ||
        strcmp(d.busid, u->busid) != 0 || d.busnum > 255 || d.devnum > 255) {
        drv_errf(errbuf, errlen, "%s sent a malformed OP_REP_IMPORT device record", u->peer);
        return DRV_E_NOT_USBIP;
    }
    if (!drv_id_matches(o, d.idVendor, d.idProduct)) {
        char want[32];
        drv_id_str(o, want, sizeof want);
        drv_errf(errbuf, errlen, "busid '%s' on %s is %04x:%04x, not the expected %s", u->busid,
                 u->peer, d.idVendor, d.idProduct, want);
        return DRV_E_WRONG_DEVICE;
    }
    u->devid = proto_usbip_devid(d.busnum, d.devnum);
    u->base.info.vid = d.idVendor;
    u->base.info.pid = d.idProduct;
    u->base.info.bcd_device = d.bcdDevice;
    u->base.info.speed = d.speed;
    return DRV_OK;
}

static int usbip_enumerate(drv_usbip *u, const drv_open_options *o, char *errbuf, size_t errlen)
{
    uint8_t dev[18], cfg[DRV_USB_MAX_CONFIG_DESC];
    proto_usb_setup s = {.bmRequestType = PROTO_USB_DIR_IN,
                         .bRequest = PROTO_USB_REQ_GET_DESCRIPTOR};
    drv_scanner_iface sif;
    size_t got = 0, total;
    int rc;

    s.wValue = PROTO_USB_DT_DEVICE << 8;
    s.wLength = sizeof(dev);
    rc = usbip_control(&u->base, &s, dev, &got, o->timeout_ms);
    if (rc < 0 || got != sizeof(dev) || dev[0] != 18 || dev[1] != PROTO_USB_DT_DEVICE) {
        drv_errf(errbuf, errlen, "busid '%s' on %s: GET_DESCRIPTOR(device) failed: %s", u->busid,
                 u->peer, rc < 0 ? drv_strerror(rc) : "malformed descriptor");
        return rc == DRV_E_DISCONNECTED ? rc : DRV_E_PROTO;
    }
    if (proto_get_le16(dev + 8) != u->base.info.vid ||
        proto_get_le16(dev + 10) != u->base.info.pid) {
        drv_errf(errbuf, errlen,
                 "busid '%s' on %s: device descriptor says %04x:%04x, import said %04x:%04x",
                 u->busid, u->peer, proto_get_le16(dev + 8), proto_get_le16(dev + 10),
                 u->base.info.vid, u->base.info.pid);
        return DRV_E_PROTO;
    }
    s.wValue = PROTO_USB_DT_CONFIG << 8;
    s.wLength = 9;
    rc = usbip_control(&u->base, &s, cfg, &got, o->timeout_ms);
    if (rc < 0 || got != 9 || cfg[1] != PROTO_USB_DT_CONFIG)
        goto out_bad_config;
    total = proto_get_le16(cfg + 2);
    if (total < 9 || total > sizeof(cfg))
        goto out_bad_config;
    s.wLength = (uint16_t)total;
    rc = usbip_control(&u->base, &s, cfg, &got, o->timeout_ms);
    if (rc < 0 || got != total)
        goto out_bad_config;
    rc = drv_parse_config(cfg, got, &sif);
    if (rc == DRV_E_WRONG_DEVICE) {
        drv_errf(errbuf, errlen,
                 "busid '%s' on %s (%04x:%04x) has no scanner interface (vendor class with "
                 "endpoints 0x01, 0x81, 0x82)",
                 u->busid, u->peer, u->base.info.vid, u->base.info.pid);
        return rc;
    }
    if (rc < 0)
        goto out_bad_config;
    s.bmRequestType = 0x00;
    s.bRequest = PROTO_USB_REQ_SET_CONFIGURATION;
    s.wValue = sif.configuration;
    s.wLength = 0;
    rc = usbip_control(&u->base, &s, NULL, NULL, o->timeout_ms);
    if (rc < 0) {
        drv_errf(errbuf, errlen, "busid '%s' on %s: SET_CONFIGURATION %u failed: %s", u->busid,
                 u->peer, sif.configuration, drv_strerror(rc));
        return rc == DRV_E_DISCONNECTED ? rc : DRV_E_PROTO;
    }
    u->base.info.configuration = sif.configuration;
    u->base.info.interface_number = sif.interface_number;
    u->base.info.bulk_in_max_packet = sif.bulk_in_mps;
    return DRV_OK;
out_bad_config:
    drv_errf(errbuf, errlen, "busid '%s' on %s: GET_DESCRIPTOR(configuration) failed: %s", u->busid,
             u->peer, rc < 0 ? drv_strerror(rc) : "malformed descriptor");
    return rc == DRV_E_DISCONNECTED ? rc : DRV_E_PROTO;
}

static int usbip_open(const char *rest, const drv_open_options *o, drv_transport **out,
                      char *errbuf, size_t errlen)
{
    char host[64], port[8];
    drv_usbip *u;
    int rc;

    u = calloc(1, sizeof(*u));
    if (!u) {
        drv_errf(errbuf, errlen, "out of memory");
        return DRV_E_NOMEM;
    }
    u->base.ops = &drv_usbip_transport;
    u->fd = -1;
    rc = usbip_parse_uri(rest, host, sizeof(host), port, sizeof(port), u->busid, errbuf, errlen);
    if (rc < 0)
        goto out_free;
    snprintf(u->peer, sizeof(u->peer), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
    rc = usbip_connect(host, port, o->timeout_ms, &u->fd, errbuf, errlen);
    if (rc < 0)
        goto out_free;
    rc = usbip_import(u, o, errbuf, errlen);
    if (rc < 0)
        goto out_close;
    rc = usbip_enumerate(u, o, errbuf, errlen);
    if (rc < 0)
        goto out_close;
    snprintf(u->base.info.where, sizeof(u->base.info.where), "usbip %s busid %s", u->peer,
             u->busid);
    *out = &u->base;
    return DRV_OK;
out_close:
    close(u->fd);
out_free:
    free(u);
    return rc;
}

const struct drv_transport_ops drv_usbip_transport = {
    .scheme = "usbip",
    .open = usbip_open,
    .close = usbip_close,
    .control = usbip_control,
    .bulk_out = usbip_bulk_out,
    .submit = usbip_submit,
    .cancel = usbip_cancel,
    .clear_halt = usbip_clear_halt,
    .handle_events = usbip_handle_events,
    .flush = usbip_flush_op,
};
