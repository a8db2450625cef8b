// The text a provider reads in a JSON body: every string value, decoded (so "\u0040" is an
// "@"), with the byte span of its token so a redaction can be spliced in while every other byte
// of the body stays as it was.
//
// Which strings: all string values except those under keys that carry structure, not text
// (model, role, type, ids, finish reasons, ...), opaque blobs the provider hands back (thinking
// signatures, encrypted content) and inline base64 data (data: URLs, long unspaced "data"
// values). That covers message contents and content parts, system prompts, tool call
// arguments, tool results, tool definitions, Responses `input`/`instructions`, and metadata.
//
// Precondition: the body is valid JSON (read_request / the upstream's parse accepted it). On
// anything else the walker stops and returns false; it never reads out of bounds.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace sluice::pii {

struct JsonString {
  std::string_view key;  // raw bytes of the member key this value belongs to ("" at top level)
  std::size_t begin = 0; // opening quote
  std::size_t end = 0;   // just past the closing quote
  std::string_view raw;  // between the quotes, escapes not decoded
};

// Calls `visit` for every string value the provider reads as text, in document order. Returns
// false when the text is not the JSON it should be (walk stopped).
bool for_each_text_string(std::string_view json, const std::function<void(const JsonString&)>& visit);

// Decodes the escapes of a JSON string's raw bytes (lone surrogates become U+FFFD). False on an
// invalid escape.
bool json_unescape(std::string_view raw, std::string& out);

// Appends `text` (valid UTF-8) escaped for a JSON string, without quotes.
void json_escape_append(std::string& out, std::string_view text);

}  // namespace sluice::pii
