#include "filters/pii/config.h"

#include <algorithm>

namespace sluice::pii {
namespace {

constexpr std::size_t kMaxHoldBack = 64 * 1024;

std::optional<Action> parse_action(const ConfigNode& n) {
  int i = n.read_choice({"off", "alert", "redact", "block"});
  if (i < 0) return std::nullopt;
  return static_cast<Action>(i);
}

// `entities:` mapping onto `base` (defaults or the global table).
Actions parse_entities(const ConfigNode& node, const Catalog& catalog, Actions base) {
  if (!node.defined()) return base;
  for (auto& [name, value] : node.entries()) {
    auto it = std::find(catalog.names.begin(), catalog.names.end(), name);
    if (it == catalog.names.end()) {
      value.error("unknown entity type '" + name + "'");
      continue;
    }
    std::size_t id = static_cast<std::size_t>(it - catalog.names.begin());
    if (value.is_map()) {
      value.check_keys({"request", "response"});
      if (value["request"].defined())
        if (auto a = parse_action(value["request"])) base.request[id] = *a;
      if (value["response"].defined())
        if (auto a = parse_action(value["response"])) base.response[id] = *a;
    } else if (auto a = parse_action(value)) {
      base.request[id] = base.response[id] = *a;
    }
  }
  return base;
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = {
      "hold_back_bytes",       "redaction",           "mask",
      "entities.*",            "entities.*.request",  "entities.*.response",
      "allow.values",          "allow.email_domains", "custom[].name",
      "custom[].pattern",      "custom[].max_length", "custom[].label",
      "custom[].caseless",     "rules[].tenant",      "rules[].team",
      "rules[].app",           "rules[].entities.*",  "rules[].entities.*.request",
      "rules[].entities.*.response"};
  return keys;
}

bool Actions::any(Direction d) const {
  const auto& v = d == Direction::kRequest ? request : response;
  return std::any_of(v.begin(), v.end(), [](Action a) { return a != Action::kOff; });
}

bool Rule::matches(const Identity& id) const {
  return (!tenant || *tenant == id.tenant) && (!team || *team == id.team) &&
         (!app || *app == id.app);
}

const Actions& Config::actions_for(const Identity& id) const {
  for (const auto& r : rules)
    if (r.matches(id)) return r.actions;
  return actions;
}

std::shared_ptr<const FilterConfig> parse_config(const ConfigNode& section) {
  auto cfg = std::make_shared<Config>();
  section.check_keys({"hold_back_bytes", "redaction", "mask", "entities", "allow", "custom", "rules"});

  std::vector<PatternSpec> patterns = builtin_patterns();
  for (std::size_t i = 0; i < kBuiltinEntities; ++i) {
    cfg->catalog.names.emplace_back(info(static_cast<Entity>(i)).name);
    cfg->catalog.labels.emplace_back(info(static_cast<Entity>(i)).label);
    cfg->actions.request.push_back(info(static_cast<Entity>(i)).default_action);
    cfg->actions.response.push_back(info(static_cast<Entity>(i)).default_action);
  }

  for (const auto& item : section["custom"].items()) {
    item.check_keys({"name", "pattern", "max_length", "label", "caseless"});
    std::string name, pattern, label;
    int max_len = 64;
    bool caseless = false;
    if (item.require("name")) item["name"].read(name);
    if (item.require("pattern")) item["pattern"].read(pattern);
    item["max_length"].read(max_len, 1, 4096);
    item["label"].read(label);
    item["caseless"].read(caseless);
    if (!valid_name(name)) {
      item["name"].error("expected lower-case letters, digits and '_'");
      continue;
    }
    if (std::find(cfg->catalog.names.begin(), cfg->catalog.names.end(), name) !=
        cfg->catalog.names.end()) {
      item["name"].error("'" + name + "' is already an entity type");
      continue;
    }
    if (label.empty())
      for (char c : name) label.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
    PatternSpec p;
    p.entity = cfg->catalog.names.size();
    p.regex = pattern;
    p.caseless = caseless;
    p.max_len = static_cast<std::uint32_t>(max_len);
    p.validate = validate_any;
    p.priority = 70;  // a deliberate site rule beats the generic types on the same span
    patterns.push_back(std::move(p));
    cfg->catalog.names.push_back(name);
    cfg->catalog.labels.push_back(label);
    cfg->actions.request.push_back(Action::kRedact);
    cfg->actions.response.push_back(Action::kRedact);
  }

  cfg->actions = parse_entities(section["entities"], cfg->catalog, cfg->actions);

  for (const auto& item : section["rules"].items()) {
    item.check_keys({"tenant", "team", "app", "entities"});
    Rule r;
    auto opt = [&](std::string_view key, std::optional<std::string>& out) {
      if (item[key].defined()) {
        std::string s;
        item[key].read(s);
        out = std::move(s);
      }
    };
    opt("tenant", r.tenant);
    opt("team", r.team);
    opt("app", r.app);
    r.actions = parse_entities(item["entities"], cfg->catalog, cfg->actions);
    cfg->rules.push_back(std::move(r));
  }

  ConfigNode allow = section["allow"];
  if (allow.defined()) {
    allow.check_keys({"values", "email_domains"});
    std::vector<std::string> values, domains;
    allow["values"].read_list(values);
    allow["email_domains"].read_list(domains);
    for (const auto& v : values) cfg->allow.add_value(v);
    for (const auto& d : domains) cfg->allow.add_email_domain(d);
  }

  if (section["redaction"].defined()) cfg->mask = section["redaction"].read_choice({"placeholder", "mask"}) == 1;
  section["mask"].read(cfg->mask_text);

  std::string error;
  cfg->engine = Engine::build(std::move(patterns), error);
  if (!cfg->engine) {
    section["custom"].defined() ? section["custom"].error(error) : section.error(error);
    return nullptr;
  }
  // Every bounded match must fit in the hold-back, with the validators' view of what follows.
  std::size_t min_hold = cfg->engine->max_len() + kLeftKeep;
  cfg->hold_back = std::max<std::size_t>(512, min_hold);
  if (section["hold_back_bytes"].defined()) {
    section["hold_back_bytes"].read_size(cfg->hold_back, 1, kMaxHoldBack);
    if (cfg->hold_back < min_hold)
      section["hold_back_bytes"].error("must be at least " + std::to_string(min_hold) +
                                       " (the longest pattern's max_length + " + std::to_string(kLeftKeep) + ")");
  }
  return cfg;
}

}  // namespace sluice::pii
