// pii: finds personal data and credentials in request text and in responses (whole and
// streamed) and blocks, redacts or reports them. Section `filters.pii`:
//
//   hold_back_bytes: 512          # streamed text held back per channel, at most (> longest pattern)
//   redaction: placeholder        # placeholder ("[EMAIL_1]", numbered per call) or mask
//   mask: "[REDACTED]"            # the text written with redaction: mask
//   entities:                     # action per type: off, alert, redact, block; or per direction
//     email: redact
//     credit_card: {request: redact, response: block}
//   allow:
//     values: ["4242 4242 4242 4242"]   # compared on letters and digits only, case-insensitive
//     email_domains: [example.com]      # and its subdomains
//   custom:                       # extra patterns (Vectorscan syntax), each a type of its own
//     - {name: employee_id, pattern: 'EMP-[0-9]{6}', max_length: 10, label: EMPLOYEE_ID}
//   rules:                        # per identity: the first rule that matches overrides `entities`
//     - {tenant: acme, entities: {phone: off}}
//
// The Vectorscan database is compiled here, once per config snapshot.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/yaml_reader.h"
#include "filters/filter.h"
#include "filters/pii/policy.h"
#include "filters/pii/scanner.h"

namespace sluice::pii {

struct Actions {
  std::vector<Action> request;   // per entity id
  std::vector<Action> response;
  bool any(Direction d) const;   // some type is not off in that direction
};

struct Rule {
  std::optional<std::string> tenant, team, app;
  Actions actions;
  bool matches(const Identity& id) const;
};

struct Config : FilterConfig {
  std::shared_ptr<const Engine> engine;
  Catalog catalog;
  AllowList allow;
  Actions actions;
  std::vector<Rule> rules;
  std::size_t hold_back = 512;
  bool mask = false;
  std::string mask_text = "[REDACTED]";

  const Actions& actions_for(const Identity& id) const;
};

std::shared_ptr<const FilterConfig> parse_config(const ConfigNode& section);

// Every key of the section, relative to `filters.pii.` ("entities.*.request", ...): for the
// loader's known_config_keys(), which docs/configuration.md is checked against.
const std::vector<std::string>& config_keys();

}  // namespace sluice::pii
