#include "mock/http_framing.h"

#include <algorithm>
#include <cstdio>

#include "mock/json_writer.h"

namespace sluice::mock {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 529:
      return "Overloaded";
    default:
      return "Unknown";
  }
}

namespace {

void append_status_line(std::string& o, int status) {
  o += "HTTP/1.1 ";
  append_int(o, status);
  o += ' ';
  o += reason_phrase(status);
  o += "\r\n";
}

void append_chunk(std::string& o, std::string_view data) {
  if (data.empty()) return;  // an empty chunk would end the body
  char hex[20];
  int n = std::snprintf(hex, sizeof hex, "%zx\r\n", data.size());
  o.append(hex, static_cast<std::size_t>(n));
  o += data;
  o += "\r\n";
}

}  // namespace

FramedResponse frame_response(const Plan& plan, std::uint64_t seq, bool keep_alive,
                              unsigned http_version) {
  FramedResponse out;
  out.ending = plan.ending;
  if (plan.ending == Ending::kNoResponse) return out;

  const bool chunked = plan.streaming && http_version >= 11;
  out.close_after = !keep_alive || plan.close_after || (plan.streaming && !chunked);

  std::string head;
  head.reserve(256);
  append_status_line(head, plan.status);
  head += "Content-Type: ";
  head += plan.content_type;
  head += "\r\n";
  if (!plan.streaming) {
    head += "Content-Length: ";
    append_int(head, static_cast<std::int64_t>(plan.body.size()));
    head += "\r\n";
  } else {
    if (chunked) head += "Transfer-Encoding: chunked\r\n";
    head += "Cache-Control: no-cache\r\n";
  }
  head += "x-request-id: mock-";
  append_int(head, static_cast<std::int64_t>(seq));
  head += "\r\n";
  for (const auto& h : plan.headers) {
    head += h.name;
    head += ": ";
    head += h.value;
    head += "\r\n";
  }
  if (out.close_after) {
    head += "Connection: close\r\n";
  } else if (http_version < 11) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";

  Segment cur{plan.header_delay_ms + plan.ttft_ms, std::move(head)};
  auto add = [&](std::int64_t delay, std::string_view bytes, bool as_chunk) {
    if (delay > 0) {
      out.segments.push_back(std::move(cur));
      cur = Segment{delay, {}};
    }
    if (as_chunk) {
      append_chunk(cur.bytes, bytes);
    } else {
      cur.bytes += bytes;
    }
  };

  if (!plan.streaming) {
    add(0, std::string_view(plan.body).substr(0, std::min(plan.cut, plan.body.size())), false);
  } else {
    const std::size_t n = std::min(plan.cut, plan.events.size());
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) total += plan.events[i].bytes.size() + 12;
    cur.bytes.reserve(cur.bytes.size() + (plan.token_delay_ms > 0 ? 0 : total));
    for (std::size_t i = 0; i < n; ++i) {
      const auto& e = plan.events[i];
      add(e.paced ? plan.token_delay_ms : 0, e.bytes, chunked);
    }
    if (!plan.tail.empty()) add(plan.token_delay_ms, plan.tail, chunked);
    if (chunked && plan.ending == Ending::kNormal) add(0, "0\r\n\r\n", false);
  }
  out.segments.push_back(std::move(cur));
  return out;
}

std::string simple_response(int status, std::string_view body, bool close) {
  std::string o;
  append_status_line(o, status);
  o += "Content-Type: application/json\r\nContent-Length: ";
  append_int(o, static_cast<std::int64_t>(body.size()));
  o += "\r\n";
  if (close) o += "Connection: close\r\n";
  o += "\r\n";
  o += body;
  return o;
}

}  // namespace sluice::mock
