// Model prices, in integer micro-dollars per million tokens (= USD per token × 10^12 / 10^6),
// so that a price such as $0.075 per 1M tokens is exact. The built-in table is conf/prices.yaml
// (compiled in); config may add or override models.
//
// Cost of a call (TokenUsage is normalized: input_tokens includes cached and cache-write tokens
// for every provider; see sinks/event.h):
//     uncached = input − cached_input − cache_write
//     cost_micro_usd = ceil((uncached·input + cached·cached_input + cache_write·cache_write
//                            + output·output) / 10^6)
// One rounding, up, at the end: never a silent zero for a non-empty call.
//
// Model lookup: an exact name, else the longest matching glob ("gpt-4o-mini*" before "gpt-4o*").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "conf/yaml_reader.h"
#include "filters/filter.h"
#include "sinks/event.h"

namespace sluice::limits {

struct ModelPrice {
  std::int64_t input = 0;         // micro-USD per 1M tokens
  std::int64_t cached_input = 0;  // defaults to input when not given
  std::int64_t cache_write = 0;   // defaults to input when not given
  std::int64_t output = 0;
  std::int64_t max_output_tokens = 0;  // the model's output cap, 0 if unknown
};

class PriceTable {
 public:
  // Adds or replaces models from a `models:` mapping (YAML), reporting errors into `node`.
  void load(const ConfigNode& models);
  // The built-in table (conf/prices.yaml); errors there are a build defect.
  static const PriceTable& builtin();

  // The price for `model`, or null when no entry matches.
  const ModelPrice* find(const std::string& model) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string pattern;
    ModelPrice price;
  };
  void index();  // rebuilds exact_ and globs_ from entries_

  std::vector<Entry> entries_;
  // find() runs on every call: exact names by hash, then the glob patterns, longest first
  // (in entry order among equals), instead of a scan of the whole table.
  std::unordered_map<std::string, std::size_t> exact_;
  std::vector<std::size_t> globs_;
};

// Reads one model entry: {input, cached_input, cache_write, output, max_output_tokens}.
std::optional<ModelPrice> parse_price(const ConfigNode& node);

// USD text ("2.50", "0.075", 3) to micro-dollars, exactly; nullopt when not a non-negative
// decimal with at most 6 fractional digits.
std::optional<std::int64_t> parse_micro_usd(const std::string& text);

std::int64_t cost_micro_usd(const ModelPrice& p, const TokenUsage& u);

// Output tokens to reserve for a request: its own cap (max_tokens, max_completion_tokens,
// max_output_tokens) times n, else the model's cap times n, else `fallback` times n.
std::int64_t reserved_output_tokens(const RequestSummary& r, const ModelPrice* p,
                                    std::int64_t fallback);

}  // namespace sluice::limits
