/*
 * Shared helpers of the integration tests: the byte pattern every echo
 * message carries, time, loopback addresses, pipes between a test and the
 * process or thread it started, and bounded reaping of child processes.
 * Nothing here uses libdemi, so both the libdemi and the plain-socket halves
 * of a test can use it.
 */
#ifndef IT_COMMON_H_
#define IT_COMMON_H_

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IT_MAX_MSGS 8           /* most messages one connection sends in sequence */
#define IT_ERR_LEN 256

/* Sizes used by the tests. */
#define IT_KIB 1024u
#define IT_MIB (1024u * 1024u)
#define IT_UDP_MAX 65507u       /* largest UDP payload over IPv4 */

/* What one connection (TCP) or socket (UDP) of an echo client sends: its
 * messages in order, each echoed back before the next is sent. */
struct it_plan {
    uint32_t n_msgs;
    size_t sizes[IT_MAX_MSGS];
};

/* Outcome of an echo client run (or of an echo server run). */
struct it_result {
    uint32_t conns_ok;          /* connections/sockets whose every message came back intact */
    uint64_t bytes_verified;    /* bytes compared against the pattern */
    uint32_t max_pops;          /* most pops (reads) one message needed */
    uint32_t resends;           /* UDP: datagrams sent again after a timeout */
    int err;                    /* first error (errno-like), 0 if none */
    char msg[IT_ERR_LEN];       /* what the first error was */
};

/* Byte off of the message with the given seed. Neighbouring bytes and
 * neighbouring seeds differ, so a lost, repeated or shifted byte is caught. */
static inline uint8_t it_pattern(uint32_t seed, uint64_t off)
{
    uint32_t x = (uint32_t)off * 0x9E3779B1u + seed * 0x85EBCA77u + (uint32_t)(off >> 32);
    x ^= x >> 15;
    x *= 0x2C1B3C6Du;
    x ^= x >> 12;
    return (uint8_t)x;
}

/* Seed of message m of connection c. */
static inline uint32_t it_seed(uint32_t conn, uint32_t msg)
{
    return conn * 64u + msg + 1u;
}

/* Fills len bytes at p with the pattern of seed starting at offset off. */
void it_fill(uint8_t *p, size_t len, uint32_t seed, uint64_t off);

/* Returns -1 if the len bytes at p are the pattern of seed from offset off,
 * else the index of the first byte that differs. */
ptrdiff_t it_check(const uint8_t *p, size_t len, uint32_t seed, uint64_t off);

/* Records the first error of a run; later ones are ignored. */
void it_fail(struct it_result *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* CLOCK_MONOTONIC now, in ns. */
uint64_t it_now_ns(void);

/* 127.0.0.1:port (port in host order). */
struct sockaddr_in it_loopback(uint16_t port);

/* Port (host order) a plain socket is bound to, 0 on failure. */
uint16_t it_sock_port(int fd);

/* Writes / reads exactly one uint32 on a pipe; read waits up to timeout_ms.
 * Return 0, or -1 on error, end of file or timeout. */
int it_pipe_put(int fd, uint32_t v);
int it_pipe_get(int fd, uint32_t *v, int timeout_ms);

/* True when fd is readable or closed at the other end (a stop request). */
bool it_stop_requested(int fd);

/* Waits up to timeout_ms for child pid, then kills it (SIGKILL) and reaps it.
 * Returns its exit status (0..255), 128+signal if it died from a signal, or
 * -1 if waitpid failed. Never leaves the child unreaped. */
int it_reap(pid_t pid, int timeout_ms);

/* Sets DEMI_LIBOS=posix unless the environment already names a libOS. */
void it_select_posix(void);

#endif /* IT_COMMON_H_ */
