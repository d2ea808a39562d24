/*
 * IPv4 and ICMP: header validation with a counter for every drop (checksum,
 * version, IHL, lengths, TTL 0, fragments, not for us, bad source), padding
 * trimmed, echo replies, no reply to a broadcast echo, protocol and port
 * unreachable, the output header (DF, TTL, checksum) and routing.
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

#define PEER_IP 0x0a000063u     /* 10.0.0.99, host order */

static const uint8_t peer_mac[6] = {0x02, 0xee, 0, 0, 0, 1};

/* An ICMP echo request from the peer to dst, as a whole frame in f; returns its length. */
static size_t echo_frame(uint8_t *f, uint32_t dst, const uint8_t *dmac, size_t payload)
{
    uint8_t *ic;
    uint16_t c;
    size_t o = tu_eth(f, dmac, peer_mac, 0x0800);

    o += tu_ipv4(f + o, htonl(PEER_IP), dst, 1, (uint16_t)(8 + payload), 64, 0x4000);
    ic = f + o;
    memset(ic, 0, 8);
    ic[0] = 8;
    tu_wr16(ic + 4, 0x77);
    tu_wr16(ic + 6, 3);
    for (size_t i = 0; i < payload; i++)
        ic[8 + i] = (uint8_t)i;
    c = inet_csum_fold(inet_csum_partial(ic, 8 + payload, 0));
    memcpy(ic + 2, &c, 2);
    return o + 8 + payload;
}

/* A stack that already knows the peer's MAC (so replies go out at once). */
static struct harness *one_stack(struct inet_stack **s)
{
    struct harness *h = harness_new(1, 3, NULL, NULL);
    *s = harness_stack(h, 0);
    assert_int_equal(arp_add_static(*s, htonl(PEER_IP), peer_mac), 0);
    return h;
}

static void test_echo_reply(void **state)
{
    struct inet_stack *s;
    struct harness *h = one_stack(&s);
    uint8_t f[200];
    size_t len = echo_frame(f, harness_ip(0), s->cfg.mac, 56);
    struct buf *out[4];
    uint32_t ip;

    inet_input(s, harness_frame(f, len), harness_now(h));
    assert_int_equal(inet_tx_drain(s, out, 4), 1);
    const uint8_t *r = out[0]->data;
    assert_int_equal(out[0]->len, len);
    assert_memory_equal(r, peer_mac, 6);
    assert_int_equal(r[14], 0x45);
    assert_int_equal(r[20] & 0x40, 0x40);                       /* DF */
    assert_int_equal(r[22], 64);                                /* TTL */
    assert_int_equal(inet_csum_fold(inet_csum_partial(r + 14, 20, 0)), 0);
    memcpy(&ip, r + 26, 4);
    assert_int_equal(ip, harness_ip(0));
    memcpy(&ip, r + 30, 4);
    assert_int_equal(ip, htonl(PEER_IP));
    assert_int_equal(r[34], 0);                                 /* echo reply */
    assert_int_equal(inet_csum_fold(inet_csum_partial(r + 34, len - 34, 0)), 0);
    assert_memory_equal(r + 38, f + 38, len - 38);              /* id, seq, payload */
    buf_unref(out[0]);
    assert_int_equal(harness_counter(h, 0, "icmp.tx_echo_replies"), 1);

    /* an echo to the broadcast address is not answered */
    len = echo_frame(f, htonl(0x0a0000ff), eth_broadcast, 8);
    inet_input(s, harness_frame(f, len), harness_now(h));
    assert_int_equal(inet_tx_drain(s, out, 4), 0);
    assert_int_equal(harness_counter(h, 0, "icmp.rx_broadcast_ignored"), 1);

    /* a bad ICMP checksum is counted */
    len = echo_frame(f, harness_ip(0), s->cfg.mac, 8);
    f[len - 1] ^= 1;
    inet_input(s, harness_frame(f, len), harness_now(h));
    assert_int_equal(inet_tx_drain(s, out, 4), 0);
    assert_int_equal(harness_counter(h, 0, "icmp.rx_bad_checksum"), 1);
    harness_free(h);
    harness_assert_no_leaks();
}

/* Feeds a modified echo frame; checks nothing goes out and counter went up by one. */
static void expect_drop(struct harness *h, struct inet_stack *s, uint8_t *f, size_t len, const char *counter)
{
    struct buf *out[4];
    uint64_t before = harness_counter(h, 0, counter);

    inet_input(s, harness_frame(f, len), harness_now(h));
    assert_int_equal(inet_tx_drain(s, out, 4), 0);
    assert_int_equal(harness_counter(h, 0, counter), before + 1);
}

static void fix_ip_csum(uint8_t *f)
{
    uint16_t c;
    f[24] = f[25] = 0;
    c = inet_csum_fold(inet_csum_partial(f + 14, (size_t)(f[14] & 0xf) * 4, 0));
    memcpy(f + 24, &c, 2);
}

static void test_malformed_drops(void **state)
{
    struct inet_stack *s;
    struct harness *h = one_stack(&s);
    uint8_t f[200], g[200];
    size_t len = echo_frame(f, harness_ip(0), s->cfg.mac, 16);
    struct buf *out[4];

    memcpy(g, f, len);
    g[24] ^= 0xff;                                  /* header checksum */
    expect_drop(h, s, g, len, "ipv4.rx_bad_checksum");
    memcpy(g, f, len);
    g[14] = 0x65;                                   /* version 6 */
    fix_ip_csum(g);
    expect_drop(h, s, g, len, "ipv4.rx_bad_header");
    memcpy(g, f, len);
    g[14] = 0x44;                                   /* IHL 4 */
    expect_drop(h, s, g, len, "ipv4.rx_bad_header");
    memcpy(g, f, len);
    g[14] = 0x4f;                                   /* IHL 15: 60 bytes, over the total length */
    tu_wr16(g + 16, 40);
    expect_drop(h, s, g, len, "ipv4.rx_bad_length");
    memcpy(g, f, len);
    tu_wr16(g + 16, (uint16_t)(len - 14 + 1));      /* total length beyond the frame */
    fix_ip_csum(g);
    expect_drop(h, s, g, len, "ipv4.rx_bad_length");
    memcpy(g, f, len);
    expect_drop(h, s, g, 14 + 19, "ipv4.rx_bad_header");    /* truncated header */
    memcpy(g, f, len);
    g[22] = 0;                                      /* TTL 0 */
    fix_ip_csum(g);
    expect_drop(h, s, g, len, "ipv4.rx_ttl_expired");
    memcpy(g, f, len);
    tu_wr16(g + 20, 0x2000);                        /* MF: first fragment */
    fix_ip_csum(g);
    expect_drop(h, s, g, len, "ipv4.rx_fragments_dropped");
    memcpy(g, f, len);
    tu_wr16(g + 20, 0x0010);                        /* a later fragment */
    fix_ip_csum(g);
    expect_drop(h, s, g, len, "ipv4.rx_fragments_dropped");
    memcpy(g, f, len);
    uint32_t other = htonl(0x0a000042);
    memcpy(g + 30, &other, 4);                      /* not our address */
    fix_ip_csum(g);
    expect_drop(h, s, g, len, "ipv4.rx_not_for_us");
    memcpy(g, f, len);
    uint32_t mc = htonl(0xe0000001);
    memcpy(g + 26, &mc, 4);                         /* multicast source */
    fix_ip_csum(g);
    expect_drop(h, s, g, len, "ipv4.rx_bad_source");
    expect_drop(h, s, g, 10, "eth.rx_runts");
    memcpy(g, f, len);
    g[0] = 0x04;                                    /* another station's MAC */
    expect_drop(h, s, g, len, "eth.rx_not_for_us");
    memcpy(g, f, len);
    g[12] = 0x86;
    g[13] = 0xdd;                                   /* IPv6 */
    expect_drop(h, s, g, len, "eth.rx_unknown_type");

    /* Ethernet padding after the IP packet is trimmed: the echo still works */
    memcpy(g, f, len);
    memset(g + len, 0xab, 20);
    inet_input(s, harness_frame(g, len + 20), harness_now(h));
    assert_int_equal(inet_tx_drain(s, out, 4), 1);
    assert_int_equal(out[0]->len, len);
    buf_unref(out[0]);

    /* an unknown protocol gets a protocol unreachable quoting it */
    memcpy(g, f, len);
    g[23] = 99;
    fix_ip_csum(g);
    inet_input(s, harness_frame(g, len), harness_now(h));
    assert_int_equal(inet_tx_drain(s, out, 4), 1);
    assert_int_equal(out[0]->data[23], 1);          /* ICMP */
    assert_int_equal(out[0]->data[34], 3);
    assert_int_equal(out[0]->data[35], 2);
    assert_memory_equal(out[0]->data + 42, g + 14, 20);
    buf_unref(out[0]);
    assert_int_equal(harness_counter(h, 0, "ipv4.rx_unknown_protocol"), 1);
    assert_int_equal(harness_counter(h, 0, "icmp.rx_echo_requests"), 1);
    harness_free(h);
    harness_assert_no_leaks();
}

static void test_port_unreachable_and_output(void **state)
{
    struct inet_stack *s;
    struct harness *h = one_stack(&s);
    uint8_t f[200];
    struct buf *out[4];
    size_t o = tu_eth(f, s->cfg.mac, peer_mac, 0x0800);

    o += tu_ipv4(f + o, htonl(PEER_IP), harness_ip(0), 17, 8 + 4, 64, 0);
    tu_wr16(f + o, 5555);
    tu_wr16(f + o + 2, 4444);
    tu_wr16(f + o + 4, 12);
    tu_wr16(f + o + 6, 0);          /* no checksum */
    memcpy(f + o + 8, "abcd", 4);
    inet_input(s, harness_frame(f, o + 12), harness_now(h));
    assert_int_equal(inet_tx_drain(s, out, 4), 1);
    assert_int_equal(out[0]->data[34], 3);
    assert_int_equal(out[0]->data[35], 3);          /* port unreachable */
    assert_int_equal(inet_csum_fold(inet_csum_partial(out[0]->data + 34, out[0]->len - 34, 0)), 0);
    buf_unref(out[0]);
    assert_int_equal(harness_counter(h, 0, "udp.rx_no_socket"), 1);
    assert_int_equal(harness_counter(h, 0, "udp.rx_no_checksum"), 1);

    /* routing: off-subnet without a gateway fails; oversize fails */
    struct udp_sock *u;
    struct buf *b;
    assert_int_equal(udp_open(s, &u, NULL, NULL), 0);
    b = buf_alloc(4);
    assert_int_equal(udp_sendto(u, &b, 1, htonl(0x08080808), htons(53)), EHOSTUNREACH);
    assert_int_equal(harness_counter(h, 0, "ipv4.tx_no_route"), 1);
    b = buf_alloc(udp_max_payload(s) + 1);
    assert_int_equal(udp_sendto(u, &b, 1, htonl(PEER_IP), htons(53)), EMSGSIZE);
    b = buf_alloc(udp_max_payload(s));
    assert_int_equal(udp_sendto(u, &b, 1, htonl(PEER_IP), htons(53)), 0);
    assert_int_equal(inet_tx_drain(s, out, 4), 1);
    assert_int_equal(out[0]->len, 14 + 1500);
    buf_unref(out[0]);
    udp_close(u);
    harness_free(h);
    harness_assert_no_leaks();
}

static void with_gateway(void *arg, int i, struct inet_config *cfg)
{
    if (i == 0)
        cfg->gateway = harness_ip(1);
}

static void test_gateway_route(void **state)
{
    struct harness *h = harness_new(2, 4, with_gateway, NULL);
    struct udp_sock *u;
    struct buf *b = buf_alloc(4);

    harness_record(h, 1);
    assert_int_equal(udp_open(harness_stack(h, 0), &u, NULL, NULL), 0);
    assert_int_equal(udp_sendto(u, &b, 1, htonl(0x08080808), htons(53)), 0);
    harness_run_for(h, NS_PER_SEC);
    /* ARP for the gateway, its reply, then the datagram to the gateway's MAC
     * (the gateway stack itself drops it: not for us) */
    assert_int_equal(harness_frames_count(h), 3);
    const uint8_t *f = harness_frame_at(h, 0, NULL, NULL, NULL);
    uint32_t tpa;
    memcpy(&tpa, f + 38, 4);
    assert_int_equal(tpa, harness_ip(1));
    f = harness_frame_at(h, 2, NULL, NULL, NULL);
    uint8_t gw[6];
    tu_mac(1, gw);
    assert_memory_equal(f, gw, 6);
    assert_int_equal(harness_counter(h, 1, "ipv4.rx_not_for_us"), 1);
    udp_close(u);
    harness_free(h);
    harness_assert_no_leaks();
}

static void test_echo_over_sim(void **state)
{
    /* Stack 0 pings stack 1 with a hand-made frame through the wire */
    struct harness *h = harness_new(2, 5, NULL, NULL);
    uint8_t f[200], m1[6];
    tu_mac(1, m1);
    size_t len = echo_frame(f, harness_ip(1), m1, 32);

    assert_int_equal(arp_add_static(harness_stack(h, 1), htonl(PEER_IP), peer_mac), 0);
    harness_record(h, 1);
    struct netdev *dummy;
    struct netdev_params p = {.mac = peer_mac, .driver_arg = harness_wire(h)};
    assert_int_equal(sim_netdev_ops.open(&p, &dummy), 0);
    struct buf *b = harness_frame(f, len);
    assert_int_equal(sim_netdev_ops.tx_burst(dummy, &b, 1), 1);
    harness_run_for(h, NS_PER_MS);
    struct buf *rx[4];
    assert_int_equal(sim_netdev_ops.rx_burst(dummy, rx, 4), 1);
    assert_int_equal(rx[0]->data[34], 0);
    buf_unref(rx[0]);
    sim_netdev_ops.close(dummy);
    harness_free(h);
    harness_assert_no_leaks();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_reply),
        cmocka_unit_test(test_malformed_drops),
        cmocka_unit_test(test_port_unreachable_and_output),
        cmocka_unit_test(test_gateway_route),
        cmocka_unit_test(test_echo_over_sim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
