/*
 * Ethernet II: demultiplexes received frames by EtherType and prepends the
 * header on output. Frames not addressed to our MAC or broadcast are
 * counted and dropped (the device may be promiscuous).
 */
#include <errno.h>
#include <string.h>

#include "proto.h"

const uint8_t eth_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void eth_input(struct inet_stack *s, struct buf *frame)
{
    const uint8_t *h = frame->data;
    uint16_t type;

    s->eth_rx_frames++;
    if (frame->len < ETH_HDR_LEN) {
        s->eth_rx_runts++;
        goto drop;
    }
    if (memcmp(h, s->cfg.mac, 6) != 0 && memcmp(h, eth_broadcast, 6) != 0) {
        s->eth_rx_not_for_us++;
        goto drop;
    }
    type = rd16(h + 12);
    buf_adj(frame, ETH_HDR_LEN);
    switch (type) {
    case ETHERTYPE_IPV4_:
        ipv4_input(s, frame);
        return;
    case ETHERTYPE_ARP_:
        arp_input(s, frame);
        return;
    default:
        s->eth_rx_unknown_type++;
        goto drop;
    }
drop:
    buf_unref(frame);
}

int eth_output(struct inet_stack *s, struct buf *pkt, const uint8_t dst[6], uint16_t ethertype)
{
    uint8_t *h = inet_buf_prepend(&pkt, ETH_HDR_LEN);

    if (!h)
        return ENOMEM;
    memcpy(h, dst, 6);
    memcpy(h + 6, s->cfg.mac, 6);
    wr16(h + 12, ethertype);
    s->eth_tx_frames++;
    inet_tx_enqueue(s, pkt);
    return 0;
}
