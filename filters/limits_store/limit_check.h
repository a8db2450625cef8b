// The two kinds of limit the budget and ratelimit filters check, and their exact arithmetic,
// shared by the in-process store (local_store.h) and the Redis store (redis_store.h, whose
// Lua scripts do the same integer arithmetic, step by step, in the same order).
//
// Rate (requests, input/output tokens per minute): GCRA in its "leaky bucket as a meter"
// form. A bucket of capacity L drains L units per period P (one minute). A reservation of
// cost c is admitted when level + c ≤ L and then fills the bucket by c. So a burst of L is
// admitted at once, then L per period: in any interval of length t at most L + t·L/P units.
// Arithmetic is in integers scaled by P (milliseconds) so that draining is exact:
//     scaled = level·P;  drain(Δt ms) = Δt·L;  admit when scaled + c·P ≤ L·P.
// Settling adds (actual − reserved)·P (clamped at 0), so unused reservation is given back.
//
// Quota (spend, total tokens per window, concurrency): a counter per window (a calendar day
// or month in a time zone, a fixed window, or no window for concurrency) holding what was
// settled (`used`) and open reservations, each with an expiry. Admit when
//     used + Σ open reservations + c ≤ L.
// Settling removes the reservation and adds the actual amount to `used` (concurrency settles
// with 0). An expired reservation no longer counts, so a crashed replica cannot hold budget
// forever; the owner renews reservations of long calls well before they expire.
//
// Values stay below 2^53 (Lua numbers are doubles): limits are validated ≤ kMaxLimit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::limits {

inline constexpr std::int64_t kMaxLimit = 10'000'000'000;  // 1e10 per limit
inline constexpr std::int64_t kRatePeriodMs = 60'000;      // every rate is per minute

enum class LimitKind : std::uint8_t { kRate, kQuota };

// What a limit counts, for headers, alerts and the reply.
enum class Unit : std::uint8_t {
  kRequests,
  kInputTokens,
  kOutputTokens,
  kTotalTokens,
  kConcurrency,
  kSpendMicroUsd,
};
const char* to_string(Unit u);

// When the shared store cannot be reached: admit against a per-replica bucket (open) or
// refuse the call (closed).
enum class StorePolicy : std::uint8_t { kFailOpen, kFailClosed };

// One limit to check for one call.
struct LimitCheck {
  LimitKind kind = LimitKind::kRate;
  Unit unit = Unit::kRequests;
  std::string key;              // identity of the counter, without the window
  std::int64_t limit = 0;       // L
  std::int64_t cost = 0;        // c, what this call reserves
  // Quota windows [start, end) in Unix ms; the next window is [end, next_end). start = end = 0:
  // no window (concurrency). The store picks the window from its own clock.
  std::int64_t window_start_ms = 0;
  std::int64_t window_end_ms = 0;
  std::int64_t next_window_end_ms = 0;
  StorePolicy policy = StorePolicy::kFailOpen;
  std::string label;            // for replies and alerts, e.g. "ratelimit per-key requests"
};

// The verdict on one check.
struct CheckResult {
  bool ok = false;
  std::int64_t remaining = 0;       // what is left after this call's reservation (or now)
  std::int64_t retry_after_ms = 0;  // rejected: when it could fit; -1: never (cost > limit)
  std::int64_t reset_ms = 0;        // until the limit is fully available again
  std::int64_t committed_before = 0;  // quota: used + reservations before this call
  std::int64_t window_start_ms = 0;   // quota: the window the store chose
};

struct Admission {
  bool admitted = false;
  std::vector<CheckResult> results;  // one per check, same order
  std::int64_t now_ms = 0;           // the store's clock
  // Redis store: the expiry bucket holding the call's quota reservations (redis_scripts.h),
  // moved by each renewal. 0 in the in-process store, whose reservations are its own.
  std::int64_t expiry_ms = 0;
};

// What the call really used, per check, at settlement.
struct Settlement {
  std::int64_t actual = 0;
};

// --- The arithmetic itself (in-process store and tests; the Lua scripts mirror it). ---

struct RateState {
  std::int64_t scaled = 0;   // level · P
  std::int64_t t_ms = 0;     // last update
};

// Drains to `now`, then admits or rejects `cost`; updates `s` only when admitted.
CheckResult rate_reserve(RateState& s, std::int64_t limit, std::int64_t cost, std::int64_t now_ms,
                         bool apply);
void rate_settle(RateState& s, std::int64_t limit, std::int64_t delta, std::int64_t now_ms);

// Quota admission given `committed` (used + open reservations).
CheckResult quota_check(std::int64_t committed, std::int64_t limit, std::int64_t cost,
                        std::int64_t reset_ms);

// Calendar/fixed window chosen by the store's clock: the current one, or the next one when
// `now` has passed the caller's window end.
std::int64_t choose_window_start(const LimitCheck& c, std::int64_t now_ms);
std::int64_t window_end_for(const LimitCheck& c, std::int64_t start_ms);

}  // namespace sluice::limits
