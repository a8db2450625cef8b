// Tests for filters/registry.{h,cc} (FilterStats, the built-in filter table, the metrics
// text), filters/token_estimator.h, and the small helpers in filters/filter.{h,cc}.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <string>

#include "filters/filter.h"
#include "filters/registry.h"
#include "filters/token_estimator.h"

namespace sluice {
namespace {

// ---------------------------------------------------------------------------------------------
// FilterStats

TEST(FilterStats, CountsByIndexAndName) {
  FilterStats s("demo", {"a", "b", "c"});
  EXPECT_EQ(s.get(0), 0u);
  s.inc(0);
  s.inc(2, 5);
  s.inc(2);
  EXPECT_EQ(s.get(0), 1u);
  EXPECT_EQ(s.get(1), 0u);
  EXPECT_EQ(s.get(2), 6u);
  EXPECT_EQ(s.get("a"), 1u);
  EXPECT_EQ(s.get("c"), 6u);
  EXPECT_EQ(s.get("nope"), 0u);
}

TEST(FilterStats, RendersOnePrometheusLinePerCounter) {
  FilterStats s("demo", {"seen", "dropped"});
  s.inc(0, 3);
  std::string out;
  s.render_metrics(out);
  EXPECT_EQ(out,
            "sluice_filter_events_total{filter=\"demo\",event=\"seen\"} 3\n"
            "sluice_filter_events_total{filter=\"demo\",event=\"dropped\"} 0\n");
}

// ---------------------------------------------------------------------------------------------
// The registry

TEST(Registry, BuiltinFilters) {
  const auto& all = builtin_filters();
  ASSERT_FALSE(all.empty());
  const FilterFactory* ma = find_filter("model_access");
  ASSERT_NE(ma, nullptr);
  EXPECT_EQ(ma->name, "model_access");
  EXPECT_NE(ma->parse, nullptr);
  EXPECT_NE(ma->create, nullptr);
  EXPECT_NE(ma->stats, nullptr);
  EXPECT_EQ(find_filter("nope"), nullptr);
  EXPECT_EQ(find_filter(""), nullptr);
  EXPECT_EQ(find_filter("Model_Access"), nullptr);
  for (const auto& f : all) {
    EXPECT_EQ(find_filter(f.name), &f) << f.name;
    EXPECT_NE(f.stats(), nullptr) << f.name;
    EXPECT_EQ(f.stats(), f.stats()) << "stats must be one table per process: " << f.name;
  }
}

TEST(Registry, FilterMetricsHaveOneHeaderAndEveryFilter) {
  std::string out;
  render_filter_metrics(out);
  EXPECT_EQ(out.rfind("# HELP sluice_filter_events_total ", 0), 0u) << out;
  EXPECT_NE(out.find("\n# TYPE sluice_filter_events_total counter\n"), std::string::npos);
  std::size_t types = 0;
  for (std::size_t p = out.find("# TYPE"); p != std::string::npos; p = out.find("# TYPE", p + 1))
    ++types;
  EXPECT_EQ(types, 1u);
  for (const char* event : {"checked", "allowed", "denied", "no_model"}) {
    EXPECT_NE(out.find(std::string("sluice_filter_events_total{filter=\"model_access\",event=\"") +
                       event + "\"} "),
              std::string::npos)
        << event;
  }
}

TEST(Registry, UndefinedSectionParsesToDefaults) {
  // The loader relies on this: a filter in a chain without settings runs with its defaults.
  for (const auto& f : builtin_filters()) {
    ConfigErrors errors("test.yaml");
    auto cfg = f.parse(ConfigNode(YAML::Node(YAML::NodeType::Undefined),
                                  "filters." + std::string(f.name), &errors));
    EXPECT_TRUE(errors.empty()) << f.name;
    ASSERT_NE(cfg, nullptr) << f.name;
    EXPECT_NE(f.create(cfg), nullptr) << f.name;
  }
}

// ---------------------------------------------------------------------------------------------
// TokenEstimator

TEST(TokenEstimator, TextIsHalfTheBytesRoundedUp) {
  ByteTokenEstimator e;
  EXPECT_EQ(e.estimate_text(0), 0);
  EXPECT_EQ(e.estimate_text(1), 1);
  EXPECT_EQ(e.estimate_text(2), 1);
  EXPECT_EQ(e.estimate_text(3), 2);
  EXPECT_EQ(e.estimate_text(4), 2);
  EXPECT_EQ(e.estimate_text(1'000'001), 500'001);
}

TEST(TokenEstimator, InputAddsFourPerPartAndEight) {
  ByteTokenEstimator e;
  RequestSummary r;
  EXPECT_EQ(e.estimate_input(r), 8);
  r.prompt_text_bytes = 11;
  r.prompt_parts = 3;
  EXPECT_EQ(e.estimate_input(r), 6 + 12 + 8);
}

TEST(TokenEstimator, OverEstimatesEnglishAndCjk) {
  // The contract is to over-estimate real text: ~4 bytes/token for English, >= 2 for CJK.
  ByteTokenEstimator e;
  const std::string english = "The quick brown fox jumps over the lazy dog.";  // ~10 tokens
  EXPECT_GE(e.estimate_text(static_cast<std::int64_t>(english.size())), 10);
  const std::string cjk =
      "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c";  // 4 chars, <= 6 tokens
  EXPECT_GE(e.estimate_text(static_cast<std::int64_t>(cjk.size())), 6);
}

TEST(TokenEstimator, DefaultIsTheByteEstimator) {
  const TokenEstimator& d = default_token_estimator();
  EXPECT_EQ(&d, &default_token_estimator());
  EXPECT_NE(dynamic_cast<const ByteTokenEstimator*>(&d), nullptr);
  EXPECT_EQ(d.estimate_text(5), 3);
}

// ---------------------------------------------------------------------------------------------
// filter.h helpers

TEST(FilterHelpers, ApiKindNames) {
  EXPECT_STREQ(to_string(ApiKind::kChatCompletions), "chat.completions");
  EXPECT_STREQ(to_string(ApiKind::kResponses), "responses");
  EXPECT_STREQ(to_string(ApiKind::kEmbeddings), "embeddings");
  EXPECT_STREQ(to_string(ApiKind::kMessages), "messages");
  EXPECT_STREQ(to_string(ApiKind::kPassthrough), "passthrough");
}

TEST(FilterHelpers, RaiseAlertAndEventFields) {
  StreamContext ctx;
  ctx.raise_alert("t.x", "info", "src", "msg");
  ctx.raise_alert("t.y", "critical", "src2", "msg2", R"({"k":1})");
  ctx.add_event_field("f", R"({"a":true})");
  ASSERT_EQ(ctx.alerts.size(), 2u);
  EXPECT_EQ(ctx.alerts[0].type, "t.x");
  EXPECT_EQ(ctx.alerts[0].severity, "info");
  EXPECT_EQ(ctx.alerts[0].source, "src");
  EXPECT_EQ(ctx.alerts[0].message, "msg");
  EXPECT_EQ(ctx.alerts[0].details_json, "{}");
  EXPECT_EQ(ctx.alerts[1].details_json, R"({"k":1})");
  ASSERT_EQ(ctx.event_fields.size(), 1u);
  EXPECT_EQ(ctx.event_fields[0].first, "f");
  EXPECT_EQ(ctx.event_fields[0].second, R"({"a":true})");
}

TEST(FilterHelpers, DefaultPhasesContinue) {
  struct Plain : Filter {};
  Plain f;
  StreamContext ctx;
  ResponseEvent ev;
  std::string body = "x";
  EXPECT_EQ(f.on_request(ctx), FilterStatus::kContinue);
  EXPECT_EQ(f.on_response_headers(ctx), FilterStatus::kContinue);
  EXPECT_EQ(f.on_response_event(ctx, ev, false), FilterStatus::kContinue);
  EXPECT_EQ(f.on_response_body(ctx, body), FilterStatus::kContinue);
  EXPECT_FALSE(f.wants_response_body());
  EXPECT_FALSE(f.wants_response_events());
  f.on_complete(ctx, StreamInfo{});

  boost::asio::io_context io;
  auto fut = boost::asio::co_spawn(io, f.resume_request(ctx), boost::asio::use_future);
  io.run();
  EXPECT_EQ(fut.get(), FilterStatus::kContinue);
}

}  // namespace
}  // namespace sluice
