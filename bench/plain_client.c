/*
 * plain-echo client: one thread per connection, each running its share of
 * the messages ping-pong style over a blocking socket. Phases as in
 * demi-echo: every connection connects, then the warmup messages, then the
 * measured ones, all connections starting each phase together (plain_gate).
 * A message is filled with demi-echo's pattern, sent whole (reading echoed
 * bytes meanwhile if the send would block, so large messages cannot
 * deadlock), and its echo is read and every byte checked. The first error
 * ends the run with a non-zero exit code. Each thread records its RTTs in
 * its own fixed-size histogram (apps/echo_hist.h), merged at the end: memory
 * does not grow with --count. --duration ends every thread's measured
 * phase at the same deadline.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_pattern.h"
#include "echo_report.h"
#include "echo_hist.h"
#include "echo_util.h"
#include "plain_echo.h"

#define CLI_CHUNK (256u << 10)          /* receive buffer per connection */
#define CLI_STACK (256u << 10)

/* A barrier whose party count can shrink (when a thread fails to start). */
struct plain_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned need, arrived, generation;
};

struct cli_conn {
    struct client *cl;
    uint32_t id;
    int fd;
    uint64_t warm_quota, quota, seq;
    uint8_t *tx, *rx;
    struct echo_hist hist;          /* measured RTTs */
    uint64_t t_begin, t_end;        /* this connection's measured phase */
    pthread_t thread;
};

struct client {
    const struct echo_opts *o;
    bool udp;
    struct cli_conn *conns;
    struct plain_gate gate;
    uint64_t deadline;              /* --duration: end of the measured phase (0: none) */
    atomic_uint errors;
};

static void gate_wait(struct plain_gate *g)
{
    pthread_mutex_lock(&g->mu);
    unsigned gen = g->generation;
    if (++g->arrived >= g->need) {
        g->arrived = 0;
        g->generation++;
        pthread_cond_broadcast(&g->cv);
    } else {
        while (gen == g->generation)
            pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

/* Lowers the number of threads the gate waits for (never below 1). */
static void gate_shrink(struct plain_gate *g, unsigned need)
{
    pthread_mutex_lock(&g->mu);
    g->need = need ? need : 1;
    if (g->arrived && g->arrived >= g->need) {
        g->arrived = 0;
        g->generation++;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
}

/* Reports an error of connection c and ends the run (only the first is printed). */
static void cli_fail(struct cli_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cli_fail(struct cli_conn *c, const char *fmt, ...)
{
    if (atomic_fetch_add(&c->cl->errors, 1) != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PLAIN_PROG ": conn %u message %" PRIu64 ": ", c->id, c->seq ? c->seq - 1 : 0);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* Opens c's socket with the timeouts set and connects it. Returns false after reporting. */
static bool conn_open(struct cli_conn *c)
{
    const struct echo_opts *o = c->cl->o;
    double t = o->timeout_sec;
    struct timeval tv = {(time_t)t, (suseconds_t)((t - (double)(time_t)t) * 1e6)};
    int one = 1;
    c->fd = socket(AF_INET, (c->cl->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        cli_fail(c, "socket: %s", strerror(errno));
        return false;
    }
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
        (!c->cl->udp && setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)) {
        cli_fail(c, "setsockopt: %s", strerror(errno));
        return false;
    }
    if (connect(c->fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) != 0) {
        cli_fail(c, "connect: %s", errno == EINPROGRESS ? "timed out" : strerror(errno));
        return false;
    }
    return true;
}

/* Checks n echoed bytes at c->rx, which start at message offset off. */
static bool check_chunk(struct cli_conn *c, size_t n, uint64_t seed, uint64_t off)
{
    char why[160];
    if (echo_check_echo(c->rx, n, seed, off, c->cl->o->size, why, sizeof(why)))
        return true;
    cli_fail(c, "%s", why);
    return false;
}

/* Reads echoed bytes into c->rx and checks them; *got counts what arrived.
 * flags is 0 (block) or MSG_DONTWAIT. Returns false after reporting. */
static bool recv_some(struct cli_conn *c, uint64_t seed, uint64_t *got, int flags)
{
    size_t size = c->cl->o->size;
    size_t want = size - *got < CLI_CHUNK ? size - *got : CLI_CHUNK;
    ssize_t n = recv(c->fd, c->rx, c->cl->udp ? CLI_CHUNK : want, flags);
    if (n < 0 && (errno == EAGAIN || errno == EINTR) && flags)
        return true;
    if (n < 0) {
        cli_fail(c, "recv: %s", errno == EAGAIN ? "timed out" : strerror(errno));
        return false;
    }
    if (n == 0 && !c->cl->udp) {
        cli_fail(c, "server closed the connection after %" PRIu64 " of %zu bytes", *got, size);
        return false;
    }
    if (c->cl->udp && (size_t)n != size) {
        cli_fail(c, "datagram of %zd bytes, expected %zu", n, size);
        return false;
    }
    if (!check_chunk(c, (size_t)n, seed, *got))
        return false;
    *got += (uint64_t)n;
    return true;
}

/* Sends one message and reads its whole echo. Returns its RTT in ns, or 0
 * after reporting a failure. */
static uint64_t conn_message(struct cli_conn *c)
{
    size_t size = c->cl->o->size;
    uint64_t limit = (uint64_t)(c->cl->o->timeout_sec * 1e9);
    uint64_t seed = echo_pattern_seed(c->id, c->seq++);
    demi_sgarray_t sga = {.sga_numsegs = 1, .sga_segs = {{.sgaseg_buf = c->tx, .sgaseg_len = (uint32_t)size}}};
    echo_pattern_fill(&sga, seed);
    uint64_t t_start = echo_now_ns(), sent = 0, got = 0;
    while (sent < size) {
        ssize_t n = send(c->fd, c->tx + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            cli_fail(c, "send: %s", strerror(errno));
            return 0;
        }
        /* the socket is full: read echoed bytes meanwhile so neither side blocks for good */
        struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLOUT};
        int r = poll(&p, 1, (int)(limit / 1000000));
        if (r == 0 || (r < 0 && errno != EINTR)) {
            cli_fail(c, "poll: %s", r == 0 ? "timed out" : strerror(errno));
            return 0;
        }
        if (r > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)) && !recv_some(c, seed, &got, MSG_DONTWAIT))
            return 0;
    }
    while (got < size) {
        if (!recv_some(c, seed, &got, c->cl->o->spin ? MSG_DONTWAIT : 0))
            return 0;
        if (echo_now_ns() - t_start > limit) {
            cli_fail(c, "timed out after %.1f s with %" PRIu64 " of %zu bytes echoed", c->cl->o->timeout_sec, got,
                     size);
            return 0;
        }
    }
    uint64_t rtt = echo_now_ns() - t_start;
    return rtt ? rtt : 1;
}

static void *conn_main(void *arg)
{
    struct cli_conn *c = arg;
    struct client *cl = c->cl;
    conn_open(c);
    gate_wait(&cl->gate);
    for (uint64_t i = 0; i < c->warm_quota && !atomic_load(&cl->errors); i++)
        conn_message(c);
    gate_wait(&cl->gate);
    if (cl->o->duration_sec > 0) {  /* one deadline for all, seen by all after the gate */
        if (c->id == 0)
            cl->deadline = echo_now_ns() + (uint64_t)(cl->o->duration_sec * 1e9);
        gate_wait(&cl->gate);
    }
    c->t_begin = echo_now_ns();
    for (uint64_t i = 0; i < c->quota && !atomic_load(&cl->errors); i++) {
        if (cl->deadline && echo_now_ns() >= cl->deadline)
            break;
        uint64_t rtt = conn_message(c);
        if (rtt)
            echo_hist_record(&c->hist, rtt);
    }
    c->t_end = echo_now_ns();
    return NULL;
}

/* Merges every connection's histogram and prints the table or JSON. */
static int client_report(struct client *cl)
{
    const struct echo_opts *o = cl->o;
    struct echo_hist *all = malloc(sizeof(*all));
    if (!all) {
        fprintf(stderr, PLAIN_PROG ": out of memory for the report\n");
        return ENOMEM;
    }
    echo_hist_init(all);
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (uint32_t i = 0; i < o->conns; i++) {
        struct cli_conn *c = &cl->conns[i];
        echo_hist_merge(all, &c->hist);
        t0 = c->t_begin && c->t_begin < t0 ? c->t_begin : t0;
        t1 = c->t_end > t1 ? c->t_end : t1;
    }
    struct echo_result r = {
        .libos = PLAIN_LIBOS, .proto = cl->udp ? "udp" : "tcp", .size = o->size, .count = all->n,
        .conns = o->conns, .pipeline = 1, .hist = all, .errors = atomic_load(&cl->errors),
        .max_rss_kib = echo_max_rss_kib(),
    };
    if (!r.errors && t1 > t0)
        r.elapsed_sec = (double)(t1 - t0) / 1e9;
    int rc = 0;
    if (o->json) {
#ifdef ECHO_HAVE_JSON
        rc = echo_report_json(stdout, &r);
        if (rc != 0)
            fprintf(stderr, PLAIN_PROG ": writing the JSON result: %s\n", strerror(rc));
#endif
    } else if (!r.errors) {
        echo_report_table(stdout, &r);
    }
    free(all);
    return rc;
}

/* Allocates c's buffers. Returns 0 or ENOMEM. */
static int conn_init(struct client *cl, struct cli_conn *c, uint32_t i)
{
    const struct echo_opts *o = cl->o;
    c->cl = cl;
    c->id = i;
    c->fd = -1;
    c->quota = o->count / o->conns + (i < o->count % o->conns);
    c->warm_quota = o->warmup / o->conns + (i < o->warmup % o->conns);
    c->tx = malloc(o->size);
    c->rx = malloc(CLI_CHUNK);
    echo_hist_init(&c->hist);
    if (!c->tx || !c->rx)
        return ENOMEM;
    return 0;
}

int plain_client_run(const struct echo_opts *o)
{
    struct client cl = {.o = o, .udp = o->proto == ECHO_PROTO_UDP};
    uint32_t started = 0;
    int rc = 1;
    pthread_attr_t attr;
    pthread_mutex_init(&cl.gate.mu, NULL);
    pthread_cond_init(&cl.gate.cv, NULL);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, CLI_STACK);
    cl.conns = calloc(o->conns, sizeof(*cl.conns));
    if (!cl.conns)
        goto out_of_memory;
    for (uint32_t i = 0; i < o->conns; i++)
        if (conn_init(&cl, &cl.conns[i], i) != 0)
            goto out_of_memory;
    cl.gate.need = o->conns;
    for (; started < o->conns; started++) {
        int err = pthread_create(&cl.conns[started].thread, &attr, conn_main, &cl.conns[started]);
        if (err != 0) {
            cli_fail(&cl.conns[started], "pthread_create: %s", strerror(err));
            gate_shrink(&cl.gate, started);
            break;
        }
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(cl.conns[i].thread, NULL);
    rc = client_report(&cl) != 0 || atomic_load(&cl.errors) ? 1 : 0;
    goto done;
out_of_memory:
    fprintf(stderr, PLAIN_PROG ": out of memory for %u connections of %zu-byte messages\n", o->conns, o->size);
done:
    for (uint32_t i = 0; cl.conns && i < o->conns; i++) {
        struct cli_conn *c = &cl.conns[i];
        if (c->fd >= 0)
            close(c->fd);
        free(c->tx);
        free(c->rx);
    }
    free(cl.conns);
    pthread_attr_destroy(&attr);
    pthread_cond_destroy(&cl.gate.cv);
    pthread_mutex_destroy(&cl.gate.mu);
    return rc;
}
