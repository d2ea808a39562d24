/* Unit tests of demi-echo's helpers: percentiles, message patterns, --addr
 * parsing, the qd map. No libOS is started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <arpa/inet.h>

#include "echo.h"
#include "echo_pattern.h"
#include "echo_stats.h"

static void test_percentile_exact(void **state)
{
    (void)state;
    struct echo_samples s = {0};
    for (uint64_t v = 1000; v >= 1; v--)  /* reversed: summarize must sort */
        assert_int_equal(echo_samples_add(&s, v), 0);
    struct echo_summary sum;
    echo_samples_summarize(&s, &sum);
    assert_int_equal(sum.n, 1000);
    assert_int_equal(sum.min_ns, 1);
    assert_int_equal(sum.p50_ns, 500);
    assert_int_equal(sum.p90_ns, 900);
    assert_int_equal(sum.p99_ns, 990);
    assert_int_equal(sum.p999_ns, 999);
    assert_int_equal(sum.max_ns, 1000);
    assert_true(sum.mean_ns > 500.49 && sum.mean_ns < 500.51);
    echo_samples_free(&s);
}

static void test_percentile_small(void **state)
{
    (void)state;
    uint64_t one[1] = {7};
    assert_int_equal(echo_percentile(one, 1, 500), 7);
    assert_int_equal(echo_percentile(one, 1, 999), 7);
    uint64_t ten[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_int_equal(echo_percentile(ten, 10, 500), 5);   /* ceil(5.0) = 5th */
    assert_int_equal(echo_percentile(ten, 10, 990), 10);  /* ceil(9.9) = 10th */
    assert_int_equal(echo_percentile(ten, 10, 999), 10);
    assert_int_equal(echo_percentile(ten, 10, 0), 1);
    assert_int_equal(echo_percentile(ten, 10, 5000), 10);  /* clamped */

    struct echo_samples s = {0};
    struct echo_summary sum;
    echo_samples_summarize(&s, &sum);  /* none: all zero */
    assert_int_equal(sum.n, 0);
    assert_int_equal(sum.max_ns, 0);
}

/* An sga over plain memory split into segments of the given lengths. */
static demi_sgarray_t make_sga(uint8_t *mem, const uint32_t *lens, uint32_t n)
{
    demi_sgarray_t sga;
    memset(&sga, 0, sizeof(sga));
    sga.sga_numsegs = n;
    for (uint32_t i = 0; i < n; i++) {
        sga.sga_segs[i].sgaseg_buf = mem;
        sga.sga_segs[i].sgaseg_len = lens[i];
        mem += lens[i];
    }
    return sga;
}

static void test_pattern_roundtrip(void **state)
{
    (void)state;
    enum { LEN = 4099 };
    uint8_t *a = malloc(LEN), *b = malloc(LEN);
    assert_non_null(a);
    assert_non_null(b);
    uint64_t seed = echo_pattern_seed(3, 17);
    uint32_t one[1] = {LEN};
    demi_sgarray_t sa = make_sga(a, one, 1);
    echo_pattern_fill(&sa, seed);
    uint32_t split[3] = {5, 1000, LEN - 1005};  /* odd boundaries */
    demi_sgarray_t sb = make_sga(b, split, 3);
    echo_pattern_fill(&sb, seed);
    assert_memory_equal(a, b, LEN);

    /* checking any piece at its offset succeeds */
    assert_int_equal(echo_pattern_check(a, LEN, seed, 0), LEN);
    for (size_t off = 0; off < 40; off++)
        assert_int_equal(echo_pattern_check(a + off, 77, seed, off), 77);
    for (size_t i = 0; i < LEN; i += 97)
        assert_int_equal(a[i], echo_pattern_byte(seed, i));

    /* a flipped byte is found where it is */
    a[2050] ^= 0x40;
    assert_int_equal(echo_pattern_check(a, LEN, seed, 0), 2050);
    assert_int_equal(echo_pattern_check(a + 2001, 100, seed, 2001), 49);
    a[2050] ^= 0x40;

    /* another message, or the right bytes at the wrong offset, fail */
    assert_true(echo_pattern_check(a, 64, echo_pattern_seed(3, 18), 0) < 64);
    assert_true(echo_pattern_check(a, 64, echo_pattern_seed(4, 17), 0) < 64);
    assert_true(echo_pattern_check(a + 8, 64, seed, 0) < 64);
    assert_true(echo_pattern_check(a, 64, seed, 2048) < 64);
    free(a);
    free(b);
}

static void test_parse_addr(void **state)
{
    (void)state;
    struct sockaddr_in sin;
    assert_int_equal(echo_parse_addr("127.0.0.1:7000", &sin), 0);
    assert_int_equal(sin.sin_family, AF_INET);
    assert_int_equal(ntohs(sin.sin_port), 7000);
    assert_int_equal(ntohl(sin.sin_addr.s_addr), 0x7f000001);
    assert_int_equal(echo_parse_addr("0.0.0.0:0", &sin), 0);
    assert_int_equal(echo_parse_addr("10.1.2.3:65535", &sin), 0);
    const char *bad[] = {"", "1.2.3.4", "1.2.3.4:", ":80", "localhost:80", "1.2.3.4:65536", "1.2.3.4:-1",
                         "1.2.3.4:80x", "1.2.3:80", "::1:80", "[::1]:80", "1.2.3.4: 80", "1.2.3.4:+80",
                         "255.255.255.255.255:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(echo_parse_addr(bad[i], &sin), EINVAL);
    char buf[32];
    assert_int_equal(echo_parse_addr("192.168.0.9:53", &sin), 0);
    assert_string_equal(echo_addr_str(&sin, buf, sizeof(buf)), "192.168.0.9:53");
}

static void test_qdmap(void **state)
{
    (void)state;
    struct echo_qdmap m = {0};
    int x, y;
    assert_null(echo_qdmap_get(&m, 0));
    assert_null(echo_qdmap_get(&m, -1));
    assert_int_equal(echo_qdmap_set(&m, -1, &x), EINVAL);
    assert_int_equal(echo_qdmap_set(&m, 3, &x), 0);
    assert_int_equal(echo_qdmap_set(&m, 5000, &y), 0);
    assert_ptr_equal(echo_qdmap_get(&m, 3), &x);
    assert_ptr_equal(echo_qdmap_get(&m, 5000), &y);
    assert_null(echo_qdmap_get(&m, 4));
    assert_null(echo_qdmap_get(&m, 1 << 30));
    assert_int_equal(echo_qdmap_set(&m, 3, NULL), 0);
    assert_null(echo_qdmap_get(&m, 3));
    echo_qdmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile_exact), cmocka_unit_test(test_percentile_small),
        cmocka_unit_test(test_pattern_roundtrip), cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_qdmap),
    };
    return cmocka_run_group_tests_name("demi-echo units", tests, NULL, NULL);
}
