/*
 * Every DEMI_* configuration variable, in one place. X-macro:
 *   DEMI_CFG(NAME, DEFAULT, DESCRIPTION)
 * docs/configuration.md has one table row per entry (a unit test checks).
 * A libOS that needs a new variable adds a line here, under its heading.
 */

/* core */
DEMI_CFG(DEMI_LIBOS, "posix", "libOS to use: posix, afpacket, xdp, dpdk, rdma, shm (Demikernel names catnap, catpowder, catnip, catmint, catmem are accepted). LIBOS is read when DEMI_LIBOS is unset.")
DEMI_CFG(DEMI_LOG, "warn", "log level: error, warn, info or debug; messages go to stderr")
DEMI_CFG(DEMI_CONFIG, "", "path of a file of NAME=VALUE lines read at demi_init; the environment overrides it")
DEMI_CFG(DEMI_SPIN_US, "50", "microseconds a wait busy-polls before it may block in the device (posix: epoll_wait); 0 blocks at once, -1 never blocks")
DEMI_CFG(DEMI_SGA_SEGSIZE, "1048576", "segment size of demi_sgaalloc: smaller buffers are one segment, larger ones are split into segments of this size, or into DEMI_SGARRAY_MAXSIZE equal segments when more would be needed")
DEMI_CFG(DEMI_SGA_MAX, "1073741824", "largest size demi_sgaalloc accepts (bytes)")
DEMI_CFG(DEMI_MAX_QUEUES, "1048576", "most queue descriptors open at once")
DEMI_CFG(DEMI_MAX_OPS, "4194304", "most operations (qtokens) pending or completed-but-not-waited at once")

/* posix libOS */
DEMI_CFG(DEMI_POSIX_POP_SIZE, "65536", "posix: most bytes one TCP pop returns")

/* rdma libOS */
DEMI_CFG(DEMI_RDMA_PROVIDER, "tcp", "rdma: libfabric provider of stream queues, with FI_EP_MSG, FI_MSG and RMA reads (verbs on RDMA NICs; tcp elsewhere)")
DEMI_CFG(DEMI_RDMA_DGRAM_PROVIDER, "udp;ofi_rxd", "rdma: libfabric provider of datagram queues, with FI_EP_RDM and IPv4 addresses (udp;ofi_rxd, tcp;ofi_rxm)")
DEMI_CFG(DEMI_RDMA_RECV_BUFS, "32", "rdma: receive buffers posted per connection = credits granted to the peer (4 to 4096)")
DEMI_CFG(DEMI_RDMA_RECV_SIZE, "8192", "rdma: bytes per receive buffer; larger messages go by rendezvous (RDMA read) (512 B to 16 MiB)")
DEMI_CFG(DEMI_RDMA_RX_WINDOW, "16777216", "rdma: bytes received but not yet popped after which a connection stops consuming (and crediting) its peer's messages, or a datagram queue drops")
DEMI_CFG(DEMI_RDMA_MEM_CONN, "2147483648", "rdma: most bytes of memory registered for one connection (its buffers and rendezvous in flight)")
DEMI_CFG(DEMI_RDMA_MEM_MAX, "8589934592", "rdma: most bytes of memory registered by the process")
DEMI_CFG(DEMI_RDMA_CONNECT_TIMEOUT_MS, "10000", "rdma: most milliseconds a connection handshake may take before it fails with ETIMEDOUT")
DEMI_CFG(DEMI_RDMA_RNDV_TIMEOUT_MS, "10000", "rdma: most milliseconds the reads of a rendezvous may make no progress before the connection fails with ETIMEDOUT")
DEMI_CFG(DEMI_RDMA_LINGER_MS, "1000", "rdma: most milliseconds a closed connection keeps sending what was queued before it")
DEMI_CFG(DEMI_RDMA_MR_MODE, "", "rdma: memory-registration modes to force on top of the stream provider's (comma list of local, virt_addr, allocated, prov_key, endpoint); for testing code paths of hardware providers")
DEMI_CFG(DEMI_RDMA_DGRAM_BUFS, "16", "rdma: receive buffers (and send slots) of 64 KiB per datagram queue (1 to 1024)")

/* xdp netdev (src/netdev/xdp.c) */
DEMI_CFG(DEMI_XDP_QUEUE, "0", "xdp: NIC receive queue the AF_XDP socket binds to")
DEMI_CFG(DEMI_XDP_MODE, "auto", "xdp: how the XDP program attaches: native (driver), skb (generic) or auto (native, else skb)")
DEMI_CFG(DEMI_XDP_BIND, "auto", "xdp: zerocopy, copy, or auto (zero-copy where the driver supports it, else copy)")
DEMI_CFG(DEMI_XDP_UMEM_FRAMES, "4096", "xdp: frames in the UMEM (half for receiving, half for sending)")
DEMI_CFG(DEMI_XDP_FRAME_SIZE, "2048", "xdp: bytes per UMEM frame: 2048 or 4096")
DEMI_CFG(DEMI_XDP_RING_SIZE, "2048", "xdp: descriptors in each of the rx, tx, fill and completion rings (power of 2)")

/* dpdk netdev (src/netdev/dpdk.c) */
DEMI_CFG(DEMI_DPDK_ARGS, "", "dpdk: EAL arguments split on spaces; empty: -l 0 --no-telemetry --log-level=warning plus --in-memory with free hugepages, else --no-huge -m 512 --no-shconf")
DEMI_CFG(DEMI_DPDK_PORT, "-1", "dpdk: ethdev port id to use; -1: the first available port")
DEMI_CFG(DEMI_DPDK_MBUFS, "8191", "dpdk: mbufs in the packet pool")
DEMI_CFG(DEMI_DPDK_RX_DESC, "1024", "dpdk: receive descriptors of the RX queue")
DEMI_CFG(DEMI_DPDK_TX_DESC, "1024", "dpdk: transmit descriptors of the TX queue")
DEMI_CFG(DEMI_DPDK_PIN, "0", "dpdk: keep the CPU affinity EAL gives the main thread (1), or restore the process's own (0)")

/* inet libOS (afpacket, and the stack under xdp and dpdk) */
DEMI_CFG(DEMI_IFACE, "", "inet: network interface the netdev opens (afpacket, xdp); it should have no kernel IP address")
DEMI_CFG(DEMI_IPV4, "", "inet: the stack's IPv4 address and prefix, e.g. 10.77.0.2/24 (required)")
DEMI_CFG(DEMI_MAC, "", "inet: the stack's MAC address aa:bb:cc:dd:ee:ff; empty: the interface's")
DEMI_CFG(DEMI_GATEWAY, "", "inet: IPv4 gateway for addresses outside the prefix; empty: none")
DEMI_CFG(DEMI_MTU, "0", "inet: IP MTU; 0: the device's")
DEMI_CFG(DEMI_PCAP, "", "inet: path of a pcap file that receives every frame sent and received")
DEMI_CFG(DEMI_ARP_STATIC, "", "inet: static ARP entries, comma-separated IP=MAC pairs")
DEMI_CFG(DEMI_ARP_TTL_MS, "300000", "inet: lifetime of a learned ARP entry (ms)")
DEMI_CFG(DEMI_ARP_RETRY_MS, "1000", "inet: interval between ARP requests for one address (ms)")
DEMI_CFG(DEMI_ARP_RETRIES, "3", "inet: ARP requests sent after the first before a resolution fails")
DEMI_CFG(DEMI_ARP_QUEUE, "64", "inet: packets waiting on ARP resolutions before more are dropped")
DEMI_CFG(DEMI_UDP_RCVBUF, "1048576", "inet: bytes of datagrams a UDP queue holds before it drops")
DEMI_CFG(DEMI_INET_SEED, "0", "inet: seed of the stack's PRNG (ISNs, ephemeral ports); 0: random")
DEMI_CFG(DEMI_TCP_CC, "cubic", "inet: TCP congestion control, cubic or newreno")
DEMI_CFG(DEMI_TCP_SNDBUF, "1048576", "inet: bytes a TCP connection holds for sending")
DEMI_CFG(DEMI_TCP_RCVBUF, "1048576", "inet: TCP receive window and reassembly bound per connection (bytes)")
DEMI_CFG(DEMI_TCP_MSL_MS, "30000", "inet: TCP maximum segment lifetime (ms); TIME_WAIT lasts twice this")
DEMI_CFG(DEMI_TCP_DELACK_MS, "40", "inet: TCP delayed-ACK timeout (ms); 0 acknowledges every segment at once")
DEMI_CFG(DEMI_TCP_POP_SIZE, "65536", "inet: most bytes one TCP pop returns")
