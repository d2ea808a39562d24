/*
 * Unit tests of src/core/queue.c (the queue-descriptor table) and of the
 * EBADF paths of the public calls that take a qd.
 */
#include <demi/libos.h>
#include <demi/stats.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "unit_util.h"
#include "queue.h"
#include "runtime.h"

static uint64_t queues_at_start;

static int q_setup(void **state)
{
    queues_at_start = queue_open_count();
    return leak_setup(state);
}

static int q_teardown(void **state)
{
    assert_int_equal(queue_open_count(), queues_at_start);
    return leak_teardown(state);
}

#define Q_TEST(fn) cmocka_unit_test_setup_teardown(fn, q_setup, q_teardown)

static void test_alloc_get_free(void **state)
{
    struct demi_queue *q = queue_alloc(QK_TCP);
    assert_non_null(q);
    assert_true(q->qd >= 0);
    assert_int_equal(q->kind, QK_TCP);
    assert_null(q->priv);
    assert_true(TAILQ_EMPTY(&q->pending));
    assert_int_equal(q->stats.pushes, 0);
    assert_ptr_equal(queue_get(q->qd), q);
    assert_int_equal(queue_open_count(), queues_at_start + 1);

    struct demi_queue *u = queue_alloc(QK_UDP);
    assert_non_null(u);
    assert_int_not_equal(u->qd, q->qd);
    assert_ptr_equal(queue_get(u->qd), u);
    assert_int_equal(queue_open_count(), queues_at_start + 2);

    int qd = q->qd;
    queue_free(q);
    assert_null(queue_get(qd));
    assert_ptr_equal(queue_get(u->qd), u);
    queue_free(u);
}

static void test_get_bad_qds(void **state)
{
    assert_null(queue_get(-1));
    assert_null(queue_get(INT_MIN));
    assert_null(queue_get(INT_MAX));
    assert_null(queue_get(1 << 24));
    struct demi_queue *q = queue_alloc(QK_UDP);
    assert_non_null(q);
    /* a qd just past the open one */
    assert_null(queue_get(q->qd + 1000));
    queue_free(q);
}

/* Freed qds come back oldest first, and not right away while other qds are free. */
static void test_reuse_fifo(void **state)
{
    enum { N = 4, BOUND = 512 };
    struct demi_queue *q[N];
    for (int i = 0; i < N; i++) {
        q[i] = queue_alloc(QK_TCP);
        assert_non_null(q[i]);
    }
    int x = q[1]->qd, y = q[2]->qd;
    queue_free(q[1]);
    queue_free(q[2]);

    static struct demi_queue *more[BOUND];
    int n = 0, pos_x = -1, pos_y = -1;
    while (n < BOUND && (pos_x < 0 || pos_y < 0)) {
        more[n] = queue_alloc(QK_UDP);
        assert_non_null(more[n]);
        if (more[n]->qd == x)
            pos_x = n;
        if (more[n]->qd == y)
            pos_y = n;
        n++;
    }
    assert_true(pos_x >= 0);
    assert_true(pos_y >= 0);
    assert_true(pos_x < pos_y);
    /* a new queue under an old qd is a different queue */
    assert_int_equal(more[pos_x]->kind, QK_UDP);
    for (int i = 0; i < n; i++)
        queue_free(more[i]);
    queue_free(q[0]);
    queue_free(q[3]);

    /* the most recently freed qd is not handed out next while others are free */
    struct demi_queue *a = queue_alloc(QK_TCP), *b = queue_alloc(QK_TCP);
    assert_non_null(a);
    assert_non_null(b);
    int bqd = b->qd;
    queue_free(b);
    struct demi_queue *c = queue_alloc(QK_TCP);
    assert_non_null(c);
    assert_int_not_equal(c->qd, bqd);
    queue_free(a);
    queue_free(c);
}

static void test_many_queues(void **state)
{
    enum { N = 3000 };
    struct demi_queue **q = calloc(N, sizeof(*q));
    assert_non_null(q);
    for (int i = 0; i < N; i++) {
        q[i] = queue_alloc(i % 2 ? QK_TCP : QK_UDP);
        assert_non_null(q[i]);
        for (int j = i - 1; j >= 0 && j >= i - 3; j--)
            assert_int_not_equal(q[i]->qd, q[j]->qd);
    }
    assert_int_equal(queue_open_count(), queues_at_start + N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(queue_get(q[i]->qd), q[i]);
    for (int i = 0; i < N; i++)
        queue_free(q[i]);
    free(q);
}

static int foreach_seen;

static void count_and_free(struct demi_queue *q, void *arg)
{
    int *kind = arg;
    foreach_seen++;
    if (q->kind == *kind)
        queue_free(q);
}

static void test_foreach(void **state)
{
    struct demi_queue *q[6];
    int qds[6];
    for (int i = 0; i < 6; i++) {
        q[i] = queue_alloc(i < 3 ? QK_TCP : QK_UDP);
        assert_non_null(q[i]);
        qds[i] = q[i]->qd;
    }
    int kind = QK_TCP;
    foreach_seen = 0;
    queue_foreach(count_and_free, &kind);
    assert_int_equal(foreach_seen, (int)queues_at_start + 6);
    for (int i = 0; i < 3; i++)
        assert_null(queue_get(qds[i]));
    for (int i = 3; i < 6; i++)
        assert_ptr_equal(queue_get(qds[i]), q[i]);
    assert_int_equal(queue_open_count(), queues_at_start + 3);
    kind = QK_UDP;
    foreach_seen = 0;
    queue_foreach(count_and_free, &kind);
    assert_int_equal(foreach_seen, (int)queues_at_start + 3);
    assert_int_equal(queue_open_count(), queues_at_start);
}

/* DEMI_MAX_QUEUES: with a fresh table, the limit holds and the error is EMFILE. */
static void test_max_queues(void **state)
{
    assert_int_equal(queue_open_count(), 0);
    uint64_t saved = runtime_cfg.max_queues;
    queue_table_reset();
    runtime_cfg.max_queues = 5;
    struct demi_queue *q[5];
    for (int i = 0; i < 5; i++) {
        q[i] = queue_alloc(QK_UDP);
        assert_non_null(q[i]);
    }
    errno = 0;
    assert_null(queue_alloc(QK_UDP));
    assert_int_equal(errno, EMFILE);
    int freed = q[2]->qd;
    queue_free(q[2]);
    struct demi_queue *again = queue_alloc(QK_TCP);
    assert_non_null(again);
    assert_int_equal(again->qd, freed);   /* the only free qd */
    errno = 0;
    assert_null(queue_alloc(QK_UDP));
    assert_int_equal(errno, EMFILE);
    queue_table_reset();
    assert_int_equal(queue_open_count(), 0);
    runtime_cfg.max_queues = saved;
}

/* Every public call that takes a qd says EBADF for a qd that is not open. */
static void test_public_ebadf(void **state)
{
    setenv("DEMI_LIBOS", "posix", 1);
    assert_int_equal(demi_init(NULL), 0);
    static const int bad_qds[] = {-1, -100, INT_MIN, 12345, INT_MAX};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in out;
    socklen_t len;
    demi_qtoken_t qt;
    char data[4] = "abc";
    demi_sgarray_t sga = {.sga_numsegs = 1, .sga_segs = {{data, 3}}};
    int one = 1;
    socklen_t olen = sizeof(one);
    demi_counter_t c[4];
    size_t n;
    uint64_t v;

    for (size_t i = 0; i < sizeof(bad_qds) / sizeof(bad_qds[0]); i++) {
        int qd = bad_qds[i];
        assert_int_equal(demi_close(qd), EBADF);
        assert_int_equal(demi_listen(qd, 8), EBADF);
        assert_int_equal(demi_bind(qd, (struct sockaddr *)&sin, sizeof(sin)), EBADF);
        assert_int_equal(demi_accept(&qt, qd), EBADF);
        assert_int_equal(demi_connect(&qt, qd, (struct sockaddr *)&sin, sizeof(sin)), EBADF);
        assert_int_equal(demi_push(&qt, qd, &sga), EBADF);
        assert_int_equal(demi_pushto(&qt, qd, &sga, (struct sockaddr *)&sin, sizeof(sin)), EBADF);
        assert_int_equal(demi_pop(&qt, qd), EBADF);
        assert_int_equal(demi_setsockopt(qd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), EBADF);
        assert_int_equal(demi_getsockopt(qd, SOL_SOCKET, SO_REUSEADDR, &one, &olen), EBADF);
        len = sizeof(out);
        assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&out, &len), EBADF);
        len = sizeof(out);
        assert_int_equal(demi_getpeername(qd, (struct sockaddr *)&out, &len), EBADF);
        if (qd != -1) {
            assert_int_equal(demi_getcounters(qd, c, 4, &n), EBADF);
            assert_int_equal(demi_getcounter(qd, "queue.pushes", &v), EBADF);
        }
    }

    /* a closed qd */
    int qd;
    assert_int_equal(demi_socket(&qd, AF_INET, SOCK_DGRAM, 0), 0);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_close(qd), EBADF);
    assert_int_equal(demi_pop(&qt, qd), EBADF);
    assert_int_equal(demi_push(&qt, qd, &sga), EBADF);
    len = sizeof(out);
    assert_int_equal(demi_getsockname(qd, (struct sockaddr *)&out, &len), EBADF);
    assert_int_equal(demi_fini(), 0);
    unsetenv("DEMI_LIBOS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        Q_TEST(test_max_queues),   /* first: needs a fresh table */
        Q_TEST(test_alloc_get_free),
        Q_TEST(test_get_bad_qds),
        Q_TEST(test_reuse_fifo),
        Q_TEST(test_many_queues),
        Q_TEST(test_foreach),
        Q_TEST(test_public_ebadf),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
