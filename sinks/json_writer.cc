#include "sinks/json_writer.h"

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace sluice {
namespace {

// Byte classes for the escaping loop: most bytes are plain and copied in runs.
enum : unsigned char { kPlain = 0, kEscape = 1, kNonAscii = 2 };

constexpr std::array<unsigned char, 256> make_classes() {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = kEscape;
  t['"'] = kEscape;
  t['\\'] = kEscape;
  for (int c = 0x80; c < 0x100; ++c) t[c] = kNonAscii;
  return t;
}
constexpr std::array<unsigned char, 256> kClass = make_classes();

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the UTF-8 sequence starting at p (p < end, *p >= 0x80). A positive result is a
// well-formed sequence of that many bytes; a negative one is the length of the maximal
// ill-formed subpart to replace with a single U+FFFD. Ranges are Unicode Table 3-7.
int utf8_sequence(const unsigned char* p, const unsigned char* end) {
  const unsigned char b0 = p[0];
  int len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    return -1;  // continuation byte, C0/C1 or F5..FF: never valid as a lead
  }
  const std::ptrdiff_t avail = end - p;
  if (avail < 2 || p[1] < lo || p[1] > hi) return -1;
  for (int i = 2; i < len; ++i) {
    if (i >= avail || p[i] < 0x80 || p[i] > 0xBF) return -i;
  }
  return len;
}

// True when none of the 8 bytes at p needs attention (below 0x20, '"', '\\' or >= 0x80):
// most of an event is such runs, so they are skipped a word at a time.
inline bool plain8(const unsigned char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  constexpr std::uint64_t k01 = 0x0101010101010101ULL, k80 = 0x8080808080808080ULL;
  const std::uint64_t q = w ^ (k01 * '"');
  const std::uint64_t b = w ^ (k01 * '\\');
  const std::uint64_t special = (w & k80) |                      // >= 0x80
                                ((w - k01 * 0x20) & ~w & k80) |  // < 0x20 (given no byte >= 0x80)
                                ((q - k01) & ~q & k80) |         // '"'
                                ((b - k01) & ~b & k80);          // '\\'
  return special == 0;
}

template <typename Out>
void append_escaped_body(Out& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  const auto* run = p;
  while (p < end) {
    while (end - p >= 8 && plain8(p)) p += 8;
    if (p == end) break;
    const unsigned char cls = kClass[*p];
    if (cls == kPlain) {
      ++p;
      continue;
    }
    if (cls == kNonAscii) {
      const int n = utf8_sequence(p, end);
      if (n > 0) {
        p += n;  // well-formed: stays part of the copied run
        continue;
      }
      out.write(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
      out.write(kReplacement.data(), kReplacement.size());
      p += -n;
      run = p;
      continue;
    }
    out.write(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    const unsigned char c = *p++;
    run = p;
    switch (c) {
      case '"':
        out.write("\\\"", 2);
        break;
      case '\\':
        out.write("\\\\", 2);
        break;
      case '\b':
        out.write("\\b", 2);
        break;
      case '\f':
        out.write("\\f", 2);
        break;
      case '\n':
        out.write("\\n", 2);
        break;
      case '\r':
        out.write("\\r", 2);
        break;
      case '\t':
        out.write("\\t", 2);
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.write(esc, 6);
      }
    }
  }
  out.write(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
}

// Recursive-descent validator for is_json_object(). Depth is bounded so that hostile input
// cannot exhaust the stack.
class JsonChecker {
 public:
  JsonChecker(std::string_view s, int max_depth)
      : p_(reinterpret_cast<const unsigned char*>(s.data())),
        end_(p_ + s.size()),
        depth_left_(max_depth) {}

  bool check_object_document() {
    skip_ws();
    if (p_ == end_ || *p_ != '{') return false;
    if (!value()) return false;
    skip_ws();
    return p_ == end_;
  }

 private:
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size()) return false;
    if (std::string_view(reinterpret_cast<const char*>(p_), word.size()) != word) return false;
    p_ += word.size();
    return true;
  }
  bool digits() {
    const auto* start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != start;
  }
  bool number() {
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else if (!digits()) {
      return false;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return false;
    }
    return true;
  }
  static bool is_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  bool string() {
    ++p_;  // opening quote
    while (p_ < end_) {
      const unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++p_ == end_) return false;
        switch (*p_) {
          case '"':
          case '\\':
          case '/':
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
            ++p_;
            break;
          case 'u':
            if (end_ - p_ < 5) return false;
            for (int i = 1; i <= 4; ++i)
              if (!is_hex(p_[i])) return false;
            p_ += 5;
            break;
          default:
            return false;
        }
      } else if (c >= 0x80) {
        const int n = utf8_sequence(p_, end_);
        if (n < 0) return false;
        p_ += n;
      } else {
        ++p_;
      }
    }
    return false;
  }
  bool container(unsigned char close, bool is_object) {
    if (--depth_left_ < 0) return false;
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      ++depth_left_;
      return true;
    }
    for (;;) {
      if (is_object) {
        if (p_ == end_ || *p_ != '"' || !string()) return false;
        skip_ws();
        if (p_ == end_ || *p_ != ':') return false;
        ++p_;
      }
      if (!value()) return false;
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        skip_ws();
        continue;
      }
      if (*p_ != close) return false;
      ++p_;
      ++depth_left_;
      return true;
    }
  }
  bool value() {
    skip_ws();
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return container('}', true);
      case '[':
        return container(']', false);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  const unsigned char* p_;
  const unsigned char* const end_;
  int depth_left_;
};

}  // namespace

namespace {
// Short strings without anything to escape (keys, ids, names: nearly every string of an
// event) are assembled on the stack and appended with one call.
constexpr std::size_t kShort = 96;

bool all_plain(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (end - p >= 8) {
    if (!plain8(p)) return false;
    p += 8;
  }
  for (; p < end; ++p)
    if (kClass[*p] != kPlain) return false;
  return true;
}

// Appends [prefix] "s" [suffix]; prefix and suffix are 0 for none.
template <typename Out>
void append_quoted_with(Out& out, char prefix, std::string_view s, char suffix) {
  if constexpr (std::is_same_v<Out, json_out::ToBuffer>) {
    // Room is there: one pass, plain runs copied straight from `s`.
    if (prefix != 0) out.put(prefix);
    out.put('"');
    append_escaped_body(out, s);
    out.put('"');
    if (suffix != 0) out.put(suffix);
    return;
  }
  if (s.size() <= kShort && all_plain(s)) {
    char tmp[kShort + 4];
    std::size_t n = 0;
    if (prefix != 0) tmp[n++] = prefix;
    tmp[n++] = '"';
    std::memcpy(tmp + n, s.data(), s.size());
    n += s.size();
    tmp[n++] = '"';
    if (suffix != 0) tmp[n++] = suffix;
    out.write(tmp, n);
    return;
  }
  if (prefix != 0) out.put(prefix);
  out.put('"');
  append_escaped_body(out, s);
  out.put('"');
  if (suffix != 0) out.put(suffix);
}
}  // namespace

template <typename Out>
void BasicJsonWriter<Out>::append_quoted(std::string& out, std::string_view s) {
  json_out::ToString to{out};
  append_quoted_with(to, 0, s, 0);
}

template <typename Out>
void BasicJsonWriter<Out>::key(std::string_view k) {
  append_quoted_with(out_, need_comma_ ? ',' : 0, k, ':');
  need_comma_ = false;
}

template <typename Out>
void BasicJsonWriter<Out>::string(std::string_view s) {
  append_quoted_with(out_, need_comma_ ? ',' : 0, s, 0);
  need_comma_ = true;
}

template <typename Out>
void BasicJsonWriter<Out>::int64(std::int64_t v) {
  if constexpr (std::is_same_v<Out, json_out::ToBuffer>) {
    if (need_comma_) out_.put(',');
    out_.p = std::to_chars(out_.p, out_.p + 20, v).ptr;  // 20: INT64_MIN's length
    need_comma_ = true;
    return;
  }
  char buf[25];
  char* p = buf;
  if (need_comma_) *p++ = ',';
  const auto res = std::to_chars(p, buf + sizeof buf, v);
  out_.write(buf, static_cast<std::size_t>(res.ptr - buf));
  need_comma_ = true;
}

template <typename Out>
void BasicJsonWriter<Out>::boolean(bool v) {
  comma();
  if (v) {
    out_.write("true", 4);
  } else {
    out_.write("false", 5);
  }
  need_comma_ = true;
}

template <typename Out>
void BasicJsonWriter<Out>::null() {
  comma();
  out_.write("null", 4);
  need_comma_ = true;
}

template <typename Out>
void BasicJsonWriter<Out>::raw(std::string_view json) {
  comma();
  out_.write(json.data(), json.size());
  need_comma_ = true;
}

template class BasicJsonWriter<json_out::ToString>;
template class BasicJsonWriter<json_out::ToBuffer>;

bool is_json_object(std::string_view text, int max_depth) {
  return JsonChecker(text, max_depth).check_object_document();
}

}  // namespace sluice
