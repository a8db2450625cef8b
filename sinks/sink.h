// Sinks receive serialized records (call events and alerts) and deliver them somewhere.
//
// Contract
//  * publish() is called on a proxy worker thread, on the request path. It must not block,
//    wait on I/O or take a contended lock for long: it hands the record to the sink's own
//    queue and returns. A sink whose queue is full counts the drop (never blocks).
//  * publish_durable(record, done) is the same, plus a durability notification: `done` is called
//    exactly once with the outcome, when the record is as durable as the sink's policy promises. A sink
//    whose holds_response() is false calls it at once (kDurable) from inside publish(). A sink
//    that holds (the Kafka sink with fsync: always) calls it later, on its own thread, or at
//    once when it refuses the record (kDropped, kRejected). `done` must be quick and must not
//    block: post to your executor.
//  * Records are immutable and shared between sinks.
//  * stop(deadline) flushes what it can before the deadline; called once at shutdown.
//  * Each sink reports its own health for /metrics and the admin status endpoint.
//  * accepting() is false only when the sink is configured to fail closed (spool full) or is
//    stopped: the proxy should then refuse new calls with 503. ready() is never false merely
//    because a remote is down.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice {

struct Record {
  enum class Kind { kEvent, kAlert };
  Kind kind = Kind::kEvent;
  std::string id;    // event_id or alert_id
  std::string key;   // partition key: the tenant
  std::string json;  // one JSON object, no trailing newline
};
using RecordPtr = std::shared_ptr<const Record>;

// What became of a record handed to a durable sink. Ordered from best to worst: a record given
// to several durable sinks reports the worst outcome.
enum class Durability : std::uint8_t {
  kDurable,     // stored as the fsync policy promises (or no sink holds: nothing to wait for)
  kSyncFailed,  // written, but the fsync covering it failed: may not survive a power loss
  kDropped,     // not stored: spool full (drop_newest), too large, disk error, or stop deadline
  kRejected,    // not stored: spool full and full_policy is fail_closed
  kUnknown,     // SpoolWriter::wait_durable() only: settled too long ago to be remembered
};
const char* to_string(Durability d);
using DurableCallback = std::function<void(Durability)>;

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual const char* name() const = 0;
  virtual void publish(const RecordPtr& record) = 0;
  // See the contract. The default is for sinks that never hold a response.
  virtual void publish_durable(const RecordPtr& record, DurableCallback done) {
    publish(record);
    if (done) done(Durability::kDurable);
  }
  // True when publish_durable() may call `done` later than it returns (fsync: always).
  virtual bool holds_response() const { return false; }
  virtual void stop(std::chrono::steady_clock::time_point deadline) = 0;
  // Appends this sink's lines in Prometheus text format (metric names start with sluice_sink_).
  virtual void render_metrics(std::string& out) const = 0;
  // Appends one JSON value (an object) describing the sink's health for /admin/status.
  virtual void render_status(std::string& out) const { out += "{}"; }
  // Whether the sink is able to accept records; never false merely because a remote is down.
  virtual bool ready() const { return true; }
  // False when the sink refuses records by policy (fail_closed and full) or is stopped.
  virtual bool accepting() const { return true; }
};

// Hands each record to every configured sink.
class SinkSet {
 public:
  void add(std::unique_ptr<EventSink> sink) {
    if (sink->holds_response()) ++holding_;
    sinks_.push_back(std::move(sink));
  }
  void publish(const RecordPtr& record) const {
    for (const auto& s : sinks_) s->publish(record);
  }
  // Publishes to every sink; `done` runs exactly once, with the worst outcome of the sinks that
  // hold responses, once each of them has reported; at once (kDurable, on the calling thread,
  // before this returns) when none holds. Otherwise on a sink's thread: post, don't block.
  void publish(const RecordPtr& record, DurableCallback done) const;
  // True when publish(record, done) may call back later: the proxy then holds the final bytes
  // of the response until `done` runs.
  bool holds_response() const { return holding_ > 0; }
  void stop(std::chrono::steady_clock::time_point deadline) const {
    for (const auto& s : sinks_) s->stop(deadline);
  }
  void render_metrics(std::string& out) const {
    for (const auto& s : sinks_) s->render_metrics(out);
  }
  // {"jsonl":{...},"kafka":{...}}
  std::string status_json() const;
  bool ready() const {
    for (const auto& s : sinks_)
      if (!s->ready()) return false;
    return true;
  }
  bool accepting() const {
    for (const auto& s : sinks_)
      if (!s->accepting()) return false;
    return true;
  }
  bool empty() const { return sinks_.empty(); }

 private:
  std::vector<std::unique_ptr<EventSink>> sinks_;
  int holding_ = 0;
};

}  // namespace sluice
