/*
 * SACK (RFC 2018) and SACK-based loss recovery (RFC 6675).
 * Receiver side: c->rcv_sack holds the blocks we report, the block of the
 * latest out-of-order segment first. Sender side: c->sb is the scoreboard,
 * sorted disjoint ranges the peer holds above snd_una; a hole below the
 * highest SACKed sequence is taken as lost; c->sack_rxt_next is HighRxt.
 */
#include <stdlib.h>
#include <string.h>

#include "tcp_var.h"

/* Records that [start, end) arrived out of order; it is merged with the
 * out-of-order queue's ranges so the first block covers it. */
void tcp_sack_rcv_update(struct tcp_conn *c, uint32_t start, uint32_t end)
{
    struct tcp_sack_hole nb[TCP_SACK_MAX_BLOCKS];
    uint32_t n = 0;

    /* the contiguous run of the (sorted) out-of-order queue holding [start, end) */
    for (struct tcp_ooo *o = c->ooo; o;) {
        uint32_t rs = o->seq, re = o->seq + o->len;
        for (o = o->next; o && SEQ_LEQ(o->seq, re); o = o->next)
            re = SEQ_MAX(re, o->seq + o->len);
        if (SEQ_LEQ(rs, end) && SEQ_GEQ(re, start)) {
            start = SEQ_MIN(start, rs);
            end = SEQ_MAX(end, re);
            break;
        }
    }
    nb[n].start = start;
    nb[n].end = end;
    n++;
    for (uint32_t i = 0; i < c->rcv_sack_n && n < TCP_SACK_MAX_BLOCKS; i++) {
        struct tcp_sack_hole b = c->rcv_sack[i];
        if (SEQ_LEQ(b.end, c->rcv_nxt))
            continue;
        if (SEQ_GEQ(b.start, start) && SEQ_LEQ(b.end, end))
            continue;
        if (SEQ_LEQ(b.start, end) && SEQ_GEQ(b.end, start))
            continue;
        nb[n++] = b;
    }
    memcpy(c->rcv_sack, nb, n * sizeof(nb[0]));
    c->rcv_sack_n = n;
}

/* Drops reported blocks that rcv_nxt has passed. */
void tcp_sack_rcv_trim(struct tcp_conn *c)
{
    uint32_t k = 0;

    for (uint32_t i = 0; i < c->rcv_sack_n; i++) {
        if (SEQ_LEQ(c->rcv_sack[i].end, c->rcv_nxt))
            continue;
        if (SEQ_LT(c->rcv_sack[i].start, c->rcv_nxt))
            c->rcv_sack[i].start = c->rcv_nxt;
        c->rcv_sack[k++] = c->rcv_sack[i];
    }
    c->rcv_sack_n = k;
}

/* Inserts [s, e) into the sorted, merged scoreboard. */
static void tcp_sb_insert(struct tcp_conn *c, uint32_t s, uint32_t e)
{
    uint32_t i, j;

    if (c->sb_n == c->sb_cap) {
        uint32_t ncap = c->sb_cap ? c->sb_cap * 2 : 8;
        struct tcp_sack_hole *n;
        if (ncap > 1024)
            return;     /* bounded: a peer cannot make us grow without end */
        n = realloc(c->sb, ncap * sizeof(*n));
        if (!n)
            return;
        c->sb = n;
        c->sb_cap = ncap;
    }
    for (i = 0; i < c->sb_n && SEQ_LT(c->sb[i].start, s); i++)
        ;
    memmove(c->sb + i + 1, c->sb + i, (c->sb_n - i) * sizeof(*c->sb));
    c->sb[i].start = s;
    c->sb[i].end = e;
    c->sb_n++;
    /* merge neighbours */
    for (i = 0, j = 0; i < c->sb_n; i++) {
        if (j && SEQ_LEQ(c->sb[i].start, c->sb[j - 1].end)) {
            c->sb[j - 1].end = SEQ_MAX(c->sb[j - 1].end, c->sb[i].end);
            continue;
        }
        c->sb[j++] = c->sb[i];
    }
    c->sb_n = j;
}

/* Adds received SACK blocks and forgets what snd_una passed. */
void tcp_sack_update(struct tcp_conn *c, const struct tcp_sack_hole *blk, int n)
{
    uint32_t k = 0;

    for (int i = 0; i < n; i++) {
        uint32_t s = blk[i].start, e = blk[i].end;
        if (!SEQ_LT(s, e) || SEQ_LEQ(e, c->snd_una) || SEQ_GT(e, c->snd_max))
            continue;
        if (SEQ_LT(s, c->snd_una))
            s = c->snd_una;
        tcp_sb_insert(c, s, e);
        c->s->tcp->st.sack_blocks_in++;
        if (SEQ_GT(e, c->sack_high) || c->sb_n == 1)
            c->sack_high = SEQ_MAX(e, c->sack_high);
    }
    for (uint32_t i = 0; i < c->sb_n; i++) {
        if (SEQ_LEQ(c->sb[i].end, c->snd_una))
            continue;
        if (SEQ_LT(c->sb[i].start, c->snd_una))
            c->sb[i].start = c->snd_una;
        c->sb[k++] = c->sb[i];
    }
    c->sb_n = k;
    if (k == 0)
        c->sack_high = c->snd_una;
    if (SEQ_LT(c->sack_rxt_next, c->snd_una))
        c->sack_rxt_next = c->snd_una;
}

void tcp_sack_clean(struct tcp_conn *c)
{
    c->sb_n = 0;
    c->sack_high = c->snd_una;
    c->sack_rxt_next = c->snd_una;
}

void tcp_sack_free(struct tcp_conn *c)
{
    free(c->sb);
    c->sb = NULL;
    c->sb_n = c->sb_cap = 0;
}

int tcp_sack_is_sacked(const struct tcp_conn *c, uint32_t seq, uint32_t len)
{
    for (uint32_t i = 0; i < c->sb_n; i++)
        if (SEQ_LEQ(c->sb[i].start, seq) && SEQ_GEQ(c->sb[i].end, seq + len))
            return 1;
    return 0;
}

/* Bytes SACKed in [from, to). */
static uint32_t tcp_sacked_between(const struct tcp_conn *c, uint32_t from, uint32_t to)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < c->sb_n; i++) {
        uint32_t s = SEQ_MAX(c->sb[i].start, from), e = SEQ_MIN(c->sb[i].end, to);
        if (SEQ_LT(s, e))
            n += e - s;
    }
    return n;
}

int tcp_sack_next_hole(struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
    uint32_t x = SEQ_MAX(c->sack_rxt_next, c->snd_una);

    for (uint32_t i = 0; i < c->sb_n; i++) {
        if (SEQ_LEQ(c->sb[i].end, x))
            continue;
        if (SEQ_LT(x, c->sb[i].start)) {
            *seq = x;
            *len = c->sb[i].start - x;
            return 1;
        }
        x = c->sb[i].end;
    }
    return 0;
}

/* RFC 6675 pipe: bytes in flight, less SACKed ones and holes taken as lost
 * and not yet retransmitted. */
uint32_t tcp_sack_pipe(const struct tcp_conn *c)
{
    uint32_t flight = c->snd_max - c->snd_una;
    uint32_t sacked = tcp_sacked_between(c, c->snd_una, c->snd_max);
    uint32_t rx = SEQ_MAX(c->sack_rxt_next, c->snd_una);
    uint32_t lost = 0;

    if (SEQ_LT(rx, c->sack_high))
        lost = (c->sack_high - rx) - tcp_sacked_between(c, rx, c->sack_high);
    return flight > sacked + lost ? flight - sacked - lost : 0;
}
