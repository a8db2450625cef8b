// Tests for budget windows: calendar days and months in UTC and in a time zone with DST (read
// from the system tz database), fixed windows, and window names.
#include <gtest/gtest.h>

#include "filters/limits_store/calendar.h"

namespace sluice::limits {
namespace {

// 2026-03-15T12:00:00Z and friends, in ms.
constexpr std::int64_t kMar15Noon = 1773576000000;

TEST(Calendar, UtcDay) {
  Window w = window_at(*parse_window("day"), TimeZone::utc(), kMar15Noon);
  EXPECT_EQ(w.start_ms, 1773532800000);  // 2026-03-15T00:00Z
  EXPECT_EQ(w.end_ms, 1773619200000);
  EXPECT_EQ(w.next_end_ms, 1773705600000);
}

TEST(Calendar, UtcMonthAcrossYearEnd) {
  Window w = window_at(*parse_window("month"), TimeZone::utc(), 1798761599000);  // 2026-12-31T23:59:59Z
  EXPECT_EQ(w.start_ms, 1796083200000);   // 2026-12-01
  EXPECT_EQ(w.end_ms, 1798761600000);     // 2027-01-01
  EXPECT_EQ(w.next_end_ms, 1801440000000);  // 2027-02-01
}

TEST(Calendar, ParisDayFollowsDst) {
  std::string err;
  auto tz = TimeZone::load("Europe/Paris", err);
  ASSERT_TRUE(tz) << err;
  // Winter: local midnight is 23:00Z the day before.
  Window w = window_at(*parse_window("day"), *tz, kMar15Noon);
  EXPECT_EQ(w.start_ms, 1773529200000);  // 2026-03-14T23:00Z
  // DST starts 2026-03-29 at 01:00Z; that day has 23 hours.
  Window dst = window_at(*parse_window("day"), *tz, 1774785600000);  // 2026-03-29T12:00Z
  EXPECT_EQ(dst.start_ms, 1774738800000);  // 2026-03-28T23:00Z
  EXPECT_EQ(dst.end_ms, 1774821600000);    // 2026-03-29T22:00Z
  EXPECT_EQ(dst.end_ms - dst.start_ms, 23 * 3600 * 1000);
  // Just before local midnight in summer is still the same local day.
  Window late = window_at(*parse_window("day"), *tz, 1774821599000);
  EXPECT_EQ(late.start_ms, dst.start_ms);
}

TEST(Calendar, TokyoMonth) {
  std::string err;
  auto tz = TimeZone::load("Asia/Tokyo", err);
  ASSERT_TRUE(tz) << err;
  Window w = window_at(*parse_window("month"), *tz, 1772290800000);  // 2026-02-28T15:00Z = Mar 1 00:00 JST
  EXPECT_EQ(w.start_ms, 1772290800000);
}

TEST(Calendar, FixedWindowsAlignToEpoch) {
  auto spec = parse_window("7d");
  ASSERT_TRUE(spec);
  Window w = window_at(*spec, TimeZone::utc(), kMar15Noon);
  EXPECT_EQ(w.start_ms % (7 * 86400000LL), 0);
  EXPECT_LE(w.start_ms, kMar15Noon);
  EXPECT_GT(w.end_ms, kMar15Noon);
  EXPECT_EQ(w.next_end_ms - w.end_ms, 7 * 86400000LL);
}

TEST(Calendar, WindowNames) {
  EXPECT_TRUE(parse_window("30m"));
  EXPECT_TRUE(parse_window("12h"));
  EXPECT_FALSE(parse_window("week"));
  EXPECT_FALSE(parse_window("0d"));
  EXPECT_FALSE(parse_window("-1d"));
  EXPECT_FALSE(parse_window("10s"));
  EXPECT_FALSE(parse_window("400d"));
  EXPECT_FALSE(parse_window(""));
}

TEST(Calendar, UnknownZoneIsAnError) {
  std::string err;
  EXPECT_FALSE(TimeZone::load("Mars/Olympus", err));
  EXPECT_NE(err.find("Mars/Olympus"), std::string::npos);
  EXPECT_FALSE(TimeZone::load("../etc/passwd", err));
  EXPECT_FALSE(TimeZone::parse("x", "not tzif at all, long enough to pass the size check....", err));
}

}  // namespace
}  // namespace sluice::limits
