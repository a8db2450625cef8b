// read_request(): one On-Demand pass that validates every value of the body (On-Demand is
// lazy, so the walker visits everything) and reads the fields of RequestSummary on the way.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "proxy/providers/adapter.h"
#include "proxy/providers/json_parse.h"
#include "proxy/providers/json_spans.h"
#include "proxy/providers/request_schema.h"

namespace sluice {
namespace {

namespace od = simdjson::ondemand;
using S = RequestSlot;

// Deeper bodies are refused: no API shape nests this deep, and the cap bounds recursion.
constexpr int kMaxDepth = 128;
// A token id in an embeddings or completions input counts as this many bytes of text (about
// one token's worth), so that the estimator treats token arrays like text.
constexpr std::int64_t kBytesPerTokenId = 4;

constexpr std::string_view kInvalidJson = "request body is not valid JSON";

class RequestWalker {
 public:
  RequestWalker(ApiKind api, const char* base, std::string_view copy, RequestSummary& s)
      : api_(api), base_(base), copy_(copy), s_(s) {
    // One key list per depth, reused across calls; sized once so references stay valid.
    thread_local std::vector<std::vector<std::string_view>> stack(kMaxDepth + 2);
    keys_ = &stack;
  }

  bool walk_root(od::document& doc) {
    od::json_type t;
    if (doc.type().get(t)) return fail(kInvalidJson);
    if (t != od::json_type::object) return fail("request body must be a JSON object");
    od::object obj;
    if (doc.get_object().get(obj)) return fail(kInvalidJson);
    if (!walk_object(obj, S::kRoot, 1)) return false;
    if (!at_document_end(doc)) return fail("request body has data after the JSON object");
    finish();
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(std::string_view message) {
    if (error_.empty()) error_ = message;
    return false;
  }

  bool walk(od::value v, S slot, int depth) {
    od::json_type t;
    if (v.type().get(t)) return fail(kInvalidJson);
    if (!type_ok(slot, t)) return fail(type_error(slot));
    switch (t) {
      case od::json_type::object:
        return walk_object_value(v, slot, depth);
      case od::json_type::array:
        return walk_array_value(v, slot, depth);
      case od::json_type::string:
        return on_string(v, slot);
      case od::json_type::number:
        return on_number(v, slot);
      case od::json_type::boolean:
      case od::json_type::null:
        return on_literal(v, slot);
    }
    return fail(kInvalidJson);
  }

  bool walk_object_value(od::value v, S slot, int depth) {
    if (depth >= kMaxDepth) return fail("request body nests too deeply");
    const std::size_t raw_begin = slot == S::kRawSize ? raw_offset(v) : 0;
    if (counts_as_part(slot)) ++s_.prompt_parts;
    od::object obj;
    if (v.get_object().get(obj)) return fail(kInvalidJson);
    if (!walk_object(obj, slot == S::kRawSize ? S::kAny : slot, depth + 1)) return false;
    if (slot == S::kRawSize) count_raw(raw_begin);
    return true;
  }

  bool walk_array_value(od::value v, S slot, int depth) {
    if (depth >= kMaxDepth) return fail("request body nests too deeply");
    const std::size_t raw_begin = slot == S::kRawSize ? raw_offset(v) : 0;
    if (slot == S::kEmbItem) ++s_.prompt_parts;  // one input given as token ids
    od::array arr;
    if (v.get_array().get(arr)) return fail(kInvalidJson);
    const S elem = slot == S::kRawSize ? S::kAny : element_slot(slot);
    for (auto r : arr) {
      od::value el;
      if (std::move(r).get(el)) return fail(kInvalidJson);
      if (!walk(el, elem, depth + 1)) return false;
    }
    if (slot == S::kRawSize) count_raw(raw_begin);
    return true;
  }

  bool walk_object(od::object obj, S slot, int depth) {
    std::vector<std::string_view>& keys = (*keys_)[depth];
    keys.clear();
    for (auto r : obj) {
      od::field f;
      if (std::move(r).get(f)) return fail(kInvalidJson);
      std::string_view key;
      if (!read_key(f, key)) return false;
      keys.push_back(key);
      if (!walk(f.value(), member_slot(api_, slot, key), depth)) return false;
    }
    return check_duplicates(keys);
  }

  // Raw key bytes when the key has no escape; otherwise the decoded key, which must not name
  // a field Sluice reads ("str\u0065am" would be read as "stream" by the provider).
  bool read_key(od::field& f, std::string_view& key) {
    const char* raw = f.key().raw();
    const char* p = raw;
    while (*p != '"' && *p != '\\') ++p;  // stage 1 guarantees a closing quote
    if (*p == '"') {
      key = std::string_view(raw, static_cast<std::size_t>(p - raw));
      return true;
    }
    if (f.unescaped_key().get(key)) return fail(kInvalidJson);
    if (is_read_key(key)) return fail("request body has an escaped spelling of a key Sluice reads");
    return true;
  }

  bool check_duplicates(std::vector<std::string_view>& keys) {
    bool dup = false;
    std::string_view which;
    if (keys.size() <= 16) {
      for (std::size_t i = 1; i < keys.size() && !dup; ++i) {
        for (std::size_t j = 0; j < i; ++j) {
          if (keys[i] == keys[j]) {
            dup = true;
            which = keys[i];
            break;
          }
        }
      }
    } else {
      std::sort(keys.begin(), keys.end());
      auto it = std::adjacent_find(keys.begin(), keys.end());
      if (it != keys.end()) {
        dup = true;
        which = *it;
      }
    }
    if (!dup) return true;
    // Name the key only when it is one of ours: other key names come from the client.
    if (is_read_key(which)) {
      return fail("request body has a duplicate \"" + std::string(which) + "\" key");
    }
    return fail("request body has a duplicate key");
  }

  bool on_string(od::value v, S slot) {
    std::string_view sv;
    if (v.get_string().get(sv)) return fail(kInvalidJson);
    if (slot == S::kModel) {
      s_.model.assign(sv);
      return true;
    }
    if (counts_strings(slot)) {
      s_.prompt_text_bytes += static_cast<std::int64_t>(sv.size());
      if (slot == S::kRespInput || slot == S::kEmbInput) s_.prompt_parts = 1;
      if (slot == S::kEmbItem) ++s_.prompt_parts;
    } else if (slot == S::kRawSize) {
      s_.prompt_text_bytes += static_cast<std::int64_t>(trim_token(v.raw_json_token()).size());
    }
    return true;
  }

  bool on_number(od::value v, S slot) {
    const std::string_view tok = trim_token(v.raw_json_token());
    if (!json_spans::is_json_number(tok)) return fail(kInvalidJson);
    switch (slot) {
      case S::kMaxTokens:
        return read_count(v, max_tokens_, 0, "max_tokens");
      case S::kMaxCompletionTokens:
        return read_count(v, max_completion_tokens_, 0, "max_completion_tokens");
      case S::kMaxOutputTokens:
        return read_count(v, max_output_tokens_, 0, "max_output_tokens");
      case S::kN:
        return read_count(v, s_.n, 1, "n");
      case S::kEmbItem:
        flat_token_ids_ = true;
        s_.prompt_text_bytes += kBytesPerTokenId;
        return true;
      case S::kTokenIds:
        s_.prompt_text_bytes += kBytesPerTokenId;
        return true;
      case S::kRawSize:
        s_.prompt_text_bytes += static_cast<std::int64_t>(tok.size());
        return true;
      default:
        return true;
    }
  }

  bool on_literal(od::value v, S slot) {
    const std::string_view tok = trim_token(v.raw_json_token());
    const bool is_null = tok == "null";
    if (!is_null && tok != "true" && tok != "false") return fail(kInvalidJson);
    if (is_null) return true;  // null reads as "absent" for every optional field
    if (slot == S::kStream) {
      s_.stream = tok == "true";
      return true;
    }
    if (slot == S::kIncludeUsage) {
      s_.stream_usage_requested = tok == "true";
      return true;
    }
    if (slot == S::kRawSize) s_.prompt_text_bytes += static_cast<std::int64_t>(tok.size());
    return true;
  }

  bool read_count(od::value v, std::int64_t& out, std::int64_t min, std::string_view name) {
    std::int64_t x = 0;
    if (v.get_int64().get(x) || x < min) {
      return fail("\"" + std::string(name) + "\" must be an integer >= " + std::to_string(min));
    }
    out = x;
    return true;
  }

  // Slots with a fixed type; every other slot takes any type (text containers are lenient:
  // the provider judges their shape, Sluice only counts the text it finds).
  static bool type_ok(S slot, od::json_type t) {
    const bool null = t == od::json_type::null;
    switch (slot) {
      case S::kModel:
        return t == od::json_type::string;
      case S::kStream:
      case S::kIncludeUsage:
        return null || t == od::json_type::boolean;
      case S::kMaxTokens:
      case S::kMaxCompletionTokens:
      case S::kMaxOutputTokens:
      case S::kN:
        return null || t == od::json_type::number;
      case S::kStreamOptions:
        return null || t == od::json_type::object;
      default:
        return true;
    }
  }

  static std::string_view type_error(S slot) {
    switch (slot) {
      case S::kModel:
        return "\"model\" must be a string";
      case S::kStream:
        return "\"stream\" must be a boolean";
      case S::kIncludeUsage:
        return "\"stream_options.include_usage\" must be a boolean";
      case S::kMaxTokens:
        return "\"max_tokens\" must be an integer";
      case S::kMaxCompletionTokens:
        return "\"max_completion_tokens\" must be an integer";
      case S::kMaxOutputTokens:
        return "\"max_output_tokens\" must be an integer";
      case S::kN:
        return "\"n\" must be an integer";
      case S::kStreamOptions:
        return "\"stream_options\" must be an object";
      default:
        return kInvalidJson;
    }
  }

  std::size_t raw_offset(od::value& v) { return offset_in(base_, v.raw_json_token()); }

  void count_raw(std::size_t begin) {
    const std::size_t end = json_spans::skip_value(copy_, begin);
    if (end != json_spans::npos) s_.prompt_text_bytes += static_cast<std::int64_t>(end - begin);
  }

  void finish() {
    if (flat_token_ids_ && s_.prompt_parts == 0) s_.prompt_parts = 1;
    switch (api_) {
      case ApiKind::kChatCompletions:
      case ApiKind::kPassthrough:
        // max_completion_tokens supersedes the deprecated max_tokens when both are given.
        s_.max_output_tokens = max_completion_tokens_ >= 0 ? max_completion_tokens_ : max_tokens_;
        break;
      case ApiKind::kResponses:
        s_.max_output_tokens = max_output_tokens_;
        break;
      case ApiKind::kMessages:
        s_.max_output_tokens = max_tokens_;
        break;
      case ApiKind::kEmbeddings:
        break;
    }
  }

  ApiKind api_;
  const char* base_;
  std::string_view copy_;  // the padded copy's text, for raw spans
  RequestSummary& s_;
  std::vector<std::vector<std::string_view>>* keys_;
  std::string error_;
  std::int64_t max_tokens_ = -1;
  std::int64_t max_completion_tokens_ = -1;
  std::int64_t max_output_tokens_ = -1;
  bool flat_token_ids_ = false;
};

}  // namespace

RequestReadResult read_request(ApiKind api, std::string_view body) {
  RequestReadResult r;
  od::document doc;
  const char* base = nullptr;
  if (auto err = parse_on_this_thread(body, doc, base)) {
    r.error =
        err == simdjson::UTF8_ERROR ? "request body is not valid UTF-8" : std::string(kInvalidJson);
    return r;
  }
  RequestWalker walker(api, base, std::string_view(base, body.size()), r.summary);
  if (!walker.walk_root(doc)) {
    r.error = walker.error();
    r.summary = RequestSummary{};
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace sluice
