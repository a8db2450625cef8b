// inject_stream_usage(): a byte splice into a body read_request() accepted. Because that body
// has no duplicate keys and no escaped spelling of "stream_options" or "include_usage", raw
// key bytes identify the members the provider will read.
#include <string>

#include "proxy/providers/adapter.h"
#include "proxy/providers/json_spans.h"

namespace sluice {

std::string inject_stream_usage(std::string_view body) {
  namespace js = json_spans;
  std::string out;
  out.reserve(body.size() + 48);
  const std::size_t root = js::skip_ws(body, 0);
  const js::MemberLookup top = js::find_member(body, root, "stream_options");
  if (!top.ok) return std::string(body);  // precondition broken: change nothing

  const auto splice = [&](std::size_t begin, std::size_t end, std::string_view text) {
    out.append(body.substr(0, begin));
    out.append(text);
    out.append(body.substr(end));
    return out;
  };

  if (!top.found) {
    if (top.last_value_end == js::npos) {
      return splice(top.close, top.close, "\"stream_options\":{\"include_usage\":true}");
    }
    return splice(top.last_value_end, top.last_value_end,
                  ",\"stream_options\":{\"include_usage\":true}");
  }
  const js::Member& so = top.member;
  if (body[so.value_begin] != '{') {  // null
    return splice(so.value_begin, so.value_end, "{\"include_usage\":true}");
  }
  const js::MemberLookup inner = js::find_member(body, so.value_begin, "include_usage");
  if (!inner.ok) return std::string(body);
  if (inner.found) {
    return splice(inner.member.value_begin, inner.member.value_end, "true");
  }
  if (inner.last_value_end == js::npos) {
    return splice(inner.close, inner.close, "\"include_usage\":true");
  }
  return splice(inner.last_value_end, inner.last_value_end, ",\"include_usage\":true");
}

}  // namespace sluice
