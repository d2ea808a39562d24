/*
 * TCP timers, all on the stack's timer heap (s->timers):
 *   t_rexmt   retransmission (RFC 6298: Karn's rule, exponential backoff,
 *             ETIMEDOUT after cfg.tcp_retries), SYN retries
 *             (cfg.tcp_syn_retries), or the persist timer (zero window
 *             probes) when TF_PERSIST is set;
 *   t_delack  delayed ACK (cfg.tcp_delack_ns);
 *   t_keep    keepalive probes, TIME_WAIT (2 MSL) and the FIN_WAIT_2
 *             timeout of a closed connection.
 */
#include <errno.h>

#include "cc/cc.h"
#include "tcp_var.h"

#define TCP_MAX_BACKOFF 16
#define TCP_CLOCK_GRANULARITY_NS 1000000ull

static void tcp_rexmt_fire(struct timer *t, void *arg);
static void tcp_delack_fire(struct timer *t, void *arg);
static void tcp_keep_fire(struct timer *t, void *arg);

void tcp_timers_init(struct tcp_conn *c)
{
    timer_init(&c->t_rexmt, tcp_rexmt_fire, c);
    timer_init(&c->t_delack, tcp_delack_fire, c);
    timer_init(&c->t_keep, tcp_keep_fire, c);
}

void tcp_timers_cancel(struct tcp_conn *c)
{
    struct timer_heap *h = &c->s->timers;

    theap_cancel(h, &c->t_rexmt);
    theap_cancel(h, &c->t_delack);
    theap_cancel(h, &c->t_keep);
    c->flags &= ~TF_PERSIST;
}

/* The current RTO with exponential backoff, clamped to cfg.tcp_rto_max_ns. */
uint64_t tcp_rto_backed_off(const struct tcp_conn *c)
{
    uint64_t max = c->s->cfg.tcp_rto_max_ns ? c->s->cfg.tcp_rto_max_ns : 60000000000ull;
    uint32_t shift = c->rxtshift < TCP_MAX_BACKOFF ? c->rxtshift : TCP_MAX_BACKOFF;
    uint64_t rto = c->rto_ns;

    for (uint32_t i = 0; i < shift && rto < max; i++)
        rto *= 2;
    return rto < max ? rto : max;
}

void tcp_rexmt_arm(struct tcp_conn *c)
{
    c->flags &= ~TF_PERSIST;
    theap_arm(&c->s->timers, &c->t_rexmt, c->s->now_ns + tcp_rto_backed_off(c));
}

void tcp_rexmt_cancel(struct tcp_conn *c)
{
    theap_cancel(&c->s->timers, &c->t_rexmt);
    c->flags &= ~TF_PERSIST;
}

void tcp_persist_arm(struct tcp_conn *c)
{
    uint64_t t = tcp_rto_backed_off(c);
    uint64_t min = c->s->cfg.tcp_rto_min_ns;

    if (t < min)
        t = min;
    c->flags |= TF_PERSIST;
    theap_arm(&c->s->timers, &c->t_rexmt, c->s->now_ns + t);
}

void tcp_delack_arm(struct tcp_conn *c)
{
    c->flags |= TF_DELACK;
    if (!timer_armed(&c->t_delack))
        theap_arm(&c->s->timers, &c->t_delack, c->s->now_ns + c->s->cfg.tcp_delack_ns);
}

void tcp_keep_arm(struct tcp_conn *c)
{
    if (!(c->flags & TF_KEEPALIVE) || c->state < TCPS_ESTABLISHED || c->state == TCPS_TIME_WAIT)
        return;
    theap_arm(&c->s->timers, &c->t_keep, c->last_recv_ns + c->keepidle_ns);
}

void tcp_timewait_arm(struct tcp_conn *c)
{
    theap_cancel(&c->s->timers, &c->t_rexmt);
    theap_cancel(&c->s->timers, &c->t_delack);
    c->flags &= ~TF_PERSIST;
    theap_arm(&c->s->timers, &c->t_keep, c->s->now_ns + 2 * c->s->cfg.tcp_msl_ns);
}

/* RFC 6298 section 2: folds one RTT measurement into SRTT/RTTVAR/RTO. */
void tcp_rtt_sample(struct tcp_conn *c, uint64_t r)
{
    uint64_t min = c->s->cfg.tcp_rto_min_ns, max = c->s->cfg.tcp_rto_max_ns;
    uint64_t var4, rto;

    if (c->srtt_ns == 0) {
        c->srtt_ns = r ? r : 1;
        c->rttvar_ns = r / 2;
    } else {
        uint64_t d = c->srtt_ns > r ? c->srtt_ns - r : r - c->srtt_ns;
        c->rttvar_ns = (3 * c->rttvar_ns + d) / 4;
        c->srtt_ns = (7 * c->srtt_ns + r) / 8;
        if (c->srtt_ns == 0)
            c->srtt_ns = 1;
    }
    var4 = 4 * c->rttvar_ns;
    rto = c->srtt_ns + (var4 > TCP_CLOCK_GRANULARITY_NS ? var4 : TCP_CLOCK_GRANULARITY_NS);
    if (rto < min)
        rto = min;
    if (max && rto > max)
        rto = max;
    c->rto_ns = rto;
}

/* Persist timer: sends one byte into the zero window and re-arms with backoff. */
static void tcp_persist_fire(struct tcp_conn *c)
{
    struct inet_stack *s = c->s;

    c->st.zero_window_probes++;
    s->tcp->st.zero_window_probes++;
    c->snd_nxt = c->snd_una;
    c->flags |= TF_FORCE;
    tcp_output(c);
    c->flags &= ~TF_FORCE;
    if (c->rxtshift < TCP_MAX_BACKOFF)
        c->rxtshift++;
    if (c->snd_wnd == 0 && c->snd_cc)
        tcp_persist_arm(c);
    else if (c->snd_una != c->snd_max && !timer_armed(&c->t_rexmt))
        tcp_rexmt_arm(c);
}

/* Retransmission timeout: back off, collapse cwnd, resend from snd_una. */
static void tcp_rto_fire(struct tcp_conn *c)
{
    struct inet_stack *s = c->s;
    uint32_t limit;

    c->rxtshift++;
    if (c->state == TCPS_SYN_SENT || c->state == TCPS_SYN_RECEIVED) {
        if (c->rxtshift > s->cfg.tcp_syn_retries) {
            s->tcp->st.conn_timeouts++;
            tcp_conn_drop(c, ETIMEDOUT);
            return;
        }
        c->snd_nxt = c->iss;
        tcp_output(c);
        tcp_rexmt_arm(c);
        return;
    }
    limit = s->cfg.tcp_retries;
    if (c->rxtshift > limit) {
        s->tcp->st.conn_timeouts++;
        tcp_conn_drop(c, ETIMEDOUT);
        return;
    }
    if (c->snd_una == c->snd_max)
        return;
    c->st.rto_events++;
    s->tcp->st.rto_events++;
    c->cwnd_at_loss = c->cwnd;
    c->flight_at_loss = tcp_flight(c);
    if (c->rxtshift == 1)
        c->cc->congestion_event(c, CC_EV_RTO);
    else
        c->cwnd = c->t_maxseg;
    c->flags &= ~(TF_IN_RECOVERY | TF_SACK_RECOVERY | TF_RTT_TIMING);
    c->dupacks = 0;
    c->snd_recover = c->snd_max;
    tcp_sack_clean(c);
    c->snd_nxt = c->snd_una;
    tcp_rexmt_arm(c);
    tcp_output(c);
}

static void tcp_rexmt_fire(struct timer *t, void *arg)
{
    struct tcp_conn *c = arg;
    struct inet_stack *s = c->s;

    (void)t;
    tcp_enter(s);
    if (c->flags & TF_PERSIST) {
        c->flags &= ~TF_PERSIST;
        tcp_persist_fire(c);
    } else {
        tcp_rto_fire(c);
    }
    tcp_leave(s);
}

static void tcp_delack_fire(struct timer *t, void *arg)
{
    struct tcp_conn *c = arg;
    struct inet_stack *s = c->s;

    (void)t;
    tcp_enter(s);
    if (c->flags & TF_DELACK) {
        s->tcp->st.delayed_acks++;
        c->flags |= TF_ACKNOW;
        tcp_output(c);
    }
    tcp_leave(s);
}

static void tcp_keep_fire(struct timer *t, void *arg)
{
    struct tcp_conn *c = arg;
    struct inet_stack *s = c->s;

    (void)t;
    tcp_enter(s);
    if (c->state == TCPS_TIME_WAIT || c->state == TCPS_FIN_WAIT_2 || c->state == TCPS_CLOSED) {
        /* 2 MSL over, or an orphaned FIN_WAIT_2 timed out */
        tcp_conn_destroy(c);
    } else if ((c->flags & TF_KEEPALIVE) && c->state >= TCPS_ESTABLISHED) {
        if (s->now_ns - c->last_recv_ns < c->keepidle_ns) {
            tcp_keep_arm(c);
        } else if (c->keepprobes >= c->keepcnt) {
            s->tcp->st.conn_timeouts++;
            tcp_conn_drop(c, ETIMEDOUT);
        } else {
            /* a segment the peer must answer: one byte before snd_una */
            c->keepprobes++;
            s->tcp->st.keepalive_probes++;
            tcp_send_segment(c, c->snd_una - 1, TH_ACK, 0, 0);
            theap_arm(&s->timers, &c->t_keep, s->now_ns + c->keepintvl_ns);
        }
    }
    tcp_leave(s);
}
