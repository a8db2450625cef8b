// What the redactor does with a validated finding: per-entity actions for one direction, the
// allow-list, and how a redacted value is written (typed placeholder numbered per call, or a
// fixed mask). Built from the config snapshot; Placeholders lives for one call.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <unordered_set>
#include <vector>

#include "filters/pii/entity.h"

namespace sluice::pii {

// Names and labels of every entity id: the built-in ones, then custom patterns.
struct Catalog {
  std::vector<std::string> names;   // "email", ..., custom names
  std::vector<std::string> labels;  // "EMAIL", ..., custom labels
};

// Values that are never findings: exact values (compared after normalisation: digits and
// letters only, upper case, so "4242 4242 4242 4242" lists every spelling of that card) and
// email domains (the domain and its subdomains).
class AllowList {
 public:
  void add_value(std::string_view v);
  void add_email_domain(std::string_view d);
  bool allows(std::size_t entity, std::string_view value) const;
  bool empty() const { return values_.empty() && domains_.empty(); }

 private:
  std::unordered_set<std::string> values_;
  std::vector<std::string> domains_;  // lower case
};

struct Policy {
  Direction direction = Direction::kRequest;
  std::vector<Action> actions;  // per entity id; kOff disables its patterns
  const Catalog* catalog = nullptr;
  const AllowList* allow = nullptr;
  bool mask = false;            // write mask_text instead of typed placeholders
  std::string mask_text = "[REDACTED]";
};

// "[EMAIL_1]", "[EMAIL_2]", ...: one number per distinct value and type within a call, so a
// reader can still tell two addresses apart. Only a hash of each value is kept.
class Placeholders {
 public:
  std::string for_value(std::size_t entity, std::string_view label, std::string_view value);
  std::string next(std::size_t entity, std::string_view label);  // values with no bound

 private:
  std::unordered_map<std::uint64_t, int> numbers_;  // hash(label, value) -> number
  int& counter(std::string_view label);
  static std::string format(std::string_view label, int n);
  // Last number per label (ipv4 and ipv6 share one); a handful of labels per call.
  std::vector<std::pair<std::string, int>> last_;
};

}  // namespace sluice::pii
