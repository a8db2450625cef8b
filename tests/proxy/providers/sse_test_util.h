// Test helpers: SSE text split into SseBlock values by hand (independent of SseFramer), a
// driver that runs blocks through a StreamAdapter, and JSON checks on rendered events.
#pragma once

#include <simdjson.h>

#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/providers/adapter.h"

namespace sluice::testing {

// Owns SSE text (LF line endings) and its blocks. Each block ends at a blank line; `event`,
// `data` (lines joined with '\n') and `id` are filled as the WHATWG rules say.
class SseText {
 public:
  explicit SseText(std::string text) : text_(std::move(text)) {
    std::size_t pos = 0;
    while (pos < text_.size()) {
      std::size_t end = text_.find("\n\n", pos);
      end = end == std::string::npos ? text_.size() : end + 2;
      SseBlock b;
      b.raw = std::string_view(text_).substr(pos, end - pos);
      std::string joined;
      bool has_data = false;
      std::size_t line_start = 0;
      const std::string_view raw = b.raw;
      while (line_start < raw.size()) {
        std::size_t nl = raw.find('\n', line_start);
        if (nl == std::string_view::npos) nl = raw.size();
        std::string_view line = raw.substr(line_start, nl - line_start);
        line_start = nl + 1;
        if (line.empty() || line[0] == ':') continue;
        const std::size_t colon = line.find(':');
        std::string_view field = line.substr(0, colon);
        std::string_view value =
            colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
        if (field == "event") {
          b.event = value;
        } else if (field == "id") {
          b.id = value;
        } else if (field == "data") {
          if (has_data) joined += '\n';
          joined += value;
          has_data = true;
        }
      }
      data_.push_back(std::move(joined));
      b.data = data_.back();
      b.dispatch = has_data || !b.event.empty();
      blocks_.push_back(b);
      pos = end;
    }
  }
  const std::vector<SseBlock>& blocks() const { return blocks_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::deque<std::string> data_;
  std::vector<SseBlock> blocks_;
};

struct RunResult {
  std::string out;
  std::vector<ResponseEvent> events;  // as inspected (deltas, closing, type, terminal, drop)
  std::vector<std::string> types;     // event.type copied (the view dies with the blocks)
};

// Runs every block through inspect, the optional filter, and render.
inline RunResult run_stream(StreamAdapter& a, const SseText& s,
                            const std::function<void(ResponseEvent&)>& filter = {}) {
  RunResult r;
  for (const SseBlock& b : s.blocks()) {
    ResponseEvent ev;
    a.inspect(b, ev);
    if (filter) filter(ev);
    a.render(ev, r.out);
    r.types.emplace_back(ev.type);
    r.events.push_back(std::move(ev));
  }
  return r;
}

inline std::string data_event(std::string_view json) {
  return "data: " + std::string(json) + "\n\n";
}
inline std::string named_event(std::string_view name, std::string_view json) {
  return "event: " + std::string(name) + "\ndata: " + std::string(json) + "\n\n";
}

// True when `json` is one valid JSON document (DOM parse, full validation).
inline bool valid_json(std::string_view json) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  return !p.parse(simdjson::padded_string(json)).get(e);
}

}  // namespace sluice::testing
