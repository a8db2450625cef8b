// StreamAdapter for OpenAI Responses streams (`event: response.X` + data with "type").
// Usage, model and status come with response.completed / response.incomplete /
// response.failed (the events Kong ignored: #14535); text with the *.delta events.
#include <utility>
#include <vector>

#include "proxy/providers/adapter.h"
#include "proxy/providers/json_escape.h"
#include "proxy/providers/json_parse.h"
#include "proxy/providers/stream_internal.h"
#include "proxy/providers/usage_fields.h"

namespace sluice {
namespace {

namespace od = simdjson::ondemand;

struct ResponsesEvent {
  StringToken type;
  StringToken delta;
  std::int64_t sequence = -1;
  std::int64_t output_index = 0;
  std::int64_t content_index = 0;
  std::int64_t summary_index = -1;
  std::string_view item_id;  // "item_id", or the id of "item"
  std::string_view item_type;
  std::string_view call_id;
  // The "response" object of lifecycle events.
  bool has_response = false;
  std::string_view response_id;
  std::string_view model;
  std::string_view status;
  std::string_view incomplete_reason;
  std::int64_t created_at = -1;
  bool usage_object = false;
  TokenUsage usage;
  bool response_error = false;
};

bool read_incomplete(od::value v, ResponsesEvent& e) {
  od::object o;
  if (v.get_object().get(o)) return true;
  for (auto r : o) {
    od::field f;
    if (std::move(r).get(f)) return false;
    if (f.key() == "reason" && !read_string(f.value(), e.incomplete_reason)) return false;
  }
  return true;
}

bool read_response_object(od::value v, ResponsesEvent& e) {
  od::object o;
  if (v.get_object().get(o)) return true;
  e.has_response = true;
  for (auto r : o) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    od::value x = f.value();
    bool ok = true;
    if (key == "id") {
      ok = read_string(x, e.response_id);
    } else if (key == "model") {
      ok = read_string(x, e.model);
    } else if (key == "status") {
      ok = read_string(x, e.status);
    } else if (key == "created_at") {
      ok = read_int(x, e.created_at);
    } else if (key == "incomplete_details") {
      ok = read_incomplete(x, e);
    } else if (key == "error") {
      e.response_error = !value_is_null(x);
    } else if (key == "usage") {
      od::object u;
      if (!value_is_null(x) && !x.get_object().get(u)) {
        ok = read_openai_usage(u, e.usage);
        e.usage_object = true;
      }
    }
    if (!ok) return false;
  }
  return true;
}

bool read_item(od::value v, ResponsesEvent& e) {
  od::object o;
  if (v.get_object().get(o)) return true;
  for (auto r : o) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    bool ok = true;
    if (key == "id") {
      ok = read_string(f.value(), e.item_id);
    } else if (key == "type") {
      ok = read_string(f.value(), e.item_type);
    } else if (key == "call_id") {
      ok = read_string(f.value(), e.call_id);
    }
    if (!ok) return false;
  }
  return true;
}

bool read_event(od::document& doc, const char* base, ResponsesEvent& e) {
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
    } else if (key == "delta") {
      ok = read_string_token(v, base, e.delta);
    } else if (key == "sequence_number") {
      ok = read_int(v, e.sequence);
    } else if (key == "output_index") {
      ok = read_int(v, e.output_index);
    } else if (key == "content_index") {
      ok = read_int(v, e.content_index);
    } else if (key == "summary_index") {
      ok = read_int(v, e.summary_index);
    } else if (key == "item_id") {
      ok = read_string(v, e.item_id);
    } else if (key == "item") {
      ok = read_item(v, e);
    } else if (key == "response") {
      ok = read_response_object(v, e);
    }
    if (!ok) return false;
  }
  return at_document_end(doc);
}

std::int32_t clamp(std::int64_t i) {
  return i < 0 ? 0 : i > INT32_MAX ? INT32_MAX : static_cast<std::int32_t>(i);
}

// The channel a *.delta / *.done event of this type belongs to; false for other types.
bool channel_of(std::string_view type, const ResponsesEvent& e, Channel& ch, bool& closing) {
  const auto ends = [&](std::string_view suffix) {
    return type.size() > suffix.size() && type.substr(type.size() - suffix.size()) == suffix;
  };
  std::string_view stem;
  if (ends(".delta")) {
    stem = type.substr(0, type.size() - 6);
    closing = false;
  } else if (ends(".done")) {
    stem = type.substr(0, type.size() - 5);
    closing = true;
  } else {
    return false;
  }
  ch.choice = clamp(e.output_index);
  if (stem == "response.output_text") {
    ch.kind = Channel::Kind::kText;
    ch.block = clamp(e.content_index);
  } else if (stem == "response.function_call_arguments") {
    ch.kind = Channel::Kind::kToolArguments;
    ch.block = 0;
  } else if (stem == "response.reasoning_summary_text") {
    ch.kind = Channel::Kind::kReasoning;
    ch.block = clamp(e.summary_index >= 0 ? e.summary_index : 0);
  } else if (stem == "response.reasoning_text") {
    ch.kind = Channel::Kind::kReasoning;
    ch.block = clamp(e.content_index);
  } else {
    return false;
  }
  return true;
}

}  // namespace

void StreamAdapter::inspect_responses(const SseBlock& block, ResponseEvent& event) {
  ResponsesEvent e;
  od::document doc;
  const char* base = nullptr;
  if (parse_on_this_thread(block.data, doc, base) || !read_event(doc, base, e)) {
    ++malformed_;
    return;
  }
  if (e.type.present) set_type_from_json(block, e.type.begin, e.type.text, event);
  const std::string_view type = block.event.empty() ? e.type.text : block.event;

  if (e.sequence > sequence_) sequence_ = e.sequence;
  if (e.has_response) {
    if (response_id_.empty() && !e.response_id.empty()) response_id_.assign(e.response_id);
    if (created_ == 0 && e.created_at > 0) created_ = e.created_at;
    if (!e.model.empty()) facts_.served_model.assign(e.model);
  }
  if (type == "response.created" || type == "response.in_progress" || type == "response.queued") {
    saw_start_ = true;
  }
  if (e.output_index >= 0 && e.output_index < kMaxTrackedIndex &&
      (!e.item_id.empty() || !e.item_type.empty())) {
    if (items_.size() <= static_cast<std::size_t>(e.output_index)) {
      items_.resize(e.output_index + 1);
    }
    OutputItem& item = items_[e.output_index];
    if (type == "response.output_item.added") {
      item.type.assign(e.item_type);
      item.call_id.assign(e.call_id);
      item.open = true;
    } else if (type == "response.output_item.done") {
      item.open = false;
    }
    if (!e.item_id.empty() && item.id != e.item_id) item.id.assign(e.item_id);
  }

  const bool completed = type == "response.completed";
  const bool incomplete = type == "response.incomplete";
  const bool failed = type == "response.failed";
  if (completed || incomplete || failed) {
    event.terminal = saw_terminal_ = true;
    if (e.usage_object) facts_.usage = e.usage;
    if (!e.incomplete_reason.empty()) {
      facts_.finish_reason.assign(e.incomplete_reason);
    } else if (!e.status.empty()) {
      facts_.finish_reason.assign(e.status);
    }
    if (failed || e.response_error) facts_.is_error = true;
    return;
  }
  if (type == "error") {
    facts_.is_error = true;
    event.terminal = saw_terminal_ = true;
    return;
  }

  Channel ch;
  bool closing = false;
  if (!channel_of(type, e, ch, closing)) return;
  if (closing) {
    if (options_.decode_text) event.closing.push_back(ch);
    return;
  }
  if (!e.delta.present) return;
  count_text(e.delta.text.size());
  if (options_.decode_text) {
    event.deltas.push_back(TextDelta{ch, std::string(e.delta.text), false});
    spans_.push_back({e.delta.begin, e.delta.end, ch});
  }
}

void StreamAdapter::render_text_responses(const TextDelta& delta, std::string& out) {
  const Channel& ch = delta.channel;
  std::string_view type;
  switch (ch.kind) {
    case Channel::Kind::kText:
      type = "response.output_text.delta";
      break;
    case Channel::Kind::kToolArguments:
      type = "response.function_call_arguments.delta";
      break;
    case Channel::Kind::kReasoning:
      type = "response.reasoning_summary_text.delta";
      break;
  }
  std::string& j = scratch_;
  j.clear();
  j += "{\"type\":\"";
  j += type;
  j += "\",\"sequence_number\":";
  append_json_int(j, ++sequence_);
  j += ",\"item_id\":";
  const bool known = ch.choice >= 0 && static_cast<std::size_t>(ch.choice) < items_.size();
  append_json_string(j, known ? std::string_view(items_[ch.choice].id) : std::string_view());
  j += ",\"output_index\":";
  append_json_int(j, ch.choice);
  if (ch.kind == Channel::Kind::kText) {
    j += ",\"content_index\":";
    append_json_int(j, ch.block);
  } else if (ch.kind == Channel::Kind::kReasoning) {
    j += ",\"summary_index\":";
    append_json_int(j, ch.block);
  }
  j += ",\"delta\":";
  append_json_string(j, delta.text);
  if (ch.kind == Channel::Kind::kText) j += ",\"logprobs\":[]";
  j += "}";
  append_sse(out, type, {}, j);
}

void StreamAdapter::append_responses_object(std::string_view status, std::string_view reason,
                                            std::string& j) const {
  j += "{\"id\":";
  append_json_string(
      j, response_id_.empty() ? std::string_view("resp_sluice") : std::string_view(response_id_));
  j += ",\"object\":\"response\",\"created_at\":";
  append_json_int(j, created_);
  j += ",\"status\":";
  append_json_string(j, status);
  j += ",\"model\":";
  append_json_string(j, facts_.served_model);
  j += ",\"error\":null,\"incomplete_details\":";
  if (reason.empty()) {
    j += "null";
  } else {
    j += "{\"reason\":";
    append_json_string(j, reason);
    j += "}";
  }
  // No "output": the openai SDK's stream helper then rebuilds it from the output_item.done
  // events the client already got, which Sluice does not keep.
  j += ",\"usage\":null}";
}

void StreamAdapter::render_clean_end_responses(std::string_view reason, std::string& out) {
  const std::string_view incomplete = responses_incomplete_reason(reason);
  std::string& j = scratch_;
  if (!saw_start_) {
    // The SDK's stream helper requires response.created before anything else.
    j.clear();
    j += "{\"type\":\"response.created\",\"sequence_number\":";
    append_json_int(j, ++sequence_);
    j += ",\"response\":";
    append_responses_object("in_progress", {}, j);
    j += "}";
    append_sse(out, "response.created", {}, j);
  }
  // The openai SDK's stream helper refuses to complete a response whose output items were
  // added but never done; close them, marked incomplete. Their content is left empty (Sluice
  // keeps no copy of the text, which the client already got as deltas).
  for (std::size_t i = 0; i < items_.size(); ++i) {
    OutputItem& item = items_[i];
    if (!item.open) continue;
    item.open = false;
    j.clear();
    j += "{\"type\":\"response.output_item.done\",\"sequence_number\":";
    append_json_int(j, ++sequence_);
    j += ",\"output_index\":";
    append_json_int(j, static_cast<long long>(i));
    j += ",\"item\":{\"id\":";
    append_json_string(j, item.id);
    j += ",\"type\":";
    append_json_string(j, item.type);
    j += ",\"status\":\"incomplete\"";
    if (!item.call_id.empty()) {
      j += ",\"call_id\":";
      append_json_string(j, item.call_id);
    }
    if (item.type == "message") {
      j += ",\"role\":\"assistant\",\"content\":[]";
    } else if (item.type == "function_call") {
      j += ",\"arguments\":\"\"";
    } else if (item.type == "reasoning") {
      j += ",\"summary\":[]";
    }
    j += "}}";
    append_sse(out, "response.output_item.done", {}, j);
  }
  j.clear();
  j += "{\"type\":\"response.completed\",\"sequence_number\":";
  append_json_int(j, ++sequence_);
  j += ",\"response\":";
  append_responses_object(incomplete.empty() ? "completed" : "incomplete", incomplete, j);
  j += "}";
  append_sse(out, "response.completed", {}, j);
}

}  // namespace sluice
