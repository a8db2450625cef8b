// Tests for the limits plan (filters/limits_store/limits_filter.h): with the ratelimit and
// budget filters created by their factories for one call, the call's limits are reserved in
// one store operation by the last of them and settled in one: against a real redis-server,
// one script call per admission and one per settlement (counted at the RESP client and by
// Redis's own INFO commandstats); in-process, all or none across both filters; each filter's
// headers, reply, alerts and event field as when it ran alone.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <functional>
#include <future>
#include <memory>
#include <string>

#include "conf/yaml_reader.h"
#include "filters/registry.h"
#include "filters/limits_store/resp_client.h"
#include "tests/filters/limits_store/redis_server.h"

namespace sluice {
namespace {

namespace asio = boost::asio;

std::shared_ptr<const FilterConfig> parse(const char* name, const std::string& yaml) {
  ConfigErrors errors("test.yaml");
  ConfigNode node(YAML::Load(yaml), std::string("filters.") + name, &errors);
  auto c = find_filter(name)->parse(node);
  EXPECT_TRUE(errors.all().empty()) << errors.all().front();
  return c;
}

std::string store(int redis_port) {
  if (redis_port == 0) return "";
  return "store: {backend: redis, key_prefix: \"plan" + std::to_string(redis_port) +
         ":\", redis: {address: \"127.0.0.1:" + std::to_string(redis_port) + "\"}}\n";
}

// ratelimit: 100 requests and 10,000 output tokens per minute per key; budget: 1,000
// micro-USD per day per team, and a model priced at 1 USD per 1M output tokens, so a call
// capped at 400 output tokens reserves 400 micro-USD and two fit, not three.
struct Chain {
  std::shared_ptr<const FilterConfig> ratelimit, budget;
  Chain(const std::string& rule, int redis_port)
      : ratelimit(parse("ratelimit", store(redis_port) + "rules:\n  - name: " + rule +
                                         "\n    match: {key: \"*\"}\n"
                                         "    requests_per_minute: 100\n"
                                         "    output_tokens_per_minute: 10000\n")),
        budget(parse("budget", store(redis_port) +
                                   "default_price: {input: 10, output: 30}\n"
                                   "prices: {models: {\"unit-model\": {input: 0, output: 1}}}\n"
                                   "rules:\n  - name: " + rule +
                                   "\n    match: {team: \"*\"}\n    usd_per_day: 0.001\n")) {}
  // The call's filters, created together as the proxy does.
  std::vector<std::unique_ptr<Filter>> create() const {
    std::vector<std::unique_ptr<Filter>> f;
    f.push_back(find_filter("ratelimit")->create(ratelimit));
    f.push_back(find_filter("budget")->create(budget));
    return f;
  }
};

// Chain::create's filters, as StreamContext::chain shows them.
constexpr std::string_view kChainNames[] = {"ratelimit", "budget"};

StreamContext call(const std::string& team) {
  StreamContext ctx;
  ctx.chain = kChainNames;
  ctx.provider = Provider::kOpenAI;
  ctx.api = ApiKind::kChatCompletions;
  ctx.identity.tenant = "acme";
  ctx.identity.team = team;
  ctx.identity.key_fingerprint = "k-" + team;
  ctx.request.model = "unit-model";
  ctx.request.max_output_tokens = 400;
  ctx.request.estimated_input_tokens = 20;
  return ctx;
}

std::string header(const std::vector<std::pair<std::string, std::string>>& h, const std::string& k) {
  for (const auto& [name, v] : h)
    if (name == k) return v;
  return "";
}

std::string field(const StreamContext& ctx, const std::string& filter) {
  for (const auto& [f, json] : ctx.event_fields)
    if (f == filter) return json;
  return "";
}

asio::io_context& io() {
  static asio::io_context io;
  return io;
}

template <typename T>
T run(std::function<asio::awaitable<T>(asio::any_io_executor)> f) {
  auto fut = asio::co_spawn(io(), f(io().get_executor()), asio::use_future);
  while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    io().restart();
    io().run_one_for(std::chrono::milliseconds(20));
  }
  return fut.get();
}

// Runs the request phase of every filter in order, as Call::run does.
FilterStatus request_phase(std::vector<std::unique_ptr<Filter>>& filters, StreamContext& ctx) {
  for (std::size_t i = 0; i < filters.size(); ++i) {
    auto& f = filters[i];
    ctx.chain_position = i;
    FilterStatus st = f->on_request(ctx);
    if (st == FilterStatus::kSuspend)
      st = run<FilterStatus>([&](asio::any_io_executor) { return f->resume_request(ctx); });
    if (st != FilterStatus::kContinue) return st;
  }
  return FilterStatus::kContinue;
}

// Completes the call with 300 output tokens reported and waits for the settlement.
void complete(std::vector<std::unique_ptr<Filter>>& filters, StreamContext& ctx) {
  ctx.usage.input_tokens = 20;
  ctx.usage.output_tokens = 300;
  ctx.usage.source = TokenUsage::Source::kProvider;
  ctx.response_status = 200;
  StreamInfo info;
  info.status = 200;
  std::uint64_t settled = find_filter("budget")->stats()->get("settled");
  for (auto& f : filters) f->on_complete(ctx, info);
  for (int i = 0; i < 250 && find_filter("budget")->stats()->get("settled") == settled; ++i) {
    io().restart();
    io().run_one_for(std::chrono::milliseconds(20));
  }
}

std::int64_t evalsha_calls(const redis::Endpoint& ep) {
  auto r = run<redis::RespResult>([&](asio::any_io_executor ex) {
    return redis::resp_command(ex, ep, {"INFO", "commandstats"});
  });
  const std::string& s = r.value.str;
  auto at = s.find("cmdstat_evalsha:calls=");
  if (at == std::string::npos) return 0;
  return std::stoll(s.substr(at + 22));
}

TEST(LimitsPlan, RedisOneScriptCallPerAdmissionAndPerSettlement) {
  testing::RedisServer server;
  redis::Endpoint ep;
  ep.port = static_cast<std::uint16_t>(server.port());
  Chain chain("plan", server.port());

  // First call loads the scripts (EVALSHA answered NOSCRIPT, then EVAL).
  {
    auto filters = chain.create();
    auto ctx = call("warm");
    ASSERT_EQ(request_phase(filters, ctx), FilterStatus::kContinue) << ctx.reply.message;
    complete(filters, ctx);
  }

  auto filters = chain.create();
  auto ctx = call("blue");
  std::int64_t evals0 = evalsha_calls(ep);
  std::uint64_t sent0 = redis::resp_client_stats().commands;
  ctx.chain_position = 0;
  ASSERT_EQ(filters[0]->on_request(ctx), FilterStatus::kContinue);  // ratelimit: deferred
  EXPECT_EQ(redis::resp_client_stats().commands, sent0);
  ctx.chain_position = 1;
  ASSERT_EQ(filters[1]->on_request(ctx), FilterStatus::kSuspend);  // budget: executes the plan
  ASSERT_EQ(run<FilterStatus>([&](asio::any_io_executor) { return filters[1]->resume_request(ctx); }),
            FilterStatus::kContinue);
  EXPECT_EQ(redis::resp_client_stats().commands, sent0 + 1);  // one round trip for the chain
  // ratelimit's own headers, from its share of the one reservation.
  EXPECT_EQ(header(ctx.response_headers, "x-ratelimit-remaining-requests"), "99");
  EXPECT_EQ(header(ctx.response_headers, "x-ratelimit-remaining-tokens"), "9600");

  complete(filters, ctx);
  EXPECT_EQ(redis::resp_client_stats().commands, sent0 + 2);  // one settlement for the chain
  EXPECT_EQ(evalsha_calls(ep), evals0 + 2);                     // Redis saw the same two
  std::string rl = field(ctx, "ratelimit"), bg = field(ctx, "budget");
  ASSERT_FALSE(rl.empty());
  ASSERT_FALSE(bg.empty());
  auto id = bg.substr(bg.find("\"reservation_id\":"), 36);
  EXPECT_NE(rl.find(id), std::string::npos) << rl << "\n" << bg;  // one reservation
  EXPECT_NE(rl.find("\"store\":\"redis\""), std::string::npos) << rl;
  EXPECT_NE(bg.find("\"cost_micro_usd\":300"), std::string::npos) << bg;
  EXPECT_EQ(ctx.cost_micro_usd, 300);

  // The settlement reached Redis: 300 of 1,000 spent, so one more call of up to 400 fits
  // (held open here), and the next is refused, in one round trip each.
  auto f1 = chain.create();
  auto c1 = call("blue");
  std::uint64_t sent = redis::resp_client_stats().commands;
  ASSERT_EQ(request_phase(f1, c1), FilterStatus::kContinue) << c1.reply.message;
  auto f2 = chain.create();
  auto c2 = call("blue");
  ASSERT_EQ(request_phase(f2, c2), FilterStatus::kRespond);
  EXPECT_EQ(redis::resp_client_stats().commands, sent + 2);
  EXPECT_EQ(c2.reply.status, 429);
  EXPECT_EQ(c2.reply.code, "insufficient_quota");  // budget's reply
  ASSERT_EQ(c2.alerts.size(), 1u);
  EXPECT_EQ(c2.alerts[0].type, "budget.exhausted");
  complete(f1, c1);
}

TEST(LimitsPlan, InProcessAllOrNoneAcrossFilters) {
  Chain chain("local-plan", 0);
  auto a = chain.create();
  auto ca = call("green");
  ASSERT_EQ(request_phase(a, ca), FilterStatus::kContinue);
  EXPECT_EQ(header(ca.response_headers, "x-ratelimit-remaining-requests"), "99");
  auto b = chain.create();
  auto cb = call("green");
  ASSERT_EQ(request_phase(b, cb), FilterStatus::kContinue);  // 800 of 1,000 reserved
  // The third is refused by the budget; its ratelimit share is not taken either.
  auto c = chain.create();
  auto cc = call("green");
  ASSERT_EQ(request_phase(c, cc), FilterStatus::kRespond);
  EXPECT_EQ(cc.reply.code, "insufficient_quota");
  complete(a, ca);
  EXPECT_EQ(ca.cost_micro_usd, 300);
  auto d = chain.create();
  auto cd = call("green");
  ASSERT_EQ(request_phase(d, cd), FilterStatus::kRespond);  // 300 + 400 + 400 > 1,000
  auto e = chain.create();
  auto ce = call("green");
  complete(b, cb);  // 600 settled: 400 fits again
  ASSERT_EQ(request_phase(e, ce), FilterStatus::kContinue) << ce.reply.message;
  // Four calls reached the rate limiter's request bucket, the two refused ones did not.
  EXPECT_EQ(header(ce.response_headers, "x-ratelimit-remaining-requests"), "97");
  complete(e, ce);
}

TEST(LimitsPlan, InterleavedCallsStayApart) {
  // Two calls' chains created back to back on one thread, the second call's request phase
  // running between the first call's two filters: each call's filters form their own plan.
  Chain chain("two-batches", 0);
  auto a = chain.create();
  auto b = chain.create();
  auto ca = call("amber");
  auto cb = call("amber");
  ca.chain_position = 0;
  ASSERT_EQ(a[0]->on_request(ca), FilterStatus::kContinue);
  EXPECT_TRUE(ca.response_headers.empty());  // deferred to a's budget filter, not b's
  ASSERT_EQ(request_phase(b, cb), FilterStatus::kContinue);
  EXPECT_EQ(header(cb.response_headers, "x-ratelimit-remaining-requests"), "99");
  ca.chain_position = 1;
  ASSERT_EQ(a[1]->on_request(ca), FilterStatus::kContinue);
  EXPECT_EQ(header(ca.response_headers, "x-ratelimit-remaining-requests"), "98");
  complete(a, ca);
  complete(b, cb);
  EXPECT_EQ(field(ca, "ratelimit").substr(0, 36), field(ca, "budget").substr(0, 36));
}

TEST(LimitsPlan, RateLimitRefusalAnswersAsRateLimit) {
  Chain chain("rl-first", 0);
  auto small = parse("ratelimit", "rules:\n  - name: rl-first-rpm\n    match: {key: \"*\"}\n"
                                  "    requests_per_minute: 1\n");
  auto make = [&] {
    std::vector<std::unique_ptr<Filter>> f;
    f.push_back(find_filter("ratelimit")->create(small));
    f.push_back(find_filter("budget")->create(chain.budget));
    return f;
  };
  auto a = make();
  auto ca = call("red");
  ASSERT_EQ(request_phase(a, ca), FilterStatus::kContinue);
  auto b = make();
  auto cb = call("red");
  ASSERT_EQ(request_phase(b, cb), FilterStatus::kRespond);
  EXPECT_EQ(cb.reply.code, "rate_limit_exceeded");
  ASSERT_EQ(cb.alerts.size(), 1u);
  EXPECT_EQ(cb.alerts[0].type, "ratelimit.rejected");
  complete(a, ca);
}

}  // namespace
}  // namespace sluice
