#include "mock/responses_openai.h"

#include <cstring>

#include "mock/json_writer.h"
#include "mock/sse.h"

namespace sluice::mock {
namespace {

constexpr std::string_view kToolName = "lookup";

void append_chat_usage(std::string& o, const Generation& g, std::int64_t completion) {
  o += "{\"prompt_tokens\":";
  append_int(o, g.prompt_tokens);
  o += ",\"completion_tokens\":";
  append_int(o, completion);
  o += ",\"total_tokens\":";
  append_int(o, g.prompt_tokens + completion);
  o += ",\"prompt_tokens_details\":{\"cached_tokens\":";
  append_int(o, g.cached_tokens);
  o += ",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":";
  append_int(o, g.reasoning_tokens);
  o += ",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}";
}

// The arguments of the mock tool call: {"query": <x-mock-text or a fixed string>}.
std::string tool_arguments(const BuildContext& ctx) {
  std::string args = "{\"query\":";
  append_json_string(args, ctx.opt.text ? std::string_view(*ctx.opt.text) : "mock query");
  args += "}";
  return args;
}

bool wants_tool_call(const BuildContext& ctx) { return ctx.opt.tool_call && ctx.body.has_tools; }

std::string_view finish_reason(const BuildContext& ctx, bool tool) {
  if (tool) return "tool_calls";
  return ctx.gen.truncated ? "length" : "stop";
}

Plan chat_full(const BuildContext& ctx) {
  const Generation& g = ctx.gen;
  const bool tool = wants_tool_call(ctx);
  std::string args = tool ? tool_arguments(ctx) : std::string();
  std::int64_t completion =
      tool ? static_cast<std::int64_t>(split_text(args).size()) : g.completion_tokens();
  std::string o;
  o.reserve(512 + (tool ? args.size() : g.tokens.size() * 8));
  o += "{\"id\":";
  append_json_string(o, g.id("chatcmpl-"));
  o += ",\"object\":\"chat.completion\",\"created\":";
  append_int(o, kCreated);
  o += ",\"model\":";
  append_json_string(o, ctx.body.model);
  o += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
  if (tool) {
    o += "null,\"tool_calls\":[{\"id\":";
    append_json_string(o, g.id("call_"));
    o += ",\"type\":\"function\",\"function\":{\"name\":";
    append_json_string(o, kToolName);
    o += ",\"arguments\":";
    append_json_string(o, args);
    o += "}}]";
  } else {
    append_json_string(o, g.text());
  }
  o += ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"";
  o += finish_reason(ctx, tool);
  o += "\"}],\"usage\":";
  append_chat_usage(o, g, completion);
  o += ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}";
  Plan p;
  p.body = std::move(o);
  return p;
}

Plan chat_stream(const BuildContext& ctx) {
  const Generation& g = ctx.gen;
  const bool tool = wants_tool_call(ctx);
  const bool usage = ctx.body.include_usage;
  std::string head = "{\"id\":";
  append_json_string(head, g.id("chatcmpl-"));
  head += ",\"object\":\"chat.completion.chunk\",\"created\":";
  append_int(head, kCreated);
  head += ",\"model\":";
  append_json_string(head, ctx.body.model);
  head += ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",\"choices\":";
  const std::string_view usage_tail = usage ? ",\"usage\":null}" : "}";

  Plan p;
  p.streaming = true;
  p.content_type = "text/event-stream; charset=utf-8";
  auto chunk = [&](std::string_view delta, std::string_view finish, bool paced) {
    std::string c = head;
    c += "[{\"index\":0,\"delta\":";
    c += delta;
    c += ",\"logprobs\":null,\"finish_reason\":";
    c += finish;
    c += "}]";
    c += usage_tail;
    p.events.push_back({sse_data(c), paced});
  };

  std::int64_t completion = 0;
  if (tool) {
    std::string first =
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":";
    append_json_string(first, g.id("call_"));
    first += ",\"type\":\"function\",\"function\":{\"name\":";
    append_json_string(first, kToolName);
    first += ",\"arguments\":\"\"}}],\"refusal\":null}";
    chunk(first, "null", false);
    auto pieces = split_text(tool_arguments(ctx));
    completion = static_cast<std::int64_t>(pieces.size());
    for (const auto& piece : pieces) {
      std::string d = "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":";
      append_json_string(d, piece);
      d += "}}]}";
      chunk(d, "null", true);
    }
  } else {
    chunk("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", "null", false);
    completion = g.completion_tokens();
    for (const auto& t : g.tokens) {
      std::string d = "{\"content\":";
      append_json_string(d, t);
      d += "}";
      chunk(d, "null", true);
    }
  }
  std::string finish = "\"";
  finish += finish_reason(ctx, tool);
  finish += "\"";
  chunk("{}", finish, false);
  if (usage) {
    std::string c = head;
    c += "[],\"usage\":";
    append_chat_usage(c, g, completion);
    c += "}";
    p.events.push_back({sse_data(c), false});
  }
  p.events.push_back({"data: [DONE]\n\n", false});
  return p;
}

}  // namespace

std::string openai_error_json(std::string_view message, std::string_view type,
                              std::string_view code, std::string_view param) {
  std::string o = "{\"error\":{\"message\":";
  append_json_string(o, message);
  o += ",\"type\":";
  append_json_string(o, type);
  o += ",\"param\":";
  if (param.empty()) {
    o += "null";
  } else {
    append_json_string(o, param);
  }
  o += ",\"code\":";
  if (code.empty()) {
    o += "null";
  } else {
    append_json_string(o, code);
  }
  o += "}}";
  return o;
}

Plan openai_error(int status, std::string_view message, std::string_view type,
                  std::string_view code, std::string_view param) {
  Plan p;
  p.status = status;
  p.body = openai_error_json(message, type, code, param);
  return p;
}

Plan openai_rate_limit() {
  Plan p = openai_error(429, "Rate limit reached for requests (mock). Please try again in 1s.",
                        "requests", "rate_limit_exceeded");
  p.headers = {{"retry-after", "1"},
               {"x-ratelimit-limit-requests", "500"},
               {"x-ratelimit-limit-tokens", "30000"},
               {"x-ratelimit-remaining-requests", "0"},
               {"x-ratelimit-remaining-tokens", "0"},
               {"x-ratelimit-reset-requests", "1s"},
               {"x-ratelimit-reset-tokens", "1s"}};
  return p;
}

Plan openai_server_error() {
  return openai_error(500,
                      "The server had an error while processing your request. Sorry about that!",
                      "server_error");
}

Plan openai_not_found(const MockRequest& req) {
  std::string msg = "Invalid URL (" + req.method + " " + std::string(req.path()) + ")";
  return openai_error(404, msg, "invalid_request_error");
}

Plan openai_chat(const BuildContext& ctx) {
  return ctx.body.stream ? chat_stream(ctx) : chat_full(ctx);
}

void embedding_values(std::uint64_t input_hash, float (&out)[8]) {
  std::uint64_t x = input_hash;
  for (int j = 0; j < 8; ++j) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    int k = static_cast<int>(x % 2047) - 1023;  // [-1023, 1023]
    out[j] = static_cast<float>(k) / 1024.0f;   // exact in float32 and in decimal
    x += static_cast<std::uint64_t>(j + 1);
  }
}

Plan openai_embeddings(const BuildContext& ctx) {
  const bool b64 = ctx.body.encoding_format == "base64";
  std::string o = "{\"object\":\"list\",\"data\":[";
  for (std::size_t i = 0; i < ctx.body.input_hashes.size(); ++i) {
    float v[8];
    embedding_values(ctx.body.input_hashes[i], v);
    if (i) o += ",";
    o += "{\"object\":\"embedding\",\"index\":";
    append_int(o, static_cast<std::int64_t>(i));
    o += ",\"embedding\":";
    if (b64) {
      std::string bytes;
      for (float f : v) {
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<char>((bits >> (8 * k)) & 0xFF));
      }
      append_json_string(o, base64_encode(bytes));
    } else {
      o += "[";
      for (int j = 0; j < 8; ++j) {
        if (j) o += ",";
        append_double(o, v[j]);
      }
      o += "]";
    }
    o += "}";
  }
  o += "],\"model\":";
  append_json_string(o, ctx.body.model);
  o += ",\"usage\":{\"prompt_tokens\":";
  append_int(o, ctx.gen.prompt_tokens);
  o += ",\"total_tokens\":";
  append_int(o, ctx.gen.prompt_tokens);
  o += "}}";
  Plan p;
  p.body = std::move(o);
  return p;
}

Plan openai_models() {
  Plan p;
  p.body =
      "{\"object\":\"list\",\"data\":["
      "{\"id\":\"gpt-4o-mini\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"mock\"},"
      "{\"id\":\"gpt-4o\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"mock\"}]}";
  return p;
}

std::string openai_chat_error_event() {
  return sse_data(openai_error_json(
      "The server had an error while processing your request. Sorry about that!", "server_error"));
}

std::string openai_chat_malformed_event() {
  return "this line is not server-sent events\n"
         "data: {\"id\":\"chatcmpl-malformed\",\"object\":\"chat.completion.chunk\",\"choices\":"
         "[{\"index\":0,\"delta\":{\"content\":\"unterminated\n\n";
}

std::string openai_responses_error_event(long long seq_no) {
  std::string o =
      "{\"type\":\"error\",\"code\":\"server_error\",\"message\":\"The server had an error "
      "while processing your request. Sorry about that!\",\"param\":null,\"sequence_number\":";
  append_int(o, seq_no);
  o += "}";
  return sse_event("error", o);
}

std::string openai_responses_malformed_event() {
  return "this line is not server-sent events\n"
         "event: response.output_text.delta\n"
         "data: {\"type\":\"response.output_text.delta\",\"delta\":\"unterminated\n\n";
}

}  // namespace sluice::mock
