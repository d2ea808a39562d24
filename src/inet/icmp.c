/*
 * ICMP (RFC 792, RFC 1122): answers echo requests (not sent to a broadcast
 * address) and sends destination-unreachable errors for the other modules,
 * rate limited. Other received messages are counted and dropped.
 */
#include <errno.h>
#include <string.h>

#include <demi/stats.h>

#include "proto.h"

#define ICMP_HDR_LEN 8
#define ICMP_ECHO_REPLY 0
#define ICMP_UNREACH 3
#define ICMP_ECHO_REQUEST 8
#define ICMP_QUOTE_MAX 548          /* error + quote fit in 576 bytes (RFC 1812) */
#define ICMP_ERR_WINDOW_NS 100000000ull
#define ICMP_ERR_PER_WINDOW 100     /* at most 1000 errors per second */

void icmp_input(struct inet_stack *s, struct buf *pkt, uint32_t src, uint32_t dst, int dst_broadcast)
{
    struct icmp_state *st = &s->icmp;
    uint8_t *p = pkt->data;
    uint16_t csum;

    st->rx_packets++;
    if (pkt->len < ICMP_HDR_LEN) {
        st->rx_bad_length++;
        goto drop;
    }
    if (inet_csum_fold(inet_csum_partial(p, pkt->len, 0)) != 0) {
        st->rx_bad_checksum++;
        goto drop;
    }
    if (p[0] != ICMP_ECHO_REQUEST || p[1] != 0) {
        st->rx_other++;
        goto drop;
    }
    st->rx_echo_requests++;
    if (dst_broadcast) {
        st->rx_broadcast_ignored++;
        goto drop;
    }
    /* The reply is the request with its type changed: reuse the buffer when
     * we own it alone, else copy. */
    if (pkt->refcnt > 1) {
        struct buf *c = buf_copy_from(pkt->data, pkt->len);
        buf_unref(pkt);
        if (!c) {
            st->tx_failed++;
            return;
        }
        pkt = c;
        p = pkt->data;
    }
    p[0] = ICMP_ECHO_REPLY;
    p[2] = p[3] = 0;
    csum = inet_csum_fold(inet_csum_partial(p, pkt->len, 0));
    memcpy(p + 2, &csum, 2);
    if (ipv4_output(s, pkt, dst, src, IPPROTO_ICMP_) == 0)
        st->tx_echo_replies++;
    else
        st->tx_failed++;
    return;
drop:
    buf_unref(pkt);
}

/* True if one more error message fits the rate limit now. */
static int icmp_rate_ok(struct inet_stack *s)
{
    struct icmp_state *st = &s->icmp;

    if (s->now_ns - st->err_window_start_ns >= ICMP_ERR_WINDOW_NS || s->now_ns < st->err_window_start_ns) {
        st->err_window_start_ns = s->now_ns;
        st->err_in_window = 0;
    }
    if (st->err_in_window >= ICMP_ERR_PER_WINDOW)
        return 0;
    st->err_in_window++;
    return 1;
}

void icmp_send_unreachable(struct inet_stack *s, uint8_t code, const uint8_t *ip, size_t len)
{
    struct icmp_state *st = &s->icmp;
    size_t hlen, q;
    uint32_t src;
    struct buf *b;
    uint16_t csum;

    if (len < IPV4_HDR_LEN)
        return;
    hlen = (size_t)(ip[0] & 0xf) * 4;
    if (hlen < IPV4_HDR_LEN || hlen > len)
        return;
    /* never answer an ICMP error with an error (RFC 1122 3.2.2) */
    if (ip[9] == IPPROTO_ICMP_ && (len < hlen + 1 || ip[hlen] != ICMP_ECHO_REQUEST))
        return;
    memcpy(&src, ip + 12, 4);
    if (!icmp_rate_ok(s)) {
        st->tx_rate_limited++;
        return;
    }
    q = len < ICMP_QUOTE_MAX ? len : ICMP_QUOTE_MAX;
    b = buf_alloc(ICMP_HDR_LEN + q);
    if (!b) {
        st->tx_failed++;
        return;
    }
    memset(b->data, 0, ICMP_HDR_LEN);
    b->data[0] = ICMP_UNREACH;
    b->data[1] = code;
    memcpy(b->data + ICMP_HDR_LEN, ip, q);
    csum = inet_csum_fold(inet_csum_partial(b->data, b->len, 0));
    memcpy(b->data + 2, &csum, 2);
    if (ipv4_output(s, b, 0, src, IPPROTO_ICMP_) == 0)
        st->tx_unreachable++;
    else
        st->tx_failed++;
}

size_t icmp_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap)
{
    const struct icmp_state *st = &s->icmp;
    size_t n = 0;

    n = inet_counter_put(out, cap, n, "icmp.rx_packets", st->rx_packets);
    n = inet_counter_put(out, cap, n, "icmp.rx_bad_checksum", st->rx_bad_checksum);
    n = inet_counter_put(out, cap, n, "icmp.rx_bad_length", st->rx_bad_length);
    n = inet_counter_put(out, cap, n, "icmp.rx_echo_requests", st->rx_echo_requests);
    n = inet_counter_put(out, cap, n, "icmp.rx_broadcast_ignored", st->rx_broadcast_ignored);
    n = inet_counter_put(out, cap, n, "icmp.rx_other", st->rx_other);
    n = inet_counter_put(out, cap, n, "icmp.tx_echo_replies", st->tx_echo_replies);
    n = inet_counter_put(out, cap, n, "icmp.tx_unreachable", st->tx_unreachable);
    n = inet_counter_put(out, cap, n, "icmp.tx_rate_limited", st->tx_rate_limited);
    n = inet_counter_put(out, cap, n, "icmp.tx_failed", st->tx_failed);
    return n;
}
