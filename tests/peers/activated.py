"""A socket-activated program, as systemd would start it (sd_listen_fds(3)).

Reads LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES, prints one JSON line describing what it was
given (names, each socket's family, type and address, every other open descriptor), then
accepts one client on each stream socket in turn and answers it with what it sent, upper-cased,
prefixed by the socket's name. Exits when every socket has served one client.
"""

import json
import os
import socket
import sys

START = 3


def describe_fd(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None  # the descriptor listdir itself used, closed by now


def main():
    count = int(os.environ.get("LISTEN_FDS", "0"))
    pid = int(os.environ.get("LISTEN_PID", "0"))
    names = os.environ.get("LISTEN_FDNAMES", "")
    socks = []
    info = {
        "count": count,
        "pid_is_mine": pid == os.getpid(),
        "names": names.split(":") if names else [],
        "sockets": [],
    }
    for i in range(count):
        s = socket.socket(fileno=START + i)
        socks.append(s)
        addr = s.getsockname()
        if isinstance(addr, bytes):
            addr = "@" + addr[1:].decode()
        elif isinstance(addr, tuple):
            addr = f"{addr[0]}:{addr[1]}"
        info["sockets"].append(
            {
                "fd": START + i,
                "family": s.family.name,
                "type": s.type.name,
                "addr": addr,
                "inheritable": os.get_inheritable(START + i),
            }
        )
    # Everything else this process holds: what sockbox leaked across exec would show here.
    own = {START + i for i in range(count)}
    listing = os.listdir("/proc/self/fd")
    others = ((int(f), describe_fd(int(f))) for f in listing if int(f) > 2 and int(f) not in own)
    info["other_fds"] = sorted((fd, what) for fd, what in others if what is not None)
    print(json.dumps(info), flush=True)
    for i, s in enumerate(socks):
        if s.type != socket.SOCK_STREAM:
            continue
        s.settimeout(20)
        conn, _ = s.accept()
        conn.settimeout(20)
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        name = info["names"][i] if i < len(info["names"]) else "?"
        conn.sendall(name.encode() + b" " + data.upper())
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
