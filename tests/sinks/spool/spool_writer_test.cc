#include "sinks/spool/spool_writer.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/sinks/spool/spool_test_util.h"

namespace sluice {
namespace {

using namespace spool_test;
using Clock = std::chrono::steady_clock;
using SubmitStatus = SubmitResult::Status;

class SpoolWriterTest : public TempDirTest {
 protected:
  SpoolWriterConfig writer_config(FsyncPolicy fsync = FsyncPolicy::kInterval) {
    SpoolWriterConfig c;
    c.spool = config();
    c.spool.fsync = fsync;
    c.spool.fsync_interval = 5ms;
    return c;
  }
};

// Collects what the writer hands to the producer hook; can refuse on demand.
struct FakeProducer {
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::string>> got;  // (seq, id)
  std::atomic<bool> refuse{false};
  std::atomic<int> calls{0};

  ProduceFn fn() {
    return [this](std::uint64_t seq, const RecordPtr& r) {
      ++calls;
      if (refuse) return false;
      std::lock_guard<std::mutex> lock(mu);
      got.emplace_back(seq, r->id);
      return true;
    };
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }
  std::vector<std::pair<std::uint64_t, std::string>> take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::exchange(got, {});
  }
};

TEST_F(SpoolWriterTest, ConcurrentSubmittersAllPersistedInPerThreadOrder) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  {
    SpoolWriter w(writer_config());
    std::vector<std::thread> threads;
    std::atomic<int> queued{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto rec = make_record(std::to_string(t) + ":" + std::to_string(i), 200);
          // The queue is large enough here; retry anyway so the test never depends on timing.
          while (w.submit(rec).status != SubmitStatus::kQueued) std::this_thread::yield();
          ++queued;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(queued.load(), kThreads * kPerThread);
    w.stop(Clock::now() + 5s);
    const auto st = w.stats();
    EXPECT_EQ(st.spool.appended, static_cast<std::uint64_t>(kThreads * kPerThread));
    EXPECT_EQ(st.queue_depth, 0u);
  }
  Spool s(config());
  const auto got = replay_all(s);
  ASSERT_EQ(got.records.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::map<int, int> next;
  for (const auto& r : got.records) {
    const auto colon = r->id.find(':');
    const int t = std::stoi(r->id.substr(0, colon));
    const int i = std::stoi(r->id.substr(colon + 1));
    EXPECT_EQ(i, next[t]) << "thread " << t;  // each thread's records in its own order
    next[t] = i + 1;
  }
}

TEST_F(SpoolWriterTest, QueueFullDropsNewestAndCounts) {
  auto c = writer_config();
  c.max_queue_records = 10;
  SpoolWriter w(c);
  w.set_paused_for_testing(true);
  int queued = 0;
  for (int i = 0; i < 15; ++i) {
    const auto r = w.submit(make_record("r" + std::to_string(i)));
    if (r.status == SubmitStatus::kQueued) {
      ++queued;
      EXPECT_EQ(r.ticket, static_cast<std::uint64_t>(queued));
    } else {
      EXPECT_EQ(r.status, SubmitStatus::kDropped);
    }
  }
  EXPECT_EQ(queued, 10);
  EXPECT_TRUE(w.accepting());  // kDropNewest keeps serving traffic
  EXPECT_EQ(w.stats().dropped_queue_full, 5u);
  w.set_paused_for_testing(false);
  EXPECT_EQ(w.wait_durable(10, Clock::now() + 5s), Durability::kDurable);
  w.stop(Clock::now() + 1s);
  EXPECT_EQ(w.submit(make_record("late")).status, SubmitStatus::kStopped);
  EXPECT_EQ(w.stats().dropped_shutdown, 1u);
  EXPECT_FALSE(w.accepting());
}

TEST_F(SpoolWriterTest, FailClosedRejectsWhenQueueOrSpoolIsFull) {
  auto c = writer_config();
  c.max_queue_records = 4;
  c.spool.full_policy = FullPolicy::kFailClosed;
  c.spool.segment_bytes = 4096;
  c.spool.max_bytes = 4096;
  SpoolWriter w(c);
  w.set_paused_for_testing(true);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(w.submit(make_record("q")).status, SubmitStatus::kQueued);
  EXPECT_EQ(w.submit(make_record("q")).status, SubmitStatus::kRejected);
  EXPECT_FALSE(w.accepting());
  w.set_paused_for_testing(false);
  ASSERT_TRUE(wait_until([&] { return w.stats().queue_depth == 0; }));
  EXPECT_TRUE(w.accepting());

  // Fill the spool: 3 records of ~1 KiB fit in one 4 KiB segment, the 4th does not.
  std::vector<std::uint64_t> tickets;
  for (int i = 0; i < 3; ++i) tickets.push_back(w.submit(make_record("big", 1000)).ticket);
  const auto last = w.submit(make_record("big", 1000));
  ASSERT_EQ(last.status, SubmitStatus::kQueued);
  EXPECT_EQ(w.wait_durable(last.ticket, Clock::now() + 5s), Durability::kRejected);
  EXPECT_TRUE(w.full());
  EXPECT_FALSE(w.accepting());
  EXPECT_EQ(w.submit(make_record("more")).status, SubmitStatus::kRejected);
  std::string metrics;
  w.render_metrics(metrics);
  EXPECT_NE(metrics.find("sluice_sink_spool_full{sink=\"kafka\"} 1\n"), std::string::npos);
  EXPECT_GE(w.stats().rejected, 3u);

  // Acknowledging frees the space: the writer accepts again.
  for (std::uint64_t seq = 1; seq <= 7; ++seq) w.ack(seq);
  const auto again = w.submit(make_record("q")).status;  // may race the ack processing
  EXPECT_TRUE(again == SubmitStatus::kQueued || again == SubmitStatus::kRejected);
  ASSERT_TRUE(wait_until([&] {
    const auto r = w.submit(make_record("after", 1000));
    return r.status == SubmitStatus::kQueued &&
           w.wait_durable(r.ticket, Clock::now() + 5s) == Durability::kDurable;
  }));
  EXPECT_FALSE(w.full());
}

TEST_F(SpoolWriterTest, DropNewestWhenSpoolFullReportsDropped) {
  auto c = writer_config();
  c.spool.segment_bytes = 4096;
  c.spool.max_bytes = 4096;
  SpoolWriter w(c);
  SubmitResult r;
  for (int i = 0; i < 4; ++i) r = w.submit(make_record("big", 1000));
  EXPECT_EQ(w.wait_durable(r.ticket, Clock::now() + 5s), Durability::kDropped);
  EXPECT_TRUE(w.full());
  EXPECT_TRUE(w.accepting());
  EXPECT_EQ(w.submit(make_record("x")).status, SubmitStatus::kQueued);
  w.stop(Clock::now() + 1s);
  EXPECT_GE(w.stats().spool.dropped_full, 1u);
}

TEST_F(SpoolWriterTest, StopWithDeadlinePersistsEverythingQueued) {
  auto c = writer_config(FsyncPolicy::kAlways);
  {
    SpoolWriter w(c);
    w.set_paused_for_testing(true);
    for (int i = 0; i < 1000; ++i) {
      ASSERT_EQ(w.submit(make_record("r" + std::to_string(i))).status, SubmitStatus::kQueued);
    }
    w.stop(Clock::now());  // deadline already passed: queued records are still appended
    EXPECT_EQ(w.stats().spool.appended, 1000u);
    EXPECT_EQ(w.wait_durable(1000, Clock::now()), Durability::kDurable);
  }
  Spool s(config());
  EXPECT_EQ(replay_all(s).records.size(), 1000u);
}

TEST_F(SpoolWriterTest, AlwaysReportsDurableOnlyAfterFsyncWithGroupCommit) {
  std::atomic<int> fsyncs{0};
  std::atomic<bool> block{false};
  auto c = writer_config(FsyncPolicy::kAlways);
  c.spool.io.fdatasync = [&](int fd) {
    while (block) std::this_thread::sleep_for(1ms);
    ++fsyncs;
    return ::fdatasync(fd);
  };
  SpoolWriter w(c);
  block = true;
  std::promise<Durability> first;
  const auto t1 = w.submit(make_record("a"), [&](Durability d) { first.set_value(d); });
  ASSERT_EQ(t1.status, SubmitStatus::kQueued);
  // While the fsync is held, the record must not be reported durable.
  auto fut = first.get_future();
  EXPECT_EQ(fut.wait_for(50ms), std::future_status::timeout);
  EXPECT_EQ(w.wait_durable(t1.ticket, Clock::now() + 20ms), std::nullopt);
  // Records arriving during that fsync share the next one.
  std::vector<std::uint64_t> tickets;
  for (int i = 0; i < 100; ++i) tickets.push_back(w.submit(make_record("b")).ticket);
  block = false;
  EXPECT_EQ(fut.get(), Durability::kDurable);
  for (auto t : tickets) EXPECT_EQ(w.wait_durable(t, Clock::now() + 5s), Durability::kDurable);
  EXPECT_LE(fsyncs.load(), 3);  // 101 records, 2 fsyncs (3 if a batch split)
  EXPECT_GE(w.stats().spool.durable_seq, 101u);
}

TEST_F(SpoolWriterTest, CallbacksRunOnceInTicketOrderWithOutcome) {
  auto c = writer_config(FsyncPolicy::kInterval);
  SpoolWriter w(c);
  std::mutex mu;
  std::vector<std::pair<int, Durability>> seen;
  for (int i = 0; i < 50; ++i) {
    Record huge;
    if (i == 10) huge.key.assign(70000, 'k');  // too large: dropped
    auto rec = i == 10 ? std::make_shared<Record>(huge) : make_record("r");
    w.submit(rec, [&, i](Durability d) {
      std::lock_guard<std::mutex> lock(mu);
      seen.emplace_back(i, d);
    });
  }
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size() == 50;
  }));
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(seen[i].first, i);
    EXPECT_EQ(seen[i].second, i == 10 ? Durability::kDropped : Durability::kDurable);
  }
}

TEST_F(SpoolWriterTest, FsyncFailureIsReportedToWaiters) {
  std::atomic<bool> fail{false};
  auto c = writer_config(FsyncPolicy::kAlways);
  c.spool.io.fdatasync = [&](int fd) {
    if (fail) {
      errno = EIO;
      return -1;
    }
    return ::fdatasync(fd);
  };
  SpoolWriter w(c);
  fail = true;
  const auto t = w.submit(make_record("a")).ticket;
  EXPECT_EQ(w.wait_durable(t, Clock::now() + 5s), Durability::kSyncFailed);
  fail = false;
  const auto t2 = w.submit(make_record("b")).ticket;
  EXPECT_EQ(w.wait_durable(t2, Clock::now() + 5s), Durability::kDurable);
  w.stop(Clock::now() + 1s);
  EXPECT_GE(w.stats().spool.fsync_errors, 1u);
}

TEST_F(SpoolWriterTest, WriteErrorsAreDroppedAndCounted) {
  std::atomic<bool> fail{false};
  auto c = writer_config(FsyncPolicy::kAlways);
  c.spool.io.pwrite = [&](int fd, const void* p, std::size_t n, off_t off) -> ssize_t {
    if (fail) {
      errno = ENOSPC;
      return -1;
    }
    return ::pwrite(fd, p, n, off);
  };
  SpoolWriter w(c);
  EXPECT_EQ(w.wait_durable(w.submit(make_record("a")).ticket, Clock::now() + 5s),
            Durability::kDurable);
  fail = true;
  EXPECT_EQ(w.wait_durable(w.submit(make_record("b")).ticket, Clock::now() + 5s),
            Durability::kDropped);
  fail = false;
  EXPECT_EQ(w.wait_durable(w.submit(make_record("c")).ticket, Clock::now() + 5s),
            Durability::kDurable);
  w.stop(Clock::now() + 1s);
  const auto st = w.stats().spool;
  EXPECT_GE(st.write_errors, 1u);
  EXPECT_EQ(st.lost_io, 1u);
}

TEST_F(SpoolWriterTest, ProducerGetsRecordsInOrderAndAcksDeleteSegments) {
  FakeProducer producer;
  auto c = writer_config();
  c.spool.segment_bytes = 4096;
  c.produce = producer.fn();
  SpoolWriter w(c);
  for (int i = 0; i < 30; ++i) w.submit(make_record("r" + std::to_string(i), 1000));
  ASSERT_TRUE(wait_until([&] { return producer.size() == 30; }));
  const auto got = producer.take();
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(got[i].first, static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(got[i].second, "r" + std::to_string(i));
  }
  for (const auto& [seq, id] : got) w.ack(seq);
  ASSERT_TRUE(wait_until([&] { return w.stats().spool.unacked == 0; }));
  EXPECT_EQ(w.stats().spool.segments, 1u);  // only the current segment is left
  w.stop(Clock::now() + 1s);
  EXPECT_TRUE(segment_files(dir_).empty());
}

TEST_F(SpoolWriterTest, RefusedAndNackedRecordsAreProducedAgainInOrder) {
  FakeProducer producer;
  auto c = writer_config();
  c.produce = producer.fn();
  c.produce_retry = 20ms;
  SpoolWriter w(c);
  producer.refuse = true;  // broker down / QUEUE_FULL
  for (int i = 0; i < 10; ++i) w.submit(make_record("r" + std::to_string(i)));
  ASSERT_TRUE(wait_until([&] { return w.stats().spool.appended == 10; }));
  ASSERT_TRUE(wait_until([&] { return producer.calls >= 2; }));  // retried after the backoff
  EXPECT_EQ(producer.size(), 0u);
  producer.refuse = false;
  w.resume_produce();
  ASSERT_TRUE(wait_until([&] { return producer.size() == 10; }));
  auto got = producer.take();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i].second, "r" + std::to_string(i));

  // Delivery reports: 1..10 succeed except 4 and 7, which time out.
  for (std::uint64_t s = 1; s <= 10; ++s) {
    if (s == 4 || s == 7) {
      w.nack(s);
    } else {
      w.ack(s);
    }
  }
  ASSERT_TRUE(wait_until([&] { return producer.size() == 2; }));
  got = producer.take();
  EXPECT_EQ(got[0].first, 4u);
  EXPECT_EQ(got[1].first, 7u);
  // A fatal producer error: everything in flight is produced again.
  w.nack_all();
  ASSERT_TRUE(wait_until([&] { return producer.size() == 2; }));
  got = producer.take();
  EXPECT_EQ(got[0].first, 4u);
  EXPECT_EQ(got[1].first, 7u);
  w.ack(4);
  w.ack(7);
  ASSERT_TRUE(wait_until([&] { return w.stats().spool.unacked == 0; }));
  EXPECT_GE(w.stats().replayed, 4u);  // the retries came from disk
}

TEST_F(SpoolWriterTest, RestartProducesUnackedBacklogFirstInOrder) {
  {
    SpoolWriter w(writer_config());  // no producer: Kafka "down" for this whole run
    for (int i = 0; i < 100; ++i) w.submit(make_record("old" + std::to_string(i)));
    w.stop(Clock::now() + 1s);
  }
  FakeProducer producer;
  auto c = writer_config();
  c.produce = producer.fn();
  c.max_replay_per_cycle = 7;  // exercise the per-cycle budget
  SpoolWriter w(c);
  for (int i = 0; i < 5; ++i) w.submit(make_record("new" + std::to_string(i)));
  ASSERT_TRUE(wait_until([&] { return producer.size() == 105; }));
  const auto got = producer.take();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i].second, "old" + std::to_string(i));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(got[100 + i].second, "new" + std::to_string(i));
  for (std::size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1].first, got[i].first);
}

TEST_F(SpoolWriterTest, StopWaitsForInFlightAcksUntilDeadline) {
  FakeProducer producer;
  auto c = writer_config();
  c.produce = producer.fn();
  auto w = std::make_unique<SpoolWriter>(c);
  for (int i = 0; i < 5; ++i) w->submit(make_record("r" + std::to_string(i)));
  ASSERT_TRUE(wait_until([&] { return producer.size() == 5; }));
  // Acks arrive while stop() is waiting for them.
  std::thread acker([&] {
    std::this_thread::sleep_for(50ms);
    for (std::uint64_t s = 1; s <= 5; ++s) w->ack(s);
  });
  const auto t0 = Clock::now();
  w->stop(Clock::now() + 5s);
  acker.join();
  EXPECT_LT(Clock::now() - t0, 4s);  // returned once acknowledged, not at the deadline
  EXPECT_EQ(w->stats().spool.unacked, 0u);

  // Without acks, stop() gives up at the deadline and the records stay for the next start.
  FakeProducer p2;
  fs::remove_all(dir_);
  c.produce = p2.fn();
  w = std::make_unique<SpoolWriter>(c);
  for (int i = 0; i < 5; ++i) w->submit(make_record("r" + std::to_string(i)));
  ASSERT_TRUE(wait_until([&] { return p2.size() == 5; }));
  const auto t1 = Clock::now();
  w->stop(Clock::now() + 100ms);
  EXPECT_GE(Clock::now() - t1, 90ms);
  w.reset();
  Spool s(config());
  EXPECT_EQ(replay_all(s).records.size(), 5u);
}

TEST_F(SpoolWriterTest, MetricsRender) {
  SpoolWriter w(writer_config());
  w.wait_durable(w.submit(make_record("a")).ticket, Clock::now() + 5s);
  std::string out;
  w.render_metrics(out, "kafka");
  for (const char* needle :
       {"# TYPE sluice_sink_spool_bytes gauge\n",
        "sluice_sink_spool_records_total{sink=\"kafka\",outcome=\"appended\"} 1\n",
        "sluice_sink_spool_unacked_records{sink=\"kafka\"} 1\n",
        "sluice_sink_spool_full{sink=\"kafka\"} 0\n",
        "# TYPE sluice_sink_spool_fsyncs_total counter\n",
        "sluice_sink_spool_corrupt_tail_cuts_total{sink=\"kafka\"} 0\n"}) {
    EXPECT_NE(out.find(needle), std::string::npos) << needle << "\n" << out;
  }
}

}  // namespace
}  // namespace sluice
