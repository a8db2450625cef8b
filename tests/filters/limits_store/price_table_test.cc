// Tests for prices: exact USD parsing, the cost formula for OpenAI-style (cached ⊂ prompt)
// and Anthropic-style (cache tokens in addition) usage as normalized by the adapters, the
// built-in table, overrides and glob lookup.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "filters/limits_store/price_table.h"

namespace sluice::limits {
namespace {

TEST(Prices, ParseMicroUsd) {
  EXPECT_EQ(parse_micro_usd("2.50"), 2'500'000);
  EXPECT_EQ(parse_micro_usd("0.075"), 75'000);
  EXPECT_EQ(parse_micro_usd("3"), 3'000'000);
  EXPECT_EQ(parse_micro_usd("0.000001"), 1);
  EXPECT_FALSE(parse_micro_usd("0.0000001"));
  EXPECT_FALSE(parse_micro_usd("-1"));
  EXPECT_FALSE(parse_micro_usd("1e3"));
  EXPECT_FALSE(parse_micro_usd("1."));
  EXPECT_FALSE(parse_micro_usd(""));
}

TEST(Prices, OpenAiCachedTokensArePartOfThePrompt) {
  ModelPrice p{2'500'000, 1'250'000, 2'500'000, 10'000'000, 16384};  // gpt-4o
  TokenUsage u;
  u.input_tokens = 1000;  // prompt_tokens, 400 of them cached
  u.cached_input_tokens = 400;
  u.output_tokens = 100;
  // 600 × 2.50 + 400 × 1.25 + 100 × 10.00 per 1M = 1500 + 500 + 1000 micro-USD
  EXPECT_EQ(cost_micro_usd(p, u), 3000);
}

TEST(Prices, AnthropicCacheTokensAreAddedToInput) {
  ModelPrice p{3'000'000, 300'000, 3'750'000, 15'000'000, 64000};  // claude-sonnet-4-5
  TokenUsage u;  // input_tokens 100 + cache_read 2000 + cache_creation 1000, normalized
  u.input_tokens = 3100;
  u.cached_input_tokens = 2000;
  u.cache_write_tokens = 1000;
  u.output_tokens = 50;
  // 100×3 + 2000×0.30 + 1000×3.75 + 50×15 = 300 + 600 + 3750 + 750
  EXPECT_EQ(cost_micro_usd(p, u), 5400);
}

TEST(Prices, RoundsUpOnceNeverZero) {
  ModelPrice p{150'000, 75'000, 150'000, 600'000, 0};  // gpt-4o-mini
  TokenUsage u;
  u.input_tokens = 1;
  EXPECT_EQ(cost_micro_usd(p, u), 1);  // 0.15 micro-USD → 1
  u.input_tokens = 10;
  u.output_tokens = 1;
  EXPECT_EQ(cost_micro_usd(p, u), 3);  // 1.5 + 0.6 = 2.1 → 3
}

TEST(Prices, BuiltinTableHasCurrentModels) {
  const PriceTable& t = PriceTable::builtin();
  EXPECT_GT(t.size(), 15u);
  const ModelPrice* mini = t.find("gpt-4o-mini-2024-07-18");
  EXPECT_EQ(t.find("gpt-5.4-mini-2026-03-17")->output, 4'500'000);
  EXPECT_EQ(t.find("gpt-6-sol"), nullptr);  // never a neighbour's price
  ASSERT_NE(mini, nullptr);
  EXPECT_EQ(mini->input, 150'000);  // the longest glob wins over "gpt-4o-2*"
  const ModelPrice* sonnet = t.find("claude-sonnet-4-5-20250929");
  ASSERT_NE(sonnet, nullptr);
  EXPECT_EQ(sonnet->cache_write, 3'750'000);
  EXPECT_EQ(t.find("no-such-model"), nullptr);
}

TEST(Prices, OverridesAndErrors) {
  PriceTable t = PriceTable::builtin();
  ConfigErrors errors("test.yaml");
  YAML::Node y = YAML::Load(R"(
"gpt-4o": {input: 1, output: 2}
"mine": {input: 0.5, output: 1.5, max_output_tokens: 100}
"broken": {input: -1}
)");
  t.load(ConfigNode(y, "filters.budget.prices.models", &errors));
  EXPECT_EQ(t.find("gpt-4o")->input, 1'000'000);
  EXPECT_EQ(t.find("gpt-4o")->cached_input, 1'000'000);  // defaults to input
  EXPECT_EQ(t.find("mine")->max_output_tokens, 100);
  EXPECT_EQ(t.find("broken"), nullptr);
  ASSERT_EQ(errors.all().size(), 2u);  // bad input, missing output
  EXPECT_NE(errors.all()[0].find("broken"), std::string::npos);
}

// An exact name beats any pattern; among patterns the longest wins, the first of equally long
// ones; a later load() keeps the order and re-indexes.
TEST(Prices, PatternPrecedence) {
  PriceTable t;
  ConfigErrors errors("test.yaml");
  YAML::Node y = YAML::Load(R"(
"acme-*": {input: 1, output: 1}
"acme-large-*": {input: 2, output: 2}
"acme-large-v2": {input: 3, output: 3}
"acme-?mall-*": {input: 4, output: 4}
"acme-s*all-*": {input: 5, output: 5}
)");
  t.load(ConfigNode(y, "models", &errors));
  ASSERT_TRUE(errors.all().empty());
  EXPECT_EQ(t.find("acme-large-v2")->input, 3'000'000);
  EXPECT_EQ(t.find("acme-large-v3")->input, 2'000'000);
  EXPECT_EQ(t.find("acme-tiny")->input, 1'000'000);
  EXPECT_EQ(t.find("acme-small-1")->input, 4'000'000);  // as long as "acme-s*all-*", first
  EXPECT_EQ(t.find("other"), nullptr);
  YAML::Node more = YAML::Load(R"("acme-large-v*": {input: 6, output: 6})");
  t.load(ConfigNode(more, "models", &errors));
  EXPECT_EQ(t.find("acme-large-v3")->input, 6'000'000);
  EXPECT_EQ(t.find("acme-large-v2")->input, 3'000'000);
}

TEST(Prices, ReservedOutput) {
  RequestSummary r;
  ModelPrice p{1, 1, 1, 1, 8192};
  EXPECT_EQ(reserved_output_tokens(r, &p, 4096), 8192);
  EXPECT_EQ(reserved_output_tokens(r, nullptr, 4096), 4096);
  r.max_output_tokens = 100;
  r.n = 3;
  EXPECT_EQ(reserved_output_tokens(r, &p, 4096), 300);
}

}  // namespace
}  // namespace sluice::limits
