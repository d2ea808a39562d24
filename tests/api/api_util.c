/*
 * Helpers shared by the API-contract tests (see api_util.h).
 */
#include "api_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "op.h"
#include "queue.h"
#include "sga_table.h"

/* Seconds a single test may run before SIGALRM ends the process. */
#define API_WATCHDOG_S 60

static uint64_t bufs_at_start;

void api_env_reset(void)
{
    for (size_t i = 0; i < config_var_count(); i++)
        unsetenv(config_var_name(i));
    unsetenv("LIBOS");
    setenv("DEMI_LIBOS", "posix", 1);
}

int api_setup_noinit(void **state)
{
    (void)state;
    demi_fini();
    api_env_reset();
    bufs_at_start = buf_live_count();
    alarm(API_WATCHDOG_S);
    return 0;
}

int api_setup(void **state)
{
    api_setup_noinit(state);
    int rc = demi_init(NULL);
    if (rc != 0)
        fail_msg("demi_init with DEMI_LIBOS=posix returned %d", rc);
    return 0;
}

int api_teardown(void **state)
{
    (void)state;
    assert_int_equal(demi_fini(), 0);
    alarm(0);
    /* demi_fini releases everything: queues, ops, sgas, buffers */
    assert_int_equal(queue_open_count(), 0);
    assert_int_equal(op_live_count(), 0);
    assert_int_equal(sga_live_count(), 0);
    buf_cache_drain();
    assert_int_equal(buf_live_count(), bufs_at_start);
    api_env_reset();
    return 0;
}

struct timespec ts_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    return ts;
}

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

demi_qresult_t wait_done(demi_qtoken_t qt)
{
    demi_qresult_t qr;
    struct timespec ts = ts_ms(API_WAIT_MS);
    memset(&qr, 0, sizeof(qr));
    int rc = demi_wait(&qr, qt, &ts);
    if (rc != 0)
        fail_msg("demi_wait(qt=%#llx) returned %d (%s)", (unsigned long long)qt, rc, strerror(rc));
    assert_int_equal(qr.qr_qt, qt);
    return qr;
}

demi_qresult_t wait_opcode(demi_qtoken_t qt, demi_opcode_t want)
{
    demi_qresult_t qr = wait_done(qt);
    if (qr.qr_opcode != want)
        fail_msg("op completed with opcode %d (qr_ret %lld = %s), want opcode %d", qr.qr_opcode,
                 (long long)qr.qr_ret, strerror((int)qr.qr_ret), want);
    assert_int_equal(qr.qr_ret, 0);
    return qr;
}

void expect_error_sync_or_async(int rc, const demi_qtoken_t *qt, int err)
{
    if (rc == err)
        return;
    if (rc != 0)
        fail_msg("call returned %d (%s), want %d (%s) or an async failure", rc, strerror(rc), err, strerror(err));
    demi_qresult_t qr = wait_done(*qt);
    if (qr.qr_opcode != DEMI_OPC_FAILED || qr.qr_ret != err)
        fail_msg("op completed with opcode %d qr_ret %lld (%s), want DEMI_OPC_FAILED with %d (%s)", qr.qr_opcode,
                 (long long)qr.qr_ret, strerror((int)qr.qr_ret), err, strerror(err));
    if (qr.qr_opcode == DEMI_OPC_POP && qr.qr_value.sga.sga_buf)
        demi_sgafree(&qr.qr_value.sga);
}

struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

/* Binds qd to 127.0.0.1:0 and reads back the address. */
static void bind_any_port(int qd, struct sockaddr_in *addr)
{
    struct sockaddr_in sin = loopback(0);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(*addr);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)addr, &len), 0);
    assert_int_equal(len, sizeof(*addr));
    assert_int_equal(addr->sin_family, AF_INET);
    assert_int_not_equal(addr->sin_port, 0);
    assert_int_equal(addr->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
}

int udp_bound(struct sockaddr_in *addr)
{
    int qd = -1;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    assert_true(qd >= 0);
    bind_any_port(qd, addr);
    return qd;
}

int tcp_listener(struct sockaddr_in *addr)
{
    int qd = -1;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_true(qd >= 0);
    bind_any_port(qd, addr);
    assert_int_equal(demi_listen(qd, 16), 0);
    return qd;
}

int tcp_pair(int *client, int *server)
{
    struct sockaddr_in addr;
    int lqd = tcp_listener(&addr);
    demi_qtoken_t aqt, cqt;
    assert_int_equal(demi_accept(&aqt, lqd), 0);
    assert_int_equal(demi_socket(client, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&cqt, *client, (struct sockaddr *)&addr, sizeof(addr)), 0);
    demi_qresult_t qr = wait_opcode(cqt, DEMI_OPC_CONNECT);
    assert_int_equal(qr.qr_qd, *client);
    qr = wait_opcode(aqt, DEMI_OPC_ACCEPT);
    assert_int_equal(qr.qr_qd, lqd);
    *server = qr.qr_value.ares.qd;
    assert_true(*server >= 0);
    assert_int_not_equal(*server, lqd);
    assert_int_not_equal(*server, *client);
    return lqd;
}

demi_sgarray_t sga_of(const void *p, uint32_t len)
{
    demi_sgarray_t sga;
    memset(&sga, 0, sizeof(sga));
    sga.sga_numsegs = 1;
    sga.sga_segs[0].sgaseg_buf = (void *)p;
    sga.sga_segs[0].sgaseg_len = len;
    return sga;
}

void push_all(int qd, const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len > 0) {
        uint32_t chunk = len > (1u << 30) ? (1u << 30) : (uint32_t)len;
        demi_sgarray_t sga = sga_of(b, chunk);
        demi_qtoken_t qt;
        assert_int_equal(demi_push(&qt, qd, &sga), 0);
        demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_PUSH);
        assert_int_equal(qr.qr_qd, qd);
        b += chunk;
        len -= chunk;
    }
}

uint64_t sga_total(const demi_sgarray_t *sga)
{
    uint64_t t = 0;
    assert_true(sga->sga_numsegs <= DEMI_SGARRAY_MAXSIZE);
    for (uint32_t i = 0; i < sga->sga_numsegs; i++)
        t += sga->sga_segs[i].sgaseg_len;
    return t;
}

size_t sga_copy_out(const demi_sgarray_t *sga, void *out, size_t cap)
{
    size_t n = 0;
    assert_true(sga->sga_numsegs <= DEMI_SGARRAY_MAXSIZE);
    for (uint32_t i = 0; i < sga->sga_numsegs; i++) {
        size_t l = sga->sga_segs[i].sgaseg_len;
        if (l > cap - n)
            fail_msg("popped more bytes than expected");
        if (l)
            memcpy((uint8_t *)out + n, sga->sga_segs[i].sgaseg_buf, l);
        n += l;
    }
    return n;
}

void pop_exact(int qd, void *out, size_t len)
{
    size_t got = 0;
    uint64_t deadline = now_ms() + 4 * API_WAIT_MS;
    while (got < len) {
        if (now_ms() > deadline)
            fail_msg("pop_exact: %zu of %zu bytes before the deadline", got, len);
        demi_qtoken_t qt;
        assert_int_equal(demi_pop(&qt, qd), 0);
        demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_POP);
        assert_int_equal(qr.qr_qd, qd);
        size_t n = sga_copy_out(&qr.qr_value.sga, (uint8_t *)out + got, len - got);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
        if (n == 0)
            fail_msg("pop_exact: end of stream after %zu of %zu bytes", got, len);
        got += n;
    }
}
