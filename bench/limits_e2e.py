#!/usr/bin/env python3
"""Budgets and rate limits end to end: what the Redis store costs Sluice compared with the
in-process store (issue 5: Sluice's own CPU time per request ≤ 1.25×, p99 at half of full
load ≤ 1.25×).

Three Sluice configurations, each with one worker pinned to CPU 0, against sluice-mock (plain
HTTP, CPU 1), non-streamed chat completions:
  none    no limit filters
  local   ratelimit + budget, 4 limits per call (key rpm and output tokens/min, key spend per
          day, tenant spend per month), in-process store
  redis   the same 4 limits on a redis-server started here (unpinned: it shares the two cores,
          as it would on a small node); one EVALSHA per admission, one per settlement
Limits are set high enough that no call is refused: every call reserves and settles.

Full load: closed-loop wrk (32 connections) against `local`. Then each configuration gets an
open-loop h2load run at half that rate; Sluice's CPU time (utime+stime from /proc/PID/stat)
over the run divided by the successful requests is its CPU per request.

Usage: bench/limits_e2e.py [--build DIR] [--seconds S] [--rounds N] [--out FILE] [--offered RPS]
  DIR defaults to .cache/build-release (needs sluice and sluice-mock, Release);
  FILE defaults to bench/limits_results.json; RPS replaces "half of full load" (e.g. half of
  the Redis configuration's own full load, which it can sustain); N > 1 runs the three
  configurations in turn N times at half load, S seconds each, and pools each one's runs.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = "/openai/v1/chat/completions"
BODY = json.dumps({"model": "gpt-4o-mini", "max_tokens": 100,
                   "messages": [{"role": "user", "content": "Say something short."}]})
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench-limits-0001"}

LIMITS = """
filters:
  chain: [ratelimit, budget]
  ratelimit:
    store: @STORE@
    rules:
      - name: key
        match: {key: "*"}
        requests_per_minute: 10000000000
        output_tokens_per_minute: 10000000000
  budget:
    store: @STORE@
    default_price: {input: 10, output: 30}
    rules:
      - name: key-day
        match: {key: "*"}
        usd_per_day: 10000
      - name: tenant-month
        match: {tenant: "*"}
        usd_per_month: 10000
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values, p):
    if not values:
        return None
    return values[min(len(values) - 1, int(len(values) * p / 100))]


class Run:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="limits-e2e-")
        self.procs = []

    def spawn(self, argv, log, cpu=None):
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu)] + argv
        p = subprocess.Popen(argv, stdout=open(os.path.join(self.work, log), "w"),
                             stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def cleanup(self):
        for p in self.procs:
            self.stop(p)
        shutil.rmtree(self.work, ignore_errors=True)

    def start_mock(self):
        pf = os.path.join(self.work, "mock.port")
        self.spawn([os.path.join(self.args.build, "mock", "sluice-mock"), "--listen", "127.0.0.1:0",
                    "--threads", "1", "--port-file", pf, "--memory-records", "0"], "mock.log", cpu=1)
        self.mock_port = int(wait_for(lambda: os.path.exists(pf) and open(pf).read().strip(), 15, "mock"))

    def start_redis(self):
        self.redis_port = free_port()
        cpu = getattr(self.args, "redis_cpu", None)
        self.redis_proc = self.spawn(["redis-server", "--port", str(self.redis_port), "--bind",
                                      "127.0.0.1", "--save", "", "--appendonly", "no"], "redis.log",
                                     cpu=cpu)

        def up():
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.2):
                    return True
            except OSError:
                return False
        wait_for(up, 10, "redis-server")

    def redis_stats(self):
        """Redis's own counters (INFO stats): reads and writes it processed (one read can
        carry several pipelined commands), commands."""
        text = ""
        for section in (b"stats", b"commandstats"):
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=2) as c:
                c.sendall(b"INFO " + section + b"\r\n")  # reply: $<length>\r\n<text>\r\n
                data = b""
                while b"\r\n" not in data or len(data) < data.index(b"\r\n") + 2 + int(
                        data[1:data.index(b"\r\n")]) + 2:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            text += data.decode(errors="replace")
        out = {}
        for line in text.splitlines():
            k, _, v = line.partition(":")
            if k in ("total_reads_processed", "total_writes_processed", "total_commands_processed"):
                out[k] = int(v)
            elif k.startswith("cmdstat_") and "calls=" in v:
                # Commands by name, those the scripts run included (counted per redis.call).
                out["cmd_" + k[len("cmdstat_"):]] = int(v.split("calls=")[1].split(",")[0])
        return out

    def start_sluice(self, name):
        cfg = f"""
listener: {{address: 127.0.0.1:0, admin_address: 127.0.0.1:0, workers: 1}}
upstreams:
  openai: {{provider: openai, url: "http://127.0.0.1:{self.mock_port}"}}
  anthropic: {{provider: anthropic, url: "http://127.0.0.1:{self.mock_port}"}}
sinks:
  jsonl: {{enabled: false}}
log: {{access_log: false}}
"""
        if name == "local":
            cfg += LIMITS.replace("@STORE@", "{backend: local}")
        elif name == "redis":
            extra = ""
            for key in ("batch_wait_us", "settle_wait_us"):
                value = getattr(self.args, key, None)
                if value is not None:
                    extra += f", {key}: {value}"
            cfg += LIMITS.replace("@STORE@", "{backend: redis, key_prefix: \"bench:\", "
                                  f"redis: {{address: 127.0.0.1:{self.redis_port}{extra}}}}}")
        else:
            cfg += "filters:\n  chain: []\n"
        path = os.path.join(self.work, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(cfg)
        rf = os.path.join(self.work, f"{name}.ready")
        p = self.spawn([os.path.join(self.args.build, "proxy", "sluice"), "--config", path,
                        "--ready-file", rf], f"{name}.log", cpu=0)
        info = wait_for(lambda: os.path.exists(rf) and os.path.getsize(rf) > 0 and json.load(open(rf)),
                        20, "sluice")
        return p, info["port"], info["admin_port"]

    def header_args(self):
        out = []
        for k, v in HEADERS.items():
            out += ["-H", f"{k}: {v}"]
        return out

    def wrk_rps(self, port, seconds):
        lua = os.path.join(self.work, "post.lua")
        with open(lua, "w") as f:
            f.write(f"wrk.method = 'POST'\nwrk.body = {json.dumps(BODY)}\n")
            for k, v in HEADERS.items():
                f.write(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n")
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{seconds}s", "-s", lua,
                              f"http://127.0.0.1:{port}{PATH}"], capture_output=True, text=True,
                             timeout=seconds + 60).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if not m or non2xx:
            raise RuntimeError("wrk failed or saw errors:\n" + out)
        return float(m.group(1))

    def h2load(self, name, port, pid, rate, seconds):
        body = os.path.join(self.work, "body.json")
        with open(body, "w") as f:
            f.write(BODY)
        logp = os.path.join(self.work, f"h2load-{name}.log")
        clients = 32
        per = max(1, round(rate / clients))
        argv = ["taskset", "-c", "1", "h2load", "--h1", "-t1", "-c", str(clients), "--rps", str(per),
                "-D", f"{seconds * 1000}ms", "--warm-up-time", "1000ms", "-d", body,
                "--log-file", logp] + self.header_args() + [f"http://127.0.0.1:{port}{PATH}"]
        r0 = self.redis_stats() if name == "redis" else None
        rc0 = cpu_s(self.redis_proc.pid) if name == "redis" else None
        c0 = cpu_s(pid)
        t0 = time.monotonic()
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 90).stdout
        wall = time.monotonic() - t0
        c1 = cpu_s(pid)
        rc1 = cpu_s(self.redis_proc.pid) if name == "redis" else None
        r1 = self.redis_stats() if name == "redis" else None
        lat, bad = [], 0
        with open(logp) as f:
            for line in f:
                cols = line.split("\t")
                if len(cols) < 3:
                    continue
                if cols[1] == "200":
                    lat.append(int(cols[2]))
                elif cols[1] != "0":
                    bad += 1
        lat.sort()
        if not lat or bad:
            raise RuntimeError(f"h2load {name}: {len(lat)} ok, {bad} not 200\n{out[-1500:]}")
        # CPU over the whole h2load run (warm-up included) per request completed in it.
        total = len(lat)
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded", out)
        if m:
            total = int(m.group(4))
        if total == 0:
            raise RuntimeError(f"h2load {name}: no request succeeded in the measured window "
                               f"({len(lat)} answered 200 in its log)\n{out[-1500:]}")
        extra = {}
        if r0 and r1 and total:
            # Per call: Redis reads (socket reads holding one or more commands), writes (its
            # replies, one per read batch) and commands, over the whole run.
            # The counters include h2load's 1 s warm-up at the same rate, which its request
            # count does not: scale them to the measured seconds.
            scale = seconds / (seconds + 1.0)
            extra = {"redis_per_request": {k.replace("total_", "").replace("_processed", ""):
                                           round((r1[k] - r0.get(k, 0)) * scale / total, 3)
                                           for k in r1 if r1[k] != r0.get(k, 0)}}
            # redis-server's own CPU (all its threads), warm-up included like Sluice's.
            extra["redis_cpu_us_per_request"] = round((rc1 - rc0) * 1e6 / total, 1)
        return {**extra, "_latencies": lat, "offered_rps": per * clients, "requests_ok": len(lat),
                "achieved_rps": round(len(lat) / seconds, 1),
                "p50_us": pct(lat, 50), "p99_us": pct(lat, 99), "max_us": lat[-1],
                "sluice_cpu_s": round(c1 - c0, 3), "requests_in_cpu_window": total,
                "cpu_us_per_request": round((c1 - c0) * 1e6 / total, 1), "wall_s": round(wall, 1),
                "command": " ".join(argv)}


def admission_histogram(admin_port):
    """sluice_limits_redis_admission_seconds from Sluice's /metrics: cumulative buckets
    (upper bound in µs -> count), sum in µs, count."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10).read().decode()
    name = "sluice_limits_redis_admission_seconds"
    buckets, total_s, count = {}, 0.0, 0
    for line in text.splitlines():
        if line.startswith(name + "_bucket{le=\""):
            le = line[len(name) + 12:line.index('"}')]
            buckets[float("inf") if le == "+Inf" else round(float(le) * 1e6)] = int(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_sum "):
            total_s = float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_count "):
            count = int(line.rsplit(" ", 1)[1])
    return buckets, total_s * 1e6, count


def admission_wait(before, after):
    """The admissions between two scrapes: count, mean, and for p50/p90/p99 the histogram
    bucket each falls in (its upper bound, µs)."""
    b0, s0, c0 = before
    b1, s1, c1 = after
    n = c1 - c0
    if n <= 0:
        return {"count": 0}
    out = {"count": n, "mean_us": round((s1 - s0) / n, 1)}
    for q in (50, 90, 99):
        need = n * q / 100
        le = next(b for b in sorted(b1) if b1[b] - b0.get(b, 0) >= need)
        out[f"p{q}_at_most_us"] = le if le != float("inf") else None
    return out


def pool(rounds):
    """One configuration's rounds as one run: latencies pooled, CPU over all requests."""
    if len(rounds) == 1:
        out = dict(rounds[0])
        out.pop("_latencies")
        return out
    lat = sorted(x for rd in rounds for x in rd["_latencies"])
    cpu = sum(rd["sluice_cpu_s"] for rd in rounds)
    total = sum(rd["requests_in_cpu_window"] for rd in rounds)
    out = {"rounds": len(rounds), "offered_rps": rounds[0]["offered_rps"],
           "requests_ok": len(lat),
           "achieved_rps": round(sum(rd["achieved_rps"] for rd in rounds) / len(rounds), 1),
           "p50_us": pct(lat, 50), "p99_us": pct(lat, 99), "max_us": lat[-1],
           "sluice_cpu_s": round(cpu, 3), "requests_in_cpu_window": total,
           "cpu_us_per_request": round(cpu * 1e6 / total, 1), "command": rounds[0]["command"]}
    if "redis_cpu_us_per_request" in rounds[0]:
        out["redis_cpu_us_per_request"] = round(
            sum(rd["redis_cpu_us_per_request"] * rd["requests_in_cpu_window"] for rd in rounds)
            / total, 1)
        out["redis_per_request"] = rounds[-1]["redis_per_request"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, ".cache", "build-release"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "limits_results.json"))
    ap.add_argument("--redis-cpu", type=int, default=None,
                    help="pin redis-server to this CPU (default: unpinned, free to share "
                         "Sluice's CPU 0); 1 keeps it off Sluice's CPU, with the mock and h2load")
    ap.add_argument("--batch-wait-us", type=int, default=None,
                    help="the Redis store's redis.batch_wait_us (default: Sluice's own, 60)")
    ap.add_argument("--settle-wait-us", type=int, default=None,
                    help="the Redis store's redis.settle_wait_us (default: Sluice's own, 2000)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="half-load runs per configuration, taking turns (pooled figures, "
                         "and each round's ratios)")
    ap.add_argument("--offered", type=int, default=0,
                    help="offered req/s for the comparison (default: half the local full load)")
    args = ap.parse_args()
    r = Run(args)
    results = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "cpus": os.cpu_count(), "command": " ".join([sys.argv[0]] + sys.argv[1:])}
    try:
        r.start_mock()
        r.start_redis()
        inst = {}
        for name in ("none", "local", "redis"):
            inst[name] = r.start_sluice(name)
        full = {}
        for name in ("local", "redis"):
            full[name] = r.wrk_rps(inst[name][1], args.seconds)
        results["full_load_rps"] = full
        half = args.offered or int(full["local"] / 2)
        results["half_load_rps"] = half
        # The configurations take turns, `rounds` times, so that the host's changing speed
        # (other tenants of a shared machine) falls on all of them alike; the figures pool the
        # rounds (latencies together, CPU over all requests), and each round's own ratios are
        # kept beside them.
        per_round = {name: [] for name in ("none", "local", "redis")}
        waits0 = admission_histogram(inst["redis"][2])
        for _ in range(args.rounds):
            for name in ("none", "local", "redis"):
                p, port, _ = inst[name]
                per_round[name].append(r.h2load(name, port, p.pid, half, args.seconds))
        runs = {name: pool(rs) for name, rs in per_round.items()}
        # What the Redis configuration's admissions waited for Redis (Sluice's histogram).
        runs["redis"]["admission_wait"] = admission_wait(waits0,
                                                         admission_histogram(inst["redis"][2]))
        results["at_half_load"] = runs
        results["redis_vs_local"] = {
            "cpu_per_request": round(runs["redis"]["cpu_us_per_request"] /
                                     runs["local"]["cpu_us_per_request"], 3),
            "p99": round(runs["redis"]["p99_us"] / runs["local"]["p99_us"], 3),
        }
        if args.rounds > 1:
            results["redis_vs_local_per_round"] = [
                {"cpu_per_request": round(rd["cpu_us_per_request"] / lo["cpu_us_per_request"], 3),
                 "p99": round(rd["p99_us"] / lo["p99_us"], 3)}
                for rd, lo in zip(per_round["redis"], per_round["local"])]
        for rs in per_round.values():
            for x in rs:
                x.pop("_latencies")
        for name in ("none", "local", "redis"):
            r.stop(inst[name][0])
            if inst[name][0].returncode != 0:
                raise RuntimeError(f"sluice {name} exited {inst[name][0].returncode}")
    finally:
        r.cleanup()
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
