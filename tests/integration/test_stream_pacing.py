"""Streamed events reach the client as the provider sends them: a paced stream is not held
back (each event arrives about when the mock sent it), and a burst the provider sent at once
arrives complete and in order."""
import socket
import time

BODY = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}'


def stream_events(sluice, headers):
    hdr = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    s = socket.create_connection(("127.0.0.1", sluice.port), timeout=10)
    s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-x\r\n"
               "Content-Type: application/json\r\nConnection: close\r\n" + hdr +
               f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY)
    arrivals, buf = [], b""
    while True:
        data = s.recv(65536)
        if not data:
            break
        now = time.monotonic()
        buf += data
        arrivals.extend([now] * data.count(b"data: "))
    s.close()
    return arrivals, buf


def test_paced_events_are_not_held_back(sluice):
    arrivals, buf = stream_events(sluice, {"x-mock-token-delay-ms": "150", "x-mock-output-tokens": "6"})
    assert buf.rstrip().endswith(b"0\r\n\r\n".rstrip()) and b"data: [DONE]" in buf
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    # Six paced content events: at least five gaps of about 150 ms (held-back events would
    # arrive together, with gaps near zero).
    assert sum(1 for g in gaps if g > 0.1) >= 5, gaps


def test_burst_arrives_complete_and_in_order(sluice, mock):
    arrivals, buf = stream_events(sluice, {"x-mock-output-tokens": "200"})
    text = buf.decode()
    # Events in order: tok0, tok1, ... as the mock generated them.
    idx = [text.find(f"tok{i}") for i in range(0, 200, 37)]
    assert all(i >= 0 for i in idx) and idx == sorted(idx), idx
    assert text.count("data: ") == len(arrivals) and b"data: [DONE]" in buf
