/*
 * Classic pcap capture files (LINKTYPE_ETHERNET, microsecond timestamps),
 * readable by tcpdump -r and Wireshark (private).
 * Call order: pcap_open -> pcap_write* -> pcap_close.
 */
#ifndef DEMI_NETDEV_PCAP_H_
#define DEMI_NETDEV_PCAP_H_

#include <stddef.h>
#include <stdint.h>

struct pcap_writer;

/* Creates (truncates) path and writes the file header. Returns NULL with
 * errno set on failure. */
struct pcap_writer *pcap_open(const char *path);

/* Appends one frame captured at ts_ns (any epoch). Returns 0, or the errno
 * of the write (the writer then stops writing and keeps returning it). */
int pcap_write(struct pcap_writer *w, const void *frame, size_t len, uint64_t ts_ns);

/* Number of frames written. */
uint64_t pcap_frames(const struct pcap_writer *w);

/* Flushes and closes; returns 0 or the errno of the flush. NULL is ignored. */
int pcap_close(struct pcap_writer *w);

#endif /* DEMI_NETDEV_PCAP_H_ */
