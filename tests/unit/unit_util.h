/*
 * Helpers shared by the unit tests: cmocka includes in the order it needs,
 * and a fixture that checks every buffer header is freed by the end of a test.
 */
#ifndef DEMI_TESTS_UNIT_UTIL_H_
#define DEMI_TESTS_UNIT_UTIL_H_

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"

/* Fixture state: the live buffer count when the test started. */
struct leak_state {
    uint64_t bufs_at_start;
};

/* setup: remembers buf_live_count(). */
static inline int leak_setup(void **state)
{
    static struct leak_state ls;
    ls.bufs_at_start = buf_live_count();
    *state = &ls;
    return 0;
}

/* teardown: fails the test unless buf_live_count() is back to its start value. */
static inline int leak_teardown(void **state)
{
    struct leak_state *ls = *state;
    buf_cache_drain();
    assert_int_equal(buf_live_count(), ls->bufs_at_start);
    return 0;
}

#define LEAK_TEST(fn) cmocka_unit_test_setup_teardown(fn, leak_setup, leak_teardown)

#endif /* DEMI_TESTS_UNIT_UTIL_H_ */
