// summarize_kafka_stats() on hand-written samples and on librdkafka's own statistics.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "sinks/kafka/kafka_stats.h"
#include "tests/sinks/kafka/kafka_test_util.h"

namespace sluice::kafka_test {
namespace {

TEST(KafkaStats, CountsBrokersUpAndSkipsTheInternalOne) {
  const char* json =
      R"({"name":"sluice#producer-1","type":"producer","brokers":{)"
      R"(":0/internal":{"name":":0/internal","nodeid":-1,"state":"UP","toppars":{}},)"
      R"("127.0.0.1:9092/1":{"name":"127.0.0.1:9092/1","nodeid":1,"state":"UP","toppars":{}},)"
      R"("127.0.0.1:9093/2":{"name":"127.0.0.1:9093/2","nodeid":2,"state":"CONNECT","toppars":{}}},)"
      R"("topics":{"t":{"topic":"t","partitions":{"0":{"partition":0,"fetch_state":"none"}}}},)"
      R"("eos":{"idemp_state":"Assigned","idemp_stateage":1,"txn_state":"Init"}})";
  KafkaStatsSummary s = summarize_kafka_stats(json);
  EXPECT_EQ(s.brokers_known, 2);
  EXPECT_EQ(s.brokers_up, 1);
  EXPECT_EQ(s.idemp_state, "Assigned");
}

TEST(KafkaStats, UpdateIsNotUpAndGarbageIsNothing) {
  KafkaStatsSummary s = summarize_kafka_stats(
      R"({"brokers":{"b/1":{"name":"b/1","state":"UPDATE"}},"topics":{}})");
  EXPECT_EQ(s.brokers_known, 1);
  EXPECT_EQ(s.brokers_up, 0);
  EXPECT_EQ(summarize_kafka_stats("").brokers_up, 0);
  EXPECT_EQ(summarize_kafka_stats(R"({"brokers":{"x":{"name":"unterminated)").brokers_known, 0);
  EXPECT_EQ(summarize_kafka_stats("not json").idemp_state, "");
}

// The real thing: librdkafka 2.0.2's statistics for a connected idempotent producer, then for
// one whose broker went down.
TEST(KafkaStats, ReadsLibrdkafkasOwnStatistics) {
  MockCluster cluster;
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", cluster.bootstraps().c_str(), errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "statistics.interval.ms", "100", errstr, sizeof errstr);
  rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_STATS | RD_KAFKA_EVENT_DR);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  ASSERT_NE(rk, nullptr) << errstr;
  rd_kafka_queue_t* q = rd_kafka_queue_get_main(rk);
  rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("sluice.events"), RD_KAFKA_V_VALUE((void*)"x", 1),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  auto wait_for = [&](auto pred) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end) {
      rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 100);
      if (ev == nullptr) continue;
      bool ok = rd_kafka_event_type(ev) == RD_KAFKA_EVENT_STATS &&
                pred(summarize_kafka_stats(rd_kafka_event_stats(ev)));
      rd_kafka_event_destroy(ev);
      if (ok) return true;
    }
    return false;
  };
  EXPECT_TRUE(wait_for([](const KafkaStatsSummary& s) {
    return s.brokers_up >= 1 && s.idemp_state == "Assigned";
  }));
  cluster.set_down();
  EXPECT_TRUE(wait_for([](const KafkaStatsSummary& s) { return s.brokers_up == 0 && s.brokers_known >= 1; }));
  rd_kafka_queue_destroy(q);
  rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_destroy(rk);
}

}  // namespace
}  // namespace sluice::kafka_test
