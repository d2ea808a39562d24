/*
 * The stack object: configuration, PRNG, the transmit queue, timers, and
 * the entry points of inet.h. Protocol work is in eth.c, arp.c, ipv4.c,
 * icmp.c, udp.c and tcp/.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <demi/stats.h>

#include "demi_build_config.h"
#include "proto.h"
#include "udp.h"
#if DEMI_INET_HAVE_TCP
#include "tcp/tcp.h"
#endif

#define INET_TX_QUEUE_MAX 65536     /* frames waiting for inet_tx_drain */

void inet_config_defaults(struct inet_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mtu = 1500;
    cfg->seed = 1;
    cfg->arp_entry_ttl_ns = 300ull * 1000000000ull;
    cfg->arp_retry_ns = 1000000000ull;
    cfg->arp_retries = 3;
    cfg->arp_queue_max = 64;
    cfg->arp_cache_max = 4096;
    cfg->udp_rcvbuf = 1u << 20;
    cfg->tcp_sndbuf = 1u << 20;
    cfg->tcp_rcvbuf = 1u << 20;
    cfg->tcp_msl_ns = 30ull * 1000000000ull;
    cfg->tcp_rto_min_ns = 200ull * 1000000ull;
    cfg->tcp_rto_max_ns = 60ull * 1000000000ull;
    cfg->tcp_rto_initial_ns = 1000000000ull;
    cfg->tcp_delack_ns = 40ull * 1000000ull;
    cfg->tcp_syn_retries = 6;
    cfg->tcp_retries = 15;
    cfg->tcp_keepalive_idle_ns = 7200ull * 1000000000ull;
    cfg->tcp_keepalive_intvl_ns = 75ull * 1000000000ull;
    cfg->tcp_keepalive_probes = 9;
    strcpy(cfg->tcp_cc, "cubic");
    cfg->tcp_syn_backlog_max = 1024;
    cfg->tcp_max_conns = 1000000;
}

/* Returns 0 if cfg can run a stack, else EINVAL. */
static int stack_config_check(const struct inet_config *cfg)
{
    static const uint8_t zero[6];

    if (cfg->ipv4_prefix_len > 32 || cfg->mtu < 68)
        return EINVAL;
    if (memcmp(cfg->mac, zero, 6) == 0 || (cfg->mac[0] & 1))
        return EINVAL;
    if (cfg->arp_queue_max == 0 || cfg->arp_cache_max == 0 || cfg->arp_retry_ns == 0)
        return EINVAL;
    return 0;
}

/* splitmix64: a tiny, well-mixed PRNG; the state never gets stuck. */
uint64_t inet_rand(struct inet_stack *s)
{
    uint64_t z = (s->rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct inet_stack *inet_stack_new(const struct inet_config *cfg, uint64_t now_ns)
{
    struct inet_stack *s;
    int err = stack_config_check(cfg);

    if (err) {
        errno = err;
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->cfg = *cfg;
    s->now_ns = now_ns;
    s->rng_state = cfg->seed;
    s->ip_id = (uint16_t)inet_rand(s);
    err = arp_init(s);
    if (err)
        goto err;
    err = udp_stack_init(s);
    if (err)
        goto err;
#if DEMI_INET_HAVE_TCP
    err = tcp_stack_init(s);
    if (err)
        goto err;
#endif
    return s;
err:
    inet_stack_free(s);
    errno = err;
    return NULL;
}

void inet_stack_free(struct inet_stack *s)
{
    if (!s)
        return;
#if DEMI_INET_HAVE_TCP
    if (s->tcp)
        tcp_stack_fini(s);
#endif
    if (s->udp)
        udp_stack_fini(s);
    if (s->arp)
        arp_fini(s);
    while (s->tx_head) {
        struct buf *b = s->tx_head;
        s->tx_head = b->next;
        b->next = NULL;
        buf_unref(b);
    }
    theap_reset(&s->timers);
    free(s);
}

void inet_input(struct inet_stack *s, struct buf *frame, uint64_t now_ns)
{
    if (now_ns > s->now_ns)
        s->now_ns = now_ns;
    if (s->capture)
        s->capture(s->capture_arg, frame, 0);
    eth_input(s, frame);
}

void inet_timers(struct inet_stack *s, uint64_t now_ns)
{
    if (now_ns > s->now_ns)
        s->now_ns = now_ns;
    theap_run(&s->timers, s->now_ns);
}

uint64_t inet_next_deadline(const struct inet_stack *s)
{
    return theap_next(&s->timers);
}

void inet_tx_enqueue(struct inet_stack *s, struct buf *frame)
{
    if (s->tx_len >= INET_TX_QUEUE_MAX) {     /* nobody drains: do not grow without bound */
        s->eth_tx_queue_full++;
        buf_unref(frame);
        return;
    }
    if (s->capture)
        s->capture(s->capture_arg, frame, 1);
    frame->next = NULL;
    if (s->tx_tail)
        s->tx_tail->next = frame;
    else
        s->tx_head = frame;
    s->tx_tail = frame;
    s->tx_len++;
}

size_t inet_tx_drain(struct inet_stack *s, struct buf **frames, size_t max)
{
    size_t n = 0;

    while (n < max && s->tx_head) {
        struct buf *b = s->tx_head;
        s->tx_head = b->next;
        b->next = NULL;
        frames[n++] = b;
    }
    if (!s->tx_head)
        s->tx_tail = NULL;
    s->tx_len -= n;
    return n;
}

int inet_arp_add_static(struct inet_stack *s, uint32_t ip, const uint8_t mac[6])
{
    return arp_add_static(s, ip, mac);
}

size_t inet_tx_pending(const struct inet_stack *s)
{
    return s->tx_len;
}

uint8_t *inet_buf_prepend(struct buf **pkt, size_t n)
{
    struct buf *b = *pkt, *c;
    uint8_t *p = buf_prepend(b, n);

    if (p)
        return p;
    c = buf_alloc_headroom(b->len, BUF_HEADROOM > n ? BUF_HEADROOM : n);
    if (!c) {
        buf_unref(b);
        *pkt = NULL;
        return NULL;
    }
    memcpy(c->data, b->data, b->len);
    c->flags = b->flags;
    buf_unref(b);
    *pkt = c;
    return buf_prepend(c, n);
}

size_t inet_counter_put(struct demi_counter *out, size_t cap, size_t n, const char *name, uint64_t value)
{
    if (n < cap) {
        out[n].name = name;
        out[n].value = value;
    }
    return n + 1;
}

/* Each module fills from out + n; a NULL/short out only counts. */
static size_t stack_counters_part(size_t (*fn)(const struct inet_stack *, struct demi_counter *, size_t),
                                  const struct inet_stack *s, struct demi_counter *out, size_t cap, size_t n)
{
    if (n < cap)
        return n + fn(s, out + n, cap - n);
    return n + fn(s, NULL, 0);
}

/* Ethernet counters. */
static size_t eth_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap)
{
    size_t n = 0;
    n = inet_counter_put(out, cap, n, "eth.rx_frames", s->eth_rx_frames);
    n = inet_counter_put(out, cap, n, "eth.rx_runts", s->eth_rx_runts);
    n = inet_counter_put(out, cap, n, "eth.rx_not_for_us", s->eth_rx_not_for_us);
    n = inet_counter_put(out, cap, n, "eth.rx_unknown_type", s->eth_rx_unknown_type);
    n = inet_counter_put(out, cap, n, "eth.tx_frames", s->eth_tx_frames);
    n = inet_counter_put(out, cap, n, "eth.tx_queued", s->tx_len);
    n = inet_counter_put(out, cap, n, "eth.tx_queue_full", s->eth_tx_queue_full);
    return n;
}

size_t inet_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap)
{
    size_t n = 0;

    n = stack_counters_part(eth_counters, s, out, cap, n);
    n = stack_counters_part(arp_counters, s, out, cap, n);
    n = stack_counters_part(ipv4_counters, s, out, cap, n);
    n = stack_counters_part(icmp_counters, s, out, cap, n);
    n = stack_counters_part(udp_counters, s, out, cap, n);
#if DEMI_INET_HAVE_TCP
    n = stack_counters_part(tcp_counters, s, out, cap, n);
#endif
    return n;
}
