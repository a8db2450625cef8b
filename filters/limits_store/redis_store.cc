#include "filters/limits_store/redis_store.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>

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
// batch of 64 admissions runs for well under a millisecond.
constexpr std::size_t kMaxBatch = 64;

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

// A settlement batch is sent up to this many times, the n-th retry n steps after the last
// failure (0.5, 1 and 1.5 s): past that its reservations simply expire.
constexpr int kSettleAttempts = 4;
constexpr std::chrono::milliseconds kSettleRetryStep{500};

std::string describe_failure(const redis::RespResult& r) {
  if (!r.ok) return r.error;
  if (r.value.is_error()) return "redis error: " + r.value.str.substr(0, 200);
  return "unexpected reply";
}

// One call's share of a batched script call.
struct BatchEntry {
  std::string encoded;  // its arguments, as RESP bulk strings
  std::size_t nargs = 0;
  // Its elements in the script's flat reply: `reply_len`, or `reply_len_if_one` when the
  // first of them is the integer 1 (an admitted call's reply is shorter).
  std::size_t reply_len = 1;
  std::size_t reply_len_if_one = 1;
  std::string marker;  // a settlement's retry-marker key (its store's), or empty
  std::function<void(CallReply&&)> done;  // called once, on the batch's io_context
};

// The calls waiting for one script on one Redis endpoint, on one io_context. One script call
// is in flight at a time; the calls that come meanwhile go together in the next one, so under
// load a worker makes one round trip, and Redis one script run, for many calls, and alone a
// call goes at once.
class ScriptBatch {
 public:
  ScriptBatch(asio::any_io_executor ex, const redis::Endpoint& ep, const LuaScript& script,
              bool deferred)
      : ex_(std::move(ex)), ep_(ep), script_(script), deferred_(deferred) {}

  // Queues a call; `e.done` gets its reply (or the batch's failure). No coroutine or timer
  // per call: settlements, which nobody waits for, go this way.
  void enqueue(BatchEntry e) {
    queue_.push_back(std::move(e));
    if (!sending_) {
      sending_ = true;
      asio::co_spawn(ex_, send_all(), asio::detached);
    }
  }

  // The same, awaited (e.done is set here).
  asio::awaitable<CallReply> run(BatchEntry e) {
    struct Wait {
      explicit Wait(const asio::any_io_executor& ex) : timer(ex) {}
      asio::steady_timer timer;  // cancelled when `reply` is set
      bool done = false;
      CallReply reply;
    };
    auto w = std::make_shared<Wait>(ex_);
    w->timer.expires_at(Clock::time_point::max());
    e.done = [w](CallReply&& r) {
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

  bool is(const redis::Endpoint& ep, const LuaScript& script, bool deferred) const {
    return &script == &script_ && deferred == deferred_ && ep.port == ep_.port &&
           ep.database == ep_.database && ep.host == ep_.host && ep.username == ep_.username &&
           ep.password == ep_.password;
  }

 private:
  using Batch = std::vector<BatchEntry>;

  asio::awaitable<void> send_all() {
    while (!queue_.empty()) {
      const std::size_t k = std::min(queue_.size(), kMaxBatch);
      Batch batch(std::make_move_iterator(queue_.begin()),
                  std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(k)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(k));
      const int which = &script_ == &settle_script() ? 1 : 0;
      g_runs[which].fetch_add(1, std::memory_order_relaxed);
      g_calls[which].fetch_add(k, std::memory_order_relaxed);
      // A settlement batch: its id and marker key first (redis_scripts.h). Then the number
      // of calls and each call's arguments (the entries outlive the command).
      redis::RespArgs head;
      if (which == 1) {
        head.add(new_event_id());
        head.add(batch.front().marker);
      }
      head.add_int(static_cast<std::int64_t>(k));
      std::vector<std::string_view> parts{head.bytes()};
      std::size_t nargs = head.count();
      for (const auto& e : batch) {
        parts.push_back(e.encoded);
        nargs += e.nargs;
      }
      // The reply stays whole; each call gets a view of its elements in it. A settlement
      // batch whose reply was lost (or refused) is sent again as it was, id included: the
      // script applies a batch once. Nobody waits for settlements; admissions are not
      // retried (their caller applies its store policy at once).
      std::shared_ptr<redis::RespResult> whole;
      for (int attempt = 0;; ++attempt) {
        whole = std::make_shared<redis::RespResult>(
            co_await run_script(ex_, ep_, script_, parts, nargs, deferred_));
        if (which == 0 || attempt + 1 == kSettleAttempts ||
            (whole->ok && !whole->value.is_error()))
          break;
        g_retries.fetch_add(1, std::memory_order_relaxed);
        asio::steady_timer wait(ex_);
        wait.expires_after(kSettleRetryStep * (attempt + 1));
        co_await wait.async_wait(kTuple);
      }
      using T = redis::RespValue::Type;
      // Each call's share: its length depends on its first element.
      std::vector<std::size_t> lens;
      const auto& el = whole->value.elements;
      bool split = whole->ok && whole->value.type == T::kArray;
      if (split) {
        std::size_t at = 0;
        for (const auto& e : batch) {
          if (at >= el.size()) break;
          const bool one = el[at].type == T::kInteger && el[at].integer == 1;
          lens.push_back(one ? e.reply_len_if_one : e.reply_len);
          at += lens.back();
        }
        split = lens.size() == k && at == el.size();
      }
      std::string failure;
      if (!split) {
        failure = whole->ok && !whole->value.is_error()
                      ? "unexpected reply to a batch of " + std::to_string(k)
                      : describe_failure(*whole);
      }
      std::size_t at = 0;
      for (std::size_t i = 0; i < k; ++i) {
        CallReply reply;
        if (split) {
          reply.ok = true;
          reply.elements = {el.data() + at, lens[i]};
          reply.batch = whole;
          at += lens[i];
        } else {
          reply.error = failure;
        }
        batch[i].done(std::move(reply));
      }
    }
    sending_ = false;
  }

  asio::any_io_executor ex_;
  redis::Endpoint ep_;
  const LuaScript& script_;
  bool deferred_;
  std::deque<BatchEntry> queue_;
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
                   const LuaScript& script, bool deferred) {
    for (auto& b : batches_)
      if (b->is(ep, script, deferred)) return *b;
    batches_.push_back(std::make_unique<ScriptBatch>(ex, ep, script, deferred));
    return *batches_.back();
  }

 private:
  std::vector<std::unique_ptr<ScriptBatch>> batches_;
};
asio::execution_context::id BatchService::id;

// The batch of `script` calls on `ep` of ex's io_context (deferred: settlements).
ScriptBatch& batch_for(const asio::any_io_executor& ex, const redis::Endpoint& ep,
                       const LuaScript& script, bool deferred) {
  auto& ctx = asio::query(ex, asio::execution::context);
  return asio::use_service<BatchService>(ctx).get(ex, ep, script, deferred);
}

// One call's entry: its arguments, and how many elements of the script's flat reply are its
// own (`reply_len`, or `reply_len_if_one` when the first of them is the integer 1).
BatchEntry entry(redis::RespArgs args, std::size_t reply_len, std::size_t reply_len_if_one,
                 std::string marker = {}) {
  BatchEntry e;
  e.nargs = args.count();
  e.encoded = args.take();
  e.reply_len = reply_len;
  e.reply_len_if_one = reply_len_if_one;
  e.marker = std::move(marker);
  return e;
}

// Room for one call's arguments: keys, up to four numbers of 20 digits per check, headers.
std::size_t args_bytes(const std::vector<LimitCheck>& checks, std::size_t prefix) {
  std::size_t n = 96 + prefix;
  for (const auto& c : checks) n += prefix + c.key.size() + 40 + 6 * 26;
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
}

void RedisStore::add_resolved_key(redis::RespArgs& a, const LimitCheck& c,
                                  std::int64_t window_start, std::string_view lead) const {
  if (c.kind != LimitKind::kQuota || c.window_end_ms == 0) {
    a.add({lead, prefix_, c.key});
    return;
  }
  a.add({lead, prefix_, c.key, "@", window_start});
}

redis::RespArgs RedisStore::reserve_args(const std::vector<LimitCheck>& checks) const {
  redis::RespArgs a;
  a.reserve(args_bytes(checks, prefix_.size()));
  a.add_int(ttl_.count());
  a.add_int(static_cast<std::int64_t>(checks.size()));
  for (const auto& c : checks) {
    if (c.kind == LimitKind::kRate) {
      a.add({"r ", c.limit, " ", prefix_, c.key});
    } else {
      a.add({"q ", c.limit, " ", c.window_start_ms, " ", c.window_end_ms, " ",
             c.next_window_end_ms, " ", prefix_, c.key});
    }
    a.add_int(c.cost);
  }
  return a;
}

redis::RespArgs RedisStore::settle_args(const std::vector<LimitCheck>& checks,
                                        const Admission& admission,
                                        const std::vector<std::int64_t>& actual,
                                        std::int64_t now_ms) const {
  redis::RespArgs a;
  a.reserve(args_bytes(checks, prefix_.size()));
  a.add_int(admission.expiry_ms);
  std::int64_t n = 0;  // arguments that follow: 2 per rate, 4 per quota
  for (std::size_t i = 0; i < checks.size(); ++i)
    if (settles(checks, actual, i)) n += checks[i].kind == LimitKind::kRate ? 2 : 4;
  a.add_int(n);
  for (std::size_t i = 0; i < checks.size(); ++i) {
    if (!settles(checks, actual, i)) continue;
    const auto& c = checks[i];
    if (c.kind == LimitKind::kRate) {
      a.add({"r ", c.limit, " ", prefix_, c.key});
      a.add_int(settle_amount(checks, actual, i));
      continue;
    }
    std::int64_t start = i < admission.results.size() ? admission.results[i].window_start_ms : 0;
    add_resolved_key(a, c, start, "q ");
    a.add_int(settle_amount(checks, actual, i));
    a.add_int(c.cost);
    std::int64_t wend = window_end_for(c, start);
    a.add_int(wend == 0 ? ttl_.count() + kRatePeriodMs
                        : std::max<std::int64_t>(1000, wend - now_ms + 86'400'000));
  }
  return a;
}

namespace {
// The reserve script's reply for one call: 3 integers (admitted, now, expiry bucket), then
// per check: refused, 4 for a rate and 6 for a quota; admitted, 2 for a rate and 3 for a
// quota (what an admission leaves out follows from it).
std::size_t reply_length(const std::vector<LimitCheck>& checks, bool admitted) {
  std::size_t n = 3;
  for (const auto& c : checks)
    n += c.kind == LimitKind::kRate ? (admitted ? 2 : 4) : (admitted ? 3 : 6);
  return n;
}
}  // namespace

bool RedisStore::parse_admission(std::span<const redis::RespValue> v,
                                 const std::vector<LimitCheck>& checks, Admission& out) {
  using T = redis::RespValue::Type;
  if (v.empty() || v[0].type != T::kInteger) return false;
  out.admitted = v[0].integer == 1;
  if (v.size() != reply_length(checks, out.admitted)) return false;
  for (const auto& e : v)
    if (e.type != T::kInteger) return false;
  const auto* f = v.data();
  out.now_ms = f[1].integer;
  out.expiry_ms = f[2].integer;
  f += 3;
  out.results.resize(checks.size());
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const LimitCheck& c = checks[i];
    CheckResult& r = out.results[i];
    if (out.admitted) {
      // remaining, reset (and a quota's window); ok, no retry, and a quota's committed
      // amount before this call is what remains after it, seen from the limit.
      r.ok = true;
      r.remaining = f[0].integer;
      r.retry_after_ms = 0;
      r.reset_ms = f[1].integer;
      if (c.kind == LimitKind::kRate) {
        f += 2;
        continue;
      }
      r.committed_before = c.limit - c.cost - r.remaining;
      r.window_start_ms = f[2].integer;
      f += 3;
      continue;
    }
    r.ok = f[0].integer == 1;
    r.remaining = f[1].integer;
    r.retry_after_ms = f[2].integer;
    r.reset_ms = f[3].integer;
    if (c.kind == LimitKind::kRate) {
      f += 4;
      continue;
    }
    r.committed_before = f[4].integer;
    r.window_start_ms = f[5].integer;
    f += 6;
  }
  return true;
}

asio::awaitable<std::optional<Admission>> RedisStore::reserve(asio::any_io_executor ex,
                                                              const std::vector<LimitCheck>& checks,
                                                              std::string& error) const {
  CallReply r = co_await batch_for(ex, endpoint_, reserve_script(), false)
                    .run(entry(reserve_args(checks), reply_length(checks, false),
                               reply_length(checks, true)));
  Admission adm;
  if (!r.ok || !parse_admission(r.elements, checks, adm)) {
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
  BatchEntry e = entry(settle_args(checks, admission, actual, LocalStore::now_ms()), 1, 1, marker_);
  e.done = [done = std::move(done)](CallReply&& r) { done(r.ok, r.error); };
  batch_for(ex, endpoint_, settle_script(), true).enqueue(std::move(e));
  return true;
}

asio::awaitable<bool> RedisStore::settle(asio::any_io_executor ex,
                                         const std::vector<LimitCheck>& checks,
                                         const Admission& admission,
                                         std::vector<std::int64_t> actual,
                                         std::string& error) const {
  if (!settlement_changes(checks, actual)) co_return true;
  CallReply r = co_await batch_for(ex, endpoint_, settle_script(), true)
                    .run(entry(settle_args(checks, admission, actual, LocalStore::now_ms()), 1,
                               1, marker_));
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
    add_resolved_key(a, checks[i], admission.results[i].window_start_ms, "");
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
