// The filter interface: the phases of one call, as ARCHITECTURE.md describes them.
//
//   client ──► on_request ──► (upstream) ──► on_response_headers ──► on_response_event* /
//              on_response_body ──► client;   on_complete always runs last.
//
// A Filter object is created per call from an immutable, shared FilterConfig (a config
// snapshot: a reload makes new calls use a new snapshot while calls in flight keep theirs).
// Counters live outside the snapshot (FilterStats in registry.h), so they survive reloads.
// Filters never include each other; the StreamContext is the only channel between them.
//
// Threading: every phase of one call runs on that call's worker thread, one at a time.
// Phases must not block. Only the request phase may wait on I/O, by returning kSuspend and
// doing the waiting in resume_request(), a coroutine on the worker's event loop.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/config.h"
#include "sinks/event.h"

namespace sluice {

struct SseBlock;

// Which API shape a call uses; chosen by the router from provider and path.
enum class ApiKind { kChatCompletions, kResponses, kEmbeddings, kMessages, kPassthrough };
const char* to_string(ApiKind k);  // "chat.completions", "responses", ...

// What Sluice read from the request body (all of it validated; see proxy/providers/adapter.h).
struct RequestSummary {
  std::string model;
  bool stream = false;
  bool stream_usage_requested = false;   // OpenAI chat: stream_options.include_usage == true
  std::int64_t max_output_tokens = -1;   // the output cap from the body, -1 when absent
  std::int64_t n = 1;                    // choices requested
  std::int64_t prompt_text_bytes = 0;    // bytes of decoded prompt text (messages, system, input)
  std::int64_t prompt_parts = 0;         // messages / input items, for per-item overhead
  std::int64_t estimated_input_tokens = 0;  // from TokenEstimator
};

// A text stream inside a response: which choice (OpenAI chat `index`), content block
// (Anthropic `index`, Responses `output_index`/`content_index`) or tool call it belongs to.
struct Channel {
  enum class Kind : std::uint8_t { kText, kToolArguments, kReasoning };
  Kind kind = Kind::kText;
  std::int32_t choice = 0;     // OpenAI chat choice index; Responses output_index
  std::int32_t block = 0;      // Anthropic content block index; Responses content_index
  std::int32_t tool_call = -1; // OpenAI chat tool_calls[].index
  friend bool operator==(const Channel&, const Channel&) = default;
};

// Decoded text carried by one response event on one channel. Filters may rewrite `text`
// (set `modified`); the adapter then re-encodes the event around the new text.
struct TextDelta {
  Channel channel;
  std::string text;  // JSON-decoded
  bool modified = false;
};

// One framed SSE event of a streamed response, as the response filters see it.
struct ResponseEvent {
  const SseBlock* block = nullptr;  // framing and raw bytes; null for the end-of-stream call
  std::string_view type;            // SSE event name, or the JSON "type", or "" (OpenAI chat)
  std::vector<TextDelta> deltas;    // decoded text in this event (empty for most non-text events)
  std::vector<Channel> closing;     // channels that end with this event (finish/stop/done)
  bool terminal = false;            // the stream's last event ([DONE], message_stop, ...)
  // The event carries nothing a client needs besides `deltas` (no role, tool call ids, finish,
  // usage, sequence number): a filter that empties every delta may drop it.
  bool only_text = false;

  // Filter outputs.
  bool drop = false;                     // remove the event from the stream
  std::vector<TextDelta> emit_before;    // synthesize text events before this one (in order)
};

// A local answer instead of the upstream's: rendered in the provider's own error shape.
struct LocalReply {
  int status = 0;          // 0: none
  std::string type;        // provider error type, e.g. "permission_error", "invalid_request_error"
  std::string code;        // OpenAI `code`, e.g. "model_not_allowed"; ignored by Anthropic shape
  std::string message;
  std::string error_class; // for the event: e.g. "filter_rejected"
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. retry-after
};

// How a stream ends when a filter stops it.
struct StreamEnd {
  enum class Mode : std::uint8_t { kNone, kClean, kError };
  Mode mode = Mode::kNone;
  std::string finish_reason;  // kClean: e.g. "length" / "max_tokens"
  LocalReply error;           // kError: sent as the provider's in-stream error event
};

// The per-call state shared by the connection and every filter of the call.
struct StreamContext {
  std::string request_id;
  Identity identity;
  Provider provider = Provider::kOpenAI;
  ApiKind api = ApiKind::kPassthrough;
  std::string upstream;     // upstream name
  std::string path;         // upstream-relative path, query excluded
  RequestSummary request;
  std::string body;         // request body; request filters may rewrite it
  bool body_rewritten = false;

  int response_status = 0;  // upstream status, set before on_response_headers
  TokenUsage usage;         // provider-reported, filled as it arrives
  std::int64_t cost_micro_usd = -1;  // the call's price, set by the filter that prices it
                                     // (budget) in on_complete; -1: not priced
  std::string served_model;
  std::string finish_reason;

  LocalReply reply;         // set with kRespond
  StreamEnd stream_end;     // set with FilterStatus::kEndStream

  // Headers added to the response sent to the client.
  std::vector<std::pair<std::string, std::string>> response_headers;

  // Findings for the call's event: (filter name, JSON object text).
  std::vector<std::pair<std::string, std::string>> event_fields;
  std::vector<AlertEvent> alerts;  // identity, ids and time are filled in by the connection

  // This call's chain by filter name, in order, and the position of the filter whose request
  // phase runs now: a filter can tell which filters follow it (limits filters gathering their
  // checks into one reservation). Empty for a filter run outside a chain (unit tests).
  std::span<const std::string_view> chain;
  std::size_t chain_position = 0;

  // Per-call state that cooperating filters share under a name they agree on (e.g. the rate
  // limit and budget filters gathering their limits into one reservation). Created on first use.
  template <typename T>
  std::shared_ptr<T> shared(std::string_view name) {
    for (auto& [n, p] : shared_state_)
      if (n == name) return std::static_pointer_cast<T>(p);
    auto p = std::make_shared<T>();
    shared_state_.emplace_back(std::string(name), p);
    return p;
  }
  // The shared state named `name` if a filter created it, else null.
  template <typename T>
  std::shared_ptr<T> find_shared(std::string_view name) const {
    for (const auto& [n, p] : shared_state_)
      if (n == name) return std::static_pointer_cast<T>(p);
    return nullptr;
  }

  void add_event_field(std::string filter, std::string json_object) {
    event_fields.emplace_back(std::move(filter), std::move(json_object));
  }
  void raise_alert(std::string type, std::string severity, std::string source,
                   std::string message, std::string details_json = "{}");

 private:
  std::vector<std::pair<std::string, std::shared_ptr<void>>> shared_state_;
};

// Everything the connection needs to know about how a call ended, for on_complete.
struct StreamInfo {
  int status = 0;
  std::string error_class;  // "" on success
  bool client_cancelled = false;
  std::int64_t response_bytes = 0;
};

enum class FilterStatus {
  kContinue,   // go on with the next filter
  kRespond,    // request phase: answer with ctx.reply, do not call the upstream
  kSuspend,    // request phase: await resume_request() before going on
  kEndStream,  // response phase: end the stream as ctx.stream_end says
};

class FilterConfig {
 public:
  virtual ~FilterConfig() = default;
};

class Filter {
 public:
  virtual ~Filter() = default;

  // Headers and the parsed body are in ctx. kContinue, kRespond (ctx.reply set) or kSuspend.
  virtual FilterStatus on_request(StreamContext& ctx) { return FilterStatus::kContinue; }

  // Called after on_request returned kSuspend; completes the lookup (e.g. a Redis round
  // trip) and returns kContinue or kRespond. Cancelled (an exception is thrown from the
  // awaited operation) when the client disconnects.
  virtual boost::asio::awaitable<FilterStatus> resume_request(StreamContext& ctx);

  // Upstream status and headers arrived (ctx.response_status). kContinue or kEndStream.
  virtual FilterStatus on_response_headers(StreamContext& ctx) { return FilterStatus::kContinue; }

  // One SSE event of a streamed response; end_stream marks the final call, made once after
  // the upstream finished (event.block == nullptr) so that held-back text can be emitted.
  // Synchronous and bounded: whatever a filter holds back it must cap and count.
  virtual FilterStatus on_response_event(StreamContext& ctx, ResponseEvent& event,
                                         bool end_stream) {
    return FilterStatus::kContinue;
  }

  // A whole non-streamed response body (only when wants_response_body() is true; bounded by
  // the upstream's max_response_body_bytes). May rewrite `body`, or return kRespond with
  // ctx.reply set to answer with that error instead of the body.
  virtual FilterStatus on_response_body(StreamContext& ctx, std::string& body) {
    return FilterStatus::kContinue;
  }
  virtual bool wants_response_body() const { return false; }
  // Whether the filter reads or rewrites streamed text (so the adapter decodes deltas).
  virtual bool wants_response_events() const { return false; }

  // Always called once, last, success or not: settle reservations, record findings.
  virtual void on_complete(StreamContext& ctx, const StreamInfo& info) {}
};

}  // namespace sluice
