/*
 * TCP part of the demi-echo server. Per connection: one pop pending; each
 * popped sga is pushed back as is (zero-copy) and freed when that push
 * completes. With SRV_TCP_MAX_PUSHES pushes pending the connection is not
 * popped until one completes. A zero-length pop (peer closed) closes the
 * queue once its pushes have drained; an error closes that connection only.
 */
#include <demi/libos.h>
#include <demi/sga.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "echo_server.h"

/* Closes c's queue, frees its pending push sgas and c. Their completions
 * (failed by demi_close) no longer match any connection and are dropped. */
static void conn_close(struct server *s, struct srv_conn *c)
{
    for (uint32_t i = 0; i < c->npush; i++)
        echo_sga_release(&c->push[i].sga);
    int rc = demi_close(c->qd);
    if (rc != 0)
        srv_log_error(s, "demi_close(qd %d): %s", c->qd, strerror(rc));
    echo_qdmap_set(&s->conns, c->qd, NULL);
    s->nconns--;
    s->stats.closed++;
    free(c);
}

/* Starts a pop on c unless one is pending, the peer closed, or too many
 * pushes are pending. Returns false when the pop failed and c was closed. */
static bool conn_arm_pop(struct server *s, struct srv_conn *c)
{
    if (c->pop_pending || c->eof || c->npush >= SRV_TCP_MAX_PUSHES)
        return true;
    int rc = demi_pop(&c->pop_qt, c->qd);
    if (rc != 0) {
        srv_log_error(s, "demi_pop(qd %d): %s", c->qd, strerror(rc));
        conn_close(s, c);
        return false;
    }
    c->pop_pending = true;
    return true;
}

void srv_tcp_arm_accept(struct server *s)
{
    if (s->lqd < 0 || s->accept_pending)
        return;
    int rc = demi_accept(&s->accept_qt, s->lqd);
    if (rc != 0) {
        srv_log_error(s, "demi_accept(qd %d): %s", s->lqd, strerror(rc));
        return;  /* tried again on the next turn of the loop */
    }
    s->accept_pending = true;
}

static void on_accept(struct server *s, demi_qresult_t *qr)
{
    s->accept_pending = false;
    if (qr->qr_opcode != DEMI_OPC_ACCEPT) {
        srv_log_error(s, "accept failed: %s", strerror((int)qr->qr_ret));
        return;
    }
    int qd = qr->qr_value.ares.qd;
    struct srv_conn *c = calloc(1, sizeof(*c));
    if (!c || echo_qdmap_set(&s->conns, qd, c) != 0) {
        free(c);
        srv_log_error(s, "accept: out of memory, dropping the connection");
        demi_close(qd);
        return;
    }
    c->qd = qd;
    s->nconns++;
    s->stats.accepted++;
    int one = 1;
    demi_setsockopt(qd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  /* best effort */
    conn_arm_pop(s, c);
}

static void on_pop(struct server *s, struct srv_conn *c, demi_qresult_t *qr)
{
    c->pop_pending = false;
    if (qr->qr_opcode != DEMI_OPC_POP) {
        if (qr->qr_ret != ECONNRESET)
            srv_log_error(s, "pop on qd %d failed: %s", c->qd, strerror((int)qr->qr_ret));
        conn_close(s, c);
        return;
    }
    demi_sgarray_t *sga = &qr->qr_value.sga;
    if (echo_sga_len(sga) == 0) {
        echo_sga_release(sga);
        c->eof = true;
        if (c->npush == 0)
            conn_close(s, c);
        return;
    }
    struct srv_push *p = &c->push[c->npush];
    int rc = demi_push(&p->qt, c->qd, sga);
    if (rc != 0) {
        srv_log_error(s, "demi_push(qd %d): %s", c->qd, strerror(rc));
        echo_sga_release(sga);
        conn_close(s, c);
        return;
    }
    p->sga = *sga;
    c->npush++;
    conn_arm_pop(s, c);
}

static void on_push(struct server *s, struct srv_conn *c, uint32_t i, demi_qresult_t *qr)
{
    uint64_t len = echo_sga_len(&c->push[i].sga);
    echo_sga_release(&c->push[i].sga);
    c->push[i] = c->push[--c->npush];
    if (qr->qr_opcode != DEMI_OPC_PUSH) {
        if (qr->qr_ret != ECONNRESET && qr->qr_ret != EPIPE)
            srv_log_error(s, "push on qd %d failed: %s", c->qd, strerror((int)qr->qr_ret));
        conn_close(s, c);
        return;
    }
    s->stats.tcp_bytes += len;
    if (c->eof && c->npush == 0) {
        conn_close(s, c);
        return;
    }
    conn_arm_pop(s, c);
}

bool srv_tcp_complete(struct server *s, demi_qresult_t *qr)
{
    if (s->lqd >= 0 && qr->qr_qd == s->lqd) {
        if (s->accept_pending && qr->qr_qt == s->accept_qt)
            on_accept(s, qr);
        return true;
    }
    struct srv_conn *c = echo_qdmap_get(&s->conns, qr->qr_qd);
    if (c && c->pop_pending && qr->qr_qt == c->pop_qt) {
        on_pop(s, c, qr);
        return true;
    }
    for (uint32_t i = 0; c && i < c->npush; i++) {
        if (c->push[i].qt == qr->qr_qt) {
            on_push(s, c, i, qr);
            return true;
        }
    }
    return false;
}

static void close_one(struct server *s, int qd)
{
    struct srv_conn *c = echo_qdmap_get(&s->conns, qd);
    if (c)
        conn_close(s, c);
}

void srv_tcp_shutdown(struct server *s)
{
    for (size_t qd = 0; qd < s->conns.cap && s->nconns > 0; qd++)
        close_one(s, (int)qd);
    echo_qdmap_free(&s->conns);
    if (s->lqd >= 0) {
        int rc = demi_close(s->lqd);
        if (rc != 0)
            echo_perror("demi_close(listener)", rc);
        s->lqd = -1;
        s->accept_pending = false;
    }
}
