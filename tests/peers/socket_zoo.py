#!/usr/bin/env python3
"""Known sockets of every kind, for the `sockbox ls` / `who` tests (tests/inspect.rs).

    socket_zoo.py DIR NAME

Opens, in this process: a TCP listener on 127.0.0.1 (backlog 8) with one accepted connection
and one that is never accepted; the same on ::1; a bound UDP socket and a UDP socket connected
to it; a Unix stream listener at DIR/stream.sock (backlog 8) with one accepted and one pending
connection; a Unix datagram socket bound at DIR/dgram.sock and one connected to it; a seqpacket
listener on the abstract name @NAME-seq with one accepted connection; socketpairs of the three
Unix types; a stale socket file DIR/stale.sock (bound, then closed); a raw ICMP socket bound to
127.0.0.1, a packet socket bound to lo and a netlink route socket (root only).

The client ends of the TCP and Unix connections live in a child process (this script run with
`client`), so each connection joins two processes. Then it prints one JSON line describing
every socket by inode, and waits until stdin closes (the child exits with it).
"""

import json
import os
import socket
import subprocess
import sys


def ino(s):
    return os.fstat(s.fileno()).st_ino


def client(port, port6, stream_path, seq_name, dgram_path):
    """The child: connects clients, reports their inodes, waits for stdin to close."""
    tcp = socket.create_connection(("127.0.0.1", port))
    tcp.sendall(b"x" * 1000)
    tcp_pending = socket.create_connection(("127.0.0.1", port))
    tcp6 = socket.create_connection(("::1", port6))
    ux = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ux.connect(stream_path)
    ux_pending = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ux_pending.connect(stream_path)
    seq = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    seq.connect("\0" + seq_name)
    dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dg.connect(dgram_path)
    out = {
        "tcp_client": ino(tcp),
        "tcp_client_port": tcp.getsockname()[1],
        "tcp_pending": ino(tcp_pending),
        "tcp6_client": ino(tcp6),
        "unix_client": ino(ux),
        "unix_pending": ino(ux_pending),
        "seq_client": ino(seq),
        "dgram_client": ino(dg),
    }
    print(json.dumps(out), flush=True)
    sys.stdin.read()


def main():
    if sys.argv[1] == "client":
        client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
        return
    d, name = sys.argv[1], sys.argv[2]
    keep = []
    tcp_l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_l.bind(("127.0.0.1", 0))
    tcp_l.listen(8)
    tcp6_l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    tcp6_l.bind(("::1", 0))
    tcp6_l.listen(8)
    udp_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_b.bind(("127.0.0.1", 0))
    udp_c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_c.connect(udp_b.getsockname())
    stream_path = os.path.join(d, "stream.sock")
    ux_l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ux_l.bind(stream_path)
    ux_l.listen(8)
    dgram_path = os.path.join(d, "dgram.sock")
    dg_b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dg_b.bind(dgram_path)
    seq_name = name + "-seq"
    seq_l = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    seq_l.bind("\0" + seq_name)
    seq_l.listen(8)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.path.join(d, "stale.sock"))
    stale.close()
    pairs = {
        "pair_stream": socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM),
        "pair_dgram": socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM),
        "pair_seq": socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET),
    }
    extra = {}
    if os.geteuid() == 0:
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        raw.bind(("127.0.0.1", 0))
        pk = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
        pk.bind(("lo", 0x0800))
        keep += [raw, pk]
        extra.update(raw=ino(raw), packet=ino(pk))
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    nl.bind((0, 0))
    keep.append(nl)
    extra.update(netlink=ino(nl), netlink_portid=nl.getsockname()[0])

    child = subprocess.Popen(
        [sys.executable, __file__, "client", str(tcp_l.getsockname()[1]),
         str(tcp6_l.getsockname()[1]), stream_path, seq_name, dgram_path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
    c = json.loads(child.stdout.readline())
    tcp_a, _ = tcp_l.accept()
    got = 0
    while got < 1000:
        got += len(tcp_a.recv(1000 - got))
    tcp6_a, _ = tcp6_l.accept()
    ux_a, _ = ux_l.accept()
    seq_a, _ = seq_l.accept()
    out = {
        "pid": os.getpid(),
        "child": child.pid,
        "tcp_listener": ino(tcp_l),
        "tcp_port": tcp_l.getsockname()[1],
        "tcp_accepted": ino(tcp_a),
        "tcp6_listener": ino(tcp6_l),
        "tcp6_port": tcp6_l.getsockname()[1],
        "tcp6_accepted": ino(tcp6_a),
        "udp_bound": ino(udp_b),
        "udp_port": udp_b.getsockname()[1],
        "udp_connected": ino(udp_c),
        "unix_listener": ino(ux_l),
        "unix_accepted": ino(ux_a),
        "stream_path": stream_path,
        "dgram_bound": ino(dg_b),
        "dgram_path": dgram_path,
        "seq_listener": ino(seq_l),
        "seq_accepted": ino(seq_a),
        "seq_name": seq_name,
        "stale_path": os.path.join(d, "stale.sock"),
    }
    for k, (a, b) in pairs.items():
        out[k] = [ino(a), ino(b)]
    out.update(c)
    out.update(extra)
    keep += [tcp_l, tcp6_l, udp_b, udp_c, ux_l, dg_b, seq_l, tcp_a, tcp6_a, ux_a, seq_a, pairs]
    print(json.dumps(out), flush=True)
    sys.stdin.read()
    child.stdin.close()
    child.wait()


main()
