/*
 * TCP echo through libdemi (DEMI_LIBOS=posix) on loopback, every byte
 * checked: one connection carrying messages of 1 B to 8 MiB (large ones come
 * back in many pops and are accumulated), 200 connections at once with
 * messages of 1 B to 64 KiB, and 200 connections each echoing 1 MiB.
 * Each runs libdemi against libdemi (two processes), against a plain-socket
 * server, and under a plain-socket client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "it_scenarios.h"

#define MANY_CONNS 200

/* One connection: every size in turn, each echoed before the next. */
static const struct it_plan plan_sizes = {
    .n_msgs = 6, .sizes = {1, 100, IT_KIB, 64 * IT_KIB, IT_MIB, 8 * IT_MIB}};

/* Each of the 200 connections: the smaller sizes. */
static const struct it_plan plan_many = {.n_msgs = 4, .sizes = {1, 100, IT_KIB, 64 * IT_KIB}};

/* 200 connections each echoing 1 MiB at once: every socket fills up, so
 * pushes complete in pieces and both sides depend on back-pressure. */
static const struct it_plan plan_many_large = {.n_msgs = 1, .sizes = {IT_MIB}};

static void test_demi_pair_one_conn_all_sizes(void **state)
{
    (void)state;
    struct it_result r = it_run_demi_pair(false, 1, &plan_sizes);
    /* 8 MiB cannot come back in one pop: the client had to accumulate. */
    assert_true(r.max_pops > 1);
}

static void test_demi_pair_200_conns(void **state)
{
    (void)state;
    it_run_demi_pair(false, MANY_CONNS, &plan_many);
}

static void test_demi_client_plain_server_one_conn_all_sizes(void **state)
{
    (void)state;
    struct it_result r = it_run_demi_vs_plain(false, 1, &plan_sizes);
    assert_true(r.max_pops > 1);
}

static void test_demi_client_plain_server_200_conns(void **state)
{
    (void)state;
    it_run_demi_vs_plain(false, MANY_CONNS, &plan_many);
}

static void test_plain_client_demi_server_one_conn_all_sizes(void **state)
{
    (void)state;
    it_run_plain_vs_demi(false, 1, &plan_sizes);
}

static void test_demi_pair_200_conns_1mib(void **state)
{
    (void)state;
    it_run_demi_pair(false, MANY_CONNS, &plan_many_large);
}

static void test_demi_client_plain_server_200_conns_1mib(void **state)
{
    (void)state;
    it_run_demi_vs_plain(false, MANY_CONNS, &plan_many_large);
}

static void test_plain_client_demi_server_200_conns_1mib(void **state)
{
    (void)state;
    it_run_plain_vs_demi(false, MANY_CONNS, &plan_many_large);
}

static void test_plain_client_demi_server_200_conns(void **state)
{
    (void)state;
    it_run_plain_vs_demi(false, MANY_CONNS, &plan_many);
}

int main(void)
{
    it_select_posix();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_demi_pair_one_conn_all_sizes, it_teardown_fini),
        cmocka_unit_test_teardown(test_demi_pair_200_conns, it_teardown_fini),
        cmocka_unit_test_teardown(test_demi_client_plain_server_one_conn_all_sizes, it_teardown_fini),
        cmocka_unit_test_teardown(test_demi_client_plain_server_200_conns, it_teardown_fini),
        cmocka_unit_test_teardown(test_plain_client_demi_server_one_conn_all_sizes, it_teardown_fini),
        cmocka_unit_test_teardown(test_plain_client_demi_server_200_conns, it_teardown_fini),
        cmocka_unit_test_teardown(test_demi_pair_200_conns_1mib, it_teardown_fini),
        cmocka_unit_test_teardown(test_demi_client_plain_server_200_conns_1mib, it_teardown_fini),
        cmocka_unit_test_teardown(test_plain_client_demi_server_200_conns_1mib, it_teardown_fini),
    };
    return cmocka_run_group_tests_name("integration_tcp_echo", tests, NULL, NULL);
}
