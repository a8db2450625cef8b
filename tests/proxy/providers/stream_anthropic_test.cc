// StreamAdapter on Anthropic message streams.
#include <gtest/gtest.h>

#include "proxy/providers/adapter.h"
#include "sse_test_util.h"

namespace sluice {
namespace {

using testing::named_event;
using testing::run_stream;
using testing::SseText;
using testing::valid_json;
using Kind = Channel::Kind;

std::string message_start(std::string_view usage) {
  return named_event("message_start",
                     R"({"type":"message_start","message":{"id":"msg_1","type":"message",)"
                     R"("role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],)"
                     R"("stop_reason":null,"stop_sequence":null,"usage":)" +
                         std::string(usage) + "}}");
}

std::string block_start(int index, std::string_view block) {
  return named_event("content_block_start", R"({"type":"content_block_start","index":)" +
                                                std::to_string(index) + R"(,"content_block":)" +
                                                std::string(block) + "}");
}

std::string block_delta(int index, std::string_view delta) {
  return named_event("content_block_delta", R"({"type":"content_block_delta","index":)" +
                                                std::to_string(index) + R"(,"delta":)" +
                                                std::string(delta) + "}");
}

std::string block_stop(int index) {
  return named_event("content_block_stop",
                     R"({"type":"content_block_stop","index":)" + std::to_string(index) + "}");
}

std::string message_delta(std::string_view stop, std::string_view usage) {
  return named_event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":)" +
                                          std::string(stop) + R"(,"stop_sequence":null},"usage":)" +
                                          std::string(usage) + "}");
}

const std::string kStop = named_event("message_stop", R"({"type":"message_stop"})");

StreamAdapter anthropic(bool decode = false) {
  return StreamAdapter(ApiKind::kMessages, Provider::kAnthropic, {false, decode});
}

TEST(AnthropicStream, LastCumulativeOutputWinsAndCacheIsNormalized) {
  StreamAdapter a = anthropic();
  SseText s(message_start(R"({"input_tokens":25,"cache_creation_input_tokens":100,)"
                          R"("cache_read_input_tokens":2000,"output_tokens":1})") +
            named_event("ping", R"({"type": "ping"})") +
            block_start(0, R"({"type":"text","text":""})") +
            block_delta(0, R"({"type":"text_delta","text":"Hello"})") +
            message_delta("null", R"({"output_tokens":5})") +
            block_delta(0, R"({"type":"text_delta","text":"!"})") + block_stop(0) +
            message_delta(R"("end_turn")", R"({"output_tokens":15})") + kStop);
  auto r = run_stream(a, s);
  EXPECT_EQ(r.out, s.text());
  const ResponseFacts& f = a.facts();
  EXPECT_EQ(f.usage.source, TokenUsage::Source::kProvider);
  EXPECT_EQ(f.usage.input_tokens, 2125);  // 25 + 100 + 2000
  EXPECT_EQ(f.usage.cached_input_tokens, 2000);
  EXPECT_EQ(f.usage.cache_write_tokens, 100);
  EXPECT_EQ(f.usage.output_tokens, 15);  // not 1 + 5 + 15 (Higress #1080)
  EXPECT_EQ(f.finish_reason, "end_turn");
  EXPECT_EQ(f.served_model, "claude-sonnet-4-5-20250929");
  EXPECT_TRUE(a.saw_terminal());
  EXPECT_TRUE(r.events.back().terminal);
  EXPECT_EQ(r.types[0], "message_start");
  EXPECT_EQ(a.streamed_text_bytes(), 6);
}

TEST(AnthropicStream, MessageDeltaMayCarryInputAndCacheCounts) {
  StreamAdapter a = anthropic();
  SseText s(message_start(R"({"input_tokens":25,"output_tokens":1})") +
            message_delta(R"("max_tokens")",
                          R"({"input_tokens":30,"cache_creation_input_tokens":0,)"
                          R"("cache_read_input_tokens":70,"output_tokens":64})") +
            kStop);
  run_stream(a, s);
  EXPECT_EQ(a.facts().usage.input_tokens, 100);
  EXPECT_EQ(a.facts().usage.cached_input_tokens, 70);
  EXPECT_EQ(a.facts().usage.output_tokens, 64);
  EXPECT_EQ(a.facts().finish_reason, "max_tokens");
}

TEST(AnthropicStream, DeltasPerBlockKindAndClosing) {
  StreamAdapter a = anthropic(true);
  SseText s(message_start(R"({"input_tokens":1,"output_tokens":1})") +
            block_start(0, R"({"type":"thinking","thinking":""})") +
            block_delta(0, R"({"type":"thinking_delta","thinking":"let me"})") +
            block_delta(0, R"({"type":"signature_delta","signature":"abc"})") + block_stop(0) +
            block_start(1, R"({"type":"text","text":""})") +
            block_delta(1, R"({"type":"text_delta","text":"a\u0040b.c"})") + block_stop(1) +
            block_start(2, R"({"type":"tool_use","id":"t","name":"f","input":{}})") +
            block_delta(2, R"({"type":"input_json_delta","partial_json":"{\"q\": 1"})") +
            block_stop(2));
  auto r = run_stream(a, s);
  ASSERT_EQ(r.events[2].deltas.size(), 1u);
  EXPECT_EQ(r.events[2].deltas[0].channel, (Channel{Kind::kReasoning, 0, 0, -1}));
  EXPECT_EQ(r.events[2].deltas[0].text, "let me");
  EXPECT_TRUE(r.events[3].deltas.empty());
  EXPECT_EQ(r.events[4].closing, std::vector<Channel>{(Channel{Kind::kReasoning, 0, 0, -1})});
  EXPECT_EQ(r.events[6].deltas[0].channel, (Channel{Kind::kText, 0, 1, -1}));
  EXPECT_EQ(r.events[6].deltas[0].text, "a@b.c");
  EXPECT_EQ(r.events[7].closing, std::vector<Channel>{(Channel{Kind::kText, 0, 1, -1})});
  EXPECT_EQ(r.events[9].deltas[0].channel, (Channel{Kind::kToolArguments, 0, 2, -1}));
  EXPECT_EQ(r.events[9].deltas[0].text, "{\"q\": 1");
  EXPECT_EQ(r.events[10].closing, std::vector<Channel>{(Channel{Kind::kToolArguments, 0, 2, -1})});
  EXPECT_EQ(a.streamed_text_bytes(), 6 + 5 + 7);
  // Only the text deltas carry nothing else (a filter may drop them once emptied).
  std::vector<bool> only;
  for (const auto& ev : r.events) only.push_back(ev.only_text);
  EXPECT_EQ(only, (std::vector<bool>{false, false, true, false, false, false, true, false, false,
                                     true, false}));
}

TEST(AnthropicStream, RenderModifiedDelta) {
  StreamAdapter a = anthropic(true);
  SseText s(block_delta(0, R"({"type":"text_delta","text":"call 555-0100"})"));
  auto r = run_stream(a, s, [](ResponseEvent& ev) {
    ev.deltas[0].text = "call [PHONE]";
    ev.deltas[0].modified = true;
  });
  EXPECT_EQ(r.out, block_delta(0, R"({"type":"text_delta","text":"call [PHONE]"})"));
}

TEST(AnthropicStream, RenderText) {
  StreamAdapter a = anthropic(true);
  std::string out;
  a.render_text({Channel{Kind::kText, 0, 1}, "held", false}, out);
  a.render_text({Channel{Kind::kToolArguments, 0, 2}, "{\"a\"", false}, out);
  a.render_text({Channel{Kind::kReasoning, 0, 0}, "hm", false}, out);
  EXPECT_EQ(out, block_delta(1, R"({"type":"text_delta","text":"held"})") +
                     block_delta(2, R"({"type":"input_json_delta","partial_json":"{\"a\""})") +
                     block_delta(0, R"({"type":"thinking_delta","thinking":"hm"})"));
}

TEST(AnthropicStream, RenderEndCleanClosesOpenBlocks) {
  StreamAdapter a = anthropic(true);
  SseText s(message_start(R"({"input_tokens":1,"output_tokens":7})") +
            block_start(0, R"({"type":"text","text":""})") +
            block_delta(0, R"({"type":"text_delta","text":"x"})"));
  run_stream(a, s);
  std::string out;
  StreamEnd end;
  end.mode = StreamEnd::Mode::kClean;
  end.finish_reason = "length";
  a.render_end(end, out);
  EXPECT_EQ(out,
            block_stop(0) + message_delta(R"("max_tokens")", R"({"output_tokens":7})") + kStop);
  SseText o(out);
  for (const auto& b : o.blocks()) EXPECT_TRUE(valid_json(b.data));
}

TEST(AnthropicStream, RenderEndCleanWithoutMessageStart) {
  StreamAdapter a = anthropic();
  std::string out;
  StreamEnd end;
  end.mode = StreamEnd::Mode::kClean;
  a.render_end(end, out);
  SseText o(out);
  ASSERT_EQ(o.blocks().size(), 3u);
  EXPECT_EQ(o.blocks()[0].event, "message_start");
  EXPECT_EQ(o.blocks()[1].event, "message_delta");
  EXPECT_NE(o.blocks()[1].data.find(R"("stop_reason":"end_turn")"), std::string_view::npos);
  EXPECT_EQ(o.blocks()[2].event, "message_stop");
  for (const auto& b : o.blocks()) EXPECT_TRUE(valid_json(b.data));
}

TEST(AnthropicStream, RenderEndErrorAndUpstreamError) {
  StreamAdapter a = anthropic();
  std::string out;
  StreamEnd end;
  end.mode = StreamEnd::Mode::kError;
  end.error.type = "permission_error";
  end.error.message = "output blocked by policy";
  a.render_end(end, out);
  EXPECT_EQ(out, named_event("error", R"({"type":"error","error":{"type":"permission_error",)"
                                      R"("message":"sluice: output blocked by policy"}})"));
  out.clear();
  a.render_upstream_error("upstream closed the connection", out);
  EXPECT_EQ(out, named_event("error", R"({"type":"error","error":{"type":"api_error",)"
                                      R"("message":"sluice: upstream closed the connection"}})"));
}

TEST(AnthropicStream, ErrorEvent) {
  StreamAdapter a = anthropic();
  SseText s(message_start(R"({"input_tokens":1,"output_tokens":1})") +
            named_event(
                "error",
                R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));
  auto r = run_stream(a, s);
  EXPECT_TRUE(a.facts().is_error);
  EXPECT_TRUE(r.events[1].terminal);
}

TEST(AnthropicStream, MalformedCounted) {
  StreamAdapter a = anthropic(true);
  SseText s(
      named_event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{)") +
      kStop);
  auto r = run_stream(a, s);
  EXPECT_EQ(a.malformed_events(), 1u);
  EXPECT_EQ(r.out, s.text());
  EXPECT_TRUE(a.saw_terminal());
}

}  // namespace
}  // namespace sluice
