// The call event and the alert: Sluice's audit record of each LLM API call.
//
// One CallEvent per call (success or not), one AlertEvent per alert. Both are built on the
// request path by the connection and the filters, serialized to JSON once (event_json.h), and
// handed to every sink as a Record. Schema: docs/events.md and docs/event-schema.json; bump
// kSchemaVersion on any incompatible change. Secrets never enter these structs: keys only as
// fingerprints, PII only as type, place and count.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

inline constexpr int kSchemaVersion = 1;

// Token counts, normalized across providers so that consumers need no per-provider rules:
//  * input_tokens counts every input token, cached ones included. (OpenAI already reports it
//    so; for Anthropic, input_tokens + cache_creation_input_tokens + cache_read_input_tokens.)
//  * cached_input_tokens (read from cache) and cache_write_tokens are subsets of input_tokens.
//  * output_tokens counts every output token; reasoning_tokens is a subset of it.
struct TokenUsage {
  enum class Source { kNone, kProvider, kEstimated };
  std::int64_t input_tokens = 0;
  std::int64_t cached_input_tokens = 0;
  std::int64_t cache_write_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  Source source = Source::kNone;
};

const char* to_string(TokenUsage::Source s);

struct Identity {
  std::string tenant;           // "default" when nothing maps the key
  std::string team;
  std::string app;
  std::string key_fingerprint;  // first 16 hex digits of SHA-256 of the presented key; "" if none
  std::string key_kind;         // "virtual", "provider" or "none"
};

struct CallEvent {
  std::string event_id;    // UUIDv7, unique per call: consumers deduplicate on it
  std::string request_id;  // also returned to the client as x-request-id
  std::int64_t start_unix_us = 0;

  Identity identity;
  std::string provider;  // "openai", "anthropic", "openai_compatible"
  std::string upstream;  // configured upstream name
  std::string endpoint;  // "chat.completions", "responses", "embeddings", "messages", "passthrough"
  std::string method;
  std::string path;      // path only; the query string is dropped (it may hold keys)
  std::string requested_model;
  std::string served_model;
  bool stream = false;

  int status = 0;            // HTTP status sent to the client (0: none was sent)
  std::string error_class;   // "" on success; see docs/events.md for the list
  std::string error_source;  // "", "client", "upstream" or "sluice"
  std::string finish_reason; // provider's finish/stop reason, normalized to its own wording

  std::int64_t ttfb_us = -1;      // start to first response byte written to the client
  std::int64_t total_us = 0;      // start to last byte (or error)
  std::int64_t upstream_us = 0;   // time spent waiting on the provider
  std::int64_t overhead_us = 0;   // total_us - upstream_us

  TokenUsage usage;
  std::int64_t cost_micro_usd = -1;  // -1: not priced
  std::int64_t request_bytes = 0;
  std::int64_t response_bytes = 0;
  std::int64_t sse_events = 0;

  std::string traceparent;  // W3C trace context from the client, if any

  // Fields added by filters: (filter name, a JSON object as text). Appear under "filters".
  std::vector<std::pair<std::string, std::string>> filter_fields;
  int alerts = 0;
};

struct AlertEvent {
  std::string alert_id;       // UUIDv7
  std::string event_id;       // the call's event_id ("" if not tied to a call)
  std::string request_id;
  std::int64_t unix_us = 0;
  std::string type;           // dotted, e.g. "pii.redacted", "budget.exhausted", "model.denied"
  std::string severity;       // "info", "warning", "critical"
  std::string source;         // the filter or component that raised it
  Identity identity;
  std::string provider;
  std::string model;
  std::string message;        // human-readable, never containing the offending value
  std::string details_json;   // JSON object as text, "{}" if none
};

}  // namespace sluice
