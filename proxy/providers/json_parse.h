// The calling thread's simdjson On-Demand parser, fed from a reused padded copy of the input
// (On-Demand needs SIMDJSON_PADDING readable bytes after the text; callers hand us views into
// buffers they do not own, so we copy once into a buffer that only grows).
//
// Lifetimes: the document, and every string_view obtained from it, stay valid until the next
// parse_on_this_thread() call on the same thread. Never hold two parses at once.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <string_view>

namespace sluice {

// Starts an On-Demand parse of `json`. Sets `base` to the first byte of the padded copy, so
// that base + k is json[k] (offsets of raw tokens are computed against it).
simdjson::error_code parse_on_this_thread(std::string_view json, simdjson::ondemand::document& doc,
                                          const char*& base);

// True when the parse of `doc` has consumed every token (nothing but whitespace follows).
bool at_document_end(simdjson::ondemand::document& doc);

// Offset of a raw token inside the padded copy.
inline std::size_t offset_in(const char* base, std::string_view token) {
  return static_cast<std::size_t>(token.data() - base);
}

// `token` without trailing JSON whitespace (simdjson raw tokens of scalars may include it).
std::string_view trim_token(std::string_view token);

}  // namespace sluice
