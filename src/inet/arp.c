/*
 * ARP (RFC 826) for IPv4 over Ethernet: a cache of entries with a lifetime,
 * resolution with retries, a bounded queue of packets waiting on
 * resolutions, replies to requests for our address, updates of existing
 * entries from any ARP packet (gratuitous ARP included), and static entries.
 *
 * An entry is INCOMPLETE (resolving; packets wait in its queue), REACHABLE
 * (until expires_ns; when used after that it keeps working while a refresh
 * request goes out, and is removed if the refresh gets no answer) or STATIC.
 * A resolution sends one request and up to arp_retries more, arp_retry_ns
 * apart, then drops its queued packets and removes the entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <demi/stats.h>

#include "proto.h"

#define ARP_PKT_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

enum arp_state { ARP_INCOMPLETE = 0, ARP_REACHABLE = 1, ARP_STATIC = 2 };

struct arp_entry {
    struct arp_entry *next;     /* hash chain */
    struct inet_stack *s;
    uint32_t ip;
    uint8_t mac[6];
    uint8_t state;
    uint8_t refreshing;         /* REACHABLE: a refresh request is out */
    uint32_t tries;             /* requests sent by the current resolution */
    uint64_t expires_ns;
    struct timer timer;         /* retransmission of the request */
    struct buf *q_head, *q_tail;
    uint32_t q_len;
};

struct arp_cache {
    struct arp_entry **buckets;
    uint32_t mask;
    uint32_t count;
    uint32_t queued;            /* packets waiting, all entries */
    uint64_t rx_requests, rx_replies, rx_bad, rx_conflicts, rx_not_for_us, tx_requests, tx_replies;
    uint64_t resolved, updated, failed, queue_full, queue_dropped, evicted, cache_full, tx_nomem;
};

static uint32_t arp_hash(const struct arp_cache *c, uint32_t ip)
{
    return (uint32_t)((ip * 2654435761u) >> 8) & c->mask;
}

static struct arp_entry *arp_find(const struct arp_cache *c, uint32_t ip)
{
    for (struct arp_entry *e = c->buckets[arp_hash(c, ip)]; e; e = e->next)
        if (e->ip == ip)
            return e;
    return NULL;
}

int arp_init(struct inet_stack *s)
{
    struct arp_cache *c = calloc(1, sizeof(*c));
    uint32_t n = 64;

    if (!c)
        return ENOMEM;
    while (n < s->cfg.arp_cache_max && n < 65536)
        n <<= 1;
    c->buckets = calloc(n, sizeof(*c->buckets));
    if (!c->buckets) {
        free(c);
        return ENOMEM;
    }
    c->mask = n - 1;
    s->arp = c;
    return 0;
}

/* Drops the packets waiting on e; returns how many. */
static uint32_t arp_queue_drop(struct arp_cache *c, struct arp_entry *e)
{
    uint32_t n = e->q_len;

    while (e->q_head) {
        struct buf *b = e->q_head;
        e->q_head = b->next;
        b->next = NULL;
        buf_unref(b);
    }
    e->q_tail = NULL;
    c->queued -= e->q_len;
    e->q_len = 0;
    return n;
}

static void arp_remove(struct inet_stack *s, struct arp_entry *e)
{
    struct arp_cache *c = s->arp;
    struct arp_entry **pp = &c->buckets[arp_hash(c, e->ip)];

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    theap_cancel(&s->timers, &e->timer);
    arp_queue_drop(c, e);
    c->count--;
    free(e);
}

void arp_fini(struct inet_stack *s)
{
    struct arp_cache *c = s->arp;

    for (uint32_t i = 0; i <= c->mask; i++)
        while (c->buckets[i])
            arp_remove(s, c->buckets[i]);
    free(c->buckets);
    free(c);
    s->arp = NULL;
}

/* Builds and queues an ARP packet; returns 0 or ENOMEM (counted). */
static int arp_send(struct inet_stack *s, uint16_t op, const uint8_t tha[6], uint32_t tpa, const uint8_t dst[6])
{
    struct buf *b = buf_alloc(ARP_PKT_LEN);
    uint8_t *p;

    if (!b) {
        s->arp->tx_nomem++;
        return ENOMEM;
    }
    p = b->data;
    wr16(p, 1);
    wr16(p + 2, ETHERTYPE_IPV4_);
    p[4] = 6;
    p[5] = 4;
    wr16(p + 6, op);
    memcpy(p + 8, s->cfg.mac, 6);
    memcpy(p + 14, &s->cfg.ipv4_addr, 4);
    memcpy(p + 18, tha, 6);
    memcpy(p + 24, &tpa, 4);
    if (op == ARP_OP_REQUEST)
        s->arp->tx_requests++;
    else
        s->arp->tx_replies++;
    return eth_output(s, b, dst, ETHERTYPE_ARP_);
}

static void arp_send_request(struct inet_stack *s, struct arp_entry *e)
{
    static const uint8_t zero[6];

    e->tries++;
    arp_send(s, ARP_OP_REQUEST, zero, e->ip, eth_broadcast);
    theap_arm(&s->timers, &e->timer, s->now_ns + s->cfg.arp_retry_ns);
}

/* Retransmission timer: another request, or give up. */
static void arp_timer_fired(struct timer *t, void *arg)
{
    struct arp_entry *e = arg;
    struct inet_stack *s = e->s;

    if (e->state == ARP_STATIC || (e->state == ARP_REACHABLE && !e->refreshing))
        return;
    if (e->tries <= s->cfg.arp_retries) {
        arp_send_request(s, e);
        return;
    }
    s->arp->failed++;
    s->arp->queue_dropped += arp_queue_drop(s->arp, e);
    arp_remove(s, e);
}

/* Frees room for one entry: evicts the resolved, non-static entry that
 * expires first. Returns 0, or ENOSPC when every entry is static or busy. */
static int arp_evict_one(struct inet_stack *s)
{
    struct arp_cache *c = s->arp;
    struct arp_entry *victim = NULL;

    for (uint32_t i = 0; i <= c->mask; i++)
        for (struct arp_entry *e = c->buckets[i]; e; e = e->next)
            if (e->state == ARP_REACHABLE && (!victim || e->expires_ns < victim->expires_ns))
                victim = e;
    if (!victim) {
        c->cache_full++;
        return ENOSPC;
    }
    c->evicted++;
    arp_remove(s, victim);
    return 0;
}

/* Adds a new entry for ip; NULL when out of room or memory. */
static struct arp_entry *arp_insert(struct inet_stack *s, uint32_t ip)
{
    struct arp_cache *c = s->arp;
    struct arp_entry *e;
    uint32_t h;

    if (c->count >= s->cfg.arp_cache_max && arp_evict_one(s) != 0)
        return NULL;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->s = s;
    e->ip = ip;
    e->state = ARP_INCOMPLETE;
    timer_init(&e->timer, arp_timer_fired, e);
    h = arp_hash(c, ip);
    e->next = c->buckets[h];
    c->buckets[h] = e;
    c->count++;
    return e;
}

/* e now has a MAC: sends every packet that waited on it. */
static void arp_flush(struct inet_stack *s, struct arp_entry *e)
{
    while (e->q_head) {
        struct buf *b = e->q_head;
        e->q_head = b->next;
        b->next = NULL;
        e->q_len--;
        s->arp->queued--;
        eth_output(s, b, e->mac, ETHERTYPE_IPV4_);
    }
    e->q_tail = NULL;
}

/* Records ip -> mac learned from the wire (not for static entries). */
static void arp_learn(struct inet_stack *s, struct arp_entry *e, const uint8_t mac[6])
{
    if (e->state == ARP_STATIC)
        return;
    if (e->state == ARP_INCOMPLETE)
        s->arp->resolved++;
    else if (memcmp(e->mac, mac, 6) != 0)
        s->arp->updated++;
    memcpy(e->mac, mac, 6);
    e->state = ARP_REACHABLE;
    e->refreshing = 0;
    e->tries = 0;
    e->expires_ns = s->now_ns + s->cfg.arp_entry_ttl_ns;
    theap_cancel(&s->timers, &e->timer);
    arp_flush(s, e);
}

void arp_input(struct inet_stack *s, struct buf *pkt)
{
    struct arp_cache *c = s->arp;
    const uint8_t *p = pkt->data;
    uint8_t sha[6];
    uint32_t spa, tpa;
    uint16_t op;
    struct arp_entry *e;

    if (pkt->len < ARP_PKT_LEN || rd16(p) != 1 || rd16(p + 2) != ETHERTYPE_IPV4_ || p[4] != 6 || p[5] != 4) {
        c->rx_bad++;
        goto out;
    }
    op = rd16(p + 6);
    memcpy(sha, p + 8, 6);
    memcpy(&spa, p + 14, 4);
    memcpy(&tpa, p + 24, 4);
    if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
        c->rx_bad++;
        goto out;
    }
    if (op == ARP_OP_REQUEST)
        c->rx_requests++;
    else
        c->rx_replies++;
    if (sha[0] & 1) {               /* a multicast sender address is bogus */
        c->rx_bad++;
        goto out;
    }
    if (spa == s->cfg.ipv4_addr && spa != 0) {
        c->rx_conflicts++;          /* someone else claims our address */
        goto out;
    }
    e = spa ? arp_find(c, spa) : NULL;
    if (e)                          /* RFC 826 merge: update what we know */
        arp_learn(s, e, sha);
    if (tpa != s->cfg.ipv4_addr || tpa == 0) {
        if (!e)
            c->rx_not_for_us++;
        goto out;
    }
    if (!e && spa) {
        e = arp_insert(s, spa);
        if (e)
            arp_learn(s, e, sha);
    }
    if (op == ARP_OP_REQUEST)
        arp_send(s, ARP_OP_REPLY, sha, spa, sha);
out:
    buf_unref(pkt);
}

int arp_output(struct inet_stack *s, struct buf *pkt, uint32_t nh)
{
    struct arp_cache *c = s->arp;
    struct arp_entry *e = arp_find(c, nh);

    if (e && e->state != ARP_INCOMPLETE) {
        if (e->state == ARP_REACHABLE && s->now_ns >= e->expires_ns && !e->refreshing) {
            e->refreshing = 1;
            e->tries = 0;
            arp_send_request(s, e);
        }
        return eth_output(s, pkt, e->mac, ETHERTYPE_IPV4_);
    }
    if (c->queued >= s->cfg.arp_queue_max) {
        c->queue_full++;
        buf_unref(pkt);
        return ENOBUFS;
    }
    if (!e) {
        e = arp_insert(s, nh);
        if (!e) {
            buf_unref(pkt);
            return ENOBUFS;
        }
        arp_send_request(s, e);
    }
    pkt->next = NULL;
    if (e->q_tail)
        e->q_tail->next = pkt;
    else
        e->q_head = pkt;
    e->q_tail = pkt;
    e->q_len++;
    c->queued++;
    return 0;
}

int arp_add_static(struct inet_stack *s, uint32_t ip, const uint8_t mac[6])
{
    struct arp_entry *e = arp_find(s->arp, ip);

    if (!e)
        e = arp_insert(s, ip);
    if (!e)
        return ENOSPC;
    memcpy(e->mac, mac, 6);
    e->state = ARP_STATIC;
    e->refreshing = 0;
    theap_cancel(&s->timers, &e->timer);
    arp_flush(s, e);
    return 0;
}

int arp_lookup(const struct inet_stack *s, uint32_t ip, uint8_t mac[6])
{
    const struct arp_entry *e = arp_find(s->arp, ip);

    if (!e || e->state == ARP_INCOMPLETE)
        return 0;
    memcpy(mac, e->mac, 6);
    return 1;
}

size_t arp_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap)
{
    const struct arp_cache *c = s->arp;
    size_t n = 0;

    n = inet_counter_put(out, cap, n, "arp.entries", c->count);
    n = inet_counter_put(out, cap, n, "arp.queued", c->queued);
    n = inet_counter_put(out, cap, n, "arp.rx_requests", c->rx_requests);
    n = inet_counter_put(out, cap, n, "arp.rx_replies", c->rx_replies);
    n = inet_counter_put(out, cap, n, "arp.rx_bad", c->rx_bad);
    n = inet_counter_put(out, cap, n, "arp.rx_conflicts", c->rx_conflicts);
    n = inet_counter_put(out, cap, n, "arp.rx_not_for_us", c->rx_not_for_us);
    n = inet_counter_put(out, cap, n, "arp.tx_requests", c->tx_requests);
    n = inet_counter_put(out, cap, n, "arp.tx_replies", c->tx_replies);
    n = inet_counter_put(out, cap, n, "arp.resolved", c->resolved);
    n = inet_counter_put(out, cap, n, "arp.updated", c->updated);
    n = inet_counter_put(out, cap, n, "arp.failed", c->failed);
    n = inet_counter_put(out, cap, n, "arp.queue_full", c->queue_full);
    n = inet_counter_put(out, cap, n, "arp.queue_dropped", c->queue_dropped);
    n = inet_counter_put(out, cap, n, "arp.evicted", c->evicted);
    n = inet_counter_put(out, cap, n, "arp.cache_full", c->cache_full);
    n = inet_counter_put(out, cap, n, "arp.tx_nomem", c->tx_nomem);
    return n;
}
