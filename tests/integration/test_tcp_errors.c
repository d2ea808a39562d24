/*
 * How libdemi (DEMI_LIBOS=posix) reports the ends of a TCP connection,
 * checked against plain Linux sockets on loopback:
 *  - the peer closes: a pop completes with zero bytes (both as client and
 *    as server, after any data the peer sent);
 *  - the peer resets (SO_LINGER 0 then close): a pending pop fails with
 *    ECONNRESET (both as client and as server);
 *  - connecting to a port where nothing listens fails with ECONNREFUSED;
 *  - demi_close with a pop pending completes that pop with DEMI_OPC_FAILED.
 * On loopback the kernel finishes a handshake without accept(), so each
 * test drives both ends from one thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "it_demi.h"
#include "it_scenarios.h"

#define WAIT_MS 5000

/* A plain listening socket on 127.0.0.1:<kernel's choice>. */
static int plain_listener(uint16_t *port)
{
    struct sockaddr_in addr = it_loopback(0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 16), 0);
    *port = it_sock_port(fd);
    assert_true(*port != 0);
    return fd;
}

/* A libdemi queue connected to a plain listener; returns the queue and
 * sets *peer_fd to the plain side of the connection. */
static int demi_connected_to_plain(int *peer_fd, int *listen_fd)
{
    uint16_t port;
    *listen_fd = plain_listener(&port);
    int qd = -1;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    struct sockaddr_in srv = it_loopback(port);
    demi_qtoken_t qt;
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&srv, sizeof(srv)), 0);
    demi_qresult_t qr;
    assert_int_equal(it_demi_wait_ok(qt, DEMI_OPC_CONNECT, WAIT_MS, &qr), 0);
    assert_int_equal(qr.qr_qd, qd);
    *peer_fd = accept4(*listen_fd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(*peer_fd >= 0);
    return qd;
}

/* A libdemi listening queue and a plain client connected to it; returns the
 * accepted queue and sets *peer_fd to the plain client. */
static int plain_connected_to_demi(int *peer_fd, int *listen_qd)
{
    struct sockaddr_in addr = it_loopback(0);
    socklen_t len = sizeof(addr);
    assert_int_equal(demi_socket(listen_qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_bind(*listen_qd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(demi_listen(*listen_qd, 16), 0);
    assert_int_equal(demi_getsockname(*listen_qd, (struct sockaddr *)&addr, &len), 0);
    assert_true(addr.sin_port != 0);

    *peer_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*peer_fd >= 0);
    assert_int_equal(connect(*peer_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);

    demi_qtoken_t qt;
    demi_qresult_t qr;
    assert_int_equal(demi_accept(&qt, *listen_qd), 0);
    assert_int_equal(it_demi_wait_ok(qt, DEMI_OPC_ACCEPT, WAIT_MS, &qr), 0);
    /* The accept result names the plain client's address. */
    assert_int_equal(qr.qr_value.ares.addr.sin_port, htons(it_sock_port(*peer_fd)));
    assert_int_equal(qr.qr_value.ares.addr.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    return qr.qr_value.ares.qd;
}

static void reset_and_close(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(fd);
}

/* Pops once and expects a failure with err. */
static void expect_pop_fails(int qd, demi_qtoken_t qt, int err)
{
    demi_qresult_t qr;
    struct timespec ts = {.tv_sec = WAIT_MS / 1000};
    assert_int_equal(demi_wait(&qr, qt, &ts), 0);
    assert_int_equal(qr.qr_qd, qd);
    if (qr.qr_opcode == DEMI_OPC_POP)
        demi_sgafree(&qr.qr_value.sga);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, err);
}

/* Pops until a zero-length sga, checking that the bytes before it are want. */
static void expect_data_then_eof(int qd, const char *want)
{
    size_t want_len = strlen(want), got = 0;
    for (int i = 0; i < 100; i++) {
        demi_qtoken_t qt;
        demi_qresult_t qr;
        assert_int_equal(demi_pop(&qt, qd), 0);
        assert_int_equal(it_demi_wait_ok(qt, DEMI_OPC_POP, WAIT_MS, &qr), 0);
        size_t len = it_sga_len(&qr.qr_value.sga);
        if (len == 0) {
            demi_sgafree(&qr.qr_value.sga);
            assert_int_equal(got, want_len);
            return;
        }
        assert_true(got + len <= want_len);
        size_t off = 0;
        for (uint32_t s = 0; s < qr.qr_value.sga.sga_numsegs; s++) {
            demi_sgaseg_t *seg = &qr.qr_value.sga.sga_segs[s];
            assert_memory_equal(seg->sgaseg_buf, want + got + off, seg->sgaseg_len);
            off += seg->sgaseg_len;
        }
        got += len;
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    fail_msg("no zero-length pop after 100 pops");
}

static void test_client_peer_close_gives_zero_length_pop(void **state)
{
    (void)state;
    int lfd, pfd;
    assert_int_equal(demi_init(NULL), 0);
    int qd = demi_connected_to_plain(&pfd, &lfd);
    static const char msg[] = "bytes before the close";
    assert_int_equal(send(pfd, msg, strlen(msg), MSG_NOSIGNAL), (ssize_t)strlen(msg));
    close(pfd);
    expect_data_then_eof(qd, msg);
    assert_int_equal(demi_close(qd), 0);
    close(lfd);
}

static void test_server_peer_close_gives_zero_length_pop(void **state)
{
    (void)state;
    int lqd, pfd;
    assert_int_equal(demi_init(NULL), 0);
    int qd = plain_connected_to_demi(&pfd, &lqd);
    static const char msg[] = "a plain client says goodbye";
    assert_int_equal(send(pfd, msg, strlen(msg), MSG_NOSIGNAL), (ssize_t)strlen(msg));
    close(pfd);
    expect_data_then_eof(qd, msg);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_close(lqd), 0);
}

/* The pop is pending (it has been waited on and timed out) when the RST arrives. */
static void pending_pop_sees_reset(int qd, int pfd)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    struct timespec zero = {0, 0};
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_wait(&qr, qt, &zero), ETIMEDOUT);
    reset_and_close(pfd);
    expect_pop_fails(qd, qt, ECONNRESET);
}

static void test_client_peer_reset_fails_pending_pop(void **state)
{
    (void)state;
    int lfd, pfd;
    assert_int_equal(demi_init(NULL), 0);
    int qd = demi_connected_to_plain(&pfd, &lfd);
    pending_pop_sees_reset(qd, pfd);
    assert_int_equal(demi_close(qd), 0);
    close(lfd);
}

static void test_server_peer_reset_fails_pending_pop(void **state)
{
    (void)state;
    int lqd, pfd;
    assert_int_equal(demi_init(NULL), 0);
    int qd = plain_connected_to_demi(&pfd, &lqd);
    pending_pop_sees_reset(qd, pfd);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_close(lqd), 0);
}

static void test_connect_to_closed_port_is_refused(void **state)
{
    (void)state;
    /* A bound, non-listening socket holds the port so nobody else can
     * listen on it during the test; a SYN to it is answered with RST. */
    struct sockaddr_in addr = it_loopback(0);
    int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(hold >= 0);
    assert_int_equal(bind(hold, (struct sockaddr *)&addr, sizeof(addr)), 0);
    addr = it_loopback(it_sock_port(hold));

    assert_int_equal(demi_init(NULL), 0);
    int qd = -1;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    demi_qtoken_t qt;
    int rc = demi_connect(&qt, qd, (struct sockaddr *)&addr, sizeof(addr));
    if (rc == 0) {
        demi_qresult_t qr;
        rc = it_demi_wait_ok(qt, DEMI_OPC_CONNECT, WAIT_MS, &qr);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    }
    assert_int_equal(rc, ECONNREFUSED);
    assert_int_equal(demi_close(qd), 0);
    close(hold);
}

static void test_close_fails_pending_pop(void **state)
{
    (void)state;
    int lfd, pfd;
    assert_int_equal(demi_init(NULL), 0);
    int qd = demi_connected_to_plain(&pfd, &lfd);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_close(qd), 0);
    demi_qresult_t qr;
    struct timespec ts = {.tv_sec = WAIT_MS / 1000};
    assert_int_equal(demi_wait(&qr, qt, &ts), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
    /* The token was consumed; the queue is gone. */
    assert_int_equal(demi_wait(&qr, qt, &ts), EINVAL);
    assert_int_equal(demi_pop(&qt, qd), EBADF);
    close(pfd);
    close(lfd);
}

int main(void)
{
    it_select_posix();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_client_peer_close_gives_zero_length_pop, it_teardown_fini),
        cmocka_unit_test_teardown(test_server_peer_close_gives_zero_length_pop, it_teardown_fini),
        cmocka_unit_test_teardown(test_client_peer_reset_fails_pending_pop, it_teardown_fini),
        cmocka_unit_test_teardown(test_server_peer_reset_fails_pending_pop, it_teardown_fini),
        cmocka_unit_test_teardown(test_connect_to_closed_port_is_refused, it_teardown_fini),
        cmocka_unit_test_teardown(test_close_fails_pending_pop, it_teardown_fini),
    };
    return cmocka_run_group_tests_name("integration_tcp_errors", tests, NULL, NULL);
}
