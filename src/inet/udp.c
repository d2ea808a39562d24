/*
 * UDP (RFC 768): sockets bound to a port (one socket per port; the stack
 * has one address, so a wildcard bind and a bind to it are the same port),
 * ephemeral ports, checksums verified on input (zero: none) and computed on
 * output, per-socket receive queues bounded in bytes, and ICMP port
 * unreachable for datagrams nobody listens for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <demi/stats.h>

#include "proto.h"
#include "udp.h"

#define UDP_BUCKETS 1024
#define UDP_EPHEMERAL_LO 49152
#define UDP_EPHEMERAL_N 16384
#define UDP_DGRAM_OVERHEAD 256      /* bytes charged per queued datagram besides its payload */

struct udp_dgram {
    struct udp_dgram *next;
    struct buf *b;                  /* data at the payload */
    uint32_t ip;
    uint16_t port;
};

struct udp_sock {
    struct inet_stack *s;
    struct udp_sock *hnext;         /* port hash chain (bound sockets) */
    struct udp_sock *anext, *aprev; /* every socket of the stack */
    udp_event_fn fn;
    void *user;
    uint32_t lip, rip;
    uint16_t lport, rport;
    int bound;
    struct udp_dgram *q_head, *q_tail;
    size_t q_len, q_bytes;
};

struct udp_stack {
    struct udp_sock *buckets[UDP_BUCKETS];
    struct udp_sock *all;
    uint64_t rx_datagrams, rx_bad_length, rx_bad_checksum, rx_no_checksum, rx_no_socket, rx_filtered,
        rx_queue_full, rx_nomem, rx_bytes;
    uint64_t tx_datagrams, tx_bytes, tx_errors, sockets;
};

static struct udp_sock **udp_bucket(struct udp_stack *us, uint16_t port)
{
    return &us->buckets[ntohs(port) % UDP_BUCKETS];
}

static struct udp_sock *udp_lookup(struct udp_stack *us, uint16_t port)
{
    for (struct udp_sock *u = *udp_bucket(us, port); u; u = u->hnext)
        if (u->lport == port)
            return u;
    return NULL;
}

int udp_stack_init(struct inet_stack *s)
{
    s->udp = calloc(1, sizeof(*s->udp));
    return s->udp ? 0 : ENOMEM;
}

void udp_stack_fini(struct inet_stack *s)
{
    while (s->udp->all)
        udp_close(s->udp->all);
    free(s->udp);
    s->udp = NULL;
}

int udp_open(struct inet_stack *s, struct udp_sock **out, udp_event_fn fn, void *user)
{
    struct udp_stack *us = s->udp;
    struct udp_sock *u = calloc(1, sizeof(*u));

    if (!u)
        return ENOMEM;
    u->s = s;
    u->fn = fn;
    u->user = user;
    u->anext = us->all;
    if (us->all)
        us->all->aprev = u;
    us->all = u;
    us->sockets++;
    *out = u;
    return 0;
}

static void udp_hash_insert(struct udp_sock *u, uint32_t ip, uint16_t port)
{
    struct udp_sock **b = udp_bucket(u->s->udp, port);

    u->lip = ip;
    u->lport = port;
    u->bound = 1;
    u->hnext = *b;
    *b = u;
}

/* Binds u to a free ephemeral port; returns 0 or EADDRNOTAVAIL. */
static int udp_bind_ephemeral(struct udp_sock *u, uint32_t ip)
{
    uint32_t start = (uint32_t)(inet_rand(u->s) % UDP_EPHEMERAL_N);

    for (uint32_t i = 0; i < UDP_EPHEMERAL_N; i++) {
        uint16_t port = htons((uint16_t)(UDP_EPHEMERAL_LO + (start + i) % UDP_EPHEMERAL_N));
        if (!udp_lookup(u->s->udp, port)) {
            udp_hash_insert(u, ip, port);
            return 0;
        }
    }
    return EADDRNOTAVAIL;
}

int udp_bind(struct udp_sock *u, uint32_t ip, uint16_t port)
{
    if (u->bound)
        return EINVAL;
    if (ip != 0 && ip != u->s->cfg.ipv4_addr)
        return EADDRNOTAVAIL;
    if (port == 0)
        return udp_bind_ephemeral(u, ip);
    if (udp_lookup(u->s->udp, port))
        return EADDRINUSE;
    udp_hash_insert(u, ip, port);
    return 0;
}

int udp_connect(struct udp_sock *u, uint32_t ip, uint16_t port)
{
    if (!u->bound && ip != 0) {
        int err = udp_bind_ephemeral(u, 0);
        if (err)
            return err;
    }
    u->rip = ip;
    u->rport = ip ? port : 0;
    return 0;
}

size_t udp_max_payload(const struct inet_stack *s)
{
    return (size_t)s->cfg.mtu - IPV4_HDR_LEN - UDP_HDR_LEN;
}

/* Returns one buffer holding the n buffers' bytes with room for headers:
 * bufs[0] itself when it is alone and unshared, else a copy. Consumes the
 * references; NULL on ENOMEM. */
static struct buf *udp_gather(struct buf **bufs, size_t n, size_t total)
{
    struct buf *b;
    size_t off = 0;

    if (n == 1 && bufs[0]->refcnt == 1 && buf_headroom(bufs[0]) >= ETH_HDR_LEN + IPV4_HDR_LEN + UDP_HDR_LEN)
        return bufs[0];
    b = buf_alloc(total);
    for (size_t i = 0; i < n; i++) {
        if (b)
            memcpy(b->data + off, bufs[i]->data, bufs[i]->len);
        off += bufs[i]->len;
        buf_unref(bufs[i]);
    }
    return b;
}

int udp_sendto(struct udp_sock *u, struct buf **bufs, size_t n, uint32_t ip, uint16_t port)
{
    struct inet_stack *s = u->s;
    struct udp_stack *us = s->udp;
    size_t total = 0;
    struct buf *pkt;
    uint32_t src;
    uint16_t csum;
    uint8_t *h;
    int err;

    for (size_t i = 0; i < n; i++)
        total += bufs[i]->len;
    if (ip == 0) {
        ip = u->rip;
        port = u->rport;
    }
    if (ip == 0)
        err = EDESTADDRREQ;
    else if (port == 0)
        err = EINVAL;
    else if (total > udp_max_payload(s))
        err = EMSGSIZE;
    else
        err = u->bound ? 0 : udp_bind_ephemeral(u, 0);
    if (err)
        goto err;
    pkt = udp_gather(bufs, n, total);
    n = 0;
    if (!pkt || !(h = inet_buf_prepend(&pkt, UDP_HDR_LEN))) {
        err = ENOMEM;
        goto err;
    }
    src = u->lip ? u->lip : s->cfg.ipv4_addr;
    memcpy(h, &u->lport, 2);
    memcpy(h + 2, &port, 2);
    wr16(h + 4, (uint16_t)pkt->len);
    h[6] = h[7] = 0;
    csum = inet_csum_fold(inet_csum_partial(h, pkt->len, inet_pseudo_sum(src, ip, IPPROTO_UDP_, (uint16_t)pkt->len)));
    if (csum == 0)
        csum = 0xffff;              /* zero means "no checksum" */
    memcpy(h + 6, &csum, 2);
    err = ipv4_output(s, pkt, src, ip, IPPROTO_UDP_);
    if (err)
        goto err;
    us->tx_datagrams++;
    us->tx_bytes += total;
    return 0;
err:
    for (size_t i = 0; i < n; i++)
        buf_unref(bufs[i]);
    us->tx_errors++;
    return err;
}

ssize_t udp_recv(struct udp_sock *u, struct buf **out, uint32_t *ip, uint16_t *port)
{
    struct udp_dgram *d = u->q_head;
    ssize_t len;

    if (!d)
        return -EAGAIN;
    u->q_head = d->next;
    if (!u->q_head)
        u->q_tail = NULL;
    u->q_len--;
    u->q_bytes -= d->b->len + UDP_DGRAM_OVERHEAD;
    *out = d->b;
    if (ip)
        *ip = d->ip;
    if (port)
        *port = d->port;
    len = d->b->len;
    free(d);
    return len;
}

size_t udp_pending(const struct udp_sock *u)
{
    return u->q_len;
}

void udp_getname(const struct udp_sock *u, uint32_t *lip, uint16_t *lport, uint32_t *rip, uint16_t *rport)
{
    if (lip)
        *lip = u->bound ? (u->lip ? u->lip : 0) : 0;
    if (lport)
        *lport = u->lport;
    if (rip)
        *rip = u->rip;
    if (rport)
        *rport = u->rport;
}

void udp_close(struct udp_sock *u)
{
    struct udp_stack *us = u->s->udp;
    struct buf *b;

    if (u->bound) {
        struct udp_sock **pp = udp_bucket(us, u->lport);
        while (*pp != u)
            pp = &(*pp)->hnext;
        *pp = u->hnext;
    }
    while (udp_recv(u, &b, NULL, NULL) >= 0)
        buf_unref(b);
    if (u->aprev)
        u->aprev->anext = u->anext;
    else
        us->all = u->anext;
    if (u->anext)
        u->anext->aprev = u->aprev;
    us->sockets--;
    free(u);
}

void udp_input(struct inet_stack *s, struct buf *dgram, uint32_t src, uint32_t dst, const uint8_t *ip, size_t iplen)
{
    struct udp_stack *us = s->udp;
    const uint8_t *h = dgram->data;
    struct udp_sock *u;
    struct udp_dgram *d;
    uint16_t ulen, csum, sport, dport;

    us->rx_datagrams++;
    if (dgram->len < UDP_HDR_LEN || (ulen = rd16(h + 4)) < UDP_HDR_LEN || ulen > dgram->len) {
        us->rx_bad_length++;
        goto drop;
    }
    buf_trim(dgram, dgram->len - ulen);
    memcpy(&csum, h + 6, 2);
    if (csum == 0)
        us->rx_no_checksum++;
    else if (!(dgram->flags & BUF_FLAG_L4_CSUM_OK) &&
             inet_csum_fold(inet_csum_partial(h, ulen, inet_pseudo_sum(src, dst, IPPROTO_UDP_, ulen))) != 0) {
        us->rx_bad_checksum++;
        goto drop;
    }
    memcpy(&sport, h, 2);
    memcpy(&dport, h + 2, 2);
    u = udp_lookup(us, dport);
    if (!u || (u->lip && u->lip != dst)) {
        us->rx_no_socket++;
        if (dst == s->cfg.ipv4_addr)
            icmp_send_unreachable(s, 3, ip, iplen);     /* port unreachable */
        goto drop;
    }
    if (u->rip && (u->rip != src || u->rport != sport)) {
        us->rx_filtered++;      /* a connected socket hears only its peer */
        goto drop;
    }
    if (u->q_bytes + ulen - UDP_HDR_LEN + UDP_DGRAM_OVERHEAD > s->cfg.udp_rcvbuf) {
        us->rx_queue_full++;
        goto drop;
    }
    d = malloc(sizeof(*d));
    if (!d) {
        us->rx_nomem++;
        goto drop;
    }
    buf_adj(dgram, UDP_HDR_LEN);
    d->next = NULL;
    d->b = dgram;
    d->ip = src;
    d->port = sport;
    if (u->q_tail)
        u->q_tail->next = d;
    else
        u->q_head = d;
    u->q_tail = d;
    u->q_len++;
    u->q_bytes += dgram->len + UDP_DGRAM_OVERHEAD;
    us->rx_bytes += dgram->len;
    if (u->fn)
        u->fn(u->user, u);
    return;
drop:
    buf_unref(dgram);
}

size_t udp_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap)
{
    const struct udp_stack *us = s->udp;
    size_t n = 0;

    n = inet_counter_put(out, cap, n, "udp.rx_datagrams", us->rx_datagrams);
    n = inet_counter_put(out, cap, n, "udp.rx_bytes", us->rx_bytes);
    n = inet_counter_put(out, cap, n, "udp.rx_bad_length", us->rx_bad_length);
    n = inet_counter_put(out, cap, n, "udp.rx_bad_checksum", us->rx_bad_checksum);
    n = inet_counter_put(out, cap, n, "udp.rx_no_checksum", us->rx_no_checksum);
    n = inet_counter_put(out, cap, n, "udp.rx_no_socket", us->rx_no_socket);
    n = inet_counter_put(out, cap, n, "udp.rx_filtered", us->rx_filtered);
    n = inet_counter_put(out, cap, n, "udp.rx_queue_full", us->rx_queue_full);
    n = inet_counter_put(out, cap, n, "udp.rx_nomem", us->rx_nomem);
    n = inet_counter_put(out, cap, n, "udp.tx_datagrams", us->tx_datagrams);
    n = inet_counter_put(out, cap, n, "udp.tx_bytes", us->tx_bytes);
    n = inet_counter_put(out, cap, n, "udp.tx_errors", us->tx_errors);
    n = inet_counter_put(out, cap, n, "udp.sockets", us->sockets);
    return n;
}
