/*
 * TCP basics over the sim wire: the three-way handshake and its options on
 * the wire, MSS negotiation, simultaneous open, data both ways byte-exact,
 * connection refused, API errors, corrupted frames counted and dropped.
 */
#include "tcp_test_util.h"

static void test_handshake_options(void **state)
{
    struct harness *h = harness_new(2, 1, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    size_t n, tl;
    int port;
    const uint8_t *th, *o;
    uint32_t iss_c, iss_s;

    (void)state;
    tt_static_arp(h, 2);
    harness_record(h, 1);
    tt_establish(h, &cl, &l, &sv);
    n = harness_frames_count(h);
    assert_true(n >= 3);
    /* SYN: MSS 1460, window scale, SACK permitted, timestamps */
    th = tt_frame_tcp(h, 0, &tl, &port);
    assert_non_null(th);
    assert_int_equal(port, 0);
    assert_int_equal(tt_flags(th), TH_SYN);
    assert_int_equal(rd16(th + 2), TT_PORT);
    iss_c = tt_rd32(th + 4);
    o = tt_option(th, 2);
    assert_non_null(o);
    assert_int_equal(rd16(o + 2), 1460);
    o = tt_option(th, 3);
    assert_non_null(o);
    assert_int_equal(o[2], 5); /* 1 MiB buffer -> scale 5 */
    assert_non_null(tt_option(th, 4));
    assert_non_null(tt_option(th, 8));
    /* SYN-ACK acknowledges ISS + 1 */
    th = tt_frame_tcp(h, 1, &tl, &port);
    assert_non_null(th);
    assert_int_equal(port, 1);
    assert_int_equal(tt_flags(th), TH_SYN | TH_ACK);
    assert_int_equal(tt_rd32(th + 8), iss_c + 1);
    iss_s = tt_rd32(th + 4);
    assert_non_null(tt_option(th, 3));
    /* ACK */
    th = tt_frame_tcp(h, 2, &tl, &port);
    assert_non_null(th);
    assert_int_equal(port, 0);
    assert_int_equal(tt_flags(th), TH_ACK);
    assert_int_equal(tt_rd32(th + 4), iss_c + 1);
    assert_int_equal(tt_rd32(th + 8), iss_s + 1);
    assert_int_equal(tl, 32);   /* header with timestamps, no data */
    {
        int v = 0;
        assert_int_equal(tcp_getopt(cl.c, TCP_OPT_MAXSEG, &v), 0);
        assert_int_equal(v, 1448);  /* 1460 less the timestamp option */
    }
    assert_int_equal(cl.connected, 1);
    assert_int_equal(harness_counter(h, 0, "tcp.active_opens"), 1);
    assert_int_equal(harness_counter(h, 1, "tcp.passive_opens"), 1);
    {
        uint32_t lip, rip;
        uint16_t lport, rport;
        tcp_getname(sv.c, &lip, &lport, &rip, &rport);
        assert_int_equal(lip, harness_ip(1));
        assert_int_equal(ntohs(lport), TT_PORT);
        assert_int_equal(rip, harness_ip(0));
        tcp_getname(cl.c, &lip, &lport, &rip, &rport);
        assert_int_equal(lip, harness_ip(0));
        assert_true(ntohs(lport) >= 49152);
    }
    tcp_abort(cl.c);
    tcp_abort(sv.c);
    tcp_close(l.c);
    harness_free(h);
    tt_ep_free(&cl);
    tt_ep_free(&l);
    tt_ep_free(&sv);
    harness_assert_no_leaks();
}

/* Stack 1 has a small MTU: both sides use the smaller MSS. */
static void small_mtu(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    if (i == 1)
        cfg->mtu = 576;
}

static int cond_rx(void *arg)
{
    struct tt_ep **e = arg;
    return e[0]->rx_len >= (size_t)(uintptr_t)e[1];
}

static void test_mss_negotiation(void **state)
{
    struct harness *h = harness_new(2, 2, small_mtu, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    void *arg[2] = {&sv, (void *)(uintptr_t)100000};
    int v = 0;

    (void)state;
    tt_static_arp(h, 2);
    harness_record(h, 1);
    tt_establish(h, &cl, &l, &sv);
    assert_int_equal(tcp_getopt(cl.c, TCP_OPT_MAXSEG, &v), 0);
    assert_int_equal(v, 536 - 12);
    assert_int_equal(tcp_getopt(sv.c, TCP_OPT_MAXSEG, &v), 0);
    assert_int_equal(v, 536 - 12);
    cl.pat = tt_pattern(64 * 1024);
    cl.tx_total = 100000;
    tt_pump(&cl);
    assert_int_equal(harness_run_until(h, cond_rx, arg, 10ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 100000));
    /* no segment from the client carries more than the MSS */
    for (size_t i = 0; i < harness_frames_count(h); i++) {
        size_t tl;
        int port;
        const uint8_t *th = tt_frame_tcp(h, i, &tl, &port);
        if (th && port == 0)
            assert_true(tl - (size_t)(th[12] >> 4) * 4 <= 524);
    }
    tcp_abort(cl.c);
    tcp_abort(sv.c);
    tcp_close(l.c);
    harness_free(h);
    tt_ep_free(&cl);
    tt_ep_free(&l);
    tt_ep_free(&sv);
    harness_assert_no_leaks();
}

static int cond_both_rx(void *arg)
{
    struct tt_ep **e = arg;
    return e[0]->rx_len >= 300000 && e[1]->rx_len >= 300000;
}

static void test_data_both_ways(void **state)
{
    struct harness *h = harness_new(2, 3, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct tt_ep *both[2] = {&cl, &sv};

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    cl.pat = tt_pattern(16384);
    cl.tx_total = 300000;
    sv.pat = tt_pattern(4096);
    sv.tx_total = 300000;
    tt_pump(&cl);
    tt_pump(&sv);
    assert_int_equal(harness_run_until(h, cond_both_rx, both, 20ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&cl, 300000));
    assert_true(tt_bytes_ok(&sv, 300000));
    assert_int_equal(harness_counter(h, 0, "tcp.retransmits"), 0);
    assert_int_equal(harness_counter(h, 1, "tcp.retransmits"), 0);
    assert_int_equal(harness_counter(h, 0, "tcp.bytes_out"), 300000);
    assert_int_equal(harness_counter(h, 1, "tcp.bytes_in"), 300000);
    tcp_abort(cl.c);
    tcp_abort(sv.c);
    tcp_close(l.c);
    harness_free(h);
    tt_ep_free(&cl);
    tt_ep_free(&l);
    tt_ep_free(&sv);
    harness_assert_no_leaks();
}

static int cond_err(void *arg)
{
    return ((struct tt_ep *)arg)->errors > 0;
}

static void test_refused(void **state)
{
    struct harness *h = harness_new(2, 4, NULL, NULL);
    struct tt_ep cl = {0};

    (void)state;
    tt_static_arp(h, 2);
    harness_record(h, 1);
    tt_connect(h, 0, 1, &cl);
    assert_int_equal(harness_run_until(h, cond_err, &cl, 5ull * NS_PER_SEC), 0);
    assert_int_equal(cl.err, ECONNREFUSED);
    assert_int_equal(tt_count(h, 1, TH_RST | TH_ACK, 0), 1);
    assert_int_equal(harness_counter(h, 1, "tcp.rx_no_socket"), 1);
    assert_int_equal(harness_counter(h, 0, "tcp.conns_refused"), 1);
    {
        struct buf *b = buf_alloc(10);
        assert_int_equal(tcp_send(cl.c, b, 0, 10), -ECONNREFUSED);
        buf_unref(b);
    }
    tcp_close(cl.c);
    harness_free(h);
    tt_ep_free(&cl);
    harness_assert_no_leaks();
}

static void test_api_errors(void **state)
{
    struct harness *h = harness_new(2, 5, NULL, NULL);
    struct inet_stack *s = harness_stack(h, 0);
    struct tcp_conn *a, *b, *c;
    struct buf *x = buf_alloc(8), *out = NULL;
    int v;

    (void)state;
    assert_int_equal(tcp_open(s, &a, NULL, NULL), 0);
    assert_int_equal(tcp_open(s, &b, NULL, NULL), 0);
    assert_int_equal(tcp_open(s, &c, NULL, NULL), 0);
    assert_int_equal(tcp_bind(a, 0, htons(80)), 0);
    assert_int_equal(tcp_bind(a, 0, htons(81)), EINVAL);
    assert_int_equal(tcp_bind(b, harness_ip(0), htons(80)), EADDRINUSE);
    assert_int_equal(tcp_bind(b, htonl(0x0b000001), htons(82)), EINVAL);
    assert_int_equal(tcp_send(a, x, 0, 8), -ENOTCONN);
    assert_int_equal(tcp_recv(a, &out, 8), -ENOTCONN);
    assert_int_equal(tcp_shutdown(a), -ENOTCONN);
    assert_int_equal(tcp_accept(a, &c, NULL, NULL), EINVAL);
    assert_int_equal(tcp_listen(a, 4), 0);
    assert_int_equal(tcp_accept(a, &c, NULL, NULL), EAGAIN);
    assert_int_equal(tcp_connect(a, harness_ip(1), htons(80)), EISCONN);
    assert_int_equal(tcp_connect(b, htonl(0x0b000001), htons(80)), ENETUNREACH);
    assert_int_equal(tcp_connect(b, harness_ip(1), htons(80)), 0);
    assert_int_equal(tcp_connect(b, harness_ip(1), htons(80)), EALREADY);
    assert_int_equal(tcp_setopt(b, TCP_OPT_NODELAY, 1), 0);
    assert_int_equal(tcp_getopt(b, TCP_OPT_NODELAY, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(tcp_setopt(b, (enum tcp_opt)99, 1), -ENOPROTOOPT);
    assert_int_equal(tcp_setopt(b, TCP_OPT_SNDBUF, 0), -EINVAL);
    buf_unref(x);
    tcp_close(a);
    tcp_close(b);
    tcp_close(c);
    /* the port is free again */
    assert_int_equal(tcp_open(s, &a, NULL, NULL), 0);
    assert_int_equal(tcp_bind(a, 0, htons(80)), 0);
    tcp_close(a);
    harness_free(h);
    harness_assert_no_leaks();
}

static int cond_simul(void *arg)
{
    struct tt_ep **e = arg;
    return e[0]->connected && e[1]->connected;
}

static void test_simultaneous_open(void **state)
{
    struct harness *h = harness_new(2, 6, NULL, NULL);
    struct tt_ep a = {0}, b = {0};
    struct tt_ep *both[2] = {&a, &b};

    (void)state;
    tt_static_arp(h, 2);
    harness_record(h, 1);
    assert_int_equal(tcp_open(harness_stack(h, 0), &a.c, tt_cb, &a), 0);
    assert_int_equal(tcp_open(harness_stack(h, 1), &b.c, tt_cb, &b), 0);
    assert_int_equal(tcp_bind(a.c, 0, htons(5000)), 0);
    assert_int_equal(tcp_bind(b.c, 0, htons(6000)), 0);
    /* both SYNs leave before either arrives */
    assert_int_equal(tcp_connect(a.c, harness_ip(1), htons(6000)), 0);
    assert_int_equal(tcp_connect(b.c, harness_ip(0), htons(5000)), 0);
    assert_int_equal(harness_run_until(h, cond_simul, both, 10ull * NS_PER_SEC), 0);
    /* each side sent SYN then SYN-ACK */
    assert_int_equal(tt_count(h, 0, TH_SYN, 0), 2);
    assert_int_equal(tt_count(h, 1, TH_SYN, 0), 2);
    assert_int_equal(tt_count(h, 0, TH_SYN | TH_ACK, 0), 1);
    assert_int_equal(tt_count(h, 1, TH_SYN | TH_ACK, 0), 1);
    a.pat = tt_pattern(2048);
    a.tx_total = 5000;
    tt_pump(&a);
    {
        void *arg[2] = {&b, (void *)(uintptr_t)5000};
        assert_int_equal(harness_run_until(h, cond_rx, arg, 5ull * NS_PER_SEC), 0);
    }
    assert_true(tt_bytes_ok(&b, 5000));
    tcp_abort(a.c);
    tcp_abort(b.c);
    harness_free(h);
    tt_ep_free(&a);
    tt_ep_free(&b);
    harness_assert_no_leaks();
}

/* Flips a bit in the TCP payload of every 5th data frame from port 0. */
static int corrupt_filter_n;
static void corrupt_tweak(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    (void)i;
    (void)cfg;
}

static void test_corrupted_dropped(void **state)
{
    struct harness *h = harness_new(2, 7, corrupt_tweak, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct sim_faults f = {0};
    void *arg[2] = {&sv, (void *)(uintptr_t)200000};

    (void)state;
    (void)corrupt_filter_n;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    f.corrupt_ppm = 50000;  /* 5% of the client's frames */
    sim_wire_set_faults(harness_wire(h), 0, &f);
    cl.pat = tt_pattern(8192);
    cl.tx_total = 200000;
    tt_pump(&cl);
    assert_int_equal(harness_run_until(h, cond_rx, arg, 60ull * NS_PER_SEC), 0);
    assert_true(tt_bytes_ok(&sv, 200000));
    assert_true(sim_wire_stats(harness_wire(h))->corrupted > 0);
    /* every corrupted frame was dropped by some checksum (IP or TCP) */
    assert_true(harness_counter(h, 1, "tcp.rx_bad_checksum") + harness_counter(h, 1, "ip.rx_bad_checksum") +
                    harness_counter(h, 1, "ipv4.rx_bad_checksum") + harness_counter(h, 1, "ip.rx_bad_header") +
                    harness_counter(h, 1, "ipv4.rx_bad_header") + harness_counter(h, 1, "eth.rx_not_for_us") +
                    harness_counter(h, 1, "eth.rx_unknown_type") + harness_counter(h, 1, "tcp.rx_bad_header") >
                0);
    assert_true(harness_counter(h, 1, "tcp.rx_bad_checksum") > 0);
    assert_true(harness_counter(h, 0, "tcp.retransmits") > 0);
    tcp_abort(cl.c);
    tcp_abort(sv.c);
    tcp_close(l.c);
    harness_free(h);
    tt_ep_free(&cl);
    tt_ep_free(&l);
    tt_ep_free(&sv);
    harness_assert_no_leaks();
}

/* Random segments (valid checksums, random flags, numbers near the live
 * ones, random option bytes and payloads) at a listener and a connection:
 * nothing crashes, nothing leaks, the stack stays usable. */
static void test_random_segments(void **state)
{
    struct harness *h = harness_new(2, 8, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    uint64_t r = 12345;
    uint8_t m0[6], m1[6];

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sv.no_drain = 0;
    tu_mac(0, m0);
    tu_mac(1, m1);
    for (int i = 0; i < 20000; i++) {
        uint8_t f[14 + 20 + 60 + 64];
        uint8_t *th = f + 34;
        size_t optlen, plen, tl;
        uint32_t seq, ack;
        uint16_t c, sport, dport;
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        optlen = (size_t)((r >> 20) % 11) * 4;
        plen = (size_t)((r >> 30) % 65);
        tl = 20 + optlen + plen;
        seq = sv.c->rcv_nxt + (uint32_t)((int32_t)((r >> 8) % 200000) - 100000);
        ack = sv.c->snd_una + (uint32_t)((int32_t)((r >> 40) % 200000) - 100000);
        sport = cl.c->lport;
        dport = (r >> 50) & 1 ? cl.c->rport : htons(TT_PORT + 1);
        if (((r >> 52) & 3) == 0)
            sport = htons((uint16_t)(1000 + (r >> 54) % 50));
        tu_eth(f, m1, m0, 0x0800);
        tu_ipv4(f + 14, harness_ip(0), harness_ip(1), 6, (uint16_t)tl, 64, 0x4000);
        memcpy(th, &sport, 2);
        memcpy(th + 2, &dport, 2);
        th[4] = (uint8_t)(seq >> 24);
        th[5] = (uint8_t)(seq >> 16);
        th[6] = (uint8_t)(seq >> 8);
        th[7] = (uint8_t)seq;
        th[8] = (uint8_t)(ack >> 24);
        th[9] = (uint8_t)(ack >> 16);
        th[10] = (uint8_t)(ack >> 8);
        th[11] = (uint8_t)ack;
        th[12] = (uint8_t)(((20 + optlen) / 4) << 4);
        th[13] = (uint8_t)(r >> 3) & 0x3f;
        th[14] = (uint8_t)(r >> 11);
        th[15] = (uint8_t)(r >> 19);
        th[16] = th[17] = th[18] = th[19] = 0;
        for (size_t k = 0; k < optlen + plen; k++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            th[20 + k] = (uint8_t)(r >> 33);
            if (k < optlen && (r >> 45) % 3 == 0)
                th[20 + k] = (uint8_t)((r >> 47) % 9);  /* plausible option kinds */
        }
        c = inet_csum_fold(inet_csum_partial(th, tl, inet_pseudo_sum(harness_ip(0), harness_ip(1), 6, (uint16_t)tl)));
        memcpy(th + 16, &c, 2);
        inet_input(harness_stack(h, 1), harness_frame(f, 34 + tl), harness_now(h));
        if (i % 100 == 0)
            harness_run_for(h, 1000000);
        if (sv.errors)
            break;  /* a random RST hit the exact sequence number: fine */
    }
    harness_run_for(h, NS_PER_SEC);
    print_message("random segments: %llu in, %llu challenge ACKs, %llu RSTs sent, conn errors %d\n",
                  (unsigned long long)harness_counter(h, 1, "tcp.segs_in"),
                  (unsigned long long)harness_counter(h, 1, "tcp.challenge_acks"),
                  (unsigned long long)harness_counter(h, 1, "tcp.rst_sent"), sv.errors);
    assert_true(harness_counter(h, 1, "tcp.segs_in") >= 20000 || sv.errors);
    /* the listener still accepts new connections */
    {
        struct tt_ep c2 = {0};
        tt_connect(h, 0, 1, &c2);
        harness_run_for(h, 2 * NS_PER_SEC);
        assert_int_equal(c2.connected, 1);
        tcp_abort(c2.c);
        tt_ep_free(&c2);
    }
    tcp_abort(cl.c);
    tcp_abort(sv.c);
    tcp_close(l.c);
    harness_free(h);
    tt_ep_free(&cl);
    tt_ep_free(&l);
    tt_ep_free(&sv);
    harness_assert_no_leaks();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_options), cmocka_unit_test(test_mss_negotiation),
        cmocka_unit_test(test_data_both_ways),    cmocka_unit_test(test_refused),
        cmocka_unit_test(test_api_errors),        cmocka_unit_test(test_simultaneous_open),
        cmocka_unit_test(test_corrupted_dropped),  cmocka_unit_test(test_random_segments),
    };
    tt_filter_from_env();
    return cmocka_run_group_tests_name("tcp_basic", tests, NULL, NULL);
}
