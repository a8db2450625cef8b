#include "sinks/spool/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "sinks/spool/crc32c.h"
#include "sinks/spool/spool_internal.h"
#include "sinks/spool/spool_segment.h"

namespace sluice {

using namespace spool_internal;

const char* to_string(FsyncPolicy p) {
  switch (p) {
    case FsyncPolicy::kNever:
      return "never";
    case FsyncPolicy::kInterval:
      return "interval";
    case FsyncPolicy::kAlways:
      return "always";
  }
  return "?";
}

const char* to_string(FullPolicy p) {
  return p == FullPolicy::kFailClosed ? "fail_closed" : "drop_newest";
}

Spool::Spool(SpoolConfig config) : config_(std::move(config)) {
  if (config_.dir.empty()) throw std::invalid_argument("spool: dir is empty");
  if (config_.segment_bytes < kMinSegmentBytes) {
    throw std::invalid_argument("spool: segment_bytes must be at least 1024");
  }
  if (config_.max_bytes < config_.segment_bytes) {
    throw std::invalid_argument("spool: max_bytes must be at least segment_bytes");
  }
  if (config_.fsync_interval.count() < 0 || config_.checkpoint_interval.count() < 0) {
    throw std::invalid_argument("spool: negative interval");
  }
  std::error_code ec;
  std::filesystem::create_directories(config_.dir, ec);
  if (ec) {
    throw std::runtime_error("spool: cannot create dir '" + config_.dir + "': " + ec.message());
  }
  dir_fd_ = ::open(config_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) {
    throw std::runtime_error("spool: cannot open dir '" + config_.dir + "': " + errno_text(errno));
  }
  try {
    lock_fd_ = ::openat(dir_fd_, kLockName, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lock_fd_ < 0) {
      throw std::runtime_error("spool: cannot open lock file in '" + config_.dir +
                               "': " + errno_text(errno));
    }
    // Two processes appending to one spool would interleave sequence numbers and delete each
    // other's segments; the lock dies with the process, so a crash never leaves it stale.
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      throw std::runtime_error("spool: dir '" + config_.dir + "' is in use by another process (" +
                               errno_text(errno) + ")");
    }
    // Append times are kept as 30-bit seconds relative to this origin: 2^29 s (17 years)
    // before now leaves room both ways.
    time_origin_s_ = unix_us_now() / 1000000 - (std::int64_t{1} << 29);
    recover();
  } catch (...) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    ::close(dir_fd_);
    lock_fd_ = dir_fd_ = -1;
    throw;
  }
}

Spool::~Spool() { close(); }

std::uint32_t Spool::now_rel_s() const {
  const std::int64_t rel = unix_us_now() / 1000000 - time_origin_s_;
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(rel, 0, kTimeMask));
}

ssize_t Spool::do_pwrite(int fd, const void* data, std::size_t n, off_t off) {
  if (config_.io.pwrite) return config_.io.pwrite(fd, data, n, off);
  return ::pwrite(fd, data, n, off);
}

int Spool::do_fdatasync(int fd) {
  if (config_.io.fdatasync) return config_.io.fdatasync(fd);
  return ::fdatasync(fd);
}

// A new file's name is only durable once its directory is synced; without this a segment
// whose records were fsynced could vanish whole in a power loss.
void Spool::fsync_dir() {
  if (config_.fsync == FsyncPolicy::kNever) return;
  if (::fsync(dir_fd_) != 0) {
    ++counters_.fsync_errors;
    if (log_allowed()) {
      std::fprintf(stderr, "sluice spool: fsync of dir '%s' failed: %s\n", config_.dir.c_str(),
                   errno_text(errno).c_str());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Appending

bool Spool::open_segment() {
  const std::uint64_t first = next_seq_;
  const std::string name = segment_file_name(first);
  const int fd = ::openat(dir_fd_, name.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    ++counters_.write_errors;
    if (log_allowed()) {
      std::fprintf(stderr, "sluice spool: cannot create segment '%s/%s': %s\n", config_.dir.c_str(),
                   name.c_str(), errno_text(errno).c_str());
    }
    return false;
  }
  char hdr[kSegmentHeaderBytes];
  encode_segment_header(first, hdr);
  if (do_pwrite(fd, hdr, sizeof hdr, 0) != static_cast<ssize_t>(sizeof hdr)) {
    const int err = errno;
    ++counters_.write_errors;
    if (log_allowed()) {
      std::fprintf(stderr, "sluice spool: cannot write segment header '%s/%s': %s\n",
                   config_.dir.c_str(), name.c_str(), errno_text(err).c_str());
    }
    ::close(fd);
    ::unlinkat(dir_fd_, name.c_str(), 0);
    return false;
  }
  fsync_dir();
  Segment seg;
  seg.first_seq = first;
  seg.bytes = kSegmentHeaderBytes;
  seg.path = name;
  segments_.push_back(std::move(seg));
  cur_fd_ = fd;
  cur_broken_ = false;
  total_bytes_ += kSegmentHeaderBytes;
  return true;
}

void Spool::rotate() {
  flush();
  // Older segments are synced before they are closed, so durable_seq() only has to look at
  // the current one.
  if (config_.fsync != FsyncPolicy::kNever && written_seq_ > durable_seq_) sync_current();
  ::close(cur_fd_);
  cur_fd_ = -1;
  cur_broken_ = false;
  maybe_delete(segments_.size() - 1);
}

AppendResult Spool::append(const Record& record) {
  if (closed_) return {AppendResult::Status::kIoError, 0};
  const std::size_t fsz = frame_size(record);
  if (fsz == 0) {
    ++counters_.too_large;
    return {AppendResult::Status::kTooLarge, 0};
  }
  if (current_open()) {
    const Segment& cur = segments_.back();
    const bool has_records = cur.records + buf_records_ > 0;
    if (cur_broken_ || (has_records && cur.bytes + buf_.size() + fsz > config_.segment_bytes)) {
      rotate();  // before the cap check: a fully acknowledged current segment frees its space
    }
  }
  const std::uint64_t need = fsz + (current_open() ? 0 : kSegmentHeaderBytes);
  if (total_bytes_ + need > config_.max_bytes) {
    full_ = true;
    last_refused_bytes_ = need;
    ++counters_.dropped_full;
    return {AppendResult::Status::kFull, 0};
  }
  if (!current_open() && !open_segment()) {
    ++counters_.lost_io;
    return {AppendResult::Status::kIoError, 0};
  }
  const std::uint64_t seq = next_seq_++;
  const Segment& cur = segments_.back();
  if (buf_records_ == 0) buf_first_seq_ = seq;
  if ((cur.records + buf_records_) % kIndexEvery == 0) {
    buf_index_.emplace_back(seq, cur.bytes + buf_.size());
  }
  const std::int64_t now_us = unix_us_now();
  append_frame(buf_, seq, now_us, record);
  ++buf_records_;
  const std::int64_t rel = now_us / 1000000 - time_origin_s_;
  window_.push_back((std::uint32_t{kPending} << 30) |
                    static_cast<std::uint32_t>(std::clamp<std::int64_t>(rel, 0, kTimeMask)));
  ++unacked_;
  ++counters_.appended;
  total_bytes_ += fsz;
  full_ = false;
  if (buf_.size() >= config_.write_buffer_bytes) flush();
  return {AppendResult::Status::kAppended, seq};
}

bool Spool::flush() {
  if (buf_.empty() || !current_open()) return true;
  Segment& cur = segments_.back();
  std::size_t done = 0;
  int err = 0;
  // pwrite at the known end rather than write(): after a failed, partly written batch is cut
  // back, the next batch must land exactly at the cut, not at the descriptor's old offset.
  while (done < buf_.size()) {
    const ssize_t n = do_pwrite(cur_fd_, buf_.data() + done, buf_.size() - done,
                                static_cast<off_t>(cur.bytes + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  const std::uint64_t last = buf_first_seq_ + buf_records_ - 1;
  if (err == 0) {
    cur.bytes += buf_.size();
    cur.records += buf_records_;
    cur.last_seq = last;
    cur.index.insert(cur.index.end(), buf_index_.begin(), buf_index_.end());
    total_records_ += buf_records_;
    written_seq_ = last;
    if (first_unsynced_ == Clock::time_point{}) first_unsynced_ = Clock::now();
  } else {
    ++counters_.write_errors;
    if (log_allowed()) {
      std::fprintf(stderr, "sluice spool: write to '%s/%s' failed: %s; %llu records lost\n",
                   config_.dir.c_str(), cur.path.c_str(), errno_text(err).c_str(),
                   static_cast<unsigned long long>(buf_records_));
    }
    // Cut a partial write back so the file ends on a record boundary (also when pwrite
    // reported nothing written: it may still have written some); if even that fails the file
    // is left for recovery to cut, and appends move to a new segment.
    if (::ftruncate(cur_fd_, static_cast<off_t>(cur.bytes)) != 0) {
      ++counters_.write_errors;
      cur_broken_ = true;
    }
    for (std::uint64_t s = buf_first_seq_; s <= last; ++s) {
      std::uint32_t& w = state_word(s);
      if ((w >> 30) == kInFlight) --in_flight_;
      w = (w & kTimeMask) | (std::uint32_t{kGone} << 30);
    }
    unacked_ -= buf_records_;
    counters_.lost_io += buf_records_;
    total_bytes_ -= buf_.size();
    pending_result_.lost.push_back({buf_first_seq_, last});
  }
  buf_.clear();
  buf_records_ = 0;
  buf_index_.clear();
  if (err != 0) pop_done();
  return err == 0;
}

bool Spool::sync_current() {
  if (!current_open()) {
    // rotate() synced every closed segment.
    durable_seq_ = written_seq_;
    first_unsynced_ = {};
    return true;
  }
  ++counters_.fsyncs;
  const std::uint64_t covered = written_seq_;
  first_unsynced_ = {};
  if (do_fdatasync(cur_fd_) != 0) {
    ++counters_.fsync_errors;
    if (log_allowed()) {
      std::fprintf(stderr, "sluice spool: fdatasync of '%s/%s' failed: %s\n", config_.dir.c_str(),
                   segments_.back().path.c_str(), errno_text(errno).c_str());
    }
    // After a failed fsync Linux may already have dropped the dirty pages and will not report
    // it again, so retrying cannot prove anything: report the records and move on.
    pending_result_.sync_failed_through = std::max(pending_result_.sync_failed_through, covered);
    return false;
  }
  durable_seq_ = covered;
  return true;
}

bool Spool::sync() {
  const bool flushed = flush();
  return sync_current() && flushed;
}

CommitResult Spool::commit(Clock::time_point now) {
  flush();
  switch (config_.fsync) {
    case FsyncPolicy::kAlways:
      if (written_seq_ > durable_seq_) sync_current();
      break;
    case FsyncPolicy::kInterval:
      if (first_unsynced_ != Clock::time_point{} &&
          now >= first_unsynced_ + config_.fsync_interval) {
        sync_current();
      }
      break;
    case FsyncPolicy::kNever:
      break;
  }
  if (checkpoint_dirty_ && now >= checkpoint_at_ + config_.checkpoint_interval) {
    write_checkpoint();
  }
  CommitResult r = std::move(pending_result_);
  pending_result_ = {};
  return r;
}

Clock::time_point Spool::sync_due() const {
  if (config_.fsync != FsyncPolicy::kInterval || first_unsynced_ == Clock::time_point{}) {
    return Clock::time_point::max();
  }
  return first_unsynced_ + config_.fsync_interval;
}

// ---------------------------------------------------------------------------------------------
// Acknowledgement

std::size_t Spool::find_segment(std::uint64_t seq) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), seq,
                             [](std::uint64_t s, const Segment& g) { return s < g.first_seq; });
  if (it == segments_.begin()) return npos;
  --it;
  if (seq > it->last_seq) return npos;
  return static_cast<std::size_t>(it - segments_.begin());
}

void Spool::maybe_delete(std::size_t i) {
  Segment& seg = segments_[i];
  const bool is_current = current_open() && i + 1 == segments_.size();
  if (is_current || seg.done != seg.records) return;
  if (::unlinkat(dir_fd_, seg.path.c_str(), 0) != 0 && errno != ENOENT) {
    ++counters_.write_errors;
    if (log_allowed()) {
      std::fprintf(stderr, "sluice spool: cannot delete '%s/%s': %s\n", config_.dir.c_str(),
                   seg.path.c_str(), errno_text(errno).c_str());
    }
  }
  ++counters_.segments_deleted;
  total_bytes_ -= seg.bytes;
  total_records_ -= seg.records;
  segments_.erase(segments_.begin() + static_cast<std::ptrdiff_t>(i));
  if (full_ && total_bytes_ + last_refused_bytes_ <= config_.max_bytes) full_ = false;
}

void Spool::finish_done(std::uint64_t seq) {
  const std::size_t i = find_segment(seq);
  if (i == npos) return;
  ++segments_[i].done;
  maybe_delete(i);
}

void Spool::pop_done() {
  while (!window_.empty() && (window_.front() >> 30) >= kAcked) {
    window_.pop_front();
    ++base_seq_;
  }
}

void Spool::ack(std::uint64_t seq) {
  if (seq < base_seq_ || seq > written_seq_) return;
  std::uint32_t& w = state_word(seq);
  const std::uint32_t s = w >> 30;
  if (s == kAcked || s == kGone) return;
  if (s == kInFlight) --in_flight_;
  w = (w & kTimeMask) | (std::uint32_t{kAcked} << 30);
  --unacked_;
  ++counters_.acked;
  checkpoint_dirty_ = true;
  finish_done(seq);
  pop_done();
}

void Spool::mark_in_flight(std::uint64_t seq) {
  if (seq < base_seq_ || seq > written_seq_) return;
  std::uint32_t& w = state_word(seq);
  if ((w >> 30) != kPending) return;
  w = (w & kTimeMask) | (std::uint32_t{kInFlight} << 30);
  ++in_flight_;
}

void Spool::nack(std::uint64_t seq) {
  if (seq < base_seq_ || seq > written_seq_) return;
  std::uint32_t& w = state_word(seq);
  if ((w >> 30) != kInFlight) return;
  w &= kTimeMask;  // kPending == 0
  --in_flight_;
}

void Spool::nack_all() {
  if (in_flight_ == 0) return;
  for (std::uint32_t& w : window_) {
    if ((w >> 30) == kInFlight) w &= kTimeMask;
  }
  in_flight_ = 0;
}

// ---------------------------------------------------------------------------------------------
// Replay

Spool::ReplayResult Spool::replay(std::uint64_t from_seq, std::uint64_t to_seq, ReplayFilter filter,
                                  std::size_t max_records, const ReplayFn& fn) {
  flush();
  ReplayResult res;
  const std::uint32_t max_state = filter == ReplayFilter::kPending ? kPending : kInFlight;
  auto matches = [&](std::uint64_t s) {
    return s >= base_seq_ && s < next_seq_ && (state_word(s) >> 30) <= max_state;
  };
  to_seq = std::min(to_seq, written_seq_ + 1);
  std::uint64_t s = std::max(from_seq, base_seq_);
  while (s < to_seq && res.visited < max_records) {
    // The window answers "is there anything to read" without touching the disk.
    while (s < to_seq && !matches(s)) ++s;
    if (s >= to_seq) break;
    const std::size_t si = find_segment(s);
    if (si == npos) {  // cannot happen for a written, unacknowledged record; skip defensively
      ++s;
      continue;
    }
    const Segment& seg = segments_[si];
    // Copies: fn may call mark_in_flight() or nack(), which never delete, but stay safe anyway.
    const std::string path = seg.path;
    const std::uint64_t seg_last = seg.last_seq;
    const std::uint64_t seg_bytes = seg.bytes;
    const bool is_current = current_open() && si + 1 == segments_.size();
    std::uint64_t start_seq = seg.first_seq;
    std::uint64_t start_off = kSegmentHeaderBytes;
    auto it = std::upper_bound(seg.index.begin(), seg.index.end(), s,
                               [](std::uint64_t v, const auto& e) { return v < e.first; });
    if (it != seg.index.begin()) {
      --it;
      start_seq = it->first;
      start_off = it->second;
    }
    const int fd = is_current ? cur_fd_ : ::openat(dir_fd_, path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      // Likely transient (EMFILE): leave the records alone and let the caller retry.
      ++counters_.replay_errors;
      if (log_allowed()) {
        std::fprintf(stderr, "sluice spool: cannot open '%s/%s' for replay: %s\n",
                     config_.dir.c_str(), path.c_str(), errno_text(errno).c_str());
      }
      break;
    }
    bool bad = false;
    SegmentReader reader(fd, start_off, seg_bytes, start_seq);
    FrameView f;
    for (;;) {
      const auto st = reader.next(f);
      if (st == SegmentReader::Status::kEnd) break;
      if (st == SegmentReader::Status::kBad) {
        bad = true;
        break;
      }
      if (f.seq < s) continue;
      if (f.seq >= to_seq) break;
      s = f.seq;
      if (!matches(s)) {
        ++s;
        continue;
      }
      if (res.visited >= max_records) break;
      if (!fn(s, to_record(f))) {
        res.stopped = true;
        break;
      }
      ++res.visited;
      ++s;
    }
    if (!is_current) ::close(fd);
    if (res.stopped || res.visited >= max_records) break;
    if (bad) {
      // Recovery read these bytes, so this is disk rot or outside interference. Dropping the
      // unreadable records keeps the producer from retrying them forever.
      ++counters_.replay_errors;
      if (log_allowed()) {
        std::fprintf(stderr,
                     "sluice spool: cannot read back '%s/%s' from seq %llu (%s); its remaining "
                     "records are dropped\n",
                     config_.dir.c_str(), path.c_str(), static_cast<unsigned long long>(s),
                     reader.reason());
      }
      for (std::uint64_t q = std::max(s, base_seq_); q <= seg_last; ++q) {
        std::uint32_t& w = state_word(q);
        const std::uint32_t state = w >> 30;
        if (state >= kAcked) continue;
        if (state == kInFlight) --in_flight_;
        w = (w & kTimeMask) | (std::uint32_t{kGone} << 30);
        --unacked_;
        ++counters_.lost_io;
        finish_done(q);
      }
      pop_done();
    }
    s = std::max(s, seg_last + 1);
  }
  res.next_seq = std::max(std::min(s, to_seq), from_seq);
  return res;
}

// ---------------------------------------------------------------------------------------------

SpoolStats Spool::stats() const {
  SpoolStats st = counters_;
  st.bytes = total_bytes_;
  st.segments = segments_.size();
  st.records = total_records_ + buf_records_;
  st.unacked = unacked_;
  st.in_flight = in_flight_;
  if (!window_.empty()) {
    const std::uint32_t now = now_rel_s();
    const std::uint32_t t = window_.front() & kTimeMask;
    st.oldest_unacked_age_s = now > t ? now - t : 0;
  }
  st.last_seq = last_seq();
  st.written_seq = written_seq_;
  st.durable_seq = durable_seq_;
  st.low_watermark = base_seq_;
  st.full = full_;
  return st;
}

void Spool::close() {
  if (closed_) return;
  if (current_open()) {
    flush();
    if (config_.fsync != FsyncPolicy::kNever && written_seq_ > durable_seq_) sync_current();
    ::close(cur_fd_);
    cur_fd_ = -1;
    // The next start appends to a new segment, so a fully acknowledged one can go now.
    if (!segments_.empty()) maybe_delete(segments_.size() - 1);
  }
  if (checkpoint_dirty_) write_checkpoint();
  closed_ = true;
  if (lock_fd_ >= 0) ::close(lock_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
  lock_fd_ = dir_fd_ = -1;
}

}  // namespace sluice
