/*
 * API contract of demi_sgaalloc and demi_sgafree: sizes from 1 byte to
 * 64 MiB, segmenting, failures (sga_buf NULL, errno set), double free, and
 * ownership of popped sgas.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"

/* When non-zero, check_alloc also checks that no segment is longer. */
static uint32_t check_max_seglen;

/* Checks an sga from demi_sgaalloc(size): segments, lengths, every byte writable. */
static void check_alloc(size_t size, uint32_t want_segs_min, uint32_t want_segs_max)
{
    errno = 0;
    demi_sgarray_t sga = demi_sgaalloc(size);
    if (!sga.sga_buf)
        fail_msg("demi_sgaalloc(%zu) failed: errno %d (%s)", size, errno, strerror(errno));
    assert_true(sga.sga_numsegs >= want_segs_min);
    assert_true(sga.sga_numsegs <= want_segs_max);
    assert_true(sga.sga_numsegs <= DEMI_SGARRAY_MAXSIZE);
    uint64_t total = 0;
    for (uint32_t i = 0; i < sga.sga_numsegs; i++) {
        assert_non_null(sga.sga_segs[i].sgaseg_buf);
        assert_true(sga.sga_segs[i].sgaseg_len > 0);
        if (check_max_seglen)
            assert_true(sga.sga_segs[i].sgaseg_len <= check_max_seglen);
        memset(sga.sga_segs[i].sgaseg_buf, (int)i + 1, sga.sga_segs[i].sgaseg_len);
        total += sga.sga_segs[i].sgaseg_len;
    }
    assert_int_equal(total, size);
    /* segments do not overlap: each still holds its own pattern */
    for (uint32_t i = 0; i < sga.sga_numsegs; i++) {
        const uint8_t *p = sga.sga_segs[i].sgaseg_buf;
        uint32_t len = sga.sga_segs[i].sgaseg_len;
        assert_int_equal(p[0], i + 1);
        assert_int_equal(p[len - 1], i + 1);
        assert_int_equal(p[len / 2], i + 1);
    }
    assert_int_equal(demi_sgafree(&sga), 0);
}

static void test_alloc_small(void **state)
{
    check_alloc(1, 1, 1);
    check_alloc(100, 1, 1);
    check_alloc(4096, 1, 1);
}

static void test_alloc_one_mib_one_segment(void **state)
{
    check_alloc(1 << 20, 1, 1);
}

static void test_alloc_just_over_segsize(void **state)
{
    /* larger than DEMI_SGA_SEGSIZE (1 MiB by default): split */
    check_alloc((1 << 20) + 1, 2, DEMI_SGARRAY_MAXSIZE);
}

static void test_alloc_64mib(void **state)
{
    check_alloc((size_t)64 << 20, 2, DEMI_SGARRAY_MAXSIZE);
}

static void test_alloc_odd_large(void **state)
{
    check_alloc((size_t)5 * (1 << 20) + 12345, 2, DEMI_SGARRAY_MAXSIZE);
}

static void test_alloc_segsize_config(void **state)
{
    assert_int_equal(demi_fini(), 0);
    setenv("DEMI_SGA_SEGSIZE", "64K", 1);
    assert_int_equal(demi_init(NULL), 0);
    check_max_seglen = 64 * 1024;
    check_alloc(64 * 1024, 1, 1);
    check_alloc(64 * 1024 + 1, 2, DEMI_SGARRAY_MAXSIZE);
    check_alloc(200 * 1024, 4, DEMI_SGARRAY_MAXSIZE);
    check_alloc(16 * 64 * 1024, 16, DEMI_SGARRAY_MAXSIZE);
    check_max_seglen = 0;
}

static void test_alloc_zero_fails(void **state)
{
    errno = 0;
    demi_sgarray_t sga = demi_sgaalloc(0);
    assert_null(sga.sga_buf);
    assert_int_equal(sga.sga_numsegs, 0);
    assert_int_equal(errno, EINVAL);
}

static void test_alloc_absurd_fails(void **state)
{
    static const size_t sizes[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 62, ((size_t)1 << 40) + 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        errno = 0;
        demi_sgarray_t sga = demi_sgaalloc(sizes[i]);
        assert_null(sga.sga_buf);
        assert_int_equal(sga.sga_numsegs, 0);
        assert_int_equal(errno, ENOMEM);
    }
}

static void test_alloc_over_sga_max(void **state)
{
    assert_int_equal(demi_fini(), 0);
    setenv("DEMI_SGA_MAX", "1M", 1);
    assert_int_equal(demi_init(NULL), 0);
    check_alloc(1 << 20, 1, 1);
    errno = 0;
    demi_sgarray_t sga = demi_sgaalloc((1 << 20) + 1);
    assert_null(sga.sga_buf);
    assert_int_equal(errno, ENOMEM);
}

static void test_free_twice(void **state)
{
    demi_sgarray_t sga = demi_sgaalloc(128);
    assert_non_null(sga.sga_buf);
    demi_sgarray_t copy = sga;
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    assert_int_equal(demi_sgafree(&copy), EINVAL);
}

static void test_free_bad(void **state)
{
    assert_int_equal(demi_sgafree(NULL), EINVAL);
    demi_sgarray_t sga;
    memset(&sga, 0, sizeof(sga));
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    char mine[8];
    sga = sga_of(mine, sizeof(mine));
    assert_int_equal(demi_sgafree(&sga), EINVAL);   /* built by the app, not libdemi's */
    sga.sga_buf = mine;                              /* a forged handle */
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    demi_sgarray_t failed = demi_sgaalloc(0);
    assert_int_equal(demi_sgafree(&failed), EINVAL);
}

/* The handle, not the segment list, says what is freed: an app that edited
 * its segments still frees everything (the fixture's leak check proves it). */
static void test_free_after_editing_segments(void **state)
{
    demi_sgarray_t sga = demi_sgaalloc((size_t)3 << 20);
    assert_non_null(sga.sga_buf);
    assert_true(sga.sga_numsegs >= 2);
    sga.sga_segs[0].sgaseg_len = 1;
    sga.sga_segs[1].sgaseg_buf = NULL;
    sga.sga_numsegs = 1;
    assert_int_equal(demi_sgafree(&sga), 0);
}

/* Allocating and freeing many times does not grow memory. */
static void test_alloc_free_churn(void **state)
{
    for (int i = 0; i < 20000; i++) {
        demi_sgarray_t sga = demi_sgaalloc((size_t)(i % 3000) + 1);
        assert_non_null(sga.sga_buf);
        ((char *)sga.sga_segs[0].sgaseg_buf)[0] = 1;
        assert_int_equal(demi_sgafree(&sga), 0);
    }
    /* and many live at once */
    enum { N = 1000 };
    static demi_sgarray_t s[N];
    for (int i = 0; i < N; i++) {
        s[i] = demi_sgaalloc(64);
        assert_non_null(s[i].sga_buf);
        for (int j = 0; j < i && j < 8; j++)
            assert_ptr_not_equal(s[i].sga_buf, s[i - 1 - j].sga_buf);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(demi_sgafree(&s[i]), 0);
}

/* A popped sga stays valid and unchanged while other I/O runs, until sgafree. */
static void test_popped_sga_belongs_to_app(void **state)
{
    struct sockaddr_in a, b;
    int qa = udp_bound(&a);
    int qb = udp_bound(&b);
    demi_qtoken_t qt;
    demi_sgarray_t first = sga_of("keep-this", 9);
    assert_int_equal(demi_pushto(&qt, qa, &first, (struct sockaddr *)&b, sizeof(b)), 0);
    wait_opcode(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_pop(&qt, qb), 0);
    demi_qresult_t kept = wait_opcode(qt, DEMI_OPC_POP);
    /* lots more traffic through the same queue */
    for (int i = 0; i < 100; i++) {
        char junk[64];
        memset(junk, 'a' + i % 26, sizeof(junk));
        demi_sgarray_t sga = sga_of(junk, sizeof(junk));
        assert_int_equal(demi_pushto(&qt, qa, &sga, (struct sockaddr *)&b, sizeof(b)), 0);
        wait_opcode(qt, DEMI_OPC_PUSH);
        assert_int_equal(demi_pop(&qt, qb), 0);
        demi_qresult_t qr = wait_opcode(qt, DEMI_OPC_POP);
        assert_int_equal(demi_sgafree(&qr.qr_value.sga), 0);
    }
    char got[16];
    assert_int_equal(sga_copy_out(&kept.qr_value.sga, got, sizeof(got)), 9);
    assert_memory_equal(got, "keep-this", 9);
    /* writable too */
    memset(kept.qr_value.sga.sga_segs[0].sgaseg_buf, 0, kept.qr_value.sga.sga_segs[0].sgaseg_len);
    /* the queue's close does not take it away either */
    assert_int_equal(demi_close(qb), 0);
    assert_int_equal(sga_copy_out(&kept.qr_value.sga, got, sizeof(got)), 9);
    assert_int_equal(demi_sgafree(&kept.qr_value.sga), 0);
    assert_int_equal(demi_sgafree(&kept.qr_value.sga), EINVAL);
}

/* Pushing part of an allocated sga (a window inside its segment). */
static void test_push_window_of_sga(void **state)
{
    int c, s;
    tcp_pair(&c, &s);
    demi_sgarray_t sga = demi_sgaalloc(100);
    assert_non_null(sga.sga_buf);
    char *p = sga.sga_segs[0].sgaseg_buf;
    for (int i = 0; i < 100; i++)
        p[i] = (char)('0' + i % 10);
    demi_sgarray_t win = sga;
    win.sga_segs[0].sgaseg_buf = p + 10;
    win.sga_segs[0].sgaseg_len = 5;
    demi_qtoken_t qt;
    assert_int_equal(demi_push(&qt, c, &win), 0);
    wait_opcode(qt, DEMI_OPC_PUSH);
    assert_int_equal(demi_sgafree(&sga), 0);
    char got[5];
    pop_exact(s, got, 5);
    assert_memory_equal(got, "01234", 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        API_TEST(test_alloc_small),
        API_TEST(test_alloc_one_mib_one_segment),
        API_TEST(test_alloc_just_over_segsize),
        API_TEST(test_alloc_64mib),
        API_TEST(test_alloc_odd_large),
        API_TEST(test_alloc_segsize_config),
        API_TEST(test_alloc_zero_fails),
        API_TEST(test_alloc_absurd_fails),
        API_TEST(test_alloc_over_sga_max),
        API_TEST(test_free_twice),
        API_TEST(test_free_bad),
        API_TEST(test_free_after_editing_segments),
        API_TEST(test_alloc_free_churn),
        API_TEST(test_popped_sga_belongs_to_app),
        API_TEST(test_push_window_of_sga),
    };
    return cmocka_run_group_tests_name("api_sga", tests, NULL, NULL);
}
