#include "filters/limits_store/local_store.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace sluice::limits {

std::int64_t LocalStore::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

LocalStore::LocalStore(std::string state_file, std::chrono::milliseconds save_interval)
    : state_file_(std::move(state_file)), save_interval_(save_interval) {
  if (state_file_.empty()) return;
  load();
  saver_ = std::thread([this] { saver_loop(); });
}

LocalStore::~LocalStore() {
  if (saver_.joinable()) {
    {
      std::lock_guard lk(saver_mu_);
      stopping_ = true;
    }
    saver_cv_.notify_all();
    saver_.join();
    save_now();
  }
}

void LocalStore::saver_loop() {
  std::unique_lock lk(saver_mu_);
  while (!stopping_) {
    saver_cv_.wait_for(lk, save_interval_, [this] { return stopping_; });
    if (stopping_) break;
    lk.unlock();
    save_now();
    lk.lock();
  }
}

std::string LocalStore::counter_key(const LimitCheck& c, std::int64_t window_start) {
  if (c.kind == LimitKind::kRate || c.window_end_ms == 0) return c.key;
  std::string k = c.key;
  k += '@';
  k += std::to_string(window_start);
  return k;
}

std::size_t LocalStore::shard_of(const std::string& key) const {
  return std::hash<std::string>{}(key) % kShards;
}

Admission LocalStore::reserve(const std::vector<LimitCheck>& checks, std::uint64_t reservation,
                              std::int64_t now) {
  Admission adm;
  adm.now_ms = now;
  adm.results.resize(checks.size());
  // Keys and shards first; then lock every shard involved, in index order.
  std::vector<std::string> keys(checks.size());
  std::vector<std::int64_t> starts(checks.size());
  std::size_t shard_ids[kShards];
  std::size_t nshards = 0;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    starts[i] = checks[i].kind == LimitKind::kQuota ? choose_window_start(checks[i], now) : 0;
    keys[i] = counter_key(checks[i], starts[i]);
    std::size_t s = shard_of(keys[i]);
    if (std::find(shard_ids, shard_ids + nshards, s) == shard_ids + nshards) shard_ids[nshards++] = s;
  }
  std::sort(shard_ids, shard_ids + nshards);
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(nshards);
  for (std::size_t i = 0; i < nshards; ++i) locks.emplace_back(shards_[shard_ids[i]].mu);

  std::vector<Entry*> entries(checks.size());
  bool all_ok = true;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const LimitCheck& c = checks[i];
    Shard& sh = shards_[shard_of(keys[i])];
    auto [it, inserted] = sh.map.try_emplace(keys[i]);
    if (inserted) ++sh.inserts;
    Entry& e = it->second;
    entries[i] = &e;
    if (c.kind == LimitKind::kRate) {
      adm.results[i] = rate_reserve(e.rate, c.limit, c.cost, now, false);
    } else {
      std::int64_t end = window_end_for(c, starts[i]);
      e.window_end_ms = end;
      adm.results[i] = quota_check(e.used + e.reserved, c.limit, c.cost,
                                   end == 0 ? 0 : std::max<std::int64_t>(0, end - now));
      adm.results[i].window_start_ms = starts[i];
    }
    all_ok = all_ok && adm.results[i].ok;
  }
  adm.admitted = all_ok;
  if (all_ok) {
    for (std::size_t i = 0; i < checks.size(); ++i) {
      const LimitCheck& c = checks[i];
      Entry& e = *entries[i];
      if (c.kind == LimitKind::kRate) {
        rate_reserve(e.rate, c.limit, c.cost, now, true);
      } else if (c.cost > 0) {
        e.reserved += c.cost;
        e.reservations.emplace_back(reservation, c.cost);
      }
    }
  }
  for (std::size_t i = 0; i < nshards; ++i) {
    Shard& sh = shards_[shard_ids[i]];
    if (sh.map.size() > sweep_threshold && sh.inserts > sweep_threshold / 4) sweep(sh, now);
  }
  return adm;
}

void LocalStore::settle(const std::vector<LimitCheck>& checks, const Admission& admission,
                        std::uint64_t reservation, const std::vector<std::int64_t>& actual,
                        std::int64_t now) {
  for (std::size_t i = 0; i < checks.size() && i < actual.size(); ++i) {
    const LimitCheck& c = checks[i];
    std::int64_t start = i < admission.results.size() ? admission.results[i].window_start_ms : 0;
    std::string key = counter_key(c, start);
    Shard& sh = shards_[shard_of(key)];
    std::lock_guard lk(sh.mu);
    Entry& e = sh.map[key];
    if (c.kind == LimitKind::kRate) {
      rate_settle(e.rate, c.limit, actual[i] - c.cost, now);
      continue;
    }
    auto it = std::find_if(e.reservations.begin(), e.reservations.end(),
                           [&](const auto& r) { return r.first == reservation; });
    if (it != e.reservations.end()) {
      e.reserved -= it->second;
      e.reservations.erase(it);
    }
    e.used += actual[i];
    if (e.window_end_ms == 0 && c.window_end_ms != 0) e.window_end_ms = window_end_for(c, start);
  }
}

void LocalStore::sweep(Shard& sh, std::int64_t now) {
  sh.inserts = 0;
  for (auto it = sh.map.begin(); it != sh.map.end();) {
    const Entry& e = it->second;
    bool rate_idle = e.rate.scaled == 0 || now - e.rate.t_ms > 2 * kRatePeriodMs;
    bool quota_idle = e.reservations.empty() &&
                      ((e.window_end_ms != 0 && e.window_end_ms <= now) ||
                       (e.window_end_ms == 0 && e.used == 0));
    if (rate_idle && quota_idle) it = sh.map.erase(it);
    else ++it;
  }
}

std::int64_t LocalStore::committed(const std::string& key, std::int64_t window_start) const {
  std::string k = window_start == 0 ? key : key + "@" + std::to_string(window_start);
  const Shard& sh = shards_[shard_of(k)];
  std::lock_guard lk(sh.mu);
  auto it = sh.map.find(k);
  return it == sh.map.end() ? 0 : it->second.used + it->second.reserved;
}

std::pair<std::int64_t, std::int64_t> LocalStore::quota_state(const std::string& key,
                                                              std::int64_t window_start) const {
  std::string k = window_start == 0 ? key : key + "@" + std::to_string(window_start);
  const Shard& sh = shards_[shard_of(k)];
  std::lock_guard lk(sh.mu);
  auto it = sh.map.find(k);
  if (it == sh.map.end()) return {0, 0};
  return {it->second.used, it->second.reserved};
}

std::int64_t LocalStore::rate_level(const std::string& key, std::int64_t limit,
                                    std::int64_t now) const {
  const Shard& sh = shards_[shard_of(key)];
  std::lock_guard lk(sh.mu);
  auto it = sh.map.find(key);
  if (it == sh.map.end()) return 0;
  RateState s = it->second.rate;
  rate_settle(s, limit, 0, now);
  return (s.scaled + kRatePeriodMs - 1) / kRatePeriodMs;
}

std::vector<std::string> LocalStore::describe() const {
  std::vector<std::string> out;
  for (const auto& sh : shards_) {
    std::lock_guard lk(sh.mu);
    for (const auto& [k, e] : sh.map) {
      if (e.used == 0 && e.reserved == 0 && e.rate.scaled == 0) continue;
      out.push_back(k + " used=" + std::to_string(e.used) + " reserved=" +
                    std::to_string(e.reserved) + " rate_level_scaled=" + std::to_string(e.rate.scaled));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t LocalStore::size() const {
  std::size_t n = 0;
  for (const auto& sh : shards_) {
    std::lock_guard lk(sh.mu);
    n += sh.map.size();
  }
  return n;
}

// Format: one counter per line, "<window_end_ms> <used> <key>" (the key last: it may hold
// spaces). Only windowed quota counters with spend are written.
bool LocalStore::save_now() {
  if (state_file_.empty()) return true;
  std::ostringstream out;
  std::int64_t now = now_ms();
  for (const auto& sh : shards_) {
    std::lock_guard lk(sh.mu);
    for (const auto& [k, e] : sh.map)
      if (e.window_end_ms > now && e.used > 0) out << e.window_end_ms << ' ' << e.used << ' ' << k << '\n';
  }
  std::string tmp = state_file_ + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return false;
    f << out.str();
    f.flush();
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), state_file_.c_str()) == 0;
}

void LocalStore::load() {
  std::ifstream f(state_file_);
  if (!f) return;
  std::string line;
  std::int64_t now = now_ms();
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::int64_t end = 0, used = 0;
    if (!(in >> end >> used)) continue;
    in.get();
    std::string key;
    std::getline(in, key);
    if (key.empty() || end <= now || used < 0) continue;
    Shard& sh = shards_[shard_of(key)];
    Entry& e = sh.map[key];
    e.used = used;
    e.window_end_ms = end;
  }
}

LocalStore& local_store_for(const std::string& state_file) {
  static std::mutex mu;
  // Destroyed at exit, which writes each state file one last time.
  static std::map<std::string, std::unique_ptr<LocalStore>> stores;
  std::lock_guard lk(mu);
  auto& s = stores[state_file];
  if (!s) s = std::make_unique<LocalStore>(state_file);
  return *s;
}

LocalStore& fallback_store() {
  static LocalStore* store = new LocalStore();
  return *store;
}

}  // namespace sluice::limits
