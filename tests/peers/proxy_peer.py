#!/usr/bin/env python3
"""Peers for the proxy tests, on 127.0.0.1 ports the kernel picks (printed first, one line).

  proxy_peer.py serve SIZE SEED   a server that speaks first: SIZE seeded bytes to each
                                  client, then echoes what it reads until end of stream
  proxy_peer.py socks4            a SOCKS 4 / 4a proxy; each request is printed as one JSON
                                  line {"userid", "ip", "host", "port"} before it is served
  proxy_peer.py garbage           answers any request with bytes that are no proxy protocol

Every connection is served on its own thread; the process runs until killed.
"""

import json
import random
import socket
import sys
import threading


def listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], flush=True)
    return s


def payload(size, seed):
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(size))


def serve(c, data):
    try:
        c.sendall(data)
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
        c.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        c.close()


def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                b.shutdown(socket.SHUT_WR)
                return
            b.sendall(d)
    except OSError:
        pass


def read_until_nul(c):
    out = b""
    while True:
        ch = c.recv(1)
        if not ch:
            raise EOFError
        if ch == b"\0":
            return out
        out += ch


def socks4(c):
    try:
        head = b""
        while len(head) < 8:
            more = c.recv(8 - len(head))
            if not more:
                return
            head += more
        port = int.from_bytes(head[2:4], "big")
        ip = socket.inet_ntoa(head[4:8])
        userid = read_until_nul(c).decode()
        host = None
        if head[4:7] == b"\0\0\0" and head[7] != 0:
            host = read_until_nul(c).decode()
        print(json.dumps({"userid": userid, "ip": ip, "host": host, "port": port}), flush=True)
        try:
            up = socket.create_connection((host or ip, port), timeout=5)
        except OSError:
            c.sendall(b"\0\x5b" + b"\0" * 6)
            return
        c.sendall(b"\0\x5a" + head[2:8])
        t = threading.Thread(target=pump, args=(up, c), daemon=True)
        t.start()
        pump(c, up)
        t.join(30)
    except (OSError, EOFError):
        pass
    finally:
        c.close()


def garbage(c):
    try:
        c.recv(4096)
        c.sendall(b"garbage, not a proxy protocol\r\n\r\n")
    except OSError:
        pass
    finally:
        c.close()


def main():
    mode = sys.argv[1]
    s = listener()
    while True:
        c, _ = s.accept()
        if mode == "serve":
            data = payload(int(sys.argv[2]), int(sys.argv[3]))
            args = (c, data)
            target = serve
        elif mode == "socks4":
            args, target = (c,), socks4
        else:
            args, target = (c,), garbage
        threading.Thread(target=target, args=args, daemon=True).start()


if __name__ == "__main__":
    main()
