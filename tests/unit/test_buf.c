/*
 * Unit tests of src/core/buf.c: allocation, headroom, prepend/adj/trim,
 * slices, external storage and reference counts. Every test ends with
 * buf_live_count() back at its start value (leak check in the fixture).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "unit_util.h"

static void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static void test_alloc_basic(void **state)
{
    uint64_t live = buf_live_count();
    struct buf *b = buf_alloc(100);
    assert_non_null(b);
    assert_int_equal(buf_live_count(), live + 1);
    assert_non_null(b->data);
    assert_int_equal(b->len, 100);
    assert_int_equal(b->refcnt, 1);
    assert_int_equal(b->kind, BUF_HEAP);
    assert_true(b->data >= b->base);
    assert_int_equal(b->data - b->base, BUF_HEADROOM);
    assert_int_equal(buf_headroom(b), BUF_HEADROOM);
    assert_true(b->cap >= BUF_HEADROOM + 100);
    /* every byte is writable (ASan checks the bounds) */
    memset(b->data, 0xab, b->len);
    buf_unref(b);
    assert_int_equal(buf_live_count(), live);
}

static void test_alloc_headroom(void **state)
{
    struct buf *b = buf_alloc_headroom(64, 0);
    assert_non_null(b);
    assert_int_equal(buf_headroom(b), 0);
    assert_int_equal(b->len, 64);
    assert_null(buf_prepend(b, 1));
    assert_int_equal(b->len, 64);
    buf_unref(b);

    b = buf_alloc_headroom(10, 300);
    assert_non_null(b);
    assert_int_equal(buf_headroom(b), 300);
    memset(b->data - 300, 0, 300 + 10);
    buf_unref(b);
}

static void test_alloc_too_large(void **state)
{
    /* buf.len is 32 bits: a larger buffer cannot be described */
    errno = 0;
    struct buf *b = buf_alloc((size_t)UINT32_MAX + 1);
    assert_null(b);
    assert_int_equal(errno, ENOMEM);
}

static void test_prepend(void **state)
{
    struct buf *b = buf_alloc(20);
    assert_non_null(b);
    fill_pattern(b->data, 20, 1);
    uint8_t *old = b->data;

    uint8_t *p = buf_prepend(b, 14);
    assert_ptr_equal(p, old - 14);
    assert_ptr_equal(b->data, p);
    assert_int_equal(b->len, 34);
    assert_int_equal(buf_headroom(b), BUF_HEADROOM - 14);
    /* the payload did not move */
    uint8_t want[20];
    fill_pattern(want, 20, 1);
    assert_memory_equal(b->data + 14, want, 20);

    /* all the remaining headroom, then one byte too many */
    p = buf_prepend(b, BUF_HEADROOM - 14);
    assert_ptr_equal(p, b->base);
    assert_int_equal(buf_headroom(b), 0);
    assert_int_equal(b->len, 20 + BUF_HEADROOM);
    assert_null(buf_prepend(b, 1));
    assert_int_equal(b->len, 20 + BUF_HEADROOM);
    assert_ptr_equal(b->data, b->base);

    /* prepend 0 is a no-op that succeeds */
    assert_ptr_equal(buf_prepend(b, 0), b->data);
    buf_unref(b);
}

static void test_prepend_shared_refused(void **state)
{
    struct buf *b = buf_alloc(10);
    assert_non_null(b);
    buf_ref(b);
    assert_int_equal(b->refcnt, 2);
    assert_int_equal(buf_headroom(b), 0);
    uint8_t *old = b->data;
    assert_null(buf_prepend(b, 4));
    assert_ptr_equal(b->data, old);
    assert_int_equal(b->len, 10);
    buf_unref(b);
    assert_int_equal(buf_headroom(b), BUF_HEADROOM);
    assert_non_null(buf_prepend(b, 4));
    buf_unref(b);
}

static void test_prepend_huge(void **state)
{
    struct buf *b = buf_alloc(10);
    assert_non_null(b);
    assert_null(buf_prepend(b, SIZE_MAX));
    assert_null(buf_prepend(b, (size_t)UINT32_MAX + 5));
    assert_int_equal(b->len, 10);
    buf_unref(b);
}

static void test_adj(void **state)
{
    struct buf *b = buf_alloc(100);
    assert_non_null(b);
    fill_pattern(b->data, 100, 3);
    uint8_t *old = b->data;

    uint8_t *p = buf_adj(b, 30);
    assert_ptr_equal(p, old + 30);
    assert_ptr_equal(b->data, p);
    assert_int_equal(b->len, 70);
    assert_int_equal(p[0], (uint8_t)(3 + 30 * 7));

    /* too much: refused, nothing changes */
    assert_null(buf_adj(b, 71));
    assert_null(buf_adj(b, SIZE_MAX));
    assert_ptr_equal(b->data, old + 30);
    assert_int_equal(b->len, 70);

    /* exactly everything */
    p = buf_adj(b, 70);
    assert_non_null(p);
    assert_int_equal(b->len, 0);

    /* the removed bytes are headroom again */
    assert_non_null(buf_prepend(b, 100));
    assert_int_equal(b->len, 100);
    assert_ptr_equal(b->data, old);
    buf_unref(b);
}

static void test_trim_tailroom(void **state)
{
    struct buf *b = buf_alloc(100);
    assert_non_null(b);
    size_t tail = buf_tailroom(b);
    assert_int_equal(buf_trim(b, 40), 0);
    assert_int_equal(b->len, 60);
    assert_int_equal(buf_tailroom(b), tail + 40);
    assert_int_equal(buf_trim(b, 61), -1);
    assert_int_equal(buf_trim(b, SIZE_MAX), -1);
    assert_int_equal(b->len, 60);
    assert_int_equal(buf_trim(b, 60), 0);
    assert_int_equal(b->len, 0);
    assert_int_equal(buf_trim(b, 0), 0);
    assert_int_equal(buf_tailroom(b), tail + 100);
    /* tailroom is inside the storage */
    assert_true(b->data + b->len + buf_tailroom(b) <= b->base + b->cap);
    buf_unref(b);
}

static void test_refcounts(void **state)
{
    uint64_t live = buf_live_count();
    struct buf *b = buf_alloc(8);
    assert_non_null(b);
    assert_ptr_equal(buf_ref(b), b);
    assert_ptr_equal(buf_ref(b), b);
    assert_int_equal(b->refcnt, 3);
    buf_unref(b);
    buf_unref(b);
    assert_int_equal(b->refcnt, 1);
    assert_int_equal(buf_live_count(), live + 1);
    b->data[7] = 1; /* still valid */
    buf_unref(b);
    assert_int_equal(buf_live_count(), live);
    buf_unref(NULL);
    assert_int_equal(buf_live_count(), live);
}

static void test_copy_from(void **state)
{
    uint8_t src[300];
    fill_pattern(src, sizeof(src), 9);
    struct buf *b = buf_copy_from(src, sizeof(src));
    assert_non_null(b);
    assert_int_equal(b->len, sizeof(src));
    assert_ptr_not_equal(b->data, src);
    assert_memory_equal(b->data, src, sizeof(src));
    assert_int_equal(b->kind, BUF_HEAP);
    buf_unref(b);
}

static void test_slice(void **state)
{
    struct buf *b = buf_alloc(100);
    assert_non_null(b);
    fill_pattern(b->data, 100, 5);
    struct buf *s = buf_slice(b, 10, 20);
    assert_non_null(s);
    assert_int_equal(s->kind, BUF_SLICE);
    assert_ptr_equal(s->data, b->data + 10);
    assert_int_equal(s->len, 20);
    assert_int_equal(s->refcnt, 1);
    assert_int_equal(b->refcnt, 2);
    assert_ptr_equal(s->parent, b);
    /* slices never expose headroom, and the parent is now shared */
    assert_int_equal(buf_headroom(s), 0);
    assert_null(buf_prepend(s, 1));
    assert_null(buf_prepend(b, 1));
    /* shared storage: a write through one is seen through the other */
    s->data[0] = 0xee;
    assert_int_equal(b->data[10], 0xee);
    /* the slice keeps the storage alive after the parent's owner lets go */
    buf_unref(b);
    assert_int_equal(s->data[19], (uint8_t)(5 + 29 * 7));
    /* adj/trim work on slices */
    assert_non_null(buf_adj(s, 5));
    assert_int_equal(buf_trim(s, 5), 0);
    assert_int_equal(s->len, 10);
    buf_unref(s);
}

static void test_slice_bounds(void **state)
{
    struct buf *b = buf_alloc(100);
    assert_non_null(b);
    assert_null(buf_slice(b, 90, 11));
    assert_null(buf_slice(b, 101, 0));
    assert_null(buf_slice(b, 0, 101));
    assert_null(buf_slice(b, SIZE_MAX, 2));
    assert_null(buf_slice(b, 2, SIZE_MAX));
    assert_null(buf_slice(b, SIZE_MAX - 1, SIZE_MAX - 1));
    assert_int_equal(b->refcnt, 1);

    struct buf *s = buf_slice(b, 0, 100);
    assert_non_null(s);
    assert_int_equal(s->len, 100);
    buf_unref(s);
    s = buf_slice(b, 100, 0);
    if (s) {
        assert_int_equal(s->len, 0);
        buf_unref(s);
    }
    assert_int_equal(b->refcnt, 1);
    buf_unref(b);
}

static void test_slice_of_slice(void **state)
{
    struct buf *b = buf_alloc(64);
    assert_non_null(b);
    fill_pattern(b->data, 64, 11);
    struct buf *s1 = buf_slice(b, 8, 40);
    assert_non_null(s1);
    struct buf *s2 = buf_slice(s1, 4, 10);
    assert_non_null(s2);
    assert_ptr_equal(s2->data, b->data + 12);
    assert_int_equal(s2->len, 10);
    assert_null(buf_slice(s1, 35, 6));
    buf_unref(b);
    buf_unref(s1);
    assert_int_equal(s2->data[9], (uint8_t)(11 + 21 * 7));
    buf_unref(s2);
}

static int ext_release_calls;
static void *ext_release_seen;

static void count_release(struct buf *b)
{
    ext_release_calls++;
    ext_release_seen = b->ext;
}

static void test_ext_wrap(void **state)
{
    static uint8_t storage[256];
    int token = 42;
    ext_release_calls = 0;
    ext_release_seen = NULL;

    struct buf *b = buf_ext_wrap(storage + 16, 200, count_release, &token);
    assert_non_null(b);
    assert_int_equal(b->kind, BUF_EXT);
    assert_ptr_equal(b->data, storage + 16);
    assert_int_equal(b->len, 200);
    assert_int_equal(b->refcnt, 1);
    assert_ptr_equal(b->ext, &token);

    buf_ref(b);
    buf_unref(b);
    assert_int_equal(ext_release_calls, 0);

    /* a slice holds the external storage too */
    struct buf *s = buf_slice(b, 100, 50);
    assert_non_null(s);
    assert_ptr_equal(s->data, storage + 116);
    buf_unref(b);
    assert_int_equal(ext_release_calls, 0);
    buf_unref(s);
    assert_int_equal(ext_release_calls, 1);
    assert_ptr_equal(ext_release_seen, &token);
}

static void test_ext_wrap_no_release(void **state)
{
    static uint8_t storage[32];
    struct buf *b = buf_ext_wrap(storage, sizeof(storage), NULL, NULL);
    assert_non_null(b);
    assert_int_equal(b->len, sizeof(storage));
    buf_unref(b);
}

static void test_many_buffers(void **state)
{
    enum { N = 2000 };
    static struct buf *bs[N];
    uint64_t live = buf_live_count();
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            bs[i] = buf_alloc((size_t)(i % 1500) + 1);
            assert_non_null(bs[i]);
            bs[i]->data[0] = (uint8_t)i;
        }
        assert_int_equal(buf_live_count(), live + N);
        /* free in an interleaved order */
        for (int i = 0; i < N; i += 2)
            buf_unref(bs[i]);
        for (int i = 1; i < N; i += 2)
            buf_unref(bs[i]);
        assert_int_equal(buf_live_count(), live);
    }
    buf_cache_drain();
    assert_int_equal(buf_live_count(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LEAK_TEST(test_alloc_basic),
        LEAK_TEST(test_alloc_headroom),
        LEAK_TEST(test_alloc_too_large),
        LEAK_TEST(test_prepend),
        LEAK_TEST(test_prepend_shared_refused),
        LEAK_TEST(test_prepend_huge),
        LEAK_TEST(test_adj),
        LEAK_TEST(test_trim_tailroom),
        LEAK_TEST(test_refcounts),
        LEAK_TEST(test_copy_from),
        LEAK_TEST(test_slice),
        LEAK_TEST(test_slice_bounds),
        LEAK_TEST(test_slice_of_slice),
        LEAK_TEST(test_ext_wrap),
        LEAK_TEST(test_ext_wrap_no_release),
        LEAK_TEST(test_many_buffers),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
