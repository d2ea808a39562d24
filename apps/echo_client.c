/*
 * The demi-echo client: --conns queues, each running its share of the
 * messages ping-pong style (one message outstanding per connection), all
 * connections at once in one event loop.
 *
 * Call order: echo_client_run -> open every queue (TCP: connect them all)
 * -> phase WARMUP (unmeasured messages) -> phase MEASURE (every connection
 * starts together; RTT samples and the elapsed time are taken) -> close
 * every queue -> report. A message is pushed from a fresh sga filled with
 * echo_pattern bytes; its echo is accumulated over as many pops as it takes
 * and every byte is checked. The next message starts when the echo is
 * complete and the push has completed. Any mismatch, error or timeout ends
 * the run with a non-zero exit code.
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <demi/wait.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "echo.h"
#include "echo_pattern.h"
#include "echo_report.h"
#include "echo_stats.h"

#define CLI_BATCH 128
#define CLI_WAIT_NS 100000000ull        /* longest single wait */
#define CLI_TIMEOUT_CHECK_NS 10000000ull /* how often message ages are checked */
#define CLI_RESERVE_MAX (16u << 20)     /* samples reserved up front, at most */

enum cli_phase { PH_CONNECT, PH_WARMUP, PH_MEASURE, PH_DONE };

struct cli_conn {
    uint32_t id;
    int qd;
    uint64_t warm_quota;        /* unmeasured messages, sent first */
    uint64_t quota;             /* measured messages */
    uint64_t seq;               /* messages started */
    uint64_t done;              /* messages echoed intact */
    bool connect_pending;
    bool push_pending;
    bool pop_pending;
    bool in_flight;             /* a message is out: its echo is not complete */
    demi_qtoken_t connect_qt, push_qt, pop_qt;
    demi_sgarray_t push_sga;    /* freed when the push completes */
    uint64_t seed;              /* in-flight message's pattern */
    uint64_t t_start;
    uint64_t received;          /* bytes of the echo checked so far */
};

struct client {
    const struct echo_opts *o;
    bool udp;
    uint32_t nconns;
    struct cli_conn *conns;
    struct echo_qdmap map;      /* qd -> struct cli_conn */
    enum cli_phase phase;
    uint32_t nready;            /* connections done with the current phase */
    uint64_t t_phase;           /* start of the current phase */
    uint64_t t_measure;         /* start of the measured phase */
    uint64_t t_end;             /* last echo of the measured phase */
    struct echo_samples samples;
    uint64_t errors;
};

/* Reports an error of connection c (or of the run when c is NULL) and ends the run. */
static void cli_fail(struct client *cl, const struct cli_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cli_fail(struct client *cl, const struct cli_conn *c, const char *fmt, ...)
{
    cl->errors++;
    if (cl->errors > 1)
        return;  /* the first error ends the run; report only that one */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, ECHO_PROG ": ");
    if (c && c->in_flight)
        fprintf(stderr, "conn %u (qd %d) message %" PRIu64 ": ", c->id, c->qd, c->seq - 1);
    else if (c)
        fprintf(stderr, "conn %u (qd %d): ", c->id, c->qd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* Messages connection c must have echoed by the end of the current phase. */
static uint64_t conn_target(const struct client *cl, const struct cli_conn *c)
{
    return cl->phase == PH_WARMUP ? c->warm_quota : cl->phase == PH_MEASURE ? c->warm_quota + c->quota : 0;
}

static void start_phase(struct client *cl, enum cli_phase ph);

/* Starts the next message of c when the previous one is fully done and the
 * phase wants more. */
static void conn_next(struct client *cl, struct cli_conn *c)
{
    if (cl->errors || c->in_flight || c->push_pending || c->done >= conn_target(cl, c))
        return;
    size_t size = cl->o->size;
    c->seed = echo_pattern_seed(c->id, c->seq);
    c->seq++;
    demi_sgarray_t sga = demi_sgaalloc(size);
    if (!sga.sga_buf) {
        cli_fail(cl, c, "demi_sgaalloc(%zu): %s", size, strerror(errno ? errno : ENOMEM));
        return;
    }
    echo_pattern_fill(&sga, c->seed);
    c->t_start = echo_now_ns();
    int rc = cl->udp ? demi_pushto(&c->push_qt, c->qd, &sga, (const struct sockaddr *)&cl->o->addr,
                                   sizeof(cl->o->addr))
                     : demi_push(&c->push_qt, c->qd, &sga);
    if (rc != 0) {
        demi_sgafree(&sga);
        cli_fail(cl, c, "%s: %s", cl->udp ? "demi_pushto" : "demi_push", strerror(rc));
        return;
    }
    c->push_sga = sga;
    c->push_pending = true;
    c->in_flight = true;
    c->received = 0;
    if (!c->pop_pending) {
        rc = demi_pop(&c->pop_qt, c->qd);
        if (rc != 0) {
            cli_fail(cl, c, "demi_pop: %s", strerror(rc));
            return;
        }
        c->pop_pending = true;
    }
}

/* c finished its share of the current phase; the last one moves the run on. */
static void conn_ready(struct client *cl)
{
    if (++cl->nready == cl->nconns)
        start_phase(cl, cl->phase + 1);
}

static void start_phase(struct client *cl, enum cli_phase ph)
{
    uint64_t now = echo_now_ns();
    if (cl->phase == PH_MEASURE)
        cl->t_end = now;
    cl->phase = ph;
    cl->t_phase = now;
    if (ph == PH_MEASURE)
        cl->t_measure = now;
    cl->nready = 0;
    if (ph == PH_DONE)
        return;
    uint32_t ready = 0;
    for (uint32_t i = 0; i < cl->nconns; i++) {
        struct cli_conn *c = &cl->conns[i];
        if (c->done >= conn_target(cl, c))
            ready++;
        else
            conn_next(cl, c);
    }
    cl->nready = ready;
    if (ready == cl->nconns)
        start_phase(cl, ph + 1);
}

/* Checks one popped sga against the in-flight message of c. Returns false
 * (after reporting) on any mismatch. */
static bool check_echo(struct client *cl, struct cli_conn *c, const demi_sgarray_t *sga)
{
    uint64_t len = echo_sga_len(sga);
    size_t size = cl->o->size;
    if (!c->in_flight) {
        cli_fail(cl, c, "%" PRIu64 " unexpected bytes arrived with no message outstanding", len);
        return false;
    }
    if (cl->udp && len != size) {
        cli_fail(cl, c, "datagram of %" PRIu64 " bytes, expected %zu", len, size);
        return false;
    }
    if (c->received + len > size) {
        cli_fail(cl, c, "echo has %" PRIu64 " bytes, more than the %zu sent", c->received + len, size);
        return false;
    }
    for (uint32_t s = 0; s < sga->sga_numsegs && s < DEMI_SGARRAY_MAXSIZE; s++) {
        const demi_sgaseg_t *seg = &sga->sga_segs[s];
        size_t bad = echo_pattern_check(seg->sgaseg_buf, seg->sgaseg_len, c->seed, c->received);
        if (bad < seg->sgaseg_len) {
            uint64_t off = c->received + bad;
            cli_fail(cl, c, "echo mismatch at byte %" PRIu64 " of %zu: got 0x%02x, expected 0x%02x", off, size,
                     ((const uint8_t *)seg->sgaseg_buf)[bad], echo_pattern_byte(c->seed, off));
            return false;
        }
        c->received += seg->sgaseg_len;
    }
    return true;
}

static void on_pop(struct client *cl, struct cli_conn *c, demi_qresult_t *qr)
{
    c->pop_pending = false;
    if (qr->qr_opcode != DEMI_OPC_POP) {
        cli_fail(cl, c, "pop failed: %s", strerror((int)qr->qr_ret));
        return;
    }
    demi_sgarray_t *sga = &qr->qr_value.sga;
    if (!cl->udp && echo_sga_len(sga) == 0) {
        echo_sga_release(sga);
        cli_fail(cl, c, "server closed the connection after %" PRIu64 " of %zu bytes", c->received, cl->o->size);
        return;
    }
    bool ok = check_echo(cl, c, sga);
    echo_sga_release(sga);
    if (!ok)
        return;
    if (c->received < cl->o->size) {
        int rc = demi_pop(&c->pop_qt, c->qd);
        if (rc != 0) {
            cli_fail(cl, c, "demi_pop: %s", strerror(rc));
            return;
        }
        c->pop_pending = true;
        return;
    }
    uint64_t rtt = echo_now_ns() - c->t_start;
    c->in_flight = false;
    c->done++;
    if (c->seq > c->warm_quota && cl->phase == PH_MEASURE) {
        int rc = echo_samples_add(&cl->samples, rtt);
        if (rc != 0) {
            cli_fail(cl, c, "recording the RTT: %s", strerror(rc));
            return;
        }
    }
    if (c->done == conn_target(cl, c))
        conn_ready(cl);
    else
        conn_next(cl, c);
}

static void on_push(struct client *cl, struct cli_conn *c, demi_qresult_t *qr)
{
    c->push_pending = false;
    echo_sga_release(&c->push_sga);
    if (qr->qr_opcode != DEMI_OPC_PUSH) {
        cli_fail(cl, c, "%s failed: %s", cl->udp ? "pushto" : "push", strerror((int)qr->qr_ret));
        return;
    }
    conn_next(cl, c);
}

static void on_connect(struct client *cl, struct cli_conn *c, demi_qresult_t *qr)
{
    c->connect_pending = false;
    if (qr->qr_opcode != DEMI_OPC_CONNECT) {
        char a[32];
        cli_fail(cl, c, "connect to %s failed: %s", echo_addr_str(&cl->o->addr, a, sizeof(a)),
                 strerror((int)qr->qr_ret));
        return;
    }
    int one = 1;
    demi_setsockopt(c->qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  /* best effort */
    conn_ready(cl);
}

/* Frees what a completion that matches no pending operation holds. */
static void drop_completion(demi_qresult_t *qr)
{
    if (qr->qr_opcode == DEMI_OPC_POP)
        echo_sga_release(&qr->qr_value.sga);
}

static void dispatch(struct client *cl, demi_qresult_t *qr)
{
    struct cli_conn *c = echo_qdmap_get(&cl->map, qr->qr_qd);
    if (c && c->pop_pending && qr->qr_qt == c->pop_qt)
        on_pop(cl, c, qr);
    else if (c && c->push_pending && qr->qr_qt == c->push_qt)
        on_push(cl, c, qr);
    else if (c && c->connect_pending && qr->qr_qt == c->connect_qt)
        on_connect(cl, c, qr);
    else
        drop_completion(qr);
}

/* Fails the run if a connect or a message has been outstanding longer than --timeout. */
static void check_timeouts(struct client *cl, uint64_t now)
{
    uint64_t limit = (uint64_t)(cl->o->timeout_sec * 1e9);
    for (uint32_t i = 0; i < cl->nconns && !cl->errors; i++) {
        struct cli_conn *c = &cl->conns[i];
        if (c->connect_pending && now - cl->t_phase > limit)
            cli_fail(cl, c, "connect timed out after %.1f s", cl->o->timeout_sec);
        else if (c->in_flight && now - c->t_start > limit)
            cli_fail(cl, c, "timed out after %.1f s with %" PRIu64 " of %zu bytes echoed%s", cl->o->timeout_sec,
                     c->received, cl->o->size, cl->udp ? " (datagram lost?)" : "");
    }
}

/* Opens connection c's queue (TCP: starts connecting). Returns false after
 * reporting a failure. */
static bool conn_open(struct client *cl, struct cli_conn *c)
{
    int rc = demi_socket(&c->qd, AF_INET, cl->udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (rc != 0) {
        c->qd = -1;
        cli_fail(cl, c, "demi_socket: %s", strerror(rc));
        return false;
    }
    rc = echo_qdmap_set(&cl->map, c->qd, c);
    if (rc != 0) {
        cli_fail(cl, c, "%s", strerror(rc));
        return false;
    }
    if (cl->udp) {
        struct sockaddr_in any = {.sin_family = AF_INET};
        rc = demi_bind(c->qd, (const struct sockaddr *)&any, sizeof(any));
        if (rc != 0)
            cli_fail(cl, c, "demi_bind(0.0.0.0:0): %s", strerror(rc));
        return rc == 0;
    }
    rc = demi_connect(&c->connect_qt, c->qd, (const struct sockaddr *)&cl->o->addr, sizeof(cl->o->addr));
    if (rc != 0) {
        char a[32];
        cli_fail(cl, c, "demi_connect(%s): %s", echo_addr_str(&cl->o->addr, a, sizeof(a)), strerror(rc));
        return false;
    }
    c->connect_pending = true;
    return true;
}

/* Sets up every connection's quota and opens its queue. Returns 0 or ENOMEM
 * (reported); an open failure is recorded in cl->errors. */
static int client_open(struct client *cl)
{
    const struct echo_opts *o = cl->o;
    cl->conns = calloc(cl->nconns, sizeof(*cl->conns));
    size_t reserve = o->count < CLI_RESERVE_MAX ? (size_t)o->count : CLI_RESERVE_MAX;
    if (!cl->conns || echo_samples_reserve(&cl->samples, reserve) != 0) {
        cli_fail(cl, NULL, "out of memory for %u connections and %" PRIu64 " samples", cl->nconns, o->count);
        return ENOMEM;
    }
    for (uint32_t i = 0; i < cl->nconns; i++) {
        struct cli_conn *c = &cl->conns[i];
        c->id = i;
        c->qd = -1;
        c->quota = o->count / cl->nconns + (i < o->count % cl->nconns);
        c->warm_quota = o->warmup / cl->nconns + (i < o->warmup % cl->nconns);
    }
    cl->phase = PH_CONNECT;
    cl->t_phase = echo_now_ns();
    for (uint32_t i = 0; i < cl->nconns && !cl->errors; i++) {
        if (!conn_open(cl, &cl->conns[i]))
            break;
        if (cl->udp)
            conn_ready(cl);
    }
    return 0;
}

/* Runs the event loop until every message is back or the run fails. */
static void client_loop(struct client *cl, demi_qresult_t *qrs)
{
    uint64_t last_check = echo_now_ns();
    uint64_t wait_ns = (uint64_t)(cl->o->timeout_sec * 1e9);
    if (wait_ns > CLI_WAIT_NS)
        wait_ns = CLI_WAIT_NS;
    struct timespec tick = {(time_t)(wait_ns / 1000000000ull), (long)(wait_ns % 1000000000ull)};
    while (!cl->errors && cl->phase != PH_DONE) {
        int n = 0;
        int rc = demi_wait_next_n(qrs, CLI_BATCH, &n, &tick);
        if (rc != 0 && rc != ETIMEDOUT && rc != EINTR) {
            cli_fail(cl, NULL, "demi_wait_next_n: %s", strerror(rc));
            return;
        }
        for (int i = 0; i < n; i++)
            dispatch(cl, &qrs[i]);
        uint64_t now = echo_now_ns();
        if (rc != 0 || now - last_check >= CLI_TIMEOUT_CHECK_NS) {
            last_check = now;
            check_timeouts(cl, now);
        }
    }
}

/* Closes every queue, frees pending push sgas, and drops the completions
 * that closing made. */
static void client_close(struct client *cl, demi_qresult_t *qrs)
{
    for (uint32_t i = 0; cl->conns && i < cl->nconns; i++) {
        struct cli_conn *c = &cl->conns[i];
        if (c->push_pending)
            echo_sga_release(&c->push_sga);
        if (c->qd >= 0) {
            int rc = demi_close(c->qd);
            if (rc != 0)
                echo_perror("demi_close", rc);
        }
    }
    struct timespec zero = {0, 0};
    for (int round = 0; round < 10000; round++) {
        int n = 0;
        if (demi_wait_next_n(qrs, CLI_BATCH, &n, &zero) != 0)
            break;
        for (int i = 0; i < n; i++)
            drop_completion(&qrs[i]);
    }
}

/* Prints the result: the table, or one JSON object (--json, also after a
 * failure so a driver script sees "errors"). Returns 0 or an errno. */
static int client_report(struct client *cl)
{
    struct echo_result r = {
        .libos = echo_libos_name(),
        .proto = cl->udp ? "udp" : "tcp",
        .size = cl->o->size,
        .conns = cl->nconns,
        .errors = cl->errors,
    };
    echo_samples_summarize(&cl->samples, &r.rtt);
    r.count = r.rtt.n;
    if (cl->phase == PH_DONE)
        r.elapsed_sec = (double)(cl->t_end - cl->t_measure) / 1e9;
    else if (cl->phase == PH_MEASURE)  /* failed: what ran until now */
        r.elapsed_sec = (double)(echo_now_ns() - cl->t_measure) / 1e9;
    if (cl->o->json) {
#ifdef ECHO_HAVE_JSON
        int rc = echo_report_json(stdout, &r);
        if (rc != 0)
            echo_perror("writing the JSON result", rc);
        return rc;
#else
        return ENOTSUP;
#endif
    }
    if (!cl->errors)
        echo_report_table(stdout, &r);
    return 0;
}

int echo_client_run(const struct echo_opts *o)
{
    struct client cl;
    memset(&cl, 0, sizeof(cl));
    cl.o = o;
    cl.udp = o->proto == ECHO_PROTO_UDP;
    cl.nconns = o->conns;
    demi_qresult_t *qrs = calloc(CLI_BATCH, sizeof(*qrs));
    if (!qrs) {
        echo_perror("calloc", ENOMEM);
        return 1;
    }
    int rc = demi_init(NULL);
    if (rc != 0) {
        echo_perror("demi_init", rc);
        free(qrs);
        return 1;
    }
    if (client_open(&cl) == 0 && !cl.errors)
        client_loop(&cl, qrs);
    client_close(&cl, qrs);
    int report_rc = client_report(&cl);
    demi_fini();
    echo_samples_free(&cl.samples);
    echo_qdmap_free(&cl.map);
    free(cl.conns);
    free(qrs);
    return cl.errors || report_rc ? 1 : 0;
}
