/*
 * The xdp libOS: the inet libOS over the AF_XDP netdev (src/netdev/xdp.c).
 * DEMI_IFACE names the interface; DEMI_XDP_* configure the socket.
 */
#include "inet_libos.h"

static int xdp_libos_init(const struct demi_args *args)
{
    return inet_libos_init(&xdp_netdev_ops, args);
}

const struct demi_libos_ops xdp_libos_ops = {
    .name = "xdp",
    .yield_when_idle = true,    /* the AF_XDP fd blocks in ppoll() anyway */
    .init = xdp_libos_init,
    INET_LIBOS_COMMON_OPS,
};
