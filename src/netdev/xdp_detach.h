/*
 * Removes the XDP programs of open AF_XDP netdevs when the process is killed
 * by SIGINT/SIGTERM/SIGHUP/SIGQUIT (private to src/netdev/xdp.c).
 * Signals whose disposition the application changed are left alone.
 */
#ifndef DEMI_NETDEV_XDP_DETACH_H_
#define DEMI_NETDEV_XDP_DETACH_H_

#include <stdint.h>

/* Records ifindex; installs the signal handlers on the first call. */
void xdp_detach_register(int ifindex);

/* Forgets ifindex; restores the default dispositions after the last one. */
void xdp_detach_unregister(int ifindex);

#endif /* DEMI_NETDEV_XDP_DETACH_H_ */
