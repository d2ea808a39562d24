/* Message contents for demi-echo (see echo_pattern.h). */
#include "echo_pattern.h"

#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* splitmix64's output function: a bijective 64-bit mixer. */
static inline uint64_t pattern_mix(uint64_t x)
{
    x *= 0x9E3779B97F4A7C15ull;
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

uint64_t echo_pattern_seed(uint32_t conn, uint64_t seq)
{
    return pattern_mix(pattern_mix((uint64_t)conn + 0x5DEECE66Dull) ^ seq);
}

uint8_t echo_pattern_byte(uint64_t seed, uint64_t off)
{
    return (uint8_t)(pattern_mix(seed + (off >> 3)) >> (8 * (off & 7)));
}

/* Writes len bytes of the message, from message offset off, to p. */
static void pattern_write(uint8_t *p, size_t len, uint64_t seed, uint64_t off)
{
    size_t i = 0;
    while (i < len && ((off + i) & 7))
        p[i] = echo_pattern_byte(seed, off + i), i++;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = htole64(pattern_mix(seed + ((off + i) >> 3)));
        memcpy(p + i, &w, 8);
    }
    for (; i < len; i++)
        p[i] = echo_pattern_byte(seed, off + i);
}

void echo_pattern_fill(const demi_sgarray_t *sga, uint64_t seed)
{
    uint64_t off = 0;
    for (uint32_t s = 0; s < sga->sga_numsegs && s < DEMI_SGARRAY_MAXSIZE; s++) {
        const demi_sgaseg_t *seg = &sga->sga_segs[s];
        pattern_write(seg->sgaseg_buf, seg->sgaseg_len, seed, off);
        off += seg->sgaseg_len;
    }
}

size_t echo_pattern_check(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
    const uint8_t *p = buf;
    size_t i = 0;
    while (i < len && ((off + i) & 7)) {
        if (p[i] != echo_pattern_byte(seed, off + i))
            return i;
        i++;
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t w = htole64(pattern_mix(seed + ((off + i) >> 3)));
        if (memcmp(p + i, &w, 8) != 0)
            break;  /* the byte loop below finds which one */
    }
    for (; i < len; i++)
        if (p[i] != echo_pattern_byte(seed, off + i))
            return i;
    return len;
}

bool echo_check_echo(const void *buf, size_t len, uint64_t seed, uint64_t off, size_t size, char *why,
                     size_t whylen)
{
    if (off > size || len > size - off) {
        snprintf(why, whylen, "echo has %" PRIu64 " bytes, more than the %zu sent", off + len, size);
        return false;
    }
    size_t bad = echo_pattern_check(buf, len, seed, off);
    if (bad == len)
        return true;
    snprintf(why, whylen, "echo mismatch at byte %" PRIu64 " of %zu: got 0x%02x, expected 0x%02x", off + bad, size,
             ((const uint8_t *)buf)[bad], echo_pattern_byte(seed, off + bad));
    return false;
}
