/*
 * The stack test harness of harness.h: N stacks over one sim wire on a
 * virtual clock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <demi/stats.h>

#include "harness.h"

#define HARNESS_BURST 64
#define HARNESS_MAX_COUNTERS 512
#define HARNESS_MAX_ROUNDS 100000   /* steps at one instant before giving up (a livelock) */

struct harness_rec {
    uint8_t *bytes;
    size_t len;
    int port;
    uint64_t t;
};

struct harness {
    int n;
    uint64_t now;
    struct sim_wire *wire;
    struct inet_stack *stacks[HARNESS_MAX_NODES];
    struct netdev *ports[HARNESS_MAX_NODES];
    struct harness_rec *rec;
    size_t rec_len, rec_cap;
};

uint32_t harness_ip(int i)
{
    return htonl(0x0a000000u | (uint32_t)(i + 1));
}

struct harness *harness_new(int n, uint64_t seed, harness_cfg_fn tweak, void *arg)
{
    struct harness *h = calloc(1, sizeof(*h));

    assert_non_null(h);
    assert_true(n >= 1 && n <= HARNESS_MAX_NODES);
    h->n = n;
    h->now = HARNESS_START_NS;
    h->wire = sim_wire_new(seed, h->now);
    assert_non_null(h->wire);
    for (int i = 0; i < n; i++) {
        struct inet_config cfg;
        struct netdev_params p = {0};

        inet_config_defaults(&cfg);
        cfg.mac[0] = 0x02;
        cfg.mac[5] = (uint8_t)(i + 1);
        cfg.ipv4_addr = harness_ip(i);
        cfg.ipv4_prefix_len = 24;
        cfg.seed = seed + (uint64_t)i;
        if (tweak)
            tweak(arg, i, &cfg);
        p.mac = cfg.mac;
        p.driver_arg = h->wire;
        assert_int_equal(sim_netdev_ops.open(&p, &h->ports[i]), 0);
        h->stacks[i] = inet_stack_new(&cfg, h->now);
        assert_non_null(h->stacks[i]);
    }
    return h;
}

void harness_free(struct harness *h)
{
    for (int i = 0; i < h->n; i++) {
        inet_stack_free(h->stacks[i]);
        sim_netdev_ops.close(h->ports[i]);
    }
    sim_wire_free(h->wire);
    for (size_t i = 0; i < h->rec_len; i++)
        free(h->rec[i].bytes);
    free(h->rec);
    free(h);
}

void harness_assert_no_leaks(void)
{
    buf_cache_drain();
    assert_int_equal(buf_live_count(), 0);
}

struct inet_stack *harness_stack(struct harness *h, int i)
{
    assert_true(i >= 0 && i < h->n);
    return h->stacks[i];
}

struct sim_wire *harness_wire(struct harness *h)
{
    return h->wire;
}

uint64_t harness_now(const struct harness *h)
{
    return h->now;
}

/* One pass over every stack at the current instant; returns frames moved. */
static int harness_pass(struct harness *h)
{
    struct buf *bufs[HARNESS_BURST];
    int moved = 0;

    for (int i = 0; i < h->n; i++) {
        size_t n;
        while ((n = sim_netdev_ops.rx_burst(h->ports[i], bufs, HARNESS_BURST)) > 0) {
            for (size_t k = 0; k < n; k++)
                inet_input(h->stacks[i], bufs[k], h->now);
            moved += (int)n;
        }
        inet_timers(h->stacks[i], h->now);
        while ((n = inet_tx_drain(h->stacks[i], bufs, HARNESS_BURST)) > 0) {
            sim_netdev_ops.tx_burst(h->ports[i], bufs, n);
            moved += (int)n;
        }
    }
    return moved;
}

int harness_step(struct harness *h)
{
    int total = 0, moved;

    sim_wire_set_time(h->wire, h->now);
    for (int r = 0; r < HARNESS_MAX_ROUNDS && (moved = harness_pass(h)) > 0; r++)
        total += moved;
    return total;
}

/* Earliest future event: a stack deadline or a frame delivery. */
static uint64_t harness_next_event(const struct harness *h)
{
    uint64_t t = sim_wire_next_event(h->wire);

    for (int i = 0; i < h->n; i++) {
        uint64_t d = inet_next_deadline(h->stacks[i]);
        if (d < t)
            t = d;
    }
    return t;
}

int harness_run_until(struct harness *h, int (*cond)(void *arg), void *arg, uint64_t max_ns)
{
    uint64_t limit = h->now + max_ns;

    for (;;) {
        harness_step(h);
        if (cond && cond(arg))
            return 0;
        if (h->now >= limit)
            return ETIMEDOUT;
        uint64_t next = harness_next_event(h);
        if (next <= h->now)
            next = h->now + 1;      /* a deadline that did not clear: move on */
        h->now = next < limit ? next : limit;
    }
}

void harness_run_for(struct harness *h, uint64_t ns)
{
    harness_run_until(h, NULL, NULL, ns);
}

uint64_t harness_counter(struct harness *h, int i, const char *name)
{
    struct demi_counter c[HARNESS_MAX_COUNTERS];
    size_t n = inet_counters(harness_stack(h, i), c, HARNESS_MAX_COUNTERS);

    for (size_t k = 0; k < n && k < HARNESS_MAX_COUNTERS; k++)
        if (strcmp(c[k].name, name) == 0)
            return c[k].value;
    return 0;
}

struct buf *harness_frame(const void *data, size_t len)
{
    struct buf *b = buf_alloc(len);

    assert_non_null(b);
    memcpy(b->data, data, len);
    return b;
}

static void harness_tap(void *arg, int port, const struct buf *frame, uint64_t now_ns)
{
    struct harness *h = arg;
    struct harness_rec *r;

    if (h->rec_len == h->rec_cap) {
        size_t cap = h->rec_cap ? h->rec_cap * 2 : 256;
        struct harness_rec *nr = realloc(h->rec, cap * sizeof(*nr));
        assert_non_null(nr);
        h->rec = nr;
        h->rec_cap = cap;
    }
    r = &h->rec[h->rec_len++];
    r->bytes = malloc(frame->len);
    assert_non_null(r->bytes);
    memcpy(r->bytes, frame->data, frame->len);
    r->len = frame->len;
    r->port = port;
    r->t = now_ns;
}

void harness_record(struct harness *h, int on)
{
    sim_wire_set_tap(h->wire, on ? harness_tap : NULL, h);
}

size_t harness_frames_count(const struct harness *h)
{
    return h->rec_len;
}

const uint8_t *harness_frame_at(const struct harness *h, size_t i, size_t *len, int *port, uint64_t *t_ns)
{
    if (i >= h->rec_len)
        return NULL;
    if (len)
        *len = h->rec[i].len;
    if (port)
        *port = h->rec[i].port;
    if (t_ns)
        *t_ns = h->rec[i].t;
    return h->rec[i].bytes;
}
