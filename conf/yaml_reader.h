// Typed reading of YAML config sections with errors that name the file, line, column and key.
//
// Every value read goes through ConfigNode, which (1) interpolates ${VAR} and ${VAR:-default}
// from the environment in scalars, (2) checks the type and range, and (3) records an error
// "file:line:col: dotted.key: message" instead of throwing. check_keys() reports unknown keys,
// so a typo never silently falls back to a default. Loading continues after an error so that
// one run reports every error in the file.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}
  void add(const YAML::Mark& mark, std::string_view key, std::string_view message);
  const std::vector<std::string>& all() const { return errors_; }
  bool empty() const { return errors_.empty(); }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string path, ConfigErrors* errors)
      : node_(std::move(node)), path_(std::move(path)), errors_(errors) {}

  bool defined() const { return node_.IsDefined() && !node_.IsNull(); }
  bool is_map() const { return node_.IsDefined() && node_.IsMap(); }
  bool is_sequence() const { return node_.IsDefined() && node_.IsSequence(); }
  const std::string& path() const { return path_; }
  const YAML::Node& yaml() const { return node_; }

  // Child by key / by index (an undefined node when missing).
  ConfigNode operator[](std::string_view key) const;
  std::vector<ConfigNode> items() const;  // sequence elements; error if not a sequence
  // Map entries in file order as (key, value); error if not a map; a key given twice is
  // reported and its second entry skipped.
  std::vector<std::pair<std::string, ConfigNode>> entries() const;

  // Records "missing key" (at this mapping's line) when `key` is absent; returns presence.
  bool require(std::string_view key) const;

  // Reports every key of this map that is not in `known`, and every key given twice.
  // Error if not a map.
  void check_keys(std::span<const std::string_view> known) const;
  void check_keys(std::initializer_list<std::string_view> known) const {
    check_keys(std::span<const std::string_view>(known.begin(), known.size()));
  }

  // Readers: leave `out` unchanged when the node is absent; on a bad value record an error.
  void read(std::string& out) const;
  void read(bool& out) const;
  void read(int& out, std::int64_t min, std::int64_t max) const;
  void read(std::int64_t& out, std::int64_t min, std::int64_t max) const;
  // Sizes: an integer (bytes) or a number with B, KiB, MiB, GiB (also KB/MB/GB = powers of 10).
  void read_size(std::size_t& out, std::size_t min, std::size_t max) const;
  // Durations: a number with ms, s, m or h ("250ms", "30s", "10m"). Bare integers are refused.
  void read_duration(std::chrono::milliseconds& out, std::chrono::milliseconds min,
                     std::chrono::milliseconds max) const;
  void read_list(std::vector<std::string>& out) const;
  // One of `choices`; returns its index or -1 (and records an error) when not present/invalid.
  int read_choice(std::initializer_list<std::string_view> choices) const;

  void error(std::string_view message) const;
  ConfigErrors& errors() const { return *errors_; }

  // Scalar text after ${ENV} interpolation; nullopt (and an error) when not a scalar or a
  // variable is unset without a default.
  std::optional<std::string> scalar() const;

 private:
  YAML::Node node_;
  std::string path_;
  ConfigErrors* errors_;
};

// Replaces ${VAR} and ${VAR:-default}; "$$" is a literal "$". Returns nullopt and names the
// variable in `missing` when VAR is unset and has no default.
std::optional<std::string> interpolate_env(std::string_view text, std::string& missing,
                                           const std::function<const char*(const char*)>& getenv_fn);

}  // namespace sluice
