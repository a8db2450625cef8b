// KafkaSink: call events and alerts to Kafka, at least once, through the durable spool.
//
//   publish() ──submit──► SpoolWriter ──append, fsync policy──► spool files
//                              │ produce(seq, record), in sequence order
//                              ▼
//                         KafkaProducer (librdkafka, idempotent, acks=all, lz4)
//                              │ delivery reports, errors, stats, logs (main queue)
//                              ▼
//                   delivery thread ──ack(seq) / nack(seq)──► SpoolWriter
//
// Contract
//  * The constructor checks the settings (check_kafka_config: throws std::invalid_argument with
//    every message), creates the producer, opens and recovers the spool (std::runtime_error if
//    its directory cannot be used or is locked by another process), and starts the delivery
//    thread. It never waits for a broker: unreachable brokers show in the status
//    ("broker":"down" or "connecting") and the spool absorbs the records.
//  * publish() is SpoolWriter::submit(): never blocks, never waits on Kafka. publish_durable()
//    reports the submit's durability outcome (see sink.h); holds_response() is true only with
//    fsync: always.
//  * A record is released from the spool only by a successful delivery report. A failed report
//    (message timeout, broker errors after librdkafka's own retries) sends it back to pending;
//    QUEUE_FULL or another transient produce error makes the writer retry from that record.
//    So after an outage, a timeout, a fatal error or a restart, unacknowledged records are
//    produced again, in spool order. A record librdkafka can never produce (larger than
//    message.max.bytes) is released, counted as failed{reason="permanent"} and logged.
//  * A fatal producer error (idempotence state broken) recreates the producer on the delivery
//    thread: the old one is purged and destroyed, every in-flight record returns to pending
//    (nack_all), and producing resumes on the new one.
//  * librdkafka callbacks: none. Its events are served on the sink's delivery thread, which
//    only posts acks and nacks to the writer and updates counters.
//  * stop(deadline): the writer stops taking records, keeps producing and collecting delivery
//    reports until nothing is in flight or the deadline passes; then the producer is destroyed.
//    What is not acknowledged stays in the spool for the next start. Idempotent.
//  * ready() and accepting() are SpoolWriter::accepting(): true during a Kafka outage; false
//    only with full_policy fail_closed while the spool is full, or once stopped.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sinks/kafka/kafka_config.h"
#include "sinks/kafka/kafka_producer.h"
#include "sinks/sink.h"
#include "sinks/spool/spool_writer.h"

namespace sluice {

class KafkaSink final : public EventSink {
 public:
  enum class BrokerState { kConnecting, kUp, kDown };

  struct Stats {
    SpoolWriterStats writer;
    std::uint64_t acknowledged = 0;     // successful delivery reports
    std::uint64_t failed_delivery = 0;  // failed delivery reports (produced again later)
    std::uint64_t failed_permanent = 0;  // records given up (never producible)
    std::uint64_t fatal_errors = 0;
    std::uint64_t producer_restarts = 0;
    std::uint64_t error_events = 0;  // librdkafka error events (broker down, auth, ...)
    BrokerState broker = BrokerState::kConnecting;
    int brokers_up = 0;
    std::string idemp_state;
    std::string last_error;
  };

  explicit KafkaSink(KafkaSinkConfig config);
  ~KafkaSink() override;

  const char* name() const override { return "kafka"; }
  void publish(const RecordPtr& record) override;
  void publish_durable(const RecordPtr& record, DurableCallback done) override;
  bool holds_response() const override;
  void stop(std::chrono::steady_clock::time_point deadline) override;
  void render_metrics(std::string& out) const override;
  void render_status(std::string& out) const override;
  bool ready() const override { return writer_->accepting(); }
  bool accepting() const override { return writer_->accepting(); }

  Stats stats() const;
  SpoolWriter& writer() { return *writer_; }
  // Test hook: triggers a fatal error in the current producer (rd_kafka_test_fatal_error).
  void inject_fatal_error_for_testing();

 private:
  bool produce(std::uint64_t seq, const RecordPtr& record);
  void delivery_loop();
  void recreate_producer(const std::string& why);
  void set_last_error(std::string text);
  void log_limited(const std::string& line);

  KafkaSinkConfig config_;
  mutable std::mutex producer_mu_;  // guards producer_ (the pointer, swapped on a fatal error)
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<SpoolWriter> writer_;
  std::thread delivery_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> fatal_{false};
  std::atomic<bool> refused_{false};  // the writer was told "try later": resume on the next report
  std::mutex stop_mu_;

  std::atomic<std::uint64_t> acknowledged_{0};
  std::atomic<std::uint64_t> failed_delivery_{0};
  std::atomic<std::uint64_t> failed_permanent_{0};
  std::atomic<std::uint64_t> fatal_errors_{0};
  std::atomic<std::uint64_t> producer_restarts_{0};
  std::atomic<std::uint64_t> error_events_{0};
  std::atomic<int> broker_state_{static_cast<int>(BrokerState::kConnecting)};
  std::atomic<int> brokers_up_{0};

  mutable std::mutex text_mu_;
  std::string idemp_state_;  // guarded by text_mu_
  std::string last_error_;   // guarded by text_mu_

  std::chrono::steady_clock::time_point last_log_{};  // delivery thread only
  std::uint64_t suppressed_logs_ = 0;                 // delivery thread only
};

const char* to_string(KafkaSink::BrokerState s);

}  // namespace sluice
