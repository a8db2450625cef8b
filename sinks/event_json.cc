#include "sinks/event_json.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "sinks/json_writer.h"

namespace sluice {

const char* to_string(TokenUsage::Source s) {
  switch (s) {
    case TokenUsage::Source::kProvider:
      return "provider";
    case TokenUsage::Source::kEstimated:
      return "estimated";
    case TokenUsage::Source::kNone:
      break;
  }
  return "none";
}

namespace {

// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the range RFC 3339 can write.
constexpr std::int64_t kMinUnixUs = -62167219200LL * 1'000'000;
constexpr std::int64_t kMaxUnixUs = 253402300799LL * 1'000'000 + 999'999;

void put_digits(char* p, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

template <typename W>
void write_identity(W& w, const Identity& id) {
  w.key("identity");
  w.begin_object();
  w.member("tenant", id.tenant);
  w.member("team", id.team);
  w.member("app", id.app);
  w.member("key_fingerprint", id.key_fingerprint);
  w.member("key_kind", id.key_kind);
  w.end_object();
}

template <typename W>
void write_fragment(W& w, std::string_view json) {
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    w.raw("{}");
  } else if (is_json_object(json)) {
    w.raw(json);
  } else {
    w.begin_object();
    w.member("invalid_json", json);
    w.end_object();
  }
}

template <typename W, std::size_t N>
void write_nullable_int(W& w, const char (&key)[N], std::int64_t v) {
  w.key(key);
  if (v < 0) {
    w.null();
  } else {
    w.int64(v);
  }
}

constexpr std::size_t kTimeLength = 27;  // YYYY-MM-DDTHH:MM:SS.ffffffZ

void format_rfc3339_us(std::int64_t unix_us, char* buf) {
  if (unix_us < kMinUnixUs) unix_us = kMinUnixUs;
  if (unix_us > kMaxUnixUs) unix_us = kMaxUnixUs;
  // Floor division, so that times before 1970 get a non-negative fraction.
  std::int64_t secs = unix_us / 1'000'000;
  std::int64_t micros = unix_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    secs -= 1;
  }
  std::int64_t days = secs / 86400;
  std::int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  // civil_from_days (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);

  put_digits(buf, static_cast<unsigned>(year), 4);
  buf[4] = '-';
  put_digits(buf + 5, static_cast<unsigned>(month), 2);
  buf[7] = '-';
  put_digits(buf + 8, static_cast<unsigned>(day), 2);
  buf[10] = 'T';
  put_digits(buf + 11, static_cast<unsigned>(sod / 3600), 2);
  buf[13] = ':';
  put_digits(buf + 14, static_cast<unsigned>(sod / 60 % 60), 2);
  buf[16] = ':';
  put_digits(buf + 17, static_cast<unsigned>(sod % 60), 2);
  buf[19] = '.';
  put_digits(buf + 20, static_cast<unsigned>(micros), 6);
  buf[26] = 'Z';
}

template <typename W>
void write_time(W& w, std::int64_t unix_us) {
  char buf[kTimeLength];
  format_rfc3339_us(unix_us, buf);
  w.member("time", std::string_view(buf, kTimeLength));
}

}  // namespace

void append_rfc3339_us(std::string& out, std::int64_t unix_us) {
  char buf[kTimeLength];
  format_rfc3339_us(unix_us, buf);
  out.append(buf, kTimeLength);
}

namespace {

template <typename W>
void write_call(W& w, const CallEvent& e) {
  w.begin_object();
  w.member_int64("schema_version", kSchemaVersion);
  w.member("type", "call");
  w.member("event_id", e.event_id);
  w.member("request_id", e.request_id);
  write_time(w, e.start_unix_us);
  write_identity(w, e.identity);
  w.member("provider", e.provider);
  w.member("upstream", e.upstream);
  w.member("endpoint", e.endpoint);
  w.member("method", e.method);
  w.member("path", e.path);
  w.key("model");
  w.begin_object();
  w.member("requested", e.requested_model);
  w.member("served", e.served_model);
  w.end_object();
  w.member_bool("stream", e.stream);
  w.member_int64("status", e.status);
  w.key("error");
  if (e.error_class.empty()) {
    w.null();
  } else {
    w.begin_object();
    w.member("class", e.error_class);
    w.member("source", e.error_source);
    w.end_object();
  }
  w.key("finish_reason");
  if (e.finish_reason.empty()) {
    w.null();
  } else {
    w.string(e.finish_reason);
  }
  w.key("timing_us");
  w.begin_object();
  write_nullable_int(w, "ttfb", e.ttfb_us);
  w.member_int64("total", e.total_us);
  w.member_int64("upstream", e.upstream_us);
  w.member_int64("overhead", e.overhead_us);
  w.end_object();
  w.key("usage");
  w.begin_object();
  w.member_int64("input_tokens", e.usage.input_tokens);
  w.member_int64("cached_input_tokens", e.usage.cached_input_tokens);
  w.member_int64("cache_write_tokens", e.usage.cache_write_tokens);
  w.member_int64("output_tokens", e.usage.output_tokens);
  w.member_int64("reasoning_tokens", e.usage.reasoning_tokens);
  w.member("source", to_string(e.usage.source));
  w.end_object();
  write_nullable_int(w, "cost_micro_usd", e.cost_micro_usd);
  w.key("bytes");
  w.begin_object();
  w.member_int64("request", e.request_bytes);
  w.member_int64("response", e.response_bytes);
  w.end_object();
  w.member_int64("sse_events", e.sse_events);
  w.key("trace");
  if (e.traceparent.empty()) {
    w.null();
  } else {
    w.begin_object();
    w.member("traceparent", e.traceparent);
    w.end_object();
  }
  w.key("filters");
  w.begin_object();
  for (std::size_t i = 0; i < e.filter_fields.size(); ++i) {
    const auto& [name, json] = e.filter_fields[i];
    bool repeated = false;
    // Quadratic, but a chain has a handful of filters; a set would allocate.
    for (std::size_t j = 0; j < i && !repeated; ++j) repeated = e.filter_fields[j].first == name;
    if (repeated) continue;
    w.key(name);
    write_fragment(w, json);
  }
  w.end_object();
  w.member_int64("alerts", e.alerts);
  w.end_object();
}

// Events up to this bound are written into a per-thread buffer and copied out at their exact
// size; larger ones (big filter fragments) into a string of their own.
constexpr std::size_t kScratchMax = 64 * 1024;

}  // namespace

std::size_t max_json_size(const CallEvent& e) {
  // Literal keys, punctuation, numbers (20 characters at most each), the time and the usage
  // source: well under this whatever their values (EventJson.MaxSizeBoundsExtremeEvents).
  std::size_t n = 2048;
  const Identity& id = e.identity;
  for (std::string_view s :
       {std::string_view(e.event_id), std::string_view(e.request_id), std::string_view(id.tenant),
        std::string_view(id.team), std::string_view(id.app), std::string_view(id.key_fingerprint),
        std::string_view(id.key_kind), std::string_view(e.provider), std::string_view(e.upstream),
        std::string_view(e.endpoint), std::string_view(e.method), std::string_view(e.path),
        std::string_view(e.requested_model), std::string_view(e.served_model),
        std::string_view(e.error_class), std::string_view(e.error_source),
        std::string_view(e.finish_reason), std::string_view(e.traceparent)})
    n += JsonWriter::max_quoted_size(s.size());
  // A fragment is written as it is, or as {"invalid_json":"<escaped>"}.
  for (const auto& [name, json] : e.filter_fields)
    n += JsonWriter::max_quoted_size(name.size()) + JsonWriter::max_quoted_size(json.size()) + 24;
  return n;
}

// Into a buffer sized by max_json_size (BufferJsonWriter): std::string's out-of-line append
// per key and value was most of make_record's ~10,000 instructions (callgrind,
// bench/kafka_sink_instructions.sh).
std::string to_json(const CallEvent& e) {
  const std::size_t bound = max_json_size(e);
  thread_local std::string scratch;
  std::string own;
  std::string& buf = bound <= kScratchMax ? scratch : own;
  if (buf.size() < bound) buf.resize(std::max(bound, std::min(2 * buf.size(), kScratchMax)));
  BufferJsonWriter w(buf.data());
  write_call(w, e);
  const auto n = static_cast<std::size_t>(w.end() - buf.data());
  if (n > bound) {
    // max_json_size is wrong: memory past the bound was written. Never carry on.
    std::fprintf(stderr, "sluice: call event JSON of %zu bytes over its bound of %zu\n", n, bound);
    std::abort();
  }
  if (&buf == &own) {
    own.resize(n);
    return own;
  }
  return std::string(buf.data(), n);
}

std::string to_json(const AlertEvent& a) {
  std::string out;
  out.reserve(600 + a.alert_id.size() + a.event_id.size() + a.request_id.size() + a.type.size() +
              a.source.size() + a.identity.tenant.size() + a.identity.team.size() +
              a.identity.app.size() + a.model.size() + a.message.size() + a.details_json.size());
  JsonWriter w(out);
  w.begin_object();
  w.member_int64("schema_version", kSchemaVersion);
  w.member("type", "alert");
  w.member("alert_id", a.alert_id);
  w.member("event_id", a.event_id);
  w.member("request_id", a.request_id);
  write_time(w, a.unix_us);
  w.member("alert_type", a.type);
  w.member("severity", a.severity);
  w.member("source", a.source);
  write_identity(w, a.identity);
  w.member("provider", a.provider);
  w.member("model", a.model);
  w.member("message", a.message);
  w.key("details");
  write_fragment(w, a.details_json);
  w.end_object();
  return out;
}

RecordPtr make_record(const CallEvent& event) {
  auto r = std::make_shared<Record>();
  r->kind = Record::Kind::kEvent;
  r->id = event.event_id;
  r->key = event.identity.tenant;
  r->json = to_json(event);
  return r;
}

RecordPtr make_record(const AlertEvent& alert) {
  auto r = std::make_shared<Record>();
  r->kind = Record::Kind::kAlert;
  r->id = alert.alert_id;
  r->key = alert.identity.tenant;
  r->json = to_json(alert);
  return r;
}

}  // namespace sluice
