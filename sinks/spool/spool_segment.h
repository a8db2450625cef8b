// SpoolSegment: the on-disk format of one spool segment file, and a validating reader.
//
// File name: the first sequence number of the segment, 20 decimal digits, then ".spool"
// (00000000000000000001.spool), so names sort in sequence order.
//
// Layout (all integers little-endian):
//
//   header, 32 bytes
//     0  8  magic "SLSPOOL\0"
//     8  4  format version (1)
//    12  4  header length (32); a later version may grow the header
//    16  8  first sequence number (equal to the one in the file name)
//    24  4  reserved, 0
//    28  4  CRC-32C of bytes 0..27
//   then records, back to back:
//     0  4  length L: bytes after the CRC field (21 + K + I + P)
//     4  4  CRC-32C of those L bytes
//     8  8  sequence number
//    16  8  append time, microseconds since the Unix epoch
//    24  1  kind: 0 event, 1 alert (Record::Kind)
//    25  2  key length K
//    27  2  id length I
//    29  K  key (Record::key, the partition key)
//       I   id (Record::id, the event or alert id)
//       P   payload (Record::json)
//
// Contract
//  * A record is valid when its length is within [21 + K + I, kMaxFrameBytes - 8], all its bytes
//    are present, the CRC matches, the kind is known and its sequence number is greater than
//    the previous record's (and not below the header's first sequence number). Sequence numbers
//    within a segment increase but may skip values (records lost to a failed write).
//  * SegmentReader stops at the first invalid record and reports its offset: everything before it
//    is intact, nothing from there on can be trusted (the framing is lost), so the owner
//    truncates the file there.
//  * All functions are pure or work on a caller-owned descriptor; no global state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sinks/sink.h"

namespace sluice {

inline constexpr std::size_t kSegmentHeaderBytes = 32;
inline constexpr std::size_t kFrameHeaderBytes = 29;
inline constexpr std::uint32_t kSpoolFormatVersion = 1;
// Upper bound on one framed record. Events are a few KiB; the bound keeps a corrupt length
// field from making the reader allocate gigabytes.
inline constexpr std::size_t kMaxFrameBytes = 16u << 20;
inline constexpr std::size_t kMaxKeyBytes = 0xFFFF;
inline constexpr std::size_t kMaxIdBytes = 0xFFFF;

std::string segment_file_name(std::uint64_t first_seq);
// The first sequence number if `name` is exactly 20 digits + ".spool" (and not 0).
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name);

void encode_segment_header(std::uint64_t first_seq, char (&out)[kSegmentHeaderBytes]);
// The first sequence number, or nullopt if the bytes are not a valid version-1 header.
std::optional<std::uint64_t> decode_segment_header(const char* data, std::size_t n);

// Bytes the framed record takes, or 0 if it cannot be framed (key or id longer than 65535
// bytes, or the frame would exceed kMaxFrameBytes).
std::size_t frame_size(const Record& record);
// Appends the frame to `out`. Precondition: frame_size(record) != 0.
void append_frame(std::string& out, std::uint64_t seq, std::int64_t unix_us, const Record& record);

// A decoded record; the views point into the reader's buffer and are valid until the next call.
struct FrameView {
  std::uint64_t seq = 0;
  std::int64_t unix_us = 0;
  Record::Kind kind = Record::Kind::kEvent;
  std::string_view key;
  std::string_view id;
  std::string_view payload;
  std::size_t frame_bytes = 0;
};

enum class FrameStatus {
  kOk,
  kIncomplete,  // fewer bytes than the frame needs (at the end of the file: a torn write)
  kCorrupt,     // length out of bounds, CRC mismatch or unknown kind
};
// Decodes one frame at data[0..n). Does not check sequence order.
FrameStatus decode_frame(const char* data, std::size_t n, FrameView& out);

RecordPtr to_record(const FrameView& frame);

// Reads records sequentially from an open segment file with pread(2), in chunks of ~1 MiB.
class SegmentReader {
 public:
  enum class Status {
    kRecord,  // `out` holds the next record
    kEnd,     // clean end: offset() == end
    kBad,     // invalid or torn record at offset(); see reason() and read_errno()
  };

  // Reads [offset, end) of `fd` (not owned). `min_seq`: the first record's sequence number must
  // be >= min_seq, and every later one greater than its predecessor.
  SegmentReader(int fd, std::uint64_t offset, std::uint64_t end, std::uint64_t min_seq);

  Status next(FrameView& out);
  // Offset just past the last record returned (where the bad record starts after kBad).
  std::uint64_t offset() const { return offset_; }
  const char* reason() const { return reason_; }
  int read_errno() const { return errno_; }

 private:
  bool fill(std::size_t need);

  int fd_;
  std::uint64_t offset_;  // file offset of buf_[pos_]
  std::uint64_t end_;
  std::uint64_t next_min_seq_;
  std::vector<char> buf_;
  std::size_t pos_ = 0;
  std::size_t len_ = 0;
  const char* reason_ = "";
  int errno_ = 0;
};

}  // namespace sluice
