/*
 * Connections of the rdma libOS: passive endpoints (listen), accepting and
 * connecting active endpoints, their events, timeouts, failure and teardown.
 *
 * Every endpoint has its own EQ (so an event can only name its own
 * endpoint); all connected endpoints share one CQ (rdma_st.cq), read once
 * per poll. A closed connection's memory (its slots and contexts, which
 * completions still in the CQ may name) is freed only after the CQ was
 * found empty once the endpoint was closed: rdma_conn_destroy moves it to
 * rdma_st.grave, rdma_conn_reap frees it.
 *
 * Connect: fi_getinfo(dest) -> endpoint -> receive buffers posted -> fi_connect
 * with our window and all its credits -> FI_CONNECTED carries the peer's
 * window (it grants credits once its application accepted).
 * Accept: FI_CONNREQ on the listener's EQ -> endpoint only (no buffers, no
 * registration) -> fi_accept granting no credits -> FI_CONNECTED -> the
 * child waits in the backlog; demi_accept posts its buffers, registers its
 * send slots and grants the credits.
 * Close: BYE, linger until the sends completed (DEMI_RDMA_LINGER_MS at
 * most), close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rdma.h"

#define EQ_BATCH 8

#define CM_DATA_MAX 256

/* Returns a new connection in state RC_NEW, on the global list; NULL on ENOMEM. */
struct rdma_conn *rdma_conn_new(void)
{
    struct rdma_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->state = RC_NEW;
    c->local.sin_family = AF_INET;
    c->eq_fd = -1;
    TAILQ_INIT(&c->backlog);
    TAILQ_INIT(&c->accepts);
    TAILQ_INIT(&c->rx_held);
    TAILQ_INIT(&c->rx_early);
    TAILQ_INIT(&c->rx_ready);
    TAILQ_INIT(&c->rx_dropped);
    TAILQ_INIT(&c->reading);
    TAILQ_INIT(&c->pops);
    TAILQ_INIT(&c->pushes);
    TAILQ_INIT(&c->txmsgs);
    TAILQ_INIT(&c->retiring);
    TAILQ_INIT(&c->ctls);
    TAILQ_INSERT_TAIL(&rdma_st.conns, c, all_entry);
    return c;
}

/* fi_getinfo for an endpoint from src (may be NULL) to dst (may be NULL);
 * returns the info list or NULL with *err set. */
static struct fi_info *getinfo_for(const struct sockaddr_in *src, const struct sockaddr_in *dst, int *err)
{
    struct fi_info *hints = rdma_hints(), *info = NULL;
    int ret;

    if (!hints) {
        *err = ENOMEM;
        return NULL;
    }
    if (src && (hints->src_addr = malloc(sizeof(*src))) != NULL) {
        memcpy(hints->src_addr, src, sizeof(*src));
        hints->src_addrlen = sizeof(*src);
    }
    if (dst && (hints->dest_addr = malloc(sizeof(*dst))) != NULL) {
        memcpy(hints->dest_addr, dst, sizeof(*dst));
        hints->dest_addrlen = sizeof(*dst);
    }
    ret = fi_getinfo(RDMA_FI_VERSION, NULL, NULL, 0, hints, &info);
    fi_freeinfo(hints);
    if (ret) {
        log_info("rdma: fi_getinfo failed: %s", fi_strerror(-ret));
        *err = ret == -FI_ENODATA ? EADDRNOTAVAIL : rdma_fi_errno(ret);
        return NULL;
    }
    info->domain_attr->mr_mode |= (int)rdma_st.mr_forced;
    return info;
}

/* Opens c's EQ with a wait fd in the wait set; returns 0 or a positive errno. */
static int open_eq(struct rdma_conn *c)
{
    struct fi_eq_attr attr = {.size = 16, .wait_obj = FI_WAIT_FD};
    int ret = fi_eq_open(rdma_st.fabric, &attr, &c->eq, NULL);

    if (ret == -FI_ENOSYS || ret == -FI_EINVAL) {
        attr.wait_obj = FI_WAIT_NONE;
        ret = fi_eq_open(rdma_st.fabric, &attr, &c->eq, NULL);
    }
    if (ret) {
        c->eq = NULL;
        log_warn("rdma: fi_eq_open failed: %s", fi_strerror(-ret));
        return rdma_fi_errno(ret);
    }
    return rdma_wait_add(&c->eq->fid, rdma_st.fabric, c, &c->eq_fd);
}

static void close_eq(struct rdma_conn *c)
{
    if (!c->eq)
        return;
    rdma_wait_del(&c->eq->fid, c->eq_fd);
    fi_close(&c->eq->fid);
    c->eq = NULL;
    c->eq_fd = -1;
}

/* Opens c's active endpoint from info, bound to its EQ and the shared CQ.
 * Returns 0 or a positive errno (the caller destroys c). */
static int ep_open(struct rdma_conn *c, struct fi_info *info)
{
    int ret;

    if ((ret = fi_endpoint(rdma_st.dom.domain, info, &c->ep, c)) != 0) {
        c->ep = NULL;
        goto fail;
    }
    if ((ret = fi_ep_bind(c->ep, &c->eq->fid, 0)) != 0 ||
        (ret = fi_ep_bind(c->ep, &rdma_st.cq->fid, FI_TRANSMIT | FI_RECV)) != 0 || (ret = fi_enable(c->ep)) != 0)
        goto fail;
    return 0;
fail:
    log_warn("rdma: opening an endpoint failed: %s", fi_strerror(-ret));
    return rdma_fi_errno(ret);
}

/* Makes c a listener on its bound address; returns 0 or a positive errno
 * (EADDRINUSE, EADDRNOTAVAIL...). */
int rdma_conn_listen(struct rdma_conn *c, int backlog)
{
    struct fi_info *info;
    size_t len = sizeof(c->local);
    int ret, err = 0;

    if (c->state == RC_LISTENING)
        return 0;
    if (c->state != RC_NEW)
        return EINVAL;
    if (!(info = getinfo_for(&c->local, NULL, &err)))
        return err;
    if ((err = open_eq(c)) != 0)
        goto out;
    if ((ret = fi_passive_ep(rdma_st.fabric, info, &c->pep, c)) != 0 ||
        (ret = fi_pep_bind(c->pep, &c->eq->fid, 0)) != 0 || (ret = fi_listen(c->pep)) != 0) {
        log_info("rdma: listening on %s:%u failed: %s", inet_ntoa(c->local.sin_addr), ntohs(c->local.sin_port),
                 fi_strerror(-ret));
        err = rdma_fi_errno(ret);
        if (c->pep)
            fi_close(&c->pep->fid);
        c->pep = NULL;
        close_eq(c);
        goto out;
    }
    if (fi_getname(&c->pep->fid, &c->local, &len) != 0)
        log_debug("rdma: fi_getname of a listener failed");
    c->backlog_max = backlog > 0 ? (uint32_t)backlog : RDMA_BACKLOG_DEFAULT;
    if (c->backlog_max > RDMA_BACKLOG_MAX)
        c->backlog_max = RDMA_BACKLOG_MAX;
    c->bound = true;
    c->state = RC_LISTENING;
    log_debug("rdma: listening on %s:%u", inet_ntoa(c->local.sin_addr), ntohs(c->local.sin_port));
out:
    fi_freeinfo(info);
    return err;
}

/* Takes an established child of its listener for the application: posts
 * its receive buffers, registers its send slots, grants the peer its
 * credits. Returns 0 or a positive errno (the child is then destroyed). */
static int take_child(struct rdma_conn *child)
{
    int err;

    if ((err = rdma_msg_setup_rx(child)) != 0 || (err = rdma_msg_setup_tx(child)) != 0)
        return err;
    child->credits_owed = child->rx_nbufs;      /* granted by the first header (CREDIT) */
    child->accepted = true;
    return 0;
}

/* Hands established children of listener l to pending accepts. */
static void match_accepts(struct rdma_conn *l)
{
    struct rdma_conn *child;
    struct demi_op *op;

    while ((op = TAILQ_FIRST(&l->accepts)) != NULL) {
        struct demi_queue *q;
        char peer[32];
        int err;

        TAILQ_FOREACH(child, &l->backlog, child_entry)
            if (child->state == RC_CONNECTED)
                break;
        if (!child)
            return;
        TAILQ_REMOVE(&l->backlog, child, child_entry);
        l->backlog_len--;
        child->listener = NULL;
        if ((err = take_child(child)) != 0) {
            log_warn("rdma: dropping the connection from %s: %s", rdma_peer_str(child, peer, sizeof(peer)),
                     strerror(err));
            RDMA_COUNT(l, conn_rejected, 1);
            rdma_conn_destroy(child);
            continue;
        }
        if (!(q = queue_alloc(QK_TCP))) {
            err = errno ? errno : ENOMEM;   /* EMFILE: DEMI_MAX_QUEUES are open */
            rdma_conn_destroy(child);
            TAILQ_REMOVE(&l->accepts, op, lentry);
            op_fail(op, err);
            continue;
        }
        TAILQ_REMOVE(&l->accepts, op, lentry);
        child->q = q;
        q->priv = child;
        rdma_mark(child);
        op_complete_accept(op, q->qd, &child->peer);
    }
}

/* Starts an accept on listener c; returns 0 or EINVAL (not listening). */
int rdma_conn_accept(struct rdma_conn *c, struct demi_op *op)
{
    if (c->state != RC_LISTENING)
        return EINVAL;
    TAILQ_INSERT_TAIL(&c->accepts, op, lentry);
    match_accepts(c);
    return 0;
}

/* Back to a fresh socket after a connect that could not start. */
static void unopen(struct rdma_conn *c)
{
    if (c->ep)
        fi_close(&c->ep->fid);
    c->ep = NULL;
    close_eq(c);
    rdma_msg_teardown(c);
}

/* Starts connecting c to op->addr; returns 0 (the op completes later) or a
 * positive errno (EISCONN, EALREADY, EADDRNOTAVAIL, ENOMEM...). */
int rdma_conn_connect(struct rdma_conn *c, struct demi_op *op)
{
    uint8_t cmbuf[RDMA_CM_LEN];
    struct rdma_wire_cm cm;
    struct fi_info *info;
    int ret, err = 0;

    if (c->state == RC_CONNECTED || c->state == RC_LINGER)
        return EISCONN;
    if (c->state == RC_CONNECTING)
        return EALREADY;
    if (c->state != RC_NEW)
        return EINVAL;
    if (!(info = getinfo_for(c->bound ? &c->local : NULL, &op->addr, &err)))
        return err;
    c->peer = op->addr;
    if ((err = open_eq(c)) != 0 || (err = ep_open(c, info)) != 0 || (err = rdma_msg_setup_rx(c)) != 0)
        goto fail;
    cm.recv_bufs = c->rx_nbufs;
    cm.recv_size = c->rx_bufsize;
    cm.credits = c->rx_nbufs;
    rdma_wire_put_cm(cmbuf, &cm);
    ret = fi_connect(c->ep, info->dest_addr, cmbuf, sizeof(cmbuf));
    if (ret) {
        log_info("rdma: fi_connect to %s:%u failed: %s", inet_ntoa(op->addr.sin_addr), ntohs(op->addr.sin_port),
                 fi_strerror(-ret));
        err = rdma_fi_errno(ret);
        goto fail;
    }
    fi_freeinfo(info);
    c->connect_op = op;
    c->accepted = true;
    c->state = RC_CONNECTING;
    c->deadline_ns = clock_now_ns() + rdma_st.connect_ns;
    rdma_timed();
    return 0;
fail:
    fi_freeinfo(info);
    unopen(c);
    return err;
}

/* A connection request on listener l: accept it into the backlog with an
 * endpoint only, or reject it (backlog full, not a libdemi peer). */
static void on_connreq(struct rdma_conn *l, struct fi_eq_cm_entry *e, size_t datalen)
{
    struct fi_info *info = e->info;
    uint8_t cmbuf[RDMA_CM_LEN];
    struct rdma_wire_cm cm;
    struct rdma_conn *child = NULL;
    struct sockaddr_in peer = {.sin_family = AF_INET};
    char peerbuf[32];
    int ret, werr;

    if (info->dest_addr && info->dest_addrlen >= sizeof(peer))
        memcpy(&peer, info->dest_addr, sizeof(peer));
    snprintf(peerbuf, sizeof(peerbuf), "%s:%u", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port));
    if (l->backlog_len >= l->backlog_max) {
        log_info("rdma: backlog full (%u): rejecting a connection from %s", l->backlog_max, peerbuf);
        goto reject;
    }
    if ((werr = rdma_wire_parse_cm(e->data, datalen, &cm)) != 0) {
        log_info("rdma: rejecting a connection from %s: not a libdemi rdma peer (%s)", peerbuf,
                 rdma_wire_strerror(werr));
        goto reject;
    }
    if (!(child = rdma_conn_new()))
        goto reject;
    child->listener = l;
    child->peer = peer;
    child->peer_cm = cm;
    TAILQ_INSERT_TAIL(&l->backlog, child, child_entry);
    l->backlog_len++;
    if (open_eq(child) != 0 || ep_open(child, info) != 0)
        goto reject;
    cm.recv_bufs = rdma_st.recv_bufs;
    cm.recv_size = rdma_st.recv_size;
    cm.credits = 0;             /* granted by demi_accept */
    rdma_wire_put_cm(cmbuf, &cm);
    if ((ret = fi_accept(child->ep, cmbuf, sizeof(cmbuf))) != 0) {
        log_info("rdma: fi_accept failed: %s", fi_strerror(-ret));
        goto destroy;
    }
    child->state = RC_ACCEPTING;
    child->local = l->local;
    child->deadline_ns = clock_now_ns() + rdma_st.connect_ns;
    rdma_timed();
    fi_freeinfo(info);
    return;
reject:
    RDMA_COUNT(l, conn_rejected, 1);
    fi_reject(l->pep, info->handle, NULL, 0);
destroy:
    if (child)
        rdma_conn_destroy(child);
    fi_freeinfo(info);
}

/* FI_CONNECTED on c's EQ: the connection is up. */
static void on_connected(struct rdma_conn *c, struct fi_eq_cm_entry *e, size_t datalen)
{
    size_t len = sizeof(c->local);
    int err;

    if (c->state == RC_CONNECTING) {
        if ((err = rdma_wire_parse_cm(e->data, datalen, &c->peer_cm)) != 0) {
            char peer[32];
            log_warn("rdma: %s is not a libdemi rdma peer or sent bad connection data (%s)",
                     rdma_peer_str(c, peer, sizeof(peer)), rdma_wire_strerror(err));
            rdma_conn_abort(c, ECONNREFUSED);
            return;
        }
        if ((err = rdma_msg_setup_tx(c)) != 0) {
            rdma_conn_abort(c, err);
            return;
        }
        if (fi_getname(&c->ep->fid, &c->local, &len) == 0)
            c->bound = true;
        c->state = RC_CONNECTED;
        rdma_mark(c);
        if (c->connect_op) {
            op_complete_connect(c->connect_op);
            c->connect_op = NULL;
        }
        rdma_msg_replay_early(c);
        return;
    }
    if (c->state == RC_ACCEPTING) {
        if (fi_getname(&c->ep->fid, &c->local, &len) == 0)
            c->bound = true;
        c->state = RC_CONNECTED;
        if (c->listener)
            match_accepts(c->listener);
    }
}

/* Reads c's EQ: connection requests (listener), connection established,
 * shutdown by the peer, errors (connection refused...). Returns the number
 * of events handled. */
int rdma_conn_progress_eq(struct rdma_conn *c)
{
    _Alignas(struct fi_eq_cm_entry) uint8_t buf[sizeof(struct fi_eq_cm_entry) + CM_DATA_MAX];
    struct fi_eq_cm_entry *entry = (struct fi_eq_cm_entry *)buf;
    uint32_t event;
    int handled = 0;

    for (int i = 0; i < EQ_BATCH && c->eq && !c->dead; i++) {
        ssize_t n = fi_eq_read(c->eq, &event, buf, sizeof(buf), 0);

        if (n == -FI_EAGAIN)
            break;
        handled++;
        if (n == -FI_EAVAIL) {
            struct fi_eq_err_entry err;
            char peer[32];

            memset(&err, 0, sizeof(err));
            if (fi_eq_readerr(c->eq, &err, 0) < 0)
                break;
            log_debug("rdma: connection event error from %s: %s", rdma_peer_str(c, peer, sizeof(peer)),
                      fi_strerror(err.err));
            if (c->state == RC_LISTENING)
                continue;
            rdma_conn_fail(c, c->state == RC_CONNECTING ? (err.err ? err.err : ECONNREFUSED) : ECONNRESET);
            break;
        }
        if (n < 0)
            break;
        size_t datalen = (size_t)n > sizeof(*entry) ? (size_t)n - sizeof(*entry) : 0;
        switch (event) {
        case FI_CONNREQ:
            if (c->state == RC_LISTENING)
                on_connreq(c, entry, datalen);
            else
                fi_freeinfo(entry->info);
            break;
        case FI_CONNECTED:
            on_connected(c, entry, datalen);
            break;
        case FI_SHUTDOWN:
            /* What arrived before the shutdown is in the CQ already (BYE, last messages). */
            rdma_conn_fail(c, ECONNRESET);
            return handled;
        default:
            break;
        }
    }
    return handled;
}

/* Marks c broken with err: its pending operations fail (pops are first
 * served from what already arrived; after a BYE they see end-of-stream),
 * its rendezvous registrations are closed. */
void rdma_conn_fail(struct rdma_conn *c, int err)
{
    char peer[32];

    if (c->state == RC_FAILED || c->dead)
        return;
    if (c->state == RC_CONNECTED && !c->peer_bye && c->q)
        log_info("rdma: connection to %s broken: %s", rdma_peer_str(c, peer, sizeof(peer)), strerror(err));
    c->state = RC_FAILED;
    if (!c->err)
        c->err = err;
    if (c->connect_op) {
        op_fail(c->connect_op, err);
        c->connect_op = NULL;
    }
    rdma_msg_expose_close(c);
    rdma_msg_fail_ops(c, err);
    rdma_mark(c);
}

/* libdemi itself gives up on c (protocol error, timeout): fails it with err
 * and shuts the endpoint down, so the peer learns at once. */
void rdma_conn_abort(struct rdma_conn *c, int err)
{
    bool was_up = c->state == RC_CONNECTED || c->state == RC_LINGER || c->state == RC_ACCEPTING;

    rdma_conn_fail(c, err);
    if (was_up && c->ep)
        fi_shutdown(c->ep, 0);
}

/* Closes the fabric objects of c and moves it to the grave (its queue is
 * gone); its memory is freed by rdma_conn_reap once the CQ drained. */
void rdma_conn_destroy(struct rdma_conn *c)
{
    struct rdma_conn *child;

    if (c->dead)
        return;
    while ((child = TAILQ_FIRST(&c->backlog)) != NULL)
        rdma_conn_destroy(child);
    if (c->listener) {
        TAILQ_REMOVE(&c->listener->backlog, c, child_entry);
        c->listener->backlog_len--;
        c->listener = NULL;
    }
    if (c->connect_op) {
        op_fail(c->connect_op, ECANCELED);
        c->connect_op = NULL;
    }
    rdma_msg_expose_close(c);
    rdma_msg_fail_ops(c, ECANCELED);
    if (c->ep) {
        if (c->state == RC_CONNECTED || c->state == RC_LINGER)
            fi_shutdown(c->ep, 0);
        fi_close(&c->ep->fid);
        c->ep = NULL;
    }
    if (c->pep)
        fi_close(&c->pep->fid);
    c->pep = NULL;
    close_eq(c);
    if (c->dirty) {
        TAILQ_REMOVE(&rdma_st.work, c, work_entry);
        c->dirty = false;
    }
    c->dead = true;
    c->dead_poll = rdma_st.polls;
    TAILQ_REMOVE(&rdma_st.conns, c, all_entry);
    TAILQ_INSERT_TAIL(&rdma_st.grave, c, all_entry);
}

/* Frees a destroyed connection's memory (the CQ holds nothing of it). */
void rdma_conn_reap(struct rdma_conn *c)
{
    TAILQ_REMOVE(&rdma_st.grave, c, all_entry);
    rdma_msg_teardown(c);
    free(c);
}

/* The application closed c's queue: pending operations fail with
 * ECANCELED; an established connection sends BYE and lingers (the sweep
 * destroys it once its sends completed), anything else is destroyed now. */
void rdma_conn_close(struct rdma_conn *c)
{
    struct demi_op *op;

    c->q = NULL;
    while ((op = TAILQ_FIRST(&c->accepts)) != NULL) {
        TAILQ_REMOVE(&c->accepts, op, lentry);
        op_fail(op, ECANCELED);
    }
    if (c->connect_op) {
        op_fail(c->connect_op, ECANCELED);
        c->connect_op = NULL;
    }
    rdma_msg_fail_ops(c, ECANCELED);
    if (c->state != RC_CONNECTED) {
        rdma_conn_destroy(c);
        return;
    }
    rdma_msg_queue_bye(c);
    c->state = RC_LINGER;
    c->deadline_ns = clock_now_ns() + rdma_st.linger_ns;
    rdma_timed();
    rdma_mark(c);
}

/* Periodic work on c at time now: connection events, the handshake,
 * linger and rendezvous timeouts, destruction of what is over. Returns the
 * number of things that happened. */
int rdma_conn_sweep(struct rdma_conn *c, uint64_t now)
{
    int n = rdma_conn_progress_eq(c);
    char peer[32];

    if (c->dead)
        return n;
    rdma_msg_nudge(c);
    if (!TAILQ_EMPTY(&c->pushes) || !TAILQ_EMPTY(&c->rx_held))
        rdma_mark(c);   /* may wait for memory other connections gave back */
    if ((c->state == RC_CONNECTING || c->state == RC_ACCEPTING) && now >= c->deadline_ns) {
        log_info("rdma: handshake with %s timed out", rdma_peer_str(c, peer, sizeof(peer)));
        RDMA_COUNT(c, timeouts, 1);
        rdma_conn_abort(c, ETIMEDOUT);
        n++;
    }
    if (c->state == RC_CONNECTED && rdma_msg_stuck(c, now)) {
        log_warn("rdma: rendezvous from %s made no progress for %llu ms: giving up",
                 rdma_peer_str(c, peer, sizeof(peer)), (unsigned long long)(rdma_st.rndv_ns / 1000000));
        RDMA_COUNT(c, timeouts, 1);
        rdma_conn_abort(c, ETIMEDOUT);
        n++;
    }
    if (c->listener && c->state == RC_FAILED) {
        rdma_conn_destroy(c);       /* broke before anyone accepted it */
        return n + 1;
    }
    if (!c->q && !c->listener && c->state != RC_LISTENING) {
        if (c->state == RC_FAILED ||
            (c->state == RC_LINGER && ((c->bye_queued && rdma_msg_drained(c)) || now >= c->deadline_ns))) {
            rdma_conn_destroy(c);
            return n + 1;
        }
    }
    return n;
}
