/*
 * The rdma libOS's message layer: eager sends, rendezvous by fi_write,
 * receiver-driven credits, and the push/pop operations (protocol in rdma.h).
 *
 * Call order per connection: rdma_msg_setup (receive slab) ->
 * rdma_msg_post_recvs -> [connection established] rdma_msg_setup_tx ->
 * rdma_msg_push / rdma_msg_pop / rdma_msg_progress (from the poll loop) ->
 * rdma_msg_fail_ops (failure or close) -> rdma_msg_teardown (after the
 * endpoint is closed, so nothing can still be written into our memory).
 *
 * Progress order: read the CQ (control messages act at once; DATA and RTS
 * are held in their receive buffers, in order), consume held messages while
 * the receive window allows, hand ready messages to pending pops, then send:
 * control messages first, then queued pushes, then rendezvous writes, and
 * finally an explicit credit update if credits are still owed.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rdma.h"
#include "runtime.h"

#define CQ_BATCH 32

static uint32_t credit_threshold(const struct rdma_conn *c)
{
    return c->rx_nbufs / 2 > 2 ? c->rx_nbufs / 2 : 2;
}

/* Allocates the receive slab and its slots; returns 0 or a positive errno. */
int rdma_msg_setup(struct rdma_conn *c)
{
    c->rx_nbufs = rdma_st.recv_bufs;
    c->rx_bufsize = rdma_st.recv_size;
    c->rx_region = rdma_region_alloc((size_t)c->rx_nbufs * c->rx_bufsize, FI_RECV);
    if (!c->rx_region)
        return errno ? errno : ENOMEM;
    c->rx_slots = calloc(c->rx_nbufs, sizeof(*c->rx_slots));
    if (!c->rx_slots)
        return ENOMEM;
    for (uint32_t i = 0; i < c->rx_nbufs; i++) {
        c->rx_slots[i].ctx.kind = RDMA_CTX_RECV;
        c->rx_slots[i].ctx.owner = &c->rx_slots[i];
        c->rx_slots[i].conn = c;
        c->rx_slots[i].mem = c->rx_region->mem + (size_t)i * c->rx_bufsize;
    }
    return 0;
}

/* Sets up the send side once the peer's receive window is known; returns 0,
 * EPROTO for a peer window out of range, or ENOMEM. */
int rdma_msg_setup_tx(struct rdma_conn *c, uint32_t peer_bufs, uint32_t peer_size)
{
    uint32_t nslots;

    if (peer_bufs < RDMA_RECV_BUFS_MIN || peer_bufs > RDMA_RECV_BUFS_MAX || peer_size < RDMA_RECV_SIZE_MIN ||
        peer_size > RDMA_RECV_SIZE_MAX || (uint64_t)peer_bufs * peer_size > RDMA_SLAB_MAX)
        return EPROTO;
    c->peer_nbufs = peer_bufs;
    c->peer_bufsize = peer_size;
    c->tx_credits = peer_bufs;
    RDMA_COUNT(c, credits_granted, peer_bufs);
    nslots = peer_bufs + 2;
    c->tx_region = rdma_region_alloc((size_t)nslots * peer_size, FI_SEND);
    if (!c->tx_region)
        return ENOMEM;
    c->tx_slots = calloc(nslots, sizeof(*c->tx_slots));
    if (!c->tx_slots)
        return ENOMEM;
    for (uint32_t i = nslots; i-- > 0;) {
        struct rdma_tx_slot *s = &c->tx_slots[i];

        s->ctx.kind = RDMA_CTX_SEND;
        s->ctx.owner = s;
        s->conn = c;
        s->mem = c->tx_region->mem + (size_t)i * peer_size;
        s->next_free = c->tx_free;
        c->tx_free = s;
    }
    return 0;
}

static int post_recv(struct rdma_conn *c, struct rdma_rx_slot *s)
{
    ssize_t ret = fi_recv(c->ep, s->mem, c->rx_bufsize, c->rx_region->desc, 0, &s->ctx);

    if (ret) {
        log_warn("rdma: fi_recv failed: %s", fi_strerror((int)-ret));
        return rdma_fi_errno(ret);
    }
    return 0;
}

/* Posts every receive buffer; returns 0 or a positive errno. */
int rdma_msg_post_recvs(struct rdma_conn *c)
{
    for (uint32_t i = 0; i < c->rx_nbufs; i++) {
        int err = post_recv(c, &c->rx_slots[i]);
        if (err)
            return err;
    }
    return 0;
}

/* Reposts a consumed receive buffer: one more credit owed to the peer. */
static void repost(struct rdma_conn *c, struct rdma_rx_slot *s)
{
    int err;

    if (c->state != RC_CONNECTED && c->state != RC_LINGER)
        return;     /* the endpoint is dead: the buffer just stays */
    if ((err = post_recv(c, s)) != 0) {
        rdma_conn_fail(c, ECONNRESET);
        return;
    }
    c->credits_owed++;
}

static void txmsg_release(struct rdma_txmsg *m)
{
    for (uint32_t i = 0; i < m->nbufs; i++) {
        rdma_mr_put(m->mrs[i]);
        buf_unref(m->bufs[i]);
    }
    m->nbufs = 0;
}

static void txmsg_free(struct rdma_conn *c, struct rdma_txmsg *m)
{
    TAILQ_REMOVE(&c->txmsgs, m, entry);
    txmsg_release(m);
    free(m);
}

static void rx_consume(struct rdma_conn *c);
static void deliver(struct rdma_conn *c);

/* Fails every push of c with err. Pops fail with ECANCELED (close); after
 * a failure they are first served from what already arrived, then get
 * end-of-stream (the peer said BYE) or err. */
void rdma_msg_fail_ops(struct rdma_conn *c, int err)
{
    struct demi_op *op;
    struct rdma_txmsg *m, *next;

    while ((op = TAILQ_FIRST(&c->pushes)) != NULL) {
        TAILQ_REMOVE(&c->pushes, op, lentry);
        op_fail(op, err);
    }
    for (m = TAILQ_FIRST(&c->txmsgs); m; m = next) {
        next = TAILQ_NEXT(m, entry);
        if (m->op) {
            m->op->lctx = NULL;
            op_fail(m->op, err);
            m->op = NULL;
        }
        if (m->writes_out == 0)
            txmsg_free(c, m);
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

/* Frees everything of the message layer (the endpoint must be closed). */
void rdma_msg_teardown(struct rdma_conn *c)
{
    struct rdma_rxmsg *rm;
    struct rdma_ctl *ctl;
    struct rdma_txmsg *m;

    rdma_msg_fail_ops(c, ECANCELED);
    while ((m = TAILQ_FIRST(&c->txmsgs)) != NULL)
        txmsg_free(c, m);
    while ((rm = TAILQ_FIRST(&c->rx_ready)) != NULL) {
        TAILQ_REMOVE(&c->rx_ready, rm, entry);
        buf_unref(rm->buf);
        free(rm);
    }
    while ((ctl = TAILQ_FIRST(&c->ctls)) != NULL) {
        TAILQ_REMOVE(&c->ctls, ctl, entry);
        free(ctl);
    }
    TAILQ_INIT(&c->rx_held);
    c->rx_window_bytes = 0;
    rdma_region_free(c->rx_region);
    rdma_region_free(c->tx_region);
    free(c->rx_slots);
    free(c->tx_slots);
    c->rx_region = c->tx_region = NULL;
    c->rx_slots = NULL;
    c->tx_slots = NULL;
    c->tx_free = NULL;
}

/* Queues a control message; returns 0 or ENOMEM. */
static int queue_ctl(struct rdma_conn *c, uint8_t type, uint64_t id, uint64_t size, uint64_t addr, uint64_t key)
{
    struct rdma_ctl *ctl = calloc(1, sizeof(*ctl));

    if (!ctl)
        return ENOMEM;
    ctl->hdr.type = type;
    ctl->hdr.version = 1;
    ctl->hdr.id = htole64(id);
    ctl->hdr.size = htole64(size);
    ctl->hdr.addr = htole64(addr);
    ctl->hdr.key = htole64(key);
    TAILQ_INSERT_TAIL(&c->ctls, ctl, entry);
    return 0;
}

/* Queues BYE after everything already queued. */
void rdma_msg_queue_bye(struct rdma_conn *c)
{
    if (!c->bye_queued && c->tx_region && queue_ctl(c, RDMA_MSG_BYE, 0, 0, 0, 0) == 0)
        c->bye_queued = true;
}

/* True when nothing of c is still waiting to be sent or completed. */
bool rdma_msg_drained(const struct rdma_conn *c)
{
    return TAILQ_EMPTY(&c->ctls) && TAILQ_EMPTY(&c->txmsgs) && c->sends_out == 0;
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

/* Posts the message of len bytes built in slot s, returning owed credits in
 * its header. Returns 0, EAGAIN (slot back on the free list, try again
 * later) or a positive errno (the connection failed). */
static int post_send(struct rdma_conn *c, struct rdma_tx_slot *s, uint32_t len)
{
    struct rdma_hdr *h = (struct rdma_hdr *)s->mem;
    uint32_t give = c->credits_owed > UINT16_MAX ? UINT16_MAX : c->credits_owed;
    uint64_t in_flight;
    ssize_t ret;

    h->credits = htole16((uint16_t)give);
    ret = fi_send(c->ep, s->mem, len, c->tx_region->desc, 0, &s->ctx);
    if (ret == -FI_EAGAIN) {
        RDMA_COUNT(c, eagain, 1);
        s->next_free = c->tx_free;
        c->tx_free = s;
        return EAGAIN;
    }
    if (ret) {
        log_warn("rdma: fi_send failed: %s", fi_strerror((int)-ret));
        s->next_free = c->tx_free;
        c->tx_free = s;
        rdma_conn_fail(c, ECONNRESET);
        return ECONNRESET;
    }
    c->credits_owed -= give;
    c->tx_credits--;
    c->tx_stalled = false;
    c->sends_out++;
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

static struct rdma_tx_slot *slot_get(struct rdma_conn *c)
{
    struct rdma_tx_slot *s = c->tx_free;

    if (s)
        c->tx_free = s->next_free;
    return s;
}

/* Sends the first control message if it may go; returns 0 when it went
 * (or was dropped), EAGAIN when it must wait, or a positive errno. */
static int send_ctl(struct rdma_conn *c, struct rdma_ctl *ctl)
{
    bool returns = ctl->hdr.type == RDMA_MSG_BYE || c->credits_owed > 0;
    struct rdma_tx_slot *s;
    int err;

    if (!credit_ok(c, returns)) {
        note_stall(c);
        return EAGAIN;
    }
    if (!(s = slot_get(c)))
        return EAGAIN;
    memcpy(s->mem, &ctl->hdr, RDMA_CTL_HDR);
    if ((err = post_send(c, s, RDMA_CTL_HDR)) != 0)
        return err;
    TAILQ_REMOVE(&c->ctls, ctl, entry);
    free(ctl);
    return 0;
}

/* Sends op eagerly (copy into a send slot); the push completes at once. */
static int send_eager(struct rdma_conn *c, struct demi_op *op)
{
    struct rdma_tx_slot *s;
    struct rdma_hdr *h;
    uint8_t *p;
    int err;

    if (!credit_ok(c, c->credits_owed > 0)) {
        note_stall(c);
        return EAGAIN;
    }
    if (!(s = slot_get(c)))
        return EAGAIN;
    h = (struct rdma_hdr *)s->mem;
    h->type = RDMA_MSG_DATA;
    h->version = 1;
    h->len = htole32((uint32_t)op->total_len);
    h->id = 0;
    p = s->mem + RDMA_DATA_HDR;
    for (uint32_t i = 0; i < op->nbufs; i++) {
        memcpy(p, op->bufs[i]->data, op->bufs[i]->len);
        p += op->bufs[i]->len;
    }
    if ((err = post_send(c, s, RDMA_DATA_HDR + (uint32_t)op->total_len)) != 0)
        return err;
    TAILQ_REMOVE(&c->pushes, op, lentry);
    RDMA_COUNT(c, eager_sent, 1);
    RDMA_COUNT(c, bytes_sent, op->total_len);
    op->done_len = op->total_len;
    op_complete_push(op);
    return 0;
}

/* Starts a rendezvous for op: registers its buffers and sends RTS. */
static int send_rts(struct rdma_conn *c, struct demi_op *op)
{
    struct rdma_tx_slot *s;
    struct rdma_txmsg *m;
    struct rdma_hdr *h;
    int err;

    if (!credit_ok(c, c->credits_owed > 0)) {
        note_stall(c);
        return EAGAIN;
    }
    if (!(m = calloc(1, sizeof(*m))))
        return ENOMEM;
    m->conn = c;
    m->op = op;
    m->size = op->total_len;
    m->wctx_free = (1u << RDMA_WRITES_MAX) - 1;
    for (uint32_t i = 0; i < RDMA_WRITES_MAX; i++) {
        m->wctx[i].kind = RDMA_CTX_WRITE;
        m->wctx[i].owner = m;
    }
    for (uint32_t i = 0; i < op->nbufs; i++) {
        if ((err = rdma_mr_get(op->bufs[i], c, &m->mrs[i], &m->descs[i])) != 0) {
            m->nbufs = i;
            txmsg_release(m);
            free(m);
            return err;
        }
        m->bufs[i] = buf_ref(op->bufs[i]);
        m->nbufs = i + 1;
    }
    if (!(s = slot_get(c))) {
        txmsg_release(m);
        free(m);
        return EAGAIN;
    }
    m->id = c->next_id;
    h = (struct rdma_hdr *)s->mem;
    memset(h, 0, sizeof(*h));
    h->type = RDMA_MSG_RTS;
    h->version = 1;
    h->id = htole64(m->id);
    h->size = htole64(m->size);
    if ((err = post_send(c, s, RDMA_CTL_HDR)) != 0) {
        txmsg_release(m);
        free(m);
        return err;
    }
    c->next_id++;
    m->state = TXM_WAIT_CTS;
    TAILQ_REMOVE(&c->pushes, op, lentry);
    op->lctx = m;
    TAILQ_INSERT_TAIL(&c->txmsgs, m, entry);
    RDMA_COUNT(c, rendezvous, 1);
    return 0;
}

/* Posts the next writes of a rendezvous message (up to RDMA_WRITES_MAX in
 * flight). Returns 0, or a positive errno when the connection failed. */
static int write_progress(struct rdma_conn *c, struct rdma_txmsg *m)
{
    while (m->state == TXM_WRITING && m->cur_buf < m->nbufs && m->wctx_free) {
        struct buf *b = m->bufs[m->cur_buf];
        uint64_t left = b->len - m->cur_off;
        uint64_t chunk = left < RDMA_WRITE_CHUNK ? left : RDMA_WRITE_CHUNK;
        int slot = __builtin_ctz(m->wctx_free);
        ssize_t ret;

        if (chunk > rdma_st.max_msg_size)
            chunk = rdma_st.max_msg_size;
        ret = fi_write(c->ep, b->data + m->cur_off, chunk, m->descs[m->cur_buf], 0, m->raddr + m->written, m->rkey,
                       &m->wctx[slot]);
        if (ret == -FI_EAGAIN) {
            RDMA_COUNT(c, eagain, 1);
            return 0;
        }
        if (ret) {
            log_warn("rdma: fi_write failed: %s", fi_strerror((int)-ret));
            rdma_conn_fail(c, ECONNRESET);
            return ECONNRESET;
        }
        m->wctx_free &= ~(1u << slot);
        m->writes_out++;
        m->written += chunk;
        m->cur_off += chunk;
        if (m->cur_off == b->len) {
            m->cur_buf++;
            m->cur_off = 0;
        }
    }
    return 0;
}

/* A write of m completed: when all of m was written, the push completes
 * (its buffers may be reused) and FIN tells the receiver. */
static void on_write_done(struct rdma_conn *c, struct rdma_txmsg *m, struct rdma_ctx *ctx)
{
    m->wctx_free |= 1u << (uint32_t)(ctx - m->wctx);
    m->writes_out--;
    if (m->writes_out > 0 || m->cur_buf < m->nbufs)
        return;
    if (m->op) {
        m->op->done_len = m->size;
        RDMA_COUNT(c, bytes_sent, m->size);
        op_complete_push(m->op);
        m->op = NULL;
        if (c->state == RC_CONNECTED || c->state == RC_LINGER)
            (void)queue_ctl(c, RDMA_MSG_FIN, m->id, m->size, 0, 0);
    }
    txmsg_free(c, m);
}

static void send_credit_update(struct rdma_conn *c)
{
    struct rdma_tx_slot *s;
    struct rdma_hdr *h;

    if (c->credits_owed < credit_threshold(c) || c->tx_credits == 0 || !(s = slot_get(c)))
        return;
    h = (struct rdma_hdr *)s->mem;
    memset(h, 0, sizeof(*h));
    h->type = RDMA_MSG_CREDIT;
    h->version = 1;
    if (post_send(c, s, RDMA_CTL_HDR) == 0)
        RDMA_COUNT(c, credit_updates, 1);
}

/* Sends what may go: control messages, queued pushes, rendezvous writes,
 * and an explicit credit update when credits are still owed. */
static void tx_progress(struct rdma_conn *c)
{
    struct rdma_txmsg *m, *next;
    struct rdma_ctl *ctl;
    struct demi_op *op;

    while ((ctl = TAILQ_FIRST(&c->ctls)) != NULL)
        if (send_ctl(c, ctl) != 0)
            goto writes;
    while (c->state == RC_CONNECTED && (op = TAILQ_FIRST(&c->pushes)) != NULL) {
        int err = op->total_len + RDMA_DATA_HDR <= c->peer_bufsize ? send_eager(c, op) : send_rts(c, op);
        if (err == ENOMEM) {
            TAILQ_REMOVE(&c->pushes, op, lentry);
            op_fail(op, ENOMEM);
        } else if (err) {
            break;
        }
    }
writes:
    for (m = TAILQ_FIRST(&c->txmsgs); m && c->state != RC_FAILED; m = next) {
        next = TAILQ_NEXT(m, entry);
        if (write_progress(c, m))
            return;
    }
    if (c->state == RC_CONNECTED)
        send_credit_update(c);
}

static int protocol_error(struct rdma_conn *c, const char *what)
{
    log_warn("rdma: protocol error from %s:%u: %s", inet_ntoa(c->peer.sin_addr), ntohs(c->peer.sin_port), what);
    rdma_conn_fail(c, ECONNRESET);
    return -1;
}

static struct rdma_txmsg *find_txmsg(struct rdma_conn *c, uint64_t id)
{
    struct rdma_txmsg *m;

    TAILQ_FOREACH(m, &c->txmsgs, entry)
        if (m->id == id)
            return m;
    return NULL;
}

/* Handles one received message in slot s (len bytes). DATA and RTS are held
 * for rx_consume; everything else acts now and the buffer is reposted. */
static void on_recv(struct rdma_conn *c, struct rdma_rx_slot *s, size_t len)
{
    struct rdma_hdr *h = (struct rdma_hdr *)s->mem;
    uint16_t credits;
    struct rdma_txmsg *m;
    struct rdma_rxmsg *rm;

    if (len < RDMA_DATA_HDR || h->version != 1)
        return (void)protocol_error(c, "short message or bad version");
    credits = le16toh(h->credits);
    if ((uint64_t)c->tx_credits + credits > c->peer_nbufs)
        return (void)protocol_error(c, "more credits than buffers");
    c->tx_credits += credits;
    RDMA_COUNT(c, credits_granted, credits);
    if (h->type != RDMA_MSG_DATA && len < RDMA_CTL_HDR)
        return (void)protocol_error(c, "short control message");
    switch (h->type) {
    case RDMA_MSG_DATA:
        if (le32toh(h->len) == 0 || le32toh(h->len) > len - RDMA_DATA_HDR)
            return (void)protocol_error(c, "bad DATA length");
        /* fall through */
    case RDMA_MSG_RTS:
        if (h->type == RDMA_MSG_RTS && (le64toh(h->size) == 0 || le64toh(h->size) > runtime_cfg.sga_max))
            return (void)protocol_error(c, "RTS size out of range");
        RDMA_COUNT(c, msgs_received, 1);
        if (c->state == RC_LINGER)
            break;      /* nobody will pop it */
        s->len = (uint32_t)len;
        TAILQ_INSERT_TAIL(&c->rx_held, s, entry);
        return;
    case RDMA_MSG_CTS:
        m = find_txmsg(c, le64toh(h->id));
        if (m && m->state == TXM_WAIT_CTS) {
            if (le64toh(h->size) != m->size)
                return (void)protocol_error(c, "CTS size mismatch");
            m->raddr = le64toh(h->addr);
            m->rkey = le64toh(h->key);
            m->state = TXM_WRITING;
        }
        break;
    case RDMA_MSG_FIN:
        TAILQ_FOREACH(rm, &c->rx_ready, entry)
            if (!rm->complete && rm->id == le64toh(h->id))
                break;
        if (!rm)
            return (void)protocol_error(c, "FIN for an unknown message");
        rm->complete = true;
        RDMA_COUNT(c, bytes_received, rm->size);
        break;
    case RDMA_MSG_CREDIT:
        break;
    case RDMA_MSG_BYE:
        c->peer_bye = true;
        break;
    default:
        return (void)protocol_error(c, "unknown message type");
    }
    repost(c, s);
}

/* Consumes held DATA/RTS in order while the receive window allows: DATA is
 * copied out, RTS gets registered memory and a CTS. The buffer is reposted
 * (a credit for the peer). */
static void rx_consume(struct rdma_conn *c)
{
    struct rdma_rx_slot *s;
    struct rdma_rxmsg *rm;

    while ((s = TAILQ_FIRST(&c->rx_held)) != NULL && (c->state == RC_CONNECTED || c->state == RC_FAILED)) {
        struct rdma_hdr *h = (struct rdma_hdr *)s->mem;
        struct rdma_region *r;

        if (c->rx_window_bytes > 0 && c->rx_window_bytes >= rdma_st.rx_window) {
            RDMA_COUNT(c, rx_window_stalls, 1);
            return;
        }
        if (!(rm = calloc(1, sizeof(*rm))))
            return;
        if (h->type == RDMA_MSG_DATA) {
            rm->size = le32toh(h->len);
            rm->buf = buf_alloc(rm->size);
            if (!rm->buf)
                goto nomem;
            memcpy(rm->buf->data, s->mem + RDMA_DATA_HDR, rm->size);
            rm->complete = true;
            RDMA_COUNT(c, bytes_received, rm->size);
        } else if (c->state != RC_CONNECTED) {
            free(rm);   /* a rendezvous cannot finish on a dead endpoint */
            TAILQ_REMOVE(&c->rx_held, s, entry);
            continue;
        } else {
            rm->id = le64toh(h->id);
            rm->size = le64toh(h->size);
            rm->buf = rdma_rxbuf_alloc(c, rm->size);
            if (!rm->buf)
                goto nomem;
            r = rdma_rxbuf_region(rm->buf);
            if (queue_ctl(c, RDMA_MSG_CTS, rm->id, rm->size,
                          (rdma_st.mr_mode & FI_MR_VIRT_ADDR) ? (uint64_t)(uintptr_t)r->mem : 0, r->key) != 0) {
                buf_unref(rm->buf);
                goto nomem;
            }
            RDMA_COUNT(c, rendezvous_received, 1);
        }
        TAILQ_REMOVE(&c->rx_held, s, entry);
        TAILQ_INSERT_TAIL(&c->rx_ready, rm, entry);
        c->rx_window_bytes += rm->size;
        repost(c, s);
    }
    return;
nomem:
    free(rm);
    log_warn("rdma: out of memory for a received message; will retry");
}

/* Hands ready messages to pending pops, in order. After BYE, pops past the
 * last message get end-of-stream (a zero-length sga); on a failed
 * connection they fail with its error. */
static void deliver(struct rdma_conn *c)
{
    struct demi_op *op;

    while ((op = TAILQ_FIRST(&c->pops)) != NULL) {
        struct rdma_rxmsg *rm = TAILQ_FIRST(&c->rx_ready);

        if (rm && rm->complete) {
            TAILQ_REMOVE(&c->rx_ready, rm, entry);
            c->rx_window_bytes -= rm->size;
            TAILQ_REMOVE(&c->pops, op, lentry);
            op_complete_pop(op, &rm->buf, 1, NULL);
            free(rm);
            continue;
        }
        if (!TAILQ_EMPTY(&c->rx_held) && c->state == RC_CONNECTED)
            return;
        if (c->peer_bye && (TAILQ_EMPTY(&c->rx_held) || (rm && c->state == RC_FAILED))) {
            if (rm) {
                /* The sender closed before finishing this message: drop it. */
                TAILQ_REMOVE(&c->rx_ready, rm, entry);
                c->rx_window_bytes -= rm->size;
                buf_unref(rm->buf);
                free(rm);
                rx_consume(c);
                continue;
            }
            TAILQ_REMOVE(&c->pops, op, lentry);
            op_complete_pop(op, NULL, 0, NULL);
            continue;
        }
        if (c->state != RC_FAILED)
            return;
        TAILQ_REMOVE(&c->pops, op, lentry);
        op_fail(op, c->err ? c->err : ECONNRESET);
    }
}

/* Reads completions of c's CQ; returns how many, or -1 when c failed. */
static int cq_progress(struct rdma_conn *c)
{
    struct fi_cq_msg_entry e[CQ_BATCH];
    ssize_t n = fi_cq_read(c->cq, e, CQ_BATCH);

    if (n == -FI_EAGAIN)
        return 0;
    if (n == -FI_EAVAIL) {
        struct fi_cq_err_entry err;

        memset(&err, 0, sizeof(err));
        if (fi_cq_readerr(c->cq, &err, 0) > 0)
            log_debug("rdma: completion error on %s:%u: %s", inet_ntoa(c->peer.sin_addr), ntohs(c->peer.sin_port),
                      fi_strerror(err.err));
        rdma_conn_fail(c, ECONNRESET);
        return -1;
    }
    if (n < 0) {
        rdma_conn_fail(c, ECONNRESET);
        return -1;
    }
    for (ssize_t i = 0; i < n; i++) {
        struct rdma_ctx *ctx = e[i].op_context;

        if (c->state == RC_FAILED)
            return -1;
        switch (ctx->kind) {
        case RDMA_CTX_RECV:
            on_recv(c, ctx->owner, e[i].len);
            break;
        case RDMA_CTX_SEND: {
            struct rdma_tx_slot *s = ctx->owner;
            s->next_free = c->tx_free;
            c->tx_free = s;
            c->sends_out--;
            break;
        }
        case RDMA_CTX_WRITE:
            on_write_done(c, ctx->owner, ctx);
            break;
        }
    }
    return (int)n;
}

/* One round of progress on an established (or lingering) connection;
 * returns the number of completions handled. */
int rdma_msg_progress(struct rdma_conn *c)
{
    int n = 0;

    if (c->state == RC_CONNECTED || c->state == RC_LINGER) {
        int k;
        while ((k = cq_progress(c)) > 0)
            n += k;
    }
    if (c->state == RC_CONNECTED) {
        rx_consume(c);
        deliver(c);
        tx_progress(c);
    } else if (c->state == RC_LINGER) {
        tx_progress(c);
    }
    return n;
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
    if (op->total_len > runtime_cfg.sga_max)
        return EMSGSIZE;
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
