// Test controls taken from the request: x-mock-* headers and a "@fault=<name>" model suffix.
//
//   x-mock-prompt-tokens, x-mock-output-tokens (default 16), x-mock-cached-tokens,
//   x-mock-cache-write-tokens, x-mock-reasoning-tokens   token counts
//   x-mock-text / x-mock-text-b64                         exact output text (~4-byte tokens)
//   x-mock-tool-call: 1                                    chat: answer with a tool call
//   x-mock-ttft-ms, x-mock-token-delay-ms, x-mock-header-delay-ms   timing
//   x-mock-fault: 429 | 500 | reset-mid-stream | malformed-sse | truncated-json |
//                 slow-headers | close-before-headers | error-event
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mock/mock_types.h"

namespace sluice::mock {

enum class Fault {
  kNone,
  kRateLimit,           // "429"
  kServerError,         // "500"
  kResetMidStream,      // "reset-mid-stream"
  kMalformedSse,        // "malformed-sse"
  kTruncatedJson,       // "truncated-json"
  kSlowHeaders,         // "slow-headers"
  kCloseBeforeHeaders,  // "close-before-headers"
  kErrorEvent,          // "error-event"
  kGzip,                // "gzip": a non-streamed body sent gzip-encoded whatever was asked
};

std::optional<Fault> parse_fault(std::string_view name);

// "gpt-4o@fault=500" → model "gpt-4o", fault "500". No suffix → fault empty.
struct ModelName {
  std::string_view model;
  std::string_view fault;
};
ModelName split_model(std::string_view model);

constexpr std::int64_t kDefaultOutputTokens = 16;
constexpr std::int64_t kMaxOutputTokens = 1'000'000;
constexpr std::int64_t kSlowHeadersDefaultMs = 3000;

struct MockOptions {
  std::optional<std::int64_t> prompt_tokens;
  std::int64_t output_tokens = kDefaultOutputTokens;
  std::int64_t cached_tokens = 0;
  std::int64_t cache_write_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::optional<std::string> text;
  bool tool_call = false;
  std::int64_t ttft_ms = 0;
  std::int64_t token_delay_ms = 0;
  std::int64_t header_delay_ms = 0;
  Fault fault = Fault::kNone;
  std::string error;  // non-empty: a control header was malformed (answer 400)
};

// Reads the x-mock-* headers; `model_fault` is the "@fault=" suffix of the model, used when
// there is no x-mock-fault header.
MockOptions parse_options(const MockRequest& req, std::string_view model_fault);

}  // namespace sluice::mock
