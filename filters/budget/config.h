// budget: spend (USD, kept in integer micro-dollars) and total tokens per calendar day,
// calendar month or fixed window, per descriptor (key / team / tenant / app / model).
// Section `filters.budget`:
//
//   store: {...}                      # see filters/limits_store/store_config.h
//   time_zone: UTC                    # calendar days and months start at local midnight
//   default_max_output_tokens: 4096   # reserved when neither request nor price table caps output
//   default_price: {input: 15, output: 75}  # required: prices models the table does not know
//   prices: {models: {"my-model*": {input: 1.0, output: 2.0}}}  # added to / overriding
//                                     # conf/prices.yaml (USD per 1M tokens)
//   rules:                            # every matching rule applies (hierarchy)
//     - name: team-daily              # required, unique
//       match: {team: "*"}
//       usd_per_day: 10               # calendar day in time_zone
//       usd_per_month: 200            # calendar month in time_zone
//       usd: [{amount: 50, window: 7d}]            # custom windows (day, month, 30m, 12h, 7d)
//       total_tokens: [{amount: 2000000, window: day}]
//       on_store_error: closed        # closed (default for budgets): 503 | open
//
// Admission reserves the cost of (estimated input, maximum output) at the model's price on
// every matching budget, atomically; a budget that cannot cover it refuses the call with 429
// insufficient_quota (OpenAI shape; Anthropic: rate_limit_error). Settlement charges the
// price table applied to the provider's usage and releases the rest.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "conf/yaml_reader.h"
#include "filters/filter.h"
#include "filters/limits_store/calendar.h"
#include "filters/limits_store/descriptor.h"
#include "filters/limits_store/limits_filter.h"
#include "filters/limits_store/price_table.h"

namespace sluice::budget {

struct Limit {
  limits::Unit unit = limits::Unit::kSpendMicroUsd;  // or kTotalTokens
  std::int64_t amount = 0;                           // micro-USD or tokens
  limits::WindowSpec window;
  std::string window_name;  // "day", "month", "7d"
};

struct Rule {
  std::string name;
  limits::Descriptor match;
  std::vector<Limit> limits;
  limits::StorePolicy policy = limits::StorePolicy::kFailClosed;
};

struct Config : FilterConfig {
  std::shared_ptr<const limits::Limiter> limiter;
  limits::TimeZone time_zone = limits::TimeZone::utc();
  std::int64_t default_max_output_tokens = 4096;
  limits::PriceTable prices;         // built-in table plus overrides
  limits::ModelPrice default_price;  // for models the table does not know
  bool has_default_price = false;
  std::vector<Rule> rules;
};

std::shared_ptr<const FilterConfig> parse_config(const ConfigNode& section);

const std::vector<std::string>& config_keys();

}  // namespace sluice::budget
