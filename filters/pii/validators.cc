#include "filters/pii/validators.h"

#include <arpa/inet.h>

#include <array>
#include <cmath>
#include <string>

#include "filters/pii/ascii.h"

namespace sluice::pii {
namespace {

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

int to_int(std::string_view d) {
  int v = 0;
  for (char c : d) v = v * 10 + (c - '0');
  return v;
}

// Token bodies written by people (docs, placeholders: "ghp_xxxx...", "sk-...1234") repeat few
// characters; generated credentials use most of their alphabet.
bool looks_random(std::string_view s) {
  std::array<bool, 256> seen{};
  int distinct = 0;
  for (unsigned char c : s)
    if (!seen[c]) seen[c] = true, ++distinct;
  return s.size() < 16 ? distinct >= 6 : distinct >= 10;
}

}  // namespace

bool luhn_ok(std::string_view digits) {
  int sum = 0;
  bool dbl = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (dbl) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    dbl = !dbl;
  }
  return !digits.empty() && sum % 10 == 0;
}

// Issuer ranges from the networks' published IIN tables (ISO/IEC 7812 major industry
// identifiers 1-6 plus RuPay 8x and Troy 9792); lengths per network.
bool card_iin_ok(std::string_view d) {
  const std::size_t n = d.size();
  if (n < 12 || n > 19) return false;
  int p2 = to_int(d.substr(0, 2)), p4 = to_int(d.substr(0, 4));
  switch (d[0]) {
    case '1': return n == 15;                                   // UATP, JCB 1800
    case '2':
      if (p4 == 2131) return n == 15;                           // JCB
      if (p4 >= 2200 && p4 <= 2204) return n >= 16;            // Mir
      return p4 >= 2221 && p4 <= 2720 && n == 16;               // Mastercard 2-series
    case '3':
      if (p2 == 34 || p2 == 37) return n == 15;                 // Amex
      if (p2 == 35) return n >= 16;                             // JCB
      return (p2 == 30 || p2 == 36 || p2 == 38 || p2 == 39) && n >= 14;  // Diners
    case '4': return n >= 13;                                   // Visa
    case '5':
      if (p2 >= 51 && p2 <= 55) return n == 16;                 // Mastercard
      return n >= 12;                                           // Maestro 50, 56-59
    case '6': return n >= 12;                                   // Maestro, Discover, UnionPay, RuPay
    case '8': return (p2 == 81 || p2 == 82) && n == 16;         // RuPay
    case '9': return p4 == 9792 && n == 16;                     // Troy
  }
  return false;
}

// ISO 13616 registry lengths (SWIFT IBAN registry).
int iban_length_for(std::string_view cc) {
  struct L {
    const char* cc;
    int len;
  };
  static constexpr L kLengths[] = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
      {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22},
      {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20},
      {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
      {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
      {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
      {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
      {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
      {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
      {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33},
      {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
      {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
      {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
  };
  if (cc.size() != 2) return 0;
  for (const auto& l : kLengths)
    if (l.cc[0] == cc[0] && l.cc[1] == cc[1]) return l.len;
  return 0;
}

bool iban_mod97_ok(std::string_view iban) {
  if (iban.size() < 5) return false;
  int rem = 0;
  auto feed = [&](char c) {
    if (is_digit(c)) {
      rem = (rem * 10 + (c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      int v = c - 'A' + 10;
      rem = (rem * 100 + v) % 97;
    } else {
      rem = -1000000;
    }
  };
  for (std::size_t i = 4; i < iban.size(); ++i) feed(iban[i]);
  for (std::size_t i = 0; i < 4; ++i) feed(iban[i]);
  return rem == 1;
}

// SSA rules: area 000, 666 and 900-999 are never issued, nor group 00 or serial 0000; and
// numbers published in advertising and by the SSA itself are not anyone's.
bool ssn_ok(std::string_view area, std::string_view group, std::string_view serial) {
  int a = to_int(area), g = to_int(group), s = to_int(serial);
  if (a == 0 || a == 666 || a >= 900 || g == 0 || s == 0) return false;
  static constexpr std::array<std::array<int, 3>, 4> kSamples = {{
      {78, 5, 1120}, {219, 9, 9999}, {457, 55, 5462}, {123, 45, 6789}}};
  for (const auto& k : kSamples)
    if (k[0] == a && k[1] == g && k[2] == s) return false;
  return true;
}

bool ipv4_ok(std::string_view t) {
  int parts = 0;
  std::size_t i = 0;
  while (i <= t.size()) {
    std::size_t j = i;
    while (j < t.size() && is_digit(t[j])) ++j;
    std::size_t len = j - i;
    if (len == 0 || len > 3 || (len > 1 && t[i] == '0')) return false;
    if (to_int(t.substr(i, len)) > 255) return false;
    ++parts;
    if (j == t.size()) break;
    if (t[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

bool ipv6_ok(std::string_view t) {
  if (t.size() < 3 || t.size() > 39) return false;
  std::string s(t);
  unsigned char buf[16];
  if (inet_pton(AF_INET6, s.c_str(), buf) != 1) return false;
  // "a::b" and "de::ad" parse but are words and code; an address has digits or many groups.
  int groups = 0;
  bool digit = false;
  std::size_t i = 0;
  while (i < t.size()) {
    if (t[i] == ':') {
      ++i;
      continue;
    }
    ++groups;
    for (; i < t.size() && t[i] != ':'; ++i) digit = digit || is_digit(t[i]);
  }
  return (groups >= 2 && digit) || groups >= 4;
}

bool base64url_decode(std::string_view in, std::string& out) {
  out.clear();
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (is_digit(c)) v = c - '0' + 52;
    else if (c == '-' || c == '+') v = 62;
    else if (c == '_' || c == '/') v = 63;
    else if (c == '=') break;
    else return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return bits < 6;  // a single leftover sextet cannot come from whole bytes
}

bool jwt_header_ok(std::string_view segment) {
  std::string json;
  if (!base64url_decode(segment, json)) return false;
  std::size_t b = json.find_first_not_of(" \t\r\n");
  std::size_t e = json.find_last_not_of(" \t\r\n");
  if (b == std::string::npos || json[b] != '{' || json[e] != '}') return false;
  for (char c : json)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
  return json.find("\"alg\"") != std::string::npos || json.find("\"typ\"") != std::string::npos;
}

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0;
  std::array<int, 256> count{};
  for (unsigned char c : s) ++count[c];
  double h = 0;
  for (int c : count) {
    if (c == 0) continue;
    double p = static_cast<double>(c) / static_cast<double>(s.size());
    h -= p * std::log2(p);
  }
  return h;
}

std::optional<Span> validate_email(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  std::size_t at = t.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t b = 0;
  while (b < at && !is_alnum(t[b])) ++b;  // "...name@" or "+name@": the address starts later
  std::string_view local = t.substr(b, at - b);
  if (local.empty() || local.size() > 64 || local.find("..") != std::string_view::npos)
    return std::nullopt;
  std::size_t e = t.size();
  while (e > at + 1 && (t[e - 1] == '.' || t[e - 1] == '-')) --e;
  std::string_view domain = t.substr(at + 1, e - at - 1);
  if (domain.size() < 4 || domain.size() > 253) return std::nullopt;
  int labels = 0;
  std::size_t i = 0;
  std::string_view last;
  while (i <= domain.size()) {
    std::size_t j = domain.find('.', i);
    if (j == std::string_view::npos) j = domain.size();
    std::string_view label = domain.substr(i, j - i);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return std::nullopt;
    last = label;
    ++labels;
    i = j + 1;
  }
  if (labels < 2 || last.size() < 2) return std::nullopt;
  for (char c : last)
    if (!is_alpha(c)) return std::nullopt;
  if (e == t.size() && (is_alnum(after) || after == '@')) return std::nullopt;
  return Span{b, e};
}

namespace {

struct Group {
  std::size_t begin, end;  // digits [begin, end) in the candidate
};

// Splits a run of digit groups joined by single separators.
template <std::size_t N>
std::size_t digit_groups(std::string_view t, std::array<Group, N>& out) {
  std::size_t n = 0, i = 0;
  while (i < t.size() && n < N) {
    if (!is_digit(t[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < t.size() && is_digit(t[j])) ++j;
    out[n++] = {i, j};
    i = j;
  }
  return n;
}

bool looks_like_date(std::string_view a, std::string_view b, std::string_view c) {
  auto year = [](std::string_view y) {
    return y.size() == 4 && (y.substr(0, 2) == "19" || y.substr(0, 2) == "20");
  };
  auto small = [](std::string_view x, int max) {
    return x.size() <= 2 && to_int(x) >= 1 && to_int(x) <= max;
  };
  if (year(a) && small(b, 12) && small(c, 31)) return true;
  if (year(c) && small(a, 31) && small(b, 31)) return true;
  return false;
}

}  // namespace

std::optional<Span> validate_phone(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_word(before) || before == '.' || before == '-' || before == '/' || before == ':' ||
      before == '+' || before == '$')
    return std::nullopt;
  // "1,234 567" is an amount; "office,+44 ..." is a list.
  if (before == ',' && before_ctx.size() >= 2 && is_digit(before_ctx[before_ctx.size() - 2]))
    return std::nullopt;
  // Words that introduce a number that is not a phone's (compared without case, at the end of
  // the context: the context can be hundreds of bytes, so nothing is copied).
  {
    std::string_view lead = before_ctx;
    while (!lead.empty() && (lead.back() == ' ' || lead.back() == '#' || lead.back() == ':'))
      lead.remove_suffix(1);
    auto ends_with = [lead](std::string_view w) {
      if (lead.size() < w.size()) return false;
      const std::string_view tail = lead.substr(lead.size() - w.size());
      for (std::size_t i = 0; i < w.size(); ++i) {
        const char c = tail[i];
        if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) != w[i]) return false;
      }
      return true;
    };
    for (std::string_view w : {"order", "invoice", "ticket", "reference", "tracking", "population",
                               "total", "isbn", "zip", "version", "code"})
      if (ends_with(w)) return std::nullopt;
  }
  // "...-Office" after a number is a label; "-12" glues on more digits.
  if (is_word(after) || after == '/' || after == ':' || after == '@' || after == '%' ||
      (after == '-' && after_ctx.size() > 1 && is_digit(after_ctx[1])))
    return std::nullopt;
  // An extension ("x0135", "ext. 12") belongs to the number but is not counted.
  std::size_t ext = t.find_first_of("xXeE");
  std::string_view num = ext == std::string_view::npos ? t : t.substr(0, ext);
  while (!num.empty() && !is_digit(num.back()) && num.back() != ')') num.remove_suffix(1);
  std::array<Group, 8> g;
  std::size_t n = digit_groups(num, g);
  std::size_t digits = 0, fours = 0;
  for (std::size_t i = 0; i < n; ++i) {
    digits += g[i].end - g[i].begin;
    fours += g[i].end - g[i].begin == 4;
  }
  const bool plus = !t.empty() && t[0] == '+';
  const bool paren = num.find('(') != std::string_view::npos;
  if (digits < 7 || digits > 15) return std::nullopt;
  if (!plus && !paren && n < 2) return std::nullopt;
  auto grp = [&](std::size_t i) { return num.substr(g[i].begin, g[i].end - g[i].begin); };
  bool dot = false;
  for (char c : num) dot = dot || c == '.';
  // A trunk prefix ("030 1234567") or an area code in parentheses may precede a long local
  // number; a country code may run into the area code ("+447700 900 123"); otherwise a long
  // group is an order number or an amount.
  const bool trunk = t[g[0].begin] == '0' || paren;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t len = g[i].end - g[i].begin;
    if (len > 5 && !(plus && (n == 1 || (i == 0 && len <= 7))) &&
        !(trunk && n == 2 && i == 1 && len <= 8))
      return std::nullopt;
    if (len == 1 && i > 0 && !(plus && i == 1)) return std::nullopt;  // versions, lists
  }
  if (!plus && fours >= 3) return std::nullopt;  // card-like runs of four-digit groups
  if (n == 3 && !plus && !paren) {
    auto a = grp(0).size(), b = grp(1).size(), c = grp(2).size();
    if (a == 3 && b == 2 && c == 4) return std::nullopt;  // a US SSN's shape
    if (a == 4 && b == 2 && c == 4) return std::nullopt;  // licence and record numbers
  }
  if (n >= 3 && looks_like_date(grp(0), grp(1), grp(2))) return std::nullopt;
  // Two bare groups are a local number only in a local number's shape, and not when a name
  // follows, as it does after a house number ("3178 254 Damvergi Street").
  if (n == 2 && !plus && !paren) {
    auto a = grp(0).size(), b = grp(1).size();
    if (t[g[0].begin] != '0' && !((a == 3 && b == 4) || (a == 4 && b == 4) || (a == 2 && b == 6)))
      return std::nullopt;
    if (after_ctx.size() >= 2 && after_ctx[0] == ' ' && is_alpha(after_ctx[1])) return std::nullopt;
  }
  // Dotted digit groups are versions and addresses unless they have a phone's shape
  // (NNN.NNN.NNNN, or the French 0N.NN.NN.NN.NN).
  if (dot && !plus && !paren) {
    bool us = n == 3 && grp(2).size() == 4;
    bool fr = n == 5 && grp(0)[0] == '0';
    for (std::size_t i = 0; fr && i < n; ++i) fr = grp(i).size() == 2;
    if (!us && !fr) return std::nullopt;
  }
  return Span{0, t.size()};
}

std::optional<Span> validate_card(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_word(before) || before == '.' || before == '-') return std::nullopt;
  if (is_word(after) || after == '-') return std::nullopt;
  std::array<Group, 24> g;
  std::size_t n = digit_groups(t, g);
  // Windows of consecutive groups joined by one consistent separator, longest first.
  // Windows start at the first group: a card may be followed by more digits (an expiry date),
  // but a Luhn-valid tail of a longer reference number is not a card.
  for (std::size_t i = 0; i < std::min<std::size_t>(n, 1); ++i) {
    for (std::size_t j = n; j-- > i;) {
      bool joined = true;
      char sep = 0;
      std::string digits;
      for (std::size_t k = i; k <= j && joined; ++k) {
        if (k > i) {
          if (g[k].begin - g[k - 1].end != 1) joined = false;
          char s = t[g[k - 1].end];
          if (sep == 0) sep = s;
          if (s != sep) joined = false;
        }
        digits.append(t.substr(g[k].begin, g[k].end - g[k].begin));
      }
      if (!joined || digits.size() < 12 || digits.size() > 19) continue;
      // Inside a longer run the window must end at a group boundary that is not glued on.
      if (j + 1 < n && g[j + 1].begin - g[j].end == 1 && t[g[j].end] != sep) continue;
      if (card_iin_ok(digits) && luhn_ok(digits)) return Span{g[i].begin, g[j].end};
    }
  }
  return std::nullopt;
}

std::optional<Span> validate_iban(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_alnum(before)) return std::nullopt;
  if (t.size() < 4) return std::nullopt;
  std::string cc{upper(t[0]), upper(t[1])};
  int want = iban_length_for(cc);
  if (want == 0) return std::nullopt;
  std::string compact;
  std::size_t i = 0, end = 0;
  while (i < t.size() && static_cast<int>(compact.size()) < want) {
    char c = t[i];
    if (c == ' ') {
      if (i + 1 >= t.size() || t[i + 1] == ' ') break;
      ++i;
      continue;
    }
    if (!is_alnum(c)) break;
    compact.push_back(upper(c));
    end = ++i;
  }
  if (static_cast<int>(compact.size()) != want) return std::nullopt;
  char next = end < t.size() ? t[end] : after;
  if (is_alnum(next)) return std::nullopt;  // glued to more characters: not this IBAN
  if (!is_digit(compact[2]) || !is_digit(compact[3])) return std::nullopt;
  if (!iban_mod97_ok(compact)) return std::nullopt;
  return Span{0, end};
}

std::optional<Span> validate_ssn(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_word(before) || before == '-' || before == '.' || before == '+') return std::nullopt;
  if (is_word(after) || after == '-') return std::nullopt;
  if (t.size() != 11) return std::nullopt;
  if (!ssn_ok(t.substr(0, 3), t.substr(4, 2), t.substr(7, 4))) return std::nullopt;
  return Span{0, t.size()};
}

std::optional<Span> validate_ipv4(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_word(before) || before == '.' || after == '-' || is_word(after)) return std::nullopt;
  if (after == '.' && after_ctx.size() > 1 && is_digit(after_ctx[1])) return std::nullopt;
  if (!ipv4_ok(t)) return std::nullopt;
  // "Version 10.0.0.1", "build 1.2.3.4": four-part version numbers.
  std::string lower;
  for (char c : before_ctx) lower.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
  while (!lower.empty() && lower.back() == ' ') lower.pop_back();
  for (std::string_view w : {"version", "build", "release", "firmware"})
    if (lower.size() >= w.size() && lower.compare(lower.size() - w.size(), w.size(), w) == 0)
      return std::nullopt;
  return Span{0, t.size()};
}

std::optional<Span> validate_ipv6(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_word(before) || before == ':' || is_word(after) || after == ':') return std::nullopt;
  if (!ipv6_ok(t)) return std::nullopt;
  return Span{0, t.size()};
}

std::optional<Span> validate_token(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_word(before) || before == '-') return std::nullopt;
  if (is_word(after)) return std::nullopt;
  std::size_t body = t.find_last_of("_-");
  std::string_view rest = body == std::string_view::npos ? t : t.substr(body + 1);
  if (!looks_random(rest.size() >= 16 ? rest : t)) return std::nullopt;
  return Span{0, t.size()};
}

std::optional<Span> validate_openai_key(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (t.substr(0, 7) == "sk-ant-") return std::nullopt;  // Anthropic's, reported as such
  bool scoped = t.substr(0, 8) == "sk-proj-" || t.substr(0, 11) == "sk-svcacct-" ||
                t.substr(0, 9) == "sk-admin-";
  bool marked = t.find("T3BlbkFJ") != std::string_view::npos;  // base64 of "OpenAI"
  if (!marked && !(scoped && t.size() >= 48)) return std::nullopt;
  if (!marked && !scoped) return std::nullopt;
  if (is_word(before) || before == '-' || is_word(after)) return std::nullopt;
  if (!looks_random(t.substr(3))) return std::nullopt;
  return Span{0, t.size()};
}

namespace {

// "keyword <sep> value": the value's span, after the last ':' or '=' and any quotes/spaces.
std::optional<Span> value_after_keyword(std::string_view t) {
  std::size_t sep = t.find_first_of(":=");
  if (sep == std::string_view::npos) return std::nullopt;
  std::size_t b = sep + 1;
  while (b < t.size() && (t[b] == ' ' || t[b] == '"' || t[b] == '\'' || t[b] == '=' || t[b] == '\t'))
    ++b;
  std::size_t e = t.size();
  while (e > b && (t[e - 1] == '.' || t[e - 1] == '=')) --e;
  if (e <= b) return std::nullopt;
  return Span{b, e};
}

}  // namespace

std::optional<Span> validate_keyword_value(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_alnum(after)) return std::nullopt;
  auto v = value_after_keyword(t);
  if (!v) return std::nullopt;
  std::string_view val = t.substr(v->begin, v->end - v->begin);
  if (val.size() < 16 || val.size() > 128) return std::nullopt;
  bool digit = false, alpha = false;
  for (char c : val) digit = digit || is_digit(c), alpha = alpha || is_alpha(c);
  if (!digit || !alpha || shannon_entropy(val) < 3.5) return std::nullopt;
  return v;
}

std::optional<Span> validate_aws_secret(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_alnum(after) || after == '/' || after == '+') return std::nullopt;
  auto v = value_after_keyword(t);
  if (!v || v->end - v->begin != 40) return std::nullopt;
  std::string_view val = t.substr(v->begin, 40);
  if (shannon_entropy(val) < 3.5) return std::nullopt;
  return v;
}

std::optional<Span> validate_jwt_marker(std::string_view t, std::string_view before_ctx,
                                   std::string_view after_ctx) {
  const char before = before_ctx.empty() ? 0 : before_ctx.back();
  const char after = after_ctx.empty() ? 0 : after_ctx.front();
  if (is_word(before) || before == '-' || before == '.') return std::nullopt;
  std::size_t dot = t.find('.');
  if (dot == std::string_view::npos || !jwt_header_ok(t.substr(0, dot))) return std::nullopt;
  return Span{0, t.size()};
}

std::optional<Span> validate_any(std::string_view t, std::string_view, std::string_view) {
  return Span{0, t.size()};
}

}  // namespace sluice::pii
