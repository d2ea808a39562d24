/* What a demi-echo client run measured, and how it is printed. */
#ifndef DEMI_ECHO_REPORT_H_
#define DEMI_ECHO_REPORT_H_

#include <stdint.h>
#include <stdio.h>

#include "echo_stats.h"

struct echo_result {
    const char *libos;          /* DEMI_LIBOS, or "posix" */
    const char *proto;          /* "tcp" or "udp" */
    uint64_t size;              /* bytes per message */
    uint64_t count;             /* measured messages that came back intact */
    uint32_t conns;
    struct echo_summary rtt;
    double elapsed_sec;         /* measured phase, first push to last echo */
    uint64_t errors;
};

/* Messages per second and echoed payload bytes per second (one way). */
double echo_result_msgs_per_sec(const struct echo_result *r);
double echo_result_bytes_per_sec(const struct echo_result *r);

/* Prints the human-readable table. */
void echo_report_table(FILE *f, const struct echo_result *r);

/* Prints r as exactly one JSON object and a newline (json-c). Returns 0,
 * or ENOMEM / EIO. Only in builds with json-c (ECHO_HAVE_JSON). */
int echo_report_json(FILE *f, const struct echo_result *r);

#endif /* DEMI_ECHO_REPORT_H_ */
