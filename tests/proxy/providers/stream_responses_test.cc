// StreamAdapter on OpenAI Responses streams.
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

std::string created() {
  return named_event("response.created",
                     R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_1",)"
                     R"("object":"response","created_at":1741290958,"status":"in_progress",)"
                     R"("model":"gpt-4.1-2025-04-14","output":[],"usage":null}})");
}

std::string item_added() {
  return named_event(
      "response.output_item.added",
      R"({"type":"response.output_item.added","sequence_number":1,"output_index":0,)"
      R"("item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant",)"
      R"("content":[]}})");
}

std::string text_delta(int seq, std::string_view delta_json) {
  return named_event("response.output_text.delta",
                     R"({"type":"response.output_text.delta","sequence_number":)" +
                         std::to_string(seq) +
                         R"(,"item_id":"msg_1","output_index":0,"content_index":0,"delta":)" +
                         std::string(delta_json) + R"(,"logprobs":[]})");
}

std::string completed(std::string_view type, std::string_view status, std::string_view details) {
  return named_event(
      type, R"({"type":")" + std::string(type) +
                R"(","sequence_number":9,"response":{"id":"resp_1","object":"response",)"
                R"("status":")" +
                std::string(status) + R"(","incomplete_details":)" + std::string(details) +
                R"(,"model":"gpt-4.1-2025-04-14","output":[],"usage":{"input_tokens":36,)"
                R"("input_tokens_details":{"cached_tokens":12},"output_tokens":87,)"
                R"("output_tokens_details":{"reasoning_tokens":40},"total_tokens":123}}})");
}

StreamAdapter responses(bool decode = false) {
  return StreamAdapter(ApiKind::kResponses, Provider::kOpenAI, {false, decode});
}

TEST(ResponsesStream, UsageFromCompleted) {  // Kong #14535
  StreamAdapter a = responses();
  SseText s(created() + item_added() + text_delta(2, R"("Hi")") +
            completed("response.completed", "completed", "null"));
  auto r = run_stream(a, s);
  EXPECT_EQ(r.out, s.text());
  const ResponseFacts& f = a.facts();
  EXPECT_EQ(f.usage.source, TokenUsage::Source::kProvider);
  EXPECT_EQ(f.usage.input_tokens, 36);
  EXPECT_EQ(f.usage.cached_input_tokens, 12);
  EXPECT_EQ(f.usage.output_tokens, 87);
  EXPECT_EQ(f.usage.reasoning_tokens, 40);
  EXPECT_EQ(f.finish_reason, "completed");
  EXPECT_EQ(f.served_model, "gpt-4.1-2025-04-14");
  EXPECT_FALSE(f.is_error);
  EXPECT_TRUE(r.events.back().terminal);
  EXPECT_TRUE(a.saw_terminal());
  EXPECT_EQ(r.types[0], "response.created");
  EXPECT_EQ(a.streamed_text_bytes(), 2);
}

TEST(ResponsesStream, IncompleteGivesReason) {
  StreamAdapter a = responses();
  SseText s(created() +
            completed("response.incomplete", "incomplete", R"({"reason":"max_output_tokens"})"));
  run_stream(a, s);
  EXPECT_EQ(a.facts().finish_reason, "max_output_tokens");
  EXPECT_EQ(a.facts().usage.output_tokens, 87);
  EXPECT_TRUE(a.saw_terminal());
}

TEST(ResponsesStream, FailedAndErrorEventsAreErrors) {
  StreamAdapter a = responses();
  SseText s(named_event("response.failed",
                        R"({"type":"response.failed","response":{"status":"failed",)"
                        R"("error":{"code":"server_error","message":"x"}}})"));
  run_stream(a, s);
  EXPECT_TRUE(a.facts().is_error);
  StreamAdapter b = responses();
  SseText t(named_event("error", R"({"type":"error","code":"ERR","message":"m","param":null})"));
  auto r = run_stream(b, t);
  EXPECT_TRUE(b.facts().is_error);
  EXPECT_TRUE(r.events[0].terminal);
}

TEST(ResponsesStream, DeltasAndClosingPerChannel) {
  StreamAdapter a = responses(true);
  SseText s(
      created() + item_added() + text_delta(2, R"("a\u0040b")") +
      named_event(
          "response.output_text.done",
          R"({"type":"response.output_text.done","output_index":0,"content_index":0,"text":"a@b"})") +
      named_event(
          "response.function_call_arguments.delta",
          R"({"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"{\"q\""})") +
      named_event(
          "response.reasoning_summary_text.delta",
          R"({"type":"response.reasoning_summary_text.delta","output_index":2,"summary_index":1,"delta":"why"})") +
      named_event(
          "response.function_call_arguments.done",
          R"({"type":"response.function_call_arguments.done","output_index":1,"arguments":"{}"})"));
  auto r = run_stream(a, s);
  ASSERT_EQ(r.events[2].deltas.size(), 1u);
  EXPECT_EQ(r.events[2].deltas[0].text, "a@b");
  EXPECT_EQ(r.events[2].deltas[0].channel, (Channel{Kind::kText, 0, 0, -1}));
  ASSERT_EQ(r.events[3].closing.size(), 1u);
  EXPECT_EQ(r.events[3].closing[0], (Channel{Kind::kText, 0, 0, -1}));
  EXPECT_EQ(r.events[4].deltas[0].channel, (Channel{Kind::kToolArguments, 1, 0, -1}));
  EXPECT_EQ(r.events[4].deltas[0].text, "{\"q\"");
  EXPECT_EQ(r.events[5].deltas[0].channel, (Channel{Kind::kReasoning, 2, 1, -1}));
  EXPECT_EQ(r.events[6].closing[0], (Channel{Kind::kToolArguments, 1, 0, -1}));
  EXPECT_EQ(a.streamed_text_bytes(), 3 + 4 + 3);
}

TEST(ResponsesStream, TypeFromJsonWhenNoEventLine) {
  StreamAdapter a = responses(true);
  SseText s(
      "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"content_index\":0,"
      "\"delta\":\"x\"}\n\n");
  auto r = run_stream(a, s);
  EXPECT_EQ(r.types[0], "response.output_text.delta");
  ASSERT_EQ(r.events[0].deltas.size(), 1u);
}

TEST(ResponsesStream, RenderModifiedDelta) {
  StreamAdapter a = responses(true);
  SseText s(text_delta(5, R"("secret")"));
  auto r = run_stream(a, s, [](ResponseEvent& ev) {
    ev.deltas[0].text = "[REDACTED]";
    ev.deltas[0].modified = true;
  });
  EXPECT_EQ(r.out, text_delta(5, R"("[REDACTED]")"));
}

TEST(ResponsesStream, RenderTextUsesNextSequenceNumberAndItemId) {
  StreamAdapter a = responses(true);
  SseText s(created() + item_added() + text_delta(2, R"("x")"));
  run_stream(a, s);
  std::string out;
  a.render_text({Channel{Kind::kText, 0, 0}, "held", false}, out);
  a.render_text({Channel{Kind::kToolArguments, 1}, "{}", false}, out);
  a.render_text({Channel{Kind::kReasoning, 2, 1}, "r", false}, out);
  SseText o(out);
  ASSERT_EQ(o.blocks().size(), 3u);
  for (const auto& b : o.blocks()) EXPECT_TRUE(valid_json(b.data)) << b.data;
  EXPECT_EQ(o.blocks()[0].event, "response.output_text.delta");
  EXPECT_EQ(o.blocks()[0].data,
            R"({"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1",)"
            R"("output_index":0,"content_index":0,"delta":"held","logprobs":[]})");
  EXPECT_EQ(o.blocks()[1].event, "response.function_call_arguments.delta");
  EXPECT_EQ(o.blocks()[2].event, "response.reasoning_summary_text.delta");
  EXPECT_NE(o.blocks()[2].data.find(R"("summary_index":1)"), std::string_view::npos);
}

TEST(ResponsesStream, RenderEndCleanClosesOpenItemsThenCompletes) {
  StreamAdapter a = responses(true);
  SseText s(created() + item_added() + text_delta(2, R"("x")") +
            named_event("response.output_item.added",
                        R"({"type":"response.output_item.added","sequence_number":3,)"
                        R"("output_index":1,"item":{"id":"fc_1","type":"function_call",)"
                        R"("call_id":"call_9","name":"f","arguments":""}})"));
  run_stream(a, s);
  std::string out;
  StreamEnd end;
  end.mode = StreamEnd::Mode::kClean;
  end.finish_reason = "length";
  a.render_end(end, out);
  SseText o(out);
  ASSERT_EQ(o.blocks().size(), 3u);
  for (const auto& b : o.blocks()) EXPECT_TRUE(valid_json(b.data)) << b.data;
  EXPECT_EQ(o.blocks()[0].event, "response.output_item.done");
  EXPECT_EQ(o.blocks()[0].data,
            R"({"type":"response.output_item.done","sequence_number":4,"output_index":0,)"
            R"("item":{"id":"msg_1","type":"message","status":"incomplete","role":"assistant",)"
            R"("content":[]}})");
  EXPECT_EQ(o.blocks()[1].data,
            R"({"type":"response.output_item.done","sequence_number":5,"output_index":1,)"
            R"("item":{"id":"fc_1","type":"function_call","status":"incomplete",)"
            R"("call_id":"call_9","arguments":""}})");
  EXPECT_EQ(o.blocks()[2].event, "response.completed");
  EXPECT_EQ(o.blocks()[2].data,
            R"({"type":"response.completed","sequence_number":6,"response":{"id":"resp_1",)"
            R"("object":"response","created_at":1741290958,"status":"incomplete",)"
            R"("model":"gpt-4.1-2025-04-14","error":null,)"
            R"("incomplete_details":{"reason":"max_output_tokens"},"usage":null}})");
}

TEST(ResponsesStream, RenderEndCleanLeavesDoneItemsAlone) {
  StreamAdapter a = responses();
  SseText s(created() + item_added() +
            named_event("response.output_item.done",
                        R"({"type":"response.output_item.done","sequence_number":2,)"
                        R"("output_index":0,"item":{"id":"msg_1","type":"message"}})"));
  run_stream(a, s);
  std::string out;
  StreamEnd end;
  end.mode = StreamEnd::Mode::kClean;
  a.render_end(end, out);
  SseText o(out);
  ASSERT_EQ(o.blocks().size(), 1u);
  EXPECT_EQ(o.blocks()[0].event, "response.completed");
  EXPECT_NE(o.blocks()[0].data.find(R"("status":"completed")"), std::string_view::npos);
}

TEST(ResponsesStream, RenderEndCleanWithoutCreatedSendsCreatedFirst) {
  StreamAdapter a = responses();
  std::string out;
  StreamEnd end;
  end.mode = StreamEnd::Mode::kClean;
  a.render_end(end, out);
  SseText o(out);
  ASSERT_EQ(o.blocks().size(), 2u);
  EXPECT_EQ(o.blocks()[0].event, "response.created");
  EXPECT_EQ(o.blocks()[1].event, "response.completed");
  EXPECT_NE(o.blocks()[1].data.find(R"("status":"completed")"), std::string_view::npos);
  for (const auto& b : o.blocks()) EXPECT_TRUE(valid_json(b.data));
}

TEST(ResponsesStream, RenderEndErrorCarriesAnErrorObject) {
  StreamAdapter a = responses();
  std::string out;
  StreamEnd end;
  end.mode = StreamEnd::Mode::kError;
  end.error.type = "budget_exceeded";
  end.error.message = "budget exhausted";
  a.render_end(end, out);
  SseText o(out);
  ASSERT_EQ(o.blocks().size(), 1u);
  EXPECT_EQ(o.blocks()[0].event, "error");
  EXPECT_TRUE(valid_json(o.blocks()[0].data));
  EXPECT_EQ(
      o.blocks()[0].data,
      R"({"type":"error","sequence_number":0,"code":null,"message":"sluice: budget exhausted",)"
      R"("param":null,"error":{"message":"sluice: budget exhausted","type":"budget_exceeded",)"
      R"("param":null,"code":null}})");
}

}  // namespace
}  // namespace sluice
