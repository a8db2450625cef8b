"""Base-URL mode over https: with listener.tls_cert/tls_key the API listener speaks TLS; the
real SDKs call it with the certificate's CA trusted, streamed and not; a client that speaks
plain HTTP to it is closed and counted."""
import socket
import ssl

import httpx2 as httpx
import openai

from conftest import default_config

MSG = [{"role": "user", "content": "hi"}]


def start(sluice_factory, mock, certs):
    text = default_config(mock, "@EVENTS@").replace(
        "  drain_timeout: 5s\n",
        f"  drain_timeout: 5s\n  tls_cert: {certs / 'server.pem'}\n  tls_key: {certs / 'server.key'}\n", 1)
    return sluice_factory(config_text=text)


def test_sdk_over_the_tls_listener(sluice_factory, mock, certs):
    s = start(sluice_factory, mock, certs)
    http = httpx.Client(verify=ssl.create_default_context(cafile=str(certs / "ca.pem")))
    c = openai.OpenAI(base_url=f"https://127.0.0.1:{s.port}/v1", api_key="sk-x", http_client=http,
                      max_retries=0)
    assert c.chat.completions.create(model="gpt-4o", messages=MSG).choices
    text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model="gpt-4o", messages=MSG, stream=True) if ch.choices)
    assert text
    calls = s.wait_calls(2)
    assert all(e["status"] == 200 and e["error"] is None for e in calls)


def test_plain_http_to_the_tls_listener_is_closed_and_counted(sluice_factory, mock, certs):
    s = start(sluice_factory, mock, certs)
    raw = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    raw.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = raw.recv(4096)
    except ConnectionResetError:
        data = b""
    assert not data.startswith(b"HTTP/1.1 200")
    raw.close()
    import time
    deadline = time.monotonic() + 5
    while s.metric("sluice_listener_tls_handshake_failures_total") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s.metric("sluice_listener_tls_handshake_failures_total") == 1
    assert s.proc.poll() is None
