// ratelimit: requests and tokens per minute, tokens per window and concurrent calls, per
// descriptor (key / team / tenant / app / model). Section `filters.ratelimit`:
//
//   store: {...}                      # see filters/limits_store/store_config.h
//   time_zone: UTC                    # for day/month total_tokens windows
//   default_max_output_tokens: 4096   # reserved when neither the request nor the price
//                                     # table gives an output cap
//   response_headers: true            # add Sluice's remaining limits to successful responses
//   rules:                            # every matching rule applies (hierarchy)
//     - name: per-key                 # required, unique: part of the counter's key
//       match: {key: "*"}             # descriptor; see limits_store/descriptor.h
//       requests_per_minute: 60       # GCRA, burst = the limit (limit_check.h)
//       input_tokens_per_minute: 100000
//       output_tokens_per_minute: 20000
//       total_tokens: {amount: 1000000, window: day}   # day | month | 30m / 12h / 7d
//       concurrency: 4                # calls in flight
//       on_store_error: open          # open (default): per-replica buckets | closed: 503
//
// Reservation: input tokens by the documented over-estimate (filters/token_estimator.h),
// output tokens by the request's cap × n (else the model's cap, else the default). Settled
// with the provider-reported usage (else Sluice's count). A refused call gets 429 in the
// provider's shape with retry-after and x-ratelimit-* / anthropic-ratelimit-* headers.
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

namespace sluice::ratelimit {

struct Rule {
  std::string name;
  limits::Descriptor match;
  std::int64_t requests_per_minute = 0;  // 0: no such limit
  std::int64_t input_tokens_per_minute = 0;
  std::int64_t output_tokens_per_minute = 0;
  std::int64_t total_tokens = 0;
  limits::WindowSpec total_tokens_window;
  std::int64_t concurrency = 0;
  limits::StorePolicy policy = limits::StorePolicy::kFailOpen;
};

struct Config : FilterConfig {
  std::shared_ptr<const limits::Limiter> limiter;
  limits::TimeZone time_zone = limits::TimeZone::utc();
  std::int64_t default_max_output_tokens = 4096;
  bool response_headers = true;
  std::vector<Rule> rules;
};

std::shared_ptr<const FilterConfig> parse_config(const ConfigNode& section);

// The config keys, for the configuration reference check.
const std::vector<std::string>& config_keys();

}  // namespace sluice::ratelimit
