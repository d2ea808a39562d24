/*
 * Many connections: 10,000 concurrent connections between two stacks, each
 * carrying its own bytes, all accepted, all closed through TIME_WAIT, and
 * nothing left behind (connections and buffers).
 */
#include "tcp_test_util.h"

#define NCONN 10000
#define PER_CONN 1000

static void scale_cfg(void *arg, int i, struct inet_config *cfg)
{
    (void)arg;
    (void)i;
    cfg->tcp_msl_ns = NS_PER_SEC;
    cfg->tcp_rcvbuf = 65536;
    cfg->tcp_sndbuf = 65536;
}

struct scale {
    struct harness *h;
    struct tt_ep *cl, *sv;
    struct tt_ep l;
    int accepted;
};

static int cond_all_connected(void *arg)
{
    struct scale *sc = arg;
    while (sc->accepted < NCONN &&
           tcp_accept(sc->l.c, &sc->sv[sc->accepted].c, tt_cb, &sc->sv[sc->accepted]) == 0)
        sc->accepted++;
    if (sc->accepted < NCONN)
        return 0;
    for (int i = 0; i < NCONN; i++)
        if (!sc->cl[i].connected)
            return 0;
    return 1;
}

static int cond_all_rx(void *arg)
{
    struct scale *sc = arg;
    for (int i = 0; i < NCONN; i++)
        if (sc->sv[i].rx_len < PER_CONN)
            return 0;
    return 1;
}

static int cond_no_conns(void *arg)
{
    struct scale *sc = arg;
    return harness_counter(sc->h, 0, "tcp.conns") == 0 && harness_counter(sc->h, 1, "tcp.conns") == 1;
}

static void test_10000_connections(void **state)
{
    struct scale sc;
    struct buf *pat = tt_pattern(2048);

    (void)state;
    memset(&sc, 0, sizeof(sc));
    sc.h = harness_new(2, 51, scale_cfg, NULL);
    sc.cl = calloc(NCONN, sizeof(*sc.cl));
    sc.sv = calloc(NCONN, sizeof(*sc.sv));
    assert_non_null(sc.cl);
    assert_non_null(sc.sv);
    tt_static_arp(sc.h, 2);
    tt_listen(sc.h, 1, &sc.l, NCONN);
    for (int i = 0; i < NCONN; i++)
        tt_connect(sc.h, 0, 1, &sc.cl[i]);
    assert_int_equal(harness_run_until(sc.h, cond_all_connected, &sc, 30ull * NS_PER_SEC), 0);
    assert_int_equal(harness_counter(sc.h, 1, "tcp.passive_opens"), NCONN);
    assert_int_equal(harness_counter(sc.h, 0, "tcp.active_opens"), NCONN);
    assert_int_equal(harness_counter(sc.h, 0, "tcp.conns"), NCONN);
    assert_int_equal(harness_counter(sc.h, 1, "tcp.conns"), NCONN + 1);
    /* distinct 4-tuples: every client port differs */
    {
        uint8_t *seen = calloc(65536, 1);
        for (int i = 0; i < NCONN; i++) {
            uint16_t lport;
            tcp_getname(sc.cl[i].c, NULL, &lport, NULL, NULL);
            assert_int_equal(seen[ntohs(lport)], 0);
            seen[ntohs(lport)] = 1;
        }
        free(seen);
    }
    /* each connection carries its own stream: offset i in the pattern */
    for (int i = 0; i < NCONN; i++)
        assert_int_equal(tcp_send(sc.cl[i].c, pat, (size_t)(i % 1000), PER_CONN), PER_CONN);
    assert_int_equal(harness_run_until(sc.h, cond_all_rx, &sc, 30ull * NS_PER_SEC), 0);
    for (int i = 0; i < NCONN; i++) {
        assert_int_equal(sc.sv[i].rx_len, PER_CONN);
        /* the server's i-th accept is not necessarily client i: check by the client port */
    }
    {
        size_t bad = 0;
        for (int i = 0; i < NCONN; i++) {
            uint16_t rport;
            tcp_getname(sc.sv[i].c, NULL, NULL, NULL, &rport);
            for (int j = 0; j < NCONN; j++) {
                uint16_t lport;
                tcp_getname(sc.cl[j].c, NULL, &lport, NULL, NULL);
                if (lport == rport) {
                    if (memcmp(sc.sv[i].rx, pat->data + j % 1000, PER_CONN) != 0)
                        bad++;
                    break;
                }
            }
            if (i > 200)
                break;  /* a sample: the lookup is quadratic */
        }
        assert_int_equal(bad, 0);
    }
    assert_int_equal(harness_counter(sc.h, 0, "tcp.retransmits"), 0);
    /* close everything: clients first, then servers */
    for (int i = 0; i < NCONN; i++)
        tcp_close(sc.cl[i].c);
    harness_run_for(sc.h, NS_PER_SEC / 10);
    for (int i = 0; i < NCONN; i++) {
        assert_int_equal(sc.sv[i].eof, 1);
        tcp_close(sc.sv[i].c);
    }
    assert_int_equal(harness_run_until(sc.h, cond_no_conns, &sc, 10ull * NS_PER_SEC), 0);
    tcp_close(sc.l.c);
    buf_unref(pat);
    harness_free(sc.h);
    for (int i = 0; i < NCONN; i++) {
        tt_ep_free(&sc.cl[i]);
        tt_ep_free(&sc.sv[i]);
    }
    free(sc.cl);
    free(sc.sv);
    tt_ep_free(&sc.l);
    harness_assert_no_leaks();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_10000_connections),
    };
    tt_filter_from_env();
    return cmocka_run_group_tests_name("tcp_scale", tests, NULL, NULL);
}
