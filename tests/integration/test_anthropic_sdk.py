"""The official anthropic SDK through Sluice to sluice-mock: messages, streamed and not."""
import anthropic
import httpx2 as httpx

HDR = {"x-mock-output-tokens": "9", "x-mock-cached-tokens": "5", "x-mock-cache-write-tokens": "7"}
MSG = [{"role": "user", "content": "Hello"}]


def clients(sluice, mock):
    direct = anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-direct",
                                 http_client=httpx.Client(verify=mock.ssl), max_retries=0)
    proxied = anthropic.Anthropic(base_url=sluice.url, api_key="sk-ant-direct", max_retries=0)
    return direct, proxied


def test_messages_non_streamed(sluice, mock):
    direct, proxied = clients(sluice, mock)
    a = direct.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MSG, extra_headers=HDR)
    b = proxied.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MSG, extra_headers=HDR)
    assert a.model_dump() == b.model_dump()
    ev = sluice.wait_calls(1)[-1]
    assert ev["provider"] == "anthropic" and ev["endpoint"] == "messages"
    u = b.usage
    # Normalized: input counts cache reads and writes too (Anthropic reports them apart).
    assert ev["usage"]["input_tokens"] == u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
    assert ev["usage"]["cached_input_tokens"] == 5 and ev["usage"]["cache_write_tokens"] == 7
    assert ev["usage"]["output_tokens"] == u.output_tokens == 9
    assert ev["finish_reason"] == "end_turn"


def test_messages_streamed(sluice, mock):
    direct, proxied = clients(sluice, mock)
    kw = dict(model="claude-sonnet-4-5", max_tokens=100, messages=MSG, extra_headers=HDR)
    with direct.messages.stream(**kw) as s:
        a_text = s.get_final_text()
        a_msg = s.get_final_message()
    with proxied.messages.stream(**kw) as s:
        events = [e.type for e in s]
        b_msg = s.get_final_message()
    assert b_msg.model_dump() == a_msg.model_dump()
    assert a_text and "message_stop" in events
    ev = sluice.wait_calls(1)[-1]
    assert ev["stream"] is True
    assert ev["usage"]["output_tokens"] == 9
    assert ev["usage"]["input_tokens"] == b_msg.usage.input_tokens + 5 + 7


def test_max_tokens_cap_recorded(sluice, mock):
    _, proxied = clients(sluice, mock)
    r = proxied.messages.create(model="claude-haiku-4-5", max_tokens=4, messages=MSG,
                                extra_headers={"x-mock-output-tokens": "50"})
    assert r.stop_reason == "max_tokens"
    ev = sluice.wait_calls(1)[-1]
    assert ev["finish_reason"] == "max_tokens" and ev["usage"]["output_tokens"] == 4
