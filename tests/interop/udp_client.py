"""UDP echo check for the interop test: sends COUNT datagrams of varied
sizes (up to the largest that fits a 1500-byte MTU) to HOST:PORT and checks
every echo byte for byte. With loss, a datagram is retried a few times.
Exit 0 when every datagram came back intact."""
import os
import socket
import sys

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
ok = 0
for i in range(count):
    size = 1472 if i % 10 == 0 else (i * 37) % 1400 + 1
    msg = i.to_bytes(4, 'big') + os.urandom(max(0, size - 4))
    for attempt in range(8):
        s.sendto(msg, (host, port))
        try:
            while True:
                data, addr = s.recvfrom(65535)
                if data[:4] == msg[:4]:
                    break
        except socket.timeout:
            continue
        if data == msg and addr == (host, port):
            ok += 1
        break
print(f"udp: {ok} of {count} datagrams echoed intact")
sys.exit(0 if ok == count else 1)
