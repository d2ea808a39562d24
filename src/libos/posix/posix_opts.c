/*
 * Socket options and socket names of the posix libOS, passed through to
 * the kernel. Only the options in known_opts are accepted (others give
 * ENOPROTOOPT): options that make no sense under the libOS (SO_RCVTIMEO,
 * SO_SNDTIMEO on non-blocking sockets, SO_RCVLOWAT which would break the
 * edge-triggered readiness tracking...) stay out.
 */
#include "posix.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

enum opt_access { OPT_RW = 0, OPT_RO = 1 };

struct opt_entry {
    int level;
    int name;
    int access;
};

static const struct opt_entry known_opts[] = {
    {SOL_SOCKET, SO_REUSEADDR, OPT_RW},
    {SOL_SOCKET, SO_REUSEPORT, OPT_RW},
    {SOL_SOCKET, SO_KEEPALIVE, OPT_RW},
    {SOL_SOCKET, SO_LINGER, OPT_RW},
    {SOL_SOCKET, SO_RCVBUF, OPT_RW},
    {SOL_SOCKET, SO_SNDBUF, OPT_RW},
    {SOL_SOCKET, SO_BROADCAST, OPT_RW},
    {SOL_SOCKET, SO_PRIORITY, OPT_RW},
    {SOL_SOCKET, SO_ERROR, OPT_RO},
    {SOL_SOCKET, SO_TYPE, OPT_RO},
    {SOL_SOCKET, SO_DOMAIN, OPT_RO},
    {SOL_SOCKET, SO_PROTOCOL, OPT_RO},
    {SOL_SOCKET, SO_ACCEPTCONN, OPT_RO},
    {IPPROTO_TCP, TCP_NODELAY, OPT_RW},
    {IPPROTO_TCP, TCP_KEEPIDLE, OPT_RW},
    {IPPROTO_TCP, TCP_KEEPINTVL, OPT_RW},
    {IPPROTO_TCP, TCP_KEEPCNT, OPT_RW},
    {IPPROTO_TCP, TCP_MAXSEG, OPT_RW},
    {IPPROTO_TCP, TCP_CORK, OPT_RW},
    {IPPROTO_TCP, TCP_QUICKACK, OPT_RW},
    {IPPROTO_TCP, TCP_USER_TIMEOUT, OPT_RW},
    {IPPROTO_TCP, TCP_INFO, OPT_RO},
    {IPPROTO_IP, IP_TOS, OPT_RW},
    {IPPROTO_IP, IP_TTL, OPT_RW},
};

/* The table entry of (level, name), or NULL. */
static const struct opt_entry *opt_find(int level, int name)
{
    for (size_t i = 0; i < sizeof(known_opts) / sizeof(known_opts[0]); i++)
        if (known_opts[i].level == level && known_opts[i].name == name)
            return &known_opts[i];
    return NULL;
}

/* Returns 0, ENOPROTOOPT for an option outside the table or a read-only
 * one, EOPNOTSUPP for a TCP option on a UDP queue, or setsockopt's errno
 * (EINVAL for a bad value or length). */
int posix_setsockopt(struct demi_queue *q, int level, int optname, const void *optval, socklen_t optlen)
{
    struct posix_queue *pq = q->priv;
    const struct opt_entry *e = opt_find(level, optname);

    if (!e || e->access == OPT_RO)
        return ENOPROTOOPT;
    if (level == IPPROTO_TCP && pq->kind != QK_TCP)
        return EOPNOTSUPP;
    posix.g.syscalls++;
    if (setsockopt(pq->fd, level, optname, optval, optlen) != 0)
        return errno;
    return 0;
}

/* Returns 0 with *optlen updated, ENOPROTOOPT for an unknown option,
 * EOPNOTSUPP for a TCP option on a UDP queue, or getsockopt's errno.
 * SO_ERROR reads 0 while a connect is in progress: the libOS needs the
 * kernel's pending error to finish that connect. */
int posix_getsockopt(struct demi_queue *q, int level, int optname, void *optval, socklen_t *optlen)
{
    struct posix_queue *pq = q->priv;

    if (!opt_find(level, optname))
        return ENOPROTOOPT;
    if (level == IPPROTO_TCP && pq->kind != QK_TCP)
        return EOPNOTSUPP;
    if (level == SOL_SOCKET && optname == SO_ERROR && pq->connect_op) {
        int zero = 0;
        if (*optlen < sizeof(zero))
            return EINVAL;
        memcpy(optval, &zero, sizeof(zero));
        *optlen = sizeof(zero);
        return 0;
    }
    posix.g.syscalls++;
    if (getsockopt(pq->fd, level, optname, optval, optlen) != 0)
        return errno;
    return 0;
}

/* Returns 0, or ENOTCONN when the queue has no peer. */
int posix_getpeername(struct demi_queue *q, struct sockaddr_in *out)
{
    struct posix_queue *pq = q->priv;
    socklen_t len = sizeof(*out);

    posix.g.syscalls++;
    if (getpeername(pq->fd, (struct sockaddr *)out, &len) != 0)
        return errno;
    return 0;
}

/* Returns 0 (0.0.0.0:0 for an unbound queue). */
int posix_getsockname(struct demi_queue *q, struct sockaddr_in *out)
{
    struct posix_queue *pq = q->priv;
    socklen_t len = sizeof(*out);

    posix.g.syscalls++;
    if (getsockname(pq->fd, (struct sockaddr *)out, &len) != 0)
        return errno;
    return 0;
}
