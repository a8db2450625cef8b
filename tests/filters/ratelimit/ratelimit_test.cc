// Tests for filters/ratelimit: config validation (keys named), descriptor matching and the
// hierarchy, admission and refusal on the in-process store with provider-shaped 429s and
// headers, settlement with the real usage, and concurrency slots.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <memory>
#include <string>

#include "conf/yaml_reader.h"
#include "filters/ratelimit/config.h"
#include "filters/ratelimit/filter.h"

namespace sluice {
namespace {

struct Parsed {
  std::shared_ptr<const ratelimit::Config> config;
  std::vector<std::string> errors;
};

Parsed parse(const std::string& yaml) {
  ConfigErrors errors("test.yaml");
  ConfigNode node(YAML::Load(yaml), "filters.ratelimit", &errors);
  auto c = ratelimit::parse_config(node);
  return {std::static_pointer_cast<const ratelimit::Config>(c), errors.all()};
}

std::string header(const std::vector<std::pair<std::string, std::string>>& h, const std::string& k) {
  for (const auto& [name, v] : h)
    if (name == k) return v;
  return "";
}

StreamContext call(const std::string& key, const std::string& team, Provider p = Provider::kOpenAI) {
  StreamContext ctx;
  ctx.provider = p;
  ctx.api = p == Provider::kAnthropic ? ApiKind::kMessages : ApiKind::kChatCompletions;
  ctx.identity.tenant = "acme";
  ctx.identity.team = team;
  ctx.identity.key_fingerprint = key;
  ctx.request.model = "gpt-4o";
  ctx.request.max_output_tokens = 100;
  ctx.request.estimated_input_tokens = 50;
  return ctx;
}

// A unique rule name per test, so that the process-wide in-process store starts empty.
std::string unique(const std::string& base) {
  static int n = 0;
  return base + std::to_string(++n);
}

TEST(RateLimitConfig, RejectsBadValuesNamingTheKey) {
  auto p = parse(R"(
rules:
  - name: a
    requests_per_minute: -5
  - name: b
    total_tokens: {amount: 10, window: fortnight}
  - name: c
  - name: "bad name!"
    concurrency: 1
  - name: a
    concurrency: 2
    on_store_error: maybe
)");
  std::string all;
  for (const auto& e : p.errors) all += e + "\n";
  EXPECT_NE(all.find("filters.ratelimit.rules[0].requests_per_minute"), std::string::npos) << all;
  EXPECT_NE(all.find("filters.ratelimit.rules[1].total_tokens.window"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown window \"fortnight\""), std::string::npos) << all;
  EXPECT_NE(all.find("rule sets no limit"), std::string::npos) << all;
  EXPECT_NE(all.find("filters.ratelimit.rules[3].name"), std::string::npos) << all;
  EXPECT_NE(all.find("used twice"), std::string::npos) << all;
  EXPECT_NE(all.find("on_store_error"), std::string::npos) << all;
}

// A store.redis wait in microseconds: 0 accepted, `dflt` when absent, `too_long` refused with
// the key named. `get` reads it from the parsed store config.
void expect_redis_wait(const std::string& key, long dflt, long too_long,
                       std::chrono::microseconds (*get)(const limits::StoreConfig&)) {
  auto with = [&](const std::string& extra) {
    return parse("store: {backend: redis, redis: {address: \"127.0.0.1:6379\"" + extra + "}}\n"
                 "rules:\n  - name: a\n    requests_per_minute: 5\n");
  };
  auto ok = with(", " + key + ": 0");
  EXPECT_TRUE(ok.errors.empty()) << key;
  ASSERT_TRUE(ok.config && ok.config->limiter);
  EXPECT_EQ(get(ok.config->limiter->config()).count(), 0);
  auto absent = with("");
  ASSERT_TRUE(absent.config && absent.config->limiter);
  EXPECT_EQ(get(absent.config->limiter->config()).count(), dflt);
  auto bad = with(", " + key + ": " + std::to_string(too_long));
  std::string all;
  for (const auto& e : bad.errors) all += e + "\n";
  EXPECT_NE(all.find(key), std::string::npos) << all;
}

TEST(RateLimitConfig, RedisBatchWaitIsMicrosecondsUpTo10000) {
  expect_redis_wait("batch_wait_us", 60, 20000,
                    [](const limits::StoreConfig& c) { return c.batch_wait; });
}

TEST(RateLimitConfig, RedisSettleWaitIsMicrosecondsUpTo100000) {
  expect_redis_wait("settle_wait_us", 2000, 200000,
                    [](const limits::StoreConfig& c) { return c.settle_wait; });
}

TEST(RateLimitConfig, RejectsUnknownKeysAndBadStore) {
  auto p = parse(R"(
store: {backend: redis}
time_zone: Nowhere/Special
rules:
  - name: a
    requests_per_minut: 5
)");
  std::string all;
  for (const auto& e : p.errors) all += e + "\n";
  EXPECT_NE(all.find("requests_per_minut"), std::string::npos) << all;
  EXPECT_NE(all.find("backend redis needs a redis"), std::string::npos) << all;
  EXPECT_NE(all.find("Nowhere/Special"), std::string::npos) << all;
}

TEST(RateLimit, RequestsPerMinuteRefusesWithOpenAiShape) {
  std::string rule = unique("rpm");
  auto p = parse("rules:\n  - name: " + rule + "\n    match: {key: \"*\"}\n    requests_per_minute: 3\n");
  ASSERT_TRUE(p.errors.empty());
  for (int i = 0; i < 3; ++i) {
    ratelimit::RateLimitFilter f(p.config);
    auto ctx = call("k1", "t");
    ASSERT_EQ(f.on_request(ctx), FilterStatus::kContinue) << i;
    EXPECT_EQ(header(ctx.response_headers, "x-ratelimit-remaining-requests"), std::to_string(2 - i));
    f.on_complete(ctx, StreamInfo{});
  }
  ratelimit::RateLimitFilter f(p.config);
  auto ctx = call("k1", "t");
  ASSERT_EQ(f.on_request(ctx), FilterStatus::kRespond);
  EXPECT_EQ(ctx.reply.status, 429);
  EXPECT_EQ(ctx.reply.type, "requests");
  EXPECT_EQ(ctx.reply.code, "rate_limit_exceeded");
  EXPECT_EQ(header(ctx.reply.headers, "retry-after"), "20");
  EXPECT_EQ(header(ctx.reply.headers, "x-ratelimit-limit-requests"), "3");
  EXPECT_EQ(header(ctx.reply.headers, "x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(header(ctx.reply.headers, "x-ratelimit-reset-requests"), "1m0s");
  ASSERT_EQ(ctx.alerts.size(), 1u);
  EXPECT_EQ(ctx.alerts[0].type, "ratelimit.rejected");
  // Another key has its own counter.
  ratelimit::RateLimitFilter g(p.config);
  auto other = call("k2", "t");
  EXPECT_EQ(g.on_request(other), FilterStatus::kContinue);
}

TEST(RateLimit, AnthropicShapeAndHeaders) {
  std::string rule = unique("otpm");
  auto p = parse("rules:\n  - name: " + rule + "\n    output_tokens_per_minute: 150\n");
  ratelimit::RateLimitFilter a(p.config);
  auto ctx = call("k", "t", Provider::kAnthropic);
  ASSERT_EQ(a.on_request(ctx), FilterStatus::kContinue);
  EXPECT_EQ(header(ctx.response_headers, "anthropic-ratelimit-output-tokens-remaining"), "50");
  ratelimit::RateLimitFilter b(p.config);
  auto ctx2 = call("k", "t", Provider::kAnthropic);
  ASSERT_EQ(b.on_request(ctx2), FilterStatus::kRespond);
  EXPECT_EQ(ctx2.reply.type, "rate_limit_error");
  EXPECT_EQ(header(ctx2.reply.headers, "anthropic-ratelimit-output-tokens-limit"), "150");
  EXPECT_FALSE(header(ctx2.reply.headers, "anthropic-ratelimit-output-tokens-reset").empty());
  EXPECT_FALSE(header(ctx2.reply.headers, "retry-after").empty());
}

TEST(RateLimit, SettlementGivesBackUnusedTokens) {
  std::string rule = unique("otpm");
  auto p = parse("rules:\n  - name: " + rule + "\n    output_tokens_per_minute: 150\n");
  {
    ratelimit::RateLimitFilter a(p.config);
    auto ctx = call("k", "t");
    ASSERT_EQ(a.on_request(ctx), FilterStatus::kContinue);  // reserves 100
    ctx.usage.source = TokenUsage::Source::kProvider;
    ctx.usage.output_tokens = 20;
    a.on_complete(ctx, StreamInfo{});  // keeps 20
    ASSERT_EQ(ctx.event_fields.size(), 1u);
    EXPECT_NE(ctx.event_fields[0].second.find("\"settled\":{\"" + rule + ".output_tokens\":20}"),
              std::string::npos)
        << ctx.event_fields[0].second;
  }
  ratelimit::RateLimitFilter b(p.config);
  auto ctx = call("k", "t");
  EXPECT_EQ(b.on_request(ctx), FilterStatus::kContinue);  // 20 + 100 ≤ 150
}

TEST(RateLimit, HierarchyKeyAndTeamBothCount) {
  std::string key_rule = unique("key"), team_rule = unique("team");
  auto p = parse("rules:\n  - name: " + key_rule +
                 "\n    match: {key: \"*\"}\n    requests_per_minute: 5\n  - name: " + team_rule +
                 "\n    match: {team: \"*\"}\n    requests_per_minute: 3\n");
  int admitted = 0;
  for (const char* key : {"a", "b", "c", "d", "e"}) {
    ratelimit::RateLimitFilter f(p.config);
    auto ctx = call(key, "blue");
    if (f.on_request(ctx) == FilterStatus::kContinue) ++admitted;
  }
  EXPECT_EQ(admitted, 3);  // five keys, one team of 3
  ratelimit::RateLimitFilter f(p.config);
  auto red = call("a", "red");
  EXPECT_EQ(f.on_request(red), FilterStatus::kContinue);
}

TEST(RateLimit, ConcurrencySlotsAreReleased) {
  std::string rule = unique("conc");
  auto p = parse("rules:\n  - name: " + rule + "\n    concurrency: 2\n");
  ratelimit::RateLimitFilter a(p.config), b(p.config), c(p.config), d(p.config);
  auto ca = call("k", "t"), cb = call("k", "t"), cc = call("k", "t"), cd = call("k", "t");
  EXPECT_EQ(a.on_request(ca), FilterStatus::kContinue);
  EXPECT_EQ(b.on_request(cb), FilterStatus::kContinue);
  EXPECT_EQ(c.on_request(cc), FilterStatus::kRespond);
  a.on_complete(ca, StreamInfo{});
  EXPECT_EQ(d.on_request(cd), FilterStatus::kContinue);
}

TEST(RateLimit, PassthroughCallsCount) {
  std::string rule = unique("pt");
  auto p = parse("rules:\n  - name: " + rule + "\n    requests_per_minute: 1\n");
  ratelimit::RateLimitFilter a(p.config), b(p.config);
  StreamContext x, y;  // GET /v1/models: no model, no body
  x.api = y.api = ApiKind::kPassthrough;
  EXPECT_EQ(a.on_request(x), FilterStatus::kContinue);
  EXPECT_EQ(b.on_request(y), FilterStatus::kRespond);
}

}  // namespace
}  // namespace sluice
