#include "filters/pii/patterns.h"

#include <algorithm>

#include "filters/pii/ascii.h"

namespace sluice::pii {
namespace {

std::size_t id(Entity e) { return static_cast<std::size_t>(e); }

bool local_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '%' || c == '+' || c == '-';
}

// An address's local part, before its '@' (at most 64 bytes, RFC 5321).
std::size_t email_local_part(std::string_view before) {
  std::size_t n = 0;
  while (n < before.size() && local_char(before[before.size() - 1 - n])) {
    if (++n > 64) return kTooLong;
  }
  return n;
}

bool value_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '+' || c == '/' || c == '=' || c == '.';
}

bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// The rest of a token after the fixed part its pattern matched: patterns end after a fixed
// number of characters, so Vectorscan reports one match per token instead of one per byte.
std::size_t token_rest(std::string_view after) {
  std::size_t n = 0;
  while (n < after.size() && token_char(after[n])) ++n;
  return n;
}

std::size_t alnum_rest(std::string_view after) {
  std::size_t n = 0;
  while (n < after.size() && token_char(after[n]) && after[n] != '_' && after[n] != '-') ++n;
  return n;
}

// The rest of a keyword's value after its first 16 characters.
std::size_t value_rest(std::string_view after) {
  std::size_t n = 0;
  while (n < after.size() && value_char(after[n])) ++n;
  return n;
}

// The rest of a token run that ends just before `before`'s end, leftwards: its length.
std::size_t token_run_back(std::string_view before) {
  std::size_t n = 0;
  while (n < before.size() && token_char(before[before.size() - 1 - n])) ++n;
  return n;
}

// An OpenAI key found by its marker ("T3BlbkFJ", base64 of "OpenAI"): back to the leftmost
// "sk-" with 8 to 100 token characters between it and the marker, as
// sk-[A-Za-z0-9_\-]{8,100}T3BlbkFJ would start. Matching the literal alone keeps Vectorscan
// from tracking a start at every "sk-".
std::size_t openai_key_start(std::string_view before) {
  const std::size_t run = token_run_back(before);
  if (run < 11) return kTooLong;
  std::string_view r = before.substr(before.size() - run);
  for (std::size_t p = run > 103 ? run - 103 : 0; p + 11 <= run; ++p)
    if (r.compare(p, 3, "sk-") == 0) return run - p;
  return kTooLong;
}

// A JWT found by the dot before its payload (".eyJ"): back to the leftmost "eyJ" of its header
// with at least 5 token characters after it, as eyJ[A-Za-z0-9_\-]{5,}\.eyJ would start. A run
// that fills the whole view may start further left, where the match would be too long.
std::size_t jwt_header_start(std::string_view before) {
  const std::size_t run = token_run_back(before);
  if (run == before.size() && run >= 396) return kTooLong;
  std::string_view r = before.substr(before.size() - run);
  for (std::size_t p = 0; p + 8 <= run; ++p)
    if (r.compare(p, 3, "eyJ") == 0) return run - p;
  return kTooLong;
}

bool digits_at(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return false;
  for (std::size_t i = at; i < at + n; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

bool nanp_sep(char c) { return c == ' ' || c == '.' || c == '-'; }

template <typename Pred>
bool all_chars(std::string_view s, Pred pred) {
  return std::all_of(s.begin(), s.end(), pred);
}

// Leftmost starts found from a match's end (PatternSpec::start_from_end). Each function
// reads the regex right to left; \b before a digit holds when the byte before is not a word
// byte (is_word) or the text starts there.
bool boundary_before(std::string_view s, std::size_t i, bool at_text_start) {
  return i == 0 ? at_text_start : !is_word(s[i - 1]);
}
// Digits immediately before s[end], at most `cap` counted.
std::size_t digits_back(std::string_view s, std::size_t end, std::size_t cap) {
  std::size_t k = 0;
  while (k < cap && k < end && is_digit(s[end - 1 - k])) ++k;
  return k;
}
// Whether a digit group that starts at s[gs] has another before it: one separator, then a
// digit (the phone patterns' (?:[ .\-]\d{1,8}) read backwards).
bool group_before(std::string_view s, std::size_t gs) {
  return gs >= 2 && nanp_sep(s[gs - 1]) && is_digit(s[gs - 2]);
}

// \+\d{8,15}\b: the digits before the end are all of the number.
std::size_t plus_digits_start(std::string_view s, bool) {
  const std::size_t n = s.size(), k = digits_back(s, n, 16);
  return k >= 8 && k <= 15 && k < n && s[n - k - 1] == '+' ? k + 1 : 0;
}

// \b\d{1,8}(?:[ .\-]\d{1,8}){1,5}\b: digit groups separated by one separator each, walked
// back from the end; every group is a whole digit run (a group inside a longer run has a
// digit, neither a separator nor a boundary, before it). The leftmost group of at most six
// with a boundary before it, and at least two groups, is the start.
std::size_t digit_groups_start(std::string_view s, bool at_text_start) {
  std::size_t pos = s.size(), groups = 0, best = 0;
  while (true) {
    const std::size_t k = digits_back(s, pos, 9);
    if (k == 0 || k > 8) break;
    const std::size_t gs = pos - k;
    ++groups;
    if (groups >= 2 && boundary_before(s, gs, at_text_start)) best = s.size() - gs;
    if (groups == 6 || !group_before(s, gs)) break;
    pos = gs - 1;
  }
  return best;
}

// \(\d{1,5}\)[ .\-]? ending just before s[at]: the index of its '(', or npos.
std::size_t area_code_before(std::string_view s, std::size_t at) {
  std::size_t close = at;
  if (close >= 2 && nanp_sep(s[close - 1]) && s[close - 2] == ')') --close;
  if (close < 1 || s[close - 1] != ')') return std::string_view::npos;
  --close;
  const std::size_t k = digits_back(s, close, 6);
  if (k == 0 || k > 5 || close < k + 1 || s[close - k - 1] != '(') return std::string_view::npos;
  return close - k - 1;
}

// \(\d{1,5}\)[ .\-]?\d{1,8}(?:[ .\-]\d{1,8}){0,5}\b: digit groups as above (one to six), and
// before the leftmost of them an area code in parentheses.
std::size_t area_phone_start(std::string_view s, bool) {
  std::size_t pos = s.size(), best = 0;
  for (int groups = 1; groups <= 6; ++groups) {
    const std::size_t k = digits_back(s, pos, 9);
    if (k == 0 || k > 8) break;
    const std::size_t gs = pos - k;
    const std::size_t open = area_code_before(s, gs);
    if (open != std::string_view::npos) best = s.size() - open;
    if (!group_before(s, gs)) break;
    pos = gs - 1;
  }
  return best;
}

// \+\d{1,3}[ .\-]?(?:\(\d{1,5}\)[ .\-]?)?\d{1,8}(?:[ .\-]\d{1,8}){0,5}\b: digit groups, and
// before the leftmost of them a country code after '+', which is (a) followed by an area code,
// (b) a separate run of 1-3 digits, or (c) the start of the first group's own run (no
// separator: the run then holds 2 to 11 digits).
std::size_t plus_phone_start(std::string_view s, bool) {
  std::size_t pos = s.size(), best = 0;
  for (int groups = 1; groups <= 6; ++groups) {
    const std::size_t k = digits_back(s, pos, 12);
    if (k == 0) break;
    const std::size_t gs = pos - k;
    if (k >= 2 && k <= 11 && gs >= 1 && s[gs - 1] == '+') best = s.size() - (gs - 1);  // (c)
    if (k > 8) break;
    const std::size_t open = area_code_before(s, gs);
    if (open != std::string_view::npos) {  // (a)
      const std::size_t r = open >= 1 && nanp_sep(s[open - 1]) ? open - 1 : open;
      const std::size_t cc = digits_back(s, r, 4);
      if (cc >= 1 && cc <= 3 && r >= cc + 1 && s[r - cc - 1] == '+') best = s.size() - (r - cc - 1);
    }
    if (!group_before(s, gs)) break;
    const std::size_t cc = digits_back(s, gs - 1, 4);  // (b)
    if (cc <= 3 && gs - 1 >= cc + 1 && s[gs - 2 - cc] == '+') best = s.size() - (gs - 2 - cc);
    pos = gs - 1;
  }
  return best;
}

// \b\d[\d \-]{10,40}\d\b: the longest span of digits, spaces and dashes (12 to 42 bytes)
// that starts with a digit after a boundary.
std::size_t card_start(std::string_view s, bool at_text_start) {
  const std::size_t n = s.size();
  std::size_t run = 0;
  while (run < 42 && run < n) {
    const char c = s[n - 1 - run];
    if (!is_digit(c) && c != ' ' && c != '-') break;
    ++run;
  }
  for (std::size_t len = run; len >= 12; --len) {
    if (is_digit(s[n - len]) && boundary_before(s, n - len, at_text_start)) return len;
  }
  return 0;
}

// \b\d{3}<sep>\d{2}<sep>\d{4}\b with sep '-' or ' '.
template <char Sep>
std::size_t ssn_start(std::string_view s, bool at_text_start) {
  const std::size_t n = s.size();
  if (n < 11) return 0;
  const std::size_t b = n - 11;
  if (!digits_at(s, b, 3) || s[b + 3] != Sep || !digits_at(s, b + 4, 2) || s[b + 6] != Sep ||
      !digits_at(s, b + 7, 4) || !boundary_before(s, b, at_text_start))
    return 0;
  return 11;
}

// \b(?:\d{1,3}\.){3}\d{1,3}\b: four whole digit runs of 1 to 3 joined by dots.
std::size_t ipv4_start(std::string_view s, bool at_text_start) {
  std::size_t pos = s.size();
  for (int group = 0; group < 4; ++group) {
    const std::size_t k = digits_back(s, pos, 4);
    if (k == 0 || k > 3) return 0;
    pos -= k;
    if (group < 3) {
      if (pos == 0 || s[pos - 1] != '.') return 0;
      --pos;
    }
  }
  return boundary_before(s, pos, at_text_start) ? s.size() - pos : 0;
}

// github_pat_[A-Za-z0-9_]{82}\b: a fixed length, 93. Start tracking over this long repeat was
// a third of the credential patterns' scan on PII-dense text.
std::size_t github_pat_start(std::string_view s, bool) {
  const std::size_t n = s.size();
  if (n >= 93 && s.substr(n - 93, 11) == "github_pat_" && all_chars(s.substr(n - 82), is_word))
    return 93;
  return 0;
}

// A classic token, gh[pousr]_ and 36 letters or digits, is matched by its first eight
// characters, gh[pousr]_[A-Za-z0-9]{4}, and grown over the rest (alnum_rest);
// validate_github_classic then wants exactly 40 and a word boundary after them, as
// gh[pousr]_[A-Za-z0-9]{36}\b would. The whole regex made Vectorscan's engine for the
// credential patterns ~50 % costlier on PII-dense text (callgrind, bench/pii_bench --once
// secrets dense: 11.37M instructions with it, 7.65M with the short one).
std::size_t github_classic_start(std::string_view s, bool) {
  const std::size_t n = s.size();
  if (n >= 8 && s.substr(n - 8, 2) == "gh" &&
      std::string_view("pousr").find(s[n - 6]) != std::string_view::npos && s[n - 5] == '_' &&
      all_chars(s.substr(n - 4), is_alnum))
    return 8;
  return 0;
}

std::optional<Span> validate_github_classic(std::string_view t, std::string_view before,
                                            std::string_view after) {
  if (t.size() != 40) return std::nullopt;
  return validate_token(t, before, after);
}

// sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40}: three fixed lengths (48, 51, 49), and the
// prefixes cannot overlap, so only one shape can end at a given place.
std::size_t openai_project_start(std::string_view s, bool) {
  const std::size_t n = s.size();
  for (std::string_view kind : {"sk-svcacct-", "sk-admin-", "sk-proj-"}) {
    const std::size_t len = kind.size() + 40;
    if (n >= len && s.substr(n - len, kind.size()) == kind &&
        all_chars(s.substr(n - 40), [](char c) { return is_word(c) || c == '-'; }))
      return len;
  }
  return 0;
}

// \b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b: every match is 20 bytes long.
std::size_t aws_access_key_start(std::string_view s, bool) { return s.size() >= 20 ? 20 : 0; }

// A North American number before its extension: the anchor starts with the last digit of
// the line number, so `before` ends with the other three. Leftmost start of
// (?:\+1[ .\-]?)?(?:\(\d{3}\) ?|\b\d{3}[ .\-])\d{3}[ .\-]\d{4} ending there.
std::size_t nanp_before_extension(std::string_view b) {
  std::size_t i = b.size();
  if (i < 11 || !digits_at(b, i - 3, 3) || !nanp_sep(b[i - 4]) || !digits_at(b, i - 7, 3))
    return kTooLong;
  i -= 7;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::size_t start;
  if (i >= 4 && nanp_sep(b[i - 1]) && digits_at(b, i - 4, 3) && (i == 4 || !word(b[i - 5]))) {
    start = i - 4;  // "555-" ("\b" before it)
  } else {
    std::size_t j = i;
    if (j >= 1 && b[j - 1] == ' ') --j;
    if (j < 5 || b[j - 1] != ')' || !digits_at(b, j - 4, 3) || b[j - 5] != '(') return kTooLong;
    start = j - 5;  // "(555) "
  }
  // "+1" and a separator before it, when there (the leftmost match includes them).
  if (start >= 3 && nanp_sep(b[start - 1]) && b[start - 2] == '1' && b[start - 3] == '+')
    start -= 3;
  else if (start >= 2 && b[start] == '(' && b[start - 1] == '1' && b[start - 2] == '+')
    start -= 2;
  return b.size() - start;
}

// The rest of an extension after its first digit (\d{1,6}; the validator checks what follows).
std::size_t extension_rest(std::string_view after) {
  std::size_t n = 0;
  while (n < after.size() && n < 5 && after[n] >= '0' && after[n] <= '9') ++n;
  return n;
}

// Priorities: a credential beats personal data on the same span, a checksummed number beats a
// phone number (a card with spaces is also phone-shaped), the keyword heuristic loses to all.
constexpr int kSecret = 90, kCard = 60, kIban = 55, kSsn = 50, kIp = 40, kEmail = 30,
              kPhone = 20, kGeneric = 10;

std::vector<PatternSpec> make() {
  using U = Unbounded;
  std::vector<PatternSpec> p = {
      // Personal data.
      {id(Entity::kEmail), R"(@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)", false, 320, U::kNone,
       validate_email, kEmail, email_local_part},
      {id(Entity::kPhone), R"(\+\d{8,15}\b)", false, 16, U::kNone, validate_phone, kPhone, nullptr,
       nullptr, plus_digits_start},
      {id(Entity::kPhone), R"(\+\d{1,3}[ .\-]?(?:\(\d{1,5}\)[ .\-]?)?\d{1,8}(?:[ .\-]\d{1,8}){0,5}\b)",
       false, 96, U::kNone, validate_phone, kPhone, nullptr, nullptr, plus_phone_start},
      {id(Entity::kPhone), R"(\(\d{1,5}\)[ .\-]?\d{1,8}(?:[ .\-]\d{1,8}){0,5}\b)", false, 96, U::kNone,
       validate_phone, kPhone, nullptr, nullptr, area_phone_start},
      {id(Entity::kPhone), R"(\b\d{1,8}(?:[ .\-]\d{1,8}){1,5}\b)", false, 96, U::kNone,
       validate_phone, kPhone, nullptr, nullptr, digit_groups_start},
      // North American numbers with an extension ("x0135", "ext. 12"), apart: an optional
      // suffix on the general patterns costs them most of their speed.
      {id(Entity::kPhone),
       R"(\d ?(?:x|ext\.?) ?\d)", false, 40, U::kNone, validate_phone, kPhone, nanp_before_extension,
       extension_rest},
      {id(Entity::kCreditCard), R"(\b\d[\d \-]{10,40}\d\b)", false, 48, U::kNone, validate_card,
       kCard, nullptr, nullptr, card_start},
      {id(Entity::kIban),
       R"(\b[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)\b)",
       true, 48, U::kNone, validate_iban, kIban},
      {id(Entity::kUsSsn), R"(\b\d{3}-\d{2}-\d{4}\b)", false, 11, U::kNone, validate_ssn, kSsn,
       nullptr, nullptr, ssn_start<'-'>},
      {id(Entity::kUsSsn), R"(\b\d{3} \d{2} \d{4}\b)", false, 11, U::kNone, validate_ssn, kSsn,
       nullptr, nullptr, ssn_start<' '>},
      {id(Entity::kIpv4), R"(\b(?:\d{1,3}\.){3}\d{1,3}\b)", false, 15, U::kNone, validate_ipv4, kIp,
       nullptr, nullptr, ipv4_start},
      {id(Entity::kIpv6), R"([0-9A-Fa-f]{1,4}(?:::?[0-9A-Fa-f]{1,4}){1,7}\b)", false, 39, U::kNone,
       validate_ipv6, kIp},
      // Credentials, from each vendor's documented token format.
      {id(Entity::kOpenAiKey), R"(T3BlbkFJ)", false, 256, U::kNone, validate_openai_key, kSecret,
       openai_key_start, token_rest},
      {id(Entity::kOpenAiKey), R"(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40})", false, 256,
       U::kNone, validate_openai_key, kSecret, nullptr, token_rest, openai_project_start},
      {id(Entity::kAnthropicKey), R"(sk-ant-(?:api|admin|oat|sid)\d\d-[A-Za-z0-9_\-]{20})", false,
       256, U::kNone, validate_token, kSecret + 1, nullptr, token_rest},
      {id(Entity::kAwsAccessKey), R"(\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b)", false, 20,
       U::kNone, validate_token, kSecret, nullptr, nullptr, aws_access_key_start},
      {id(Entity::kAwsSecretKey),
       R"((?:aws_?)?secret_?(?:access_?)?key["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9/+]{40})", true, 100,
       U::kNone, validate_aws_secret, kSecret},
      {id(Entity::kGithubToken), R"(github_pat_[A-Za-z0-9_]{82}\b)", false, 93, U::kNone,
       validate_token, kSecret, nullptr, nullptr, github_pat_start},
      {id(Entity::kGithubToken), R"(gh[pousr]_[A-Za-z0-9]{4})", false, 40, U::kNone,
       validate_github_classic, kSecret, nullptr, alnum_rest, github_classic_start},
      {id(Entity::kGitlabToken),
       R"(gl(?:pat|dt|rt|ptt|ft|soat|imt|agent|oas|ffct|cbt)-[A-Za-z0-9_\-]{20})", false, 320,
       U::kNone, validate_token, kSecret, nullptr, token_rest},
      {id(Entity::kSlackToken), R"((?:xox[abposre]|xapp-\d)-[A-Za-z0-9\-]{10})", false, 256,
       U::kNone, validate_token, kSecret, nullptr, token_rest},
      {id(Entity::kSlackToken), R"(hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_]{20,})",
       false, 200, U::kNone, validate_token, kSecret},
      {id(Entity::kStripeKey), R"((?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10}|whsec_[A-Za-z0-9]{24}))",
       false, 256, U::kNone, validate_token, kSecret, nullptr, alnum_rest},
      {id(Entity::kGoogleApiKey), R"(AIza[A-Za-z0-9_\-]{35})", false, 39, U::kNone, validate_token,
       kSecret},
      {id(Entity::kHuggingfaceToken), R"((?:hf_|api_org_)[A-Za-z0-9]{30,40}\b)", false, 48, U::kNone,
       validate_token, kSecret},
      {id(Entity::kNpmToken), R"(npm_[A-Za-z0-9]{36}\b)", false, 40, U::kNone, validate_token,
       kSecret},
      {id(Entity::kPrivateKey), R"(-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----)", false, 80,
       U::kPemBlock, validate_any, kSecret + 2},
      {id(Entity::kJwt), R"(\.eyJ)", false, 400, U::kJwt, validate_jwt_marker, kSecret + 2,
       jwt_header_start},
      {id(Entity::kGenericSecret),
       R"((?:api[_\-]?key|apikey|secret|token|passw(?:or)?d|pwd|access[_\-]?key|auth[_\-]?key|client[_\-]?secret)["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9_\-+/=.]{16})",
       true, 120, U::kNone, validate_keyword_value, kGeneric, nullptr, value_rest},
  };
  return p;
}

}  // namespace

const std::vector<PatternSpec>& builtin_patterns() {
  static const std::vector<PatternSpec> patterns = make();
  return patterns;
}

}  // namespace sluice::pii
