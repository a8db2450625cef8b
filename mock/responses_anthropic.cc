#include "mock/responses_anthropic.h"

#include "mock/json_writer.h"
#include "mock/sse.h"

namespace sluice::mock {
namespace {

std::string_view stop_reason(const Generation& g) {
  return g.truncated ? "max_tokens" : "end_turn";
}

void append_usage(std::string& o, const Generation& g, std::int64_t output_tokens) {
  o += "{\"input_tokens\":";
  append_int(o, g.prompt_tokens);
  o += ",\"cache_creation_input_tokens\":";
  append_int(o, g.cache_write_tokens);
  o += ",\"cache_read_input_tokens\":";
  append_int(o, g.cached_tokens);
  o += ",\"output_tokens\":";
  append_int(o, output_tokens);
  o += "}";
}

// {"id":..,"type":"message","role":"assistant","model":..,"content":[
void append_message_head(std::string& o, const BuildContext& ctx) {
  o += "{\"id\":";
  append_json_string(o, ctx.gen.id("msg_"));
  o += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
  append_json_string(o, ctx.body.model);
  o += ",\"content\":[";
}

Plan messages_full(const BuildContext& ctx) {
  const Generation& g = ctx.gen;
  std::string o;
  append_message_head(o, ctx);
  o += "{\"type\":\"text\",\"text\":";
  append_json_string(o, g.text());
  o += "}],\"stop_reason\":\"";
  o += stop_reason(g);
  o += "\",\"stop_sequence\":null,\"usage\":";
  append_usage(o, g, g.completion_tokens());
  o += "}";
  Plan p;
  p.body = std::move(o);
  return p;
}

Plan messages_stream(const BuildContext& ctx) {
  const Generation& g = ctx.gen;
  Plan p;
  p.streaming = true;
  p.content_type = "text/event-stream; charset=utf-8";
  {
    std::string o = "{\"type\":\"message_start\",\"message\":";
    append_message_head(o, ctx);
    o += "],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":";
    append_usage(o, g, 1);
    o += "}}";
    p.events.push_back({sse_event("message_start", o)});
  }
  p.events.push_back({sse_event(
      "content_block_start",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})")});
  p.events.push_back({sse_event("ping", R"({"type": "ping"})")});
  for (const auto& t : g.tokens) {
    std::string o =
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":)";
    append_json_string(o, t);
    o += "}}";
    p.events.push_back({sse_event("content_block_delta", o), true});
  }
  p.events.push_back(
      {sse_event("content_block_stop", R"({"type":"content_block_stop","index":0})")});
  {
    std::string o = R"({"type":"message_delta","delta":{"stop_reason":")";
    o += stop_reason(g);
    o += R"(","stop_sequence":null},"usage":{"output_tokens":)";
    append_int(o, g.completion_tokens());
    o += "}}";
    p.events.push_back({sse_event("message_delta", o)});
  }
  p.events.push_back({sse_event("message_stop", R"({"type":"message_stop"})")});
  return p;
}

}  // namespace

std::string anthropic_error_json(std::string_view type, std::string_view message) {
  std::string o = "{\"type\":\"error\",\"error\":{\"type\":";
  append_json_string(o, type);
  o += ",\"message\":";
  append_json_string(o, message);
  o += "}}";
  return o;
}

Plan anthropic_error(int status, std::string_view type, std::string_view message) {
  Plan p;
  p.status = status;
  p.body = anthropic_error_json(type, message);
  return p;
}

Plan anthropic_rate_limit() {
  Plan p = anthropic_error(429, "rate_limit_error",
                           "This request would exceed the rate limit for your organization "
                           "(mock). Please try again in 1s.");
  p.headers = {{"retry-after", "1"},
               {"anthropic-ratelimit-requests-limit", "50"},
               {"anthropic-ratelimit-requests-remaining", "0"},
               {"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:21Z"},
               {"anthropic-ratelimit-tokens-limit", "40000"},
               {"anthropic-ratelimit-tokens-remaining", "0"},
               {"anthropic-ratelimit-tokens-reset", "2023-11-14T22:13:21Z"}};
  return p;
}

Plan anthropic_server_error() { return anthropic_error(500, "api_error", "Internal server error"); }

Plan anthropic_overloaded() { return anthropic_error(529, "overloaded_error", "Overloaded"); }

Plan anthropic_messages(const BuildContext& ctx) {
  return ctx.body.stream ? messages_stream(ctx) : messages_full(ctx);
}

std::string anthropic_error_event() {
  return sse_event("error", anthropic_error_json("overloaded_error", "Overloaded"));
}

std::string anthropic_malformed_event() {
  return "this line is not server-sent events\n"
         "event: content_block_delta\n"
         "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
         "\"text\":\"unterminated\n\n";
}

}  // namespace sluice::mock
