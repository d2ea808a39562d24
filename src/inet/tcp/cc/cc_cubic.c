/*
 * CUBIC congestion control (RFC 9438): C = 0.4, beta_cubic = 0.7, fast
 * convergence, the Reno-friendly region (alpha_cubic = 3(1-b)/(1+b) until
 * W_est reaches W_max, then 1). Windows are computed in segments (doubles)
 * and stored in bytes in c->cwnd.
 */
#include <math.h>

#include "cc.h"
#include "inet/tcp/tcp_var.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7

static void cubic_init(struct tcp_conn *c)
{
    c->cwnd = tcp_cc_initial_window(c);
    c->ssthresh = UINT32_MAX / 2;
    c->cubic.w_max = 0;
    c->cubic.w_last_max = 0;
    c->cubic.k = 0;
    c->cubic.w_est = 0;
    c->cubic.epoch_valid = 0;
    c->bytes_acked = 0;
}

/* Starts a congestion avoidance epoch (RFC 9438 4.2, 4.8). */
static void cubic_epoch_start(struct tcp_conn *c)
{
    double cwnd = (double)c->cwnd / c->t_maxseg;

    c->cubic.epoch_ns = c->s->now_ns;
    c->cubic.epoch_valid = 1;
    c->cubic.w_est = cwnd;
    if (c->cubic.w_max < cwnd) {
        /* no loss yet, or cwnd above the last maximum: start at the plateau */
        c->cubic.w_max = cwnd;
        c->cubic.k = 0;
    } else {
        c->cubic.k = cbrt((c->cubic.w_max - cwnd) / CUBIC_C);
    }
}

static void cubic_ack_received(struct tcp_conn *c, uint32_t acked)
{
    uint32_t mss = c->t_maxseg;
    double cwnd, t, target, w_cubic, rtt;

    if (c->cwnd < c->ssthresh) {
        c->cwnd += acked < mss ? acked : mss;
        return;
    }
    if (!c->cubic.epoch_valid)
        cubic_epoch_start(c);
    cwnd = (double)c->cwnd / mss;
    rtt = c->srtt_ns ? (double)c->srtt_ns / 1e9 : 0.1;
    t = (double)(c->s->now_ns - c->cubic.epoch_ns) / 1e9;
    /* W_cubic(t + RTT) as the target (4.4) */
    w_cubic = CUBIC_C * pow(t + rtt - c->cubic.k, 3) + c->cubic.w_max;
    target = w_cubic;
    if (target < cwnd)
        target = cwnd;
    if (target > 1.5 * cwnd)
        target = 1.5 * cwnd;
    /* Reno-friendly estimate (4.3) */
    {
        double alpha = c->cubic.w_est >= c->cubic.w_max ? 1.0 : 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA);
        c->cubic.w_est += alpha * ((double)acked / mss) / cwnd;
    }
    if (w_cubic < c->cubic.w_est) {
        /* Reno-friendly region: grow like the estimate */
        target = c->cubic.w_est;
    }
    if (target > cwnd) {
        /* (target - cwnd) / cwnd segments per acknowledged segment, in bytes */
        double inc = (target - cwnd) / cwnd * (double)acked;
        c->cwnd += (uint32_t)(inc + 0.5);
    }
}

static void cubic_congestion_event(struct tcp_conn *c, enum tcp_cc_event ev)
{
    uint32_t mss = c->t_maxseg;
    double cwnd = (double)c->cwnd / mss;
    double ss;

    /* fast convergence (4.7) */
    if (cwnd < c->cubic.w_last_max)
        c->cubic.w_max = cwnd * (1 + CUBIC_BETA) / 2;
    else
        c->cubic.w_max = cwnd;
    c->cubic.w_last_max = cwnd;
    ss = cwnd * CUBIC_BETA;
    if (ss < 2)
        ss = 2;
    c->ssthresh = (uint32_t)(ss * mss);
    c->cubic.epoch_valid = 0;
    c->bytes_acked = 0;
    if (ev == CC_EV_RTO) {
        c->cwnd = mss;
        c->cubic.k = 0;
    }
}

static void cubic_post_recovery(struct tcp_conn *c)
{
    /* cwnd = ssthresh (= beta * cwnd at the loss), as in RFC 9438 4.6 */
    c->cwnd = c->ssthresh;
    if (c->cwnd < c->t_maxseg)
        c->cwnd = c->t_maxseg;
}

static void cubic_after_idle(struct tcp_conn *c)
{
    uint32_t rw = tcp_cc_initial_window(c);

    if (c->cwnd > rw)
        c->cwnd = rw;
    c->cubic.epoch_valid = 0;
}

const struct tcp_cc_ops tcp_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .ack_received = cubic_ack_received,
    .congestion_event = cubic_congestion_event,
    .post_recovery = cubic_post_recovery,
    .after_idle = cubic_after_idle,
};
