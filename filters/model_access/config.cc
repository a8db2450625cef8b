#include "filters/model_access/config.h"

namespace sluice::model_access {

bool Rule::matches(const Identity& id) const {
  return (!tenant || *tenant == id.tenant) && (!team || *team == id.team) &&
         (!app || *app == id.app);
}

const Rule* Config::rule_for(const Identity& id) const {
  for (const auto& r : rules)
    if (r.matches(id)) return &r;
  return nullptr;
}

// Iterative matcher with single backtrack point: linear in practice, no recursion blow-up
// on patterns like "a*a*a*b".
bool glob_match(std::string_view p, std::string_view t) {
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::shared_ptr<const FilterConfig> parse_config(const ConfigNode& section) {
  auto cfg = std::make_shared<Config>();
  section.check_keys({"rules"});
  for (const auto& item : section["rules"].items()) {
    item.check_keys({"tenant", "team", "app", "allow", "deny"});
    Rule r;
    auto opt = [&](std::string_view key, std::optional<std::string>& out) {
      auto n = item[key];
      if (n.defined()) {
        std::string s;
        n.read(s);
        out = std::move(s);
      }
    };
    opt("tenant", r.tenant);
    opt("team", r.team);
    opt("app", r.app);
    item["allow"].read_list(r.allow);
    item["deny"].read_list(r.deny);
    cfg->rules.push_back(std::move(r));
  }
  return cfg;
}

}  // namespace sluice::model_access
