#include "sinks/event_id.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace sluice {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t hex_value(std::string_view s) {
  std::uint64_t v = 0;
  for (char c : s) v = v * 16 + static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  return v;
}

std::int64_t timestamp_ms(const std::string& id) {
  return static_cast<std::int64_t>(hex_value(id.substr(0, 8) + id.substr(9, 4)));
}

// The 62 random bits, as the last 15 hex digits (60 bits) of the id: enough to compare.
std::string random_tail(const std::string& id) { return id.substr(20, 4) + id.substr(24); }

void expect_canonical_v7(const std::string& id) {
  ASSERT_EQ(id.size(), kUuidLength) << id;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      ASSERT_EQ(id[i], '-') << id;
    } else {
      ASSERT_TRUE((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')) << id;
    }
  }
  EXPECT_EQ(id[14], '7') << "version nibble: " << id;
  EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos)
      << "variant bits 10: " << id;
}

TEST(EventId, CanonicalFormVersionAndVariant) {
  for (int i = 0; i < 1000; ++i) expect_canonical_v7(new_event_id());
}

TEST(EventId, RawBufferFormMatchesStringForm) {
  char buf[kUuidLength + 1];
  buf[kUuidLength] = '#';
  new_uuid_v7(buf);
  EXPECT_EQ(buf[kUuidLength], '#') << "must write exactly 36 bytes";
  expect_canonical_v7(std::string(buf, kUuidLength));
}

TEST(EventId, UniqueOver100k) {
  std::unordered_set<std::string> seen;
  seen.reserve(100000);
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(seen.insert(new_event_id()).second);
}

TEST(EventId, UniqueAcrossThreads) {
  constexpr int kThreads = 4, kPerThread = 25000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      ids[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(new_event_id());
    });
  }
  for (auto& th : threads) th.join();
  std::unordered_set<std::string> seen;
  for (const auto& v : ids)
    for (const auto& id : v) ASSERT_TRUE(seen.insert(id).second) << id;
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(EventId, TimestampPrefixTracksTheClock) {
  std::vector<std::string> ids;
  const std::int64_t before = now_ms();
  for (int i = 0; i < 100000; ++i) ids.push_back(new_event_id());
  const std::int64_t after = now_ms();
  std::size_t regressions = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::int64_t ms = timestamp_ms(ids[i]);
    ASSERT_GE(ms, before) << ids[i];
    ASSERT_LE(ms, after) << ids[i];
    // The first 18 characters are the time: ms, version, 12 bits of sub-millisecond time
    // (RFC 9562 method 3). Ids in the same ~0.25 us slot differ only in random bits.
    if (i > 0 && ids[i].compare(0, 18, ids[i - 1], 0, 18) < 0) ++regressions;
  }
  // Only a backwards step of the system clock during the loop may invert the time prefix.
  EXPECT_LE(regressions, 1u);
}

TEST(EventId, ExplicitTimestampIsEncoded) {
  // 1700000000123456 us = 1700000000123 ms + 456 us; 456 us is 1867/4096 ms = 0x74b.
  const std::string id = new_event_id(1700000000123456);
  expect_canonical_v7(id);
  EXPECT_EQ(timestamp_ms(id), 1700000000123);
  EXPECT_EQ(id.substr(14, 4), "774b");
}

TEST(EventId, OutOfRangeTimestampsAreClamped) {
  const std::string low = new_event_id(-5);
  expect_canonical_v7(low);
  EXPECT_EQ(low.substr(0, 18), "00000000-0000-7000");
  const std::string high = new_event_id(INT64_MAX);
  expect_canonical_v7(high);
  EXPECT_EQ(high.substr(0, 13), "ffffffff-ffff");
}

TEST(EventId, RandomBitsVary) {
  std::unordered_set<char> variant_chars, last_chars;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_event_id(1000);  // same timestamp: only randomness differs
    variant_chars.insert(id[19]);
    last_chars.insert(id.back());
  }
  EXPECT_EQ(variant_chars.size(), 4u);  // 8, 9, a, b: the two random bits after the variant
  EXPECT_EQ(last_chars.size(), 16u);
}

TEST(EventId, ForkedChildDoesNotReplayParentStream) {
  (void)new_event_id();  // seed this thread's generator before forking
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  constexpr int kCount = 200;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    for (int i = 0; i < kCount; ++i) {
      const std::string id = new_event_id();
      if (write(fds[1], id.data(), id.size()) != static_cast<ssize_t>(id.size())) _exit(2);
    }
    _exit(0);
  }
  close(fds[1]);
  std::vector<std::string> parent;
  for (int i = 0; i < kCount; ++i) parent.push_back(random_tail(new_event_id()));
  std::string child_bytes;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) child_bytes.append(buf, n);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(child_bytes.size(), kCount * kUuidLength);
  std::unordered_set<std::string> parent_tails(parent.begin(), parent.end());
  for (int i = 0; i < kCount; ++i) {
    const std::string id = child_bytes.substr(i * kUuidLength, kUuidLength);
    EXPECT_FALSE(parent_tails.count(random_tail(id))) << "child replayed the parent's stream";
  }
}

}  // namespace
}  // namespace sluice
