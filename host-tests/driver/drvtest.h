/* Shared helpers of the driver suites: an in-process emulator on a free
 * loopback port, temporary directories, and a TIFF checker that compares
 * every pixel with the device model's synthesis function. */
#ifndef SCANEMU_DRVTEST_H
#define SCANEMU_DRVTEST_H

#include <pthread.h>
#include <stdint.h>

#include "dm/dm.h"
#include "drv/drv.h"
#include "emu/emu.h"

typedef struct drvtest_emu {
    emu_server *srv;
    pthread_t thread;
    uint16_t port;
    char uri[96];
    char profile[512];
    char scenario[512];
    const char *profiles[1];
} drvtest_emu;

/* profile / scenario: file names under fixtures/profiles and
 * fixtures/scenarios, an absolute path, or NULL for the built-in ones. */
void drvtest_emu_start(drvtest_emu *e, const char *profile, const char *scenario, uint64_t seed,
                       int timing);
void drvtest_emu_stop(drvtest_emu *e);

/* "$SCANEMU_SOURCE_DIR/fixtures/<sub>/<name>" into buf. */
const char *drvtest_fixture(char *buf, size_t len, const char *sub, const char *name);
/* A fresh directory under /tmp, removed (with its files and directories)
 * by drvtest_rmdir. */
void drvtest_mkdtemp(char *buf, size_t len);
void drvtest_rmdir(const char *dir);
int drvtest_exists(const char *path);

/* Opens path with libtiff and checks: exactly `pages` directories; each has
 * the job's width, height, resolution (inch), bits/sample and samples/pixel;
 * every strip decodes; and, when pixels is set, every pixel equals
 * dm_synth_band(job, page, side, band). Fails the running Check test
 * otherwise. */
void drvtest_check_tiff(const char *path, const proto_scan_job *job, uint32_t pages, int pixels);

/* The whole file, malloc'd; *len its size. */
uint8_t *drvtest_slurp(const char *path, size_t *len);

/* A loopback TCP port nobody listens on (bound, then closed). */
uint16_t drvtest_closed_port(void);

/* A TCP peer on a free loopback port that accepts one connection and
 * writes reply and closes, or (reply NULL) reads and never answers. */
typedef struct drvtest_peer {
    int lfd;
    uint16_t port;
    const char *reply;
    size_t reply_len;
    pthread_t th;
} drvtest_peer;
void drvtest_peer_start(drvtest_peer *p, const char *reply);
/* The same with a binary reply of len bytes (sent after reading 40 bytes,
 * the size of an OP_REQ_IMPORT). */
void drvtest_peer_start_bytes(drvtest_peer *p, const void *reply, size_t len);
void drvtest_peer_stop(drvtest_peer *p);

#endif
