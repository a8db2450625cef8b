"""Injected provider faults: the SDK raises, the call's event records the error class."""
import anthropic
import httpx2 as httpx
import openai
import pytest

MSG = [{"role": "user", "content": "x"}]


def oa(sluice):
    return openai.OpenAI(base_url=f"{sluice.url}/v1", api_key="sk-x", max_retries=0, timeout=20)


def an(sluice):
    return anthropic.Anthropic(base_url=sluice.url, api_key="sk-ant-x", max_retries=0, timeout=20)


def fault(name):
    return {"x-mock-fault": name}


def test_429_passes_through_with_headers(sluice):
    with pytest.raises(openai.RateLimitError) as e:
        oa(sluice).chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=fault("429"))
    assert e.value.response.headers.get("retry-after") == "1"
    ev = sluice.wait_calls(1)[-1]
    assert ev["status"] == 429 and ev["error"] == {"class": "upstream_status", "source": "upstream"}


def test_500_anthropic(sluice):
    with pytest.raises(anthropic.InternalServerError):
        an(sluice).messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MSG, extra_headers=fault("500"))
    ev = sluice.wait_calls(1)[-1]
    assert ev["status"] == 500 and ev["error"]["class"] == "upstream_status"


@pytest.mark.parametrize("stream", [True, False])
def test_reset_mid_stream(sluice, stream):
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        r = oa(sluice).chat.completions.create(model="gpt-4o", messages=MSG, stream=stream,
                                               extra_headers={**fault("reset-mid-stream"), "x-mock-output-tokens": "40"})
        if stream:
            for _ in r:
                pass
    ev = sluice.wait_calls(1)[-1]
    assert ev["error"]["class"] in ("upstream_reset", "upstream_bad_response")
    assert ev["error"]["source"] == "upstream"


def test_reset_mid_stream_anthropic(sluice):
    with pytest.raises((anthropic.APIError, httpx.HTTPError)):
        with an(sluice).messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=MSG,
                                        extra_headers={**fault("reset-mid-stream"), "x-mock-output-tokens": "40"}) as s:
            for _ in s:
                pass
    assert sluice.wait_calls(1)[-1]["error"]["class"] == "upstream_reset"


def test_malformed_sse(sluice):
    with pytest.raises(Exception):
        for _ in oa(sluice).chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                                    extra_headers=fault("malformed-sse")):
            pass
    ev = sluice.wait_calls(1)[-1]
    assert ev["error"]["class"] == "upstream_bad_response"
    assert sluice.metric("sluice_sse_malformed_events_total") >= 1


def test_truncated_json(sluice):
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        oa(sluice).chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=fault("truncated-json"))
    ev = sluice.wait_calls(1)[-1]
    assert ev["error"]["class"] == "upstream_reset"


def test_slow_headers_time_out(sluice):
    # The upstream's first_byte_timeout is 3 s in the test config; the mock waits 5 s.
    with pytest.raises(openai.InternalServerError) as e:
        oa(sluice).chat.completions.create(model="gpt-4o", messages=MSG,
                                           extra_headers={**fault("slow-headers"), "x-mock-header-delay-ms": "5000"})
    assert e.value.status_code == 504
    assert e.value.response.headers["x-sluice-error"] == "upstream_timeout"
    assert sluice.wait_calls(1)[-1]["error"]["class"] == "upstream_timeout"


def test_close_before_headers(sluice):
    with pytest.raises(openai.InternalServerError) as e:
        oa(sluice).chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=fault("close-before-headers"))
    assert e.value.status_code == 502
    assert e.value.body["message"].startswith("sluice: ")
    assert sluice.wait_calls(1)[-1]["error"]["class"] in ("upstream_reset",)


def test_error_event_openai(sluice):
    with pytest.raises(openai.APIError):
        for _ in oa(sluice).chat.completions.create(model="gpt-4o", messages=MSG, stream=True, extra_headers=fault("error-event")):
            pass
    assert sluice.wait_calls(1)[-1]["error"]["class"] == "stream_error_event"


def test_error_event_anthropic(sluice):
    with pytest.raises(anthropic.APIError):
        with an(sluice).messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=MSG, extra_headers=fault("error-event")) as s:
            for _ in s:
                pass
    assert sluice.wait_calls(1)[-1]["error"]["class"] == "stream_error_event"


def test_upstream_unreachable(sluice_factory, mock, workdir):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead_port = s.getsockname()[1]
    s.close()
    cfg = f"""
listener: {{address: 127.0.0.1:0, admin_address: 127.0.0.1:0, workers: 1}}
upstreams:
  openai: {{provider: openai, url: http://127.0.0.1:{dead_port}, connect_timeout: 1s}}
  anthropic: {{provider: anthropic, url: http://127.0.0.1:{dead_port}}}
sinks: {{jsonl: {{events_path: "@EVENTS@"}}}}
"""
    sl = sluice_factory(cfg)
    with pytest.raises(openai.InternalServerError) as e:
        oa(sl).chat.completions.create(model="gpt-4o", messages=MSG)
    assert e.value.status_code == 502
    assert sl.wait_calls(1)[-1]["error"]["class"] == "upstream_connect"


def test_compressed_upstream_response_is_relayed_and_counted(sluice, mock):
    # An upstream that gzips although Sluice asked for identity: the client still gets the
    # response (its HTTP stack decodes it), the usage cannot be read, so it is estimated.
    r = oa(sluice).chat.completions.create(model="gpt-4o", messages=MSG, extra_headers=fault("gzip"))
    assert r.choices[0].message.content
    assert sluice.metric("sluice_upstream_compressed_responses_total") == 1
    ev = sluice.wait_calls(1)[0]
    assert ev["status"] == 200 and ev["error"] is None
    assert ev["usage"]["source"] == "estimated"
    # What Sluice sent upstream asked for an uncompressed response.
    sent = mock.requests()[-1]
    assert {k.lower(): v for k, v in sent["headers"].items()}.get("accept-encoding") == "identity"
