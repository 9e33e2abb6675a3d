#!/usr/bin/env python3
"""A socket driven by commands, for sockbox's CLI tests.

    puppet.py listen|connect KIND ADDR

KIND is tcp4, tcp6, udp4, udp6, unix, unix-dgram or seqpacket; ADDR is HOST:PORT
([::1]:PORT for v6), a path, or @name. `listen` binds (and listens, for stream kinds);
`connect` connects (a unix-dgram client binds an autobind name first so it can be answered).
Once the socket is set up the puppet prints `ready PORT PID` (PORT 0 for Unix kinds), then
obeys one command per line on stdin and answers each with one line on stdout:

    accept          accept the next client (listening stream kinds)   -> accepted
    send HEX        send bytes: one message for message kinds         -> sent N
    sendfile PATH   send a file's content (stream kinds)              -> sent N
    recv            receive once: one message, or up to 1 MiB          -> msg HEX
    shut            shutdown(SHUT_WR)                                 -> shut
    readall         read until end of stream                          -> all LEN SHA256
    exchange PATH   send PATH then shut, while reading until EOF       -> all LEN SHA256
    answer          read until EOF, then send the sha256 hex of it     -> answered LEN SHA256
    close           close the connection                              -> closed
    rst             close with SO_LINGER 0 (the kernel sends RST)      -> reset
    quit            exit

Any failure is answered `error TEXT`; the puppet goes on obeying.
"""

import hashlib
import os
import socket
import struct
import sys
import threading


def parse_addr(kind, addr):
    if kind in ("tcp4", "udp4"):
        host, port = addr.rsplit(":", 1)
        return socket.AF_INET, (host, int(port))
    if kind in ("tcp6", "udp6"):
        host, port = addr.rsplit(":", 1)
        return socket.AF_INET6, (host.strip("[]"), int(port))
    if addr.startswith("@"):
        return socket.AF_UNIX, "\0" + addr[1:]
    return socket.AF_UNIX, addr


SOCK_TYPES = {
    "tcp4": socket.SOCK_STREAM,
    "tcp6": socket.SOCK_STREAM,
    "unix": socket.SOCK_STREAM,
    "udp4": socket.SOCK_DGRAM,
    "udp6": socket.SOCK_DGRAM,
    "unix-dgram": socket.SOCK_DGRAM,
    "seqpacket": socket.SOCK_SEQPACKET,
}


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def read_to_eof(conn):
    h = hashlib.sha256()
    n = 0
    while True:
        b = conn.recv(1 << 20)
        if not b:
            return n, h.hexdigest()
        h.update(b)
        n += len(b)


def main():
    role, kind, addr = sys.argv[1:4]
    family, sa = parse_addr(kind, addr)
    stype = SOCK_TYPES[kind]
    s = socket.socket(family, stype)
    listener = None
    conn = None
    peer = None  # last datagram sender, for replies
    if role == "listen":
        if family != socket.AF_UNIX:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(sa)
        if stype == socket.SOCK_DGRAM:
            conn = s
        else:
            s.listen(1024)
            listener = s
    else:
        if kind == "unix-dgram":
            s.bind("")  # autobind: an abstract name the server can answer to
        s.connect(sa)
        conn = s
    port = s.getsockname()[1] if family != socket.AF_UNIX else 0
    say(f"ready {port} {os.getpid()}")

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        try:
            if cmd == "accept":
                conn, _ = listener.accept()
                say("accepted")
            elif cmd == "send":
                data = bytes.fromhex(args[0]) if args else b""
                if stype == socket.SOCK_STREAM:
                    conn.sendall(data)
                elif stype == socket.SOCK_DGRAM and role == "listen":
                    conn.sendto(data, peer)
                else:
                    conn.send(data)
                say(f"sent {len(data)}")
            elif cmd == "sendfile":
                with open(args[0], "rb") as f:
                    data = f.read()
                conn.sendall(data)
                say(f"sent {len(data)}")
            elif cmd == "recv":
                if stype == socket.SOCK_DGRAM:
                    data, peer = conn.recvfrom(1 << 20)
                else:
                    data = conn.recv(1 << 20)
                say("msg " + data.hex())
            elif cmd == "shut":
                conn.shutdown(socket.SHUT_WR)
                say("shut")
            elif cmd == "readall":
                n, digest = read_to_eof(conn)
                say(f"all {n} {digest}")
            elif cmd == "exchange":
                with open(args[0], "rb") as f:
                    data = f.read()
                failure = []

                def send_then_shut():
                    try:
                        conn.sendall(data)
                        conn.shutdown(socket.SHUT_WR)
                    except OSError as e:
                        failure.append(e)

                t = threading.Thread(target=send_then_shut)
                t.start()
                n, digest = read_to_eof(conn)
                t.join()
                if failure:
                    raise failure[0]
                say(f"all {n} {digest}")
            elif cmd == "answer":
                n, digest = read_to_eof(conn)
                conn.sendall(digest.encode())
                conn.close()
                say(f"answered {n} {digest}")
            elif cmd == "close":
                conn.close()
                say("closed")
            elif cmd == "rst":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                say("reset")
            elif cmd == "quit":
                return
            else:
                say(f"error unknown command {cmd}")
        except Exception as e:  # report and go on: the test decides what is fatal
            say(f"error {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
