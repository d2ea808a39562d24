/*
 * API contract of the control calls: demi_socket, demi_bind, demi_listen,
 * demi_accept, demi_connect, demi_close, demi_getsockname, demi_getpeername,
 * demi_setsockopt, demi_getsockopt, demi_create_pipe, demi_open_pipe.
 * Where the headers say nothing, the expected behaviour is Linux's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api_util.h"

/* An AF_INET6 address, for bad-family checks. */
static struct sockaddr_in6 v6_any(void)
{
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_addr = in6addr_loopback;
    return s6;
}

/* An address of the wrong family: EAFNOSUPPORT (docs/api/demi_bind.md, demi_connect.md, as Linux). */
static void assert_bad_family(int rc)
{
    if (rc != EAFNOSUPPORT)
        fail_msg("bad address family: returned %d (%s), want EAFNOSUPPORT", rc, strerror(rc));
}

/* A loopback port nobody listens on: bound by a kernel socket, then released. */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = loopback(0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(sin);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* ---- demi_socket ---- */

static void test_socket_valid(void **state)
{
    int a = -1, b = -1, c = -1, d = -1;
    assert_int_equal(demi_socket(&a, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_socket(&b, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_socket(&c, AF_INET, SOCK_STREAM, IPPROTO_TCP), 0);
    assert_int_equal(demi_socket(&d, AF_INET, SOCK_DGRAM, IPPROTO_UDP), 0);
    assert_true(a >= 0 && b >= 0 && c >= 0 && d >= 0);
    assert_true(a != b && a != c && a != d && b != c && b != d && c != d);
    assert_int_equal(demi_close(a), 0);
    assert_int_equal(demi_close(b), 0);
    assert_int_equal(demi_close(c), 0);
    assert_int_equal(demi_close(d), 0);
}

static void test_socket_null_out(void **state)
{
    assert_int_equal(demi_socket(NULL, AF_INET, SOCK_STREAM, 0), EINVAL);
    assert_int_equal(demi_socket(NULL, AF_INET, SOCK_DGRAM, 0), EINVAL);
}

static void test_socket_bad_domain(void **state)
{
    static const int domains[] = {AF_INET6, AF_UNIX, AF_PACKET, AF_UNSPEC, -1, 12345};
    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
        int qd = -7;
        int rc = demi_socket(&qd, domains[i], SOCK_STREAM, 0);
        if (rc != EAFNOSUPPORT)
            fail_msg("demi_socket(domain %d) returned %d, want EAFNOSUPPORT", domains[i], rc);
        assert_int_equal(qd, -7);
    }
}

static void test_socket_bad_type(void **state)
{
    static const int types[] = {SOCK_RAW, SOCK_SEQPACKET, SOCK_RDM, 0, -1, 999};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        int qd = -7;
        int rc = demi_socket(&qd, AF_INET, types[i], 0);
        /* docs/api/demi_socket.md (include/demi/libos.h still says EPROTONOSUPPORT / ENOTSUP) */
        if (rc != ESOCKTNOSUPPORT)
            fail_msg("demi_socket(type %d) returned %d (%s), want ESOCKTNOSUPPORT", types[i], rc, strerror(rc));
        assert_int_equal(qd, -7);
    }
}

static void test_socket_bad_protocol(void **state)
{
    int qd = -7;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 9999), EPROTONOSUPPORT);
    assert_int_equal(qd, -7);
}

/* ---- demi_bind ---- */

static void test_bind_valid_and_getsockname(void **state)
{
    struct sockaddr_in a;
    int qd = udp_bound(&a);
    /* getsockname with a bigger buffer: the size says what was written */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_memory_equal(&ss, &a, sizeof(a));
    assert_int_equal(demi_close(qd), 0);
}

static void test_bind_bad_args(void **state)
{
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    struct sockaddr_in sin = loopback(0);
    assert_int_equal(demi_bind(qd, NULL, sizeof(sin)), EINVAL);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, 0), EINVAL);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin) - 1), EINVAL);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, 2), EINVAL);
    struct sockaddr_in6 s6 = v6_any();
    assert_bad_family(demi_bind(qd, (struct sockaddr *)&s6, sizeof(s6)));
    struct sockaddr_in un = sin;
    un.sin_family = AF_UNIX;
    assert_bad_family(demi_bind(qd, (struct sockaddr *)&un, sizeof(un)));
    /* nothing was bound by the refused calls */
    struct sockaddr_in got;
    socklen_t len = sizeof(got);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&got, &len), 0);
    assert_int_equal(got.sin_port, 0);
    /* and a good bind still works */
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin)), 0);
}

static void test_bind_twice_and_in_use(void **state)
{
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    /* binding a bound queue again: EINVAL (Linux) */
    struct sockaddr_in any = loopback(0);
    assert_int_equal(demi_bind(l, (struct sockaddr *)&any, sizeof(any)), EINVAL);
    /* the port of a listener is taken */
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&a, sizeof(a)), EADDRINUSE);
    /* an address that is not local */
    struct sockaddr_in far = loopback(0);
    far.sin_addr.s_addr = inet_addr("192.0.2.1");
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&far, sizeof(far)), EADDRNOTAVAIL);
}

/* ---- demi_listen ---- */

static void test_listen_udp(void **state)
{
    struct sockaddr_in a;
    int qd = udp_bound(&a);
    assert_int_equal(demi_listen(qd, 8), EOPNOTSUPP);
}

/* listen on a connected queue, or a connecting one: EINVAL; a listener cannot connect: EINVAL */
static void test_listen_connect_state_errors(void **state)
{
    int c, s;
    int l = tcp_pair(&c, &s);
    assert_int_equal(demi_listen(c, 4), EINVAL);
    assert_int_equal(demi_listen(s, 4), EINVAL);
    struct sockaddr_in la;
    socklen_t len = sizeof(la);
    assert_int_equal(demi_getsockname(l, (struct sockaddr *)&la, &len), 0);
    demi_qtoken_t qt;
    assert_int_equal(demi_connect(&qt, l, (struct sockaddr *)&la, sizeof(la)), EINVAL);
}

static void test_listen_backlogs(void **state)
{
    /* any backlog is accepted, like Linux (clamped) */
    static const int backlogs[] = {0, 1, 128, 100000, -1};
    for (size_t i = 0; i < sizeof(backlogs) / sizeof(backlogs[0]); i++) {
        int qd;
        assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
        struct sockaddr_in sin = loopback(0);
        assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        assert_int_equal(demi_listen(qd, backlogs[i]), 0);
        assert_int_equal(demi_close(qd), 0);
    }
}

/* ---- demi_accept ---- */

static void test_accept_bad_args(void **state)
{
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    assert_int_equal(demi_accept(NULL, l), EINVAL);
    int u = udp_bound(&a);
    demi_qtoken_t qt;
    assert_int_equal(demi_accept(&qt, u), EOPNOTSUPP);
}

static void test_accept_not_listening(void **state)
{
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    struct sockaddr_in sin = loopback(0);
    assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    /* refused by the call: the request is invalid in the queue's state */
    demi_qtoken_t qt = 0;
    assert_int_equal(demi_accept(&qt, qd), EINVAL);
    int c, s;
    tcp_pair(&c, &s);
    assert_int_equal(demi_accept(&qt, c), EINVAL);
}

static void test_accept_connect_roundtrip(void **state)
{
    int c, s;
    int l = tcp_pair(&c, &s);
    /* names line up on both ends */
    struct sockaddr_in c_local, c_peer, s_local, s_peer, l_local;
    socklen_t len = sizeof(c_local);
    assert_int_equal(demi_getsockname(c, (struct sockaddr *)&c_local, &len), 0);
    len = sizeof(c_peer);
    assert_int_equal(demi_getpeername(c, (struct sockaddr *)&c_peer, &len), 0);
    len = sizeof(s_local);
    assert_int_equal(demi_getsockname(s, (struct sockaddr *)&s_local, &len), 0);
    len = sizeof(s_peer);
    assert_int_equal(demi_getpeername(s, (struct sockaddr *)&s_peer, &len), 0);
    len = sizeof(l_local);
    assert_int_equal(demi_getsockname(l, (struct sockaddr *)&l_local, &len), 0);
    assert_int_equal(c_peer.sin_port, l_local.sin_port);
    assert_int_equal(c_peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    assert_int_equal(s_peer.sin_port, c_local.sin_port);
    assert_int_equal(s_local.sin_port, l_local.sin_port);
    /* a listener has no peer */
    len = sizeof(s_peer);
    assert_int_equal(demi_getpeername(l, (struct sockaddr *)&s_peer, &len), ENOTCONN);
}

static void test_accept_result_addr(void **state)
{
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    demi_qtoken_t aqt, cqt;
    assert_int_equal(demi_accept(&aqt, l), 0);
    int c;
    assert_int_equal(demi_socket(&c, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_connect(&cqt, c, (struct sockaddr *)&a, sizeof(a)), 0);
    demi_qresult_t ar = wait_opcode(aqt, DEMI_OPC_ACCEPT);
    wait_opcode(cqt, DEMI_OPC_CONNECT);
    struct sockaddr_in cl;
    socklen_t len = sizeof(cl);
    assert_int_equal(demi_getsockname(c, (struct sockaddr *)&cl, &len), 0);
    assert_int_equal(ar.qr_value.ares.addr.sin_family, AF_INET);
    assert_int_equal(ar.qr_value.ares.addr.sin_port, cl.sin_port);
    assert_int_equal(ar.qr_value.ares.addr.sin_addr.s_addr, cl.sin_addr.s_addr);
}

static void test_accept_many(void **state)
{
    enum { N = 8 };
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    demi_qtoken_t aqt[N], cqt[N];
    int c[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(demi_accept(&aqt[i], l), 0);
        assert_int_equal(demi_socket(&c[i], AF_INET, SOCK_STREAM, 0), 0);
        assert_int_equal(demi_connect(&cqt[i], c[i], (struct sockaddr *)&a, sizeof(a)), 0);
    }
    int accepted[N];
    for (int i = 0; i < N; i++) {
        wait_opcode(cqt[i], DEMI_OPC_CONNECT);
        demi_qresult_t qr = wait_opcode(aqt[i], DEMI_OPC_ACCEPT);
        accepted[i] = qr.qr_value.ares.qd;
        for (int j = 0; j < i; j++)
            assert_int_not_equal(accepted[i], accepted[j]);
    }
}

/* ---- demi_connect ---- */

static void test_connect_bad_args(void **state)
{
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    struct sockaddr_in sin = loopback(free_port());
    demi_qtoken_t qt;
    assert_int_equal(demi_connect(NULL, qd, (struct sockaddr *)&sin, sizeof(sin)), EINVAL);
    assert_int_equal(demi_connect(&qt, qd, NULL, sizeof(sin)), EINVAL);
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&sin, 0), EINVAL);
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin) - 1), EINVAL);
    struct sockaddr_in6 s6 = v6_any();
    assert_bad_family(demi_connect(&qt, qd, (struct sockaddr *)&s6, sizeof(s6)));
}

static void test_connect_refused(void **state)
{
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    struct sockaddr_in sin = loopback(free_port());
    /* a failure to reach the peer completes the operation (docs/api/demi_connect.md) */
    demi_qtoken_t qt = 0;
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    demi_qresult_t qr = wait_done(qt);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNREFUSED);
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    assert_int_equal(demi_getpeername(qd, (struct sockaddr *)&peer, &len), ENOTCONN);
}

/* Connecting a connected queue again: EISCONN (Linux). */
static void test_connect_twice(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    assert_int_equal(demi_getpeername(c, (struct sockaddr *)&peer, &len), 0);
    demi_qtoken_t qt = 0;
    assert_int_equal(demi_connect(&qt, c, (struct sockaddr *)&peer, sizeof(peer)), EISCONN);
    assert_int_equal(demi_connect(&qt, s, (struct sockaddr *)&peer, sizeof(peer)), EISCONN);
    /* the connection is unharmed */
    push_all(c, "still", 5);
    char got[5];
    pop_exact(s, got, 5);
    assert_memory_equal(got, "still", 5);
}

/* connect on a UDP queue sets its peer (Linux): push then needs no address. */
static void test_connect_udp_sets_peer(void **state)
{
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    assert_int_equal(demi_connect(&qt, qa, (struct sockaddr *)&b, sizeof(b)), 0);
    wait_opcode(qt, DEMI_OPC_CONNECT);
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    assert_int_equal(demi_getpeername(qa, (struct sockaddr *)&peer, &len), 0);
    assert_int_equal(peer.sin_port, b.sin_port);
    push_all(qa, "to-peer", 7);
    char got[7];
    pop_exact(qb, got, 7);
    assert_memory_equal(got, "to-peer", 7);
}

/* A kernel listener whose accept queue is full: a SYN to it is dropped, so
 * a connect to it stays pending. Returns the listener fd; fds[0..1] are
 * the kernel clients that filled it. */
static int full_listener(struct sockaddr_in *addr, int fds[2])
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l >= 0);
    *addr = loopback(0);
    assert_int_equal(bind(l, (struct sockaddr *)addr, sizeof(*addr)), 0);
    assert_int_equal(listen(l, 0), 0);
    socklen_t len = sizeof(*addr);
    assert_int_equal(getsockname(l, (struct sockaddr *)addr, &len), 0);
    for (int i = 0; i < 2; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fds[i] >= 0);
        int rc = connect(fds[i], (struct sockaddr *)addr, sizeof(*addr));
        assert_true(rc == 0 || errno == EINPROGRESS);
        if (i == 0) {
            struct pollfd p = {.fd = fds[i], .events = POLLOUT};
            assert_int_equal(poll(&p, 1, 2000), 1);
        }
    }
    return l;
}

static void test_close_pending_connect(void **state)
{
    struct sockaddr_in a;
    int fds[2];
    int l = full_listener(&a, fds);
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    demi_qtoken_t qt;
    assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&a, sizeof(a)), 0);
    demi_qresult_t qr;
    struct timespec t = ts_ms(200);
    assert_int_equal(demi_wait(&qr, qt, &t), ETIMEDOUT);
    /* while it is in progress: a second connect is EALREADY, listen is EINVAL */
    demi_qtoken_t qt2;
    assert_int_equal(demi_connect(&qt2, qd, (struct sockaddr *)&a, sizeof(a)), EALREADY);
    assert_int_equal(demi_listen(qd, 4), EINVAL);
    assert_int_equal(demi_close(qd), 0);
    qr = wait_done(qt);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
    assert_int_equal(qr.qr_qd, qd);
    close(fds[0]);
    close(fds[1]);
    close(l);
}

static void test_close_pending_accept(void **state)
{
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    demi_qtoken_t qt[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(demi_accept(&qt[i], l), 0);
    demi_qresult_t qr;
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait(&qr, qt[0], &zero), ETIMEDOUT);
    assert_int_equal(demi_close(l), 0);
    for (int i = 0; i < 3; i++) {
        qr = wait_done(qt[i]);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
        assert_int_equal(qr.qr_ret, ECANCELED);
        assert_int_equal(qr.qr_qd, l);
    }
    /* the port is free again */
    int l2;
    assert_int_equal(demi_socket(&l2, AF_INET, SOCK_STREAM, 0), 0);
    int one = 1;
    assert_int_equal(demi_setsockopt(l2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    assert_int_equal(demi_bind(l2, (struct sockaddr *)&a, sizeof(a)), 0);
}

/* ---- demi_close ---- */

static void test_close_bad(void **state)
{
    assert_int_equal(demi_close(-1), EBADF);
    assert_int_equal(demi_close(-42), EBADF);
    assert_int_equal(demi_close(99999), EBADF);
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_close(qd), EBADF);
}

static void test_close_connected_both_ends(void **state)
{
    int c, s;
    int l = tcp_pair(&c, &s);
    assert_int_equal(demi_close(c), 0);
    assert_int_equal(demi_close(s), 0);
    assert_int_equal(demi_close(l), 0);
    assert_int_equal(demi_close(c), EBADF);
}

/* ---- names ---- */

static void test_names_bad_args(void **state)
{
    struct sockaddr_in a;
    int qd = udp_bound(&a);
    struct sockaddr_in out;
    socklen_t len = sizeof(out);
    assert_int_equal(demi_getsockname(qd, NULL, &len), EINVAL);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&out, NULL), EINVAL);
    assert_int_equal(demi_getpeername(qd, NULL, &len), EINVAL);
    assert_int_equal(demi_getpeername(qd, (struct sockaddr *)&out, NULL), EINVAL);
}

/* A short buffer: filled only up to *addrlen, and *addrlen set to the full
 * size (getsockname(2)'s convention). Never written past *addrlen. */
static void test_names_short_buffer(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    struct sockaddr_in local, peer;
    socklen_t len = sizeof(local);
    assert_int_equal(demi_getsockname(c, (struct sockaddr *)&local, &len), 0);
    len = sizeof(peer);
    assert_int_equal(demi_getpeername(c, (struct sockaddr *)&peer, &len), 0);
    for (int which = 0; which < 2; which++) {
        uint8_t buf[32];
        memset(buf, 0xa5, sizeof(buf));
        len = 4;
        if (which == 0)
            assert_int_equal(demi_getsockname(c, (struct sockaddr *)buf, &len), 0);
        else
            assert_int_equal(demi_getpeername(c, (struct sockaddr *)buf, &len), 0);
        assert_int_equal(len, sizeof(struct sockaddr_in));
        assert_memory_equal(buf, which == 0 ? (void *)&local : (void *)&peer, 4);
        for (size_t i = 4; i < sizeof(buf); i++)
            assert_int_equal(buf[i], 0xa5);
        /* zero room: nothing written, full size reported */
        memset(buf, 0xa5, sizeof(buf));
        len = 0;
        assert_int_equal(demi_getsockname(c, (struct sockaddr *)buf, &len), 0);
        assert_int_equal(len, sizeof(struct sockaddr_in));
        assert_int_equal(buf[0], 0xa5);
    }
}

static void test_getpeername_unconnected(void **state)
{
    int t;
    assert_int_equal(demi_socket(&t, AF_INET, SOCK_STREAM, 0), 0);
    struct sockaddr_in out;
    socklen_t len = sizeof(out);
    assert_int_equal(demi_getpeername(t, (struct sockaddr *)&out, &len), ENOTCONN);
    struct sockaddr_in a;
    int u = udp_bound(&a);
    len = sizeof(out);
    assert_int_equal(demi_getpeername(u, (struct sockaddr *)&out, &len), ENOTCONN);
}

/* ---- socket options ---- */

static void test_sockopt_nodelay_roundtrip(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    for (int round = 0; round < 2; round++) {
        int want = round == 0 ? 1 : 0;
        assert_int_equal(demi_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &want, sizeof(want)), 0);
        int got = -1;
        socklen_t len = sizeof(got);
        assert_int_equal(demi_getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &got, &len), 0);
        assert_int_equal(len, sizeof(int));
        assert_int_equal(got != 0, want);
    }
}

static void test_sockopt_reuseaddr_roundtrip(void **state)
{
    int t, u;
    assert_int_equal(demi_socket(&t, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(demi_socket(&u, AF_INET, SOCK_DGRAM, 0), 0);
    int qds[2] = {t, u};
    for (int i = 0; i < 2; i++) {
        for (int want = 1; want >= 0; want--) {
            assert_int_equal(demi_setsockopt(qds[i], SOL_SOCKET, SO_REUSEADDR, &want, sizeof(want)), 0);
            int got = -1;
            socklen_t len = sizeof(got);
            assert_int_equal(demi_getsockopt(qds[i], SOL_SOCKET, SO_REUSEADDR, &got, &len), 0);
            assert_int_equal(got != 0, want);
        }
    }
}

static void test_sockopt_others(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    int v = 1;
    assert_int_equal(demi_setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)), 0);
    int got = 0;
    socklen_t len = sizeof(got);
    assert_int_equal(demi_getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &got, &len), 0);
    assert_int_not_equal(got, 0);
    /* SO_ERROR reads 0 on a healthy connection */
    got = -1;
    len = sizeof(got);
    assert_int_equal(demi_getsockopt(c, SOL_SOCKET, SO_ERROR, &got, &len), 0);
    assert_int_equal(got, 0);
    /* buffer sizes */
    v = 256 * 1024;
    assert_int_equal(demi_setsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), 0);
    assert_int_equal(demi_setsockopt(c, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)), 0);
    got = 0;
    len = sizeof(got);
    assert_int_equal(demi_getsockopt(c, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
    assert_true(got > 0);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(demi_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    struct linger lg2;
    len = sizeof(lg2);
    assert_int_equal(demi_getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &len), 0);
    assert_int_equal(lg2.l_onoff != 0, 1);
}

static void test_sockopt_unknown(void **state)
{
    int t;
    assert_int_equal(demi_socket(&t, AF_INET, SOCK_STREAM, 0), 0);
    int v = 1;
    socklen_t len = sizeof(v);
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, 12345, &v, sizeof(v)), ENOPROTOOPT);
    assert_int_equal(demi_getsockopt(t, SOL_SOCKET, 12345, &v, &len), ENOPROTOOPT);
    assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, 12345, &v, sizeof(v)), ENOPROTOOPT);
    assert_int_equal(demi_setsockopt(t, 9999, 1, &v, sizeof(v)), ENOPROTOOPT);
    len = sizeof(v);
    assert_int_equal(demi_getsockopt(t, 9999, 1, &v, &len), ENOPROTOOPT);
}

static void test_sockopt_tcp_option_on_udp(void **state)
{
    /* docs/api/demi_setsockopt.md, demi_getsockopt.md: EOPNOTSUPP */
    struct sockaddr_in a;
    int u = udp_bound(&a);
    int v = 1;
    socklen_t len = sizeof(v);
    assert_int_equal(demi_setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)), EOPNOTSUPP);
    assert_int_equal(demi_getsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v, &len), EOPNOTSUPP);
}

static void test_sockopt_bad_args(void **state)
{
    int t;
    assert_int_equal(demi_socket(&t, AF_INET, SOCK_STREAM, 0), 0);
    int v = 1;
    socklen_t len = sizeof(v);
    assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, TCP_NODELAY, NULL, sizeof(v)), EINVAL);
    assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, 0), EINVAL);
    assert_int_equal(demi_setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, 2), EINVAL);
    assert_int_equal(demi_getsockopt(t, IPPROTO_TCP, TCP_NODELAY, NULL, &len), EINVAL);
    assert_int_equal(demi_getsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, NULL), EINVAL);
    /* read-only options cannot be set */
    int err = 0;
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_ERROR, &err, sizeof(err)), ENOPROTOOPT);
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_TYPE, &err, sizeof(err)), ENOPROTOOPT);
    /* getsockopt with no room */
    len = 0;
    assert_int_equal(demi_getsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, &len), EINVAL);
    /* options the libOS keeps to itself */
    struct timeval tv = {1, 0};
    assert_int_equal(demi_setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), ENOPROTOOPT);
}

/* ---- pipes (shm libOS only) ---- */

static void test_pipes_not_on_posix(void **state)
{
    int qd = -7;
    assert_int_equal(demi_create_pipe(&qd, "demi-api-test"), ENOTSUP);
    assert_int_equal(demi_open_pipe(&qd, "demi-api-test"), ENOTSUP);
    assert_int_equal(qd, -7);
    assert_int_equal(demi_create_pipe(NULL, "demi-api-test"), EINVAL);
    assert_int_equal(demi_create_pipe(&qd, NULL), EINVAL);
    assert_int_equal(demi_create_pipe(&qd, ""), EINVAL);
    assert_int_equal(demi_open_pipe(NULL, "demi-api-test"), EINVAL);
    assert_int_equal(demi_open_pipe(&qd, NULL), EINVAL);
    assert_int_equal(demi_open_pipe(&qd, ""), EINVAL);
    assert_int_equal(qd, -7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        API_TEST(test_socket_valid),
        API_TEST(test_socket_null_out),
        API_TEST(test_socket_bad_domain),
        API_TEST(test_socket_bad_type),
        API_TEST(test_socket_bad_protocol),
        API_TEST(test_bind_valid_and_getsockname),
        API_TEST(test_bind_bad_args),
        API_TEST(test_bind_twice_and_in_use),
        API_TEST(test_listen_udp),
        API_TEST(test_listen_backlogs),
        API_TEST(test_listen_connect_state_errors),
        API_TEST(test_accept_bad_args),
        API_TEST(test_accept_not_listening),
        API_TEST(test_accept_connect_roundtrip),
        API_TEST(test_accept_result_addr),
        API_TEST(test_accept_many),
        API_TEST(test_connect_bad_args),
        API_TEST(test_connect_refused),
        API_TEST(test_connect_twice),
        API_TEST(test_connect_udp_sets_peer),
        API_TEST(test_close_pending_connect),
        API_TEST(test_close_pending_accept),
        API_TEST(test_close_bad),
        API_TEST(test_close_connected_both_ends),
        API_TEST(test_names_bad_args),
        API_TEST(test_names_short_buffer),
        API_TEST(test_getpeername_unconnected),
        API_TEST(test_sockopt_nodelay_roundtrip),
        API_TEST(test_sockopt_reuseaddr_roundtrip),
        API_TEST(test_sockopt_others),
        API_TEST(test_sockopt_unknown),
        API_TEST(test_sockopt_tcp_option_on_udp),
        API_TEST(test_sockopt_bad_args),
        API_TEST(test_pipes_not_on_posix),
    };
    return cmocka_run_group_tests_name("api_socket", tests, NULL, NULL);
}
