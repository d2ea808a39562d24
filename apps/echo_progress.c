/* The once-a-second progress line (see echo_progress.h). */
#include "echo_progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "echo_util.h"

void echo_progress_start(struct echo_progress *p, enum echo_progress_mode mode, uint64_t now)
{
    p->on = mode == ECHO_PROGRESS_ON || (mode == ECHO_PROGRESS_AUTO && isatty(STDERR_FILENO));
    p->t_start = p->t_last = now;
    p->n_last = 0;
    echo_hist_init(&p->interval);
}

void echo_progress_tick(struct echo_progress *p, uint64_t now, uint64_t total)
{
    if (!p->on || now - p->t_last < ECHO_PROGRESS_NS)
        return;
    double secs = (double)(now - p->t_last) / 1e9;
    struct echo_summary s;
    echo_hist_summarize(&p->interval, &s);
    fprintf(stderr,
            "%s: %.0f s: %" PRIu64 " msgs, %.0f msg/s, rtt us p50 %.1f p99 %.1f max %.1f, rss %.1f MiB\n",
            echo_prog_name, (double)(now - p->t_start) / 1e9, total, (double)(total - p->n_last) / secs,
            s.p50_ns / 1e3, s.p99_ns / 1e3, s.max_ns / 1e3, (double)echo_rss_kib() / 1024);
    p->t_last = now;
    p->n_last = total;
    echo_hist_init(&p->interval);
}
