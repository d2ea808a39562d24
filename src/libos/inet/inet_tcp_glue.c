/*
 * TCP queues of the inet libOS over tcp/tcp.h. The stack's callback drives
 * the queue's FIFOs: CONNECTED completes the connect, ACCEPTABLE the
 * accepts, READABLE the pops (one tcp_recv buffer each; a zero-length sga at
 * end of stream), WRITABLE moves the pushes (a push completes when tcp_send
 * has taken all of it), ERROR fails everything pending with the error.
 * Without TCP in the build (DEMI_INET_HAVE_TCP 0), a TCP socket fails with
 * EPROTONOSUPPORT.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>

#include "core/log.h"
#include "demi_build_config.h"
#include "inet_libos.h"
#if DEMI_INET_HAVE_TCP
#include "inet/tcp/tcp.h"
#endif

#if DEMI_INET_HAVE_TCP

static void tcp_event(void *user, struct tcp_conn *c, enum tcp_event ev, int err);

/* Completes pending accepts while the listener has connections ready.
 * Nothing is allocated while none is ready, so a pending accept costs
 * nothing per poll. When the queue for a ready connection cannot be
 * allocated (EMFILE, ENOMEM), the accept fails with that errno and the
 * connection stays on the listener's accept queue for the next accept. */
static void tcp_drain_accepts(struct inet_queue *iq)
{
    struct demi_op *op;

    while ((op = TAILQ_FIRST(&iq->accepts)) != NULL && tcp_accept_ready(iq->tcp) > 0) {
        struct demi_queue *nq = queue_alloc(QK_TCP);
        struct inet_queue *niq = NULL;
        struct tcp_conn *c;
        struct sockaddr_in peer = {.sin_family = AF_INET};
        int err = nq ? 0 : errno ? errno : ENOMEM;

        if (nq && !(niq = inet_queue_new(nq, QK_TCP))) {
            queue_free(nq);
            err = ENOMEM;
        }
        if (!err) {
            err = tcp_accept(iq->tcp, &c, tcp_event, niq);
            if (err) {
                inet_queue_free(niq);
                queue_free(nq);
                if (err == EAGAIN)
                    break;          /* not ready after all: nothing taken */
            }
        }
        TAILQ_REMOVE(&iq->accepts, op, lentry);
        if (err) {
            op_fail(op, err);
        } else {
            niq->tcp = c;
            niq->connected = true;
            tcp_getname(c, NULL, NULL, &peer.sin_addr.s_addr, &peer.sin_port);
            op_complete_accept(op, nq->qd, &peer);
        }
        inet_count_completion();
    }
}

/* Completes pending pops while data (or end of stream, or an error) is there. */
static void tcp_drain_pops(struct inet_queue *iq)
{
    struct demi_op *op;

    while ((op = TAILQ_FIRST(&iq->pops)) != NULL) {
        struct buf *b = NULL;
        ssize_t n = tcp_recv(iq->tcp, &b, inet_libos.tcp_pop_size);
        if (n == -EAGAIN)
            break;
        TAILQ_REMOVE(&iq->pops, op, lentry);
        if (n > 0)
            op_complete_pop(op, &b, 1, NULL);
        else if (n == 0)
            op_complete_pop(op, NULL, 0, NULL);
        else
            op_fail(op, (int)-n);
        inet_count_completion();
    }
}

/* Hands the pending pushes to tcp_send as far as it takes them. */
static void tcp_drain_pushes(struct inet_queue *iq)
{
    struct demi_op *op;

    while ((op = TAILQ_FIRST(&iq->pushes)) != NULL) {
        uint64_t skip = op->done_len;
        ssize_t n = 0;

        for (uint32_t i = 0; i < op->nbufs && op->done_len < op->total_len; i++) {
            struct buf *b = op->bufs[i];
            if (skip >= b->len) {
                skip -= b->len;
                continue;
            }
            n = tcp_send(iq->tcp, b, (size_t)skip, b->len - (size_t)skip);
            if (n <= 0)
                break;
            op->done_len += (uint64_t)n;
            if ((uint64_t)n < b->len - skip)
                break;
            skip = 0;
        }
        if (n < 0) {
            TAILQ_REMOVE(&iq->pushes, op, lentry);
            op_fail(op, (int)-n);
            inet_count_completion();
            continue;
        }
        if (op->done_len < op->total_len)
            break;                  /* send buffer full: wait for TCP_EV_WRITABLE */
        TAILQ_REMOVE(&iq->pushes, op, lentry);
        op_complete_push(op);
        inet_count_completion();
    }
}

/* Runs every FIFO of iq; callbacks that arrive meanwhile only ask for another round. */
static void tcp_progress(struct inet_queue *iq)
{
    if (iq->busy) {
        iq->again = true;
        return;
    }
    iq->busy = true;
    do {
        iq->again = false;
        if (iq->err) {
            inet_fail_all(&iq->accepts, iq->err);
            inet_fail_all(&iq->pushes, iq->err);
            tcp_drain_pops(iq);     /* data already received is still handed out */
            inet_fail_all(&iq->pops, iq->err);
            break;
        }
        if (iq->listening)
            tcp_drain_accepts(iq);
        if (iq->connected) {
            tcp_drain_pushes(iq);
            tcp_drain_pops(iq);
        }
    } while (iq->again);
    iq->busy = false;
}

static void tcp_event(void *user, struct tcp_conn *c, enum tcp_event ev, int err)
{
    struct inet_queue *iq = user;

    switch (ev) {
    case TCP_EV_CONNECTED:
        iq->connected = true;
        if (iq->connect_op) {
            struct demi_op *op = iq->connect_op;
            iq->connect_op = NULL;
            op_complete_connect(op);
            inet_count_completion();
        }
        break;
    case TCP_EV_ERROR:
        iq->err = err ? err : ECONNRESET;
        if (iq->connect_op) {
            struct demi_op *op = iq->connect_op;
            iq->connect_op = NULL;
            op_fail(op, iq->err);
            inet_count_completion();
        }
        break;
    default:
        break;
    }
    tcp_progress(iq);
}

int inet_tcp_socket(struct inet_queue *iq)
{
    return tcp_open(inet_libos.stack, &iq->tcp, tcp_event, iq);
}

int inet_tcp_bind(struct inet_queue *iq, const struct sockaddr_in *addr)
{
    return tcp_bind(iq->tcp, addr->sin_addr.s_addr, addr->sin_port);
}

int inet_tcp_listen(struct inet_queue *iq, int backlog)
{
    int err;

    if (iq->connected || iq->connect_op)
        return EINVAL;
    err = tcp_listen(iq->tcp, backlog);
    if (err == 0)
        iq->listening = true;
    return err;
}

int inet_tcp_accept(struct inet_queue *iq, struct demi_op *op)
{
    if (!iq->listening)
        return EINVAL;
    TAILQ_INSERT_TAIL(&iq->accepts, op, lentry);
    tcp_progress(iq);
    return 0;
}

/* Returns the usage errors of tcp_connect (EISCONN, EALREADY, EINVAL when
 * listening, EADDRNOTAVAIL, ENETUNREACH); the outcome completes the op. */
int inet_tcp_connect(struct inet_queue *iq, struct demi_op *op)
{
    int err;

    if (iq->listening)
        return EINVAL;
    if (iq->connected)
        return EISCONN;
    if (iq->connect_op)
        return EALREADY;
    iq->connect_op = op;
    err = tcp_connect(iq->tcp, op->addr.sin_addr.s_addr, op->addr.sin_port);
    if (err && iq->connect_op == op) {
        iq->connect_op = NULL;
        return err;
    }
    return 0;
}

/* Returns ENOTCONN (never connected), EDESTADDRREQ-free: pushto's address
 * is ignored on a connected stream (as Linux does). */
int inet_tcp_push(struct inet_queue *iq, struct demi_op *op)
{
    if (!iq->connected && !iq->err)
        return ENOTCONN;
    TAILQ_INSERT_TAIL(&iq->pushes, op, lentry);
    tcp_progress(iq);
    return 0;
}

int inet_tcp_pop(struct inet_queue *iq, struct demi_op *op)
{
    if (!iq->connected && !iq->err)
        return ENOTCONN;
    TAILQ_INSERT_TAIL(&iq->pops, op, lentry);
    tcp_progress(iq);
    return 0;
}

void inet_tcp_close(struct inet_queue *iq)
{
    if (iq->connect_op) {
        struct demi_op *op = iq->connect_op;
        iq->connect_op = NULL;
        op_fail(op, ECANCELED);
        inet_count_completion();
    }
    inet_fail_all(&iq->accepts, ECANCELED);
    inet_fail_all(&iq->pushes, ECANCELED);
    inet_fail_all(&iq->pops, ECANCELED);
    if (iq->tcp)
        tcp_close(iq->tcp);
    iq->tcp = NULL;
}

int inet_tcp_getname(struct inet_queue *iq, struct sockaddr_in *out, bool peer)
{
    uint32_t lip, rip;
    uint16_t lport, rport;

    tcp_getname(iq->tcp, &lip, &lport, &rip, &rport);
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    if (peer) {
        if (!iq->connected)
            return ENOTCONN;
        out->sin_addr.s_addr = rip;
        out->sin_port = rport;
    } else {
        out->sin_addr.s_addr = lip;
        out->sin_port = lport;
    }
    return 0;
}

/* Maps a socket option to tcp.h's; returns the tcp_opt or 0 if unknown. */
static enum tcp_opt tcp_map_opt(int level, int optname)
{
    if (level == IPPROTO_TCP) {
        switch (optname) {
        case TCP_NODELAY: return TCP_OPT_NODELAY;
        case TCP_KEEPIDLE: return TCP_OPT_KEEPIDLE;
        case TCP_KEEPINTVL: return TCP_OPT_KEEPINTVL;
        case TCP_KEEPCNT: return TCP_OPT_KEEPCNT;
        case TCP_MAXSEG: return TCP_OPT_MAXSEG;
        default: return 0;
        }
    }
    if (level == SOL_SOCKET) {
        switch (optname) {
        case SO_KEEPALIVE: return TCP_OPT_KEEPALIVE;
        case SO_SNDBUF: return TCP_OPT_SNDBUF;
        case SO_RCVBUF: return TCP_OPT_RCVBUF;
        case SO_REUSEADDR: return TCP_OPT_REUSEADDR;
        case SO_ERROR: return TCP_OPT_ERROR;
        case SO_LINGER: return TCP_OPT_LINGER0;
        default: return 0;
        }
    }
    return 0;
}

int inet_tcp_setsockopt(struct inet_queue *iq, int level, int optname, const void *optval, socklen_t optlen)
{
    enum tcp_opt o = tcp_map_opt(level, optname);
    int v, r;

    if (!o || o == TCP_OPT_ERROR || o == TCP_OPT_MAXSEG)
        return ENOPROTOOPT;
    if (o == TCP_OPT_LINGER0) {
        struct linger l;
        if (optlen < (socklen_t)sizeof(l))
            return EINVAL;
        memcpy(&l, optval, sizeof(l));
        v = l.l_onoff && l.l_linger == 0;
    } else {
        if (optlen < (socklen_t)sizeof(int))
            return EINVAL;
        memcpy(&v, optval, sizeof(v));
    }
    r = tcp_setopt(iq->tcp, o, v);
    return r < 0 ? -r : r;
}

int inet_tcp_getsockopt(struct inet_queue *iq, int level, int optname, void *optval, socklen_t *optlen)
{
    enum tcp_opt o = tcp_map_opt(level, optname);
    int v = 0, r;

    if (!o)
        return ENOPROTOOPT;
    if (o == TCP_OPT_ERROR && iq->err) {
        v = iq->err;
    } else {
        r = tcp_getopt(iq->tcp, o, &v);
        if (r)
            return r < 0 ? -r : r;
    }
    if (o == TCP_OPT_LINGER0) {
        struct linger l = {.l_onoff = v, .l_linger = 0};
        if (*optlen < (socklen_t)sizeof(l))
            return EINVAL;
        memcpy(optval, &l, sizeof(l));
        *optlen = sizeof(l);
        return 0;
    }
    if (*optlen < (socklen_t)sizeof(int))
        return EINVAL;
    memcpy(optval, &v, sizeof(v));
    *optlen = sizeof(int);
    return 0;
}

size_t inet_tcp_queue_counters(struct inet_queue *iq, demi_counter_t *out, size_t cap)
{
    return iq->tcp ? tcp_conn_counters(iq->tcp, out, cap) : 0;
}

#else /* !DEMI_INET_HAVE_TCP */

int inet_tcp_socket(struct inet_queue *iq)
{
    log_warn("inet: TCP is not part of this build (src/inet/tcp missing): TCP sockets fail with EPROTONOSUPPORT");
    return EPROTONOSUPPORT;
}

int inet_tcp_bind(struct inet_queue *iq, const struct sockaddr_in *addr)
{
    return EPROTONOSUPPORT;
}

int inet_tcp_listen(struct inet_queue *iq, int backlog)
{
    return EPROTONOSUPPORT;
}

int inet_tcp_accept(struct inet_queue *iq, struct demi_op *op)
{
    return EPROTONOSUPPORT;
}

int inet_tcp_connect(struct inet_queue *iq, struct demi_op *op)
{
    return EPROTONOSUPPORT;
}

int inet_tcp_push(struct inet_queue *iq, struct demi_op *op)
{
    return EPROTONOSUPPORT;
}

int inet_tcp_pop(struct inet_queue *iq, struct demi_op *op)
{
    return EPROTONOSUPPORT;
}

void inet_tcp_close(struct inet_queue *iq)
{
}

int inet_tcp_getname(struct inet_queue *iq, struct sockaddr_in *out, bool peer)
{
    return EPROTONOSUPPORT;
}

int inet_tcp_setsockopt(struct inet_queue *iq, int level, int optname, const void *optval, socklen_t optlen)
{
    return EPROTONOSUPPORT;
}

int inet_tcp_getsockopt(struct inet_queue *iq, int level, int optname, void *optval, socklen_t *optlen)
{
    return EPROTONOSUPPORT;
}

size_t inet_tcp_queue_counters(struct inet_queue *iq, demi_counter_t *out, size_t cap)
{
    return 0;
}

#endif /* DEMI_INET_HAVE_TCP */
