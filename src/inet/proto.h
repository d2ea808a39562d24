/*
 * Functions the protocol modules of src/inet call on each other (private to
 * src/inet; tcp/ uses stack.h). Input runs eth_input -> arp_input |
 * ipv4_input -> icmp_input | udp_input | tcp_input; output runs
 * udp/tcp/icmp -> ipv4_output -> arp_resolve_output -> eth_output ->
 * inet_tx_enqueue.
 */
#ifndef DEMI_INET_PROTO_H_
#define DEMI_INET_PROTO_H_

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "stack.h"

#define ETHERTYPE_IPV4_ 0x0800
#define ETHERTYPE_ARP_ 0x0806

extern const uint8_t eth_broadcast[6];

/* Ensures pkt has n bytes of writable headroom (copying it into a fresh
 * buffer if not) and prepends them. Returns the new data pointer with *pkt
 * possibly replaced, or NULL on ENOMEM (pkt is then freed and *pkt NULL). */
uint8_t *inet_buf_prepend(struct buf **pkt, size_t n);

/* eth.c: received frame (consumed). */
void eth_input(struct inet_stack *s, struct buf *frame);
/* eth.c: prepends the Ethernet header and queues the frame (consumes pkt).
 * Returns 0 or ENOMEM. */
int eth_output(struct inet_stack *s, struct buf *pkt, const uint8_t dst[6], uint16_t ethertype);

/* arp.c */
int arp_init(struct inet_stack *s);
void arp_fini(struct inet_stack *s);
void arp_input(struct inet_stack *s, struct buf *pkt);
/* Sends an IPv4 packet (pkt->data at the IP header) to next hop nh: at once
 * if its MAC is known, else queued while ARP resolves. Consumes pkt.
 * Returns 0, ENOBUFS (queue full) or ENOMEM. */
int arp_output(struct inet_stack *s, struct buf *pkt, uint32_t nh);
/* Adds a static entry (never expires, never replaced). Returns 0, ENOMEM or ENOSPC. */
int arp_add_static(struct inet_stack *s, uint32_t ip, const uint8_t mac[6]);
/* Looks ip up: 1 and *mac set if resolved, 0 otherwise (no side effects). */
int arp_lookup(const struct inet_stack *s, uint32_t ip, uint8_t mac[6]);
size_t arp_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap);

/* ipv4.c */
void ipv4_input(struct inet_stack *s, struct buf *pkt);
size_t ipv4_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap);

/* icmp.c */
void icmp_input(struct inet_stack *s, struct buf *pkt, uint32_t src, uint32_t dst, int dst_broadcast);
size_t icmp_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap);

/* stack.c: appends one counter if there is room; returns the new count. */
size_t inet_counter_put(struct demi_counter *out, size_t cap, size_t n, const char *name, uint64_t value);

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

#endif /* DEMI_INET_PROTO_H_ */
