/*
 * Congestion control behind a small ops table (after FreeBSD's cc(4)).
 * The TCP code calls: init when a connection is synchronized;
 * ack_received for every ACK that advances snd_una outside recovery;
 * congestion_event when loss is detected (three duplicate ACKs or SACK
 * loss: CC_EV_DUPACK, the retransmission timer: CC_EV_RTO); post_recovery
 * when fast recovery ends; after_idle before sending after an idle period.
 * Windows are in bytes (c->cwnd, c->ssthresh); c->t_maxseg is the SMSS.
 */
#ifndef DEMI_INET_TCP_CC_CC_H_
#define DEMI_INET_TCP_CC_CC_H_

#include <stdint.h>

struct tcp_conn;

enum tcp_cc_event { CC_EV_DUPACK = 1, CC_EV_RTO };

struct tcp_cc_ops {
    const char *name;
    void (*init)(struct tcp_conn *c);
    void (*ack_received)(struct tcp_conn *c, uint32_t acked);
    void (*congestion_event)(struct tcp_conn *c, enum tcp_cc_event ev);
    void (*post_recovery)(struct tcp_conn *c);
    void (*after_idle)(struct tcp_conn *c);
};

extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;

/* The ops named name ("cubic", "newreno"), or NULL. */
const struct tcp_cc_ops *tcp_cc_find(const char *name);

/* RFC 5681 initial window (RFC 3390 / 6928 style: min(10 SMSS, max(2 SMSS, 14600))). */
uint32_t tcp_cc_initial_window(const struct tcp_conn *c);

#endif /* DEMI_INET_TCP_CC_CC_H_ */
