// What the mock "generates" for a request: token counts and the output pieces. Everything
// is a pure function of the request, so the same request always gives the same answer.
//
//  * prompt tokens P = x-mock-prompt-tokens, else max(1, body bytes / 4)
//  * output: x-mock-text (split into ~4-byte pieces on UTF-8 boundaries), else
//    x-mock-output-tokens pieces "tok0 ", "tok1 ", ... (default 16)
//  * capped by the body's max_tokens / max_completion_tokens / max_output_tokens
//    (then `truncated` is set: finish_reason "length", stop_reason "max_tokens", ...)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mock/mock_types.h"
#include "mock/request_body.h"
#include "mock/request_options.h"

namespace sluice::mock {

constexpr std::int64_t kCreated = 1700000000;

struct Generation {
  std::uint64_t hash = 0;  // FNV-1a of the request body: the seed of every id
  std::int64_t prompt_tokens = 1;
  std::int64_t cached_tokens = 0;
  std::int64_t cache_write_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::vector<std::string> tokens;
  bool truncated = false;

  std::int64_t completion_tokens() const { return static_cast<std::int64_t>(tokens.size()); }
  std::string text() const;
  // Deterministic id "<prefix><24 hex>", different per `prefix`.
  std::string id(std::string_view prefix) const;
};

// Splits text into pieces of at least `piece` bytes, never inside a UTF-8 sequence.
std::vector<std::string> split_text(std::string_view text, std::size_t piece = 4);

Generation make_generation(const MockRequest& req, const RequestBody& body, const MockOptions& opt);

// Everything a response builder needs.
struct BuildContext {
  const MockRequest& req;
  const RequestBody& body;
  const MockOptions& opt;
  const Generation& gen;
};

}  // namespace sluice::mock
