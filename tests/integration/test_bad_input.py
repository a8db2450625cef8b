"""Bad input from clients: the provider's error shape, a counter, and nothing forwarded that
Sluice did not check."""
import gzip
import socket

import httpx2 as httpx
import pytest

OA = {"content-type": "application/json", "authorization": "Bearer sk-x"}
AN = {"content-type": "application/json", "x-api-key": "sk-ant-x", "anthropic-version": "2023-06-01"}


def post(sluice, body, headers=OA, path="/v1/chat/completions"):
    return httpx.post(f"{sluice.url}{path}", content=body, headers=headers, timeout=10)


def test_oversized_body_413_openai_shape(sluice):
    r = post(sluice, b'{"model":"m","messages":[{"role":"user","content":"' + b"a" * (2 << 20) + b'"}]}')
    assert r.status_code == 413
    assert r.json()["error"]["message"].startswith("sluice: ")
    assert r.headers["x-sluice-error"] == "client_body_too_large"
    assert sluice.metric('sluice_client_errors_total{reason="body_too_large"}') >= 1


def test_oversized_body_413_anthropic_shape(sluice):
    r = post(sluice, b"x" * (2 << 20), AN, "/v1/messages")
    assert r.status_code == 413
    j = r.json()
    assert j["type"] == "error" and j["error"]["type"] == "request_too_large"


@pytest.mark.parametrize("headers,path", [(OA, "/v1/chat/completions"), (AN, "/v1/messages")])
def test_malformed_json_400(sluice, headers, path):
    r = post(sluice, b'{"model": "gpt-4o", "messages": [', headers, path)
    assert r.status_code == 400
    j = r.json()
    if "anthropic-version" in headers:
        assert j["type"] == "error" and j["error"]["type"] == "invalid_request_error"
    else:
        assert j["error"]["type"] == "invalid_request_error"


def test_unknown_route_404(sluice):
    r = httpx.get(f"{sluice.url}/nope", headers=OA)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_url"
    r = httpx.get(f"{sluice.url}/nope", headers=AN)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


SMUGGLING = [
    b'{"model":"gpt-4o","model":"gpt-4o-mini","messages":[]}',
    b'{"model":"gpt-4o","str\\u0065am":true,"messages":[]}',
    b'{"model":"gpt-4o","stream":false,"messages":[],"stream":true}',
    b'{"model":"gpt-4o","messages":[{"role":"user","content":"a","content":"b"}]}',
    b'{"model":"gpt-4o","messages":[]} {"model":"x"}',
]


@pytest.mark.parametrize("body", SMUGGLING)
def test_smuggled_bodies_refused_and_not_forwarded(sluice, mock, body):
    before = len(mock.requests())
    r = post(sluice, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"].startswith("sluice: ")
    assert len(mock.requests()) == before


def raw_request(sluice, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", sluice.port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except socket.timeout:
            pass
        return b"".join(chunks)


def test_content_length_with_transfer_encoding(sluice, mock):
    before = len(mock.requests())
    body = b'{"model":"gpt-4o","messages":[]}'
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(body)).encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
           + hex(len(body))[2:].encode() + b"\r\n" + body + b"\r\n0\r\n\r\n")
    resp = raw_request(sluice, req)
    assert resp.startswith(b"HTTP/1.1 400")
    assert len(mock.requests()) == before


def test_compressed_body_415(sluice, mock):
    before = len(mock.requests())
    r = post(sluice, gzip.compress(b'{"model":"gpt-4o","messages":[]}'), {**OA, "content-encoding": "gzip"})
    assert r.status_code == 415
    assert len(mock.requests()) == before


def test_header_caps(sluice):
    resp = raw_request(sluice, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 431")
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    resp = raw_request(sluice, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert resp.startswith(b"HTTP/1.1 431")


def test_garbage_request_line(sluice):
    resp = raw_request(sluice, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n")
    assert resp == b"" or resp.startswith(b"HTTP/1.1 400")
    # Still serving.
    assert httpx.get(f"{sluice.admin}/healthz").status_code == 200


def test_slowloris_dropped(sluice_factory, mock, workdir):
    from conftest import default_config
    import time
    sl = sluice_factory(default_config(mock, workdir / "unused.jsonl").replace(
        "drain_timeout: 5s", "drain_timeout: 5s\n  header_timeout: 1s"))
    with socket.create_connection(("127.0.0.1", sl.port), timeout=5) as c:
        c.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 4:
            try:
                c.sendall(b"X-a: b\r\n")
            except OSError:
                closed = True
                break
            c.settimeout(0.3)
            try:
                if c.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
        assert closed, "a client trickling its headers must be dropped after header_timeout"
        assert time.monotonic() - t0 < 3
    assert sl.metric('sluice_client_errors_total{reason="header_timeout"}') >= 1
