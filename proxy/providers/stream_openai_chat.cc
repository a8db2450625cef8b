// StreamAdapter for OpenAI chat completion chunks (`data: {chunk}`, `data: [DONE]`), also used
// for chat-like chunks on routes no adapter models.
//
// Each chunk is read whole into a ChatChunk first and committed only when it parsed cleanly,
// so a malformed event changes nothing but the malformed counter.
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "proxy/providers/adapter.h"
#include "proxy/providers/json_escape.h"
#include "proxy/providers/json_parse.h"
#include "proxy/providers/json_spans.h"
#include "proxy/providers/stream_internal.h"
#include "proxy/providers/usage_fields.h"

namespace sluice {
namespace {

namespace od = simdjson::ondemand;

struct ChatDelta {
  Channel channel;
  StringToken token;
};

struct ChatFinish {
  std::int32_t choice;
  std::string_view reason;
};

struct ChatChunk {
  std::string_view id;
  std::string_view model;
  std::int64_t created = -1;
  std::vector<ChatDelta> deltas;
  std::vector<ChatFinish> finishes;
  std::vector<std::int32_t> choices;  // indexes of the choices in this chunk
  bool has_usage_member = false;
  std::size_t usage_key_begin = 0;  // byte span of the top-level usage member
  std::size_t usage_value_end = 0;
  bool usage_object = false;
  TokenUsage usage;
  bool error = false;
  bool extra = false;  // something besides text deltas and per-chunk metadata (ResponseEvent::only_text)

  void clear() {
    id = model = {};
    created = -1;
    deltas.clear();
    finishes.clear();
    choices.clear();
    has_usage_member = usage_object = error = extra = false;
    usage = TokenUsage{};
  }
};

std::int32_t clamp_index(std::int64_t i) {
  return i < 0 ? 0 : i > INT32_MAX ? INT32_MAX : static_cast<std::int32_t>(i);
}

bool read_tool_calls(od::value v, const char* base, std::vector<ChatDelta>& out) {
  od::array calls;
  if (v.get_array().get(calls)) return true;  // not an array: nothing to read
  std::int64_t position = 0;
  for (auto r : calls) {
    od::value call_value;
    if (std::move(r).get(call_value)) return false;
    od::object call;
    if (call_value.get_object().get(call)) {
      ++position;
      continue;
    }
    std::int64_t index = position++;
    StringToken args;
    for (auto fr : call) {
      od::field f;
      if (std::move(fr).get(f)) return false;
      const auto key = f.key();
      if (key == "index") {
        if (!read_int(f.value(), index)) return false;
      } else if (key == "function") {
        od::object fn;
        if (f.value().get_object().get(fn)) continue;
        for (auto gr : fn) {
          od::field g;
          if (std::move(gr).get(g)) return false;
          if (g.key() == "arguments" && !read_string_token(g.value(), base, args)) return false;
        }
      }
    }
    if (args.present) {
      Channel ch;
      ch.kind = Channel::Kind::kToolArguments;
      ch.tool_call = clamp_index(index);
      out.push_back({ch, args});
    }
  }
  return true;
}

bool read_delta(od::value v, const char* base, ChatChunk& c) {
  std::vector<ChatDelta>& out = c.deltas;
  od::object delta;
  if (v.get_object().get(delta)) return true;  // null
  for (auto r : delta) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    StringToken t;
    if (key == "content") {
      if (!read_string_token(f.value(), base, t)) return false;
      if (t.present) out.push_back({Channel{}, t});
    } else if (key == "reasoning_content" || key == "reasoning") {
      // vLLM/DeepSeek send reasoning_content, OpenRouter reasoning; both plain strings.
      if (!read_string_token(f.value(), base, t)) return false;
      if (t.present) out.push_back({Channel{Channel::Kind::kReasoning}, t});
    } else if (key == "tool_calls") {
      c.extra = true;  // ids, names, types
      if (!read_tool_calls(f.value(), base, out)) return false;
    } else {
      c.extra = true;  // role, refusal, ...
    }
  }
  return true;
}

bool read_choice(od::value v, std::int32_t position, const char* base, ChatChunk& c) {
  od::object choice;
  if (v.get_object().get(choice)) return true;
  const std::size_t first = c.deltas.size();
  std::int64_t index = position;
  std::string_view finish;
  for (auto r : choice) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    if (key == "index") {
      if (!read_int(f.value(), index)) return false;
    } else if (key == "delta") {
      if (!read_delta(f.value(), base, c)) return false;
    } else if (key == "text") {  // legacy completions chunks
      StringToken t;
      if (!read_string_token(f.value(), base, t)) return false;
      if (t.present) c.deltas.push_back({Channel{}, t});
    } else if (key == "finish_reason") {
      if (!read_string(f.value(), finish)) return false;
      if (!finish.empty()) c.extra = true;
    } else {
      od::value other = f.value();
      if (!value_is_null(other)) c.extra = true;  // logprobs, ...
    }
  }
  const std::int32_t idx = clamp_index(index);
  for (std::size_t i = first; i < c.deltas.size(); ++i) c.deltas[i].channel.choice = idx;
  c.choices.push_back(idx);
  if (!finish.empty()) c.finishes.push_back({idx, finish});
  return true;
}

bool read_chunk(od::document& doc, const char* base, std::string_view data, ChatChunk& c) {
  od::object root;
  if (doc.get_object().get(root)) return false;
  for (auto r : root) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    od::value v = f.value();
    bool ok = true;
    if (key == "choices") {
      od::array choices;
      if (v.get_array().get(choices)) continue;
      std::int32_t position = 0;
      for (auto er : choices) {
        od::value el;
        if (std::move(er).get(el) || !read_choice(el, position++, base, c)) return false;
      }
    } else if (key == "usage") {
      // Where the member is, so strip_usage can cut it without scanning the chunk again.
      c.has_usage_member = true;
      c.usage_key_begin = static_cast<std::size_t>(key.raw() - base) - 1;
      const std::size_t value_begin = offset_in(base, v.raw_json_token());
      c.usage_value_end =
          value_is_null(v) ? value_begin + 4 : json_spans::skip_value(data, value_begin);
      od::object u;
      if (!value_is_null(v) && !v.get_object().get(u)) {
        ok = read_openai_usage(u, c.usage);
        c.usage_object = true;
      }
    } else if (key == "model") {
      ok = read_string(v, c.model);
    } else if (key == "id") {
      ok = read_string(v, c.id);
    } else if (key == "created") {
      ok = read_int(v, c.created);
    } else if (key == "error") {
      c.error = !value_is_null(v);
    } else if (key != "object" && key != "system_fingerprint" && key != "service_tier" &&
               key != "obfuscation" && !value_is_null(v)) {
      c.extra = true;
    }
    if (!ok) return false;
  }
  return at_document_end(doc);
}

}  // namespace

void StreamAdapter::inspect_chat(const SseBlock& block, ResponseEvent& event, bool decode,
                                 bool strip) {
  thread_local ChatChunk c;
  c.clear();
  od::document doc;
  const char* base = nullptr;
  if (parse_on_this_thread(block.data, doc, base) || !read_chunk(doc, base, block.data, c)) {
    ++malformed_;
    return;
  }

  if (response_id_.empty() && !c.id.empty()) response_id_.assign(c.id);
  if (created_ == 0 && c.created > 0) created_ = c.created;
  if (!c.model.empty()) facts_.served_model.assign(c.model);
  if (c.usage_object) facts_.usage = c.usage;
  if (c.error) {
    facts_.is_error = true;
    event.terminal = saw_terminal_ = true;
  }
  event.only_text = decode && !c.deltas.empty() && !c.extra && !c.error && !c.usage_object;

  for (const ChatDelta& d : c.deltas) {
    count_text(d.token.text.size());
    const std::int32_t i = d.channel.choice;
    if (i < kMaxTrackedIndex) {
      if (choices_.size() <= static_cast<std::size_t>(i)) choices_.resize(i + 1);
      ChoiceState& st = choices_[i];
      if (d.channel.kind == Channel::Kind::kReasoning) st.reasoning = true;
      if (d.channel.kind == Channel::Kind::kToolArguments &&
          std::find(st.tool_calls.begin(), st.tool_calls.end(), d.channel.tool_call) ==
              st.tool_calls.end() &&
          st.tool_calls.size() < static_cast<std::size_t>(kMaxTrackedIndex)) {
        st.tool_calls.push_back(d.channel.tool_call);
      }
    }
    if (decode) {
      event.deltas.push_back(TextDelta{d.channel, std::string(d.token.text), false});
      spans_.push_back({d.token.begin, d.token.end, d.channel});
    }
  }
  for (std::int32_t i : c.choices) {
    if (i >= kMaxTrackedIndex) continue;
    if (choices_.size() <= static_cast<std::size_t>(i)) choices_.resize(i + 1);
    choices_[i].seen = true;
  }
  for (const ChatFinish& f : c.finishes) {
    // The first choice's reason is the call's; others only when the first never says.
    if (f.choice == 0 || facts_.finish_reason.empty()) facts_.finish_reason.assign(f.reason);
    if (f.choice >= kMaxTrackedIndex) continue;
    ChoiceState& st = choices_[f.choice];
    st.finished = true;
    if (!decode) continue;
    event.closing.push_back(Channel{Channel::Kind::kText, f.choice});
    if (st.reasoning) event.closing.push_back(Channel{Channel::Kind::kReasoning, f.choice});
    for (std::int32_t t : st.tool_calls) {
      event.closing.push_back(Channel{Channel::Kind::kToolArguments, f.choice, 0, t});
    }
  }

  if (strip && c.has_usage_member) {
    if (c.usage_object && c.choices.empty()) {
      event.drop = true;  // the chunk exists only because Sluice asked for usage
    } else {
      const auto [b, e] =
          json_spans::member_erase_range_at(block.data, c.usage_key_begin, c.usage_value_end);
      if (b != json_spans::npos) {
        remove_usage_ = true;
        usage_erase_begin_ = b;
        usage_erase_end_ = e;
      }
    }
  }
}

void StreamAdapter::append_chat_chunk_head(std::string& j) const {
  j += "{\"id\":";
  append_json_string(j, response_id_.empty() ? std::string_view("chatcmpl-sluice")
                                             : std::string_view(response_id_));
  j += ",\"object\":\"chat.completion.chunk\",\"created\":";
  append_json_int(j, created_);
  j += ",\"model\":";
  append_json_string(j, facts_.served_model);
  j += ",\"choices\":[";
}

void StreamAdapter::render_text_chat(const TextDelta& delta, std::string& out) {
  std::string& j = scratch_;
  j.clear();
  append_chat_chunk_head(j);
  j += "{\"index\":";
  append_json_int(j, delta.channel.choice);
  j += ",\"delta\":{";
  switch (delta.channel.kind) {
    case Channel::Kind::kText:
      j += "\"content\":";
      append_json_string(j, delta.text);
      break;
    case Channel::Kind::kReasoning:
      j += "\"reasoning_content\":";
      append_json_string(j, delta.text);
      break;
    case Channel::Kind::kToolArguments:
      j += "\"tool_calls\":[{\"index\":";
      append_json_int(j, delta.channel.tool_call < 0 ? 0 : delta.channel.tool_call);
      j += ",\"function\":{\"arguments\":";
      append_json_string(j, delta.text);
      j += "}}]";
      break;
  }
  j += "},\"finish_reason\":null}]}";
  append_sse(out, {}, {}, j);
}

void StreamAdapter::render_clean_end_chat(std::string_view reason, std::string& out) {
  const std::string_view finish = chat_finish_reason(reason);
  bool any = false;
  for (std::size_t i = 0; i < choices_.size(); ++i) {
    if (!choices_[i].seen || choices_[i].finished) continue;
    any = true;
    std::string& j = scratch_;
    j.clear();
    append_chat_chunk_head(j);
    j += "{\"index\":";
    append_json_int(j, static_cast<long long>(i));
    j += ",\"delta\":{},\"finish_reason\":";
    append_json_string(j, finish);
    j += "}]}";
    append_sse(out, {}, {}, j);
  }
  if (!any && choices_.empty()) {
    std::string& j = scratch_;
    j.clear();
    append_chat_chunk_head(j);
    j += "{\"index\":0,\"delta\":{},\"finish_reason\":";
    append_json_string(j, finish);
    j += "}]}";
    append_sse(out, {}, {}, j);
  }
  out += "data: [DONE]\n\n";
}

}  // namespace sluice
