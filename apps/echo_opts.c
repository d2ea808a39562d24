/* The shared command line of demi-echo and plain-echo (see echo_opts.h). */
#include "echo_opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *echo_prog_name = "demi-echo";

static void usage(const struct echo_prog *p, FILE *f)
{
    bool ol = p->features & ECHO_FEAT_OPEN_LOOP, pr = p->features & ECHO_FEAT_PROGRESS;
    bool spin = p->features & ECHO_FEAT_SPIN;
    fprintf(f,
            "usage: %s server --addr IP:PORT [--proto tcp|udp|both]%s\n"
            "       %s client --addr IP:PORT [--proto tcp|udp] [--size BYTES] [--count N]\n"
            "                 [--duration SEC] [--conns N] [--warmup N] [--timeout SEC] [--json]%s%s%s\n"
            "\n"
            "server: echoes every TCP connection and UDP datagram on IP:PORT until SIGINT or SIGTERM\n"
            "  -a, --addr IP:PORT    IPv4 address and port to serve (port 0: any)\n"
            "  -p, --proto P         tcp, udp or both (default both, one port)\n"
            "\n"
            "client: sends messages and checks every echoed byte\n"
            "  -a, --addr IP:PORT    the server\n"
            "  -p, --proto P         tcp or udp (default tcp)\n"
            "  -s, --size BYTES      bytes per message, suffix k, m or g for KiB, MiB, GiB\n"
            "                        (default 64; udp at most %u)\n"
            "  -n, --count N         measured messages in all, split across the connections\n"
            "                        (default 10000; with --duration and no --count: no limit)\n"
            "  -d, --duration SEC    end the measured phase after SEC seconds (messages out then finish)\n"
            "  -c, --conns N         concurrent connections (default 1, at most %u)\n"
            "  -w, --warmup N        unmeasured messages in all, sent before the measured ones (default 0)\n"
            "  -t, --timeout SEC     fail when a message or connect is outstanding this long (default 5)\n",
            p->name, spin ? " [--spin]" : "", p->name, ol ? "\n                 [--rate MSG/S] [--pipeline N]" : "",
            pr ? " [--progress|--quiet]" : "", spin ? " [--spin]" : "", ECHO_UDP_MAX, p->max_conns);
    if (ol)
        fprintf(f,
                "  -P, --pipeline N      messages outstanding per connection (default 1, at most %u)\n"
                "  -r, --rate MSG/S      open loop: start messages at this rate in all, on schedule whether or\n"
                "                        not echoes are back (up to --pipeline outstanding per connection,\n"
                "                        default %u then); the RTT counts from the scheduled start, so a\n"
                "                        late send (queueing) shows in the latency\n",
                ECHO_MAX_PIPELINE, ECHO_RATE_PIPELINE);
    fprintf(f, "  -j, --json            print the result as one JSON object on stdout (with the histogram)\n");
    if (pr)
        fprintf(f, "      --progress        a progress line on stderr every second (default: when stderr is a tty)\n"
                   "  -q, --quiet           no progress line\n");
    if (spin)
        fprintf(f, "      --spin            busy-poll instead of sleeping in the kernel (server and client)\n");
    fprintf(f, "  -h, --help            this text\n");
    if (p->about)
        fprintf(f, "\n%s\n", p->about);
}

int echo_parse_u64(const char *s, bool suffix_ok, uint64_t min, uint64_t max, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return ERANGE;
    unsigned shift = 0;
    if (suffix_ok && *end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return EINVAL;
        }
        end++;
    }
    if (*end != '\0')
        return EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return ERANGE;
    v <<= shift;
    if (v < min || v > max)
        return ERANGE;
    *out = v;
    return 0;
}

int echo_parse_addr(const char *s, struct sockaddr_in *out)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || colon - s >= INET_ADDRSTRLEN)
        return EINVAL;
    char ip[INET_ADDRSTRLEN];
    memcpy(ip, s, (size_t)(colon - s));
    ip[colon - s] = '\0';
    uint64_t port;
    if (echo_parse_u64(colon + 1, false, 0, 65535, &port) != 0)
        return EINVAL;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &out->sin_addr) != 1)
        return EINVAL;
    return 0;
}

/* Parses a positive number of at most max. Returns 0 or EINVAL. */
static int parse_positive(const char *s, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v > 0) || !isfinite(v) || v > max)
        return EINVAL;
    *out = v;
    return 0;
}

/* Reports a bad option value and returns the usage exit code. */
static int bad_value(const struct echo_prog *p, const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "%s: bad value for --%s: '%s' (%s)\n", p->name, opt, val, why);
    usage(p, stderr);
    return 2;
}

/* Reports a usage error and returns the usage exit code. */
static int bad_usage(const struct echo_prog *p, const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s\n", p->name, what, arg ? " " : "", arg ? arg : "");
    usage(p, stderr);
    return 2;
}

enum { OPT_PROGRESS = 1000, OPT_SPIN };

/* Options a program without the feature refuses, and options the server refuses. */
static bool opt_missing(const struct echo_prog *p, int opt)
{
    switch (opt) {
    case 'r': case 'P': return !(p->features & ECHO_FEAT_OPEN_LOOP);
    case 'q': case OPT_PROGRESS: return !(p->features & ECHO_FEAT_PROGRESS);
    case OPT_SPIN: return !(p->features & ECHO_FEAT_SPIN);
    default: return false;
    }
}

static bool client_only(int opt)
{
    return opt != 'a' && opt != 'p' && opt != 'h' && opt != OPT_SPIN;
}

/* Checks what depends on several options. Returns -1 or the exit code. */
static int check_combination(const struct echo_prog *p, struct echo_opts *o, const char *addr_arg, bool count_set,
                             bool pipeline_set)
{
    if (!addr_arg)
        return bad_usage(p, "--addr IP:PORT is required", NULL);
    if (o->server)
        return -1;
    if (o->addr.sin_port == 0 || o->addr.sin_addr.s_addr == htonl(INADDR_ANY))
        return bad_value(p, "addr", addr_arg, "the client needs the server's address and a port other than 0");
    if (o->proto == ECHO_PROTO_UDP && o->size > ECHO_UDP_MAX) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%zu", o->size);
        return bad_value(p, "size", buf, "at most 65507 over udp");
    }
    if (o->duration_sec > 0 && !count_set)
        o->count = ECHO_COUNT_UNLIMITED;
    if (o->rate > 0 && !pipeline_set)
        o->pipeline = ECHO_RATE_PIPELINE;
    if ((uint64_t)o->conns * o->pipeline > (1u << 22)) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%u", o->pipeline);
        return bad_value(p, "pipeline", buf, "--conns x --pipeline is at most 4194304");
    }
    return -1;
}

int echo_opts_parse(const struct echo_prog *p, int argc, char **argv, struct echo_opts *o)
{
    static const struct option longopts[] = {
        {"addr", required_argument, NULL, 'a'},     {"proto", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},     {"count", required_argument, NULL, 'n'},
        {"conns", required_argument, NULL, 'c'},    {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},  {"warmup", required_argument, NULL, 'w'},
        {"duration", required_argument, NULL, 'd'}, {"rate", required_argument, NULL, 'r'},
        {"pipeline", required_argument, NULL, 'P'}, {"quiet", no_argument, NULL, 'q'},
        {"progress", no_argument, NULL, OPT_PROGRESS}, {"spin", no_argument, NULL, OPT_SPIN},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    echo_prog_name = p->name;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(p, argc < 2 ? stderr : stdout);
        return 2;
    }
    bool server = !strcmp(argv[1], "server");
    if (!server && strcmp(argv[1], "client") != 0)
        return bad_usage(p, "unknown command (expected server or client):", argv[1]);
    *o = (struct echo_opts){
        .server = server,
        .proto = server ? ECHO_PROTO_BOTH : ECHO_PROTO_TCP,
        .size = 64,
        .count = 10000,
        .conns = 1,
        .timeout_sec = 5.0,
        .pipeline = 1,
    };
    const char *addr_arg = NULL;
    bool count_set = false, pipeline_set = false;
    uint64_t v;
    int opt;
    argc--, argv++;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "a:p:s:n:c:jt:w:d:r:P:qh", longopts, NULL)) != -1) {
        if (opt != '?' && opt_missing(p, opt))
            return bad_usage(p, "this program has no option", argv[optind - 1]);
        if (server && opt != '?' && client_only(opt))
            return bad_usage(p, "this option is for the client only:", argv[optind - 1]);
        switch (opt) {
        case 'a':
            if (echo_parse_addr(optarg, &o->addr) != 0)
                return bad_value(p, "addr", optarg, "expected IPv4:PORT, e.g. 127.0.0.1:7000");
            addr_arg = optarg;
            break;
        case 'p':
            if (!strcmp(optarg, "tcp"))
                o->proto = ECHO_PROTO_TCP;
            else if (!strcmp(optarg, "udp"))
                o->proto = ECHO_PROTO_UDP;
            else if (!strcmp(optarg, "both") && server)
                o->proto = ECHO_PROTO_BOTH;
            else
                return bad_value(p, "proto", optarg, server ? "tcp, udp or both" : "tcp or udp");
            break;
        case 's':
            if (echo_parse_u64(optarg, true, 1, ECHO_MAX_SIZE, &v) != 0)
                return bad_value(p, "size", optarg, "1 byte to 1 GiB");
            o->size = (size_t)v;
            break;
        case 'n':
            if (echo_parse_u64(optarg, false, 1, UINT64_MAX >> 1, &o->count) != 0)
                return bad_value(p, "count", optarg, "a positive integer");
            count_set = true;
            break;
        case 'c':
            if (echo_parse_u64(optarg, false, 1, p->max_conns, &v) != 0) {
                char why[40];
                snprintf(why, sizeof(why), "1 to %u", p->max_conns);
                return bad_value(p, "conns", optarg, why);
            }
            o->conns = (uint32_t)v;
            break;
        case 'w':
            if (echo_parse_u64(optarg, false, 0, UINT64_MAX >> 1, &o->warmup) != 0)
                return bad_value(p, "warmup", optarg, "a non-negative integer");
            break;
        case 't':
            if (parse_positive(optarg, 86400, &o->timeout_sec) != 0)
                return bad_value(p, "timeout", optarg, "seconds, more than 0 and at most 86400");
            break;
        case 'd':
            if (parse_positive(optarg, 1e7, &o->duration_sec) != 0)
                return bad_value(p, "duration", optarg, "seconds, more than 0 and at most 10000000");
            break;
        case 'r':
            if (parse_positive(optarg, 1e9, &o->rate) != 0)
                return bad_value(p, "rate", optarg, "messages per second, more than 0 and at most 1e9");
            break;
        case 'P':
            if (echo_parse_u64(optarg, false, 1, ECHO_MAX_PIPELINE, &v) != 0)
                return bad_value(p, "pipeline", optarg, "1 to 4096");
            o->pipeline = (uint32_t)v;
            pipeline_set = true;
            break;
        case 'j':
#ifndef ECHO_HAVE_JSON
            fprintf(stderr, "%s: --json: this build has no json-c (install libjson-c-dev and rebuild)\n", p->name);
            return 2;
#endif
            o->json = true;
            break;
        case 'q':
            o->progress = ECHO_PROGRESS_OFF;
            break;
        case OPT_PROGRESS:
            o->progress = ECHO_PROGRESS_ON;
            break;
        case OPT_SPIN:
            o->spin = true;
            break;
        case 'h':
            usage(p, stdout);
            return 2;
        default:  /* getopt_long printed what was wrong */
            usage(p, stderr);
            return 2;
        }
    }
    if (optind < argc)
        return bad_usage(p, "unexpected argument", argv[optind]);
    return check_combination(p, o, addr_arg, count_set, pipeline_set);
}
