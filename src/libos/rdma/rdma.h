/*
 * The rdma libOS: Demikernel queues over libfabric (private to libdemi).
 * Stream queues (SOCK_STREAM) run over connected endpoints (FI_EP_MSG, the
 * reliable-connected model of verbs) with libdemi's own message layer on
 * top; datagram queues (SOCK_DGRAM) over reliable-datagram endpoints
 * (FI_EP_RDM) of a second provider.
 *
 * Files: rdma.c (ops table, init/fini, configuration, the poll loop),
 * rdma_wait.c (sleeping on the providers' wait objects), rdma_conn.c
 * (endpoints, listen, accept, connect, connection events, failure,
 * teardown), rdma_msg.c (the message layer: eager sends, rendezvous by
 * fi_read, credits, push and pop), rdma_mr.c (every registration: keys,
 * provider modes, the memory budget), rdma_wire.c (the wire formats, pure),
 * rdma_dgram.c (datagram queues).
 *
 * Message semantics: every demi_push is one message and every demi_pop
 * returns exactly one whole message, in order, as one segment (up to
 * DEMI_SGA_MAX bytes). A zero-length pop means the peer closed.
 *
 * Protocol (formats in rdma_wire.h):
 *  - each side posts DEMI_RDMA_RECV_BUFS buffers of DEMI_RDMA_RECV_SIZE
 *    bytes and tells the peer both numbers in the connection data, with the
 *    credits it grants now: all of them when connecting, none when
 *    accepting. A connection the application has not taken with demi_accept
 *    has no receive buffers and no registered memory; demi_accept posts them
 *    and grants the credits (CREDIT), so nothing a peer sends before that is
 *    consumed;
 *  - a message whose header + payload fits a send slot (the smaller of the
 *    two sides' buffer sizes) goes eagerly (DATA, copied into a registered
 *    send slot; the push completes when the send is posted);
 *  - a larger one goes by rendezvous: the sender registers each pushed
 *    segment for remote reads only, with a fresh key (the provider's, or a
 *    random one), bound to the endpoint where the provider can, and sends
 *    RTS (id, size, segments: address only under FI_MR_VIRT_ADDR, key,
 *    length). The receiver reads the segments with fi_read into a buffer of
 *    its own (registered for local access only, where the provider needs
 *    that) and sends DONE; the sender then closes the registrations and the
 *    push completes. No memory of the receiver is ever remotely accessible,
 *    and none of the sender's after its message was read. A message is
 *    delivered only once all of its bytes were read;
 *  - every send costs one credit; every header returns the credits of the
 *    buffers its sender reposted since its last header (piggyback); when
 *    half of the receive window was reposted and nothing else is going, an
 *    explicit CREDIT carries them. The last credit is kept for messages that
 *    return credits, which makes the exchange deadlock-free;
 *  - the receiver stops consuming DATA and RTS (its buffers stay full, so
 *    the credits stop) while the messages waiting to be popped would exceed
 *    DEMI_RDMA_RX_WINDOW bytes, each charged its size plus
 *    RDMA_RXMSG_OVERHEAD (one message larger than the window is taken when
 *    nothing else waits);
 *  - every registration is charged to its connection and to the process
 *    (DEMI_RDMA_MEM_CONN, DEMI_RDMA_MEM_MAX): a push or an RTS that does not
 *    fit waits while other rendezvous hold memory, and fails with ENOMEM
 *    (once) when it can never fit or the provider refuses the registration;
 *  - a handshake that does not finish within DEMI_RDMA_CONNECT_TIMEOUT_MS
 *    fails (ETIMEDOUT), and so does a connection whose rendezvous reads make
 *    no progress for DEMI_RDMA_RNDV_TIMEOUT_MS;
 *  - demi_close sends BYE after everything queued, lingers until the sends
 *    completed (at most DEMI_RDMA_LINGER_MS), then closes the endpoint. A
 *    peer that disappears without BYE fails pending ops with ECONNRESET.
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
#include "rdma_wire.h"

extern const struct demi_libos_ops rdma_libos_ops;

#define RDMA_FI_VERSION FI_VERSION(1, 9)
#define RDMA_SLAB_MAX (256ull << 20)    /* largest receive slab (bufs x size) */
#define RDMA_READS_MAX 4                /* fi_read's in flight per rendezvous message */
#define RDMA_READ_CHUNK (4u << 20)      /* largest single fi_read */
#define RDMA_BACKLOG_DEFAULT 128
#define RDMA_BACKLOG_MAX 4096
#define RDMA_RXMSG_OVERHEAD 256u        /* window charge of a received message beyond its bytes */
#define RDMA_CQ_SIZE 4096
#define RDMA_SWEEP_POLLS 64             /* polls between sweeps of every connection (events, timeouts) */

/* The memory modes libdemi knows how to work with (asked for in the hints). */
#define RDMA_MR_MODES (FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT)

/* Counters kept per connection and summed globally. X(field, "name").
 * mem_registered and mem_registered_max are levels, not sums. */
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
    X(reads, "rdma.reads")                                                                                             \
    X(rx_window_stalls, "rdma.rx_window_stalls")                                                                       \
    X(mem_stalls, "rdma.mem_stalls")                                                                                   \
    X(eagain, "rdma.eagain")                                                                                           \
    X(mr_regs, "rdma.mr_regs")                                                                                         \
    X(mr_reg_failures, "rdma.mr_reg_failures")                                                                         \
    X(mem_registered, "rdma.mem_registered")                                                                           \
    X(mem_registered_max, "rdma.mem_registered_max")                                                                   \
    X(protocol_errors, "rdma.protocol_errors")                                                                         \
    X(timeouts, "rdma.timeouts")                                                                                       \
    X(conn_rejected, "rdma.conn_rejected")                                                                             \
    X(dgram_sent, "rdma.dgram_sent")                                                                                   \
    X(dgram_received, "rdma.dgram_received")                                                                           \
    X(dgram_dropped, "rdma.dgram_dropped")

struct rdma_counters {
#define RDMA_CTR_FIELD(f, n) uint64_t f;
    RDMA_COUNTERS(RDMA_CTR_FIELD)
#undef RDMA_CTR_FIELD
};

struct rdma_conn;

/* A completion context: every posted operation names one (FI_CONTEXT2 room first). */
enum rdma_ctx_kind { RDMA_CTX_RECV = 1, RDMA_CTX_SEND = 2, RDMA_CTX_READ = 3 };
struct rdma_ctx {
    struct fi_context2 fictx;
    uint8_t kind;           /* enum rdma_ctx_kind */
    struct rdma_conn *conn;
    void *owner;            /* RECV/SEND: the slot; READ: the struct rdma_rxmsg */
};

/* A domain and the memory modes it works in (one for stream queues, one
 * for datagram queues). */
struct rdma_domain {
    struct fid_domain *domain;
    uint64_t mr_mode;
    size_t key_size;
};

/* One registration, charged to a connection (or to the process only). */
struct rdma_mr {
    struct fid_mr *mr;      /* NULL: not registered */
    void *desc;
    uint64_t key;
    size_t len;
    struct rdma_conn *conn;
};

/* Memory this libOS owns and registers once (receive and send slabs). */
struct rdma_slab {
    uint8_t *mem;
    size_t len;
    bool mapped;
    struct rdma_mr mr;
};

/* A receive buffer posted to the endpoint. */
struct rdma_rx_slot {
    struct rdma_ctx ctx;
    uint8_t *mem;
    uint32_t len;           /* bytes received (valid while held) */
    uint8_t type;           /* DATA or RTS (valid while held) */
    TAILQ_ENTRY(rdma_rx_slot) entry;
};

/* A send slot: registered staging memory for one outgoing message. */
struct rdma_tx_slot {
    struct rdma_ctx ctx;
    uint8_t *mem;
    struct rdma_tx_slot *next_free;
};

/* The reading side of a rendezvous (rxmsg->rv). */
struct rdma_rndv {
    struct rdma_mr mr;              /* the destination, where the provider needs local registration */
    struct rdma_wire_seg segs[RDMA_RTS_SEGS_MAX];
    uint32_t nsegs;
    uint32_t cur_seg;               /* read cursor */
    uint64_t cur_off;
    uint64_t dst_off;
    uint64_t bytes_read;            /* completed */
    uint32_t reads_out;
    uint32_t rctx_free;             /* bitmap of free rctx */
    uint64_t progress_ns;           /* start, or the last read completion */
    uint64_t rlen[RDMA_READS_MAX];  /* bytes of the read in rctx[i] */
    struct rdma_ctx rctx[RDMA_READS_MAX];
    TAILQ_ENTRY(rdma_rndv) entry;   /* conn->reading */
    struct rdma_rxmsg *msg;
};

/* A received message waiting to be popped (in order). */
struct rdma_rxmsg {
    uint64_t id;
    uint64_t size;
    uint64_t charge;        /* counted in rx_window_bytes */
    struct buf *buf;        /* the payload (heap) */
    bool complete;          /* DATA, or every byte read */
    struct rdma_rndv *rv;   /* rendezvous: NULL once complete */
    TAILQ_ENTRY(rdma_rxmsg) entry;
};

/* A rendezvous push: its segments exposed for remote reads until DONE. */
struct rdma_txmsg {
    struct demi_op *op;     /* NULL once the op was completed or failed */
    uint64_t id;
    uint64_t size;
    uint64_t fence;         /* retiring: freed once the send numbered fence + 1 completed */
    uint32_t nbufs;
    struct buf *bufs[DEMI_SGARRAY_MAXSIZE];     /* own references */
    struct rdma_mr mrs[DEMI_SGARRAY_MAXSIZE];
    TAILQ_ENTRY(rdma_txmsg) entry;
};
TAILQ_HEAD(rdma_txmsg_list, rdma_txmsg);

/* A control message waiting for a credit (DONE, CREDIT, BYE). */
struct rdma_ctl {
    uint8_t type;
    bool fence;             /* sent with a completion (never injected) */
    uint64_t id;
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
    bool accepted;          /* receive buffers posted, credits granted (connect side: always) */
    bool dead;              /* endpoint closed, memory waits for the CQ to drain */
    bool dirty;             /* on rdma_st.work */
    uint64_t dead_poll;     /* the poll during which it was destroyed */
    struct sockaddr_in local, peer;
    uint64_t deadline_ns;   /* handshake (CONNECTING, ACCEPTING) or linger (LINGER) */

    struct fid_eq *eq;
    struct fid_pep *pep;    /* listener */
    struct fid_ep *ep;
    int eq_fd;              /* the EQ's wait fd in rdma_st's epoll set, or -1 */

    /* listener */
    struct rdma_conn_list backlog;  /* children being accepted or ready */
    uint32_t backlog_len, backlog_max;
    struct op_list accepts;
    struct rdma_conn *listener;     /* child: its listener until accepted */
    TAILQ_ENTRY(rdma_conn) child_entry;

    struct demi_op *connect_op;
    struct rdma_wire_cm peer_cm;    /* the peer's connection data */

    /* receive side */
    struct rdma_slab rx_slab;
    struct rdma_rx_slot *rx_slots;
    uint32_t rx_nbufs, rx_bufsize;
    TAILQ_HEAD(, rdma_rx_slot) rx_held;     /* DATA/RTS not yet consumed, in order */
    TAILQ_HEAD(, rdma_rx_slot) rx_early;    /* completed before FI_CONNECTED was read */
    TAILQ_HEAD(, rdma_rxmsg) rx_ready;      /* consumed, waiting for pops, in order */
    TAILQ_HEAD(, rdma_rxmsg) rx_dropped;    /* never complete (failed), freed at teardown */
    TAILQ_HEAD(, rdma_rndv) reading;        /* rendezvous being read */
    uint64_t rx_window_bytes;               /* charges of rx_ready */
    struct op_list pops;
    uint32_t credits_owed;                  /* reposted buffers not reported yet */
    bool peer_bye;
    bool lost;                              /* failed with a message undelivered: nothing more is */

    /* send side */
    struct rdma_slab tx_slab;
    struct rdma_tx_slot *tx_slots;
    struct rdma_tx_slot *tx_free;
    uint32_t tx_slot_size;
    uint32_t tx_credits;
    uint32_t peer_nbufs;
    uint32_t sends_out;                     /* sends posted, not completed */
    uint64_t sends_posted, sends_done;      /* totals (fences of retiring rendezvous) */
    struct op_list pushes;                  /* pushes not yet started */
    struct rdma_txmsg_list txmsgs;          /* rendezvous waiting for DONE */
    struct rdma_txmsg_list retiring;        /* DONE seen; buffers kept until a later send completed */
    TAILQ_HEAD(, rdma_ctl) ctls;            /* control messages waiting */
    uint64_t next_id;
    bool bye_queued;
    bool tx_stalled;                        /* waiting for credits (counted once) */

    uint64_t mem;                           /* bytes registered for this connection */
    struct rdma_counters ctr;
    TAILQ_ENTRY(rdma_conn) all_entry;       /* rdma_st.conns or rdma_st.grave */
    TAILQ_ENTRY(rdma_conn) work_entry;      /* rdma_st.work */
};

/* Process-wide state of the libOS. */
struct rdma_state {
    struct fi_info *info;           /* the provider's base info */
    struct fid_fabric *fabric;
    struct rdma_domain dom;
    struct fid_cq *cq;              /* one CQ for every connected endpoint */
    uint64_t mr_forced;             /* DEMI_RDMA_MR_MODE: modes added to the provider's */
    size_t max_msg_size;
    size_t inject_size;             /* the provider's: smaller sends are injected */
    uint32_t recv_bufs, recv_size;
    uint64_t rx_window;
    uint64_t mem_conn_max, mem_max;
    uint64_t mem;                   /* bytes registered in the process */
    uint64_t linger_ns, connect_ns, rndv_ns;
    uint64_t polls;
    uint64_t events;                /* progress seen by the current poll (completions, events, timeouts) */
    bool cq_empty;                  /* the current poll drained the CQ */
    struct rdma_conn_list conns;    /* every live connection and listener, lingering ones too */
    struct rdma_conn_list grave;    /* closed, waiting for the CQ to drain */
    struct rdma_conn_list work;     /* connections with something to do */
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
void rdma_mark(struct rdma_conn *c);
void rdma_timed(void);
const char *rdma_peer_str(const struct rdma_conn *c, char *buf, size_t len);

/* rdma_wait.c: sleeping on the providers' wait objects */
int rdma_wait_init(void);
void rdma_wait_fini(void);
int rdma_wait_add(struct fid *fid, struct fid_fabric *fabric, void *tag, int *fd_out);
void rdma_wait_del(struct fid *fid, int fd);
bool rdma_wait_block(uint64_t ns, void (*ready)(void *tag));
void rdma_wait_busy(void);

/* rdma_conn.c */
struct rdma_conn *rdma_conn_new(void);
int rdma_conn_listen(struct rdma_conn *c, int backlog);
int rdma_conn_accept(struct rdma_conn *c, struct demi_op *op);
int rdma_conn_connect(struct rdma_conn *c, struct demi_op *op);
int rdma_conn_progress_eq(struct rdma_conn *c);
void rdma_conn_fail(struct rdma_conn *c, int err);
void rdma_conn_abort(struct rdma_conn *c, int err);
void rdma_conn_close(struct rdma_conn *c);
void rdma_conn_destroy(struct rdma_conn *c);
int rdma_conn_sweep(struct rdma_conn *c, uint64_t now);
void rdma_conn_reap(struct rdma_conn *c);

/* rdma_msg.c */
int rdma_msg_setup_rx(struct rdma_conn *c);
int rdma_msg_setup_tx(struct rdma_conn *c);
void rdma_msg_teardown(struct rdma_conn *c);
int rdma_msg_push(struct rdma_conn *c, struct demi_op *op);
int rdma_msg_pop(struct rdma_conn *c, struct demi_op *op);
void rdma_msg_progress(struct rdma_conn *c);
void rdma_msg_on_completion(struct rdma_ctx *ctx, size_t len);
void rdma_msg_on_error(struct rdma_ctx *ctx, int err);
void rdma_msg_fail_ops(struct rdma_conn *c, int err);
void rdma_msg_expose_close(struct rdma_conn *c);
void rdma_msg_queue_bye(struct rdma_conn *c);
bool rdma_msg_drained(const struct rdma_conn *c);
bool rdma_msg_stuck(const struct rdma_conn *c, uint64_t now);
void rdma_msg_nudge(struct rdma_conn *c);
void rdma_msg_replay_early(struct rdma_conn *c);

/* rdma_mr.c */
int rdma_mem_check(const struct rdma_conn *c, size_t len);
int rdma_mr_reg(const struct rdma_domain *d, struct rdma_conn *c, struct fid_ep *ep, void *mem, size_t len,
                uint64_t access, struct rdma_mr *out);
void rdma_mr_close(struct rdma_mr *m);
int rdma_slab_alloc(const struct rdma_domain *d, struct rdma_conn *c, struct fid_ep *ep, size_t len, uint64_t access,
                    struct rdma_slab *s);
void rdma_slab_free(struct rdma_slab *s);
uint64_t rdma_mr_addr(const struct rdma_domain *d, const void *mem);
int rdma_mr_parse_modes(const char *s, uint64_t *out);

/* rdma_dgram.c */
int rdma_dgram_socket(struct demi_queue *q);
int rdma_dgram_bind(struct demi_queue *q, const struct sockaddr_in *addr);
int rdma_dgram_connect(struct demi_queue *q, struct demi_op *op);
int rdma_dgram_push(struct demi_queue *q, struct demi_op *op);
int rdma_dgram_pop(struct demi_queue *q, struct demi_op *op);
int rdma_dgram_close(struct demi_queue *q);
int rdma_dgram_getsockname(struct demi_queue *q, struct sockaddr_in *out);
int rdma_dgram_getpeername(struct demi_queue *q, struct sockaddr_in *out);
int rdma_dgram_poll(uint64_t polls);
void rdma_dgram_fini(void);
bool rdma_is_dgram(const struct demi_queue *q);
const struct rdma_counters *rdma_dgram_counters(struct demi_queue *q);

#endif /* DEMI_LIBOS_RDMA_RDMA_H_ */
