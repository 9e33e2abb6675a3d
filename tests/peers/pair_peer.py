"""A TCP client and server in one process, for `ls --events` and `top`.

    pair_peer.py N    connect, print "PID CLIENT_PORT SERVER_PORT", send N bytes
                      client->server and 100 back; on a line from stdin close both ends and
                      print "closed"; exit at stdin's end
"""
import os
import socket
import sys


def main():
    n = int(sys.argv[1])
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    cli = socket.create_connection(lst.getsockname())
    srv, _ = lst.accept()
    print(os.getpid(), cli.getsockname()[1], lst.getsockname()[1], flush=True)
    cli.sendall(b"x" * n)
    got = 0
    while got < n:
        chunk = srv.recv(65536)
        if not chunk:
            break
        got += len(chunk)
    srv.sendall(b"y" * 100)
    back = 0
    while back < 100:
        back += len(cli.recv(100))
    sys.stdin.readline()
    cli.close()
    srv.close()
    lst.close()
    print("closed", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
