// Sluice's own metrics, rendered in Prometheus text format on the admin listener's /metrics.
//
// Counters touched on every call live in per-worker shards (each worker thread records into
// its own shard; the scrape takes each shard's mutex briefly), so the call path never
// contends. Label sets that come from clients (model names) are capped: past
// kMaxSeries distinct (provider, model, status) sets, new ones are recorded as model="other".
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sinks/metrics_text.h"

namespace sluice {

// Client-side protocol problems, each a counter (sluice_client_errors_total{reason}).
enum class ClientError {
  kBadRequest,
  kHeaderTooLarge,
  kTooManyHeaders,
  kBodyTooLarge,
  kHeaderTimeout,
  kBodyTimeout,
  kIdleTimeout,
  kWriteTimeout,
  kUnsupportedMedia,
  kSmuggling,
  kBadJson,
  kRouteNotFound,
  kAuthRefused,
  kCount
};
const char* to_string(ClientError e);

struct CallRecord {
  std::string provider;
  std::string model;
  int status = 0;
  bool stream = false;
  std::string error_class;
  std::int64_t total_us = 0, overhead_us = 0, ttfb_us = -1;
  std::int64_t input_tokens = 0, output_tokens = 0;
  std::string tenant;
  std::int64_t cost_micro_usd = -1;  // -1: not priced (no budget filter)
};

class ProxyMetrics {
 public:
  static constexpr std::size_t kMaxSeries = 2000;
  explicit ProxyMetrics(int workers);

  // Called on worker `worker`'s thread.
  void record_call(int worker, const CallRecord& call);
  void client_error(ClientError e) {
    client_errors_[static_cast<int>(e)].fetch_add(1, std::memory_order_relaxed);
  }

  std::atomic<std::int64_t> connections_active{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::int64_t> calls_active{0};
  std::atomic<std::int64_t> streams_active{0};
  std::atomic<std::uint64_t> upstream_connects{0};
  std::atomic<std::uint64_t> upstream_connect_errors{0};
  std::atomic<std::uint64_t> upstream_reused{0};
  std::atomic<std::uint64_t> upstream_retries{0};
  std::atomic<std::uint64_t> upstream_compressed{0};  // responses encoded despite identity
  std::atomic<std::int64_t> upstream_idle{0};
  std::atomic<std::uint64_t> sse_oversize_events{0};
  std::atomic<std::uint64_t> sse_malformed_events{0};
  std::atomic<std::uint64_t> client_disconnects{0};
  std::atomic<std::uint64_t> events_published{0};
  std::atomic<std::uint64_t> alerts_published{0};
  // CONNECT tunnels (HTTPS_PROXY mode).
  std::atomic<std::uint64_t> tunnels_ok{0};
  std::atomic<std::uint64_t> tunnels_refused{0};  // policy, private destination, bad target
  std::atomic<std::uint64_t> tunnels_failed{0};   // resolve or connect failed
  std::atomic<std::int64_t> tunnels_active{0};
  std::atomic<std::uint64_t> tunnel_bytes_up{0};
  std::atomic<std::uint64_t> tunnel_bytes_down{0};
  std::atomic<std::uint64_t> intercepts_ok{0};           // TLS terminated with a minted certificate
  std::atomic<std::uint64_t> intercepts_failed{0};       // handshake failed, SNI mismatch, minting
  std::atomic<std::uint64_t> tls_handshake_failures{0};  // the API listener's TLS (tls_cert)
  // fsync: always — responses whose final bytes waited for their event to be durable.
  std::atomic<std::uint64_t> durable_waits{0};
  std::atomic<std::uint64_t> durable_wait_us{0};        // sum of the waits
  std::atomic<std::uint64_t> durable_wait_timeouts{0};  // released after kDurableWait anyway
  std::atomic<std::uint64_t> durable_rejected{0};       // fail_closed: response cut instead

  void render(std::string& out) const;

 private:
  using SeriesKey = std::tuple<std::string, std::string, int>;  // provider, model, status
  struct Shard {
    mutable std::mutex mu;
    std::map<SeriesKey, std::uint64_t> requests;
    std::map<std::string, std::uint64_t> errors;                 // error_class
    std::map<std::string, std::array<std::uint64_t, 2>> tokens;  // provider -> in, out
    // (tenant, model) -> input tokens, output tokens, spend in micro-dollars
    std::map<std::pair<std::string, std::string>, std::array<std::uint64_t, 3>> usage;
    LatencyHistogram total, overhead, ttfb;
  };
  std::vector<std::unique_ptr<Shard>> shards_;
  // Distinct label sets across all shards, for the cap; consulted only the first time a shard
  // sees a set, so the common path never takes this lock.
  std::mutex series_mu_;
  std::set<SeriesKey> series_;
  std::set<std::pair<std::string, std::string>> usage_series_;  // guarded by series_mu_
  std::array<std::atomic<std::uint64_t>, static_cast<int>(ClientError::kCount)> client_errors_{};
};

}  // namespace sluice
