// Sustained throughput of the Kafka sink into a broker: publishes events of about --bytes bytes
// for --seconds (pacing itself on the unacknowledged backlog so that nothing is dropped), then
// waits until Kafka has acknowledged every one, and prints one JSON line:
//   {"events":N,"bytes_per_event":B,"publish_s":..,"ack_s":..,"events_per_s":..,"mb_per_s":..,
//    "dropped":0,"failed":..,"retried":..,"read_back":..,"cpu_s":..,"cpu_us_per_event":..}
// events_per_s counts from the first publish to the last acknowledgement. cpu_s is this
// process's user+system CPU time (request threads, spool writer, librdkafka), from getrusage.
//
// Usage: kafka_throughput --bootstrap HOST:PORT --spool DIR [--seconds 10] [--bytes 1024]
//                         [--topic sluice.events] [--fsync interval|never|always]
//                         [--threads 2]
// bench/kafka_throughput.sh runs it against a local broker (deploy/kafka/kafka.sh).
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/kafka_bench_common.h"
#include "sinks/event_json.h"
#include "sinks/kafka/kafka_sink.h"

using namespace sluice;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, spool, topic = "sluice.events", fsync = "interval";
  int seconds = 10, bytes = 1024, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--bootstrap") bootstrap = v;
    else if (a == "--spool") spool = v;
    else if (a == "--seconds") seconds = std::stoi(v);
    else if (a == "--bytes") bytes = std::stoi(v);
    else if (a == "--topic") topic = v;
    else if (a == "--fsync") fsync = v;
    else if (a == "--threads") threads = std::stoi(v);
    else {
      std::fprintf(stderr, "kafka_throughput: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (bootstrap.empty() || spool.empty()) {
    std::fprintf(stderr, "usage: kafka_throughput --bootstrap HOST:PORT --spool DIR [...]\n");
    return 2;
  }
  KafkaSinkConfig c;
  c.bootstrap_servers = bootstrap;
  c.events_topic = topic;
  c.writer.spool.dir = spool;
  c.writer.spool.fsync = fsync == "always" ? FsyncPolicy::kAlways
                         : fsync == "never" ? FsyncPolicy::kNever
                                            : FsyncPolicy::kInterval;
  KafkaSink sink(c);
  // Wait until the producer is connected, so the figure is throughput, not connection set-up.
  const auto connect_deadline = Clock::now() + std::chrono::seconds(20);
  while (sink.stats().broker != KafkaSink::BrokerState::kUp && Clock::now() < connect_deadline) {
    sink.publish(make_record(kafka_bench::realistic_event(static_cast<std::size_t>(bytes))));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // ... and every warm-up event is acknowledged (the first producer id can take seconds on a
  // fresh broker), so that `acked` below counts only the measured events.
  const auto warm_deadline = Clock::now() + std::chrono::seconds(60);
  while ((sink.stats().writer.spool.unacked > 0 || sink.stats().acknowledged == 0) &&
         Clock::now() < warm_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (sink.stats().writer.spool.unacked > 0) {
    std::fprintf(stderr, "kafka_throughput: the broker did not acknowledge the warm-up events\n");
    return 1;
  }
  const std::uint64_t warm = sink.stats().acknowledged;

  const std::size_t queue_cap = c.writer.max_queue_records;
  // About 250 MB of ~1 KB events: well inside the spool's 1 GiB cap.
  constexpr std::uint64_t kMaxBacklog = 200'000;
  std::atomic<std::uint64_t> published{0};
  std::size_t event_bytes = 0;
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  const auto stop_at = t0 + std::chrono::seconds(seconds);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      CallEvent e = kafka_bench::realistic_event(static_cast<std::size_t>(bytes));
      e.identity.tenant = "tenant-" + std::to_string(t);
      std::uint64_t n = 0;
      while (Clock::now() < stop_at) {
        // Pace on the backlog (queued + spooled, not yet acknowledged): the figure is what the
        // whole pipeline sustains into Kafka, not how fast the spool fills up.
        const SpoolWriterStats ws = sink.writer().stats();
        if (ws.queue_depth > queue_cap / 2 || ws.spool.unacked > kMaxBacklog) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          continue;
        }
        for (int i = 0; i < 64; ++i) {
          e.event_id = new_event_id();
          RecordPtr r = make_record(e);
          if (t == 0 && n == 0) event_bytes = r->json.size();
          sink.publish(r);
          ++n;
        }
      }
      published.fetch_add(n);
    });
  }
  for (auto& th : ts) th.join();
  const auto t_pub = Clock::now();
  const std::uint64_t total = published.load();
  while (sink.stats().acknowledged < warm + total &&
         Clock::now() < t_pub + std::chrono::seconds(120))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto t_ack = Clock::now();
  const double cpu = cpu_seconds() - cpu0;
  const KafkaSink::Stats st = sink.stats();
  const std::uint64_t acked = st.acknowledged - warm;
  const double ack_s = std::chrono::duration<double>(t_ack - t0).count();
  std::printf(
      "{\"events\":%llu,\"acked\":%llu,\"bytes_per_event\":%zu,\"publish_s\":%.2f,\"ack_s\":%.2f,"
      "\"events_per_s\":%.0f,\"mb_per_s\":%.1f,\"dropped\":%llu,\"failed\":%llu,\"retried\":%llu,\"read_back\":%llu,"
      "\"fsync\":\"%s\",\"fsyncs\":%llu,\"cpu_s\":%.2f,\"cpu_us_per_event\":%.2f}\n",
      static_cast<unsigned long long>(total), static_cast<unsigned long long>(acked), event_bytes,
      std::chrono::duration<double>(t_pub - t0).count(), ack_s, acked / ack_s,
      acked * event_bytes / ack_s / 1e6,
      static_cast<unsigned long long>(st.writer.dropped_queue_full + st.writer.spool.dropped_full),
      static_cast<unsigned long long>(st.failed_delivery + st.failed_permanent),
      static_cast<unsigned long long>(st.writer.nacked),
      static_cast<unsigned long long>(st.writer.replayed), fsync.c_str(),
      static_cast<unsigned long long>(st.writer.spool.fsyncs), cpu, cpu / total * 1e6);
  sink.stop(Clock::now() + std::chrono::seconds(10));
  return acked == total ? 0 : 1;
}
