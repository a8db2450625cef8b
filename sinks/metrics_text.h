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

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// type: "counter" or "gauge".
void append_metric_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help);

// Appends `name{labels} value\n`; labels is the text between the braces, e.g.
// `sink="jsonl",outcome="written"`.
void append_metric_sample(std::string& out, std::string_view name, std::string_view labels,
                          std::uint64_t value);

}  // namespace sluice
