/*
 * Global runtime counters.
 */
#include "stats.h"

struct core_stats core_stats;
