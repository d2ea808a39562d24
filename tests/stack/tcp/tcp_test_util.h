/*
 * Helpers of the TCP scenario tests: endpoints that record their events and
 * drain what they receive, bulk senders, and readers of recorded frames.
 */
#ifndef DEMI_TESTS_STACK_TCP_TEST_UTIL_H_
#define DEMI_TESTS_STACK_TCP_TEST_UTIL_H_

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inet/proto.h"
#include "inet/tcp/tcp.h"
#include "inet/tcp/tcp_var.h"
#include "../test_util.h"

#define TT_PORT 8080

/* One endpoint: what it was told, and what it received. */
struct tt_ep {
    struct tcp_conn *c;
    int connected, acceptable, writable, errors, err, eof;
    int no_drain;               /* leave data in the receive queue */
    uint8_t *rx;
    size_t rx_len, rx_cap;
    /* bulk sending: a pattern buffer pushed until tx_total bytes are queued */
    struct buf *pat;
    size_t tx_total, tx_done;
    int close_when_sent;
};

static inline void tt_static_arp(struct harness *h, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            uint8_t mac[6];
            tu_mac(j, mac);
            if (i != j)
                assert_int_equal(arp_add_static(harness_stack(h, i), harness_ip(j), mac), 0);
        }
}

/* Byte k of the test stream. */
static inline uint8_t tt_byte(size_t k)
{
    return (uint8_t)(((k & 2047) * 7 + ((k & 2047) >> 8) * 13 + 3) & 0xff);
}

static inline void tt_drain(struct tt_ep *e)
{
    for (int guard = 0; guard < 100000; guard++) {
        struct buf *b = NULL;
        ssize_t n = tcp_recv(e->c, &b, 1 << 20);
        if (n > 0) {
            if (e->rx_len + (size_t)n > e->rx_cap) {
                e->rx_cap = (e->rx_len + (size_t)n) * 2;
                e->rx = realloc(e->rx, e->rx_cap);
                assert_non_null(e->rx);
            }
            memcpy(e->rx + e->rx_len, b->data, (size_t)n);
            e->rx_len += (size_t)n;
            buf_unref(b);
            continue;
        }
        if (n == 0)
            e->eof = 1;
        break;
    }
}

/* Pushes more of the bulk stream while the send buffer takes it. */
static inline void tt_pump(struct tt_ep *e)
{
    while (e->pat && e->tx_done < e->tx_total) {
        size_t chunk = e->pat->len;
        size_t off = e->tx_done % chunk;
        size_t len = chunk - off;
        ssize_t n;
        if (len > e->tx_total - e->tx_done)
            len = e->tx_total - e->tx_done;
        n = tcp_send(e->c, e->pat, off, len);
        if (n <= 0)
            break;
        e->tx_done += (size_t)n;
    }
    if (e->pat && e->tx_done == e->tx_total && e->close_when_sent == 1) {
        e->close_when_sent = 2;
        tcp_shutdown(e->c);
    }
}

static inline void tt_cb(void *user, struct tcp_conn *c, enum tcp_event ev, int err)
{
    struct tt_ep *e = user;

    e->c = c;
    switch (ev) {
    case TCP_EV_CONNECTED:
        e->connected++;
        break;
    case TCP_EV_ACCEPTABLE:
        e->acceptable++;
        break;
    case TCP_EV_READABLE:
        if (!e->no_drain)
            tt_drain(e);
        break;
    case TCP_EV_WRITABLE:
        e->writable++;
        tt_pump(e);
        break;
    case TCP_EV_ERROR:
        e->errors++;
        e->err = err;
        break;
    }
}

/* A pattern buffer of len bytes: byte k is tt_byte(k) (len a multiple of 2048). */
static inline struct buf *tt_pattern(size_t len)
{
    struct buf *b = buf_alloc(len);
    assert_non_null(b);
    for (size_t k = 0; k < len; k++)
        b->data[k] = tt_byte(k);
    return b;
}

static inline int tt_bytes_ok(const struct tt_ep *e, size_t n)
{
    if (e->rx_len != n)
        return 0;
    for (size_t k = 0; k < n; k++)
        if (e->rx[k] != tt_byte(k))
            return 0;
    return 1;
}

static inline void tt_ep_free(struct tt_ep *e)
{
    free(e->rx);
    buf_unref(e->pat);
    memset(e, 0, sizeof(*e));
}

/* A listener on stack si port TT_PORT, a client on stack ci connecting. */
static inline void tt_listen(struct harness *h, int si, struct tt_ep *l, int backlog)
{
    assert_int_equal(tcp_open(harness_stack(h, si), &l->c, tt_cb, l), 0);
    assert_int_equal(tcp_bind(l->c, 0, htons(TT_PORT)), 0);
    assert_int_equal(tcp_listen(l->c, backlog), 0);
}

static inline void tt_connect(struct harness *h, int ci, int si, struct tt_ep *cl)
{
    assert_int_equal(tcp_open(harness_stack(h, ci), &cl->c, tt_cb, cl), 0);
    assert_int_equal(tcp_connect(cl->c, harness_ip(si), htons(TT_PORT)), 0);
}

struct tt_pair {
    struct tt_ep *cl, *l, *sv;
};

static inline int tt_cond_established(void *arg)
{
    struct tt_pair *p = arg;
    return p->cl->connected && p->l->acceptable;
}

/* Full handshake between stack 0 (client) and 1 (server); sv accepted. */
static inline void tt_establish(struct harness *h, struct tt_ep *cl, struct tt_ep *l, struct tt_ep *sv)
{
    struct tt_pair p = {cl, l, sv};

    tt_listen(h, 1, l, 16);
    tt_connect(h, 0, 1, cl);
    assert_int_equal(harness_run_until(h, tt_cond_established, &p, 30ull * NS_PER_SEC), 0);
    assert_int_equal(tcp_accept(l->c, &sv->c, tt_cb, sv), 0);
}

/* Recorded frame helpers: the TCP header of frame i (NULL if not TCP). */
static inline const uint8_t *tt_frame_tcp(struct harness *h, size_t i, size_t *tcp_len, int *port)
{
    size_t len;
    uint64_t t;
    const uint8_t *f = harness_frame_at(h, i, &len, port, &t);

    if (!f || len < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 6)
        return NULL;
    if (tcp_len)
        *tcp_len = ((size_t)f[16] << 8 | f[17]) - (size_t)(f[14] & 0xf) * 4;
    return f + 14 + (size_t)(f[14] & 0xf) * 4;
}

static inline uint8_t tt_flags(const uint8_t *th)
{
    return th[13] & 0x3f;
}

static inline uint32_t tt_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Finds TCP option kind in header th; returns a pointer to it or NULL. */
static inline const uint8_t *tt_option(const uint8_t *th, uint8_t kind)
{
    size_t hl = (size_t)(th[12] >> 4) * 4, i = 20;
    while (i < hl) {
        if (th[i] == 0)
            break;
        if (th[i] == 1) {
            i++;
            continue;
        }
        if (th[i] == kind)
            return th + i;
        if (th[i + 1] < 2)
            break;
        i += th[i + 1];
    }
    return NULL;
}

/* Counts recorded TCP frames sent by port with all of flags set (and any
 * payload if with_data). */
static inline size_t tt_count(struct harness *h, int port, uint8_t flags, int with_data)
{
    size_t n = 0, total = harness_frames_count(h);
    for (size_t i = 0; i < total; i++) {
        size_t tl;
        int p;
        const uint8_t *th = tt_frame_tcp(h, i, &tl, &p);
        if (!th || p != port || (tt_flags(th) & flags) != flags)
            continue;
        if (with_data && tl <= (size_t)(th[12] >> 4) * 4)
            continue;
        n++;
    }
    return n;
}

#endif /* DEMI_TESTS_STACK_TCP_TEST_UTIL_H_ */

/* Debug: prints the recorded TCP frames. */
static inline void tt_dump(struct harness *h)
{
    for (size_t i = 0; i < harness_frames_count(h); i++) {
        size_t tl, len;
        int port;
        uint64_t t;
        const uint8_t *th = tt_frame_tcp(h, i, &tl, &port);
        harness_frame_at(h, i, &len, &port, &t);
        if (!th)
            continue;
        fprintf(stderr, "%3zu t=%.6f p%d fl=%02x seq=%u ack=%u win=%u len=%zu\n", i, (double)t / 1e9, port,
                tt_flags(th), tt_rd32(th + 4), tt_rd32(th + 8), rd16(th + 14), tl - (size_t)(th[12] >> 4) * 4);
    }
}

/* TT_FILTER=pattern runs only the matching tests (cmocka's test filter). */
static inline void tt_filter_from_env(void)
{
    const char *f = getenv("TT_FILTER");
    if (f && *f)
        cmocka_set_test_filter(f);
}
