#include "filters/limits_store/limits_filter.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <ctime>

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
  if (cfg.backend == StoreConfig::Backend::kRedis)
    redis_ = std::make_unique<RedisStore>(cfg.redis, cfg.key_prefix, cfg.reservation_ttl);
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

struct Lease {
  explicit Lease(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool done = false;
};

namespace {

std::string hex64(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

// Keeps a Redis hold's quota reservations alive while the call runs.
asio::awaitable<void> renew_loop(std::shared_ptr<Lease> lease, std::shared_ptr<const Limiter> limiter,
                                 std::vector<LimitCheck> checks, Admission admission,
                                 std::string id, FilterStats* stats) {
  auto ex = co_await asio::this_coro::executor;
  auto period = limiter->config().reservation_ttl / 3;
  for (;;) {
    lease->timer.expires_after(period);
    co_await lease->timer.async_wait(kTuple);
    if (lease->done) co_return;
    std::string error;
    auto held = co_await limiter->redis()->renew(ex, checks, admission, id, error);
    if (lease->done) co_return;
    stats->inc(held ? kRenewed : kRenewErrors);
  }
}

// Settles on Redis after the call is gone; retried a few times (the script is idempotent
// per reservation), after which the reservation simply expires.
asio::awaitable<void> settle_remote(std::shared_ptr<const Limiter> limiter, Hold hold,
                                    std::vector<std::int64_t> actual, FilterStats* stats) {
  auto ex = co_await asio::this_coro::executor;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (attempt > 0) {
      asio::steady_timer wait(ex);
      wait.expires_after(std::chrono::milliseconds(500 * attempt));
      co_await wait.async_wait(kTuple);
    }
    std::string error;
    if (co_await limiter->redis()->settle(ex, hold.checks, hold.admission, hold.id_text, actual,
                                          error)) {
      stats->inc(kSettled);
      co_return;
    }
  }
  stats->inc(kSettleErrors);
}

}  // namespace

LimitsFilter::~LimitsFilter() {
  if (lease_) {
    lease_->done = true;
    lease_->timer.cancel();
  }
}

FilterStatus LimitsFilter::on_request(StreamContext& ctx) {
  stats_->inc(kChecked);
  hold_ = Hold{};
  build_checks(ctx, hold_.checks);
  if (hold_.checks.empty()) {
    stats_->inc(kAdmitted);
    return FilterStatus::kContinue;
  }
  hold_.id = new_reservation_id();
  hold_.id_text = hex64(hold_.id);
  if (limiter_->remote()) return FilterStatus::kSuspend;
  hold_.admission = limiter_->local().reserve(hold_.checks, hold_.id, LocalStore::now_ms());
  hold_.where = Hold::Where::kLocal;
  return decide(ctx);
}

FilterStatus LimitsFilter::decide(StreamContext& ctx) {
  if (hold_.admission.admitted) {
    stats_->inc(kAdmitted);
    admitted(ctx, hold_);
    return FilterStatus::kContinue;
  }
  stats_->inc(kRejected);
  reject(ctx, hold_);
  hold_.where = Hold::Where::kNone;  // nothing was reserved
  return FilterStatus::kRespond;
}

asio::awaitable<FilterStatus> LimitsFilter::resume_request(StreamContext& ctx) {
  executor_ = co_await asio::this_coro::executor;
  std::string error;
  auto adm = co_await limiter_->redis()->reserve(executor_, hold_.checks, hold_.id_text, error);
  if (adm) {
    hold_.admission = std::move(*adm);
    hold_.where = Hold::Where::kRedis;
    FilterStatus st = decide(ctx);
    bool quota = false;
    for (const auto& c : hold_.checks) quota = quota || (c.kind == LimitKind::kQuota && c.cost > 0);
    if (st == FilterStatus::kContinue && quota) {
      lease_ = std::make_shared<Lease>(executor_);
      asio::co_spawn(executor_,
                     renew_loop(lease_, limiter_, hold_.checks, hold_.admission, hold_.id_text, stats_),
                     asio::detached);
    }
    co_return st;
  }
  stats_->inc(kStoreErrors);
  hold_.store_error = error;
  bool closed = false;
  for (const auto& c : hold_.checks) closed = closed || c.policy == StorePolicy::kFailClosed;
  if (closed) {
    stats_->inc(kFailedClosed);
    refuse_unavailable(ctx);
    co_return FilterStatus::kRespond;
  }
  stats_->inc(kFailedOpen);
  hold_.admission = fallback_store().reserve(hold_.checks, hold_.id, LocalStore::now_ms());
  hold_.where = Hold::Where::kFallback;
  co_return decide(ctx);
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
  if (lease_) {
    lease_->done = true;
    lease_->timer.cancel();
    lease_.reset();
  }
  if (hold_.where == Hold::Where::kNone) return;
  std::vector<std::int64_t> actual;
  actual_use(ctx, info, hold_, actual);
  std::int64_t now = LocalStore::now_ms();
  switch (hold_.where) {
    case Hold::Where::kLocal:
      limiter_->local().settle(hold_.checks, hold_.admission, hold_.id, actual, now);
      stats_->inc(kSettled);
      break;
    case Hold::Where::kFallback:
      fallback_store().settle(hold_.checks, hold_.admission, hold_.id, actual, now);
      stats_->inc(kSettled);
      break;
    case Hold::Where::kRedis: {
      // A hold of rates whose use equals their reservation (requests per minute) has nothing
      // to settle: no round trip.
      bool changes = false;
      for (std::size_t i = 0; i < hold_.checks.size(); ++i) {
        const auto& c = hold_.checks[i];
        changes = changes || c.kind == LimitKind::kQuota || (i < actual.size() && actual[i] != c.cost);
      }
      if (changes) {
        asio::co_spawn(executor_, settle_remote(limiter_, hold_, actual, stats_), asio::detached);
      } else {
        stats_->inc(kSettled);
      }
      break;
    }
    case Hold::Where::kNone:
      break;
  }
  settled(ctx, hold_, actual);
  hold_.where = Hold::Where::kNone;
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
