// Server-Sent Events text for the mock's streams.
#pragma once

#include <string>
#include <string_view>

namespace sluice::mock {

// "data: <json>\n\n" (OpenAI chat style).
inline std::string sse_data(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  out.append("data: ").append(json).append("\n\n");
  return out;
}

// "event: <type>\ndata: <json>\n\n" (Anthropic and OpenAI Responses style).
inline std::string sse_event(std::string_view type, std::string_view json) {
  std::string out;
  out.reserve(type.size() + json.size() + 16);
  out.append("event: ").append(type).append("\ndata: ").append(json).append("\n\n");
  return out;
}

}  // namespace sluice::mock
