#include "filters/registry.h"

#include "filters/budget/filter.h"
#include "filters/model_access/filter.h"
#include "filters/pii/filter.h"
#include "filters/ratelimit/filter.h"

namespace sluice {

FilterStats::FilterStats(std::string_view filter, std::initializer_list<std::string_view> names)
    : filter_(filter), counters_(new Counter[names.size()]), size_(names.size()) {
  std::size_t i = 0;
  for (auto n : names) counters_[i++].name = std::string(n);
}

std::uint64_t FilterStats::get(std::string_view name) const {
  for (std::size_t i = 0; i < size_; ++i)
    if (counters_[i].name == name) return get(i);
  return 0;
}

void FilterStats::render_metrics(std::string& out) const {
  for (std::size_t i = 0; i < size_; ++i) {
    out += "sluice_filter_events_total{filter=\"" + filter_ + "\",event=\"" + counters_[i].name +
           "\"} " + std::to_string(get(i)) + "\n";
  }
}

const std::vector<FilterFactory>& builtin_filters() {
  static const std::vector<FilterFactory> factories = {
      model_access_factory(),
      pii_factory(),
      ratelimit_factory(),
      budget_factory(),
  };
  return factories;
}

const FilterFactory* find_filter(std::string_view name) {
  for (const auto& f : builtin_filters())
    if (f.name == name) return &f;
  return nullptr;
}

void render_filter_metrics(std::string& out) {
  out += "# HELP sluice_filter_events_total Filter decisions by filter and event.\n";
  out += "# TYPE sluice_filter_events_total counter\n";
  for (const auto& f : builtin_filters()) f.stats()->render_metrics(out);
}

}  // namespace sluice
