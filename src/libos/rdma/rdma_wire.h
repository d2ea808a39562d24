/*
 * The rdma libOS's wire formats (private to libdemi): the header of every
 * message on a connection, the connection data of fi_connect / fi_accept,
 * and the header of a datagram. Pure code: no libfabric, no allocation, no
 * state, so the parsers can be fuzzed on their own (fuzz/fuzz_rdma_ctrl.c).
 *
 * All integers are little-endian. Every field a peer sends is checked here
 * against the limits the caller passes; what needs the connection's state
 * (credits against buffers, a DONE naming a message we sent) is checked by
 * the caller.
 *
 * Connection messages (version 2), a 16-byte header first:
 *   u8 type, u8 version, u16 credits, u32 len, u64 id
 *   DATA   len payload bytes follow (1 <= len <= receive buffer - 16)
 *   RTS    len = number of segments n (1..RDMA_RTS_SEGS_MAX), id = message
 *          id; then u64 size and n x {u64 addr, u64 key, u64 len}: the
 *          receiver reads each segment with fi_read (addr is the segment's
 *          virtual address under FI_MR_VIRT_ADDR, else 0) and the segments'
 *          lengths add up to size
 *   DONE   id = the RTS whose data the receiver has read (the sender closes
 *          its registrations)
 *   CREDIT, BYE  header only
 */
#ifndef DEMI_LIBOS_RDMA_RDMA_WIRE_H_
#define DEMI_LIBOS_RDMA_RDMA_WIRE_H_

#include <stddef.h>
#include <stdint.h>

#define RDMA_WIRE_VERSION 2
#define RDMA_CM_MAGIC 0x444d4932u       /* "DMI2" */
#define RDMA_DGRAM_MAGIC 0x444d4744u    /* "DMGD" */

#define RDMA_HDR_LEN 16u
#define RDMA_RTS_SEGS_MAX 16u           /* DEMI_SGARRAY_MAXSIZE */
#define RDMA_RTS_SEG_LEN 24u
#define RDMA_RTS_LEN(n) (RDMA_HDR_LEN + 8u + (uint32_t)(n) * RDMA_RTS_SEG_LEN)
#define RDMA_RTS_LEN_MAX RDMA_RTS_LEN(RDMA_RTS_SEGS_MAX)   /* 408 */

#define RDMA_CM_LEN 16u
#define RDMA_DGRAM_HDR_LEN 16u

/* Receive buffers: how many a side may post and how large they may be. */
#define RDMA_RECV_BUFS_MIN 4u           /* fewer could deadlock the credit exchange */
#define RDMA_RECV_BUFS_MAX 4096u
#define RDMA_RECV_SIZE_MIN 512u         /* room for the largest RTS */
#define RDMA_RECV_SIZE_MAX (16u << 20)

enum rdma_msg_type {
    RDMA_MSG_DATA = 1,
    RDMA_MSG_RTS = 2,
    RDMA_MSG_DONE = 3,
    RDMA_MSG_CREDIT = 4,
    RDMA_MSG_BYE = 5,
};

/* Why a message was refused (negative returns of the parsers). */
enum rdma_wire_err {
    RDMA_WIRE_OK = 0,
    RDMA_WIRE_SHORT = -1,           /* shorter than its header or its fields say */
    RDMA_WIRE_VERSION_BAD = -2,
    RDMA_WIRE_TYPE_BAD = -3,
    RDMA_WIRE_LEN_BAD = -4,         /* length field disagrees with the bytes received */
    RDMA_WIRE_SIZE_BAD = -5,        /* a declared size is 0 or over the limit */
    RDMA_WIRE_SEGS_BAD = -6,        /* segment count, a segment length or their sum is wrong */
    RDMA_WIRE_MAGIC_BAD = -7,
    RDMA_WIRE_RANGE_BAD = -8,       /* buffers, buffer size or credits out of range */
};

struct rdma_wire_seg {
    uint64_t addr;
    uint64_t key;
    uint64_t len;
};

/* A parsed connection message (host byte order). */
struct rdma_wire_msg {
    uint8_t type;                   /* enum rdma_msg_type */
    uint16_t credits;
    uint32_t len;                   /* DATA: payload bytes; RTS: segments */
    uint64_t id;
    const uint8_t *payload;         /* DATA: inside the parsed buffer */
    uint64_t size;                  /* DATA: len; RTS: message bytes */
    struct rdma_wire_seg segs[RDMA_RTS_SEGS_MAX];   /* RTS: the first len are valid */
};

/* The limits a message is checked against. */
struct rdma_wire_limits {
    uint64_t msg_max;               /* largest message (DEMI_SGA_MAX, at most 4 GiB - 1) */
};

/* Parses the len bytes at buf received on a connection. Returns 0 with *out
 * filled, or a negative enum rdma_wire_err. Never reads past buf + len. */
int rdma_wire_parse(const void *buf, size_t len, const struct rdma_wire_limits *lim, struct rdma_wire_msg *out);

/* Writes a header at buf (at least RDMA_HDR_LEN bytes). */
void rdma_wire_put_hdr(void *buf, uint8_t type, uint16_t credits, uint32_t len, uint64_t id);

/* Writes only the credits field of a header already at buf. */
void rdma_wire_put_credits(void *buf, uint16_t credits);

/* Writes an RTS of n segments at buf (RDMA_RTS_LEN(n) bytes, with the
 * header); returns its length. */
uint32_t rdma_wire_put_rts(void *buf, uint64_t id, uint64_t size, const struct rdma_wire_seg *segs, uint32_t n);

/* Connection data of fi_connect / fi_accept: the sender's receive buffers
 * (count and size) and the credits it grants now (all of them when
 * connecting; 0 when accepting, the rest come with the application's
 * demi_accept). */
struct rdma_wire_cm {
    uint32_t recv_bufs;
    uint32_t recv_size;
    uint32_t credits;
};

/* Parses connection data; returns 0 or a negative enum rdma_wire_err
 * (wrong magic, buffers or sizes out of range, more credits than buffers). */
int rdma_wire_parse_cm(const void *buf, size_t len, struct rdma_wire_cm *out);

/* Writes connection data (RDMA_CM_LEN bytes). */
void rdma_wire_put_cm(void *buf, const struct rdma_wire_cm *cm);

/* Header of a datagram: u32 magic, u8 version, u8 0, u16 source port
 * (network order, as in sockaddr_in), u32 source IPv4 address (network
 * order), u32 payload bytes. The source is what a pop reports and where a
 * reply goes. */
struct rdma_wire_dgram {
    uint32_t ip;                    /* network order */
    uint16_t port;                  /* network order */
    uint32_t len;
    const uint8_t *payload;
};

/* Parses a datagram of len bytes (payload at most max_payload); returns 0
 * or a negative enum rdma_wire_err. */
int rdma_wire_parse_dgram(const void *buf, size_t len, uint32_t max_payload, struct rdma_wire_dgram *out);

/* Writes a datagram header (RDMA_DGRAM_HDR_LEN bytes). */
void rdma_wire_put_dgram(void *buf, uint32_t ip, uint16_t port, uint32_t len);

/* A short name of an enum rdma_wire_err, for logs. */
const char *rdma_wire_strerror(int err);

#endif /* DEMI_LIBOS_RDMA_RDMA_WIRE_H_ */
