/*
 * Helpers of the rdma libOS tests: a server in a child process (libdemi is
 * one instance per process, so the child forks before its demi_init), a
 * byte pattern, bounded waits, and the process's memory use.
 */
#ifndef RDMA_TEST_UTIL_H_
#define RDMA_TEST_UTIL_H_

#include <demi/demi.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What a child server reports back to the test (through a pipe). */
struct rt_result {
    int status;             /* 0 when everything it checked was right */
    uint64_t msgs;
    uint64_t bytes;
    uint64_t rss0_kb;       /* its resident memory when it started serving */
    uint64_t hwm_kb;        /* its peak resident memory */
    int64_t err;            /* errno of the first failure */
};

typedef int (*rt_server_fn)(int listen_qd, void *arg, struct rt_result *res);

struct rt_child {
    pid_t pid;
    uint16_t port;
    int result_fd;
    int signal_fd;          /* the child writes one byte here when told to (rt_child_signal) */
};

/* Sets the environment of an rdma run over the tcp provider, plus the
 * NULL-terminated NAME, VALUE pairs in extra (may be NULL). */
void rt_env(const char *const *extra);

/* Forks a child that sets rt_env(extra), calls demi_init, listens on
 * 127.0.0.1:0, reports its port and runs fn. Returns 0 or -1. */
int rt_spawn(struct rt_child *ch, rt_server_fn fn, void *arg, const char *const *extra);

/* In the child: tells the parent something happened (one byte). */
void rt_child_signal(void);

/* In the child: sends len bytes to the parent (at most PIPE_BUF). */
void rt_child_send(const void *data, size_t len);

/* Waits up to timeout_ms for len bytes from the child; returns 0 or -1. */
int rt_wait_data(struct rt_child *ch, void *data, size_t len, int timeout_ms);

/* Waits up to timeout_ms for the child's signal byte; returns 0 or -1. */
int rt_wait_signal(struct rt_child *ch, int timeout_ms);

/* Waits up to timeout_ms for the child to exit (kills it after) and reads
 * its result. Returns its exit status, or -1 if it had to be killed. */
int rt_reap(struct rt_child *ch, int timeout_ms, struct rt_result *res);

/* demi_wait with a timeout in milliseconds. */
int rt_wait(demi_qtoken_t qt, demi_qresult_t *qr, int timeout_ms);

/* The test pattern: byte i of a stream seeded with seed. */
static inline uint8_t rt_byte(uint32_t seed, uint64_t i)
{
    return (uint8_t)((i * 131u + seed * 7u) ^ (i >> 9));
}

/* Fills / checks an sga with the pattern; check returns true when equal. */
void rt_fill(demi_sgarray_t *sga, uint32_t seed);
bool rt_check(const demi_sgarray_t *sga, uint32_t seed);
uint64_t rt_sga_len(const demi_sgarray_t *sga);

/* VmRSS / VmHWM of this process in KiB. */
uint64_t rt_rss_kb(void);
uint64_t rt_hwm_kb(void);

/* CPU time (user + system) of process pid so far, in clock ticks. */
uint64_t rt_cpu_ticks(pid_t pid);

/* A server for rt_spawn: echoes every message on every connection until
 * `*(int *)arg` connections ended (EOF). Fails on any error or after 120 s. */
int rt_echo_server(int lqd, void *arg, struct rt_result *res);

/* Monotonic milliseconds. */
uint64_t rt_now_ms(void);

/* A test's usual start: rt_spawn(ch, fn, arg, srv_env), then this
 * process's rt_env(cli_env), demi_init and rt_connect to the child. Returns
 * the connected qd or -errno. */
int rt_session(struct rt_child *ch, rt_server_fn fn, void *arg, const char *const *srv_env,
               const char *const *cli_env);

/* Fills sga with the pattern of seed, pushes it on qd and pops the echo.
 * Returns 0 when the echo is one whole message, byte-exact; else the
 * number of the step that failed (1-6). */
int rt_echo(int qd, demi_sgarray_t *sga, uint32_t seed);

/* Connects a new queue to 127.0.0.1:port; returns the qd or -errno. */
int rt_connect(uint16_t port, int timeout_ms);

#endif
