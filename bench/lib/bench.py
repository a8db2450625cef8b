#!/usr/bin/env python3
"""End-to-end benchmark: sluice-mock directly, nginx (plain reverse proxy) and Sluice, in one run.

Started by bench/run.sh (which installs tools, builds, raises the fd limit and cleans up);
see bench/README.md for the method. Standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

LIB = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(LIB)
REPO = os.path.dirname(BENCH)
sys.path.insert(0, LIB)
import httpclient as hc  # noqa: E402

TARGETS = ["direct", "nginx", "sluice"]
KINDS = ["plain", "stream"]
PATH = "/v1/chat/completions"
STREAM_TOKENS = 20
MIX_EVERY = 4  # RSS run: every 4th request streamed
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Run profiles. Durations in seconds.
PROFILES = {
    "full": dict(rounds=5, tput_s=10, warm_s=2, rate_s=6, rate_warm_s=1, ttfb_n=1000,
                 cg_warm=100, cg_n=1000, idle_conns=10000, rss_small=100_000,
                 rss_large=1_000_000, conns=32, rate_clients=32),
    "quick": dict(rounds=2, tput_s=2, warm_s=1, rate_s=2, rate_warm_s=0.5, ttfb_n=100,
                  cg_warm=20, cg_n=200, idle_conns=1000, rss_small=10_000,
                  rss_large=100_000, conns=32, rate_clients=32),
}

TARGET_SPECS = [
    # key, description, comparison
    ("rps_ratio", "non-streamed closed-loop RPS: Sluice ≥ 0.8 × nginx", 0.8),
    ("p99_ratio", "p99 at a fixed rate of half nginx's capacity (non-streamed): Sluice ≤ 1.25 × nginx", 1.25),
    ("ttfb_added", "streams: Sluice's added TTFB ≤ nginx's added TTFB + 50 µs (median of per-request differences)", 50.0),
    ("idle_kib", "memory per idle keep-alive connection ≤ 64 KiB", 64.0),
    ("rss_growth", "RSS after the large request count ≤ RSS after the small one + 5 %", 1.05),
]


def log(msg):
    print(msg, flush=True)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------------------------------------
# Processes

class Registry:
    """Every process we start, also written to WORK/pids ("pid starttime") so that run.sh's trap
    can kill exactly these if Python itself dies."""

    def __init__(self, work):
        self.path = os.path.join(work, "pids")
        self.procs = []

    def add(self, pid):
        st = proc_starttime(pid)
        with open(self.path, "a") as f:
            f.write(f"{pid} {st}\n")

    def track(self, popen):
        self.procs.append(popen)
        self.add(popen.pid)

    def kill_all(self):
        for p in reversed(self.procs):
            stop_proc(p, sig=signal.SIGTERM, timeout=5)


def proc_starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return int(s[s.rfind(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def stop_proc(p, sig=signal.SIGTERM, timeout=10):
    """Stops one process we started (by pid) and reaps it. Returns its exit code or None."""
    if p is None:
        return None
    if p.returncode is None:
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    for child in getattr(p, "bench_children", []):
        try:
            if proc_starttime(child[0]) == child[1]:
                os.kill(child[0], signal.SIGKILL)
        except ProcessLookupError:
            pass
    return p.returncode


def children_of(pid):
    out = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            out = [int(x) for x in f.read().split()]
    except OSError:
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        s = f.read()
                    if int(s[s.rfind(")") + 2:].split()[1]) == pid:
                        out.append(int(d))
                except (OSError, ValueError):
                    pass
    return out


def proc_cpu_s(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            fields = s[s.rfind(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError):
            pass
    return total / CLK_TCK


def system_busy_s():
    with open("/proc/stat") as f:
        parts = f.readline().split()
    vals = [int(x) for x in parts[1:9]]
    idle = vals[3] + vals[4]
    return (sum(vals) - idle) / CLK_TCK


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout, what, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not ready after {timeout} s")


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


class Bench:
    def __init__(self, args):
        self.a = args
        self.p = dict(PROFILES["quick" if args.quick else "full"])
        for k in ("rounds",):
            if getattr(args, k):
                self.p[k] = getattr(args, k)
        self.work = args.work
        self.reg = Registry(self.work)
        self.proxy_cpu = args.proxy_cpu
        self.load_cpu = args.load_cpu
        self.sluice_bin = os.path.join(args.build, "proxy", "sluice")
        self.mock_bin = os.path.join(args.build, "mock", "sluice-mock")
        self.results = {"schema": 1, "warnings": [], "errors": []}
        self.instances = {}
        os.makedirs(os.path.join(self.work, "nginx-tmp"), exist_ok=True)
        self.plain_body_path = os.path.join(self.work, "body-plain.json")
        self.stream_body_path = os.path.join(self.work, "body-stream.json")
        msgs = [{"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": "Summarize the benefits of keep-alive connections in one sentence."}]
        self.plain_body = json.dumps({"model": "gpt-4o", "messages": msgs}, separators=(",", ":")).encode()
        self.stream_body = json.dumps({"model": "gpt-4o", "messages": msgs, "stream": True},
                                      separators=(",", ":")).encode()
        with open(self.plain_body_path, "wb") as f:
            f.write(self.plain_body)
        with open(self.stream_body_path, "wb") as f:
            f.write(self.stream_body)

    # -- helpers ----------------------------------------------------------------------------

    def warn(self, msg):
        log(f"WARNING: {msg}")
        self.results["warnings"].append(msg)

    def error(self, msg):
        log(f"ERROR: {msg}")
        self.results["errors"].append(msg)

    def spawn(self, argv, logname, cpus=None, env=None):
        cmd = (["taskset", "-c", str(cpus)] if cpus is not None else []) + argv
        logf = open(os.path.join(self.work, logname), "ab")
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env=env)
        logf.close()
        p.bench_log = os.path.join(self.work, logname)
        p.bench_children = []
        self.reg.track(p)
        return p

    def headers(self, kind):
        h = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench-0123456789"}
        if kind == "stream":
            h["x-mock-output-tokens"] = str(STREAM_TOKENS)
        return h

    def raw_request(self, port, kind):
        body = self.stream_body if kind == "stream" else self.plain_body
        return hc.build_request(port, PATH, body, self.headers(kind))

    # -- targets ----------------------------------------------------------------------------

    def start_mock(self):
        pf = os.path.join(self.work, "mock.port")
        p = self.spawn([self.mock_bin, "--listen", "127.0.0.1:0", "--threads", "1",
                        "--port-file", pf, "--memory-records", "0"], "mock.log", cpus=self.load_cpu)
        port = int(wait_for(lambda: os.path.exists(pf) and open(pf).read().strip(), 15, "sluice-mock", p))
        self.mock = {"proc": p, "port": port, "pids": [p.pid]}
        return self.mock

    def sluice_config(self):
        """conf/sluice.yaml with its ${VAR} references filled in for the benchmark."""
        if not hasattr(self, "_sluice_cfg"):
            with open(os.path.join(REPO, "conf", "sluice.yaml")) as f:
                text = f.read()
            env = {
                "SLUICE_LISTEN": "127.0.0.1:0",
                "SLUICE_ADMIN_LISTEN": "127.0.0.1:0",
                "SLUICE_OPENAI_URL": f"http://127.0.0.1:{self.mock['port']}",
                "SLUICE_ANTHROPIC_URL": f"http://127.0.0.1:{self.mock['port']}",
                "SLUICE_UPSTREAM_CA": "",
                "SLUICE_EVENTS_PATH": os.path.join(self.work, "sluice-events.jsonl"),
            }

            def sub(m):
                name, default = m.group(1), m.group(3)
                if name in env:
                    return env[name]
                if name in os.environ:
                    return os.environ[name]
                return default or ""

            text = "".join(
                line if line.lstrip().startswith("#")
                else re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", sub, line)
                for line in text.splitlines(keepends=True))
            header = ("# Generated by bench/run.sh from conf/sluice.yaml: ${VAR} references filled in\n"
                      "# (upstreams -> the mock over plain HTTP on loopback, events -> a temp file).\n"
                      "# Sluice runs with --workers 1 --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0.\n")
            self._sluice_cfg = header + text
            self.sluice_cfg_path = os.path.join(self.work, "sluice-bench.yaml")
            with open(self.sluice_cfg_path, "w") as f:
                f.write(self._sluice_cfg)
            chain = re.search(r"^filters:\s*\n(?:[ \t].*\n)*?[ \t]+chain:\s*\[([^\]]*)\]", text, re.M)
            sinks = []
            m = re.search(r"^sinks:\s*\n((?:[ \t].*\n|\s*\n)*)", text, re.M)
            if m:
                for sm in re.finditer(r"^  ([a-z_]+):\s*\n((?:    .*\n)*)", m.group(1), re.M):
                    if not re.search(r"enabled:\s*false", sm.group(2)):
                        sinks.append(sm.group(1))
            self.sluice_filters = [x.strip() for x in chain.group(1).split(",")] if chain else []
            self.sluice_sinks = sinks
        return self._sluice_cfg

    def start_sluice(self, name="sluice", valgrind=None):
        self.sluice_config()
        rf = os.path.join(self.work, f"{name}.ready")
        if os.path.exists(rf):
            os.remove(rf)
        argv = [self.sluice_bin, "--config", self.sluice_cfg_path, "--workers", "1",
                "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--ready-file", rf]
        if valgrind:
            argv = valgrind + argv
        p = self.spawn(argv, f"{name}.log", cpus=self.proxy_cpu)

        def ready():
            if os.path.exists(rf):
                with open(rf) as f:
                    return json.load(f)
            return None
        info = wait_for(ready, 240 if valgrind else 20, name, p)
        inst = {"proc": p, "port": info["port"], "admin": info["admin_port"], "pids": [p.pid],
                "name": name}
        self.instances[name] = inst
        return inst

    def render_nginx_conf(self, listen_port, path, name):
        with open(os.path.join(BENCH, "nginx.conf.in")) as f:
            text = f.read()
        text = (text.replace("@WORK@", self.work)
                .replace("@NAME@", name)
                .replace("@LISTEN@", f"127.0.0.1:{listen_port}")
                .replace("@UPSTREAM@", f"127.0.0.1:{self.mock['port']}"))
        with open(path, "w") as f:
            f.write(text)

    def start_nginx(self, name="nginx", valgrind=None):
        for attempt in range(5):
            port = free_port()
            conf = os.path.join(self.work, f"{name}.conf")
            self.render_nginx_conf(port, conf, name)
            argv = ["nginx", "-p", self.work + "/", "-c", conf, "-e", os.path.join(self.work, f"{name}-error.log")]
            if valgrind:
                argv = valgrind + argv + ["-g", "master_process off;"]
            p = self.spawn(argv, f"{name}.log", cpus=self.proxy_cpu)
            try:
                wait_for(lambda: port_open(port), 240 if valgrind else 10, name, p)
            except RuntimeError:
                stop_proc(p)
                if attempt == 4:
                    raise
                continue
            break
        pids = [p.pid]
        if not valgrind:
            kids = wait_for(lambda: children_of(p.pid), 10, "nginx worker", p)
            for k in kids:
                self.reg.add(k)
                p.bench_children.append((k, proc_starttime(k)))
            pids += kids
        inst = {"proc": p, "port": port, "pids": pids, "conf": conf, "name": name}
        self.instances[name] = inst
        return inst

    def stop_instance(self, inst, sig=signal.SIGTERM, timeout=30):
        rc = stop_proc(inst["proc"], sig=sig, timeout=timeout)
        self.instances.pop(inst.get("name"), None)
        return rc

    def check_alive(self, inst, what):
        p = inst["proc"]
        if p.poll() is not None:
            msg = f"{what} exited with status {p.returncode}; log tail:\n{tail(p.bench_log)}"
            raise RuntimeError(msg)

    # -- Sluice metrics -----------------------------------------------------------------------

    def metrics(self, inst):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"http://127.0.0.1:{inst['admin']}/metrics", timeout=10) as r:
                text = r.read().decode()
        except OSError as e:
            return {"_error": str(e)}
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#") or "_bucket" in line:
                continue
            name_labels, _, value = line.rpartition(" ")
            try:
                v = float(value)
            except ValueError:
                continue
            name = name_labels.split("{", 1)[0]
            if name.endswith(("_sum", "_count")) and name.rsplit("_", 1)[0].endswith("seconds"):
                continue
            out[name] = out.get(name, 0) + v
            if name == "sluice_requests_total":
                st = re.search(r'status="([^"]*)"', name_labels)
                key = f"sluice_requests_total{{status={st.group(1) if st else '?'}}}"
                out[key] = out.get(key, 0) + v
            if name in ("sluice_call_errors_total", "sluice_client_errors_total") and v:
                lab = re.search(r'(class|reason)="([^"]*)"', name_labels)
                key = f"{name}{{{lab.group(2) if lab else '?'}}}"
                out[key] = out.get(key, 0) + v
        return out

    @staticmethod
    def metrics_delta(before, after):
        keys = [k for k in after if not k.startswith("_")]
        d = {}
        for k in keys:
            if k in ("sluice_connections_active", "sluice_calls_active", "sluice_streams_active",
                     "sluice_upstream_idle_connections"):
                continue
            v = after.get(k, 0) - before.get(k, 0)
            if v:
                d[k] = int(v)
        return d

    def events_lines_and_truncate(self):
        path = os.path.join(self.work, "sluice-events.jsonl")
        n = 0
        try:
            with open(path, "rb") as f:
                while True:
                    b = f.read(1 << 22)
                    if not b:
                        break
                    n += b.count(b"\n")
            os.truncate(path, 0)
        except FileNotFoundError:
            pass
        return n

    # -- load generators ----------------------------------------------------------------------

    def cpu_snapshot(self, target):
        proxy = [] if target == "direct" else self.targets[target]["pids"]
        return {"t": time.monotonic(), "busy": system_busy_s(), "proxy": proc_cpu_s(proxy),
                "mock": proc_cpu_s(self.mock["pids"])}

    @staticmethod
    def cpu_usage(before, after, loadgen_s):
        wall = after["t"] - before["t"]
        proxy = after["proxy"] - before["proxy"]
        mock = after["mock"] - before["mock"]
        busy = after["busy"] - before["busy"]
        foreign = max(0.0, busy - proxy - mock - loadgen_s)
        return {"wall_s": round(wall, 3), "proxy_cores": round(proxy / wall, 3),
                "mock_cores": round(mock / wall, 3), "loadgen_cores": round(loadgen_s / wall, 3),
                "other_cores": round(foreign / wall, 3)}

    def run_child_measured(self, argv, env, deadline_s, outname, stop_marker=None):
        """Runs a load generator (already pinned by argv) and returns (exit code, output, CPU
        seconds it used). When stop_marker appears in its output, it gets SIGINT (wrk then
        prints its summary and exits)."""
        outp = os.path.join(self.work, outname)
        with open(outp, "wb") as out:
            p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=env, start_new_session=True)
        self.reg.add(p.pid)
        deadline = time.monotonic() + deadline_s
        marker = stop_marker.encode() if stop_marker else None
        last_int = 0.0
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            now = time.monotonic()
            if now > deadline:
                p.kill()
            elif marker and now - last_int > 0.5:
                with open(outp, "rb") as f:
                    if marker in f.read():
                        os.kill(p.pid, signal.SIGINT)
                        last_int = now
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)
        with open(outp, errors="replace") as f:
            text = f.read()
        return p.returncode, text, ru.ru_utime + ru.ru_stime

    def wrk(self, target, kind, seconds=None, limit=0, conns=None, tag=""):
        port = self.targets[target]["port"]
        conns = conns or self.p["conns"]
        dur = seconds if seconds else 600
        env = dict(os.environ, BENCH_KIND=kind, BENCH_MIX_EVERY=str(MIX_EVERY), BENCH_PLAIN_BODY=self.plain_body_path,
                   BENCH_STREAM_BODY=self.stream_body_path, BENCH_STREAM_TOKENS=str(STREAM_TOKENS),
                   BENCH_LIMIT=str(limit))
        argv = ["taskset", "-c", str(self.load_cpu), "wrk", "-t1", f"-c{conns}", f"-d{int(dur)}s",
                "--timeout", "5s", "-s", os.path.join(LIB, "wrk.lua"), f"http://127.0.0.1:{port}{PATH}"]
        m0 = self.metrics(self.targets[target]) if target == "sluice" else None
        c0 = self.cpu_snapshot(target)
        rc, text, lg = self.run_child_measured(argv, env, dur + 60, f"wrk-{tag or target}.out",
                                              stop_marker="BENCH_LIMIT_REACHED" if limit else None)
        c1 = self.cpu_snapshot(target)
        m = re.search(r"^BENCH_RESULT (\{.*\})$", text, re.M)
        if rc != 0 or not m:
            raise RuntimeError(f"wrk against {target} failed (exit {rc}):\n{text[-2000:]}")
        r = json.loads(m.group(1))
        if limit:
            # Stopped by SIGINT after BENCH_LIMIT responses; wrk then still reports -d as its run time.
            r["duration_us"] = int((c1["t"] - c0["t"]) * 1e6)
        secs = r["duration_us"] / 1e6
        r["rps"] = round(r["requests"] / secs, 1) if secs else 0
        r["errors_total"] = sum(r["errors"].values())
        r["cpu"] = self.cpu_usage(c0, c1, lg)
        r["command"] = " ".join(argv)
        if target == "sluice":
            self.check_alive(self.targets[target], "sluice")
            m1 = self.metrics(self.targets[target])
            r["sluice_metrics"] = self.metrics_delta(m0, m1)
        return r

    def h2load(self, target, kind, rate, seconds, warm_s, tag=""):
        port = self.targets[target]["port"]
        clients = self.p["rate_clients"]
        per_client = max(1, int(round(rate / clients)))
        logp = os.path.join(self.work, f"h2load-{tag or target}.log")
        if os.path.exists(logp):
            os.remove(logp)
        body = self.stream_body_path if kind == "stream" else self.plain_body_path
        argv = ["taskset", "-c", str(self.load_cpu), "h2load", "--h1", "-t1", "-c", str(clients),
                "--rps", str(per_client), "-D", f"{int(seconds * 1000)}ms",
                "--warm-up-time", f"{int(warm_s * 1000)}ms",
                "-d", body, "--log-file", logp]
        for k, v in self.headers(kind).items():
            argv += ["-H", f"{k}: {v}"]
        argv.append(f"http://127.0.0.1:{port}{PATH}")
        c0 = self.cpu_snapshot(target)
        rc, text, lg = self.run_child_measured(argv, None, seconds + warm_s + 60, f"h2load-{tag or target}.out")
        c1 = self.cpu_snapshot(target)
        if rc != 0:
            raise RuntimeError(f"h2load against {target} failed (exit {rc}):\n{text[-2000:]}")
        lat = []
        bad = 0
        cut = 0  # status 0: still in flight when the duration ended (h2load logs them too)
        with open(logp) as f:
            for line in f:
                cols = line.split("\t")
                if len(cols) < 3:
                    continue
                if cols[1] == "200":
                    lat.append(int(cols[2]))
                elif cols[1] == "0":
                    cut += 1
                else:
                    bad += 1
        lat.sort()
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
        summary = dict(zip(["total", "started", "done", "succeeded", "failed", "errored", "timeout"],
                           map(int, m.groups()))) if m else {}
        if target == "sluice":
            self.check_alive(self.targets[target], "sluice")
            self.events_lines_and_truncate()
        r = {
            "offered_rps": per_client * clients,
            "achieved_rps": round(len(lat) / seconds, 1),
            "requests_ok": len(lat),
            "requests_not_200": bad,
            "requests_cut_at_end": cut,
            "h2load": summary,
            "latency_us": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
                           "p999": pct(lat, 99.9), "max": lat[-1] if lat else None},
            "cpu": self.cpu_usage(c0, c1, lg),
            "command": " ".join(argv),
        }
        if not lat:
            raise RuntimeError(f"h2load against {target}: no successful requests\n{text[-2000:]}")
        return r

    # -- phases -------------------------------------------------------------------------------

    def sanity(self):
        """One request of each kind to each target: status 200, same non-streamed body."""
        out = {}
        bodies = {}
        for t in TARGETS:
            c = hc.Conn(self.targets[t]["port"])
            try:
                for kind in KINDS:
                    r, _ = c.request(self.raw_request(self.targets[t]["port"], kind), keep_body=True)
                    if r.status != 200:
                        raise RuntimeError(f"{t} {kind}: status {r.status}: {r.body[:300]!r}")
                    if kind == "stream" and not r.body.rstrip().endswith(b"data: [DONE]"):
                        raise RuntimeError(f"{t} stream does not end with data: [DONE]: {r.body[-200:]!r}")
                    bodies[(t, kind)] = r.body
                    out[f"{t}_{kind}_bytes"] = len(r.body)
            finally:
                c.close()
        for t in ("nginx", "sluice"):
            if bodies[(t, "plain")] != bodies[("direct", "plain")]:
                self.warn(f"non-streamed body through {t} differs from the mock's direct answer")
        out["stream_events"] = bodies[("direct", "stream")].count(b"data: ")
        return out

    def phase_throughput(self):
        p = self.p
        log(f"\n== closed-loop throughput: wrk -t1 -c{p['conns']}, {p['tput_s']} s per run, "
            f"{p['rounds']} rounds, order rotated each round")
        for t in TARGETS:
            for kind in KINDS:
                self.wrk(t, kind, seconds=p["warm_s"], tag=f"warm-{t}-{kind}")
        time.sleep(0.5)
        self.events_lines_and_truncate()
        runs = {k: {t: [] for t in TARGETS} for k in KINDS}
        for rnd in range(p["rounds"]):
            order = TARGETS[rnd % 3:] + TARGETS[:rnd % 3]
            for kind in KINDS:
                for t in order:
                    r = self.wrk(t, kind, seconds=p["tput_s"], tag=f"{t}-{kind}-{rnd}")
                    r["round"] = rnd + 1
                    if t == "sluice":
                        time.sleep(0.2)  # let the sink write out before counting
                        r["events_file_lines"] = self.events_lines_and_truncate()
                    runs[kind][t].append(r)
                    errs = f", {r['errors_total']} errors {r['errors']}" if r["errors_total"] else ""
                    log(f"  round {rnd + 1} {kind:6} {t:6} {r['rps']:>9.0f} req/s  p50 {r['latency_us']['p50']} µs"
                        f"  p99 {r['latency_us']['p99']} µs  cpu proxy {r['cpu']['proxy_cores']:.2f}"
                        f" mock {r['cpu']['mock_cores']:.2f} wrk {r['cpu']['loadgen_cores']:.2f}"
                        f" other {r['cpu']['other_cores']:.2f}{errs}")
                    if r["errors_total"]:
                        self.warn(f"wrk {kind} round {rnd + 1} against {t}: {r['errors_total']} errors {r['errors']}")
        time.sleep(0.5)
        late = self.events_lines_and_truncate()
        sl = [r for kind in KINDS for r in runs[kind]["sluice"]]
        published = sum(r["sluice_metrics"].get("sluice_events_published_total", 0) for r in sl)
        lines = sum(r["events_file_lines"] for r in sl) + late
        by_status = {}
        for r in sl:
            for k, v in r["sluice_metrics"].items():
                if k.startswith("sluice_requests_total{status="):
                    st = k.split("=", 1)[1].rstrip("}")
                    by_status[st] = by_status.get(st, 0) + v
        wrk_requests = sum(r["requests"] for r in sl)
        check = {"wrk_requests": wrk_requests, "sluice_requests_by_status": by_status,
                 "events_published": published, "events_file_lines": lines}
        log(f"  Sluice during these runs: wrk counted {wrk_requests} responses; Sluice counted requests by"
            f" status {by_status}; events published {published}, event lines written {lines}")
        if lines != published:
            self.warn(f"Sluice published {published} events but the JSONL file got {lines} lines")
        odd = {k: v for k, v in by_status.items() if k not in ("200", "0")}
        if odd:
            self.warn(f"Sluice answered statuses other than 200 during the throughput runs: {odd}")
        summary = {"sluice_check": check}
        for kind in KINDS:
            summary[kind] = {}
            for t in TARGETS:
                summary[kind][t] = spread([r["rps"] for r in runs[kind][t]])
            ratios = [s["rps"] / n["rps"] for s, n in zip(runs[kind]["sluice"], runs[kind]["nginx"])]
            summary[kind]["sluice_over_nginx"] = round(summary[kind]["sluice"]["median"] /
                                                       summary[kind]["nginx"]["median"], 3)
            summary[kind]["sluice_over_nginx_per_round"] = spread(ratios, 3)
        self.results["throughput"] = {"summary": summary, "runs": runs}

    def phase_rate(self):
        p = self.p
        tp = self.results["throughput"]["summary"]
        log(f"\n== fixed-rate latency: h2load --h1 -c{p['rate_clients']} --rps, {p['rate_s']} s per run"
            f" after {p['rate_warm_s']} s warm-up, at half of nginx's median closed-loop RPS")
        runs = {k: {t: [] for t in TARGETS} for k in KINDS}
        rates = {k: tp[k]["nginx"]["median"] / 2 for k in KINDS}
        for rnd in range(p["rounds"]):
            order = TARGETS[rnd % 3:] + TARGETS[:rnd % 3]
            for kind in KINDS:
                for t in order:
                    r = self.h2load(t, kind, rates[kind], p["rate_s"], p["rate_warm_s"], tag=f"{t}-{kind}-{rnd}")
                    r["round"] = rnd + 1
                    runs[kind][t].append(r)
                    L = r["latency_us"]
                    log(f"  round {rnd + 1} {kind:6} {t:6} offered {r['offered_rps']:>7} achieved"
                        f" {r['achieved_rps']:>8.0f} req/s  p50 {L['p50']} µs  p99 {L['p99']} µs"
                        f"  max {L['max']} µs  cpu proxy {r['cpu']['proxy_cores']:.2f}"
                        f" other {r['cpu']['other_cores']:.2f}")
                    bad = r["requests_not_200"] + r["h2load"].get("failed", 0) + r["h2load"].get("errored", 0)
                    if bad:
                        self.warn(f"h2load {kind} round {rnd + 1} against {t}: {r['requests_not_200']} non-200,"
                                  f" {r['h2load']}")
                    if r["achieved_rps"] < 0.9 * r["offered_rps"]:
                        self.warn(f"h2load {kind} round {rnd + 1} against {t}: achieved {r['achieved_rps']}"
                                  f" of {r['offered_rps']} req/s offered")
        summary = {}
        for kind in KINDS:
            summary[kind] = {"offered_rps": runs[kind]["nginx"][0]["offered_rps"]}
            for t in TARGETS:
                summary[kind][t] = {q: spread([r["latency_us"][q] for r in runs[kind][t]])
                                    for q in ("p50", "p99")}
            for q in ("p50", "p99"):
                # Overhead = latency through the proxy - latency straight to the mock, same run.
                for t in ("nginx", "sluice"):
                    summary[kind][f"{t}_overhead_{q}_us"] = spread(
                        [a["latency_us"][q] - d["latency_us"][q] for a, d in zip(runs[kind][t], runs[kind]["direct"])])
            for t in TARGETS:
                summary[kind][f"{t}_achieved_rps"] = spread([r["achieved_rps"] for r in runs[kind][t]])
            summary[kind]["p99_sluice_over_nginx"] = round(summary[kind]["sluice"]["p99"]["median"] /
                                                           summary[kind]["nginx"]["p99"]["median"], 3)
        self.results["fixed_rate"] = {"summary": summary, "runs": runs}

    def phase_ttfb(self):
        n = self.p["ttfb_n"]
        log(f"\n== time to first body byte: {n} sequential requests per target and kind, one keep-alive"
            " connection each, targets interleaved (order rotated per request)")
        out = {}
        conns = {t: hc.Conn(self.targets[t]["port"]) for t in TARGETS}
        try:
            for kind in KINDS:
                raws = {t: self.raw_request(self.targets[t]["port"], kind) for t in TARGETS}
                for _ in range(max(20, n // 10)):
                    for t in TARGETS:
                        conns[t].request(raws[t])
                ttfb = {t: [] for t in TARGETS}
                total = {t: [] for t in TARGETS}
                bad = 0
                for i in range(n):
                    order = TARGETS[i % 3:] + TARGETS[:i % 3]
                    for t in order:
                        r, t0 = conns[t].request(raws[t])
                        if r.status != 200:
                            bad += 1
                        ttfb[t].append((r.t_first_body_ns - t0) / 1000)
                        total[t].append((r.t_end_ns - t0) / 1000)
                res = {"n": n, "non_200": bad}
                for t in TARGETS:
                    res[t] = {"ttfb_us": quantiles(ttfb[t]), "total_us": quantiles(total[t])}
                for t in ("nginx", "sluice"):
                    res[f"{t}_added_ttfb_us"] = quantiles([a - d for a, d in zip(ttfb[t], ttfb["direct"])])
                    res[f"{t}_added_total_us"] = quantiles([a - d for a, d in zip(total[t], total["direct"])])
                res["sluice_minus_nginx_added_ttfb_us"] = round(
                    res["sluice_added_ttfb_us"]["p50"] - res["nginx_added_ttfb_us"]["p50"], 1)
                out[kind] = res
                log(f"  {kind:6} median TTFB direct {res['direct']['ttfb_us']['p50']:.0f} µs, nginx"
                    f" {res['nginx']['ttfb_us']['p50']:.0f} µs, sluice {res['sluice']['ttfb_us']['p50']:.0f} µs;"
                    f" added (median of per-request differences): nginx {res['nginx_added_ttfb_us']['p50']:.0f} µs,"
                    f" sluice {res['sluice_added_ttfb_us']['p50']:.0f} µs")
                if bad:
                    self.warn(f"TTFB {kind}: {bad} non-200 responses")
        finally:
            for c in conns.values():
                c.close()
        self.results["ttfb"] = out

    def phase_memory(self):
        p = self.p
        n = p["idle_conns"]
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 512:
            self.warn(f"open-file limit {soft} is below {n} connections + margin; using {soft - 512}")
            n = max(100, soft - 512)
        log(f"\n== memory: {n} idle keep-alive connections (each made one request), fresh processes")
        out = {"idle_connections": n}
        for which in ("sluice", "nginx"):
            inst = self.start_sluice("sluice-mem") if which == "sluice" else self.start_nginx("nginx-mem")
            try:
                raw = self.raw_request(inst["port"], "plain")
                c = hc.Conn(inst["port"])
                for _ in range(500):
                    c.request(raw)
                c.close()
                time.sleep(0.5)
                pids = inst["pids"]
                rss0 = rss_kib(pids)
                t0 = time.monotonic()
                conns = hc.open_idle(inst["port"], n, raw)
                open_s = time.monotonic() - t0
                time.sleep(1.0)
                rss1 = rss_kib(pids)
                active = None
                if which == "sluice":
                    active = self.metrics(inst).get("sluice_connections_active")
                # The connections must still be open: a request on a sample of them must work.
                for c in conns[:: max(1, n // 20)]:
                    r, _ = c.request(raw)
                    if r.status != 200:
                        raise RuntimeError(f"{which}: idle connection answered {r.status}")
                for c in conns:
                    c.close()
                time.sleep(1.0)
                rss2 = rss_kib(pids)
                res = {"rss_before_kib": rss0, "rss_with_idle_kib": rss1, "rss_after_close_kib": rss2,
                       "kib_per_connection": round((rss1 - rss0) / n, 2), "open_seconds": round(open_s, 2)}
                if active is not None:
                    res["sluice_connections_active"] = int(active)
                    if int(active) < n:
                        self.warn(f"sluice reported {int(active)} active connections with {n} open")
                out[which] = res
                log(f"  {which:6} RSS {rss0} KiB -> {rss1} KiB with {n} idle connections:"
                    f" {res['kib_per_connection']} KiB per connection (after closing: {rss2} KiB)")
            finally:
                self.stop_instance(inst)
        # RSS growth over many requests, fresh Sluice.
        small, large = p["rss_small"], p["rss_large"]
        log(f"== memory: Sluice RSS after {small} and after {large} requests (wrk -c{p['conns']},"
            f" every {MIX_EVERY}th request streamed)")
        inst = self.start_sluice("sluice-rss")
        self.targets["sluice-rss"] = inst
        samples = []
        stop = threading.Event()

        def sampler():
            t0 = time.monotonic()
            while not stop.wait(1.0):
                try:
                    samples.append((round(time.monotonic() - t0, 1), rss_kib(inst["pids"])))
                except OSError:
                    return
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        try:
            rss_start = rss_kib(inst["pids"])
            r1 = self.wrk("sluice-rss", "mix", limit=small, tag="rss-small")
            time.sleep(1.0)
            rss_a = rss_kib(inst["pids"])
            self.events_lines_and_truncate()
            r2 = self.wrk("sluice-rss", "mix", limit=large - r1["requests"], tag="rss-large")
            time.sleep(1.0)
            rss_b = rss_kib(inst["pids"])
            self.check_alive(inst, "sluice (RSS run)")
            met = self.metrics(inst)
        finally:
            stop.set()
            th.join()
            self.events_lines_and_truncate()
            self.stop_instance(inst)
            self.targets.pop("sluice-rss", None)
        total = r1["requests"] + r2["requests"]
        out["rss"] = {
            "requests_small": r1["requests"], "requests_large": total, "streamed_every": MIX_EVERY,
            "rss_start_kib": rss_start, "rss_small_kib": rss_a, "rss_large_kib": rss_b,
            "growth_ratio": round(rss_b / rss_a, 4),
            "rps": [r1["rps"], r2["rps"]],
            "errors": [r1["errors"], r2["errors"]],
            "sluice_requests_total": met.get("sluice_requests_total"),
            "sluice_requests_by_status": {k.split("=")[1].rstrip("}"): int(v) for k, v in met.items()
                                          if k.startswith("sluice_requests_total{")},
            "samples_s_kib": samples[::max(1, len(samples) // 60)],
        }
        log(f"  sluice RSS at start {rss_start} KiB, after {r1['requests']} requests {rss_a} KiB,"
            f" after {total} requests {rss_b} KiB (x{out['rss']['growth_ratio']})")
        if r1["errors_total"] or r2["errors_total"]:
            self.warn(f"RSS run: wrk errors {r1['errors']} / {r2['errors']}")
        self.results["memory"] = out

    def callgrind_run(self, which, warm, n, kind, label):
        outf = os.path.join(self.work, f"callgrind-{which}-{label}.out")
        vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={outf}", "--dump-instr=no"]
        name = f"{which}-cg"
        inst = self.start_sluice(name, valgrind=vg) if which == "sluice" else self.start_nginx(name, valgrind=vg)
        try:
            c = hc.Conn(inst["port"], timeout=60)
            raws = {k: self.raw_request(inst["port"], k) for k in KINDS}
            for _ in range(warm):
                for k in KINDS:
                    r, _ = c.request(raws[k])
                    if r.status != 200:
                        raise RuntimeError(f"callgrind {which}: status {r.status}")
            for _ in range(n):
                r, _ = c.request(raws[kind])
                if r.status != 200:
                    raise RuntimeError(f"callgrind {which}: status {r.status}")
            c.close(reset=False)
            time.sleep(0.2)
        finally:
            rc = self.stop_instance(inst, sig=signal.SIGTERM, timeout=120)
        with open(outf) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1]), rc
        raise RuntimeError(f"callgrind {which}: no totals in {outf} (exit {rc}); log:\n{tail(inst['proc'].bench_log)}")

    def phase_callgrind(self):
        warm, n = self.p["cg_warm"], self.p["cg_n"]
        log(f"\n== callgrind: instructions per request = (Ir of a run with {warm}+{warm} warm-up requests"
            f" + {n} measured) - (Ir of a run with the warm-up only), / {n}; one keep-alive connection")
        out = {"warmup_requests_each_kind": warm, "measured_requests": n}
        for which in ("sluice", "nginx"):
            try:
                base, rc0 = self.callgrind_run(which, warm, 0, "plain", "base")
                res = {"ir_base": base}
                for kind in KINDS:
                    tot, rc = self.callgrind_run(which, warm, n, kind, kind)
                    res[f"ir_{kind}_run"] = tot
                    res[f"ir_per_request_{kind}"] = round((tot - base) / n)
                res["exit_codes"] = [rc0, rc]
                out[which] = res
                log(f"  {which:6} instructions per request: non-streamed {res['ir_per_request_plain']:,},"
                    f" streamed {res['ir_per_request_stream']:,} (startup+warm-up run: {base:,})")
            except Exception as e:  # noqa: BLE001
                self.error(f"callgrind {which}: {e}")
        self.results["callgrind"] = out

    # -- verdicts -----------------------------------------------------------------------------

    def verdicts(self):
        R = self.results
        v = []

        def add(key, value, ok, detail):
            desc = next(d for k, d, _ in TARGET_SPECS if k == key)
            shown = {"rps_ratio": f"{value}×", "p99_ratio": f"{value}×",
                     "ttfb_added": f"{value:+.0f} µs (Sluice − nginx)", "idle_kib": f"{value} KiB",
                     "rss_growth": f"×{value}"}[key]
            v.append({"key": key, "target": desc, "value": value, "shown": shown, "pass": bool(ok),
                      "detail": detail})
        if "throughput" in R:
            s = R["throughput"]["summary"]["plain"]
            add("rps_ratio", s["sluice_over_nginx"], s["sluice_over_nginx"] >= 0.8,
                f"Sluice {s['sluice']['median']:.0f} vs nginx {s['nginx']['median']:.0f} req/s (medians)")
        if "fixed_rate" in R:
            s = R["fixed_rate"]["summary"]["plain"]
            # h2load does not send a request while the previous one on its connection is
            # outstanding, so a target that cannot keep up gets fewer requests and its latency
            # looks better than it is: the rate must have been sustained for the p99 to count.
            ach = s["sluice_achieved_rps"]["min"] / s["offered_rps"]
            ok = s["p99_sluice_over_nginx"] <= 1.25 and ach >= 0.95
            add("p99_ratio", s["p99_sluice_over_nginx"], ok,
                f"at {s['offered_rps']} req/s offered: p99 Sluice {s['sluice']['p99']['median']:.0f} µs vs nginx"
                f" {s['nginx']['p99']['median']:.0f} µs (medians of {self.p['rounds']} runs); Sluice sustained"
                f" {s['sluice_achieved_rps']['min']:.0f}–{s['sluice_achieved_rps']['max']:.0f} req/s"
                + ("" if ach >= 0.95 else " — below 95 % of the offered rate, so the p99 does not count"))
        if "ttfb" in R:
            s = R["ttfb"]["stream"]
            sl, ng = s["sluice_added_ttfb_us"]["p50"], s["nginx_added_ttfb_us"]["p50"]
            add("ttfb_added", round(sl - ng, 1), sl <= ng + 50,
                f"added TTFB Sluice {sl:.0f} µs vs nginx {ng:.0f} µs (median of {s['n']} per-request differences)")
        if "memory" in R:
            m = R["memory"]
            if "sluice" in m:
                k = m["sluice"]["kib_per_connection"]
                add("idle_kib", k, k <= 64, f"{m['idle_connections']} idle connections;"
                    f" nginx {m.get('nginx', {}).get('kib_per_connection')} KiB")
            if "rss" in m:
                g = m["rss"]["growth_ratio"]
                add("rss_growth", g, g <= 1.05, f"{m['rss']['rss_small_kib']} KiB after"
                    f" {m['rss']['requests_small']} requests, {m['rss']['rss_large_kib']} KiB after"
                    f" {m['rss']['requests_large']}")
        R["verdicts"] = v

    # -- main ---------------------------------------------------------------------------------

    def environment(self):
        cpu = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break

        def cmd(argv):
            try:
                r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
                return (r.stdout + r.stderr).strip()
            except (OSError, subprocess.TimeoutExpired) as e:
                return f"unavailable: {e}"
        wrk_v = cmd(["wrk", "-v"]).splitlines()
        git = cmd(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"])
        dirty = cmd(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"])
        return {
            "nproc": os.cpu_count(), "cpu_model": cpu, "kernel": platform.release(),
            "loadavg_start": open("/proc/loadavg").read().split()[:3],
            "mem_total_kib": int(open("/proc/meminfo").readline().split()[1]),
            "git_commit": git + (" (with uncommitted changes)" if dirty else ""),
            "versions": {
                "sluice": cmd([self.sluice_bin, "--version"]),
                "nginx": cmd(["nginx", "-v"]),
                "wrk": wrk_v[0] if wrk_v else "",
                "h2load": cmd(["h2load", "--version"]),
                "valgrind": cmd(["valgrind", "--version"]),
                "python": platform.python_version(),
            },
            "layout": {
                "proxy_cpu": self.proxy_cpu, "mock_cpu": self.load_cpu, "loadgen_cpu": self.load_cpu,
                "text": (f"nginx (master + 1 worker) or Sluice (--workers 1, all its threads) pinned to CPU"
                         f" {self.proxy_cpu}; sluice-mock (--threads 1), the load generators (wrk -t1, h2load -t1)"
                         f" and the Python clients pinned to CPU {self.load_cpu}; the same for every target"
                         " (direct: CPU 0 idle)"),
            },
        }

    def quiet_probe(self):
        """CPU used by other processes before we start anything (cores, over 3 s windows);
        with --wait-quiet S, waits up to S seconds for a window below 0.1 cores."""
        deadline = time.monotonic() + self.a.wait_quiet
        while True:
            b0, t0 = system_busy_s(), time.monotonic()
            time.sleep(3)
            other = (system_busy_s() - b0) / (time.monotonic() - t0)
            if other < 0.1 or time.monotonic() > deadline:
                break
            log(f"waiting for a quiet machine: other processes use {other:.2f} cores")
        log(f"CPU used by other processes before the run: {other:.2f} cores")
        if other >= 0.1:
            self.warn(f"other processes used {other:.2f} cores just before the run; wall-clock figures"
                      " are disturbed (see the 'other' CPU column of each run)")
        return round(other, 3)

    def run(self):
        R = self.results
        R["started"] = now_utc().isoformat(timespec="seconds")
        R["command"] = self.a.command
        R["mode"] = "quick" if self.a.quick else "full"
        R["profile"] = self.p
        R["machine"] = self.environment()
        os.sched_setaffinity(0, {int(self.load_cpu)})
        if self.a.nice:
            # Inherited by every process started from here: the targets, the mock and the load
            # generators all get the same priority over the rest of the machine.
            try:
                os.setpriority(os.PRIO_PROCESS, 0, self.a.nice)
                R["machine"]["layout"]["text"] += f"; all benchmark processes at nice {self.a.nice}"
            except OSError as e:
                self.warn(f"cannot set nice {self.a.nice}: {e}")
        R["machine"]["layout"]["nice"] = os.getpriority(os.PRIO_PROCESS, 0)
        R["machine"]["other_cores_before"] = self.quiet_probe()
        la = float(R["machine"]["loadavg_start"][0])
        log(f"machine: {R['machine']['nproc']} CPUs, {R['machine']['cpu_model']}, load {la}")
        log(f"layout: {R['machine']['layout']['text']}")

        self.start_mock()
        self.sluice_config()
        nginx = self.start_nginx()
        sluice = self.start_sluice()
        self.targets = {"direct": self.mock, "nginx": nginx, "sluice": sluice}
        tdump = subprocess.run(["nginx", "-T", "-p", self.work + "/", "-c", nginx["conf"],
                                "-e", os.path.join(self.work, "nginx-T-error.log")],
                               capture_output=True, text=True)
        self.nginx_T = tdump.stderr + tdump.stdout
        log("\n== nginx -T\n" + self.nginx_T.rstrip())
        log(f"\n== Sluice configuration ({self.sluice_cfg_path})\n" + self._sluice_cfg.rstrip())
        log(f"\nSluice: filters: {', '.join(self.sluice_filters) or 'none'}; sinks: {', '.join(self.sluice_sinks) or 'none'}"
            " (JSONL events to a temp file); 1 worker. nginx: 1 worker.")
        R["sluice"] = {"filters": self.sluice_filters, "sinks": self.sluice_sinks, "workers": 1,
                       "config": "bench/results/sluice-bench.yaml (generated from conf/sluice.yaml)"}
        R["nginx"] = {"workers": 1, "config_template": "bench/nginx.conf.in", "nginx_T": "bench/results/nginx-T.txt"}
        R["requests"] = {
            "path": PATH, "plain_body_bytes": len(self.plain_body), "stream_body_bytes": len(self.stream_body),
            "stream_output_tokens": STREAM_TOKENS, "headers": self.headers("stream"),
        }
        R["sanity"] = self.sanity()
        log(f"sanity: {R['sanity']}")
        phases = self.a.phases.split(",")
        failed = False
        for name, fn in [("tput", self.phase_throughput), ("rate", self.phase_rate), ("ttfb", self.phase_ttfb),
                         ("mem", self.phase_memory), ("cg", self.phase_callgrind)]:
            if name not in phases:
                continue
            if name == "rate" and "throughput" not in R:
                continue
            if name == "mem":
                # Fresh processes from here on; the main nginx and Sluice are done.
                m = self.metrics(sluice)
                R["sluice_main_metrics"] = {k: int(v) for k, v in m.items() if not k.startswith("_")}
                self.stop_instance(sluice)
                self.stop_instance(nginx)
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                failed = True
                self.error(f"phase {name} failed: {e}")
                if name in ("tput", "rate", "ttfb"):
                    break
        R["finished"] = now_utc().isoformat(timespec="seconds")
        R["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        self.verdicts()
        return failed

    def save(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "latest.json"), "w") as f:
            json.dump(self.results, f, indent=1, ensure_ascii=False)
            f.write("\n")
        if hasattr(self, "nginx_T"):
            with open(os.path.join(out_dir, "nginx-T.txt"), "w") as f:
                f.write(self.nginx_T)
        if hasattr(self, "_sluice_cfg"):
            with open(os.path.join(out_dir, "sluice-bench.yaml"), "w") as f:
                f.write(self._sluice_cfg)


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(q / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


def quantiles(vals):
    s = sorted(vals)
    return {"p10": round(pct(s, 10), 1), "p50": round(statistics.median(s), 1), "p90": round(pct(s, 90), 1),
            "p99": round(pct(s, 99), 1), "mean": round(statistics.fmean(s), 1)}


def spread(vals, nd=1):
    return {"median": round(statistics.median(vals), nd), "min": round(min(vals), nd),
            "max": round(max(vals), nd), "values": [round(v, nd) for v in vals]}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build tree with proxy/sluice and mock/sluice-mock")
    ap.add_argument("--work", required=True, help="scratch directory (removed by run.sh)")
    ap.add_argument("--out", required=True, help="where latest.json, nginx-T.txt, sluice-bench.yaml go")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--phases", default="tput,rate,ttfb,mem,cg")
    ap.add_argument("--proxy-cpu", default="0")
    ap.add_argument("--load-cpu", default="1")
    ap.add_argument("--command", default="bench/run.sh")
    ap.add_argument("--nice", type=int, default=0, help="run every benchmark process at this nice value")
    ap.add_argument("--wait-quiet", type=float, default=0, help="wait up to S seconds for an idle machine")
    args = ap.parse_args()

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    b = Bench(args)
    rc = 0
    try:
        if b.run():
            rc = 1
    except KeyboardInterrupt as e:
        b.error(f"interrupted: {e}")
        rc = 130
    except Exception as e:  # noqa: BLE001
        b.error(f"aborted: {e}")
        rc = 1
    finally:
        b.reg.kill_all()
    b.results.setdefault("finished", now_utc().isoformat(timespec="seconds"))
    if "verdicts" not in b.results:
        b.verdicts()
    if rc == 130:
        log(f"interrupted: nothing written to {args.out}")
    else:
        b.save(args.out)
    sys.path.insert(0, LIB)
    import render
    log("\n" + render.summary_text(b.results))
    return rc


if __name__ == "__main__":
    sys.exit(main())
