#!/usr/bin/env python3
"""Peers for sockbox's fault tests (relay --latency, --rate, --reset-after ...): each says what
it observed as one JSON line on stdout. ADDR is tcp:PORT (127.0.0.1), unix:PATH,
seqpacket:PATH or udp:PORT. Servers print `ready PORT` once listening and serve one client.

    fault_peer.py oneway-server ADDR          answers each "T\\n" (the client's monotonic send
                                              time) with "UP S\\n": UP the time it took to
                                              arrive, S the server's send time
    fault_peer.py oneway-client ADDR N        N exchanges with it  -> {"up": [..], "down": [..]}
    fault_peer.py sink ADDR [WAIT]            counts bytes until end of stream, an error or WAIT s
        -> {"bytes", "end": "eof"|"ECONNRESET"|"timeout"|..., "reads": [sizes], "first", "last"}
    fault_peer.py send ADDR SIZE [WAIT]       sends SIZE bytes, shuts down writing, reads until
                                              the end (WAIT s at most) -> {"sent", "error", "got",
                                              "end"}
    fault_peer.py eof-server ADDR WAIT        reads to end of stream (WAIT s at most), then
                                              writes "eof after X" or "no eof" and closes
                                              -> {"eof": seconds until end of stream | null}
    fault_peer.py ask ADDR                    sends "ask", shuts down writing, reads the answer
                                              -> {"answer", "end", "secs"}
    fault_peer.py connect ADDR TIMEOUT        -> {"result": "ok"|"timeout"|errno name, "secs"}
    fault_peer.py msg-sink ADDR WAIT          receives messages until WAIT s of quiet or end
                                              -> {"messages": [hex...]}
    fault_peer.py msg-send ADDR N             sends N messages "msg-I" (I from 0), 2 ms apart
    fault_peer.py sinks ADDR N [WAIT]         serves N clients at once, each as `sink` does
                                              -> {"clients": [sink results, in accept order]}
    fault_peer.py knock ADDR                  connects and reads to the end, sending nothing
                                              -> {"result": "ok"|errno name, "got", "end"}
    fault_peer.py fds-send ADDR N             sends N messages "fd-I", each carrying one
                                              descriptor (SCM_RIGHTS), 2 ms apart
    fault_peer.py fds-sink ADDR WAIT          receives messages and their descriptors until
                                              end or WAIT s of quiet
                                              -> {"messages": [text...], "fds": [count...]}

Every wait is bounded.
"""

import errno
import json
import os
import socket
import sys
import time

TIMEOUT = 20


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse(addr):
    kind, rest = addr.split(":", 1)
    if kind == "tcp":
        return socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", int(rest))
    if kind == "udp":
        return socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", int(rest))
    if kind == "unix":
        return socket.AF_UNIX, socket.SOCK_STREAM, rest
    if kind == "seqpacket":
        return socket.AF_UNIX, socket.SOCK_SEQPACKET, rest
    raise SystemExit(f"unknown address {addr}")


def serve_one(addr):
    fam, ty, a = parse(addr)
    s = socket.socket(fam, ty)
    if fam == socket.AF_INET:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(a)
    port = s.getsockname()[1] if fam == socket.AF_INET else 0
    if ty == socket.SOCK_DGRAM:
        sys.stdout.write(f"ready {port}\n")
        sys.stdout.flush()
        return s
    s.listen(16)
    s.settimeout(TIMEOUT)
    sys.stdout.write(f"ready {port}\n")
    sys.stdout.flush()
    c, _ = s.accept()
    c.settimeout(TIMEOUT)
    return c


def dial(addr, timeout=TIMEOUT):
    fam, ty, a = parse(addr)
    s = socket.socket(fam, ty)
    s.settimeout(timeout)
    s.connect(a)
    s.settimeout(TIMEOUT)
    return s


def err_name(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    return errno.errorcode.get(e.errno, str(e)) if e.errno else str(e)


def readline(c, buf):
    while b"\n" not in buf:
        d = c.recv(4096)
        if not d:
            return None, buf
        buf += d
    line, _, rest = buf.partition(b"\n")
    return line.decode(), rest


def oneway_server(addr):
    c = serve_one(addr)
    buf = b""
    while True:
        line, buf = readline(c, buf)
        if line is None:
            return
        up = time.monotonic() - float(line)
        c.sendall(f"{up} {time.monotonic()}\n".encode())


def oneway_client(addr, n):
    c = dial(addr)
    ups, downs = [], []
    buf = b""
    for _ in range(int(n)):
        c.sendall(f"{time.monotonic()}\n".encode())
        line, buf = readline(c, buf)
        up, sent = line.split()
        ups.append(float(up))
        downs.append(time.monotonic() - float(sent))
    c.close()
    out({"up": ups, "down": downs})


def sink(addr, wait=str(TIMEOUT)):
    out(count(serve_one(addr), wait))


def count(c, wait):
    c.settimeout(float(wait))
    total, reads, first, last, end = 0, [], None, None, "eof"
    while True:
        try:
            d = c.recv(1 << 20)
        except OSError as e:
            end = err_name(e)
            break
        if not d:
            break
        now = time.monotonic()
        first = first if first is not None else now
        last = now
        total += len(d)
        reads.append(len(d))
    c.close()
    return {"bytes": total, "end": end, "reads": reads, "first": first, "last": last}


def sinks(addr, n, wait=str(TIMEOUT)):
    import threading

    fam, ty, a = parse(addr)
    s = socket.socket(fam, ty)
    if fam == socket.AF_INET:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(a)
    s.listen(16)
    s.settimeout(TIMEOUT)
    port = s.getsockname()[1] if fam == socket.AF_INET else 0
    sys.stdout.write(f"ready {port}\n")
    sys.stdout.flush()
    results = [None] * int(n)

    def one(i, c):
        results[i] = count(c, wait)

    threads = []
    for i in range(int(n)):
        c, _ = s.accept()
        t = threading.Thread(target=one, args=(i, c))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(TIMEOUT + float(wait))
    out({"clients": results})


def knock(addr):
    try:
        c = dial(addr, 5)
    except OSError as e:
        out({"result": err_name(e), "got": 0, "end": None})
        return
    got, end = 0, "eof"
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            got += len(d)
    except OSError as e:
        end = err_name(e)
    out({"result": "ok", "got": got, "end": end})


def fds_send(addr, n):
    c = dial(addr)
    for i in range(int(n)):
        fd = os.open("/dev/null", os.O_RDONLY)
        socket.send_fds(c, [f"fd-{i}".encode()], [fd])
        os.close(fd)
        time.sleep(0.002)
    time.sleep(0.2)
    c.close()


def fds_sink(addr, wait):
    c = serve_one(addr)
    c.settimeout(float(wait))
    msgs, fds = [], []
    try:
        while True:
            data, got, _flags, _addr = socket.recv_fds(c, 65536, 8)
            if not data:
                break
            msgs.append(data.decode())
            fds.append(len(got))
            for fd in got:
                os.close(fd)
    except socket.timeout:
        pass
    out({"messages": msgs, "fds": fds})


def send(addr, size, wait=str(TIMEOUT)):
    c = dial(addr)
    data = bytes(i % 251 for i in range(int(size)))
    sent, error = 0, None
    try:
        view = memoryview(data)
        while sent < len(data):
            sent += c.send(view[sent : sent + 65536])
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        error = err_name(e)
    c.settimeout(float(wait))
    got, end = 0, "eof"
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
    except OSError as e:
        end = err_name(e)
    out({"sent": sent, "error": error, "got": got, "end": end})


def eof_server(addr, wait):
    c = serve_one(addr)
    start = time.monotonic()
    c.settimeout(float(wait))
    answer, eof = "no eof", None
    try:
        while c.recv(4096):
            pass
        eof = time.monotonic() - start
        answer = f"eof after {eof:.3f}"
    except socket.timeout:
        pass
    try:
        c.sendall(answer.encode())
    except OSError:
        pass
    c.close()
    out({"eof": eof})


def ask(addr):
    c = dial(addr)
    start = time.monotonic()
    c.sendall(b"ask")
    c.shutdown(socket.SHUT_WR)
    got, end = b"", "eof"
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            got += d
    except OSError as e:
        end = err_name(e)
    out({"answer": got.decode(), "end": end, "secs": time.monotonic() - start})


def connect(addr, timeout):
    start = time.monotonic()
    try:
        s = dial(addr, float(timeout))
        result = "ok"
        s.close()
    except OSError as e:
        result = err_name(e)
    out({"result": result, "secs": time.monotonic() - start})


def msg_sink(addr, wait):
    c = serve_one(addr)
    c.settimeout(float(wait))
    msgs = []
    try:
        while True:
            d = c.recv(65536)
            if not d and c.type == socket.SOCK_SEQPACKET:
                break
            msgs.append(d.hex())
    except socket.timeout:
        pass
    out({"messages": msgs})


def msg_send(addr, n):
    c = dial(addr)
    for i in range(int(n)):
        c.send(f"msg-{i}".encode())
        time.sleep(0.002)
    time.sleep(0.2)
    c.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "oneway-server": oneway_server,
        "oneway-client": oneway_client,
        "sink": sink,
        "send": send,
        "eof-server": eof_server,
        "ask": ask,
        "connect": connect,
        "msg-sink": msg_sink,
        "msg-send": msg_send,
        "sinks": sinks,
        "knock": knock,
        "fds-send": fds_send,
        "fds-sink": fds_sink,
    }[cmd](*args)


if __name__ == "__main__":
    main()
