// Which calls a limit applies to, descriptor style: any combination of key (fingerprint),
// team, tenant, app and model. Each field is absent (any value, not part of the counter),
// "*" (each distinct value gets its own counter) or a glob (the calls it matches share one
// counter). Every rule whose fields all match applies, so a key's use also counts against a
// team rule and a tenant rule: that is the hierarchy.
#pragma once

#include <optional>
#include <string>

#include "conf/yaml_reader.h"
#include "sinks/event.h"

namespace sluice::limits {

struct Descriptor {
  std::optional<std::string> key, team, tenant, app, model;

  bool matches(const Identity& id, const std::string& model) const;
  // The counter name for a matching call: "<rule>|tenant=acme|key=ab12..." (fields in a fixed
  // order; a glob field contributes the glob, a "*" field the call's value).
  std::string counter(const std::string& rule, const Identity& id, const std::string& model) const;
};

// Reads `match: {key|team|tenant|app|model: value}`.
Descriptor parse_descriptor(const ConfigNode& node);

bool glob(std::string_view pattern, std::string_view text);

// Rule names go into counter keys and event JSON: [A-Za-z0-9_.-]{1,64}.
bool valid_rule_name(const std::string& name);

}  // namespace sluice::limits
