// Checks that turn a pattern's candidate match into a finding, or reject it. The patterns are
// deliberately loose (cheap to scan, never miss a well-formed value); precision comes from here.
//
// Contract of every Validator: `text` is the candidate (the longest match of its pattern from
// one start), `before` / `after` are up to kContextBytes of the text just outside it (fewer at
// the start / end of the text). It returns the span inside `text` to report, or nullopt. Pure, no allocation beyond
// small locals, deterministic: the streaming redactor relies on the same candidate giving the
// same answer however the text arrived.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::pii {

struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
};

inline constexpr std::size_t kContextBytes = 16;

using Validator = std::optional<Span> (*)(std::string_view text, std::string_view before,
                                          std::string_view after);

// Building blocks, exposed for tests.
bool luhn_ok(std::string_view digits);                   // digits only
bool card_iin_ok(std::string_view digits);               // a known issuer range and its lengths
int iban_length_for(std::string_view country);           // 0: not an IBAN country
bool iban_mod97_ok(std::string_view iban);               // compact, upper case
bool ssn_ok(std::string_view area, std::string_view group, std::string_view serial);
bool ipv4_ok(std::string_view text);
bool ipv6_ok(std::string_view text);
bool base64url_decode(std::string_view in, std::string& out);  // padding optional
bool jwt_header_ok(std::string_view segment);  // base64url of a JSON object with "alg" or "typ"
double shannon_entropy(std::string_view s);    // bits per byte

// One validator per entity; the pattern table (patterns.cc) pairs them with regexes.
std::optional<Span> validate_email(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_phone(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_card(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_iban(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_ssn(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_ipv4(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_ipv6(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_token(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_openai_key(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_keyword_value(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_aws_secret(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_jwt_marker(std::string_view t, std::string_view before, std::string_view after);
std::optional<Span> validate_any(std::string_view t, std::string_view before, std::string_view after);

}  // namespace sluice::pii
