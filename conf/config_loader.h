// Loading and validating sluice.yaml.
//
// load_config_file() reads a file; load_config_text() parses text (tests, the embedded
// defaults). Either returns a complete, validated Config, or every error found, each as
// "file:line:col: dotted.key: message". Nothing is half-applied: a config with any error is
// refused as a whole (start-up fails; a reload keeps the old config).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace sluice {

struct ConfigLoad {
  ConfigPtr config;                 // null when errors is not empty
  std::vector<std::string> errors;
};

ConfigLoad load_config_file(const std::string& path);
ConfigLoad load_config_text(std::string_view yaml, const std::string& source_name);

// The configuration Sluice runs with when given no --config: conf/sluice.yaml, compiled in.
std::string_view embedded_default_config();

// Every key the loader understands, as dotted paths ("listener.max_body_bytes",
// "upstreams.*.url", "routes[].prefix", "filters.model_access.rules[].allow"); used by the
// test that keeps docs/configuration.md in step with the parser.
std::vector<std::string> known_config_keys();

}  // namespace sluice
