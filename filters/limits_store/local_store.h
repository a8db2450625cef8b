// The in-process limit store: exact across the worker threads of one process, with the
// arithmetic of limit_check.h. A call's checks are decided atomically: the store locks every
// shard the call touches (in shard order, so two calls never deadlock), checks all, and
// reserves all or none.
//
// Reservations here never expire: they live as long as the process, and a process that dies
// takes its reservations with it. What must survive a restart is spend: with a state file,
// each quota counter that has a window (`used` per window) is written to the file every
// `save_interval` and at destruction (write to a temporary file, then rename), and read back
// at construction. Rate buckets and concurrency are not saved (they refill within a minute).
//
// Memory: counters of ended windows and fully drained buckets are swept when a shard grows
// past `sweep_threshold` entries.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "filters/limits_store/limit_check.h"

namespace sluice::limits {

class LocalStore {
 public:
  explicit LocalStore(std::string state_file = "",
                      std::chrono::milliseconds save_interval = std::chrono::seconds(1));
  ~LocalStore();
  LocalStore(const LocalStore&) = delete;
  LocalStore& operator=(const LocalStore&) = delete;

  // Checks every limit and, when all pass, reserves `cost` on each under `reservation`.
  Admission reserve(const std::vector<LimitCheck>& checks, std::uint64_t reservation,
                    std::int64_t now_ms);
  // Settles a reservation made by reserve(): `actual[i]` for checks[i] (rates: the difference
  // from the reserved cost is applied; quotas: the reservation is replaced by the actual
  // amount). `admission` is what reserve() returned (for the windows it chose).
  void settle(const std::vector<LimitCheck>& checks, const Admission& admission,
              std::uint64_t reservation, const std::vector<std::int64_t>& actual,
              std::int64_t now_ms);

  // Current committed amount (used + open reservations) of a quota counter; 0 if none.
  std::int64_t committed(const std::string& key, std::int64_t window_start_ms) const;
  // A quota counter's settled and reserved amounts (0, 0 if none).
  std::pair<std::int64_t, std::int64_t> quota_state(const std::string& key,
                                                    std::int64_t window_start_ms) const;
  // Current bucket level (in units) of a rate counter.
  std::int64_t rate_level(const std::string& key, std::int64_t limit, std::int64_t now_ms) const;

  // One line per live counter, "key window_start used reserved", for /admin/usage.
  std::vector<std::string> describe() const;

  bool save_now();  // writes the state file (no-op without one); false on an I/O error
  std::size_t size() const;

  static std::int64_t now_ms();

  std::size_t sweep_threshold = 100'000;

 private:
  struct Entry {
    RateState rate;
    std::int64_t used = 0;
    std::int64_t reserved = 0;
    std::int64_t window_end_ms = 0;
    std::vector<std::pair<std::uint64_t, std::int64_t>> reservations;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> map;
    std::size_t inserts = 0;
  };
  static constexpr std::size_t kShards = 32;

  static std::string counter_key(const LimitCheck& c, std::int64_t window_start);
  std::size_t shard_of(const std::string& key) const;
  void sweep(Shard& s, std::int64_t now_ms);
  void load();
  void saver_loop();

  Shard shards_[kShards];
  std::string state_file_;
  std::chrono::milliseconds save_interval_;
  std::mutex saver_mu_;
  std::condition_variable saver_cv_;
  bool stopping_ = false;
  std::thread saver_;
};

// The process's in-process store for a state file path ("" = memory only), created once and
// shared by every config snapshot naming the same file, so a reload keeps the counters.
LocalStore& local_store_for(const std::string& state_file);
// The per-replica buckets used when a Redis-backed limit fails open.
LocalStore& fallback_store();

}  // namespace sluice::limits
