/*
 * DEMI_* configuration of the inet libOS -> struct inet_config.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/config.h"
#include "core/log.h"
#include "inet_libos.h"

int inet_libos_parse_mac(const char *str, uint8_t mac[6])
{
    unsigned v[6];
    char tail;

    if (sscanf(str, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return EINVAL;
    for (int i = 0; i < 6; i++) {
        if (v[i] > 0xff)
            return EINVAL;
        mac[i] = (uint8_t)v[i];
    }
    return 0;
}

/* Parses "a.b.c.d/len" (len required); returns 0 or EINVAL. */
static int parse_cidr(const char *str, uint32_t *ip, uint8_t *len)
{
    char buf[32];
    char *slash, *end;
    struct in_addr a;
    long l;

    if (strlen(str) >= sizeof(buf))
        return EINVAL;
    strcpy(buf, str);
    slash = strchr(buf, '/');
    if (!slash)
        return EINVAL;
    *slash = '\0';
    if (inet_pton(AF_INET, buf, &a) != 1)
        return EINVAL;
    errno = 0;
    l = strtol(slash + 1, &end, 10);
    if (errno || *end || end == slash + 1 || l < 1 || l > 32)
        return EINVAL;
    *ip = a.s_addr;
    *len = (uint8_t)l;
    return 0;
}

/* Reads an integer variable into *out within [lo, hi]; 0 or EINVAL (logged). */
static int get_range(const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    if (config_get_int(name, out) != 0)
        return EINVAL;
    if (*out < lo || *out > hi) {
        log_err("inet: %s=%lld is outside %lld..%lld", name, (long long)*out, (long long)lo, (long long)hi);
        return EINVAL;
    }
    return 0;
}

int inet_libos_read_config(struct inet_config *cfg, const struct netdev *nd)
{
    const char *v;
    int64_t x;
    uint16_t dev_mtu = nd->ops->mtu(nd);

    inet_config_defaults(cfg);
    nd->ops->mac(nd, cfg->mac);
    v = config_get("DEMI_IPV4");
    if (!v || !*v || parse_cidr(v, &cfg->ipv4_addr, &cfg->ipv4_prefix_len) != 0) {
        log_err("inet: DEMI_IPV4 must be address/prefix, e.g. 10.77.0.2/24 (got \"%s\")", v ? v : "");
        return EINVAL;
    }
    v = config_get("DEMI_GATEWAY");
    if (v && *v && inet_pton(AF_INET, v, &cfg->gateway) != 1) {
        log_err("inet: DEMI_GATEWAY=\"%s\" is not an IPv4 address", v);
        return EINVAL;
    }
    if (get_range("DEMI_MTU", 0, dev_mtu, &x))
        return EINVAL;
    cfg->mtu = x == 0 ? dev_mtu : (uint16_t)x;
    if (cfg->mtu < 68) {
        log_err("inet: MTU %u is below 68", cfg->mtu);
        return EINVAL;
    }
    if (get_range("DEMI_INET_SEED", INT64_MIN, INT64_MAX, &x))
        return EINVAL;
    cfg->seed = (uint64_t)x;
    if (cfg->seed == 0 && getrandom(&cfg->seed, sizeof(cfg->seed), 0) != sizeof(cfg->seed))
        cfg->seed = (uint64_t)(uintptr_t)cfg ^ 0x9e3779b97f4a7c15ull;
    if (get_range("DEMI_ARP_TTL_MS", 1, INT32_MAX, &x))
        return EINVAL;
    cfg->arp_entry_ttl_ns = (uint64_t)x * 1000000ull;
    if (get_range("DEMI_ARP_RETRY_MS", 1, 60000, &x))
        return EINVAL;
    cfg->arp_retry_ns = (uint64_t)x * 1000000ull;
    if (get_range("DEMI_ARP_RETRIES", 0, 100, &x))
        return EINVAL;
    cfg->arp_retries = (uint32_t)x;
    if (get_range("DEMI_ARP_QUEUE", 1, 1 << 20, &x))
        return EINVAL;
    cfg->arp_queue_max = (uint32_t)x;
    if (get_range("DEMI_UDP_RCVBUF", 1024, 1ll << 30, &x))
        return EINVAL;
    cfg->udp_rcvbuf = (uint32_t)x;
    if (get_range("DEMI_TCP_SNDBUF", 4096, 1ll << 30, &x))
        return EINVAL;
    cfg->tcp_sndbuf = (uint32_t)x;
    if (get_range("DEMI_TCP_RCVBUF", 4096, 1ll << 30, &x))
        return EINVAL;
    cfg->tcp_rcvbuf = (uint32_t)x;
    if (get_range("DEMI_TCP_MSL_MS", 1, 600000, &x))
        return EINVAL;
    cfg->tcp_msl_ns = (uint64_t)x * 1000000ull;
    if (get_range("DEMI_TCP_DELACK_MS", 0, 500, &x))
        return EINVAL;
    cfg->tcp_delack_ns = (uint64_t)x * 1000000ull;
    v = config_get("DEMI_TCP_CC");
    if (!v || (strcmp(v, "cubic") != 0 && strcmp(v, "newreno") != 0)) {
        log_err("inet: DEMI_TCP_CC must be cubic or newreno (got \"%s\")", v ? v : "");
        return EINVAL;
    }
    snprintf(cfg->tcp_cc, sizeof(cfg->tcp_cc), "%s", v);
    return 0;
}

int inet_libos_static_arp(struct inet_stack *s)
{
    const char *v = config_get("DEMI_ARP_STATIC");
    char *copy, *save = NULL, *item;
    int err = 0;

    if (!v || !*v)
        return 0;
    copy = strdup(v);
    if (!copy)
        return ENOMEM;
    for (item = strtok_r(copy, ", ", &save); item; item = strtok_r(NULL, ", ", &save)) {
        char *eq = strchr(item, '=');
        struct in_addr ip;
        uint8_t mac[6];

        if (!eq) {
            err = EINVAL;
            break;
        }
        *eq = '\0';
        if (inet_pton(AF_INET, item, &ip) != 1 || inet_libos_parse_mac(eq + 1, mac) != 0) {
            err = EINVAL;
            break;
        }
        err = inet_arp_add_static(s, ip.s_addr, mac);
        if (err)
            break;
    }
    if (err)
        log_err("inet: DEMI_ARP_STATIC=\"%s\": expected IP=aa:bb:cc:dd:ee:ff[,...] (%s)", v, strerror(err));
    free(copy);
    return err ? EINVAL : 0;
}
