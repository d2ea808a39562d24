/*
 * The rdma libOS's memory modes, budgets, timeouts and idle behaviour, over
 * libfabric's tcp provider on loopback:
 *  - every memory-registration mode a hardware provider may ask for
 *    (FI_MR_LOCAL, FI_MR_VIRT_ADDR, FI_MR_ALLOCATED, FI_MR_PROV_KEY, alone
 *    and together), forced on tcp with DEMI_RDMA_MR_MODE on both sides:
 *    messages of every path (eager, rendezvous, many segments) echo byte
 *    for byte, and no registration outlives its message;
 *  - a push larger than DEMI_RDMA_MEM_CONN fails with ENOMEM once and the
 *    connection goes on; a receiver that must register (FI_MR_LOCAL) and
 *    cannot fits fails the connection with ENOMEM;
 *  - a handshake that never finishes fails with ETIMEDOUT;
 *  - an idle server and an idle wait use under 1% of a CPU.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rdma_test_util.h"

/* The counters a test looks at, of queue qd (-1: the process). */
static uint64_t counter(int qd, const char *name)
{
    uint64_t v = 0;

    assert_int_equal(demi_getcounter(qd, name, &v), 0);
    return v;
}

/* Bytes a connection registers for itself with the default window on both
 * sides: 32 receive buffers and 34 send slots of 8 KiB. */
#define SLAB_BYTES ((32u + 34u) * 8192u)

static void run_modes(const char *modes)
{
    /* DEMI_SGA_SEGSIZE=64 KiB: sgaalloc(1 MiB) has 16 segments. */
    const char *const env[] = {"DEMI_RDMA_MR_MODE", modes, "DEMI_SGA_SEGSIZE", "65536", NULL};
    static const size_t sizes[] = {1, 8176, 8177, 100000, 1u << 20, 3u << 20, 7};
    struct rt_child ch;
    struct rt_result res;
    int one = 1, qd;

    print_message("  DEMI_RDMA_MR_MODE=%s\n", modes);
    qd = rt_session(&ch, rt_echo_server, &one, env, env);
    assert_true(qd >= 0);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            demi_sgarray_t sga = demi_sgaalloc(sizes[i]);

            assert_non_null(sga.sga_buf);
            if (sizes[i] == 1u << 20)
                assert_int_equal(sga.sga_numsegs, 16);
            assert_int_equal(rt_echo(qd, &sga, (uint32_t)(round * 100 + i)), 0);
            assert_int_equal(demi_sgafree(&sga), 0);
        }
    }
    assert_true(counter(qd, "rdma.rendezvous") >= 12);
    assert_true(counter(qd, "rdma.rendezvous_received") >= 12);
    /* 16 segments: one read-only registration each. */
    assert_true(counter(qd, "rdma.mr_regs") >= 2 + 3 * (1 + 16 + 1 + 1));
    /* Every rendezvous registration was closed: only the slabs remain. */
    assert_int_equal(counter(qd, "rdma.mem_registered"), SLAB_BYTES);
    assert_int_equal(counter(-1, "rdma.protocol_errors"), 0);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(rt_reap(&ch, 20000, &res), 0);
}

static void test_mr_modes(void **state)
{
    (void)state;
    run_modes("");
    run_modes("local");
    run_modes("virt_addr");
    run_modes("allocated");
    run_modes("prov_key");
    run_modes("local,virt_addr,allocated,prov_key");
}

/* FI_MR_ENDPOINT needs fi_mr_bind, which the tcp provider of libfabric
 * 1.17 lacks: forcing it fails the connection cleanly (ENOSYS). */
static void test_mr_endpoint_unsupported(void **state)
{
    const char *const env[] = {"DEMI_RDMA_MR_MODE", "endpoint", NULL};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(9)};
    demi_qtoken_t qt;
    int qd;

    (void)state;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rt_env(env);
    assert_int_equal(demi_init(NULL), 0);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin)), ENOSYS);
    assert_int_equal(counter(-1, "rdma.mem_registered"), 0);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
}

static void test_bad_config(void **state)
{
    const char *const modes[] = {"DEMI_RDMA_MR_MODE", "local,bogus", NULL};
    const char *const small[] = {"DEMI_RDMA_MEM_CONN", "100000", NULL};     /* under its own buffers */
    const char *const under[] = {"DEMI_RDMA_MEM_CONN", "4194304", "DEMI_RDMA_MEM_MAX", "1048576", NULL};

    (void)state;
    rt_env(modes);
    assert_int_equal(demi_init(NULL), EINVAL);
    rt_env(small);
    assert_int_equal(demi_init(NULL), EINVAL);
    rt_env(under);
    assert_int_equal(demi_init(NULL), EINVAL);
}

/* A push larger than what the connection may register fails with ENOMEM,
 * once; the connection carries on. */
static void test_push_over_budget(void **state)
{
    const char *const env[] = {"DEMI_RDMA_MEM_CONN", "2097152", NULL};
    struct rt_child ch;
    struct rt_result res;
    demi_sgarray_t big, ok;
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int one = 1, qd;

    (void)state;
    qd = rt_session(&ch, rt_echo_server, &one, NULL, env);
    assert_true(qd >= 0);
    big = demi_sgaalloc(4u << 20);
    ok = demi_sgaalloc(1u << 20);
    rt_fill(&big, 1);
    assert_int_equal(demi_push(&qt, qd, &big), 0);
    assert_int_equal(rt_wait(qt, &qr, 10000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ENOMEM);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rt_echo(qd, &ok, (uint32_t)i), 0);
    assert_true(counter(qd, "rdma.mem_registered_max") <= 2097152);
    assert_int_equal(counter(qd, "rdma.mem_registered"), SLAB_BYTES);
    demi_sgafree(&big);
    demi_sgafree(&ok);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(rt_reap(&ch, 20000, &res), 0);
}

/* Accepts one connection and pops until a pop fails: the first failure
 * must be ENOMEM. Reports its peak registered bytes in res->bytes. */
static int no_memory_receiver(int lqd, void *arg, struct rt_result *res)
{
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd, rc = 0;

    (void)arg;
    if (demi_accept(&qt, lqd) != 0 || rt_wait(qt, &qr, 10000) != 0 || qr.qr_opcode != DEMI_OPC_ACCEPT)
        return 1;
    qd = qr.qr_value.ares.qd;
    for (;;) {
        if (demi_pop(&qt, qd) != 0 || rt_wait(qt, &qr, 20000) != 0)
            return 2;
        if (qr.qr_opcode == DEMI_OPC_FAILED) {
            res->err = qr.qr_ret;
            rc = qr.qr_ret == ENOMEM ? 0 : 3;
            break;
        }
        res->msgs++;
        demi_sgafree(&qr.qr_value.sga);
    }
    demi_getcounter(-1, "rdma.mem_registered_max", &res->bytes);
    demi_close(qd);
    return rc;
}

/* A receiver that must register what it reads (FI_MR_LOCAL) and may not
 * register that much fails the connection with ENOMEM; the sender sees the
 * connection reset. Nothing is delivered of the message. */
static void test_receive_over_budget(void **state)
{
    const char *const srv_env[] = {"DEMI_RDMA_MR_MODE", "local", "DEMI_RDMA_MEM_CONN", "2097152", NULL};
    struct rt_child ch;
    struct rt_result res;
    demi_sgarray_t small, big;
    demi_qresult_t qr;
    demi_qtoken_t qt;
    int qd;

    (void)state;
    qd = rt_session(&ch, no_memory_receiver, NULL, srv_env, NULL);
    assert_true(qd >= 0);
    small = demi_sgaalloc(100);
    big = demi_sgaalloc(4u << 20);
    assert_int_equal(demi_push(&qt, qd, &small), 0);
    assert_int_equal(rt_wait(qt, &qr, 10000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(demi_push(&qt, qd, &big), 0);
    assert_int_equal(rt_wait(qt, &qr, 10000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    demi_sgafree(&small);
    demi_sgafree(&big);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(rt_reap(&ch, 20000, &res), 0);
    assert_int_equal(res.msgs, 1);
    assert_int_equal(res.err, ENOMEM);
    assert_true(res.bytes <= 2097152);
}

/* A peer that takes the TCP connection but never answers the handshake. */
static void test_connect_timeout(void **state)
{
    const char *const env[] = {"DEMI_RDMA_CONNECT_TIMEOUT_MS", "300", NULL};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    demi_qresult_t qr;
    demi_qtoken_t qt;
    uint64_t t0;
    int fd, qd;

    (void)state;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    rt_env(env);
    assert_int_equal(demi_init(NULL), 0);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    t0 = rt_now_ms();
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(rt_wait(qt, &qr, 10000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ETIMEDOUT);
    print_message("  handshake gave up after %llu ms\n", (unsigned long long)(rt_now_ms() - t0));
    assert_true(rt_now_ms() - t0 >= 300);
    assert_int_equal(counter(-1, "rdma.timeouts"), 1);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    close(fd);
}

static uint64_t cpu_ms_self(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* An idle server (a listener and one idle connection) and an idle wait use
 * under 1% of a CPU: they sleep on the provider's wait objects. */
static void test_idle_cpu(void **state)
{
    const long hz = sysconf(_SC_CLK_TCK);
    struct rt_child ch;
    struct rt_result res;
    demi_sgarray_t sga;
    demi_qresult_t qr;
    demi_qtoken_t qt;
    uint64_t t0, c0, wall, cpu;
    int one = 1, qd;

    (void)state;
    qd = rt_session(&ch, rt_echo_server, &one, NULL, NULL);
    assert_true(qd >= 0);
    sga = demi_sgaalloc(64);
    assert_int_equal(rt_echo(qd, &sga, 3), 0);

    /* The server, idle for 5 s (this process sleeps meanwhile). */
    c0 = rt_cpu_ticks(ch.pid);
    t0 = rt_now_ms();
    sleep(5);
    wall = rt_now_ms() - t0;
    cpu = (rt_cpu_ticks(ch.pid) - c0) * 1000 / (uint64_t)hz;
    print_message("  idle server: %llu ms of CPU in %llu ms (%.2f%%)\n", (unsigned long long)cpu,
                  (unsigned long long)wall, 100.0 * (double)cpu / (double)wall);
    assert_true(cpu * 100 < wall);

    /* This process in demi_wait for 3 s with a pop pending. */
    assert_int_equal(demi_pop(&qt, qd), 0);
    c0 = cpu_ms_self();
    t0 = rt_now_ms();
    assert_int_equal(rt_wait(qt, &qr, 3000), ETIMEDOUT);
    wall = rt_now_ms() - t0;
    cpu = cpu_ms_self() - c0;
    print_message("  idle demi_wait: %llu ms of CPU in %llu ms (%.2f%%)\n", (unsigned long long)cpu,
                  (unsigned long long)wall, 100.0 * (double)cpu / (double)wall);
    assert_true(wall >= 2900);
    assert_true(cpu * 100 < wall);

    /* Still alive: the pending pop gets the next echo. */
    rt_fill(&sga, 4);
    {
        demi_qtoken_t pt;
        assert_int_equal(demi_push(&pt, qd, &sga), 0);
        assert_int_equal(rt_wait(pt, &qr, 10000), 0);
    }
    assert_int_equal(rt_wait(qt, &qr, 10000), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_true(rt_check(&qr.qr_value.sga, 4));
    demi_sgafree(&qr.qr_value.sga);
    demi_sgafree(&sga);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(rt_reap(&ch, 20000, &res), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_mr_endpoint_unsupported),
        cmocka_unit_test(test_mr_modes),
        cmocka_unit_test(test_push_over_budget),
        cmocka_unit_test(test_receive_over_budget),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_idle_cpu),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("rdma_limits", tests, NULL, NULL);
}
