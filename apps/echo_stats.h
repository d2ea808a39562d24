/*
 * Round-trip-time samples and their exact percentiles: every sample is
 * kept and sorted once at the end (8 bytes per message).
 */
#ifndef DEMI_ECHO_STATS_H_
#define DEMI_ECHO_STATS_H_

#include <stddef.h>
#include <stdint.h>

struct echo_samples {
    uint64_t *ns;
    size_t n;
    size_t cap;
};

struct echo_summary {
    size_t n;
    uint64_t min_ns, p50_ns, p90_ns, p99_ns, p999_ns, max_ns;
    double mean_ns;
};

/* Makes room for at least cap samples up front. Returns 0 or ENOMEM. */
int echo_samples_reserve(struct echo_samples *s, size_t cap);

/* Records one sample. Returns 0 or ENOMEM. */
int echo_samples_add(struct echo_samples *s, uint64_t ns);

/* Sorts the samples and fills *out (all zero when there are none). */
void echo_samples_summarize(struct echo_samples *s, struct echo_summary *out);

/* Nearest-rank percentile of n sorted values (n >= 1), given in tenths of
 * a percent (500 = p50, 999 = p99.9, 1000 = max): the smallest value with at
 * least that share of the values at or below it. Exact integer arithmetic. */
uint64_t echo_percentile(const uint64_t *sorted, size_t n, unsigned permille);

void echo_samples_free(struct echo_samples *s);

#endif /* DEMI_ECHO_STATS_H_ */
