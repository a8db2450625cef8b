// Types shared by the mock's response builders and its server: the request as received and
// the Plan that says what to send back (status, headers, body or SSE events, delays, faults).
// Builders are pure functions of the request, so equal requests give byte-identical plans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::mock {

struct Header {
  std::string name;  // lower-case in requests
  std::string value;
};

struct MockRequest {
  std::string method;
  std::string target;     // as received, query included
  unsigned version = 11;  // 10 or 11
  std::vector<Header> headers;
  std::string body;

  // First value of a header by lower-case name; empty when absent.
  std::string_view header(std::string_view lower_name) const;
  bool has_header(std::string_view lower_name) const;
  // Target without its query string.
  std::string_view path() const;
};

// How the connection ends after the planned bytes are sent.
enum class Ending {
  kNormal,      // response complete; the connection stays open if keep-alive
  kCloseFin,    // stop after the cut and close (FIN): a truncated response
  kReset,       // stop after the cut and reset the connection (SO_LINGER 0 + close)
  kNoResponse,  // send nothing at all and close
};

struct SseEvent {
  std::string bytes;   // complete SSE event text, blank line included
  bool paced = false;  // preceded by the token delay (token deltas)
};

struct Plan {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<Header> headers;   // extra response headers
  bool streaming = false;        // chunked text/event-stream
  std::string body;              // !streaming
  std::vector<SseEvent> events;  // streaming

  // Faults. Streaming: the first `cut` events are sent, then `tail` (one chunk, paced).
  // Non-streaming: the first `cut` bytes of `body` are sent (Content-Length stays full).
  static constexpr std::size_t kAll = static_cast<std::size_t>(-1);
  std::size_t cut = kAll;
  std::string tail;
  Ending ending = Ending::kNormal;
  bool close_after = false;  // send Connection: close and close once done

  std::int64_t header_delay_ms = 0;  // before the status line
  std::int64_t ttft_ms = 0;          // before headers + first event
  std::int64_t token_delay_ms = 0;   // before each paced event
};

}  // namespace sluice::mock
