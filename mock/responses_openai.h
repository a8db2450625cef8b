// OpenAI-shaped responses: Chat Completions, Responses API, Embeddings, Models, errors.
// Field order follows what api.openai.com sends; ids derive from the request body's hash and
// `created` is fixed, so equal requests get byte-identical bodies.
#pragma once

#include <string>
#include <string_view>

#include "mock/generation.h"
#include "mock/mock_types.h"

namespace sluice::mock {

// {"error":{"message":..,"type":..,"param":..,"code":..}}; empty param/code → null.
std::string openai_error_json(std::string_view message, std::string_view type,
                              std::string_view code = {}, std::string_view param = {});
Plan openai_error(int status, std::string_view message, std::string_view type,
                  std::string_view code = {}, std::string_view param = {});
Plan openai_rate_limit();    // 429 with retry-after and x-ratelimit-* headers
Plan openai_server_error();  // 500
Plan openai_not_found(const MockRequest& req);

Plan openai_chat(const BuildContext& ctx);        // POST /v1/chat/completions
Plan openai_embeddings(const BuildContext& ctx);  // POST /v1/embeddings
Plan openai_models();                             // GET /v1/models
Plan openai_responses(const BuildContext& ctx);   // POST /v1/responses (responses_openai_api.cc)

// Stream fault payloads.
std::string openai_chat_error_event();                       // data: {"error":{..}}
std::string openai_chat_malformed_event();                   // data: line with broken JSON
std::string openai_responses_error_event(long long seq_no);  // event: error
std::string openai_responses_malformed_event();

// The 8 deterministic embedding values of one input (exactly representable as float32).
void embedding_values(std::uint64_t input_hash, float (&out)[8]);

}  // namespace sluice::mock
