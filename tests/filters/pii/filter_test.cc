// PiiFilter: request bodies (decoded strings, byte-span splicing, tool calls, Responses input,
// block answers), whole response bodies, channels of a stream, the event fields, alerts and
// counters, and the factory in the registry.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "filters/pii/filter.h"
#include "filters/pii/json_text.h"
#include "filters/registry.h"
#include "tests/filters/pii/pii_test_util.h"

namespace sluice::pii {
namespace {

using testing::make_config;

StreamContext chat_ctx(std::string body) {
  StreamContext ctx;
  ctx.api = ApiKind::kChatCompletions;
  ctx.provider = Provider::kOpenAI;
  ctx.body = std::move(body);
  return ctx;
}

TEST(PiiFilter, RequestStringsAreDecodedAndSplicedBack) {
  auto c = make_config("");
  PiiFilter f(c);
  // "\u0040" is an '@'; the model, role and every byte outside the redacted strings stay.
  std::string body =
      R"({"model":"gpt-4o","messages":[{"role":"system","content":"be brief"},)"
      R"({"role":"user","content":"mail jane\u0040example.com \"now\"\n"},)"
      R"({"role":"user","content":[{"type":"text","text":"card 4111 1111 1111 1111"}]}],)"
      R"("temperature":0.5})";
  auto ctx = chat_ctx(body);
  ASSERT_EQ(f.on_request(ctx), FilterStatus::kContinue);
  EXPECT_TRUE(ctx.body_rewritten);
  EXPECT_EQ(ctx.body,
            R"({"model":"gpt-4o","messages":[{"role":"system","content":"be brief"},)"
            R"({"role":"user","content":"mail [EMAIL_1] \"now\"\n"},)"
            R"({"role":"user","content":[{"type":"text","text":"card [CREDIT_CARD_1]"}]}],)"
            R"("temperature":0.5})");
  f.on_complete(ctx, StreamInfo{});
  ASSERT_EQ(ctx.event_fields.size(), 1u);
  EXPECT_EQ(ctx.event_fields[0].first, "pii");
  const std::string& ev = ctx.event_fields[0].second;
  EXPECT_NE(ev.find(R"("type":"email","direction":"request","action":"redact","count":1)"),
            std::string::npos) << ev;
  EXPECT_NE(ev.find(R"({"part":1,"start":5,"end":21})"), std::string::npos) << ev;
  EXPECT_EQ(ev.find("jane"), std::string::npos);
  ASSERT_EQ(ctx.alerts.size(), 2u);
  EXPECT_EQ(ctx.alerts[0].type, "pii.redacted");
  EXPECT_EQ(ctx.alerts[0].details_json.find("jane"), std::string::npos);
}

TEST(PiiFilter, ToolCallArgumentsToolResultsAndResponsesInput) {
  auto c = make_config("");
  PiiFilter f(c);
  auto ctx = chat_ctx(
      R"({"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"call_1",)"
      R"("type":"function","function":{"name":"send","arguments":"{\"to\":\"jane.doe@example.com\"}"}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":"sent from 192.168.1.20"}]})");
  ASSERT_EQ(f.on_request(ctx), FilterStatus::kContinue);
  EXPECT_NE(ctx.body.find(R"("arguments":"{\"to\":\"[EMAIL_1]\"}")"), std::string::npos) << ctx.body;
  EXPECT_NE(ctx.body.find(R"("content":"sent from [IP_ADDRESS_1]")"), std::string::npos);
  EXPECT_NE(ctx.body.find(R"("tool_call_id":"call_1")"), std::string::npos);

  PiiFilter g(c);
  StreamContext r;
  r.api = ApiKind::kResponses;
  r.body = R"({"model":"m","instructions":"reply to ann@corp.example","input":[{"role":"user",)"
           R"("content":[{"type":"input_text","text":"SSN 536-90-4399"}]}]})";
  ASSERT_EQ(g.on_request(r), FilterStatus::kContinue);
  EXPECT_EQ(r.body, R"({"model":"m","instructions":"reply to [EMAIL_1]","input":[{"role":"user",)"
                    R"("content":[{"type":"input_text","text":"SSN [US_SSN_1]"}]}]})");
}

TEST(PiiFilter, BlockAnswersInTheProvidersShape) {
  auto c = make_config("entities: {openai_key: {request: block}}");
  PiiFilter f(c);
  auto ctx = chat_ctx(
      R"({"model":"m","messages":[{"role":"user","content":"my key is sk-proj-Zq8xT2mV7nK4pW9rL3sD6fH1jG5bN8cY0aE2uI4oR7tQ9wX3zC6vB1mS5kP8lJ2hF4gD7"}]})");
  const std::string before = ctx.body;
  std::uint64_t blocked = stats()->get(kRequestBlocked);
  ASSERT_EQ(f.on_request(ctx), FilterStatus::kRespond);
  EXPECT_EQ(ctx.reply.status, 400);
  EXPECT_EQ(ctx.reply.type, "invalid_request_error");
  EXPECT_EQ(ctx.reply.code, "pii_blocked");
  EXPECT_EQ(ctx.reply.message.find("sk-proj"), std::string::npos);
  EXPECT_EQ(ctx.body, before);
  EXPECT_EQ(stats()->get(kRequestBlocked), blocked + 1);
  f.on_complete(ctx, StreamInfo{});
  ASSERT_EQ(ctx.alerts.size(), 1u);
  EXPECT_EQ(ctx.alerts[0].type, "pii.blocked");
  EXPECT_EQ(ctx.alerts[0].severity, "critical");
  EXPECT_NE(ctx.event_fields[0].second.find(R"("blocked":"request")"), std::string::npos);
}

TEST(PiiFilter, DirectionsAndIdentityRules) {
  auto c = make_config(R"(
entities: {email: {request: off, response: redact}}
rules:
  - {tenant: acme, entities: {email: redact}}
)");
  PiiFilter f(c);
  auto ctx = chat_ctx(R"({"model":"m","messages":[{"role":"user","content":"a@b.io"}]})");
  f.on_request(ctx);
  EXPECT_FALSE(ctx.body_rewritten);
  EXPECT_TRUE(f.wants_response_events());
  PiiFilter g(c);
  auto acme = chat_ctx(ctx.body);
  acme.identity.tenant = "acme";
  g.on_request(acme);
  EXPECT_TRUE(acme.body_rewritten);
}

TEST(PiiFilter, WholeResponseBody) {
  auto c = make_config("");
  PiiFilter f(c);
  auto ctx = chat_ctx(R"({"model":"m","messages":[]})");
  f.on_request(ctx);
  ASSERT_TRUE(f.wants_response_body());
  std::string body =
      R"({"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"Reach me at jane.doe@example.com"},"finish_reason":"stop"}]})";
  EXPECT_EQ(f.on_response_body(ctx, body), FilterStatus::kContinue);
  EXPECT_EQ(body,
            R"({"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"Reach me at [EMAIL_1]"},"finish_reason":"stop"}]})");

  auto b = make_config("entities: {email: {response: block}}");
  PiiFilter g(b);
  auto ctx2 = chat_ctx(R"({"model":"m","messages":[]})");
  g.on_request(ctx2);
  body = R"({"content":[{"type":"text","text":"jane.doe@example.com"}]})";
  EXPECT_EQ(g.on_response_body(ctx2, body), FilterStatus::kRespond);
  EXPECT_EQ(body.find("jane"), std::string::npos) << body;  // withheld whatever the caller does
  EXPECT_EQ(ctx2.reply.code, "pii_blocked");
  EXPECT_EQ(ctx2.reply.status, 400);
  EXPECT_NE(ctx2.reply.message.find("(email)"), std::string::npos) << ctx2.reply.message;
}

TEST(PiiFilter, ChannelsAreIndependentAndFlushedAtTheirEnd) {
  auto c = make_config("");
  PiiFilter f(c);
  StreamContext ctx;
  ctx.api = ApiKind::kChatCompletions;
  f.on_request(ctx);
  Channel a{Channel::Kind::kText, 0, 0, -1}, b{Channel::Kind::kText, 1, 0, -1};
  ResponseEvent e1;
  e1.deltas = {{a, "mail jane.doe@exa", false}, {b, "ip 10.1.", false}};
  ASSERT_EQ(f.on_response_event(ctx, e1, false), FilterStatus::kContinue);
  EXPECT_EQ(e1.deltas[0].text, "");  // held: could still be an address
  ResponseEvent e2;
  e2.deltas = {{a, "mple.com", false}, {b, "2.3 ok", false}};
  e2.closing = {a};
  f.on_response_event(ctx, e2, false);
  EXPECT_EQ(e2.deltas[0].text, "mail [EMAIL_1]");
  ResponseEvent end;
  f.on_response_event(ctx, end, true);
  ASSERT_EQ(end.emit_before.size(), 1u);
  EXPECT_EQ(end.emit_before[0].channel, b);
  EXPECT_EQ(e1.deltas[1].text + e2.deltas[1].text + end.emit_before[0].text, "ip [IP_ADDRESS_1] ok");
}

TEST(PiiJsonText, EscapeSkipsWordsButMatchesByteWise) {
  // Every byte value, at every alignment against the 8-byte steps.
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (std::size_t shift = 0; shift < 9; ++shift) {
    std::string text = std::string(shift, 'a') + all + "plain text after" + all;
    std::string fast, slow;
    json_escape_append(fast, text);
    for (char ch : text) {
      unsigned char u = static_cast<unsigned char>(ch);
      char buf[8];
      if (ch == '"') slow += "\\\"";
      else if (ch == '\\') slow += "\\\\";
      else if (ch == '\n') slow += "\\n";
      else if (ch == '\r') slow += "\\r";
      else if (ch == '\t') slow += "\\t";
      else if (ch == '\b') slow += "\\b";
      else if (ch == '\f') slow += "\\f";
      else if (u < 0x20) std::snprintf(buf, sizeof buf, "\\u%04x", u), slow += buf;
      else slow += ch;
    }
    EXPECT_EQ(fast, slow) << shift;
  }
}

TEST(PiiFilter, IsRegisteredWithCounters) {
  const FilterFactory* f = find_filter("pii");
  ASSERT_NE(f, nullptr);
  std::string metrics;
  f->stats()->render_metrics(metrics);
  EXPECT_NE(metrics.find(R"(sluice_filter_events_total{filter="pii",event="request.redacted"})"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::pii
