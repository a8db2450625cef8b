// The RESP2 reader: every type, replies split at every byte, and bytes that are not RESP2
// (each a clear error, never a crash or an unbounded allocation).
#include "filters/limits_store/resp_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace sluice::redis {
namespace {

using T = RespValue::Type;

// Feeds `bytes` in pieces of `step` and collects every reply; the status of the last next().
std::vector<RespValue> read_all(std::string_view bytes, std::size_t step,
                                RespReader::Status* last = nullptr, std::string* error = nullptr) {
  RespReader r;
  std::vector<RespValue> out;
  RespReader::Status st = RespReader::Status::kNeedMore;
  for (std::size_t at = 0; at < bytes.size(); at += step) {
    r.feed(bytes.substr(at, step));
    for (;;) {
      RespValue v;
      st = r.next(v);
      if (st != RespReader::Status::kReply) break;
      out.push_back(std::move(v));
    }
    if (st == RespReader::Status::kError) break;
  }
  if (last != nullptr) *last = st;
  if (error != nullptr) *error = r.error();
  return out;
}

// A sequence of replies of every type: the expected values are checked by check_all.
const std::string kStream =
    "+OK\r\n"
    "-ERR wrong type\r\n"
    ":0\r\n"
    ":-42\r\n"
    ":9223372036854775807\r\n"
    ":-9223372036854775808\r\n"
    "$5\r\nhello\r\n"
    "$0\r\n\r\n"
    "$4\r\na\r\nb\r\n"
    "$-1\r\n"
    "*-1\r\n"
    "*0\r\n"
    "*3\r\n:1\r\n*2\r\n$1\r\nx\r\n*1\r\n:-3\r\n$-1\r\n";

void check_all(const std::vector<RespValue>& v) {
  ASSERT_EQ(v.size(), 13u);
  EXPECT_EQ(v[0].type, T::kStatus);
  EXPECT_EQ(v[0].str, "OK");
  EXPECT_EQ(v[1].type, T::kError);
  EXPECT_EQ(v[1].str, "ERR wrong type");
  EXPECT_EQ(v[2].type, T::kInteger);
  EXPECT_EQ(v[2].integer, 0);
  EXPECT_EQ(v[3].integer, -42);
  EXPECT_EQ(v[4].integer, INT64_MAX);
  EXPECT_EQ(v[5].integer, INT64_MIN);
  EXPECT_EQ(v[6].type, T::kString);
  EXPECT_EQ(v[6].str, "hello");
  EXPECT_EQ(v[7].type, T::kString);
  EXPECT_EQ(v[7].str, "");
  EXPECT_EQ(v[8].str, std::string("a\r\nb"));  // a bulk string may hold CRLF
  EXPECT_EQ(v[9].type, T::kNil);
  EXPECT_EQ(v[10].type, T::kNil);
  EXPECT_EQ(v[11].type, T::kArray);
  EXPECT_TRUE(v[11].elements.empty());
  const RespValue& a = v[12];
  ASSERT_EQ(a.type, T::kArray);
  ASSERT_EQ(a.elements.size(), 3u);
  EXPECT_EQ(a.elements[0].integer, 1);
  ASSERT_EQ(a.elements[1].elements.size(), 2u);
  EXPECT_EQ(a.elements[1].elements[0].str, "x");
  ASSERT_EQ(a.elements[1].elements[1].elements.size(), 1u);
  EXPECT_EQ(a.elements[1].elements[1].elements[0].integer, -3);
  EXPECT_EQ(a.elements[2].type, T::kNil);
}

TEST(RespReader, ParsesEveryType) { check_all(read_all(kStream, kStream.size())); }

// Every length from 1 to 19 digits, both signs, with digits that differ in every position (the
// reader takes eight at a time where it can).
TEST(RespReader, IntegersOfEveryLength) {
  std::string stream;
  std::vector<std::int64_t> want;
  std::uint64_t x = 0;
  for (int len = 1; len <= 19; ++len) {
    x = x * 10 + static_cast<std::uint64_t>((len * 7) % 10);
    for (std::int64_t sign : {1, -1}) {
      const auto v = sign * static_cast<std::int64_t>(x);
      want.push_back(v);
      stream += ":" + std::to_string(v) + "\r\n";
    }
  }
  std::vector<std::int64_t> got;
  for (const auto& v : read_all(stream, stream.size())) got.push_back(v.integer);
  EXPECT_EQ(got, want);
}

TEST(RespReader, AnySplitGivesTheSameReplies) {
  for (std::size_t step = 1; step <= 7; ++step) {
    SCOPED_TRACE("pieces of " + std::to_string(step));
    check_all(read_all(kStream, step));
  }
  // Two pieces, split at every byte.
  for (std::size_t cut = 1; cut < kStream.size(); ++cut) {
    RespReader r;
    std::vector<RespValue> out;
    for (std::string_view piece : {std::string_view(kStream).substr(0, cut),
                                   std::string_view(kStream).substr(cut)}) {
      r.feed(piece);
      RespValue v;
      while (r.next(v) == RespReader::Status::kReply) out.push_back(std::move(v));
    }
    SCOPED_TRACE("cut at " + std::to_string(cut));
    check_all(out);
    EXPECT_EQ(r.buffered(), 0u);
  }
}

TEST(RespReader, IncompleteReplyConsumesNothing) {
  RespReader r;
  r.feed("*2\r\n:1\r\n:");
  RespValue v;
  EXPECT_EQ(r.next(v), RespReader::Status::kNeedMore);
  EXPECT_EQ(r.next(v), RespReader::Status::kNeedMore);
  EXPECT_EQ(r.buffered(), 9u);
  r.feed("2\r\n");
  ASSERT_EQ(r.next(v), RespReader::Status::kReply);
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[1].integer, 2);
  EXPECT_EQ(r.next(v), RespReader::Status::kNeedMore);
}

// Reading straight into the buffer, as the client does, across many refills and a reply
// larger than one read.
TEST(RespReader, PrepareCommitAcrossRefills) {
  std::string big = "*20000\r\n";
  for (int i = 0; i < 20000; ++i) big += ":" + std::to_string(i * 1000003LL) + "\r\n";
  std::string stream = big + "+after\r\n";
  RespReader r;
  std::vector<RespValue> out;
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t n = std::min<std::size_t>(4096, stream.size() - at);
    char* room = r.prepare(16 * 1024);
    std::memcpy(room, stream.data() + at, n);
    r.commit(n);
    at += n;
    RespValue v;
    while (r.next(v) == RespReader::Status::kReply) out.push_back(std::move(v));
  }
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].elements.size(), 20000u);
  bool all = true;
  for (std::size_t i = 0; i < 20000; ++i) all = all && out[0].elements[i].integer == static_cast<std::int64_t>(i) * 1000003;
  EXPECT_TRUE(all);
  EXPECT_EQ(out[1].str, "after");
}

struct Bad {
  std::string bytes;
  std::string error;  // a part of the message
};

TEST(RespReader, BytesThatAreNotRespAreClearErrors) {
  std::vector<Bad> cases = {
      {"HTTP/1.1 400 Bad Request\r\n", "unexpected byte 0x48"},
      {std::string("\0\r\n", 3), "unexpected byte 0x00"},
      {":12a\r\n", "expected CRLF after a number"},
      {":1234567a90123\r\n", "expected CRLF after a number"},
      {":1234567890123456a\r\n", "expected CRLF after a number"},
      {":\r\n", "expected a digit"},
      {":-\r\n", "expected a digit"},
      {":12\n", "expected CRLF after a number"},
      {":99999999999999999999\r\n", "number too long"},
      {":9223372036854775808\r\n", "number out of range"},
      {":-9223372036854775809\r\n", "number out of range"},
      {"$-2\r\n", "bad bulk length -2"},
      {"$3\r\nabcd\r\n", "bulk string not followed by CRLF"},
      {"$99999999999\r\n", "bad bulk length"},
      {"*-5\r\n", "bad array length -5"},
      {"*99999999999\r\n", "bad array length"},
      {"+OK\rX\n", "CR without LF"},
  };
  std::string deep;  // 17 arrays, one inside the other
  for (int i = 0; i < 17; ++i) deep += "*1\r\n";
  cases.push_back({deep + ":1\r\n", "nested too deep"});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.bytes);
    for (std::size_t step : {c.bytes.size(), std::size_t{1}}) {
      RespReader::Status st{};
      std::string error;
      auto out = read_all(c.bytes, step, &st, &error);
      EXPECT_TRUE(out.empty());
      EXPECT_EQ(st, RespReader::Status::kError);
      EXPECT_EQ(error.rfind("protocol error: ", 0), 0u) << error;
      EXPECT_NE(error.find(c.error), std::string::npos) << error;
    }
  }
}

TEST(RespReader, StaysFailedAfterAnError) {
  RespReader r;
  r.feed("?\r\n:1\r\n");
  RespValue v;
  EXPECT_EQ(r.next(v), RespReader::Status::kError);
  r.feed(":2\r\n");
  EXPECT_EQ(r.next(v), RespReader::Status::kError);
}

// A large announced count with few bytes behind it waits for more without reserving room
// for the count.
TEST(RespReader, AnnouncedCountDoesNotReserveMemory) {
  RespReader r;
  r.feed("*16777216\r\n:1\r\n");
  RespValue v;
  EXPECT_EQ(r.next(v), RespReader::Status::kNeedMore);
  EXPECT_LE(v.elements.capacity(), 4u);
}

}  // namespace
}  // namespace sluice::redis
