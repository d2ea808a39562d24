/*
 * UDP sockets of the inet stack (private; used by the inet libOS and tests).
 *
 * Call order: udp_open -> [udp_bind] -> { udp_sendto, udp_recv }* -> udp_close.
 * A socket is bound at most once; udp_sendto on an unbound socket binds an
 * ephemeral port first. Received datagrams wait in a per-socket queue bounded
 * in bytes (inet_config.udp_rcvbuf); datagrams that do not fit are dropped
 * and counted. The owner's callback runs (from inside inet_input) each time
 * a datagram is queued. Addresses and ports are in network byte order.
 */
#ifndef DEMI_INET_UDP_H_
#define DEMI_INET_UDP_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

struct inet_stack;
struct udp_sock;
struct demi_counter;

#define UDP_HDR_LEN 8

typedef void (*udp_event_fn)(void *user, struct udp_sock *u);

/* Creates an unbound socket. Returns 0 or ENOMEM. */
int udp_open(struct inet_stack *s, struct udp_sock **out, udp_event_fn fn, void *user);

/* Binds to ip:port (ip 0 or the stack's address; port 0: ephemeral).
 * Returns 0, EINVAL (already bound), EADDRNOTAVAIL (ip not local or no free
 * ephemeral port), EADDRINUSE. */
int udp_bind(struct udp_sock *u, uint32_t ip, uint16_t port);

/* Sets the default destination for udp_sendto with ip 0 (0, 0 clears it).
 * Returns 0, or EADDRNOTAVAIL when it needs an ephemeral port and has none. */
int udp_connect(struct udp_sock *u, uint32_t ip, uint16_t port);

/* Sends one datagram: the valid bytes of the n buffers (gathered in order)
 * to ip:port (ip 0: the connected peer). Takes the caller's references on
 * success and on failure. Returns 0 (sent, or queued on ARP), EDESTADDRREQ,
 * EMSGSIZE (larger than the MTU allows: no fragmentation), EADDRNOTAVAIL,
 * EHOSTUNREACH, ENOBUFS (ARP queue full), ENOMEM, EINVAL (port 0). */
int udp_sendto(struct udp_sock *u, struct buf **bufs, size_t n, uint32_t ip, uint16_t port);

/* Takes the oldest queued datagram: *out (owned by the caller; a slice of
 * the frame) and the sender's address. Returns its length (>= 0), or
 * -EAGAIN when the queue is empty. */
ssize_t udp_recv(struct udp_sock *u, struct buf **out, uint32_t *ip, uint16_t *port);

/* Datagrams waiting in udp_recv's queue. */
size_t udp_pending(const struct udp_sock *u);

/* Local address (0.0.0.0:0 when unbound) and connected peer (0 if none). */
void udp_getname(const struct udp_sock *u, uint32_t *lip, uint16_t *lport, uint32_t *rip, uint16_t *rport);

/* Frees the socket and every queued datagram; the callback is not called again. */
void udp_close(struct udp_sock *u);

/* Largest payload udp_sendto accepts on this stack (MTU - 28). */
size_t udp_max_payload(const struct inet_stack *s);

/* Stack-wide named counters ("udp.*"). */
size_t udp_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap);

/* --- used by the rest of the stack --- */
int udp_stack_init(struct inet_stack *s);
void udp_stack_fini(struct inet_stack *s);

/* One received datagram: dgram->data at the UDP header, dgram->len from
 * the IP total length. ip/iplen: the whole IP packet, for ICMP errors.
 * Consumes dgram. */
void udp_input(struct inet_stack *s, struct buf *dgram, uint32_t src, uint32_t dst, const uint8_t *ip, size_t iplen);

#endif /* DEMI_INET_UDP_H_ */
