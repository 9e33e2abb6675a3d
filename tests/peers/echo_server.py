#!/usr/bin/env python3
"""An echo server for many concurrent clients, for sockbox's CLI tests.

    echo_server.py KIND ADDR

KIND is tcp4, unix, seqpacket, udp4 or unix-dgram; ADDR is HOST:PORT, a path or @name.
Prints `ready PORT` once listening (PORT 0 for Unix kinds), then echoes until killed.
Stream clients are served with one selectors loop: what a client sends comes back in order,
end of stream is answered with shutdown(SHUT_WR) once everything is echoed, and a client that
does not read is met with backpressure (at most 1 MiB is held per client). Seqpacket and
datagram messages come back whole, one for one.
"""

import selectors
import socket
import sys
import threading

CHUNK = 256 * 1024
HIGH_WATER = 1 << 20


def parse_addr(kind, addr):
    if kind in ("tcp4", "udp4"):
        host, port = addr.rsplit(":", 1)
        return socket.AF_INET, (host, int(port))
    if addr.startswith("@"):
        return socket.AF_UNIX, "\0" + addr[1:]
    return socket.AF_UNIX, addr


class Client:
    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()
        self.eof = False
        self.shut = False


def serve_datagrams(s):
    while True:
        data, peer = s.recvfrom(1 << 20)
        if peer:
            s.sendto(data, peer)


def serve_messages(s):
    """Seqpacket: one thread per client, each message sent back whole."""

    def echo(conn):
        with conn:
            while True:
                m = conn.recv(1 << 20)
                if not m:
                    return
                conn.send(m)

    while True:
        conn, _ = s.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def serve_streams(s):
    sel = selectors.DefaultSelector()
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, None)

    def update(c):
        if c.eof and not c.out and not c.shut:
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            c.shut = True
        ev = 0
        if (not c.eof and len(c.out) < HIGH_WATER) or c.shut:
            # After our shutdown, reading waits for the client to close its side too.
            ev |= selectors.EVENT_READ
        if c.out:
            ev |= selectors.EVENT_WRITE
        sel.modify(c.sock, ev, c)

    def drop(c):
        sel.unregister(c.sock)
        c.sock.close()

    while True:
        for key, mask in sel.select():
            if key.data is None:
                try:
                    conn, _ = s.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, Client(conn))
                continue
            c = key.data
            try:
                if mask & selectors.EVENT_READ:
                    data = c.sock.recv(CHUNK)
                    if c.shut:
                        if not data:
                            drop(c)
                            continue
                    elif data:
                        c.out += data
                    else:
                        c.eof = True
                if mask & selectors.EVENT_WRITE and c.out:
                    n = c.sock.send(c.out)
                    del c.out[:n]
                update(c)
            except (BlockingIOError, InterruptedError):
                update(c)
            except OSError:
                drop(c)


def main():
    kind, addr = sys.argv[1:3]
    family, sa = parse_addr(kind, addr)
    stype = {
        "tcp4": socket.SOCK_STREAM,
        "unix": socket.SOCK_STREAM,
        "seqpacket": socket.SOCK_SEQPACKET,
        "udp4": socket.SOCK_DGRAM,
        "unix-dgram": socket.SOCK_DGRAM,
    }[kind]
    s = socket.socket(family, stype)
    if family != socket.AF_UNIX:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(sa)
    if stype != socket.SOCK_DGRAM:
        s.listen(1024)
    port = s.getsockname()[1] if family != socket.AF_UNIX else 0
    sys.stdout.write(f"ready {port}\n")
    sys.stdout.flush()
    if stype == socket.SOCK_DGRAM:
        serve_datagrams(s)
    elif stype == socket.SOCK_SEQPACKET:
        serve_messages(s)
    else:
        serve_streams(s)


if __name__ == "__main__":
    main()
