/*
 * Global runtime counters (private to libdemi; read with demi_getcounters).
 */
#ifndef DEMI_CORE_STATS_H_
#define DEMI_CORE_STATS_H_

#include <stdint.h>

struct core_stats {
    uint64_t ops_started;
    uint64_t ops_completed;
    uint64_t ops_failed;
    uint64_t waits;
    uint64_t wait_timeouts;
    uint64_t polls;         /* libOS poll calls */
    uint64_t blocks;        /* polls allowed to block */
    uint64_t yields;        /* empty busy-polls that yielded the CPU */
    uint64_t queues_opened;
    uint64_t queues_closed;
};

extern struct core_stats core_stats;

#endif /* DEMI_CORE_STATS_H_ */
