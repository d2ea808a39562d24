/*
 * Small helpers shared by the stack tests: raw frame builders.
 */
#ifndef DEMI_TESTS_STACK_TEST_UTIL_H_
#define DEMI_TESTS_STACK_TEST_UTIL_H_

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"

static inline void tu_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Writes an Ethernet header; returns 14. */
static inline size_t tu_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    tu_wr16(f + 12, type);
    return 14;
}

/* Writes a 20-byte IPv4 header with a correct checksum; returns 20. */
static inline size_t tu_ipv4(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, uint16_t payload_len,
                             uint8_t ttl, uint16_t frag)
{
    uint16_t c;

    p[0] = 0x45;
    p[1] = 0;
    tu_wr16(p + 2, (uint16_t)(20 + payload_len));
    tu_wr16(p + 4, 0x1234);
    tu_wr16(p + 6, frag);
    p[8] = ttl;
    p[9] = proto;
    p[10] = p[11] = 0;
    memcpy(p + 12, &src, 4);
    memcpy(p + 16, &dst, 4);
    c = inet_csum_fold(inet_csum_partial(p, 20, 0));
    memcpy(p + 10, &c, 2);
    return 20;
}

/* MAC of harness stack i. */
static inline void tu_mac(int i, uint8_t mac[6])
{
    static const uint8_t base[6] = {0x02, 0, 0, 0, 0, 0};
    memcpy(mac, base, 6);
    mac[5] = (uint8_t)(i + 1);
}

#endif /* DEMI_TESTS_STACK_TEST_UTIL_H_ */
