/*
 * libdemi echo clients for the integration tests, every connection of a
 * run driven concurrently through one demi_wait_any token set.
 *
 * TCP, per connection: connect -> for each message of the plan: sgaalloc,
 * fill, push, sgafree right away, then pop until the whole message is back,
 * checking every byte (a message comes back in several pops) -> close.
 * UDP, per socket: bind, then for each message: pushto the server and pop
 * until its echo arrives, sending again after a timeout (UDP may drop).
 */
#include "it_demi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CLI_WAIT_MS 50
#define UDP_RESEND_NS (300ull * 1000000ull)
#define UDP_MAX_SENDS 20u

struct dc_conn {
    int qd;
    bool done;
    bool push_done;
    bool pop_pending;
    uint32_t msg;       /* index into the plan */
    size_t recvd;       /* bytes of the message received and checked */
    uint32_t pops;      /* pops the message needed so far */
    uint32_t sends;     /* UDP: times the message was sent */
    uint64_t sent_at;   /* UDP: when it was last sent */
};

struct dc_run {
    struct dc_conn *conns;
    uint32_t n;
    const struct it_plan *plan;
    struct it_tokset t;
    struct sockaddr_in srv;
    struct it_result *r;
    uint32_t left;
};

static const struct timespec dc_wait_ts = {.tv_sec = 0, .tv_nsec = CLI_WAIT_MS * 1000000L};

/* Starts a pop on connection i. Returns 0 or an errno (recorded). */
static int dc_pop(struct dc_run *d, uint32_t i)
{
    demi_qtoken_t qt;
    int rc = demi_pop(&qt, d->conns[i].qd);
    if (rc == 0)
        rc = it_tokset_add(&d->t, qt, i, DEMI_OPC_POP);
    if (rc != 0)
        it_fail(d->r, rc, "demi client conn %u: demi_pop: %s", i, strerror(rc));
    else
        d->conns[i].pop_pending = true;
    return rc;
}

/* Pushes (TCP) or pushes to the server (UDP) message c->msg of connection i
 * from a fresh sga, which is freed as soon as the push has started.
 * Returns 0 or an errno (recorded). */
static int dc_push_msg(struct dc_run *d, uint32_t i, bool udp)
{
    struct dc_conn *c = &d->conns[i];
    size_t size = d->plan->sizes[c->msg];
    demi_sgarray_t sga = demi_sgaalloc(size);
    if (sga.sga_buf == NULL || sga.sga_numsegs == 0 || it_sga_len(&sga) != size) {
        int err = errno != 0 ? errno : EIO;
        it_fail(d->r, err, "demi client conn %u: demi_sgaalloc(%zu): %s (%u segs, %zu bytes)", i, size, strerror(err),
                sga.sga_numsegs, it_sga_len(&sga));
        if (sga.sga_buf != NULL)
            demi_sgafree(&sga);
        return err;
    }
    uint64_t off = 0;
    for (uint32_t s = 0; s < sga.sga_numsegs; s++) {
        it_fill(sga.sga_segs[s].sgaseg_buf, sga.sga_segs[s].sgaseg_len, it_seed(i, c->msg), off);
        off += sga.sga_segs[s].sgaseg_len;
    }
    demi_qtoken_t qt;
    int rc = udp ? demi_pushto(&qt, c->qd, &sga, (const struct sockaddr *)&d->srv, sizeof(d->srv))
                 : demi_push(&qt, c->qd, &sga);
    int frc = demi_sgafree(&sga);
    if (rc == 0)
        rc = it_tokset_add(&d->t, qt, i, DEMI_OPC_PUSH);
    if (rc != 0) {
        it_fail(d->r, rc, "demi client conn %u: %s: %s", i, udp ? "demi_pushto" : "demi_push", strerror(rc));
        return rc;
    }
    if (frc != 0) {
        it_fail(d->r, frc, "demi client conn %u: demi_sgafree after push: %s", i, strerror(frc));
        return frc;
    }
    if (udp && c->sends > 0)
        d->r->resends++;
    c->sends++;
    c->sent_at = it_now_ns();
    return 0;
}

/* Starts message c->msg of TCP connection i, or closes it after the last one. */
static void dc_tcp_next(struct dc_run *d, uint32_t i)
{
    struct dc_conn *c = &d->conns[i];
    if (c->msg == d->plan->n_msgs) {
        int rc = demi_close(c->qd);
        if (rc != 0)
            it_fail(d->r, rc, "demi client conn %u: demi_close: %s", i, strerror(rc));
        c->qd = -1;
        c->done = true;
        d->left--;
        d->r->conns_ok++;
        return;
    }
    c->recvd = 0;
    c->pops = 0;
    c->push_done = false;
    if (dc_push_msg(d, i, false) == 0)
        dc_pop(d, i);
}

/* Handles a completed pop of TCP connection i. */
static void dc_tcp_popped(struct dc_run *d, uint32_t i, demi_sgarray_t *sga)
{
    struct dc_conn *c = &d->conns[i];
    size_t size = d->plan->sizes[c->msg];
    size_t len = it_sga_len(sga);
    c->pop_pending = false;
    c->pops++;
    if (len == 0) {
        it_fail(d->r, EPIPE, "demi client conn %u msg %u: zero-length pop after %zu of %zu bytes", i, c->msg, c->recvd,
                size);
    } else if (len > size - c->recvd) {
        it_fail(d->r, EBADMSG, "demi client conn %u msg %u: %zu bytes popped, only %zu expected", i, c->msg, len,
                size - c->recvd);
    } else {
        ptrdiff_t bad = it_sga_check(sga, it_seed(i, c->msg), c->recvd);
        if (bad >= 0)
            it_fail(d->r, EBADMSG, "demi client conn %u msg %u: byte %zu differs", i, c->msg, c->recvd + (size_t)bad);
        c->recvd += len;
        d->r->bytes_verified += len;
    }
    int rc = demi_sgafree(sga);
    if (rc != 0)
        it_fail(d->r, rc, "demi client conn %u: demi_sgafree of a popped sga: %s", i, strerror(rc));
    if (d->r->err != 0)
        return;
    if (c->recvd < size) {
        dc_pop(d, i);
        return;
    }
    if (c->pops > d->r->max_pops)
        d->r->max_pops = c->pops;
    if (c->push_done) {
        c->msg++;
        dc_tcp_next(d, i);
    }
}

/* Handles one TCP completion for entry kind of connection i. */
static void dc_tcp_completion(struct dc_run *d, uint32_t i, demi_opcode_t kind, demi_qresult_t *qr)
{
    struct dc_conn *c = &d->conns[i];
    if (qr->qr_opcode == DEMI_OPC_FAILED || qr->qr_opcode != kind) {
        it_fail(d->r, qr->qr_opcode == DEMI_OPC_FAILED ? (int)qr->qr_ret : EIO,
                "demi client conn %u msg %u: op kind %d completed with opcode %d, ret %lld (%s)", i, c->msg, kind,
                qr->qr_opcode, (long long)qr->qr_ret, strerror((int)qr->qr_ret));
        return;
    }
    if (kind == DEMI_OPC_CONNECT) {
        dc_tcp_next(d, i);
    } else if (kind == DEMI_OPC_PUSH) {
        c->push_done = true;
        if (c->recvd == d->plan->sizes[c->msg]) {
            c->msg++;
            dc_tcp_next(d, i);
        }
    } else {
        dc_tcp_popped(d, i, &qr->qr_value.sga);
    }
}

/* Handles a completed pop of UDP socket i: the echo of the current message,
 * a late duplicate of an earlier one (ignored) or an error. */
static void dc_udp_popped(struct dc_run *d, uint32_t i, demi_sgarray_t *sga)
{
    struct dc_conn *c = &d->conns[i];
    size_t len = it_sga_len(sga);
    size_t size = d->plan->sizes[c->msg];
    c->pop_pending = false;
    if (sga->sga_addr.sin_port != d->srv.sin_port || sga->sga_addr.sin_addr.s_addr != d->srv.sin_addr.s_addr) {
        it_fail(d->r, EBADMSG, "demi client sock %u: datagram from port %u, not the server's %u", i,
                ntohs(sga->sga_addr.sin_port), ntohs(d->srv.sin_port));
    } else if (len == size && it_sga_check(sga, it_seed(i, c->msg), 0) < 0) {
        d->r->bytes_verified += len;
        c->msg++;
        c->sends = 0;
        if (c->msg == d->plan->n_msgs) {
            c->done = true;
            d->left--;
            d->r->conns_ok++;
        }
    } else {
        bool stale = false;
        for (uint32_t m = 0; m < c->msg && !stale; m++)
            stale = len == d->plan->sizes[m] && it_sga_check(sga, it_seed(i, m), 0) < 0;
        if (!stale)
            it_fail(d->r, EBADMSG, "demi client sock %u msg %u: got %zu bytes that are not the echo of %zu", i, c->msg,
                    len, size);
    }
    int rc = demi_sgafree(sga);
    if (rc != 0)
        it_fail(d->r, rc, "demi client sock %u: demi_sgafree of a popped sga: %s", i, strerror(rc));
}

/* Waits for the next completion and dispatches it. Returns 0, or -1 when
 * the run must stop (error recorded). */
static int dc_step(struct dc_run *d, bool udp)
{
    demi_qresult_t qr;
    int idx = -1;
    if (d->t.n == 0) {
        it_fail(d->r, EIO, "demi client: nothing pending but %u connections unfinished", d->left);
        return -1;
    }
    int rc = demi_wait_any(&qr, &idx, d->t.qts, d->t.n, &dc_wait_ts);
    if (rc == ETIMEDOUT)
        return 0;
    if (rc != 0 || idx < 0 || idx >= d->t.n) {
        it_fail(d->r, rc != 0 ? rc : EIO, "demi client: demi_wait_any: %s (offset %d of %d)", strerror(rc), idx,
                d->t.n);
        return -1;
    }
    uint32_t i = d->t.owner[idx];
    demi_opcode_t kind = (demi_opcode_t)d->t.kind[idx];
    if (qr.qr_qt != d->t.qts[idx] || qr.qr_qd != d->conns[i].qd) {
        it_fail(d->r, EIO, "demi client: wait_any offset %d gave qt %#llx qd %d, expected qt %#llx qd %d", idx,
                (unsigned long long)qr.qr_qt, qr.qr_qd, (unsigned long long)d->t.qts[idx], d->conns[i].qd);
        return -1;
    }
    it_tokset_del(&d->t, idx);
    if (!udp) {
        dc_tcp_completion(d, i, kind, &qr);
    } else if (qr.qr_opcode == DEMI_OPC_POP && kind == DEMI_OPC_POP) {
        dc_udp_popped(d, i, &qr.qr_value.sga);
    } else if (qr.qr_opcode != kind) {
        it_fail(d->r, qr.qr_opcode == DEMI_OPC_FAILED ? (int)qr.qr_ret : EIO,
                "demi client sock %u: op kind %d completed with opcode %d, ret %lld", i, kind, qr.qr_opcode,
                (long long)qr.qr_ret);
    }
    return d->r->err == 0 ? 0 : -1;
}

/* Opens the run's queues; connects (TCP) or binds (UDP) each. Returns 0 or -1. */
static int dc_open(struct dc_run *d, bool udp)
{
    for (uint32_t i = 0; i < d->n; i++) {
        struct dc_conn *c = &d->conns[i];
        struct sockaddr_in local = it_loopback(0);
        int rc = demi_socket(&c->qd, AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
        if (rc != 0) {
            c->qd = -1;
            it_fail(d->r, rc, "demi client: demi_socket %u: %s", i, strerror(rc));
            return -1;
        }
        if (udp) {
            rc = demi_bind(c->qd, (struct sockaddr *)&local, sizeof(local));
            if (rc != 0) {
                it_fail(d->r, rc, "demi client: demi_bind %u: %s", i, strerror(rc));
                return -1;
            }
            if (dc_push_msg(d, i, true) != 0)
                return -1;
            continue;
        }
        demi_qtoken_t qt;
        rc = demi_connect(&qt, c->qd, (struct sockaddr *)&d->srv, sizeof(d->srv));
        if (rc == 0)
            rc = it_tokset_add(&d->t, qt, i, DEMI_OPC_CONNECT);
        if (rc != 0) {
            it_fail(d->r, rc, "demi client: demi_connect %u: %s", i, strerror(rc));
            return -1;
        }
    }
    return 0;
}

/* UDP: keeps a pop pending on every unfinished socket and sends the current
 * message again (or the next one) when its echo is overdue. */
static void dc_udp_tick(struct dc_run *d)
{
    uint64_t now = it_now_ns();
    for (uint32_t i = 0; i < d->n && d->r->err == 0; i++) {
        struct dc_conn *c = &d->conns[i];
        if (c->done)
            continue;
        if (!c->pop_pending && dc_pop(d, i) != 0)
            return;
        if (c->sends == 0 || now - c->sent_at >= UDP_RESEND_NS) {
            if (c->sends == UDP_MAX_SENDS) {
                it_fail(d->r, ETIMEDOUT, "demi client sock %u msg %u: no echo after %u sends", i, c->msg, c->sends);
                return;
            }
            dc_push_msg(d, i, true);
        }
    }
}

static void dc_run(uint16_t port, uint32_t n, const struct it_plan *plan, uint64_t deadline_ns,
                   struct it_result *r, bool udp)
{
    struct dc_run d = {.n = n, .plan = plan, .srv = it_loopback(port), .r = r, .left = n};
    d.conns = calloc(n, sizeof(*d.conns));
    if (d.conns == NULL) {
        it_fail(r, ENOMEM, "demi client: out of memory");
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        d.conns[i].qd = -1;
    if (dc_open(&d, udp) != 0)
        goto out;
    while (d.left > 0) {
        if (udp)
            dc_udp_tick(&d);
        if (r->err != 0 || dc_step(&d, udp) != 0)
            break;
        if (it_now_ns() >= deadline_ns) {
            it_fail(r, ETIMEDOUT, "demi client: deadline passed with %u of %u connections unfinished", d.left, n);
            break;
        }
    }
out:
    /* Closing a queue fails its pending operations; nothing is left to wait for. */
    for (uint32_t i = 0; i < n; i++) {
        if (d.conns[i].qd >= 0)
            demi_close(d.conns[i].qd);
    }
    it_tokset_free(&d.t);
    free(d.conns);
}

void it_demi_tcp_client(uint16_t port, uint32_t n_conns, const struct it_plan *plan, uint64_t deadline_ns,
                        struct it_result *r)
{
    dc_run(port, n_conns, plan, deadline_ns, r, false);
}

void it_demi_udp_client(uint16_t port, uint32_t n_socks, const struct it_plan *plan, uint64_t deadline_ns,
                        struct it_result *r)
{
    dc_run(port, n_socks, plan, deadline_ns, r, true);
}
