#include "filters/budget/config.h"

#include <set>

namespace sluice::budget {

namespace {
constexpr std::string_view kTop[] = {
    "store", "time_zone", "default_max_output_tokens", "default_price", "prices", "rules"};
constexpr std::string_view kRule[] = {
    "name", "match", "usd_per_day", "usd_per_month", "usd", "total_tokens", "on_store_error"};
constexpr std::string_view kPrice[] = {
    "input", "cached_input", "cache_write", "output", "max_output_tokens"};

std::optional<limits::WindowSpec> window_of(const ConfigNode& n, std::string& name) {
  n.read(name);
  auto spec = limits::parse_window(name);
  if (!spec) n.error("unknown window \"" + name + "\" (day, month, or a duration like 30m, 12h, 7d)");
  return spec;
}
}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (auto t : kTop) k.push_back(std::string(t));
    for (auto p : kPrice) k.push_back("default_price." + std::string(p));
    for (auto p : kPrice) k.push_back("prices.models.*." + std::string(p));
    for (auto r : kRule) k.push_back("rules[]." + std::string(r));
    for (auto m : {"key", "team", "tenant", "app", "model"}) k.push_back(std::string("rules[].match.") + m);
    for (auto t : {"amount", "window"}) {
      k.push_back(std::string("rules[].usd[].") + t);
      k.push_back(std::string("rules[].total_tokens[].") + t);
    }
    for (auto s : {"backend", "state_file", "key_prefix", "reservation_ttl"}) k.push_back(std::string("store.") + s);
    for (auto s : {"address", "password", "username", "database", "connect_timeout", "command_timeout",
                   "reconnect_backoff", "batch_wait_us", "settle_wait_us"})
      k.push_back(std::string("store.redis.") + s);
    return k;
  }();
  return keys;
}

std::shared_ptr<const FilterConfig> parse_config(const ConfigNode& section) {
  auto cfg = std::make_shared<Config>();
  cfg->prices = limits::PriceTable::builtin();
  limits::StoreConfig store;
  if (section.defined()) {
    section.check_keys(kTop);
    limits::parse_store_config(section["store"], store);
    std::string tz = "UTC";
    section["time_zone"].read(tz);
    std::string err;
    if (auto z = limits::TimeZone::load(tz, err)) cfg->time_zone = *z;
    else section["time_zone"].error(err);
    section["default_max_output_tokens"].read(cfg->default_max_output_tokens, 1, 10'000'000);
    ConfigNode prices = section["prices"];
    if (prices.defined()) {
      prices.check_keys({"models"});
      cfg->prices.load(prices["models"]);
    }
    if (section["default_price"].defined()) {
      if (auto p = limits::parse_price(section["default_price"])) {
        cfg->default_price = *p;
        cfg->has_default_price = true;
      }
    }
    std::set<std::string> names;
    bool spend = false;
    for (const auto& item : section["rules"].items()) {
      item.check_keys(kRule);
      Rule r;
      if (item.require("name")) item["name"].read(r.name);
      if (item["name"].defined() && !limits::valid_rule_name(r.name))
        item["name"].error("expected letters, digits, '_', '-' or '.' (1 to 64 of them)");
      if (!r.name.empty() && !names.insert(r.name).second)
        item["name"].error("rule name \"" + r.name + "\" is used twice");
      r.match = limits::parse_descriptor(item["match"]);
      auto usd = [&](const ConfigNode& n, std::int64_t& out) {
        auto s = n.scalar();
        if (!s) return false;
        auto v = limits::parse_micro_usd(*s);
        if (!v || *v <= 0 || *v > limits::kMaxLimit) {
          n.error("expected a positive amount in USD (at most 6 decimals, at most 10000)");
          return false;
        }
        out = *v;
        return true;
      };
      auto add_usd = [&](const ConfigNode& n, const char* window) {
        if (!n.defined()) return;
        Limit l;
        l.window_name = window;
        l.window = *limits::parse_window(window);
        if (usd(n, l.amount)) r.limits.push_back(l);
      };
      add_usd(item["usd_per_day"], "day");
      add_usd(item["usd_per_month"], "month");
      for (const auto& w : item["usd"].items()) {
        w.check_keys({"amount", "window"});
        Limit l;
        bool ok = w.require("amount") && usd(w["amount"], l.amount);
        if (w.require("window")) {
          auto spec = window_of(w["window"], l.window_name);
          if (spec && ok) {
            l.window = *spec;
            r.limits.push_back(l);
          }
        }
      }
      for (const auto& w : item["total_tokens"].items()) {
        w.check_keys({"amount", "window"});
        Limit l;
        l.unit = limits::Unit::kTotalTokens;
        if (w.require("amount")) w["amount"].read(l.amount, 1, limits::kMaxLimit);
        if (w.require("window")) {
          auto spec = window_of(w["window"], l.window_name);
          if (spec && l.amount > 0) {
            l.window = *spec;
            r.limits.push_back(l);
          }
        }
      }
      if (item["on_store_error"].defined()) {
        int p = item["on_store_error"].read_choice({"open", "closed"});
        if (p == 0) r.policy = limits::StorePolicy::kFailOpen;
      }
      if (r.limits.empty() && !item["usd_per_day"].defined() && !item["usd_per_month"].defined() &&
          !item["usd"].defined() && !item["total_tokens"].defined())
        item.error("rule sets no budget (usd_per_day, usd_per_month, usd or total_tokens)");
      for (const auto& l : r.limits) spend = spend || l.unit == limits::Unit::kSpendMicroUsd;
      cfg->rules.push_back(std::move(r));
    }
    // Never a silent zero: a spend budget needs a price for every model it may see.
    if (spend && !cfg->has_default_price)
      section.error("default_price is required when a rule sets a spend budget (it prices "
                    "models missing from the price table; {input: ..., output: ...} in USD per 1M tokens)");
  }
  cfg->limiter = std::make_shared<limits::Limiter>(store);
  return cfg;
}

}  // namespace sluice::budget
