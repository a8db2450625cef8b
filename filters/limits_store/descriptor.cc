#include "filters/limits_store/descriptor.h"

namespace sluice::limits {

bool glob(std::string_view p, std::string_view t) {
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

bool valid_rule_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return false;
  return true;
}

namespace {
// "*" means "each value", so a call without that value (no team, no key) is not counted.
bool field_matches(const std::optional<std::string>& f, const std::string& value) {
  if (!f) return true;
  if (*f == "*") return !value.empty();
  return glob(*f, value);
}
void field_name(std::string& out, const char* name, const std::optional<std::string>& f,
                const std::string& value) {
  if (!f) return;
  out += '|';
  out += name;
  out += '=';
  out += *f == "*" ? value : *f;
}
}  // namespace

bool Descriptor::matches(const Identity& id, const std::string& m) const {
  return field_matches(key, id.key_fingerprint) && field_matches(team, id.team) &&
         field_matches(tenant, id.tenant) && field_matches(app, id.app) &&
         field_matches(model, m);
}

std::string Descriptor::counter(const std::string& rule, const Identity& id,
                                const std::string& m) const {
  std::string out = rule;
  field_name(out, "tenant", tenant, id.tenant);
  field_name(out, "team", team, id.team);
  field_name(out, "app", app, id.app);
  field_name(out, "key", key, id.key_fingerprint);
  field_name(out, "model", model, m);
  return out;
}

Descriptor parse_descriptor(const ConfigNode& node) {
  Descriptor d;
  if (!node.defined()) return d;
  node.check_keys({"key", "team", "tenant", "app", "model"});
  auto opt = [&](std::string_view k, std::optional<std::string>& out) {
    auto n = node[k];
    if (!n.defined()) return;
    std::string s;
    n.read(s);
    if (s.empty()) n.error("must not be empty (omit the field to match any value)");
    out = std::move(s);
  };
  opt("key", d.key);
  opt("team", d.team);
  opt("tenant", d.tenant);
  opt("app", d.app);
  opt("model", d.model);
  return d;
}

}  // namespace sluice::limits
