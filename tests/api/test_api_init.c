/*
 * API contract: demi_init / demi_fini, the libOS choice (DEMI_LIBOS, LIBOS,
 * Demikernel aliases, ENOTSUP for a libOS left out of the build), bad
 * configuration, limits from the configuration, and EPERM from every call
 * before demi_init.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_util.h"
#include "libos_ops.h"

static void test_eperm_before_init(void **state)
{
    struct sockaddr_in sin = loopback(9);
    struct sockaddr_in out;
    socklen_t len = sizeof(out);
    demi_qtoken_t qt = 0, qts[1] = {0};
    demi_qresult_t qr;
    char data[4] = "abc";
    demi_sgarray_t sga = sga_of(data, 3);
    int qd = -1, one = 1, off;
    socklen_t olen = sizeof(one);
    struct timespec zero = ts_ms(0);
    demi_counter_t c[2];
    size_t n;
    uint64_t v;

    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), EPERM);
    assert_int_equal(demi_bind(0, (struct sockaddr *)&sin, sizeof(sin)), EPERM);
    assert_int_equal(demi_listen(0, 8), EPERM);
    assert_int_equal(demi_accept(&qt, 0), EPERM);
    assert_int_equal(demi_connect(&qt, 0, (struct sockaddr *)&sin, sizeof(sin)), EPERM);
    assert_int_equal(demi_close(0), EPERM);
    assert_int_equal(demi_push(&qt, 0, &sga), EPERM);
    assert_int_equal(demi_pushto(&qt, 0, &sga, (struct sockaddr *)&sin, sizeof(sin)), EPERM);
    assert_int_equal(demi_pop(&qt, 0), EPERM);
    assert_int_equal(demi_setsockopt(0, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), EPERM);
    assert_int_equal(demi_getsockopt(0, SOL_SOCKET, SO_REUSEADDR, &one, &olen), EPERM);
    assert_int_equal(demi_getsockname(0, (struct sockaddr *)&out, &len), EPERM);
    assert_int_equal(demi_getpeername(0, (struct sockaddr *)&out, &len), EPERM);
    assert_int_equal(demi_create_pipe(&qd, "demi-test-pipe"), EPERM);
    assert_int_equal(demi_open_pipe(&qd, "demi-test-pipe"), EPERM);
    assert_int_equal(demi_wait(&qr, 1, &zero), EPERM);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 1, &zero), EPERM);
    assert_int_equal(demi_wait_next_n(&qr, 1, &off, &zero), EPERM);
    assert_int_equal(demi_getcounters(-1, c, 2, &n), EPERM);
    assert_int_equal(demi_getcounter(-1, "core.ops_started", &v), EPERM);
    assert_int_equal(qd, -1);   /* nothing written */

    errno = 0;
    demi_sgarray_t s = demi_sgaalloc(100);
    assert_null(s.sga_buf);
    assert_int_equal(s.sga_numsegs, 0);
    assert_int_equal(errno, EPERM);

    demi_sgarray_t none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(demi_sgafree(&none), EINVAL);   /* docs/api/demi_sgafree.md: EINVAL only */
    assert_int_equal(demi_sgafree(NULL), EINVAL);

    /* demi_fini before demi_init is fine */
    assert_int_equal(demi_fini(), 0);
    assert_int_equal(demi_fini(), 0);
}

static void test_init_twice(void **state)
{
    assert_int_equal(demi_init(NULL), 0);
    assert_int_equal(demi_init(NULL), EEXIST);
    /* still usable after the refused second init */
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_close(qd), 0);
}

static void test_init_fini_cycles(void **state)
{
    for (int i = 0; i < 5; i++) {
        assert_int_equal(demi_init(NULL), 0);
        struct sockaddr_in a;
        int qd = udp_bound(&a);
        demi_qtoken_t qt;
        assert_int_equal(demi_pop(&qt, qd), 0);   /* left pending on purpose */
        demi_sgarray_t s = demi_sgaalloc(4096);   /* left allocated on purpose */
        assert_non_null(s.sga_buf);
        assert_int_equal(demi_fini(), 0);
        /* after fini every call is EPERM again */
        assert_int_equal(demi_close(qd), EPERM);
        int q2;
        assert_int_equal(demi_socket(&q2, AF_INET, SOCK_DGRAM, 0), EPERM);
        /* and after a new init, the old qd is not open */
        assert_int_equal(demi_init(NULL), 0);
        assert_int_equal(demi_close(qd), EBADF);
        assert_int_equal(demi_fini(), 0);
    }
    assert_int_equal(demi_init(NULL), 0);
}

static void test_init_args(void **state)
{
    char *argv[] = {"prog", "--flag", NULL};
    struct demi_args args = {.argc = 2, .argv = argv, .callback = NULL};
    assert_int_equal(demi_init(&args), 0);
    assert_int_equal(demi_fini(), 0);
    struct demi_args bad = {.argc = -1, .argv = NULL};
    assert_int_equal(demi_init(&bad), EINVAL);
    struct demi_args empty = {0};
    assert_int_equal(demi_init(&empty), 0);
}

static void test_default_libos_is_posix(void **state)
{
    unsetenv("DEMI_LIBOS");
    assert_int_equal(demi_init(NULL), 0);
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
}

static void test_unknown_libos(void **state)
{
    static const char *bad[] = {"nosuchlibos", "posixx", "catnapp", " "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("DEMI_LIBOS", bad[i], 1);
        int rc = demi_init(NULL);
        if (rc != EINVAL)
            fail_msg("DEMI_LIBOS=\"%s\": demi_init returned %d, want EINVAL", bad[i], rc);
        /* a failed init leaves libdemi uninitialized */
        int qd;
        assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), EPERM);
    }
    setenv("DEMI_LIBOS", "posix", 1);
    assert_int_equal(demi_init(NULL), 0);
}

static void test_demikernel_alias(void **state)
{
    setenv("DEMI_LIBOS", "catnap", 1);
    assert_int_equal(demi_init(NULL), 0);
    assert_int_equal(demi_fini(), 0);
    /* Demikernel's LIBOS variable when DEMI_LIBOS is unset */
    unsetenv("DEMI_LIBOS");
    setenv("LIBOS", "catnap", 1);
    assert_int_equal(demi_init(NULL), 0);
    assert_int_equal(demi_fini(), 0);
    setenv("LIBOS", "nosuchlibos", 1);
    assert_int_equal(demi_init(NULL), EINVAL);
    /* DEMI_LIBOS wins over LIBOS */
    setenv("DEMI_LIBOS", "posix", 1);
    assert_int_equal(demi_init(NULL), 0);
}

/* A libOS this build left out: ENOTSUP. Skipped when the build has them all. */
static void test_libos_left_out(void **state)
{
    static const char *names[] = {"afpacket", "xdp", "dpdk", "rdma", "shm"};
    int tried = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct libos_entry *e = libos_find(names[i]);
        assert_non_null(e);   /* every documented name is known */
        if (e->ops)
            continue;
        assert_non_null(e->missing);
        setenv("DEMI_LIBOS", names[i], 1);
        int rc = demi_init(NULL);
        if (rc != ENOTSUP)
            fail_msg("DEMI_LIBOS=%s (not in this build): demi_init returned %d, want ENOTSUP", names[i], rc);
        int qd;
        assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), EPERM);
        tried++;
    }
    setenv("DEMI_LIBOS", "posix", 1);
    if (tried == 0)
        skip();
}

static void test_bad_configuration(void **state)
{
    static const struct {
        const char *name, *value;
    } bad[] = {
        {"DEMI_SPIN_US", "abc"},
        {"DEMI_SGA_SEGSIZE", "lots"},
        {"DEMI_SGA_MAX", "12x"},
        {"DEMI_MAX_QUEUES", "0"},
        {"DEMI_MAX_QUEUES", "-5"},
        {"DEMI_MAX_OPS", "0"},
        {"DEMI_SGA_SEGSIZE", "0"},
        {"DEMI_SGA_MAX", "-1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        api_env_reset();
        setenv(bad[i].name, bad[i].value, 1);
        int rc = demi_init(NULL);
        if (rc != EINVAL)
            fail_msg("%s=%s: demi_init returned %d, want EINVAL", bad[i].name, bad[i].value, rc);
        int qd;
        assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), EPERM);
    }
    api_env_reset();
    assert_int_equal(demi_init(NULL), 0);
}

static void test_config_file(void **state)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/demi-api-config-%d-XXXXXX", (int)getpid());
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "DEMI_MAX_QUEUES=3\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    setenv("DEMI_CONFIG", path, 1);
    assert_int_equal(demi_init(NULL), 0);
    /* the file's limit is in force */
    int qd[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(demi_socket(&qd[i], AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_socket(&qd[3], AF_INET, SOCK_DGRAM, 0), EMFILE);
    assert_int_equal(demi_fini(), 0);

    /* a malformed file: EINVAL */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    text = "this is not a config line\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(demi_init(NULL), EINVAL);
    unlink(path);

    /* a missing file: fopen's errno, and not initialized */
    assert_int_equal(demi_init(NULL), ENOENT);
    int q;
    assert_int_equal(demi_socket(&q, AF_INET, SOCK_DGRAM, 0), EPERM);
    unsetenv("DEMI_CONFIG");
    assert_int_equal(demi_init(NULL), 0);
}

static void test_max_queues_emfile(void **state)
{
    setenv("DEMI_MAX_QUEUES", "4", 1);
    assert_int_equal(demi_init(NULL), 0);
    int qd[5];
    for (int i = 0; i < 4; i++)
        assert_int_equal(demi_socket(&qd[i], AF_INET, i % 2 ? SOCK_STREAM : SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_socket(&qd[4], AF_INET, SOCK_DGRAM, 0), EMFILE);
    assert_int_equal(demi_close(qd[1]), 0);
    assert_int_equal(demi_socket(&qd[4], AF_INET, SOCK_DGRAM, 0), 0);
}

/* An accept with no qd left for the new connection fails with EMFILE. */
static void test_max_queues_accept_emfile(void **state)
{
    setenv("DEMI_MAX_QUEUES", "2", 1);
    assert_int_equal(demi_init(NULL), 0);
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    int c;
    assert_int_equal(demi_socket(&c, AF_INET, SOCK_STREAM, 0), 0);
    demi_qtoken_t aqt, cqt;
    assert_int_equal(demi_accept(&aqt, l), 0);
    assert_int_equal(demi_connect(&cqt, c, (struct sockaddr *)&a, sizeof(a)), 0);
    wait_opcode(cqt, DEMI_OPC_CONNECT);
    demi_qresult_t qr = wait_done(aqt);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, EMFILE);
}

static void test_max_ops_eagain(void **state)
{
    setenv("DEMI_MAX_OPS", "4", 1);
    assert_int_equal(demi_init(NULL), 0);
    struct sockaddr_in a;
    int qd = udp_bound(&a);
    demi_qtoken_t qt[5];
    for (int i = 0; i < 4; i++)
        assert_int_equal(demi_pop(&qt[i], qd), 0);
    assert_int_equal(demi_pop(&qt[4], qd), EAGAIN);
    /* the refused call lost nothing: the others still complete */
    char msg[] = "x";
    demi_sgarray_t sga = sga_of(msg, 1);
    demi_qtoken_t pqt;
    assert_int_equal(demi_pushto(&pqt, qd, &sga, (struct sockaddr *)&a, sizeof(a)), EAGAIN);
    assert_int_equal(demi_close(qd), 0);
    for (int i = 0; i < 4; i++) {
        demi_qresult_t qr = wait_done(qt[i]);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, ECANCELED);
    }
}

/* Tokens and sgas from before demi_fini are not valid after a new demi_init. */
static void test_stale_handles_across_fini(void **state)
{
    assert_int_equal(demi_init(NULL), 0);
    struct sockaddr_in a;
    int qd = udp_bound(&a);
    demi_qtoken_t old;
    assert_int_equal(demi_pop(&old, qd), 0);
    demi_sgarray_t old_sga = demi_sgaalloc(64);
    assert_non_null(old_sga.sga_buf);
    assert_int_equal(demi_fini(), 0);

    assert_int_equal(demi_init(NULL), 0);
    qd = udp_bound(&a);
    demi_qtoken_t fresh;
    assert_int_equal(demi_pop(&fresh, qd), 0);
    demi_sgarray_t fresh_sga = demi_sgaalloc(64);
    assert_non_null(fresh_sga.sga_buf);
    demi_qresult_t qr;
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait(&qr, old, &zero), EINVAL);
    assert_int_equal(demi_sgafree(&old_sga), EINVAL);
    /* the fresh ones are untouched */
    assert_int_equal(demi_wait(&qr, fresh, &zero), ETIMEDOUT);
    assert_int_equal(demi_sgafree(&fresh_sga), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        API_TEST_NOINIT(test_eperm_before_init),
        API_TEST_NOINIT(test_init_twice),
        API_TEST_NOINIT(test_init_fini_cycles),
        API_TEST_NOINIT(test_init_args),
        API_TEST_NOINIT(test_default_libos_is_posix),
        API_TEST_NOINIT(test_unknown_libos),
        API_TEST_NOINIT(test_demikernel_alias),
        API_TEST_NOINIT(test_libos_left_out),
        API_TEST_NOINIT(test_bad_configuration),
        API_TEST_NOINIT(test_config_file),
        API_TEST_NOINIT(test_max_queues_emfile),
        API_TEST_NOINIT(test_max_queues_accept_emfile),
        API_TEST_NOINIT(test_max_ops_eagain),
        API_TEST_NOINIT(test_stale_handles_across_fini),
    };
    return cmocka_run_group_tests_name("api_init", tests, NULL, NULL);
}
