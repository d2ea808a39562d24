/*
 * libFuzzer harness of the rdma libOS's wire parsers (src/libos/rdma/
 * rdma_wire.c): every message a peer sends on a connection, the connection
 * data of fi_connect / fi_accept, and the datagram header.
 *
 * Input: byte 0 picks the limit a connection message is checked against
 * (a few sizes, DEMI_SGA_MAX-like and tiny); the rest is the message, given
 * to all three parsers. Besides "never reads out of bounds" (ASan), it
 * checks what the parsers promise: a message they accept has fields within
 * the limits (payload inside the input, segments non-empty, adding up to
 * the size, none wrapping), and writing the parsed fields back gives the
 * same bytes (nothing unchecked slips through). A broken promise aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rdma_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            abort();                                                                                                   \
    } while (0)

static void check_msg(const uint8_t *p, size_t len, uint64_t msg_max)
{
    struct rdma_wire_limits lim = {.msg_max = msg_max};
    struct rdma_wire_msg m;
    uint8_t out[RDMA_RTS_LEN_MAX];
    uint64_t sum = 0;

    if (rdma_wire_parse(p, len, &lim, &m) != 0)
        return;
    CHECK(len >= RDMA_HDR_LEN);
    switch (m.type) {
    case RDMA_MSG_DATA:
        CHECK(m.len > 0 && m.len == len - RDMA_HDR_LEN && m.size == m.len && m.size <= msg_max);
        CHECK(m.payload == p + RDMA_HDR_LEN);
        rdma_wire_put_hdr(out, m.type, m.credits, m.len, m.id);
        CHECK(memcmp(out, p, RDMA_HDR_LEN) == 0);
        break;
    case RDMA_MSG_RTS:
        CHECK(m.len >= 1 && m.len <= RDMA_RTS_SEGS_MAX && len == RDMA_RTS_LEN(m.len));
        CHECK(m.size > 0 && m.size <= msg_max && m.size <= UINT32_MAX);
        for (uint32_t i = 0; i < m.len; i++) {
            CHECK(m.segs[i].len > 0 && m.segs[i].addr <= UINT64_MAX - m.segs[i].len);
            sum += m.segs[i].len;
            CHECK(sum <= m.size);
        }
        CHECK(sum == m.size);
        CHECK(rdma_wire_put_rts(out, m.id, m.size, m.segs, m.len) == len);
        rdma_wire_put_credits(out, m.credits);
        CHECK(memcmp(out, p, len) == 0);
        break;
    case RDMA_MSG_DONE:
    case RDMA_MSG_CREDIT:
    case RDMA_MSG_BYE:
        CHECK(len == RDMA_HDR_LEN && m.len == 0);
        rdma_wire_put_hdr(out, m.type, m.credits, m.len, m.id);
        CHECK(memcmp(out, p, RDMA_HDR_LEN) == 0);
        break;
    default:
        CHECK(0);       /* an unknown type was accepted */
    }
}

static void check_cm(const uint8_t *p, size_t len)
{
    struct rdma_wire_cm cm;
    uint8_t out[RDMA_CM_LEN];

    if (rdma_wire_parse_cm(p, len, &cm) != 0)
        return;
    CHECK(len >= RDMA_CM_LEN);
    CHECK(cm.recv_bufs >= RDMA_RECV_BUFS_MIN && cm.recv_bufs <= RDMA_RECV_BUFS_MAX);
    CHECK(cm.recv_size >= RDMA_RECV_SIZE_MIN && cm.recv_size <= RDMA_RECV_SIZE_MAX);
    CHECK(cm.credits <= cm.recv_bufs);
    rdma_wire_put_cm(out, &cm);
    CHECK(memcmp(out, p, RDMA_CM_LEN) == 0);
}

static void check_dgram(const uint8_t *p, size_t len)
{
    struct rdma_wire_dgram d;
    uint8_t out[RDMA_DGRAM_HDR_LEN];

    if (rdma_wire_parse_dgram(p, len, 65507, &d) != 0)
        return;
    CHECK(len >= RDMA_DGRAM_HDR_LEN && d.len == len - RDMA_DGRAM_HDR_LEN && d.len <= 65507);
    CHECK(d.payload == p + RDMA_DGRAM_HDR_LEN && d.ip != 0 && d.port != 0);
    rdma_wire_put_dgram(out, d.ip, d.port, d.len);
    CHECK(memcmp(out, p, RDMA_DGRAM_HDR_LEN) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t limits[] = {1ull << 30, UINT32_MAX, 4096, 1, 0};
    uint8_t *copy;

    if (size < 1)
        return 0;
    /* A heap copy of exactly the message, so a read past its end is caught. */
    copy = malloc(size - 1 ? size - 1 : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    check_msg(copy, size - 1, limits[data[0] % (sizeof(limits) / sizeof(limits[0]))]);
    check_cm(copy, size - 1);
    check_dgram(copy, size - 1);
    free(copy);
    return 0;
}
