/*
 * TCP flow control and timers: zero window with persist probes and a lost
 * window update, Nagle and TCP_NODELAY, delayed ACKs (every second segment
 * at once), large windows with window scaling, the listen backlog bound,
 * keepalive probes and their timeout, the send buffer bound.
 */
#include "tcp_test_util.h"

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

static void small_rcvbuf(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    if (i == 1)
        cfg->tcp_rcvbuf = 16384;
}

static int pure_ack_drop(void *arg, int port, const struct buf *frame)
{
    int *dropped = arg;
    const uint8_t *f = frame->data;
    size_t ihl;

    if (port != 1 || frame->len < 54 || f[23] != 6)
        return 0;
    ihl = (size_t)(f[14] & 0xf) * 4;
    if (((size_t)f[16] << 8 | f[17]) - ihl > (size_t)(f[14 + ihl + 12] >> 4) * 4)
        return 0;
    (*dropped)++;
    return 1;
}

static void test_zero_window_persist(void **state)
{
    struct harness *h = harness_new(2, 31, small_rcvbuf, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    void *arg[2] = {&sv, (void *)(uintptr_t)100000};
    int dropped = 0;
    uint64_t probes;
    size_t zero_wins = 0, one_byte = 0;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    harness_record(h, 1);
    sv.no_drain = 1;
    cl.pat = tt_pattern(65536);
    cl.tx_total = 100000;
    tt_pump(&cl);
    harness_run_for(h, 10ull * NS_PER_SEC);
    /* the receiver holds exactly its buffer; the sender probes */
    assert_int_equal(sv.c->rcv_cc, 16384);
    assert_int_equal(cl.c->snd_wnd, 0);
    probes = harness_counter(h, 0, "tcp.zero_window_probes");
    assert_true(probes >= 3 && probes <= 8);  /* backed off, not a flood */
    for (size_t i = 0; i < harness_frames_count(h); i++) {
        size_t tl;
        int port;
        const uint8_t *th = tt_frame_tcp(h, i, &tl, &port);
        if (!th)
            continue;
        if (port == 1 && rd16(th + 14) == 0)
            zero_wins++;
        if (port == 0 && tl - (size_t)(th[12] >> 4) * 4 == 1)
            one_byte++;
    }
    assert_true(zero_wins >= probes);
    /* the first probe filled the last small window, the others are one byte */
    assert_true(one_byte + 1 >= probes && one_byte <= probes);
    /* the application reads, but the window update is lost */
    sim_wire_set_filter(harness_wire(h), pure_ack_drop, &dropped);
    sv.no_drain = 0;
    tt_drain(&sv);
    harness_run_for(h, 1000);
    assert_true(dropped >= 1);
    sim_wire_set_filter(harness_wire(h), NULL, NULL);
    /* the next probe learns of the open window */
    assert_int_equal(harness_run_until(h, cond_rx, arg, 120ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 100000));
    assert_true(harness_counter(h, 0, "tcp.zero_window_probes") > probes);
    finish(h, &cl, &l, &sv);
}

static size_t data_frames(struct harness *h, int port)
{
    return tt_count(h, port, 0, 1);
}

static void test_nagle_and_nodelay(void **state)
{
    struct harness *h = harness_new(2, 32, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    void *arg[2] = {&sv, (void *)(uintptr_t)1000};
    struct buf *b = tt_pattern(2048);

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    harness_record(h, 1);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tcp_send(cl.c, b, (size_t)i * 100, 100), 100);
    assert_int_equal(harness_run_until(h, cond_rx, arg, 5ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 1000));
    /* Nagle: the first write alone, the other nine together after its ACK */
    assert_int_equal(data_frames(h, 0), 2);
    tcp_setopt(cl.c, TCP_OPT_NODELAY, 1);
    for (int i = 10; i < 20; i++)
        assert_int_equal(tcp_send(cl.c, b, (size_t)i * 100, 100), 100);
    arg[1] = (void *)(uintptr_t)2000;
    assert_int_equal(harness_run_until(h, cond_rx, arg, 5ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 2000));
    assert_int_equal(data_frames(h, 0), 12);
    buf_unref(b);
    finish(h, &cl, &l, &sv);
}

static void test_delayed_ack(void **state)
{
    struct harness *h = harness_new(2, 33, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct buf *b = tt_pattern(4096);
    size_t len;
    int port;
    uint64_t t_data = 0, t_ack = 0;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    harness_run_for(h, NS_PER_SEC / 10);
    harness_record(h, 1);
    /* one small segment: its ACK waits for the delayed-ACK timer (40 ms) */
    assert_int_equal(tcp_send(cl.c, b, 0, 100), 100);
    harness_run_for(h, NS_PER_SEC / 10);
    assert_int_equal(harness_frames_count(h), 2);
    harness_frame_at(h, 0, &len, &port, &t_data);
    assert_int_equal(port, 0);
    harness_frame_at(h, 1, &len, &port, &t_ack);
    assert_int_equal(port, 1);
    assert_true(t_ack - t_data >= 40000000ull && t_ack - t_data < 41000000ull);
    assert_int_equal(harness_counter(h, 1, "tcp.delayed_acks"), 1);
    /* two full segments: ACKed at once */
    tcp_setopt(cl.c, TCP_OPT_NODELAY, 1);
    assert_int_equal(tcp_send(cl.c, b, 100, 2 * 1448), 2 * 1448);
    harness_run_for(h, NS_PER_SEC / 10);
    assert_int_equal(harness_frames_count(h), 5);
    harness_frame_at(h, 3, &len, &port, &t_data);
    assert_int_equal(port, 0);
    harness_frame_at(h, 4, &len, &port, &t_ack);
    assert_int_equal(port, 1);
    assert_true(t_ack - t_data < 1000000ull);
    assert_int_equal(harness_counter(h, 1, "tcp.delayed_acks"), 1);
    buf_unref(b);
    finish(h, &cl, &l, &sv);
}

static void big_buffers(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    (void)i;
    cfg->tcp_rcvbuf = 8u << 20;
    cfg->tcp_sndbuf = 8u << 20;
}

static void test_window_scaling(void **state)
{
    struct harness *h = harness_new(2, 34, big_buffers, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    void *arg[2] = {&sv, (void *)(uintptr_t)(32u << 20)};
    struct sim_faults f = {.delay_ns = 20000000};
    uint64_t t0;
    uint32_t max_field = 0;

    (void)state;
    tt_static_arp(h, 2);
    sim_wire_set_faults(harness_wire(h), -1, &f);
    harness_record(h, 1);
    tt_establish(h, &cl, &l, &sv);
    {
        const uint8_t *th = tt_frame_tcp(h, 0, NULL, NULL);
        const uint8_t *o = tt_option(th, 3);
        assert_non_null(o);
        assert_int_equal(o[2], 8);
    }
    assert_int_equal(cl.c->snd_wscale, 8);
    assert_int_equal(sv.c->snd_wscale, 8);
    harness_record(h, 0);
    cl.pat = tt_pattern(1 << 20);
    cl.tx_total = 32u << 20;
    t0 = harness_now(h);
    tt_pump(&cl);
    assert_int_equal(harness_run_until(h, cond_rx, arg, 60ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 32u << 20));
    /* 32 MiB over a 40 ms RTT: a 64 KiB window would need 20 s */
    assert_true(harness_now(h) - t0 < 5ull * NS_PER_SEC);
    assert_true(cl.c->snd_wnd > 65535u);
    assert_true(cl.c->max_sndwnd >= (7u << 20));
    for (size_t i = 0; i < harness_frames_count(h); i++) {
        int port;
        const uint8_t *th = tt_frame_tcp(h, i, NULL, &port);
        if (th && port == 1 && !(th[13] & TH_SYN) && rd16(th + 14) > max_field)
            max_field = rd16(th + 14);
    }
    assert_true(max_field <= 32768);
    finish(h, &cl, &l, &sv);
}

struct many {
    struct tt_ep ep[5];
};

static int cond_n_connected(void *arg)
{
    struct many *m = arg;
    int n = 0;
    for (int i = 0; i < 5; i++)
        n += m->ep[i].connected;
    return n == 5;
}

static void test_backlog_overflow(void **state)
{
    struct harness *h = harness_new(2, 35, NULL, NULL);
    struct tt_ep l = {0};
    struct many m;
    struct tt_ep acc[5];
    int accepted = 0;

    (void)state;
    memset(&m, 0, sizeof(m));
    memset(acc, 0, sizeof(acc));
    tt_static_arp(h, 2);
    tt_listen(h, 1, &l, 2);
    for (int i = 0; i < 5; i++)
        tt_connect(h, 0, 1, &m.ep[i]);
    harness_run_for(h, NS_PER_SEC / 2);
    assert_int_equal(l.c->acq_len, 2);
    assert_true(harness_counter(h, 1, "tcp.accept_overflows") >= 3);
    /* accepting makes room; the others get in on their SYN retries */
    for (int round = 0; round < 20 && accepted < 5; round++) {
        while (accepted < 5 && tcp_accept(l.c, &acc[accepted].c, tt_cb, &acc[accepted]) == 0)
            accepted++;
        harness_run_for(h, NS_PER_SEC);
    }
    assert_int_equal(accepted, 5);
    assert_int_equal(harness_run_until(h, cond_n_connected, &m, 10ull * NS_PER_SEC), 0);
    for (int i = 0; i < 5; i++) {
        tcp_abort(m.ep[i].c);
        tcp_abort(acc[i].c);
        tt_ep_free(&m.ep[i]);
        tt_ep_free(&acc[i]);
    }
    tcp_close(l.c);
    harness_free(h);
    tt_ep_free(&l);
    harness_assert_no_leaks();
}

static void test_keepalive(void **state)
{
    struct harness *h = harness_new(2, 36, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct sim_faults cut = {.cut = 1};
    uint64_t t0;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    assert_int_equal(tcp_setopt(cl.c, TCP_OPT_KEEPIDLE, 10), 0);
    assert_int_equal(tcp_setopt(cl.c, TCP_OPT_KEEPINTVL, 1), 0);
    assert_int_equal(tcp_setopt(cl.c, TCP_OPT_KEEPCNT, 3), 0);
    assert_int_equal(tcp_setopt(cl.c, TCP_OPT_KEEPALIVE, 1), 0);
    /* an idle but healthy peer answers the probes */
    harness_run_for(h, 25ull * NS_PER_SEC);
    assert_true(harness_counter(h, 0, "tcp.keepalive_probes") >= 2);
    assert_int_equal(cl.errors, 0);
    /* a vanished peer: ETIMEDOUT after idle + probes */
    sim_wire_set_faults(harness_wire(h), -1, &cut);
    t0 = harness_now(h);
    assert_int_equal(harness_run_until(h, cond_err, &cl, 60ull * NS_PER_SEC), 0);
    assert_int_equal(cl.err, ETIMEDOUT);
    assert_true(harness_now(h) - t0 <= 15ull * NS_PER_SEC);
    finish(h, &cl, &l, &sv);
}

static void small_sndbuf(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    if (i == 0)
        cfg->tcp_sndbuf = 10000;
}

static void test_sndbuf_bound(void **state)
{
    struct harness *h = harness_new(2, 37, small_sndbuf, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct buf *b = tt_pattern(65536);
    void *arg[2] = {&sv, (void *)(uintptr_t)200000};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    /* only what fits is taken */
    assert_int_equal(tcp_send(cl.c, b, 0, 65536), 10000);
    assert_int_equal(tcp_send(cl.c, b, 0, 100), 0);
    buf_unref(b);
    cl.pat = tt_pattern(2048);
    cl.tx_done = 10000;
    cl.tx_total = 200000;
    /* WRITABLE events pump the rest */
    assert_int_equal(harness_run_until(h, cond_rx, arg, 10ull * NS_PER_SEC), 0);
    assert_true(cl.writable > 1);
    assert_int_equal(sv.rx_len, 200000);
    for (size_t k = 10000; k < 200000; k++)
        assert_int_equal(sv.rx[k], tt_byte(k));
    finish(h, &cl, &l, &sv);
}

/* Tiny segments the application does not read are copied together: the
 * receive queue holds a few buffers, not one frame per byte. */
static void test_tiny_segments_bounded(void **state)
{
    struct harness *h = harness_new(2, 38, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct buf *b = tt_pattern(2048);
    uint64_t live0;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sv.no_drain = 1;
    tcp_setopt(cl.c, TCP_OPT_NODELAY, 1);
    harness_run_for(h, NS_PER_SEC / 10);
    live0 = buf_live_count();
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(tcp_send(cl.c, b, (size_t)i % 2048, 1), 1);
        harness_run_for(h, 200000);
    }
    harness_run_for(h, NS_PER_SEC);
    assert_int_equal(sv.c->rcv_cc, 3000);
    assert_true(harness_counter(h, 0, "tcp.segs_out") > 1000);
    assert_true(buf_live_count() - live0 < 16);
    sv.no_drain = 0;
    tt_drain(&sv);
    assert_int_equal(sv.rx_len, 3000);
    for (size_t k = 0; k < 3000; k++)
        assert_int_equal(sv.rx[k], tt_byte(k % 2048));
    buf_unref(b);
    finish(h, &cl, &l, &sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_window_persist), cmocka_unit_test(test_nagle_and_nodelay),
        cmocka_unit_test(test_delayed_ack),         cmocka_unit_test(test_window_scaling),
        cmocka_unit_test(test_backlog_overflow),    cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_sndbuf_bound),        cmocka_unit_test(test_tiny_segments_bounded),
    };
    tt_filter_from_env();
    return cmocka_run_group_tests_name("tcp_flow", tests, NULL, NULL);
}
