/*
 * The inet libOS: the demi API over libdemi's own TCP/IP stack (src/inet)
 * and a frame-level netdev (src/netdev). The user-facing libOSes afpacket
 * (and later xdp, dpdk) are this libOS over that netdev (private).
 *
 * Files: inet_libos.c (ops table, init/fini, socket/bind/listen/close, the
 * poll loop, counters), inet_libos_config.c (DEMI_* variables ->
 * struct inet_config), inet_udp_glue.c (UDP push/pushto/pop/connect over
 * udp.h), inet_tcp_glue.c (TCP over tcp/tcp.h; without TCP in the build TCP
 * sockets fail with EPROTONOSUPPORT).
 *
 * Model: one stack, one netdev, one thread. poll() feeds every received
 * frame to inet_input, runs the stack's timers, then hands everything the
 * stack queued to tx_burst in batches. Socket events come back through the
 * udp/tcp callbacks, which complete the queued demi ops of that queue (each
 * queue keeps FIFOs of pending pops, pushes and accepts, linked by
 * op->lentry). Usage errors are returned by the call; failures of the I/O
 * complete the op with DEMI_OPC_FAILED.
 *
 * Adding a netdev-backed libOS: define its ops as
 *     static int xdp_init(const struct demi_args *a) { return inet_libos_init(&xdp_netdev_ops, a); }
 *     const struct demi_libos_ops xdp_libos_ops = { .name = "xdp", .init = xdp_init, INET_LIBOS_COMMON_OPS };
 */
#ifndef DEMI_LIBOS_INET_INET_LIBOS_H_
#define DEMI_LIBOS_INET_INET_LIBOS_H_

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "core/libos_ops.h"
#include "core/op.h"
#include "core/queue.h"
#include "inet/inet.h"
#include "netdev/netdev.h"

extern const struct demi_libos_ops afpacket_libos_ops;
extern const struct demi_libos_ops xdp_libos_ops;    /* inet_xdp.c */
extern const struct demi_libos_ops dpdk_libos_ops;   /* inet_dpdk.c */

#define INET_RX_BURST 64
#define INET_RX_BURSTS_PER_POLL 8
#define INET_TX_BATCH 256

struct udp_sock;
struct tcp_conn;
struct pcap_writer;

struct inet_queue {
    struct demi_queue *q;
    int kind;                       /* QK_TCP or QK_UDP */
    struct udp_sock *udp;
    struct tcp_conn *tcp;
    bool listening;
    bool connected;
    bool busy;                      /* progress running: a callback only marks again */
    bool again;
    int err;                        /* TCP: the connection's error (sticky) */
    struct op_list pops, pushes, accepts;
    struct demi_op *connect_op;
    TAILQ_ENTRY(inet_queue) link;
};

TAILQ_HEAD(inet_queue_list, inet_queue);

struct inet_libos {
    bool initialized;
    const struct demi_netdev_ops *nd_ops;
    struct netdev *nd;
    struct inet_stack *stack;
    struct pcap_writer *pcap;
    uint32_t tcp_pop_size;
    struct inet_queue_list queues;
    /* frames tx_burst did not take yet (sent first at the next poll) */
    struct buf *tx_left[INET_TX_BATCH];
    size_t tx_left_n;
    /* counters */
    uint64_t completions;           /* ops finished by the glue */
    uint64_t polls, rx_frames, tx_frames, tx_batches, tx_stalls, blocks, pcap_errors;
};

extern struct inet_libos inet_libos;

/* Initializes the libOS over a netdev. Returns 0, EEXIST, EINVAL (bad
 * configuration, logged), or the netdev's / allocation's errno. */
int inet_libos_init(const struct demi_netdev_ops *nd_ops, const struct demi_args *args);

/* inet_libos_config.c: builds the stack configuration from DEMI_*
 * variables and the device; returns 0 or EINVAL (logged). */
int inet_libos_read_config(struct inet_config *cfg, const struct netdev *nd);
/* Applies DEMI_ARP_STATIC to s; returns 0 or EINVAL (logged). */
int inet_libos_static_arp(struct inet_stack *s);
/* Parses "a:b:c:d:e:f"; returns 0 or EINVAL. */
int inet_libos_parse_mac(const char *str, uint8_t mac[6]);

/* Sends what the stack queued (and what the device refused last time) in
 * batches; returns the number of frames the device took. */
size_t inet_libos_flush_tx(void);

/* Fails every op of list with err; returns how many. */
int inet_fail_all(struct op_list *list, int err);
/* Marks one op finished (for the counters). */
static inline void inet_count_completion(void)
{
    inet_libos.completions++;
}

/* inet_udp_glue.c */
int inet_udp_socket(struct inet_queue *iq);
int inet_udp_bind(struct inet_queue *iq, const struct sockaddr_in *addr);
int inet_udp_connect(struct inet_queue *iq, struct demi_op *op);
int inet_udp_push(struct inet_queue *iq, struct demi_op *op);
int inet_udp_pop(struct inet_queue *iq, struct demi_op *op);
void inet_udp_close(struct inet_queue *iq);
int inet_udp_getname(struct inet_queue *iq, struct sockaddr_in *out, bool peer);

/* inet_tcp_glue.c */
int inet_tcp_socket(struct inet_queue *iq);
int inet_tcp_bind(struct inet_queue *iq, const struct sockaddr_in *addr);
int inet_tcp_listen(struct inet_queue *iq, int backlog);
int inet_tcp_accept(struct inet_queue *iq, struct demi_op *op);
int inet_tcp_connect(struct inet_queue *iq, struct demi_op *op);
int inet_tcp_push(struct inet_queue *iq, struct demi_op *op);
int inet_tcp_pop(struct inet_queue *iq, struct demi_op *op);
void inet_tcp_close(struct inet_queue *iq);
int inet_tcp_getname(struct inet_queue *iq, struct sockaddr_in *out, bool peer);
int inet_tcp_setsockopt(struct inet_queue *iq, int level, int optname, const void *optval, socklen_t optlen);
int inet_tcp_getsockopt(struct inet_queue *iq, int level, int optname, void *optval, socklen_t *optlen);
size_t inet_tcp_queue_counters(struct inet_queue *iq, demi_counter_t *out, size_t cap);

/* inet_libos.c: the shared ops (everything but name and init). */
void inet_libos_fini(void);
int inet_libos_socket(struct demi_queue *q, int domain, int type, int protocol);
int inet_libos_bind(struct demi_queue *q, const struct sockaddr_in *addr);
int inet_libos_listen(struct demi_queue *q, int backlog);
int inet_libos_accept(struct demi_queue *q, struct demi_op *op);
int inet_libos_connect(struct demi_queue *q, struct demi_op *op);
int inet_libos_push(struct demi_queue *q, struct demi_op *op);
int inet_libos_pop(struct demi_queue *q, struct demi_op *op);
int inet_libos_close(struct demi_queue *q);
int inet_libos_setsockopt(struct demi_queue *q, int level, int optname, const void *optval, socklen_t optlen);
int inet_libos_getsockopt(struct demi_queue *q, int level, int optname, void *optval, socklen_t *optlen);
int inet_libos_getpeername(struct demi_queue *q, struct sockaddr_in *out);
int inet_libos_getsockname(struct demi_queue *q, struct sockaddr_in *out);
int inet_libos_poll(int64_t block_ns);
size_t inet_libos_counters(struct demi_queue *q, demi_counter_t *out, size_t cap);

/* Allocates the libOS state of a new queue q of kind (q->priv set). NULL on ENOMEM. */
struct inet_queue *inet_queue_new(struct demi_queue *q, int kind);
/* Frees iq (its ops must be finished). */
void inet_queue_free(struct inet_queue *iq);

#define INET_LIBOS_COMMON_OPS                                                                                          \
    .fini = inet_libos_fini, .socket = inet_libos_socket, .bind = inet_libos_bind, .listen = inet_libos_listen,        \
    .accept = inet_libos_accept, .connect = inet_libos_connect, .push = inet_libos_push, .pop = inet_libos_pop,        \
    .close = inet_libos_close, .setsockopt = inet_libos_setsockopt, .getsockopt = inet_libos_getsockopt,               \
    .getpeername = inet_libos_getpeername, .getsockname = inet_libos_getsockname, .poll = inet_libos_poll,             \
    .counters = inet_libos_counters

#endif /* DEMI_LIBOS_INET_INET_LIBOS_H_ */
