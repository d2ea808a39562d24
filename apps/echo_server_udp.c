/*
 * UDP part of the demi-echo server: pop a datagram, pushto it back to its
 * sender (sga_addr) as is, free the sga when the pushto completes. Up to
 * SRV_UDP_POPS pops stay pending; fewer while SRV_UDP_MAX_PUSHES pushtos are
 * outstanding, which bounds memory. An error drops that datagram only.
 */
#include <demi/libos.h>
#include <string.h>

#include "echo_server.h"

void srv_udp_arm(struct server *s)
{
    struct srv_udp *u = &s->udp;
    while (u->qd >= 0 && u->npop < SRV_UDP_POPS && u->npop + u->npush < SRV_UDP_MAX_PUSHES) {
        int rc = demi_pop(&u->pop_qt[u->npop], u->qd);
        if (rc != 0) {
            srv_log_error(s, "demi_pop(udp qd %d): %s", u->qd, strerror(rc));
            return;  /* tried again on the next turn of the loop */
        }
        u->npop++;
    }
}

static void on_pop(struct server *s, demi_qresult_t *qr)
{
    struct srv_udp *u = &s->udp;
    demi_sgarray_t *sga = &qr->qr_value.sga;
    if (qr->qr_opcode != DEMI_OPC_POP) {
        srv_log_error(s, "udp pop failed: %s", strerror((int)qr->qr_ret));
        return;
    }
    uint64_t len = echo_sga_len(sga);
    s->stats.udp_datagrams++;
    if (len == 0) {  /* nothing to echo */
        echo_sga_release(sga);
        return;
    }
    struct srv_push *p = &u->push[u->npush];
    struct sockaddr_in to = sga->sga_addr;
    int rc = demi_pushto(&p->qt, u->qd, sga, (const struct sockaddr *)&to, sizeof(to));
    if (rc != 0) {
        char a[32];
        srv_log_error(s, "demi_pushto(%s): %s", echo_addr_str(&to, a, sizeof(a)), strerror(rc));
        echo_sga_release(sga);
        return;
    }
    p->sga = *sga;
    u->npush++;
}

static void on_push(struct server *s, uint32_t i, demi_qresult_t *qr)
{
    struct srv_udp *u = &s->udp;
    uint64_t len = echo_sga_len(&u->push[i].sga);
    echo_sga_release(&u->push[i].sga);
    u->push[i] = u->push[--u->npush];
    if (qr->qr_opcode != DEMI_OPC_PUSH) {
        srv_log_error(s, "udp pushto failed: %s", strerror((int)qr->qr_ret));
        return;
    }
    s->stats.udp_bytes += len;
}

bool srv_udp_complete(struct server *s, demi_qresult_t *qr)
{
    struct srv_udp *u = &s->udp;
    if (u->qd < 0 || qr->qr_qd != u->qd)
        return false;
    for (uint32_t i = 0; i < u->npop; i++) {
        if (u->pop_qt[i] == qr->qr_qt) {
            u->pop_qt[i] = u->pop_qt[--u->npop];
            on_pop(s, qr);
            return true;
        }
    }
    for (uint32_t i = 0; i < u->npush; i++) {
        if (u->push[i].qt == qr->qr_qt) {
            on_push(s, i, qr);
            return true;
        }
    }
    return false;
}

void srv_udp_shutdown(struct server *s)
{
    struct srv_udp *u = &s->udp;
    if (u->qd < 0)
        return;
    for (uint32_t i = 0; i < u->npush; i++)
        echo_sga_release(&u->push[i].sga);
    u->npush = 0;
    u->npop = 0;
    int rc = demi_close(u->qd);
    if (rc != 0)
        echo_perror("demi_close(udp)", rc);
    u->qd = -1;
}
