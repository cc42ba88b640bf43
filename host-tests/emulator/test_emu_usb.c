/* The emulator's USB/IP server and USB device layer, driven over real
 * loopback sockets against scripted backends (fake_backend.c). */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "emu_client.h"
#include "fake_backend.h"
#include "protocol/scan.h"

static emu_server *srv;
static pthread_t srv_thread;
static fake_dev *fakes;
static uint16_t port;
static uint8_t buf[1u << 20];
/* Operation-phase limits and log of the next start_server (0/NULL: the
 * defaults, and warnings to stderr). */
static unsigned cfg_slots, cfg_deadline_ms;
static FILE *cfg_log;

static void *run_server(void *arg)
{
    emu_server_run(arg);
    return NULL;
}

static void start_server(uint32_t speed)
{
    fakes = calloc(2, sizeof(fake_dev));
    ck_assert_ptr_nonnull(fakes);
    emu_export ex[2];
    memset(ex, 0, sizeof ex);
    ex[0].id = (dm_usb_identity){0x1209,   0x0001, 0x0100, speed, "scanemu", "Virtual Scanner",
                                 "SN0001", 0,      0};
    ex[1].id = (dm_usb_identity){0x1209, 0x0002, 0x0200, speed, "scanemu", "Second", NULL, 0, 0};
    for (int i = 0; i < 2; i++) {
        ex[i].ops = &fake_ops;
        ex[i].ctx = &fakes[i];
    }
    emu_options o;
    emu_options_init(&o);
    o.listen_port = 0;
    o.log_level = EMU_LOG_WARN;
    o.op_slots = cfg_slots;
    o.op_deadline_ms = cfg_deadline_ms;
    if (cfg_log)
        o.log = cfg_log;
    char err[256];
    ck_assert_msg(emu_server_create_ex(&o, ex, 2, NULL, &srv, err, sizeof err) == 0, "%s", err);
    port = emu_server_port(srv);
    ck_assert_uint_ne(port, 0);
    ck_assert_int_eq(pthread_create(&srv_thread, NULL, run_server, srv), 0);
}

static void setup_hs(void)
{
    start_server(PROTO_USBIP_SPEED_HIGH);
}

static void teardown(void)
{
    emu_server_stop(srv);
    pthread_join(srv_thread, NULL);
    emu_server_free(srv);
    free(fakes);
}

/* Imports busid, with no retry: a previous session whose client has closed
 * must not make the device look busy (see import_right_after_close). The device
 * stays unconfigured (as right after attach). */
static void import_unconfigured(tc *c, const char *busid)
{
    ck_assert_int_eq(tc_import(c, port, busid), 0);
}

/* Imports busid and configures it (SET_CONFIGURATION 1), as every host does
 * before it uses the bulk and interrupt endpoints. */
static void import_ok(tc *c, const char *busid)
{
    size_t n;
    import_unconfigured(c, busid);
    ck_assert_int_eq(tc_control(c, 0x00, 9, 1, 0, 0, 0, buf, &n), 0);
}

static void script(tc *c, enum fake_op op, int ep, uint8_t fill, uint32_t len, uint32_t delay_us)
{
    uint8_t rec[12];
    fake_record(rec, op, ep, fill, len, delay_us);
    tc_submit(c, 1, PROTO_USBIP_DIR_OUT, 0, 12, NULL, rec);
    proto_usbip_urb_hdr h;
    size_t n;
    ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_SUBMIT);
    ck_assert_int_eq(h.u.ret_submit.status, 0);
    ck_assert_int_eq(h.u.ret_submit.actual_length, 12);
}

static void expect_data(tc *c, uint32_t seq, int32_t status, uint8_t fill, size_t len)
{
    proto_usbip_urb_hdr h;
    size_t n;
    ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_SUBMIT);
    ck_assert_uint_eq(h.seqnum, seq);
    ck_assert_int_eq(h.u.ret_submit.status, status);
    ck_assert_uint_eq(n, len);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(buf[i], fake_byte(fill, (uint32_t)i));
}

/* ---- op phase ---------------------------------------------------------------------- */

START_TEST(devlist_lists_both)
{
    proto_usbip_device d[4];
    proto_usbip_interface in[4];
    ck_assert_int_eq(tc_devlist(port, d, in, 4), 2);
    ck_assert_str_eq(d[0].busid, "1-1");
    ck_assert_str_eq(d[1].busid, "1-2");
    ck_assert_str_eq(d[0].path, "/sys/devices/pci0000:00/0000:00:01.2/usb1/1-1");
    ck_assert_uint_eq(d[0].busnum, 1);
    ck_assert_uint_eq(d[1].devnum, 2);
    ck_assert_uint_eq(d[0].speed, PROTO_USBIP_SPEED_HIGH);
    ck_assert_uint_eq(d[0].idVendor, 0x1209);
    ck_assert_uint_eq(d[1].idProduct, 0x0002);
    ck_assert_uint_eq(d[1].bcdDevice, 0x0200);
    ck_assert_uint_eq(d[0].bNumInterfaces, 1);
    ck_assert_uint_eq(in[0].bInterfaceClass, 0xff);
    ck_assert_uint_eq(in[1].bInterfaceClass, 0xff);
}
END_TEST

START_TEST(import_nodev_busy_and_again)
{
    tc a, b;
    ck_assert_int_eq(tc_import(&b, port, "9-9"), PROTO_USBIP_ST_NODEV);
    import_ok(&a, "1-1");
    ck_assert_uint_eq(a.devid, 0x00010001);
    ck_assert_int_eq(tc_import(&b, port, "1-1"), PROTO_USBIP_ST_DEV_BUSY);
    /* The other device and listing stay available while 1-1 is attached. */
    tc c;
    import_ok(&c, "1-2");
    proto_usbip_device d[2];
    proto_usbip_interface in[2];
    ck_assert_int_eq(tc_devlist(port, d, in, 2), 2);
    tc_close(&a);
    import_ok(&b, "1-1"); /* attachable again after the first client left */
    tc_close(&b);
    tc_close(&c);
}
END_TEST

/* A scan run right after another: the client closes and at once imports
 * again. The emulator must not answer ST_DEV_BUSY for a device whose client is
 * already gone (no retry here, unlike import_ok). */
START_TEST(import_right_after_close)
{
    for (int i = 0; i < 30; i++) {
        tc a;
        ck_assert_int_eq(tc_import(&a, port, "1-1"), 0);
        tc_close(&a);
    }
}
END_TEST

/* ---- enumeration --------------------------------------------------------------------- */

START_TEST(linux_enumeration_sequence)
{
    tc c;
    import_unconfigured(&c, "1-1");
    size_t n;
    /* GET_DESCRIPTOR device, wLength 64 then 18 */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 64, 64, buf, &n), 0);
    ck_assert_uint_eq(n, 18);
    ck_assert_uint_eq(buf[0], 18);
    ck_assert_uint_eq(buf[1], 1);
    ck_assert_uint_eq(proto_get_le16(buf + 2), 0x0200);
    ck_assert_uint_eq(buf[7], 64);
    ck_assert_uint_eq(proto_get_le16(buf + 8), 0x1209);
    ck_assert_uint_eq(proto_get_le16(buf + 10), 0x0001);
    ck_assert_uint_eq(proto_get_le16(buf + 12), 0x0100);
    ck_assert_uint_eq(buf[14], 1);
    ck_assert_uint_eq(buf[15], 2);
    ck_assert_uint_eq(buf[16], 3);
    ck_assert_uint_eq(buf[17], 1);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 18, 18, buf, &n), 0);
    ck_assert_uint_eq(n, 18);
    /* BOS: bcdUSB 0x0200, so a stall */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0f00, 0, 5, 5, buf, &n), -32);
    /* config 9, then wTotalLength */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, 9, 9, buf, &n), 0);
    ck_assert_uint_eq(n, 9);
    uint16_t total = proto_get_le16(buf + 2);
    ck_assert_uint_eq(total, 39);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, total, total, buf, &n), 0);
    ck_assert_uint_eq(n, 39);
    ck_assert_uint_eq(buf[4], 1);        /* bNumInterfaces */
    ck_assert_uint_eq(buf[7] & 0x20, 0); /* no remote wakeup */
    ck_assert_uint_eq(buf[9 + 4], 3);    /* bNumEndpoints */
    ck_assert_uint_eq(buf[9 + 5], 0xff); /* vendor class */
    const uint8_t *ep = buf + 18;
    ck_assert_uint_eq(ep[2], 0x01);
    ck_assert_uint_eq(ep[3], 2);
    ck_assert_uint_eq(proto_get_le16(ep + 4), 512);
    ck_assert_uint_eq(ep[7 + 2], 0x81);
    ck_assert_uint_eq(proto_get_le16(ep + 7 + 4), 512);
    ck_assert_uint_eq(ep[14 + 2], 0x82);
    ck_assert_uint_eq(ep[14 + 3], 3);
    ck_assert_uint_eq(proto_get_le16(ep + 14 + 4), 16);
    ck_assert_uint_eq(ep[14 + 6], 4);
    /* strings 0, 2, 1, 3 with wLength 255 */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0300, 0, 255, 255, buf, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(proto_get_le16(buf + 2), 0x0409);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0302, 0x0409, 255, 255, buf, &n), 0);
    ck_assert_uint_eq(n, 2 + 2 * strlen("Virtual Scanner"));
    ck_assert_uint_eq(buf[2], 'V');
    ck_assert_uint_eq(buf[3], 0);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0301, 0x0409, 255, 255, buf, &n), 0);
    ck_assert_uint_eq(n, 2 + 2 * strlen("scanemu"));
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0303, 0x0409, 255, 255, buf, &n), 0);
    ck_assert_uint_eq(n, 2 + 2 * strlen("SN0001"));
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0304, 0x0409, 255, 255, buf, &n), -32);
    /* SET_CONFIGURATION 1, GET_CONFIGURATION */
    ck_assert_int_eq(tc_control(&c, 0x00, 9, 1, 0, 0, 0, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x80, 8, 0, 0, 1, 1, buf, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(buf[0], 1);
    ck_assert_int_eq(tc_control(&c, 0x00, 9, 2, 0, 0, 0, buf, &n), -32);
    /* device qualifier; other-speed config */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0600, 0, 10, 10, buf, &n), 0);
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(buf[1], 6);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0700, 0, 255, 255, buf, &n), 0);
    ck_assert_uint_eq(buf[1], 7);
    ck_assert_uint_eq(proto_get_le16(buf + 18 + 4), 64); /* full-speed bulk */
    /* DEBUG descriptor: stall */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0a00, 0, 4, 4, buf, &n), -32);
    /* GET_STATUS device / interface / endpoint */
    ck_assert_int_eq(tc_control(&c, 0x80, 0, 0, 0, 2, 2, buf, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(buf[0] & 2, 0);
    ck_assert_int_eq(tc_control(&c, 0x81, 0, 0, 0, 2, 2, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x82, 0, 0, 0x81, 2, 2, buf, &n), 0);
    ck_assert_uint_eq(buf[0], 0);
    ck_assert_int_eq(tc_control(&c, 0x82, 0, 0, 0x83, 2, 2, buf, &n), -32);
    /* SET_INTERFACE 0/0, GET_INTERFACE, CLEAR_FEATURE(ENDPOINT_HALT) */
    ck_assert_int_eq(tc_control(&c, 0x01, 11, 0, 0, 0, 0, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x01, 11, 1, 0, 0, 0, buf, &n), -32);
    ck_assert_int_eq(tc_control(&c, 0x81, 10, 0, 0, 1, 1, buf, &n), 0);
    ck_assert_uint_eq(buf[0], 0);
    ck_assert_int_eq(tc_control(&c, 0x02, 1, 0, 0x81, 0, 0, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x02, 1, 0, 0x01, 0, 0, buf, &n), 0);
    /* unsupported: vendor, class, SET_DESCRIPTOR, remote wakeup, SYNCH_FRAME */
    ck_assert_int_eq(tc_control(&c, 0xc0, 1, 0, 0, 4, 4, buf, &n), -32);
    ck_assert_int_eq(tc_control(&c, 0x21, 9, 0, 0, 0, 0, buf, &n), -32);
    ck_assert_int_eq(tc_control(&c, 0x00, 7, 0x0100, 0, 0, 0, buf, &n), -32);
    ck_assert_int_eq(tc_control(&c, 0x00, 3, 1, 0, 0, 0, buf, &n), -32);
    ck_assert_int_eq(tc_control(&c, 0x82, 12, 0, 0x81, 2, 2, buf, &n), -32);
    tc_close(&c);
}
END_TEST

START_TEST(in_replies_clamped)
{
    tc c;
    import_ok(&c, "1-1");
    size_t n;
    /* wLength below the descriptor */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, 20, 255, buf, &n), 0);
    ck_assert_uint_eq(n, 20);
    /* transfer_buffer_length below wLength */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, 255, 12, buf, &n), 0);
    ck_assert_uint_eq(n, 12);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 64, 0, buf, &n), 0);
    ck_assert_uint_eq(n, 0);
    tc_close(&c);
}
END_TEST

START_TEST(short_not_ok_on_ep0)
{
    tc c;
    import_ok(&c, "1-1");
    proto_usb_setup s = {0x80, 6, 0x0100, 0, 64};
    uint8_t raw[8];
    proto_usb_setup_encode(&s, raw);
    uint32_t seq = tc_submit(&c, 0, 1, PROTO_URB_SHORT_NOT_OK, 64, raw, NULL);
    proto_usbip_urb_hdr h;
    size_t n;
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.seqnum, seq);
    ck_assert_int_eq(h.u.ret_submit.status, PROTO_USBIP_EREMOTEIO);
    ck_assert_uint_eq(n, 18);
    tc_close(&c);
}
END_TEST

START_TEST(superspeed_bos_and_companions)
{
    teardown();
    start_server(PROTO_USBIP_SPEED_SUPER);
    proto_usbip_device d[2];
    proto_usbip_interface in[2];
    ck_assert_int_eq(tc_devlist(port, d, in, 2), 2);
    ck_assert_uint_eq(d[0].speed, PROTO_USBIP_SPEED_SUPER);
    tc c;
    import_ok(&c, "1-1");
    size_t n;
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 18, 18, buf, &n), 0);
    ck_assert_uint_eq(proto_get_le16(buf + 2), 0x0320);
    ck_assert_uint_eq(buf[7], 9);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0f00, 0, 5, 5, buf, &n), 0);
    ck_assert_uint_eq(buf[1], 15);
    uint16_t total = proto_get_le16(buf + 2);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0f00, 0, total, total, buf, &n), 0);
    ck_assert_uint_eq(n, total);
    ck_assert_uint_eq(buf[4], 2);
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0200, 0, 255, 255, buf, &n), 0);
    ck_assert_uint_eq(n, 39 + 18);
    ck_assert_uint_eq(proto_get_le16(buf + 18 + 4), 1024);
    ck_assert_uint_eq(buf[18 + 7 + 1], 48); /* companion after the first endpoint */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0600, 0, 10, 10, buf, &n), -32);
    ck_assert_int_eq(tc_control(&c, 0x00, 0x31, 40, 0, 0, 0, buf, &n), 0); /* SET_ISOCH_DELAY */
    ck_assert_int_eq(tc_control(&c, 0x00, 0x30, 0, 0, 6, 6, buf, &n), 0);  /* SET_SEL */
    tc_close(&c);
}
END_TEST

/* ---- URB layer ----------------------------------------------------------------------- */

static void expect_status(tc *c, uint32_t seq, int32_t status)
{
    proto_usbip_urb_hdr h;
    size_t n;
    ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_SUBMIT);
    ck_assert_uint_eq(h.seqnum, seq);
    ck_assert_int_eq(h.u.ret_submit.status, status);
    ck_assert_int_eq(h.u.ret_submit.actual_length, 0);
    ck_assert_uint_eq(n, 0);
}

/* Bulk and interrupt endpoints exist only in configuration 1: before
 * SET_CONFIGURATION(1), and after SET_CONFIGURATION(0), their URBs complete
 * -ENOENT and nothing reaches the device. */
START_TEST(unconfigured_endpoints_refused)
{
    tc c;
    size_t n;
    import_unconfigured(&c, "1-1");
    uint8_t rec[12];
    fake_record(rec, FAKE_DATA, 0, 6, 40, 0);
    uint32_t o = tc_submit(&c, 1, PROTO_USBIP_DIR_OUT, 0, 12, NULL, rec);
    expect_status(&c, o, -2);
    uint32_t i = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    expect_status(&c, i, -2);
    uint32_t e = tc_submit(&c, 2, PROTO_USBIP_DIR_IN, 0, 16, NULL, NULL);
    expect_status(&c, e, -2);
    /* The refused OUT never reached the device: once configured, bulk IN
     * has nothing to deliver. */
    ck_assert_int_eq(tc_control(&c, 0x00, 9, 1, 0, 0, 0, buf, &n), 0);
    uint32_t w = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    ck_assert_int_eq(tc_quiet(c.fd, 50), 1);
    script(&c, FAKE_DATA, 0, 8, 30, 0);
    expect_data(&c, w, 0, 8, 30);
    /* SET_CONFIGURATION(0) gives back the waiting URBs (-ESHUTDOWN, as
     * Linux's endpoint disable does) and refuses new ones again. */
    uint32_t p1 = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    uint32_t p2 = tc_submit(&c, 2, PROTO_USBIP_DIR_IN, 0, 16, NULL, NULL);
    ck_assert_int_eq(tc_quiet(c.fd, 50), 1);
    proto_usb_setup s0 = {0x00, 9, 0, 0, 0};
    uint8_t raw[8];
    proto_usb_setup_encode(&s0, raw);
    uint32_t ctl = tc_submit(&c, 0, PROTO_USBIP_DIR_OUT, 0, 0, raw, NULL);
    expect_status(&c, p1, PROTO_USBIP_ESHUTDOWN);
    expect_status(&c, p2, PROTO_USBIP_ESHUTDOWN);
    expect_status(&c, ctl, 0);
    ck_assert_int_eq(tc_control(&c, 0x80, 8, 0, 0, 1, 1, buf, &n), 0);
    ck_assert_uint_eq(buf[0], 0);
    o = tc_submit(&c, 1, PROTO_USBIP_DIR_OUT, 0, 12, NULL, rec);
    expect_status(&c, o, -2);
    i = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    expect_status(&c, i, -2);
    /* ep0 keeps working, and configuring again brings the endpoints back. */
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 18, 18, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x00, 9, 1, 0, 0, 0, buf, &n), 0);
    i = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    script(&c, FAKE_DATA, 0, 9, 20, 0);
    expect_data(&c, i, 0, 9, 20);
    tc_close(&c);
    /* A new connection starts unconfigured again. */
    import_unconfigured(&c, "1-1");
    i = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    expect_status(&c, i, -2);
    tc_close(&c);
}
END_TEST

static void expect_out(tc *c, uint32_t seq, int32_t status, int32_t taken)
{
    proto_usbip_urb_hdr h;
    size_t n;
    ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_SUBMIT);
    ck_assert_uint_eq(h.seqnum, seq);
    ck_assert_int_eq(h.u.ret_submit.status, status);
    ck_assert_int_eq(h.u.ret_submit.actual_length, taken);
    ck_assert_uint_eq(n, 0);
}

/* A device that NAKs bulk OUT (its response queue is full): the OUT URBs
 * stay pending, unanswered and in order, each is offered again once bulk IN
 * delivered something, and a pending one can be unlinked. */
START_TEST(nak_out_until_in_drains)
{
    tc c;
    import_ok(&c, "1-1");
    uint8_t rec[12];
    script(&c, FAKE_LIMIT, 0, 0, 2, 0);
    script(&c, FAKE_DATA, 0, 1, 10, 0);
    script(&c, FAKE_DATA, 0, 2, 20, 0);
    fake_record(rec, FAKE_DATA, 0, 3, 30, 0);
    uint32_t o3 = tc_submit(&c, 1, PROTO_USBIP_DIR_OUT, 0, 12, NULL, rec);
    fake_record(rec, FAKE_DATA, 0, 4, 40, 0);
    uint32_t o4 = tc_submit(&c, 1, PROTO_USBIP_DIR_OUT, 0, 12, NULL, rec);
    fake_record(rec, FAKE_DATA, 0, 5, 50, 0);
    uint32_t o5 = tc_submit(&c, 1, PROTO_USBIP_DIR_OUT, 0, 12, NULL, rec);
    ck_assert_int_eq(tc_quiet(c.fd, 50), 1); /* all three NAKed: unanswered */
    uint32_t un = tc_unlink(&c, o5);
    proto_usbip_urb_hdr h;
    size_t n;
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_UNLINK);
    ck_assert_uint_eq(h.seqnum, un);
    ck_assert_int_eq(h.u.ret_unlink.status, PROTO_USBIP_ECONNRESET);
    /* ep0 and interrupt IN are not held up by the waiting OUTs. */
    ck_assert_int_eq(tc_control(&c, 0x80, 0, 0, 0, 2, 2, buf, &n), 0);
    uint32_t i1 = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    expect_data(&c, i1, 0, 1, 10);
    expect_out(&c, o3, 0, 12); /* room for one: the oldest goes in */
    ck_assert_int_eq(tc_quiet(c.fd, 50), 1);
    uint32_t i2 = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    expect_data(&c, i2, 0, 2, 20);
    expect_out(&c, o4, 0, 12);
    uint32_t i3 = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    uint32_t i4 = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    expect_data(&c, i3, 0, 3, 30);
    expect_data(&c, i4, 0, 4, 40);
    /* The unlinked OUT never reached the device. */
    uint32_t i5 = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 512, NULL, NULL);
    ck_assert_int_eq(tc_quiet(c.fd, 50), 1);
    tc_unlink(&c, i5);
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_UNLINK);
    ck_assert_int_eq(h.u.ret_unlink.status, PROTO_USBIP_ECONNRESET);
    /* Closing with NAKed OUTs waiting frees them (ASan checks). */
    script(&c, FAKE_DATA, 0, 6, 10, 0);
    script(&c, FAKE_DATA, 0, 7, 10, 0);
    tc_submit(&c, 1, PROTO_USBIP_DIR_OUT, 0, 12, NULL, rec);
    ck_assert_int_eq(tc_quiet(c.fd, 50), 1);
    tc_close(&c);
}
END_TEST

START_TEST(unlink_pending_and_completed)
{
    tc c;
    import_ok(&c, "1-1");
    uint32_t pend = tc_submit(&c, 1, 1, 0, 4096, NULL, NULL);
    ck_assert_int_eq(tc_quiet(c.fd, 50), 1); /* no data: stays pending */
    uint32_t un = tc_unlink(&c, pend);
    proto_usbip_urb_hdr h;
    size_t n;
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_UNLINK);
    ck_assert_uint_eq(h.seqnum, un);
    ck_assert_int_eq(h.u.ret_unlink.status, PROTO_USBIP_ECONNRESET);
    /* Data that arrives now must not complete the unlinked URB. */
    script(&c, FAKE_DATA, 0, 5, 100, 0);
    ck_assert_int_eq(tc_quiet(c.fd, 50), 1);
    uint32_t done = tc_submit(&c, 1, 1, 0, 4096, NULL, NULL);
    expect_data(&c, done, 0, 5, 100);
    un = tc_unlink(&c, done);
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.command, PROTO_USBIP_RET_UNLINK);
    ck_assert_uint_eq(h.seqnum, un);
    ck_assert_int_eq(h.u.ret_unlink.status, 0);
    /* Unlink of a completed control transfer, too. */
    ck_assert_int_eq(tc_control(&c, 0x80, 0, 0, 0, 2, 2, buf, &n), 0);
    un = tc_unlink(&c, c.next_seq - 3);
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &n), 0);
    ck_assert_int_eq(h.u.ret_unlink.status, 0);
    tc_close(&c);
}
END_TEST

START_TEST(stall_then_clear_halt)
{
    tc c;
    import_ok(&c, "1-1");
    size_t n;
    script(&c, FAKE_STALL, 0, 0, 0, 0);
    script(&c, FAKE_DATA, 0, 9, 64, 0);
    uint32_t a = tc_submit(&c, 1, 1, 0, 512, NULL, NULL);
    expect_data(&c, a, PROTO_USBIP_EPIPE, 0, 0);
    /* Halted: further URBs fail until the halt is cleared. */
    uint32_t b = tc_submit(&c, 1, 1, 0, 512, NULL, NULL);
    expect_data(&c, b, PROTO_USBIP_EPIPE, 0, 0);
    ck_assert_int_eq(tc_control(&c, 0x82, 0, 0, 0x81, 2, 2, buf, &n), 0);
    ck_assert_uint_eq(buf[0], 1);
    ck_assert_int_eq(tc_control(&c, 0x02, 1, 0, 0x81, 0, 0, buf, &n), 0);
    ck_assert_int_eq(tc_control(&c, 0x82, 0, 0, 0x81, 2, 2, buf, &n), 0);
    ck_assert_uint_eq(buf[0], 0);
    uint32_t d = tc_submit(&c, 1, 1, 0, 512, NULL, NULL);
    expect_data(&c, d, 0, 9, 64);
    /* SET_FEATURE(ENDPOINT_HALT) halts from the host side, too. */
    ck_assert_int_eq(tc_control(&c, 0x02, 3, 0, 0x01, 0, 0, buf, &n), 0);
    uint8_t rec[12];
    fake_record(rec, FAKE_DATA, 0, 1, 1, 0);
    uint32_t o = tc_submit(&c, 1, 0, 0, 12, NULL, rec);
    proto_usbip_urb_hdr h;
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.seqnum, o);
    ck_assert_int_eq(h.u.ret_submit.status, PROTO_USBIP_EPIPE);
    ck_assert_int_eq(tc_control(&c, 0x02, 1, 0, 0x01, 0, 0, buf, &n), 0);
    script(&c, FAKE_DATA, 0, 3, 3, 0);
    tc_close(&c);
}
END_TEST

START_TEST(short_reads_and_overflow)
{
    tc c;
    import_ok(&c, "1-1");
    script(&c, FAKE_DATA, 0, 1, 100, 0);
    script(&c, FAKE_DATA, 0, 2, 100, 0);
    script(&c, FAKE_DATA, 0, 3, 100, 0);
    script(&c, FAKE_DATA, 0, 4, 100, 0);
    /* short read, allowed */
    uint32_t a = tc_submit(&c, 1, 1, 0, 512, NULL, NULL);
    expect_data(&c, a, 0, 1, 100);
    /* short read with SHORT_NOT_OK: -EREMOTEIO, data delivered */
    uint32_t b = tc_submit(&c, 1, 1, PROTO_URB_SHORT_NOT_OK, 512, NULL, NULL);
    expect_data(&c, b, PROTO_USBIP_EREMOTEIO, 2, 100);
    /* exact size with SHORT_NOT_OK is fine */
    uint32_t d = tc_submit(&c, 1, 1, PROTO_URB_SHORT_NOT_OK, 100, NULL, NULL);
    expect_data(&c, d, 0, 3, 100);
    /* URB smaller than the message: -EOVERFLOW, nothing sent, message lost */
    uint32_t e = tc_submit(&c, 1, 1, 0, 50, NULL, NULL);
    expect_data(&c, e, PROTO_USBIP_EOVERFLOW, 0, 0);
    uint32_t f = tc_submit(&c, 1, 1, 0, 512, NULL, NULL);
    ck_assert_int_eq(tc_quiet(c.fd, 50), 1);
    tc_unlink(&c, f);
    tc_close(&c);
}
END_TEST

START_TEST(fifo_per_endpoint)
{
    tc c;
    import_ok(&c, "1-1");
    uint32_t in[5], ev[2];
    for (int i = 0; i < 5; i++)
        in[i] = tc_submit(&c, 1, 1, 0, 4096, NULL, NULL);
    for (int i = 0; i < 2; i++)
        ev[i] = tc_submit(&c, 2, 1, 0, 16, NULL, NULL);
    /* Interrupt first, then the bulk messages: completions follow each
     * endpoint's submission order, independently. */
    script(&c, FAKE_DATA, 1, 100, 16, 0);
    expect_data(&c, ev[0], 0, 100, 16);
    uint8_t recs[5 * 12];
    for (int i = 0; i < 5; i++)
        fake_record(recs + 12 * i, FAKE_DATA, 0, (uint8_t)(10 + i), (uint32_t)(200 + i), 0);
    uint32_t o = tc_submit(&c, 1, 0, 0, sizeof recs, NULL, recs);
    proto_usbip_urb_hdr h;
    size_t n;
    ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(h.seqnum, o); /* the OUT completes first, then the queue */
    for (int i = 0; i < 5; i++)
        expect_data(&c, in[i], 0, (uint8_t)(10 + i), (size_t)(200 + i));
    script(&c, FAKE_DATA, 1, 101, 16, 0);
    expect_data(&c, ev[1], 0, 101, 16);
    tc_close(&c);
}
END_TEST

START_TEST(ep0_not_blocked_by_waiting_in)
{
    tc c;
    import_ok(&c, "1-1");
    uint32_t b = tc_submit(&c, 1, 1, 0, 4096, NULL, NULL);
    uint32_t i = tc_submit(&c, 2, 1, 0, 16, NULL, NULL);
    size_t n;
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 18, 18, buf, &n), 0);
    ck_assert_uint_eq(n, 18);
    ck_assert_int_eq(tc_control(&c, 0x80, 0, 0, 0, 2, 2, buf, &n), 0);
    (void)b;
    (void)i;
    tc_close(&c);
}
END_TEST

START_TEST(band_not_before_deadline)
{
    tc c;
    import_ok(&c, "1-1");
    uint32_t a = tc_submit(&c, 1, 1, 0, 65536, NULL, NULL);
    uint64_t t0 = emu_now_ns();
    script(&c, FAKE_DATA, 0, 7, 65536, 30000); /* 30 ms after scripting */
    expect_data(&c, a, 0, 7, 65536);
    ck_assert_uint_ge(emu_now_ns() - t0, 30000000ull);
    tc_close(&c);
}
END_TEST

START_TEST(large_in_urb)
{
    tc c;
    import_ok(&c, "1-1");
    uint32_t a = tc_submit(&c, 1, 1, 0, 1 << 20, NULL, NULL);
    script(&c, FAKE_DATA, 0, 42, 1 << 20, 0);
    expect_data(&c, a, 0, 42, 1 << 20);
    tc_close(&c);
}
END_TEST

START_TEST(many_outstanding)
{
    tc c;
    import_ok(&c, "1-1");
    enum { N = 1000 };
    static uint32_t seq[N];
    for (int i = 0; i < N; i++)
        seq[i] = tc_submit(&c, 1, 1, 0, 64, NULL, NULL);
    /* one OUT carrying N records */
    static uint8_t recs[N * 12];
    for (int i = 0; i < N; i++)
        fake_record(recs + 12 * i, FAKE_DATA, 0, (uint8_t)i, 8, 0);
    uint32_t o = tc_submit(&c, 1, 0, 0, sizeof recs, NULL, recs);
    int got = 0, saw_out = 0;
    while (got < N || !saw_out) {
        proto_usbip_urb_hdr h;
        size_t n;
        ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &n), 0);
        if (h.seqnum == o) {
            saw_out = 1;
            continue;
        }
        ck_assert_uint_eq(h.seqnum, seq[got]);
        ck_assert_uint_eq(n, 8);
        ck_assert_uint_eq(buf[0], (uint8_t)got);
        got++;
    }
    tc_close(&c);
}
END_TEST

START_TEST(disconnect_closes_and_resets)
{
    tc c;
    import_ok(&c, "1-1");
    tc_submit(&c, 1, 1, 0, 512, NULL, NULL);
    uint8_t rec[12];
    fake_record(rec, FAKE_DISCONNECT, 0, 0, 0, 0);
    tc_submit(&c, 1, 0, 0, 12, NULL, rec);
    ck_assert_int_eq(tc_wait_closed(c.fd), 1);
    tc_close(&c);
    import_ok(&c, "1-1");
    size_t n;
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 18, 18, buf, &n), 0);
    /* The unplug was consumed (a device model traces it), then the reset. */
    ck_assert_int_eq(fakes[0].unplugs, 1);
    ck_assert_int_eq(fakes[0].resets, 1);
    tc_close(&c);
}
END_TEST

/* A client of 1-1 that never reads does not hold up 1-2. */
START_TEST(stuck_client_isolated)
{
    tc a, b;
    import_ok(&a, "1-1");
    import_ok(&b, "1-2");
    static uint8_t recs[64 * 12];
    for (int i = 0; i < 64; i++) {
        tc_submit(&a, 1, 1, 0, 1 << 20, NULL, NULL);
        fake_record(recs + 12 * i, FAKE_DATA, 0, 1, 1 << 20, 0);
    }
    tc_submit(&a, 1, 0, 0, sizeof recs, NULL, recs); /* 64 MiB the client never reads */
    for (int k = 0; k < 20; k++) {
        uint32_t s = tc_submit(&b, 1, 1, 0, 4096, NULL, NULL);
        script(&b, FAKE_DATA, 0, (uint8_t)k, 4096, 1000);
        expect_data(&b, s, 0, (uint8_t)k, 4096);
    }
    /* 1-1 still answers ep0 once its client reads again: drain and check. */
    tc_close(&a);
    tc_close(&b);
}
END_TEST

/* ---- malformed input ------------------------------------------------------------------- */

static void raw_urb(uint8_t out[48], uint32_t cmd, uint32_t seq, uint32_t devid, uint32_t dir,
                    uint32_t ep, uint32_t f5, uint32_t f6)
{
    memset(out, 0, 48);
    proto_put_be32(out, cmd);
    proto_put_be32(out + 4, seq);
    proto_put_be32(out + 8, devid);
    proto_put_be32(out + 12, dir);
    proto_put_be32(out + 16, ep);
    proto_put_be32(out + 20, f5);
    proto_put_be32(out + 24, f6);
}

/* A session on 1-2 that must keep working through every bad connection. */
static void check_other_device(tc *b, int k)
{
    uint32_t s = tc_submit(b, 1, 1, 0, 4096, NULL, NULL);
    script(b, FAKE_DATA, 0, (uint8_t)k, 1000, 0);
    expect_data(b, s, 0, (uint8_t)k, 1000);
}

static void normal_session_works(void)
{
    tc c;
    import_ok(&c, "1-1");
    size_t n;
    ck_assert_int_eq(tc_control(&c, 0x80, 6, 0x0100, 0, 18, 18, buf, &n), 0);
    uint32_t s = tc_submit(&c, 1, 1, 0, 512, NULL, NULL);
    script(&c, FAKE_DATA, 0, 77, 300, 0);
    expect_data(&c, s, 0, 77, 300);
    tc_close(&c);
}

START_TEST(malformed_op_phase)
{
    tc b;
    import_ok(&b, "1-2");
    static const uint8_t bad_version[8] = {0x01, 0x06, 0x80, 0x05, 0, 0, 0, 0};
    static const uint8_t bad_code[8] = {0x01, 0x11, 0x80, 0x09, 0, 0, 0, 0};
    static const uint8_t rep_code[8] = {0x01, 0x11, 0x00, 0x05, 0, 0, 0, 0};
    static const uint8_t truncated[4] = {0x01, 0x11, 0x80, 0x03};
    uint8_t unterminated[40] = {0x01, 0x11, 0x80, 0x03, 0, 0, 0, 0};
    memset(unterminated + 8, 'A', 32);
    uint8_t cmd_first[48];
    raw_urb(cmd_first, 1, 1, 0x10001, 1, 1, 0, 512);
    struct {
        const uint8_t *p;
        size_t n;
        int vanish;
    } cases[] = {
        {bad_version, 8, 0},   {bad_code, 8, 0},   {rep_code, 8, 0},      {truncated, 4, 1},
        {unterminated, 40, 0}, {cmd_first, 48, 0}, {unterminated, 20, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = tc_connect(port);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(tc_send_raw(fd, cases[i].p, cases[i].n), 0);
        if (cases[i].vanish)
            shutdown(fd, SHUT_WR);
        ck_assert_msg(tc_wait_closed(fd) == 1, "case %zu: connection not closed", i);
        close(fd);
        check_other_device(&b, (int)i);
    }
    normal_session_works();
    tc_close(&b);
}
END_TEST

START_TEST(malformed_urb_phase)
{
    tc b;
    import_ok(&b, "1-2");
    const uint32_t dev = 0x10001;
    uint8_t m[16][48];
    size_t len[16];
    int vanish[16] = {0};
    int k = 0;
    raw_urb(m[k], 5, 1, dev, 0, 0, 0, 0), len[k++] = 48;           /* unknown command */
    raw_urb(m[k], 3, 1, dev, 0, 0, 0, 0), len[k++] = 48;           /* RET_SUBMIT from client */
    raw_urb(m[k], 1, 1, dev, 1, 1, 0, 0x7fffffff), len[k++] = 48;  /* absurd length */
    raw_urb(m[k], 1, 1, dev, 0, 1, 0, 0xfffffff0u), len[k++] = 48; /* negative length */
    raw_urb(m[k], 1, 1, dev, 1, 1, 0, 512);
    proto_put_be32(m[k] + 32, 5000), len[k++] = 48; /* absurd packets */
    raw_urb(m[k], 1, 1, dev, 1, 1, 0, 512);
    proto_put_be32(m[k] + 32, 4), len[k++] = 48;                           /* iso on bulk */
    raw_urb(m[k], 1, 1, dev, 1, 3, 0, 512), len[k++] = 48;                 /* unknown endpoint */
    raw_urb(m[k], 1, 1, dev, 0, 2, 0, 0), len[k++] = 48;                   /* ep 2 OUT */
    raw_urb(m[k], 1, 1, dev, 1, 16, 0, 0), len[k++] = 48;                  /* ep > 15 */
    raw_urb(m[k], 1, 1, dev, 2, 1, 0, 0), len[k++] = 48;                   /* bad direction */
    raw_urb(m[k], 1, 1, 0x10002, 1, 1, 0, 512), len[k++] = 48;             /* devid mismatch */
    raw_urb(m[k], 2, 7, dev, 0, 0, 12345, 0), len[k++] = 48;               /* unlink unknown */
    raw_urb(m[k], 1, 1, dev, 1, 1, 0, 512), len[k] = 30, vanish[k++] = 1;  /* truncated header */
    raw_urb(m[k], 1, 1, dev, 0, 1, 0, 1000), len[k] = 48, vanish[k++] = 1; /* vanish mid-OUT */
    for (int i = 0; i < k; i++) {
        tc c;
        import_ok(&c, "1-1");
        ck_assert_int_eq(tc_send_raw(c.fd, m[i], len[i]), 0);
        if (vanish[i]) {
            if (len[i] == 48)
                tc_send_raw(c.fd, m[i], 10); /* part of the OUT payload */
            shutdown(c.fd, SHUT_WR);
        }
        ck_assert_msg(tc_wait_closed(c.fd) == 1, "case %d: connection not closed", i);
        tc_close(&c);
        check_other_device(&b, i);
    }
    normal_session_works();
    tc_close(&b);
}
END_TEST

/* ---- connection slots ---------------------------------------------------------------- */

/* The emulator's error table: every code has its own name and message, from
 * the one X-macro; unknown codes get a generic text. */
START_TEST(error_table)
{
    static const int codes[] = {
#define EMU_TEST_CODE_(name, value, msg) EMU_E_##name,
        EMU_ERRNO_MAP(EMU_TEST_CODE_)
#undef EMU_TEST_CODE_
    };
    size_t n = sizeof codes / sizeof codes[0];
    ck_assert_str_eq(emu_err_name(EMU_OK), "EMU_OK");
    ck_assert_str_eq(emu_err_name(EMU_E_TRACE), "EMU_E_TRACE");
    ck_assert_str_eq(emu_strerror(EMU_E_NOMEM), "out of memory");
    ck_assert_str_eq(emu_err_name(-999), "EMU_E_UNKNOWN");
    ck_assert_str_eq(emu_strerror(-999), "unknown emulator error");
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_lt(codes[i], 0);
        ck_assert_str_ne(emu_strerror(codes[i]), "unknown emulator error");
        ck_assert_str_ne(emu_err_name(codes[i]), "EMU_E_UNKNOWN");
        for (size_t k = 0; k < i; k++) {
            ck_assert_int_ne(codes[i], codes[k]);
            ck_assert_str_ne(emu_err_name(codes[i]), emu_err_name(codes[k]));
        }
    }
}
END_TEST

/* The admission policy on virtual time: no sockets, no clock. */
START_TEST(admit_policy)
{
    emu_admit a;
    emu_admit_limits bad = {0, 100};
    ck_assert_int_eq(emu_admit_init(&a, &bad), EMU_E_INVALID);
    bad = (emu_admit_limits){EMU_ADMIT_MAX_SLOTS + 1, 100};
    ck_assert_int_eq(emu_admit_init(&a, &bad), EMU_E_INVALID);
    bad = (emu_admit_limits){4, 0};
    ck_assert_int_eq(emu_admit_init(&a, &bad), EMU_E_INVALID);
    emu_admit_limits lim = {3, 100};
    ck_assert_int_eq(emu_admit_init(&a, &lim), EMU_OK);
    const uint64_t ms = 1000000;
    int victim;
    ck_assert_uint_eq(emu_admit_next_deadline(&a), UINT64_MAX);
    ck_assert_int_eq(emu_admit_take(&a, 10 * ms, &victim), 0);
    ck_assert_int_eq(emu_admit_take(&a, 20 * ms, &victim), 1);
    ck_assert_int_eq(emu_admit_take(&a, 30 * ms, &victim), 2);
    ck_assert_uint_eq(emu_admit_next_deadline(&a), 110 * ms);
    /* Full: the oldest WAITING is the victim, and nothing changes until it
     * is released. */
    ck_assert_int_eq(emu_admit_take(&a, 40 * ms, &victim), -1);
    ck_assert_int_eq(victim, 0);
    ck_assert_int_eq(emu_admit_take(&a, 40 * ms, &victim), -1);
    ck_assert_int_eq(victim, 0);
    /* A WAITING connection is evicted before an older ANSWERING one. */
    emu_admit_set(&a, 0, EMU_ADMIT_ANSWERING, 45 * ms);
    ck_assert_int_eq(emu_admit_take(&a, 50 * ms, &victim), -1);
    ck_assert_int_eq(victim, 1);
    emu_admit_release(&a, 1);
    ck_assert_int_eq(emu_admit_take(&a, 50 * ms, &victim), 1);
    /* ANSWERING keeps the deadline it had: slot 0 expires at 110 ms. */
    ck_assert_int_eq(emu_admit_next_expired(&a, 109 * ms), -1);
    ck_assert_int_eq(emu_admit_next_expired(&a, 110 * ms), 0);
    ck_assert(emu_admit_expired(&a, 0, 110 * ms));
    ck_assert(!emu_admit_expired(&a, 1, 110 * ms));
    /* SERVING: no deadline, never evicted. WAITING restarts the clock. */
    emu_admit_set(&a, 0, EMU_ADMIT_SERVING, 60 * ms);
    emu_admit_set(&a, 2, EMU_ADMIT_SERVING, 60 * ms);
    ck_assert_int_eq(emu_admit_next_expired(&a, 1000 * ms), 1);
    ck_assert_int_eq(emu_admit_take(&a, 70 * ms, &victim), -1);
    ck_assert_int_eq(victim, 1);
    emu_admit_set(&a, 1, EMU_ADMIT_SERVING, 70 * ms);
    ck_assert_int_eq(emu_admit_take(&a, 80 * ms, &victim), -1);
    ck_assert_int_eq(victim, -1); /* all serving: refuse the newcomer */
    ck_assert_uint_eq(emu_admit_next_deadline(&a), UINT64_MAX);
    emu_admit_set(&a, 2, EMU_ADMIT_WAITING, 500 * ms);
    ck_assert_uint_eq(emu_admit_next_deadline(&a), 600 * ms);
    emu_admit_set(&a, 2, EMU_ADMIT_FREE, 0);
    emu_admit_release(&a, 2); /* twice is harmless */
    ck_assert_int_eq(emu_admit_take(&a, 90 * ms, &victim), 2);
    ck_assert_int_eq(emu_admit_take(&a, 90 * ms, &victim), -1);
    emu_admit_free(&a);
}
END_TEST

/* Waits (bounded by the socket's receive timeout) for the server to end
 * the connection: 1 for an orderly close (FIN), 0 for a reset, -1 if it
 * stays open. Data before the close is discarded. */
static int closed_cleanly(int fd)
{
    uint8_t b[4096];
    for (;;) {
        ssize_t r = recv(fd, b, sizeof b, 0);
        if (r == 0)
            return 1;
        if (r < 0)
            return errno == ECONNRESET ? 0 : -1;
    }
}

/* Reads the 8-byte operation reply the server sends a connection it drops
 * after its request header arrived, then expects the close. */
static void expect_st_na_then_close(int fd, uint16_t code)
{
    uint8_t b[8];
    proto_usbip_op_hdr h;
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = recv(fd, b + got, sizeof b - got, 0);
        ck_assert_msg(r > 0, "no operation reply before the close (%zd, %s)", r, strerror(errno));
        got += (size_t)r;
    }
    ck_assert_int_eq(proto_usbip_op_hdr_decode(b, sizeof b, &h), 8);
    ck_assert_uint_eq(h.code, code);
    ck_assert_int_eq(h.status, PROTO_USBIP_ST_NA);
    ck_assert_int_eq(closed_cleanly(fd), 1);
}

static char log_path[64];

static void open_log(void)
{
    snprintf(log_path, sizeof log_path, "/tmp/test_emu_usb_log.XXXXXX");
    int fd = mkstemp(log_path);
    ck_assert_int_ge(fd, 0);
    cfg_log = fdopen(fd, "w+");
    ck_assert_ptr_nonnull(cfg_log);
}

static void setup_slots(void)
{
    open_log();
    cfg_slots = 4;
    cfg_deadline_ms = 600000; /* never reached: only eviction makes room */
    setup_hs();
}

static void teardown_slots(void)
{
    teardown();
    fclose(cfg_log);
    unlink(log_path);
    cfg_log = NULL;
    cfg_slots = cfg_deadline_ms = 0;
}

/* The server's log so far (after teardown: all of it). */
static char *read_log(void)
{
    static char text[1 << 16];
    fflush(cfg_log);
    size_t n = (size_t)pread(fileno(cfg_log), text, sizeof text - 1, 0);
    text[n < sizeof text ? n : 0] = 0;
    return text;
}

/* 200 connections that say nothing, with 4 slots: a new client is served at
 * once (its request is read, the oldest silent connection makes room), and
 * the silent ones are closed in an orderly way. */
START_TEST(flood_of_idle_connections)
{
    enum { N = 200 };
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = tc_connect(port);
        ck_assert_int_ge(fds[i], 0);
    }
    proto_usbip_device d[2];
    proto_usbip_interface in[2];
    ck_assert_int_eq(tc_devlist(port, d, in, 2), 2);
    tc c;
    import_ok(&c, "1-1");
    tc_close(&c);
    /* The oldest were evicted (orderly FIN, no reset); the last three still
     * hold slots. */
    for (int i = 0; i < 10; i++)
        ck_assert_msg(closed_cleanly(fds[i]) == 1, "connection %d not closed cleanly", i);
    ck_assert_int_eq(tc_quiet(fds[N - 1], 50), 1);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    ck_assert_ptr_nonnull(strstr(read_log(), "all 4 operation-phase slots are taken"));
}
END_TEST

/* Slowloris: every slot held by a client that sends one byte now and then.
 * Each byte is progress, but a newcomer still evicts the oldest of them. */
START_TEST(slowloris_connections)
{
    enum { N = 4 };
    int fds[N];
    static const uint8_t req[8] = {0x01, 0x11, 0x80, 0x05, 0, 0, 0, 0};
    for (int i = 0; i < N; i++) {
        fds[i] = tc_connect(port);
        ck_assert_int_ge(fds[i], 0);
        ck_assert_int_eq(tc_send_raw(fds[i], req, 1), 0);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(tc_send_raw(fds[i], req + 1, 1), 0);
    proto_usbip_device d[2];
    proto_usbip_interface in[2];
    ck_assert_int_eq(tc_devlist(port, d, in, 2), 2);
    ck_assert_int_eq(closed_cleanly(fds[0]), 1); /* the oldest made room */
    ck_assert_int_eq(tc_quiet(fds[N - 1], 50), 1);
    /* Again, now that a slot is free and three are held. */
    ck_assert_int_eq(tc_devlist(port, d, in, 2), 2);
    for (int i = 0; i < N; i++)
        close(fds[i]);
}
END_TEST

/* An evicted client whose request header is in is told so in its own terms:
 * OP_REP_IMPORT with ST_NA (usbip prints "Request Failed"), then a close. */
START_TEST(evicted_import_told_st_na)
{
    int fds[4];
    static const uint8_t hdr[8] = {0x01, 0x11, 0x80, 0x03, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        fds[i] = tc_connect(port);
        ck_assert_int_ge(fds[i], 0);
    }
    ck_assert_int_eq(tc_send_raw(fds[0], hdr, sizeof hdr), 0); /* busid never follows */
    tc c;
    import_ok(&c, "1-2");
    expect_st_na_then_close(fds[0], PROTO_USBIP_OP_REP_IMPORT);
    tc_close(&c);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    ck_assert_ptr_nonnull(strstr(read_log(), "answered ST_NA"));
}
END_TEST

static void setup_short_deadline(void)
{
    open_log();
    cfg_slots = 4;
    cfg_deadline_ms = 1000;
    setup_hs();
}

/* The operation phase has a total deadline that a trickle of bytes does not
 * extend: an import whose busid comes one byte every 200 ms (6.4 s in all,
 * over 6 times the 1 s deadline; the test stops trickling when the server
 * answers) is never answered OK; the server drops it with ST_NA. A client
 * that says nothing is closed too. The deadline leaves a normal import,
 * which sends its request at once, a second of slack on a loaded machine. */
START_TEST(op_phase_total_deadline)
{
    int idle = tc_connect(port);
    ck_assert_int_ge(idle, 0);
    int fd = tc_connect(port);
    ck_assert_int_ge(fd, 0);
    uint8_t req[PROTO_USBIP_IMPORT_REQ_SIZE];
    proto_usbip_op_hdr h = {PROTO_USBIP_VERSION, PROTO_USBIP_OP_REQ_IMPORT, 0};
    proto_usbip_op_hdr_encode(&h, req, sizeof req);
    proto_usbip_busid_encode("1-1", req + 8, 32);
    ck_assert_int_eq(tc_send_raw(fd, req, 8), 0);
    for (size_t i = 8; i < sizeof req; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) != 0)
            break; /* the server answered or closed: stop trickling */
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
            break;
    }
    expect_st_na_then_close(fd, PROTO_USBIP_OP_REP_IMPORT);
    close(fd);
    ck_assert_int_eq(closed_cleanly(idle), 1);
    close(idle);
    /* Normal clients are unaffected. */
    tc c;
    import_ok(&c, "1-1");
    tc_close(&c);
    ck_assert_ptr_nonnull(strstr(read_log(), "within the 1000 ms operation-phase deadline"));
}
END_TEST

/* ---- trace attribution (real device model, real clock) ------------------------------ */

/* Integer value of "key": in a JSON line; 0 and *ok = 0 when absent or null. */
static long long json_ll(const char *line, const char *key, int *ok)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p || strncmp(p + strlen(pat), "null", 4) == 0) {
        *ok = 0;
        return 0;
    }
    return strtoll(p + strlen(pat), NULL, 10);
}

static void scan_command(tc *c, uint16_t op)
{
    proto_scan_cmd cmd = {op, 1, 0};
    uint8_t out[PROTO_SCAN_CMD_HDR_SIZE];
    int n = proto_scan_cmd_encode(&cmd, out, sizeof out);
    ck_assert_int_gt(n, 0);
    uint32_t seq = tc_submit(c, 1, PROTO_USBIP_DIR_OUT, 0, n, NULL, out);
    proto_usbip_urb_hdr h;
    size_t len;
    ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(h.seqnum, seq);
    ck_assert_int_eq(h.u.ret_submit.status, 0);
}

static void bulk_in_ok(tc *c)
{
    uint32_t seq = tc_submit(c, 1, PROTO_USBIP_DIR_IN, 0, 65536, NULL, NULL);
    proto_usbip_urb_hdr h;
    size_t len;
    ck_assert_int_eq(tc_recv(c, &h, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(h.seqnum, seq);
    ck_assert_int_eq(h.u.ret_submit.status, 0);
}

/* Band 0 of bench-2ms is due 2 ms after START_JOB and its URB is queued
 * before the job starts: the host had a transfer pending at the deadline, so all of its
 * lateness is the emulator's (emu_late_ns == late_ns). The URB for band 1
 * (due at 4 ms) is submitted only 40 ms after the job started: the band is
 * late because the host starved the device, urb_ns >= deadline_ns and
 * emu_late_ns < late_ns. */
START_TEST(trace_attributes_lateness)
{
    const char *src = getenv("SCANEMU_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    char profile[4096], trace_path[] = "/tmp/test_emu_trace_XXXXXX";
    snprintf(profile, sizeof profile, "%s/bench/fixtures/profiles/bench-2ms.yaml", src);
    int tfd = mkstemp(trace_path);
    ck_assert_int_ge(tfd, 0);
    close(tfd);
    const char *profiles[1] = {profile};
    emu_options o;
    emu_options_init(&o);
    o.listen_port = 0;
    o.log_level = EMU_LOG_WARN;
    o.profile_paths = profiles;
    o.n_devices = 1;
    o.trace_path = trace_path;
    char err[512];
    ck_assert_msg(emu_server_create(&o, &srv, err, sizeof err) == 0, "%s", err);
    port = emu_server_port(srv);
    ck_assert_int_eq(pthread_create(&srv_thread, NULL, run_server, srv), 0);

    tc c;
    import_ok(&c, "1-1");
    /* Two bulk IN URBs queued before the job starts: the START_JOB response
     * and band 0, so band 0's URB is pending at its deadline however slow
     * this machine is. */
    uint32_t rsp_seq = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 65536, NULL, NULL);
    uint32_t band0_seq = tc_submit(&c, 1, PROTO_USBIP_DIR_IN, 0, 65536, NULL, NULL);
    scan_command(&c, PROTO_SCAN_OP_START_JOB);
    struct timespec t0; /* after the job started */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint32_t seqs[2] = {rsp_seq, band0_seq};
    for (int i = 0; i < 2; i++) {
        proto_usbip_urb_hdr h;
        size_t len;
        ck_assert_int_eq(tc_recv(&c, &h, buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(h.seqnum, seqs[i]);
        ck_assert_int_eq(h.u.ret_submit.status, 0);
    }
    /* Let band 1's deadline (4 ms) pass by far before asking for it. */
    struct timespec until = t0;
    until.tv_nsec += 40000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) != 0)
        ;
    bulk_in_ok(&c); /* band 1 */
    scan_command(&c, PROTO_SCAN_OP_ABORT);
    tc_close(&c);
    emu_server_stop(srv);
    pthread_join(srv_thread, NULL);
    emu_server_free(srv); /* flushes the trace */
    srv = NULL;

    FILE *f = fopen(trace_path, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        int ok = 1;
        if (strstr(line, "\"kind\":\"job_end\"")) {
            /* The job's report: both bands, band 1 starved by the host. */
            ck_assert_int_eq(json_ll(line, "bands", &ok), 2);
            ck_assert_int_eq(json_ll(line, "starved", &ok), 1);
            ck_assert_msg(ok && strstr(line, "\"result\":\"canceled\""), "%s", line);
            seen |= 4;
            continue;
        }
        if (strstr(line, "\"kind\":"))
            continue; /* other reports (device_end) */
        long long band = json_ll(line, "band", &ok);
        long long page = json_ll(line, "page", &ok);
        long long dl = json_ll(line, "deadline_ns", &ok);
        long long late = json_ll(line, "late_ns", &ok);
        long long urb = json_ll(line, "urb_ns", &ok);
        long long emu_late = json_ll(line, "emu_late_ns", &ok);
        if (page != 0 || band > 1)
            continue;
        ck_assert_msg(ok, "a field is missing or null: %s", line);
        ck_assert_int_ge(late, 0);
        if (band == 0) {
            ck_assert_msg(urb < dl, "band 0's URB was queued before its deadline: %s", line);
            ck_assert_msg(emu_late == late, "%s", line);
        } else {
            ck_assert_msg(urb >= dl, "band 1's URB came after its deadline: %s", line);
            ck_assert_msg(late >= 36000000, "band 1 is >= 36 ms late: %s", line);
            ck_assert_msg(emu_late >= 0 && emu_late < late, "%s", line);
        }
        seen |= 1 << band;
    }
    fclose(f);
    unlink(trace_path);
    ck_assert_int_eq(seen, 7);
}
END_TEST

static Suite *emu_suite(void)
{
    Suite *s = suite_create("emu_usb");
    TCase *op = tcase_create("op");
    tcase_add_checked_fixture(op, setup_hs, teardown);
    tcase_add_test(op, devlist_lists_both);
    tcase_add_test(op, import_nodev_busy_and_again);
    tcase_add_test(op, import_right_after_close);
    suite_add_tcase(s, op);

    TCase *usb = tcase_create("usb");
    tcase_add_checked_fixture(usb, setup_hs, teardown);
    tcase_add_test(usb, linux_enumeration_sequence);
    tcase_add_test(usb, in_replies_clamped);
    tcase_add_test(usb, short_not_ok_on_ep0);
    tcase_add_test(usb, superspeed_bos_and_companions);
    suite_add_tcase(s, usb);

    TCase *urb = tcase_create("urb");
    tcase_add_checked_fixture(urb, setup_hs, teardown);
    tcase_set_timeout(urb, 30);
    tcase_add_test(urb, unconfigured_endpoints_refused);
    tcase_add_test(urb, nak_out_until_in_drains);
    tcase_add_test(urb, unlink_pending_and_completed);
    tcase_add_test(urb, stall_then_clear_halt);
    tcase_add_test(urb, short_reads_and_overflow);
    tcase_add_test(urb, fifo_per_endpoint);
    tcase_add_test(urb, ep0_not_blocked_by_waiting_in);
    tcase_add_test(urb, band_not_before_deadline);
    tcase_add_test(urb, large_in_urb);
    tcase_add_test(urb, many_outstanding);
    tcase_add_test(urb, disconnect_closes_and_resets);
    tcase_add_test(urb, stuck_client_isolated);
    suite_add_tcase(s, urb);

    TCase *bad = tcase_create("malformed");
    tcase_add_checked_fixture(bad, setup_hs, teardown);
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, malformed_op_phase);
    tcase_add_test(bad, malformed_urb_phase);
    suite_add_tcase(s, bad);

    TCase *adm = tcase_create("admit");
    tcase_add_test(adm, admit_policy);
    tcase_add_test(adm, error_table);
    suite_add_tcase(s, adm);

    TCase *slots = tcase_create("slots");
    tcase_add_checked_fixture(slots, setup_slots, teardown_slots);
    tcase_set_timeout(slots, 60);
    tcase_add_test(slots, flood_of_idle_connections);
    tcase_add_test(slots, slowloris_connections);
    tcase_add_test(slots, evicted_import_told_st_na);
    suite_add_tcase(s, slots);

    TCase *dl = tcase_create("deadline");
    tcase_add_checked_fixture(dl, setup_short_deadline, teardown_slots);
    tcase_set_timeout(dl, 60);
    tcase_add_test(dl, op_phase_total_deadline);
    suite_add_tcase(s, dl);

    TCase *tr = tcase_create("trace");
    tcase_set_timeout(tr, 30);
    tcase_add_test(tr, trace_attributes_lateness);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(emu_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
