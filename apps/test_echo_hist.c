/* Unit tests of the latency histogram (echo_hist.c): the bucket layout, the
 * stated error bound (1/128) over the whole uint64_t range, percentiles
 * against exact ones on random data, merging, and the extremes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "echo_hist.h"

/* |got - want| <= want / 128, the bound echo_hist.h states. */
static void assert_within_bound(uint64_t got, uint64_t want)
{
    uint64_t diff = got > want ? got - want : want - got;
    if (diff > want / 128)
        fail_msg("histogram gave %llu for %llu: off by %llu, more than 1/128", (unsigned long long)got,
                 (unsigned long long)want, (unsigned long long)diff);
}

static struct echo_hist *hist_new(void)
{
    struct echo_hist *h = malloc(sizeof(*h));
    assert_non_null(h);
    echo_hist_init(h);
    return h;
}

static void test_layout(void **state)
{
    (void)state;
    assert_true(sizeof(struct echo_hist) <= 32 * 1024);  /* "about 30 KiB", whatever the count */
    assert_int_equal(echo_hist_index(0), 0);
    assert_int_equal(echo_hist_index(127), 127);
    assert_int_equal(echo_hist_index(128), 128);
    assert_int_equal(echo_hist_index(UINT64_MAX), ECHO_HIST_BUCKETS - 1);
    uint64_t next = 0;
    for (size_t i = 0; i < ECHO_HIST_BUCKETS; i++) {
        uint64_t lo = echo_hist_bucket_low(i), w = echo_hist_bucket_width(i);
        assert_int_equal(lo, next);  /* buckets tile the range without gaps */
        assert_int_equal(echo_hist_index(lo), i);
        assert_int_equal(echo_hist_index(lo + (w - 1)), i);
        if (i >= 2 * ECHO_HIST_HALF)
            assert_true(w <= lo / 64);  /* at most 1/64 of its values wide */
        else
            assert_int_equal(w, 1);
        next = lo + w;  /* wraps to 0 after the last bucket */
    }
    assert_int_equal(next, 0);
}

/* Middle value v between a 0 and a UINT64_MAX, so clamping to min/max does not help. */
static uint64_t median_of_three(struct echo_hist *h, uint64_t v)
{
    echo_hist_init(h);
    echo_hist_record(h, 0);
    echo_hist_record(h, v);
    echo_hist_record(h, UINT64_MAX);
    return echo_hist_percentile(h, 500000);
}

static void test_error_bound(void **state)
{
    (void)state;
    struct echo_hist *h = hist_new();
    for (uint64_t v = 0; v < 20000; v++)
        assert_within_bound(median_of_three(h, v), v);
    /* every power of two, and values around and between them, up to 2^64 - 1 */
    for (unsigned e = 7; e < 64; e++) {
        uint64_t p = 1ull << e;
        uint64_t probes[] = {p - 1, p, p + 1, p + p / 3, p + p / 64 - 1, p + p / 64, p | (p - 1), p + p / 2 + 7};
        for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++)
            assert_within_bound(median_of_three(h, probes[k]), probes[k]);
    }
    /* 100 ns to 100 s in 0.1 % steps */
    for (double v = 100; v <= 1e11; v *= 1.001)
        assert_within_bound(median_of_three(h, (uint64_t)v), (uint64_t)v);
    free(h);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Random latencies: log-uniform from 1 us to about 100 ms, with a heavy tail. */
static uint64_t random_latency(void)
{
    uint64_t r = rng_next();
    unsigned e = 10 + (unsigned)(r % 17);        /* 2^10 .. 2^26 ns */
    uint64_t v = (1ull << e) + (rng_next() % (1ull << e));
    if ((r >> 32) % 1000 == 0)
        v *= 100;                                /* one in a thousand: 100 times slower */
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Exact nearest-rank percentile of n sorted values. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, uint32_t ppm)
{
    unsigned __int128 rank = ((unsigned __int128)ppm * n + 999999) / 1000000;
    return sorted[rank == 0 ? 0 : (size_t)rank - 1];
}

static void test_random_vs_exact(void **state)
{
    (void)state;
    enum { N = 300000 };
    uint64_t *v = malloc(N * sizeof(*v));
    assert_non_null(v);
    struct echo_hist *h = hist_new();
    long double sum = 0;
    for (size_t i = 0; i < N; i++) {
        v[i] = random_latency();
        sum += v[i];
        echo_hist_record(h, v[i]);
    }
    qsort(v, N, sizeof(*v), cmp_u64);
    assert_int_equal(h->n, N);
    const uint32_t ppms[] = {0, 1, 1000, 100000, 500000, 900000, 990000, 999000, 999900, 999999, 1000000};
    for (size_t k = 0; k < sizeof(ppms) / sizeof(ppms[0]); k++)
        assert_within_bound(echo_hist_percentile(h, ppms[k]), exact_percentile(v, N, ppms[k]));
    struct echo_summary s;
    echo_hist_summarize(h, &s);
    assert_int_equal(s.n, N);
    assert_int_equal(s.min_ns, v[0]);  /* exact */
    assert_int_equal(s.max_ns, v[N - 1]);
    assert_int_equal(echo_hist_percentile(h, 1000000), v[N - 1]);
    double mean = (double)(sum / N);
    assert_true(s.mean_ns > mean * (1 - 1e-12) && s.mean_ns < mean * (1 + 1e-12));
    assert_within_bound(s.p50_ns, exact_percentile(v, N, 500000));
    assert_within_bound(s.p999_ns, exact_percentile(v, N, 999000));

    /* small sets: p50 of 1..10 is the 5th, p99 the 10th */
    echo_hist_init(h);
    for (uint64_t x = 1; x <= 10; x++)
        echo_hist_record(h, x * 1000);
    assert_within_bound(echo_hist_percentile(h, 500000), 5000);
    assert_within_bound(echo_hist_percentile(h, 990000), 10000);
    assert_int_equal(echo_hist_percentile(h, 0), 1000);  /* rank 0 means the first */
    free(h);
    free(v);
}

static void test_merge(void **state)
{
    (void)state;
    struct echo_hist *all = hist_new(), *part[3] = {hist_new(), hist_new(), hist_new()};
    for (size_t i = 0; i < 100000; i++) {
        uint64_t x = random_latency();
        echo_hist_record(all, x);
        echo_hist_record(part[i % 3 == 0 ? 0 : x % 2 ? 1 : 2], x);
    }
    struct echo_hist *m = hist_new();
    echo_hist_merge(m, part[2]);
    echo_hist_merge(m, part[0]);
    struct echo_hist *empty = hist_new();
    echo_hist_merge(m, empty);  /* an empty one changes nothing, its min included */
    echo_hist_merge(m, part[1]);
    assert_int_equal(m->n, all->n);
    assert_int_equal(m->min, all->min);
    assert_int_equal(m->max, all->max);
    assert_true(m->sum == all->sum);
    assert_memory_equal(m->counts, all->counts, sizeof(all->counts));
    for (uint32_t ppm = 0; ppm <= 1000000; ppm += 12500)
        assert_int_equal(echo_hist_percentile(m, ppm), echo_hist_percentile(all, ppm));

    /* bucket by bucket, as a merge tool reading JSON does */
    struct echo_hist *b = hist_new();
    for (size_t i = 0; i < ECHO_HIST_BUCKETS; i++)
        if (all->counts[i])
            assert_int_equal(echo_hist_add_bucket(b, i, all->counts[i]), 0);
    assert_int_equal(echo_hist_add_bucket(b, ECHO_HIST_BUCKETS, 1), EINVAL);
    assert_int_equal(b->n, all->n);
    b->min = all->min;
    b->max = all->max;
    for (uint32_t ppm = 0; ppm <= 1000000; ppm += 12500)
        assert_int_equal(echo_hist_percentile(b, ppm), echo_hist_percentile(all, ppm));
    free(b);
    free(empty);
    free(m);
    for (int i = 0; i < 3; i++)
        free(part[i]);
    free(all);
}

static void test_extremes(void **state)
{
    (void)state;
    struct echo_hist *h = hist_new();
    struct echo_summary s;
    echo_hist_summarize(h, &s);  /* empty: all zero */
    assert_int_equal(s.n, 0);
    assert_int_equal(s.min_ns, 0);
    assert_int_equal(s.max_ns, 0);
    assert_int_equal(echo_hist_percentile(h, 500000), 0);
    assert_true(echo_hist_mean(h) == 0.0);

    echo_hist_record(h, 0);
    assert_int_equal(echo_hist_percentile(h, 500000), 0);
    assert_int_equal(echo_hist_percentile(h, 1000000), 0);

    /* the largest values: the sum passes 2^64 and stays exact in 128 bits */
    echo_hist_init(h);
    for (int i = 0; i < 3; i++)
        echo_hist_record(h, UINT64_MAX);
    assert_int_equal(h->counts[ECHO_HIST_BUCKETS - 1], 3);
    assert_true(h->sum == (unsigned __int128)UINT64_MAX * 3);
    assert_int_equal(echo_hist_percentile(h, 500000), UINT64_MAX);  /* clamped to max */
    assert_true(echo_hist_mean(h) > 1.8e19);
    assert_int_equal(echo_hist_percentile(h, 5000000), UINT64_MAX);  /* ppm over 10^6 is the max */

    /* a single value is reported exactly (clamped to min = max) */
    echo_hist_init(h);
    echo_hist_record(h, 123456789);
    echo_hist_summarize(h, &s);
    assert_int_equal(s.p50_ns, 123456789);
    assert_int_equal(s.p999_ns, 123456789);

    /* counts: 10^7 values of one bucket, then the percentiles still split right */
    echo_hist_init(h);
    for (int i = 0; i < 10000000; i++)
        echo_hist_record(h, 1000);
    echo_hist_record(h, 1000000);
    assert_int_equal(h->n, 10000001);
    assert_within_bound(echo_hist_percentile(h, 999999), 1000);
    assert_int_equal(echo_hist_percentile(h, 1000000), 1000000);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout), cmocka_unit_test(test_error_bound), cmocka_unit_test(test_random_vs_exact),
        cmocka_unit_test(test_merge),  cmocka_unit_test(test_extremes),
    };
    return cmocka_run_group_tests_name("echo histogram", tests, NULL, NULL);
}
