/*
 * UDP: bind rules and ephemeral ports, echo between two stacks through loss
 * and duplication, corrupted datagrams dropped and counted, the receive
 * queue bound, the sender's address, connected sockets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/clock.h"
#include "inet/proto.h"
#include "inet/udp.h"
#include "test_util.h"

/* Every stack knows every other's MAC statically: no ARP frames on the wire. */
static void static_arp(struct harness *h, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            uint8_t mac[6];
            tu_mac(j, mac);
            if (i != j)
                assert_int_equal(arp_add_static(harness_stack(h, i), harness_ip(j), mac), 0);
        }
}

static int send_bytes(struct udp_sock *u, const void *p, size_t len, uint32_t ip, uint16_t port)
{
    struct buf *b = buf_alloc(len);
    memcpy(b->data, p, len);
    return udp_sendto(u, &b, 1, ip, port);
}

static void test_bind_rules(void **state)
{
    struct harness *h = harness_new(1, 1, NULL, NULL);
    struct inet_stack *s = harness_stack(h, 0);
    struct udp_sock *a, *b, *c;
    uint32_t lip;
    uint16_t lport;

    assert_int_equal(udp_open(s, &a, NULL, NULL), 0);
    assert_int_equal(udp_open(s, &b, NULL, NULL), 0);
    assert_int_equal(udp_open(s, &c, NULL, NULL), 0);
    assert_int_equal(udp_bind(a, htonl(0x0a000042), htons(80)), EADDRNOTAVAIL);
    assert_int_equal(udp_bind(a, 0, htons(80)), 0);
    assert_int_equal(udp_bind(a, 0, htons(81)), EINVAL);
    assert_int_equal(udp_bind(b, harness_ip(0), htons(80)), EADDRINUSE);
    assert_int_equal(udp_bind(b, harness_ip(0), 0), 0);
    udp_getname(b, &lip, &lport, NULL, NULL);
    assert_int_equal(lip, harness_ip(0));
    assert_true(ntohs(lport) >= 49152);
    /* sendto on an unbound socket binds an ephemeral port */
    assert_int_equal(send_bytes(c, "x", 1, harness_ip(0) ^ htonl(3), htons(9)), 0);
    udp_getname(c, &lip, &lport, NULL, NULL);
    assert_true(ntohs(lport) >= 49152 && lport != 0);
    assert_int_equal(send_bytes(c, "x", 1, 0, htons(9)), EDESTADDRREQ);
    assert_int_equal(send_bytes(c, "x", 1, harness_ip(0) ^ htonl(3), 0), EINVAL);
    /* closing frees the port */
    udp_close(a);
    assert_int_equal(udp_open(s, &a, NULL, NULL), 0);
    assert_int_equal(udp_bind(a, 0, htons(80)), 0);
    udp_close(a);
    udp_close(b);
    udp_close(c);
    harness_free(h);
    harness_assert_no_leaks();
}

struct echo {
    struct udp_sock *server, *client;
    int server_rx, client_rx, bad;
    uint32_t client_ip;
    uint16_t client_port;
};

/* Server: echo every datagram to its sender. */
static void on_server(void *user, struct udp_sock *u)
{
    struct echo *e = user;
    struct buf *b;
    uint32_t ip;
    uint16_t port;

    while (udp_recv(u, &b, &ip, &port) >= 0) {
        e->server_rx++;
        if (ip != e->client_ip || port != e->client_port)
            e->bad++;
        assert_int_equal(udp_sendto(u, &b, 1, ip, port), 0);
    }
}

/* Client: check the echoed bytes are one of ours. */
static void on_client(void *user, struct udp_sock *u)
{
    struct echo *e = user;
    struct buf *b;
    uint32_t ip;
    uint16_t port;
    ssize_t n;

    while ((n = udp_recv(u, &b, &ip, &port)) >= 0) {
        uint32_t seq;
        e->client_rx++;
        if (n != 100 || ip != harness_ip(1) || port != htons(7))
            e->bad++;
        memcpy(&seq, b->data, 4);
        for (int i = 4; i < n; i++)
            if (b->data[i] != (uint8_t)(seq + (uint32_t)i))
                e->bad++;
        buf_unref(b);
    }
}

/* Runs N datagrams of echo with the given faults on every port. */
static void run_echo(uint64_t seed, const struct sim_faults *f, int n, struct echo *e, struct harness **hp)
{
    struct harness *h = harness_new(2, seed, NULL, NULL);

    static_arp(h, 2);
    sim_wire_set_faults(harness_wire(h), -1, f);
    memset(e, 0, sizeof(*e));
    assert_int_equal(udp_open(harness_stack(h, 1), &e->server, on_server, e), 0);
    assert_int_equal(udp_bind(e->server, 0, htons(7)), 0);
    assert_int_equal(udp_open(harness_stack(h, 0), &e->client, on_client, e), 0);
    assert_int_equal(udp_bind(e->client, 0, htons(5000)), 0);
    e->client_ip = harness_ip(0);
    e->client_port = htons(5000);
    for (int i = 0; i < n; i++) {
        uint8_t p[100];
        uint32_t seq = (uint32_t)i;
        memcpy(p, &seq, 4);
        for (int k = 4; k < 100; k++)
            p[k] = (uint8_t)(seq + (uint32_t)k);
        assert_int_equal(send_bytes(e->client, p, sizeof(p), harness_ip(1), htons(7)), 0);
        harness_run_for(h, 100 * NS_PER_US);
    }
    harness_run_for(h, NS_PER_SEC);
    *hp = h;
}

static void test_echo_clean(void **state)
{
    struct sim_faults f = {.delay_ns = 50 * NS_PER_US};
    struct echo e;
    struct harness *h;

    run_echo(21, &f, 500, &e, &h);
    assert_int_equal(e.server_rx, 500);
    assert_int_equal(e.client_rx, 500);
    assert_int_equal(e.bad, 0);
    assert_int_equal(harness_counter(h, 0, "udp.tx_datagrams"), 500);
    assert_int_equal(harness_counter(h, 1, "udp.rx_bytes"), 500 * 100);
    udp_close(e.client);
    udp_close(e.server);
    harness_free(h);
    harness_assert_no_leaks();
}

static void test_echo_loss_dup(void **state)
{
    struct sim_faults f = {.loss_ppm = 100000, .dup_ppm = 100000, .delay_ns = 20 * NS_PER_US,
                           .jitter_ns = 200 * NS_PER_US, .reorder_ppm = 50000};
    struct echo e;
    struct harness *h;
    const struct sim_stats *st;

    run_echo(22, &f, 1000, &e, &h);
    st = sim_wire_stats(harness_wire(h));
    /* every frame sent was a datagram: what arrived is what was sent, minus
     * the lost, plus the duplicates */
    assert_int_equal(st->tx_frames, 1000 + (uint64_t)e.server_rx);
    assert_int_equal(st->delivered, st->tx_frames - st->lost + st->duplicated);
    assert_int_equal((uint64_t)e.server_rx + (uint64_t)e.client_rx, st->delivered);
    assert_true(st->lost > 100 && st->duplicated > 100 && st->reordered > 20);
    assert_true(e.server_rx > 800 && e.server_rx < 1100);
    assert_int_equal(e.bad, 0);
    udp_close(e.client);
    udp_close(e.server);
    harness_free(h);
    harness_assert_no_leaks();
}

static void test_corruption_counted(void **state)
{
    struct sim_faults f = {.corrupt_ppm = SIM_PPM};
    struct echo e;
    struct harness *h;
    uint64_t dropped = 0;
    static const char *const drops[] = {"ipv4.rx_bad_header", "ipv4.rx_bad_length", "ipv4.rx_bad_checksum",
                                        "udp.rx_bad_checksum", "udp.rx_bad_length"};

    run_echo(23, &f, 300, &e, &h);
    assert_int_equal(e.server_rx, 0);
    for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
        dropped += harness_counter(h, 1, drops[i]);
    assert_int_equal(dropped, 300);
    assert_true(harness_counter(h, 1, "udp.rx_bad_checksum") > 200);    /* most bits are in the payload */
    assert_true(harness_counter(h, 1, "ipv4.rx_bad_checksum") > 0);
    assert_int_equal(sim_wire_stats(harness_wire(h))->corrupted, 300);
    udp_close(e.client);
    udp_close(e.server);
    harness_free(h);
    harness_assert_no_leaks();

    /* a datagram whose checksum is off by one bit, built by hand */
    h = harness_new(1, 24, NULL, NULL);
    struct inet_stack *s = harness_stack(h, 0);
    struct udp_sock *u;
    uint8_t fr[64];
    const uint8_t peer[6] = {0x02, 9, 9, 9, 9, 9};
    uint32_t pip = htonl(0x0a000009);
    size_t o = tu_eth(fr, s->cfg.mac, peer, 0x0800);
    o += tu_ipv4(fr + o, pip, harness_ip(0), 17, 12, 64, 0);
    tu_wr16(fr + o, 1000);
    tu_wr16(fr + o + 2, 7);
    tu_wr16(fr + o + 4, 12);
    fr[o + 6] = fr[o + 7] = 0;
    memcpy(fr + o + 8, "abcd", 4);
    uint16_t c = inet_csum_fold(inet_csum_partial(fr + o, 12, inet_pseudo_sum(pip, harness_ip(0), 17, 12)));
    memcpy(fr + o + 6, &c, 2);
    assert_int_equal(udp_open(s, &u, NULL, NULL), 0);
    assert_int_equal(udp_bind(u, 0, htons(7)), 0);
    inet_input(s, harness_frame(fr, o + 12), harness_now(h));
    assert_int_equal(udp_pending(u), 1);
    fr[o + 9] ^= 4;
    inet_input(s, harness_frame(fr, o + 12), harness_now(h));
    assert_int_equal(udp_pending(u), 1);
    assert_int_equal(harness_counter(h, 0, "udp.rx_bad_checksum"), 1);
    udp_close(u);
    harness_free(h);
    harness_assert_no_leaks();
}

static void small_rcvbuf(void *arg, int i, struct inet_config *cfg)
{
    cfg->udp_rcvbuf = 4096;
}

static void test_rcvbuf_bound(void **state)
{
    struct harness *h = harness_new(2, 25, small_rcvbuf, NULL);
    struct udp_sock *a, *b;
    uint8_t p[500] = {0};
    struct buf *got;
    uint32_t ip;
    uint16_t port;

    static_arp(h, 2);
    assert_int_equal(udp_open(harness_stack(h, 0), &a, NULL, NULL), 0);
    assert_int_equal(udp_open(harness_stack(h, 1), &b, NULL, NULL), 0);
    assert_int_equal(udp_bind(b, 0, htons(7)), 0);
    assert_int_equal(udp_bind(a, 0, htons(6000)), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(send_bytes(a, p, sizeof(p), harness_ip(1), htons(7)), 0);
    harness_run_for(h, NS_PER_SEC);
    assert_int_equal(udp_pending(b), 5);        /* 5 * (500 + 256) <= 4096 */
    assert_int_equal(harness_counter(h, 1, "udp.rx_queue_full"), 15);
    assert_int_equal(udp_recv(b, &got, &ip, &port), 500);
    assert_int_equal(ip, harness_ip(0));
    assert_int_equal(port, htons(6000));
    buf_unref(got);
    /* room again after reading */
    assert_int_equal(send_bytes(a, p, sizeof(p), harness_ip(1), htons(7)), 0);
    harness_run_for(h, NS_PER_SEC);
    assert_int_equal(udp_pending(b), 5);
    /* zero-length datagrams are charged too: the queue cannot grow without bound */
    for (int i = 0; i < 100; i++)
        assert_int_equal(send_bytes(a, p, 0, harness_ip(1), htons(7)), 0);
    harness_run_for(h, NS_PER_SEC);
    assert_int_equal(udp_pending(b), 6);        /* 5 * 756 + 256 <= 4096: one more fits */
    assert_int_equal(harness_counter(h, 1, "udp.rx_queue_full"), 15 + 99);
    udp_close(a);
    udp_close(b);
    harness_free(h);
    harness_assert_no_leaks();
}

static void test_connected_and_multiseg(void **state)
{
    struct harness *h = harness_new(3, 26, NULL, NULL);
    struct udp_sock *a, *b, *c;
    struct buf *bufs[3], *got;
    uint32_t rip;
    uint16_t rport;

    static_arp(h, 3);
    assert_int_equal(udp_open(harness_stack(h, 0), &a, NULL, NULL), 0);
    assert_int_equal(udp_open(harness_stack(h, 1), &b, NULL, NULL), 0);
    assert_int_equal(udp_open(harness_stack(h, 2), &c, NULL, NULL), 0);
    assert_int_equal(udp_bind(a, 0, htons(7)), 0);
    assert_int_equal(udp_connect(a, harness_ip(1), htons(8)), 0);
    udp_getname(a, NULL, NULL, &rip, &rport);
    assert_int_equal(rip, harness_ip(1));
    assert_int_equal(udp_bind(b, 0, htons(8)), 0);
    assert_int_equal(udp_bind(c, 0, htons(8)), 0);
    /* gathered from three buffers, sent to the connected peer */
    for (int i = 0; i < 3; i++) {
        bufs[i] = buf_alloc(3);
        memcpy(bufs[i]->data, i == 0 ? "abc" : i == 1 ? "def" : "ghi", 3);
    }
    assert_int_equal(udp_sendto(a, bufs, 3, 0, 0), 0);
    harness_run_for(h, NS_PER_MS);
    assert_int_equal(udp_recv(b, &got, NULL, NULL), 9);
    assert_memory_equal(got->data, "abcdefghi", 9);
    buf_unref(got);
    /* a connected socket ignores others */
    assert_int_equal(send_bytes(c, "zz", 2, harness_ip(0), htons(7)), 0);
    assert_int_equal(send_bytes(b, "ok", 2, harness_ip(0), htons(7)), 0);
    harness_run_for(h, NS_PER_MS);
    assert_int_equal(udp_pending(a), 1);
    assert_int_equal(harness_counter(h, 0, "udp.rx_filtered"), 1);
    udp_close(a);
    udp_close(b);
    udp_close(c);
    harness_free(h);
    harness_assert_no_leaks();
}

static void test_tx_queue_bound(void **state)
{
    struct harness *h = harness_new(2, 27, NULL, NULL);
    struct udp_sock *a;
    struct inet_stack *s = harness_stack(h, 0);

    static_arp(h, 2);
    assert_int_equal(udp_open(s, &a, NULL, NULL), 0);
    /* nobody calls inet_tx_drain: the queue stops at its bound and counts */
    for (int i = 0; i < 70000; i++)
        assert_int_equal(send_bytes(a, "q", 1, harness_ip(1), htons(9)), 0);
    assert_int_equal(inet_tx_pending(s), 65536);
    assert_int_equal(harness_counter(h, 0, "eth.tx_queue_full"), 70000 - 65536);
    udp_close(a);
    harness_free(h);
    harness_assert_no_leaks();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_rules),
        cmocka_unit_test(test_echo_clean),
        cmocka_unit_test(test_echo_loss_dup),
        cmocka_unit_test(test_corruption_counted),
        cmocka_unit_test(test_rcvbuf_bound),
        cmocka_unit_test(test_connected_and_multiseg),
        cmocka_unit_test(test_tx_queue_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
