/*
 * The Internet checksum (RFC 1071) and the IPv4 pseudo-header sum.
 *
 * Sums are kept in the machine's byte order over the raw bytes (the
 * RFC 1071 byte-order independence), so inet_csum_fold's result is already
 * in network byte order: store it into the header as it is.
 */
#include <arpa/inet.h>
#include <string.h>

#include "stack.h"

uint32_t inet_csum_partial(const void *p, size_t len, uint32_t sum)
{
    const uint8_t *b = p;
    uint64_t acc = sum;

    /* 32 bits at a time into a 64-bit accumulator: no carry is lost. */
    while (len >= 4) {
        uint32_t w;
        memcpy(&w, b, 4);
        acc += w;
        b += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t h;
        memcpy(&h, b, 2);
        acc += h;
        b += 2;
        len -= 2;
    }
    if (len) {
        uint8_t last[2] = {b[0], 0};
        uint16_t h;
        memcpy(&h, last, 2);
        acc += h;
    }
    while (acc >> 32)
        acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffff) + (acc >> 16);
    return (uint32_t)acc;
}

uint16_t inet_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t inet_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len)
{
    uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
    return sum + htons(proto) + htons(l4_len);
}
