#!/usr/bin/env python3
"""How many real-world socat / nc / ncat command lines sockbox runs unchanged.

    bench/compat_corpus.py [SOCKBOX] [CORPUS]

CORPUS (bench/compat-corpus.tsv) holds one line per row: where it comes from (socat's
EXAMPLES file, OpenBSD nc's and ncat's manual pages, as Debian ships them), a tab, and the
command line as printed there (trailing comments and shell redirections removed). Each line
is split like a shell would (no shell runs it) and given to `sockbox socat --explain` or
`sockbox nc --explain`, which opens nothing: exit 0 means sockbox would run the line as
typed. Prints each refused line with sockbox's reason, then the counts per source.
"""
import shlex
import subprocess
import sys
from collections import Counter

sockbox = sys.argv[1] if len(sys.argv) > 1 else "target/release/sockbox"
corpus = sys.argv[2] if len(sys.argv) > 2 else "bench/compat-corpus.tsv"
ok, total = Counter(), Counter()
for row in open(corpus, encoding="utf-8"):
    source, line = row.rstrip("\n").split("\t", 1)
    try:
        words = shlex.split(line)
    except ValueError as e:
        words = None
    total[source] += 1
    if not words:
        print(f"unparsable  {line}  ({e})")
        continue
    front = "socat" if words[0] == "socat" else "nc"
    r = subprocess.run([sockbox, front, "--explain", *words[1:]], capture_output=True,
                       text=True, timeout=10)
    if r.returncode == 0:
        ok[source] += 1
    else:
        reason = (r.stderr.strip().splitlines() or ["(no message)"])[0]
        print(f"refused     {line}\n            {reason}")
print()
for source in total:
    print(f"{source:16} {ok[source]:3} of {total[source]:3} run unchanged")
print(f"{'all':16} {sum(ok.values()):3} of {sum(total.values()):3} run unchanged")
