/*
 * The frame-level device interface under the inet libOS (private).
 *
 * A netdev moves whole Ethernet frames (struct buf, data at the Ethernet
 * header, no FCS). Drivers: sim.c (in-memory wire for tests), afpacket.c
 * (AF_PACKET TPACKET_V3 rings); later xdp.c and dpdk.c.
 *
 * Call order: ops->open(params, &nd) -> { rx_burst, tx_burst }* -> close.
 * A driver's instance embeds struct netdev as its first member.
 * One instance is used by one thread; no locks.
 */
#ifndef DEMI_NETDEV_NETDEV_H_
#define DEMI_NETDEV_NETDEV_H_

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Offload flags (ops->offloads). */
#define NETDEV_OFF_RX_L4_CSUM 0x1   /* rx frames may carry BUF_FLAG_L4_CSUM_OK */
#define NETDEV_OFF_RX_IP_CSUM 0x2   /* rx frames may carry BUF_FLAG_IP_CSUM_OK */

struct demi_netdev_ops;
struct demi_counter;

struct netdev {
    const struct demi_netdev_ops *ops;
};

/* What open needs. Fields a driver does not use are ignored. */
struct netdev_params {
    const char *iface;          /* afpacket: the interface name */
    const uint8_t *mac;         /* NULL: the device's own address */
    uint32_t rx_frames;         /* ring sizes hints, 0: driver default */
    uint32_t tx_frames;
    void *driver_arg;           /* sim: the struct sim_wire to attach to */
};

struct demi_netdev_ops {
    const char *name;
    /* Opens a device; returns 0 and sets *out, or a positive errno. */
    int (*open)(const struct netdev_params *p, struct netdev **out);
    /* Closes it and frees every frame it still holds. */
    void (*close)(struct netdev *nd);
    /* Receives up to max frames into bufs (ownership moves to the caller);
     * returns how many (0 when none is ready). */
    size_t (*rx_burst)(struct netdev *nd, struct buf **bufs, size_t max);
    /* Sends frames bufs[0..n); returns how many it took (their references
     * move to the driver). The caller still owns bufs[ret..n) and may retry
     * them or drop them. */
    size_t (*tx_burst)(struct netdev *nd, struct buf **bufs, size_t n);
    /* The device's MAC address. */
    void (*mac)(const struct netdev *nd, uint8_t out[6]);
    /* The IP MTU (Ethernet payload bytes). */
    uint16_t (*mtu)(const struct netdev *nd);
    /* A file descriptor to poll() for POLLIN when waiting for frames, or -1
     * when the device cannot block (busy-poll only). */
    int (*fd)(const struct netdev *nd);
    /* NETDEV_OFF_* flags the device provides. */
    uint32_t (*offloads)(const struct netdev *nd);
    /* Named counters of the driver; copies up to cap, returns how many. May be NULL. */
    size_t (*counters)(const struct netdev *nd, struct demi_counter *out, size_t cap);
};

extern const struct demi_netdev_ops sim_netdev_ops;
extern const struct demi_netdev_ops afpacket_netdev_ops;
extern const struct demi_netdev_ops xdp_netdev_ops;    /* xdp.c, when DEMI_HAVE_XDP */
extern const struct demi_netdev_ops dpdk_netdev_ops;   /* dpdk.c, when DEMI_HAVE_DPDK */

#endif /* DEMI_NETDEV_NETDEV_H_ */
