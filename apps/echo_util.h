/*
 * Small helpers of demi-echo and plain-echo that need no libdemi: the
 * clock, error messages, addresses, the process's memory.
 */
#ifndef DEMI_ECHO_UTIL_H_
#define DEMI_ECHO_UTIL_H_

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t echo_now_ns(void);

/* Prints "<program>: <call>: <strerror(err)>" to stderr. */
void echo_perror(const char *call, int err);

/* Formats an IPv4 address and port as "a.b.c.d:port" into buf (>= 22 bytes). */
const char *echo_addr_str(const struct sockaddr_in *sin, char *buf, size_t len);

/* The process's resident set now, in KiB (/proc/self/statm); 0 if unknown. */
uint64_t echo_rss_kib(void);

/* The process's largest resident set so far, in KiB (getrusage); 0 if unknown. */
uint64_t echo_max_rss_kib(void);

#endif /* DEMI_ECHO_UTIL_H_ */
