// Byte-span scanning of JSON text that has already been validated (by read_request or by a
// simdjson parse of the same bytes): where a value or an object member starts and ends, so
// that an edit can be spliced in while every other byte stays as it was.
//
// The scanner never reads out of bounds and never recurses, whatever the input; on text that
// is not valid JSON it may return npos or spans that mean nothing, never undefined behaviour.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>

namespace sluice::json_spans {

inline constexpr std::size_t npos = std::string_view::npos;

// First index at or after `i` that is not JSON whitespace (s.size() if none).
std::size_t skip_ws(std::string_view s, std::size_t i);

// Index just past the value that starts at s[i] (no leading whitespace), or npos when the
// value is cut short.
std::size_t skip_value(std::string_view s, std::size_t i);

// True when `token` is exactly one number of the JSON grammar (RFC 8259 section 6).
bool is_json_number(std::string_view token);

struct Member {
  std::size_t key_begin = 0;    // the key's opening quote
  std::size_t value_begin = 0;  // first byte of the value
  std::size_t value_end = 0;    // just past the value
  std::string_view raw_key;     // key bytes between the quotes, escapes not decoded
};

struct MemberLookup {
  bool ok = false;     // the object was scanned up to its closing brace
  bool found = false;  // `member` holds the first member with the key
  Member member;
  std::size_t prev_value_end = npos;  // end of the value of the member before it
  std::size_t next_key_begin = npos;  // key of the member after it
  std::size_t last_value_end = npos;  // end of the object's last member (npos: empty)
  std::size_t close = npos;           // index of the object's '}'
};

// Looks for the member whose raw key bytes equal `raw_key` in the object whose '{' is s[obj].
MemberLookup find_member(std::string_view s, std::size_t obj, std::string_view raw_key);

// The byte range [first, second) whose removal deletes the found member and one separating
// comma, leaving valid JSON: from the end of the previous value, or up to the next key.
std::pair<std::size_t, std::size_t> member_erase_range(const MemberLookup& m);

// The same range for a member known from a parse of `s`: its key's opening quote and its
// value's end. Looks only at the whitespace and comma around the member, so it costs O(1)
// instead of a scan of the whole object. Returns {npos, npos} when the bytes around the member
// are not what valid JSON has there.
std::pair<std::size_t, std::size_t> member_erase_range_at(std::string_view s, std::size_t key_begin,
                                                          std::size_t value_end);

}  // namespace sluice::json_spans
