/*
 * ARP: resolution between two stacks, replies to requests, retries and
 * timeout, the bounded wait queue, unsolicited updates, static entries,
 * expiry and refresh.
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

/* Sends one small UDP datagram from stack `from` to harness stack `to`. */
static int send_udp(struct harness *h, struct udp_sock *u, int to, uint16_t port)
{
    struct buf *b = buf_alloc(4);
    memcpy(b->data, "ping", 4);
    (void)h;
    return udp_sendto(u, &b, 1, harness_ip(to), htons(port));
}

struct rx_count {
    int n;
};

static void on_udp(void *user, struct udp_sock *u)
{
    ((struct rx_count *)user)->n++;
}

static int got_one(void *arg)
{
    return ((struct rx_count *)arg)->n >= 1;
}

static void test_resolution(void **state)
{
    struct harness *h = harness_new(2, 7, NULL, NULL);
    struct udp_sock *a, *b;
    struct rx_count rc = {0};
    uint8_t mac[6], want[6];

    assert_int_equal(udp_open(harness_stack(h, 0), &a, NULL, NULL), 0);
    assert_int_equal(udp_open(harness_stack(h, 1), &b, on_udp, &rc), 0);
    assert_int_equal(udp_bind(b, 0, htons(7)), 0);
    harness_record(h, 1);
    assert_int_equal(send_udp(h, a, 1, 7), 0);
    assert_int_equal(harness_counter(h, 0, "arp.queued"), 1);
    assert_int_equal(harness_run_until(h, got_one, &rc, NS_PER_SEC), 0);
    /* on the wire: request (broadcast), reply (unicast), the datagram */
    assert_int_equal(harness_frames_count(h), 3);
    size_t len;
    int port;
    const uint8_t *f = harness_frame_at(h, 0, &len, &port, NULL);
    assert_int_equal(port, 0);
    assert_memory_equal(f, eth_broadcast, 6);
    assert_int_equal(f[12], 0x08);
    assert_int_equal(f[13], 0x06);
    assert_int_equal(f[21], 1);         /* opcode request */
    f = harness_frame_at(h, 1, &len, &port, NULL);
    assert_int_equal(port, 1);
    assert_int_equal(f[21], 2);         /* reply */
    tu_mac(0, want);
    assert_memory_equal(f, want, 6);
    /* both learned each other */
    assert_true(arp_lookup(harness_stack(h, 0), harness_ip(1), mac));
    tu_mac(1, want);
    assert_memory_equal(mac, want, 6);
    assert_true(arp_lookup(harness_stack(h, 1), harness_ip(0), mac));
    assert_int_equal(harness_counter(h, 0, "arp.resolved"), 1);
    assert_int_equal(harness_counter(h, 1, "arp.tx_replies"), 1);
    /* second datagram goes at once, no new request */
    assert_int_equal(send_udp(h, a, 1, 7), 0);
    assert_int_equal(harness_counter(h, 0, "arp.queued"), 0);
    harness_run_for(h, NS_PER_MS);
    assert_int_equal(rc.n, 2);
    assert_int_equal(harness_counter(h, 0, "arp.tx_requests"), 1);
    udp_close(a);
    udp_close(b);
    harness_free(h);
    harness_assert_no_leaks();
}

static void test_timeout_and_retries(void **state)
{
    struct harness *h = harness_new(2, 8, NULL, NULL);
    struct udp_sock *a;
    uint64_t t0 = harness_now(h);

    assert_int_equal(udp_open(harness_stack(h, 0), &a, NULL, NULL), 0);
    /* 10.0.0.9 does not exist */
    struct buf *b = buf_alloc(4);
    assert_int_equal(udp_sendto(a, &b, 1, htonl(0x0a000009), htons(9)), 0);
    harness_run_for(h, 10 * NS_PER_SEC);
    /* one request and 3 retries, a second apart; then the packet is dropped */
    assert_int_equal(harness_counter(h, 0, "arp.tx_requests"), 4);
    assert_int_equal(harness_counter(h, 0, "arp.failed"), 1);
    assert_int_equal(harness_counter(h, 0, "arp.queue_dropped"), 1);
    assert_int_equal(harness_counter(h, 0, "arp.entries"), 0);
    assert_int_equal(harness_counter(h, 0, "arp.queued"), 0);
    assert_true(harness_now(h) - t0 >= 4 * NS_PER_SEC);
    udp_close(a);
    harness_free(h);
    harness_assert_no_leaks();
}

static void small_queue(void *arg, int i, struct inet_config *cfg)
{
    cfg->arp_queue_max = 4;
}

static void test_queue_overflow(void **state)
{
    struct harness *h = harness_new(2, 9, small_queue, NULL);
    struct udp_sock *a, *b;
    struct rx_count rc = {0};

    assert_int_equal(udp_open(harness_stack(h, 0), &a, NULL, NULL), 0);
    assert_int_equal(udp_open(harness_stack(h, 1), &b, on_udp, &rc), 0);
    assert_int_equal(udp_bind(b, 0, htons(7)), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(send_udp(h, a, 1, 7), 0);
    assert_int_equal(send_udp(h, a, 1, 7), ENOBUFS);
    assert_int_equal(send_udp(h, a, 1, 7), ENOBUFS);
    assert_int_equal(harness_counter(h, 0, "arp.queue_full"), 2);
    assert_int_equal(harness_counter(h, 0, "ipv4.tx_arp_queue_full"), 2);
    harness_run_for(h, NS_PER_SEC);
    assert_int_equal(rc.n, 4);      /* the queued ones were all sent */
    udp_close(a);
    udp_close(b);
    harness_free(h);
    harness_assert_no_leaks();
}

/* Builds an ARP packet from (sha, spa) to tpa. */
static struct buf *arp_frame(uint16_t op, const uint8_t sha[6], uint32_t spa, uint32_t tpa, const uint8_t dst[6])
{
    uint8_t f[60] = {0};
    size_t o = tu_eth(f, dst, sha, 0x0806);
    tu_wr16(f + o, 1);
    tu_wr16(f + o + 2, 0x0800);
    f[o + 4] = 6;
    f[o + 5] = 4;
    tu_wr16(f + o + 6, op);
    memcpy(f + o + 8, sha, 6);
    memcpy(f + o + 14, &spa, 4);
    memcpy(f + o + 24, &tpa, 4);
    return harness_frame(f, sizeof(f));
}

static void test_reply_and_updates(void **state)
{
    struct harness *h = harness_new(1, 10, NULL, NULL);
    struct inet_stack *s = harness_stack(h, 0);
    const uint8_t peer[6] = {0x02, 0xaa, 0, 0, 0, 1}, peer2[6] = {0x02, 0xbb, 0, 0, 0, 2};
    uint32_t pip = htonl(0x0a000063);
    uint8_t mac[6];
    struct buf *out[4];

    /* a request for our address: reply, and learn the sender */
    inet_input(s, arp_frame(1, peer, pip, harness_ip(0), eth_broadcast), harness_now(h));
    assert_int_equal(inet_tx_drain(s, out, 4), 1);
    assert_memory_equal(out[0]->data, peer, 6);
    assert_int_equal(out[0]->data[21], 2);
    assert_memory_equal(out[0]->data + 22, s->cfg.mac, 6);     /* sha = us */
    assert_memory_equal(out[0]->data + 32, peer, 6);           /* tha = them */
    buf_unref(out[0]);
    assert_true(arp_lookup(s, pip, mac));
    assert_memory_equal(mac, peer, 6);
    /* gratuitous ARP (spa == tpa) from the same IP with a new MAC: updated */
    inet_input(s, arp_frame(1, peer2, pip, pip, eth_broadcast), harness_now(h));
    assert_int_equal(inet_tx_drain(s, out, 4), 0);
    assert_true(arp_lookup(s, pip, mac));
    assert_memory_equal(mac, peer2, 6);
    assert_int_equal(harness_counter(h, 0, "arp.updated"), 1);
    /* an ARP for someone else from an unknown IP is not learned */
    inet_input(s, arp_frame(1, peer, htonl(0x0a000064), htonl(0x0a000065), eth_broadcast), harness_now(h));
    assert_false(arp_lookup(s, htonl(0x0a000064), mac));
    assert_int_equal(harness_counter(h, 0, "arp.rx_not_for_us"), 1);
    /* someone claiming our own address is counted, not learned */
    inet_input(s, arp_frame(2, peer, harness_ip(0), harness_ip(0), eth_broadcast), harness_now(h));
    assert_int_equal(harness_counter(h, 0, "arp.rx_conflicts"), 1);
    /* malformed: short, wrong hardware type */
    inet_input(s, harness_frame("\xff\xff\xff\xff\xff\xff\x02\0\0\0\0\1\x08\x06\0\1", 16), harness_now(h));
    struct buf *bad = arp_frame(1, peer, pip, harness_ip(0), eth_broadcast);
    bad->data[15] = 6;
    inet_input(s, bad, harness_now(h));
    assert_int_equal(harness_counter(h, 0, "arp.rx_bad"), 2);
    assert_int_equal(inet_tx_drain(s, out, 4), 0);
    harness_free(h);
    harness_assert_no_leaks();
}

static void test_static_entry(void **state)
{
    struct harness *h = harness_new(1, 11, NULL, NULL);
    struct inet_stack *s = harness_stack(h, 0);
    const uint8_t gw[6] = {0x02, 0xcc, 0, 0, 0, 1}, other[6] = {0x02, 0xdd, 0, 0, 0, 1};
    uint32_t ip = htonl(0x0a000001 + 50);
    struct udp_sock *u;
    struct buf *out[4], *b;
    uint8_t mac[6];

    assert_int_equal(arp_add_static(s, ip, gw), 0);
    assert_int_equal(udp_open(s, &u, NULL, NULL), 0);
    b = buf_alloc(1);
    assert_int_equal(udp_sendto(u, &b, 1, ip, htons(1)), 0);
    assert_int_equal(inet_tx_drain(s, out, 4), 1);     /* no ARP request: straight out */
    assert_memory_equal(out[0]->data, gw, 6);
    buf_unref(out[0]);
    /* a reply with another MAC does not replace a static entry */
    inet_input(s, arp_frame(2, other, ip, harness_ip(0), s->cfg.mac), harness_now(h));
    assert_true(arp_lookup(s, ip, mac));
    assert_memory_equal(mac, gw, 6);
    /* and it never expires */
    harness_run_for(h, 1000 * NS_PER_SEC);
    assert_true(arp_lookup(s, ip, mac));
    udp_close(u);
    harness_free(h);
    harness_assert_no_leaks();
}

static void short_ttl(void *arg, int i, struct inet_config *cfg)
{
    cfg->arp_entry_ttl_ns = 5 * NS_PER_SEC;
}

static void test_expiry_refresh(void **state)
{
    struct harness *h = harness_new(2, 12, short_ttl, NULL);
    struct udp_sock *a, *b;
    struct rx_count rc = {0};

    assert_int_equal(udp_open(harness_stack(h, 0), &a, NULL, NULL), 0);
    assert_int_equal(udp_open(harness_stack(h, 1), &b, on_udp, &rc), 0);
    assert_int_equal(udp_bind(b, 0, htons(7)), 0);
    assert_int_equal(send_udp(h, a, 1, 7), 0);
    harness_run_for(h, NS_PER_SEC);
    assert_int_equal(harness_counter(h, 0, "arp.tx_requests"), 1);
    harness_run_for(h, 10 * NS_PER_SEC);
    /* expired entry: still used at once, and a refresh goes out */
    assert_int_equal(send_udp(h, a, 1, 7), 0);
    assert_int_equal(harness_counter(h, 0, "arp.queued"), 0);
    harness_run_for(h, NS_PER_SEC);
    assert_int_equal(rc.n, 2);
    assert_int_equal(harness_counter(h, 0, "arp.tx_requests"), 2);
    /* the peer vanishes: the refresh fails and the entry goes */
    struct sim_faults cut = {.cut = 1};
    sim_wire_set_faults(harness_wire(h), -1, &cut);
    harness_run_for(h, 10 * NS_PER_SEC);
    assert_int_equal(send_udp(h, a, 1, 7), 0);
    harness_run_for(h, 10 * NS_PER_SEC);
    assert_int_equal(harness_counter(h, 0, "arp.failed"), 1);
    assert_int_equal(harness_counter(h, 0, "arp.entries"), 0);
    udp_close(a);
    udp_close(b);
    harness_free(h);
    harness_assert_no_leaks();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_timeout_and_retries),
        cmocka_unit_test(test_queue_overflow),
        cmocka_unit_test(test_reply_and_updates),
        cmocka_unit_test(test_static_entry),
        cmocka_unit_test(test_expiry_refresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
