/*
 * sim: the in-memory wire of sim.h. Each sent frame is copied once per
 * receiver (so receivers never share a header), given a delivery time by
 * the sender port's faults, and kept in the receiver's list sorted by
 * (time, sequence). rx_burst hands out the frames whose time has come.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <demi/stats.h>

#include "sim.h"

#define SIM_RX_MAX 200000           /* frames a receiver may hold before drops */
#define SIM_MTU 1500
#define SIM_DEFAULT_REORDER_NS 1000000ull
#define SIM_DEFAULT_QUEUE 1000u
#define SIM_FRAME_WIRE_BYTES 1514u

struct sim_frame {
    struct sim_frame *next, *prev;
    struct buf *b;
    uint64_t t;
    uint64_t seq;
};

struct sim_port {
    struct netdev nd;
    struct sim_wire *w;
    int index;
    uint8_t mac[6];
    struct sim_faults f;
    uint64_t busy_until;        /* bandwidth limit: when the port's link is free */
    struct sim_frame *rx_head, *rx_tail;
    size_t rx_count;
};

struct sim_wire {
    uint64_t rng;
    uint64_t now;
    uint64_t seq;
    uint64_t hash;
    struct sim_port *ports[SIM_MAX_PORTS];
    int nports;
    struct sim_faults defaults;
    sim_filter_fn filter;
    void *filter_arg;
    sim_tap_fn tap;
    void *tap_arg;
    struct sim_stats st;
};

static uint64_t sim_rand(struct sim_wire *w)
{
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* True with probability ppm / 1e6; draws nothing when ppm is 0, so adding a
 * fault of 0 does not change the random sequence. */
static int sim_chance(struct sim_wire *w, uint32_t ppm)
{
    return ppm && sim_rand(w) % SIM_PPM < ppm;
}

static void sim_hash_add(struct sim_wire *w, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        w->hash = (w->hash ^ b[i]) * 0x100000001b3ull;
}

static void sim_hash_frame(struct sim_wire *w, int port, uint64_t t, const struct buf *b)
{
    sim_hash_add(w, &port, sizeof(port));
    sim_hash_add(w, &t, sizeof(t));
    sim_hash_add(w, &b->len, sizeof(b->len));
    sim_hash_add(w, b->data, b->len);
}

struct sim_wire *sim_wire_new(uint64_t seed, uint64_t start_ns)
{
    struct sim_wire *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->rng = seed;
    w->now = start_ns;
    w->hash = 0xcbf29ce484222325ull;
    return w;
}

void sim_wire_free(struct sim_wire *w)
{
    free(w);
}

void sim_wire_set_time(struct sim_wire *w, uint64_t now_ns)
{
    if (now_ns > w->now)
        w->now = now_ns;
}

uint64_t sim_wire_time(const struct sim_wire *w)
{
    return w->now;
}

uint64_t sim_wire_next_event(const struct sim_wire *w)
{
    uint64_t t = UINT64_MAX;

    for (int i = 0; i < w->nports; i++)
        if (w->ports[i] && w->ports[i]->rx_head && w->ports[i]->rx_head->t < t)
            t = w->ports[i]->rx_head->t;
    return t;
}

void sim_wire_set_faults(struct sim_wire *w, int port, const struct sim_faults *f)
{
    if (port < 0) {
        w->defaults = *f;
        for (int i = 0; i < w->nports; i++)
            if (w->ports[i])
                w->ports[i]->f = *f;
    } else if (port < w->nports && w->ports[port]) {
        w->ports[port]->f = *f;
    }
}

void sim_wire_set_filter(struct sim_wire *w, sim_filter_fn fn, void *arg)
{
    w->filter = fn;
    w->filter_arg = arg;
}

void sim_wire_set_tap(struct sim_wire *w, sim_tap_fn fn, void *arg)
{
    w->tap = fn;
    w->tap_arg = arg;
}

const struct sim_stats *sim_wire_stats(const struct sim_wire *w)
{
    return &w->st;
}

uint64_t sim_wire_hash(const struct sim_wire *w)
{
    return w->hash;
}

int sim_port_index(const struct netdev *nd)
{
    return ((const struct sim_port *)nd)->index;
}

/* Inserts a copy of b into p's receive list at time t. */
static void sim_deliver(struct sim_wire *w, struct sim_port *p, const struct buf *b, uint64_t t, int corrupt)
{
    struct sim_frame *f, *at;

    if (p->rx_count >= SIM_RX_MAX) {
        w->st.rx_overflow++;
        return;
    }
    f = calloc(1, sizeof(*f));
    if (!f)
        return;
    f->b = buf_copy_from(b->data, b->len);
    if (!f->b) {
        free(f);
        return;
    }
    if (corrupt && b->len > 14) {
        uint64_t r = sim_rand(w);
        size_t off = 14 + (size_t)(r % (b->len - 14));
        f->b->data[off] ^= (uint8_t)(1u << ((r >> 32) % 8));
        w->st.corrupted++;
    }
    f->t = t;
    f->seq = w->seq++;
    /* sorted by (t, seq): scan back from the tail, where most frames go */
    for (at = p->rx_tail; at && at->t > t; at = at->prev)
        ;
    f->prev = at;
    f->next = at ? at->next : p->rx_head;
    if (f->next)
        f->next->prev = f;
    else
        p->rx_tail = f;
    if (at)
        at->next = f;
    else
        p->rx_head = f;
    p->rx_count++;
}

/* One frame from port src through its faults to its receivers. */
static void sim_send(struct sim_wire *w, struct sim_port *src, struct buf *b)
{
    const struct sim_faults *f = &src->f;
    uint64_t t = w->now;
    int copies = 1, corrupt;

    w->st.tx_frames++;
    w->st.tx_bytes += b->len;
    sim_hash_frame(w, src->index, w->now, b);
    if (w->tap)
        w->tap(w->tap_arg, src->index, b, w->now);
    if (f->cut) {
        w->st.cut_dropped++;
        return;
    }
    if (w->filter && w->filter(w->filter_arg, src->index, b)) {
        w->st.filtered++;
        return;
    }
    if (sim_chance(w, f->loss_ppm)) {
        w->st.lost++;
        return;
    }
    if (f->rate_bps) {
        uint64_t qmax = (uint64_t)(f->queue_max ? f->queue_max : SIM_DEFAULT_QUEUE) * SIM_FRAME_WIRE_BYTES;
        uint64_t start = src->busy_until > t ? src->busy_until : t;
        uint64_t backlog = (start - t) * f->rate_bps / 8000000000ull;
        if (backlog > qmax) {
            w->st.queue_dropped++;
            return;
        }
        src->busy_until = start + ((uint64_t)b->len * 8000000000ull + f->rate_bps - 1) / f->rate_bps;
        t = src->busy_until;
    }
    corrupt = sim_chance(w, f->corrupt_ppm);
    if (sim_chance(w, f->dup_ppm)) {
        copies = 2;
        w->st.duplicated++;
    }
    t += f->delay_ns;
    if (f->jitter_ns)
        t += sim_rand(w) % (f->jitter_ns + 1);
    if (sim_chance(w, f->reorder_ppm)) {
        t += f->reorder_ns ? f->reorder_ns : SIM_DEFAULT_REORDER_NS;
        w->st.reordered++;
    }
    for (int c = 0; c < copies; c++) {
        int unicast = -1;
        for (int i = 0; i < w->nports && !(b->data[0] & 1); i++)
            if (w->ports[i] && i != src->index && memcmp(w->ports[i]->mac, b->data, 6) == 0)
                unicast = i;
        for (int i = 0; i < w->nports; i++) {
            if (!w->ports[i] || i == src->index || (unicast >= 0 && i != unicast))
                continue;
            sim_deliver(w, w->ports[i], b, t, corrupt && c == 0);
        }
    }
}

static int sim_open(const struct netdev_params *prm, struct netdev **out)
{
    struct sim_wire *w = prm->driver_arg;
    struct sim_port *p;

    if (!w)
        return EINVAL;
    if (w->nports >= SIM_MAX_PORTS)
        return ENOSPC;
    p = calloc(1, sizeof(*p));
    if (!p)
        return ENOMEM;
    p->nd.ops = &sim_netdev_ops;
    p->w = w;
    p->index = w->nports;
    p->f = w->defaults;
    if (prm->mac) {
        memcpy(p->mac, prm->mac, 6);
    } else {
        p->mac[0] = 0x02;
        p->mac[5] = (uint8_t)(p->index + 1);
    }
    w->ports[w->nports++] = p;
    *out = &p->nd;
    return 0;
}

static void sim_close(struct netdev *nd)
{
    struct sim_port *p = (struct sim_port *)nd;

    while (p->rx_head) {
        struct sim_frame *f = p->rx_head;
        p->rx_head = f->next;
        buf_unref(f->b);
        free(f);
    }
    p->w->ports[p->index] = NULL;
    free(p);
}

static size_t sim_rx_burst(struct netdev *nd, struct buf **bufs, size_t max)
{
    struct sim_port *p = (struct sim_port *)nd;
    struct sim_wire *w = p->w;
    size_t n = 0;

    while (n < max && p->rx_head && p->rx_head->t <= w->now) {
        struct sim_frame *f = p->rx_head;
        p->rx_head = f->next;
        if (p->rx_head)
            p->rx_head->prev = NULL;
        else
            p->rx_tail = NULL;
        p->rx_count--;
        sim_hash_frame(w, p->index, w->now, f->b);
        w->st.delivered++;
        bufs[n++] = f->b;
        free(f);
    }
    return n;
}

static size_t sim_tx_burst(struct netdev *nd, struct buf **bufs, size_t n)
{
    struct sim_port *p = (struct sim_port *)nd;

    for (size_t i = 0; i < n; i++) {
        if (bufs[i]->len >= 14)
            sim_send(p->w, p, bufs[i]);
        buf_unref(bufs[i]);
    }
    return n;
}

static void sim_mac(const struct netdev *nd, uint8_t out[6])
{
    memcpy(out, ((const struct sim_port *)nd)->mac, 6);
}

static uint16_t sim_mtu(const struct netdev *nd)
{
    return SIM_MTU;
}

static int sim_fd(const struct netdev *nd)
{
    return -1;
}

static uint32_t sim_offloads(const struct netdev *nd)
{
    return 0;
}

static size_t sim_counters(const struct netdev *nd, struct demi_counter *out, size_t cap)
{
    const struct sim_stats *st = &((const struct sim_port *)nd)->w->st;
    const struct {
        const char *name;
        uint64_t v;
    } c[] = {
        {"sim.tx_frames", st->tx_frames},   {"sim.delivered", st->delivered},
        {"sim.lost", st->lost},             {"sim.cut_dropped", st->cut_dropped},
        {"sim.filtered", st->filtered},     {"sim.queue_dropped", st->queue_dropped},
        {"sim.duplicated", st->duplicated}, {"sim.corrupted", st->corrupted},
        {"sim.reordered", st->reordered},   {"sim.rx_overflow", st->rx_overflow},
    };
    size_t n = sizeof(c) / sizeof(c[0]);

    for (size_t i = 0; i < n && i < cap; i++) {
        out[i].name = c[i].name;
        out[i].value = c[i].v;
    }
    return n;
}

const struct demi_netdev_ops sim_netdev_ops = {
    .name = "sim",
    .open = sim_open,
    .close = sim_close,
    .rx_burst = sim_rx_burst,
    .tx_burst = sim_tx_burst,
    .mac = sim_mac,
    .mtu = sim_mtu,
    .fd = sim_fd,
    .offloads = sim_offloads,
    .counters = sim_counters,
};
