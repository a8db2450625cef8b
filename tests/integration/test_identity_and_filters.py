"""Virtual keys, identity in events, the model_access filter, and graceful drain."""
import hashlib
import signal
import threading
import time

import anthropic
import httpx2 as httpx
import openai
import pytest

from conftest import default_config

VK = "sk-sluice-acme-0123456789abcdef"


def cfg(mock, events):
    return default_config(mock, events, extra=f"""
identity:
  allow_provider_keys: true
  virtual_keys:
    - key: {VK}
      tenant: acme
      team: search
      app: bot
      upstream_keys:
        openai: sk-real-openai-key
        anthropic: sk-ant-real-key
filters:
  chain: [model_access]
  model_access:
    rules:
      - tenant: acme
        allow: ["gpt-4o*", "claude-*"]
        deny: ["gpt-4o-audio*"]
""")


@pytest.fixture
def sl(sluice_factory, mock, workdir):
    return sluice_factory(cfg(mock, "@EVENTS@"))


def test_virtual_key_replaced_upstream(sl, mock):
    c = openai.OpenAI(base_url=f"{sl.url}/v1", api_key=VK, max_retries=0)
    c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    sent = mock.requests()[-1]
    assert sent["headers"]["authorization"] == "Bearer sk-real-openai-key"
    ev = sl.wait_calls(1)[-1]
    assert ev["identity"] == {"tenant": "acme", "team": "search", "app": "bot",
                              "key_fingerprint": hashlib.sha256(VK.encode()).hexdigest()[:16],
                              "key_kind": "virtual"}
    text = sl.events_path.read_text() + sl.log_path.read_text()
    assert VK not in text and "sk-real-openai-key" not in text


def test_virtual_key_anthropic_header(sl, mock):
    c = anthropic.Anthropic(base_url=sl.url, api_key=VK, max_retries=0)
    c.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    sent = mock.requests()[-1]
    assert sent["headers"]["x-api-key"] == "sk-ant-real-key"


def test_model_denied_403_in_provider_shape(sl, mock):
    before = len(mock.requests())
    c = openai.OpenAI(base_url=f"{sl.url}/v1", api_key=VK, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as e:
        c.chat.completions.create(model="o3", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["code"] == "model_not_allowed"
    with pytest.raises(openai.PermissionDeniedError):
        c.chat.completions.create(model="gpt-4o-audio-preview", messages=[], stream=True)
    a = anthropic.Anthropic(base_url=sl.url, api_key=VK, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as e2:
        a.messages.create(model="gpt-3.5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert e2.value.body["error"]["type"] == "permission_error"
    assert len(mock.requests()) == before
    evs = sl.wait_calls(3)
    assert all(e["error"]["class"] == "filter_rejected" for e in evs[-3:])
    alerts = sl.wait_alerts(lambda a: len(a) >= 3)
    assert len(alerts) == 3 and alerts[0]["alert_type"] == "model.denied"
    assert sl.metric('sluice_filter_events_total{filter="model_access",event="denied"}') == 3


def test_other_tenant_unrestricted(sl):
    c = openai.OpenAI(base_url=f"{sl.url}/v1", api_key="sk-own-key", max_retries=0)
    c.chat.completions.create(model="o3", messages=[{"role": "user", "content": "x"}])
    ev = sl.wait_calls(1)[-1]
    assert ev["identity"]["tenant"] == "default" and ev["identity"]["key_kind"] == "provider"


def test_sigterm_drains_inflight_stream(sluice):
    c = openai.OpenAI(base_url=f"{sluice.url}/v1", api_key="sk-x", max_retries=0)
    result = {}

    def run():
        chunks = list(c.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True,
            extra_headers={"x-mock-token-delay-ms": "50", "x-mock-output-tokens": "30"}))
        result["n"] = len(chunks)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.4)
    assert httpx.get(f"{sluice.admin}/readyz").status_code == 200
    sluice.proc.send_signal(signal.SIGTERM)
    t.join(timeout=20)
    assert result.get("n", 0) >= 30, "the in-flight stream must finish during the drain"
    sluice.proc.wait(timeout=10)
    assert sluice.proc.returncode == 0
    assert sluice.calls()[-1]["status"] == 200
