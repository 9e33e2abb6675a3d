#!/usr/bin/env python3
"""Clients for sockbox's traffic tests (--dump, --pcap, --record), each run to its end:

    traffic_peer.py http PATH URI...         http.client over the Unix socket PATH, one
                                              connection per URI     -> status CODE LEN per URI
    traffic_peer.py seqpacket PATH LEN...    one seqpacket connection: each message of LEN
                                              bytes sent and its echo read back -> echo LEN
    traffic_peer.py fds PATH FILE...         one Unix stream connection: b"fds" sent with every
                                              FILE opened read-only (socket.send_fds), then the
                                              write side shut and the answer read  -> sent N
    traffic_peer.py fd-server PATH           listens on PATH, prints `ready`, accepts one
                                              client and receives until end of stream
                                                      -> got BYTES FDS
    traffic_peer.py seqpacket-server PATH    a seqpacket daemon: listens on PATH, prints
                                              `ready`, accepts one client, sends each message
                                              back until end of stream  -> served N

Every socket operation is bounded by a 20 s timeout.
"""

import http.client
import os
import socket
import sys

TIMEOUT = 20


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=TIMEOUT)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(self.path)


def http(path, uris):
    for uri in uris:
        c = UnixHTTPConnection(path)
        c.request("GET", uri)
        r = c.getresponse()
        body = r.read()
        out(f"status {r.status} {len(body)}")
        c.close()


def seqpacket(path, lens):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(TIMEOUT)
    s.connect(path)
    for n in lens:
        s.send(bytes([n % 251]) * n)
        got = s.recv(1 << 20)
        out(f"echo {len(got)}")
    s.close()


def fds(path, files):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    opened = [os.open(f, os.O_RDONLY) for f in files]
    socket.send_fds(s, [b"fds"], opened)
    for fd in opened:
        os.close(fd)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    out(f"sent {len(opened)}")
    s.close()


def fd_server(path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.settimeout(TIMEOUT)
    srv.bind(path)
    srv.listen(1)
    out("ready")
    c, _ = srv.accept()
    c.settimeout(TIMEOUT)
    total, nfds = 0, 0
    while True:
        data, fds_got, _, _ = socket.recv_fds(c, 65536, 16)
        for fd in fds_got:
            os.close(fd)
        nfds += len(fds_got)
        if not data:
            break
        total += len(data)
    c.close()
    out(f"got {total} {nfds}")


def seqpacket_server(path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.settimeout(TIMEOUT)
    srv.bind(path)
    srv.listen(1)
    out("ready")
    c, _ = srv.accept()
    c.settimeout(TIMEOUT)
    n = 0
    while True:
        msg = c.recv(1 << 20)
        if not msg:
            break
        c.send(msg)
        n += 1
    c.close()
    out(f"served {n}")


def main():
    mode, path, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "http":
        http(path, rest)
    elif mode == "seqpacket":
        seqpacket(path, [int(n) for n in rest])
    elif mode == "fds":
        fds(path, rest)
    elif mode == "fd-server":
        fd_server(path)
    elif mode == "seqpacket-server":
        seqpacket_server(path)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
