// Provider adapters: where in each API's JSON the model, the stream flag, the output cap,
// the prompt text, the usage and the streamed text live — for requests, whole responses and
// every kind of stream event. Pure functions and small state machines, no I/O.
//
// Supported shapes: OpenAI chat completions, OpenAI Responses, OpenAI embeddings (also every
// OpenAI-compatible server), Anthropic messages. Wire facts: ../shared/docs/ANCHORS.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "filters/filter.h"
#include "proxy/sse_framer.h"

namespace sluice {

// ---------------------------------------------------------------------------------------
// Requests

struct RequestReadResult {
  bool ok = false;
  std::string error;  // for the 400 message when !ok: says what is wrong, never echoes values
  RequestSummary summary;
};

// Validates the whole body and reads what Sluice needs. Refuses (ok=false):
//  * anything that is not one JSON object, invalid UTF-8, trailing garbage;
//  * a duplicate key in any object (the provider might read the other occurrence);
//  * an escaped key ("str\u0065am") whose decoded name is a key Sluice reads, at any depth;
//  * wrong types for the fields Sluice reads (model not a string, stream not a bool, ...).
// Fills summary (model, stream, stream_usage_requested, max_output_tokens, n,
// prompt_text_bytes and prompt_parts over messages/system/input/prompt/tools text).
// `api` is kPassthrough for bodies of routes no adapter models: only JSON validity and the
// duplicate/escaped-key rules apply, and model/stream are read when present.
RequestReadResult read_request(ApiKind api, std::string_view body);

// OpenAI chat, stream requested without stream_options.include_usage: returns the body with
// include_usage set to true (added to an existing stream_options object, or a new
// "stream_options" member appended), every other byte unchanged. Precondition: read_request
// accepted `body`.
std::string inject_stream_usage(std::string_view body);

// ---------------------------------------------------------------------------------------
// Whole (non-streamed) responses

struct ResponseFacts {
  TokenUsage usage;  // source kProvider when the body had usage
  std::string served_model;
  std::string finish_reason;  // first choice's finish_reason / stop_reason / status detail
  bool is_error = false;      // body is the provider's error object
};

// Reads usage, model and finish reason from a complete JSON response body of `api`/`provider`.
// Returns false (facts untouched) when the body is not JSON or has none of them.
bool read_response(ApiKind api, Provider provider, std::string_view body, ResponseFacts& facts);

// ---------------------------------------------------------------------------------------
// Streams

// Follows one streamed response event by event: collects usage (OpenAI usage chunk, also when
// `choices` is not empty; Responses `response.completed`/`response.incomplete`/`response.failed`;
// Anthropic `message_start` plus the last cumulative `message_delta`), model and finish
// reason; decodes streamed text per channel for filters; and renders events for the client.
class StreamAdapter {
 public:
  struct Options {
    bool strip_usage = false;  // usage was injected: drop the usage-only chunk and every
                               // `"usage":null` member so the client sees what it asked for
    bool decode_text = false;  // fill ResponseEvent::deltas / closing (filters want text)
  };
  StreamAdapter(ApiKind api, Provider provider, Options options);

  // Examines one block (every block the framer yields may be passed; blocks that do not
  // dispatch and oversize blocks are left alone). Sets event.block and event.type, clears and
  // fills deltas / closing (with decode_text), sets terminal (also for the provider's
  // in-stream error event, after which nothing normal follows). Updates facts(). With
  // strip_usage, sets event.drop = true on the usage-only chunk (`choices` empty, `usage` not
  // null); filters should leave it dropped. Never fails: an event that is not valid JSON is
  // counted in malformed_events() and passed through untouched (on passthrough and
  // embeddings routes, where no shape is expected, it is only passed through).
  void inspect(const SseBlock& block, ResponseEvent& event);

  // Appends what the client gets for this event: synthesized events for emit_before (also when
  // the event is dropped, so held-back text is never lost); nothing more when dropped; then
  // the raw bytes when nothing changed, else the event re-encoded with the modified delta
  // text and/or the usage member removed (`event:`/`id:` lines kept, `data: ` lines, "\n\n").
  // Must follow inspect() of the same event, before the next inspect(). Filters rewrite
  // deltas in place (text + modified) and do not add or remove entries.
  void render(const ResponseEvent& event, std::string& out);

  // Appends synthesized events carrying `text` on `channel` (used for held-back text at the end
  // of a stream, and by render() for emit_before). Nothing for passthrough/embeddings streams
  // or empty text. Shapes: OpenAI chat chunk (id/model/created of the stream's first chunk),
  // Responses response.output_text.delta / function_call_arguments.delta /
  // reasoning_summary_text.delta (next sequence number), Anthropic content_block_delta.
  void render_text(const TextDelta& delta, std::string& out);

  // Appends the provider-shaped end of a stream stopped by a filter: kClean finishes with the
  // given finish reason (mapped to the provider's wording: "length" <-> "max_tokens") and the
  // normal terminator: OpenAI chat: a finish chunk per unfinished choice, then [DONE];
  // Responses: response.output_item.done (status "incomplete", no content) for every item
  // still open, then response.completed (the event the openai SDK's stream helper requires)
  // with status "incomplete" and incomplete_details.reason unless the reason means a normal
  // stop, and no "output" (the SDK rebuilds it from the output_item.done events);
  // Anthropic: content_block_stop for open blocks, message_delta, message_stop.
  // kError sends the provider's in-stream error event (the SDKs raise on it): OpenAI chat
  // `data: {"error":{...}}`; Responses `event: error` (with an "error" object, which is what
  // the openai SDK raises on); Anthropic `event: error`. Messages start with "sluice: ".
  void render_end(const StreamEnd& end, std::string& out);

  // Appends an in-stream error event for an upstream failure mid-stream (type
  // "upstream_error" in OpenAI shapes, "api_error" for Anthropic).
  void render_upstream_error(std::string_view message, std::string& out);

  const ResponseFacts& facts() const { return facts_; }
  bool saw_terminal() const { return saw_terminal_; }
  std::uint64_t malformed_events() const { return malformed_; }
  // Decoded bytes of streamed text (content, tool arguments, reasoning) seen so far, counted
  // with or without decode_text: the basis of an output estimate when usage never comes.
  std::int64_t streamed_text_bytes() const { return text_bytes_; }

 private:
  // A delta's JSON string token inside the inspected event's data, for re-encoding.
  struct DeltaSpan {
    std::size_t begin = 0;
    std::size_t end = 0;
    Channel channel;
  };
  // OpenAI chat: what each choice has streamed (for closing and render_end).
  struct ChoiceState {
    bool seen = false;
    bool finished = false;
    bool reasoning = false;
    std::vector<std::int32_t> tool_calls;
  };
  // Responses: output items by output_index (their identity, for closing them at a cut).
  struct OutputItem {
    std::string id;
    std::string type;
    std::string call_id;
    bool open = false;  // output_item.added seen, output_item.done not yet
  };
  // Anthropic: content blocks by index.
  struct BlockState {
    Channel::Kind kind = Channel::Kind::kText;
    bool open = false;
  };

  // Shape-specific halves of inspect(); each parses block.data (known non-empty).
  void inspect_chat(const SseBlock& block, ResponseEvent& event, bool decode, bool strip);
  void inspect_responses(const SseBlock& block, ResponseEvent& event);
  void inspect_anthropic(const SseBlock& block, ResponseEvent& event, bool decode);
  void render_text_chat(const TextDelta& delta, std::string& out);
  void render_text_responses(const TextDelta& delta, std::string& out);
  void render_text_anthropic(const TextDelta& delta, std::string& out);
  void render_clean_end_chat(std::string_view reason, std::string& out);
  void render_clean_end_responses(std::string_view reason, std::string& out);
  void render_clean_end_anthropic(std::string_view reason, std::string& out);
  void render_error(std::string_view type, std::string_view code, std::string_view message,
                    std::string& out);
  void append_chat_chunk_head(std::string& json) const;
  void append_responses_object(std::string_view status, std::string_view reason,
                               std::string& json) const;
  void count_text(std::size_t bytes) { text_bytes_ += static_cast<std::int64_t>(bytes); }
  // Points event.type at the JSON "type" value inside block.data when it has no escapes.
  void set_type_from_json(const SseBlock& block, std::size_t raw_begin, std::string_view decoded,
                          ResponseEvent& event);

  ApiKind api_;
  Provider provider_;
  Options options_;
  ResponseFacts facts_;
  bool saw_terminal_ = false;
  std::uint64_t malformed_ = 0;
  std::int64_t text_bytes_ = 0;
  std::string scratch_;  // re-encoding buffer, reused

  // The plan for the last inspected event, carried out by render().
  const SseBlock* planned_ = nullptr;
  std::vector<DeltaSpan> spans_;
  bool remove_usage_ = false;  // strip_usage: erase [usage_erase_begin_, _end_) of data
  std::size_t usage_erase_begin_ = 0;
  std::size_t usage_erase_end_ = 0;
  std::string type_storage_;  // event.type when the JSON "type" had escapes

  // Stream identity, for synthesized events.
  std::string response_id_;
  std::int64_t created_ = 0;          // chat "created" / Responses "created_at"
  std::int64_t sequence_ = -1;        // last Responses sequence_number
  bool saw_start_ = false;            // response.created / message_start seen
  std::vector<ChoiceState> choices_;  // by OpenAI chat choice index (capped)
  std::vector<OutputItem> items_;     // Responses output items by output_index (capped)
  std::vector<BlockState> blocks_;    // Anthropic blocks by index (capped)

  // Anthropic counts as sent (-1: not seen); facts_.usage is recomputed from them, so a
  // repeated or cumulative count never adds twice.
  std::int64_t anth_input_ = -1;
  std::int64_t anth_cache_creation_ = -1;
  std::int64_t anth_cache_read_ = -1;
  std::int64_t anth_output_ = -1;
};

}  // namespace sluice
