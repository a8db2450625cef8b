// json_spans (byte spans in validated JSON) and json_escape (string encoding).
#include <gtest/gtest.h>

#include "proxy/providers/json_escape.h"
#include "proxy/providers/json_spans.h"

namespace sluice {
namespace {

namespace js = json_spans;

TEST(JsonSpans, SkipValueHandlesEscapesAndNesting) {
  const std::string_view s = R"({"a":"x\"}","b":[1,{"c":"]"}],"d":-1.5e3, "e":null})";
  EXPECT_EQ(js::skip_value(s, 0), s.size());
  EXPECT_EQ(js::skip_value(s, 5), 11u);  // "x\"}"
  EXPECT_EQ(js::skip_value(R"("abc\\")", 0), 7u);
  EXPECT_EQ(js::skip_value("123,", 0), 3u);
  EXPECT_EQ(js::skip_value("[1,2", 0), js::npos);
  EXPECT_EQ(js::skip_value("\"abc", 0), js::npos);
  EXPECT_EQ(js::skip_value("", 0), js::npos);
}

TEST(JsonSpans, FindMemberGivesNeighbours) {
  const std::string_view s = R"({"a":1, "usage":null ,"b":{"x":2}})";
  const js::MemberLookup m = js::find_member(s, 0, "usage");
  ASSERT_TRUE(m.ok);
  ASSERT_TRUE(m.found);
  EXPECT_EQ(s.substr(m.member.value_begin, m.member.value_end - m.member.value_begin), "null");
  EXPECT_EQ(m.member.raw_key, "usage");
  EXPECT_EQ(m.prev_value_end, 6u);
  EXPECT_EQ(s.substr(m.next_key_begin, 3), "\"b\"");
  EXPECT_EQ(s[m.close], '}');
  EXPECT_EQ(m.close, s.size() - 1);
}

std::string erase(std::string_view s, std::string_view key) {
  const js::MemberLookup m = js::find_member(s, 0, key);
  EXPECT_TRUE(m.ok && m.found);
  const auto [b, e] = js::member_erase_range(m);
  std::string out(s.substr(0, b));
  out += s.substr(e);
  return out;
}

TEST(JsonSpans, EraseMemberAnyPosition) {
  EXPECT_EQ(erase(R"({"a":1,"usage":null})", "usage"), R"({"a":1})");
  EXPECT_EQ(erase(R"({"usage":null,"a":1})", "usage"), R"({"a":1})");
  EXPECT_EQ(erase(R"({"a":1,"usage":{"p":[1]},"b":2})", "usage"), R"({"a":1,"b":2})");
  EXPECT_EQ(erase(R"({"usage":null})", "usage"), R"({})");
  EXPECT_EQ(erase("{ \"a\" : 1 ,\n \"usage\" : null }", "usage"), "{ \"a\" : 1 }");
}

std::string erase_at(std::string_view s, std::string_view member) {
  const std::size_t k = s.find(member);
  const auto [b, e] = js::member_erase_range_at(s, k, k + member.size());
  if (b == js::npos) return "npos";
  std::string out(s.substr(0, b));
  out += s.substr(e);
  return out;
}

TEST(JsonSpans, EraseMemberAtKnownSpan) {
  EXPECT_EQ(erase_at(R"({"a":1,"usage":null})", R"("usage":null)"), R"({"a":1})");
  EXPECT_EQ(erase_at(R"({"usage":null, "a":1})", R"("usage":null)"), R"({"a":1})");
  EXPECT_EQ(erase_at(R"({ "usage":{"x":[1]} })", R"("usage":{"x":[1]})"), R"({  })");
  EXPECT_EQ(erase_at("{\"a\":1 ,\n \"usage\" : null }", "\"usage\" : null"), "{\"a\":1 }");
  EXPECT_EQ(erase_at(R"(["usage",1])", R"("usage")"), "npos");
}

TEST(JsonSpans, MissingMemberAndEmptyObject) {
  js::MemberLookup m = js::find_member(R"({"a":1,"b":"usage"})", 0, "usage");
  EXPECT_TRUE(m.ok);
  EXPECT_FALSE(m.found);
  EXPECT_EQ(m.last_value_end, 18u);
  m = js::find_member("{ }", 0, "usage");
  EXPECT_TRUE(m.ok);
  EXPECT_EQ(m.last_value_end, js::npos);
  EXPECT_EQ(m.close, 2u);
  EXPECT_FALSE(js::find_member("[1]", 0, "a").ok);
  EXPECT_FALSE(js::find_member(R"({"a":1)", 0, "a").ok);
}

TEST(JsonSpans, NumberGrammar) {
  for (std::string_view ok : {"0", "-0", "12", "1.5", "-1.5e10", "1E+2", "0.0e-0"}) {
    EXPECT_TRUE(js::is_json_number(ok)) << ok;
  }
  for (std::string_view bad :
       {"", "-", "01", "1.", ".5", "1e", "+1", "1e+", "0x10", "1.5.2", "NaN", "Infinity", "1 "}) {
    EXPECT_FALSE(js::is_json_number(bad)) << bad;
  }
}

TEST(JsonEscape, EscapesWhatJsonRequires) {
  std::string out;
  append_json_string(out, "a\"b\\c\n\r\t\b\f\x01\x1f/");
  EXPECT_EQ(out, R"("a\"b\\c\n\r\t\b\f\u0001\u001f/")");
}

TEST(JsonEscape, KeepsUtf8AndReplacesInvalidBytes) {
  std::string out;
  append_json_string(out, "h\xC3\xA9 \xF0\x9F\x98\x80");  // é, 😀
  EXPECT_EQ(out, "\"h\xC3\xA9 \xF0\x9F\x98\x80\"");
  out.clear();
  append_json_string(out, "a\xC3");  // cut in the middle of a character
  EXPECT_EQ(out, "\"a\xEF\xBF\xBD\"");
  out.clear();
  append_json_string(out, "\xED\xA0\x80x");  // encoded surrogate
  EXPECT_EQ(out, "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx\"");
}

TEST(JsonEscape, Int) {
  std::string out;
  append_json_int(out, -42);
  append_json_int(out, 9007199254740993LL);
  EXPECT_EQ(out, "-429007199254740993");
}

}  // namespace
}  // namespace sluice
