#include "filters/limits_store/price_table.h"

#include <algorithm>

#include "conf/embedded_prices.h"
#include "filters/limits_store/descriptor.h"

namespace sluice::limits {

std::optional<std::int64_t> parse_micro_usd(const std::string& text) {
  std::int64_t whole = 0, frac = 0;
  int frac_digits = 0;
  std::size_t i = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    whole = whole * 10 + (text[i++] - '0');
    if (whole > 1'000'000'000) return std::nullopt;
  }
  if (i == 0) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (++frac_digits > 6) return std::nullopt;
      frac = frac * 10 + (text[i++] - '0');
    }
    if (frac_digits == 0) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  for (int d = frac_digits; d < 6; ++d) frac *= 10;
  return whole * 1'000'000 + frac;
}

std::optional<ModelPrice> parse_price(const ConfigNode& node) {
  node.check_keys({"input", "cached_input", "cache_write", "output", "max_output_tokens"});
  ModelPrice p;
  bool ok = true;
  auto usd = [&](std::string_view key, std::int64_t& out, bool required) -> bool {
    auto n = node[key];
    if (!n.defined()) {
      if (required) {
        node.require(key);  // "missing key", at the entry's line
        ok = false;
      }
      return false;
    }
    auto s = n.scalar();
    if (!s) {
      ok = false;
      return false;
    }
    auto v = parse_micro_usd(*s);
    if (!v) {
      n.error("expected a price in USD per 1M tokens, e.g. 2.50 (at most 6 decimals)");
      ok = false;
      return false;
    }
    out = *v;
    return true;
  };
  usd("input", p.input, true);
  usd("output", p.output, true);
  if (!usd("cached_input", p.cached_input, false)) p.cached_input = p.input;
  if (!usd("cache_write", p.cache_write, false)) p.cache_write = p.input;
  node["max_output_tokens"].read(p.max_output_tokens, 0, 10'000'000);
  if (!ok) return std::nullopt;
  return p;
}

void PriceTable::load(const ConfigNode& models) {
  if (!models.defined()) return;
  for (auto& [name, node] : models.entries()) {
    auto p = parse_price(node);
    if (!p) continue;
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.pattern == name; });
    if (it != entries_.end()) it->price = *p;
    else entries_.push_back({name, *p});
  }
  index();
}

void PriceTable::index() {
  exact_.clear();
  globs_.clear();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].pattern.find_first_of("*?") != std::string::npos) globs_.push_back(i);
    else exact_.emplace(entries_[i].pattern, i);
  }
  std::stable_sort(globs_.begin(), globs_.end(), [&](std::size_t a, std::size_t b) {
    return entries_[a].pattern.size() > entries_[b].pattern.size();
  });
}

const PriceTable& PriceTable::builtin() {
  static const PriceTable table = [] {
    PriceTable t;
    ConfigErrors errors("conf/prices.yaml (built in)");
    YAML::Node root = YAML::Load(std::string(embedded_prices_yaml()));
    ConfigNode top(root, "", &errors);
    top.check_keys({"as_of", "source", "models"});
    t.load(top["models"]);
    return t;
  }();
  return table;
}

const ModelPrice* PriceTable::find(const std::string& model) const {
  // An exact name wins; else the longest matching pattern, the first of equally long ones.
  if (auto it = exact_.find(model); it != exact_.end()) return &entries_[it->second].price;
  for (std::size_t i : globs_)
    if (glob(entries_[i].pattern, model)) return &entries_[i].price;
  return nullptr;
}

std::int64_t cost_micro_usd(const ModelPrice& p, const TokenUsage& u) {
  std::int64_t cached = std::max<std::int64_t>(0, u.cached_input_tokens);
  std::int64_t write = std::max<std::int64_t>(0, u.cache_write_tokens);
  std::int64_t uncached = std::max<std::int64_t>(0, u.input_tokens - cached - write);
  // Prices are per 1M tokens: the sum is in millionths of a micro-dollar.
  std::int64_t millionths = uncached * p.input + cached * p.cached_input +
                            write * p.cache_write +
                            std::max<std::int64_t>(0, u.output_tokens) * p.output;
  return (millionths + 999'999) / 1'000'000;
}

std::int64_t reserved_output_tokens(const RequestSummary& r, const ModelPrice* p,
                                    std::int64_t fallback) {
  std::int64_t n = std::max<std::int64_t>(1, r.n);
  std::int64_t per = r.max_output_tokens >= 0                ? r.max_output_tokens
                     : (p != nullptr && p->max_output_tokens > 0) ? p->max_output_tokens
                                                                 : fallback;
  return per * n;
}

}  // namespace sluice::limits
