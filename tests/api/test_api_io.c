/*
 * API contract of the data calls: demi_push, demi_pushto, demi_pop. Bad
 * arguments of every kind, data integrity over UDP and TCP on loopback,
 * end of stream, and demi_close with pending pops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_util.h"

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* ---- argument checks shared by push and pushto ---- */

/* Every kind of bad sga, on push (dest NULL) or pushto. */
static void check_bad_sgas(int qd, const struct sockaddr_in *dest)
{
    char data[8] = "payload";
    demi_qtoken_t qt;
    demi_sgarray_t sga;
#define PUSH(s)                                                                                                        \
    (dest ? demi_pushto(&qt, qd, (s), (const struct sockaddr *)dest, sizeof(*dest)) : demi_push(&qt, qd, (s)))

    assert_int_equal(PUSH(NULL), EINVAL);
    /* empty */
    memset(&sga, 0, sizeof(sga));
    assert_int_equal(PUSH(&sga), EINVAL);
    /* too many segments */
    sga = sga_of(data, 1);
    for (int i = 0; i < DEMI_SGARRAY_MAXSIZE; i++)
        sga.sga_segs[i] = sga.sga_segs[0];
    sga.sga_numsegs = DEMI_SGARRAY_MAXSIZE + 1;
    assert_int_equal(PUSH(&sga), EINVAL);
    sga.sga_numsegs = UINT32_MAX;
    assert_int_equal(PUSH(&sga), EINVAL);
    /* a NULL segment with a length */
    sga = sga_of(NULL, 5);
    assert_int_equal(PUSH(&sga), EINVAL);
    sga = sga_of(data, 3);
    sga.sga_numsegs = 2;
    sga.sga_segs[1].sgaseg_buf = NULL;
    sga.sga_segs[1].sgaseg_len = 4;
    assert_int_equal(PUSH(&sga), EINVAL);
    /* zero bytes in all */
    sga = sga_of(data, 0);
    assert_int_equal(PUSH(&sga), EINVAL);
    /* NULL qt_out */
    sga = sga_of(data, 3);
    if (dest)
        assert_int_equal(demi_pushto(NULL, qd, &sga, (const struct sockaddr *)dest, sizeof(*dest)), EINVAL);
    else
        assert_int_equal(demi_push(NULL, qd, &sga), EINVAL);
#undef PUSH
}

static void test_push_bad_args_tcp(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    check_bad_sgas(c, NULL);
    /* nothing was sent by the refused calls: the next pop gets only this */
    push_all(c, "ok", 2);
    char got[2];
    pop_exact(s, got, 2);
    assert_memory_equal(got, "ok", 2);
}

static void test_pushto_bad_args_udp(void **state)
{
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    check_bad_sgas(qa, &b);
    char data[4] = "abc";
    demi_sgarray_t sga = sga_of(data, 3);
    demi_qtoken_t qt;
    /* bad destinations */
    assert_int_equal(demi_pushto(&qt, qa, &sga, NULL, sizeof(b)), EINVAL);
    assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, 0), EINVAL);
    assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b) - 1), EINVAL);
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    int rc = demi_pushto(&qt, qa, &sga, (struct sockaddr *)&s6, sizeof(s6));
    if (rc != EINVAL && rc != EAFNOSUPPORT)
        fail_msg("pushto AF_INET6 destination returned %d, want EINVAL or EAFNOSUPPORT", rc);
    /* nothing arrived from the refused calls */
    demi_qtoken_t pqt;
    assert_int_equal(demi_pop(&pqt, qb), 0);
    demi_qresult_t qr;
    struct timespec t = ts_ms(100);
    assert_int_equal(demi_wait(&qr, pqt, &t), ETIMEDOUT);
    assert_int_equal(demi_close(qb), 0);
    qr = wait_done(pqt);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
}

static void test_pop_bad_args(void **state)
{
    struct sockaddr_in a;
    int qd = udp_bound(&a);
    assert_int_equal(demi_pop(NULL, qd), EINVAL);
}

/* ---- UDP ---- */

static void test_udp_roundtrip(void **state)
{
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    demi_qtoken_t pop_qt, push_qt;
    assert_int_equal(demi_pop(&pop_qt, qb), 0);
    char msg[] = "hello over udp";
    demi_sgarray_t sga = sga_of(msg, sizeof(msg));
    assert_int_equal(demi_pushto(&push_qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
    demi_qresult_t qr = wait_opcode(push_qt, DEMI_OPC_PUSH);
    assert_int_equal(qr.qr_qd, qa);
    qr = wait_opcode(pop_qt, DEMI_OPC_POP);
    assert_int_equal(qr.qr_qd, qb);
    char got[64];
    assert_int_equal(sga_copy_out(&qr.qr_value.sga, got, sizeof(got)), sizeof(msg));
    assert_memory_equal(got, msg, sizeof(msg));
    /* the sender's address comes with the datagram */
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_family, AF_INET);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_port, a.sin_port);
    assert_int_equal(qr.qr_value.sga.sga_addr.sin_addr.s_addr, a.sin_addr.s_addr);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

/* Several segments go out as one datagram, in order. */
static void test_udp_multisegment_one_datagram(void **state)
{
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    char s1[] = "first-", s2[] = "second-", s3[] = "third";
    demi_sgarray_t sga;
    memset(&sga, 0, sizeof(sga));
    sga.sga_numsegs = 3;
    sga.sga_segs[0] = (demi_sgaseg_t){s1, 6};
    sga.sga_segs[1] = (demi_sgaseg_t){s2, 7};
    sga.sga_segs[2] = (demi_sgaseg_t){s3, 5};
    demi_qtoken_t qt;
    assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
    wait_opcode(qt, DEMI_OPC_PUSH);
    /* and a second datagram, to check the boundary */
    demi_sgarray_t one = sga_of("Z", 1);
    assert_int_equal(demi_pushto(&qt, qa, &one, (struct sockaddr *)&b, sizeof(b)), 0);
    wait_opcode(qt, DEMI_OPC_PUSH);

    assert_int_equal(demi_pop(&qt, qb), 0);
    demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_POP);
    char got[64];
    assert_int_equal(sga_copy_out(&qr.qr_value.sga, got, sizeof(got)), 18);
    assert_memory_equal(got, "first-second-third", 18);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_int_equal(demi_pop(&qt, qb), 0);
    qr = wait_opcode(qt, DEMI_OPC_POP);
    assert_int_equal(sga_copy_out(&qr.qr_value.sga, got, sizeof(got)), 1);
    assert_int_equal(got[0], 'Z');
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

static void test_udp_large_datagram(void **state)
{
    enum { N = 60000 };
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    uint8_t *out = malloc(N), *in = malloc(N);
    assert_non_null(out);
    assert_non_null(in);
    fill(out, N, 7);
    demi_sgarray_t sga = demi_sgaalloc(N);
    assert_non_null(sga.sga_buf);
    size_t off = 0;
    for (uint32_t i = 0; i < sga.sga_numsegs; i++) {
        memcpy(sga.sga_segs[i].sgaseg_buf, out + off, sga.sga_segs[i].sgaseg_len);
        off += sga.sga_segs[i].sgaseg_len;
    }
    demi_qtoken_t qt;
    assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
    assert_int_equal(demi_sgafree(&sga), 0);
    wait_opcode(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_pop(&qt, qb), 0);
    demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_POP);
    assert_int_equal(sga_copy_out(&qr.qr_value.sga, in, N), N);
    assert_memory_equal(in, out, N);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    free(out);
    free(in);
}

/* push on a UDP queue with no peer: refused by the call with EDESTADDRREQ. */
static void test_udp_push_without_peer(void **state)
{
    struct sockaddr_in a;
    int qa = udp_bound(&a);
    char msg[] = "x";
    demi_sgarray_t sga = sga_of(msg, 1);
    demi_qtoken_t qt = 0;
    assert_int_equal(demi_push(&qt, qa, &sga), EDESTADDRREQ);
}

/* More than 65507 bytes in one datagram: EMSGSIZE from the call. */
static void test_udp_too_big(void **state)
{
    enum { N = 65508 };
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    uint8_t *big = calloc(1, N);
    assert_non_null(big);
    demi_sgarray_t sga = sga_of(big, N);
    demi_qtoken_t qt;
    assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), EMSGSIZE);
    /* split over segments, the same */
    sga.sga_numsegs = 2;
    sga.sga_segs[0].sgaseg_len = 60000;
    sga.sga_segs[1].sgaseg_buf = big + 60000;
    sga.sga_segs[1].sgaseg_len = N - 60000;
    assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), EMSGSIZE);
    /* on a connected UDP queue with push */
    assert_int_equal(demi_connect(&qt, qa, (struct sockaddr *)&b, sizeof(b)), 0);
    wait_opcode(qt, DEMI_OPC_CONNECT);
    assert_int_equal(demi_push(&qt, qa, &sga), EMSGSIZE);
    /* 65507 is fine */
    sga.sga_segs[1].sgaseg_len = N - 1 - 60000;
    assert_int_equal(demi_push(&qt, qa, &sga), 0);
    wait_opcode(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_pop(&qt, qb), 0);
    demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_POP);
    assert_int_equal(sga_total(&qr.qr_value.sga), N - 1);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    free(big);
}

/* Many datagrams queued before any pop: none lost, order kept (loopback). */
static void test_udp_many_then_pop(void **state)
{
    enum { N = 64 };
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    for (int i = 0; i < N; i++) {
        uint32_t v = htonl((uint32_t)i);
        demi_sgarray_t sga = sga_of(&v, sizeof(v));
        demi_qtoken_t qt;
        assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
        wait_opcode(qt, DEMI_OPC_PUSH);
    }
    for (int i = 0; i < N; i++) {
        demi_qtoken_t qt;
        assert_int_equal(demi_pop(&qt, qb), 0);
        demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_POP);
        uint32_t v;
        assert_int_equal(sga_copy_out(&qr.qr_value.sga, &v, sizeof(v)), sizeof(v));
        assert_int_equal(ntohl(v), (uint32_t)i);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
}

/* ---- TCP ---- */

static void test_tcp_roundtrip_both_ways(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    push_all(c, "ping", 4);
    char got[8];
    pop_exact(s, got, 4);
    assert_memory_equal(got, "ping", 4);
    push_all(s, "pong!", 5);
    pop_exact(c, got, 5);
    assert_memory_equal(got, "pong!", 5);
}

static void test_tcp_large_transfer(void **state)
{
    enum { N = 8 << 20 };
    int c, s;
    tcp_pair(&c, &s);
    uint8_t *out = malloc(N), *in = malloc(N);
    assert_non_null(out);
    assert_non_null(in);
    fill(out, N, 99);
    /* one push of 8 MiB, and pops run while it is pending */
    demi_sgarray_t sga = sga_of(out, N);
    demi_qtoken_t push_qt;
    assert_int_equal(demi_push(&push_qt, c, &sga), 0);
    pop_exact(s, in, N);
    wait_opcode(push_qt, DEMI_OPC_PUSH);
    assert_memory_equal(in, out, N);
    free(out);
    free(in);
}

/* The application may change or free its memory right after push returns. */
static void test_push_memory_reusable_at_once(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    char *msg = malloc(16);
    assert_non_null(msg);
    memcpy(msg, "0123456789abcdef", 16);
    demi_sgarray_t sga = sga_of(msg, 16);
    demi_qtoken_t qt;
    assert_int_equal(demi_push(&qt, c, &sga), 0);
    memset(msg, 'X', 16);
    free(msg);
    wait_opcode(qt, DEMI_OPC_PUSH);
    char got[16];
    pop_exact(s, got, 16);
    assert_memory_equal(got, "0123456789abcdef", 16);

    /* same for an sga from demi_sgaalloc, freed right after the push */
    demi_sgarray_t own = demi_sgaalloc(16);
    assert_non_null(own.sga_buf);
    memcpy(own.sga_segs[0].sgaseg_buf, "fedcba9876543210", 16);
    assert_int_equal(demi_push(&qt, c, &own), 0);
    assert_int_equal(demi_sgafree(&own), 0);
    wait_opcode(qt, DEMI_OPC_PUSH);
    pop_exact(s, got, 16);
    assert_memory_equal(got, "fedcba9876543210", 16);
}

/* pushto on a connected TCP queue: the address is ignored, like sendto (Linux). */
static void test_tcp_pushto_ignores_address(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    struct sockaddr_in elsewhere = loopback(9);
    demi_sgarray_t sga = sga_of("via-pushto", 10);
    demi_qtoken_t qt;
    assert_int_equal(demi_pushto(&qt, c, &sga, (struct sockaddr *)&elsewhere, sizeof(elsewhere)), 0);
    wait_opcode(qt, DEMI_OPC_PUSH);
    char got[10];
    pop_exact(s, got, 10);
    assert_memory_equal(got, "via-pushto", 10);
}

/* Pushes complete in order and the bytes arrive in push order. */
static void test_tcp_many_pushes_in_order(void **state)
{
    enum { N = 200 };
    int c, s;
    tcp_pair(&c, &s);
    demi_qtoken_t qt[N];
    uint32_t vals[N];
    for (int i = 0; i < N; i++) {
        vals[i] = htonl((uint32_t)i);
        demi_sgarray_t sga = sga_of(&vals[i], 4);
        assert_int_equal(demi_push(&qt[i], c, &sga), 0);
    }
    for (int i = 0; i < N; i++)
        wait_opcode(qt[i], DEMI_OPC_PUSH);
    uint32_t got[N];
    pop_exact(s, got, sizeof(got));
    for (int i = 0; i < N; i++)
        assert_int_equal(ntohl(got[i]), (uint32_t)i);
}

/* A popped sga can be pushed back as is (echo). */
static void test_echo_popped_sga(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    push_all(c, "echo me", 7);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, s), 0);
    demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_POP);
    uint64_t n = sga_total(&qr.qr_value.sga);
    assert_true(n > 0 && n <= 7);
    assert_int_equal(demi_push(&qt, s, &qr.qr_value.sga), 0);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    wait_opcode(qt, DEMI_OPC_PUSH);
    char got[7];
    pop_exact(c, got, n);
    assert_memory_equal(got, "echo me", n);
}

/* A peer close shows as a zero-length pop, and again on the next pop. */
static void test_tcp_eof(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    push_all(c, "last", 4);
    assert_int_equal(demi_close(c), 0);
    char got[4];
    pop_exact(s, got, 4);
    for (int i = 0; i < 2; i++) {
        demi_qtoken_t qt;
        assert_int_equal(demi_pop(&qt, s), 0);
        demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_POP);
        assert_int_equal(sga_total(&qr.qr_value.sga), 0);
        /* even an empty popped sga is the application's to free */
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
}

/* Pushing to a peer that has gone: an error, never SIGPIPE. */
static void test_tcp_push_after_peer_close(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(demi_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    assert_int_equal(demi_close(s), 0);   /* RST */
    static char chunk[64 * 1024];
    int failed = 0;
    for (int i = 0; i < 50 && !failed; i++) {
        demi_sgarray_t sga = sga_of(chunk, sizeof(chunk));
        demi_qtoken_t qt;
        int rc = demi_push(&qt, c, &sga);
        if (rc != 0) {
            assert_true(rc == EPIPE || rc == ECONNRESET);
            failed = 1;
            break;
        }
        demi_qresult_t qr = wait_done(qt);
        if (qr.qr_opcode == DEMI_OPC_FAILED) {
            assert_true(qr.qr_ret == EPIPE || qr.qr_ret == ECONNRESET);
            failed = 1;
        }
    }
    assert_true(failed);
}

/* Push or pop on a TCP queue that is neither connected nor connecting: ENOTCONN from the call. */
static void test_tcp_push_pop_unconnected(void **state)
{
    int t;
    assert_int_equal(demi_socket(&t, AF_INET, SOCK_STREAM, 0), 0);
    char msg[] = "x";
    demi_sgarray_t sga = sga_of(msg, 1);
    demi_qtoken_t qt = 0;
    assert_int_equal(demi_push(&qt, t, &sga), ENOTCONN);
    assert_int_equal(demi_pop(&qt, t), ENOTCONN);
}

/* Popping or pushing on a listening queue: ENOTCONN from the call. */
static void test_pop_on_listener(void **state)
{
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    demi_qtoken_t qt = 0;
    assert_int_equal(demi_pop(&qt, l), ENOTCONN);
    demi_sgarray_t sga = sga_of("x", 1);
    assert_int_equal(demi_push(&qt, l, &sga), ENOTCONN);
}

/* After the peer resets the connection every pop fails with ECONNRESET. */
static void test_tcp_pop_after_reset(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(demi_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    assert_int_equal(demi_close(s), 0);   /* RST */
    for (int i = 0; i < 2; i++) {
        demi_qtoken_t qt = 0;
        assert_int_equal(demi_pop(&qt, c), 0);
        demi_qresult_t qr = wait_done(qt);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, ECONNRESET);
    }
}

/* demi_close with pending pops: they fail with ECANCELED, nothing hangs. */
static void test_close_pending_pops(void **state)
{
    struct sockaddr_in a;
    int u = udp_bound(&a);
    int c, s;
    tcp_pair(&c, &s);
    demi_qtoken_t uq[3], tq[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(demi_pop(&uq[i], u), 0);
        assert_int_equal(demi_pop(&tq[i], s), 0);
    }
    demi_qresult_t qr;
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait(&qr, uq[0], &zero), ETIMEDOUT);
    assert_int_equal(demi_wait(&qr, tq[0], &zero), ETIMEDOUT);
    assert_int_equal(demi_close(u), 0);
    assert_int_equal(demi_close(s), 0);
    for (int i = 0; i < 3; i++) {
        qr = wait_done(uq[i]);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, ECANCELED);
        assert_int_equal(qr.qr_qd, u);
        qr = wait_done(tq[i]);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, ECANCELED);
        assert_int_equal(qr.qr_qd, s);
    }
    /* the peer sees the close */
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, c), 0);
    qr = wait_opcode(qt, DEMI_OPC_POP);
    assert_int_equal(sga_total(&qr.qr_value.sga), 0);
    assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

/* Pops complete in the order they were started. */
static void test_pops_complete_in_order(void **state)
{
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    demi_qtoken_t pq[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(demi_pop(&pq[i], qb), 0);
    for (int i = 0; i < 3; i++) {
        char m = (char)('a' + i);
        demi_sgarray_t sga = sga_of(&m, 1);
        demi_qtoken_t qt;
        assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
        wait_opcode(qt, DEMI_OPC_PUSH);
    }
    for (int i = 0; i < 3; i++) {
        demi_qresult_t qr = wait_opcode(pq[i], DEMI_OPC_POP);
        char m;
        assert_int_equal(sga_copy_out(&qr.qr_value.sga, &m, 1), 1);
        assert_int_equal(m, 'a' + i);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        API_TEST(test_push_bad_args_tcp),
        API_TEST(test_pushto_bad_args_udp),
        API_TEST(test_pop_bad_args),
        API_TEST(test_udp_roundtrip),
        API_TEST(test_udp_multisegment_one_datagram),
        API_TEST(test_udp_large_datagram),
        API_TEST(test_udp_push_without_peer),
        API_TEST(test_udp_too_big),
        API_TEST(test_udp_many_then_pop),
        API_TEST(test_tcp_roundtrip_both_ways),
        API_TEST(test_tcp_large_transfer),
        API_TEST(test_push_memory_reusable_at_once),
        API_TEST(test_tcp_many_pushes_in_order),
        API_TEST(test_tcp_pushto_ignores_address),
        API_TEST(test_echo_popped_sga),
        API_TEST(test_tcp_eof),
        API_TEST(test_tcp_push_after_peer_close),
        API_TEST(test_tcp_push_pop_unconnected),
        API_TEST(test_tcp_pop_after_reset),
        API_TEST(test_pop_on_listener),
        API_TEST(test_close_pending_pops),
        API_TEST(test_pops_complete_in_order),
    };
    return cmocka_run_group_tests_name("api_io", tests, NULL, NULL);
}
