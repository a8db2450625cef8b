#include "sinks/json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {
namespace {

using namespace std::string_literals;

constexpr std::string_view kFffd = "\xEF\xBF\xBD";

// The JSON string literal for `s`, quotes included.
std::string json_quoted(std::string_view s) {
  std::string out;
  JsonWriter::append_quoted(out, s);
  return out;
}

// Body of the quoted output, without the quotes.
std::string escaped(std::string_view s) {
  const std::string q = json_quoted(s);
  return q.substr(1, q.size() - 2);
}

std::string repl(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += kFffd;
  return s;
}

// Parses `json` as a one-string document and returns the decoded value; fails the test if it
// is not valid JSON (simdjson also rejects invalid UTF-8).
std::string parse_string(const std::string& json) {
  simdjson::dom::parser parser;
  std::string_view v;
  auto err = parser.parse(json).get(v);
  EXPECT_EQ(err, simdjson::SUCCESS) << json;
  return std::string(v);
}

TEST(JsonWriter, EmptyContainers) {
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  w.begin_object();
  w.end_object();
  w.begin_array();
  w.end_array();
  w.end_array();
  EXPECT_EQ(out, "[{},[]]");
}

TEST(JsonWriter, CommasAcrossNesting) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.member_int64("a", 1);
  w.key("b");
  w.begin_array();
  w.int64(1);
  w.string("two");
  w.begin_object();
  w.key("c");
  w.null();
  w.end_object();
  w.boolean(false);
  w.end_array();
  w.key("d");
  w.begin_object();
  w.end_object();
  w.member_bool("e", true);
  w.key("f");
  w.raw(R"({"x":[1,2]})");
  w.member("g", "h");
  w.end_object();
  EXPECT_EQ(out,
            R"({"a":1,"b":[1,"two",{"c":null},false],"d":{},"e":true,"f":{"x":[1,2]},"g":"h"})");
}

TEST(JsonWriter, AppendsWithoutClearing) {
  std::string out = "prefix:";
  JsonWriter w(out);
  w.begin_array();
  w.int64(7);
  w.end_array();
  EXPECT_EQ(out, "prefix:[7]");
}

TEST(JsonWriter, Int64Extremes) {
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  w.int64(0);
  w.int64(-1);
  w.int64(std::numeric_limits<std::int64_t>::max());
  w.int64(std::numeric_limits<std::int64_t>::min());
  w.end_array();
  EXPECT_EQ(out, "[0,-1,9223372036854775807,-9223372036854775808]");
}

TEST(JsonWriter, KeysAreEscaped) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.member_int64("a\"b\n", 1);
  w.end_object();
  EXPECT_EQ(out, R"({"a\"b\n":1})");
}

TEST(JsonEscape, QuoteAndBackslash) {
  EXPECT_EQ(escaped(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(escaped(R"(C:\path\)"), R"(C:\\path\\)");
  EXPECT_EQ(escaped("\\\""), R"(\\\")");
}

TEST(JsonEscape, ShortFormControls) { EXPECT_EQ(escaped("\b\f\n\r\t"), R"(\b\f\n\r\t)"); }

TEST(JsonEscape, OtherControlsAsUnicodeEscapes) {
  EXPECT_EQ(escaped("\x01"), R"(\u0001)");
  EXPECT_EQ(escaped("\x1f"), R"(\u001f)");
  EXPECT_EQ(escaped("\x0b"), R"(\u000b)");
  EXPECT_EQ(escaped("a\x1b[31mb"), R"(a\u001b[31mb)");
}

TEST(JsonEscape, EmbeddedNul) {
  EXPECT_EQ(escaped("a\0b"s), R"(a\u0000b)");
  EXPECT_EQ(parse_string(json_quoted("a\0b"s)), "a\0b"s);
}

TEST(JsonEscape, PassThroughDelSlashAndPrintable) {
  EXPECT_EQ(escaped("\x7f"), "\x7f");
  EXPECT_EQ(escaped("a/b</script>"), "a/b</script>");
  EXPECT_EQ(escaped(""), "");
}

TEST(JsonEscape, EveryControlByteRoundTrips) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  all += "\"\\";
  EXPECT_EQ(parse_string(json_quoted(all)), all);
}

TEST(JsonEscape, ValidUtf8PassesThrough) {
  const std::string samples[] = {
      "caf\xC3\xA9",                           // U+00E9, 2 bytes
      "\xC2\x80",                              // U+0080, smallest 2-byte
      "\xE2\x82\xAC",                          // U+20AC, 3 bytes
      "\xE0\xA0\x80",                          // U+0800, smallest 3-byte
      "\xED\x9F\xBF",                          // U+D7FF, just below the surrogates
      "\xEE\x80\x80",                          // U+E000, just above them
      "\xEF\xBF\xBF",                          // U+FFFF
      "\xF0\x9F\x98\x80",                      // U+1F600, 4 bytes
      "\xF0\x90\x80\x80",                      // U+10000, smallest 4-byte
      "\xF4\x8F\xBF\xBF",                      // U+10FFFF, the largest code point
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",  // CJK
      "\xEF\xBB\xBF"
      "bom",  // U+FEFF is an ordinary character here
  };
  for (const auto& s : samples) {
    EXPECT_EQ(escaped(s), s);
    EXPECT_EQ(parse_string(json_quoted(s)), s);
  }
}

TEST(JsonEscape, InvalidUtf8BecomesReplacementCharacter) {
  struct Case {
    std::string in;
    std::string want;
  } cases[] = {
      {"\x80", repl(1)},                // lone continuation byte
      {"a\xBFz", "a" + repl(1) + "z"},  // continuation byte mid-text
      {"\xC0\xAF", repl(2)},            // overlong '/': C0 is never a lead
      {"\xC1\xBF", repl(2)},
      {"\xE0\x80\xAF", repl(3)},      // overlong 3-byte
      {"\xF0\x80\x80\xAF", repl(4)},  // overlong 4-byte
      {"\xED\xA0\x80", repl(3)},      // UTF-16 surrogate U+D800
      {"\xED\xBF\xBF", repl(3)},      // U+DFFF
      {"\xF4\x90\x80\x80", repl(4)},  // U+110000, beyond Unicode
      {"\xF5\x80\x80\x80", repl(4)},  // F5..FF are never valid
      {"\xFF", repl(1)},
      {"\xFE\xFE", repl(2)},
      {"\xE2\x82", repl(1)},                 // truncated at end: one maximal subpart
      {"\xE2\x82z", repl(1) + "z"},          // truncated before ASCII
      {"\xF0\x9F\x98", repl(1)},             // truncated 4-byte
      {"\xF0\x9F\x98\"", repl(1) + "\\\""},  // truncated before a quote, which is escaped
      {"\xC3", repl(1)},
      {"\xC3\xC3\xA9", repl(1) + "\xC3\xA9"},  // bad lead followed by a good sequence
      // Unicode 15 Table 3-8 (maximal subparts): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
      {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
       "a" + repl(3) + "b" + repl(1) + "c" + repl(2) + "d"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(escaped(c.in), c.want) << testing::PrintToString(c.in);
    parse_string(json_quoted(c.in));  // always valid JSON and valid UTF-8
  }
}

TEST(JsonEscape, RandomBytesAlwaysYieldValidJson) {
  std::mt19937_64 rng(12345);
  simdjson::dom::parser parser;
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 40, '\0');
    for (auto& c : s) {
      // Bias towards the interesting bytes: controls, quotes, backslashes, high bytes.
      const auto r = rng();
      c = static_cast<char>(r % 4 == 0 ? "\"\\\n\x01\x7f"[r / 4 % 5] : r / 4 % 256);
    }
    const std::string json = json_quoted(s);
    std::string_view v;
    ASSERT_EQ(parser.parse(json).get(v), simdjson::SUCCESS) << testing::PrintToString(s);
    // Valid input must survive unchanged.
    if (simdjson::validate_utf8(s.data(), s.size())) {
      EXPECT_EQ(v, s);
    }
  }
}

// The buffer writer (used for call events) writes exactly what the string writer appends,
// for every kind of value and random bytes in keys and strings, within max_quoted_size.
template <typename W>
void write_sample(W& w, const std::vector<std::string>& strings) {
  w.begin_object();
  w.member_int64("n", std::numeric_limits<std::int64_t>::min());
  w.key("list");
  w.begin_array();
  for (const auto& s : strings) w.string(s);
  w.int64(std::numeric_limits<std::int64_t>::max());
  w.boolean(true);
  w.boolean(false);
  w.null();
  w.raw(R"({"a":[1,2]})");
  w.begin_object();
  w.end_object();
  w.end_array();
  for (const auto& s : strings) {
    w.key(s);
    w.string(s);
  }
  w.member("k\"ey", "v");
  w.member_bool("b", true);
  w.end_object();
}

TEST(BufferJsonWriter, WritesWhatJsonWriterAppends) {
  std::mt19937_64 rng(777);
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::string> strings(rng() % 6);
    std::size_t bound = 256;
    for (auto& s : strings) {
      s.resize(rng() % 200);
      for (auto& c : s) {
        const auto r = rng();
        c = static_cast<char>(r % 3 == 0 ? "\"\\\n\x01\x7f\xc3\xa9\xff"[r / 3 % 8] : r / 3 % 256);
      }
      bound += 2 * JsonWriter::max_quoted_size(s.size());
    }
    std::string want;
    JsonWriter a(want);
    write_sample(a, strings);
    std::string buf(bound, '\0');
    BufferJsonWriter b(buf.data());
    write_sample(b, strings);
    const auto n = static_cast<std::size_t>(b.end() - buf.data());
    ASSERT_LE(n, bound);
    ASSERT_EQ(std::string_view(buf.data(), n), want) << round;
  }
  // The worst case: every byte escaped as \u00XX.
  const std::string controls(100, '\x01');
  std::string one;
  JsonWriter w(one);
  w.key(controls);
  EXPECT_EQ(one.size(), JsonWriter::max_quoted_size(controls.size()) - 1);  // no comma here
}

TEST(IsJsonObject, AcceptsObjects) {
  EXPECT_TRUE(is_json_object("{}"));
  EXPECT_TRUE(is_json_object(" \n{ } \t"));
  EXPECT_TRUE(is_json_object(R"({"a":1,"b":[true,false,null,-0.5e+10,"x\u00e9\n"],"c":{"d":{}}})"));
  EXPECT_TRUE(is_json_object("{\"caf\xC3\xA9\":\"\xF0\x9F\x98\x80\"}"));
  EXPECT_TRUE(is_json_object(R"({"n":[0,-0,1.0,1E3,1e-3,123456789012345678901234567890]})"));
}

TEST(IsJsonObject, RejectsEverythingElse) {
  const char* bad[] = {
      "",
      "   ",
      "[]",
      "\"s\"",
      "1",
      "null",
      "{",
      "}",
      "{}{}",
      "{} x",
      "{\"a\"}",
      "{\"a\":}",
      "{\"a\":1,}",
      "{,}",
      "{a:1}",
      "{'a':1}",
      "{\"a\":01}",
      "{\"a\":1.}",
      "{\"a\":.5}",
      "{\"a\":-}",
      "{\"a\":1e}",
      "{\"a\":tru}",
      "{\"a\":nul}",
      "{\"a\":[1,]}",
      "{\"a\":[1 2]}",
      "{\"a\":\"\\x\"}",
      "{\"a\":\"\\u12\"}",
      "{\"a\":\"unterminated}",
      "{\"a\":NaN}",
      "{\"a\":+1}",
  };
  for (const char* s : bad) EXPECT_FALSE(is_json_object(s)) << s;
  EXPECT_FALSE(is_json_object("{\"a\":\"tab\there\"}"));  // raw control character in a string
  EXPECT_FALSE(is_json_object("{\"a\":\"\xC0\xAF\"}"));   // invalid UTF-8
  EXPECT_FALSE(is_json_object("{\"a\":\"\xE2\x82\"}"));   // truncated UTF-8
}

TEST(IsJsonObject, DepthIsBounded) {
  std::string deep = "{\"a\":";
  for (int i = 0; i < 100000; ++i) deep += "[";
  EXPECT_FALSE(is_json_object(deep));  // must not overflow the stack

  std::string ok = "{\"a\":[[[1]]]}";
  EXPECT_TRUE(is_json_object(ok, 4));
  EXPECT_FALSE(is_json_object(ok, 3));
}

}  // namespace
}  // namespace sluice
