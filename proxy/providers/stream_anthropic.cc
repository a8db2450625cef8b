// StreamAdapter for Anthropic message streams (`event: X` + data with "type").
// Usage: message_start carries input, cache and initial output counts; every message_delta
// carries the cumulative output count (newer API versions also repeat input and cache counts
// there). Counts are kept as sent and normalized afresh each time, so nothing is added twice
// (Higress #1080) and total is never taken for output (APISIX #13662).
#include <cstdint>
#include <utility>

#include "proxy/providers/adapter.h"
#include "proxy/providers/json_escape.h"
#include "proxy/providers/json_parse.h"
#include "proxy/providers/stream_internal.h"
#include "proxy/providers/usage_fields.h"

namespace sluice {
namespace {

namespace od = simdjson::ondemand;

struct AnthropicEvent {
  StringToken type;
  std::int64_t index = -1;
  std::string_view delta_type;
  StringToken text;  // text_delta.text / input_json_delta.partial_json / thinking
  Channel::Kind text_kind = Channel::Kind::kText;
  std::string_view stop_reason;
  std::string_view block_type;  // content_block_start
  std::string_view message_id;
  std::string_view model;
  AnthropicUsageCounts usage;
  bool error = false;
};

bool read_usage(od::value v, AnthropicUsageCounts& out) {
  od::object u;
  if (v.get_object().get(u)) return true;
  return read_anthropic_usage(u, out);
}

bool read_delta(od::value v, const char* base, AnthropicEvent& e) {
  od::object d;
  if (v.get_object().get(d)) return true;
  for (auto r : d) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    bool ok = true;
    if (key == "type") {
      ok = read_string(f.value(), e.delta_type);
    } else if (key == "text") {
      ok = read_string_token(f.value(), base, e.text);
      e.text_kind = Channel::Kind::kText;
    } else if (key == "partial_json") {
      ok = read_string_token(f.value(), base, e.text);
      e.text_kind = Channel::Kind::kToolArguments;
    } else if (key == "thinking") {
      ok = read_string_token(f.value(), base, e.text);
      e.text_kind = Channel::Kind::kReasoning;
    } else if (key == "stop_reason") {
      ok = read_string(f.value(), e.stop_reason);
    }
    if (!ok) return false;
  }
  return true;
}

bool read_message(od::value v, AnthropicEvent& e) {
  od::object m;
  if (v.get_object().get(m)) return true;
  for (auto r : m) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    bool ok = true;
    if (key == "id") {
      ok = read_string(f.value(), e.message_id);
    } else if (key == "model") {
      ok = read_string(f.value(), e.model);
    } else if (key == "usage") {
      ok = read_usage(f.value(), e.usage);
    }
    if (!ok) return false;
  }
  return true;
}

bool read_block_type(od::value v, std::string_view& out) {
  od::object b;
  if (v.get_object().get(b)) return true;
  for (auto r : b) {
    od::field f;
    if (std::move(r).get(f)) return false;
    if (f.key() == "type" && !read_string(f.value(), out)) return false;
  }
  return true;
}

bool read_event(od::document& doc, const char* base, AnthropicEvent& e) {
  od::object root;
  if (doc.get_object().get(root)) return false;
  for (auto r : root) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    od::value v = f.value();
    bool ok = true;
    if (key == "type") {
      ok = read_string_token(v, base, e.type);
    } else if (key == "index") {
      ok = read_int(v, e.index);
    } else if (key == "delta") {
      ok = read_delta(v, base, e);
    } else if (key == "content_block") {
      ok = read_block_type(v, e.block_type);
    } else if (key == "message") {
      ok = read_message(v, e);
    } else if (key == "usage") {
      ok = read_usage(v, e.usage);
    } else if (key == "error") {
      e.error = !value_is_null(v);
    }
    if (!ok) return false;
  }
  return at_document_end(doc);
}

Channel::Kind kind_of_block(std::string_view type) {
  if (type == "tool_use" || type == "server_tool_use") return Channel::Kind::kToolArguments;
  if (type == "thinking" || type == "redacted_thinking") return Channel::Kind::kReasoning;
  return Channel::Kind::kText;
}

}  // namespace

void StreamAdapter::inspect_anthropic(const SseBlock& block, ResponseEvent& event, bool decode) {
  AnthropicEvent e;
  od::document doc;
  const char* base = nullptr;
  if (parse_on_this_thread(block.data, doc, base) || !read_event(doc, base, e)) {
    ++malformed_;
    return;
  }
  if (e.type.present) set_type_from_json(block, e.type.begin, e.type.text, event);
  const std::string_view type = block.event.empty() ? e.type.text : block.event;

  if (e.usage.any()) {
    AnthropicUsageCounts counts{anth_input_, anth_cache_creation_, anth_cache_read_, anth_output_};
    counts.merge(e.usage);
    anth_input_ = counts.input;
    anth_cache_creation_ = counts.cache_creation;
    anth_cache_read_ = counts.cache_read;
    anth_output_ = counts.output;
    facts_.usage = counts.normalized();
  }
  if (!e.model.empty()) facts_.served_model.assign(e.model);
  if (!e.stop_reason.empty()) facts_.finish_reason.assign(e.stop_reason);

  const std::int32_t index = e.index < 0           ? 0
                             : e.index > INT32_MAX ? INT32_MAX
                                                   : static_cast<std::int32_t>(e.index);
  BlockState* state = nullptr;
  if (e.index >= 0 && e.index < kMaxTrackedIndex) {
    if (blocks_.size() <= static_cast<std::size_t>(e.index)) blocks_.resize(e.index + 1);
    state = &blocks_[e.index];
  }

  if (type == "message_start") {
    saw_start_ = true;
    if (response_id_.empty() && !e.message_id.empty()) response_id_.assign(e.message_id);
  } else if (type == "content_block_start") {
    if (state != nullptr) *state = BlockState{kind_of_block(e.block_type), true};
  } else if (type == "content_block_delta") {
    if (!e.text.present) return;  // signature_delta, citations_delta: no text
    count_text(e.text.text.size());
    if (decode) {
      const Channel ch{e.text_kind, 0, index};
      event.deltas.push_back(TextDelta{ch, std::string(e.text.text), false});
      spans_.push_back({e.text.begin, e.text.end, ch});
      event.only_text = !e.usage.any() && !e.error;
    }
  } else if (type == "content_block_stop") {
    const Channel::Kind kind = state != nullptr ? state->kind : Channel::Kind::kText;
    if (state != nullptr) state->open = false;
    if (decode) event.closing.push_back(Channel{kind, 0, index});
  } else if (type == "message_stop") {
    event.terminal = saw_terminal_ = true;
  } else if (type == "error" || e.error) {
    facts_.is_error = true;
    event.terminal = saw_terminal_ = true;
  }
}

void StreamAdapter::render_text_anthropic(const TextDelta& delta, std::string& out) {
  std::string& j = scratch_;
  j.clear();
  j += "{\"type\":\"content_block_delta\",\"index\":";
  append_json_int(j, delta.channel.block);
  switch (delta.channel.kind) {
    case Channel::Kind::kText:
      j += ",\"delta\":{\"type\":\"text_delta\",\"text\":";
      break;
    case Channel::Kind::kToolArguments:
      j += ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":";
      break;
    case Channel::Kind::kReasoning:
      j += ",\"delta\":{\"type\":\"thinking_delta\",\"thinking\":";
      break;
  }
  append_json_string(j, delta.text);
  j += "}}";
  append_sse(out, "content_block_delta", {}, j);
}

void StreamAdapter::render_clean_end_anthropic(std::string_view reason, std::string& out) {
  std::string& j = scratch_;
  if (!saw_start_) {
    // The SDKs build the message from message_start; without it they fail on message_delta.
    j.clear();
    j += "{\"type\":\"message_start\",\"message\":{\"id\":";
    append_json_string(
        j, response_id_.empty() ? std::string_view("msg_sluice") : std::string_view(response_id_));
    j += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
    append_json_string(j, facts_.served_model);
    j += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
         "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}";
    append_sse(out, "message_start", {}, j);
    saw_start_ = true;
  }
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    if (!blocks_[i].open) continue;
    blocks_[i].open = false;
    j.clear();
    j += "{\"type\":\"content_block_stop\",\"index\":";
    append_json_int(j, static_cast<long long>(i));
    j += "}";
    append_sse(out, "content_block_stop", {}, j);
  }
  j.clear();
  j += "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":";
  append_json_string(j, anthropic_stop_reason(reason));
  j += ",\"stop_sequence\":null},\"usage\":{\"output_tokens\":";
  append_json_int(j, anth_output_ < 0 ? 0 : anth_output_);
  j += "}}";
  append_sse(out, "message_delta", {}, j);
  append_sse(out, "message_stop", {}, "{\"type\":\"message_stop\"}");
}

}  // namespace sluice
