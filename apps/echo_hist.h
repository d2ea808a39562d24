/*
 * Latency histogram in bounded memory (HdrHistogram-style, log-linear),
 * shared by demi-echo, plain-echo and the benchmarks.
 *
 * Every uint64_t value (nanoseconds here) falls in one of ECHO_HIST_BUCKETS
 * fixed buckets: values below 128 each have their own bucket (exact); above,
 * every power-of-two range [2^e, 2^(e+1)) is cut into 64 equal buckets, so a
 * bucket is at most 1/64 of its lowest value wide. A percentile is reported
 * as the middle of its bucket, within 1/128 (0.79 %) of the true value for
 * every value from 0 to 2^64 - 1 ns; min, max, count and mean are exact.
 * The struct is about 30 KiB whatever the number of values recorded: a run of
 * 10^9 messages costs what a run of ten costs. Recording is a few
 * instructions and never allocates.
 *
 * Histograms with the same layout merge exactly (bucket counts add), also
 * across processes: the --json output carries the non-empty buckets as
 * [lowest value, count] pairs with the layout (ECHO_HIST_SUB_BITS), and
 * bench/histmerge.py adds them up.
 */
#ifndef DEMI_ECHO_HIST_H_
#define DEMI_ECHO_HIST_H_

#include <stddef.h>
#include <stdint.h>

#define ECHO_HIST_SUB_BITS 7                            /* 2^7 linear values, then 64 buckets per octave */
#define ECHO_HIST_HALF (1u << (ECHO_HIST_SUB_BITS - 1))  /* buckets per power of two */
#define ECHO_HIST_BUCKETS ((64 - ECHO_HIST_SUB_BITS + 2) * ECHO_HIST_HALF)  /* 3776 */

struct echo_hist {
    uint64_t n;                 /* values recorded */
    uint64_t min, max;          /* exact; min is UINT64_MAX while n == 0 */
    unsigned __int128 sum;      /* exact sum, for the mean */
    uint64_t counts[ECHO_HIST_BUCKETS];
};

/* What is printed: nearest-rank percentiles (within 1/128), exact min, max, mean. */
struct echo_summary {
    uint64_t n;
    uint64_t min_ns, p50_ns, p90_ns, p99_ns, p999_ns, max_ns;
    double mean_ns;
};

/* Empties h. */
void echo_hist_init(struct echo_hist *h);

/* The bucket value v falls in (0 <= index < ECHO_HIST_BUCKETS). */
static inline size_t echo_hist_index(uint64_t v)
{
    if (v < 2 * ECHO_HIST_HALF)
        return (size_t)v;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - (ECHO_HIST_SUB_BITS - 1);
    return (size_t)shift * ECHO_HIST_HALF + (size_t)(v >> shift);
}

/* Records one value. */
static inline void echo_hist_record(struct echo_hist *h, uint64_t v)
{
    h->counts[echo_hist_index(v)]++;
    h->n++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

/* The lowest value of bucket i, and how many values it spans (a power of two). */
uint64_t echo_hist_bucket_low(size_t i);
uint64_t echo_hist_bucket_width(size_t i);

/* Adds count values of bucket i (an input from another histogram, e.g. a
 * parsed JSON file). The exact min, max and sum are not known from buckets:
 * the caller merges them (echo_hist_merge does all of it). Returns 0, or
 * EINVAL when i is out of range. */
int echo_hist_add_bucket(struct echo_hist *h, size_t i, uint64_t count);

/* Adds every value of src to dst. */
void echo_hist_merge(struct echo_hist *dst, const struct echo_hist *src);

/* Nearest-rank percentile given in parts per million (500000 = p50, 999000
 * = p99.9, 1000000 = max): the middle of the bucket holding the value of
 * rank ceil(ppm * n / 10^6), clamped to [min, max]; the exact min for rank
 * 1 and the exact max for rank n. 0 when h is empty. */
uint64_t echo_hist_percentile(const struct echo_hist *h, uint32_t ppm);

/* Exact mean, 0 when empty. */
double echo_hist_mean(const struct echo_hist *h);

/* Fills *out from h (all zero when h is empty). */
void echo_hist_summarize(const struct echo_hist *h, struct echo_summary *out);

#endif /* DEMI_ECHO_HIST_H_ */
