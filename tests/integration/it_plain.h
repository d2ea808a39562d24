/*
 * The plain Linux-socket half of the integration tests: an echo server
 * (TCP and UDP, one thread, epoll) and echo clients (TCP and UDP, poll), so
 * libdemi is checked against the kernel's own TCP/UDP and not only against
 * itself. Nothing here calls libdemi.
 */
#ifndef IT_PLAIN_H_
#define IT_PLAIN_H_

#include <pthread.h>
#include <stdint.h>

#include "it_common.h"

/* Echo server thread on 127.0.0.1: one TCP listener and one UDP socket,
 * both on ports picked by the kernel. */
struct it_plain_server {
    pthread_t thread;
    int listen_fd;
    int udp_fd;
    int stop_fd;                /* eventfd: written to stop the thread */
    uint16_t tcp_port;
    uint16_t udp_port;
    struct it_result res;       /* errors; conns_ok: TCP connections the peer closed;
                                   bytes_verified: bytes echoed (not checked) */
};

/* Binds the sockets and starts the thread. Returns 0 or an errno. The
 * thread stops by itself after 60 s at most. */
int it_plain_server_start(struct it_plain_server *s);

/* Stops and joins the thread and closes the sockets. */
void it_plain_server_stop(struct it_plain_server *s);

/* Echo clients: n_conns TCP connections (or UDP sockets) to 127.0.0.1:port,
 * all running at once, each sending plan's messages in order and checking
 * every echoed byte. Stop at deadline_ns (CLOCK_MONOTONIC) at the latest. */
void it_plain_tcp_client(uint16_t port, uint32_t n_conns, const struct it_plan *plan, uint64_t deadline_ns,
                         struct it_result *r);
void it_plain_udp_client(uint16_t port, uint32_t n_socks, const struct it_plan *plan, uint64_t deadline_ns,
                         struct it_result *r);

/* A plain client run in a thread. When it finishes it closes done_fd (the
 * write end of a pipe), which asks the libdemi server under test to stop. */
struct it_plain_client_job {
    pthread_t thread;
    int is_udp;
    uint16_t port;
    uint32_t n_conns;
    struct it_plan plan;
    uint64_t deadline_ns;
    int done_fd;
    struct it_result res;
};

/* Starts job->thread. Returns 0 or an errno. */
int it_plain_client_spawn(struct it_plain_client_job *job);

#endif /* IT_PLAIN_H_ */
