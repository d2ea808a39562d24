/*
 * Congestion control: NewReno (RFC 5681/6582) and CUBIC (RFC 9438) each
 * growing in slow start, cutting on a loss (ssthresh = FlightSize/2 for
 * NewReno, beta_cubic = 0.7 for CUBIC), then growing in congestion
 * avoidance as their RFCs say (about one SMSS per RTT; the cubic curve
 * back to W_max at time K and beyond it after). One segment is lost on
 * purpose; the sender always has data.
 */
#include <math.h>

#include "tcp_test_util.h"
#include "inet/tcp/cc/cc.h"

struct drop_nth {
    int n, seen, dropped;
};

static int drop_nth_data(void *arg, int port, const struct buf *frame)
{
    struct drop_nth *d = arg;
    const uint8_t *f = frame->data;
    size_t ihl, tl;

    if (port != 0 || frame->len < 54 || f[23] != 6)
        return 0;
    ihl = (size_t)(f[14] & 0xf) * 4;
    tl = ((size_t)f[16] << 8 | f[17]) - ihl;
    if (tl <= (size_t)(f[14 + ihl + 12] >> 4) * 4)
        return 0;
    if (++d->seen == d->n) {
        d->dropped++;
        return 1;
    }
    return 0;
}

static const char *cc_name;
static void set_cc(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    (void)i;
    strcpy(cfg->tcp_cc, cc_name);
    cfg->tcp_sndbuf = 4u << 20;
    cfg->tcp_rcvbuf = 4u << 20;
}

struct cc_run {
    struct harness *h;
    struct tt_ep cl, l, sv;
    struct drop_nth d;
    uint32_t cwnd_before, ssthresh, cwnd_after;
    uint64_t t_exit;
};

/* Establishes with one-way delay, pumps data, loses segment n, and runs
 * until recovery is over. */
static void cc_start(struct cc_run *r, const char *cc, uint64_t delay_ns, int n)
{
    struct sim_faults f = {.delay_ns = delay_ns};
    int in_rec = 0;

    cc_name = cc;
    memset(r, 0, sizeof(*r));
    r->h = harness_new(2, 41, set_cc, NULL);
    tt_static_arp(r->h, 2);
    sim_wire_set_faults(harness_wire(r->h), -1, &f);
    tt_establish(r->h, &r->cl, &r->l, &r->sv);
    assert_int_equal(r->cl.c->cwnd, 10u * r->cl.c->t_maxseg);
    r->d.n = n;
    sim_wire_set_filter(harness_wire(r->h), drop_nth_data, &r->d);
    r->cl.pat = tt_pattern(1 << 20);
    r->cl.tx_total = (size_t)1 << 40;
    tt_pump(&r->cl);
    for (int i = 0; i < 100000; i++) {
        struct tcp_conn *c = r->cl.c;
        harness_run_for(r->h, 100000);
        if (!in_rec && (c->flags & TF_IN_RECOVERY)) {
            in_rec = 1;
            r->ssthresh = c->ssthresh;
        }
        if (!in_rec)
            r->cwnd_before = c->cwnd;
        if (in_rec && !(c->flags & TF_IN_RECOVERY)) {
            r->cwnd_after = c->cwnd;
            r->t_exit = harness_now(r->h);
            break;
        }
    }
    assert_int_equal(r->d.dropped, 1);
    assert_true(r->t_exit > 0);
    assert_int_equal(harness_counter(r->h, 0, "tcp.rto_events"), 0);
    assert_int_equal(harness_counter(r->h, 0, "tcp.fast_retransmits"), 1);
}

static void cc_finish(struct cc_run *r)
{
    tcp_abort(r->cl.c);
    tcp_abort(r->sv.c);
    tcp_close(r->l.c);
    harness_free(r->h);
    tt_ep_free(&r->cl);
    tt_ep_free(&r->l);
    tt_ep_free(&r->sv);
    harness_assert_no_leaks();
}

static void test_newreno(void **state)
{
    struct cc_run r;
    uint32_t mss, c0, c1;
    double grow;

    (void)state;
    /* slow start: cwnd grows by one SMSS per ACK (ACKs cover two segments) */
    {
        struct sim_faults f = {.delay_ns = 10000000};
        struct tt_ep cl = {0}, l = {0}, sv = {0};
        struct harness *h;
        cc_name = "newreno";
        h = harness_new(2, 40, set_cc, NULL);
        tt_static_arp(h, 2);
        sim_wire_set_faults(harness_wire(h), -1, &f);
        tt_establish(h, &cl, &l, &sv);
        assert_string_equal(cl.c->cc->name, "newreno");
        cl.pat = tt_pattern(1 << 20);
        cl.tx_total = (size_t)1 << 40;
        tt_pump(&cl);
        c0 = cl.c->cwnd;
        harness_run_for(h, 20000000 + 1000000);    /* one RTT */
        c1 = cl.c->cwnd;
        grow = (double)c1 / c0;
        assert_true(grow >= 1.4 && grow <= 2.05);
        harness_run_for(h, 20000000);
        grow = (double)cl.c->cwnd / c1;
        assert_true(grow >= 1.4 && grow <= 2.05);
        tcp_abort(cl.c);
        tcp_abort(sv.c);
        tcp_close(l.c);
        harness_free(h);
        tt_ep_free(&cl);
        tt_ep_free(&l);
        tt_ep_free(&sv);
    }
    cc_start(&r, "newreno", 10000000, 400);
    mss = r.cl.c->t_maxseg;
    /* ssthresh = max(FlightSize / 2, 2 SMSS) (RFC 5681 eq. 4); the sender
     * was cwnd-limited and slow start had grown cwnd past the first window */
    assert_int_equal(r.ssthresh, r.cl.c->flight_at_loss / 2);
    assert_true(r.cl.c->flight_at_loss >= r.cl.c->cwnd_at_loss - mss);
    assert_true(r.cl.c->cwnd_at_loss >= r.cwnd_before && r.cwnd_before > 20 * mss);
    /* RFC 6582: leaving recovery, cwnd = min(ssthresh, FlightSize + SMSS) */
    assert_true(r.cwnd_after <= r.ssthresh && r.cwnd_after >= r.ssthresh - 2 * mss);
    /* congestion avoidance: about one SMSS per RTT (20 ms) for 50 RTTs */
    c0 = r.cl.c->cwnd;
    harness_run_for(r.h, 50 * 20000000ull);
    c1 = r.cl.c->cwnd;
    assert_true(c1 > c0);
    assert_true((c1 - c0) / mss >= 35 && (c1 - c0) / mss <= 55);
    assert_true(r.cl.c->cwnd > r.cl.c->ssthresh);
    cc_finish(&r);
}

static void test_cubic(void **state)
{
    struct cc_run r;
    struct tcp_conn *c;
    uint32_t mss;
    double wmax, k, w;
    uint64_t epoch;

    (void)state;
    cc_start(&r, "cubic", 50000000, 400);
    c = r.cl.c;
    assert_string_equal(c->cc->name, "cubic");
    mss = c->t_maxseg;
    /* multiplicative decrease by beta_cubic = 0.7 */
    assert_true(fabs((double)r.ssthresh - 0.7 * c->cwnd_at_loss) <= mss);
    assert_true(r.cwnd_after >= r.ssthresh - mss && r.cwnd_after <= r.ssthresh + mss);
    /* W_max is the window at the loss (no earlier loss: no fast convergence) */
    wmax = c->cubic.w_max;
    assert_true(fabs(wmax - (double)c->cwnd_at_loss / mss) < 0.01);
    assert_true(c->cwnd_at_loss > 20 * mss);
    /* run into congestion avoidance so the epoch starts */
    harness_run_for(r.h, 200000000ull);
    assert_true(c->cubic.epoch_valid);
    k = c->cubic.k;
    /* K = cbrt(W_max (1 - beta) / C) */
    assert_true(fabs(k - cbrt(wmax * 0.3 / 0.4)) < 0.05 * k + 0.1);
    epoch = c->cubic.epoch_ns;
    /* concave region: at K/2 the window is already near the plateau */
    harness_run_for(r.h, epoch + (uint64_t)(k / 2 * 1e9) - harness_now(r.h));
    w = (double)c->cwnd / mss;
    assert_true(w >= 0.88 * wmax && w <= 1.02 * wmax);
    /* at K it is back at W_max */
    harness_run_for(r.h, epoch + (uint64_t)(k * 1e9) - harness_now(r.h));
    w = (double)c->cwnd / mss;
    assert_true(w >= 0.95 * wmax && w <= 1.08 * wmax);
    /* convex region: beyond W_max and accelerating */
    harness_run_for(r.h, epoch + (uint64_t)(2 * k * 1e9) - harness_now(r.h));
    w = (double)c->cwnd / mss;
    assert_true(w >= 1.1 * wmax);
    assert_int_equal(harness_counter(r.h, 0, "tcp.fast_retransmits"), 1);
    cc_finish(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newreno),
        cmocka_unit_test(test_cubic),
    };
    tt_filter_from_env();
    return cmocka_run_group_tests_name("tcp_cc", tests, NULL, NULL);
}
