#include "sinks/event_json.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/sinks/sample_events.h"

namespace sluice {
namespace {

using simdjson::dom::element;
using test_data::sample_alert_event;
using test_data::sample_call_event;

// Holds the parser so that elements stay valid for the test's lifetime.
struct Parsed {
  simdjson::dom::parser parser;
  element root;
  explicit Parsed(const std::string& json) {
    auto err = parser.parse(json).get(root);
    EXPECT_EQ(err, simdjson::SUCCESS) << json;
  }
};

std::vector<std::string> keys_of(element e) {
  std::vector<std::string> keys;
  for (auto field : simdjson::dom::object(e)) keys.emplace_back(field.key);
  return keys;
}

std::string sv(element e) { return std::string(std::string_view(e)); }
std::int64_t i64(element e) { return std::int64_t(e); }

const std::vector<std::string> kCallKeys = {
    "schema_version", "type",     "event_id",   "request_id",    "time",      "identity",
    "provider",       "upstream", "endpoint",   "method",        "path",      "model",
    "stream",         "status",   "error",      "finish_reason", "timing_us", "usage",
    "cost_micro_usd", "bytes",    "sse_events", "trace",         "filters",   "alerts"};
const std::vector<std::string> kAlertKeys = {
    "schema_version", "type",   "alert_id", "event_id", "request_id", "time",    "alert_type",
    "severity",       "source", "identity", "provider", "model",      "message", "details"};
const std::vector<std::string> kIdentityKeys = {"tenant", "team", "app", "key_fingerprint",
                                                "key_kind"};

TEST(EventJson, SourceNames) {
  EXPECT_STREQ(to_string(TokenUsage::Source::kNone), "none");
  EXPECT_STREQ(to_string(TokenUsage::Source::kProvider), "provider");
  EXPECT_STREQ(to_string(TokenUsage::Source::kEstimated), "estimated");
}

TEST(EventJson, CallEventExactText) {
  // The wire form is a contract: this is the documented example in docs/events.md.
  EXPECT_EQ(
      to_json(sample_call_event()),
      R"({"schema_version":1,"type":"call","event_id":"01936b2e-8f3a-7c4d-9e5f-0a1b2c3d4e5f",)"
      R"("request_id":"req_7f3a9c2e4b1d","time":"2026-11-28T01:02:03.456789Z",)"
      R"("identity":{"tenant":"acme","team":"search","app":"answer-bot",)"
      R"("key_fingerprint":"9f86d081884c7d65","key_kind":"virtual"},"provider":"openai",)"
      R"("upstream":"openai-prod","endpoint":"chat.completions","method":"POST",)"
      R"("path":"/v1/chat/completions","model":{"requested":"gpt-4o",)"
      R"("served":"gpt-4o-2024-08-06"},"stream":true,"status":200,"error":null,)"
      R"("finish_reason":"stop","timing_us":{"ttfb":412345,"total":2876543,"upstream":2871000,)"
      R"("overhead":5543},"usage":{"input_tokens":1200,"cached_input_tokens":1024,)"
      R"("cache_write_tokens":0,"output_tokens":350,"reasoning_tokens":64,"source":"provider"},)"
      R"("cost_micro_usd":4250,"bytes":{"request":5321,"response":18876},"sse_events":87,)"
      R"("trace":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},)"
      R"("filters":{"pii":{"findings":[{"type":"email","place":"request","count":2}],)"
      R"("action":"redact"},"budget":{"scope":"tenant","remaining_micro_usd":995750,)"
      R"("state":"ok"}},"alerts":1})");
}

TEST(EventJson, CallEventRoundTrip) {
  const CallEvent e = sample_call_event();
  const std::string json = to_json(e);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  Parsed p(json);
  const element r = p.root;
  EXPECT_EQ(keys_of(r), kCallKeys);
  EXPECT_EQ(i64(r["schema_version"]), kSchemaVersion);
  EXPECT_EQ(sv(r["type"]), "call");
  EXPECT_EQ(sv(r["event_id"]), e.event_id);
  EXPECT_EQ(sv(r["request_id"]), e.request_id);
  EXPECT_EQ(sv(r["time"]), "2026-11-28T01:02:03.456789Z");
  EXPECT_EQ(keys_of(r["identity"]), kIdentityKeys);
  EXPECT_EQ(sv(r["identity"]["tenant"]), "acme");
  EXPECT_EQ(sv(r["identity"]["team"]), "search");
  EXPECT_EQ(sv(r["identity"]["app"]), "answer-bot");
  EXPECT_EQ(sv(r["identity"]["key_fingerprint"]), "9f86d081884c7d65");
  EXPECT_EQ(sv(r["identity"]["key_kind"]), "virtual");
  EXPECT_EQ(sv(r["provider"]), "openai");
  EXPECT_EQ(sv(r["upstream"]), "openai-prod");
  EXPECT_EQ(sv(r["endpoint"]), "chat.completions");
  EXPECT_EQ(sv(r["method"]), "POST");
  EXPECT_EQ(sv(r["path"]), "/v1/chat/completions");
  EXPECT_EQ(sv(r["model"]["requested"]), "gpt-4o");
  EXPECT_EQ(sv(r["model"]["served"]), "gpt-4o-2024-08-06");
  EXPECT_TRUE(bool(r["stream"]));
  EXPECT_EQ(i64(r["status"]), 200);
  EXPECT_TRUE(r["error"].is_null());
  EXPECT_EQ(sv(r["finish_reason"]), "stop");
  EXPECT_EQ(i64(r["timing_us"]["ttfb"]), 412345);
  EXPECT_EQ(i64(r["timing_us"]["total"]), 2876543);
  EXPECT_EQ(i64(r["timing_us"]["upstream"]), 2871000);
  EXPECT_EQ(i64(r["timing_us"]["overhead"]), 5543);
  EXPECT_EQ(i64(r["usage"]["input_tokens"]), 1200);
  EXPECT_EQ(i64(r["usage"]["cached_input_tokens"]), 1024);
  EXPECT_EQ(i64(r["usage"]["cache_write_tokens"]), 0);
  EXPECT_EQ(i64(r["usage"]["output_tokens"]), 350);
  EXPECT_EQ(i64(r["usage"]["reasoning_tokens"]), 64);
  EXPECT_EQ(sv(r["usage"]["source"]), "provider");
  EXPECT_EQ(i64(r["cost_micro_usd"]), 4250);
  EXPECT_EQ(i64(r["bytes"]["request"]), 5321);
  EXPECT_EQ(i64(r["bytes"]["response"]), 18876);
  EXPECT_EQ(i64(r["sse_events"]), 87);
  EXPECT_EQ(sv(r["trace"]["traceparent"]), e.traceparent);
  EXPECT_EQ(keys_of(r["filters"]), (std::vector<std::string>{"pii", "budget"}));
  EXPECT_EQ(i64(r["filters"]["pii"]["findings"].at(0)["count"]), 2);
  EXPECT_EQ(sv(r["filters"]["budget"]["state"]), "ok");
  EXPECT_EQ(i64(r["alerts"]), 1);
}

TEST(EventJson, NullsAndEmptyStringsForAnEmptyEvent) {
  const CallEvent e;  // every field at its default
  Parsed p(to_json(e));
  const element r = p.root;
  EXPECT_EQ(keys_of(r), kCallKeys);
  EXPECT_EQ(sv(r["event_id"]), "");
  EXPECT_EQ(sv(r["time"]), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(keys_of(r["identity"]), kIdentityKeys);
  for (const auto& k : kIdentityKeys) EXPECT_EQ(sv(r["identity"][k]), "") << k;
  EXPECT_EQ(sv(r["model"]["requested"]), "");
  EXPECT_FALSE(bool(r["stream"]));
  EXPECT_EQ(i64(r["status"]), 0);
  EXPECT_TRUE(r["error"].is_null());
  EXPECT_TRUE(r["finish_reason"].is_null());
  EXPECT_TRUE(r["timing_us"]["ttfb"].is_null());
  EXPECT_EQ(i64(r["timing_us"]["total"]), 0);
  EXPECT_EQ(sv(r["usage"]["source"]), "none");
  EXPECT_TRUE(r["cost_micro_usd"].is_null());
  EXPECT_TRUE(r["trace"].is_null());
  EXPECT_TRUE(keys_of(r["filters"]).empty());
  EXPECT_EQ(i64(r["alerts"]), 0);
}

TEST(EventJson, ErrorObjectWhenErrorClassSet) {
  CallEvent e = sample_call_event();
  e.error_class = "upstream_timeout";
  e.error_source = "upstream";
  e.ttfb_us = -1;
  e.cost_micro_usd = 0;  // priced at zero is not the same as not priced
  Parsed p(to_json(e));
  EXPECT_EQ(keys_of(p.root["error"]), (std::vector<std::string>{"class", "source"}));
  EXPECT_EQ(sv(p.root["error"]["class"]), "upstream_timeout");
  EXPECT_EQ(sv(p.root["error"]["source"]), "upstream");
  EXPECT_TRUE(p.root["timing_us"]["ttfb"].is_null());
  EXPECT_EQ(i64(p.root["cost_micro_usd"]), 0);
}

TEST(EventJson, HostileStringsStayValidJson) {
  CallEvent e = sample_call_event();
  e.requested_model = "gpt\"4\\o\n\x01\xC0\xAF";
  e.path = "/v1/\xE2\x82";
  e.identity.app = "\xF0\x9F\x98\x80";
  Parsed p(to_json(e));
  EXPECT_EQ(sv(p.root["model"]["requested"]), "gpt\"4\\o\n\x01\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sv(p.root["path"]), "/v1/\xEF\xBF\xBD");
  EXPECT_EQ(sv(p.root["identity"]["app"]), "\xF0\x9F\x98\x80");
}

TEST(EventJson, FilterFragments) {
  CallEvent e;
  e.filter_fields = {
      {"ok", R"( {"a":1} )"},
      {"empty", ""},
      {"broken", R"({"a":)"},
      {"array", "[1,2]"},
      {"ok", R"({"second":true})"},  // repeated name: dropped
      {"we\"ird", "{}"},
  };
  const std::string json = to_json(e);
  Parsed p(json);
  const element f = p.root["filters"];
  EXPECT_EQ(keys_of(f), (std::vector<std::string>{"ok", "empty", "broken", "array", "we\"ird"}));
  EXPECT_EQ(i64(f["ok"]["a"]), 1);
  EXPECT_TRUE(keys_of(f["empty"]).empty());
  EXPECT_EQ(sv(f["broken"]["invalid_json"]), R"({"a":)");
  EXPECT_EQ(sv(f["array"]["invalid_json"]), "[1,2]");
  EXPECT_NE(json.find(R"("ok": {"a":1} )"), std::string::npos) << "valid fragments are verbatim";
}

// to_json writes into a buffer of max_json_size bytes: the bound must hold for every event.
// Extremes: every number at its widest, every string and fragment made of bytes that escape
// to six, and an event with only numbers (the fixed part's allowance).
TEST(EventJson, MaxSizeBoundsExtremeEvents) {
  CallEvent wide;
  for (std::int64_t* v : {&wide.start_unix_us, &wide.ttfb_us, &wide.total_us, &wide.upstream_us,
                          &wide.overhead_us, &wide.usage.input_tokens,
                          &wide.usage.cached_input_tokens, &wide.usage.cache_write_tokens,
                          &wide.usage.output_tokens, &wide.usage.reasoning_tokens,
                          &wide.cost_micro_usd, &wide.request_bytes, &wide.response_bytes,
                          &wide.sse_events})
    *v = INT64_MIN;
  wide.status = INT32_MIN;
  wide.alerts = INT32_MIN;
  wide.error_class = "x";  // the error object written
  wide.traceparent = "x";  // the trace object written
  wide.stream = false;
  const std::string fixed = to_json(wide);
  EXPECT_LT(fixed.size(), 1400u) << "the fixed part must stay well under max_json_size's 2,048";
  EXPECT_LE(fixed.size(), max_json_size(wide));

  const std::string small = to_json(sample_call_event());
  CallEvent e = sample_call_event();
  const std::string ctl(300, '\x01');
  for (std::string* s : {&e.event_id, &e.request_id, &e.identity.tenant, &e.identity.team,
                         &e.identity.app, &e.identity.key_fingerprint, &e.identity.key_kind,
                         &e.provider, &e.upstream, &e.endpoint, &e.method, &e.path,
                         &e.requested_model, &e.served_model, &e.error_class, &e.error_source,
                         &e.finish_reason, &e.traceparent})
    *s = ctl;
  e.filter_fields = {{ctl, ctl}, {ctl + "b", std::string(300, '"')}};
  const std::string json = to_json(e);
  EXPECT_LE(json.size(), max_json_size(e));
  EXPECT_GT(json.size(), max_json_size(e) / 2);  // the bound is not loose by much
  Parsed p(json);
  EXPECT_EQ(sv(p.root["path"]), ctl);
  // Over the per-thread buffer's 64 KiB: a string of its own, the same text.
  e.filter_fields.push_back({"big", "{\"a\":\"" + std::string(100'000, 'a') + "\"}"});
  const std::string big = to_json(e);
  EXPECT_LE(big.size(), max_json_size(e));
  Parsed q(big);
  EXPECT_EQ(sv(q.root["filters"]["big"]["a"]).size(), 100'000u);
  // And a small one after it, in the per-thread buffer again, is written as before it.
  EXPECT_EQ(to_json(sample_call_event()), small);
}

TEST(EventJson, Rfc3339Formatting) {
  auto fmt = [](std::int64_t us) {
    std::string s;
    append_rfc3339_us(s, us);
    return s;
  };
  EXPECT_EQ(fmt(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(fmt(1), "1970-01-01T00:00:00.000001Z");
  EXPECT_EQ(fmt(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(fmt(951782400000000), "2000-02-29T00:00:00.000000Z");
  EXPECT_EQ(fmt(1709251199999999), "2024-02-29T23:59:59.999999Z");
  EXPECT_EQ(fmt(1795827723456789), "2026-11-28T01:02:03.456789Z");
  EXPECT_EQ(fmt(4102444800000000), "2100-01-01T00:00:00.000000Z");
  EXPECT_EQ(fmt(INT64_MAX), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(fmt(INT64_MIN), "0000-01-01T00:00:00.000000Z");
}

TEST(EventJson, AlertExactTextAndRoundTrip) {
  const AlertEvent a = sample_alert_event();
  const std::string json = to_json(a);
  EXPECT_EQ(
      json,
      R"({"schema_version":1,"type":"alert","alert_id":"01936b2e-8f3b-7000-8000-0123456789ab",)"
      R"("event_id":"01936b2e-8f3a-7c4d-9e5f-0a1b2c3d4e5f","request_id":"req_7f3a9c2e4b1d",)"
      R"("time":"2026-11-28T01:02:03.500000Z","alert_type":"pii.redacted",)"
      R"("severity":"warning","source":"pii","identity":{"tenant":"acme","team":"search",)"
      R"("app":"answer-bot","key_fingerprint":"9f86d081884c7d65","key_kind":"virtual"},)"
      R"("provider":"openai","model":"gpt-4o",)"
      R"("message":"2 email addresses redacted from the request",)"
      R"("details":{"type":"email","place":"request","count":2}})");
  Parsed p(json);
  const element r = p.root;
  EXPECT_EQ(keys_of(r), kAlertKeys);
  EXPECT_EQ(i64(r["schema_version"]), 1);
  EXPECT_EQ(sv(r["type"]), "alert");
  EXPECT_EQ(sv(r["alert_id"]), a.alert_id);
  EXPECT_EQ(sv(r["event_id"]), a.event_id);
  EXPECT_EQ(sv(r["request_id"]), a.request_id);
  EXPECT_EQ(sv(r["time"]), "2026-11-28T01:02:03.500000Z");
  EXPECT_EQ(sv(r["alert_type"]), "pii.redacted");
  EXPECT_EQ(sv(r["severity"]), "warning");
  EXPECT_EQ(sv(r["source"]), "pii");
  EXPECT_EQ(keys_of(r["identity"]), kIdentityKeys);
  EXPECT_EQ(sv(r["identity"]["tenant"]), "acme");
  EXPECT_EQ(sv(r["provider"]), "openai");
  EXPECT_EQ(sv(r["model"]), "gpt-4o");
  EXPECT_EQ(sv(r["message"]), a.message);
  EXPECT_EQ(i64(r["details"]["count"]), 2);
}

TEST(EventJson, AlertDefaults) {
  AlertEvent a;  // details_json "" and no event
  Parsed p(to_json(a));
  EXPECT_EQ(keys_of(p.root), kAlertKeys);
  EXPECT_EQ(sv(p.root["event_id"]), "");
  EXPECT_TRUE(keys_of(p.root["details"]).empty());
  a.details_json = "not json";
  Parsed q(to_json(a));
  EXPECT_EQ(sv(q.root["details"]["invalid_json"]), "not json");
}

TEST(EventJson, MakeRecord) {
  const CallEvent e = sample_call_event();
  const RecordPtr r = make_record(e);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Record::Kind::kEvent);
  EXPECT_EQ(r->id, e.event_id);
  EXPECT_EQ(r->key, "acme");
  EXPECT_EQ(r->json, to_json(e));

  const AlertEvent a = sample_alert_event();
  const RecordPtr ra = make_record(a);
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->kind, Record::Kind::kAlert);
  EXPECT_EQ(ra->id, a.alert_id);
  EXPECT_EQ(ra->key, "acme");
  EXPECT_EQ(ra->json, to_json(a));
}

}  // namespace
}  // namespace sluice
