/*
 * Unit tests of src/core/op.c: qtokens (generation check: consumed and
 * forged tokens are rejected), completions and their results, the
 * completed-not-waited list (op_first_done order), op_live_count, and that
 * buffer references held by ops are released.
 */
#include <demi/sga.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit_util.h"
#include "op.h"
#include "queue.h"
#include "runtime.h"
#include "sga_table.h"

static struct demi_queue *tq;   /* the queue every test's ops run on */
static uint64_t ops_at_start;

static int op_setup(void **state)
{
    ops_at_start = op_live_count();
    tq = queue_alloc(QK_UDP);
    assert_non_null(tq);
    return leak_setup(state);
}

static int op_teardown(void **state)
{
    assert_int_equal(op_live_count(), ops_at_start);
    assert_true(TAILQ_EMPTY(&tq->pending));
    assert_null(op_first_done());
    queue_free(tq);
    tq = NULL;
    return leak_teardown(state);
}

#define OP_TEST(fn) cmocka_unit_test_setup_teardown(fn, op_setup, op_teardown)

/* True if op is on the queue's pending list. */
static int on_pending(struct demi_queue *q, struct demi_op *op)
{
    struct demi_op *it;
    TAILQ_FOREACH(it, &q->pending, qentry)
        if (it == op)
            return 1;
    return 0;
}

static void test_alloc_lookup_consume(void **state)
{
    struct demi_op *op = op_alloc(tq, DEMI_OPC_POP);
    assert_non_null(op);
    demi_qtoken_t qt = op->qt;
    assert_int_equal(op->state, OP_PENDING);
    assert_int_equal(op->qd, tq->qd);
    assert_int_equal(op->opcode, DEMI_OPC_POP);
    assert_int_equal(op->nbufs, 0);
    assert_ptr_equal(op_lookup(qt), op);
    assert_true(on_pending(tq, op));
    assert_int_equal(op_live_count(), ops_at_start + 1);
    assert_null(op_first_done());

    op_complete_connect(op);
    assert_int_equal(op->state, OP_DONE);
    assert_false(on_pending(tq, op));
    /* done but not consumed: still live and still found */
    assert_ptr_equal(op_lookup(qt), op);
    assert_int_equal(op_live_count(), ops_at_start + 1);
    assert_ptr_equal(op_first_done(), op);

    demi_qresult_t qr;
    memset(&qr, 0xff, sizeof(qr));
    op_consume(op, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    assert_int_equal(qr.qr_qd, tq->qd);
    assert_int_equal(qr.qr_qt, qt);
    assert_int_equal(qr.qr_ret, 0);
    /* consumed: the token is dead */
    assert_null(op_lookup(qt));
    assert_int_equal(op_live_count(), ops_at_start);
}

static void test_forged_tokens(void **state)
{
    struct demi_op *op = op_alloc(tq, DEMI_OPC_POP);
    assert_non_null(op);
    demi_qtoken_t qt = op->qt;
    assert_null(op_lookup(qt ^ (1ull << 32)));          /* other generation */
    assert_null(op_lookup(qt + (1ull << 40)));
    assert_null(op_lookup(qt ^ 0xffffffff00000000ull));
    assert_null(op_lookup((qt & 0xffffffff00000000ull) | 0xfffffff0u)); /* slot never made */
    assert_null(op_lookup(UINT64_MAX));
    assert_null(op_lookup(qt + 1));                     /* a free slot */
    assert_ptr_equal(op_lookup(qt), op);
    op_discard(op);
    assert_null(op_lookup(qt));
}

static void test_slot_reuse_new_token(void **state)
{
    enum { ROUNDS = 5000 };
    static demi_qtoken_t seen[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        struct demi_op *op = op_alloc(tq, DEMI_OPC_PUSH);
        assert_non_null(op);
        seen[i] = op->qt;
        /* every earlier token stays dead, even when its slot is reused */
        if (i > 0)
            assert_null(op_lookup(seen[i - 1]));
        if (i % 2) {
            op_discard(op);
        } else {
            demi_qresult_t qr;
            op_complete_push(op);
            op_consume(op, &qr);
            assert_int_equal(qr.qr_qt, seen[i]);
        }
    }
    /* all tokens distinct */
    for (int i = 0; i < ROUNDS; i++)
        for (int j = i + 1; j < ROUNDS && j < i + 64; j++)
            assert_true(seen[i] != seen[j]);
}

static void test_first_done_order(void **state)
{
    struct demi_op *a = op_alloc(tq, DEMI_OPC_POP);
    struct demi_op *b = op_alloc(tq, DEMI_OPC_POP);
    struct demi_op *c = op_alloc(tq, DEMI_OPC_CONNECT);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(op_live_count(), ops_at_start + 3);
    /* completion order, not start order */
    op_complete_connect(c);
    op_fail(a, ECONNRESET);
    op_complete_pop(b, NULL, 0, NULL);

    demi_qresult_t qr;
    assert_ptr_equal(op_first_done(), c);
    op_consume(c, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_CONNECT);
    assert_ptr_equal(op_first_done(), a);
    op_consume(a, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECONNRESET);
    assert_ptr_equal(op_first_done(), b);
    op_consume(b, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    if (qr.qr_value.sga.sga_buf)
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    assert_null(op_first_done());
}

static void test_consume_out_of_order(void **state)
{
    struct demi_op *op[4];
    for (int i = 0; i < 4; i++) {
        op[i] = op_alloc(tq, DEMI_OPC_CONNECT);
        assert_non_null(op[i]);
    }
    for (int i = 0; i < 4; i++)
        op_complete_connect(op[i]);
    demi_qresult_t qr;
    op_consume(op[2], &qr);    /* waited on directly: leaves the list */
    assert_ptr_equal(op_first_done(), op[0]);
    op_consume(op[0], &qr);
    assert_ptr_equal(op_first_done(), op[1]);
    op_consume(op[1], &qr);
    assert_ptr_equal(op_first_done(), op[3]);
    op_consume(op[3], &qr);
    assert_null(op_first_done());
}

static void test_fail_result(void **state)
{
    struct demi_op *op = op_alloc(tq, DEMI_OPC_ACCEPT);
    assert_non_null(op);
    demi_qtoken_t qt = op->qt;
    op_fail(op, ECANCELED);
    demi_qresult_t qr;
    op_consume(op, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, ECANCELED);
    assert_int_equal(qr.qr_qt, qt);
    assert_int_equal(qr.qr_qd, tq->qd);
}

static void test_accept_result(void **state)
{
    struct demi_op *op = op_alloc(tq, DEMI_OPC_ACCEPT);
    assert_non_null(op);
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(4242),
                               .sin_addr.s_addr = htonl(0x7f000001)};
    op_complete_accept(op, 77, &peer);
    demi_qresult_t qr;
    op_consume(op, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    assert_int_equal(qr.qr_value.ares.qd, 77);
    assert_memory_equal(&qr.qr_value.ares.addr, &peer, sizeof(peer));
}

static void test_push_releases_bufs(void **state)
{
    uint64_t live = buf_live_count();
    struct demi_op *op = op_alloc(tq, DEMI_OPC_PUSH);
    assert_non_null(op);
    for (int i = 0; i < 3; i++) {
        op->bufs[i] = buf_alloc(100);
        assert_non_null(op->bufs[i]);
    }
    op->nbufs = 3;
    op->total_len = 300;
    assert_int_equal(buf_live_count(), live + 3);
    op_complete_push(op);
    /* the payload is released when the push completes, before the result is taken */
    assert_int_equal(buf_live_count(), live);
    demi_qresult_t qr;
    op_consume(op, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_PUSH);
    assert_int_equal(qr.qr_ret, 0);
}

static void test_fail_releases_bufs(void **state)
{
    uint64_t live = buf_live_count();
    struct demi_op *op = op_alloc(tq, DEMI_OPC_PUSH);
    assert_non_null(op);
    op->bufs[0] = buf_alloc(10);
    op->nbufs = 1;
    op_fail(op, EPIPE);
    assert_int_equal(buf_live_count(), live);
    demi_qresult_t qr;
    op_consume(op, &qr);
    assert_int_equal(qr.qr_ret, EPIPE);
}

static void test_discard_releases_bufs(void **state)
{
    uint64_t live = buf_live_count();
    struct demi_op *op = op_alloc(tq, DEMI_OPC_PUSH);
    assert_non_null(op);
    demi_qtoken_t qt = op->qt;
    op->bufs[0] = buf_alloc(10);
    op->bufs[1] = buf_alloc(20);
    op->nbufs = 2;
    op_discard(op);
    assert_int_equal(buf_live_count(), live);
    assert_null(op_lookup(qt));
    assert_false(on_pending(tq, op));
}

static void test_pop_result_sga(void **state)
{
    uint64_t live = buf_live_count(), sgas = sga_live_count();
    struct demi_op *op = op_alloc(tq, DEMI_OPC_POP);
    assert_non_null(op);
    struct buf *b[2] = {buf_alloc(5), buf_alloc(7)};
    assert_non_null(b[0]);
    assert_non_null(b[1]);
    memcpy(b[0]->data, "hello", 5);
    memcpy(b[1]->data, " world!", 7);
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(0x7f000002)};
    op_complete_pop(op, b, 2, &from);
    demi_qresult_t qr;
    op_consume(op, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    demi_sgarray_t *sga = &qr.qr_value.sga;
    assert_non_null(sga->sga_buf);
    assert_int_equal(sga->sga_numsegs, 2);
    assert_int_equal(sga->sga_segs[0].sgaseg_len, 5);
    assert_int_equal(sga->sga_segs[1].sgaseg_len, 7);
    assert_memory_equal(sga->sga_segs[0].sgaseg_buf, "hello", 5);
    assert_memory_equal(sga->sga_segs[1].sgaseg_buf, " world!", 7);
    assert_int_equal(sga->sga_addr.sin_port, from.sin_port);
    assert_int_equal(sga->sga_addr.sin_addr.s_addr, from.sin_addr.s_addr);
    /* the application owns it until sgafree */
    assert_int_equal(sga_live_count(), sgas + 1);
    assert_int_equal(demi_sgafree(sga), 0);
    assert_int_equal(sga_live_count(), sgas);
    assert_int_equal(buf_live_count(), live);
}

static void test_pop_eof(void **state)
{
    struct demi_op *op = op_alloc(tq, DEMI_OPC_POP);
    assert_non_null(op);
    op_complete_pop(op, NULL, 0, NULL);
    demi_qresult_t qr;
    op_consume(op, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_int_equal(qr.qr_ret, 0);
    uint64_t total = 0;
    assert_true(qr.qr_value.sga.sga_numsegs <= DEMI_SGARRAY_MAXSIZE);
    for (uint32_t i = 0; i < qr.qr_value.sga.sga_numsegs; i++)
        total += qr.qr_value.sga.sga_segs[i].sgaseg_len;
    assert_int_equal(total, 0);
    if (qr.qr_value.sga.sga_buf)
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
}

static void test_pop_too_many_bufs(void **state)
{
    uint64_t live = buf_live_count();
    enum { N = DEMI_SGARRAY_MAXSIZE + 1 };
    struct buf *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = buf_alloc(10);
        assert_non_null(b[i]);
    }
    struct demi_op *op = op_alloc(tq, DEMI_OPC_POP);
    assert_non_null(op);
    op_complete_pop(op, b, N, NULL);
    demi_qresult_t qr;
    op_consume(op, &qr);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, EMSGSIZE);
    /* the buffers handed over were released */
    assert_int_equal(buf_live_count(), live);
}

static void test_result_survives_queue_close(void **state)
{
    struct demi_queue *q2 = queue_alloc(QK_TCP);
    assert_non_null(q2);
    int qd2 = q2->qd;
    struct demi_op *op = op_alloc(q2, DEMI_OPC_CONNECT);
    assert_non_null(op);
    demi_qtoken_t qt = op->qt;
    op_fail(op, ECANCELED);
    queue_free(q2);
    assert_ptr_equal(op_lookup(qt), op);
    demi_qresult_t qr;
    op_consume(op, &qr);
    assert_int_equal(qr.qr_qd, qd2);
    assert_int_equal(qr.qr_ret, ECANCELED);
}

static void test_live_count(void **state)
{
    enum { N = 3000 };
    struct demi_op **ops = calloc(N, sizeof(*ops));
    assert_non_null(ops);
    for (int i = 0; i < N; i++) {
        ops[i] = op_alloc(tq, DEMI_OPC_POP);
        assert_non_null(ops[i]);
    }
    assert_int_equal(op_live_count(), ops_at_start + N);
    /* ops never move while live, even as the table grows */
    for (int i = 0; i < N; i++)
        assert_ptr_equal(op_lookup(ops[i]->qt), ops[i]);
    for (int i = 0; i < N; i += 2)
        op_complete_connect(ops[i]);
    assert_int_equal(op_live_count(), ops_at_start + N);
    for (int i = 1; i < N; i += 2)
        op_discard(ops[i]);
    assert_int_equal(op_live_count(), ops_at_start + N / 2);
    demi_qresult_t qr;
    int consumed = 0;
    struct demi_op *op;
    while ((op = op_first_done()) != NULL && consumed < N) {
        op_consume(op, &qr);
        consumed++;
    }
    assert_int_equal(consumed, N / 2);
    free(ops);
}

/* DEMI_MAX_OPS: op_alloc fails with EAGAIN at the limit. */
static void test_max_ops(void **state)
{
    uint64_t saved = runtime_cfg.max_ops;
    runtime_cfg.max_ops = op_live_count() + 3;
    struct demi_op *op[3];
    for (int i = 0; i < 3; i++) {
        op[i] = op_alloc(tq, DEMI_OPC_POP);
        assert_non_null(op[i]);
    }
    errno = 0;
    assert_null(op_alloc(tq, DEMI_OPC_POP));
    assert_int_equal(errno, EAGAIN);
    /* a done-but-not-consumed op still counts */
    op_complete_connect(op[0]);
    assert_null(op_alloc(tq, DEMI_OPC_POP));
    demi_qresult_t qr;
    op_consume(op[0], &qr);
    op[0] = op_alloc(tq, DEMI_OPC_POP);
    assert_non_null(op[0]);
    for (int i = 0; i < 3; i++)
        op_discard(op[i]);
    runtime_cfg.max_ops = saved;
}

/* After op_table_reset, tokens from before the reset are not valid. */
static void test_reset_invalidates_tokens(void **state)
{
    if (ops_at_start != 0)
        skip();
    struct demi_op *a = op_alloc(tq, DEMI_OPC_POP);
    assert_non_null(a);
    demi_qtoken_t old = a->qt;
    op_complete_connect(a);   /* off the queue's list before the reset */
    op_table_reset();
    assert_int_equal(op_live_count(), 0);
    assert_null(op_first_done());
    assert_null(op_lookup(old));
    struct demi_op *b = op_alloc(tq, DEMI_OPC_POP);
    assert_non_null(b);
    assert_true(b->qt != old);
    assert_null(op_lookup(old));
    op_discard(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OP_TEST(test_alloc_lookup_consume),
        OP_TEST(test_forged_tokens),
        OP_TEST(test_slot_reuse_new_token),
        OP_TEST(test_first_done_order),
        OP_TEST(test_consume_out_of_order),
        OP_TEST(test_fail_result),
        OP_TEST(test_accept_result),
        OP_TEST(test_push_releases_bufs),
        OP_TEST(test_fail_releases_bufs),
        OP_TEST(test_discard_releases_bufs),
        OP_TEST(test_pop_result_sga),
        OP_TEST(test_pop_eof),
        OP_TEST(test_pop_too_many_bufs),
        OP_TEST(test_result_survives_queue_close),
        OP_TEST(test_live_count),
        OP_TEST(test_max_ops),
        OP_TEST(test_reset_invalidates_tokens),
    };
    return cmocka_run_group_tests_name("op", tests, NULL, NULL);
}
