"""HTTPS_PROXY interception: clients keep calling https://api.openai.com and
https://api.anthropic.com with HTTPS_PROXY pointing at Sluice and Sluice's CA trusted; Sluice
terminates TLS with a certificate it mints, and routes, filters and records the calls like
base-URL calls (the upstreams here are sluice-mock, never the real internet). Bad handshakes
close cleanly and are counted."""
import socket
import ssl
import subprocess

import anthropic
import httpx2 as httpx
import openai
import pytest

from conftest import build_dir, default_config, proxy_connect

MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def sluice_ca(tmp_path_factory):
    d = tmp_path_factory.mktemp("sluice-ca")
    subprocess.run([str(build_dir() / "proxy" / "sluice"), "ca", "init", "--dir", str(d)],
                   check=True, capture_output=True)
    return d


def start(sluice_factory, mock, sluice_ca, extra=""):
    text = default_config(mock, "@EVENTS@", f"""
intercept:
  ca_cert: {sluice_ca / 'ca.pem'}
  ca_key: {sluice_ca / 'ca-key.pem'}
{extra}""")
    return sluice_factory(config_text=text)


def client(s, sluice_ca):
    ctx = ssl.create_default_context(cafile=str(sluice_ca / "ca.pem"))
    return httpx.Client(proxy=f"http://127.0.0.1:{s.port}", verify=ctx, timeout=20)


def test_openai_sdk_through_https_proxy_streamed_and_not(sluice_factory, mock, sluice_ca):
    s = start(sluice_factory, mock, sluice_ca)
    c = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-intercepted",
                      http_client=client(s, sluice_ca), max_retries=0)
    r = c.chat.completions.create(model="gpt-4o", messages=MSG)
    assert r.choices[0].message.content
    text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model="gpt-4o", messages=MSG, stream=True) if ch.choices)
    assert text == r.choices[0].message.content  # the mock's answer depends on the request only
    calls = s.wait_calls(2)
    assert {e["stream"] for e in calls} == {False, True}
    for e in calls:
        assert e["status"] == 200 and e["error"] is None and e["provider"] == "openai"
        assert e["usage"]["source"] == "provider"
    assert s.metric('sluice_intercepts_total{result="ok"}') >= 1


def test_anthropic_sdk_through_https_proxy(sluice_factory, mock, sluice_ca):
    s = start(sluice_factory, mock, sluice_ca)
    c = anthropic.Anthropic(base_url="https://api.anthropic.com", api_key="sk-ant-intercepted",
                            http_client=client(s, sluice_ca), max_retries=0)
    m = c.messages.create(model="claude-sonnet-4-5", max_tokens=20, messages=MSG)
    assert m.content[0].text
    with c.messages.stream(model="claude-sonnet-4-5", max_tokens=20, messages=MSG) as st:
        assert "".join(st.text_stream)
    calls = s.wait_calls(2)
    assert all(e["provider"] == "anthropic" and e["status"] == 200 for e in calls)


def test_curl_through_https_proxy_and_filters_apply(sluice_factory, mock, sluice_ca):
    s = start(sluice_factory, mock, sluice_ca,
              extra="filters:\n  chain: [model_access]\n  model_access:\n    rules:\n      - deny: [gpt-4o-mini]\n")
    base = ["curl", "-sS", "--proxy", f"http://127.0.0.1:{s.port}", "--cacert", str(sluice_ca / "ca.pem"),
            "-H", "Authorization: Bearer sk-x", "-H", "Content-Type: application/json",
            "-o", "-", "-w", "\n%{http_code}"]
    ok = subprocess.run(base + ["-d", '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}',
                                "https://api.openai.com/v1/chat/completions"],
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and ok.stdout.rstrip().endswith("200"), ok.stderr + ok.stdout
    denied = subprocess.run(base + ["-d", '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
                                    "https://api.openai.com/v1/chat/completions"],
                            capture_output=True, text=True, timeout=30)
    assert denied.stdout.rstrip().endswith("403") and "model_not_allowed" in denied.stdout
    before = len(mock.requests())
    assert before >= 1


def connect(s, target):
    raw, _, head = proxy_connect(s, target)
    assert head.startswith(b"HTTP/1.1 200"), head
    return raw


def closed(raw):
    raw.settimeout(5)
    try:
        return raw.recv(4096) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True


def test_bad_handshakes_close_cleanly_and_are_counted(sluice_factory, mock, sluice_ca, certs):
    s = start(sluice_factory, mock, sluice_ca)
    # Garbage instead of a ClientHello.
    raw = connect(s, "api.openai.com:443")
    raw.sendall(b"GET / HTTP/1.1\r\nHost: api.openai.com\r\n\r\n")
    assert closed(raw)
    # SNI naming another host than the CONNECT target.
    raw = connect(s, "api.openai.com:443")
    ctx = ssl.create_default_context(cafile=str(sluice_ca / "ca.pem"))
    ctx.check_hostname = False
    with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
        t = ctx.wrap_socket(raw, server_hostname="api.anthropic.com")
        t.sendall(b"GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n")
        if t.recv(4096) == b"":
            raise ConnectionResetError("closed")
    # A client that does not trust Sluice's CA (it trusts another one).
    raw = connect(s, "api.openai.com:443")
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context(cafile=str(certs / "ca.pem")).wrap_socket(raw, server_hostname="api.openai.com")
    import time
    deadline = time.monotonic() + 5
    while s.metric('sluice_intercepts_total{result="failed"}') < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s.metric('sluice_intercepts_total{result="failed"}') == 3
    assert s.proc.poll() is None
    # The next client is served normally.
    c = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-x",
                      http_client=client(s, sluice_ca), max_retries=0)
    assert c.chat.completions.create(model="gpt-4o", messages=MSG).choices


# --- Proxy-Authorization -------------------------------------------------------------------

PROXY_USERS = """
  proxy_auth: required
  proxy_users:
    - user: checkout
      password: proxy-password-1
      tenant: shop
      app: checkout
"""


def connect_status(s, extra_headers=""):
    raw, _, head = proxy_connect(s, "api.openai.com:443", extra_headers)
    raw.close()
    return head.decode(errors="replace")


def test_proxy_authorization_maps_to_an_identity_and_bad_credentials_get_407(
        sluice_factory, mock, sluice_ca):
    s = start(sluice_factory, mock, sluice_ca, extra=PROXY_USERS)
    missing = connect_status(s)
    assert missing.startswith("HTTP/1.1 407") and 'Proxy-Authenticate: Basic realm="sluice"' in missing
    wrong = connect_status(s, "Proxy-Authorization: Basic Y2hlY2tvdXQ6d3Jvbmc=\r\n")  # checkout:wrong
    assert wrong.startswith("HTTP/1.1 407")
    garbage = connect_status(s, "Proxy-Authorization: Basic %%%\r\n")
    assert garbage.startswith("HTTP/1.1 407")
    assert s.metric('sluice_client_errors_total{reason="auth_refused"}') == 3
    assert s.proc.poll() is None


def test_proxy_authorization_names_the_identity_of_the_calls(sluice_factory, mock, sluice_ca):
    s = start(sluice_factory, mock, sluice_ca, extra=PROXY_USERS)
    ctx = ssl.create_default_context(cafile=str(sluice_ca / "ca.pem"))
    http = httpx.Client(proxy=f"http://checkout:proxy-password-1@127.0.0.1:{s.port}", verify=ctx, timeout=20)
    c = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-own-provider-key",
                      http_client=http, max_retries=0)
    assert c.chat.completions.create(model="gpt-4o", messages=MSG).choices
    (call,) = s.wait_calls(1)
    # The identity comes from the proxy credentials (the key is the application's own).
    assert call["identity"]["tenant"] == "shop" and call["identity"]["app"] == "checkout"
    assert s.proc.poll() is None


# --- TLS session resumption ----------------------------------------------------------------

def test_a_second_connection_resumes_the_tls_session(sluice_factory, mock, sluice_ca):
    s = start(sluice_factory, mock, sluice_ca)
    ctx = ssl.create_default_context(cafile=str(sluice_ca / "ca.pem"))
    session = None
    reused = []
    for _ in range(2):
        raw = connect(s, "api.openai.com:443")
        t = ctx.wrap_socket(raw, server_hostname="api.openai.com", session=session)
        t.sendall(b"GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer sk-x\r\n"
                  b"Connection: close\r\n\r\n")
        body = b""
        while True:
            chunk = t.recv(65536)
            if not chunk:
                break
            body += chunk
        assert body.startswith(b"HTTP/1.1 200"), body[:200]
        reused.append(t.session_reused)
        session = t.session  # TLS 1.3: the ticket arrived with the response
        t.close()
    assert reused == [False, True]


# --- Transparent mode (iptables REDIRECT inside a network namespace) -----------------------
#
# Everything runs inside a namespace this test creates: sluice-mock, a TLS echo server on a
# veth address, Sluice (root, so deploy/k8s/transparent/sluice-iptables.sh exempts it by uid),
# and the clients (uid 65534, so their HTTPS to port 443 is redirected into Sluice). The
# namespace's /etc/hosts (ip netns exec mounts /etc/netns/NAME/hosts) sends the provider hosts
# to the veth address, so the real openai SDK runs unchanged: no base URL, no proxy.

import json
import os
import pathlib
import shutil
import signal
import tempfile
import textwrap
import time

from conftest import ROOT, SCHEMAS, stop, wait_for_file

NS_ADDR = "10.231.0.2"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
VENV_PY = str(pathlib.Path(os.sys.executable))

ECHO_SERVER = textwrap.dedent("""
    import socket, ssl, sys, threading
    cert, key, host, port_file = sys.argv[1:5]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.create_server((host, 443))
    open(port_file, "w").write("443")
    def serve(c):
        try:
            with ctx.wrap_socket(c, server_side=True) as t:
                while data := t.recv(65536):
                    t.sendall(data)
        except (OSError, ssl.SSLError):
            pass
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
""")


def _run(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=30)


class Namespace:
    def __init__(self):
        self.name = f"sluice-t{os.getpid()}"
        self.procs = []
        self.hosts_dir = pathlib.Path("/etc/netns") / self.name

    def exec(self, *args):
        return ["ip", "netns", "exec", self.name, *args]

    def setup(self):
        _run("ip", "netns", "add", self.name)
        _run("ip", "-n", self.name, "link", "set", "lo", "up")
        # Both ends of the veth pair inside the namespace: nothing outside it changes.
        _run("ip", "-n", self.name, "link", "add", "sl0", "type", "veth", "peer", "name", "sl1")
        _run("ip", "-n", self.name, "addr", "add", "10.231.0.1/24", "dev", "sl0")
        _run("ip", "-n", self.name, "addr", "add", f"{NS_ADDR}/24", "dev", "sl1")
        _run("ip", "-n", self.name, "link", "set", "sl0", "up")
        _run("ip", "-n", self.name, "link", "set", "sl1", "up")
        self.hosts_dir.mkdir(parents=True, exist_ok=True)
        (self.hosts_dir / "hosts").write_text(
            f"127.0.0.1 localhost\n{NS_ADDR} api.openai.com api.anthropic.com api.mistral.ai echo.sluice.test\n")

    def spawn(self, args, **kw):
        p = subprocess.Popen(self.exec(*args), **kw)
        self.procs.append(p)
        return p

    def teardown(self):
        for p in reversed(self.procs):
            stop(p)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.hosts_dir, ignore_errors=True)


def _why_no_netns():
    if os.geteuid() != 0:
        return "needs root to create a network namespace and iptables rules"
    for tool in ("ip", "iptables", "setpriv"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (deploy/setup.sh installs iptables)"
    probe = f"sluice-probe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"the kernel or container forbids network namespaces: {r.stderr.strip()}"
    try:
        r = subprocess.run(["ip", "netns", "exec", probe, "iptables", "-t", "nat", "-A", "OUTPUT",
                            "-p", "tcp", "--dport", "443", "-m", "owner", "!", "--uid-owner", "0",
                            "-j", "REDIRECT", "--to-ports", "1"], capture_output=True, text=True)
        if r.returncode != 0:
            return f"iptables nat REDIRECT is not available: {r.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@pytest.fixture(scope="module")
def transparent(tmp_path_factory, sluice_ca, certs):
    why = _why_no_netns()
    if why:
        pytest.skip(f"transparent mode test skipped: {why}")
    ns = Namespace()
    ns.setup()
    try:
        # Files the uid-65534 clients read live in a world-readable directory.
        pub = pathlib.Path(tempfile.mkdtemp(prefix="sluice-transparent-"))
        pub.chmod(0o755)
        shutil.copy(sluice_ca / "ca.pem", pub / "sluice-ca.pem")
        shutil.copy(certs / "ca.pem", pub / "test-ca.pem")
        for f in pub.iterdir():
            f.chmod(0o644)
        d = tmp_path_factory.mktemp("transparent")
        mock_port_file = d / "mock.port"
        mock = ns.spawn([str(build_dir() / "mock" / "sluice-mock"), "--listen", "127.0.0.1:0",
                         "--threads", "2", "--tls-cert", str(certs / "server.pem"),
                         "--tls-key", str(certs / "server.key"), "--port-file", str(mock_port_file)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mock_port = int(wait_for_file(mock_port_file, mock).strip())
        (d / "echo.py").write_text(ECHO_SERVER)
        echo = ns.spawn([VENV_PY, str(d / "echo.py"), str(certs / "server.pem"), str(certs / "server.key"),
                         NS_ADDR, str(d / "echo.port")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_file(d / "echo.port", echo)

        events = d / "events.jsonl"
        upstream = lambda name: f"""
  {name}:
    provider: {name}
    url: https://mock.sluice.test
    connect_to: 127.0.0.1:{mock_port}
    ca_file: {certs / 'ca.pem'}
    first_byte_timeout: 3s"""
        (d / "sluice.yaml").write_text(f"""
listener:
  address: 127.0.0.1:0
  admin_address: 127.0.0.1:0
  workers: 2
  drain_timeout: 5s
  header_timeout: 2s
upstreams:{upstream('openai')}{upstream('anthropic')}
intercept:
  ca_cert: {sluice_ca / 'ca.pem'}
  ca_key: {sluice_ca / 'ca-key.pem'}
  hosts: [api.openai.com, api.anthropic.com]
  transparent_address: 127.0.0.1:0
  allow_private: [10.231.0.0/24]
sinks:
  jsonl:
    events_path: {events}
""")
        log = open(d / "sluice.log", "w")
        sluice = ns.spawn([str(build_dir() / "proxy" / "sluice"), "--config", str(d / "sluice.yaml"),
                           "--ready-file", str(d / "ready.json")], stdout=log, stderr=subprocess.STDOUT)
        ready = json.loads(wait_for_file(d / "ready.json", sluice, log=d / "sluice.log"))
        assert ready["transparent_port"] > 0
        # The deployed init-container script installs the redirect, exempting Sluice (uid 0).
        r = subprocess.run(ns.exec(str(ROOT / "deploy" / "k8s" / "transparent" / "sluice-iptables.sh")),
                           env={**os.environ, "SLUICE_UID": "0",
                                "SLUICE_TRANSPARENT_PORT": str(ready["transparent_port"])},
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        # Idempotent: a second run replaces the rules instead of failing or duplicating them.
        r = subprocess.run(ns.exec(str(ROOT / "deploy" / "k8s" / "transparent" / "sluice-iptables.sh")),
                           env={**os.environ, "SLUICE_UID": "0",
                                "SLUICE_TRANSPARENT_PORT": str(ready["transparent_port"])},
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        rules = _run(*ns.exec("iptables", "-t", "nat", "-S")).stdout
        assert rules.count("-j SLUICE_OUTPUT") == 1, rules

        class T:
            pass
        t = T()
        t.ns, t.pub, t.events, t.ready, t.proc, t.log = ns, pub, events, ready, sluice, d / "sluice.log"

        def client(code, env=None):
            (pub / "client.py").write_text(textwrap.dedent(code))
            (pub / "client.py").chmod(0o644)
            return subprocess.run(ns.exec(*NOBODY, VENV_PY, str(pub / "client.py")),
                                  env={"PATH": os.environ["PATH"], "HOME": "/tmp", **(env or {})},
                                  capture_output=True, text=True, timeout=60)

        def metric(series):
            text = _run(*ns.exec("curl", "-s", f"http://127.0.0.1:{ready['admin_port']}/metrics")).stdout
            for line in text.splitlines():
                name, _, value = line.rpartition(" ")
                if name == series:
                    return float(value)
            return 0.0

        def records():
            if not events.exists():
                return []
            return [json.loads(x) for x in events.read_text().splitlines() if x.strip()]

        t.client, t.metric, t.records = client, metric, records
        yield t
        sluice.send_signal(signal.SIGTERM)
        sluice.wait(timeout=15)
        assert sluice.returncode == 0, (d / "sluice.log").read_text()[-3000:]
        for rec in records():
            SCHEMAS[rec["type"]].validate(rec)
        shutil.rmtree(pub, ignore_errors=True)
    finally:
        ns.teardown()


def test_transparent_openai_sdk_unchanged_is_intercepted(transparent):
    r = transparent.client("""
        import openai
        c = openai.OpenAI(api_key="sk-transparent", max_retries=0)   # no base URL, no proxy
        msg = [{"role": "user", "content": "hi"}]
        a = c.chat.completions.create(model="gpt-4o", messages=msg).choices[0].message.content
        b = "".join(ch.choices[0].delta.content or "" for ch in
                    c.chat.completions.create(model="gpt-4o", messages=msg, stream=True) if ch.choices)
        assert a and a == b, (a, b)
        print("ok")
    """, env={"SSL_CERT_FILE": str(transparent.pub / "sluice-ca.pem")})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
    deadline = time.monotonic() + 10
    calls = []
    while time.monotonic() < deadline and len(calls) < 2:
        calls = [e for e in transparent.records() if e["type"] == "call"]
        time.sleep(0.05)
    assert {e["stream"] for e in calls} == {False, True}
    assert all(e["provider"] == "openai" and e["status"] == 200 for e in calls)
    assert transparent.metric('sluice_intercepts_total{result="ok"}') >= 1


def test_transparent_other_host_is_a_blind_tunnel_to_the_original_destination(transparent):
    before = transparent.metric('sluice_tunnels_total{result="ok"}')
    # The echo server's own certificate (test CA, mock.sluice.test) arrives end to end.
    r = transparent.client(f"""
        import socket, ssl
        ctx = ssl.create_default_context(cafile="{transparent.pub / 'test-ca.pem'}")
        with ctx.wrap_socket(socket.create_connection(("{NS_ADDR}", 443), timeout=10),
                             server_hostname="mock.sluice.test") as t:
            t.sendall(b"ping through the tunnel")
            print(t.recv(100).decode())
    """)
    assert r.returncode == 0 and r.stdout.strip() == "ping through the tunnel", r.stderr[-2000:]
    assert transparent.metric('sluice_tunnels_total{result="ok"}') == before + 1
    # No SNI at all (a connection by address): also a tunnel to where the client was going.
    r = transparent.client(f"""
        import socket, ssl
        ctx = ssl.create_default_context(cafile="{transparent.pub / 'test-ca.pem'}")
        ctx.check_hostname = False
        with ctx.wrap_socket(socket.create_connection(("{NS_ADDR}", 443), timeout=10)) as t:
            t.sendall(b"no sni")
            print(t.recv(100).decode())
    """)
    assert r.returncode == 0 and r.stdout.strip() == "no sni", r.stderr[-2000:]


def test_transparent_shadow_ai_host_raises_an_alert(transparent):
    r = transparent.client(f"""
        import socket, ssl
        ctx = ssl.create_default_context(cafile="{transparent.pub / 'test-ca.pem'}")
        ctx.check_hostname = False   # the echo server stands in for api.mistral.ai
        with ctx.wrap_socket(socket.create_connection(("api.mistral.ai", 443), timeout=10),
                             server_hostname="api.mistral.ai") as t:
            t.sendall(b"x")
            print(t.recv(10).decode())
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    deadline = time.monotonic() + 10
    alerts = []
    while time.monotonic() < deadline and not alerts:
        alerts = [e for e in transparent.records()
                  if e["type"] == "alert" and e["alert_type"] == "shadow_ai.detected"]
        time.sleep(0.05)
    assert alerts, transparent.records()
    assert alerts[0]["details"] == {"host": "api.mistral.ai", "port": 443}
    assert alerts[0]["message"].startswith("transparent connection")


def test_transparent_bad_input_closes_cleanly_and_counts(transparent):
    failed = transparent.metric('sluice_intercepts_total{result="failed"}')
    refused = transparent.metric('sluice_tunnels_total{result="refused"}')
    r = transparent.client(f"""
        import socket
        def closed(s):
            s.settimeout(5)
            try:
                return s.recv(100) == b""
            except ConnectionResetError:
                return True
        # Plain HTTP instead of a ClientHello.
        s = socket.create_connection(("{NS_ADDR}", 443), timeout=10)
        s.sendall(b"GET / HTTP/1.1\\r\\nHost: api.openai.com\\r\\n\\r\\n")
        assert closed(s)
        # A TLS record header announcing a ClientHello, then garbage.
        s = socket.create_connection(("{NS_ADDR}", 443), timeout=10)
        s.sendall(bytes([22, 3, 1, 0, 8, 2, 0, 0, 4, 0, 0, 0, 0]))
        assert closed(s)
        # Straight to the transparent port, not redirected: refused (it would loop).
        s = socket.create_connection(("127.0.0.1", {transparent.ready['transparent_port']}), timeout=10)
        assert closed(s)
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
    # A client that does not trust Sluice's CA fails its handshake.
    r = transparent.client(f"""
        import socket, ssl
        ctx = ssl.create_default_context(cafile="{transparent.pub / 'test-ca.pem'}")
        try:
            ctx.wrap_socket(socket.create_connection(("{NS_ADDR}", 443), timeout=10),
                            server_hostname="api.openai.com")
        except ssl.SSLCertVerificationError:
            print("refused")
    """)
    assert r.stdout.strip() == "refused", r.stderr[-2000:]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and transparent.metric('sluice_intercepts_total{result="failed"}') < failed + 3:
        time.sleep(0.05)
    assert transparent.metric('sluice_intercepts_total{result="failed"}') == failed + 3
    assert transparent.metric('sluice_tunnels_total{result="refused"}') == refused + 1
    assert transparent.proc.poll() is None


@pytest.mark.parametrize("section, message", [
    ("  transparent_address: 127.0.0.1:8443\n", "transparent mode needs intercept.ca_cert"),
    ("  transparent_address: nowhere\n", "expected host:port"),
    ("  proxy_auth: required\n", "intercept.proxy_users is empty"),
    ("  proxy_auth: sometimes\n", "proxy_auth"),
    ("  proxy_users:\n    - {user: a, password: short}\n", "at least 12 characters"),
    ("  proxy_users:\n    - {user: 'a:b', password: long-enough-password}\n", "without ':'"),
    ("  proxy_users:\n    - {user: a, password: long-enough-password}\n"
     "    - {user: a, password: long-enough-password}\n", "listed twice"),
    ("  proxy_users:\n    - {user: a}\n", "password"),
])
def test_bad_intercept_config_is_refused_with_the_key_named(tmp_path, section, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("intercept:\n" + section)
    r = subprocess.run([str(build_dir() / "proxy" / "sluice"), "check-config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and message in r.stdout + r.stderr, r.stdout + r.stderr
    assert "long-enough-password" not in r.stdout + r.stderr  # a password never shows
