/*
 * Inside the stack: the state shared by the protocol modules (private to
 * src/inet). eth.c, arp.c, ipv4.c, icmp.c, udp.c and stack.c implement
 * the functions below; tcp/ uses them. Modules may add fields here (each
 * under its own comment) but must not touch another module's fields.
 */
#ifndef DEMI_INET_STACK_H_
#define DEMI_INET_STACK_H_

#include <stdint.h>

#include "core/buf.h"
#include "core/timer.h"
#include "inet.h"

#define ETH_HDR_LEN 14
#define IPV4_HDR_LEN 20
#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

struct tcp_stack;   /* tcp/ */
struct udp_stack;   /* udp.c */
struct arp_cache;   /* arp.c */

struct ipv4_stats {
    uint64_t rx_packets, rx_bad_header, rx_bad_checksum, rx_not_for_us, rx_fragments_dropped,
        rx_bad_length, rx_unknown_protocol, rx_ttl_expired;
    uint64_t tx_packets, tx_no_route, tx_arp_queue_full, tx_too_big;
    uint64_t rx_bad_source, rx_delivered, tx_nomem;
};

/* icmp.c counters and its rate limit of error messages */
struct icmp_state {
    uint64_t rx_packets, rx_bad_checksum, rx_bad_length, rx_echo_requests, rx_broadcast_ignored, rx_other;
    uint64_t tx_echo_replies, tx_unreachable, tx_rate_limited, tx_failed;
    uint64_t err_window_start_ns;   /* error messages sent in the current 1 ms window */
    uint32_t err_in_window;
};

struct inet_stack {
    struct inet_config cfg;
    uint64_t now_ns;                /* time of the current input/timer call */
    uint64_t rng_state;             /* inet_rand */
    struct timer_heap timers;       /* every protocol timer (arm with theap_arm(&s->timers, ...)) */
    /* frames waiting for inet_tx_drain: singly linked through buf->next */
    struct buf *tx_head, *tx_tail;
    size_t tx_len;
    /* modules' own state */
    struct arp_cache *arp;
    struct udp_stack *udp;
    struct tcp_stack *tcp;
    struct ipv4_stats ip_stats;
    uint16_t ip_id;
    struct icmp_state icmp;
    /* eth.c counters */
    uint64_t eth_rx_frames, eth_rx_runts, eth_rx_not_for_us, eth_rx_unknown_type, eth_tx_frames;
    uint64_t eth_tx_queue_full;     /* stack.c: frames dropped, inet_tx_drain not called */
    /* pcap capture (DEMI_PCAP), owned by the inet libOS: called for every
     * frame in and out when set */
    void (*capture)(void *arg, const struct buf *frame, int outgoing);
    void *capture_arg;
};

/* Next pseudo-random 64-bit number from the stack's seeded PRNG. */
uint64_t inet_rand(struct inet_stack *s);

/* Queues a finished frame for inet_tx_drain (consumes it). */
void inet_tx_enqueue(struct inet_stack *s, struct buf *frame);

/* Sends an IPv4 packet: pkt->data is the L4 header, pkt->len the L4
 * length. Prepends the IPv4 header (DF set, TTL 64, the stack's next IP id)
 * and the Ethernet header, resolving the next hop with ARP (the packet waits
 * in a bounded queue while it resolves). Copies pkt first if it has too
 * little headroom. Always consumes pkt. Returns 0 (sent or queued),
 * EHOSTUNREACH (no route), ENOBUFS (ARP queue full), EMSGSIZE (over MTU). */
int ipv4_output(struct inet_stack *s, struct buf *pkt, uint32_t src, uint32_t dst, uint8_t proto);

/* True if ip is this stack's address (or a broadcast it accepts). */
int ipv4_is_local(const struct inet_stack *s, uint32_t ip);

/* Internet checksum helpers (RFC 1071). inet_csum_partial adds len bytes at
 * p to a running 32-bit sum; inet_csum_fold folds and complements it.
 * Sums are over the raw bytes, so the folded result is in NETWORK byte
 * order: store it into the header as is (memcpy or a uint16_t field), do
 * not htons it. A packet whose stored checksum is right folds to 0. Every
 * piece but the last given to inet_csum_partial must have an even length. */
uint32_t inet_csum_partial(const void *p, size_t len, uint32_t sum);
uint16_t inet_csum_fold(uint32_t sum);

/* Sum of the IPv4 pseudo-header for an L4 checksum (not folded); l4_len in
 * host byte order, addresses in network byte order. */
uint32_t inet_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len);

/* Sends ICMP destination unreachable (type 3, code) quoting the offending
 * IPv4 packet (ip points at its IP header, len bytes of it available). */
void icmp_send_unreachable(struct inet_stack *s, uint8_t code, const uint8_t *ip, size_t len);

#endif /* DEMI_INET_STACK_H_ */
