#include "sinks/spool/spool_segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>

#include "sinks/spool/crc32c.h"
#include "tests/sinks/spool/spool_test_util.h"

namespace sluice {
namespace {

using spool_test::make_record;

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 (iSCSI) B.4 and the usual check value.
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  std::string inc(32, '\0');
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c(inc), 0x46DD794Eu);
}

TEST(Crc32cTest, HardwareAndPortableAgreeAndExtend) {
  std::mt19937 rng(7);
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 1000u, 4097u}) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    const std::uint32_t whole = crc32c(s);
    EXPECT_EQ(crc32c_portable(0, s.data(), s.size()), whole) << n;
    for (std::size_t cut : {std::size_t{0}, n / 3, n}) {
      EXPECT_EQ(crc32c_extend(crc32c(s.data(), cut), s.data() + cut, n - cut), whole);
    }
  }
}

TEST(SpoolSegmentTest, FileNames) {
  EXPECT_EQ(segment_file_name(1), "00000000000000000001.spool");
  EXPECT_EQ(segment_file_name(18446744073709551615ull), "18446744073709551615.spool");
  EXPECT_EQ(parse_segment_file_name("00000000000000000042.spool"), 42u);
  EXPECT_FALSE(parse_segment_file_name("00000000000000000000.spool"));  // 0 is never a seq
  EXPECT_FALSE(parse_segment_file_name("0000000000000000042.spool"));   // 19 digits
  EXPECT_FALSE(parse_segment_file_name("00000000000000000042.spool.corrupt"));
  EXPECT_FALSE(parse_segment_file_name("0000000000000000004x.spool"));
  EXPECT_FALSE(parse_segment_file_name("99999999999999999999.spool"));  // overflows u64
}

TEST(SpoolSegmentTest, HeaderRoundTripAndRejections) {
  char h[kSegmentHeaderBytes];
  encode_segment_header(77, h);
  EXPECT_EQ(decode_segment_header(h, sizeof h), 77u);
  EXPECT_FALSE(decode_segment_header(h, sizeof h - 1));
  for (std::size_t i = 0; i < sizeof h; ++i) {
    char bad[kSegmentHeaderBytes];
    std::memcpy(bad, h, sizeof h);
    bad[i] ^= 0x10;
    EXPECT_FALSE(decode_segment_header(bad, sizeof bad)) << "flipped byte " << i;
  }
}

TEST(SpoolSegmentTest, FrameRoundTrip) {
  auto r = make_record("ev-1", 300, Record::Kind::kAlert, "tenant-\xff\x01");
  std::string buf;
  append_frame(buf, 12345, 1700000000123456, *r);
  ASSERT_EQ(buf.size(), frame_size(*r));
  EXPECT_EQ(buf.size(), kFrameHeaderBytes + r->key.size() + r->id.size() + r->json.size());
  FrameView f;
  ASSERT_EQ(decode_frame(buf.data(), buf.size(), f), FrameStatus::kOk);
  EXPECT_EQ(f.seq, 12345u);
  EXPECT_EQ(f.unix_us, 1700000000123456);
  EXPECT_EQ(f.kind, Record::Kind::kAlert);
  EXPECT_EQ(f.key, r->key);
  EXPECT_EQ(f.id, r->id);
  EXPECT_EQ(f.payload, r->json);
  EXPECT_EQ(f.frame_bytes, buf.size());
  auto back = to_record(f);
  EXPECT_EQ(back->json, r->json);

  // Every prefix is incomplete, never corrupt or OK.
  for (std::size_t n = 0; n < buf.size(); ++n) {
    EXPECT_EQ(decode_frame(buf.data(), n, f), FrameStatus::kIncomplete) << n;
  }
  // Every flipped bit after the length field is caught by the CRC (or the kind check).
  for (std::size_t i = 4; i < buf.size(); ++i) {
    std::string bad = buf;
    bad[i] ^= 0x01;
    EXPECT_EQ(decode_frame(bad.data(), bad.size(), f), FrameStatus::kCorrupt) << i;
  }
}

TEST(SpoolSegmentTest, FrameSizeLimits) {
  Record r;
  r.key.assign(kMaxKeyBytes + 1, 'k');
  EXPECT_EQ(frame_size(r), 0u);
  r.key = "k";
  r.id.assign(kMaxIdBytes + 1, 'i');
  EXPECT_EQ(frame_size(r), 0u);
  r.id = "i";
  r.json.assign(kMaxFrameBytes, 'x');
  EXPECT_EQ(frame_size(r), 0u);
  r.json.assign(kMaxFrameBytes - kFrameHeaderBytes - 2, 'x');
  EXPECT_EQ(frame_size(r), kMaxFrameBytes);
}

TEST(SpoolSegmentTest, GarbageLengthIsCorruptNotIncomplete) {
  std::string buf(8, '\0');
  buf[0] = '\xff';
  buf[1] = '\xff';
  buf[2] = '\xff';
  buf[3] = '\x7f';  // 2 GiB
  FrameView f;
  EXPECT_EQ(decode_frame(buf.data(), buf.size(), f), FrameStatus::kCorrupt);
  std::memset(buf.data(), 0, 4);  // shorter than the fixed fields
  EXPECT_EQ(decode_frame(buf.data(), buf.size(), f), FrameStatus::kCorrupt);
}

class SegmentReaderTest : public spool_test::TempDirTest {};

TEST_F(SegmentReaderTest, ReadsRecordsAndStopsAtTornTail) {
  std::string file(kSegmentHeaderBytes, '\0');
  char h[kSegmentHeaderBytes];
  encode_segment_header(10, h);
  file.assign(h, sizeof h);
  std::vector<std::size_t> ends;
  for (int i = 0; i < 5; ++i) {
    // Big records so the reader has to refill its buffer across chunk boundaries.
    append_frame(file, 10 + i, 0, *make_record("r" + std::to_string(i), 700 << 10));
    ends.push_back(file.size());
  }
  const std::size_t full = file.size();
  file.resize(full - 100);  // tear the last record
  const auto path = dir_ / "seg";
  spool_test::write_file(path, file);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  SegmentReader rd(fd, kSegmentHeaderBytes, file.size(), 10);
  FrameView f;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(rd.next(f), SegmentReader::Status::kRecord) << i;
    EXPECT_EQ(f.seq, 10u + i);
    EXPECT_EQ(f.id, "r" + std::to_string(i));
    EXPECT_EQ(rd.offset(), ends[i]);
  }
  EXPECT_EQ(rd.next(f), SegmentReader::Status::kBad);
  EXPECT_EQ(rd.offset(), ends[3]);
  EXPECT_STREQ(rd.reason(), "torn record");
  ::close(fd);
}

TEST_F(SegmentReaderTest, RejectsSequenceGoingBackwards) {
  char h[kSegmentHeaderBytes];
  encode_segment_header(5, h);
  std::string file(h, sizeof h);
  append_frame(file, 5, 0, *make_record("a"));
  append_frame(file, 7, 0, *make_record("b"));  // gaps are allowed
  const std::size_t good = file.size();
  append_frame(file, 6, 0, *make_record("c"));  // going back is not
  const auto path = dir_ / "seg";
  spool_test::write_file(path, file);
  const int fd = ::open(path.c_str(), O_RDONLY);
  SegmentReader rd(fd, kSegmentHeaderBytes, file.size(), 5);
  FrameView f;
  EXPECT_EQ(rd.next(f), SegmentReader::Status::kRecord);
  EXPECT_EQ(rd.next(f), SegmentReader::Status::kRecord);
  EXPECT_EQ(rd.next(f), SegmentReader::Status::kBad);
  EXPECT_EQ(rd.offset(), good);
  ::close(fd);

  // The first record may not be below the header's first sequence number either.
  const int fd2 = ::open(path.c_str(), O_RDONLY);
  SegmentReader rd2(fd2, kSegmentHeaderBytes, file.size(), 6);
  EXPECT_EQ(rd2.next(f), SegmentReader::Status::kBad);
  ::close(fd2);
}

}  // namespace
}  // namespace sluice
