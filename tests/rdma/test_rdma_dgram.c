/*
 * Datagram queues of the rdma libOS (SOCK_DGRAM over FI_EP_RDM, udp;ofi_rxd
 * by default) on loopback: echo of 1 B to 65507 B with the sender's address
 * reported, EMSGSIZE above that, a connected queue that filters other
 * senders, unbound and 0.0.0.0-bound senders. The echo server is a child
 * process; the test process is the client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "rdma_test_util.h"

#define DG_MAX 65507u

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

/* Echoes every datagram back to its sender on 127.0.0.1 (the port is sent
 * to the parent) until a 1-byte datagram arrives (not echoed), or 60 s
 * pass. */
static int dgram_echo_server(int lqd, void *arg, struct rt_result *res)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd;

    (void)arg;
    (void)lqd;
    sin.sin_family = AF_INET;
    sin.sin_port = 0;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (demi_socket(&qd, AF_INET, SOCK_DGRAM, 0) != 0 || demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        demi_getsockname(qd, (struct sockaddr *)&sin, &len) != 0 || sin.sin_port == 0)
        return 1;
    rt_child_send(&sin.sin_port, sizeof(sin.sin_port));
    for (;;) {
        if (demi_pop(&qt, qd) != 0 || rt_wait(qt, &qr, 60000) != 0 || qr.qr_opcode != DEMI_OPC_POP)
            return 2;
        uint64_t n = rt_sga_len(&qr.qr_value.sga);
        if (n == 1) {
            demi_sgafree(&qr.qr_value.sga);
            break;
        }
        res->msgs++;
        res->bytes += n;
        struct sockaddr_in from = qr.qr_value.sga.sga_addr;
        if (demi_pushto(&qt, qd, &qr.qr_value.sga, (struct sockaddr *)&from, sizeof(from)) != 0)
            return 3;
        demi_sgafree(&qr.qr_value.sga);
        if (rt_wait(qt, &qr, 10000) != 0 || qr.qr_opcode != DEMI_OPC_PUSH)
            return 4;
    }
    demi_close(qd);
    return 0;
}

/* pushto size bytes (pattern seed) from qd to dst and pops one datagram
 * back: it must be the whole echo, from dst. */
static void dgram_echo_one(int qd, const struct sockaddr_in *dst, size_t size, uint32_t seed)
{
    demi_sgarray_t sga = demi_sgaalloc(size);
    demi_qresult_t qr;
    demi_qtoken_t qt;

    assert_non_null(sga.sga_buf);
    rt_fill(&sga, seed);
    assert_int_equal(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)dst, sizeof(*dst)), 0);
    assert_int_equal(rt_wait(qt, &qr, 10000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(rt_wait(qt, &qr, 10000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_int_equal(rt_sga_len(&qr.qr_value.sga), size);
    assert_int_equal(qr.qr_value.sga.sga_numsegs, 1);
    assert_true(rt_check(&qr.qr_value.sga, seed));
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_addr.s_addr, dst->sin_addr.s_addr);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_port, dst->sin_port);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

static void send_quit(int qd, const struct sockaddr_in *dst)
{
    demi_sgarray_t sga = demi_sgaalloc(1);
    demi_qresult_t qr;
    demi_qtoken_t qt;

    assert_int_equal(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)dst, sizeof(*dst)), 0);
    assert_int_equal(rt_wait(qt, &qr, 10000), 0);
    demi_sgafree(&sga);
}

static void test_dgram_echo(void **state)
{
    static const size_t sizes[] = {2, 100, 4096, 8192, 30000, DG_MAX, 64, DG_MAX};
    struct rt_child ch;
    struct rt_result res;
    struct sockaddr_in srv, any = {.sin_family = AF_INET}, me;
    socklen_t len = sizeof(me);
    demi_sgarray_t big;
    demi_qtoken_t qt;
    uint64_t v = 0;
    int qd, qd2, n = 0;

    (void)state;
    assert_int_equal(rt_spawn(&ch, dgram_echo_server, NULL, NULL), 0);
    srv = loopback(0);
    assert_int_equal(rt_wait_data(&ch, &srv.sin_port, sizeof(srv.sin_port), 10000), 0);
    rt_env(NULL);
    assert_int_equal(demi_init(NULL), 0);

    /* An unbound queue: bound on its first push. */
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, n++)
            dgram_echo_one(qd, &srv, sizes[i], (uint32_t)n);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&me, &len), 0);
    assert_int_equal(me.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_true(me.sin_port != 0);

    /* UDP's limit. */
    big = demi_sgaalloc(DG_MAX + 1);
    assert_non_null(big.sga_buf);
    assert_int_equal(demi_pushto(&qt, qd, &big, (struct sockaddr *)&srv, sizeof(srv)), EMSGSIZE);
    demi_sgafree(&big);
    /* No address and not connected. */
    big = demi_sgaalloc(10);
    assert_int_equal(demi_push(&qt, qd, &big), EDESTADDRREQ);
    demi_sgafree(&big);

    /* Bound to 0.0.0.0:0 like demi-echo's client, then connected: push
     * without an address goes to the peer. */
    assert_int_equal(demi_socket(&qd2, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_bind(qd2, (struct sockaddr *)&any, sizeof(any)), 0);
    assert_int_equal(demi_connect(&qt, qd2, (struct sockaddr *)&srv, sizeof(srv)), 0);
    {
        demi_qresult_t qr;
        assert_int_equal(rt_wait(qt, &qr, 1000), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    }
    for (int i = 0; i < 20; i++, n++) {
        demi_sgarray_t sga = demi_sgaalloc(1000 + (size_t)i);
        demi_qresult_t qr;

        rt_fill(&sga, (uint32_t)n);
        assert_int_equal(demi_push(&qt, qd2, &sga), 0);
        assert_int_equal(rt_wait(qt, &qr, 10000), 0);
        demi_sgafree(&sga);
        assert_int_equal(demi_pop(&qt, qd2), 0);
        assert_int_equal(rt_wait(qt, &qr, 10000), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_int_equal(rt_sga_len(&qr.qr_value.sga), 1000 + (size_t)i);
        assert_true(rt_check(&qr.qr_value.sga, (uint32_t)n));
        demi_sgafree(&qr.qr_value.sga);
    }
    /* The connected queue drops what another sender sends it. */
    {
        struct sockaddr_in qd2_addr;
        socklen_t l2 = sizeof(qd2_addr);
        demi_sgarray_t sga = demi_sgaalloc(77);
        demi_qresult_t qr;
        demi_qtoken_t pop;
        uint64_t dropped0 = 0, dropped1 = 0;

        assert_int_equal(demi_getsockname(qd2, (struct sockaddr *)&qd2_addr, &l2), 0);
        assert_int_equal(demi_getcounter(qd2, "rdma.dgram_dropped", &dropped0), 0);
        assert_int_equal(demi_pushto(&qt, qd, &sga, (struct sockaddr *)&qd2_addr, sizeof(qd2_addr)), 0);
        assert_int_equal(rt_wait(qt, &qr, 10000), 0);
        demi_sgafree(&sga);
        assert_int_equal(demi_pop(&pop, qd2), 0);
        for (int i = 0; i < 200 && dropped1 == dropped0; i++) {
            assert_int_equal(rt_wait(pop, &qr, 10), ETIMEDOUT);
            assert_int_equal(demi_getcounter(qd2, "rdma.dgram_dropped", &dropped1), 0);
        }
        assert_int_equal(dropped1, dropped0 + 1);
        assert_int_equal(demi_close(qd2), 0);
        assert_int_equal(rt_wait(pop, &qr, 1000), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, ECANCELED);
    }
    assert_int_equal(demi_getcounter(qd, "rdma.dgram_sent", &v), 0);
    assert_true(v >= 3 * sizeof(sizes) / sizeof(sizes[0]));
    send_quit(qd, &srv);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(rt_reap(&ch, 20000, &res), 0);
    assert_int_equal(res.msgs, (uint64_t)n);
}

/* Several datagrams in flight at once, from several queues: nothing is
 * lost (the provider is reliable) and each comes back to its sender. */
static void test_dgram_many(void **state)
{
    enum { QUEUES = 8, PER = 50 };
    int qds[QUEUES], got[QUEUES] = {0};
    struct rt_child ch;
    struct rt_result res;
    struct sockaddr_in srv;
    demi_qtoken_t qts[2 * QUEUES];
    demi_qresult_t qr;

    (void)state;
    assert_int_equal(rt_spawn(&ch, dgram_echo_server, NULL, NULL), 0);
    srv = loopback(0);
    assert_int_equal(rt_wait_data(&ch, &srv.sin_port, sizeof(srv.sin_port), 10000), 0);
    rt_env(NULL);
    assert_int_equal(demi_init(NULL), 0);
    for (int q = 0; q < QUEUES; q++)
        assert_int_equal(demi_socket(&qds[q], AF_INET, SOCK_DGRAM, 0), 0);
    for (int k = 0; k < PER; k++) {
        for (int q = 0; q < QUEUES; q++) {
            demi_sgarray_t sga = demi_sgaalloc(16 + (size_t)q * 1000 + (size_t)k);
            rt_fill(&sga, (uint32_t)(q * 1000 + k));
            assert_int_equal(demi_pushto(&qts[q], qds[q], &sga, (struct sockaddr *)&srv, sizeof(srv)), 0);
            demi_sgafree(&sga);
            assert_int_equal(demi_pop(&qts[QUEUES + q], qds[q]), 0);
        }
        for (int q = 0; q < QUEUES; q++) {
            assert_int_equal(rt_wait(qts[q], &qr, 10000), 0);
            assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
            assert_int_equal(rt_wait(qts[QUEUES + q], &qr, 10000), 0);
            assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
            assert_int_equal(rt_sga_len(&qr.qr_value.sga), 16 + (size_t)q * 1000 + (size_t)k);
            assert_true(rt_check(&qr.qr_value.sga, (uint32_t)(q * 1000 + k)));
            demi_sgafree(&qr.qr_value.sga);
            got[q]++;
        }
    }
    send_quit(qds[0], &srv);
    for (int q = 0; q < QUEUES; q++) {
        assert_int_equal(got[q], PER);
        assert_int_equal(demi_close(qds[q]), 0);
    }
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(rt_reap(&ch, 20000, &res), 0);
    assert_int_equal(res.msgs, QUEUES * PER);
}

static void test_dgram_bad_provider(void **state)
{
    static const char *const bad[] = {"DEMI_RDMA_DGRAM_PROVIDER", "no-such-provider", NULL};
    int qd;

    (void)state;
    rt_env(bad);
    assert_int_equal(demi_init(NULL), 0);      /* stream queues do not need it */
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), EPROTONOSUPPORT);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dgram_bad_provider),
        cmocka_unit_test(test_dgram_echo),
        cmocka_unit_test(test_dgram_many),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("rdma_dgram", tests, NULL, NULL);
}
