// Unit tests of the mock provider's response builders: every body and event is valid JSON of
// the provider's shape, stream_options.include_usage behaves like OpenAI, faults shape the
// plan, and equal requests give byte-identical responses.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstring>
#include <string>
#include <vector>

#include "mock/generation.h"
#include "mock/http_framing.h"
#include "mock/json_writer.h"
#include "mock/recorder.h"
#include "mock/router.h"

namespace sluice::mock {
namespace {

MockRequest post(std::string target, std::string body, std::vector<Header> headers = {}) {
  MockRequest r;
  r.method = "POST";
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

// Parses JSON, failing the test when it is invalid. The parser must outlive the element.
simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  simdjson::dom::element e;
  auto err = p.parse(json).get(e);
  EXPECT_EQ(err, simdjson::SUCCESS) << json;
  return e;
}

std::string_view str(simdjson::dom::element e, const char* ptr) {
  std::string_view s;
  EXPECT_EQ(e.at_pointer(ptr).get_string().get(s), simdjson::SUCCESS) << ptr;
  return s;
}

std::int64_t num(simdjson::dom::element e, const char* ptr) {
  std::int64_t n = -1;
  EXPECT_EQ(e.at_pointer(ptr).get_int64().get(n), simdjson::SUCCESS) << ptr;
  return n;
}

bool is_null(simdjson::dom::element e, const char* ptr) {
  simdjson::dom::element v;
  return e.at_pointer(ptr).get(v) == simdjson::SUCCESS && v.is_null();
}

bool has(simdjson::dom::element e, const char* ptr) {
  simdjson::dom::element v;
  return e.at_pointer(ptr).get(v) == simdjson::SUCCESS;
}

struct Sse {
  std::string event;
  std::string data;
};

std::vector<Sse> events_of(const Plan& p) {
  std::vector<Sse> out;
  for (const auto& e : p.events) {
    Sse s;
    std::string_view b = e.bytes;
    EXPECT_TRUE(b.ends_with("\n\n")) << b;
    while (!b.empty()) {
      auto nl = b.find('\n');
      std::string_view line = b.substr(0, nl);
      b.remove_prefix(nl + 1);
      if (line.starts_with("event: ")) s.event = line.substr(7);
      if (line.starts_with("data: ")) s.data = line.substr(6);
    }
    out.push_back(s);
  }
  return out;
}

const std::string kChatBody =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]})";

std::string default_text(int n) {
  std::string t;
  for (int i = 0; i < n; ++i) t += "tok" + std::to_string(i) + " ";
  return t;
}

TEST(MockChat, NonStreamShape) {
  Plan p = route(post("/v1/chat/completions", kChatBody));
  ASSERT_EQ(p.status, 200);
  ASSERT_FALSE(p.streaming);
  simdjson::dom::parser parser;
  auto doc = parse(parser, p.body);
  EXPECT_TRUE(str(doc, "/id").starts_with("chatcmpl-"));
  EXPECT_EQ(str(doc, "/object"), "chat.completion");
  EXPECT_EQ(num(doc, "/created"), 1700000000);
  EXPECT_EQ(str(doc, "/model"), "gpt-4o-mini");
  EXPECT_EQ(str(doc, "/choices/0/message/role"), "assistant");
  EXPECT_EQ(str(doc, "/choices/0/message/content"), default_text(16));
  EXPECT_TRUE(is_null(doc, "/choices/0/message/refusal"));
  EXPECT_TRUE(is_null(doc, "/choices/0/logprobs"));
  EXPECT_EQ(str(doc, "/choices/0/finish_reason"), "stop");
  // Prompt tokens follow the request's content (members other than stream_options).
  const std::int64_t p_tokens = num(doc, "/usage/prompt_tokens");
  EXPECT_GT(p_tokens, 0);
  EXPECT_LE(p_tokens, static_cast<std::int64_t>(kChatBody.size() / 4));
  EXPECT_EQ(num(doc, "/usage/completion_tokens"), 16);
  EXPECT_EQ(num(doc, "/usage/total_tokens"), p_tokens + 16);
  EXPECT_EQ(num(doc, "/usage/prompt_tokens_details/cached_tokens"), 0);
  EXPECT_EQ(num(doc, "/usage/completion_tokens_details/reasoning_tokens"), 0);
  EXPECT_EQ(str(doc, "/service_tier"), "default");
  EXPECT_EQ(str(doc, "/system_fingerprint"), "fp_mock");
}

TEST(MockChat, HeadersControlTokensAndCap) {
  std::string body = R"({"model":"m","max_completion_tokens":3,"messages":[]})";
  Plan p = route(post("/v1/chat/completions", body,
                      {{"x-mock-prompt-tokens", "100"},
                       {"x-mock-output-tokens", "50"},
                       {"x-mock-cached-tokens", "40"},
                       {"x-mock-reasoning-tokens", "7"}}));
  simdjson::dom::parser parser;
  auto doc = parse(parser, p.body);
  EXPECT_EQ(str(doc, "/choices/0/message/content"), "tok0 tok1 tok2 ");
  EXPECT_EQ(str(doc, "/choices/0/finish_reason"), "length");
  EXPECT_EQ(num(doc, "/usage/prompt_tokens"), 100);
  EXPECT_EQ(num(doc, "/usage/completion_tokens"), 3);
  EXPECT_EQ(num(doc, "/usage/total_tokens"), 103);
  EXPECT_EQ(num(doc, "/usage/prompt_tokens_details/cached_tokens"), 40);
  EXPECT_EQ(num(doc, "/usage/completion_tokens_details/reasoning_tokens"), 7);
}

TEST(MockChat, StreamWithoutUsage) {
  std::string body = R"({"model":"m","stream":true,"messages":[]})";
  Plan p = route(post("/v1/chat/completions", body, {{"x-mock-output-tokens", "4"}}));
  ASSERT_TRUE(p.streaming);
  auto ev = events_of(p);
  ASSERT_EQ(ev.size(), 1u + 4u + 1u + 1u);
  EXPECT_EQ(ev.back().data, "[DONE]");
  simdjson::dom::parser parser;
  std::string text;
  for (std::size_t i = 0; i + 1 < ev.size(); ++i) {
    auto c = parse(parser, ev[i].data);
    EXPECT_EQ(str(c, "/object"), "chat.completion.chunk");
    EXPECT_EQ(num(c, "/created"), 1700000000);
    EXPECT_FALSE(has(c, "/usage")) << ev[i].data;
    if (i == 0) {
      EXPECT_EQ(str(c, "/choices/0/delta/role"), "assistant");
      EXPECT_EQ(str(c, "/choices/0/delta/content"), "");
      EXPECT_TRUE(is_null(c, "/choices/0/delta/refusal"));
    } else if (i <= 4) {
      text += str(c, "/choices/0/delta/content");
      EXPECT_TRUE(is_null(c, "/choices/0/finish_reason"));
      EXPECT_TRUE(p.events[i].paced);
    } else {
      EXPECT_EQ(str(c, "/choices/0/finish_reason"), "stop");
    }
  }
  EXPECT_EQ(text, default_text(4));
}

TEST(MockChat, StreamIncludeUsage) {
  std::string body =
      R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]})";
  Plan p = route(post("/v1/chat/completions", body,
                      {{"x-mock-output-tokens", "3"}, {"x-mock-prompt-tokens", "9"}}));
  auto ev = events_of(p);
  ASSERT_EQ(ev.size(), 1u + 3u + 1u + 1u + 1u);
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i + 2 < ev.size(); ++i) {
    EXPECT_TRUE(ev[i].data.ends_with(",\"usage\":null}")) << ev[i].data;
    parse(parser, ev[i].data);
  }
  auto last = parse(parser, ev[ev.size() - 2].data);
  simdjson::dom::array choices;
  ASSERT_EQ(last["choices"].get_array().get(choices), simdjson::SUCCESS);
  EXPECT_EQ(choices.size(), 0u);
  EXPECT_EQ(num(last, "/usage/prompt_tokens"), 9);
  EXPECT_EQ(num(last, "/usage/completion_tokens"), 3);
  EXPECT_EQ(num(last, "/usage/total_tokens"), 12);
  EXPECT_EQ(ev.back().data, "[DONE]");
}

TEST(MockChat, ToolCall) {
  std::string tools = R"("tools":[{"type":"function","function":{"name":"lookup"}}])";
  std::string body = R"({"model":"m","messages":[],)" + tools + "}";
  Plan p = route(post("/v1/chat/completions", body, {{"x-mock-tool-call", "1"}}));
  simdjson::dom::parser parser;
  auto doc = parse(parser, p.body);
  EXPECT_EQ(str(doc, "/choices/0/finish_reason"), "tool_calls");
  EXPECT_TRUE(is_null(doc, "/choices/0/message/content"));
  EXPECT_EQ(str(doc, "/choices/0/message/tool_calls/0/function/name"), "lookup");
  std::string args(str(doc, "/choices/0/message/tool_calls/0/function/arguments"));
  simdjson::dom::parser p2;
  parse(p2, args);

  std::string sbody = R"({"model":"m","stream":true,"messages":[],)" + tools + "}";
  Plan s = route(post("/v1/chat/completions", sbody, {{"x-mock-tool-call", "1"}}));
  auto ev = events_of(s);
  std::string streamed;
  for (std::size_t i = 0; i + 1 < ev.size(); ++i) {
    auto c = parse(parser, ev[i].data);
    if (i == 0) {
      EXPECT_EQ(num(c, "/choices/0/delta/tool_calls/0/index"), 0);
      EXPECT_EQ(str(c, "/choices/0/delta/tool_calls/0/function/name"), "lookup");
      EXPECT_TRUE(str(c, "/choices/0/delta/tool_calls/0/id").starts_with("call_"));
    } else if (has(c, "/choices/0/delta/tool_calls")) {
      streamed += str(c, "/choices/0/delta/tool_calls/0/function/arguments");
    } else {
      EXPECT_EQ(str(c, "/choices/0/finish_reason"), "tool_calls");
    }
  }
  EXPECT_EQ(streamed, args);
  EXPECT_GT(ev.size(), 5u);  // arguments arrive over several chunks

  // Without tools in the request the header is ignored.
  Plan plain = route(post("/v1/chat/completions", kChatBody, {{"x-mock-tool-call", "1"}}));
  EXPECT_EQ(plain.body.find("tool_calls"), std::string::npos);
}

TEST(MockChat, ForcedTextSplitsOnUtf8Boundaries) {
  std::string text = "mail jane.doe@example.com now \xC3\xA9\xE2\x82\xAC!";
  auto pieces = split_text(text);
  std::string joined;
  for (const auto& s : pieces) {
    joined += s;
    EXPECT_GE(s.size(), pieces.back() == s ? 1u : 4u);
    EXPECT_NE(static_cast<unsigned char>(s[0]) & 0xC0, 0x80u) << "split inside a code point";
  }
  EXPECT_EQ(joined, text);

  std::string body = R"({"model":"m","stream":true,"messages":[]})";
  Plan p = route(post("/v1/chat/completions", body, {{"x-mock-text", text}}));
  simdjson::dom::parser parser;
  std::string got;
  for (const auto& e : events_of(p)) {
    if (e.data == "[DONE]") continue;
    auto c = parse(parser, e.data);
    std::string_view s;
    if (c.at_pointer("/choices/0/delta/content").get_string().get(s) == simdjson::SUCCESS) {
      got += s;
    }
  }
  EXPECT_EQ(got, text);

  Plan b64 = route(post("/v1/chat/completions", kChatBody,
                        {{"x-mock-text-b64", base64_encode("line1\nline2")}}));
  auto doc = parse(parser, b64.body);
  EXPECT_EQ(str(doc, "/choices/0/message/content"), "line1\nline2");
}

TEST(MockChat, Deterministic) {
  std::string body = R"({"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]})";
  Plan a = route(post("/v1/chat/completions", body));
  Plan b = route(post("/v1/chat/completions", body));
  auto fa = frame_response(a, 1, true, 11);
  auto fb = frame_response(b, 1, true, 11);
  ASSERT_EQ(fa.segments.size(), 1u);
  EXPECT_EQ(fa.segments[0].bytes, fb.segments[0].bytes);

  Plan c = route(post("/v1/chat/completions",
                      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"y"}]})"));
  EXPECT_NE(a.events[0].bytes, c.events[0].bytes) << "the id follows the content";
  // A proxy that adds stream_options upstream must get the same ids back.
  Plan d = route(post("/v1/chat/completions",
                      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":false}})"));
  EXPECT_EQ(a.events[0].bytes, d.events[0].bytes);
  Plan n1 = route(post("/v1/chat/completions", kChatBody));
  Plan n2 = route(post("/v1/chat/completions", kChatBody));
  EXPECT_EQ(n1.body, n2.body);
}

TEST(MockResponses, NonStream) {
  std::string body = R"({"model":"gpt-4o","input":"hi","instructions":"be brief"})";
  Plan p = route(
      post("/v1/responses", body, {{"x-mock-output-tokens", "2"}, {"x-mock-cached-tokens", "1"}}));
  simdjson::dom::parser parser;
  auto doc = parse(parser, p.body);
  EXPECT_TRUE(str(doc, "/id").starts_with("resp_"));
  EXPECT_EQ(str(doc, "/object"), "response");
  EXPECT_EQ(num(doc, "/created_at"), 1700000000);
  EXPECT_EQ(str(doc, "/status"), "completed");
  EXPECT_EQ(str(doc, "/instructions"), "be brief");
  EXPECT_EQ(str(doc, "/output/0/type"), "message");
  EXPECT_TRUE(str(doc, "/output/0/id").starts_with("msg_"));
  EXPECT_EQ(str(doc, "/output/0/content/0/type"), "output_text");
  EXPECT_EQ(str(doc, "/output/0/content/0/text"), "tok0 tok1 ");
  EXPECT_EQ(num(doc, "/usage/output_tokens"), 2);
  EXPECT_EQ(num(doc, "/usage/input_tokens_details/cached_tokens"), 1);
  EXPECT_EQ(num(doc, "/usage/total_tokens"), num(doc, "/usage/input_tokens") + 2);
  for (const char* f : {"/parallel_tool_calls", "/tool_choice", "/tools", "/text"}) {
    EXPECT_TRUE(has(doc, f)) << f;
  }

  Plan capped = route(post("/v1/responses", R"({"model":"m","input":"x","max_output_tokens":1})"));
  auto c = parse(parser, capped.body);
  EXPECT_EQ(str(c, "/status"), "incomplete");
  EXPECT_EQ(str(c, "/incomplete_details/reason"), "max_output_tokens");
}

TEST(MockResponses, Stream) {
  std::string body = R"({"model":"gpt-4o","input":"hi","stream":true})";
  Plan p = route(post("/v1/responses", body, {{"x-mock-output-tokens", "3"}}));
  auto ev = events_of(p);
  std::vector<std::string> types;
  simdjson::dom::parser parser;
  std::string text;
  for (std::size_t i = 0; i < ev.size(); ++i) {
    auto e = parse(parser, ev[i].data);
    EXPECT_EQ(str(e, "/type"), ev[i].event);
    EXPECT_EQ(num(e, "/sequence_number"), static_cast<std::int64_t>(i));
    types.push_back(ev[i].event);
    if (ev[i].event == "response.output_text.delta") text += str(e, "/delta");
    if (ev[i].event == "response.completed") {
      EXPECT_EQ(str(e, "/response/status"), "completed");
      EXPECT_EQ(num(e, "/response/usage/output_tokens"), 3);
      EXPECT_EQ(str(e, "/response/output/0/content/0/text"), text);
    }
    if (ev[i].event == "response.created") {
      EXPECT_TRUE(is_null(e, "/response/usage"));
    }
  }
  std::vector<std::string> want = {"response.created",           "response.in_progress",
                                   "response.output_item.added", "response.content_part.added",
                                   "response.output_text.delta", "response.output_text.delta",
                                   "response.output_text.delta", "response.output_text.done",
                                   "response.content_part.done", "response.output_item.done",
                                   "response.completed"};
  EXPECT_EQ(types, want);
  EXPECT_EQ(text, "tok0 tok1 tok2 ");
}

TEST(MockEmbeddings, FloatAndBase64Agree) {
  std::string body = R"({"model":"text-embedding-3-small","input":["a","b","a"]})";
  Plan f = route(post("/v1/embeddings", body));
  simdjson::dom::parser parser;
  auto doc = parse(parser, f.body);
  EXPECT_EQ(str(doc, "/object"), "list");
  simdjson::dom::array data;
  ASSERT_EQ(doc["data"].get_array().get(data), simdjson::SUCCESS);
  ASSERT_EQ(data.size(), 3u);
  EXPECT_EQ(num(doc, "/data/2/index"), 2);
  EXPECT_EQ(simdjson::minify(doc.at_pointer("/data/0/embedding")),
            simdjson::minify(doc.at_pointer("/data/2/embedding")));
  EXPECT_EQ(num(doc, "/usage/prompt_tokens"), num(doc, "/usage/total_tokens"));

  std::string b64body =
      R"({"model":"text-embedding-3-small","input":["a","b","a"],"encoding_format":"base64"})";
  Plan b = route(post("/v1/embeddings", b64body));
  simdjson::dom::parser p2;
  auto bdoc = parse(p2, b.body);
  std::string raw;
  ASSERT_TRUE(base64_decode(str(bdoc, "/data/1/embedding"), raw));
  ASSERT_EQ(raw.size(), 32u);
  simdjson::dom::array floats;
  ASSERT_EQ(doc.at_pointer("/data/1/embedding").get_array().get(floats), simdjson::SUCCESS);
  std::size_t k = 0;
  for (auto v : floats) {
    float decoded;
    std::memcpy(&decoded, raw.data() + 4 * k++, 4);  // little-endian host
    EXPECT_EQ(static_cast<double>(decoded), v.get_double().value());
  }

  Plan single = route(post("/v1/embeddings", R"({"model":"m","input":"a"})"));
  auto sdoc = parse(parser, single.body);
  EXPECT_EQ(simdjson::minify(sdoc.at_pointer("/data/0/embedding")),
            simdjson::minify(doc.at_pointer("/data/0/embedding")));
}

TEST(MockAnthropic, NonStream) {
  std::string body =
      R"({"model":"claude-x","max_tokens":1024,"messages":[{"role":"user","content":"hi"}]})";
  Plan p = route(post("/v1/messages", body,
                      {{"x-mock-cache-write-tokens", "5"}, {"x-mock-cached-tokens", "6"}}));
  simdjson::dom::parser parser;
  auto doc = parse(parser, p.body);
  EXPECT_TRUE(str(doc, "/id").starts_with("msg_"));
  EXPECT_EQ(str(doc, "/type"), "message");
  EXPECT_EQ(str(doc, "/role"), "assistant");
  EXPECT_EQ(str(doc, "/model"), "claude-x");
  EXPECT_EQ(str(doc, "/content/0/type"), "text");
  EXPECT_EQ(str(doc, "/content/0/text"), default_text(16));
  EXPECT_EQ(str(doc, "/stop_reason"), "end_turn");
  EXPECT_TRUE(is_null(doc, "/stop_sequence"));
  EXPECT_EQ(num(doc, "/usage/cache_creation_input_tokens"), 5);
  EXPECT_EQ(num(doc, "/usage/cache_read_input_tokens"), 6);
  EXPECT_EQ(num(doc, "/usage/output_tokens"), 16);

  Plan capped = route(post("/v1/messages", R"({"model":"c","max_tokens":2,"messages":[]})"));
  auto c = parse(parser, capped.body);
  EXPECT_EQ(str(c, "/stop_reason"), "max_tokens");
  EXPECT_EQ(num(c, "/usage/output_tokens"), 2);
}

TEST(MockAnthropic, Stream) {
  std::string body = R"({"model":"claude-x","max_tokens":100,"stream":true,"messages":[]})";
  Plan p = route(post("/v1/messages", body, {{"x-mock-output-tokens", "2"}}));
  auto ev = events_of(p);
  std::vector<std::string> types;
  simdjson::dom::parser parser;
  std::string text;
  for (const auto& e : ev) {
    auto d = parse(parser, e.data);
    EXPECT_EQ(str(d, "/type"), e.event);
    types.push_back(e.event);
    if (e.event == "message_start") {
      EXPECT_EQ(num(d, "/message/usage/output_tokens"), 1);
      EXPECT_TRUE(is_null(d, "/message/stop_reason"));
    }
    if (e.event == "content_block_delta") {
      EXPECT_EQ(str(d, "/delta/type"), "text_delta");
      text += str(d, "/delta/text");
    }
    if (e.event == "message_delta") {
      EXPECT_EQ(str(d, "/delta/stop_reason"), "end_turn");
      EXPECT_EQ(num(d, "/usage/output_tokens"), 2);
    }
  }
  std::vector<std::string> want = {
      "message_start",       "content_block_start", "ping",          "content_block_delta",
      "content_block_delta", "content_block_stop",  "message_delta", "message_stop"};
  EXPECT_EQ(types, want);
  EXPECT_EQ(text, "tok0 tok1 ");
}

TEST(MockErrors, ProviderShapes) {
  simdjson::dom::parser parser;
  Plan bad = route(post("/v1/chat/completions", "{not json"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(str(parse(parser, bad.body), "/error/type"), "invalid_request_error");

  Plan abad = route(post("/v1/messages", "[1,2"));
  EXPECT_EQ(abad.status, 400);
  auto ad = parse(parser, abad.body);
  EXPECT_EQ(str(ad, "/type"), "error");
  EXPECT_EQ(str(ad, "/error/type"), "invalid_request_error");

  Plan nf = route(post("/v1/nope", "{}"));
  EXPECT_EQ(nf.status, 404);
  EXPECT_TRUE(has(parse(parser, nf.body), "/error/message"));

  MockRequest get;
  get.method = "GET";
  get.target = "/v1/models";
  Plan models = route(get);
  EXPECT_EQ(models.status, 200);
  EXPECT_EQ(str(parse(parser, models.body), "/data/1/object"), "model");

  Plan unknown = route(post("/v1/chat/completions", kChatBody, {{"x-mock-fault", "nope"}}));
  EXPECT_EQ(unknown.status, 400);
}

TEST(MockFaults, RateLimitAndServerError) {
  simdjson::dom::parser parser;
  Plan o = route(post("/v1/chat/completions", kChatBody, {{"x-mock-fault", "429"}}));
  EXPECT_EQ(o.status, 429);
  EXPECT_EQ(str(parse(parser, o.body), "/error/code"), "rate_limit_exceeded");
  bool retry_after = false;
  for (const auto& h : o.headers) retry_after |= h.name == "retry-after" && h.value == "1";
  EXPECT_TRUE(retry_after);

  Plan a = route(post("/v1/messages", R"({"model":"claude@fault=429","max_tokens":5})"));
  EXPECT_EQ(a.status, 429);
  EXPECT_EQ(str(parse(parser, a.body), "/error/type"), "rate_limit_error");

  Plan s =
      route(post("/v1/messages", R"({"model":"c","max_tokens":5})", {{"x-mock-fault", "500"}}));
  EXPECT_EQ(s.status, 500);
  EXPECT_EQ(str(parse(parser, s.body), "/error/type"), "api_error");
}

TEST(MockFaults, StreamFaults) {
  std::string body = R"({"model":"m@fault=reset-mid-stream","stream":true,"messages":[]})";
  Plan r = route(post("/v1/chat/completions", body));
  EXPECT_EQ(r.ending, Ending::kReset);
  EXPECT_LT(r.cut, r.events.size());
  EXPECT_NE(r.events[0].bytes.find("\"model\":\"m\""), std::string::npos) << "suffix stripped";

  std::string ok = R"({"model":"c","stream":true,"max_tokens":50,"messages":[]})";
  Plan e = route(post("/v1/messages", ok, {{"x-mock-fault", "error-event"}}));
  EXPECT_EQ(e.ending, Ending::kNormal);
  EXPECT_TRUE(e.tail.starts_with("event: error\ndata: {\"type\":\"error\""));
  EXPECT_NE(e.tail.find("overloaded_error"), std::string::npos);

  Plan m = route(post("/v1/chat/completions", R"({"model":"m","stream":true})",
                      {{"x-mock-fault", "malformed-sse"}}));
  EXPECT_FALSE(m.tail.empty());
  EXPECT_LT(m.cut, m.events.size());

  Plan t = route(post("/v1/chat/completions", kChatBody, {{"x-mock-fault", "truncated-json"}}));
  EXPECT_EQ(t.ending, Ending::kCloseFin);
  EXPECT_EQ(t.cut, t.body.size() / 2);
  auto ft = frame_response(t, 1, true, 11);
  EXPECT_NE(ft.segments[0].bytes.find("Content-Length: " + std::to_string(t.body.size())),
            std::string::npos);
  EXPECT_FALSE(ft.segments[0].bytes.ends_with(t.body));

  Plan c =
      route(post("/v1/chat/completions", kChatBody, {{"x-mock-fault", "close-before-headers"}}));
  EXPECT_EQ(c.ending, Ending::kNoResponse);
  EXPECT_TRUE(frame_response(c, 1, true, 11).segments.empty());

  Plan slow = route(post("/v1/chat/completions", kChatBody, {{"x-mock-fault", "slow-headers"}}));
  EXPECT_EQ(slow.header_delay_ms, 3000);
}

// Decodes a chunked body: returns the payload, or "" with ok=false on a framing error.
std::string dechunk(std::string_view s, bool& ok) {
  std::string out;
  ok = false;
  for (;;) {
    auto nl = s.find("\r\n");
    if (nl == std::string_view::npos) return out;
    std::size_t n = std::stoul(std::string(s.substr(0, nl)), nullptr, 16);
    s.remove_prefix(nl + 2);
    if (n == 0) {
      ok = s == "\r\n";
      return out;
    }
    out += s.substr(0, n);
    if (s.substr(n, 2) != "\r\n") return out;
    s.remove_prefix(n + 2);
  }
}

TEST(MockFraming, ChunkedAndPaced) {
  std::string body = R"({"model":"m","stream":true})";
  Plan p = route(post("/v1/chat/completions", body, {{"x-mock-output-tokens", "3"}}));
  auto f = frame_response(p, 42, true, 11);
  ASSERT_EQ(f.segments.size(), 1u);
  const std::string& all = f.segments[0].bytes;
  auto head_end = all.find("\r\n\r\n");
  std::string head = all.substr(0, head_end);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(head.find("text/event-stream"), std::string::npos);
  EXPECT_NE(head.find("x-request-id: mock-42"), std::string::npos);
  EXPECT_EQ(head.find("Connection"), std::string::npos);
  bool ok = false;
  std::string payload = dechunk(std::string_view(all).substr(head_end + 4), ok);
  EXPECT_TRUE(ok);
  std::string expect;
  for (const auto& e : p.events) expect += e.bytes;
  EXPECT_EQ(payload, expect);

  Plan paced = route(post(
      "/v1/chat/completions", body,
      {{"x-mock-output-tokens", "3"}, {"x-mock-token-delay-ms", "5"}, {"x-mock-ttft-ms", "7"}}));
  auto fp = frame_response(paced, 1, false, 11);
  ASSERT_EQ(fp.segments.size(), 4u);  // head+role, 3 paced tokens (+finish, [DONE], end)
  EXPECT_EQ(fp.segments[0].delay_ms, 7);
  EXPECT_EQ(fp.segments[1].delay_ms, 5);
  EXPECT_TRUE(fp.close_after);
  EXPECT_NE(fp.segments[0].bytes.find("Connection: close"), std::string::npos);

  auto f10 = frame_response(p, 1, false, 10);  // HTTP/1.0: no chunking, close-delimited
  EXPECT_EQ(f10.segments[0].bytes.find("chunked"), std::string::npos);
  EXPECT_TRUE(f10.close_after);
}

TEST(MockRecorder, EntriesAndReset) {
  Recorder rec(2);
  MockRequest r = post("/v1/chat/completions?x=1", "{\"a\":\"\xff\"}",
                       {{"content-type", "application/json"}, {"x-dup", "a"}, {"x-dup", "b"}});
  rec.record(r, rec.next_seq(), 10, std::nullopt);
  rec.record(r, rec.next_seq(), 20, 25);
  rec.record(r, rec.next_seq(), 30, std::nullopt);
  std::string all = rec.entries_json();
  simdjson::dom::parser parser;
  auto doc = parse(parser, all);
  simdjson::dom::array arr;
  ASSERT_EQ(doc.get_array().get(arr), simdjson::SUCCESS);
  ASSERT_EQ(arr.size(), 2u);  // ring of 2
  EXPECT_EQ(num(doc, "/0/seq"), 2);
  EXPECT_EQ(num(doc, "/0/t_closed_us"), 25);
  EXPECT_EQ(str(doc, "/0/outcome"), "peer_closed");
  EXPECT_EQ(str(doc, "/1/outcome"), "complete");
  EXPECT_TRUE(is_null(doc, "/1/t_closed_us"));
  EXPECT_EQ(str(doc, "/1/headers/x-dup"), "a, b");
  EXPECT_EQ(str(doc, "/1/target"), "/v1/chat/completions?x=1");
  rec.reset();
  EXPECT_EQ(rec.entries_json(), "[]");
  EXPECT_EQ(rec.next_seq(), 1u);
}

TEST(MockJson, EscapesAndIds) {
  EXPECT_EQ(json_string("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(json_string("\xC3\xA9"), "\"\xC3\xA9\"");
  EXPECT_EQ(json_string("\xC3"), "\"\xEF\xBF\xBD\"");
  EXPECT_EQ(hex_id(1, "x").size(), 24u);
  EXPECT_EQ(hex_id(1, "x"), hex_id(1, "x"));
  EXPECT_NE(hex_id(1, "x"), hex_id(2, "x"));
  std::string back;
  ASSERT_TRUE(base64_decode(base64_encode("hello!?"), back));
  EXPECT_EQ(back, "hello!?");
}

}  // namespace
}  // namespace sluice::mock
