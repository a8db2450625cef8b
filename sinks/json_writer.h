// JsonWriter: appends compact JSON text (RFC 8259) to a caller-owned std::string.
//
// Contract
//  * The writer only appends to `out`; it never allocates anything else. Reserve `out` ahead of
//    time to avoid regrowth on hot paths.
//  * Commas are inserted automatically. The caller is responsible for nesting: inside an object,
//    each value is preceded by key(); inside an array, values follow each other; every begin_*
//    has a matching end_*. Misuse yields malformed JSON, not a crash (no runtime checks).
//  * string() and key() always produce valid JSON strings, whatever the input bytes:
//      - '"' and '\\' are escaped; \b \f \n \r \t use their short forms; other bytes below 0x20
//        become \u00XX (lowercase hex). DEL (0x7f) and '/' pass through.
//      - Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF) passes
//        through unchanged, 4-byte sequences included.
//      - Each maximal ill-formed subsequence (Unicode 15, §3.9 "U+FFFD substitution of maximal
//        subparts", the same policy as the WHATWG decoder) is replaced by one U+FFFD, so the
//        output is always valid UTF-8.
//  * raw() appends its argument verbatim as one value: the caller guarantees it is valid JSON.
//    is_json_object() is there to check untrusted fragments first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace sluice {

// Where a writer's bytes go: appended to a std::string, or written at a cursor in a buffer
// that the caller sized for the worst case (no bounds checks: see BufferJsonWriter).
namespace json_out {
struct ToString {
  std::string& s;
  void put(char c) { s.push_back(c); }
  void write(const char* p, std::size_t n) { s.append(p, n); }
};
struct ToBuffer {
  char* p;
  void put(char c) { *p++ = c; }
  void write(const char* q, std::size_t n) {
    std::memcpy(p, q, n);
    p += n;
  }
};
}  // namespace json_out

template <typename Out>
class BasicJsonWriter {
 public:
  explicit BasicJsonWriter(std::string& out)
    requires std::is_same_v<Out, json_out::ToString>
      : out_{out} {}
  explicit BasicJsonWriter(char* out)
    requires std::is_same_v<Out, json_out::ToBuffer>
      : out_{out} {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }

  // Writes "k": (with a leading comma when needed). Must be followed by exactly one value.
  void key(std::string_view k);
  // A string literal key: when its characters need no escaping (plain ASCII, no quote,
  // backslash or control character; a check the compiler folds for a literal), it is copied
  // as is, in one write (into a buffer: a copy of known length, inlined).
  template <std::size_t N>
  void key(const char (&k)[N]) {
    static_assert(N >= 1);
    if (!plain_literal(k, N - 1)) {
      key(std::string_view(k, N - 1));
      return;
    }
    char buf[N + 3];
    buf[0] = ',';
    buf[1] = '"';
    for (std::size_t i = 0; i + 1 < N; ++i) buf[i + 2] = k[i];
    buf[N + 1] = '"';
    buf[N + 2] = ':';
    if (need_comma_) {
      out_.write(buf, N + 3);
    } else {
      out_.write(buf + 1, N + 2);
    }
    need_comma_ = false;
  }

  void string(std::string_view s);
  void int64(std::int64_t v);
  void boolean(bool v);
  void null();
  // Appends a JSON value given as text, unchanged. It must be valid JSON (see is_json_object).
  void raw(std::string_view json);

  // Convenience: key(k) followed by the value (K: a string literal or a string_view).
  template <typename K>
  void member(const K& k, std::string_view v) {
    key(k);
    string(v);
  }
  template <typename K>
  void member_int64(const K& k, std::int64_t v) {
    key(k);
    int64(v);
  }
  template <typename K>
  void member_bool(const K& k, bool v) {
    key(k);
    boolean(v);
  }

  // Appends `s` as a quoted, escaped JSON string (the same rules as string()).
  static void append_quoted(std::string& out, std::string_view s);

  // The most bytes string(s) or key(s) can write for an s of n bytes: each byte escaped as
  // \u00XX, two quotes, a comma and a colon.
  static constexpr std::size_t max_quoted_size(std::size_t n) { return 6 * n + 4; }

 protected:
  Out out_;

 private:
  static constexpr bool plain_literal(const char* k, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(k[i]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
    }
    return true;
  }
  void comma() {
    if (need_comma_) out_.put(',');
  }
  void open(char c) {
    comma();
    out_.put(c);
    need_comma_ = false;
  }
  void close(char c) {
    out_.put(c);
    need_comma_ = true;
  }

  // A single flag suffices: after a value or a closing bracket the next item needs a comma;
  // after an opening bracket or a key it does not.
  bool need_comma_ = false;
};

// Appends to a std::string (the contract at the top of this file).
using JsonWriter = BasicJsonWriter<json_out::ToString>;

// Writes into a buffer the caller has sized for everything it will write (max_quoted_size()
// per string or key, the literal keys' and numbers' lengths, raw values' sizes): for hot paths
// (the call event), where std::string's per-append calls were most of the cost. end() is one
// past the last byte written.
class BufferJsonWriter : public BasicJsonWriter<json_out::ToBuffer> {
 public:
  using BasicJsonWriter::BasicJsonWriter;
  char* end() const { return out_.p; }
};

// True when `text` is exactly one JSON object (RFC 8259), optionally surrounded by whitespace,
// with strings that are valid UTF-8 and nesting no deeper than `max_depth`. Linear time, no
// allocation. Meant for fragments handed over by other components before raw() embeds them.
bool is_json_object(std::string_view text, int max_depth = 64);

}  // namespace sluice
