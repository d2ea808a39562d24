/*
 * plain-echo: demi-echo's client and server over plain Linux sockets, with
 * no libdemi at all: the kernel-path baseline of the benchmark (bench/run.sh).
 *
 * It shares demi-echo's echo toolkit (apps/: command line, message
 * contents and check, latency histogram, table and --json object), which
 * links no libdemi. The client runs one thread per connection with blocking
 * sockets, one message outstanding each; the server is one epoll loop over
 * non-blocking sockets. With --spin both busy-poll instead of sleeping, as
 * libdemi's libOSes do, so the two can be compared with and without the
 * kernel's sleep/wake-up cost. --rate, --pipeline and the progress line are
 * demi-echo's only.
 *
 * Files: plain_echo.c (main), plain_client.c, plain_server.c.
 */
#ifndef PLAIN_ECHO_H_
#define PLAIN_ECHO_H_

#include "echo_opts.h"

#define PLAIN_PROG "plain-echo"
#define PLAIN_LIBOS "plain"         /* the "libos" field of the result */
#define PLAIN_MAX_CONNS 1024u       /* one client thread each */

/* Runs the server until SIGINT/SIGTERM. Returns the process exit code. */
int plain_server_run(const struct echo_opts *o);

/* Runs the client. Returns 0 only when every message came back intact. */
int plain_client_run(const struct echo_opts *o);

#endif /* PLAIN_ECHO_H_ */
