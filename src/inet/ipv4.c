/*
 * IPv4 (RFC 791, RFC 1122 host rules): validates received headers
 * (version, IHL, lengths, checksum, addresses), counts and drops fragments
 * (no reassembly), hands the payload to ICMP, UDP or TCP; on output builds
 * the header (DF set, TTL 64) and routes to the subnet or the gateway.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <demi/stats.h>

#include "demi_build_config.h"
#include "proto.h"
#include "udp.h"
#if DEMI_INET_HAVE_TCP
#include "tcp/tcp.h"
#endif

#define IPV4_TTL_DEFAULT 64
#define IPV4_FLAG_DF 0x4000
#define IPV4_FRAG_MASK 0x3fff   /* MF + fragment offset */

static uint32_t ipv4_mask(const struct inet_stack *s)
{
    uint8_t p = s->cfg.ipv4_prefix_len;
    return p == 0 ? 0 : htonl(~0u << (32 - p));
}

/* True if ip is the limited broadcast or our subnet's directed broadcast. */
static int ipv4_is_broadcast(const struct inet_stack *s, uint32_t ip)
{
    uint32_t m = ipv4_mask(s);

    if (ip == 0xffffffffu)
        return 1;
    return s->cfg.ipv4_prefix_len < 31 && ip == ((s->cfg.ipv4_addr & m) | ~m);
}

int ipv4_is_local(const struct inet_stack *s, uint32_t ip)
{
    return (ip == s->cfg.ipv4_addr && ip != 0) || ipv4_is_broadcast(s, ip);
}

/* Multicast, limited broadcast or 0.0.0.0/8-style sources are bogus. */
static int ipv4_bad_source(const struct inet_stack *s, uint32_t src)
{
    uint8_t first = (uint8_t)(ntohl(src) >> 24);
    return first >= 224 || ipv4_is_broadcast(s, src) || src == s->cfg.ipv4_addr;
}

void ipv4_input(struct inet_stack *s, struct buf *pkt)
{
    struct ipv4_stats *st = &s->ip_stats;
    uint8_t *h = pkt->data;
    size_t hlen, tlen;
    uint32_t src, dst;
    uint16_t frag;
    uint8_t proto;
    int bcast;

    st->rx_packets++;
    if (pkt->len < IPV4_HDR_LEN || (h[0] >> 4) != 4 || (h[0] & 0xf) < 5) {
        st->rx_bad_header++;
        goto drop;
    }
    hlen = (size_t)(h[0] & 0xf) * 4;
    tlen = rd16(h + 2);
    if (hlen > pkt->len || tlen < hlen || tlen > pkt->len) {
        st->rx_bad_length++;
        goto drop;
    }
    if (!(pkt->flags & BUF_FLAG_IP_CSUM_OK) && inet_csum_fold(inet_csum_partial(h, hlen, 0)) != 0) {
        st->rx_bad_checksum++;
        goto drop;
    }
    memcpy(&src, h + 12, 4);
    memcpy(&dst, h + 16, 4);
    if (!ipv4_is_local(s, dst)) {
        st->rx_not_for_us++;
        goto drop;
    }
    if (ipv4_bad_source(s, src)) {
        st->rx_bad_source++;
        goto drop;
    }
    if (h[8] == 0) {            /* a host must never send TTL 0 */
        st->rx_ttl_expired++;
        goto drop;
    }
    frag = rd16(h + 6);
    if (frag & IPV4_FRAG_MASK) {
        st->rx_fragments_dropped++;
        goto drop;
    }
    buf_trim(pkt, pkt->len - tlen);     /* Ethernet padding */
    proto = h[9];
    bcast = ipv4_is_broadcast(s, dst);
    buf_adj(pkt, hlen);
    st->rx_delivered++;
    switch (proto) {
    case IPPROTO_ICMP_:
        icmp_input(s, pkt, src, dst, bcast);
        return;
    case IPPROTO_UDP_:
        udp_input(s, pkt, src, dst, h, tlen);
        return;
#if DEMI_INET_HAVE_TCP
    case IPPROTO_TCP_:
        if (bcast)
            break;
        tcp_input(s, pkt, src, dst);
        return;
#endif
    default:
        break;
    }
    st->rx_delivered--;
    st->rx_unknown_protocol++;
    if (!bcast)
        icmp_send_unreachable(s, 2, h, tlen);   /* protocol unreachable */
drop:
    buf_unref(pkt);
}

int ipv4_output(struct inet_stack *s, struct buf *pkt, uint32_t src, uint32_t dst, uint8_t proto)
{
    struct ipv4_stats *st = &s->ip_stats;
    uint32_t m = ipv4_mask(s), nh;
    uint16_t csum;
    uint8_t *h;
    int bcast = ipv4_is_broadcast(s, dst);

    if ((size_t)pkt->len + IPV4_HDR_LEN > s->cfg.mtu) {
        st->tx_too_big++;
        buf_unref(pkt);
        return EMSGSIZE;
    }
    if (bcast)
        nh = dst;
    else if (dst != s->cfg.ipv4_addr && dst != 0 && (dst & m) == (s->cfg.ipv4_addr & m))
        nh = dst;
    else if (s->cfg.gateway && dst != s->cfg.ipv4_addr && dst != 0)
        nh = s->cfg.gateway;
    else {
        st->tx_no_route++;
        buf_unref(pkt);
        return EHOSTUNREACH;
    }
    h = inet_buf_prepend(&pkt, IPV4_HDR_LEN);
    if (!h) {
        st->tx_nomem++;
        return ENOMEM;
    }
    if (src == 0)
        src = s->cfg.ipv4_addr;
    h[0] = 0x45;
    h[1] = 0;
    wr16(h + 2, (uint16_t)pkt->len);
    wr16(h + 4, s->ip_id++);
    wr16(h + 6, IPV4_FLAG_DF);
    h[8] = IPV4_TTL_DEFAULT;
    h[9] = proto;
    h[10] = h[11] = 0;
    memcpy(h + 12, &src, 4);
    memcpy(h + 16, &dst, 4);
    csum = inet_csum_fold(inet_csum_partial(h, IPV4_HDR_LEN, 0));
    memcpy(h + 10, &csum, 2);
    st->tx_packets++;
    if (bcast)
        return eth_output(s, pkt, eth_broadcast, ETHERTYPE_IPV4_);
    int err = arp_output(s, pkt, nh);
    if (err == ENOBUFS)
        st->tx_arp_queue_full++;
    return err;
}

size_t ipv4_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap)
{
    const struct ipv4_stats *st = &s->ip_stats;
    size_t n = 0;

    n = inet_counter_put(out, cap, n, "ipv4.rx_packets", st->rx_packets);
    n = inet_counter_put(out, cap, n, "ipv4.rx_delivered", st->rx_delivered);
    n = inet_counter_put(out, cap, n, "ipv4.rx_bad_header", st->rx_bad_header);
    n = inet_counter_put(out, cap, n, "ipv4.rx_bad_length", st->rx_bad_length);
    n = inet_counter_put(out, cap, n, "ipv4.rx_bad_checksum", st->rx_bad_checksum);
    n = inet_counter_put(out, cap, n, "ipv4.rx_bad_source", st->rx_bad_source);
    n = inet_counter_put(out, cap, n, "ipv4.rx_not_for_us", st->rx_not_for_us);
    n = inet_counter_put(out, cap, n, "ipv4.rx_ttl_expired", st->rx_ttl_expired);
    n = inet_counter_put(out, cap, n, "ipv4.rx_fragments_dropped", st->rx_fragments_dropped);
    n = inet_counter_put(out, cap, n, "ipv4.rx_unknown_protocol", st->rx_unknown_protocol);
    n = inet_counter_put(out, cap, n, "ipv4.tx_packets", st->tx_packets);
    n = inet_counter_put(out, cap, n, "ipv4.tx_no_route", st->tx_no_route);
    n = inet_counter_put(out, cap, n, "ipv4.tx_arp_queue_full", st->tx_arp_queue_full);
    n = inet_counter_put(out, cap, n, "ipv4.tx_too_big", st->tx_too_big);
    n = inet_counter_put(out, cap, n, "ipv4.tx_nomem", st->tx_nomem);
    return n;
}
