// SpoolWriter: the one thread that owns a Spool. Request threads hand it records through a
// bounded in-memory queue; it appends them in batches, applies the fsync policy once per batch
// (group commit), tells each submitter when its record is durable, and feeds the records, in
// sequence order, to the Kafka producer hook, again and again until they are acknowledged.
//
// Contract
//  * The constructor opens (and recovers) the Spool, which may throw (see spool.h), then starts
//    the thread. Records left unacknowledged by an earlier run are fed to `produce` first.
//  * submit() never blocks and never does I/O: a short mutex section and a vector push_back,
//    plus a futex wake-up when it finds the writer idle (see `linger`).
//    - kQueued: the record got a ticket (1, 2, 3, ... in submit order). `on_durable`, if set,
//      is called exactly once, later, on the writer thread, with the outcome (see Durability);
//      callbacks run in ticket order and must be quick and non-blocking (post to your executor).
//    - kDropped: not taken: the queue is full (max_queue_records, counting the batch being
//      written) and full_policy is kDropNewest. Counted; on_durable is not called.
//    - kRejected: full_policy is kFailClosed and the queue or the spool is full: the caller
//      should fail the call (HTTP 503). Counted; on_durable is not called.
//    - kStopped: stop() has been called. Counted as dropped_shutdown.
//    With kDropNewest, a queued record can still be dropped when the spool turns out to be full
//    at append time (outcome kDropped); with kFailClosed it gets kRejected.
//  * Durability of a queued record, reported once per ticket:
//    - fsync kAlways: after the fdatasync of the batch holding it (one per batch: records that
//      arrive during an fsync share the next one).
//    - fsync kInterval: after the next interval fsync (at most fsync_interval after its write,
//      plus the time of the fsync itself).
//    - fsync kNever: as soon as it is written to the file (it survives a process crash, not a
//      power loss), reported as kDurable.
//    The proxy holds the last bytes of a response until this outcome arrives (fsync: always), so
//    that a client that saw a complete response implies a durable event.
//  * wait_durable(ticket, deadline) blocks until the ticket is settled; nullopt on timeout.
//    Outcomes of the last 65536 settled tickets are remembered; older ones (and ticket 0)
//    report kUnknown. Any thread may wait.
//  * Producer hook: produce(seq, record) is called on the writer thread, in sequence order,
//    for every stored record that is pending: just appended (after its commit), never given to
//    the producer since the start, or nacked. It must not block. Return true when the record
//    was taken (a delivery report will follow: call ack(seq) on success, nack(seq) on failure),
//    false when it cannot be taken now (QUEUE_FULL, broker down): the writer stops there and
//    retries from that record after produce_retry, or sooner on resume_produce(). Records the
//    writer no longer holds in memory are read back from the spool files.
//  * ack(), nack(), nack_all(), resume_produce() may be called from any thread (librdkafka's
//    delivery-report thread) and only queue the request; the writer applies them. nack_all()
//    returns every in-flight record to pending (producer recreated after a fatal error).
//  * stop(deadline): refuses new records (kStopped), appends everything already queued whatever
//    the deadline (accepted records are not thrown away; at most max_queue_records appends, about
//    a microsecond each, plus one fsync), fsyncs (unless kNever), then keeps feeding the producer
//    and collecting acknowledgements until nothing is in flight or the deadline passes, closes
//    the spool and joins. Unacknowledged records stay on disk for the next start. Idempotent;
//    the destructor calls it with a two-second deadline. A hung disk can hold stop() past the
//    deadline (an fsync cannot be interrupted).
//  * accepting() is false once stopped, or with kFailClosed while the spool or queue is full;
//    full() is the alert gauge (the spool refused a record for lack of space and has not freed
//    enough since), whatever the policy.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "sinks/sink.h"
#include "sinks/spool/spool.h"

namespace sluice {

// Durability, DurableCallback and to_string(Durability): sinks/sink.h.

struct SubmitResult {
  enum class Status { kQueued, kDropped, kRejected, kStopped };
  Status status = Status::kQueued;
  std::uint64_t ticket = 0;  // nonzero only when kQueued
};

using ProduceFn = std::function<bool(std::uint64_t seq, const RecordPtr& record)>;

struct SpoolWriterConfig {
  SpoolConfig spool;
  std::size_t max_queue_records = 65536;
  // With fsync interval or never: after a cycle that appended records, the writer polls the
  // queue again after this long instead of being woken by submit(), which then costs no
  // syscall under steady load. Adds up to this much before a record reaches the file and the
  // producer. 0: wake on every first record (always the case with fsync always). With fsync
  // interval it is capped at half of fsync_interval, so a record is durable within about 1.5
  // intervals. Each writer cycle costs a wake-up, a pwrite and a produce() burst: 5 ms rather
  // than 1 ms took the sink threads' CPU from ~5.2 to ~3.1 µs per event (bench/README.md).
  std::chrono::microseconds linger{5000};
  ProduceFn produce;  // may be empty: records are only spooled
  std::chrono::milliseconds produce_retry{100};
  // Records read back from disk per writer cycle, so a long backlog does not delay new appends.
  std::size_t max_replay_per_cycle = 8192;
};

struct SpoolWriterStats {
  SpoolStats spool;
  std::uint64_t submitted = 0;           // submit() calls with a record
  std::uint64_t dropped_queue_full = 0;  // kDropped at submit
  std::uint64_t rejected = 0;            // kRejected at submit or at append (kFailClosed)
  std::uint64_t dropped_shutdown = 0;    // submitted after stop()
  std::uint64_t queue_depth = 0;
  std::uint64_t produced = 0;         // produce() calls that took the record
  std::uint64_t produce_refused = 0;  // produce() calls that returned false
  std::uint64_t replayed = 0;         // records read back from disk for produce()
  std::uint64_t nacked = 0;
  bool full = false;
};

class SpoolWriter {
 public:
  explicit SpoolWriter(SpoolWriterConfig config);
  ~SpoolWriter();
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;

  SubmitResult submit(RecordPtr record, DurableCallback on_durable = {});
  std::optional<Durability> wait_durable(std::uint64_t ticket,
                                         std::chrono::steady_clock::time_point deadline);

  void ack(std::uint64_t seq);
  void nack(std::uint64_t seq);
  void nack_all();
  void resume_produce();

  void stop(std::chrono::steady_clock::time_point deadline);

  bool accepting() const;
  bool full() const { return spool_full_.load(std::memory_order_relaxed); }
  SpoolWriterStats stats() const;
  // Prometheus lines, names sluice_sink_spool_*, each labelled sink="<sink>".
  void render_metrics(std::string& out, std::string_view sink = "kafka") const;

  // Test hook: while paused the writer takes nothing from the queue. stop() unpauses.
  void set_paused_for_testing(bool paused);

 private:
  struct Entry {
    RecordPtr record;
    DurableCallback on_durable;
    std::uint64_t ticket = 0;
  };
  struct Waiting {
    std::uint64_t ticket = 0;
    std::uint64_t seq = 0;  // 0 if the record was not stored
    std::optional<Durability> outcome;
    DurableCallback on_durable;
  };

  void run();
  void append_batch(std::vector<Entry>& batch);
  void settle(const CommitResult& commit);
  void feed(std::chrono::steady_clock::time_point now);
  std::chrono::steady_clock::time_point next_wake(std::chrono::steady_clock::time_point now) const;
  bool has_backlog() const;
  void publish_stats();

  const SpoolWriterConfig config_;
  const std::size_t wake_threshold_;
  std::unique_ptr<Spool> spool_;  // used by the writer thread only, once it runs

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> queue_;                          // guarded by mu_
  std::vector<std::uint64_t> acks_;                   // guarded by mu_
  std::vector<std::uint64_t> nacks_;                  // guarded by mu_
  bool nack_all_ = false;                             // guarded by mu_
  bool kick_ = false;                                 // guarded by mu_
  bool stopping_ = false;                             // guarded by mu_
  bool paused_ = false;                               // guarded by mu_
  bool writer_sleeping_ = false;                      // guarded by mu_
  std::chrono::steady_clock::time_point deadline_{};  // guarded by mu_
  std::uint64_t next_ticket_ = 0;                     // guarded by mu_

  // Settled outcomes for wait_durable().
  static constexpr std::size_t kOutcomeRing = 1 << 16;
  std::mutex settle_mu_;
  std::condition_variable settle_cv_;
  std::uint64_t settled_through_ = 0;   // guarded by settle_mu_
  std::vector<std::uint8_t> outcomes_;  // guarded by settle_mu_
  int waiters_ = 0;                     // guarded by settle_mu_

  mutable std::mutex stats_mu_;
  SpoolStats spool_stats_;  // guarded by stats_mu_

  std::mutex join_mu_;
  std::thread thread_;

  std::atomic<bool> stopped_flag_{false};
  std::atomic<bool> spool_full_{false};
  std::atomic<std::uint64_t> queue_depth_{0};
  std::atomic<std::uint64_t> submitted_{0};
  std::atomic<std::uint64_t> dropped_queue_full_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> dropped_shutdown_{0};
  std::atomic<std::uint64_t> produced_{0};
  std::atomic<std::uint64_t> produce_refused_{0};
  std::atomic<std::uint64_t> replayed_{0};
  std::atomic<std::uint64_t> nacked_{0};

  // Writer thread only.
  std::deque<Waiting> waiting_;                             // in ticket order
  std::vector<std::pair<std::uint64_t, RecordPtr>> fresh_;  // appended in this cycle
  std::uint64_t cursor_ = 0;  // no pending record below this sequence number
  std::chrono::steady_clock::time_point produce_retry_at_{};
};

}  // namespace sluice
