#include "proxy/providers/stream_internal.h"

#include "proxy/providers/json_parse.h"

namespace sluice {

namespace od = simdjson::ondemand;

bool value_is_null(od::value& v) {
  od::json_type t;
  return !v.type().get(t) && t == od::json_type::null;
}

bool read_string_token(od::value v, const char* base, StringToken& out) {
  od::json_type t;
  if (v.type().get(t)) return false;
  if (t != od::json_type::string) return true;
  const std::string_view raw = trim_token(v.raw_json_token());
  if (v.get_string().get(out.text)) return false;
  out.begin = offset_in(base, raw);
  out.end = out.begin + raw.size();
  out.present = true;
  return true;
}

bool read_string(od::value v, std::string_view& out) {
  od::json_type t;
  if (v.type().get(t)) return false;
  if (t != od::json_type::string) return true;
  return !v.get_string().get(out);
}

bool read_int(od::value v, std::int64_t& out) {
  od::json_type t;
  if (v.type().get(t)) return false;
  if (t != od::json_type::number) return true;
  std::int64_t x = 0;
  const auto err = v.get_int64().get(x);
  if (err == simdjson::INCORRECT_TYPE || err == simdjson::NUMBER_OUT_OF_RANGE) return true;
  if (err) return false;
  out = x;
  return true;
}

void append_sse(std::string& out, std::string_view event, std::string_view id,
                std::string_view data) {
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += '\n';
  }
  if (!id.empty()) {
    out += "id: ";
    out += id;
    out += '\n';
  }
  // Data with line breaks (JSON whitespace between tokens) needs one data line per line.
  std::size_t pos = 0;
  while (true) {
    const std::size_t nl = data.find('\n', pos);
    out += "data: ";
    out.append(data.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    out += '\n';
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  out += '\n';
}

std::string sluice_message(std::string_view message) {
  constexpr std::string_view kPrefix = "sluice: ";
  if (message.substr(0, kPrefix.size()) == kPrefix) return std::string(message);
  std::string m(kPrefix);
  m += message;
  return m;
}

std::string_view chat_finish_reason(std::string_view r) {
  if (r.empty() || r == "end_turn" || r == "stop_sequence" || r == "completed") return "stop";
  if (r == "max_tokens" || r == "max_output_tokens") return "length";
  if (r == "refusal") return "content_filter";
  if (r == "tool_use") return "tool_calls";
  return r;
}

std::string_view anthropic_stop_reason(std::string_view r) {
  if (r.empty() || r == "stop" || r == "completed") return "end_turn";
  if (r == "length" || r == "max_output_tokens") return "max_tokens";
  if (r == "content_filter") return "refusal";
  if (r == "tool_calls") return "tool_use";
  return r;
}

std::string_view responses_incomplete_reason(std::string_view r) {
  if (r.empty() || r == "stop" || r == "end_turn" || r == "completed") return {};
  if (r == "length" || r == "max_tokens") return "max_output_tokens";
  if (r == "refusal") return "content_filter";
  return r;
}

}  // namespace sluice
