/*
 * An application outside libdemi's tree: it includes only the installed
 * headers and links with `pkg-config --cflags --libs libdemi`. One process
 * hosts both ends (libdemi is asynchronous, so one thread can drive a
 * listener, a client and the accepted connection at once): a TCP and a UDP
 * exchange over loopback on the default (posix) libOS, checked byte for
 * byte. Exits 0 on success, 1 with a message otherwise.
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, what)                                                                                              \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "consumer: %s failed (line %d)\n", what, __LINE__);                                     \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

static const struct timespec five_s = {5, 0};

static demi_qresult_t wait_for(demi_qtoken_t qt, demi_opcode_t want)
{
    demi_qresult_t qr;

    CHECK(demi_wait(&qr, qt, &five_s) == 0, "demi_wait");
    CHECK(qr.qr_opcode == want, "operation result");
    return qr;
}

static struct sockaddr_in bound_addr(int qd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    CHECK(demi_getsockname(qd, (struct sockaddr *)&a, &len) == 0, "demi_getsockname");
    return a;
}

/* Pops from qd until n bytes have arrived and compares them with want. */
static void pop_exact(int qd, const char *want, size_t n)
{
    size_t got = 0;

    while (got < n) {
        demi_qtoken_t qt;
        CHECK(demi_pop(&qt, qd) == 0, "demi_pop");
        demi_qresult_t qr = wait_for(qt, DEMI_OPC_POP);
        for (uint32_t i = 0; i < qr.qr_value.sga.sga_numsegs; i++) {
            demi_sgaseg_t *s = &qr.qr_value.sga.sga_segs[i];
            CHECK(s->sgaseg_len > 0 && got + s->sgaseg_len <= n, "pop length");
            CHECK(memcmp(s->sgaseg_buf, want + got, s->sgaseg_len) == 0, "popped bytes");
            got += s->sgaseg_len;
        }
        CHECK(demi_sgafree(&qr.qr_value.sga) == 0, "demi_sgafree");
    }
}

static void push_bytes(int qd, const char *data, size_t n, const struct sockaddr_in *to)
{
    demi_sgarray_t sga = demi_sgaalloc(n);
    size_t off = 0;
    demi_qtoken_t qt;

    CHECK(sga.sga_buf != NULL && sga.sga_numsegs >= 1, "demi_sgaalloc");
    for (uint32_t i = 0; i < sga.sga_numsegs; i++) {
        memcpy(sga.sga_segs[i].sgaseg_buf, data + off, sga.sga_segs[i].sgaseg_len);
        off += sga.sga_segs[i].sgaseg_len;
    }
    CHECK(off == n, "sga covers the size");
    if (to)
        CHECK(demi_pushto(&qt, qd, &sga, (const struct sockaddr *)to, sizeof(*to)) == 0, "demi_pushto");
    else
        CHECK(demi_push(&qt, qd, &sga) == 0, "demi_push");
    CHECK(demi_sgafree(&sga) == 0, "demi_sgafree after push");
    wait_for(qt, DEMI_OPC_PUSH);
}

static void tcp_exchange(void)
{
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    size_t n = 3 * 1024 * 1024 + 17;    /* several segments, several pops */
    char *data = malloc(n);
    demi_qtoken_t qts[2];
    demi_qresult_t qr;
    int lqd, cqd, sqd, off, one = 1;

    CHECK(data != NULL, "malloc");
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + 3);
    CHECK(demi_socket(&lqd, AF_INET, SOCK_STREAM, 0) == 0, "demi_socket tcp");
    CHECK(demi_setsockopt(lqd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "demi_setsockopt");
    CHECK(demi_bind(lqd, (struct sockaddr *)&any, sizeof(any)) == 0, "demi_bind");
    CHECK(demi_listen(lqd, 16) == 0, "demi_listen");
    struct sockaddr_in where = bound_addr(lqd);

    CHECK(demi_socket(&cqd, AF_INET, SOCK_STREAM, 0) == 0, "demi_socket client");
    CHECK(demi_accept(&qts[0], lqd) == 0, "demi_accept");
    CHECK(demi_connect(&qts[1], cqd, (struct sockaddr *)&where, sizeof(where)) == 0, "demi_connect");
    /* Both complete; take them in whatever order they finish. */
    for (int k = 0; k < 2; k++) {
        demi_qtoken_t left[2];
        int nleft = 0, idx[2];
        for (int i = 0; i < 2; i++)
            if (qts[i]) {
                idx[nleft] = i;
                left[nleft++] = qts[i];
            }
        CHECK(demi_wait_any(&qr, &off, left, nleft, &five_s) == 0, "demi_wait_any");
        if (qr.qr_opcode == DEMI_OPC_ACCEPT)
            sqd = qr.qr_value.ares.qd;
        else
            CHECK(qr.qr_opcode == DEMI_OPC_CONNECT, "connect result");
        qts[idx[off]] = 0;
    }
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    CHECK(demi_getpeername(cqd, (struct sockaddr *)&peer, &plen) == 0, "demi_getpeername");
    CHECK(peer.sin_port == where.sin_port, "peer port");
    int nodelay = 1, got = 0;
    socklen_t glen = sizeof(got);
    CHECK(demi_setsockopt(cqd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay)) == 0, "TCP_NODELAY");
    CHECK(demi_getsockopt(cqd, IPPROTO_TCP, TCP_NODELAY, &got, &glen) == 0 && got != 0, "getsockopt");

    push_bytes(cqd, data, 100, NULL);
    pop_exact(sqd, data, 100);
    /* A large push completes only when all of it was accepted, so pop on the
     * other end while it is pending. */
    demi_sgarray_t big = demi_sgaalloc(n);
    CHECK(big.sga_buf != NULL, "large demi_sgaalloc");
    size_t o = 0;
    for (uint32_t i = 0; i < big.sga_numsegs; i++) {
        memcpy(big.sga_segs[i].sgaseg_buf, data + o, big.sga_segs[i].sgaseg_len);
        o += big.sga_segs[i].sgaseg_len;
    }
    demi_qtoken_t pqt;
    CHECK(demi_push(&pqt, cqd, &big) == 0, "large demi_push");
    pop_exact(sqd, data, n);
    wait_for(pqt, DEMI_OPC_PUSH);
    CHECK(demi_sgafree(&big) == 0, "free large sga");

    /* Close: the peer sees a zero-length pop; a pending pop on a closed
     * queue fails. */
    demi_qtoken_t eof, pend;
    CHECK(demi_pop(&pend, cqd) == 0, "pop before close");
    CHECK(demi_close(cqd) == 0, "demi_close");
    qr = wait_for(pend, DEMI_OPC_FAILED);
    CHECK(qr.qr_ret == ECANCELED, "pending pop fails with ECANCELED");
    CHECK(demi_pop(&eof, sqd) == 0, "demi_pop eof");
    qr = wait_for(eof, DEMI_OPC_POP);
    CHECK(qr.qr_value.sga.sga_segs[0].sgaseg_len == 0, "zero-length pop at end of stream");
    demi_sgafree(&qr.qr_value.sga);
    CHECK(demi_close(sqd) == 0 && demi_close(lqd) == 0, "close");
    CHECK(demi_close(lqd) == EBADF, "closing twice gives EBADF");
    free(data);
}

static void udp_exchange(void)
{
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    demi_qresult_t out[4];
    int a, b, written = 0;
    demi_qtoken_t qt;

    CHECK(demi_socket(&a, AF_INET, SOCK_DGRAM, 0) == 0 && demi_socket(&b, AF_INET, SOCK_DGRAM, 0) == 0, "udp socket");
    CHECK(demi_bind(a, (struct sockaddr *)&lo, sizeof(lo)) == 0, "bind a");
    CHECK(demi_bind(b, (struct sockaddr *)&lo, sizeof(lo)) == 0, "bind b");
    struct sockaddr_in aa = bound_addr(a), ba = bound_addr(b);

    CHECK(demi_pop(&qt, b) == 0, "udp pop");
    push_bytes(a, "datagram", 8, &ba);
    /* The pop completed without being waited for: wait_next_n returns it. */
    CHECK(demi_wait_next_n(out, 4, &written, &five_s) == 0 && written == 1, "demi_wait_next_n");
    CHECK(out[0].qr_opcode == DEMI_OPC_POP && out[0].qr_qt == qt, "udp pop result");
    CHECK(out[0].qr_value.sga.sga_segs[0].sgaseg_len == 8, "whole datagram");
    CHECK(memcmp(out[0].qr_value.sga.sga_segs[0].sgaseg_buf, "datagram", 8) == 0, "datagram bytes");
    CHECK(out[0].qr_value.sga.sga_addr.sin_port == aa.sin_port, "sender address");
    demi_sgafree(&out[0].qr_value.sga);
    CHECK(demi_wait(&out[0], qt, &five_s) == EINVAL, "a consumed token is rejected");
    demi_close(a);
    demi_close(b);
}

int main(void)
{
    demi_qtoken_t qt;
    demi_qresult_t qr;
    struct timespec zero = {0, 0};
    int qd;

    CHECK(demi_socket(&qd, AF_INET, SOCK_STREAM, 0) == EPERM, "calls before demi_init fail");
    CHECK(demi_init(NULL) == 0, "demi_init");
    CHECK(demi_init(NULL) == EEXIST, "second demi_init");
    tcp_exchange();
    udp_exchange();
    /* A timed-out wait leaves the operation pending. */
    CHECK(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0) == 0, "socket");
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(demi_bind(qd, (struct sockaddr *)&lo, sizeof(lo)) == 0, "bind");
    CHECK(demi_pop(&qt, qd) == 0, "pop");
    CHECK(demi_wait(&qr, qt, &zero) == ETIMEDOUT, "zero timeout polls once");
    CHECK(demi_close(qd) == 0, "close");
    CHECK(demi_wait(&qr, qt, &zero) == 0 && qr.qr_opcode == DEMI_OPC_FAILED, "close fails the pending pop");
    CHECK(demi_create_pipe(&qd, "x") == ENOTSUP, "pipes are not in the posix libOS");
    puts("consumer: ok");
    return 0;
}
