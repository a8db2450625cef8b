// Anthropic-shaped responses: POST /v1/messages (plain and streamed) and errors, exactly in
// api.anthropic.com's wire format (`event: X\ndata: {"type":"X",...}\n\n`).
#pragma once

#include <string>
#include <string_view>

#include "mock/generation.h"
#include "mock/mock_types.h"

namespace sluice::mock {

// {"type":"error","error":{"type":..,"message":..}}
std::string anthropic_error_json(std::string_view type, std::string_view message);
Plan anthropic_error(int status, std::string_view type, std::string_view message);
Plan anthropic_rate_limit();    // 429 rate_limit_error, retry-after + anthropic-ratelimit-*
Plan anthropic_server_error();  // 500 api_error
Plan anthropic_overloaded();    // 529 overloaded_error

Plan anthropic_messages(const BuildContext& ctx);

// Stream fault payloads.
std::string anthropic_error_event();      // event: error (overloaded_error)
std::string anthropic_malformed_event();  // data: line with broken JSON

}  // namespace sluice::mock
