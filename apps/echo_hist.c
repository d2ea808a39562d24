/* Log-linear latency histogram (see echo_hist.h). */
#include "echo_hist.h"

#include <errno.h>
#include <string.h>

void echo_hist_init(struct echo_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

uint64_t echo_hist_bucket_low(size_t i)
{
    if (i < 2 * ECHO_HIST_HALF)
        return i;
    size_t shift = i / ECHO_HIST_HALF - 1;
    return (uint64_t)(i - shift * ECHO_HIST_HALF) << shift;
}

uint64_t echo_hist_bucket_width(size_t i)
{
    return i < 2 * ECHO_HIST_HALF ? 1 : 1ull << (i / ECHO_HIST_HALF - 1);
}

int echo_hist_add_bucket(struct echo_hist *h, size_t i, uint64_t count)
{
    if (i >= ECHO_HIST_BUCKETS)
        return EINVAL;
    h->counts[i] += count;
    h->n += count;
    return 0;
}

void echo_hist_merge(struct echo_hist *dst, const struct echo_hist *src)
{
    if (src->n == 0)
        return;
    for (size_t i = 0; i < ECHO_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->n += src->n;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t echo_hist_percentile(const struct echo_hist *h, uint32_t ppm)
{
    if (h->n == 0)
        return 0;
    if (ppm > 1000000)
        ppm = 1000000;
    /* rank = ceil(ppm * n / 10^6), at least 1; in 128 bits so no n overflows */
    unsigned __int128 rank = ((unsigned __int128)ppm * h->n + 999999) / 1000000;
    if (rank <= 1)
        return h->min;  /* the smallest and the largest value are known exactly */
    if (rank >= h->n)
        return h->max;
    uint64_t seen = 0;
    size_t i = 0;
    for (; i < ECHO_HIST_BUCKETS - 1; i++) {
        seen += h->counts[i];
        if (seen >= rank)
            break;
    }
    /* the middle of the bucket, so the error is at most half its width */
    uint64_t v = echo_hist_bucket_low(i) + (echo_hist_bucket_width(i) - 1) / 2;
    if (v < h->min)
        v = h->min;
    if (v > h->max)
        v = h->max;
    return v;
}

double echo_hist_mean(const struct echo_hist *h)
{
    return h->n ? (double)h->sum / (double)h->n : 0.0;
}

void echo_hist_summarize(const struct echo_hist *h, struct echo_summary *out)
{
    memset(out, 0, sizeof(*out));
    if (h->n == 0)
        return;
    out->n = h->n;
    out->min_ns = h->min;
    out->max_ns = h->max;
    out->p50_ns = echo_hist_percentile(h, 500000);
    out->p90_ns = echo_hist_percentile(h, 900000);
    out->p99_ns = echo_hist_percentile(h, 990000);
    out->p999_ns = echo_hist_percentile(h, 999000);
    out->mean_ns = echo_hist_mean(h);
}
