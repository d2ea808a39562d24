/*
 * Unit tests of src/core/sga_table.c: sga_make, sga_take_bufs (zero-copy
 * slices for segments inside the sga's own buffers, copies of foreign
 * memory), demi_sgafree (double free and forged handles: EINVAL) and the
 * live counts.
 */
#include <demi/sga.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "unit_util.h"
#include "sga_table.h"

static uint64_t sgas_at_start;

static int sga_setup(void **state)
{
    sgas_at_start = sga_live_count();
    return leak_setup(state);
}

static int sga_teardown(void **state)
{
    assert_int_equal(sga_live_count(), sgas_at_start);
    return leak_teardown(state);
}

#define SGA_TEST(fn) cmocka_unit_test_setup_teardown(fn, sga_setup, sga_teardown)

/* Makes a one-buffer sga of len bytes filled with a pattern. */
static void make_one(demi_sgarray_t *sga, size_t len)
{
    struct buf *b = buf_alloc(len);
    assert_non_null(b);
    for (size_t i = 0; i < len; i++)
        b->data[i] = (uint8_t)(i * 3 + 1);
    assert_int_equal(sga_make(sga, &b, 1), 0);
}

static void unref_all(struct buf **b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        buf_unref(b[i]);
}

static void test_make_and_free(void **state)
{
    struct buf *b[3];
    for (int i = 0; i < 3; i++) {
        b[i] = buf_alloc((size_t)(i + 1) * 10);
        assert_non_null(b[i]);
    }
    demi_sgarray_t sga;
    memset(&sga, 0xcc, sizeof(sga));
    assert_int_equal(sga_make(&sga, b, 3), 0);
    assert_non_null(sga.sga_buf);
    assert_int_equal(sga.sga_numsegs, 3);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(sga.sga_segs[i].sgaseg_buf, b[i]->data);
        assert_int_equal(sga.sga_segs[i].sgaseg_len, (uint32_t)(i + 1) * 10);
    }
    assert_int_equal(sga_live_count(), sgas_at_start + 1);
    /* the sga took over the references: no buffer freed yet */
    assert_int_equal(b[0]->refcnt, 1);

    demi_sgarray_t copy = sga;
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(sga_live_count(), sgas_at_start);
    /* twice, through the same struct or a copy of it */
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    assert_int_equal(demi_sgafree(&copy), EINVAL);
    assert_int_equal(sga_live_count(), sgas_at_start);
}

static void test_make_empty(void **state)
{
    demi_sgarray_t sga;
    memset(&sga, 0xcc, sizeof(sga));
    assert_int_equal(sga_make(&sga, NULL, 0), 0);
    assert_null(sga.sga_buf);
    assert_int_equal(sga.sga_numsegs, 0);
    assert_int_equal(sga_live_count(), sgas_at_start);
}

static void test_make_too_many(void **state)
{
    enum { N = DEMI_SGARRAY_MAXSIZE + 1 };
    struct buf *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = buf_alloc(4);
        assert_non_null(b[i]);
    }
    demi_sgarray_t sga;
    assert_int_equal(sga_make(&sga, b, N), EMSGSIZE);
    /* references taken over also on failure: the leak check proves they were dropped */
    assert_int_equal(sga_live_count(), sgas_at_start);
}

static void test_make_max(void **state)
{
    struct buf *b[DEMI_SGARRAY_MAXSIZE];
    for (int i = 0; i < DEMI_SGARRAY_MAXSIZE; i++) {
        b[i] = buf_alloc(4);
        assert_non_null(b[i]);
    }
    demi_sgarray_t sga;
    assert_int_equal(sga_make(&sga, b, DEMI_SGARRAY_MAXSIZE), 0);
    assert_int_equal(sga.sga_numsegs, DEMI_SGARRAY_MAXSIZE);
    assert_int_equal(demi_sgafree(&sga), 0);
}

static void test_free_bad_handles(void **state)
{
    assert_int_equal(demi_sgafree(NULL), EINVAL);
    demi_sgarray_t sga;
    memset(&sga, 0, sizeof(sga));
    assert_int_equal(demi_sgafree(&sga), EINVAL);     /* sga_buf NULL */
    sga.sga_buf = (void *)(uintptr_t)0xdeadbeefcafeull;
    sga.sga_numsegs = 1;
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    sga.sga_buf = (void *)(uintptr_t)UINTPTR_MAX;
    assert_int_equal(demi_sgafree(&sga), EINVAL);

    /* a live handle with its generation changed is forged */
    demi_sgarray_t good;
    make_one(&good, 8);
    sga = good;
    sga.sga_buf = (void *)((uintptr_t)good.sga_buf ^ ((uintptr_t)1 << 40));
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    sga.sga_buf = (void *)((uintptr_t)good.sga_buf + 1);
    assert_int_equal(demi_sgafree(&sga), EINVAL);
    assert_int_equal(sga_live_count(), sgas_at_start + 1);
    assert_int_equal(demi_sgafree(&good), 0);
}

static void test_stale_handle_after_reuse(void **state)
{
    demi_sgarray_t a, b;
    make_one(&a, 16);
    demi_sgarray_t stale = a;
    assert_int_equal(demi_sgafree(&a), 0);
    make_one(&b, 16);   /* likely the same slot */
    assert_int_equal(demi_sgafree(&stale), EINVAL);
    assert_int_equal(sga_live_count(), sgas_at_start + 1);
    assert_int_equal(demi_sgafree(&b), 0);
}

/* A segment inside the sga's own buffer becomes a slice: no copy. */
static void test_take_zero_copy(void **state)
{
    demi_sgarray_t sga;
    make_one(&sga, 1000);
    uint8_t *data = sga.sga_segs[0].sgaseg_buf;

    struct buf *out[DEMI_SGARRAY_MAXSIZE];
    uint32_t n = 0;
    uint64_t total = 0;
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), 0);
    assert_int_equal(n, 1);
    assert_int_equal(total, 1000);
    assert_ptr_equal(out[0]->data, data);
    assert_int_equal(out[0]->len, 1000);
    unref_all(out, n);

    /* a window of the buffer, in two segments */
    demi_sgarray_t win = sga;
    win.sga_numsegs = 2;
    win.sga_segs[0].sgaseg_buf = data + 100;
    win.sga_segs[0].sgaseg_len = 50;
    win.sga_segs[1].sgaseg_buf = data + 900;
    win.sga_segs[1].sgaseg_len = 100;
    assert_int_equal(sga_take_bufs(&win, out, &n, &total), 0);
    assert_int_equal(n, 2);
    assert_int_equal(total, 150);
    assert_ptr_equal(out[0]->data, data + 100);
    assert_int_equal(out[0]->len, 50);
    assert_ptr_equal(out[1]->data, data + 900);
    assert_int_equal(out[1]->len, 100);

    /* the slices keep the data alive after the application frees the sga */
    assert_int_equal(demi_sgafree(&sga), 0);
    assert_int_equal(out[1]->data[99], (uint8_t)(999 * 3 + 1));
    unref_all(out, n);
}

/* Memory libdemi does not own is copied. */
static void test_take_copies_foreign(void **state)
{
    uint8_t mine[300];
    for (size_t i = 0; i < sizeof(mine); i++)
        mine[i] = (uint8_t)(i ^ 0x5a);
    demi_sgarray_t sga;
    memset(&sga, 0, sizeof(sga));
    sga.sga_numsegs = 2;
    sga.sga_segs[0].sgaseg_buf = mine;
    sga.sga_segs[0].sgaseg_len = 100;
    sga.sga_segs[1].sgaseg_buf = mine + 100;
    sga.sga_segs[1].sgaseg_len = 200;

    struct buf *out[DEMI_SGARRAY_MAXSIZE];
    uint32_t n = 0;
    uint64_t total = 0;
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), 0);
    assert_int_equal(total, 300);
    uint64_t got = 0;
    uint8_t flat[300];
    for (uint32_t i = 0; i < n; i++) {
        assert_true(out[i]->data < mine || out[i]->data >= mine + sizeof(mine));
        memcpy(flat + got, out[i]->data, out[i]->len);
        got += out[i]->len;
    }
    assert_int_equal(got, 300);
    assert_memory_equal(flat, mine, 300);
    /* a copy: the application may reuse its memory at once */
    memset(mine, 0, sizeof(mine));
    assert_int_equal(out[0]->data[1], 1 ^ 0x5a);
    unref_all(out, n);
}

/* An sga from libdemi with a segment pointing elsewhere: that one is copied. */
static void test_take_mixed(void **state)
{
    demi_sgarray_t sga;
    make_one(&sga, 64);
    uint8_t other[10] = "0123456789";
    sga.sga_numsegs = 2;
    sga.sga_segs[1].sgaseg_buf = other;
    sga.sga_segs[1].sgaseg_len = 10;
    struct buf *out[DEMI_SGARRAY_MAXSIZE];
    uint32_t n = 0;
    uint64_t total = 0;
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), 0);
    assert_int_equal(total, 74);
    assert_int_equal(n, 2);
    assert_ptr_equal(out[0]->data, sga.sga_segs[0].sgaseg_buf);
    assert_ptr_not_equal(out[1]->data, other);
    assert_memory_equal(out[1]->data, other, 10);
    unref_all(out, n);
    sga.sga_numsegs = 1;
    assert_int_equal(demi_sgafree(&sga), 0);
}

/* A freed sga's memory is not libdemi's any more: pushing it must not slice freed storage. */
static void test_take_forged_handle_copies(void **state)
{
    uint8_t mine[16] = "forged handle!!";
    demi_sgarray_t sga;
    memset(&sga, 0, sizeof(sga));
    sga.sga_buf = (void *)(uintptr_t)0x123456789ull;
    sga.sga_numsegs = 1;
    sga.sga_segs[0].sgaseg_buf = mine;
    sga.sga_segs[0].sgaseg_len = 16;
    struct buf *out[DEMI_SGARRAY_MAXSIZE];
    uint32_t n = 0;
    uint64_t total = 0;
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), 0);
    assert_int_equal(total, 16);
    assert_memory_equal(out[0]->data, mine, 16);
    unref_all(out, n);
}

static void test_take_many_times(void **state)
{
    demi_sgarray_t sga;
    make_one(&sga, 128);
    struct buf *out[DEMI_SGARRAY_MAXSIZE];
    uint32_t n;
    uint64_t total;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(sga_take_bufs(&sga, out, &n, &total), 0);
        assert_int_equal(total, 128);
        unref_all(out, n);
    }
    assert_int_equal(demi_sgafree(&sga), 0);
}

static void test_take_errors(void **state)
{
    uint8_t mine[8] = "abcdefg";
    struct buf *out[DEMI_SGARRAY_MAXSIZE];
    uint32_t n = 99;
    uint64_t total = 99;
    demi_sgarray_t sga;
    memset(&sga, 0, sizeof(sga));

    assert_int_equal(sga_take_bufs(NULL, out, &n, &total), EINVAL);
    /* no segments */
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), EINVAL);
    /* too many */
    sga.sga_numsegs = DEMI_SGARRAY_MAXSIZE + 1;
    for (int i = 0; i < DEMI_SGARRAY_MAXSIZE; i++) {
        sga.sga_segs[i].sgaseg_buf = mine;
        sga.sga_segs[i].sgaseg_len = 1;
    }
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), EINVAL);
    sga.sga_numsegs = UINT32_MAX;
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), EINVAL);
    /* a NULL segment with a length, after a good one (the good one's copy must not leak) */
    sga.sga_numsegs = 2;
    sga.sga_segs[0].sgaseg_buf = mine;
    sga.sga_segs[0].sgaseg_len = 8;
    sga.sga_segs[1].sgaseg_buf = NULL;
    sga.sga_segs[1].sgaseg_len = 4;
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), EINVAL);
    /* zero total length */
    sga.sga_numsegs = 1;
    sga.sga_segs[0].sgaseg_len = 0;
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), EINVAL);
    sga.sga_numsegs = 2;
    sga.sga_segs[1].sgaseg_buf = NULL;
    sga.sga_segs[1].sgaseg_len = 0;
    assert_int_equal(sga_take_bufs(&sga, out, &n, &total), EINVAL);
}

static void test_many_sgas(void **state)
{
    enum { N = 2000 };
    static demi_sgarray_t s[N];
    for (int i = 0; i < N; i++)
        make_one(&s[i], (size_t)(i % 64) + 1);
    assert_int_equal(sga_live_count(), sgas_at_start + N);
    for (int i = N - 1; i >= 0; i -= 2)
        assert_int_equal(demi_sgafree(&s[i]), 0);
    for (int i = N - 2; i >= 0; i -= 2)
        assert_int_equal(demi_sgafree(&s[i]), 0);
    assert_int_equal(sga_live_count(), sgas_at_start);
}

static void test_reset(void **state)
{
    demi_sgarray_t a, b;
    make_one(&a, 10);
    make_one(&b, 20);
    sga_table_reset();
    assert_int_equal(sga_live_count(), 0);
    /* handles from before the reset are dead */
    assert_int_equal(demi_sgafree(&a), EINVAL);
    demi_sgarray_t c;
    make_one(&c, 10);
    assert_int_equal(demi_sgafree(&b), EINVAL);
    assert_int_equal(demi_sgafree(&a), EINVAL);
    assert_int_equal(demi_sgafree(&c), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SGA_TEST(test_make_and_free),
        SGA_TEST(test_make_empty),
        SGA_TEST(test_make_too_many),
        SGA_TEST(test_make_max),
        SGA_TEST(test_free_bad_handles),
        SGA_TEST(test_stale_handle_after_reuse),
        SGA_TEST(test_take_zero_copy),
        SGA_TEST(test_take_copies_foreign),
        SGA_TEST(test_take_mixed),
        SGA_TEST(test_take_forged_handle_copies),
        SGA_TEST(test_take_many_times),
        SGA_TEST(test_take_errors),
        SGA_TEST(test_many_sgas),
        SGA_TEST(test_reset),
    };
    return cmocka_run_group_tests_name("sga_table", tests, NULL, NULL);
}
