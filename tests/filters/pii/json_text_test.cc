// for_each_text_string: which string values of a body are text, with their spans.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "filters/pii/json_text.h"

namespace sluice::pii {
namespace {

std::vector<std::string> visited(std::string_view json, bool* ok = nullptr) {
  std::vector<std::string> out;
  bool walked = for_each_text_string(json, [&](const JsonString& s) {
    EXPECT_EQ(json.substr(s.begin, s.end - s.begin), "\"" + std::string(s.raw) + "\"");
    out.push_back(std::string(s.key) + "=" + std::string(s.raw));
  });
  if (ok) *ok = walked;
  return out;
}

TEST(JsonText, StructureKeysAreSkippedAndTextIsVisited) {
  const char* skipped[] = {"model", "role", "type", "id", "tool_call_id", "call_id",
                           "tool_use_id", "previous_response_id", "object", "finish_reason",
                           "stop_reason", "status", "media_type", "detail", "format",
                           "encoding_format", "service_tier", "reasoning_effort", "tool_choice",
                           "signature", "encrypted_content", "voice"};
  for (const char* k : skipped) {
    const std::string body = std::string("{\"") + k + "\":\"a@b.io\",\"content\":\"x\"}";
    EXPECT_EQ(visited(body), std::vector<std::string>{"content=x"}) << k;
  }
  // Same lengths as skipped keys, other names: text.
  for (const char* k : {"ix", "name", "input", "output", "content", "arguments", "description"}) {
    const std::string body = std::string("{\"") + k + "\":\"v\"}";
    EXPECT_EQ(visited(body), std::vector<std::string>{std::string(k) + "=v"}) << k;
  }
}

TEST(JsonText, NestingNumbersLiteralsEscapesAndWhitespace) {
  bool ok = false;
  EXPECT_EQ(visited(R"( { "a" : [ 1, -2.5e3, true, null, "x\"y", {"b": "c\\"} ], "d": {"e": []},
                      "f" : "g" } )",
                    &ok),
            (std::vector<std::string>{"a=x\\\"y", "b=c\\\\", "f=g"}));
  EXPECT_TRUE(ok);
  EXPECT_FALSE((visited(R"({"a":"unterminated})", &ok), ok));
  EXPECT_FALSE((visited(R"({"a":["x"})", &ok), ok));
  EXPECT_FALSE((visited(R"({"a":"x"}})", &ok), ok));
}

}  // namespace
}  // namespace sluice::pii
