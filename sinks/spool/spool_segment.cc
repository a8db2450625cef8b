#include "sinks/spool/spool_segment.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sinks/spool/crc32c.h"

namespace sluice {
namespace {

constexpr char kMagic[8] = {'S', 'L', 'S', 'P', 'O', 'O', 'L', '\0'};
constexpr std::size_t kNameDigits = 20;
constexpr std::string_view kSuffix = ".spool";
// Bytes covered by the length field that are not key, id or payload: seq, time, kind, lengths.
constexpr std::size_t kFixedBodyBytes = kFrameHeaderBytes - 8;
constexpr std::size_t kReadChunk = 1 << 20;

// Explicit little-endian encoding, so a spool written on one machine reads on any other.
void put16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v);
  p[1] = static_cast<char>(v >> 8);
}
void put32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void put64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
std::uint16_t get16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint16_t>(u[0] | (u[1] << 8));
}
std::uint32_t get32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}
std::uint64_t get64(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}

}  // namespace

std::string segment_file_name(std::uint64_t first_seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu.spool", static_cast<unsigned long long>(first_seq));
  return buf;
}

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != kNameDigits + kSuffix.size() || name.substr(kNameDigits) != kSuffix) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < kNameDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (v == 0) return std::nullopt;
  return v;
}

void encode_segment_header(std::uint64_t first_seq, char (&out)[kSegmentHeaderBytes]) {
  std::memcpy(out, kMagic, 8);
  put32(out + 8, kSpoolFormatVersion);
  put32(out + 12, kSegmentHeaderBytes);
  put64(out + 16, first_seq);
  put32(out + 24, 0);
  put32(out + 28, crc32c(out, 28));
}

std::optional<std::uint64_t> decode_segment_header(const char* data, std::size_t n) {
  if (n < kSegmentHeaderBytes) return std::nullopt;
  if (std::memcmp(data, kMagic, 8) != 0) return std::nullopt;
  if (get32(data + 28) != crc32c(data, 28)) return std::nullopt;
  if (get32(data + 8) != kSpoolFormatVersion || get32(data + 12) != kSegmentHeaderBytes) {
    return std::nullopt;
  }
  const std::uint64_t first = get64(data + 16);
  if (first == 0) return std::nullopt;
  return first;
}

std::size_t frame_size(const Record& r) {
  if (r.key.size() > kMaxKeyBytes || r.id.size() > kMaxIdBytes) return 0;
  const std::size_t n = kFrameHeaderBytes + r.key.size() + r.id.size() + r.json.size();
  // The sum cannot overflow: each part is bounded by the size of an existing string.
  return n > kMaxFrameBytes ? 0 : n;
}

void append_frame(std::string& out, std::uint64_t seq, std::int64_t unix_us, const Record& r) {
  const std::size_t total = frame_size(r);
  const std::size_t at = out.size();
  out.resize(at + total);
  char* p = out.data() + at;
  put32(p, static_cast<std::uint32_t>(total - 8));
  put64(p + 8, seq);
  put64(p + 16, static_cast<std::uint64_t>(unix_us));
  p[24] = r.kind == Record::Kind::kAlert ? 1 : 0;
  put16(p + 25, static_cast<std::uint16_t>(r.key.size()));
  put16(p + 27, static_cast<std::uint16_t>(r.id.size()));
  char* q = p + kFrameHeaderBytes;
  std::memcpy(q, r.key.data(), r.key.size());
  q += r.key.size();
  std::memcpy(q, r.id.data(), r.id.size());
  q += r.id.size();
  std::memcpy(q, r.json.data(), r.json.size());
  put32(p + 4, crc32c(p + 8, total - 8));
}

FrameStatus decode_frame(const char* p, std::size_t n, FrameView& out) {
  if (n < 8) return FrameStatus::kIncomplete;
  const std::uint32_t len = get32(p);
  // A length that cannot be right is corruption, not a torn write: checking it before waiting
  // for more bytes keeps a garbage length from being read as "the rest is missing".
  if (len < kFixedBodyBytes || len > kMaxFrameBytes - 8) return FrameStatus::kCorrupt;
  if (n < 8 + static_cast<std::size_t>(len)) return FrameStatus::kIncomplete;
  if (get32(p + 4) != crc32c(p + 8, len)) return FrameStatus::kCorrupt;
  const unsigned char kind = static_cast<unsigned char>(p[24]);
  const std::size_t key_len = get16(p + 25);
  const std::size_t id_len = get16(p + 27);
  if (kind > 1 || kFixedBodyBytes + key_len + id_len > len) return FrameStatus::kCorrupt;
  out.seq = get64(p + 8);
  out.unix_us = static_cast<std::int64_t>(get64(p + 16));
  out.kind = kind == 1 ? Record::Kind::kAlert : Record::Kind::kEvent;
  const char* q = p + kFrameHeaderBytes;
  out.key = std::string_view(q, key_len);
  out.id = std::string_view(q + key_len, id_len);
  out.payload = std::string_view(q + key_len + id_len, len - kFixedBodyBytes - key_len - id_len);
  out.frame_bytes = 8 + static_cast<std::size_t>(len);
  return FrameStatus::kOk;
}

RecordPtr to_record(const FrameView& f) {
  auto r = std::make_shared<Record>();
  r->kind = f.kind;
  r->key.assign(f.key);
  r->id.assign(f.id);
  r->json.assign(f.payload);
  return r;
}

SegmentReader::SegmentReader(int fd, std::uint64_t offset, std::uint64_t end, std::uint64_t min_seq)
    : fd_(fd), offset_(offset), end_(end), next_min_seq_(min_seq) {}

// Makes at least `need` unread bytes available in buf_[pos_..len_) if the file range has them.
// Returns false on a read error.
bool SegmentReader::fill(std::size_t need) {
  if (len_ - pos_ >= need) return true;
  const std::uint64_t left = end_ - offset_;
  if (left <= len_ - pos_) return true;  // nothing more to read: the caller sees a short buffer
  // Compact, then read a chunk (or the whole frame if it is bigger).
  if (pos_ > 0 && len_ > pos_) std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
  len_ -= pos_;
  pos_ = 0;
  const std::size_t want =
      static_cast<std::size_t>(std::min<std::uint64_t>(left, std::max(need, kReadChunk)));
  if (buf_.size() < want) buf_.resize(want);
  while (len_ < want) {
    const ssize_t n =
        ::pread(fd_, buf_.data() + len_, want - len_, static_cast<off_t>(offset_ + len_));
    if (n < 0) {
      if (errno == EINTR) continue;
      errno_ = errno;
      return false;
    }
    if (n == 0) break;  // the file is shorter than `end`: seen as a torn record
    len_ += static_cast<std::size_t>(n);
  }
  return true;
}

SegmentReader::Status SegmentReader::next(FrameView& out) {
  if (offset_ >= end_) return Status::kEnd;
  if (!fill(8)) {
    reason_ = "read error";
    return Status::kBad;
  }
  FrameStatus st = decode_frame(buf_.data() + pos_, len_ - pos_, out);
  if (st == FrameStatus::kIncomplete && len_ - pos_ >= 8) {
    if (!fill(8 + get32(buf_.data() + pos_))) {
      reason_ = "read error";
      return Status::kBad;
    }
    st = decode_frame(buf_.data() + pos_, len_ - pos_, out);
  }
  if (st == FrameStatus::kIncomplete) {
    reason_ = "torn record";
    return Status::kBad;
  }
  if (st == FrameStatus::kCorrupt) {
    reason_ = "bad length, CRC or kind";
    return Status::kBad;
  }
  if (out.seq < next_min_seq_) {
    reason_ = "sequence number out of order";
    return Status::kBad;
  }
  next_min_seq_ = out.seq + 1;
  pos_ += out.frame_bytes;
  offset_ += out.frame_bytes;
  return Status::kRecord;
}

}  // namespace sluice
