/*
 * TCP internals (private to src/inet/tcp): the connection control block,
 * the stack-wide state and the functions the TCP files call on each other.
 *
 * Flow: tcp_input (tcp_input.c) looks the segment's connection up
 * (tcp_subr.c), runs the RFC 9293 state machine, queues data for tcp_recv
 * and calls tcp_output (tcp_output.c), which sends what the windows allow.
 * Timers (tcp_timer.c) retransmit, probe and expire. The API of tcp.h is in
 * tcp_usrreq.c. Congestion control is behind struct tcp_cc_ops (cc/cc.h).
 * Owner callbacks are deferred: code sets bits in c->ev_pending and
 * tcp_leave delivers them when the outermost stack call returns.
 */
#ifndef DEMI_INET_TCP_TCP_VAR_H_
#define DEMI_INET_TCP_TCP_VAR_H_

#include <stdint.h>

#include "core/buf.h"
#include "core/timer.h"
#include "inet/stack.h"
#include "tcp.h"

#define TCP_HDR_LEN 20
#define TCP_MAX_OPT_LEN 40
#define TCP_DEFAULT_MSS 536
#define TCP_MAX_WSCALE 14
#define TCP_SACK_MAX_BLOCKS 4
#define TCP_DUPACK_THRESH 3
#define TCP_COALESCE_MAX 512        /* in-order payloads up to this are copied, not sliced */
#define TCP_COALESCE_BUF 4096
#define TCP_BUF_COALESCE 0x8000     /* buf->flags: a receive buffer TCP copies small payloads into */

/* Header flags. */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

/* Sequence arithmetic modulo 2^32. */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)
#define SEQ_MAX(a, b) (SEQ_GT(a, b) ? (a) : (b))
#define SEQ_MIN(a, b) (SEQ_LT(a, b) ? (a) : (b))

enum tcp_state {
    TCPS_CLOSED = 0,
    TCPS_LISTEN,
    TCPS_SYN_SENT,
    TCPS_SYN_RECEIVED,
    TCPS_ESTABLISHED,
    TCPS_CLOSE_WAIT,
    TCPS_FIN_WAIT_1,
    TCPS_CLOSING,
    TCPS_LAST_ACK,
    TCPS_FIN_WAIT_2,
    TCPS_TIME_WAIT,
};

/* c->flags */
#define TF_ACKNOW 0x0001        /* send an ACK at the next tcp_output */
#define TF_DELACK 0x0002        /* an ACK is being delayed */
#define TF_NODELAY 0x0004       /* Nagle off */
#define TF_WSCALE_OK 0x0008     /* both sides sent window scale */
#define TF_TS_OK 0x0010         /* both sides sent timestamps */
#define TF_SACK_OK 0x0020       /* both sides sent SACK-permitted */
#define TF_FIN_QUEUED 0x0040    /* user shut down sending: FIN after the data */
#define TF_FIN_SENT 0x0080      /* our FIN has a sequence number (snd_max covers it) */
#define TF_RCVD_FIN 0x0100      /* peer's FIN is in order (rcv_nxt covers it) */
#define TF_USER_CLOSED 0x0200   /* tcp_close/tcp_abort: no owner any more */
#define TF_KEEPALIVE 0x0400
#define TF_LINGER0 0x0800
#define TF_REUSEADDR 0x1000
#define TF_IN_RECOVERY 0x2000   /* fast recovery (NewReno or SACK) */
#define TF_PERSIST 0x4000       /* the rexmt timer is the persist timer */
#define TF_WANT_WRITABLE 0x8000 /* tcp_send came up short: report space */
#define TF_RTT_TIMING 0x10000   /* rtt_seq is being timed (no timestamps) */
#define TF_FORCE 0x20000        /* tcp_output: send one byte even into a zero window */
#define TF_IN_BIND 0x40000      /* on the bind table */
#define TF_IN_HASH 0x80000      /* on the connection table */
#define TF_ZOMBIE 0x100000      /* waiting to be freed */
#define TF_EOF_SEEN 0x200000    /* tcp_recv reported end of stream */
#define TF_SACK_RECOVERY 0x400000

/* c->ev_pending bits: 1 << enum tcp_event */
#define TCP_EVBIT(ev) (1u << (ev))

/* One out-of-order segment waiting for the gap before it. */
struct tcp_ooo {
    struct tcp_ooo *next;
    uint32_t seq;
    uint32_t len;       /* payload bytes (b may be NULL when 0) */
    int fin;
    struct buf *b;
};

/* SACK scoreboard entry: a range the peer holds beyond snd_una. */
struct tcp_sack_hole {
    uint32_t start, end;
};

struct tcp_cc_ops;

/* Per-connection counters. */
struct tcp_conn_stats {
    uint64_t segs_in, segs_out, bytes_in, bytes_out, retransmits, rto_events, fast_retransmits, dup_acks,
        ooo_segments, zero_window_probes, sack_recoveries;
};

struct tcp_conn {
    struct inet_stack *s;
    enum tcp_state state;
    uint32_t flags;
    uint32_t lip, rip;          /* network order */
    uint16_t lport, rport;      /* network order */
    struct tcp_conn *hnext;     /* connection table chain */
    struct tcp_conn *bnext;     /* bind table chain */
    struct tcp_conn *all_prev, *all_next;   /* every connection of the stack */

    /* owner */
    tcp_event_fn fn;
    void *user;
    int err;                    /* pending error (TCP_EV_ERROR) */
    int err_sticky;             /* error every later call returns */
    uint32_t ev_pending;
    struct tcp_conn *ev_next;   /* on the stack's list of connections with events */
    int on_ev_list;

    /* listener side */
    struct tcp_conn *parent;    /* listener of a passive open until accepted */
    struct tcp_conn *lq_prev, *lq_next;  /* listener's SYN queue, then its accept queue */
    struct tcp_conn *synq_head; /* listener: half-open children */
    struct tcp_conn *acq_head, *acq_tail;
    uint32_t synq_len, acq_len, backlog;
    int in_acq;

    /* send sequence space */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2, snd_recover;
    uint32_t snd_wnd, max_sndwnd;
    uint8_t snd_wscale, rcv_wscale, req_rcv_wscale;
    uint16_t t_maxseg;          /* send MSS (payload bytes per segment, options excluded) */
    uint16_t peer_mss;

    /* receive sequence space */
    uint32_t irs, rcv_nxt, rcv_adv, last_ack_sent;
    uint32_t segs_unacked;

    /* timestamps */
    uint32_t ts_recent, ts_offset;
    uint64_t ts_recent_age_ns;

    /* RTT and RTO (ns) */
    uint64_t srtt_ns, rttvar_ns, rto_ns;
    uint32_t rtt_seq;
    uint64_t rtt_start_ns;
    uint32_t rxtshift;          /* consecutive timeouts */
    uint64_t last_send_ns, last_recv_ns;

    /* congestion control */
    const struct tcp_cc_ops *cc;
    uint32_t cwnd, ssthresh;
    uint32_t dupacks;
    uint32_t cwnd_at_loss, flight_at_loss;  /* at the last congestion event */
    uint32_t bytes_acked;       /* NewReno: congestion avoidance byte counting */
    struct {                    /* CUBIC state (cc_cubic.c) */
        double w_max, w_last_max, k, w_est;
        uint64_t epoch_ns;
        int epoch_valid;
    } cubic;

    /* SACK: blocks we report (receiver side) and the scoreboard (sender) */
    struct tcp_sack_hole rcv_sack[TCP_SACK_MAX_BLOCKS];
    uint32_t rcv_sack_n;
    struct tcp_sack_hole *sb;   /* sorted SACKed ranges in (snd_una, snd_max] */
    uint32_t sb_n, sb_cap;
    uint32_t sack_rxt_next;     /* RFC 6675 HighRxt */
    uint32_t sack_high;         /* highest sequence SACKed */
    uint32_t sack_rxt_mark;     /* snd_max when the first hole was last retransmitted */

    /* send buffer: slices of the user's buffers through buf->next; the
     * first byte of sndq_head is snd_una (after the SYN) */
    struct buf *sndq_head, *sndq_tail;
    uint32_t snd_cc;            /* bytes queued, sent or not, not yet acked */
    uint32_t sndbuf;
    struct buf *snd_cursor;     /* cache for tcp_sndq_copy: a buf and its offset from snd_una */
    uint32_t snd_cursor_off;

    /* receive buffer: in-order data for tcp_recv, then out-of-order data */
    struct buf *rcvq_head, *rcvq_tail;
    uint32_t rcv_cc;
    uint32_t rcvbuf;
    struct tcp_ooo *ooo;
    uint32_t ooo_bytes, ooo_count;

    /* keepalive */
    uint64_t keepidle_ns, keepintvl_ns;
    uint32_t keepcnt, keepprobes;

    /* timers */
    struct timer t_rexmt;       /* retransmission, SYN retry or persist */
    struct timer t_delack;
    struct timer t_keep;        /* keepalive, TIME_WAIT and FIN_WAIT_2 */

    struct tcp_conn_stats st;
};

/* Stack-wide counters. */
struct tcp_stats {
    uint64_t segs_in, segs_out, rx_bad_checksum, rx_bad_header, rx_out_of_window, rx_no_socket, rst_sent,
        rst_rcvd, retransmits, rto_events, fast_retransmits, sack_recoveries, dup_acks, zero_window_probes,
        challenge_acks, accept_overflows, syn_overflows, paws_drops, active_opens, passive_opens,
        conn_timeouts, keepalive_probes, ooo_segments, delayed_acks, bytes_in, bytes_out, conns_refused,
        conns_reset, rcv_after_close, ooo_drops, lost_retransmits, sack_blocks_in, rx_dup_segments, window_updates,
        conns_max_drops;
};

struct tcp_stack {
    struct inet_stack *s;
    struct tcp_conn **tbl;      /* connection table on the 4-tuple */
    uint32_t tbl_mask, nconns;
    struct tcp_conn **btbl;     /* bind table on the local port */
    uint32_t btbl_mask;
    uint64_t key[2];            /* SipHash key of ISNs and hashes */
    const struct tcp_cc_ops *cc;
    struct tcp_conn *ev_head, *ev_tail;
    struct tcp_conn *zombies;   /* freed when busy drops to 0 */
    int busy;
    uint32_t nall;              /* connections allocated */
    struct tcp_conn *all;
    struct tcp_stats st;
};

/* tcp_subr.c */
uint64_t tcp_siphash(const uint64_t key[2], const void *data, size_t len);
uint32_t tcp_new_isn(struct inet_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
struct tcp_conn *tcp_conn_alloc(struct inet_stack *s);
void tcp_conn_init_defaults(struct tcp_conn *c);
int tcp_hash_insert(struct tcp_conn *c);
void tcp_hash_remove(struct tcp_conn *c);
struct tcp_conn *tcp_lookup(struct inet_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
struct tcp_conn *tcp_lookup_listener(struct inet_stack *s, uint32_t lip, uint16_t lport);
int tcp_bind_insert(struct tcp_conn *c, uint32_t ip, uint16_t port);
int tcp_port_ephemeral(struct tcp_conn *c, uint32_t rip, uint16_t rport);
void tcp_bind_remove(struct tcp_conn *c);
/* Moves c to CLOSED and frees it now or once nothing else uses it. */
void tcp_conn_destroy(struct tcp_conn *c);
/* Fails c with err: error event to the owner, CLOSED. */
void tcp_conn_drop(struct tcp_conn *c, int err);
void tcp_event(struct tcp_conn *c, enum tcp_event ev);
void tcp_enter(struct inet_stack *s);
void tcp_leave(struct inet_stack *s);
void tcp_set_state(struct tcp_conn *c, enum tcp_state st);
uint16_t tcp_mss_for(const struct inet_stack *s);
uint8_t tcp_wscale_for(uint32_t rcvbuf);
void tcp_sndq_drop(struct tcp_conn *c, uint32_t n);
void tcp_rcvq_free(struct tcp_conn *c);

/* tcp_output.c */
int tcp_output(struct tcp_conn *c);
/* Sends one segment of c: seq, flags, len bytes of the send queue from
 * offset off. Returns 0 or an errno. */
int tcp_send_segment(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint32_t off, uint32_t len);
void tcp_send_ack_now(struct tcp_conn *c);
void tcp_send_challenge_ack(struct tcp_conn *c);
/* Answers an unexpected segment with a RST (RFC 9293 "reset generation"). */
void tcp_respond_rst(struct inet_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport, uint32_t seq,
                     uint32_t ack, uint8_t flags, uint32_t seg_len);
uint32_t tcp_rcv_window(struct tcp_conn *c);
uint32_t tcp_ts_now(const struct tcp_conn *c);
uint32_t tcp_flight(const struct tcp_conn *c);

/* tcp_timer.c */
void tcp_timers_init(struct tcp_conn *c);
void tcp_timers_cancel(struct tcp_conn *c);
void tcp_rexmt_arm(struct tcp_conn *c);
void tcp_rexmt_cancel(struct tcp_conn *c);
void tcp_persist_arm(struct tcp_conn *c);
void tcp_delack_arm(struct tcp_conn *c);
void tcp_keep_arm(struct tcp_conn *c);
void tcp_timewait_arm(struct tcp_conn *c);
void tcp_rtt_sample(struct tcp_conn *c, uint64_t rtt_ns);
uint64_t tcp_rto_backed_off(const struct tcp_conn *c);

/* tcp_sack.c */
void tcp_sack_rcv_update(struct tcp_conn *c, uint32_t start, uint32_t end);
void tcp_sack_rcv_trim(struct tcp_conn *c);
void tcp_sack_update(struct tcp_conn *c, const struct tcp_sack_hole *blk, int n);
void tcp_sack_clean(struct tcp_conn *c);
/* True if [seq, seq+len) is fully SACKed. */
int tcp_sack_is_sacked(const struct tcp_conn *c, uint32_t seq, uint32_t len);
/* RFC 6675 NextSeg: the next hole to retransmit; returns 1 and sets *seq and *len. */
int tcp_sack_next_hole(struct tcp_conn *c, uint32_t *seq, uint32_t *len);
uint32_t tcp_sack_pipe(const struct tcp_conn *c);
void tcp_sack_free(struct tcp_conn *c);

#endif /* DEMI_INET_TCP_TCP_VAR_H_ */
