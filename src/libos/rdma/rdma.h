/*
 * The rdma libOS: Demikernel queues over connected libfabric endpoints
 * (FI_EP_MSG, the reliable-connected model of verbs), with libdemi's own
 * message layer on top (private to libdemi).
 *
 * Files: rdma.c (ops table, init/fini of fabric and domain, the poll loop,
 * socket/bind/close/options, counters), rdma_conn.c (endpoints, listen,
 * accept, connect, the per-endpoint EQ, failures and teardown), rdma_msg.c
 * (wire protocol: eager sends, rendezvous, credits, push and pop), rdma_mr.c
 * (registered memory: slabs, rendezvous receive buffers, the registration
 * cache for pushed buffers).
 *
 * Message semantics: every demi_push is one message and every demi_pop
 * returns exactly one whole message, in order (up to DEMI_SGA_MAX bytes).
 * A pop returns one segment per message; a zero-length pop means the peer
 * closed.
 *
 * Wire protocol (all integers little-endian, see struct rdma_hdr):
 *  - each side posts DEMI_RDMA_RECV_BUFS buffers of DEMI_RDMA_RECV_SIZE
 *    bytes and tells the peer both numbers in the connection's CM data; the
 *    peer starts with that many credits;
 *  - a message whose header + payload fits the peer's buffer goes eagerly
 *    (DATA, copied into a registered send slot; the push completes when the
 *    send is posted);
 *  - a larger one goes by rendezvous: the sender announces it (RTS id,size),
 *    the receiver allocates registered memory and advertises it (CTS id,
 *    addr, key), the sender fi_write's the pushed buffers into it (zero
 *    copy, through the registration cache), and once the writes completed
 *    it completes the push and sends FIN id; the message is then popped from
 *    that memory without a copy;
 *  - every send costs one credit; every header returns the credits of the
 *    buffers its sender reposted since its last header (piggyback); when
 *    half of the receive window was reposted and nothing else is going, an
 *    explicit CREDIT message carries them. The last credit is reserved for
 *    messages that return credits, which makes the exchange deadlock-free;
 *  - the receiver stops consuming DATA/RTS (its buffers stay full, so the
 *    credits stop) once DEMI_RDMA_RX_WINDOW bytes wait to be popped: a fast
 *    sender stalls instead of growing anyone's memory;
 *  - demi_close sends BYE after everything queued, lingers until the sends
 *    completed (at most DEMI_RDMA_LINGER_MS), then shuts the endpoint down.
 *    A peer that disappears without BYE fails pending ops with ECONNRESET.
 */
#ifndef DEMI_LIBOS_RDMA_RDMA_H_
#define DEMI_LIBOS_RDMA_RDMA_H_

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "buf.h"
#include "libos_ops.h"
#include "op.h"
#include "queue.h"

extern const struct demi_libos_ops rdma_libos_ops;

#define RDMA_FI_VERSION FI_VERSION(1, 9)
#define RDMA_CM_MAGIC 0x444d4931u       /* "DMI1" */
#define RDMA_RECV_BUFS_MIN 4u           /* fewer could deadlock the credit exchange */
#define RDMA_RECV_BUFS_MAX 4096u
#define RDMA_RECV_SIZE_MIN 128u
#define RDMA_RECV_SIZE_MAX (16u << 20)
#define RDMA_WRITES_MAX 8               /* fi_write's in flight per rendezvous message */
#define RDMA_WRITE_CHUNK (256u << 20)   /* largest single fi_write */
#define RDMA_BACKLOG_DEFAULT 128
#define RDMA_IDLE_NAP_MIN_NS 20000      /* poll(block_ns): naps when idle, growing with the idle time */
#define RDMA_IDLE_NAP_MAX_NS 250000
#define RDMA_IDLE_AFTER_NS 1000000      /* ... once nothing happened for this long */
#define RDMA_SLAB_MAX (256ull << 20)       /* largest receive slab (bufs x size) */

/* Message types on the wire. */
enum rdma_msg_type {
    RDMA_MSG_DATA = 1,      /* eager payload follows the header */
    RDMA_MSG_RTS = 2,       /* rendezvous: id, size */
    RDMA_MSG_CTS = 3,       /* rendezvous: id, size, addr, key of the receiver's memory */
    RDMA_MSG_FIN = 4,       /* rendezvous: id was written */
    RDMA_MSG_CREDIT = 5,    /* credits only */
    RDMA_MSG_BYE = 6,       /* the sender closed: nothing follows */
};

/* Header of every message (40 bytes; DATA payload follows at byte 16). */
struct rdma_hdr {
    uint8_t type;           /* enum rdma_msg_type */
    uint8_t version;        /* 1 */
    uint16_t credits;       /* credits returned to the receiver of this header */
    uint32_t len;           /* DATA: payload bytes */
    uint64_t id;            /* RTS/CTS/FIN: rendezvous message id */
    uint64_t size;          /* RTS/CTS: message bytes */
    uint64_t addr;          /* CTS: target address (or offset, without FI_MR_VIRT_ADDR) */
    uint64_t key;           /* CTS: remote key */
};
#define RDMA_DATA_HDR 16u   /* DATA uses only type..id */
#define RDMA_CTL_HDR ((uint32_t)sizeof(struct rdma_hdr))

/* Connection data exchanged by fi_connect / fi_accept. */
struct rdma_cm_data {
    uint32_t magic;
    uint32_t recv_bufs;
    uint32_t recv_size;
    uint32_t reserved;
};

/* Counters kept per connection and summed globally. X(field, "name"). */
#define RDMA_COUNTERS(X)                                                                                               \
    X(credits_granted, "rdma.credits_granted")                                                                         \
    X(credits_used, "rdma.credits_used")                                                                               \
    X(credits_returned, "rdma.credits_returned")                                                                       \
    X(max_in_flight, "rdma.max_in_flight")                                                                             \
    X(credit_stalls, "rdma.credit_stalls")                                                                             \
    X(credit_updates, "rdma.credit_updates")                                                                           \
    X(msgs_sent, "rdma.msgs_sent")                                                                                     \
    X(msgs_received, "rdma.msgs_received")                                                                             \
    X(bytes_sent, "rdma.bytes_sent")                                                                                   \
    X(bytes_received, "rdma.bytes_received")                                                                           \
    X(eager_sent, "rdma.eager_sent")                                                                                   \
    X(rendezvous, "rdma.rendezvous")                                                                                   \
    X(rendezvous_received, "rdma.rendezvous_received")                                                                \
    X(rx_window_stalls, "rdma.rx_window_stalls")                                                                       \
    X(eagain, "rdma.eagain")                                                                                           \
    X(mr_cache_hits, "rdma.mr_cache_hits")                                                                             \
    X(mr_cache_misses, "rdma.mr_cache_misses")

struct rdma_counters {
#define RDMA_CTR_FIELD(f, n) uint64_t f;
    RDMA_COUNTERS(RDMA_CTR_FIELD)
#undef RDMA_CTR_FIELD
};

/* A completion context: every posted operation names one (FI_CONTEXT2 room first). */
enum rdma_ctx_kind { RDMA_CTX_RECV = 1, RDMA_CTX_SEND = 2, RDMA_CTX_WRITE = 3 };
struct rdma_ctx {
    struct fi_context2 fictx;
    uint8_t kind;           /* enum rdma_ctx_kind */
    void *owner;            /* RECV/SEND: the slot; WRITE: the struct rdma_txmsg */
};

/* A registered memory region (slab, rendezvous buffer or cached app buffer). */
struct rdma_region {
    uint8_t *mem;
    size_t len;
    struct fid_mr *mr;      /* NULL once deregistered (after fini) */
    void *desc;
    uint64_t key;
    bool mapped;            /* mem came from mmap */
    LIST_ENTRY(rdma_region) live;   /* rendezvous buffers handed to the app */
    bool on_live;
};

/* A receive buffer posted to the endpoint. */
struct rdma_rx_slot {
    struct rdma_ctx ctx;
    struct rdma_conn *conn;
    uint8_t *mem;
    uint32_t len;           /* bytes received (valid while held) */
    TAILQ_ENTRY(rdma_rx_slot) entry;
};

/* A send slot: registered staging memory for one outgoing message. */
struct rdma_tx_slot {
    struct rdma_ctx ctx;
    struct rdma_conn *conn;
    uint8_t *mem;
    struct rdma_tx_slot *next_free;
};

/* A received message waiting to be popped (in order). */
struct rdma_rxmsg {
    uint64_t id;            /* rendezvous id */
    uint64_t size;
    struct buf *buf;        /* payload (heap copy, or a registered rendezvous buffer) */
    bool complete;          /* DATA, or FIN arrived */
    TAILQ_ENTRY(rdma_rxmsg) entry;
};

struct rdma_mr_entry;

/* A rendezvous push in progress (op->lctx). */
enum rdma_txmsg_state { TXM_RTS_QUEUED = 0, TXM_WAIT_CTS = 1, TXM_WRITING = 2, TXM_FIN_QUEUED = 3 };
struct rdma_txmsg {
    struct rdma_conn *conn;
    struct demi_op *op;     /* NULL once the op was completed or failed */
    uint64_t id;
    uint64_t size;
    int state;              /* enum rdma_txmsg_state */
    uint64_t raddr, rkey;
    struct buf *bufs[DEMI_SGARRAY_MAXSIZE];  /* own references: alive while writes are in flight */
    void *descs[DEMI_SGARRAY_MAXSIZE];
    struct rdma_mr_entry *mrs[DEMI_SGARRAY_MAXSIZE]; /* cache entries in use (NULL: none needed) */
    uint32_t nbufs;
    uint32_t cur_buf;       /* write cursor */
    uint64_t cur_off;
    uint64_t written;       /* bytes posted so far */
    uint32_t writes_out;
    struct rdma_ctx wctx[RDMA_WRITES_MAX];
    uint32_t wctx_free;     /* bitmap of free wctx */
    TAILQ_ENTRY(rdma_txmsg) entry;
};

/* A control message waiting for a credit (CTS, FIN, CREDIT, BYE). */
struct rdma_ctl {
    struct rdma_hdr hdr;
    TAILQ_ENTRY(rdma_ctl) entry;
};

enum rdma_conn_state {
    RC_NEW = 0,             /* socket created, maybe bound */
    RC_LISTENING,
    RC_CONNECTING,          /* fi_connect sent */
    RC_ACCEPTING,           /* fi_accept sent (child of a listener) */
    RC_CONNECTED,
    RC_LINGER,              /* closed by the app, draining sends before shutdown */
    RC_FAILED,              /* broken: err says why */
};

TAILQ_HEAD(rdma_conn_list, rdma_conn);

struct rdma_conn {
    struct demi_queue *q;   /* NULL while in a backlog or lingering */
    int state;              /* enum rdma_conn_state */
    int err;                /* first failure (SO_ERROR) */
    bool bound;
    struct sockaddr_in local, peer;

    struct fid_eq *eq;
    struct fid_pep *pep;    /* listener */
    struct fid_ep *ep;
    struct fid_cq *cq;

    /* listener */
    struct rdma_conn_list backlog;  /* children being accepted or ready */
    uint32_t backlog_len, backlog_max;
    struct op_list accepts;
    struct rdma_conn *listener;     /* child: its listener until accepted */
    TAILQ_ENTRY(rdma_conn) child_entry;

    struct demi_op *connect_op;

    /* receive side */
    struct rdma_region *rx_region;
    struct rdma_rx_slot *rx_slots;
    uint32_t rx_nbufs, rx_bufsize;
    TAILQ_HEAD(, rdma_rx_slot) rx_held;     /* DATA/RTS not yet consumed, in order */
    TAILQ_HEAD(, rdma_rxmsg) rx_ready;      /* consumed, waiting for pops, in order */
    uint64_t rx_window_bytes;               /* bytes in rx_ready */
    struct op_list pops;
    uint32_t credits_owed;                  /* reposted buffers not reported yet */
    bool peer_bye;

    /* send side */
    struct rdma_region *tx_region;
    struct rdma_tx_slot *tx_slots;
    struct rdma_tx_slot *tx_free;
    uint32_t tx_credits;
    uint32_t peer_nbufs, peer_bufsize;
    uint32_t sends_out;                     /* sends posted, not completed */
    struct op_list pushes;                  /* pushes not yet started */
    TAILQ_HEAD(, rdma_txmsg) txmsgs;        /* rendezvous in progress, in order */
    TAILQ_HEAD(, rdma_ctl) ctls;            /* control messages waiting */
    bool credit_queued;
    uint64_t next_id;
    uint64_t linger_deadline_ns;
    bool bye_queued;
    bool tx_stalled;                        /* waiting for credits (counted once) */

    struct rdma_counters ctr;
    TAILQ_ENTRY(rdma_conn) all_entry;       /* rdma_state.conns */
};

/* Process-wide state of the libOS. */
struct rdma_state {
    struct fi_info *info;           /* the provider's base info */
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    uint64_t mr_mode;
    size_t max_msg_size;
    uint64_t next_key;
    uint32_t recv_bufs, recv_size;
    uint64_t rx_window;
    uint64_t mr_cache_max;
    uint64_t linger_ns;
    uint64_t last_active_ns;        /* start of the current idle stretch (0: busy) */
    struct rdma_conn_list conns;    /* every connection and listener, lingering ones too */
    struct rdma_counters ctr;       /* global sums */
};

extern struct rdma_state rdma_st;

#define RDMA_COUNT(conn, field, n)                                                                                     \
    do {                                                                                                               \
        (conn)->ctr.field += (n);                                                                                      \
        rdma_st.ctr.field += (n);                                                                                      \
    } while (0)

/* rdma.c */
int rdma_fi_errno(ssize_t ret);
struct fi_info *rdma_hints(void);

/* rdma_conn.c */
struct rdma_conn *rdma_conn_new(void);
int rdma_conn_listen(struct rdma_conn *c, int backlog);
int rdma_conn_accept(struct rdma_conn *c, struct demi_op *op);
int rdma_conn_connect(struct rdma_conn *c, struct demi_op *op);
void rdma_conn_progress_eq(struct rdma_conn *c);
void rdma_conn_fail(struct rdma_conn *c, int err);
void rdma_conn_close(struct rdma_conn *c);
void rdma_conn_destroy(struct rdma_conn *c);
bool rdma_conn_reapable(const struct rdma_conn *c, uint64_t now);
int rdma_conn_setup_established(struct rdma_conn *c, const void *cm, size_t cmlen);

/* rdma_msg.c */
int rdma_msg_setup(struct rdma_conn *c);
int rdma_msg_setup_tx(struct rdma_conn *c, uint32_t peer_bufs, uint32_t peer_size);
void rdma_msg_teardown(struct rdma_conn *c);
int rdma_msg_post_recvs(struct rdma_conn *c);
int rdma_msg_push(struct rdma_conn *c, struct demi_op *op);
int rdma_msg_pop(struct rdma_conn *c, struct demi_op *op);
int rdma_msg_progress(struct rdma_conn *c);
void rdma_msg_fail_ops(struct rdma_conn *c, int err);
void rdma_msg_queue_bye(struct rdma_conn *c);
bool rdma_msg_drained(const struct rdma_conn *c);

/* rdma_mr.c */
struct rdma_region *rdma_region_alloc(size_t len, uint64_t access);
void rdma_region_free(struct rdma_region *r);
struct buf *rdma_rxbuf_alloc(struct rdma_conn *c, size_t len);
struct rdma_region *rdma_rxbuf_region(struct buf *b);
struct rdma_mr_entry;
int rdma_mr_get(struct buf *b, struct rdma_conn *c, struct rdma_mr_entry **entry_out, void **desc_out);
void rdma_mr_put(struct rdma_mr_entry *e);
void rdma_mr_fini(void);

#endif /* DEMI_LIBOS_RDMA_RDMA_H_ */
