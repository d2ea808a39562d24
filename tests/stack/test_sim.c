/*
 * The sim wire: same seed -> same frames (hash), different seed -> other
 * frames; delay, bandwidth, cut link and the filter hook do what they say.
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

struct sink {
    int n;
    uint64_t last_ns;
    struct harness *h;
};

static void on_rx(void *user, struct udp_sock *u)
{
    struct sink *k = user;
    struct buf *b;

    while (udp_recv(u, &b, NULL, NULL) >= 0) {
        k->n++;
        k->last_ns = harness_now(k->h);
        buf_unref(b);
    }
}

/* A faulty UDP exchange among three stacks (ARP included); returns the wire hash. */
static uint64_t faulty_run(uint64_t seed, struct sim_stats *out)
{
    struct harness *h = harness_new(3, seed, NULL, NULL);
    struct sim_faults f = {.loss_ppm = 50000, .dup_ppm = 50000, .corrupt_ppm = 20000, .reorder_ppm = 50000,
                           .delay_ns = 10 * NS_PER_US, .jitter_ns = 30 * NS_PER_US, .rate_bps = 100000000};
    struct udp_sock *u[3];
    struct sink k[3] = {{0}};
    uint64_t hash;

    sim_wire_set_faults(harness_wire(h), -1, &f);
    for (int i = 0; i < 3; i++) {
        k[i].h = h;
        assert_int_equal(udp_open(harness_stack(h, i), &u[i], on_rx, &k[i]), 0);
        assert_int_equal(udp_bind(u[i], 0, htons(9)), 0);
    }
    for (int r = 0; r < 300; r++) {
        int from = r % 3, to = (r + 1 + r / 3 % 2) % 3;
        struct buf *b = buf_alloc(64 + (size_t)r);
        memset(b->data, r, b->len);
        udp_sendto(u[from], &b, 1, harness_ip(to), htons(9));
        harness_run_for(h, 50 * NS_PER_US);
    }
    harness_run_for(h, 5 * NS_PER_SEC);
    hash = sim_wire_hash(harness_wire(h));
    *out = *sim_wire_stats(harness_wire(h));
    for (int i = 0; i < 3; i++)
        udp_close(u[i]);
    harness_free(h);
    harness_assert_no_leaks();
    return hash;
}

static void test_reproducible(void **state)
{
    struct sim_stats a, b, c;
    uint64_t h1 = faulty_run(1234, &a), h2 = faulty_run(1234, &b), h3 = faulty_run(1235, &c);

    assert_int_equal(h1, h2);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_true(h1 != h3);
    assert_true(a.lost > 0 && a.duplicated > 0 && a.corrupted > 0 && a.reordered > 0);
}

static void test_delay_bandwidth(void **state)
{
    struct harness *h = harness_new(2, 2, NULL, NULL);
    struct sim_faults f = {.delay_ns = 5 * NS_PER_MS, .rate_bps = 8000000};   /* 1 MB/s */
    struct udp_sock *a, *b;
    struct sink k = {.h = h};
    uint64_t t0;
    uint8_t mac[6];

    tu_mac(1, mac);
    assert_int_equal(arp_add_static(harness_stack(h, 0), harness_ip(1), mac), 0);
    sim_wire_set_faults(harness_wire(h), 0, &f);
    assert_int_equal(udp_open(harness_stack(h, 0), &a, NULL, NULL), 0);
    assert_int_equal(udp_open(harness_stack(h, 1), &b, on_rx, &k), 0);
    assert_int_equal(udp_bind(b, 0, htons(9)), 0);
    t0 = harness_now(h);
    /* 100 frames of 1000 + 42 bytes at 1 MB/s: the last lands ~104 ms + 5 ms later */
    for (int i = 0; i < 100; i++) {
        struct buf *p = buf_alloc(1000);
        memset(p->data, 0, 1000);
        assert_int_equal(udp_sendto(a, &p, 1, harness_ip(1), htons(9)), 0);
    }
    harness_run_for(h, NS_PER_SEC);
    assert_int_equal(k.n, 100);
    uint64_t took = k.last_ns - t0, want = 100ull * 1042 * 8 * NS_PER_SEC / 8000000 + 5 * NS_PER_MS;
    assert_true(took >= want - NS_PER_US && took <= want + NS_PER_MS);
    /* a burst over the queue limit is dropped and counted */
    f.queue_max = 10;
    sim_wire_set_faults(harness_wire(h), 0, &f);
    for (int i = 0; i < 50; i++) {
        struct buf *p = buf_alloc(1000);
        memset(p->data, 0, 1000);
        assert_int_equal(udp_sendto(a, &p, 1, harness_ip(1), htons(9)), 0);
    }
    harness_run_for(h, NS_PER_SEC);
    assert_true(sim_wire_stats(harness_wire(h))->queue_dropped >= 35);
    assert_int_equal(k.n, 100 + 50 - (int)sim_wire_stats(harness_wire(h))->queue_dropped);
    udp_close(a);
    udp_close(b);
    harness_free(h);
    harness_assert_no_leaks();
}

/* Drops every frame sent by port 0 whose UDP payload starts with 'X'. */
static int drop_x(void *arg, int port, const struct buf *frame)
{
    return port == 0 && frame->len > 42 && frame->data[42] == 'X';
}

static void test_cut_and_filter(void **state)
{
    struct harness *h = harness_new(2, 3, NULL, NULL);
    struct sim_faults cut = {.cut = 1}, none = {0};
    struct udp_sock *a, *b;
    struct sink k = {.h = h};
    struct buf *p;

    assert_int_equal(udp_open(harness_stack(h, 0), &a, NULL, NULL), 0);
    assert_int_equal(udp_open(harness_stack(h, 1), &b, on_rx, &k), 0);
    assert_int_equal(udp_bind(b, 0, htons(9)), 0);
    sim_wire_set_faults(harness_wire(h), -1, &cut);
    p = buf_copy_from("hello", 5);
    assert_int_equal(udp_sendto(a, &p, 1, harness_ip(1), htons(9)), 0);
    harness_run_for(h, 10 * NS_PER_SEC);
    assert_int_equal(k.n, 0);
    assert_true(sim_wire_stats(harness_wire(h))->cut_dropped >= 4);     /* the ARP requests */
    sim_wire_set_faults(harness_wire(h), -1, &none);
    sim_wire_set_filter(harness_wire(h), drop_x, NULL);
    p = buf_copy_from("Xdrop", 5);
    assert_int_equal(udp_sendto(a, &p, 1, harness_ip(1), htons(9)), 0);
    p = buf_copy_from("keep!", 5);
    assert_int_equal(udp_sendto(a, &p, 1, harness_ip(1), htons(9)), 0);
    harness_run_for(h, 2 * NS_PER_SEC);
    assert_int_equal(k.n, 1);
    assert_int_equal(sim_wire_stats(harness_wire(h))->filtered, 1);
    udp_close(a);
    udp_close(b);
    harness_free(h);
    harness_assert_no_leaks();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_delay_bandwidth),
        cmocka_unit_test(test_cut_and_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
