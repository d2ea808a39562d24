/*
 * The operation (qtoken) table.
 *
 * Ops live in chunks of OP_CHUNK slots that never move, so a libOS may keep
 * op pointers. A token is (generation << 32 | slot); the generation of a
 * slot advances each time it is freed, so old tokens stop matching.
 */
#include "op.h"

#include <demi/sga.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "runtime.h"
#include "sga_table.h"
#include "stats.h"

#define OP_CHUNK_SHIFT 10
#define OP_CHUNK (1u << OP_CHUNK_SHIFT)

static struct demi_op **chunks;
static uint32_t nchunks;
static uint32_t nslots;          /* slots ever created: nchunks * OP_CHUNK */
static uint32_t *free_slots;     /* stack of free slot indices */
static uint32_t nfree;
static uint64_t live;
static uint32_t gen_seed;        /* advances at each reset so old tokens stay invalid */
static struct op_list done_list = TAILQ_HEAD_INITIALIZER(done_list);

static inline struct demi_op *slot(uint32_t idx)
{
    return &chunks[idx >> OP_CHUNK_SHIFT][idx & (OP_CHUNK - 1)];
}

/* Adds one chunk of free slots; returns 0 or ENOMEM. */
static int grow(void)
{
    struct demi_op **nc = realloc(chunks, (nchunks + 1) * sizeof(*nc));
    uint32_t *nf;

    if (!nc)
        return ENOMEM;
    chunks = nc;
    nf = realloc(free_slots, (size_t)(nslots + OP_CHUNK) * sizeof(*nf));
    if (!nf)
        return ENOMEM;
    free_slots = nf;
    chunks[nchunks] = calloc(OP_CHUNK, sizeof(struct demi_op));
    if (!chunks[nchunks])
        return ENOMEM;
    for (uint32_t i = 0; i < OP_CHUNK; i++)
        chunks[nchunks][i].qt = (uint64_t)gen_seed << 32;
    /* Push in reverse so low slots are used first. */
    for (uint32_t i = OP_CHUNK; i-- > 0;)
        free_slots[nfree++] = nslots + i;
    nchunks++;
    nslots += OP_CHUNK;
    return 0;
}

struct demi_op *op_alloc(struct demi_queue *q, demi_opcode_t opcode)
{
    struct demi_op *op;
    uint32_t idx, gen;

    if (live >= runtime_cfg.max_ops) {
        errno = EAGAIN;
        return NULL;
    }
    if (nfree == 0 && (nslots >= UINT32_MAX - OP_CHUNK || grow() != 0)) {
        errno = ENOMEM;
        return NULL;
    }
    idx = free_slots[--nfree];
    op = slot(idx);
    gen = (uint32_t)(op->qt >> 32) + 1;
    if (gen == 0)
        gen = 1;
    memset(op, 0, sizeof(*op));
    op->qt = ((uint64_t)gen << 32) | idx;
    op->qd = q->qd;
    op->queue = q;
    op->opcode = opcode;
    op->state = OP_PENDING;
    TAILQ_INSERT_TAIL(&q->pending, op, qentry);
    live++;
    core_stats.ops_started++;
    return op;
}

struct demi_op *op_lookup(demi_qtoken_t qt)
{
    uint32_t idx = (uint32_t)qt;
    struct demi_op *op;

    if (idx >= nslots)
        return NULL;
    op = slot(idx);
    if (op->state == OP_FREE || op->qt != qt)
        return NULL;
    return op;
}

static void drop_bufs(struct demi_op *op)
{
    for (uint32_t i = 0; i < op->nbufs; i++)
        buf_unref(op->bufs[i]);
    op->nbufs = 0;
}

static void slot_free(struct demi_op *op)
{
    uint32_t idx = (uint32_t)op->qt;

    op->state = OP_FREE;
    op->queue = NULL;
    free_slots[nfree++] = idx;
    live--;
}

void op_discard(struct demi_op *op)
{
    if (op->state == OP_PENDING && op->queue)
        TAILQ_REMOVE(&op->queue->pending, op, qentry);
    else if (op->state == OP_DONE)
        TAILQ_REMOVE(&done_list, op, dentry);
    drop_bufs(op);
    slot_free(op);
}

/* Moves a pending op to the done list with the result header set. */
static void finish(struct demi_op *op, demi_opcode_t opcode, int64_t ret)
{
    if (op->state != OP_PENDING)
        abort();    /* completed twice: a libOS bug */
    TAILQ_REMOVE(&op->queue->pending, op, qentry);
    op->state = OP_DONE;
    op->result.qr_opcode = opcode;
    op->result.qr_qd = op->qd;
    op->result.qr_qt = op->qt;
    op->result.qr_ret = ret;
    TAILQ_INSERT_TAIL(&done_list, op, dentry);
    if (opcode == DEMI_OPC_FAILED) {
        core_stats.ops_failed++;
        op->queue->stats.failed++;
    }
    core_stats.ops_completed++;
    op->queue = NULL;   /* the queue may be closed before the result is taken */
}

void op_complete_push(struct demi_op *op)
{
    op->queue->stats.push_bytes += op->total_len;
    drop_bufs(op);
    finish(op, DEMI_OPC_PUSH, 0);
}

void op_complete_pop(struct demi_op *op, struct buf **bufs, uint32_t n, const struct sockaddr_in *from)
{
    demi_sgarray_t *sga = &op->result.qr_value.sga;
    uint64_t bytes = 0;
    int err;

    struct buf *eof;

    if (n == 0) {
        /* End of stream: one segment of length 0, freeable like any sga. */
        eof = buf_alloc(0);
        if (!eof) {
            op_fail(op, ENOMEM);
            return;
        }
        bufs = &eof;
        n = 1;
    }
    for (uint32_t i = 0; i < n && i < DEMI_SGARRAY_MAXSIZE; i++)
        bytes += bufs[i]->len;
    err = sga_make(sga, bufs, n);
    if (err) {
        memset(sga, 0, sizeof(*sga));
        op_fail(op, err);
        return;
    }
    if (from)
        sga->sga_addr = *from;
    op->queue->stats.pop_bytes += bytes;
    finish(op, DEMI_OPC_POP, 0);
}

void op_complete_accept(struct demi_op *op, int newqd, const struct sockaddr_in *peer)
{
    op->result.qr_value.ares.qd = newqd;
    if (peer)
        op->result.qr_value.ares.addr = *peer;
    op->queue->stats.accepts++;
    finish(op, DEMI_OPC_ACCEPT, 0);
}

void op_complete_connect(struct demi_op *op)
{
    finish(op, DEMI_OPC_CONNECT, 0);
}

void op_fail(struct demi_op *op, int err)
{
    drop_bufs(op);
    finish(op, DEMI_OPC_FAILED, err > 0 ? err : EIO);
}

void op_consume(struct demi_op *op, demi_qresult_t *out)
{
    *out = op->result;
    TAILQ_REMOVE(&done_list, op, dentry);
    slot_free(op);
}

struct demi_op *op_first_done(void)
{
    return TAILQ_FIRST(&done_list);
}

uint64_t op_live_count(void)
{
    return live;
}

void op_table_reset(void)
{
    /* Completed pops hold buffers in their result sga: release them. */
    for (uint32_t i = 0; i < nslots; i++) {
        struct demi_op *op = slot(i);
        if (op->state == OP_DONE && op->result.qr_opcode == DEMI_OPC_POP)
            demi_sgafree(&op->result.qr_value.sga);
        drop_bufs(op);
    }
    for (uint32_t i = 0; i < nchunks; i++)
        free(chunks[i]);
    free(chunks);
    free(free_slots);
    chunks = NULL;
    free_slots = NULL;
    nchunks = nslots = nfree = 0;
    live = 0;
    gen_seed += 0x10000;
    TAILQ_INIT(&done_list);
}
