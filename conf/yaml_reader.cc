#include "conf/yaml_reader.h"

#include <charconv>
#include <cstdlib>

namespace sluice {

void ConfigErrors::add(const YAML::Mark& mark, std::string_view key, std::string_view message) {
  std::string e = file_;
  if (mark.line >= 0) {
    // yaml-cpp counts from zero; editors count from one.
    e += ':' + std::to_string(mark.line + 1) + ':' + std::to_string(mark.column + 1);
  }
  e += ": ";
  if (!key.empty()) {
    e.append(key);
    e += ": ";
  }
  e.append(message);
  errors_.push_back(std::move(e));
}

std::optional<std::string> interpolate_env(
    std::string_view text, std::string& missing,
    const std::function<const char*(const char*)>& getenv_fn) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out += c;
      continue;
    }
    auto close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    std::optional<std::string_view> fallback;
    if (auto d = inner.find(":-"); d != std::string_view::npos) {
      fallback = inner.substr(d + 2);
      inner = inner.substr(0, d);
    }
    std::string name(inner);
    const char* v = getenv_fn(name.c_str());
    if (v != nullptr && (*v != '\0' || !fallback)) {
      out += v;
    } else if (fallback) {
      out.append(*fallback);
    } else {
      missing = name;
      return std::nullopt;
    }
    i = close;
  }
  return out;
}

ConfigNode ConfigNode::operator[](std::string_view key) const {
  std::string child_path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  // yaml-cpp throws on almost any use of a node that does not exist ("zombie" nodes), so a
  // missing parent yields a fresh undefined node instead of a lookup.
  if (!node_.IsDefined() || !node_.IsMap())
    return ConfigNode(YAML::Node(YAML::NodeType::Undefined), child_path, errors_);
  const YAML::Node& self = node_;
  YAML::Node child = self[std::string(key)];
  if (!child.IsDefined())
    return ConfigNode(YAML::Node(YAML::NodeType::Undefined), child_path, errors_);
  return ConfigNode(child, std::move(child_path), errors_);
}

std::vector<ConfigNode> ConfigNode::items() const {
  std::vector<ConfigNode> out;
  if (!defined()) return out;
  if (!node_.IsSequence()) {
    error("expected a list");
    return out;
  }
  for (std::size_t i = 0; i < node_.size(); ++i)
    out.emplace_back(node_[i], path_ + "[" + std::to_string(i) + "]", errors_);
  return out;
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::entries() const {
  std::vector<std::pair<std::string, ConfigNode>> out;
  if (!defined()) return out;
  if (!node_.IsMap()) {
    error("expected a mapping");
    return out;
  }
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    auto key = it->first.as<std::string>();
    std::string p = path_.empty() ? key : path_ + "." + key;
    bool dup = false;
    for (const auto& e : out) dup = dup || e.first == key;
    if (dup) {
      errors_->add(it->first.Mark(), p, "duplicate key");
      continue;
    }
    out.emplace_back(key, ConfigNode(it->second, std::move(p), errors_));
  }
  return out;
}

bool ConfigNode::require(std::string_view key) const {
  if ((*this)[key].defined()) return true;
  std::string p = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  errors_->add(node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark(), p, "missing key");
  return false;
}

void ConfigNode::check_keys(std::span<const std::string_view> known) const {
  if (!defined()) return;
  if (!node_.IsMap()) {
    error("expected a mapping");
    return;
  }
  std::vector<std::string> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    auto key = it->first.as<std::string>();
    std::string p = path_.empty() ? key : path_ + "." + key;
    bool ok = false;
    for (auto k : known) ok = ok || k == key;
    if (!ok) errors_->add(it->first.Mark(), p, "unknown key");
    // YAML requires unique keys; yaml-cpp keeps both and a lookup sees only the first.
    for (const auto& s : seen)
      if (s == key) errors_->add(it->first.Mark(), p, "duplicate key");
    seen.push_back(std::move(key));
  }
}

void ConfigNode::error(std::string_view message) const {
  errors_->add(node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark(), path_, message);
}

std::optional<std::string> ConfigNode::scalar() const {
  if (!node_.IsScalar()) {
    error("expected a single value");
    return std::nullopt;
  }
  std::string missing;
  auto v = interpolate_env(node_.Scalar(), missing, [](const char* n) { return std::getenv(n); });
  if (!v) error("environment variable " + missing + " is not set (use ${" + missing + ":-} for an empty default)");
  return v;
}

void ConfigNode::read(std::string& out) const {
  if (!defined()) return;
  if (auto v = scalar()) out = std::move(*v);
}

void ConfigNode::read(bool& out) const {
  if (!defined()) return;
  auto v = scalar();
  if (!v) return;
  if (*v == "true" || *v == "yes" || *v == "on") {
    out = true;
  } else if (*v == "false" || *v == "no" || *v == "off") {
    out = false;
  } else {
    error("expected true or false, got \"" + *v + "\"");
  }
}

void ConfigNode::read(std::int64_t& out, std::int64_t min, std::int64_t max) const {
  if (!defined()) return;
  auto v = scalar();
  if (!v) return;
  std::int64_t x = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (ec != std::errc() || p != v->data() + v->size()) {
    error("expected an integer, got \"" + *v + "\"");
  } else if (x < min || x > max) {
    error("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + *v);
  } else {
    out = x;
  }
}

void ConfigNode::read(int& out, std::int64_t min, std::int64_t max) const {
  std::int64_t x = out;
  read(x, min, max);
  out = static_cast<int>(x);
}

namespace {
// Splits "16MiB" into 16 and "MiB"; false when the number part is missing or not an integer.
bool split_number(std::string_view s, std::uint64_t& n, std::string_view& unit) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p == s.data()) return false;
  unit = s.substr(p - s.data());
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return true;
}
}  // namespace

void ConfigNode::read_size(std::size_t& out, std::size_t min, std::size_t max) const {
  if (!defined()) return;
  auto v = scalar();
  if (!v) return;
  std::uint64_t n = 0;
  std::string_view unit;
  std::uint64_t mult = 0;
  if (split_number(*v, n, unit)) {
    if (unit.empty() || unit == "B") mult = 1;
    else if (unit == "KiB") mult = 1ull << 10;
    else if (unit == "MiB") mult = 1ull << 20;
    else if (unit == "GiB") mult = 1ull << 30;
    else if (unit == "KB") mult = 1000;
    else if (unit == "MB") mult = 1000'000;
    else if (unit == "GB") mult = 1000'000'000;
  }
  if (mult == 0) {
    error("expected a size such as 65536, 64KiB or 16MiB, got \"" + *v + "\"");
    return;
  }
  std::uint64_t bytes = n * mult;
  if (n != 0 && bytes / mult != n) {
    error("size too large: \"" + *v + "\"");
  } else if (bytes < min || bytes > max) {
    error("must be between " + std::to_string(min) + " and " + std::to_string(max) +
          " bytes, got \"" + *v + "\"");
  } else {
    out = bytes;
  }
}

void ConfigNode::read_duration(std::chrono::milliseconds& out, std::chrono::milliseconds min,
                               std::chrono::milliseconds max) const {
  if (!defined()) return;
  auto v = scalar();
  if (!v) return;
  std::uint64_t n = 0;
  std::string_view unit;
  std::int64_t mult = 0;
  if (split_number(*v, n, unit)) {
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
  }
  if (mult == 0) {
    error("expected a duration such as 250ms, 30s, 10m or 1h, got \"" + *v + "\"");
    return;
  }
  if (n > static_cast<std::uint64_t>(INT64_MAX) / static_cast<std::uint64_t>(mult)) {
    error("duration too large: \"" + *v + "\"");
    return;
  }
  std::chrono::milliseconds d(static_cast<std::int64_t>(n) * mult);
  if (d < min || d > max) {
    error("must be between " + std::to_string(min.count()) + "ms and " +
          std::to_string(max.count()) + "ms, got \"" + *v + "\"");
  } else {
    out = d;
  }
}

void ConfigNode::read_list(std::vector<std::string>& out) const {
  if (!defined()) return;
  if (!node_.IsSequence()) {
    error("expected a list");
    return;
  }
  out.clear();
  for (const auto& item : items()) {
    std::string s;
    item.read(s);
    out.push_back(std::move(s));
  }
}

int ConfigNode::read_choice(std::initializer_list<std::string_view> choices) const {
  if (!defined()) return -1;
  auto v = scalar();
  if (!v) return -1;
  int i = 0;
  std::string list;
  for (auto c : choices) {
    if (c == *v) return i;
    list += (i ? ", " : "") + std::string(c);
    ++i;
  }
  error("expected one of " + list + ", got \"" + *v + "\"");
  return -1;
}

}  // namespace sluice
