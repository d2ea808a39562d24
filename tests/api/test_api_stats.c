/*
 * API contract of demi_getcounters and demi_getcounter.
 */
#include <errno.h>
#include <string.h>

#include "api_util.h"

enum { CAP = 512 };

/* Reads the counters of qd into out (CAP entries); returns how many there are. */
static size_t read_all(int qd, demi_counter_t *out)
{
    size_t n = 0;
    assert_int_equal(demi_getcounters(qd, out, CAP, &n), 0);
    assert_true(n > 0);
    assert_true(n <= CAP);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(out[i].name);
        assert_true(strlen(out[i].name) > 0);
        for (size_t j = 0; j < i; j++)
            if (strcmp(out[i].name, out[j].name) == 0)
                fail_msg("counter %s listed twice", out[i].name);
    }
    return n;
}

static void test_global_counters(void **state)
{
    static demi_counter_t c[CAP];
    size_t n = read_all(-1, c);
    /* each one can be read by name */
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(demi_getcounter(-1, c[i].name, &v), 0);
}

static void test_queue_counters(void **state)
{
    static demi_counter_t c[CAP];
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    size_t n = read_all(qa, c);
    (void)n;
    /* the sum of a queue's counters grows with traffic */
    uint64_t before = 0, after = 0;
    for (size_t i = 0; i < n; i++)
        before += c[i].value;
    for (int i = 0; i < 5; i++) {
        demi_sgarray_t sga = sga_of("abc", 3);
        demi_qtoken_t qt;
        assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
        wait_opcode(qt, DEMI_OPC_PUSH);
    }
    n = read_all(qa, c);
    for (size_t i = 0; i < n; i++)
        after += c[i].value;
    assert_true(after > before);
    (void)qb;
}

static void test_counters_monotonic(void **state)
{
    static demi_counter_t c1[CAP], c2[CAP];
    size_t n1 = read_all(-1, c1);
    struct sockaddr_in a;
    int qd = udp_bound(&a);
    demi_qtoken_t qt;
    assert_int_equal(demi_pop(&qt, qd), 0);
    assert_int_equal(demi_close(qd), 0);
    demi_qresult_t qr = wait_done(qt);
    (void)qr;
    size_t n2 = read_all(-1, c2);
    assert_int_equal(n1, n2);
    /* something counted the work done */
    uint64_t s1 = 0, s2 = 0;
    for (size_t i = 0; i < n1; i++) {
        assert_string_equal(c1[i].name, c2[i].name);
        s1 += c1[i].value;
        s2 += c2[i].value;
    }
    assert_true(s2 > s1);
}

static void test_small_cap(void **state)
{
    static demi_counter_t all[CAP];
    size_t total = read_all(-1, all);
    assert_true(total >= 2);
    demi_counter_t some[3];
    memset(some, 0xab, sizeof(some));
    size_t n = 0;
    assert_int_equal(demi_getcounters(-1, some, 1, &n), 0);
    /* the count is of all counters, only cap were written */
    assert_int_equal(n, total);
    assert_string_equal(some[0].name, all[0].name);
    uint8_t pattern[sizeof(demi_counter_t) * 2];
    memset(pattern, 0xab, sizeof(pattern));
    assert_memory_equal(&some[1], pattern, sizeof(pattern));
}

static void test_bad_args(void **state)
{
    demi_counter_t c[4];
    size_t n;
    uint64_t v;
    assert_int_equal(demi_getcounters(-1, c, 4, NULL), EINVAL);
    assert_int_equal(demi_getcounters(-1, NULL, 4, &n), EINVAL);
    /* NULL with cap 0 asks only for the count (docs/api/demi_getcounters.md) */
    size_t count = 0;
    assert_int_equal(demi_getcounters(-1, NULL, 0, &count), 0);
    assert_true(count > 0);
    assert_int_equal(demi_getcounters(-1, c, 4, &n), 0);
    assert_int_equal(n, count);
    assert_int_equal(demi_getcounters(12345, c, 4, &n), EBADF);
    assert_int_equal(demi_getcounters(-2, c, 4, &n), EBADF);
    assert_int_equal(demi_getcounter(-1, "no.such.counter", &v), ENOENT);
    assert_int_equal(demi_getcounter(-1, "", &v), ENOENT);
    assert_int_equal(demi_getcounter(-1, NULL, &v), EINVAL);
    demi_counter_t first[1];
    assert_int_equal(demi_getcounters(-1, first, 1, &n), 0);
    assert_int_equal(demi_getcounter(-1, first[0].name, NULL), EINVAL);
    assert_int_equal(demi_getcounter(12345, first[0].name, &v), EBADF);
    /* a closed queue */
    struct sockaddr_in a;
    int qd = udp_bound(&a);
    assert_int_equal(demi_close(qd), 0);
    assert_int_equal(demi_getcounters(qd, c, 4, &n), EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        API_TEST(test_global_counters),
        API_TEST(test_queue_counters),
        API_TEST(test_counters_monotonic),
        API_TEST(test_small_cap),
        API_TEST(test_bad_args),
    };
    return cmocka_run_group_tests_name("api_stats", tests, NULL, NULL);
}
