#!/usr/bin/env python3
"""HTTPS_PROXY mode vs base-URL mode over Sluice's TLS listener, same run (issue 6 target:
HTTPS_PROXY RPS with keep-alive >= 0.8x).

Two Sluice instances with the same config but for the listener: A serves base-URL calls on a
TLS listener (listener.tls_cert, an ECDSA P-256 certificate for api.openai.com signed by the
Sluice CA); B is an HTTPS_PROXY that intercepts api.openai.com with a certificate it mints
from that CA. Both: 1 worker pinned to CPU 0, filters [model_access], JSONL events, the same
upstream (sluice-mock over plain HTTP, 1 thread, CPU 1). The load generator (intercept_load,
one thread, CPU 1) keeps N TLS connections open and sends POST /v1/chat/completions
back-to-back on each; the same binary drives both modes. Rounds alternate A and B.

Sluice's CPU use over each load run (/proc/PID/stat) is recorded with it: near 1.0 means Sluice,
not the client or the mock, sets the pace, so the ratio compares Sluice's two modes.

Writes bench/intercept_rps_results.json and prints a summary.
"""
import argparse
import datetime
import json
import os
import pathlib
import signal
import statistics
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def wait_for(path, proc, timeout=20, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > 0:
            return path.read_text()
        if proc.poll() is not None:
            detail = log.read_text()[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{' '.join(map(str, proc.args))} exited with {proc.returncode}: {detail}")
        time.sleep(0.02)
    raise TimeoutError(str(path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="Release build with proxy/sluice, mock/sluice-mock, bench/intercept_load")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=8)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--out", default=str(ROOT / "bench" / "intercept_rps_results.json"))
    a = ap.parse_args()
    build = pathlib.Path(a.build).resolve()
    ncpu = os.cpu_count() or 1
    proxy_cpu, load_cpu = "0", ("1" if ncpu > 1 else "0")
    loadavg_start = os.getloadavg()
    procs = []
    work = pathlib.Path(tempfile.mkdtemp(prefix="sluice-intercept-rps-"))
    try:
        run = lambda *args: subprocess.run(args, check=True, capture_output=True, cwd=work)
        run(str(build / "proxy" / "sluice"), "ca", "init", "--dir", str(work / "ca"))
        ca, ca_key = work / "ca" / "ca.pem", work / "ca" / "ca-key.pem"
        # The TLS listener's certificate: same key type and issuer as the minted leaves.
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "listener.key", "-out", "listener.csr", "-subj", "/CN=api.openai.com")
        (work / "ext.cnf").write_text("subjectAltName=DNS:api.openai.com\nbasicConstraints=CA:FALSE\n"
                                      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
        run("openssl", "x509", "-req", "-in", "listener.csr", "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", "listener.pem", "-days", "2", "-extfile", "ext.cnf")
        msgs = [{"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": "Summarize the benefits of keep-alive connections in one sentence."}]
        (work / "body.json").write_text(json.dumps({"model": "gpt-4o", "messages": msgs}, separators=(",", ":")))

        mock = subprocess.Popen(["taskset", "-c", load_cpu, str(build / "mock" / "sluice-mock"),
                                 "--listen", "127.0.0.1:0", "--threads", "1", "--port-file", str(work / "mock.port")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(mock)
        mock_port = int(wait_for(work / "mock.port", mock).strip())

        pids = {}

        def cpu_seconds(pid):
            # utime + stime of every thread (fields 14 and 15 of /proc/PID/stat), in seconds.
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        def start(name, listener_extra, intercept_extra):
            d = work / name
            d.mkdir()
            (d / "sluice.yaml").write_text(f"""
listener:
  address: 127.0.0.1:0
  admin_address: 127.0.0.1:0
  workers: 1
{listener_extra}
upstreams:
  openai:
    provider: openai
    url: http://mock.sluice.test
    connect_to: 127.0.0.1:{mock_port}
routes:
  - prefix: /
    upstream: openai
    strip_prefix: false
filters:
  chain: [model_access]
  model_access:
    rules: []
sinks:
  jsonl:
    events_path: {d / 'events.jsonl'}
{intercept_extra}
""")
            p = subprocess.Popen(["taskset", "-c", proxy_cpu, str(build / "proxy" / "sluice"), "--config",
                                  str(d / "sluice.yaml"), "--ready-file", str(d / "ready.json")],
                                 stdout=open(d / "sluice.log", "w"), stderr=subprocess.STDOUT)
            procs.append(p)
            port = json.loads(wait_for(d / "ready.json", p, log=d / "sluice.log"))["port"]
            pids[port] = json.loads((d / "ready.json").read_text())["pid"]
            return port

        tls_port = start("tls-listener", f"  tls_cert: {work / 'listener.pem'}\n  tls_key: {work / 'listener.key'}", "")
        proxy_port = start("https-proxy", "", f"intercept:\n  ca_cert: {ca}\n  ca_key: {ca_key}\n  hosts: [api.openai.com]")

        def load(port, proxy):
            argv = ["taskset", "-c", load_cpu, str(build / "bench" / "intercept_load"), "--port", str(port),
                    "--ca", str(ca), "--body", str(work / "body.json"), "--connections", str(a.connections),
                    "--warmup", "1", "--duration", str(a.duration)] + (["--proxy"] if proxy else [])
            cpu0, t0 = cpu_seconds(pids[port]), time.monotonic()
            r = subprocess.run(argv, capture_output=True, text=True, timeout=a.duration + 60)
            cpu1, t1 = cpu_seconds(pids[port]), time.monotonic()
            if r.returncode != 0:
                raise RuntimeError(f"intercept_load failed: {r.stdout} {r.stderr}")
            out = json.loads(r.stdout)
            # Over the whole run (warm-up and connection set-up included): is Sluice the bottleneck?
            out["sluice_cpu_utilization"] = round((cpu1 - cpu0) / (t1 - t0), 3)
            return out

        load(tls_port, False)  # warm both instances (pools, caches, first minting)
        load(proxy_port, True)
        rounds = []
        for i in range(a.rounds):
            t = load(tls_port, False)
            p = load(proxy_port, True)
            rounds.append({"tls_listener": t, "https_proxy": p})
            print(f"round {i + 1}: tls listener {t['rps']:.0f} rps (Sluice CPU {t['sluice_cpu_utilization']:.2f}), "
                  f"https_proxy {p['rps']:.0f} rps (Sluice CPU {p['sluice_cpu_utilization']:.2f})", flush=True)
        med = lambda k: statistics.median(r[k]["rps"] for r in rounds)
        ratio = med("https_proxy") / med("tls_listener")
        result = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": "bench/intercept_rps.sh " + " ".join(f"--{k} {v}" for k, v in
                                                           (("rounds", a.rounds), ("duration", a.duration),
                                                            ("connections", a.connections))),
            "machine": {"cpus": ncpu, "loadavg_start": loadavg_start, "loadavg_end": os.getloadavg()},
            "layout": {"sluice_cpu": proxy_cpu, "mock_and_load_cpu": load_cpu, "sluice_workers": 1},
            "rounds": rounds,
            "median_rps": {"tls_listener": med("tls_listener"), "https_proxy": med("https_proxy")},
            "ratio_https_proxy_over_tls_listener": ratio,
            "target": 0.8,
        }
        pathlib.Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"median: tls listener {med('tls_listener'):.0f} rps, https_proxy {med('https_proxy'):.0f} rps, "
              f"ratio {ratio:.3f} (target >= 0.8)")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
