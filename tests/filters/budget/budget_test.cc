// Tests for filters/budget: config validation (default price required, bad amounts and
// windows named), reservation of the maximum cost, refusal with insufficient_quota,
// settlement at the price table's exact cost, threshold and unknown-model alerts.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

#include "conf/yaml_reader.h"
#include "filters/budget/config.h"
#include "filters/budget/filter.h"

namespace sluice {
namespace {

struct Parsed {
  std::shared_ptr<const budget::Config> config;
  std::vector<std::string> errors;
};

Parsed parse(const std::string& yaml) {
  ConfigErrors errors("test.yaml");
  ConfigNode node(YAML::Load(yaml), "filters.budget", &errors);
  auto c = budget::parse_config(node);
  return {std::static_pointer_cast<const budget::Config>(c), errors.all()};
}

std::string unique(const std::string& base) {
  static int n = 0;
  return base + std::to_string(++n);
}

// A config with a model priced at 1 USD per 1M output tokens (1 micro-USD per token).
std::string config(const std::string& rule, const std::string& limits) {
  return "default_price: {input: 10, output: 30}\n"
         "prices: {models: {\"unit-model\": {input: 0, output: 1}}}\n"
         "rules:\n  - name: " + rule + "\n    match: {team: \"*\"}\n" + limits;
}

StreamContext call(const std::string& model = "unit-model", std::int64_t max_tokens = 100,
                   Provider p = Provider::kOpenAI) {
  StreamContext ctx;
  ctx.provider = p;
  ctx.api = ApiKind::kChatCompletions;
  ctx.identity.tenant = "acme";
  ctx.identity.team = "blue";
  ctx.identity.key_fingerprint = "k";
  ctx.request.model = model;
  ctx.request.max_output_tokens = max_tokens;
  ctx.request.estimated_input_tokens = 20;
  return ctx;
}

TEST(BudgetConfig, SpendNeedsADefaultPrice) {
  auto p = parse("rules:\n  - name: a\n    usd_per_day: 5\n");
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_NE(p.errors[0].find("filters.budget: default_price is required"), std::string::npos)
      << p.errors[0];
  EXPECT_TRUE(parse("rules:\n  - name: a\n    total_tokens: [{amount: 5, window: day}]\n").errors.empty());
}

TEST(BudgetConfig, BadAmountsWindowsAndPricesNamed) {
  auto p = parse(R"(
default_price: {input: 1}
prices: {models: {"m": {input: "cheap", output: 1}}}
rules:
  - name: a
    usd_per_day: -3
    usd: [{amount: 5, window: quarter}]
    total_tokens: [{amount: 0, window: day}]
    on_store_error: sometimes
)");
  std::string all;
  for (const auto& e : p.errors) all += e + "\n";
  EXPECT_NE(all.find("filters.budget.default_price"), std::string::npos) << all;
  EXPECT_NE(all.find("output"), std::string::npos) << all;
  EXPECT_NE(all.find("filters.budget.prices.models.m.input"), std::string::npos) << all;
  EXPECT_NE(all.find("filters.budget.rules[0].usd_per_day"), std::string::npos) << all;
  EXPECT_NE(all.find("filters.budget.rules[0].usd[0].window"), std::string::npos) << all;
  EXPECT_NE(all.find("filters.budget.rules[0].total_tokens[0].amount"), std::string::npos) << all;
  EXPECT_NE(all.find("on_store_error"), std::string::npos) << all;
}

TEST(Budget, AdmitsExactlyWhatTheBudgetCovers) {
  // Each call may cost 100 micro-USD (100 output tokens at 1 USD / 1M); the budget is 1000.
  auto p = parse(config(unique("b"), "    usd_per_day: 0.001\n"));
  ASSERT_TRUE(p.errors.empty()) << p.errors[0];
  std::vector<std::unique_ptr<budget::BudgetFilter>> held;
  int admitted = 0;
  for (int i = 0; i < 25; ++i) {
    auto f = std::make_unique<budget::BudgetFilter>(p.config);
    auto ctx = call();
    FilterStatus st = f->on_request(ctx);
    if (st == FilterStatus::kContinue) {
      ++admitted;
      held.push_back(std::move(f));
    } else {
      EXPECT_EQ(ctx.reply.status, 429);
      EXPECT_EQ(ctx.reply.type, "insufficient_quota");
      EXPECT_EQ(ctx.reply.code, "insufficient_quota");
      EXPECT_NE(ctx.reply.message.find("USD 0.000000 of 0.001000 remain"), std::string::npos)
          << ctx.reply.message;
      EXPECT_EQ(ctx.alerts.back().type, "budget.exhausted");
    }
  }
  EXPECT_EQ(admitted, 10);
}

TEST(Budget, SettlesTheExactCostAndReleasesTheRest) {
  auto p = parse(config(unique("b"), "    usd_per_day: 0.001\n"));
  {
    budget::BudgetFilter f(p.config);
    auto ctx = call("unit-model", 900);  // reserves 900
    ASSERT_EQ(f.on_request(ctx), FilterStatus::kContinue);
    ctx.usage.source = TokenUsage::Source::kProvider;
    ctx.usage.input_tokens = 1000;
    ctx.usage.output_tokens = 250;
    f.on_complete(ctx, StreamInfo{});
    ASSERT_EQ(ctx.event_fields.size(), 1u);
    EXPECT_NE(ctx.event_fields[0].second.find("\"reserved_micro_usd\":900,\"cost_micro_usd\":250"),
              std::string::npos)
        << ctx.event_fields[0].second;
  }
  budget::BudgetFilter g(p.config);
  auto ok = call("unit-model", 750);  // 250 + 750 = 1000
  EXPECT_EQ(g.on_request(ok), FilterStatus::kContinue);
  budget::BudgetFilter h(p.config);
  auto no = call("unit-model", 1);
  EXPECT_EQ(h.on_request(no), FilterStatus::kRespond);
}

TEST(Budget, FailedCallsCostNothing) {
  auto p = parse(config(unique("b"), "    usd_per_day: 0.0001\n"));
  for (int i = 0; i < 3; ++i) {
    budget::BudgetFilter f(p.config);
    auto ctx = call();
    ASSERT_EQ(f.on_request(ctx), FilterStatus::kContinue) << i;
    StreamInfo info;
    info.status = 502;
    f.on_complete(ctx, info);  // no usage: nothing charged
  }
}

TEST(Budget, ThresholdAndUnknownModelAlerts) {
  auto p = parse(config(unique("b"), "    usd_per_day: 0.000500\n"));
  budget::BudgetFilter a(p.config), b(p.config);
  auto first = call("unit-model", 350);
  ASSERT_EQ(a.on_request(first), FilterStatus::kContinue);
  EXPECT_TRUE(first.alerts.empty());
  auto second = call("unit-model", 60);  // 410 of 500: crosses 80%
  ASSERT_EQ(b.on_request(second), FilterStatus::kContinue);
  ASSERT_EQ(second.alerts.size(), 1u);
  EXPECT_EQ(second.alerts[0].type, "budget.threshold");
  EXPECT_NE(second.alerts[0].details_json.find("\"percent\":80"), std::string::npos);
  budget::BudgetFilter b2(p.config);
  auto third = call("unit-model", 90);  // 500 of 500: reaches 100%
  ASSERT_EQ(b2.on_request(third), FilterStatus::kContinue);
  ASSERT_EQ(third.alerts.size(), 1u);
  EXPECT_EQ(third.alerts[0].type, "budget.threshold");
  EXPECT_EQ(third.alerts[0].severity, "critical");
  EXPECT_NE(third.alerts[0].details_json.find("\"percent\":100"), std::string::npos);

  auto q = parse(config(unique("b"), "    usd_per_month: 100\n"));
  budget::BudgetFilter c(q.config);
  auto unknown = call("mystery-model", 10);
  ASSERT_EQ(c.on_request(unknown), FilterStatus::kContinue);
  ASSERT_EQ(unknown.alerts.size(), 1u);
  EXPECT_EQ(unknown.alerts[0].type, "budget.unknown_model_price");
  unknown.usage.source = TokenUsage::Source::kProvider;
  unknown.usage.input_tokens = 1000;
  unknown.usage.output_tokens = 1000;
  c.on_complete(unknown, StreamInfo{});
  // Default price 10 / 30 USD per 1M: 10000 + 30000 micro-USD.
  EXPECT_NE(unknown.event_fields[0].second.find("\"cost_micro_usd\":40000"), std::string::npos)
      << unknown.event_fields[0].second;
}

TEST(Budget, AnthropicRefusalIsARateLimitError) {
  auto p = parse(config(unique("b"), "    total_tokens: [{amount: 50, window: 1h}]\n"));
  budget::BudgetFilter f(p.config);
  auto ctx = call("unit-model", 100, Provider::kAnthropic);
  ASSERT_EQ(f.on_request(ctx), FilterStatus::kRespond);
  EXPECT_EQ(ctx.reply.status, 429);
  EXPECT_EQ(ctx.reply.type, "rate_limit_error");
  EXPECT_NE(ctx.reply.message.find("token budget"), std::string::npos);
}

}  // namespace
}  // namespace sluice
