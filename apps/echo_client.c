/*
 * The demi-echo client: --conns queues, all driven from one event loop,
 * each with up to --pipeline messages outstanding (default 1: ping-pong).
 *
 * Call order: echo_client_run -> open every queue (TCP: connect them all)
 * -> phase WARMUP (unmeasured messages, as fast as the pipeline allows) ->
 * phase MEASURE (every connection starts together; each echo's RTT goes into
 * a fixed-size histogram) -> close every queue -> report.
 *
 * A message is pushed from a fresh sga filled with echo_pattern bytes and
 * freed when its push completes; a connection keeps one pop pending while
 * it has messages out. TCP echoes come back in order, so popped bytes are
 * checked against the oldest outstanding message and run on into the next
 * one; a UDP echo is matched to whichever outstanding message it is (so a
 * reordered datagram is fine). Every byte is checked.
 *
 * Closed loop (default): a connection starts a message whenever fewer than
 * --pipeline are out; the RTT counts from the push. Open loop (--rate R):
 * message k of the run is due at start + k / R (connection k mod conns),
 * and starts at that time, or as soon as the pipeline has room when it is
 * late; its RTT counts from the due time, so time spent waiting to be sent
 * (queueing) is in the latency rather than hidden (coordinated omission).
 *
 * The measured phase ends after --count messages, or at --duration (the
 * messages still out finish). Any mismatch, error or timeout ends the run
 * with a non-zero exit code. Memory: the connections, their rings of
 * --pipeline messages and two histograms; nothing grows with the count.
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
#include <sys/prctl.h>

#include "echo.h"
#include "echo_hist.h"
#include "echo_pattern.h"
#include "echo_progress.h"
#include "echo_report.h"

#define CLI_BATCH 128
#define CLI_WAIT_NS 100000000ull        /* longest single wait */
#define CLI_TIMEOUT_CHECK_NS 10000000ull /* how often message ages are checked */

enum cli_phase { PH_CONNECT, PH_WARMUP, PH_MEASURE, PH_DONE };

/* A message whose echo is not complete yet. */
struct cli_msg {
    uint64_t seq;               /* its number on the connection */
    uint64_t seed;              /* its pattern */
    uint64_t t_start;           /* where its RTT counts from: push, or due time (--rate) */
    uint64_t t_sent;            /* when it was pushed (for --timeout) */
    uint64_t received;          /* bytes of its echo checked so far */
    bool echoed;                /* UDP: came back out of order, waits for the older ones */
};

/* A push whose completion has not arrived yet. */
struct cli_push {
    demi_qtoken_t qt;
    demi_sgarray_t sga;         /* freed when the push completes */
    bool pending;
};

struct cli_conn {
    uint32_t id;
    int qd;
    uint64_t warm_quota;        /* unmeasured messages, sent first */
    uint64_t quota;             /* measured messages (ECHO_COUNT_UNLIMITED: until --duration) */
    uint64_t seq;               /* messages started */
    uint64_t done;              /* messages echoed intact */
    uint64_t started_measured;  /* messages started in the measured phase */
    bool connect_pending;
    bool pop_pending;
    bool ready;                 /* finished the current phase */
    demi_qtoken_t connect_qt, pop_qt;
    struct cli_msg *msg;        /* ring of --pipeline: [msg_head, msg_head + nmsg) */
    uint32_t msg_head, nmsg;
    struct cli_push *push;      /* ring of --pipeline: [push_head, push_head + npush) */
    uint32_t push_head, npush;
};

struct client {
    const struct echo_opts *o;
    bool udp;
    uint32_t nconns;
    uint32_t depth;             /* --pipeline */
    struct cli_conn *conns;
    struct echo_qdmap map;      /* qd -> struct cli_conn */
    enum cli_phase phase;
    bool stopping;              /* --duration passed: no new messages */
    uint32_t nready;            /* connections done with the current phase */
    uint64_t t_phase;           /* start of the current phase */
    uint64_t t_measure;         /* start of the measured phase */
    uint64_t t_end;             /* last echo of the measured phase */
    double ns_per_msg;          /* --rate: the schedule's spacing, run-wide */
    uint64_t released;          /* --rate: messages due so far, run-wide */
    struct echo_hist hist;      /* measured RTTs */
    struct echo_progress progress;
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
    if (c && c->nmsg)
        fprintf(stderr, "conn %u (qd %d) message %" PRIu64 ": ", c->id, c->qd, c->msg[c->msg_head].seq);
    else if (c)
        fprintf(stderr, "conn %u (qd %d): ", c->id, c->qd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static struct cli_msg *msg_at(const struct client *cl, const struct cli_conn *c, uint32_t i)
{
    return &c->msg[(c->msg_head + i) % cl->depth];
}

/* Messages connection c must have started by the end of the current phase. */
static uint64_t conn_target(const struct client *cl, const struct cli_conn *c)
{
    if (cl->phase == PH_WARMUP)
        return c->warm_quota;
    if (cl->phase != PH_MEASURE)
        return 0;
    if (cl->stopping)
        return c->seq;
    return c->quota == ECHO_COUNT_UNLIMITED ? UINT64_MAX : c->warm_quota + c->quota;
}

/* --rate: when c's next measured message is due (message k of the run is
 * due at t_measure + k * ns_per_msg, and c sends k = id, id + conns, ...). */
static uint64_t conn_due(const struct client *cl, const struct cli_conn *c)
{
    double k = (double)c->id + (double)c->started_measured * cl->nconns;
    return cl->t_measure + (uint64_t)(k * cl->ns_per_msg);
}

static void start_phase(struct client *cl, enum cli_phase ph);

/* c finished its share of the current phase once it started all it must
 * and every echo is back; the last connection moves the run on. */
static void conn_check_ready(struct client *cl, struct cli_conn *c)
{
    if (c->ready || cl->phase == PH_DONE || c->connect_pending)
        return;
    if (cl->phase != PH_CONNECT && (c->seq < conn_target(cl, c) || c->nmsg > 0))
        return;
    c->ready = true;
    if (++cl->nready == cl->nconns)
        start_phase(cl, cl->phase + 1);
}

/* Starts one message on c. Returns false after reporting a failure. */
static bool conn_start_one(struct client *cl, struct cli_conn *c, uint64_t t_start)
{
    size_t size = cl->o->size;
    struct cli_msg *m = msg_at(cl, c, c->nmsg);
    struct cli_push *p = &c->push[(c->push_head + c->npush) % cl->depth];
    m->seq = c->seq;
    m->seed = echo_pattern_seed(c->id, c->seq);
    m->received = 0;
    m->echoed = false;
    demi_sgarray_t sga = demi_sgaalloc(size);
    if (!sga.sga_buf) {
        cli_fail(cl, c, "demi_sgaalloc(%zu): %s", size, strerror(errno ? errno : ENOMEM));
        return false;
    }
    echo_pattern_fill(&sga, m->seed);
    m->t_sent = echo_now_ns();
    m->t_start = t_start ? t_start : m->t_sent;
    int rc = cl->udp ? demi_pushto(&p->qt, c->qd, &sga, (const struct sockaddr *)&cl->o->addr,
                                   sizeof(cl->o->addr))
                     : demi_push(&p->qt, c->qd, &sga);
    if (rc != 0) {
        demi_sgafree(&sga);
        cli_fail(cl, c, "%s: %s", cl->udp ? "demi_pushto" : "demi_push", strerror(rc));
        return false;
    }
    p->sga = sga;
    p->pending = true;
    c->npush++;
    c->nmsg++;
    c->seq++;
    if (cl->phase == PH_MEASURE)
        c->started_measured++;
    if (!c->pop_pending) {
        rc = demi_pop(&c->pop_qt, c->qd);
        if (rc != 0) {
            cli_fail(cl, c, "demi_pop: %s", strerror(rc));
            return false;
        }
        c->pop_pending = true;
    }
    return true;
}

/* Starts as many messages on c as the pipeline, the phase and (--rate) the
 * schedule allow. */
static void conn_fill(struct client *cl, struct cli_conn *c)
{
    bool open_loop = cl->ns_per_msg > 0 && cl->phase == PH_MEASURE;
    uint64_t now = open_loop ? echo_now_ns() : 0;
    while (!cl->errors && c->nmsg < cl->depth && c->npush < cl->depth && c->seq < conn_target(cl, c)) {
        uint64_t due = 0;
        if (open_loop) {
            due = conn_due(cl, c);
            if (due > now)
                break;
        }
        if (!conn_start_one(cl, c, due))
            return;
    }
}

static void start_phase(struct client *cl, enum cli_phase ph)
{
    uint64_t now = echo_now_ns();
    if (cl->phase == PH_MEASURE)
        cl->t_end = now;
    cl->phase = ph;
    cl->t_phase = now;
    if (ph == PH_MEASURE) {
        cl->t_measure = now;
        echo_progress_start(&cl->progress, cl->o->progress, now);
    }
    cl->nready = 0;
    if (ph == PH_DONE)
        return;
    for (uint32_t i = 0; i < cl->nconns; i++)
        cl->conns[i].ready = false;
    for (uint32_t i = 0; i < cl->nconns && cl->phase == ph && !cl->errors; i++) {
        conn_fill(cl, &cl->conns[i]);
        conn_check_ready(cl, &cl->conns[i]);
    }
}

/* The oldest outstanding message m of c came back whole. */
static void msg_echoed(struct client *cl, struct cli_conn *c, struct cli_msg *m, uint64_t now)
{
    m->echoed = true;
    c->done++;
    if (cl->phase == PH_MEASURE) {
        uint64_t rtt = now > m->t_start ? now - m->t_start : 0;
        echo_hist_record(&cl->hist, rtt);
        echo_progress_record(&cl->progress, rtt);
    }
    while (c->nmsg && msg_at(cl, c, 0)->echoed) {
        c->msg_head = (c->msg_head + 1) % cl->depth;
        c->nmsg--;
    }
}

/* Checks a TCP echo: the bytes run through the outstanding messages in
 * order. Returns false (after reporting) on any mismatch. */
static bool check_stream(struct client *cl, struct cli_conn *c, const demi_sgarray_t *sga, uint64_t now)
{
    size_t size = cl->o->size;
    char why[160];
    for (uint32_t s = 0; s < sga->sga_numsegs && s < DEMI_SGARRAY_MAXSIZE; s++) {
        const uint8_t *p = sga->sga_segs[s].sgaseg_buf;
        uint64_t left = sga->sga_segs[s].sgaseg_len;
        while (left > 0) {
            if (c->nmsg == 0) {
                cli_fail(cl, c, "%" PRIu64 " unexpected bytes arrived with no message outstanding", left);
                return false;
            }
            struct cli_msg *m = msg_at(cl, c, 0);
            uint64_t take = size - m->received < left ? size - m->received : left;
            if (!echo_check_echo(p, (size_t)take, m->seed, m->received, size, why, sizeof(why))) {
                cli_fail(cl, c, "%s", why);
                return false;
            }
            m->received += take;
            p += take;
            left -= take;
            if (m->received == size)
                msg_echoed(cl, c, m, now);
        }
    }
    return true;
}

/* Checks a UDP echo: one whole datagram, matched to the outstanding message
 * whose pattern it carries. Returns false (after reporting) if none. */
static bool check_datagram(struct client *cl, struct cli_conn *c, const demi_sgarray_t *sga, uint64_t now)
{
    uint64_t len = echo_sga_len(sga);
    size_t size = cl->o->size;
    if (c->nmsg == 0) {
        cli_fail(cl, c, "a datagram of %" PRIu64 " bytes arrived with no message outstanding", len);
        return false;
    }
    if (len != size) {
        cli_fail(cl, c, "datagram of %" PRIu64 " bytes, expected %zu", len, size);
        return false;
    }
    char why[160];
    for (uint32_t i = 0; i < c->nmsg; i++) {
        struct cli_msg *m = msg_at(cl, c, i);
        if (m->echoed)
            continue;
        uint64_t off = 0;
        bool ok = true;
        for (uint32_t s = 0; ok && s < sga->sga_numsegs && s < DEMI_SGARRAY_MAXSIZE; s++) {
            const demi_sgaseg_t *seg = &sga->sga_segs[s];
            ok = echo_check_echo(seg->sgaseg_buf, seg->sgaseg_len, m->seed, off, size, why, sizeof(why));
            off += seg->sgaseg_len;
        }
        if (ok) {
            msg_echoed(cl, c, m, now);
            return true;
        }
        if (c->nmsg == 1)
            break;  /* the only candidate: report what is wrong with it */
        snprintf(why, sizeof(why), "the datagram is none of the %u messages outstanding", c->nmsg);
    }
    cli_fail(cl, c, "%s", why);
    return false;
}

static void on_pop(struct client *cl, struct cli_conn *c, demi_qresult_t *qr)
{
    c->pop_pending = false;
    if (qr->qr_opcode != DEMI_OPC_POP) {
        cli_fail(cl, c, "pop failed: %s", strerror((int)qr->qr_ret));
        return;
    }
    demi_sgarray_t *sga = &qr->qr_value.sga;
    uint64_t now = echo_now_ns();
    if (!cl->udp && echo_sga_len(sga) == 0) {
        echo_sga_release(sga);
        cli_fail(cl, c, "server closed the connection after %" PRIu64 " of %zu bytes",
                 c->nmsg ? msg_at(cl, c, 0)->received : 0, cl->o->size);
        return;
    }
    bool ok = cl->udp ? check_datagram(cl, c, sga, now) : check_stream(cl, c, sga, now);
    echo_sga_release(sga);
    if (!ok)
        return;
    if (c->nmsg > 0) {
        int rc = demi_pop(&c->pop_qt, c->qd);
        if (rc != 0) {
            cli_fail(cl, c, "demi_pop: %s", strerror(rc));
            return;
        }
        c->pop_pending = true;
    }
    conn_fill(cl, c);
    conn_check_ready(cl, c);
}

/* A push of c completed: frees its sga (pushes complete in order, but any
 * order is handled). */
static void on_push(struct client *cl, struct cli_conn *c, uint32_t i, demi_qresult_t *qr)
{
    struct cli_push *p = &c->push[(c->push_head + i) % cl->depth];
    p->pending = false;
    echo_sga_release(&p->sga);
    while (c->npush && !c->push[c->push_head].pending) {
        c->push_head = (c->push_head + 1) % cl->depth;
        c->npush--;
    }
    if (qr->qr_opcode != DEMI_OPC_PUSH) {
        cli_fail(cl, c, "%s failed: %s", cl->udp ? "pushto" : "push", strerror((int)qr->qr_ret));
        return;
    }
    conn_fill(cl, c);
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
    conn_check_ready(cl, c);
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
    if (!c) {
        drop_completion(qr);
    } else if (c->pop_pending && qr->qr_qt == c->pop_qt) {
        on_pop(cl, c, qr);
    } else if (c->connect_pending && qr->qr_qt == c->connect_qt) {
        on_connect(cl, c, qr);
    } else {
        for (uint32_t i = 0; i < c->npush; i++) {
            struct cli_push *p = &c->push[(c->push_head + i) % cl->depth];
            if (p->pending && p->qt == qr->qr_qt) {
                on_push(cl, c, i, qr);
                return;
            }
        }
        drop_completion(qr);
    }
}

/* Fails the run if a connect or a message has been outstanding longer than --timeout. */
static void check_timeouts(struct client *cl, uint64_t now)
{
    uint64_t limit = (uint64_t)(cl->o->timeout_sec * 1e9);
    for (uint32_t i = 0; i < cl->nconns && !cl->errors; i++) {
        struct cli_conn *c = &cl->conns[i];
        const struct cli_msg *m = c->nmsg ? msg_at(cl, c, 0) : NULL;
        if (c->connect_pending && now - cl->t_phase > limit)
            cli_fail(cl, c, "connect timed out after %.1f s", cl->o->timeout_sec);
        else if (m && now - m->t_sent > limit)
            cli_fail(cl, c, "timed out after %.1f s with %" PRIu64 " of %zu bytes echoed%s", cl->o->timeout_sec,
                     m->received, cl->o->size, cl->udp ? " (datagram lost?)" : "");
    }
}

/* --duration: once it passed, no connection starts another message and the
 * phase ends when the messages out are back. */
static void check_duration(struct client *cl, uint64_t now)
{
    if (cl->phase != PH_MEASURE || cl->stopping || cl->o->duration_sec <= 0 ||
        (double)(now - cl->t_measure) < cl->o->duration_sec * 1e9)
        return;
    cl->stopping = true;
    for (uint32_t i = 0; i < cl->nconns && cl->phase == PH_MEASURE; i++)
        conn_check_ready(cl, &cl->conns[i]);
}

/* --rate: starts the messages that fell due since the last call, on their
 * connections. Returns the time the next one is due (UINT64_MAX: none). */
static uint64_t release_due(struct client *cl, uint64_t now)
{
    if (cl->ns_per_msg <= 0 || cl->phase != PH_MEASURE || cl->stopping)
        return UINT64_MAX;
    uint64_t total = cl->o->count;
    uint64_t due = (uint64_t)((double)(now - cl->t_measure) / cl->ns_per_msg) + 1;
    if (due > total)
        due = total;
    if (due > cl->released) {
        uint64_t from = cl->released;
        cl->released = due;
        if (due - from >= cl->nconns) {
            for (uint32_t i = 0; i < cl->nconns; i++)
                conn_fill(cl, &cl->conns[i]);
        } else {
            for (uint64_t k = from; k < due; k++)
                conn_fill(cl, &cl->conns[k % cl->nconns]);
        }
    }
    if (cl->released >= total)
        return UINT64_MAX;
    return cl->t_measure + (uint64_t)((double)cl->released * cl->ns_per_msg);
}

/* Runs the event loop until every message is back or the run fails. */
static void client_loop(struct client *cl, demi_qresult_t *qrs)
{
    uint64_t last_check = echo_now_ns();
    uint64_t max_wait = (uint64_t)(cl->o->timeout_sec * 1e9);
    if (max_wait > CLI_WAIT_NS)
        max_wait = CLI_WAIT_NS;
    while (!cl->errors && cl->phase != PH_DONE) {
        uint64_t wait_ns = max_wait;
        if (cl->ns_per_msg > 0) {  /* --rate: send what fell due, sleep until the next is due */
            uint64_t t = echo_now_ns();
            uint64_t next_due = release_due(cl, t);
            if (next_due != UINT64_MAX)
                wait_ns = next_due <= t ? 0 : next_due - t < wait_ns ? next_due - t : wait_ns;
        }
        struct timespec tick = {(time_t)(wait_ns / 1000000000ull), (long)(wait_ns % 1000000000ull)};
        int n = 0;
        int rc = demi_wait_next_n(qrs, CLI_BATCH, &n, &tick);
        if (rc != 0 && rc != ETIMEDOUT && rc != EINTR) {
            cli_fail(cl, NULL, "demi_wait_next_n: %s", strerror(rc));
            return;
        }
        for (int i = 0; i < n; i++)
            dispatch(cl, &qrs[i]);
        uint64_t now = echo_now_ns();
        if (cl->phase == PH_MEASURE) {
            check_duration(cl, now);
            echo_progress_tick(&cl->progress, now, cl->hist.n);
        }
        if (n == 0 || now - last_check >= CLI_TIMEOUT_CHECK_NS) {
            last_check = now;
            check_timeouts(cl, now);
        }
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

/* Sets up every connection's quota and rings and opens its queue. Returns 0
 * or ENOMEM (reported); an open failure is recorded in cl->errors. */
static int client_open(struct client *cl)
{
    const struct echo_opts *o = cl->o;
    cl->conns = calloc(cl->nconns, sizeof(*cl->conns));
    if (!cl->conns) {
        cli_fail(cl, NULL, "out of memory for %u connections", cl->nconns);
        return ENOMEM;
    }
    for (uint32_t i = 0; i < cl->nconns; i++) {
        struct cli_conn *c = &cl->conns[i];
        c->id = i;
        c->qd = -1;
        c->quota = o->count == ECHO_COUNT_UNLIMITED ? ECHO_COUNT_UNLIMITED
                                                    : o->count / cl->nconns + (i < o->count % cl->nconns);
        c->warm_quota = o->warmup / cl->nconns + (i < o->warmup % cl->nconns);
        c->msg = calloc(cl->depth, sizeof(*c->msg));
        c->push = calloc(cl->depth, sizeof(*c->push));
        if (!c->msg || !c->push) {
            cli_fail(cl, NULL, "out of memory for %u connections with %u messages out each", cl->nconns,
                     cl->depth);
            return ENOMEM;
        }
    }
    cl->phase = PH_CONNECT;
    cl->t_phase = echo_now_ns();
    for (uint32_t i = 0; i < cl->nconns && !cl->errors; i++) {
        if (!conn_open(cl, &cl->conns[i]))
            break;
        conn_check_ready(cl, &cl->conns[i]);  /* UDP: ready at once */
    }
    return 0;
}

/* Closes every queue, frees pending push sgas, and drops the completions
 * that closing made. */
static void client_close(struct client *cl, demi_qresult_t *qrs)
{
    for (uint32_t i = 0; cl->conns && i < cl->nconns; i++) {
        struct cli_conn *c = &cl->conns[i];
        for (uint32_t k = 0; c->push && k < cl->depth; k++)
            if (c->push[k].pending)
                echo_sga_release(&c->push[k].sga);
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
        .count = cl->hist.n,
        .conns = cl->nconns,
        .pipeline = cl->depth,
        .rate = cl->o->rate,
        .hist = &cl->hist,
        .errors = cl->errors,
        .max_rss_kib = echo_max_rss_kib(),
    };
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
    struct client *cl = calloc(1, sizeof(*cl));
    demi_qresult_t *qrs = calloc(CLI_BATCH, sizeof(*qrs));
    if (!cl || !qrs) {
        echo_perror("calloc", ENOMEM);
        free(cl);
        free(qrs);
        return 1;
    }
    cl->o = o;
    cl->udp = o->proto == ECHO_PROTO_UDP;
    cl->nconns = o->conns;
    cl->depth = o->pipeline;
    cl->ns_per_msg = o->rate > 0 ? 1e9 / o->rate : 0;
    if (o->rate > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  /* wake for a due message on time, not 50 us late */
    echo_hist_init(&cl->hist);
    echo_progress_start(&cl->progress, ECHO_PROGRESS_OFF, 0);
    int rc = demi_init(NULL);
    if (rc != 0) {
        echo_perror("demi_init", rc);
        free(qrs);
        free(cl);
        return 1;
    }
    if (client_open(cl) == 0 && !cl->errors)
        client_loop(cl, qrs);
    client_close(cl, qrs);
    int report_rc = client_report(cl);
    demi_fini();
    int exit_code = cl->errors || report_rc ? 1 : 0;
    echo_qdmap_free(&cl->map);
    for (uint32_t i = 0; cl->conns && i < cl->nconns; i++) {
        free(cl->conns[i].msg);
        free(cl->conns[i].push);
    }
    free(cl->conns);
    free(cl);
    free(qrs);
    return exit_code;
}
