#include "sinks/jsonl/jsonl_sink.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "sinks/event_json.h"
#include "tests/sinks/sample_events.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  const auto end = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

RecordPtr event_record(int thread, int i) {
  CallEvent e = test_data::sample_call_event();
  e.event_id = "ev-" + std::to_string(thread) + "-" + std::to_string(i);
  e.request_id = "req-" + std::to_string(i);
  return make_record(e);
}

RecordPtr raw_record(std::string json, Record::Kind kind = Record::Kind::kEvent) {
  auto r = std::make_shared<Record>();
  r->kind = kind;
  r->json = std::move(json);
  return r;
}

class JsonlSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-jsonl-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  JsonlSinkConfig config(std::chrono::milliseconds flush = 5ms, std::size_t max_queue = 65536) {
    JsonlSinkConfig c;
    c.events_path = (dir_ / "events.jsonl").string();
    c.flush_interval = flush;
    c.max_queue_records = max_queue;
    return c;
  }
  std::filesystem::path events_file() const { return dir_ / "events.jsonl"; }

  std::filesystem::path dir_;
};

TEST_F(JsonlSinkTest, ConcurrentPublishersWriteEveryRecordExactlyOnce) {
  constexpr int kThreads = 4, kPerThread = 5000, kTotal = kThreads * kPerThread;
  JsonlSink sink(config());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sink, t] {
      for (int i = 0; i < kPerThread; ++i) sink.publish(event_record(t, i));
    });
  }
  for (auto& th : threads) th.join();
  sink.stop(Clock::now() + 30s);

  const auto c = sink.counters();
  EXPECT_EQ(c.published, static_cast<std::uint64_t>(kTotal));
  EXPECT_EQ(c.written, static_cast<std::uint64_t>(kTotal));
  EXPECT_EQ(c.dropped_queue_full, 0u);
  EXPECT_EQ(c.write_errors, 0u);
  EXPECT_EQ(c.queue_depth, 0u);

  const auto lines = read_lines(events_file());
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kTotal));
  simdjson::dom::parser parser;
  std::unordered_set<std::string> ids;
  for (const auto& line : lines) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    std::string_view id;
    ASSERT_EQ(doc["event_id"].get(id), simdjson::SUCCESS);
    EXPECT_TRUE(ids.emplace(id).second) << "duplicate " << id;
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kTotal));
}

TEST_F(JsonlSinkTest, PerThreadOrderIsPreserved) {
  JsonlSink sink(config(1ms));
  for (int i = 0; i < 2000; ++i) sink.publish(event_record(0, i));
  sink.stop(Clock::now() + 30s);
  const auto lines = read_lines(events_file());
  ASSERT_EQ(lines.size(), 2000u);
  for (int i = 0; i < 2000; ++i) {
    EXPECT_NE(lines[i].find("\"event_id\":\"ev-0-" + std::to_string(i) + "\""), std::string::npos);
  }
}

TEST_F(JsonlSinkTest, SmallQueueUnderLoadKeepsTheAccounting) {
  // Only the half-full wake-up drives the writer here (the timer is an hour): some records may
  // be dropped, but every record is either written or counted, and nothing is torn.
  constexpr int kThreads = 4, kPerThread = 5000;
  JsonlSink sink(config(std::chrono::hours(1), 64));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sink, t] {
      for (int i = 0; i < kPerThread; ++i) sink.publish(event_record(t, i));
    });
  }
  for (auto& th : threads) th.join();
  sink.stop(Clock::now() + 30s);
  const auto c = sink.counters();
  EXPECT_EQ(c.published, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(c.written + c.dropped_queue_full, c.published);
  EXPECT_EQ(c.queue_depth, 0u);
  const auto lines = read_lines(events_file());
  EXPECT_EQ(lines.size(), c.written);
  simdjson::dom::parser parser;
  for (const auto& line : lines) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
  }
}

TEST_F(JsonlSinkTest, SixtyFourWaitingRecordsWakeTheWriterBeforeItsTimer) {
  // With a large queue, waiting for half of it (or for the timer, an hour here) would let
  // megabytes of records pile up on a busy machine; 64 waiting records wake the writer.
  JsonlSink sink(config(std::chrono::hours(1), 65536));
  for (int i = 0; i < 63; ++i) sink.publish(event_record(0, i));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink.counters().written, 0u);
  sink.publish(event_record(0, 63));
  ASSERT_TRUE(wait_until([&] { return sink.counters().written == 64; }));
  sink.stop(Clock::now() + 10s);
  EXPECT_EQ(read_lines(events_file()).size(), 64u);
}

TEST_F(JsonlSinkTest, QueueFullDropsAreCounted) {
  JsonlSink sink(config(1ms, 4));
  sink.set_paused_for_testing(true);
  for (int i = 0; i < 10; ++i) sink.publish(event_record(0, i));
  auto c = sink.counters();
  EXPECT_EQ(c.published, 10u);
  EXPECT_EQ(c.dropped_queue_full, 6u);
  EXPECT_EQ(c.queue_depth, 4u);
  EXPECT_EQ(c.written, 0u);

  sink.set_paused_for_testing(false);
  ASSERT_TRUE(wait_until([&] { return sink.counters().written == 4; }));
  sink.stop(Clock::now() + 10s);
  c = sink.counters();
  EXPECT_EQ(c.written, 4u);
  EXPECT_EQ(c.queue_depth, 0u);
  const auto lines = read_lines(events_file());
  ASSERT_EQ(lines.size(), 4u);
  for (int i = 0; i < 4; ++i) {  // the first four made it, in order
    EXPECT_NE(lines[i].find("\"ev-0-" + std::to_string(i) + "\""), std::string::npos);
  }

  std::string metrics;
  sink.render_metrics(metrics);
  EXPECT_NE(
      metrics.find("sluice_sink_records_total{sink=\"jsonl\",outcome=\"dropped_queue_full\"} 6\n"),
      std::string::npos)
      << metrics;
}

TEST_F(JsonlSinkTest, UnopenableEventsPathThrowsNamingThePath) {
  JsonlSinkConfig c = config();
  c.events_path = (dir_ / "no-such-dir" / "events.jsonl").string();
  try {
    JsonlSink sink(c);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(c.events_path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("events_path"), std::string::npos) << e.what();
  }
}

TEST_F(JsonlSinkTest, UnopenableAlertsPathThrowsNamingThePath) {
  JsonlSinkConfig c = config();
  c.alerts_path = dir_.string();  // a directory cannot be opened for writing
  try {
    JsonlSink sink(c);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("alerts_path '" + c.alerts_path + "'"), std::string::npos)
        << e.what();
  }
}

TEST_F(JsonlSinkTest, StopFlushesQueuedRecords) {
  // With an hour-long interval and a large queue nothing but stop() makes the writer write.
  JsonlSink sink(config(std::chrono::hours(1)));
  for (int i = 0; i < 100; ++i) sink.publish(event_record(0, i));
  sink.stop(Clock::now() + 10s);
  EXPECT_EQ(read_lines(events_file()).size(), 100u);
  EXPECT_EQ(sink.counters().written, 100u);
  EXPECT_EQ(sink.counters().queue_depth, 0u);
}

TEST_F(JsonlSinkTest, DestructorFlushesWithoutStop) {
  {
    JsonlSink sink(config(std::chrono::hours(1)));
    for (int i = 0; i < 10; ++i) sink.publish(event_record(0, i));
  }
  EXPECT_EQ(read_lines(events_file()).size(), 10u);
}

TEST_F(JsonlSinkTest, PassedDeadlineDropsAsShutdownAndLaterPublishesAreDropped) {
  JsonlSink sink(config(1ms));
  sink.set_paused_for_testing(true);
  for (int i = 0; i < 5; ++i) sink.publish(event_record(0, i));
  EXPECT_TRUE(sink.ready());
  sink.stop(Clock::now() - 1s);
  EXPECT_FALSE(sink.ready());
  sink.publish(event_record(0, 99));
  sink.stop(Clock::now() + 1s);  // a second stop is harmless
  const auto c = sink.counters();
  EXPECT_EQ(c.published, 6u);
  EXPECT_EQ(c.written, 0u);
  EXPECT_EQ(c.dropped_shutdown, 6u);
  EXPECT_EQ(c.queue_depth, 0u);
  EXPECT_EQ(read_file(events_file()), "");
}

TEST_F(JsonlSinkTest, FlushIntervalZeroWritesPromptly) {
  JsonlSink sink(config(0ms));
  sink.publish(event_record(0, 0));
  ASSERT_TRUE(wait_until([&] { return read_lines(events_file()).size() == 1; }));
  sink.publish(event_record(0, 1));
  ASSERT_TRUE(wait_until([&] { return read_lines(events_file()).size() == 2; }));
}

TEST_F(JsonlSinkTest, AlertsShareTheEventsFileByDefault) {
  JsonlSink sink(config());
  sink.publish(make_record(test_data::sample_call_event()));
  sink.publish(make_record(test_data::sample_alert_event()));
  sink.stop(Clock::now() + 10s);
  const auto lines = read_lines(events_file());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("\"type\":\"call\""), std::string::npos);
  EXPECT_NE(lines[1].find("\"type\":\"alert\""), std::string::npos);
}

TEST_F(JsonlSinkTest, AlertsGoToTheirOwnFile) {
  JsonlSinkConfig c = config();
  c.alerts_path = (dir_ / "alerts.jsonl").string();
  JsonlSink sink(c);
  for (int i = 0; i < 3; ++i) {
    sink.publish(event_record(0, i));
    sink.publish(make_record(test_data::sample_alert_event()));
  }
  sink.stop(Clock::now() + 10s);
  const auto events = read_lines(events_file());
  const auto alerts = read_lines(dir_ / "alerts.jsonl");
  ASSERT_EQ(events.size(), 3u);
  ASSERT_EQ(alerts.size(), 3u);
  for (const auto& l : events) EXPECT_NE(l.find("\"type\":\"call\""), std::string::npos);
  for (const auto& l : alerts) EXPECT_NE(l.find("\"type\":\"alert\""), std::string::npos);
}

TEST_F(JsonlSinkTest, AppendsToAnExistingFile) {
  { std::ofstream(events_file()) << "{\"earlier\":true}\n"; }
  JsonlSink sink(config());
  sink.publish(event_record(0, 0));
  sink.stop(Clock::now() + 10s);
  const auto lines = read_lines(events_file());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"earlier\":true}");
}

TEST_F(JsonlSinkTest, LineBreaksInsideARecordBecomeSpaces) {
  JsonlSink sink(config());
  sink.publish(raw_record("{\n\"a\":\r\n1}"));
  sink.publish(nullptr);  // ignored
  sink.stop(Clock::now() + 10s);
  EXPECT_EQ(read_file(events_file()), "{ \"a\":  1}\n");
  EXPECT_EQ(sink.counters().published, 1u);
}

TEST_F(JsonlSinkTest, WriteErrorsAreCountedAndLoggedAtMostOncePerSecond) {
  JsonlSinkConfig c = config(0ms);
  c.events_path = "/dev/full";  // every write fails with ENOSPC
  ::testing::internal::CaptureStderr();
  {
    JsonlSink sink(c);
    sink.publish(event_record(0, 0));
    ASSERT_TRUE(wait_until([&] { return sink.counters().write_errors == 1; }));
    EXPECT_TRUE(sink.ready());  // a full disk does not make the sink unready
    sink.publish(event_record(0, 1));
    sink.publish(event_record(0, 2));
    sink.stop(Clock::now() + 10s);
    const auto k = sink.counters();
    EXPECT_GE(k.write_errors, 2u);
    EXPECT_EQ(k.write_error_records, 3u);
    EXPECT_EQ(k.written, 0u);
    EXPECT_EQ(k.queue_depth, 0u);
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("'/dev/full'"), std::string::npos) << err;
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
  std::size_t lines = 0;
  for (char ch : err) lines += ch == '\n';
  EXPECT_EQ(lines, 1u) << err;
}

TEST_F(JsonlSinkTest, TornLineIsTerminatedBeforeTheNextRecord) {
  // A file-size limit makes the kernel accept only part of a write, then fail the rest (EFBIG),
  // which is what a disk filling up mid-write looks like.
  const std::string filler(4000, 'x');
  { std::ofstream(events_file()) << filler << "\n"; }  // 4001 bytes
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto* old_handler = signal(SIGXFSZ, SIG_IGN);

  JsonlSink sink(config(0ms));
  struct rlimit limit = old_limit;
  limit.rlim_cur = 4011;  // room for 10 more bytes
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  sink.publish(raw_record(R"({"first":"this record does not fit"})"));
  const bool failed = wait_until([&] { return sink.counters().write_errors == 1; });
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  signal(SIGXFSZ, old_handler);
  ASSERT_TRUE(failed);

  sink.publish(raw_record(R"({"second":true})"));
  sink.stop(Clock::now() + 10s);
  const auto lines = read_lines(events_file());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], R"({"first":")");  // the torn fragment, alone on its line
  EXPECT_EQ(lines[2], R"({"second":true})");
  const auto c = sink.counters();
  EXPECT_EQ(c.write_error_records, 1u);
  EXPECT_EQ(c.written, 1u);
}

TEST_F(JsonlSinkTest, MetricsText) {
  JsonlSink sink(config());
  sink.publish(event_record(0, 0));
  sink.stop(Clock::now() + 10s);
  std::string out;
  sink.render_metrics(out);
  const std::string want =
      "# HELP sluice_sink_records_published_total Records handed to the sink by publish().\n"
      "# TYPE sluice_sink_records_published_total counter\n"
      "sluice_sink_records_published_total{sink=\"jsonl\"} 1\n"
      "# HELP sluice_sink_records_total Records that left the sink, by outcome.\n"
      "# TYPE sluice_sink_records_total counter\n"
      "sluice_sink_records_total{sink=\"jsonl\",outcome=\"written\"} 1\n"
      "sluice_sink_records_total{sink=\"jsonl\",outcome=\"dropped_queue_full\"} 0\n"
      "sluice_sink_records_total{sink=\"jsonl\",outcome=\"dropped_shutdown\"} 0\n"
      "sluice_sink_records_total{sink=\"jsonl\",outcome=\"write_error\"} 0\n"
      "# HELP sluice_sink_write_errors_total Failed writes to the sink's destination.\n"
      "# TYPE sluice_sink_write_errors_total counter\n"
      "sluice_sink_write_errors_total{sink=\"jsonl\"} 0\n"
      "# HELP sluice_sink_queue_depth Records accepted by the sink and not yet written or "
      "dropped.\n"
      "# TYPE sluice_sink_queue_depth gauge\n"
      "sluice_sink_queue_depth{sink=\"jsonl\"} 0\n";
  EXPECT_EQ(out, want);
}

TEST_F(JsonlSinkTest, MetricHeadersAppearOnceAcrossSinks) {
  // Two sinks rendering into one scrape must not repeat # HELP / # TYPE for a metric name.
  SinkSet set;
  set.add(std::make_unique<JsonlSink>(config()));
  JsonlSinkConfig second = config();
  second.events_path = (dir_ / "second.jsonl").string();
  set.add(std::make_unique<JsonlSink>(second));
  std::string out;
  set.render_metrics(out);
  set.stop(Clock::now() + 10s);
  for (const char* name : {"sluice_sink_records_published_total", "sluice_sink_records_total",
                           "sluice_sink_write_errors_total", "sluice_sink_queue_depth"}) {
    const std::string type_line = std::string("# TYPE ") + name + " ";
    const std::size_t first = out.find(type_line);
    ASSERT_NE(first, std::string::npos) << name;
    EXPECT_EQ(out.find(type_line, first + 1), std::string::npos) << name << "\n" << out;
    const std::string help_line = std::string("# HELP ") + name + " ";
    EXPECT_EQ(out.find(help_line, out.find(help_line) + 1), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace sluice
