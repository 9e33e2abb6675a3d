"""Known traffic for `sockbox top`.

    top_peer.py RATE   send RATE bytes/s over TCP to a receiver in this process, paced;
                       fill a Unix socketpair whose reader never reads; print one JSON line
                       (pid, ports, Unix inodes). On "short" from stdin, open a TCP
                       connection to its own listener, send 777 bytes, close it, and print
                       "short PORT". Exit at stdin's end.
"""
import json
import os
import socket
import sys
import threading
import time


def main():
    rate = int(sys.argv[1])
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    snd = socket.create_connection(lst.getsockname())
    rcv, _ = lst.accept()

    def drain(s):
        while s.recv(1 << 16):
            pass

    threading.Thread(target=drain, args=(rcv,), daemon=True).start()

    def pace():
        start = time.monotonic()
        sent = 0
        while True:
            due = int(rate * (time.monotonic() - start)) - sent
            if due > 0:
                snd.sendall(b"s" * due)
                sent += due
            time.sleep(0.005)

    threading.Thread(target=pace, daemon=True).start()

    a, b = socket.socketpair()
    a.setblocking(False)
    queued = 0
    try:
        while True:
            queued += a.send(b"u" * 4096)
    except BlockingIOError:
        pass
    print(json.dumps({
        "pid": os.getpid(),
        "sender_port": snd.getsockname()[1],
        "listen_port": lst.getsockname()[1],
        "unix_writer": os.fstat(a.fileno()).st_ino,
        "unix_reader": os.fstat(b.fileno()).st_ino,
        "unix_queued": queued,
    }), flush=True)
    for line in sys.stdin:
        if line.strip() == "short":
            c = socket.create_connection(lst.getsockname())
            s, _ = lst.accept()
            c.sendall(b"z" * 777)
            got = 0
            while got < 777:
                got += len(s.recv(1024))
            port = c.getsockname()[1]
            c.close()
            s.close()
            print("short", port, flush=True)


if __name__ == "__main__":
    main()
