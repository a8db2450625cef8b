// Minimal JSON text helpers for the mock: responses are assembled by appending fragments
// in a fixed key order, so the same request always yields byte-identical output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::mock {

// Appends `s` as a quoted JSON string. Control characters, '"' and '\\' are escaped; bytes
// that are not valid UTF-8 become U+FFFD so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

void append_int(std::string& out, std::int64_t v);
// Shortest round-trip decimal form of a double (std::to_chars).
void append_double(std::string& out, double v);

// 64-bit FNV-1a.
std::uint64_t fnv1a64(std::string_view s, std::uint64_t seed = 0xcbf29ce484222325ULL);
// Deterministic hex id of `len` characters derived from `hash` and `salt`.
std::string hex_id(std::uint64_t hash, std::string_view salt, std::size_t len = 24);

std::string base64_encode(std::string_view bytes);
// Returns false on malformed input.
bool base64_decode(std::string_view in, std::string& out);

}  // namespace sluice::mock
