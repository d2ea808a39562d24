/*
 * The command line of demi-echo and plain-echo (one parser for both, so the
 * two programs take the same options and mean the same by them):
 *
 *   PROG server --addr IP:PORT [--proto tcp|udp|both]
 *   PROG client --addr IP:PORT [--proto tcp|udp] [--size BYTES] [--count N]
 *               [--duration SEC] [--conns N] [--warmup N] [--timeout SEC]
 *               [--rate MSG/S] [--pipeline N] [--json] [--progress|--quiet]
 *
 * A program says which of the optional features it has (struct echo_prog);
 * an option it lacks is refused with exit code 2 like any bad option.
 */
#ifndef DEMI_ECHO_OPTS_H_
#define DEMI_ECHO_OPTS_H_

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum echo_proto { ECHO_PROTO_TCP = 1, ECHO_PROTO_UDP = 2, ECHO_PROTO_BOTH = 3 };

/* Largest UDP payload in one IPv4 datagram. */
#define ECHO_UDP_MAX 65507u
#define ECHO_MAX_SIZE (1ull << 30)          /* TCP message size limit (1 GiB) */
#define ECHO_MAX_PIPELINE 4096u             /* --pipeline limit per connection */
#define ECHO_RATE_PIPELINE 64u              /* --pipeline when --rate is given without it */
#define ECHO_COUNT_UNLIMITED UINT64_MAX     /* --duration without --count */

/* Optional features of a program (struct echo_prog.features). */
#define ECHO_FEAT_SPIN 0x1                  /* --spin (plain-echo: busy-poll the kernel sockets) */
#define ECHO_FEAT_OPEN_LOOP 0x2             /* --rate and --pipeline */
#define ECHO_FEAT_PROGRESS 0x4              /* --progress and --quiet */

enum echo_progress_mode { ECHO_PROGRESS_AUTO, ECHO_PROGRESS_ON, ECHO_PROGRESS_OFF };

struct echo_prog {
    const char *name;           /* "demi-echo", "plain-echo": usage and error messages */
    uint32_t max_conns;         /* --conns limit */
    unsigned features;          /* ECHO_FEAT_* */
    const char *about;          /* printed after the option list (may be NULL) */
};

struct echo_opts {
    bool server;                /* the subcommand */
    struct sockaddr_in addr;    /* --addr */
    int proto;                  /* enum echo_proto */
    size_t size;                /* --size: bytes per message */
    uint64_t count;             /* --count: measured messages in all (ECHO_COUNT_UNLIMITED: until --duration) */
    double duration_sec;        /* --duration: end of the measured phase (0: none) */
    uint32_t conns;             /* --conns */
    uint64_t warmup;            /* --warmup: unmeasured messages in all, sent first */
    double timeout_sec;         /* --timeout */
    double rate;                /* --rate: messages per second in all (0: closed loop) */
    uint32_t pipeline;          /* --pipeline: messages outstanding per connection */
    bool json;                  /* --json */
    enum echo_progress_mode progress; /* --progress / --quiet */
    bool spin;                  /* --spin */
};

/* The program's name for messages (set by echo_opts_parse). */
extern const char *echo_prog_name;

/* Parses argv (argv[1] is the subcommand) into *o. Returns -1 to go on, or
 * the exit code to end with: 2 after printing the usage for bad usage or
 * --help. */
int echo_opts_parse(const struct echo_prog *prog, int argc, char **argv, struct echo_opts *o);

/* Parses a decimal integer in [min, max] with an optional k/m/g (binary)
 * suffix when suffix_ok. Returns 0 or EINVAL / ERANGE. */
int echo_parse_u64(const char *s, bool suffix_ok, uint64_t min, uint64_t max, uint64_t *out);

/* Parses "a.b.c.d:port" (IPv4 only). Returns 0, or EINVAL. */
int echo_parse_addr(const char *s, struct sockaddr_in *out);

#endif /* DEMI_ECHO_OPTS_H_ */
