// The fields of a provider request body that the mock looks at (simdjson DOM; the whole
// document is validated, unknown fields are ignored).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::mock {

struct RequestBody {
  bool ok = false;    // a valid JSON object
  std::string error;  // why not, when !ok
  bool has_model = false;
  std::string model;        // "@fault=" suffix stripped
  std::string model_fault;  // the suffix, if any
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool has_tools = false;      // non-empty "tools" array
  // The smallest of max_tokens / max_completion_tokens / max_output_tokens present.
  std::optional<std::int64_t> max_tokens;
  std::string encoding_format;              // embeddings
  bool has_input = false;                   // embeddings: a usable "input"
  std::vector<std::uint64_t> input_hashes;  // embeddings: one per input item
  std::optional<std::string> instructions;  // responses
  // Hash and size of the request's content, `stream_options` excluded: a proxy may add
  // include_usage upstream, and the answer (ids, prompt tokens) must not change with it.
  std::uint64_t content_hash = 0;
  std::size_t content_bytes = 0;
};

RequestBody parse_request_body(std::string_view body);

}  // namespace sluice::mock
