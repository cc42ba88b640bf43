/* A minimal eSCL-over-TCP carrier for the driver's tests: the device
 * model's eSCL front (dm/escl.h) on a real clock behind a loopback socket,
 * one connection at a time, in a thread. It lets the eSCL client be tested
 * in-process with any profile and scenario; the emulator's own carrier
 * (scanemu --escl-listen) is tested through wiascan as a subprocess. */
#ifndef SCANEMU_ESCL_CARRIER_H
#define SCANEMU_ESCL_CARRIER_H

#include <pthread.h>
#include <stdint.h>

#include "drvtest.h"
#include "dm/dm.h"
#include "dm/engine.h"
#include "dm/escl.h"

typedef struct drvtest_escl {
    dm_clock_real clk;
    dm_profile *prof;
    dm_scenario *scen;
    dm_engine *eng;
    dm_escl *escl;
    int lfd;
    uint16_t port;
    pthread_t th;
    volatile int stop;
    char uri[96]; /* "escl+http://127.0.0.1:PORT/eSCL" */
} drvtest_escl;

/* profile / scenario: fixture file names (NULL: built-in). timing 0 makes
 * bands due at once. */
void drvtest_escl_start(drvtest_escl *e, const char *profile, const char *scenario, uint64_t seed,
                        int timing);
void drvtest_escl_stop(drvtest_escl *e);

/* The job the engine resolves for these parameters (band layout included),
 * for drvtest_check_tiff. */
proto_scan_job drvtest_escl_job(drvtest_escl *e, uint8_t source, uint8_t mode, uint16_t dpi);

/* The emulator in-process (emu_server) with its eSCL-over-HTTP carrier on
 * a free loopback port besides its USB/IP one: e->uri is the usbip URI,
 * escl_uri (of size len) gets "escl+http://127.0.0.1:PORT/eSCL". Stop with
 * drvtest_emu_stop. */
void drvtest_emu_start_escl(drvtest_emu *e, const char *profile, const char *scenario,
                            uint64_t seed, int timing, char *escl_uri, size_t len);

#endif
