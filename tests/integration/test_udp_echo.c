/*
 * UDP echo through libdemi (DEMI_LIBOS=posix) on loopback, every byte
 * checked: one socket sending datagrams of 1 B to 65507 B (the IPv4
 * maximum), and 200 sockets at once. Lost datagrams are sent again (bounded).
 * Each runs libdemi against libdemi (two processes), against a plain-socket
 * server, and under a plain-socket client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "it_demi.h"
#include "it_plain.h"
#include "it_scenarios.h"

#define MANY_SOCKS 200

/* "64 KiB" is capped at the largest IPv4 UDP payload, 65507 bytes. */
static const struct it_plan plan_sizes = {.n_msgs = 4, .sizes = {1, 100, IT_KIB, IT_UDP_MAX}};

/* 200 sockets at once: sizes that fit in the server's receive buffer. */
static const struct it_plan plan_many = {.n_msgs = 3, .sizes = {1, 100, IT_KIB}};

static void test_demi_pair_one_sock_all_sizes(void **state)
{
    (void)state;
    it_run_demi_pair(true, 1, &plan_sizes);
}

static void test_demi_pair_200_socks(void **state)
{
    (void)state;
    it_run_demi_pair(true, MANY_SOCKS, &plan_many);
}

static void test_demi_client_plain_server_one_sock_all_sizes(void **state)
{
    (void)state;
    it_run_demi_vs_plain(true, 1, &plan_sizes);
}

static void test_demi_client_plain_server_200_socks(void **state)
{
    (void)state;
    it_run_demi_vs_plain(true, MANY_SOCKS, &plan_many);
}

static void test_plain_client_demi_server_one_sock_all_sizes(void **state)
{
    (void)state;
    it_run_plain_vs_demi(true, 1, &plan_sizes);
}

static void test_plain_client_demi_server_200_socks(void **state)
{
    (void)state;
    it_run_plain_vs_demi(true, MANY_SOCKS, &plan_many);
}

/* One byte over the IPv4 maximum is refused by the call itself, and the
 * queue still works afterwards. */
static void test_oversize_datagram_is_refused(void **state)
{
    (void)state;
    struct it_plain_server srv;
    assert_int_equal(it_plain_server_start(&srv), 0);
    assert_int_equal(demi_init(NULL), 0);
    int qd = -1;
    struct sockaddr_in local = it_loopback(0), dest = it_loopback(srv.udp_port);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&local, sizeof(local)), 0);

    demi_qtoken_t qt;
    demi_qresult_t qr;
    demi_sgarray_t big = demi_sgaalloc(IT_UDP_MAX + 1);
    assert_non_null(big.sga_buf);
    memset(big.sga_segs[0].sgaseg_buf, 0x5a, big.sga_segs[0].sgaseg_len);
    assert_int_equal(demi_pushto(&qt, qd, &big, (struct sockaddr *)&dest, sizeof(dest)), EMSGSIZE);
    assert_int_equal(demi_sgafree(&big), 0);

    demi_sgarray_t small = demi_sgaalloc(3);
    assert_non_null(small.sga_buf);
    memcpy(small.sga_segs[0].sgaseg_buf, "abc", 3);
    assert_int_equal(demi_pushto(&qt, qd, &small, (struct sockaddr *)&dest, sizeof(dest)), 0);
    assert_int_equal(demi_sgafree(&small), 0);
    assert_int_equal(it_demi_wait_ok(qt, DEMI_OPC_PUSH, 5000, &qr), 0);
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(it_demi_wait_ok(qt, DEMI_OPC_POP, 5000, &qr), 0);
    assert_int_equal(it_sga_len(&qr.qr_value.sga), 3);
    assert_memory_equal(qr.qr_value.sga.sga_segs[0].sgaseg_buf, "abc", 3);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_close(qd), 0);
    demi_fini();
    it_plain_server_stop(&srv);
}

int main(void)
{
    it_select_posix();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_demi_pair_one_sock_all_sizes, it_teardown_fini),
        cmocka_unit_test_teardown(test_demi_pair_200_socks, it_teardown_fini),
        cmocka_unit_test_teardown(test_demi_client_plain_server_one_sock_all_sizes, it_teardown_fini),
        cmocka_unit_test_teardown(test_demi_client_plain_server_200_socks, it_teardown_fini),
        cmocka_unit_test_teardown(test_plain_client_demi_server_one_sock_all_sizes, it_teardown_fini),
        cmocka_unit_test_teardown(test_plain_client_demi_server_200_socks, it_teardown_fini),
        cmocka_unit_test_teardown(test_oversize_datagram_is_refused, it_teardown_fini),
    };
    return cmocka_run_group_tests_name("integration_udp_echo", tests, NULL, NULL);
}
