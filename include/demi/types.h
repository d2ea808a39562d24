/*
 * libdemi public types, source-compatible with Demikernel's C API
 * (include/demi/types.h). Every field name and type matches Demikernel so
 * programs written for it compile unchanged.
 */
#ifndef DEMI_TYPES_H_
#define DEMI_TYPES_H_

#include <stdint.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Maximum number of segments in a scatter-gather array. Demikernel uses 1;
 * libdemi allows more so that very large buffers can be split. Buffers of
 * up to DEMI_SGA_SEGSIZE bytes (1 MiB by default) are always one segment. */
#define DEMI_SGARRAY_MAXSIZE 16

/* An I/O queue token: names one asynchronous operation. One-shot. */
typedef uint64_t demi_qtoken_t;

/* One segment of a scatter-gather array. */
typedef struct demi_sgaseg {
    void *sgaseg_buf;      /* first byte of the segment */
    uint32_t sgaseg_len;   /* length of the segment in bytes */
} demi_sgaseg_t;

/* A scatter-gather array. sga_buf is an opaque handle owned by libdemi
 * (NULL for arrays the application builds itself). */
typedef struct demi_sgarray {
    void *sga_buf;
    uint32_t sga_numsegs;
    demi_sgaseg_t sga_segs[DEMI_SGARRAY_MAXSIZE];
    struct sockaddr_in sga_addr;   /* sender of a popped UDP datagram */
} demi_sgarray_t;

/* What a completed operation was. */
typedef enum demi_opcode {
    DEMI_OPC_INVALID = 0,
    DEMI_OPC_PUSH,
    DEMI_OPC_POP,
    DEMI_OPC_ACCEPT,
    DEMI_OPC_CONNECT,
    DEMI_OPC_CLOSE,
    DEMI_OPC_FAILED,
} demi_opcode_t;

/* Result of a completed accept. */
typedef struct demi_accept_result {
    int32_t qd;                 /* the new connection's queue */
    struct sockaddr_in addr;    /* the peer */
} demi_accept_result_t;

/* Result of a completed operation, filled in by the wait family. */
typedef struct demi_qresult {
    demi_opcode_t qr_opcode;
    int32_t qr_qd;
    demi_qtoken_t qr_qt;
    int64_t qr_ret;             /* 0, or the errno when qr_opcode is DEMI_OPC_FAILED */
    union {
        demi_sgarray_t sga;
        demi_accept_result_t ares;
    } qr_value;
} demi_qresult_t;

/* Logging callback (accepted for compatibility; libdemi logs to stderr). */
typedef void (*demi_callback_t)(const char *, uint32_t, uint64_t);

/* Arguments to demi_init. May be NULL. */
struct demi_args {
    int argc;
    char *const *argv;
    demi_callback_t callback;
};

#ifdef __cplusplus
}
#endif

#endif /* DEMI_TYPES_H_ */
