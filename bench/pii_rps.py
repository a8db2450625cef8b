"""The pii filter's end-to-end cost (bench/pii_rps.sh): Sluice requests per second with the
filter on both directions against the same build without it, in one run, and the time to the
first text byte of a paced stream with and without the hold-back.

Two Sluice instances run side by side on the same mock: chain [model_access] ("off") and
[model_access, pii] with every entity's request and response action on ("on"). Pinned like
bench/run.sh: both proxies on the proxy CPU (only the one under load is busy), the mock and wrk
on the load CPU. Throughput rounds alternate off/on so drift on a shared machine hits both.

Time to first text: a streamed chat answer paced by the mock (x-mock-token-delay-ms per ~4-byte
piece), read on a raw socket; the figure is the time from sending the request to the first SSE
event with non-empty delta content, per request, off and on interleaved.
"""
import argparse
import base64
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PATH = "/v1/chat/completions"
STREAM_TOKENS = 20  # as bench/run.sh

CONFIG = """listener:
  address: 127.0.0.1:0
  admin_address: 127.0.0.1:0
  workers: 1
upstreams:
  openai:
    provider: openai
    url: http://127.0.0.1:{mock_port}
  anthropic:
    provider: anthropic
    url: http://127.0.0.1:{mock_port}
identity:
  allow_provider_keys: true
  default:
    tenant: default
filters:
  chain: {chain}
  model_access:
    rules: []
  pii:
    hold_back_bytes: 512
sinks:
  jsonl:
    enabled: true
    events_path: {events}
log:
  level: warn
  access_log: false
"""

# Prose for the paced stream: no personal data, so nothing is redacted and the only cost is
# the hold-back.
PROSE = ("The quarterly report shows steady growth in every region, with the northern office "
         "leading on new accounts and the southern office on renewals. Costs stayed flat while "
         "the support queue shrank by a third after the new triage process was introduced. ") * 2


def log(msg):
    print(msg, flush=True)


class Procs:
    def __init__(self):
        self.procs = []

    def spawn(self, argv, logpath, cpu):
        logf = open(logpath, "ab")
        p = subprocess.Popen(["taskset", "-c", str(cpu)] + argv, stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_file(path, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"{path}: not ready after {timeout} s")


def start_sluice(procs, build, work, name, chain, mock_port, cpu):
    cfg = os.path.join(work, f"{name}.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(mock_port=mock_port, chain=chain,
                              events=os.path.join(work, f"{name}-events.jsonl")))
    rf = os.path.join(work, f"{name}.ready")
    p = procs.spawn([os.path.join(build, "proxy", "sluice"), "--config", cfg, "--workers", "1",
                     "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--ready-file", rf],
                    os.path.join(work, f"{name}.log"), cpu)
    info = json.loads(wait_file(rf, p))
    return {"name": name, "proc": p, "port": info["port"], "admin": info["admin_port"]}


def wrk(port, kind, secs, conns, cpu, work, tag):
    env = dict(os.environ, BENCH_KIND=kind, BENCH_PLAIN_BODY=os.path.join(work, "body-plain.json"),
               BENCH_STREAM_BODY=os.path.join(work, "body-stream.json"),
               BENCH_STREAM_TOKENS=str(STREAM_TOKENS), BENCH_LIMIT="0")
    argv = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--timeout", "5s",
            "-s", os.path.join(HERE, "lib", "wrk.lua"), f"http://127.0.0.1:{port}{PATH}"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=secs + 60)
    with open(os.path.join(work, f"wrk-{tag}.out"), "w") as f:
        f.write(out.stdout + out.stderr)
    m = re.search(r"^BENCH_RESULT (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-1000:]} {out.stderr[-1000:]}")
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors_total"] = sum(r["errors"].values())
    return r


def metric(inst, name):
    """Sum of a counter's series in /metrics whose labels contain every given fragment."""
    s = socket.create_connection(("127.0.0.1", inst["admin"]), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    total = 0.0
    for line in data.decode(errors="replace").splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


def first_text_ms(port, text, delay_ms):
    """Milliseconds from sending a streamed request to the first SSE event carrying text."""
    body = json.dumps({"model": "gpt-4o", "stream": True,
                       "messages": [{"role": "user", "content": "Summarize the report."}]}).encode()
    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer sk-bench-0123456789\r\n"
            f"x-mock-text-b64: {base64.b64encode(text.encode()).decode()}\r\n"
            f"x-mock-token-delay-ms: {delay_ms}\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.perf_counter()
    s.sendall(head + body)
    buf, first, got = b"", None, ""
    while True:
        b = s.recv(65536)
        if not b:
            break
        buf += b
        # Events are "data: {...}" lines; the chunked framing around them does not matter here.
        for m in re.finditer(rb'"content":"((?:[^"\\]|\\.)+)"', buf):
            if first is None:
                first = (time.perf_counter() - t0) * 1000
            break
    t_end = (time.perf_counter() - t0) * 1000
    s.close()
    for m in re.finditer(rb'"content":"((?:[^"\\]|\\.)*)"', buf):
        got += json.loads(b'"' + m.group(1) + b'"')
    return first, t_end, got


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--ttft-n", type=int, default=10)
    ap.add_argument("--token-delay-ms", type=int, default=10)
    ap.add_argument("--proxy-cpu", type=int, default=0)
    ap.add_argument("--load-cpu", type=int, default=1)
    ap.add_argument("--out", default="")
    a = ap.parse_args()

    msgs = [{"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Summarize the benefits of keep-alive connections in one sentence."}]
    for name, extra in (("plain", {}), ("stream", {"stream": True})):
        with open(os.path.join(a.work, f"body-{name}.json"), "wb") as f:
            f.write(json.dumps({"model": "gpt-4o", "messages": msgs, **extra}, separators=(",", ":")).encode())

    procs = Procs()
    res = {"rounds": a.rounds, "secs": a.secs, "conns": a.conns, "rps": {}, "ttft": {}}
    try:
        pf = os.path.join(a.work, "mock.port")
        mock = procs.spawn([os.path.join(a.build, "mock", "sluice-mock"), "--listen", "127.0.0.1:0",
                            "--threads", "1", "--port-file", pf, "--memory-records", "0"],
                           os.path.join(a.work, "mock.log"), a.load_cpu)
        mock_port = int(wait_file(pf, mock))
        inst = {
            "off": start_sluice(procs, a.build, a.work, "off", "[model_access]", mock_port, a.proxy_cpu),
            "on": start_sluice(procs, a.build, a.work, "on", "[model_access, pii]", mock_port, a.proxy_cpu),
        }
        log(f"mock :{mock_port}, sluice off :{inst['off']['port']}, on :{inst['on']['port']}; "
            f"proxies on CPU {a.proxy_cpu}, mock and wrk on CPU {a.load_cpu}")
        # Warm-up (connections to the mock, allocator, the filter's Vectorscan scratch).
        for k in ("off", "on"):
            for kind in ("plain", "stream"):
                wrk(inst[k]["port"], kind, 2, a.conns, a.load_cpu, a.work, f"warm-{k}-{kind}")
        for kind in ("plain", "stream"):
            runs = {"off": [], "on": []}
            for r in range(a.rounds):
                order = ("off", "on") if r % 2 == 0 else ("on", "off")
                for k in order:
                    x = wrk(inst[k]["port"], kind, a.secs, a.conns, a.load_cpu, a.work, f"{kind}-{k}-{r}")
                    if x["errors_total"]:
                        raise RuntimeError(f"{kind} {k} round {r}: errors {x['errors']}")
                    runs[k].append(round(x["rps"], 1))
                    log(f"  {kind:6} round {r + 1} {k:3}: {x['rps']:9.1f} rps, p50 {x['latency_us']['p50']} us")
            m_off, m_on = median(runs["off"]), median(runs["on"])
            res["rps"][kind] = {"off": runs["off"], "on": runs["on"], "median_off": m_off,
                                "median_on": m_on, "ratio": round(m_on / m_off, 3)}
            log(f"{kind}: median RPS off {m_off:.0f}, on {m_on:.0f}, ratio {m_on / m_off:.3f}")
        scanned = metric(inst["on"], 'sluice_filter_events_total{filter="pii",event="request.scanned"')
        scanned_r = metric(inst["on"], 'sluice_filter_events_total{filter="pii",event="response.scanned"')
        res["pii_scanned"] = {"request": scanned, "response": scanned_r}
        log(f"pii counters on 'on': request.scanned {scanned:.0f}, response.scanned {scanned_r:.0f}")
        if scanned == 0 or scanned_r == 0:
            raise RuntimeError("the pii filter did not scan both directions")

        firsts = {"off": [], "on": []}
        totals = {"off": [], "on": []}
        for i in range(a.ttft_n):
            for k in (("off", "on") if i % 2 == 0 else ("on", "off")):
                f, t, got = first_text_ms(inst[k]["port"], PROSE, a.token_delay_ms)
                if got != PROSE:
                    raise RuntimeError(f"paced stream through {k}: text differs")
                firsts[k].append(f)
                totals[k].append(t)
        res["ttft"] = {
            "text_bytes": len(PROSE), "token_delay_ms": a.token_delay_ms, "n": a.ttft_n,
            "first_text_ms_median": {k: round(median(v), 1) for k, v in firsts.items()},
            "total_ms_median": {k: round(median(v), 1) for k, v in totals.items()},
        }
        t = res["ttft"]
        log(f"paced stream ({len(PROSE)} bytes, {a.token_delay_ms} ms per mock piece): first text byte "
            f"median off {t['first_text_ms_median']['off']} ms, on {t['first_text_ms_median']['on']} ms; "
            f"whole answer off {t['total_ms_median']['off']} ms, on {t['total_ms_median']['on']} ms")
    finally:
        procs.stop_all()
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
