// Spool: opening an existing directory (recovery) and the ack checkpoint.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <stdexcept>

#include "sinks/spool/crc32c.h"
#include "sinks/spool/spool.h"
#include "sinks/spool/spool_internal.h"
#include "sinks/spool/spool_segment.h"

namespace sluice {

using namespace spool_internal;

// ---------------------------------------------------------------------------------------------
// Recovery

// Checkpoint layout (little-endian): magic "SLSPACK1", u64 lowest unacknowledged seq, u32 range
// count R, R x (u64 first, u64 last) acknowledged ranges above it, u32 CRC-32C of all before.
void Spool::read_checkpoint() {
  const int fd = ::openat(dir_fd_, kCheckpointName, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  std::string buf;
  if (::fstat(fd, &st) == 0 && st.st_size >= 24 &&
      st.st_size <= static_cast<off_t>(24 + 16 * kMaxCheckpointRanges)) {
    buf.resize(static_cast<std::size_t>(st.st_size));
    if (::pread(fd, buf.data(), buf.size(), 0) != static_cast<ssize_t>(buf.size())) buf.clear();
  }
  ::close(fd);
  const std::size_t n = buf.size();
  const std::uint64_t ranges = n >= 24 ? get_le(buf.data() + 16, 4) : 0;
  // A bad checkpoint only costs duplicates (everything is produced again), so it is ignored.
  if (n < 24 || std::memcmp(buf.data(), kCheckpointMagic, 8) != 0 || n != 24 + 16 * ranges ||
      get_le(buf.data() + n - 4, 4) != crc32c(buf.data(), n - 4)) {
    std::fprintf(stderr, "sluice spool: ignoring unreadable %s in '%s'\n", kCheckpointName,
                 config_.dir.c_str());
    return;
  }
  checkpoint_base_ = get_le(buf.data() + 8, 8);
  for (std::uint64_t i = 0; i < ranges; ++i) {
    const char* p = buf.data() + 20 + 16 * i;
    const SeqRange r{get_le(p, 8), get_le(p + 8, 8)};
    // Ranges are written sorted and disjoint; anything else is not trusted.
    if (r.first > r.last || r.first <= checkpoint_base_ ||
        (!checkpoint_ranges_.empty() && r.first <= checkpoint_ranges_.back().last)) {
      checkpoint_ranges_.clear();
      break;
    }
    checkpoint_ranges_.push_back(r);
  }
}

bool Spool::checkpointed_as_acked(std::uint64_t seq) const {
  if (seq < checkpoint_base_) return true;
  auto it = std::upper_bound(checkpoint_ranges_.begin(), checkpoint_ranges_.end(), seq,
                             [](std::uint64_t s, const SeqRange& r) { return s < r.first; });
  return it != checkpoint_ranges_.begin() && std::prev(it)->contains(seq);
}

void Spool::write_checkpoint() {
  std::string buf(kCheckpointMagic, 8);
  put_le(buf, base_seq_, 8);
  put_le(buf, 0, 4);
  std::uint32_t ranges = 0;
  // Runs of finished records above the lowest unacknowledged one (acks out of order).
  for (std::size_t i = 0; i < window_.size() && ranges < kMaxCheckpointRanges;) {
    if ((window_[i] >> 30) < kAcked) {
      ++i;
      continue;
    }
    const std::size_t first = i;
    while (i < window_.size() && (window_[i] >> 30) >= kAcked) ++i;
    put_le(buf, base_seq_ + first, 8);
    put_le(buf, base_seq_ + i - 1, 8);
    ++ranges;
  }
  for (int b = 0; b < 4; ++b) buf[16 + b] = static_cast<char>(ranges >> (8 * b));
  put_le(buf, crc32c(buf.data(), buf.size()), 4);

  bool ok = false;
  const int fd =
      ::openat(dir_fd_, kCheckpointTmpName, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd >= 0) {
    ok = do_pwrite(fd, buf.data(), buf.size(), 0) == static_cast<ssize_t>(buf.size()) &&
         (config_.fsync == FsyncPolicy::kNever || do_fdatasync(fd) == 0);
    ::close(fd);
    // rename() replaces the old file atomically: a crash leaves the old or the new checkpoint.
    ok = ok && ::renameat(dir_fd_, kCheckpointTmpName, dir_fd_, kCheckpointName) == 0;
  }
  checkpoint_at_ = Clock::now();
  if (!ok) {
    ++counters_.write_errors;
    ::unlinkat(dir_fd_, kCheckpointTmpName, 0);
    return;
  }
  checkpoint_dirty_ = false;
}

void Spool::move_aside(const std::string& name, const char* why) {
  ++counters_.corrupt_segments;
  const std::string aside = name + ".corrupt";
  std::fprintf(stderr, "sluice spool: moving segment '%s/%s' aside as %s: %s\n",
               config_.dir.c_str(), name.c_str(), aside.c_str(), why);
  if (::renameat(dir_fd_, name.c_str(), dir_fd_, aside.c_str()) != 0) {
    ++counters_.write_errors;
    std::fprintf(stderr, "sluice spool: cannot rename '%s': %s\n", name.c_str(),
                 errno_text(errno).c_str());
  }
}

void Spool::recover() {
  read_checkpoint();
  ::unlinkat(dir_fd_, kCheckpointTmpName, 0);

  std::vector<std::pair<std::uint64_t, std::string>> names;
  {
    const int fd = ::dup(dir_fd_);
    DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
    if (!d) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("spool: cannot list dir '" + config_.dir + "'");
    }
    while (const dirent* e = ::readdir(d)) {
      if (auto first = parse_segment_file_name(e->d_name)) names.emplace_back(*first, e->d_name);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());

  base_seq_ = 0;  // set by the first record found
  for (const auto& [first, name] : names) recover_segment(name, first);

  // Never hand out a number that may still be on disk or that the checkpoint already passed
  // (after a power loss the files can be older than the checkpoint).
  next_seq_ = std::max(next_seq_, std::max<std::uint64_t>(checkpoint_base_, 1));
  if (!checkpoint_ranges_.empty()) {
    next_seq_ = std::max(next_seq_, checkpoint_ranges_.back().last + 1);
  }
  if (window_.empty()) base_seq_ = next_seq_;
  while (base_seq_ + window_.size() < next_seq_) window_.push_back(std::uint32_t{kGone} << 30);
  written_seq_ = durable_seq_ = next_seq_ - 1;
  counters_.recovered_records = unacked_;
  pop_done();
  for (std::size_t i = segments_.size(); i-- > 0;) maybe_delete(i);
  checkpoint_ranges_.clear();
  checkpoint_ranges_.shrink_to_fit();
  checkpoint_dirty_ = base_seq_ > std::max<std::uint64_t>(checkpoint_base_, 1);
  checkpoint_at_ = Clock::now();
}

void Spool::recover_segment(const std::string& name, std::uint64_t first_seq) {
  const int fd = ::openat(dir_fd_, name.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    ++counters_.write_errors;
    std::fprintf(stderr, "sluice spool: cannot open segment '%s/%s': %s (left in place)\n",
                 config_.dir.c_str(), name.c_str(), errno_text(errno).c_str());
    return;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) st.st_size = 0;
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  if (size == 0) {
    // Created, then the process died before the header was written: nothing was in it.
    ::close(fd);
    ::unlinkat(dir_fd_, name.c_str(), 0);
    return;
  }
  char hdr[kSegmentHeaderBytes];
  const ssize_t n = ::pread(fd, hdr, sizeof hdr, 0);
  const auto header_seq = decode_segment_header(hdr, n > 0 ? static_cast<std::size_t>(n) : 0);
  const char* why = nullptr;
  if (!header_seq || *header_seq != first_seq) {
    why = "unreadable header";
  } else if (!segments_.empty() &&
             first_seq <= std::max(segments_.back().last_seq, segments_.back().first_seq)) {
    why = "sequence numbers overlap the previous segment";
  }
  if (why) {
    ::close(fd);
    move_aside(name, why);
    // Its records are not replayed, but keep its numbers unused so logs never show a number
    // for two different records.
    next_seq_ = std::max(next_seq_, first_seq);
    return;
  }

  Segment seg;
  seg.first_seq = first_seq;
  seg.path = name;
  SegmentReader reader(fd, kSegmentHeaderBytes, size, first_seq);
  FrameView f;
  SegmentReader::Status status;
  while ((status = reader.next(f)) == SegmentReader::Status::kRecord) {
    if (seg.records % kIndexEvery == 0) {
      seg.index.emplace_back(f.seq, reader.offset() - f.frame_bytes);
    }
    ++seg.records;
    seg.last_seq = f.seq;
    if (window_.empty()) base_seq_ = f.seq;
    while (base_seq_ + window_.size() < f.seq) window_.push_back(std::uint32_t{kGone} << 30);
    const std::int64_t rel = f.unix_us / 1000000 - time_origin_s_;
    const auto t = static_cast<std::uint32_t>(std::clamp<std::int64_t>(rel, 0, kTimeMask));
    if (checkpointed_as_acked(f.seq)) {
      window_.push_back((std::uint32_t{kAcked} << 30) | t);
      ++seg.done;
    } else {
      window_.push_back((std::uint32_t{kPending} << 30) | t);
      ++unacked_;
    }
  }
  seg.bytes = reader.offset();
  if (status == SegmentReader::Status::kBad) {
    const std::uint64_t cut = size - reader.offset();
    if (reader.read_errno() != 0) {
      // A read error says nothing about the bytes: keep them for a later start (or a human).
      ++counters_.replay_errors;
      std::fprintf(stderr,
                   "sluice spool: read error in '%s/%s' at offset %llu: %s; %llu bytes after it "
                   "are skipped, not cut\n",
                   config_.dir.c_str(), name.c_str(),
                   static_cast<unsigned long long>(reader.offset()),
                   errno_text(reader.read_errno()).c_str(), static_cast<unsigned long long>(cut));
    } else {
      ++counters_.corrupt_tail_cuts;
      counters_.bytes_cut += cut;
      std::fprintf(stderr, "sluice spool: cutting %llu bytes at offset %llu of '%s/%s': %s\n",
                   static_cast<unsigned long long>(cut),
                   static_cast<unsigned long long>(reader.offset()), config_.dir.c_str(),
                   name.c_str(), reader.reason());
      if (::ftruncate(fd, static_cast<off_t>(reader.offset())) != 0) {
        // The bytes stay, but nothing reads past seg.bytes and nothing appends to this file.
        ++counters_.write_errors;
      }
    }
  }
  ::close(fd);
  next_seq_ = std::max({next_seq_, first_seq, seg.last_seq + 1});
  total_bytes_ += seg.bytes;
  total_records_ += seg.records;
  segments_.push_back(std::move(seg));
}

}  // namespace sluice
