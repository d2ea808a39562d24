/*
 * The runtime's clock: CLOCK_MONOTONIC in nanoseconds. Tests may install a
 * virtual source with clock_set_source. (The inet stack itself never reads
 * a clock: the inet libOS passes it the time.)
 */
#ifndef DEMI_CORE_CLOCK_H_
#define DEMI_CORE_CLOCK_H_

#include <stdint.h>
#include <time.h>

#define NS_PER_SEC 1000000000ull
#define NS_PER_MS 1000000ull
#define NS_PER_US 1000ull

typedef uint64_t (*clock_source_fn)(void);

/* Nanoseconds since an arbitrary start; never goes back. */
uint64_t clock_now_ns(void);

/* Replaces the time source (NULL restores CLOCK_MONOTONIC). */
void clock_set_source(clock_source_fn fn);

static inline uint64_t timespec_to_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * NS_PER_SEC + (uint64_t)ts->tv_nsec;
}

#endif /* DEMI_CORE_CLOCK_H_ */
