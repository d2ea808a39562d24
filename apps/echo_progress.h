/*
 * The progress line of a long client run: once a second, on stderr, what
 * the last second measured (messages, rate, RTT percentiles) and the
 * client's resident memory, e.g.
 *   demi-echo: 12 s: 1234567 msgs, 102345 msg/s, rtt us p50 31.2 p99 45.1 max 80.3, rss 5.3 MiB
 * On with --progress, off with --quiet, else on when stderr is a terminal.
 */
#ifndef DEMI_ECHO_PROGRESS_H_
#define DEMI_ECHO_PROGRESS_H_

#include <stdbool.h>
#include <stdint.h>

#include "echo_hist.h"
#include "echo_opts.h"

#define ECHO_PROGRESS_NS 1000000000ull     /* one line a second */

struct echo_progress {
    bool on;
    uint64_t t_start;           /* start of the measured phase */
    uint64_t t_last;            /* last line (or the start) */
    uint64_t n_last;            /* messages measured at the last line */
    struct echo_hist interval;  /* RTTs since the last line */
};

/* Starts counting at now; decides whether lines are printed. */
void echo_progress_start(struct echo_progress *p, enum echo_progress_mode mode, uint64_t now);

/* Records one measured RTT for the current line. */
static inline void echo_progress_record(struct echo_progress *p, uint64_t rtt_ns)
{
    if (p->on)
        echo_hist_record(&p->interval, rtt_ns);
}

/* Prints a line when a second has passed since the last; total is the
 * number of messages measured so far. */
void echo_progress_tick(struct echo_progress *p, uint64_t now, uint64_t total);

#endif /* DEMI_ECHO_PROGRESS_H_ */
