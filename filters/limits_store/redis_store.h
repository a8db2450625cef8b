// The Redis limit store, for limits shared by many replicas: one EVALSHA round trip per
// admission (reserve, atomic over every limit of the call) and one per settlement, on the
// calling worker's event loop through resp_client.h. A script Redis does not know yet
// (NOSCRIPT, e.g. after a restart or SCRIPT FLUSH) is sent once with EVAL, which loads it.
//
// Admissions (and settlements) that wait on the same worker at the same time share one
// script call: a worker has at most one admission script call in flight per Redis, and the
// calls that come while it is out go together in the next (up to 64). Alone, a call goes at
// once; under load, one round trip and one script run serve many calls, and each key is read
// and written once per batch (redis_scripts.h). Each call's own reply is its own. An
// admission batch that follows another at once and holds fewer than 14 calls waits
// `batch_wait` for more: fewer, fuller round trips (bench/README.md, "batches sent as sums").
//
// Failures (Redis unreachable, timeout, an error reply) come back as an empty optional with
// the reason in `error`; the caller applies each limit's StorePolicy. A failed batch fails
// each of its calls the same way.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "filters/limits_store/limit_check.h"
#include "filters/limits_store/resp_client.h"
#include "sinks/metrics_text.h"

namespace sluice::limits {

// Per-process counters of the batched script calls (all threads, all stores): script runs
// sent and the calls they carried, per script. calls / runs is the mean batch size.
struct RedisBatchStats {
  std::uint64_t reserve_runs = 0, reserve_calls = 0, settle_runs = 0, settle_calls = 0;
  std::uint64_t settle_retries = 0;  // settlement script calls sent again
  std::uint64_t reserve_whole = 0;   // reserve batches admitted whole (one sum per limit)
  // Settlements handed to settle_async and not yet answered (queued, waiting for more, in
  // flight or between retries): a graceful shutdown waits for them (proxy/server.cc).
  std::uint64_t settlements_pending = 0;
  // How long each admission waited for Redis (its batch's wait, the batch in flight before
  // it, its round trip), failed ones included.
  LatencyHistogram admission_wait;
};
RedisBatchStats redis_batch_stats();

// Prometheus lines for the Redis client (resp_client.h) and the batches, with HELP and TYPE.
void render_redis_metrics(std::string& out);

// One call's share of a batched script call's reply: an admission's figures (the reserve
// script's reply for that call, redis_scripts.h), or why the batch failed.
struct CallReply {
  bool ok = false;
  std::vector<std::int64_t> values;  // reserve, when ok
  std::string error;                 // when not ok
};

// False when settling with `actual` would change nothing: only rates, each used exactly as
// reserved (a requests-per-minute limit). Such a settlement is not sent.
bool settlement_changes(const std::vector<LimitCheck>& checks,
                        const std::vector<std::int64_t>& actual);

class RedisStore {
 public:
  RedisStore(redis::Endpoint endpoint, std::string key_prefix,
             std::chrono::milliseconds reservation_ttl,
             std::chrono::microseconds batch_wait = std::chrono::microseconds(60),
             std::chrono::microseconds settle_wait = std::chrono::microseconds(2000))
      : endpoint_(std::move(endpoint)),
        prefix_(std::move(key_prefix)),
        marker_(prefix_ + "settled"),
        ttl_(reservation_ttl),
        batch_wait_(batch_wait),
        settle_wait_(settle_wait) {}

  boost::asio::awaitable<std::optional<Admission>> reserve(boost::asio::any_io_executor ex,
                                                           const std::vector<LimitCheck>& checks,
                                                           std::string& error) const;
  // Applies what the call used, without waiting: the settlement joins the worker's next
  // settlement batch and `done(ok, error)` is called on `ex`'s io_context when that batch is
  // answered. Its batch is sent again after a lost reply (up to 4 times over ~3 s) and
  // applied once (redis_scripts.h); ok is false when every attempt failed, and the
  // reservations then expire. Returns false, without calling `done`, when the settlement
  // would change nothing (rates used exactly as reserved).
  bool settle_async(const boost::asio::any_io_executor& ex, const std::vector<LimitCheck>& checks,
                    const Admission& admission, const std::vector<std::int64_t>& actual,
                    std::function<void(bool ok, const std::string& error)> done) const;
  // The same, awaited (true when applied or nothing to apply).
  boost::asio::awaitable<bool> settle(boost::asio::any_io_executor ex,
                                      const std::vector<LimitCheck>& checks,
                                      const Admission& admission,
                                      std::vector<std::int64_t> actual,
                                      std::string& error) const;
  // Extends the expiry of the call's quota reservations (moving them to a later bucket, which
  // it stores in admission.expiry_ms); returns how many are still held.
  boost::asio::awaitable<std::optional<std::int64_t>> renew(
      boost::asio::any_io_executor ex, const std::vector<LimitCheck>& checks,
      Admission& admission, std::string& error) const;

  std::chrono::milliseconds reservation_ttl() const { return ttl_; }
  const redis::Endpoint& endpoint() const { return endpoint_; }

 private:
  // An admission from its figures (CallReply::values).
  static bool parse_admission(std::span<const std::int64_t> v,
                              const std::vector<LimitCheck>& checks, Admission& out);

  redis::Endpoint endpoint_;
  std::string prefix_;
  std::string marker_;  // the settlement batches' retry-marker key: "<prefix>settled"
  std::chrono::milliseconds ttl_;
  std::chrono::microseconds batch_wait_;
  std::chrono::microseconds settle_wait_;
};

}  // namespace sluice::limits
