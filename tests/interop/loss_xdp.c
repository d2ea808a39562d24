/*
 * XDP program for the interop tests: drops LOSS_BP / 10000 of the frames
 * arriving on the interface it is attached to (there is no netem here).
 * Built at test time: clang -O2 -target bpf -DLOSS_BP=200 -c loss_xdp.c
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef LOSS_BP
#define LOSS_BP 200     /* 2 % */
#endif

SEC("xdp")
int xdp_loss(struct xdp_md *ctx)
{
    return bpf_get_prandom_u32() % 10000 < LOSS_BP ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
