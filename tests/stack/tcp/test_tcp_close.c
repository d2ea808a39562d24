/*
 * TCP close paths: active, passive and simultaneous close with TIME_WAIT
 * for 2 MSL, abort (RST out), RST in (exact, in window: challenge ACK, out
 * of window: ignored), SYN on an established connection (challenge ACK),
 * close with unread data (RST), half close with data still flowing.
 */
#include "tcp_test_util.h"

#define MSL_NS (1ull * NS_PER_SEC)

static void short_msl(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    (void)i;
    cfg->tcp_msl_ns = MSL_NS;
}

static int cond_eof(void *arg)
{
    return ((struct tt_ep *)arg)->eof;
}

static int cond_err(void *arg)
{
    return ((struct tt_ep *)arg)->errors > 0;
}

struct conns_at {
    struct harness *h;
    int node;
    uint64_t want;
};

static int cond_conns(void *arg)
{
    struct conns_at *c = arg;
    return harness_counter(c->h, c->node, "tcp.conns") == c->want;
}

static void teardown(struct harness *h, struct tt_ep *a, struct tt_ep *b, struct tt_ep *c)
{
    harness_free(h);
    tt_ep_free(a);
    tt_ep_free(b);
    if (c)
        tt_ep_free(c);
    harness_assert_no_leaks();
}

static void test_active_close(void **state)
{
    struct harness *h = harness_new(2, 11, short_msl, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct conns_at ca = {h, 0, 0}, cs = {h, 1, 1};
    uint64_t t_tw;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    harness_record(h, 1);
    cl.pat = tt_pattern(2048);
    cl.tx_total = 10000;
    tt_pump(&cl);
    tcp_close(cl.c);    /* data first, then FIN */
    assert_int_equal(harness_run_until(h, cond_eof, &sv, 5ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 10000));
    assert_int_equal(sv.c->state, TCPS_CLOSE_WAIT);
    tcp_close(sv.c);
    /* the server's side is gone once its FIN is acknowledged */
    assert_int_equal(harness_run_until(h, cond_conns, &cs, 5ull * NS_PER_SEC), 0);
    t_tw = harness_now(h);
    /* the client holds TIME_WAIT for 2 MSL */
    assert_int_equal(harness_counter(h, 0, "tcp.conns"), 1);
    assert_int_equal(harness_run_until(h, cond_conns, &ca, 10ull * NS_PER_SEC), 0);
    assert_true(harness_now(h) - t_tw >= 2 * MSL_NS - NS_PER_SEC / 100);
    assert_true(harness_now(h) - t_tw <= 2 * MSL_NS + NS_PER_SEC / 10);
    assert_int_equal(tt_count(h, 0, TH_FIN, 0), 1);
    assert_int_equal(tt_count(h, 1, TH_FIN, 0), 1);
    assert_int_equal(tt_count(h, 0, TH_RST, 0) + tt_count(h, 1, TH_RST, 0), 0);
    tcp_close(l.c);
    teardown(h, &cl, &l, &sv);
}

static void test_passive_close(void **state)
{
    struct harness *h = harness_new(2, 12, short_msl, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct conns_at ca = {h, 0, 0}, cs = {h, 1, 1};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sv.pat = tt_pattern(2048);
    sv.tx_total = 5000;
    sv.close_when_sent = 1;
    tt_pump(&sv);   /* server sends then shuts down */
    assert_int_equal(harness_run_until(h, cond_eof, &cl, 5ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&cl, 5000));
    /* half close: the client can still send */
    cl.pat = tt_pattern(2048);
    cl.tx_total = 3000;
    tt_pump(&cl);
    {
        void *arg[1] = {&sv};
        (void)arg;
    }
    harness_run_for(h, NS_PER_SEC / 10);
    assert_true(tt_bytes_ok(&sv, 3000));
    tcp_close(cl.c);
    assert_int_equal(harness_run_until(h, cond_conns, &ca, 5ull * NS_PER_SEC), 0);
    assert_int_equal(sv.c->state, TCPS_TIME_WAIT);
    tcp_close(sv.c);
    assert_int_equal(harness_run_until(h, cond_conns, &cs, 10ull * NS_PER_SEC), 0);
    tcp_close(l.c);
    teardown(h, &cl, &l, &sv);
}

static void test_simultaneous_close(void **state)
{
    struct harness *h = harness_new(2, 13, short_msl, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct conns_at ca = {h, 0, 0}, cs = {h, 1, 1};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    harness_record(h, 1);
    tcp_shutdown(cl.c);
    tcp_shutdown(sv.c);
    assert_int_equal(cl.c->state, TCPS_FIN_WAIT_1);
    assert_int_equal(sv.c->state, TCPS_FIN_WAIT_1);
    harness_run_for(h, NS_PER_SEC / 10);
    /* both went through CLOSING to TIME_WAIT */
    assert_int_equal(cl.c->state, TCPS_TIME_WAIT);
    assert_int_equal(sv.c->state, TCPS_TIME_WAIT);
    assert_int_equal(cl.eof, 1);
    assert_int_equal(sv.eof, 1);
    assert_int_equal(tt_count(h, 0, TH_FIN, 0), 1);
    assert_int_equal(tt_count(h, 1, TH_FIN, 0), 1);
    tcp_close(cl.c);
    tcp_close(sv.c);
    assert_int_equal(harness_run_until(h, cond_conns, &ca, 10ull * NS_PER_SEC), 0);
    assert_int_equal(harness_run_until(h, cond_conns, &cs, 10ull * NS_PER_SEC), 0);
    tcp_close(l.c);
    teardown(h, &cl, &l, &sv);
}

static void test_abort_rst(void **state)
{
    struct harness *h = harness_new(2, 14, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct conns_at cs = {h, 1, 1};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    harness_record(h, 1);
    tcp_abort(cl.c);
    assert_int_equal(harness_run_until(h, cond_err, &sv, 5ull * NS_PER_SEC), 0);
    assert_int_equal(sv.err, ECONNRESET);
    assert_int_equal(tt_count(h, 0, TH_RST, 0), 1);
    assert_int_equal(harness_counter(h, 0, "tcp.rst_sent"), 1);
    assert_int_equal(harness_counter(h, 1, "tcp.conns_reset"), 1);
    {
        struct buf *b = NULL;
        assert_int_equal(tcp_recv(sv.c, &b, 100), -ECONNRESET);
        assert_int_equal(tcp_shutdown(sv.c), -ECONNRESET);
    }
    tcp_close(sv.c);
    assert_int_equal(harness_run_until(h, cond_conns, &cs, 5ull * NS_PER_SEC), 0);
    assert_int_equal(harness_counter(h, 0, "tcp.conns"), 0);
    tcp_close(l.c);
    teardown(h, &cl, &l, &sv);
}

/* Injects a TCP segment from stack 0's address into stack 1 (raw frame). */
static void inject(struct harness *h, const struct tcp_conn *from, uint32_t seq, uint32_t ack, uint8_t flags)
{
    uint8_t f[14 + 20 + 20];
    uint8_t m0[6], m1[6];
    uint8_t *th = f + 34;
    uint16_t c;

    tu_mac(0, m0);
    tu_mac(1, m1);
    tu_eth(f, m1, m0, 0x0800);
    tu_ipv4(f + 14, from->lip, from->rip, 6, 20, 64, 0x4000);
    memset(th, 0, 20);
    memcpy(th, &from->lport, 2);
    memcpy(th + 2, &from->rport, 2);
    th[4] = (uint8_t)(seq >> 24);
    th[5] = (uint8_t)(seq >> 16);
    th[6] = (uint8_t)(seq >> 8);
    th[7] = (uint8_t)seq;
    th[8] = (uint8_t)(ack >> 24);
    th[9] = (uint8_t)(ack >> 16);
    th[10] = (uint8_t)(ack >> 8);
    th[11] = (uint8_t)ack;
    th[12] = 5 << 4;
    th[13] = flags;
    th[14] = 0xff;
    th[15] = 0xff;
    c = inet_csum_fold(inet_csum_partial(th, 20, inet_pseudo_sum(from->lip, from->rip, 6, 20)));
    memcpy(th + 16, &c, 2);
    inet_input(harness_stack(h, 1), harness_frame(f, sizeof(f)), harness_now(h));
}

static void test_rst_validation(void **state)
{
    struct harness *h = harness_new(2, 15, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    uint32_t rcv_nxt, una;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    harness_run_for(h, NS_PER_SEC / 10);
    rcv_nxt = sv.c->rcv_nxt;
    una = sv.c->snd_una;
    /* out of window: silently dropped */
    inject(h, cl.c, rcv_nxt + 0x40000000u, 0, TH_RST);
    assert_int_equal(harness_counter(h, 1, "tcp.challenge_acks"), 0);
    assert_int_equal(sv.c->state, TCPS_ESTABLISHED);
    /* in window but not exact: challenge ACK (RFC 5961 3.2) */
    inject(h, cl.c, rcv_nxt + 1000, 0, TH_RST);
    assert_int_equal(harness_counter(h, 1, "tcp.challenge_acks"), 1);
    assert_int_equal(sv.c->state, TCPS_ESTABLISHED);
    assert_int_equal(sv.errors, 0);
    /* a SYN on an established connection: challenge ACK (RFC 5961 4) */
    inject(h, cl.c, rcv_nxt + 5, 0, TH_SYN);
    assert_int_equal(harness_counter(h, 1, "tcp.challenge_acks"), 2);
    assert_int_equal(sv.c->state, TCPS_ESTABLISHED);
    /* an ACK of data never sent: challenge ACK (RFC 5961 5.2) */
    inject(h, cl.c, rcv_nxt, una + 100000, TH_ACK);
    assert_int_equal(harness_counter(h, 1, "tcp.challenge_acks"), 3);
    /* the client answered the challenge ACKs without harm */
    harness_run_for(h, NS_PER_SEC / 10);
    assert_int_equal(cl.errors, 0);
    assert_int_equal(cl.c->state, TCPS_ESTABLISHED);
    /* exact sequence number: reset */
    inject(h, cl.c, rcv_nxt, 0, TH_RST);
    assert_int_equal(sv.errors, 1);
    assert_int_equal(sv.err, ECONNRESET);
    tcp_close(sv.c);
    tcp_abort(cl.c);
    tcp_close(l.c);
    teardown(h, &cl, &l, &sv);
}

static void test_close_unread_data_resets(void **state)
{
    struct harness *h = harness_new(2, 16, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sv.no_drain = 1;
    cl.pat = tt_pattern(2048);
    cl.tx_total = 2048;
    tt_pump(&cl);
    harness_run_for(h, NS_PER_SEC / 10);
    assert_int_equal(sv.c->rcv_cc, 2048);
    harness_record(h, 1);
    tcp_close(sv.c);
    assert_int_equal(harness_run_until(h, cond_err, &cl, 5ull * NS_PER_SEC), 0);
    assert_int_equal(cl.err, ECONNRESET);
    assert_int_equal(tt_count(h, 1, TH_RST, 0), 1);
    assert_int_equal(tt_count(h, 1, TH_FIN, 0), 0);
    tcp_close(cl.c);
    tcp_close(l.c);
    teardown(h, &cl, &l, &sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_close),   cmocka_unit_test(test_passive_close),
        cmocka_unit_test(test_simultaneous_close), cmocka_unit_test(test_abort_rst),
        cmocka_unit_test(test_rst_validation), cmocka_unit_test(test_close_unread_data_resets),
    };
    tt_filter_from_env();
    return cmocka_run_group_tests_name("tcp_close", tests, NULL, NULL);
}
