// Budgets and rate limits, in-process store: the cost of checking and reserving the limits of
// one call (issue 5 asks ≤ 2 µs for 4 limits), with and without settlement, on one thread and
// with two threads sharing the same counters (the sharded locks contend).
//
//   build/bench/limits_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "filters/limits_store/local_store.h"

namespace sluice::limits {
namespace {

// A typical hierarchy: key rpm and output tpm (rates), team and tenant spend per day (quotas).
std::vector<LimitCheck> four_checks(int key) {
  std::int64_t now = LocalStore::now_ms();
  auto rate = [&](std::string k, std::int64_t limit, std::int64_t cost) {
    LimitCheck c;
    c.kind = LimitKind::kRate;
    c.key = std::move(k);
    c.limit = limit;
    c.cost = cost;
    return c;
  };
  auto quota = [&](std::string k, std::int64_t limit, std::int64_t cost) {
    LimitCheck c;
    c.kind = LimitKind::kQuota;
    c.key = std::move(k);
    c.limit = limit;
    c.cost = cost;
    c.window_start_ms = now - now % 86'400'000;
    c.window_end_ms = c.window_start_ms + 86'400'000;
    c.next_window_end_ms = c.window_end_ms + 86'400'000;
    return c;
  };
  std::string id = "rl:per-key|key=" + std::to_string(1000000 + key);
  return {rate(id + ":requests", kMaxLimit, 1), rate(id + ":output_tokens", kMaxLimit, 500),
          quota("bg:team|team=search:spend_micro_usd:day", kMaxLimit, 900),
          quota("bg:tenant|tenant=acme:spend_micro_usd:day", kMaxLimit, 900)};
}

LocalStore& store() {
  static LocalStore s;
  return s;
}

void BM_Reserve4(benchmark::State& state) {
  auto checks = four_checks(static_cast<int>(state.thread_index()));
  std::int64_t now = LocalStore::now_ms();
  std::uint64_t id = 1 + static_cast<std::uint64_t>(state.thread_index()) * (1ull << 40);
  for (auto _ : state) {
    Admission a = store().reserve(checks, id++, now);
    benchmark::DoNotOptimize(a);
    // Release the quota reservations so that counters stay small; not timed.
    state.PauseTiming();
    store().settle(checks, a, id - 1, {1, 500, 0, 0}, now);
    state.ResumeTiming();
  }
}
BENCHMARK(BM_Reserve4)->Threads(1)->Threads(2)->UseRealTime();

void BM_Reserve4AndSettle(benchmark::State& state) {
  auto checks = four_checks(static_cast<int>(state.thread_index()));
  std::int64_t now = LocalStore::now_ms();
  std::uint64_t id = 1 + static_cast<std::uint64_t>(state.thread_index()) * (1ull << 40);
  const std::vector<std::int64_t> actual{1, 120, 300, 300};
  for (auto _ : state) {
    Admission a = store().reserve(checks, id, now);
    store().settle(checks, a, id++, actual, now);
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_Reserve4AndSettle)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace sluice::limits
