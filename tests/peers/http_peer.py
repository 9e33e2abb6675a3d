#!/usr/bin/env python3
"""An HTTP/1.1 server on a Unix socket, an abstract name or TCP, for sockbox http's tests.

    http_peer.py MODE ADDR

ADDR is a path, @name (abstract) or tcp:PORT on 127.0.0.1 (0 for any free port). Prints
`ready PORT` once listening (PORT 0 for Unix sockets), then one line per request on stdout:

    request METHOD PATH te=chunked|length|none len=N sha=SHA256(body)
    chunked LEN SHA256          (what /chunked sent, before sending it)

MODE http is http.server's BaseHTTPRequestHandler speaking HTTP/1.1:

    /chunked?chunks=N&max=M&seed=S  N chunks of 1..M seeded random bytes, chunked encoding
    /echo                           the request body back, in chunks of 7919 bytes
    /headers                        the request headers as received, one per line
    /json, /vnd                     a compact JSON document (application/json, +json)
    /status/NNN                     status NNN with a one-line text body
    /truncated                      Content-Length 100000, then 10000 bytes and a close
    /truncated-chunked              three chunks, then a close in the middle of the fourth

Other modes are peers that are not HTTP servers: `garbage` answers any request with an SSH
banner and closes, `hangup` closes without answering, `silent` accepts and never answers.
"""

import hashlib
import http.server
import random
import socket
import socketserver
import sys
import threading
import urllib.parse

JSON_DOC = (
    b'{"name":"sockbox","list":[1,2.50,{"nested":true,"empty":{}}],'
    b'"text":"a \\"quoted\\", {braced} [text]: yes","none":null,"arr":[]}'
)

out_lock = threading.Lock()


def say(line):
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def read_chunked(rfile):
    body = bytearray()
    while True:
        size = int(rfile.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        body += rfile.read(size)
        rfile.readline()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def address_string(self):
        return "peer"

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return "chunked", read_chunked(self.rfile)
        length = self.headers.get("Content-Length")
        if length is not None:
            return "length", self.rfile.read(int(length))
        return "none", b""

    def send_chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def answer(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        te, body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        say(
            f"request {self.command} {self.path} te={te} len={len(body)} "
            f"sha={hashlib.sha256(body).hexdigest()}"
        )
        path = url.path
        if path == "/chunked":
            rng = random.Random(int(query.get("seed", "1")))
            chunks = [
                rng.randbytes(rng.randint(1, int(query.get("max", "4096"))))
                for _ in range(int(query.get("chunks", "100")))
            ]
            whole = b"".join(chunks)
            say(f"chunked {len(whole)} {hashlib.sha256(whole).hexdigest()}")
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for c in chunks:
                self.send_chunk(c)
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/echo":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7919):
                self.send_chunk(body[i : i + 7919])
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/headers":
            text = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
            self.answer(200, "text/plain", text.encode())
        elif path == "/json":
            self.answer(200, "application/json; charset=utf-8", JSON_DOC)
        elif path == "/vnd":
            self.answer(200, "application/vnd.sockbox.test+json", JSON_DOC)
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self.answer(code, "text/plain", b"status %d:\n  something went wrong\n" % code)
        elif path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 10000)
            self.wfile.flush()
            self.close_now()
        elif path == "/truncated-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(3):
                self.send_chunk(b"y" * 1000)
            self.wfile.write(b"3e8\r\n" + b"z" * 10)
            self.wfile.flush()
            self.close_now()
        else:
            self.answer(404, "text/plain", b"no such path\n")

    def close_now(self):
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any
    do_OPTIONS = do_PROPFIND = handle_any


def not_http(mode, conn):
    """The peers that are not HTTP servers."""
    with conn:
        if mode == "silent":
            threading.Event().wait()
        conn.recv(65536)
        if mode == "garbage":
            conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")


def main():
    mode, addr = sys.argv[1], sys.argv[2]
    if addr.startswith("tcp:"):
        family, bind_to = socket.AF_INET, ("127.0.0.1", int(addr[4:]))
    else:
        family = socket.AF_UNIX
        bind_to = "\0" + addr[1:] if addr.startswith("@") else addr
    if mode == "http":
        base = socketserver.TCPServer if family == socket.AF_INET else socketserver.UnixStreamServer

        class Server(socketserver.ThreadingMixIn, base):
            daemon_threads = True
            allow_reuse_address = True

        server = Server(bind_to, Handler)
        port = server.server_address[1] if family == socket.AF_INET else 0
        say(f"ready {port}")
        server.serve_forever()
    else:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind(bind_to)
        s.listen(16)
        port = s.getsockname()[1] if family == socket.AF_INET else 0
        say(f"ready {port}")
        while True:
            conn, _ = s.accept()
            threading.Thread(target=not_http, args=(mode, conn), daemon=True).start()


if __name__ == "__main__":
    main()
