"""The pii filter through the proxy, with the real openai and anthropic SDKs as clients.

The mock records what it received (GET /__mock/requests), so redaction of prompts is checked at
the provider's side; streamed answers come from x-mock-text, which the mock cuts into ~4-byte
pieces on UTF-8 boundaries (it cannot cut at chosen offsets), so every value below reaches the
proxy split across several SSE events.
"""
import base64
import json

import anthropic
import openai
import pytest

from conftest import default_config

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
AWS = "AKIAIOSFODNN7EXAMPLE"
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"query": {"type": "string"}}}}}]


def text_header(text):
    return {"x-mock-text-b64": base64.b64encode(text.encode()).decode()}


def cfg(mock, pii):
    return default_config(mock, "@EVENTS@", extra=f"""
filters:
  chain: [pii]
  pii:
{pii}
""")


@pytest.fixture
def sl(sluice_factory, mock):
    return sluice_factory(cfg(mock, "    hold_back_bytes: 512"))


@pytest.fixture
def sl_block(sluice_factory, mock):
    return sluice_factory(cfg(mock, """    entities:
      aws_access_key: {request: block}
      credit_card: {request: redact, response: block}"""))


def oai(s):
    return openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-test", max_retries=0)


def ant(s):
    return anthropic.Anthropic(base_url=s.url, api_key="sk-ant-test", max_retries=0)


def last_body(mock):
    return json.loads(mock.requests()[-1]["body"])


@pytest.mark.parametrize("stream", [False, True])
def test_prompt_redacted_before_the_provider_sees_it(sl, mock, stream):
    c = oai(sl)
    r = c.chat.completions.create(
        model="gpt-4o", stream=stream,
        messages=[{"role": "system", "content": f"The user's card is {CARD}."},
                  {"role": "user", "content": f"Write to {EMAIL} and cc {EMAIL}"}])
    if stream:
        for _ in r:
            pass
    sent = mock.requests()[-1]["body"]
    assert EMAIL not in sent and "4111" not in sent
    body = json.loads(sent)
    assert body["messages"][0]["content"] == "The user's card is [CREDIT_CARD_1]."
    assert body["messages"][1]["content"] == "Write to [EMAIL_1] and cc [EMAIL_1]"
    assert body["model"] == "gpt-4o" and body.get("stream", False) == stream
    ev = sl.wait_calls(1)[-1]
    pii = ev["filters"]["pii"]
    kinds = {(f["type"], f["direction"], f["action"]): f["count"] for f in pii["findings"]}
    assert kinds[("email", "request", "redact")] == 2
    assert kinds[("credit_card", "request", "redact")] == 1
    assert EMAIL not in json.dumps(ev)
    def redacted(alerts):
        return [a for a in alerts if a["alert_type"] == "pii.redacted" and a["source"] == "pii"]
    entities = {"email", "credit_card"}
    alerts = sl.wait_alerts(lambda a: {x["details"]["entity"] for x in redacted(a)} >= entities)
    assert {a["details"]["entity"] for a in redacted(alerts)} == entities
    assert all(EMAIL not in json.dumps(a) and "4111" not in json.dumps(a) for a in alerts)


def test_anthropic_prompt_and_tool_results(sl, mock):
    c = ant(sl)
    c.messages.create(
        model="claude-sonnet-4-5", max_tokens=20, system=f"Operator email {EMAIL}",
        messages=[{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "host 192.168.10.200 is up"},
            {"type": "text", "text": "SSN 536-90-4399"}]}])
    body = last_body(mock)
    assert body["system"] == "Operator email [EMAIL_1]"
    assert body["messages"][0]["content"][0]["content"] == "host [IP_ADDRESS_1] is up"
    assert body["messages"][0]["content"][0]["tool_use_id"] == "toolu_1"
    assert body["messages"][0]["content"][1]["text"] == "SSN [US_SSN_1]"


def test_tool_call_arguments_in_the_request(sl, mock):
    c = oai(sl)
    c.chat.completions.create(model="gpt-4o", messages=[
        {"role": "user", "content": "send it"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "send", "arguments": json.dumps({"to": EMAIL})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"}])
    body = last_body(mock)
    assert json.loads(body["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {"to": "[EMAIL_1]"}


def test_split_across_streamed_events_chat(sl):
    text = f"Sure: mail {EMAIL} or call +44 20 7946 0958, card {CARD}."
    c = oai(sl)
    got, events = "", 0
    for chunk in c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                           stream=True, extra_headers=text_header(text)):
        if chunk.choices and chunk.choices[0].delta.content:
            got += chunk.choices[0].delta.content
            events += 1
    assert got == "Sure: mail [EMAIL_1] or call [PHONE_1], card [CREDIT_CARD_1]."
    ev = sl.wait_calls(1)[-1]
    kinds = {(f["type"], f["direction"]) for f in ev["filters"]["pii"]["findings"]}
    assert {("email", "response"), ("phone", "response"), ("credit_card", "response")} <= kinds


def test_split_across_streamed_events_anthropic_and_responses(sl):
    text = f"Write to {EMAIL} today"
    with ant(sl).messages.stream(model="claude-sonnet-4-5", max_tokens=50,
                                 messages=[{"role": "user", "content": "x"}],
                                 extra_headers=text_header(text)) as s:
        assert "".join(s.text_stream) == "Write to [EMAIL_1] today"
    got = ""
    for e in oai(sl).responses.create(model="gpt-4o", input="x", stream=True,
                                      extra_headers=text_header(text)):
        if e.type == "response.output_text.delta":
            got += e.delta
    assert got == "Write to [EMAIL_1] today"


def test_stream_true_bypasses_nothing(sl):
    text = f"Reach {EMAIL}"
    c = oai(sl)
    whole = c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                      extra_headers=text_header(text))
    assert whole.choices[0].message.content == "Reach [EMAIL_1]"
    streamed = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True,
        extra_headers=text_header(text)) if ch.choices)
    assert streamed == whole.choices[0].message.content
    msg = ant(sl).messages.create(model="claude-sonnet-4-5", max_tokens=50,
                                  messages=[{"role": "user", "content": "x"}],
                                  extra_headers=text_header(text))
    assert msg.content[0].text == "Reach [EMAIL_1]"


def test_streamed_tool_call_arguments(sl):
    c = oai(sl)
    args = ""
    for ch in c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                        tools=TOOLS, stream=True,
                                        extra_headers={**text_header(f"mail {EMAIL}"), "x-mock-tool-call": "1"}):
        if ch.choices and ch.choices[0].delta.tool_calls:
            args += ch.choices[0].delta.tool_calls[0].function.arguments or ""
    assert json.loads(args) == {"query": "mail [EMAIL_1]"}


def test_request_block_in_the_providers_shape(sl_block, mock):
    mock.reset()
    with pytest.raises(openai.BadRequestError) as e:
        oai(sl_block).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"my key {AWS}"}])
    assert e.value.status_code == 400 and e.value.code == "pii_blocked"
    assert AWS not in str(e.value)
    with pytest.raises(anthropic.BadRequestError) as e:
        ant(sl_block).messages.create(model="claude-sonnet-4-5", max_tokens=5,
                                      messages=[{"role": "user", "content": f"my key {AWS}"}])
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert mock.requests() == []  # the provider never got it
    ev = sl_block.wait_calls(2)[-1]
    assert ev["filters"]["pii"]["blocked"] == "request"


def test_response_block_ends_the_stream_before_the_value(sl_block):
    text = f"Your card is {CARD}, keep it safe"
    got = ""
    with pytest.raises(openai.APIError) as e:
        for ch in oai(sl_block).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True,
                extra_headers=text_header(text)):
            if ch.choices:
                got += ch.choices[0].delta.content or ""
    assert "pii_blocked" in str(e.value) or "sensitive data" in str(e.value)
    assert "4111" not in got
    with pytest.raises(anthropic.APIError):
        with ant(sl_block).messages.stream(model="claude-sonnet-4-5", max_tokens=50,
                                           messages=[{"role": "user", "content": "x"}],
                                           extra_headers=text_header(text)) as s:
            for t in s.text_stream:
                assert "4111" not in t
    ev = sl_block.wait_calls(2)[-1]
    assert ev["filters"]["pii"]["blocked"] == "response"


def test_whole_response_block_answers_the_providers_error(sl_block):
    """A non-streamed answer with a `block` finding: the client gets the provider-shaped error
    (the proxy sends the filter's reply), never the body."""
    text = f"Your card is {CARD}, keep it safe"
    with pytest.raises(openai.BadRequestError) as e:
        oai(sl_block).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}],
            extra_headers=text_header(text))
    assert e.value.status_code == 400 and e.value.code == "pii_blocked"
    assert e.value.body["type"] == "invalid_request_error"
    assert "credit_card" in e.value.body["message"]
    assert "4111" not in str(e.value) and "4111" not in e.value.response.text
    with pytest.raises(anthropic.BadRequestError) as e:
        ant(sl_block).messages.create(model="claude-sonnet-4-5", max_tokens=50,
                                      messages=[{"role": "user", "content": "x"}],
                                      extra_headers=text_header(text))
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "api_error"
    assert "4111" not in e.value.response.text
    evs = sl_block.wait_calls(2)
    for ev in evs[-2:]:
        assert ev["status"] == 400
        assert ev["filters"]["pii"]["blocked"] == "response"
        kinds = {(f["type"], f["direction"], f["action"]) for f in ev["filters"]["pii"]["findings"]}
        assert ("credit_card", "response", "block") in kinds
    def blocked(alerts):
        return [a for a in alerts
                if a["alert_type"] == "pii.blocked" and a["details"]["direction"] == "response"]
    assert blocked(sl_block.wait_alerts(blocked))
    # A whole answer without a blocked value still arrives, redacted where asked.
    ok = oai(sl_block).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}],
        extra_headers=text_header(f"Mail {EMAIL}"))
    assert ok.choices[0].message.content == "Mail [EMAIL_1]"
