// OpenAI Responses API (POST /v1/responses): the response object and its SSE stream
// (response.created ... response.completed, or response.incomplete when max_output_tokens
// cut the output short). Fields are those the openai SDK's Response model requires.
#include "mock/json_writer.h"
#include "mock/responses_openai.h"
#include "mock/sse.h"

namespace sluice::mock {
namespace {

struct Ids {
  std::string resp;
  std::string msg;
};

void append_usage(std::string& o, const Generation& g) {
  o += "{\"input_tokens\":";
  append_int(o, g.prompt_tokens);
  o += ",\"input_tokens_details\":{\"cached_tokens\":";
  append_int(o, g.cached_tokens);
  o += ",\"cache_write_tokens\":";
  append_int(o, g.cache_write_tokens);
  o += "},\"output_tokens\":";
  append_int(o, g.completion_tokens());
  o += ",\"output_tokens_details\":{\"reasoning_tokens\":";
  append_int(o, g.reasoning_tokens);
  o += "},\"total_tokens\":";
  append_int(o, g.prompt_tokens + g.completion_tokens());
  o += "}";
}

void append_text_part(std::string& o, std::string_view text) {
  o += "{\"type\":\"output_text\",\"text\":";
  append_json_string(o, text);
  o += ",\"annotations\":[]}";
}

// The assistant message item; `text` null → empty content (stream start).
void append_message(std::string& o, const Ids& ids, std::string_view status,
                    const std::string* text) {
  o += "{\"type\":\"message\",\"id\":";
  append_json_string(o, ids.msg);
  o += ",\"status\":\"";
  o += status;
  o += "\",\"role\":\"assistant\",\"content\":[";
  if (text) append_text_part(o, *text);
  o += "]}";
}

// The full response object. `final` false → in_progress with no output and no usage.
std::string response_json(const BuildContext& ctx, const Ids& ids, bool final,
                          const std::string& text) {
  const Generation& g = ctx.gen;
  std::string_view status = !final ? "in_progress" : g.truncated ? "incomplete" : "completed";
  std::string o;
  o.reserve(1024 + text.size());
  o += "{\"id\":";
  append_json_string(o, ids.resp);
  o += ",\"object\":\"response\",\"created_at\":";
  append_int(o, kCreated);
  o += ",\"status\":\"";
  o += status;
  o += "\",\"background\":false,\"error\":null,\"incomplete_details\":";
  o += final && g.truncated ? "{\"reason\":\"max_output_tokens\"}" : "null";
  o += ",\"instructions\":";
  if (ctx.body.instructions) {
    append_json_string(o, *ctx.body.instructions);
  } else {
    o += "null";
  }
  o += ",\"max_output_tokens\":";
  if (ctx.body.max_tokens) {
    append_int(o, *ctx.body.max_tokens);
  } else {
    o += "null";
  }
  o += ",\"max_tool_calls\":null,\"model\":";
  append_json_string(o, ctx.body.model);
  o += ",\"output\":[";
  if (final) append_message(o, ids, g.truncated ? "incomplete" : "completed", &text);
  o += "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
       "\"reasoning\":{\"effort\":null,\"summary\":null},\"service_tier\":\"default\","
       "\"store\":true,\"temperature\":1.0,"
       "\"text\":{\"format\":{\"type\":\"text\"},\"verbosity\":\"medium\"},"
       "\"tool_choice\":\"auto\",\"tools\":[],\"top_logprobs\":0,\"top_p\":1.0,"
       "\"truncation\":\"disabled\",\"usage\":";
  if (final) {
    append_usage(o, g);
  } else {
    o += "null";
  }
  o += ",\"user\":null,\"metadata\":{}}";
  return o;
}

class EventWriter {
 public:
  explicit EventWriter(Plan& p) : p_(p) {}
  // Starts an event's JSON: {"type":"<type>","sequence_number":N
  std::string begin(std::string_view type) {
    std::string o = "{\"type\":\"";
    o += type;
    o += "\",\"sequence_number\":";
    append_int(o, seq_++);
    return o;
  }
  void emit(std::string_view type, const std::string& json, bool paced = false) {
    p_.events.push_back({sse_event(type, json), paced});
  }

 private:
  Plan& p_;
  long long seq_ = 0;
};

void append_item_ref(std::string& o, const Ids& ids) {
  o += ",\"item_id\":";
  append_json_string(o, ids.msg);
  o += ",\"output_index\":0,\"content_index\":0";
}

Plan responses_stream(const BuildContext& ctx, const Ids& ids, const std::string& text) {
  Plan p;
  p.streaming = true;
  p.content_type = "text/event-stream; charset=utf-8";
  EventWriter w(p);
  const std::string start = response_json(ctx, ids, false, text);
  for (std::string_view type : {"response.created", "response.in_progress"}) {
    std::string o = w.begin(type);
    o += ",\"response\":" + start + "}";
    w.emit(type, o);
  }
  {
    std::string o = w.begin("response.output_item.added");
    o += ",\"output_index\":0,\"item\":";
    append_message(o, ids, "in_progress", nullptr);
    o += "}";
    w.emit("response.output_item.added", o);
  }
  {
    std::string o = w.begin("response.content_part.added");
    append_item_ref(o, ids);
    o += ",\"part\":";
    append_text_part(o, "");
    o += "}";
    w.emit("response.content_part.added", o);
  }
  for (const auto& t : ctx.gen.tokens) {
    std::string o = w.begin("response.output_text.delta");
    append_item_ref(o, ids);
    o += ",\"delta\":";
    append_json_string(o, t);
    o += ",\"logprobs\":[]}";
    w.emit("response.output_text.delta", o, true);
  }
  {
    std::string o = w.begin("response.output_text.done");
    append_item_ref(o, ids);
    o += ",\"text\":";
    append_json_string(o, text);
    o += ",\"logprobs\":[]}";
    w.emit("response.output_text.done", o);
  }
  {
    std::string o = w.begin("response.content_part.done");
    append_item_ref(o, ids);
    o += ",\"part\":";
    append_text_part(o, text);
    o += "}";
    w.emit("response.content_part.done", o);
  }
  {
    std::string o = w.begin("response.output_item.done");
    o += ",\"output_index\":0,\"item\":";
    append_message(o, ids, ctx.gen.truncated ? "incomplete" : "completed", &text);
    o += "}";
    w.emit("response.output_item.done", o);
  }
  {
    std::string_view type = ctx.gen.truncated ? "response.incomplete" : "response.completed";
    std::string o = w.begin(type);
    o += ",\"response\":" + response_json(ctx, ids, true, text) + "}";
    w.emit(type, o);
  }
  return p;
}

}  // namespace

Plan openai_responses(const BuildContext& ctx) {
  Ids ids{ctx.gen.id("resp_"), ctx.gen.id("msg_")};
  const std::string text = ctx.gen.text();
  if (ctx.body.stream) return responses_stream(ctx, ids, text);
  Plan p;
  p.body = response_json(ctx, ids, true, text);
  return p;
}

}  // namespace sluice::mock
