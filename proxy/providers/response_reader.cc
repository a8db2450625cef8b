// read_response(): usage, model and finish reason from a whole JSON body. Reads only the
// top-level members it needs, in whatever order they come.
#include <utility>

#include "proxy/providers/adapter.h"
#include "proxy/providers/json_parse.h"
#include "proxy/providers/usage_fields.h"

namespace sluice {
namespace {

namespace od = simdjson::ondemand;

bool read_string(od::value v, std::string& out) {
  std::string_view sv;
  if (v.get_string().get(sv)) return false;
  out.assign(sv);
  return true;
}

bool is_null(od::value& v) {
  od::json_type t;
  return !v.type().get(t) && t == od::json_type::null;
}

// finish_reason of the first choice.
bool read_first_finish(od::value v, std::string& out) {
  od::array choices;
  if (v.get_array().get(choices)) return false;
  for (auto r : choices) {
    od::object choice;
    if (std::move(r).get_object().get(choice)) return false;
    for (auto fr : choice) {
      od::field f;
      if (std::move(fr).get(f)) return false;
      if (f.key() == "finish_reason" && !is_null(f.value())) {
        if (!read_string(f.value(), out)) return false;
      }
    }
    return true;
  }
  return true;
}

bool read_incomplete_reason(od::value v, std::string& out) {
  if (is_null(v)) return true;
  od::object o;
  if (v.get_object().get(o)) return false;
  for (auto r : o) {
    od::field f;
    if (std::move(r).get(f)) return false;
    if (f.key() == "reason" && !is_null(f.value()) && !read_string(f.value(), out)) return false;
  }
  return true;
}

}  // namespace

bool read_response(ApiKind api, Provider provider, std::string_view body, ResponseFacts& facts) {
  od::document doc;
  const char* base = nullptr;
  if (parse_on_this_thread(body, doc, base)) return false;
  od::object root;
  if (doc.get_object().get(root)) return false;

  const bool anthropic_usage = api == ApiKind::kMessages ||
                               (api == ApiKind::kPassthrough && provider == Provider::kAnthropic);
  ResponseFacts f;
  bool any = false;
  std::string status, incomplete_reason;
  for (auto r : root) {
    od::field field;
    if (std::move(r).get(field)) return false;
    const auto key = field.key();
    od::value v = field.value();
    bool ok = true;
    if (key == "model") {
      ok = is_null(v) || read_string(v, f.served_model);
      any = true;
    } else if (key == "usage") {
      if (is_null(v)) continue;
      od::object u;
      if (v.get_object().get(u)) return false;
      if (anthropic_usage) {
        AnthropicUsageCounts counts;
        ok = read_anthropic_usage(u, counts);
        f.usage = counts.normalized();
      } else {
        ok = read_openai_usage(u, f.usage);
      }
      any = true;
    } else if (key == "error") {
      // OpenAI error bodies and Anthropic's {"type":"error","error":{...}}; Responses bodies
      // carry "error": null on success.
      if (!is_null(v)) f.is_error = any = true;
    } else if (key == "type") {
      std::string type;
      ok = read_string(v, type);
      if (type == "error") f.is_error = any = true;
    } else if (key == "choices") {
      ok = read_first_finish(v, f.finish_reason);
    } else if (key == "stop_reason") {
      ok = is_null(v) || read_string(v, f.finish_reason);
    } else if (key == "status") {
      ok = read_string(v, status);
    } else if (key == "incomplete_details") {
      ok = read_incomplete_reason(v, incomplete_reason);
    }
    if (!ok) return false;
  }
  if (!incomplete_reason.empty()) {
    f.finish_reason = incomplete_reason;
  } else if (!status.empty() && f.finish_reason.empty()) {
    f.finish_reason = status;
  }
  if (status == "failed") f.is_error = true;
  if (!f.finish_reason.empty()) any = true;
  if (!any) return false;
  facts = std::move(f);
  return true;
}

}  // namespace sluice
