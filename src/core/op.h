/*
 * Asynchronous operations and their qtokens (private to libdemi).
 *
 * Every demi_push/pushto/pop/accept/connect allocates a struct demi_op and
 * hands it to the libOS. The libOS keeps the pointer until it finishes the
 * operation with exactly one of the op_complete_* / op_fail calls below;
 * after that the op belongs to core again. Pointers stay valid while the op
 * is live (ops never move in memory).
 *
 * A qtoken is (generation << 32 | slot). The generation changes each time a
 * slot is reused, so a consumed or forged token is rejected (EINVAL) instead
 * of naming another operation. Completed ops that nobody waited for yet stay
 * in the table and on the completed list (demi_wait_next_n returns them).
 */
#ifndef DEMI_CORE_OP_H_
#define DEMI_CORE_OP_H_

#include <demi/types.h>
#include <stdbool.h>
#include <sys/queue.h>

#include "buf.h"

struct demi_queue;

enum op_state { OP_FREE = 0, OP_PENDING = 1, OP_DONE = 2 };

struct demi_op {
    demi_qtoken_t qt;
    int qd;
    demi_opcode_t opcode;           /* what was asked: PUSH, POP, ACCEPT, CONNECT */
    uint8_t state;                  /* enum op_state */
    bool has_addr;                  /* pushto / connect: addr is set */
    struct sockaddr_in addr;        /* pushto destination, connect target */
    /* push payload: references the op owns until it completes */
    struct buf *bufs[DEMI_SGARRAY_MAXSIZE];
    uint32_t nbufs;
    uint64_t total_len;             /* push: bytes in bufs */
    uint64_t done_len;              /* push: free for the libOS (bytes sent so far) */
    /* libOS-private */
    void *lctx;
    TAILQ_ENTRY(demi_op) lentry;    /* the libOS's own queues (pending pops...) */
    /* core-private */
    struct demi_queue *queue;       /* the queue the op was started on */
    TAILQ_ENTRY(demi_op) qentry;    /* queue's pending list */
    TAILQ_ENTRY(demi_op) dentry;    /* completed-not-waited list */
    uint64_t start_ns;
    demi_qresult_t result;          /* valid when state == OP_DONE */
};

TAILQ_HEAD(op_list, demi_op);

/* Allocates a pending op for queue q (its qd) with a fresh token. Returns
 * NULL (ENOMEM / EAGAIN when DEMI_MAX_OPS are live). */
struct demi_op *op_alloc(struct demi_queue *q, demi_opcode_t opcode);

/* Looks a token up; NULL unless it names a live (pending or done) op. */
struct demi_op *op_lookup(demi_qtoken_t qt);

/* Releases an op without completing it (start failed synchronously):
 * drops its buffer references, frees the slot. */
void op_discard(struct demi_op *op);

/* --- completions, called by the libOS, exactly once per op --- */

/* Push done: all bytes were accepted. Drops the payload references. */
void op_complete_push(struct demi_op *op);

/* Pop done with n buffers (ownership moves to the application's sga). n == 0
 * means end of stream: the sga then has one segment of length 0. from may
 * be NULL. If the buffers cannot be
 * turned into an sga (more than DEMI_SGARRAY_MAXSIZE), fails with EMSGSIZE. */
void op_complete_pop(struct demi_op *op, struct buf **bufs, uint32_t n, const struct sockaddr_in *from);

/* Accept done: newqd is the connection's queue, peer its address. */
void op_complete_accept(struct demi_op *op, int newqd, const struct sockaddr_in *peer);

/* Connect done. */
void op_complete_connect(struct demi_op *op);

/* Fails the op: result opcode DEMI_OPC_FAILED, qr_ret = err (positive). */
void op_fail(struct demi_op *op, int err);

/* --- used by the wait family --- */

/* Copies a done op's result out and frees its slot (consumes the token). */
void op_consume(struct demi_op *op, demi_qresult_t *out);

/* Oldest completed-not-waited op, or NULL. */
struct demi_op *op_first_done(void);

/* Number of ops pending or done-not-consumed. */
uint64_t op_live_count(void);

/* Frees every op (at shutdown). Pending ops are dropped silently. */
void op_table_reset(void);

#endif /* DEMI_CORE_OP_H_ */
