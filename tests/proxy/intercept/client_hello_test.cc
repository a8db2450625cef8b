// ClientHello SNI parsing: real ClientHellos from OpenSSL, every truncation, fragmentation
// across records, garbage and hostile lengths.
#include "proxy/intercept/client_hello.h"

#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace sluice::intercept {
namespace {

using Bytes = std::vector<std::uint8_t>;

// The first flight of a real OpenSSL client (TLS 1.2–1.3), with `sni` unless empty.
Bytes client_hello(const std::string& sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
  SSL_set_connect_state(ssl);
  EXPECT_EQ(SSL_do_handshake(ssl), -1);  // wants to read the ServerHello
  Bytes b(BIO_ctrl_pending(out));
  BIO_read(out, b.data(), static_cast<int>(b.size()));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return b;
}

HelloInfo parse(const Bytes& b) { return parse_client_hello({b.data(), b.size()}); }

TEST(ClientHello, ReadsTheServerName) {
  Bytes b = client_hello("api.openai.com");
  HelloInfo h = parse(b);
  ASSERT_EQ(h.status, HelloStatus::kOk);
  EXPECT_EQ(h.server_name, "api.openai.com");
  EXPECT_EQ(h.consumed, b.size());
}

TEST(ClientHello, LowerCasesAndDropsTheTrailingDot) {
  EXPECT_EQ(parse(client_hello("API.Anthropic.COM.")).server_name, "api.anthropic.com");
}

TEST(ClientHello, NoServerNameIsOkAndEmpty) {
  HelloInfo h = parse(client_hello(""));
  EXPECT_EQ(h.status, HelloStatus::kOk);
  EXPECT_EQ(h.server_name, "");
}

TEST(ClientHello, EveryTruncationNeedsMore) {
  Bytes b = client_hello("api.openai.com");
  for (std::size_t n = 0; n < b.size(); ++n) {
    Bytes prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(parse(prefix).status, HelloStatus::kNeedMore) << "prefix of " << n;
  }
}

TEST(ClientHello, BytesAfterTheHelloAreNotConsumed) {
  Bytes b = client_hello("api.openai.com");
  const std::size_t size = b.size();
  b.push_back(0x17);  // the start of whatever comes next
  HelloInfo h = parse(b);
  ASSERT_EQ(h.status, HelloStatus::kOk);
  EXPECT_EQ(h.consumed, size);
}

// The same handshake message split over records of `chunk` bytes (RFC 8446 §5.1 allows it).
Bytes fragment(const Bytes& b, std::size_t chunk) {
  Bytes msg(b.begin() + 5, b.end());
  Bytes out;
  for (std::size_t i = 0; i < msg.size(); i += chunk) {
    std::size_t n = std::min(chunk, msg.size() - i);
    out.insert(out.end(),
               {22, 3, 1, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    out.insert(out.end(), msg.begin() + static_cast<std::ptrdiff_t>(i),
               msg.begin() + static_cast<std::ptrdiff_t>(i + n));
  }
  return out;
}

TEST(ClientHello, FragmentedAcrossRecords) {
  Bytes b = fragment(client_hello("api.openai.com"), 3);
  HelloInfo h = parse(b);
  ASSERT_EQ(h.status, HelloStatus::kOk);
  EXPECT_EQ(h.server_name, "api.openai.com");
  EXPECT_EQ(h.consumed, b.size());
  EXPECT_EQ(parse(Bytes(b.begin(), b.end() - 1)).status, HelloStatus::kNeedMore);
}

TEST(ClientHello, PlainHttpIsNotTls) {
  std::string get = "GET / HTTP/1.1\r\nHost: api.openai.com\r\n\r\n";
  EXPECT_EQ(parse(Bytes(get.begin(), get.end())).status, HelloStatus::kNotTls);
  EXPECT_EQ(parse(Bytes{'G'}).status, HelloStatus::kNotTls);
}

TEST(ClientHello, OtherRecordTypesAndVersionsAreNotTls) {
  Bytes b = client_hello("api.openai.com");
  b[0] = 23;  // application data
  EXPECT_EQ(parse(b).status, HelloStatus::kNotTls);
  b = client_hello("api.openai.com");
  b[1] = 2;  // SSL 2-era version
  EXPECT_EQ(parse(b).status, HelloStatus::kNotTls);
}

TEST(ClientHello, HostileLengthsAreMalformed) {
  // A record longer than 2^14.
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0x40, 0x01}).status, HelloStatus::kMalformed);
  // An empty record.
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0, 0}).status, HelloStatus::kMalformed);
  // A ServerHello (type 2) instead of a ClientHello.
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0, 4, 2, 0, 0, 0}).status, HelloStatus::kMalformed);
  // A ClientHello declaring 16 MiB.
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff}).status, HelloStatus::kMalformed);
  // A ClientHello whose body is shorter than its fields say.
  EXPECT_EQ(parse(Bytes{22, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3}).status, HelloStatus::kMalformed);
}

TEST(ClientHello, BadServerNamesAreMalformed) {
  Bytes b = client_hello("api.openai.com");
  // Find the name in the bytes and put a character no host name has into it.
  std::string name = "api.openai.com";
  auto it = std::search(b.begin(), b.end(), name.begin(), name.end());
  ASSERT_NE(it, b.end());
  *(it + 3) = '/';
  EXPECT_EQ(parse(b).status, HelloStatus::kMalformed);
  *(it + 3) = 0;
  EXPECT_EQ(parse(b).status, HelloStatus::kMalformed);
}

TEST(ClientHello, RandomCorruptionNeverCrashes) {
  Bytes good = client_hello("api.openai.com");
  std::mt19937 rng(42);
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    b.resize(rng() % (b.size() + 1));
    HelloInfo h = parse(b);
    if (h.status == HelloStatus::kOk) {
      ++ok;
      EXPECT_LE(h.consumed, b.size());
      EXPECT_LE(h.server_name.size(), 255u);
    }
  }
  SUCCEED() << ok << " corrupted hellos still parsed";
}

}  // namespace
}  // namespace sluice::intercept
