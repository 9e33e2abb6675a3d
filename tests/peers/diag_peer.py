#!/usr/bin/env python3
"""Sockets for sockbox's ping and scan tests, opened by Python's socket module.

    diag_peer.py ITEM...

Each ITEM opens one socket on a kernel-chosen port (or the path given):

    tcp:HOST            a TCP listener (never accepts: the kernel completes handshakes)
    udp-silent:HOST     a bound UDP socket that never answers
    udp-echo:HOST       a bound UDP socket that sends every datagram back
    unix-stale:PATH     a Unix stream listener closed at once, leaving its file behind

HOST is an IPv4 or IPv6 literal. Once everything is open the peer prints one line,
`ready PORT... PID` (one PORT per item, 0 for Unix items), then waits until stdin closes.
"""

import os
import socket
import sys
import threading


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def echo(sock):
    while True:
        data, peer = sock.recvfrom(65536)
        sock.sendto(data, peer)


def main():
    keep = []
    ports = []
    for item in sys.argv[1:]:
        kind, _, where = item.partition(":")
        if kind == "tcp":
            s = socket.socket(family(where), socket.SOCK_STREAM)
            s.bind((where, 0))
            s.listen(128)
        elif kind in ("udp-silent", "udp-echo"):
            s = socket.socket(family(where), socket.SOCK_DGRAM)
            s.bind((where, 0))
            if kind == "udp-echo":
                threading.Thread(target=echo, args=(s,), daemon=True).start()
        elif kind == "unix-stale":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(where)
            s.listen(1)
            s.close()
            ports.append(0)
            continue
        else:
            sys.exit("unknown item " + item)
        keep.append(s)
        ports.append(s.getsockname()[1])
    print("ready " + " ".join(str(p) for p in ports) + " " + str(os.getpid()), flush=True)
    sys.stdin.read()


main()
