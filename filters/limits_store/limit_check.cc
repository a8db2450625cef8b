#include "filters/limits_store/limit_check.h"

#include <algorithm>

namespace sluice::limits {

const char* to_string(Unit u) {
  switch (u) {
    case Unit::kRequests: return "requests";
    case Unit::kInputTokens: return "input_tokens";
    case Unit::kOutputTokens: return "output_tokens";
    case Unit::kTotalTokens: return "total_tokens";
    case Unit::kConcurrency: return "concurrency";
    case Unit::kSpendMicroUsd: return "spend_micro_usd";
  }
  return "unknown";
}

namespace {
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

// Level after draining to `now`. Computed without multiplying a large elapsed time by L.
std::int64_t drained(const RateState& s, std::int64_t limit, std::int64_t now_ms) {
  std::int64_t dt = std::max<std::int64_t>(0, now_ms - s.t_ms);
  if (dt >= ceil_div(s.scaled, limit)) return 0;
  return s.scaled - dt * limit;
}
}  // namespace

CheckResult rate_reserve(RateState& s, std::int64_t limit, std::int64_t cost, std::int64_t now_ms,
                         bool apply) {
  constexpr std::int64_t P = kRatePeriodMs;
  CheckResult r;
  std::int64_t level = drained(s, limit, now_ms);
  std::int64_t capacity = limit * P;
  std::int64_t after = level + cost * P;
  if (cost > limit) {
    r.ok = false;
    r.retry_after_ms = -1;
    r.remaining = std::max<std::int64_t>(0, (capacity - level) / P);
    r.reset_ms = ceil_div(level, limit);
    return r;
  }
  if (after > capacity) {
    r.ok = false;
    r.retry_after_ms = ceil_div(after - capacity, limit);
    r.remaining = std::max<std::int64_t>(0, (capacity - level) / P);
    r.reset_ms = ceil_div(level, limit);
    return r;
  }
  r.ok = true;
  r.remaining = (capacity - after) / P;
  r.reset_ms = ceil_div(after, limit);
  if (apply) {
    s.scaled = after;
    s.t_ms = std::max(now_ms, s.t_ms);
  }
  return r;
}

void rate_settle(RateState& s, std::int64_t limit, std::int64_t delta, std::int64_t now_ms) {
  std::int64_t level = drained(s, limit, now_ms);
  s.scaled = std::max<std::int64_t>(0, level + delta * kRatePeriodMs);
  s.t_ms = std::max(now_ms, s.t_ms);
}

CheckResult quota_check(std::int64_t committed, std::int64_t limit, std::int64_t cost,
                        std::int64_t reset_ms) {
  CheckResult r;
  r.committed_before = committed;
  r.reset_ms = reset_ms;
  r.ok = committed + cost <= limit;
  r.remaining = std::max<std::int64_t>(0, limit - committed - (r.ok ? cost : 0));
  if (!r.ok) r.retry_after_ms = cost > limit ? -1 : reset_ms;
  return r;
}

std::int64_t choose_window_start(const LimitCheck& c, std::int64_t now_ms) {
  if (c.window_end_ms == 0) return 0;
  return now_ms >= c.window_end_ms ? c.window_end_ms : c.window_start_ms;
}

std::int64_t window_end_for(const LimitCheck& c, std::int64_t start_ms) {
  if (c.window_end_ms == 0) return 0;
  return start_ms == c.window_start_ms ? c.window_end_ms : c.next_window_end_ms;
}

}  // namespace sluice::limits
