// Tests for the Redis store and its RESP client against a real redis-server: admission and
// settlement match the in-process store, reservations expire and renewals keep them, a
// retried settlement counts once, NOSCRIPT is handled, and an unreachable or killed Redis
// fails fast and recovers.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <thread>
#include <future>
#include <random>

#include "filters/limits_store/local_store.h"
#include "filters/limits_store/redis_scripts.h"
#include "filters/limits_store/redis_store.h"
#include "filters/limits_store/resp_client.h"
#include "tests/filters/limits_store/redis_server.h"

namespace sluice::limits {
namespace {

namespace asio = boost::asio;
using testing::RedisServer;

// Runs one coroutine to completion on `io` (the Redis connection keeps the context busy with
// its read, so run() alone would not return).
template <typename T>
T run_on(asio::io_context& io, std::function<asio::awaitable<T>(asio::any_io_executor)> f) {
  auto fut = asio::co_spawn(io, f(io.get_executor()), asio::use_future);
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return fut.get();
}

// A context per test thread, reused so that commands share the connection like a worker's.
asio::io_context& test_io() {
  thread_local asio::io_context io;
  return io;
}

template <typename T>
T run(std::function<asio::awaitable<T>(asio::any_io_executor)> f) {
  return run_on<T>(test_io(), std::move(f));
}

redis::Endpoint endpoint(int port) {
  redis::Endpoint ep;
  ep.port = static_cast<std::uint16_t>(port);
  ep.command_timeout = std::chrono::milliseconds(500);
  ep.reconnect_backoff = std::chrono::milliseconds(100);
  return ep;
}

LimitCheck quota(const std::string& key, std::int64_t limit, std::int64_t cost, std::int64_t start = 0,
                 std::int64_t end = 0) {
  LimitCheck c;
  c.kind = LimitKind::kQuota;
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

TEST(RespClient, EncodesCommands) {
  std::string out;
  redis::encode_command({"SET", "k", ""}, out);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST(RespClient, ArgsAreBulkStrings) {
  redis::RespArgs a;
  a.add("SET");
  a.add({"pre:", "", "key"});
  a.add_int(0);
  a.add_int(-1);
  a.add_int(1234567890);
  a.add_int(INT64_MIN);
  EXPECT_EQ(a.count(), 6u);
  EXPECT_EQ(a.bytes(),
            "$3\r\nSET\r\n$7\r\npre:key\r\n$1\r\n0\r\n$2\r\n-1\r\n$10\r\n1234567890\r\n"
            "$20\r\n-9223372036854775808\r\n");
  // Integers inside an argument, of every length and sign, and more than 16 of them.
  redis::RespArgs parts;
  std::string want;
  std::int64_t x = 0;
  for (int len = 1; len <= 19; ++len) {
    x = x * 10 + (len * 3) % 10;
    for (std::int64_t v : {x, -x}) {
      parts.add({"q ", v, " ", std::int64_t{0}, "@", INT64_MAX});
      const std::string body = "q " + std::to_string(v) + " 0@" + std::to_string(INT64_MAX);
      want += "$" + std::to_string(body.size()) + "\r\n" + body + "\r\n";
    }
  }
  std::string body;
  redis::RespArgs wide;
  for (int i = 0; i < 40; ++i) body += std::to_string(i * 7919);
  wide.add({0, 7919, 15838, 23757, 31676, 39595, 47514, 55433, 63352, 71271, 79190, 87109, 95028,
            102947, 110866, 118785, 126704, 134623, 142542, 150461, 158380, 166299, 174218,
            182137, 190056, 197975, 205894, 213813, 221732, 229651, 237570, 245489, 253408,
            261327, 269246, 277165, 285084, 293003, 300922, 308841});
  EXPECT_EQ(parts.bytes(), want);
  EXPECT_EQ(wide.bytes(), "$" + std::to_string(body.size()) + "\r\n" + body + "\r\n");
  // Growing past the room reserved keeps what was written.
  redis::RespArgs many;
  many.reserve(8);
  std::string expect;
  for (int i = 0; i < 1000; ++i) {
    many.add_int(i);
    expect += "$" + std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) + "\r\n";
  }
  EXPECT_EQ(many.take(), expect);
}

asio::awaitable<void> incr(asio::any_io_executor ex, redis::Endpoint ep, int i,
                           std::shared_ptr<std::vector<std::int64_t>> results,
                           std::shared_ptr<int> done) {
  std::vector<std::string> cmd{"INCRBY", "c" + std::to_string(i % 7), "1"};
  auto r = co_await redis::resp_command(ex, ep, cmd);
  (*results)[static_cast<std::size_t>(i)] = r.ok ? r.value.integer : -2;
  ++*done;
}

TEST(RespClient, PipelinesManyCommandsInOrder) {
  RedisServer server;
  auto ep = endpoint(server.port());
  int mismatches = run<int>([&](asio::any_io_executor ex) -> asio::awaitable<int> {
    // 500 INCRs started at once share one connection; each reply must be its own.
    auto results = std::make_shared<std::vector<std::int64_t>>(500, -1);
    auto done = std::make_shared<int>(0);
    for (int i = 0; i < 500; ++i) {
      asio::co_spawn(ex, incr(ex, ep, i, results, done), asio::detached);
    }
    asio::steady_timer t(ex);
    while (*done < 500) {
      t.expires_after(std::chrono::milliseconds(5));
      co_await t.async_wait(asio::use_awaitable);
    }
    int bad = 0;
    std::vector<std::int64_t> seen(7, 0);
    for (int i = 0; i < 500; ++i) {
      if ((*results)[i] <= 0) ++bad;
      seen[i % 7] = std::max(seen[i % 7], (*results)[i]);
    }
    std::int64_t total = 0;
    for (auto s : seen) total += s;
    if (total != 500) ++bad;
    co_return bad;
  });
  EXPECT_EQ(mismatches, 0);
}

// Replies are built as RespValues by hiredis's parser hooks: every type, nested arrays, and a
// reply longer than one read (16 KiB) arrive whole and in order.
TEST(RespClient, RepliesOfEveryTypeArriveWhole) {
  RedisServer server;
  auto ep = endpoint(server.port());
  using T = redis::RespValue::Type;
  auto cmd = [&](std::vector<std::string> args) {
    return run<redis::RespResult>([&](asio::any_io_executor ex) {
      return redis::resp_command(ex, ep, args);
    });
  };
  auto set = cmd({"SET", "k", "v"});
  ASSERT_TRUE(set.ok) << set.error;
  EXPECT_EQ(set.value.type, T::kStatus);
  EXPECT_EQ(set.value.str, "OK");
  EXPECT_EQ(cmd({"GET", "missing"}).value.type, T::kNil);
  auto err = cmd({"INCR", "k"});
  EXPECT_TRUE(err.value.is_error());
  EXPECT_NE(err.value.str.find("not an integer"), std::string::npos) << err.value.str;
  auto nested = cmd({"EVAL", "return {1, {2, 'a', {}, {-3}}, 'b', false}", "0"});
  ASSERT_EQ(nested.value.type, T::kArray);
  ASSERT_EQ(nested.value.elements.size(), 4u);
  EXPECT_EQ(nested.value.elements[0].integer, 1);
  const auto& inner = nested.value.elements[1];
  ASSERT_EQ(inner.elements.size(), 4u);
  EXPECT_EQ(inner.elements[0].integer, 2);
  EXPECT_EQ(inner.elements[1].str, "a");
  EXPECT_EQ(inner.elements[2].type, T::kArray);
  EXPECT_TRUE(inner.elements[2].elements.empty());
  EXPECT_EQ(inner.elements[3].elements.at(0).integer, -3);
  EXPECT_EQ(nested.value.elements[2].str, "b");
  EXPECT_EQ(nested.value.elements[3].type, T::kNil);
  auto big = cmd({"EVAL", "local t = {} for i = 1, 20000 do t[i] = i * 1000003 end return t", "0"});
  ASSERT_EQ(big.value.elements.size(), 20000u);
  bool all = true;
  for (std::size_t i = 0; i < 20000; ++i)
    all = all && big.value.elements[i].integer == static_cast<std::int64_t>(i + 1) * 1000003;
  EXPECT_TRUE(all);
  EXPECT_EQ(cmd({"GET", "k"}).value.str, "v");  // the pipeline is still in step
}

asio::awaitable<void> incr_one(asio::any_io_executor ex, redis::Endpoint ep, std::string key,
                               bool deferred, std::shared_ptr<std::vector<std::int64_t>> out) {
  std::string cmd;
  redis::encode_command({"INCRBY", key, "1"}, cmd);
  auto r = co_await redis::resp_command_encoded(ex, ep, cmd, deferred);
  out->push_back(r.ok ? r.value.integer : -1);
}

TEST(RespClient, DeferredCommandsRideWithTheNextUrgentOneOrGoAfterTheWindow) {
  RedisServer server;
  auto ep = endpoint(server.port());
  auto out = std::make_shared<std::vector<std::int64_t>>();
  // Connect first, so that the counts below are the commands' own writes.
  run<int>([&](asio::any_io_executor ex) -> asio::awaitable<int> {
    co_await incr_one(ex, ep, "warm", false, out);
    co_return 0;
  });
  // A deferred command alone is written after the window, not never.
  auto w0 = redis::resp_client_stats().writes;
  auto t0 = std::chrono::steady_clock::now();
  run<int>([&](asio::any_io_executor ex) -> asio::awaitable<int> {
    co_await incr_one(ex, ep, "alone", true, out);
    co_return 0;
  });
  EXPECT_GE(std::chrono::steady_clock::now() - t0, redis::kDeferWindow);
  EXPECT_EQ(redis::resp_client_stats().writes, w0 + 1);
  // Three deferred commands and then an urgent one: one write for the four, replies in order.
  auto w1 = redis::resp_client_stats().writes;
  run<int>([&](asio::any_io_executor ex) -> asio::awaitable<int> {
    for (int i = 0; i < 3; ++i) asio::co_spawn(ex, incr_one(ex, ep, "d", true, out), asio::detached);
    co_await incr_one(ex, ep, "u", false, out);
    asio::steady_timer t(ex);
    while (out->size() < 6) {
      t.expires_after(std::chrono::milliseconds(1));
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return 0;
  });
  EXPECT_EQ(redis::resp_client_stats().writes, w1 + 1);
  std::vector<std::int64_t> last(out->begin() + 2, out->end());
  std::sort(last.begin(), last.end());
  EXPECT_EQ(last, (std::vector<std::int64_t>{1, 1, 2, 3}));  // "u" once, "d" three times
}

// A server that answers something other than RESP: the command fails with the parser's
// reason, the counter moves, the connection is closed, and the next one works.
TEST(RespClient, MalformedReplyFailsTheCommandAndTheNextConnectionWorks) {
  asio::io_context server_io;
  asio::ip::tcp::acceptor acceptor(server_io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  std::thread server([&] {
    for (std::string_view answer : {std::string_view("HTTP/1.1 400 Bad Request\r\n\r\n"),
                                    std::string_view(":7\r\n")}) {
      asio::ip::tcp::socket s(server_io);
      acceptor.accept(s);
      char buf[256];
      boost::system::error_code ec;
      s.read_some(asio::buffer(buf), ec);  // the command
      asio::write(s, asio::buffer(answer), ec);
    }
  });
  auto ep = endpoint(port);
  asio::io_context io;  // its own connection
  auto cmd = [&] {
    return run_on<redis::RespResult>(io, [&](asio::any_io_executor ex) {
      return redis::resp_command(ex, ep, {"INCR", "x"});
    });
  };
  const auto errors = redis::resp_client_stats().protocol_errors;
  auto bad = cmd();
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.error.find("protocol error: unexpected byte 0x48"), std::string::npos) << bad.error;
  EXPECT_EQ(redis::resp_client_stats().protocol_errors, errors + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // past the reconnect backoff
  auto good = cmd();
  ASSERT_TRUE(good.ok) << good.error;
  EXPECT_EQ(good.value.integer, 7);
  server.join();
}

// In a write that carries deferred commands, an urgent one goes first: Redis runs it before
// them, and every reply still reaches its own command.
TEST(RespClient, UrgentCommandRunsAheadOfUnwrittenDeferredOnes) {
  RedisServer server;
  auto ep = endpoint(server.port());
  auto out = std::make_shared<std::vector<std::int64_t>>();
  run<int>([&](asio::any_io_executor ex) -> asio::awaitable<int> {
    co_await incr_one(ex, ep, "warm", false, out);  // connected
    co_return 0;
  });
  std::vector<std::pair<std::string, std::int64_t>> replies;  // in the order they came
  auto incr = [&](asio::any_io_executor ex, std::string key, bool deferred,
                  std::string tag) -> asio::awaitable<void> {
    std::string cmd;
    redis::encode_command({"INCRBY", key, "1"}, cmd);
    auto r = co_await redis::resp_command_encoded(ex, ep, cmd, deferred);
    replies.emplace_back(tag, r.ok ? r.value.integer : -1);
  };
  run<int>([&](asio::any_io_executor ex) -> asio::awaitable<int> {
    for (int i = 0; i < 3; ++i)
      asio::co_spawn(ex, incr(ex, "k", true, "deferred" + std::to_string(i)), asio::detached);
    co_await incr(ex, "k", false, "urgent");
    asio::steady_timer t(ex);
    while (replies.size() < 4) {
      t.expires_after(std::chrono::milliseconds(1));
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return 0;
  });
  // The urgent INCRBY ran first (1), then the deferred ones in their order (2, 3, 4).
  const std::vector<std::pair<std::string, std::int64_t>> want{
      {"urgent", 1}, {"deferred0", 2}, {"deferred1", 3}, {"deferred2", 4}};
  EXPECT_EQ(replies, want);
}

TEST(RedisStore, ReserveSettleMatchesLocalStore) {
  RedisServer server;
  RedisStore store(endpoint(server.port()), "t1:", std::chrono::seconds(60));
  LocalStore local;
  std::int64_t now = LocalStore::now_ms();
  // Rates of 6 per minute drain one unit per 10 s: no drift between the two clocks here.
  std::vector<LimitCheck> checks{quota("spend", 1000, 300, now - 60'000, now + 3'600'000),
                                 rate("rpm", 6, 1), quota("conc", 2, 1)};
  for (int i = 0; i < 8; ++i) {
    std::string err;
    auto adm = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
      return store.reserve(ex, checks, err);
    });
    ASSERT_TRUE(adm) << err;
    Admission ladm = local.reserve(checks, static_cast<std::uint64_t>(i + 1), LocalStore::now_ms());
    EXPECT_EQ(adm->admitted, ladm.admitted) << i;
    for (std::size_t k = 0; k < checks.size(); ++k) {
      EXPECT_EQ(adm->results[k].ok, ladm.results[k].ok) << i << "/" << k;
      EXPECT_EQ(adm->results[k].remaining, ladm.results[k].remaining) << i << "/" << k;
      EXPECT_EQ(adm->results[k].committed_before, ladm.results[k].committed_before) << i << "/" << k;
    }
    if (adm->admitted) {
      std::vector<std::int64_t> actual{100, 1, 0};
      bool ok = run<bool>([&](asio::any_io_executor ex) {
        return store.settle(ex, checks, *adm, actual, err);
      });
      ASSERT_TRUE(ok) << err;
      local.settle(checks, ladm, static_cast<std::uint64_t>(i + 1), actual, LocalStore::now_ms());
    }
  }
  // Admitted: the rate (6) and spend (each settles 100 of a 300 reservation) decide.
  EXPECT_EQ(local.committed("spend", now - 60'000), 600);
}

std::int64_t script_calls(const redis::Endpoint& ep) {
  auto r = run<redis::RespResult>([&](asio::any_io_executor ex) {
    return redis::resp_command(ex, ep, {"INFO", "commandstats"});
  });
  std::int64_t n = 0;
  for (const char* name : {"cmdstat_evalsha:calls=", "cmdstat_eval:calls="}) {
    auto at = r.value.str.find(name);
    if (at != std::string::npos) n += std::atoll(r.value.str.c_str() + at + std::strlen(name));
  }
  return n;
}

// Starts every task at once on the test thread's context (in order) and waits for all.
using Task = std::function<asio::awaitable<void>(asio::any_io_executor)>;
void run_concurrently(const std::vector<Task>& tasks) {
  run<int>([&](asio::any_io_executor ex) -> asio::awaitable<int> {
    auto done = std::make_shared<std::size_t>(0);
    for (const Task& task : tasks) {
      asio::co_spawn(
          ex,
          [&task, ex, done]() -> asio::awaitable<void> {
            co_await task(ex);
            ++*done;
          },
          asio::detached);
    }
    asio::steady_timer t(ex);
    while (*done < tasks.size()) {
      t.expires_after(std::chrono::milliseconds(2));
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return 0;
  });
}

// n admissions of `checks` at once (they share script runs).
std::vector<std::optional<Admission>> reserve_all(const RedisStore& store,
                                                  const std::vector<LimitCheck>& checks, int n) {
  std::vector<std::optional<Admission>> adms(static_cast<std::size_t>(n));
  std::vector<Task> tasks;
  for (int i = 0; i < n; ++i)
    tasks.push_back([&, i](asio::any_io_executor ex) -> asio::awaitable<void> {
      std::string e;
      adms[static_cast<std::size_t>(i)] = co_await store.reserve(ex, checks, e);
    });
  run_concurrently(tasks);
  return adms;
}

// Settles every admitted one of `adms` at once with `actual`; returns how many were applied.
int settle_all(const RedisStore& store, const std::vector<LimitCheck>& checks,
               const std::vector<std::optional<Admission>>& adms,
               const std::vector<std::int64_t>& actual) {
  int settled = 0;
  std::vector<Task> tasks;
  for (const auto& adm : adms) {
    if (!adm || !adm->admitted) continue;
    tasks.push_back([&](asio::any_io_executor ex) -> asio::awaitable<void> {
      std::string e;
      if (co_await store.settle(ex, checks, *adm, actual, e)) ++settled;
    });
  }
  run_concurrently(tasks);
  return settled;
}

// Settles the admitted calls in both stores (Redis: all at once), then checks that one more
// admission sees the same state in both. `tolerance(k)`: how far check k's remaining may
// differ (a rate drains between the two stores' clock reads).
void expect_same_after_settling(const RedisStore& store, LocalStore& local,
                                const std::vector<LimitCheck>& checks,
                                const std::vector<std::optional<Admission>>& adms,
                                const std::vector<Admission>& ladms,
                                const std::vector<std::int64_t>& actual,
                                const std::function<double(std::size_t)>& tolerance) {
  int admitted = 0;
  for (std::size_t i = 0; i < ladms.size(); ++i) {
    if (!ladms[i].admitted) continue;
    ++admitted;
    local.settle(checks, ladms[i], i + 1, actual, LocalStore::now_ms());
  }
  EXPECT_EQ(settle_all(store, checks, adms, actual), admitted);
  std::string err;
  auto next = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
    return store.reserve(ex, checks, err);
  });
  ASSERT_TRUE(next) << err;
  Admission lnext = local.reserve(checks, 1000, LocalStore::now_ms());
  EXPECT_EQ(next->admitted, lnext.admitted);
  for (std::size_t k = 0; k < checks.size(); ++k) {
    EXPECT_NEAR(next->results[k].remaining, lnext.results[k].remaining, tolerance(k)) << k;
    EXPECT_EQ(next->results[k].committed_before, lnext.results[k].committed_before) << k;
  }
}

// Calls that wait at the same time share one script run, and each gets what it would have got
// alone, in turn: the in-process store, given the same calls in the same order, agrees on every
// figure, before and after the settlements (one of them sent twice in the same batch).
TEST(RedisStore, ConcurrentCallsShareAScriptRunWithSequentialOutcomes) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore store(ep, "t6:", std::chrono::seconds(60));
  LocalStore local;
  const std::int64_t now = LocalStore::now_ms();
  std::vector<LimitCheck> checks{quota("spend", 5000, 300, now - 60'000, now + 3'600'000),
                                 rate("rpm", 30, 1), rate("tpm", 3000, 50),
                                 quota("conc", 25, 1)};
  constexpr int kCalls = 40;
  // The two stores' clocks are read milliseconds apart: "tpm" drains one unit per 20 ms.
  auto tolerance = [&](std::size_t k) { return checks[k].key == "tpm" ? 3.0 : 0.0; };
  std::string err;
  // Load the scripts first, so that the count below is the batch's alone. (Named: the store's
  // coroutines take the checks and the admission by reference and start after this returns.)
  const std::vector<LimitCheck> warm{rate("warm", 10, 1)};
  const Admission no_admission;
  ASSERT_TRUE(run<std::optional<Admission>>([&](asio::any_io_executor ex) {
    return store.reserve(ex, warm, err);
  })) << err;
  ASSERT_TRUE(run<bool>([&](asio::any_io_executor ex) {
    return store.settle(ex, warm, no_admission, {1}, err);
  })) << err;

  const std::int64_t calls0 = script_calls(ep);
  const RedisBatchStats batches0 = redis_batch_stats();
  const auto adms = reserve_all(store, checks, kCalls);
  EXPECT_LE(script_calls(ep) - calls0, 2) << "40 waiting admissions should share script runs";
  // The counters behind /metrics (sluice_limits_redis_script_{runs,calls}_total) saw it.
  EXPECT_EQ(redis_batch_stats().reserve_calls - batches0.reserve_calls, kCalls);
  EXPECT_LE(redis_batch_stats().reserve_runs - batches0.reserve_runs, 2u);
  // Each admission's wait is in sluice_limits_redis_admission_seconds.
  const LatencyHistogram waits = redis_batch_stats().admission_wait;
  EXPECT_EQ(waits.count - batches0.admission_wait.count, kCalls);
  EXPECT_GT(waits.sum_us, batches0.admission_wait.sum_us);
  std::string text;
  render_redis_metrics(text);
  EXPECT_NE(text.find("# TYPE sluice_limits_redis_admission_seconds histogram\n"),
            std::string::npos);
  EXPECT_NE(text.find("sluice_limits_redis_admission_seconds_count " +
                      std::to_string(waits.count) + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_limits_redis_admission_seconds_bucket{le=\"+Inf\"} " +
                      std::to_string(waits.count) + "\n"),
            std::string::npos);

  std::vector<Admission> ladms;
  int admitted = 0;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(adms[i]) << i;
    Admission l = local.reserve(checks, static_cast<std::uint64_t>(i + 1), LocalStore::now_ms());
    EXPECT_EQ(adms[i]->admitted, l.admitted) << i;
    for (std::size_t k = 0; k < checks.size(); ++k) {
      EXPECT_EQ(adms[i]->results[k].ok, l.results[k].ok) << i << "/" << k;
      EXPECT_NEAR(adms[i]->results[k].remaining, l.results[k].remaining, tolerance(k))
          << i << "/" << k;
      EXPECT_EQ(adms[i]->results[k].committed_before, l.results[k].committed_before)
          << i << "/" << k;
    }
    admitted += l.admitted ? 1 : 0;
    ladms.push_back(std::move(l));
  }
  EXPECT_EQ(admitted, 16);  // spend decides: 5000 at 300 a call
  // Settle every admitted call at once.
  expect_same_after_settling(store, local, checks, adms, ladms, {120, 1, 20, 1}, tolerance);
}

std::map<std::string, std::string> hash(const redis::Endpoint& ep, const std::string& key);

// A batch whose calls all fit is admitted whole (one sum per limit) and each call's figures,
// worked out by the client from the state before the batch, are the in-process store's for
// the same calls in the same order; so is the state after their settlements (sums too).
TEST(RedisStore, BatchAdmittedWholeGivesEachCallItsSequentialFigures) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore store(ep, "t10:", std::chrono::seconds(60));
  LocalStore local;
  const std::int64_t now = LocalStore::now_ms();
  // Every limit admits all 40 calls; the rates drain slowly (1 unit per 0.6 s and 1.2 s).
  std::vector<LimitCheck> checks{quota("spend", 50'000, 300, now - 60'000, now + 3'600'000),
                                 rate("rpm", 100, 1), rate("tpm", 50, 1), quota("conc", 45, 1)};
  constexpr int kCalls = 40;
  std::string err;
  const std::vector<LimitCheck> warm{rate("warm", 10, 1)};
  ASSERT_TRUE(run<std::optional<Admission>>([&](asio::any_io_executor ex) {
    return store.reserve(ex, warm, err);
  })) << err;
  const RedisBatchStats before = redis_batch_stats();
  const auto adms = reserve_all(store, checks, kCalls);
  const RedisBatchStats after = redis_batch_stats();
  ASSERT_LE(after.reserve_runs - before.reserve_runs, 2u);
  EXPECT_EQ(after.reserve_whole - before.reserve_whole, after.reserve_runs - before.reserve_runs);
  std::vector<Admission> ladms;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(adms[i]) << i;
    Admission l = local.reserve(checks, static_cast<std::uint64_t>(i + 1), LocalStore::now_ms());
    ASSERT_TRUE(adms[i]->admitted) << i;
    ASSERT_TRUE(l.admitted) << i;
    for (std::size_t k = 0; k < checks.size(); ++k) {
      EXPECT_TRUE(adms[i]->results[k].ok) << i << "/" << k;
      EXPECT_NEAR(adms[i]->results[k].remaining, l.results[k].remaining, k == 2 ? 1.0 : 0.0)
          << i << "/" << k;
      EXPECT_EQ(adms[i]->results[k].committed_before, l.results[k].committed_before)
          << i << "/" << k;
      EXPECT_NEAR(adms[i]->results[k].reset_ms, l.results[k].reset_ms, k == 0 ? 1000.0 : 1300.0)
          << i << "/" << k;
      EXPECT_EQ(adms[i]->results[k].window_start_ms, l.results[k].window_start_ms)
          << i << "/" << k;
    }
    ladms.push_back(std::move(l));
  }
  // Settle all at once: spend 120 of 300, tpm 3 of 1 (2 more), conc released.
  expect_same_after_settling(store, local, checks, adms, ladms, {120, 1, 3, 0},
                             [](std::size_t k) { return k == 2 ? 1.0 : 0.0; });
  EXPECT_EQ(hash(ep, "t10:spend@" + std::to_string(now - 60'000))["u"],
            std::to_string(kCalls * 120));
}

// Whatever the mix (limits near exhaustion, one counter under two limits, one counter twice
// in a call, zero amounts), calls that share a batch get what they would get one at a time.
TEST(RedisStore, BatchedCallsGetWhatTheyWouldGetOneAtATime) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore batched(ep, "t11a:", std::chrono::seconds(60));
  RedisStore single(ep, "t11b:", std::chrono::seconds(60));
  const std::int64_t now = LocalStore::now_ms();
  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    // Fresh counters each round, and rates of at most 40 a minute: their levels start at
    // whole units and drain less than one (1.5 s) between the two runs' reads of a call, so
    // neither a remaining figure nor a verdict can differ by the time between them.
    const std::string r = std::to_string(round);
    const std::vector<LimitCheck> pool{
        quota("spend" + r, 2'000, 0, now - 60'000, now + 3'600'000), rate("rpm" + r, 20, 1),
        rate("tok" + r, 40, 0), rate("tok" + r, 30, 0), quota("conc" + r, 12, 1)};
    std::vector<std::vector<LimitCheck>> calls;
    for (int i = 0; i < 24; ++i) {
      std::vector<LimitCheck> c;
      for (const auto& p : pool) {
        if (rng() % 3 == 0) continue;
        LimitCheck x = p;
        if (x.key == "spend" + r) x.cost = static_cast<std::int64_t>(rng() % 250);
        if (x.key == "tok" + r) x.cost = static_cast<std::int64_t>(rng() % 6);
        c.push_back(std::move(x));
      }
      if (rng() % 5 == 0 && !c.empty()) c.push_back(c.front());  // one counter twice
      calls.push_back(std::move(c));
    }
    std::vector<std::optional<Admission>> got(calls.size());
    std::vector<Task> tasks;
    for (std::size_t i = 0; i < calls.size(); ++i)
      tasks.push_back([&, i](asio::any_io_executor ex) -> asio::awaitable<void> {
        std::string e;
        got[i] = co_await batched.reserve(ex, calls[i], e);
      });
    run_concurrently(tasks);
    for (std::size_t i = 0; i < calls.size(); ++i) {
      std::string err;
      auto want = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
        return single.reserve(ex, calls[i], err);
      });
      ASSERT_TRUE(want) << err;
      ASSERT_TRUE(got[i]) << round << "/" << i;
      EXPECT_EQ(got[i]->admitted, want->admitted) << round << "/" << i;
      for (std::size_t k = 0; k < calls[i].size(); ++k) {
        EXPECT_EQ(got[i]->results[k].ok, want->results[k].ok) << round << "/" << i << "/" << k;
        EXPECT_EQ(got[i]->results[k].remaining, want->results[k].remaining)
            << round << "/" << i << "/" << k;
        EXPECT_EQ(got[i]->results[k].committed_before, want->results[k].committed_before)
            << round << "/" << i << "/" << k;
        EXPECT_EQ(got[i]->results[k].retry_after_ms < 0, want->results[k].retry_after_ms < 0)
            << round << "/" << i << "/" << k;
      }
    }
  }
}

// A settlement that would change nothing (only rates, each used as reserved) is not sent.
// Settlements enqueued while a settlement batch is out wait (settle_wait) for more: the calls
// that come during the wait go in the same script run; a batch that is full enough (256)
// goes without waiting out the rest. Graceful shutdown waits on settlements_pending.
TEST(RedisStore, SettlementBatchFollowingAnotherWaitsForMore) {
  RedisServer server;
  auto ep = endpoint(server.port());
  const std::vector<LimitCheck> checks{quota("q", 1'000'000, 100)};
  auto settle_in_waves = [&](const RedisStore& store, std::vector<int> waves) {
    const auto adms = reserve_all(store, checks, 1);
    EXPECT_TRUE(adms[0] && adms[0]->admitted);
    auto answered = std::make_shared<int>(0);
    auto settle_one = [&, answered](const asio::any_io_executor& ex) {
      EXPECT_TRUE(store.settle_async(ex, checks, *adms[0], {40},
                                     [answered](bool ok, const std::string& error) {
                                       EXPECT_TRUE(ok) << error;
                                       ++*answered;
                                     }));
    };
    int total = 1;
    for (int n : waves) total += n;
    EXPECT_TRUE(run<bool>([&](asio::any_io_executor ex) -> asio::awaitable<bool> {
      settle_one(ex);  // goes at once
      // Its batch is taken (send_all runs from a post) and out before the waves come.
      for (int i = 0; i < 3; ++i) co_await asio::post(ex, asio::use_awaitable);
      for (std::size_t w = 0; w < waves.size(); ++w) {
        if (w > 0) {
          asio::steady_timer t(ex);
          t.expires_after(std::chrono::milliseconds(50));
          co_await t.async_wait(asio::use_awaitable);
        }
        for (int i = 0; i < waves[w]; ++i) settle_one(ex);
      }
      EXPECT_GT(redis_batch_stats().settlements_pending, 0u);
      while (*answered < total) {
        asio::steady_timer t(ex);
        t.expires_after(std::chrono::milliseconds(5));
        co_await t.async_wait(asio::use_awaitable);
      }
      co_return true;
    }));
    EXPECT_EQ(redis_batch_stats().settlements_pending, 0u);
    return total;
  };

  // A 400 ms wait: the 20 calls queued behind the first batch and the 10 that come 50 ms
  // later go in one batch.
  RedisStore waiting(ep, "t9:", std::chrono::seconds(60), std::chrono::microseconds(60),
                     std::chrono::milliseconds(400));
  RedisBatchStats before = redis_batch_stats();
  int total = settle_in_waves(waiting, {20, 10});
  RedisBatchStats after = redis_batch_stats();
  EXPECT_EQ(after.settle_calls - before.settle_calls, 31u);
  EXPECT_EQ(after.settle_runs - before.settle_runs, 2u);
  EXPECT_EQ(hash(ep, "t9:q")["u"], std::to_string(40 * total));

  // Without the wait the second wave goes on its own.
  RedisStore eager(ep, "t10:", std::chrono::seconds(60), std::chrono::microseconds(60),
                   std::chrono::microseconds(0));
  before = redis_batch_stats();
  total = settle_in_waves(eager, {20, 10});
  after = redis_batch_stats();
  // The first alone, the 20 behind it, then the second wave's first call finds no batch out
  // and goes at once, and its other 9 follow it.
  EXPECT_EQ(after.settle_runs - before.settle_runs, 4u);
  EXPECT_EQ(hash(ep, "t10:q")["u"], std::to_string(40 * total));

  // A 10 s wait that a full batch cuts short: 100 calls wait behind the first; 50 ms later
  // 200 more come, and the batch goes when it holds 256 (with the rest of that wave, queued
  // before the batch is taken).
  RedisStore full(ep, "t11:", std::chrono::seconds(60), std::chrono::microseconds(60),
                  std::chrono::seconds(10));
  before = redis_batch_stats();
  const auto t0 = std::chrono::steady_clock::now();
  total = settle_in_waves(full, {100, 200});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  after = redis_batch_stats();
  EXPECT_EQ(after.settle_runs - before.settle_runs, 2u);
  EXPECT_EQ(hash(ep, "t11:q")["u"], std::to_string(40 * total));
}

// Each counter costs the settle script commands of its own: a batch takes at most 256
// different ones (Redis stays blocked for ~2 ms at most), however many calls are queued.
TEST(RedisStore, SettlementBatchHoldsAtMost256Counters) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore store(ep, "t12:", std::chrono::seconds(60), std::chrono::microseconds(60),
                   std::chrono::milliseconds(20));
  constexpr int kCalls = 301;
  std::vector<std::vector<LimitCheck>> checks;
  for (int i = 0; i < kCalls; ++i) checks.push_back({quota("q" + std::to_string(i), 1000, 100)});
  std::vector<std::optional<Admission>> adms(kCalls);
  std::vector<Task> tasks;
  for (int i = 0; i < kCalls; ++i)
    tasks.push_back([&, i](asio::any_io_executor ex) -> asio::awaitable<void> {
      std::string e;
      adms[static_cast<std::size_t>(i)] = co_await store.reserve(ex, checks[i], e);
    });
  run_concurrently(tasks);
  for (const auto& a : adms) ASSERT_TRUE(a && a->admitted);
  const RedisBatchStats before = redis_batch_stats();
  auto answered = std::make_shared<int>(0);
  EXPECT_TRUE(run<bool>([&](asio::any_io_executor ex) -> asio::awaitable<bool> {
    for (int i = 0; i < kCalls; ++i)  // the first goes at once, the 300 others behind it
      EXPECT_TRUE(store.settle_async(ex, checks[i], *adms[i], {40},
                                     [answered](bool ok, const std::string& error) {
                                       EXPECT_TRUE(ok) << error;
                                       ++*answered;
                                     }));
    while (*answered < kCalls) {
      asio::steady_timer t(ex);
      t.expires_after(std::chrono::milliseconds(5));
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return true;
  }));
  const RedisBatchStats after = redis_batch_stats();
  EXPECT_EQ(after.settle_calls - before.settle_calls, static_cast<std::uint64_t>(kCalls));
  EXPECT_EQ(after.settle_runs - before.settle_runs, 3u);  // 1, 256, 44
  for (int i : {0, 1, 256, 257, 300}) {
    EXPECT_EQ(hash(ep, "t12:q" + std::to_string(i))["u"], "40") << i;
    EXPECT_EQ(hash(ep, "t12:q" + std::to_string(i))["rb"], "0") << i;
  }
}

TEST(RedisStore, SettlementThatChangesNothingIsNotSent) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore store(ep, "t7:", std::chrono::seconds(60));
  std::vector<LimitCheck> checks{rate("rpm", 10, 1), rate("tpm", 1000, 100)};
  std::string err;
  auto adm = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
    return store.reserve(ex, checks, err);
  });
  ASSERT_TRUE(adm && adm->admitted) << err;
  const std::int64_t calls0 = script_calls(ep);
  EXPECT_TRUE(run<bool>([&](asio::any_io_executor ex) {
    return store.settle(ex, checks, *adm, {1, 100}, err);
  }));
  EXPECT_EQ(script_calls(ep), calls0);
  EXPECT_TRUE(run<bool>([&](asio::any_io_executor ex) {  // 40 tokens fewer than reserved
    return store.settle(ex, checks, *adm, {1, 60}, err);
  })) << err;
  EXPECT_GT(script_calls(ep), calls0);  // EVALSHA, and EVAL: the first settlement loads it
  auto next = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
    return store.reserve(ex, checks, err);
  });
  ASSERT_TRUE(next) << err;
  EXPECT_EQ(next->results[1].remaining, 1000 - 60 - 100);  // the 40 came back
}

TEST(RedisStore, ExpiredReservationsAreReleasedAndRenewalsKeepThem) {
  RedisServer server;
  RedisStore store(endpoint(server.port()), "t2:", std::chrono::milliseconds(300));
  std::vector<LimitCheck> checks{quota("c", 1, 1)};
  auto reserve = [&](const std::string& id) {
    std::string err;
    return run<std::optional<Admission>>([&](asio::any_io_executor ex) {
      return store.reserve(ex, checks, err);
    });
  };
  auto sleep = [](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  auto a = reserve("a");
  ASSERT_TRUE(a && a->admitted);
  EXPECT_FALSE(reserve("b")->admitted);
  sleep(400);
  auto c = reserve("c");  // "a" expired: a crashed owner does not hold the slot
  ASSERT_TRUE(c && c->admitted);
  for (int i = 0; i < 4; ++i) {
    sleep(150);
    std::string err;
    auto held = run<std::optional<std::int64_t>>([&](asio::any_io_executor ex) {
      return store.renew(ex, checks, *c, err);  // moves c to a later bucket
    });
    ASSERT_TRUE(held) << err;
    EXPECT_EQ(*held, 1);
  }
  EXPECT_FALSE(reserve("d")->admitted);  // 600 ms later, renewed: still held
}

// Redis's reply to one command, on the test thread's connection.
redis::RespValue cli(const redis::Endpoint& ep, std::vector<std::string> args) {
  auto r = run<redis::RespResult>([&](asio::any_io_executor ex) {
    return redis::resp_command(ex, ep, std::move(args));
  });
  EXPECT_TRUE(r.ok) << r.error;
  return r.value;
}

// A hash's fields and values, as a map.
std::map<std::string, std::string> hash(const redis::Endpoint& ep, const std::string& key) {
  redis::RespValue v = cli(ep, {"HGETALL", key});
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2)
    out[v.elements[i].str] = v.elements[i + 1].str;
  return out;
}

// Quota reservations are summed per expiry bucket: admissions write no field of their own,
// a settlement gives its bucket back, and what is left afterwards is the settled use.
TEST(RedisStore, ReservationsLiveInExpiryBucketsAndLeaveNothingBehind) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore store(ep, "t8:", std::chrono::seconds(64));  // buckets of 2 s
  std::vector<LimitCheck> checks{quota("q", 1000, 100)};
  std::vector<Admission> adms;
  for (int i = 0; i < 3; ++i) {
    std::string err;
    auto adm = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
      return store.reserve(ex, checks, err);
    });
    ASSERT_TRUE(adm && adm->admitted) << err;
    EXPECT_EQ(adm->results[0].committed_before, 100 * i);
    EXPECT_GE(adm->expiry_ms, adm->now_ms + 64'000);
    EXPECT_LT(adm->expiry_ms, adm->now_ms + 64'000 + 2'000);
    EXPECT_EQ(adm->expiry_ms % 2'000, 0);
    adms.push_back(*adm);
  }
  auto h = hash(ep, "t8:q");
  EXPECT_EQ(h["rb"], "300");
  std::int64_t in_buckets = 0;
  for (const auto& [f, v] : h) {
    EXPECT_TRUE(f == "rb" || f == "ne" || f == "k" || f.rfind("e:", 0) == 0) << f;
    if (f.rfind("e:", 0) == 0) in_buckets += std::atoll(v.c_str());
  }
  EXPECT_EQ(in_buckets, 300);
  for (int i = 0; i < 3; ++i) {
    std::string err;
    ASSERT_TRUE(run<bool>([&](asio::any_io_executor ex) {
      return store.settle(ex, checks, adms[i], {40}, err);
    })) << err;
  }
  h = hash(ep, "t8:q");
  EXPECT_EQ(h["u"], "120");
  EXPECT_EQ(h["rb"], "0");
  for (const auto& [f, v] : h) EXPECT_NE(f.rfind("e:", 0), 0u) << f << " left behind";
  // The retry markers: one hash per minute, one field per settlement batch (each settlement
  // here is a batch of its own).
  redis::RespValue keys = cli(ep, {"KEYS", "t8:settled:*"});
  ASSERT_GE(keys.elements.size(), 1u);
  std::size_t fields = 0;
  for (const auto& k : keys.elements)
    fields += static_cast<std::size_t>(cli(ep, {"HLEN", k.str}).integer);
  EXPECT_EQ(fields, 3u);
}

// A replica from before the bucket layout kept one field per reservation ("r:<id>", summed in
// "rs", expiries in "<key>:x"): those reservations still count, and expire, here.
TEST(RedisStore, ReservationsOfTheEarlierLayoutCountAndExpire) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore store(ep, "t9:", std::chrono::seconds(60));
  const std::int64_t now = LocalStore::now_ms();
  cli(ep, {"HSET", "t9:q", "rs", "700", "r:live", "300", "r:gone", "400"});
  cli(ep, {"ZADD", "t9:q:x", std::to_string(now + 60'000), "live", std::to_string(now - 1'000),
           "gone"});
  std::vector<LimitCheck> checks{quota("q", 1000, 600)};
  std::string err;
  auto adm = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
    return store.reserve(ex, checks, err);
  });
  ASSERT_TRUE(adm) << err;
  EXPECT_EQ(adm->results[0].committed_before, 300);  // "gone" expired, "live" still counts
  EXPECT_TRUE(adm->admitted);                        // 300 + 600 ≤ 1000
  auto h = hash(ep, "t9:q");
  EXPECT_EQ(h["rs"], "300");
  EXPECT_EQ(h.count("r:gone"), 0u);
  checks[0].cost = 101;
  auto next = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
    return store.reserve(ex, checks, err);
  });
  ASSERT_TRUE(next) << err;
  EXPECT_FALSE(next->admitted);  // 300 (old layout) + 600 (buckets) + 101 > 1000
  EXPECT_EQ(next->results[0].committed_before, 900);
}

// A renewal moves the reservation to a later bucket; a settlement then gives back that one.
TEST(RedisStore, RenewalMovesTheReservationAndSettlementFindsIt) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore store(ep, "t10:", std::chrono::milliseconds(3200));  // buckets of 100 ms
  std::vector<LimitCheck> checks{quota("q", 10, 4)};
  std::string err;
  auto adm = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
    return store.reserve(ex, checks, err);
  });
  ASSERT_TRUE(adm && adm->admitted) << err;
  const std::int64_t first = adm->expiry_ms;
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  auto held = run<std::optional<std::int64_t>>([&](asio::any_io_executor ex) {
    return store.renew(ex, checks, *adm, err);
  });
  ASSERT_TRUE(held) << err;
  EXPECT_EQ(*held, 1);
  EXPECT_GT(adm->expiry_ms, first);
  auto h = hash(ep, "t10:q");
  EXPECT_EQ(h.count("e:" + std::to_string(first)), 0u);
  EXPECT_EQ(h["e:" + std::to_string(adm->expiry_ms)], "4");
  EXPECT_EQ(h["rb"], "4");
  ASSERT_TRUE(run<bool>([&](asio::any_io_executor ex) {
    return store.settle(ex, checks, *adm, {3}, err);
  })) << err;
  h = hash(ep, "t10:q");
  EXPECT_EQ(h["rb"], "0");
  EXPECT_EQ(h["u"], "3");
  EXPECT_EQ(h.count("e:" + std::to_string(adm->expiry_ms)), 0u);
}

// A rate's key expires after its bucket drains: its expiry is recorded in the hash ("x") and
// moved only when the bucket needs the key to live longer, so most batches leave it alone.
TEST(RedisStore, RateKeyExpiryIsMovedOnlyWhenNeeded) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore store(ep, "t9:", std::chrono::seconds(60));
  std::vector<LimitCheck> checks{rate("rpm", 600, 1)};  // drains one unit per 100 ms
  std::string err;
  auto reserve = [&] {
    return run<std::optional<Admission>>([&](asio::any_io_executor ex) {
      return store.reserve(ex, checks, err);
    });
  };
  auto first = reserve();
  ASSERT_TRUE(first && first->admitted) << err;
  const std::int64_t x = std::atoll(hash(ep, "t9:rpm")["x"].c_str());
  EXPECT_EQ(cli(ep, {"PEXPIRETIME", "t9:rpm"}).integer, x);
  // Drained 100 ms after now, plus a minute, plus a minute of slack.
  EXPECT_GE(x, first->now_ms + 100 + 120'000);
  EXPECT_LE(x, first->now_ms + 100 + 120'000 + 1'000);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(reserve()) << err;
  EXPECT_EQ(cli(ep, {"PEXPIRETIME", "t9:rpm"}).integer, x);  // not moved
  // A minute on, the bucket needs the key beyond x: as if x had been set a minute ago.
  cli(ep, {"HSET", "t9:rpm", "x", std::to_string(x - 60'000)});
  cli(ep, {"PEXPIREAT", "t9:rpm", std::to_string(x - 60'000)});
  auto later = reserve();
  ASSERT_TRUE(later && later->admitted) << err;
  const std::int64_t x2 = std::atoll(hash(ep, "t9:rpm")["x"].c_str());
  EXPECT_GE(x2, later->now_ms + 120'000);
  EXPECT_EQ(cli(ep, {"PEXPIRETIME", "t9:rpm"}).integer, x2);
}

// The settle script applies a batch once: the same batch (same id) sent again counts nothing
// and answers -1.
TEST(RedisStore, SettlementBatchSentTwiceCountsOnce) {
  RedisServer server;
  auto ep = endpoint(server.port());
  const std::string& body = settle_script().body;
  std::vector<std::string> batch{"EVAL", body, "0", "batch-1", "t3:settled",
                                 "0",  // no rate
                                 // one quota: 42 used, ttl hint, no reservation held
                                 "1", "q t3:q", "42", "86400000", "0"};
  redis::RespValue first = cli(ep, batch);
  EXPECT_GT(first.integer, 0);
  EXPECT_EQ(hash(ep, "t3:q")["u"], "42");
  redis::RespValue again = cli(ep, batch);
  EXPECT_EQ(again.integer, -1);
  EXPECT_EQ(hash(ep, "t3:q")["u"], "42");
  batch[3] = "batch-2";  // another batch: applied
  cli(ep, batch);
  EXPECT_EQ(hash(ep, "t3:q")["u"], "84");
}

// A settlement whose reply is lost (Redis busy past the command timeout: the client gives up
// and closes the connection, Redis applies it afterwards) is sent again with its batch id and
// counted once. (The retry, 0.5 s after the timeout, lands when the 1 s script has ended or
// just behind it; either way after the lost one.)
TEST(RedisStore, SettlementRetriedAfterALostReplyCountsOnce) {
  RedisServer server;
  auto ep = endpoint(server.port());  // 500 ms command timeout, 100 ms reconnect backoff
  RedisStore store(ep, "t3:", std::chrono::seconds(60));
  std::vector<LimitCheck> checks{quota("q", 100, 50)};
  std::string err;
  auto adm = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
    return store.reserve(ex, checks, err);
  });
  ASSERT_TRUE(adm && adm->admitted) << err;
  // The settle script loaded (else the lost command would be an EVALSHA answered NOSCRIPT).
  const std::vector<LimitCheck> warm{quota("warm", 10, 1)};
  const Admission no_admission;
  ASSERT_TRUE(run<bool>([&](asio::any_io_executor ex) {
    return store.settle(ex, warm, no_admission, {1}, err);
  })) << err;
  // Redis runs a script for 1 s on another connection; the settlement waits behind it.
  std::promise<void> started;
  std::thread busy([&] {
    asio::io_context io;
    started.set_value();
    run_on<redis::RespResult>(io, [&](asio::any_io_executor ex) {
      return redis::resp_command(
          ex, ep,
          {"EVAL",
           "local t = redis.call('TIME') local t0 = t[1] * 1000000 + t[2] "
           "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - t0 > 1000000 return 1",
           "0"});
    });
  });
  started.get_future().wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the script is running
  const auto retries = redis_batch_stats().settle_retries;
  const auto timeouts = redis::resp_client_stats().timeouts;
  EXPECT_TRUE(run<bool>([&](asio::any_io_executor ex) {
    return store.settle(ex, checks, *adm, {40}, err);
  })) << err;
  busy.join();
  EXPECT_GT(redis::resp_client_stats().timeouts, timeouts);
  EXPECT_GT(redis_batch_stats().settle_retries, retries);
  EXPECT_EQ(hash(ep, "t3:q")["u"], "40");
  EXPECT_EQ(hash(ep, "t3:q")["rb"], "0");
  // 60 of 100 remain: a 60 fits, then nothing does.
  checks[0].cost = 60;
  EXPECT_TRUE(run<std::optional<Admission>>([&](asio::any_io_executor ex) {
                return store.reserve(ex, checks, err);
              })->admitted);
  checks[0].cost = 1;
  EXPECT_FALSE(run<std::optional<Admission>>([&](asio::any_io_executor ex) {
                 return store.reserve(ex, checks, err);
               })->admitted);
}

TEST(RedisStore, LoadsScriptsAfterFlush) {
  RedisServer server;
  auto ep = endpoint(server.port());
  RedisStore store(ep, "t4:", std::chrono::seconds(60));
  std::vector<LimitCheck> checks{rate("r", 10, 1)};
  std::string err;
  for (int i = 0; i < 2; ++i) {
    auto r = run<redis::RespResult>([&](asio::any_io_executor ex) {
      return redis::resp_command(ex, ep, {"SCRIPT", "FLUSH"});
    });
    ASSERT_TRUE(r.ok);
    auto adm = run<std::optional<Admission>>([&](asio::any_io_executor ex) {
      return store.reserve(ex, checks, err);
    });
    ASSERT_TRUE(adm) << err;
    EXPECT_TRUE(adm->admitted);
  }
}

TEST(RedisStore, UnreachableFailsFastThenRecovers) {
  int port = testing::free_port();
  auto ep = endpoint(port);
  RedisStore store(ep, "t5:", std::chrono::seconds(60));
  std::vector<LimitCheck> checks{rate("r", 1000, 1)};
  std::string err;
  asio::io_context io;  // its own connection: starts disconnected
  auto attempt = [&] {
    err.clear();
    return run_on<std::optional<Admission>>(io, [&](asio::any_io_executor ex) {
      return store.reserve(ex, checks, err);
    });
  };
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(attempt());
  EXPECT_FALSE(err.empty());
  EXPECT_FALSE(attempt());  // within the backoff: fails at once
  EXPECT_NE(err.find("unavailable"), std::string::npos) << err;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));

  RedisServer server(port);
  ASSERT_TRUE(server.running());
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // past the reconnect backoff
  auto adm = attempt();
  ASSERT_TRUE(adm) << err;
  EXPECT_TRUE(adm->admitted);

  server.stop();  // killed while connected
  EXPECT_FALSE(attempt());
  server.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  adm = attempt();
  EXPECT_TRUE(adm) << err;
}

}  // namespace
}  // namespace sluice::limits
