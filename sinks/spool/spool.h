// Spool: a durable, segmented, append-only log of records that have not yet been acknowledged
// by Kafka. The Kafka sink appends every record here first, produces it, and acknowledges it
// when the delivery report says success; whatever is not acknowledged is produced again from
// here (after an outage, QUEUE_FULL, a timeout, a fatal producer error or a restart).
//
// Files in `dir`: segments NNNNNNNNNNNNNNNNNNNN.spool (format: spool_segment.h),
// "ack-checkpoint" (the lowest unacknowledged sequence number and the acknowledged ranges above
// it, rewritten at most once per checkpoint_interval and at close, so that a restart does not
// produce again what Kafka already has), "LOCK" (flock(2): one process per directory), and
// *.corrupt (segments with an unreadable header, moved aside for a human).
//
// Contract
//  * Not thread-safe: one thread (SpoolWriter's) calls everything. Nothing here blocks on
//    anything but local file I/O.
//  * The constructor creates `dir` if needed and recovers: it validates every record of every
//    segment, truncates a segment at its first bad record (a torn write after a crash or a
//    corrupt byte: counted in corrupt_tail_cuts and bytes_cut, logged to stderr), moves a
//    segment whose header is unreadable aside as <name>.corrupt (corrupt_segments), removes
//    empty files and fully acknowledged segments. A bad tail never stops the start.
//    It throws std::invalid_argument for a bad config and std::runtime_error only when the
//    directory cannot be created, listed or locked (another process holds it).
//  * Sequence numbers start at 1 and increase by one per appended record (a failed write skips
//    the numbers of its records); they are never reused while a record with that number may
//    still exist, also across restarts. They are local to this spool (Kafka never sees them);
//    consumers deduplicate on the record id.
//  * append() frames the record into an in-memory buffer (written once it holds
//    write_buffer_bytes, or by flush/commit/sync) and returns its sequence number. Records keep
//    their append order. A record whose write later fails is reported as lost in the next
//    CommitResult (and counted in lost_io); the spool keeps working and retries with the next
//    records: disk errors (ENOSPC, EIO, EFBIG) are counted and surfaced, never thrown.
//  * commit() applies the fsync policy: kAlways flushes and fsyncs whatever was appended (group
//    commit: one fdatasync per call, however many records), kInterval flushes and fsyncs once
//    the oldest unsynced write is fsync_interval old (sync_due() says when), kNever only flushes.
//    durable_seq() is the highest sequence number a completed fdatasync covered. If an fdatasync
//    fails (fsync_errors), the records it covered are reported in CommitResult and may be lost
//    in a machine crash, even once durable_seq() has moved past them.
//  * Size cap: the segment files (headers included) never exceed max_bytes. An append that does
//    not fit returns kFull and is counted (dropped_full) whatever full_policy says; full_policy
//    is for SpoolWriter, which turns kFull into a drop (kDropNewest) or a refusal (kFailClosed).
//    The current segment counts too, so max_bytes must be >= segment_bytes.
//  * Acknowledgement: ack(seq) in any order; duplicates and unknown numbers are ignored. Only
//    numbers already written (<= written_seq()) can be acknowledged. A segment whose records are
//    all acknowledged is deleted as soon as it is no longer the segment being appended to. The
//    per-record state is pending -> in flight (mark_in_flight) -> acked; nack() returns an
//    in-flight record to pending, nack_all() all of them (producer restart or fatal error).
//  * replay() reads records back in sequence order. It flushes the buffer first. Its callback
//    may call mark_in_flight() and nack(), nothing else of this class.
//  * After a restart every record is pending, and replay() returns exactly the records that were
//    not acknowledged, except those acknowledged after the last checkpoint (at most
//    checkpoint_interval earlier; none after a clean close()), which come back as duplicates.
//  * Memory: 4 bytes per record from the lowest unacknowledged one to the newest (state and
//    append second), plus one index entry per 64 records of each segment.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sinks/sink.h"

namespace sluice {

enum class FsyncPolicy { kNever, kInterval, kAlways };
enum class FullPolicy { kDropNewest, kFailClosed };

const char* to_string(FsyncPolicy p);
const char* to_string(FullPolicy p);

// Test seam for disk failures: each function, when set, replaces the system call of that name.
struct SpoolIo {
  std::function<ssize_t(int fd, const void* data, std::size_t n, off_t offset)> pwrite;
  std::function<int(int fd)> fdatasync;
};

struct SpoolConfig {
  std::string dir;
  std::uint64_t segment_bytes = 64ull << 20;
  std::uint64_t max_bytes = 1ull << 30;
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  std::chrono::milliseconds fsync_interval{10};
  FullPolicy full_policy = FullPolicy::kDropNewest;
  // append() writes the buffer once it holds this much; 0 writes every record at once.
  std::size_t write_buffer_bytes = 1 << 20;
  std::chrono::milliseconds checkpoint_interval{1000};
  SpoolIo io;
};

struct SpoolStats {
  // Gauges.
  std::uint64_t bytes = 0;     // segment files, headers and not yet written buffer included
  std::uint64_t segments = 0;  // live segment files
  std::uint64_t records = 0;   // records in live segments, acknowledged or not
  std::uint64_t unacked = 0;   // pending + in flight
  std::uint64_t in_flight = 0;
  std::uint64_t oldest_unacked_age_s = 0;  // 0 when nothing is unacknowledged
  std::uint64_t last_seq = 0;
  std::uint64_t written_seq = 0;
  std::uint64_t durable_seq = 0;
  std::uint64_t low_watermark = 0;  // lowest unacknowledged sequence number
  bool full = false;                // the last append that needed space did not fit
  // Counters since open.
  std::uint64_t appended = 0;
  std::uint64_t acked = 0;
  std::uint64_t dropped_full = 0;
  std::uint64_t too_large = 0;
  std::uint64_t lost_io = 0;  // appended (or refused) records lost to a failed write
  std::uint64_t fsyncs = 0;
  std::uint64_t fsync_errors = 0;
  std::uint64_t write_errors = 0;  // failed write, truncate, create or checkpoint calls
  std::uint64_t corrupt_tail_cuts = 0;
  std::uint64_t bytes_cut = 0;
  std::uint64_t corrupt_segments = 0;
  std::uint64_t replay_errors = 0;  // records unreadable at replay although recovery read them
  std::uint64_t segments_deleted = 0;
  std::uint64_t recovered_records = 0;  // unacknowledged records found at open
};

struct AppendResult {
  enum class Status {
    kAppended,  // seq is set; durable per the fsync policy after commit()
    kFull,      // does not fit under max_bytes; not stored
    kTooLarge,  // key or id over 65535 bytes, or frame over kMaxFrameBytes; not stored
    kIoError,   // no segment could be created (or the spool is closed); not stored
  };
  Status status = Status::kAppended;
  std::uint64_t seq = 0;
};

struct SeqRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  bool contains(std::uint64_t s) const { return s >= first && s <= last; }
};

struct CommitResult {
  // Appended records whose write failed since the previous commit(): they are not stored.
  std::vector<SeqRange> lost;
  // Nonzero if an fdatasync failed since the previous commit(): records up to this number
  // (and above the previous durable_seq) may not survive a machine crash.
  std::uint64_t sync_failed_through = 0;
};

class Spool {
 public:
  enum class ReplayFilter {
    kUnacked,  // pending and in flight
    kPending,  // pending only: what a producer has not been given (or got back by nack)
  };
  struct ReplayResult {
    std::uint64_t visited = 0;  // records passed to fn
    // Where to resume: the record fn refused, or one past the last record considered.
    std::uint64_t next_seq = 0;
    bool stopped = false;  // fn returned false
  };
  // Return false to stop; the record passed in is then not counted as visited.
  using ReplayFn = std::function<bool(std::uint64_t seq, const RecordPtr& record)>;

  explicit Spool(SpoolConfig config);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  AppendResult append(const Record& record);
  // Writes the buffer. False if the write failed (the records are then lost, see commit()).
  bool flush();
  // flush() and fdatasync(), whatever the policy. False if either failed.
  bool sync();
  // Applies the fsync policy (see the contract) and writes the ack checkpoint when due.
  CommitResult commit(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // When commit() will next fsync under kInterval; time_point::max() if nothing waits for it.
  std::chrono::steady_clock::time_point sync_due() const;

  void ack(std::uint64_t seq);
  void mark_in_flight(std::uint64_t seq);
  void nack(std::uint64_t seq);
  void nack_all();

  // Visits records with from_seq <= seq < to_seq that pass `filter`, in order, at most
  // max_records of them.
  ReplayResult replay(std::uint64_t from_seq, std::uint64_t to_seq, ReplayFilter filter,
                      std::size_t max_records, const ReplayFn& fn);
  ReplayResult replay(std::uint64_t from_seq, const ReplayFn& fn) {
    return replay(from_seq, UINT64_MAX, ReplayFilter::kUnacked, SIZE_MAX, fn);
  }

  std::uint64_t last_seq() const { return next_seq_ - 1; }
  std::uint64_t written_seq() const { return written_seq_; }
  std::uint64_t durable_seq() const { return durable_seq_; }
  std::uint64_t low_watermark() const { return base_seq_; }
  const SpoolConfig& config() const { return config_; }
  SpoolStats stats() const;

  // Flushes, fsyncs (unless kNever), writes the ack checkpoint, closes the files and releases
  // the lock. Afterwards append() returns kIoError. Idempotent; the destructor calls it.
  void close();

 private:
  struct Segment {
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;  // 0: no record written yet
    std::uint64_t records = 0;   // written records
    std::uint64_t done = 0;      // of those, acknowledged or lost
    std::uint64_t bytes = 0;     // written bytes, header included
    std::string path;
    // (seq, offset) of every 64th record, so replay can start near any sequence number.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> index;
  };
  enum State : std::uint32_t { kPending = 0, kInFlight = 1, kAcked = 2, kGone = 3 };

  void recover();
  void recover_segment(const std::string& name, std::uint64_t first_seq);
  void move_aside(const std::string& name, const char* why);
  void read_checkpoint();
  void write_checkpoint();
  bool checkpointed_as_acked(std::uint64_t seq) const;
  bool open_segment();
  void rotate();
  bool sync_current();
  void finish_done(std::uint64_t seq);
  // Index in segments_ of the segment holding written record `seq`, or npos.
  std::size_t find_segment(std::uint64_t seq) const;
  void maybe_delete(std::size_t index);
  void pop_done();
  std::uint32_t& state_word(std::uint64_t seq) { return window_[seq - base_seq_]; }
  std::uint32_t now_rel_s() const;
  bool current_open() const { return cur_fd_ >= 0; }
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  ssize_t do_pwrite(int fd, const void* data, std::size_t n, off_t off);
  int do_fdatasync(int fd);
  void fsync_dir();

  const SpoolConfig config_;
  int dir_fd_ = -1;
  int lock_fd_ = -1;
  bool closed_ = false;

  std::deque<Segment> segments_;  // by first_seq; back() is current when cur_fd_ >= 0
  int cur_fd_ = -1;
  bool cur_broken_ = false;  // a failed write could not be cut back: start a new segment

  std::string buf_;  // frames appended to the current segment, not yet written
  std::uint64_t buf_first_seq_ = 0;
  std::uint64_t buf_records_ = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> buf_index_;

  std::uint64_t next_seq_ = 1;
  std::uint64_t written_seq_ = 0;
  std::uint64_t durable_seq_ = 0;
  std::chrono::steady_clock::time_point first_unsynced_{};  // {} when everything is synced

  // Per-record state for base_seq_ <= seq < next_seq_: State in the top 2 bits, the append
  // time in seconds since time_origin_s_ in the low 30 bits.
  std::deque<std::uint32_t> window_;
  std::uint64_t base_seq_ = 1;
  std::int64_t time_origin_s_ = 0;
  std::uint64_t unacked_ = 0;
  std::uint64_t in_flight_ = 0;
  std::uint64_t total_bytes_ = 0;
  std::uint64_t total_records_ = 0;
  std::uint64_t last_refused_bytes_ = 0;
  bool full_ = false;

  // Ack checkpoint: what the file says (used during recovery), and whether acks changed since.
  std::uint64_t checkpoint_base_ = 0;
  std::vector<SeqRange> checkpoint_ranges_;
  bool checkpoint_dirty_ = false;
  std::chrono::steady_clock::time_point checkpoint_at_{};

  CommitResult pending_result_;
  SpoolStats counters_;  // only the counter fields are used
};

}  // namespace sluice
