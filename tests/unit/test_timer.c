/*
 * Unit tests of src/core/timer.c: heap order, re-arm, cancel (also from a
 * callback), many timers, timers_next_deadline and timers_reset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit_util.h"
#include "timer.h"

enum { MAX_FIRED = 20000 };

/* Record of the callbacks run so far. */
static struct {
    int n;
    struct timer *who[MAX_FIRED];
    uint64_t deadline[MAX_FIRED];
} fired;

static void record_fire(struct timer *t, void *arg)
{
    assert_true(fired.n < MAX_FIRED);
    fired.who[fired.n] = t;
    fired.deadline[fired.n] = t->deadline_ns;
    fired.n++;
    /* a timer is disarmed before its callback runs */
    assert_false(timer_armed(t));
    (void)arg;
}

static int timer_setup(void **state)
{
    timers_reset();
    memset(&fired, 0, sizeof(fired));
    return leak_setup(state);
}

static int timer_teardown(void **state)
{
    timers_reset();
    assert_int_equal(timers_next_deadline(), UINT64_MAX);
    return leak_teardown(state);
}

#define TIMER_TEST(fn) cmocka_unit_test_setup_teardown(fn, timer_setup, timer_teardown)

static void test_init_state(void **state)
{
    struct timer t;
    memset(&t, 0x5a, sizeof(t));
    timer_init(&t, record_fire, &t);
    assert_false(timer_armed(&t));
    assert_ptr_equal(t.fn, record_fire);
    assert_ptr_equal(t.arg, &t);
    assert_int_equal(timers_next_deadline(), UINT64_MAX);
    assert_int_equal(timers_run(UINT64_MAX), 0);
    /* cancelling a timer that is not armed is harmless */
    timer_cancel(&t);
    timer_cancel(&t);
    assert_false(timer_armed(&t));
}

static void test_order(void **state)
{
    static const uint64_t deadlines[] = {500, 100, 900, 300, 700, 200, 800, 400, 600, 1000};
    enum { N = sizeof(deadlines) / sizeof(deadlines[0]) };
    struct timer t[N];
    for (int i = 0; i < N; i++) {
        timer_init(&t[i], record_fire, NULL);
        assert_int_equal(timer_arm(&t[i], deadlines[i]), 0);
        assert_true(timer_armed(&t[i]));
    }
    assert_int_equal(timers_next_deadline(), 100);

    /* nothing before the first deadline */
    assert_int_equal(timers_run(99), 0);
    assert_int_equal(fired.n, 0);
    /* deadline == now fires */
    assert_int_equal(timers_run(100), 1);
    assert_int_equal(fired.n, 1);
    assert_int_equal(fired.deadline[0], 100);
    assert_int_equal(timers_next_deadline(), 200);

    assert_int_equal(timers_run(550), 4);
    assert_int_equal(timers_next_deadline(), 600);
    assert_int_equal(timers_run(UINT64_MAX), 5);
    assert_int_equal(fired.n, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(fired.deadline[i], (uint64_t)(i + 1) * 100);
    for (int i = 0; i < N; i++)
        assert_false(timer_armed(&t[i]));
    assert_int_equal(timers_next_deadline(), UINT64_MAX);
}

static void test_rearm(void **state)
{
    struct timer a, b;
    timer_init(&a, record_fire, NULL);
    timer_init(&b, record_fire, NULL);
    assert_int_equal(timer_arm(&a, 100), 0);
    assert_int_equal(timer_arm(&b, 200), 0);
    /* re-arm earlier */
    assert_int_equal(timer_arm(&b, 50), 0);
    assert_int_equal(timers_next_deadline(), 50);
    /* re-arm later */
    assert_int_equal(timer_arm(&a, 300), 0);
    assert_int_equal(timers_next_deadline(), 50);
    assert_int_equal(timers_run(60), 1);
    assert_ptr_equal(fired.who[0], &b);
    assert_int_equal(timers_next_deadline(), 300);
    /* a re-armed timer fires once, at its new deadline */
    assert_int_equal(timers_run(299), 0);
    assert_int_equal(timers_run(300), 1);
    assert_ptr_equal(fired.who[1], &a);
    assert_int_equal(timers_run(UINT64_MAX), 0);
    /* a fired timer can be armed again */
    assert_int_equal(timer_arm(&a, 400), 0);
    assert_true(timer_armed(&a));
    assert_int_equal(timers_run(400), 1);
    assert_int_equal(fired.n, 3);
}

static void test_cancel(void **state)
{
    struct timer t[5];
    for (int i = 0; i < 5; i++) {
        timer_init(&t[i], record_fire, NULL);
        assert_int_equal(timer_arm(&t[i], (uint64_t)(i + 1) * 10), 0);
    }
    timer_cancel(&t[0]);
    assert_false(timer_armed(&t[0]));
    assert_int_equal(timers_next_deadline(), 20);
    timer_cancel(&t[2]);   /* from the middle of the heap */
    timer_cancel(&t[4]);   /* the last */
    timer_cancel(&t[4]);   /* twice */
    assert_int_equal(timers_run(UINT64_MAX), 2);
    assert_int_equal(fired.n, 2);
    assert_ptr_equal(fired.who[0], &t[1]);
    assert_ptr_equal(fired.who[1], &t[3]);
}

static struct timer *victim;

static void cancel_victim(struct timer *t, void *arg)
{
    record_fire(t, arg);
    timer_cancel(victim);
}

static void rearm_self(struct timer *t, void *arg)
{
    uint64_t period = (uint64_t)(uintptr_t)arg;
    record_fire(t, arg);
    assert_int_equal(timer_arm(t, t->deadline_ns + period), 0);
}

static void test_cancel_from_callback(void **state)
{
    struct timer a, b;
    timer_init(&a, cancel_victim, NULL);
    timer_init(&b, record_fire, NULL);
    victim = &b;
    assert_int_equal(timer_arm(&a, 10), 0);
    assert_int_equal(timer_arm(&b, 20), 0);
    assert_int_equal(timers_run(100), 1);
    assert_int_equal(fired.n, 1);
    assert_ptr_equal(fired.who[0], &a);
    assert_false(timer_armed(&b));
}

static void test_rearm_from_callback(void **state)
{
    struct timer p;
    timer_init(&p, rearm_self, (void *)(uintptr_t)100);
    assert_int_equal(timer_arm(&p, 100), 0);
    /* re-armed past now: fires once per run, not in a loop */
    assert_int_equal(timers_run(150), 1);
    assert_true(timer_armed(&p));
    assert_int_equal(timers_next_deadline(), 200);
    assert_int_equal(timers_run(250), 1);
    assert_int_equal(fired.n, 2);
    timer_cancel(&p);
    assert_int_equal(timers_next_deadline(), UINT64_MAX);
}

static void test_equal_deadlines(void **state)
{
    struct timer t[8];
    for (int i = 0; i < 8; i++) {
        timer_init(&t[i], record_fire, NULL);
        assert_int_equal(timer_arm(&t[i], 77), 0);
    }
    assert_int_equal(timers_run(76), 0);
    assert_int_equal(timers_run(77), 8);
    /* each exactly once */
    for (int i = 0; i < 8; i++) {
        int seen = 0;
        for (int j = 0; j < fired.n; j++)
            seen += fired.who[j] == &t[i];
        assert_int_equal(seen, 1);
    }
}

/* xorshift64: a fixed sequence so the test is reproducible */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_many_timers(void **state)
{
    enum { N = 10000 };
    struct timer *t = calloc(N, sizeof(*t));
    assert_non_null(t);
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        timer_init(&t[i], record_fire, NULL);
        assert_int_equal(timer_arm(&t[i], 1 + rng_next() % 1000000), 0);
    }
    /* re-arm a quarter, cancel a third */
    for (int i = 0; i < N; i += 4)
        assert_int_equal(timer_arm(&t[i], 1 + rng_next() % 1000000), 0);
    for (int i = 0; i < N; i += 3) {
        timer_cancel(&t[i]);
        cancelled++;
    }
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < N; i++)
        if (timer_armed(&t[i]) && t[i].deadline_ns < min)
            min = t[i].deadline_ns;
    assert_int_equal(timers_next_deadline(), min);

    /* run in steps, checking the order across steps */
    int total = 0;
    for (uint64_t now = 0; now <= 1000000; now += 50000)
        total += timers_run(now);
    total += timers_run(UINT64_MAX);
    assert_int_equal(total, N - cancelled);
    assert_int_equal(fired.n, N - cancelled);
    for (int i = 1; i < fired.n; i++)
        assert_true(fired.deadline[i - 1] <= fired.deadline[i]);
    for (int i = 0; i < N; i += 3)
        for (int j = 0; j < fired.n; j++)
            assert_ptr_not_equal(fired.who[j], &t[i]);
    free(t);
}

static void test_reset(void **state)
{
    struct timer t[3];
    for (int i = 0; i < 3; i++) {
        timer_init(&t[i], record_fire, NULL);
        assert_int_equal(timer_arm(&t[i], 10), 0);
    }
    timers_reset();
    assert_int_equal(timers_next_deadline(), UINT64_MAX);
    for (int i = 0; i < 3; i++)
        assert_false(timer_armed(&t[i]));
    assert_int_equal(timers_run(UINT64_MAX), 0);
    assert_int_equal(fired.n, 0);
    /* usable after a reset */
    assert_int_equal(timer_arm(&t[1], 5), 0);
    assert_int_equal(timers_run(5), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TIMER_TEST(test_init_state),
        TIMER_TEST(test_order),
        TIMER_TEST(test_rearm),
        TIMER_TEST(test_cancel),
        TIMER_TEST(test_cancel_from_callback),
        TIMER_TEST(test_rearm_from_callback),
        TIMER_TEST(test_equal_deadlines),
        TIMER_TEST(test_many_timers),
        TIMER_TEST(test_reset),
    };
    return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
