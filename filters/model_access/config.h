// model_access: which models an identity may call. Section `filters.model_access`:
//
//   rules:                       # first rule whose identity fields all match decides
//     - tenant: acme             # tenant / team / app: exact match; omitted = any
//       allow: ["gpt-4o*", "claude-sonnet-*"]   # globs ('*' any run, '?' one char); empty = all
//       deny: ["*-preview"]      # checked before allow
//
// A call whose identity matches no rule is allowed. A denied call is answered 403 in the
// provider's error shape (OpenAI: type "invalid_request_error", code "model_not_allowed";
// Anthropic: "permission_error"), counted, and raises a "model.denied" alert.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "conf/yaml_reader.h"
#include "filters/filter.h"

namespace sluice::model_access {

struct Rule {
  std::optional<std::string> tenant, team, app;
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  bool matches(const Identity& id) const;
};

struct Config : FilterConfig {
  std::vector<Rule> rules;
  // The rule deciding for `id`, or null when none matches.
  const Rule* rule_for(const Identity& id) const;
};

std::shared_ptr<const FilterConfig> parse_config(const ConfigNode& section);

// Shell-style glob with '*' and '?'; exposed for tests.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace sluice::model_access
