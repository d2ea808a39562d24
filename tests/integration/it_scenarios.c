/* The echo topologies shared by the TCP and UDP echo tests (see it_scenarios.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "it_demi.h"
#include "it_plain.h"
#include "it_scenarios.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Prints a run's outcome (always: the numbers help when reading logs). */
static void report(const char *who, const struct it_result *r)
{
    print_message("  %-14s conns_ok=%u bytes=%llu max_pops=%u resends=%u%s%s\n", who, r->conns_ok,
                  (unsigned long long)r->bytes_verified, r->max_pops, r->resends, r->err != 0 ? " ERROR: " : "",
                  r->err != 0 ? r->msg : "");
}

static void check_client(const struct it_result *r, uint32_t n_conns, const struct it_plan *plan)
{
    uint64_t want = 0;
    for (uint32_t m = 0; m < plan->n_msgs; m++)
        want += plan->sizes[m];
    assert_int_equal(r->err, 0);
    assert_int_equal(r->conns_ok, n_conns);
    assert_true(r->bytes_verified == want * n_conns);
}

struct it_result it_run_demi_pair(bool udp, uint32_t n_conns, const struct it_plan *plan)
{
    uint16_t port = 0;
    int stop_wfd = -1;
    pid_t pid = it_demi_server_fork(udp, udp ? 0 : n_conns, &port, &stop_wfd);
    assert_true(pid > 0);

    struct it_result r = {0};
    int rc = demi_init(NULL);
    if (rc == 0) {
        if (udp)
            it_demi_udp_client(port, n_conns, plan, it_now_ns() + IT_SCENARIO_NS, &r);
        else
            it_demi_tcp_client(port, n_conns, plan, it_now_ns() + IT_SCENARIO_NS, &r);
        demi_fini();
    }
    close(stop_wfd);
    int status = it_reap(pid, 10000);
    report("demi client", &r);
    print_message("  demi server child exit status %d\n", status);
    assert_int_equal(rc, 0);
    check_client(&r, n_conns, plan);
    assert_int_equal(status, 0);
    return r;
}

struct it_result it_run_demi_vs_plain(bool udp, uint32_t n_conns, const struct it_plan *plan)
{
    struct it_plain_server srv;
    assert_int_equal(it_plain_server_start(&srv), 0);

    struct it_result r = {0};
    int rc = demi_init(NULL);
    if (rc == 0) {
        if (udp)
            it_demi_udp_client(srv.udp_port, n_conns, plan, it_now_ns() + IT_SCENARIO_NS, &r);
        else
            it_demi_tcp_client(srv.tcp_port, n_conns, plan, it_now_ns() + IT_SCENARIO_NS, &r);
        demi_fini();
    }
    it_plain_server_stop(&srv);
    report("demi client", &r);
    report("plain server", &srv.res);
    assert_int_equal(rc, 0);
    check_client(&r, n_conns, plan);
    assert_int_equal(srv.res.err, 0);
    return r;
}

struct it_result it_run_plain_vs_demi(bool udp, uint32_t n_conns, const struct it_plan *plan)
{
    struct it_demi_server srv;
    int done_pipe[2];
    assert_int_equal(pipe(done_pipe), 0);
    int rc = demi_init(NULL);
    if (rc != 0) {
        close(done_pipe[0]);
        close(done_pipe[1]);
        fail_msg("demi_init: %s", strerror(rc));
    }
    rc = it_demi_server_open(&srv, udp);
    if (rc != 0) {
        close(done_pipe[0]);
        close(done_pipe[1]);
        demi_fini();
        fail_msg("%s", srv.res.msg);
    }
    srv.expected_closes = udp ? 0 : n_conns;
    srv.stop_fd = done_pipe[0];

    struct it_plain_client_job job = {
        .is_udp = udp, .port = srv.port, .n_conns = n_conns, .plan = *plan,
        .deadline_ns = it_now_ns() + IT_SCENARIO_NS, .done_fd = done_pipe[1],
    };
    rc = it_plain_client_spawn(&job);
    if (rc != 0) {
        close(done_pipe[1]);
        demi_close(srv.qd);
    } else {
        it_demi_server_run(&srv);
        pthread_join(job.thread, NULL);
    }
    close(done_pipe[0]);
    demi_fini();
    assert_int_equal(rc, 0);
    report("plain client", &job.res);
    report("demi server", &srv.res);
    check_client(&job.res, n_conns, plan);
    assert_int_equal(srv.res.err, 0);
    if (!udp)
        assert_int_equal(srv.res.conns_ok, n_conns);
    return job.res;
}

int it_teardown_fini(void **state)
{
    (void)state;
    demi_fini();
    return 0;
}
