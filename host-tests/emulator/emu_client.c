#include "emu_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int tc_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {TC_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

int tc_send_raw(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int recv_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t r = recv(fd, p, len, 0);
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int tc_devlist(uint16_t port, proto_usbip_device *devs, proto_usbip_interface *ifs, int max)
{
    int fd = tc_connect(port);
    if (fd < 0)
        return -1;
    uint8_t b[PROTO_USBIP_DEVICE_SIZE];
    proto_usbip_op_hdr h = {PROTO_USBIP_VERSION, PROTO_USBIP_OP_REQ_DEVLIST, 0};
    proto_usbip_op_hdr_encode(&h, b, sizeof b);
    int n = -1;
    uint32_t count;
    if (tc_send_raw(fd, b, 8) < 0 || recv_all(fd, b, 8) < 0 ||
        proto_usbip_op_hdr_decode(b, 8, &h) < 0 || h.code != PROTO_USBIP_OP_REP_DEVLIST ||
        h.status != 0 || recv_all(fd, b, 4) < 0 || proto_usbip_devcount_decode(b, 4, &count) < 0)
        goto out;
    for (uint32_t i = 0; i < count; i++) {
        proto_usbip_device d;
        if (recv_all(fd, b, PROTO_USBIP_DEVICE_SIZE) < 0 ||
            proto_usbip_device_decode(b, PROTO_USBIP_DEVICE_SIZE, &d) < 0)
            goto out;
        if ((int)i < max)
            devs[i] = d;
        for (uint32_t k = 0; k < d.bNumInterfaces; k++) {
            proto_usbip_interface in;
            if (recv_all(fd, b, 4) < 0 || proto_usbip_interface_decode(b, 4, &in) < 0)
                goto out;
            if ((int)i < max && k == 0)
                ifs[i] = in;
        }
    }
    n = (int)count;
out:
    close(fd);
    return n;
}

int tc_devlist_ifs(uint16_t port, int dev, proto_usbip_interface *ifs, int max)
{
    int fd = tc_connect(port);
    if (fd < 0)
        return -1;
    uint8_t b[PROTO_USBIP_DEVICE_SIZE];
    proto_usbip_op_hdr h = {PROTO_USBIP_VERSION, PROTO_USBIP_OP_REQ_DEVLIST, 0};
    proto_usbip_op_hdr_encode(&h, b, sizeof b);
    int n = -1;
    uint32_t count;
    if (tc_send_raw(fd, b, 8) < 0 || recv_all(fd, b, 8) < 0 ||
        proto_usbip_op_hdr_decode(b, 8, &h) < 0 || h.code != PROTO_USBIP_OP_REP_DEVLIST ||
        h.status != 0 || recv_all(fd, b, 4) < 0 || proto_usbip_devcount_decode(b, 4, &count) < 0)
        goto out;
    for (uint32_t i = 0; i < count; i++) {
        proto_usbip_device d;
        if (recv_all(fd, b, PROTO_USBIP_DEVICE_SIZE) < 0 ||
            proto_usbip_device_decode(b, PROTO_USBIP_DEVICE_SIZE, &d) < 0)
            goto out;
        for (uint32_t k = 0; k < d.bNumInterfaces; k++) {
            proto_usbip_interface in;
            if (recv_all(fd, b, 4) < 0 || proto_usbip_interface_decode(b, 4, &in) < 0)
                goto out;
            if ((int)i == dev && (int)k < max)
                ifs[k] = in;
        }
        if ((int)i == dev)
            n = d.bNumInterfaces;
    }
out:
    close(fd);
    return n;
}

int tc_import(tc *c, uint16_t port, const char *busid)
{
    memset(c, 0, sizeof(*c));
    c->next_seq = 1;
    c->fd = tc_connect(port);
    if (c->fd < 0)
        return -1;
    uint8_t b[PROTO_USBIP_IMPORT_REQ_SIZE];
    proto_usbip_op_hdr h = {PROTO_USBIP_VERSION, PROTO_USBIP_OP_REQ_IMPORT, 0};
    proto_usbip_op_hdr_encode(&h, b, sizeof b);
    proto_usbip_busid_encode(busid, b + 8, 32);
    if (tc_send_raw(c->fd, b, sizeof b) < 0 || recv_all(c->fd, b, 8) < 0 ||
        proto_usbip_op_hdr_decode(b, 8, &h) < 0 || h.code != PROTO_USBIP_OP_REP_IMPORT)
        goto fail;
    if (h.status != 0) {
        close(c->fd);
        c->fd = -1;
        return h.status;
    }
    uint8_t rec[PROTO_USBIP_DEVICE_SIZE];
    proto_usbip_device d;
    if (recv_all(c->fd, rec, sizeof rec) < 0 || proto_usbip_device_decode(rec, sizeof rec, &d) < 0)
        goto fail;
    c->devid = proto_usbip_devid(d.busnum, d.devnum);
    c->rec = d;
    return 0;
fail:
    close(c->fd);
    c->fd = -1;
    return -1;
}

void tc_close(tc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

uint32_t tc_submit(tc *c, uint32_t ep, uint32_t dir, uint32_t flags, int32_t len,
                   const uint8_t setup[8], const void *out)
{
    /* Non-consecutive seqnums, as on a shared virtual hub. */
    uint32_t seq = c->next_seq;
    c->next_seq += 3;
    proto_usbip_urb_hdr h;
    memset(&h, 0, sizeof h);
    h.command = PROTO_USBIP_CMD_SUBMIT;
    h.seqnum = seq;
    h.devid = c->devid;
    h.direction = dir;
    h.ep = ep;
    h.u.submit.transfer_flags = flags | (dir ? PROTO_URB_DIR_IN : 0);
    h.u.submit.transfer_buffer_length = len;
    h.u.submit.number_of_packets = 0;
    if (setup)
        memcpy(h.u.submit.setup, setup, 8);
    uint8_t hdr[48];
    proto_usbip_urb_hdr_encode(&h, hdr, sizeof hdr);
    c->dir_of[seq & 0xffff] = (uint8_t)dir;
    struct iovec iov[2] = {{hdr, 48}, {(void *)out, dir ? 0 : (size_t)len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (!dir && len) ? 2 : 1};
    size_t total = 48 + (dir ? 0 : (size_t)len);
    ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    if (w >= 0 && (size_t)w < total) {
        /* finish a partial send */
        size_t done = (size_t)w;
        if (done < 48) {
            tc_send_raw(c->fd, hdr + done, 48 - done);
            done = 48;
        }
        if (!dir)
            tc_send_raw(c->fd, (const uint8_t *)out + (done - 48), (size_t)len - (done - 48));
    }
    return seq;
}

uint32_t tc_unlink(tc *c, uint32_t target)
{
    uint32_t seq = c->next_seq;
    c->next_seq += 3;
    proto_usbip_urb_hdr h;
    memset(&h, 0, sizeof h);
    h.command = PROTO_USBIP_CMD_UNLINK;
    h.seqnum = seq;
    h.devid = c->devid;
    h.u.unlink.seqnum = target;
    uint8_t hdr[48];
    proto_usbip_urb_hdr_encode(&h, hdr, sizeof hdr);
    tc_send_raw(c->fd, hdr, 48);
    return seq;
}

int tc_recv(tc *c, proto_usbip_urb_hdr *h, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t hdr[48];
    *len = 0;
    if (recv_all(c->fd, hdr, 48) < 0 || proto_usbip_urb_hdr_decode(hdr, 48, h) < 0)
        return -1;
    if (h->command == PROTO_USBIP_RET_SUBMIT && c->dir_of[h->seqnum & 0xffff] &&
        h->u.ret_submit.actual_length > 0) {
        size_t n = (size_t)h->u.ret_submit.actual_length;
        if (n > cap)
            return -1;
        if (recv_all(c->fd, buf, n) < 0)
            return -1;
        *len = n;
    }
    return 0;
}

int tc_quiet(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r == 0)
        return 1;
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 ? -1 : 0;
}

int tc_wait_closed(int fd)
{
    uint8_t b[4096];
    for (;;) {
        ssize_t r = recv(fd, b, sizeof b, 0); /* SO_RCVTIMEO bounds the wait */
        if (r == 0)
            return 1;
        if (r < 0)
            return errno == ECONNRESET ? 1 : 0;
    }
}

int tc_control(tc *c, uint8_t bmRequestType, uint8_t bRequest, uint16_t wValue, uint16_t wIndex,
               uint16_t wLength, int32_t tbl, uint8_t *buf, size_t *len)
{
    proto_usb_setup s = {bmRequestType, bRequest, wValue, wIndex, wLength};
    uint8_t raw[8];
    proto_usb_setup_encode(&s, raw);
    uint32_t dir = (bmRequestType & 0x80) ? PROTO_USBIP_DIR_IN : PROTO_USBIP_DIR_OUT;
    uint8_t zeros[256] = {0};
    uint32_t seq = tc_submit(c, 0, dir, 0, tbl, raw, dir ? NULL : (tbl > 0 ? zeros : NULL));
    proto_usbip_urb_hdr h;
    if (tc_recv(c, &h, buf, 4096, len) < 0)
        return -9999;
    if (h.command != PROTO_USBIP_RET_SUBMIT || h.seqnum != seq)
        return -9998;
    return h.u.ret_submit.status;
}
