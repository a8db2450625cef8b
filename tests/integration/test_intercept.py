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

from conftest import build_dir, default_config

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
    raw = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    raw.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(4096)
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
