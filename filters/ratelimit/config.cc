#include "filters/ratelimit/config.h"

#include <set>

namespace sluice::ratelimit {

namespace {
constexpr std::string_view kTop[] = {
    "store", "time_zone", "default_max_output_tokens", "response_headers", "rules"};
constexpr std::string_view kRule[] = {
    "name", "match", "requests_per_minute", "input_tokens_per_minute", "output_tokens_per_minute",
    "total_tokens", "concurrency", "on_store_error"};
}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (auto t : kTop) k.push_back(std::string(t));
    for (auto r : kRule) k.push_back("rules[]." + std::string(r));
    for (auto m : {"key", "team", "tenant", "app", "model"}) k.push_back(std::string("rules[].match.") + m);
    for (auto t : {"amount", "window"}) k.push_back(std::string("rules[].total_tokens.") + t);
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
    section["response_headers"].read(cfg->response_headers);
    std::set<std::string> names;
    for (const auto& item : section["rules"].items()) {
      item.check_keys(kRule);
      Rule r;
      if (item.require("name")) item["name"].read(r.name);
      if (item["name"].defined() && !limits::valid_rule_name(r.name))
        item["name"].error("expected letters, digits, '_', '-' or '.' (1 to 64 of them)");
      if (!r.name.empty() && !names.insert(r.name).second)
        item["name"].error("rule name \"" + r.name + "\" is used twice");
      r.match = limits::parse_descriptor(item["match"]);
      item["requests_per_minute"].read(r.requests_per_minute, 1, limits::kMaxLimit);
      item["input_tokens_per_minute"].read(r.input_tokens_per_minute, 1, limits::kMaxLimit);
      item["output_tokens_per_minute"].read(r.output_tokens_per_minute, 1, limits::kMaxLimit);
      item["concurrency"].read(r.concurrency, 1, 1'000'000);
      ConfigNode tt = item["total_tokens"];
      if (tt.defined()) {
        tt.check_keys({"amount", "window"});
        if (tt.require("amount")) tt["amount"].read(r.total_tokens, 1, limits::kMaxLimit);
        if (tt.require("window")) {
          std::string w;
          tt["window"].read(w);
          if (auto spec = limits::parse_window(w)) r.total_tokens_window = *spec;
          else tt["window"].error("unknown window \"" + w + "\" (day, month, or a duration like 30m, 12h, 7d)");
        }
      }
      if (item["on_store_error"].defined()) {
        int p = item["on_store_error"].read_choice({"open", "closed"});
        if (p == 1) r.policy = limits::StorePolicy::kFailClosed;
      }
      if (r.requests_per_minute == 0 && r.input_tokens_per_minute == 0 &&
          r.output_tokens_per_minute == 0 && r.total_tokens == 0 && r.concurrency == 0)
        item.error("rule sets no limit (requests_per_minute, input_tokens_per_minute, "
                   "output_tokens_per_minute, total_tokens or concurrency)");
      cfg->rules.push_back(std::move(r));
    }
  }
  cfg->limiter = std::make_shared<limits::Limiter>(store);
  return cfg;
}

}  // namespace sluice::ratelimit
