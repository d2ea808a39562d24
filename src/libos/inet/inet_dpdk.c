/*
 * The dpdk libOS: the inet libOS over a DPDK ethdev port
 * (src/netdev/dpdk.c). DEMI_DPDK_ARGS holds the EAL arguments (with the
 * --vdev of a virtual device), DEMI_DPDK_PORT picks the port.
 */
#include "inet_libos.h"

static int dpdk_libos_init(const struct demi_args *args)
{
    return inet_libos_init(&dpdk_netdev_ops, args);
}

const struct demi_libos_ops dpdk_libos_ops = {
    .name = "dpdk",
    .yield_when_idle = false,   /* no system calls on the data path */
    .init = dpdk_libos_init,
    INET_LIBOS_COMMON_OPS,
};
