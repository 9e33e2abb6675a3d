#!/usr/bin/env python3
"""Pump BYTES through a virtual null-modem cable: write them into slave A, read them from
slave B (both raw), check the count and a sha256, print the seconds it took.

  pty_pump.py A B BYTES
"""
import hashlib
import os
import select
import sys
import threading
import time

a, b, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
fa = os.open(a, os.O_RDWR | os.O_NOCTTY)
fb = os.open(b, os.O_RDWR | os.O_NOCTTY)
block = os.urandom(65536)
want = hashlib.sha256()
sent = 0
while sent < total:
    n = min(len(block), total - sent)
    want.update(block[:n])
    sent += n
got = hashlib.sha256()
count = [0]


def reader():
    deadline = time.time() + 600
    while count[0] < total and time.time() < deadline:
        r, _, _ = select.select([fb], [], [], 1.0)
        if r:
            chunk = os.read(fb, 1 << 20)
            got.update(chunk)
            count[0] += len(chunk)


t = threading.Thread(target=reader)
start = time.perf_counter()
t.start()
sent = 0
while sent < total:
    n = min(len(block), total - sent)
    view = memoryview(block)[:n]
    while view:
        k = os.write(fa, view)
        view = view[k:]
    sent += n
t.join()
secs = time.perf_counter() - start
if count[0] != total or got.hexdigest() != want.hexdigest():
    sys.exit(f"lost bytes: {count[0]} of {total}")
print(f"{secs:.3f}")
