/*
 * The rdma libOS's message layer: eager sends, rendezvous by fi_read,
 * receiver-driven credits, and the push/pop operations (protocol in rdma.h,
 * formats in rdma_wire.h).
 *
 * Call order per connection: rdma_msg_setup_rx (receive slab, buffers
 * posted) and rdma_msg_setup_tx (send slots, once the peer's window is
 * known) -> rdma_msg_push / rdma_msg_pop / rdma_msg_on_completion (from the
 * CQ) / rdma_msg_progress (from the poll loop) -> rdma_msg_fail_ops and
 * rdma_msg_expose_close (failure or close) -> rdma_msg_teardown (after the
 * endpoint is closed and the CQ drained, so nothing can still touch our
 * memory).
 *
 * Progress order: completions act at once (control messages; DATA and RTS
 * are held in their receive buffers, in order; read completions finish
 * rendezvous), then per connection: consume held messages while the
 * receive window allows, hand complete messages to pending pops, then
 * send: control messages first, then queued pushes, and finally an explicit
 * credit update if credits are still owed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rdma.h"
#include "runtime.h"

static uint32_t credit_threshold(const struct rdma_conn *c)
{
    return c->rx_nbufs / 2 > 2 ? c->rx_nbufs / 2 : 2;
}

static struct rdma_wire_limits wire_limits(void)
{
    struct rdma_wire_limits lim = {.msg_max = runtime_cfg.sga_max < UINT32_MAX ? runtime_cfg.sga_max : UINT32_MAX};
    return lim;
}

static int post_recv(struct rdma_conn *c, struct rdma_rx_slot *s)
{
    ssize_t ret = fi_recv(c->ep, s->mem, c->rx_bufsize, c->rx_slab.mr.desc, 0, &s->ctx);

    if (ret) {
        log_warn("rdma: fi_recv failed: %s", fi_strerror((int)-ret));
        return rdma_fi_errno(ret);
    }
    return 0;
}

/* Registers the receive slab and posts every buffer. Returns 0 or a
 * positive errno (ENOMEM: over the memory budget). */
int rdma_msg_setup_rx(struct rdma_conn *c)
{
    int err;

    c->rx_nbufs = rdma_st.recv_bufs;
    c->rx_bufsize = rdma_st.recv_size;
    if ((err = rdma_slab_alloc(&rdma_st.dom, c, c->ep, (size_t)c->rx_nbufs * c->rx_bufsize, FI_RECV, &c->rx_slab)) != 0)
        return err;
    c->rx_slots = calloc(c->rx_nbufs, sizeof(*c->rx_slots));
    if (!c->rx_slots)
        return ENOMEM;
    for (uint32_t i = 0; i < c->rx_nbufs; i++) {
        struct rdma_rx_slot *s = &c->rx_slots[i];

        s->ctx.kind = RDMA_CTX_RECV;
        s->ctx.conn = c;
        s->ctx.owner = s;
        s->mem = c->rx_slab.mem + (size_t)i * c->rx_bufsize;
        if ((err = post_recv(c, s)) != 0)
            return err;
    }
    return 0;
}

/* Registers the send slots for the peer's window (c->peer_cm), each the
 * smaller of the two sides' buffer sizes, one per credit we could use up
 * to our own buffer count, plus two. Returns 0 or ENOMEM. */
int rdma_msg_setup_tx(struct rdma_conn *c)
{
    uint32_t nslots, size;
    int err;

    c->peer_nbufs = c->peer_cm.recv_bufs;
    c->tx_credits = c->peer_cm.credits;
    RDMA_COUNT(c, credits_granted, c->peer_cm.credits);
    size = c->peer_cm.recv_size < rdma_st.recv_size ? c->peer_cm.recv_size : rdma_st.recv_size;
    nslots = (c->peer_nbufs < rdma_st.recv_bufs ? c->peer_nbufs : rdma_st.recv_bufs) + 2;
    c->tx_slot_size = size;
    if ((err = rdma_slab_alloc(&rdma_st.dom, c, c->ep, (size_t)nslots * size, FI_SEND, &c->tx_slab)) != 0)
        return err;
    c->tx_slots = calloc(nslots, sizeof(*c->tx_slots));
    if (!c->tx_slots)
        return ENOMEM;
    for (uint32_t i = nslots; i-- > 0;) {
        struct rdma_tx_slot *s = &c->tx_slots[i];

        s->ctx.kind = RDMA_CTX_SEND;
        s->ctx.conn = c;
        s->ctx.owner = s;
        s->mem = c->tx_slab.mem + (size_t)i * size;
        s->next_free = c->tx_free;
        c->tx_free = s;
    }
    return 0;
}

/* Reposts a consumed receive buffer: one more credit owed to the peer. */
static void repost(struct rdma_conn *c, struct rdma_rx_slot *s)
{
    if (c->state != RC_CONNECTED && c->state != RC_LINGER)
        return;     /* the endpoint is dead: the buffer just stays */
    if (post_recv(c, s) != 0) {
        rdma_conn_abort(c, ECONNRESET);
        return;
    }
    c->credits_owed++;
}

/* Closes a rendezvous push's registrations (no remote access from now on). */
static void txmsg_unexpose(struct rdma_txmsg *m)
{
    for (uint32_t i = 0; i < m->nbufs; i++)
        rdma_mr_close(&m->mrs[i]);
}

static void txmsg_free(struct rdma_txmsg *m)
{
    txmsg_unexpose(m);
    for (uint32_t i = 0; i < m->nbufs; i++)
        buf_unref(m->bufs[i]);
    free(m);
}

/* Frees the retiring rendezvous whose fence send completed: the provider
 * sends in order, so nothing it queued before (a read response from those
 * buffers) can still be going. Only sends with a completion count (not
 * injected ones). */
static void retire_done(struct rdma_conn *c)
{
    struct rdma_txmsg *m;

    while ((m = TAILQ_FIRST(&c->retiring)) != NULL && m->fence < c->sends_done) {
        TAILQ_REMOVE(&c->retiring, m, entry);
        txmsg_free(m);
    }
}

/* Frees a received message (its reads are over or the endpoint is closed). */
static void rxmsg_free(struct rdma_rxmsg *rm)
{
    if (rm->rv) {
        rdma_mr_close(&rm->rv->mr);
        free(rm->rv);
    }
    buf_unref(rm->buf);
    free(rm);
}

static void rx_consume(struct rdma_conn *c);
static void deliver(struct rdma_conn *c);

/* Fails every push of c with err (rendezvous already announced keep their
 * registrations: the peer may still read them while c lingers). Pops fail
 * with ECANCELED (close); after a failure they are first served from what
 * already arrived, then get end-of-stream (the peer said BYE) or err. */
void rdma_msg_fail_ops(struct rdma_conn *c, int err)
{
    struct demi_op *op;
    struct rdma_txmsg *m;

    while ((op = TAILQ_FIRST(&c->pushes)) != NULL) {
        TAILQ_REMOVE(&c->pushes, op, lentry);
        op_fail(op, err);
    }
    TAILQ_FOREACH(m, &c->txmsgs, entry) {
        if (m->op) {
            m->op->lctx = NULL;
            op_fail(m->op, err);
            m->op = NULL;
        }
    }
    if (err == ECANCELED) {
        while ((op = TAILQ_FIRST(&c->pops)) != NULL) {
            TAILQ_REMOVE(&c->pops, op, lentry);
            op_fail(op, err);
        }
        return;
    }
    rx_consume(c);
    deliver(c);
}

/* The connection is over: closes every rendezvous registration now. The
 * buffers stay referenced until teardown (the provider may still be
 * sending from them until the endpoint is closed). */
void rdma_msg_expose_close(struct rdma_conn *c)
{
    struct rdma_txmsg *m;

    while ((m = TAILQ_FIRST(&c->txmsgs)) != NULL) {
        TAILQ_REMOVE(&c->txmsgs, m, entry);
        txmsg_unexpose(m);
        if (m->op) {
            m->op->lctx = NULL;
            op_fail(m->op, c->err ? c->err : ECONNRESET);
            m->op = NULL;
        }
        m->fence = UINT64_MAX;
        TAILQ_INSERT_TAIL(&c->retiring, m, entry);
    }
}

/* Frees everything of the message layer (the endpoint is closed and the
 * CQ holds nothing of c any more). */
void rdma_msg_teardown(struct rdma_conn *c)
{
    struct rdma_rxmsg *rm;
    struct rdma_ctl *ctl;
    struct rdma_txmsg *m;

    rdma_msg_fail_ops(c, ECANCELED);
    while ((m = TAILQ_FIRST(&c->txmsgs)) != NULL) {
        TAILQ_REMOVE(&c->txmsgs, m, entry);
        txmsg_free(m);
    }
    while ((m = TAILQ_FIRST(&c->retiring)) != NULL) {
        TAILQ_REMOVE(&c->retiring, m, entry);
        txmsg_free(m);
    }
    TAILQ_INIT(&c->reading);
    while ((rm = TAILQ_FIRST(&c->rx_ready)) != NULL) {
        TAILQ_REMOVE(&c->rx_ready, rm, entry);
        rxmsg_free(rm);
    }
    while ((rm = TAILQ_FIRST(&c->rx_dropped)) != NULL) {
        TAILQ_REMOVE(&c->rx_dropped, rm, entry);
        rxmsg_free(rm);
    }
    while ((ctl = TAILQ_FIRST(&c->ctls)) != NULL) {
        TAILQ_REMOVE(&c->ctls, ctl, entry);
        free(ctl);
    }
    TAILQ_INIT(&c->rx_held);
    c->rx_window_bytes = 0;
    rdma_slab_free(&c->rx_slab);
    rdma_slab_free(&c->tx_slab);
    free(c->rx_slots);
    free(c->tx_slots);
    c->rx_slots = NULL;
    c->tx_slots = NULL;
    c->tx_free = NULL;
}

/* Queues a control message (fence: sent with a completion, see
 * retire_done); returns 0 or ENOMEM. */
static int queue_ctl_ex(struct rdma_conn *c, uint8_t type, uint64_t id, bool fence)
{
    struct rdma_ctl *ctl = malloc(sizeof(*ctl));

    if (!ctl)
        return ENOMEM;
    ctl->type = type;
    ctl->id = id;
    ctl->fence = fence;
    TAILQ_INSERT_TAIL(&c->ctls, ctl, entry);
    return 0;
}

static int queue_ctl(struct rdma_conn *c, uint8_t type, uint64_t id)
{
    return queue_ctl_ex(c, type, id, false);
}

/* Queues BYE after everything already queued. */
void rdma_msg_queue_bye(struct rdma_conn *c)
{
    if (!c->bye_queued && c->tx_slots && queue_ctl(c, RDMA_MSG_BYE, 0) == 0)
        c->bye_queued = true;
}

/* True when nothing of c is still waiting to be sent, read or completed. */
bool rdma_msg_drained(const struct rdma_conn *c)
{
    return TAILQ_EMPTY(&c->ctls) && TAILQ_EMPTY(&c->txmsgs) && c->sends_out == 0;
}

/* True when a rendezvous c is reading made no progress for
 * DEMI_RDMA_RNDV_TIMEOUT_MS. */
bool rdma_msg_stuck(const struct rdma_conn *c, uint64_t now)
{
    const struct rdma_rndv *rv;

    TAILQ_FOREACH(rv, &c->reading, entry)
        if (now - rv->progress_ns > rdma_st.rndv_ns)
            return true;
    return false;
}

/* Counts a stall once per wait for credits (cleared by the next send). */
static void note_stall(struct rdma_conn *c)
{
    if (!c->tx_stalled) {
        c->tx_stalled = true;
        RDMA_COUNT(c, credit_stalls, 1);
    }
}

/* May a message go now? The last credit is kept for messages that return credits. */
static bool credit_ok(const struct rdma_conn *c, bool returns_credits)
{
    return c->tx_credits >= 2 || (c->tx_credits == 1 && returns_credits);
}

static struct rdma_tx_slot *slot_get(struct rdma_conn *c)
{
    struct rdma_tx_slot *s = c->tx_free;

    if (s)
        c->tx_free = s->next_free;
    return s;
}

static void slot_put(struct rdma_conn *c, struct rdma_tx_slot *s)
{
    s->next_free = c->tx_free;
    c->tx_free = s;
}

/* Posts the message of len bytes built in slot s, returning owed credits in
 * its header. A message within the provider's inject size goes with
 * fi_inject (copied at once: no completion, the slot is free again) unless
 * fence asks for a completion. Returns 0, EAGAIN (slot back on the free
 * list, try again later) or a positive errno (the connection failed). */
static int post_send_ex(struct rdma_conn *c, struct rdma_tx_slot *s, uint32_t len, bool fence)
{
    uint32_t give = c->credits_owed > UINT16_MAX ? UINT16_MAX : c->credits_owed;
    bool inject = !fence && len <= rdma_st.inject_size;
    uint64_t in_flight;
    ssize_t ret;

    rdma_wire_put_credits(s->mem, (uint16_t)give);
    if (inject)
        ret = fi_inject(c->ep, s->mem, len, 0);
    else
        ret = fi_send(c->ep, s->mem, len, c->tx_slab.mr.desc, 0, &s->ctx);
    if (ret == -FI_EAGAIN) {
        RDMA_COUNT(c, eagain, 1);
        slot_put(c, s);
        rdma_mark(c);       /* the provider is busy: try again next poll */
        return EAGAIN;
    }
    if (ret) {
        log_warn("rdma: fi_send failed: %s", fi_strerror((int)-ret));
        slot_put(c, s);
        rdma_conn_abort(c, ECONNRESET);
        return ECONNRESET;
    }
    c->credits_owed -= give;
    c->tx_credits--;
    c->tx_stalled = false;
    if (inject) {
        slot_put(c, s);
    } else {
        c->sends_out++;
        c->sends_posted++;
    }
    RDMA_COUNT(c, credits_returned, give);
    RDMA_COUNT(c, credits_used, 1);
    RDMA_COUNT(c, msgs_sent, 1);
    in_flight = c->peer_nbufs - c->tx_credits;
    if (in_flight > c->ctr.max_in_flight)
        c->ctr.max_in_flight = in_flight;
    if (in_flight > rdma_st.ctr.max_in_flight)
        rdma_st.ctr.max_in_flight = in_flight;
    return 0;
}

static int post_send(struct rdma_conn *c, struct rdma_tx_slot *s, uint32_t len)
{
    return post_send_ex(c, s, len, false);
}

/* Sends the first control message if it may go; returns 0 when it went,
 * EAGAIN when it must wait, or a positive errno. */
static int send_ctl(struct rdma_conn *c, struct rdma_ctl *ctl)
{
    bool returns = ctl->type == RDMA_MSG_BYE || c->credits_owed > 0;
    struct rdma_tx_slot *s;
    int err;

    if (!credit_ok(c, returns)) {
        note_stall(c);
        return EAGAIN;
    }
    if (!(s = slot_get(c)))
        return EAGAIN;
    rdma_wire_put_hdr(s->mem, ctl->type, 0, 0, ctl->id);
    if ((err = post_send_ex(c, s, RDMA_HDR_LEN, ctl->fence)) != 0)
        return err;
    TAILQ_REMOVE(&c->ctls, ctl, entry);
    free(ctl);
    return 0;
}

/* Sends op eagerly (copy into a send slot); the push completes at once. */
static int send_eager(struct rdma_conn *c, struct demi_op *op)
{
    struct rdma_tx_slot *s;
    uint8_t *p;
    int err;

    if (!credit_ok(c, c->credits_owed > 0)) {
        note_stall(c);
        return EAGAIN;
    }
    if (!(s = slot_get(c)))
        return EAGAIN;
    rdma_wire_put_hdr(s->mem, RDMA_MSG_DATA, 0, (uint32_t)op->total_len, 0);
    p = s->mem + RDMA_HDR_LEN;
    for (uint32_t i = 0; i < op->nbufs; i++) {
        memcpy(p, op->bufs[i]->data, op->bufs[i]->len);
        p += op->bufs[i]->len;
    }
    if ((err = post_send(c, s, RDMA_HDR_LEN + (uint32_t)op->total_len)) != 0)
        return err;
    TAILQ_REMOVE(&c->pushes, op, lentry);
    RDMA_COUNT(c, eager_sent, 1);
    RDMA_COUNT(c, bytes_sent, op->total_len);
    op->done_len = op->total_len;
    op_complete_push(op);
    return 0;
}

/* Starts a rendezvous for op: registers each of its segments for remote
 * reads and sends RTS. Returns 0, EAGAIN (no credit, slot or memory now),
 * ENOMEM (the registration can never fit or failed: the caller fails the
 * push), or another positive errno (the connection failed). */
static int send_rts(struct rdma_conn *c, struct demi_op *op)
{
    struct rdma_wire_seg segs[RDMA_RTS_SEGS_MAX];
    struct rdma_tx_slot *s;
    struct rdma_txmsg *m;
    uint32_t n = 0, len;
    int err;

    if (!credit_ok(c, c->credits_owed > 0)) {
        note_stall(c);
        return EAGAIN;
    }
    if (!c->tx_free)
        return EAGAIN;
    if ((err = rdma_mem_check(c, op->total_len)) != 0) {
        if (err == EAGAIN)
            RDMA_COUNT(c, mem_stalls, 1);
        return err;
    }
    if (!(m = calloc(1, sizeof(*m))))
        return ENOMEM;
    m->op = op;
    m->size = op->total_len;
    for (uint32_t i = 0; i < op->nbufs; i++) {
        struct buf *b = op->bufs[i];

        if (b->len == 0)
            continue;
        if ((err = rdma_mr_reg(&rdma_st.dom, c, c->ep, b->data, b->len, FI_REMOTE_READ, &m->mrs[n])) != 0) {
            txmsg_free(m);
            return ENOMEM;
        }
        m->bufs[n] = buf_ref(b);
        m->nbufs = ++n;
        segs[n - 1].addr = rdma_mr_addr(&rdma_st.dom, b->data);
        segs[n - 1].key = m->mrs[n - 1].key;
        segs[n - 1].len = b->len;
    }
    s = slot_get(c);
    m->id = c->next_id;
    len = rdma_wire_put_rts(s->mem, m->id, m->size, segs, n);
    if ((err = post_send(c, s, len)) != 0) {
        txmsg_free(m);
        return err;
    }
    c->next_id++;
    TAILQ_REMOVE(&c->pushes, op, lentry);
    op->lctx = m;
    TAILQ_INSERT_TAIL(&c->txmsgs, m, entry);
    RDMA_COUNT(c, rendezvous, 1);
    return 0;
}

static void send_credit_update(struct rdma_conn *c)
{
    struct rdma_tx_slot *s;

    if (c->credits_owed < credit_threshold(c) || c->tx_credits == 0 || !(s = slot_get(c)))
        return;
    rdma_wire_put_hdr(s->mem, RDMA_MSG_CREDIT, 0, 0, 0);
    if (post_send(c, s, RDMA_HDR_LEN) == 0)
        RDMA_COUNT(c, credit_updates, 1);
}

/* Sends what may go: control messages, queued pushes, and an explicit
 * credit update when credits are still owed. */
static void tx_progress(struct rdma_conn *c)
{
    struct rdma_ctl *ctl;
    struct demi_op *op;

    if (!c->tx_slots)
        return;
    while ((ctl = TAILQ_FIRST(&c->ctls)) != NULL)
        if (send_ctl(c, ctl) != 0)
            return;
    while (c->state == RC_CONNECTED && (op = TAILQ_FIRST(&c->pushes)) != NULL) {
        int err = op->total_len + RDMA_HDR_LEN <= c->tx_slot_size ? send_eager(c, op) : send_rts(c, op);
        if (err == ENOMEM) {
            TAILQ_REMOVE(&c->pushes, op, lentry);
            op_fail(op, ENOMEM);
        } else if (err) {
            break;
        }
    }
    if (c->state == RC_CONNECTED)
        send_credit_update(c);
}

static void protocol_error(struct rdma_conn *c, const char *what)
{
    char peer[32];

    log_warn("rdma: protocol error from %s: %s", rdma_peer_str(c, peer, sizeof(peer)), what);
    RDMA_COUNT(c, protocol_errors, 1);
    rdma_conn_abort(c, ECONNRESET);
}

/* The peer read rendezvous id: its registrations close now, the push
 * completes, and the buffers are kept until a later send completed. */
static void on_done(struct rdma_conn *c, uint64_t id)
{
    struct rdma_txmsg *m;

    TAILQ_FOREACH(m, &c->txmsgs, entry)
        if (m->id == id)
            break;
    if (!m) {
        protocol_error(c, "DONE for an unknown message");
        return;
    }
    TAILQ_REMOVE(&c->txmsgs, m, entry);
    txmsg_unexpose(m);
    if (m->op) {
        m->op->lctx = NULL;
        m->op->done_len = m->size;
        RDMA_COUNT(c, bytes_sent, m->size);
        op_complete_push(m->op);
        m->op = NULL;
    }
    m->fence = c->sends_posted;
    TAILQ_INSERT_TAIL(&c->retiring, m, entry);
}

/* Handles one received message in slot s (len bytes). DATA and RTS are held
 * for rx_consume; everything else acts now and the buffer is reposted. */
static void on_recv(struct rdma_conn *c, struct rdma_rx_slot *s, size_t len)
{
    struct rdma_wire_limits lim = wire_limits();
    struct rdma_wire_msg msg;
    int werr;

    if (c->state != RC_CONNECTED && c->state != RC_LINGER)
        return;
    if ((werr = rdma_wire_parse(s->mem, len, &lim, &msg)) != 0) {
        protocol_error(c, rdma_wire_strerror(werr));
        return;
    }
    if ((uint64_t)c->tx_credits + msg.credits > c->peer_nbufs) {
        protocol_error(c, "more credits than buffers");
        return;
    }
    c->tx_credits += msg.credits;
    RDMA_COUNT(c, credits_granted, msg.credits);
    switch (msg.type) {
    case RDMA_MSG_DATA:
    case RDMA_MSG_RTS:
        RDMA_COUNT(c, msgs_received, 1);
        if (c->state == RC_LINGER)
            break;      /* nobody will pop it */
        s->len = (uint32_t)len;
        s->type = msg.type;
        TAILQ_INSERT_TAIL(&c->rx_held, s, entry);
        return;
    case RDMA_MSG_DONE:
        on_done(c, msg.id);
        break;
    case RDMA_MSG_CREDIT:
        break;
    case RDMA_MSG_BYE:
        c->peer_bye = true;
        break;
    }
    if (c->state == RC_CONNECTED || c->state == RC_LINGER)
        repost(c, s);
}

/* The connection is up: handles the messages that completed before. */
void rdma_msg_replay_early(struct rdma_conn *c)
{
    struct rdma_rx_slot *s;

    while ((s = TAILQ_FIRST(&c->rx_early)) != NULL && c->state == RC_CONNECTED) {
        TAILQ_REMOVE(&c->rx_early, s, entry);
        on_recv(c, s, s->len);
    }
}

/* Posts the next reads of a rendezvous (up to RDMA_READS_MAX in flight). */
static void read_progress(struct rdma_conn *c, struct rdma_rndv *rv)
{
    struct buf *b = rv->msg->buf;

    while (rv->cur_seg < rv->nsegs && rv->rctx_free && c->state == RC_CONNECTED) {
        const struct rdma_wire_seg *g = &rv->segs[rv->cur_seg];
        uint64_t chunk = g->len - rv->cur_off;
        int slot = __builtin_ctz(rv->rctx_free);
        ssize_t ret;

        if (chunk > RDMA_READ_CHUNK)
            chunk = RDMA_READ_CHUNK;
        if (chunk > rdma_st.max_msg_size)
            chunk = rdma_st.max_msg_size;
        ret = fi_read(c->ep, b->data + rv->dst_off, chunk, rv->mr.desc, 0, g->addr + rv->cur_off, g->key,
                      &rv->rctx[slot]);
        if (ret == -FI_EAGAIN) {
            RDMA_COUNT(c, eagain, 1);
            rdma_mark(c);   /* the provider is busy: try again next poll */
            return;
        }
        if (ret) {
            log_warn("rdma: fi_read failed: %s", fi_strerror((int)-ret));
            rdma_conn_abort(c, ECONNRESET);
            return;
        }
        rv->rctx_free &= ~(1u << slot);
        rv->rctx[slot].owner = rv;
        rv->reads_out++;
        rv->dst_off += chunk;
        rv->cur_off += chunk;
        rv->rlen[slot] = chunk;
        RDMA_COUNT(c, reads, 1);
        if (rv->cur_off == g->len) {
            rv->cur_seg++;
            rv->cur_off = 0;
        }
    }
}

/* A read of rendezvous rv completed: when all of it was read, the message
 * is complete and DONE tells the sender to close its registrations. */
static void on_read_done(struct rdma_conn *c, struct rdma_rndv *rv, struct rdma_ctx *ctx)
{
    struct rdma_rxmsg *rm = rv->msg;

    uint32_t slot = (uint32_t)(ctx - rv->rctx);

    rv->rctx_free |= 1u << slot;
    rv->reads_out--;
    if (c->state != RC_CONNECTED)
        return;     /* the message will never be delivered */
    rv->bytes_read += rv->rlen[slot];
    rv->progress_ns = clock_now_ns();
    if (rv->bytes_read < rm->size) {
        read_progress(c, rv);
        return;
    }
    /* Every byte is here: no remote access to anything of this message remains. */
    TAILQ_REMOVE(&c->reading, rv, entry);
    rdma_mr_close(&rv->mr);
    free(rv);
    rm->rv = NULL;
    rm->complete = true;
    RDMA_COUNT(c, bytes_received, rm->size);
    if (queue_ctl(c, RDMA_MSG_DONE, rm->id) != 0)
        rdma_conn_abort(c, ENOMEM);
}

/* Starts reading the rendezvous announced by msg into a new message.
 * Returns 0, EAGAIN (the registration must wait for memory) or ENOMEM. */
static int start_rndv(struct rdma_conn *c, const struct rdma_wire_msg *msg, struct rdma_rxmsg *rm)
{
    struct rdma_rndv *rv;
    int err;

    if ((rdma_st.dom.mr_mode & FI_MR_LOCAL) && (err = rdma_mem_check(c, msg->size)) != 0) {
        if (err == EAGAIN)
            RDMA_COUNT(c, mem_stalls, 1);
        return err;
    }
    if (!(rv = calloc(1, sizeof(*rv))))
        return ENOMEM;
    if (!(rm->buf = buf_alloc(msg->size))) {
        free(rv);
        return ENOMEM;
    }
    if ((rdma_st.dom.mr_mode & FI_MR_LOCAL) &&
        rdma_mr_reg(&rdma_st.dom, c, c->ep, rm->buf->data, msg->size, FI_READ, &rv->mr) != 0) {
        buf_unref(rm->buf);
        rm->buf = NULL;
        free(rv);
        return ENOMEM;
    }
    memcpy(rv->segs, msg->segs, msg->len * sizeof(msg->segs[0]));
    rv->nsegs = msg->len;
    rv->rctx_free = (1u << RDMA_READS_MAX) - 1;
    for (int i = 0; i < RDMA_READS_MAX; i++) {
        rv->rctx[i].kind = RDMA_CTX_READ;
        rv->rctx[i].conn = c;
        rv->rctx[i].owner = rv;
    }
    rv->progress_ns = clock_now_ns();
    rv->msg = rm;
    rm->rv = rv;
    rm->id = msg->id;
    TAILQ_INSERT_TAIL(&c->reading, rv, entry);
    rdma_timed();
    RDMA_COUNT(c, rendezvous_received, 1);
    return 0;
}

/* Consumes held DATA/RTS in order while the receive window allows: DATA is
 * copied out (straight to a waiting pop when nothing is ahead of it), RTS
 * starts its reads. The buffer is reposted (a credit for the peer). A
 * message that cannot get memory fails the connection with ENOMEM. */
static void rx_consume(struct rdma_conn *c)
{
    struct rdma_wire_limits lim = wire_limits();
    struct rdma_rx_slot *s;

    while ((s = TAILQ_FIRST(&c->rx_held)) != NULL && !c->lost &&
           (c->state == RC_CONNECTED || c->state == RC_FAILED)) {
        struct rdma_wire_msg msg;
        struct rdma_rxmsg *rm;
        uint64_t charge;
        int err;

        if (s->type == RDMA_MSG_DATA) {
            /* Checked on arrival: the payload is the rest of the message. */
            msg.type = RDMA_MSG_DATA;
            msg.payload = s->mem + RDMA_HDR_LEN;
            msg.size = s->len - RDMA_HDR_LEN;
        } else if (rdma_wire_parse(s->mem, s->len, &lim, &msg) != 0) {
            protocol_error(c, "held message changed");      /* cannot happen: checked on arrival */
            return;
        }
        charge = msg.size + RDMA_RXMSG_OVERHEAD;
        if (!TAILQ_EMPTY(&c->rx_ready) && c->rx_window_bytes + charge > rdma_st.rx_window) {
            RDMA_COUNT(c, rx_window_stalls, 1);
            return;
        }
        if (msg.type == RDMA_MSG_DATA) {
            struct buf *b = buf_copy_from(msg.payload, msg.size);
            struct demi_op *op;

            if (!b) {
                rdma_conn_abort(c, ENOMEM);
                return;
            }
            RDMA_COUNT(c, bytes_received, msg.size);
            TAILQ_REMOVE(&c->rx_held, s, entry);
            repost(c, s);
            if (TAILQ_EMPTY(&c->rx_ready) && (op = TAILQ_FIRST(&c->pops)) != NULL) {
                TAILQ_REMOVE(&c->pops, op, lentry);
                op_complete_pop(op, &b, 1, NULL);
                continue;
            }
            if (!(rm = calloc(1, sizeof(*rm)))) {
                buf_unref(b);
                rdma_conn_abort(c, ENOMEM);
                return;
            }
            rm->buf = b;
            rm->size = msg.size;
            rm->complete = true;
        } else if (c->state != RC_CONNECTED) {
            /* A rendezvous cannot finish on a dead endpoint: it and all
             * after it are lost. */
            TAILQ_INIT(&c->rx_held);
            c->lost = true;
            return;
        } else {
            if (!(rm = calloc(1, sizeof(*rm)))) {
                rdma_conn_abort(c, ENOMEM);
                return;
            }
            rm->size = msg.size;
            if ((err = start_rndv(c, &msg, rm)) != 0) {
                free(rm);
                if (err == EAGAIN)
                    return;
                log_warn("rdma: no memory for a message of %llu bytes", (unsigned long long)msg.size);
                rdma_conn_abort(c, ENOMEM);
                return;
            }
            TAILQ_REMOVE(&c->rx_held, s, entry);
            repost(c, s);
        }
        rm->charge = charge;
        TAILQ_INSERT_TAIL(&c->rx_ready, rm, entry);
        c->rx_window_bytes += charge;
        if (rm->rv)
            read_progress(c, rm->rv);
    }
}

/* Hands complete messages to pending pops, in order. After BYE, pops past
 * the last message get end-of-stream (a zero-length sga). On a failed
 * connection, complete messages are still delivered up to the first one
 * that can no longer complete; that one and everything after it are lost
 * (delivering later ones would leave a gap), and pops then fail with the
 * connection's error. */
static void deliver(struct rdma_conn *c)
{
    struct demi_op *op;

    while ((op = TAILQ_FIRST(&c->pops)) != NULL) {
        struct rdma_rxmsg *rm = TAILQ_FIRST(&c->rx_ready);

        if (rm && rm->complete && !c->lost) {
            TAILQ_REMOVE(&c->rx_ready, rm, entry);
            c->rx_window_bytes -= rm->charge;
            TAILQ_REMOVE(&c->pops, op, lentry);
            op_complete_pop(op, &rm->buf, 1, NULL);
            free(rm);
            continue;
        }
        if (c->state == RC_CONNECTED) {
            if (rm || !TAILQ_EMPTY(&c->rx_held) || !c->peer_bye)
                return;     /* being read, waiting for the window, or more may come */
        } else if (rm || c->lost) {
            /* Reads still posted may write into these until the endpoint
             * is closed: they are freed at teardown. */
            while ((rm = TAILQ_FIRST(&c->rx_ready)) != NULL) {
                TAILQ_REMOVE(&c->rx_ready, rm, entry);
                TAILQ_INSERT_TAIL(&c->rx_dropped, rm, entry);
            }
            c->rx_window_bytes = 0;
            TAILQ_INIT(&c->rx_held);
            c->lost = true;
        } else if (!TAILQ_EMPTY(&c->rx_held)) {
            return;
        }
        TAILQ_REMOVE(&c->pops, op, lentry);
        if (c->peer_bye && !c->lost)
            op_complete_pop(op, NULL, 0, NULL);
        else
            op_fail(op, c->err ? c->err : ECONNRESET);
    }
}

/* A completion of c's: acts on it and marks c for progress. */
void rdma_msg_on_completion(struct rdma_ctx *ctx, size_t len)
{
    struct rdma_conn *c = ctx->conn;

    if (c->dead)
        return;
    switch (ctx->kind) {
    case RDMA_CTX_RECV:
        if (c->state == RC_CONNECTING) {
            /* The provider connected the endpoint (and the peer's first
             * message came) before its FI_CONNECTED event was read. */
            struct rdma_rx_slot *s = ctx->owner;

            rdma_conn_progress_eq(c);
            if (c->state == RC_CONNECTING) {
                s->len = (uint32_t)len;
                TAILQ_INSERT_TAIL(&c->rx_early, s, entry);
                return;
            }
        }
        on_recv(c, ctx->owner, len);
        break;
    case RDMA_CTX_SEND:
        slot_put(c, ctx->owner);
        c->sends_out--;
        c->sends_done++;
        if (!TAILQ_EMPTY(&c->retiring))
            retire_done(c);
        break;
    case RDMA_CTX_READ:
        on_read_done(c, ctx->owner, ctx);
        break;
    }
    rdma_mark(c);
}

/* A failed completion of c's (err from the provider): the connection is
 * broken; the operation's resources are accounted for. */
void rdma_msg_on_error(struct rdma_ctx *ctx, int err)
{
    struct rdma_conn *c = ctx->conn;
    char peer[32];

    if (c->dead)
        return;
    switch (ctx->kind) {
    case RDMA_CTX_SEND:
        slot_put(c, ctx->owner);
        c->sends_out--;
        c->sends_done++;
        break;
    case RDMA_CTX_READ: {
        struct rdma_rndv *rv = ctx->owner;
        rv->rctx_free |= 1u << (uint32_t)(ctx - rv->rctx);
        rv->reads_out--;
        if (c->state == RC_CONNECTED)
            log_info("rdma: a rendezvous read from %s failed: %s", rdma_peer_str(c, peer, sizeof(peer)),
                     fi_strerror(err));
        break;
    }
    default:
        break;
    }
    if (c->state == RC_CONNECTED || c->state == RC_LINGER)
        rdma_conn_abort(c, ECONNRESET);
    rdma_mark(c);
}

/* One round of progress on c (from the poll loop's work list). */
void rdma_msg_progress(struct rdma_conn *c)
{
    if (c->state == RC_CONNECTED) {
        struct rdma_rndv *rv, *next;

        for (rv = TAILQ_FIRST(&c->reading); rv && c->state == RC_CONNECTED; rv = next) {
            next = TAILQ_NEXT(rv, entry);
            if (rv->cur_seg < rv->nsegs && rv->rctx_free)
                read_progress(c, rv);
        }
        rx_consume(c);
        deliver(c);
        tx_progress(c);
    } else if (c->state == RC_LINGER) {
        tx_progress(c);
    } else if (c->state == RC_FAILED) {
        deliver(c);
    }
}

/* A rendezvous whose buffers wait for their fence while nothing else is
 * being sent: a credit message is the fence (called from the sweep, so a
 * conversation that sends anyway pays nothing for it). */
void rdma_msg_nudge(struct rdma_conn *c)
{
    struct rdma_txmsg *m = TAILQ_FIRST(&c->retiring);

    if (m && m->fence != UINT64_MAX && c->sends_out == 0 && TAILQ_EMPTY(&c->ctls) && TAILQ_EMPTY(&c->pushes) &&
        (c->state == RC_CONNECTED || c->state == RC_LINGER) && queue_ctl_ex(c, RDMA_MSG_CREDIT, 0, true) == 0)
        rdma_mark(c);
}

/* Starts a push on c. Returns 0 (op owned), ENOTCONN, or EMSGSIZE. */
int rdma_msg_push(struct rdma_conn *c, struct demi_op *op)
{
    if (c->state == RC_FAILED) {
        op_fail(op, c->err ? c->err : ECONNRESET);
        return 0;
    }
    if (c->state != RC_CONNECTED)
        return ENOTCONN;
    if (op->total_len > runtime_cfg.sga_max || op->total_len > UINT32_MAX)
        return EMSGSIZE;
    if (op->total_len == 0)
        return EINVAL;
    if (c->peer_bye) {
        op_fail(op, ECONNRESET);
        return 0;
    }
    TAILQ_INSERT_TAIL(&c->pushes, op, lentry);
    tx_progress(c);
    return 0;
}

/* Starts a pop on c. Returns 0 (op owned) or ENOTCONN. */
int rdma_msg_pop(struct rdma_conn *c, struct demi_op *op)
{
    if (c->state != RC_CONNECTED && c->state != RC_FAILED)
        return ENOTCONN;
    TAILQ_INSERT_TAIL(&c->pops, op, lentry);
    rx_consume(c);
    deliver(c);
    if (c->state == RC_CONNECTED)
        tx_progress(c);
    return 0;
}
