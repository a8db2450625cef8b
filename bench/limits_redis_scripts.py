#!/usr/bin/env python3
"""Redis's own cost of the limit scripts, in instructions (callgrind), per batch and per call.

Starts redis-server under `valgrind --tool=callgrind`, counting only inside evalShaCommand,
loads the reserve and settle scripts from filters/limits_store/redis_scripts.cc, and sends
BATCHES script calls of N limit calls each (reserve alone, then reserve and settle: the
settle script's share is the difference), shaped like bench/limits_e2e.py's (4 limits: two
rates, a daily and a monthly spend quota). Run once with one call per batch and once with 16:
the difference gives the cost of one more call in a batch, the rest the batch's fixed cost.
Load-independent, so it can compare script versions on a noisy machine.

    python3 bench/limits_redis_scripts.py [--batches 100] [--calls 1 16]

Needs valgrind and redis-server. Prints one JSON line per script.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def scripts():
    src = open(os.path.join(REPO, "filters", "limits_store", "redis_scripts.cc")).read()
    blocks = dict(re.findall(r'constexpr const char\* (k\w+) = R"LUA\((.*?)\)LUA";', src, re.S))
    head = blocks["kPrelude"] + blocks["kBatchPrelude"]
    return head + blocks["kReserve"], head + blocks["kSettle"]


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.f = self.sock.makefile("rb")

    def cmd(self, *args):
        self.sock.sendall(encode(args))
        return self.read()

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode()
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(which, calls, batches, work, call_by_call=False):
    """Instructions inside evalShaCommand for `batches` runs of `which` with `calls` each."""
    reserve, settle = scripts()
    port = free_port()
    out = os.path.join(work, f"{which}-{calls}.cg")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                          "--collect-atstart=no", "--toggle-collect=evalShaCommand",
                          "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                c = Client(port)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("redis-server under valgrind did not start")
        rs, ss = c.cmd("SCRIPT", "LOAD", reserve), c.cmd("SCRIPT", "LOAD", settle)
        now = int(time.time() * 1000)
        day = now - now % 86_400_000
        month = day - 5 * 86_400_000
        rate_defs = ["r 10000000000 b:rl:key|key=abc:requests",
                     "r 10000000000 b:rl:key|key=abc:output_tokens"]
        quota_keys = ["b:bg:key-day|key=abc:spend_micro_usd", "b:bg:tenant-month|tenant=t:spend"]
        quota_defs = [f"q 10000000000 {day} {day + 86_400_000} {day + 172_800_000} {quota_keys[0]}",
                      f"q 10000000000 {month} {month + 30 * 86_400_000} "
                      f"{month + 60 * 86_400_000} {quota_keys[1]}"]
        seq = 0
        defs = rate_defs + quota_defs
        amounts = [1, 100, 3100, 3100]
        for _ in range(batches):
            # Each definition once with the batch's sum (-1 makes the script take the calls
            # in turn, as it does near a limit), then one packed string per call.
            args = ["EVALSHA", rs, "0", 60000, len(defs)]
            for d, a in zip(defs, amounts):
                args += [d, -1 if call_by_call else a * calls]
            args.append(calls)
            args += [" ".join(f"{i + 1} {a}" for i, a in enumerate(amounts))] * calls
            reply = c.cmd(*args)
            assert reply[0] == (1 if call_by_call else 2), reply
            expiry = reply[2]  # the expiry bucket, in either shape of reply
            if which == "reserve":
                continue
            seq += 1
            # Sums per definition (rates: actual - reserved) and per expiry bucket.
            args = ["EVALSHA", ss, "0", f"bench-{seq:012d}", "b:settled",
                    1, rate_defs[1], -60 * calls, 2]
            for k, start in ((quota_keys[0], day), (quota_keys[1], month)):
                args += [f"q {k}@{start}", 1200 * calls, 86_400_000, 1, expiry, 3100 * calls]
            assert c.cmd(*args) > 0
    finally:
        p.terminate()
        p.wait()
    totals = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
    m = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", totals)
    return int(m.group(1).replace(",", ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--calls", type=int, nargs=2, default=[1, 16])
    ap.add_argument("--call-by-call", action="store_true",
                    help="make the reserve script take the calls in turn (as near a limit)")
    args = ap.parse_args()
    small, large = args.calls
    with tempfile.TemporaryDirectory(prefix="limits-scripts-") as work:
        runs = {w: [measure(w, n, args.batches, work, args.call_by_call) / args.batches
                    for n in (small, large)]
                for w in ("reserve", "both")}
        runs["settle"] = [b - r for b, r in zip(runs["both"], runs["reserve"])]
        for which in ("reserve", "settle"):
            a, b = runs[which]
            per_call = (b - a) / (large - small)
            fixed = a - small * per_call
            print(json.dumps({"script": which, "batches": args.batches,
                              "reserve_call_by_call": args.call_by_call,
                              f"instructions_per_batch_of_{small}": round(a),
                              f"instructions_per_batch_of_{large}": round(b),
                              "per_call": round(per_call), "per_batch": round(fixed),
                              "per_call_in_a_batch_of_8": round(per_call + fixed / 8)}))


if __name__ == "__main__":
    main()
