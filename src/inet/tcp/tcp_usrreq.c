/*
 * The socket-level API of tcp.h: open, bind, listen (bounded SYN and
 * accept queues), accept, connect, send (bounded by the send buffer; the
 * stack keeps slices of the caller's buffers), recv (zero-copy slices of
 * received frames), shutdown, close, abort, names and options.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "inet/proto.h"
#include "tcp_var.h"

int tcp_open(struct inet_stack *s, struct tcp_conn **out, tcp_event_fn fn, void *user)
{
    struct tcp_conn *c;

    if (!s || !out)
        return EINVAL;
    if (s->cfg.tcp_max_conns && s->tcp->nall >= s->cfg.tcp_max_conns)
        return EMFILE;
    c = tcp_conn_alloc(s);
    if (!c)
        return ENOMEM;
    c->fn = fn;
    c->user = user;
    *out = c;
    return 0;
}

int tcp_bind(struct tcp_conn *c, uint32_t ip, uint16_t port)
{
    if (c->state != TCPS_CLOSED || (c->flags & TF_IN_BIND) || c->rport)
        return EINVAL;
    if (ip && !ipv4_is_local(c->s, ip))
        return EINVAL;
    if (port == 0) {
        c->lip = ip;
        return tcp_port_ephemeral(c, 0, 0) ? EADDRINUSE : 0;
    }
    return tcp_bind_insert(c, ip, port);
}

int tcp_listen(struct tcp_conn *c, int backlog)
{
    if (backlog < 1)
        backlog = 1;
    if (backlog > 65535)
        backlog = 65535;
    if (c->state == TCPS_LISTEN) {
        c->backlog = (uint32_t)backlog;
        return 0;
    }
    if (c->state != TCPS_CLOSED || c->rport || c->err_sticky)
        return EINVAL;
    if (!(c->flags & TF_IN_BIND)) {
        int err = tcp_port_ephemeral(c, 0, 0);
        if (err)
            return EADDRINUSE;
    }
    c->backlog = (uint32_t)backlog;
    tcp_set_state(c, TCPS_LISTEN);
    return 0;
}

uint32_t tcp_accept_ready(const struct tcp_conn *l)
{
    return l->state == TCPS_LISTEN ? l->acq_len : 0;
}

int tcp_accept(struct tcp_conn *l, struct tcp_conn **out, tcp_event_fn fn, void *user)
{
    struct tcp_conn *c;

    if (l->state != TCPS_LISTEN)
        return EINVAL;
    c = l->acq_head;
    if (!c)
        return EAGAIN;
    l->acq_head = c->lq_next;
    if (!l->acq_head)
        l->acq_tail = NULL;
    l->acq_len--;
    c->lq_next = NULL;
    c->in_acq = 0;
    c->parent = NULL;
    c->fn = fn;
    c->user = user;
    tcp_enter(l->s);
    if (c->err_sticky) {
        c->err = c->err_sticky;
        tcp_event(c, TCP_EV_ERROR);
    } else {
        if (c->rcv_cc || (c->flags & TF_RCVD_FIN))
            tcp_event(c, TCP_EV_READABLE);
        tcp_event(c, TCP_EV_WRITABLE);
    }
    tcp_leave(l->s);
    *out = c;
    return 0;
}

/* True if ip is reachable: on the local subnet, or through the gateway. */
static int tcp_routable(const struct inet_stack *s, uint32_t ip)
{
    uint32_t mask = s->cfg.ipv4_prefix_len ? htonl(~0u << (32 - s->cfg.ipv4_prefix_len)) : 0;

    if (s->cfg.gateway)
        return 1;
    return (ip & mask) == (s->cfg.ipv4_addr & mask);
}

int tcp_connect(struct tcp_conn *c, uint32_t ip, uint16_t port)
{
    struct inet_stack *s = c->s;
    int err;

    if (c->state == TCPS_SYN_SENT)
        return EALREADY;
    if (c->state != TCPS_CLOSED || c->rport)
        return EISCONN;
    if (c->err_sticky)
        return c->err_sticky;
    if (ip == 0 || port == 0)
        return EINVAL;
    if (!tcp_routable(s, ip))
        return ENETUNREACH;
    if (!c->lip)
        c->lip = s->cfg.ipv4_addr;
    if (!(c->flags & TF_IN_BIND)) {
        err = tcp_port_ephemeral(c, ip, port);
        if (err)
            return err;
    } else if (tcp_lookup(s, c->lip, c->lport, ip, port)) {
        return EADDRINUSE;
    }
    c->rip = ip;
    c->rport = port;
    c->req_rcv_wscale = tcp_wscale_for(c->rcvbuf);
    c->iss = tcp_new_isn(s, c->lip, c->lport, ip, port);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->snd_recover = c->iss;
    c->ts_offset = (uint32_t)inet_rand(s);
    c->rtt_start_ns = s->now_ns;
    c->t_maxseg = tcp_mss_for(s);
    tcp_hash_insert(c);
    tcp_set_state(c, TCPS_SYN_SENT);
    s->tcp->st.active_opens++;
    tcp_enter(s);
    tcp_output(c);
    tcp_leave(s);
    return 0;
}

ssize_t tcp_send(struct tcp_conn *c, struct buf *b, size_t off, size_t len)
{
    struct buf *sl;
    uint32_t room, n;

    if (c->err_sticky)
        return -c->err_sticky;
    if (c->flags & (TF_FIN_QUEUED | TF_USER_CLOSED))
        return -EPIPE;
    switch (c->state) {
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
    case TCPS_CLOSE_WAIT:
        break;
    default:
        return -ENOTCONN;
    }
    if (!b || off > b->len || len > b->len - off)
        return -EINVAL;
    if (len == 0)
        return 0;
    room = c->sndbuf > c->snd_cc ? c->sndbuf - c->snd_cc : 0;
    n = len < room ? (uint32_t)len : room;
    if (n < len)
        c->flags |= TF_WANT_WRITABLE;
    if (n == 0)
        return 0;
    sl = buf_slice(b, off, n);
    if (!sl)
        return -ENOMEM;
    sl->next = NULL;
    if (c->sndq_tail)
        c->sndq_tail->next = sl;
    else
        c->sndq_head = sl;
    c->sndq_tail = sl;
    c->snd_cc += n;
    tcp_enter(c->s);
    tcp_output(c);
    tcp_leave(c->s);
    return n;
}

ssize_t tcp_recv(struct tcp_conn *c, struct buf **out, size_t max)
{
    struct buf *b = c->rcvq_head;
    uint32_t n;

    *out = NULL;
    if (!b) {
        if (c->flags & TF_RCVD_FIN) {
            c->flags |= TF_EOF_SEEN;
            return 0;
        }
        if (c->err_sticky)
            return -c->err_sticky;
        if (c->state == TCPS_CLOSED || c->state == TCPS_LISTEN)
            return -ENOTCONN;
        return -EAGAIN;
    }
    if (max == 0)
        return -EINVAL;
    if (b->len <= max) {
        c->rcvq_head = b->next;
        if (!c->rcvq_head)
            c->rcvq_tail = NULL;
        b->next = NULL;
        n = b->len;
        *out = b;
    } else {
        struct buf *part = buf_slice(b, 0, max);
        if (!part)
            return -ENOMEM;
        buf_adj(b, (uint32_t)max);
        n = (uint32_t)max;
        *out = part;
    }
    c->rcv_cc -= n;
    if (c->state >= TCPS_ESTABLISHED && c->state != TCPS_TIME_WAIT) {
        tcp_enter(c->s);
        tcp_output(c);     /* a window update if the window opened enough */
        tcp_leave(c->s);
    }
    return n;
}

int tcp_shutdown(struct tcp_conn *c)
{
    if (c->flags & TF_FIN_QUEUED)
        return 0;
    switch (c->state) {
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
        tcp_set_state(c, TCPS_FIN_WAIT_1);
        break;
    case TCPS_CLOSE_WAIT:
        tcp_set_state(c, TCPS_LAST_ACK);
        break;
    default:
        return c->err_sticky ? -c->err_sticky : -ENOTCONN;
    }
    c->flags |= TF_FIN_QUEUED;
    tcp_enter(c->s);
    tcp_output(c);
    tcp_leave(c->s);
    return 0;
}

/* Sends a RST for a synchronized connection (abort). */
static void tcp_send_rst(struct tcp_conn *c)
{
    switch (c->state) {
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
    case TCPS_CLOSE_WAIT:
    case TCPS_FIN_WAIT_1:
    case TCPS_FIN_WAIT_2:
    case TCPS_CLOSING:
    case TCPS_LAST_ACK:
        tcp_send_segment(c, c->snd_nxt, TH_RST | TH_ACK, 0, 0);
        c->s->tcp->st.rst_sent++;
        break;
    default:
        break;
    }
}

void tcp_abort(struct tcp_conn *c)
{
    struct inet_stack *s;

    if (!c)
        return;
    s = c->s;
    tcp_enter(s);
    c->flags |= TF_USER_CLOSED;
    c->fn = NULL;
    tcp_send_rst(c);
    tcp_conn_destroy(c);
    tcp_leave(s);
}

void tcp_close(struct tcp_conn *c)
{
    struct inet_stack *s;

    if (!c)
        return;
    s = c->s;
    if ((c->flags & TF_LINGER0) || c->rcv_cc) {
        tcp_abort(c);
        return;
    }
    tcp_enter(s);
    c->flags |= TF_USER_CLOSED;
    c->fn = NULL;
    switch (c->state) {
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
        tcp_set_state(c, TCPS_FIN_WAIT_1);
        c->flags |= TF_FIN_QUEUED;
        tcp_output(c);
        break;
    case TCPS_CLOSE_WAIT:
        tcp_set_state(c, TCPS_LAST_ACK);
        c->flags |= TF_FIN_QUEUED;
        tcp_output(c);
        break;
    case TCPS_FIN_WAIT_2:
        theap_arm(&s->timers, &c->t_keep, s->now_ns + 2 * s->cfg.tcp_msl_ns);
        break;
    case TCPS_FIN_WAIT_1:
    case TCPS_CLOSING:
    case TCPS_LAST_ACK:
    case TCPS_TIME_WAIT:
        break;
    case TCPS_LISTEN:
        /* connections nobody accepted are reset, as Linux does */
        for (struct tcp_conn *ch = c->synq_head; ch; ch = ch->lq_next)
            tcp_send_rst(ch);
        for (struct tcp_conn *ch = c->acq_head; ch; ch = ch->lq_next)
            tcp_send_rst(ch);
        tcp_conn_destroy(c);
        break;
    default:
        /* CLOSED, SYN-SENT */
        tcp_conn_destroy(c);
        break;
    }
    tcp_leave(s);
}

void tcp_getname(const struct tcp_conn *c, uint32_t *lip, uint16_t *lport, uint32_t *rip, uint16_t *rport)
{
    if (lip)
        *lip = c->lip;
    if (lport)
        *lport = c->lport;
    if (rip)
        *rip = c->rip;
    if (rport)
        *rport = c->rport;
}

static void tcp_flag_set(struct tcp_conn *c, uint32_t f, int on)
{
    if (on)
        c->flags |= f;
    else
        c->flags &= ~f;
}

int tcp_setopt(struct tcp_conn *c, enum tcp_opt opt, int value)
{
    switch (opt) {
    case TCP_OPT_NODELAY:
        tcp_flag_set(c, TF_NODELAY, value != 0);
        if (value && c->state >= TCPS_ESTABLISHED) {
            tcp_enter(c->s);
            tcp_output(c);
            tcp_leave(c->s);
        }
        return 0;
    case TCP_OPT_KEEPALIVE:
        tcp_flag_set(c, TF_KEEPALIVE, value != 0);
        if (value)
            tcp_keep_arm(c);
        else if (c->state != TCPS_TIME_WAIT && c->state != TCPS_FIN_WAIT_2)
            theap_cancel(&c->s->timers, &c->t_keep);
        return 0;
    case TCP_OPT_KEEPIDLE:
        if (value < 1)
            return -EINVAL;
        c->keepidle_ns = (uint64_t)value * 1000000000ull;
        return 0;
    case TCP_OPT_KEEPINTVL:
        if (value < 1)
            return -EINVAL;
        c->keepintvl_ns = (uint64_t)value * 1000000000ull;
        return 0;
    case TCP_OPT_KEEPCNT:
        if (value < 1)
            return -EINVAL;
        c->keepcnt = (uint32_t)value;
        return 0;
    case TCP_OPT_SNDBUF:
        if (value < 1)
            return -EINVAL;
        c->sndbuf = (uint32_t)value;
        return 0;
    case TCP_OPT_RCVBUF:
        if (value < 1)
            return -EINVAL;
        /* the window scale is fixed by the SYN; the buffer may still change */
        c->rcvbuf = (uint32_t)value;
        return 0;
    case TCP_OPT_LINGER0:
        tcp_flag_set(c, TF_LINGER0, value != 0);
        return 0;
    case TCP_OPT_REUSEADDR:
        tcp_flag_set(c, TF_REUSEADDR, value != 0);
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}

int tcp_getopt(struct tcp_conn *c, enum tcp_opt opt, int *value)
{
    switch (opt) {
    case TCP_OPT_NODELAY:
        *value = (c->flags & TF_NODELAY) != 0;
        return 0;
    case TCP_OPT_KEEPALIVE:
        *value = (c->flags & TF_KEEPALIVE) != 0;
        return 0;
    case TCP_OPT_KEEPIDLE:
        *value = (int)(c->keepidle_ns / 1000000000ull);
        return 0;
    case TCP_OPT_KEEPINTVL:
        *value = (int)(c->keepintvl_ns / 1000000000ull);
        return 0;
    case TCP_OPT_KEEPCNT:
        *value = (int)c->keepcnt;
        return 0;
    case TCP_OPT_SNDBUF:
        *value = (int)c->sndbuf;
        return 0;
    case TCP_OPT_RCVBUF:
        *value = (int)c->rcvbuf;
        return 0;
    case TCP_OPT_LINGER0:
        *value = (c->flags & TF_LINGER0) != 0;
        return 0;
    case TCP_OPT_REUSEADDR:
        *value = (c->flags & TF_REUSEADDR) != 0;
        return 0;
    case TCP_OPT_ERROR:
        *value = c->err;
        c->err = 0;
        return 0;
    case TCP_OPT_MAXSEG:
        *value = c->t_maxseg;
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}
