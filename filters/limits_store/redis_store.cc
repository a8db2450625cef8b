#include "filters/limits_store/redis_store.h"

#include <charconv>

#include "filters/limits_store/local_store.h"
#include "filters/limits_store/redis_scripts.h"

namespace sluice::limits {

namespace asio = boost::asio;

namespace {

// "<verb> <sha-or-body> 0 args..." encoded once, without copying the arguments.
std::string encode_script_call(std::string_view verb, std::string_view script,
                               const std::vector<std::string>& args) {
  std::string out;
  std::size_t bytes = 64 + script.size();
  for (const auto& a : args) bytes += a.size() + 16;
  out.reserve(bytes);
  auto bulk = [&](std::string_view v) {
    out += '$';
    out += std::to_string(v.size());
    out += "\r\n";
    out.append(v);
    out += "\r\n";
  };
  out += '*';
  out += std::to_string(args.size() + 3);
  out += "\r\n";
  bulk(verb);
  bulk(script);
  bulk("0");
  for (const auto& a : args) bulk(a);
  return out;
}

// EVALSHA, and EVAL once when Redis answers NOSCRIPT.
asio::awaitable<redis::RespResult> run_script(asio::any_io_executor ex, const redis::Endpoint& ep,
                                              const LuaScript& script,
                                              std::vector<std::string> args,
                                              bool deferred = false) {
  redis::RespResult r = co_await redis::resp_command_encoded(
      ex, ep, encode_script_call("EVALSHA", script.sha1, args), deferred);
  if (r.ok && r.value.is_error() && r.value.str.rfind("NOSCRIPT", 0) == 0) {
    r = co_await redis::resp_command_encoded(ex, ep, encode_script_call("EVAL", script.body, args),
                                             deferred);
  }
  co_return r;
}

std::string describe_failure(const redis::RespResult& r) {
  if (!r.ok) return r.error;
  if (r.value.is_error()) return "redis error: " + r.value.str.substr(0, 200);
  return "unexpected reply";
}

}  // namespace

std::string RedisStore::resolved_key(const LimitCheck& c, std::int64_t window_start) const {
  std::string k = prefix_ + c.key;
  if (c.kind == LimitKind::kQuota && c.window_end_ms != 0) k += "@" + std::to_string(window_start);
  return k;
}

std::vector<std::string> RedisStore::reserve_args(const std::vector<LimitCheck>& checks,
                                                  const std::string& reservation) const {
  std::vector<std::string> a;
  a.reserve(3 + 7 * checks.size());
  a.push_back(reservation);
  a.push_back(std::to_string(ttl_.count()));
  a.push_back(std::to_string(checks.size()));
  for (const auto& c : checks) {
    a.push_back(c.kind == LimitKind::kRate ? "r" : "q");
    a.push_back(prefix_ + c.key);
    a.push_back(std::to_string(c.limit));
    a.push_back(std::to_string(c.cost));
    a.push_back(std::to_string(c.window_start_ms));
    a.push_back(std::to_string(c.window_end_ms));
    a.push_back(std::to_string(c.next_window_end_ms));
  }
  return a;
}

std::vector<std::string> RedisStore::settle_args(const std::vector<LimitCheck>& checks,
                                                 const Admission& admission,
                                                 const std::string& reservation,
                                                 const std::vector<std::int64_t>& actual,
                                                 std::int64_t now_ms) const {
  std::vector<std::string> a;
  a.push_back(reservation);
  a.push_back(prefix_ + "settled:" + reservation);
  a.push_back(std::to_string(checks.size()));
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const auto& c = checks[i];
    std::int64_t start = i < admission.results.size() ? admission.results[i].window_start_ms : 0;
    a.push_back(c.kind == LimitKind::kRate ? "r" : "q");
    a.push_back(resolved_key(c, start));
    a.push_back(std::to_string(c.limit));
    std::int64_t v = i < actual.size() ? actual[i] : c.cost;
    a.push_back(std::to_string(c.kind == LimitKind::kRate ? v - c.cost : v));
    std::int64_t end = window_end_for(c, start);
    a.push_back(std::to_string(end == 0 ? ttl_.count() + kRatePeriodMs
                                        : std::max<std::int64_t>(1000, end - now_ms + 86'400'000)));
  }
  return a;
}

bool RedisStore::parse_admission(const redis::RespValue& v, std::size_t n, Admission& out) {
  if (v.type != redis::RespValue::Type::kString) return false;
  const char* p = v.str.data();
  const char* end = p + v.str.size();
  auto next = [&](std::int64_t& x) {
    while (p < end && *p == ' ') ++p;
    auto [q, ec] = std::from_chars(p, end, x);
    if (ec != std::errc() || q == p) return false;
    p = q;
    return true;
  };
  std::int64_t admitted = 0;
  if (!next(admitted) || !next(out.now_ms)) return false;
  out.admitted = admitted == 1;
  out.results.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    CheckResult& r = out.results[i];
    std::int64_t ok = 0;
    if (!next(ok) || !next(r.remaining) || !next(r.retry_after_ms) || !next(r.reset_ms) ||
        !next(r.committed_before) || !next(r.window_start_ms))
      return false;
    r.ok = ok == 1;
  }
  while (p < end && *p == ' ') ++p;
  return p == end;
}

asio::awaitable<std::optional<Admission>> RedisStore::reserve(asio::any_io_executor ex,
                                                              const std::vector<LimitCheck>& checks,
                                                              std::string reservation,
                                                              std::string& error) const {
  redis::RespResult r =
      co_await run_script(ex, endpoint_, reserve_script(), reserve_args(checks, reservation));
  Admission adm;
  if (!r.ok || r.value.is_error() || !parse_admission(r.value, checks.size(), adm)) {
    error = describe_failure(r);
    co_return std::nullopt;
  }
  co_return adm;
}

asio::awaitable<bool> RedisStore::settle(asio::any_io_executor ex,
                                         const std::vector<LimitCheck>& checks,
                                         const Admission& admission, std::string reservation,
                                         std::vector<std::int64_t> actual,
                                         std::string& error) const {
  // Nobody waits for a settlement: it rides along with the next admission's write.
  redis::RespResult r = co_await run_script(
      ex, endpoint_, settle_script(),
      settle_args(checks, admission, reservation, actual, LocalStore::now_ms()), true);
  if (!r.ok || r.value.is_error()) {
    error = describe_failure(r);
    co_return false;
  }
  co_return true;
}

asio::awaitable<std::optional<std::int64_t>> RedisStore::renew(
    asio::any_io_executor ex, const std::vector<LimitCheck>& checks, const Admission& admission,
    std::string reservation, std::string& error) const {
  std::vector<std::string> a{reservation, std::to_string(ttl_.count()), ""};
  std::size_t n = 0;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    if (checks[i].kind != LimitKind::kQuota || checks[i].cost <= 0) continue;
    a.push_back(resolved_key(checks[i], admission.results[i].window_start_ms));
    ++n;
  }
  a[2] = std::to_string(n);
  if (n == 0) co_return 0;
  redis::RespResult r = co_await run_script(ex, endpoint_, renew_script(), std::move(a));
  if (!r.ok || r.value.is_error() || r.value.type != redis::RespValue::Type::kInteger) {
    error = describe_failure(r);
    co_return std::nullopt;
  }
  co_return r.value.integer;
}

}  // namespace sluice::limits
