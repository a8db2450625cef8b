// Tests for the limit arithmetic (filters/limits_store/limit_check.h): GCRA burst and refill,
// refunds at settlement, the bound L + t·L/P, quotas and window selection.
#include <gtest/gtest.h>

#include "filters/limits_store/limit_check.h"

namespace sluice::limits {
namespace {

TEST(Rate, BurstOfTheLimitThenRefusal) {
  RateState s;
  const std::int64_t t0 = 1'700'000'000'000;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(rate_reserve(s, 10, 1, t0, true).ok) << i;
  CheckResult r = rate_reserve(s, 10, 1, t0, true);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.retry_after_ms, 6000);  // one request drains in P/L = 6 s
  EXPECT_EQ(r.reset_ms, 60000);
}

TEST(Rate, RefillsSmoothly) {
  RateState s;
  const std::int64_t t0 = 1'700'000'000'000;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(rate_reserve(s, 10, 1, t0, true).ok);
  EXPECT_FALSE(rate_reserve(s, 10, 1, t0 + 5999, true).ok);
  EXPECT_TRUE(rate_reserve(s, 10, 1, t0 + 6000, true).ok);
  EXPECT_FALSE(rate_reserve(s, 10, 1, t0 + 6001, true).ok);
  EXPECT_TRUE(rate_reserve(s, 10, 1, t0 + 12000, true).ok);
}

TEST(Rate, AdmittedNeverExceedsTheBoundOverAnInterval) {
  // Requests every 100 ms for 3 minutes: admitted ≤ L + t·L/P at every point.
  RateState s;
  const std::int64_t L = 30, t0 = 1'700'000'000'000;
  std::int64_t admitted = 0;
  for (std::int64_t t = 0; t <= 180'000; t += 100) {
    if (rate_reserve(s, L, 1, t0 + t, true).ok) ++admitted;
    ASSERT_LE(admitted, L + t * L / kRatePeriodMs) << t;
  }
  EXPECT_GE(admitted, L + 180'000 * L / kRatePeriodMs - 1);
}

TEST(Rate, RejectionDoesNotConsume) {
  RateState s;
  const std::int64_t t0 = 1'000'000;
  ASSERT_TRUE(rate_reserve(s, 100, 90, t0, true).ok);
  EXPECT_FALSE(rate_reserve(s, 100, 20, t0, true).ok);
  EXPECT_TRUE(rate_reserve(s, 100, 10, t0, true).ok);
}

TEST(Rate, CostAboveLimitNeverFits) {
  RateState s;
  CheckResult r = rate_reserve(s, 100, 101, 1'000'000, true);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.retry_after_ms, -1);
}

TEST(Rate, SettleRefundsUnusedReservation) {
  RateState s;
  const std::int64_t t0 = 1'000'000;
  ASSERT_TRUE(rate_reserve(s, 1000, 800, t0, true).ok);
  EXPECT_FALSE(rate_reserve(s, 1000, 300, t0, false).ok);
  rate_settle(s, 1000, 100 - 800, t0);  // used 100 of 800
  EXPECT_TRUE(rate_reserve(s, 1000, 900, t0, false).ok);
  EXPECT_FALSE(rate_reserve(s, 1000, 901, t0, false).ok);
}

TEST(Rate, SettleAboveReservationCharges) {
  RateState s;
  ASSERT_TRUE(rate_reserve(s, 1000, 100, 0, true).ok);
  rate_settle(s, 1000, 400, 0);  // used 500
  EXPECT_TRUE(rate_reserve(s, 1000, 500, 0, false).ok);
  EXPECT_FALSE(rate_reserve(s, 1000, 501, 0, false).ok);
}

TEST(Rate, LargeLimitsStayExact) {
  RateState s;
  const std::int64_t L = kMaxLimit;
  ASSERT_TRUE(rate_reserve(s, L, L, 1'700'000'000'000, true).ok);
  EXPECT_FALSE(rate_reserve(s, L, 1, 1'700'000'000'000, true).ok);
  // After 1 ms, L/60000 units drained.
  EXPECT_TRUE(rate_reserve(s, L, L / kRatePeriodMs, 1'700'000'000'001, true).ok);
}

TEST(Quota, AdmitsUpToTheLimitExactly) {
  EXPECT_TRUE(quota_check(90, 100, 10, 5).ok);
  CheckResult r = quota_check(91, 100, 10, 5);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.remaining, 9);
  EXPECT_EQ(r.retry_after_ms, 5);
  EXPECT_EQ(quota_check(0, 100, 101, 5).retry_after_ms, -1);
}

TEST(Window, StoreClockPicksTheNextWindow) {
  LimitCheck c;
  c.kind = LimitKind::kQuota;
  c.window_start_ms = 1000;
  c.window_end_ms = 2000;
  c.next_window_end_ms = 3000;
  EXPECT_EQ(choose_window_start(c, 1500), 1000);
  EXPECT_EQ(choose_window_start(c, 999), 1000);
  EXPECT_EQ(choose_window_start(c, 2000), 2000);
  EXPECT_EQ(window_end_for(c, 1000), 2000);
  EXPECT_EQ(window_end_for(c, 2000), 3000);
  LimitCheck none;
  EXPECT_EQ(choose_window_start(none, 5), 0);
}

}  // namespace
}  // namespace sluice::limits
