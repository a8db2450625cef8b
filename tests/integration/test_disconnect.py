"""A client that goes away cancels the upstream call at once: the mock sees its connection
closed within 500 ms, both while waiting for the first byte and mid-stream. The distribution
of the measured delays is printed (pytest -s) and appended to $SLUICE_REPORT_DIR if set."""
import json
import os
import socket
import statistics
import time

import pytest

N = 8


def open_stream(sluice, headers: dict) -> socket.socket:
    body = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}'
    hdr = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    s = socket.create_connection(("127.0.0.1", sluice.port), timeout=10)
    s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-x\r\n"
               "Content-Type: application/json\r\n" + hdr +
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    return s


def wait_closed_record(mock, marker, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in mock.requests():
            if r["headers"].get("x-test-marker") == marker and r.get("t_closed_us"):
                return r
        time.sleep(0.02)
    raise AssertionError(f"mock never saw the connection of {marker} close")


def report(name, delays_ms):
    line = {"test": name, "n": len(delays_ms), "p50_ms": statistics.median(delays_ms),
            "max_ms": max(delays_ms), "all_ms": [round(d, 1) for d in delays_ms]}
    print(json.dumps(line))
    d = os.environ.get("SLUICE_REPORT_DIR")
    if d:
        with open(os.path.join(d, "disconnect.jsonl"), "a") as f:
            f.write(json.dumps(line) + "\n")


@pytest.mark.parametrize("phase", ["before_first_byte", "mid_stream"])
def test_client_disconnect_cancels_upstream(sluice, mock, phase):
    delays = []
    for i in range(N):
        marker = f"{phase}-{i}-{time.time_ns()}"
        headers = {"x-test-marker": marker}
        if phase == "before_first_byte":
            headers["x-mock-ttft-ms"] = "5000"
        else:
            headers.update({"x-mock-token-delay-ms": "200", "x-mock-output-tokens": "100"})
        s = open_stream(sluice, headers)
        if phase == "mid_stream":
            got = b""
            while b"tok1" not in got:  # a few events have arrived
                got += s.recv(4096)
        else:
            time.sleep(0.3)
        closed_at = time.time()
        s.close()
        rec = wait_closed_record(mock, marker)
        delays.append((rec["t_closed_us"] / 1e6 - closed_at) * 1000)
    report(phase, delays)
    assert max(delays) < 500, delays
    calls = sluice.wait_calls(N)
    assert sum(1 for c in calls if (c["error"] or {}).get("class") == "client_cancelled") == N
