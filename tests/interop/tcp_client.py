"""TCP echo check for the interop test: CONNS concurrent connections to
HOST:PORT, each sending SIZE random bytes while reading the echo, compared
by SHA-256. Prints the throughput; exit 0 when every connection's bytes came
back exactly."""
import hashlib
import os
import socket
import sys
import threading
import time

host, port, conns, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
results = [False] * conns


def one(i):
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        chunk = os.urandom(min(size, 1 << 20))
        sent_hash = hashlib.sha256()

        def sender():
            left = size
            while left > 0:
                part = chunk[:min(left, len(chunk))]
                s.sendall(part)
                sent_hash.update(part)
                left -= len(part)

        t = threading.Thread(target=sender)
        t.start()
        got = 0
        h = hashlib.sha256()
        while got < size:
            d = s.recv(1 << 20)
            if not d:
                break
            h.update(d)
            got += len(d)
        t.join()
        s.close()
        results[i] = got == size and h.digest() == sent_hash.digest()
    except OSError as e:
        print(f"conn {i}: {e}")


start = time.time()
threads = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
el = time.time() - start
good = sum(results)
mbit = 2 * conns * size * 8 / el / 1e6
print(f"tcp: {good} of {conns} connections x {size} bytes echoed exactly in {el:.2f} s ({mbit:.0f} Mbit/s both ways)")
sys.exit(0 if good == conns else 1)
