/*
 * NewReno congestion control: RFC 5681 slow start and congestion avoidance
 * with appropriate byte counting (L = 1 SMSS), the ssthresh of RFC 5681
 * (3.1, eq. 4) on loss; fast recovery itself (RFC 6582) is in tcp_input.c.
 */
#include <string.h>

#include "cc.h"
#include "inet/tcp/tcp_var.h"

uint32_t tcp_cc_initial_window(const struct tcp_conn *c)
{
    uint32_t mss = c->t_maxseg;
    uint32_t iw = 10 * mss;
    uint32_t floor = 2 * mss > 14600 ? 2 * mss : 14600;

    return iw < floor ? iw : floor;
}

const struct tcp_cc_ops *tcp_cc_find(const char *name)
{
    if (strcmp(name, "cubic") == 0)
        return &tcp_cc_cubic;
    if (strcmp(name, "newreno") == 0 || strcmp(name, "reno") == 0)
        return &tcp_cc_newreno;
    return NULL;
}

static void newreno_init(struct tcp_conn *c)
{
    c->cwnd = tcp_cc_initial_window(c);
    c->ssthresh = UINT32_MAX / 2;
    c->bytes_acked = 0;
}

static void newreno_ack_received(struct tcp_conn *c, uint32_t acked)
{
    uint32_t mss = c->t_maxseg;

    if (c->cwnd < c->ssthresh) {
        /* slow start: cwnd += min(N, SMSS) */
        c->cwnd += acked < mss ? acked : mss;
        return;
    }
    /* congestion avoidance: one SMSS per cwnd of acknowledged bytes */
    c->bytes_acked += acked;
    if (c->bytes_acked >= c->cwnd) {
        c->bytes_acked -= c->cwnd;
        c->cwnd += mss;
    }
}

static void newreno_congestion_event(struct tcp_conn *c, enum tcp_cc_event ev)
{
    uint32_t flight = tcp_flight(c);
    uint32_t half = flight / 2;
    uint32_t floor = 2u * c->t_maxseg;

    c->ssthresh = half > floor ? half : floor;
    c->bytes_acked = 0;
    if (ev == CC_EV_RTO)
        c->cwnd = c->t_maxseg;
}

static void newreno_post_recovery(struct tcp_conn *c)
{
    /* RFC 6582 3.2 step 3: deflate to min(ssthresh, FlightSize + SMSS) */
    uint32_t flight = tcp_flight(c) + c->t_maxseg;

    c->cwnd = flight < c->ssthresh ? flight : c->ssthresh;
    if (c->cwnd < c->t_maxseg)
        c->cwnd = c->t_maxseg;
}

static void newreno_after_idle(struct tcp_conn *c)
{
    /* RFC 5681 4.1: restart window after an idle period of one RTO */
    uint32_t rw = tcp_cc_initial_window(c);

    if (c->cwnd > rw)
        c->cwnd = rw;
}

const struct tcp_cc_ops tcp_cc_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .ack_received = newreno_ack_received,
    .congestion_event = newreno_congestion_event,
    .post_recovery = newreno_post_recovery,
    .after_idle = newreno_after_idle,
};
