/*
 * demi-echo: an echo server and a ping-pong client over the libdemi queue
 * API, used to try libdemi and to measure it. Written only against the
 * public headers (include/demi/); the libOS is chosen by DEMI_LIBOS.
 *
 * Files: demi_echo.c (main, options), echo_server.c, echo_client.c,
 * echo_pattern.c (message contents), echo_stats.c (RTT percentiles),
 * echo_report.c (table, counters), echo_json.c (--json), echo_util.c.
 */
#ifndef DEMI_ECHO_H_
#define DEMI_ECHO_H_

#include <demi/types.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ECHO_PROG "demi-echo"

enum echo_proto { ECHO_PROTO_TCP = 1, ECHO_PROTO_UDP = 2, ECHO_PROTO_BOTH = 3 };

/* Largest UDP payload in one IPv4 datagram. */
#define ECHO_UDP_MAX 65507u

struct echo_opts {
    struct sockaddr_in addr;    /* --addr */
    int proto;                  /* enum echo_proto */
    size_t size;                /* --size: bytes per message */
    uint64_t count;             /* --count: measured messages in all */
    uint32_t conns;             /* --conns */
    uint64_t warmup;            /* --warmup: unmeasured messages in all, sent first */
    double timeout_sec;         /* --timeout */
    bool json;                  /* --json */
};

/* Runs the server until SIGINT/SIGTERM. Returns the process exit code. */
int echo_server_run(const struct echo_opts *o);

/* Runs the client. Returns the process exit code (0 only when every message
 * came back intact). */
int echo_client_run(const struct echo_opts *o);

/* --- echo_util.c --- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t echo_now_ns(void);

/* Prints "demi-echo: <call>: <strerror(err)>" to stderr. */
void echo_perror(const char *call, int err);

/* Formats an IPv4 address and port as "a.b.c.d:port" into buf (>= 22 bytes). */
const char *echo_addr_str(const struct sockaddr_in *sin, char *buf, size_t len);

/* Parses "a.b.c.d:port" (IPv4 only). Returns 0, or EINVAL. */
int echo_parse_addr(const char *s, struct sockaddr_in *out);

/* Total bytes in the segments of sga. */
uint64_t echo_sga_len(const demi_sgarray_t *sga);

/* Name of the libOS in use: DEMI_LIBOS, else LIBOS, else "posix". */
const char *echo_libos_name(void);

/* Frees sga if it holds a libdemi buffer; reports a failure. */
void echo_sga_release(demi_sgarray_t *sga);

/* Maps a queue descriptor to a pointer (a growable array indexed by qd). */
struct echo_qdmap {
    void **slot;
    size_t cap;
};

/* Sets qd's entry. Returns 0, EINVAL for a negative qd, ENOMEM. */
int echo_qdmap_set(struct echo_qdmap *m, int qd, void *p);

/* qd's entry, or NULL. */
void *echo_qdmap_get(const struct echo_qdmap *m, int qd);

void echo_qdmap_free(struct echo_qdmap *m);

/* --- echo_report.c --- */

/* Prints libdemi's global counters (demi_getcounters(-1, ...)) to f. */
void echo_print_counters(FILE *f);

#endif /* DEMI_ECHO_H_ */
