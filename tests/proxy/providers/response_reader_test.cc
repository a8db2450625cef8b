// read_response: usage, model and finish reason from whole bodies.
#include <gtest/gtest.h>

#include "proxy/providers/adapter.h"

namespace sluice {
namespace {

using Source = TokenUsage::Source;

TEST(ReadResponse, ChatCompletion) {
  ResponseFacts f;
  ASSERT_TRUE(read_response(ApiKind::kChatCompletions, Provider::kOpenAI, R"({
    "id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06",
    "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"length"}],
    "usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,
             "prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},
             "completion_tokens_details":{"reasoning_tokens":5}}})",
                            f));
  EXPECT_EQ(f.served_model, "gpt-4o-2024-08-06");
  EXPECT_EQ(f.finish_reason, "length");
  EXPECT_EQ(f.usage.input_tokens, 100);
  EXPECT_EQ(f.usage.cached_input_tokens, 64);
  EXPECT_EQ(f.usage.output_tokens, 20);
  EXPECT_EQ(f.usage.reasoning_tokens, 5);
  EXPECT_EQ(f.usage.cache_write_tokens, 0);
  EXPECT_EQ(f.usage.source, Source::kProvider);
  EXPECT_FALSE(f.is_error);
}

TEST(ReadResponse, ResponsesCompletedAndIncomplete) {
  ResponseFacts f;
  ASSERT_TRUE(read_response(ApiKind::kResponses, Provider::kOpenAI, R"({
    "id":"resp_1","object":"response","status":"completed","error":null,
    "incomplete_details":null,"model":"o3-2025","output":[],
    "usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":30,
             "output_tokens_details":{"reasoning_tokens":20},"total_tokens":40}})",
                            f));
  EXPECT_EQ(f.finish_reason, "completed");
  EXPECT_EQ(f.usage.input_tokens, 10);
  EXPECT_EQ(f.usage.cached_input_tokens, 4);
  EXPECT_EQ(f.usage.output_tokens, 30);
  EXPECT_EQ(f.usage.reasoning_tokens, 20);
  EXPECT_FALSE(f.is_error);

  ResponseFacts g;
  ASSERT_TRUE(
      read_response(ApiKind::kResponses, Provider::kOpenAI,
                    R"({"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},
                                "model":"o3","usage":{"input_tokens":1,"output_tokens":2}})",
                    g));
  EXPECT_EQ(g.finish_reason, "max_output_tokens");
  EXPECT_EQ(g.usage.output_tokens, 2);

  ResponseFacts h;
  ASSERT_TRUE(read_response(ApiKind::kResponses, Provider::kOpenAI,
                            R"({"status":"failed","error":{"code":"server_error","message":"x"}})",
                            h));
  EXPECT_TRUE(h.is_error);
}

TEST(ReadResponse, Embeddings) {
  ResponseFacts f;
  ASSERT_TRUE(read_response(ApiKind::kEmbeddings, Provider::kOpenAI,
                            R"({"object":"list","data":[{"object":"embedding","index":0,
                                "embedding":[0.1,0.2]}],"model":"text-embedding-3-small",
                                "usage":{"prompt_tokens":8,"total_tokens":8}})",
                            f));
  EXPECT_EQ(f.usage.input_tokens, 8);
  EXPECT_EQ(f.usage.output_tokens, 0);
  EXPECT_EQ(f.served_model, "text-embedding-3-small");
}

TEST(ReadResponse, AnthropicCacheTokensAreAddedToInput) {
  ResponseFacts f;
  ASSERT_TRUE(read_response(ApiKind::kMessages, Provider::kAnthropic, R"({
    "id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
    "content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,
    "usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,
             "output_tokens":42}})",
                            f));
  EXPECT_EQ(f.usage.input_tokens, 3210);
  EXPECT_EQ(f.usage.cached_input_tokens, 3000);
  EXPECT_EQ(f.usage.cache_write_tokens, 200);
  EXPECT_EQ(f.usage.output_tokens, 42);
  EXPECT_EQ(f.finish_reason, "end_turn");
  EXPECT_EQ(f.served_model, "claude-sonnet-4-5");
}

TEST(ReadResponse, ErrorBodies) {
  ResponseFacts f;
  ASSERT_TRUE(read_response(ApiKind::kChatCompletions, Provider::kOpenAI,
                            R"({"error":{"message":"Rate limit","type":"tokens","param":null,
                                "code":"rate_limit_exceeded"}})",
                            f));
  EXPECT_TRUE(f.is_error);
  ResponseFacts g;
  ASSERT_TRUE(read_response(ApiKind::kMessages, Provider::kAnthropic,
                            R"({"type":"error","error":{"type":"rate_limit_error","message":"x"}})",
                            g));
  EXPECT_TRUE(g.is_error);
}

TEST(ReadResponse, NotJsonOrNothingToReadLeavesFactsAlone) {
  ResponseFacts f;
  f.served_model = "keep";
  EXPECT_FALSE(read_response(ApiKind::kChatCompletions, Provider::kOpenAI, "<html>", f));
  EXPECT_FALSE(read_response(ApiKind::kChatCompletions, Provider::kOpenAI, R"({"a":1})", f));
  EXPECT_FALSE(read_response(ApiKind::kChatCompletions, Provider::kOpenAI, "[1]", f));
  EXPECT_EQ(f.served_model, "keep");
}

TEST(ReadResponse, PassthroughOpenAICompatibleUsage) {
  ResponseFacts f;
  ASSERT_TRUE(read_response(ApiKind::kPassthrough, Provider::kOpenAICompatible,
                            R"({"object":"text_completion","model":"llama","choices":[
                                {"text":"x","index":0,"finish_reason":"stop"}],
                                "usage":{"prompt_tokens":3,"completion_tokens":1}})",
                            f));
  EXPECT_EQ(f.usage.input_tokens, 3);
  EXPECT_EQ(f.usage.output_tokens, 1);
  EXPECT_EQ(f.finish_reason, "stop");
}

}  // namespace
}  // namespace sluice
