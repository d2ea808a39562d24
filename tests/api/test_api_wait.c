/*
 * API contract of the wait family: demi_wait, demi_wait_any,
 * demi_wait_next_n. Tokens are one-shot and generation-checked; a zero
 * timeout polls once; a timed-out wait leaves the op pending; NULL waits
 * forever; completions nobody waited for are kept.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_util.h"

/* Sends one datagram to addr from a kernel socket (not through libdemi). */
static void kernel_send(const struct sockaddr_in *addr, const void *p, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(sendto(fd, p, len, 0, (const struct sockaddr *)addr, sizeof(*addr)), (ssize_t)len);
    close(fd);
}

struct delayed_send {
    struct sockaddr_in to;
    int delay_ms;
};

static void *delayed_send_thread(void *arg)
{
    struct delayed_send *d = arg;
    struct timespec ts = ts_ms(d->delay_ms);
    nanosleep(&ts, NULL);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd >= 0) {
        (void)sendto(fd, "late", 4, 0, (const struct sockaddr *)&d->to, sizeof(d->to));
        close(fd);
    }
    return NULL;
}

/* Frees the sga of a pop result, if any. */
static void free_result(demi_qresult_t *qr)
{
    if (qr->qr_opcode == DEMI_OPC_POP)
        assert_int_equal(demi_sgafree(&qr->qr_value.sga), 0);
}

/* ---- demi_wait ---- */

static void test_wait_bad_args(void **state)
{
    struct sockaddr_in b;
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qb), 0);
    demi_qresult_t qr;
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait(NULL, qt, &zero), EINVAL);
    /* forged tokens */
    static const demi_qtoken_t forged[] = {0, 1, UINT64_MAX, 0xdeadbeef12345678ull, 0xffffffffull};
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++)
        if (forged[i] != qt)
            assert_int_equal(demi_wait(&qr, forged[i], &zero), EINVAL);
    assert_int_equal(demi_wait(&qr, qt ^ (1ull << 32), &zero), EINVAL);
    assert_int_equal(demi_wait(&qr, qt ^ (1ull << 63), &zero), EINVAL);
    /* bad timeouts */
    struct timespec bad[] = {{0, 1000000000L}, {0, -1}, {-1, 0}, {1, 2000000000L}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(demi_wait(&qr, qt, &bad[i]), EINVAL);
    /* none of that consumed the real token */
    kernel_send(&b, "x", 1);
    qr = wait_opcode(qt, DEMI_OPC_POP);
    free_result(&qr);
}

static void test_wait_consumed_token(void **state)
{
    struct sockaddr_in b;
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qb), 0);
    kernel_send(&b, "once", 4);
    demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_POP);
    free_result(&qr);
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait(&qr, qt, &zero), EINVAL);
    assert_int_equal(demi_wait(&qr, qt, NULL), EINVAL);   /* must not hang either */
    /* a new op (likely in the same slot) has a different token */
    demi_qtoken_t qt2;
    assert_int_equal(demi_pop(&qt2, qb), 0);
    assert_true(qt2 != qt);
    assert_int_equal(demi_wait(&qr, qt, &zero), EINVAL);
    assert_int_equal(demi_wait(&qr, qt2, &zero), ETIMEDOUT);
}

/* A zero timeout polls once: ETIMEDOUT leaves the op pending; data that is
 * already there is picked up by that one poll; the same token completes. */
static void test_wait_zero_timeout(void **state)
{
    struct sockaddr_in b;
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qb), 0);
    demi_qresult_t qr;
    struct timespec zero = ts_ms(0);
    uint64_t t0 = now_ms();
    for (int i = 0; i < 100; i++)
        assert_int_equal(demi_wait(&qr, qt, &zero), ETIMEDOUT);
    assert_true(now_ms() - t0 < 1000);
    kernel_send(&b, "now", 3);   /* on loopback the datagram is queued before sendto returns */
    memset(&qr, 0, sizeof(qr));
    assert_int_equal(demi_wait(&qr, qt, &zero), 0);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_int_equal(qr.qr_qt, qt);
    char got[8];
    assert_int_equal(sga_copy_out(&qr.qr_value.sga, got, sizeof(got)), 3);
    assert_memory_equal(got, "now", 3);
    free_result(&qr);
}

static void test_wait_timeout_duration(void **state)
{
    struct sockaddr_in b;
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qb), 0);
    demi_qresult_t qr;
    struct timespec t = ts_ms(150);
    uint64_t t0 = now_ms();
    assert_int_equal(demi_wait(&qr, qt, &t), ETIMEDOUT);
    uint64_t took = now_ms() - t0;
    assert_true(took >= 140);
    assert_true(took < 2000);
    /* still pending, same token */
    kernel_send(&b, "late", 4);
    qr = wait_opcode(qt, DEMI_OPC_POP);
    free_result(&qr);
}

static void test_wait_null_waits_forever(void **state)
{
    struct sockaddr_in b;
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qb), 0);
    struct delayed_send d = {.to = b, .delay_ms = 300};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, delayed_send_thread, &d), 0);
    uint64_t t0 = now_ms();
    demi_qresult_t qr;
    assert_int_equal(demi_wait(&qr, qt, NULL), 0);
    uint64_t took = now_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    assert_true(took >= 250);
    char got[8];
    assert_int_equal(sga_copy_out(&qr.qr_value.sga, got, sizeof(got)), 4);
    assert_memory_equal(got, "late", 4);
    free_result(&qr);
}

/* DEMI_SPIN_US=0 (sleep at once) and -1 (never sleep): waits still complete. */
static void test_wait_spin_settings(void **state)
{
    static const char *spins[] = {"0", "-1", "1000"};
    for (size_t i = 0; i < sizeof(spins) / sizeof(spins[0]); i++) {
        assert_int_equal(demi_fini(), 0);
        setenv("DEMI_SPIN_US", spins[i], 1);
        assert_int_equal(demi_init(NULL), 0);
        struct sockaddr_in b;
        int qb = udp_bound(&b);
        demi_qtoken_t qt;
        assert_int_equal(demi_pop(&qt, qb), 0);
        struct delayed_send d = {.to = b, .delay_ms = 100};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, delayed_send_thread, &d), 0);
        demi_qresult_t qr;
        uint64_t t0 = now_ms();
        assert_int_equal(demi_wait(&qr, qt, NULL), 0);
        pthread_join(th, NULL);
        assert_true(now_ms() - t0 < 3000);
        assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
        free_result(&qr);
        /* a timed wait with nothing coming still times out */
        assert_int_equal(demi_pop(&qt, qb), 0);
        struct timespec t = ts_ms(50);
        t0 = now_ms();
        assert_int_equal(demi_wait(&qr, qt, &t), ETIMEDOUT);
        assert_true(now_ms() - t0 >= 45);
    }
}

/* A long timeout returns as soon as the op completes, not at the timeout. */
static void test_wait_returns_early(void **state)
{
    struct sockaddr_in b;
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qb), 0);
    struct delayed_send d = {.to = b, .delay_ms = 100};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, delayed_send_thread, &d), 0);
    uint64_t t0 = now_ms();
    demi_qresult_t qr;
    struct timespec t = ts_ms(30000);
    assert_int_equal(demi_wait(&qr, qt, &t), 0);
    uint64_t took = now_ms() - t0;
    pthread_join(th, NULL);
    assert_true(took < 3000);
    free_result(&qr);
}

/* ---- demi_wait_any ---- */

static void test_wait_any_offset(void **state)
{
    enum { N = 4 };
    struct sockaddr_in addr[N];
    int qd[N];
    demi_qtoken_t qts[N];
    for (int i = 0; i < N; i++) {
        qd[i] = udp_bound(&addr[i]);
        assert_int_equal(demi_pop(&qts[i], qd[i]), 0);
    }
    demi_qresult_t qr;
    int off = -1;
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait_any(&qr, &off, qts, N, &zero), ETIMEDOUT);

    kernel_send(&addr[2], "two", 3);
    struct timespec t = ts_ms(API_WAIT_MS);
    assert_int_equal(demi_wait_any(&qr, &off, qts, N, &t), 0);
    assert_int_equal(off, 2);
    assert_int_equal(qr.qr_qt, qts[2]);
    assert_int_equal(qr.qr_qd, qd[2]);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_POP);
    free_result(&qr);

    /* the consumed token in the list: EINVAL */
    assert_int_equal(demi_wait_any(&qr, &off, qts, N, &zero), EINVAL);
    /* the rest are still pending */
    demi_qtoken_t rest[3] = {qts[0], qts[1], qts[3]};
    assert_int_equal(demi_wait_any(&qr, &off, rest, 3, &zero), ETIMEDOUT);
    kernel_send(&addr[3], "three", 5);
    assert_int_equal(demi_wait_any(&qr, &off, rest, 3, &t), 0);
    assert_int_equal(off, 2);
    assert_int_equal(qr.qr_qt, qts[3]);
    free_result(&qr);
    kernel_send(&addr[0], "zero", 4);
    assert_int_equal(demi_wait_any(&qr, &off, rest, 2, &t), 0);
    assert_int_equal(off, 0);
    assert_int_equal(qr.qr_qt, qts[0]);
    free_result(&qr);
}

static void test_wait_any_already_done(void **state)
{
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    demi_qtoken_t qts[2];
    assert_int_equal(demi_pop(&qts[0], qa), 0);
    assert_int_equal(demi_pop(&qts[1], qb), 0);
    kernel_send(&b, "b", 1);
    /* let it complete without waiting on it: a wait on the other one polls */
    demi_qresult_t qr;
    struct timespec t = ts_ms(50);
    assert_int_equal(demi_wait(&qr, qts[0], &t), ETIMEDOUT);
    int off = -1;
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 2, &zero), 0);
    assert_int_equal(off, 1);
    free_result(&qr);
}

static void test_wait_any_bad_args(void **state)
{
    struct sockaddr_in b;
    int qb = udp_bound(&b);
    demi_qtoken_t qts[2];
    assert_int_equal(demi_pop(&qts[0], qb), 0);
    qts[1] = 0xdeadbeef12345678ull;
    demi_qresult_t qr;
    int off;
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait_any(NULL, &off, qts, 1, &zero), EINVAL);
    assert_int_equal(demi_wait_any(&qr, NULL, qts, 1, &zero), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, NULL, 1, &zero), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 0, &zero), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, qts, -1, &zero), EINVAL);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 2, &zero), EINVAL);   /* a forged token */
    assert_int_equal(demi_wait_any(&qr, &off, qts, 2, NULL), EINVAL);    /* must not hang */
    struct timespec bad = {0, -5};
    assert_int_equal(demi_wait_any(&qr, &off, qts, 1, &bad), EINVAL);
    /* the good token is intact */
    assert_int_equal(demi_wait_any(&qr, &off, qts, 1, &zero), ETIMEDOUT);
    kernel_send(&b, "ok", 2);
    struct timespec t = ts_ms(API_WAIT_MS);
    assert_int_equal(demi_wait_any(&qr, &off, qts, 1, &t), 0);
    assert_int_equal(off, 0);
    free_result(&qr);
}

/* ---- demi_wait_next_n ---- */

static void test_wait_next_n_bad_args(void **state)
{
    demi_qresult_t qr[4];
    int n = 77;
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait_next_n(NULL, 4, &n, &zero), EINVAL);
    assert_int_equal(demi_wait_next_n(qr, 4, NULL, &zero), EINVAL);
    assert_int_equal(demi_wait_next_n(qr, 0, &n, &zero), EINVAL);
    assert_int_equal(demi_wait_next_n(qr, -3, &n, &zero), EINVAL);
    struct timespec bad = {0, 1000000000L};
    assert_int_equal(demi_wait_next_n(qr, 4, &n, &bad), EINVAL);
    /* nothing done: ETIMEDOUT with *qr_written = 0 */
    n = 77;
    assert_int_equal(demi_wait_next_n(qr, 4, &n, &zero), ETIMEDOUT);
    assert_int_equal(n, 0);
    struct sockaddr_in b;
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qb), 0);
    n = 77;
    struct timespec t = ts_ms(50);
    assert_int_equal(demi_wait_next_n(qr, 4, &n, &t), ETIMEDOUT);
    assert_int_equal(n, 0);
}

/* Completions nobody waited for are kept, and wait_next_n returns each once. */
static void test_wait_next_n_returns_unwaited(void **state)
{
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    demi_qtoken_t pop_qt, push_qt;
    assert_int_equal(demi_pop(&pop_qt, qb), 0);
    char msg[] = "unwaited";
    demi_sgarray_t sga = sga_of(msg, 8);
    assert_int_equal(demi_pushto(&push_qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);

    int seen_pop = 0, seen_push = 0;
    uint64_t deadline = now_ms() + API_WAIT_MS;
    while ((!seen_pop || !seen_push) && now_ms() < deadline) {
        demi_qresult_t qr[4];
        int n = -1;
        struct timespec t = ts_ms(100);
        int rc = demi_wait_next_n(qr, 4, &n, &t);
        if (rc == ETIMEDOUT) {
            assert_int_equal(n, 0);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_true(n >= 1 && n <= 4);
        for (int i = 0; i < n; i++) {
            if (qr[i].qr_qt == pop_qt) {
                assert_int_equal(seen_pop, 0);
                seen_pop = 1;
                assert_int_equal(qr[i].qr_opcode, DEMI_OPC_POP);
                assert_int_equal(qr[i].qr_qd, qb);
                char got[8];
                assert_int_equal(sga_copy_out(&qr[i].qr_value.sga, got, 8), 8);
                assert_memory_equal(got, msg, 8);
            } else if (qr[i].qr_qt == push_qt) {
                assert_int_equal(seen_push, 0);
                seen_push = 1;
                assert_int_equal(qr[i].qr_opcode, DEMI_OPC_PUSH);
                assert_int_equal(qr[i].qr_qd, qa);
            } else {
                fail_msg("unexpected completion qt=%#llx", (unsigned long long)qr[i].qr_qt);
            }
            free_result(&qr[i]);
        }
    }
    assert_true(seen_pop);
    assert_true(seen_push);
    /* both consumed */
    demi_qresult_t qr;
    struct timespec zero = ts_ms(0);
    assert_int_equal(demi_wait(&qr, pop_qt, &zero), EINVAL);
    assert_int_equal(demi_wait(&qr, push_qt, &zero), EINVAL);
    int n = 5;
    assert_int_equal(demi_wait_next_n(&qr, 1, &n, &zero), ETIMEDOUT);
    assert_int_equal(n, 0);
}

/* Many kept completions come back in batches of at most qr_out_size, each once. */
static void test_wait_next_n_batches(void **state)
{
    enum { N = 50, BATCH = 7 };
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    (void)udp_bound(&b);
    demi_qtoken_t qts[N];
    for (int i = 0; i < N; i++) {
        demi_sgarray_t sga = sga_of("d", 1);
        assert_int_equal(demi_pushto(&qts[i], qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
    }
    int seen[N] = {0};
    int total = 0;
    for (int round = 0; round < 10 * N && total < N; round++) {
        demi_qresult_t qr[BATCH];
        int n = -1;
        struct timespec t = ts_ms(200);
        int rc = demi_wait_next_n(qr, BATCH, &n, &t);
        if (rc == ETIMEDOUT)
            continue;
        assert_int_equal(rc, 0);
        assert_true(n >= 1 && n <= BATCH);
        for (int i = 0; i < n; i++) {
            int found = -1;
            for (int j = 0; j < N; j++)
                if (qts[j] == qr[i].qr_qt)
                    found = j;
            assert_true(found >= 0);
            assert_int_equal(seen[found], 0);
            seen[found] = 1;
            assert_int_equal(qr[i].qr_opcode, DEMI_OPC_PUSH);
            total++;
        }
    }
    assert_int_equal(total, N);
}

/* A result taken by demi_wait is not also returned by wait_next_n. */
static void test_wait_next_n_skips_consumed(void **state)
{
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    (void)udp_bound(&b);
    demi_qtoken_t q1, q2;
    demi_sgarray_t sga = sga_of("1", 1);
    assert_int_equal(demi_pushto(&q1, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
    assert_int_equal(demi_pushto(&q2, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
    wait_opcode(q1, DEMI_OPC_PUSH);
    demi_qresult_t qr[4];
    int n = 0;
    struct timespec t = ts_ms(API_WAIT_MS);
    assert_int_equal(demi_wait_next_n(qr, 4, &n, &t), 0);
    assert_int_equal(n, 1);
    assert_int_equal(qr[0].qr_qt, q2);
}

/* Cancelled ops (queue closed) show up in wait_next_n too. */
static void test_wait_next_n_sees_cancelled(void **state)
{
    struct sockaddr_in b;
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qb), 0);
    assert_int_equal(demi_close(qb), 0);
    demi_qresult_t qr[2];
    int n = 0;
    struct timespec t = ts_ms(API_WAIT_MS);
    assert_int_equal(demi_wait_next_n(qr, 2, &n, &t), 0);
    assert_int_equal(n, 1);
    assert_int_equal(qr[0].qr_qt, qt);
    assert_int_equal(qr[0].qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr[0].qr_ret, ECANCELED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        API_TEST(test_wait_bad_args),
        API_TEST(test_wait_consumed_token),
        API_TEST(test_wait_zero_timeout),
        API_TEST(test_wait_timeout_duration),
        API_TEST(test_wait_null_waits_forever),
        API_TEST(test_wait_returns_early),
        API_TEST(test_wait_spin_settings),
        API_TEST(test_wait_any_offset),
        API_TEST(test_wait_any_already_done),
        API_TEST(test_wait_any_bad_args),
        API_TEST(test_wait_next_n_bad_args),
        API_TEST(test_wait_next_n_returns_unwaited),
        API_TEST(test_wait_next_n_batches),
        API_TEST(test_wait_next_n_skips_consumed),
        API_TEST(test_wait_next_n_sees_cancelled),
    };
    return cmocka_run_group_tests_name("api_wait", tests, NULL, NULL);
}
