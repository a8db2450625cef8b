"""What `spool.fsync: always` costs a call end to end: the time to the last byte of each response
with the Kafka sink's fsync policy `always` (the proxy holds the final bytes, the last chunk and
`[DONE]`, until the call's event is durable) against `interval` (nothing waits).

Run by bench/kafka_fsync_latency.sh. One Sluice worker, plain-HTTP sluice-mock, the Kafka sink
into a local broker; per round and per policy a fresh Sluice and spool, then, per load:
  * serial: h2load -c1 closed loop (one call at a time: the bare cost of the hold);
  * loaded: h2load -c16 at --rps calls/s in all (the hold under concurrency, group commit);
each for streamed (`stream:true`, 16 token events) and non-streamed chat completions. From
h2load's per-request log (request start to the last response byte): p50 and p99. From Sluice's
/metrics: the mean hold (sluice_durable_wait_microseconds_total / sluice_durable_waits_total).
Standard library only; prints a table on stderr and one JSON line on stdout.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from kafka_cpu_compare import wait_file

BODIES = {
    "stream": b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}',
    "plain": b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}',
}


def start_sluice(build, work, fsync, mock_port, bootstrap, topic):
    d = tempfile.mkdtemp(prefix=f"sluice-{fsync}-", dir=work)
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
  kafka:
    bootstrap_servers: {bootstrap}
    events_topic: {topic}
    spool:
      dir: {d}/spool
      fsync: {fsync}
"""
    open(f"{d}/sluice.yaml", "w").write(cfg)
    proc = subprocess.Popen([f"{build}/proxy/sluice", "--config", f"{d}/sluice.yaml", "--ready-file",
                             f"{d}/ready.json"], stdout=open(f"{d}/log", "w"), stderr=subprocess.STDOUT)
    ready = json.loads(wait_file(f"{d}/ready.json", proc))
    return proc, ready["port"], ready["admin_port"]


def metric(admin_port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def run_h2load(port, kind, seconds, clients, rps, log, work):
    body = os.path.join(work, f"body-{kind}.json")
    with open(body, "wb") as f:
        f.write(BODIES[kind])
    argv = ["h2load", "--h1", "-t1", "-c", str(clients), "-D", f"{int(seconds * 1000)}ms",
            "--warm-up-time", "500ms", "-d", body, "-H", "content-type: application/json",
            "-H", "authorization: Bearer sk-bench", "--log-file", log]
    if rps:
        argv += ["--rps", str(max(1, round(rps / clients)))]
    argv.append(f"http://127.0.0.1:{port}/v1/chat/completions")
    subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True)
    lat = sorted(int(c[2]) for c in (line.split("\t") for line in open(log))
                 if len(c) >= 3 and c[1] == "200")
    bad = sum(1 for c in (line.split("\t") for line in open(log)) if len(c) >= 3 and c[1] != "200")
    q = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] / 1000.0 if lat else float("nan")
    return {"calls": len(lat), "non_200": bad, "p50_ms": q(0.50), "p99_ms": q(0.99)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--mock-port", type=int, required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rps", type=float, default=2000)
    ap.add_argument("--work", default=tempfile.gettempdir())
    a = ap.parse_args()
    loads = [("serial", 1, None), ("loaded", 16, a.rps)]
    res = []
    for rnd in range(a.rounds):
        for fsync in ("interval", "always"):
            proc, port, admin = start_sluice(a.build, a.work, fsync, a.mock_port, a.bootstrap, f"bench.fsync.{rnd}")
            try:
                subprocess.run(["h2load", "--h1", "-t1", "-c4", "-n", "2000",
                                f"http://127.0.0.1:{port}/healthz"], capture_output=True, timeout=60)
                for load, clients, rps in loads:
                    for kind in ("stream", "plain"):
                        w0, us0 = metric(admin, "sluice_durable_waits_total"), metric(admin, "sluice_durable_wait_microseconds_total")
                        r = run_h2load(port, kind, a.seconds, clients, rps,
                                       os.path.join(a.work, f"h2-{rnd}-{fsync}-{load}-{kind}.log"), a.work)
                        w1, us1 = metric(admin, "sluice_durable_waits_total"), metric(admin, "sluice_durable_wait_microseconds_total")
                        r.update(round=rnd + 1, fsync=fsync, load=load, kind=kind,
                                 mean_hold_us=(us1 - us0) / (w1 - w0) if w1 > w0 else 0.0,
                                 held=int(w1 - w0))
                        res.append(r)
                        print(f"round {rnd + 1} {fsync:8} {load:6} {kind:6}: {r['calls']} calls, p50 {r['p50_ms']:.3f} ms, "
                              f"p99 {r['p99_ms']:.3f} ms, mean hold {r['mean_hold_us']:.0f} us, non-200 {r['non_200']}",
                              file=sys.stderr)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    summary = {}
    for load, _, _ in loads:
        for kind in ("stream", "plain"):
            for fsync in ("interval", "always"):
                rs = [r for r in res if r["load"] == load and r["kind"] == kind and r["fsync"] == fsync]
                med = lambda k: sorted(r[k] for r in rs)[len(rs) // 2]
                summary[f"{load}/{kind}/{fsync}"] = {
                    "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"), "mean_hold_us": med("mean_hold_us"),
                    "p50_range": [min(r["p50_ms"] for r in rs), max(r["p50_ms"] for r in rs)],
                    "p99_range": [min(r["p99_ms"] for r in rs), max(r["p99_ms"] for r in rs)]}
    print(json.dumps({"rounds": res, "median": summary}))


if __name__ == "__main__":
    main()
