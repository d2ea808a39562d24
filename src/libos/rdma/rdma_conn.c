/*
 * Connections of the rdma libOS: passive endpoints (listen), accepting and
 * connecting active endpoints, their event queue, failure and teardown.
 *
 * Every endpoint (passive or active) has its own EQ, and every active one
 * its own CQ, so closing a connection can never leave an event or a
 * completion behind that names freed memory.
 *
 * Connect: fi_getinfo(dest) -> fi_endpoint -> post receives -> fi_connect
 * with our window in the CM data -> FI_CONNECTED carries the peer's window.
 * Accept: FI_CONNREQ on the listener's EQ (with the client's window) ->
 * fi_endpoint -> post receives -> fi_accept -> FI_CONNECTED on the child's
 * EQ -> the child waits in the backlog until a demi_accept takes it.
 * Close: BYE, linger until the sends completed (DEMI_RDMA_LINGER_MS at
 * most), fi_shutdown, close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rdma.h"

#define EQ_BATCH 8

struct rdma_cm_event {
    struct fi_eq_cm_entry entry;
    uint8_t data[256];
};

/* Returns a new connection in state RC_NEW, on the global list; NULL on ENOMEM. */
struct rdma_conn *rdma_conn_new(void)
{
    struct rdma_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->state = RC_NEW;
    c->local.sin_family = AF_INET;
    TAILQ_INIT(&c->backlog);
    TAILQ_INIT(&c->accepts);
    TAILQ_INIT(&c->rx_held);
    TAILQ_INIT(&c->rx_ready);
    TAILQ_INIT(&c->pops);
    TAILQ_INIT(&c->pushes);
    TAILQ_INIT(&c->txmsgs);
    TAILQ_INIT(&c->ctls);
    TAILQ_INSERT_TAIL(&rdma_st.conns, c, all_entry);
    return c;
}

static void cm_data_fill(struct rdma_cm_data *d)
{
    d->magic = htole32(RDMA_CM_MAGIC);
    d->recv_bufs = htole32(rdma_st.recv_bufs);
    d->recv_size = htole32(rdma_st.recv_size);
    d->reserved = 0;
}

/* Checks the peer's CM data and sets up the send side; returns 0 or EPROTO. */
static int cm_data_use(struct rdma_conn *c, const void *data, size_t len)
{
    struct rdma_cm_data d;

    if (len < sizeof(d))
        return EPROTO;
    memcpy(&d, data, sizeof(d));
    if (le32toh(d.magic) != RDMA_CM_MAGIC)
        return EPROTO;
    return rdma_msg_setup_tx(c, le32toh(d.recv_bufs), le32toh(d.recv_size));
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
    if (src) {
        hints->src_addr = malloc(sizeof(*src));
        if (hints->src_addr) {
            memcpy(hints->src_addr, src, sizeof(*src));
            hints->src_addrlen = sizeof(*src);
        }
    }
    if (dst) {
        hints->dest_addr = malloc(sizeof(*dst));
        if (hints->dest_addr) {
            memcpy(hints->dest_addr, dst, sizeof(*dst));
            hints->dest_addrlen = sizeof(*dst);
        }
    }
    ret = fi_getinfo(RDMA_FI_VERSION, NULL, NULL, 0, hints, &info);
    fi_freeinfo(hints);
    if (ret) {
        log_info("rdma: fi_getinfo failed: %s", fi_strerror(-ret));
        *err = ret == -FI_ENODATA ? EADDRNOTAVAIL : rdma_fi_errno(ret);
        return NULL;
    }
    return info;
}

static int open_eq(struct fid_eq **eq)
{
    struct fi_eq_attr attr = {.size = 16, .wait_obj = FI_WAIT_NONE};
    int ret = fi_eq_open(rdma_st.fabric, &attr, eq, NULL);

    if (ret) {
        *eq = NULL;
        log_warn("rdma: fi_eq_open failed: %s", fi_strerror(-ret));
        return rdma_fi_errno(ret);
    }
    return 0;
}

/* Opens c's endpoint from info with its EQ and CQ, and posts its receive
 * buffers. Returns 0 or a positive errno (the caller destroys c). */
static int ep_open(struct rdma_conn *c, struct fi_info *info)
{
    struct fi_cq_attr cq_attr = {.format = FI_CQ_FORMAT_MSG, .wait_obj = FI_WAIT_NONE};
    int ret, err;

    if ((err = rdma_msg_setup(c)) != 0)
        return err;
    if ((err = open_eq(&c->eq)) != 0)
        return err;
    cq_attr.size = (size_t)rdma_st.recv_bufs * 2 + RDMA_RECV_BUFS_MAX / 8 + 64;
    if ((ret = fi_cq_open(rdma_st.domain, &cq_attr, &c->cq, NULL)) != 0) {
        c->cq = NULL;
        goto fail;
    }
    if ((ret = fi_endpoint(rdma_st.domain, info, &c->ep, c)) != 0) {
        c->ep = NULL;
        goto fail;
    }
    if ((ret = fi_ep_bind(c->ep, &c->eq->fid, 0)) != 0 ||
        (ret = fi_ep_bind(c->ep, &c->cq->fid, FI_TRANSMIT | FI_RECV)) != 0 || (ret = fi_enable(c->ep)) != 0)
        goto fail;
    return rdma_msg_post_recvs(c);
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
    if ((err = open_eq(&c->eq)) != 0)
        goto out;
    if ((ret = fi_passive_ep(rdma_st.fabric, info, &c->pep, c)) != 0 ||
        (ret = fi_pep_bind(c->pep, &c->eq->fid, 0)) != 0 || (ret = fi_listen(c->pep)) != 0) {
        log_info("rdma: listening on %s:%u failed: %s", inet_ntoa(c->local.sin_addr), ntohs(c->local.sin_port),
                 fi_strerror(-ret));
        err = rdma_fi_errno(ret);
        if (c->pep)
            fi_close(&c->pep->fid);
        c->pep = NULL;
        fi_close(&c->eq->fid);
        c->eq = NULL;
        goto out;
    }
    if (fi_getname(&c->pep->fid, &c->local, &len) != 0)
        log_debug("rdma: fi_getname of a listener failed");
    c->backlog_max = backlog > 0 ? (uint32_t)backlog : RDMA_BACKLOG_DEFAULT;
    if (c->backlog_max > 4096)
        c->backlog_max = 4096;
    c->bound = true;
    c->state = RC_LISTENING;
    log_debug("rdma: listening on %s:%u", inet_ntoa(c->local.sin_addr), ntohs(c->local.sin_port));
out:
    fi_freeinfo(info);
    return err;
}

/* Hands established children of listener l to pending accepts. */
static void match_accepts(struct rdma_conn *l)
{
    struct rdma_conn *child;
    struct demi_op *op;

    while ((op = TAILQ_FIRST(&l->accepts)) != NULL) {
        struct demi_queue *q;

        TAILQ_FOREACH(child, &l->backlog, child_entry)
            if (child->state == RC_CONNECTED)
                break;
        if (!child)
            return;
        TAILQ_REMOVE(&l->accepts, op, lentry);
        if (!(q = queue_alloc(QK_TCP))) {
            op_fail(op, errno ? errno : ENOMEM);
            continue;
        }
        TAILQ_REMOVE(&l->backlog, child, child_entry);
        l->backlog_len--;
        child->listener = NULL;
        child->q = q;
        q->priv = child;
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

/* Starts connecting c to op->addr; returns 0 (the op completes later) or a
 * positive errno (EISCONN, EALREADY, EADDRNOTAVAIL...). */
int rdma_conn_connect(struct rdma_conn *c, struct demi_op *op)
{
    struct rdma_cm_data cm;
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
    if ((err = ep_open(c, info)) != 0)
        goto fail;
    cm_data_fill(&cm);
    ret = fi_connect(c->ep, info->dest_addr, &cm, sizeof(cm));
    if (ret) {
        log_info("rdma: fi_connect to %s:%u failed: %s", inet_ntoa(op->addr.sin_addr), ntohs(op->addr.sin_port),
                 fi_strerror(-ret));
        err = rdma_fi_errno(ret);
        goto fail;
    }
    fi_freeinfo(info);
    c->connect_op = op;
    c->state = RC_CONNECTING;
    return 0;
fail:
    fi_freeinfo(info);
    /* Back to a fresh socket: release what ep_open made. */
    if (c->ep)
        fi_close(&c->ep->fid);
    if (c->cq)
        fi_close(&c->cq->fid);
    if (c->eq)
        fi_close(&c->eq->fid);
    c->ep = NULL;
    c->cq = NULL;
    c->eq = NULL;
    rdma_msg_teardown(c);
    return err;
}

/* A connection request on listener l: accept it into the backlog, or reject
 * it when the backlog is full or the peer does not speak our protocol. */
static void on_connreq(struct rdma_conn *l, struct fi_eq_cm_entry *e, size_t datalen)
{
    struct fi_info *info = e->info;
    struct rdma_cm_data cm;
    struct rdma_conn *child = NULL;
    int ret, err;

    if (l->backlog_len >= l->backlog_max) {
        log_info("rdma: backlog full (%u): rejecting a connection", l->backlog_max);
        goto reject;
    }
    if (!(child = rdma_conn_new()))
        goto reject;
    child->listener = l;
    if (info->dest_addr && info->dest_addrlen >= sizeof(child->peer))
        memcpy(&child->peer, info->dest_addr, sizeof(child->peer));
    if ((err = cm_data_use(child, e->data, datalen)) != 0) {
        log_info("rdma: rejecting a connection from %s:%u: not a libdemi rdma peer or bad window",
                 inet_ntoa(child->peer.sin_addr), ntohs(child->peer.sin_port));
        goto reject;
    }
    if ((err = ep_open(child, info)) != 0)
        goto reject;
    cm_data_fill(&cm);
    if ((ret = fi_accept(child->ep, &cm, sizeof(cm))) != 0) {
        log_info("rdma: fi_accept failed: %s", fi_strerror(-ret));
        goto destroy;
    }
    child->state = RC_ACCEPTING;
    child->local = l->local;
    TAILQ_INSERT_TAIL(&l->backlog, child, child_entry);
    l->backlog_len++;
    fi_freeinfo(info);
    return;
reject:
    fi_reject(l->pep, info->handle, NULL, 0);
destroy:
    if (child) {
        child->listener = NULL;
        rdma_conn_destroy(child);
    }
    fi_freeinfo(info);
}

/* FI_CONNECTED on c's EQ: the connection is up. */
static void on_connected(struct rdma_conn *c, struct fi_eq_cm_entry *e, size_t datalen)
{
    size_t len = sizeof(c->local);
    int err;

    if (c->state == RC_CONNECTING) {
        if ((err = cm_data_use(c, e->data, datalen)) != 0) {
            log_warn("rdma: %s:%u is not a libdemi rdma peer or sent a bad window", inet_ntoa(c->peer.sin_addr),
                     ntohs(c->peer.sin_port));
            rdma_conn_fail(c, ECONNREFUSED);
            return;
        }
        if (fi_getname(&c->ep->fid, &c->local, &len) == 0)
            c->bound = true;
        c->state = RC_CONNECTED;
        if (c->connect_op) {
            op_complete_connect(c->connect_op);
            c->connect_op = NULL;
        }
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
 * shutdown by the peer, errors (connection refused...). */
void rdma_conn_progress_eq(struct rdma_conn *c)
{
    struct rdma_cm_event ev;
    uint32_t event;

    for (int i = 0; i < EQ_BATCH && c->eq; i++) {
        ssize_t n = fi_eq_read(c->eq, &event, &ev, sizeof(ev), 0);

        if (n == -FI_EAGAIN)
            return;
        if (n == -FI_EAVAIL) {
            struct fi_eq_err_entry err;

            memset(&err, 0, sizeof(err));
            if (fi_eq_readerr(c->eq, &err, 0) < 0)
                return;
            log_debug("rdma: connection event error from %s:%u: %s", inet_ntoa(c->peer.sin_addr),
                      ntohs(c->peer.sin_port), fi_strerror(err.err));
            if (c->state == RC_LISTENING)
                continue;
            rdma_conn_fail(c, c->state == RC_CONNECTING ? (err.err ? err.err : ECONNREFUSED) : ECONNRESET);
            return;
        }
        if (n < 0)
            return;
        size_t datalen = (size_t)n > sizeof(ev.entry) ? (size_t)n - sizeof(ev.entry) : 0;
        switch (event) {
        case FI_CONNREQ:
            if (c->state == RC_LISTENING)
                on_connreq(c, &ev.entry, datalen);
            else
                fi_freeinfo(ev.entry.info);
            break;
        case FI_CONNECTED:
            on_connected(c, &ev.entry, datalen);
            break;
        case FI_SHUTDOWN:
            /* Take in what arrived before the shutdown (BYE, last messages). */
            if (c->state == RC_CONNECTED || c->state == RC_LINGER)
                rdma_msg_progress(c);
            rdma_conn_fail(c, ECONNRESET);
            return;
        default:
            break;
        }
    }
}

/* Marks c broken with err: its pending operations fail (pops are first
 * served from what already arrived; after a BYE they see end-of-stream). */
void rdma_conn_fail(struct rdma_conn *c, int err)
{
    if (c->state == RC_FAILED)
        return;
    if (c->state == RC_CONNECTED && !c->peer_bye)
        log_info("rdma: connection to %s:%u broken: %s", inet_ntoa(c->peer.sin_addr), ntohs(c->peer.sin_port),
                 strerror(err));
    c->state = RC_FAILED;
    if (!c->err)
        c->err = err;
    if (c->connect_op) {
        op_fail(c->connect_op, err);
        c->connect_op = NULL;
    }
    rdma_msg_fail_ops(c, err);
}

/* Closes the fabric objects of c and frees it (its queue is gone). */
void rdma_conn_destroy(struct rdma_conn *c)
{
    struct rdma_conn *child;

    while ((child = TAILQ_FIRST(&c->backlog)) != NULL) {
        TAILQ_REMOVE(&c->backlog, child, child_entry);
        child->listener = NULL;
        rdma_conn_destroy(child);
    }
    if (c->listener) {
        TAILQ_REMOVE(&c->listener->backlog, c, child_entry);
        c->listener->backlog_len--;
        c->listener = NULL;
    }
    if (c->ep) {
        if (c->state == RC_CONNECTED || c->state == RC_LINGER)
            fi_shutdown(c->ep, 0);
        fi_close(&c->ep->fid);
    }
    if (c->pep)
        fi_close(&c->pep->fid);
    if (c->cq)
        fi_close(&c->cq->fid);
    if (c->eq)
        fi_close(&c->eq->fid);
    rdma_msg_teardown(c);
    if (c->connect_op)
        op_fail(c->connect_op, ECANCELED);
    TAILQ_REMOVE(&rdma_st.conns, c, all_entry);
    free(c);
}

/* The application closed c's queue: pending operations fail with
 * ECANCELED; an established connection sends BYE and lingers (the poll loop
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
    c->linger_deadline_ns = clock_now_ns() + rdma_st.linger_ns;
    rdma_msg_progress(c);
}

/* True when a lingering or orphaned connection should be destroyed now. */
bool rdma_conn_reapable(const struct rdma_conn *c, uint64_t now)
{
    if (c->listener)
        return c->state == RC_FAILED;   /* broke before anyone accepted it */
    if (c->q)
        return false;
    if (c->state == RC_FAILED)
        return true;
    return c->state == RC_LINGER && ((c->bye_queued && rdma_msg_drained(c)) || now >= c->linger_deadline_ns);
}
