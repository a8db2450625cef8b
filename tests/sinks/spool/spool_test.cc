#include "sinks/spool/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sinks/spool/spool_segment.h"
#include "tests/sinks/spool/spool_test_util.h"

namespace sluice {
namespace {

using namespace spool_test;
using Status = AppendResult::Status;

class SpoolTest : public TempDirTest {
 protected:
  // Appends n records "<prefix><i>" and returns their sequence numbers.
  std::vector<std::uint64_t> append_n(Spool& s, int n, std::size_t bytes = 100,
                                      const std::string& prefix = "r") {
    std::vector<std::uint64_t> seqs;
    for (int i = 0; i < n; ++i) {
      const auto r = s.append(*make_record(prefix + std::to_string(i), bytes));
      EXPECT_EQ(r.status, Status::kAppended);
      seqs.push_back(r.seq);
    }
    return seqs;
  }
};

TEST_F(SpoolTest, RoundTripKeepsEveryFieldAndOrder) {
  std::vector<RecordPtr> in;
  {
    Spool s(config());
    for (int i = 0; i < 100; ++i) {
      auto r = make_record("id-" + std::to_string(i), 50 + i * 13,
                           i % 3 ? Record::Kind::kEvent : Record::Kind::kAlert,
                           "tenant-" + std::to_string(i % 4));
      in.push_back(r);
      const auto a = s.append(*r);
      ASSERT_EQ(a.status, Status::kAppended);
      EXPECT_EQ(a.seq, static_cast<std::uint64_t>(i + 1));
    }
    // replay() flushes the buffer first, so records are readable before any commit.
    const auto got = replay_all(s);
    ASSERT_EQ(got.records.size(), in.size());
    EXPECT_EQ(s.stats().appended, 100u);
  }
  Spool s(config());
  const auto got = replay_all(s);
  ASSERT_EQ(got.records.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(got.seqs[i], i + 1);
    EXPECT_EQ(got.records[i]->kind, in[i]->kind);
    EXPECT_EQ(got.records[i]->id, in[i]->id);
    EXPECT_EQ(got.records[i]->key, in[i]->key);
    EXPECT_EQ(got.records[i]->json, in[i]->json);
  }
  EXPECT_EQ(s.stats().recovered_records, 100u);
  EXPECT_EQ(s.stats().corrupt_tail_cuts, 0u);
  // New records continue the numbering.
  EXPECT_EQ(s.append(*make_record("next")).seq, 101u);
}

TEST_F(SpoolTest, EmptyAndOddRecords) {
  Spool s(config());
  Record empty;  // no key, no id, no payload
  ASSERT_EQ(s.append(empty).status, Status::kAppended);
  Record binary;
  binary.json = std::string("a\0b\n\r\xff", 6);
  ASSERT_EQ(s.append(binary).status, Status::kAppended);
  Record big;
  big.key.assign(70000, 'k');
  EXPECT_EQ(s.append(big).status, Status::kTooLarge);
  EXPECT_EQ(s.stats().too_large, 1u);
  const auto got = replay_all(s);
  ASSERT_EQ(got.records.size(), 2u);
  EXPECT_EQ(got.records[0]->json, "");
  EXPECT_EQ(got.records[1]->json, binary.json);
}

TEST_F(SpoolTest, RotatesAcrossSegmentsNamedByFirstSeq) {
  auto c = config(4096);
  {
    Spool s(c);
    append_n(s, 20, 1000);  // ~1 KiB frames: 3 per 4 KiB segment
    s.commit();
    EXPECT_EQ(s.stats().segments, 7u);
    EXPECT_LE(s.stats().bytes, 7u * 4096);
  }
  const auto files = segment_files(dir_);
  ASSERT_EQ(files.size(), 7u);
  EXPECT_EQ(files[0], "00000000000000000001.spool");
  EXPECT_EQ(files[1], "00000000000000000004.spool");
  for (const auto& f : files) {
    EXPECT_LE(fs::file_size(dir_ / f), 4096u) << f;
  }
  Spool s(c);
  const auto got = replay_all(s);
  ASSERT_EQ(got.seqs.size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(got.records[i]->id, "r" + std::to_string(i));
  // Replay from the middle starts at the right record (index lookup inside a segment).
  const auto tail = replay_all(s, 11);
  ASSERT_EQ(tail.seqs.size(), 10u);
  EXPECT_EQ(tail.seqs.front(), 11u);
}

TEST_F(SpoolTest, RecordLargerThanSegmentGetsItsOwnSegment) {
  Spool s(config(4096));
  append_n(s, 1, 100);
  append_n(s, 1, 10000, "big");
  append_n(s, 1, 100, "after");
  s.commit();
  EXPECT_EQ(s.stats().segments, 3u);
  EXPECT_EQ(replay_all(s).ids(), (std::vector<std::string>{"r0", "big0", "after0"}));
}

TEST_F(SpoolTest, AckDeletesFullyAckedSegmentsButNeverTheCurrentOne) {
  Spool s(config(4096));
  const auto seqs = append_n(s, 12, 1000);  // segments [1-3] [4-6] [7-9] [10-12], current last
  s.commit();
  ASSERT_EQ(segment_files(dir_).size(), 4u);
  for (std::uint64_t q : seqs) s.ack(q);
  EXPECT_EQ(segment_files(dir_), (std::vector<std::string>{"00000000000000000010.spool"}));
  auto st = s.stats();
  EXPECT_EQ(st.segments, 1u);
  EXPECT_EQ(st.unacked, 0u);
  EXPECT_EQ(st.acked, 12u);
  EXPECT_EQ(st.segments_deleted, 3u);
  EXPECT_EQ(st.low_watermark, 13u);
  EXPECT_EQ(replay_all(s).seqs.size(), 0u);
  // The next append rotates away from the full, acknowledged current segment and deletes it.
  append_n(s, 1, 1000, "n");
  s.commit();
  EXPECT_EQ(segment_files(dir_), (std::vector<std::string>{"00000000000000000013.spool"}));
  s.close();
  EXPECT_EQ(segment_files(dir_).size(), 1u);  // n0 is not acknowledged: its segment stays
}

TEST_F(SpoolTest, CloseWithEverythingAckedLeavesNoSegments) {
  {
    Spool s(config());
    for (std::uint64_t q : append_n(s, 10)) s.ack(q);  // ack() ignores unwritten records...
    s.flush();
    EXPECT_EQ(s.stats().acked, 0u);
    for (std::uint64_t q = 1; q <= 10; ++q) s.ack(q);  // ...so acknowledge after the write
    EXPECT_EQ(s.stats().acked, 10u);
  }
  EXPECT_TRUE(segment_files(dir_).empty());
  Spool s(config());
  EXPECT_EQ(s.append(*make_record("x")).seq, 11u);  // numbering survives via the checkpoint
}

TEST_F(SpoolTest, OutOfOrderAcks) {
  Spool s(config(4096));
  append_n(s, 12, 1000);
  s.commit();
  // Acknowledge the second segment [4-6] first: it goes although [1-3] is still unacked.
  for (std::uint64_t q : {6, 4, 5}) s.ack(q);
  EXPECT_EQ(segment_files(dir_).size(), 3u);
  EXPECT_FALSE(fs::exists(dir_ / segment_file_name(4)));
  EXPECT_EQ(s.low_watermark(), 1u);
  // Duplicates and unknown numbers are ignored.
  s.ack(5);
  s.ack(0);
  s.ack(999);
  EXPECT_EQ(s.stats().acked, 3u);
  s.ack(2);
  s.ack(3);
  EXPECT_EQ(s.low_watermark(), 1u);
  s.ack(1);
  EXPECT_EQ(s.low_watermark(), 7u);  // jumps over the acknowledged [4-6]
  EXPECT_FALSE(fs::exists(dir_ / segment_file_name(1)));
  EXPECT_EQ(replay_all(s).seqs, (std::vector<std::uint64_t>{7, 8, 9, 10, 11, 12}));
}

TEST_F(SpoolTest, ReplayAfterReopenReturnsExactlyTheUnackedRecords) {
  std::set<std::uint64_t> unacked;
  {
    Spool s(config(8192));
    const auto seqs = append_n(s, 200, 300);
    s.commit();
    std::mt19937 rng(42);
    std::vector<std::uint64_t> shuffled = seqs;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    for (std::size_t i = 0; i < shuffled.size(); ++i) {
      if (i % 3 == 0) {
        unacked.insert(shuffled[i]);
      } else {
        s.ack(shuffled[i]);
      }
    }
  }  // close() writes the ack checkpoint: the acknowledged ranges above the watermark too
  Spool s(config(8192));
  const auto got = replay_all(s);
  EXPECT_EQ(std::set<std::uint64_t>(got.seqs.begin(), got.seqs.end()), unacked);
  EXPECT_TRUE(std::is_sorted(got.seqs.begin(), got.seqs.end()));
  for (std::size_t i = 0; i < got.seqs.size(); ++i) {
    EXPECT_EQ(got.records[i]->id, "r" + std::to_string(got.seqs[i] - 1));
  }
  EXPECT_EQ(s.stats().recovered_records, unacked.size());
}

TEST_F(SpoolTest, WithoutCheckpointEverythingUnackedIsReplayed) {
  {
    Spool s(config());
    append_n(s, 10);
    s.flush();
    for (std::uint64_t q : {3, 4, 5}) s.ack(q);
  }
  fs::remove(dir_ / "ack-checkpoint");  // as if the process died before writing it
  Spool s(config());
  EXPECT_EQ(replay_all(s).seqs.size(), 10u);  // duplicates, never losses
  fs::path cp = dir_ / "ack-checkpoint";
  s.close();
  write_file(cp, "garbage");
  Spool s2(config());
  EXPECT_EQ(replay_all(s2).seqs.size(), 10u);
}

TEST_F(SpoolTest, TornTailIsCutCountedAndAppendsContinue) {
  std::uint64_t tail_frame = 0;
  {
    Spool s(config());
    append_n(s, 20);
    s.flush();
    tail_frame = frame_size(*make_record("r19"));
  }
  const auto seg = dir_ / segment_file_name(1);
  const auto size = fs::file_size(seg);
  fs::resize_file(seg, size - 10);  // the last record loses its last 10 bytes
  {
    Spool s(config());
    const auto st = s.stats();
    EXPECT_EQ(st.corrupt_tail_cuts, 1u);
    EXPECT_EQ(st.bytes_cut, tail_frame - 10);
    EXPECT_EQ(fs::file_size(seg), size - tail_frame);
    const auto got = replay_all(s);
    ASSERT_EQ(got.seqs.size(), 19u);
    EXPECT_EQ(got.records.back()->id, "r18");
    EXPECT_EQ(s.append(*make_record("new")).status, Status::kAppended);
  }
  Spool s(config());
  EXPECT_EQ(s.stats().corrupt_tail_cuts, 0u);  // cut once, not on every start
  const auto ids = replay_all(s).ids();
  ASSERT_EQ(ids.size(), 20u);
  EXPECT_EQ(ids.back(), "new");
}

TEST_F(SpoolTest, TornHeaderOrEmptyFileNeverStopsTheStart) {
  write_file(dir_ / segment_file_name(1), "");       // created, never written
  write_file(dir_ / segment_file_name(2), "SLSPO");  // header torn
  Spool s(config());
  EXPECT_FALSE(fs::exists(dir_ / segment_file_name(1)));
  EXPECT_TRUE(fs::exists(dir_ / (segment_file_name(2) + ".corrupt")));
  EXPECT_EQ(s.stats().corrupt_segments, 1u);
  EXPECT_EQ(s.append(*make_record("x")).seq, 2u);  // not below what the bad file's name says
}

TEST_F(SpoolTest, CorruptCrcInTheMiddleOfTheLastSegmentCutsThere) {
  std::uint64_t offset_of_15 = kSegmentHeaderBytes;
  {
    Spool s(config());
    append_n(s, 30);
    s.flush();
  }
  for (int i = 0; i < 14; ++i) offset_of_15 += frame_size(*make_record("r" + std::to_string(i)));
  const auto seg = dir_ / segment_file_name(1);
  std::string bytes = read_file(seg);
  const auto size = bytes.size();
  bytes[offset_of_15 + 40] ^= 0x20;  // a payload byte of record 15
  write_file(seg, bytes);

  Spool s(config());
  const auto st = s.stats();
  EXPECT_EQ(st.corrupt_tail_cuts, 1u);
  EXPECT_EQ(st.bytes_cut, size - offset_of_15);
  EXPECT_EQ(fs::file_size(seg), offset_of_15);
  const auto got = replay_all(s);
  ASSERT_EQ(got.seqs.size(), 14u);
  EXPECT_EQ(got.seqs.back(), 14u);
  // The cut records are gone, so their numbers may be handed out again.
  EXPECT_EQ(s.append(*make_record("x")).seq, 15u);
}

TEST_F(SpoolTest, GarbageSegmentHeaderIsMovedAsideAndLaterSegmentsSurvive) {
  {
    Spool s(config(4096));
    append_n(s, 9, 1000);  // [1-3] [4-6] [7-9]
  }
  const auto first = dir_ / segment_file_name(1);
  std::string bytes = read_file(first);
  for (int i = 0; i < 32; ++i) bytes[i] = 'G';
  write_file(first, bytes);

  Spool s(config(4096));
  EXPECT_EQ(s.stats().corrupt_segments, 1u);
  EXPECT_TRUE(fs::exists(dir_ / (segment_file_name(1) + ".corrupt")));
  EXPECT_FALSE(fs::exists(first));
  EXPECT_EQ(replay_all(s).seqs, (std::vector<std::uint64_t>{4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(s.append(*make_record("x")).seq, 10u);
}

TEST_F(SpoolTest, SizeCapDropNewestCountsAndRecoversWhenAcked) {
  auto c = config(4096, 8192);  // two segments' worth
  Spool s(c);
  int appended = 0;
  AppendResult r;
  while ((r = s.append(*make_record("r", 1000))).status == Status::kAppended) ++appended;
  EXPECT_EQ(r.status, Status::kFull);
  EXPECT_EQ(appended, 7);  // 3 + 3 + 1: a third segment fits its header and one record
  EXPECT_EQ(s.append(*make_record("r", 1000)).status, Status::kFull);
  auto st = s.stats();
  EXPECT_EQ(st.dropped_full, 2u);
  EXPECT_TRUE(st.full);
  EXPECT_LE(st.bytes, 8192u);
  // A small record may still fit.
  EXPECT_EQ(s.append(*make_record("small", 20)).status, Status::kAppended);
  s.flush();
  for (std::uint64_t q = 1; q <= 3; ++q) s.ack(q);  // frees the first segment
  EXPECT_FALSE(s.stats().full);
  EXPECT_EQ(s.append(*make_record("r", 1000)).status, Status::kAppended);
}

TEST_F(SpoolTest, FailClosedReportsFullTheSameWay) {
  auto c = config(4096, 4096);
  c.full_policy = FullPolicy::kFailClosed;
  Spool s(c);
  while (s.append(*make_record("r", 1000)).status == Status::kAppended) {
  }
  EXPECT_EQ(s.append(*make_record("r", 1000)).status, Status::kFull);
  EXPECT_TRUE(s.stats().full);
  // Acknowledging the full current segment lets the next append rotate and delete it.
  s.flush();
  for (std::uint64_t q = 1; q <= 3; ++q) s.ack(q);
  EXPECT_EQ(s.append(*make_record("r", 1000)).status, Status::kAppended);
  EXPECT_EQ(segment_files(dir_).size(), 1u);
}

TEST_F(SpoolTest, RejectsBadConfig) {
  auto c = config(512);
  EXPECT_THROW(Spool{c}, std::invalid_argument);
  c = config(8192, 4096);
  EXPECT_THROW(Spool{c}, std::invalid_argument);
  c = config();
  c.dir = "";
  EXPECT_THROW(Spool{c}, std::invalid_argument);
}

TEST_F(SpoolTest, SecondOpenOfTheSameDirFails) {
  Spool s(config());
  EXPECT_THROW(Spool{config()}, std::runtime_error);
}

// ---------------------------------------------------------------------------------------------
// Disk errors through the I/O seam.

struct FailingIo {
  std::atomic<int> fail_errno{0};       // nonzero: every pwrite fails with it
  std::atomic<long> partial_bytes{-1};  // >= 0: the next pwrite writes this much, then fails
  std::atomic<int> fsync_errno{0};
  std::atomic<int> pwrites{0};
  std::atomic<int> fsyncs{0};

  SpoolIo io() {
    SpoolIo io;
    io.pwrite = [this](int fd, const void* p, std::size_t n, off_t off) -> ssize_t {
      ++pwrites;
      const long partial = partial_bytes.exchange(-1);
      if (partial >= 0) {
        ::pwrite(fd, p, std::min<std::size_t>(n, partial), off);
        errno = ENOSPC;
        return -1;
      }
      if (const int e = fail_errno.load()) {
        errno = e;
        return -1;
      }
      return ::pwrite(fd, p, n, off);
    };
    io.fdatasync = [this](int fd) {
      ++fsyncs;
      if (const int e = fsync_errno.load()) {
        errno = e;
        return -1;
      }
      return ::fdatasync(fd);
    };
    return io;
  }
};

TEST_F(SpoolTest, EnospcIsCountedReportedAndSurvived) {
  FailingIo fail;
  auto c = config();
  c.io = fail.io();
  Spool s(c);
  append_n(s, 5, 100, "ok");
  EXPECT_TRUE(s.commit().lost.empty());

  fail.fail_errno = ENOSPC;
  const auto lost_seqs = append_n(s, 5, 100, "lost");  // buffered: append itself succeeds
  auto cr = s.commit();
  ASSERT_EQ(cr.lost.size(), 1u);
  EXPECT_EQ(cr.lost[0].first, lost_seqs.front());
  EXPECT_EQ(cr.lost[0].last, lost_seqs.back());
  auto st = s.stats();
  EXPECT_GE(st.write_errors, 1u);
  EXPECT_EQ(st.lost_io, 5u);
  EXPECT_EQ(st.unacked, 5u);

  fail.fail_errno = 0;
  append_n(s, 5, 100, "after");
  EXPECT_TRUE(s.commit().lost.empty());
  s.close();

  Spool again(config());
  const auto ids = replay_all(again).ids();
  EXPECT_EQ(ids, (std::vector<std::string>{"ok0", "ok1", "ok2", "ok3", "ok4", "after0", "after1",
                                           "after2", "after3", "after4"}));
  EXPECT_EQ(again.stats().corrupt_tail_cuts, 0u);
}

TEST_F(SpoolTest, PartialWriteIsCutBackSoTheFileStaysClean) {
  FailingIo fail;
  auto c = config();
  c.io = fail.io();
  c.write_buffer_bytes = 0;  // one pwrite per record
  Spool s(c);
  append_n(s, 3, 200, "a");
  fail.partial_bytes = 50;
  EXPECT_EQ(s.append(*make_record("torn", 200)).status, Status::kAppended);
  EXPECT_EQ(s.commit().lost.size(), 1u);
  append_n(s, 3, 200, "b");
  s.close();
  Spool again(config());
  EXPECT_EQ(again.stats().corrupt_tail_cuts, 0u);
  EXPECT_EQ(replay_all(again).ids(),
            (std::vector<std::string>{"a0", "a1", "a2", "b0", "b1", "b2"}));
}

TEST_F(SpoolTest, CannotCreateSegmentIsAnIoErrorNotACrash) {
  FailingIo fail;
  auto c = config();
  c.io = fail.io();
  Spool s(c);
  fail.fail_errno = EIO;  // the header write of the first segment fails
  EXPECT_EQ(s.append(*make_record("x")).status, Status::kIoError);
  EXPECT_EQ(s.stats().write_errors, 1u);
  EXPECT_TRUE(segment_files(dir_).empty());
  fail.fail_errno = 0;
  EXPECT_EQ(s.append(*make_record("y")).status, Status::kAppended);
}

TEST_F(SpoolTest, AlwaysAdvancesDurableSeqOnlyAfterFsyncOncePerCommit) {
  FailingIo io;
  auto c = config();
  c.fsync = FsyncPolicy::kAlways;
  c.io = io.io();
  Spool s(c);
  append_n(s, 3);
  EXPECT_EQ(s.durable_seq(), 0u);
  EXPECT_EQ(io.fsyncs.load(), 0);
  s.flush();
  EXPECT_EQ(s.written_seq(), 3u);
  EXPECT_EQ(s.durable_seq(), 0u);  // written is not durable
  s.commit();
  EXPECT_EQ(io.fsyncs.load(), 1);  // group commit: one fsync for the three records
  EXPECT_EQ(s.durable_seq(), 3u);
  s.commit();
  EXPECT_EQ(io.fsyncs.load(), 1);  // nothing new, no fsync
  EXPECT_EQ(s.stats().fsyncs, 1u);

  io.fsync_errno = EIO;
  append_n(s, 2);
  const auto cr = s.commit();
  EXPECT_EQ(cr.sync_failed_through, 5u);
  EXPECT_EQ(s.durable_seq(), 3u);
  EXPECT_EQ(s.stats().fsync_errors, 1u);
  io.fsync_errno = 0;
  append_n(s, 1);
  EXPECT_EQ(s.commit().sync_failed_through, 0u);
  EXPECT_EQ(s.durable_seq(), 6u);
}

TEST_F(SpoolTest, IntervalFsyncsOnceTheOldestWriteIsDue) {
  FailingIo io;
  auto c = config();
  c.fsync = FsyncPolicy::kInterval;
  c.fsync_interval = 50ms;
  c.io = io.io();
  Spool s(c);
  EXPECT_EQ(s.sync_due(), std::chrono::steady_clock::time_point::max());
  append_n(s, 3);
  const auto t0 = std::chrono::steady_clock::now();
  s.commit(t0);
  EXPECT_EQ(io.fsyncs.load(), 0);
  EXPECT_EQ(s.written_seq(), 3u);
  EXPECT_EQ(s.durable_seq(), 0u);
  const auto due = s.sync_due();
  EXPECT_GE(due, t0 + 40ms);
  EXPECT_LE(due, t0 + 60ms);
  s.commit(due - 1ms);
  EXPECT_EQ(io.fsyncs.load(), 0);
  s.commit(due);
  EXPECT_EQ(io.fsyncs.load(), 1);
  EXPECT_EQ(s.durable_seq(), 3u);
}

TEST_F(SpoolTest, NeverDoesNotFsync) {
  FailingIo io;
  auto c = config();
  c.fsync = FsyncPolicy::kNever;
  c.io = io.io();
  {
    Spool s(c);
    append_n(s, 3);
    s.commit();
    EXPECT_EQ(s.written_seq(), 3u);
    EXPECT_EQ(s.durable_seq(), 0u);
  }
  EXPECT_EQ(io.fsyncs.load(), 0);
}

TEST_F(SpoolTest, PendingInFlightAndNackStates) {
  Spool s(config());
  append_n(s, 6);
  s.flush();
  s.mark_in_flight(1);
  s.mark_in_flight(2);
  s.mark_in_flight(3);
  auto pending = [&] {
    std::vector<std::uint64_t> out;
    s.replay(0, UINT64_MAX, Spool::ReplayFilter::kPending, SIZE_MAX,
             [&](std::uint64_t q, const RecordPtr&) {
               out.push_back(q);
               return true;
             });
    return out;
  };
  EXPECT_EQ(pending(), (std::vector<std::uint64_t>{4, 5, 6}));
  EXPECT_EQ(replay_all(s).seqs.size(), 6u);  // kUnacked includes in flight
  EXPECT_EQ(s.stats().in_flight, 3u);
  s.nack(2);
  EXPECT_EQ(pending(), (std::vector<std::uint64_t>{2, 4, 5, 6}));
  s.ack(1);
  s.nack(1);  // too late: acknowledged stays acknowledged
  s.nack_all();
  EXPECT_EQ(pending(), (std::vector<std::uint64_t>{2, 3, 4, 5, 6}));
  EXPECT_EQ(s.stats().in_flight, 0u);

  // Stopping and limits.
  auto r = s.replay(0, UINT64_MAX, Spool::ReplayFilter::kPending, 2,
                    [&](std::uint64_t, const RecordPtr&) { return true; });
  EXPECT_EQ(r.visited, 2u);
  EXPECT_EQ(r.next_seq, 4u);
  r = s.replay(4, UINT64_MAX, Spool::ReplayFilter::kPending, SIZE_MAX,
               [&](std::uint64_t q, const RecordPtr&) { return q < 5; });
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.visited, 1u);
  EXPECT_EQ(r.next_seq, 5u);  // the refused record is where to resume
  r = s.replay(2, 5, Spool::ReplayFilter::kPending, SIZE_MAX,
               [&](std::uint64_t, const RecordPtr&) { return true; });
  EXPECT_EQ(r.visited, 3u);
  EXPECT_EQ(r.next_seq, 5u);
}

TEST_F(SpoolTest, StatsGauges) {
  Spool s(config());
  auto st = s.stats();
  EXPECT_EQ(st.unacked, 0u);
  EXPECT_EQ(st.oldest_unacked_age_s, 0u);
  append_n(s, 4, 200);
  s.flush();
  st = s.stats();
  EXPECT_EQ(st.records, 4u);
  EXPECT_EQ(st.unacked, 4u);
  EXPECT_LE(st.oldest_unacked_age_s, 1u);
  EXPECT_EQ(st.bytes, fs::file_size(dir_ / segment_file_name(1)));
  EXPECT_EQ(st.last_seq, 4u);
  EXPECT_EQ(st.low_watermark, 1u);
}

}  // namespace
}  // namespace sluice
