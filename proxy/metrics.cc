#include "proxy/metrics.h"

namespace sluice {

const char* to_string(ClientError e) {
  switch (e) {
    case ClientError::kBadRequest:
      return "bad_request";
    case ClientError::kHeaderTooLarge:
      return "header_too_large";
    case ClientError::kTooManyHeaders:
      return "too_many_headers";
    case ClientError::kBodyTooLarge:
      return "body_too_large";
    case ClientError::kHeaderTimeout:
      return "header_timeout";
    case ClientError::kBodyTimeout:
      return "body_timeout";
    case ClientError::kIdleTimeout:
      return "idle_timeout";
    case ClientError::kWriteTimeout:
      return "write_timeout";
    case ClientError::kUnsupportedMedia:
      return "unsupported_media_type";
    case ClientError::kSmuggling:
      return "smuggling";
    case ClientError::kBadJson:
      return "bad_json";
    case ClientError::kRouteNotFound:
      return "route_not_found";
    case ClientError::kAuthRefused:
      return "auth_refused";
    case ClientError::kCount:
      break;
  }
  return "unknown";
}

ProxyMetrics::ProxyMetrics(int workers) {
  for (int i = 0; i < workers + 1; ++i) shards_.push_back(std::make_unique<Shard>());
}

void ProxyMetrics::record_call(int worker, const CallRecord& c) {
  Shard& s = *shards_[static_cast<std::size_t>(worker) % shards_.size()];
  std::lock_guard lock(s.mu);
  SeriesKey key{c.provider, c.model, c.status};
  auto it = s.requests.find(key);
  if (it == s.requests.end()) {
    {
      std::lock_guard series_lock(series_mu_);
      if (!series_.count(key)) {
        if (series_.size() >= kMaxSeries) std::get<1>(key) = "other";
        series_.insert(key);
      }
    }
    it = s.requests.find(key);
    if (it == s.requests.end()) it = s.requests.emplace(std::move(key), 0).first;
  }
  ++it->second;
  if (!c.error_class.empty()) ++s.errors[c.error_class];
  auto& tok = s.tokens[c.provider];
  tok[0] += static_cast<std::uint64_t>(c.input_tokens);
  tok[1] += static_cast<std::uint64_t>(c.output_tokens);
  // Per tenant and model (dashboards: tokens and spend per tenant and model), under the same
  // series cap as the model label.
  std::pair<std::string, std::string> ukey{c.tenant, c.model};
  auto uit = s.usage.find(ukey);
  if (uit == s.usage.end()) {
    {
      std::lock_guard series_lock(series_mu_);
      if (!usage_series_.count(ukey)) {
        if (usage_series_.size() >= kMaxSeries) ukey = {"other", "other"};
        usage_series_.insert(ukey);
      }
    }
    uit = s.usage.try_emplace(std::move(ukey)).first;
  }
  uit->second[0] += static_cast<std::uint64_t>(c.input_tokens);
  uit->second[1] += static_cast<std::uint64_t>(c.output_tokens);
  if (c.cost_micro_usd > 0) uit->second[2] += static_cast<std::uint64_t>(c.cost_micro_usd);
  s.total.observe(c.total_us);
  s.overhead.observe(c.overhead_us);
  if (c.ttfb_us >= 0) s.ttfb.observe(c.ttfb_us);
}

namespace {
void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void gauge(std::string& out, const char* name, const char* type, const char* help, std::int64_t v) {
  header(out, name, type, help);
  out += name;
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

void histogram(std::string& out, const char* name, const char* help, const LatencyHistogram& h) {
  append_histogram(out, name, help, h);
}

std::string label_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}
}  // namespace

void ProxyMetrics::render(std::string& out) const {
  std::map<SeriesKey, std::uint64_t> requests;
  std::map<std::string, std::uint64_t> errors;
  std::map<std::string, std::array<std::uint64_t, 2>> tokens;
  std::map<std::pair<std::string, std::string>, std::array<std::uint64_t, 3>> usage;
  LatencyHistogram total, overhead, ttfb;
  for (const auto& sp : shards_) {
    std::lock_guard lock(sp->mu);
    for (const auto& [k, v] : sp->usage)
      for (int i = 0; i < 3; ++i) usage[k][i] += v[i];
    for (const auto& [k, v] : sp->requests) requests[k] += v;
    for (const auto& [k, v] : sp->errors) errors[k] += v;
    for (const auto& [k, v] : sp->tokens) {
      tokens[k][0] += v[0];
      tokens[k][1] += v[1];
    }
    total.merge(sp->total);
    overhead.merge(sp->overhead);
    ttfb.merge(sp->ttfb);
  }
  header(out, "sluice_requests_total", "counter",
         "Calls by provider, model and status sent to the client.");
  for (const auto& [k, v] : requests) {
    out += "sluice_requests_total{provider=\"" + label_escape(std::get<0>(k)) + "\",model=\"" +
           label_escape(std::get<1>(k)) + "\",status=\"" + std::to_string(std::get<2>(k)) + "\"} " +
           std::to_string(v) + "\n";
  }
  header(out, "sluice_call_errors_total", "counter", "Failed calls by error class.");
  for (const auto& [k, v] : errors)
    out +=
        "sluice_call_errors_total{class=\"" + label_escape(k) + "\"} " + std::to_string(v) + "\n";
  header(out, "sluice_tokens_total", "counter", "Tokens by provider and direction.");
  for (const auto& [k, v] : tokens) {
    out += "sluice_tokens_total{provider=\"" + label_escape(k) + "\",direction=\"input\"} " +
           std::to_string(v[0]) + "\n";
    out += "sluice_tokens_total{provider=\"" + label_escape(k) + "\",direction=\"output\"} " +
           std::to_string(v[1]) + "\n";
  }
  header(out, "sluice_tenant_tokens_total", "counter", "Tokens by tenant, model and direction.");
  for (const auto& [k, v] : usage) {
    const std::string labels =
        "tenant=\"" + label_escape(k.first) + "\",model=\"" + label_escape(k.second) + "\"";
    out += "sluice_tenant_tokens_total{" + labels + ",direction=\"input\"} " +
           std::to_string(v[0]) + "\n";
    out += "sluice_tenant_tokens_total{" + labels + ",direction=\"output\"} " +
           std::to_string(v[1]) + "\n";
  }
  header(out, "sluice_spend_microdollars_total", "counter",
         "Spend priced by the budget filter, in micro-dollars, by tenant and model.");
  for (const auto& [k, v] : usage) {
    out += "sluice_spend_microdollars_total{tenant=\"" + label_escape(k.first) + "\",model=\"" +
           label_escape(k.second) + "\"} " + std::to_string(v[2]) + "\n";
  }
  histogram(out, "sluice_request_duration_seconds", "Total call duration.", total);
  histogram(
      out, "sluice_overhead_seconds",
      "Sluice's own time per call: total minus time waiting on the provider and on the client.",
      overhead);
  histogram(out, "sluice_ttfb_seconds", "Time to the first response byte sent to the client.",
            ttfb);
  header(out, "sluice_client_errors_total", "counter", "Client protocol errors by reason.");
  for (int i = 0; i < static_cast<int>(ClientError::kCount); ++i) {
    out += std::string("sluice_client_errors_total{reason=\"") +
           to_string(static_cast<ClientError>(i)) + "\"} " +
           std::to_string(client_errors_[i].load(std::memory_order_relaxed)) + "\n";
  }
  auto ld = [](const auto& a) {
    return static_cast<std::int64_t>(a.load(std::memory_order_relaxed));
  };
  gauge(out, "sluice_connections_active", "gauge", "Open client connections.",
        ld(connections_active));
  gauge(out, "sluice_connections_total", "counter", "Accepted client connections.",
        ld(connections_total));
  gauge(out, "sluice_calls_active", "gauge", "Calls in flight.", ld(calls_active));
  gauge(out, "sluice_streams_active", "gauge", "Streamed responses in flight.", ld(streams_active));
  gauge(out, "sluice_upstream_connects_total", "counter", "New upstream connections.",
        ld(upstream_connects));
  gauge(out, "sluice_upstream_connect_errors_total", "counter",
        "Failed upstream connection attempts.", ld(upstream_connect_errors));
  gauge(out, "sluice_upstream_reused_total", "counter",
        "Calls served on a pooled upstream connection.", ld(upstream_reused));
  gauge(out, "sluice_upstream_retries_total", "counter",
        "Calls retried once on a fresh connection after a stale pooled one failed.",
        ld(upstream_retries));
  gauge(out, "sluice_upstream_compressed_responses_total", "counter",
        "Upstream responses with a Content-Encoding although Sluice asked for identity (relayed; "
        "usage unreadable).",
        ld(upstream_compressed));
  gauge(out, "sluice_upstream_idle_connections", "gauge", "Idle pooled upstream connections.",
        ld(upstream_idle));
  gauge(out, "sluice_sse_oversize_events_total", "counter",
        "SSE events larger than max_sse_event_bytes (passed through unparsed).",
        ld(sse_oversize_events));
  gauge(out, "sluice_sse_malformed_events_total", "counter",
        "SSE events whose data was not the JSON the adapter expected.", ld(sse_malformed_events));
  gauge(out, "sluice_client_disconnects_total", "counter",
        "Calls the client abandoned before the response ended.", ld(client_disconnects));
  gauge(out, "sluice_events_published_total", "counter", "Call events handed to the sinks.",
        ld(events_published));
  gauge(out, "sluice_alerts_published_total", "counter", "Alerts handed to the sinks.",
        ld(alerts_published));
  out +=
      "# HELP sluice_tunnels_total CONNECT requests by outcome.\n# TYPE sluice_tunnels_total "
      "counter\n";
  out += "sluice_tunnels_total{result=\"ok\"} " + std::to_string(ld(tunnels_ok)) + "\n";
  out += "sluice_tunnels_total{result=\"refused\"} " + std::to_string(ld(tunnels_refused)) + "\n";
  out += "sluice_tunnels_total{result=\"failed\"} " + std::to_string(ld(tunnels_failed)) + "\n";
  gauge(out, "sluice_tunnels_active", "gauge", "Open CONNECT tunnels.", ld(tunnels_active));
  gauge(out, "sluice_listener_tls_handshake_failures_total", "counter",
        "Failed TLS handshakes on the API listener (listener.tls_cert).",
        ld(tls_handshake_failures));
  out +=
      "# HELP sluice_intercepts_total CONNECTs to intercepted hosts by outcome of the TLS "
      "handshake.\n# TYPE sluice_intercepts_total counter\n";
  out += "sluice_intercepts_total{result=\"ok\"} " + std::to_string(ld(intercepts_ok)) + "\n";
  out +=
      "sluice_intercepts_total{result=\"failed\"} " + std::to_string(ld(intercepts_failed)) + "\n";
  out +=
      "# HELP sluice_tunnel_bytes_total Bytes relayed through CONNECT tunnels.\n# TYPE "
      "sluice_tunnel_bytes_total counter\n";
  out +=
      "sluice_tunnel_bytes_total{direction=\"up\"} " + std::to_string(ld(tunnel_bytes_up)) + "\n";
  out += "sluice_tunnel_bytes_total{direction=\"down\"} " + std::to_string(ld(tunnel_bytes_down)) +
         "\n";
  gauge(out, "sluice_durable_waits_total", "counter",
        "Responses whose final bytes waited for their event to be durable (fsync: always).",
        ld(durable_waits));
  gauge(out, "sluice_durable_wait_microseconds_total", "counter",
        "Time final bytes waited for event durability, summed (µs).", ld(durable_wait_us));
  gauge(out, "sluice_durable_wait_timeouts_total", "counter",
        "Final bytes released because durability took longer than 5 s.", ld(durable_wait_timeouts));
  gauge(out, "sluice_durable_rejected_total", "counter",
        "Responses cut because their event was refused (spool full, fail_closed).",
        ld(durable_rejected));
}

}  // namespace sluice
