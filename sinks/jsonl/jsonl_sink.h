// JsonlSink: appends each record's JSON plus "\n" to a local file (JSON Lines), for local
// audit logs, log shippers that tail files, and debugging without Kafka.
//
// Contract
//  * Construction opens the file(s) with O_APPEND|O_CREAT (mode 0640) and starts one writer
//    thread. If a file cannot be opened it throws std::runtime_error naming the path and the
//    OS error; nothing is left running.
//  * publish() never blocks on I/O: it takes a mutex for a vector push_back and returns. The
//    queue holds at most max_queue_records records, counting the batch being written; beyond
//    that records are dropped and counted (outcome "dropped_queue_full"). A null record is
//    ignored. After stop() has been called, records are dropped as "dropped_shutdown".
//  * The writer wakes every flush_interval, or sooner when 64 records (or half the queue)
//    wait, and writes everything queued in as few write(2) calls as possible (one per file per
//    128 KiB). So records reach the kernel within about flush_interval; flush_interval == 0
//    wakes the writer on every publish. Data is not fsync()ed: a machine crash can lose the
//    last batches.
//  * Each line is one record: any CR or LF bytes in Record::json (only possible as JSON
//    whitespace, never inside a valid JSON string) are written as spaces, so a line is always a
//    whole record. Records of one kind keep their publish order within the file.
//  * Write errors (disk full, I/O error) never throw or stop the sink: the records of the failed
//    write are counted (outcome "write_error", plus sluice_sink_write_errors_total) and a line
//    goes to stderr at most once per second. If a failure leaves half a line in the file, the
//    next write starts with "\n" so later records stay on lines of their own.
//  * stop(deadline) stops accepting records, writes what is queued until the deadline (the rest
//    is counted as "dropped_shutdown"), then joins the writer. A single write(2) in progress at
//    the deadline is not interrupted. Safe to call more than once; the destructor calls it with
//    a two-second deadline if nobody did.
//  * Invariant, once the queue is idle: published = written + dropped_queue_full +
//    dropped_shutdown + write_error records + queue_depth.
//  * Files are never reopened: for log rotation use copytruncate (O_APPEND makes it safe).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sinks/sink.h"

namespace sluice {

struct JsonlSinkConfig {
  std::string events_path;
  std::string alerts_path;  // empty (or equal to events_path): alerts go to the events file
  std::size_t max_queue_records = 65536;
  // 10 ms rather than longer: the writer shares the cores with the workers, and a batch of
  // 100 ms at tens of thousands of calls per second (megabytes copied and written at once)
  // holds a core long enough to show in the calls' p99 latency; ten times smaller batches
  // cost ~100 more wake-ups a second and hold a core ten times shorter.
  std::chrono::milliseconds flush_interval{10};
};

class JsonlSink final : public EventSink {
 public:
  struct Counters {
    std::uint64_t published = 0;            // publish() calls with a record
    std::uint64_t written = 0;              // records whose whole line reached the file
    std::uint64_t dropped_queue_full = 0;   // refused by publish(): queue at max_queue_records
    std::uint64_t dropped_shutdown = 0;     // published after stop(), or still queued at deadline
    std::uint64_t write_error_records = 0;  // lost in a failed write(2)
    std::uint64_t write_errors = 0;         // failed write(2) calls
    std::uint64_t queue_depth = 0;          // accepted, not yet written or lost
  };

  explicit JsonlSink(JsonlSinkConfig config);
  ~JsonlSink() override;
  JsonlSink(const JsonlSink&) = delete;
  JsonlSink& operator=(const JsonlSink&) = delete;

  const char* name() const override { return "jsonl"; }
  void publish(const RecordPtr& record) override;
  void stop(std::chrono::steady_clock::time_point deadline) override;
  void render_metrics(std::string& out) const override;
  // False once stop() has been called.
  bool ready() const override { return !stopping_flag_.load(std::memory_order_relaxed); }

  Counters counters() const;

  // Test hook: while paused, the writer takes nothing from the queue, so a test can fill it
  // deterministically. stop() unpauses.
  void set_paused_for_testing(bool paused);

 private:
  // Rate limit for stderr lines: at most one per second per kind, counting the rest.
  struct LogLimiter {
    std::chrono::steady_clock::time_point last{};
    std::uint64_t suppressed = 0;
    bool allow();
  };
  struct Output {
    int fd = -1;
    std::string path;
    std::string buffer;  // the chunk being assembled; capacity reused across batches
    std::size_t records = 0;
    bool torn = false;  // a failed write left a partial line at the end of the file
  };

  void run();
  void write_batch(const std::vector<RecordPtr>& batch,
                   std::chrono::steady_clock::time_point deadline);
  void flush_output(Output& out);
  void report_drops();
  void close_files();

  const JsonlSinkConfig config_;
  const std::size_t wake_threshold_;
  Output events_;
  Output alerts_;  // fd == -1 when alerts share the events file

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RecordPtr> pending_;                    // guarded by mu_
  bool stopping_ = false;                             // guarded by mu_
  bool paused_ = false;                               // guarded by mu_
  std::chrono::steady_clock::time_point deadline_{};  // guarded by mu_

  std::mutex join_mu_;  // serializes concurrent stop() calls around the join
  std::thread writer_;

  std::atomic<bool> stopping_flag_{false};
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> dropped_queue_full_{0};
  std::atomic<std::uint64_t> dropped_shutdown_{0};
  std::atomic<std::uint64_t> write_error_records_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::atomic<std::uint64_t> queue_depth_{0};

  // Writer-thread only.
  LogLimiter write_log_;
  LogLimiter drop_log_;
  std::uint64_t drops_reported_ = 0;
};

}  // namespace sluice
