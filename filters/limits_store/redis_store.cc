#include "filters/limits_store/redis_store.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <unordered_map>

#include "filters/limits_store/local_store.h"
#include "filters/limits_store/redis_scripts.h"
#include "sinks/event_id.h"
#include "sinks/metrics_text.h"

namespace sluice::limits {

namespace asio = boost::asio;

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// At most this many calls share one script call: a script blocks Redis while it runs, and a
// batch of 64 admissions runs for well under a millisecond. A settlement batch is sent as
// sums per limit and expiry bucket, so its size and Redis's time on it hardly grow with its
// calls (~21 instructions a call, bench/limits_redis_scripts.py): it may hold many more.
constexpr std::size_t kMaxBatch = 64;
constexpr std::size_t kMaxSettleBatch = 1024;
// ... but each distinct definition (a counter) costs the settle script a few commands of its
// own, ~25,000 instructions: a batch holds at most this many, ~2 ms of Redis, about what a
// full admission batch on 64 different keys takes.
constexpr std::size_t kMaxSettleDefs = 256;

// "<verb> <sha-or-body> 0" followed by `parts`, arguments already RESP-encoded (`nargs` of
// them), as one command.
std::string encode_script_call(std::string_view verb, std::string_view script,
                               const std::vector<std::string_view>& parts, std::size_t nargs) {
  redis::RespArgs head;
  head.add(verb);
  head.add(script);
  head.add("0");
  std::size_t bytes = 24 + head.bytes().size();
  for (auto p : parts) bytes += p.size();
  std::string out;
  out.reserve(bytes);
  out += '*';
  out += std::to_string(head.count() + nargs);
  out += "\r\n";
  out += head.bytes();
  for (auto p : parts) out += p;
  return out;
}

// EVALSHA, and EVAL once when Redis answers NOSCRIPT (a restarted Redis, SCRIPT FLUSH): EVAL
// runs the script and loads it.
asio::awaitable<redis::RespResult> run_script(asio::any_io_executor ex, const redis::Endpoint& ep,
                                              const LuaScript& script,
                                              std::vector<std::string_view> parts,
                                              std::size_t nargs, bool deferred) {
  redis::RespResult r = co_await redis::resp_command_encoded(
      ex, ep, encode_script_call("EVALSHA", script.sha1, parts, nargs), deferred);
  if (r.ok && r.value.is_error() && r.value.str.rfind("NOSCRIPT", 0) == 0) {
    r = co_await redis::resp_command_encoded(
        ex, ep, encode_script_call("EVAL", script.body, parts, nargs), deferred);
  }
  co_return r;
}

std::atomic<std::uint64_t> g_runs[2]{}, g_calls[2]{};  // [0] reserve, [1] settle
std::atomic<std::uint64_t> g_retries{0};                 // settlement batches sent again
std::atomic<std::uint64_t> g_whole{0};                   // reserve batches admitted whole
std::atomic<std::uint64_t> g_settle_pending{0};          // settle_async calls not yet answered
// How long admissions waited for Redis (all threads): recorded once per call, under a lock
// that is held for a few instructions.
std::mutex g_admission_wait_mu;
LatencyHistogram g_admission_wait;

// A settlement batch is sent up to this many times, the n-th retry n steps after the last
// failure (0.5, 1 and 1.5 s): past that its reservations simply expire.
constexpr int kSettleAttempts = 4;
constexpr std::chrono::milliseconds kSettleRetryStep{500};

std::string describe_failure(const redis::RespResult& r) {
  if (!r.ok) return r.error;
  if (r.value.is_error()) return "redis error: " + r.value.str.substr(0, 200);
  return "unexpected reply";
}

using redis::append_decimal;

// One check of a call as a batch sends it: its definition (redis_scripts.h), a slice of its
// entry's `defs`, and its amounts.
struct EntryCheck {
  std::uint32_t at = 0, len = 0;  // settle: the definition, BatchEntry::defs[at, at + len)
  bool rate = true;
  std::int64_t limit = 0;     // reserve: L, for the figures of a batch admitted whole
  std::int64_t amount = 0;    // reserve: the cost; settle: a rate's actual − reserved, a
                              // quota's actual amount
  std::int64_t reserved = 0;  // settle, a quota: the reservation it gives back
  std::int64_t hint = 0;      // settle, a quota: its counter's ttl if this settlement creates it
};

// One call's share of a batched script call: its checks. A batch sends each definition once.
struct BatchEntry {
  // An admission's checks are its caller's, who awaits the reply (with its store's key
  // prefix); a settlement, which nobody awaits, has its definitions written out in `defs`.
  const std::vector<LimitCheck>* source = nullptr;
  std::string_view prefix;
  std::string defs;
  std::vector<EntryCheck> checks;
  std::int64_t expiry = 0;  // settle: the call's expiry bucket
  std::string marker;       // settle: its store's retry-marker key
  std::function<void(CallReply&&)> done;  // called once, on the batch's io_context
  std::string_view def(const EntryCheck& c) const { return {defs.data() + c.at, c.len}; }
};

// The distinct definitions of a batch, in the order they first come. A batch mostly holds a
// few (its calls share their limits): a linear search, and a map past 16.
template <typename Def, typename Hash = std::hash<Def>>
class DefIndex {
 public:
  // The definition's index, and whether it is new.
  std::pair<std::uint32_t, bool> add(const Def& d) {
    if (map_.empty()) {
      for (std::uint32_t i = 0; i < defs_.size(); ++i)
        if (defs_[i] == d) return {i, false};
      if (defs_.size() == 16)
        for (std::uint32_t i = 0; i < defs_.size(); ++i) map_.emplace(defs_[i], i);
    } else if (auto it = map_.find(d); it != map_.end()) {
      return {it->second, false};
    }
    const auto i = static_cast<std::uint32_t>(defs_.size());
    defs_.push_back(d);
    if (!map_.empty()) map_.emplace(d, i);
    return {i, true};
  }
  const std::vector<Def>& defs() const { return defs_; }

 private:
  std::vector<Def> defs_;
  std::unordered_map<Def, std::uint32_t, Hash> map_;
};

// An admission's check as a definition (redis_scripts.h), compared by what its text would
// say: written out once per batch, not once per call (its three window bounds are long
// numbers to format).
struct CheckDef {
  std::string_view prefix;
  const LimitCheck* check = nullptr;
  bool operator==(const CheckDef& o) const {
    const LimitCheck& a = *check;
    const LimitCheck& b = *o.check;
    return a.kind == b.kind && a.limit == b.limit && a.window_start_ms == b.window_start_ms &&
           a.window_end_ms == b.window_end_ms && a.next_window_end_ms == b.next_window_end_ms &&
           a.key == b.key && prefix == o.prefix;
  }
};
struct CheckDefHash {
  std::size_t operator()(const CheckDef& d) const {
    return std::hash<std::string_view>{}(d.check->key) ^
           static_cast<std::size_t>(d.check->limit) * 0x9E3779B97F4A7C15ULL ^
           static_cast<std::size_t>(d.check->window_start_ms);
  }
};

void add_definition(redis::RespArgs& a, const CheckDef& d) {
  const LimitCheck& c = *d.check;
  if (c.kind == LimitKind::kRate) {
    a.add({"r ", c.limit, " ", d.prefix, c.key});
  } else {
    a.add({"q ", c.limit, " ", c.window_start_ms, " ", c.window_end_ms, " ",
           c.next_window_end_ms, " ", d.prefix, c.key});
  }
}

// A reserve batch as the script takes it (redis_scripts.h), and what is needed to read the
// reply of a batch admitted whole: per check its definition's index, per definition whether
// it is a rate.
struct ReserveBatch {
  redis::RespArgs args;
  std::vector<std::uint32_t> index;  // per check of every call, in order
  std::vector<bool> rate;            // per definition
};

template <typename Batch>
ReserveBatch encode_reserve(const Batch& batch, std::int64_t ttl_ms) {
  ReserveBatch out;
  DefIndex<CheckDef, CheckDefHash> defs;
  std::vector<std::int64_t> totals;  // -1: one amount is negative
  for (const auto& e : batch) {
    const std::size_t first = out.index.size();
    for (std::size_t j = 0; j < e.checks.size(); ++j) {
      const EntryCheck& c = e.checks[j];
      auto [i, added] = defs.add(CheckDef{e.prefix, &(*e.source)[j]});
      if (added) {
        totals.push_back(0);
        out.rate.push_back(c.rate);
      }
      // A definition twice in one call is decided against the state before the call for
      // each, which the sums do not say: such a batch goes call by call.
      for (std::size_t k = first; k < out.index.size(); ++k)
        if (out.index[k] == i) totals[i] = -1;
      if (totals[i] >= 0) totals[i] = c.amount < 0 ? -1 : totals[i] + c.amount;
      out.index.push_back(i);
    }
  }
  redis::RespArgs& a = out.args;
  a.add_int(ttl_ms);
  a.add_int(static_cast<std::int64_t>(totals.size()));
  for (std::size_t i = 0; i < totals.size(); ++i) {
    add_definition(a, defs.defs()[i]);
    a.add_int(totals[i]);
  }
  a.add_int(static_cast<std::int64_t>(batch.size()));
  std::string packed;
  std::size_t n = 0;
  for (const auto& e : batch) {
    packed.clear();
    for (const auto& c : e.checks) {
      append_decimal(packed, out.index[n++] + 1);
      packed += ' ';
      append_decimal(packed, c.amount);
      packed += ' ';
    }
    a.add(packed);
  }
  return out;
}

// Each call's figures from the reply of a batch admitted whole (2, now, expiry, then per
// definition its state before the batch): what the script's call-by-call pass would have
// returned for it (1, now, expiry, then per check: a rate's remaining and reset, a quota's
// remaining, reset and window start), from that state and the amounts of the calls before.
template <typename Batch>
bool figures_of_whole_batch(const Batch& batch, const ReserveBatch& rb,
                            std::span<const redis::RespValue> el,
                            std::vector<std::vector<std::int64_t>>& out) {
  std::vector<std::size_t> at(rb.rate.size());
  std::size_t n = 3;
  for (std::size_t i = 0; i < rb.rate.size(); ++i) {
    at[i] = n;
    n += rb.rate[i] ? 1 : 3;
  }
  if (el.size() != n) return false;
  for (const auto& v : el)
    if (v.type != redis::RespValue::Type::kInteger) return false;
  std::vector<std::int64_t> before(rb.rate.size(), 0);  // the amounts of the calls so far
  std::size_t k = 0;
  out.clear();
  out.reserve(batch.size());
  for (const auto& e : batch) {
    auto& v = out.emplace_back();
    v.reserve(3 + 3 * e.checks.size());
    v.insert(v.end(), {1, el[1].integer, el[2].integer});
    const std::size_t first = k;
    for (const auto& c : e.checks) {
      const std::uint32_t i = rb.index[k++];
      const std::int64_t state = el[at[i]].integer;
      if (c.rate) {
        // after = level + c·P ≤ L·P (the batch fits): remaining ⌊(L·P − after) / P⌋ and
        // reset ⌈after / L⌉, both of non-negative values.
        const std::int64_t after = state + (before[i] + c.amount) * kRatePeriodMs;
        if (c.limit <= 0 || after < 0 || after > c.limit * kRatePeriodMs) return false;
        v.push_back((c.limit * kRatePeriodMs - after) / kRatePeriodMs);
        v.push_back((after + c.limit - 1) / c.limit);
      } else {
        v.push_back(c.limit - state - before[i] - c.amount);
        v.push_back(el[at[i] + 1].integer);
        v.push_back(el[at[i] + 2].integer);
      }
    }
    for (std::size_t j = first; j < k; ++j) before[rb.index[j]] += e.checks[j - first].amount;
  }
  return true;
}

// The reserve script's reply for one call, taken call by call: 3 integers (admitted, now,
// expiry bucket), then per check: refused, 4 for a rate and 6 for a quota; admitted, 2 for a
// rate and 3 for a quota (what an admission leaves out follows from it).
std::size_t reply_length(const std::vector<EntryCheck>& checks, bool admitted) {
  std::size_t n = 3;
  for (const auto& c : checks) n += c.rate ? (admitted ? 2 : 4) : (admitted ? 3 : 6);
  return n;
}

template <typename Batch>
bool split_reserve_reply(const Batch& batch, const ReserveBatch& rb, const redis::RespValue& v,
                         std::vector<std::vector<std::int64_t>>& out) {
  using T = redis::RespValue::Type;
  if (v.type != T::kArray || v.elements.empty() || v.elements[0].type != T::kInteger) return false;
  const std::span<const redis::RespValue> el(v.elements);
  if (el[0].integer == 2) {
    g_whole.fetch_add(1, std::memory_order_relaxed);
    return figures_of_whole_batch(batch, rb, el, out);
  }
  if (el[0].integer != 1) return false;
  out.clear();
  out.reserve(batch.size());
  std::size_t at = 1;
  for (const auto& e : batch) {
    if (at >= el.size() || el[at].type != T::kInteger) return false;
    const std::size_t len = reply_length(e.checks, el[at].integer == 1);
    if (at + len > el.size()) return false;
    auto& f = out.emplace_back();
    f.reserve(len);
    for (std::size_t i = at; i < at + len; ++i) {
      if (el[i].type != T::kInteger) return false;
      f.push_back(el[i].integer);
    }
    at += len;
  }
  return at == el.size();
}

// A settle batch as the script takes it (redis_scripts.h): rates and quotas summed per
// definition, a quota's reservations per expiry bucket.
template <typename Batch>
redis::RespArgs encode_settle(const Batch& batch) {
  struct Quota {
    std::int64_t used = 0, hint = 0;
    std::vector<std::pair<std::int64_t, std::int64_t>> buckets;  // expiry, reserved
  };
  DefIndex<std::string_view> rate_defs, quota_defs;
  std::vector<std::int64_t> rates;
  std::vector<Quota> quotas;
  for (const auto& e : batch) {
    for (const auto& c : e.checks) {
      if (c.rate) {
        auto [i, added] = rate_defs.add(e.def(c));
        if (added) rates.push_back(0);
        rates[i] += c.amount;
        continue;
      }
      auto [i, added] = quota_defs.add(e.def(c));
      if (added) quotas.emplace_back();
      Quota& q = quotas[i];
      if (c.amount > 0) {
        if (q.used == 0) q.hint = c.hint;
        q.used += c.amount;
      }
      if (c.reserved > 0) {
        auto b = std::find_if(q.buckets.begin(), q.buckets.end(),
                              [&](const auto& x) { return x.first == e.expiry; });
        if (b == q.buckets.end()) q.buckets.emplace_back(e.expiry, c.reserved);
        else b->second += c.reserved;
      }
    }
  }
  redis::RespArgs a;
  a.add(new_event_id());
  a.add(batch.front().marker);
  a.add_int(static_cast<std::int64_t>(rates.size()));
  for (std::size_t i = 0; i < rates.size(); ++i) {
    a.add(rate_defs.defs()[i]);
    a.add_int(rates[i]);
  }
  a.add_int(static_cast<std::int64_t>(quotas.size()));
  for (std::size_t i = 0; i < quotas.size(); ++i) {
    const Quota& q = quotas[i];
    a.add(quota_defs.defs()[i]);
    a.add_int(q.used);
    a.add_int(q.hint);
    a.add_int(static_cast<std::int64_t>(q.buckets.size()));
    for (const auto& [expiry, reserved] : q.buckets) {
      a.add_int(expiry);
      a.add_int(reserved);
    }
  }
  return a;
}

// How many of the queued settlements the next batch takes (at least one): up to
// kMaxSettleBatch calls with at most kMaxSettleDefs distinct definitions.
template <typename Queue>
std::size_t settle_batch_size(const Queue& queue) {
  DefIndex<std::string_view> defs;
  std::size_t k = 0;
  for (const auto& e : queue) {
    if (k == kMaxSettleBatch) break;
    for (const auto& c : e.checks) defs.add(e.def(c));
    if (k > 0 && defs.defs().size() > kMaxSettleDefs) break;
    ++k;
  }
  return k;
}

// The calls waiting for one script on one Redis endpoint, on one io_context. One script call
// is in flight at a time; the calls that come meanwhile go together in the next one, so under
// load a worker makes one round trip, and Redis one script run, for many calls, and alone a
// call goes at once.
class ScriptBatch {
 public:
  // ttl_ms: the reservations' ttl of the reserve batches (a batch has one); 0 for others.
  // wait: how long a batch that follows another waits for more calls (RedisStore's
  // batch_wait for admissions, settle_wait for settlements).
  ScriptBatch(asio::any_io_executor ex, const redis::Endpoint& ep, const LuaScript& script,
              bool deferred, std::int64_t ttl_ms, std::chrono::microseconds wait)
      : ex_(std::move(ex)),
        ep_(ep),
        script_(script),
        deferred_(deferred),
        ttl_ms_(ttl_ms),
        wait_(wait) {}

  // Queues a call; `e.done` gets its reply (or the batch's failure). No coroutine or timer
  // per call: settlements, which nobody waits for, go this way.
  void enqueue(BatchEntry e) {
    queue_.push_back(std::move(e));
    if (pause_ != nullptr && queue_.size() >= full_enough()) pause_->cancel();
    if (!sending_) {
      sending_ = true;
      asio::co_spawn(ex_, send_all(), asio::detached);
    }
  }

  // The same, awaited (e.done is set here). A cancellation (the client disconnected:
  // Call::resume_filter) ends the timer's wait, and the next co_await throws
  // operation_aborted (an awaitable throws once its cancellation state is set); the timer
  // wait also ties the coroutine to the io_context, which destroys it at shutdown.
  asio::awaitable<CallReply> run(BatchEntry e) {
    struct Wait {
      explicit Wait(const asio::any_io_executor& ex) : timer(ex) {}
      asio::steady_timer timer;  // cancelled when `reply` is set
      bool done = false;
      CallReply reply;
    };
    auto w = std::make_shared<Wait>(ex_);
    w->timer.expires_at(Clock::time_point::max());
    const auto start = Clock::now();
    e.done = [w, start, admission = !deferred_](CallReply&& r) {
      if (admission) {
        const auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
        std::lock_guard lock(g_admission_wait_mu);
        g_admission_wait.observe(us);
      }
      w->reply = std::move(r);
      w->done = true;
      w->timer.cancel();
    };
    enqueue(std::move(e));
    // The command under it has a deadline (resp_client.h), so this wait ends.
    while (!w->done) co_await w->timer.async_wait(kTuple);
    co_return std::move(w->reply);
  }

  void shutdown() { queue_.clear(); }

  bool is(const redis::Endpoint& ep, const LuaScript& script, bool deferred,
          std::int64_t ttl_ms, std::chrono::microseconds wait) const {
    return &script == &script_ && deferred == deferred_ && ttl_ms == ttl_ms_ && wait == wait_ &&
           ep.port == ep_.port &&
           ep.database == ep_.database && ep.host == ep_.host && ep.username == ep_.username &&
           ep.password == ep_.password;
  }

 private:
  using Batch = std::vector<BatchEntry>;

  asio::awaitable<void> send_all() {
    bool follows = false;  // a batch was just answered: these calls waited while it was out
    while (!queue_.empty()) {
      // With one batch in flight, a batch holds the calls that came during the last round
      // trip; when Redis answers quickly that is a few, and each round trip costs the worker
      // a write, a read and a wake-up. Waiting briefly for more makes fewer, fuller round
      // trips: end to end at ~20,000 calls/s, 60 us below 14 calls cut p99 2.6-2.8 ms to
      // 2.3-2.6 ms (bench/README.md). A call that finds no batch out still goes at once.
      // Settlements, which nobody waits for, wait longer (milliseconds): each settle script
      // run costs Redis ~185,000 instructions whatever its size, as much as ~12 calls'
      // worth, and while it runs the admission sent with it waits. The wait ends early
      // once the batch is full enough.
      if (follows && wait_.count() > 0 && queue_.size() < full_enough()) {
        asio::steady_timer pause(ex_);
        pause.expires_after(wait_);
        pause_ = &pause;
        co_await pause.async_wait(kTuple);
        pause_ = nullptr;
        if (queue_.empty()) break;  // dropped meanwhile (shutdown)
      }
      follows = true;
      const std::size_t k =
          deferred_ ? settle_batch_size(queue_) : std::min(queue_.size(), kMaxBatch);
      Batch batch(std::make_move_iterator(queue_.begin()),
                  std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(k)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(k));
      const int which = &script_ == &settle_script() ? 1 : 0;
      g_runs[which].fetch_add(1, std::memory_order_relaxed);
      g_calls[which].fetch_add(k, std::memory_order_relaxed);
      // The batch's arguments (redis_scripts.h): each definition once, with sums.
      ReserveBatch reserve;
      redis::RespArgs settle;
      if (which == 0) reserve = encode_reserve(batch, ttl_ms_);
      else settle = encode_settle(batch);
      const redis::RespArgs& args = which == 0 ? reserve.args : settle;
      std::vector<std::string_view> parts{args.bytes()};
      // A settlement batch whose reply was lost (or refused) is sent again as it was, id
      // included: the script applies a batch once. Nobody waits for settlements; admissions
      // are not retried (their caller applies its store policy at once).
      redis::RespResult whole;
      for (int attempt = 0;; ++attempt) {
        whole = co_await run_script(ex_, ep_, script_, parts, args.count(), deferred_);
        if (which == 0 || attempt + 1 == kSettleAttempts || (whole.ok && !whole.value.is_error()))
          break;
        g_retries.fetch_add(1, std::memory_order_relaxed);
        asio::steady_timer wait(ex_);
        wait.expires_after(kSettleRetryStep * (attempt + 1));
        co_await wait.async_wait(kTuple);
      }
      // Each call's figures (an admission's); a settlement's reply is the batch's.
      std::vector<std::vector<std::int64_t>> figures;
      bool ok = whole.ok && !whole.value.is_error();
      if (ok) {
        ok = which == 0 ? split_reserve_reply(batch, reserve, whole.value, figures)
                        : whole.value.type == redis::RespValue::Type::kInteger;
      }
      std::string failure;
      if (!ok) {
        failure = whole.ok && !whole.value.is_error()
                      ? "unexpected reply to a batch of " + std::to_string(k)
                      : describe_failure(whole);
      }
      for (std::size_t i = 0; i < k; ++i) {
        CallReply reply;
        reply.ok = ok;
        if (!ok) reply.error = failure;
        else if (which == 0) reply.values = std::move(figures[i]);
        batch[i].done(std::move(reply));
      }
    }
    sending_ = false;
  }

  asio::any_io_executor ex_;
  redis::Endpoint ep_;
  const LuaScript& script_;
  bool deferred_;
  std::int64_t ttl_ms_;
  std::chrono::microseconds wait_;
  std::size_t full_enough() const { return deferred_ ? kSettleFullEnough : kFullEnough; }
  static constexpr std::size_t kFullEnough = 14;
  static constexpr std::size_t kSettleFullEnough = 256;
  std::deque<BatchEntry> queue_;
  asio::steady_timer* pause_ = nullptr;  // the wait for more calls, while it lasts
  // One script call in flight per queue. Two were no faster end to end (bench/limits_e2e.py at
  // 9,000 calls/s: p50 2.1 ms either way) and ran half again as many scripts.
  bool sending_ = false;
};

// The batches of one io_context, dropped when it shuts down (their entries' timers belong to
// it).
class BatchService : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;
  explicit BatchService(asio::execution_context& ctx) : service(ctx) {}
  void shutdown() override {
    for (auto& b : batches_) b->shutdown();
    batches_.clear();
  }
  ScriptBatch& get(const asio::any_io_executor& ex, const redis::Endpoint& ep,
                   const LuaScript& script, bool deferred, std::int64_t ttl_ms,
                   std::chrono::microseconds wait) {
    for (auto& b : batches_)
      if (b->is(ep, script, deferred, ttl_ms, wait)) return *b;
    batches_.push_back(std::make_unique<ScriptBatch>(ex, ep, script, deferred, ttl_ms, wait));
    return *batches_.back();
  }

 private:
  std::vector<std::unique_ptr<ScriptBatch>> batches_;
};
asio::execution_context::id BatchService::id;

// The batch of `script` calls on `ep` of ex's io_context (deferred: settlements; ttl_ms:
// the reservations' ttl of a reserve batch, else 0; wait: ScriptBatch's).
ScriptBatch& batch_for(const asio::any_io_executor& ex, const redis::Endpoint& ep,
                       const LuaScript& script, bool deferred, std::int64_t ttl_ms = 0,
                       std::chrono::microseconds wait = {}) {
  auto& ctx = asio::query(ex, asio::execution::context);
  return asio::use_service<BatchService>(ctx).get(ex, ep, script, deferred, ttl_ms, wait);
}

// Room for one call's definitions: keys, up to four numbers of 20 digits each.
std::size_t defs_bytes(const std::vector<LimitCheck>& checks, std::size_t prefix) {
  std::size_t n = 0;
  for (const auto& c : checks) n += prefix + c.key.size() + 6 + 4 * 21;
  return n;
}

// What a settlement sends for check i: a rate, actual − reserved (0 changes nothing, so it is
// left out); a quota, the actual amount.
std::int64_t settle_amount(const std::vector<LimitCheck>& checks,
                           const std::vector<std::int64_t>& actual, std::size_t i) {
  const LimitCheck& c = checks[i];
  const std::int64_t v = i < actual.size() ? actual[i] : c.cost;
  return c.kind == LimitKind::kRate ? v - c.cost : v;
}
bool settles(const std::vector<LimitCheck>& checks, const std::vector<std::int64_t>& actual,
             std::size_t i) {
  return checks[i].kind == LimitKind::kQuota || settle_amount(checks, actual, i) != 0;
}

}  // namespace

bool settlement_changes(const std::vector<LimitCheck>& checks,
                        const std::vector<std::int64_t>& actual) {
  for (std::size_t i = 0; i < checks.size(); ++i)
    if (settles(checks, actual, i)) return true;
  return false;
}

RedisBatchStats redis_batch_stats() {
  RedisBatchStats s;
  s.reserve_runs = g_runs[0].load();
  s.reserve_calls = g_calls[0].load();
  s.settle_runs = g_runs[1].load();
  s.settle_calls = g_calls[1].load();
  s.settle_retries = g_retries.load();
  s.reserve_whole = g_whole.load();
  s.settlements_pending = g_settle_pending.load();
  std::lock_guard lock(g_admission_wait_mu);
  s.admission_wait = g_admission_wait;
  return s;
}

void render_redis_metrics(std::string& out) {
  const redis::RespClientStats c = redis::resp_client_stats();
  const RedisBatchStats b = redis_batch_stats();
  constexpr std::string_view kEvents = "sluice_redis_client_events_total";
  append_metric_header(out, kEvents, "counter",
                       "Redis client connection events (all endpoints).");
  append_metric_sample(out, kEvents, "event=\"connected\"", c.connects);
  append_metric_sample(out, kEvents, "event=\"connect_failed\"", c.connect_failures);
  append_metric_sample(out, kEvents, "event=\"timeout\"", c.timeouts);
  append_metric_sample(out, kEvents, "event=\"broken\"", c.broken);
  append_metric_sample(out, kEvents, "event=\"protocol_error\"", c.protocol_errors);
  constexpr std::string_view kCommands = "sluice_redis_client_commands_total";
  append_metric_header(out, kCommands, "counter",
                       "Commands sent to Redis (a batched script call is one).");
  out.append(kCommands).append(" ").append(std::to_string(c.commands)).append("\n");
  constexpr std::string_view kWrites = "sluice_redis_client_writes_total";
  append_metric_header(out, kWrites, "counter",
                       "Socket writes to Redis (pipelined commands share one).");
  out.append(kWrites).append(" ").append(std::to_string(c.writes)).append("\n");
  constexpr std::string_view kRuns = "sluice_limits_redis_script_runs_total";
  append_metric_header(out, kRuns, "counter", "Limit script calls sent to Redis, by script.");
  append_metric_sample(out, kRuns, "script=\"reserve\"", b.reserve_runs);
  append_metric_sample(out, kRuns, "script=\"settle\"", b.settle_runs);
  constexpr std::string_view kCalls = "sluice_limits_redis_script_calls_total";
  append_metric_header(out, kCalls, "counter",
                       "Calls those script calls carried (calls / runs: the mean batch).");
  append_metric_sample(out, kCalls, "script=\"reserve\"", b.reserve_calls);
  append_metric_sample(out, kCalls, "script=\"settle\"", b.settle_calls);
  constexpr std::string_view kRetries = "sluice_limits_redis_settle_retries_total";
  append_metric_header(out, kRetries, "counter",
                       "Settlement script calls sent again after a lost or failed reply.");
  out.append(kRetries).append(" ").append(std::to_string(b.settle_retries)).append("\n");
  constexpr std::string_view kWhole = "sluice_limits_redis_reserve_whole_total";
  append_metric_header(out, kWhole, "counter",
                       "Reserve script calls whose calls all fitted: applied as one sum per "
                       "limit (the others are decided call by call).");
  out.append(kWhole).append(" ").append(std::to_string(b.reserve_whole)).append("\n");
  constexpr std::string_view kPending = "sluice_limits_redis_settlements_pending";
  append_metric_header(out, kPending, "gauge",
                       "Settlements not yet answered by Redis (queued, waiting for more calls, "
                       "in flight or between retries).");
  out.append(kPending).append(" ").append(std::to_string(b.settlements_pending)).append("\n");
  append_histogram(out, "sluice_limits_redis_admission_seconds",
                   "How long admissions waited for Redis: the wait of their batch for more "
                   "calls, the batch in flight before it, and their round trip.",
                   b.admission_wait);
}

namespace {

// The counter's key: prefixed, and a quota's window start after '@'.
void append_resolved_key(std::string& out, std::string_view prefix, const LimitCheck& c,
                         std::int64_t window_start) {
  out.append(prefix).append(c.key);
  if (c.kind == LimitKind::kQuota && c.window_end_ms != 0) {
    out += '@';
    append_decimal(out, window_start);
  }
}

// Starts a check's definition in e.defs; end_check() closes it.
EntryCheck& begin_check(BatchEntry& e, const LimitCheck& c) {
  EntryCheck& k = e.checks.emplace_back();
  k.at = static_cast<std::uint32_t>(e.defs.size());
  k.rate = c.kind == LimitKind::kRate;
  k.limit = c.limit;
  return k;
}
void end_check(BatchEntry& e) {
  EntryCheck& k = e.checks.back();
  k.len = static_cast<std::uint32_t>(e.defs.size() - k.at);
}

// `checks` and `prefix` are the awaiting caller's and its store's.
BatchEntry reserve_entry(const std::vector<LimitCheck>& checks, std::string_view prefix) {
  BatchEntry e;
  e.source = &checks;
  e.prefix = prefix;
  e.checks.reserve(checks.size());
  for (const auto& c : checks) {
    EntryCheck& k = e.checks.emplace_back();
    k.rate = c.kind == LimitKind::kRate;
    k.limit = c.limit;
    k.amount = c.cost;
  }
  return e;
}

BatchEntry settle_entry(const std::vector<LimitCheck>& checks, const Admission& admission,
                        const std::vector<std::int64_t>& actual, std::int64_t now_ms,
                        std::string_view prefix, std::int64_t ttl_ms, const std::string& marker) {
  BatchEntry e;
  e.expiry = admission.expiry_ms;
  e.marker = marker;
  e.defs.reserve(defs_bytes(checks, prefix.size()));
  e.checks.reserve(checks.size());
  for (std::size_t i = 0; i < checks.size(); ++i) {
    if (!settles(checks, actual, i)) continue;
    const auto& c = checks[i];
    EntryCheck& k = begin_check(e, c);
    k.amount = settle_amount(checks, actual, i);
    if (c.kind == LimitKind::kRate) {
      e.defs += "r ";
      append_decimal(e.defs, c.limit);
      e.defs += ' ';
      e.defs.append(prefix).append(c.key);
      end_check(e);
      continue;
    }
    const std::int64_t start =
        i < admission.results.size() ? admission.results[i].window_start_ms : 0;
    e.defs += "q ";
    append_resolved_key(e.defs, prefix, c, start);
    k.reserved = c.cost;
    const std::int64_t wend = window_end_for(c, start);
    k.hint = wend == 0 ? ttl_ms + kRatePeriodMs
                       : std::max<std::int64_t>(1000, wend - now_ms + 86'400'000);
    end_check(e);
  }
  return e;
}

}  // namespace

bool RedisStore::parse_admission(std::span<const std::int64_t> f,
                                 const std::vector<LimitCheck>& checks, Admission& out) {
  if (f.size() < 3) return false;
  out.admitted = f[0] == 1;
  std::size_t want = 3;
  for (const auto& c : checks)
    want += c.kind == LimitKind::kRate ? (out.admitted ? 2 : 4) : (out.admitted ? 3 : 6);
  if (f.size() != want) return false;
  out.now_ms = f[1];
  out.expiry_ms = f[2];
  std::size_t at = 3;
  out.results.resize(checks.size());
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const LimitCheck& c = checks[i];
    CheckResult& r = out.results[i];
    if (out.admitted) {
      // remaining, reset (and a quota's window); ok, no retry, and a quota's committed
      // amount before this call is what remains after it, seen from the limit.
      r.ok = true;
      r.remaining = f[at];
      r.retry_after_ms = 0;
      r.reset_ms = f[at + 1];
      if (c.kind == LimitKind::kRate) {
        at += 2;
        continue;
      }
      r.committed_before = c.limit - c.cost - r.remaining;
      r.window_start_ms = f[at + 2];
      at += 3;
      continue;
    }
    r.ok = f[at] == 1;
    r.remaining = f[at + 1];
    r.retry_after_ms = f[at + 2];
    r.reset_ms = f[at + 3];
    if (c.kind == LimitKind::kRate) {
      at += 4;
      continue;
    }
    r.committed_before = f[at + 4];
    r.window_start_ms = f[at + 5];
    at += 6;
  }
  return true;
}

asio::awaitable<std::optional<Admission>> RedisStore::reserve(asio::any_io_executor ex,
                                                              const std::vector<LimitCheck>& checks,
                                                              std::string& error) const {
  CallReply r = co_await batch_for(ex, endpoint_, reserve_script(), false, ttl_.count(),
                                   batch_wait_)
                    .run(reserve_entry(checks, prefix_));
  Admission adm;
  if (!r.ok || !parse_admission(r.values, checks, adm)) {
    error = r.ok ? "unexpected reply" : std::move(r.error);
    co_return std::nullopt;
  }
  co_return adm;
}

bool RedisStore::settle_async(const asio::any_io_executor& ex,
                              const std::vector<LimitCheck>& checks, const Admission& admission,
                              const std::vector<std::int64_t>& actual,
                              std::function<void(bool, const std::string&)> done) const {
  if (!settlement_changes(checks, actual)) return false;
  // Nobody waits for a settlement: it rides along with the next admission's write.
  BatchEntry e = settle_entry(checks, admission, actual, LocalStore::now_ms(), prefix_,
                              ttl_.count(), marker_);
  // Pending until answered, or until its entry is dropped unanswered (an io_context shut
  // down with it queued): the token goes with the last copy of `done`.
  struct Pending {
    Pending() { g_settle_pending.fetch_add(1, std::memory_order_relaxed); }
    ~Pending() { g_settle_pending.fetch_sub(1, std::memory_order_relaxed); }
  };
  e.done = [done = std::move(done), token = std::make_shared<Pending>()](CallReply&& r) mutable {
    token.reset();
    done(r.ok, r.error);
  };
  batch_for(ex, endpoint_, settle_script(), true, 0, settle_wait_).enqueue(std::move(e));
  return true;
}

asio::awaitable<bool> RedisStore::settle(asio::any_io_executor ex,
                                         const std::vector<LimitCheck>& checks,
                                         const Admission& admission,
                                         std::vector<std::int64_t> actual,
                                         std::string& error) const {
  if (!settlement_changes(checks, actual)) co_return true;
  CallReply r = co_await batch_for(ex, endpoint_, settle_script(), true, 0, settle_wait_)
                    .run(settle_entry(checks, admission, actual, LocalStore::now_ms(), prefix_,
                                      ttl_.count(), marker_));
  if (!r.ok) error = std::move(r.error);
  co_return r.ok;
}

asio::awaitable<std::optional<std::int64_t>> RedisStore::renew(
    asio::any_io_executor ex, const std::vector<LimitCheck>& checks, Admission& admission,
    std::string& error) const {
  std::int64_t n = 0;
  for (const auto& c : checks) n += c.kind == LimitKind::kQuota && c.cost > 0 ? 1 : 0;
  if (n == 0) co_return 0;
  redis::RespArgs a;
  a.add_int(ttl_.count());
  a.add_int(admission.expiry_ms);
  a.add_int(n);
  for (std::size_t i = 0; i < checks.size(); ++i) {
    if (checks[i].kind != LimitKind::kQuota || checks[i].cost <= 0) continue;
    std::string key;
    append_resolved_key(key, prefix_, checks[i], admission.results[i].window_start_ms);
    a.add(key);
    a.add_int(checks[i].cost);
  }
  std::vector<std::string_view> parts{a.bytes()};
  redis::RespResult r =
      co_await run_script(ex, endpoint_, renew_script(), std::move(parts), a.count(), false);
  using T = redis::RespValue::Type;
  const auto& e = r.value.elements;
  if (!r.ok || r.value.is_error() || r.value.type != T::kArray || e.size() != 2 ||
      e[0].type != T::kInteger || e[1].type != T::kInteger) {
    error = describe_failure(r);
    co_return std::nullopt;
  }
  admission.expiry_ms = e[1].integer;
  co_return e[0].integer;
}

}  // namespace sluice::limits
