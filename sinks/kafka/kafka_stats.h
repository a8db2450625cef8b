// The two facts the Kafka sink reads from librdkafka's statistics JSON (emitted every
// statistics.interval.ms): how many brokers it has a working connection to, and the state of
// the idempotent producer (whether a producer id was acquired: "Assigned").
//
// Contract
//  * A pure function on the text; no allocation beyond the returned string. It scans for the
//    "state" member of each entry of "brokers" and ignores librdkafka's internal pseudo-broker
//    (name ending in "/internal"), which is always "UP". Text that is not librdkafka's stats
//    JSON yields {0, ""}.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

struct KafkaStatsSummary {
  int brokers_up = 0;       // brokers in state "UP"
  int brokers_known = 0;    // brokers listed, internal one excluded
  std::string idemp_state;  // eos.idemp_state, e.g. "Assigned"; empty when absent
};

KafkaStatsSummary summarize_kafka_stats(std::string_view json);

}  // namespace sluice
