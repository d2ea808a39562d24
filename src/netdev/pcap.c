/*
 * pcap writer: the classic format (magic 0xa1b2c3d4, version 2.4), written
 * through stdio buffering in the machine's byte order, as the format allows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pcap.h"

#define PCAP_SNAPLEN 65535u
#define PCAP_LINKTYPE_ETHERNET 1u

struct pcap_writer {
    FILE *f;
    int err;
    uint64_t frames;
};

struct pcap_file_header {
    uint32_t magic;
    uint16_t version_major, version_minor;
    int32_t thiszone;
    uint32_t sigfigs, snaplen, linktype;
};

struct pcap_record_header {
    uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

struct pcap_writer *pcap_open(const char *path)
{
    struct pcap_file_header fh = {0xa1b2c3d4u, 2, 4, 0, 0, PCAP_SNAPLEN, PCAP_LINKTYPE_ETHERNET};
    struct pcap_writer *w = calloc(1, sizeof(*w));
    int err;

    if (!w)
        return NULL;
    w->f = fopen(path, "wbe");
    if (!w->f)
        goto err;
    if (fwrite(&fh, sizeof(fh), 1, w->f) != 1)
        goto err;
    return w;
err:
    err = errno ? errno : EIO;
    if (w->f)
        fclose(w->f);
    free(w);
    errno = err;
    return NULL;
}

int pcap_write(struct pcap_writer *w, const void *frame, size_t len, uint64_t ts_ns)
{
    struct pcap_record_header rh;
    size_t incl = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : len;

    if (w->err)
        return w->err;
    rh.ts_sec = (uint32_t)(ts_ns / 1000000000ull);
    rh.ts_usec = (uint32_t)(ts_ns % 1000000000ull / 1000);
    rh.incl_len = (uint32_t)incl;
    rh.orig_len = (uint32_t)len;
    if (fwrite(&rh, sizeof(rh), 1, w->f) != 1 || fwrite(frame, 1, incl, w->f) != incl) {
        w->err = errno ? errno : EIO;
        return w->err;
    }
    w->frames++;
    return 0;
}

uint64_t pcap_frames(const struct pcap_writer *w)
{
    return w->frames;
}

int pcap_close(struct pcap_writer *w)
{
    int err;

    if (!w)
        return 0;
    err = fclose(w->f) == 0 ? w->err : errno;
    free(w);
    return err;
}
