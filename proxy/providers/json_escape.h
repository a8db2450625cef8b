// JSON string encoding for text Sluice writes into provider-shaped JSON (rewritten deltas,
// synthesized events). Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends `text` as a JSON string literal, quotes included. Escapes '"', '\\' and every
// control character below U+0020 (\n, \r, \t, \b, \f by name, the rest as \u00XX). Bytes
// that are not valid UTF-8 are replaced by U+FFFD, so the output is always valid JSON even
// when a filter cut text in the middle of a character.
void append_json_string(std::string& out, std::string_view text);

// Same as append_json_string without the surrounding quotes.
void append_json_escaped(std::string& out, std::string_view text);

// Appends a decimal integer.
void append_json_int(std::string& out, long long value);

}  // namespace sluice
