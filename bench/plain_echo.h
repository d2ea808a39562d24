/*
 * plain-echo: demi-echo's client and server over plain Linux sockets, with
 * no libdemi at all: the kernel-path baseline of the benchmark (bench/run.sh).
 *
 * Same command line, message contents (apps/echo_pattern.c), percentiles
 * (apps/echo_stats.c), table and --json object (apps/echo_json.c) as
 * demi-echo; those objects are linked from the demi-echo target unchanged.
 * The client runs one thread per connection with blocking sockets; the
 * server is one epoll loop over non-blocking sockets. With --spin both
 * busy-poll instead of sleeping, as libdemi's libOSes do, so the two can be
 * compared with and without the kernel's sleep/wake-up cost.
 *
 * Files: plain_echo.c (main, options), plain_client.c, plain_server.c,
 * plain_report.c (the result table).
 */
#ifndef PLAIN_ECHO_H_
#define PLAIN_ECHO_H_

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLAIN_PROG "plain-echo"
#define PLAIN_LIBOS "plain"         /* the "libos" field of the result */
#define PLAIN_UDP_MAX 65507u
#define PLAIN_MAX_CONNS 1024u       /* one client thread each */

enum plain_proto { PLAIN_TCP = 1, PLAIN_UDP = 2, PLAIN_BOTH = 3 };

struct plain_opts {
    struct sockaddr_in addr;
    int proto;
    size_t size;
    uint64_t count;
    uint32_t conns;
    uint64_t warmup;
    double timeout_sec;
    bool json;
    bool spin;                  /* --spin: busy-poll instead of sleeping in the kernel */
};

/* Runs the server until SIGINT/SIGTERM. Returns the process exit code. */
int plain_server_run(const struct plain_opts *o);

/* Runs the client. Returns 0 only when every message came back intact. */
int plain_client_run(const struct plain_opts *o);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t plain_now_ns(void);

#endif /* PLAIN_ECHO_H_ */
