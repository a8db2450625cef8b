"""A request filter suspended on an asynchronous lookup (the rate limit filter waiting on
Redis) is cancelled the moment its client disconnects: the call ends as client_cancelled at
once, not when the lookup times out, and the provider never sees the request. Redis is a real
redis-server, frozen with SIGSTOP to make the lookup hang."""
import signal
import socket
import time

import openai

from test_limits import Redis, limits_config

BODY = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'


def test_client_disconnect_cancels_a_suspended_lookup(sluice_factory, mock, workdir):
    r = Redis(workdir)
    try:
        rl = ("    store:\n      backend: redis\n      key_prefix: \"cancel:\"\n"
              f"      redis: {{address: 127.0.0.1:{r.port}, command_timeout: 10s}}\n"
              "    rules:\n      - {name: rpm, requests_per_minute: 100000}\n")
        s = sluice_factory(limits_config(mock, ratelimit=rl))
        c = openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-x", max_retries=0)
        c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "warm"}])
        before = len(mock.requests())

        r.proc.send_signal(signal.SIGSTOP)  # every Redis command now hangs
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: " + str(len(BODY)).encode() +
                     b"\r\n\r\n" + BODY)
        time.sleep(0.5)  # the call is suspended in the filter, waiting on Redis
        sock.close()
        closed = time.monotonic()
        calls = s.wait_calls(2, timeout=5)
        waited = time.monotonic() - closed
        ev = calls[-1]
        assert ev["error"] == {"class": "client_cancelled", "source": "client"}, ev["error"]
        assert waited < 3, f"the event came {waited:.1f} s after the disconnect"
        assert ev["timing_us"]["total"] < 5_000_000  # far below the 10 s command timeout
        assert len(mock.requests()) == before  # the provider never saw it
    finally:
        r.proc.send_signal(signal.SIGCONT)
        r.kill()
