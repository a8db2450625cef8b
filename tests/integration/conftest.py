"""Integration fixtures: real processes on loopback ports, cleaned up after each test session.

- `certs`: a test CA and a server certificate for mock.sluice.test / 127.0.0.1 (openssl CLI).
- `mock`: sluice-mock serving HTTPS with that certificate.
- `sluice_factory`: starts Sluice with a config (YAML text) pointing at the mock; each instance
  gets its own ports (port 0, read back from --ready-file) and its own events file.

The build directory comes from SLUICE_BUILD_DIR (default: ../../build-asan, then ../../build).
"""
import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time

import ssl

import httpx2 as httpx
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def build_dir() -> pathlib.Path:
    env = os.environ.get("SLUICE_BUILD_DIR")
    if env:
        return pathlib.Path(env)
    for name in ("build-asan", "build"):
        if (ROOT / name / "proxy" / "sluice").exists():
            return ROOT / name
    raise RuntimeError("no build found: set SLUICE_BUILD_DIR")


def proxy_connect(sluice, target, extra_headers=""):
    """Sends `CONNECT target` (plus `extra_headers`, CRLF-terminated lines) to Sluice's API
    port; returns the socket, the status code (0 when the connection closed first) and the
    response head."""
    s = socket.create_connection(("127.0.0.1", sluice.port), timeout=10)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra_headers}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = s.recv(4096)
        if not data:
            break
        head += data
    status = int(head.split(b" ", 2)[1]) if head else 0
    return s, status, head


def wait_for_file(path: pathlib.Path, proc: subprocess.Popen, timeout=20.0, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > 0:
            return path.read_text()
        if proc.poll() is not None:
            detail = log.read_text()[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"process exited early with {proc.returncode}: {detail}")
        time.sleep(0.02)
    # Not ready in time: stop it, or it outlives the test (the caller has not registered it
    # for cleanup yet).
    stop(proc)
    raise TimeoutError(f"{path} did not appear")


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout=15.0):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="sluice-it-") as d:
        yield pathlib.Path(d)


@pytest.fixture(scope="session")
def certs(workdir):
    d = workdir / "certs"
    d.mkdir()
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, cwd=d)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Sluice Test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=mock.sluice.test")
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:mock.sluice.test,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return d


class Mock:
    def __init__(self, proc, port, ca):
        self.proc, self.port, self.ca = proc, port, ca
        self.url = f"https://127.0.0.1:{port}"
        self.ssl = ssl.create_default_context(cafile=str(ca))
        self.client = httpx.Client(verify=self.ssl, timeout=10)

    def requests(self):
        return self.client.get(f"{self.url}/__mock/requests").json()

    def reset(self):
        self.client.post(f"{self.url}/__mock/reset")


@pytest.fixture(scope="session")
def mock(workdir, certs):
    port_file = workdir / "mock.port"
    proc = subprocess.Popen(
        [str(build_dir() / "mock" / "sluice-mock"), "--listen", "127.0.0.1:0", "--threads", "2",
         "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
         "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port = int(wait_for_file(port_file, proc).strip())
    m = Mock(proc, port, certs / "ca.pem")
    yield m
    stop(m.proc)


class Sluice:
    def __init__(self, proc, ready, events_path, log_path):
        self.proc = proc
        self.port = ready["port"]
        self.admin_port = ready["admin_port"]
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.events_path = events_path
        self.log_path = log_path

    def events(self):
        if not self.events_path.exists():
            return []
        out = []
        for line in self.events_path.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def calls(self):
        return [e for e in self.events() if e.get("type") == "call"]

    def wait_alerts(self, until, timeout=10.0):
        """The alert records once until(alerts) holds. A call's alerts are published after its
        call event, so they may reach the file one sink batch (~10 ms) after it."""
        deadline = time.monotonic() + timeout
        while True:
            alerts = [e for e in self.events() if e.get("type") == "alert"]
            if until(alerts) or time.monotonic() >= deadline:
                return alerts
            time.sleep(0.05)

    def wait_calls(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls()
            if len(calls) >= n:
                return calls
            time.sleep(0.05)
        raise TimeoutError(f"expected {n} call events, have {len(self.calls())}")

    def metrics(self) -> str:
        return httpx.get(f"{self.admin}/metrics").text

    def metric(self, series: str) -> float:
        """Value of one exact series, e.g. 'sluice_client_errors_total{reason="bad_json"}'."""
        for line in self.metrics().splitlines():
            name, _, value = line.rpartition(" ")
            if name == series:
                return float(value)
        return 0.0


def default_config(mock: Mock, events: pathlib.Path, extra: str = "") -> str:
    return f"""
listener:
  address: 127.0.0.1:0
  admin_address: 127.0.0.1:0
  workers: 2
  max_body_bytes: 1MiB
  drain_timeout: 5s
upstreams:
  openai:
    provider: openai
    url: https://mock.sluice.test
    connect_to: 127.0.0.1:{mock.port}
    ca_file: {mock.ca}
    first_byte_timeout: 3s
  anthropic:
    provider: anthropic
    url: https://mock.sluice.test
    connect_to: 127.0.0.1:{mock.port}
    ca_file: {mock.ca}
    first_byte_timeout: 3s
sinks:
  jsonl:
    events_path: {events}
{extra}
"""


@pytest.fixture
def sluice_factory(workdir, mock):
    started = []

    def start(config_text: str | None = None, extra: str = "", env=None):
        d = pathlib.Path(tempfile.mkdtemp(prefix="sluice", dir=workdir))
        events = d / "events.jsonl"
        text = config_text if config_text is not None else default_config(mock, events, extra)
        text = text.replace("@EVENTS@", str(events))
        cfg = d / "sluice.yaml"
        cfg.write_text(text)
        ready = d / "ready.json"
        log_path = d / "sluice.log"
        log = open(log_path, "w")
        proc = subprocess.Popen(
            [str(build_dir() / "proxy" / "sluice"), "--config", str(cfg), "--ready-file", str(ready)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        info = json.loads(wait_for_file(ready, proc, log=log_path))
        s = Sluice(proc, info, events, d / "sluice.log")
        started.append(s)
        return s

    yield start
    for s in started:  # all of them first: a failed check below must not leave one running
        stop(s.proc)
    for s in started:
        # ASan reports, crashes: a non-zero exit fails the test that started it.
        assert s.proc.returncode == 0, f"sluice exited {s.proc.returncode}: {s.log_path.read_text()[-3000:]}"
        # Every record Sluice wrote must match the published schemas.
        for rec in s.events():
            SCHEMAS[rec["type"]].validate(rec)


def _schema(name):
    import jsonschema
    schema = json.loads((ROOT / "docs" / name).read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


SCHEMAS = {"call": _schema("event-schema.json"), "alert": _schema("alert-schema.json")}


@pytest.fixture
def sluice(sluice_factory):
    return sluice_factory()
