/*
 * Message contents for demi-echo: a pseudo-random byte stream derived from
 * (connection, sequence number). Byte o of a message is byte (o % 8) of the
 * little-endian word mix(seed + o / 8), so any byte can be checked on its
 * own, at any offset, and a reordered, duplicated or foreign chunk shows up.
 */
#ifndef DEMI_ECHO_PATTERN_H_
#define DEMI_ECHO_PATTERN_H_

#include <demi/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The seed of message seq on connection conn. */
uint64_t echo_pattern_seed(uint32_t conn, uint64_t seq);

/* Fills every segment of sga with the message of the given seed, starting
 * at message offset 0. */
void echo_pattern_fill(const demi_sgarray_t *sga, uint64_t seed);

/* Checks len bytes at buf against the message of the given seed, where buf
 * holds the bytes from message offset off. Returns the index in buf of the
 * first wrong byte, or len when all are right. */
size_t echo_pattern_check(const void *buf, size_t len, uint64_t seed, uint64_t off);

/* The expected byte at message offset off. */
uint8_t echo_pattern_byte(uint64_t seed, uint64_t off);

/* Checks len echoed bytes at buf that start at offset off of a message of
 * size bytes with the given seed. Returns true when they are all right, or
 * false with the reason in why (e.g. "echo mismatch at byte 100 of 300: got
 * 0x12, expected 0x13", or "echo has 400 bytes, more than the 300 sent"). */
bool echo_check_echo(const void *buf, size_t len, uint64_t seed, uint64_t off, size_t size, char *why,
                     size_t whylen);

#endif /* DEMI_ECHO_PATTERN_H_ */
