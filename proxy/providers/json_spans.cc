#include "proxy/providers/json_spans.h"

namespace sluice::json_spans {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Index just past the string whose opening quote is s[i], or npos.
std::size_t skip_string(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return npos;
}

}  // namespace

std::size_t skip_ws(std::string_view s, std::size_t i) {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}

std::size_t skip_value(std::string_view s, std::size_t i) {
  if (i >= s.size()) return npos;
  const char c = s[i];
  if (c == '"') return skip_string(s, i);
  if (c == '{' || c == '[') {
    // Brackets balance in valid JSON once strings are skipped, so a depth counter is enough.
    std::size_t depth = 0;
    while (i < s.size()) {
      const char d = s[i];
      if (d == '"') {
        i = skip_string(s, i);
        if (i == npos) return npos;
        continue;
      }
      if (d == '{' || d == '[') {
        ++depth;
      } else if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return npos;
  }
  // A number or a literal ends at the first delimiter.
  std::size_t j = i;
  while (j < s.size() && !is_ws(s[j]) && s[j] != ',' && s[j] != ']' && s[j] != '}' && s[j] != ':') {
    ++j;
  }
  return j == i ? npos : j;
}

bool is_json_number(std::string_view t) {
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  if (i >= t.size()) return false;
  if (t[i] == '0') {
    ++i;
  } else if (is_digit(t[i])) {
    while (i < t.size() && is_digit(t[i])) ++i;
  } else {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (i >= t.size() || !is_digit(t[i])) return false;
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= t.size() || !is_digit(t[i])) return false;
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  return i == t.size();
}

MemberLookup find_member(std::string_view s, std::size_t obj, std::string_view raw_key) {
  MemberLookup r;
  if (obj >= s.size() || s[obj] != '{') return r;
  std::size_t i = skip_ws(s, obj + 1);
  if (i < s.size() && s[i] == '}') {
    r.ok = true;
    r.close = i;
    return r;
  }
  while (i < s.size() && s[i] == '"') {
    Member m;
    m.key_begin = i;
    const std::size_t key_end = skip_string(s, i);
    if (key_end == npos) return r;
    m.raw_key = s.substr(i + 1, key_end - i - 2);
    i = skip_ws(s, key_end);
    if (i >= s.size() || s[i] != ':') return r;
    m.value_begin = skip_ws(s, i + 1);
    m.value_end = skip_value(s, m.value_begin);
    if (m.value_end == npos) return r;
    if (r.found && r.next_key_begin == npos) r.next_key_begin = m.key_begin;
    if (!r.found && m.raw_key == raw_key) {
      r.found = true;
      r.member = m;
      r.prev_value_end = r.last_value_end;
    }
    r.last_value_end = m.value_end;
    i = skip_ws(s, m.value_end);
    if (i < s.size() && s[i] == ',') {
      i = skip_ws(s, i + 1);
      continue;
    }
    if (i < s.size() && s[i] == '}') {
      r.ok = true;
      r.close = i;
    }
    return r;
  }
  return r;
}

std::pair<std::size_t, std::size_t> member_erase_range(const MemberLookup& m) {
  // Prefer eating the comma before the member: an object usually ends `...,"usage":null}`,
  // and removing from the previous value's end keeps the bytes before it untouched.
  if (m.prev_value_end != npos) return {m.prev_value_end, m.member.value_end};
  if (m.next_key_begin != npos) return {m.member.key_begin, m.next_key_begin};
  return {m.member.key_begin, m.member.value_end};
}

std::pair<std::size_t, std::size_t> member_erase_range_at(std::string_view s, std::size_t key_begin,
                                                          std::size_t value_end) {
  constexpr std::pair<std::size_t, std::size_t> kNone{npos, npos};
  if (key_begin >= s.size() || value_end > s.size() || key_begin >= value_end) return kNone;
  std::size_t i = key_begin;
  while (i > 0 && is_ws(s[i - 1])) --i;
  if (i == 0) return kNone;
  if (s[i - 1] == ',') {  // a member before: erase from the end of its value
    --i;
    while (i > 0 && is_ws(s[i - 1])) --i;
    return {i, value_end};
  }
  if (s[i - 1] != '{') return kNone;
  const std::size_t j = skip_ws(s, value_end);
  if (j < s.size() && s[j] == ',') return {key_begin, skip_ws(s, j + 1)};  // first member
  if (j < s.size() && s[j] == '}') return {key_begin, value_end};          // only member
  return kNone;
}

}  // namespace sluice::json_spans
