/*
 * The runtime's monotonic clock.
 */
#include "clock.h"

static clock_source_fn clock_source;

uint64_t clock_now_ns(void)
{
    struct timespec ts;

    if (clock_source)
        return clock_source();
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return timespec_to_ns(&ts);
}

void clock_set_source(clock_source_fn fn)
{
    clock_source = fn;
}
