// Request-path cost of the Kafka sink: what a worker thread pays per call to hand its event to
// Kafka: a fresh event id, the event's JSON (make_record) and KafkaSink::publish(), which only
// queues it for the spool writer. Target: <= 5 us per event (issue 3).
//
// The spool writer, librdkafka and the broker work on other threads meanwhile. To measure the
// hand-off in the steady state and not the cheaper refusal of a full queue, each iteration
// publishes a batch of 256 events and then, with the timer paused, waits until the writer has
// taken them; a benchmark that saw any drop fails. Kafka: SLUICE_KAFKA_BOOTSTRAP, else
// librdkafka's in-process mock cluster. Spool: SLUICE_SPOOL_BENCH_DIR (default /tmp).
//
// Run: kafka_sink_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <thread>

#include "bench/kafka_bench_common.h"
#include "sinks/event_json.h"
#include "sinks/kafka/kafka_sink.h"

namespace sluice {
namespace {

constexpr int kBatch = 256;

std::unique_ptr<KafkaSink> make_sink(FsyncPolicy fsync, std::string* kind, std::string* dir) {
  KafkaSinkConfig c;
  c.bootstrap_servers = kafka_bench::bootstrap(kind);
  c.writer.spool.dir = *dir = kafka_bench::scratch_dir("kafka-sink-bench");
  c.writer.spool.fsync = fsync;
  return std::make_unique<KafkaSink>(c);
}

void wait_taken(KafkaSink& sink) {
  while (sink.writer().stats().queue_depth > 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
}

void run(benchmark::State& state, FsyncPolicy fsync, bool durable) {
  std::string kind;
  std::string spool_dir;
  auto sink = make_sink(fsync, &kind, &spool_dir);
  SinkSet set;  // the proxy's path: SinkSet -> KafkaSink
  KafkaSink* k = sink.get();
  set.add(std::move(sink));
  CallEvent e = kafka_bench::realistic_event();
  std::atomic<std::uint64_t> callbacks{0};
  std::size_t bytes = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      e.event_id = new_event_id();
      e.request_id = e.event_id;
      RecordPtr r = make_record(e);
      bytes = r->json.size();
      if (durable) {
        set.publish(r, [&callbacks](Durability) { callbacks.fetch_add(1, std::memory_order_relaxed); });
      } else {
        set.publish(r);
      }
    }
    state.PauseTiming();
    wait_taken(*k);
    state.ResumeTiming();
  }
  const KafkaSink::Stats st = k->stats();
  set.stop(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  std::filesystem::remove_all(spool_dir);
  const std::uint64_t dropped = st.writer.dropped_queue_full + st.writer.spool.dropped_full;
  if (dropped > 0) state.SkipWithError("events dropped: the measurement would be of the refusal");
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["s_per_event"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["json_bytes"] = static_cast<double>(bytes);
  state.counters["acked"] = static_cast<double>(st.acknowledged);
  state.SetLabel(kind);
}

void BM_KafkaPublishEvent(benchmark::State& state) { run(state, FsyncPolicy::kInterval, false); }
BENCHMARK(BM_KafkaPublishEvent)->UseRealTime()->Unit(benchmark::kMicrosecond);

// fsync: always, with the durability callback the proxy uses to hold a response's last bytes.
void BM_KafkaPublishEventDurable(benchmark::State& state) { run(state, FsyncPolicy::kAlways, true); }
BENCHMARK(BM_KafkaPublishEventDurable)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice
