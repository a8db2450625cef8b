#include "mock/generation.h"

#include <algorithm>

#include "mock/json_writer.h"

namespace sluice::mock {

std::string Generation::text() const {
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::string Generation::id(std::string_view prefix) const {
  return std::string(prefix) + hex_id(hash, prefix);
}

std::vector<std::string> split_text(std::string_view text, std::size_t piece) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = std::min(text.size(), i + piece);
    // Extend over UTF-8 continuation bytes so no code point is split.
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    out.emplace_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

Generation make_generation(const MockRequest& req, const RequestBody& body,
                           const MockOptions& opt) {
  Generation g;
  g.hash = body.content_hash;
  g.prompt_tokens = opt.prompt_tokens
                        ? *opt.prompt_tokens
                        : std::max<std::int64_t>(1, static_cast<std::int64_t>(body.content_bytes / 4));
  g.cached_tokens = opt.cached_tokens;
  g.cache_write_tokens = opt.cache_write_tokens;
  g.reasoning_tokens = opt.reasoning_tokens;
  if (opt.text) {
    g.tokens = split_text(*opt.text);
  } else {
    g.tokens.reserve(static_cast<std::size_t>(opt.output_tokens));
    for (std::int64_t i = 0; i < opt.output_tokens; ++i) {
      std::string t = "tok";
      append_int(t, i);
      t.push_back(' ');
      g.tokens.push_back(std::move(t));
    }
  }
  if (body.max_tokens && static_cast<std::int64_t>(g.tokens.size()) > *body.max_tokens) {
    g.tokens.resize(static_cast<std::size_t>(*body.max_tokens));
    g.truncated = true;
  }
  return g;
}

}  // namespace sluice::mock
