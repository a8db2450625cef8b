// Token estimates for when a provider reports no usage and for reservations made before a
// call (budgets). The contract is to over-estimate, never under-estimate, for real text:
//
//   tokens(text) = ceil(utf8_bytes / 2)
//   input        = tokens(prompt text) + 4 per message/input item + 8
//
// Byte-level BPE tokenizers (cl100k, o200k, Claude's) spend about 4 bytes per token on
// English and code and at least 2 bytes per token on CJK text (3-byte characters, about 1.5
// tokens each at worst), so bytes/2 stays above the real count for both; per-message framing
// costs OpenAI 3-4 tokens. An exact tokenizer can replace this behind the same interface.
#pragma once

#include <cstdint>

#include "filters/filter.h"

namespace sluice {

class TokenEstimator {
 public:
  virtual ~TokenEstimator() = default;
  virtual std::int64_t estimate_input(const RequestSummary& request) const = 0;
  virtual std::int64_t estimate_text(std::int64_t utf8_bytes) const = 0;
};

class ByteTokenEstimator final : public TokenEstimator {
 public:
  std::int64_t estimate_input(const RequestSummary& r) const override {
    return estimate_text(r.prompt_text_bytes) + 4 * r.prompt_parts + 8;
  }
  std::int64_t estimate_text(std::int64_t bytes) const override { return (bytes + 1) / 2; }
};

const TokenEstimator& default_token_estimator();

}  // namespace sluice
