/*
 * The demi-echo server's state (private to echo_server*.c).
 *
 * One event loop (echo_server.c) collects completions with
 * demi_wait_next_n and hands each to the TCP part (echo_server_tcp.c:
 * accepts and connections) or the UDP part (echo_server_udp.c). Every
 * completion is matched by its qtoken, not only by its qd, so completions
 * of a closed queue (whose qd may be reused) are recognised and dropped.
 */
#ifndef DEMI_ECHO_SERVER_H_
#define DEMI_ECHO_SERVER_H_

#include <demi/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "echo.h"

/* Most pushes pending on one TCP connection; past it, the connection is
 * not popped until they drain (bounds memory per connection). */
#define SRV_TCP_MAX_PUSHES 16
/* Pops kept pending on the UDP queue, and most pushtos pending there. */
#define SRV_UDP_POPS 16
#define SRV_UDP_MAX_PUSHES 64

struct srv_push {
    demi_qtoken_t qt;
    demi_sgarray_t sga;         /* freed when the push completes */
};

struct srv_conn {
    int qd;
    bool pop_pending;
    bool eof;                   /* peer closed: close once the pushes drain */
    demi_qtoken_t pop_qt;
    uint32_t npush;
    struct srv_push push[SRV_TCP_MAX_PUSHES];
};

struct srv_udp {
    int qd;                     /* -1 when not serving UDP */
    uint32_t npop;
    demi_qtoken_t pop_qt[SRV_UDP_POPS];
    uint32_t npush;
    struct srv_push push[SRV_UDP_MAX_PUSHES];
};

struct srv_stats {
    uint64_t accepted;
    uint64_t closed;
    uint64_t tcp_bytes;         /* bytes echoed (pushes completed) */
    uint64_t udp_datagrams;
    uint64_t udp_bytes;
    uint64_t errors;
};

struct server {
    int lqd;                    /* TCP listener, -1 when not serving TCP */
    bool accept_pending;
    demi_qtoken_t accept_qt;
    struct echo_qdmap conns;    /* qd -> struct srv_conn */
    uint64_t nconns;
    struct srv_udp udp;
    struct srv_stats stats;
    uint64_t logged;            /* error lines printed (rate limit) */
};

/* Logs a per-connection or per-datagram error (the first few hundred, then
 * every thousandth) and counts it. */
void srv_log_error(struct server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- echo_server_tcp.c --- */

/* Starts an accept on the listener if none is pending. */
void srv_tcp_arm_accept(struct server *s);

/* Handles a completion of the listener or of a live connection. Returns
 * false when it matches none (e.g. an op of a closed queue): the caller
 * drops it. */
bool srv_tcp_complete(struct server *s, demi_qresult_t *qr);

/* Closes every connection and the listener. */
void srv_tcp_shutdown(struct server *s);

/* --- echo_server_udp.c --- */

/* Keeps SRV_UDP_POPS pops pending, fewer while pushtos back up. */
void srv_udp_arm(struct server *s);

/* Handles a completion of the UDP queue; returns false when it matches
 * none of its pending ops. */
bool srv_udp_complete(struct server *s, demi_qresult_t *qr);

/* Frees pending sgas and closes the UDP queue. */
void srv_udp_shutdown(struct server *s);

#endif /* DEMI_ECHO_SERVER_H_ */
