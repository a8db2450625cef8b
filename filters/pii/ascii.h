// ASCII byte classes shared by the patterns' C++ extents and the validators. \w in Vectorscan
// (without UCP) is is_word: [0-9A-Za-z_].
#pragma once

namespace sluice::pii {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
constexpr bool is_word(char c) { return is_alnum(c) || c == '_'; }

}  // namespace sluice::pii
