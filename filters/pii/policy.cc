#include "filters/pii/policy.h"

#include <charconv>
#include <functional>

namespace sluice::pii {
namespace {

std::string normalise(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c >= 'a' && c <= 'z') out.push_back(static_cast<char>(c - 32));
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) out.push_back(c);
  }
  return out;
}

std::string lower(std::string_view v) {
  std::string out(v);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

}  // namespace

void AllowList::add_value(std::string_view v) { values_.insert(normalise(v)); }

void AllowList::add_email_domain(std::string_view d) { domains_.push_back(lower(d)); }

bool AllowList::allows(std::size_t entity, std::string_view value) const {
  if (!values_.empty() && values_.count(normalise(value))) return true;
  if (entity == static_cast<std::size_t>(Entity::kEmail) && !domains_.empty()) {
    std::size_t at = value.rfind('@');
    if (at == std::string_view::npos) return false;
    std::string domain = lower(value.substr(at + 1));
    for (const auto& d : domains_) {
      if (domain == d) return true;
      if (domain.size() > d.size() && domain.compare(domain.size() - d.size(), d.size(), d) == 0 &&
          domain[domain.size() - d.size() - 1] == '.')
        return true;
    }
  }
  return false;
}

std::string Placeholders::for_value(std::size_t entity, std::string_view label,
                                    std::string_view value) {
  std::uint64_t h = std::hash<std::string_view>{}(value) * 1099511628211ull ^
                   std::hash<std::string_view>{}(label);
  auto [it, fresh] = numbers_.try_emplace(h, 0);
  if (fresh) it->second = ++counter(label);
  return format(label, it->second);
}

std::string Placeholders::next(std::size_t, std::string_view label) {
  return format(label, ++counter(label));
}

int& Placeholders::counter(std::string_view label) {
  for (auto& [l, n] : last_)
    if (l == label) return n;
  last_.emplace_back(std::string(label), 0);
  return last_.back().second;
}

std::string Placeholders::format(std::string_view label, int n) {
  char digits[16];
  const auto len = static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, n).ptr - digits);
  std::string out;
  out.reserve(label.size() + 3 + len);
  out += '[';
  out += label;
  out += '_';
  out.append(digits, len);
  out += ']';
  return out;
}

}  // namespace sluice::pii
