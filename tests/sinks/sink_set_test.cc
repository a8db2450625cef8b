// SinkSet::publish(record, done): who gets the record, when `done` runs and with what outcome.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "sinks/sink.h"

namespace sluice {
namespace {

// Records what it is given; a holding sink keeps the callbacks for the test to fire.
class FakeSink final : public EventSink {
 public:
  explicit FakeSink(bool holds, std::vector<DurableCallback>* held = nullptr)
      : holds_(holds), held_(held) {}
  const char* name() const override { return holds_ ? "holding" : "plain"; }
  void publish(const RecordPtr& r) override { ++plain_publishes; last = r; }
  void publish_durable(const RecordPtr& r, DurableCallback done) override {
    ++durable_publishes;
    last = r;
    held_->push_back(std::move(done));
  }
  bool holds_response() const override { return holds_; }
  void stop(std::chrono::steady_clock::time_point) override {}
  void render_metrics(std::string&) const override {}
  void render_status(std::string& out) const override { out += holds_ ? "{\"h\":1}" : "{}"; }
  bool accepting() const override { return accepting_; }

  int plain_publishes = 0;
  int durable_publishes = 0;
  RecordPtr last;
  bool accepting_ = true;

 private:
  bool holds_;
  std::vector<DurableCallback>* held_;
};

RecordPtr rec() {
  auto r = std::make_shared<Record>();
  r->id = "e1";
  return r;
}

TEST(SinkSet, NoHoldingSinkCallsBackAtOnceOnTheCallingThread) {
  SinkSet set;
  auto* a = new FakeSink(false);
  set.add(std::unique_ptr<EventSink>(a));
  EXPECT_FALSE(set.holds_response());
  int calls = 0;
  Durability got = Durability::kUnknown;
  set.publish(rec(), [&](Durability d) { ++calls; got = d; });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, Durability::kDurable);
  EXPECT_EQ(a->plain_publishes, 1);
  // An empty set too.
  SinkSet none;
  calls = 0;
  none.publish(rec(), [&](Durability) { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(SinkSet, OneHoldingSinkDecidesWhenAndWhat) {
  std::vector<DurableCallback> held;
  SinkSet set;
  auto* plain = new FakeSink(false);
  auto* holding = new FakeSink(true, &held);
  set.add(std::unique_ptr<EventSink>(plain));
  set.add(std::unique_ptr<EventSink>(holding));
  EXPECT_TRUE(set.holds_response());
  int calls = 0;
  Durability got = Durability::kUnknown;
  set.publish(rec(), [&](Durability d) { ++calls; got = d; });
  EXPECT_EQ(calls, 0);  // not before the holding sink reports
  EXPECT_EQ(plain->plain_publishes, 1);
  EXPECT_EQ(holding->durable_publishes, 1);
  EXPECT_EQ(holding->plain_publishes, 0);  // given once, not twice
  ASSERT_EQ(held.size(), 1u);
  held[0](Durability::kSyncFailed);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, Durability::kSyncFailed);
}

TEST(SinkSet, SeveralHoldingSinksReportTheWorstOutcomeOnceFromAnyThread) {
  for (int round = 0; round < 50; ++round) {
    std::vector<DurableCallback> held;
    SinkSet set;
    set.add(std::make_unique<FakeSink>(true, &held));
    set.add(std::make_unique<FakeSink>(true, &held));
    set.add(std::make_unique<FakeSink>(true, &held));
    std::atomic<int> calls{0};
    std::atomic<int> got{-1};
    set.publish(rec(), [&](Durability d) {
      ++calls;
      got = static_cast<int>(d);
    });
    ASSERT_EQ(held.size(), 3u);
    std::thread t1([&] { held[0](Durability::kDurable); });
    std::thread t2([&] { held[1](Durability::kRejected); });
    std::thread t3([&] { held[2](Durability::kDropped); });
    t1.join();
    t2.join();
    t3.join();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(got.load(), static_cast<int>(Durability::kRejected));
  }
}

TEST(SinkSet, AcceptingAndStatus) {
  SinkSet set;
  auto* a = new FakeSink(false);
  std::vector<DurableCallback> held;
  set.add(std::unique_ptr<EventSink>(a));
  set.add(std::make_unique<FakeSink>(true, &held));
  EXPECT_TRUE(set.accepting());
  a->accepting_ = false;
  EXPECT_FALSE(set.accepting());
  EXPECT_EQ(set.status_json(), R"({"plain":{},"holding":{"h":1}})");
  EXPECT_STREQ(to_string(Durability::kRejected), "rejected");
}

}  // namespace
}  // namespace sluice
