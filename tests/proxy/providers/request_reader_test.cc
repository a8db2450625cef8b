// read_request: what it reads per shape, and every body it must refuse.
#include <gtest/gtest.h>

#include <string>

#include "proxy/providers/adapter.h"

namespace sluice {
namespace {

RequestSummary read_ok(ApiKind api, std::string_view body) {
  RequestReadResult r = read_request(api, body);
  EXPECT_TRUE(r.ok) << body << " -> " << r.error;
  return r.summary;
}

std::string refused(ApiKind api, std::string_view body) {
  RequestReadResult r = read_request(api, body);
  EXPECT_FALSE(r.ok) << body;
  EXPECT_FALSE(r.error.empty());
  return r.error;
}

constexpr auto kChat = ApiKind::kChatCompletions;

// --- what is read --------------------------------------------------------------------------

TEST(ReadRequest, ChatFields) {
  const RequestSummary s = read_ok(kChat, R"({
    "model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
    "max_tokens": 50, "n": 2,
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hi \u0040 you"},
                                    {"type": "image_url", "image_url": {"url": "data:xx"}}]},
      {"role": "assistant", "content": null,
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "f", "arguments": "{\"q\":1}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "42"}
    ]})");
  EXPECT_EQ(s.model, "gpt-4o");
  EXPECT_TRUE(s.stream);
  EXPECT_TRUE(s.stream_usage_requested);
  EXPECT_EQ(s.max_output_tokens, 50);
  EXPECT_EQ(s.n, 2);
  EXPECT_EQ(s.prompt_parts, 4);
  // "Be brief." 9 + "Hi @ you" 8 (decoded) + {"q":1} 7 + "42" 2
  EXPECT_EQ(s.prompt_text_bytes, 9 + 8 + 7 + 2);
}

TEST(ReadRequest, ChatDefaultsAndNulls) {
  const RequestSummary s =
      read_ok(kChat, R"({"model":"m","messages":[],"stream":null,"n":null,"max_tokens":null,
                 "stream_options":null})");
  EXPECT_FALSE(s.stream);
  EXPECT_FALSE(s.stream_usage_requested);
  EXPECT_EQ(s.max_output_tokens, -1);
  EXPECT_EQ(s.n, 1);
  EXPECT_EQ(s.prompt_parts, 0);
}

TEST(ReadRequest, ChatMaxCompletionTokensWins) {
  EXPECT_EQ(read_ok(kChat, R"({"max_tokens":10,"max_completion_tokens":20})").max_output_tokens,
            20);
  EXPECT_EQ(read_ok(kChat, R"({"max_completion_tokens":20,"max_tokens":10})").max_output_tokens,
            20);
  EXPECT_EQ(read_ok(kChat, R"({"stream_options":{"include_usage":false}})").stream_usage_requested,
            false);
}

TEST(ReadRequest, ChatToolsCountTheirJsonSize) {
  const std::string tools = R"([{"type":"function","function":{"name":"f","parameters":{}}}])";
  const RequestSummary s = read_ok(kChat, R"({"model":"m","tools":)" + tools + "}");
  EXPECT_EQ(s.prompt_text_bytes, static_cast<std::int64_t>(tools.size()));
}

TEST(ReadRequest, Responses) {
  RequestSummary s = read_ok(ApiKind::kResponses,
                             R"({"model":"o3","input":"hello","instructions":"be nice",
                                 "max_output_tokens":300,"stream":true})");
  EXPECT_EQ(s.model, "o3");
  EXPECT_EQ(s.prompt_text_bytes, 5 + 7);
  EXPECT_EQ(s.prompt_parts, 1);
  EXPECT_EQ(s.max_output_tokens, 300);
  EXPECT_TRUE(s.stream);

  s = read_ok(ApiKind::kResponses, R"({"model":"o3","input":[
      {"role":"user","content":"abc"},
      {"role":"user","content":[{"type":"input_text","text":"de"},{"type":"input_image"}]},
      {"type":"function_call","call_id":"c","name":"f","arguments":"{}"},
      {"type":"function_call_output","call_id":"c","output":"ok!"}]})");
  EXPECT_EQ(s.prompt_parts, 4);
  EXPECT_EQ(s.prompt_text_bytes, 3 + 2 + 2 + 3);
  EXPECT_EQ(s.max_output_tokens, -1);
}

TEST(ReadRequest, AnthropicMessages) {
  const RequestSummary s = read_ok(ApiKind::kMessages, R"({
    "model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
    "system": [{"type": "text", "text": "sys"}],
    "messages": [
      {"role": "user", "content": "hello"},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "ok"},
        {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "r1"}]},
        {"type": "tool_result", "tool_use_id": "t", "content": "r22"}]}
    ]})");
  EXPECT_EQ(s.model, "claude-sonnet-4-5");
  EXPECT_EQ(s.max_output_tokens, 1024);
  EXPECT_TRUE(s.stream);
  EXPECT_FALSE(s.stream_usage_requested);
  EXPECT_EQ(s.prompt_parts, 3);
  // sys 3 + hello 5 + hmm 3 + ok 2 + {"a": 1} 8 + r1 2 + r22 3
  EXPECT_EQ(s.prompt_text_bytes, 3 + 5 + 3 + 2 + 8 + 2 + 3);
}

TEST(ReadRequest, AnthropicSystemString) {
  const RequestSummary s = read_ok(
      ApiKind::kMessages, R"({"system":"abcd","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(s.prompt_text_bytes, 5);
  EXPECT_EQ(s.prompt_parts, 1);
}

TEST(ReadRequest, Embeddings) {
  RequestSummary s = read_ok(ApiKind::kEmbeddings, R"({"model":"e","input":"abc"})");
  EXPECT_EQ(s.prompt_text_bytes, 3);
  EXPECT_EQ(s.prompt_parts, 1);
  s = read_ok(ApiKind::kEmbeddings, R"({"model":"e","input":["ab","cd","e"]})");
  EXPECT_EQ(s.prompt_text_bytes, 5);
  EXPECT_EQ(s.prompt_parts, 3);
  s = read_ok(ApiKind::kEmbeddings, R"({"model":"e","input":[1,2,3]})");
  EXPECT_EQ(s.prompt_text_bytes, 12);
  EXPECT_EQ(s.prompt_parts, 1);
  s = read_ok(ApiKind::kEmbeddings, R"({"model":"e","input":[[1,2],[3]]})");
  EXPECT_EQ(s.prompt_text_bytes, 12);
  EXPECT_EQ(s.prompt_parts, 2);
}

TEST(ReadRequest, PassthroughReadsModelStreamAndPrompt) {
  const RequestSummary s =
      read_ok(ApiKind::kPassthrough,
              R"({"model":"gpt-3.5-turbo-instruct","prompt":"Say hi","stream":true,"max_tokens":7,
          "stream_options":{"include_usage":true},"whatever":{"messages":"not read"}})");
  EXPECT_EQ(s.model, "gpt-3.5-turbo-instruct");
  EXPECT_TRUE(s.stream);
  EXPECT_TRUE(s.stream_usage_requested);
  EXPECT_EQ(s.max_output_tokens, 7);
  EXPECT_EQ(s.prompt_text_bytes, 6);
}

TEST(ReadRequest, EscapedKeysThatSluiceDoesNotReadAreFine) {
  const RequestSummary s = read_ok(kChat, R"({"model":"m","metadata":{"x\u0041":"\u00e9"}})");
  EXPECT_EQ(s.model, "m");
}

TEST(ReadRequest, EscapedValuesAreDecoded) {
  EXPECT_EQ(read_ok(kChat, R"({"model":"gpt\u002d4o"})").model, "gpt-4o");
}

TEST(ReadRequest, DeepButWithinCapIsAccepted) {
  std::string body = R"({"metadata":)";
  for (int i = 0; i < 100; ++i) body += "[";
  for (int i = 0; i < 100; ++i) body += "]";
  body += "}";
  read_ok(kChat, body);
}

TEST(ReadRequest, ManyKeysWithoutDuplicates) {
  std::string body = "{";
  for (int i = 0; i < 200; ++i) body += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  body += "\"model\":\"m\"}";
  EXPECT_EQ(read_ok(kChat, body).model, "m");
}

TEST(ReadRequest, ValidJsonEdgeCases) {
  read_ok(kChat, " \n{\"a\":[1,-0.5e-3,true,false,null,\"\",{}],\"b\":{}}\n ");
  read_ok(kChat, R"({"a":"\ud83d\ude00 \" \\ \/ \b\f\n\r\t"})");
  read_ok(kChat, "{\"a\":\"h\xC3\xA9\"}");
  read_ok(kChat, R"({"big":123456789012345678901234567890,"exp":1e400})");
}

// --- what is refused -------------------------------------------------------------------------

TEST(ReadRequestRefuses, DuplicateModel) {
  EXPECT_EQ(refused(kChat, R"({"model":"a","model":"b"})"),
            "request body has a duplicate \"model\" key");
}

TEST(ReadRequestRefuses, EscapedStreamKey) { refused(kChat, R"({"str\u0065am":true})"); }

TEST(ReadRequestRefuses, EscapedKeysAtAnyDepth) {
  refused(kChat, R"({"messages":[{"role":"user","c\u006fntent":"x"}]})");
  refused(ApiKind::kMessages, R"({"m\u006fdel":"x"})");
  refused(ApiKind::kPassthrough, R"({"a":{"b":[{"\u0074ext":"x"}]}})");
}

TEST(ReadRequestRefuses, DuplicateStream) { refused(kChat, R"({"stream":false,"stream":true})"); }

TEST(ReadRequestRefuses, DuplicateNested) {
  refused(kChat, R"({"messages":[{"role":"user","content":"a","content":"b"}]})");
  refused(kChat, R"({"stream_options":{"include_usage":false,"include_usage":true}})");
}

TEST(ReadRequestRefuses, DuplicateByDecodedKey) { refused(kChat, R"({"a":1,"\u0061":2})"); }

TEST(ReadRequestRefuses, DuplicateUnknownKeyWithoutEchoingIt) {
  const std::string err = refused(kChat, R"({"secret_key_name":1,"secret_key_name":2})");
  EXPECT_EQ(err.find("secret"), std::string::npos);
}

TEST(ReadRequestRefuses, DuplicateInLargeObject) {
  std::string body = "{";
  for (int i = 0; i < 100; ++i) body += "\"k" + std::to_string(i) + "\":1,";
  body += "\"k57\":2}";
  refused(kChat, body);
}

TEST(ReadRequestRefuses, TrailingGarbage) {
  refused(kChat, R"({"model":"a"} x)");
  refused(kChat, R"({"model":"a"}})");
  refused(kChat, R"({"model":"a"},)");
}

TEST(ReadRequestRefuses, TwoConcatenatedObjects) {
  refused(kChat, R"({"model":"a"}{"model":"b"})");
  refused(kChat, "{\"model\":\"a\"}\n{\"stream\":true}");
}

TEST(ReadRequestRefuses, InvalidUtf8) {
  EXPECT_EQ(refused(kChat, "{\"model\":\"a\xC3\"}"), "request body is not valid UTF-8");
  refused(kChat, "{\"model\":\"\xED\xA0\x80\"}");  // encoded surrogate
  refused(kChat, "{\"a\xFF\":1}");
}

TEST(ReadRequestRefuses, NonObjectTopLevel) {
  for (std::string_view body : {"[]", "\"x\"", "1", "true", "null", "", "   "}) {
    refused(kChat, body);
  }
}

TEST(ReadRequestRefuses, TooDeep) {
  std::string body = R"({"metadata":)";
  for (int i = 0; i < 200; ++i) body += "[";
  for (int i = 0; i < 200; ++i) body += "]";
  body += "}";
  EXPECT_EQ(refused(kChat, body), "request body nests too deeply");
}

TEST(ReadRequestRefuses, MalformedJson) {
  for (std::string_view body : {R"({"a":1,})",
                                R"({"a" 1})",
                                R"({"a":1 "b":2})",
                                R"({"a":[1 2]})",
                                R"({"a":[1,]})",
                                R"({"a":tru})",
                                R"({"a":truex})",
                                R"({"a":nul})",
                                R"({"a":01})",
                                R"({"a":1.})",
                                R"({"a":-})",
                                R"({"a":"\x"})",
                                R"({"a":"\ud800"})",
                                R"({"a":"abc)",
                                R"({"a":})",
                                R"({a:1})",
                                R"({'a':1})",
                                "{\"a\":\"x\x01y\"}",
                                "{\"a\":\"line\nbreak\"}",
                                R"({"a":NaN})",
                                R"({"a":+1})",
                                R"({"a":1}])",
                                R"({"a":[}])",
                                R"({"a":{]})"}) {
    refused(kChat, body);
  }
}

TEST(ReadRequestRefuses, WrongTypesForFieldsSluiceReads) {
  EXPECT_EQ(refused(kChat, R"({"model":1})"), "\"model\" must be a string");
  refused(kChat, R"({"model":null})");
  refused(kChat, R"({"stream":"true"})");
  refused(kChat, R"({"stream":1})");
  refused(kChat, R"({"stream_options":true})");
  refused(kChat, R"({"stream_options":{"include_usage":"yes"}})");
  refused(kChat, R"({"max_tokens":1.5})");
  refused(kChat, R"({"max_tokens":-1})");
  refused(kChat, R"({"max_tokens":"10"})");
  refused(kChat, R"({"n":0})");
  refused(ApiKind::kResponses, R"({"max_output_tokens":[]})");
  refused(ApiKind::kMessages, R"({"max_tokens":{}})");
}

TEST(ReadRequestRefuses, ErrorsNeverEchoValues) {
  const std::string err = refused(kChat, R"({"model":"sk-secret","model":"sk-secret2"})");
  EXPECT_EQ(err.find("sk-"), std::string::npos);
}

}  // namespace
}  // namespace sluice
