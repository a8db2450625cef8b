#include "filters/limits_store/limits_filter.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "filters/limits_store/usage.h"

namespace sluice::limits {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

const char* to_string(Hold::Where w) {
  switch (w) {
    case Hold::Where::kNone: return "none";
    case Hold::Where::kLocal: return "local";
    case Hold::Where::kRedis: return "redis";
    case Hold::Where::kFallback: return "fallback";
  }
  return "none";
}

Limiter::Limiter(const StoreConfig& cfg) : cfg_(cfg) {
  local_ = &local_store_for(cfg.backend == StoreConfig::Backend::kLocal ? cfg.state_file : "");
  if (cfg.backend == StoreConfig::Backend::kRedis) {
    redis_ = std::make_unique<RedisStore>(cfg.redis, cfg.key_prefix, cfg.reservation_ttl,
                                          cfg.batch_wait, cfg.settle_wait);
    const redis::Endpoint& ep = cfg.redis;
    // The password is part of the identity (it selects the connection), never printed.
    store_key_ = "redis\n" + ep.name() + "\n" + ep.username + "\n" + ep.password + "\n" +
                 cfg.key_prefix + "\n" + std::to_string(cfg.reservation_ttl.count()) + "\n" +
                 std::to_string(ep.command_timeout.count()) + "\n" +
                 std::to_string(cfg.batch_wait.count()) + "\n" +
                 std::to_string(cfg.settle_wait.count());
  } else {
    store_key_ = "local\n" + cfg.state_file;
  }
}

std::uint64_t new_reservation_id() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }());
  std::uint64_t v;
  do v = rng();
  while (v == 0);
  return v;
}

// The checks of one store, for one call: the concatenated checks of the filters (members)
// using that store, reserved in one operation and settled in one.
struct PlanGroup {
  std::shared_ptr<const Limiter> limiter;
  std::vector<LimitsFilter*> members;  // chain order; valid during the request phase
  std::vector<FilterStats*> stats;     // the members' counters, for coroutines that outlive them
  std::vector<LimitCheck> checks;
  Admission admission;
  Hold::Where where = Hold::Where::kNone;
  bool failed_closed = false;          // the store failed and a check of it fails closed
  std::vector<std::int64_t> actual;    // filled by the members' on_complete
  std::size_t reported = 0;
  std::size_t renew_slot = kNoSlot;    // its entry in this thread's Renewals, while renewed
  static constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);
};

struct LimitsPlan {
  std::uint64_t id = 0;
  std::string id_text;
  std::vector<LimitsFilter*> pending;  // members whose checks await the executing filter
  std::vector<PlanGroup> groups;
  std::vector<std::size_t> executing;  // groups of the execution in progress
  asio::any_io_executor executor;      // the call's worker, for settlement and renewal
  bool completed = false;              // on_complete has begun: stop renewing
};


namespace {

std::string hex64(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

void inc_all(const std::vector<FilterStats*>& stats, std::size_t stat) {
  for (FilterStats* s : stats) s->inc(stat);
}

// Keeps the Redis quota reservations of the calls in flight alive: one coroutine per worker
// thread renews each registered group every reservation_ttl/3 (a group registers at admission
// and leaves at completion, in O(1) and without allocating), rather than a timer and a
// coroutine per call.
struct Renewals {
  struct Entry {
    LimitsPlan* plan;
    std::size_t group;
    std::int64_t due_ms;
  };
  std::vector<Entry> entries;
  asio::steady_timer* timer = nullptr;  // the renewer's, while it runs
  std::int64_t wake_ms = 0;
};
thread_local Renewals t_renewals;

std::int64_t renew_period_ms(const PlanGroup& g) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(g.limiter->config().reservation_ttl)
             .count() / 3;
}

asio::awaitable<void> renewer() {
  Renewals& R = t_renewals;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  struct Running {
    Renewals& r;
    ~Running() { r.timer = nullptr; }
  } running{R};
  R.timer = &timer;
  struct Work {
    std::shared_ptr<const Limiter> limiter;
    std::vector<LimitCheck> checks;
    Admission admission;
    std::string id;
    std::vector<FilterStats*> stats;
    LimitsPlan* plan;
    std::size_t group;
  };
  while (!R.entries.empty()) {
    std::int64_t now = LocalStore::now_ms();
    std::int64_t next = now + 1000;
    for (const auto& e : R.entries) next = std::min(next, e.due_ms);
    R.wake_ms = std::max(next, now + 50);
    timer.expires_after(std::chrono::milliseconds(R.wake_ms - now));
    co_await timer.async_wait(kTuple);
    now = LocalStore::now_ms();
    std::vector<Work> due;  // copies: a call may end while its renewal is in flight
    for (auto& e : R.entries) {
      if (e.due_ms > now) continue;
      const PlanGroup& g = e.plan->groups[e.group];
      due.push_back(Work{g.limiter, g.checks, g.admission, e.plan->id_text, g.stats, e.plan,
                         e.group});
      e.due_ms = now + renew_period_ms(g);
    }
    auto ex = co_await asio::this_coro::executor;
    for (auto& w : due) {
      std::string error;
      auto held = co_await w.limiter->redis()->renew(ex, w.checks, w.admission, error);
      inc_all(w.stats, held ? kRenewed : kRenewErrors);
      if (!held) continue;
      // The reservations' new bucket, for the next renewal and the settlement, if the call is
      // still registered (so still alive). A settlement that went out while this renewal was
      // in flight named the old bucket: the reservation then expires with the new one.
      for (const auto& e : R.entries)
        if (e.plan == w.plan && e.group == w.group && e.plan->id_text == w.id)
          e.plan->groups[e.group].admission.expiry_ms = w.admission.expiry_ms;
    }
  }
}

void start_renewing(LimitsPlan& plan, std::size_t gi) {
  Renewals& R = t_renewals;
  PlanGroup& g = plan.groups[gi];
  std::int64_t due = LocalStore::now_ms() + renew_period_ms(g);
  g.renew_slot = R.entries.size();
  R.entries.push_back(Renewals::Entry{&plan, gi, due});
  if (R.timer == nullptr) {
    asio::co_spawn(plan.executor, renewer(), asio::detached);
  } else if (due < R.wake_ms) {
    R.timer->cancel();  // an earlier deadline (a shorter reservation_ttl): recompute
  }
}

void stop_renewing(PlanGroup& g) {
  if (g.renew_slot == PlanGroup::kNoSlot) return;
  Renewals& R = t_renewals;
  std::size_t slot = g.renew_slot;
  g.renew_slot = PlanGroup::kNoSlot;
  if (slot >= R.entries.size()) return;
  if (slot + 1 != R.entries.size()) {
    R.entries[slot] = R.entries.back();
    const auto& moved = R.entries[slot];
    moved.plan->groups[moved.group].renew_slot = slot;
  }
  R.entries.pop_back();
  if (R.entries.empty() && R.timer != nullptr) R.timer->cancel();  // let the renewer end
}

// Settles a group with what its members reported (or, for a group released because another
// store refused the call, with nothing used).
void settle_group(LimitsPlan& plan, PlanGroup& g) {
  std::int64_t now = LocalStore::now_ms();
  switch (g.where) {
    case Hold::Where::kLocal:
      g.limiter->local().settle(g.checks, g.admission, plan.id, g.actual, now);
      inc_all(g.stats, kSettled);
      break;
    case Hold::Where::kFallback:
      fallback_store().settle(g.checks, g.admission, plan.id, g.actual, now);
      inc_all(g.stats, kSettled);
      break;
    case Hold::Where::kRedis: {
      // Rates whose use equals their reservation (requests per minute) have nothing to
      // settle: no round trip (and no callback to build).
      if (!plan.executor || !settlement_changes(g.checks, g.actual)) {
        inc_all(g.stats, kSettled);
        break;
      }
      // Settled after the call is gone: the store sends a batch whose reply was lost again
      // and applies it once; when that fails, the reservation simply expires. (The limiter
      // keeps the store alive until the batch is answered.)
      g.limiter->redis()->settle_async(
          plan.executor, g.checks, g.admission, g.actual,
          [limiter = g.limiter, stats = g.stats](bool ok, const std::string&) {
            inc_all(stats, ok ? kSettled : kSettleErrors);
          });
      break;
    }
    case Hold::Where::kNone:
      break;
  }
  g.where = Hold::Where::kNone;
}

void stop_leases(LimitsPlan& plan) {
  plan.completed = true;
  for (auto& g : plan.groups) stop_renewing(g);
}

}  // namespace

LimitsFilter::~LimitsFilter() {
  if (plan_) stop_leases(*plan_);
}

bool LimitsFilter::followed_by_limits_filter(const StreamContext& ctx) {
  for (std::size_t i = ctx.chain_position + 1; i < ctx.chain.size(); ++i)
    if (std::find(std::begin(kLimitsFilterNames), std::end(kLimitsFilterNames), ctx.chain[i]) !=
        std::end(kLimitsFilterNames))
      return true;
  return false;
}

FilterStatus LimitsFilter::on_request(StreamContext& ctx) {
  stats_->inc(kChecked);
  hold_ = Hold{};
  plan_ = ctx.shared<LimitsPlan>(kPlanName);
  if (plan_->id == 0) {
    plan_->id = new_reservation_id();
    plan_->id_text = hex64(plan_->id);
  }
  hold_.id = plan_->id;
  hold_.id_text = plan_->id_text;
  build_checks(ctx, hold_.checks);
  if (!hold_.checks.empty()) note_seen(name_, limiter_, hold_.checks);  // for /admin/usage
  if (hold_.checks.empty()) {
    stats_->inc(kAdmitted);
  } else {
    plan_->pending.push_back(this);
  }
  if (followed_by_limits_filter(ctx) || plan_->pending.empty()) return FilterStatus::kContinue;
  bool remote = false;
  start_plan(ctx, remote);
  if (remote) return FilterStatus::kSuspend;
  for (std::size_t gi : plan_->executing) {
    PlanGroup& g = plan_->groups[gi];
    g.admission = g.limiter->local().reserve(g.checks, plan_->id, LocalStore::now_ms());
    g.where = Hold::Where::kLocal;
    if (!g.admission.admitted) break;
  }
  return conclude_plan(ctx);
}

// Groups the pending members' checks by store; `remote` when a group is on Redis.
void LimitsFilter::start_plan(StreamContext& ctx, bool& remote) {
  LimitsPlan& plan = *plan_;
  plan.executing.clear();
  for (LimitsFilter* m : plan.pending) {
    std::size_t gi = plan.groups.size();
    for (std::size_t e : plan.executing)
      if (plan.groups[e].limiter->store_key() == m->limiter_->store_key()) gi = e;
    if (gi == plan.groups.size()) {
      plan.groups.emplace_back();
      plan.groups.back().limiter = m->limiter_;
      plan.executing.push_back(gi);
      remote = remote || m->limiter_->remote();
    }
    PlanGroup& g = plan.groups[gi];
    m->hold_.group = gi;
    m->hold_.offset = g.checks.size();
    g.members.push_back(m);
    g.stats.push_back(m->stats_);
    g.checks.insert(g.checks.end(), m->hold_.checks.begin(), m->hold_.checks.end());
  }
}

asio::awaitable<FilterStatus> LimitsFilter::resume_request(StreamContext& ctx) {
  LimitsPlan& plan = *plan_;
  plan.executor = co_await asio::this_coro::executor;
  for (std::size_t gi : plan.executing) {
    PlanGroup& g = plan.groups[gi];
    if (!g.limiter->remote()) {
      g.admission = g.limiter->local().reserve(g.checks, plan.id, LocalStore::now_ms());
      g.where = Hold::Where::kLocal;
      if (!g.admission.admitted) break;
      continue;
    }
    std::string error;
    auto adm = co_await g.limiter->redis()->reserve(plan.executor, g.checks, error);
    if (adm) {
      g.admission = std::move(*adm);
      g.where = Hold::Where::kRedis;
      if (!g.admission.admitted) break;
      continue;
    }
    inc_all(g.stats, kStoreErrors);
    bool closed = false;
    for (const auto& c : g.checks) closed = closed || c.policy == StorePolicy::kFailClosed;
    for (LimitsFilter* m : g.members) m->hold_.store_error = error;
    if (closed) {
      inc_all(g.stats, kFailedClosed);
      g.failed_closed = true;
      break;
    }
    inc_all(g.stats, kFailedOpen);
    g.admission = fallback_store().reserve(g.checks, plan.id, LocalStore::now_ms());
    g.where = Hold::Where::kFallback;
    if (!g.admission.admitted) break;
  }
  co_return conclude_plan(ctx);
}

// Each member's verdict from its own checks; the call is admitted when every group was.
FilterStatus LimitsFilter::conclude_plan(StreamContext& ctx) {
  LimitsPlan& plan = *plan_;
  std::vector<LimitsFilter*> members = std::move(plan.pending);
  plan.pending.clear();
  LimitsFilter* refuser = nullptr;
  bool unavailable = false;
  for (LimitsFilter* m : members) {
    PlanGroup& g = plan.groups[m->hold_.group];
    Hold& h = m->hold_;
    h.where = g.where;
    h.admission = Admission{};
    h.admission.now_ms = g.admission.now_ms;
    h.admission.admitted = g.where != Hold::Where::kNone && !g.failed_closed;
    h.admission.results.resize(h.checks.size());
    for (std::size_t i = 0; i < h.checks.size(); ++i) {
      std::size_t j = h.offset + i;
      if (j < g.admission.results.size()) h.admission.results[i] = g.admission.results[j];
      h.admission.admitted = h.admission.admitted && h.admission.results[i].ok;
    }
    if (refuser == nullptr && g.failed_closed) {
      bool closed = false;
      for (const auto& c : h.checks) closed = closed || c.policy == StorePolicy::kFailClosed;
      if (closed) {
        refuser = m;
        unavailable = true;
      }
    } else if (refuser == nullptr && g.where != Hold::Where::kNone && !h.admission.admitted) {
      refuser = m;
    }
  }
  bool all = true;
  for (std::size_t gi : plan.executing) {
    const PlanGroup& g = plan.groups[gi];
    all = all && g.where != Hold::Where::kNone && !g.failed_closed && g.admission.admitted;
  }
  if (all) {
    for (LimitsFilter* m : members) {
      m->stats_->inc(kAdmitted);
      m->admitted(ctx, m->hold_);
    }
    for (std::size_t gi : plan.executing) {
      PlanGroup& g = plan.groups[gi];
      g.actual.assign(g.checks.size(), 0);
      bool quota = false;
      for (const auto& c : g.checks) quota = quota || (c.kind == LimitKind::kQuota && c.cost > 0);
      if (g.where == Hold::Where::kRedis && quota && plan.executor && !plan.completed)
        start_renewing(plan, gi);
    }
    plan.executing.clear();
    return FilterStatus::kContinue;
  }
  // Refused: release what other stores reserved (nothing used), then answer as the first
  // refusing filter in chain order.
  for (std::size_t gi : plan.executing) {
    PlanGroup& g = plan.groups[gi];
    if (g.where != Hold::Where::kNone && g.admission.admitted) {
      g.actual.assign(g.checks.size(), 0);
      settle_group(plan, g);
    }
    g.where = Hold::Where::kNone;
  }
  plan.executing.clear();
  for (LimitsFilter* m : members) m->hold_.where = Hold::Where::kNone;
  if (refuser == nullptr) refuser = members.front();  // cannot happen: a group refused
  if (unavailable) {
    refuser->refuse_unavailable(ctx);
  } else {
    refuser->stats_->inc(kRejected);
    refuser->reject(ctx, refuser->hold_);
  }
  return FilterStatus::kRespond;
}

void LimitsFilter::refuse_unavailable(StreamContext& ctx) {
  hold_.where = Hold::Where::kNone;
  ctx.reply = LocalReply{};
  ctx.reply.status = 503;
  ctx.reply.type = ctx.provider == Provider::kAnthropic ? "api_error" : "server_error";
  ctx.reply.code = "limits_unavailable";
  ctx.reply.message = std::string(name_) +
                      ": the shared limits store is unreachable and this limit fails closed; retry later";
  ctx.reply.error_class = "filter_failed";
  ctx.reply.headers.emplace_back("retry-after", "1");
  ctx.raise_alert(std::string(name_) + ".store_unavailable", "critical", name_,
                  "limits store unreachable; call refused (fail closed)", "{}");
}

void LimitsFilter::on_complete(StreamContext& ctx, const StreamInfo& info) {
  if (plan_) stop_leases(*plan_);
  if (hold_.where == Hold::Where::kNone) return;
  std::vector<std::int64_t> actual;
  actual_use(ctx, info, hold_, actual);
  PlanGroup& g = plan_->groups[hold_.group];
  for (std::size_t i = 0; i < hold_.checks.size(); ++i)
    g.actual[hold_.offset + i] = i < actual.size() ? actual[i] : hold_.checks[i].cost;
  settled(ctx, hold_, actual);
  hold_.where = Hold::Where::kNone;
  if (++g.reported == g.members.size()) settle_group(*plan_, g);
}

std::string openai_duration(std::int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::int64_t s = (ms + 999) / 1000;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s >= 60) out += std::to_string((s % 3600) / 60) + "m";
  out += std::to_string(s % 60) + "s";
  return out;
}

std::string rfc3339_utc(std::int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>((unix_ms + 999) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

void add_limit_headers(std::vector<std::pair<std::string, std::string>>& out, Provider provider,
                       const HeaderFacts& requests, const HeaderFacts& tokens,
                       const HeaderFacts& input_tokens, const HeaderFacts& output_tokens,
                       std::int64_t now_ms) {
  auto add = [&](const HeaderFacts& f, const char* what) {
    if (f.limit < 0) return;
    if (provider == Provider::kAnthropic) {
      std::string base = std::string("anthropic-ratelimit-") + what;
      out.emplace_back(base + "-limit", std::to_string(f.limit));
      out.emplace_back(base + "-remaining", std::to_string(f.remaining));
      out.emplace_back(base + "-reset", rfc3339_utc(now_ms + f.reset_ms));
    } else {
      out.emplace_back(std::string("x-ratelimit-limit-") + what, std::to_string(f.limit));
      out.emplace_back(std::string("x-ratelimit-remaining-") + what, std::to_string(f.remaining));
      out.emplace_back(std::string("x-ratelimit-reset-") + what, openai_duration(f.reset_ms));
    }
  };
  add(requests, "requests");
  add(tokens, "tokens");
  if (provider == Provider::kAnthropic) {
    add(input_tokens, "input-tokens");
    add(output_tokens, "output-tokens");
  }
}

}  // namespace sluice::limits
