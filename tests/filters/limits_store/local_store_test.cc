// Tests for the in-process store: all-or-none admission over several limits, exactness
// across threads, settlement, and spend surviving a restart through the state file.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "filters/limits_store/local_store.h"

namespace sluice::limits {
namespace {

LimitCheck quota(const std::string& key, std::int64_t limit, std::int64_t cost, std::int64_t start = 0,
                 std::int64_t end = 0) {
  LimitCheck c;
  c.kind = LimitKind::kQuota;
  c.unit = Unit::kSpendMicroUsd;
  c.key = key;
  c.limit = limit;
  c.cost = cost;
  c.window_start_ms = start;
  c.window_end_ms = end;
  c.next_window_end_ms = end == 0 ? 0 : 2 * end - start;
  return c;
}

LimitCheck rate(const std::string& key, std::int64_t limit, std::int64_t cost) {
  LimitCheck c;
  c.kind = LimitKind::kRate;
  c.key = key;
  c.limit = limit;
  c.cost = cost;
  return c;
}

constexpr std::int64_t kNow = 1'700'000'000'000;

TEST(LocalStore, AllOrNone) {
  LocalStore store;
  std::vector<LimitCheck> checks{quota("a", 100, 60), quota("b", 50, 60)};
  Admission adm = store.reserve(checks, 1, kNow);
  EXPECT_FALSE(adm.admitted);
  EXPECT_TRUE(adm.results[0].ok);
  EXPECT_FALSE(adm.results[1].ok);
  EXPECT_EQ(store.committed("a", 0), 0);  // nothing reserved on "a" either
  checks[1].limit = 60;
  EXPECT_TRUE(store.reserve(checks, 2, kNow).admitted);
  EXPECT_EQ(store.committed("a", 0), 60);
  EXPECT_EQ(store.committed("b", 0), 60);
}

TEST(LocalStore, SettleReplacesReservationWithActual) {
  LocalStore store;
  std::vector<LimitCheck> checks{quota("s", 1000, 400, kNow - 10, kNow + 1000), rate("r", 1000, 400)};
  Admission adm = store.reserve(checks, 7, kNow);
  ASSERT_TRUE(adm.admitted);
  EXPECT_EQ(store.committed("s", kNow - 10), 400);
  store.settle(checks, adm, 7, {150, 150}, kNow);
  EXPECT_EQ(store.committed("s", kNow - 10), 150);
  EXPECT_EQ(store.rate_level("r", 1000, kNow), 150);
}

TEST(LocalStore, ExactAcrossThreads) {
  // 8 threads race 2000 reservations of 1 against a quota of 100 and a rate of 150 per minute
  // (shared by all): exactly 100 are admitted.
  LocalStore store;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        std::vector<LimitCheck> checks{quota("q", 100, 1), rate("r", 150, 1),
                                       quota("team" + std::to_string(t % 2), 1000, 1)};
        if (store.reserve(checks, static_cast<std::uint64_t>(t * 1000 + i + 1), kNow).admitted) ++admitted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 100);
  EXPECT_EQ(store.committed("q", 0), 100);
  EXPECT_EQ(store.committed("team0", 0) + store.committed("team1", 0), 100);
}

TEST(LocalStore, WindowRollsOver) {
  LocalStore store;
  auto c = quota("d", 100, 100, kNow, kNow + 1000);
  ASSERT_TRUE(store.reserve({c}, 1, kNow).admitted);
  EXPECT_FALSE(store.reserve({c}, 2, kNow + 999).admitted);
  Admission next = store.reserve({c}, 3, kNow + 1000);  // the store's clock is in the next window
  EXPECT_TRUE(next.admitted);
  EXPECT_EQ(next.results[0].window_start_ms, kNow + 1000);
}

TEST(LocalStore, SpendSurvivesRestart) {
  auto path = std::filesystem::temp_directory_path() /
              ("sluice-local-store-" + std::to_string(::getpid()) + ".state");
  std::filesystem::remove(path);
  std::int64_t now = LocalStore::now_ms();
  auto c = quota("tenant|acme:spend:day", 1000, 300, now - 1000, now + 3'600'000);
  {
    LocalStore store(path.string());
    Admission adm = store.reserve({c}, 1, now);
    ASSERT_TRUE(adm.admitted);
    store.settle({c}, adm, 1, {250}, now);
  }  // destruction writes the file
  {
    LocalStore store(path.string());
    EXPECT_EQ(store.committed(c.key, now - 1000), 250);
    c.cost = 751;
    EXPECT_FALSE(store.reserve({c}, 2, now).admitted);
    c.cost = 750;
    EXPECT_TRUE(store.reserve({c}, 3, now).admitted);
  }
  std::filesystem::remove(path);
}

TEST(LocalStore, SweepsEndedWindows) {
  LocalStore store;
  store.sweep_threshold = 4;
  for (int i = 0; i < 300; ++i) {
    auto c = quota("k" + std::to_string(i), 10, 1, kNow - 2000, kNow - 1000);
    c.next_window_end_ms = kNow - 500;  // both windows over: counters are dead once settled
    Admission adm = store.reserve({c}, static_cast<std::uint64_t>(i + 1), kNow);
    store.settle({c}, adm, static_cast<std::uint64_t>(i + 1), {1}, kNow);
  }
  EXPECT_LT(store.size(), 300u);
}

}  // namespace
}  // namespace sluice::limits
