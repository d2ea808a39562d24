/*
 * The libOSes this build knows, by name and Demikernel alias. A libOS left
 * out of the build is listed with the reason (usually the missing package).
 * Each libOS folder's meson.build sets DEMI_BUILD_<NAME> when it is built.
 */
#include <string.h>

#include "demi_build_config.h"
#include "libos_ops.h"
#include "libos/posix/posix.h"
#if DEMI_BUILD_RDMA
#include "libos/rdma/rdma.h"
#endif
#if DEMI_BUILD_AFPACKET || DEMI_BUILD_XDP || DEMI_BUILD_DPDK
#include "libos/inet/inet_libos.h"
#endif

const struct demi_libos_ops *libos_active;

static const struct libos_entry registry[] = {
    {"posix", "catnap", &posix_libos_ops, NULL},
#if DEMI_BUILD_AFPACKET
    {"afpacket", "catpowder", &afpacket_libos_ops, NULL},
#else
    {"afpacket", "catpowder", NULL, "the afpacket libOS was left out of this build"},
#endif
#if DEMI_BUILD_XDP
    {"xdp", "", &xdp_libos_ops, NULL},
#elif DEMI_HAVE_XDP
    {"xdp", "", NULL, "the xdp libOS was left out of this build"},
#else
    {"xdp", "", NULL, "libxdp-dev and libbpf-dev were not found at build time"},
#endif
#if DEMI_BUILD_DPDK
    {"dpdk", "catnip", &dpdk_libos_ops, NULL},
#elif DEMI_HAVE_DPDK
    {"dpdk", "catnip", NULL, "the dpdk libOS was left out of this build"},
#else
    {"dpdk", "catnip", NULL, "libdpdk-dev was not found at build time"},
#endif
#if DEMI_BUILD_RDMA
    {"rdma", "catmint", &rdma_libos_ops, NULL},
#elif DEMI_HAVE_RDMA
    {"rdma", "catmint", NULL, "the rdma libOS was left out of this build"},
#else
    {"rdma", "catmint", NULL, "libfabric-dev was not found at build time"},
#endif
    {"shm", "catmem", NULL, "the shm libOS is not implemented yet"},
};

/* True if word appears in the space-separated list. */
static int in_list(const char *list, const char *word)
{
    size_t n = strlen(word);

    while (*list) {
        const char *end = strchr(list, ' ');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        if (len == n && strncasecmp(list, word, n) == 0)
            return 1;
        if (!end)
            break;
        list = end + 1;
    }
    return 0;
}

const struct libos_entry *libos_find(const char *name)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcasecmp(registry[i].name, name) == 0 || in_list(registry[i].aliases, name))
            return &registry[i];
    return NULL;
}
