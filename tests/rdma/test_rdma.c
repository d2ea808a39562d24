/*
 * The rdma libOS over libfabric's tcp provider on loopback: echo of 1 B to
 * 64 MiB, a flood into a receiver with 4 buffers of 4 KiB that pops
 * slowly, 100 concurrent connections, a peer killed mid-transfer, refused
 * connections, a wrong provider, close with pending operations.
 * Each server is a child process; the test process is the client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rdma_test_util.h"

#define FLOOD_BYTES_DEFAULT (256ull << 20)

/* --- servers (child processes) --- */

static const uint32_t flood_sizes[] = {64, 3000, 4080, 4081, 65536, 1 << 20, 100, 300000};
#define N_FLOOD_SIZES (sizeof(flood_sizes) / sizeof(flood_sizes[0]))

/* Pops `*(uint64_t *)arg` bytes slowly and checks every message: message k
 * has size flood_sizes[k % N] and the pattern seeded with that size. */
static int flood_receiver(int lqd, void *arg, struct rt_result *res)
{
    uint64_t total = *(uint64_t *)arg, deadline = rt_now_ms() + 240000;
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd;

    if (demi_accept(&qt, lqd) != 0 || rt_wait(qt, &qr, 10000) != 0 || qr.qr_opcode != DEMI_OPC_ACCEPT)
        return 1;
    qd = qr.qr_value.ares.qd;
    while (res->bytes < total) {
        uint32_t want = flood_sizes[res->msgs % N_FLOOD_SIZES];

        if (rt_now_ms() > deadline)
            return 2;
        if (demi_pop(&qt, qd) != 0 || rt_wait(qt, &qr, 30000) != 0)
            return 3;
        if (qr.qr_opcode != DEMI_OPC_POP) {
            res->err = qr.qr_ret;
            return 4;
        }
        if (rt_sga_len(&qr.qr_value.sga) != want || !rt_check(&qr.qr_value.sga, want)) {
            res->err = (int64_t)rt_sga_len(&qr.qr_value.sga);
            return 5;
        }
        res->msgs++;
        res->bytes += want;
        demi_sgafree(&qr.qr_value.sga);
        if (res->msgs % 8 == 0)
            usleep(2000);   /* a slow reader */
    }
    /* The sender closes: end of stream. */
    if (demi_pop(&qt, qd) != 0 || rt_wait(qt, &qr, 10000) != 0 || qr.qr_opcode != DEMI_OPC_POP ||
        rt_sga_len(&qr.qr_value.sga) != 0)
        return 6;
    demi_sgafree(&qr.qr_value.sga);
    demi_close(qd);
    return 0;
}

/* Accepts, pops one message, signals the parent, then stops calling libdemi
 * (so its window fills) until it is killed. */
static int stalled_receiver(int lqd, void *arg, struct rt_result *res)
{
    demi_qresult_t qr;
    demi_qtoken_t qt;

    (void)arg;
    (void)res;
    if (demi_accept(&qt, lqd) != 0 || rt_wait(qt, &qr, 10000) != 0)
        return 1;
    if (demi_pop(&qt, qr.qr_value.ares.qd) != 0 || rt_wait(qt, &qr, 10000) != 0)
        return 2;
    rt_child_signal();
    sleep(60);
    return 3;
}

/* Pops until end of stream, checking that message k has size
 * sink_size(k) and the pattern seeded with k. */
static uint32_t sink_size(uint64_t k)
{
    return k % 5 == 4 ? 100000 : 1 + (uint32_t)(k * 37 % 3000);
}

static int sink_server(int lqd, void *arg, struct rt_result *res)
{
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd;

    (void)arg;
    if (demi_accept(&qt, lqd) != 0 || rt_wait(qt, &qr, 10000) != 0 || qr.qr_opcode != DEMI_OPC_ACCEPT)
        return 1;
    qd = qr.qr_value.ares.qd;
    for (;;) {
        if (demi_pop(&qt, qd) != 0 || rt_wait(qt, &qr, 20000) != 0)
            return 2;
        if (qr.qr_opcode != DEMI_OPC_POP) {
            res->err = qr.qr_ret;
            return 3;
        }
        if (rt_sga_len(&qr.qr_value.sga) == 0)
            break;
        if (rt_sga_len(&qr.qr_value.sga) != sink_size(res->msgs) || !rt_check(&qr.qr_value.sga, (uint32_t)res->msgs))
            return 4;
        res->msgs++;
        res->bytes += rt_sga_len(&qr.qr_value.sga);
        demi_sgafree(&qr.qr_value.sga);
    }
    demi_sgafree(&qr.qr_value.sga);
    demi_close(qd);
    return 0;
}

/* --- tests --- */

static const char *const flood_env[] = {"DEMI_RDMA_RECV_BUFS", "4", "DEMI_RDMA_RECV_SIZE", "4096", NULL};

/* Pushes one message of size bytes on qd and pops the echo; checks it is
 * one whole message, byte-exact. */
static void echo_one(int qd, size_t size, uint32_t seed)
{
    demi_sgarray_t sga = demi_sgaalloc(size);

    assert_non_null(sga.sga_buf);
    assert_int_equal(rt_echo(qd, &sga, seed), 0);
    assert_int_equal(demi_sgafree(&sga), 0);
}

static void test_echo_sizes(void **state)
{
    static const size_t sizes[] = {1, 4096, 8176, 8177, 65536, 1 << 20, 64u << 20, 1, 64u << 20, 3};
    struct rt_child ch;
    struct rt_result res;
    int one = 1, qd;
    uint64_t v = 0;

    (void)state;
    qd = rt_session(&ch, rt_echo_server, &one, NULL, NULL);
    assert_true(qd >= 0);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        echo_one(qd, sizes[i], (uint32_t)i + 1);
    assert_int_equal(demi_getcounter(qd, "rdma.rendezvous", &v), 0);
    assert_true(v >= 4);
    assert_int_equal(demi_getcounter(qd, "rdma.mr_regs", &v), 0);
    assert_true(v >= 4);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    int rc = rt_reap(&ch, 20000, &res);
    if (res.status)
        print_message("server failed: status %d err %lld\n", res.status, (long long)res.err);
    assert_int_equal(rc, 0);
    assert_int_equal(res.msgs, sizeof(sizes) / sizeof(sizes[0]));
}

static void test_flood_slow_receiver(void **state)
{
    uint64_t total = FLOOD_BYTES_DEFAULT, pushed = 0, msgs = 0, rss0, rss_max = 0, v = 0;
    demi_sgarray_t sgas[N_FLOOD_SIZES];
    demi_qtoken_t qts[64];
    struct rt_child ch;
    struct rt_result res;
    demi_qresult_t qr;
    int qd, n = 0, idx;
    uint64_t t0;

    (void)state;
    if (getenv("RDMA_FLOOD_BYTES"))
        total = strtoull(getenv("RDMA_FLOOD_BYTES"), NULL, 0);
    /* Round to whole cycles of sizes so the receiver knows where it ends. */
    {
        uint64_t cycle = 0, bytes = 0;
        for (size_t i = 0; i < N_FLOOD_SIZES; i++)
            cycle += flood_sizes[i];
        while (bytes + cycle <= total)
            bytes += cycle;
        total = bytes;
    }
    qd = rt_session(&ch, flood_receiver, &total, flood_env, NULL);
    assert_true(qd >= 0);
    for (size_t i = 0; i < N_FLOOD_SIZES; i++) {
        sgas[i] = demi_sgaalloc(flood_sizes[i]);
        assert_non_null(sgas[i].sga_buf);
        rt_fill(&sgas[i], flood_sizes[i]);
    }
    rss0 = rt_rss_kb();
    t0 = rt_now_ms();
    while (pushed < total || n > 0) {
        if (pushed < total && n < 64) {
            uint32_t size = flood_sizes[msgs % N_FLOOD_SIZES];
            assert_int_equal(demi_push(&qts[n], qd, &sgas[msgs % N_FLOOD_SIZES]), 0);
            n++;
            msgs++;
            pushed += size;
            continue;
        }
        struct timespec ts = {.tv_sec = 30};
        assert_int_equal(demi_wait_any(&qr, &idx, qts, n, &ts), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
        qts[idx] = qts[--n];
        if (msgs % 256 == 0 && rt_rss_kb() > rss_max)
            rss_max = rt_rss_kb();
        assert_true(rt_now_ms() - t0 < 240000);
    }
    double secs = (double)(rt_now_ms() - t0) / 1000.0;
    assert_int_equal(demi_getcounter(qd, "rdma.max_in_flight", &v), 0);
    print_message("flood: %llu messages, %llu MiB in %.2f s; sender max_in_flight %llu", (unsigned long long)msgs,
                  (unsigned long long)(total >> 20), secs, (unsigned long long)v);
    assert_true(v <= 4 && v >= 1);
    assert_int_equal(demi_getcounter(qd, "rdma.credit_stalls", &v), 0);
    print_message(", credit_stalls %llu", (unsigned long long)v);
    assert_true(v > 0);
    assert_int_equal(demi_getcounter(qd, "rdma.rendezvous", &v), 0);
    print_message(", rendezvous %llu", (unsigned long long)v);
    assert_int_equal(demi_getcounter(qd, "rdma.mr_regs", &v), 0);
    print_message(", mr_regs %llu; sender RSS %llu -> max %llu KiB\n", (unsigned long long)v,
                  (unsigned long long)rss0, (unsigned long long)rss_max);
    assert_true(rss_max < rss0 + 64 * 1024);
    for (size_t i = 0; i < N_FLOOD_SIZES; i++)
        demi_sgafree(&sgas[i]);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(rt_reap(&ch, 240000, &res), 0);
    print_message("flood: receiver got %llu messages, %llu bytes, RSS %llu -> peak %llu KiB\n",
                  (unsigned long long)res.msgs, (unsigned long long)res.bytes, (unsigned long long)res.rss0_kb,
                  (unsigned long long)res.hwm_kb);
    assert_int_equal(res.msgs, msgs);
    assert_int_equal(res.bytes, total);
    /* Its receive window (16 MiB) plus one message, and slack for the allocator. */
    assert_true(res.hwm_kb < res.rss0_kb + 64 * 1024);
}

#define N_CONNS 100

static void test_many_connections(void **state)
{
    int expected = N_CONNS, qds[N_CONNS];
    demi_qtoken_t qts[N_CONNS];
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct rt_child ch;
    struct rt_result res;
    demi_qresult_t qr;

    (void)state;
    assert_int_equal(rt_spawn(&ch, rt_echo_server, &expected, NULL), 0);
    rt_env(NULL);
    assert_int_equal(demi_init(NULL), 0);
    sin.sin_port = htons(ch.port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < N_CONNS; i++) {
        assert_int_equal(demi_socket(&qds[i], AF_INET, SOCK_STREAM, 0), 0);
        assert_int_equal(demi_connect(&qts[i], qds[i], (struct sockaddr *)&sin, sizeof(sin)), 0);
    }
    for (int i = 0; i < N_CONNS; i++) {
        assert_int_equal(rt_wait(qts[i], &qr, 20000), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    }
    /* One message on every connection at once, then the echoes. */
    for (int i = 0; i < N_CONNS; i++) {
        demi_sgarray_t sga = demi_sgaalloc(1 + (size_t)i * 331);
        rt_fill(&sga, (uint32_t)i);
        assert_int_equal(demi_push(&qts[i], qds[i], &sga), 0);
        demi_sgafree(&sga);
    }
    for (int i = 0; i < N_CONNS; i++) {
        assert_int_equal(rt_wait(qts[i], &qr, 20000), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
        assert_int_equal(demi_pop(&qts[i], qds[i]), 0);
    }
    for (int i = 0; i < N_CONNS; i++) {
        assert_int_equal(rt_wait(qts[i], &qr, 20000), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        assert_int_equal(rt_sga_len(&qr.qr_value.sga), 1 + (size_t)i * 331);
        assert_true(rt_check(&qr.qr_value.sga, (uint32_t)i));
        demi_sgafree(&qr.qr_value.sga);
    }
    for (int i = 0; i < N_CONNS; i++)
        assert_int_equal(demi_close(qds[i]), 0);
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(rt_reap(&ch, 20000, &res), 0);
    assert_int_equal(res.msgs, N_CONNS);
}

static void test_peer_killed(void **state)
{
    demi_qtoken_t qts[9], pop_qt;
    demi_sgarray_t sga;
    struct rt_child ch;
    demi_qresult_t qr;
    int qd, failed = 0, idx;
    uint64_t t0;

    (void)state;
    qd = rt_session(&ch, stalled_receiver, NULL, NULL, NULL);
    assert_true(qd >= 0);
    sga = demi_sgaalloc(8u << 20);
    assert_non_null(sga.sga_buf);
    rt_fill(&sga, 9);
    /* 8 x 8 MiB: more than the receiver's 16 MiB window, so some stay pending. */
    for (int i = 0; i < 8; i++)
        assert_int_equal(demi_push(&qts[i], qd, &sga), 0);
    assert_int_equal(demi_pop(&pop_qt, qd), 0);
    qts[8] = pop_qt;
    t0 = rt_now_ms();
    while (rt_wait_signal(&ch, 0) != 0) {
        struct timespec ts = {0, 1000000};
        (void)demi_wait(&qr, pop_qt, &ts);   /* progress while the child pops its first message */
        assert_true(rt_now_ms() - t0 < 10000);
    }
    usleep(200000);
    kill(ch.pid, SIGKILL);
    /* Every pending operation must fail with ECONNRESET (pushes that had
     * already been handed over may complete). */
    int n = 9;
    while (n > 0) {
        struct timespec ts = {.tv_sec = 10};
        assert_int_equal(demi_wait_any(&qr, &idx, qts, n, &ts), 0);
        if (qr.qr_opcode == DEMI_OPC_FAILED) {
            assert_int_equal(qr.qr_ret, ECONNRESET);
            failed++;
        }
        qts[idx] = qts[--n];
    }
    print_message("peer killed: %d of 9 operations failed with ECONNRESET after %llu ms\n", failed,
                  (unsigned long long)(rt_now_ms() - t0));
    assert_true(failed >= 2);   /* at least the pop and one push */
    /* New operations fail too. */
    assert_int_equal(demi_push(&qts[0], qd, &sga), 0);
    assert_int_equal(rt_wait(qts[0], &qr, 1000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    demi_sgafree(&sga);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    (void)rt_reap(&ch, 1000, NULL);
}

static void test_connect_refused(void **state)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int fd, qd;

    (void)state;
    /* A port nobody listens on: bind a kernel socket, note its port, close it. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    rt_env(NULL);
    assert_int_equal(demi_init(NULL), 0);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(rt_wait(qt, &qr, 10000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNREFUSED);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
}

static void test_bad_config(void **state)
{
    static const char *const bad_provider[] = {"DEMI_RDMA_PROVIDER", "no-such-provider", NULL};
    static const char *const few_bufs[] = {"DEMI_RDMA_RECV_BUFS", "2", NULL};

    (void)state;
    rt_env(bad_provider);
    assert_int_equal(demi_init(NULL), ENODEV);
    rt_env(few_bufs);
    assert_int_equal(demi_init(NULL), EINVAL);
    rt_env(NULL);
    assert_int_equal(demi_init(NULL), 0);
    assert_int_equal(demi_fini(), 0);
}

static void test_close_cancels(void **state)
{
    int one = 1, qd;
    struct rt_child ch;
    struct rt_result res;
    demi_qresult_t qr;
    demi_qtoken_t qt;

    (void)state;
    qd = rt_session(&ch, rt_echo_server, &one, NULL, NULL);
    assert_true(qd >= 0);
    echo_one(qd, 100, 5);
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(rt_wait(qt, &qr, 1000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
    assert_int_equal(demi_fini(), 0);
    /* The server saw a clean end of stream (BYE), not a reset. */
    assert_int_equal(rt_reap(&ch, 10000, &res), 0);
}

/* Pushes, then closes and exits at once: the peer still gets every
 * message, then end of stream. */
static void test_close_delivers(void **state)
{
    enum { N = 300 };
    demi_qtoken_t qts[N];
    struct rt_child ch;
    struct rt_result res;
    demi_qresult_t qr;
    int qd;

    (void)state;
    qd = rt_session(&ch, sink_server, NULL, NULL, NULL);
    assert_true(qd >= 0);
    for (int k = 0; k < N; k++) {
        demi_sgarray_t sga = demi_sgaalloc(sink_size((uint64_t)k));
        rt_fill(&sga, (uint32_t)k);
        assert_int_equal(demi_push(&qts[k], qd, &sga), 0);
        demi_sgafree(&sga);
    }
    for (int k = 0; k < N; k++) {
        assert_int_equal(rt_wait(qts[k], &qr, 20000), 0);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    }
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(rt_reap(&ch, 20000, &res), 0);
    assert_int_equal(res.msgs, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_echo_sizes),
        cmocka_unit_test(test_close_cancels),
        cmocka_unit_test(test_close_delivers),
        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_peer_killed),
        cmocka_unit_test(test_flood_slow_receiver),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("rdma", tests, NULL, NULL);
}
