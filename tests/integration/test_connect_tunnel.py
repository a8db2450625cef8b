"""HTTPS_PROXY mode, first part: CONNECT tunnels. A permitted CONNECT carries TLS end to end
(curl, the openai SDK and a TLS echo server through it); private destinations are refused
unless allowed; `tunnel: deny` refuses every tunnel; malformed targets get 400; a CONNECT to a
known AI API host raises a shadow-AI alert. Interception (TLS termination) is not wired yet."""
import socket
import ssl
import subprocess
import threading

import httpx2 as httpx
import openai
import pytest

from conftest import proxy_connect

ALLOW_LOOPBACK = "intercept:\n  allow_private: [127.0.0.0/8]\n"


connect = proxy_connect  # (sluice, target) -> (socket, status, head)


@pytest.fixture
def tls_echo(certs):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs / "server.pem", certs / "server.key")
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            try:
                with ctx.wrap_socket(c, server_side=True) as t:
                    while data := t.recv(4096):
                        t.sendall(data)
            except (OSError, ssl.SSLError):
                pass

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join(2)
    srv.close()


def test_tunnel_carries_tls_end_to_end(sluice_factory, certs, tls_echo):
    s = sluice_factory(extra=ALLOW_LOOPBACK)
    raw, status, head = connect(s, f"127.0.0.1:{tls_echo}")
    assert status == 200, head
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    with ctx.wrap_socket(raw, server_hostname="mock.sluice.test") as t:
        for msg in (b"ping", b"x" * 50000):
            t.sendall(msg)
            got = b""
            while len(got) < len(msg):
                got += t.recv(65536)
            assert got == msg
    assert s.metric('sluice_tunnels_total{result="ok"}') == 1
    assert s.metric('sluice_tunnel_bytes_total{direction="up"}') > 50000


def test_curl_and_the_openai_sdk_through_the_tunnel(sluice_factory, mock):
    s = sluice_factory(extra=ALLOW_LOOPBACK)
    proxy = f"http://127.0.0.1:{s.port}"
    r = subprocess.run(["curl", "-sS", "--fail", "--proxy", proxy, "--cacert", str(mock.ca),
                        "-H", "Authorization: Bearer sk-x", "-H", "Content-Type: application/json",
                        "-d", '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}',
                        f"{mock.url}/v1/chat/completions"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert '"chat.completion"' in r.stdout
    http = httpx.Client(proxy=proxy, verify=ssl.create_default_context(cafile=str(mock.ca)))
    c = openai.OpenAI(base_url=f"{mock.url}/v1", api_key="sk-x", http_client=http, max_retries=0)
    assert c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).choices
    text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True) if ch.choices)
    assert text
    assert s.metric('sluice_tunnels_total{result="ok"}') >= 2


def test_private_destinations_are_refused_by_default(sluice_factory, tls_echo):
    s = sluice_factory()
    for target in (f"127.0.0.1:{tls_echo}", f"localhost:{tls_echo}", f"[::1]:{tls_echo}"):
        raw, status, head = connect(s, target)
        raw.close()
        assert status == 403, (target, head)
        assert b"x-sluice-error: tunnel_refused" in head
    assert s.metric('sluice_tunnels_total{result="refused"}') == 3


def test_deny_policy_refuses_every_tunnel(sluice_factory, tls_echo):
    s = sluice_factory(extra="intercept:\n  tunnel: deny\n  allow_private: [127.0.0.0/8]\n")
    raw, status, head = connect(s, f"127.0.0.1:{tls_echo}")
    raw.close()
    assert status == 403 and b"intercept.tunnel: deny" in head


@pytest.mark.parametrize("target", ["example.com", "example.com:0", "example.com:99999", ":443",
                                    "a b:443", "[::1:443", "host:44x3"])
def test_malformed_connect_targets_get_400(sluice, target):
    raw, status, head = connect(sluice, target)
    raw.close()
    assert status == 400, (target, head)
    assert sluice.proc.poll() is None


def test_shadow_ai_host_raises_an_alert(sluice_factory):
    s = sluice_factory(extra="intercept:\n  ai_hosts: [llm.shadow.invalid]\n")
    raw, status, head = connect(s, "llm.shadow.invalid:443")  # .invalid never resolves
    raw.close()
    assert status == 502
    deadline = __import__("time").monotonic() + 5
    alerts = []
    while not alerts and __import__("time").monotonic() < deadline:
        alerts = [e for e in s.events() if e.get("type") == "alert"]
    assert alerts and alerts[0]["alert_type"] == "shadow_ai.detected"
    assert alerts[0]["details"] == {"host": "llm.shadow.invalid", "port": 443}


def test_bad_intercept_config_is_refused(sluice_factory, mock, workdir):
    from conftest import default_config, build_dir
    cfg = workdir / "bad-intercept.yaml"
    cfg.write_text(default_config(mock, workdir / "ev.jsonl", "intercept:\n  allow_private: [10.0.0.0/33]\n  tunnel: maybe\n"))
    r = subprocess.run([str(build_dir() / "proxy" / "sluice"), "check-config", str(cfg)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "intercept.allow_private" in r.stderr and "intercept.tunnel" in r.stderr
