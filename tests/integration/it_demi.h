/*
 * The libdemi half of the integration tests: an echo server (TCP or UDP)
 * and echo clients driven through the demi_* API only, plus a helper that
 * runs the server in a child process (libdemi is one instance per process,
 * so the child forks before it calls demi_init).
 */
#ifndef IT_DEMI_H_
#define IT_DEMI_H_

#include <demi/demi.h>
#include <sys/types.h>

#include "it_common.h"

/* A set of pending qtokens for demi_wait_any, each with its owner's index
 * and what the operation was (DEMI_OPC_*). */
struct it_tokset {
    demi_qtoken_t *qts;
    uint32_t *owner;
    uint8_t *kind;
    int n;
    int cap;
};

/* Adds a token. Returns 0 or ENOMEM. */
int it_tokset_add(struct it_tokset *t, demi_qtoken_t qt, uint32_t owner, demi_opcode_t kind);
/* Removes entry i (the last entry takes its place). */
void it_tokset_del(struct it_tokset *t, int i);
void it_tokset_free(struct it_tokset *t);

/* Bytes in an sga (sum of its segments). */
size_t it_sga_len(const demi_sgarray_t *sga);

/* Returns -1 if the sga holds the pattern of seed from offset off, else the
 * offset (within the sga) of the first byte that differs. */
ptrdiff_t it_sga_check(const demi_sgarray_t *sga, uint32_t seed, uint64_t off);

/* Waits (bounded) for one operation and checks it completed as expected.
 * Returns 0 with *qr filled, or the wait's errno / EIO on an unexpected
 * opcode (the result's qr_ret when it failed, if non-zero). */
int it_demi_wait_ok(demi_qtoken_t qt, demi_opcode_t expect, int timeout_ms, demi_qresult_t *qr);

struct it_demi_server {
    bool is_udp;
    int qd;                     /* listening TCP queue or the UDP queue */
    uint16_t port;              /* its port, picked by the kernel */
    uint32_t expected_closes;   /* TCP: stop after this many connections ended (0: no limit) */
    int stop_fd;                /* readable or closed: stop (-1: none) */
    uint64_t deadline_ns;       /* stop at the latest then */
    struct it_result res;       /* conns_ok: connections served until the peer closed;
                                   bytes_verified: bytes echoed */
};

/* Creates, binds (127.0.0.1:0) and for TCP listens on the server's queue.
 * demi_init must have been called. Returns 0 or an errno (s->res says what). */
int it_demi_server_open(struct it_demi_server *s, bool is_udp);

/* Echoes until a stop condition; then closes every queue it opened. */
void it_demi_server_run(struct it_demi_server *s);

/* Forks a child that calls demi_init, runs an echo server and exits 0 when
 * it saw no error (1 otherwise, with a message on stderr). Sets *port and
 * *stop_wfd: close it to ask the child to stop. Returns the child's pid, or
 * -1 (errno set). Reap the child with it_reap. */
pid_t it_demi_server_fork(bool is_udp, uint32_t expected_closes, uint16_t *port, int *stop_wfd);

/* libdemi echo clients: same contract as the plain ones in it_plain.h. */
void it_demi_tcp_client(uint16_t port, uint32_t n_conns, const struct it_plan *plan, uint64_t deadline_ns,
                        struct it_result *r);
void it_demi_udp_client(uint16_t port, uint32_t n_socks, const struct it_plan *plan, uint64_t deadline_ns,
                        struct it_result *r);

#endif /* IT_DEMI_H_ */
