// Request-path cost of publishing a call event: id generation, serialization (make_record) and
// the hand-off to a sink's queue. Target: well under 5 us per call in total.
//
// Link: sluice_sinks benchmark::benchmark_main (no main() here).
// Run:  sink_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "sinks/event_id.h"
#include "sinks/event_json.h"
#include "sinks/jsonl/jsonl_sink.h"
#include "tests/sinks/sample_events.h"

namespace sluice {
namespace {

// A streamed chat completion with the fields a production call fills in and two filter
// reports (the sink tests' sample), with a fresh id as on the request path.
CallEvent realistic_event() {
  CallEvent e = test_data::sample_call_event();
  e.event_id = new_event_id();
  return e;
}

AlertEvent realistic_alert() {
  AlertEvent a;
  a.alert_id = new_event_id();
  a.event_id = new_event_id();
  a.request_id = "req_7f3a9c2e4b1d90aa";
  a.unix_us = 1795827723500000;
  a.type = "pii.redacted";
  a.severity = "warning";
  a.source = "pii";
  a.identity = {"acme-corp", "search-platform", "answer-bot", "9f86d081884c7d65", "virtual"};
  a.provider = "openai";
  a.model = "gpt-4o";
  a.message = "2 email addresses redacted from the request";
  a.details_json = R"({"type":"email","place":"request","count":2})";
  return a;
}

// One sink for all benchmarks and threads, writing to /dev/null so that only our own cost shows.
JsonlSink& null_sink() {
  static JsonlSink* sink = [] {
    JsonlSinkConfig c;
    c.events_path = "/dev/null";
    return new JsonlSink(c);  // never destroyed: benchmarks may still run on other threads
  }();
  return *sink;
}

// Drops during one benchmark: the writer cannot keep up with a tight publish loop that does
// nothing else, which a real proxy never comes near; the count shows how often it happened.
std::uint64_t sink_drops() { return null_sink().counters().dropped_queue_full; }

void report_drops(benchmark::State& state, std::uint64_t drops_before) {
  state.counters["sink_dropped"] = static_cast<double>(sink_drops() - drops_before);
}

void BM_NewEventId(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(new_event_id());
}
BENCHMARK(BM_NewEventId)->ThreadRange(1, 2);

void BM_ToJsonCallEvent(benchmark::State& state) {
  const CallEvent e = realistic_event();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string json = to_json(e);
    bytes = json.size();
    benchmark::DoNotOptimize(json);
  }
  state.counters["json_bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_ToJsonCallEvent);

void BM_MakeRecordCallEvent(benchmark::State& state) {
  const CallEvent e = realistic_event();
  for (auto _ : state) benchmark::DoNotOptimize(make_record(e));
}
BENCHMARK(BM_MakeRecordCallEvent);

void BM_MakeRecordAlert(benchmark::State& state) {
  const AlertEvent a = realistic_alert();
  for (auto _ : state) benchmark::DoNotOptimize(make_record(a));
}
BENCHMARK(BM_MakeRecordAlert);

// Queue hand-off alone, with a prebuilt record: the part that contends between worker threads.
void BM_PublishJsonl(benchmark::State& state) {
  const RecordPtr record = make_record(realistic_event());
  JsonlSink& sink = null_sink();
  const std::uint64_t drops_before = sink_drops();
  for (auto _ : state) sink.publish(record);
  if (state.thread_index() == 0) report_drops(state, drops_before);
}
BENCHMARK(BM_PublishJsonl)->ThreadRange(1, 2)->UseRealTime();

// What a worker thread pays per call once the call is over: a fresh id, serialization, publish.
void BM_RequestPathEventCost(benchmark::State& state) {
  CallEvent e = realistic_event();
  JsonlSink& sink = null_sink();
  const std::uint64_t drops_before = sink_drops();
  for (auto _ : state) {
    e.event_id = new_event_id();
    sink.publish(make_record(e));
  }
  if (state.thread_index() == 0) report_drops(state, drops_before);
}
BENCHMARK(BM_RequestPathEventCost)->ThreadRange(1, 2)->UseRealTime();

}  // namespace
}  // namespace sluice
