#!/usr/bin/env python3
"""Sluice's own instructions per limited call, by store (issue 5: what the Redis store costs
Sluice over the in-process one, load-independent).

For each build and each configuration of bench/limits_e2e.py (`local`, `redis`; the same four
limits per call), Sluice runs under callgrind while h2load sends non-streamed chat completions
at two fixed rates for the same time; the difference of the two runs' instruction totals over
the difference of their calls is one call's cost, start-up and shutdown cancelled out. Batches
of script calls form as they do under load (h2load's 32 connections send together).

Usage: bench/limits_sluice_instructions.py [--build DIR]... [--rates LO,HI] [--seconds S]
  DIR defaults to .cache/build-release (Release: sluice and sluice-mock); several --build
  compare builds (e.g. a worktree of an older commit) in one run.
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import limits_e2e  # noqa: E402


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:totals|summary):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError(f"no totals in {path}")


def measure(build, name, rate, seconds):
    args = argparse.Namespace(build=build, seconds=seconds, out=None, offered=0)
    run = limits_e2e.Run(args)
    out = os.path.join(run.work, f"{name}.callgrind")
    spawn = run.spawn

    def under_callgrind(argv, log, cpu=None):
        if argv[0].endswith("/sluice"):
            argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + argv
        return spawn(argv, log, cpu)
    run.spawn = under_callgrind
    try:
        run.start_mock()
        if name == "redis":
            run.start_redis()
        p, port, _ = run.start_sluice(name)
        res = run.h2load(name, port, p.pid, rate, seconds)
        run.stop(p)
        # h2load's warm-up second runs at the same rate and is not in its count.
        calls = res["offered_rps"] * (seconds + 1)
        return callgrind_total(out), calls, res["requests_ok"]
    finally:
        run.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append")
    ap.add_argument("--rates", default="200,400")
    ap.add_argument("--seconds", type=int, default=4)
    a = ap.parse_args()
    builds = a.build or [os.path.join(limits_e2e.REPO, ".cache", "build-release")]
    lo, hi = (int(x) for x in a.rates.split(","))
    print(f"rates {lo} and {hi} calls/s, {a.seconds} s each (+1 s warm-up), Sluice under callgrind")
    for build in builds:
        per = {}
        for name in ("local", "redis"):
            i_lo, c_lo, ok_lo = measure(build, name, lo, a.seconds)
            i_hi, c_hi, ok_hi = measure(build, name, hi, a.seconds)
            per[name] = (i_hi - i_lo) / (c_hi - c_lo)
            print(f"{build} {name}: {i_lo:,} instructions / {c_lo} calls, {i_hi:,} / {c_hi} "
                  f"(answered {ok_lo}, {ok_hi}) -> {per[name]:,.0f} per call", flush=True)
        print(f"{build}: redis - local = {per['redis'] - per['local']:,.0f} instructions per call")


if __name__ == "__main__":
    main()
