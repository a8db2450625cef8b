#include "mock/request_body.h"

#include <simdjson.h>

#include "mock/json_writer.h"
#include "mock/request_options.h"

namespace sluice::mock {
namespace {

std::uint64_t element_hash(simdjson::dom::element e) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return fnv1a64(s);
  return fnv1a64(simdjson::minify(e));
}

void read_input(simdjson::dom::element input, RequestBody& out) {
  std::string_view s;
  if (input.get_string().get(s) == simdjson::SUCCESS) {
    out.has_input = true;
    out.input_hashes.push_back(fnv1a64(s));
    return;
  }
  simdjson::dom::array arr;
  if (input.get_array().get(arr) != simdjson::SUCCESS || arr.size() == 0) return;
  bool all_numbers = true;
  for (auto item : arr) {
    if (!item.is_number()) all_numbers = false;
  }
  out.has_input = true;
  if (all_numbers) {  // one input given as token ids
    out.input_hashes.push_back(element_hash(input));
    return;
  }
  for (auto item : arr) out.input_hashes.push_back(element_hash(item));
}

}  // namespace

RequestBody parse_request_body(std::string_view body) {
  RequestBody out;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto err = parser.parse(body.data(), body.size(), true).get(doc);
  if (err) {
    out.error = simdjson::error_message(err);
    return out;
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    out.error = "the request body must be a JSON object";
    return out;
  }
  out.ok = true;
  std::string content;
  for (auto field : obj) {
    if (field.key == "stream_options") continue;
    content.append(field.key);
    content += ':';
    content += simdjson::minify(field.value);
    content += ',';
  }
  out.content_hash = fnv1a64(content);
  out.content_bytes = content.size();

  std::string_view model;
  if (obj["model"].get_string().get(model) == simdjson::SUCCESS) {
    out.has_model = true;
    auto split = split_model(model);
    out.model = std::string(split.model);
    out.model_fault = std::string(split.fault);
  }
  bool b = false;
  if (obj["stream"].get_bool().get(b) == simdjson::SUCCESS) out.stream = b;
  if (obj.at_pointer("/stream_options/include_usage").get_bool().get(b) == simdjson::SUCCESS) {
    out.include_usage = b;
  }
  simdjson::dom::array tools;
  if (obj["tools"].get_array().get(tools) == simdjson::SUCCESS && tools.size() > 0) {
    out.has_tools = true;
  }
  for (const char* key : {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
    std::int64_t n = 0;
    if (obj[key].get_int64().get(n) == simdjson::SUCCESS && n >= 0) {
      if (!out.max_tokens || n < *out.max_tokens) out.max_tokens = n;
    }
  }
  std::string_view s;
  if (obj["encoding_format"].get_string().get(s) == simdjson::SUCCESS) {
    out.encoding_format = std::string(s);
  }
  if (obj["instructions"].get_string().get(s) == simdjson::SUCCESS) {
    out.instructions = std::string(s);
  }
  simdjson::dom::element input;
  if (obj["input"].get(input) == simdjson::SUCCESS) read_input(input, out);
  return out;
}

}  // namespace sluice::mock
