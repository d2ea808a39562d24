/*
 * The inet libOS's accept path (src/libos/inet/inet_tcp_glue.c) over the sim
 * wire: stack 0 is the libOS's stack (inet_libos.stack), stack 1 a plain
 * tcp.h client. Checks that
 *   - pending accepts with no connection ready allocate nothing: queue
 *     descriptors are handed out in FIFO order, so a queue allocated and
 *     freed per poll would show as a jump in the next qd;
 *   - a ready connection completes the oldest pending accept with a new,
 *     connected queue and the peer's address;
 *   - when no queue can be allocated for a ready connection (DEMI_MAX_QUEUES
 *     reached), the accept fails with EMFILE and the connection stays on
 *     the listener's queue: the next accept gets it, nothing is lost.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/op.h"
#include "core/queue.h"
#include "core/runtime.h"
#include "harness.h"
#include "inet/tcp/tcp.h"
#include "libos/inet/inet_libos.h"

#define PORT 8080

struct client {
    struct tcp_conn *c;
    int connected;
};

static void client_event(void *user, struct tcp_conn *c, enum tcp_event ev, int err)
{
    (void)c;
    (void)err;
    struct client *cli = user;
    if (ev == TCP_EV_CONNECTED)
        cli->connected = 1;
}

static void client_connect(struct harness *h, struct client *cli)
{
    assert_int_equal(tcp_open(harness_stack(h, 1), &cli->c, client_event, cli), 0);
    assert_int_equal(tcp_connect(cli->c, harness_ip(0), htons(PORT)), 0);
}

static int op_done(void *arg)
{
    return ((struct demi_op *)arg)->state == OP_DONE;
}

static int client_connected(void *arg)
{
    return ((struct client *)arg)->connected;
}

static struct demi_op *start_accept(struct demi_queue *l)
{
    struct demi_op *op = op_alloc(l, DEMI_OPC_ACCEPT);
    assert_non_null(op);
    assert_int_equal(inet_libos_accept(l, op), 0);
    return op;
}

/* Takes a finished op's result (the op is freed). */
static demi_qresult_t finish(struct demi_op *op)
{
    demi_qresult_t qr;
    assert_int_equal(op->state, OP_DONE);
    op_consume(op, &qr);
    return qr;
}

static void close_queue(struct demi_queue *q)
{
    inet_libos_close(q);
    queue_free(q);
}

static void test_accept_path(void **state)
{
    (void)state;
    struct harness *h = harness_new(2, 15, NULL, NULL);
    inet_libos.stack = harness_stack(h, 0);
    TAILQ_INIT(&inet_libos.queues);

    struct demi_queue *l = queue_alloc(QK_TCP);
    assert_non_null(l);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr.s_addr = harness_ip(0)};
    assert_int_equal(inet_libos_socket(l, AF_INET, SOCK_STREAM, 0), 0);
    assert_int_equal(inet_libos_bind(l, &addr), 0);
    assert_int_equal(inet_libos_listen(l, 16), 0);

    /* three accepts, each polled on arrival, then time passes: nothing ready */
    struct demi_op *a[3];
    for (int i = 0; i < 3; i++)
        a[i] = start_accept(l);
    harness_run_for(h, 200 * NS_PER_MS);
    for (int i = 0; i < 3; i++)
        assert_int_equal(a[i]->state, OP_PENDING);
    struct demi_queue *probe = queue_alloc(QK_UDP);
    assert_non_null(probe);
    assert_int_equal(probe->qd, l->qd + 1);  /* no queue was allocated and freed meanwhile */
    queue_free(probe);

    /* a connection: the oldest accept completes with a connected queue */
    struct client c1 = {0};
    client_connect(h, &c1);
    assert_int_equal(harness_run_until(h, op_done, a[0], 5 * NS_PER_SEC), 0);
    demi_qresult_t qr = finish(a[0]);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    struct demi_queue *q1 = queue_get(qr.qr_value.ares.qd);
    assert_non_null(q1);
    struct inet_queue *iq1 = q1->priv;
    assert_true(iq1->connected);
    uint16_t c1_port;
    tcp_getname(c1.c, NULL, &c1_port, NULL, NULL);
    const struct sockaddr_in *peer = &qr.qr_value.ares.addr;
    assert_int_equal(peer->sin_port, c1_port);
    assert_int_equal(peer->sin_addr.s_addr, harness_ip(1));
    assert_int_equal(a[1]->state, OP_PENDING);

    /* no qd left for the next connection: the accept fails, the connection stays */
    uint64_t max_queues = runtime_cfg.max_queues;
    runtime_cfg.max_queues = 64;  /* the table's first size: no growth */
    struct demi_queue *fill[64];
    int nfill = 0;
    while (nfill < 64 && (fill[nfill] = queue_alloc(QK_UDP)) != NULL)
        nfill++;
    assert_true(nfill < 64);
    struct client c2 = {0};
    client_connect(h, &c2);
    assert_int_equal(harness_run_until(h, client_connected, &c2, 5 * NS_PER_SEC), 0);
    assert_int_equal(harness_run_until(h, op_done, a[1], 5 * NS_PER_SEC), 0);
    qr = finish(a[1]);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_FAILED);
    assert_int_equal(qr.qr_ret, EMFILE);
    assert_int_equal(a[2]->state, OP_DONE);  /* every pending accept fails alike */
    qr = finish(a[2]);
    assert_int_equal(qr.qr_ret, EMFILE);
    assert_int_equal(tcp_accept_ready(((struct inet_queue *)l->priv)->tcp), 1);

    /* a qd is free again: the next accept gets the same connection */
    queue_free(fill[--nfill]);
    struct demi_op *b = start_accept(l);
    assert_int_equal(harness_run_until(h, op_done, b, 5 * NS_PER_SEC), 0);
    qr = finish(b);
    assert_int_equal(qr.qr_opcode, DEMI_OPC_ACCEPT);
    uint16_t c2_port;
    tcp_getname(c2.c, NULL, &c2_port, NULL, NULL);
    peer = &qr.qr_value.ares.addr;
    assert_int_equal(peer->sin_port, c2_port);
    struct demi_queue *q2 = queue_get(qr.qr_value.ares.qd);
    assert_non_null(q2);
    assert_int_equal(tcp_accept_ready(((struct inet_queue *)l->priv)->tcp), 0);

    /* clean up: the queues, the clients, the wire; every buffer back */
    while (nfill > 0)
        queue_free(fill[--nfill]);
    runtime_cfg.max_queues = max_queues;
    close_queue(q2);
    close_queue(q1);
    close_queue(l);
    tcp_abort(c1.c);
    tcp_abort(c2.c);
    harness_run_for(h, 100 * NS_PER_MS);
    inet_libos.stack = NULL;
    harness_free(h);
    harness_assert_no_leaks();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_path),
    };
    return cmocka_run_group_tests_name("inet libOS accept", tests, NULL, NULL);
}
