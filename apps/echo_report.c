/* The result table of demi-echo and plain-echo, and their rates. */
#include "echo_report.h"

#include <inttypes.h>

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
    struct echo_summary s;
    echo_hist_summarize(r->hist, &s);
    double bps = echo_result_bytes_per_sec(r);
    fprintf(f, "libos %s  proto %s  size %" PRIu64 " B  count %" PRIu64 "  conns %u  elapsed %.3f s", r->libos,
            r->proto, r->size, r->count, r->conns, r->elapsed_sec);
    if (r->pipeline > 1)
        fprintf(f, "  pipeline %u", r->pipeline);
    if (r->rate > 0)
        fprintf(f, "  rate %.0f/s (open loop)", r->rate);
    fprintf(f, "\n%-10s %10s %10s %10s %10s %10s %10s %10s\n", "rtt (us)", "min", "p50", "p90", "p99", "p99.9",
            "max", "mean");
    fprintf(f, "%-10s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", "", s.min_ns / 1e3, s.p50_ns / 1e3,
            s.p90_ns / 1e3, s.p99_ns / 1e3, s.p999_ns / 1e3, s.max_ns / 1e3, s.mean_ns / 1e3);
    fprintf(f, "%-10s %10s %10s %10s\n", "throughput", "msg/s", "MB/s", "Gbit/s");
    fprintf(f, "%-10s %10.0f %10.2f %10.3f\n", "", echo_result_msgs_per_sec(r), bps / 1e6, bps * 8 / 1e9);
}
