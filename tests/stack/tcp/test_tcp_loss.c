/*
 * TCP under loss: lost SYN, SYN-ACK, data (fast retransmit), tail data
 * (RTO), FIN, ACKs; RTO backoff doubling and ETIMEDOUT; SACK recovery of
 * several losses in one window; reordering and duplicates. Losses are
 * chosen by a filter on the wire so each test knows exactly what was lost.
 */
#include "tcp_test_util.h"

/* Drops chosen TCP frames a port sends. */
struct drop {
    int port;
    uint8_t flags;          /* all of these set */
    uint8_t not_flags;      /* none of these set */
    int data;               /* 1: only frames with payload, -1: only without */
    int nth[8];             /* 1-based indexes among matching frames to drop */
    int count;              /* matching frames seen */
    int dropped;
    uint32_t seqs[8];       /* seq of each dropped frame */
    int all;                /* drop every matching frame */
};

static int drop_filter(void *arg, int port, const struct buf *frame)
{
    struct drop *d = arg;
    const uint8_t *f = frame->data, *th;
    size_t ihl, tl;

    if (port != d->port || frame->len < 54 || f[12] != 0x08 || f[13] != 0 || f[23] != 6)
        return 0;
    ihl = (size_t)(f[14] & 0xf) * 4;
    th = f + 14 + ihl;
    tl = ((size_t)f[16] << 8 | f[17]) - ihl;
    if ((th[13] & d->flags) != d->flags || (th[13] & d->not_flags))
        return 0;
    if (d->data == 1 && tl <= (size_t)(th[12] >> 4) * 4)
        return 0;
    if (d->data == -1 && tl > (size_t)(th[12] >> 4) * 4)
        return 0;
    d->count++;
    if (d->all)
        return 1;
    for (int i = 0; i < 8 && d->nth[i]; i++)
        if (d->nth[i] == d->count) {
            if (d->dropped < 8)
                d->seqs[d->dropped] = tt_rd32(th + 4);
            d->dropped++;
            return 1;
        }
    return 0;
}

static int cond_rx(void *arg)
{
    struct tt_ep **e = arg;
    return e[0]->rx_len >= (size_t)(uintptr_t)e[1];
}

static int cond_err(void *arg)
{
    return ((struct tt_ep *)arg)->errors > 0;
}

static void finish(struct harness *h, struct tt_ep *cl, struct tt_ep *l, struct tt_ep *sv)
{
    if (cl->c)
        tcp_abort(cl->c);
    if (sv->c)
        tcp_abort(sv->c);
    if (l->c)
        tcp_close(l->c);
    harness_free(h);
    tt_ep_free(cl);
    tt_ep_free(l);
    tt_ep_free(sv);
    harness_assert_no_leaks();
}

static void test_lost_syn(void **state)
{
    struct harness *h = harness_new(2, 21, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct drop d = {.port = 0, .flags = TH_SYN, .nth = {1}};
    uint64_t t0 = harness_now(h);

    (void)state;
    tt_static_arp(h, 2);
    sim_wire_set_filter(harness_wire(h), drop_filter, &d);
    tt_establish(h, &cl, &l, &sv);
    assert_int_equal(d.dropped, 1);
    assert_int_equal(d.count, 2);
    /* the SYN went again after the initial RTO (1 s) */
    assert_true(harness_now(h) - t0 >= NS_PER_SEC);
    assert_true(harness_now(h) - t0 < NS_PER_SEC + NS_PER_SEC / 10);
    assert_int_equal(harness_counter(h, 0, "tcp.retransmits"), 1);
    finish(h, &cl, &l, &sv);
}

static void test_lost_synack(void **state)
{
    struct harness *h = harness_new(2, 22, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct drop d = {.port = 1, .flags = TH_SYN | TH_ACK, .nth = {1, 2}};

    (void)state;
    tt_static_arp(h, 2);
    sim_wire_set_filter(harness_wire(h), drop_filter, &d);
    tt_establish(h, &cl, &l, &sv);
    assert_int_equal(d.dropped, 2);
    assert_true(d.count >= 3);
    assert_true(harness_counter(h, 1, "tcp.retransmits") >= 1);
    finish(h, &cl, &l, &sv);
}

static void test_lost_data_fast_retransmit(void **state)
{
    struct harness *h = harness_new(2, 23, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct drop d = {.port = 0, .data = 1, .nth = {20}};
    void *arg[2] = {&sv, (void *)(uintptr_t)500000};
    struct sim_faults f = {.delay_ns = 1000000};

    (void)state;
    tt_static_arp(h, 2);
    sim_wire_set_faults(harness_wire(h), -1, &f);
    tt_establish(h, &cl, &l, &sv);
    harness_record(h, 1);
    sim_wire_set_filter(harness_wire(h), drop_filter, &d);
    cl.pat = tt_pattern(65536);
    cl.tx_total = 500000;
    tt_pump(&cl);
    assert_int_equal(harness_run_until(h, cond_rx, arg, 10ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 500000));
    assert_int_equal(d.dropped, 1);
    assert_int_equal(harness_counter(h, 0, "tcp.fast_retransmits"), 1);
    assert_int_equal(harness_counter(h, 0, "tcp.rto_events"), 0);
    assert_true(harness_counter(h, 0, "tcp.dup_acks") >= 3);
    assert_true(harness_counter(h, 1, "tcp.rx_ooo_segments") >= 3);
    /* the lost segment went out exactly twice */
    {
        size_t n = 0;
        for (size_t i = 0; i < harness_frames_count(h); i++) {
            int port;
            const uint8_t *th = tt_frame_tcp(h, i, NULL, &port);
            if (th && port == 0 && tt_rd32(th + 4) == d.seqs[0] && (th[13] & TH_ACK))
                n++;
        }
        assert_int_equal(n, 2);
    }
    finish(h, &cl, &l, &sv);
}

static void test_lost_tail_rto(void **state)
{
    struct harness *h = harness_new(2, 24, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct drop d = {.port = 0, .data = 1, .nth = {3}};
    void *arg[2] = {&sv, (void *)(uintptr_t)3000};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sim_wire_set_filter(harness_wire(h), drop_filter, &d);
    tcp_setopt(cl.c, TCP_OPT_NODELAY, 1);
    cl.pat = tt_pattern(2048);
    cl.tx_total = 1000;
    tt_pump(&cl);
    cl.tx_total = 2000;
    tt_pump(&cl);
    cl.tx_total = 3000;
    tt_pump(&cl);   /* the third, last segment is lost: only the RTO helps */
    assert_int_equal(harness_run_until(h, cond_rx, arg, 5ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 3000));
    assert_int_equal(harness_counter(h, 0, "tcp.rto_events"), 1);
    assert_int_equal(harness_counter(h, 0, "tcp.fast_retransmits"), 0);
    finish(h, &cl, &l, &sv);
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

static int cond_eof(void *arg)
{
    return ((struct tt_ep *)arg)->eof;
}

static void short_msl(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    (void)i;
    cfg->tcp_msl_ns = NS_PER_SEC;
}

static void test_lost_fin(void **state)
{
    struct harness *h = harness_new(2, 25, short_msl, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct drop d = {.port = 0, .flags = TH_FIN, .nth = {1}};
    struct conns_at ca = {h, 0, 0};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sim_wire_set_filter(harness_wire(h), drop_filter, &d);
    tcp_close(cl.c);
    cl.c = NULL;
    assert_int_equal(harness_run_until(h, cond_eof, &sv, 5ull * NS_PER_SEC), 0);
    assert_int_equal(d.count, 2);
    assert_int_equal(harness_counter(h, 0, "tcp.rto_events"), 1);
    tcp_close(sv.c);
    sv.c = NULL;
    assert_int_equal(harness_run_until(h, cond_conns, &ca, 10ull * NS_PER_SEC), 0);
    finish(h, &cl, &l, &sv);
}

static void test_lost_acks(void **state)
{
    struct harness *h = harness_new(2, 26, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct drop d = {.port = 1, .flags = TH_ACK, .data = -1, .nth = {2, 3, 5, 7, 8, 11, 13, 17}};
    void *arg[2] = {&sv, (void *)(uintptr_t)300000};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sim_wire_set_filter(harness_wire(h), drop_filter, &d);
    cl.pat = tt_pattern(65536);
    cl.tx_total = 300000;
    tt_pump(&cl);
    assert_int_equal(harness_run_until(h, cond_rx, arg, 10ull * NS_PER_SEC), 0);
    harness_run_for(h, NS_PER_SEC);
    assert_true(tt_bytes_ok(&sv, 300000));
    assert_int_equal(d.dropped, 8);
    /* cumulative ACKs cover lost ones: nothing needed resending */
    assert_int_equal(harness_counter(h, 0, "tcp.rto_events"), 0);
    assert_int_equal(cl.c->snd_una, cl.c->snd_max);
    finish(h, &cl, &l, &sv);
}

static void few_retries(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    (void)i;
    cfg->tcp_retries = 5;
}

static void test_rto_backoff_timeout(void **state)
{
    struct harness *h = harness_new(2, 27, few_retries, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct drop d = {.port = 0, .data = 1, .all = 1};
    uint64_t times[16];
    int nt = 0;
    uint32_t seq0 = 0;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    harness_record(h, 1);
    sim_wire_set_filter(harness_wire(h), drop_filter, &d);
    cl.pat = tt_pattern(2048);
    cl.tx_total = 100;
    tt_pump(&cl);
    assert_int_equal(harness_run_until(h, cond_err, &cl, 120ull * NS_PER_SEC), 0);
    assert_int_equal(cl.err, ETIMEDOUT);
    for (size_t i = 0; i < harness_frames_count(h) && nt < 16; i++) {
        size_t tl, len;
        int port;
        uint64_t t;
        const uint8_t *th = tt_frame_tcp(h, i, &tl, &port);
        harness_frame_at(h, i, &len, &port, &t);
        if (!th || port != 0 || tl <= (size_t)(th[12] >> 4) * 4)
            continue;
        if (nt == 0)
            seq0 = tt_rd32(th + 4);
        assert_int_equal(tt_rd32(th + 4), seq0);
        times[nt++] = t;
    }
    /* the original and 5 retransmissions, each interval twice the last */
    assert_int_equal(nt, 6);
    for (int i = 2; i < nt; i++) {
        uint64_t a = times[i - 1] - times[i - 2], b = times[i] - times[i - 1];
        assert_true(b >= 2 * a - 1000 && b <= 2 * a + 1000);
    }
    assert_int_equal(harness_counter(h, 0, "tcp.rto_events"), 5);
    assert_int_equal(harness_counter(h, 0, "tcp.conn_timeouts"), 1);
    {
        struct buf *b = buf_alloc(10);
        assert_int_equal(tcp_send(cl.c, b, 0, 10), -ETIMEDOUT);
        buf_unref(b);
    }
    finish(h, &cl, &l, &sv);
}

static void test_sack_recovery_several_losses(void **state)
{
    struct harness *h = harness_new(2, 28, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct drop d = {.port = 0, .data = 1, .nth = {30, 33, 37, 41}};
    void *arg[2] = {&sv, (void *)(uintptr_t)1000000};
    struct sim_faults f = {.delay_ns = 5000000};

    (void)state;
    tt_static_arp(h, 2);
    sim_wire_set_faults(harness_wire(h), -1, &f);
    tt_establish(h, &cl, &l, &sv);
    assert_true(cl.c->flags & TF_SACK_OK);
    harness_record(h, 1);
    sim_wire_set_filter(harness_wire(h), drop_filter, &d);
    cl.pat = tt_pattern(65536);
    cl.tx_total = 1000000;
    tt_pump(&cl);
    assert_int_equal(harness_run_until(h, cond_rx, arg, 20ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 1000000));
    assert_int_equal(d.dropped, 4);
    /* one recovery episode repaired all four, without a timeout */
    assert_int_equal(harness_counter(h, 0, "tcp.sack_recoveries"), 1);
    assert_int_equal(harness_counter(h, 0, "tcp.rto_events"), 0);
    assert_int_equal(harness_counter(h, 0, "tcp.retransmits"), 4);
    assert_true(harness_counter(h, 0, "tcp.rx_sack_blocks") > 0);
    /* the receiver sent SACK blocks; while the first hole was open, one of
     * them started right after it (RFC 2018: blocks are whole contiguous
     * runs of queued data), whenever all runs fit in the option */
    {
        size_t n = 0;
        for (size_t i = 0; i < harness_frames_count(h); i++) {
            int port, found = 0;
            const uint8_t *th = tt_frame_tcp(h, i, NULL, &port);
            const uint8_t *o;
            if (!th || port != 1 || !(o = tt_option(th, 5)))
                continue;
            n++;
            if (tt_rd32(th + 8) != d.seqs[0] || (o[1] - 2) / 8 >= 3)
                continue;   /* (with three blocks, the oldest run may be left out) */
            for (int k = 0; k < (o[1] - 2) / 8; k++) {
                uint32_t bs = tt_rd32(o + 2 + 8 * k), be = tt_rd32(o + 6 + 8 * k);
                int run_start = 0;
                assert_true(SEQ_LT(bs, be));
                if (bs == d.seqs[0] + cl.c->t_maxseg)
                    found = 1;
                /* every block starts where a run starts: right after a lost segment */
                for (int j = 0; j < d.dropped && j < 8; j++)
                    if (bs == d.seqs[j] + cl.c->t_maxseg)
                        run_start = 1;
                assert_true(run_start);
            }
            assert_true(found);
        }
        assert_true(n >= 3);
    }
    finish(h, &cl, &l, &sv);
}

static void no_sack_newreno(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    (void)i;
    strcpy(cfg->tcp_cc, "newreno");
}

static void test_reorder_duplicates(void **state)
{
    struct harness *h = harness_new(2, 29, no_sack_newreno, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    void *arg[2] = {&sv, (void *)(uintptr_t)2000000};
    struct sim_faults f = {.delay_ns = 2000000, .reorder_ppm = 50000, .reorder_ns = 3000000, .dup_ppm = 50000};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sim_wire_set_faults(harness_wire(h), -1, &f);
    cl.pat = tt_pattern(65536);
    cl.tx_total = 2000000;
    tt_pump(&cl);
    assert_int_equal(harness_run_until(h, cond_rx, arg, 60ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 2000000));
    assert_true(sim_wire_stats(harness_wire(h))->reordered > 0);
    assert_true(sim_wire_stats(harness_wire(h))->duplicated > 0);
    assert_true(harness_counter(h, 1, "tcp.rx_ooo_segments") > 0);
    assert_true(harness_counter(h, 1, "tcp.rx_dup_segments") > 0);
    finish(h, &cl, &l, &sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_syn),
        cmocka_unit_test(test_lost_synack),
        cmocka_unit_test(test_lost_data_fast_retransmit),
        cmocka_unit_test(test_lost_tail_rto),
        cmocka_unit_test(test_lost_fin),
        cmocka_unit_test(test_lost_acks),
        cmocka_unit_test(test_rto_backoff_timeout),
        cmocka_unit_test(test_sack_recovery_several_losses),
        cmocka_unit_test(test_reorder_duplicates),
    };
    tt_filter_from_env();
    return cmocka_run_group_tests_name("tcp_loss", tests, NULL, NULL);
}
