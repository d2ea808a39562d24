/*
 * demi-echo: an echo server and a ping-pong client over the libdemi queue
 * API, used to try libdemi and to measure it. Written only against the
 * public headers (include/demi/); the libOS is chosen by DEMI_LIBOS.
 *
 * Files: demi_echo.c (main), echo_server*.c, echo_client.c, echo_demi.c
 * (the helpers that call libdemi). The rest is the echo toolkit that
 * plain-echo (bench/) shares and that links no libdemi: echo_opts.c (the
 * command line), echo_pattern.c (message contents and their check),
 * echo_hist.c (latency histogram), echo_report.c and echo_json.c (table,
 * --json), echo_progress.c (the progress line), echo_util.c.
 */
#ifndef DEMI_ECHO_H_
#define DEMI_ECHO_H_

#include <demi/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "echo_opts.h"
#include "echo_util.h"

#define ECHO_PROG "demi-echo"

/* Runs the server until SIGINT/SIGTERM. Returns the process exit code. */
int echo_server_run(const struct echo_opts *o);

/* Runs the client. Returns the process exit code (0 only when every message
 * came back intact). */
int echo_client_run(const struct echo_opts *o);

/* --- echo_demi.c --- */

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

/* Prints libdemi's global counters (demi_getcounters(-1, ...)) to f. */
void echo_print_counters(FILE *f);

#endif /* DEMI_ECHO_H_ */
