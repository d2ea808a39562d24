/*
 * TCP counters, stack-wide (tcp.*) and per connection (tcp.conn.*), as
 * named demi_counter values.
 */
#include <demi/stats.h>

#include "inet/proto.h"
#include "tcp_var.h"

size_t tcp_counters(const struct inet_stack *s, struct demi_counter *out, size_t cap)
{
    const struct tcp_stats *t;
    size_t n = 0;

    if (!s->tcp)
        return 0;
    t = &s->tcp->st;
#define PUT(name, v) n = inet_counter_put(out, cap, n, "tcp." name, (v))
    PUT("segs_in", t->segs_in);
    PUT("segs_out", t->segs_out);
    PUT("bytes_in", t->bytes_in);
    PUT("bytes_out", t->bytes_out);
    PUT("rx_bad_checksum", t->rx_bad_checksum);
    PUT("rx_bad_header", t->rx_bad_header);
    PUT("rx_out_of_window", t->rx_out_of_window);
    PUT("rx_dup_segments", t->rx_dup_segments);
    PUT("rx_no_socket", t->rx_no_socket);
    PUT("rx_ooo_segments", t->ooo_segments);
    PUT("rx_ooo_drops", t->ooo_drops);
    PUT("rx_paws_drops", t->paws_drops);
    PUT("rx_sack_blocks", t->sack_blocks_in);
    PUT("rx_after_close", t->rcv_after_close);
    PUT("rst_sent", t->rst_sent);
    PUT("rst_rcvd", t->rst_rcvd);
    PUT("retransmits", t->retransmits);
    PUT("rto_events", t->rto_events);
    PUT("lost_retransmits", t->lost_retransmits);
    PUT("fast_retransmits", t->fast_retransmits);
    PUT("sack_recoveries", t->sack_recoveries);
    PUT("dup_acks", t->dup_acks);
    PUT("zero_window_probes", t->zero_window_probes);
    PUT("challenge_acks", t->challenge_acks);
    PUT("accept_overflows", t->accept_overflows);
    PUT("syn_overflows", t->syn_overflows);
    PUT("active_opens", t->active_opens);
    PUT("passive_opens", t->passive_opens);
    PUT("conns_refused", t->conns_refused);
    PUT("conns_reset", t->conns_reset);
    PUT("conn_timeouts", t->conn_timeouts);
    PUT("conns_limit_drops", t->conns_max_drops);
    PUT("keepalive_probes", t->keepalive_probes);
    PUT("delayed_acks", t->delayed_acks);
    PUT("window_updates", t->window_updates);
    PUT("conns", s->tcp->nall);
#undef PUT
    return n;
}

size_t tcp_conn_counters(const struct tcp_conn *c, struct demi_counter *out, size_t cap)
{
    const struct tcp_conn_stats *t = &c->st;
    size_t n = 0;

#define PUT(name, v) n = inet_counter_put(out, cap, n, "tcp.conn." name, (v))
    PUT("segs_in", t->segs_in);
    PUT("segs_out", t->segs_out);
    PUT("bytes_in", t->bytes_in);
    PUT("bytes_out", t->bytes_out);
    PUT("retransmits", t->retransmits);
    PUT("rto_events", t->rto_events);
    PUT("fast_retransmits", t->fast_retransmits);
    PUT("sack_recoveries", t->sack_recoveries);
    PUT("dup_acks", t->dup_acks);
    PUT("ooo_segments", t->ooo_segments);
    PUT("zero_window_probes", t->zero_window_probes);
    PUT("cwnd", c->cwnd);
    PUT("ssthresh", c->ssthresh);
    PUT("cwnd_at_loss", c->cwnd_at_loss);
    PUT("flight_at_loss", c->flight_at_loss);
    PUT("srtt_us", c->srtt_ns / 1000);
    PUT("rto_us", c->rto_ns / 1000);
    PUT("snd_wnd", c->snd_wnd);
    PUT("mss", c->t_maxseg);
    PUT("state", (uint64_t)c->state);
#undef PUT
    return n;
}
