/*
 * The rdma libOS's wire formats: parsers that check every field a peer
 * sends, and the writers of the same layouts (see rdma_wire.h).
 */
#include "rdma_wire.h"

#include <endian.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

static void put16(uint8_t *p, uint16_t v)
{
    v = htole16(v);
    memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}

/* Checks an RTS after its header: exact length, 1..RDMA_RTS_SEGS_MAX
 * segments of non-zero length that add up to a size within the limit, and
 * no segment whose address range wraps. */
static int parse_rts(const uint8_t *p, size_t len, const struct rdma_wire_limits *lim, struct rdma_wire_msg *m)
{
    uint64_t sum = 0;

    if (m->len == 0 || m->len > RDMA_RTS_SEGS_MAX)
        return RDMA_WIRE_SEGS_BAD;
    if (len < RDMA_RTS_LEN(m->len))
        return RDMA_WIRE_SHORT;
    if (len != RDMA_RTS_LEN(m->len))
        return RDMA_WIRE_LEN_BAD;
    m->size = get64(p + RDMA_HDR_LEN);
    if (m->size == 0 || m->size > lim->msg_max || m->size > UINT32_MAX)
        return RDMA_WIRE_SIZE_BAD;
    for (uint32_t i = 0; i < m->len; i++) {
        const uint8_t *s = p + RDMA_HDR_LEN + 8 + (size_t)i * RDMA_RTS_SEG_LEN;
        struct rdma_wire_seg *g = &m->segs[i];

        g->addr = get64(s);
        g->key = get64(s + 8);
        g->len = get64(s + 16);
        if (g->len == 0 || g->len > m->size - sum || g->addr > UINT64_MAX - g->len)
            return RDMA_WIRE_SEGS_BAD;
        sum += g->len;
    }
    return sum == m->size ? RDMA_WIRE_OK : RDMA_WIRE_SEGS_BAD;
}

int rdma_wire_parse(const void *buf, size_t len, const struct rdma_wire_limits *lim, struct rdma_wire_msg *out)
{
    const uint8_t *p = buf;

    if (len < RDMA_HDR_LEN)
        return RDMA_WIRE_SHORT;
    if (p[1] != RDMA_WIRE_VERSION)
        return RDMA_WIRE_VERSION_BAD;
    out->type = p[0];
    out->credits = get16(p + 2);
    out->len = get32(p + 4);
    out->id = get64(p + 8);
    out->payload = NULL;
    out->size = 0;
    switch (out->type) {
    case RDMA_MSG_DATA:
        if (out->len == 0 || out->len != len - RDMA_HDR_LEN)
            return RDMA_WIRE_LEN_BAD;
        if (out->len > lim->msg_max)
            return RDMA_WIRE_SIZE_BAD;
        out->payload = p + RDMA_HDR_LEN;
        out->size = out->len;
        return RDMA_WIRE_OK;
    case RDMA_MSG_RTS:
        return parse_rts(p, len, lim, out);
    case RDMA_MSG_DONE:
    case RDMA_MSG_CREDIT:
    case RDMA_MSG_BYE:
        if (len != RDMA_HDR_LEN || out->len != 0)
            return RDMA_WIRE_LEN_BAD;
        return RDMA_WIRE_OK;
    default:
        return RDMA_WIRE_TYPE_BAD;
    }
}

void rdma_wire_put_hdr(void *buf, uint8_t type, uint16_t credits, uint32_t len, uint64_t id)
{
    uint8_t *p = buf;

    p[0] = type;
    p[1] = RDMA_WIRE_VERSION;
    put16(p + 2, credits);
    put32(p + 4, len);
    put64(p + 8, id);
}

void rdma_wire_put_credits(void *buf, uint16_t credits)
{
    put16((uint8_t *)buf + 2, credits);
}

uint32_t rdma_wire_put_rts(void *buf, uint64_t id, uint64_t size, const struct rdma_wire_seg *segs, uint32_t n)
{
    uint8_t *p = buf;

    rdma_wire_put_hdr(p, RDMA_MSG_RTS, 0, n, id);
    put64(p + RDMA_HDR_LEN, size);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *s = p + RDMA_HDR_LEN + 8 + (size_t)i * RDMA_RTS_SEG_LEN;
        put64(s, segs[i].addr);
        put64(s + 8, segs[i].key);
        put64(s + 16, segs[i].len);
    }
    return RDMA_RTS_LEN(n);
}

int rdma_wire_parse_cm(const void *buf, size_t len, struct rdma_wire_cm *out)
{
    const uint8_t *p = buf;

    if (len < RDMA_CM_LEN)
        return RDMA_WIRE_SHORT;
    if (get32(p) != RDMA_CM_MAGIC)
        return RDMA_WIRE_MAGIC_BAD;
    out->recv_bufs = get32(p + 4);
    out->recv_size = get32(p + 8);
    out->credits = get32(p + 12);
    if (out->recv_bufs < RDMA_RECV_BUFS_MIN || out->recv_bufs > RDMA_RECV_BUFS_MAX ||
        out->recv_size < RDMA_RECV_SIZE_MIN || out->recv_size > RDMA_RECV_SIZE_MAX || out->credits > out->recv_bufs)
        return RDMA_WIRE_RANGE_BAD;
    return RDMA_WIRE_OK;
}

void rdma_wire_put_cm(void *buf, const struct rdma_wire_cm *cm)
{
    uint8_t *p = buf;

    put32(p, RDMA_CM_MAGIC);
    put32(p + 4, cm->recv_bufs);
    put32(p + 8, cm->recv_size);
    put32(p + 12, cm->credits);
}

int rdma_wire_parse_dgram(const void *buf, size_t len, uint32_t max_payload, struct rdma_wire_dgram *out)
{
    const uint8_t *p = buf;

    if (len < RDMA_DGRAM_HDR_LEN)
        return RDMA_WIRE_SHORT;
    if (get32(p) != RDMA_DGRAM_MAGIC)
        return RDMA_WIRE_MAGIC_BAD;
    if (p[4] != RDMA_WIRE_VERSION)
        return RDMA_WIRE_VERSION_BAD;
    if (p[5] != 0)
        return RDMA_WIRE_RANGE_BAD;     /* reserved */
    memcpy(&out->port, p + 6, sizeof(out->port));
    memcpy(&out->ip, p + 8, sizeof(out->ip));
    out->len = get32(p + 12);
    if (out->len != len - RDMA_DGRAM_HDR_LEN)
        return RDMA_WIRE_LEN_BAD;
    if (out->len > max_payload)
        return RDMA_WIRE_SIZE_BAD;
    if (out->port == 0 || out->ip == 0)
        return RDMA_WIRE_RANGE_BAD;     /* no reply address */
    out->payload = p + RDMA_DGRAM_HDR_LEN;
    return RDMA_WIRE_OK;
}

void rdma_wire_put_dgram(void *buf, uint32_t ip, uint16_t port, uint32_t len)
{
    uint8_t *p = buf;

    put32(p, RDMA_DGRAM_MAGIC);
    p[4] = RDMA_WIRE_VERSION;
    p[5] = 0;
    memcpy(p + 6, &port, sizeof(port));
    memcpy(p + 8, &ip, sizeof(ip));
    put32(p + 12, len);
}

const char *rdma_wire_strerror(int err)
{
    switch (err) {
    case RDMA_WIRE_OK: return "ok";
    case RDMA_WIRE_SHORT: return "short message";
    case RDMA_WIRE_VERSION_BAD: return "unknown version";
    case RDMA_WIRE_TYPE_BAD: return "unknown message type";
    case RDMA_WIRE_LEN_BAD: return "length field disagrees with the message";
    case RDMA_WIRE_SIZE_BAD: return "declared size 0 or over the limit";
    case RDMA_WIRE_SEGS_BAD: return "bad rendezvous segments";
    case RDMA_WIRE_MAGIC_BAD: return "bad magic";
    case RDMA_WIRE_RANGE_BAD: return "value out of range";
    default: return "?";
    }
}
