/*
 * sim: an in-memory Ethernet wire joining two or more netdevs in one
 * process, on a virtual clock (private; used by tests/stack).
 *
 * The wire is a learning-free switch: a unicast frame goes to the port whose
 * MAC matches its destination, a broadcast (or an unknown destination) to
 * every other port. Every frame a port sends passes that port's faults in
 * this order: cut link, filter hook, loss, bandwidth queue, corruption,
 * duplication, delay + jitter, reordering. All randomness comes from a PRNG
 * seeded at sim_wire_new, and time only moves with sim_wire_set_time, so the
 * same seed and the same inputs give the same frames at the same times
 * (sim_wire_hash checks that).
 *
 * Call order: sim_wire_new -> sim_netdev_ops.open with params.driver_arg =
 * the wire (one per port, up to SIM_MAX_PORTS) -> { sim_wire_set_time,
 * rx_burst, tx_burst }* -> close every port -> sim_wire_free.
 */
#ifndef DEMI_NETDEV_SIM_H_
#define DEMI_NETDEV_SIM_H_

#include <stdint.h>

#include "core/buf.h"
#include "netdev.h"

#define SIM_MAX_PORTS 64
#define SIM_PPM 1000000u    /* probabilities are in parts per million */

struct sim_wire;

/* Faults applied to the frames a port sends (all zero: a perfect wire). */
struct sim_faults {
    uint32_t loss_ppm;          /* drop a frame */
    uint32_t dup_ppm;           /* deliver a frame twice */
    uint32_t corrupt_ppm;       /* flip one random bit after the Ethernet header */
    uint32_t reorder_ppm;       /* hold a frame back by reorder_ns */
    uint64_t reorder_ns;        /* extra delay of a reordered frame (default 1 ms if 0) */
    uint64_t delay_ns;          /* one-way propagation delay */
    uint64_t jitter_ns;         /* uniform extra delay in [0, jitter_ns] (may reorder) */
    uint64_t rate_bps;          /* bandwidth limit in bits/s, 0: unlimited */
    uint32_t queue_max;         /* frames waiting for the bandwidth limit, 0: 1000 */
    int cut;                    /* nonzero: every frame is lost */
};

/* What the wire did, per wire (all ports summed). */
struct sim_stats {
    uint64_t tx_frames;         /* frames ports sent */
    uint64_t tx_bytes;
    uint64_t delivered;         /* frames handed to a receiver */
    uint64_t lost;              /* loss_ppm */
    uint64_t cut_dropped;       /* cut link */
    uint64_t filtered;          /* dropped by the filter hook */
    uint64_t queue_dropped;     /* bandwidth queue full */
    uint64_t duplicated;
    uint64_t corrupted;
    uint64_t reordered;
    uint64_t rx_overflow;       /* receiver held too many frames */
};

/* Filter hook: called for each frame a port sends, before the random faults.
 * Returns nonzero to drop it (tests lose a chosen segment this way). */
typedef int (*sim_filter_fn)(void *arg, int port, const struct buf *frame);

/* Tap: called for each frame a port sends (before faults) with the time. */
typedef void (*sim_tap_fn)(void *arg, int port, const struct buf *frame, uint64_t now_ns);

/* Creates a wire with its own PRNG; time starts at start_ns. NULL on ENOMEM. */
struct sim_wire *sim_wire_new(uint64_t seed, uint64_t start_ns);

/* Frees the wire and every frame in flight. Ports must be closed first. */
void sim_wire_free(struct sim_wire *w);

/* Moves the virtual clock to now_ns (never backwards). */
void sim_wire_set_time(struct sim_wire *w, uint64_t now_ns);
uint64_t sim_wire_time(const struct sim_wire *w);

/* Earliest time a frame in flight becomes deliverable, or UINT64_MAX. */
uint64_t sim_wire_next_event(const struct sim_wire *w);

/* Sets the faults of port (port < 0: every port, present and future). */
void sim_wire_set_faults(struct sim_wire *w, int port, const struct sim_faults *f);

void sim_wire_set_filter(struct sim_wire *w, sim_filter_fn fn, void *arg);
void sim_wire_set_tap(struct sim_wire *w, sim_tap_fn fn, void *arg);

/* Index of a sim netdev on its wire (0, 1, ... in open order). */
int sim_port_index(const struct netdev *nd);

const struct sim_stats *sim_wire_stats(const struct sim_wire *w);

/* FNV-1a hash over every frame sent (port, time, bytes) and every frame
 * delivered (port, time, bytes): equal for two runs with the same seed. */
uint64_t sim_wire_hash(const struct sim_wire *w);

#endif /* DEMI_NETDEV_SIM_H_ */
