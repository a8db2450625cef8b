#include "proxy/providers/usage_fields.h"

#include <algorithm>
#include <utility>

namespace sluice {
namespace od = simdjson::ondemand;

bool read_token_count(od::value v, std::int64_t& out) {
  od::json_type t;
  if (v.type().get(t)) return false;
  if (t == od::json_type::null) return true;
  if (t != od::json_type::number) return false;
  std::int64_t i = 0;
  if (!v.get_int64().get(i)) {
    out = std::max<std::int64_t>(i, 0);
    return true;
  }
  double d = 0;
  if (v.get_double().get(d) || !(d >= 0) || d > 9e15) return false;
  out = static_cast<std::int64_t>(d);
  return true;
}

namespace {

// Reads `name` out of a *_details object.
bool read_detail(od::value v, std::string_view name, std::int64_t& out) {
  od::json_type t;
  if (v.type().get(t)) return false;
  if (t != od::json_type::object) return t == od::json_type::null;
  od::object o;
  if (v.get_object().get(o)) return false;
  for (auto r : o) {
    od::field f;
    if (std::move(r).get(f)) return false;
    if (f.key() == name && !read_token_count(f.value(), out)) return false;
  }
  return true;
}

}  // namespace

bool read_openai_usage(od::object usage, TokenUsage& out) {
  std::int64_t input = -1, output = -1, cached = -1, reasoning = -1;
  for (auto r : usage) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    bool ok = true;
    if (key == "prompt_tokens" || key == "input_tokens") {
      ok = read_token_count(f.value(), input);
    } else if (key == "completion_tokens" || key == "output_tokens") {
      ok = read_token_count(f.value(), output);
    } else if (key == "prompt_tokens_details" || key == "input_tokens_details") {
      ok = read_detail(f.value(), "cached_tokens", cached);
    } else if (key == "completion_tokens_details" || key == "output_tokens_details") {
      ok = read_detail(f.value(), "reasoning_tokens", reasoning);
    }
    if (!ok) return false;
  }
  // Assignment, not accumulation: a stream may repeat usage (cumulative stats per chunk).
  out = TokenUsage{};
  out.input_tokens = std::max<std::int64_t>(input, 0);
  out.output_tokens = std::max<std::int64_t>(output, 0);
  out.cached_input_tokens = std::max<std::int64_t>(cached, 0);
  out.reasoning_tokens = std::max<std::int64_t>(reasoning, 0);
  out.source = TokenUsage::Source::kProvider;
  return true;
}

void AnthropicUsageCounts::merge(const AnthropicUsageCounts& later) {
  if (later.input >= 0) input = later.input;
  if (later.cache_creation >= 0) cache_creation = later.cache_creation;
  if (later.cache_read >= 0) cache_read = later.cache_read;
  if (later.output >= 0) output = later.output;
}

TokenUsage AnthropicUsageCounts::normalized() const {
  const auto n = [](std::int64_t x) { return std::max<std::int64_t>(x, 0); };
  TokenUsage u;
  u.input_tokens = n(input) + n(cache_creation) + n(cache_read);
  u.cached_input_tokens = n(cache_read);
  u.cache_write_tokens = n(cache_creation);
  u.output_tokens = n(output);
  u.source = TokenUsage::Source::kProvider;
  return u;
}

bool read_anthropic_usage(od::object usage, AnthropicUsageCounts& out) {
  for (auto r : usage) {
    od::field f;
    if (std::move(r).get(f)) return false;
    const auto key = f.key();
    bool ok = true;
    if (key == "input_tokens") {
      ok = read_token_count(f.value(), out.input);
    } else if (key == "cache_creation_input_tokens") {
      ok = read_token_count(f.value(), out.cache_creation);
    } else if (key == "cache_read_input_tokens") {
      ok = read_token_count(f.value(), out.cache_read);
    } else if (key == "output_tokens") {
      ok = read_token_count(f.value(), out.output);
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace sluice
