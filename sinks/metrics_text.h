// Helpers for the Prometheus text exposition format (version 0.0.4) used by render_metrics().
//
// Contract
//  * Several sinks append to the same output one after the other (SinkSet::render_metrics), and
//    a second "# HELP"/"# TYPE" line for a metric name makes the whole scrape invalid. So
//    append_metric_header() writes the two lines only when `out` has no TYPE line for that name
//    yet. Samples of one name may then be split between sinks; Prometheus accepts that in the
//    0.0.4 text format (OpenMetrics would not).
//  * Label values are written as given: callers pass constant, already-safe strings.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Fixed-bucket histogram over microseconds (not synchronised: one owner, or merged copies).
struct LatencyHistogram {
  static constexpr std::array<std::int64_t, 19> kBoundsUs = {
      50,     100,    250,    500,     1000,    2500,    5000,     10000,    25000,    50000,
      100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 120000000};
  std::array<std::uint64_t, kBoundsUs.size() + 1> buckets{};
  std::uint64_t count = 0;
  std::int64_t sum_us = 0;
  void observe(std::int64_t us);
  void merge(const LatencyHistogram& o);
};

// type: "counter", "gauge" or "histogram".
void append_metric_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help);

// Appends `name{labels} value\n`; labels is the text between the braces, e.g.
// `sink="jsonl",outcome="written"`.
void append_metric_sample(std::string& out, std::string_view name, std::string_view labels,
                          std::uint64_t value);

// Appends a histogram in seconds (Prometheus convention): the header as above, cumulative
// `_bucket{le="…"}` samples, `_sum` and `_count`.
void append_histogram(std::string& out, std::string_view name, std::string_view help,
                      const LatencyHistogram& h);

}  // namespace sluice
