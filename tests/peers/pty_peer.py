#!/usr/bin/env python3
"""The other end of sockbox's terminals, with Python's os, pty and termios.

  settings PATH            print the terminal's termios settings at PATH as one JSON line
  nullmodem A B BYTES      open two slaves (raw), send BYTES random bytes each way at once,
                           print "ok" and the sha256 of what each side received
  readline SOCKBOX DIR     run `SOCKBOX connect unix:DIR/srv.sock --readline --prompt '> '`
                           on a new pty with XDG_STATE_HOME=DIR/state, type abc Left X Enter,
                           print what the server received, then Ctrl-D; print the exit status
  hold PATH SECONDS        open PATH, write "hi\\n", close it, then sleep (for wait-slave)
  readline_closed SOCKBOX DIR
                           as readline, but the server says bye and closes at once: sockbox
                           must exit by itself and leave the terminal as it was
  columns COLS ARGV...     run ARGV on a new pty COLS columns wide; print what it wrote (CR
                           removed), then its exit status on a last line "exit N"
  rawstdio DIR ARGV...     run ARGV (with DIR/srv.sock listened on) on a new pty; print the
                           terminal's echo/icanon while it runs and after it exits
  modem                    a fake modem: a new pty whose slave (printed first) is the "serial
                           device"; answers each command from the master side (`AT` with
                           `OK\\r\\n`, anything else with `ERROR\\r\\n`, each ended by CR),
                           printing each command it got, until its stdin closes

Every wait is bounded (10 s); a failure exits 1 with the reason on stderr.
"""

import hashlib
import json
import os
import pty
import select
import socket
import sys
import termios
import threading
import time

BOUND = 10.0

SPEEDS = {
    getattr(termios, name): int(name[1:])
    for name in dir(termios)
    if name.startswith("B") and name[1:].isdigit()
}


def settings(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
    finally:
        os.close(fd)
    bits = {termios.CS5: 5, termios.CS6: 6, termios.CS7: 7, termios.CS8: 8}
    return {
        "echo": bool(lflag & termios.ECHO),
        "icanon": bool(lflag & termios.ICANON),
        "isig": bool(lflag & termios.ISIG),
        "opost": bool(oflag & termios.OPOST),
        "ispeed": SPEEDS.get(ispeed, -1),
        "ospeed": SPEEDS.get(ospeed, -1),
        "csize": bits[cflag & termios.CSIZE],
        "parenb": bool(cflag & termios.PARENB),
        "cstopb": bool(cflag & termios.CSTOPB),
        "crtscts": bool(cflag & termios.CRTSCTS),
        "clocal": bool(cflag & termios.CLOCAL),
    }


def read_exactly(fd, n, into):
    deadline = time.time() + BOUND
    h = hashlib.sha256()
    got = 0
    while got < n:
        left = deadline - time.time()
        if left <= 0:
            into["error"] = f"timed out after {got} of {n} bytes"
            return
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 65536)
            h.update(chunk)
            got += len(chunk)
    into["sha"] = h.hexdigest()
    into["n"] = got


def nullmodem(a, b, n):
    fa = os.open(a, os.O_RDWR | os.O_NOCTTY)
    fb = os.open(b, os.O_RDWR | os.O_NOCTTY)
    for fd in (fa, fb):
        attrs = termios.tcgetattr(fd)
        if attrs[3] & (termios.ICANON | termios.ECHO):
            sys.exit(f"{a if fd == fa else b} is not raw: {settings(a if fd == fa else b)}")
    data_ab, data_ba = os.urandom(n), os.urandom(n)
    got_b, got_a = {}, {}
    readers = [
        threading.Thread(target=read_exactly, args=(fb, n, got_b)),
        threading.Thread(target=read_exactly, args=(fa, n, got_a)),
    ]
    for t in readers:
        t.start()

    def send(fd, data):
        view = memoryview(data)
        while view:
            _, w, _ = select.select([], [fd], [], BOUND)
            if not w:
                return
            k = os.write(fd, view[:4096])
            view = view[k:]

    writers = [
        threading.Thread(target=send, args=(fa, data_ab)),
        threading.Thread(target=send, args=(fb, data_ba)),
    ]
    for t in writers:
        t.start()
    for t in writers + readers:
        t.join(BOUND + 1)
    os.close(fa)
    os.close(fb)
    for name, got, data in (("a->b", got_b, data_ab), ("b->a", got_a, data_ba)):
        if got.get("sha") != hashlib.sha256(data).hexdigest():
            sys.exit(f"{name}: {got.get('error', 'bytes differ')}")
    print("ok", got_b["sha"], got_a["sha"], flush=True)


def drain(fd, seconds):
    out = b""
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def readline(sockbox, d):
    path = os.path.join(d, "srv.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    env = dict(os.environ, XDG_STATE_HOME=os.path.join(d, "state"), TERM="xterm")
    pid, fd = pty.fork()
    if pid == 0:
        argv = [sockbox, "connect", "unix:" + path, "--readline", "--prompt", "> "]
        os.execve(sockbox, argv, env)
    srv.settimeout(BOUND)
    conn, _ = srv.accept()
    conn.settimeout(BOUND)
    conn.sendall(b"welcome\n")
    screen = b""
    deadline = time.time() + BOUND
    # The editor is ready when the prompt is drawn after the server's greeting.
    while b"welcome" not in screen or not screen.rstrip().endswith(b"\x1b[?2026l"):
        if time.time() > deadline:
            sys.exit(f"no prompt on the screen: {screen!r}")
        screen += drain(fd, 0.1)
    for keys in (b"abc", b"\x1b[D", b"X", b"\r"):
        os.write(fd, keys)
        screen += drain(fd, 0.1)
    got = b""
    while not got.endswith(b"\n"):
        chunk = conn.recv(100)
        if not chunk:
            break
        got += chunk
    print("server received", repr(got), flush=True)
    os.write(fd, b"\x04")
    rest = conn.recv(100)
    print("server then read", repr(rest), flush=True)
    conn.close()
    deadline = time.time() + BOUND
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.exit("sockbox did not exit after Ctrl-D and the server's close")
        drain(fd, 0.05)
    print("status", os.waitstatus_to_exitcode(status), flush=True)
    print("prompt shown", b"> " in screen, flush=True)


def readline_closed(sockbox, d):
    """The server answers and closes while the user is at the prompt: sockbox exits on its
    own, the terminal as it was."""
    path = os.path.join(d, "srv.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    env = dict(os.environ, XDG_STATE_HOME=os.path.join(d, "state"), TERM="xterm")
    pid, fd = pty.fork()
    if pid == 0:
        argv = [sockbox, "connect", "unix:" + path, "--readline"]
        os.execve(sockbox, argv, env)
    before = flags(fd)
    srv.settimeout(BOUND)
    conn, _ = srv.accept()
    deadline = time.time() + BOUND
    while flags(fd) == before and time.time() < deadline:
        time.sleep(0.02)
    print("editing", flags(fd), flush=True)
    conn.sendall(b"bye\n")
    conn.close()
    screen = b""
    deadline = time.time() + BOUND
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.exit(f"sockbox did not exit after the server closed: {screen!r}")
        screen += drain(fd, 0.05)
    print("screen has bye", b"bye" in screen, flush=True)
    print("after", flags(fd), "before", before, flush=True)
    print("status", os.waitstatus_to_exitcode(status), flush=True)


def flags(fd):
    lflag = termios.tcgetattr(fd)[3]
    return f"echo={int(bool(lflag & termios.ECHO))} icanon={int(bool(lflag & termios.ICANON))}"


def rawstdio(d, argv):
    path = os.path.join(d, "srv.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    print("before", flags(fd), flush=True)
    srv.settimeout(BOUND)
    conn, _ = srv.accept()
    conn.settimeout(BOUND)
    # A key typed goes through at once, unechoed: the terminal is raw.
    deadline = time.time() + BOUND
    while flags(fd) != "echo=0 icanon=0" and time.time() < deadline:
        time.sleep(0.02)
    print("during", flags(fd), flush=True)
    os.write(fd, b"k")
    print("peer got", repr(conn.recv(10)), flush=True)
    conn.close()
    deadline = time.time() + BOUND
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.exit("sockbox did not exit after the peer closed")
        drain(fd, 0.05)
    print("after", flags(fd), flush=True)
    print("status", os.waitstatus_to_exitcode(status), flush=True)


def columns(cols, argv):
    """What a program prints on a terminal of a given width (tables fit it)."""
    import fcntl
    import struct

    pid, fd = pty.fork()
    if pid == 0:
        # The size is set on the slave before the program starts, so it never sees another.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, int(cols), 0, 0))
        os.execvp(argv[0], argv)
    out = b""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the program exited and the slave is closed
            break
        if not data:
            break
        out += data
    else:
        os.kill(pid, 9)
        sys.exit("the program did not end within 10 s")
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
    print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)


def hold(path, seconds):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    os.write(fd, b"hi\n")
    time.sleep(0.2)
    os.close(fd)
    time.sleep(float(seconds))
    print("closed", flush=True)


def modem():
    master, slave = pty.openpty()
    # The slave stays open here, as a serial device stays there between its users: the
    # master never reads EIO while sockbox closes and reopens it.
    print(os.ttyname(slave), flush=True)
    pending = b""
    deadline = time.time() + 6 * BOUND
    while True:
        left = deadline - time.time()
        if left <= 0:
            sys.exit("modem: stdin still open after 60 s")
        r, _, _ = select.select([master, sys.stdin], [], [], left)
        if sys.stdin in r and not sys.stdin.buffer.read1(100):
            break
        if master not in r:
            continue
        pending += os.read(master, 4096)
        while b"\r" in pending:
            line, pending = pending.split(b"\r", 1)
            print("modem got", repr(line), flush=True)
            os.write(master, b"OK\r\n" if line.strip() == b"AT" else b"ERROR\r\n")
    os.close(slave)
    os.close(master)


def main():
    cmd = sys.argv[1]
    if cmd == "settings":
        print(json.dumps(settings(sys.argv[2]), sort_keys=True), flush=True)
    elif cmd == "nullmodem":
        nullmodem(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "readline":
        readline(sys.argv[2], sys.argv[3])
    elif cmd == "readline_closed":
        readline_closed(sys.argv[2], sys.argv[3])
    elif cmd == "rawstdio":
        rawstdio(sys.argv[2], sys.argv[3:])
    elif cmd == "columns":
        columns(sys.argv[2], sys.argv[3:])
    elif cmd == "modem":
        modem()
    elif cmd == "hold":
        hold(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
