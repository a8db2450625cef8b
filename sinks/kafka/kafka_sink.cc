#include "sinks/kafka/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <stdexcept>

#include "sinks/json_writer.h"
#include "sinks/kafka/kafka_stats.h"
#include "sinks/metrics_text.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;

// Delivery-report errors after which producing the message again cannot help.
bool permanent_delivery_error(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
         err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE || err == RD_KAFKA_RESP_ERR_INVALID_RECORD;
}

KafkaSinkConfig checked(KafkaSinkConfig c) {
  std::vector<std::string> errors = check_kafka_config(c);
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    throw std::invalid_argument(all);
  }
  return c;
}

}  // namespace

const char* to_string(KafkaSink::BrokerState s) {
  switch (s) {
    case KafkaSink::BrokerState::kConnecting:
      return "connecting";
    case KafkaSink::BrokerState::kUp:
      return "up";
    case KafkaSink::BrokerState::kDown:
      return "down";
  }
  return "?";
}

KafkaSink::KafkaSink(KafkaSinkConfig config) : config_(checked(std::move(config))) {
  std::string error;
  producer_ = KafkaProducer::create(config_, error);
  if (!producer_) throw std::invalid_argument("sinks.kafka: " + error);
  SpoolWriterConfig wc = config_.writer;
  wc.produce = [this](std::uint64_t seq, const RecordPtr& rec) { return produce(seq, rec); };
  // The writer starts producing recovered records at once; the delivery thread picks up their
  // reports from librdkafka's queue as soon as it runs.
  writer_ = std::make_unique<SpoolWriter>(std::move(wc));
  delivery_ = std::thread([this] { delivery_loop(); });
}

KafkaSink::~KafkaSink() { stop(Clock::now() + std::chrono::seconds(2)); }

void KafkaSink::publish(const RecordPtr& record) { writer_->submit(record); }

void KafkaSink::publish_durable(const RecordPtr& record, DurableCallback done) {
  if (!done) {
    publish(record);
    return;
  }
  // submit() takes the callback only when it queues the record; keep a copy for the refusals.
  DurableCallback keep = done;
  const SubmitResult r = writer_->submit(record, std::move(done));
  switch (r.status) {
    case SubmitResult::Status::kQueued:
      return;
    case SubmitResult::Status::kRejected:
      keep(Durability::kRejected);
      return;
    case SubmitResult::Status::kDropped:
    case SubmitResult::Status::kStopped:
      keep(Durability::kDropped);
      return;
  }
}

bool KafkaSink::holds_response() const {
  return config_.writer.spool.fsync == FsyncPolicy::kAlways;
}

// Writer thread. Must not block: rd_kafka_producev without RD_KAFKA_MSG_F_BLOCK never does.
bool KafkaSink::produce(std::uint64_t seq, const RecordPtr& record) {
  if (fatal_.load(std::memory_order_relaxed)) {
    refused_.store(true, std::memory_order_relaxed);
    return false;
  }
  KafkaProducer::ProduceStatus st;
  int err = 0;
  {
    std::lock_guard<std::mutex> lock(producer_mu_);
    st = producer_->produce(seq, *record, &err);
  }
  switch (st) {
    case KafkaProducer::ProduceStatus::kQueued:
      return true;
    case KafkaProducer::ProduceStatus::kPermanent:
      // Taken and released at once: it would block every record behind it forever.
      failed_permanent_.fetch_add(1, std::memory_order_relaxed);
      set_last_error("record " + record->id + " can never be produced: " +
                     rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)));
      writer_->ack(seq);
      return true;
    case KafkaProducer::ProduceStatus::kQueueFull:
    case KafkaProducer::ProduceStatus::kRetry:
      if (err == RD_KAFKA_RESP_ERR__FATAL) fatal_.store(true, std::memory_order_relaxed);
      refused_.store(true, std::memory_order_relaxed);
      return false;
  }
  return false;
}

void KafkaSink::delivery_loop() {
  for (;;) {
    const bool stopping = stopping_.load(std::memory_order_acquire);
    if (fatal_.load(std::memory_order_acquire) && !stopping) {
      std::string why;
      {
        std::lock_guard<std::mutex> lock(producer_mu_);
        why = producer_->fatal_error();
      }
      recreate_producer(why.empty() ? "fatal error" : why);
    }
    if (stopped_.load(std::memory_order_acquire)) break;
    rd_kafka_queue_t* q;
    {
      std::lock_guard<std::mutex> lock(producer_mu_);
      q = producer_->events();
    }
    // Only this thread replaces the producer, so `q` stays valid while it polls.
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 100);
    if (ev == nullptr) continue;
    switch (rd_kafka_event_type(ev)) {
      case RD_KAFKA_EVENT_DR: {
        bool any_ok = false;
        while (const rd_kafka_message_t* m = rd_kafka_event_message_next(ev)) {
          const auto seq = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m->_private));
          if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            acknowledged_.fetch_add(1, std::memory_order_relaxed);
            writer_->ack(seq);
            any_ok = true;
          } else if (permanent_delivery_error(m->err)) {
            failed_permanent_.fetch_add(1, std::memory_order_relaxed);
            set_last_error(std::string("delivery failed for good: ") + rd_kafka_err2str(m->err));
            writer_->ack(seq);
          } else {
            // Timed out or failed after librdkafka's retries (or purged): produce it again.
            failed_delivery_.fetch_add(1, std::memory_order_relaxed);
            writer_->nack(seq);
            if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
                m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
              set_last_error(std::string("delivery failed, will retry: ") +
                             rd_kafka_err2str(m->err));
          }
        }
        if (any_ok) broker_state_.store(static_cast<int>(BrokerState::kUp));
        if (refused_.exchange(false, std::memory_order_relaxed)) writer_->resume_produce();
        break;
      }
      case RD_KAFKA_EVENT_ERROR: {
        error_events_.fetch_add(1, std::memory_order_relaxed);
        const rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
        std::string text = std::string(rd_kafka_err2name(err)) + ": " +
                           rd_kafka_event_error_string(ev);
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
          broker_state_.store(static_cast<int>(BrokerState::kDown));
          brokers_up_.store(0);
        }
        if (rd_kafka_event_error_is_fatal(ev)) fatal_.store(true, std::memory_order_release);
        log_limited("error " + text);
        set_last_error(std::move(text));
        break;
      }
      case RD_KAFKA_EVENT_STATS: {
        const KafkaStatsSummary s = summarize_kafka_stats(rd_kafka_event_stats(ev));
        brokers_up_.store(s.brokers_up);
        broker_state_.store(static_cast<int>(s.brokers_up > 0 ? BrokerState::kUp
                                                              : BrokerState::kDown));
        std::lock_guard<std::mutex> lock(text_mu_);
        idemp_state_ = s.idemp_state;
        break;
      }
      case RD_KAFKA_EVENT_LOG: {
        const char* fac = nullptr;
        const char* msg = nullptr;
        int level = 0;
        if (rd_kafka_event_log(ev, &fac, &msg, &level) == 0 && level <= 4)  // warning or worse
          log_limited(std::string(fac ? fac : "") + ": " + (msg ? msg : ""));
        break;
      }
      default:
        break;
    }
    rd_kafka_event_destroy(ev);
  }
}

void KafkaSink::recreate_producer(const std::string& why) {
  fatal_errors_.fetch_add(1, std::memory_order_relaxed);
  log_limited("fatal producer error, recreating the producer: " + why);
  set_last_error("fatal: " + why);
  std::string error;
  std::unique_ptr<KafkaProducer> fresh = KafkaProducer::create(config_, error);
  if (!fresh) {
    // The settings were accepted at start, so this is resource exhaustion: try again shortly.
    log_limited("cannot recreate the producer: " + error);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return;
  }
  std::unique_ptr<KafkaProducer> old;
  {
    std::lock_guard<std::mutex> lock(producer_mu_);
    old = std::exchange(producer_, std::move(fresh));
  }
  // Reports the old producer still has (successes included) are collected before it goes.
  while (rd_kafka_event_t* ev = rd_kafka_queue_poll(old->events(), 0)) {
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DR) {
      while (const rd_kafka_message_t* m = rd_kafka_event_message_next(ev)) {
        const auto seq = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m->_private));
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          acknowledged_.fetch_add(1, std::memory_order_relaxed);
          writer_->ack(seq);
        }
      }
    }
    rd_kafka_event_destroy(ev);
  }
  old.reset();
  // Everything the old producer had is produced again by the new one, in order.
  writer_->nack_all();
  producer_restarts_.fetch_add(1, std::memory_order_relaxed);
  fatal_.store(false, std::memory_order_release);
  refused_.store(false, std::memory_order_relaxed);
  writer_->resume_produce();
}

void KafkaSink::stop(Clock::time_point deadline) {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopped_.load()) return;
  stopping_.store(true, std::memory_order_release);
  // The delivery thread keeps acknowledging while the writer drains.
  writer_->stop(deadline);
  stopped_.store(true, std::memory_order_release);
  if (delivery_.joinable()) delivery_.join();
  std::lock_guard<std::mutex> plock(producer_mu_);
  producer_.reset();
}

void KafkaSink::inject_fatal_error_for_testing() {
  std::lock_guard<std::mutex> lock(producer_mu_);
  rd_kafka_test_fatal_error(producer_->handle(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                            "injected by a test");
}

void KafkaSink::set_last_error(std::string text) {
  std::lock_guard<std::mutex> lock(text_mu_);
  last_error_ = std::move(text);
}

void KafkaSink::log_limited(const std::string& line) {
  const Clock::time_point now = Clock::now();
  if (now - last_log_ < std::chrono::seconds(1)) {
    ++suppressed_logs_;
    return;
  }
  last_log_ = now;
  std::fprintf(stderr, "sluice: kafka sink: %s (%llu similar messages suppressed)\n", line.c_str(),
               static_cast<unsigned long long>(suppressed_logs_));
  suppressed_logs_ = 0;
}

KafkaSink::Stats KafkaSink::stats() const {
  Stats s;
  s.writer = writer_->stats();
  s.acknowledged = acknowledged_.load(std::memory_order_relaxed);
  s.failed_delivery = failed_delivery_.load(std::memory_order_relaxed);
  s.failed_permanent = failed_permanent_.load(std::memory_order_relaxed);
  s.fatal_errors = fatal_errors_.load(std::memory_order_relaxed);
  s.producer_restarts = producer_restarts_.load(std::memory_order_relaxed);
  s.error_events = error_events_.load(std::memory_order_relaxed);
  s.broker = static_cast<BrokerState>(broker_state_.load());
  s.brokers_up = brokers_up_.load();
  std::lock_guard<std::mutex> lock(text_mu_);
  s.idemp_state = idemp_state_;
  s.last_error = last_error_;
  return s;
}

void KafkaSink::render_metrics(std::string& out) const {
  const Stats s = stats();
  const std::string base = "sink=\"kafka\"";
  auto metric = [&](const char* name, const char* type, const char* help, std::uint64_t v,
                    const std::string& labels) {
    append_metric_header(out, name, type, help);
    append_metric_sample(out, name, labels, v);
  };
  metric("sluice_sink_kafka_produced_total", "counter",
         "Records handed to librdkafka, retries included.", s.writer.produced, base);
  metric("sluice_sink_kafka_acknowledged_total", "counter",
         "Successful delivery reports (acks=all).", s.acknowledged, base);
  const char* failed = "sluice_sink_kafka_failed_total";
  append_metric_header(out, failed, "counter",
                       "Failed deliveries: \"delivery\" ones are produced again, \"permanent\" "
                       "ones (never producible) are dropped.");
  append_metric_sample(out, failed, base + ",reason=\"delivery\"", s.failed_delivery);
  append_metric_sample(out, failed, base + ",reason=\"permanent\"", s.failed_permanent);
  metric("sluice_sink_kafka_retried_total", "counter",
         "Records produced again after a failed delivery report (timeout, broker error).",
         s.writer.nacked, base);
  metric("sluice_sink_kafka_read_back_total", "counter",
         "Records read back from the spool files to be produced (after QUEUE_FULL, a failed "
         "delivery, a producer restart or a process restart).",
         s.writer.replayed, base);
  metric("sluice_sink_kafka_queue_full_total", "counter",
         "Produce attempts refused by librdkafka (queue full, broker state), retried later.",
         s.writer.produce_refused, base);
  metric("sluice_sink_kafka_fatal_errors_total", "counter",
         "Fatal producer errors (the producer is then recreated).", s.fatal_errors, base);
  metric("sluice_sink_kafka_producer_restarts_total", "counter", "Producers recreated.",
         s.producer_restarts, base);
  metric("sluice_sink_kafka_error_events_total", "counter",
         "librdkafka error events (brokers down, authentication, ...).", s.error_events, base);
  metric("sluice_sink_kafka_broker_up", "gauge",
         "1 while librdkafka has a working connection to at least one broker.",
         s.broker == BrokerState::kUp ? 1 : 0, base);
  metric("sluice_sink_kafka_brokers_up", "gauge", "Brokers librdkafka is connected to.",
         static_cast<std::uint64_t>(s.brokers_up), base);
  metric("sluice_sink_kafka_idempotent", "gauge",
         "1 once the idempotent producer holds a producer id.", s.idemp_state == "Assigned", base);
  writer_->render_metrics(out, "kafka");
}

void KafkaSink::render_status(std::string& out) const {
  const Stats s = stats();
  const SpoolStats& sp = s.writer.spool;
  JsonWriter w(out);
  w.begin_object();
  w.member("broker", to_string(s.broker));
  w.member_int64("brokers_up", s.brokers_up);
  w.member("idempotence", s.idemp_state);
  w.member("bootstrap_servers", config_.bootstrap_servers);
  w.member("events_topic", config_.events_topic);
  w.member("alerts_topic", config_.alerts_topic);
  w.member_bool("accepting", writer_->accepting());
  w.member_int64("produced", static_cast<std::int64_t>(s.writer.produced));
  w.member_int64("acknowledged", static_cast<std::int64_t>(s.acknowledged));
  w.member_int64("failed", static_cast<std::int64_t>(s.failed_delivery + s.failed_permanent));
  w.member_int64("retried", static_cast<std::int64_t>(s.writer.nacked));
  w.member_int64("read_back", static_cast<std::int64_t>(s.writer.replayed));
  w.member_int64("producer_restarts", static_cast<std::int64_t>(s.producer_restarts));
  w.key("spool");
  w.begin_object();
  w.member("dir", config_.writer.spool.dir);
  w.member("fsync", to_string(config_.writer.spool.fsync));
  w.member("full_policy", to_string(config_.writer.spool.full_policy));
  w.member_int64("bytes", static_cast<std::int64_t>(sp.bytes));
  w.member_int64("max_bytes", static_cast<std::int64_t>(config_.writer.spool.max_bytes));
  w.member_int64("records", static_cast<std::int64_t>(sp.records));
  w.member_int64("unacked", static_cast<std::int64_t>(sp.unacked));
  w.member_int64("oldest_unacked_age_s", static_cast<std::int64_t>(sp.oldest_unacked_age_s));
  w.member_bool("full", s.writer.full);
  w.member_int64("dropped_full", static_cast<std::int64_t>(sp.dropped_full + s.writer.dropped_queue_full));
  w.member_int64("rejected", static_cast<std::int64_t>(s.writer.rejected));
  w.member_int64("corrupt_tail_cuts", static_cast<std::int64_t>(sp.corrupt_tail_cuts));
  w.member_int64("recovered_records", static_cast<std::int64_t>(sp.recovered_records));
  w.end_object();
  w.member("last_error", s.last_error);
  w.end_object();
}

}  // namespace sluice
