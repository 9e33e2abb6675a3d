"""A TCP sender with a name of its own, for the exporter test.

    prom_sender.py NAME TOTAL FIRST
        Set this process's comm to NAME (prctl PR_SET_NAME), connect to a listener of its own
        and print one JSON line (pid, comm, ports). Send FIRST bytes; on "go" from stdin send
        the rest up to TOTAL, wait until the receiver has all of it, close both ends and print
        "done". Exit at stdin's end.
"""
import ctypes
import json
import os
import socket
import sys
import threading

PR_SET_NAME = 15


def main():
    name, total, first = sys.argv[1].encode(), int(sys.argv[2]), int(sys.argv[3])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_NAME): errno %d" % ctypes.get_errno())
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    snd = socket.create_connection(lst.getsockname())
    rcv, _ = lst.accept()
    got = [0]
    all_in = threading.Event()

    def drain():
        while True:
            b = rcv.recv(1 << 16)
            if not b:
                break
            got[0] += len(b)
            if got[0] >= total:
                all_in.set()

    threading.Thread(target=drain, daemon=True).start()
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    print(json.dumps({
        "pid": os.getpid(),
        "comm": comm,
        "port": snd.getsockname()[1],
    }), flush=True)
    snd.sendall(b"p" * first)
    for line in sys.stdin:
        if line.strip() == "go":
            snd.sendall(b"q" * (total - first))
            all_in.wait(60)
            snd.close()
            rcv.close()
            print("done", got[0], flush=True)


if __name__ == "__main__":
    main()
