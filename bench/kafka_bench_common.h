// Shared by kafka_sink_bench.cc and kafka_throughput.cc: a realistic call event, a Kafka
// bootstrap (a real broker from SLUICE_KAFKA_BOOTSTRAP, else librdkafka's in-process mock
// cluster) and a scratch spool directory.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "sinks/event.h"
#include "sinks/event_id.h"

namespace sluice::kafka_bench {

// A streamed chat completion as a production call fills it in, with PII and budget reports.
// `pad_to` grows the PII report so the JSON reaches about that many bytes.
inline CallEvent realistic_event(std::size_t pad_to = 0) {
  CallEvent e;
  e.event_id = new_event_id();
  e.request_id = e.event_id;
  e.start_unix_us = 1795827723456789;
  e.identity = {"acme-corp", "search-platform", "answer-bot", "9f86d081884c7d65", "virtual"};
  e.provider = "openai";
  e.upstream = "openai-prod";
  e.endpoint = "chat.completions";
  e.method = "POST";
  e.path = "/v1/chat/completions";
  e.requested_model = "gpt-4o";
  e.served_model = "gpt-4o-2024-08-06";
  e.stream = true;
  e.status = 200;
  e.finish_reason = "stop";
  e.ttfb_us = 412345;
  e.total_us = 2876543;
  e.upstream_us = 2871000;
  e.overhead_us = 5543;
  e.usage = {1200, 1024, 0, 350, 64, TokenUsage::Source::kProvider};
  e.cost_micro_usd = 4250;
  e.request_bytes = 5321;
  e.response_bytes = 18876;
  e.sse_events = 87;
  e.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::string pii = R"({"findings":[{"type":"email","place":"request","count":2},)"
                    R"({"type":"phone","place":"response","count":1}],"action":"redact",)"
                    R"("held_back_bytes_max":64,"note":")";
  // The rest of the event is about 900 bytes.
  while (pad_to > 0 && pii.size() + 900 < pad_to) pii += "x";
  pii += "\"}";
  e.filter_fields = {
      {"pii", pii},
      {"budget", R"({"scope":"tenant","reserved_micro_usd":6000,"settled_micro_usd":4250,)"
                 R"("remaining_micro_usd":995750,"state":"ok"})"},
  };
  e.alerts = 1;
  return e;
}

// A Kafka to produce to for the life of the process.
inline std::string bootstrap(std::string* kind) {
  if (const char* bs = std::getenv("SLUICE_KAFKA_BOOTSTRAP"); bs && *bs) {
    if (kind) *kind = "broker";
    return bs;
  }
  static rd_kafka_mock_cluster_t* cluster = [] {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    rd_kafka_mock_cluster_t* c = rd_kafka_mock_cluster_new(host, 1);
    rd_kafka_mock_topic_create(c, "sluice.events", 3, 1);
    return c;  // never destroyed: lives as long as the process
  }();
  if (kind) *kind = "librdkafka mock cluster";
  return rd_kafka_mock_cluster_bootstraps(cluster);
}

inline std::string scratch_dir(const char* what) {
  std::string base = std::getenv("SLUICE_SPOOL_BENCH_DIR") ? std::getenv("SLUICE_SPOOL_BENCH_DIR")
                                                           : "/tmp";
  std::string tmpl = base + "/sluice-" + what + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

}  // namespace sluice::kafka_bench
