#include "mock/request_options.h"

#include <charconv>

#include "mock/json_writer.h"

namespace sluice::mock {

std::optional<Fault> parse_fault(std::string_view name) {
  if (name.empty() || name == "none") return Fault::kNone;
  if (name == "429") return Fault::kRateLimit;
  if (name == "500") return Fault::kServerError;
  if (name == "reset-mid-stream") return Fault::kResetMidStream;
  if (name == "malformed-sse") return Fault::kMalformedSse;
  if (name == "truncated-json") return Fault::kTruncatedJson;
  if (name == "slow-headers") return Fault::kSlowHeaders;
  if (name == "close-before-headers") return Fault::kCloseBeforeHeaders;
  if (name == "error-event") return Fault::kErrorEvent;
  if (name == "gzip") return Fault::kGzip;
  return std::nullopt;
}

ModelName split_model(std::string_view model) {
  constexpr std::string_view kMarker = "@fault=";
  auto at = model.find(kMarker);
  if (at == std::string_view::npos) return {model, {}};
  return {model.substr(0, at), model.substr(at + kMarker.size())};
}

namespace {

// Parses a non-negative integer header into `out`; records an error on garbage.
void read_count(const MockRequest& req, std::string_view name, std::int64_t max, std::int64_t& out,
                std::string& error) {
  if (!req.has_header(name)) return;
  std::string_view v = req.header(name);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  std::int64_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size() || n < 0) {
    if (error.empty()) error = std::string(name) + " must be a non-negative integer";
    return;
  }
  out = n > max ? max : n;
}

}  // namespace

MockOptions parse_options(const MockRequest& req, std::string_view model_fault) {
  MockOptions o;
  constexpr std::int64_t kMaxCount = 1'000'000'000'000LL;
  constexpr std::int64_t kMaxDelayMs = 3'600'000;
  if (req.has_header("x-mock-prompt-tokens")) {
    std::int64_t p = 0;
    read_count(req, "x-mock-prompt-tokens", kMaxCount, p, o.error);
    o.prompt_tokens = p;
  }
  read_count(req, "x-mock-output-tokens", kMaxOutputTokens, o.output_tokens, o.error);
  read_count(req, "x-mock-cached-tokens", kMaxCount, o.cached_tokens, o.error);
  read_count(req, "x-mock-cache-write-tokens", kMaxCount, o.cache_write_tokens, o.error);
  read_count(req, "x-mock-reasoning-tokens", kMaxCount, o.reasoning_tokens, o.error);
  read_count(req, "x-mock-ttft-ms", kMaxDelayMs, o.ttft_ms, o.error);
  read_count(req, "x-mock-token-delay-ms", kMaxDelayMs, o.token_delay_ms, o.error);
  read_count(req, "x-mock-header-delay-ms", kMaxDelayMs, o.header_delay_ms, o.error);

  if (req.has_header("x-mock-text-b64")) {
    std::string decoded;
    if (base64_decode(req.header("x-mock-text-b64"), decoded)) {
      o.text = std::move(decoded);
    } else if (o.error.empty()) {
      o.error = "x-mock-text-b64 is not valid base64";
    }
  } else if (req.has_header("x-mock-text")) {
    o.text = std::string(req.header("x-mock-text"));
  }
  auto tc = req.header("x-mock-tool-call");
  o.tool_call = tc == "1" || tc == "true";

  std::string_view fault_name =
      req.has_header("x-mock-fault") ? req.header("x-mock-fault") : model_fault;
  if (auto f = parse_fault(fault_name)) {
    o.fault = *f;
  } else if (o.error.empty()) {
    o.error = "unknown mock fault '" + std::string(fault_name) + "'";
  }
  if (o.fault == Fault::kSlowHeaders && !req.has_header("x-mock-header-delay-ms")) {
    o.header_delay_ms = kSlowHeadersDefaultMs;
  }
  return o;
}

}  // namespace sluice::mock
