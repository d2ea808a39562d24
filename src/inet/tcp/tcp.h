/*
 * TCP: the socket-level interface (private). Implemented in src/inet/tcp/,
 * used by the inet libOS (src/libos/inet/) and by tests/stack/.
 *
 * A struct tcp_conn is a connection or a listener. The owner learns of
 * progress through its callback (called from inside inet_input,
 * inet_timers and the tcp_* calls, never re-entrantly for the same event):
 *   TCP_EV_CONNECTED   an active open finished (tcp_connect)
 *   TCP_EV_ACCEPTABLE  a listener has a connection ready for tcp_accept
 *   TCP_EV_READABLE    tcp_recv has data or end-of-stream
 *   TCP_EV_WRITABLE    tcp_send can take more bytes
 *   TCP_EV_ERROR       the connection failed: err is ECONNREFUSED,
 *                      ECONNRESET, ETIMEDOUT, EHOSTUNREACH...; every later
 *                      call returns -err
 * After tcp_close or tcp_abort the owner gets no more callbacks and must
 * not use the pointer: the stack frees the connection when it is done
 * (FIN handshake, TIME_WAIT).
 * Addresses and ports are in network byte order.
 */
#ifndef DEMI_INET_TCP_TCP_H_
#define DEMI_INET_TCP_TCP_H_

#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

struct inet_stack;
struct tcp_conn;

enum tcp_event {
    TCP_EV_CONNECTED = 1,
    TCP_EV_ACCEPTABLE,
    TCP_EV_READABLE,
    TCP_EV_WRITABLE,
    TCP_EV_ERROR,
};

typedef void (*tcp_event_fn)(void *user, struct tcp_conn *c, enum tcp_event ev, int err);

/* Creates an unbound connection. Returns 0, ENOMEM or EMFILE. */
int tcp_open(struct inet_stack *s, struct tcp_conn **out, tcp_event_fn fn, void *user);

/* Binds to ip:port (ip 0: any local address; port 0: an ephemeral port).
 * Returns 0, EINVAL (already bound, or not a local address),
 * EADDRINUSE. */
int tcp_bind(struct tcp_conn *c, uint32_t ip, uint16_t port);

/* Listens with a bounded accept queue of backlog connections. Returns 0,
 * EINVAL (connected), or binds an ephemeral port first when unbound. */
int tcp_listen(struct tcp_conn *c, int backlog);

/* Takes one established connection off a listener's accept queue and gives
 * it a callback. Returns 0, EAGAIN (none ready), EINVAL (not listening). */
int tcp_accept(struct tcp_conn *l, struct tcp_conn **out, tcp_event_fn fn, void *user);

/* Number of established connections waiting on listener l for tcp_accept
 * (0 when l is not listening). Lets the owner allocate what an accepted
 * connection needs only when there is one. */
uint32_t tcp_accept_ready(const struct tcp_conn *l);

/* Starts an active open. Returns 0 (completion via TCP_EV_CONNECTED or
 * TCP_EV_ERROR), EISCONN, EALREADY, EADDRNOTAVAIL (no ephemeral port),
 * ENETUNREACH. */
int tcp_connect(struct tcp_conn *c, uint32_t ip, uint16_t port);

/* Queues up to len bytes of b's valid data starting at off for sending,
 * as far as the send buffer has room (the stack takes references, no copy).
 * Returns the number of bytes accepted (0 when the buffer is full: wait for
 * TCP_EV_WRITABLE), or -ENOTCONN, -EPIPE (after shutdown/close), -err
 * after TCP_EV_ERROR. */
ssize_t tcp_send(struct tcp_conn *c, struct buf *b, size_t off, size_t len);

/* Takes the next in-order received data, at most max bytes, as one buffer
 * (*out, owned by the caller; usually a zero-copy slice of the received
 * frame). Returns the byte count (> 0), 0 at end of stream (peer's FIN,
 * *out NULL), -EAGAIN when nothing is ready, -err after an error. */
ssize_t tcp_recv(struct tcp_conn *c, struct buf **out, size_t max);

/* Sends FIN after the queued data (half close). Returns 0 or -ENOTCONN. */
int tcp_shutdown(struct tcp_conn *c);

/* Releases the connection gracefully: queued data is still sent, then FIN.
 * Unread received data makes it an abort (RST), as on Linux. */
void tcp_close(struct tcp_conn *c);

/* Releases the connection at once with a RST (or silently if unconnected). */
void tcp_abort(struct tcp_conn *c);

/* Local and remote address of c (0 where unknown). */
void tcp_getname(const struct tcp_conn *c, uint32_t *lip, uint16_t *lport, uint32_t *rip, uint16_t *rport);

enum tcp_opt {
    TCP_OPT_NODELAY = 1,    /* bool: disable Nagle */
    TCP_OPT_KEEPALIVE,      /* bool */
    TCP_OPT_KEEPIDLE,       /* seconds */
    TCP_OPT_KEEPINTVL,      /* seconds */
    TCP_OPT_KEEPCNT,        /* probes */
    TCP_OPT_SNDBUF,         /* bytes */
    TCP_OPT_RCVBUF,         /* bytes (before connecting: also the window scale) */
    TCP_OPT_LINGER0,        /* bool: close sends RST (SO_LINGER with l_linger 0) */
    TCP_OPT_REUSEADDR,      /* bool */
    TCP_OPT_ERROR,          /* get: pending error, cleared */
    TCP_OPT_MAXSEG,         /* get: effective send MSS */
};

/* Returns 0, or -ENOPROTOOPT / -EINVAL. */
int tcp_setopt(struct tcp_conn *c, enum tcp_opt opt, int value);
int tcp_getopt(struct tcp_conn *c, enum tcp_opt opt, int *value);

/* Per-connection and stack-wide named counters (demi/stats.h). */
struct demi_counter;
size_t tcp_conn_counters(const struct tcp_conn *c, struct demi_counter *out, size_t cap);
size_t tcp_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap);

/* --- used by the rest of the stack (ipv4.c, stack.c) --- */

/* Creates / frees the stack's TCP state (called by inet_stack_new/free). */
int tcp_stack_init(struct inet_stack *s);
void tcp_stack_fini(struct inet_stack *s);

/* One received TCP segment: seg->data at the TCP header, seg->len the TCP
 * header plus payload (IP padding removed). src/dst: the IP addresses.
 * Verifies the checksum unless the netdev did (buf flag BUF_FLAG_L4_CSUM_OK).
 * Consumes seg. */
void tcp_input(struct inet_stack *s, struct buf *seg, uint32_t src, uint32_t dst);

#endif /* DEMI_INET_TCP_TCP_H_ */
