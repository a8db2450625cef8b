"""Sluice with the Kafka sink on and off: its own CPU time per request (from /proc/PID/stat)
and the p99 latency at half of full load. Issue 3 target: both ratios (on / off) <= 1.1.

Run by bench/kafka_cpu_compare.sh. Per mode (off: no sink at all; on: the Kafka sink with
fsync: interval into a local broker), on one Sluice worker thread, alternating modes per round:
  1. full load: h2load --h1 -c16, closed loop, for --seconds: requests/s and Sluice's CPU per
     request (utime + stime of the sluice process over the run / requests answered 200);
  2. half load: h2load --rps at half the rate the "off" mode reached, for --seconds: p99.
Standard library only; prints a table and one JSON line.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HZ = os.sysconf("SC_CLK_TCK")
BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}'
PATH = "/v1/chat/completions"


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime


def wait_file(path, proc, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return open(path).read()
        if proc.poll() is not None:
            raise RuntimeError(f"exited early: {proc.returncode}")
        time.sleep(0.05)
    raise TimeoutError(path)


def start_sluice(build, work, mode, mock_port, bootstrap, topic):
    d = tempfile.mkdtemp(prefix=f"sluice-{mode}-", dir=work)
    kafka = ""
    if mode == "on":
        kafka = f"""  kafka:
    bootstrap_servers: {bootstrap}
    events_topic: {topic}
    spool:
      dir: {d}/spool
      fsync: interval
"""
    cfg = f"""listener:
  address: 127.0.0.1:0
  admin_address: 127.0.0.1:0
  workers: 1
upstreams:
  openai:
    provider: openai
    url: http://127.0.0.1:{mock_port}
routes:
  - prefix: /v1/
    upstream: openai
    strip_prefix: false
filters:
  chain: []
sinks:
  jsonl:
    enabled: false
{kafka}"""
    open(f"{d}/sluice.yaml", "w").write(cfg)
    proc = subprocess.Popen([f"{build}/proxy/sluice", "--config", f"{d}/sluice.yaml", "--ready-file",
                             f"{d}/ready.json"], stdout=open(f"{d}/log", "w"), stderr=subprocess.STDOUT)
    ready = json.loads(wait_file(f"{d}/ready.json", proc))
    return proc, ready["port"], ready["admin_port"]


def h2load(port, seconds, clients, rps=None, log=None):
    body = tempfile.NamedTemporaryFile(delete=False)
    body.write(BODY)
    body.close()
    argv = ["h2load", "--h1", "-t1", "-c", str(clients), "-D", f"{int(seconds * 1000)}ms",
            "--warm-up-time", "1000ms", "-d", body.name, "-H", "content-type: application/json",
            "-H", "authorization: Bearer sk-bench"]
    if rps:
        argv += ["--rps", str(max(1, round(rps / clients)))]
    if log:
        argv += ["--log-file", log]
    argv.append(f"http://127.0.0.1:{port}{PATH}")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    os.unlink(body.name)
    m = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored", out)
    status = re.search(r"status codes: (\d+) 2xx", out)
    return int(m.group(1)), int(m.group(2)) + int(m.group(3)), int(status.group(1)) if status else 0


def p99(log):
    lat = sorted(int(c[2]) for c in (line.split("\t") for line in open(log)) if len(c) >= 3 and c[1] == "200")
    return lat[int(len(lat) * 0.99) - 1] / 1000.0 if lat else float("nan"), len(lat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--mock-port", type=int, required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--work", default=tempfile.gettempdir())
    a = ap.parse_args()
    res = {"off": [], "on": []}
    for rnd in range(a.rounds):
        for mode in ("off", "on"):
            proc, port, _ = start_sluice(a.build, a.work, mode, a.mock_port, a.bootstrap, f"bench.cpu.{rnd}")
            try:
                h2load(port, 2, 4)  # warm the upstream pool
                c0 = cpu_s(proc.pid)
                t0 = time.monotonic()
                ok, bad, ok2xx = h2load(port, a.seconds, 16)
                c1 = cpu_s(proc.pid)
                res[mode].append({"full_rps": ok / a.seconds, "cpu_us_per_req": (c1 - c0) / max(ok, 1) * 1e6,
                                  "errors": bad, "non_2xx": ok - ok2xx})
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        # Half load: half of what "off" reached in this round, for both modes.
        half = res["off"][-1]["full_rps"] / 2
        for mode in ("off", "on"):
            proc, port, _ = start_sluice(a.build, a.work, mode, a.mock_port, a.bootstrap, f"bench.p99.{rnd}")
            try:
                h2load(port, 2, 4)
                log = os.path.join(a.work, f"h2load-{mode}-{rnd}.log")
                ok, bad, _ = h2load(port, a.seconds, 8, rps=half, log=log)
                q, n = p99(log)
                res[mode][-1].update({"half_rps": half, "p99_ms": q, "half_requests": n})
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    def med(mode, k):
        v = sorted(r[k] for r in res[mode])
        return v[len(v) // 2]
    summary = {k: {"off": med("off", k), "on": med("on", k), "ratio": med("on", k) / med("off", k)}
               for k in ("cpu_us_per_req", "p99_ms", "full_rps")}
    for mode in ("off", "on"):
        for i, r in enumerate(res[mode]):
            print(f"{mode} round {i + 1}: full {r['full_rps']:.0f} req/s, {r['cpu_us_per_req']:.1f} us CPU/req, "
                  f"errors {r['errors']}; at {r['half_rps']:.0f} req/s p99 {r['p99_ms']:.3f} ms", file=sys.stderr)
    print(json.dumps({"rounds": res, "median": summary}))


if __name__ == "__main__":
    main()
