// inject_stream_usage: byte splices, every other byte unchanged.
#include <gtest/gtest.h>

#include "proxy/providers/adapter.h"
#include "sse_test_util.h"

namespace sluice {
namespace {

std::string inject(std::string_view body) {
  EXPECT_TRUE(read_request(ApiKind::kChatCompletions, body).ok) << body;
  std::string out = inject_stream_usage(body);
  const RequestReadResult r = read_request(ApiKind::kChatCompletions, out);
  EXPECT_TRUE(r.ok) << out;
  EXPECT_TRUE(r.summary.stream_usage_requested) << out;
  return out;
}

TEST(InjectStreamUsage, AppendsWhenAbsent) {
  EXPECT_EQ(inject(R"({"model":"m","stream":true})"),
            R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_EQ(inject("{\n  \"model\": \"m\",\n  \"stream\": true\n}\n"),
            "{\n  \"model\": \"m\",\n  \"stream\": true,\"stream_options\":"
            "{\"include_usage\":true}\n}\n");
}

TEST(InjectStreamUsage, EmptyObject) {
  EXPECT_EQ(inject("{ }"), R"({ "stream_options":{"include_usage":true}})");
}

TEST(InjectStreamUsage, InsertsIntoExistingStreamOptions) {
  EXPECT_EQ(
      inject(R"({"stream_options":{"include_obfuscation":false},"stream":true})"),
      R"({"stream_options":{"include_obfuscation":false,"include_usage":true},"stream":true})");
  EXPECT_EQ(inject(R"({"stream_options":{},"stream":true})"),
            R"({"stream_options":{"include_usage":true},"stream":true})");
}

TEST(InjectStreamUsage, ReplacesFalse) {
  EXPECT_EQ(inject(R"({"stream":true,"stream_options":{"include_usage":false},"n":1})"),
            R"({"stream":true,"stream_options":{"include_usage":true},"n":1})");
  EXPECT_EQ(inject(R"({"stream_options":{"include_usage":null}})"),
            R"({"stream_options":{"include_usage":true}})");
}

TEST(InjectStreamUsage, ReplacesNullStreamOptions) {
  EXPECT_EQ(inject(R"({"stream_options":null,"stream":true})"),
            R"({"stream_options":{"include_usage":true},"stream":true})");
}

TEST(InjectStreamUsage, IgnoresNestedLookalikes) {
  EXPECT_EQ(
      inject(R"({"metadata":{"stream_options":{}},"stream":true})"),
      R"({"metadata":{"stream_options":{}},"stream":true,"stream_options":{"include_usage":true}})");
}

}  // namespace
}  // namespace sluice
