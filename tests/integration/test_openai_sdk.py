"""The official openai SDK through Sluice to sluice-mock over TLS: every API shape, streamed
and not, compared with calling the mock directly; usage in the event equals the mock's."""
import httpx2 as httpx
import openai
import pytest


def clients(sluice, mock):
    direct = openai.OpenAI(base_url=f"{mock.url}/v1", api_key="sk-test-direct",
                           http_client=httpx.Client(verify=mock.ssl), max_retries=0)
    proxied = openai.OpenAI(base_url=f"{sluice.url}/v1", api_key="sk-test-direct", max_retries=0)
    return direct, proxied


MSG = [{"role": "user", "content": "Say hello"}]
HDR = {"x-mock-output-tokens": "12", "x-mock-cached-tokens": "3", "x-mock-reasoning-tokens": "2"}


def test_chat_non_streamed(sluice, mock):
    direct, proxied = clients(sluice, mock)
    a = direct.chat.completions.create(model="gpt-4o-mini", messages=MSG, extra_headers=HDR)
    b = proxied.chat.completions.create(model="gpt-4o-mini", messages=MSG, extra_headers=HDR)
    assert a.model_dump() == b.model_dump()
    ev = sluice.wait_calls(1)[-1]
    assert ev["endpoint"] == "chat.completions" and ev["status"] == 200 and ev["stream"] is False
    assert ev["model"] == {"requested": "gpt-4o-mini", "served": b.model}
    assert ev["usage"]["input_tokens"] == b.usage.prompt_tokens
    assert ev["usage"]["output_tokens"] == b.usage.completion_tokens == 12
    assert ev["usage"]["cached_input_tokens"] == 3
    assert ev["usage"]["reasoning_tokens"] == 2
    assert ev["usage"]["source"] == "provider"
    assert ev["identity"]["key_kind"] == "provider"
    assert ev["finish_reason"] == "stop"


@pytest.mark.parametrize("include_usage", [False, True])
def test_chat_streamed_matches_direct(sluice, mock, include_usage):
    direct, proxied = clients(sluice, mock)
    kw = dict(model="gpt-4o", messages=MSG, stream=True, extra_headers=HDR)
    if include_usage:
        kw["stream_options"] = {"include_usage": True}
    a = [c.model_dump() for c in direct.chat.completions.create(**kw)]
    b = [c.model_dump() for c in proxied.chat.completions.create(**kw)]
    assert a == b
    assert (b[-1]["usage"] is not None) == include_usage
    ev = sluice.wait_calls(1)[-1]
    # Sluice learns the usage either way: it asked for it upstream when the client did not.
    assert ev["usage"]["output_tokens"] == 12 and ev["usage"]["source"] == "provider"
    assert ev["usage"]["cached_input_tokens"] == 3
    assert ev["stream"] is True and ev["finish_reason"] == "stop"
    sent = mock.requests()[-1]
    assert '"include_usage":true' in sent["body"].replace(" ", "")


def test_chat_stream_bytes_identical(sluice, mock):
    """Byte for byte: the stream the client gets equals the mock's own answer to the request
    the client sent (Sluice adds include_usage upstream and removes what it added)."""
    body = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}'
    h = {"content-type": "application/json", "authorization": "Bearer sk-x", **HDR}
    direct = httpx.post(f"{mock.url}/v1/chat/completions", content=body, headers=h, verify=mock.ssl)
    proxied = httpx.post(f"{sluice.url}/v1/chat/completions", content=body, headers=h)
    assert proxied.status_code == 200
    assert proxied.content == direct.content
    assert b'"usage"' not in proxied.content
    assert proxied.headers["x-sluice-request-id"]


def test_tool_call_stream(sluice, mock):
    direct, proxied = clients(sluice, mock)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    kw = dict(model="gpt-4o", messages=MSG, tools=tools, stream=True,
              extra_headers={"x-mock-tool-call": "1"})
    a = [c.model_dump() for c in direct.chat.completions.create(**kw)]
    b = [c.model_dump() for c in proxied.chat.completions.create(**kw)]
    assert a == b
    assert any(c["choices"] and c["choices"][0]["delta"].get("tool_calls") for c in b)


def test_responses_non_streamed_and_streamed(sluice, mock):
    direct, proxied = clients(sluice, mock)
    a = direct.responses.create(model="gpt-4.1", input="hello", extra_headers=HDR)
    b = proxied.responses.create(model="gpt-4.1", input="hello", extra_headers=HDR)
    assert a.model_dump() == b.model_dump()
    sa = [e.model_dump() for e in direct.responses.create(model="gpt-4.1", input="hello", stream=True, extra_headers=HDR)]
    sb = [e.model_dump() for e in proxied.responses.create(model="gpt-4.1", input="hello", stream=True, extra_headers=HDR)]
    assert sa == sb
    evs = sluice.wait_calls(2)
    for ev, usage in ((evs[-2], b.usage), (evs[-1], sb[-1]["response"]["usage"])):
        assert ev["endpoint"] == "responses"
        u = usage if isinstance(usage, dict) else usage.model_dump()
        assert ev["usage"]["input_tokens"] == u["input_tokens"]
        assert ev["usage"]["output_tokens"] == u["output_tokens"] == 12
        assert ev["usage"]["cached_input_tokens"] == 3 and ev["usage"]["reasoning_tokens"] == 2
    assert evs[-1]["stream"] is True


def test_embeddings(sluice, mock):
    direct, proxied = clients(sluice, mock)
    a = direct.embeddings.create(model="text-embedding-3-small", input=["a b c", "d"])
    b = proxied.embeddings.create(model="text-embedding-3-small", input=["a b c", "d"])
    assert a.model_dump() == b.model_dump()
    ev = sluice.wait_calls(1)[-1]
    assert ev["endpoint"] == "embeddings" and ev["usage"]["input_tokens"] == b.usage.prompt_tokens


def test_models_passthrough(sluice, mock):
    _, proxied = clients(sluice, mock)
    models = proxied.models.list()
    assert len(models.data) >= 1
    ev = sluice.wait_calls(1)[-1]
    assert ev["endpoint"] == "passthrough" and ev["status"] == 200 and ev["method"] == "GET"


def test_openai_prefix_route(sluice, mock):
    c = openai.OpenAI(base_url=f"{sluice.url}/openai/v1", api_key="sk-x", max_retries=0)
    r = c.chat.completions.create(model="gpt-4o", messages=MSG)
    assert r.choices[0].message.content
    assert mock.requests()[-1]["target"] == "/v1/chat/completions"


def test_long_stream_past_beast_default_body_limit(sluice, mock):
    """~13 MB of SSE: more than Beast's 8 MB default response body limit."""
    body = b'{"model":"gpt-4o","messages":[{"role":"user","content":"long"}],"stream":true}'
    h = {"content-type": "application/json", "authorization": "Bearer sk-x", "x-mock-output-tokens": "60000"}
    n = 0
    with httpx.stream("POST", f"{sluice.url}/v1/chat/completions", content=body, headers=h, timeout=60) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            n += len(chunk)
    assert n > 9 * 1024 * 1024
    ev = sluice.wait_calls(1)[-1]
    assert ev["error"] is None and ev["usage"]["output_tokens"] == 60000
    assert ev["bytes"]["response"] == n
