/* Writes the binary seed corpora under host-tests/fuzz/corpus/ from the
 * protocol encoders, so the seeds are valid messages (plus a few deliberately
 * broken ones). The YAML corpora are written by hand. Run:
 *   fuzz_gen_corpus host-tests/fuzz/corpus
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/scan.h"
#include "protocol/usbip.h"

static const char *g_root;
static int g_fail;

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", g_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        g_fail = 1;
    snprintf(path, sizeof(path), "%s/%s/%s", g_root, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        g_fail = 1;
    }
    if (f != NULL)
        fclose(f);
}

/* ---- USB/IP ---------------------------------------------------------------- */

static size_t op(uint8_t *b, uint16_t code, int32_t status)
{
    proto_usbip_op_hdr h = {.version = PROTO_USBIP_VERSION, .code = code, .status = status};
    return (size_t)proto_usbip_op_hdr_encode(&h, b, 8);
}

static size_t dev(uint8_t *b, uint8_t nif)
{
    proto_usbip_device d;

    memset(&d, 0, sizeof(d));
    strcpy(d.path, "/sys/devices/platform/scanemu/usb1/1-1");
    strcpy(d.busid, "1-1");
    d.busnum = 1;
    d.devnum = 2;
    d.speed = PROTO_USBIP_SPEED_HIGH;
    d.idVendor = 0x1209;
    d.idProduct = 0x0001;
    d.bcdDevice = 0x0100;
    d.bConfigurationValue = 1;
    d.bNumConfigurations = 1;
    d.bNumInterfaces = nif;
    return (size_t)proto_usbip_device_encode(&d, b, PROTO_USBIP_DEVICE_SIZE);
}

static void usbip_op(void)
{
    uint8_t b[2048];
    size_t n;
    proto_usbip_interface i = {.bInterfaceClass = 0xFF};

    n = op(b, PROTO_USBIP_OP_REQ_DEVLIST, 0);
    put("usbip_op", "req_devlist", b, n);
    n = op(b, PROTO_USBIP_OP_REQ_IMPORT, 0);
    n += (size_t)proto_usbip_busid_encode("1-1", b + n, 32);
    put("usbip_op", "req_import", b, n);
    n = op(b, PROTO_USBIP_OP_REP_IMPORT, 0);
    n += dev(b + n, 1);
    put("usbip_op", "rep_import", b, n);
    n = op(b, PROTO_USBIP_OP_REP_IMPORT, PROTO_USBIP_ST_NODEV);
    put("usbip_op", "rep_import_nodev", b, n);
    n = op(b, PROTO_USBIP_OP_REP_DEVLIST, 0);
    n += (size_t)proto_usbip_devcount_encode(2, b + n, 4);
    n += dev(b + n, 1);
    n += (size_t)proto_usbip_interface_encode(&i, b + n, 4);
    n += dev(b + n, 2);
    n += (size_t)proto_usbip_interface_encode(&i, b + n, 4);
    n += (size_t)proto_usbip_interface_encode(&i, b + n, 4);
    put("usbip_op", "rep_devlist_2", b, n);
    n = op(b, PROTO_USBIP_OP_REP_DEVLIST, 0);
    n += (size_t)proto_usbip_devcount_encode(0, b + n, 4);
    put("usbip_op", "rep_devlist_0", b, n);
    /* broken: unterminated busid, bad version, huge count */
    n = op(b, PROTO_USBIP_OP_REQ_IMPORT, 0);
    memset(b + n, 'A', 32);
    put("usbip_op", "bad_busid_unterminated", b, n + 32);
    b[0] = 0x01;
    b[1] = 0x06;
    put("usbip_op", "bad_version", b, 8);
    n = op(b, PROTO_USBIP_OP_REP_DEVLIST, 0);
    proto_put_be32(b + n, 0xFFFFFFFFu);
    put("usbip_op", "bad_devcount", b, n + 4);
}

static size_t urb(uint8_t *b, uint32_t cmd, uint32_t seq, uint32_t dir, uint32_t ep, int32_t len,
                  const uint8_t *setup)
{
    proto_usbip_urb_hdr h;

    memset(&h, 0, sizeof(h));
    h.command = cmd;
    h.seqnum = seq;
    h.devid = proto_usbip_devid(1, 2);
    h.direction = dir;
    h.ep = ep;
    if (cmd == PROTO_USBIP_CMD_SUBMIT) {
        h.u.submit.transfer_buffer_length = len;
        h.u.submit.number_of_packets = -1;
        if (setup != NULL)
            memcpy(h.u.submit.setup, setup, 8);
    } else if (cmd == PROTO_USBIP_RET_SUBMIT) {
        h.u.ret_submit.actual_length = len;
        h.u.ret_submit.number_of_packets = -1;
    } else if (cmd == PROTO_USBIP_CMD_UNLINK) {
        h.u.unlink.seqnum = seq - 1;
    } else {
        h.u.ret_unlink.status = PROTO_USBIP_ECONNRESET;
    }
    return (size_t)proto_usbip_urb_hdr_encode(&h, b, 48);
}

static void usbip_urb(void)
{
    static const uint8_t get_dev_desc[8] = {0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00};
    static const uint8_t set_config[8] = {0x00, 0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
    uint8_t b[1024];
    size_t n;

    n = urb(b, PROTO_USBIP_CMD_SUBMIT, 1, PROTO_USBIP_DIR_IN, 0, 18, get_dev_desc);
    put("usbip_urb", "submit_get_descriptor", b, n);
    n = urb(b, PROTO_USBIP_CMD_SUBMIT, 2, PROTO_USBIP_DIR_OUT, 0, 0, set_config);
    put("usbip_urb", "submit_set_config", b, n);
    n = urb(b, PROTO_USBIP_CMD_SUBMIT, 3, PROTO_USBIP_DIR_OUT, 1, 16, NULL);
    memcpy(b + n, "SCMD\x01\x00\x01\x00\x07\x00\x00\x00\x00\x00\x00\x00", 16);
    n += 16;
    n += urb(b + n, PROTO_USBIP_CMD_SUBMIT, 4, PROTO_USBIP_DIR_IN, 1, 4194344, NULL);
    put("usbip_urb", "stream_bulk_out_then_in", b, n);
    n = urb(b, PROTO_USBIP_RET_SUBMIT, 1, PROTO_USBIP_DIR_IN, 0, 18, NULL);
    memcpy(b + n, "\x12\x01\x00\x02\x00\x00\x00\x40\x09\x12\x01\x00\x00\x01\x01\x02\x03\x01", 18);
    n += 18;
    put("usbip_urb", "ret_submit_descriptor", b, n);
    n = urb(b, PROTO_USBIP_CMD_UNLINK, 5, PROTO_USBIP_DIR_OUT, 0, 0, NULL);
    n += urb(b + n, PROTO_USBIP_RET_UNLINK, 6, PROTO_USBIP_DIR_OUT, 0, 0, NULL);
    put("usbip_urb", "unlink_pair", b, n);
    /* broken: negative length, ep 16, iso count too large, unknown command */
    n = urb(b, PROTO_USBIP_CMD_SUBMIT, 7, PROTO_USBIP_DIR_IN, 1, 64, NULL);
    proto_put_be32(b + 24, 0xFFFFFFFFu);
    put("usbip_urb", "bad_negative_length", b, n);
    proto_put_be32(b + 24, 64);
    proto_put_be32(b + 16, 16);
    put("usbip_urb", "bad_ep16", b, n);
    proto_put_be32(b + 16, 1);
    proto_put_be32(b + 32, 5000);
    put("usbip_urb", "bad_iso_count", b, n);
    proto_put_be32(b + 0, 9);
    put("usbip_urb", "bad_command", b, n);
}

/* ---- scanner protocol -------------------------------------------------------- */

static proto_scan_job sample_job(void)
{
    proto_scan_job j = {.source = PROTO_SCAN_SOURCE_ADF,
                        .mode = PROTO_SCAN_MODE_GRAY8,
                        .dpi = 75,
                        .pages = 2,
                        .width_px = 64,
                        .height_px = 20,
                        .bits_per_pixel = 8,
                        .bytes_per_line = 64,
                        .band_lines = 8,
                        .bands_per_page = 3,
                        .max_in_transfer = 4096,
                        .seed = 42};
    return j;
}

static size_t rsp(uint8_t *b, uint16_t opcode, uint32_t status, uint32_t len)
{
    proto_scan_rsp r = {.opcode = opcode, .tag = 9, .status = status, .length = len};
    return (size_t)proto_scan_rsp_encode(&r, b, 20);
}

static void scan_msg_and_payload(void)
{
    uint8_t b[1024];
    size_t n;
    proto_scan_caps caps = {.sources = 3,
                            .modes = 7,
                            .max_width_um = 210000,
                            .max_height_um = 297000,
                            .feeder_capacity = 50,
                            .band_lines = 64,
                            .max_in_transfer = 1048616,
                            .n_resolutions = 3,
                            .resolutions = {75, 150, 300}};
    proto_scan_params params = {.source = PROTO_SCAN_SOURCE_DUPLEX,
                                .mode = PROTO_SCAN_MODE_COLOR24,
                                .dpi = 150,
                                .flags = PROTO_SCAN_PARAM_SEED,
                                .pages = 4,
                                .width_px = 100,
                                .height_px = 100,
                                .seed = 1};
    proto_scan_job job = sample_job();
    proto_scan_devstatus st = {.state = 1, .sheets_loaded = 10, .warmup_remaining_ms = 1500};
    proto_scan_cmd cmd = {.opcode = PROTO_SCAN_OP_SET_PARAMS, .tag = 9, .length = 32};
    proto_scan_band band = {.flags = PROTO_SCAN_BAND_END_OF_PAGE,
                            .page = 1,
                            .side = 1,
                            .band = 2,
                            .first_line = 16,
                            .line_count = 4,
                            .byte_count = 16};
    proto_scan_event evt = {.code = PROTO_SCAN_EVT_PAPER_JAM, .page = 2, .arg = 0};

    /* payloads */
    n = (size_t)proto_scan_caps_encode(&caps, b, sizeof(b));
    put("scan_payload", "caps", b, n);
    n = (size_t)proto_scan_params_encode(&params, b, sizeof(b));
    put("scan_payload", "params", b, n);
    n = (size_t)proto_scan_job_encode(&job, b, sizeof(b));
    put("scan_payload", "job", b, n);
    n = (size_t)proto_scan_devstatus_encode(&st, b, sizeof(b));
    put("scan_payload", "devstatus", b, n);
    proto_put_le16(b + 28, 17);
    put("scan_payload", "bad_job_bands", b, 47);

    /* messages */
    n = (size_t)proto_scan_cmd_encode(&cmd, b, sizeof(b));
    n += (size_t)proto_scan_params_encode(&params, b + n, sizeof(b) - n);
    put("scan_msg", "cmd_set_params", b, n);
    n = rsp(b, PROTO_SCAN_OP_GET_CAPS, 0, 64);
    n += (size_t)proto_scan_caps_encode(&caps, b + n, sizeof(b) - n);
    put("scan_msg", "rsp_caps", b, n);
    n = rsp(b, PROTO_SCAN_OP_START_JOB, 0, 48);
    n += (size_t)proto_scan_job_encode(&job, b + n, sizeof(b) - n);
    put("scan_msg", "rsp_start_job", b, n);
    n = rsp(b, PROTO_SCAN_OP_START_JOB, PROTO_SCAN_ST_WARMING_UP, 20);
    n += (size_t)proto_scan_devstatus_encode(&st, b + n, sizeof(b) - n);
    put("scan_msg", "rsp_warming_up", b, n);
    n = rsp(b, PROTO_SCAN_OP_GET_STATUS, 0, 20);
    st.state = 2;
    st.warmup_remaining_ms = 0;
    n += (size_t)proto_scan_devstatus_encode(&st, b + n, sizeof(b) - n);
    put("scan_msg", "rsp_status", b, n);
    n = (size_t)proto_scan_band_encode(&band, b, sizeof(b));
    for (unsigned i = 0; i < 16; i++)
        b[n + i] = (uint8_t)(i * 17);
    band.crc32 = proto_crc32(0, b + n, 16);
    (void)proto_scan_band_encode(&band, b, sizeof(b));
    put("scan_msg", "band_16", b, n + 16);
    band.flags = PROTO_SCAN_BAND_END_OF_JOB;
    band.status = PROTO_SCAN_ST_PAPER_JAM;
    band.line_count = band.byte_count = 0;
    band.crc32 = 0;
    n = (size_t)proto_scan_band_encode(&band, b, sizeof(b));
    put("scan_msg", "band_end_jam", b, n);
    n = (size_t)proto_scan_event_encode(&evt, b, sizeof(b));
    put("scan_msg", "event_jam", b, n);
    memcpy(b, "SRSP\x01\x00\x01\x00\x09\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00", 20);
    put("scan_msg", "bad_rsp_length", b, 20);
    put("scan_msg", "bad_magic", "XXXX\x01\x00", 6);
}

/* ---- device model commands ------------------------------------------------------- */

static size_t chunk(uint8_t *b, uint8_t ctl, uint16_t opcode, const void *payload, uint32_t plen)
{
    proto_scan_cmd c = {.opcode = opcode, .tag = opcode, .length = plen};
    size_t n = 3;

    n += (size_t)proto_scan_cmd_encode(&c, b + n, 16);
    if (plen)
        memcpy(b + n, payload, plen);
    n += plen;
    b[0] = ctl;
    proto_put_le16(b + 1, (uint16_t)(n - 3));
    return n;
}

static void dm_device(void)
{
    uint8_t b[1024], pl[32];
    size_t n;
    proto_scan_params params = {.source = PROTO_SCAN_SOURCE_ADF,
                                .mode = PROTO_SCAN_MODE_GRAY8,
                                .dpi = 75,
                                .pages = 2,
                                .width_px = 64,
                                .height_px = 40};

    (void)proto_scan_params_encode(&params, pl, sizeof(pl));
    b[0] = 0; /* no timing, default profile */
    n = 1;
    n += chunk(b + n, 0, PROTO_SCAN_OP_GET_CAPS, NULL, 0);
    n += chunk(b + n, 0, PROTO_SCAN_OP_SET_PARAMS, pl, 32);
    n += chunk(b + n, 0, PROTO_SCAN_OP_START_JOB, NULL, 0);
    n += chunk(b + n, 0, PROTO_SCAN_OP_GET_STATUS, NULL, 0);
    put("dm_device", "small_job", b, n);

    b[0] = 1; /* timing: warming up first */
    n = 1;
    n += chunk(b + n, 0, PROTO_SCAN_OP_SET_PARAMS, pl, 32);
    n += chunk(b + n, 0xFF /* advance 64 ms */, PROTO_SCAN_OP_START_JOB, NULL, 0);
    n += chunk(b + n, 0xFF /* advance 64 ms */, PROTO_SCAN_OP_START_JOB, NULL, 0);
    n += chunk(b + n, 2, PROTO_SCAN_OP_ABORT, NULL, 0);
    n += chunk(b + n, 0, PROTO_SCAN_OP_RESET, NULL, 0);
    put("dm_device", "warmup_abort_reset", b, n);

    b[0] = 3; /* small profile, timing: default duplex job */
    n = 1;
    n += chunk(b + n, 0xFF, PROTO_SCAN_OP_START_JOB, NULL, 0);
    n += chunk(b + n, 0, PROTO_SCAN_OP_GET_STATUS, NULL, 0);
    put("dm_device", "small_profile_job", b, n);

    b[0] = 0; /* 17 commands without reading: the queue fills */
    n = 1;
    for (unsigned i = 0; i < 17; i++)
        n += chunk(b + n, 1, PROTO_SCAN_OP_GET_STATUS, NULL, 0);
    put("dm_device", "queue_full", b, n);

    b[0] = 0; /* malformed: unknown opcode, short, payload on GET_CAPS, garbage */
    n = 1;
    n += chunk(b + n, 0, 0x77, NULL, 0);
    n += chunk(b + n, 0, PROTO_SCAN_OP_GET_CAPS, "xyz", 3);
    b[n++] = 0;
    b[n++] = 5;
    b[n++] = 0;
    memcpy(b + n, "SCMD\x01", 5);
    n += 5;
    n += chunk(b + n, 0, PROTO_SCAN_OP_SET_PARAMS, pl, 31);
    put("dm_device", "bad_commands", b, n);
}

/* ---- driver: configuration descriptors ------------------------------------------- */

static void drv_config(void)
{
    static const uint8_t good[] = {
        9, 2, 39,   0, 1,    1,    0, 0x80, 50, /* config */
        9, 4, 0,    0, 3,    0xFF, 0, 0,    0,  /* vendor interface */
        7, 5, 0x01, 2, 0x00, 0x02, 0,           /* bulk OUT 512 */
        7, 5, 0x81, 2, 0x00, 0x02, 0,           /* bulk IN 512 */
        7, 5, 0x82, 3, 0x10, 0x00, 4,           /* interrupt IN 16 */
    };
    static const uint8_t two_ifaces[] = {
        9, 2,    57,   0,    2,    1,    0,    0x80, 50,   9,    4, 0, 0,
        1, 0x08, 6,    0x50, 0, /* mass storage */
        7, 5,    0x81, 2,    0x00, 0x02, 0,    9,    4,    1,    0, 3, 0xFF,
        0, 0,    0,    7,    5,    0x01, 2,    0x40, 0x00, 0,    7, 5, 0x81,
        2, 0x40, 0x00, 0,    7,    5,    0x82, 3,    0x10, 0x00, 4,
    };
    uint8_t b[64];

    put("drv_config", "scanner", good, sizeof(good));
    put("drv_config", "two_interfaces", two_ifaces, sizeof(two_ifaces));
    memcpy(b, good, sizeof(good));
    b[2] = 60; /* wTotalLength past the buffer */
    put("drv_config", "bad_total_length", b, sizeof(good));
    memcpy(b, good, sizeof(good));
    b[18] = 0; /* zero bLength: must not loop */
    put("drv_config", "bad_zero_length", b, sizeof(good));
    memcpy(b, good, sizeof(good) - 7);
    b[2] = sizeof(good) - 7; /* the interrupt endpoint left out */
    put("drv_config", "no_interrupt", b, sizeof(good) - 7);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    g_root = argv[1];
    usbip_op();
    usbip_urb();
    scan_msg_and_payload();
    dm_device();
    drv_config();
    return g_fail;
}
