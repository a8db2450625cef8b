#include "filters/pii/json_text.h"

#include <boost/container/small_vector.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace sluice::pii {
namespace {

// Keys whose string values are structure or opaque tokens, never text a person wrote. Every
// string value of a body is checked, so this is a switch on the length, not a list search.
bool skipped_key(std::string_view k) {
  switch (k.size()) {
    case 2: return k == "id";
    case 4: return k == "role" || k == "type";
    case 5: return k == "model" || k == "voice";
    case 6: return k == "object" || k == "status" || k == "detail" || k == "format";
    case 7: return k == "call_id";
    case 9: return k == "signature";
    case 10: return k == "media_type";
    case 11: return k == "tool_use_id" || k == "stop_reason" || k == "tool_choice";
    case 12: return k == "tool_call_id" || k == "service_tier";
    case 13: return k == "finish_reason";
    case 15: return k == "encoding_format";
    case 16: return k == "reasoning_effort";
    case 17: return k == "encrypted_content";
    case 20: return k == "previous_response_id";
    default: return false;
  }
}

// Inline binary: data: URLs anywhere, and long base64 under "data"/"file_data" (Anthropic image
// and document sources, OpenAI input_audio / files). Plain-text document data has spaces.
bool inline_binary(std::string_view key, std::string_view raw) {
  if (raw.substr(0, 5) == "data:") return true;
  if ((key == "data" || key == "file_data") && raw.size() >= 256) {
    return std::memchr(raw.data(), ' ', 256) == nullptr &&
           std::memchr(raw.data(), '\\', 256) == nullptr;
  }
  return false;
}

// Index of the closing quote of the string whose opening quote is s[open], or npos.
std::size_t string_end(std::string_view s, std::size_t open) {
  std::size_t i = open + 1;
  while (true) {
    const void* q = std::memchr(s.data() + i, '"', s.size() - i);
    if (!q) return std::string_view::npos;
    std::size_t j = static_cast<std::size_t>(static_cast<const char*>(q) - s.data());
    std::size_t bs = 0;
    while (j - bs > open + 1 && s[j - bs - 1] == '\\') ++bs;
    if (bs % 2 == 0) return j;
    i = j + 1;
  }
}

// The bytes the walk stops at outside strings; everything else (numbers, literals,
// whitespace) is stepped over.
constexpr std::array<bool, 256> kStops = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : std::string_view("{}[],:\"")) t[c] = true;
  return t;
}();

int hex4(std::string_view s, std::size_t i) {
  if (i + 4 > s.size()) return -1;
  int v = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    char c = s[k];
    int d = c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

bool for_each_text_string(std::string_view s, const std::function<void(const JsonString&)>& visit) {
  struct Frame {
    bool object;
    std::string_view key;  // object: the current member's key; array: the key holding it
  };
  boost::container::small_vector<Frame, 16> stack;  // deeper bodies spill to the heap
  bool expect_key = false;
  std::size_t i = 0;
  while (true) {
    while (i < s.size() && !kStops[static_cast<unsigned char>(s[i])]) ++i;
    if (i >= s.size()) break;
    const char c = s[i];
    switch (c) {
      case '{':
      case '[': {
        std::string_view k = stack.empty() ? std::string_view() : stack.back().key;
        stack.push_back({c == '{', k});
        expect_key = c == '{';
        ++i;
        break;
      }
      case '}':
      case ']':
        if (stack.empty()) return false;
        stack.pop_back();
        expect_key = false;
        ++i;
        break;
      case ',':
        expect_key = !stack.empty() && stack.back().object;
        ++i;
        break;
      case ':':
        expect_key = false;
        ++i;
        break;
      case '"': {
        std::size_t close = string_end(s, i);
        if (close == std::string_view::npos) return false;
        std::string_view raw = s.substr(i + 1, close - i - 1);
        if (expect_key && !stack.empty() && stack.back().object) {
          stack.back().key = raw;
        } else {
          std::string_view key = stack.empty() ? std::string_view() : stack.back().key;
          if (!skipped_key(key) && !inline_binary(key, raw)) visit({key, i, close + 1, raw});
        }
        i = close + 1;
        break;
      }
    }
  }
  return stack.empty();
}

bool json_unescape(std::string_view raw, std::string& out) {
  out.clear();
  out.reserve(raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    const void* bs = std::memchr(raw.data() + i, '\\', raw.size() - i);
    std::size_t j = bs ? static_cast<const char*>(bs) - raw.data() : raw.size();
    out.append(raw.data() + i, j - i);
    if (j >= raw.size()) break;
    if (j + 1 >= raw.size()) return false;
    char e = raw[j + 1];
    i = j + 2;
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        int v = hex4(raw, i);
        if (v < 0) return false;
        i += 4;
        std::uint32_t cp = static_cast<std::uint32_t>(v);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          int lo = (i + 1 < raw.size() && raw[i] == '\\' && raw[i + 1] == 'u') ? hex4(raw, i + 2) : -1;
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(lo) - 0xDC00);
            i += 6;
          } else {
            cp = 0xFFFD;
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          cp = 0xFFFD;
        }
        append_utf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

namespace {

// True when one of the 8 bytes in `w` is below 0x20, '"' or '\\' (the bytes JSON escapes):
// text is mostly prose, so whole words are skipped.
bool word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t k01 = 0x0101010101010101ull, k80 = 0x8080808080808080ull;
  auto zero_byte = [&](std::uint64_t x) { return (x - k01) & ~x & k80; };
  // A byte below 0x20 (its high bit clear), '"' or '\\'.
  std::uint64_t low = (w - k01 * 0x20) & ~w & k80;
  return (low | zero_byte(w ^ (k01 * '"')) | zero_byte(w ^ (k01 * '\\'))) != 0;
}

}  // namespace

void json_escape_append(std::string& out, std::string_view text) {
  static const char* kHex = "0123456789abcdef";
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    while (i + 8 <= text.size()) {
      std::uint64_t w;
      std::memcpy(&w, text.data() + i, 8);
      if (word_needs_escape(w)) break;
      i += 8;
    }
    if (i >= text.size()) break;
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(text.data() + run, text.size() - run);
}

}  // namespace sluice::pii
