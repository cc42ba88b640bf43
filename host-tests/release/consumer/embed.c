/* An installed libscanemu.a as a test harness uses it: one virtual scanner
 * in this process on a free loopback port, scanned by the installed
 * wiascan (argv[1]), stopped. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <emu/emu.h>
#include <scanemu/version.h>

static void *serve(void *arg)
{
    return (void *)(long)emu_server_run(arg);
}

int main(int argc, char **argv)
{
    emu_options opts;
    emu_server *srv;
    pthread_t th;
    char err[256], cmd[1024];
    int rc = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: embed WIASCAN OUT.tiff\n");
        return 2;
    }
    emu_options_init(&opts);
    opts.listen_port = 0;
    opts.log_level = EMU_LOG_WARN;
    if (emu_server_create(&opts, &srv, err, sizeof err) != EMU_OK) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }
    if (pthread_create(&th, NULL, serve, srv) != 0)
        goto out_free;
    snprintf(cmd, sizeof cmd, "%s -q --transport usbip://127.0.0.1:%u/1-1 --pages 2 -o %s", argv[1],
             emu_server_port(srv), argv[2]);
    rc = system(cmd) == 0 ? 0 : 1;
    emu_server_stop(srv);
    pthread_join(th, NULL);
    printf("embed: libscanemu %s, wiascan %s\n", SCANEMU_VERSION,
           rc ? "failed" : "scanned 2 pages");
out_free:
    emu_server_free(srv);
    return rc;
}
