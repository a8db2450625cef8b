#include "filters/pii/patterns.h"

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
      {id(Entity::kPhone), R"(\+\d{8,15}\b)", false, 16, U::kNone, validate_phone, kPhone},
      {id(Entity::kPhone), R"(\+\d{1,3}[ .\-]?(?:\(\d{1,5}\)[ .\-]?)?\d{1,8}(?:[ .\-]\d{1,8}){0,5}\b)",
       false, 96, U::kNone, validate_phone, kPhone},
      {id(Entity::kPhone), R"(\(\d{1,5}\)[ .\-]?\d{1,8}(?:[ .\-]\d{1,8}){0,5}\b)", false, 96, U::kNone,
       validate_phone, kPhone},
      {id(Entity::kPhone), R"(\b\d{1,8}(?:[ .\-]\d{1,8}){1,5}\b)", false, 96, U::kNone,
       validate_phone, kPhone},
      // North American numbers with an extension ("x0135", "ext. 12"), apart: an optional
      // suffix on the general patterns costs them most of their speed.
      {id(Entity::kPhone),
       R"(\d ?(?:x|ext\.?) ?\d)", false, 40, U::kNone, validate_phone, kPhone, nanp_before_extension,
       extension_rest},
      {id(Entity::kCreditCard), R"(\b\d[\d \-]{10,40}\d\b)", false, 48, U::kNone, validate_card,
       kCard},
      {id(Entity::kIban),
       R"(\b[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)\b)",
       true, 48, U::kNone, validate_iban, kIban},
      {id(Entity::kUsSsn), R"(\b\d{3}-\d{2}-\d{4}\b)", false, 11, U::kNone, validate_ssn, kSsn},
      {id(Entity::kUsSsn), R"(\b\d{3} \d{2} \d{4}\b)", false, 11, U::kNone, validate_ssn, kSsn},
      {id(Entity::kIpv4), R"(\b(?:\d{1,3}\.){3}\d{1,3}\b)", false, 15, U::kNone, validate_ipv4, kIp},
      {id(Entity::kIpv6), R"([0-9A-Fa-f]{1,4}(?:::?[0-9A-Fa-f]{1,4}){1,7}\b)", false, 39, U::kNone,
       validate_ipv6, kIp},
      // Credentials, from each vendor's documented token format.
      {id(Entity::kOpenAiKey), R"(T3BlbkFJ)", false, 256, U::kNone, validate_openai_key, kSecret,
       openai_key_start, token_rest},
      {id(Entity::kOpenAiKey), R"(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40})", false, 256,
       U::kNone, validate_openai_key, kSecret, nullptr, token_rest},
      {id(Entity::kAnthropicKey), R"(sk-ant-(?:api|admin|oat|sid)\d\d-[A-Za-z0-9_\-]{20})", false,
       256, U::kNone, validate_token, kSecret + 1, nullptr, token_rest},
      {id(Entity::kAwsAccessKey), R"(\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b)", false, 20,
       U::kNone, validate_token, kSecret},
      {id(Entity::kAwsSecretKey),
       R"((?:aws_?)?secret_?(?:access_?)?key["']?\s{0,3}[:=]\s{0,3}["']?[A-Za-z0-9/+]{40})", true, 100,
       U::kNone, validate_aws_secret, kSecret},
      {id(Entity::kGithubToken), R"((?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b)",
       false, 93, U::kNone, validate_token, kSecret},
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
