// StreamAdapter on OpenAI chat completion chunks.
#include <gtest/gtest.h>

#include "proxy/providers/adapter.h"
#include "sse_test_util.h"

namespace sluice {
namespace {

using testing::data_event;
using testing::run_stream;
using testing::SseText;
using testing::valid_json;
using Kind = Channel::Kind;

constexpr std::string_view kUsage =
    R"({"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,)"
    R"("prompt_tokens_details":{"cached_tokens":8,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":3,"audio_tokens":0}})";

// One chunk the way OpenAI (and the mock) writes it; with_usage adds `"usage":null` last.
std::string chunk(std::string_view delta, std::string_view finish = "null",
                  bool with_usage = false) {
  std::string c =
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
      R"("model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_1",)"
      R"("choices":[{"index":0,"delta":)";
  c += delta;
  c += R"(,"logprobs":null,"finish_reason":)";
  c += finish;
  c += "}]";
  if (with_usage) c += R"(,"usage":null)";
  c += "}";
  return data_event(c);
}

std::string usage_chunk() {
  return data_event(
      std::string(R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
                  R"("model":"gpt-4o-2024-08-06","service_tier":"default",)"
                  R"("system_fingerprint":"fp_1","choices":[],"usage":)") +
      std::string(kUsage) + "}");
}

// The stream a server sends for a short answer, with or without include_usage.
std::string chat_stream(bool with_usage) {
  std::string s;
  s += chunk(R"({"role":"assistant","content":"","refusal":null})", "null", with_usage);
  s += chunk(R"({"content":"Hello"})", "null", with_usage);
  s += chunk(R"({"content":" world"})", "null", with_usage);
  s += chunk("{}", "\"stop\"", with_usage);
  if (with_usage) s += usage_chunk();
  s += "data: [DONE]\n\n";
  return s;
}

StreamAdapter chat(bool strip = false, bool decode = false) {
  return StreamAdapter(ApiKind::kChatCompletions, Provider::kOpenAI, {strip, decode});
}

TEST(ChatStream, UsageChunkWithEmptyChoices) {
  StreamAdapter a = chat();
  SseText s(chat_stream(true));
  auto r = run_stream(a, s);
  EXPECT_EQ(r.out, s.text());  // nothing changes without strip_usage
  const ResponseFacts& f = a.facts();
  EXPECT_EQ(f.usage.source, TokenUsage::Source::kProvider);
  EXPECT_EQ(f.usage.input_tokens, 19);
  EXPECT_EQ(f.usage.cached_input_tokens, 8);
  EXPECT_EQ(f.usage.output_tokens, 10);
  EXPECT_EQ(f.usage.reasoning_tokens, 3);
  EXPECT_EQ(f.served_model, "gpt-4o-2024-08-06");
  EXPECT_EQ(f.finish_reason, "stop");
  EXPECT_TRUE(a.saw_terminal());
  EXPECT_TRUE(r.events.back().terminal);
  EXPECT_EQ(a.malformed_events(), 0u);
  EXPECT_EQ(a.streamed_text_bytes(), 11);
}

TEST(ChatStream, UsageOnFinalChunkWithChoices) {  // LiteLLM #36168
  StreamAdapter a = chat();
  SseText s(chunk(R"({"content":"Hi"})") +
            data_event(std::string(R"({"id":"x","choices":[{"index":0,"delta":{},)"
                                   R"("finish_reason":"stop"}],"usage":)") +
                       std::string(kUsage) + "}") +
            "data: [DONE]\n\n");
  run_stream(a, s);
  EXPECT_EQ(a.facts().usage.input_tokens, 19);
  EXPECT_EQ(a.facts().usage.output_tokens, 10);
  EXPECT_EQ(a.facts().finish_reason, "stop");
}

TEST(ChatStream, NoUsageAtAll) {
  StreamAdapter a = chat();
  SseText s(chat_stream(false));
  run_stream(a, s);
  EXPECT_EQ(a.facts().usage.source, TokenUsage::Source::kNone);
  EXPECT_EQ(a.facts().usage.output_tokens, 0);
  EXPECT_EQ(a.streamed_text_bytes(), 11);  // the basis for an estimate
}

TEST(ChatStream, StripUsageGivesTheBytesOfAStreamWithoutUsage) {
  StreamAdapter a = chat(/*strip=*/true);
  SseText s(chat_stream(true));
  auto r = run_stream(a, s);
  EXPECT_EQ(r.out, chat_stream(false));
  EXPECT_TRUE(r.events[4].drop);  // the usage-only chunk
  EXPECT_EQ(a.facts().usage.output_tokens, 10);
}

TEST(ChatStream, StripUsageWithDecodeTextToo) {
  StreamAdapter a = chat(true, true);
  SseText s(chat_stream(true));
  EXPECT_EQ(run_stream(a, s).out, chat_stream(false));
}

TEST(ChatStream, StripUsageNullInAnyPosition) {
  StreamAdapter a = chat(true);
  SseText s(
      data_event(R"({"usage":null,"id":"a","choices":[{"index":0,"delta":{"content":"x"}}]})") +
      data_event(R"({"id":"a","usage":null,"choices":[]})") +
      data_event(R"({"id":"a", "usage" : null })"));
  auto r = run_stream(a, s);
  EXPECT_EQ(r.out, data_event(R"({"id":"a","choices":[{"index":0,"delta":{"content":"x"}}]})") +
                       data_event(R"({"id":"a","choices":[]})") + data_event(R"({"id":"a" })"));
}

TEST(ChatStream, StripUsageRemovesUsageFromAChunkThatAlsoHasChoices) {
  StreamAdapter a = chat(true);
  SseText s(data_event(std::string(R"({"id":"a","choices":[{"index":0,"delta":{},)"
                                   R"("finish_reason":"stop"}],"usage":)") +
                       std::string(kUsage) + "}"));
  auto r = run_stream(a, s);
  EXPECT_FALSE(r.events[0].drop);
  EXPECT_EQ(r.out,
            data_event(R"({"id":"a","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"));
  EXPECT_EQ(a.facts().usage.input_tokens, 19);
}

TEST(ChatStream, DecodesEscapedText) {
  StreamAdapter a = chat(false, true);
  SseText s(chunk(R"({"content":"user\u0040exa"})") +
            chunk(R"({"content":"mple.com \"q\" \ud83d\ude00"})"));
  auto r = run_stream(a, s);
  ASSERT_EQ(r.events[0].deltas.size(), 1u);
  EXPECT_EQ(r.events[0].deltas[0].text, "user@exa");
  EXPECT_EQ(r.events[0].deltas[0].channel, (Channel{Kind::kText, 0, 0, -1}));
  EXPECT_EQ(r.events[1].deltas[0].text, "mple.com \"q\" \xF0\x9F\x98\x80");
  EXPECT_EQ(r.out, s.text());
  EXPECT_EQ(a.streamed_text_bytes(), 8 + 17);
}

TEST(ChatStream, ToolCallArgumentsAndReasoning) {
  StreamAdapter a = chat(false, true);
  SseText s(
      data_event(R"({"id":"a","choices":[{"delta":{"reasoning_content":"think"},"index":1}]})") +
      data_event(
          R"({"id":"a","choices":[{"index":1,"delta":{"tool_calls":[)"
          R"({"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}},)"
          R"({"index":2,"function":{"arguments":"{\"q\":"}}]}}]})") +
      data_event(R"({"id":"a","choices":[{"index":1,"delta":{},"finish_reason":"tool_calls"}]})"));
  auto r = run_stream(a, s);
  ASSERT_EQ(r.events[0].deltas.size(), 1u);
  EXPECT_EQ(r.events[0].deltas[0].channel, (Channel{Kind::kReasoning, 1, 0, -1}));
  ASSERT_EQ(r.events[1].deltas.size(), 2u);
  EXPECT_EQ(r.events[1].deltas[0].channel, (Channel{Kind::kToolArguments, 1, 0, 0}));
  EXPECT_EQ(r.events[1].deltas[0].text, "");
  EXPECT_EQ(r.events[1].deltas[1].channel, (Channel{Kind::kToolArguments, 1, 0, 2}));
  EXPECT_EQ(r.events[1].deltas[1].text, "{\"q\":");
  const auto& closing = r.events[2].closing;
  ASSERT_EQ(closing.size(), 4u);
  EXPECT_EQ(closing[0], (Channel{Kind::kText, 1, 0, -1}));
  EXPECT_EQ(closing[1], (Channel{Kind::kReasoning, 1, 0, -1}));
  EXPECT_EQ(closing[2], (Channel{Kind::kToolArguments, 1, 0, 0}));
  EXPECT_EQ(closing[3], (Channel{Kind::kToolArguments, 1, 0, 2}));
  EXPECT_EQ(a.facts().finish_reason, "tool_calls");
}

TEST(ChatStream, RenderSplicesModifiedDelta) {
  StreamAdapter a = chat(false, true);
  SseText s(chunk(R"({"content":"mail me: a@b.co"})") + chunk(R"({"content":"untouched"})"));
  auto r = run_stream(a, s, [](ResponseEvent& ev) {
    for (auto& d : ev.deltas) {
      if (d.text.find('@') != std::string::npos) {
        d.text = "mail me: [EMAIL] \"\n";
        d.modified = true;
      }
    }
  });
  EXPECT_EQ(r.out,
            chunk(R"({"content":"mail me: [EMAIL] \"\n"})") + chunk(R"({"content":"untouched"})"));
}

TEST(ChatStream, RenderModifiedDeltaAndStripTogetherInMultiLineData) {
  StreamAdapter a = chat(true, true);
  SseText s(
      "id: 7\ndata: {\"id\":\"a\",\ndata:  "
      "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],"
      "\ndata: \"usage\":null}\n\n");
  auto r = run_stream(a, s, [](ResponseEvent& ev) {
    ev.deltas[0].text = "y";
    ev.deltas[0].modified = true;
  });
  EXPECT_EQ(r.out,
            "id: 7\ndata: {\"id\":\"a\",\ndata:  "
            "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"y\"}}]}\n\n");
}

TEST(ChatStream, EmitBeforeAndDrop) {
  StreamAdapter a = chat(false, true);
  SseText s(chunk(R"({"content":"Hello"})") + chunk(R"({"content":"!"})"));
  auto r = run_stream(a, s, [](ResponseEvent& ev) {
    if (ev.deltas[0].text == "Hello") {
      ev.drop = true;
    } else {
      ev.emit_before.push_back({Channel{}, "Hel", false});
    }
  });
  SseText out(r.out);
  ASSERT_EQ(out.blocks().size(), 2u);
  EXPECT_TRUE(valid_json(out.blocks()[0].data));
  EXPECT_NE(out.blocks()[0].data.find(
                R"("choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}])"),
            std::string_view::npos);
  EXPECT_EQ(out.blocks()[1].raw, chunk(R"({"content":"!"})"));
}

TEST(ChatStream, OnlyTextMarksChunksThatCarryNothingButText) {
  StreamAdapter a = chat(true, true);
  SseText s(chat_stream(true) +
            data_event(R"({"id":"a","x":1,"choices":[{"index":0,"delta":{"content":"x"}}]})") +
            chunk(R"({"content":"y","refusal":"no"})") +
            chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]})") +
            data_event(R"({"id":"a","choices":[{"index":0,"delta":{"content":"z"},)"
                       R"("logprobs":{"content":[]}}]})") +
            data_event(R"({"id":"a","choices":[{"index":0,"delta":{"content":"w"}}],)"
                       R"("obfuscation":"abc"})"));
  auto r = run_stream(a, s);
  std::vector<bool> only;
  for (const auto& ev : r.events) only.push_back(ev.only_text);
  // role chunk, "Hello", " world", finish, usage, [DONE], unknown member, refusal, tool call,
  // logprobs, obfuscation padding
  EXPECT_EQ(only, (std::vector<bool>{false, true, true, false, false, false, false, false, false,
                                     false, true}));
}

TEST(ChatStream, RenderTextCopiesStreamIdentity) {
  StreamAdapter a = chat(false, true);
  SseText s(chunk(R"({"content":"x"})"));
  run_stream(a, s);
  std::string out;
  a.render_text({Channel{Kind::kText, 0}, "held \"back\"", false}, out);
  a.render_text({Channel{Kind::kToolArguments, 0, 0, 3}, "{}", false}, out);
  a.render_text({Channel{Kind::kReasoning, 0}, "hm", false}, out);
  a.render_text({Channel{Kind::kText, 0}, "", false}, out);  // nothing
  SseText o(out);
  ASSERT_EQ(o.blocks().size(), 3u);
  for (const auto& b : o.blocks()) EXPECT_TRUE(valid_json(b.data)) << b.data;
  EXPECT_EQ(
      o.blocks()[0].data,
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
      R"("model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"held \"back\""},)"
      R"("finish_reason":null}]})");
  EXPECT_NE(o.blocks()[1].data.find(
                R"("delta":{"tool_calls":[{"index":3,"function":{"arguments":"{}"}}]})"),
            std::string_view::npos);
  EXPECT_NE(o.blocks()[2].data.find(R"("delta":{"reasoning_content":"hm"})"),
            std::string_view::npos);
}

TEST(ChatStream, RenderEndClean) {
  StreamAdapter a = chat(false, true);
  SseText s(chunk(R"({"content":"x"})"));
  run_stream(a, s);
  std::string out;
  StreamEnd end;
  end.mode = StreamEnd::Mode::kClean;
  end.finish_reason = "max_tokens";  // Anthropic wording is mapped
  a.render_end(end, out);
  SseText o(out);
  ASSERT_EQ(o.blocks().size(), 2u);
  EXPECT_TRUE(valid_json(o.blocks()[0].data));
  EXPECT_NE(
      o.blocks()[0].data.find(R"("choices":[{"index":0,"delta":{},"finish_reason":"length"}])"),
      std::string_view::npos);
  EXPECT_EQ(o.blocks()[1].raw, "data: [DONE]\n\n");
}

TEST(ChatStream, RenderEndErrorAndUpstreamError) {
  StreamAdapter a = chat();
  std::string out;
  StreamEnd end;
  end.mode = StreamEnd::Mode::kError;
  end.error.type = "invalid_request_error";
  end.error.code = "pii_blocked";
  end.error.message = "output blocked";
  a.render_end(end, out);
  EXPECT_EQ(out,
            "data: {\"error\":{\"message\":\"sluice: output blocked\","
            "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"pii_blocked\"}}\n\n");
  out.clear();
  a.render_upstream_error("upstream reset", out);
  EXPECT_EQ(out,
            "data: {\"error\":{\"message\":\"sluice: upstream reset\","
            "\"type\":\"upstream_error\",\"param\":null,\"code\":null}}\n\n");
}

TEST(ChatStream, ErrorChunkMarksError) {
  StreamAdapter a = chat();
  SseText s(chunk(R"({"content":"x"})") +
            data_event(R"({"error":{"message":"overloaded","type":"server_error"}})"));
  auto r = run_stream(a, s);
  EXPECT_TRUE(a.facts().is_error);
  EXPECT_TRUE(r.events[1].terminal);
}

TEST(ChatStream, MalformedEventCountedAndPassedThrough) {
  StreamAdapter a = chat(true, true);
  SseText s(data_event(R"({"choices":[{"delta":{"content":"a"}}],"usage":null)") +  // cut short
            data_event(R"({"choices":[]} trailing)") + data_event("not json") +
            data_event(R"({"choices":[{"delta":{"content":"\x"}}]})") + ": keep-alive\n\n" +
            chunk(R"({"content":"ok"})", "null", true));
  auto r = run_stream(a, s);
  EXPECT_EQ(a.malformed_events(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.events[i].deltas.empty());
  EXPECT_EQ(r.out, data_event(R"({"choices":[{"delta":{"content":"a"}}],"usage":null)") +
                       data_event(R"({"choices":[]} trailing)") + data_event("not json") +
                       data_event(R"({"choices":[{"delta":{"content":"\x"}}]})") +
                       ": keep-alive\n\n" + chunk(R"({"content":"ok"})"));
  EXPECT_EQ(a.streamed_text_bytes(), 2);
}

TEST(ChatStream, OversizeBlocksAreLeftAlone) {
  StreamAdapter a = chat(true, true);
  SseBlock b;
  b.raw = "data: {\"choices\":[],\"usage\":null";
  b.oversize = true;
  ResponseEvent ev;
  a.inspect(b, ev);
  std::string out;
  a.render(ev, out);
  EXPECT_EQ(out, b.raw);
  EXPECT_EQ(a.malformed_events(), 0u);
}

TEST(PassthroughStream, ReadsOpenAIShapedUsageButDecodesNothing) {
  StreamAdapter a(ApiKind::kPassthrough, Provider::kOpenAICompatible, {false, true});
  SseText s(
      data_event(R"({"id":"c","object":"text_completion","model":"llama-3",)"
                 R"("choices":[{"text":"Hi","index":0,"finish_reason":null}]})") +
      data_event(R"({"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}})") +
      "data: [DONE]\n\n");
  auto r = run_stream(a, s);
  EXPECT_EQ(r.out, s.text());
  EXPECT_TRUE(r.events[0].deltas.empty());
  EXPECT_EQ(a.facts().usage.input_tokens, 5);
  EXPECT_EQ(a.facts().usage.output_tokens, 1);
  EXPECT_EQ(a.facts().served_model, "llama-3");
  EXPECT_EQ(a.streamed_text_bytes(), 2);
  EXPECT_TRUE(a.saw_terminal());
}

TEST(PassthroughStream, DataThatIsNotJsonIsNotMalformedThere) {
  StreamAdapter a(ApiKind::kPassthrough, Provider::kOpenAICompatible, {false, false});
  SseText s("event: progress\ndata: 42%\n\n" + data_event("plain text"));
  auto r = run_stream(a, s);
  EXPECT_EQ(r.out, s.text());
  EXPECT_EQ(a.malformed_events(), 0u);
  EXPECT_EQ(r.types[0], "progress");
}

}  // namespace
}  // namespace sluice
