/*
 * TCP support: stack init/fini, connection allocation and release, the
 * connection table (hashed on the 4-tuple with a keyed hash), the bind
 * table (local ports), ephemeral ports, ISNs (RFC 6528), deferred owner
 * events and deferred frees.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cc/cc.h"
#include "tcp_var.h"

#define TCP_BIND_BUCKETS 4096u
#define TCP_EPHEMERAL_LO 49152u
#define TCP_EPHEMERAL_HI 65535u

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                                      \
    do {                                                                                                             \
        v0 += v1;                                                                                                    \
        v1 = rotl64(v1, 13);                                                                                         \
        v1 ^= v0;                                                                                                    \
        v0 = rotl64(v0, 32);                                                                                         \
        v2 += v3;                                                                                                    \
        v3 = rotl64(v3, 16);                                                                                         \
        v3 ^= v2;                                                                                                    \
        v0 += v3;                                                                                                    \
        v3 = rotl64(v3, 21);                                                                                         \
        v3 ^= v0;                                                                                                    \
        v2 += v1;                                                                                                    \
        v1 = rotl64(v1, 17);                                                                                         \
        v1 ^= v2;                                                                                                    \
        v2 = rotl64(v2, 32);                                                                                         \
    } while (0)

/* SipHash-2-4 of data under a 128-bit key (written from the SipHash paper). */
uint64_t tcp_siphash(const uint64_t key[2], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t v0 = 0x736f6d6570736575ull ^ key[0];
    uint64_t v1 = 0x646f72616e646f6dull ^ key[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ key[0];
    uint64_t v3 = 0x7465646279746573ull ^ key[1];
    uint64_t m, b = (uint64_t)len << 56;
    size_t i, left = len & 7;

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&m, p + i, 8);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t j = 0; j < left; j++)
        b |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

struct tcp_tuple {
    uint32_t lip, rip;
    uint16_t lport, rport;
};

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 microsecond clock. */
uint32_t tcp_new_isn(struct inet_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
    struct tcp_tuple t = {lip, rip, lport, rport};
    uint64_t f = tcp_siphash(s->tcp->key, &t, sizeof(t));

    return (uint32_t)(s->now_ns / 4000) + (uint32_t)f;
}

static uint32_t tcp_tuple_hash(const struct tcp_stack *ts, uint32_t lip, uint16_t lport, uint32_t rip,
                               uint16_t rport)
{
    uint64_t x = ((uint64_t)rip << 32 | (uint64_t)rport << 16 | lport) ^ ((uint64_t)lip * 0x9e3779b97f4a7c15ull);

    x ^= ts->key[0];
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    return (uint32_t)x;
}

int tcp_stack_init(struct inet_stack *s)
{
    struct tcp_stack *ts = calloc(1, sizeof(*ts));

    if (!ts)
        return ENOMEM;
    ts->s = s;
    ts->tbl_mask = 1023;
    ts->tbl = calloc(ts->tbl_mask + 1, sizeof(*ts->tbl));
    ts->btbl_mask = TCP_BIND_BUCKETS - 1;
    ts->btbl = calloc(TCP_BIND_BUCKETS, sizeof(*ts->btbl));
    if (!ts->tbl || !ts->btbl) {
        free(ts->tbl);
        free(ts->btbl);
        free(ts);
        return ENOMEM;
    }
    ts->key[0] = inet_rand(s);
    ts->key[1] = inet_rand(s);
    ts->cc = tcp_cc_find(s->cfg.tcp_cc);
    if (!ts->cc)
        ts->cc = &tcp_cc_cubic;
    s->tcp = ts;
    return 0;
}

static void tcp_conn_free_now(struct tcp_conn *c);

void tcp_stack_fini(struct inet_stack *s)
{
    struct tcp_stack *ts = s->tcp;

    if (!ts)
        return;
    ts->busy++;
    ts->zombies = NULL;
    while (ts->all)
        tcp_conn_free_now(ts->all);
    free(ts->tbl);
    free(ts->btbl);
    free(ts);
    s->tcp = NULL;
}

uint16_t tcp_mss_for(const struct inet_stack *s)
{
    uint32_t mss = s->cfg.mtu > 40 ? s->cfg.mtu - 40u : TCP_DEFAULT_MSS;

    return (uint16_t)(mss > 65535 ? 65535 : mss);
}

uint8_t tcp_wscale_for(uint32_t rcvbuf)
{
    uint8_t ws = 0;

    while (ws < TCP_MAX_WSCALE && (rcvbuf >> ws) > 65535)
        ws++;
    return ws;
}

void tcp_conn_init_defaults(struct tcp_conn *c)
{
    struct inet_stack *s = c->s;

    c->sndbuf = s->cfg.tcp_sndbuf ? s->cfg.tcp_sndbuf : (1u << 20);
    c->rcvbuf = s->cfg.tcp_rcvbuf ? s->cfg.tcp_rcvbuf : (1u << 20);
    c->rto_ns = s->cfg.tcp_rto_initial_ns ? s->cfg.tcp_rto_initial_ns : 1000000000ull;
    c->keepidle_ns = s->cfg.tcp_keepalive_idle_ns;
    c->keepintvl_ns = s->cfg.tcp_keepalive_intvl_ns;
    c->keepcnt = s->cfg.tcp_keepalive_probes;
    c->cc = s->tcp->cc;
    c->t_maxseg = TCP_DEFAULT_MSS;
    c->peer_mss = TCP_DEFAULT_MSS;
}

/* Returns a zeroed connection of s, or NULL when out of memory or over the
 * configured connection limit. */
struct tcp_conn *tcp_conn_alloc(struct inet_stack *s)
{
    struct tcp_conn *c;

    if (s->cfg.tcp_max_conns && s->tcp->nall >= s->cfg.tcp_max_conns)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->s = s;
    c->state = TCPS_CLOSED;
    tcp_conn_init_defaults(c);
    tcp_timers_init(c);
    s->tcp->nall++;
    c->all_next = s->tcp->all;
    if (c->all_next)
        c->all_next->all_prev = c;
    s->tcp->all = c;
    return c;
}

/* Doubles the connection table when it is fuller than one per bucket. */
static void tcp_hash_grow(struct tcp_stack *ts)
{
    uint32_t nmask = ts->tbl_mask * 2 + 1;
    struct tcp_conn **n = calloc((size_t)nmask + 1, sizeof(*n));

    if (!n)
        return;
    for (uint32_t i = 0; i <= ts->tbl_mask; i++) {
        struct tcp_conn *c = ts->tbl[i];
        while (c) {
            struct tcp_conn *next = c->hnext;
            uint32_t h = tcp_tuple_hash(ts, c->lip, c->lport, c->rip, c->rport) & nmask;
            c->hnext = n[h];
            n[h] = c;
            c = next;
        }
    }
    free(ts->tbl);
    ts->tbl = n;
    ts->tbl_mask = nmask;
}

int tcp_hash_insert(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->s->tcp;
    uint32_t h;

    if (c->flags & TF_IN_HASH)
        return 0;
    if (ts->nconns >= ts->tbl_mask)
        tcp_hash_grow(ts);
    h = tcp_tuple_hash(ts, c->lip, c->lport, c->rip, c->rport) & ts->tbl_mask;
    c->hnext = ts->tbl[h];
    ts->tbl[h] = c;
    ts->nconns++;
    c->flags |= TF_IN_HASH;
    return 0;
}

void tcp_hash_remove(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->s->tcp;
    struct tcp_conn **pp;

    if (!(c->flags & TF_IN_HASH))
        return;
    pp = &ts->tbl[tcp_tuple_hash(ts, c->lip, c->lport, c->rip, c->rport) & ts->tbl_mask];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    c->hnext = NULL;
    ts->nconns--;
    c->flags &= ~TF_IN_HASH;
}

struct tcp_conn *tcp_lookup(struct inet_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
    struct tcp_stack *ts = s->tcp;
    struct tcp_conn *c = ts->tbl[tcp_tuple_hash(ts, lip, lport, rip, rport) & ts->tbl_mask];

    for (; c; c = c->hnext)
        if (c->lport == lport && c->rport == rport && c->rip == rip && c->lip == lip)
            return c;
    return NULL;
}

static inline uint32_t tcp_bind_bucket(const struct tcp_stack *ts, uint16_t port)
{
    return ((uint32_t)port * 2654435761u >> 16) & ts->btbl_mask;
}

/* The listener for lip:lport: one bound to lip first, then a wildcard. */
struct tcp_conn *tcp_lookup_listener(struct inet_stack *s, uint32_t lip, uint16_t lport)
{
    struct tcp_stack *ts = s->tcp;
    struct tcp_conn *c, *wild = NULL;

    for (c = ts->btbl[tcp_bind_bucket(ts, lport)]; c; c = c->bnext) {
        if (c->lport != lport || c->state != TCPS_LISTEN)
            continue;
        if (c->lip == lip)
            return c;
        if (c->lip == 0)
            wild = c;
    }
    return wild;
}

/* True if binding ip:port for c would collide with a bound connection. */
static int tcp_port_in_use(const struct tcp_conn *c, uint32_t ip, uint16_t port)
{
    const struct tcp_stack *ts = c->s->tcp;

    for (const struct tcp_conn *o = ts->btbl[tcp_bind_bucket(ts, port)]; o; o = o->bnext) {
        if (o == c || o->lport != port)
            continue;
        if (o->lip && ip && o->lip != ip)
            continue;
        if ((c->flags & TF_REUSEADDR) && (o->flags & TF_REUSEADDR) && o->state != TCPS_LISTEN)
            continue;
        return 1;
    }
    return 0;
}

static void tcp_bind_link(struct tcp_conn *c, uint32_t ip, uint16_t port)
{
    struct tcp_stack *ts = c->s->tcp;
    uint32_t h = tcp_bind_bucket(ts, port);

    c->lip = ip;
    c->lport = port;
    c->bnext = ts->btbl[h];
    ts->btbl[h] = c;
    c->flags |= TF_IN_BIND;
}

/* Binds c to ip:port (port non-zero, network order). Returns 0 or EADDRINUSE. */
int tcp_bind_insert(struct tcp_conn *c, uint32_t ip, uint16_t port)
{
    if (tcp_port_in_use(c, ip, port))
        return EADDRINUSE;
    tcp_bind_link(c, ip, port);
    return 0;
}

/* Picks a free ephemeral port for c (toward rip:rport when rip is set) and
 * binds it. Returns 0 or EADDRNOTAVAIL. */
int tcp_port_ephemeral(struct tcp_conn *c, uint32_t rip, uint16_t rport)
{
    uint32_t range = TCP_EPHEMERAL_HI - TCP_EPHEMERAL_LO + 1;
    uint32_t start = (uint32_t)(inet_rand(c->s) % range);

    for (uint32_t i = 0; i < range; i++) {
        uint16_t port = htons((uint16_t)(TCP_EPHEMERAL_LO + (start + i) % range));
        if (tcp_port_in_use(c, c->lip, port))
            continue;
        if (rip && tcp_lookup(c->s, c->lip, port, rip, rport))
            continue;
        tcp_bind_link(c, c->lip, port);
        return 0;
    }
    return EADDRNOTAVAIL;
}

void tcp_bind_remove(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->s->tcp;
    struct tcp_conn **pp;

    if (!(c->flags & TF_IN_BIND))
        return;
    pp = &ts->btbl[tcp_bind_bucket(ts, c->lport)];
    while (*pp && *pp != c)
        pp = &(*pp)->bnext;
    if (*pp)
        *pp = c->bnext;
    c->bnext = NULL;
    c->flags &= ~TF_IN_BIND;
}

void tcp_sndq_drop(struct tcp_conn *c, uint32_t n)
{
    while (n && c->sndq_head) {
        struct buf *b = c->sndq_head;
        if (b->len > n) {
            buf_adj(b, n);
            c->snd_cc -= n;
            if (c->snd_cursor) {
                if (c->snd_cursor == b)
                    c->snd_cursor_off = 0;
                else
                    c->snd_cursor_off -= n;
            }
            return;
        }
        n -= b->len;
        c->snd_cc -= b->len;
        if (c->snd_cursor == b)
            c->snd_cursor = NULL;
        else if (c->snd_cursor)
            c->snd_cursor_off -= b->len;
        c->sndq_head = b->next;
        if (!c->sndq_head)
            c->sndq_tail = NULL;
        b->next = NULL;
        buf_unref(b);
    }
}

void tcp_rcvq_free(struct tcp_conn *c)
{
    while (c->rcvq_head) {
        struct buf *b = c->rcvq_head;
        c->rcvq_head = b->next;
        b->next = NULL;
        buf_unref(b);
    }
    c->rcvq_tail = NULL;
    c->rcv_cc = 0;
    while (c->ooo) {
        struct tcp_ooo *o = c->ooo;
        c->ooo = o->next;
        buf_unref(o->b);
        free(o);
    }
    c->ooo_bytes = 0;
    c->ooo_count = 0;
}

/* Unlinks c from its listener's SYN or accept queue. */
static void tcp_unlink_parent(struct tcp_conn *c)
{
    struct tcp_conn *l = c->parent;

    if (!l)
        return;
    if (c->in_acq) {
        struct tcp_conn **pp = &l->acq_head, *prev = NULL;
        while (*pp && *pp != c) {
            prev = *pp;
            pp = &(*pp)->lq_next;
        }
        if (*pp) {
            *pp = c->lq_next;
            if (l->acq_tail == c)
                l->acq_tail = prev;
            l->acq_len--;
        }
        c->in_acq = 0;
    } else {
        if (c->lq_prev)
            c->lq_prev->lq_next = c->lq_next;
        else if (l->synq_head == c)
            l->synq_head = c->lq_next;
        if (c->lq_next)
            c->lq_next->lq_prev = c->lq_prev;
        l->synq_len--;
    }
    c->lq_prev = c->lq_next = NULL;
    c->parent = NULL;
}

static void tcp_conn_free_now(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->s->tcp;

    tcp_timers_cancel(c);
    tcp_hash_remove(c);
    tcp_bind_remove(c);
    tcp_unlink_parent(c);
    /* a listener's children go with it */
    while (c->synq_head) {
        struct tcp_conn *ch = c->synq_head;
        tcp_unlink_parent(ch);
        ch->flags |= TF_USER_CLOSED;
        tcp_conn_free_now(ch);
    }
    while (c->acq_head) {
        struct tcp_conn *ch = c->acq_head;
        tcp_unlink_parent(ch);
        ch->flags |= TF_USER_CLOSED;
        tcp_conn_free_now(ch);
    }
    tcp_sndq_drop(c, c->snd_cc);
    tcp_rcvq_free(c);
    tcp_sack_free(c);
    if (c->on_ev_list) {
        struct tcp_conn **pp = &ts->ev_head, *prev = NULL;
        while (*pp && *pp != c) {
            prev = *pp;
            pp = &(*pp)->ev_next;
        }
        if (*pp) {
            *pp = c->ev_next;
            if (ts->ev_tail == c)
                ts->ev_tail = prev;
        }
    }
    ts->nall--;
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        ts->all = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    free(c);
}

void tcp_set_state(struct tcp_conn *c, enum tcp_state st)
{
    c->state = st;
}

/* Moves c to CLOSED, out of every table. It is freed once the owner has
 * released it (TF_USER_CLOSED) and no stack call is running. */
void tcp_conn_destroy(struct tcp_conn *c)
{
    struct tcp_stack *ts = c->s->tcp;

    tcp_set_state(c, TCPS_CLOSED);
    tcp_timers_cancel(c);
    tcp_hash_remove(c);
    if (c->parent && !c->in_acq) {
        /* a half-open child nobody owns yet */
        tcp_unlink_parent(c);
        c->flags |= TF_USER_CLOSED;
    }
    if (!(c->flags & TF_USER_CLOSED) || (c->flags & TF_ZOMBIE))
        return;
    tcp_bind_remove(c);
    if (c->parent) {
        tcp_unlink_parent(c);
    }
    if (ts->busy) {
        c->flags |= TF_ZOMBIE;
        c->hnext = ts->zombies;
        ts->zombies = c;
        return;
    }
    tcp_conn_free_now(c);
}

void tcp_conn_drop(struct tcp_conn *c, int err)
{
    c->err = err;
    c->err_sticky = err;
    if (!(c->flags & TF_USER_CLOSED) && !c->parent)
        tcp_event(c, TCP_EV_ERROR);
    tcp_sndq_drop(c, c->snd_cc);
    tcp_conn_destroy(c);
}

void tcp_event(struct tcp_conn *c, enum tcp_event ev)
{
    struct tcp_stack *ts = c->s->tcp;

    if ((c->flags & TF_USER_CLOSED) || !c->fn)
        return;
    c->ev_pending |= TCP_EVBIT(ev);
    if (!c->on_ev_list) {
        c->on_ev_list = 1;
        c->ev_next = NULL;
        if (ts->ev_tail)
            ts->ev_tail->ev_next = c;
        else
            ts->ev_head = c;
        ts->ev_tail = c;
    }
}

void tcp_enter(struct inet_stack *s)
{
    s->tcp->busy++;
}

/* Delivers pending events (owners may call any tcp_* from their callback)
 * and frees released connections once the outermost call returns. */
void tcp_leave(struct inet_stack *s)
{
    struct tcp_stack *ts = s->tcp;

    if (ts->busy > 1) {
        ts->busy--;
        return;
    }
    while (ts->ev_head) {
        struct tcp_conn *c = ts->ev_head;
        ts->ev_head = c->ev_next;
        if (!ts->ev_head)
            ts->ev_tail = NULL;
        c->on_ev_list = 0;
        c->ev_next = NULL;
        for (int ev = TCP_EV_CONNECTED; ev <= TCP_EV_ERROR; ev++) {
            if (!(c->ev_pending & TCP_EVBIT(ev)))
                continue;
            c->ev_pending &= ~TCP_EVBIT(ev);
            if ((c->flags & TF_USER_CLOSED) || !c->fn)
                break;
            c->fn(c->user, c, (enum tcp_event)ev, ev == TCP_EV_ERROR ? c->err : 0);
        }
        c->ev_pending = 0;
    }
    ts->busy--;
    while (ts->zombies) {
        struct tcp_conn *c = ts->zombies;
        ts->zombies = c->hnext;
        c->hnext = NULL;
        c->flags &= ~TF_ZOMBIE;
        tcp_conn_free_now(c);
    }
}
