/*
 * The demi-echo server: setup, the event loop, and shutdown.
 *
 * Call order: echo_server_run -> server_open (listener and/or UDP queue on
 * one port) -> loop { arm accept and UDP pops; demi_wait_next_n (100 ms,
 * so a signal is noticed); dispatch each completion } -> on SIGINT/SIGTERM
 * close every queue, drop the completions that closing produced (freeing
 * any popped sga), print a summary and libdemi's counters to stderr.
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "echo_server.h"

#define SRV_BATCH 128               /* completions taken per wait */
#define SRV_WAIT_NS 100000000       /* wait timeout: how fast a signal is noticed */
#define SRV_LOG_FREE 200            /* error lines printed before rate limiting */
#define SRV_UDP_SOCKBUF (4 << 20)   /* SO_RCVBUF asked for the UDP queue (the kernel may cap it) */

static volatile sig_atomic_t srv_stop;

static void on_signal(int sig)
{
    (void)sig;
    srv_stop = 1;
}

void srv_log_error(struct server *s, const char *fmt, ...)
{
    s->stats.errors++;
    if (s->logged >= SRV_LOG_FREE && s->stats.errors % 1000 != 0)
        return;
    s->logged++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, ECHO_PROG ": ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (s->logged == SRV_LOG_FREE)
        fprintf(stderr, " (further errors: every 1000th is shown)");
    fprintf(stderr, "\n");
}

/* Opens a queue of the given type bound to addr (a listener for TCP).
 * Returns 0 with *qd_out set, or the errno of the call that failed (printed). */
static int open_queue(int type, const struct sockaddr_in *addr, int *qd_out)
{
    const char *call = "demi_socket";
    int qd = -1;
    int rc = demi_socket(&qd, AF_INET, type, 0);
    if (rc != 0)
        goto err;
    /* best effort: a fast restart, and room for bursts of datagrams from many clients */
    int one = 1, bufsize = SRV_UDP_SOCKBUF;
    if (type == SOCK_STREAM)
        demi_setsockopt(qd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    else
        demi_setsockopt(qd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
    call = "demi_bind";
    rc = demi_bind(qd, (const struct sockaddr *)addr, sizeof(*addr));
    if (rc != 0)
        goto err;
    if (type == SOCK_STREAM) {
        call = "demi_listen";
        rc = demi_listen(qd, 1024);
        if (rc != 0)
            goto err;
    }
    *qd_out = qd;
    return 0;
err:;
    char a[32], what[64];
    snprintf(what, sizeof(what), "%s(%s %s)", call, type == SOCK_STREAM ? "tcp" : "udp",
             echo_addr_str(addr, a, sizeof(a)));
    echo_perror(what, rc);
    if (qd >= 0)
        demi_close(qd);
    return rc;
}

/* Opens the queues o asks for, on one port (the TCP listener's, when the
 * port given is 0). Returns 0 or the failing call's errno. */
static int server_open(struct server *s, const struct echo_opts *o)
{
    struct sockaddr_in addr = o->addr;
    int rc;
    if (o->proto & ECHO_PROTO_TCP) {
        rc = open_queue(SOCK_STREAM, &addr, &s->lqd);
        if (rc != 0)
            return rc;
        socklen_t len = sizeof(addr);
        if (addr.sin_port == 0 && demi_getsockname(s->lqd, (struct sockaddr *)&addr, &len) != 0)
            addr = o->addr;
    }
    if (o->proto & ECHO_PROTO_UDP) {
        rc = open_queue(SOCK_DGRAM, &addr, &s->udp.qd);
        if (rc != 0)
            return rc;
        socklen_t len = sizeof(addr);
        if (addr.sin_port == 0)
            demi_getsockname(s->udp.qd, (struct sockaddr *)&addr, &len);
    }
    char a[32];
    fprintf(stderr, ECHO_PROG ": serving %s on %s (libos %s)\n",
            o->proto == ECHO_PROTO_BOTH ? "tcp+udp" : o->proto == ECHO_PROTO_TCP ? "tcp" : "udp",
            echo_addr_str(&addr, a, sizeof(a)), echo_libos_name());
    return 0;
}

/* Frees the sga of a completion that no live operation claimed. */
static void drop_completion(demi_qresult_t *qr)
{
    if (qr->qr_opcode == DEMI_OPC_POP)
        echo_sga_release(&qr->qr_value.sga);
    else if (qr->qr_opcode == DEMI_OPC_ACCEPT)
        demi_close(qr->qr_value.ares.qd);
}

static void dispatch(struct server *s, demi_qresult_t *qr)
{
    if (srv_udp_complete(s, qr) || srv_tcp_complete(s, qr))
        return;
    drop_completion(qr);
}

/* After every queue is closed: takes the completions that closing made,
 * releasing what they hold, until none is left (bounded). */
static void drain(demi_qresult_t *qrs)
{
    struct timespec zero = {0, 0};
    for (int round = 0; round < 10000; round++) {
        int n = 0;
        int rc = demi_wait_next_n(qrs, SRV_BATCH, &n, &zero);
        if (rc != 0)
            return;
        for (int i = 0; i < n; i++)
            drop_completion(&qrs[i]);
    }
}

/* Installs on_signal for SIGINT and SIGTERM (no SA_RESTART). */
static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return errno;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int echo_server_run(const struct echo_opts *o)
{
    struct server s;
    memset(&s, 0, sizeof(s));
    s.lqd = -1;
    s.udp.qd = -1;
    int exit_code = 1;
    demi_qresult_t *qrs = calloc(SRV_BATCH, sizeof(*qrs));
    if (!qrs) {
        echo_perror("calloc", ENOMEM);
        return 1;
    }
    int rc = install_signals();
    if (rc != 0) {
        echo_perror("sigaction", rc);
        goto out_free;
    }
    rc = demi_init(NULL);
    if (rc != 0) {
        echo_perror("demi_init", rc);
        goto out_free;
    }
    if (server_open(&s, o) != 0)
        goto out_fini;

    struct timespec tick = {0, SRV_WAIT_NS};
    while (!srv_stop) {
        srv_tcp_arm_accept(&s);
        srv_udp_arm(&s);
        int n = 0;
        rc = demi_wait_next_n(qrs, SRV_BATCH, &n, &tick);
        if (rc == ETIMEDOUT || rc == EINTR)
            continue;
        if (rc != 0) {
            echo_perror("demi_wait_next_n", rc);
            goto out_close;
        }
        for (int i = 0; i < n; i++)
            dispatch(&s, &qrs[i]);
    }
    exit_code = 0;

out_close:;
    uint64_t open_conns = s.nconns;
    srv_tcp_shutdown(&s);
    srv_udp_shutdown(&s);
    drain(qrs);
    fprintf(stderr,
            ECHO_PROG ": server stopped: tcp %" PRIu64 " connections (%" PRIu64 " open at stop), %" PRIu64
                      " bytes echoed; udp %" PRIu64 " datagrams, %" PRIu64 " bytes echoed; %" PRIu64 " errors\n",
            s.stats.accepted, open_conns, s.stats.tcp_bytes, s.stats.udp_datagrams, s.stats.udp_bytes,
            s.stats.errors);
    echo_print_counters(stderr);
out_fini:
    srv_tcp_shutdown(&s);
    srv_udp_shutdown(&s);
    drain(qrs);
    demi_fini();
out_free:
    free(qrs);
    return exit_code;
}
