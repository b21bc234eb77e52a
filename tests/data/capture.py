#!/usr/bin/env python3
"""Record one TCP session between an RTMP client and a server.

Listens on a loopback port, accepts exactly one connection, connects it to
the upstream server and relays both directions unchanged, writing the first
LIMIT bytes of each direction to a file. Exits when the session ends (either
side closes) or after --max-seconds. Standard library only.

    capture.py --listen 127.0.0.1:19390 --upstream 127.0.0.1:19352 \
        --c2s out.c2s.bin --s2c out.s2c.bin [--limit 65536] [--max-seconds 30]

Prints "listening 127.0.0.1:PORT" on stdout (flushed) once it accepts
connections, so a script can wait for that line; port 0 picks a free port.
"""

import argparse
import selectors
import socket
import sys
import time


def host_port(text):
    host, _, port = text.rpartition(":")
    if host != "127.0.0.1":
        raise argparse.ArgumentTypeError("only 127.0.0.1 is allowed")
    return host, int(port)


class Recorder:
    """Keeps the first `limit` bytes written to it and saves them to `path`."""

    def __init__(self, path, limit):
        self.path = path
        self.limit = limit
        self.data = bytearray()

    def feed(self, chunk):
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def save(self):
        with open(self.path, "wb") as f:
            f.write(self.data)
        return len(self.data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=host_port, required=True)
    ap.add_argument("--upstream", type=host_port, required=True)
    ap.add_argument("--c2s", required=True, help="file for client-to-server bytes")
    ap.add_argument("--s2c", required=True, help="file for server-to-client bytes")
    ap.add_argument("--limit", type=int, default=65536, help="bytes kept per direction")
    ap.add_argument("--max-seconds", type=float, default=30.0)
    args = ap.parse_args()

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(args.listen)
    lsock.listen(1)
    lsock.settimeout(args.max_seconds)
    print("listening %s:%d" % lsock.getsockname(), flush=True)

    deadline = time.monotonic() + args.max_seconds
    client, _ = lsock.accept()
    lsock.close()
    server = socket.create_connection(args.upstream, timeout=5)
    for s in (client, server):
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    c2s = Recorder(args.c2s, args.limit)
    s2c = Recorder(args.s2c, args.limit)
    # source socket -> (destination socket, recorder)
    routes = {client: (server, c2s), server: (client, s2c)}
    sel = selectors.DefaultSelector()
    for s in routes:
        sel.register(s, selectors.EVENT_READ)

    open_ = True
    while open_ and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            src = key.fileobj
            dst, rec = routes[src]
            try:
                chunk = src.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                open_ = False
                break
            rec.feed(chunk)
            dst.setblocking(True)
            try:
                dst.sendall(chunk)
            except OSError:
                open_ = False
                break
            finally:
                dst.setblocking(False)

    for s in routes:
        s.close()
    n_c2s = c2s.save()
    n_s2c = s2c.save()
    print("recorded c2s %d bytes, s2c %d bytes" % (n_c2s, n_s2c), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
