// The pattern table: one or more Vectorscan regexes per entity, each with the longest match it
// may report (the streaming hold-back is sized from these), a validator and a priority.
//
// Patterns are written to over-match cheaply: no lookaround (Vectorscan has none), few bounded
// repeats; boundaries, checksums and formats are checked by the validator. Patterns marked
// `unbounded` only find the opening marker of a value with no length bound (PEM private key
// blocks, JWTs); the redactor suppresses text from that marker to the value's end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "filters/pii/entity.h"
#include "filters/pii/validators.h"

namespace sluice::pii {

enum class Unbounded : std::uint8_t { kNone, kPemBlock, kJwt };

struct PatternSpec {
  std::size_t entity = 0;       // an Entity, or kBuiltinEntities + index of a custom pattern
  std::string regex;            // Vectorscan syntax
  bool caseless = false;
  std::uint32_t max_len = 0;    // longer candidates are never findings
  Unbounded unbounded = Unbounded::kNone;
  Validator validate = validate_any;
  int priority = 0;             // breaks ties between findings with the same span
  // Patterns anchored on a rare byte or literal (keeping Vectorscan's start-of-match tracking
  // cheap) grow back to the value's real start: given the bytes before the match (up to
  // max_len of them, fewer only at the start of the text), how many belong to it (kTooLong: not
  // a value of this pattern, or a longer one than it may have).
  std::size_t (*left_extent)(std::string_view before) = nullptr;
  // ... or forward to its real end: given the bytes after the match (up to max_len from its
  // start), how many belong to it.
  std::size_t (*right_extent)(std::string_view after) = nullptr;
  // Set for patterns compiled without start-of-match tracking, which costs Vectorscan most on
  // the digit patterns (phones, cards, SSNs, IPv4 start at any digit) and on long fixed-length
  // tokens (GitHub, OpenAI project keys, AWS key ids): the start is found from the end
  // instead. Given the text before the match's end (max_len + 1 bytes of it, fewer only at
  // the start of the text, then `at_text_start` is true), the length of the match that starts
  // leftmost and ends there, as HS_FLAG_SOM_LEFTMOST would report it; 0 when none.
  std::size_t (*start_from_end)(std::string_view before, bool at_text_start) = nullptr;
};

inline constexpr std::size_t kLeftKeep = 80;
// Released text the redactor keeps before the held text: the left extents' view (a pattern
// with a left_extent has max_len <= kRetainBytes) and the validators' left context.
inline constexpr std::size_t kRetainBytes = 512;
inline constexpr std::size_t kTooLong = static_cast<std::size_t>(-1);

// The built-in patterns, in a fixed order (the order is part of the results' determinism).
const std::vector<PatternSpec>& builtin_patterns();

}  // namespace sluice::pii
