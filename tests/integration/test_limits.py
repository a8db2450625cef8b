"""Budgets and rate limits (issue 5) through real Sluice processes, a real redis-server started
here on a free port, the mock provider, and the official SDKs for the rejection shapes.

The races: many parallel first requests against a budget that admits exactly N, with the mock
holding every admitted response (x-mock-header-delay-ms) until all have been decided, must
admit exactly N, on one replica (in-process store) and across three replicas sharing Redis.
"""
import asyncio
import json
import math
import os
import pathlib
import socket
import subprocess
import tempfile
import time

import anthropic
import httpx2 as httpx
import openai
import pytest

from conftest import default_config, stop

# The test price: 1 USD per 1M output tokens = 1 micro-USD per output token; input is free.
# gpt-4o and claude-sonnet-4-5 are priced by the built-in table (conf/prices.yaml).
PRICES = """
    default_price: {input: 10, output: 30}
    prices:
      models:
        "race-model": {input: 0, output: 1}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server on a free port; kill() and start() simulate an outage."""

    def __init__(self, workdir):
        self.port = free_port()
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="redis", dir=workdir))
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.cli("PING") == "PONG":
                    return
            except (OSError, subprocess.CalledProcessError):
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        stop(self.proc, sig=9)

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], check=True,
                              capture_output=True, text=True, timeout=5).stdout.strip()

    def hget_int(self, key, field):
        v = self.cli("HGET", key, field)
        return int(v) if v else 0


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    r = Redis(tmp_path_factory.mktemp("redis"))
    yield r
    r.kill()


def store(redis=None, prefix="t:", command_timeout="300ms"):
    if redis is None:
        return "    store: {backend: local}\n"
    return (f"    store:\n      backend: redis\n      key_prefix: \"{prefix}\"\n"
            f"      redis: {{address: 127.0.0.1:{redis.port}, command_timeout: {command_timeout}, "
            f"reconnect_backoff: 200ms}}\n")


# The load tests (hundreds of calls at once on three ASan builds) give Redis commands more
# time: a timeout there fails a batch by its limit's policy, which these tests do not test.
LOADED = "2s"


def limits_config(mock, budget="", ratelimit="", chain=None):
    chain = chain or [n for n, s in (("ratelimit", ratelimit), ("budget", budget)) if s]
    text = f"filters:\n  chain: [{', '.join(chain)}]\n"
    if budget:
        text += "  budget:\n" + budget
    if ratelimit:
        text += "  ratelimit:\n" + ratelimit
    return default_config(mock, "@EVENTS@", extra=text)


def chat_body(model="race-model", max_tokens=100, stream=False, prompt="hi"):
    b = {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": prompt}]}
    if stream:
        b["stream"] = True
        b["stream_options"] = {"include_usage": True}
    return b


async def fire(urls, n, body, headers=None, path="/openai/v1/chat/completions", method="POST"):
    """n concurrent requests spread round-robin over `urls`; returns the status codes."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as c:
        async def one(i):
            h = {"authorization": "Bearer sk-test-race", **(headers or {})}
            url = urls[i % len(urls)] + path
            if method == "GET":
                r = await c.get(url, headers=h)
            else:
                r = await c.post(url, json=body, headers=h)
            return r.status_code
        return await asyncio.gather(*(one(i) for i in range(n)))


def budget_spend(events):
    return sum(e["filters"]["budget"]["cost_micro_usd"] for e in events
               if "budget" in e.get("filters", {}))


RACE_BUDGET = """
    rules:
      - name: race
        usd_per_day: 0.001
"""


def test_race_single_replica_admits_exactly_the_budget(sluice_factory, mock):
    # Each call may cost 100 micro-USD (max_tokens 100 at 1 USD / 1M); the budget is 1000.
    sl = sluice_factory(limits_config(mock, budget=store() + PRICES + RACE_BUDGET))
    codes = asyncio.run(fire([sl.url], 500, chat_body(), {"x-mock-header-delay-ms": "2500"}))
    assert codes.count(200) == 10, sorted(set(codes))
    assert codes.count(429) == 490
    evs = sl.wait_calls(500, timeout=30)
    spend = budget_spend(evs)
    assert 0 < spend <= 1000  # mock's 16 output tokens per call: 160
    assert spend == 10 * 16


def test_race_three_replicas_share_one_redis(sluice_factory, mock, redis):
    cfg = limits_config(mock, budget=store(redis, "race3:", LOADED) + PRICES + RACE_BUDGET)
    replicas = [sluice_factory(cfg) for _ in range(3)]
    codes = asyncio.run(fire([s.url for s in replicas], 500, chat_body(),
                             {"x-mock-header-delay-ms": "2500"}))
    assert codes.count(200) == 10, sorted(set(codes))
    assert codes.count(429) == 490
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(len(s.calls()) for s in replicas) < 500:
        time.sleep(0.1)
    spend = sum(budget_spend(s.calls()) for s in replicas)
    assert spend == 160
    # The settled spend in Redis is the same figure, and no reservation is left behind.
    keys = [k for k in redis.cli("KEYS", "race3:bg:*").split("\n") if k and not k.endswith(":x")]
    assert len(keys) == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and redis.hget_int(keys[0], "u") != 160:
        time.sleep(0.1)
    assert redis.hget_int(keys[0], "u") == 160
    assert redis.hget_int(keys[0], "rs") == 0
    assert redis.hget_int(keys[0], "rb") == 0  # reservations in expiry buckets


def test_graceful_shutdown_waits_for_settlements(sluice_factory, mock, redis):
    # Settlement batches that follow another wait for more calls (here the most, 100 ms):
    # SIGTERM right after the calls end must not lose the settlements still waiting, or their
    # spend would go unrecorded (the reservations expiring instead).
    b = store(redis, "drain:").replace("reconnect_backoff: 200ms",
                                        "reconnect_backoff: 200ms, settle_wait_us: 100000")
    assert "settle_wait_us: 100000" in b
    b += PRICES + """
    rules:
      - name: spend
        usd_per_day: 100
"""
    sl = sluice_factory(limits_config(mock, budget=b))
    codes = asyncio.run(fire([sl.url], 40, chat_body(), {"x-mock-output-tokens": "25"}))
    assert codes == [200] * 40
    pending = sl.metric("sluice_limits_redis_settlements_pending")
    stop(sl.proc)
    assert sl.proc.returncode == 0
    assert pending > 0  # some were still waiting at SIGTERM, so the drain had work to do
    keys = [k for k in redis.cli("KEYS", "drain:bg:*").split("\n") if k and not k.endswith(":x")]
    assert len(keys) == 1
    assert redis.hget_int(keys[0], "u") == 40 * 25
    assert redis.hget_int(keys[0], "rb") == 0


def test_rpm_and_tpm_across_three_replicas(sluice_factory, mock, redis):
    rl = store(redis, "rpm3:", LOADED) + """
    rules:
      - name: rpm
        requests_per_minute: 20
      - name: other-models
        match: {model: "never-*"}
        output_tokens_per_minute: 1
"""
    replicas = [sluice_factory(limits_config(mock, ratelimit=rl)) for _ in range(3)]
    t0 = time.monotonic()
    codes = asyncio.run(fire([s.url for s in replicas], 120, chat_body()))
    elapsed = time.monotonic() - t0
    admitted = codes.count(200)
    # GCRA: a burst of L, then L per minute: at most L + t·L/60 in t seconds.
    assert 20 <= admitted <= 20 + math.ceil(elapsed * 20 / 60), (admitted, elapsed)
    assert codes.count(429) == 120 - admitted

    tpm = store(redis, "tpm3:", LOADED) + """
    rules:
      - name: otpm
        output_tokens_per_minute: 1000
"""
    replicas = [sluice_factory(limits_config(mock, ratelimit=tpm)) for _ in range(3)]
    t0 = time.monotonic()
    # Each call reserves 100 output tokens; held by the mock so that nothing is settled early.
    codes = asyncio.run(fire([s.url for s in replicas], 90, chat_body(max_tokens=100),
                             {"x-mock-header-delay-ms": "2000"}))
    elapsed = time.monotonic() - t0
    admitted = codes.count(200)
    assert 10 <= admitted <= (1000 + math.ceil(elapsed * 1000 / 60)) // 100, (admitted, elapsed)


def expected_openai_cost(prompt, cached, output, price=(2_500_000, 1_250_000, 10_000_000)):
    num = (prompt - cached) * price[0] + cached * price[1] + output * price[2]
    return -(-num // 1_000_000)


def expected_anthropic_cost(inp, read, write, output,
                            price=(3_000_000, 300_000, 3_750_000, 15_000_000)):
    num = inp * price[0] + read * price[1] + write * price[2] + output * price[3]
    return -(-num // 1_000_000)


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_settled_spend_is_exact_for_each_shape(sluice_factory, mock, redis, backend):
    prefix = f"exact-{backend}:"
    b = store(redis if backend == "redis" else None, prefix) + PRICES + """
    rules:
      - name: spend
        usd_per_month: 100
"""
    sl = sluice_factory(limits_config(mock, budget=b))
    headers = {"x-mock-prompt-tokens": "1200", "x-mock-cached-tokens": "1000",
               "x-mock-output-tokens": "37"}
    oc = openai.OpenAI(base_url=f"{sl.url}/openai/v1", api_key="sk-exact", max_retries=0,
                       default_headers=headers)
    oc.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    for _ in oc.chat.completions.create(model="gpt-4o", stream=True,
                                        stream_options={"include_usage": True},
                                        messages=[{"role": "user", "content": "x"}]):
        pass
    # Without include_usage: Sluice asks for usage upstream and strips it on the way back.
    for _ in oc.chat.completions.create(model="gpt-4o", stream=True,
                                        messages=[{"role": "user", "content": "x"}]):
        pass
    ah = {"x-mock-prompt-tokens": "300", "x-mock-cached-tokens": "2000",
          "x-mock-cache-write-tokens": "500", "x-mock-output-tokens": "41"}
    ac = anthropic.Anthropic(base_url=f"{sl.url}/anthropic", api_key="sk-ant-exact", max_retries=0,
                             default_headers=ah)
    ac.messages.create(model="claude-sonnet-4-5", max_tokens=200,
                       messages=[{"role": "user", "content": "x"}])
    with ac.messages.stream(model="claude-sonnet-4-5", max_tokens=200,
                            messages=[{"role": "user", "content": "x"}]) as s:
        for _ in s.text_stream:
            pass
    evs = sl.wait_calls(5)
    o = expected_openai_cost(1200, 1000, 37)
    a = expected_anthropic_cost(300, 2000, 500, 41)
    costs = [e["filters"]["budget"]["cost_micro_usd"] for e in evs]
    assert costs == [o, o, o, a, a], costs
    # The event's own top-level cost is the budget filter's settled cost.
    assert [e["cost_micro_usd"] for e in evs] == [o, o, o, a, a], evs
    for e in evs:
        assert e["filters"]["budget"]["store"] == backend
    if backend == "redis":
        key = [k for k in redis.cli("KEYS", prefix + "bg:*").split("\n") if not k.endswith(":x")][0]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and redis.hget_int(key, "u") != 3 * o + 2 * a:
            time.sleep(0.05)
        assert redis.hget_int(key, "u") == 3 * o + 2 * a
        assert redis.hget_int(key, "rs") == 0
        assert redis.hget_int(key, "rb") == 0


def test_passthrough_and_unmodelled_endpoints_are_limited(sluice_factory, mock):
    rl = store() + """
    rules:
      - name: everything
        requests_per_minute: 2
"""
    sl = sluice_factory(limits_config(mock, ratelimit=rl))
    h = {"authorization": "Bearer sk-pt"}
    assert httpx.get(f"{sl.url}/openai/v1/models", headers=h).status_code != 429
    assert httpx.post(f"{sl.url}/openai/v1/moderations", headers=h,
                      json={"input": "x"}).status_code != 429
    r = httpx.get(f"{sl.url}/openai/v1/models", headers=h)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    r = httpx.post(f"{sl.url}/openai/v1/files", content=b"x",
                   headers={**h, "content-type": "application/octet-stream"})
    assert r.status_code == 429


def test_rejections_in_each_sdks_shape(sluice_factory, mock):
    # 150 micro-USD: one race-model call of 100 output tokens fits, a second one does not.
    b = store() + PRICES + """
    rules:
      - name: small
        usd_per_day: 0.000150
"""
    rl = store() + """
    rules:
      - name: two
        requests_per_minute: 2
"""
    sl = sluice_factory(limits_config(mock, budget=b))
    oc = openai.OpenAI(base_url=f"{sl.url}/openai/v1", api_key="sk-shape", max_retries=0,
                       default_headers={"x-mock-output-tokens": "100"})
    oc.chat.completions.create(model="race-model", max_tokens=100,
                               messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as e:
        oc.chat.completions.create(model="race-model", max_tokens=100,
                                   messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 429
    assert e.value.body["code"] == "insufficient_quota"
    assert e.value.body["type"] == "insufficient_quota"
    assert e.value.response.headers["retry-after"].isdigit()
    ac = anthropic.Anthropic(base_url=f"{sl.url}/anthropic", api_key="sk-ant-shape", max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as e2:
        ac.messages.create(model="race-model", max_tokens=100,
                           messages=[{"role": "user", "content": "x"}])
    assert e2.value.body["error"]["type"] == "rate_limit_error"
    ev = sl.wait_calls(3)
    assert ev[0]["status"] == 200 and ev[0]["filters"]["budget"]["cost_micro_usd"] == 100
    assert all(x["status"] == 429 and x["error"]["class"] == "filter_rejected" for x in ev[1:])
    alerts = sl.wait_alerts(lambda a: len(a) >= 2)
    assert [a["alert_type"] for a in alerts] == ["budget.exhausted", "budget.exhausted"]

    sl2 = sluice_factory(limits_config(mock, ratelimit=rl))
    oc = openai.OpenAI(base_url=f"{sl2.url}/openai/v1", api_key="sk-shape", max_retries=0)
    ok = oc.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert ok.headers["x-ratelimit-limit-requests"] == "2"
    assert ok.headers["x-ratelimit-remaining-requests"] == "1"
    ac = anthropic.Anthropic(base_url=f"{sl2.url}/anthropic", api_key="sk-shape", max_retries=0)
    ac.messages.create(model="claude-sonnet-4-5", max_tokens=10,
                       messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as e3:
        oc.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert e3.value.body["code"] == "rate_limit_exceeded"
    assert e3.value.body["type"] == "requests"
    hd = e3.value.response.headers
    assert hd["x-ratelimit-remaining-requests"] == "0"
    assert hd["x-ratelimit-reset-requests"].endswith("s")
    assert int(hd["retry-after"]) >= 1
    with pytest.raises(anthropic.RateLimitError) as e4:
        ac.messages.create(model="claude-sonnet-4-5", max_tokens=10,
                           messages=[{"role": "user", "content": "x"}])
    h4 = e4.value.response.headers
    assert h4["anthropic-ratelimit-requests-limit"] == "2"
    assert h4["anthropic-ratelimit-requests-remaining"] == "0"
    assert h4["anthropic-ratelimit-requests-reset"].endswith("Z")


def test_client_disconnect_mid_stream_settles_what_was_produced(sluice_factory, mock):
    b = store() + PRICES + """
    rules:
      - name: spend
        usd_per_month: 100
"""
    sl = sluice_factory(limits_config(mock, budget=b))
    body = chat_body(model="gpt-4o", max_tokens=1000, stream=True)
    h = {"authorization": "Bearer sk-dc", "x-mock-output-tokens": "400",
         "x-mock-token-delay-ms": "20", "x-mock-prompt-tokens": "10"}
    got = 0
    with httpx.Client(timeout=30) as c:
        with c.stream("POST", f"{sl.url}/openai/v1/chat/completions", json=body, headers=h) as r:
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    got += 1
                if got >= 20:
                    break
    ev = sl.wait_calls(1, timeout=20)[-1]
    assert ev["error"]["class"] == "client_cancelled"
    bg = ev["filters"]["budget"]
    # Output counted from what was streamed (Sluice's over-estimate, the provider never sent
    # usage): at least the 20 pieces the client read, far below the 1000 reserved.
    assert ev["usage"]["source"] == "estimated"
    produced = ev["usage"]["output_tokens"]
    assert 20 <= produced < 1000
    assert bg["cost_micro_usd"] == expected_openai_cost(ev["usage"]["input_tokens"], 0, produced)
    assert bg["cost_micro_usd"] < bg["reserved_micro_usd"]


def test_redis_outage_follows_each_limits_policy(sluice_factory, mock, workdir):
    r = Redis(workdir)
    try:
        b = store(r, "outage:") + PRICES + """
    rules:
      - name: spend
        usd_per_month: 100
"""
        rl = store(r, "outage:") + """
    rules:
      - name: open
        requests_per_minute: 1000
"""
        closed = sluice_factory(limits_config(mock, budget=b))
        opened = sluice_factory(limits_config(mock, ratelimit=rl))
        oc = openai.OpenAI(base_url=f"{closed.url}/openai/v1", api_key="sk-o", max_retries=0)
        oo = openai.OpenAI(base_url=f"{opened.url}/openai/v1", api_key="sk-o", max_retries=0)
        msg = [{"role": "user", "content": "x"}]
        oc.chat.completions.create(model="gpt-4o", messages=msg)
        oo.chat.completions.create(model="gpt-4o", messages=msg)

        r.kill()
        t0 = time.monotonic()
        for _ in range(5):
            with pytest.raises(openai.InternalServerError) as e:
                oc.chat.completions.create(model="gpt-4o", messages=msg)
            assert e.value.status_code == 503
            assert e.value.body["code"] == "limits_unavailable"
            oo.chat.completions.create(model="gpt-4o", messages=msg)  # fails open
        assert time.monotonic() - t0 < 10  # no hang: each refusal within the command timeout
        assert closed.metric('sluice_filter_events_total{filter="budget",event="failed_closed"}') == 5
        assert opened.metric('sluice_filter_events_total{filter="ratelimit",event="failed_open"}') == 5

        r.start()
        deadline = time.monotonic() + 10
        recovered = False
        attempts = 0
        while time.monotonic() < deadline and not recovered:
            attempts += 1
            try:
                oc.chat.completions.create(model="gpt-4o", messages=msg)
                recovered = True
            except openai.InternalServerError:
                time.sleep(0.2)
        assert recovered
        # One call before the outage, five refused during it, then the attempts to recover.
        ok = [e for e in closed.wait_calls(6 + attempts) if e["status"] == 200]
        assert len(ok) == 2 and all(e["filters"]["budget"]["store"] == "redis" for e in ok)
    finally:
        r.kill()


@pytest.mark.parametrize("section,error", [
    ("  ratelimit:\n    rules:\n      - {name: a, requests_per_minute: -1}\n",
     "filters.ratelimit.rules[0].requests_per_minute"),
    ("  budget:\n    rules:\n      - name: a\n        total_tokens: [{amount: 5, window: fortnight}]\n",
     "filters.budget.rules[0].total_tokens[0].window"),
    ("  budget:\n    rules:\n      - {name: a, usd_per_day: 5}\n",
     "filters.budget: default_price is required"),
])
def test_bad_limits_config_is_refused_at_startup(mock, workdir, section, error):
    d = pathlib.Path(tempfile.mkdtemp(prefix="badcfg", dir=workdir))
    cfg = d / "sluice.yaml"
    cfg.write_text(default_config(mock, d / "events.jsonl", extra="filters:\n" + section))
    from conftest import build_dir
    p = subprocess.run([str(build_dir() / "proxy" / "sluice"), "--config", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert error in p.stdout + p.stderr, p.stdout + p.stderr


def test_long_stream_keeps_its_reservation_past_the_ttl(sluice_factory, mock, redis):
    # Concurrency 1 with reservations that expire after 3 s: a 5 s stream is renewed by its
    # replica (every ttl/3), so a second call during it is still refused.
    rl = """    store:
      backend: redis
      key_prefix: "renew:"
      reservation_ttl: 3s
      redis: {address: 127.0.0.1:%d}
    rules:
      - name: one-at-a-time
        concurrency: 1
""" % redis.port
    sl = sluice_factory(limits_config(mock, ratelimit=rl))
    body = chat_body(model="gpt-4o", max_tokens=200, stream=True)
    h = {"authorization": "Bearer sk-long", "x-mock-output-tokens": "100",
         "x-mock-token-delay-ms": "50"}
    result = {}

    def long_stream():
        with httpx.Client(timeout=30) as c:
            with c.stream("POST", f"{sl.url}/openai/v1/chat/completions", json=body, headers=h) as r:
                result["status"] = r.status_code
                result["lines"] = sum(1 for _ in r.iter_lines())

    import threading
    t = threading.Thread(target=long_stream)
    t.start()
    time.sleep(4.0)  # past the 3 s TTL of the stream's reservation
    r = httpx.post(f"{sl.url}/openai/v1/chat/completions", json=chat_body(model="gpt-4o"),
                   headers={"authorization": "Bearer sk-long"})
    assert r.status_code == 429, r.text
    t.join()
    assert result["status"] == 200
    assert sl.metric('sluice_filter_events_total{filter="ratelimit",event="renewed"}') >= 2
    r = httpx.post(f"{sl.url}/openai/v1/chat/completions", json=chat_body(model="gpt-4o"),
                   headers={"authorization": "Bearer sk-long"})
    assert r.status_code == 200


def script_calls(redis):
    stats = redis.cli("INFO", "commandstats")
    n = 0
    for line in stats.splitlines():
        if line.startswith(("cmdstat_evalsha:", "cmdstat_eval:")):
            n += int(line.split("calls=")[1].split(",")[0])
    return n


USAGE_TOKEN = "usage-admin-token"


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_one_script_call_per_admission_and_settlement_and_admin_usage(sluice_factory, mock, redis,
                                                                      backend):
    prefix = f"usage-{backend}:"
    st = store(redis if backend == "redis" else None, prefix)
    rl = st + """
    rules:
      - name: usage-rpm
        match: {key: "*"}
        requests_per_minute: 6
"""
    b = st + PRICES + """
    rules:
      - name: usage-daily
        match: {tenant: "*"}
        usd_per_day: 0.05
"""
    cfg = limits_config(mock, budget=b, ratelimit=rl).replace(
        "  drain_timeout: 5s\n", f"  drain_timeout: 5s\n  admin_token: {USAGE_TOKEN}\n", 1)
    sl = sluice_factory(cfg)
    oc = openai.OpenAI(base_url=f"{sl.url}/openai/v1", api_key="sk-usage", max_retries=0,
                       default_headers={"x-mock-output-tokens": "25"})
    msgs = [{"role": "user", "content": "hello"}]
    oc.chat.completions.create(model="race-model", max_tokens=100, messages=msgs)  # loads scripts
    sl.wait_calls(1)
    time.sleep(0.3)  # the first call's settlement
    before = script_calls(redis)
    for _ in range(3):
        oc.chat.completions.create(model="race-model", max_tokens=100, messages=msgs)
    for _ in oc.chat.completions.create(model="race-model", max_tokens=100, messages=msgs,
                                        stream=True, stream_options={"include_usage": True}):
        pass
    evs = sl.wait_calls(5)
    for e in evs:
        assert e["filters"]["ratelimit"]["reservation_id"] == e["filters"]["budget"]["reservation_id"]
        assert e["filters"]["ratelimit"]["store"] == backend
        assert e["cost_micro_usd"] == 25  # 25 output tokens at 1 micro-USD each
    if backend == "redis":
        # Four calls: one script call to admit each, one to settle each, for both filters.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and script_calls(redis) < before + 8:
            time.sleep(0.05)
        time.sleep(0.3)
        assert script_calls(redis) == before + 8
        # /metrics: the calls one after another, so each script call carried one of them.
        for script in ("reserve", "settle"):
            runs = sl.metric(f'sluice_limits_redis_script_runs_total{{script="{script}"}}')
            calls = sl.metric(f'sluice_limits_redis_script_calls_total{{script="{script}"}}')
            assert runs >= 4 and calls == runs, (script, runs, calls)
        assert sl.metric('sluice_redis_client_events_total{event="connected"}') >= 1
        assert sl.metric("sluice_redis_client_commands_total") >= 8

    # GET /admin/usage needs the admin token.
    assert httpx.get(f"{sl.admin}/admin/usage").status_code == 401
    r = httpx.get(f"{sl.admin}/admin/usage", headers={"authorization": f"Bearer {USAGE_TOKEN}"})
    assert r.status_code == 200
    usage = r.json()
    assert usage["errors"] == []
    rows = {(x["rule"], x["unit"]): x for x in usage["limits"]}
    spend = rows[("usage-daily", "spend_micro_usd")]
    assert spend["store"] == backend and spend["filter"] == "budget"
    assert spend["used"] == 5 * 25 and spend["reserved"] == 0
    assert spend["limit"] == 50_000 and spend["remaining"] == 50_000 - 125
    assert spend["window_end_ms"] - spend["window_start_ms"] == 86_400_000  # a UTC day
    reqs = rows[("usage-rpm", "requests")]
    assert reqs["filter"] == "ratelimit" and reqs["limit"] == 6
    assert 4 <= reqs["used"] <= 5  # 5 calls; the bucket drains one every 10 s
    assert reqs["remaining"] == 6 - reqs["used"]
    assert "key=" in reqs["counter"] and "sk-usage" not in r.text  # fingerprints, never keys


def test_alerts_at_80_and_100_percent_and_on_each_refusal(sluice_factory, mock):
    # Budget of 100 micro-USD on race-model (1 micro-USD per output token); one request per
    # minute on rl-model. Both filters in one chain, in-process.
    b = store() + PRICES + """
    rules:
      - name: alerting
        match: {model: race-model}
        usd_per_day: 0.000100
"""
    rl = store() + """
    rules:
      - name: one-rpm
        match: {model: rl-model}
        requests_per_minute: 1
"""
    sl = sluice_factory(limits_config(mock, budget=b, ratelimit=rl))
    oc = openai.OpenAI(base_url=f"{sl.url}/openai/v1", api_key="sk-alerts", max_retries=0)

    def chat(model, max_tokens):
        return oc.chat.completions.create(
            model=model, max_tokens=max_tokens, messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-mock-output-tokens": str(max_tokens)})

    chat("race-model", 45)  # 45%
    chat("race-model", 45)  # 90%: crosses 80%
    chat("race-model", 10)  # 100%
    with pytest.raises(openai.RateLimitError):
        chat("race-model", 1)  # nothing left
    chat("rl-model", 5)
    with pytest.raises(openai.RateLimitError):
        chat("rl-model", 5)
    evs = sl.wait_calls(6)
    deadline = time.monotonic() + 5
    alerts = []
    while time.monotonic() < deadline and len(alerts) < 4:
        alerts = [x for x in sl.events() if x["type"] == "alert"]
        time.sleep(0.05)
    got = [(a["alert_type"], a.get("severity")) for a in alerts]
    assert got == [("budget.threshold", "warning"), ("budget.threshold", "critical"),
                   ("budget.exhausted", "warning"), ("ratelimit.rejected", "warning")], alerts
    for e in evs[:3]:
        bg = e["filters"]["budget"]
        assert len(bg["reservation_id"]) == 16 and bg["store"] == "local"
        assert bg["reserved_micro_usd"] >= bg["cost_micro_usd"] == e["cost_micro_usd"]
    rlf = evs[4]["filters"]["ratelimit"]
    assert rlf["reserved"] == {"one-rpm.requests": 1} and rlf["settled"] == {"one-rpm.requests": 1}
    assert [e["status"] for e in evs] == [200, 200, 200, 429, 200, 429]
