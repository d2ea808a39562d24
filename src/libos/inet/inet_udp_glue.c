/*
 * UDP queues of the inet libOS over udp.h: a push is one datagram, sent at
 * once (or queued by ARP) and completed at once; a pop takes one datagram
 * with its sender, at once or when the stack's callback says one arrived.
 */
#include <errno.h>
#include <string.h>

#include "inet/udp.h"
#include "inet_libos.h"

/* Completes pending pops while datagrams are queued. */
static void udp_drain_pops(struct inet_queue *iq)
{
    struct demi_op *op;

    while ((op = TAILQ_FIRST(&iq->pops)) != NULL) {
        struct sockaddr_in from = {.sin_family = AF_INET};
        struct buf *b;
        if (udp_recv(iq->udp, &b, &from.sin_addr.s_addr, &from.sin_port) < 0)
            break;
        TAILQ_REMOVE(&iq->pops, op, lentry);
        op_complete_pop(op, &b, 1, &from);
        inet_count_completion();
    }
}

static void udp_event(void *user, struct udp_sock *u)
{
    udp_drain_pops(user);
}

int inet_udp_socket(struct inet_queue *iq)
{
    return udp_open(inet_libos.stack, &iq->udp, udp_event, iq);
}

int inet_udp_bind(struct inet_queue *iq, const struct sockaddr_in *addr)
{
    return udp_bind(iq->udp, addr->sin_addr.s_addr, addr->sin_port);
}

/* Sets the default peer and completes at once. Returns 0 or EADDRNOTAVAIL. */
int inet_udp_connect(struct inet_queue *iq, struct demi_op *op)
{
    int err = udp_connect(iq->udp, op->addr.sin_addr.s_addr, op->addr.sin_port);

    if (err)
        return err;
    iq->connected = op->addr.sin_addr.s_addr != 0;
    op_complete_connect(op);
    inet_count_completion();
    return 0;
}

/* Returns EDESTADDRREQ (no address, not connected), EMSGSIZE (over the
 * MTU), EINVAL (port 0) without starting; a failure to send (EHOSTUNREACH,
 * ENOBUFS, ENOMEM) fails the op. */
int inet_udp_push(struct inet_queue *iq, struct demi_op *op)
{
    struct buf *bufs[DEMI_SGARRAY_MAXSIZE];
    uint32_t ip = 0, rip;
    uint16_t port = 0, rport;
    int err;

    udp_getname(iq->udp, NULL, NULL, &rip, &rport);
    if (op->has_addr) {
        ip = op->addr.sin_addr.s_addr;
        port = op->addr.sin_port;
        if (ip == 0 || port == 0)
            return EINVAL;
    } else if (rip == 0) {
        return EDESTADDRREQ;
    }
    if (op->total_len > udp_max_payload(inet_libos.stack))
        return EMSGSIZE;
    for (uint32_t i = 0; i < op->nbufs; i++)
        bufs[i] = buf_ref(op->bufs[i]);
    err = udp_sendto(iq->udp, bufs, op->nbufs, ip, port);
    if (err)
        op_fail(op, err);
    else
        op_complete_push(op);
    inet_count_completion();
    if (inet_tx_pending(inet_libos.stack) >= INET_TX_BATCH)
        inet_libos_flush_tx();      /* a burst of pushes without a wait: send in batches now */
    return 0;
}

int inet_udp_pop(struct inet_queue *iq, struct demi_op *op)
{
    TAILQ_INSERT_TAIL(&iq->pops, op, lentry);
    udp_drain_pops(iq);
    return 0;
}

void inet_udp_close(struct inet_queue *iq)
{
    inet_fail_all(&iq->pops, ECANCELED);
    udp_close(iq->udp);
    iq->udp = NULL;
}

int inet_udp_getname(struct inet_queue *iq, struct sockaddr_in *out, bool peer)
{
    uint32_t lip, rip;
    uint16_t lport, rport;

    udp_getname(iq->udp, &lip, &lport, &rip, &rport);
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    if (peer) {
        if (rip == 0)
            return ENOTCONN;
        out->sin_addr.s_addr = rip;
        out->sin_port = rport;
    } else {
        out->sin_addr.s_addr = lip;
        out->sin_port = lport;
    }
    return 0;
}
