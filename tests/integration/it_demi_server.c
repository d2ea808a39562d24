/*
 * libdemi echo server for the integration tests.
 *
 * TCP: one accept always pending on the listening queue; each connection
 * has exactly one operation pending, a pop or the push echoing what that
 * pop returned (pop -> push -> pop ...), all waited on with demi_wait_any.
 * The popped sga is freed right after demi_push returns, as the API allows.
 * UDP: one pop always pending; each datagram is pushed back to its sender
 * with demi_pushto; completions are collected with demi_wait_next_n.
 */
#include "it_demi.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SRV_WAIT_MS 50
#define SRV_STOP_GRACE_NS (3ull * 1000000000ull)
#define SRV_MAX_LIFE_NS (60ull * 1000000000ull)
#define SRV_NEXT_N 32

static const struct timespec srv_wait_ts = {.tv_sec = 0, .tv_nsec = SRV_WAIT_MS * 1000000L};

int it_demi_server_open(struct it_demi_server *s, bool is_udp)
{
    memset(s, 0, sizeof(*s));
    s->is_udp = is_udp;
    s->qd = -1;
    s->stop_fd = -1;
    s->deadline_ns = it_now_ns() + SRV_MAX_LIFE_NS;
    struct sockaddr_in addr = it_loopback(0);
    socklen_t len = sizeof(addr);
    int rc = demi_socket(&s->qd, AF_INET, is_udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (rc != 0) {
        it_fail(&s->res, rc, "demi server: demi_socket: %s", strerror(rc));
        return rc;
    }
    rc = demi_bind(s->qd, (struct sockaddr *)&addr, sizeof(addr));
    if (rc != 0) {
        it_fail(&s->res, rc, "demi server: demi_bind: %s", strerror(rc));
        goto err;
    }
    if (!is_udp && (rc = demi_listen(s->qd, 1024)) != 0) {
        it_fail(&s->res, rc, "demi server: demi_listen: %s", strerror(rc));
        goto err;
    }
    rc = demi_getsockname(s->qd, (struct sockaddr *)&addr, &len);
    if (rc != 0 || addr.sin_port == 0) {
        rc = rc != 0 ? rc : EINVAL;
        it_fail(&s->res, rc, "demi server: demi_getsockname: %s (port %u)", strerror(rc), ntohs(addr.sin_port));
        goto err;
    }
    s->port = ntohs(addr.sin_port);
    return 0;
err:
    demi_close(s->qd);
    s->qd = -1;
    return rc;
}

/* Starts an operation on qd and adds its token. Returns 0 or an errno (recorded). */
static int srv_start(struct it_demi_server *s, struct it_tokset *t, int qd, demi_opcode_t kind,
                     demi_sgarray_t *sga)
{
    demi_qtoken_t qt = 0;
    int rc;
    const char *what;
    if (kind == DEMI_OPC_ACCEPT) {
        rc = demi_accept(&qt, qd);
        what = "demi_accept";
    } else if (kind == DEMI_OPC_POP) {
        rc = demi_pop(&qt, qd);
        what = "demi_pop";
    } else {
        rc = demi_push(&qt, qd, sga);
        what = "demi_push";
    }
    if (rc == 0)
        rc = it_tokset_add(t, qt, (uint32_t)qd, kind);
    if (rc != 0)
        it_fail(&s->res, rc, "demi server: %s on qd %d: %s", what, qd, strerror(rc));
    return rc;
}

/* Handles one completion of the TCP server. */
static void srv_tcp_completion(struct it_demi_server *s, struct it_tokset *t, demi_opcode_t kind,
                               demi_qresult_t *qr, uint32_t *closes)
{
    int qd = qr->qr_qd;
    if (qr->qr_opcode == DEMI_OPC_FAILED) {
        it_fail(&s->res, (int)qr->qr_ret, "demi server: %s on qd %d failed: %s",
                kind == DEMI_OPC_ACCEPT ? "accept" : kind == DEMI_OPC_POP ? "pop" : "push", qd,
                strerror((int)qr->qr_ret));
        if (kind != DEMI_OPC_ACCEPT)
            demi_close(qd);
        return;
    }
    if (qr->qr_opcode != kind) {
        it_fail(&s->res, EIO, "demi server: qd %d: opcode %d completed an op of kind %d", qd, qr->qr_opcode, kind);
        return;
    }
    if (kind == DEMI_OPC_ACCEPT) {
        srv_start(s, t, qr->qr_value.ares.qd, DEMI_OPC_POP, NULL);
        srv_start(s, t, s->qd, DEMI_OPC_ACCEPT, NULL);
    } else if (kind == DEMI_OPC_PUSH) {
        srv_start(s, t, qd, DEMI_OPC_POP, NULL);
    } else {
        demi_sgarray_t *sga = &qr->qr_value.sga;
        size_t len = it_sga_len(sga);
        if (len == 0) {
            demi_sgafree(sga);
            demi_close(qd);
            (*closes)++;
            s->res.conns_ok++;
            return;
        }
        s->res.bytes_verified += len;
        srv_start(s, t, qd, DEMI_OPC_PUSH, sga);
        int rc = demi_sgafree(sga);
        if (rc != 0)
            it_fail(&s->res, rc, "demi server: demi_sgafree of a popped sga: %s", strerror(rc));
    }
}

static void srv_run_tcp(struct it_demi_server *s)
{
    struct it_tokset t = {0};
    uint32_t closes = 0;
    uint64_t stop_at = s->deadline_ns;
    if (srv_start(s, &t, s->qd, DEMI_OPC_ACCEPT, NULL) != 0)
        goto out;
    while (s->res.err == 0 && it_now_ns() < stop_at) {
        if (s->expected_closes > 0 && closes >= s->expected_closes)
            break;
        if (s->stop_fd >= 0 && stop_at == s->deadline_ns && it_stop_requested(s->stop_fd)) {
            if (s->expected_closes == 0)
                break;
            /* Give the connections the client just closed time to end. */
            stop_at = it_now_ns() + SRV_STOP_GRACE_NS;
        }
        demi_qresult_t qr;
        int idx = -1;
        int rc = demi_wait_any(&qr, &idx, t.qts, t.n, &srv_wait_ts);
        if (rc == ETIMEDOUT)
            continue;
        if (rc != 0 || idx < 0 || idx >= t.n) {
            it_fail(&s->res, rc, "demi server: demi_wait_any: %s (offset %d of %d)", strerror(rc), idx, t.n);
            break;
        }
        demi_opcode_t kind = (demi_opcode_t)t.kind[idx];
        if (qr.qr_qt != t.qts[idx] || (uint32_t)qr.qr_qd != t.owner[idx])
            it_fail(&s->res, EIO, "demi server: result of qt %#llx qd %d returned for offset %d (qt %#llx qd %u)",
                    (unsigned long long)qr.qr_qt, qr.qr_qd, idx, (unsigned long long)t.qts[idx], t.owner[idx]);
        it_tokset_del(&t, idx);
        srv_tcp_completion(s, &t, kind, &qr, &closes);
    }
out:
    /* Each open connection has one token in the set: close them all. */
    for (int i = 0; i < t.n; i++) {
        if ((int)t.owner[i] != s->qd)
            demi_close((int)t.owner[i]);
    }
    if (s->expected_closes > 0 && closes < s->expected_closes)
        it_fail(&s->res, ETIMEDOUT, "demi server: %u of %u connections ended", closes, s->expected_closes);
    it_tokset_free(&t);
}

/* Handles one completion of the UDP server. Returns 0, or -1 to stop. */
static int srv_udp_completion(struct it_demi_server *s, demi_qresult_t *qr, bool *pop_pending)
{
    if (qr->qr_opcode == DEMI_OPC_PUSH)
        return 0;
    if (qr->qr_opcode != DEMI_OPC_POP) {
        it_fail(&s->res, (int)qr->qr_ret, "demi server: udp op on qd %d completed with opcode %d, ret %lld",
                qr->qr_qd, qr->qr_opcode, (long long)qr->qr_ret);
        return -1;
    }
    *pop_pending = false;
    demi_sgarray_t *sga = &qr->qr_value.sga;
    struct sockaddr_in from = sga->sga_addr;
    demi_qtoken_t qt;
    int rc = demi_pushto(&qt, s->qd, sga, (struct sockaddr *)&from, sizeof(from));
    if (rc != 0)
        it_fail(&s->res, rc, "demi server: demi_pushto to port %u: %s", ntohs(from.sin_port), strerror(rc));
    else
        s->res.bytes_verified += it_sga_len(sga);
    demi_sgafree(sga);
    return rc == 0 ? 0 : -1;
}

static void srv_run_udp(struct it_demi_server *s)
{
    bool pop_pending = false;
    demi_qresult_t *qrs = calloc(SRV_NEXT_N, sizeof(*qrs));
    if (qrs == NULL) {
        it_fail(&s->res, ENOMEM, "demi server: out of memory");
        return;
    }
    while (s->res.err == 0 && it_now_ns() < s->deadline_ns) {
        if (s->stop_fd >= 0 && it_stop_requested(s->stop_fd))
            break;
        if (!pop_pending) {
            demi_qtoken_t qt;
            int rc = demi_pop(&qt, s->qd);
            if (rc != 0) {
                it_fail(&s->res, rc, "demi server: demi_pop: %s", strerror(rc));
                break;
            }
            pop_pending = true;
        }
        int n = 0;
        int rc = demi_wait_next_n(qrs, SRV_NEXT_N, &n, &srv_wait_ts);
        if (rc == ETIMEDOUT)
            continue;
        if (rc != 0 || n < 1 || n > SRV_NEXT_N) {
            it_fail(&s->res, rc, "demi server: demi_wait_next_n: %s (%d written)", strerror(rc), n);
            break;
        }
        for (int i = 0; i < n; i++) {
            if (srv_udp_completion(s, &qrs[i], &pop_pending) != 0)
                break;
        }
    }
    free(qrs);
}

void it_demi_server_run(struct it_demi_server *s)
{
    if (s->is_udp)
        srv_run_udp(s);
    else
        srv_run_tcp(s);
    demi_close(s->qd);
    s->qd = -1;
}

pid_t it_demi_server_fork(bool is_udp, uint32_t expected_closes, uint16_t *port, int *stop_wfd)
{
    int port_pipe[2], stop_pipe[2];
    if (pipe2(port_pipe, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(stop_pipe, O_CLOEXEC) != 0) {
        close(port_pipe[0]);
        close(port_pipe[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* The test framework's crash handlers would resume the test suite
         * in this child: a crash here must just end the child. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        signal(SIGSYS, SIG_DFL);
        close(port_pipe[0]);
        close(stop_pipe[1]);
        struct it_demi_server s;
        int rc = demi_init(NULL);
        if (rc != 0) {
            fprintf(stderr, "demi server child: demi_init: %s\n", strerror(rc));
            _exit(2);
        }
        if (it_demi_server_open(&s, is_udp) != 0) {
            fprintf(stderr, "demi server child: %s\n", s.res.msg);
            demi_fini();
            _exit(3);
        }
        s.expected_closes = expected_closes;
        s.stop_fd = stop_pipe[0];
        it_pipe_put(port_pipe[1], s.port);
        close(port_pipe[1]);
        it_demi_server_run(&s);
        demi_fini();
        if (s.res.err != 0)
            fprintf(stderr, "demi server child: %s\n", s.res.msg);
        /* exit, not _exit: under AddressSanitizer the leak check runs in the child too. */
        exit(s.res.err == 0 ? 0 : 1);
    }
    close(port_pipe[1]);
    close(stop_pipe[0]);
    if (pid < 0) {
        close(port_pipe[0]);
        close(stop_pipe[1]);
        return -1;
    }
    uint32_t p = 0;
    if (it_pipe_get(port_pipe[0], &p, 10000) != 0 || p == 0 || p > 65535) {
        close(port_pipe[0]);
        close(stop_pipe[1]);
        it_reap(pid, 5000);
        errno = EIO;
        return -1;
    }
    close(port_pipe[0]);
    *port = (uint16_t)p;
    *stop_wfd = stop_pipe[1];
    return pid;
}
