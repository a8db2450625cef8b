#include "sinks/metrics_text.h"

#include <charconv>

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

}  // namespace sluice
