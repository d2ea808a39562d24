/*
 * TCP output: decides what a connection may send now (send window,
 * congestion window, Nagle, FIN, window updates, pure ACKs, SACK
 * retransmissions in recovery) and builds segments with their options
 * (MSS, window scale, SACK-permitted, timestamps, SACK blocks). Also RSTs
 * for segments that have no connection.
 */
#include <errno.h>
#include <string.h>

#include "cc/cc.h"
#include "inet/proto.h"
#include "tcp_var.h"

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t tcp_ts_now(const struct tcp_conn *c)
{
    return (uint32_t)(c->s->now_ns / 1000000ull) + c->ts_offset;
}

/* Bytes sent and not yet acknowledged (sequence space, SYN/FIN included). */
uint32_t tcp_flight(const struct tcp_conn *c)
{
    return c->snd_max - c->snd_una;
}

/* The receive window to announce: free buffer space, with receiver-side
 * silly window avoidance, never less than what was already announced
 * (no shrinking), at most what the window field can carry. */
uint32_t tcp_rcv_window(struct tcp_conn *c)
{
    uint32_t space = c->rcvbuf > c->rcv_cc ? c->rcvbuf - c->rcv_cc : 0;
    uint32_t adv = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    uint32_t mss = c->t_maxseg ? c->t_maxseg : TCP_DEFAULT_MSS;
    uint32_t max = 65535u << c->rcv_wscale;

    if (space < c->rcvbuf / 4 && space < mss)
        space = 0;
    if (space < adv)
        space = adv;
    if (space > max)
        space = max;
    return space;
}

/* Writes the options of a segment with flags into opt; returns their
 * length (a multiple of 4). */
static int tcp_build_options(struct tcp_conn *c, uint8_t flags, uint8_t *opt)
{
    int n = 0;

    if (flags & TH_SYN) {
        uint16_t mss = tcp_mss_for(c->s);
        int peer_syn = c->state == TCPS_SYN_RECEIVED;
        opt[n++] = TCPOPT_MSS;
        opt[n++] = 4;
        wr16(opt + n, mss);
        n += 2;
        /* on a SYN-ACK, only what the peer offered */
        if (!peer_syn || (c->flags & TF_WSCALE_OK)) {
            opt[n++] = TCPOPT_NOP;
            opt[n++] = TCPOPT_WSCALE;
            opt[n++] = 3;
            opt[n++] = c->req_rcv_wscale;
        }
        if (!peer_syn || (c->flags & TF_SACK_OK)) {
            opt[n++] = TCPOPT_NOP;
            opt[n++] = TCPOPT_NOP;
            opt[n++] = TCPOPT_SACK_PERM;
            opt[n++] = 2;
        }
        if (!peer_syn || (c->flags & TF_TS_OK)) {
            opt[n++] = TCPOPT_NOP;
            opt[n++] = TCPOPT_NOP;
            opt[n++] = TCPOPT_TS;
            opt[n++] = 10;
            wr32(opt + n, tcp_ts_now(c));
            wr32(opt + n + 4, peer_syn ? c->ts_recent : 0);
            n += 8;
        }
        return n;
    }
    if (c->flags & TF_TS_OK) {
        opt[n++] = TCPOPT_NOP;
        opt[n++] = TCPOPT_NOP;
        opt[n++] = TCPOPT_TS;
        opt[n++] = 10;
        wr32(opt + n, tcp_ts_now(c));
        wr32(opt + n + 4, c->ts_recent);
        n += 8;
    }
    if ((c->flags & TF_SACK_OK) && c->rcv_sack_n && (flags & TH_ACK) && !(flags & TH_RST)) {
        uint32_t room = (uint32_t)(TCP_MAX_OPT_LEN - n - 4) / 8;
        uint32_t k = c->rcv_sack_n < room ? c->rcv_sack_n : room;
        opt[n++] = TCPOPT_NOP;
        opt[n++] = TCPOPT_NOP;
        opt[n++] = TCPOPT_SACK;
        opt[n++] = (uint8_t)(2 + 8 * k);
        for (uint32_t i = 0; i < k; i++) {
            wr32(opt + n, c->rcv_sack[i].start);
            wr32(opt + n + 4, c->rcv_sack[i].end);
            n += 8;
        }
    }
    return n;
}

/* Copies len bytes at offset off (from snd_una) of the send queue to dst. */
static void tcp_sndq_copy(struct tcp_conn *c, uint32_t off, uint8_t *dst, uint32_t len)
{
    struct buf *b = c->sndq_head;
    uint32_t boff = 0;

    if (c->snd_cursor && c->snd_cursor_off <= off) {
        b = c->snd_cursor;
        boff = c->snd_cursor_off;
    }
    while (b && boff + b->len <= off) {
        boff += b->len;
        b = b->next;
    }
    while (len && b) {
        uint32_t in = off - boff;
        uint32_t n = b->len - in < len ? b->len - in : len;
        memcpy(dst, b->data + in, n);
        dst += n;
        len -= n;
        off += n;
        c->snd_cursor = b;
        c->snd_cursor_off = boff;
        if (in + n == b->len) {
            boff += b->len;
            b = b->next;
        }
    }
}

static void tcp_checksum_and_send(struct inet_stack *s, struct buf *b, uint32_t lip, uint32_t rip)
{
    uint16_t csum;

    b->data[16] = 0;
    b->data[17] = 0;
    csum = inet_csum_fold(inet_csum_partial(b->data, b->len, inet_pseudo_sum(lip, rip, IPPROTO_TCP_,
                                                                              (uint16_t)b->len)));
    memcpy(b->data + 16, &csum, 2);
    s->tcp->st.segs_out++;
    ipv4_output(s, b, lip, rip, IPPROTO_TCP_);
}

int tcp_send_segment(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint32_t off, uint32_t len)
{
    struct inet_stack *s = c->s;
    uint8_t opt[TCP_MAX_OPT_LEN];
    int optlen = tcp_build_options(c, flags, opt);
    uint32_t thlen = TCP_HDR_LEN + (uint32_t)optlen;
    uint32_t win = tcp_rcv_window(c);
    uint32_t wfield;
    struct buf *b = buf_alloc(thlen + len);
    uint8_t *h;

    if (!b)
        return ENOMEM;
    h = b->data;
    memcpy(h, &c->lport, 2);
    memcpy(h + 2, &c->rport, 2);
    wr32(h + 4, seq);
    wr32(h + 8, (flags & TH_ACK) ? c->rcv_nxt : 0);
    h[12] = (uint8_t)((thlen / 4) << 4);
    h[13] = flags;
    if (flags & TH_SYN) {
        wfield = win > 65535 ? 65535 : win;
        win = wfield;
    } else {
        wfield = win >> c->rcv_wscale;
        if (wfield > 65535)
            wfield = 65535;
        win = wfield << c->rcv_wscale;
    }
    wr16(h + 14, (uint16_t)wfield);
    h[18] = h[19] = 0;
    memcpy(h + TCP_HDR_LEN, opt, (size_t)optlen);
    if (len)
        tcp_sndq_copy(c, off, h + thlen, len);
    if (flags & TH_ACK) {
        c->last_ack_sent = c->rcv_nxt;
        c->flags &= ~(TF_ACKNOW | TF_DELACK);
        c->segs_unacked = 0;
        theap_cancel(&s->timers, &c->t_delack);
        if (SEQ_GT(c->rcv_nxt + win, c->rcv_adv) || c->rcv_adv == 0)
            c->rcv_adv = c->rcv_nxt + win;
    }
    c->st.segs_out++;
    c->st.bytes_out += len;
    s->tcp->st.bytes_out += len;
    c->last_send_ns = s->now_ns;
    tcp_checksum_and_send(s, b, c->lip, c->rip);
    return 0;
}

/* The sequence number of a segment without data or SYN/FIN: snd_max, not
 * snd_nxt, which a retransmission may have moved back below what the peer
 * already holds (it would drop the segment as old, ACK included); but never
 * beyond the right edge of the peer's window, which it would drop too
 * (Linux's rule). */
static uint32_t tcp_ack_seq(const struct tcp_conn *c)
{
    uint32_t edge = c->snd_una + c->snd_wnd;

    if (c->state < TCPS_ESTABLISHED)
        return c->snd_nxt;
    return SEQ_GT(c->snd_max, edge) ? edge : c->snd_max;
}

void tcp_send_ack_now(struct tcp_conn *c)
{
    if (c->state == TCPS_CLOSED || c->state == TCPS_LISTEN || c->state == TCPS_SYN_SENT)
        return;
    tcp_send_segment(c, tcp_ack_seq(c), TH_ACK, 0, 0);
}

/* RFC 5961: an ACK with the current numbers, rate-unlimited (one per event). */
void tcp_send_challenge_ack(struct tcp_conn *c)
{
    c->s->tcp->st.challenge_acks++;
    tcp_send_ack_now(c);
}

void tcp_respond_rst(struct inet_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport, uint32_t seq,
                     uint32_t ack, uint8_t flags, uint32_t seg_len)
{
    struct buf *b;
    uint8_t *h;

    if (flags & TH_RST)
        return;
    b = buf_alloc(TCP_HDR_LEN);
    if (!b)
        return;
    h = b->data;
    memset(h, 0, TCP_HDR_LEN);
    memcpy(h, &lport, 2);
    memcpy(h + 2, &rport, 2);
    if (flags & TH_ACK) {
        wr32(h + 4, ack);
        h[13] = TH_RST;
    } else {
        uint32_t a = seq + seg_len + ((flags & TH_SYN) ? 1 : 0) + ((flags & TH_FIN) ? 1 : 0);
        wr32(h + 8, a);
        h[13] = TH_RST | TH_ACK;
    }
    h[12] = (TCP_HDR_LEN / 4) << 4;
    s->tcp->st.rst_sent++;
    tcp_checksum_and_send(s, b, lip, rip);
}

/* Largest payload of a data segment (the options of a non-SYN segment
 * taken off the MSS the path allows). */
static uint32_t tcp_seg_max(struct tcp_conn *c)
{
    uint32_t base = c->t_maxseg + ((c->flags & TF_TS_OK) ? 12u : 0u);
    uint8_t opt[TCP_MAX_OPT_LEN];
    uint32_t optlen = (uint32_t)tcp_build_options(c, TH_ACK, opt);

    return base > optlen + 1 ? base - optlen : 1;
}

/* True if announcing the window now would open it by enough to matter. */
static int tcp_window_update_due(struct tcp_conn *c, uint32_t segmax)
{
    uint32_t adv = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    uint32_t win = tcp_rcv_window(c);

    if (win <= adv)
        return 0;
    win = (win >> c->rcv_wscale) << c->rcv_wscale;
    if (win <= adv)
        return 0;
    return win - adv >= 2 * segmax || win - adv >= c->rcvbuf / 2;
}

/* Sends what c may send now. Returns 0 or an errno of the first failed send. */
int tcp_output(struct tcp_conn *c)
{
    struct inet_stack *s = c->s;
    uint32_t segmax;

    switch (c->state) {
    case TCPS_CLOSED:
    case TCPS_LISTEN:
    case TCPS_TIME_WAIT:
        if (c->state == TCPS_TIME_WAIT && (c->flags & TF_ACKNOW))
            tcp_send_segment(c, c->snd_nxt, TH_ACK, 0, 0);
        return 0;
    case TCPS_SYN_SENT:
    case TCPS_SYN_RECEIVED:
        if (c->snd_nxt == c->iss) {
            uint8_t fl = TH_SYN | (c->state == TCPS_SYN_RECEIVED ? TH_ACK : 0);
            if (c->snd_max != c->iss) {
                c->st.retransmits++;
                s->tcp->st.retransmits++;
            }
            tcp_send_segment(c, c->iss, fl, 0, 0);
            c->snd_nxt = c->iss + 1;
            c->snd_max = c->snd_nxt;
            if (!timer_armed(&c->t_rexmt))
                tcp_rexmt_arm(c);
        } else if ((c->flags & TF_ACKNOW) && c->state == TCPS_SYN_RECEIVED) {
            tcp_send_segment(c, c->iss, TH_SYN | TH_ACK, 0, 0);
        }
        return 0;
    default:
        break;
    }
    segmax = tcp_seg_max(c);
    /* RFC 5681 4.1: restart from the restart window after an idle RTO */
    if (c->snd_max == c->snd_una && c->last_send_ns && s->now_ns - c->last_send_ns >= c->rto_ns &&
        c->cc->after_idle && c->snd_cc)
        c->cc->after_idle(c);

    for (int guard = 0; guard < 100000; guard++) {
        uint32_t off = c->snd_nxt - c->snd_una;
        uint32_t data_end = c->snd_cc;
        uint32_t wnd = c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;
        uint32_t len = 0;
        int fin, send = 0, force = (c->flags & TF_FORCE) != 0;
        uint8_t flags = TH_ACK;

        if ((c->flags & TF_SACK_RECOVERY) && c->snd_nxt == c->snd_max) {
            /* RFC 6675: while pipe < cwnd, retransmit holes, then new data */
            uint32_t hseq, hlen;
            if (tcp_sack_pipe(c) >= c->cwnd)
                break;
            if (tcp_sack_next_hole(c, &hseq, &hlen)) {
                uint32_t hoff = hseq - c->snd_una;
                int hfin = 0;
                if (hlen > segmax)
                    hlen = segmax;
                if (hoff + hlen > data_end) {
                    hfin = (c->flags & TF_FIN_SENT) && hoff + hlen == data_end + 1;
                    hlen = hoff < data_end ? data_end - hoff : 0;
                }
                if (hlen == 0 && !hfin)
                    break;
                if (hseq == c->snd_una)
                    c->sack_rxt_mark = c->snd_max;
                tcp_send_segment(c, hseq, (uint8_t)(TH_ACK | (hfin ? TH_FIN : 0)), hoff, hlen);
                c->sack_rxt_next = hseq + hlen + (uint32_t)hfin;
                c->st.retransmits++;
                s->tcp->st.retransmits++;
                c->flags &= ~TF_RTT_TIMING;
                if (!timer_armed(&c->t_rexmt) || (c->flags & TF_PERSIST))
                    tcp_rexmt_arm(c);
                continue;
            }
        }
        if (c->flags & TF_SACK_RECOVERY) {
            /* RFC 6675: new data as far as cwnd - pipe allows */
            uint32_t pipe = tcp_sack_pipe(c);
            uint32_t room = c->cwnd > pipe ? c->cwnd - pipe : 0;
            wnd = off + room;
            if (wnd > c->snd_wnd)
                wnd = c->snd_wnd;
        }
        if (force && wnd == 0)
            wnd = 1;
        if (off < data_end) {
            len = data_end - off;
            if (wnd > off) {
                if (len > wnd - off)
                    len = wnd - off;
            } else {
                len = 0;
            }
            if (len > segmax)
                len = segmax;
        }
        fin = (c->flags & TF_FIN_QUEUED) && off + len == data_end &&
              (!(c->flags & TF_FIN_SENT) || SEQ_LT(c->snd_nxt, c->snd_max));
        if (len) {
            if (len == segmax || force)
                send = 1;
            else if (off + len == data_end &&
                     ((c->flags & TF_NODELAY) || c->snd_una == c->snd_max || fin))
                send = 1;
            else if (c->max_sndwnd && len >= c->max_sndwnd / 2)
                send = 1;
            else if (SEQ_LT(c->snd_nxt, c->snd_max))
                send = 1;
        }
        if (fin)
            send = 1;
        if (!send && !(c->flags & TF_ACKNOW) && !tcp_window_update_due(c, segmax))
            break;
        if (fin)
            flags |= TH_FIN;
        if (len && off + len == data_end)
            flags |= TH_PSH;
        if (len == 0 && !fin) {
            if (!(c->flags & TF_ACKNOW))
                s->tcp->st.window_updates++;
            tcp_send_segment(c, tcp_ack_seq(c), flags, 0, 0);
            break;
        }
        if (SEQ_LT(c->snd_nxt, c->snd_max)) {
            c->st.retransmits++;
            s->tcp->st.retransmits++;
        } else if (!(c->flags & (TF_RTT_TIMING | TF_TS_OK))) {
            c->flags |= TF_RTT_TIMING;
            c->rtt_seq = c->snd_nxt;
            c->rtt_start_ns = s->now_ns;
        }
        tcp_send_segment(c, c->snd_nxt, flags, off, len);
        c->snd_nxt += len + (uint32_t)fin;
        if (fin)
            c->flags |= TF_FIN_SENT;
        if (SEQ_GT(c->snd_nxt, c->snd_max))
            c->snd_max = c->snd_nxt;
        if (force) {
            c->flags &= ~TF_FORCE;
            break;
        }
        if (!timer_armed(&c->t_rexmt) || (c->flags & TF_PERSIST)) {
            c->flags &= ~TF_PERSIST;
            tcp_rexmt_arm(c);
        }
    }
    /* zero window with data waiting: the persist timer takes over from the
     * retransmission timer and resends from snd_una when the window opens */
    if (c->snd_wnd == 0 && !(c->flags & TF_PERSIST) && c->snd_cc > c->snd_nxt - c->snd_una) {
        theap_cancel(&s->timers, &c->t_rexmt);
        c->snd_nxt = c->snd_una;
        tcp_persist_arm(c);
    }
    /* data waiting, nothing in flight to clock it out (the window is closed
     * or too small to use): the persist timer probes or forces it */
    if (c->snd_cc > c->snd_nxt - c->snd_una && c->snd_una == c->snd_max && !timer_armed(&c->t_rexmt))
        tcp_persist_arm(c);
    return 0;
}
