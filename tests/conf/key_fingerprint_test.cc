// Tests for conf/key_fingerprint.{h,cc}: the first 16 lowercase hex digits of SHA-256 over the
// key bytes exactly as presented. Expected values were computed independently in the shell:
//
//   printf %s sk-test | sha256sum                          -> f3abf2a6cc4f0098...
//   printf %s '' | sha256sum                               -> e3b0c44298fc1c14...
//   printf %s 'Bearer sk-test' | sha256sum                 -> 96018835490a18a6...
//   printf %s sk-ant-api03-abcdefghijklmnop | sha256sum    -> 2c975580f00e5130...
//   printf %s sk-sluice-acme-0123456789 | sha256sum        -> e7d591ac9a750aa0...
//   printf 'a\0b' | sha256sum                              -> 59b271ae1bbcb1d3...
//
// docs/events.md makes the fingerprint a join key for downstream consumers: it must never change.
#include <gtest/gtest.h>

#include <string>

#include "conf/key_fingerprint.h"

namespace sluice {
namespace {

TEST(KeyFingerprint, KnownVectors) {
  EXPECT_EQ(key_fingerprint("sk-test"), "f3abf2a6cc4f0098");
  EXPECT_EQ(key_fingerprint(""), "e3b0c44298fc1c14");
  EXPECT_EQ(key_fingerprint("sk-ant-api03-abcdefghijklmnop"), "2c975580f00e5130");
  EXPECT_EQ(key_fingerprint("sk-sluice-acme-0123456789"), "e7d591ac9a750aa0");
}

TEST(KeyFingerprint, HashesTheBytesAsPresented) {
  // The "Bearer " prefix is not part of the key; a caller that left it on gets another value.
  EXPECT_EQ(key_fingerprint("Bearer sk-test"), "96018835490a18a6");
  EXPECT_NE(key_fingerprint("Bearer sk-test"), key_fingerprint("sk-test"));
  // Embedded NUL bytes count (string_view length, not C string).
  EXPECT_EQ(key_fingerprint(std::string("a\0b", 3)), "59b271ae1bbcb1d3");
  // Case and whitespace matter.
  EXPECT_NE(key_fingerprint("SK-TEST"), key_fingerprint("sk-test"));
  EXPECT_NE(key_fingerprint("sk-test "), key_fingerprint("sk-test"));
}

TEST(KeyFingerprint, IsSixteenLowercaseHexDigits) {
  for (const char* key : {"", "x", "sk-test", "a much longer key with spaces and UTF-8 \xc3\xa9"}) {
    std::string fp = key_fingerprint(key);
    ASSERT_EQ(fp.size(), 16u) << key;
    EXPECT_EQ(fp.find_first_not_of("0123456789abcdef"), std::string::npos) << fp;
  }
}

TEST(KeyFingerprint, IsDeterministic) {
  EXPECT_EQ(key_fingerprint("sk-test"), key_fingerprint(std::string("sk-") + "test"));
}

}  // namespace
}  // namespace sluice
