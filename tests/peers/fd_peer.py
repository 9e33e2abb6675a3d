#!/usr/bin/env python3
"""A Unix socket that passes file descriptors (socket.send_fds / socket.recv_fds), driven by
commands, for sockbox's descriptor-passing tests.

    fd_peer.py listen|connect KIND ADDR

KIND is unix, seqpacket or unix-dgram; ADDR is a path or @name. `listen` binds (and listens,
for unix and seqpacket); `connect` connects. Once set up the peer prints `ready PID`, then
obeys one command per line on stdin and answers each with one line on stdout:

    accept              accept the next client                          -> accepted
    send HEX SPEC...    one sendmsg: the bytes HEX with the descriptors SPEC... attached
                                                                        -> sent NBYTES NFDS [port=P]
    recv [MAXFDS]       one recvmsg (default room for 253 descriptors); the descriptors are
                        kept, numbered from 0 in arrival order          -> msg HEX NFDS FLAGS
    recvall             recvmsg until end of stream, keeping descriptors -> all LEN SHA256 NFDS
    read I              read kept descriptor I to its end               -> all LEN SHA256
    write I HEX         write HEX to kept descriptor I, then close it   -> wrote N
    info I              what kept descriptor I is                       -> info TYPE ACCESS FLAGS...
    drop                close every kept descriptor                     -> dropped N
    pipe_read K         read pipe K (see pipe-w) to its end             -> all LEN SHA256
    pipe_closed K       wait (up to 20 s) until every write end of pipe K is closed
                                                                        -> closed | open
    shut                shutdown(SHUT_WR)                               -> shut
    close               close the socket                                -> closed
    quit

SPEC is one of
    file:PATH           PATH opened read-only (file:PATH*N: N times)
    wfile:PATH          PATH opened write-only, created, appending
    dup:N               N descriptors of /dev/null
    pipe-r:HEX          a pipe holding HEX whose write end is closed: its read end is sent
    pipe-w:K            a pipe whose write end is sent (and closed here once sent); its read
                        end is kept as pipe K
    tcp-listen          a TCP socket listening on 127.0.0.1 (its port is answered: port=P)
    unix-listen:ADDR    a Unix stream socket listening on ADDR
    self                this peer's own socket

FLAGS is `-` or a comma-separated list of ctrunc, trunc. Any failure is answered
`error TEXT`; the peer goes on obeying.
"""

import fcntl
import hashlib
import os
import select
import socket
import stat
import sys
import time

SCM_MAX_FD = 253
TYPES = {
    "unix": socket.SOCK_STREAM,
    "seqpacket": socket.SOCK_SEQPACKET,
    "unix-dgram": socket.SOCK_DGRAM,
}


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def sockaddr(addr):
    return "\0" + addr[1:] if addr.startswith("@") else addr


class Peer:
    def __init__(self, role, kind, addr):
        self.kind = kind
        self.listener = None
        self.sock = None
        self.kept = []  # received descriptors
        self.pipes = {}  # K -> read end
        self.keep_alive = []  # sockets created for SPECs, kept open while the peer runs
        s = socket.socket(socket.AF_UNIX, TYPES[kind])
        if role == "listen":
            if not addr.startswith("@") and os.path.exists(addr):
                os.unlink(addr)
            s.bind(sockaddr(addr))
            if kind == "unix-dgram":
                self.sock = s
            else:
                s.listen(16)
                self.listener = s
        else:
            s.connect(sockaddr(addr))
            self.sock = s

    def open_spec(self, spec, extra):
        """The descriptors of one SPEC, and those to close once they are sent."""
        what, _, arg = spec.partition(":")
        if what == "file":
            path, _, n = arg.partition("*")
            fds = [os.open(path, os.O_RDONLY) for _ in range(int(n or 1))]
            return fds, fds
        if what == "wfile":
            fd = os.open(arg, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            return [fd], [fd]
        if what == "dup":
            fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(int(arg))]
            return fds, fds
        if what == "pipe-r":
            r, w = os.pipe()
            os.write(w, bytes.fromhex(arg))
            os.close(w)
            return [r], [r]
        if what == "pipe-w":
            r, w = os.pipe()
            self.pipes[arg] = r
            return [w], [w]
        if what == "tcp-listen":
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.bind(("127.0.0.1", 0))
            t.listen(1)
            self.keep_alive.append(t)
            extra.append("port=%d" % t.getsockname()[1])
            return [t.fileno()], []
        if what == "self":
            return [self.sock.fileno()], []
        if what == "unix-listen":
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.bind(sockaddr(arg))
            u.listen(1)
            self.keep_alive.append(u)
            return [u.fileno()], []
        raise ValueError("unknown spec " + spec)

    def send(self, hexdata, specs):
        data = bytes.fromhex(hexdata)
        fds, close, extra = [], [], []
        for spec in specs:
            f, c = self.open_spec(spec, extra)
            fds += f
            close += c
        try:
            n = socket.send_fds(self.sock, [data], fds)
        finally:
            for fd in close:
                os.close(fd)
        return " ".join(["sent %d %d" % (n, len(fds))] + extra)

    def recv(self, maxfds):
        data, fds, flags, _ = socket.recv_fds(self.sock, 1 << 20, maxfds)
        self.kept += fds
        names = []
        if flags & socket.MSG_CTRUNC:
            names.append("ctrunc")
        if flags & socket.MSG_TRUNC:
            names.append("trunc")
        return "msg %s %d %s" % (data.hex(), len(fds), ",".join(names) or "-")

    def recvall(self):
        h, total, nfds = hashlib.sha256(), 0, 0
        while True:
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, SCM_MAX_FD)
            self.kept += fds
            nfds += len(fds)
            if not data and not fds:
                break
            h.update(data)
            total += len(data)
        return "all %d %s %d" % (total, h.hexdigest(), nfds)

    def info(self, fd):
        st = os.fstat(fd)
        kind = {
            stat.S_IFREG: "file",
            stat.S_IFDIR: "dir",
            stat.S_IFIFO: "fifo",
            stat.S_IFSOCK: "socket",
            stat.S_IFCHR: "chr",
        }.get(stat.S_IFMT(st.st_mode), "other")
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        access = {os.O_RDONLY: "rdonly", os.O_WRONLY: "wronly", os.O_RDWR: "rdwr"}[
            fl & os.O_ACCMODE
        ]
        words = ["info", kind, access]
        if fl & os.O_APPEND:
            words.append("append")
        if fl & os.O_NONBLOCK:
            words.append("nonblock")
        words.append("path=" + os.readlink("/proc/self/fd/%d" % fd))
        return " ".join(words)


def read_to_end(fd):
    h, total = hashlib.sha256(), 0
    deadline = time.monotonic() + 20
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no end of file within 20 s")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        b = os.read(fd, 1 << 16)
        if not b:
            return "all %d %s" % (total, h.hexdigest())
        h.update(b)
        total += len(b)


def closed_within(fd, seconds):
    """True once reading the pipe gives end of file (every write end is closed); data that
    arrives meanwhile is read and dropped."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready and not os.read(fd, 1 << 16):
            return True
    return False


def main():
    role, kind, addr = sys.argv[1:4]
    p = Peer(role, kind, addr)
    say("ready %d" % os.getpid())
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        try:
            if cmd == "accept":
                p.sock, _ = p.listener.accept()
                say("accepted")
            elif cmd == "send":
                say(p.send(args[0], args[1:]))
            elif cmd == "recv":
                say(p.recv(int(args[0]) if args else SCM_MAX_FD))
            elif cmd == "recvall":
                say(p.recvall())
            elif cmd == "read":
                say(read_to_end(p.kept[int(args[0])]))
            elif cmd == "write":
                fd = p.kept[int(args[0])]
                n = os.write(fd, bytes.fromhex(args[1]))
                os.close(fd)
                p.kept[int(args[0])] = -1
                say("wrote %d" % n)
            elif cmd == "info":
                say(p.info(p.kept[int(args[0])]))
            elif cmd == "drop":
                n = 0
                for fd in p.kept:
                    if fd >= 0:
                        os.close(fd)
                        n += 1
                p.kept = []
                say("dropped %d" % n)
            elif cmd == "pipe_read":
                say(read_to_end(p.pipes[args[0]]))
            elif cmd == "pipe_closed":
                say("closed" if closed_within(p.pipes[args[0]], 20) else "open")
            elif cmd == "shut":
                p.sock.shutdown(socket.SHUT_WR)
                say("shut")
            elif cmd == "close":
                p.sock.close()
                say("closed")
            elif cmd == "quit":
                return
            else:
                say("error unknown command " + cmd)
        except Exception as e:  # the test reads the answer
            say("error %s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    main()
