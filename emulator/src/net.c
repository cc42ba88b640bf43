/* TCP listeners for the USB/IP acceptor and the eSCL listener: one way to
 * bind, one loopback warning, one way to name a peer. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu-internal.h"

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

int emu_listen_tcp(const emu_log *log, const char *what, const char *host, uint16_t port,
                   int *fd_out, uint16_t *port_out, char *errbuf, size_t errlen)
{
    char serv[8];
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd, one = 1, gai;

    snprintf(serv, sizeof serv, "%u", port);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    gai = getaddrinfo(host, serv, &hints, &res);
    if (gai != 0) {
        snprintf(errbuf, errlen, "cannot resolve %s listen address %s: %s", what, host,
                 gai_strerror(gai));
        return EMU_E_SOCKET;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errbuf, errlen, "socket: %s", strerror(errno));
        goto out_free_res;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        snprintf(errbuf, errlen, "cannot listen (%s) on %s:%s: %s", what, host, serv,
                 strerror(errno));
        goto out_close;
    }
    if (listen(fd, 64) < 0) {
        snprintf(errbuf, errlen, "listen (%s) on %s:%s: %s", what, host, serv, strerror(errno));
        goto out_close;
    }
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    if (!is_loopback(res->ai_addr))
        emu_logf(log, EMU_LOG_WARN, NULL,
                 "%s listening on %s:%u, beyond loopback: it has no authentication, anyone "
                 "who can reach this port can use the devices",
                 what, host, *port_out);
    freeaddrinfo(res);
    *fd_out = fd;
    return EMU_OK;

out_close:
    close(fd);
out_free_res:
    freeaddrinfo(res);
    return EMU_E_SOCKET;
}

void emu_peer_str(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
    char host[48] = "?", serv[8] = "?";

    getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(out, outlen, "%s:%s", host, serv);
}
