#include "sinks/metrics_text.h"

#include <charconv>
#include <cstdio>

namespace sluice {

void append_metric_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help) {
  // Scanning the output is linear in its size, but only runs at scrape time.
  std::string_view text(out);
  for (std::size_t pos = text.find("# TYPE "); pos != std::string_view::npos;
       pos = text.find("# TYPE ", pos + 1)) {
    if (pos != 0 && text[pos - 1] != '\n') continue;
    const std::string_view rest = text.substr(pos + 7);
    if (rest.size() > name.size() && rest.substr(0, name.size()) == name &&
        rest[name.size()] == ' ') {
      return;
    }
  }
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void append_metric_sample(std::string& out, std::string_view name, std::string_view labels,
                          std::uint64_t value) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, value);
  out.append(name).append("{").append(labels).append("} ").append(buf, res.ptr - buf);
  out.push_back('\n');
}

void LatencyHistogram::observe(std::int64_t us) {
  std::size_t i = 0;
  while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
  ++buckets[i];
  ++count;
  sum_us += us;
}

void LatencyHistogram::merge(const LatencyHistogram& o) {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
  count += o.count;
  sum_us += o.sum_us;
}

void append_histogram(std::string& out, std::string_view name, std::string_view help,
                      const LatencyHistogram& h) {
  append_metric_header(out, name, "histogram", help);
  std::uint64_t cum = 0;
  for (std::size_t i = 0; i < h.buckets.size(); ++i) {
    cum += h.buckets[i];
    out.append(name).append("_bucket{le=\"");
    if (i < LatencyHistogram::kBoundsUs.size()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", static_cast<double>(LatencyHistogram::kBoundsUs[i]) / 1e6);
      out.append(buf);
    } else {
      out.append("+Inf");
    }
    out.append("\"} ").append(std::to_string(cum)).append("\n");
  }
  char sum[48];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(h.sum_us) / 1e6);
  out.append(name).append("_sum ").append(sum).append("\n");
  out.append(name).append("_count ").append(std::to_string(h.count)).append("\n");
}

}  // namespace sluice
