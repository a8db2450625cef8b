// The request/settlement cycle shared by the budget and ratelimit filters.
//
// One plan per call. Every limits filter of a call adds its checks (every matching rule,
// every limit it sets) to the call's LimitsPlan (StreamContext::shared, kPlanName); the last
// limits filter of the chain reserves all of them at once and the last settlement settles
// all of them at once:
//
//   on_request      build this filter's checks and add them to the plan. A filter followed
//                   by another limits filter stops there (kContinue). The last one executes
//                   the plan: local store: reserve now, atomic over every check of the call;
//                   Redis: kSuspend, and resume_request() makes one EVALSHA round trip for
//                   the whole chain. Then each filter's own verdict follows from its own
//                   checks: headers and alerts of admitted filters; on refusal, the reply and
//                   alert of the first filter (in chain order) one of whose checks failed.
//   on_complete     each filter computes what the call used per check (its event field is
//                   written then); when the last filter of a plan has reported, the plan is
//                   settled: locally at once, on Redis by one script call from a coroutine
//                   spawned on the call's worker (owning copies of what it needs).
//   long calls      a plan's quota reservations on Redis are renewed every
//                   reservation_ttl/3 until the call completes, so they never expire under a
//                   live stream, and do expire (releasing the budget) when the replica that
//                   made them dies.
//
// Checks whose filters use different stores (another Redis, another state file, another key
// prefix) are reserved in one operation per store, still all or none: a store that refuses
// releases what the others reserved.
//
// "Followed by another limits filter": a later entry of StreamContext::chain names one of
// kLimitsFilterNames. A filter run outside a chain (unit tests) executes the plan itself.
//
// When Redis fails (unreachable, timeout, error reply): if any check of that store is
// fail-closed the call is refused with 503 (provider shape); otherwise those checks are
// reserved on this replica's fallback buckets (fallback_store()) and settled there.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "filters/filter.h"
#include "filters/limits_store/limit_check.h"
#include "filters/limits_store/local_store.h"
#include "filters/limits_store/redis_store.h"
#include "filters/limits_store/store_config.h"
#include "filters/registry.h"

namespace sluice::limits {

// Counters every limits filter has, first in its FilterStats table, in this order.
enum CommonStat : std::size_t {
  kChecked,
  kAdmitted,
  kRejected,
  kStoreErrors,
  kFailedOpen,
  kFailedClosed,
  kSettled,
  kSettleErrors,
  kRenewed,
  kRenewErrors,
  kCommonStatCount,
};
#define SLUICE_LIMITS_COMMON_STATS                                                            \
  "checked", "admitted", "rejected", "store_errors", "failed_open", "failed_closed", "settled", \
      "settle_errors", "renewed", "renew_errors"

// The store a config snapshot uses (one per parsed section).
class Limiter {
 public:
  explicit Limiter(const StoreConfig& cfg);
  bool remote() const { return redis_ != nullptr; }
  LocalStore& local() const { return *local_; }
  const RedisStore* redis() const { return redis_.get(); }
  const StoreConfig& config() const { return cfg_; }
  // Limiters with the same store_key() can reserve in one operation.
  const std::string& store_key() const { return store_key_; }

 private:
  StoreConfig cfg_;
  LocalStore* local_ = nullptr;
  std::unique_ptr<RedisStore> redis_;
  std::string store_key_;
};

// What a call holds between admission and settlement.
struct Hold {
  std::vector<LimitCheck> checks;
  Admission admission;
  std::uint64_t id = 0;
  std::string id_text;          // hex, for Redis
  enum class Where { kNone, kLocal, kRedis, kFallback } where = Where::kNone;
  std::string store_error;      // why the store failed, when it did
  std::size_t group = 0;        // its checks are plan group `group`'s, from `offset` on
  std::size_t offset = 0;
};
const char* to_string(Hold::Where w);

struct LimitsPlan;  // a call's limits, shared by its limits filters; limits_filter.cc

// The filters built on LimitsFilter, by their names in filters.chain.
inline constexpr std::string_view kLimitsFilterNames[] = {"budget", "ratelimit"};

class LimitsFilter : public Filter {
 public:
  LimitsFilter(std::shared_ptr<const Limiter> limiter, FilterStats* stats, const char* name)
      : limiter_(std::move(limiter)), stats_(stats), name_(name) {}
  ~LimitsFilter() override;

  FilterStatus on_request(StreamContext& ctx) final;
  boost::asio::awaitable<FilterStatus> resume_request(StreamContext& ctx) final;
  void on_complete(StreamContext& ctx, const StreamInfo& info) final;

 protected:
  // The checks for this call (empty: nothing applies).
  virtual void build_checks(const StreamContext& ctx, std::vector<LimitCheck>& out) = 0;
  // What the call used, per check (same order).
  virtual void actual_use(const StreamContext& ctx, const StreamInfo& info, const Hold& hold,
                          std::vector<std::int64_t>& out) = 0;
  // Fills ctx.reply for a call a check refused (results[i].ok == false for some i).
  virtual void reject(StreamContext& ctx, const Hold& hold) = 0;
  // After admission (headers, alerts) and after settlement (event fields).
  virtual void admitted(StreamContext& ctx, const Hold& hold) {}
  virtual void settled(StreamContext& ctx, const Hold& hold, const std::vector<std::int64_t>& actual) {}

  const Hold& hold() const { return hold_; }
  FilterStats* stats() const { return stats_; }

 private:
  static bool followed_by_limits_filter(const StreamContext& ctx);
  void start_plan(StreamContext& ctx, bool& remote);
  FilterStatus conclude_plan(StreamContext& ctx);
  void refuse_unavailable(StreamContext& ctx);

  std::shared_ptr<const Limiter> limiter_;
  FilterStats* stats_;
  const char* name_;
  Hold hold_;
  std::shared_ptr<LimitsPlan> plan_;
};

inline constexpr std::string_view kPlanName = "limits.plan";

// A fresh random 64-bit reservation id (never 0).
std::uint64_t new_reservation_id();

// 429/503 helpers shared by both filters: headers in the provider's naming.
struct HeaderFacts {
  std::int64_t limit = -1, remaining = -1, reset_ms = 0;  // -1: none
};
void add_limit_headers(std::vector<std::pair<std::string, std::string>>& out, Provider provider,
                       const HeaderFacts& requests, const HeaderFacts& tokens,
                       const HeaderFacts& input_tokens, const HeaderFacts& output_tokens,
                       std::int64_t now_ms);
std::string openai_duration(std::int64_t ms);   // "6m0s", "1s", "250ms"
std::string rfc3339_utc(std::int64_t unix_ms);  // "2026-11-28T04:12:00Z"

}  // namespace sluice::limits
