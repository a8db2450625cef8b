// Helpers shared by the per-shape halves of StreamAdapter (stream_*.cc). Internal.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Caps on per-stream bookkeeping: indexes beyond them are still decoded and counted, only not
// tracked for closing / render_end (no provider sends that many choices or blocks).
inline constexpr std::int32_t kMaxTrackedIndex = 256;

// A string value, decoded, with the span of its JSON token in the parsed text.
struct StringToken {
  std::string_view text;  // decoded; valid until the next parse on this thread
  std::size_t begin = 0;  // opening quote
  std::size_t end = 0;    // just past the closing quote
  bool present = false;
};

// Lenient readers for stream events: a value of another type (or null) leaves `out` as it
// was; they return false only when the JSON itself is broken, which makes the event malformed.
bool read_string_token(simdjson::ondemand::value v, const char* base, StringToken& out);
bool read_string(simdjson::ondemand::value v, std::string_view& out);
bool read_int(simdjson::ondemand::value v, std::int64_t& out);

bool value_is_null(simdjson::ondemand::value& v);

// Appends one SSE event: optional `event:` and `id:` lines, `data: ` lines (one per line of
// `data`), and the blank line.
void append_sse(std::string& out, std::string_view event, std::string_view id,
                std::string_view data);

// "sluice: " + message, unless it already starts so.
std::string sluice_message(std::string_view message);

// Finish reasons in each provider's wording, from whatever wording a filter used.
std::string_view chat_finish_reason(std::string_view reason);
std::string_view anthropic_stop_reason(std::string_view reason);
// Empty when the reason means a normal completion of a Responses call.
std::string_view responses_incomplete_reason(std::string_view reason);

}  // namespace sluice
