// Reading provider usage objects into the normalized TokenUsage (sinks/event.h):
//  * OpenAI chat / embeddings: prompt_tokens, completion_tokens,
//    prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens;
//  * OpenAI Responses: input_tokens, output_tokens, input_tokens_details.cached_tokens,
//    output_tokens_details.reasoning_tokens. Cached tokens are part of the input already.
//  * Anthropic: input_tokens, cache_creation_input_tokens, cache_read_input_tokens,
//    output_tokens; cache tokens come on top of input_tokens, so input is their sum.
// Internal to the providers library.
#pragma once

#include <simdjson.h>

#include <cstdint>

#include "sinks/event.h"

namespace sluice {

// Reads an OpenAI usage object (either naming) into `out`, replacing the counts it carries.
// Sets out.source = kProvider. Returns false when the object is malformed.
bool read_openai_usage(simdjson::ondemand::object usage, TokenUsage& out);

// Anthropic counts as sent; -1 where a field was absent. Streams send them in pieces
// (message_start, then cumulative message_delta), so they are merged before normalizing.
struct AnthropicUsageCounts {
  std::int64_t input = -1;
  std::int64_t cache_creation = -1;
  std::int64_t cache_read = -1;
  std::int64_t output = -1;

  // Every count present in `later` replaces ours (message_delta counts are cumulative).
  void merge(const AnthropicUsageCounts& later);
  bool any() const { return input >= 0 || cache_creation >= 0 || cache_read >= 0 || output >= 0; }
  TokenUsage normalized() const;
};

bool read_anthropic_usage(simdjson::ondemand::object usage, AnthropicUsageCounts& out);

// Reads a token count: an integer (or a float with an integral value, as some compatible
// servers send); null leaves `out` alone. False on any other type.
bool read_token_count(simdjson::ondemand::value v, std::int64_t& out);

}  // namespace sluice
