/*
 * TCP input: RFC 9293 segment arrival processing.
 * tcp_input checks the header and checksum, parses options and finds the
 * connection (or listener); then, in order: LISTEN (new child in
 * SYN-RECEIVED), SYN-SENT (handshake, simultaneous open), and for
 * synchronized states PAWS (RFC 7323), the acceptability test, RST and SYN
 * checks with RFC 5961 challenge ACKs, ACK processing (RTT, congestion
 * control, fast retransmit and NewReno/SACK recovery, window update rules),
 * data (in order, or into the out-of-order queue bounded by the window),
 * FIN, and finally tcp_output.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cc/cc.h"
#include "inet/proto.h"
#include "tcp_var.h"

#define TS_24_DAYS_NS (24ull * 86400ull * 1000000000ull)

struct tcp_opts {
    uint16_t mss;
    uint8_t ws;
    uint8_t has_mss, has_ws, sack_ok, has_ts;
    uint32_t tsval, tsecr;
    struct tcp_sack_hole sack[TCP_SACK_MAX_BLOCKS];
    int nsack;
};

struct tcp_seg {
    uint32_t seq, ack;
    uint8_t flags;
    uint32_t win;       /* unscaled */
    uint32_t len;       /* payload */
    uint32_t hlen;      /* header length: payload at seg->data + hlen */
    struct buf *b;
    struct tcp_opts o;
};

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parses the options [p, p+n). Malformed options end parsing. */
static void tcp_parse_options(const uint8_t *p, uint32_t n, int syn, struct tcp_opts *o)
{
    uint32_t i = 0;

    memset(o, 0, sizeof(*o));
    while (i < n) {
        uint8_t kind = p[i], len;
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n)
            break;
        len = p[i + 1];
        if (len < 2 || i + len > n)
            break;
        switch (kind) {
        case 2:
            if (len == 4 && syn) {
                o->has_mss = 1;
                o->mss = rd16(p + i + 2);
            }
            break;
        case 3:
            if (len == 3 && syn) {
                o->has_ws = 1;
                o->ws = p[i + 2] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : p[i + 2];
            }
            break;
        case 4:
            if (len == 2 && syn)
                o->sack_ok = 1;
            break;
        case 5:
            if (len >= 10 && (len - 2) % 8 == 0) {
                for (uint32_t k = 0; k < (uint32_t)(len - 2) / 8 && o->nsack < TCP_SACK_MAX_BLOCKS; k++) {
                    o->sack[o->nsack].start = rd32(p + i + 2 + 8 * k);
                    o->sack[o->nsack].end = rd32(p + i + 6 + 8 * k);
                    o->nsack++;
                }
            }
            break;
        case 8:
            if (len == 10) {
                o->has_ts = 1;
                o->tsval = rd32(p + i + 2);
                o->tsecr = rd32(p + i + 6);
            }
            break;
        default:
            break;
        }
        i += len;
    }
}

/* Applies the options of a received SYN to c (MSS, window scale, SACK,
 * timestamps: each is on only if both sides sent it). */
static void tcp_apply_syn_options(struct tcp_conn *c, const struct tcp_seg *sg)
{
    uint16_t mine = tcp_mss_for(c->s);
    uint16_t peer = sg->o.has_mss ? sg->o.mss : TCP_DEFAULT_MSS;

    if (peer < 64)
        peer = 64;
    c->peer_mss = peer;
    c->t_maxseg = peer < mine ? peer : mine;
    if (sg->o.has_ws) {
        c->flags |= TF_WSCALE_OK;
        c->snd_wscale = sg->o.ws;
        c->rcv_wscale = c->req_rcv_wscale;
    } else {
        c->flags &= ~TF_WSCALE_OK;
        c->snd_wscale = c->rcv_wscale = 0;
    }
    if (sg->o.sack_ok)
        c->flags |= TF_SACK_OK;
    else
        c->flags &= ~TF_SACK_OK;
    if (sg->o.has_ts) {
        c->flags |= TF_TS_OK;
        c->ts_recent = sg->o.tsval;
        c->ts_recent_age_ns = c->s->now_ns;
        c->t_maxseg = (uint16_t)(c->t_maxseg - 12);
    } else {
        c->flags &= ~TF_TS_OK;
    }
}

/* Moves c to TIME_WAIT. */
static void tcp_enter_time_wait(struct tcp_conn *c)
{
    tcp_set_state(c, TCPS_TIME_WAIT);
    tcp_sndq_drop(c, c->snd_cc);
    tcp_timewait_arm(c);
}

/* A SYN for listener l: creates a child in SYN-RECEIVED and answers SYN-ACK. */
static void tcp_listen_input(struct tcp_conn *l, struct tcp_seg *sg, uint32_t src, uint32_t dst, uint16_t sport,
                             uint16_t dport)
{
    struct inet_stack *s = l->s;
    struct tcp_stack *ts = s->tcp;
    struct tcp_conn *c;
    uint32_t synmax = s->cfg.tcp_syn_backlog_max;

    if (sg->flags & TH_RST)
        return;
    if (sg->flags & TH_ACK) {
        tcp_respond_rst(s, dst, dport, src, sport, sg->seq, sg->ack, sg->flags, sg->len);
        return;
    }
    if (!(sg->flags & TH_SYN) || (sg->flags & TH_FIN))
        return;
    if (synmax < l->backlog)
        synmax = l->backlog;
    if (l->synq_len >= synmax) {
        ts->st.syn_overflows++;
        return;
    }
    if (l->acq_len >= l->backlog) {
        ts->st.accept_overflows++;
        return;
    }
    c = tcp_conn_alloc(s);
    if (!c) {
        ts->st.conns_max_drops++;
        return;
    }
    c->flags |= l->flags & (TF_NODELAY | TF_KEEPALIVE | TF_LINGER0);
    c->sndbuf = l->sndbuf;
    c->rcvbuf = l->rcvbuf;
    c->keepidle_ns = l->keepidle_ns;
    c->keepintvl_ns = l->keepintvl_ns;
    c->keepcnt = l->keepcnt;
    c->lip = dst;
    c->lport = dport;
    c->rip = src;
    c->rport = sport;
    c->req_rcv_wscale = tcp_wscale_for(c->rcvbuf);
    c->irs = sg->seq;
    c->rcv_nxt = sg->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    c->iss = tcp_new_isn(s, dst, dport, src, sport);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->snd_recover = c->iss;
    c->ts_offset = (uint32_t)inet_rand(s);
    tcp_apply_syn_options(c, sg);
    c->snd_wnd = sg->win;
    c->snd_wl1 = sg->seq;
    c->snd_wl2 = c->iss;
    c->last_recv_ns = s->now_ns;
    c->rtt_start_ns = s->now_ns;
    tcp_set_state(c, TCPS_SYN_RECEIVED);
    tcp_hash_insert(c);
    c->parent = l;
    c->lq_prev = NULL;
    c->lq_next = l->synq_head;
    if (l->synq_head)
        l->synq_head->lq_prev = c;
    l->synq_head = c;
    l->synq_len++;
    ts->st.passive_opens++;
    tcp_output(c);
}

/* SYN-SENT: the answer to our SYN. */
static void tcp_syn_sent_input(struct tcp_conn *c, struct tcp_seg *sg)
{
    struct inet_stack *s = c->s;
    int ack_ok = 0;

    if (sg->flags & TH_ACK) {
        if (SEQ_LEQ(sg->ack, c->iss) || SEQ_GT(sg->ack, c->snd_max)) {
            tcp_respond_rst(s, c->lip, c->lport, c->rip, c->rport, sg->seq, sg->ack, sg->flags, sg->len);
            return;
        }
        ack_ok = 1;
    }
    if (sg->flags & TH_RST) {
        if (ack_ok) {
            s->tcp->st.rst_rcvd++;
            s->tcp->st.conns_refused++;
            tcp_conn_drop(c, ECONNREFUSED);
        }
        return;
    }
    if (!(sg->flags & TH_SYN))
        return;
    tcp_apply_syn_options(c, sg);
    c->irs = sg->seq;
    c->rcv_nxt = sg->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    c->snd_wnd = sg->win;   /* a SYN's window is never scaled */
    c->snd_wl1 = sg->seq;
    c->snd_wl2 = sg->ack;
    if (ack_ok) {
        c->snd_una = sg->ack;
        if (SEQ_LT(c->snd_nxt, c->snd_una))
            c->snd_nxt = c->snd_una;
        if (c->flags & TF_TS_OK && sg->o.tsecr)
            tcp_rtt_sample(c, (uint64_t)(tcp_ts_now(c) - sg->o.tsecr) * 1000000ull);
        else if (c->rxtshift == 0)
            tcp_rtt_sample(c, s->now_ns - c->rtt_start_ns);
        c->rxtshift = 0;
        tcp_rexmt_cancel(c);
        tcp_set_state(c, TCPS_ESTABLISHED);
        c->cc->init(c);
        c->max_sndwnd = c->snd_wnd;
        c->flags |= TF_ACKNOW;
        tcp_keep_arm(c);
        tcp_event(c, TCP_EV_CONNECTED);
        tcp_event(c, TCP_EV_WRITABLE);
        tcp_output(c);
    } else {
        /* simultaneous open: SYN-RECEIVED, our SYN again with an ACK */
        tcp_set_state(c, TCPS_SYN_RECEIVED);
        c->snd_nxt = c->iss;
        tcp_output(c);
    }
}

/* RFC 9293 acceptability test against the announced window. */
static int tcp_seg_acceptable(struct tcp_conn *c, const struct tcp_seg *sg, uint32_t seglen)
{
    uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    uint32_t seq = sg->seq;

    if (seglen == 0) {
        if (wnd == 0)
            return seq == c->rcv_nxt;
        return SEQ_LEQ(c->rcv_nxt, seq) && SEQ_LT(seq, c->rcv_nxt + wnd);
    }
    /* zero window: a segment at rcv_nxt is still processed for its ACK
     * (RFC 9293 3.10.7.4 "special allowance"); its data is trimmed away */
    if (wnd == 0)
        return seq == c->rcv_nxt;
    return (SEQ_LEQ(c->rcv_nxt, seq) && SEQ_LT(seq, c->rcv_nxt + wnd)) ||
           (SEQ_LEQ(c->rcv_nxt, seq + seglen - 1) && SEQ_LT(seq + seglen - 1, c->rcv_nxt + wnd));
}

/* True for a segment wholly before rcv_nxt (an old duplicate, or a pure ACK
 * whose sender moved its sequence number back) that carries an ACK and no
 * RST or SYN, at most one maximum window old: its data is dropped but its ACK
 * is still processed, as BSD does, so that ACKs are not lost while the peer
 * retransmits old data or sends ACKs with an older sequence number (Linux
 * does when our window is closed). */
static int tcp_seg_old_with_ack(struct tcp_conn *c, const struct tcp_seg *sg, uint32_t seglen)
{
    uint32_t behind = c->rcv_nxt - sg->seq;

    if (!(sg->flags & TH_ACK) || (sg->flags & (TH_RST | TH_SYN)) || c->state == TCPS_TIME_WAIT)
        return 0;
    return SEQ_LT(sg->seq, c->rcv_nxt) && SEQ_LEQ(sg->seq + seglen, c->rcv_nxt) &&
           behind <= (65535u << c->rcv_wscale);
}

/* Queues in-order payload [off, off+len) of b for tcp_recv. */
static void tcp_rcvq_append(struct tcp_conn *c, struct buf *b)
{
    b->next = NULL;
    if (c->rcvq_tail)
        c->rcvq_tail->next = b;
    else
        c->rcvq_head = b;
    c->rcvq_tail = b;
    c->rcv_cc += b->len;
    c->rcv_nxt += b->len;
}

/* The peer's FIN is in order: state transition, end of stream. */
static void tcp_fin_in_order(struct tcp_conn *c)
{
    c->rcv_nxt++;
    c->flags |= TF_RCVD_FIN | TF_ACKNOW;
    tcp_event(c, TCP_EV_READABLE);
    switch (c->state) {
    case TCPS_SYN_RECEIVED:
    case TCPS_ESTABLISHED:
        tcp_set_state(c, TCPS_CLOSE_WAIT);
        break;
    case TCPS_FIN_WAIT_1:
        tcp_set_state(c, TCPS_CLOSING);
        break;
    case TCPS_FIN_WAIT_2:
        tcp_enter_time_wait(c);
        break;
    default:
        break;
    }
}

/* Moves out-of-order segments that became in order to the receive queue. */
static void tcp_ooo_pull(struct tcp_conn *c)
{
    while (c->ooo && SEQ_LEQ(c->ooo->seq, c->rcv_nxt)) {
        struct tcp_ooo *o = c->ooo;
        uint32_t end = o->seq + o->len;
        c->ooo = o->next;
        c->ooo_bytes -= o->len;
        c->ooo_count--;
        if (SEQ_GT(end, c->rcv_nxt)) {
            uint32_t skip = c->rcv_nxt - o->seq;
            if (skip)
                buf_adj(o->b, skip);
            tcp_rcvq_append(c, o->b);
            o->b = NULL;
        }
        if (o->fin && end == c->rcv_nxt && !(c->flags & TF_RCVD_FIN))
            tcp_fin_in_order(c);
        buf_unref(o->b);
        free(o);
    }
}

/* Inserts an out-of-order segment (b: its payload or NULL) into the sorted
 * queue, trimmed against neighbours so no byte is held twice. Consumes b. */
static void tcp_ooo_insert(struct tcp_conn *c, uint32_t seq, struct buf *b, uint32_t len, int fin)
{
    struct tcp_ooo **pp = &c->ooo, *o;
    uint32_t end = seq + len;

    while (*pp && SEQ_LT((*pp)->seq + (*pp)->len, seq + (len ? 1 : 0)))
        pp = &(*pp)->next;
    /* *pp is the first entry that ends at or after seq: trim our front */
    if (*pp && SEQ_LEQ((*pp)->seq, seq)) {
        uint32_t pend = (*pp)->seq + (*pp)->len;
        if (SEQ_GEQ(pend, end)) {
            if (fin && pend == end)
                (*pp)->fin = 1;
            buf_unref(b);
            return;
        }
        if (b)
            buf_adj(b, pend - seq);
        len -= pend - seq;
        seq = pend;
        pp = &(*pp)->next;
    }
    /* drop entries we cover entirely, trim our tail against the next one */
    while (*pp && SEQ_LEQ((*pp)->seq + (*pp)->len, end) && SEQ_GEQ((*pp)->seq, seq)) {
        o = *pp;
        *pp = o->next;
        c->ooo_bytes -= o->len;
        c->ooo_count--;
        fin |= o->fin && o->seq + o->len == end;
        buf_unref(o->b);
        free(o);
    }
    if (*pp && SEQ_LT((*pp)->seq, end)) {
        uint32_t cut = end - (*pp)->seq;
        if (b)
            buf_trim(b, cut);
        len -= cut;
        end = seq + len;
        fin = 0;
    }
    if (len == 0 && !fin) {
        buf_unref(b);
        return;
    }
    o = malloc(sizeof(*o));
    if (!o) {
        buf_unref(b);
        return;
    }
    o->seq = seq;
    o->len = len;
    o->fin = fin;
    o->b = b;
    o->next = *pp;
    *pp = o;
    c->ooo_bytes += len;
    c->ooo_count++;
}

/* Copies a small in-order payload into the receive queue's last buffer (or
 * a new one), so that tiny segments do not each pin a whole frame. Returns
 * 1 if done, 0 if the caller should queue a slice of the frame instead. */
static int tcp_rcvq_coalesce(struct tcp_conn *c, const uint8_t *p, uint32_t n)
{
    struct buf *b = c->rcvq_tail;

    if (n > TCP_COALESCE_MAX)
        return 0;
    if (b && (b->flags & TCP_BUF_COALESCE) && buf_tailroom(b) >= n) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        c->rcv_cc += n;
        c->rcv_nxt += n;
        return 1;
    }
    b = buf_alloc(TCP_COALESCE_BUF);
    if (!b)
        return 0;
    buf_trim(b, TCP_COALESCE_BUF);
    b->flags |= TCP_BUF_COALESCE;
    memcpy(b->data, p, n);
    b->len = n;
    tcp_rcvq_append(c, b);
    return 1;
}

/* Data and FIN of an acceptable segment (already trimmed to the window). */
static void tcp_data_input(struct tcp_conn *c, struct tcp_seg *sg)
{
    struct inet_stack *s = c->s;
    int fin = (sg->flags & TH_FIN) != 0;
    struct buf *pl = NULL;
    uint32_t ooo_max = c->rcvbuf / 1024 > 64 ? c->rcvbuf / 1024 : 64;

    if (c->flags & TF_RCVD_FIN)
        return;
    if (sg->len) {
        c->st.bytes_in += sg->len;
        s->tcp->st.bytes_in += sg->len;
    }
    if (sg->seq == c->rcv_nxt && !c->ooo) {
        if (sg->len) {
            if (!tcp_rcvq_coalesce(c, sg->b->data + sg->hlen, sg->len)) {
                pl = buf_slice(sg->b, sg->hlen, sg->len);
                if (!pl)
                    return;
                tcp_rcvq_append(c, pl);
            }
            c->segs_unacked++;
            if (s->cfg.tcp_delack_ns == 0 || c->segs_unacked >= 2 || c->rcv_cc + 0 >= c->rcvbuf)
                c->flags |= TF_ACKNOW;
            else
                tcp_delack_arm(c);
            tcp_event(c, TCP_EV_READABLE);
        }
        if (fin)
            tcp_fin_in_order(c);
        return;
    }
    /* out of order (or filling a hole): queue it, ACK at once (RFC 5681 4.2);
     * the number of held segments is bounded, so tiny segments cannot pin
     * a frame each without end */
    c->flags |= TF_ACKNOW;
    if (c->ooo_count >= ooo_max && sg->seq != c->rcv_nxt) {
        s->tcp->st.ooo_drops++;
        return;
    }
    if (sg->len) {
        pl = buf_slice(sg->b, sg->hlen, sg->len);
        if (!pl)
            return;
    }
    if (sg->seq != c->rcv_nxt) {
        c->st.ooo_segments++;
        s->tcp->st.ooo_segments++;
    }
    tcp_ooo_insert(c, sg->seq, pl, sg->len, fin);
    if (sg->seq == c->rcv_nxt) {
        uint32_t before = c->rcv_nxt;
        tcp_ooo_pull(c);
        if (c->rcv_nxt != before)
            tcp_event(c, TCP_EV_READABLE);
        tcp_sack_rcv_trim(c);
    } else if (c->flags & TF_SACK_OK) {
        tcp_sack_rcv_update(c, sg->seq, sg->seq + sg->len);
    }
    c->flags |= TF_ACKNOW;
}

/* Fast retransmit of the segment at snd_una (NewReno, no SACK). */
static void tcp_retransmit_una(struct tcp_conn *c)
{
    uint32_t saved_nxt = c->snd_nxt, saved_cwnd = c->cwnd;

    c->snd_nxt = c->snd_una;
    c->cwnd = c->t_maxseg;
    tcp_output(c);
    c->cwnd = saved_cwnd;
    if (SEQ_GT(saved_nxt, c->snd_nxt))
        c->snd_nxt = saved_nxt;
}

/* Three duplicate ACKs (or SACK loss): fast retransmit and recovery. */
static void tcp_enter_recovery(struct tcp_conn *c)
{
    struct inet_stack *s = c->s;

    c->cwnd_at_loss = c->cwnd;
    c->flight_at_loss = tcp_flight(c);
    c->cc->congestion_event(c, CC_EV_DUPACK);
    c->snd_recover = c->snd_max;
    c->st.fast_retransmits++;
    s->tcp->st.fast_retransmits++;
    c->flags &= ~TF_RTT_TIMING;
    c->flags |= TF_IN_RECOVERY;
    tcp_rexmt_arm(c);
    if (c->flags & TF_SACK_OK) {
        c->flags |= TF_SACK_RECOVERY;
        c->st.sack_recoveries++;
        s->tcp->st.sack_recoveries++;
        c->sack_rxt_next = c->snd_una;
        c->cwnd = c->ssthresh;
        /* the first hole goes out at once (RFC 6675 step 4.3) */
        {
            uint32_t saved_cwnd = c->cwnd;
            uint32_t pipe = tcp_sack_pipe(c);
            if (pipe >= c->cwnd)
                c->cwnd = pipe + c->t_maxseg;
            tcp_output(c);
            c->cwnd = saved_cwnd;
        }
        return;
    }
    tcp_retransmit_una(c);
    c->cwnd = c->ssthresh + 3u * c->t_maxseg;
}

/* ACK processing for synchronized states. Returns 0 to go on with the
 * segment's data, 1 when the segment is done with (c may be gone). */
static int tcp_ack_input(struct tcp_conn *c, struct tcp_seg *sg)
{
    struct inet_stack *s = c->s;
    uint32_t ack = sg->ack;
    uint32_t win = sg->win << c->snd_wscale;
    uint32_t una_before;
    uint32_t acked;

    if (c->state == TCPS_SYN_RECEIVED) {
        if (SEQ_LEQ(ack, c->snd_una) || SEQ_GT(ack, c->snd_max)) {
            tcp_respond_rst(s, c->lip, c->lport, c->rip, c->rport, sg->seq, ack, sg->flags, sg->len);
            return 1;
        }
        if (c->parent) {
            struct tcp_conn *l = c->parent;
            if (l->acq_len >= l->backlog) {
                s->tcp->st.accept_overflows++;
                return 1;
            }
            /* SYN queue -> accept queue */
            if (c->lq_prev)
                c->lq_prev->lq_next = c->lq_next;
            else
                l->synq_head = c->lq_next;
            if (c->lq_next)
                c->lq_next->lq_prev = c->lq_prev;
            l->synq_len--;
            c->lq_prev = c->lq_next = NULL;
            c->in_acq = 1;
            if (l->acq_tail)
                l->acq_tail->lq_next = c;
            else
                l->acq_head = c;
            l->acq_tail = c;
            l->acq_len++;
            tcp_event(l, TCP_EV_ACCEPTABLE);
        } else {
            tcp_event(c, TCP_EV_CONNECTED);
            tcp_event(c, TCP_EV_WRITABLE);
        }
        tcp_set_state(c, TCPS_ESTABLISHED);
        c->cc->init(c);
        c->snd_wnd = win;
        c->max_sndwnd = win;
        c->snd_wl1 = sg->seq;
        c->snd_wl2 = ack;
        if (c->rxtshift == 0 && !(c->flags & TF_TS_OK))
            tcp_rtt_sample(c, s->now_ns - c->rtt_start_ns);
        tcp_keep_arm(c);
    }
    una_before = c->snd_una;
    /* RFC 5961 5.2: ACKs for data never sent, or far too old */
    if (SEQ_GT(ack, c->snd_max)) {
        tcp_send_challenge_ack(c);
        return 1;
    }
    if (SEQ_LT(ack, c->snd_una - c->max_sndwnd)) {
        tcp_send_challenge_ack(c);
        return 1;
    }
    if ((c->flags & TF_SACK_OK) && sg->o.nsack) {
        tcp_sack_update(c, sg->o.sack, sg->o.nsack);
        /* a retransmission of the first hole was lost too: data sent after
         * it is SACKed while the hole is still there; send the holes again */
        if ((c->flags & TF_SACK_RECOVERY) && SEQ_GT(c->sack_rxt_next, c->snd_una) && SEQ_LT(ack, c->sack_rxt_next) &&
            SEQ_GT(c->sack_high, c->sack_rxt_mark + 3u * c->t_maxseg) && !tcp_sack_is_sacked(c, ack, 1)) {
            c->sack_rxt_next = ack;
            s->tcp->st.lost_retransmits++;
        }
    }

    if (SEQ_LEQ(ack, c->snd_una)) {
        int dup = ack == c->snd_una && sg->len == 0 && !(sg->flags & (TH_SYN | TH_FIN)) && win == c->snd_wnd &&
                  win != 0 && !(c->flags & TF_PERSIST) && c->snd_una != c->snd_max;
        if (dup) {
            c->dupacks++;
            c->st.dup_acks++;
            s->tcp->st.dup_acks++;
            if (c->flags & TF_IN_RECOVERY) {
                if (!(c->flags & TF_SACK_RECOVERY))
                    c->cwnd += c->t_maxseg;
            } else if (c->dupacks == TCP_DUPACK_THRESH && SEQ_GT(ack, c->snd_recover)) {
                tcp_enter_recovery(c);
            } else if (c->dupacks == TCP_DUPACK_THRESH && (c->flags & TF_SACK_OK) && c->sb_n) {
                tcp_enter_recovery(c);
            } else if (c->dupacks < TCP_DUPACK_THRESH && c->snd_nxt == c->snd_max) {
                /* limited transmit (RFC 3042): one new segment per early dup ACK */
                uint32_t saved = c->cwnd;
                c->cwnd = tcp_flight(c) + c->t_maxseg;
                tcp_output(c);
                c->cwnd = saved;
            }
        } else if (ack == c->snd_una && (sg->len || win != c->snd_wnd)) {
            c->dupacks = 0;
        }
    } else {
        uint32_t data_acked;
        acked = ack - c->snd_una;
        if (c->flags & TF_IN_RECOVERY) {
            if (SEQ_GEQ(ack, c->snd_recover)) {
                c->flags &= ~(TF_IN_RECOVERY | TF_SACK_RECOVERY);
                c->dupacks = 0;
                c->snd_una = ack;
                c->cc->post_recovery(c);
            } else if (!(c->flags & TF_SACK_RECOVERY)) {
                /* RFC 6582 partial ACK: resend the next hole, deflate */
                c->snd_una = ack;
                tcp_sndq_drop(c, acked);
                tcp_retransmit_una(c);
                c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
                c->cwnd += c->t_maxseg;
                tcp_rexmt_arm(c);
                acked = 0;
            }
        } else {
            c->dupacks = 0;
            c->cc->ack_received(c, acked);
        }
        if (acked) {
            /* RTT: timestamps (any ACK of new data), else one timed segment (Karn) */
            if ((c->flags & TF_TS_OK) && sg->o.has_ts && sg->o.tsecr) {
                uint32_t d = tcp_ts_now(c) - sg->o.tsecr;
                if (d < 600000)
                    tcp_rtt_sample(c, (uint64_t)d * 1000000ull + 500000ull);
            } else if ((c->flags & TF_RTT_TIMING) && SEQ_GT(ack, c->rtt_seq)) {
                c->flags &= ~TF_RTT_TIMING;
                tcp_rtt_sample(c, s->now_ns - c->rtt_start_ns);
            }
            data_acked = acked;
            if ((c->flags & TF_FIN_SENT) && ack == c->snd_max && data_acked)
                data_acked--;
            if (data_acked > c->snd_cc)
                data_acked = c->snd_cc;
            tcp_sndq_drop(c, data_acked);
        }
        c->rxtshift = 0;
        c->snd_una = ack;
        if (SEQ_LT(c->snd_nxt, c->snd_una))
            c->snd_nxt = c->snd_una;
        if (c->flags & TF_SACK_OK)
            tcp_sack_update(c, NULL, 0);
        if (c->snd_una == c->snd_max) {
            if (!(c->flags & TF_PERSIST))
                tcp_rexmt_cancel(c);
        } else if (!(c->flags & TF_PERSIST)) {
            tcp_rexmt_arm(c);
        }
        if ((c->flags & TF_WANT_WRITABLE) && c->snd_cc < c->sndbuf) {
            c->flags &= ~TF_WANT_WRITABLE;
            tcp_event(c, TCP_EV_WRITABLE);
        }
        if ((c->flags & TF_FIN_SENT) && c->snd_una == c->snd_max) {
            switch (c->state) {
            case TCPS_FIN_WAIT_1:
                tcp_set_state(c, TCPS_FIN_WAIT_2);
                if (c->flags & TF_USER_CLOSED)
                    theap_arm(&s->timers, &c->t_keep, s->now_ns + 2 * s->cfg.tcp_msl_ns);
                break;
            case TCPS_CLOSING:
                tcp_enter_time_wait(c);
                break;
            case TCPS_LAST_ACK:
                tcp_conn_destroy(c);
                return 1;
            default:
                break;
            }
        }
    }
    /* window update (RFC 9293 3.10.7.4), and on every ACK that moves snd_una
     * (as Linux does): snd_wnd counts from snd_una, so keeping the old value
     * would move the right edge beyond what the peer offered. A peer's go-back-N
     * retransmission carries an older sequence number than snd_wl1 with a
     * newer ACK. */
    if (SEQ_LT(c->snd_wl1, sg->seq) || (c->snd_wl1 == sg->seq && SEQ_LEQ(c->snd_wl2, ack)) ||
        SEQ_GT(ack, una_before)) {
        int opened = c->snd_wnd == 0 && win > 0;
        c->snd_wnd = win;
        c->snd_wl1 = sg->seq;
        c->snd_wl2 = ack;
        if (win > c->max_sndwnd)
            c->max_sndwnd = win;
        if (opened && (c->flags & TF_PERSIST)) {
            tcp_rexmt_cancel(c);
            c->rxtshift = 0;
            c->snd_nxt = c->snd_una;
            if (c->snd_una != c->snd_max)
                tcp_rexmt_arm(c);
        }
    }
    return 0;
}

/* Processing for every state but CLOSED, LISTEN and SYN-SENT. */
static void tcp_sync_input(struct tcp_conn *c, struct tcp_seg *sg)
{
    struct inet_stack *s = c->s;
    struct tcp_stack *ts = s->tcp;
    uint32_t seglen;

    if (c->state == TCPS_SYN_RECEIVED && (sg->flags & TH_SYN) && sg->seq == c->irs && !(sg->flags & TH_RST)) {
        /* the peer's SYN again: alone, answer with our SYN-ACK; with an ACK
         * (simultaneous open), drop the SYN and process the ACK */
        if (!(sg->flags & TH_ACK)) {
            c->flags |= TF_ACKNOW;
            tcp_output(c);
            return;
        }
        sg->flags &= (uint8_t)~TH_SYN;
        sg->seq++;
        if (sg->len) {
            sg->len = 0;    /* data on a SYN-ACK is sent again later */
        }
    }
    seglen = sg->len + ((sg->flags & TH_SYN) ? 1 : 0) + ((sg->flags & TH_FIN) ? 1 : 0);

    /* PAWS (RFC 7323 5.3) */
    if ((c->flags & TF_TS_OK) && sg->o.has_ts && !(sg->flags & TH_RST) &&
        (int32_t)(sg->o.tsval - c->ts_recent) < 0 && s->now_ns - c->ts_recent_age_ns < TS_24_DAYS_NS) {
        ts->st.paws_drops++;
        c->flags |= TF_ACKNOW;
        tcp_output(c);
        return;
    }
    if (!tcp_seg_acceptable(c, sg, seglen) && !tcp_seg_old_with_ack(c, sg, seglen)) {
        if (sg->flags & TH_RST)
            return;
        if (SEQ_LEQ(sg->seq + seglen, c->rcv_nxt))
            ts->st.rx_dup_segments++;
        else
            ts->st.rx_out_of_window++;
        if (c->state == TCPS_TIME_WAIT && (sg->flags & TH_FIN))
            tcp_timewait_arm(c);
        c->flags |= TF_ACKNOW;
        tcp_output(c);
        return;
    }
    /* RST (RFC 5961 3.2): exact match resets, in window only challenges */
    if (sg->flags & TH_RST) {
        ts->st.rst_rcvd++;
        if (sg->seq != c->rcv_nxt) {
            tcp_send_challenge_ack(c);
            return;
        }
        switch (c->state) {
        case TCPS_SYN_RECEIVED:
            if (c->parent) {
                tcp_conn_destroy(c);
                return;
            }
            ts->st.conns_refused++;
            tcp_conn_drop(c, ECONNREFUSED);
            return;
        case TCPS_ESTABLISHED:
        case TCPS_FIN_WAIT_1:
        case TCPS_FIN_WAIT_2:
        case TCPS_CLOSE_WAIT:
            ts->st.conns_reset++;
            tcp_conn_drop(c, ECONNRESET);
            return;
        default:
            tcp_conn_destroy(c);
            return;
        }
    }
    /* SYN in a synchronized state (RFC 5961 4.2) */
    if (sg->flags & TH_SYN) {
        if (c->state == TCPS_SYN_RECEIVED && sg->seq == c->irs) {
            c->flags |= TF_ACKNOW;
            tcp_output(c);
            return;
        }
        tcp_send_challenge_ack(c);
        return;
    }
    if (!(sg->flags & TH_ACK))
        return;
    /* timestamps: remember the peer's clock (RFC 7323 4.3) */
    if ((c->flags & TF_TS_OK) && sg->o.has_ts && SEQ_LEQ(sg->seq, c->last_ack_sent) &&
        SEQ_LEQ(c->last_ack_sent, sg->seq + seglen)) {
        c->ts_recent = sg->o.tsval;
        c->ts_recent_age_ns = s->now_ns;
    }
    /* trim to the window: old bytes in front, bytes beyond it at the end */
    if (SEQ_LT(sg->seq, c->rcv_nxt)) {
        uint32_t todrop = c->rcv_nxt - sg->seq;
        if (todrop >= sg->len) {
            if (todrop > sg->len || !(sg->flags & TH_FIN) || (c->flags & TF_RCVD_FIN))
                sg->flags &= (uint8_t)~TH_FIN;
            todrop = sg->len;
            c->flags |= TF_ACKNOW;
            if (sg->len)
                ts->st.rx_dup_segments++;
        }
        sg->hlen += todrop;
        sg->len -= todrop;
        sg->seq += todrop;
    }
    {
        uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
        uint32_t right = c->rcv_nxt + wnd;
        if (SEQ_GT(sg->seq + sg->len, right)) {
            uint32_t cut = sg->seq + sg->len - right;
            if (cut > sg->len)
                cut = sg->len;
            sg->len -= cut;
            sg->flags &= (uint8_t)~TH_FIN;
            c->flags |= TF_ACKNOW;
        }
    }
    c->last_recv_ns = s->now_ns;
    c->keepprobes = 0;
    if (tcp_ack_input(c, sg))
        return;
    if (c->state == TCPS_CLOSED)
        return;
    if (sg->len || (sg->flags & TH_FIN)) {
        switch (c->state) {
        case TCPS_ESTABLISHED:
        case TCPS_FIN_WAIT_1:
        case TCPS_FIN_WAIT_2:
            if ((c->flags & TF_USER_CLOSED) && sg->len) {
                /* nobody will read it: reset, as Linux does */
                ts->st.rcv_after_close++;
                tcp_send_segment(c, c->snd_nxt, TH_RST | TH_ACK, 0, 0);
                ts->st.rst_sent++;
                tcp_conn_destroy(c);
                return;
            }
            tcp_data_input(c, sg);
            break;
        case TCPS_TIME_WAIT:
            if (sg->flags & TH_FIN) {
                c->flags |= TF_ACKNOW;
                tcp_timewait_arm(c);
            }
            break;
        default:
            break;
        }
    }
    tcp_output(c);
}

void tcp_input(struct inet_stack *s, struct buf *b, uint32_t src, uint32_t dst)
{
    struct tcp_stack *ts = s->tcp;
    struct tcp_seg sg;
    struct tcp_conn *c;
    uint16_t sport, dport;
    const uint8_t *h = b->data;

    tcp_enter(s);
    ts->st.segs_in++;
    if (b->len < TCP_HDR_LEN) {
        ts->st.rx_bad_header++;
        goto done;
    }
    sg.hlen = (uint32_t)(h[12] >> 4) * 4;
    if (sg.hlen < TCP_HDR_LEN || sg.hlen > b->len) {
        ts->st.rx_bad_header++;
        goto done;
    }
    if (!(b->flags & BUF_FLAG_L4_CSUM_OK) &&
        inet_csum_fold(inet_csum_partial(h, b->len, inet_pseudo_sum(src, dst, IPPROTO_TCP_, (uint16_t)b->len)))) {
        ts->st.rx_bad_checksum++;
        goto done;
    }
    memcpy(&sport, h, 2);
    memcpy(&dport, h + 2, 2);
    if (sport == 0 || dport == 0) {
        ts->st.rx_bad_header++;
        goto done;
    }
    sg.seq = rd32(h + 4);
    sg.ack = rd32(h + 8);
    sg.flags = h[13] & 0x3f;
    sg.win = rd16(h + 14);
    sg.len = b->len - sg.hlen;
    sg.b = b;
    tcp_parse_options(h + TCP_HDR_LEN, sg.hlen - TCP_HDR_LEN, (sg.flags & TH_SYN) != 0, &sg.o);

    c = tcp_lookup(s, dst, dport, src, sport);
    if (c && c->state == TCPS_TIME_WAIT && (sg.flags & TH_SYN) && !(sg.flags & (TH_ACK | TH_RST)) &&
        SEQ_GT(sg.seq, c->rcv_nxt)) {
        /* a new incarnation of the connection (RFC 9293 3.6.1) */
        tcp_conn_destroy(c);
        c = NULL;
    }
    if (c) {
        c->st.segs_in++;
        if (c->state == TCPS_SYN_SENT)
            tcp_syn_sent_input(c, &sg);
        else if (c->state != TCPS_CLOSED && c->state != TCPS_LISTEN)
            tcp_sync_input(c, &sg);
        goto done;
    }
    c = tcp_lookup_listener(s, dst, dport);
    if (c) {
        tcp_listen_input(c, &sg, src, dst, sport, dport);
        goto done;
    }
    ts->st.rx_no_socket++;
    tcp_respond_rst(s, dst, dport, src, sport, sg.seq, sg.ack, sg.flags, sg.len);
done:
    buf_unref(b);
    tcp_leave(s);
}
