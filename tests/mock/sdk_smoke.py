#!/usr/bin/env python3
"""End-to-end smoke test of sluice-mock with the real openai and anthropic SDKs.

Starts the mock (plain HTTP, then HTTPS with a throwaway self-signed certificate made with
openssl), drives it with the SDKs and re-validates every parsed object strictly against the
SDK's pydantic models (the SDKs themselves parse leniently).

    python tests/mock/sdk_smoke.py --mock build/mock/sluice-mock

Needs the packages of tests/integration/requirements.txt (openai, anthropic) and the
openssl command (for the certificate).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import anthropic
import openai
from anthropic.types import Message, RawMessageStreamEvent
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

CHECKS = []


def check(name, cond, detail=""):
    CHECKS.append((name, bool(cond)))
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f"  {detail}"))


def strict(model_type, obj):
    """Validates obj (an SDK object) strictly against model_type."""
    data = obj.model_dump(mode="json", exclude_unset=True)
    if isinstance(model_type, TypeAdapter):
        return model_type.validate_python(data)
    return model_type.model_validate(data)


def start_mock(binary, extra):
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--threads", "2", *extra],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    assert line and line[0] == "listening", line
    return proc, int(line[1])


def run_openai(base, http_client=None):
    c = openai.OpenAI(base_url=base + "/v1", api_key="sk-mock", max_retries=0,
                      http_client=http_client)
    msgs = [{"role": "user", "content": "hello"}]

    r = c.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    strict(ChatCompletion, r)
    check("openai chat", r.choices[0].message.content.startswith("tok0 ")
          and r.usage.completion_tokens == 16 and r.choices[0].finish_reason == "stop")

    chunks = list(c.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True))
    for ch in chunks:
        strict(ChatCompletionChunk, ch)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    check("openai chat stream", text.startswith("tok0 ") and all(ch.usage is None for ch in chunks))

    chunks = list(c.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True,
                                            stream_options={"include_usage": True}))
    for ch in chunks:
        strict(ChatCompletionChunk, ch)
    check("openai chat stream include_usage",
          chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 16)

    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    r = c.chat.completions.create(model="gpt-4o-mini", messages=msgs, tools=tools,
                                  extra_headers={"x-mock-tool-call": "1", "x-mock-text": "a@b.c"})
    strict(ChatCompletion, r)
    tc = r.choices[0].message.tool_calls[0]
    check("openai chat tool call", json.loads(tc.function.arguments) == {"query": "a@b.c"})
    with c.chat.completions.stream(model="gpt-4o-mini", messages=msgs, tools=tools,
                                   extra_headers={"x-mock-tool-call": "1"}) as s:
        final = s.get_final_completion()
    check("openai chat stream tool call (helper)",
          json.loads(final.choices[0].message.tool_calls[0].function.arguments) == {"query": "mock query"})

    r = c.responses.create(model="gpt-4o", input="hi", instructions="be brief")
    strict(Response, r)
    check("openai responses", r.output_text.startswith("tok0 ") and r.usage.output_tokens == 16)

    adapter = TypeAdapter(ResponseStreamEvent)
    events = list(c.responses.create(model="gpt-4o", input="hi", stream=True))
    for e in events:
        strict(adapter, e)
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    check("openai responses stream", events[-1].type == "response.completed"
          and events[-1].response.output_text == deltas)
    with c.responses.stream(model="gpt-4o", input="hi") as s:
        final = s.get_final_response()
    check("openai responses stream (helper)", final.output_text == deltas)

    e = c.embeddings.create(model="text-embedding-3-small", input=["a", "b"])  # base64 default
    strict(CreateEmbeddingResponse, e)
    e2 = c.embeddings.create(model="text-embedding-3-small", input=["a", "b"],
                             encoding_format="float")
    check("openai embeddings (base64 and float agree)",
          len(e.data) == 2 and len(e.data[0].embedding) == 8
          and e.data[1].embedding == e2.data[1].embedding)

    m = c.models.list()
    check("openai models", len(m.data) == 2)

    try:
        c.chat.completions.create(model="gpt-4o@fault=429", messages=msgs)
        check("openai 429", False, "no exception")
    except openai.RateLimitError as ex:
        check("openai 429", ex.response.headers.get("retry-after") == "1")
    try:
        list(c.chat.completions.create(model="gpt-4o", messages=msgs, stream=True,
                                       extra_headers={"x-mock-fault": "error-event"}))
        check("openai stream error-event", False, "no exception")
    except openai.APIError as ex:
        check("openai stream error-event", "server had an error" in str(ex))


def run_anthropic(base, http_client=None):
    c = anthropic.Anthropic(base_url=base, api_key="sk-ant-mock", max_retries=0,
                            http_client=http_client)
    msgs = [{"role": "user", "content": "hello"}]
    r = c.messages.create(model="claude-x", max_tokens=1024, messages=msgs,
                          extra_headers={"x-mock-cached-tokens": "3"})
    strict(Message, r)
    check("anthropic messages", r.content[0].text.startswith("tok0 ")
          and r.usage.cache_read_input_tokens == 3 and r.stop_reason == "end_turn")

    adapter = TypeAdapter(RawMessageStreamEvent)
    events = list(c.messages.create(model="claude-x", max_tokens=1024, messages=msgs,
                                    stream=True))
    for e in events:
        strict(adapter, e)
    check("anthropic messages stream", [e.type for e in events][:3] ==
          ["message_start", "content_block_start", "content_block_delta"]
          and events[-1].type == "message_stop")
    with c.messages.stream(model="claude-x", max_tokens=5, messages=msgs) as s:
        final = s.get_final_message()
    strict(Message, final)
    check("anthropic messages stream (helper)", final.stop_reason == "max_tokens"
          and final.usage.output_tokens == 5 and final.content[0].text == "tok0 tok1 tok2 tok3 tok4 ")
    try:
        list(c.messages.create(model="claude-x", max_tokens=50, messages=msgs, stream=True,
                               extra_headers={"x-mock-fault": "error-event"}))
        check("anthropic stream error-event", False, "no exception")
    except anthropic.APIStatusError as ex:
        check("anthropic stream error-event", "overloaded" in str(ex).lower())
    try:
        c.messages.create(model="claude-x@fault=429", max_tokens=5, messages=msgs)
        check("anthropic 429", False, "no exception")
    except anthropic.RateLimitError:
        check("anthropic 429", True)


def run_mock_control(base):
    with urllib.request.urlopen(base + "/__mock/requests") as resp:
        entries = json.load(resp)
    check("recorded requests", len(entries) > 10 and all(
        e["outcome"] == "complete" and e["t_closed_us"] is None for e in entries))
    req = urllib.request.Request(base + "/__mock/reset", method="POST")
    urllib.request.urlopen(req).read()
    with urllib.request.urlopen(base + "/__mock/requests") as resp:
        check("reset", json.load(resp) == [])


def run_peer_close(port):
    s = socket.create_connection(("127.0.0.1", port))
    body = b'{"model":"m","stream":true}'
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-mock-ttft-ms: 2000\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    time.sleep(0.2)
    s.close()
    time.sleep(0.2)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__mock/requests") as resp:
        last = json.load(resp)[-1]
    check("peer close noticed during ttft", last["outcome"] == "peer_closed"
          and last["t_closed_us"] - last["t_start_us"] < 1_000_000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mock", required=True)
    args = ap.parse_args()

    proc, port = start_mock(args.mock, [])
    try:
        base = f"http://127.0.0.1:{port}"
        run_openai(base)
        run_anthropic(base)
        run_mock_control(base)
        run_peer_close(port)
    finally:
        proc.terminate()
        proc.wait()

    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        proc, port = start_mock(args.mock, ["--tls-cert", cert, "--tls-key", key])
        try:
            base = f"https://127.0.0.1:{port}"
            run_openai(base, openai.DefaultHttpxClient(verify=cert))
            run_anthropic(base, anthropic.DefaultHttpxClient(verify=cert))
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=3).read()
                check("tls: plain http refused", False)
            except Exception:
                check("tls: plain http refused", True)
        finally:
            proc.terminate()
            proc.wait()

    failed = sum(1 for _, ok in CHECKS if not ok)
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
