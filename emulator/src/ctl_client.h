/* scanemu ctl: the control socket's client (ctl_client.c, docs/control.md). */
#ifndef SCANEMU_EMU_CTL_CLIENT_H
#define SCANEMU_EMU_CTL_CLIENT_H

/* argv[0] is "ctl", argv[1] the socket path, argv[2] the command. Returns
 * the exit status. */
int scanemu_ctl_main(int argc, char **argv);

#endif
