/* Check suite for the USB/IP codec: every message, both directions,
 * round trip, truncation and the bounds the decoders enforce. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/usbip.h"

/* ---- operation header ---------------------------------------------------- */

static const uint16_t op_codes[] = {PROTO_USBIP_OP_REQ_DEVLIST, PROTO_USBIP_OP_REP_DEVLIST,
                                    PROTO_USBIP_OP_REQ_IMPORT, PROTO_USBIP_OP_REP_IMPORT};

START_TEST(op_hdr_roundtrip)
{
    uint16_t code = op_codes[_i];
    proto_usbip_op_hdr h = {.version = PROTO_USBIP_VERSION, .code = code, .status = -7};
    uint8_t buf[PROTO_USBIP_OP_HDR_SIZE];
    ck_assert_int_eq(proto_usbip_op_hdr_encode(&h, buf, sizeof buf), 8);
    ck_assert_uint_eq(buf[0], 0x01);
    ck_assert_uint_eq(buf[1], 0x11);
    ck_assert_uint_eq(buf[2], code >> 8);
    ck_assert_uint_eq(buf[3], code & 0xff);
    ck_assert_uint_eq(buf[4], 0xff); /* big-endian signed status */
    ck_assert_uint_eq(buf[7], 0xf9);
    proto_usbip_op_hdr d;
    ck_assert_int_eq(proto_usbip_op_hdr_decode(buf, sizeof buf, &d), 8);
    ck_assert_uint_eq(d.version, PROTO_USBIP_VERSION);
    ck_assert_uint_eq(d.code, code);
    ck_assert_int_eq(d.status, -7);
    for (size_t n = 0; n < sizeof buf; n++) {
        ck_assert_int_eq(proto_usbip_op_hdr_decode(buf, n, &d), PROTO_E_TRUNCATED);
        ck_assert_int_eq(proto_usbip_op_hdr_encode(&h, buf, n), PROTO_E_NOSPACE);
    }
}
END_TEST

START_TEST(op_hdr_bad_version_and_code)
{
    uint8_t buf[8] = {0x01, 0x06, 0x80, 0x05, 0, 0, 0, 0};
    proto_usbip_op_hdr d;
    ck_assert_int_eq(proto_usbip_op_hdr_decode(buf, 8, &d), PROTO_E_BAD_VERSION);
    uint8_t buf2[8] = {0x01, 0x11, 0x80, 0x07, 0, 0, 0, 0};
    ck_assert_int_eq(proto_usbip_op_hdr_decode(buf2, 8, &d), PROTO_E_BAD_CODE);
    uint8_t buf3[8] = {0x01, 0x11, 0x00, 0x00, 0, 0, 0, 0};
    ck_assert_int_eq(proto_usbip_op_hdr_decode(buf3, 8, &d), PROTO_E_BAD_CODE);
}
END_TEST

/* ---- busid, device count ----------------------------------------------- */

START_TEST(busid_roundtrip)
{
    uint8_t buf[PROTO_USBIP_BUSID_SIZE];
    memset(buf, 0xaa, sizeof buf);
    ck_assert_int_eq(proto_usbip_busid_encode("1-2", buf, sizeof buf), 32);
    ck_assert_mem_eq(buf, "1-2\0\0\0", 6);
    for (size_t i = 3; i < 32; i++)
        ck_assert_uint_eq(buf[i], 0);
    char out[PROTO_USBIP_BUSID_SIZE];
    ck_assert_int_eq(proto_usbip_busid_decode(buf, sizeof buf, out), 32);
    ck_assert_str_eq(out, "1-2");
    for (size_t n = 0; n < sizeof buf; n++) {
        ck_assert_int_eq(proto_usbip_busid_decode(buf, n, out), PROTO_E_TRUNCATED);
        ck_assert_int_eq(proto_usbip_busid_encode("1-2", buf, n), PROTO_E_NOSPACE);
    }
}
END_TEST

START_TEST(busid_rejects_bad)
{
    uint8_t buf[PROTO_USBIP_BUSID_SIZE];
    char out[PROTO_USBIP_BUSID_SIZE];
    memset(buf, 'x', sizeof buf); /* unterminated */
    ck_assert_int_eq(proto_usbip_busid_decode(buf, sizeof buf, out), PROTO_E_BAD_FIELD);
    memset(buf, 0, sizeof buf); /* empty */
    ck_assert_int_eq(proto_usbip_busid_decode(buf, sizeof buf, out), PROTO_E_BAD_FIELD);
    char longid[40];
    memset(longid, 'y', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    ck_assert_int_eq(proto_usbip_busid_encode(longid, buf, sizeof buf), PROTO_E_BAD_FIELD);
    ck_assert_int_eq(proto_usbip_busid_encode("", buf, sizeof buf), PROTO_E_BAD_FIELD);
}
END_TEST

START_TEST(devcount_roundtrip_and_bounds)
{
    uint8_t buf[4];
    uint32_t n = 0;
    ck_assert_int_eq(proto_usbip_devcount_encode(2, buf, 4), 4);
    ck_assert_mem_eq(buf, "\0\0\0\2", 4);
    ck_assert_int_eq(proto_usbip_devcount_decode(buf, 4, &n), 4);
    ck_assert_uint_eq(n, 2);
    for (size_t k = 0; k < 4; k++)
        ck_assert_int_eq(proto_usbip_devcount_decode(buf, k, &n), PROTO_E_TRUNCATED);
    ck_assert_int_eq(proto_usbip_devcount_encode(PROTO_USBIP_MAX_DEVICES + 1, buf, 4),
                     PROTO_E_BAD_LENGTH);
    proto_put_be32(buf, 0xffffffffu);
    ck_assert_int_eq(proto_usbip_devcount_decode(buf, 4, &n), PROTO_E_BAD_LENGTH);
}
END_TEST

/* ---- device and interface records ---------------------------------------- */

static void sample_device(proto_usbip_device *d)
{
    memset(d, 0, sizeof(*d));
    strcpy(d->path, "/sys/devices/pci0000:00/0000:00:01.2/usb1/1-1");
    strcpy(d->busid, "1-1");
    d->busnum = 1;
    d->devnum = 1;
    d->speed = PROTO_USBIP_SPEED_HIGH;
    d->idVendor = 0x1209;
    d->idProduct = 0x0001;
    d->bcdDevice = 0x0100;
    d->bDeviceClass = 0;
    d->bDeviceSubClass = 0;
    d->bDeviceProtocol = 0;
    d->bConfigurationValue = 1;
    d->bNumConfigurations = 1;
    d->bNumInterfaces = 1;
}

START_TEST(device_roundtrip)
{
    proto_usbip_device d, e;
    sample_device(&d);
    uint8_t buf[PROTO_USBIP_DEVICE_SIZE];
    ck_assert_int_eq(proto_usbip_device_encode(&d, buf, sizeof buf), 312);
    /* Spot-check the layout: busid at 256, busnum at 288, ids at 300. */
    ck_assert_str_eq((const char *)buf + 256, "1-1");
    ck_assert_uint_eq(proto_get_be32(buf + 288), 1);
    ck_assert_uint_eq(proto_get_be32(buf + 296), 3);
    ck_assert_uint_eq(proto_get_be16(buf + 300), 0x1209);
    ck_assert_uint_eq(proto_get_be16(buf + 302), 0x0001);
    ck_assert_uint_eq(buf[309], 1);
    ck_assert_uint_eq(buf[311], 1);
    ck_assert_int_eq(proto_usbip_device_decode(buf, sizeof buf, &e), 312);
    ck_assert_str_eq(e.path, d.path);
    ck_assert_str_eq(e.busid, d.busid);
    ck_assert_uint_eq(e.busnum, 1);
    ck_assert_uint_eq(e.devnum, 1);
    ck_assert_uint_eq(e.speed, 3);
    ck_assert_uint_eq(e.idVendor, 0x1209);
    ck_assert_uint_eq(e.idProduct, 1);
    ck_assert_uint_eq(e.bcdDevice, 0x100);
    ck_assert_uint_eq(e.bConfigurationValue, 1);
    ck_assert_uint_eq(e.bNumConfigurations, 1);
    ck_assert_uint_eq(e.bNumInterfaces, 1);
    for (size_t n = 0; n < sizeof buf; n += 7) {
        ck_assert_int_eq(proto_usbip_device_decode(buf, n, &e), PROTO_E_TRUNCATED);
        ck_assert_int_eq(proto_usbip_device_encode(&d, buf, n), PROTO_E_NOSPACE);
    }
    ck_assert_int_eq(proto_usbip_device_decode(buf, 311, &e), PROTO_E_TRUNCATED);
}
END_TEST

START_TEST(device_rejects_bad)
{
    proto_usbip_device d, e;
    sample_device(&d);
    uint8_t buf[PROTO_USBIP_DEVICE_SIZE];
    ck_assert_int_eq(proto_usbip_device_encode(&d, buf, sizeof buf), 312);
    uint8_t bad[PROTO_USBIP_DEVICE_SIZE];
    memcpy(bad, buf, sizeof bad);
    memset(bad, 'p', 256); /* unterminated path */
    ck_assert_int_eq(proto_usbip_device_decode(bad, sizeof bad, &e), PROTO_E_BAD_FIELD);
    memcpy(bad, buf, sizeof bad);
    memset(bad + 256, 'b', 32); /* unterminated busid */
    ck_assert_int_eq(proto_usbip_device_decode(bad, sizeof bad, &e), PROTO_E_BAD_FIELD);
    memcpy(bad, buf, sizeof bad);
    bad[311] = PROTO_USBIP_MAX_INTERFACES + 1;
    ck_assert_int_eq(proto_usbip_device_decode(bad, sizeof bad, &e), PROTO_E_BAD_LENGTH);
    memset(d.busid, 'z', sizeof d.busid); /* unterminated on encode */
    ck_assert_int_eq(proto_usbip_device_encode(&d, buf, sizeof buf), PROTO_E_BAD_FIELD);
}
END_TEST

START_TEST(interface_roundtrip)
{
    proto_usbip_interface i = {0xff, 0x01, 0x02}, o;
    uint8_t buf[4] = {9, 9, 9, 9};
    ck_assert_int_eq(proto_usbip_interface_encode(&i, buf, 4), 4);
    ck_assert_mem_eq(buf, "\xff\x01\x02\x00", 4);
    ck_assert_int_eq(proto_usbip_interface_decode(buf, 4, &o), 4);
    ck_assert_uint_eq(o.bInterfaceClass, 0xff);
    ck_assert_uint_eq(o.bInterfaceSubClass, 1);
    ck_assert_uint_eq(o.bInterfaceProtocol, 2);
    for (size_t n = 0; n < 4; n++) {
        ck_assert_int_eq(proto_usbip_interface_decode(buf, n, &o), PROTO_E_TRUNCATED);
        ck_assert_int_eq(proto_usbip_interface_encode(&i, buf, n), PROTO_E_NOSPACE);
    }
}
END_TEST

/* ---- URB headers --------------------------------------------------------- */

static void sample_urb(uint32_t command, proto_usbip_urb_hdr *h)
{
    memset(h, 0, sizeof(*h));
    h->command = command;
    h->seqnum = 0x01020304;
    h->devid = proto_usbip_devid(1, 2);
    h->direction = PROTO_USBIP_DIR_IN;
    h->ep = 1;
    switch (command) {
    case PROTO_USBIP_CMD_SUBMIT:
        h->u.submit.transfer_flags = PROTO_URB_SHORT_NOT_OK | PROTO_URB_DIR_IN;
        h->u.submit.transfer_buffer_length = 65536;
        h->u.submit.start_frame = 0;
        h->u.submit.number_of_packets = -1;
        h->u.submit.interval = 4;
        memcpy(h->u.submit.setup, "\x80\x06\x00\x01\x00\x00\x12\x00", 8);
        break;
    case PROTO_USBIP_RET_SUBMIT:
        h->u.ret_submit.status = PROTO_USBIP_EPIPE;
        h->u.ret_submit.actual_length = 18;
        h->u.ret_submit.start_frame = 0;
        h->u.ret_submit.number_of_packets = -1;
        h->u.ret_submit.error_count = 0;
        break;
    case PROTO_USBIP_CMD_UNLINK:
        h->u.unlink.seqnum = 0xa0b0c0d0;
        break;
    case PROTO_USBIP_RET_UNLINK:
        h->u.ret_unlink.status = PROTO_USBIP_ECONNRESET;
        break;
    }
}

static const uint32_t urb_cmds[] = {PROTO_USBIP_CMD_SUBMIT, PROTO_USBIP_RET_SUBMIT,
                                    PROTO_USBIP_CMD_UNLINK, PROTO_USBIP_RET_UNLINK};

START_TEST(urb_roundtrip)
{
    proto_usbip_urb_hdr h, d;
    sample_urb(urb_cmds[_i], &h);
    uint8_t buf[PROTO_USBIP_URB_HDR_SIZE];
    ck_assert_int_eq(proto_usbip_urb_hdr_encode(&h, buf, sizeof buf), 48);
    ck_assert_uint_eq(proto_get_be32(buf), urb_cmds[_i]);
    ck_assert_uint_eq(proto_get_be32(buf + 4), 0x01020304);
    ck_assert_uint_eq(proto_get_be32(buf + 8), 0x00010002);
    ck_assert_uint_eq(proto_get_be32(buf + 12), 1);
    ck_assert_uint_eq(proto_get_be32(buf + 16), 1);
    ck_assert_int_eq(proto_usbip_urb_hdr_decode(buf, sizeof buf, &d), 48);
    ck_assert_uint_eq(d.command, h.command);
    ck_assert_uint_eq(d.seqnum, h.seqnum);
    ck_assert_uint_eq(d.devid, h.devid);
    ck_assert_uint_eq(d.direction, h.direction);
    ck_assert_uint_eq(d.ep, h.ep);
    switch (h.command) {
    case PROTO_USBIP_CMD_SUBMIT:
        ck_assert_uint_eq(d.u.submit.transfer_flags, h.u.submit.transfer_flags);
        ck_assert_int_eq(d.u.submit.transfer_buffer_length, 65536);
        ck_assert_int_eq(d.u.submit.start_frame, 0);
        ck_assert_int_eq(d.u.submit.number_of_packets, -1);
        ck_assert_int_eq(d.u.submit.interval, 4);
        ck_assert_mem_eq(d.u.submit.setup, h.u.submit.setup, 8);
        ck_assert_mem_eq(buf + 40, h.u.submit.setup, 8); /* raw setup at offset 40 */
        break;
    case PROTO_USBIP_RET_SUBMIT:
        ck_assert_int_eq(d.u.ret_submit.status, -32);
        ck_assert_int_eq(d.u.ret_submit.actual_length, 18);
        ck_assert_int_eq(d.u.ret_submit.number_of_packets, -1);
        ck_assert_int_eq(d.u.ret_submit.error_count, 0);
        ck_assert_uint_eq(proto_get_be32(buf + 20), 0xffffffe0u);
        for (size_t i = 40; i < 48; i++)
            ck_assert_uint_eq(buf[i], 0); /* padding */
        break;
    case PROTO_USBIP_CMD_UNLINK:
        ck_assert_uint_eq(d.u.unlink.seqnum, 0xa0b0c0d0);
        for (size_t i = 24; i < 48; i++)
            ck_assert_uint_eq(buf[i], 0);
        break;
    case PROTO_USBIP_RET_UNLINK:
        ck_assert_int_eq(d.u.ret_unlink.status, -104);
        for (size_t i = 24; i < 48; i++)
            ck_assert_uint_eq(buf[i], 0);
        break;
    }
    for (size_t n = 0; n < sizeof buf; n++) {
        ck_assert_int_eq(proto_usbip_urb_hdr_decode(buf, n, &d), PROTO_E_TRUNCATED);
        ck_assert_int_eq(proto_usbip_urb_hdr_encode(&h, buf, n), PROTO_E_NOSPACE);
    }
}
END_TEST

static int decode_modified(uint32_t command, size_t off, uint32_t value)
{
    proto_usbip_urb_hdr h, d;
    sample_urb(command, &h);
    uint8_t buf[PROTO_USBIP_URB_HDR_SIZE];
    ck_assert_int_eq(proto_usbip_urb_hdr_encode(&h, buf, sizeof buf), 48);
    proto_put_be32(buf + off, value);
    return proto_usbip_urb_hdr_decode(buf, sizeof buf, &d);
}

START_TEST(urb_rejects_bad)
{
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 0, 0), PROTO_E_BAD_CODE);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 0, 5), PROTO_E_BAD_CODE);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 0, 0x8005), PROTO_E_BAD_CODE);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 12, 2), PROTO_E_BAD_FIELD);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 16, 16), PROTO_E_BAD_FIELD);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_UNLINK, 16, 0xffffffffu), PROTO_E_BAD_FIELD);
    /* transfer_buffer_length: negative, above the cap, exactly the cap. */
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 24, 0xffffffffu), PROTO_E_BAD_LENGTH);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 24, PROTO_USBIP_MAX_TRANSFER + 1),
                     PROTO_E_BAD_LENGTH);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 24, PROTO_USBIP_MAX_TRANSFER), 48);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 24, 0), 48);
    /* number_of_packets: -1, 0 and the cap are fine; -2 and cap+1 are not. */
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 32, 0), 48);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 32, PROTO_USBIP_MAX_ISO_PACKETS), 48);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 32, PROTO_USBIP_MAX_ISO_PACKETS + 1),
                     PROTO_E_BAD_LENGTH);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_CMD_SUBMIT, 32, 0xfffffffeu), PROTO_E_BAD_LENGTH);
    /* RET_SUBMIT actual_length is bounded the same way. */
    ck_assert_int_eq(decode_modified(PROTO_USBIP_RET_SUBMIT, 24, 0x80000000u), PROTO_E_BAD_LENGTH);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_RET_SUBMIT, 24, PROTO_USBIP_MAX_TRANSFER + 1),
                     PROTO_E_BAD_LENGTH);
    ck_assert_int_eq(decode_modified(PROTO_USBIP_RET_SUBMIT, 32, 0x7fffffffu), PROTO_E_BAD_LENGTH);
    /* Encoding an unknown command is refused. */
    proto_usbip_urb_hdr h;
    sample_urb(PROTO_USBIP_CMD_SUBMIT, &h);
    h.command = 9;
    uint8_t buf[48];
    ck_assert_int_eq(proto_usbip_urb_hdr_encode(&h, buf, sizeof buf), PROTO_E_BAD_CODE);
}
END_TEST

START_TEST(setup_roundtrip)
{
    const uint8_t raw[8] = {0x80, 0x06, 0x00, 0x02, 0x09, 0x04, 0xff, 0x00};
    proto_usb_setup s;
    proto_usb_setup_decode(raw, &s);
    ck_assert_uint_eq(s.bmRequestType, 0x80);
    ck_assert_uint_eq(s.bRequest, 6);
    ck_assert_uint_eq(s.wValue, 0x0200);
    ck_assert_uint_eq(s.wIndex, 0x0409);
    ck_assert_uint_eq(s.wLength, 255);
    uint8_t back[8];
    proto_usb_setup_encode(&s, back);
    ck_assert_mem_eq(back, raw, 8);
}
END_TEST

START_TEST(errors_have_names)
{
    ck_assert_str_eq(proto_err_name(PROTO_E_TRUNCATED), "PROTO_E_TRUNCATED");
    ck_assert_str_eq(proto_strerror(PROTO_E_BAD_VERSION), "unsupported protocol version");
    ck_assert_str_eq(proto_err_name(-1000), "PROTO_E_UNKNOWN");
    ck_assert_int_eq(proto_usbip_devid(1, 2), 0x10002);
}
END_TEST

/* Decoders never read past len: feed exact-size heap copies of random bytes
 * (ASan catches an overread). */
START_TEST(decoders_fuzz_exact_size)
{
    unsigned seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)(rand_r(&seed) % 330);
        uint8_t *p = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < len; i++)
            p[i] = (uint8_t)rand_r(&seed);
        if (len >= 8 && (iter & 1)) {
            p[0] = 0x01;
            p[1] = 0x11;
        }
        proto_usbip_op_hdr oh;
        proto_usbip_device dv;
        proto_usbip_interface in;
        proto_usbip_urb_hdr uh;
        char busid[PROTO_USBIP_BUSID_SIZE];
        uint32_t n;
        int r;
        r = proto_usbip_op_hdr_decode(p, len, &oh);
        ck_assert(r == 8 || r < 0);
        r = proto_usbip_busid_decode(p, len, busid);
        ck_assert(r == 32 || r < 0);
        if (r > 0)
            ck_assert_uint_lt(strlen(busid), 32);
        r = proto_usbip_devcount_decode(p, len, &n);
        ck_assert(r == 4 || r < 0);
        r = proto_usbip_device_decode(p, len, &dv);
        ck_assert(r == 312 || r < 0);
        r = proto_usbip_interface_decode(p, len, &in);
        ck_assert(r == 4 || r < 0);
        r = proto_usbip_urb_hdr_decode(p, len, &uh);
        ck_assert(r == 48 || r < 0);
        free(p);
    }
}
END_TEST

static Suite *usbip_suite(void)
{
    Suite *s = suite_create("proto_usbip");
    TCase *tc = tcase_create("codec");
    tcase_add_loop_test(tc, op_hdr_roundtrip, 0, 4);
    tcase_add_test(tc, op_hdr_bad_version_and_code);
    tcase_add_test(tc, busid_roundtrip);
    tcase_add_test(tc, busid_rejects_bad);
    tcase_add_test(tc, devcount_roundtrip_and_bounds);
    tcase_add_test(tc, device_roundtrip);
    tcase_add_test(tc, device_rejects_bad);
    tcase_add_test(tc, interface_roundtrip);
    tcase_add_loop_test(tc, urb_roundtrip, 0, 4);
    tcase_add_test(tc, urb_rejects_bad);
    tcase_add_test(tc, setup_roundtrip);
    tcase_add_test(tc, errors_have_names);
    tcase_add_test(tc, decoders_fuzz_exact_size);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(usbip_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
