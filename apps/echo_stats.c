/* RTT samples and exact percentiles (see echo_stats.h). */
#include "echo_stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int echo_samples_reserve(struct echo_samples *s, size_t cap)
{
    if (cap <= s->cap)
        return 0;
    if (cap > SIZE_MAX / sizeof(*s->ns))
        return ENOMEM;
    uint64_t *ns = realloc(s->ns, cap * sizeof(*ns));
    if (!ns)
        return ENOMEM;
    s->ns = ns;
    s->cap = cap;
    return 0;
}

int echo_samples_add(struct echo_samples *s, uint64_t ns)
{
    if (s->n == s->cap) {
        int rc = echo_samples_reserve(s, s->cap ? s->cap * 2 : 1024);
        if (rc != 0)
            return rc;
    }
    s->ns[s->n++] = ns;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t echo_percentile(const uint64_t *sorted, size_t n, unsigned permille)
{
    if (permille > 1000)
        permille = 1000;
    /* rank = ceil(permille * n / 1000), in 128 bits so no n overflows */
    unsigned __int128 rank = ((unsigned __int128)permille * n + 999) / 1000;
    size_t idx = rank == 0 ? 0 : (size_t)rank - 1;
    return sorted[idx < n ? idx : n - 1];
}

void echo_samples_summarize(struct echo_samples *s, struct echo_summary *out)
{
    memset(out, 0, sizeof(*out));
    if (s->n == 0)
        return;
    qsort(s->ns, s->n, sizeof(*s->ns), cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += (double)s->ns[i];
    out->n = s->n;
    out->min_ns = s->ns[0];
    out->max_ns = s->ns[s->n - 1];
    out->p50_ns = echo_percentile(s->ns, s->n, 500);
    out->p90_ns = echo_percentile(s->ns, s->n, 900);
    out->p99_ns = echo_percentile(s->ns, s->n, 990);
    out->p999_ns = echo_percentile(s->ns, s->n, 999);
    out->mean_ns = sum / (double)s->n;
}

void echo_samples_free(struct echo_samples *s)
{
    free(s->ns);
    memset(s, 0, sizeof(*s));
}
