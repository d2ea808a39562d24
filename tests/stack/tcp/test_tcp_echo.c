/*
 * An echo server over a lossy wire (2% loss each way): the client sends a
 * stream on one connection and reads the echo; the server sends back what
 * it reads and stops reading while too much of its echo is still waiting
 * for send buffer space (as apps/echo_server_tcp.c does). The whole stream
 * must come back within a bounded virtual time, for several seeds (this
 * used to deadlock: both sides dropping each other's ACKs until ETIMEDOUT).
 * Then the ACK rules that deadlock broke, one segment each: ACKs in old
 * segments and in segments sent into a zero window are processed, a window
 * carried by a peer's retransmission is taken, and pure ACKs carry snd_max
 * after a go-back-N retransmission.
 */
#include "tcp_test_util.h"

#define ECHO_PENDING_MAX (256u << 10)

struct echo {
    struct tt_ep *cl;
    struct tcp_conn *sv;
    struct buf *pend[4096];     /* received bufs not yet fully queued back */
    size_t pend_off[4096];
    size_t head, tail, pend_bytes;
    size_t total, back, bad;
    int sv_eof;
};

/* Queues the pending echo into the server's send buffer as far as it fits. */
static void echo_push(struct echo *e)
{
    while (e->head != e->tail) {
        struct buf *b = e->pend[e->head % 4096];
        size_t off = e->pend_off[e->head % 4096];
        ssize_t n = tcp_send(e->sv, b, off, b->len - off);
        if (n <= 0)
            return;
        e->pend_bytes -= (size_t)n;
        if (off + (size_t)n < b->len) {
            e->pend_off[e->head % 4096] = off + (size_t)n;
            return;
        }
        buf_unref(b);
        e->head++;
    }
}

/* Reads while the pending echo is small enough. */
static void echo_read(struct echo *e)
{
    for (int guard = 0; guard < 100000 && e->pend_bytes < ECHO_PENDING_MAX && e->tail - e->head < 4096; guard++) {
        struct buf *x = NULL;
        ssize_t n = tcp_recv(e->sv, &x, 1 << 20);
        if (n <= 0) {
            if (n == 0)
                e->sv_eof = 1;
            break;
        }
        e->pend[e->tail % 4096] = x;
        e->pend_off[e->tail % 4096] = 0;
        e->tail++;
        e->pend_bytes += (size_t)n;
        echo_push(e);
    }
    if (e->sv_eof && e->head == e->tail)
        tcp_shutdown(e->sv);
}

static void echo_sv_cb(void *user, struct tcp_conn *c, enum tcp_event ev, int err)
{
    struct echo *e = user;

    (void)err;
    e->sv = c;
    if (ev == TCP_EV_READABLE || ev == TCP_EV_WRITABLE) {
        echo_push(e);
        echo_read(e);
    }
}

/* The client reads the echo and checks it. */
static void echo_cl_cb(void *user, struct tcp_conn *c, enum tcp_event ev, int err)
{
    struct echo *e = user;

    if (ev != TCP_EV_READABLE) {
        tt_cb(e->cl, c, ev, err);
        return;
    }
    for (int guard = 0; guard < 100000; guard++) {
        struct buf *x = NULL;
        ssize_t n = tcp_recv(c, &x, 1 << 20);
        if (n <= 0) {
            if (n == 0)
                e->cl->eof = 1;
            break;
        }
        for (ssize_t k = 0; k < n; k++)
            if (x->data[k] != tt_byte(e->back + (size_t)k))
                e->bad++;
        e->back += (size_t)n;
        buf_unref(x);
    }
}

static int cond_back(void *arg)
{
    struct echo *e = arg;
    return e->back == e->total;
}

static void echo_run(uint64_t seed, size_t total)
{
    struct harness *h = harness_new(2, seed, NULL, NULL);
    struct tt_ep cl = {0}, l = {0};
    struct echo *e = calloc(1, sizeof(*e));
    struct sim_faults f = {.delay_ns = 100000, .loss_ppm = 20000};
    uint64_t t0;
    int rc;

    assert_non_null(e);
    e->cl = &cl;
    e->total = total;
    tt_static_arp(h, 2);
    tt_listen(h, 1, &l, 4);
    assert_int_equal(tcp_open(harness_stack(h, 0), &cl.c, echo_cl_cb, e), 0);
    assert_int_equal(tcp_connect(cl.c, harness_ip(1), htons(TT_PORT)), 0);
    {
        struct tt_pair p = {&cl, &l, NULL};
        assert_int_equal(harness_run_until(h, tt_cond_established, &p, 30ull * NS_PER_SEC), 0);
    }
    assert_int_equal(tcp_accept(l.c, &e->sv, echo_sv_cb, e), 0);
    sim_wire_set_faults(harness_wire(h), -1, &f);
    cl.pat = tt_pattern(1u << 20);
    cl.tx_total = total;
    tt_pump(&cl);
    t0 = harness_now(h);
    rc = ETIMEDOUT;
    {
        size_t last = (size_t)-1;
        for (int k = 0; k < 600 && rc; k++) {
            rc = harness_run_until(h, cond_back, e, 5ull * NS_PER_SEC);
            if (rc && e->back == last && getenv("TT_ECHO_DEBUG"))
                break;
            last = e->back;
        }
    }
    if (rc) {
        struct tcp_conn *a = cl.c, *b = e->sv;
        fprintf(stderr, "seed %llu: STALL back=%zu/%zu sent=%zu t=%.3f pend=%zu\n", (unsigned long long)seed,
                e->back, total, cl.tx_done, (double)(harness_now(h) - t0) / 1e9, e->pend_bytes);
        fprintf(stderr, " cl: st=%d fl=%x una=%u nxt=%u max=%u wnd=%u cwnd=%u snd_cc=%u rcv_cc=%u rcv_nxt=%u adv=%u "
                        "rexmt=%d\n", a->state, a->flags, a->snd_una, a->snd_nxt, a->snd_max, a->snd_wnd, a->cwnd,
                a->snd_cc, a->rcv_cc, a->rcv_nxt, a->rcv_adv, timer_armed(&a->t_rexmt));
        fprintf(stderr, " sv: st=%d fl=%x una=%u nxt=%u max=%u wnd=%u cwnd=%u snd_cc=%u rcv_cc=%u rcv_nxt=%u adv=%u "
                        "rexmt=%d\n", b->state, b->flags, b->snd_una, b->snd_nxt, b->snd_max, b->snd_wnd, b->cwnd,
                b->snd_cc, b->rcv_cc, b->rcv_nxt, b->rcv_adv, timer_armed(&b->t_rexmt));
    } else {
        print_message("seed %llu: %zu MiB echoed in %.1f s virtual, %llu+%llu RTOs\n", (unsigned long long)seed,
                      total >> 20, (double)(harness_now(h) - t0) / 1e9,
                      (unsigned long long)harness_counter(h, 0, "tcp.rto_events"),
                      (unsigned long long)harness_counter(h, 1, "tcp.rto_events"));
    }
    assert_int_equal(rc, 0);
    assert_int_equal(e->bad, 0);
    tcp_close(cl.c);
    tcp_close(e->sv);
    tcp_close(l.c);
    harness_free(h);
    while (e->head != e->tail)
        buf_unref(e->pend[e->head++ % 4096]);
    free(e);
    tt_ep_free(&cl);
    tt_ep_free(&l);
    harness_assert_no_leaks();
}

static void test_echo_lossy(void **state)
{
    const char *env = getenv("TT_ECHO_SEEDS");
    const char *mb = getenv("TT_ECHO_MB");
    int n = env ? atoi(env) : 4;
    size_t total = (mb ? strtoul(mb, NULL, 10) : 16) << 20;

    (void)state;
    for (int i = 0; i < n; i++)
        echo_run(100 + (uint64_t)i, total);
}

/* Injects a TCP segment of the connection from into stack `to` (raw frame),
 * with len payload bytes (zeros) and the raw window field win. */
static void inject(struct harness *h, int to, const struct tcp_conn *from, uint32_t seq, uint32_t ack, uint8_t flags,
                   uint16_t win, uint32_t len)
{
    uint8_t *f = calloc(1, 14 + 20 + 20 + len);
    uint8_t m0[6], m1[6];
    uint8_t *th = f + 34;
    uint16_t c;

    assert_non_null(f);
    tu_mac(to, m0);
    tu_mac(1 - to, m1);
    tu_eth(f, m0, m1, 0x0800);
    tu_ipv4(f + 14, from->lip, from->rip, 6, (uint16_t)(20 + len), 64, 0x4000);
    memcpy(th, &from->lport, 2);
    memcpy(th + 2, &from->rport, 2);
    for (int i = 0; i < 4; i++) {
        th[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        th[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    th[12] = 5 << 4;
    th[13] = flags;
    th[14] = (uint8_t)(win >> 8);
    th[15] = (uint8_t)win;
    c = inet_csum_fold(inet_csum_partial(th, 20 + len, inet_pseudo_sum(from->lip, from->rip, 6, (uint16_t)(20 + len))));
    memcpy(th + 16, &c, 2);
    inet_input(harness_stack(h, to), harness_frame(f, 14 + 20 + 20 + len), harness_now(h));
    free(f);
}

static void finish(struct harness *h, struct tt_ep *cl, struct tt_ep *l, struct tt_ep *sv)
{
    tcp_abort(cl->c);
    tcp_abort(sv->c);
    tcp_close(l->c);
    harness_free(h);
    tt_ep_free(cl);
    tt_ep_free(l);
    tt_ep_free(sv);
    harness_assert_no_leaks();
}

/* The client sends 1000 bytes twice (two segments); the server queues 1000
 * bytes that do not leave yet. Returns the server's snd_una. */
static uint32_t two_segments_then_server_data(struct harness *h, struct tt_ep *cl, struct tt_ep *sv)
{
    struct buf *b = tt_pattern(2048);
    uint32_t una;

    assert_int_equal(tcp_setopt(cl->c, TCP_OPT_NODELAY, 1), 0);
    assert_int_equal(tcp_send(cl->c, b, 0, 1000), 1000);
    harness_run_for(h, NS_PER_SEC / 10);
    assert_int_equal(tcp_send(cl->c, b, 1000, 1000), 1000);
    harness_run_for(h, NS_PER_SEC / 10);
    assert_int_equal(sv->rx_len, 2000);
    una = sv->c->snd_una;
    assert_int_equal(tcp_send(sv->c, b, 0, 1000), 1000);
    assert_int_equal(sv->c->snd_max, una + 1000);
    buf_unref(b);
    return una;
}

/* A pure ACK with a sequence number before rcv_nxt still acknowledges. */
static void test_ack_in_old_segment(void **state)
{
    struct harness *h = harness_new(2, 71, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    uint32_t una;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    una = two_segments_then_server_data(h, &cl, &sv);
    inject(h, 1, cl.c, sv.c->rcv_nxt - 1000, una + 1000, TH_ACK, 0xffff, 0);
    assert_int_equal(sv.c->snd_una, una + 1000);
    /* an old RST is still ignored */
    inject(h, 1, cl.c, sv.c->rcv_nxt - 1000, una + 1000, TH_RST | TH_ACK, 0xffff, 0);
    assert_int_equal(sv.c->state, TCPS_ESTABLISHED);
    finish(h, &cl, &l, &sv);
}

/* A segment with data sent into a window of size 0 at rcv_nxt: the data is
 * dropped, the ACK is processed (RFC 9293 3.10.7.4). */
static void small_rcvbuf(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    if (i == 1)
        cfg->tcp_rcvbuf = 16384;
}

static int cond_zero_window(void *arg)
{
    struct tcp_conn *c = arg;
    return c->rcv_adv == c->rcv_nxt;
}

static void test_ack_into_zero_window(void **state)
{
    struct harness *h = harness_new(2, 72, small_rcvbuf, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct buf *b = tt_pattern(65536);
    uint32_t una, rcv_nxt;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sv.no_drain = 1;
    assert_int_equal(tcp_send(cl.c, b, 0, 65536), 65536);
    assert_int_equal(harness_run_until(h, cond_zero_window, sv.c, 5ull * NS_PER_SEC), 0);
    harness_run_for(h, NS_PER_SEC / 10);
    una = sv.c->snd_una;
    rcv_nxt = sv.c->rcv_nxt;
    assert_int_equal(tcp_send(sv.c, b, 0, 1000), 1000);
    inject(h, 1, cl.c, rcv_nxt, una + 1000, TH_ACK, 0xffff, 100);
    assert_int_equal(sv.c->snd_una, una + 1000);
    assert_int_equal(sv.c->rcv_nxt, rcv_nxt);
    buf_unref(b);
    finish(h, &cl, &l, &sv);
}

/* An ACK that moves snd_una takes the window it carries even when its
 * sequence number is older than snd_wl1 (a peer's retransmission filling a
 * hole before data that arrived out of order): snd_wnd counts from snd_una. */
static void test_window_from_retransmission(void **state)
{
    struct harness *h = harness_new(2, 73, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct buf *b = tt_pattern(2048);
    uint32_t una, rcv_nxt;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    una = sv.c->snd_una;
    rcv_nxt = sv.c->rcv_nxt;
    assert_int_equal(tcp_send(sv.c, b, 0, 1000), 1000);
    /* the peer's second segment arrives first, then the first one again */
    inject(h, 1, cl.c, rcv_nxt + 1000, una, TH_ACK, 0xffff, 1000);
    assert_int_equal(sv.c->snd_wl1, rcv_nxt + 1000);
    inject(h, 1, cl.c, rcv_nxt, una + 1000, TH_ACK, 3, 1000);
    assert_int_equal(sv.c->rcv_nxt, rcv_nxt + 2000);
    assert_int_equal(sv.c->snd_una, una + 1000);
    assert_int_equal(sv.c->snd_wnd, 3u << sv.c->snd_wscale);
    buf_unref(b);
    finish(h, &cl, &l, &sv);
}

static int drop_from_server(void *arg, int port, const struct buf *frame)
{
    (void)arg;
    (void)frame;
    return port == 1;
}

/* After an RTO moved snd_nxt back, a pure ACK carries snd_max: the peer
 * already holds the data up to there and would drop an older number. */
static void test_pure_ack_seq_after_rto(void **state)
{
    struct harness *h = harness_new(2, 74, NULL, NULL);
    struct tt_ep cl = {0}, l = {0}, sv = {0};
    struct buf *b = tt_pattern(8192);
    uint32_t acks = 0, last_seq = 0;

    (void)state;
    tt_static_arp(h, 2);
    tt_establish(h, &cl, &l, &sv);
    sim_wire_set_filter(harness_wire(h), drop_from_server, NULL);
    assert_int_equal(tcp_send(cl.c, b, 0, 5000), 5000);
    harness_run_for(h, NS_PER_SEC / 2);
    assert_true(harness_counter(h, 0, "tcp.rto_events") >= 1);
    assert_true(SEQ_LT(cl.c->snd_nxt, cl.c->snd_max));
    harness_record(h, 1);
    /* the server's data, with an ACK the client already had */
    inject(h, 0, sv.c, cl.c->rcv_nxt, cl.c->snd_una, TH_ACK, 0xffff, 10);
    harness_run_for(h, NS_PER_SEC / 10);
    for (size_t i = 0; i < harness_frames_count(h); i++) {
        size_t tl;
        int port;
        const uint8_t *th = tt_frame_tcp(h, i, &tl, &port);
        if (!th || port != 0 || tl != (size_t)(th[12] >> 4) * 4 || tt_flags(th) != TH_ACK)
            continue;
        acks++;
        last_seq = tt_rd32(th + 4);
    }
    assert_true(acks >= 1);
    assert_int_equal(last_seq, cl.c->snd_max);
    sim_wire_set_filter(harness_wire(h), NULL, NULL);
    buf_unref(b);
    finish(h, &cl, &l, &sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_lossy),
        cmocka_unit_test(test_ack_in_old_segment),
        cmocka_unit_test(test_ack_into_zero_window),
        cmocka_unit_test(test_window_from_retransmission),
        cmocka_unit_test(test_pure_ack_seq_after_rto),
    };
    tt_filter_from_env();
    return cmocka_run_group_tests_name("tcp_echo", tests, NULL, NULL);
}
