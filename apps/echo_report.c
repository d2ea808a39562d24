/* Human-readable output of demi-echo: the result table and libdemi's counters. */
#include "echo_report.h"

#include <demi/stats.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "echo.h"

double echo_result_msgs_per_sec(const struct echo_result *r)
{
    return r->elapsed_sec > 0 ? (double)r->count / r->elapsed_sec : 0.0;
}

double echo_result_bytes_per_sec(const struct echo_result *r)
{
    return r->elapsed_sec > 0 ? (double)r->count * (double)r->size / r->elapsed_sec : 0.0;
}

void echo_report_table(FILE *f, const struct echo_result *r)
{
    const struct echo_summary *s = &r->rtt;
    double bps = echo_result_bytes_per_sec(r);
    fprintf(f, "libos %s  proto %s  size %" PRIu64 " B  count %" PRIu64 "  conns %u  elapsed %.3f s\n",
            r->libos, r->proto, r->size, r->count, r->conns, r->elapsed_sec);
    fprintf(f, "%-10s %10s %10s %10s %10s %10s %10s %10s\n", "rtt (us)", "min", "p50", "p90", "p99", "p99.9",
            "max", "mean");
    fprintf(f, "%-10s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", "", s->min_ns / 1e3, s->p50_ns / 1e3,
            s->p90_ns / 1e3, s->p99_ns / 1e3, s->p999_ns / 1e3, s->max_ns / 1e3, s->mean_ns / 1e3);
    fprintf(f, "%-10s %10s %10s %10s\n", "throughput", "msg/s", "MB/s", "Gbit/s");
    fprintf(f, "%-10s %10.0f %10.2f %10.3f\n", "", echo_result_msgs_per_sec(r), bps / 1e6, bps * 8 / 1e9);
}

void echo_print_counters(FILE *f)
{
    demi_counter_t small[128];
    demi_counter_t *c = small;
    size_t n = 0;
    int rc = demi_getcounters(-1, small, 128, &n);
    if (rc != 0) {
        echo_perror("demi_getcounters", rc);
        return;
    }
    if (n > 128) {
        c = calloc(n, sizeof(*c));
        size_t n2 = 0;
        if (!c || (rc = demi_getcounters(-1, c, n, &n2)) != 0) {
            echo_perror("demi_getcounters", c ? rc : ENOMEM);
            free(c);
            return;
        }
        n = n2 < n ? n2 : n;
    }
    fprintf(f, "libdemi counters:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-32s %" PRIu64 "\n", c[i].name ? c[i].name : "?", c[i].value);
    if (c != small)
        free(c);
}
