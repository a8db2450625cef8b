"""Hot reload: SIGHUP and POST /admin/reload apply a new sluice.yaml to new calls, refuse an
invalid one (the running configuration keeps serving), keep in-flight streams on the snapshot
they started with, and report settings that need a restart."""
import signal
import threading
import time

import httpx2 as httpx
import openai
import pytest

from conftest import default_config

MSG = [{"role": "user", "content": "hello"}]
TOKEN = "admin-test-token"


def config_path(s):
    return s.log_path.parent / "sluice.yaml"


def write_config(s, mock, extra):
    text = default_config(mock, s.events_path, extra)
    config_path(s).write_text(text)


def wait_metric(s, series, value, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if s.metric(series) >= value:
            return
        time.sleep(0.05)
    raise AssertionError(f"{series} did not reach {value}: {s.metric(series)}")


DENY_GPT4O = """
filters:
  chain: [model_access]
  model_access:
    rules:
      - deny: ["gpt-4o"]
"""

def test_sighup_applies_new_rules_to_new_calls(sluice_factory, mock):
    s = sluice_factory(extra="filters:\n  chain: [model_access]\n")
    c = openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-x", max_retries=0)
    c.chat.completions.create(model="gpt-4o", messages=MSG)
    write_config(s, mock, DENY_GPT4O)
    s.proc.send_signal(signal.SIGHUP)
    wait_metric(s, 'sluice_config_reloads_total{result="ok"}', 1)
    with pytest.raises(openai.PermissionDeniedError):
        c.chat.completions.create(model="gpt-4o", messages=MSG)
    c.chat.completions.create(model="gpt-4o-mini", messages=MSG)  # not denied


def test_invalid_file_is_refused_and_old_config_keeps_serving(sluice_factory, mock):
    s = sluice_factory()
    c = openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-x", max_retries=0)
    config_path(s).write_text(config_path(s).read_text() + "\nfilters:\n  chain: [no_such_filter]\n")
    s.proc.send_signal(signal.SIGHUP)
    wait_metric(s, 'sluice_config_reloads_total{result="error"}', 1)
    assert s.metric('sluice_config_reloads_total{result="ok"}') == 0
    c.chat.completions.create(model="gpt-4o", messages=MSG)
    assert "reload refused" in s.log_path.read_text()
    assert s.proc.poll() is None


def test_admin_reload_endpoint(sluice_factory, mock):
    text = default_config(mock, "@EVENTS@").replace("  drain_timeout: 5s\n", f"  drain_timeout: 5s\n  admin_token: {TOKEN}\n", 1)
    s = sluice_factory(config_text=text)
    url = f"{s.admin}/admin/reload"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(url).status_code == 401
    assert httpx.post(url, headers={"Authorization": "Bearer wrong-token-value"}).status_code == 401
    assert httpx.get(url, headers=auth).status_code == 405
    r = httpx.post(url, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "source": str(config_path(s)), "errors": [], "restart_required": []}
    # A broken file: 422 with file:line: key: message, and the old config stays.
    good = config_path(s).read_text()
    config_path(s).write_text(good + "\nlistener_typo: 1\n")
    r = httpx.post(url, headers=auth)
    assert r.status_code == 422
    body = r.json()
    assert body["ok"] is False and any("listener_typo" in e and "sluice.yaml:" in e for e in body["errors"]), body
    c = openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-x", max_retries=0)
    c.chat.completions.create(model="gpt-4o", messages=MSG)
    # A restart-only setting: not applied, reported.
    config_path(s).write_text(good.replace("workers: 2", "workers: 3"))
    r = httpx.post(url, headers=auth)
    assert r.status_code == 200 and r.json()["restart_required"] == ["listener.workers"], r.text
    c.chat.completions.create(model="gpt-4o", messages=MSG)
    assert s.metric('sluice_config_reloads_total{result="ok"}') == 2
    assert s.metric('sluice_config_reloads_total{result="error"}') == 1


def test_stream_in_flight_finishes_on_its_snapshot(sluice_factory, mock):
    s = sluice_factory()
    c = openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-x", max_retries=0)
    result = {}

    def stream():
        chunks = c.chat.completions.create(
            model="gpt-4o", messages=MSG, stream=True,
            extra_headers={"x-mock-output-tokens": "30", "x-mock-token-delay-ms": "40"})
        result["text"] = "".join((ch.choices[0].delta.content or "") for ch in chunks if ch.choices)

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.4)  # the stream is under way
    write_config(s, mock, "identity:\n  default:\n    tenant: after-reload\n")
    s.proc.send_signal(signal.SIGHUP)
    wait_metric(s, 'sluice_config_reloads_total{result="ok"}', 1)
    t.join(30)
    assert not t.is_alive() and len(result["text"]) > 0
    c.chat.completions.create(model="gpt-4o", messages=MSG)
    calls = s.wait_calls(2)
    by_stream = {e["stream"]: e for e in calls}
    assert by_stream[True]["identity"]["tenant"] == "default"
    assert by_stream[True]["status"] == 200 and by_stream[True]["error"] is None
    assert by_stream[False]["identity"]["tenant"] == "after-reload"


def test_reloads_under_load_fail_no_call(sluice_factory, mock):
    """20 reloads, a third of them invalid, under a steady load of calls plus SDK streams: no
    call fails, no stream is cut, and the counters match what happened."""
    import concurrent.futures
    import os

    s = sluice_factory(extra="filters:\n  chain: [model_access]\n")
    c = openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-x", max_retries=0)
    stop_at = time.monotonic() + 60
    results = {"calls": 0, "errors": [], "streams": 0}
    lock = threading.Lock()
    done = threading.Event()

    def steady():
        while not done.is_set() and time.monotonic() < stop_at:
            try:
                c.chat.completions.create(model="gpt-4o", messages=MSG)
                with lock:
                    results["calls"] += 1
            except Exception as e:  # noqa: BLE001 - any failure is the test's finding
                with lock:
                    results["errors"].append(repr(e))
            time.sleep(0.01)

    def stream():
        while not done.is_set() and time.monotonic() < stop_at:
            try:
                chunks = c.chat.completions.create(
                    model="gpt-4o", messages=MSG, stream=True,
                    extra_headers={"x-mock-output-tokens": "12", "x-mock-token-delay-ms": "25"})
                text = "".join((ch.choices[0].delta.content or "") for ch in chunks if ch.choices)
                assert text.count("tok") == 12, text
                with lock:
                    results["streams"] += 1
            except Exception as e:  # noqa: BLE001
                with lock:
                    results["errors"].append(repr(e))

    def write_atomically(text):
        tmp = config_path(s).with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, config_path(s))

    base = default_config(mock, s.events_path, "filters:\n  chain: [model_access]\n")
    valid = invalid = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(steady) for _ in range(3)] + [pool.submit(stream) for _ in range(3)]
        time.sleep(0.5)
        for i in range(20):
            if i % 3 == 2:
                write_atomically(base + f"\nlistener_typo_{i}: 1\n")
                invalid += 1
            else:
                # A real change each time: who the calls are attributed to.
                write_atomically(base.replace("sinks:", f"identity:\n  default:\n    tenant: t{i}\nsinks:", 1))
                valid += 1
            s.proc.send_signal(signal.SIGHUP)
            wait_metric(s, 'sluice_config_reloads_total{result="ok"}', valid)
            wait_metric(s, 'sluice_config_reloads_total{result="error"}', invalid)
            time.sleep(0.2)
        done.set()
        for f in futures:
            f.result(timeout=60)
    assert not results["errors"], results["errors"][:5]
    assert results["calls"] > 50 and results["streams"] > 5, results
    assert s.metric('sluice_config_reloads_total{result="ok"}') == valid == 14
    assert s.metric('sluice_config_reloads_total{result="error"}') == invalid == 6
    calls = s.wait_calls(results["calls"] + results["streams"])
    assert len(calls) == results["calls"] + results["streams"]
    assert all(e["status"] == 200 and e["error"] is None for e in calls)
    assert s.metric('sluice_requests_total{provider="openai",model="gpt-4o",status="200"}') == len(calls)
    tenants = {e["identity"]["tenant"] for e in calls}
    assert "default" in tenants and "t19" in tenants  # the changes took effect along the way
