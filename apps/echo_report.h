/* What an echo client run measured, and how it is printed (table or JSON). */
#ifndef DEMI_ECHO_REPORT_H_
#define DEMI_ECHO_REPORT_H_

#include <stdint.h>
#include <stdio.h>

#include "echo_hist.h"

struct echo_result {
    const char *libos;          /* DEMI_LIBOS, "posix", or "plain" */
    const char *proto;          /* "tcp" or "udp" */
    uint64_t size;              /* bytes per message */
    uint64_t count;             /* measured messages that came back intact */
    uint32_t conns;
    uint32_t pipeline;          /* messages outstanding per connection, at most */
    double rate;                /* --rate asked for (0: closed loop) */
    const struct echo_hist *hist;  /* the measured RTTs */
    double elapsed_sec;         /* measured phase, first push to last echo */
    uint64_t errors;
    uint64_t max_rss_kib;       /* the client's largest resident set */
};

/* Messages per second and echoed payload bytes per second (one way). */
double echo_result_msgs_per_sec(const struct echo_result *r);
double echo_result_bytes_per_sec(const struct echo_result *r);

/* Prints the human-readable table. */
void echo_report_table(FILE *f, const struct echo_result *r);

/* Prints r as exactly one JSON object and a newline (json-c): the summary
 * fields and "rtt_hist", the histogram to merge runs with. Returns 0, or
 * ENOMEM / EIO. Only in builds with json-c (ECHO_HAVE_JSON). */
int echo_report_json(FILE *f, const struct echo_result *r);

#endif /* DEMI_ECHO_REPORT_H_ */
