// StreamAdapter: the shape-independent half (dispatch, re-encoding, errors). The shapes live
// in stream_openai_chat.cc, stream_responses.cc and stream_anthropic.cc.
#include <algorithm>

#include "proxy/providers/adapter.h"
#include "proxy/providers/json_escape.h"
#include "proxy/providers/stream_internal.h"

namespace sluice {

StreamAdapter::StreamAdapter(ApiKind api, Provider provider, Options options)
    : api_(api), provider_(provider), options_(options) {}

void StreamAdapter::inspect(const SseBlock& block, ResponseEvent& event) {
  event.block = &block;
  event.type = block.event;
  event.deltas.clear();
  event.closing.clear();
  event.terminal = false;
  planned_ = &block;
  spans_.clear();
  remove_usage_ = false;
  if (!block.dispatch || block.oversize) return;
  if (block.is_done()) {
    event.terminal = saw_terminal_ = true;
    return;
  }
  if (block.data.empty()) return;  // an event name alone carries nothing to read
  switch (api_) {
    case ApiKind::kChatCompletions:
      inspect_chat(block, event, options_.decode_text, options_.strip_usage);
      break;
    case ApiKind::kResponses:
      inspect_responses(block, event);
      break;
    case ApiKind::kMessages:
      inspect_anthropic(block, event, options_.decode_text);
      break;
    case ApiKind::kEmbeddings:
    case ApiKind::kPassthrough: {
      // Routes no adapter models: read usage and model where the events look like a known
      // shape (OpenAI-compatible servers stream chat-like chunks on /v1/completions), count
      // text, never decode deltas for filters. No shape is expected there, so data that does
      // not parse is not counted as malformed.
      const std::uint64_t malformed_before = malformed_;
      if (provider_ == Provider::kAnthropic) {
        inspect_anthropic(block, event, false);
      } else {
        inspect_chat(block, event, false, options_.strip_usage);
      }
      malformed_ = malformed_before;
      break;
    }
  }
}

void StreamAdapter::set_type_from_json(const SseBlock& block, std::size_t raw_begin,
                                       std::string_view decoded, ResponseEvent& event) {
  if (!block.event.empty()) return;  // the SSE event name wins
  // event.type must outlive the parse; the raw bytes in block.data do, when unescaped.
  const std::string_view raw = block.data.substr(raw_begin + 1, decoded.size());
  if (raw == decoded) {
    event.type = raw;
  } else {
    type_storage_.assign(decoded);
    event.type = type_storage_;
  }
}

namespace {

// Which shape synthesized events take: Anthropic's for the messages API and for routes no
// adapter models on an Anthropic upstream; OpenAI's otherwise.
bool anthropic_shaped(ApiKind api, Provider provider) {
  return api == ApiKind::kMessages ||
         ((api == ApiKind::kPassthrough || api == ApiKind::kEmbeddings) &&
          provider == Provider::kAnthropic);
}

struct Edit {
  std::size_t begin;
  std::size_t end;
  const TextDelta* delta;  // null: delete the range
};

}  // namespace

void StreamAdapter::render(const ResponseEvent& event, std::string& out) {
  for (const TextDelta& d : event.emit_before) render_text(d, out);
  if (event.drop || event.block == nullptr) return;
  const SseBlock& block = *event.block;
  const bool any_modified = std::any_of(event.deltas.begin(), event.deltas.end(),
                                        [](const TextDelta& d) { return d.modified; });
  if (planned_ != event.block || (!any_modified && !remove_usage_)) {
    out.append(block.raw);
    return;
  }

  const std::string_view data = block.data;
  std::vector<Edit> edits;
  edits.reserve(spans_.size() + 1);
  const auto add = [&](Edit e) { edits.push_back(e); };
  if (remove_usage_) add({usage_erase_begin_, usage_erase_end_, nullptr});
  if (any_modified) {
    // spans_[i] was made for event.deltas[i]; match by channel when a filter reordered.
    std::vector<bool> used(event.deltas.size(), false);
    for (std::size_t i = 0; i < spans_.size(); ++i) {
      std::size_t k = i;
      if (k >= event.deltas.size() || used[k] || !(event.deltas[k].channel == spans_[i].channel)) {
        k = event.deltas.size();
        for (std::size_t j = 0; j < event.deltas.size(); ++j) {
          if (!used[j] && event.deltas[j].channel == spans_[i].channel) {
            k = j;
            break;
          }
        }
      }
      if (k == event.deltas.size()) continue;
      used[k] = true;
      if (event.deltas[k].modified) add({spans_[i].begin, spans_[i].end, &event.deltas[k]});
    }
  }
  std::sort(edits.begin(), edits.end(),
            [](const Edit& a, const Edit& b) { return a.begin < b.begin; });

  scratch_.clear();
  std::size_t pos = 0;
  for (const Edit& e : edits) {
    if (e.begin < pos || e.end > data.size()) continue;  // overlapping or stale: skip
    scratch_.append(data.substr(pos, e.begin - pos));
    if (e.delta != nullptr) append_json_string(scratch_, e.delta->text);
    pos = e.end;
  }
  scratch_.append(data.substr(pos));
  append_sse(out, block.event, block.id, scratch_);
}

void StreamAdapter::render_text(const TextDelta& delta, std::string& out) {
  if (delta.text.empty()) return;
  switch (api_) {
    case ApiKind::kChatCompletions:
      render_text_chat(delta, out);
      break;
    case ApiKind::kResponses:
      render_text_responses(delta, out);
      break;
    case ApiKind::kMessages:
      render_text_anthropic(delta, out);
      break;
    case ApiKind::kEmbeddings:
    case ApiKind::kPassthrough:
      break;
  }
}

void StreamAdapter::render_end(const StreamEnd& end, std::string& out) {
  switch (end.mode) {
    case StreamEnd::Mode::kNone:
      return;
    case StreamEnd::Mode::kClean:
      switch (api_) {
        case ApiKind::kResponses:
          render_clean_end_responses(end.finish_reason, out);
          return;
        case ApiKind::kMessages:
          render_clean_end_anthropic(end.finish_reason, out);
          return;
        case ApiKind::kChatCompletions:
        case ApiKind::kEmbeddings:
        case ApiKind::kPassthrough:
          if (anthropic_shaped(api_, provider_)) {
            render_clean_end_anthropic(end.finish_reason, out);
          } else {
            render_clean_end_chat(end.finish_reason, out);
          }
          return;
      }
      return;
    case StreamEnd::Mode::kError: {
      const bool anthropic = anthropic_shaped(api_, provider_);
      std::string_view type = end.error.type;
      if (type.empty()) type = anthropic ? "api_error" : "server_error";
      render_error(type, end.error.code, end.error.message, out);
      return;
    }
  }
}

void StreamAdapter::render_upstream_error(std::string_view message, std::string& out) {
  const bool anthropic = anthropic_shaped(api_, provider_);
  render_error(anthropic ? "api_error" : "upstream_error", "", message, out);
}

void StreamAdapter::render_error(std::string_view type, std::string_view code,
                                 std::string_view message, std::string& out) {
  const std::string text = sluice_message(message);
  const bool anthropic = anthropic_shaped(api_, provider_);
  std::string& j = scratch_;
  j.clear();
  const auto append_code = [&] {
    if (code.empty()) {
      j += "null";
    } else {
      append_json_string(j, code);
    }
  };
  if (anthropic) {
    j += "{\"type\":\"error\",\"error\":{\"type\":";
    append_json_string(j, type);
    j += ",\"message\":";
    append_json_string(j, text);
    j += "}}";
    append_sse(out, "error", {}, j);
    return;
  }
  // The openai SDK raises APIError on any data object with an "error" member; Responses
  // clients that read the documented error event fields find code/message/param at the top.
  j += "{";
  if (api_ == ApiKind::kResponses) {
    j += "\"type\":\"error\",\"sequence_number\":";
    append_json_int(j, ++sequence_);
    j += ",\"code\":";
    append_code();
    j += ",\"message\":";
    append_json_string(j, text);
    j += ",\"param\":null,";
  }
  j += "\"error\":{\"message\":";
  append_json_string(j, text);
  j += ",\"type\":";
  append_json_string(j, type);
  j += ",\"param\":null,\"code\":";
  append_code();
  j += "}}";
  append_sse(out, api_ == ApiKind::kResponses ? "error" : "", {}, j);
}

}  // namespace sluice
