/*
 * libdemi's TCP/IP stack: the interface the inet libOS uses (private).
 *
 * The stack is a pure function of its inputs: frames and time go in,
 * frames and socket events come out. It makes no system calls and never
 * reads a clock; every entry point takes the current time, and its random
 * numbers come from a PRNG seeded by the configuration, so a run over the
 * sim netdev is reproducible.
 *
 * Call order:
 *   inet_stack_new(cfg, now)
 *   loop: inet_input(s, frame, now)*      frames from rx_burst (consumed)
 *         inet_timers(s, now)             fires due protocol timers
 *         inet_tx_drain(s, frames, max)   frames to hand to tx_burst
 *         inet_next_deadline(s)           when to call inet_timers next
 *   inet_stack_free(s)
 * Sockets: udp.h (UDP) and tcp/tcp.h (TCP) — their calls also queue frames
 * for inet_tx_drain and report progress through the callbacks given there.
 */
#ifndef DEMI_INET_INET_H_
#define DEMI_INET_INET_H_

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct inet_stack;

/* Configuration of one stack. Addresses are in network byte order. */
struct inet_config {
    uint8_t mac[6];
    uint32_t ipv4_addr;
    uint8_t ipv4_prefix_len;
    uint32_t gateway;               /* 0: none (only the local subnet is reachable) */
    uint16_t mtu;                   /* IP MTU, default 1500 */
    uint64_t seed;                  /* PRNG seed (ISN secret, ephemeral ports) */
    /* ARP */
    uint64_t arp_entry_ttl_ns;      /* default 300 s */
    uint64_t arp_retry_ns;          /* default 1 s */
    uint32_t arp_retries;           /* default 3 */
    uint32_t arp_queue_max;         /* packets waiting on a resolution, default 64 */
    uint32_t arp_cache_max;         /* entries, default 4096 */
    /* UDP */
    uint32_t udp_rcvbuf;            /* bytes queued per socket before drops, default 1 MiB */
    /* TCP (defaults in tcp/tcp.h: tcp_config_defaults) */
    uint32_t tcp_sndbuf;            /* bytes held per connection for sending, default 1 MiB */
    uint32_t tcp_rcvbuf;            /* receive window / reassembly bound, default 1 MiB */
    uint64_t tcp_msl_ns;            /* TIME_WAIT = 2 * MSL, default 30 s */
    uint64_t tcp_rto_min_ns;        /* default 200 ms */
    uint64_t tcp_rto_max_ns;        /* default 60 s */
    uint64_t tcp_rto_initial_ns;    /* default 1 s */
    uint64_t tcp_delack_ns;         /* default 40 ms; 0 disables delayed ACKs */
    uint32_t tcp_syn_retries;       /* default 6 */
    uint32_t tcp_retries;           /* data retransmissions before ETIMEDOUT, default 15 */
    uint64_t tcp_keepalive_idle_ns; /* default 7200 s */
    uint64_t tcp_keepalive_intvl_ns;/* default 75 s */
    uint32_t tcp_keepalive_probes;  /* default 9 */
    char tcp_cc[16];                /* "cubic" (default) or "newreno" */
    uint32_t tcp_syn_backlog_max;   /* half-open connections per listener, default 1024 */
    uint32_t tcp_max_conns;         /* default 1,000,000 */
};

/* Fills cfg with defaults (no address set). */
void inet_config_defaults(struct inet_config *cfg);

/* Creates a stack; returns NULL (errno EINVAL for a bad config, ENOMEM). */
struct inet_stack *inet_stack_new(const struct inet_config *cfg, uint64_t now_ns);

/* Frees the stack, every socket and every queued frame. */
void inet_stack_free(struct inet_stack *s);

/* Processes one received Ethernet frame (frame->data at the Ethernet
 * header). Always consumes the reference. Malformed or unwanted frames
 * are counted and dropped. */
void inet_input(struct inet_stack *s, struct buf *frame, uint64_t now_ns);

/* Fires every protocol timer due at now_ns. */
void inet_timers(struct inet_stack *s, uint64_t now_ns);

/* Earliest time inet_timers has work, or UINT64_MAX. */
uint64_t inet_next_deadline(const struct inet_stack *s);

/* Moves up to max frames the stack wants sent into frames[] (ownership
 * moves to the caller); returns how many. */
size_t inet_tx_drain(struct inet_stack *s, struct buf **frames, size_t max);

/* Adds a static ARP entry (never expires, never replaced by what the wire
 * says). Returns 0, or ENOSPC when the cache is full of static entries. */
int inet_arp_add_static(struct inet_stack *s, uint32_t ip, const uint8_t mac[6]);

/* Number of frames waiting in inet_tx_drain's queue. */
size_t inet_tx_pending(const struct inet_stack *s);

/* Named counters of the stack (see demi/stats.h); copies up to cap and
 * returns how many there are. */
struct demi_counter;
size_t inet_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap);

#endif /* DEMI_INET_INET_H_ */
