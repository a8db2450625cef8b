// Turns a Plan into the bytes to write: the HTTP/1.1 head, a Content-Length body or chunked
// SSE events (one chunk per event), grouped into segments separated by the plan's delays.
// With no delays the whole response is one segment, i.e. a single write.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mock/mock_types.h"

namespace sluice::mock {

struct Segment {
  std::int64_t delay_ms = 0;  // wait this long, then write `bytes`
  std::string bytes;
};

struct FramedResponse {
  std::vector<Segment> segments;
  Ending ending = Ending::kNormal;
  bool close_after = false;  // close the connection once the segments are written
  bool has_delays() const {
    for (const auto& s : segments) {
      if (s.delay_ms > 0) return true;
    }
    return false;
  }
};

// `keep_alive`: what the request asked for (HTTP version and Connection header applied).
FramedResponse frame_response(const Plan& plan, std::uint64_t seq, bool keep_alive,
                              unsigned http_version);

std::string_view reason_phrase(int status);

// A complete small response for protocol errors found before a request could be routed.
std::string simple_response(int status, std::string_view body, bool close);

}  // namespace sluice::mock
