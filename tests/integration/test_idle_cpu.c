/*
 * An idle wait must sleep, not spin: with the default DEMI_SPIN_US, a
 * demi_wait (and a demi_wait_next_n) that times out after 1 s with nothing
 * arriving uses less than 20% of the wall time in CPU. This is a behavioural
 * check, not a benchmark. It also checks that the timed-out operation is
 * still pending and completes when data arrives afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "it_demi.h"
#include "it_scenarios.h"

#define IDLE_NS 1000000000ull
#define MAX_CPU_SHARE 0.20

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Checks one measured idle period and prints it. */
static void check_idle(const char *what, uint64_t wall, uint64_t cpu)
{
    double share = (double)cpu / (double)wall;
    print_message("  %s: wall %.3f s, cpu %.3f s (%.1f%%)\n", what, (double)wall / 1e9, (double)cpu / 1e9,
                  share * 100.0);
    assert_true(wall >= IDLE_NS - IDLE_NS / 50);    /* it did wait (2% slack for clock granularity) */
    assert_true(wall < 5 * IDLE_NS);                /* and did not hang */
    assert_true(share < MAX_CPU_SHARE);
}

static int udp_queue(struct sockaddr_in *addr)
{
    int qd = -1;
    socklen_t len = sizeof(*addr);
    *addr = it_loopback(0);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)addr, sizeof(*addr)), 0);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)addr, &len), 0);
    return qd;
}

static void test_idle_demi_wait_sleeps(void **state)
{
    (void)state;
    unsetenv("DEMI_SPIN_US");
    assert_int_equal(demi_init(NULL), 0);
    struct sockaddr_in addr;
    int qd = udp_queue(&addr);
    demi_qtoken_t qt;
    demi_qresult_t qr;
    assert_int_equal(demi_pop(&qt, qd), 0);

    struct timespec one_s = {.tv_sec = 1};
    uint64_t w0 = it_now_ns(), c0 = cpu_now_ns();
    assert_int_equal(demi_wait(&qr, qt, &one_s), ETIMEDOUT);
    check_idle("demi_wait", it_now_ns() - w0, cpu_now_ns() - c0);

    /* The pop is still pending: a datagram sent now completes it. */
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(sendto(fd, "ping", 4, 0, (struct sockaddr *)&addr, sizeof(addr)), 4);
    assert_int_equal(it_demi_wait_ok(qt, DEMI_OPC_POP, 5000, &qr), 0);
    assert_int_equal(it_sga_len(&qr.qr_value.sga), 4);
    assert_memory_equal(qr.qr_value.sga.sga_segs[0].sgaseg_buf, "ping", 4);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_port, htons(it_sock_port(fd)));
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    close(fd);
    assert_int_equal(demi_close(qd), 0);
}

static void test_idle_wait_next_n_sleeps(void **state)
{
    (void)state;
    unsetenv("DEMI_SPIN_US");
    assert_int_equal(demi_init(NULL), 0);
    int lqd = -1;
    struct sockaddr_in addr = it_loopback(0);
    assert_int_equal(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_bind(lqd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(demi_listen(lqd, 4), 0);
    demi_qtoken_t qt;
    assert_int_equal(demi_accept(&qt, lqd), 0);

    demi_qresult_t qrs[4];
    int written = -1;
    struct timespec one_s = {.tv_sec = 1};
    uint64_t w0 = it_now_ns(), c0 = cpu_now_ns();
    assert_int_equal(demi_wait_next_n(qrs, 4, &written, &one_s), ETIMEDOUT);
    check_idle("demi_wait_next_n", it_now_ns() - w0, cpu_now_ns() - c0);
    assert_int_equal(written, 0);
    assert_int_equal(demi_close(lqd), 0);
}

int main(void)
{
    it_select_posix();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_idle_demi_wait_sleeps, it_teardown_fini),
        cmocka_unit_test_teardown(test_idle_wait_next_n_sleeps, it_teardown_fini),
    };
    return cmocka_run_group_tests_name("integration_idle_cpu", tests, NULL, NULL);
}
