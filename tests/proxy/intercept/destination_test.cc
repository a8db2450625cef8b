// CONNECT targets and the tunnel destination policy.
#include "proxy/intercept/destination.h"

#include <gtest/gtest.h>

namespace sluice::intercept {
namespace {

TEST(ParseAuthority, HostAndPort) {
  std::string host;
  std::uint16_t port = 0;
  ASSERT_TRUE(parse_authority("API.OpenAI.com:443", host, port));
  EXPECT_EQ(host, "api.openai.com");
  EXPECT_EQ(port, 443);
  ASSERT_TRUE(parse_authority("[::1]:8443", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 8443);
  ASSERT_TRUE(parse_authority("10.0.0.1:65535", host, port));
  EXPECT_EQ(port, 65535);
}

TEST(ParseAuthority, MalformedTargets) {
  std::string host;
  std::uint16_t port = 0;
  for (const char* t : {"",
                        ":",
                        "api.openai.com",
                        "api.openai.com:",
                        ":443",
                        "api.openai.com:0",
                        "api.openai.com:65536",
                        "api.openai.com:123456",
                        "api.openai.com:44a",
                        "api.openai.com:-1",
                        "/v1/chat/completions",
                        "http://api.openai.com:443",
                        "user@api.openai.com:443",
                        "api openai.com:443",
                        "::1:443",
                        "[::1]",
                        "[::1]443",
                        "[::1:443",
                        "a\r\nb:443",
                        "api.openai.com:443/x"})
    EXPECT_FALSE(parse_authority(t, host, port)) << '"' << t << '"';
  EXPECT_FALSE(parse_authority(std::string(254, 'a') + ":443", host, port));
}

TEST(SpecialAddresses, PrivateAndLoopbackAreSpecial) {
  for (const char* a : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                        "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1",
                        "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"})
    EXPECT_TRUE(is_special_address(a)) << a;
  for (const char* a :
       {"8.8.8.8", "162.159.140.245", "172.32.0.1", "2606:4700::6810:1", "not-an-ip"})
    EXPECT_FALSE(is_special_address(a)) << a;
}

TEST(Cidr, Blocks) {
  EXPECT_TRUE(in_cidr("10.20.30.40", "10.20.0.0/16"));
  EXPECT_FALSE(in_cidr("10.21.30.40", "10.20.0.0/16"));
  EXPECT_TRUE(in_cidr("::ffff:10.20.1.1", "10.20.0.0/16"));
  EXPECT_TRUE(in_cidr("fd00::5", "fd00::/8"));
  EXPECT_TRUE(in_cidr("1.2.3.4", "0.0.0.0/0"));
  EXPECT_FALSE(in_cidr("1.2.3.4", "1.2.3.4"));  // no prefix length
  EXPECT_FALSE(in_cidr("1.2.3.4", "1.2.3.0/33"));
}

TEST(AiHosts, ExactAndRegional) {
  EXPECT_TRUE(ai_host_matches("api.mistral.ai", "api.mistral.ai"));
  EXPECT_TRUE(
      ai_host_matches("bedrock-runtime.us-east-1.amazonaws.com", "bedrock-runtime.amazonaws.com"));
  EXPECT_FALSE(ai_host_matches("evil-api.mistral.ai.example.com", "api.mistral.ai"));
  EXPECT_FALSE(ai_host_matches("s3.amazonaws.com", "bedrock-runtime.amazonaws.com"));
  EXPECT_FALSE(default_ai_hosts().empty());
}

}  // namespace
}  // namespace sluice::intercept
