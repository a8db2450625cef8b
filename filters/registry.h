// The built-in filters, by name. The config loader asks a factory to parse the filter's
// section (filters.<name>) into an immutable FilterConfig; the connection asks it to create
// one Filter per call from that config.
//
// Stats: each factory owns its counters (a FilterStats table), created once per process, so
// they outlive every config snapshot and survive reloads. Names are dotted
// (`model_access.denied`) and exported as sluice_filter_events_total{filter,event}.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conf/yaml_reader.h"
#include "filters/filter.h"

namespace sluice {

// A fixed table of named counters for one filter.
class FilterStats {
 public:
  FilterStats(std::string_view filter, std::initializer_list<std::string_view> names);
  void inc(std::size_t index, std::uint64_t n = 1) {
    counters_[index].value.fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t get(std::size_t index) const {
    return counters_[index].value.load(std::memory_order_relaxed);
  }
  std::uint64_t get(std::string_view name) const;
  void render_metrics(std::string& out) const;  // Prometheus lines, no HELP/TYPE header

 private:
  struct Counter {
    std::string name;
    std::atomic<std::uint64_t> value{0};
  };
  std::string filter_;
  std::unique_ptr<Counter[]> counters_;
  std::size_t size_ = 0;
};

struct FilterFactory {
  std::string_view name;
  // Parses filters.<name>; `section` may be undefined (no settings). Reports errors into
  // section.errors() and returns null only when the section was unusable.
  std::shared_ptr<const FilterConfig> (*parse)(const ConfigNode& section);
  std::unique_ptr<Filter> (*create)(const std::shared_ptr<const FilterConfig>& config);
  FilterStats* (*stats)();
  // The keys filters.<name> understands, dotted below it ("rules[].match.team"), for the test
  // that keeps docs/configuration.md in step with the parsers; null: the loader lists them.
  const std::vector<std::string>& (*config_keys)() = nullptr;
};

const std::vector<FilterFactory>& builtin_filters();
const FilterFactory* find_filter(std::string_view name);

// All filter stats, for /metrics.
void render_filter_metrics(std::string& out);

}  // namespace sluice
